//! The preprocessor: files -> logical lines.
//!
//! In the order keepalived applies them (keepalived.conf(5), "ADVANCED CONFIGURATION"):
//! comments are removed, `include` lines are followed (before anything else, so an
//! include cannot be made conditional or substituted), then each line goes through
//! conditionals (`@ID` / `@^ID`), parameter definitions (`$NAME=value`, multi-line with
//! a trailing `\`), sequence and list blocks (`~SEQ`, `~SEQx`, `~LST`) and parameter
//! substitution (`$NAME`, `${NAME}`, the pre-defined `${_...}` names). A substituted
//! line is processed again, so expansions may carry conditionals and definitions.

use crate::diag::{Diagnostic, Severity};
use crate::source::{FileId, Line, Origin, SourceMap};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// Lines longer than this are reported and skipped (keepalived reads lines into a
/// fixed buffer and would cut them).
pub const MAX_LINE_LEN: usize = 64 * 1024;
/// Configuration files larger than this are refused.
pub const MAX_FILE_LEN: u64 = 1 << 30;
/// Limit on nested substitutions and sequence blocks on one line.
mod sequence;

const MAX_EXPANSION_DEPTH: usize = 32;
/// Limit on nested includes.
const MAX_INCLUDE_DEPTH: usize = 32;
/// Limit on the number of lines expansion may produce, to stop a runaway ~SEQ
/// (keepalived.conf(5)'s own largest example, 65024 instances, is about 1M lines).
pub const MAX_OUTPUT_LINES: usize = 2_000_000;

#[derive(Debug, Clone)]
pub struct Options {
    /// The config id that `@ID` lines are compared with (`-i`, default the host name
    /// up to its first dot).
    pub config_id: String,
    /// Value of `${_HOSTNAME}` (a keepup extension; keepalived leaves it unexpanded).
    pub hostname: String,
    /// Seed for `${_RANDOM}`, so runs can be reproduced.
    pub random_seed: u64,
    /// Follow `include` lines (off when the text is untrusted, e.g. fuzzing).
    pub includes: bool,
    /// Most lines expansion may produce before the reader stops with an error.
    pub max_lines: usize,
}

impl Default for Options {
    fn default() -> Self {
        let hostname = std::fs::read_to_string("/proc/sys/kernel/hostname")
            .map(|s| s.trim().to_string())
            .unwrap_or_else(|_| "localhost".to_string());
        let config_id = hostname.split('.').next().unwrap_or("").to_string();
        Options {
            config_id,
            hostname,
            random_seed: 0x9e37_79b9_7f4a_7c15,
            includes: true,
            max_lines: MAX_OUTPUT_LINES,
        }
    }
}

#[derive(Debug, Clone)]
struct Def {
    /// One entry per line; a single-line definition has exactly one.
    lines: Vec<String>,
    origin: Origin,
}

struct Ctx {
    origin: Origin,
    /// Byte offset of the current text within the source line, when it maps 1:1.
    verbatim_col: Option<u32>,
    expanded_from: Vec<Origin>,
    depth: usize,
}

pub struct Preprocessor<'a> {
    opts: &'a Options,
    sm: &'a mut SourceMap,
    diags: &'a mut Vec<Diagnostic>,
    defs: HashMap<String, Def>,
    include_stack: Vec<PathBuf>,
    pwd: Vec<PathBuf>,
    rng: u64,
    truncated: bool,
    work: usize,
}

/// Reads `path` and everything it includes into `sm.lines`.
pub fn preprocess(path: &Path, opts: &Options, sm: &mut SourceMap, diags: &mut Vec<Diagnostic>) {
    let mut p = Preprocessor {
        opts,
        sm,
        diags,
        defs: HashMap::new(),
        include_stack: Vec::new(),
        pwd: Vec::new(),
        rng: opts.random_seed,
        truncated: false,
        work: 0,
    };
    p.read_file(path, None);
}

