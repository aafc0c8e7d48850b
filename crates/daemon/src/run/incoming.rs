//! What reaches the loop through its one channel: signals, control requests,
//! finished scripts, process events and link events. Each source is read by a task
//! of its own and forwarded here, so the loop waits on one receiver for all of them
//! (the VRRP and ARP sockets and the clock are the loop's other branches).
use crate::track::Outcome;
use tokio::signal::unix::{signal, SignalKind};
use tokio::sync::mpsc::{unbounded_channel, UnboundedReceiver, UnboundedSender};
use tracing::warn;

/// A finished `vrrp_script` run: its name, its process group (0 if it never
/// started) and how it ended.
pub type ScriptDone = (String, i32, Outcome);

pub enum Incoming {
    Signal(Asked),
    Control(crate::control::Request),
    ScriptDone(ScriptDone),
    Process(keepup_sys::Result<keepup_sys::ProcEvent>),
    Link(keepup_sys::Result<keepup_sys::LinkEvent>),
}

pub type Sender = UnboundedSender<Incoming>;
pub type Receiver = UnboundedReceiver<Incoming>;

pub fn channel() -> (Sender, Receiver) {
    unbounded_channel()
}

/// What a signal asks of the daemon.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Asked {
    /// SIGTERM or SIGINT.
    Stop,
    /// SIGHUP.
    Reload,
    /// A signal keepalived answers with a dump or a reset (SIGUSR1 data, SIGUSR2
    /// stats, its real-time JSON, STATS_CLEAR and thread-dump signals). keepup
    /// catches them so that none ends the daemon by its default action (which would
    /// leave the VIPs on the interfaces); they are logged and otherwise ignored.
    Dump(&'static str),
}

/// keepalived's real-time signals, as its `signals.h` numbers them.
fn realtime() -> [(i32, &'static str); 3] {
    let (min, max) = (nix::libc::SIGRTMIN(), nix::libc::SIGRTMAX());
    [
        (min + 2, "JSON (SIGRTMIN+2)"),
        (max - 1, "STATS_CLEAR (SIGRTMAX-1)"),
        (max, "TDUMP (SIGRTMAX)"),
    ]
}

/// Every signal keepalived handles, read by one task that forwards what each asks.
pub fn forward_signals(tx: Sender) -> std::io::Result<()> {
    let mut kinds: Vec<(SignalKind, Asked)> = vec![
        (SignalKind::terminate(), Asked::Stop),
        (SignalKind::interrupt(), Asked::Stop),
        (SignalKind::hangup(), Asked::Reload),
        (SignalKind::user_defined1(), Asked::Dump("USR1")),
        (SignalKind::user_defined2(), Asked::Dump("USR2")),
    ];
    kinds.extend(
        realtime()
            .into_iter()
            .map(|(n, name)| (SignalKind::from_raw(n), Asked::Dump(name))),
    );
    for (kind, asked) in kinds {
        let mut s = signal(kind)?;
        let tx = tx.clone();
        tokio::spawn(async move {
            while s.recv().await.is_some() {
                if tx.send(Incoming::Signal(asked)).is_err() {
                    return;
                }
            }
        });
    }
    Ok(())
}

/// Control requests from the socket, forwarded (the listener's own tasks read them).
pub fn forward_control(mut listener: crate::control::Listener, tx: Sender) {
    tokio::spawn(async move {
        while let Some(req) = listener.next().await {
            if tx.send(Incoming::Control(req)).is_err() {
                return;
            }
        }
    });
}

/// Link and address events from the netlink monitor.
pub fn forward_links(mut monitor: keepup_sys::Monitor, tx: Sender) {
    tokio::spawn(async move {
        loop {
            let ev = monitor.next().await;
            if tx.send(Incoming::Link(ev)).is_err() {
                return;
            }
        }
    });
}

/// Process events for `vrrp_track_process`; the task ends after the first error
/// (the caller falls back to reading /proc). Abort the handle to stop watching.
pub fn forward_processes(
    mut m: keepup_sys::ProcessMonitor,
    tx: Sender,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            let ev = m.next().await;
            let failed = ev.is_err();
            if tx.send(Incoming::Process(ev)).is_err() || failed {
                return;
            }
        }
    })
}

/// Logs that a dump signal arrived; keepalived would write a file here.
pub fn dump_asked(name: &str) {
    warn!(
        "SIG{name} received: keepalived would write a dump file here; keepup does not write one yet (use `keepup status`)"
    );
}
