//! Trackers in the running daemon: `vrrp_script` (run, time out, rise/fall),
//! `track_interface` (netlink link state) and `track_file` (an integer read from a
//! file) and `vrrp_track_process` (matching processes counted, see `process`). Each (tracker, instance) pair has its own tracker id; the driver feeds
//! `Input::Track` whenever that pair's effect changes, and the engine keeps the
//! latest effect per id.
//!
//! The state machine and the weight rules are pure (unit-tested below); running a
//! script is one async function the driver spawns.
use crate::plan::Plan;
use keepup_config::model::vrrp::TrackRef;
use keepup_config::model::Config;
use keepup_vrrp::{InstanceId, TrackEffect};
use std::time::Duration;

mod process;
pub use process::ProcessTracker;

/// keepalived's contribution rule for a tracker that is either up (script OK,
/// interface up) or down, tracked with `weight` and `reverse`:
/// weight 0 puts the instance in FAULT while down (while up with `reverse`); a
/// positive weight is added while up, a negative one while down; `reverse` negates
/// the adjustment (keepalived's weight multiplier -1).
pub fn up_down_effect(up: bool, weight: i32, reverse: bool) -> TrackEffect {
    if weight == 0 {
        return TrackEffect::Fault(up == reverse);
    }
    let m = if reverse { -1 } else { 1 };
    let w = match (up, weight > 0) {
        (true, true) | (false, false) => weight * m,
        _ => 0,
    };
    TrackEffect::Weight(w)
}

/// keepalived's rule for a tracked file holding `value`: with weight 0, a non-zero
/// value is a failure (FAULT); otherwise value × weight (negated by `reverse`) is
/// added to the priority, and a result below -253 means FAULT.
pub fn file_effect(value: i64, weight: i32, reverse: bool) -> TrackEffect {
    if weight == 0 {
        return TrackEffect::Fault((value != 0) != reverse);
    }
    let m: i64 = if reverse { -1 } else { 1 };
    let p = value.saturating_mul(i64::from(weight)).saturating_mul(m);
    if p < -253 {
        TrackEffect::Fault(true)
    } else {
        TrackEffect::Weight(i32::try_from(p.min(254)).unwrap_or(254))
    }
}

/// The integer a tracked file holds, read as keepalived does (a leading decimal
/// number, optionally signed; anything else, or no file, is 0).
pub fn parse_file_value(text: &str) -> i64 {
    let t = text.trim_start();
    let (neg, digits) = match t.as_bytes().first() {
        Some(b'-') => (true, &t[1..]),
        Some(b'+') => (false, &t[1..]),
        _ => (false, t),
    };
    let end = digits
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(digits.len());
    let v: i64 = digits[..end].parse().unwrap_or(0);
    if neg {
        -v
    } else {
        v
    }
}

/// The rise/fall state of one `vrrp_script`, as keepalived 2.2.7 counts it:
/// `result` runs from 0 to rise+fall-1 and the script is OK while `result >= rise`.
/// Before the first run the state is unknown (unless `init_fail`), and the first
/// result decides it at once.
#[derive(Debug, Clone)]
pub struct ScriptState {
    rise: u32,
    fall: u32,
    result: u32,
    /// No run has finished yet and `init_fail` was not given.
    unknown: bool,
}

impl ScriptState {
    pub fn new(rise: u32, fall: u32, init_fail: bool) -> ScriptState {
        let rise = rise.max(1);
        let fall = fall.max(1);
        ScriptState {
            rise,
            fall,
            result: if init_fail { 0 } else { rise - 1 },
            unknown: !init_fail,
        }
    }

    /// The same verdict under new `rise`/`fall` (a reload changed them): known OK
    /// counts as fully risen, known failed as fully fallen.
    pub fn carried(&self, rise: u32, fall: u32) -> ScriptState {
        let mut s = ScriptState::new(rise, fall, false);
        if let Some(ok) = self.ok() {
            s.unknown = false;
            s.result = if ok { s.rise + s.fall - 1 } else { 0 };
        }
        s
    }

