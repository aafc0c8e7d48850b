//! Byte fixtures: frames keepalived 2.2.7 really sent, and the four tests per format
//! (deconstruct with the views, construct with the Reprs, parse, emit round trip).
//!
//! How they were made: `crates/wire/tests/fixtures/capture.sh` (re-run it to get
//! them again), 2026-11-21 by the lab clock, Debian 12, keepalived v2.2.7 (the
//! Debian package, "Keepalived v2.2.7 (01/16,2022)"), Linux 6.18. keepalived ran in
//! namespace `kuwPID-a` as
//! `ip netns exec kuwPID-a keepalived -n -l -D -f CONF -p PIDFILE -r VRRPPID -c CHECKERSPID`
//! on one end of a veth pair (MAC 02:00:00:00:0a:01, 10.1.0.1/24, fd00:1::1/64,
//! link-local fe80::ff:fe00:a01); `tcpdump -i <veth> -w` ran on the other end
//! (02:00:00:00:0b:01, 10.1.0.2/24) in `kuwPID-b`. Every config is one
//! `vrrp_instance` with `state MASTER`, `interface <veth>`, `virtual_router_id 51`,
//! `priority 150`, `advert_int 1`, `vrrp_garp_master_repeat 1` and, per case:
//!
//! | const          | vrrp_version | extra                                   | VIPs                          |
//! |----------------|--------------|-----------------------------------------|-------------------------------|
//! | V2_NONE        | 2            | –                                       | 10.1.0.100/24                 |
//! | V2_THREE       | 2            | –                                       | 10.1.0.100, .101, .102 /24    |
//! | V2_PASS        | 2            | `auth_type PASS`, `auth_pass secret`    | 10.1.0.100/24                 |
//! | V2_AH_*        | 2            | `auth_type AH`, `auth_pass secret`      | 10.1.0.100/24                 |
//! | V2_AH_UNICAST  | 2            | AH as above + `unicast_src_ip 10.1.0.1`, `unicast_peer { 10.1.0.2 }` | 10.1.0.100/24 |
//! | V3_V4          | 3            | –                                       | 10.1.0.100/24                 |
//! | V3_V6          | 3            | –                                       | fe80::100/64, fd00:1::100/64  |
//! | V3_UNICAST     | 3            | `unicast_src_ip 10.1.0.1`, `unicast_peer { 10.1.0.2 }` | 10.1.0.100/24  |
//! | NA_*_FWD       | 3            | as V3_V6, `net.ipv6.conf.all.forwarding=1` | as V3_V6                   |
//!
//! Every hex string is a whole Ethernet frame as tcpdump saw it.
#![allow(clippy::unwrap_used)] // helpers over fixed fixtures: a failure is a test failure
use keepup_wire::vrrp::{self, AuthType, ChecksumForm, IpPair, Repr, Version};
use keepup_wire::{ah, arp, ipv4, ndisc, Error, MacAddr};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

// --- the captures -----------------------------------------------------------------

/// v2, no auth, first advert after the transition to MASTER (ident 1).
const V2_NONE: &str = "01005e000012020000000a01080045c0002800010000ff70d0900a010001e00000122133960100013e650a0100640000000000000000";
/// v2, no auth, the priority-0 advert keepalived sends when it stops (ident 4).
const V2_NONE_PRIO0: &str = "01005e000012020000000a01080045c0002800040000ff70d08d0a010001e0000012213300010001d4650a0100640000000000000000";
/// v2, no auth, three VIPs.
const V2_THREE: &str = "01005e000012020000000a01080045c0003000010000ff70d0880a010001e000001221339603000129960a0100640a0100650a0100660000000000000000";
/// v2, auth_type PASS, auth_pass secret.
const V2_PASS: &str = "01005e000012020000000a01080045c0002800010000ff70d0900a010001e000001221339601010101190a0100647365637265740000";
/// v2, auth_type AH, auth_pass secret: the first three adverts (seq 1, 2, 3).
const V2_AH_1: &str = "01005e000012020000000a01080045c0004000010000ff33d0b50a010001e0000012700400000a0100010000000152d4869e28880a9ea9d55f362133960102013c650a0100640000000000000000";
const V2_AH_2: &str = "01005e000012020000000a01080045c0004000020000ff33d0b40a010001e0000012700400000a0100010000000260dabf5332a9ce8aa610118e2133960102013c650a0100640000000000000000";
const V2_AH_3: &str = "01005e000012020000000a01080045c0004000030000ff33d0b30a010001e0000012700400000a01000100000003f4d8505ea7a2dc727f9a6e5f2133960102013c650a0100640000000000000000";
/// v2, AH, the priority-0 advert at shutdown (seq 4).
const V2_AH_PRIO0: &str = "01005e000012020000000a01080045c0004000040000ff33d0b20a010001e0000012700400000a0100010000000439bdf9ea5b516c61bab4de3e213300010201d2650a0100640000000000000000";
/// v2, AH, unicast to 10.1.0.2 (seq 1).
const V2_AH_UNICAST: &str = "020000000b01020000000a01080045c0004000010000ff33a6c50a0100010a010002700400000a0100010000000111f5f547aa5ae5fd34b84edc2133960102013c650a0100640000000000000000";
/// v3 over IPv4, advert_int 1 s = 100 cs.
const V3_V4: &str =
    "01005e000012020000000a01080045c0002000010000ff70d0980a010001e000001231339601006443710a010064";
/// v3 over IPv6 (traffic class 0xc0, hop limit 255), link-local VIP first.
const V3_V6: &str = "333300000012020000000a0186dd6c0109e8002870fffe80000000000000000000fffe000a01ff02000000000000000000000000001231339602006433b4fe800000000000000000000000000100fd000001000000000000000000000100";
/// v3 over IPv4, unicast from 10.1.0.1 to 10.1.0.2.
const V3_UNICAST: &str =
    "020000000b01020000000a01080045c0002000010000ff70a6a80a0100010a01000231339601006419810a010064";
