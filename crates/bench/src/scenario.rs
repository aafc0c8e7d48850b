//! The scenarios and the keepalived.conf text each one gives both daemons.
use std::fmt::Write as _;
use std::net::Ipv4Addr;

/// Which daemon a run measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Daemon {
    Keepup,
    Keepalived,
}

impl Daemon {
    pub const BOTH: [Daemon; 2] = [Daemon::Keepup, Daemon::Keepalived];

    pub fn name(self) -> &'static str {
        match self {
            Daemon::Keepup => "keepup",
            Daemon::Keepalived => "keepalived",
        }
    }
}

/// VRRP version and advert interval of a failover scenario.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Timing {
    /// VRRPv2, advert_int 1.
    V2s1,
    /// VRRPv3, advert_int 0.1.
    V3ms100,
    /// VRRPv3, advert_int 0.01.
    V3ms10,
}

impl Timing {
    pub const ALL: [Timing; 3] = [Timing::V2s1, Timing::V3ms100, Timing::V3ms10];

    pub fn label(self) -> &'static str {
        match self {
            Timing::V2s1 => "v2-1s",
            Timing::V3ms100 => "v3-100ms",
            Timing::V3ms10 => "v3-10ms",
        }
    }

    pub fn version(self) -> u8 {
        match self {
            Timing::V2s1 => 2,
            _ => 3,
        }
    }

    /// As written in `advert_int`.
    pub fn advert_int(self) -> &'static str {
        match self {
            Timing::V2s1 => "1",
            Timing::V3ms100 => "0.1",
            Timing::V3ms10 => "0.01",
        }
    }

    pub fn advert_secs(self) -> f64 {
        match self {
            Timing::V2s1 => 1.0,
            Timing::V3ms100 => 0.1,
            Timing::V3ms10 => 0.01,
        }
    }
}

/// What happens to the master in a failover scenario.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Its switch port goes down (the host is cut off).
    Cut,
    /// SIGKILL to its daemon (and the daemon's children).
    Kill,
    /// SIGTERM to its daemon (a clean stop: priority 0).
    Term,
    /// Stopped (SIGTERM), the backup takes over, then restarted: it preempts.
    Restart,
}

impl Fault {
    pub const ALL: [Fault; 4] = [Fault::Cut, Fault::Kill, Fault::Term, Fault::Restart];

