//! The multi-router simulator: N [`Router`]s (r1, r2, ...) on M virtual LANs, on
//! virtual time.
//!
//! Each router interface attaches to one LAN and has an IPv4 primary address
//! (10.0.{lan}.{n} for router rn unless the scenario picks one) and an IPv6
//! link-local (fe80::{lan}:{n}, i.e. fe80::{n} on lan0). Packets leave through the
//! LAN: a multicast destination reaches every other interface on the LAN, a unicast
//! one reaches the interface holding that address. IPv4 packets are delivered as
//! the bytes that were sent (`RxData::V4`), IPv6 ones as `RxData::V6` with the
//! advert's TTL as hop limit: nothing is decremented on a LAN.
//!
//! Time moves by steps to the next event: the earliest of the routers'
//! `poll_timeout()`, packet arrivals and scheduled scenario [`Action`]s. Within
//! one instant the order is: actions, then expired timers (routers in order), then
//! arrivals (in send order), repeated until nothing is left at that instant. Every
//! random choice (loss, duplication, jitter) comes from one seeded splitmix64, so a
//! run is a pure function of the scenario and its seed.
//!
//! While it runs the simulator checks the engine and reports a violation (a panic
//! with the transcript, unless [`Sim::set_strict`] is off):
//! - each `Transition` starts from the state the previous one ended in, and
//!   `Router::state` agrees with the transitions reported;
//! - each transition's reason fits the input that caused it (a timer, a packet,
//!   a tracker, ...);
//! - no Backup becomes MASTER by its down timer (`master-down`, `preempt`,
//!   `priority-zero`) before the last advert it
//!   accepted (counted by `rcvd_advertisements`) plus the down interval that
//!   advert implies (or Skew_Time for priority 0), nor before Startup plus the
//!   down interval (INI-02);
//! - with [`Sim::spurious_wakeups`] on, `handle_timeout(now)` called before a
//!   router's deadline produces nothing and leaves the deadline alone (no timer
//!   fires early).
mod clock;
mod query;

pub use clock::SuspendClock;
use clock::{Frozen, Held};

use crate::cfg::{down_interval, skew_time};
use crate::peek::{self, Peek};
use crate::rng::SplitMix64;
use keepup_vrrp::{
    Event, IfIndex, Input, InstanceConfig, InstanceId, Instant, Output, Reason, Router, RxData,
    RxPacket, State, SyncGroupConfig, TrackEffect, TxAdvert,
};
use keepup_wire::vrrp::Version;
use std::collections::BTreeMap;
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::Duration;

/// A simulated router: `RouterId(0)` is r1.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RouterId(pub usize);

impl fmt::Display for RouterId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "r{}", self.0 + 1)
    }
}

/// A virtual LAN: `LanId(0)` is lan0.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct LanId(pub usize);

impl fmt::Display for LanId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "lan{}", self.0)
    }
}

/// How a LAN treats each copy of a packet. Defaults: no delay, no loss.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct LanParams {
    /// Fixed one-way delay.
    pub delay: Duration,
    /// Extra delay, uniform in 0..=jitter, drawn per copy (so copies may reorder).
    pub jitter: Duration,
    /// Probability that a copy to one receiver is lost.
    pub loss: f64,
    /// Probability that a receiver gets a second copy.
    pub dup: f64,
}

impl LanParams {
    pub fn delay(mut self, d: Duration) -> Self {
        self.delay = d;
        self
    }
    pub fn jitter(mut self, d: Duration) -> Self {
        self.jitter = d;
        self
    }
    pub fn loss(mut self, p: f64) -> Self {
        self.loss = p;
        self
    }
    pub fn dup(mut self, p: f64) -> Self {
        self.dup = p;
        self
    }
}

impl fmt::Display for LanParams {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "delay={}ms jitter={}ms loss={}% dup={}%",
            self.delay.as_millis(),
            self.jitter.as_millis(),
            (self.loss * 100.0).round(),
            (self.dup * 100.0).round()
        )
    }
}

/// What one receiving interface adds to its LAN's treatment.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct LinkParams {
    pub delay: Duration,
    pub loss: f64,
}

/// Something the scenario does at an instant (see [`Sim::at`]).
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// Power on: a new `Router` from the configuration, then `Input::Startup`. On a
    /// router that was shut down, this starts a fresh one.
    Start(RouterId),
    /// The router stops sending, receiving and running timers, without Shutdown;
    /// its VIPs are considered gone.
    Crash(RouterId),
    /// A crash (if running) followed by a start: a new `Router`, then Startup.
    Restart(RouterId),
    /// `Input::Shutdown` (Masters resign with priority 0).
    Shutdown(RouterId),
    /// The interface's carrier: it stops (or resumes) sending and receiving, and
    /// the router gets `Input::Link`.
    Link {
        router: RouterId,
        interface: IfIndex,
        up: bool,
    },
    /// `Input::Track`.
    Track {
        router: RouterId,
        instance: InstanceId,
        tracker: u32,
        effect: TrackEffect,
    },
    /// Split the LAN: each group hears only itself; routers not named form one more
    /// group.
    Partition(LanId, Vec<Vec<RouterId>>),
    /// Undo the partition.
    Heal(LanId),
    /// New delay / loss / duplication for the LAN.
    SetLan(LanId, LanParams),
    /// New receive-side delay / loss for one interface.
    SetLink {
        router: RouterId,
        interface: IfIndex,
        params: LinkParams,
    },
    /// The host is suspended for `length` (a paused VM, a stopped process): the
    /// engine gets no call at all; packets and other inputs for it wait (up to a
    /// socket buffer's worth of packets) and reach it at the resume, after its
    /// overdue timers. `clock` says what its monotonic clock did meanwhile.
    Suspend {
        router: RouterId,
        length: Duration,
        clock: SuspendClock,
    },
    /// The host's wall clock (what `Router::set_wall` is given) now reads true time
    /// plus `offset_ms` (0: corrected). Only `auth_hmac` reads it.
    Wall { router: RouterId, offset_ms: i64 },
    /// A reload that changes one instance's priority: the engine retires that
    /// instance (a Master resigns with priority 0), takes the new configuration
    /// and starts it afresh, as the daemon's reload does.
    Reload {
        router: RouterId,
        instance: InstanceId,
        priority: u8,
    },
    /// The end of a [`Action::Suspend`] (it schedules this itself).
    Resume(RouterId),
}

