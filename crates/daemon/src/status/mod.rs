//! What `keepup status` shows: a plain snapshot of the daemon, built by a pure
//! function from the engine, the plan and the trackers, and published by the loop
//! after each change (and each second, for the counters). Readers (the control
//! socket's tasks) only read the latest snapshot; they never reach into the loop.
//!
//! Field names follow keepalived's JSON dump (`vrrp_json.c`) where it has one
//! (`iname`, `state`, `vrid`, `ifp_ifname`, `base_priority`, `effective_priority`,
//! `last_transition`, `master_priority`, and in `stats` `advert_rcvd`, `become_master`,
//! ...); keepalived writes `state` as a number, keepup as its name (`MASTER`).
mod render;

pub use render::table;

use crate::plan::Plan;
use crate::track::{Binding, Trackers};
use keepup_vrrp::{InstanceId, Reason, Router, State, TrackEffect};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::SystemTime;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Snapshot {
    pub daemon: DaemonStatus,
    pub instances: Vec<InstanceStatus>,
    pub sync_groups: Vec<GroupStatus>,
    /// The checker side's view (published by its own thread).
    #[serde(default)]
    pub virtual_servers: Vec<keepup_check::sched::VsView>,
    /// The kernel's IPVS table (published by the IPVS side's thread); None when no
    /// IPVS side runs (no virtual servers, or `-P`).
    #[serde(default)]
    pub ipvs: Option<IpvsStatus>,
    /// Each `vrrp_track_process` being watched (keepalived's JSON version 2 lists
    /// them).
    #[serde(default)]
    pub track_processes: Vec<ProcessStatus>,
}

/// A `vrrp_track_process` now, under keepalived's JSON names.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProcessStatus {
    pub name: String,
    /// Matching processes running now.
    pub current_processes: u32,
    /// The count is within [quorum, quorum_max] (as the instances were last told).
    pub have_quorum: bool,
    /// A rise waits for `fork_delay`.
    pub fork_delay_timer_running: bool,
    /// A fall waits for `terminate_delay`.
    pub terminate_delay_timer_running: bool,
}

/// The kernel's IPVS table, read when the status is asked for, with what the IPVS side
/// knows of it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct IpvsStatus {
    /// False: the kernel has no IPVS, or it could not be opened (`note` says which).
    pub available: bool,
    pub note: Option<String>,
    /// IPVS's version (`1.2.1` packed) and connection table size.
    pub version: Option<(u32, u32)>,
    pub services: Vec<IpvsService>,
}

