//! The checkers' scheduler: every checker's timers and state, each real server's
//! alive state and weight, each virtual server's quorum and sorry server. Sans-IO:
//! time is an argument, probes are asked for ([`Output::Probe`]) and answered
//! ([`Input::Done`]); the kernel is told nothing, only what the pool of each virtual
//! server should now hold ([`Output::Pool`]).
//!
//! The rules are keepalived's (check_*.c epilogs, ipwrapper.c):
//! - a checker runs 1 s after start plus a random part of `warmup`, then every
//!   `delay_loop` (MISC_CHECK: counted from the start of its last run);
//! - an up checker that fails is tried again `retry` times, `delay_before_retry`
//!   apart, and goes down on the last failure; a down checker comes up on one success;
//!   `alpha` starts it down;
//! - a real server is alive while none of its checkers is down; `inhibit_on_failure`
//!   keeps it in the pool at weight 0 instead of removing it;
//! - a virtual server has quorum while its alive real servers weigh at least
//!   `quorum` (+ `hysteresis` to gain it, - `hysteresis` to lose it); without it the
//!   `sorry_server` replaces them;
//! - `misc_dynamic`: exit status 2-255 sets the weight to status - 2, 0 restores the
//!   configured weight. Each checker's part is kept apart and the weight computed from
//!   them afresh, so it never drifts (keepalived #2720).
//!
//! A run that has not answered by its timeout has failed; the caller is told to
//! cancel it ([`Output::Cancel`]) and a late answer is ignored.
//!
//! For the metrics, each checker keeps how long its last run took and its failed
//! runs by kind ([`FailKind`]) since start; a reload that keeps the checker keeps
//! them.
//!
//! `ha_suspend` (check_api.c `update_checker_activity`, the checkers' launch
//! threads): while none of a virtual server's addresses is on this host, each of its
//! checkers, when its run comes, does not run and looks again `delay_loop` later. Its
//! state, its real server's state and the pool stay as they were (nothing is removed
//! or re-weighted); a run already in flight ends and counts as usual. When an address
//! comes back the next of those looks runs the check (within `delay_loop`, not at
//! once), and a retry run in progress goes on where it stopped. At start a virtual
//! server whose address is absent begins suspended: its real servers keep their
//! starting state (up, or down with `alpha`) until it is checked. FILE_CHECK is not a
//! timed check in keepalived and is never suspended. The caller tells which addresses
//! are on this host ([`Scheduler::local_addresses`], [`Input::AddressAdded`]); until
//! it does nothing is suspended.
use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap, HashMap, HashSet, VecDeque};
use std::net::IpAddr;
use std::time::{Duration, Instant};

use crate::plan::{secs, CheckerPlan, Plan, RsPlan, VsPlan};

mod fail;
mod io;
mod reload;
mod view;
pub use fail::{FailKind, Failures};
pub use io::*;
pub use view::{CheckerStatus, Moment, RsView, VsView};

/// keepalived's BOOTSTRAP_DELAY: the first run of every checker waits this long.
pub const BOOTSTRAP_DELAY: Duration = Duration::from_secs(1);

/// IPVS keeps weights in a signed 32-bit field.
const WEIGHT_MAX: i64 = i32::MAX as i64;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Alarm {
    /// Start a run.
    Run,
    /// The running attempt's timeout.
    Timeout,
}

#[derive(Debug)]
struct CheckerState {
    rs: usize,
    /// Index in its real server's plan.
    at: usize,
    up: bool,
    has_run: bool,
    retry_it: u32,
    /// The armed alarm and when; a heap entry that differs is stale.
    alarm: Option<(Instant, Alarm)>,
    running: Option<(u64, Instant)>,
    /// What its last success adds to the configured weight (misc_dynamic: its
    /// weight minus the configured one; FILE_CHECK: the file's value times its weight).
    weight_shift: i64,
    last_error: Option<String>,
    since: Option<Instant>,
    /// Its last run's time from start to verdict (the timeout for one cancelled).
    last_duration: Option<Duration>,
    failures: Failures,
}

#[derive(Debug)]
struct RsState {
    vs: usize,
    at: usize,
    alive: bool,
    /// Checkers down.
    failed: u32,
    checkers: Vec<usize>,
}

