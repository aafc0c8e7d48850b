//! `use_vmac_addr` and `use_vmac` on an address line, in the VM: keepup (r1) and
//! keepalived 2.2.7 (r2) on the same configuration, r3 a client on the second LAN.
use super::{arp_from, na_for, secs, send_udp, wait_log};
use crate::common::{keepup, routers, wait_addr};
use keepup_testkit::lab::{wait_until, Host, KeepalivedState as State};
use nix::sys::signal::Signal;
use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::Duration;

/// VI_A (IPv4, VRID 71, `use_vmac` and `use_vmac_addr`): 10.9.0.171 on its own VMAC,
/// 10.8.0.171 (dev eth1) and the eVIP fd00:8::171 (dev eth1) on VMACs made on eth1.
/// VI_B (VRID 72, no `use_vmac`): 10.9.0.172 on eth0 itself, 10.8.0.172 (dev eth1,
/// `use_vmac` on its line) on a VMAC on eth1.
fn conf(prio: u8) -> String {
    format!(
        "vrrp_instance VI_A {{
    state BACKUP
    interface eth0
    virtual_router_id 71
    priority {prio}
    advert_int 1
    use_vmac
    use_vmac_addr
    virtual_ipaddress {{
        10.9.0.171/24
        10.8.0.171/24 dev eth1
    }}
    virtual_ipaddress_excluded {{
        fd00:8::171/64 dev eth1
    }}
}}
vrrp_instance VI_B {{
    state BACKUP
    interface eth0
    virtual_router_id 72
    priority {prio}
    advert_int 1
    virtual_ipaddress {{
        10.9.0.172/24
        10.8.0.172/24 dev eth1 use_vmac
    }}
}}
"
    )
}

const VIP_A: IpAddr = IpAddr::V4(Ipv4Addr::new(10, 8, 0, 171));
const VIP_A6: IpAddr = IpAddr::V6(Ipv6Addr::new(0xfd00, 8, 0, 0, 0, 0, 0, 0x171));
const VIP_B: IpAddr = IpAddr::V4(Ipv4Addr::new(10, 8, 0, 172));
const MAC_A: [u8; 6] = [0, 0, 0x5e, 0, 1, 71];
const MAC_A6: [u8; 6] = [0, 0, 0x5e, 0, 2, 71];
const MAC_B: [u8; 6] = [0, 0, 0x5e, 0, 1, 72];

/// The macvlans of `h`: `name@parent MAC mode`, sorted.
fn links(h: &Host) -> Vec<String> {
    let mut out: Vec<String> = h
        .run(["ip", "-d", "-o", "link"])
        .unwrap()
        .lines()
        .filter(|l| l.contains("macvlan mode"))
        .map(|l| {
            let name = l.split(": ").nth(1).unwrap_or("").to_string();
            let mac = word_after(l, "link/ether ");
            let mode = word_after(l, "macvlan mode ");
            format!("{name} {mac} {mode}")
        })
        .collect();
    out.sort();
    out
}

/// The word that follows `key` in `line` (empty when none).
fn word_after<'a>(line: &'a str, key: &str) -> &'a str {
    line.split(key)
        .nth(1)
        .and_then(|r| r.split_whitespace().next())
        .unwrap_or("")
}

/// The names of `h`'s macvlans.
fn names(h: &Host) -> Vec<String> {
    links(h)
        .iter()
        .filter_map(|l| l.split('@').next().map(str::to_string))
        .collect()
}

/// The addresses on each of `h`'s macvlans (`ADDR/LEN`), a link-local that is eth1's
/// (or eth0's) written `LL(eth1)`.
fn addrs(h: &Host) -> BTreeMap<String, Vec<String>> {
    let lls: Vec<(String, String)> = ["eth0", "eth1"]
        .iter()
        .map(|i| (h.link_local(i).unwrap().to_string(), format!("LL({i})")))
        .collect();
    names(h)
        .into_iter()
        .map(|n| {
            let out = h.run(["ip", "-o", "addr", "show", "dev", &n]).unwrap();
            let mut list: Vec<String> = out
                .lines()
                .filter_map(|l| {
                    let mut w = l.split_whitespace().skip_while(|w| !w.starts_with("inet"));
                    w.next()?;
                    let a = w.next()?.to_string();
                    let ip = a.split('/').next().unwrap_or("").to_string();
                    Some(
                        lls.iter()
                            .find(|(ll, _)| *ll == ip)
                            .map_or(a.clone(), |(_, name)| name.clone()),
                    )
                })
                .collect();
            list.sort();
            (n, list)
        })
        .collect()
}

