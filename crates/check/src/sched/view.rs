//! What `keepup status` shows of the checkers: each virtual server with its quorum
//! and sorry server, each real server with its state and weight, each checker with
//! its state, last error, since when and next run. Plain serde data, taken from the
//! scheduler at one instant; times are seconds since the epoch.
use std::time::{Instant, SystemTime};

use serde::{Deserialize, Serialize};

use super::{CheckerId, Dest, RsId, Scheduler, VsId};

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
    /// Shared with the plan: a view of 10,000 real servers is made every second.
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
}

impl Scheduler {
    /// The view at `now` (`wall` is the same instant on the wall clock).
    pub fn view(&self, now: Instant, wall: SystemTime) -> Vec<VsView> {
        let epoch = |t: Instant| -> f64 {
            let wall = wall
                .duration_since(SystemTime::UNIX_EPOCH)
                .map_or(0.0, |d| d.as_secs_f64());
            if t >= now {
                wall + (t - now).as_secs_f64()
            } else {
                wall - (now - t).as_secs_f64()
            }
        };
        let plan = self.plan();
        plan.virtual_servers
            .iter()
            .enumerate()
            .map(|(v, vp)| {
                // The map itself: a lookup per real server, not a scan (10,000 of
                // them in one virtual server, each second).
                let pool = &self.vss[v].pool;
                let real_servers = self
                    .real_servers_of(VsId(v))
                    .filter_map(|r| {
                        let rp = self.rs_plan(r)?;
                        Some(RsView {
                            name: rp.name.clone(),
                            ip: Some(rp.ip),
                            port: rp.port,
                            alive: self.is_alive(r),
                            weight: rp.weight,
                            effective_weight: self.weight(r),
                            pool_weight: pool.get(&Dest::Real(r)).copied(),
                            inhibit_on_failure: rp.inhibit,
                            checkers: self
                                .checkers_of(r)
                                .iter()
                                .filter_map(|&c| self.checker(CheckerId(c)))
                                .map(|c| CheckerStatus {
                                    kind: c.kind.to_string(),
                                    up: c.up,
                                    has_run: c.has_run,
                                    retries: c.retries,
                                    last_error: c.last_error,
                                    since: c.since.map(epoch),
                                    next_run: c.next.map(epoch),
                                })
                                .collect(),
                        })
                    })
                    .collect();
                VsView {
                    name: vp.name.clone(),
                    quorum: vp.quorum,
                    hysteresis: vp.hysteresis,
                    quorum_up: self.quorum_up(VsId(v)),
                    live_weight: self
                        .real_servers_of(VsId(v))
                        .filter(|&r| self.is_alive(r))
                        .map(|r| u64::from(self.weight(r)))
                        .sum(),
                    sorry_server: vp.sorry.as_ref().map(|s| s.name.clone()),
                    sorry_on: self.sorry_on(VsId(v)),
                    suspended: self.suspended(VsId(v)),
                    real_servers,
                }
            })
            .collect()
    }

    /// The real servers of `vs`, in config order.
    pub fn real_servers_of(&self, vs: VsId) -> impl Iterator<Item = RsId> + '_ {
        self.vss
            .get(vs.0)
            .into_iter()
            .flat_map(|v| v.rs.iter().map(|&r| RsId(r)))
    }
}
