//! Parsers for the value types keepalived.conf(5) uses: numbers with ranges, `<TIMER>`
//! (seconds with microsecond resolution), `<BOOL>`, strings, addresses, scripts, and
//! choices from a fixed list. Each reports its own diagnostic and returns `None` on
//! bad input; handlers then leave the field at its default.

use super::{suggest, Ctx};
use crate::diag::{Diagnostic, Severity};
use crate::model::{Script, Secs};
use crate::tree::{Stmt, Token};
use std::net::IpAddr;
use std::str::FromStr;

/// Checks the number of values after the keyword. Reports and returns false if wrong.
pub fn arity(stmt: &Stmt, min: usize, max: usize, cx: &mut Ctx) -> bool {
    let n = stmt.args().len();
    let kw = &stmt.keyword().text;
    if n < min {
        let what = if min == max {
            format!("{min} value(s)")
        } else {
            format!("at least {min} value(s)")
        };
        cx.push(
            Diagnostic::new(
                Severity::Error,
                "missing-parameter",
                format!("'{kw}' needs {what}; the line is ignored"),
            )
            .at(stmt.full_span()),
        );
        return false;
    }
    if n > max {
        cx.push(
            Diagnostic::new(
                Severity::Warning,
                "extra-parameter",
                format!(
                    "'{kw}' takes at most {max} value(s); '{}' and what follows are ignored",
                    stmt.args()[max].text
                ),
            )
            .at(stmt.args()[max].span),
        );
    }
    true
}

/// The single value of `keyword VALUE`.
pub fn one<'s>(stmt: &'s Stmt, cx: &mut Ctx) -> Option<&'s Token> {
    if arity(stmt, 1, 1, cx) {
        stmt.args().first()
    } else {
        None
    }
}

/// `keyword STRING`.
pub fn string(stmt: &Stmt, cx: &mut Ctx) -> Option<String> {
    one(stmt, cx).map(|t| t.text.clone())
}

/// All values after the keyword, joined by single spaces (for free text).
pub fn rest(stmt: &Stmt, from: usize) -> String {
    stmt.words
        .iter()
        .skip(1 + from)
        .map(|t| t.text.as_str())
        .collect::<Vec<_>>()
        .join(" ")
}

/// An integer in `[min, max]`, in decimal (or hex with `0x`).
pub fn int_tok<T>(tok: &Token, min: i64, max: i64, cx: &mut Ctx) -> Option<T>
where
    T: TryFrom<i64>,
{
    let s = tok.text.as_str();
    let parsed = if let Some(h) = s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        i64::from_str_radix(h, 16).ok()
    } else {
        s.parse::<i64>().ok()
    };
    match parsed {
        Some(v) if v >= min && v <= max => T::try_from(v).ok(),
        Some(v) => {
            cx.push(
                Diagnostic::new(
                    Severity::Error,
                    "out-of-range",
                    format!("{v} is outside the range [{min}, {max}]; the value is ignored"),
                )
                .at(tok.span),
            );
            None
        }
        None => {
            cx.push(
                Diagnostic::new(
                    Severity::Error,
                    "not-a-number",
                    format!("'{s}' is not an integer; the value is ignored"),
                )
                .at(tok.span)
                .help(format!("a whole number from {min} to {max}")),
            );
            None
        }
    }
}

/// `keyword N` with N in `[min, max]`.
pub fn int<T: TryFrom<i64>>(stmt: &Stmt, min: i64, max: i64, cx: &mut Ctx) -> Option<T> {
    one(stmt, cx).and_then(|t| int_tok(t, min, max, cx))
}

/// A `<TIMER>`: seconds, fractional allowed, microsecond resolution, in `[min, max]` seconds.
pub fn timer_tok(tok: &Token, min: f64, max: f64, cx: &mut Ctx) -> Option<Secs> {
    let s = tok.text.as_str();
    match s.parse::<f64>() {
        Ok(v) if v.is_finite() && v >= min && v <= max => Some(Secs::from_secs_f64(v)),
        Ok(v) if v.is_finite() => {
            cx.push(
                Diagnostic::new(
                    Severity::Error,
                    "out-of-range",
                    format!(
                        "{s} seconds is outside the range [{min}, {max}]; the value is ignored"
                    ),
                )
                .at(tok.span),
            );
            None
        }
        _ => {
            cx.push(
                Diagnostic::new(
                    Severity::Error,
                    "not-a-number",
                    format!("'{s}' is not a time in seconds; the value is ignored"),
                )
                .at(tok.span)
                .help("seconds, with a fraction if needed, e.g. 1 or 0.25"),
            );
            None
        }
    }
}

/// `keyword TIMER`.
pub fn timer(stmt: &Stmt, min: f64, max: f64, cx: &mut Ctx) -> Option<Secs> {
    one(stmt, cx).and_then(|t| timer_tok(t, min, max, cx))
}