/// Preprocesses text that did not come from a file (tests, fuzzing).
pub fn preprocess_str(
    name: &str,
    text: &str,
    opts: &Options,
    sm: &mut SourceMap,
    diags: &mut Vec<Diagnostic>,
) {
    let mut p = Preprocessor {
        opts,
        sm,
        diags,
        defs: HashMap::new(),
        include_stack: vec![PathBuf::from(name)],
        pwd: vec![PathBuf::from(".")],
        rng: opts.random_seed,
        truncated: false,
        work: 0,
    };
    let id = p.sm.add_file(PathBuf::from(name), text.to_string());
    p.process_file_text(id);
}

/// Where a comment starts (`#` or `!` outside quotes), if anywhere.
pub fn comment_start(s: &str) -> Option<usize> {
    let mut quote: Option<u8> = None;
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        match quote {
            Some(q) => {
                if c == b'\\' {
                    i += 1;
                } else if c == q {
                    quote = None;
                }
            }
            None => match c {
                b'"' | b'\'' => quote = Some(c),
                b'#' | b'!' => return Some(i),
                _ => {}
            },
        }
        i += 1;
    }
    None
}

fn is_name_start(c: char) -> bool {
    c.is_ascii_alphabetic() || c == '_'
}
fn is_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// `$NAME=...` at the start of `s`: returns (name, value).
fn split_definition(s: &str) -> Option<(&str, &str)> {
    let rest = s.strip_prefix('$')?;
    let end = rest.find(|c: char| !is_name_char(c)).unwrap_or(rest.len());
    let name = &rest[..end];
    if name.is_empty() || !name.starts_with(is_name_start) {
        return None;
    }
    let value = rest[end..].strip_prefix('=')?;
    Some((name, value.trim()))
}

const INCLUDE_WORDS: &[&str] = &[
    "include", "includer", "includem", "includew", "includeb", "includea",
];

