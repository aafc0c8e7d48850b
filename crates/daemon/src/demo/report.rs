//! What the demo prints: the state lines, signed instants, the header and phase 3's
//! summary.
use std::path::Path;

use super::{master_down_interval, Gap, RouterState, ADVERT_INT, ROUTERS, VIP, VRID};

/// One live state line: `t=+3.61s  r1 MASTER  r2 BACKUP  r3 BACKUP`.
pub fn format_states(t: f64, states: &[(&str, RouterState)]) -> String {
    let cols: Vec<String> = states
        .iter()
        .map(|(name, s)| format!("{name} {:<6}", s.label()))
        .collect();
    format!("{:<9}  {}", format!("t={t:+.2}s"), cols.join("  "))
        .trim_end()
        .to_owned()
}

/// A signed instant in seconds, three decimals: `+3.119 s`, `-0.412 s`.
pub fn format_rel(secs: f64) -> String {
    format!("{secs:+.3} s")
}

/// The header: the lab, the configuration, where the files are.
pub fn header(dir: &Path) -> String {
    let mut out =
        String::from("keepup demo: VRRP failover in a throwaway lab of network namespaces\n\n");
    for (i, (name, prio, addr)) in ROUTERS.iter().enumerate() {
        let wire = match i {
            0 => "─┐",
            1 => "─┼─ bridge ─ client 10.51.0.10",
            _ => "─┘",
        };
        out.push_str(&format!(
            "   {name} {:<11} priority {prio} {wire}\n",
            addr.to_string()
        ));
    }
    out.push_str(&format!(
        "\n   one keepalived.conf for all three (@r1/@r2/@r3 lines): VRID {VRID}, VIP {VIP}/24,\n   \
         advert_int {ADVERT_INT}; each router runs `keepup run -i rN`.\n   \
         files: {} (KEEPUP_KEEP_LAB=1 keeps them)\n",
        dir.display()
    ));
    out
}

/// What phase 3 prints under the state lines.
pub fn render_preemption(stale: Option<f64>, master: Option<f64>, gap: Option<Gap>) -> String {
    let mut out = String::new();
    if let Some(s) = stale {
        out.push_str(&format!(
            "   r1 removed the stale {VIP} {s:.3} s after its start, before its first advert\n"
        ));
    }
    match master {
        Some(m) => out.push_str(&format!(
            "   r1 preempted r2 {m:.3} s after its start (Master_Down_Interval {:.3} s)\n",
            master_down_interval(ROUTERS[0].1, ADVERT_INT)
        )),
        None => out.push_str("   r1 did not log Entering MASTER STATE\n"),
    }
    if let Some(g) = gap {
        out.push_str(&format!(
            "   client meanwhile: {} echoes lost, longest gap between replies {:.3} s\n",
            g.lost,
            g.secs()
        ));
    }
    out
}
