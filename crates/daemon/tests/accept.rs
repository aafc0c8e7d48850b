//! `accept` and `no_accept` on a real kernel: while a non-owner Master does not accept,
//! keepup's nftables table (`inet keepup`) drops what a client sends to its VIPs and
//! counts it; Neighbor Solicitations still get their answer; the owner (priority 255)
//! answers whatever the mode. The VIPs leave the table with the Master role, the table
//! leaves with a clean stop, and a keepup killed and started again leaves one table.
//! r1 is the router under test, r2 a router that takes over, r3 the client. The client
//! has no ping: a TCP connection to port 9 of a VIP is answered (a reset, "Connection
//! refused") by a host that accepts, and meets silence (the 2 s timeout) otherwise.
//! Root only; CI runs these serially.
#![allow(clippy::unwrap_used)]

mod common;
use common::{client, has, keepup, routers, wait_addr};

use keepup_testkit::lab::{self, wait_until, Host};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::Duration;

const ACCEPT4: IpAddr = IpAddr::V4(Ipv4Addr::new(10, 9, 0, 100));
const DROP4: IpAddr = IpAddr::V4(Ipv4Addr::new(10, 9, 0, 101));
const DROP6: IpAddr = IpAddr::V6(Ipv6Addr::new(0xfd00, 9, 0, 0, 0, 0, 0, 0x101));
const LINK6: IpAddr = IpAddr::V6(Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 0x101));

/// VI_A accepts (10.9.0.100), VI_N does not (10.9.0.101), VI_6 does not (fe80::101
/// and fd00:9::101, VRRPv3); all at `prio` (255 makes r1 the owner of all three).
fn conf(prio: u8, n_mode: &str) -> String {
    format!(
        "vrrp_instance VI_A {{
    state BACKUP
    interface eth0
    virtual_router_id 51
    priority {prio}
    advert_int 1
    accept
    virtual_ipaddress {{
        10.9.0.100/24
    }}
}}
vrrp_instance VI_N {{
    state BACKUP
    interface eth0
    virtual_router_id 52
    priority {prio}
    advert_int 1
    {n_mode}
    virtual_ipaddress {{
        10.9.0.101/24
    }}
}}
vrrp_instance VI_6 {{
    state BACKUP
    interface eth0
    virtual_router_id 61
    version 3
    priority {prio}
    advert_int 1
    no_accept
    virtual_ipaddress {{
        fe80::101/64
        fd00:9::101/64
    }}
}}
"
    )
}

/// Whether `ip` answers a TCP connection from `client` (a reset counts: something
/// accepted the SYN). Silence until the timeout is `false`.
fn answers(client: &Host, ip: IpAddr) -> bool {
    let target = match ip {
        IpAddr::V4(a) => a.to_string(),
        // A link-local address is reached through the client's one interface.
        IpAddr::V6(a) if a.segments()[0] == 0xfe80 => format!("{a}%eth0"),
        IpAddr::V6(a) => a.to_string(),
    };
    let out = client
        .exec([
            "timeout",
            "2",
            "bash",
            "-c",
            &format!("exec 3<>/dev/tcp/{target}/9"),
        ])
        .unwrap();
    out.status.code() != Some(124)
}

/// `nft list table inet keepup` in `h` (None: no such table).
fn table(h: &Host) -> Option<String> {
    let out = h.exec(["nft", "list", "table", "inet", "keepup"]).ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}

