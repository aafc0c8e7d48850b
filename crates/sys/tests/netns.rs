//! keepup-sys against the real kernel, in network namespaces (root). Each test builds
//! its own two-namespace lab (see `lab`) and removes it afterwards; nothing runs in
//! the host's namespace. Adverts are built with keepup-wire, as the engine builds them.

mod lab;

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::mpsc;
use std::time::Duration;

use keepup_sys::{Address, FrameSender, LinkEvent, Monitor, Netlink, Route, Rule, VrrpSocket};
use keepup_wire::vrrp::{self, AuthType, ChecksumForm, IpPair, Version};
use keepup_wire::{ah, arp, ipv4, ndisc, MacAddr};
use lab::{have_root, in_ns, join, run_in, Lab};

const GROUP_V4: Ipv4Addr = Ipv4Addr::new(224, 0, 0, 18);
const GROUP_V6: Ipv6Addr = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 0x12);
const WAIT: Duration = Duration::from_secs(5);

fn v4(s: &str) -> Ipv4Addr {
    s.parse().expect("IPv4 literal")
}

fn v6(s: &str) -> Ipv6Addr {
    s.parse().expect("IPv6 literal")
}

fn ifindex(name: &str) -> u32 {
    nix::net::if_::if_nametoindex(name).expect("interface in this namespace")
}

/// A VRRP message as the engine emits it, for the pseudo-header `src` -> `dst`.
fn vrrp_message(version: Version, auth: AuthType, src: IpAddr, dst: IpAddr) -> Vec<u8> {
    let vip: IpAddr = if src.is_ipv4() {
        IpAddr::V4(v4("10.201.0.100"))
    } else {
        IpAddr::V6(v6("fd00:201::100"))
    };
    let repr = vrrp::Repr {
        version,
        vrid: 51,
        priority: 100,
        interval: if version == Version::V2 { 1 } else { 100 },
        auth_type: auth,
        auth_data: [0; 8],
        addresses: vec![vip],
    };
    repr.to_bytes(IpPair { src, dst }, ChecksumForm::PseudoHeader)
        .expect("emit advert")
}

/// In B: b0's ifindex and an IPv4 VRRP socket (with the AH one if `ah`) that has
/// joined the group there.
fn v4_receiver(ah: bool) -> (u32, VrrpSocket) {
    let ifb = ifindex("b0");
    let s = VrrpSocket::open_v4(ah).expect("open v4");
    s.join(GROUP_V4.into(), ifb).expect("join");
    (ifb, s)
}

/// A whole IPv4 advert (TTL 255, TOS 0xc0), with AH when `key` is given.
fn ipv4_advert(src: Ipv4Addr, dst: Ipv4Addr, key: Option<&[u8]>) -> Vec<u8> {
    let auth = if key.is_some() {
        AuthType::Ah
    } else {
        AuthType::None
    };
    let version = if key.is_some() {
        Version::V2
    } else {
        Version::V3
    };
    let msg = vrrp_message(version, auth, src.into(), dst.into());
    let header = ipv4::Repr {
        src,
        dst,
        protocol: 0,
        ttl: 255,
        ident: 1,
        tos: 0xc0,
        payload_len: 0,
    };
    let ah = key.map(|k| {
        (
            ah::Repr {
                spi: ah::Repr::spi_for(src),
                seq: 1,
            },
            k,
        )
    });
    ipv4::emit_advert(header, ah, &msg)
}

