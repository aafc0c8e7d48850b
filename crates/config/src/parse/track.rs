//! Trackers: `vrrp_script`, `track_file` (alias `vrrp_track_file`) and
//! `vrrp_track_process`.
//!
//! Ranges and fall-backs are keepalived 2.2.7's, checked against the binary:
//! script `interval` and `timeout` are whole seconds up to 4294 (0 becomes 1),
//! script `weight` is -253..253, track_file and track_process weights -254..254.
//! A vrrp_script without `script`, a track_file without `file` and a track process
//! without `process` are dropped.

use super::{dispatch, kw, values, Ctx, Kw};
use crate::diag::{Diagnostic, Severity};
use crate::model::track::ParamMatch;
use crate::model::{Config, Script, Secs, TrackFile, TrackProcess, VrrpScript};
use crate::source::Span;
use crate::tree::{Stmt, Token};
use std::collections::HashMap;

/// The name after the block keyword. keepalived 2.2.7 stops on a missing one.
fn block_name(s: &Stmt, cx: &mut Ctx) -> Option<String> {
    match s.args().first() {
        Some(t) => {
            if let Some(extra) = s.args().get(1) {
                cx.push(
                    Diagnostic::new(
                        Severity::Warning,
                        "extra-parameter",
                        format!(
                            "'{}' takes one name; '{}' and what follows are ignored",
                            s.keyword().text,
                            extra.text
                        ),
                    )
                    .at(extra.span),
                );
            }
            Some(t.text.clone())
        }
        None => {
            cx.push(
                Diagnostic::new(
                    Severity::Fatal,
                    "missing-parameter",
                    format!("'{}' needs a name", s.keyword().text),
                )
                .at(s.keyword().span)
                .help(format!("{} NAME {{ ... }}", s.keyword().text))
                .note("keepalived 2.2.7 stops reading the configuration here"),
            );
            None
        }
    }
}

/// `weight N [reverse]`: the weight, and whether `reverse` was given.
fn weight(s: &Stmt, min: i64, max: i64, cx: &mut Ctx) -> Option<(i32, bool)> {
    if !values::arity(s, 1, 2, cx) {
        return None;
    }
    let w = values::int_tok::<i32>(&s.args()[0], min, max, cx)?;
    let reverse = match s.args().get(1) {
        None => false,
        Some(t) if t.text == "reverse" => true,
        Some(t) => {
            cx.push(
                Diagnostic::new(
                    Severity::Error,
                    "bad-value",
                    format!("unknown weight option '{}'; it is ignored", t.text),
                )
                .at(t.span)
                .help("the only option after the weight is 'reverse'"),
            );
            false
        }
    };
    Some((w, reverse))
}

/// A flag keyword that takes no value.
fn bare_flag(s: &Stmt, cx: &mut Ctx) -> bool {
    values::arity(s, 0, 0, cx);
    true
}

// ---------------------------------------------------------------------------
// vrrp_script

/// A vrrp_script while its block is read: `user` may come before `script`.
#[derive(Default)]
struct ScriptBuild {
    s: VrrpScript,
    command: Option<String>,
    user: Option<(String, Option<String>)>,
}

/// `interval`/`timeout`: whole seconds 0..4294, where 0 is taken as 1.
fn script_secs(s: &Stmt, min_ok: i64, cx: &mut Ctx) -> Option<Secs> {
    let tok = values::one(s, cx)?;
    let n = values::int_tok::<i64>(tok, 0, 4294, cx)?;
    if n < min_ok {
        cx.push(
            Diagnostic::new(
                Severity::Warning,
                "out-of-range",
                format!(
                    "vrrp_script {} must be greater than 0; 1 is used",
                    s.keyword().text
                ),
            )
            .at(tok.span),
        );
        return Some(Secs::from_secs(1));
    }
    u64::try_from(n).ok().map(Secs::from_secs)
}

/// `rise` / `fall`: 1..2147483647.
fn count(s: &Stmt, cx: &mut Ctx) -> Option<u32> {
    values::int(s, 1, i64::from(i32::MAX), cx)
}

