//! The takeover's timeline: what was measured (from the capture, the new master's
//! log, `ip monitor` and the probe) and how it is shown.
use std::net::IpAddr;
use std::time::Duration;

use anyhow::Result;
use keepup_testkit::lab::{self, Capture, Probe};
use keepup_wire::MacAddr;

use super::logs::{parse_addr_event, parse_state_line, RouterState};
use super::report::format_rel;
use super::scenario::{Demo, Router};
use super::{longest_gap, master_down_interval, now, rel, Gap, ADVERT_INT, VIP, VRID};

/// The takeover, as measured: every instant is wall-clock time, `None` when it was
/// not seen.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Takeover {
    /// SIGKILL sent to the old master's daemon.
    pub kill: Duration,
    /// Its switch port is down (when `ip link set ... down` returned).
    pub unplugged: Option<Duration>,
    /// r1's last advert (capture on the client).
    pub last_advert_old: Option<Duration>,
    /// The new master's log says `Entering MASTER STATE`.
    pub master_log: Option<Duration>,
    /// Its first advert (capture).
    pub first_advert_new: Option<Duration>,
    /// The VIP appears on it (`ip monitor`).
    pub vip_added: Option<Duration>,
    /// Its first gratuitous ARP for the VIP (capture).
    pub garp: Option<Duration>,
    /// What the client's pings saw around the kill.
    pub gap: Option<Gap>,
    /// The new master's name and priority.
    pub new_master: (&'static str, u8),
}

impl Takeover {
    /// The timeline table, the client's outage and the comparison with the
    /// Master_Down_Interval.
    pub fn render(&self) -> String {
        let (who, prio) = self.new_master;
        let at = |t: Option<Duration>| match t {
            Some(t) => format_rel(rel(t, self.kill)),
            None => "   (not seen)".into(),
        };
        let rows: Vec<(String, String, &str)> = vec![
            (
                at(self.last_advert_old),
                "last advert from r1".into(),
                "capture",
            ),
            (format_rel(0.0), "r1's keepup killed (SIGKILL)".into(), ""),
            (
                at(self.unplugged),
                "r1 unplugged (its switch port down)".into(),
                "",
            ),
            (
                at(self.master_log),
                format!("{who}: (VI_1) Entering MASTER STATE"),
                "its log",
            ),
            (
                at(self.first_advert_new),
                format!("first advert from {who}, priority {prio}"),
                "capture",
            ),
            (
                at(self.vip_added),
                format!("{VIP} added on {who}"),
                "ip monitor",
            ),
            (
                at(self.garp),
                format!("gratuitous ARP for {VIP} from {who}"),
                "capture",
            ),
            (
                at(self.gap.map(|g| g.after)),
                "client gets an echo reply again".into(),
                "ping",
            ),
        ];
        let mut rows = rows;
        // In time order; rows not seen go last.
        rows.sort_by(|a, b| {
            let key = |s: &str| s.trim().trim_end_matches(" s").parse::<f64>().ok();
            match (key(&a.0), key(&b.0)) {
                (Some(x), Some(y)) => x.total_cmp(&y),
                (Some(_), None) => std::cmp::Ordering::Less,
                (None, Some(_)) => std::cmp::Ordering::Greater,
                (None, None) => std::cmp::Ordering::Equal,
            }
        });
        let width = rows.iter().map(|r| r.1.chars().count()).max().unwrap_or(0);
        let mut out = String::from("   since the kill  event\n");
        for (t, what, source) in &rows {
            let source = if source.is_empty() {
                String::new()
            } else {
                format!("({source})")
            };
            let line = format!("   {t:>14}  {what:<width$}  {source}");
            out.push_str(line.trim_end());
            out.push('\n');
        }
        out.push('\n');
        match self.gap {
            Some(g) => out.push_str(&format!(
                "   client outage: {:.2} s (last reply {}, next {}; {} echoes lost)\n",
                g.secs(),
                format_rel(rel(g.before, self.kill)),
                format_rel(rel(g.after, self.kill)),
                g.lost,
            )),
            None => out.push_str("   client outage: not measured (too few replies)\n"),
        }
        let mdi = master_down_interval(prio, ADVERT_INT);
        match (self.last_advert_old, self.first_advert_new) {
            (Some(last), Some(first)) => out.push_str(&format!(
                "   {who} took over {:.3} s after r1's last advert; expected Master_Down_Interval\n   \
                 = 3 × {ADVERT_INT} s + (256 − {prio})/256 s = {mdi:.3} s\n",
                rel(first, last),
            )),
            _ => out.push_str(&format!(
                "   expected: {who} takes over one Master_Down_Interval after r1's last advert,\n   \
                 3 × {ADVERT_INT} s + (256 − {prio})/256 s = {mdi:.3} s\n"
            )),
        }
        out
    }
}

/// The takeover's instants from the capture, the new master's log and `ip monitor`,
/// and the probe.
pub(super) fn measure_takeover(d: &Demo, kill: Duration, unplugged: Duration) -> Result<Takeover> {
    let old = &d.routers[0];
    let new = &d.routers[1];
    let packets = d
        .capture
        .as_ref()
        .map(Capture::packets)
        .transpose()?
        .unwrap_or_default();
    let adverts = lab::vrrp_adverts(&packets);
    let from = |r: &Router| IpAddr::V4(r.host.ifaces()[0].ipv4);
    let last_advert_old = adverts
        .iter()
        .filter(|a| a.src == from(old) && a.repr.vrid == VRID)
        .map(|a| a.ts)
        .next_back();
    let first_advert_new = adverts
        .iter()
        .find(|a| a.src == from(new) && a.repr.vrid == VRID && a.ts > kill)
        .map(|a| a.ts);
    let new_mac: MacAddr = new.host.ifaces()[0].mac;
    let garp = packets
        .iter()
        .filter(|p| p.ts > kill)
        .find(|p| {
            keepup_wire::arp::Repr::parse(&p.data)
                .is_ok_and(|a| a.sender_ip == VIP && a.target_ip == VIP && a.sender_mac == new_mac)
        })
        .map(|p| p.ts);
    let master_log = new
        .daemon
        .as_ref()
        .and_then(|p| {
            p.log()
                .lines()
                .filter_map(parse_state_line)
                .find(|(ts, s)| *ts > kill && *s == RouterState::Master)
        })
        .map(|(ts, _)| ts);
    let vip_added = std::fs::read_to_string(&new.addr_log)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| parse_addr_event(l, VIP))
        .find(|(ts, added)| *added && *ts > kill)
        .map(|(ts, _)| ts);
    let echoes = d.probe.as_ref().map(Probe::echoes).unwrap_or_default();
    let gap = longest_gap(&echoes, kill - Duration::from_secs(1), now());
    Ok(Takeover {
        kill,
        unplugged: Some(unplugged),
        last_advert_old,
        master_log,
        first_advert_new,
        vip_added,
        garp,
        gap,
        new_master: (new.name, new.priority),
    })
}
