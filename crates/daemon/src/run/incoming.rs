//! What reaches the loop through its one channel: signals, control requests,
//! finished scripts, process events and link events. Each source is read by a task
//! of its own and forwarded here, so the loop waits on one receiver for all of them
//! (the VRRP and ARP sockets and the clock are the loop's other branches).
use crate::dumps::Dump;
use tokio::signal::unix::{signal, SignalKind};
use tokio::sync::mpsc::{unbounded_channel, UnboundedReceiver, UnboundedSender};
use tracing::warn;

/// A finished `vrrp_script` run: its name, its process group (0 if it never
/// started) and how it ended.
pub type ScriptDone = (String, i32, crate::track::Finished);

pub enum Incoming {
    Signal(Asked),
    Control(crate::control::Request),
    ScriptDone(ScriptDone),
    Process(keepup_sys::Result<keepup_sys::ProcEvent>),
    Link(keepup_sys::Result<keepup_sys::LinkEvent>),
    /// A Router Solicitation (see [`Solicitations`]), or why listening stopped.
    Solicitation(keepup_sys::Result<keepup_sys::Solicitation>),
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
    /// A dump file keepalived writes on this signal (SIGUSR1 data, SIGUSR2 stats,
    /// SIGJSON, STATS_CLEAR).
    Dump(Dump),
    /// SIGTDUMP (SIGRTMAX): keepalived's debug builds dump their thread lists; keepup
    /// has none to dump. Caught so that its default action does not end the daemon
    /// (which would leave the VIPs on the interfaces), and logged.
    ThreadDump,
}

/// keepalived's real-time signals, as its `signals.h` numbers them.
fn realtime() -> [(i32, Asked); 3] {
    let (min, max) = (nix::libc::SIGRTMIN(), nix::libc::SIGRTMAX());
    [
        (min + 2, Asked::Dump(Dump::Json)),
        (max - 1, Asked::Dump(Dump::StatsClear)),
        (max, Asked::ThreadDump),
    ]
}

/// The signal number `keepalived --signum=NAME` prints for NAME (keepalived 2.2.7's
/// `get_signum`: exact, upper-case names; TDUMP only in its debug builds, so not
/// here). The real-time ones are glibc's numbering (SIGRTMIN is 34 on Linux).
pub fn signum(name: &str) -> Option<i32> {
    use nix::libc;
    Some(match name {
        "STOP" => libc::SIGTERM,
        "RELOAD" => libc::SIGHUP,
        "DATA" => libc::SIGUSR1,
        "STATS" => libc::SIGUSR2,
        "STATS_CLEAR" => libc::SIGRTMAX() - 1,
        "JSON" => libc::SIGRTMIN() + 2,
        _ => return None,
    })
}

/// Every signal keepalived handles, read by one task that forwards what each asks.
pub fn forward_signals(tx: Sender) -> std::io::Result<()> {
    let mut kinds: Vec<(SignalKind, Asked)> = vec![
        (SignalKind::terminate(), Asked::Stop),
        (SignalKind::interrupt(), Asked::Stop),
        (SignalKind::hangup(), Asked::Reload),
        (SignalKind::user_defined1(), Asked::Dump(Dump::Data)),
        (SignalKind::user_defined2(), Asked::Dump(Dump::Stats)),
    ];
    kinds.extend(
        realtime()
            .into_iter()
            .map(|(n, asked)| (SignalKind::from_raw(n), asked)),
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

/// SIGTDUMP arrived: logged, nothing else.
pub fn thread_dump_asked() {
    warn!("SIGTDUMP (SIGRTMAX) received: keepalived's debug builds dump their threads; keepup has none to dump");
}

/// Router Solicitations on the interfaces where a virtual router sends Router
/// Advertisements (`keepup_router_advert`): the socket is opened when the first such
/// instance appears (at start or at a reload) and read by a task of its own.
pub struct Solicitations {
    socket: Option<std::sync::Arc<keepup_sys::SolicitationSocket>>,
    tx: Sender,
}

impl Solicitations {
    pub fn new(tx: Sender) -> Solicitations {
        Solicitations { socket: None, tx }
    }

    /// Listen on the interface of every instance of `plan` that advertises.
    pub fn listen(&mut self, plan: &crate::plan::Plan) {
        let wanted: std::collections::BTreeSet<u32> = plan
            .instances
            .iter()
            .filter(|c| c.router_advert.is_some())
            .map(|c| c.interface.0)
            .collect();
        if wanted.is_empty() {
            return;
        }
        if self.socket.is_none() {
            match keepup_sys::SolicitationSocket::open() {
                Ok(s) => {
                    let s = std::sync::Arc::new(s);
                    let (reader, tx) = (s.clone(), self.tx.clone());
                    tokio::spawn(async move {
                        loop {
                            let got = reader.recv().await;
                            let failed = got.is_err();
                            if tx.send(Incoming::Solicitation(got)).is_err() || failed {
                                return;
                            }
                        }
                    });
                    self.socket = Some(s);
                }
                Err(e) => {
                    warn!("{e}; router advertisements are sent periodically only");
                    return;
                }
            }
        }
        if let Some(s) = &self.socket {
            for ifindex in wanted {
                if let Err(e) = s.join(ifindex) {
                    warn!("{e}");
                }
            }
        }
    }
}