static SCRIPT: &[Kw<ScriptBuild>] = &[
    kw("script", |b, s, cx| {
        if let Some(c) = values::command_line(s, cx) {
            b.command = Some(c);
        }
    }),
    kw("interval", |b, s, cx| {
        if let Some(v) = script_secs(s, 1, cx) {
            b.s.interval = v;
        }
    }),
    kw("timeout", |b, s, cx| {
        if let Some(v) = script_secs(s, 1, cx) {
            b.s.timeout = Some(v);
        }
    }),
    kw("weight", |b, s, cx| {
        if let Some((w, r)) = weight(s, -253, 253, cx) {
            b.s.weight = w;
            b.s.weight_reverse = r;
        }
    }),
    kw("rise", |b, s, cx| {
        if let Some(v) = count(s, cx) {
            b.s.rise = v;
        }
    }),
    kw("fall", |b, s, cx| {
        if let Some(v) = count(s, cx) {
            b.s.fall = v;
        }
    }),
    kw("user", |b, s, cx| {
        if values::arity(s, 1, 2, cx) {
            let a = s.args();
            b.user = Some((a[0].text.clone(), a.get(1).map(|t| t.text.clone())));
        }
    }),
    kw("init_fail", |b, s, cx| b.s.init_fail = bare_flag(s, cx)),
];

/// `vrrp_script NAME { ... }`.
pub fn vrrp_script(c: &mut Config, s: &Stmt, cx: &mut Ctx) {
    let Some(name) = block_name(s, cx) else {
        return;
    };
    let mut b = ScriptBuild {
        s: VrrpScript {
            name: name.clone(),
            span: name_span(s),
            ..VrrpScript::default()
        },
        ..ScriptBuild::default()
    };
    if let Some(block) = cx.block(s) {
        dispatch(
            &mut b,
            &block.items,
            SCRIPT,
            &format!("vrrp_script {name}"),
            cx,
        );
    }
    b.s.script = b.command.map(|command| {
        let (user, group) = match b.user {
            Some((u, g)) => (Some(u), g),
            None => (None, None),
        };
        Script {
            command,
            user,
            group,
            span: b.s.span,
        }
    });
    c.vrrp_scripts.push(b.s);
}

fn name_span(s: &Stmt) -> Span {
    s.args().first().map(|t| t.span).unwrap_or(s.keyword().span)
}

// ---------------------------------------------------------------------------
// track_file

static FILE: &[Kw<TrackFile>] = &[
    kw("file", |f, s, cx| {
        if let Some(p) = values::string(s, cx) {
            f.file = Some(p);
        }
    }),
    kw("weight", |f, s, cx| {
        if let Some((w, r)) = weight(s, -254, 254, cx) {
            f.weight = w;
            f.weight_reverse = r;
        }
    }),
    kw("init_file", init_file),
];

/// `init_file [VALUE] [overwrite]`.
fn init_file(f: &mut TrackFile, s: &Stmt, cx: &mut Ctx) {
    let mut value = 0i64;
    let mut overwrite = false;
    let mut ok = true;
    for (i, t) in s.args().iter().enumerate() {
        if t.text == "overwrite" {
            overwrite = true;
        } else if i == 0 {
            match int_value(t) {
                Some(v) => value = v,
                None => {
                    unknown_init(t, cx);
                    ok = false;
                }
            }
        } else {
            unknown_init(t, cx);
            ok = false;
        }
    }
    if ok {
        f.init_file = Some(value);
        f.init_file_overwrite = overwrite;
    }
}

fn int_value(t: &Token) -> Option<i64> {
    t.text.parse::<i64>().ok()
}

fn unknown_init(t: &Token, cx: &mut Ctx) {
    cx.push(
        Diagnostic::new(
            Severity::Error,
            "bad-value",
            format!(
                "unknown init_file option '{}'; init_file is ignored",
                t.text
            ),
        )
        .at(t.span)
        .help("init_file [VALUE] [overwrite], where VALUE is a whole number"),
    );
}

