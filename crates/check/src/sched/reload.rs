//! A reload: the new plan takes over the state of what it keeps. Virtual and real
//! servers are matched by name, checkers by their settings (source positions aside),
//! so an unchanged checker is neither re-run early nor reset: its real server does
//! not flap, and one that was failing keeps being checked and comes back on its
//! first success (keepalived #1720 leaves it out). What is new starts as at start;
//! what is gone is said, and its runs are cancelled.
use std::collections::HashMap;
use std::time::Instant;

use super::{Alarm, Dest, Event, Output, RsId, Scheduler, BOOTSTRAP_DELAY};
use crate::plan::Plan;

impl Scheduler {
    pub fn reload(&mut self, plan: Plan, now: Instant) {
        let mut new = Scheduler::new(plan, self.rng);
        new.started = true;
        new.attempts = self.attempts;
        new.local = self.local.take();
        let mut out = std::mem::take(&mut self.out);
        let old_vs: HashMap<&str, usize> = (0..self.vss.len())
            .map(|v| (self.vplan(v).name.as_str(), v))
            .collect();
        let mut adopted = vec![false; self.checkers.len()];
        let mut kept_vs = vec![None; new.vss.len()];
        let mut kept_rs = vec![None; new.rss.len()];
        for (v, kept) in kept_vs.iter_mut().enumerate() {
            let Some(&ov) = old_vs.get(new.vplan(v).name.as_str()) else {
                continue;
            };
            *kept = Some(ov);
            let old_rs: HashMap<&str, usize> = self.vss[ov]
                .rs
                .iter()
                .map(|&r| (&*self.rplan(r).name, r))
                .collect();
            for r in new.vss[v].rs.clone() {
                let Some(&or) = old_rs.get(&*new.rplan(r).name) else {
                    continue;
                };
                kept_rs[r] = Some(or);
                for c in new.rss[r].checkers.clone() {
                    let same =
                        self.rss[or].checkers.iter().copied().find(|&oc| {
                            !adopted[oc] && self.cplan(oc).checker == new.cplan(c).checker
                        });
                    if let Some(oc) = same {
                        adopted[oc] = true;
                        new.adopt(c, self, oc);
                    }
                }
            }
            // What the pool holds carries over, for what is still there.
            new.vss[v].quorum_up = self.vss[ov].quorum_up;
            new.vss[v].suspended = self.vss[ov].suspended;
            new.vss[v].sorry_on = self.vss[ov].sorry_on;
            for (dest, &w) in &self.vss[ov].pool {
                let carried = match dest {
                    Dest::Real(RsId(or)) => kept_rs
                        .iter()
                        .position(|k| *k == Some(*or))
                        .map(|r| Dest::Real(RsId(r))),
                    Dest::Sorry => {
                        let name = |p: &Plan, v: usize| {
                            p.virtual_servers[v].sorry.as_ref().map(|s| s.name.clone())
                        };
                        (name(&self.plan, ov) == name(&new.plan, v)).then_some(Dest::Sorry)
                    }
                };
                match carried {
                    Some(d) => {
                        new.vss[v].pool.insert(d, w);
                    }
                    None => {
                        let server = self.server(ov, *dest);
                        out.push_back(Output::Event(Event::Gone {
                            vs: self.vplan(ov).name.clone(),
                            server: Some(server.name.clone()),
                        }));
                        out.push_back(Output::Pool {
                            vs: super::VsId(v),
                            dest: None,
                            server,
                            op: super::PoolOp::Remove,
                        });
                    }
                }
            }
        }
        for (ov, vs) in self.vss.iter().enumerate() {
            if !kept_vs.contains(&Some(ov)) && !vs.pool.is_empty() {
                out.push_back(Output::Event(Event::Gone {
                    vs: self.vplan(ov).name.clone(),
                    server: None,
                }));
            }
        }
        for (oc, c) in self.checkers.iter().enumerate() {
            if let (false, Some((attempt, _))) = (adopted[oc], c.running) {
                out.push_back(Output::Cancel { attempt });
            }
        }
        let was_alive: Vec<Option<bool>> = kept_rs
            .iter()
            .map(|k| k.map(|or| self.rss[or].alive))
            .collect();
        new.out = out;
        new.settle(now, &kept_vs, &was_alive);
        // ha_suspend: a new virtual server begins as at start; a kept one says a change
        // (its address, or ha_suspend itself, changed).
        for (v, kept) in kept_vs.iter().enumerate() {
            if kept.is_none() && new.wants_suspended(v) {
                new.vss[v].suspended = true;
                new.event(Event::Suspended {
                    vs: super::VsId(v),
                    on: true,
                    start: true,
                });
            }
        }
        new.update_suspended();
        *self = new;
    }

    /// Checker `c` of this (new) scheduler takes over `old`'s checker `oc`.
    fn adopt(&mut self, c: usize, old: &Scheduler, oc: usize) {
        let o = &old.checkers[oc];
        let retry = self.cplan(c).timing.retry;
        let n = &mut self.checkers[c];
        n.up = o.up;
        n.has_run = o.has_run;
        n.retry_it = o.retry_it.min(retry);
        n.weight_shift = o.weight_shift;
        n.last_error.clone_from(&o.last_error);
        n.since = o.since;
        // The metrics' counters go on (a reset would read as a restart).
        n.last_duration = o.last_duration;
        n.failures = o.failures;
        n.running = o.running;
        if let Some((attempt, _)) = o.running {
            self.inflight.insert(attempt, c);
        }
        if let Some((at, alarm)) = o.alarm {
            self.arm(c, at, alarm);
        }
    }

    /// After the state is carried over: each real server's alive state from its
    /// checkers (a change said), new checkers scheduled, each pool brought to what
    /// it should hold (only the differences told).
    fn settle(&mut self, now: Instant, kept_vs: &[Option<usize>], was_alive: &[Option<bool>]) {
        for (r, was) in was_alive.iter().enumerate() {
            let failed = self.rss[r]
                .checkers
                .iter()
                .filter(|&&c| !self.checkers[c].up)
                .count();
            self.rss[r].failed = u32::try_from(failed).unwrap_or(u32::MAX);
            let alive = failed == 0;
            self.rss[r].alive = alive;
            if was.is_some_and(|w| w != alive) {
                self.event(Event::RealServer {
                    rs: RsId(r),
                    alive,
                    moved: true,
                });
            }
        }
        for c in 0..self.checkers.len() {
            if self.checkers[c].alarm.is_none() && self.checkers[c].running.is_none() {
                let warmup = self.cplan(c).timing.warmup;
                let at = now + BOOTSTRAP_DELAY + self.random_part(warmup);
                self.arm(c, at, Alarm::Run);
            }
        }
        for (v, kept) in kept_vs.iter().enumerate() {
            if kept.is_none() {
                let (quorum, hysteresis) = self.quorum_of(v);
                self.vss[v].quorum_up = self.live_weight(v) >= quorum + hysteresis;
            }
            self.update_quorum(v, kept.is_none());
            self.sync_pool(v);
        }
    }
}