impl Action {
    /// Tracker 0 of the router's first instance contributes `weight`.
    pub fn weight(router: RouterId, weight: i32) -> Action {
        Action::Track {
            router,
            instance: InstanceId(0),
            tracker: 0,
            effect: TrackEffect::Weight(weight),
        }
    }
    /// Tracker 0 of `instance` faults (or recovers).
    pub fn fault(router: RouterId, instance: InstanceId, fault: bool) -> Action {
        Action::Track {
            router,
            instance,
            tracker: 0,
            effect: TrackEffect::Fault(fault),
        }
    }
    /// The router's first interface goes down.
    pub fn link_down(router: RouterId) -> Action {
        Action::Link {
            router,
            interface: IfIndex(1),
            up: false,
        }
    }
    /// The router's first interface comes up.
    pub fn link_up(router: RouterId) -> Action {
        Action::Link {
            router,
            interface: IfIndex(1),
            up: true,
        }
    }
}

/// When a router built from a [`RouterSpec`] starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum StartAt {
    Now,
    At(Instant),
    Never,
}

/// A router to add: its interfaces (the n-th is `IfIndex(n)`), instances and
/// sync groups, and when it starts (default: at once).
#[derive(Debug, Clone)]
pub struct RouterSpec {
    ifaces: Vec<(LanId, Option<Ipv4Addr>, Option<Ipv6Addr>)>,
    instances: Vec<InstanceConfig>,
    groups: Vec<SyncGroupConfig>,
    start: StartAt,
}

impl Default for RouterSpec {
    fn default() -> Self {
        RouterSpec::new()
    }
}

impl RouterSpec {
    pub fn new() -> RouterSpec {
        RouterSpec {
            ifaces: Vec::new(),
            instances: Vec::new(),
            groups: Vec::new(),
            start: StartAt::Now,
        }
    }
    /// One more interface on `lan`, with the default addresses.
    pub fn iface(mut self, lan: LanId) -> Self {
        self.ifaces.push((lan, None, None));
        self
    }
    /// One more interface on `lan` with this IPv4 primary address.
    pub fn iface_v4(mut self, lan: LanId, addr: Ipv4Addr) -> Self {
        self.ifaces.push((lan, Some(addr), None));
        self
    }
    /// One more interface on `lan` with this IPv6 link-local address.
    pub fn iface_v6(mut self, lan: LanId, addr: Ipv6Addr) -> Self {
        self.ifaces.push((lan, None, Some(addr)));
        self
    }
    pub fn instance(mut self, c: InstanceConfig) -> Self {
        self.instances.push(c);
        self
    }
    pub fn sync_group(mut self, name: &str, members: &[&str]) -> Self {
        self.groups.push(SyncGroupConfig {
            name: name.to_string(),
            members: members.iter().map(|m| m.to_string()).collect(),
        });
        self
    }
    /// Start at `t` instead of at once.
    pub fn start_at(mut self, t: Instant) -> Self {
        self.start = StartAt::At(t);
        self
    }
    /// Do not start: the scenario schedules [`Action::Start`] itself.
    pub fn unstarted(mut self) -> Self {
        self.start = StartAt::Never;
        self
    }
}

/// One state change, as the engine reported it.
#[derive(Debug, Clone, PartialEq)]
pub struct TransitionRecord {
    pub at: Instant,
    pub router: RouterId,
    pub instance: InstanceId,
    pub vrid: u8,
    pub from: State,
    pub to: State,
    pub reason: Reason,
}

/// One advert the engine asked to send.
#[derive(Debug, Clone, PartialEq)]
pub struct AdvertRecord {
    pub at: Instant,
    pub router: RouterId,
    pub instance: InstanceId,
    pub vrid: u8,
    pub priority: u8,
    /// As carried (v2: seconds; v3: centiseconds).
    pub interval: Duration,
    pub dst: IpAddr,
    /// False if the interface was down (the advert never left).
    pub sent: bool,
}

/// One advert that reached a running router.
#[derive(Debug, Clone, PartialEq)]
pub struct HeardRecord {
    pub at: Instant,
    pub router: RouterId,
    /// The receiving instance (same VRID, interface and family), if any.
    pub instance: Option<InstanceId>,
    pub from: RouterId,
    pub vrid: u8,
    pub priority: u8,
    pub interval: Duration,
    /// The instance's `rcvd_advertisements` counter moved: every check passed.
    pub accepted: bool,
}

/// A log-worthy engine event.
#[derive(Debug, Clone, PartialEq)]
pub struct EventRecord {
    pub at: Instant,
    pub router: RouterId,
    pub event: Event,
}

#[derive(Debug, Clone)]
struct Iface {
    index: IfIndex,
    lan: LanId,
    v4: Ipv4Addr,
    v6: Ipv6Addr,
    up: bool,
    params: LinkParams,
}

/// Per-instance bookkeeping of the simulator (not the engine's state).
#[derive(Debug, Clone)]
struct Track {
    /// The state the last Transition ended in.
    state: State,
    vips: bool,
    /// No MASTER by master-down before this instant (see the module doc).
    earliest_master_down: Option<Instant>,
    /// The interval a v3 Backup last adopted (TMR-07), for skew bounds.
    adopted_interval: Option<Duration>,
    /// Engine time of the Master's last advert by its advert timer (or of the
    /// re-arm a priority-0 advert causes, MST-08): the next one by the timer may
    /// not come sooner than `advert_int` after it.
    last_adver: Option<Instant>,
}

impl Track {
    fn new() -> Track {
        Track {
            state: State::Initialize,
            vips: false,
            earliest_master_down: None,
            adopted_interval: None,
            last_adver: None,
        }
    }
}

