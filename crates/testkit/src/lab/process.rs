//! Processes the lab started: signalled by PID only, and only while std's `Child`
//! has not reaped them (so a recycled PID is never signalled).
use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, ExitStatus};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

use super::{wait_until, Error, Result};

/// How often waits poll.
pub(crate) const POLL: Duration = Duration::from_millis(10);

/// How long a process gets between SIGTERM and SIGKILL when the lab cleans up.
pub const GRACE: Duration = Duration::from_secs(3);

pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A test that panicked while holding a lock must not stop the cleanup.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// The part of a [`Proc`] the lab keeps too, to end it on drop.
pub(crate) struct Shared {
    pid: u32,
    what: String,
    log: PathBuf,
    child: Mutex<Child>,
}

impl Shared {
    pub(crate) fn new(child: Child, what: String, log: PathBuf) -> Shared {
        Shared {
            pid: child.id(),
            what,
            log,
            child: Mutex::new(child),
        }
    }

    /// Send `sig` if the process has not exited (checked under the lock that reaping
    /// takes, so the PID is still ours). `Ok(false)`: it had exited.
    pub(crate) fn signal(&self, sig: Signal) -> Result<bool> {
        let mut child = lock(&self.child);
        if matches!(child.try_wait(), Ok(Some(_))) {
            return Ok(false);
        }
        kill(pid(self.pid), sig).map_err(|e| Error::Sys {
            what: format!("kill -{sig} {} ({})", self.pid, self.what),
            errno: e,
        })?;
        Ok(true)
    }

    pub(crate) fn try_wait(&self) -> Option<ExitStatus> {
        lock(&self.child).try_wait().ok().flatten()
    }

    pub(crate) fn wait_timeout(&self, timeout: Duration) -> Option<ExitStatus> {
        let mut status = None;
        wait_until(timeout, POLL, || {
            status = self.try_wait();
            status.is_some()
        });
        status
    }

    /// SIGTERM, up to `grace` to exit, then SIGKILL.
    pub(crate) fn terminate(&self, grace: Duration) -> Option<ExitStatus> {
        if let Some(s) = self.try_wait() {
            return Some(s);
        }
        let _ = self.signal(Signal::SIGTERM);
        if let Some(s) = self.wait_timeout(grace) {
            return Some(s);
        }
        let _ = self.signal(Signal::SIGKILL);
        self.wait_timeout(GRACE)
    }
}

fn pid(p: u32) -> Pid {
    Pid::from_raw(i32::try_from(p).unwrap_or(i32::MAX))
}

/// End several processes at once: SIGTERM to all, up to `grace` for all, then SIGKILL.
pub(crate) fn terminate_all(procs: &[Arc<Shared>], grace: Duration) {
    for p in procs {
        let _ = p.signal(Signal::SIGTERM);
    }
    wait_until(grace, POLL, || procs.iter().all(|p| p.try_wait().is_some()));
    for p in procs {
        if p.try_wait().is_none() {
            eprintln!("lab: {} (pid {}) ignored SIGTERM; SIGKILL", p.what, p.pid);
            let _ = p.signal(Signal::SIGKILL);
            p.wait_timeout(GRACE);
        }
    }
}

/// Signal a process that is not our child (found in one of our namespaces). `false`
/// if it is gone.
pub(crate) fn signal_pid(p: u32, sig: Signal) -> bool {
    kill(pid(p), sig).is_ok()
}

/// Whether process `p` exists and is not a zombie (an orphan killed in a container
/// may stay a zombie for a while if PID 1 is slow to reap it).
pub fn alive(p: u32) -> bool {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{p}/stat")) else {
        return false;
    };
    let state = stat
        .rfind(')')
        .and_then(|i| stat[i + 1..].split_whitespace().next());
    !matches!(state, None | Some("Z") | Some("X"))
}

/// The parent PID of `p`, from /proc/P/stat (the field after the command's ')').
fn ppid(p: u32) -> Option<u32> {
    let stat = std::fs::read_to_string(format!("/proc/{p}/stat")).ok()?;
    let after = &stat[stat.rfind(')')? + 1..];
    after.split_whitespace().nth(1)?.parse().ok()
}

