//! The log line of each event, in keepalived's words where operators grep for them
//! (`TCP connection to [10.0.0.2]:tcp:80 success.`, `Removing service [...] from VS
//! [...]`), with keepup's reason added at the end of a failure.
use keepup_config::model::lvs::CheckerKind;

use crate::sched::{CheckerId, Event, RsId, Scheduler, VsId};

/// The log line for `e`.
pub fn log_line(s: &Scheduler, e: &Event) -> String {
    match e {
        Event::CheckerUp { checker } => checker_up(s, *checker),
        Event::CheckerDown { checker, reason } => {
            let retry = s.checker_plan(*checker).map_or(0, |p| p.timing.retry);
            let after = if retry > 0 {
                format!(" after {retry} retries")
            } else {
                String::new()
            };
            match misc(s, *checker) {
                Some(m) => format!("{m} failed{after} ({reason})."),
                // keepalived's check_ping.c words, the virtual server named with retries.
                None if is_ping(s, *checker) => {
                    let of = if retry > 0 {
                        s.names(*checker)
                            .map_or_else(String::new, |(vs, _)| format!(" of {vs}"))
                    } else {
                        String::new()
                    };
                    format!(
                        "ICMP CHECK on service {}{of} failed{after} ({reason}).",
                        rs_name(s, *checker)
                    )
                }
                None => format!(
                    "{} on service {} failed{after} ({reason}).",
                    kind(s, *checker),
                    rs_name(s, *checker)
                ),
            }
        }
        Event::AttemptFailed {
            checker,
            reason,
            retry,
            of,
        } => format!(
            "{} on service {} failed ({reason}), retry {retry} of {of}.",
            kind(s, *checker),
            rs_name(s, *checker)
        ),
        Event::RealServer { rs, alive, moved } => {
            let (r, v) = (rs_of(s, *rs), vs_of(s, *rs));
            let inhibit = s.rs_plan(*rs).is_some_and(|p| p.inhibit);
            match (moved, alive, inhibit) {
                (false, true, _) => format!("Service {r} of VS {v} is up."),
                (false, false, _) => format!("Service {r} of VS {v} is down."),
                (true, true, false) => format!("Adding service {r} to VS {v}"),
                (true, true, true) => format!("Enabling service {r} of VS {v}"),
                (true, false, false) => format!("Removing service {r} from VS {v}"),
                (true, false, true) => format!("Disabling service {r} of VS {v}"),
            }
        }
        Event::Weight { rs, from, to } => {
            let active = if s.is_alive(*rs) { "" } else { "in" };
            format!(
                "Changing weight from {from} to {to} for {active}active service {} of VS {}",
                rs_of(s, *rs),
                vs_of(s, *rs)
            )
        }
        Event::Quorum {
            vs,
            up,
            start,
            threshold,
            weight,
        } => {
            let p = &s.plan().virtual_servers[vs.0];
            let (q, h, name) = (p.quorum, p.hysteresis, &p.name);
            match (up, start) {
                (true, _) => format!("Gained quorum {q}+{h}={threshold} <= {weight} for VS {name}"),
                (false, true) => format!(
                    "Starting with quorum down {q}-{h}={threshold} > {weight} for VS {name}"
                ),
                (false, false) => {
                    format!("Lost quorum {q}-{h}={threshold} > {weight} for VS {name}")
                }
            }
        }
        Event::Sorry { vs, on } => {
            let p = &s.plan().virtual_servers[vs.0];
            let (sorry, inhibit) = p
                .sorry
                .as_ref()
                .map_or(("?", false), |x| (x.name.as_str(), x.inhibit));
            let verb = match (on, inhibit) {
                (true, false) => "Adding sorry server {} to",
                (true, true) => "Enabling sorry server {} to",
                (false, false) => "Removing sorry server {} from",
                (false, true) => "Disabling sorry server {} from",
            };
            format!("{} VS {}", verb.replace("{}", sorry), p.name)
        }
        Event::ShutdownRs { rs, .. } => format!(
            "Shutting down service {} from VS {}",
            rs_of(s, *rs),
            vs_of(s, *rs)
        ),
        Event::ShutdownVs { vs } => {
            format!("Shutting down VS {}", s.plan().virtual_servers[vs.0].name)
        }
        Event::Gone {
            vs,
            server: Some(rs),
        } => format!("service {rs} no longer exist (removed from VS {vs})"),
        Event::Gone { vs, server: None } => format!("Removing Virtual Server {vs}"),
        Event::Suspended { vs, on, start } => suspended(s, *vs, *on, *start),
    }
}

