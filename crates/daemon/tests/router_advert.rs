//! IPv6 Router Advertisements for the virtual router (`keepup_router_advert`, a keepup
//! keyword; keepalived sends none): only the Active sends them, from the virtual
//! link-local address, and a client on the LAN takes the virtual router as its
//! default router and follows it through a failover. Root only; CI runs these
//! serially.
#![allow(clippy::unwrap_used)]

mod common;
use common::{keepup, routers, wait_addr};

use keepup_testkit::lab::{self, Host, Signal};
use std::net::{IpAddr, Ipv6Addr};
use std::time::Duration;

const VLL: Ipv6Addr = Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 0x100);

fn conf(prio: u8) -> String {
    format!(
        "vrrp_instance VI_6 {{
    state BACKUP
    interface eth0
    virtual_router_id 61
    version 3
    priority {prio}
    advert_int 1
    keepup_router_advert 1800
    virtual_ipaddress {{
        fe80::100/64
        fd00:9::100/64
    }}
}}
"
    )
}

/// Every Router Advertisement in the capture: (source MAC, parsed RA).
fn router_adverts(cap: lab::Capture) -> Vec<keepup_wire::ra::Repr> {
    cap.stop()
        .unwrap()
        .iter()
        .filter_map(|p| keepup_wire::ra::Repr::parse(&p.data).ok())
        .collect()
}

/// The client's default route and its router's link-layer address, as the kernel
/// learned them from the RAs.
fn default_router(client: &Host) -> (String, String) {
    let route = client
        .run(["ip", "-6", "route", "show", "default"])
        .unwrap_or_default();
    let neigh = client
        .run(["ip", "-6", "neigh", "show", "fe80::100", "dev", "eth0"])
        .unwrap_or_default();
    (route, neigh)
}

/// Ledger: ARP-07
/// Ledger: BKP-03
/// r1 (150) Active, r2 (100) Backup, a client with the kernel's default
/// `accept_ra`. Only r1 sends RAs, from fe80::100 with its MAC in the source
/// link-layer option and lifetime 1800; the client's default route goes via
/// fe80::100. r1 killed: r2 sends an RA at once, the client's router entry moves to
/// r2's MAC, its default route stays; the Backup never sent one. Once r2's first
/// four have gone, a client whose interface comes up solicits and is answered.
#[test]
fn netns_router_adverts_come_from_the_active_only() {
    if !lab::root_or_skip("netns_router_adverts_come_from_the_active_only") {
        return;
    }
    let (lab, lan, hosts) = routers("kra", 3, true);
    let (r1, r2, client) = (&hosts[0], &hosts[1], &hosts[2]);
    // The lab turns router discovery off on its hosts; the client is a plain host.
    client.sysctl("net/ipv6/conf/eth0/accept_ra", "1").unwrap();
    client
        .sysctl("net/ipv6/conf/eth0/router_solicitations", "3")
        .unwrap();
    let cap = lan.capture("icmp6 and ip6[40] == 134").unwrap();
    let k1 = keepup(&lab, r1, &conf(150), "a");
    let k2 = keepup(&lab, r2, &conf(100), "a");
    assert!(
        wait_addr(r1, IpAddr::V6(VLL), true, 10).is_some(),
        "{}",
        k1.log()
    );
    k2.wait_for_log("(VI_6) Entering BACKUP STATE", Duration::from_secs(3))
        .unwrap();
    let (m1, m2) = (r1.mac("eth0").unwrap().0, r2.mac("eth0").unwrap().0);
    let learned = lab::wait_until(Duration::from_secs(10), Duration::from_millis(100), || {
        default_router(client).0.contains("via fe80::100")
    });
    assert!(
        learned.is_some(),
        "{:?}\n{}",
        default_router(client),
        k1.log()
    );
    std::thread::sleep(Duration::from_secs(2));
    let seen = router_adverts(cap);
    assert!(!seen.is_empty());
    for ra in &seen {
        assert_eq!(ra.eth_src.0, m1, "only the Active: {ra:?}");
        assert_eq!(ra.source_mac.map(|m| m.0), Some(m1), "{ra:?}");
        assert_eq!(
            (ra.src, ra.lifetime, ra.hop_limit),
            (VLL, 1800, 255),
            "{ra:?}"
        );
    }

    // Failover: the new Active advertises at once; the client follows it.
    let cap = lan.capture("icmp6 and ip6[40] == 134").unwrap();
    k1.kill(Signal::SIGKILL).unwrap();
    k2.wait_for_log("(VI_6) Entering MASTER STATE", Duration::from_secs(10))
        .unwrap();
    let moved = lab::wait_until(Duration::from_secs(10), Duration::from_millis(100), || {
        default_router(client)
            .1
            .contains(&keepup_wire::MacAddr(m2).to_string())
    });
    assert!(
        moved.is_some(),
        "{:?}\n{}",
        default_router(client),
        k2.log()
    );
    assert!(default_router(client).0.contains("via fe80::100"));
    // After its first four (at once, then within 16 s each) the next one is due
    // 200-600 s later: wait for them, so that what follows can only be an answer.
    let burst = lab::wait_until(Duration::from_secs(60), Duration::from_millis(200), || {
        let ras = cap.packets().unwrap_or_default();
        ras.iter()
            .filter(|p| keepup_wire::ra::Repr::parse(&p.data).is_ok())
            .count()
            >= 4
    });
    assert!(burst.is_some(), "{}", k2.log());
    let seen = router_adverts(cap);
    assert!(
        seen.iter().all(|ra| ra.eth_src.0 == m2 && ra.src == VLL),
        "{seen:?}"
    );

    // A client coming up solicits (the kernel sends Router Solicitations when its
    // interface comes up) and learns its default router from the answer, not 200 s
    // later from the next periodic one.
    let cap = lan.capture("icmp6 and ip6[40] == 133").unwrap();
    client.link_set("eth0", false).unwrap();
    let gone = default_router(client);
    assert!(!gone.0.contains("via"), "{gone:?}");
    client.link_set("eth0", true).unwrap();
    let relearned = lab::wait_until(Duration::from_secs(10), Duration::from_millis(100), || {
        default_router(client).0.contains("via fe80::100")
    });
    let solicitations = cap.stop().unwrap();
    assert!(!solicitations.is_empty(), "the client sent no solicitation");
    assert!(
        relearned.is_some(),
        "{:?}\n{}",
        default_router(client),
        k2.log()
    );
}