/// Every descendant of `root` (children, their children, ...), from /proc.
fn descendants(root: u32) -> Vec<u32> {
    let mut all: Vec<(u32, u32)> = Vec::new();
    if let Ok(dir) = std::fs::read_dir("/proc") {
        for e in dir.flatten() {
            if let Some(p) = e.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) {
                if let Some(pp) = ppid(p) {
                    all.push((p, pp));
                }
            }
        }
    }
    let mut out = vec![];
    let mut frontier = vec![root];
    while let Some(parent) = frontier.pop() {
        for &(p, pp) in &all {
            if pp == parent && !out.contains(&p) {
                out.push(p);
                frontier.push(p);
            }
        }
    }
    out
}

/// A process started in a lab host (`ip netns exec NS PROGRAM ARGS`, which execs, so
/// the PID is the program's). stdout and stderr go to one log file. Dropping the
/// handle ends the process (SIGTERM, then SIGKILL after [`GRACE`]); so does dropping
/// the lab.
pub struct Proc {
    shared: Arc<Shared>,
}

impl Proc {
    pub(crate) fn new(shared: Arc<Shared>) -> Proc {
        Proc { shared }
    }

    pub fn pid(&self) -> u32 {
        self.shared.pid
    }

    /// Send `sig` to the process. `Ok(false)` if it had already exited (nothing sent).
    pub fn kill(&self, sig: Signal) -> Result<bool> {
        self.shared.signal(sig)
    }

    /// Send `sig` to the process and all its descendants at once, as a crash would
    /// end them: the process is stopped first (SIGSTOP) so it can neither respawn a
    /// child nor react to its death, the descendants get `sig`, then the process.
    /// A stopped process that survives `sig` is continued.
    pub fn kill_tree(&self, sig: Signal) -> Result<bool> {
        if !self.shared.signal(Signal::SIGSTOP)? {
            return Ok(false);
        }
        for d in descendants(self.shared.pid) {
            signal_pid(d, Signal::SIGSTOP);
        }
        for d in descendants(self.shared.pid) {
            signal_pid(d, sig);
            signal_pid(d, Signal::SIGCONT);
        }
        self.shared.signal(sig)?;
        self.shared.signal(Signal::SIGCONT)?;
        Ok(true)
    }

    pub fn is_running(&self) -> bool {
        self.shared.try_wait().is_none()
    }

    /// The exit status once it has exited, waiting at most `timeout`.
    pub fn wait_timeout(&self, timeout: Duration) -> Option<ExitStatus> {
        self.shared.wait_timeout(timeout)
    }

    /// SIGTERM, up to `grace` to exit, then SIGKILL. The exit status if it ended.
    pub fn terminate(&self, grace: Duration) -> Option<ExitStatus> {
        self.shared.terminate(grace)
    }

    pub fn log_path(&self) -> &Path {
        &self.shared.log
    }

    /// All the process has written so far (stdout and stderr interleaved).
    pub fn log(&self) -> String {
        read_lossy(&self.shared.log)
    }

    /// Wait until the log contains `needle`; how long that took.
    pub fn wait_for_log(&self, needle: &str, timeout: Duration) -> Result<Duration> {
        wait_for_log_since(&self.shared.log, 0, needle, timeout)
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        self.shared.terminate(GRACE);
    }
}

impl std::fmt::Debug for Proc {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Proc")
            .field("pid", &self.shared.pid)
            .field("what", &self.shared.what)
            .field("log", &self.shared.log)
            .finish()
    }
}

pub(crate) fn read_lossy(path: &Path) -> String {
    std::fs::read(path)
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .unwrap_or_default()
}

/// Wait until the file, from byte `since` on, contains `needle`.
pub(crate) fn wait_for_log_since(
    path: &Path,
    since: usize,
    needle: &str,
    timeout: Duration,
) -> Result<Duration> {
    let found = || {
        let text = read_lossy(path);
        text.get(since..).is_some_and(|t| t.contains(needle))
    };
    wait_until(timeout, Duration::from_millis(20), found).ok_or_else(|| Error::Timeout {
        after: timeout,
        what: format!("{needle:?} in {}", path.display()),
    })
}

/// A log file for a new process: created (truncated) with one handle for stdout and
/// one for stderr, both appending so their lines interleave rather than overwrite.
pub(crate) fn log_files(path: &Path) -> Result<(File, File)> {
    let io = |source| Error::Io {
        what: format!("create {}", path.display()),
        source,
    };
    File::create(path).map_err(io)?;
    let out = File::options().append(true).open(path).map_err(io)?;
    let err = out.try_clone().map_err(io)?;
    Ok((out, err))
}
