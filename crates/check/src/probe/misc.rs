//! MISC_CHECK: a script through the one script runner. Exit 0 passes; 1 fails;
//! with `misc_dynamic`, 2-255 pass and set the weight to status - 2. The scheduler
//! never starts a second run while one is in flight, and a run it cancels at the
//! timeout is dropped here, which kills its whole process group.
use std::time::Duration;

use keepup_config::model::lvs::MiscCheck;
use keepup_sys::script::{self, Outcome, ScriptSpec};

use crate::sched::{FailKind, Verdict};

pub async fn run(m: &MiscCheck, timeout: Duration) -> Verdict {
    let Some(path) = &m.misc_path else {
        return Verdict::fail(FailKind::Setup, "MISC_CHECK has no misc_path");
    };
    let user = match &m.user {
        Some(u) if !u.command.is_empty() || u.user.is_some() => {
            let name = u.user.as_deref().unwrap_or(u.command.as_str());
            match script::resolve_user(name, u.group.as_deref()) {
                Ok(ids) => Some(ids),
                // Its `user` or group does not exist: the configuration's.
                Err(e) => {
                    let reason = format!("cannot run {}: {e}", path.command);
                    return Verdict::fail(FailKind::Setup, reason);
                }
            }
        }
        _ => None,
    };
    let spec = ScriptSpec {
        name: path.command.clone(),
        argv: script::script_argv(&path.command),
        user,
        timeout,
    };
    let started = match script::start_script(&spec) {
        Ok(c) => c,
        Err(e) => {
            let reason = format!("cannot run {}: {e}", path.command);
            return Verdict::fail(FailKind::Script, reason);
        }
    };
    // Dropped with the future (the scheduler's cancel): the group goes too.
    let guard = KillGroup(started.pgid);
    let done = script::wait_script(started, timeout).await;
    std::mem::forget(guard);
    match verdict(&done.outcome, m.misc_dynamic) {
        // What the script said on stderr is the reason an operator reads.
        Verdict::Fail { kind, reason } if !done.stderr.is_empty() => Verdict::Fail {
            kind,
            reason: format!("{reason}: {}", done.stderr),
        },
        v => v,
    }
}

/// Kills a script's process group if its run is dropped before it ended.
struct KillGroup(i32);

impl Drop for KillGroup {
    fn drop(&mut self) {
        script::kill_group(self.0);
    }
}

fn verdict(o: &Outcome, dynamic: bool) -> Verdict {
    match o {
        Outcome::Exited(0) => Verdict::PASS,
        Outcome::Exited(s @ 2..=255) if dynamic => Verdict::Pass {
            weight: u32::try_from(s - 2).ok(),
        },
        // Killed at misc_timeout: the script's own wait ran out.
        Outcome::TimedOut => Verdict::fail(FailKind::Timeout, o.describe()),
        Outcome::Exited(_) | Outcome::Signaled(_) | Outcome::CannotRun(_) => {
            Verdict::fail(FailKind::Script, o.describe())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_statuses_read_as_keepalived_reads_them() {
        assert_eq!(verdict(&Outcome::Exited(0), true), Verdict::PASS);
        assert_eq!(
            verdict(&Outcome::Exited(12), true),
            Verdict::Pass { weight: Some(10) }
        );
        assert_eq!(
            verdict(&Outcome::Exited(12), false),
            Verdict::fail(FailKind::Script, "exited with status 12")
        );
        assert_eq!(
            verdict(&Outcome::Exited(1), true),
            Verdict::fail(FailKind::Script, "exited with status 1")
        );
        assert_eq!(
            verdict(&Outcome::TimedOut, true),
            Verdict::fail(FailKind::Timeout, "timed out")
        );
    }
}
