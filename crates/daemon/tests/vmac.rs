//! `use_vmac`: the virtual router on its virtual MAC, in the qemu VM (this host's
//! kernel has no macvlan). r1 and r2 on one bridge, r3 a client. VI_4 (VRRPv2,
//! 10.9.0.100, VRID 51) and VI_6 (VRRPv3, fd00:9::100, VRID 61), both `use_vmac`.
//! One boot runs every scenario in turn (boots are slow under emulation).
#![allow(clippy::unwrap_used)]

mod common;
use common::{has, keepup, routers, wait_addr};
#[path = "vmac/addr.rs"]
mod addr;

use keepup_testkit::lab::pcap::{vrrp_adverts, Packet};
use keepup_testkit::lab::{wait_until, Host, KeepalivedState as State, Proc};
use nix::sys::signal::Signal;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::Duration;

const VIP4: IpAddr = IpAddr::V4(Ipv4Addr::new(10, 9, 0, 100));
const VIP6: IpAddr = IpAddr::V6(Ipv6Addr::new(0xfd00, 9, 0, 0, 0, 0, 0, 0x100));
const VMAC4: [u8; 6] = [0, 0, 0x5e, 0, 1, 51];
const VMAC6: [u8; 6] = [0, 0, 0x5e, 0, 2, 61];

fn conf(prio: u8, v6: bool) -> String {
    let mut c = format!(
        "vrrp_instance VI_4 {{
    state BACKUP
    interface eth0
    virtual_router_id 51
    priority {prio}
    advert_int 1
    use_vmac
    virtual_ipaddress {{
        10.9.0.100/24
    }}
}}
"
    );
    if v6 {
        c += &format!(
            "vrrp_instance VI_6 {{
    state BACKUP
    interface eth0
    virtual_router_id 61
    version 3
    priority {prio}
    advert_int 1
    use_vmac
    virtual_ipaddress {{
        fd00:9::100/64
    }}
}}
"
        );
    }
    c
}

fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

/// One UDP datagram from `h` to `ip` port 9: the kernel resolves the address first.
fn send_udp(h: &Host, ip: &str) {
    let _ = h.exec(["bash", "-c", &format!("echo x > /dev/udp/{ip}/9")]);
    std::thread::sleep(Duration::from_millis(500));
}

fn mac(h: &Host, dev: &str) -> [u8; 6] {
    let out = h.run(["ip", "-o", "link", "show", dev]).unwrap();
    let text = out
        .split("link/ether ")
        .nth(1)
        .and_then(|r| r.split_whitespace().next())
        .unwrap();
    let mut m = [0u8; 6];
    for (i, b) in text.split(':').enumerate() {
        m[i] = u8::from_str_radix(b, 16).unwrap();
    }
    m
}

