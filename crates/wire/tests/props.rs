//! Property tests: no parser panics on any input, and every valid Repr survives
//! emit → parse unchanged (VRRP v2/v3, IPv4/IPv6, both v3/IPv4 checksum forms, auth;
//! IPv4 + AH; ARP; NA).
#![allow(clippy::unwrap_used)] // strategies and helpers: a failure is a test failure
use keepup_wire::vrrp::{self, AuthType, ChecksumForm, IpPair, Repr, Version};
use keepup_wire::{ah, arp, checksum, ipv4, ndisc, MacAddr};
use proptest::prelude::*;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

fn any_v4() -> impl Strategy<Value = Ipv4Addr> {
    any::<u32>().prop_map(Ipv4Addr::from)
}

fn any_v6() -> impl Strategy<Value = Ipv6Addr> {
    any::<u128>().prop_map(Ipv6Addr::from)
}

fn any_pair(v6: bool) -> BoxedStrategy<IpPair> {
    if v6 {
        (any_v6(), any_v6())
            .prop_map(|(s, d)| IpPair {
                src: s.into(),
                dst: d.into(),
            })
            .boxed()
    } else {
        (any_v4(), any_v4())
            .prop_map(|(s, d)| IpPair {
                src: s.into(),
                dst: d.into(),
            })
            .boxed()
    }
}

fn any_form() -> impl Strategy<Value = ChecksumForm> {
    prop_oneof![
        Just(ChecksumForm::PseudoHeader),
        Just(ChecksumForm::MessageOnly)
    ]
}

fn any_mac() -> impl Strategy<Value = MacAddr> {
    any::<[u8; 6]>().prop_map(MacAddr)
}

/// A valid advert with the IP addresses that carry it.
fn valid_advert() -> impl Strategy<Value = (Repr, IpPair)> {
    let v2 = (
        1u8..=255,
        any::<u8>(),
        1u16..=255,
        any::<u8>(),
        any::<[u8; 8]>(),
        prop::collection::vec(any_v4(), 0..=20),
        any_pair(false),
    )
        .prop_map(|(vrid, priority, interval, auth, auth_data, addrs, pair)| {
            (
                Repr {
                    version: Version::V2,
                    vrid,
                    priority,
                    interval,
                    // Through From<u8>, so Unknown(n) never shadows a named type.
                    auth_type: AuthType::from(auth),
                    auth_data,
                    addresses: addrs.into_iter().map(IpAddr::V4).collect(),
                },
                pair,
            )
        });
    let v3_4 = (
        1u8..=255,
        any::<u8>(),
        1u16..=4095,
        prop::collection::vec(any_v4(), 1..=20),
        any_pair(false),
    )
        .prop_map(|(vrid, priority, interval, addrs, pair)| {
            (
                v3(vrid, priority, interval, addrs.into_iter().map(IpAddr::V4)),
                pair,
            )
        });
    let v3_6 = (
        1u8..=255,
        any::<u8>(),
        1u16..=4095,
        prop::collection::vec(any_v6(), 1..=10),
        any_pair(true),
    )
        .prop_map(|(vrid, priority, interval, addrs, pair)| {
            (
                v3(vrid, priority, interval, addrs.into_iter().map(IpAddr::V6)),
                pair,
            )
        });
    prop_oneof![v2, v3_4, v3_6]
}

fn v3(vrid: u8, priority: u8, interval: u16, addrs: impl Iterator<Item = IpAddr>) -> Repr {
    Repr {
        version: Version::V3,
        vrid,
        priority,
        interval,
        auth_type: AuthType::None,
        auth_data: [0; 8],
        addresses: addrs.collect(),
    }
}

