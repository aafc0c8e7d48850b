//! The one script runner: vrrp_script, MISC_CHECK (and the notifiers' argv) go
//! through it. A script runs in its own process group with stdin/stdout/stderr on
//! /dev/null, as a configured user; at its timeout the whole group is killed, so the
//! children it left behind go too; it is always reaped.
use std::time::Duration;

/// How to run a script (a `vrrp_script`, a `MISC_CHECK`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScriptSpec {
    pub name: String,
    pub argv: Vec<String>,
    /// Run as this uid/gid.
    pub user: Option<(u32, u32)>,
    pub timeout: Duration,
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

/// The uid and gid of `user` (and `group`, else the user's own group).
pub fn resolve_user(user: &str, group: Option<&str>) -> Result<(u32, u32), String> {
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