impl Preprocessor<'_> {
    fn err(&mut self, sev: Severity, code: &'static str, msg: String, at: Option<Origin>) {
        let mut d = Diagnostic::new(sev, code, msg);
        if let Some(o) = at {
            // Point at the whole source line: register a verbatim pseudo-line.
            d = d.at(self.anchor(o));
        }
        self.diags.push(d);
    }

    /// A span for a diagnostic about a source line that produced no logical line.
    fn anchor(&mut self, o: Origin) -> crate::source::Span {
        let text = self
            .sm
            .file(o.file)
            .line(o.line)
            .unwrap_or("")
            .chars()
            .skip(o.col.saturating_sub(1) as usize)
            .collect::<String>();
        let len = text.trim_end().len() as u32;
        // An anchor line carries the source text for the diagnostic; the tree builder
        // skips anchors, so the parser never sees them.
        self.sm.lines.push(Line {
            text,
            origin: o,
            verbatim: true,
            expanded_from: Vec::new(),
            anchor: true,
        });
        let idx = self.sm.lines.len() as u32 - 1;
        crate::source::Span {
            line: idx,
            start: 0,
            end: len.max(1),
        }
    }

    fn read_file(&mut self, path: &Path, from: Option<Origin>) {
        if self.include_stack.len() >= MAX_INCLUDE_DEPTH {
            self.err(
                Severity::Fatal,
                "include-depth",
                format!(
                    "includes nested more than {MAX_INCLUDE_DEPTH} deep at {}",
                    path.display()
                ),
                from,
            );
            return;
        }
        // The top-level file failing leaves nothing to run; an include failing skips it.
        let sev = if from.is_some() {
            Severity::Error
        } else {
            Severity::Fatal
        };
        if path.is_dir() {
            self.err(
                sev,
                "include-directory",
                format!(
                    "{} is a directory, not a configuration file (use a glob such as '{}/*.conf')",
                    path.display(),
                    path.display()
                ),
                from,
            );
            return;
        }
        match std::fs::metadata(path) {
            Ok(m) if !m.is_file() => {
                self.err(
                    sev,
                    "not-a-file",
                    format!("{} is not a regular file", path.display()),
                    from,
                );
                return;
            }
            Ok(m) if m.len() > MAX_FILE_LEN => {
                self.err(
                    Severity::Fatal,
                    "file-too-large",
                    format!(
                        "{} is {} bytes; configuration files are limited to {MAX_FILE_LEN}",
                        path.display(),
                        m.len()
                    ),
                    from,
                );
                return;
            }
            _ => {}
        }
        let canon = path.canonicalize().unwrap_or_else(|_| path.to_path_buf());
        if let Some(pos) = self.include_stack.iter().position(|p| *p == canon) {
            let chain: Vec<String> = self.include_stack[pos..]
                .iter()
                .chain(std::iter::once(&canon))
                .map(|p| p.display().to_string())
                .collect();
            self.err(
                Severity::Error,
                "include-cycle",
                format!("include cycle, not followed: {}", chain.join(" -> ")),
                from,
            );
            return;
        }
        let bytes = match std::fs::read(path) {
            Ok(b) => b,
            Err(e) => {
                self.err(
                    sev,
                    "unreadable-file",
                    format!("cannot read {}: {e}", path.display()),
                    from,
                );
                return;
            }
        };
        let text = match String::from_utf8(bytes) {
            Ok(t) => t,
            Err(e) => {
                let bytes = e.into_bytes();
                if bytes.contains(&0) {
                    self.err(
                        Severity::Fatal,
                        "binary-file",
                        format!(
                            "{} is not a text file (it contains NUL bytes)",
                            path.display()
                        ),
                        from,
                    );
                    return;
                }
                self.err(
                    Severity::Warning,
                    "not-utf8",
                    format!(
                        "{} is not valid UTF-8; invalid bytes were replaced",
                        path.display()
                    ),
                    from,
                );
                String::from_utf8_lossy(&bytes).into_owned()
            }
        };
        if text.contains('\0') {
            self.err(
                Severity::Fatal,
                "binary-file",
                format!(
                    "{} is not a text file (it contains NUL bytes)",
                    path.display()
                ),
                from,
            );
            return;
        }
        let id = self.sm.add_file(path.to_path_buf(), text);
        self.include_stack.push(canon);
        self.pwd.push(
            path.parent()
                .map(|p| p.to_path_buf())
                .unwrap_or_else(|| PathBuf::from(".")),
        );
        self.process_file_text(id);
        self.pwd.pop();
        self.include_stack.pop();
    }

    fn process_file_text(&mut self, id: FileId) {
        // Take the physical lines out first so the source map can grow while we work.
        // A copy, so the source map can grow (and be read for anchors) while we work.
        let text = self.sm.file(id).text.clone();
        let mut lines = text.split('\n').enumerate().peekable();
        while let Some((n, raw)) = lines.next() {
            let lineno = n as u32 + 1;
            let origin = Origin {
                file: id,
                line: lineno,
                col: 1,
            };
            if raw.len() > MAX_LINE_LEN {
                self.err(
                    Severity::Fatal,
                    "line-too-long",
                    format!(
                        "line is {} bytes long; the limit is {MAX_LINE_LEN}",
                        raw.len()
                    ),
                    Some(origin),
                );
                continue;
            }
            let raw = raw.strip_suffix('\r').unwrap_or(raw);
            let code = &raw[..comment_start(raw).unwrap_or(raw.len())];
            let lead = code.len() - code.trim_start().len();
            let body = code.trim();
            if body.is_empty() {
                continue;
            }
            let col = raw[..lead].chars().count() as u32 + 1;
            let at = Origin { col, ..origin };

            // Multi-line definition: `$NAME= \` followed by lines ending in `\`.
            if let Some((name, value)) = split_definition(body) {
                if value == "\\" || (value.ends_with('\\') && value.len() > 1) {
                    let mut def_lines = Vec::new();
                    let first = value.trim_end_matches('\\').trim();
                    if !first.is_empty() {
                        def_lines.push(first.to_string());
                    }
                    let mut ended = false;
                    for (_, next) in lines.by_ref() {
                        let next = next.strip_suffix('\r').unwrap_or(next);
                        let next = next[..comment_start(next).unwrap_or(next.len())].trim();
                        if let Some(cont) = next.strip_suffix('\\') {
                            let cont = cont.trim();
                            if !cont.is_empty() {
                                def_lines.push(cont.to_string());
                            }
                        } else {
                            if !next.is_empty() {
                                def_lines.push(next.to_string());
                            }
                            ended = true;
                            break;
                        }
                    }
                    if !ended {
                        self.err(
                            Severity::Warning,
                            "unterminated-definition",
                            format!("multi-line definition of ${name} runs to the end of the file"),
                            Some(at),
                        );
                    }
                    // Conditional definitions only apply when active; the definition line
                    // itself has no '@' here (that case goes through process_line).
                    self.defs.insert(
                        name.to_string(),
                        Def {
                            lines: def_lines,
                            origin: at,
                        },
                    );
                    continue;
                }
            }

            let first_word = body.split_whitespace().next().unwrap_or("");
            if INCLUDE_WORDS.contains(&first_word) {
                self.include(first_word, body[first_word.len()..].trim(), at);
                continue;
            }
            let cx = Ctx {
                origin: at,
                verbatim_col: Some(0),
                expanded_from: Vec::new(),
                depth: 0,
            };
            self.process_line(body, cx);
        }
    }

    fn include(&mut self, word: &str, arg: &str, at: Origin) {
        if !self.opts.includes {
            self.err(
                Severity::Note,
                "include-disabled",
                format!("'{word}' not followed: includes are disabled"),
                Some(at),
            );
            return;
        }
        let arg = arg.trim_matches(|c| c == '"' || c == '\'');
        if arg.is_empty() {
            self.err(
                Severity::Fatal,
                "missing-parameter",
                format!("'{word}' needs a file name or pattern"),
                Some(at),
            );
            return;
        }
        let base = self
            .pwd
            .last()
            .cloned()
            .unwrap_or_else(|| PathBuf::from("."));
        let mut matched = Vec::new();
        let mut reported = false;
        for pattern in expand_braces(arg) {
            let full = if Path::new(&pattern).is_absolute() {
                PathBuf::from(&pattern)
            } else {
                base.join(&pattern)
            };
            let full_s = full.to_string_lossy().into_owned();
            let has_glob = pattern.contains(['*', '?', '[']);
            if !has_glob {
                if full.exists() {
                    matched.push(full);
                } else if word != "include" {
                    reported = true;
                    self.err(
                        Severity::Error,
                        "include-not-found",
                        format!("include file {full_s} does not exist"),
                        Some(at),
                    );
                }
                continue;
            }
            match glob::glob(&full_s) {
                Ok(paths) => {
                    let mut found: Vec<PathBuf> = paths.filter_map(Result::ok).collect();
                    found.sort();
                    matched.extend(found);
                }
                Err(e) => {
                    reported = true;
                    self.err(
                        Severity::Fatal,
                        "bad-include-pattern",
                        format!("include pattern '{pattern}' is not valid: {}", e.msg),
                        Some(at),
                    )
                }
            }
        }
        if matched.is_empty() && !reported {
            // keepalived's plain `include` is silent here; a pattern that matches nothing is
            // usually a typo, so say so (but do not fail: an empty conf.d is legitimate).
            let sev = if word == "includer" {
                Severity::Note
            } else {
                Severity::Warning
            };
            self.err(
                sev,
                "include-no-match",
                format!("'{word} {arg}' matched no files"),
                Some(at),
            );
            return;
        }
        for path in matched {
            self.read_file(&path, Some(at));
        }
    }

    /// Stops expansion once it has produced (or worked through) too much.
    fn over_budget(&mut self, origin: Origin) -> bool {
        if self.truncated {
            return true;
        }
        let max = self.opts.max_lines;
        if self.sm.lines.len() >= max || self.work >= max.saturating_mul(4) {
            self.truncated = true;
            self.err(
                Severity::Fatal,
                "expansion-too-large",
                format!("expansion produces more than {max} lines; stopped"),
                Some(origin),
            );
            return true;
        }
        false
    }

    fn emit(&mut self, text: &str, cx: &Ctx) {
        if self.over_budget(cx.origin) {
            return;
        }
        let mut origin = cx.origin;
        if let Some(off) = cx.verbatim_col {
            origin.col += off;
        }
        self.sm.lines.push(Line {
            text: text.to_string(),
            origin,
            verbatim: cx.verbatim_col.is_some(),
            expanded_from: cx.expanded_from.clone(),
            anchor: false,
        });
    }

    fn process_line(&mut self, text: &str, mut cx: Ctx) {
        self.work += 1;
        if self.over_budget(cx.origin) {
            return;
        }
        if cx.depth > MAX_EXPANSION_DEPTH {
            self.err(
                Severity::Fatal,
                "expansion-too-deep",
                format!("parameter expansion nested more than {MAX_EXPANSION_DEPTH} deep (a definition that refers to itself?)"),
                Some(cx.origin),
            );
            return;
        }
        let trimmed = text.trim_start();
        let advance = |cx: &mut Ctx, by: usize| {
            if let Some(c) = cx.verbatim_col.as_mut() {
                *c += by as u32;
            }
        };
        advance(&mut cx, text.len() - trimmed.len());
        let text = trimmed.trim_end();
        if text.is_empty() {
            return;
        }

        // Conditional line.
        if let Some(rest) = text.strip_prefix('@') {
            let (neg, rest) = match rest.strip_prefix('^') {
                Some(r) => (true, r),
                None => (false, rest),
            };
            let end = rest.find(char::is_whitespace).unwrap_or(rest.len());
            let id = &rest[..end];
            if (id == self.opts.config_id) == neg {
                return;
            }
            let consumed = text.len() - rest.len() + end;
            advance(&mut cx, consumed);
            return self.process_line(&text[consumed..], cx);
        }

        // Single-line definition (multi-line ones are collected by the file reader).
        if let Some((name, value)) = split_definition(text) {
            self.defs.insert(
                name.to_string(),
                Def {
                    lines: vec![value.to_string()],
                    origin: cx.origin,
                },
            );
            return;
        }

        if let Some(rest) = text.strip_prefix('~') {
            if rest.starts_with("SEQ") || rest.starts_with("LST") {
                return self.sequence(text, cx);
            }
        }

        if text.contains('$') {
            let Some((lines, used)) = self.substitute(text) else {
                self.err(
                    Severity::Fatal,
                    "expansion-too-long",
                    format!("parameter expansion makes a line longer than {MAX_LINE_LEN} bytes"),
                    Some(cx.origin),
                );
                return;
            };
            if let Some(def_origin) = used {
                for l in lines {
                    if self.truncated {
                        return;
                    }
                    let mut expanded_from = cx.expanded_from.clone();
                    expanded_from.insert(0, def_origin);
                    let sub = Ctx {
                        origin: cx.origin,
                        verbatim_col: None,
                        expanded_from,
                        depth: cx.depth + 1,
                    };
                    self.process_line(&l, sub);
                }
                return;
            }
        }
        self.emit(text, &cx);
    }

    fn next_random(&mut self) -> u64 {
        // xorshift64*: reproducible for a given seed, good enough for ${_RANDOM}.
        let mut x = self.rng;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.rng = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// Value of a pre-defined or user definition, by name and arguments.
    fn lookup(&mut self, name: &str, args: &str) -> Option<(Vec<String>, Origin)> {
        let here = Origin {
            file: FileId(0),
            line: 0,
            col: 0,
        };
        let one = |s: String| Some((vec![s], here));
        match name {
            "_PWD" => {
                let pwd = self.pwd.last().cloned().unwrap_or_default();
                let abs = std::path::absolute(&pwd).unwrap_or(pwd);
                one(abs.display().to_string())
            }
            "_INSTANCE" => one(self.opts.config_id.clone()),
            "_HOSTNAME" => one(self.opts.hostname.clone()),
            "_HASH" => one("#".into()),
            "_BANG" => one("!".into()),
            "_ENV" => one(std::env::var(args.trim()).unwrap_or_default()),
            "_RANDOM" => {
                let mut it = args.split_whitespace().map(|s| s.parse::<u64>().ok());
                let min = it.next().flatten().unwrap_or(0);
                let max = it.next().flatten().unwrap_or(32767).max(min);
                let r = min + self.next_random() % (max - min + 1).max(1);
                one(r.to_string())
            }
            _ => self.defs.get(name).map(|d| (d.lines.clone(), d.origin)),
        }
    }

    /// One pass of substitution. Returns the resulting lines and, if anything was
    /// replaced, the origin of (the first) definition used; `None` if a line would grow
    /// past [`MAX_LINE_LEN`] (a definition that doubles itself would otherwise grow
    /// exponentially).
    fn substitute(&mut self, text: &str) -> Option<(Vec<String>, Option<Origin>)> {
        let mut out: Vec<String> = vec![String::new()];
        let mut used: Option<Origin> = None;
        let mut rest = text;
        while let Some(pos) = rest.find('$') {
            tail(&mut out).push_str(&rest[..pos]);
            let after = &rest[pos + 1..];
            let mut replaced = None;
            if let Some(inner) = after.strip_prefix('{') {
                if let Some(close) = inner.find('}') {
                    let body = &inner[..close];
                    let (name, args) = match body.find(char::is_whitespace) {
                        Some(i) => (&body[..i], &body[i..]),
                        None => (body, ""),
                    };
                    if let Some(v) = self.lookup(name, args) {
                        replaced = Some((v, close + 2));
                    }
                }
            } else {
                let end = after
                    .find(|c: char| !is_name_char(c))
                    .unwrap_or(after.len());
                let name = &after[..end];
                let followed_ok = after[end..].chars().next().is_none_or(char::is_whitespace);
                if !name.is_empty() && followed_ok {
                    if let Some(v) = self.lookup(name, "") {
                        replaced = Some((v, end));
                    }
                }
            }
            match replaced {
                Some(((lines, origin), consumed)) => {
                    used.get_or_insert(origin);
                    let grown: usize = lines.iter().map(String::len).sum();
                    if tail(&mut out).len() + grown > MAX_LINE_LEN {
                        return None;
                    }
                    let mut it = lines.into_iter();
                    if let Some(first) = it.next() {
                        tail(&mut out).push_str(&first);
                    }
                    out.extend(it);
                    rest = &after[consumed..];
                }
                None => {
                    tail(&mut out).push('$');
                    rest = after;
                }
            }
        }
        tail(&mut out).push_str(rest);
        Some((out, used))
    }
}

