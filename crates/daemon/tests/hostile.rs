//! keepup under a flood of adverts it can never accept, in a real lab. Root only; CI
//! runs these serially.
#![allow(clippy::unwrap_used)]

mod common;
use common::{client, has, keepup, routers, wait_addr};

use keepup_testkit::lab::{self, Host};
use socket2::{Domain, Protocol, SockAddr, Socket, Type};
use std::net::{IpAddr, Ipv4Addr, SocketAddrV4};
use std::time::{Duration, Instant};

const VIP: IpAddr = IpAddr::V4(Ipv4Addr::new(10, 9, 0, 100));

const CONF: &str = "\
vrrp_instance VI_1 {
    state MASTER
    interface eth0
    virtual_router_id 51
    priority 150
    advert_int 1
    virtual_ipaddress {
        10.9.0.100/24
    }
}
";

/// A VRRPv2 advert for `vrid`, priority 100, one address, no authentication, its
/// checksum filled (RFC 3768 §5.3.8).
fn advert(vrid: u8, address: Ipv4Addr) -> Vec<u8> {
    let mut v = vec![0x21, vrid, 100, 1, 0, 1, 0, 0];
    v.extend_from_slice(&address.octets());
    v.extend_from_slice(&[0; 8]);
    let mut sum: u32 = v
        .chunks(2)
        .map(|c| u32::from(u16::from_be_bytes([c[0], c[1]])))
        .sum();
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    let ck = !(sum as u16);
    v[6..8].copy_from_slice(&ck.to_be_bytes());
    v
}

/// From `host`'s eth0 (source `src`): `packets` to 224.0.0.18 with TTL 255, round
/// robin, at about `per_sec` for `secs`. How many went out.
fn send(host: &Host, src: Ipv4Addr, packets: &[Vec<u8>], per_sec: u64, secs: f64) -> u64 {
    host.within(|| {
        let s = Socket::new(Domain::IPV4, Type::RAW, Some(Protocol::from(112))).unwrap();
        s.bind_device(Some(b"eth0")).unwrap();
        s.set_multicast_if_v4(&src).unwrap();
        s.set_multicast_ttl_v4(255).unwrap();
        let dst = SockAddr::from(SocketAddrV4::new(Ipv4Addr::new(224, 0, 0, 18), 0));
        let start = Instant::now();
        let mut sent = 0u64;
        while start.elapsed().as_secs_f64() < secs {
            let due = (start.elapsed().as_secs_f64() * per_sec as f64) as u64;
            while sent <= due {
                let _ = s.send_to(&packets[(sent as usize) % packets.len()], &dst);
                sent += 1;
            }
            std::thread::sleep(Duration::from_micros(500));
        }
        sent
    })
    .unwrap()
}