/// `track_file NAME { ... }` and its older spelling `vrrp_track_file`.
pub fn track_file(c: &mut Config, s: &Stmt, cx: &mut Ctx) {
    let Some(name) = block_name(s, cx) else {
        return;
    };
    let mut f = TrackFile {
        name: name.clone(),
        span: name_span(s),
        ..TrackFile::default()
    };
    if s.keyword().text == "vrrp_track_file" {
        cx.push(
            Diagnostic::new(
                Severity::Note,
                "deprecated",
                "'vrrp_track_file' is an older name for 'track_file'",
            )
            .at(s.keyword().span)
            .help("write 'track_file'"),
        );
    }
    if let Some(block) = cx.block(s) {
        dispatch(
            &mut f,
            &block.items,
            FILE,
            &format!("track_file {name}"),
            cx,
        );
    }
    c.track_files.push(f);
}

// ---------------------------------------------------------------------------
// vrrp_track_process

/// `delay`, `terminate_delay`, `fork_delay`: seconds with a fraction, up to an hour.
fn delay(s: &Stmt, cx: &mut Ctx) -> Option<Secs> {
    values::timer(s, 0.000_001, 3600.0, cx)
}

static PROCESS: &[Kw<TrackProcess>] = &[
    kw("process", |p, s, cx| {
        if values::arity(s, 1, usize::MAX, cx) {
            p.process = s.args().iter().map(|t| t.text.clone()).collect();
        }
    }),
    kw("param_match", |p, s, cx| {
        match values::choice(s, &["initial", "partial"], cx) {
            Some("initial") => p.param_match = Some(ParamMatch::Initial),
            Some(_) => p.param_match = Some(ParamMatch::Partial),
            None => {}
        }
    }),
    kw("weight", |p, s, cx| {
        if let Some((w, r)) = weight(s, -254, 254, cx) {
            p.weight = w;
            p.weight_reverse = r;
        }
    }),
    kw("quorum", |p, s, cx| {
        if let Some(v) = values::int(s, 1, 65535, cx) {
            p.quorum = v;
        }
    }),
    kw("quorum_max", |p, s, cx| {
        if let Some(v) = values::int(s, 0, 65535, cx) {
            p.quorum_max = Some(v);
        }
    }),
    kw("delay", |p, s, cx| {
        if let Some(v) = delay(s, cx) {
            p.terminate_delay = Some(v);
            p.fork_delay = Some(v);
        }
    }),
    kw("terminate_delay", |p, s, cx| {
        if let Some(v) = delay(s, cx) {
            p.terminate_delay = Some(v);
        }
    }),
    kw("fork_delay", |p, s, cx| {
        if let Some(v) = delay(s, cx) {
            p.fork_delay = Some(v);
        }
    }),
    kw("full_command", |p, s, cx| p.full_command = bare_flag(s, cx)),
];

/// `vrrp_track_process NAME { ... }`.
pub fn track_process(c: &mut Config, s: &Stmt, cx: &mut Ctx) {
    let Some(name) = block_name(s, cx) else {
        return;
    };
    let mut p = TrackProcess {
        name: name.clone(),
        span: name_span(s),
        ..TrackProcess::default()
    };
    if let Some(block) = cx.block(s) {
        dispatch(
            &mut p,
            &block.items,
            PROCESS,
            &format!("vrrp_track_process {name}"),
            cx,
        );
        if let Some(max) = p.quorum_max {
            if max < p.quorum {
                let span = block
                    .items
                    .iter()
                    .rev()
                    .find(|st| st.keyword().text == "quorum_max")
                    .map(|st| st.full_span())
                    .unwrap_or(p.span);
                cx.push(
                    Diagnostic::new(
                        Severity::Error,
                        "bad-value",
                        format!(
                            "quorum_max {max} is less than quorum {}; quorum_max is ignored",
                            p.quorum
                        ),
                    )
                    .at(span),
                );
                p.quorum_max = None;
            }
        }
    }
    c.track_processes.push(p);
}

// ---------------------------------------------------------------------------
// Cross-checks

