//! What a Master and a Backup send and answer on the LAN, seen from a client and a
//! capture on the bridge: where adverts go and with what TTL and source, who answers
//! ARP and Neighbor Solicitations for the VIPs, and that a Backup accepts nothing sent
//! to them. r1 (150) is Master and r2 (100) Backup of VI_4 (VRRPv2, 10.9.0.100) and
//! VI_6 (VRRPv3, fd00:9::100); r3 is a client. Root only; CI runs these serially.
#![allow(clippy::unwrap_used)]

mod common;
use common::{has, keepup, routers, wait_addr};

use keepup_testkit::lab::pcap::vrrp_adverts;
use keepup_testkit::lab::{self, Host};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::Duration;

const VIP4: IpAddr = IpAddr::V4(Ipv4Addr::new(10, 9, 0, 100));
const VIP6: IpAddr = IpAddr::V6(Ipv6Addr::new(0xfd00, 9, 0, 0, 0, 0, 0, 0x100));

fn conf(prio: u8) -> String {
    format!(
        "vrrp_instance VI_4 {{
    state BACKUP
    interface eth0
    virtual_router_id 51
    priority {prio}
    advert_int 1
    virtual_ipaddress {{
        10.9.0.100/24
    }}
}}
vrrp_instance VI_6 {{
    state BACKUP
    interface eth0
    virtual_router_id 61
    version 3
    priority {prio}
    advert_int 1
    virtual_ipaddress {{
        fd00:9::100/64
    }}
}}
"
    )
}

/// One UDP datagram from `h` to `ip` port 9 (the discard port), through bash's
/// /dev/udp: the kernel resolves the address first (ARP or NS).
fn send_udp(h: &Host, ip: &str) {
    let _ = h.exec(["bash", "-c", &format!("echo x > /dev/udp/{ip}/9")]);
    std::thread::sleep(Duration::from_millis(500));
}

