//! systemd's service protocol (`Type=notify`, sd_notify(3)), when `NOTIFY_SOCKET` says
//! systemd listens:
//!
//! - `READY=1` once every VRRP instance has its first state (the start's own work is
//!   done: stale addresses removed, trackers read, the checkers started);
//! - `STATUS=` with the instances' states (`MASTER: VI_1; BACKUP: VI_2`), again at each
//!   change;
//! - `RELOADING=1` (with `MONOTONIC_USEC`) when a reload starts, `READY=1` when it is
//!   done, `STOPPING=1` at stop;
//! - `WATCHDOG=1` every half `WatchdogSec` from the VRRP loop, and only while the
//!   checker side's loop has beaten its [`Heartbeat`] within `WatchdogSec`: either
//!   loop stuck, the pings stop and systemd restarts the daemon.
//!
//! The messages are sent from a thread of their own: a datagram to a systemd that does
//! not read (its queue full) blocks the sender, and that must never be the VRRP loop. A
//! message that finds that thread's short queue full is dropped.
//!
//! Scripts keepup runs inherit `NOTIFY_SOCKET`; the unit's `NotifyAccess=main` keeps
//! their messages from counting.
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{sync_channel, SyncSender, TrySendError};
use std::sync::Arc;
use std::time::{Duration, Instant};

use sd_notify::NotifyState;
use tracing::{debug, warn};

/// The STATUS= line names at most this many instances per state.
const STATUS_NAMES: usize = 8;

/// Messages waiting for the sending thread.
const QUEUE: usize = 16;

/// How long the end of the daemon waits for its last messages (STOPPING=1) to go.
const FLUSH: Duration = Duration::from_secs(1);

/// One message, owned, for the sending thread.
enum Message {
    Ready(String),
    Status(String),
    Reloading,
    Stopping,
    Watchdog,
}

impl Message {
    fn send(&self) -> std::io::Result<()> {
        match self {
            Message::Ready(s) => {
                sd_notify::notify(false, &[NotifyState::Ready, NotifyState::Status(s)])
            }
            Message::Status(s) => sd_notify::notify(false, &[NotifyState::Status(s)]),
            Message::Reloading => match NotifyState::monotonic_usec_now() {
                Ok(now) => sd_notify::notify(false, &[NotifyState::Reloading, now]),
                Err(_) => sd_notify::notify(false, &[NotifyState::Reloading]),
            },
            Message::Stopping => sd_notify::notify(false, &[NotifyState::Stopping]),
            Message::Watchdog => sd_notify::notify(false, &[NotifyState::Watchdog]),
        }
    }
}

/// When a loop last went round: written by the checker side, read by the VRRP side.
#[derive(Debug)]
pub struct Heartbeat {
    base: Instant,
    /// Milliseconds since `base` of the last beat.
    last: AtomicU64,
}

impl Heartbeat {
    pub fn new() -> Heartbeat {
        Heartbeat {
            base: Instant::now(),
            last: AtomicU64::new(0),
        }
    }

    pub fn beat(&self) {
        let ms = self.base.elapsed().as_millis() as u64;
        self.last.store(ms, Ordering::Relaxed);
    }

    /// How long ago the last beat was.
    pub fn age(&self) -> Duration {
        let now = self.base.elapsed().as_millis() as u64;
        Duration::from_millis(now.saturating_sub(self.last.load(Ordering::Relaxed)))
    }
}

impl Default for Heartbeat {
    fn default() -> Heartbeat {
        Heartbeat::new()
    }
}

/// The daemon's side of the protocol; every call is a no-op outside systemd.
pub struct Systemd {
    /// To the sending thread (None: not under systemd, or the thread is gone).
    to: Option<SyncSender<Message>>,
    thread: Option<std::thread::JoinHandle<()>>,
    /// `WatchdogSec` (`WATCHDOG_USEC`), when the watchdog is on.
    watchdog: Option<Duration>,
    status: String,
    /// The checker side's heartbeat (None: no checker side runs).
    checkers: Option<Arc<Heartbeat>>,
    /// The checkers' loop was said to be late (said once until it beats again).
    said_late: bool,
}

impl Systemd {
    /// From the environment systemd gives a service.
    pub fn from_env() -> Systemd {
        let on = std::env::var_os("NOTIFY_SOCKET").is_some();
        let mut usec = 0;
        let watchdog = (on && sd_notify::watchdog_enabled(false, &mut usec) && usec > 0)
            .then(|| Duration::from_micros(usec));
        let (mut to, mut thread) = (None, None);
        if on {
            let (tx, rx) = sync_channel::<Message>(QUEUE);
            let t = std::thread::Builder::new()
                .name("keepup-systemd".into())
                .spawn(move || {
                    for m in rx {
                        if let Err(e) = m.send() {
                            debug!("systemd: cannot notify: {e}");
                        }
                    }
                });
            match t {
                Ok(t) => {
                    to = Some(tx);
                    thread = Some(t);
                }
                Err(e) => warn!("systemd: cannot start the notifying thread: {e}"),
            }
        }
        Systemd {
            to,
            thread,
            watchdog,
            status: String::new(),
            checkers: None,
            said_late: false,
        }
    }

    fn send(&mut self, m: Message) {
        let Some(to) = &self.to else {
            return;
        };
        match to.try_send(m) {
            Ok(()) => {}
            // systemd is not reading: this one is dropped, the loop goes on.
            Err(TrySendError::Full(_)) => debug!("systemd: not reading; a message dropped"),
            Err(TrySendError::Disconnected(_)) => self.to = None,
        }
    }

