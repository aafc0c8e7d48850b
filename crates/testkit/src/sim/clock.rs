//! Host-level faults of the simulator: a suspended host (its monotonic clock stalled
//! or jumping forward), a stepped wall clock, and a reload that changes a priority.
//!
//! The engine's time is monotonic by contract, so "the clock jumps" means one of
//! three things for a sans-IO engine, each simulated here:
//!
//! - **Monotonic clock stalls** ([`SuspendClock::Stall`]): the host is suspended and
//!   its `CLOCK_MONOTONIC` (what the daemon's loop reads) does not count the pause.
//!   At the resume the engine's time goes on from where it stopped, so from then on
//!   it lags the other routers' (the simulator keeps a per-router lag and converts
//!   instants both ways).
//! - **Monotonic clock jumps forward** ([`SuspendClock::Jump`]): the same pause with
//!   a clock that does count it (`CLOCK_BOOTTIME`, a hypervisor that catches the
//!   guest clock up): at the resume every timer is overdue and fires at once.
//! - **Wall clock steps** ([`Action::Wall`](super::Action::Wall)), forward or back:
//!   `Router::set_wall` is given the host's Unix time before each input, as the
//!   daemon does; only `auth_hmac` with `anti_replay time` reads it (its sequence is
//!   the sender's Unix time and the receiver checks it against its own clock).
use super::{Action, Cause, InFlight, RouterId, Sim, Track};
use crate::cfg::down_interval;
use keepup_vrrp::{Input, InstanceId, State, TrackEffect};
use std::time::Duration;

/// What a suspended host's monotonic clock does (see the module doc).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SuspendClock {
    /// It stops during the pause: the engine's time lags from then on.
    Stall,
    /// It counts the pause: every timer is overdue at the resume.
    Jump,
}

impl SuspendClock {
    pub fn as_str(self) -> &'static str {
        match self {
            SuspendClock::Stall => "stall",
            SuspendClock::Jump => "jump",
        }
    }
}

/// Packets a suspended host's socket buffers hold; later ones are dropped.
const HELD_PACKETS: usize = 256;

/// Something that reached a suspended host and waits for its resume.
#[derive(Debug)]
pub(super) enum Held {
    Packet(InFlight),
    Action(Action),
}

/// A suspended host.
#[derive(Debug)]
pub(super) struct Frozen {
    since: keepup_vrrp::Instant,
    clock: SuspendClock,
    held: Vec<Held>,
    packets: usize,
}

impl Frozen {
    pub(super) fn hold(&mut self, h: Held) {
        if matches!(h, Held::Packet(_)) {
            if self.packets >= HELD_PACKETS {
                return;
            }
            self.packets += 1;
        }
        self.held.push(h);
    }
}

impl Sim {
    /// Unix time at simulation time 0 (default 0): routers' wall clocks read this
    /// plus the simulation time plus their own offset.
    pub fn set_wall_epoch(&mut self, epoch: Duration) -> &mut Self {
        self.wall_epoch = epoch;
        self
    }

    /// What `r`'s wall clock reads now.
    pub(super) fn wall_of(&self, r: RouterId) -> Duration {
        let true_now = self.wall_epoch + Duration::from_nanos(self.now.as_nanos());
        let off = self.nodes[r.0].wall_offset_ms;
        let d = Duration::from_millis(off.unsigned_abs());
        if off >= 0 {
            true_now + d
        } else {
            true_now.saturating_sub(d)
        }
    }

    /// Is `r` suspended now?
    pub fn is_suspended(&self, r: RouterId) -> bool {
        self.nodes[r.0].frozen.is_some()
    }

    /// An action for a suspended router waits for its resume; `Some` if it runs now.
    pub(super) fn hold_if_frozen(&mut self, action: Action) -> Option<Action> {
        let target = match &action {
            Action::Shutdown(r)
            | Action::Link { router: r, .. }
            | Action::Track { router: r, .. }
            | Action::Suspend { router: r, .. }
            | Action::Wall { router: r, .. }
            | Action::Reload { router: r, .. } => Some(*r),
            _ => None,
        };
        match target.and_then(|r| self.nodes[r.0].frozen.as_mut()) {
            Some(f) => {
                f.hold(Held::Action(action));
                None
            }
            None => Some(action),
        }
    }

    pub(super) fn suspend(&mut self, r: RouterId, length: Duration, clock: SuspendClock) {
        self.log(format!(
            "{r} suspend {}ms clock={}",
            length.as_millis(),
            clock.as_str()
        ));
        let now = self.now;
        let node = &mut self.nodes[r.0];
        if node.engine.is_none() {
            return;
        }
        node.frozen = Some(Frozen {
            since: now,
            clock,
            held: Vec::new(),
            packets: 0,
        });
        node.deadline = None;
        self.at(now + length, Action::Resume(r));
    }