/// Gratuitous ARP for 10.1.0.100.
const GARP: &str =
    "ffffffffffff020000000a0108060001080006040001020000000a010a010064ffffffffffff0a010064";
/// Unsolicited NAs for fe80::100 and fd00:1::100, IPv6 forwarding off (R=0).
const NA_LL: &str = "333300000001020000000a0186dd6000000000203afffe800000000000000000000000000100ff02000000000000000000000000000188004b9d20000000fe8000000000000000000000000001000201020000000a01";
const NA_GLOBAL: &str = "333300000001020000000a0186dd6000000000203afffd000001000000000000000000000100ff02000000000000000000000000000188004e9b20000000fd0000010000000000000000000001000201020000000a01";
/// The same NAs with IPv6 forwarding on (R=1).
const NA_LL_FWD: &str = "333300000001020000000a0186dd6000000000203afffe800000000000000000000000000100ff0200000000000000000000000000018800cb9ca0000000fe8000000000000000000000000001000201020000000a01";
const NA_GLOBAL_FWD: &str = "333300000001020000000a0186dd6000000000203afffd000001000000000000000000000100ff0200000000000000000000000000018800ce9aa0000000fd0000010000000000000000000001000201020000000a01";

// --- helpers ----------------------------------------------------------------------

const ETH: usize = 14;
const KA_MAC: MacAddr = MacAddr([0x02, 0, 0, 0, 0x0a, 0x01]);
const KA_V4: Ipv4Addr = Ipv4Addr::new(10, 1, 0, 1);
const PEER_V4: Ipv4Addr = Ipv4Addr::new(10, 1, 0, 2);
const VIP: Ipv4Addr = Ipv4Addr::new(10, 1, 0, 100);

