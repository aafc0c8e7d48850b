//! What goes into the scheduler and what comes out: probe answers in; probes to run,
//! pool changes and events out.
use std::time::{Duration, Instant};

use serde::Serialize;

use super::{FailKind, Failures};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct VsId(pub usize);
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct RsId(pub usize);
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct CheckerId(pub usize);

/// An entry of a virtual server's pool.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub enum Dest {
    Real(RsId),
    Sorry,
}

/// A pool entry's address.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Server {
    /// As keepalived prints it: `[10.0.0.2]:tcp:80`.
    pub name: String,
    pub ip: std::net::IpAddr,
    pub port: Option<u16>,
}

/// A change to a virtual server's pool.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum PoolOp {
    Add { weight: u32 },
    Weight { weight: u32 },
    Remove,
}

/// What a probe found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// The service answered as configured. `weight`: a `misc_dynamic` weight (exit
    /// status - 2); `None` restores the configured one.
    Pass { weight: Option<u32> },
    /// It passed and shifts the real server's weight by `by` from the configured one
    /// (FILE_CHECK: the file's value times its weight).
    Shift { by: i64 },
    /// It did not: of which kind (for counting) and why, in plain words (`HTTP
    /// status 503 ...`, for the log).
    Fail { kind: FailKind, reason: String },
}

impl Verdict {
    pub const PASS: Verdict = Verdict::Pass { weight: None };

    pub fn fail(kind: FailKind, reason: impl Into<String>) -> Verdict {
        Verdict::Fail {
            kind,
            reason: reason.into(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    /// Run `attempt` ([`Output::Probe`]) ended. Attempts are numbered across
    /// reloads, so a run started before one is still known after it.
    Done { attempt: u64, verdict: Verdict },
    /// An address appeared on interface `ifindex` of this host (for `ha_suspend`).
    AddressAdded { ifindex: u32, ip: std::net::IpAddr },
    /// An address left interface `ifindex`.
    AddressRemoved { ifindex: u32, ip: std::net::IpAddr },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Output {
    /// Run `checker` now, for at most `timeout`; answer with [`Input::Done`].
    Probe {
        checker: CheckerId,
        attempt: u64,
        timeout: Duration,
    },
    /// The run did not answer in time and counts as failed: stop it (close its
    /// socket, kill its script's process group).
    Cancel { attempt: u64 },
    /// What `vs`'s pool should now hold for `server` (a real server or the sorry
    /// server, by address: one a reload dropped is named too).
    Pool {
        vs: VsId,
        /// Which server of the virtual server; None for one a reload dropped (only
        /// its address is left).
        dest: Option<Dest>,
        server: Server,
        op: PoolOp,
    },
    /// Something to log and, where configured, notify (scripts, lvs_notify_fifo,
    /// smtp_alert).
    Event(Event),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// A checker succeeded after failing (or on its first run).
    CheckerUp { checker: CheckerId },
    /// A checker failed its last retry (or its first run): down.
    CheckerDown { checker: CheckerId, reason: String },
    /// A failed attempt of an up checker that still has retries (logged with
    /// `log_all_failures` / `checker_log_all_failures`).
    AttemptFailed {
        checker: CheckerId,
        reason: String,
        retry: u32,
        of: u32,
    },
    /// The real server became alive (`moved`) or, at a checker's first run, was
    /// confirmed in its starting state (`!moved`: notifiers only, as keepalived).
    RealServer { rs: RsId, alive: bool, moved: bool },
    /// The real server's weight changed (misc_dynamic).
    Weight { rs: RsId, from: u32, to: u32 },
    /// Quorum gained or lost (or found lost at start).
    Quorum {
        vs: VsId,
        up: bool,
        start: bool,
        threshold: i64,
        weight: i64,
    },
    /// The sorry server took over the pool (`on`) or handed it back.
    Sorry { vs: VsId, on: bool },
    /// `ha_suspend`: the virtual server's address left this host and its checkers are
    /// suspended (`on`), or it came back and they run again. `start`: found so at
    /// start (or when a reload added the virtual server).
    Suspended { vs: VsId, on: bool, start: bool },
    /// At shutdown: the real server leaves the pool. `notify`: it was alive and its
    /// virtual server has `omega`, so its down notifiers run.
    ShutdownRs { rs: RsId, notify: bool },
    /// At shutdown with `omega`: the virtual server's quorum_down notifiers run.
    ShutdownVs { vs: VsId },
    /// A reload dropped a real server (`server`) or a whole virtual server (None),
    /// named as the old configuration named them.
    Gone { vs: String, server: Option<String> },
}

/// A checker as the status shows it.
#[derive(Debug, Clone, Serialize)]
pub struct CheckerView {
    pub kind: &'static str,
    pub up: bool,
    /// Whether it has run at least once.
    pub has_run: bool,
    /// Failed attempts so far in the current retry run.
    pub retries: u32,
    /// The last failure's reason while it is failing.
    pub last_error: Option<String>,
    /// How long its last run took, from its start to its verdict (a run cancelled at
    /// the timeout: the timeout). None: no run has ended yet.
    pub last_duration: Option<Duration>,
    /// Its failed runs by kind since start.
    pub failures: Failures,
    /// When it last went up or down (None: not since start).
    #[serde(skip)]
    pub since: Option<Instant>,
    /// The next run (None: running now).
    #[serde(skip)]
    pub next: Option<Instant>,
}