/// Every parser and accessor over the same bytes.
fn poke_everything(data: &[u8]) {
    for pair in [
        IpPair {
            src: Ipv4Addr::new(10, 0, 0, 1).into(),
            dst: vrrp::MCAST_V4.into(),
        },
        IpPair {
            src: "fe80::1".parse::<Ipv6Addr>().unwrap().into(),
            dst: vrrp::MCAST_V6.into(),
        },
        IpPair {
            src: Ipv4Addr::new(10, 0, 0, 1).into(),
            dst: vrrp::MCAST_V6.into(),
        },
    ] {
        let p = vrrp::Packet::new_unchecked(data);
        let _ = Repr::parse(&p, pair);
        let _ = p.verify_checksum(pair);
        for v6 in [false, true] {
            let _ = p.check_len(v6);
            let _ = (p.message_len(v6), p.addresses_raw(v6), p.address(0, v6));
        }
        let _ = (
            p.version_raw(),
            p.type_raw(),
            p.vrid(),
            p.priority(),
            p.count(),
        );
        let _ = (p.interval(), p.auth_type(), p.checksum(), p.auth_data());
    }
    let ip = ipv4::Packet::new_unchecked(data);
    let _ = ip.check_len();
    let _ = (ip.header_len(), ip.total_len(), ip.ttl(), ip.protocol());
    let _ = (
        ip.src(),
        ip.dst(),
        ip.payload(),
        ip.verify_header_checksum(),
    );
    if let Ok(adv) = ipv4::parse_advert(data) {
        let pair = IpPair {
            src: adv.src.into(),
            dst: adv.dst.into(),
        };
        let _ = Repr::parse(&vrrp::Packet::new_unchecked(adv.vrrp), pair);
    }
    let _ = ah::verify(data, b"secret");
    let _ = ah::compute_icv(data, b"");
    let _ = ah::parse(data);
    let a = ah::Packet::new_unchecked(data);
    let _ = (a.check_len(), a.header_len(), a.spi(), a.seq(), a.icv());
    let _ = arp::Repr::parse(data);
    let _ = ndisc::Repr::parse(data);
    let _ = checksum::checksum(data);
}