#[derive(Debug)]
struct Node {
    ifaces: Vec<Iface>,
    configs: Vec<InstanceConfig>,
    groups: Vec<SyncGroupConfig>,
    engine: Option<Router>,
    /// After Shutdown: running but stopped; Start builds a fresh engine.
    shut_down: bool,
    /// Engine time lags simulation time by this much (a stalled monotonic clock):
    /// the engine's `now` is the simulation's minus `lag`.
    lag: Duration,
    /// The wall clock's offset from true time, in ms (see [`Action::Wall`]).
    wall_offset_ms: i64,
    /// Suspended (see [`Action::Suspend`]).
    frozen: Option<Frozen>,
    /// Tracker effects the scenario set and did not clear (`Weight(0)` clears), fed
    /// again to a fresh engine before its Startup.
    trackers: BTreeMap<(InstanceId, u32), TrackEffect>,
    /// `poll_timeout()` after the last call.
    deadline: Option<Instant>,
    track: Vec<Track>,
}

impl Node {
    fn iface(&self, index: IfIndex) -> Option<&Iface> {
        self.ifaces.iter().find(|i| i.index == index)
    }
}

#[derive(Debug)]
struct Lan {
    params: LanParams,
    /// Partition groups by router; `None`: connected.
    groups: Option<BTreeMap<RouterId, usize>>,
}

impl Lan {
    fn group(&self, r: RouterId) -> usize {
        match &self.groups {
            None => 0,
            Some(g) => g.get(&r).copied().unwrap_or(usize::MAX),
        }
    }
}

#[derive(Debug, Clone)]
enum Payload {
    V4(Vec<u8>),
    V6 {
        src: Ipv6Addr,
        dst: Ipv6Addr,
        hop_limit: u8,
        vrrp: Vec<u8>,
    },
}

#[derive(Debug, Clone)]
struct InFlight {
    from: RouterId,
    to: RouterId,
    iface: IfIndex,
    payload: Payload,
    peek: Option<Peek>,
}

/// What made the engine produce its outputs (to check transition reasons).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Cause {
    Startup,
    /// A reload: the retired instance resigns, the new one starts.
    Reload,
    Shutdown,
    Timer,
    Packet,
    Link,
    Track,
    /// `handle_timeout` before the deadline: nothing may come out.
    Spurious,
}

/// Does `reason` fit a transition caused by `cause` and ending in `to`?
fn reason_fits(cause: Cause, reason: Reason, to: State) -> bool {
    use Reason as R;
    match cause {
        Cause::Startup => matches!(reason, R::Startup | R::Fault | R::SyncGroup),
        // A group held in FAULT by a member the reload replaced is let go at Startup.
        Cause::Reload => matches!(
            reason,
            R::Shutdown | R::Startup | R::Fault | R::FaultCleared | R::SyncGroup
        ),
        Cause::Shutdown => matches!(reason, R::Shutdown | R::SyncGroup),
        Cause::Timer => {
            matches!(
                reason,
                R::MasterDown | R::PriorityZero | R::Preempt | R::SyncGroup
            ) && to != State::Fault
        }
        // A packet can only ever push a router out of MASTER.
        Cause::Packet => matches!(reason, R::HigherPriority | R::SyncGroup) && to != State::Master,
        Cause::Link | Cause::Track => matches!(reason, R::Fault | R::FaultCleared | R::SyncGroup),
        Cause::Spurious => false,
    }
}

/// Same-instant iterations before the simulator calls it a livelock.
const LIVELOCK_LIMIT: usize = 100_000;

/// The simulator. See the module documentation.
#[derive(Debug)]
pub struct Sim {
    now: Instant,
    rng: SplitMix64,
    /// A separate stream for spurious wakeups, so turning them on does not change
    /// which packets are lost.
    wake_rng: SplitMix64,
    spurious: f64,
    seq: u64,
    nodes: Vec<Node>,
    lans: Vec<Lan>,
    actions: BTreeMap<(Instant, u64), Action>,
    in_flight: BTreeMap<(Instant, u64), InFlight>,
    transcript: Vec<String>,
    show_adverts: bool,
    show_vips: bool,
    show_events: bool,
    strict: bool,
    /// Unix time at simulation time 0 (what a router's wall clock reads then).
    wall_epoch: Duration,
    violations: Vec<String>,
    transitions: Vec<TransitionRecord>,
    adverts: Vec<AdvertRecord>,
    heard: Vec<HeardRecord>,
    events: Vec<EventRecord>,
}

impl Sim {
    /// An empty simulation at t=0 whose random choices all derive from `seed`.
    pub fn new(seed: u64) -> Sim {
        let mut rng = SplitMix64::new(seed);
        let wake_rng = rng.fork(0x5eed_5eed);
        Sim {
            now: Instant::ZERO,
            rng,
            wake_rng,
            spurious: 0.0,
            seq: 0,
            nodes: Vec::new(),
            lans: Vec::new(),
            actions: BTreeMap::new(),
            in_flight: BTreeMap::new(),
            transcript: Vec::new(),
            show_adverts: false,
            show_vips: false,
            show_events: false,
            strict: true,
            wall_epoch: Duration::ZERO,
            violations: Vec::new(),
            transitions: Vec::new(),
            adverts: Vec::new(),
            heard: Vec::new(),
            events: Vec::new(),
        }
    }

    // ---- building -------------------------------------------------------------

    /// A new LAN with no delay and no loss.
    pub fn lan(&mut self) -> LanId {
        self.lan_with(LanParams::default())
    }

    pub fn lan_with(&mut self, params: LanParams) -> LanId {
        self.lans.push(Lan {
            params,
            groups: None,
        });
        LanId(self.lans.len() - 1)
    }

    /// A router with one interface on `lan` (`IfIndex(1)`) and one instance on it,
    /// started now.
    pub fn router(&mut self, lan: LanId, c: InstanceConfig) -> RouterId {
        let mut c = c;
        c.interface = IfIndex(1);
        self.add(RouterSpec::new().iface(lan).instance(c))
    }

    /// The default IPv4 address of router `n` (1-based: r1 is 1) on `lan`.
    pub fn default_v4(lan: LanId, n: usize) -> Ipv4Addr {
        Ipv4Addr::new(10, 0, lan.0 as u8, n as u8)
    }

