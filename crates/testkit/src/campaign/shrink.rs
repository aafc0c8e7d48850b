//! Shrinking a failing schedule: drop faults, VRIDs and routers, shorten faults,
//! simplify the rest, keeping every step that still fails the same way.
use super::{Fault, FaultKind, Outcome, Schedule};

/// The kinds of violation an outcome shows (what the shrinker must keep).
pub fn classes(o: &Outcome) -> Vec<&'static str> {
    let mut c: Vec<&'static str> = o
        .violations
        .iter()
        .map(|v| {
            if v.starts_with("panic") {
                "panic"
            } else if v.contains("does not fit its input") {
                "cause"
            } else if v.contains("before the last accepted")
                || v.contains("before its deadline")
                || v.contains("before the deadline")
            {
                "early-timer"
            } else if v.starts_with("sim:") {
                "sim"
            } else if v.contains("Masters") {
                "masters"
            } else if v.contains("VIPs") {
                "vips"
            } else if v.contains("priority") && v.contains("below") {
                "priority"
            } else if v.contains("sync group split") {
                "group"
            } else if v.contains("no fault left") {
                "needless"
            } else {
                "other"
            }
        })
        .collect();
    c.sort_unstable();
    c.dedup();
    c
}

/// Power faults (crash, restart, suspend) of one router never overlap nor come
/// before its start, and every index names something: what `generate` promises and
/// the simulator needs.
pub fn valid(s: &Schedule) -> bool {
    let n = s.routers();
    if n == 0 || s.vrids.is_empty() || s.vrids.iter().any(|v| v.members.len() != n) {
        return false;
    }
    let mut power: Vec<Vec<(u64, u64)>> = vec![Vec::new(); n];
    for f in &s.faults {
        if f.kind.routers().iter().any(|&k| k >= n) {
            return false;
        }
        match &f.kind {
            FaultKind::Priority { vrid, .. }
            | FaultKind::Weight { vrid, .. }
            | FaultKind::TrackFault { vrid, .. }
                if *vrid >= s.vrids.len() =>
            {
                return false
            }
            FaultKind::Partition(side) if side.is_empty() || side.len() >= n => return false,
            FaultKind::Crash(k)
            | FaultKind::Restart(k)
            | FaultKind::Stop(k)
            | FaultKind::Suspend(k, _) => {
                if f.at_ms < s.starts[*k]
                    || power[*k]
                        .iter()
                        .any(|&(a, b)| f.at_ms <= b && a <= f.end_ms())
                {
                    return false;
                }
                power[*k].push((f.at_ms, f.end_ms()));
            }
            _ => {}
        }
    }
    let parts: Vec<&Fault> = s
        .faults
        .iter()
        .filter(|f| matches!(f.kind, FaultKind::Partition(_)))
        .collect();
    for (i, a) in parts.iter().enumerate() {
        if parts[..i]
            .iter()
            .any(|b| a.at_ms <= b.end_ms() && b.at_ms <= a.end_ms())
        {
            return false;
        }
    }
    true
}

/// `s` without router `k` (its faults go, the others are renumbered).
fn without_router(s: &Schedule, k: usize) -> Schedule {
    let mut t = s.clone();
    t.starts.remove(k);
    for v in &mut t.vrids {
        v.members.remove(k);
    }
    let map = |x: usize| if x > k { x - 1 } else { x };
    t.faults = s
        .faults
        .iter()
        .filter_map(|f| {
            let kind = match &f.kind {
                FaultKind::Partition(side) => FaultKind::Partition(
                    side.iter().filter(|&&x| x != k).map(|&x| map(x)).collect(),
                ),
                other if other.routers().contains(&k) => return None,
                FaultKind::Deaf(x) => FaultKind::Deaf(map(*x)),
                FaultKind::Link(x) => FaultKind::Link(map(*x)),
                FaultKind::Crash(x) => FaultKind::Crash(map(*x)),
                FaultKind::Restart(x) => FaultKind::Restart(map(*x)),
                FaultKind::Stop(x) => FaultKind::Stop(map(*x)),
                FaultKind::Suspend(x, c) => FaultKind::Suspend(map(*x), *c),
                FaultKind::Priority {
                    router,
                    vrid,
                    priority,
                } => FaultKind::Priority {
                    router: map(*router),
                    vrid: *vrid,
                    priority: *priority,
                },
                FaultKind::Weight {
                    router,
                    vrid,
                    weight,
                } => FaultKind::Weight {
                    router: map(*router),
                    vrid: *vrid,
                    weight: *weight,
                },
                FaultKind::TrackFault { router, vrid } => FaultKind::TrackFault {
                    router: map(*router),
                    vrid: *vrid,
                },
                FaultKind::Wall { router, offset_ms } => FaultKind::Wall {
                    router: map(*router),
                    offset_ms: *offset_ms,
                },
                other => other.clone(),
            };
            Some(Fault { kind, ..f.clone() })
        })
        .collect();
    t
}