    /// The end of a suspension: overdue timers first, then what waited, in order.
    pub(super) fn resume(&mut self, r: RouterId) {
        let now = self.now;
        let node = &mut self.nodes[r.0];
        let Some(f) = node.frozen.take() else {
            return;
        };
        if f.clock == SuspendClock::Stall {
            node.lag += now - f.since;
        }
        let lag = node.lag;
        node.deadline = node
            .engine
            .as_ref()
            .and_then(|e| e.poll_timeout())
            .map(|d| d + lag);
        self.log(format!("{r} resume (engine clock {} behind)", fmt_ms(lag)));
        if self.nodes[r.0].deadline.is_some_and(|d| d <= now) {
            self.fire_timer(r);
        }
        for h in f.held {
            match h {
                Held::Packet(p) => self.deliver(p),
                Held::Action(a) => self.apply(a),
            }
        }
    }

    pub(super) fn set_wall_offset(&mut self, r: RouterId, offset_ms: i64) {
        self.log(format!("{r} wall clock {offset_ms:+}ms"));
        self.nodes[r.0].wall_offset_ms = offset_ms;
    }

    /// A reload with `instance`'s priority changed (see [`Action::Reload`]).
    pub(super) fn reload(&mut self, r: RouterId, instance: InstanceId, priority: u8) {
        let who = self.who(r, instance);
        let now = self.now;
        let node = &mut self.nodes[r.0];
        let Some(c) = node.configs.get_mut(instance.0) else {
            panic!("{r}: no instance {instance:?}");
        };
        let line = format!("{who} reload priority {}->{priority}", c.priority);
        // The daemon keeps an unchanged instance (`reload::decide`).
        let changed = c.priority != priority;
        c.priority = priority;
        let name = c.name.clone();
        let configs = node.configs.clone();
        let groups = node.groups.clone();
        self.log(line);
        let node = &mut self.nodes[r.0];
        let Some(engine) = node.engine.as_mut().filter(|_| !node.shut_down) else {
            return; // powered off: the next start reads the new configuration
        };
        let before = self.transitions.len();
        engine.retire(|c| c.name != name || !changed);
        self.drain(r, Cause::Reload);
        let node = &mut self.nodes[r.0];
        let Some(engine) = node.engine.as_mut() else {
            return;
        };
        let kept = match engine.reconfigure(configs, groups) {
            Ok(k) => k,
            Err(e) => {
                self.violation(format!("{r}: reload refused: {e}"));
                return;
            }
        };
        let fresh: Vec<usize> = (0..kept.len()).filter(|&k| kept[k].is_none()).collect();
        for &k in &fresh {
            let old = std::mem::replace(&mut self.nodes[r.0].track[k], Track::new());
            if old.state != State::Stop {
                self.violation(format!(
                    "{r}: reload left instance {k} in {} (Stop expected)",
                    old.state
                ));
            }
        }
        // The daemon feeds a new instance its trackers, then starts it.
        self.refeed_trackers(r, Some(instance), Cause::Reload);
        let node = &mut self.nodes[r.0];
        for &k in &fresh {
            let c = &node.configs[k];
            let p = node
                .engine
                .as_ref()
                .map_or(c.priority, |e| e.effective_priority(InstanceId(k)));
            node.track[k].earliest_master_down =
                Some(now + down_interval(c.version, p, c.advert_int, c.down_timer_adverts));
        }
        self.input(r, Input::Startup, Cause::Reload);
        // An instance the reload kept does not move: no transition without a cause.
        let moved: Vec<String> = self.transitions[before..]
            .iter()
            .filter(|x| x.router == r && kept.get(x.instance.0).is_some_and(Option::is_some))
            .map(|x| format!("{:?} {}->{}", x.instance, x.from, x.to))
            .collect();
        if !moved.is_empty() {
            self.violation(format!(
                "{r}: a reload moved instances it kept: {}",
                moved.join(", ")
            ));
        }
    }

    /// Feed the tracker effects the scenario set (and did not clear) to a fresh
    /// engine or a new instance, as the daemon's trackers report at start.
    pub(super) fn refeed_trackers(&mut self, r: RouterId, only: Option<InstanceId>, cause: Cause) {
        let effects: Vec<(InstanceId, u32, TrackEffect)> = self.nodes[r.0]
            .trackers
            .iter()
            .filter(|((i, _), _)| only.is_none_or(|o| o == *i))
            .map(|(&(i, t), &e)| (i, t, e))
            .collect();
        for (instance, tracker, effect) in effects {
            self.input(
                r,
                Input::Track {
                    instance,
                    tracker,
                    effect,
                },
                cause,
            );
        }
    }
}

/// `1.234s` / `0ms`.
fn fmt_ms(d: Duration) -> String {
    format!("{}ms", d.as_millis())
}
