//! The simulation campaign: random fault schedules over 3-5 routers, run on the
//! [`Sim`] and checked against VRRP's invariants; a failing schedule is shrunk to a
//! minimal one and kept as a readable transcript that the test suite replays.
//!
//! A [`Schedule`] is data: routers, virtual routers (VRIDs), faults. Each fault
//! starts at an instant and, except the instantaneous ones (a restart, a reload),
//! heals after its length. [`run`] turns it into simulator actions, runs it and
//! checks:
//!
//! - the simulator's own checks on every input (transitions chain and agree with
//!   `Router::state`; each reason fits the input that caused it, so no transition
//!   without a cause; no down-timer takeover before the last accepted advert plus the
//!   down interval; `handle_timeout` before a deadline does nothing: no timer early);
//!   A Master's adverts by its timer are `advert_int` apart; an instance a reload
//!   keeps does not move;
//! - a `nopreempt` instance never reports a preemption;
//! - after the last fault heals (instant `T`), at `T + bound` each VRID has exactly
//!   one Master, which alone holds the VIPs; its priority is at least that of every
//!   router with preemption on (so the highest wins when all preempt); a sync
//!   group's VRIDs share their Master; then nothing moves for the quiet period (no
//!   needless transition).
//!
//! `bound` is the RFC's Master_Down_Interval (RFC 3768 §6.1, RFC 9568 §6.1):
//! `3 × Master_Adver_Interval + Skew_Time`, taken at its largest for the VRID (the
//! largest advert interval of its routers, the largest Skew_Time of any priority a
//! router ran with: `(256 − p)/256` s in v2, `(256 − p) × interval / 256` in v3),
//! plus the LAN's one-way delay, since the last step, a Master hearing a better one,
//! takes one advert's trip. See `README.md` for why that bound holds.
mod gen;
mod shrink;
mod text;

pub use gen::generate;
pub use shrink::{classes, shrink, valid};
pub use text::{parse, to_text};

use crate::cfg::{ms, v2, v3, v3_6, CfgExt};
use crate::sim::{Action, LanId, LanParams, LinkParams, RouterId, RouterSpec, Sim, SuspendClock};
use keepup_vrrp::{
    HmacConfig, IfIndex, InitialState, InstanceConfig, InstanceId, Reason, TrackEffect,
};
use keepup_wire::hmac_auth::{AntiReplay, Key, Mode};
use keepup_wire::vrrp::Version;
use std::collections::BTreeMap;
use std::net::IpAddr;
use std::time::Duration;

/// One router's part in one VRID.
#[derive(Debug, Clone, PartialEq)]
pub struct Member {
    pub priority: u8,
    pub interval_ms: u64,
    pub preempt: bool,
    /// `state MASTER`.
    pub master: bool,
}

/// `auth_hmac` of a VRID (one shared key, `mode enforce`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Hmac {
    /// `anti_replay time` with this window, seconds.
    Time(u32),
    Monotonic,
}

/// A virtual router and its routers (one [`Member`] per router, in order).
#[derive(Debug, Clone, PartialEq)]
pub struct Vrid {
    pub vrid: u8,
    pub version: Version,
    pub v6: bool,
    /// `unicast_peer`: each router lists the others; adverts go to each of them.
    pub unicast: bool,
    pub hmac: Option<Hmac>,
    pub members: Vec<Member>,
}