/// Reports trackers keepalived drops, and names used twice.
pub fn validate(c: &Config, cx: &mut Ctx) {
    for v in &c.vrrp_scripts {
        if v.script.is_none() {
            cx.push(
                Diagnostic::new(
                    Severity::Error,
                    "missing-script",
                    format!("vrrp_script {} has no 'script'; the vrrp_script is dropped", v.name),
                )
                .at(v.span)
                .help("add 'script \"COMMAND ARGS\"' (check @conditional lines that may have removed it)"),
            );
        }
        if let Some(t) = v.timeout {
            if t > v.interval {
                cx.push(
                    Diagnostic::new(
                        Severity::Note,
                        "timeout-exceeds-interval",
                        format!(
                            "vrrp_script {}: timeout {}s is longer than interval {}s; a slow run delays the next one",
                            v.name,
                            t.as_secs_f64(),
                            v.interval.as_secs_f64()
                        ),
                    )
                    .at(v.span),
                );
            }
        }
    }
    for f in &c.track_files {
        if f.file.is_none() {
            cx.push(
                Diagnostic::new(
                    Severity::Error,
                    "missing-file",
                    format!(
                        "track_file {} has no 'file'; the track_file is ignored",
                        f.name
                    ),
                )
                .at(f.span)
                .help("add 'file PATH'"),
            );
        }
    }
    for p in &c.track_processes {
        if p.process.is_empty() {
            cx.push(
                Diagnostic::new(
                    Severity::Error,
                    "missing-process",
                    format!(
                        "vrrp_track_process {} has no 'process'; the track process is dropped",
                        p.name
                    ),
                )
                .at(p.span)
                .help("add 'process NAME [PARAMETERS]'"),
            );
        }
    }
    duplicates(
        "vrrp_script",
        c.vrrp_scripts.iter().map(|v| (v.name.as_str(), v.span)),
        cx,
    );
    duplicates(
        "track_file",
        c.track_files.iter().map(|v| (v.name.as_str(), v.span)),
        cx,
    );
    duplicates(
        "vrrp_track_process",
        c.track_processes.iter().map(|v| (v.name.as_str(), v.span)),
        cx,
    );
}