    /// `Some(true)` OK, `Some(false)` failed, `None` not known yet.
    pub fn ok(&self) -> Option<bool> {
        (!self.unknown).then_some(self.result >= self.rise)
    }

    /// One run's outcome; `Some(new state)` when the state changed (or became known).
    pub fn record(&mut self, success: bool) -> Option<bool> {
        let before = self.ok();
        let top = self.rise + self.fall - 1;
        if success {
            if self.result < self.rise - 1 {
                self.result += 1;
            } else {
                self.result = top;
            }
        } else if self.result > self.rise && !self.unknown {
            self.result -= 1;
        } else {
            self.result = 0;
        }
        self.unknown = false;
        let after = self.ok();
        (after != before).then_some(after == Some(true))
    }
}

/// One (tracker, instance) pair.
#[derive(Debug, Clone)]
pub struct Binding {
    pub instance: InstanceId,
    pub tracker: u32,
    pub weight: i32,
    pub reverse: bool,
    /// What was last fed to the engine.
    pub last: Option<TrackEffect>,
}

impl Binding {
    /// A `track_*` line's binding: its own `weight [reverse]` overrides the tracked
    /// object's (`default`); `weights` false (a sync-group member's own line without
    /// `sync_group_tracking_weight`) makes it weight 0, i.e. FAULT on failure.
    fn new(
        instance: InstanceId,
        next_id: &mut u32,
        r: &TrackRef,
        default: (i32, bool),
        weights: bool,
    ) -> Binding {
        let (weight, reverse) = match r.weight {
            Some(w) => (w, r.reverse),
            None => (default.0, default.1 || r.reverse),
        };
        let tracker = *next_id;
        *next_id += 1;
        Binding {
            instance,
            tracker,
            weight: if weights { weight } else { 0 },
            reverse,
            last: None,
        }
    }
}

impl Binding {
    /// The input to feed if `effect` differs from what the engine has.
    fn update(&mut self, effect: TrackEffect) -> Option<(InstanceId, u32, TrackEffect)> {
        if self.last == Some(effect) {
            return None;
        }
        self.last = Some(effect);
        Some((self.instance, self.tracker, effect))
    }
}

/// The inputs for the engine: (instance, tracker id, effect).
pub type TrackInputs = Vec<(InstanceId, u32, TrackEffect)>;

/// How to run a `vrrp_script`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScriptSpec {
    pub name: String,
    pub argv: Vec<String>,
    /// Run as this uid/gid.
    pub user: Option<(u32, u32)>,
    pub timeout: Duration,
}

#[derive(Debug)]
pub struct ScriptTracker {
    pub spec: std::sync::Arc<ScriptSpec>,
    pub interval: Duration,
    pub state: ScriptState,
    pub bindings: Vec<Binding>,
    /// The process group of the run in progress.
    pub running: Option<i32>,
    pub next_run: tokio::time::Instant,
    /// The last exit status, for "now returning N".
    pub last_status: Option<i32>,
}

impl ScriptTracker {
    /// Record a finished run; the inputs to feed.
    pub fn finished(&mut self, success: bool) -> TrackInputs {
        match self.state.record(success) {
            Some(up) => feed_up_down(&mut self.bindings, up),
            None => Vec::new(),
        }
    }

    /// The effects before any run: known with `init_fail`; otherwise a weight-0
    /// binding is pending, so its instance waits in INIT for the first result (as
    /// keepalived does) rather than taking the VIP on an unchecked service.
    pub fn initial(&mut self) -> TrackInputs {
        match self.state.ok() {
            Some(up) => feed_up_down(&mut self.bindings, up),
            None => self
                .bindings
                .iter_mut()
                .filter(|b| b.weight == 0)
                .filter_map(|b| b.update(TrackEffect::Pending))
                .collect(),
        }
    }
}