fn hex(s: &str) -> Vec<u8> {
    assert!(s.len().is_multiple_of(2));
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

/// The IPv4 packet of an IPv4 frame.
fn ip(frame: &str) -> Vec<u8> {
    hex(frame)[ETH..].to_vec()
}

/// The VRRP message of an IPv4 frame (after the AH header if any) and its IpPair.
fn vrrp_v4(frame: &str) -> (Vec<u8>, IpPair) {
    let packet = ip(frame);
    let adv = ipv4::parse_advert(&packet).unwrap();
    let pair = IpPair {
        src: adv.src.into(),
        dst: adv.dst.into(),
    };
    (adv.vrrp.to_vec(), pair)
}

fn ka_ll() -> Ipv6Addr {
    "fe80::ff:fe00:a01".parse().unwrap()
}

/// The VRRP message of the IPv6 frame and its IpPair (read from the IPv6 header).
fn vrrp_v6(frame: &str) -> (Vec<u8>, IpPair) {
    let f = hex(frame);
    assert_eq!(&f[12..14], &[0x86, 0xdd]);
    assert_eq!(f[ETH + 6], vrrp::PROTOCOL, "next header");
    assert_eq!(f[ETH + 7], 255, "hop limit");
    let src = Ipv6Addr::from(<[u8; 16]>::try_from(&f[ETH + 8..ETH + 24]).unwrap());
    let dst = Ipv6Addr::from(<[u8; 16]>::try_from(&f[ETH + 24..ETH + 40]).unwrap());
    let plen = u16::from_be_bytes([f[ETH + 4], f[ETH + 5]]) as usize;
    let msg = f[ETH + 40..ETH + 40 + plen].to_vec();
    (
        msg,
        IpPair {
            src: src.into(),
            dst: dst.into(),
        },
    )
}

fn parse(msg: &[u8], pair: IpPair) -> Result<(Repr, vrrp::ParseInfo), Error> {
    Repr::parse(&vrrp::Packet::new_unchecked(msg), pair)
}

fn header(dst: Ipv4Addr, ident: u16) -> ipv4::Repr {
    ipv4::Repr {
        src: KA_V4,
        dst,
        protocol: 0,
        ttl: 255,
        ident,
        tos: 0xc0,
        payload_len: 0,
    }
}

fn v2(priority: u8, addresses: &[Ipv4Addr], auth_type: AuthType, auth_data: [u8; 8]) -> Repr {
    Repr {
        version: Version::V2,
        vrid: 51,
        priority,
        interval: 1,
        auth_type,
        auth_data,
        addresses: addresses.iter().map(|a| IpAddr::V4(*a)).collect(),
    }
}

fn v3(addresses: Vec<IpAddr>) -> Repr {
    Repr {
        version: Version::V3,
        vrid: 51,
        priority: 150,
        interval: 100,
        auth_type: AuthType::None,
        auth_data: [0; 8],
        addresses,
    }
}

fn mcast_pair() -> IpPair {
    IpPair {
        src: KA_V4.into(),
        dst: vrrp::MCAST_V4.into(),
    }
}

/// Every single-bit flip of the message is refused (checksum, or the check the
/// flipped field fails first), and never panics.
fn assert_every_bit_flip_refused(msg: &[u8], pair: IpPair) {
    assert!(parse(msg, pair).is_ok());
    for i in 0..msg.len() {
        for bit in 0..8 {
            let mut m = msg.to_vec();
            m[i] ^= 1 << bit;
            assert!(
                parse(&m, pair).is_err(),
                "flip of octet {i} bit {bit} was accepted"
            );
        }
    }
}

/// Every cut of the message is refused as truncated.
fn assert_every_truncation_refused(msg: &[u8], pair: IpPair) {
    for n in 0..msg.len() {
        assert!(
            matches!(parse(&msg[..n], pair), Err(Error::Truncated { .. })),
            "cut at {n}"
        );
    }
}

// --- VRRPv2, no authentication ----------------------------------------------------

/// Ledger: PKT-01 — octet 0 is 0x21 (version 2, type 1 ADVERTISEMENT); VRID 51.
/// Ledger: PKT-03 — RFC 3768 §5.1: Auth Type, Adver Int, Checksum, the IPv4 list,
/// then "Authentication Data" (8 octets); length 16 + 4 × count.
/// Ledger: AUTH-01 — the Auth Type octet reads 0.
/// Ledger: TX-07 — field placement of VRID, priority, count, interval, Auth Type.
#[test]
fn v2_none_deconstruct() {
    let packet = ip(V2_NONE);
    let ipp = ipv4::Packet::new_checked(&packet[..]).unwrap();
    assert_eq!(ipp.header_len(), 20);
    assert_eq!(ipp.total_len(), 40);
    assert_eq!(ipp.tos(), 0xc0);
    assert_eq!(ipp.ident(), 1);
    assert_eq!(ipp.flags_frag(), 0, "DF clear, no fragment");
    assert_eq!(ipp.ttl(), 255);
    assert_eq!(ipp.protocol(), vrrp::PROTOCOL);
    assert_eq!(ipp.src(), KA_V4);
    assert_eq!(ipp.dst(), vrrp::MCAST_V4);
    assert!(ipp.verify_header_checksum());

    let p = vrrp::Packet::new_checked(ipp.payload(), false).unwrap();
    assert_eq!(hex(V2_NONE)[ETH + 20], 0x21);
    assert_eq!(p.version_raw(), 2);
    assert_eq!(p.type_raw(), 1);
    assert_eq!(p.vrid(), 51);
    assert_eq!(p.priority(), 150);
    assert_eq!(p.count(), 1);
    assert_eq!(p.auth_type(), AuthType::None);
    assert_eq!(p.interval(), 1);
    assert_eq!(p.checksum(), 0x3e65);
    assert_eq!(p.address(0, false), Some(VIP.into()));
    assert_eq!(p.address(1, false), None);
    assert_eq!(p.auth_data(), [0; 8]);
    assert_eq!(p.message_len(false), 16 + 4);
    assert_eq!(
        p.verify_checksum(mcast_pair()),
        Some(ChecksumForm::PseudoHeader)
    );
}

/// Ledger: PKT-07 — RFC 3768 §5.3.8: "The checksum is the 16-bit one's complement
/// of the one's complement sum of the entire VRRP message starting with the version
/// field. For computing the checksum, the checksum field is set to zero."
/// Ledger: PKT-04 — RFC 3768 §5.3.10: with no authentication the trailer is sent
/// as zeros; the emitted bytes equal keepalived's.
/// Ledger: TX-07 — the whole packet (IPv4 header included) matches keepalived's.
#[test]
fn v2_none_construct() {
    let repr = v2(150, &[VIP], AuthType::None, [0; 8]);
    let msg = repr
        .to_bytes(mcast_pair(), ChecksumForm::PseudoHeader)
        .unwrap();
    let packet = ipv4::emit_advert(header(vrrp::MCAST_V4, 1), None, &msg);
    assert_eq!(packet, ip(V2_NONE));

    let prio0 = v2(0, &[VIP], AuthType::None, [0; 8]);
    let msg = prio0
        .to_bytes(mcast_pair(), ChecksumForm::PseudoHeader)
        .unwrap();
    assert_eq!(
        ipv4::emit_advert(header(vrrp::MCAST_V4, 4), None, &msg),
        ip(V2_NONE_PRIO0)
    );
}

/// Ledger: RX-05 — a keepalived v2 capture verifies.
/// Ledger: PKT-02 — the priority octet passes through unchanged, 0 included: the
/// captured resignation advert keepalived sends when it stops (the range rules
/// are the engine's).
#[test]
fn v2_none_parse() {
    let (msg, pair) = vrrp_v4(V2_NONE);
    let (repr, info) = parse(&msg, pair).unwrap();
    assert_eq!(repr, v2(150, &[VIP], AuthType::None, [0; 8]));
    assert_eq!(info.trailing, 0);
    let (msg, pair) = vrrp_v4(V2_NONE_PRIO0);
    assert_eq!(parse(&msg, pair).unwrap().0.priority, 0);
}

#[test]
fn v2_round_trips() {
    for f in [V2_NONE, V2_NONE_PRIO0, V2_THREE, V2_PASS] {
        let (msg, pair) = vrrp_v4(f);
        let (repr, _) = parse(&msg, pair).unwrap();
        assert_eq!(
            repr.to_bytes(pair, ChecksumForm::PseudoHeader).unwrap(),
            msg
        );
    }
}

/// Ledger: PKT-03 — three VIPs: count 3, length 16 + 12, the addresses in config
/// order.
#[test]
fn v2_three_vips() {
    let (msg, pair) = vrrp_v4(V2_THREE);
    let p = vrrp::Packet::new_checked(&msg[..], false).unwrap();
    assert_eq!(p.count(), 3);
    assert_eq!(p.message_len(false), 28);
    let vips = [
        VIP,
        Ipv4Addr::new(10, 1, 0, 101),
        Ipv4Addr::new(10, 1, 0, 102),
    ];
    let repr = v2(150, &vips, AuthType::None, [0; 8]);
    assert_eq!(parse(&msg, pair).unwrap().0, repr);
    let built = repr
        .to_bytes(mcast_pair(), ChecksumForm::PseudoHeader)
        .unwrap();
    assert_eq!(
        ipv4::emit_advert(header(vrrp::MCAST_V4, 1), None, &built),
        ip(V2_THREE)
    );
}

/// Ledger: PKT-04 — RFC 3768 §5.3.10, Authentication Data: "It SHOULD be set to
/// zero on transmission and ignored on reception." keepalived's capture with its
/// trailer changed (and the checksum, which covers it, recomputed) still parses.
#[test]
fn v2_non_zero_trailer_parses_with_auth_none() {
    let (mut msg, pair) = vrrp_v4(V2_NONE);
    msg[12..20].copy_from_slice(b"\x01\x02\x03\x04\xfe\xfd\xfc\xfb");
    let mut p = vrrp::Packet::new_unchecked(&mut msg[..]);
    p.fill_checksum(pair, ChecksumForm::PseudoHeader).unwrap();
    let (repr, _) = parse(&msg, pair).unwrap();
    assert_eq!(repr.auth_type, AuthType::None);
    assert_eq!(repr.auth_data, [1, 2, 3, 4, 0xfe, 0xfd, 0xfc, 0xfb]);
}

// --- VRRPv2 PASS ------------------------------------------------------------------

/// Ledger: AUTH-02 — `auth_type PASS`: Auth Type 1 and the password zero-padded to
/// 8 octets in the trailer, covered by the checksum.
/// Ledger: AUTH-01 — the Auth Type octet round trip.
#[test]
fn v2_pass_four_ways() {
    let (msg, pair) = vrrp_v4(V2_PASS);
    let p = vrrp::Packet::new_checked(&msg[..], false).unwrap();
    assert_eq!(p.auth_type(), AuthType::Pass);
    assert_eq!(&p.auth_data(), b"secret\0\0");

    let repr = v2(
        150,
        &[VIP],
        AuthType::Pass,
        vrrp::password_trailer(b"secret"),
    );
    assert_eq!(parse(&msg, pair).unwrap().0, repr);
    let built = repr.to_bytes(pair, ChecksumForm::PseudoHeader).unwrap();
    assert_eq!(built, msg);
    assert_eq!(
        ipv4::emit_advert(header(vrrp::MCAST_V4, 1), None, &built),
        ip(V2_PASS)
    );
    // The checksum covers the trailer: a changed password octet is refused.
    let mut m = msg.clone();
    m[12] ^= 0x20;
    assert_eq!(parse(&m, pair).unwrap_err(), Error::Checksum);
}

// --- VRRPv2 AH --------------------------------------------------------------------

/// Ledger: AUTH-03 — keepalived's AH header, field by field: next header 112,
/// Payload Len 4 ((24 / 4) − 2, RFC 2402 §2.2), reserved 0, SPI = the sender's
/// IPv4 address, sequence numbers 1, 2, 3 in the first three adverts; IPv4
/// protocol 51; the VRRP Auth Type octet is 2 and its trailer zeros.
#[test]
fn v2_ah_deconstruct() {
    for (n, f) in [V2_AH_1, V2_AH_2, V2_AH_3].iter().enumerate() {
        let packet = ip(f);
        let ipp = ipv4::Packet::new_checked(&packet[..]).unwrap();
        assert_eq!(ipp.protocol(), ah::PROTOCOL);
        assert_eq!(ipp.total_len(), 20 + 24 + 20);
        assert_eq!(ipp.ident() as usize, n + 1);
        let a = ah::Packet::new_checked(ipp.payload()).unwrap();
        assert_eq!(a.next_header(), vrrp::PROTOCOL);
        assert_eq!(a.payload_len(), 4);
        assert_eq!(a.header_len(), ah::HEADER_LEN);
        assert_eq!(a.reserved(), 0);
        assert_eq!(a.spi(), u32::from(KA_V4));
        assert_eq!(a.seq() as usize, n + 1);
        assert_eq!(a.icv().len(), ah::ICV_LEN);

        let adv = ipv4::parse_advert(&packet).unwrap();
        assert_eq!(
            adv.ah,
            Some(ah::Repr {
                spi: ah::Repr::spi_for(KA_V4),
                seq: n as u32 + 1
            })
        );
        let v = vrrp::Packet::new_checked(adv.vrrp, false).unwrap();
        assert_eq!(v.auth_type(), AuthType::Ah);
        assert_eq!(v.auth_data(), [0; 8]);
    }
}

/// Ledger: AUTH-03 — keepalived's ICVs verify with the key "secret" (as given, or
/// zero-padded to 8 as keepalived keys HMAC: the same thing for HMAC), and fail
/// with another key. Unicast (TTL outside the ICV) verifies too.
#[test]
fn v2_ah_verify_keepalived_icv() {
    for f in [V2_AH_1, V2_AH_2, V2_AH_3, V2_AH_PRIO0, V2_AH_UNICAST] {
        let packet = ip(f);
        assert_eq!(ah::verify(&packet, b"secret"), Ok(()), "{f}");
        assert_eq!(ah::verify(&packet, b"secret\0\0"), Ok(()));
        assert_eq!(ah::verify(&packet, b"secreT"), Err(Error::AhAuth));
        assert_eq!(ah::verify(&packet, b""), Err(Error::AhAuth));
        let (msg, pair) = vrrp_v4(f);
        assert!(parse(&msg, pair).is_ok());
    }
}

/// Ledger: AUTH-03 — emit_advert with keepalived's SPI, sequence number and ident
/// reproduces its packets octet for octet: the HMAC-MD5-96 ICV over the IPv4 header
/// (TOS, flags/fragment offset, checksum zeroed; TTL kept for multicast and zeroed
/// for unicast), the AH header with the ICV zeroed, and the VRRP message.
#[test]
fn v2_ah_construct() {
    let repr = v2(150, &[VIP], AuthType::Ah, [0; 8]);
    let msg = repr
        .to_bytes(mcast_pair(), ChecksumForm::PseudoHeader)
        .unwrap();
    for (seq, f) in [(1u32, V2_AH_1), (2, V2_AH_2), (3, V2_AH_3)] {
        let a = ah::Repr {
            spi: ah::Repr::spi_for(KA_V4),
            seq,
        };
        let built = ipv4::emit_advert(
            header(vrrp::MCAST_V4, seq as u16),
            Some((a, b"secret")),
            &msg,
        );
        assert_eq!(built, ip(f), "seq {seq}");
    }
    let prio0 = v2(0, &[VIP], AuthType::Ah, [0; 8]);
    let msg0 = prio0
        .to_bytes(mcast_pair(), ChecksumForm::PseudoHeader)
        .unwrap();
    let a = ah::Repr {
        spi: u32::from(KA_V4),
        seq: 4,
    };
    assert_eq!(
        ipv4::emit_advert(header(vrrp::MCAST_V4, 4), Some((a, b"secret")), &msg0),
        ip(V2_AH_PRIO0)
    );
    let a = ah::Repr {
        spi: u32::from(KA_V4),
        seq: 1,
    };
    assert_eq!(
        ipv4::emit_advert(header(PEER_V4, 1), Some((a, b"secret")), &msg),
        ip(V2_AH_UNICAST)
    );
}

/// Ledger: AUTH-03 — every bit of keepalived's packet outside the mutable IP
/// fields (TOS, flags/fragment offset, header checksum) is covered by the ICV.
#[test]
fn v2_ah_every_covered_bit_matters() {
    let packet = ip(V2_AH_1);
    for i in 0..packet.len() {
        for bit in 0..8 {
            let mut b = packet.clone();
            b[i] ^= 1 << bit;
            let r = ah::verify(&b, b"secret");
            if matches!(i, 1 | 6 | 7 | 10 | 11) {
                assert_eq!(r, Ok(()), "mutable octet {i}");
            } else {
                assert!(r.is_err(), "octet {i} bit {bit}");
            }
        }
    }
}

// --- VRRPv3 over IPv4 -------------------------------------------------------------

/// Ledger: PKT-01 — octet 0 is 0x31.
/// Ledger: AUTH-04 — the v3 header has no auth octets: octets 4–5 are rsvd + Max
/// Adver Int and the message ends after the addresses (8 + 4 × count).
/// Ledger: TX-07 — field placement (interval in centiseconds).
#[test]
fn v3_v4_deconstruct() {
    let packet = ip(V3_V4);
    let ipp = ipv4::Packet::new_checked(&packet[..]).unwrap();
    assert_eq!(ipp.total_len(), 20 + 12);
    let p = vrrp::Packet::new_checked(ipp.payload(), false).unwrap();
    assert_eq!(ipp.payload()[0], 0x31);
    assert_eq!(p.version_raw(), 3);
    assert_eq!(p.type_raw(), 1);
    assert_eq!(p.vrid(), 51);
    assert_eq!(p.priority(), 150);
    assert_eq!(p.count(), 1);
    assert_eq!(p.reserved_v3(), 0);
    assert_eq!(p.interval(), 100);
    assert_eq!(p.checksum(), 0x4371);
    assert_eq!(p.message_len(false), 12);
    assert_eq!(ipp.payload().len(), 12, "no trailer in v3");
    assert_eq!(p.address(0, false), Some(VIP.into()));
}

/// Ledger: PKT-10 — RFC 5798 §5.2.8: "The checksum is the 16-bit one's complement
/// of the one's complement sum of the entire VRRP message starting with the version
/// field and a \"pseudo-header\" as defined in Section 8.1 of [RFC2460]."
/// keepalived 2.2.7 sends this form (KA-06); it verifies as `PseudoHeader`, and
/// keepup emits the same bytes by default.
#[test]
fn v3_v4_pseudo_header_fixture() {
    let (msg, pair) = vrrp_v4(V3_V4);
    let p = vrrp::Packet::new_checked(&msg[..], false).unwrap();
    assert_eq!(p.verify_checksum(pair), Some(ChecksumForm::PseudoHeader));
    let (repr, info) = parse(&msg, pair).unwrap();
    assert_eq!(info.checksum_form, ChecksumForm::PseudoHeader);
    assert_eq!(repr, v3(vec![VIP.into()]));
    let built = repr.to_bytes(pair, ChecksumForm::default()).unwrap();
    assert_eq!(built, msg);
    assert_eq!(
        ipv4::emit_advert(header(vrrp::MCAST_V4, 1), None, &built),
        ip(V3_V4)
    );
}

/// Ledger: PKT-09 — RFC 9568 §5.2.8: "The checksum is the 16-bit one's complement
/// of the one's complement sum of the entire VRRP message starting with the version
/// field." (for IPv4, no pseudo-header). A hand-built vector (keepalived's advert
/// with its checksum recomputed over the message alone by a few lines of Python:
/// 0x2e02) verifies as `MessageOnly`, and does not verify in the 5798 form.
#[test]
fn v3_v4_rfc9568_form_vector() {
    const V3_9568: &str = "313396010064_2e02_0a010064";
    let msg = hex(&V3_9568.replace('_', ""));
    let pair = mcast_pair();
    let p = vrrp::Packet::new_checked(&msg[..], false).unwrap();
    assert_eq!(p.verify_checksum(pair), Some(ChecksumForm::MessageOnly));
    let (repr, info) = parse(&msg, pair).unwrap();
    assert_eq!(info.checksum_form, ChecksumForm::MessageOnly);
    assert_eq!(repr.to_bytes(pair, ChecksumForm::MessageOnly).unwrap(), msg);
    // And the other way round: the keepalived fixture is not in the 9568 form.
    let (ka, _) = vrrp_v4(V3_V4);
    assert_ne!(ka, msg);
    assert_ne!(keepup_wire::checksum::checksum(&ka), 0);
}

/// Ledger: PKT-10 — unicast: the pseudo-header carries the unicast destination
/// (10.1.0.2), as keepalived 2.2.7 computes it (KA-06).
#[test]
fn v3_unicast_four_ways() {
    let packet = ip(V3_UNICAST);
    let ipp = ipv4::Packet::new_checked(&packet[..]).unwrap();
    assert_eq!(ipp.dst(), PEER_V4);
    assert_eq!(ipp.ttl(), 255);
    let (msg, pair) = vrrp_v4(V3_UNICAST);
    let (repr, info) = parse(&msg, pair).unwrap();
    assert_eq!(info.checksum_form, ChecksumForm::PseudoHeader);
    assert_eq!(repr, v3(vec![VIP.into()]));
    let built = repr.to_bytes(pair, ChecksumForm::PseudoHeader).unwrap();
    assert_eq!(built, msg);
    assert_eq!(ipv4::emit_advert(header(PEER_V4, 1), None, &built), packet);
    // With the multicast group in the pseudo-header it does not verify.
    assert_eq!(parse(&msg, mcast_pair()).unwrap_err(), Error::Checksum);
}

/// Ledger: PKT-05 — RFC 5798 / RFC 9568 §5.2.6 (rsvd): "This field MUST be set to
/// zero on transmission and ignored on reception." keepalived's advert with rsvd = 0xF
/// (checksum recomputed) parses to the same Repr.
#[test]
fn v3_reserved_nibble_ignored() {
    let (mut msg, pair) = vrrp_v4(V3_V4);
    msg[4] |= 0xf0;
    let mut p = vrrp::Packet::new_unchecked(&mut msg[..]);
    p.fill_checksum(pair, ChecksumForm::PseudoHeader).unwrap();
    assert_eq!(p.reserved_v3(), 0xf);
    let (repr, _) = parse(&msg, pair).unwrap();
    assert_eq!(repr, v3(vec![VIP.into()]));
    assert_eq!(
        repr.to_bytes(pair, ChecksumForm::PseudoHeader).unwrap()[4] >> 4,
        0
    );
}

/// Ledger: RX-08
/// Ledger: RX-09
/// RFC 9568 §7.1 with errata 8299 (Count IPvX Addr 0) and 8301 (Max Adver Int 0):
/// such v3 adverts are discarded. Both built from keepalived's advert, checksum
/// recomputed.
#[test]
fn v3_count_zero_and_interval_zero_refused() {
    let (msg, pair) = vrrp_v4(V3_V4);
    let mut m = msg[..8].to_vec();
    m[3] = 0;
    let mut p = vrrp::Packet::new_unchecked(&mut m[..]);
    p.fill_checksum(pair, ChecksumForm::PseudoHeader).unwrap();
    assert_eq!(parse(&m, pair).unwrap_err(), Error::NoAddress);

    let mut m = msg.clone();
    m[4] = 0;
    m[5] = 0;
    let mut p = vrrp::Packet::new_unchecked(&mut m[..]);
    p.fill_checksum(pair, ChecksumForm::PseudoHeader).unwrap();
    assert_eq!(parse(&m, pair).unwrap_err(), Error::IntervalZero);
    // rsvd set, interval bits 0: still interval 0.
    m[4] = 0xf0;
    let mut p = vrrp::Packet::new_unchecked(&mut m[..]);
    p.fill_checksum(pair, ChecksumForm::PseudoHeader).unwrap();
    assert_eq!(parse(&m, pair).unwrap_err(), Error::IntervalZero);
}

// --- VRRPv3 over IPv6 -------------------------------------------------------------

/// Ledger: PKT-08 — RFC 9568 §5.2.8: "For the IPv6 address family, the checksum
/// calculation also includes a prepended \"pseudo-header\", as defined in Section
/// 8.1 of [RFC8200]." keepalived's IPv6 advert verifies with the source link-local
/// and ff02::12 in the pseudo-header, and keepup emits the same message.
/// Ledger: TX-08 — the first address is the link-local VIP.
#[test]
fn v3_v6_four_ways() {
    let (msg, pair) = vrrp_v6(V3_V6);
    assert_eq!(pair.src, IpAddr::V6(ka_ll()));
    assert_eq!(pair.dst, IpAddr::V6(vrrp::MCAST_V6));
    let p = vrrp::Packet::new_checked(&msg[..], true).unwrap();
    assert_eq!(p.version_raw(), 3);
    assert_eq!(p.count(), 2);
    assert_eq!(p.interval(), 100);
    assert_eq!(p.message_len(true), 8 + 32);
    let ll: Ipv6Addr = "fe80::100".parse().unwrap();
    let global: Ipv6Addr = "fd00:1::100".parse().unwrap();
    assert_eq!(p.address(0, true), Some(ll.into()));
    assert_eq!(p.address(1, true), Some(global.into()));
    assert_eq!(p.verify_checksum(pair), Some(ChecksumForm::PseudoHeader));

    let repr = v3(vec![ll.into(), global.into()]);
    let (parsed, info) = parse(&msg, pair).unwrap();
    assert_eq!(parsed, repr);
    assert_eq!(info.checksum_form, ChecksumForm::PseudoHeader);
    assert_eq!(
        repr.to_bytes(pair, ChecksumForm::PseudoHeader).unwrap(),
        msg
    );
    assert_eq!(repr.to_bytes(pair, ChecksumForm::MessageOnly).unwrap(), msg);
    // The message alone does not verify: the pseudo-header is part of the sum.
    assert_ne!(keepup_wire::checksum::checksum(&msg), 0);
}

// --- every VRRP fixture: bit flips, truncation ------------------------------------

fn all_vrrp() -> Vec<(Vec<u8>, IpPair)> {
    let mut v: Vec<_> = [
        V2_NONE,
        V2_NONE_PRIO0,
        V2_THREE,
        V2_PASS,
        V2_AH_1,
        V2_AH_PRIO0,
        V2_AH_UNICAST,
        V3_V4,
        V3_UNICAST,
    ]
    .iter()
    .map(|f| vrrp_v4(f))
    .collect();
    v.push(vrrp_v6(V3_V6));
    v
}

/// Ledger: RX-05 — RFC 3768 §7.1 / RFC 9568 §7.1: the receiver "MUST verify the
/// VRRP checksum"; every single-bit flip of every captured message is refused.
/// Ledger: PKT-07 — "flip any bit and it fails".
#[test]
fn every_bit_flip_of_every_fixture_is_refused() {
    for (msg, pair) in all_vrrp() {
        assert_every_bit_flip_refused(&msg, pair);
    }
}

/// Ledger: RX-04 — RFC 9568 §7.1: "MUST verify that the received packet contains
/// the complete VRRP packet (including fixed fields, and IPvX address(es))".
/// Every cut of every fixture is refused, at every layer, without a panic.
#[test]
fn every_truncation_of_every_fixture_is_refused() {
    for (msg, pair) in all_vrrp() {
        assert_every_truncation_refused(&msg, pair);
    }
    for f in [V2_NONE, V2_PASS, V2_AH_1, V2_AH_UNICAST, V3_V4, V3_UNICAST] {
        let packet = ip(f);
        for n in 0..packet.len() {
            assert!(ipv4::parse_advert(&packet[..n]).is_err(), "cut at {n}");
            let _ = ah::verify(&packet[..n], b"secret");
        }
    }
    for f in [GARP] {
        let frame = hex(f);
        for n in 0..frame.len() {
            assert!(arp::Repr::parse(&frame[..n]).is_err());
        }
    }
    for f in [NA_LL, NA_GLOBAL, NA_LL_FWD] {
        let frame = hex(f);
        for n in 0..frame.len() {
            assert!(ndisc::Repr::parse(&frame[..n]).is_err(), "cut at {n}");
        }
    }
}

/// Ledger: RX-04 — trailing octets after keepalived's message are counted, not
/// refused (KA-11), and the checksum still covers exactly the announced message.
#[test]
fn trailing_octets_are_counted() {
    for (mut msg, pair) in all_vrrp() {
        let (repr, _) = parse(&msg, pair).unwrap();
        msg.extend_from_slice(&[0xaa; 5]);
        let (again, info) = parse(&msg, pair).unwrap();
        assert_eq!(again, repr);
        assert_eq!(info.trailing, 5);
    }
}

/// Ledger: RX-03 — RFC 9568 §5.2.2: "A packet with unknown type MUST be
/// discarded." Types 0, 2 and 15 on keepalived's adverts (checksum recomputed).
#[test]
fn types_0_2_15_are_refused() {
    for (msg, pair) in all_vrrp() {
        for t in [0u8, 2, 15] {
            let mut m = msg.clone();
            m[0] = (m[0] & 0xf0) | t;
            let mut p = vrrp::Packet::new_unchecked(&mut m[..]);
            p.fill_checksum(pair, ChecksumForm::PseudoHeader).unwrap();
            assert_eq!(parse(&m, pair).unwrap_err(), Error::Type(t));
        }
    }
}

/// Ledger: RX-02 — RFC 9568 §7.1: "MUST verify that the VRRP version is 3" (2 in
/// RFC 3768): versions other than 2 and 3 are refused; v2 is IPv4 only.
#[test]
fn other_versions_are_refused() {
    for (msg, pair) in all_vrrp() {
        for v in [0u8, 1, 4, 15] {
            let mut m = msg.clone();
            m[0] = (v << 4) | 1;
            assert_eq!(parse(&m, pair).unwrap_err(), Error::Version(v));
        }
    }
    let (mut msg, _) = vrrp_v6(V3_V6);
    msg[0] = 0x21;
    let (_, pair6) = vrrp_v6(V3_V6);
    assert_eq!(parse(&msg, pair6).unwrap_err(), Error::Version(2));
}

// --- gratuitous ARP ---------------------------------------------------------------

/// Ledger: ARP-01 — RFC 3768 §6.4.1: "Broadcast a gratuitous ARP request
/// containing the virtual router MAC address for each IP address associated with
/// the virtual router." keepalived's frame: broadcast, operation 1 (request),
/// sender = (interface MAC, VIP), target = (ff:ff:ff:ff:ff:ff, VIP), 42 octets
/// with no padding (KA-14: the interface MAC without `use_vmac`).
#[test]
fn garp_four_ways() {
    let frame = hex(GARP);
    assert_eq!(frame.len(), arp::FRAME_LEN, "keepalived does not pad");
    let p = arp::Packet::new_checked(&frame[..]).unwrap();
    assert_eq!(p.eth_dst(), MacAddr::BROADCAST);
    assert_eq!(p.eth_src(), KA_MAC);
    assert_eq!(p.ethertype(), arp::ETHERTYPE);
    assert_eq!(p.hardware_type(), 1);
    assert_eq!(p.protocol_type(), 0x0800);
    assert_eq!(p.operation(), arp::OP_REQUEST);
    assert_eq!(p.sender_mac(), KA_MAC);
    assert_eq!(p.sender_ip(), VIP);
    assert_eq!(p.target_mac(), MacAddr::BROADCAST);
    assert_eq!(p.target_ip(), VIP);

    let repr = arp::Repr::gratuitous(KA_MAC, VIP);
    assert_eq!(repr.emit().to_vec(), frame);
    assert_eq!(arp::Repr::parse(&frame).unwrap(), repr);
    assert_eq!(arp::Repr::parse(&repr.emit()).unwrap(), repr);
    // Ethernet padding to 60 octets is ignored.
    let mut padded = frame.clone();
    padded.resize(60, 0);
    assert_eq!(arp::Repr::parse(&padded).unwrap(), repr);
    // With a VMAC (use_vmac) the same frame carries 00:00:5e:00:01:33.
    let vmac = arp::Repr::gratuitous(MacAddr::vrrp_v4(51), VIP).emit();
    assert_eq!(&vmac[6..12], &[0, 0, 0x5e, 0, 1, 0x33]);
    assert_eq!(&vmac[22..28], &[0, 0, 0x5e, 0, 1, 0x33]);
}

#[test]
fn arp_refuses_other_frames() {
    let frame = hex(GARP);
    let mut f = frame.clone();
    f[12] = 0x08;
    f[13] = 0x00;
    assert!(matches!(arp::Repr::parse(&f), Err(Error::Frame(_))));
    let mut f = frame.clone();
    f[19] = 16;
    assert!(matches!(arp::Repr::parse(&f), Err(Error::Frame(_))));
}

// --- unsolicited NA ---------------------------------------------------------------

/// Ledger: ARP-03 — RFC 9568 §6.4.2: "send an unsolicited ND Neighbor
/// Advertisement with the Router Flag (R) set, the Solicited Flag (S) clear, the
/// Override flag (O) set, the target address set to the IPv6 address of the
/// Virtual Router, and the target link-layer address set to the Virtual Router MAC
/// address." keepalived's frames: to 33:33:00:00:00:01 / ff02::1, hop limit 255,
/// IPv6 source = the VIP itself, S=0, O=1, R = the interface's IPv6 forwarding
/// (0 and 1 captured), one target link-layer option with the interface MAC.
#[test]
fn na_four_ways() {
    let ll: Ipv6Addr = "fe80::100".parse().unwrap();
    let global: Ipv6Addr = "fd00:1::100".parse().unwrap();
    for (f, vip, router) in [
        (NA_LL, ll, false),
        (NA_GLOBAL, global, false),
        (NA_LL_FWD, ll, true),
        (NA_GLOBAL_FWD, global, true),
    ] {
        let frame = hex(f);
        assert_eq!(frame.len(), 86);
        // Deconstruct by offset: Ethernet, IPv6, ICMPv6.
        assert_eq!(&frame[0..6], &ndisc::ALL_NODES_MAC.0);
        assert_eq!(&frame[6..12], &KA_MAC.0);
        assert_eq!(&frame[12..14], &[0x86, 0xdd]);
        assert_eq!(&frame[14..18], &[0x60, 0, 0, 0], "traffic class, flow 0");
        assert_eq!(frame[20], ndisc::ICMPV6);
        assert_eq!(frame[21], 255);
        assert_eq!(&frame[22..38], &vip.octets(), "source = the VIP");
        assert_eq!(frame[54], ndisc::TYPE_NA);
        assert_eq!(frame[58], if router { 0xa0 } else { 0x20 });
        assert_eq!(&frame[78..80], &[ndisc::OPT_TARGET_LLADDR, 1]);

        let repr = ndisc::Repr::unsolicited(KA_MAC, vip, vip, router);
        let parsed = ndisc::Repr::parse(&frame).unwrap();
        assert_eq!(parsed, repr);
        assert!(parsed.override_ && !parsed.solicited);
        assert_eq!(parsed.target, vip);
        assert_eq!(parsed.target_mac, Some(KA_MAC));
        assert_eq!(repr.buffer_len(), frame.len());
        assert_eq!(repr.emit(), frame);
        assert_eq!(ndisc::Repr::parse(&repr.emit()).unwrap(), repr);
    }
}

#[test]
fn na_checksum_and_shape_are_checked() {
    let frame = hex(NA_LL_FWD);
    // From the IPv6 payload length on, every octet but the hop limit is either
    // covered by the ICMPv6 checksum or checked (length, next header).
    for i in 18..frame.len() {
        if i == 21 {
            continue;
        }
        let mut f = frame.clone();
        f[i] ^= 0x01;
        assert!(ndisc::Repr::parse(&f).is_err(), "octet {i}");
    }
    // A zero-length option is refused (RFC 4861 §4.6).
    let mut r = ndisc::Repr::unsolicited(
        KA_MAC,
        "fe80::1".parse().unwrap(),
        "fe80::1".parse().unwrap(),
        true,
    )
    .emit();
    r[79] = 0;
    assert!(ndisc::Repr::parse(&r).is_err());
    // Without the option.
    let mut repr = ndisc::Repr::unsolicited(
        KA_MAC,
        "fe80::1".parse().unwrap(),
        "fe80::1".parse().unwrap(),
        true,
    );
    repr.target_mac = None;
    assert_eq!(repr.buffer_len(), 78);
    assert_eq!(ndisc::Repr::parse(&repr.emit()).unwrap(), repr);
}

// --- virtual MACs -----------------------------------------------------------------

/// Ledger: MAC-01 — RFC 3768 §7.3: "00-00-5E-00-01-{VRID}" (VRID in hex).
#[test]
fn vmac_v4() {
    assert_eq!(MacAddr::vrrp_v4(1).to_string(), "00:00:5e:00:01:01");
    assert_eq!(MacAddr::vrrp_v4(255).to_string(), "00:00:5e:00:01:ff");
    assert_eq!(MacAddr::vrrp_v4(51).0, [0, 0, 0x5e, 0, 1, 0x33]);
}

/// Ledger: MAC-02 — RFC 9568 §7.3: IPv6 "00-00-5E-00-02-{VRID}".
#[test]
fn vmac_v6() {
    assert_eq!(MacAddr::vrrp_v6(1).to_string(), "00:00:5e:00:02:01");
    assert_eq!(MacAddr::vrrp_v6(255).to_string(), "00:00:5e:00:02:ff");
    assert_ne!(MacAddr::vrrp_v6(10), MacAddr::vrrp_v4(10));
}
