//! Diagnostics: what is wrong, where, and what would be accepted.

use crate::source::{SourceMap, Span};
use serde::Serialize;
use std::fmt::Write as _;

/// How bad a finding is. The order matters: later is worse.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Informational; does not change the verdict.
    Note,
    /// Probably not what was meant; keepup runs.
    Warning,
    /// Something is ignored or dropped (keepalived would often do so silently); keepup runs.
    Error,
    /// keepup refuses to run this configuration.
    Fatal,
}

impl Severity {
    pub fn label(self) -> &'static str {
        match self {
            Severity::Note => "note",
            Severity::Warning => "warning",
            Severity::Error | Severity::Fatal => "error",
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Diagnostic {
    pub severity: Severity,
    /// Stable machine-readable name of the finding, e.g. `unknown-keyword`.
    pub code: &'static str,
    pub message: String,
    #[serde(skip)]
    pub span: Option<Span>,
    /// What would be accepted, e.g. `did you mean 'virtual_router_id'?`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub help: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

impl Diagnostic {
    pub fn new(severity: Severity, code: &'static str, message: impl Into<String>) -> Self {
        Diagnostic {
            severity,
            code,
            message: message.into(),
            span: None,
            help: None,
            notes: Vec::new(),
        }
    }
    pub fn at(mut self, span: Span) -> Self {
        self.span = Some(span);
        self
    }
    pub fn at_opt(mut self, span: Option<Span>) -> Self {
        self.span = span;
        self
    }
    pub fn help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }
    pub fn note(mut self, note: impl Into<String>) -> Self {
        self.notes.push(note.into());
        self
    }
}

/// The outcome class of a check, as `keepup check` reports it in its exit status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    /// Exit 0: nothing worse than notes.
    Clean,
    /// Exit 1: keepup would run, but there are warnings or errors.
    Degraded,
    /// Exit 2: keepup would refuse to run.
    Refused,
}

impl Verdict {
    pub fn of(diags: &[Diagnostic]) -> Verdict {
        match diags.iter().map(|d| d.severity).max() {
            Some(Severity::Fatal) => Verdict::Refused,
            Some(Severity::Warning | Severity::Error) => Verdict::Degraded,
            _ => Verdict::Clean,
        }
    }
    pub fn exit_code(self) -> i32 {
        match self {
            Verdict::Clean => 0,
            Verdict::Degraded => 1,
            Verdict::Refused => 2,
        }
    }
}

const SPACES: &str = "                                                                ";
const CARETS: &str = "^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^";

/// Appends `n` characters of `run` (one ASCII character repeated), a slice at a time.
fn push_n(out: &mut String, run: &str, mut n: usize) {
    while n > 0 {
        let k = n.min(run.len());
        out.push_str(&run[..k]);
        n -= k;
    }
}

/// A diagnostic with its location resolved, as `--json` prints it.
#[derive(Debug, Serialize)]
pub struct ResolvedDiagnostic<'a> {
    #[serde(flatten)]
    pub diag: &'a Diagnostic,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub column: Option<u32>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub expanded_from: Vec<String>,
}