/// Each binding's effect of an up/down tracker, for those whose effect changed.
fn feed_up_down(bindings: &mut [Binding], up: bool) -> TrackInputs {
    bindings
        .iter_mut()
        .filter_map(|b| b.update(up_down_effect(up, b.weight, b.reverse)))
        .collect()
}

#[derive(Debug)]
pub struct InterfaceTracker {
    pub name: String,
    pub ifindex: Option<u32>,
    /// As last seen (`None`: not yet).
    pub up: Option<bool>,
    pub bindings: Vec<Binding>,
}

impl InterfaceTracker {
    pub fn set(&mut self, up: bool) -> TrackInputs {
        self.up = Some(up);
        feed_up_down(&mut self.bindings, up)
    }
}

#[derive(Debug)]
pub struct FileTracker {
    pub name: String,
    pub path: std::path::PathBuf,
    /// As last read (`None`: not yet).
    pub value: Option<i64>,
    pub bindings: Vec<Binding>,
}

impl FileTracker {
    pub fn set(&mut self, value: i64) -> TrackInputs {
        self.value = Some(value);
        self.bindings
            .iter_mut()
            .filter_map(|b| b.update(file_effect(value, b.weight, b.reverse)))
            .collect()
    }

    /// Read the file now (missing or unreadable: 0).
    pub fn read(&self) -> i64 {
        std::fs::read_to_string(&self.path)
            .map(|t| parse_file_value(&t))
            .unwrap_or(0)
    }
}

/// Every tracker of a configuration.
#[derive(Debug, Default)]
pub struct Trackers {
    pub scripts: Vec<ScriptTracker>,
    pub interfaces: Vec<InterfaceTracker>,
    pub files: Vec<FileTracker>,
    pub processes: Vec<ProcessTracker>,
    /// The next unused tracker id (ids are never reused, so a reload can tell the
    /// engine to forget the old ones).
    pub next_id: u32,
}

/// Split a script line into argv the way keepalived does (words, with single and
/// double quotes and backslash escapes); a line with shell syntax runs under
/// `/bin/sh -c`.
pub fn script_argv(command: &str) -> Vec<String> {
    const SHELL: &[&str] = &[
        "&&", "||", ";", "|", ">", "<", "$", "`", "[", "*", "?", "~", "(", ")", "&",
    ];
    if SHELL.iter().any(|s| command.contains(s)) {
        return vec!["/bin/sh".into(), "-c".into(), command.into()];
    }
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut in_word = false;
    let mut quote: Option<char> = None;
    let mut chars = command.chars();
    while let Some(c) = chars.next() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some('"'), '\\') | (None, '\\') => {
                if let Some(n) = chars.next() {
                    cur.push(n);
                }
                in_word = true;
            }
            (Some(_), c) => cur.push(c),
            (None, '\'' | '"') => {
                quote = Some(c);
                in_word = true;
            }
            (None, c) if c.is_whitespace() => {
                if in_word {
                    out.push(std::mem::take(&mut cur));
                    in_word = false;
                }
            }
            (None, c) => {
                cur.push(c);
                in_word = true;
            }
        }
    }
    if in_word {
        out.push(cur);
    }
    out
}

pub(crate) fn resolve_user(user: &str, group: Option<&str>) -> Result<(u32, u32), String> {
    let u = nix::unistd::User::from_name(user)
        .map_err(|e| format!("user {user}: {e}"))?
        .ok_or_else(|| format!("no user {user}"))?;
    let gid = match group {
        Some(g) => {
            nix::unistd::Group::from_name(g)
                .map_err(|e| format!("group {g}: {e}"))?
                .ok_or_else(|| format!("no group {g}"))?
                .gid
        }
        None => u.gid,
    };
    Ok((u.uid.as_raw(), gid.as_raw()))
}

