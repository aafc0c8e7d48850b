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

/// The closest candidate by edit distance, if it is close enough to be a likely typo
/// (the first of equally close ones).
pub fn suggest<'a>(word: &str, candidates: impl Iterator<Item = &'a str>) -> Option<&'a str> {
    let word: Vec<char> = word.chars().collect();
    let limit = (word.len() / 3).clamp(1, 4);
    let mut scratch = Scratch::default();
    let mut letters = Letters::of(&word);
    let mut best: Option<(usize, &'a str)> = None;
    for c in candidates {
        // Only a strictly closer candidate replaces the one found, so the bound
        // shrinks as candidates are found and most are given up after a row or two.
        let bound = match best {
            Some((0, _)) => break,
            Some((d, _)) => d - 1,
            None => limit,
        };
        // Cheap lower bounds first (the length difference, then the letters one word
        // has and the other lacks): most candidates end there.
        if c.chars().count().abs_diff(word.len()) > bound {
            continue;
        }
        scratch.b.clear();
        scratch.b.extend(c.chars());
        if letters.apart(&scratch.b) > bound {
            continue;
        }
        if let Some(d) = distance_within(&word, bound, &mut scratch) {
            best = Some((d, c));
        }
    }
    best.map(|(_, c)| c)
}

/// Levenshtein distance with adjacent transposition counted as one edit.
pub fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let mut scratch = Scratch::default();
    scratch.b.extend(b.chars());
    if a.len().abs_diff(scratch.b.len()) > 4 {
        return usize::MAX;
    }
    distance_within(&a, usize::MAX, &mut scratch).unwrap_or(usize::MAX)
}

/// How many of each letter a word has, folded into 128 counts (ASCII exactly).
struct Letters {
    count: [i32; 128],
    len: usize,
}

impl Letters {
    fn of(word: &[char]) -> Self {
        let mut count = [0; 128];
        for &c in word {
            count[Self::slot(c)] += 1;
        }
        Letters {
            count,
            len: word.len(),
        }
    }

    fn slot(c: char) -> usize {
        c as usize % 128
    }

    /// A lower bound of the edit distance from the word to `other`: the letters one
    /// has that the other lacks, on the side with more of them. An insertion or a
    /// deletion changes one side by one, a substitution each side by one, a
    /// transposition neither (letters folded together only lower the count).
    fn apart(&mut self, other: &[char]) -> usize {
        let mut only_other = 0;
        for &c in other {
            let n = &mut self.count[Self::slot(c)];
            if *n <= 0 {
                only_other += 1;
            }
            *n -= 1;
        }
        for &c in other {
            self.count[Self::slot(c)] += 1;
        }
        let shared = other.len() - only_other;
        (self.len - shared).max(only_other)
    }
}

/// Buffers reused from one candidate to the next.
#[derive(Default)]
struct Scratch {
    b: Vec<char>,
    prev2: Vec<usize>,
    prev: Vec<usize>,
    cur: Vec<usize>,
}

/// The distance from `a` to `scratch.b` if it is at most `bound`, else `None`.
/// The work stops as soon as no later row can come back under the bound: a row's
/// smallest entry is at least the smaller of the previous row's smallest and the
/// one before's plus one (a transposition), so once two rows in a row are above
/// the bound every later one is too.
fn distance_within(a: &[char], bound: usize, scratch: &mut Scratch) -> Option<usize> {
    let Scratch {
        b,
        prev2,
        prev,
        cur,
    } = scratch;
    // Each insertion or deletion fixes one character of the length difference.
    if a.len().abs_diff(b.len()) > bound {
        return None;
    }
    let n = b.len();
    prev2.clear();
    prev2.resize(n + 1, 0);
    prev.clear();
    prev.extend(0..=n);
    cur.clear();
    cur.resize(n + 1, 0);
    let mut prev_min = 0;
    for i in 1..=a.len() {
        cur[0] = i;
        let mut row_min = i;
        for j in 1..=n {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut v = (prev[j] + 1).min(cur[j - 1] + 1).min(prev[j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                v = v.min(prev2[j - 2] + 1);
            }
            cur[j] = v;
            row_min = row_min.min(v);
        }
        if row_min > bound && prev_min > bound {
            return None;
        }
        prev_min = row_min;
        std::mem::swap(prev2, prev);
        std::mem::swap(prev, cur);
    }
    Some(prev[n]).filter(|d| *d <= bound)
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

    /// The plain definition: the full distance to every candidate, the first closest
    /// one within the limit.
    fn suggest_plainly<'a>(word: &str, candidates: &[&'a str]) -> Option<&'a str> {
        fn distance(a: &[char], b: &[char]) -> usize {
            let mut d = vec![vec![0usize; b.len() + 1]; a.len() + 1];
            for (i, row) in d.iter_mut().enumerate() {
                row[0] = i;
            }
            for (j, cell) in d[0].iter_mut().enumerate() {
                *cell = j;
            }
            for i in 1..=a.len() {
                for j in 1..=b.len() {
                    let cost = usize::from(a[i - 1] != b[j - 1]);
                    let mut v = (d[i - 1][j] + 1)
                        .min(d[i][j - 1] + 1)
                        .min(d[i - 1][j - 1] + cost);
                    if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                        v = v.min(d[i - 2][j - 2] + 1);
                    }
                    d[i][j] = v;
                }
            }
            d[a.len()][b.len()]
        }
        let w: Vec<char> = word.chars().collect();
        let limit = (w.len() / 3).clamp(1, 4);
        candidates
            .iter()
            .map(|c| (distance(&w, &c.chars().collect::<Vec<_>>()), *c))
            .filter(|(d, _)| *d <= limit)
            .min_by_key(|(d, _)| *d)
            .map(|(_, c)| c)
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(2000))]

        /// The bounded search suggests what the plain definition does, for words near
        /// the keywords (typos) and far from them, with letters that share a count slot
        /// ('a' and 'á' are 128 apart).
        #[test]
        fn suggest_is_the_plain_closest(
            word in "[a-z_áé~]{0,24}",
            pick in 0usize..1000,
            edits in proptest::collection::vec((0usize..64, "[a-z_áé]"), 0..4),
        ) {
            let names: Vec<&str> = TOP.iter().map(|k| k.name).collect();
            // A keyword with a few edits, or the random word as it is.
            let typo = if pick < names.len() * 2 {
                let mut t: Vec<char> = names[pick % names.len()].chars().collect();
                for (at, c) in &edits {
                    let at = at % (t.len() + 1);
                    match at % 3 {
                        0 => t.insert(at, c.chars().next().unwrap_or('x')),
                        1 if at < t.len() => { t.remove(at); }
                        _ if at + 1 < t.len() => t.swap(at, at + 1),
                        _ => {}
                    }
                }
                t.into_iter().collect()
            } else {
                word
            };
            let mut candidates = names.clone();
            candidates.extend(["á", "ab", "ba", "aá", "áa", "instancé"]);
            proptest::prop_assert_eq!(
                suggest(&typo, candidates.iter().copied()),
                suggest_plainly(&typo, &candidates)
            );
        }
    }
}
