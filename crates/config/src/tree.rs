//! Lexer and block structure.
//!
//! A line is split into words at whitespace; `{` and `}` are words of their own even
//! without spaces around them (as keepalived splits them). Quotes (`"` or `'`) group
//! whitespace into a word and are removed; inside quotes, shell-like escapes apply
//! (keepalived.conf(5), "Quoted strings").
//!
//! Words then form statements: a statement is the words of one line up to `{`, `}` or
//! the end of the line. A `{` opens a block belonging to the statement before it,
//! whether on the same line or alone on the next line; `}` closes it. What the words
//! of a block mean (keywords, addresses, names) is the parser's business.

use crate::diag::{Diagnostic, Severity};
use crate::source::{SourceMap, Span};

/// Deeper nesting than this is refused rather than recursed into.
pub const MAX_NESTING: usize = 64;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Token {
    pub text: String,
    pub span: Span,
    /// Whether any part of the word was quoted (a quoted `{` is not a brace).
    pub quoted: bool,
}

#[derive(Debug, Clone)]
pub struct Stmt {
    /// Never empty.
    pub words: Vec<Token>,
    pub block: Option<Block>,
}

#[derive(Debug, Clone)]
pub struct Block {
    pub open: Span,
    pub close: Option<Span>,
    pub items: Vec<Stmt>,
}

impl Stmt {
    pub fn keyword(&self) -> &Token {
        &self.words[0]
    }
    pub fn args(&self) -> &[Token] {
        &self.words[1..]
    }
    pub fn span(&self) -> Span {
        self.words[0].span
    }
    /// Span from the first word to the last.
    pub fn full_span(&self) -> Span {
        let first = self.words[0].span;
        let last = self.words[self.words.len() - 1].span;
        if first.line == last.line {
            Span {
                end: last.end,
                ..first
            }
        } else {
            first
        }
    }
}

fn escape(c: char, chars: &mut std::iter::Peekable<std::str::CharIndices<'_>>) -> String {
    let take_while = |chars: &mut std::iter::Peekable<std::str::CharIndices<'_>>,
                      max: usize,
                      pred: fn(char) -> bool| {
        let mut s = String::new();
        while s.len() < max {
            match chars.peek() {
                Some(&(_, d)) if pred(d) => {
                    s.push(d);
                    chars.next();
                }
                _ => break,
            }
        }
        s
    };
    match c {
        'a' => "\x07".into(),
        'b' => "\x08".into(),
        'E' | 'e' => "\x1b".into(),
        'f' => "\x0c".into(),
        'n' => "\n".into(),
        'r' => "\r".into(),
        't' => "\t".into(),
        'v' => "\x0b".into(),
        'x' => {
            let hex = take_while(chars, usize::MAX, |d| d.is_ascii_hexdigit());
            if hex.is_empty() {
                return "x".into();
            }
            // keepalived takes any number of hex digits; the low byte is what remains.
            let v = hex.bytes().fold(0u32, |acc, d| {
                (acc << 4 | (d as char).to_digit(16).unwrap_or(0)) & 0xff
            });
            char::from_u32(v).map(String::from).unwrap_or_default()
        }
        '0'..='7' => {
            let mut oct = String::from(c);
            oct.push_str(&take_while(chars, 2, |d| ('0'..='7').contains(&d)));
            let v = u32::from_str_radix(&oct, 8).unwrap_or(0) & 0xff;
            char::from_u32(v).map(String::from).unwrap_or_default()
        }
        'c' => match chars.next() {
            Some((_, d)) => char::from_u32((d.to_ascii_uppercase() as u32) ^ 0x40)
                .map(String::from)
                .unwrap_or_default(),
            None => "c".into(),
        },
        other => other.to_string(),
    }
}

/// Splits one logical line into words.
pub fn lex_line(line_idx: u32, text: &str, diags: &mut Vec<Diagnostic>) -> Vec<Token> {
    let mut out = Vec::new();
    let mut chars = text.char_indices().peekable();
    let span = |s: usize, e: usize| Span {
        line: line_idx,
        start: s as u32,
        end: e as u32,
    };
    while let Some(&(start, c)) = chars.peek() {
        if c.is_whitespace() {
            chars.next();
            continue;
        }
        if c == '{' || c == '}' {
            chars.next();
            out.push(Token {
                text: c.to_string(),
                span: span(start, start + 1),
                quoted: false,
            });
            continue;
        }
        let mut word = String::new();
        let mut quoted = false;
        let mut end = start;
        while let Some(&(i, c)) = chars.peek() {
            if c.is_whitespace() || c == '{' || c == '}' {
                break;
            }
            chars.next();
            end = i + c.len_utf8();
            if c == '"' || c == '\'' {
                quoted = true;
                let mut closed = false;
                while let Some((j, d)) = chars.next() {
                    end = j + d.len_utf8();
                    if d == c {
                        closed = true;
                        break;
                    }
                    if d == '\\' {
                        match chars.next() {
                            Some((k, e)) => {
                                end = k + e.len_utf8();
                                word.push_str(&escape(e, &mut chars));
                                if let Some(&(k2, _)) = chars.peek() {
                                    end = end.max(k2);
                                }
                            }
                            None => word.push('\\'),
                        }
                    } else {
                        word.push(d);
                    }
                }
                if !closed {
                    diags.push(
                        Diagnostic::new(
                            Severity::Error,
                            "unterminated-quote",
                            format!("string started with {c} is not closed on this line"),
                        )
                        .at(span(i, end))
                        .help(format!("add a closing {c}")),
                    );
                }
            } else {
                word.push(c);
            }
        }
        out.push(Token {
            text: word,
            span: span(start, end.max(start + 1)),
            quoted,
        });
    }
    out
}