impl Trackers {
    /// The trackers that `cfg`'s instances (and their sync groups) name, for the
    /// instances of `plan`. Problems (an unknown user) are returned to be logged;
    /// the tracker is then left out.
    pub fn from_config(cfg: &Config, plan: &Plan, first_id: u32) -> (Trackers, Vec<String>) {
        let mut t = Trackers::default();
        let mut problems = Vec::new();
        let mut next_id = first_id;
        let now = tokio::time::Instant::now();
        for (i, ic) in plan.instances.iter().enumerate() {
            let Some(vi) = cfg.vrrp_instances.iter().find(|v| v.name == ic.name) else {
                continue;
            };
            let group = cfg
                .vrrp_sync_groups
                .iter()
                .find(|g| g.group.iter().any(|m| m.name == vi.name));
            // keepalived sets a member's own tracking weights to 0 (FAULT on
            // failure) unless the group says sync_group_tracking_weight.
            let own_weights = group.is_none_or(|g| g.sync_group_tracking_weight);
            let refs =
                |own: &[TrackRef],
                 grp: fn(&keepup_config::model::vrrp::SyncGroup) -> &[TrackRef]| {
                    let mut v: Vec<(TrackRef, bool)> =
                        own.iter().map(|r| (r.clone(), own_weights)).collect();
                    if let Some(g) = group {
                        v.extend(grp(g).iter().map(|r| (r.clone(), true)));
                    }
                    v
                };
            let id = InstanceId(i);
            for (r, weights) in refs(&vi.track_script, |g| &g.track_script) {
                let Some(s) = cfg.vrrp_scripts.iter().find(|s| s.name == r.name) else {
                    continue;
                };
                let Some(script) = &s.script else {
                    continue;
                };
                let b = Binding::new(id, &mut next_id, &r, (s.weight, s.weight_reverse), weights);
                if let Some(st) = t.scripts.iter_mut().find(|x| x.spec.name == s.name) {
                    st.bindings.push(b);
                    continue;
                }
                // keepalived's choice of user: the script's own, else script_user,
                // else keepalived_script if that user exists, else root.
                let group = if script.user.is_some() {
                    script.group.as_deref()
                } else {
                    cfg.global_defs
                        .script_user
                        .as_ref()
                        .and_then(|u| u.group.as_deref())
                };
                let user = match resolve_user(&keepup_config::script_user(script, cfg), group) {
                    Ok(u) => u,
                    Err(e) => {
                        problems.push(format!("VRRP_Script({}) cannot run: {e}", s.name));
                        continue;
                    }
                };
                let interval = Duration::from_micros(s.interval.micros).max(Duration::from_secs(1));
                let timeout = s
                    .timeout
                    .map(|x| Duration::from_micros(x.micros))
                    .unwrap_or(interval);
                t.scripts.push(ScriptTracker {
                    spec: std::sync::Arc::new(ScriptSpec {
                        name: s.name.clone(),
                        argv: script_argv(&script.command),
                        user: Some(user).filter(|&ids| ids != (0, 0)),
                        timeout,
                    }),
                    interval,
                    state: ScriptState::new(s.rise, s.fall, s.init_fail),
                    bindings: vec![b],
                    running: None,
                    next_run: now,
                    last_status: None,
                });
            }
            for (r, weights) in refs(&vi.track_interface, |g| &g.track_interface) {
                let b = Binding {
                    instance: id,
                    tracker: next_id,
                    weight: if weights { r.weight.unwrap_or(0) } else { 0 },
                    reverse: r.reverse,
                    last: None,
                };
                next_id += 1;
                match t.interfaces.iter_mut().find(|x| x.name == r.name) {
                    Some(x) => x.bindings.push(b),
                    None => t.interfaces.push(InterfaceTracker {
                        name: r.name.clone(),
                        ifindex: None,
                        up: None,
                        bindings: vec![b],
                    }),
                }
            }
            for (r, weights) in refs(&vi.track_file, |g| &g.track_file) {
                let Some(f) = cfg.track_files.iter().find(|f| f.name == r.name) else {
                    continue;
                };
                let Some(path) = &f.file else {
                    continue;
                };
                let b = Binding::new(id, &mut next_id, &r, (f.weight, f.weight_reverse), weights);
                match t.files.iter_mut().find(|x| x.name == f.name) {
                    Some(x) => x.bindings.push(b),
                    None => {
                        if let Some(v) = f.init_file {
                            let p = std::path::Path::new(path);
                            if f.init_file_overwrite || !p.exists() {
                                if let Err(e) = std::fs::write(p, format!("{v}\n")) {
                                    problems.push(format!(
                                        "track_file {}: cannot write {path}: {e}",
                                        f.name
                                    ));
                                }
                            }
                        }
                        t.files.push(FileTracker {
                            name: f.name.clone(),
                            path: path.into(),
                            value: None,
                            bindings: vec![b],
                        });
                    }
                }
            }
            for (r, weights) in refs(&vi.track_process, |g| &g.track_process) {
                let Some(p) = cfg.track_processes.iter().find(|p| p.name == r.name) else {
                    continue;
                };
                let Some(matcher) = process::ProcessMatch::new(p) else {
                    continue;
                };
                let b = Binding::new(id, &mut next_id, &r, (p.weight, p.weight_reverse), weights);
                match t.processes.iter_mut().find(|x| x.name == p.name) {
                    Some(x) => x.bindings.push(b),
                    None => t.processes.push(ProcessTracker::new(p, matcher, b)),
                }
            }
        }
        t.next_id = next_id;
        (t, problems)
    }