/// `<BOOL>` word.
pub fn bool_tok(tok: &Token, cx: &mut Ctx) -> Option<bool> {
    match tok.text.to_ascii_lowercase().as_str() {
        "on" | "true" | "yes" => Some(true),
        "off" | "false" | "no" => Some(false),
        _ => {
            cx.push(
                Diagnostic::new(
                    Severity::Error,
                    "not-a-bool",
                    format!("'{}' is not a boolean; the line is ignored", tok.text),
                )
                .at(tok.span)
                .help("one of on, off, true, false, yes, no"),
            );
            None
        }
    }
}

/// A flag: `keyword` alone means true, `keyword <BOOL>` sets it.
pub fn flag(stmt: &Stmt, cx: &mut Ctx) -> Option<bool> {
    match stmt.args().first() {
        None => Some(true),
        Some(t) => {
            arity(stmt, 0, 1, cx);
            bool_tok(t, cx)
        }
    }
}

/// A word that must be one of `choices` (case-sensitive as keepalived is, unless
/// `fold_case`).
pub fn choice_tok<'c>(
    tok: &Token,
    choices: &[&'c str],
    fold_case: bool,
    cx: &mut Ctx,
) -> Option<&'c str> {
    let found = choices.iter().find(|c| {
        if fold_case {
            c.eq_ignore_ascii_case(&tok.text)
        } else {
            **c == tok.text
        }
    });
    if let Some(c) = found {
        return Some(c);
    }
    let mut d = Diagnostic::new(
        Severity::Error,
        "bad-value",
        format!("'{}' is not accepted here; the value is ignored", tok.text),
    )
    .at(tok.span);
    d = match suggest(&tok.text, choices.iter().copied()) {
        Some(s) => d.help(format!(
            "did you mean '{s}'? (one of: {})",
            choices.join(", ")
        )),
        None => d.help(format!("one of: {}", choices.join(", "))),
    };
    cx.push(d);
    None
}

/// `keyword CHOICE`.
pub fn choice<'c>(stmt: &Stmt, choices: &[&'c str], cx: &mut Ctx) -> Option<&'c str> {
    one(stmt, cx).and_then(|t| choice_tok(t, choices, false, cx))
}

/// Parses any `FromStr` value with a description for the message.
pub fn parsed_tok<T: FromStr>(tok: &Token, what: &str, cx: &mut Ctx) -> Option<T> {
    match tok.text.parse::<T>() {
        Ok(v) => Some(v),
        Err(_) => {
            cx.push(
                Diagnostic::new(
                    Severity::Error,
                    "bad-value",
                    format!("'{}' is not a valid {what}; the value is ignored", tok.text),
                )
                .at(tok.span),
            );
            None
        }
    }
}

/// An IPv4 or IPv6 address.
pub fn ip_tok(tok: &Token, cx: &mut Ctx) -> Option<IpAddr> {
    parsed_tok(tok, "IP address", cx)
}

/// `keyword IP`.
pub fn ip(stmt: &Stmt, cx: &mut Ctx) -> Option<IpAddr> {
    one(stmt, cx).and_then(|t| ip_tok(t, cx))
}

/// `keyword SCRIPT [username [groupname]]`, where SCRIPT is one word or a quoted
/// string holding the command and its arguments.
pub fn script(stmt: &Stmt, cx: &mut Ctx) -> Option<Script> {
    if !arity(stmt, 1, 3, cx) {
        return None;
    }
    let a = stmt.args();
    Some(Script {
        command: a[0].text.clone(),
        user: a.get(1).map(|t| t.text.clone()),
        group: a.get(2).map(|t| t.text.clone()),
        span: stmt.span(),
    })
}

/// A whole-line command: `script killall -0 sshd` (unquoted words joined) or
/// `script "killall -0 sshd"`.
pub fn command_line(stmt: &Stmt, cx: &mut Ctx) -> Option<String> {
    if !arity(stmt, 1, usize::MAX, cx) {
        return None;
    }
    if stmt.args().len() == 1 {
        return Some(stmt.args()[0].text.clone());
    }
    // Re-quote words that held spaces so the command keeps its word boundaries.
    Some(
        stmt.args()
            .iter()
            .map(|t| {
                if t.text.contains(char::is_whitespace) {
                    format!("'{}'", t.text.replace('\'', "'\\''"))
                } else {
                    t.text.clone()
                }
            })
            .collect::<Vec<_>>()
            .join(" "),
    )
}

/// The words of a block whose statements are plain lists (`notification_email`,
/// `unicast_peer` names, sync group members): every word of every line.
pub fn block_words(stmt: &Stmt, cx: &mut Ctx) -> Vec<Token> {
    match cx.block(stmt) {
        Some(b) => b
            .items
            .iter()
            .flat_map(|s| s.words.iter().cloned())
            .collect(),
        None => Vec::new(),
    }
}