proptest! {
    /// Ledger: RX-04 — "Never read past the buffer": random bytes into every
    /// parser and accessor never panic.
    #[test]
    fn random_bytes_never_panic(data in prop::collection::vec(any::<u8>(), 0..300)) {
        poke_everything(&data);
    }

    /// Random damage to a valid IPv4 advert (with or without AH) never panics
    /// either: this reaches deeper than uniform noise.
    #[test]
    fn damaged_adverts_never_panic(
        (repr, _) in valid_advert(),
        ah_on in any::<bool>(),
        edits in prop::collection::vec((any::<usize>(), any::<u8>()), 1..6),
        cut in any::<usize>(),
    ) {
        let pair = IpPair { src: Ipv4Addr::new(10, 0, 0, 1).into(), dst: vrrp::MCAST_V4.into() };
        let mut repr = repr;
        if repr.addresses.iter().any(|a| a.is_ipv6()) {
            repr.addresses = vec![Ipv4Addr::new(10, 0, 0, 100).into()];
        }
        let msg = repr.to_bytes(pair, ChecksumForm::PseudoHeader).unwrap();
        let header = ipv4::Repr {
            src: Ipv4Addr::new(10, 0, 0, 1), dst: vrrp::MCAST_V4, protocol: 0,
            ttl: 255, ident: 1, tos: 0xc0, payload_len: 0,
        };
        let a = ah_on.then_some((ah::Repr { spi: 1, seq: 1 }, &b"k"[..]));
        let mut packet = ipv4::emit_advert(header, a, &msg);
        for (at, v) in edits {
            let n = packet.len();
            packet[at % n] = v;
        }
        packet.truncate(cut % (packet.len() + 1));
        poke_everything(&packet);
        poke_everything(packet.get(20..).unwrap_or(&[]));
    }

    /// Ledger: PKT-03
    /// Ledger: PKT-06
    /// Ledger: PKT-07
    /// Ledger: PKT-08
    /// Ledger: PKT-09
    /// Ledger: PKT-10
    /// Ledger: AUTH-01
    /// Ledger: AUTH-04
    /// Every valid Repr emits and parses back to itself, in every checksum form.
    #[test]
    fn valid_reprs_round_trip((repr, pair) in valid_advert(), form in any_form()) {
        let bytes = repr.to_bytes(pair, form).unwrap();
        prop_assert_eq!(bytes.len(), repr.buffer_len());
        let v6 = pair.src.is_ipv6();
        let p = vrrp::Packet::new_checked(&bytes[..], v6).unwrap();
        let (back, info) = Repr::parse(&p, pair).unwrap();
        prop_assert_eq!(&back, &repr);
        prop_assert_eq!(info.trailing, 0);
        let expected = match (repr.version, v6) {
            (Version::V3, false) => form,
            _ => ChecksumForm::PseudoHeader,
        };
        if info.checksum_form != expected {
            // Only possible when the IPv4 pseudo-header sums to -0: both forms verify.
            let (IpAddr::V4(s), IpAddr::V4(d)) = (pair.src, pair.dst) else { unreachable!() };
            let ps = checksum::pseudo_v4(s, d, vrrp::PROTOCOL, bytes.len() as u16);
            prop_assert_eq!(checksum::finish(ps), 0);
        }
        // And emits the same octets again.
        prop_assert_eq!(back.to_bytes(pair, form).unwrap(), bytes);
    }

    /// Ledger: AUTH-03 — emit_advert → parse_advert gives back the header fields,
    /// the AH fields and the VRRP message; the ICV verifies with the key and not
    /// with another.
    #[test]
    fn ipv4_advert_round_trip(
        (repr, _) in valid_advert(),
        src in any_v4(),
        dst in any_v4(),
        ttl in any::<u8>(),
        ident in any::<u16>(),
        tos in any::<u8>(),
        ah_fields in prop::option::of((any::<u32>(), any::<u32>())),
        key in prop::collection::vec(any::<u8>(), 0..32),
    ) {
        let pair = IpPair { src: src.into(), dst: dst.into() };
        let mut repr = repr;
        if repr.version == Version::V3 || repr.addresses.iter().any(|a| a.is_ipv6()) {
            repr = Repr { version: Version::V2, auth_type: AuthType::Ah, interval: 1,
                addresses: vec![Ipv4Addr::new(10, 0, 0, 100).into()], ..repr };
        }
        let msg = repr.to_bytes(pair, ChecksumForm::PseudoHeader).unwrap();
        let header = ipv4::Repr { src, dst, protocol: 0, ttl, ident, tos, payload_len: 0 };
        let a = ah_fields.map(|(spi, seq)| (ah::Repr { spi, seq }, &key[..]));
        let packet = ipv4::emit_advert(header, a, &msg);
        let ip = ipv4::Packet::new_checked(&packet[..]).unwrap();
        prop_assert!(ip.verify_header_checksum());
        prop_assert_eq!(ip.tos(), tos);
        prop_assert_eq!(ip.ident(), ident);
        let adv = ipv4::parse_advert(&packet).unwrap();
        prop_assert_eq!(adv.src, src);
        prop_assert_eq!(adv.dst, dst);
        prop_assert_eq!(adv.ttl, ttl);
        prop_assert_eq!(adv.vrrp, &msg[..]);
        prop_assert_eq!(adv.ah, a.map(|(r, _)| r));
        let (back, _) = Repr::parse(&vrrp::Packet::new_unchecked(adv.vrrp), pair).unwrap();
        prop_assert_eq!(back, repr);
        if a.is_some() {
            prop_assert_eq!(ah::verify(&packet, &key), Ok(()));
            let mut other = key.clone();
            other.push(1);
            prop_assert!(ah::verify(&packet, &other).is_err());
        } else {
            prop_assert!(ah::verify(&packet, &key).is_err());
        }
    }

    /// Ledger: ARP-01 (frame) — any ARP Repr round trips through 42 octets.
    #[test]
    fn arp_round_trip(
        eth_src in any_mac(), eth_dst in any_mac(), operation in any::<u16>(),
        sender_mac in any_mac(), sender_ip in any_v4(), target_mac in any_mac(), target_ip in any_v4(),
    ) {
        let r = arp::Repr { eth_src, eth_dst, operation, sender_mac, sender_ip, target_mac, target_ip };
        prop_assert_eq!(arp::Repr::parse(&r.emit()).unwrap(), r);
    }

    /// Ledger: ARP-03 (frame) — any NA Repr round trips, checksum included.
    #[test]
    fn na_round_trip(
        eth_src in any_mac(), eth_dst in any_mac(), src in any_v6(), dst in any_v6(),
        hop_limit in any::<u8>(), router in any::<bool>(), solicited in any::<bool>(),
        override_ in any::<bool>(), target in any_v6(), target_mac in prop::option::of(any_mac()),
    ) {
        let r = ndisc::Repr { eth_src, eth_dst, src, dst, hop_limit, router, solicited, override_, target, target_mac };
        let frame = r.emit();
        prop_assert_eq!(frame.len(), r.buffer_len());
        prop_assert_eq!(ndisc::Repr::parse(&frame).unwrap(), r);
    }
}
