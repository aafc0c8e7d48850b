//! Fuzzes every keepup-wire parser over arbitrary bytes: VRRP (v2/v3, IPv4 and IPv6
//! address sizes, both v3/IPv4 checksum forms), IPv4 + AH (parse and ICV check), ARP
//! and NA frames. Whatever parses must re-emit and parse back to the same value.
//!
//! Run: cargo fuzz run wire --sanitizer none -- -max_total_time=300
#![no_main]

use keepup_wire::vrrp::{self, ChecksumForm, IpPair, Repr};
use keepup_wire::{ah, arp, ipv4, ndisc};
use libfuzzer_sys::fuzz_target;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Parse `msg` as VRRP under `pair`; what parses must emit and parse back equal.
fn vrrp_round_trip(msg: &[u8], pair: IpPair) {
    let p = vrrp::Packet::new_unchecked(msg);
    let _ = p.verify_checksum(pair);
    let _ = (p.interval(), p.auth_data(), p.address(0, pair.src.is_ipv6()));
    if let Ok((repr, info)) = Repr::parse(&p, pair) {
        assert!(info.trailing <= msg.len());
        if let Ok(bytes) = repr.to_bytes(pair, info.checksum_form) {
            let (again, _) = Repr::parse(&vrrp::Packet::new_unchecked(&bytes[..]), pair)
                .expect("an emitted advert parses");
            assert_eq!(again, repr);
        }
    }
}

fuzz_target!(|data: &[u8]| {
    // The first octet picks the pseudo-header addresses; the rest is the packet.
    let (sel, body) = match data.split_first() {
        Some((s, b)) => (*s, b),
        None => (0, data),
    };
    let v4 = IpPair {
        src: IpAddr::V4(Ipv4Addr::new(10, 0, 0, sel)),
        dst: if sel & 1 == 0 {
            IpAddr::V4(vrrp::MCAST_V4)
        } else {
            IpAddr::V4(Ipv4Addr::new(10, 0, 0, 2))
        },
    };
    let v6 = IpPair {
        src: IpAddr::V6(Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, u16::from(sel))),
        dst: IpAddr::V6(vrrp::MCAST_V6),
    };
    vrrp_round_trip(body, v4);
    vrrp_round_trip(body, v6);
    // Emit a well-formed v3/IPv4 checksum over the body so the fuzzer gets past the
    // checksum to the later checks.
    let mut fixed = body.to_vec();
    let mut p = vrrp::Packet::new_unchecked(&mut fixed[..]);
    let form = if sel & 2 == 0 {
        ChecksumForm::PseudoHeader
    } else {
        ChecksumForm::MessageOnly
    };
    if p.fill_checksum(v4, form).is_ok() {
        vrrp_round_trip(&fixed, v4);
    }

    if let Ok(adv) = ipv4::parse_advert(body) {
        let pair = IpPair {
            src: adv.src.into(),
            dst: adv.dst.into(),
        };
        vrrp_round_trip(adv.vrrp, pair);
        if adv.ah.is_some() {
            let _ = ah::verify(body, b"secret");
        }
    }
    let _ = ah::compute_icv(body, &data[..data.len().min(8)]);
    let _ = ah::parse(body);
    let ip = ipv4::Packet::new_unchecked(body);
    let _ = (ip.payload(), ip.verify_header_checksum());

    if let Ok(r) = arp::Repr::parse(body) {
        assert_eq!(arp::Repr::parse(&r.emit()), Ok(r));
    }
    if let Ok(r) = ndisc::Repr::parse(body) {
        assert_eq!(ndisc::Repr::parse(&r.emit()), Ok(r));
    }
});