/// Ledger: TX-01
/// Ledger: TX-03
/// Ledger: TX-04
/// Ledger: MST-01
/// Ledger: MST-02
/// Ledger: BKP-01
/// Ledger: BKP-02
/// Ledger: BKP-05
#[test]
fn netns_lan_adverts_and_who_answers_for_the_vips() {
    if !lab::root_or_skip("netns_lan_adverts_and_who_answers_for_the_vips") {
        return;
    }
    let (lab, lan, hosts) = routers("klan", 3, true);
    let (r1, r2, client) = (&hosts[0], &hosts[1], &hosts[2]);
    // A second address on r1's interface: adverts must still come from the first.
    r1.run(["ip", "addr", "add", "10.9.0.201/24", "dev", "eth0"])
        .unwrap();
    let k1 = keepup(&lab, r1, &conf(150), "a");
    let k2 = keepup(&lab, r2, &conf(100), "a");
    for vip in [VIP4, VIP6] {
        assert!(wait_addr(r1, vip, true, 10).is_some(), "{}", k1.log());
    }
    k2.wait_for_log("(VI_6) Entering BACKUP STATE", Duration::from_secs(3))
        .unwrap();

    // TX-01, TX-03, TX-04: where adverts go, their TTL / hop limit and source.
    let cap = lan.capture("ip proto 112 or ip6 proto 112").unwrap();
    std::thread::sleep(Duration::from_millis(3500));
    let adverts = vrrp_adverts(&cap.stop().unwrap());
    let (mut v4, mut v6) = (0, 0);
    for a in &adverts {
        assert_eq!(a.ttl, 255, "{a:?}");
        match (a.src, a.dst) {
            (IpAddr::V4(src), IpAddr::V4(dst)) => {
                v4 += 1;
                assert_eq!(dst, Ipv4Addr::new(224, 0, 0, 18), "{a:?}");
                assert_eq!(
                    src,
                    Ipv4Addr::new(10, 9, 0, 1),
                    "the primary address: {a:?}"
                );
            }
            (IpAddr::V6(src), IpAddr::V6(dst)) => {
                v6 += 1;
                assert_eq!(dst, "ff02::12".parse::<Ipv6Addr>().unwrap(), "{a:?}");
                assert_eq!(src.segments()[0] & 0xffc0, 0xfe80, "link-local: {a:?}");
            }
            _ => panic!("{a:?}"),
        }
        assert_eq!(
            a.src_mac.0,
            r1.mac("eth0").unwrap().0,
            "only the Master advertises: {a:?}"
        );
    }
    assert!(v4 >= 2 && v6 >= 2, "{v4} IPv4 and {v6} IPv6 adverts");

    // MST-01, BKP-01: only the Master answers ARP for the IPv4 VIP.
    let r1_mac = r1.mac("eth0").unwrap().0;
    client.run(["ip", "neigh", "flush", "dev", "eth0"]).unwrap();
    let cap = client.capture("eth0", "arp").unwrap();
    // A datagram to the VIP makes the client resolve it (no ping on a minimal host).
    send_udp(client, "10.9.0.100");
    let frames = cap.stop().unwrap();
    let replies: Vec<[u8; 6]> = frames
        .iter()
        .filter_map(|p| keepup_wire::arp::Repr::parse(&p.data).ok())
        .filter(|a| a.operation == 2)
        .filter(|a| IpAddr::V4(a.sender_ip) == VIP4)
        .map(|a| a.sender_mac.0)
        .collect();
    assert!(!replies.is_empty(), "no ARP reply for the VIP");
    assert!(replies.iter().all(|m| *m == r1_mac), "{replies:?}");

    // MST-02, BKP-02: only the Master answers Neighbor Solicitations for the IPv6 VIP,
    // and it is in the VIP's solicited-node group.
    client
        .run(["ip", "-6", "neigh", "flush", "dev", "eth0"])
        .unwrap();
    let cap = client.capture("eth0", "icmp6").unwrap();
    send_udp(client, "fd00:9::100");
    let mut answered = Vec::new();
    for p in cap.stop().unwrap() {
        let Some((_, src_mac, 0x86dd, ip6)) = p.ethernet() else {
            continue;
        };
        // ICMPv6 (next header 58) type 136, target at octets 8..24 of the message.
        if ip6.get(6) == Some(&58) && ip6.get(40) == Some(&136) {
            let target: Option<[u8; 16]> = ip6.get(48..64).and_then(|t| t.try_into().ok());
            if target.map(Ipv6Addr::from).map(IpAddr::V6) == Some(VIP6) {
                answered.push(src_mac.0);
            }
        }
    }
    assert!(!answered.is_empty(), "no NA for the VIP");
    assert!(answered.iter().all(|m| *m == r1_mac), "{answered:?}");
    let groups = r1
        .run(["ip", "-6", "maddr", "show", "dev", "eth0"])
        .unwrap();
    assert!(groups.contains("ff02::1:ff00:100"), "{groups}");

    // BKP-05: the Backup holds no VIP and answers nothing sent to one, even when the
    // client is made to send it there.
    for vip in [VIP4, VIP6] {
        assert!(!has(r2, vip), "the Backup holds {vip}");
    }
    let r2_mac = r2.mac("eth0").unwrap().to_string();
    client
        .run([
            "ip",
            "neigh",
            "replace",
            "10.9.0.100",
            "lladdr",
            &r2_mac,
            "dev",
            "eth0",
            "nud",
            "permanent",
        ])
        .unwrap();
    // A TCP connection to the VIP, sent to the Backup's MAC: an address it held would
    // answer (a reset, "Connection refused"); it must stay silent until the timeout.
    let steered = client
        .exec([
            "timeout",
            "2",
            "bash",
            "-c",
            "exec 3<>/dev/tcp/10.9.0.100/9",
        ])
        .unwrap();
    assert_eq!(
        steered.status.code(),
        Some(124),
        "the Backup answered for the VIP:\n{}",
        String::from_utf8_lossy(&steered.stderr)
    );
    drop((k1, k2));
}

