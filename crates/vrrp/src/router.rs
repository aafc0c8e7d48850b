//! The host's virtual routers and sync groups, and the driver-facing API.
//!
//! Per-instance rules live in `instance.rs`; this file owns what crosses instances:
//! the state transitions (because a sync group moves its members together), the
//! timers and the output queue. Finding the instance a packet is for and judging it is
//! `router/receive.rs`.
use crate::config::{Auth, IfIndex, InitialState, InstanceConfig, SyncGroupConfig};
use crate::counters::{Counters, GlobalCounters, NewMasterReason};
use crate::event::{Discard, Event, Handover};
use crate::instance::{Instance, RateLimit, Timer, TIMERS};
use crate::named::Once;
use crate::time::Instant;
use crate::{Input, InstanceId, Output, Reason, State, TrackEffect, TxAdvert};
use keepup_wire::vrrp::Version;
use std::cmp::Reverse;
use std::collections::{BTreeSet, BinaryHeap, HashMap, VecDeque};
use std::net::IpAddr;
use std::time::Duration;

mod receive;

/// A configuration the engine cannot run.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    #[error("{instance}: {problem}")]
    Instance { instance: String, problem: String },
    #[error("sync group {group}: {problem}")]
    SyncGroup { group: String, problem: String },
}

#[derive(Debug)]
struct Group {
    name: String,
    members: Vec<usize>,
}

/// Every virtual router of one host.
#[derive(Debug)]
pub struct Router {
    instances: Vec<Instance>,
    groups: Vec<Group>,
    /// (interface, VRID, IPv6) -> instance
    by_vrid: HashMap<(u32, u8, bool), usize>,
    outputs: VecDeque<Output>,
    global: GlobalCounters,
    global_rate: HashMap<Discard, RateLimit>,
    /// (interface, VRID, sender) of neighbouring virtual routers already named.
    foreign: Once<(u32, u8, IpAddr)>,
    /// (instance, VIP, other VRID, sender) of VIPs another VRID claims, named.
    claims: Once<(usize, IpAddr, u8, IpAddr)>,
    /// (interface, VRID, sender, hash of its address list) already read for our VIPs:
    /// a neighbour's list is read once, not at every advert.
    lists_read: Once<(u32, u8, IpAddr, u64)>,
    /// Every timer armed, earliest first: (deadline, instance, timer). An entry is
    /// stale once the instance's slot no longer holds that deadline (cancelled or
    /// re-armed); stale entries are skipped, and never left on top.
    heap: BinaryHeap<Reverse<(Instant, usize, Timer)>>,
    /// Heap size past which it is rebuilt from the live timers: twice the live ones
    /// at the last rebuild (at least [`HEAP_FLOOR`]). A flood of inputs that each
    /// re-arm a timer (priority 0 to a Master) leaves stale entries below the top;
    /// this keeps them from outnumbering the live ones, at amortised O(1) per arm.
    heap_limit: usize,
    /// The wall clock as the driver last gave it: (engine time, Unix time then).
    wall: (Instant, Duration),
    /// The latest engine time seen (inputs, timeouts), for what runs without one
    /// (`retire`).
    last_now: Instant,
    /// Interfaces the driver said are down (`Input::Link`): an instance that a
    /// reload starts afresh on one of them starts knowing it.
    links_down: BTreeSet<IfIndex>,
}

/// Arm instance `i`'s timer `t` for `at` (its slot, and the router's heap).
fn arm(
    heap: &mut BinaryHeap<Reverse<(Instant, usize, Timer)>>,
    inst: &mut Instance,
    i: usize,
    t: Timer,
    at: Instant,
) {
    inst.timers[t as usize] = Some(at);
    heap.push(Reverse((at, i, t)));
}

/// The smallest [`Router::heap_limit`]: rebuilding a tiny heap often gains nothing.
const HEAP_FLOOR: usize = 64;

fn instance_error(cfg: &InstanceConfig, problem: impl Into<String>) -> ConfigError {
    ConfigError::Instance {
        instance: cfg.name.clone(),
        problem: problem.into(),
    }
}

