//! What `keepup status` shows of the checkers: each virtual server with its quorum
//! and sorry server, each real server with its state and weight, each checker with
//! its state, last error, since when and next run, how long its last run took and
//! its failures by kind. Plain serde data, taken from the scheduler at one instant;
//! times are seconds since the epoch.
use std::sync::Arc;
use std::time::{Instant, SystemTime};

use serde::{Deserialize, Serialize};

use super::{CheckerId, Dest, Failures, RsId, Scheduler, VsId};
use crate::plan::Plan;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VsView {
    pub name: String,
    pub quorum: u32,
    pub hysteresis: u32,
    pub quorum_up: bool,
    /// The weight of its alive real servers.
    pub live_weight: u64,
    pub sorry_server: Option<String>,
    /// The sorry server stands in for the real servers now.
    pub sorry_on: bool,
    /// `ha_suspend` and its address is not on this host: its checkers do not run and
    /// its real servers keep their state.
    #[serde(default)]
    pub suspended: bool,
    pub real_servers: Vec<RsView>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RsView {
    /// Shared with the plan.
    pub name: std::sync::Arc<str>,
    /// Its address and port as configured, to find it in the kernel's table.
    #[serde(default)]
    pub ip: Option<std::net::IpAddr>,
    #[serde(default)]
    pub port: Option<u16>,
    pub alive: bool,
    /// Configured `weight`.
    pub weight: u32,
    /// The weight now (misc_dynamic may set it).
    pub effective_weight: u32,
    /// The weight the pool holds it at; None: not in the pool.
    pub pool_weight: Option<u32>,
    pub inhibit_on_failure: bool,
    pub checkers: Vec<CheckerStatus>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CheckerStatus {
    pub kind: String,
    pub up: bool,
    pub has_run: bool,
    /// Failed attempts in the current retry run.
    pub retries: u32,
    pub last_error: Option<String>,
    /// When it last went up or down (seconds since the epoch).
    pub since: Option<f64>,
    /// Its next run; None while one runs.
    pub next_run: Option<f64>,
    /// How long its last run took in seconds, from its start to its verdict (a run
    /// cancelled at the timeout: the timeout); None until one has ended.
    #[serde(default)]
    pub last_duration: Option<f64>,
    /// Its failed runs by kind since start (only the kinds seen, by name).
    #[serde(default)]
    pub failures: Failures,
}

/// The scheduler's state at one instant, compact (a few bytes per real server), with
/// the plan it runs: what the checker side publishes. The view ([`Moment::view`]) is
/// made from it when `keepup status` asks, so that a daemon with 10,000 real servers
/// does not keep a second, larger copy of them for a reader that may never come.
#[derive(Debug, Clone, Default)]
pub struct Moment {
    plan: Arc<Plan>,
    vss: Vec<VsMoment>,
    /// By real server, in the plan's order (virtual server, then real server).
    rss: Vec<RsMoment>,
    /// By checker, in the plan's order.
    checkers: Vec<CheckerStatus>,
}

#[derive(Debug, Clone, Copy)]
struct VsMoment {
    quorum_up: bool,
    live_weight: u64,
    sorry_on: bool,
    suspended: bool,
}

#[derive(Debug, Clone, Copy)]
struct RsMoment {
    alive: bool,
    effective_weight: u32,
    pool_weight: Option<u32>,
}

impl Moment {
    /// The plan it was taken under (what keepalived_check.data prints of each checker's
    /// settings).
    pub fn plan(&self) -> &Plan {
        &self.plan
    }

    /// The view: each virtual server of the plan with its state.
    pub fn view(&self) -> Vec<VsView> {
        let mut rss = self.rss.iter();
        let mut checkers = self.checkers.iter();
        self.plan
            .virtual_servers
            .iter()
            .zip(&self.vss)
            .map(|(vp, vm)| VsView {
                name: vp.name.clone(),
                quorum: vp.quorum,
                hysteresis: vp.hysteresis,
                quorum_up: vm.quorum_up,
                live_weight: vm.live_weight,
                sorry_server: vp.sorry.as_ref().map(|s| s.name.clone()),
                sorry_on: vm.sorry_on,
                suspended: vm.suspended,
                real_servers: vp
                    .real_servers
                    .iter()
                    .zip(rss.by_ref())
                    .map(|(rp, rm)| RsView {
                        name: rp.name.clone(),
                        ip: Some(rp.ip),
                        port: rp.port,
                        alive: rm.alive,
                        weight: rp.weight,
                        effective_weight: rm.effective_weight,
                        pool_weight: rm.pool_weight,
                        inhibit_on_failure: rp.inhibit,
                        checkers: checkers.by_ref().take(rp.checkers.len()).cloned().collect(),
                    })
                    .collect(),
            })
            .collect()
    }
}

impl Scheduler {
    /// The view at `now` (`wall` is the same instant on the wall clock).
    pub fn view(&self, now: Instant, wall: SystemTime) -> Vec<VsView> {
        self.moment(now, wall).view()
    }

    /// The state at `now` (`wall` is the same instant on the wall clock), for the view.
    pub fn moment(&self, now: Instant, wall: SystemTime) -> Moment {
        let wall = wall
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0.0, |d| d.as_secs_f64());
        let epoch = |t: Instant| -> f64 {
            if t >= now {
                wall + (t - now).as_secs_f64()
            } else {
                wall - (now - t).as_secs_f64()
            }
        };
        let vss = (0..self.vss.len())
            .map(|v| VsMoment {
                quorum_up: self.quorum_up(VsId(v)),
                live_weight: self
                    .real_servers_of(VsId(v))
                    .filter(|&r| self.is_alive(r))
                    .map(|r| u64::from(self.weight(r)))
                    .sum(),
                sorry_on: self.sorry_on(VsId(v)),
                suspended: self.suspended(VsId(v)),
            })
            .collect();
        // The scheduler numbers its real servers and checkers in the plan's order.
        let rss = (0..self.rss.len())
            .map(|r| RsMoment {
                alive: self.is_alive(RsId(r)),
                effective_weight: self.weight(RsId(r)),
                pool_weight: self.vss[self.rss[r].vs]
                    .pool
                    .get(&Dest::Real(RsId(r)))
                    .copied(),
            })
            .collect();
        let checkers = (0..self.checkers.len())
            .filter_map(|c| self.checker(CheckerId(c)))
            .map(|c| CheckerStatus {
                kind: c.kind.to_string(),
                up: c.up,
                has_run: c.has_run,
                retries: c.retries,
                last_error: c.last_error,
                since: c.since.map(epoch),
                next_run: c.next.map(epoch),
                last_duration: c.last_duration.map(|d| d.as_secs_f64()),
                failures: c.failures,
            })
            .collect();
        Moment {
            plan: self.shared_plan(),
            vss,
            rss,
            checkers,
        }
    }

    /// The real servers of `vs`, in config order.
    pub fn real_servers_of(&self, vs: VsId) -> impl Iterator<Item = RsId> + '_ {
        self.vss
            .get(vs.0)
            .into_iter()
            .flat_map(|v| v.rs.iter().map(|&r| RsId(r)))
    }
}