/// Ledger: OWN-01
/// A VIP that is already an address of the interface belongs to an owner: with
/// priority 100, `keepup check` names it before the start, and `keepup run` removes it
/// (as keepalived does) with a warning that says to use priority 255 if this router
/// owns it; an instance at 255 that holds none of its VIPs is named at start and runs
/// as owner (Master at once with `state MASTER`).
#[test]
fn netns_lan_vip_already_on_the_interface_is_named() {
    if !lab::root_or_skip("netns_lan_vip_already_on_the_interface_is_named") {
        return;
    }
    let (lab, _lan, hosts) = routers("kown", 1, false);
    let r1 = &hosts[0];
    r1.run(["ip", "addr", "add", "10.9.0.100/24", "dev", "eth0"])
        .unwrap();
    let text = format!(
        "{}vrrp_instance VI_2 {{
    state MASTER
    interface eth0
    virtual_router_id 52
    priority 255
    virtual_ipaddress {{
        10.9.0.102/24
    }}
}}
",
        common::one_instance(100, "", "")
    );
    let path = lab.dir().join("own.conf");
    std::fs::write(&path, &text).unwrap();
    let out = r1
        .exec([
            env!("CARGO_BIN_EXE_keepup"),
            "check",
            "-f",
            path.to_str().unwrap(),
        ])
        .unwrap();
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(
        said.contains("(VI_1) 10.9.0.100 is already an address of eth0, but the priority is 100")
            && said.contains("give VI_1 priority 255")
            && said.contains("(VI_2) priority 255 says this router owns"),
        "{said}"
    );
    assert_eq!(out.status.code(), Some(1), "{said}");

    let k = keepup(&lab, r1, &text, "a");
    k.wait_for_log(
        "(VI_1) removed 10.9.0.100/24 from eth0: it is a virtual address",
        Duration::from_secs(5),
    )
    .unwrap();
    k.wait_for_log(
        "(VI_2) priority 255 (the address owner), but none of its virtual addresses",
        Duration::from_secs(5),
    )
    .unwrap();
    k.wait_for_log("(VI_2) Entering MASTER STATE", Duration::from_secs(5))
        .unwrap();
    assert!(!has(r1, VIP4) || k.log().contains("(VI_1) Entering MASTER STATE"));
}

/// Ledger: TX-02
/// A router never relays adverts between interfaces: r1 routes between two LANs
/// (forwarding on) and is Master on the first; r2 on the first LAN advertises VRID
/// 52. On the second LAN, in 3.5 s, no VRRP packet appears at all.
#[test]
fn netns_lan_adverts_are_never_relayed_between_interfaces() {
    if !lab::root_or_skip("netns_lan_adverts_are_never_relayed_between_interfaces") {
        return;
    }
    let (lab, lan, mut hosts) = routers("krelay", 2, true);
    let other = lab.bridge().unwrap();
    hosts[0]
        .join(
            &other,
            Ipv4Addr::new(10, 19, 0, 1),
            Some("fd00:19::1".parse().unwrap()),
        )
        .unwrap();
    let (r1, r2) = (&hosts[0], &hosts[1]);
    r1.sysctl("net.ipv4.ip_forward", "1").unwrap();
    r1.sysctl("net.ipv6.conf.all.forwarding", "1").unwrap();
    let k1 = keepup(&lab, r1, &conf(150), "a");
    let k2 = keepup(
        &lab,
        r2,
        &conf(150)
            .replace("virtual_router_id 51", "virtual_router_id 52")
            .replace("virtual_router_id 61", "virtual_router_id 62")
            .replace("10.9.0.100", "10.9.0.110")
            .replace("fd00:9::100", "fd00:9::110"),
        "a",
    );
    for vip in [VIP4, VIP6] {
        assert!(wait_addr(r1, vip, true, 10).is_some(), "{}", k1.log());
    }
    k2.wait_for_log("(VI_6) Entering MASTER STATE", Duration::from_secs(10))
        .unwrap();
    let here = lan.capture("ip proto 112 or ip6 proto 112").unwrap();
    let there = other.capture("ip proto 112 or ip6 proto 112").unwrap();
    std::thread::sleep(Duration::from_millis(3500));
    let seen_here = vrrp_adverts(&here.stop().unwrap());
    let seen_there = vrrp_adverts(&there.stop().unwrap());
    assert!(
        seen_here.iter().any(|a| a.repr.vrid == 51) && seen_here.iter().any(|a| a.repr.vrid == 52),
        "{seen_here:?}"
    );
    assert!(seen_there.is_empty(), "relayed: {seen_there:?}");
}