/// `VS [10.0.0.1]:tcp:80: address 10.0.0.1 not on this host, checkers suspended
/// (ha_suspend); real servers keep their state`, and back.
fn suspended(s: &Scheduler, vs: VsId, on: bool, start: bool) -> String {
    let Some(p) = s.plan().virtual_servers.get(vs.0) else {
        return String::new();
    };
    if p.ha_suspend.is_none() {
        // A reload took ha_suspend out.
        return format!("VS {}: ha_suspend no longer set, checkers resumed", p.name);
    }
    let single = match &p.ha_suspend {
        Some(w) if !w.group => w.ranges.first().map(|r| r.0),
        _ => None,
    };
    let where_ = match (single, on) {
        (Some(ip), true) => format!("address {ip} not on this host"),
        (Some(ip), false) => format!("address {ip} on this host"),
        (None, true) => "no address of its group on this host".to_string(),
        (None, false) => "an address of its group on this host".to_string(),
    };
    let name = &p.name;
    match (on, start) {
        (true, true) => format!(
            "VS {name}: {where_}, checkers suspended until it is (ha_suspend); real \
             servers keep their starting state"
        ),
        (true, false) => format!(
            "VS {name}: {where_}, checkers suspended (ha_suspend); real servers keep \
             their state"
        ),
        (false, _) => format!("VS {name}: {where_}, checkers resumed (ha_suspend)"),
    }
}

fn checker_up(s: &Scheduler, c: CheckerId) -> String {
    let rs = rs_name(s, c);
    if let Some(m) = misc(s, c) {
        return format!("{m} succeeded.");
    }
    match s.checker_plan(c).map(|p| &p.checker.kind) {
        Some(CheckerKind::TcpCheck) => format!("TCP connection to {rs} success."),
        Some(CheckerKind::UdpCheck(_)) => format!("UDP connection to {rs} success."),
        Some(CheckerKind::PingCheck) => format!("ICMP connection to {rs} success."),
        Some(CheckerKind::SmtpCheck(_)) => format!("Remote SMTP server {rs} succeed on service."),
        Some(CheckerKind::HttpGet(_) | CheckerKind::SslGet(_)) => {
            format!("Remote Web server {rs} succeed on service.")
        }
        _ => format!("{} on service {rs} succeeded.", kind(s, c)),
    }
}

/// `Misc check for [RS VS VS] by [PATH]`, for a MISC_CHECK.
fn misc(s: &Scheduler, c: CheckerId) -> Option<String> {
    let p = s.checker_plan(c)?;
    let CheckerKind::MiscCheck(m) = &p.checker.kind else {
        return None;
    };
    let path = m.misc_path.as_ref().map_or("", |x| x.command.as_str());
    let program = path.split_whitespace().next().unwrap_or(path);
    let (vs, rs) = s.names(c)?;
    Some(format!("Misc check for [{rs} VS {vs}] by [{program}]"))
}

fn is_ping(s: &Scheduler, c: CheckerId) -> bool {
    s.checker_plan(c)
        .is_some_and(|p| matches!(p.checker.kind, CheckerKind::PingCheck))
}

fn kind(s: &Scheduler, c: CheckerId) -> &'static str {
    s.checker_plan(c).map_or("CHECK", |p| p.kind())
}

fn rs_name(s: &Scheduler, c: CheckerId) -> String {
    s.names(c)
        .map_or_else(String::new, |(_, rs)| rs.to_string())
}

fn rs_of(s: &Scheduler, rs: RsId) -> String {
    s.rs_plan(rs)
        .map_or_else(String::new, |p| p.name.to_string())
}

fn vs_of(s: &Scheduler, rs: RsId) -> String {
    s.vs_of(rs)
        .map(|VsId(v)| s.plan().virtual_servers[v].name.clone())
        .unwrap_or_default()
}