/// The packets counted by the drop rule that starts with `rule` (`ip daddr @vips4`).
fn dropped(h: &Host, rule: &str) -> u64 {
    let t = table(h).unwrap_or_default();
    t.lines()
        .find(|l| l.trim_start().starts_with(rule))
        .and_then(|l| l.split("counter packets ").nth(1))
        .and_then(|r| r.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

/// The elements of set `name` in keepup's table (empty without the table).
fn set(h: &Host, name: &str) -> String {
    let t = table(h).unwrap_or_default();
    let Some(start) = t.find(&format!("set {name} {{")) else {
        return String::new();
    };
    let body = &t[start..];
    let end = body.find('}').unwrap_or(body.len());
    body[..end]
        .split("elements = {")
        .nth(1)
        .unwrap_or("")
        .to_string()
}

/// The number of `table inet keepup` in `h`'s ruleset.
fn tables(h: &Host) -> usize {
    h.run(["nft", "list", "tables"])
        .unwrap()
        .lines()
        .filter(|l| l.trim() == "table inet keepup")
        .count()
}

/// A non-owner Master: with `accept` the client's connection to the VIP is answered,
/// with `no_accept` it is dropped and the drop counter moves; the IPv6 VIP of a
/// `no_accept` instance still resolves to the Master's MAC (its Neighbor Solicitations
/// pass the filter). When another router takes over, the VIPs leave the sets; after a
/// clean stop the table is gone.
///
/// Ledger: MST-04
/// Ledger: MST-05
#[test]
fn netns_accept_no_accept_drops_and_counts_but_resolves() {
    if !lab::root_or_skip("netns_accept_no_accept_drops_and_counts_but_resolves") {
        return;
    }
    let (lab, _lan, hosts) = routers("kacc", 3, true);
    let (r1, r2, client) = (&hosts[0], &hosts[1], &hosts[2]);
    let k1 = keepup(&lab, r1, &conf(150, "no_accept"), "a");
    for vip in [ACCEPT4, DROP4, DROP6] {
        assert!(wait_addr(r1, vip, true, 10).is_some(), "{}", k1.log());
    }
    k1.wait_for_log("(VI_N) setting firewall drop rule", Duration::from_secs(3))
        .unwrap();
    let v4 = set(r1, "vips4");
    assert!(
        v4.contains("10.9.0.101") && !v4.contains("10.9.0.100"),
        "{v4}"
    );
    assert!(set(r1, "vips6").contains("fd00:9::101"), "{:?}", table(r1));

    // MST-04: accept answers; no_accept drops, and the counter says so.
    assert!(answers(client, ACCEPT4), "the accept VIP is not answered");
    let before = dropped(r1, "ip daddr @vips4");
    assert!(!answers(client, DROP4), "the no_accept VIP answered");
    // And an ICMP echo (the testkit's own, the host has no ping program).
    assert!(client.ping(ACCEPT4, Duration::from_secs(2)).unwrap());
    assert!(!client.ping(DROP4, Duration::from_secs(2)).unwrap());
    let after = dropped(r1, "ip daddr @vips4");
    assert!(after > before, "drop counter {before} -> {after}");

    // MST-05: the IPv6 VIP resolves to r1 although what is sent to it is dropped.
    client
        .run(["ip", "-6", "neigh", "flush", "dev", "eth0"])
        .unwrap();
    let before6 = dropped(r1, "ip6 daddr @vips6");
    assert!(!answers(client, DROP6), "the no_accept IPv6 VIP answered");
    assert!(dropped(r1, "ip6 daddr @vips6") > before6);
    // A link-local VIP is dropped on its interface (the set holds address and name).
    assert!(
        set(r1, "vips6_link").contains("fe80::101 . \"eth0\""),
        "{:?}",
        table(r1)
    );
    let before_ll = dropped(r1, "ip6 daddr . iifname @vips6_link");
    assert!(
        !answers(client, LINK6),
        "the no_accept link-local VIP answered"
    );
    assert!(dropped(r1, "ip6 daddr . iifname @vips6_link") > before_ll);
    let r1_mac = r1.mac("eth0").unwrap().to_string();
    let neigh = client
        .run(["ip", "-6", "neigh", "show", "fd00:9::101", "dev", "eth0"])
        .unwrap();
    assert!(neigh.contains(&r1_mac), "{neigh} (r1 is {r1_mac})");
    assert!(
        ["REACHABLE", "STALE", "DELAY", "PROBE"]
            .iter()
            .any(|s| neigh.contains(s)),
        "{neigh}"
    );

    // A higher-priority router takes over: the VIPs leave r1 and its sets.
    let k2 = keepup(&lab, r2, &conf(200, "no_accept"), "a");
    assert!(wait_addr(r1, DROP4, false, 10).is_some(), "{}", k1.log());
    let empty = wait_until(Duration::from_secs(5), Duration::from_millis(50), || {
        ["vips4", "vips6", "vips6_link"]
            .iter()
            .all(|s| set(r1, s).trim().is_empty())
    });
    assert!(empty.is_some(), "{:?}", table(r1));
    assert_eq!(tables(r1), 1, "the table stays while keepup runs");
    // The new Master drops in its turn.
    assert!(wait_addr(r2, DROP4, true, 10).is_some(), "{}", k2.log());
    let r2_set = wait_until(Duration::from_secs(5), Duration::from_millis(50), || {
        set(r2, "vips4").contains("10.9.0.101")
    });
    assert!(r2_set.is_some(), "{:?}", table(r2));

    // A clean stop takes the table away.
    assert!(k1.terminate(Duration::from_secs(10)).is_some());
    assert_eq!(tables(r1), 0, "{:?}\n{}", table(r1), k1.log());
    drop(k2);
}

/// The address owner (priority 255) accepts packets to its VIPs whatever the mode: with
/// `no_accept` it answers, and none of its VIPs is in a drop set.
///
/// Ledger: OWN-02
#[test]
fn netns_accept_owner_answers_with_no_accept() {
    if !lab::root_or_skip("netns_accept_owner_answers_with_no_accept") {
        return;
    }
    let (lab, _lan, hosts) = routers("kaco", 2, true);
    let (r1, client) = (&hosts[0], &hosts[1]);
    let k1 = keepup(&lab, r1, &conf(255, "no_accept"), "a");
    for vip in [DROP4, DROP6] {
        assert!(wait_addr(r1, vip, true, 10).is_some(), "{}", k1.log());
    }
    assert!(answers(client, DROP4), "the owner dropped its VIP");
    assert!(client.ping(DROP4, Duration::from_secs(2)).unwrap());
    assert!(answers(client, DROP6), "the owner dropped its IPv6 VIP");
    assert!(
        answers(client, LINK6),
        "the owner dropped its link-local VIP"
    );
    assert!(set(r1, "vips4").trim().is_empty(), "{:?}", table(r1));
    assert!(set(r1, "vips6").trim().is_empty(), "{:?}", table(r1));
    assert!(
        !k1.log().contains("setting firewall drop rule"),
        "{}",
        k1.log()
    );
}

/// keepup killed (SIGKILL) while its filter holds a VIP leaves the table; the next
/// start replaces it (one table, the VIP once), and a start on a configuration that
/// needs no filter removes it.
///
/// Ledger: MST-04
#[test]
fn netns_accept_killed_keepup_leaves_no_stale_table() {
    if !lab::root_or_skip("netns_accept_killed_keepup_leaves_no_stale_table") {
        return;
    }
    let (lab, _lan, hosts) = routers("kack", 2, false);
    let (r1, client) = (&hosts[0], &hosts[1]);
    // IPv4 only: VI_6 cannot run without IPv6 on the LAN, and is not needed here.
    let v4 = |mode: &str| {
        conf(150, mode)
            .split("vrrp_instance VI_6")
            .next()
            .unwrap()
            .to_string()
    };
    let k1 = keepup(&lab, r1, &v4("no_accept"), "a");
    assert!(wait_addr(r1, DROP4, true, 10).is_some(), "{}", k1.log());
    k1.kill(nix::sys::signal::Signal::SIGKILL).unwrap();
    assert!(k1.wait_timeout(Duration::from_secs(5)).is_some());
    assert!(
        set(r1, "vips4").contains("10.9.0.101"),
        "the killed run's filter"
    );

    // Same configuration: the table is replaced, not doubled.
    let k2 = keepup(&lab, r1, &v4("no_accept"), "b");
    k2.wait_for_log("(VI_N) setting firewall drop rule", Duration::from_secs(10))
        .unwrap();
    assert_eq!(tables(r1), 1, "{:?}", table(r1));
    assert_eq!(set(r1, "vips4").matches("10.9.0.101").count(), 1);
    assert!(!answers(client, DROP4), "the no_accept VIP answered");
    k2.kill(nix::sys::signal::Signal::SIGKILL).unwrap();
    assert!(k2.wait_timeout(Duration::from_secs(5)).is_some());

    // No instance needs the filter any more: the leftover goes at start.
    let k3 = keepup(&lab, r1, &v4("accept"), "c");
    let gone = wait_until(Duration::from_secs(5), Duration::from_millis(50), || {
        tables(r1) == 0
    });
    assert!(gone.is_some(), "{:?}\n{}", table(r1), k3.log());
    assert!(wait_addr(r1, DROP4, true, 10).is_some(), "{}", k3.log());
    assert!(answers(client, DROP4), "the accept VIP is not answered");
}

/// A reload while Master: `no_accept` -> `accept` takes the VIP out of the set (it
/// answers), back to `no_accept` puts it in again, and `nftables NAME` moves the
/// filter to a table of that name, the old one removed.
///
/// Ledger: MST-04
#[test]
fn netns_accept_reload_changes_the_filter() {
    if !lab::root_or_skip("netns_accept_reload_changes_the_filter") {
        return;
    }
    let (lab, _lan, hosts) = routers("kacr", 2, false);
    let (r1, peer) = (&hosts[0], &hosts[1]);
    let v4 = |top: &str, mode: &str| {
        let c = conf(150, mode);
        let c = c.split("vrrp_instance VI_6").next().unwrap();
        format!("{top}{c}")
    };
    let k1 = keepup(&lab, r1, &v4("", "no_accept"), "a");
    assert!(wait_addr(r1, DROP4, true, 10).is_some(), "{}", k1.log());
    let in_set = |h: &Host| set(h, "vips4").contains("10.9.0.101");
    assert!(wait_until(
        Duration::from_secs(5),
        Duration::from_millis(50),
        || in_set(r1)
    )
    .is_some());
    let path = lab.dir().join("r1-a.conf");
    let reload = |text: &str| {
        std::fs::write(&path, text).unwrap();
        let (code, out, err) = client(&lab, r1, &["reload"]);
        assert_eq!(code, 0, "{out}{err}");
    };

    reload(&v4("", "accept"));
    let open = wait_until(Duration::from_secs(10), Duration::from_millis(50), || {
        !in_set(r1) && has(r1, DROP4)
    });
    assert!(open.is_some(), "{:?}\n{}", table(r1), k1.log());
    assert!(
        answers(peer, DROP4),
        "the VIP does not answer after `accept`"
    );

    reload(&v4("", "no_accept"));
    let shut = wait_until(Duration::from_secs(10), Duration::from_millis(50), || {
        in_set(r1) && has(r1, DROP4)
    });
    assert!(shut.is_some(), "{:?}\n{}", table(r1), k1.log());
    assert!(!answers(peer, DROP4), "the VIP answers after `no_accept`");

    reload(&v4("global_defs {\n    nftables kup2\n}\n", "no_accept"));
    let moved = wait_until(Duration::from_secs(10), Duration::from_millis(50), || {
        let l = r1.run(["nft", "list", "tables"]).unwrap();
        !l.contains("table inet keepup") && l.contains("table inet kup2")
    });
    assert!(moved.is_some(), "{}", k1.log());
    let kup2 = r1
        .run(["nft", "list", "set", "inet", "kup2", "vips4"])
        .unwrap();
    assert!(kup2.contains("10.9.0.101"), "{kup2}");
    assert!(k1.terminate(Duration::from_secs(10)).is_some());
    assert!(!r1.run(["nft", "list", "tables"]).unwrap().contains("kup2"));
}