/// The macvlans in `h` (`ip -d link`).
fn macvlans(h: &Host) -> String {
    h.run(["ip", "-d", "-o", "link"])
        .unwrap()
        .lines()
        .filter(|l| l.contains("macvlan"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// ARP replies and requests with sender `ip`: (Ethernet source, sender MAC, is reply).
fn arp_from(frames: &[Packet], ip: IpAddr) -> Vec<([u8; 6], [u8; 6], bool)> {
    frames
        .iter()
        .filter_map(|p| keepup_wire::arp::Repr::parse(&p.data).ok())
        .filter(|a| IpAddr::V4(a.sender_ip) == ip)
        .map(|a| (a.eth_src.0, a.sender_mac.0, a.operation == 2))
        .collect()
}

/// Neighbour Advertisements for `target`: (Ethernet source, Router flag, the target
/// link-layer address option if any).
fn na_for(frames: &[Packet], target: IpAddr) -> Vec<([u8; 6], bool, Option<[u8; 6]>)> {
    let mut out = Vec::new();
    for p in frames {
        let Some((_, src_mac, 0x86dd, ip6)) = p.ethernet() else {
            continue;
        };
        if ip6.get(6) != Some(&58) || ip6.get(40) != Some(&136) {
            continue;
        }
        let t: Option<[u8; 16]> = ip6.get(48..64).and_then(|t| t.try_into().ok());
        if t.map(Ipv6Addr::from).map(IpAddr::V6) != Some(target) {
            continue;
        }
        let router = ip6.get(44).is_some_and(|f| f & 0x80 != 0);
        // Options after the 24-octet NA: type 2 is the target link-layer address.
        let mut opts = ip6.get(64..).unwrap_or(&[]);
        let mut tlla = None;
        while opts.len() >= 8 {
            let len = usize::from(opts[1]) * 8;
            if len == 0 || len > opts.len() {
                break;
            }
            if opts[0] == 2 {
                tlla = opts.get(2..8).and_then(|m| m.try_into().ok());
            }
            opts = &opts[len..];
        }
        out.push((src_mac.0, router, tlla));
    }
    out
}

/// Three frames to the VMAC from the client's MAC, carrying a UDP datagram from the
/// client to 10.77.0.1 (`v6`: to fd00:77::1, in a frame to the IPv6 VMAC), sent down
/// `to`'s bridge port (AF_PACKET in the switch); the source MACs of those that come
/// back to the client routed.
fn routed_by(lan: &keepup_testkit::lab::Lan, to: &Host, client: &Host, v6: bool) -> Vec<[u8; 6]> {
    let port = &to.iface_on(lan).unwrap().port;
    let own = mac(client, "eth0");
    let src = own
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join("");
    let (dst_mac, packet, filter) = if v6 {
        (
            "00005e00023d",
            "s6=socket.inet_pton(socket.AF_INET6,'fd00:9::3')\n\
             d6=socket.inet_pton(socket.AF_INET6,'fd00:77::1')\n\
             udp=struct.pack('!HHHH',40000,9,8+2,0)+b'x\\n'\n\
             c=csum(s6+d6+struct.pack('!IxxxB',len(udp),17)+udp) or 0xffff\n\
             udp=udp[:6]+struct.pack('!H',c)+udp[8:]\n\
             p=struct.pack('!IHBB',0x60000000,len(udp),17,64)+s6+d6+udp\n\
             et=b'\\x86\\xdd'\n",
            "udp and dst host fd00:77::1",
        )
    } else {
        (
            "00005e000133",
            "udp=struct.pack('!HHHH',40000,9,8+2,0)+b'x\\n'\n\
             h=struct.pack('!BBHHHBBH4s4s',0x45,0,20+len(udp),1,0,64,17,0,socket.inet_aton('10.9.0.3'),socket.inet_aton('10.77.0.1'))\n\
             h=h[:10]+struct.pack('!H',csum(h))+h[12:]\n\
             p=h+udp\n\
             et=b'\\x08\\x00'\n",
            "udp and dst host 10.77.0.1",
        )
    };
    let script = format!(
        "import socket,struct\n\
         def csum(b):\n\
         \x20if len(b)%2: b+=b'\\0'\n\
         \x20s=sum(struct.unpack('!%dH'%(len(b)//2),b))\n\
         \x20while s>>16: s=(s>>16)+(s&0xffff)\n\
         \x20return (~s)&0xffff\n\
         {packet}\
         f=bytes.fromhex('{dst_mac}')+bytes.fromhex('{src}')+et+p\n\
         s=socket.socket(socket.AF_PACKET,socket.SOCK_RAW)\n\
         s.bind(('{port}',0))\n\
         for i in range(3): s.send(f)\n"
    );
    let cap = client.capture("eth0", filter).unwrap();
    let out = std::process::Command::new("ip")
        .args(["netns", "exec", lan.ns(), "python3", "-c", &script])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    std::thread::sleep(Duration::from_millis(1500));
    cap.stop()
        .unwrap()
        .iter()
        .filter_map(|p| p.ethernet().map(|(_, src, _, _)| src.0))
        .filter(|src| *src != own)
        .collect()
}

/// `net.ipv4.conf.vrrp/51.forwarding` in `h`.
fn vmac_forwarding(h: &Host) -> String {
    h.run(["cat", "/proc/sys/net/ipv4/conf/vrrp.51/forwarding"])
        .unwrap()
        .trim()
        .to_string()
}

fn wait_log(p: &Proc, needle: &str, s: u64) {
    if p.wait_for_log(needle, secs(s)).is_err() {
        panic!("no {needle:?} within {s} s:\n{}", p.log());
    }
}

/// Every scenario of [`guest_vmac`], in one boot of the VM.
///
/// Ledger: TX-06
/// Ledger: MAC-03
/// Ledger: ARP-01
/// Ledger: ARP-02
/// Ledger: ARP-04
/// Ledger: BKP-04
/// Ledger: MST-03
/// Ledger: KA-14
#[test]
fn qemu_vmac_adverts_answers_restart_and_keepalived_interop() {
    keepup_testkit::vm::guest_test(
        "vmac",
        "modprobe macvlan; modprobe ipvlan; modprobe nf_tables",
        "guest_vmac",
        Duration::from_secs(1200),
    );
}

#[test]
#[ignore = "runs inside the VM (qemu_vmac_adverts_answers_restart_and_keepalived_interop)"]
fn guest_vmac() {
    if !keepup_testkit::vm::in_guest() {
        return;
    }
    addr::addr_vmacs_with_keepalived();
    eprintln!("== use_vmac_addr with keepalived: ok");
    keepup_alone();
    eprintln!("== keepup alone: ok");
    with_keepalived();
    eprintln!("== keepalived interop: ok");
    xmit_base_with_keepalived();
    eprintln!("== vmac_xmit_base with keepalived: ok");
    ipvlan();
    eprintln!("== use_ipvlan: ok");
    owner_restart_and_proxy_arp();
    eprintln!("== owner restarts and proxy ARP: ok");
}

/// r1 owns 10.9.0.100 (priority 255, `state MASTER`, `use_vmac`), r2 (100) is its
/// Backup, r3 a client that asks for the VIP at every step. Through a SIGKILL and a
/// restart of the owner, and a clean stop and start, every ARP frame on the LAN that
/// speaks for the VIP (gratuitous ones, and the replies to the client) carries the
/// VMAC, never r1's own MAC.
///
/// Then proxy ARP on the owner's VMAC: asked for 10.77.0.5, which r1 routes out of
/// another interface, r1 answers with the VMAC, and its own interface stays silent.
///
/// Ledger: OWN-04
/// Ledger: ARP-06
fn owner_restart_and_proxy_arp() {
    let (lab, lan, hosts) = routers("kvown", 3, false);
    let (r1, r2, client) = (&hosts[0], &hosts[1], &hosts[2]);
    let owner = conf(255, false).replace("state BACKUP", "state MASTER");
    let own = mac(r1, "eth0");
    let cap = lan.capture("arp").unwrap();
    let ask = || {
        client.run(["ip", "neigh", "flush", "dev", "eth0"]).unwrap();
        send_udp(client, "10.9.0.100");
    };
    let k2 = keepup(&lab, r2, &conf(100, false), "a");
    let k1 = keepup(&lab, r1, &owner, "a");
    wait_log(&k1, "(VI_4) Entering MASTER STATE", 10);
    ask();
    k1.kill(Signal::SIGKILL).unwrap();
    k1.wait_timeout(secs(5));
    ask();
    let k1 = keepup(&lab, r1, &owner, "b");
    wait_log(&k1, "(VI_4) Entering MASTER STATE", 10);
    ask();
    k1.kill(Signal::SIGTERM).unwrap();
    assert!(k1.wait_timeout(secs(15)).is_some(), "{}", k1.log());
    ask();
    let k1 = keepup(&lab, r1, &owner, "c");
    wait_log(&k1, "(VI_4) Entering MASTER STATE", 10);
    ask();
    let spoken = arp_from(&cap.stop().unwrap(), VIP4);
    let replies = spoken.iter().filter(|x| x.2).count();
    assert!(replies >= 3, "{replies} replies: {spoken:02x?}");
    assert!(
        spoken
            .iter()
            .all(|(src, sender, _)| *src == VMAC4 && *sender == VMAC4),
        "r1 is {own:02x?}: {spoken:02x?}\n{}",
        k1.log()
    );

    // ARP-06: proxy ARP on the VMAC answers with the VMAC.
    for cmd in [
        "ip link add p77 type veth peer name q77",
        "ip addr add 10.77.0.1/24 dev p77",
        "ip link set p77 up",
        "ip link set q77 up",
    ] {
        r1.run(cmd.split(' ')).unwrap();
    }
    r1.sysctl("net.ipv4.ip_forward", "1").unwrap();
    r1.sysctl("net/ipv4/conf/vrrp.51/proxy_arp", "1").unwrap();
    client
        .run(["ip", "route", "add", "10.77.0.0/24", "dev", "eth0"])
        .unwrap();
    let cap = client.capture("eth0", "arp").unwrap();
    send_udp(client, "10.77.0.5");
    // The kernel delays a proxied reply by up to `proxy_delay` (0.8 s by default).
    let target: IpAddr = "10.77.0.5".parse().unwrap();
    wait_until(secs(5), Duration::from_millis(100), || {
        arp_from(&cap.packets().unwrap_or_default(), target)
            .iter()
            .any(|a| a.2)
    });
    let answers: Vec<_> = arp_from(&cap.stop().unwrap(), target)
        .into_iter()
        .filter(|a| a.2)
        .collect();
    assert!(!answers.is_empty(), "no proxy ARP reply\n{}", k1.log());
    assert!(
        answers
            .iter()
            .all(|(src, sender, _)| *src == VMAC4 && *sender == VMAC4),
        "r1 is {own:02x?}: {answers:02x?}"
    );
    for k in [&k1, &k2] {
        k.kill(Signal::SIGTERM).unwrap();
        assert!(k.wait_timeout(secs(15)).is_some(), "{}", k.log());
    }
}

/// Two keepups with `use_vmac`: what the Master sends and answers carries the VMAC;
/// a SIGKILLed keepup started again takes its macvlan back, and a clean stop leaves
/// no macvlan and the base's sysctls as they were.
fn keepup_alone() {
    let (lab, lan, hosts) = routers("kvmac", 3, true);
    let (r1, r2, client) = (&hosts[0], &hosts[1], &hosts[2]);
    // The kernel sets the NA Router flag only where forwarding is on (ARP-04); both
    // route IPv4 too (BKP-04, MST-03).
    for h in [r1, r2] {
        for k in ["all", "default"] {
            h.sysctl(&format!("net.ipv6.conf.{k}.forwarding"), "1")
                .unwrap();
        }
        h.sysctl("net.ipv4.ip_forward", "1").unwrap();
    }
    let arp_ignore_before = r1
        .run(["sysctl", "-n", "net.ipv4.conf.eth0.arp_ignore"])
        .unwrap();
    let garps = lan.capture("arp").unwrap();
    let k1 = keepup(&lab, r1, &conf(150, true), "a");
    let k2 = keepup(&lab, r2, &conf(100, true), "a");
    for vip in [VIP4, VIP6] {
        assert!(wait_addr(r1, vip, true, 20).is_some(), "{}", k1.log());
    }
    wait_log(&k2, "(VI_6) Entering BACKUP STATE", 10);
    // The VIPs are on the VMACs, the macvlans private with the VRRP MACs.
    let links = macvlans(r1);
    assert!(
        links.contains("vrrp.51") && links.contains("vrrp.61"),
        "{links}"
    );
    assert!(links.contains("macvlan mode private"), "{links}");
    assert_eq!(mac(r1, "vrrp.51"), VMAC4);
    assert_eq!(mac(r1, "vrrp.61"), VMAC6);
    assert!(r1.addresses("vrrp.51").unwrap().contains(&VIP4));
    assert!(r1.addresses("vrrp.61").unwrap().contains(&VIP6));
    assert!(!r1.addresses("eth0").unwrap().contains(&VIP4));
    assert!(!has(r2, VIP4) && !has(r2, VIP6));
    assert_eq!(
        r1.run(["sysctl", "-n", "net.ipv4.conf.eth0.arp_ignore"])
            .unwrap()
            .trim(),
        "1"
    );
    // BKP-04, MST-03: the Master's VMAC routes, the Backup's does not.
    assert_eq!(vmac_forwarding(r1), "1");
    assert_eq!(vmac_forwarding(r2), "0");

    // ARP-01: the gratuitous ARPs of the takeover carry the VMAC.
    let frames = garps.stop().unwrap();
    let g = arp_from(&frames, VIP4);
    assert!(!g.is_empty(), "no gratuitous ARP for the VIP");
    assert!(
        g.iter()
            .all(|(src, sender, _)| *src == VMAC4 && *sender == VMAC4),
        "{g:?}"
    );

    // TX-06: the adverts leave from the VMAC.
    let cap = lan.capture("ip proto 112 or ip6 proto 112").unwrap();
    std::thread::sleep(Duration::from_millis(3500));
    let adverts = vrrp_adverts(&cap.stop().unwrap());
    let (mut v4, mut v6) = (0, 0);
    for a in &adverts {
        match a.repr.vrid {
            51 => {
                v4 += 1;
                assert_eq!(a.src_mac.0, VMAC4, "{a:?}");
                assert_eq!(a.src, IpAddr::V4(Ipv4Addr::new(10, 9, 0, 1)), "{a:?}");
            }
            61 => {
                v6 += 1;
                assert_eq!(a.src_mac.0, VMAC6, "{a:?}");
                assert_eq!(a.src, IpAddr::V6(r1.link_local("eth0").unwrap()), "{a:?}");
            }
            _ => panic!("{a:?}"),
        }
    }
    assert!(v4 >= 2 && v6 >= 2, "{v4} IPv4 and {v6} IPv6 adverts");

    // ARP-02, MAC-03: the ARP reply for the VIP carries the VMAC, never r1's MAC.
    client.run(["ip", "neigh", "flush", "dev", "eth0"]).unwrap();
    let cap = client.capture("eth0", "arp").unwrap();
    send_udp(client, "10.9.0.100");
    let replies: Vec<_> = arp_from(&cap.stop().unwrap(), VIP4)
        .into_iter()
        .filter(|r| r.2)
        .collect();
    assert!(!replies.is_empty(), "no ARP reply for the VIP");
    assert!(
        replies
            .iter()
            .all(|(src, sender, _)| *src == VMAC4 && *sender == VMAC4),
        "{replies:?} (r1 is {:02x?})",
        mac(r1, "eth0")
    );

    // ARP-04: the NA for the IPv6 VIP comes from the VMAC, with R and the VMAC as
    // its target link-layer address.
    client
        .run(["ip", "-6", "neigh", "flush", "dev", "eth0"])
        .unwrap();
    let cap = client.capture("eth0", "icmp6").unwrap();
    send_udp(client, "fd00:9::100");
    let nas = na_for(&cap.stop().unwrap(), VIP6);
    assert!(!nas.is_empty(), "no NA for the VIP");
    for (src, router, tlla) in &nas {
        assert_eq!(*src, VMAC6, "{nas:?}");
        assert!(router, "R flag: {nas:?}");
        assert_eq!(*tlla, Some(VMAC6), "{nas:?}");
    }

    // BKP-04, MST-03: a datagram for 10.77.0.1 (routed back to the client by both
    // routers) in a frame to the VMAC, put on one router's wire: the Backup drops it,
    // the Master routes it.
    for h in [r1, r2] {
        h.run(["ip", "route", "add", "10.77.0.0/24", "via", "10.9.0.3"])
            .unwrap();
    }
    let rx = |h: &Host| -> u64 {
        h.run(["cat", "/sys/class/net/vrrp.51/statistics/rx_packets"])
            .unwrap()
            .trim()
            .parse()
            .unwrap()
    };
    let before = rx(r2);
    let back = routed_by(&lan, r2, client, false);
    assert!(
        rx(r2) >= before + 3,
        "the frames did not reach the Backup's VMAC"
    );
    assert!(
        !back.contains(&mac(r2, "eth0")),
        "the Backup routed it: {back:02x?}"
    );
    let back = routed_by(&lan, r1, client, false);
    assert!(
        back.contains(&mac(r1, "eth0")),
        "the Master did not route it: {back:02x?}"
    );

    // BKP-04 over IPv6, which has no per-interface switch: with
    // net.ipv6.conf.all.forwarding=1 on both, a datagram for fd00:77::1 in a frame to
    // the IPv6 VMAC is dropped by the Backup's forward rule (counted there) and
    // routed by the Master.
    for h in [r1, r2] {
        h.run([
            "ip",
            "-6",
            "route",
            "add",
            "fd00:77::/64",
            "via",
            "fd00:9::3",
        ])
        .unwrap();
    }
    let dropped = |h: &Host| -> u64 {
        let out = h
            .run(["nft", "list", "chain", "inet", "keepup", "vmac_fwd"])
            .unwrap_or_default();
        out.split("counter packets ")
            .nth(1)
            .and_then(|r| r.split_whitespace().next())
            .and_then(|n| n.parse().ok())
            .unwrap_or(0)
    };
    let before = dropped(r2);
    let back = routed_by(&lan, r2, client, true);
    assert!(
        !back.contains(&mac(r2, "eth0")),
        "the IPv6 Backup routed it: {back:02x?}\n{}",
        k2.log()
    );
    assert!(
        dropped(r2) >= before + 3,
        "not dropped by the forward rule: {}",
        r2.run(["nft", "list", "table", "inet", "keepup"])
            .unwrap_or_default()
    );
    let back = routed_by(&lan, r1, client, true);
    assert!(
        back.contains(&mac(r1, "eth0")),
        "the IPv6 Master did not route it: {back:02x?}\n{}",
        r1.run(["nft", "list", "table", "inet", "keepup"])
            .unwrap_or_default()
    );

    // A SIGKILLed Master leaves its macvlan; r2 takes over on its own VMAC.
    k1.kill(Signal::SIGKILL).unwrap();
    k1.wait_timeout(secs(5));
    for vip in [VIP4, VIP6] {
        assert!(wait_addr(r2, vip, true, 20).is_some(), "{}", k2.log());
    }
    assert!(r2.addresses("vrrp.51").unwrap().contains(&VIP4));
    assert_eq!(vmac_forwarding(r2), "1");
    // Started again, r1 takes its macvlans back (no second one) and preempts.
    let k1 = keepup(&lab, r1, &conf(150, true), "b");
    wait_log(&k1, "(VI_4) vmac: reusing VMAC interface vrrp.51", 10);
    wait_log(&k1, "(VI_4) Entering MASTER STATE", 20);
    wait_log(&k1, "(VI_6) Entering MASTER STATE", 20);
    assert!(wait_addr(r2, VIP4, false, 10).is_some(), "{}", k2.log());
    assert_eq!(macvlans(r1).lines().count(), 2, "{}", macvlans(r1));
    assert!(r1.addresses("vrrp.51").unwrap().contains(&VIP4));
    assert!(
        wait_until(secs(5), Duration::from_millis(50), || vmac_forwarding(r1)
            == "1")
        .is_some()
    );
    // A reload leaves the Master's VMAC as it is (still routing, still holding).
    let (code, out, err) = common::client(&lab, r1, &["reload"]);
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(vmac_forwarding(r1), "1", "{}", k1.log());
    assert!(r1.addresses("vrrp.51").unwrap().contains(&VIP4));
    assert_eq!(
        k1.log().matches("reusing VMAC interface").count(),
        2,
        "{}",
        k1.log()
    );

    // A clean stop: no macvlan left, the base's sysctls as they were.
    for k in [&k1, &k2] {
        k.kill(Signal::SIGTERM).unwrap();
        assert!(k.wait_timeout(secs(15)).is_some(), "{}", k.log());
    }
    for h in [r1, r2] {
        assert_eq!(macvlans(h), "", "{}\n{}", k1.log(), k2.log());
    }
    assert_eq!(
        r1.run(["sysctl", "-n", "net.ipv4.conf.eth0.arp_ignore"])
            .unwrap(),
        arp_ignore_before
    );
    eprintln!("{}", k1.log());
}

/// keepup (r1) and keepalived 2.2.7 (r2), both `use_vmac`, in one VRRPv2/IPv4 and one
/// VRRPv3/IPv6 virtual router: the higher priority wins, and each takes over when the
/// other is killed.
fn with_keepalived() {
    let (lab, _lan, hosts) = routers("kvmka", 2, true);
    let (r1, r2) = (&hosts[0], &hosts[1]);
    let both = [("VI_4", VIP4, "vrrp.51"), ("VI_6", VIP6, "vrrp.61")];
    let ka = r2.keepalived(&conf(100, true)).unwrap();
    for (name, _, _) in both {
        ka.wait_for_state(name, State::Master, secs(20)).unwrap();
    }
    let links = macvlans(r2);
    assert!(
        links.contains("vrrp.51") && links.contains("vrrp.61"),
        "{links}"
    );
    // keepup at 150 preempts keepalived.
    let k1 = keepup(&lab, r1, &conf(150, true), "a");
    for (name, vip, _) in both {
        wait_log(&k1, &format!("({name}) Entering MASTER STATE"), 20);
        ka.wait_for_state(name, State::Backup, secs(10)).unwrap();
        assert!(wait_addr(r1, vip, true, 5).is_some(), "{}", k1.log());
        assert!(wait_addr(r2, vip, false, 5).is_some(), "{}", ka.log());
    }
    // keepup killed: keepalived takes over.
    k1.kill(Signal::SIGKILL).unwrap();
    k1.wait_timeout(secs(5));
    for (name, vip, _) in both {
        ka.wait_for_state(name, State::Master, secs(15)).unwrap();
        assert!(wait_addr(r2, vip, true, 5).is_some(), "{}", ka.log());
    }
    // keepup again, now lower: it stays Backup behind keepalived...
    let k1 = keepup(&lab, r1, &conf(50, true), "b");
    for (name, _, _) in both {
        wait_log(&k1, &format!("({name}) Entering BACKUP STATE"), 20);
    }
    std::thread::sleep(secs(4));
    assert!(!k1.log().contains("Entering MASTER STATE"), "{}", k1.log());
    assert!(!has(r1, VIP4) && !has(r1, VIP6));
    // ...and takes over when keepalived is killed.
    ka.kill().unwrap();
    for (name, vip, link) in both {
        wait_log(&k1, &format!("({name}) Entering MASTER STATE"), 15);
        assert!(wait_addr(r1, vip, true, 5).is_some(), "{}", k1.log());
        assert!(r1.addresses(link).unwrap().contains(&vip));
    }
    k1.kill(Signal::SIGTERM).unwrap();
    assert!(k1.wait_timeout(secs(15)).is_some(), "{}", k1.log());
    assert_eq!(macvlans(r1), "", "{}", k1.log());
}

/// keepup with `vmac_xmit_base` (r1) and keepalived 2.2.7 with `use_vmac` (r2): keepup's
/// adverts leave from its base MAC, its VIP sits on the VMAC and is answered from it,
/// and it hears keepalived's adverts (sent from the virtual MAC, which its own
/// macvlan takes): no split brain, and takeover on kill.
fn xmit_base_with_keepalived() {
    let (lab, lan, hosts) = routers("kvmxb", 3, false);
    let (r1, r2, client) = (&hosts[0], &hosts[1], &hosts[2]);
    let ka = r2.keepalived(&conf(100, false)).unwrap();
    ka.wait_for_state("VI_4", State::Master, secs(20)).unwrap();
    let xmit = conf(150, false).replace("use_vmac", "use_vmac\n    vmac_xmit_base");
    let k1 = keepup(&lab, r1, &xmit, "a");
    wait_log(&k1, "(VI_4) Entering MASTER STATE", 20);
    ka.wait_for_state("VI_4", State::Backup, secs(10)).unwrap();
    assert!(wait_addr(r1, VIP4, true, 5).is_some(), "{}", k1.log());
    assert!(r1.addresses("vrrp.51").unwrap().contains(&VIP4));
    let cap = lan.capture("ip proto 112").unwrap();
    std::thread::sleep(Duration::from_millis(3500));
    let adverts = vrrp_adverts(&cap.stop().unwrap());
    assert!(adverts.len() >= 2, "{adverts:?}");
    for a in &adverts {
        assert_eq!(a.src_mac.0, mac(r1, "eth0"), "from the base: {a:?}");
    }
    client.run(["ip", "neigh", "flush", "dev", "eth0"]).unwrap();
    let cap = client.capture("eth0", "arp").unwrap();
    send_udp(client, "10.9.0.100");
    let replies: Vec<_> = arp_from(&cap.stop().unwrap(), VIP4)
        .into_iter()
        .filter(|r| r.2)
        .collect();
    assert!(!replies.is_empty(), "no ARP reply for the VIP");
    assert!(
        replies.iter().all(|(_, sender, _)| *sender == VMAC4),
        "{replies:?}"
    );
    // keepalived stays Backup (it hears keepup), and keepup Master (it hears nothing
    // higher): a few seconds without a transition on either side.
    std::thread::sleep(secs(4));
    assert_eq!(ka.state("VI_4"), Some(State::Backup), "{}", ka.log());
    assert_eq!(
        k1.log().matches("Entering MASTER STATE").count(),
        1,
        "{}",
        k1.log()
    );
    // keepup stopped cleanly: keepalived takes over at once (priority 0).
    k1.kill(Signal::SIGTERM).unwrap();
    assert!(k1.wait_timeout(secs(15)).is_some(), "{}", k1.log());
    ka.wait_for_state("VI_4", State::Master, secs(10)).unwrap();
    assert_eq!(macvlans(r1), "", "{}", k1.log());
    // keepup back at a lower priority hears keepalived through its VMAC: Backup.
    let k1 = keepup(&lab, r1, &xmit.replace("priority 150", "priority 50"), "b");
    wait_log(&k1, "(VI_4) Entering BACKUP STATE", 20);
    std::thread::sleep(secs(4));
    assert!(
        !k1.log().contains("(VI_4) Entering MASTER STATE"),
        "{}",
        k1.log()
    );
    ka.kill().unwrap();
    wait_log(&k1, "(VI_4) Entering MASTER STATE", 15);
    k1.kill(Signal::SIGTERM).unwrap();
    assert!(k1.wait_timeout(secs(15)).is_some(), "{}", k1.log());
}

/// `use_ipvlan NAME ADDRESS/LEN`: two keepups, each on an L2 ipvlan with its own
/// address, which is the adverts' source; the VIP goes on the Master's ipvlan; a clean
/// stop hands over and leaves no ipvlan.
fn ipvlan() {
    let (lab, lan, hosts) = routers("kvmip", 2, false);
    let (r1, r2) = (&hosts[0], &hosts[1]);
    let conf = |prio: u8, own: &str| {
        conf(prio, false).replace("use_vmac", &format!("use_ipvlan ipv1 {own}/24"))
    };
    let k1 = keepup(&lab, r1, &conf(150, "10.9.0.11"), "a");
    let k2 = keepup(&lab, r2, &conf(100, "10.9.0.12"), "a");
    wait_log(&k1, "(VI_4) Entering MASTER STATE", 20);
    wait_log(&k2, "(VI_4) Entering BACKUP STATE", 20);
    let links = r1.run(["ip", "-d", "-o", "link", "show", "ipv1"]).unwrap();
    assert!(links.contains("ipvlan"), "{links}");
    assert!(r1.addresses("ipv1").unwrap().contains(&VIP4));
    assert!(!has(r2, VIP4));
    let cap = lan.capture("ip proto 112").unwrap();
    std::thread::sleep(Duration::from_millis(3500));
    let adverts = vrrp_adverts(&cap.stop().unwrap());
    assert!(adverts.len() >= 2, "{adverts:?}");
    for a in &adverts {
        assert_eq!(a.src, IpAddr::V4(Ipv4Addr::new(10, 9, 0, 11)), "{a:?}");
    }
    k1.kill(Signal::SIGTERM).unwrap();
    assert!(k1.wait_timeout(secs(15)).is_some(), "{}", k1.log());
    wait_log(&k2, "(VI_4) Entering MASTER STATE", 10);
    assert!(wait_addr(r2, VIP4, true, 5).is_some(), "{}", k2.log());
    k2.kill(Signal::SIGTERM).unwrap();
    assert!(k2.wait_timeout(secs(15)).is_some(), "{}", k2.log());
    for h in [r1, r2] {
        let left = h.run(["ip", "-d", "-o", "link"]).unwrap();
        assert!(!left.contains("ipvlan"), "{left}");
    }
}