/// A flood of adverts for VRIDs r1 does not run (a rogue r2 at 20,000/s, 200 VRIDs)
/// makes r1's kernel filter judge VRIDs: the log says so with the rate, the status
/// shows it, and r1 keeps its VIP and its state. A reload during the flood (a new
/// instance) keeps the filter strict, with the new VRID let through: the new
/// instance starts and becomes Master. When the flood stops, the sample shows it
/// and the filter opens again (a line with the estimate of what the kernel
/// dropped); after that a neighbouring virtual router advertising once a second is
/// named at once, as without a flood (that is why the filter is open by default).
#[test]
fn netns_keepup_judges_vrids_in_the_kernel_only_while_a_flood_of_them_lasts() {
    if !lab::root_or_skip(
        "netns_keepup_judges_vrids_in_the_kernel_only_while_a_flood_of_them_lasts",
    ) {
        return;
    }
    let (lab, _lan, hosts) = routers("kgate", 2, false);
    let (r1, r2) = (&hosts[0], &hosts[1]);
    let k1 = keepup(&lab, r1, CONF, "a");
    assert!(wait_addr(r1, VIP, true, 10).is_some(), "{}", k1.log());
    let rogue = Ipv4Addr::new(10, 9, 0, 2);
    let flood: Vec<Vec<u8>> = (100..=255)
        .chain(1..=44)
        .map(|vrid| advert(vrid, Ipv4Addr::new(10, 9, 1, vrid)))
        .collect();
    let engaged = "adverts/s that no instance here accepts (VRIDs, versions or passwords not \
                   run here): the kernel drops them now";
    let strict = |want: bool| {
        let (code, json, err) = client(&lab, r1, &["status", "--json"]);
        assert_eq!(code, 0, "{err}");
        let flat: String = json.split_whitespace().collect();
        assert_eq!(flat.contains("\"rx_filter_strict\":[4]"), want, "{json}");
    };
    let sent = std::thread::scope(|s| {
        let flooder = s.spawn(|| send(r2, rogue, &flood, 20_000, 10.0));
        k1.wait_for_log(engaged, Duration::from_secs(3))
            .unwrap_or_else(|e| panic!("{e}:\n{}", k1.log()));
        strict(true);
        let conf = lab.dir().join("r1-a.conf");
        let vi2 = CONF.replace("VI_1", "VI_2").replace(" 51", " 52");
        let vi2 = vi2.replace("10.9.0.100", "10.9.0.152");
        std::fs::write(&conf, format!("{CONF}{vi2}")).unwrap();
        let (code, out, err) = client(&lab, r1, &["reload"]);
        assert_eq!(code, 0, "{out}{err}");
        k1.wait_for_log("(VI_2) Entering MASTER STATE", Duration::from_secs(6))
            .unwrap_or_else(|e| panic!("{e}:\n{}", k1.log()));
        assert!(flooder.is_finished() || k1.log().matches(engaged).count() == 1);
        strict(true);
        flooder.join().unwrap()
    });
    assert!(sent > 100_000, "sent {sent}");
    // Within two judgements of the sample after the flood's end.
    let released = "every advert reaches keepup again";
    k1.wait_for_log(released, Duration::from_secs(15))
        .unwrap_or_else(|e| panic!("{e}:\n{}", k1.log()));
    strict(false);
    let log = k1.log();
    let line = log.lines().find(|l| l.contains(released)).unwrap();
    let dropped: u64 = line
        .split("about ")
        .nth(2)
        .and_then(|s| s.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no estimate in {line}"));
    // The kernel dropped most of the flood (the estimate is from a 1-in-64 sample).
    assert!(
        dropped > sent / 4 && dropped < sent * 2,
        "{dropped} of {sent}: {line}"
    );
    assert_eq!(log.matches(engaged).count(), 1, "{log}");
    // A neighbour now: named within a couple of its adverts.
    std::thread::scope(|s| {
        s.spawn(|| {
            send(
                r2,
                rogue,
                &[advert(77, Ipv4Addr::new(10, 9, 0, 177))],
                1,
                4.0,
            )
        });
        k1.wait_for_log(
            "adverts for VRID 77 from 10.9.0.2 on eth0",
            Duration::from_secs(4),
        )
        .unwrap_or_else(|e| panic!("{e}:\n{}", k1.log()));
    });
    let log = k1.log();
    // Each instance's start (BACKUP, then MASTER) and nothing after.
    assert_eq!(log.matches("(VI_1) Entering ").count(), 2, "{log}");
    assert_eq!(log.matches("(VI_2) Entering ").count(), 2, "{log}");
    assert!(has(r1, VIP), "{log}");
    assert!(has(r1, "10.9.0.152".parse().unwrap()), "{log}");
}

/// A firewall drops r1's outgoing VRRP (its adverts fail with EPERM): r1 says so
/// once, not once per advert, and says when they go out again.
#[test]
fn netns_keepup_says_failing_sends_once_and_when_they_work_again() {
    if !lab::root_or_skip("netns_keepup_says_failing_sends_once_and_when_they_work_again") {
        return;
    }
    let (lab, _lan, hosts) = routers("ksendfail", 1, false);
    let r1 = &hosts[0];
    let k1 = keepup(&lab, r1, CONF, "a");
    assert!(wait_addr(r1, VIP, true, 10).is_some(), "{}", k1.log());
    r1.nft("table inet ku_test {\n chain ku_out {\n  type filter hook output priority 0;\n  ip protocol 112 drop\n }\n}\n")
        .unwrap();
    let failing = "(VI_1) cannot send advert";
    k1.wait_for_log(failing, Duration::from_secs(3))
        .unwrap_or_else(|e| panic!("{e}:\n{}", k1.log()));
    // Five more adverts fail meanwhile.
    std::thread::sleep(Duration::from_secs(5));
    assert_eq!(k1.log().matches(failing).count(), 1, "{}", k1.log());
    r1.nft("delete table inet ku_test").unwrap();
    k1.wait_for_log("(VI_1) adverts go out again, after", Duration::from_secs(3))
        .unwrap_or_else(|e| panic!("{e}:\n{}", k1.log()));
    let log = k1.log();
    let line = log.lines().find(|l| l.contains("go out again")).unwrap();
    let failed: u64 = line
        .split("after ")
        .nth(1)
        .and_then(|s| s.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("{line}"));
    assert!(failed >= 5, "{line}");
    assert_eq!(log.matches(failing).count(), 1, "{log}");
}