    pub fn label(self) -> &'static str {
        match self {
            Fault::Cut => "cut",
            Fault::Kill => "sigkill",
            Fault::Term => "sigterm",
            Fault::Restart => "restart",
        }
    }

    pub fn describe(self) -> &'static str {
        match self {
            Fault::Cut => "master host cut off (bridge port down)",
            Fault::Kill => "master daemon SIGKILL",
            Fault::Term => "master daemon SIGTERM",
            Fault::Restart => "master restarted, takes the VIP back (preemption)",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Failover(Timing, Fault),
    /// N instances on r1 (master) and r2 (backup) at this timing: CPU and memory.
    Scale(usize, Timing),
    /// One instance with this many VIPs: time until all are on and announced. With
    /// `true`, all but the first are in `virtual_ipaddress_excluded` (not advertised:
    /// a VRRP advert holds at most 255 addresses).
    Vips(usize, bool),
    /// Health checkers: this many TCP_CHECK and HTTP_GET real servers at delay_loop
    /// 1, beside a VRRPv3 instance at advert_int 0.01 and a MISC_CHECK that hangs.
    Checkers {
        tcp: usize,
        http: usize,
    },
    /// A rogue host floods the pair with one kind of bad packet.
    Flood(crate::flood::FloodKind),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scenario {
    pub name: String,
    pub kind: Kind,
}

impl Scenario {
    /// One line for the results file.
    pub fn describe(&self) -> String {
        match self.kind {
            Kind::Failover(t, f) => format!(
                "{}, VRRPv{} advert_int {}: r1 (priority 150) and r2 (100) run the same daemon; \
                 the client pings the VIP every 2 ms",
                f.describe(),
                t.version(),
                t.advert_int()
            ),
            Kind::Scale(n, t) => format!(
                "{n} instance(s), VRRPv{} advert_int {}, one VIP each, on r1 (master) and r2 \
                 (backup): CPU % of one core and peak RSS summed over each daemon's processes",
                t.version(),
                t.advert_int()
            ),
            Kind::Checkers { tcp, http } => format!(
                "{tcp} TCP_CHECK and {http} HTTP_GET real servers at delay_loop 1 (one nginx \
                 listening on every port), a VRRPv3 instance at advert_int 0.01 and a MISC_CHECK that hangs, on \
                 r1: checks per second, CPU % and RSS, the largest gap between the instance's \
                 adverts on the wire; keepup only (keepalived's checker exits on a kernel \
                 without IPVS)"
            ),
            Kind::Flood(k) => format!(
                "a rogue host floods {} packets (see flood.rs) at the fixed rate from r1's \
                 takeover: VI_1 (VRID 51, PASS) and VI_2 (VRID 52, AH), r1 MASTER 150, r2 \
                 BACKUP 100, advert_int 1; CPU % of one core over the flood, RSS, state \
                 changes and log lines during it, when r1's second GARP round went out after \
                 its first (garp_master_delay 5)",
                k.label()
            ),
            Kind::Vips(n, excluded) => format!(
                "one instance with {n} VIPs on r1{}: time from the master transition until all \
                 are on the interface and until each has had its first gratuitous ARP",
                if excluded {
                    " (the first in virtual_ipaddress, the rest in virtual_ipaddress_excluded)"
                } else {
                    " (all in virtual_ipaddress)"
                }
            ),
        }
    }
}

/// Every scenario, in the order they run.
pub fn all() -> Vec<Scenario> {
    let mut v = Vec::new();
    for t in Timing::ALL {
        for f in Fault::ALL {
            v.push(Scenario {
                name: format!("failover/{}/{}", t.label(), f.label()),
                kind: Kind::Failover(t, f),
            });
        }
    }
    for n in [1, 200, 1000] {
        v.push(Scenario {
            name: format!("scale/{n}"),
            kind: Kind::Scale(n, Timing::V2s1),
        });
    }
    // One instance at the fastest interval: what sustaining 100 adverts/s costs.
    v.push(Scenario {
        name: "scale/1-v3-10ms".into(),
        kind: Kind::Scale(1, Timing::V3ms10),
    });
    // The same lab with few checkers: the advert gap the machine gives anyway.
    v.push(Scenario {
        name: "checkers/10-tcp-1-http".into(),
        kind: Kind::Checkers { tcp: 10, http: 1 },
    });
    v.push(Scenario {
        name: "checkers/10k-tcp-1k-http".into(),
        kind: Kind::Checkers {
            tcp: 10_000,
            http: 1_000,
        },
    });
    for k in crate::flood::FloodKind::ALL {
        v.push(Scenario {
            name: format!("flood/{}", k.label()),
            kind: Kind::Flood(k),
        });
    }
    v.push(Scenario {
        name: "vips/1000".into(),
        kind: Kind::Vips(1000, false),
    });
    v.push(Scenario {
        name: "vips/1000-excluded".into(),
        kind: Kind::Vips(1000, true),
    });
    v
}

/// What `--quick` runs.
pub const QUICK: &[&str] = &["failover/v3-100ms/*", "scale/200", "vips/*"];

// ---------------------------------------------------------------------------------
// Addresses and configurations. One text per scenario serves both routers and both
// daemons: `@r1`/`@r2` lines (kept by `-i r1` / `-i r2`) pick state and priority.

pub const FAILOVER_VIP: Ipv4Addr = Ipv4Addr::new(10, 9, 0, 100);
pub const R1: Ipv4Addr = Ipv4Addr::new(10, 9, 0, 1);
pub const R2: Ipv4Addr = Ipv4Addr::new(10, 9, 0, 2);
pub const CLIENT: Ipv4Addr = Ipv4Addr::new(10, 9, 0, 10);

/// The failover pair: r1 MASTER priority 150, r2 BACKUP priority 100, one VIP.
pub fn failover_conf(t: Timing) -> String {
    format!(
        "# keepup-bench: failover, VRRPv{v} advert_int {a}
vrrp_instance VI_1 {{
@r1 state MASTER
@r2 state BACKUP
    interface eth0
    virtual_router_id 51
@r1 priority 150
@r2 priority 100
    advert_int {a}
    version {v}
    virtual_ipaddress {{
        {FAILOVER_VIP}/24
    }}
}}
",
        v = t.version(),
        a = t.advert_int(),
    )
}

/// Instances per LAN in the scale scenarios (VRIDs 1..=250 on each interface).
pub const PER_LAN: usize = 250;

/// How many LANs (interfaces eth0, eth1, ...) `n` instances need.
pub fn scale_lans(n: usize) -> usize {
    n.div_ceil(PER_LAN).max(1)
}

/// Router `r` (1 or 2)'s address on scale LAN `k`: 10.(60+k).0.(250+r)/24.
pub fn scale_router_addr(k: usize, r: u8) -> Ipv4Addr {
    Ipv4Addr::new(10, 60 + k as u8, 0, 250 + r)
}

/// Instance `j`'s VIP: 10.(60+lan).0.(vrid).
pub fn scale_vip(j: usize) -> Ipv4Addr {
    let (k, vrid) = (j / PER_LAN, j % PER_LAN + 1);
    Ipv4Addr::new(10, 60 + k as u8, 0, vrid as u8)
}

/// `n` instances at timing `t`, each with its VRID on its LAN and one VIP.
pub fn scale_conf(n: usize, t: Timing) -> String {
    let (v, a) = (t.version(), t.advert_int());
    let mut s = format!("# keepup-bench: {n} instances, VRRPv{v} advert_int {a}\n");
    for j in 0..n {
        let (k, vrid) = (j / PER_LAN, j % PER_LAN + 1);
        let _ = write!(
            s,
            "vrrp_instance S{j} {{
@r1 state MASTER
@r2 state BACKUP
    interface eth{k}
    virtual_router_id {vrid}
@r1 priority 150
@r2 priority 100
    advert_int {a}
    version {v}
    virtual_ipaddress {{
        {}/24
    }}
}}
",
            scale_vip(j)
        );
    }
    s
}