#[derive(Debug, Default)]
struct VsState {
    rs: Vec<usize>,
    quorum_up: bool,
    sorry_on: bool,
    /// `ha_suspend` with none of its addresses on this host: its checkers do not run.
    suspended: bool,
    /// What the pool holds, as last told.
    pool: BTreeMap<Dest, u32>,
}

/// The smallest [`Scheduler::heap_limit`].
const HEAP_FLOOR: usize = 64;

/// Outputs the queue keeps room for once drained.
const OUT_KEPT: usize = 64;

pub struct Scheduler {
    /// Shared with the status ([`Moment`]).
    plan: std::sync::Arc<Plan>,
    vss: Vec<VsState>,
    rss: Vec<RsState>,
    checkers: Vec<CheckerState>,
    heap: BinaryHeap<Reverse<(Instant, usize, Alarm)>>,
    /// Heap size past which it is rebuilt from the armed alarms (twice those armed at
    /// the last rebuild, at least [`HEAP_FLOOR`]). A re-armed alarm leaves its old
    /// entry behind (a run answered long before its timeout leaves the Timeout one);
    /// this keeps such stale entries from outnumbering the live ones.
    heap_limit: usize,
    /// The checker of each run in flight, by attempt.
    inflight: HashMap<u64, usize>,
    out: VecDeque<Output>,
    attempts: u64,
    rng: u64,
    started: bool,
    /// The addresses on this host's interfaces, by (ifindex, address): an address on
    /// two interfaces (an IPv6 link-local one) stays until both lose it. None: not
    /// known (nothing is suspended).
    local: Option<HashSet<(u32, IpAddr)>>,
}

impl Scheduler {
    /// `seed` drives the warmup's random start (the caller supplies randomness).
    pub fn new(plan: Plan, seed: u64) -> Scheduler {
        let mut s = Scheduler {
            vss: Vec::new(),
            rss: Vec::new(),
            checkers: Vec::new(),
            heap: BinaryHeap::new(),
            heap_limit: HEAP_FLOOR,
            inflight: HashMap::new(),
            out: VecDeque::new(),
            attempts: 0,
            rng: seed | 1,
            started: false,
            local: None,
            plan: std::sync::Arc::new(plan),
        };
        for (v, vp) in s.plan.virtual_servers.iter().enumerate() {
            let mut vs = VsState::default();
            for (r, rp) in vp.real_servers.iter().enumerate() {
                let mut rs = RsState {
                    vs: v,
                    at: r,
                    alive: false,
                    failed: 0,
                    checkers: Vec::new(),
                };
                for (c, cp) in rp.checkers.iter().enumerate() {
                    rs.checkers.push(s.checkers.len());
                    // alpha: down until its first success.
                    rs.failed += u32::from(cp.alpha);
                    s.checkers.push(CheckerState {
                        rs: s.rss.len(),
                        at: c,
                        up: !cp.alpha,
                        has_run: false,
                        retry_it: 0,
                        alarm: None,
                        running: None,
                        weight_shift: 0,
                        last_error: None,
                        since: None,
                        last_duration: None,
                        failures: Failures::default(),
                    });
                }
                vs.rs.push(s.rss.len());
                s.rss.push(rs);
            }
            s.vss.push(vs);
        }
        s
    }

    pub fn plan(&self) -> &Plan {
        &self.plan
    }

    /// The plan, shared.
    pub fn shared_plan(&self) -> std::sync::Arc<Plan> {
        self.plan.clone()
    }

    /// Whether any real server has a checker.
    pub fn has_checkers(&self) -> bool {
        !self.checkers.is_empty()
    }