    /// The default IPv6 link-local of router `n` (1-based) on `lan`.
    pub fn default_v6(lan: LanId, n: usize) -> Ipv6Addr {
        Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, lan.0 as u16, n as u16)
    }

    /// Add a router; it starts as the spec says (default: at once).
    pub fn add(&mut self, spec: RouterSpec) -> RouterId {
        let id = RouterId(self.nodes.len());
        let n = id.0 + 1;
        assert!(!spec.ifaces.is_empty(), "{id}: a router needs an interface");
        let ifaces: Vec<Iface> = spec
            .ifaces
            .iter()
            .enumerate()
            .map(|(k, &(lan, v4, v6))| {
                assert!(lan.0 < self.lans.len(), "{id}: no {lan}");
                Iface {
                    index: IfIndex(k as u32 + 1),
                    lan,
                    v4: v4.unwrap_or_else(|| Sim::default_v4(lan, n)),
                    v6: v6.unwrap_or_else(|| Sim::default_v6(lan, n)),
                    up: true,
                    params: LinkParams::default(),
                }
            })
            .collect();
        let configs: Vec<InstanceConfig> = spec
            .instances
            .into_iter()
            .map(|mut c| {
                let Some(i) = ifaces.iter().find(|i| i.index == c.interface) else {
                    panic!("{id} {}: no interface {:?}", c.name, c.interface);
                };
                if c.source.is_none() {
                    c.source = Some(if c.is_v6() {
                        IpAddr::V6(i.v6)
                    } else {
                        IpAddr::V4(i.v4)
                    });
                }
                c
            })
            .collect();
        let track = configs.iter().map(|_| Track::new()).collect();
        self.nodes.push(Node {
            ifaces,
            configs,
            groups: spec.groups,
            engine: None,
            shut_down: false,
            lag: Duration::ZERO,
            wall_offset_ms: 0,
            frozen: None,
            trackers: BTreeMap::new(),
            deadline: None,
            track,
        });
        match spec.start {
            StartAt::Now => self.at(self.now, Action::Start(id)),
            StartAt::At(t) => self.at(t, Action::Start(id)),
            StartAt::Never => {}
        }
        id
    }

    /// Schedule `action` at `t` (not before now). Actions at one instant run in the
    /// order they were scheduled, before timers and arrivals of that instant.
    pub fn at(&mut self, t: Instant, action: Action) {
        assert!(t >= self.now, "scheduling {action:?} in the past");
        self.seq += 1;
        self.actions.insert((t, self.seq), action);
    }

    /// Schedule `action` `d` after now.
    pub fn after(&mut self, d: Duration, action: Action) {
        self.at(self.now + d, action)
    }

    /// Change a LAN's parameters now (no transcript line; see [`Action::SetLan`]).
    pub fn set_lan(&mut self, lan: LanId, params: LanParams) {
        self.lans[lan.0].params = params;
    }

    /// Transcript lines for every advert sent.
    pub fn show_adverts(&mut self, on: bool) -> &mut Self {
        self.show_adverts = on;
        self
    }
    /// Transcript lines for VIP install/remove and announcements.
    pub fn show_vips(&mut self, on: bool) -> &mut Self {
        self.show_vips = on;
        self
    }
    /// Transcript lines for engine events (log lines).
    pub fn show_events(&mut self, on: bool) -> &mut Self {
        self.show_events = on;
        self
    }
    /// Panic at the first violation (default), or only record it.
    pub fn set_strict(&mut self, on: bool) -> &mut Self {
        self.strict = on;
        self
    }
    /// At each instant, with probability `p` per router whose deadline is later,
    /// call `handle_timeout(now)` anyway and check that nothing happens.
    pub fn spurious_wakeups(&mut self, p: f64) -> &mut Self {
        self.spurious = p;
        self
    }

    // ---- running --------------------------------------------------------------

    pub fn now(&self) -> Instant {
        self.now
    }

    /// The instant of the next event, if any.
    pub fn next_event(&self) -> Option<Instant> {
        let a = self.actions.keys().next().map(|k| k.0);
        let p = self.in_flight.keys().next().map(|k| k.0);
        let t = self.nodes.iter().filter_map(|n| n.deadline).min();
        [a, p, t].into_iter().flatten().min()
    }

    /// Advance to the next event and process everything due at that instant.
    /// Returns the instant, or `None` if nothing will ever happen.
    pub fn step(&mut self) -> Option<Instant> {
        let t = self.next_event()?;
        debug_assert!(t >= self.now);
        self.now = t;
        self.process_instant();
        Some(t)
    }

    /// Run every event due at or before `t`, then set the clock to `t`.
    pub fn run_until(&mut self, t: Instant) {
        while self.next_event().is_some_and(|n| n <= t) {
            self.step();
        }
        if t > self.now {
            self.now = t;
        }
    }

    pub fn run_for(&mut self, d: Duration) {
        self.run_until(self.now + d)
    }

    fn process_instant(&mut self) {
        let now = self.now;
        let mut rounds = 0;
        loop {
            rounds += 1;
            if rounds > LIVELOCK_LIMIT {
                panic!(
                    "livelock at t={now}: events keep arriving at the same instant\n{}",
                    self.tail()
                );
            }
            if let Some(entry) = self.actions.first_entry() {
                if entry.key().0 <= now {
                    let action = entry.remove();
                    self.apply(action);
                    continue;
                }
            }
            let due: Vec<RouterId> = (0..self.nodes.len())
                .map(RouterId)
                .filter(|r| self.nodes[r.0].deadline.is_some_and(|d| d <= now))
                .collect();
            if !due.is_empty() {
                for r in due {
                    self.fire_timer(r);
                }
                continue;
            }
            if let Some(entry) = self.in_flight.first_entry() {
                if entry.key().0 <= now {
                    let pkt = entry.remove();
                    self.deliver(pkt);
                    continue;
                }
            }
            break;
        }
        if self.spurious > 0.0 {
            for k in 0..self.nodes.len() {
                let p = self.spurious;
                if self.wake_rng.chance(p) {
                    self.spurious_wakeup(RouterId(k));
                }
            }
        }
    }

    fn fire_timer(&mut self, r: RouterId) {
        let now = self.now;
        let node = &mut self.nodes[r.0];
        if node.frozen.is_some() {
            node.deadline = None;
            return;
        }
        let local = now - node.lag;
        let wall = self.wall_of(r);
        let node = &mut self.nodes[r.0];
        let Some(engine) = node.engine.as_mut() else {
            node.deadline = None;
            return;
        };
        engine.set_wall(local, wall);
        engine.handle_timeout(local);
        self.drain(r, Cause::Timer);
    }

    fn spurious_wakeup(&mut self, r: RouterId) {
        let now = self.now;
        let node = &mut self.nodes[r.0];
        let before = node.deadline;
        if before.is_some_and(|d| d <= now) || node.frozen.is_some() {
            return;
        }
        let lag = node.lag;
        let Some(engine) = node.engine.as_mut() else {
            return;
        };
        engine.handle_timeout(now - lag);
        let after = engine.poll_timeout().map(|d| d + lag);
        self.drain(r, Cause::Spurious);
        if after != before {
            self.violation(format!(
                "{r}: handle_timeout({now}) before the deadline {before:?} moved it to {after:?}"
            ));
        }
    }

    // ---- actions --------------------------------------------------------------

    fn apply(&mut self, action: Action) {
        let action = match self.hold_if_frozen(action) {
            Some(a) => a,
            None => return,
        };
        match action {
            Action::Start(r) => {
                self.log(format!("{r} start"));
                self.start(r);
            }
            Action::Crash(r) => {
                self.log(format!("{r} crash"));
                self.power_off(r, "crash");
            }
            Action::Restart(r) => {
                self.log(format!("{r} restart"));
                self.power_off(r, "restart");
                self.start(r);
            }
            Action::Shutdown(r) => {
                self.log(format!("{r} shutdown"));
                if self.input(r, Input::Shutdown, Cause::Shutdown) {
                    self.nodes[r.0].shut_down = true;
                }
            }
            Action::Link {
                router,
                interface,
                up,
            } => {
                let word = if up { "up" } else { "down" };
                self.log(format!("{router} if{} link {word}", interface.0));
                match self.nodes[router.0]
                    .ifaces
                    .iter_mut()
                    .find(|i| i.index == interface)
                {
                    Some(i) => i.up = up,
                    None => panic!("{router}: no interface {interface:?}"),
                }
                self.input(router, Input::Link { interface, up }, Cause::Link);
            }
            Action::Track {
                router,
                instance,
                tracker,
                effect,
            } => {
                let what = match effect {
                    TrackEffect::Weight(w) => format!("weight {w:+}"),
                    TrackEffect::Fault(true) => "fault".to_string(),
                    TrackEffect::Fault(false) => "fault cleared".to_string(),
                    TrackEffect::Pending => "pending".to_string(),
                };
                let who = self.who(router, instance);
                let t = if tracker == 0 {
                    String::new()
                } else {
                    format!(" {tracker}")
                };
                self.log(format!("{who} track{t} {what}"));
                // The skew bound of a pending down timer no longer holds.
                if let Some(tr) = self.nodes[router.0].track.get_mut(instance.0) {
                    tr.earliest_master_down = None;
                }
                let kept = &mut self.nodes[router.0].trackers;
                if effect == TrackEffect::Weight(0) {
                    kept.remove(&(instance, tracker));
                } else {
                    kept.insert((instance, tracker), effect);
                }
                self.input(
                    router,
                    Input::Track {
                        instance,
                        tracker,
                        effect,
                    },
                    Cause::Track,
                );
            }
            Action::Partition(lan, groups) => {
                let shown: Vec<String> = groups
                    .iter()
                    .map(|g| {
                        let names: Vec<String> = g.iter().map(|r| r.to_string()).collect();
                        format!("[{}]", names.join(" "))
                    })
                    .collect();
                self.log(format!("{lan} partition {}", shown.join(" ")));
                let mut map = BTreeMap::new();
                for (k, g) in groups.iter().enumerate() {
                    for r in g {
                        map.insert(*r, k);
                    }
                }
                self.lans[lan.0].groups = Some(map);
            }
            Action::Heal(lan) => {
                self.log(format!("{lan} heal"));
                self.lans[lan.0].groups = None;
            }
            Action::SetLan(lan, params) => {
                self.log(format!("{lan} {params}"));
                self.lans[lan.0].params = params;
            }
            Action::Suspend {
                router,
                length,
                clock,
            } => self.suspend(router, length, clock),
            Action::Wall { router, offset_ms } => self.set_wall_offset(router, offset_ms),
            Action::Reload {
                router,
                instance,
                priority,
            } => self.reload(router, instance, priority),
            Action::Resume(router) => self.resume(router),
            Action::SetLink {
                router,
                interface,
                params,
            } => {
                self.log(format!(
                    "{router} if{} delay={}ms loss={}%",
                    interface.0,
                    params.delay.as_millis(),
                    (params.loss * 100.0).round()
                ));
                match self.nodes[router.0]
                    .ifaces
                    .iter_mut()
                    .find(|i| i.index == interface)
                {
                    Some(i) => i.params = params,
                    None => panic!("{router}: no interface {interface:?}"),
                }
            }
        }
    }

    fn start(&mut self, r: RouterId) {
        let now = self.now;
        let node = &mut self.nodes[r.0];
        if node.engine.is_some() && !node.shut_down {
            panic!("{r} is already running");
        }
        let engine = match Router::new(node.configs.clone(), node.groups.clone()) {
            Ok(e) => e,
            Err(e) => panic!("{r}: the engine refused the configuration: {e}"),
        };
        node.engine = Some(engine);
        node.shut_down = false;
        for tr in node.track.iter_mut() {
            *tr = Track::new();
        }
        self.refeed_trackers(r, None, Cause::Startup);
        let node = &mut self.nodes[r.0];
        for (k, tr) in node.track.iter_mut().enumerate() {
            let c = &node.configs[k];
            // INI-02 (TMR-06), KA-02: a non-owner waits a whole down interval at
            // Startup, whatever its configured state; Skew_Time on the priority its
            // trackers give it.
            let p = node
                .engine
                .as_ref()
                .map_or(c.priority, |e| e.effective_priority(InstanceId(k)));
            tr.earliest_master_down =
                Some(now + down_interval(c.version, p, c.advert_int, c.down_timer_adverts));
        }
        let node = &self.nodes[r.0];
        for i in node.ifaces.clone() {
            if !i.up {
                self.input(
                    r,
                    Input::Link {
                        interface: i.index,
                        up: false,
                    },
                    Cause::Link,
                );
            }
        }
        self.input(r, Input::Startup, Cause::Startup);
    }

    fn power_off(&mut self, r: RouterId, why: &str) {
        let node = &mut self.nodes[r.0];
        node.engine = None;
        node.shut_down = false;
        node.deadline = None;
        node.lag = Duration::ZERO;
        node.frozen = None;
        let gone: Vec<InstanceId> = node
            .track
            .iter()
            .enumerate()
            .filter(|(_, t)| t.vips)
            .map(|(k, _)| InstanceId(k))
            .collect();
        for t in node.track.iter_mut() {
            *t = Track::new();
        }
        if self.show_vips {
            for k in gone {
                let who = self.who(r, k);
                self.log(format!("{who} vips gone ({why})"));
            }
        }
    }

    /// Feed one input to a running router. False if it is not running.
    fn input(&mut self, r: RouterId, input: Input<'_>, cause: Cause) -> bool {
        let local = self.now - self.nodes[r.0].lag;
        let wall = self.wall_of(r);
        let Some(engine) = self.nodes[r.0].engine.as_mut() else {
            return false;
        };
        // As the daemon does before each batch of inputs.
        engine.set_wall(local, wall);
        engine.handle(local, input);
        self.drain(r, cause);
        true
    }

    // ---- outputs --------------------------------------------------------------

    fn drain(&mut self, r: RouterId, cause: Cause) {
        let mut outputs = Vec::new();
        {
            let node = &mut self.nodes[r.0];
            let Some(engine) = node.engine.as_mut() else {
                return;
            };
            while let Some(o) = engine.poll_output() {
                outputs.push(o);
            }
            let lag = node.lag;
            node.deadline = engine.poll_timeout().map(|d| d + lag);
        }
        if cause == Cause::Spurious && !outputs.is_empty() {
            let now = self.now;
            self.violation(format!(
                "{r}: handle_timeout({now}) before its deadline produced {outputs:?}"
            ));
        }
        let mut outputs = outputs.into_iter().peekable();
        while let Some(o) = outputs.next() {
            match o {
                Output::Advert(tx) => {
                    if cause == Cause::Timer {
                        self.check_adver_timer(r, &tx);
                    }
                    self.transmit(r, tx)
                }
                Output::Vips { instance, install } => {
                    if let Some(t) = self.nodes[r.0].track.get_mut(instance.0) {
                        t.vips = install;
                    }
                    if self.show_vips {
                        let who = self.who(r, instance);
                        let word = if install { "install" } else { "remove" };
                        self.log(format!("{who} vips {word}"));
                    }
                }
                Output::Announce {
                    instance,
                    addresses,
                } => {
                    // A burst with no spacing comes as identical outputs: one line.
                    let mut n = 1;
                    while outputs
                        .next_if(|x| {
                            matches!(x, Output::Announce { instance: i, addresses: a }
                                if *i == instance && *a == addresses)
                        })
                        .is_some()
                    {
                        n += 1;
                    }
                    if self.show_vips {
                        let who = self.who(r, instance);
                        let list: Vec<String> = addresses.iter().map(|a| a.to_string()).collect();
                        let times = if n > 1 {
                            format!(" (x{n})")
                        } else {
                            String::new()
                        };
                        self.log(format!("{who} announce {}{times}", list.join(" ")));
                    }
                }
                Output::RouterAdvert { instance } => {
                    // BKP-03: only a Master advertises the virtual router.
                    let state = self.nodes[r.0].track.get(instance.0).map(|t| t.state);
                    if state != Some(State::Master) {
                        self.violation(format!(
                            "{r}: a Router Advertisement for {instance:?} in {state:?}"
                        ));
                    }
                    if self.show_vips {
                        let who = self.who(r, instance);
                        self.log(format!("{who} router advert"));
                    }
                }
                Output::Transition {
                    instance,
                    from,
                    to,
                    reason,
                } => self.transition(r, instance, from, to, reason, cause),
                Output::Event(event) => {
                    if self.show_events {
                        self.log(format!("{r} event: {event}"));
                    }
                    self.events.push(EventRecord {
                        at: self.now,
                        router: r,
                        event,
                    });
                }
            }
        }
        // The engine's own view must agree with the transitions it reported.
        let mismatch: Vec<(usize, State, State)> = {
            let node = &self.nodes[r.0];
            match &node.engine {
                None => Vec::new(),
                Some(e) => (0..node.configs.len())
                    .filter_map(|k| {
                        let s = e.state(InstanceId(k));
                        let t = node.track[k].state;
                        (s != t).then_some((k, s, t))
                    })
                    .collect(),
            }
        };
        for (k, s, t) in mismatch {
            let who = self.who(r, InstanceId(k));
            self.violation(format!(
                "{who}: Router::state says {s} but the transitions reported end in {t}"
            ));
        }
    }

    fn transition(
        &mut self,
        r: RouterId,
        instance: InstanceId,
        from: State,
        to: State,
        reason: Reason,
        cause: Cause,
    ) {
        let now = self.now;
        let who = self.who(r, instance);
        self.log(format!("{who} {from}->{to} reason={}", reason.as_str()));
        let Some(c) = self.nodes[r.0].configs.get(instance.0).cloned() else {
            self.violation(format!("{r}: transition of unknown instance {instance:?}"));
            return;
        };
        let tr = &mut self.nodes[r.0].track[instance.0];
        let previous = tr.state;
        let earliest = tr.earliest_master_down;
        tr.state = to;
        tr.last_adver = None;
        if to != State::Backup {
            tr.earliest_master_down = None;
        } else if !matches!(cause, Cause::Packet | Cause::Startup) {
            // Backup again after a fault or a sync-group move: no bound known.
            tr.earliest_master_down = None;
        }
        self.transitions.push(TransitionRecord {
            at: now,
            router: r,
            instance,
            vrid: c.vrid,
            from,
            to,
            reason,
        });
        if previous != from {
            self.violation(format!(
                "{who}: transition {from}->{to} but the previous one ended in {previous}"
            ));
        }
        if !reason_fits(cause, reason, to) {
            self.violation(format!(
                "{who}: {from}->{to} reason={} does not fit its input ({cause:?})",
                reason.as_str()
            ));
        }
        let by_timer = matches!(
            reason,
            Reason::MasterDown | Reason::Preempt | Reason::PriorityZero
        );
        if to == State::Master && by_timer && c.preempt_delay.is_zero() {
            if let Some(e) = earliest {
                if now < e {
                    self.violation(format!(
                        "{who}: MASTER by {} at {now}, before {e} (last accepted advert + down interval)",
                        reason.as_str()
                    ));
                }
            }
        }
    }

    /// No advert timer early: a Master's adverts by its timer are `advert_int`
    /// apart (engine time) at least, unless it re-armed on a priority 0 (MST-08).
    /// (Copies at one instant are one advert to several unicast peers.)
    fn check_adver_timer(&mut self, r: RouterId, tx: &TxAdvert) {
        let node = &self.nodes[r.0];
        let local = self.now - node.lag;
        let Some(c) = node.configs.get(tx.instance.0) else {
            return;
        };
        let int = c.advert_int;
        let Some(tr) = node.track.get(tx.instance.0) else {
            return;
        };
        let peeked = if tx.dst.is_ipv4() {
            peek::ipv4_advert(&tx.packet).map(|(_, p)| p)
        } else {
            peek::vrrp(&tx.packet)
        };
        let prio = peeked.map_or(0, |p| p.priority);
        if tr.state != State::Master || prio == 0 {
            return;
        }
        // Unicast: one advert leaves as one copy per peer, at one instant.
        let early = tr.last_adver.filter(|l| *l != local && local - *l < int);
        if let Some(l) = early {
            let who = self.who(r, tx.instance);
            self.violation(format!(
                "{who}: advert timer fired {} ms after the last one (advert_int {} ms)",
                (local - l).as_millis(),
                int.as_millis()
            ));
        }
        if let Some(tr) = self.nodes[r.0].track.get_mut(tx.instance.0) {
            tr.last_adver = Some(local);
        }
    }

    fn transmit(&mut self, r: RouterId, tx: TxAdvert) {
        let now = self.now;
        let (payload, peek) = {
            let node = &self.nodes[r.0];
            if tx.dst.is_ipv4() {
                let peek = peek::ipv4_advert(&tx.packet).map(|(_, p)| p);
                (Payload::V4(tx.packet.clone()), peek)
            } else {
                let src = node
                    .engine
                    .as_ref()
                    .map(|e| e.config(tx.instance).source)
                    .unwrap_or(None);
                let (Some(IpAddr::V6(src)), IpAddr::V6(dst)) = (src, tx.dst) else {
                    self.violation(format!(
                        "{r}: IPv6 advert of {:?} without an IPv6 source",
                        tx.instance
                    ));
                    return;
                };
                let peek = peek::vrrp(&tx.packet);
                (
                    Payload::V6 {
                        src,
                        dst,
                        hop_limit: tx.ttl,
                        vrrp: tx.packet.clone(),
                    },
                    peek,
                )
            }
        };
        let vrid = self.nodes[r.0]
            .configs
            .get(tx.instance.0)
            .map_or(0, |c| c.vrid);
        let up = self.nodes[r.0].iface(tx.interface).is_some_and(|i| i.up);
        let (priority, interval) = peek.map_or((0, Duration::ZERO), |p| (p.priority, p.interval));
        self.adverts.push(AdvertRecord {
            at: now,
            router: r,
            instance: tx.instance,
            vrid,
            priority,
            interval,
            dst: tx.dst,
            sent: up,
        });
        if self.show_adverts {
            let who = self.who(r, tx.instance);
            let ms = interval.as_millis();
            let lost = if up { "" } else { " (link down)" };
            self.log(format!(
                "{who} advert prio={priority} int={ms}ms -> {}{lost}",
                tx.dst
            ));
        }
        if !up {
            return;
        }
        let lan = match self.nodes[r.0].iface(tx.interface) {
            Some(i) => i.lan,
            None => return,
        };
        let params = self.lans[lan.0].params;
        for (to, iface) in self.recipients(r, tx.interface, tx.dst) {
            let link = self.nodes[to.0]
                .iface(iface)
                .map(|i| i.params)
                .unwrap_or_default();
            // Always draw the same number of values per recipient, so the stream
            // does not depend on which copies were lost.
            let lost_lan = self.rng.chance(params.loss);
            let lost_link = self.rng.chance(link.loss);
            let dup = self.rng.chance(params.dup);
            let jitter = [
                self.draw_jitter(params.jitter),
                self.draw_jitter(params.jitter),
            ];
            if lost_lan || lost_link {
                continue;
            }
            let copies = if dup { 2 } else { 1 };
            for j in jitter.iter().take(copies) {
                let at = now + params.delay + link.delay + *j;
                self.seq += 1;
                self.in_flight.insert(
                    (at, self.seq),
                    InFlight {
                        from: r,
                        to,
                        iface,
                        payload: payload.clone(),
                        peek,
                    },
                );
            }
        }
    }

    fn draw_jitter(&mut self, max: Duration) -> Duration {
        let ns = u64::try_from(max.as_nanos()).unwrap_or(u64::MAX);
        Duration::from_nanos(self.rng.below_incl(ns))
    }

    /// Who hears a packet `from` sends on `iface` to `dst`: every other interface on
    /// the LAN for a multicast destination, the interface holding `dst` otherwise;
    /// only interfaces that are up and in the sender's partition group.
    pub(crate) fn recipients(
        &self,
        from: RouterId,
        iface: IfIndex,
        dst: IpAddr,
    ) -> Vec<(RouterId, IfIndex)> {
        let Some(src_if) = self.nodes[from.0].iface(iface) else {
            return Vec::new();
        };
        let lan = &self.lans[src_if.lan.0];
        let group = lan.group(from);
        let mut out = Vec::new();
        for (k, node) in self.nodes.iter().enumerate() {
            let to = RouterId(k);
            for i in &node.ifaces {
                if i.lan != src_if.lan || !i.up || (to == from && i.index == iface) {
                    continue;
                }
                if lan.group(to) != group {
                    continue;
                }
                let hit = dst.is_multicast()
                    || match dst {
                        IpAddr::V4(a) => a == i.v4,
                        IpAddr::V6(a) => a == i.v6,
                    };
                if hit {
                    out.push((to, i.index));
                }
            }
        }
        out
    }

    fn deliver(&mut self, pkt: InFlight) {
        let now = self.now;
        let r = pkt.to;
        let node = &mut self.nodes[r.0];
        if node.engine.is_none() || !node.iface(pkt.iface).is_some_and(|i| i.up) {
            return;
        }
        if let Some(f) = node.frozen.as_mut() {
            f.hold(Held::Packet(pkt));
            return;
        }
        let node = &self.nodes[r.0];
        let v6 = matches!(pkt.payload, Payload::V6 { .. });
        // The instance this advert is for, and its state before.
        let target = pkt.peek.and_then(|p| {
            node.configs
                .iter()
                .position(|c| c.vrid == p.vrid && c.interface == pkt.iface && c.is_v6() == v6)
                .map(InstanceId)
        });
        let before = target.and_then(|id| {
            node.engine.as_ref().map(|e| {
                (
                    e.state(id),
                    e.effective_priority(id),
                    e.counters(id).rcvd_advertisements,
                )
            })
        });
        let data = match &pkt.payload {
            Payload::V4(bytes) => RxData::V4(bytes),
            Payload::V6 {
                src,
                dst,
                hop_limit,
                vrrp,
            } => RxData::V6 {
                src: *src,
                dst: *dst,
                hop_limit: *hop_limit,
                vrrp,
            },
        };
        let rx = RxPacket {
            interface: pkt.iface,
            data,
        };
        self.input(r, Input::Packet(rx), Cause::Packet);
        let (Some(p), Some(id), Some((state0, prio0, count0))) = (pkt.peek, target, before) else {
            return;
        };
        let node = &self.nodes[r.0];
        let Some(engine) = node.engine.as_ref() else {
            return;
        };
        let accepted = engine.counters(id).rcvd_advertisements > count0;
        let state1 = engine.state(id);
        self.heard.push(HeardRecord {
            at: now,
            router: r,
            instance: Some(id),
            from: pkt.from,
            vrid: p.vrid,
            priority: p.priority,
            interval: p.interval,
            accepted,
        });
        if accepted && p.priority == 0 && state0 == State::Master && state1 == State::Master {
            let local = now - node.lag;
            if let Some(tr) = self.nodes[r.0].track.get_mut(id.0) {
                tr.last_adver = Some(local);
            }
            return;
        }
        if !accepted || state1 != State::Backup {
            return;
        }
        let c = &node.configs[id.0];
        // KA-17's "nopreempt needs state BACKUP" is the config layer's business: the
        // engine takes `preempt` as given.
        let preempt = c.preempt;
        let tr = &node.track[id.0];
        // The interval the down timer runs on: v2 the local one (RX-12 drops any
        // other), v3 the advert's (TMR-07/08).
        let interval = match c.version {
            Version::V2 => c.advert_int,
            Version::V3 => p.interval,
        };
        let earliest = if p.priority == 0 {
            // BKP-08: Skew_Time, on whichever interval the engine had adopted.
            let i = [Some(c.advert_int), tr.adopted_interval, Some(p.interval)]
                .into_iter()
                .flatten()
                .min()
                .unwrap_or(c.advert_int);
            Some(now + skew_time(c.version, prio0, i))
        } else if state0 == State::Master || !preempt || p.priority >= prio0 {
            // MST-09 (step down), BKP-09, BKP-10: the full down interval.
            Some(now + down_interval(c.version, prio0, interval, c.down_timer_adverts))
        } else {
            // BKP-11: discarded without touching the timer.
            None
        };
        let adopt = c.version == Version::V3 && p.priority > 0 && earliest.is_some();
        let tr = &mut self.nodes[r.0].track[id.0];
        if let Some(e) = earliest {
            tr.earliest_master_down = Some(e);
        }
        if adopt {
            tr.adopted_interval = Some(p.interval);
        }
    }

    // ---- transcript and checks ------------------------------------------------

    fn who(&self, r: RouterId, instance: InstanceId) -> String {
        let node = &self.nodes[r.0];
        match node.configs.get(instance.0) {
            Some(c) if node.configs.len() > 1 => format!("{r} {} VRID {}", c.name, c.vrid),
            Some(c) => format!("{r} VRID {}", c.vrid),
            None => format!("{r} {instance:?}"),
        }
    }

    fn log(&mut self, line: String) {
        self.transcript.push(format!("t={} {line}", self.now));
    }

    /// Add a free-form line to the transcript (a scenario's own remark).
    pub fn note(&mut self, line: &str) {
        self.log(line.to_string());
    }

    fn violation(&mut self, msg: String) {
        let msg = format!("t={} {msg}", self.now);
        if self.strict {
            panic!("simulator check failed: {msg}\n{}", self.tail());
        }
        self.violations.push(msg);
    }

    fn tail(&self) -> String {
        let from = self.transcript.len().saturating_sub(30);
        let mut s = String::from("--- last transcript lines ---\n");
        for l in &self.transcript[from..] {
            s.push_str(l);
            s.push('\n');
        }
        s
    }

    /// The transcript so far, one line per event.
    pub fn transcript(&self) -> String {
        self.transcript.join("\n")
    }

    /// The transcript lines at or after `t`.
    pub fn transcript_since(&self, t: Instant) -> Vec<&str> {
        self.transcript
            .iter()
            .filter(|l| line_time(l).is_some_and(|lt| lt >= t))
            .map(String::as_str)
            .collect()
    }

    /// Checks that failed (only filled when strict mode is off).
    pub fn violations(&self) -> &[String] {
        &self.violations
    }
}

/// The instant at the start of a transcript line (`t=3.610 ...`), to the ms.
fn line_time(line: &str) -> Option<Instant> {
    let rest = line.strip_prefix("t=")?;
    let num = rest.split_whitespace().next()?;
    let (s, frac) = num.split_once('.')?;
    let ms = s.parse::<u64>().ok()? * 1000 + frac.parse::<u64>().ok()?;
    Some(Instant::from_nanos(ms * 1_000_000))
}

#[cfg(test)]
mod tests;
