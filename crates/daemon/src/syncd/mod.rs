//! `lvs_sync_daemon`: the kernel's IPVS connection-sync daemons, following one VRRP
//! instance, so that a backup director already knows the connections of the master
//! and keeps them when it takes over.
//!
//! keepalived's rules (2.2, read from its source; our own code):
//!
//! - The sync daemons belong to the VRRP process, not the checkers (`ipvs_syncd_master`
//!   / `ipvs_syncd_backup` in check/ipvswrapper.c are "called in the context of the
//!   vrrp child process"). So here they belong to the VRRP side: they run with `-P`
//!   and without any `virtual_server`, and not with `-C` (no VRRP instance runs).
//! - With `VRRP_INSTANCE`: the instance in MASTER runs the master daemon only; in any
//!   other state (INIT, BACKUP, FAULT) the backup daemon only (`vrrp_state_become_master`
//!   calls `ipvs_syncd_master`: stop backup, start master; `vrrp_state_leave_master`
//!   calls `ipvs_syncd_backup`: stop master, start backup; `vrrp_init_state` starts the
//!   one of the initial state). Without one: both run while keepup runs.
//! - `id` defaults to the instance's VRID (0 without an instance); an instance that
//!   does not exist clears the setting (`vrrp_complete_init`: "Unable to find vrrp
//!   instance ... clearing lvs_syncd config"): no daemon runs.
//! - At start, daemons left by a previous run are stopped (`start_vrrp`); at stop, the
//!   running one is stopped (`stop_vrrp`, before the VIPs go).
//! - On reload: if the settings changed (`ipvs_syncd_changed`: id, interface, maxlen,
//!   port, ttl, group), the daemon is restarted with the new ones; the daemon of the
//!   instance's current state is started and the other one stopped
//!   (`reload_vrrp_thread`).
//!
//! Here the same end is reached by reconciling: the wanted daemons ([`wanted`], pure)
//! against those the kernel reports ([`plan`], pure), on a small thread of its own
//! (the IPVS socket blocks; a takeover's adverts never wait for it). A daemon keepup
//! did not ask for is only touched when `lvs_sync_daemon` is configured (the kernel
//! has one master and one backup slot, and keepalived claims both then too).
use std::net::{IpAddr, Ipv4Addr};
use std::sync::mpsc;

use keepup_config::Config;
use keepup_lvs::genl::{SyncDaemon, SyncState};
use keepup_sys::{Ipvs, IpvsError};
use keepup_vrrp::config::InstanceConfig;
use tracing::{error, info, warn};

/// The kernel's defaults, for telling whether a running daemon has the settings wanted.
const DEFAULT_PORT: u16 = 8848;
const DEFAULT_TTL: u8 = 1;
const DEFAULT_GROUP: IpAddr = IpAddr::V4(Ipv4Addr::new(224, 0, 0, 81));

/// `lvs_sync_daemon` resolved against the instances: what a daemon is started with,
/// and the instance it follows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// The instance whose state decides (None: both daemons run).
    pub instance: Option<String>,
    /// The daemon as started (its `state` is set by [`wanted`]).
    pub daemon: SyncDaemon,
}

/// Resolves the configuration's `lvs_sync_daemon` (None: not configured, or it names
/// an instance that does not exist, said in the log).
pub fn settings(config: &Config, instances: &[InstanceConfig]) -> Option<Settings> {
    let sd = config.global_defs.lvs_sync_daemon.as_ref()?;
    let vrid = match &sd.vrrp_instance {
        None => None,
        Some(name) => match instances.iter().find(|i| &i.name == name) {
            Some(i) => Some(i.vrid),
            None => {
                warn!(
                    "Unable to find vrrp instance {name} for lvs_syncd - clearing lvs_syncd \
                     config: no sync daemon runs"
                );
                return None;
            }
        },
    };
    Some(Settings {
        instance: sd.vrrp_instance.clone(),
        daemon: SyncDaemon {
            state: SyncState::Backup,
            ifname: sd.interface.clone(),
            syncid: u32::from(sd.syncid.or(vrid).unwrap_or(0)),
            sync_maxlen: sd.maxlen,
            mcast_group: sd.group,
            mcast_port: sd.port,
            mcast_ttl: sd.ttl,
        },
    })
}