    /// Fill each pool with the real servers that start alive (not alpha), decide
    /// quorum, and schedule every checker's first run.
    pub fn start(&mut self, now: Instant) {
        if self.started {
            return;
        }
        self.started = true;
        for v in 0..self.vss.len() {
            for r in self.vss[v].rs.clone() {
                if self.rss[r].failed == 0 {
                    self.rss[r].alive = true;
                    if self.plan.rs_init_notifies {
                        self.event(Event::RealServer {
                            rs: RsId(r),
                            alive: true,
                            moved: false,
                        });
                    }
                }
            }
            let (quorum, hysteresis) = self.quorum_of(v);
            self.vss[v].quorum_up = self.live_weight(v) >= quorum + hysteresis;
            self.update_quorum(v, true);
            self.sync_pool(v);
        }
        for c in 0..self.checkers.len() {
            let warmup = self.cplan(c).timing.warmup;
            let at = now + BOOTSTRAP_DELAY + self.random_part(warmup);
            self.arm(c, at, Alarm::Run);
        }
        for v in 0..self.vss.len() {
            if self.vss[v].suspended {
                self.event(Event::Suspended {
                    vs: VsId(v),
                    on: true,
                    start: true,
                });
            }
        }
    }

    /// The addresses on this host now, as (ifindex, address): at start (before
    /// [`Scheduler::start`], so the checkers begin suspended or not) and after the
    /// caller lost track of changes. Suspends and resumes what this changes.
    pub fn local_addresses(&mut self, addrs: impl IntoIterator<Item = (u32, IpAddr)>) {
        self.local = Some(addrs.into_iter().collect());
        self.update_suspended();
    }

    /// Whether `vs`'s checkers are suspended (`ha_suspend`, its address absent).
    pub fn suspended(&self, vs: VsId) -> bool {
        self.vss.get(vs.0).is_some_and(|v| v.suspended)
    }

    /// Stop: cancel the runs in flight, empty every pool and, with `omega`, run the
    /// down notifiers (keepalived's clear_services). Nothing runs after this.
    pub fn shutdown(&mut self) {
        for c in 0..self.checkers.len() {
            self.checkers[c].alarm = None;
            if let Some((attempt, _)) = self.checkers[c].running.take() {
                self.out.push_back(Output::Cancel { attempt });
            }
        }
        self.heap.clear();
        self.inflight.clear();
        for v in 0..self.vss.len() {
            let omega = self.vplan(v).omega;
            for r in self.vss[v].rs.clone() {
                let was_alive = std::mem::replace(&mut self.rss[r].alive, false);
                if self.vss[v].pool.contains_key(&Dest::Real(RsId(r))) || was_alive {
                    self.event(Event::ShutdownRs {
                        rs: RsId(r),
                        notify: omega && was_alive,
                    });
                }
            }
            self.vss[v].quorum_up = false;
            self.vss[v].sorry_on = false;
            if omega {
                self.event(Event::ShutdownVs { vs: VsId(v) });
            }
            let have = std::mem::take(&mut self.vss[v].pool);
            for dest in have.into_keys() {
                self.pool_out(v, dest, PoolOp::Remove);
            }
        }
    }

    pub fn handle(&mut self, now: Instant, input: Input) {
        match input {
            Input::AddressAdded { ifindex, ip } => {
                self.local
                    .get_or_insert_with(HashSet::new)
                    .insert((ifindex, ip));
                self.update_suspended();
            }
            Input::AddressRemoved { ifindex, ip } => {
                self.local
                    .get_or_insert_with(HashSet::new)
                    .remove(&(ifindex, ip));
                self.update_suspended();
            }
            Input::Done { attempt, verdict } => {
                let Some(c) = self.inflight.get(&attempt).copied() else {
                    return;
                };
                let Some((running, started)) = self.checkers[c].running else {
                    return;
                };
                if running == attempt {
                    let took = now.saturating_duration_since(started);
                    self.finish(now, c, started, took, verdict);
                }
            }
        }
    }