/// What goes wrong.
#[derive(Debug, Clone, PartialEq)]
pub enum FaultKind {
    /// The LAN loses this share of copies.
    Loss(u8),
    /// The LAN duplicates this share of copies.
    Dup(u8),
    /// The LAN delays each copy by `delay_ms` plus up to `jitter_ms` (reordering).
    Delay { delay_ms: u64, jitter_ms: u64 },
    /// The LAN splits: these routers on one side, the others on the other.
    Partition(Vec<usize>),
    /// Asymmetric: the router hears nobody; everyone hears it.
    Deaf(usize),
    /// Its link goes down (FAULT), and comes back.
    Link(usize),
    /// Powered off, then started afresh (a new engine) when the fault heals.
    Crash(usize),
    /// Crash and start at once (instantaneous).
    Restart(usize),
    /// A clean stop (SIGTERM: a Master resigns with priority 0), then a fresh start
    /// when the fault heals.
    Stop(usize),
    /// The host is suspended (see [`SuspendClock`]).
    Suspend(usize, SuspendClock),
    /// A reload sets this router's priority in VRID number `vrid` (index into
    /// `Schedule::vrids`); instantaneous, and it stays.
    Priority {
        router: usize,
        vrid: usize,
        priority: u8,
    },
    /// A tracker adds `weight` to the router's priority in one VRID.
    Weight {
        router: usize,
        vrid: usize,
        weight: i32,
    },
    /// A tracker puts the router's instance of one VRID in FAULT.
    TrackFault { router: usize, vrid: usize },
    /// The router's wall clock steps by `offset_ms` (forward or back) and is
    /// corrected when the fault heals.
    Wall { router: usize, offset_ms: i64 },
}

/// The fault kinds, as the summary and transcripts name them.
pub const KINDS: [&str; 14] = [
    "loss",
    "dup",
    "delay",
    "partition",
    "deaf",
    "link",
    "crash",
    "restart",
    "stop",
    "suspend",
    "priority",
    "weight",
    "trackfault",
    "wall",
];