/// One service of the kernel's table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IpvsService {
    pub info: keepup_lvs::genl::ServiceInfo,
    /// keepup added it (or adopted it); false: another tool's, left alone.
    pub owned: bool,
    /// The virtual server it programs, as keepalived names it (`[10.0.0.1]:tcp:80`).
    pub virtual_server: Option<String>,
    pub dests: Vec<keepup_lvs::genl::DestInfo>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DaemonStatus {
    pub version: String,
    pub pid: u32,
    pub config_file: String,
    /// A digest of the configuration running (hex).
    pub config_digest: String,
    /// Seconds since the epoch.
    pub started: f64,
    pub last_reload: Option<ReloadStatus>,
    /// Reloads asked for, and those refused.
    #[serde(default)]
    pub reloads: u64,
    #[serde(default)]
    pub reload_failures: u64,
    /// Writes of the `no_accept` nftables table that failed.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub firewall_failures: u64,
    /// The IP versions (4, 6) whose VRRP socket's kernel filter judges VRIDs,
    /// versions and passwords now, because of a flood of adverts no instance accepts.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rx_filter_strict: Vec<u8>,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

impl DaemonStatus {
    /// This process, running `file` (its digest), started now.
    pub fn new(file: &std::path::Path, digest: u64) -> DaemonStatus {
        DaemonStatus {
            version: env!("CARGO_PKG_VERSION").to_string(),
            pid: std::process::id(),
            config_file: file.display().to_string(),
            config_digest: format!("{digest:016x}"),
            started: epoch_secs(SystemTime::now()),
            last_reload: None,
            reloads: 0,
            reload_failures: 0,
            firewall_failures: 0,
            rx_filter_strict: Vec::new(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReloadStatus {
    /// Seconds since the epoch.
    pub at: f64,
    /// `ok: ...` or `refused: ...`, in plain words.
    pub outcome: String,
    /// Whether it was applied.
    #[serde(default)]
    pub ok: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InstanceStatus {
    pub iname: String,
    pub state: String,
    pub vrid: u8,
    pub version: u8,
    pub ifp_ifname: String,
    pub base_priority: u8,
    pub effective_priority: u8,
    /// The Master's address (as last heard when Backup; ours when Master).
    pub master: Option<String>,
    /// The priority the Master advertised (Backup only).
    pub master_priority: Option<u8>,
    /// Seconds since the epoch of the last transition.
    pub last_transition: Option<f64>,
    pub last_transition_from: Option<String>,
    /// Why (`master-down`, `priority-zero`, `preempt`, `fault`, ...).
    pub last_transition_reason: Option<String>,
    pub sync_group: Option<String>,
    /// The addresses held now (Master, or holding them for a handover).
    pub vips: Vec<String>,
    pub trackers: Vec<TrackerStatus>,
    /// Why it is in FAULT (or waits for a first result), in plain words.
    pub fault_reasons: Vec<String>,
    pub stats: Stats,
    /// State changes since the daemon started (a reload keeps the count of an instance
    /// it keeps, by name).
    #[serde(default)]
    pub transitions: u64,
    /// Times another host was found answering for one of its addresses.
    #[serde(default)]
    pub duplicate_address: u64,
    /// The VIPs are on the interfaces (Master, or holding them for a handover), as
    /// keepalived's `vipset`.
    #[serde(default)]
    pub vipset: bool,
    /// The advert interval of the Master (ours when Master), in seconds.
    #[serde(default)]
    pub master_adver_int: f64,
    /// The address adverts are sent from (None: no address yet).
    #[serde(default)]
    pub src_ip: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrackerStatus {
    /// `script`, `interface`, `file` or `process`.
    pub kind: String,
    pub name: String,
    /// `up`, `down`, `pending`, or a tracked file's value.
    pub state: String,
    pub weight: i32,
    /// What it does to the instance now: `none`, `fault`, `pending` or `weight N`.
    pub effect: String,
    /// Whether it counts against the instance now (failed, or lowering its priority).
    pub failing: bool,
}

/// keepalived's `stats` names, and keepup's own after them.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Stats {
    pub advert_rcvd: u64,
    pub advert_sent: u64,
    pub become_master: u64,
    /// Transitions out of MASTER.
    #[serde(default)]
    pub release_master: u64,
    pub packet_len_err: u64,
    pub advert_interval_err: u64,
    pub ip_ttl_err: u64,
    pub invalid_type_rcvd: u64,
    pub addr_list_err: u64,
    pub invalid_authtype: u64,
    pub authtype_mismatch: u64,
    pub auth_failure: u64,
    pub pri_zero_rcvd: u64,
    pub pri_zero_sent: u64,
    pub source_err: u64,
    pub split_brain: u64,
    /// auth_hmac refusals, by keepalived's stats names (`mode enforce` and no
    /// trailer; malformed trailer; unknown key id; HMAC that does not verify;
    /// outside `time_window`; replayed sequence).
    #[serde(default)]
    pub auth_ext_missing: u64,
    #[serde(default)]
    pub auth_ext_malformed: u64,
    #[serde(default)]
    pub auth_ext_unknown_key: u64,
    #[serde(default)]
    pub auth_ext_invalid_hmac: u64,
    #[serde(default)]
    pub auth_ext_stale: u64,
    #[serde(default)]
    pub auth_ext_replay: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GroupStatus {
    pub name: String,
    pub state: String,
    pub members: Vec<String>,
}

/// A transition as the loop saw it.
#[derive(Debug, Clone, Copy)]
pub struct Transition {
    pub at: SystemTime,
    pub from: State,
    pub reason: Reason,
}

/// What the loop remembers of an instance, by name: its last transition and its
/// counts of events the engine does not count.
#[derive(Debug, Clone, Copy, Default)]
pub struct History {
    pub last: Option<Transition>,
    pub transitions: u64,
    pub duplicate_address: u64,
}

pub fn epoch_secs(t: SystemTime) -> f64 {
    t.duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

/// Build the snapshot. `history` is what the loop remembers of each instance, by name
/// (names survive a reload; instance ids do not).
pub fn snapshot(
    router: &Router,
    plan: &Plan,
    trackers: &Trackers,
    daemon: &DaemonStatus,
    history: &HashMap<String, History>,
) -> Snapshot {
    let instances = (0..plan.instances.len())
        .map(InstanceId)
        .map(|id| instance(router, plan, trackers, history, id))
        .collect();
    let sync_groups = plan
        .groups
        .iter()
        .map(|g| {
            let states: Vec<State> = g
                .members
                .iter()
                .filter_map(|m| router.find(m))
                .map(|id| router.state(id))
                .collect();
            // A group is in a state when its members are; otherwise say each.
            let state = match states.first() {
                Some(s) if states.iter().all(|x| x == s) => s.keepalived_name().to_string(),
                _ => "MIXED".to_string(),
            };
            GroupStatus {
                name: g.name.clone(),
                state,
                members: g.members.clone(),
            }
        })
        .collect();
    Snapshot {
        daemon: daemon.clone(),
        instances,
        sync_groups,
        virtual_servers: Vec::new(),
        ipvs: None,
        track_processes: trackers
            .processes
            .iter()
            .map(|p| ProcessStatus {
                name: p.name.clone(),
                current_processes: u32::try_from(p.quorum.pids.len()).unwrap_or(u32::MAX),
                have_quorum: p.quorum.up == Some(true),
                fork_delay_timer_running: matches!(p.quorum.pending, Some((_, true))),
                terminate_delay_timer_running: matches!(p.quorum.pending, Some((_, false))),
            })
            .collect(),
    }
}

fn instance(
    router: &Router,
    plan: &Plan,
    trackers: &Trackers,
    history: &HashMap<String, History>,
    id: InstanceId,
) -> InstanceStatus {
    let c = router.config(id);
    let e = &plan.effects[id.0];
    let state = router.state(id);
    let held = state == State::Master || router.is_holding(id);
    let effects: HashMap<u32, TrackEffect> = router.track_effects(id).collect();
    let trackers = tracker_rows(trackers, id, &effects);
    let mut fault_reasons = Vec::new();
    if !router.link_up(id) {
        fault_reasons.push(format!("interface {} is down", e.interface));
    }
    for t in &trackers {
        match t.effect.as_str() {
            "fault" => fault_reasons.push(format!("{} {} is {}", t.kind, t.name, t.state)),
            "pending" => fault_reasons.push(format!(
                "{} {} has no result yet (weight 0: waits for it)",
                t.kind, t.name
            )),
            _ => {}
        }
    }
    if state == State::Fault && fault_reasons.is_empty() {
        if let Some(g) = router.sync_group(id) {
            fault_reasons.push(format!("another member of sync group {g} is in FAULT"));
        }
    }
    let k = router.counters(id);
    let history = history.get(&c.name).copied().unwrap_or_default();
    let last = history.last.as_ref();
    InstanceStatus {
        iname: c.name.clone(),
        state: state.keepalived_name().to_string(),
        vrid: c.vrid,
        version: match c.version {
            keepup_wire::vrrp::Version::V2 => 2,
            _ => 3,
        },
        ifp_ifname: e.interface.clone(),
        base_priority: c.priority,
        effective_priority: router.effective_priority(id),
        master: router.master_address(id).map(|a| a.to_string()),
        master_priority: (state == State::Backup)
            .then(|| router.master_priority(id))
            .flatten(),
        last_transition: last.map(|t| epoch_secs(t.at)),
        last_transition_from: last.map(|t| t.from.keepalived_name().to_string()),
        last_transition_reason: last.map(|t| t.reason.as_str().to_string()),
        sync_group: router.sync_group(id).map(str::to_string),
        vips: if held {
            e.addresses()
                .map(|a| format!("{}/{}", a.address, a.prefix_len))
                .collect()
        } else {
            Vec::new()
        },
        trackers,
        fault_reasons,
        transitions: history.transitions,
        duplicate_address: history.duplicate_address,
        vipset: held,
        master_adver_int: router.master_adver_interval(id).as_secs_f64(),
        src_ip: router.source_address(id).map(|a| a.to_string()),
        stats: Stats {
            advert_rcvd: k.rcvd_advertisements,
            advert_sent: k.sent_advertisements,
            become_master: k.master_transitions,
            release_master: k.release_master,
            packet_len_err: k.packet_length_errors,
            advert_interval_err: k.adv_interval_errors,
            ip_ttl_err: k.ip_ttl_errors,
            invalid_type_rcvd: k.rcvd_invalid_type_packets,
            addr_list_err: k.address_list_errors,
            invalid_authtype: k.invalid_auth_type,
            authtype_mismatch: k.auth_type_mismatch,
            auth_failure: k.auth_failures,
            pri_zero_rcvd: k.rcvd_pri_zero_packets,
            pri_zero_sent: k.sent_pri_zero_packets,
            source_err: k.source_errors,
            split_brain: k.split_brain,
            auth_ext_missing: k.auth_ext_missing,
            auth_ext_malformed: k.auth_ext_malformed,
            auth_ext_unknown_key: k.auth_ext_unknown_key,
            auth_ext_invalid_hmac: k.auth_ext_invalid_hmac,
            auth_ext_stale: k.auth_ext_stale,
            auth_ext_replay: k.auth_ext_replay,
        },
    }
}

/// Every tracker bound to instance `id`, with its state and what it does now.
fn tracker_rows(
    t: &Trackers,
    id: InstanceId,
    effects: &HashMap<u32, TrackEffect>,
) -> Vec<TrackerStatus> {
    let up_down = |up: Option<bool>| match up {
        Some(true) => "up".to_string(),
        Some(false) => "down".to_string(),
        None => "pending".to_string(),
    };
    let mut rows = Vec::new();
    let mut add = |kind: &str, name: &str, state: String, bindings: &[Binding]| {
        for b in bindings.iter().filter(|b| b.instance == id) {
            let effect = effects.get(&b.tracker).copied();
            let (effect, failing) = match effect {
                None | Some(TrackEffect::Fault(false)) | Some(TrackEffect::Weight(0)) => {
                    ("none".to_string(), false)
                }
                Some(TrackEffect::Fault(true)) => ("fault".to_string(), true),
                Some(TrackEffect::Pending) => ("pending".to_string(), true),
                Some(TrackEffect::Weight(w)) => (format!("weight {w:+}"), w < 0),
            };
            rows.push(TrackerStatus {
                kind: kind.to_string(),
                name: name.to_string(),
                state: state.clone(),
                weight: b.weight,
                effect,
                failing,
            });
        }
    };
    for s in &t.scripts {
        add("script", &s.spec.name, up_down(s.state.ok()), &s.bindings);
    }
    for i in &t.interfaces {
        add("interface", &i.name, up_down(i.up), &i.bindings);
    }
    for f in &t.files {
        let v = f.value.map_or("pending".to_string(), |v| v.to_string());
        add("file", &f.name, v, &f.bindings);
    }
    for p in &t.processes {
        add("process", &p.name, up_down(p.quorum.up), &p.bindings);
    }
    rows
}

/// The loop's side: keeps what the snapshot needs that the engine does not know
/// (wall-clock transitions, the daemon's facts) and publishes.
pub struct Publisher {
    tx: tokio::sync::watch::Sender<Arc<Snapshot>>,
    /// Handed to the checker side, which publishes its view through it.
    checkers: Option<CheckerFeed>,
    /// Handed to the IPVS side.
    ipvs: Option<IpvsFeed>,
    pub daemon: DaemonStatus,
    history: HashMap<String, History>,
    /// Something changed since the last snapshot.
    pub dirty: bool,
}

/// Where the checker side publishes what `keepup status` shows of it: the scheduler's
/// state with its plan, from which the view is made when asked.
pub type CheckerFeed = tokio::sync::watch::Sender<Arc<keepup_check::sched::Moment>>;

/// Where the IPVS side publishes what it knows of the kernel's table.
pub type IpvsFeed = tokio::sync::watch::Sender<Option<Arc<IpvsKnown>>>;

/// What the IPVS side knows that the kernel's table does not say: whether IPVS can be
/// used, which services keepup owns, and the virtual server each programs. The table
/// itself (with its counters) is read from the kernel when the status is asked for, as
/// `ipvsadm -Ln` reads it: the side never holds a copy of tens of thousands of
/// counters for a reader that may never come.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct IpvsKnown {
    /// False: the kernel has no IPVS, or it could not be opened (`note` says which).
    pub available: bool,
    pub note: Option<String>,
    /// IPVS's version and connection table size.
    pub version: Option<(u32, u32)>,
    /// keepalived's name of the virtual server each wanted service programs.
    pub names: Arc<std::collections::BTreeMap<keepup_lvs::ServiceKey, String>>,
    /// The services keepup added or adopted.
    pub owned: Arc<std::collections::BTreeSet<keepup_lvs::ServiceKey>>,
}

impl IpvsKnown {
    /// The status: the kernel's table read now (blocking: a large table takes a few
    /// milliseconds, more in an emulated VM), with the owners and names.
    pub fn read_kernel(&self) -> IpvsStatus {
        let mut status = IpvsStatus {
            available: self.available,
            note: self.note.clone(),
            version: self.version,
            services: Vec::new(),
        };
        if !self.available {
            return status;
        }
        let table = keepup_sys::Ipvs::open()
            .map_err(|e| e.to_string())
            .and_then(|mut i| i.table().map_err(|e| e.to_string()));
        match table {
            Ok(t) => {
                status.services = t
                    .into_iter()
                    .map(|(info, dests)| IpvsService {
                        owned: self.owned.contains(&info.service.key),
                        virtual_server: self.names.get(&info.service.key).cloned(),
                        info,
                        dests,
                    })
                    .collect();
            }
            Err(e) => status.note = Some(format!("cannot read the kernel's table: {e}")),
        }
        status
    }
}

/// What `keepup status` reads: the VRRP loop's snapshot with the checker side's view
/// and the kernel's IPVS table; no side waits for a reader.
#[derive(Clone)]
pub struct Reader {
    vrrp: tokio::sync::watch::Receiver<Arc<Snapshot>>,
    checkers: tokio::sync::watch::Receiver<Arc<keepup_check::sched::Moment>>,
    ipvs: tokio::sync::watch::Receiver<Option<Arc<IpvsKnown>>>,
}

impl Reader {
    /// The status now. Blocking when an IPVS side runs (the kernel's table is read):
    /// call it off the daemon's loop.
    pub fn read(&self) -> Snapshot {
        let mut s = Snapshot::clone(&self.vrrp.borrow());
        s.virtual_servers = self.checkers().view();
        s.ipvs = self.ipvs();
        s
    }
}

impl Reader {
    /// The checker side's latest moment (its plan and states).
    pub fn checkers(&self) -> Arc<keepup_check::sched::Moment> {
        self.checkers.borrow().clone()
    }

    /// The kernel's IPVS table now (None when no IPVS side runs). Blocking: call it
    /// off the daemon's loop.
    pub fn ipvs(&self) -> Option<IpvsStatus> {
        let known = self.ipvs.borrow().clone();
        known.map(|k| k.read_kernel())
    }
}

impl IpvsStatus {
    /// Services and destinations.
    pub fn entries(&self) -> usize {
        self.services.iter().map(|s| 1 + s.dests.len()).sum()
    }
}

impl Publisher {
    pub fn new(daemon: DaemonStatus) -> (Publisher, Reader) {
        let first = Snapshot {
            daemon: daemon.clone(),
            instances: Vec::new(),
            sync_groups: Vec::new(),
            virtual_servers: Vec::new(),
            ipvs: None,
            track_processes: Vec::new(),
        };
        let (tx, vrrp) = tokio::sync::watch::channel(Arc::new(first));
        let (feed, checkers) = tokio::sync::watch::channel(Arc::default());
        let (ipvs_feed, ipvs) = tokio::sync::watch::channel(None);
        let rx = Reader {
            vrrp,
            checkers,
            ipvs,
        };
        let p = Publisher {
            checkers: Some(feed),
            ipvs: Some(ipvs_feed),
            tx,
            daemon,
            history: HashMap::new(),
            dirty: true,
        };
        (p, rx)
    }

    /// The feed for the checker side (once).
    pub fn checker_feed(&mut self) -> Option<CheckerFeed> {
        self.checkers.take()
    }

    /// The feed for the IPVS side (once).
    pub fn ipvs_feed(&mut self) -> Option<IpvsFeed> {
        self.ipvs.take()
    }

    pub fn transition(&mut self, name: &str, from: State, reason: Reason) {
        let h = self.history.entry(name.to_string()).or_default();
        h.last = Some(Transition {
            at: SystemTime::now(),
            from,
            reason,
        });
        h.transitions += 1;
        self.dirty = true;
    }

    /// Another host was found answering for one of the instance's addresses.
    pub fn duplicate_address(&mut self, name: &str) {
        self.history
            .entry(name.to_string())
            .or_default()
            .duplicate_address += 1;
        self.dirty = true;
    }

    /// The `no_accept` filter's failed writes so far.
    pub fn firewall_failures(&mut self, n: u64) {
        if self.daemon.firewall_failures != n {
            self.daemon.firewall_failures = n;
            self.dirty = true;
        }
    }

    /// The VRRP sockets whose kernel filter is strict (see `run::rx_gate`).
    pub fn rx_filter_strict(&mut self, families: Vec<u8>) {
        if self.daemon.rx_filter_strict != families {
            self.daemon.rx_filter_strict = families;
            self.dirty = true;
        }
    }

    pub fn reloaded(&mut self, ok: bool, outcome: String, digest: u64) {
        self.daemon.reloads += 1;
        self.daemon.reload_failures += u64::from(!ok);
        self.daemon.last_reload = Some(ReloadStatus {
            at: epoch_secs(SystemTime::now()),
            outcome,
            ok,
        });
        self.daemon.config_digest = format!("{digest:016x}");
        self.dirty = true;
    }

    /// The snapshot published last.
    pub fn latest(&self) -> Arc<Snapshot> {
        self.tx.borrow().clone()
    }

    pub fn publish(&mut self, router: &Router, plan: &Plan, trackers: &Trackers) {
        let s = snapshot(router, plan, trackers, &self.daemon, &self.history);
        self.tx.send_replace(Arc::new(s));
        self.dirty = false;
    }
}

#[cfg(test)]
pub(crate) mod tests;
