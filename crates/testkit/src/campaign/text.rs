//! Schedules as readable text (the regression transcripts), and back.
//!
//! ```text
//! seed 42
//! sim-seed 1234567
//! delay 2
//! router r1 start=0
//! router r2 start=1200
//! vrid 10 v3 ipv6 unicast hmac=time:5
//!   r1 prio=100 int=1000 preempt
//!   r2 prio=200 int=300 nopreempt master
//! sync-group
//! fault 1200+3000 loss 40
//! fault 2000+500 partition r1
//! fault 3000 restart r2
//! fault 8000 priority r1 vrid=10 150
//! fault 9000+3000 wall r1 -120000
//! ```
//!
//! Times and lengths are milliseconds; `fault AT+LEN`; `#` starts a comment.
use super::{Fault, FaultKind, Hmac, Member, Schedule, Vrid};
use crate::sim::SuspendClock;
use keepup_wire::vrrp::Version;
use std::fmt::Write;

fn r(k: usize) -> String {
    format!("r{}", k + 1)
}

/// The schedule as text (see the module doc).
pub fn to_text(s: &Schedule) -> String {
    let mut o = String::new();
    let _ = writeln!(o, "seed {}", s.seed);
    let _ = writeln!(o, "sim-seed {}", s.sim_seed);
    let _ = writeln!(o, "delay {}", s.delay_ms);
    for (k, st) in s.starts.iter().enumerate() {
        let _ = writeln!(o, "router {} start={st}", r(k));
    }
    for vr in &s.vrids {
        let ver = match vr.version {
            Version::V2 => "v2",
            Version::V3 => "v3",
        };
        let fam = if vr.v6 { "ipv6" } else { "ipv4" };
        let hmac = match vr.hmac {
            None => String::new(),
            Some(Hmac::Time(w)) => format!(" hmac=time:{w}"),
            Some(Hmac::Monotonic) => " hmac=monotonic".to_string(),
        };
        let uni = if vr.unicast { " unicast" } else { "" };
        let _ = writeln!(o, "vrid {} {ver} {fam}{uni}{hmac}", vr.vrid);
        for (k, m) in vr.members.iter().enumerate() {
            let pre = if m.preempt { "preempt" } else { "nopreempt" };
            let st = if m.master { " master" } else { "" };
            let _ = writeln!(
                o,
                "  {} prio={} int={} {pre}{st}",
                r(k),
                m.priority,
                m.interval_ms
            );
        }
    }
    if s.group {
        let _ = writeln!(o, "sync-group");
    }
    for f in &s.faults {
        let when = if f.kind.instantaneous() {
            f.at_ms.to_string()
        } else {
            format!("{}+{}", f.at_ms, f.len_ms)
        };
        let vrid = |v: usize| s.vrids.get(v).map_or(0, |x| x.vrid);
        let what = match &f.kind {
            FaultKind::Loss(p) => format!("loss {p}"),
            FaultKind::Dup(p) => format!("dup {p}"),
            FaultKind::Delay {
                delay_ms,
                jitter_ms,
            } => format!("delay {delay_ms} jitter={jitter_ms}"),
            FaultKind::Partition(side) => {
                let names: Vec<String> = side.iter().map(|&k| r(k)).collect();
                format!("partition {}", names.join(" "))
            }
            FaultKind::Deaf(k) => format!("deaf {}", r(*k)),
            FaultKind::Link(k) => format!("link {}", r(*k)),
            FaultKind::Crash(k) => format!("crash {}", r(*k)),
            FaultKind::Restart(k) => format!("restart {}", r(*k)),
            FaultKind::Stop(k) => format!("stop {}", r(*k)),
            FaultKind::Suspend(k, c) => format!("suspend {} {}", r(*k), c.as_str()),
            FaultKind::Priority {
                router,
                vrid: v,
                priority,
            } => format!("priority {} vrid={} {priority}", r(*router), vrid(*v)),
            FaultKind::Weight {
                router,
                vrid: v,
                weight,
            } => format!("weight {} vrid={} {weight}", r(*router), vrid(*v)),
            FaultKind::TrackFault { router, vrid: v } => {
                format!("trackfault {} vrid={}", r(*router), vrid(*v))
            }
            FaultKind::Wall { router, offset_ms } => {
                format!("wall {} {offset_ms}", r(*router))
            }
        };
        let _ = writeln!(o, "fault {when} {what}");
    }
    o
}

fn num<T: std::str::FromStr>(s: &str, what: &str) -> Result<T, String> {
    s.parse()
        .map_err(|_| format!("{what}: not a number: {s:?}"))
}

fn router(s: &str) -> Result<usize, String> {
    let n: usize = num(
        s.strip_prefix('r').ok_or(format!("not a router: {s:?}"))?,
        "router",
    )?;
    n.checked_sub(1).ok_or(format!("no router {s}"))
}

fn kv<'a>(s: &'a str, key: &str) -> Result<&'a str, String> {
    s.strip_prefix(key)
        .and_then(|x| x.strip_prefix('='))
        .ok_or(format!("expected {key}=..., got {s:?}"))
}