fn is_brace(t: &Token, b: &str) -> bool {
    !t.quoted && t.text == b
}

/// Builds the statement tree of the whole preprocessed stream.
pub fn build(sm: &SourceMap, diags: &mut Vec<Diagnostic>) -> Vec<Stmt> {
    let mut out = Vec::new();
    build_each(sm, diags, |s| out.push(s));
    out
}

/// Builds the statement tree and hands each top-level statement to `f` as soon as it
/// is complete, so only one top-level block is held at a time (a 10,000-instance
/// configuration never exists as one tree).
pub fn build_each(sm: &SourceMap, diags: &mut Vec<Diagnostic>, mut f: impl FnMut(Stmt)) {
    let mut stack: Vec<Frame> = vec![Frame {
        owner: None,
        open: Span::default(),
        items: Vec::new(),
    }];
    let mut too_deep_reported = false;
    // Depth beyond MAX_NESTING is tracked but not built.
    let mut skipped_depth = 0usize;

    for (idx, line) in sm.lines.iter().enumerate() {
        if line.anchor {
            continue;
        }
        let tokens = lex_line(idx as u32, &line.text, diags);
        let mut words: Vec<Token> = Vec::new();
        // Whether `words` is the start of this line (for `{` on its own line).
        let mut line_start = true;
        for t in tokens {
            if is_brace(&t, "{") {
                if skipped_depth > 0 {
                    skipped_depth += 1;
                    continue;
                }
                let owner = if !words.is_empty() {
                    Some(std::mem::take(&mut words))
                } else if line_start {
                    // `{` alone at the start of a line opens the previous statement's block.
                    let top = stack.last_mut().map(|f| &mut f.items);
                    match top.and_then(|items| {
                        if items.last().is_some_and(|s| s.block.is_none()) {
                            items.pop()
                        } else {
                            None
                        }
                    }) {
                        Some(prev) => Some(prev.words),
                        None => None,
                    }
                } else {
                    None
                };
                if owner.is_none() {
                    // keepalived skips such a '{' and then lets its '}' close the block
                    // around it early, so what follows lands somewhere the author did
                    // not mean. We cannot know the intended structure: refuse.
                    diags.push(
                        Diagnostic::new(
                            Severity::Fatal,
                            "unexpected-brace",
                            "'{' does not follow a keyword, so the block structure from here on is unclear",
                        )
                        .at(t.span)
                        .help("a keyword must come before '{', on the same line or the line above")
                        .note("template placeholders such as '{{ name }}' or '{% for %}' are not keepalived syntax: render the template first"),
                    );
                }
                if stack.len() > MAX_NESTING {
                    if !too_deep_reported {
                        too_deep_reported = true;
                        diags.push(
                            Diagnostic::new(
                                Severity::Fatal,
                                "nesting-too-deep",
                                format!("blocks nested more than {MAX_NESTING} deep"),
                            )
                            .at(t.span),
                        );
                    }
                    skipped_depth = 1;
                    continue;
                }
                stack.push(Frame {
                    owner: owner.or_else(|| Some(Vec::new())),
                    open: t.span,
                    items: Vec::new(),
                });
                line_start = false;
            } else if is_brace(&t, "}") {
                if skipped_depth > 0 {
                    skipped_depth -= 1;
                    continue;
                }
                if let Some(top) = stack.last_mut() {
                    if !words.is_empty() {
                        top.items.push(Stmt {
                            words: std::mem::take(&mut words),
                            block: None,
                        });
                    }
                }
                if stack.len() == 1 {
                    diags.push(
                        Diagnostic::new(
                            Severity::Fatal,
                            "unbalanced-brace",
                            "'}' closes a block that was never opened",
                        )
                        .at(t.span)
                        .help("remove it, or look for a missing '{' above"),
                    );
                    continue;
                }
                if let Some(frame) = stack.pop() {
                    let block = Block {
                        open: frame.open,
                        close: Some(t.span),
                        items: frame.items,
                    };
                    close_frame(&mut stack, frame.owner, block);
                }
                line_start = false;
            } else {
                if skipped_depth > 0 {
                    continue;
                }
                words.push(t);
            }
        }
        if !words.is_empty() && skipped_depth == 0 {
            if let Some(top) = stack.last_mut() {
                top.items.push(Stmt { words, block: None });
            }
        }
        // Top-level statements are complete once another follows; the last one waits,
        // since a `{` on the next line may still open its block.
        if stack.len() == 1 && stack[0].items.len() > 1 {
            let keep = stack[0].items.pop();
            stack[0].items.drain(..).for_each(&mut f);
            stack[0].items.extend(keep);
        }
    }
    while stack.len() > 1 {
        if let Some(frame) = stack.pop() {
            diags.push(
                Diagnostic::new(
                    Severity::Fatal,
                    "unbalanced-brace",
                    "this '{' is never closed",
                )
                .at(frame.open)
                .help("add the missing '}'"),
            );
            let block = Block {
                open: frame.open,
                close: None,
                items: frame.items,
            };
            close_frame(&mut stack, frame.owner, block);
        }
    }
    if let Some(root) = stack.pop() {
        root.items.into_iter().for_each(f);
    }
}

/// An open block while building: the words of the statement owning it (none for the
/// root) and the statements read so far.
struct Frame {
    owner: Option<Vec<Token>>,
    open: Span,
    items: Vec<Stmt>,
}

fn close_frame(stack: &mut [Frame], owner: Option<Vec<Token>>, block: Block) {
    let Some(parent) = stack.last_mut() else {
        return;
    };
    // A stray block (no owner) is dropped; it has been reported already.
    if let Some(words) = owner.filter(|w| !w.is_empty()) {
        parent.items.push(Stmt {
            words,
            block: Some(block),
        });
    }
}