/// The host of the real servers in the checkers scenario.
pub const SERVERS: Ipv4Addr = Ipv4Addr::new(10, 9, 0, 50);
/// The first TCP_CHECK real server's port (then one port each; HTTP_GET after them).
pub const FIRST_PORT: u16 = 10_000;

/// The checkers scenario: on r1 a VRRPv3 instance at advert_int 0.01; `tcp`
/// TCP_CHECK real servers and `http` HTTP_GET ones (ports from [`FIRST_PORT`] on
/// [`SERVERS`], each a port of one nginx) at delay_loop 1; a MISC_CHECK that hangs for the whole run.
pub fn checkers_conf(tcp: usize, http: usize) -> String {
    let mut s = format!(
        "# keepup-bench: {tcp} TCP_CHECK, {http} HTTP_GET, one hung MISC_CHECK
vrrp_instance VI_1 {{
    state MASTER
    interface eth0
    virtual_router_id 51
    priority 150
    advert_int 0.01
    version 3
    virtual_ipaddress {{
        {FAILOVER_VIP}/24
    }}
}}
virtual_server {FAILOVER_VIP} 80 {{
    delay_loop 1
    lb_algo rr
    lb_kind NAT
    protocol TCP
"
    );
    let port = |i: usize| usize::from(FIRST_PORT) + i;
    for i in 0..tcp {
        let _ = write!(
            s,
            "    real_server {SERVERS} {} {{\n        TCP_CHECK {{\n            connect_timeout 2\n        }}\n    }}\n",
            port(i)
        );
    }
    s.push_str(&format!(
        "}}\nvirtual_server {FAILOVER_VIP} 8080 {{\n    delay_loop 1\n    lb_algo rr\n    lb_kind NAT\n    protocol TCP\n"
    ));
    for i in 0..http {
        let _ = write!(
            s,
            "    real_server {SERVERS} {} {{\n        HTTP_GET {{\n            url {{\n                path /\n            }}\n            connect_timeout 2\n        }}\n    }}\n",
            port(tcp + i)
        );
    }
    s.push_str(&format!(
        "}}\nvirtual_server {FAILOVER_VIP} 8081 {{\n    delay_loop 1\n    lb_algo rr\n    lb_kind NAT\n    protocol TCP\n    real_server {SERVERS} 8081 {{\n        MISC_CHECK {{\n            misc_path \"/bin/sleep 100000\"\n            misc_timeout 100000\n        }}\n    }}\n}}\n"
    ));
    s
}

/// VIP `i` of the many-VIPs instance: 10.70.(i/250).(i%250+1)/32.
pub fn many_vip(i: usize) -> Ipv4Addr {
    Ipv4Addr::new(10, 70, (i / 250) as u8, (i % 250 + 1) as u8)
}

/// One instance, MASTER on r1, with `n` VIPs (all but the first in
/// `virtual_ipaddress_excluded` if `excluded`).
pub fn vips_conf(n: usize, excluded: bool) -> String {
    let mut s = format!(
        "# keepup-bench: one instance with {n} VIPs
vrrp_instance VI_1 {{
    state MASTER
    interface eth0
    virtual_router_id 51
    priority 150
    advert_int 1
    virtual_ipaddress {{
"
    );
    for i in 0..n {
        if i == 1 && excluded {
            s.push_str("    }\n    virtual_ipaddress_excluded {\n");
        }
        let _ = writeln!(s, "        {}/32", many_vip(i));
    }
    s.push_str("    }\n}\n");
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_quick_globs_match_some() {
        let all = all();
        let mut names: Vec<&str> = all.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names.len(), 29);
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), 29);
        for q in QUICK {
            let p = glob::Pattern::new(q).unwrap();
            assert!(names.iter().any(|n| p.matches(n)), "{q}");
        }
    }

    #[test]
    fn the_checkers_scenario_has_every_real_server_on_its_own_port() {
        let c = checkers_conf(3, 2);
        assert_eq!(c.matches("TCP_CHECK {").count(), 3);
        assert_eq!(c.matches("HTTP_GET {").count(), 2);
        assert_eq!(c.matches("MISC_CHECK {").count(), 1);
        for port in 10_000..10_005 {
            assert!(
                c.contains(&format!("real_server {SERVERS} {port} {{")),
                "{port}"
            );
        }
        assert!(c.contains("advert_int 0.01"));
    }

    #[test]
    fn scale_addresses_stay_apart() {
        assert_eq!(scale_lans(1), 1);
        assert_eq!(scale_lans(200), 1);
        assert_eq!(scale_lans(1000), 4);
        assert_eq!(scale_vip(0), Ipv4Addr::new(10, 60, 0, 1));
        assert_eq!(scale_vip(249), Ipv4Addr::new(10, 60, 0, 250));
        assert_eq!(scale_vip(250), Ipv4Addr::new(10, 61, 0, 1));
        assert_eq!(scale_router_addr(3, 2), Ipv4Addr::new(10, 63, 0, 252));
        let c = scale_conf(300, Timing::V2s1);
        assert_eq!(c.matches("vrrp_instance").count(), 300);
        assert!(c.contains("interface eth1\n    virtual_router_id 50\n"));
        let v = vips_conf(1000, false);
        assert!(v.contains("10.70.3.250/32") && !v.contains("10.70.4."));
        assert!(!v.contains("excluded"));
        let x = vips_conf(1000, true);
        assert!(x.contains(
            "        10.70.0.1/32\n    }\n    virtual_ipaddress_excluded {\n        10.70.0.2/32\n"
        ));
        assert_eq!(x.matches("/32").count(), 1000);
    }

    #[test]
    fn both_routers_read_one_failover_text() {
        let c = failover_conf(Timing::V3ms10);
        assert!(c.contains("advert_int 0.01\n    version 3\n"));
        assert!(c.contains("@r1 priority 150\n@r2 priority 100\n"));
    }
}