impl FaultKind {
    pub fn name(&self) -> &'static str {
        match self {
            FaultKind::Loss(_) => "loss",
            FaultKind::Dup(_) => "dup",
            FaultKind::Delay { .. } => "delay",
            FaultKind::Partition(_) => "partition",
            FaultKind::Deaf(_) => "deaf",
            FaultKind::Link(_) => "link",
            FaultKind::Crash(_) => "crash",
            FaultKind::Restart(_) => "restart",
            FaultKind::Stop(_) => "stop",
            FaultKind::Suspend(..) => "suspend",
            FaultKind::Priority { .. } => "priority",
            FaultKind::Weight { .. } => "weight",
            FaultKind::TrackFault { .. } => "trackfault",
            FaultKind::Wall { .. } => "wall",
        }
    }

    /// Restart and reload happen at an instant; the others last.
    pub fn instantaneous(&self) -> bool {
        matches!(self, FaultKind::Restart(_) | FaultKind::Priority { .. })
    }

    /// The routers it names.
    pub fn routers(&self) -> Vec<usize> {
        match self {
            FaultKind::Loss(_) | FaultKind::Dup(_) | FaultKind::Delay { .. } => Vec::new(),
            FaultKind::Partition(side) => side.clone(),
            FaultKind::Deaf(r)
            | FaultKind::Link(r)
            | FaultKind::Crash(r)
            | FaultKind::Restart(r)
            | FaultKind::Stop(r)
            | FaultKind::Suspend(r, _) => vec![*r],
            FaultKind::Priority { router, .. }
            | FaultKind::Weight { router, .. }
            | FaultKind::TrackFault { router, .. }
            | FaultKind::Wall { router, .. } => vec![*router],
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Fault {
    pub at_ms: u64,
    /// 0 for an instantaneous fault.
    pub len_ms: u64,
    pub kind: FaultKind,
}

impl Fault {
    pub fn end_ms(&self) -> u64 {
        self.at_ms + self.len_ms
    }
}

/// A whole run: see the module doc.
#[derive(Debug, Clone, PartialEq)]
pub struct Schedule {
    /// The campaign seed it was generated from (a name; replay needs only the rest).
    pub seed: u64,
    /// The simulator's seed (loss, duplication, jitter draws).
    pub sim_seed: u64,
    /// Start instant of each router, ms.
    pub starts: Vec<u64>,
    /// The LAN's one-way delay, also once healed, ms.
    pub delay_ms: u64,
    pub vrids: Vec<Vrid>,
    /// On every router, all its instances form one `vrrp_sync_group` (their
    /// priority, preemption and start state then agree per router).
    pub group: bool,
    pub faults: Vec<Fault>,
}

impl Schedule {
    pub fn routers(&self) -> usize {
        self.starts.len()
    }

    /// The instant the last fault has healed and every router has started.
    ///
    /// A wall clock stepped forward by X is corrected at the fault's end, but with
    /// `auth_hmac` its effect lasts until true time reaches what the stepped clock
    /// read (end + X): peers may have accepted sequences that far ahead and keep
    /// them as the sender's mark, and a sender that starts afresh (a crash, a
    /// restart, a reload that renews the instance) signs from its clock again, so
    /// its adverts are refused as replays until then. That is the protocol's doing
    /// (keepalived 2.4.3 persists no sequence either), not a fault of the engine.
    pub fn heal_ms(&self) -> u64 {
        let hmac = self.vrids.iter().any(|v| v.hmac.is_some());
        // Overlapping steps of one router add up: take the sum of its forward ones.
        let ahead = |k: usize| -> u64 {
            self.faults
                .iter()
                .filter_map(|f| match f.kind {
                    FaultKind::Wall { router, offset_ms } if router == k && offset_ms > 0 => {
                        Some(offset_ms.unsigned_abs())
                    }
                    _ => None,
                })
                .sum()
        };
        let lasting = |f: &Fault| match f.kind {
            FaultKind::Wall { router, offset_ms } if hmac && offset_ms > 0 => {
                f.end_ms() + ahead(router)
            }
            _ => f.end_ms(),
        };
        let f = self.faults.iter().map(lasting).max().unwrap_or(0);
        let s = self.starts.iter().copied().max().unwrap_or(0);
        f.max(s)
    }

    /// The largest Master_Down_Interval of any VRID (see the module doc).
    pub fn down_bound(&self) -> Duration {
        (0..self.vrids.len())
            .map(|v| self.vrid_down_bound(v))
            .max()
            .unwrap_or_default()
    }

    /// Master_Down_Interval at its largest for VRID number `v`.
    pub fn vrid_down_bound(&self, v: usize) -> Duration {
        let vr = &self.vrids[v];
        let int = vr
            .members
            .iter()
            .map(|m| m.interval_ms)
            .max()
            .unwrap_or(1000);
        let int = Duration::from_millis(int);
        let weighted = self
            .faults
            .iter()
            .any(|f| matches!(f.kind, FaultKind::Weight { vrid, .. } if vrid == v));
        let reloaded = self.faults.iter().filter_map(|f| match f.kind {
            FaultKind::Priority { vrid, priority, .. } if vrid == v => Some(priority),
            _ => None,
        });
        let lowest = if weighted {
            1
        } else {
            vr.members
                .iter()
                .map(|m| m.priority)
                .chain(reloaded)
                .min()
                .unwrap_or(1)
        };
        crate::cfg::down_interval(vr.version, lowest, int, 3)
    }

    /// Each VRID's priorities once every fault healed (reloads stay).
    pub fn final_priorities(&self, v: usize) -> Vec<u8> {
        let mut p: Vec<u8> = self.vrids[v].members.iter().map(|m| m.priority).collect();
        let mut reloads: Vec<&Fault> = self
            .faults
            .iter()
            .filter(|f| matches!(f.kind, FaultKind::Priority { vrid, .. } if vrid == v))
            .collect();
        reloads.sort_by_key(|f| f.at_ms);
        for f in reloads {
            if let FaultKind::Priority {
                router, priority, ..
            } = f.kind
            {
                if let Some(x) = p.get_mut(router) {
                    *x = priority;
                }
            }
        }
        p
    }
}

/// What one run found.
#[derive(Debug, Clone, Default)]
pub struct Outcome {
    pub violations: Vec<String>,
    /// State changes the simulator checked (chain, cause, timer bound).
    pub transitions: usize,
    /// Adverts accepted by a Backup or Master (each moves the timer bound).
    pub adverts: usize,
    /// Post-heal checks made (one Master, VIPs, priority, quiet).
    pub post_heal: usize,
    /// The simulator's transcript.
    pub transcript: String,
}

impl Outcome {
    pub fn failed(&self) -> bool {
        !self.violations.is_empty()
    }
}

/// Unix time at simulation time 0: 2026-06-01.
const WALL_EPOCH: Duration = Duration::from_secs(1_780_272_000);

/// Router `k`'s instance of `vr` on `lan`, among `n` routers.
fn instance(vr: &Vrid, m: &Member, k: usize, n: usize, lan: LanId) -> InstanceConfig {
    let c = match (vr.version, vr.v6) {
        (Version::V2, _) => v2(vr.vrid, m.priority),
        (Version::V3, false) => v3(vr.vrid, m.priority),
        (Version::V3, true) => v3_6(vr.vrid, m.priority),
    };
    let mut c = c.advert_int_ms(m.interval_ms);
    if !m.preempt {
        c = c.nopreempt();
    }
    if m.master {
        c.state = InitialState::Master;
    }
    if vr.unicast {
        let peers: Vec<IpAddr> = (0..n)
            .filter(|&j| j != k)
            .map(|j| {
                if vr.v6 {
                    IpAddr::V6(Sim::default_v6(lan, j + 1))
                } else {
                    IpAddr::V4(Sim::default_v4(lan, j + 1))
                }
            })
            .collect();
        c = c.unicast_peers(&peers);
    }
    if let Some(h) = vr.hmac {
        c.auth_hmac = Some(HmacConfig {
            keys: vec![Key::new(1, vec![0x5a; 32]).expect("a 32-octet key")],
            active_key: 1,
            anti_replay: match h {
                Hmac::Time(window) => AntiReplay::Time { window },
                Hmac::Monotonic => AntiReplay::Monotonic,
            },
            mode: Mode::Enforce,
        });
    }
    c
}

/// Boundaries of faults that combine (LAN treatment, per-router link state, wall
/// offsets): every instant at which one starts or ends.
fn boundaries<'a>(faults: impl Iterator<Item = &'a Fault>) -> Vec<u64> {
    let mut b: Vec<u64> = faults.flat_map(|f| [f.at_ms, f.end_ms()]).collect();
    b.sort_unstable();
    b.dedup();
    b
}

fn active(f: &Fault, t: u64) -> bool {
    f.at_ms <= t && t < f.end_ms()
}

/// The simulator with every router and every fault scheduled.
pub fn build(s: &Schedule) -> (Sim, Vec<RouterId>) {
    let mut sim = Sim::new(s.sim_seed);
    sim.set_strict(false);
    sim.spurious_wakeups(0.1);
    sim.set_wall_epoch(WALL_EPOCH);
    let base = LanParams::default().delay(Duration::from_millis(s.delay_ms));
    let lan = sim.lan_with(base);
    let rs: Vec<RouterId> = (0..s.routers())
        .map(|k| {
            let mut spec = RouterSpec::new().iface(lan).start_at(ms(s.starts[k]));
            for vr in &s.vrids {
                if let Some(m) = vr.members.get(k) {
                    spec = spec.instance(instance(vr, m, k, s.routers(), lan));
                }
            }
            if s.group {
                let names: Vec<String> = s.vrids.iter().map(|v| format!("VI_{}", v.vrid)).collect();
                let names: Vec<&str> = names.iter().map(String::as_str).collect();
                spec = spec.sync_group("G", &names);
            }
            sim.add(spec)
        })
        .collect();
    // The LAN's treatment: at each boundary, the worst of the faults then active.
    let lan_faults: Vec<&Fault> = s
        .faults
        .iter()
        .filter(|f| {
            matches!(
                f.kind,
                FaultKind::Loss(_) | FaultKind::Dup(_) | FaultKind::Delay { .. }
            )
        })
        .collect();
    for t in boundaries(lan_faults.iter().copied()) {
        let mut p = base;
        for f in lan_faults.iter().filter(|f| active(f, t)) {
            match f.kind {
                FaultKind::Loss(pct) => p.loss = p.loss.max(f64::from(pct) / 100.0),
                FaultKind::Dup(pct) => p.dup = p.dup.max(f64::from(pct) / 100.0),
                FaultKind::Delay {
                    delay_ms,
                    jitter_ms,
                } => {
                    p.delay = p.delay.max(Duration::from_millis(s.delay_ms + delay_ms));
                    p.jitter = p.jitter.max(Duration::from_millis(jitter_ms));
                }
                _ => {}
            }
        }
        sim.at(ms(t), Action::SetLan(lan, p));
    }
    for (k, &r) in rs.iter().enumerate() {
        let mine = |pred: fn(&FaultKind, usize) -> bool| -> Vec<&Fault> {
            s.faults.iter().filter(|f| pred(&f.kind, k)).collect()
        };
        let deaf = mine(|x, k| *x == FaultKind::Deaf(k));
        for t in boundaries(deaf.iter().copied()) {
            let on = deaf.iter().any(|f| active(f, t));
            let params = LinkParams {
                delay: Duration::ZERO,
                loss: if on { 1.0 } else { 0.0 },
            };
            sim.at(
                ms(t),
                Action::SetLink {
                    router: r,
                    interface: IfIndex(1),
                    params,
                },
            );
        }
        let link = mine(|x, k| *x == FaultKind::Link(k));
        for t in boundaries(link.iter().copied()) {
            let down = link.iter().any(|f| active(f, t));
            let a = if down {
                Action::link_down(r)
            } else {
                Action::link_up(r)
            };
            sim.at(ms(t), a);
        }
        let wall = mine(|x, k| matches!(x, FaultKind::Wall { router, .. } if *router == k));
        for t in boundaries(wall.iter().copied()) {
            let offset_ms = wall
                .iter()
                .filter(|f| active(f, t))
                .map(|f| match f.kind {
                    FaultKind::Wall { offset_ms, .. } => offset_ms,
                    _ => 0,
                })
                .sum();
            sim.at(
                ms(t),
                Action::Wall {
                    router: r,
                    offset_ms,
                },
            );
        }
    }
    for (n, f) in s.faults.iter().enumerate() {
        let (at, end) = (ms(f.at_ms), ms(f.end_ms()));
        let tracker = n as u32 + 1;
        match &f.kind {
            FaultKind::Partition(side) => {
                let a: Vec<RouterId> = side.iter().filter_map(|&k| rs.get(k).copied()).collect();
                let b: Vec<RouterId> = rs.iter().copied().filter(|r| !a.contains(r)).collect();
                sim.at(at, Action::Partition(lan, vec![a, b]));
                sim.at(end, Action::Heal(lan));
            }
            FaultKind::Crash(k) => {
                sim.at(at, Action::Crash(rs[*k]));
                sim.at(end, Action::Start(rs[*k]));
            }
            FaultKind::Restart(k) => sim.at(at, Action::Restart(rs[*k])),
            FaultKind::Stop(k) => {
                sim.at(at, Action::Shutdown(rs[*k]));
                sim.at(end, Action::Start(rs[*k]));
            }
            FaultKind::Suspend(k, clock) => sim.at(
                at,
                Action::Suspend {
                    router: rs[*k],
                    length: end - at,
                    clock: *clock,
                },
            ),
            FaultKind::Priority {
                router,
                vrid,
                priority,
            } => sim.at(
                at,
                Action::Reload {
                    router: rs[*router],
                    instance: InstanceId(*vrid),
                    priority: *priority,
                },
            ),
            FaultKind::Weight { router, vrid, .. } | FaultKind::TrackFault { router, vrid } => {
                // Each fault is a tracker of its own; it reports healthy at the end.
                let (on, off) = match f.kind {
                    FaultKind::Weight { weight, .. } => {
                        (TrackEffect::Weight(weight), TrackEffect::Weight(0))
                    }
                    _ => (TrackEffect::Fault(true), TrackEffect::Fault(false)),
                };
                for (t, effect) in [(at, on), (end, off)] {
                    sim.at(
                        t,
                        Action::Track {
                            router: rs[*router],
                            instance: InstanceId(*vrid),
                            tracker,
                            effect,
                        },
                    );
                }
            }
            _ => {}
        }
    }
    (sim, rs)
}

/// Run a schedule and check it (see the module doc). A panic inside the engine or
/// the simulator is a violation too.
pub fn run(s: &Schedule) -> Outcome {
    run_healed_at(s, s.heal_ms())
}

/// [`run`], with the post-heal checks counted from `heal_ms` instead of
/// [`Schedule::heal_ms`] (tests of the checks themselves).
pub fn run_healed_at(s: &Schedule, heal_ms: u64) -> Outcome {
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| run_inner(s, heal_ms))) {
        Ok(o) => o,
        Err(e) => {
            let msg = e
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_else(|| "panic".to_string());
            Outcome {
                violations: vec![format!("panic: {msg}")],
                ..Outcome::default()
            }
        }
    }
}

