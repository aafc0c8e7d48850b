//! `keepup status` as a terminal table: one line per instance, then the trackers
//! that count against an instance, then the sync groups.
use super::{epoch_secs, InstanceStatus, IpvsStatus, Snapshot};
use std::fmt::Write;
use std::time::SystemTime;

/// How long ago `then` (seconds since the epoch) was, at `now`: `45s`, `3m12s`,
/// `2h05m`, `4d03h`.
pub(super) fn ago(then: f64, now: f64) -> String {
    let s = (now - then).max(0.0) as u64;
    match s {
        0..=59 => format!("{s}s"),
        60..=3599 => format!("{}m{:02}s", s / 60, s % 60),
        3600..=86_399 => format!("{}h{:02}m", s / 3600, s % 3600 / 60),
        _ => format!("{}d{:02}h", s / 86_400, s % 86_400 / 3600),
    }
}

fn master(i: &InstanceStatus) -> String {
    match (i.state.as_str(), &i.master, i.master_priority) {
        ("MASTER", _, _) => "this host".to_string(),
        (_, Some(a), Some(p)) => format!("{a} ({p})"),
        (_, Some(a), None) => a.clone(),
        _ => "-".to_string(),
    }
}

fn why(i: &InstanceStatus) -> String {
    if !i.fault_reasons.is_empty() {
        return i.fault_reasons.join("; ");
    }
    i.last_transition_reason.clone().unwrap_or_default()
}

/// The table at `now`.
pub fn table(s: &Snapshot, now: SystemTime) -> String {
    let now = epoch_secs(now);
    let rows: Vec<[String; 6]> = s
        .instances
        .iter()
        .map(|i| {
            [
                i.iname.clone(),
                i.state.clone(),
                format!("{}/{}", i.effective_priority, i.base_priority),
                master(i),
                i.last_transition.map_or("-".into(), |t| ago(t, now)),
                why(i),
            ]
        })
        .collect();
    let head = ["INSTANCE", "STATE", "PRIO", "MASTER", "SINCE", "WHY"].map(String::from);
    let mut out = columns(std::iter::once(head.to_vec()).chain(rows.into_iter().map(Vec::from)));
    let failing: Vec<String> = s
        .instances
        .iter()
        .flat_map(|i| {
            i.trackers.iter().filter(|t| t.failing).map(move |t| {
                format!(
                    "  {}: {} {} is {} ({})",
                    i.iname, t.kind, t.name, t.state, t.effect
                )
            })
        })
        .collect();
    if !failing.is_empty() {
        out.push_str("\nfailing trackers:\n");
        for f in failing {
            out.push_str(&f);
            out.push('\n');
        }
    }
    if !s.sync_groups.is_empty() {
        out.push_str("\nsync groups:\n");
        for g in &s.sync_groups {
            let _ = writeln!(out, "  {}: {} ({})", g.name, g.state, g.members.join(", "));
        }
    }
    out.push_str(&virtual_servers(&s.virtual_servers, s.ipvs.as_ref(), now));
    out.push_str(&ipvs(s.ipvs.as_ref()));
    out
}

/// The kernel's table as `ipvsadm -Ln --sort` prints it, marking the services that are
/// not keepup's.
fn ipvs(status: Option<&IpvsStatus>) -> String {
    let Some(st) = status else {
        return String::new();
    };
    let mut out = String::from("\nIPVS (the kernel's table, as ipvsadm -Ln --sort):\n");
    if let Some(note) = &st.note {
        let _ = writeln!(out, "  {note}");
    }
    if !st.available {
        return out;
    }
    let listing = keepup_lvs::render::ipvsadm_list(
        st.version,
        st.services.iter().map(|s| {
            let dests = s
                .dests
                .iter()
                .map(|d| keepup_lvs::render::Listed {
                    dest: &d.dest,
                    active_conns: d.active_conns,
                    inact_conns: d.inact_conns,
                })
                .collect();
            (&s.info.service, dests)
        }),
    );
    out.push_str(&listing);
    let foreign: Vec<String> = st
        .services
        .iter()
        .filter(|s| !s.owned)
        .map(|s| s.info.service.key.to_string())
        .collect();
    if !foreign.is_empty() {
        let _ = writeln!(out, "  (not keepup's, left alone: {})", foreign.join(", "));
    }
    out
}

/// The weight the kernel holds a real server at in its virtual server's services:
/// `-` when it is in none, the weight when all agree, `mixed` otherwise.
fn kernel_weight(ipvs: &IpvsStatus, vs: &str, r: &keepup_check::sched::RsView) -> String {
    let Some(ip) = r.ip else {
        return "?".into();
    };
    let weights: std::collections::BTreeSet<u32> = ipvs
        .services
        .iter()
        .filter(|s| s.virtual_server.as_deref() == Some(vs))
        .flat_map(|s| &s.dests)
        .filter(|d| {
            d.dest.key.addr == ip
                && (d.dest.forward != keepup_lvs::Forward::Masq
                    || r.port.is_none_or(|p| p == d.dest.key.port))
        })
        .map(|d| d.dest.weight)
        .collect();
    match weights.len() {
        0 => "-".into(),
        1 => weights.first().map_or_else(String::new, u32::to_string),
        _ => "mixed".into(),
    }
}