/// keepalived 2.2.7 accepts a name twice without a word, so this is a note (such
/// configurations stay clean); which definition a tracker then uses is unclear.
fn duplicates<'a>(what: &str, items: impl Iterator<Item = (&'a str, Span)>, cx: &mut Ctx) {
    let mut seen: HashMap<&str, Span> = HashMap::new();
    for (name, span) in items {
        if seen.contains_key(name) {
            cx.push(
                Diagnostic::new(
                    Severity::Note,
                    "duplicate-name",
                    format!("{what} {name} is defined more than once"),
                )
                .at(span)
                .note("keepalived accepts this silently; give each a unique name"),
            );
        } else {
            seen.insert(name, span);
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests may panic on a broken expectation
mod tests {
    use crate::model::track::ParamMatch;
    use crate::model::Secs;
    use crate::testutil::{codes, load};
    use crate::Severity;

    #[test]
    fn vrrp_script_full() {
        let l = load(
            "vrrp_script chk {\n\
             script killall -0 sshd\n\
             interval 2\n\
             timeout 1\n\
             weight -20 reverse\n\
             rise 3\n\
             fall 4\n\
             user nobody nogroup\n\
             init_fail\n\
             }\n\
             vrrp_script q {\n\
             script \"killall -0 sshd\"\n\
             }\n",
        );
        assert!(l.diagnostics.is_empty(), "{}", l.render());
        let s = &l.config.vrrp_scripts[0];
        assert_eq!(s.name, "chk");
        let sc = s.script.as_ref().unwrap();
        assert_eq!(sc.command, "killall -0 sshd");
        assert_eq!(sc.user.as_deref(), Some("nobody"));
        assert_eq!(sc.group.as_deref(), Some("nogroup"));
        assert_eq!(s.interval, Secs::from_secs(2));
        assert_eq!(s.timeout, Some(Secs::from_secs(1)));
        assert_eq!((s.weight, s.weight_reverse), (-20, true));
        assert_eq!((s.rise, s.fall), (3, 4));
        assert!(s.init_fail);
        let q = &l.config.vrrp_scripts[1];
        assert_eq!(q.script.as_ref().unwrap().command, "killall -0 sshd");
        assert_eq!(
            (q.interval, q.weight, q.rise, q.fall),
            (Secs::from_secs(1), 0, 1, 1)
        );
    }

    #[test]
    fn vrrp_script_values() {
        let l = load(
            "vrrp_script chk {\n\
             script /bin/true\n\
             interval 0\n\
             timeout 5000\n\
             weight 254\n\
             rise 0\n\
             weight 5 sideways\n\
             interval 1.5\n\
             }\n",
        );
        assert_eq!(
            codes(&l),
            vec![
                "out-of-range",
                "out-of-range",
                "out-of-range",
                "out-of-range",
                "bad-value",
                "not-a-number"
            ],
            "{}",
            l.render()
        );
        assert_eq!(l.diagnostics[0].severity, Severity::Warning);
        let s = &l.config.vrrp_scripts[0];
        assert_eq!(s.interval, Secs::from_secs(1));
        assert_eq!(s.timeout, None);
        assert_eq!(s.weight, 5);
        assert_eq!(s.rise, 1);
    }

    #[test]
    fn vrrp_script_without_script_is_dropped() {
        let l = load("vrrp_script chk {\ninterval 1\ntimeout 10\n}\n");
        assert_eq!(
            codes(&l),
            vec!["missing-script", "timeout-exceeds-interval"]
        );
        assert_eq!(l.diagnostics[0].severity, Severity::Error);
        assert_eq!(l.diagnostics[1].severity, Severity::Note);
        assert!(l.config.vrrp_scripts[0].script.is_none());
    }

    #[test]
    fn names() {
        let l = load("vrrp_script {\n}\n");
        assert_eq!(l.diagnostics[0].severity, Severity::Fatal);
        let l = load(
            "vrrp_script a {\nscript x\n}\nvrrp_script a {\nscript y\n}\ntrack_file f {\nfile /f\n}\ntrack_file f {\nfile /g\n}\n",
        );
        assert_eq!(codes(&l), vec!["duplicate-name", "duplicate-name"]);
        assert!(l.diagnostics.iter().all(|d| d.severity == Severity::Note));
    }

    #[test]
    fn track_files() {
        let l = load(
            "track_file f {\n\
             file \"/run/f\"\n\
             weight -254 reverse\n\
             init_file 5 overwrite\n\
             }\n\
             vrrp_track_file g {\n\
             file /run/g\n\
             init_file\n\
             }\n\
             track_file h {\n\
             weight 255\n\
             init_file x\n\
             }\n",
        );
        assert_eq!(
            codes(&l),
            vec!["deprecated", "missing-file", "out-of-range", "bad-value"],
            "{}",
            l.render()
        );
        assert_eq!(l.diagnostics[0].severity, Severity::Note);
        let f = &l.config.track_files;
        assert_eq!(f[0].file.as_deref(), Some("/run/f"));
        assert_eq!((f[0].weight, f[0].weight_reverse), (-254, true));
        assert_eq!((f[0].init_file, f[0].init_file_overwrite), (Some(5), true));
        assert_eq!((f[1].weight, f[1].init_file), (1, Some(0)));
        assert_eq!(f[2].init_file, None);
    }

    #[test]
    fn track_processes() {
        let l = load(
            "vrrp_track_process p {\n\
             process \"/usr/sbin/a b\" x \"y z\"\n\
             param_match partial\n\
             weight 254 reverse\n\
             quorum 2\n\
             quorum_max 3\n\
             delay 1.5\n\
             fork_delay 0.5\n\
             full_command\n\
             }\n\
             vrrp_track_process q {\n\
             param_match foo\n\
             quorum 5\n\
             quorum_max 2\n\
             delay -1\n\
             }\n",
        );
        assert_eq!(
            codes(&l),
            vec!["missing-process", "bad-value", "bad-value", "out-of-range"],
            "{}",
            l.render()
        );
        let p = &l.config.track_processes[0];
        assert_eq!(p.process, vec!["/usr/sbin/a b", "x", "y z"]);
        assert_eq!(p.param_match, Some(ParamMatch::Partial));
        assert_eq!(
            (p.weight, p.weight_reverse, p.quorum, p.quorum_max),
            (254, true, 2, Some(3))
        );
        assert_eq!(p.terminate_delay, Some(Secs::from_millis(1500)));
        assert_eq!(p.fork_delay, Some(Secs::from_millis(500)));
        assert!(p.full_command);
        let q = &l.config.track_processes[1];
        assert_eq!((q.quorum, q.quorum_max), (5, None));
    }
}