/// The daemons that should run: `master` is whether the followed instance is MASTER
/// (ignored without an instance: both run).
pub fn wanted(settings: Option<&Settings>, master: bool) -> Vec<SyncDaemon> {
    let Some(s) = settings else {
        return Vec::new();
    };
    let roles: &[SyncState] = match (&s.instance, master) {
        (None, _) => &[SyncState::Master, SyncState::Backup],
        (Some(_), true) => &[SyncState::Master],
        (Some(_), false) => &[SyncState::Backup],
    };
    roles
        .iter()
        .map(|r| SyncDaemon {
            state: *r,
            ..s.daemon.clone()
        })
        .collect()
}

/// One change to the kernel's sync daemons.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DaemonOp {
    Stop(SyncState),
    Start(SyncDaemon),
}

/// The changes that bring the `running` daemons (as the kernel reports them) to the
/// `want`ed ones: stops first (a daemon changing role or settings is stopped, then
/// started), as keepalived's `ipvs_syncd_master`/`_backup` do.
pub fn plan(want: &[SyncDaemon], running: &[SyncDaemon]) -> Vec<DaemonOp> {
    let mut stops = Vec::new();
    let mut starts = Vec::new();
    for role in [SyncState::Master, SyncState::Backup] {
        let w = want.iter().find(|d| d.state == role);
        let r = running.iter().find(|d| d.state == role);
        match (w, r) {
            (None, None) => {}
            (None, Some(_)) => stops.push(DaemonOp::Stop(role)),
            (Some(w), None) => starts.push(DaemonOp::Start(w.clone())),
            (Some(w), Some(r)) if same(w, r) => {}
            (Some(w), Some(_)) => {
                stops.push(DaemonOp::Stop(role));
                starts.push(DaemonOp::Start(w.clone()));
            }
        }
    }
    stops.extend(starts);
    stops
}

/// Whether a running daemon (the kernel reports every field) has the wanted settings;
/// an unset one is the kernel's default (maxlen: derived from the MTU, any is fine).
fn same(want: &SyncDaemon, running: &SyncDaemon) -> bool {
    fn field<T: PartialEq + Copy>(want: Option<T>, default: Option<T>, running: Option<T>) -> bool {
        match want.or(default) {
            Some(w) => running.is_none_or(|r| r == w),
            None => true,
        }
    }
    want.state == running.state
        && want.ifname == running.ifname
        && want.syncid == running.syncid
        && field(want.sync_maxlen, None, running.sync_maxlen)
        && field(want.mcast_port, Some(DEFAULT_PORT), running.mcast_port)
        && field(want.mcast_ttl, Some(DEFAULT_TTL), running.mcast_ttl)
        && field(want.mcast_group, Some(DEFAULT_GROUP), running.mcast_group)
}

fn role_name(s: SyncState) -> &'static str {
    match s {
        SyncState::Master => "master",
        SyncState::Backup => "backup",
    }
}

enum Message {
    Want(Vec<SyncDaemon>),
    Stop,
}

/// The sync daemons' side, owned by the VRRP loop: it is told the instance's state
/// and the settings, and a thread brings the kernel's daemons to match.
#[derive(Default)]
pub struct SyncDaemons {
    settings: Option<Settings>,
    master: bool,
    /// What was last sent (nothing is sent when it does not change).
    sent: Vec<SyncDaemon>,
    worker: Option<(mpsc::Sender<Message>, std::thread::JoinHandle<()>)>,
}

impl SyncDaemons {
    /// At start and after a reload: the settings, and whether the followed instance
    /// (by its name in them) is MASTER now.
    pub fn configure(&mut self, settings: Option<Settings>, master: impl Fn(&str) -> bool) {
        if settings != self.settings {
            if let Some(s) = &settings {
                let follows = s.instance.as_deref().unwrap_or("(none: master and backup)");
                info!(
                    "lvs_sync_daemon on {} (syncid {}), following vrrp_instance {follows}",
                    s.daemon.ifname, s.daemon.syncid
                );
            }
        }
        self.master = settings
            .as_ref()
            .and_then(|s| s.instance.as_deref())
            .is_some_and(master);
        self.settings = settings;
        self.push();
    }

    /// A state change of instance `name`.
    pub fn transition(&mut self, name: &str, to: keepup_vrrp::State) {
        let follows = self
            .settings
            .as_ref()
            .and_then(|s| s.instance.as_deref())
            .is_some_and(|i| i == name);
        if follows {
            self.master = to == keepup_vrrp::State::Master;
            self.push();
        }
    }