    /// Start the runs that fall due and fail those past their timeout.
    pub fn handle_timeout(&mut self, now: Instant) {
        while let Some(&Reverse((at, c, alarm))) = self.heap.peek() {
            if at > now {
                break;
            }
            self.heap.pop();
            if self.checkers[c].alarm != Some((at, alarm)) {
                continue;
            }
            self.checkers[c].alarm = None;
            match alarm {
                // keepalived's disabled checker: no run, another look delay_loop on.
                Alarm::Run if self.checker_suspended(c) => {
                    let delay = self.cplan(c).timing.delay_loop;
                    self.arm(c, now + delay, Alarm::Run);
                }
                Alarm::Run => self.run(now, c),
                Alarm::Timeout => {
                    let Some((attempt, started)) = self.checkers[c].running else {
                        continue;
                    };
                    self.out.push_back(Output::Cancel { attempt });
                    let t = self.cplan(c).timing.timeout;
                    let reason = format!("no answer within {}", secs(t));
                    // It took the timeout, however late this wake-up came.
                    let verdict = Verdict::fail(FailKind::Timeout, reason);
                    self.finish(now, c, started, t, verdict);
                }
            }
        }
    }

    pub fn poll_timeout(&mut self) -> Option<Instant> {
        // Stale entries on top are dropped here so the caller never wakes for them.
        while let Some(&Reverse((at, c, alarm))) = self.heap.peek() {
            if self.checkers[c].alarm == Some((at, alarm)) {
                return Some(at);
            }
            self.heap.pop();
        }
        None
    }

    pub fn poll_output(&mut self) -> Option<Output> {
        let next = self.out.pop_front();
        if next.is_none() && self.out.capacity() > OUT_KEPT {
            // A start or a reload queues an output per real server; the queue's
            // room for them is not kept for the daemon's life.
            self.out.shrink_to(OUT_KEPT);
        }
        next
    }

    pub fn checker(&self, id: CheckerId) -> Option<CheckerView> {
        let c = self.checkers.get(id.0)?;
        Some(CheckerView {
            kind: self.cplan(id.0).kind(),
            up: c.up,
            has_run: c.has_run,
            retries: c.retry_it,
            last_error: c.last_error.clone(),
            last_duration: c.last_duration,
            failures: c.failures,
            since: c.since,
            next: c.alarm.filter(|a| a.1 == Alarm::Run).map(|a| a.0),
        })
    }

    /// The checkers of a real server, in config order.
    pub fn checkers_of(&self, rs: RsId) -> &[usize] {
        self.rss.get(rs.0).map_or(&[], |r| &r.checkers)
    }

    /// Where a real server sits: its virtual server and its index in that virtual
    /// server's `real_servers`.
    pub fn real_server_at(&self, rs: RsId) -> Option<(VsId, usize)> {
        self.rss.get(rs.0).map(|r| (VsId(r.vs), r.at))
    }

    pub fn is_alive(&self, rs: RsId) -> bool {
        self.rss.get(rs.0).is_some_and(|r| r.alive)
    }

    /// The real server's weight now (configured, or as misc_dynamic set it).
    pub fn weight(&self, rs: RsId) -> u32 {
        self.effective_weight(rs.0)
    }

    pub fn quorum_up(&self, vs: VsId) -> bool {
        self.vss.get(vs.0).is_some_and(|v| v.quorum_up)
    }

    pub fn sorry_on(&self, vs: VsId) -> bool {
        self.vss.get(vs.0).is_some_and(|v| v.sorry_on)
    }

    /// What `vs`'s pool holds now.
    pub fn pool(&self, vs: VsId) -> Vec<(Dest, u32)> {
        self.vss
            .get(vs.0)
            .map(|v| v.pool.iter().map(|(d, w)| (*d, *w)).collect())
            .unwrap_or_default()
    }

    /// Names for log lines: the virtual server and real server a checker belongs to.
    pub fn names(&self, checker: CheckerId) -> Option<(&str, &str)> {
        let c = self.checkers.get(checker.0)?;
        let r = &self.rss[c.rs];
        Some((self.vplan(r.vs).name.as_str(), &self.rplan(c.rs).name))
    }

    pub fn rs_plan(&self, rs: RsId) -> Option<&RsPlan> {
        self.rss.get(rs.0).map(|_| self.rplan(rs.0))
    }

    /// The real server a checker belongs to.
    pub fn rs_of(&self, c: CheckerId) -> Option<RsId> {
        self.checkers.get(c.0).map(|c| RsId(c.rs))
    }

    pub fn vs_of(&self, rs: RsId) -> Option<VsId> {
        self.rss.get(rs.0).map(|r| VsId(r.vs))
    }