impl SourceMap {
    pub fn resolve_diag<'a>(&self, d: &'a Diagnostic) -> ResolvedDiagnostic<'a> {
        let origin = d.span.and_then(|s| self.resolve(s));
        let expanded_from = d
            .span
            .and_then(|s| self.line(s))
            .map(|l| {
                l.expanded_from
                    .iter()
                    .map(|o| format!("{}:{}", self.path(o.file).display(), o.line))
                    .collect()
            })
            .unwrap_or_default();
        ResolvedDiagnostic {
            diag: d,
            file: origin.map(|o| self.path(o.file).display().to_string()),
            line: origin.map(|o| o.line),
            column: origin.map(|o| o.col),
            expanded_from,
        }
    }

    /// Renders one diagnostic for a terminal:
    ///
    /// ```text
    /// keepalived.conf:12:5: error: unknown keyword 'virtual_router_idd' in vrrp_instance
    ///    12 |     virtual_router_idd 51
    ///       |     ^^^^^^^^^^^^^^^^^^
    ///       = help: did you mean 'virtual_router_id'?
    /// ```
    pub fn render(&self, d: &Diagnostic) -> String {
        let mut out = String::new();
        self.render_into(&mut out, d);
        out
    }

    /// [`render`](Self::render), appended to `out` (what [`resolve_diag`](Self::resolve_diag)
    /// says, written without the copies it makes for JSON).
    fn render_into(&self, out: &mut String, d: &Diagnostic) {
        let origin = d.span.and_then(|s| self.resolve(s));
        if let Some(o) = origin {
            let _ = write!(
                out,
                "{}:{}:{}: ",
                self.path(o.file).display(),
                o.line,
                o.col
            );
        }
        let _ = writeln!(out, "{}: {}", d.severity.label(), d.message);
        if let Some(span) = d.span {
            self.render_snippet(out, span);
        }
        if let Some(line) = d.span.and_then(|s| self.line(s)) {
            for o in &line.expanded_from {
                let _ = writeln!(
                    out,
                    "     = note: expanded from the definition at {}:{}",
                    self.path(o.file).display(),
                    o.line
                );
            }
        }
        if let Some(h) = &d.help {
            let _ = writeln!(out, "     = help: {h}");
        }
        for n in &d.notes {
            let _ = writeln!(out, "     = note: {n}");
        }
    }

    fn render_snippet(&self, out: &mut String, span: Span) {
        let Some(line) = self.line(span) else { return };
        let Some(origin) = self.resolve(span) else {
            return;
        };
        // Show the file's own line where the text maps 1:1, the expanded text otherwise.
        let (shown, caret_col) = if line.verbatim {
            let src = self.file(origin.file).line(origin.line).unwrap_or("");
            (src, origin.col.saturating_sub(1) as usize)
        } else {
            let prefix = line.text.get(..span.start as usize).unwrap_or("");
            (line.text.as_str(), prefix.chars().count())
        };
        const MAX: usize = 160;
        let width = line
            .text
            .get(span.start as usize..span.end as usize)
            .map(|s| s.chars().count())
            .unwrap_or(1)
            .clamp(1, MAX.saturating_sub(caret_col).max(1));
        let gutter = origin.line.to_string();
        let pad = gutter.len().max(4);
        let _ = write!(out, "{gutter:>pad$} | ");
        // At most MAX characters of the line, tabs shown as one space, no trailing blanks.
        let cut = if shown.len() <= MAX {
            shown.len() // no more bytes than MAX, so no more characters
        } else {
            shown
                .char_indices()
                .nth(MAX)
                .map_or(shown.len(), |(i, _)| i)
        };
        let at = out.len();
        for (i, part) in shown[..cut].split('\t').enumerate() {
            if i > 0 {
                out.push(' ');
            }
            out.push_str(part);
        }
        out.truncate(at + out[at..].trim_end().len());
        out.push('\n');
        if caret_col < MAX {
            let _ = write!(out, "{:pad$} | ", "");
            push_n(out, SPACES, caret_col);
            push_n(out, CARETS, width);
            out.push('\n');
        }
        if !line.verbatim {
            let _ = writeln!(
                out,
                "{:pad$} = note: this line is the result of substitution",
                ""
            );
        }
    }

    /// Renders all diagnostics and a one-line summary.
    pub fn render_all(&self, diags: &[Diagnostic]) -> String {
        let mut out = String::new();
        for d in diags {
            self.render_into(&mut out, d);
        }
        let count = |s: &[Severity]| diags.iter().filter(|d| s.contains(&d.severity)).count();
        let (fatal, errors, warnings) = (
            count(&[Severity::Fatal]),
            count(&[Severity::Error]),
            count(&[Severity::Warning]),
        );
        let verdict = match Verdict::of(diags) {
            Verdict::Clean => "configuration is clean",
            Verdict::Degraded => "keepup would run this configuration, but read the findings above",
            Verdict::Refused => "keepup would refuse to run this configuration",
        };
        let _ = writeln!(
            out,
            "{verdict}: {fatal} fatal, {errors} error(s), {warnings} warning(s)"
        );
        out
    }
}