    /// Every (tracker, instance) binding.
    pub fn bindings(&self) -> impl Iterator<Item = &Binding> {
        self.scripts
            .iter()
            .flat_map(|x| &x.bindings)
            .chain(self.interfaces.iter().flat_map(|x| &x.bindings))
            .chain(self.files.iter().flat_map(|x| &x.bindings))
            .chain(self.processes.iter().flat_map(|x| &x.bindings))
    }

    /// Reload: take over the running state of every script that runs the same
    /// command as the same user under the same name (its timing may have changed), so
    /// a reload neither forgets a failed check nor starts a second copy of one in
    /// progress. Returns the process groups of runs whose script is gone or
    /// changed, to be killed.
    pub fn adopt(&mut self, old: Trackers) -> Vec<i32> {
        let mut orphans = Vec::new();
        for o in old.scripts {
            let same = self.scripts.iter_mut().find(|n| {
                (&n.spec.name, &n.spec.argv, n.spec.user)
                    == (&o.spec.name, &o.spec.argv, o.spec.user)
            });
            match same {
                Some(n) => {
                    n.state = o.state.carried(n.state.rise, n.state.fall);
                    n.running = o.running;
                    n.next_run = o.next_run;
                    n.last_status = o.last_status;
                }
                None => orphans.extend(o.running.filter(|p| *p > 0)),
            }
        }
        orphans
    }

    /// When the next script is due (none while every script is running).
    pub fn next_due(&self) -> Option<tokio::time::Instant> {
        self.scripts
            .iter()
            .filter(|s| s.running.is_none())
            .map(|s| s.next_run)
            .min()
    }
}

/// How one run of a script ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Exited(i32),
    Signaled(i32),
    /// Killed (with its whole process group) at the timeout.
    TimedOut,
    CannotRun(String),
}

impl Outcome {
    pub fn success(&self) -> bool {
        *self == Outcome::Exited(0)
    }

    /// keepalived's "exited with status N" / "due to signal N" wording.
    pub fn describe(&self) -> String {
        match self {
            Outcome::Exited(n) => format!("exited with status {n}"),
            Outcome::Signaled(n) => format!("due to signal {n}"),
            Outcome::TimedOut => "timed out".into(),
            Outcome::CannotRun(e) => format!("cannot run: {e}"),
        }
    }
}