    pub fn checker_plan(&self, c: CheckerId) -> Option<&std::sync::Arc<CheckerPlan>> {
        self.checkers.get(c.0).map(|_| self.cplan(c.0))
    }

    // ---------------------------------------------------------------------------
    // Checkers

    fn run(&mut self, now: Instant, c: usize) {
        self.attempts += 1;
        let attempt = self.attempts;
        let timeout = self.cplan(c).timing.timeout;
        self.checkers[c].running = Some((attempt, now));
        self.inflight.insert(attempt, c);
        self.arm(c, now + timeout, Alarm::Timeout);
        self.out.push_back(Output::Probe {
            checker: CheckerId(c),
            attempt,
            timeout,
        });
    }

    /// keepalived's checker epilog: retry, state change, the next run. `took`: the
    /// run's time from `started` to its verdict.
    fn finish(
        &mut self,
        now: Instant,
        c: usize,
        started: Instant,
        took: Duration,
        verdict: Verdict,
    ) {
        let cp = self.cplan(c);
        let t = cp.timing;
        let (dynamic, log_all) = (
            cp.dynamic,
            cp.log_all_failures || self.plan.log_all_failures,
        );
        if let Some((attempt, _)) = self.checkers[c].running.take() {
            self.inflight.remove(&attempt);
        }
        self.checkers[c].last_duration = Some(took);
        let st = &self.checkers[c];
        let (up, has_run, retry_it) = (st.up, st.has_run, st.retry_it);
        let mut delay = t.delay_loop;
        match verdict {
            Verdict::Pass { .. } | Verdict::Shift { .. } => {
                self.checkers[c].retry_it = 0;
                self.checkers[c].last_error = None;
                if dynamic {
                    let base = i64::from(self.rplan(self.checkers[c].rs).weight);
                    let shift = match verdict {
                        Verdict::Pass { weight } => weight.map_or(0, |w| i64::from(w) - base),
                        Verdict::Shift { by } => by,
                        Verdict::Fail { .. } => 0,
                    };
                    self.shift_weight(c, shift);
                }
                if !up || !has_run {
                    self.event(Event::CheckerUp {
                        checker: CheckerId(c),
                    });
                    self.checker_state(now, c, true);
                }
            }
            Verdict::Fail { kind, reason } => {
                self.checkers[c].failures.count(kind);
                self.checkers[c].last_error = Some(reason.clone());
                if (up || !has_run) && retry_it >= t.retry {
                    self.checkers[c].retry_it = 0;
                    self.event(Event::CheckerDown {
                        checker: CheckerId(c),
                        reason,
                    });
                    self.checker_state(now, c, false);
                } else if up {
                    delay = t.delay_before_retry;
                    self.checkers[c].retry_it = retry_it + 1;
                    if log_all {
                        self.event(Event::AttemptFailed {
                            checker: CheckerId(c),
                            reason,
                            retry: retry_it + 1,
                            of: t.retry,
                        });
                    }
                }
            }
        }
        self.checkers[c].has_run = true;
        let from = if t.from_start { started } else { now };
        self.arm(c, (from + delay).max(now), Alarm::Run);
    }

    /// keepalived's update_svr_checker_state.
    fn checker_state(&mut self, now: Instant, c: usize, up: bool) {
        let r = self.checkers[c].rs;
        if self.checkers[c].up == up {
            // The first run confirmed the starting state: notifiers only.
            if !self.checkers[c].has_run && (self.cplan(c).alpha || !up) {
                self.event(Event::RealServer {
                    rs: RsId(r),
                    alive: self.rss[r].alive,
                    moved: false,
                });
            }
            return;
        }
        self.checkers[c].up = up;
        self.checkers[c].since = Some(now);
        if up {
            self.rss[r].failed = self.rss[r].failed.saturating_sub(1);
        } else {
            self.rss[r].failed += 1;
        }
        let alive = self.rss[r].failed == 0;
        if alive != self.rss[r].alive {
            self.rss[r].alive = alive;
            self.event(Event::RealServer {
                rs: RsId(r),
                alive,
                moved: true,
            });
            let v = self.rss[r].vs;
            self.update_quorum(v, false);
            self.sync_pool(v);
        }
    }