/// The sysctls keepalived and keepup set, on each macvlan and on eth0/eth1.
fn sysctls(h: &Host) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let mut ifs = names(h);
    ifs.extend(["eth0".to_string(), "eth1".to_string()]);
    for i in ifs {
        for k in [
            "ipv4/conf/IF/arp_ignore",
            "ipv4/conf/IF/arp_filter",
            "ipv4/conf/IF/arp_announce",
            "ipv4/conf/IF/accept_local",
            "ipv4/conf/IF/rp_filter",
            "ipv4/conf/IF/promote_secondaries",
            "ipv4/conf/IF/forwarding",
            "ipv6/conf/IF/disable_ipv6",
            "ipv6/conf/IF/addr_gen_mode",
        ] {
            let path = format!("/proc/sys/net/{}", k.replace("IF", &i));
            let v = h.run(["cat", &path]).unwrap().trim().to_string();
            out.insert(format!("{i} {}", k.rsplit('/').next().unwrap()), v);
        }
    }
    out
}

/// Where keepup differs from keepalived on purpose (README "Virtual MACs"): the
/// base's `arp_announce` 2, and `arp_ignore` 1 on an IPv6 VMAC.
fn keepup_own(key: &str) -> bool {
    key.ends_with(" arp_announce") || key == "vrrp6.71 arp_ignore"
}

/// The client asks for `vip` afresh: the MAC that answers (ARP or NA).
fn answered_by(client: &Host, vip: IpAddr) -> Vec<[u8; 6]> {
    let (fam, filter) = match vip {
        IpAddr::V4(_) => ("-4", "arp"),
        IpAddr::V6(_) => ("-6", "icmp6"),
    };
    client
        .run(["ip", fam, "neigh", "flush", "dev", "eth1"])
        .unwrap();
    let cap = client.capture("eth1", filter).unwrap();
    send_udp(client, &vip.to_string());
    let frames = cap.stop().unwrap();
    match vip {
        IpAddr::V4(_) => arp_from(&frames, vip)
            .into_iter()
            .filter(|a| a.2)
            .map(|a| a.1)
            .collect(),
        IpAddr::V6(_) => na_for(&frames, vip)
            .into_iter()
            .filter_map(|n| n.2)
            .collect(),
    }
}