/// A v4 advert sent by VrrpSocket in A (multicast, then unicast) reaches VrrpSocket in
/// B whole: TTL 255 and TOS 0xc0 as built (IP_HDRINCL), VRRP intact, reported on b0's
/// ifindex (IP_PKTINFO). A does not hear its own multicast (IP_MULTICAST_LOOP off).
#[test]
fn netns_v4_advert_crosses_veth_with_ttl_255_on_the_right_interface() {
    if !have_root() {
        return;
    }
    let lab = Lab::new("v4");
    let (ready_tx, ready_rx) = mpsc::channel();
    let rx = in_ns(&lab.b, move || async move {
        let (ifb, s) = v4_receiver(false);
        s.join(GROUP_V4.into(), ifb)
            .expect("a second join is not an error");
        ready_tx.send(()).expect("ready");
        let mut got = Vec::new();
        for _ in 0..2 {
            let r = tokio::time::timeout(WAIT, s.recv())
                .await
                .expect("an advert within 5 s")
                .expect("recv");
            got.push(r);
        }
        (ifb, got)
    });
    ready_rx.recv_timeout(WAIT).expect("receiver ready");

    let (a, b) = (v4(lab::A_V4), v4(lab::B_V4));
    let mcast = ipv4_advert(a, GROUP_V4, None);
    let ucast = ipv4_advert(a, b, None);
    let sent = (mcast.clone(), ucast.clone());
    run_in(&lab.a, move || async move {
        let ifa = ifindex("a0");
        let s = VrrpSocket::open_v4(false).expect("open v4");
        s.join(GROUP_V4.into(), ifa).expect("join");
        s.send(ifa, a.into(), GROUP_V4.into(), 255, &sent.0)
            .await
            .expect("send multicast");
        s.send(ifa, a.into(), b.into(), 255, &sent.1)
            .await
            .expect("send unicast");
        let own = tokio::time::timeout(Duration::from_millis(300), s.recv()).await;
        assert!(own.is_err(), "our own advert came back: {own:?}");
    });

    let (ifb, got) = join(rx);
    for (r, (want, dst)) in got.iter().zip([(&mcast, GROUP_V4), (&ucast, b)]) {
        assert_eq!(r.ifindex, ifb, "reported on b0");
        assert!(r.v6.is_none());
        let adv = ipv4::parse_advert(&r.data).expect("an IPv4 advert");
        assert_eq!((adv.src, adv.dst, adv.ttl), (a, dst, 255));
        let ip = ipv4::Packet::new_checked(&r.data[..]).expect("IPv4 header");
        assert_eq!(ip.tos(), 0xc0);
        assert_eq!(ip.ident(), 1);
        // Everything after the header is what the engine built.
        assert_eq!(&r.data[20..], &want[20..]);
        let p = vrrp::Packet::new_checked(adv.vrrp, false).expect("VRRP length");
        vrrp::Repr::parse(
            &p,
            IpPair {
                src: a.into(),
                dst: dst.into(),
            },
        )
        .expect("VRRP parses, checksum holds");
    }
}

/// With `ah`, the second raw socket (protocol 51) delivers an AH-wrapped v2 advert to
/// the same `recv`, with its ICV still valid over the received header.
#[test]
fn netns_v4_ah_advert_arrives_on_the_protocol_51_socket() {
    if !have_root() {
        return;
    }
    let lab = Lab::new("ah");
    let key: &[u8] = b"secret";
    let (ready_tx, ready_rx) = mpsc::channel();
    let rx = in_ns(&lab.b, move || async move {
        let (ifb, s) = v4_receiver(true);
        ready_tx.send(()).expect("ready");
        let r = tokio::time::timeout(WAIT, s.recv())
            .await
            .expect("an advert within 5 s")
            .expect("recv");
        (ifb, r)
    });
    ready_rx.recv_timeout(WAIT).expect("receiver ready");
    let a = v4(lab::A_V4);
    let packet = ipv4_advert(a, GROUP_V4, Some(key));
    let sent = packet.clone();
    run_in(&lab.a, move || async move {
        let ifa = ifindex("a0");
        let s = VrrpSocket::open_v4(true).expect("open v4 with AH");
        s.send(ifa, a.into(), GROUP_V4.into(), 255, &sent)
            .await
            .expect("send");
    });
    let (ifb, r) = join(rx);
    assert_eq!(r.ifindex, ifb);
    let adv = ipv4::parse_advert(&r.data).expect("an IPv4 advert");
    assert_eq!(adv.ttl, 255);
    let ah = adv.ah.expect("the AH header");
    assert_eq!((ah.spi, ah.seq), (u32::from(a), 1));
    ah::verify(&r.data, key).expect("ICV holds");
    assert_eq!(&r.data[20..], &packet[20..]);
}

/// 100 adverts queued on B's socket (more than one `recvmmsg` batch of 32) are all
/// read by one `try_recv_batch`, each whole and reported on b0; `max` bounds it;
/// with nothing queued it reads nothing and does not wait.
#[test]
fn netns_a_burst_of_adverts_is_read_whole_in_batches() {
    if !have_root() {
        return;
    }
    let lab = Lab::new("burst");
    let (ready_tx, ready_rx) = mpsc::channel();
    let (sent_tx, sent_rx) = mpsc::channel::<()>();
    let rx = in_ns(&lab.b, move || async move {
        let (ifb, s) = v4_receiver(false);
        ready_tx.send(()).expect("ready");
        sent_rx.recv_timeout(WAIT).expect("all sent");
        tokio::time::timeout(WAIT, s.readable())
            .await
            .expect("readable within 5 s")
            .expect("readable");
        // Delivery over the veth is done by the time the sender returns; allow
        // the scheduler a moment all the same.
        tokio::time::sleep(Duration::from_millis(100)).await;
        let mut got = Vec::new();
        let n = s
            .try_recv_batch(40, |d| got.push(d.to_owned()))
            .expect("first 40");
        assert_eq!((n, got.len()), (40, 40), "max bounds a call");
        let n = s
            .try_recv_batch(1024, |d| got.push(d.to_owned()))
            .expect("the rest");
        let empty = s.try_recv_batch(1024, |_| {}).expect("nothing queued");
        (ifb, n, got, empty)
    });
    ready_rx.recv_timeout(WAIT).expect("receiver ready");
    let a = v4(lab::A_V4);
    let packet = ipv4_advert(a, GROUP_V4, None);
    let sent = packet.clone();
    run_in(&lab.a, move || async move {
        let ifa = ifindex("a0");
        let s = VrrpSocket::open_v4(false).expect("open v4");
        for _ in 0..100 {
            s.send(ifa, a.into(), GROUP_V4.into(), 255, &sent)
                .await
                .expect("send");
        }
    });
    sent_tx.send(()).expect("tell the receiver");
    let (ifb, n, got, empty) = join(rx);
    assert_eq!(n, 60, "the other 60 in one call");
    assert_eq!(empty, 0);
    assert_eq!(got.len(), 100);
    for r in &got {
        assert_eq!(r.ifindex, ifb);
        assert!(r.v6.is_none());
        assert_eq!(&r.data[20..], &packet[20..], "VRRP intact");
    }
}

