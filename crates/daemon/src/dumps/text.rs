//! `keepalived.stats` (SIGUSR2, and STATS_CLEAR before it clears) and
//! `keepalived.data` (SIGUSR1).
//!
//! The stats file is keepalived 2.2.7's, line for line. The data file holds the
//! "------< VRRP Topology >------" section with keepalived's field names and order for
//! what keepup knows, then "------< VRRP Sync groups >------" when there are sync
//! groups. What keepalived's data file has that keepup does not write, and why:
//!
//! - "Global definitions": several dozen settings, most of them for parts keepup does
//!   not have (SNMP, DBus, process priorities, netlink buffer sizes); `keepup check
//!   --dump` prints the whole configuration instead.
//! - Per instance: "Flags", the fault counters ("Number of config faults", "Number of
//!   interface and track script faults", "Number of track scripts init"), "Read
//!   timeout", "Master down timer", "Total priority" and "fd_in, fd_out": keepalived's
//!   internal bookkeeping, which keepup's engine does not keep in that form (`keepup
//!   status` says why an instance is in FAULT).
//! - "VRRP Sockpool", "VRRP Scripts", "VRRP Track files", "VRRP Track processes",
//!   "Interfaces", "Static addresses/routes/rules", "Gratuitous ARP delays": views of
//!   keepalived's own tables (sockets, its interface list); keepup's trackers are in
//!   `keepup status`.
use super::format::{cmd_str, ctime_usec, g};
use super::{DumpConfig, InstanceConf};
use crate::status::{InstanceStatus, Snapshot};
use std::fmt::Write as _;

/// keepalived.stats: one block per instance.
pub fn stats(snapshot: &Snapshot) -> String {
    let mut out = String::new();
    for i in &snapshot.instances {
        let k = &i.stats;
        let _ = write!(
            out,
            "VRRP Instance: {}\n  Advertisements:\n    Received: {}\n    Sent: {}\n  Became master: {}\n  Released master: {}\n  Packet Errors:\n    Length: {}\n    TTL: {}\n    Invalid Type: {}\n    Advertisement Interval: {}\n    Address List: {}\n  Authentication Errors:\n    Invalid Type: {}\n    Type Mismatch: {}\n    Failure: {}\n  Priority Zero:\n    Received: {}\n    Sent: {}\n",
            i.iname,
            k.advert_rcvd,
            k.advert_sent,
            k.become_master,
            k.release_master,
            k.packet_len_err,
            k.ip_ttl_err,
            k.invalid_type_rcvd,
            k.advert_interval_err,
            k.addr_list_err,
            k.invalid_authtype,
            k.authtype_mismatch,
            k.auth_failure,
            k.pri_zero_rcvd,
            k.pri_zero_sent,
        );
    }
    out
}

/// keepalived.data: the VRRP topology and the sync groups. Resolves script paths:
/// call it off the daemon's loop.
pub fn data(snapshot: &Snapshot, conf: &DumpConfig) -> String {
    let mut out = String::from("------< VRRP Topology >------\n");
    for (s, c) in super::pairs(snapshot, conf) {
        instance(&mut out, s, c);
    }
    if !snapshot.sync_groups.is_empty() {
        out.push_str("------< VRRP Sync groups >------\n");
        for gr in &snapshot.sync_groups {
            let _ = writeln!(out, " VRRP Sync Group = {}, {}", gr.name, gr.state);
            out.push_str("   VRRP member instances :\n");
            for m in &gr.members {
                let _ = writeln!(out, "     {m}");
            }
        }
    }
    out
}

fn line(out: &mut String, text: impl std::fmt::Display) {
    let _ = writeln!(out, "   {text}");
}

