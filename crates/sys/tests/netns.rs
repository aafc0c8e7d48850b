//! keepup-sys against the real kernel, in network namespaces (root). Each test builds
//! its own two-namespace lab (see `lab`) and removes it afterwards; nothing runs in
//! the host's namespace. Adverts are built with keepup-wire, as the engine builds them.

mod lab;

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::mpsc;
use std::time::Duration;

use keepup_sys::VrrpSocket;
use keepup_wire::vrrp::{self, AuthType, ChecksumForm, IpPair, Version};
use keepup_wire::{ah, ipv4};
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
        let ifb = ifindex("b0");
        let s = VrrpSocket::open_v4(false).expect("open v4");
        s.join(GROUP_V4.into(), ifb).expect("join");
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
        let ifb = ifindex("b0");
        let s = VrrpSocket::open_v4(true).expect("open v4 with AH");
        s.join(GROUP_V4.into(), ifb).expect("join");
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

/// A v6 advert sent by VrrpSocket in A from its link-local reaches VrrpSocket in B with
/// source, destination, hop limit 255 and b0's ifindex from ancillary data, and the
/// checksum the engine computed (the kernel adds none). A second, unicast send with
/// ttl 64 arrives with hop limit 64: the hop limit is set per send.
#[test]
fn netns_v6_advert_crosses_veth_with_hop_limit_255_from_the_link_local() {
    if !have_root() {
        return;
    }
    let lab = Lab::new("v6");
    let (ready_tx, ready_rx) = mpsc::channel();
    let rx = in_ns(&lab.b, move || async move {
        let ifb = ifindex("b0");
        let s = VrrpSocket::open_v6().expect("open v6");
        s.join(GROUP_V6.into(), ifb).expect("join");
        s.join(GROUP_V6.into(), ifb)
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

    let (a, b) = (v6(lab::A_LL), v6(lab::B_LL));
    let mcast = vrrp_message(Version::V3, AuthType::None, a.into(), GROUP_V6.into());
    let ucast = vrrp_message(Version::V3, AuthType::None, a.into(), b.into());
    let sent = (mcast.clone(), ucast.clone());
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
        let own = tokio::time::timeout(Duration::from_millis(300), s.recv()).await;
        assert!(own.is_err(), "our own advert came back: {own:?}");
    });

    let (ifb, got) = join(rx);
    for (r, (want, dst, hops)) in got.iter().zip([(&mcast, GROUP_V6, 255u8), (&ucast, b, 64)]) {
        assert_eq!(r.ifindex, ifb, "reported on b0");
        assert_eq!(r.v6, Some((a, dst, hops)));
        assert_eq!(&r.data, want, "the VRRP message as sent");
        let p = vrrp::Packet::new_checked(&r.data[..], true).expect("VRRP length");
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
