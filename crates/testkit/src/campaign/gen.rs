//! Random schedules, a pure function of the seed.
use super::{Fault, FaultKind, Hmac, Member, Schedule, Vrid};
use crate::rng::SplitMix64;
use crate::sim::SuspendClock;
use keepup_wire::vrrp::Version;

/// VRRPv3 advert intervals drawn from, ms.
const V3_INTERVALS: [u64; 5] = [100, 250, 500, 1000, 2000];

fn pick<T: Copy>(rng: &mut SplitMix64, xs: &[T]) -> T {
    xs[rng.below_incl(xs.len() as u64 - 1) as usize]
}

fn range(rng: &mut SplitMix64, lo: u64, hi: u64) -> u64 {
    lo + rng.below_incl(hi - lo)
}

/// The schedule of campaign seed `seed`: 3-5 routers, 1-3 VRIDs (v2 or v3, IPv4 or
/// IPv6, a quarter with `auth_hmac`, a quarter unicast), 1-12 faults of every kind in a chaos phase of
/// 20-60 s. Faults that power a router off or suspend it never overlap on one
/// router, and none comes before that router's start.
pub fn generate(seed: u64) -> Schedule {
    let mut rng = SplitMix64::new(seed);
    let sim_seed = rng.next_u64();
    let n = range(&mut rng, 3, 5) as usize;
    let nv = range(&mut rng, 1, 3) as usize;
    let delay_ms = rng.below_incl(3);
    let starts: Vec<u64> = (0..n)
        .map(|_| {
            if rng.chance(0.5) {
                0
            } else {
                rng.below_incl(3000)
            }
        })
        .collect();
    let mut vrids = Vec::new();
    for v in 0..nv {
        let version = if rng.chance(0.5) {
            Version::V2
        } else {
            Version::V3
        };
        let v6 = version == Version::V3 && rng.chance(0.5);
        let base = match version {
            Version::V2 => {
                if rng.chance(0.8) {
                    1000
                } else {
                    2000
                }
            }
            Version::V3 => pick(&mut rng, &V3_INTERVALS),
        };
        let members: Vec<Member> = (0..n)
            .map(|_| {
                let priority = if rng.chance(0.2) {
                    pick(&mut rng, &[100u8, 150, 200])
                } else {
                    range(&mut rng, 1, 254) as u8
                };
                let interval_ms = if version == Version::V3 && rng.chance(0.3) {
                    pick(&mut rng, &V3_INTERVALS)
                } else {
                    base
                };
                Member {
                    priority,
                    interval_ms,
                    preempt: rng.chance(0.8),
                    master: rng.chance(0.2),
                }
            })
            .collect();
        let hmac = if rng.chance(0.25) {
            if rng.chance(0.75) {
                // keepalived's default window: max(3 × advert_int, 5) s.
                let int = members.iter().map(|m| m.interval_ms).max().unwrap_or(1000);
                Some(Hmac::Time((3 * int).div_ceil(1000).clamp(5, 300) as u32))
            } else {
                Some(Hmac::Monotonic)
            }
        } else {
            None
        };
        let unicast = rng.chance(0.25);
        vrids.push(Vrid {
            vrid: 10 + v as u8,
            version,
            v6,
            unicast,
            hmac,
            members,
        });
    }
    // A sync group: each router's instances share its first one's priority,
    // preemption and start state (members that disagree would pull the group two
    // ways for ever, a configuration conflict rather than an engine fault).
    let group = nv >= 2 && rng.chance(0.3);
    if group {
        let first = vrids[0].members.clone();
        for vr in vrids.iter_mut().skip(1) {
            for (m, f) in vr.members.iter_mut().zip(&first) {
                m.priority = f.priority;
                m.preempt = f.preempt;
                m.master = f.master;
            }
        }
    }
    let chaos_ms = range(&mut rng, 20_000, 60_000);
    let nf = range(&mut rng, 1, 12) as usize;
    // Per router: windows in which it is powered off or suspended.
    let mut busy: Vec<Vec<(u64, u64)>> = vec![Vec::new(); n];
    let mut partitions: Vec<(u64, u64)> = Vec::new();
    let mut faults = Vec::new();
    for _ in 0..nf {
        let at = rng.below_incl(chaos_ms);
        let len = range(&mut rng, 200, 15_000);
        let k = rng.below_incl(n as u64 - 1) as usize;
        let v = rng.below_incl(nv as u64 - 1) as usize;
        let kind = match rng.below_incl(13) {
            0 => FaultKind::Loss(range(&mut rng, 20, 100) as u8),
            1 => FaultKind::Dup(range(&mut rng, 10, 60) as u8),
            2 => FaultKind::Delay {
                delay_ms: range(&mut rng, 1, 200),
                jitter_ms: rng.below_incl(200),
            },
            3 => {
                let mut side: Vec<usize> = (0..n).filter(|_| rng.chance(0.5)).collect();
                if side.is_empty() {
                    side.push(k);
                }
                if side.len() == n {
                    side.retain(|&x| x != k);
                }
                FaultKind::Partition(side)
            }
            4 => FaultKind::Deaf(k),
            5 => FaultKind::Link(k),
            6 => FaultKind::Crash(k),
            7 => FaultKind::Restart(k),
            8 => {
                let clock = if rng.chance(0.5) {
                    SuspendClock::Stall
                } else {
                    SuspendClock::Jump
                };
                FaultKind::Suspend(k, clock)
            }
            9 => FaultKind::Priority {
                router: k,
                vrid: v,
                // One time in ten the same priority: a reload that changes nothing.
                priority: if rng.chance(0.1) {
                    vrids[v].members[k].priority
                } else {
                    range(&mut rng, 1, 254) as u8
                },
            },
            10 => {
                let w = rng.below_incl(200) as i32 - 100;
                FaultKind::Weight {
                    router: k,
                    vrid: v,
                    weight: if w == 0 { 10 } else { w },
                }
            }
            11 => FaultKind::TrackFault { router: k, vrid: v },
            12 => FaultKind::Stop(k),
            _ => {
                let mag = if rng.chance(0.5) {
                    range(&mut rng, 500, 4_000)
                } else {
                    range(&mut rng, 10_000, 300_000)
                } as i64;
                FaultKind::Wall {
                    router: k,
                    offset_ms: if rng.chance(0.5) { mag } else { -mag },
                }
            }
        };
        let len = if kind.instantaneous() { 0 } else { len };
        let mut f = Fault {
            at_ms: at,
            len_ms: len,
            kind,
        };
        let overlaps = |w: &[(u64, u64)], a: u64, b: u64| w.iter().any(|&(x, y)| a <= y && x <= b);
        match f.kind {
            FaultKind::Crash(k)
            | FaultKind::Restart(k)
            | FaultKind::Stop(k)
            | FaultKind::Suspend(k, _) => {
                f.at_ms = f.at_ms.max(starts[k]);
                if overlaps(&busy[k], f.at_ms, f.end_ms()) {
                    continue;
                }
                busy[k].push((f.at_ms, f.end_ms()));
            }
            FaultKind::Partition(_) => {
                if overlaps(&partitions, f.at_ms, f.end_ms()) {
                    continue;
                }
                partitions.push((f.at_ms, f.end_ms()));
            }
            FaultKind::Priority {
                router, priority, ..
            } if group => {
                // A reload gives every member of the group the new priority.
                for v in 0..nv {
                    faults.push(Fault {
                        kind: FaultKind::Priority {
                            router,
                            vrid: v,
                            priority,
                        },
                        ..f.clone()
                    });
                }
                continue;
            }
            _ => {}
        }
        faults.push(f);
    }
    faults.sort_by_key(|f| f.at_ms);
    Schedule {
        seed,
        sim_seed,
        starts,
        delay_ms,
        vrids,
        group,
        faults,
    }
}
