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
/// `/bin/sh -c`, or `bash -c` when it uses bash's (see
/// [`keepup_config::parse::scripts::shell_for`]).
pub fn script_argv(command: &str) -> Vec<String> {
    use keepup_config::parse::scripts::{bash_program, shell_for, Shell};
    match shell_for(command) {
        Shell::Sh => return vec!["/bin/sh".into(), "-c".into(), command.into()],
        Shell::Bash(_) => return vec![bash_program(), "-c".into(), command.into()],
        Shell::None => {}
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

/// A started script: the child, its process group, and the file its stderr goes to.
#[derive(Debug)]
pub struct Started {
    pub child: tokio::process::Child,
    pub pgid: i32,
    /// An anonymous file (memfd): a script that writes much never blocks on it, and
    /// what it wrote is read after it ends (None where memfd is not available).
    stderr: Option<std::fs::File>,
}

/// How much of a script's stderr is kept for the log.
const STDERR_KEPT: usize = 512;

/// Start a script in its own process group (whose id is the child's pid).
pub fn start_script(spec: &ScriptSpec) -> Result<Started, String> {
    let Some((prog, args)) = spec.argv.split_first() else {
        return Err("empty script".into());
    };
    let stderr = nix::sys::memfd::memfd_create(
        c"keepup-script-stderr",
        nix::sys::memfd::MFdFlags::MFD_CLOEXEC,
    )
    .ok()
    .map(std::fs::File::from);
    let child_stderr = match stderr.as_ref().map(std::fs::File::try_clone) {
        Some(Ok(f)) => std::process::Stdio::from(f),
        _ => std::process::Stdio::null(),
    };
    let mut cmd = tokio::process::Command::new(prog);
    cmd.args(args)
        .process_group(0)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(child_stderr)
        .kill_on_drop(true);
    if let Some((uid, gid)) = spec.user {
        cmd.uid(uid).gid(gid);
    }
    let child = cmd.spawn().map_err(|e| {
        if *prog == keepup_config::parse::scripts::bash_program()
            && e.kind() == std::io::ErrorKind::NotFound
        {
            "the line uses bash syntax, and bash is not installed".to_string()
        } else {
            format!("{prog}: {e}")
        }
    })?;
    let pgid = child
        .id()
        .and_then(|p| i32::try_from(p).ok())
        .ok_or("no pid")?;
    Ok(Started {
        child,
        pgid,
        stderr,
    })
}

impl Started {
    /// What the script wrote to stderr (its start, as one line), once it has ended.
    fn stderr_text(&mut self) -> String {
        use std::io::{Read as _, Seek as _};
        let Some(f) = self.stderr.as_mut() else {
            return String::new();
        };
        let mut buf = vec![0; STDERR_KEPT];
        let n = f
            .seek(std::io::SeekFrom::Start(0))
            .and_then(|_| f.read(&mut buf))
            .unwrap_or(0);
        buf.truncate(n);
        String::from_utf8_lossy(&buf)
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
    }
}

/// Kill a script's whole process group, so children it left behind go too.
pub fn kill_group(pgid: i32) {
    let _ = nix::sys::signal::killpg(
        nix::unistd::Pid::from_raw(pgid),
        nix::sys::signal::Signal::SIGKILL,
    );
}

/// How a run ended, with the start of what the script wrote to stderr (empty when
/// nothing).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finished {
    pub outcome: Outcome,
    pub stderr: String,
}

/// Wait for a started script; at the timeout its whole group is killed (SIGKILL).
pub async fn wait_script(mut s: Started, timeout: Duration) -> Finished {
    use std::os::unix::process::ExitStatusExt;
    let outcome = match tokio::time::timeout(timeout, s.child.wait()).await {
        Ok(Ok(status)) => match (status.code(), status.signal()) {
            (Some(c), _) => Outcome::Exited(c),
            (None, Some(sig)) => Outcome::Signaled(sig),
            (None, None) => Outcome::CannotRun("no exit status".into()),
        },
        Ok(Err(e)) => Outcome::CannotRun(e.to_string()),
        Err(_) => {
            kill_group(s.pgid);
            let _ = s.child.wait().await;
            Outcome::TimedOut
        }
    };
    Finished {
        outcome,
        stderr: s.stderr_text(),
    }
}