/// Adverts queued while the runtime never turned (as for a daemon thawed by SIGCONT,
/// whose overdue timer runs before `epoll_wait` has told the reactor of them, and
/// whose `epoll_wait` even returns EINTR after the stop) are read all the same: the
/// socket is asked, not the reactor's idea of it. Before, this read found nothing,
/// and a thawed Backup took over for a moment before it heard its Master.
#[test]
fn netns_adverts_queued_before_the_reactor_knows_are_read() {
    if !have_root() {
        return;
    }
    let lab = Lab::new("unpolled");
    let (ready_tx, ready_rx) = mpsc::channel();
    let (sent_tx, sent_rx) = mpsc::channel::<()>();
    let rx = in_ns(&lab.b, move || async move {
        let (_, s) = v4_receiver(false);
        ready_tx.send(()).expect("ready");
        // Blocks the runtime's only thread: its reactor never polls meanwhile.
        sent_rx.recv_timeout(WAIT).expect("all sent");
        std::thread::sleep(Duration::from_millis(100));
        let n = s.try_recv_batch(1024, |_| {}).expect("read");
        let empty = s.try_recv_batch(1024, |_| {}).expect("nothing queued");
        (n, empty)
    });
    ready_rx.recv_timeout(WAIT).expect("receiver ready");
    let a = v4(lab::A_V4);
    let packet = ipv4_advert(a, GROUP_V4, None);
    run_in(&lab.a, move || async move {
        let ifa = ifindex("a0");
        let s = VrrpSocket::open_v4(false).expect("open v4");
        for _ in 0..4 {
            s.send(ifa, a.into(), GROUP_V4.into(), 255, &packet)
                .await
                .expect("send");
        }
    });
    sent_tx.send(()).expect("tell the receiver");
    assert_eq!(join(rx), (4, 0), "the 4 queued adverts are read, then none");
}

