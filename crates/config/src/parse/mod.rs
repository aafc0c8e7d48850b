//! Keyword-table parser: statement tree -> typed model.
//!
//! Every block kind has a table of [`Kw`] entries (keyword name and handler). The
//! table is both the dispatcher and the list of accepted keywords, so an unknown
//! keyword's diagnostic can say which known one was probably meant.

pub mod bfd;
pub mod global;
pub mod ipspec;
pub mod lvs;
pub mod newer;
pub mod scripts;
pub mod track;
pub mod values;
pub mod vrrp;

use crate::diag::{Diagnostic, Severity};
use crate::model::Config;
use crate::source::Span;
use crate::tree::{Block, Stmt, Token};
use std::collections::BTreeSet;

/// Parsing context: diagnostics so far and facts about the host.
pub struct Ctx {
    pub diags: Vec<Diagnostic>,
    /// Interfaces that exist on this host (`None`: do not check).
    pub interfaces: Option<BTreeSet<String>>,
    /// Run the host-dependent script checks (see [`scripts`]).
    pub check_scripts: bool,
    /// Names defined so far, by kind, for duplicate checks that stay linear.
    defined: std::collections::HashSet<(&'static str, String)>,
}

impl Ctx {
    pub fn new(interfaces: Option<BTreeSet<String>>) -> Self {
        Ctx {
            diags: Vec::new(),
            interfaces,
            check_scripts: false,
            defined: Default::default(),
        }
    }

    /// Records that a `kind` named `name` is defined; false if it already was.
    pub fn define(&mut self, kind: &'static str, name: &str) -> bool {
        self.defined.insert((kind, name.to_string()))
    }

    pub fn push(&mut self, d: Diagnostic) {
        self.diags.push(d);
    }

    pub fn report(
        &mut self,
        sev: Severity,
        code: &'static str,
        span: Span,
        msg: impl Into<String>,
    ) {
        self.diags.push(Diagnostic::new(sev, code, msg).at(span));
    }

    pub fn error(&mut self, code: &'static str, span: Span, msg: impl Into<String>) {
        self.report(Severity::Error, code, span, msg);
    }

    pub fn warning(&mut self, code: &'static str, span: Span, msg: impl Into<String>) {
        self.report(Severity::Warning, code, span, msg);
    }

    pub fn note(&mut self, code: &'static str, span: Span, msg: impl Into<String>) {
        self.report(Severity::Note, code, span, msg);
    }

    /// The block of a statement that must have one; reports and returns `None` if absent.
    pub fn block<'s>(&mut self, stmt: &'s Stmt) -> Option<&'s Block> {
        if stmt.block.is_none() {
            self.push(
                Diagnostic::new(
                    Severity::Error,
                    "missing-block",
                    format!(
                        "'{}' needs a block: {} ... {{ ... }}",
                        stmt.keyword().text,
                        stmt.keyword().text
                    ),
                )
                .at(stmt.span()),
            );
        }
        stmt.block.as_ref()
    }

    /// Does the host have this interface? (`true` when not checking.)
    pub fn interface_exists(&self, name: &str) -> bool {
        self.interfaces.as_ref().is_none_or(|s| s.contains(name))
    }
}

/// A keyword handler: updates the object being built from one statement.
pub type Handler<T> = fn(&mut T, &Stmt, &mut Ctx);

/// One accepted keyword of a block.
pub struct Kw<T> {
    pub name: &'static str,
    pub handler: Handler<T>,
    /// Whether the keyword takes a `{ ... }` block (used to report a misplaced one).
    pub takes_block: bool,
}

/// A keyword that takes values on its line.
pub const fn kw<T>(name: &'static str, handler: Handler<T>) -> Kw<T> {
    Kw {
        name,
        handler,
        takes_block: false,
    }
}

/// A keyword that opens a block.
pub const fn kb<T>(name: &'static str, handler: Handler<T>) -> Kw<T> {
    Kw {
        name,
        handler,
        takes_block: true,
    }
}

/// Runs each statement of `items` through `table`. `section` names the block in
/// messages ("vrrp_instance VI_1").
pub fn dispatch<T>(target: &mut T, items: &[Stmt], table: &[Kw<T>], section: &str, cx: &mut Ctx) {
    for stmt in items {
        let word = &stmt.keyword().text;
        match table.iter().find(|k| k.name == word.as_str()) {
            Some(k) => {
                if !k.takes_block && stmt.block.is_some() {
                    cx.push(
                        Diagnostic::new(
                            Severity::Error,
                            "unexpected-block",
                            format!("'{word}' does not take a block; the block is ignored"),
                        )
                        .at(stmt.span()),
                    );
                }
                (k.handler)(target, stmt, cx);
            }
            None => unknown_keyword(stmt.keyword(), table.iter().map(|k| k.name), section, cx),
        }
    }
}