    fn push(&mut self) {
        let want = wanted(self.settings.as_ref(), self.master);
        if want == self.sent {
            return;
        }
        self.sent = want.clone();
        if self.worker.is_none() {
            self.worker = spawn();
        }
        if let Some((tx, _)) = &self.worker {
            let _ = tx.send(Message::Want(want));
        }
    }

    /// Stops the daemons keepup runs and waits (briefly) for it.
    pub fn stop(&mut self) {
        self.settings = None;
        if let Some((tx, t)) = self.worker.take() {
            let _ = tx.send(Message::Stop);
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
            while !t.is_finished() && std::time::Instant::now() < deadline {
                std::thread::sleep(std::time::Duration::from_millis(5));
            }
            if t.is_finished() {
                let _ = t.join();
            }
        }
    }
}

fn spawn() -> Option<(mpsc::Sender<Message>, std::thread::JoinHandle<()>)> {
    let (tx, rx) = mpsc::channel();
    match std::thread::Builder::new()
        .name("keepup-syncd".into())
        .spawn(move || serve(&rx))
    {
        Ok(t) => Some((tx, t)),
        Err(e) => {
            error!("lvs_sync_daemon: cannot start its thread: {e}; no sync daemon runs");
            None
        }
    }
}

fn serve(rx: &mpsc::Receiver<Message>) {
    let mut ipvs = match Ipvs::open() {
        Ok(i) => Some(i),
        Err(IpvsError::NotAvailable) => {
            warn!("lvs_sync_daemon: this kernel has no IPVS (module ip_vs missing): no sync daemon runs");
            None
        }
        Err(e) => {
            error!("lvs_sync_daemon: cannot open the kernel's IPVS interface ({e}): no sync daemon runs");
            None
        }
    };
    let mut current: Vec<SyncDaemon> = Vec::new();
    while let Ok(first) = rx.recv() {
        // Only the latest wish counts (a flap queues several).
        let mut last = first;
        for m in rx.try_iter() {
            if matches!(last, Message::Stop) {
                break;
            }
            last = m;
        }
        let Some(ipvs) = ipvs.as_mut() else {
            if matches!(last, Message::Stop) {
                return;
            }
            continue;
        };
        match last {
            Message::Want(want) => {
                apply(ipvs, &want);
                current = want;
            }
            Message::Stop => {
                let ops: Vec<DaemonOp> = current.iter().map(|d| DaemonOp::Stop(d.state)).collect();
                run(ipvs, &ops, true);
                return;
            }
        }
    }
}

fn apply(ipvs: &mut Ipvs, want: &[SyncDaemon]) {
    match ipvs.daemons() {
        Ok(running) => run(ipvs, &plan(want, &running), false),
        Err(e) => {
            // Without the kernel's list: both roles stopped, the wanted started.
            warn!("lvs_sync_daemon: cannot list the running sync daemons: {e}");
            let mut ops = vec![
                DaemonOp::Stop(SyncState::Master),
                DaemonOp::Stop(SyncState::Backup),
            ];
            ops.extend(want.iter().cloned().map(DaemonOp::Start));
            run(ipvs, &ops, true);
        }
    }
}

/// `quiet`: a stop of a daemon that is not running is not an error.
fn run(ipvs: &mut Ipvs, ops: &[DaemonOp], quiet: bool) {
    for op in ops {
        match op {
            DaemonOp::Stop(role) => match ipvs.stop_daemon(*role) {
                Ok(()) => info!("IPVS: {} sync daemon stopped", role_name(*role)),
                Err(IpvsError::Kernel(k)) if quiet && k.errno == nix::libc::ESRCH => {}
                Err(e) => error!(
                    "IPVS: cannot stop the {} sync daemon: {e}",
                    role_name(*role)
                ),
            },
            DaemonOp::Start(d) => match ipvs.start_daemon(d.clone()) {
                Ok(()) => info!(
                    "IPVS: {} sync daemon started on {} (syncid {})",
                    role_name(d.state),
                    d.ifname,
                    d.syncid
                ),
                Err(e) => error!(
                    "IPVS: cannot start the {} sync daemon on {}: {e}",
                    role_name(d.state),
                    d.ifname
                ),
            },
        }
    }
}

#[cfg(test)]
mod tests;