fn validate(cfg: &InstanceConfig) -> Result<(), ConfigError> {
    if cfg.vrid == 0 {
        return Err(instance_error(cfg, "virtual_router_id must be 1-255"));
    }
    if cfg.priority == 0 {
        return Err(instance_error(cfg, "priority must be 1-255"));
    }
    let v6 = cfg.is_v6();
    if cfg.vips.iter().any(|a| a.is_ipv6() != v6) {
        return Err(instance_error(
            cfg,
            "virtual_ipaddress mixes IPv4 and IPv6 (use one instance per family)",
        ));
    }
    if v6 && cfg.version == Version::V2 {
        return Err(instance_error(
            cfg,
            "VRRPv2 cannot carry IPv6 (use version 3)",
        ));
    }
    if cfg.version == Version::V3 && cfg.vips.is_empty() {
        return Err(instance_error(
            cfg,
            "a VRRPv3 instance needs a virtual address",
        ));
    }
    if cfg.vips.len() > 255 {
        return Err(instance_error(
            cfg,
            "more than 255 virtual addresses in one advert",
        ));
    }
    let ms = cfg.advert_int.as_millis();
    let ok = match cfg.version {
        Version::V2 => (500..=255_499).contains(&ms),
        Version::V3 => (5..=40_954).contains(&ms),
    };
    if !ok {
        return Err(instance_error(
            cfg,
            "advert_int out of range (v2: 1-255 s, v3: 0.01-40.95 s)",
        ));
    }
    if matches!(cfg.auth, Auth::Ah(_)) && (v6 || cfg.version != Version::V2) {
        return Err(instance_error(cfg, "auth_type AH needs VRRPv2 over IPv4"));
    }
    if let Some(h) = &cfg.auth_hmac {
        if matches!(cfg.auth, Auth::Ah(_)) {
            return Err(instance_error(
                cfg,
                "auth_hmac and auth_type AH cannot be combined (use auth_hmac alone)",
            ));
        }
        if h.keys.is_empty() {
            return Err(instance_error(cfg, "auth_hmac has no key"));
        }
        for (n, k) in h.keys.iter().enumerate() {
            if h.keys[..n].iter().any(|o| o.id() == k.id()) {
                return Err(instance_error(
                    cfg,
                    format!("auth_hmac key {} is defined twice", k.id()),
                ));
            }
        }
        if h.mode.signs() && h.signing_key().is_none() {
            return Err(instance_error(
                cfg,
                format!(
                    "auth_hmac active_key {} is not one of its keys",
                    h.active_key
                ),
            ));
        }
    }
    for p in &cfg.unicast_peers {
        if p.address.is_ipv6() != v6 {
            return Err(instance_error(cfg, "unicast_peer of the wrong family"));
        }
    }
    Ok(())
}

impl Router {
    /// Check the configuration and build the routers, all in Initialize.
    pub fn new(
        instances: Vec<InstanceConfig>,
        groups: Vec<SyncGroupConfig>,
    ) -> Result<Router, ConfigError> {
        let mut names = HashMap::new();
        let mut by_vrid = HashMap::new();
        for (i, cfg) in instances.iter().enumerate() {
            validate(cfg)?;
            if names.insert(cfg.name.clone(), i).is_some() {
                return Err(instance_error(cfg, "instance name used twice"));
            }
            let key = (cfg.interface.0, cfg.vrid, cfg.is_v6());
            if by_vrid.insert(key, i).is_some() {
                return Err(instance_error(
                    cfg,
                    format!(
                        "VRID {} is used twice on one interface for one address family",
                        cfg.vrid
                    ),
                ));
            }
        }
        let mut member_of: Vec<Option<usize>> = vec![None; instances.len()];
        let mut built = Vec::new();
        for (gi, g) in groups.iter().enumerate() {
            let mut members = Vec::new();
            for m in &g.members {
                let Some(&i) = names.get(m) else {
                    return Err(ConfigError::SyncGroup {
                        group: g.name.clone(),
                        problem: format!("no vrrp_instance named {m}"),
                    });
                };
                if let Some(slot) = member_of.get_mut(i) {
                    if slot.is_some() {
                        return Err(ConfigError::SyncGroup {
                            group: g.name.clone(),
                            problem: format!("{m} is already in another sync group"),
                        });
                    }
                    *slot = Some(gi);
                }
                members.push(i);
            }
            built.push(Group {
                name: g.name.clone(),
                members,
            });
        }
        let instances = instances
            .into_iter()
            .zip(member_of)
            .map(|(cfg, g)| Instance::new(cfg, g))
            .collect();
        Ok(Router {
            instances,
            groups: built,
            by_vrid,
            outputs: VecDeque::new(),
            global: GlobalCounters::default(),
            global_rate: HashMap::new(),
            foreign: Once::new(256),
            claims: Once::new(256),
            lists_read: Once::new(1024),
            heap: BinaryHeap::new(),
            heap_limit: HEAP_FLOOR,
            wall: (Instant::ZERO, Duration::ZERO),
            last_now: Instant::ZERO,
            links_down: BTreeSet::new(),
        })
    }

    /// The wall clock (time since the Unix epoch) at engine time `now`, for
    /// `auth_hmac`: its sequence is the sender's Unix time and `anti_replay time`
    /// compares it with the receiver's. Between calls the engine moves it on with
    /// its own time, so a driver may call this before each batch of inputs (the
    /// daemon does, so a stepped clock is seen at once) or once (tests and the
    /// simulator: every router on one virtual clock). Never called: Unix time is
    /// the engine's time, which routers on one virtual clock agree on.
    ///
    /// A setter rather than an argument of `handle`: only `auth_hmac` reads it, and
    /// every other caller (the simulator, hundreds of tests) stays as it is.
    pub fn set_wall(&mut self, now: Instant, unix: Duration) {
        self.wall = (now, unix);
    }

    /// Unix time at the latest engine time seen.
    fn wall_now(&self) -> Duration {
        let (at, unix) = self.wall;
        unix + self.last_now.saturating_since(at)
    }

    /// Feed one input at `now`.
    pub fn handle(&mut self, now: Instant, input: Input<'_>) {
        self.last_now = self.last_now.max(now);
        self.input(now, input);
        self.settle();
    }