/// Reports an unknown keyword, with the nearest known one as a suggestion.
pub fn unknown_keyword<'a>(
    tok: &Token,
    known: impl Iterator<Item = &'a str>,
    section: &str,
    cx: &mut Ctx,
) {
    let mut d = Diagnostic::new(
        Severity::Error,
        "unknown-keyword",
        format!(
            "unknown keyword '{}' in {section}; the line is ignored",
            tok.text
        ),
    )
    .at(tok.span);
    if let Some(s) = suggest(&tok.text, known) {
        d = d.help(format!("did you mean '{s}'?"));
    }
    cx.push(d);
}

/// The closest candidate by edit distance, if it is close enough to be a likely typo.
pub fn suggest<'a>(word: &str, candidates: impl Iterator<Item = &'a str>) -> Option<&'a str> {
    let limit = (word.chars().count() / 3).clamp(1, 4);
    candidates
        .map(|c| (edit_distance(word, c), c))
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

/// Levenshtein distance with adjacent transposition counted as one edit.
pub fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    if a.len().abs_diff(b.len()) > 4 {
        return usize::MAX;
    }
    let mut prev2 = vec![0usize; b.len() + 1];
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    let mut cur = vec![0usize; b.len() + 1];
    for i in 1..=a.len() {
        cur[0] = i;
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            cur[j] = (prev[j] + 1).min(cur[j - 1] + 1).min(prev[j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                cur[j] = cur[j].min(prev2[j - 2] + 1);
            }
        }
        std::mem::swap(&mut prev2, &mut prev);
        std::mem::swap(&mut prev, &mut cur);
    }
    prev[b.len()]
}

/// The top level of keepalived.conf.
static TOP: &[Kw<Config>] = &[
    kb("global_defs", global::global_defs),
    kw("net_namespace", global::net_namespace),
    kw("net_namespace_ipvs", global::net_namespace_ipvs),
    kw("namespace_with_ipsets", global::namespace_with_ipsets),
    kw("instance", global::instance),
    kw("use_pid_dir", global::use_pid_dir),
    kw("linkbeat_use_polling", global::linkbeat_use_polling),
    kw("child_wait_time", global::child_wait_time),
    kb("linkbeat_interfaces", global::linkbeat_interfaces),
    kb("track_group", global::track_group),
    kb("interface_up_down_delays", global::interface_up_down_delays),
    kb("static_ipaddress", ipspec::static_ipaddress),
    kb("static_routes", ipspec::static_routes),
    kb("static_rules", ipspec::static_rules),
    kb("track_file", track::track_file),
    kb("vrrp_track_file", track::track_file),
    kb("vrrp_track_process", track::track_process),
    kb("bfd_instance", bfd::bfd_instance),
    kb("vrrp_script", track::vrrp_script),
    kb("vrrp_sync_group", vrrp::sync_group),
    kb("garp_group", vrrp::garp_group),
    kb("vrrp_instance", vrrp::vrrp_instance),
    kb("virtual_server_group", lvs::virtual_server_group),
    kb("virtual_server", lvs::virtual_server),
    kb("SSL", lvs::ssl),
];

/// Parses the statement tree into the model and runs the cross-checks.
pub fn parse(stmts: &[Stmt], cx: &mut Ctx) -> Config {
    let mut cfg = Config::default();
    dispatch(&mut cfg, stmts, TOP, "the top level", cx);
    validate(&mut cfg, cx);
    cfg
}

/// Parses one top-level statement into `cfg` (for streaming; [`validate`] follows).
pub fn parse_top(cfg: &mut Config, stmt: &Stmt, cx: &mut Ctx) {
    dispatch(cfg, std::slice::from_ref(stmt), TOP, "the top level", cx);
}

/// The cross-checks, once every statement is in the model.
pub fn validate(cfg: &mut Config, cx: &mut Ctx) {
    global::validate(cfg, cx);
    bfd::validate(cfg, cx);
    track::validate(cfg, cx);
    vrrp::validate(cfg, cx);
    lvs::validate(cfg, cx);
    if cx.check_scripts {
        scripts::validate(cfg, cx);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distance() {
        assert_eq!(edit_distance("virtual_router_idd", "virtual_router_id"), 1);
        assert_eq!(edit_distance("prority", "priority"), 1);
        assert_eq!(edit_distance("advert_itn", "advert_int"), 1);
        assert_eq!(
            suggest(
                "virtual_routr_id",
                ["priority", "virtual_router_id"].into_iter()
            ),
            Some("virtual_router_id")
        );
        assert_eq!(suggest("zzz", ["priority"].into_iter()), None);
    }
}