/// Both as Master in turn, on one configuration: the same macvlans (names, MACs,
/// mode, parent), the same addresses on them, the same sysctls (keepup's two
/// documented extras aside); the client on eth1's LAN reaches each VIP there through
/// its VMAC's MAC, from either; failover moves the VIPs and the MAC stays; keepup
/// killed and started again takes its VMACs back; a reload that no longer asks for
/// them removes them; a clean stop removes the rest and puts the base's sysctls back.
///
/// Ledger: KA-14
/// Ledger: MAC-03
/// Ledger: ARP-01
pub fn addr_vmacs_with_keepalived() {
    let (lab, _lan, mut hosts) = routers("kvadr", 3, false);
    let lan2 = lab.bridge().unwrap();
    for (i, h) in hosts.iter_mut().enumerate() {
        let n = u8::try_from(i + 1).unwrap();
        let six = Ipv6Addr::new(0xfd00, 8, 0, 0, 0, 0, 0, n.into());
        let name = h
            .join(&lan2, Ipv4Addr::new(10, 8, 0, n), Some(six))
            .unwrap();
        assert_eq!(name, "eth1");
    }
    let (r1, r2, client) = (&hosts[0], &hosts[1], &hosts[2]);
    let before = sysctls(r1);

    // keepalived alone (r2): the reference.
    let ka = r2.keepalived(&conf(100)).unwrap();
    for name in ["VI_A", "VI_B"] {
        ka.wait_for_state(name, State::Master, secs(20)).unwrap();
    }
    let (ka_links, ka_addrs, ka_sysctls) = (links(r2), addrs(r2), sysctls(r2));
    eprintln!("keepalived: {ka_links:#?}\n{ka_addrs:#?}\n{ka_sysctls:#?}");
    assert_eq!(
        names(r2),
        ["vrrp.71", "vrrp.72", "vrrp1.71", "vrrp6.71"],
        "{}",
        ka.log()
    );
    // keepalived's IPv6 VMAC (arp_ignore 0) answers ARP for the IPv4 VIPs on its
    // interface too, with its own MAC (seen: 10.8.0.171 answered by 00:00:5e:00:02:47
    // beside 00:00:5e:00:01:47); keepup's does not (see below).
    for (vip, mac) in [(VIP_A, MAC_A), (VIP_B, MAC_B), (VIP_A6, MAC_A6)] {
        let by = answered_by(client, vip);
        assert!(by.contains(&mac), "keepalived: {vip} answered by {by:02x?}");
        eprintln!("keepalived: {vip} answered by {by:02x?}");
    }

    // keepup (r1) preempts: the same shapes, the same answers; its gratuitous ARPs
    // for the VIP on eth1 leave from the VMAC there.
    let garps = client.capture("eth1", "arp").unwrap();
    let k1 = keepup(&lab, r1, &conf(150), "a");
    for name in ["VI_A", "VI_B"] {
        wait_log(&k1, &format!("({name}) Entering MASTER STATE"), 20);
        ka.wait_for_state(name, State::Backup, secs(10)).unwrap();
    }
    for vip in [VIP_A, VIP_B, VIP_A6] {
        assert!(wait_addr(r1, vip, true, 5).is_some(), "{}", k1.log());
        assert!(wait_addr(r2, vip, false, 5).is_some(), "{}", ka.log());
    }
    assert_eq!(links(r1), ka_links, "{}", k1.log());
    assert_eq!(addrs(r1), ka_addrs, "{}", k1.log());
    let ours = sysctls(r1);
    eprintln!("keepup: {ours:#?}");
    for (k, v) in &ka_sysctls {
        if !keepup_own(k) {
            assert_eq!(ours.get(k), Some(v), "{k}: keepup {ours:#?}");
        }
    }
    std::thread::sleep(Duration::from_millis(500));
    let g = arp_from(&garps.stop().unwrap(), VIP_A);
    assert!(!g.is_empty(), "no gratuitous ARP for {VIP_A}");
    assert!(
        g.iter()
            .all(|(src, sender, _)| *src == MAC_A && *sender == MAC_A),
        "{g:02x?}"
    );
    for (vip, mac) in [(VIP_A, MAC_A), (VIP_B, MAC_B), (VIP_A6, MAC_A6)] {
        let by = answered_by(client, vip);
        assert!(
            !by.is_empty() && by.iter().all(|m| *m == mac),
            "keepup: {vip} answered by {by:02x?}\n{}",
            k1.log()
        );
        assert!(client.ping(vip, secs(3)).unwrap(), "{vip}");
    }
    // keepup check says what it makes.
    let conf_path = lab.dir().join("r1-a.conf");
    let check = r1
        .exec([
            env!("CARGO_BIN_EXE_keepup"),
            "check",
            "-f",
            conf_path.to_str().unwrap(),
        ])
        .unwrap();
    let said = String::from_utf8_lossy(&check.stderr);
    // (Its exit status says a warning: 10.9.0.172 is on eth0, where keepup put it.)
    for line in [
        "(VI_A) runs on vrrp.71 macvlan (private) 00:00:5e:00:01:47 on eth0",
        "(VI_A) makes VMAC vrrp1.71 macvlan (private) 00:00:5e:00:01:47 on eth1 for 10.8.0.171",
        "(VI_A) makes VMAC vrrp6.71 macvlan (private) 00:00:5e:00:02:47 on eth1 for fd00:8::171",
        "(VI_B) makes VMAC vrrp.72 macvlan (private) 00:00:5e:00:01:48 on eth1 for 10.8.0.172",
    ] {
        assert!(said.contains(line), "{line}:\n{said}");
    }

    // keepup killed: keepalived takes over, the client's neighbour entry (the VMAC)
    // still good.
    k1.kill(Signal::SIGKILL).unwrap();
    k1.wait_timeout(secs(5));
    for name in ["VI_A", "VI_B"] {
        ka.wait_for_state(name, State::Master, secs(15)).unwrap();
    }
    assert!(wait_addr(r2, VIP_A, true, 5).is_some(), "{}", ka.log());
    assert_eq!(addrs(r2), ka_addrs, "{}", ka.log());
    assert!(client.ping(VIP_A, secs(3)).unwrap());

    // Started again, keepup takes its VMACs back (no second one) and preempts.
    let k1 = keepup(&lab, r1, &conf(150), "b");
    wait_log(&k1, "(VI_A) vmac: reusing VMAC interface vrrp1.71", 10);
    wait_log(&k1, "(VI_B) vmac: reusing VMAC interface vrrp.72", 10);
    for name in ["VI_A", "VI_B"] {
        wait_log(&k1, &format!("({name}) Entering MASTER STATE"), 20);
    }
    assert!(wait_addr(r2, VIP_A, false, 10).is_some(), "{}", ka.log());
    assert_eq!(links(r1), ka_links, "{}", k1.log());
    assert_eq!(addrs(r1), ka_addrs, "{}", k1.log());
    assert!(
        wait_until(secs(5), Duration::from_millis(100), || answered_by(
            client, VIP_A
        )
        .contains(&MAC_A))
        .is_some()
    );

    // An address VMAC is followed as the instance's interface is (keepalived too):
    // VI_B's on eth1 down is FAULT and keepalived takes VI_B; up again, keepup
    // preempts and the address is back on it.
    let masters =
        |p: &keepup_testkit::lab::Proc| p.log().matches("(VI_B) Entering MASTER STATE").count();
    let b_masters = masters(&k1);
    r1.run(["ip", "link", "set", "vrrp.72", "down"]).unwrap();
    wait_log(&k1, "(VI_B) Entering FAULT STATE", 10);
    ka.wait_for_state("VI_B", State::Master, secs(15)).unwrap();
    assert!(wait_addr(r2, VIP_B, true, 5).is_some(), "{}", ka.log());
    r1.run(["ip", "link", "set", "vrrp.72", "up"]).unwrap();
    assert!(
        wait_until(secs(20), Duration::from_millis(100), || masters(&k1)
            > b_masters)
        .is_some(),
        "{}",
        k1.log()
    );
    assert!(wait_addr(r1, VIP_B, true, 5).is_some(), "{}", k1.log());
    assert_eq!(addrs(r1), ka_addrs, "{}", k1.log());

    // A reload that asks for no address VMAC any more: they are removed, and the
    // addresses go on their interface itself (the instance's own VMAC stays).
    let plain = conf(150)
        .replace("    use_vmac_addr\n", "")
        .replace(" dev eth1 use_vmac", " dev eth1");
    std::fs::write(lab.dir().join("r1-b.conf"), plain).unwrap();
    let (code, out, err) = crate::common::client(&lab, r1, &["reload"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        wait_until(secs(10), Duration::from_millis(100), || names(r1)
            == ["vrrp.71"])
        .is_some(),
        "{:?}\n{}",
        links(r1),
        k1.log()
    );
    for vip in [VIP_A, VIP_B, VIP_A6] {
        assert!(
            wait_until(secs(10), Duration::from_millis(100), || r1
                .addresses("eth1")
                .unwrap()
                .contains(&vip))
            .is_some(),
            "{vip} not on eth1\n{}",
            k1.log()
        );
    }

    // A clean stop: keepalived takes over, and r1 has no macvlan left and its
    // sysctls as they were.
    k1.kill(Signal::SIGTERM).unwrap();
    assert!(k1.wait_timeout(secs(15)).is_some(), "{}", k1.log());
    assert!(links(r1).is_empty(), "{:?}\n{}", links(r1), k1.log());
    let after = sysctls(r1);
    let changed: Vec<_> = after
        .iter()
        .filter(|(k, v)| before.get(*k) != Some(v))
        .collect();
    assert!(changed.is_empty(), "{changed:?}");
    ka.wait_for_state("VI_A", State::Master, secs(10)).unwrap();
    ka.kill().unwrap();
}