fn run_inner(s: &Schedule, heal_ms: u64) -> Outcome {
    let (mut sim, rs) = build(s);
    let heal = ms(heal_ms);
    let bound = s.down_bound() + Duration::from_millis(s.delay_ms);
    let check_at = heal + bound;
    sim.run_until(check_at);
    let mut out = Outcome::default();
    let mut post = Vec::new();
    for (v, vr) in s.vrids.iter().enumerate() {
        let vrid = vr.vrid;
        let masters = sim.masters(vrid);
        out.post_heal += 1;
        if masters.len() != 1 {
            post.push(format!(
                "VRID {vrid}: {} Masters {masters:?} at {check_at}, {} after the last fault healed at {heal} (bound: Master_Down_Interval {} ms + delay)",
                masters.len(),
                fmt_d(bound),
                s.vrid_down_bound(v).as_millis()
            ));
            continue;
        }
        out.post_heal += 1;
        let holders = sim.vip_holders(vrid);
        if holders != masters {
            post.push(format!(
                "VRID {vrid}: Master {:?} but VIPs on {holders:?}",
                masters
            ));
        }
        out.post_heal += 1;
        let prios = s.final_priorities(v);
        let k = rs.iter().position(|r| *r == masters[0]).unwrap_or(0);
        let top_preempt = vr
            .members
            .iter()
            .zip(&prios)
            .filter(|(m, _)| m.preempt)
            .map(|(_, p)| *p)
            .max();
        if top_preempt.is_some_and(|t| prios[k] < t) {
            post.push(format!(
                "VRID {vrid}: Master {} has priority {} below a preempting router's {}",
                masters[0],
                prios[k],
                top_preempt.unwrap_or(0)
            ));
        }
    }
    if s.group {
        out.post_heal += 1;
        let owners: Vec<Vec<RouterId>> = s.vrids.iter().map(|v| sim.masters(v.vrid)).collect();
        if owners.windows(2).any(|w| w[0] != w[1]) {
            post.push(format!("sync group split: Masters per VRID {owners:?}"));
        }
    }
    let quiet_from = check_at + Duration::from_nanos(1);
    let quiet = s.down_bound() * 4 + Duration::from_secs(5);
    sim.run_until(check_at + quiet);
    out.post_heal += s.vrids.len();
    let moved: Vec<String> = sim
        .transitions_since(quiet_from)
        .iter()
        .map(|x| {
            format!(
                "t={} {} VRID {} {}->{} reason={}",
                x.at,
                x.router,
                x.vrid,
                x.from,
                x.to,
                x.reason.as_str()
            )
        })
        .collect();
    if !moved.is_empty() {
        post.push(format!(
            "transitions after {check_at} with no fault left: {}",
            moved.join("; ")
        ));
    }
    for x in sim.transitions() {
        let c = sim.config(x.router, x.instance);
        if x.reason == Reason::Preempt && !c.preempt {
            post.push(format!(
                "t={} {} VRID {}: preempt by a nopreempt instance",
                x.at, x.router, x.vrid
            ));
        }
    }
    out.violations = sim
        .violations()
        .iter()
        .map(|v| format!("sim: {v}"))
        .chain(post)
        .collect();
    out.transitions = sim.transitions().len();
    out.adverts = sim.heard().iter().filter(|h| h.accepted).count();
    if out.failed() {
        out.transcript = sim.transcript();
    }
    out
}