/// Rows with every column but the last padded to its widest cell, two spaces apart.
fn columns(rows: impl IntoIterator<Item = Vec<String>>) -> String {
    let rows: Vec<Vec<String>> = rows.into_iter().collect();
    let mut width: Vec<usize> = Vec::new();
    for r in &rows {
        for (k, c) in r.iter().enumerate() {
            let n = c.chars().count();
            match width.get_mut(k) {
                Some(w) => *w = (*w).max(n),
                None => width.push(n),
            }
        }
    }
    let mut out = String::new();
    for r in &rows {
        let mut l = String::new();
        for (k, c) in r.iter().enumerate() {
            if k + 1 == r.len() {
                l.push_str(c);
            } else {
                let w = width[k];
                let _ = write!(l, "{c:<w$}  ");
            }
        }
        out.push_str(l.trim_end());
        out.push('\n');
    }
    out
}

/// The checker side: each virtual server's quorum and sorry server, then one line
/// per checker of each real server.
fn virtual_servers(
    vss: &[keepup_check::sched::VsView],
    ipvs: Option<&IpvsStatus>,
    now: f64,
) -> String {
    if vss.is_empty() {
        return String::new();
    }
    let mut out = String::from("\nvirtual servers:\n");
    // The kernel's weight beside the checkers', when the kernel's table is known.
    let ipvs = ipvs.filter(|i| i.available);
    for v in vss {
        let quorum = if v.quorum_up { "up" } else { "DOWN" };
        let sorry = match &v.sorry_server {
            Some(s) if v.sorry_on => format!(", sorry server {s} IN USE"),
            Some(s) => format!(", sorry server {s} unused"),
            None => String::new(),
        };
        let suspended = if v.suspended {
            ", checkers SUSPENDED (ha_suspend: address not on this host)"
        } else {
            ""
        };
        let _ = writeln!(
            out,
            "  {}: quorum {quorum} (live weight {}, quorum {} hysteresis {}){sorry}{suspended}",
            v.name, v.live_weight, v.quorum, v.hysteresis
        );
        let head = [
            "REAL SERVER",
            "STATE",
            "WEIGHT",
            "IPVS",
            "CHECKER",
            "SINCE",
            "NEXT",
            "TOOK",
            "FAILED",
            "WHY",
        ];
        let mut rows = vec![head.map(String::from).to_vec()];
        for r in &v.real_servers {
            let state = if r.alive { "up" } else { "DOWN" };
            let weight = match r.pool_weight {
                Some(w) if w == r.effective_weight => w.to_string(),
                Some(w) => format!("{w} ({})", r.effective_weight),
                None => format!("- ({})", r.effective_weight),
            };
            let kernel = ipvs.map_or("?".into(), |i| kernel_weight(i, &v.name, r));
            for (k, c) in r.checkers.iter().enumerate() {
                let first = k == 0;
                let cstate = match (c.up, c.has_run) {
                    (true, false) => "starting",
                    (true, true) => "ok",
                    (false, _) => "failing",
                };
                rows.push(vec![
                    if first {
                        r.name.to_string()
                    } else {
                        String::new()
                    },
                    if first { state.into() } else { String::new() },
                    if first { weight.clone() } else { String::new() },
                    if first { kernel.clone() } else { String::new() },
                    format!("{} {cstate}", c.kind),
                    c.since.map_or("-".into(), |t| ago(t, now)),
                    match c.next_run {
                        // FILE_CHECK reads its file on: it is never suspended.
                        Some(_) if v.suspended && c.kind != "FILE_CHECK" => "suspended".into(),
                        Some(t) => in_(t, now),
                        None => "running".into(),
                    },
                    c.last_duration.map_or("-".into(), took),
                    failed(&c.failures),
                    c.last_error.clone().unwrap_or_default(),
                ]);
            }
            if r.checkers.is_empty() {
                rows.push(vec![
                    r.name.to_string(),
                    state.into(),
                    weight,
                    kernel,
                    "-".into(),
                ]);
            }
        }
        for line in columns(rows).lines() {
            let _ = writeln!(out, "    {line}");
        }
    }
    out
}

/// How long a check's last run took: `850us`, `12ms`, `1.5s`.
fn took(secs: f64) -> String {
    if secs < 0.001 {
        format!("{:.0}us", secs * 1e6)
    } else if secs < 1.0 {
        format!("{:.0}ms", secs * 1e3)
    } else {
        format!("{secs:.1}s")
    }
}

/// A checker's failed runs since start, with the kinds when more than one: `0`,
/// `3 timeout`, `5 (connect 3, timeout 2)`.
fn failed(f: &keepup_check::sched::Failures) -> String {
    let kinds: Vec<(keepup_check::sched::FailKind, u64)> =
        f.iter().filter(|(_, n)| *n > 0).collect();
    match kinds.as_slice() {
        [] => "0".into(),
        [(k, n)] => format!("{n} {}", k.as_str()),
        _ => format!(
            "{} ({})",
            f.total(),
            kinds
                .iter()
                .map(|(k, n)| format!("{} {n}", k.as_str()))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

/// How long until `then`: `in 3s`, `now`.
fn in_(then: f64, now: f64) -> String {
    if then <= now {
        "now".into()
    } else {
        format!("in {}", ago(now, then))
    }
}