/// `s` without VRID number `v` (faults on it go, the others are renumbered).
fn without_vrid(s: &Schedule, v: usize) -> Schedule {
    let mut t = s.clone();
    t.vrids.remove(v);
    t.faults = s
        .faults
        .iter()
        .filter_map(|f| {
            let mut f = f.clone();
            match &mut f.kind {
                FaultKind::Priority { vrid, .. }
                | FaultKind::Weight { vrid, .. }
                | FaultKind::TrackFault { vrid, .. } => {
                    if *vrid == v {
                        return None;
                    }
                    if *vrid > v {
                        *vrid -= 1;
                    }
                }
                _ => {}
            }
            Some(f)
        })
        .collect();
    t
}

/// Every simpler neighbour of `s` to try, simplest first.
fn candidates(s: &Schedule) -> Vec<Schedule> {
    let mut c = Vec::new();
    for i in 0..s.faults.len() {
        let mut t = s.clone();
        t.faults.remove(i);
        c.push(t);
    }
    for v in 0..s.vrids.len() {
        if s.vrids.len() > 1 {
            c.push(without_vrid(s, v));
        }
    }
    for k in 0..s.routers() {
        if s.routers() > 2 {
            c.push(without_router(s, k));
        }
    }
    for i in 0..s.faults.len() {
        let f = &s.faults[i];
        if f.len_ms >= 20 {
            let mut t = s.clone();
            t.faults[i].len_ms = f.len_ms / 2;
            c.push(t);
        }
        if f.at_ms >= 20 {
            let mut t = s.clone();
            t.faults[i].at_ms = f.at_ms / 2;
            c.push(t);
        }
    }
    for k in 0..s.routers() {
        if s.starts[k] > 0 {
            let mut t = s.clone();
            t.starts[k] = 0;
            c.push(t);
        }
    }
    for v in 0..s.vrids.len() {
        if s.vrids[v].unicast {
            let mut t = s.clone();
            t.vrids[v].unicast = false;
            c.push(t);
        }
        if s.vrids[v].hmac.is_some() {
            let mut t = s.clone();
            t.vrids[v].hmac = None;
            c.push(t);
        }
        for k in 0..s.routers() {
            let m = &s.vrids[v].members[k];
            if m.master || !m.preempt {
                let mut t = s.clone();
                t.vrids[v].members[k].master = false;
                t.vrids[v].members[k].preempt = true;
                c.push(t);
            }
        }
    }
    if s.group {
        let mut t = s.clone();
        t.group = false;
        c.push(t);
    }
    if s.delay_ms > 0 {
        let mut t = s.clone();
        t.delay_ms = 0;
        c.push(t);
    }
    c.retain(valid);
    c
}

/// Shrink `s` while `fails` says a candidate still fails, within `budget` runs.
pub fn shrink(s: &Schedule, fails: impl Fn(&Schedule) -> bool, budget: usize) -> Schedule {
    let mut best = s.clone();
    let mut runs = 0;
    'outer: loop {
        for t in candidates(&best) {
            if runs >= budget {
                break 'outer;
            }
            runs += 1;
            if fails(&t) {
                best = t;
                continue 'outer;
            }
        }
        break;
    }
    best
}
