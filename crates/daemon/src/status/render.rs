//! `keepup status` as a terminal table: one line per instance, then the trackers
//! that count against an instance, then the sync groups.
use super::{epoch_secs, InstanceStatus, Snapshot};
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
    let head = ["INSTANCE", "STATE", "PRIO", "MASTER", "SINCE", "WHY"];
    let mut width = head.map(str::len);
    for r in &rows {
        for (w, c) in width.iter_mut().zip(r) {
            *w = (*w).max(c.chars().count());
        }
    }
    let mut out = String::new();
    let mut line = |cells: [&str; 6]| {
        let mut l = String::new();
        for (k, (c, w)) in cells.iter().zip(width).enumerate() {
            if k == 5 {
                l.push_str(c);
            } else {
                let _ = write!(l, "{c:<w$}  ");
            }
        }
        out.push_str(l.trim_end());
        out.push('\n');
    };
    line(head);
    for r in &rows {
        line([&r[0], &r[1], &r[2], &r[3], &r[4], &r[5]]);
    }
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
    out
}
