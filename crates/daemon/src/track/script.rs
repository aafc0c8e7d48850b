//! `vrrp_script`: its rise/fall state, how its command line becomes argv, and how
//! one run is started, timed out (with its whole process group) and reaped.
use super::{feed_up_down, Binding, TrackInputs};
use keepup_vrrp::TrackEffect;
use std::time::Duration;

/// The rise/fall state of one `vrrp_script`, as keepalived 2.2.7 counts it:
/// `result` runs from 0 to rise+fall-1 and the script is OK while `result >= rise`.
/// Before the first run the state is unknown (unless `init_fail`), and the first
/// result decides it at once.
#[derive(Debug, Clone)]
pub struct ScriptState {
    pub(super) rise: u32,
    pub(super) fall: u32,
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