    fn shift_weight(&mut self, c: usize, shift: i64) {
        let r = self.checkers[c].rs;
        let before = self.effective_weight(r);
        self.checkers[c].weight_shift = shift;
        let after = self.effective_weight(r);
        if before != after {
            self.event(Event::Weight {
                rs: RsId(r),
                from: before,
                to: after,
            });
            let v = self.rss[r].vs;
            self.update_quorum(v, false);
            self.sync_pool(v);
        }
    }

    /// The configured weight plus each dynamic checker's shift, as keepalived's manual
    /// describes for several MISC_CHECKs and FILE_CHECKs.
    fn effective_weight(&self, r: usize) -> u32 {
        let base = i64::from(self.rplan(r).weight);
        let parts: i64 = self.rss[r]
            .checkers
            .iter()
            .map(|&c| self.checkers[c].weight_shift)
            .sum();
        // In range: clamped to 0..=i32::MAX.
        (base + parts).clamp(0, WEIGHT_MAX) as u32
    }

    // ---------------------------------------------------------------------------
    // Virtual servers

    /// Whether checker `c` skips its runs now (`ha_suspend`; never a FILE_CHECK).
    fn checker_suspended(&self, c: usize) -> bool {
        let v = self.rss[self.checkers[c].rs].vs;
        self.vss[v].suspended && self.cplan(c).file.is_none()
    }

    /// Whether `v` should be suspended with the addresses known now.
    fn wants_suspended(&self, v: usize) -> bool {
        let (Some(on), Some(local)) = (&self.vplan(v).ha_suspend, &self.local) else {
            return false;
        };
        !local.iter().any(|&(_, ip)| on.matches(ip))
    }

    /// Suspend or resume each `ha_suspend` virtual server as the addresses say; a
    /// change after start is told ([`Event::Suspended`]).
    fn update_suspended(&mut self) {
        for v in 0..self.vss.len() {
            let want = self.wants_suspended(v);
            if want == self.vss[v].suspended {
                continue;
            }
            self.vss[v].suspended = want;
            if self.started {
                self.event(Event::Suspended {
                    vs: VsId(v),
                    on: want,
                    start: false,
                });
            }
        }
    }

    fn quorum_of(&self, v: usize) -> (i64, i64) {
        let p = self.vplan(v);
        (i64::from(p.quorum), i64::from(p.hysteresis))
    }

    fn live_weight(&self, v: usize) -> i64 {
        self.vss[v]
            .rs
            .iter()
            .filter(|&&r| self.rss[r].alive)
            .map(|&r| i64::from(self.effective_weight(r)))
            .sum()
    }

    /// keepalived's update_quorum_state: gain at quorum + hysteresis, lose below
    /// quorum - hysteresis (or with no weight left); the sorry server follows.
    fn update_quorum(&mut self, v: usize, start: bool) {
        let (quorum, hysteresis) = self.quorum_of(v);
        let weight = self.live_weight(v);
        let up = self.vss[v].quorum_up;
        let threshold = if up {
            quorum - hysteresis
        } else {
            quorum + hysteresis
        };
        let has_sorry = self.vplan(v).sorry.is_some();
        if !up && weight >= threshold {
            self.vss[v].quorum_up = true;
            self.event(Event::Quorum {
                vs: VsId(v),
                up: true,
                start,
                threshold,
                weight,
            });
            if self.vss[v].sorry_on {
                self.vss[v].sorry_on = false;
                self.event(Event::Sorry {
                    vs: VsId(v),
                    on: false,
                });
            }
        } else if (up && (weight == 0 || weight < threshold))
            || (start && !up && has_sorry && !self.vss[v].sorry_on)
        {
            self.vss[v].quorum_up = false;
            self.event(Event::Quorum {
                vs: VsId(v),
                up: false,
                start,
                threshold,
                weight,
            });
            if has_sorry && !self.vss[v].sorry_on {
                self.vss[v].sorry_on = true;
                self.event(Event::Sorry {
                    vs: VsId(v),
                    on: true,
                });
            }
        }
    }