/// Start a script in its own process group (whose id is the child's pid).
pub fn start_script(spec: &ScriptSpec) -> Result<(tokio::process::Child, i32), String> {
    let Some((prog, args)) = spec.argv.split_first() else {
        return Err("empty script".into());
    };
    let mut cmd = tokio::process::Command::new(prog);
    cmd.args(args)
        .process_group(0)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true);
    if let Some((uid, gid)) = spec.user {
        cmd.uid(uid).gid(gid);
    }
    let child = cmd.spawn().map_err(|e| format!("{prog}: {e}"))?;
    let pgid = child
        .id()
        .and_then(|p| i32::try_from(p).ok())
        .ok_or("no pid")?;
    Ok((child, pgid))
}

/// Kill a script's whole process group, so children it left behind go too.
pub fn kill_group(pgid: i32) {
    let _ = nix::sys::signal::killpg(
        nix::unistd::Pid::from_raw(pgid),
        nix::sys::signal::Signal::SIGKILL,
    );
}

/// Wait for a started script; at the timeout its whole group is killed (SIGKILL).
pub async fn wait_script(
    mut child: tokio::process::Child,
    pgid: i32,
    timeout: Duration,
) -> Outcome {
    use std::os::unix::process::ExitStatusExt;
    match tokio::time::timeout(timeout, child.wait()).await {
        Ok(Ok(status)) => match (status.code(), status.signal()) {
            (Some(c), _) => Outcome::Exited(c),
            (None, Some(s)) => Outcome::Signaled(s),
            (None, None) => Outcome::CannotRun("no exit status".into()),
        },
        Ok(Err(e)) => Outcome::CannotRun(e.to_string()),
        Err(_) => {
            kill_group(pgid);
            let _ = child.wait().await;
            Outcome::TimedOut
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use TrackEffect::{Fault, Weight};

    /// Feed results; the states after each.
    fn run(s: &mut ScriptState, results: &[bool]) -> Vec<Option<bool>> {
        results
            .iter()
            .map(|&r| {
                s.record(r);
                s.ok()
            })
            .collect()
    }

    #[test]
    fn first_result_decides_at_once() {
        let mut s = ScriptState::new(3, 3, false);
        assert_eq!(s.ok(), None);
        assert_eq!(s.record(false), Some(false));
        let mut s = ScriptState::new(3, 3, false);
        assert_eq!(s.record(true), Some(true));
    }

    #[test]
    fn fall_failures_to_fail_rise_successes_to_recover() {
        let mut s = ScriptState::new(2, 3, false);
        s.record(true);
        assert_eq!(
            run(&mut s, &[false, false, true, false, false, false]),
            [
                Some(true),
                Some(true),
                Some(true),
                Some(true),
                Some(true),
                Some(false)
            ],
            "a success resets the fall count"
        );
        assert_eq!(
            run(&mut s, &[true, false, true, true]),
            [Some(false), Some(false), Some(false), Some(true)],
            "a failure resets the rise count"
        );
    }

    #[test]
    fn init_fail_starts_failed_and_needs_rise() {
        let mut s = ScriptState::new(2, 1, true);
        assert_eq!(s.ok(), Some(false));
        assert_eq!(s.record(true), None);
        assert_eq!(s.record(true), Some(true));
        assert_eq!(s.record(false), Some(false));
    }

    #[test]
    fn weights_as_the_man_page_says() {
        // Positive: added while up. Negative: subtracted while down.
        assert_eq!(up_down_effect(true, 10, false), Weight(10));
        assert_eq!(up_down_effect(false, 10, false), Weight(0));
        assert_eq!(up_down_effect(true, -60, false), Weight(0));
        assert_eq!(up_down_effect(false, -60, false), Weight(-60));
        // Reverse: decreased when up, increased when down.
        assert_eq!(up_down_effect(true, 10, true), Weight(-10));
        assert_eq!(up_down_effect(false, 10, true), Weight(0));
        assert_eq!(up_down_effect(true, -60, true), Weight(0));
        assert_eq!(up_down_effect(false, -60, true), Weight(60));
        // Weight 0: FAULT while down; with reverse, while up.
        assert_eq!(up_down_effect(false, 0, false), Fault(true));
        assert_eq!(up_down_effect(true, 0, false), Fault(false));
        assert_eq!(up_down_effect(true, 0, true), Fault(true));
    }

    #[test]
    fn file_values() {
        assert_eq!(file_effect(0, 0, false), Fault(false));
        assert_eq!(file_effect(3, 0, false), Fault(true));
        assert_eq!(file_effect(3, 10, false), Weight(30));
        assert_eq!(file_effect(3, 10, true), Weight(-30));
        assert_eq!(file_effect(-30, 10, false), Fault(true));
        assert_eq!(parse_file_value(" -12abc\n"), -12);
        assert_eq!(parse_file_value("x"), 0);
        assert_eq!(parse_file_value(""), 0);
    }

    #[test]
    fn tracker_feeds_only_changes() {
        let mut t = ScriptTracker {
            spec: std::sync::Arc::new(ScriptSpec {
                name: "chk".into(),
                argv: vec![],
                user: None,
                timeout: Duration::from_secs(1),
            }),
            interval: Duration::from_secs(1),
            state: ScriptState::new(2, 2, false),
            bindings: vec![
                Binding {
                    instance: InstanceId(0),
                    tracker: 0,
                    weight: -60,
                    reverse: false,
                    last: None,
                },
                Binding {
                    instance: InstanceId(1),
                    tracker: 1,
                    weight: 0,
                    reverse: false,
                    last: None,
                },
            ],
            running: None,
            next_run: tokio::time::Instant::now(),
            last_status: None,
        };
        assert_eq!(
            t.initial(),
            [(InstanceId(1), 1, TrackEffect::Pending)],
            "a weight-0 binding waits for the first result"
        );
        assert_eq!(
            t.finished(true),
            [
                (InstanceId(0), 0, Weight(0)),
                (InstanceId(1), 1, Fault(false))
            ]
        );
        assert!(t.finished(true).is_empty());
        assert!(
            t.finished(false).is_empty(),
            "fall 2: one failure is not enough"
        );
        assert_eq!(
            t.finished(false),
            [
                (InstanceId(0), 0, Weight(-60)),
                (InstanceId(1), 1, Fault(true))
            ]
        );
    }

    #[test]
    fn argv_like_keepalived() {
        assert_eq!(
            script_argv("/bin/sh -c 'test ! -e /tmp/x'"),
            ["/bin/sh", "-c", "test ! -e /tmp/x"]
        );
        assert_eq!(script_argv("killall -0 nginx"), ["killall", "-0", "nginx"]);
        assert_eq!(
            script_argv("pidof nginx && true"),
            ["/bin/sh", "-c", "pidof nginx && true"]
        );
        assert_eq!(script_argv(r#"a "b c" d\ e"#), ["a", "b c", "d e"]);
    }

    fn load(text: &str) -> (Config, Plan) {
        let opts = keepup_config::LoadOptions {
            interfaces: None,
            check_scripts: false,
            ..keepup_config::LoadOptions::for_this_host()
        };
        let cfg = keepup_config::load_str("test.conf", text, &opts).config;
        let plan = crate::plan::plan(&cfg, &|n| (n == "eth0").then_some(2)).unwrap();
        (cfg, plan)
    }

    /// A sync group's track_script reaches every member with its weight; a member's
    /// own weighted script counts as weight 0 (FAULT) unless
    /// sync_group_tracking_weight; every (tracker, instance) pair has its own id.
    #[test]
    fn sync_group_tracking_and_ids() {
        let (cfg, plan) = load(
            "vrrp_script a {\n script /bin/true\n weight -20\n}\nvrrp_script b {\n script \"/bin/false x\"\n weight 5 reverse\n fall 3\n}\ntrack_file f {\n file /nonexistent/keepup-f\n weight 3\n}\nvrrp_sync_group G {\n group {\n  VI_1\n  VI_2\n }\n track_script {\n  a\n }\n track_file {\n  f weight -2\n }\n}\nvrrp_instance VI_1 {\n interface eth0\n virtual_router_id 1\n priority 100\n virtual_ipaddress {\n  10.0.0.1\n }\n track_script {\n  b\n }\n}\nvrrp_instance VI_2 {\n interface eth0\n virtual_router_id 2\n priority 100\n virtual_ipaddress {\n  10.0.0.2\n }\n track_interface {\n  eth1 weight 10\n }\n}\n",
        );
        let (t, problems) = Trackers::from_config(&cfg, &plan, 0);
        assert!(problems.is_empty(), "{problems:?}");
        let a = t.scripts.iter().find(|s| s.spec.name == "a").unwrap();
        let b = t.scripts.iter().find(|s| s.spec.name == "b").unwrap();
        let w = |bs: &[Binding]| -> Vec<(usize, i32, bool)> {
            bs.iter()
                .map(|x| (x.instance.0, x.weight, x.reverse))
                .collect()
        };
        assert_eq!(w(&a.bindings), [(0, -20, false), (1, -20, false)]);
        assert_eq!(w(&b.bindings), [(0, 0, true)], "member weight zeroed");
        assert_eq!(b.spec.argv, ["/bin/false", "x"]);
        assert_eq!(b.spec.timeout, Duration::from_secs(1), "timeout = interval");
        assert_eq!(w(&t.interfaces[0].bindings), [(1, 0, false)]);
        assert_eq!(w(&t.files[0].bindings), [(0, -2, false), (1, -2, false)]);
        assert_eq!(t.files[0].read(), 0, "a missing file reads 0");
        let mut ids: Vec<u32> = t.bindings().map(|x| x.tracker).collect();
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), 6);
        assert_eq!(t.next_id, 6);
    }

    /// A reload keeps what unchanged scripts know (and their run in progress) under
    /// new tracker ids; a changed command starts unknown and its run is returned to
    /// be killed.
    #[test]
    fn reload_adopts_unchanged_scripts() {
        let text = |b: &str, rise: u32| {
            format!("vrrp_script a {{\n script /bin/true\n rise {rise}\n}}\nvrrp_script b {{\n script \"{b}\"\n}}\nvrrp_instance VI_1 {{\n interface eth0\n virtual_router_id 1\n priority 100\n virtual_ipaddress {{\n  10.0.0.1\n }}\n track_script {{\n  a\n  b\n }}\n}}\n")
        };
        let (cfg, plan) = load(&text("/bin/false", 2));
        let (mut old, _) = Trackers::from_config(&cfg, &plan, 0);
        for s in &mut old.scripts {
            s.state.record(false);
            s.running = Some(4242);
        }
        let (cfg, plan) = load(&text("/bin/false x", 3));
        let (mut new, _) = Trackers::from_config(&cfg, &plan, old.next_id);
        assert!(
            new.bindings().all(|b| b.tracker >= 2),
            "ids are never reused"
        );
        let orphans = new.adopt(old);
        let a = &new.scripts[0];
        assert_eq!((a.state.ok(), a.running), (Some(false), Some(4242)));
        assert_eq!(a.state.rise, 3);
        let b = &new.scripts[1];
        assert_eq!((b.state.ok(), b.running), (None, None));
        assert_eq!(orphans, [4242]);
    }

    #[test]
    fn carried_state_keeps_the_verdict() {
        let mut s = ScriptState::new(2, 2, false);
        assert_eq!(s.carried(5, 5).ok(), None);
        s.record(true);
        let c = s.carried(5, 5);
        assert_eq!(c.ok(), Some(true));
        let mut c2 = c.clone();
        for _ in 0..4 {
            assert_eq!(c2.record(false), None, "fall 5 needs 5 failures");
        }
        assert_eq!(c2.record(false), Some(false));
        s.record(false);
        s.record(false);
        assert_eq!(s.carried(1, 1).ok(), Some(false));
    }
}