    fn input(&mut self, now: Instant, input: Input<'_>) {
        match input {
            Input::Startup => {
                for i in 0..self.instances.len() {
                    self.startup(i, now);
                }
                // A group held in FAULT by a member that a reload replaced or
                // removed is free again if no member is faulted now.
                for g in 0..self.groups.len() {
                    let held = self.groups[g]
                        .members
                        .iter()
                        .find(|&&m| self.instances[m].state == State::Fault)
                        .copied();
                    if let Some(m) = held {
                        self.refresh_fault(m, now);
                    }
                }
                // Every sync group starts in its members' state, so its own notify
                // scripts hear of it (keepalived runs a group's notify_backup at start).
                for g in 0..self.groups.len() {
                    self.report_group(g);
                }
            }
            Input::Shutdown => {
                for i in 0..self.instances.len() {
                    self.shutdown(i, Some(now));
                }
            }
            Input::Packet(p) => self.receive(now, p),
            Input::Link { interface, up } => {
                if up {
                    self.links_down.remove(&interface);
                } else {
                    self.links_down.insert(interface);
                }
                let hit: Vec<usize> = (0..self.instances.len())
                    .filter(|&i| self.instances[i].cfg.interface == interface)
                    .collect();
                for &i in &hit {
                    self.instances[i].link_up = up;
                }
                for i in hit {
                    self.refresh_fault(i, now);
                }
            }
            Input::RouterSolicitation { interface } => {
                for i in 0..self.instances.len() {
                    let inst = &mut self.instances[i];
                    if inst.cfg.interface != interface
                        || inst.state != State::Master
                        || inst.cfg.router_advert.is_none()
                    {
                        continue;
                    }
                    let at = inst.solicited_router_advert(now);
                    if inst.timers[Timer::RouterAdvert as usize].is_none_or(|due| at < due) {
                        arm(&mut self.heap, inst, i, Timer::RouterAdvert, at);
                    }
                }
            }
            Input::Yield { instance, on } => {
                if instance.0 < self.instances.len() {
                    for m in self.members(instance.0) {
                        self.set_yield(m, now, on);
                    }
                }
            }
            Input::Claimed { instance } => {
                if instance.0 < self.instances.len() {
                    self.let_go(instance.0, Handover::Announced);
                }
            }
            Input::SourceAddress { instance, address } => {
                if let Some(inst) = self.instances.get_mut(instance.0) {
                    inst.source = address;
                    let own =
                        address.filter(|a| inst.cfg.unicast_peers.iter().any(|p| p.address == *a));
                    if let Some(a) = own {
                        if inst.named.first((a, Discard::Source)) {
                            self.outputs
                                .push_back(Output::Event(Event::OwnAddressAsPeer {
                                    instance,
                                    address: a,
                                }));
                        }
                    }
                }
            }
            Input::Track {
                instance,
                tracker,
                effect,
            } => {
                let i = instance.0;
                let Some(inst) = self.instances.get_mut(i) else {
                    return;
                };
                let before = inst.effective_priority();
                if effect == TrackEffect::Weight(0) {
                    inst.tracks.remove(&tracker);
                } else {
                    inst.tracks.insert(tracker, effect);
                }
                let after = inst.effective_priority();
                if before != after {
                    self.outputs
                        .push_back(Output::Event(Event::PriorityChanged {
                            instance,
                            from: before,
                            to: after,
                        }));
                }
                let members = self.members(i);
                if members.iter().any(|&m| self.instances[m].start_waiting) {
                    if !members.iter().any(|&m| self.instances[m].pending()) {
                        for m in members {
                            if std::mem::take(&mut self.instances[m].start_waiting) {
                                self.startup(m, now);
                            }
                        }
                        if let Some(g) = self.instances[i].group {
                            self.report_group(g);
                        }
                    }
                    return;
                }
                self.refresh_fault(i, now);
            }
        }
    }