    /// The end of the daemon: what is queued (STOPPING=1) goes, for a bounded time.
    pub fn finish(mut self) {
        self.to = None;
        let Some(t) = self.thread.take() else {
            return;
        };
        let until = Instant::now() + FLUSH;
        while !t.is_finished() && Instant::now() < until {
            std::thread::sleep(Duration::from_millis(5));
        }
        if t.is_finished() {
            let _ = t.join();
        }
    }

    /// There is no checker side after all (no virtual servers): the watchdog follows
    /// the VRRP loop alone.
    pub fn no_checkers(&mut self) {
        self.checkers = None;
    }

    /// The checker side's heartbeat, to beat at least every [`Systemd::beat_every`].
    pub fn checker_heartbeat(&mut self) -> Option<Arc<Heartbeat>> {
        self.watchdog?;
        let hb = Arc::new(Heartbeat::new());
        self.checkers = Some(hb.clone());
        Some(hb)
    }

    /// How often a loop watched by the watchdog must beat.
    pub fn beat_every(&self) -> Option<Duration> {
        self.watchdog.map(|w| w / 4)
    }

    /// How often the VRRP loop pings the watchdog.
    pub fn ping_every(&self) -> Option<Duration> {
        self.watchdog.map(|w| w / 2)
    }

    pub fn ready(&mut self, status: String) {
        self.status = status.clone();
        self.send(Message::Ready(status));
    }

    /// The states, when they changed.
    pub fn status(&mut self, status: String) {
        if status != self.status {
            self.status = status.clone();
            self.send(Message::Status(status));
        }
    }

    pub fn reloading(&mut self) {
        self.send(Message::Reloading);
    }

    pub fn stopping(&mut self) {
        self.send(Message::Stopping);
    }

    /// The VRRP loop's ping: sent only while the checker side is alive too.
    pub fn ping(&mut self) {
        if self.feeds_watchdog() {
            self.send(Message::Watchdog);
        }
    }

    /// Whether the watchdog is to be fed now: it is on, and the checker side (if any)
    /// beat within `WatchdogSec` (a late one is said once).
    fn feeds_watchdog(&mut self) -> bool {
        let Some(limit) = self.watchdog else {
            return false;
        };
        if let Some(hb) = &self.checkers {
            let age = hb.age();
            if age >= limit {
                if !self.said_late {
                    warn!(
                        "systemd: the checkers' loop has not run for {age:?}; the watchdog is \
                         no longer fed, so systemd restarts keepup (WatchdogSec {limit:?})"
                    );
                    self.said_late = true;
                }
                return false;
            }
            self.said_late = false;
        }
        true
    }
}

/// The STATUS= line: the instances by state, a few names each.
pub fn status_line<'a>(states: impl IntoIterator<Item = (&'a str, &'static str)>) -> String {
    let mut by: Vec<(&'static str, Vec<&'a str>)> = Vec::new();
    for (name, state) in states {
        match by.iter_mut().find(|(s, _)| *s == state) {
            Some((_, names)) => names.push(name),
            None => by.push((state, vec![name])),
        }
    }
    if by.is_empty() {
        return "no VRRP instance".to_string();
    }
    // MASTER first, then as keepalived lists states.
    let order = |s: &str| match s {
        "MASTER" => 0,
        "BACKUP" => 1,
        "FAULT" => 2,
        "INIT" => 3,
        _ => 4,
    };
    by.sort_by_key(|(s, _)| order(s));
    by.iter()
        .map(|(state, names)| {
            let shown = names
                .iter()
                .take(STATUS_NAMES)
                .copied()
                .collect::<Vec<_>>()
                .join(", ");
            let more = names.len().saturating_sub(STATUS_NAMES);
            if more > 0 {
                format!("{state}: {shown} and {more} more")
            } else {
                format!("{state}: {shown}")
            }
        })
        .collect::<Vec<_>>()
        .join("; ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_status_line_groups_by_state() {
        assert_eq!(
            status_line([("VI_2", "BACKUP"), ("VI_1", "MASTER"), ("VI_3", "BACKUP")]),
            "MASTER: VI_1; BACKUP: VI_2, VI_3"
        );
        let many: Vec<String> = (0..10).map(|i| format!("VI_{i}")).collect();
        let line = status_line(many.iter().map(|n| (n.as_str(), "BACKUP")));
        assert_eq!(
            line,
            "BACKUP: VI_0, VI_1, VI_2, VI_3, VI_4, VI_5, VI_6, VI_7 and 2 more"
        );
        assert_eq!(status_line([]), "no VRRP instance");
    }

    /// A checker loop that stopped beating stops the pings (systemd then restarts
    /// keepup); one that beats again resumes them.
    #[test]
    fn a_late_checker_loop_starves_the_watchdog() {
        let mut s = Systemd {
            to: None,
            thread: None,
            watchdog: Some(Duration::from_millis(100)),
            status: String::new(),
            checkers: None,
            said_late: false,
        };
        assert!(s.feeds_watchdog(), "no checker side: the VRRP loop alone");
        let hb = s.checker_heartbeat().unwrap();
        hb.beat();
        assert!(s.feeds_watchdog());
        std::thread::sleep(Duration::from_millis(150));
        assert!(!s.feeds_watchdog(), "fed with a late checker loop");
        assert!(s.said_late);
        hb.beat();
        assert!(s.feeds_watchdog());
        assert!(!s.said_late);
        let off = &mut Systemd {
            watchdog: None,
            ..s
        };
        assert!(!off.feeds_watchdog());
    }
}