    /// What the pool should hold: alive real servers at their weight (inhibited
    /// ones at 0), unless the sorry server stands in for them all.
    fn desired_pool(&self, v: usize) -> BTreeMap<Dest, u32> {
        let vp = self.vplan(v);
        let sorry_on = self.vss[v].sorry_on;
        let mut pool = BTreeMap::new();
        for &r in &self.vss[v].rs {
            let rp = self.rplan(r);
            if self.rss[r].alive && !sorry_on {
                pool.insert(Dest::Real(RsId(r)), self.effective_weight(r));
            } else if rp.inhibit {
                pool.insert(Dest::Real(RsId(r)), 0);
            }
        }
        if let Some(s) = &vp.sorry {
            if sorry_on {
                pool.insert(Dest::Sorry, 1);
            } else if s.inhibit {
                pool.insert(Dest::Sorry, 0);
            }
        }
        pool
    }

    /// Tell the difference between what the pool holds and what it should.
    fn sync_pool(&mut self, v: usize) {
        let want = self.desired_pool(v);
        let have = std::mem::take(&mut self.vss[v].pool);
        for dest in have.keys().filter(|d| !want.contains_key(d)) {
            self.pool_out(v, *dest, PoolOp::Remove);
        }
        for (dest, &weight) in &want {
            let op = match have.get(dest) {
                None => PoolOp::Add { weight },
                Some(&w) if w != weight => PoolOp::Weight { weight },
                Some(_) => continue,
            };
            self.pool_out(v, *dest, op);
        }
        self.vss[v].pool = want;
    }

    fn pool_out(&mut self, v: usize, dest: Dest, op: PoolOp) {
        let server = self.server(v, dest);
        self.out.push_back(Output::Pool {
            vs: VsId(v),
            dest: Some(dest),
            server,
            op,
        });
    }

    /// The address of a pool entry of `v`, as the plan names it.
    fn server(&self, v: usize, dest: Dest) -> Server {
        match dest {
            Dest::Real(RsId(r)) => {
                let p = self.rplan(r);
                Server {
                    name: p.name.to_string(),
                    ip: p.ip,
                    port: p.port,
                }
            }
            Dest::Sorry => match &self.vplan(v).sorry {
                Some(s) => Server {
                    name: s.name.clone(),
                    ip: s.ip,
                    port: s.port,
                },
                None => Server {
                    name: String::new(),
                    ip: std::net::IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED),
                    port: None,
                },
            },
        }
    }

    // ---------------------------------------------------------------------------
    // Helpers

    fn event(&mut self, e: Event) {
        self.out.push_back(Output::Event(e));
    }

    fn arm(&mut self, c: usize, at: Instant, alarm: Alarm) {
        self.checkers[c].alarm = Some((at, alarm));
        self.heap.push(Reverse((at, c, alarm)));
        if self.heap.len() > self.heap_limit {
            self.heap = (self.checkers.iter().enumerate())
                .filter_map(|(c, st)| st.alarm.map(|(at, alarm)| Reverse((at, c, alarm))))
                .collect();
            self.heap_limit = (2 * self.heap.len()).max(HEAP_FLOOR);
        }
    }

    /// Uniform in `0..=max` at millisecond steps (xorshift64: enough to spread
    /// checkers; no security rests on it).
    fn random_part(&mut self, max: Duration) -> Duration {
        let ms = u64::try_from(max.as_millis()).unwrap_or(u64::MAX);
        if ms == 0 {
            return Duration::ZERO;
        }
        self.rng ^= self.rng << 13;
        self.rng ^= self.rng >> 7;
        self.rng ^= self.rng << 17;
        Duration::from_millis(self.rng % (ms + 1))
    }

    fn vplan(&self, v: usize) -> &VsPlan {
        &self.plan.virtual_servers[v]
    }

    fn rplan(&self, r: usize) -> &RsPlan {
        let rs = &self.rss[r];
        &self.plan.virtual_servers[rs.vs].real_servers[rs.at]
    }

    fn cplan(&self, c: usize) -> &std::sync::Arc<CheckerPlan> {
        let ch = &self.checkers[c];
        &self.rplan(ch.rs).checkers[ch.at]
    }
}

#[cfg(test)]
mod tests;