/// Read a schedule written by [`to_text`] (comments and blank lines skipped).
pub fn parse(text: &str) -> Result<Schedule, String> {
    let mut s = Schedule {
        seed: 0,
        sim_seed: 0,
        starts: Vec::new(),
        delay_ms: 0,
        vrids: Vec::new(),
        group: false,
        faults: Vec::new(),
    };
    for (n, raw) in text.lines().enumerate() {
        let line = raw.split('#').next().unwrap_or("").trim();
        if line.is_empty() {
            continue;
        }
        let w: Vec<&str> = line.split_whitespace().collect();
        let err = |e: String| format!("line {}: {e}", n + 1);
        parse_line(&mut s, raw, &w).map_err(err)?;
    }
    for vr in &s.vrids {
        if vr.members.len() != s.starts.len() {
            return Err(format!(
                "VRID {}: {} members for {} routers",
                vr.vrid,
                vr.members.len(),
                s.starts.len()
            ));
        }
    }
    Ok(s)
}

fn parse_line(s: &mut Schedule, raw: &str, w: &[&str]) -> Result<(), String> {
    let arg = |i: usize| w.get(i).copied().ok_or(format!("missing argument {i}"));
    let vrid_index = |s: &Schedule, x: &str| -> Result<usize, String> {
        let id: u8 = num(kv(x, "vrid")?, "vrid")?;
        s.vrids
            .iter()
            .position(|v| v.vrid == id)
            .ok_or(format!("no VRID {id}"))
    };
    if raw.starts_with(' ') && w[0].starts_with('r') {
        let k = router(w[0])?;
        let vr = s.vrids.last_mut().ok_or("a member before any vrid")?;
        if k != vr.members.len() {
            return Err(format!("members out of order at {}", w[0]));
        }
        vr.members.push(Member {
            priority: num(kv(arg(1)?, "prio")?, "prio")?,
            interval_ms: num(kv(arg(2)?, "int")?, "int")?,
            preempt: arg(3)? == "preempt",
            master: w.get(4) == Some(&"master"),
        });
        return Ok(());
    }
    match w[0] {
        "seed" => s.seed = num(arg(1)?, "seed")?,
        "sync-group" => s.group = true,
        "sim-seed" => s.sim_seed = num(arg(1)?, "sim-seed")?,
        "delay" => s.delay_ms = num(arg(1)?, "delay")?,
        "router" => {
            if router(arg(1)?)? != s.starts.len() {
                return Err("routers out of order".into());
            }
            s.starts.push(num(kv(arg(2)?, "start")?, "start")?);
        }
        "vrid" => {
            let version = match arg(2)? {
                "v2" => Version::V2,
                "v3" => Version::V3,
                x => return Err(format!("version {x:?}")),
            };
            let mut hmac = None;
            let mut unicast = false;
            for &x in w.iter().skip(4) {
                match x {
                    "unicast" => unicast = true,
                    "hmac=monotonic" => hmac = Some(Hmac::Monotonic),
                    x => {
                        hmac = Some(Hmac::Time(num(
                            kv(x, "hmac")?
                                .strip_prefix("time:")
                                .ok_or(format!("hmac {x:?}"))?,
                            "window",
                        )?))
                    }
                }
            }
            s.vrids.push(Vrid {
                vrid: num(arg(1)?, "vrid")?,
                version,
                v6: arg(3)? == "ipv6",
                unicast,
                hmac,
                members: Vec::new(),
            });
        }
        "fault" => {
            let (at_ms, len_ms) = match arg(1)?.split_once('+') {
                Some((a, l)) => (num(a, "at")?, num(l, "length")?),
                None => (num(arg(1)?, "at")?, 0),
            };
            let kind = match arg(2)? {
                "loss" => FaultKind::Loss(num(arg(3)?, "loss")?),
                "dup" => FaultKind::Dup(num(arg(3)?, "dup")?),
                "delay" => FaultKind::Delay {
                    delay_ms: num(arg(3)?, "delay")?,
                    jitter_ms: num(kv(arg(4)?, "jitter")?, "jitter")?,
                },
                "partition" => FaultKind::Partition(
                    w[3..].iter().map(|x| router(x)).collect::<Result<_, _>>()?,
                ),
                "deaf" => FaultKind::Deaf(router(arg(3)?)?),
                "link" => FaultKind::Link(router(arg(3)?)?),
                "crash" => FaultKind::Crash(router(arg(3)?)?),
                "restart" => FaultKind::Restart(router(arg(3)?)?),
                "stop" => FaultKind::Stop(router(arg(3)?)?),
                "suspend" => FaultKind::Suspend(
                    router(arg(3)?)?,
                    match arg(4)? {
                        "stall" => SuspendClock::Stall,
                        "jump" => SuspendClock::Jump,
                        x => return Err(format!("suspend clock {x:?}")),
                    },
                ),
                "priority" => FaultKind::Priority {
                    router: router(arg(3)?)?,
                    vrid: vrid_index(s, arg(4)?)?,
                    priority: num(arg(5)?, "priority")?,
                },
                "weight" => FaultKind::Weight {
                    router: router(arg(3)?)?,
                    vrid: vrid_index(s, arg(4)?)?,
                    weight: num(arg(5)?, "weight")?,
                },
                "trackfault" => FaultKind::TrackFault {
                    router: router(arg(3)?)?,
                    vrid: vrid_index(s, arg(4)?)?,
                },
                "wall" => FaultKind::Wall {
                    router: router(arg(3)?)?,
                    offset_ms: num(arg(4)?, "offset")?,
                },
                x => return Err(format!("unknown fault {x:?}")),
            };
            s.faults.push(Fault {
                at_ms,
                len_ms,
                kind,
            });
        }
        x => return Err(format!("unknown line {x:?}")),
    }
    Ok(())
}