fn fmt_d(d: Duration) -> String {
    format!("{}ms", d.as_millis())
}

/// Totals over many runs.
#[derive(Debug, Clone, Default)]
pub struct Tally {
    pub schedules: u64,
    pub failed: u64,
    /// Schedules by router count (index = routers).
    pub by_routers: [u64; 8],
    pub vrids: u64,
    /// VRIDs by kind: VRRPv2, v3 over IPv4, v3 over IPv6, unicast, `auth_hmac`.
    pub v2: u64,
    pub v3_4: u64,
    pub v3_6: u64,
    pub unicast: u64,
    pub hmac: u64,
    /// Schedules with a sync group.
    pub grouped: u64,
    pub faults: BTreeMap<&'static str, u64>,
    pub transitions: u64,
    pub adverts: u64,
    pub post_heal: u64,
    /// Simulated time, ms.
    pub sim_ms: u64,
}

impl Tally {
    pub fn add(&mut self, s: &Schedule, o: &Outcome) {
        self.schedules += 1;
        if o.failed() {
            self.failed += 1;
        }
        if let Some(x) = self.by_routers.get_mut(s.routers()) {
            *x += 1;
        }
        self.vrids += s.vrids.len() as u64;
        for v in &s.vrids {
            match (v.version, v.v6) {
                (Version::V2, _) => self.v2 += 1,
                (Version::V3, false) => self.v3_4 += 1,
                (Version::V3, true) => self.v3_6 += 1,
            }
            self.unicast += u64::from(v.unicast);
            self.hmac += u64::from(v.hmac.is_some());
        }
        self.grouped += u64::from(s.group);
        for f in &s.faults {
            *self.faults.entry(f.kind.name()).or_default() += 1;
        }
        self.transitions += o.transitions as u64;
        self.adverts += o.adverts as u64;
        self.post_heal += o.post_heal as u64;
        let b = s.down_bound() + Duration::from_millis(s.delay_ms);
        self.sim_ms += s.heal_ms() + (b * 5).as_millis() as u64 + 5000;
    }

    pub fn merge(&mut self, o: &Tally) {
        self.schedules += o.schedules;
        self.failed += o.failed;
        for (a, b) in self.by_routers.iter_mut().zip(o.by_routers) {
            *a += b;
        }
        self.vrids += o.vrids;
        self.v2 += o.v2;
        self.v3_4 += o.v3_4;
        self.v3_6 += o.v3_6;
        self.unicast += o.unicast;
        self.hmac += o.hmac;
        self.grouped += o.grouped;
        for (k, v) in &o.faults {
            *self.faults.entry(k).or_default() += v;
        }
        self.transitions += o.transitions;
        self.adverts += o.adverts;
        self.post_heal += o.post_heal;
        self.sim_ms += o.sim_ms;
    }
}