fn instance(out: &mut String, s: &InstanceStatus, c: &InstanceConf) {
    let _ = writeln!(out, " VRRP Instance = {}", c.iname);
    line(out, format_args!("VRRP Version = {}", c.version));
    if let Some(gr) = &s.sync_group {
        line(out, format_args!("Sync group = {gr}"));
    }
    if c.v6 {
        line(out, "Using Native IPv6");
    }
    line(out, format_args!("State = {}", s.state));
    if s.state == "BACKUP" {
        line(
            out,
            format_args!("Master router = {}", s.master.as_deref().unwrap_or("")),
        );
        line(
            out,
            format_args!("Master priority = {}", s.master_priority.unwrap_or(0)),
        );
        if c.version == 3 {
            line(
                out,
                format_args!("Master advert int = {:.2} sec", s.master_adver_int),
            );
        }
    }
    line(out, format_args!("Wantstate = {}", s.state));
    line(
        out,
        format_args!(
            "Last transition = {}",
            ctime_usec(s.last_transition.unwrap_or(0.0))
        ),
    );
    line(out, format_args!("Interface = {}", c.ifp_ifname));
    if c.dont_track_primary {
        line(out, "VRRP interface tracking disabled");
    }
    if c.skip_check_adv_addr {
        line(out, "Skip checking advert IP addresses");
    }
    if c.strict_mode {
        line(out, "Enforcing strict VRRP compliance");
    }
    line(
        out,
        format_args!(
            "Using src_ip = {}{}",
            s.src_ip.as_deref().unwrap_or("(none)"),
            if c.src_from_config {
                " (from configuration)"
            } else {
                ""
            }
        ),
    );
    if c.unicast_peers.is_empty() {
        match c.mcast_group {
            Some(m) if m.is_ipv6() => line(
                out,
                format_args!("Multicast address {m}, ifindex {}", c.ifindex),
            ),
            Some(m) => line(out, format_args!("Multicast address {m}")),
            None => {}
        }
    }
    line(
        out,
        format_args!("Gratuitous ARP delay = {}", c.garp_delay.as_secs()),
    );
    line(out, format_args!("Gratuitous ARP repeat = {}", c.garp_rep));
    line(
        out,
        format_args!("Gratuitous ARP refresh = {}", c.garp_refresh.as_secs()),
    );
    line(
        out,
        format_args!("Gratuitous ARP refresh repeat = {}", c.garp_refresh_rep),
    );
    line(
        out,
        format_args!(
            "Gratuitous ARP lower priority delay = {}",
            c.garp_lower_prio_delay.as_secs()
        ),
    );
    line(
        out,
        format_args!(
            "Gratuitous ARP lower priority repeat = {}",
            c.garp_lower_prio_rep
        ),
    );
    line(
        out,
        format_args!("Down timer adverts = {}", c.down_timer_adverts),
    );
    let yes = |b: bool| if b { "true" } else { "false" };
    line(
        out,
        format_args!(
            "Send advert after receive lower priority advert = {}",
            yes(!c.lower_prio_no_advert)
        ),
    );
    line(
        out,
        format_args!(
            "Send advert after receive higher priority advert = {}",
            yes(c.higher_prio_send_advert)
        ),
    );
    line(out, format_args!("Virtual Router ID = {}", c.vrid));
    line(out, format_args!("Priority = {}", c.base_priority));
    line(
        out,
        format_args!("Effective priority = {}", s.effective_priority),
    );
    if c.version == 2 {
        line(
            out,
            format_args!("Advert interval = {} sec", c.adver_int.as_secs()),
        );
    } else {
        line(
            out,
            format_args!("Advert interval = {} milli-sec", c.adver_int.as_millis()),
        );
        if s.state == "BACKUP" {
            line(
                out,
                format_args!(
                    "Master advert interval = {} milli-sec",
                    (s.master_adver_int * 1000.0).round()
                ),
            );
        }
    }
    let on = |b: bool| if b { "enabled" } else { "disabled" };
    line(out, format_args!("Accept = {}", on(c.accept)));
    line(out, format_args!("Preempt = {}", on(!c.nopreempt)));
    if !c.preempt_delay.is_zero() {
        line(
            out,
            format_args!("Preempt delay = {} secs", g(c.preempt_delay.as_secs_f64())),
        );
    }
    line(
        out,
        format_args!("Promote_secondaries = {}", on(c.promote_secondaries)),
    );
    match (c.auth_type, &c.auth_data) {
        (1, Some(pass)) => {
            line(out, "Authentication type = SIMPLE_PASSWORD");
            line(out, format_args!("Password = {pass}"));
        }
        (2, _) => line(out, "Authentication type = IPSEC_AH"),
        _ if c.version == 2 => line(out, "Authentication type = none"),
        _ => {}
    }
    let set = if s.vipset { " set" } else { "" };
    if !c.vips.is_empty() {
        line(out, format_args!("Virtual IP ({}):", c.vips.len()));
        for a in &c.vips {
            let _ = writeln!(out, "     {a}{set}");
        }
    }
    if !c.evips.is_empty() {
        line(out, "Virtual IP Excluded :");
        for a in &c.evips {
            let _ = writeln!(out, "     {a}{set}");
        }
    }
    if !c.unicast_peers.is_empty() {
        line(out, format_args!("Unicast TTL = {}", c.unicast_ttl));
        line(
            out,
            format_args!(
                "Check unicast src : {}",
                if c.check_unicast_src { "yes" } else { "no" }
            ),
        );
        line(out, "Unicast Peer :");
        for (addr, min, max) in &c.unicast_peers {
            let _ = writeln!(out, "     {addr} min_ttl {min} max_ttl {max}");
        }
    }
    if !c.vroutes.is_empty() {
        line(out, "Virtual Routes :");
        for r in &c.vroutes {
            let _ = writeln!(out, "     {r}");
        }
    }
    if !c.vrules.is_empty() {
        line(out, "Virtual Rules :");
        for r in &c.vrules {
            let _ = writeln!(out, "     {r}");
        }
    }
    if !c.track_ifp.is_empty() {
        line(out, "Tracked interfaces :");
        for t in &c.track_ifp {
            let _ = writeln!(out, "     {} weight {}", t.name, t.weight);
        }
    }
    if !c.track_script.is_empty() {
        line(out, "Tracked scripts :");
        for t in &c.track_script {
            let _ = writeln!(out, "     {} weight {}", t.name, t.weight);
        }
    }
    if !c.track_file.is_empty() {
        line(out, "Tracked files :");
        for t in &c.track_file {
            let _ = writeln!(out, "     {}, weight {}", t.name, t.weight);
        }
    }
    if !c.track_process.is_empty() {
        line(out, "Tracked processes :");
        for t in &c.track_process {
            let _ = writeln!(out, "     {}, weight {}", t.name, t.weight);
        }
    }
    line(
        out,
        format_args!(
            "Using smtp notification = {}",
            if c.smtp_alert { "yes" } else { "no" }
        ),
    );
    line(
        out,
        format_args!(
            "Notify deleted = {}",
            if c.notify_deleted { "Deleted" } else { "Fault" }
        ),
    );
    for n in &c.scripts {
        let (uid, gid) = n.uid_gid();
        line(
            out,
            format_args!(
                "{} state transition script = {}, uid:gid {uid}:{gid}",
                n.label,
                cmd_str(&n.argv)
            ),
        );
    }
    line(
        out,
        format_args!(
            "Notify priority changes = {}",
            yes(c.notify_priority_changes)
        ),
    );
}