/// The line being built (the output always holds at least one).
fn tail(out: &mut Vec<String>) -> &mut String {
    if out.is_empty() {
        out.push(String::new());
    }
    let n = out.len() - 1;
    &mut out[n]
}

/// csh-style brace expansion: `a{b,c{d,e}}f` -> [abf, acdf, acef].
pub fn expand_braces(s: &str) -> Vec<String> {
    let bytes = s.as_bytes();
    let Some(open) = s.find('{') else {
        return vec![s.to_string()];
    };
    let mut depth = 0;
    let mut close = None;
    let mut commas = Vec::new();
    for (i, &b) in bytes.iter().enumerate().skip(open) {
        match b {
            b'{' => depth += 1,
            b'}' => {
                depth -= 1;
                if depth == 0 {
                    close = Some(i);
                    break;
                }
            }
            b',' if depth == 1 => commas.push(i),
            _ => {}
        }
    }
    let Some(close) = close else {
        return vec![s.to_string()];
    };
    let (pre, post) = (&s[..open], &s[close + 1..]);
    let mut bounds = vec![open];
    bounds.extend(&commas);
    bounds.push(close);
    let mut out = Vec::new();
    if commas.is_empty() {
        // `{x}` with no comma is literal (as in csh/glob).
        for tail in expand_braces(post) {
            out.push(format!("{}{}", &s[..=close], tail));
        }
        return out;
    }
    for w in bounds.windows(2) {
        let alt = &s[w[0] + 1..w[1]];
        for a in expand_braces(alt) {
            for tail in expand_braces(post) {
                out.push(format!("{pre}{a}{tail}"));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn braces() {
        assert_eq!(
            expand_braces("foo/{,cat,dog},bar"),
            vec!["foo/,bar", "foo/cat,bar", "foo/dog,bar"]
        );
        assert_eq!(expand_braces("a{b,c{d,e}}f"), vec!["abf", "acdf", "acef"]);
        assert_eq!(expand_braces("x{y}z"), vec!["x{y}z"]);
        assert_eq!(expand_braces("unclosed{a,b"), vec!["unclosed{a,b"]);
    }

    #[test]
    fn comments() {
        assert_eq!(comment_start("a # b"), Some(2));
        assert_eq!(comment_start("a \"# b\" ! c"), Some(8));
        assert_eq!(comment_start("a 'x\\'#' y"), None);
    }
}