/// A v6 advert sent by VrrpSocket in A from its link-local reaches VrrpSocket in B with
/// source, destination, hop limit 255 and b0's ifindex from ancillary data, and the
/// checksum the engine computed. On the wire (AF_PACKET capture in B) the header has
/// traffic class 0xc0 and hop limit 255. A unicast send with ttl 64 arrives with hop
/// limit 64 (the hop limit is set per send). A message with a wrong checksum arrives
/// unchanged: the kernel neither fills nor checks the VRRP checksum.
#[test]
fn netns_v6_advert_crosses_veth_with_hop_limit_255_from_the_link_local() {
    if !have_root() {
        return;
    }
    let lab = Lab::new("v6");
    let (ready_tx, ready_rx) = mpsc::channel();
    let rx = in_ns(&lab.b, move || async move {
        let ifb = ifindex("b0");
        let ipv6 = (libc::ETH_P_IPV6 as u16).to_be();
        let capture = socket2::Socket::new(
            socket2::Domain::PACKET,
            socket2::Type::RAW,
            Some(socket2::Protocol::from(i32::from(ipv6))),
        )
        .expect("AF_PACKET capture");
        capture
            .set_read_timeout(Some(Duration::from_millis(100)))
            .expect("timeout");
        let s = VrrpSocket::open_v6().expect("open v6");
        s.join(GROUP_V6.into(), ifb).expect("join");
        s.join(GROUP_V6.into(), ifb)
            .expect("a second join is not an error");
        ready_tx.send(()).expect("ready");
        let mut got = Vec::new();
        for _ in 0..3 {
            let r = tokio::time::timeout(WAIT, s.recv())
                .await
                .expect("an advert within 5 s")
                .expect("recv");
            got.push(r);
        }
        // The IPv6 headers of the VRRP frames as they crossed the veth.
        let mut headers = Vec::new();
        let mut buf = [0u8; 2048];
        while let Ok(n) = std::io::Read::read(&mut &capture, &mut buf) {
            if n >= 54 && buf[12..14] == [0x86, 0xdd] && buf[20] == 112 {
                headers.push(buf[14..54].to_vec());
            }
        }
        (ifb, got, headers)
    });
    ready_rx.recv_timeout(WAIT).expect("receiver ready");

    let (a, b) = (v6(lab::A_LL), v6(lab::B_LL));
    let mcast = vrrp_message(Version::V3, AuthType::None, a.into(), GROUP_V6.into());
    let ucast = vrrp_message(Version::V3, AuthType::None, a.into(), b.into());
    let mut bad = mcast.clone();
    bad[6] ^= 0xff;
    let sent = (mcast.clone(), ucast.clone(), bad.clone());
    run_in(&lab.a, move || async move {
        let ifa = ifindex("a0");
        let s = VrrpSocket::open_v6().expect("open v6");
        s.join(GROUP_V6.into(), ifa).expect("join");
        s.send(ifa, a.into(), GROUP_V6.into(), 255, &sent.0)
            .await
            .expect("send multicast");
        s.send(ifa, a.into(), b.into(), 64, &sent.1)
            .await
            .expect("send unicast");
        s.send(ifa, a.into(), GROUP_V6.into(), 255, &sent.2)
            .await
            .expect("send a wrong checksum");
        let own = tokio::time::timeout(Duration::from_millis(300), s.recv()).await;
        assert!(own.is_err(), "our own advert came back: {own:?}");
    });

    let (ifb, got, headers) = join(rx);
    let want = [
        (&mcast, GROUP_V6, 255u8),
        (&ucast, b, 64),
        (&bad, GROUP_V6, 255),
    ];
    for (r, (want, dst, hops)) in got.iter().zip(want) {
        assert_eq!(r.ifindex, ifb, "reported on b0");
        assert_eq!(r.v6, Some((a, dst, hops)));
        assert_eq!(&r.data, want, "the VRRP message as sent");
    }
    let p = vrrp::Packet::new_checked(&got[0].data[..], true).expect("VRRP length");
    vrrp::Repr::parse(
        &p,
        IpPair {
            src: a.into(),
            dst: GROUP_V6.into(),
        },
    )
    .expect("VRRP parses, checksum holds");

    assert_eq!(headers.len(), 3, "three VRRP frames captured");
    for (h, hops) in headers.iter().zip([255u8, 64, 255]) {
        let tclass = (h[0] & 0x0f) << 4 | h[1] >> 4;
        assert_eq!(tclass, 0xc0, "traffic class CS6");
        assert_eq!(h[7], hops, "hop limit on the wire");
        assert_eq!(h[8..24], a.octets(), "source on the wire");
    }
}

/// `sysctl_set` writes into the calling thread's namespace.
#[test]
fn netns_sysctl_set_writes_the_namespace_value() {
    if !have_root() {
        return;
    }
    let lab = Lab::new("sysctl");
    let got = run_in(&lab.a, || async {
        keepup_sys::sysctl_set("net/ipv4/conf/a0/arp_ignore", "1").expect("sysctl");
        assert!(keepup_sys::sysctl_set("../etc/passwd", "x").is_err());
        std::fs::read_to_string("/proc/sys/net/ipv4/conf/a0/arp_ignore").expect("read back")
    });
    assert_eq!(got.trim(), "1");
    let shown = std::process::Command::new("ip")
        .args(["netns", "exec", &lab.a, "sysctl", "-n"])
        .arg("net.ipv4.conf.a0.arp_ignore")
        .output()
        .expect("sysctl -n");
    assert_eq!(String::from_utf8_lossy(&shown.stdout).trim(), "1");
}

/// The line of `ip` output that holds `head`, which must contain every part.
fn assert_line(out: &str, head: &str, parts: &[&str]) {
    let line = out
        .lines()
        .map(str::trim)
        .find(|l| l.contains(head))
        .unwrap_or_else(|| panic!("no line with {head:?} in:\n{out}"));
    for p in parts {
        assert!(line.contains(p), "{p:?} missing from {line:?}");
    }
}

fn addr(
    ifindex: u32,
    ip: &str,
    len: u8,
    brd: Option<&str>,
    scope: u8,
    label: Option<&str>,
) -> Address {
    Address {
        ifindex,
        addr: ip.parse().expect("IP literal"),
        prefix_len: len,
        broadcast: brd.map(v4),
        scope,
        label: label.map(str::to_string),
    }
}