    /// Fire every timer due at or before `now`, earliest first.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.last_now = self.last_now.max(now);
        while let Some(&Reverse((at, i, t))) = self.heap.peek() {
            if self.stale(at, i, t) {
                self.heap.pop();
                continue;
            }
            if at > now {
                break;
            }
            self.heap.pop();
            self.instances[i].cancel(t);
            self.fire(i, t, now);
        }
        self.compact();
    }

    fn stale(&self, at: Instant, i: usize, t: Timer) -> bool {
        self.instances
            .get(i)
            .is_none_or(|x| x.timers[t as usize] != Some(at))
    }

    /// Drop stale entries from the top of the heap, so `poll_timeout` can peek.
    fn settle(&mut self) {
        while let Some(&Reverse((at, i, t))) = self.heap.peek() {
            if !self.stale(at, i, t) {
                break;
            }
            self.heap.pop();
        }
        self.compact();
    }

    /// Rebuild the heap from the instances' timer slots once stale entries may
    /// outnumber live ones (see [`Router::heap_limit`]).
    fn compact(&mut self) {
        if self.heap.len() > self.heap_limit {
            self.rebuild_heap();
        }
    }

    fn rebuild_heap(&mut self) {
        self.heap = self
            .instances
            .iter()
            .enumerate()
            .flat_map(|(i, inst)| {
                TIMERS
                    .iter()
                    .filter_map(move |&t| inst.timers[t as usize].map(|at| Reverse((at, i, t))))
            })
            .collect();
        self.heap_limit = (2 * self.heap.len()).max(HEAP_FLOOR);
    }

    /// Entries in the timer heap, live and stale (bounded: see `heap_limit`).
    pub fn timer_entries(&self) -> usize {
        self.heap.len()
    }

    /// The earliest deadline of any timer, if one is armed.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.heap.peek().map(|Reverse((at, _, _))| *at)
    }

    /// The next thing to do, in order.
    pub fn poll_output(&mut self) -> Option<Output> {
        self.outputs.pop_front()
    }

    /// Reload, first step: stop (resigning as Shutdown does) every instance that
    /// `keep` refuses, while their ids still mean what the driver thinks they mean.
    /// Drain the outputs, then call [`Router::reconfigure`].
    pub fn retire(&mut self, keep: impl Fn(&InstanceConfig) -> bool) {
        for i in 0..self.instances.len() {
            if !keep(&self.instances[i].cfg) {
                self.shutdown(i, None);
            }
        }
        self.settle();
    }

    /// Reload, second step: the new configuration. An instance whose name and
    /// configuration are unchanged, or changed only in its VIP list, keeps its state,
    /// timers and counters (no advert, no GARP, no VIP flap); the next advert carries
    /// the new list. Every other instance is new, in Initialize: feed its trackers,
    /// then `Input::Startup` starts it (and leaves the kept ones alone).
    /// Returns, for each new instance, the id it had before if it was kept.
    pub fn reconfigure(
        &mut self,
        instances: Vec<InstanceConfig>,
        groups: Vec<SyncGroupConfig>,
    ) -> Result<Vec<Option<InstanceId>>, ConfigError> {
        let fresh = Router::new(instances, groups)?;
        let mut old: Vec<Option<Instance>> = std::mem::take(&mut self.instances)
            .into_iter()
            .map(Some)
            .collect();
        let mut kept = Vec::new();
        let mut next = Vec::new();
        for new in fresh.instances {
            let same = old.iter().position(|o| {
                o.as_ref().is_some_and(|o| {
                    o.state != State::Stop && o.cfg.name == new.cfg.name && {
                        // auth_hmac too: a key rotation must not restart (no flap);
                        // the sequence and the senders' marks stay.
                        let mut a = o.cfg.clone();
                        a.vips.clone_from(&new.cfg.vips);
                        a.auth_hmac.clone_from(&new.cfg.auth_hmac);
                        a == new.cfg
                    }
                })
            });
            match same.and_then(|k| old.get_mut(k).and_then(Option::take).map(|o| (k, o))) {
                Some((k, mut o)) => {
                    o.cfg = new.cfg;
                    o.group = new.group;
                    kept.push(Some(InstanceId(k)));
                    next.push(o);
                }
                None => {
                    kept.push(None);
                    let mut new = new;
                    new.link_up = !self.links_down.contains(&new.cfg.interface);
                    next.push(new);
                }
            }
        }
        self.instances = next;
        self.groups = fresh.groups;
        self.by_vrid = fresh.by_vrid;
        // Indexes changed: the heap is built again from the timers themselves.
        self.rebuild_heap();
        Ok(kept)
    }

    pub fn instance_count(&self) -> usize {
        self.instances.len()
    }

    pub fn find(&self, name: &str) -> Option<InstanceId> {
        self.instances
            .iter()
            .position(|i| i.cfg.name == name)
            .map(InstanceId)
    }

    /// # Panics
    /// If `id` is not an instance of this router (ids come from it).
    pub fn config(&self, id: InstanceId) -> &InstanceConfig {
        &self.instances[id.0].cfg
    }

    /// # Panics
    /// If `id` is not an instance of this router.
    pub fn state(&self, id: InstanceId) -> State {
        self.instances[id.0].state
    }

    /// Priority after tracking weights (what adverts carry).
    ///
    /// # Panics
    /// If `id` is not an instance of this router.
    pub fn effective_priority(&self, id: InstanceId) -> u8 {
        self.instances[id.0].effective_priority()
    }

    /// The Master's address as last heard (Backup), or our own (Master).
    ///
    /// # Panics
    /// If `id` is not an instance of this router.
    pub fn master_address(&self, id: InstanceId) -> Option<IpAddr> {
        self.instances[id.0].master
    }

    /// The priority the Master advertised, as last heard (Backup); `None` when no
    /// Master is known or we are Master.
    ///
    /// # Panics
    /// If `id` is not an instance of this router.
    pub fn master_priority(&self, id: InstanceId) -> Option<u8> {
        let inst = &self.instances[id.0];
        inst.master.and(inst.master_priority)
    }

    /// Whether the interface the instance runs on is up (as last told).
    ///
    /// # Panics
    /// If `id` is not an instance of this router.
    pub fn link_up(&self, id: InstanceId) -> bool {
        self.instances[id.0].link_up
    }

    /// What each tracker (by id) does to the instance now.
    ///
    /// # Panics
    /// If `id` is not an instance of this router.
    pub fn track_effects(&self, id: InstanceId) -> impl Iterator<Item = (u32, TrackEffect)> + '_ {
        self.instances[id.0].tracks.iter().map(|(k, v)| (*k, *v))
    }

    /// The source address adverts use now.
    ///
    /// # Panics
    /// If `id` is not an instance of this router.
    pub fn source_address(&self, id: InstanceId) -> Option<IpAddr> {
        self.instances[id.0].source
    }

    /// The down interval a Backup waits now (after any interval adoption).
    ///
    /// # Panics
    /// If `id` is not an instance of this router.
    pub fn down_interval(&self, id: InstanceId) -> Duration {
        self.instances[id.0].down_interval()
    }

    /// Skew_Time now.
    ///
    /// # Panics
    /// If `id` is not an instance of this router.
    pub fn skew_time(&self, id: InstanceId) -> Duration {
        self.instances[id.0].skew_time()
    }

    /// The Master's advertisement interval as learned (v3) or configured (v2).
    ///
    /// # Panics
    /// If `id` is not an instance of this router.
    pub fn master_adver_interval(&self, id: InstanceId) -> Duration {
        self.instances[id.0].master_adver_interval
    }

    /// # Panics
    /// If `id` is not an instance of this router.
    pub fn counters(&self, id: InstanceId) -> &Counters {
        &self.instances[id.0].counters
    }

    pub fn global_counters(&self) -> &GlobalCounters {
        &self.global
    }

    /// keepalived's STATS_CLEAR signal: every instance's counters back to zero (the
    /// router-wide ones, which keepalived keeps nowhere, stay).
    pub fn clear_counters(&mut self) {
        for inst in &mut self.instances {
            inst.counters.clear();
        }
    }

    /// The sync group an instance belongs to, by name.
    ///
    /// # Panics
    /// If `id` is not an instance of this router.
    pub fn sync_group(&self, id: InstanceId) -> Option<&str> {
        let g = self.instances[id.0].group?;
        self.groups.get(g).map(|g| g.name.as_str())
    }

    // ---- transitions ------------------------------------------------------------

    fn push_transition(&mut self, i: usize, from: State, to: State, reason: Reason) {
        if from == State::Master && to != State::Master {
            self.instances[i].counters.release_master += 1;
        }
        if from != to {
            self.outputs.push_back(Output::Transition {
                instance: InstanceId(i),
                from,
                to,
                reason,
            });
        }
    }

    /// Send one advert with `priority` now (0: resignation).
    fn send_advert(&mut self, i: usize, priority: u8) {
        let wall = self.wall_now();
        let inst = &mut self.instances[i];
        match inst.build_adverts(priority, wall) {
            Some(packets) => {
                let interface = inst.cfg.interface;
                for (dst, ttl, packet) in packets {
                    inst.counters.sent_advertisements += 1;
                    if priority == 0 {
                        inst.counters.sent_pri_zero_packets += 1;
                    }
                    self.outputs.push_back(Output::Advert(TxAdvert {
                        instance: InstanceId(i),
                        interface,
                        dst,
                        ttl,
                        packet,
                    }));
                }
            }
            None => inst.counters.send_skipped += 1,
        }
    }

    fn announce(&mut self, i: usize) {
        let addresses = self.instances[i].cfg.vips.clone();
        if !addresses.is_empty() {
            self.outputs.push_back(Output::Announce {
                instance: InstanceId(i),
                addresses,
            });
        }
    }

    /// A burst of `repeat` announcements per VIP, `garp.interval` apart (KA-15).
    fn start_burst(&mut self, i: usize, now: Instant, repeat: u32) {
        if repeat == 0 {
            return;
        }
        let interval = self.instances[i].cfg.garp.interval;
        if interval.is_zero() {
            for _ in 0..repeat {
                self.announce(i);
            }
            return;
        }
        self.announce(i);
        let inst = &mut self.instances[i];
        inst.garp_rounds_left = repeat - 1;
        if inst.garp_rounds_left > 0 {
            arm(&mut self.heap, inst, i, Timer::GarpRound, now + interval);
        }
    }

    fn strict(&self, i: usize) -> bool {
        self.instances[i].cfg.strict
    }

    /// Enter Master: INI-01 / BKP-07 — announce every VIP, send an advert, arm the
    /// Adver_Timer.
    fn become_master(&mut self, i: usize, now: Instant, reason: Reason) {
        let strict = self.strict(i);
        let inst = &mut self.instances[i];
        let from = inst.state;
        if from == State::Master {
            return;
        }
        inst.state = State::Master;
        inst.cancel_all();
        inst.wants_master = false;
        inst.preempt_until = None;
        // Back as Master after a handover nobody took: the VIPs never left.
        inst.holding = false;
        inst.successor = None;
        inst.yielded = false;
        inst.master = inst.source;
        inst.master_priority = None;
        inst.master_adver_interval = inst.cfg.advert_int;
        inst.counters.master_transitions += 1;
        inst.counters.new_master_reason = match reason {
            Reason::Startup if inst.is_owner() => NewMasterReason::Priority,
            Reason::Preempt => NewMasterReason::Preempted,
            _ => NewMasterReason::MasterNoResponse,
        };
        let garp = inst.cfg.garp;
        let advert_int = inst.cfg.advert_int;
        let prio = inst.effective_priority();
        arm(&mut self.heap, inst, i, Timer::Adver, now + advert_int);
        let flapping = inst.note_master_entry(now);
        self.push_transition(i, from, State::Master, reason);
        if let Some((count, window)) = flapping {
            let window_ms = u64::try_from(window.as_millis()).unwrap_or(u64::MAX);
            self.note(
                now,
                i,
                "flapping",
                Event::Flapping {
                    instance: InstanceId(i),
                    count,
                    window_ms,
                },
            );
        }
        self.outputs.push_back(Output::Vips {
            instance: InstanceId(i),
            install: true,
        });
        // The RFC lists "send an ADVERTISEMENT" and "broadcast a gratuitous ARP" for
        // this event without an order between them. The first announcement goes
        // first: an old Master lets go of the VIPs as soon as it hears our advert, and
        // by then the clients should already be sending here (no lost packet on
        // preemption). Strict mode: one announcement per VIP (KA-15, KA-25).
        let repeat = if strict { 1 } else { garp.master_repeat.max(1) };
        self.start_burst(i, now, repeat);
        self.send_advert(i, prio);
        let inst = &mut self.instances[i];
        if !strict && !garp.master_delay.is_zero() && garp.master_repeat > 0 {
            inst.garp_delayed_repeat = garp.master_repeat;
            arm(
                &mut self.heap,
                inst,
                i,
                Timer::GarpDelay,
                now + garp.master_delay,
            );
        }
        if !garp.master_refresh.is_zero() {
            arm(
                &mut self.heap,
                inst,
                i,
                Timer::GarpRefresh,
                now + garp.master_refresh,
            );
        }
        self.router_advert(i, now);
    }

    /// ARP-07: a Master with `keepup_router_advert` sends a Router Advertisement now
    /// and arms the next one.
    fn router_advert(&mut self, i: usize, now: Instant) {
        let inst = &mut self.instances[i];
        let Some(lifetime) = inst.cfg.router_advert else {
            return;
        };
        let next = inst.next_router_advert(now, lifetime);
        inst.ra_sent = inst.ra_sent.saturating_add(1);
        inst.ra_last = Some(now);
        arm(&mut self.heap, inst, i, Timer::RouterAdvert, now + next);
        self.outputs.push_back(Output::RouterAdvert {
            instance: InstanceId(i),
        });
    }

    /// Enter Backup with a full down timer; a Master also releases its VIPs.
    fn become_backup(&mut self, i: usize, now: Instant, reason: Reason) {
        let inst = &mut self.instances[i];
        let from = inst.state;
        if from == State::Backup {
            return;
        }
        inst.state = State::Backup;
        inst.cancel_all();
        inst.wants_master = false;
        inst.down_reason = Reason::MasterDown;
        let down = inst.down_interval();
        arm(&mut self.heap, inst, i, Timer::MasterDown, now + down);
        if from == State::Master {
            self.outputs.push_back(Output::Vips {
                instance: InstanceId(i),
                install: false,
            });
        }
        self.push_transition(i, from, State::Backup, reason);
    }

    /// The new Master's advert reached a stopped instance holding its VIPs. keepalived
    /// sends that advert before it adds the VIPs and announces them, so the clients
    /// may still send here for a moment: the VIPs go with the new Master's
    /// announcement ([`Input::Claimed`]), or at the latest one grace period later
    /// (the advert interval, at most 50 ms).
    fn successor_heard(&mut self, i: usize, now: Instant, src: IpAddr) {
        const GRACE: Duration = Duration::from_millis(50);
        let inst = &mut self.instances[i];
        if inst.successor.is_some() {
            return;
        }
        inst.successor = Some(src);
        let at = now + inst.cfg.advert_int.min(GRACE);
        if inst.timers[Timer::Release as usize].is_none_or(|t| at < t) {
            arm(&mut self.heap, inst, i, Timer::Release, at);
        }
    }

    /// [`Input::Yield`] for one instance.
    fn set_yield(&mut self, i: usize, now: Instant, on: bool) {
        let inst = &mut self.instances[i];
        inst.yielded = on;
        if !on || inst.state != State::Master {
            return;
        }
        self.send_advert(i, 0);
        let inst = &mut self.instances[i];
        inst.state = State::Backup;
        inst.cancel_all();
        inst.wants_master = false;
        inst.master = None;
        inst.down_reason = Reason::MasterDown;
        // No Release timer: if nobody takes over, the down timer makes this Master
        // again, and it has kept its VIPs all along.
        let down = inst.down_interval();
        arm(&mut self.heap, inst, i, Timer::MasterDown, now + down);
        inst.holding = inst.cfg.handover;
        if !inst.holding {
            self.outputs.push_back(Output::Vips {
                instance: InstanceId(i),
                install: false,
            });
        }
        self.push_transition(i, State::Master, State::Backup, Reason::Yield);
    }

    /// Whether this instance was asked to hand over and has not been Master since.
    pub fn is_yielded(&self, id: InstanceId) -> bool {
        self.instances.get(id.0).is_some_and(|x| x.yielded)
    }

    /// A stopped instance holding its VIPs for the handover lets them go.
    fn let_go(&mut self, i: usize, how: Handover) {
        let inst = &mut self.instances[i];
        if !std::mem::take(&mut inst.holding) {
            return;
        }
        inst.successor = None;
        inst.cancel(Timer::Release);
        self.outputs.push_back(Output::Event(Event::HandedOver {
            instance: InstanceId(i),
            how,
        }));
        self.outputs.push_back(Output::Vips {
            instance: InstanceId(i),
            install: false,
        });
    }

    /// Whether a stopped Master still holds its VIPs for the handover (the driver
    /// keeps receiving and firing timers until none does).
    pub fn holding(&self) -> bool {
        self.instances.iter().any(|x| x.holding)
    }

    /// Whether this instance is stopped and still holds its VIPs for the handover.
    pub fn is_holding(&self, id: InstanceId) -> bool {
        self.instances.get(id.0).is_some_and(|x| x.holding)
    }

    /// Let go of every VIP still held for a handover now (the driver cannot wait).
    pub fn release_all(&mut self) {
        for i in 0..self.instances.len() {
            self.let_go(i, Handover::Cut);
        }
        self.settle();
    }

    /// Leave Master for Fault or Stop: a priority-0 advert first (MST-06, KA-18),
    /// then the VIPs go.
    fn resign(&mut self, i: usize) {
        self.let_go(i, Handover::Cut);
        if self.instances[i].state == State::Master {
            self.send_advert(i, 0);
            self.outputs.push_back(Output::Vips {
                instance: InstanceId(i),
                install: false,
            });
        }
        let inst = &mut self.instances[i];
        inst.cancel_all();
        inst.wants_master = false;
    }

    fn enter_fault(&mut self, i: usize, reason: Reason) {
        let from = self.instances[i].state;
        if !matches!(from, State::Backup | State::Master) {
            return;
        }
        self.resign(i);
        self.instances[i].state = State::Fault;
        self.push_transition(i, from, State::Fault, reason);
    }

    fn leave_fault(&mut self, i: usize, now: Instant) {
        let inst = &self.instances[i];
        if inst.state != State::Fault {
            return;
        }
        if inst.is_owner() && inst.cfg.state == InitialState::Master {
            self.become_master(i, now, Reason::FaultCleared);
        } else {
            self.instances[i].master_adver_interval = self.instances[i].cfg.advert_int;
            self.become_backup(i, now, Reason::FaultCleared);
        }
    }

    /// The instance and its sync group, or the instance alone.
    fn members(&self, i: usize) -> Vec<usize> {
        match self.instances[i].group.and_then(|g| self.groups.get(g)) {
            Some(g) => g.members.clone(),
            None => vec![i],
        }
    }

    /// Re-evaluate FAULT for the instance's group: a fault in one member pulls every
    /// member into FAULT; when none is left, they all return (KA-18).
    fn refresh_fault(&mut self, i: usize, now: Instant) {
        let members = self.members(i);
        let any = members.iter().any(|&m| self.instances[m].faulted());
        if any {
            let moving = members
                .iter()
                .filter(|&&m| matches!(self.instances[m].state, State::Backup | State::Master))
                .count();
            if moving > 0 && members.len() > 1 {
                self.outputs.push_back(Output::Event(Event::SyncGroup {
                    group: self.instances[i].group.unwrap_or_default(),
                    to: State::Fault,
                }));
            }
            for &m in &members {
                let reason = if self.instances[m].faulted() {
                    Reason::Fault
                } else {
                    Reason::SyncGroup
                };
                self.enter_fault(m, reason);
            }
        } else {
            // A member a reload made afresh has not started: its trackers are still
            // being fed, one at a time. The group stays as it is until its Startup
            // (which refreshes it), or a kept member would leave FAULT and return
            // at once.
            if members
                .iter()
                .any(|&m| self.instances[m].state == State::Initialize)
            {
                return;
            }
            let was_fault = members
                .iter()
                .any(|&m| self.instances[m].state == State::Fault);
            let at = self.outputs.len();
            for &m in &members {
                self.leave_fault(m, now);
            }
            // The group left FAULT: say so (and run its notify_backup) before its
            // members' transitions, as on the way in.
            if let (true, true, Some(g)) = (was_fault, members.len() > 1, self.instances[i].group) {
                if let Some(to) = self.group_state(g) {
                    self.outputs
                        .insert(at, Output::Event(Event::SyncGroup { group: g, to }));
                }
            }
        }
    }

    /// Report a sync group's state once its members agree on one (after start).
    fn report_group(&mut self, g: usize) {
        if let Some(to) = self.group_state(g) {
            self.outputs
                .push_back(Output::Event(Event::SyncGroup { group: g, to }));
        }
    }

    /// The state a sync group is in, when its members agree: FAULT if any member
    /// is in FAULT, else the state all of them share (Backup or Master).
    fn group_state(&self, g: usize) -> Option<State> {
        let members = &self.groups.get(g)?.members;
        let states = || members.iter().map(|&m| self.instances[m].state);
        if states().any(|s| s == State::Fault) {
            return Some(State::Fault);
        }
        let first = states().next()?;
        (matches!(first, State::Backup | State::Master) && states().all(|s| s == first))
            .then_some(first)
    }

    /// The down timer expired (or a sync-group peer became ready): become Master, with
    /// the whole sync group once every member is ready ("prefer backup", as
    /// keepalived does, so one stale member cannot split a group).
    fn want_master(&mut self, i: usize, now: Instant, reason: Reason) {
        let members = self.members(i);
        if members.len() == 1 {
            self.become_master(i, now, reason);
            return;
        }
        self.instances[i].wants_master = true;
        let ready = members.iter().all(|&m| {
            let s = &self.instances[m];
            s.state == State::Master || (s.state == State::Backup && s.wants_master)
        });
        if !ready {
            let inst = &mut self.instances[i];
            let down = inst.down_interval();
            arm(&mut self.heap, inst, i, Timer::MasterDown, now + down);
            return;
        }
        self.outputs.push_back(Output::Event(Event::SyncGroup {
            group: self.instances[i].group.unwrap_or_default(),
            to: State::Master,
        }));
        for m in members {
            let r = if m == i { reason } else { Reason::SyncGroup };
            self.become_master(m, now, r);
        }
    }

    /// A Master heard a better Master: step down, with its sync group.
    fn step_down(&mut self, i: usize, now: Instant) {
        self.become_backup(i, now, Reason::HigherPriority);
        let members = self.members(i);
        if members.len() > 1 {
            self.outputs.push_back(Output::Event(Event::SyncGroup {
                group: self.instances[i].group.unwrap_or_default(),
                to: State::Backup,
            }));
        }
        for m in members {
            if m != i && self.instances[m].state == State::Master {
                self.become_backup(m, now, Reason::SyncGroup);
            }
        }
    }

    fn startup(&mut self, i: usize, now: Instant) {
        let inst = &mut self.instances[i];
        if !matches!(inst.state, State::Initialize | State::Stop) {
            return;
        }
        // Started again while still holding VIPs for a handover: let them go first.
        self.let_go(i, Handover::Cut);
        if self.members(i).iter().any(|&m| self.instances[m].pending()) {
            // keepalived holds an instance in INIT until its weight-0 scripts have
            // reported, so it never takes the VIP on an unchecked service.
            self.instances[i].start_waiting = true;
            return;
        }
        let inst = &mut self.instances[i];
        let from = inst.state;
        inst.master_adver_interval = inst.cfg.advert_int; // TMR-06
        inst.master = None;
        if !inst.cfg.preempt_delay.is_zero() {
            inst.preempt_until = Some(now + inst.cfg.preempt_delay);
        }
        if self.members(i).iter().any(|&m| self.instances[m].faulted()) {
            self.instances[i].state = State::Fault;
            self.push_transition(i, from, State::Fault, Reason::Fault);
            return;
        }
        let inst = &mut self.instances[i];
        // KA-02: only an owner configured `state MASTER` starts as Master. Every
        // other instance starts Backup with the full down interval (INI-02), as
        // keepalived 2.2.7 does when an instance leaves INIT: a short first timer
        // would let one lost advert from a better Master make a restarting
        // router claim the VIPs and flap.
        if inst.is_owner() && inst.cfg.state == InitialState::Master {
            self.become_master(i, now, Reason::Startup);
            return;
        }
        inst.state = State::Backup;
        inst.down_reason = Reason::MasterDown;
        let down = inst.down_interval();
        arm(&mut self.heap, inst, i, Timer::MasterDown, now + down);
        self.push_transition(i, from, State::Backup, Reason::Startup);
    }

    /// Stop an instance. With `handover` (the whole daemon stopping, not a reload
    /// retiring one instance) a Master keeps its VIPs after the priority-0 advert
    /// until the new Master is heard or its down interval passes.
    fn shutdown(&mut self, i: usize, handover: Option<Instant>) {
        self.instances[i].start_waiting = false;
        let from = self.instances[i].state;
        if from == State::Stop {
            return;
        }
        match handover {
            Some(now) if from == State::Backup && self.instances[i].holding => {
                // Yielded and still holding: the priority 0 went out already; wait
                // for the successor as a stopping Master does.
                let inst = &mut self.instances[i];
                inst.cancel(Timer::MasterDown);
                inst.wants_master = false;
                if inst.timers[Timer::Release as usize].is_none() {
                    let bound = inst.handover_bound();
                    arm(&mut self.heap, inst, i, Timer::Release, now + bound);
                }
            }
            Some(now) if from == State::Master && self.instances[i].cfg.handover => {
                self.send_advert(i, 0);
                let inst = &mut self.instances[i];
                inst.cancel_all();
                inst.wants_master = false;
                inst.holding = true;
                let bound = inst.handover_bound();
                arm(&mut self.heap, inst, i, Timer::Release, now + bound);
            }
            _ => self.resign(i),
        }
        self.instances[i].state = State::Stop;
        self.push_transition(i, from, State::Stop, Reason::Shutdown);
    }

    fn fire(&mut self, i: usize, t: Timer, now: Instant) {
        // Each timer belongs to one state; leaving it cancels the timer, and this
        // guard keeps a stale one from acting.
        let inst = &self.instances[i];
        let live = match t {
            Timer::MasterDown => inst.state == State::Backup,
            // Stopped or yielded, whatever the state: while it still holds the VIPs.
            Timer::Release => inst.holding,
            _ => inst.state == State::Master,
        };
        if !live {
            return;
        }
        match t {
            Timer::Adver => {
                let inst = &mut self.instances[i];
                // MST-07: "Reset the Adver_Timer to Advertisement_Interval" when it
                // fires, as keepalived does: from now, so an advert sent late (a
                // loaded host, a resumed VM) is still followed by a whole interval,
                // never a shorter one.
                arm(
                    &mut self.heap,
                    inst,
                    i,
                    Timer::Adver,
                    now + inst.cfg.advert_int,
                );
                let prio = inst.effective_priority();
                self.send_advert(i, prio);
            }
            Timer::MasterDown => {
                let reason = self.instances[i].down_reason;
                self.want_master(i, now, reason);
            }
            Timer::GarpRound => {
                self.announce(i);
                let inst = &mut self.instances[i];
                inst.garp_rounds_left = inst.garp_rounds_left.saturating_sub(1);
                if inst.garp_rounds_left > 0 {
                    let interval = inst.cfg.garp.interval;
                    arm(&mut self.heap, inst, i, Timer::GarpRound, now + interval);
                }
            }
            Timer::GarpDelay => {
                let repeat = self.instances[i].garp_delayed_repeat;
                self.start_burst(i, now, repeat);
            }
            Timer::Release => {
                let how = match self.instances[i].successor {
                    Some(to) => Handover::Advert(to),
                    None => Handover::Timeout,
                };
                self.let_go(i, how);
            }
            Timer::GarpRefresh => {
                let inst = &mut self.instances[i];
                let garp = inst.cfg.garp;
                arm(
                    &mut self.heap,
                    inst,
                    i,
                    Timer::GarpRefresh,
                    now + garp.master_refresh,
                );
                self.start_burst(i, now, garp.master_refresh_repeat.max(1));
            }
            Timer::RouterAdvert => self.router_advert(i, now),
        }
    }
}