/// Netlink reads what `ip` set up (ifindex, MAC, up-ness, addresses with scope and
/// default label as None), adds an IPv4 address with label and broadcast and an IPv6
/// one as `ip` then shows them, adding twice and deleting twice are not errors, and
/// link_up follows the peer's carrier.
#[test]
fn netns_netlink_links_and_addresses() {
    if !have_root() {
        return;
    }
    let lab = Lab::new("addr");
    let a0 = run_in(&lab.a, || async {
        let nl = Netlink::new().await.expect("netlink");
        let a0 = nl.ifindex("a0").await.expect("a0");
        assert_eq!(a0, ifindex("a0"));
        match nl.ifindex("nope0").await {
            Err(keepup_sys::Error::NoInterface(n)) => assert_eq!(n, "nope0"),
            other => panic!("expected NoInterface, got {other:?}"),
        }
        assert_eq!(nl.mac(a0).await.expect("mac"), [2, 0, 0x5e, 0xc9, 0, 0x0a]);
        assert!(nl.link_up(a0).await.expect("link_up"));
        let lo = nl.ifindex("lo").await.expect("lo");
        assert!(nl.link_up(a0 + 100).await.is_err(), "no such ifindex");

        let have = nl.addresses(Some(a0)).await.expect("addresses");
        assert!(
            have.contains(&addr(a0, lab::A_V4, 24, None, 0, None)),
            "{have:?}"
        );
        assert!(
            have.contains(&addr(a0, lab::A_LL, 64, None, 253, None)),
            "{have:?}"
        );
        assert!(have.iter().all(|a| a.ifindex == a0));
        let all = nl.addresses(None).await.expect("all addresses");
        assert!(
            all.contains(&addr(lo, "127.0.0.1", 8, None, 254, None)),
            "{all:?}"
        );

        let vip = addr(
            a0,
            "10.201.1.5",
            24,
            Some("10.201.1.255"),
            0,
            Some("a0:vip"),
        );
        let vip6 = addr(a0, "fd00:201::5", 64, None, 0, None);
        for a in [&vip, &vip6] {
            nl.add_address(a).await.expect("add");
            nl.add_address(a)
                .await
                .expect("adding again is not an error");
        }
        let have = nl.addresses(Some(a0)).await.expect("addresses");
        assert!(have.contains(&vip), "{have:?}");
        assert!(have.contains(&vip6), "{have:?}");
        a0
    });
    let shown = lab::ip_out(&["-n", &lab.a, "-o", "addr", "show", "dev", "a0"]);
    assert_line(
        &shown,
        "inet 10.201.1.5/24",
        &["brd 10.201.1.255", "scope global", "a0:vip"],
    );
    assert_line(&shown, "inet6 fd00:201::5/64", &["scope global", "nodad"]);

    run_in(&lab.a, move || async move {
        let nl = Netlink::new().await.expect("netlink");
        let vip = addr(
            a0,
            "10.201.1.5",
            24,
            Some("10.201.1.255"),
            0,
            Some("a0:vip"),
        );
        let vip6 = addr(a0, "fd00:201::5", 64, None, 0, None);
        for a in [&vip, &vip6] {
            nl.del_address(a).await.expect("delete");
            nl.del_address(a)
                .await
                .expect("deleting again is not an error");
        }
        let have = nl.addresses(Some(a0)).await.expect("addresses");
        assert!(!have.contains(&vip) && !have.contains(&vip6), "{have:?}");
    });
    let shown = lab::ip_out(&["-n", &lab.a, "addr", "show", "dev", "a0"]);
    assert!(
        !shown.contains("10.201.1.5") && !shown.contains("fd00:201::5"),
        "{shown}"
    );

    // No carrier once the peer is down.
    lab::ip(&["-n", &lab.b, "link", "set", "b0", "down"]);
    run_in(&lab.a, move || async move {
        let nl = Netlink::new().await.expect("netlink");
        let deadline = tokio::time::Instant::now() + WAIT;
        while nl.link_up(a0).await.expect("link_up") {
            assert!(tokio::time::Instant::now() < deadline, "a0 still up");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    });
}

/// Routes (gateway, source, metric, table over 255, blackhole, IPv6 on-link) and rules
/// (from, to, fwmark, iif, oif, priority, table) as `ip` then shows them, with
/// protocol keepalived; adding twice leaves one, deleting twice is not an error.
#[test]
fn netns_netlink_routes_and_rules() {
    if !have_root() {
        return;
    }
    let lab = Lab::new("route");
    let a0 = run_in(&lab.a, || async { ifindex("a0") });
    let routes = vec![
        Route {
            dst: "10.202.0.0".parse().expect("literal"),
            prefix_len: 16,
            gateway: Some(lab::B_V4.parse().expect("literal")),
            ifindex: Some(a0),
            src: Some(lab::A_V4.parse().expect("literal")),
            table: Some(100),
            metric: Some(10),
            scope: None,
            kind: None,
        },
        Route {
            dst: "10.203.0.0".parse().expect("literal"),
            prefix_len: 16,
            gateway: None,
            ifindex: None,
            src: None,
            table: Some(1000),
            metric: None,
            scope: None,
            kind: Some("blackhole".into()),
        },
        Route {
            dst: "fd00:202::".parse().expect("literal"),
            prefix_len: 64,
            gateway: None,
            ifindex: Some(a0),
            src: None,
            table: Some(100),
            metric: Some(20),
            scope: None,
            kind: None,
        },
    ];
    let rules = vec![
        Rule {
            v6: false,
            from: Some(("10.201.5.0".parse().expect("literal"), 24)),
            to: None,
            table: Some(100),
            priority: Some(1000),
            fwmark: Some(7),
            iif: Some("a0".into()),
            oif: None,
        },
        Rule {
            v6: true,
            from: None,
            to: Some(("fd00:205::".parse().expect("literal"), 64)),
            table: Some(1000),
            priority: Some(1001),
            fwmark: None,
            iif: None,
            oif: Some("a0".into()),
        },
    ];
    let (r2, u2) = (routes.clone(), rules.clone());
    run_in(&lab.a, move || async move {
        let nl = Netlink::new().await.expect("netlink");
        for r in &r2 {
            nl.add_route(r).await.expect("add route");
            nl.add_route(r).await.expect("adding again is not an error");
        }
        for r in &u2 {
            nl.add_rule(r).await.expect("add rule");
            nl.add_rule(r).await.expect("adding again is not an error");
        }
    });
    let a = lab.a.as_str();
    let t100 = lab::ip_out(&["-n", a, "route", "show", "table", "100"]);
    assert_line(
        &t100,
        "10.202.0.0/16",
        &[
            "via 10.201.0.2",
            "dev a0",
            "proto keepalived",
            "src 10.201.0.1",
            "metric 10",
        ],
    );
    let t1000 = lab::ip_out(&["-n", a, "route", "show", "table", "1000"]);
    assert_line(&t1000, "blackhole 10.203.0.0/16", &["proto keepalived"]);
    let t100v6 = lab::ip_out(&["-n", a, "-6", "route", "show", "table", "100"]);
    assert_line(
        &t100v6,
        "fd00:202::/64",
        &["dev a0", "proto keepalived", "metric 20"],
    );
    let rules4 = lab::ip_out(&["-n", a, "rule", "show"]);
    assert_eq!(rules4.matches("1000:").count(), 1, "{rules4}");
    assert_line(
        &rules4,
        "1000:",
        &[
            "from 10.201.5.0/24",
            "fwmark 0x7",
            "iif a0",
            "lookup 100",
            "proto keepalived",
        ],
    );
    let rules6 = lab::ip_out(&["-n", a, "-6", "rule", "show"]);
    assert_eq!(rules6.matches("1001:").count(), 1, "{rules6}");
    assert_line(
        &rules6,
        "1001:",
        &[
            "to fd00:205::/64",
            "oif a0",
            "lookup 1000",
            "proto keepalived",
        ],
    );

    run_in(&lab.a, move || async move {
        let nl = Netlink::new().await.expect("netlink");
        for r in &routes {
            nl.del_route(r).await.expect("delete route");
            nl.del_route(r)
                .await
                .expect("deleting again is not an error");
        }
        for r in &rules {
            nl.del_rule(r).await.expect("delete rule");
            nl.del_rule(r)
                .await
                .expect("deleting again is not an error");
        }
    });
    let t100 = lab::ip_out(&["-n", a, "route", "show", "table", "all"]);
    assert!(
        !t100.contains("10.202.0.0") && !t100.contains("10.203.0.0"),
        "{t100}"
    );
    let t6 = lab::ip_out(&["-n", a, "-6", "route", "show", "table", "all"]);
    assert!(!t6.contains("fd00:202::"), "{t6}");
    let r4 = lab::ip_out(&["-n", a, "rule", "show"]);
    let r6 = lab::ip_out(&["-n", a, "-6", "rule", "show"]);
    assert!(!r4.contains("1000:") && !r6.contains("1001:"), "{r4}{r6}");
}

/// Run `ip` from a lab thread (blocking; fine in a test).
fn ip_here(args: &[&str]) {
    lab::ip(args);
}

/// Wait (skipping other events) for the first event `want` accepts; return it and
/// everything seen before it.
async fn wait_for(
    m: &mut Monitor,
    what: &str,
    want: impl Fn(&LinkEvent) -> bool,
) -> (LinkEvent, Vec<LinkEvent>) {
    let mut before = Vec::new();
    loop {
        let e = tokio::time::timeout(Duration::from_secs(10), m.next())
            .await
            .unwrap_or_else(|_| panic!("no {what} within 10 s; saw {before:?}"))
            .expect("monitor");
        if want(&e) {
            return (e, before);
        }
        before.push(e);
    }
}

/// Monitor reports an added address, a link going down and up again (IFF_UP and
/// carrier), the address's removal, and an interface appearing, coming up (dummy:
/// operstate unknown counts as up) and being deleted; what existed when it started
/// is not reported.
#[test]
fn netns_monitor_sees_link_down_up_and_address_removal() {
    if !have_root() {
        return;
    }
    let lab = Lab::new("mon");
    let ns = lab.a.clone();
    run_in(&lab.a, move || async move {
        let a0 = ifindex("a0");
        let mut m = Monitor::new().expect("monitor");
        let vip = addr(a0, "10.201.9.9", 24, None, 0, Some("a0:mon"));
        let is_a0 = |e: &LinkEvent, want: bool| matches!(e, LinkEvent::Link { ifindex, name, up } if *ifindex == a0 && name == "a0" && *up == want);

        ip_here(&[
            "-n",
            &ns,
            "addr",
            "add",
            "10.201.9.9/24",
            "dev",
            "a0",
            "label",
            "a0:mon",
        ]);
        let (_, before) = wait_for(&mut m, "address added", |e| {
            *e == LinkEvent::AddressAdded(vip.clone())
        })
        .await;
        assert!(
            !before.iter().any(|e| matches!(e, LinkEvent::Link { .. })),
            "links that were already there are not reported: {before:?}"
        );

        ip_here(&["-n", &ns, "link", "set", "a0", "down"]);
        let (_, before) = wait_for(&mut m, "a0 down", |e| is_a0(e, false)).await;
        assert!(!before.iter().any(|e| is_a0(e, true)), "{before:?}");
        ip_here(&["-n", &ns, "link", "set", "a0", "up"]);
        let (_, before) = wait_for(&mut m, "a0 up", |e| is_a0(e, true)).await;
        assert!(!before.iter().any(|e| is_a0(e, false)), "{before:?}");

        ip_here(&["-n", &ns, "addr", "del", "10.201.9.9/24", "dev", "a0"]);
        wait_for(&mut m, "address removed", |e| {
            *e == LinkEvent::AddressRemoved(vip.clone())
        })
        .await;

        // A new interface is reported (down), comes up only with carrier (its peer
        // up too), and is reported down when deleted.
        ip_here(&[
            "-n", &ns, "link", "add", "d0", "type", "veth", "peer", "name", "d1",
        ]);
        let (d0, _) = wait_for(
            &mut m,
            "d0 appears",
            |e| matches!(e, LinkEvent::Link { name, up: false, .. } if name == "d0"),
        )
        .await;
        let LinkEvent::Link { ifindex: d0, .. } = d0 else {
            unreachable!()
        };
        let d0_is = |e: &LinkEvent, want: bool| matches!(e, LinkEvent::Link { ifindex, name, up } if *ifindex == d0 && name == "d0" && *up == want);
        ip_here(&["-n", &ns, "link", "set", "d0", "up"]);
        ip_here(&["-n", &ns, "link", "set", "d1", "up"]);
        let (_, before) = wait_for(&mut m, "d0 up", |e| d0_is(e, true)).await;
        // IFF_UP alone (before d1 was up) did not count as up.
        assert!(!before.iter().any(|e| d0_is(e, false)), "{before:?}");
        ip_here(&["-n", &ns, "link", "del", "d0"]);
        wait_for(&mut m, "d0 gone", |e| d0_is(e, false)).await;

        // Loopback's operstate is UNKNOWN, which counts as up.
        ip_here(&["-n", &ns, "link", "set", "lo", "down"]);
        wait_for(
            &mut m,
            "lo down",
            |e| matches!(e, LinkEvent::Link { name, up: false, .. } if name == "lo"),
        )
        .await;
        ip_here(&["-n", &ns, "link", "set", "lo", "up"]);
        wait_for(
            &mut m,
            "lo up",
            |e| matches!(e, LinkEvent::Link { name, up: true, .. } if name == "lo"),
        )
        .await;
    });
}

/// When notifications overflow the socket (ENOBUFS) while nobody reads them, the
/// monitor reads the state afresh: each of 3000 addresses added meanwhile is still
/// reported, once.
#[test]
fn netns_monitor_recovers_from_overflow() {
    if !have_root() {
        return;
    }
    let lab = Lab::new("ovf");
    let ns = lab.a.clone();
    let batch = std::env::temp_dir().join(format!("kus{}-ovf.batch", std::process::id()));
    let mut lines = String::new();
    for i in 0..3000u32 {
        lines += &format!("address add 10.210.{}.{}/32 dev a0\n", i / 250, i % 250 + 1);
    }
    std::fs::write(&batch, lines).expect("batch file");
    let path = batch.to_string_lossy().into_owned();
    run_in(&lab.a, move || async move {
        let a0 = ifindex("a0");
        let mut m = Monitor::new().expect("monitor");
        // Nobody reads the monitor while the kernel sends 3000 notifications.
        ip_here(&["-n", &ns, "-batch", &path]);
        let mut seen = std::collections::HashSet::new();
        while seen.len() < 3000 {
            let e = tokio::time::timeout(Duration::from_secs(10), m.next())
                .await
                .unwrap_or_else(|_| panic!("only {} of 3000 addresses reported", seen.len()))
                .expect("monitor");
            if let LinkEvent::AddressAdded(a) = e {
                if a.ifindex == a0 && a.prefix_len == 32 {
                    assert!(seen.insert(a.addr), "{} reported twice", a.addr);
                }
            }
        }
    });
    let _ = std::fs::remove_file(&batch);
}

/// FrameSender in A puts a gratuitous ARP and an unsolicited NA (as keepup-wire builds
/// them) on a0; an AF_PACKET receiver in B (whose only other interface is lo) sees
/// both frames octet for octet.
#[test]
fn netns_frame_sender_frames_reach_the_peer() {
    if !have_root() {
        return;
    }
    let lab = Lab::new("frame");
    let mac = MacAddr([2, 0, 0x5e, 0xc9, 0, 0x0a]);
    let garp = arp::Repr::gratuitous(mac, v4("10.201.0.100"))
        .emit()
        .to_vec();
    let na = ndisc::Repr::unsolicited(mac, v6(lab::A_LL), v6("fd00:201::100"), true).emit();
    let want = vec![garp.clone(), na.clone()];
    let (ready_tx, ready_rx) = mpsc::channel();
    let rx = in_ns(&lab.b, move || async move {
        use std::io::Read;
        let all = (libc::ETH_P_ALL as u16).to_be();
        let s = socket2::Socket::new(
            socket2::Domain::PACKET,
            socket2::Type::RAW,
            Some(socket2::Protocol::from(i32::from(all))),
        )
        .expect("AF_PACKET receiver");
        s.set_read_timeout(Some(Duration::from_millis(200)))
            .expect("timeout");
        ready_tx.send(()).expect("ready");
        let mut missing = want;
        let deadline = std::time::Instant::now() + WAIT;
        let mut buf = [0u8; 2048];
        while !missing.is_empty() && std::time::Instant::now() < deadline {
            if let Ok(n) = (&s).read(&mut buf) {
                missing.retain(|f| f[..] != buf[..n]);
            }
        }
        missing
    });
    ready_rx.recv_timeout(WAIT).expect("receiver ready");
    run_in(&lab.a, move || async move {
        let a0 = ifindex("a0");
        let f = FrameSender::new().expect("AF_PACKET sender");
        f.send(a0, &garp).expect("send GARP");
        f.send(a0, &na).expect("send NA");
        assert!(f.send(a0, &[0u8; 10]).is_err(), "no Ethernet header");
    });
    let missing = join(rx);
    assert!(missing.is_empty(), "not seen on b0: {missing:02x?}");
}

/// The ARP listener starts deaf (a host that holds no VIP has no claim to check).
/// Listening, it hears another host's gratuitous ARP, but neither what was queued
/// before (stale), nor that host's probe (sender 0.0.0.0), nor a frame it sent itself.
#[test]
fn netns_arp_listener_hears_claims_only_when_listening() {
    if !have_root() {
        return;
    }
    let lab = Lab::new("arpl");
    let mac_a = MacAddr([2, 0, 0x5e, 0xc9, 0, 0x0a]);
    let mac_b = MacAddr([2, 0, 0x5e, 0xc9, 0, 0x0b]);
    let (step_tx, step_rx) = mpsc::channel::<()>();
    let (b_tx, b_rx) = mpsc::channel::<&str>();
    let rx = in_ns(&lab.b, move || async move {
        let l = keepup_sys::ArpListener::new().expect("ARP listener");
        b_tx.send("deaf").expect("step");
        step_rx.recv_timeout(WAIT).expect("A claimed .100");
        tokio::time::sleep(Duration::from_millis(100)).await;
        l.listen(true).expect("listen");
        let own = arp::Repr::gratuitous(mac_b, v4("10.201.0.102")).emit();
        FrameSender::new()
            .expect("sender")
            .send(ifindex("b0"), &own)
            .expect("send our own GARP");
        b_tx.send("listening").expect("step");
        let mut heard = Vec::new();
        while let Ok(r) = tokio::time::timeout(Duration::from_millis(500), l.recv()).await {
            let (_, frame) = r.expect("recv");
            heard.push(arp::Repr::parse(&frame).expect("an ARP frame").sender_ip);
        }
        heard
    });
    let send = |frame: Vec<u8>| {
        run_in(&lab.a, move || async move {
            FrameSender::new()
                .expect("sender")
                .send(ifindex("a0"), &frame)
                .expect("send");
        });
    };
    assert_eq!(b_rx.recv_timeout(WAIT), Ok("deaf"));
    send(
        arp::Repr::gratuitous(mac_a, v4("10.201.0.100"))
            .emit()
            .to_vec(),
    );
    step_tx.send(()).expect("step");
    assert_eq!(b_rx.recv_timeout(WAIT), Ok("listening"));
    let probe = arp::Repr {
        eth_src: mac_a,
        eth_dst: MacAddr::BROADCAST,
        operation: 1,
        sender_mac: mac_a,
        sender_ip: Ipv4Addr::UNSPECIFIED,
        target_mac: MacAddr::default(),
        target_ip: v4("10.201.0.101"),
    };
    send(probe.emit().to_vec());
    send(
        arp::Repr::gratuitous(mac_a, v4("10.201.0.101"))
            .emit()
            .to_vec(),
    );
    assert_eq!(join(rx), vec![v4("10.201.0.101")]);
}
