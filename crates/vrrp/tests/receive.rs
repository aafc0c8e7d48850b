//! Receive checks (RFC 3768 §7.1, RFC 9568 §7.1): each discard, its counter, and the
//! opposite input that passes. A discarded advert never re-arms the down timer.
mod harness;
use harness::*;
use keepup_vrrp::{Auth, Discard, Event, InitialState, Input, InstanceId, State, UnicastPeer};
use keepup_wire::vrrp::{AuthType, ChecksumForm, Packet, Version};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

const ID: InstanceId = InstanceId(0);

/// A Backup at 100 that last heard a Master at t=1; returns the deadline that a
/// discarded advert must leave alone.
fn backup(c: keepup_vrrp::InstanceConfig) -> (H, Option<Instant>) {
    let mut h = H::started(c.clone());
    h.run_until(t(1.0));
    let mut good = Peer::of(&c, 200);
    if let Some(IpAddr::V6(_)) = c.source {
        good.src = IpAddr::V6(PEER6);
    }
    h.rx(&good);
    assert_eq!(h.counters().rcvd_advertisements, 1);
    h.run_until(t(1.5));
    let d = h.r.poll_timeout();
    (h, d)
}

/// Whether a line was given for `reason`: a discard, or a peer's mismatch named.
fn discarded(h: &H, reason: Discard) -> bool {
    h.events_since(0).iter().any(|e| {
        matches!(e, Event::Discarded { reason: r, .. } | Event::Mismatch { reason: r, .. }
            if *r == reason)
    })
}

/// Ledger: RX-01
/// RFC 3768 §7.1: "MUST verify that the IP TTL is 255." RFC 9568 §7.1: "MUST verify
/// that the IPv4 TTL or IPv6 Hop Limit is 255."
#[test]
fn ttl_or_hop_limit_other_than_255_is_dropped() {
    for c in [v2(100), v3_6(100)] {
        let (mut h, deadline) = backup(c.clone());
        let mut p = Peer::of(&c, 200);
        p.ttl = 254;
        h.rx(&p);
        assert_eq!(h.counters().ip_ttl_errors, 1);
        assert_eq!(h.r.poll_timeout(), deadline);
        assert!(discarded(&h, Discard::Ttl));
        p.ttl = 255;
        h.rx(&p);
        assert_eq!(h.counters().rcvd_advertisements, 2);
    }
}

/// Ledger: KA-13
/// Unicast adverts: no TTL check by default (keepalived 2.2.7); a peer's
/// `min_ttl`/`max_ttl` range is enforced when given.
#[test]
fn unicast_ttl_is_checked_only_against_a_peer_range() {
    let mut c = v2(100);
    c.unicast_peers = vec![UnicastPeer {
        address: IpAddr::V4(PEER4),
        min_ttl: None,
        max_ttl: None,
    }];
    let mut h = H::started(c.clone());
    let mut p = Peer::of(&c, 200);
    p.dst = IpAddr::V4(ME4);
    p.ttl = 64;
    h.rx(&p);
    assert_eq!(h.counters().rcvd_advertisements, 1);
    c.unicast_peers[0].min_ttl = Some(250);
    let mut h = H::started(c);
    h.rx(&p);
    assert_eq!(h.counters().ip_ttl_errors, 1);
}

/// Ledger: RX-02
/// RFC 9568 §7.1: "MUST verify the VRRP version is 3." A v2 advert reaching a v3
/// instance is ignored and counted.
#[test]
fn other_version_is_dropped() {
    let (mut h, deadline) = backup(v3(100));
    h.rx(&Peer::of(&v2(100), 200));
    assert_eq!(h.r.global_counters().version_errors, 1);
    assert_eq!(h.r.poll_timeout(), deadline);
    // A version that is neither 2 nor 3 is counted before any instance is known.
    let p = Peer::of(&v3(100), 200);
    h.rx_bytes(&p, &p.mangled(true, |m| m[0] = 0x41));
    assert_eq!(h.r.global_counters().version_errors, 2);
}

/// Ledger: MIX-01
/// RFC 9568 §8.4.2 lets an implementation offer a mode that speaks v2 and v3 on one
/// virtual router; keepup does not offer it (the MUSTs apply only inside it). What
/// holds instead: a v3 instance sends only v3 adverts and never follows a v2 router,
/// however high its priority, and a v2 instance never follows a v3 one; each such
/// advert is counted as a version error.
#[test]
fn no_mixed_version_mode() {
    let mut c = v3(100);
    c.state = InitialState::Master;
    let mut h = H::started(c.clone());
    for s in 1..=10 {
        h.run_until(t(f64::from(s)));
        h.rx(&Peer::of(&v2(100), 254));
    }
    assert_eq!(h.state(), State::Master);
    assert_eq!(h.r.global_counters().version_errors, 10);
    let me = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 2));
    for (_, o) in &h.log {
        if let keepup_vrrp::Output::Advert(a) = o {
            assert_eq!(parse_sent(a, me).version, Version::V3);
        }
    }
    let mut h = H::started(v2(100));
    for s in 1..=10 {
        h.run_until(t(f64::from(s)));
        h.rx(&Peer::of(&v3(100), 254));
    }
    assert_eq!(h.state(), State::Master);
    assert_eq!(h.r.global_counters().version_errors, 10);
}

/// Ledger: RX-03
/// RFC 9568 §5.2.2: "Packets with unknown type MUST be discarded."
#[test]
fn unknown_type_is_dropped() {
    let (mut h, deadline) = backup(v2(100));
    let p = Peer::of(&v2(100), 200);
    for ty in [0u8, 2, 15] {
        h.rx_bytes(&p, &p.mangled(true, |m| m[0] = 0x20 | ty));
    }
    assert_eq!(h.counters().rcvd_invalid_type_packets, 3);
    assert_eq!(h.r.poll_timeout(), deadline);
}

/// Ledger: RX-04
/// RFC 3768 §7.1: "MUST verify that the received packet contains the complete VRRP
/// packet (including fixed fields, IP Address(es), and Authentication Data)."
#[test]
fn truncated_advert_is_dropped_at_every_length() {
    let (mut h, deadline) = backup(v2(100));
    let p = Peer::of(&v2(100), 200);
    let full = p
        .repr
        .to_bytes(
            keepup_wire::vrrp::IpPair {
                src: p.src,
                dst: p.dst,
            },
            ChecksumForm::PseudoHeader,
        )
        .unwrap();
    for len in 0..full.len() {
        h.rx_bytes(&p, &p.wrap(full[..len].to_vec()));
    }
    assert_eq!(h.r.poll_timeout(), deadline);
    // Lengths 0 and 1 fail before the VRID is known (global), the rest per instance.
    assert_eq!(h.r.global_counters().packet_length_errors, 2);
    assert_eq!(h.counters().packet_length_errors, full.len() as u64 - 2);
    assert_eq!(h.counters().rcvd_advertisements, 1);
}

/// Ledger: KA-11
/// Octets after the message are accepted and counted.
#[test]
fn trailing_octets_are_accepted_and_counted() {
    let (mut h, _) = backup(v2(100));
    let p = Peer::of(&v2(100), 200);
    h.rx_bytes(&p, &p.mangled(false, |m| m.extend_from_slice(&[0; 4])));
    assert_eq!(h.counters().rcvd_advertisements, 2);
    assert_eq!(h.counters().trailing_octets, 1);
}

/// Ledger: RX-05
/// Ledger: KA-06
/// Ledger: R9-02
/// RFC 3768 §7.1: "MUST verify the VRRP checksum." For v3 over IPv4 both forms are
/// accepted (PKT-09, PKT-10).
#[test]
fn bad_checksum_is_dropped_and_both_v3_ipv4_forms_pass() {
    let (mut h, deadline) = backup(v2(100));
    let p = Peer::of(&v2(100), 200);
    h.rx_bytes(&p, &p.mangled(false, |m| m[2] ^= 0x01));
    assert_eq!(h.r.global_counters().checksum_errors, 1);
    assert_eq!(h.r.poll_timeout(), deadline);

    let (mut h, _) = backup(v3(100));
    let mut p = Peer::of(&v3(100), 200);
    p.form = ChecksumForm::MessageOnly;
    h.rx(&p);
    p.form = ChecksumForm::PseudoHeader;
    h.rx(&p);
    assert_eq!(h.counters().rcvd_advertisements, 3);
    assert_eq!(h.r.global_counters().checksum_errors, 0);
}

/// Ledger: RX-06
/// RFC 3768 §7.1: "MUST verify that the VRID is configured on the receiving interface".
#[test]
fn unknown_vrid_is_dropped() {
    let (mut h, deadline) = backup(v2(100));
    let mut other = v2(100);
    other.vrid = 52;
    h.rx(&Peer::of(&other, 200));
    assert_eq!(h.r.global_counters().vr_id_errors, 1);
    assert_eq!(h.r.poll_timeout(), deadline);
}

/// A neighbouring virtual router (another VRID on the LAN) is normal: named once per
/// sender at most, whatever it sends, and counted each time; a second sender is named
/// too. One that lists one of our VIPs is a real mistake, named with its VRID and
/// address.
#[test]
fn a_neighbouring_vrid_is_named_once_per_sender_and_a_claimed_vip_said() {
    let (mut h, _) = backup(v2(100));
    let mut other = v2(100);
    other.vrid = 52;
    other.vips = vec![IpAddr::V4(Ipv4Addr::new(10, 0, 0, 52))];
    let neighbour = Peer::of(&other, 200);
    for k in 0..300u64 {
        h.run_until(t(2.0) + ns(k * 11_000_000_000));
        h.rx(&neighbour);
    }
    let second = Peer::of(&other, 150).from(IpAddr::V4(Ipv4Addr::new(10, 0, 0, 9)));
    h.rx(&second);
    assert_eq!(h.r.global_counters().vr_id_errors, 301);
    let named: Vec<String> = h
        .events_since(0)
        .iter()
        .filter(|e| matches!(e, Event::ForeignVrid { vrid: 52, .. }))
        .map(ToString::to_string)
        .collect();
    assert_eq!(named.len(), 2, "{named:?}");
    assert!(
        named[0].starts_with("adverts for VRID 52 from "),
        "{}",
        named[0]
    );
    assert!(!h
        .events_since(0)
        .iter()
        .any(|e| matches!(e, Event::Discarded { .. } | Event::VipClaimed { .. })));

    // VRID 53 lists our VIP.
    let mut claimer = v2(100);
    claimer.vrid = 53;
    h.rx(&Peer::of(&claimer, 200));
    h.rx(&Peer::of(&claimer, 200));
    let claims: Vec<String> = h
        .events_since(0)
        .iter()
        .filter(|e| matches!(e, Event::VipClaimed { .. }))
        .map(ToString::to_string)
        .collect();
    assert_eq!(claims.len(), 1, "{claims:?}");
    assert!(
        claims[0].contains("is also claimed by VRID 53 from "),
        "{}",
        claims[0]
    );
}

/// A peer with the wrong password is named once, with the setting to fix, and every
/// advert counted; another peer with the same mistake is named too.
#[test]
fn a_mismatched_peer_is_named_once_then_counted() {
    let mut c = v2(100);
    c.auth = Auth::pass("secret1");
    let (mut h, _) = backup(c.clone());
    let mut p = Peer::of(&c, 200);
    p.repr.auth_data = *b"secret2\0";
    for _ in 0..50 {
        h.rx(&p);
    }
    h.rx(&p.clone().from(IpAddr::V4(Ipv4Addr::new(10, 0, 0, 9))));
    assert_eq!(h.counters().auth_failures, 51);
    let named: Vec<String> = h
        .events_since(0)
        .iter()
        .filter(|e| matches!(e, Event::Mismatch { .. }))
        .map(ToString::to_string)
        .collect();
    assert_eq!(named.len(), 2, "{named:?}");
    assert!(
        named[0].contains("uses a different password (auth_pass): its adverts are ignored; every router of this virtual router needs the same authentication"),
        "{}",
        named[0]
    );
}

/// A router's own address in its unicast_peer list is said once.
#[test]
fn own_address_in_unicast_peers_is_said() {
    let mut c = v2(100);
    c.unicast_peers = vec![UnicastPeer {
        address: IpAddr::V4(ME4),
        min_ttl: None,
        max_ttl: None,
    }];
    let mut h = H::started(c);
    for _ in 0..3 {
        h.input(Input::SourceAddress {
            instance: ID,
            address: Some(IpAddr::V4(ME4)),
        });
    }
    let said: Vec<String> = h
        .events_since(0)
        .iter()
        .filter(|e| matches!(e, Event::OwnAddressAsPeer { .. }))
        .map(ToString::to_string)
        .collect();
    assert_eq!(said.len(), 1, "{said:?}");
    assert!(
        said[0].contains("is this router's own address"),
        "{}",
        said[0]
    );
}

/// Ledger: RX-08
/// Ledger: R9-05
/// RFC 9568 §7.1 with erratum 8299: an advert whose address count is 0 is discarded.
#[test]
fn v3_with_no_address_is_dropped() {
    let (mut h, deadline) = backup(v3(100));
    let p = Peer::of(&v3(100), 200);
    h.rx_bytes(
        &p,
        &p.mangled(true, |m| {
            m.truncate(8);
            Packet::new_unchecked(&mut m[..]).set_count(0);
        }),
    );
    assert_eq!(h.counters().address_list_errors, 1);
    assert_eq!(h.r.poll_timeout(), deadline);
}

/// Ledger: RX-09
/// RFC 9568 §7.1 with erratum 8301: a Max Adver Int of 0 is discarded, so the Backup
/// deadline is unchanged.
#[test]
fn v3_with_interval_zero_is_dropped() {
    let (mut h, deadline) = backup(v3(100));
    let p = Peer::of(&v3(100), 200);
    h.rx_bytes(
        &p,
        &p.mangled(true, |m| Packet::new_unchecked(&mut m[..]).set_interval(0)),
    );
    assert_eq!(h.counters().interval_zero_errors, 1);
    assert_eq!(h.r.poll_timeout(), deadline);
}

/// Ledger: RX-10
/// Ledger: KA-19
/// RFC 9568 §7.1 with erratum 8300: for IPv6 the first address must be link-local.
/// keepup logs and accepts by default (keepalived sends such adverts), and drops in
/// strict mode.
#[test]
fn ipv6_first_address_not_link_local_is_logged_or_dropped_in_strict_mode() {
    let global_first = vec![IpAddr::V6(Ipv6Addr::new(0xfd00, 0, 0, 0, 0, 0, 0, 0x100))];
    for strict in [false, true] {
        let mut c = v3_6(100);
        c.vips = global_first.clone();
        c.strict = strict;
        let mut h = H::started(c.clone());
        h.rx(&Peer::of(&c, 200));
        assert!(discarded(&h, Discard::NotLinkLocal));
        assert_eq!(h.counters().rcvd_advertisements, u64::from(!strict));
    }
}

/// Ledger: RX-11
/// Ledger: AUTH-02
/// RFC 3768 §7.1: "MUST verify that the Auth Type matches the locally configured
/// authentication method for the virtual router." With PASS the 8 octets must match.
#[test]
fn pass_authentication_mismatches_are_dropped() {
    let mut c = v2(100);
    c.auth = Auth::pass("secret1");
    let (mut h, deadline) = backup(c.clone());
    let mut p = Peer::of(&c, 200);
    p.repr.auth_data = *b"secret2\0";
    h.rx(&p);
    assert_eq!(h.counters().auth_failures, 1);
    p.repr.auth_type = AuthType::None;
    p.repr.auth_data = [0; 8];
    h.rx(&p);
    assert_eq!(h.counters().auth_type_mismatch, 1);
    p.repr.auth_type = AuthType::Unknown(7);
    h.rx(&p);
    assert_eq!(h.counters().invalid_auth_type, 1);
    assert_eq!(h.r.poll_timeout(), deadline);
    // Opposite: the right password passes, and a PASS advert to a no-auth instance
    // is refused.
    h.rx(&Peer::of(&c, 200));
    assert_eq!(h.counters().rcvd_advertisements, 2);
    let (mut h, _) = backup(v2(100));
    h.rx(&Peer::of(&c, 200));
    assert_eq!(h.counters().auth_type_mismatch, 1);
}

/// Ledger: AUTH-03
/// Ledger: KA-20
/// `auth_type AH`: the ICV must verify with our key and sequence numbers must not go
/// back; a non-owner `state MASTER` starts with the full down timer to learn the
/// peer's sequence number first.
#[test]
fn ah_authentication_checks_icv_and_sequence() {
    let mut c = v2(100);
    c.auth = Auth::ah("secret");
    let (mut h, deadline) = backup(c.clone());
    let mut p = Peer::of(&c, 200);
    p.ah = Some((b"wrong\0\0\0".to_vec(), 5));
    h.rx(&p);
    assert_eq!(h.counters().auth_failures, 1);
    assert_eq!(h.r.poll_timeout(), deadline);
    p.ah = Some((b"secret\0\0".to_vec(), 5));
    h.rx(&p);
    assert_eq!(h.counters().rcvd_advertisements, 2);
    // The sequence is judged before the ICV (a flood of replays costs no HMAC): a
    // forgery numbered below the mark is refused as a replay...
    p.ah = Some((b"forged\0\0".to_vec(), 3));
    h.rx(&p);
    assert_eq!(h.counters().auth_failures, 2);
    let said: Vec<String> = h.events_since(0).iter().map(|e| e.to_string()).collect();
    assert!(
        said.iter()
            .any(|e| e.contains("AH sequence number 3 below 5")),
        "{said:?}"
    );
    p.ah = Some((b"secret\0\0".to_vec(), 4));
    h.rx(&p);
    assert_eq!(h.counters().auth_failures, 3, "sequence number went back");
    // ...and one numbered above it, its ICV refused, does not move the mark: the
    // Master's next advert still counts.
    p.ah = Some((b"forged\0\0".to_vec(), 1_000_000));
    h.rx(&p);
    assert_eq!(h.counters().auth_failures, 4);
    p.ah = Some((b"secret\0\0".to_vec(), 6));
    h.rx(&p);
    assert_eq!(h.counters().rcvd_advertisements, 3);
    // A PASS advert to an AH instance is an auth type mismatch.
    let mut q = Peer::of(&c, 200);
    q.ah = None;
    q.repr.auth_type = AuthType::Pass;
    h.rx(&q);
    assert_eq!(h.counters().auth_type_mismatch, 1);
    // Taking over, it sends above the numbers it heard, so a peer that remembers them
    // does not take its adverts for replays (a restarted router starts as Backup to
    // learn them, KA-20).
    h.run_until(t(10.0));
    assert_eq!(h.state(), State::Master);
    let seq = h
        .log
        .iter()
        .rev()
        .find_map(|(_, o)| match o {
            keepup_vrrp::Output::Advert(a) => keepup_wire::ipv4::parse_advert(&a.packet).ok()?.ah,
            _ => None,
        })
        .unwrap()
        .seq;
    assert!(seq > 5, "sequence {seq} continues above the 5 heard");
    // A reload that changes the key: the new one is checked, the old one no longer
    // (the key is made ready once, and again when it changes).
    let mut rotated = c.clone();
    rotated.auth = Auth::ah("rotated");
    h.r.reconfigure(vec![rotated.clone()], vec![]).unwrap();
    h.input(Input::Startup);
    h.run_for(std::time::Duration::from_millis(10));
    assert_eq!(h.state(), State::Backup, "a changed instance restarts");
    let before = h.counters();
    let mut p = Peer::of(&rotated, 200);
    p.ah = Some((b"secret\0\0".to_vec(), 50));
    h.rx(&p);
    assert_eq!(h.counters().auth_failures, before.auth_failures + 1);
    p.ah = Some((b"rotated\0".to_vec(), 51));
    h.rx(&p);
    assert_eq!(h.counters().auth_failures, before.auth_failures + 1);
    assert_eq!(
        h.counters().rcvd_advertisements,
        before.rcvd_advertisements + 1
    );
    let mut m = c.clone();
    m.state = InitialState::Master;
    let h = H::started(m);
    assert_eq!(h.r.poll_timeout(), Some(t(0.0) + ns(3_609_375_000)));
}

/// Ledger: RX-12
/// Ledger: KA-12
/// RFC 3768 §7.1: "MUST verify that the Adver Interval in the packet is the same as the
/// locally configured for this virtual router. If the above check fails, the receiver
/// MUST discard the packet".
#[test]
fn v2_interval_mismatch_is_dropped() {
    let (mut h, deadline) = backup(v2(100));
    let mut p = Peer::of(&v2(100), 200);
    p.repr.interval = 2;
    h.rx(&p);
    assert_eq!(h.counters().adv_interval_errors, 1);
    assert_eq!(h.r.poll_timeout(), deadline);
    assert!(h.events_since(0).iter().any(|e| e
        .to_string()
        .contains("advertises every 2 s, this router every 1 s")));
}

/// Ledger: RX-13
/// RFC 9568 §7.1: in v3 a different Max Adver Int is not a discard; the Backup logs it
/// (once per change) and adopts it.
#[test]
fn v3_interval_mismatch_is_accepted_and_logged_once() {
    let (mut h, _) = backup(v3(100));
    let mut p = Peer::of(&v3(100), 200);
    p.repr.interval = 50;
    h.rx(&p);
    h.run_until(t(2.0));
    h.rx(&p);
    assert_eq!(h.counters().rcvd_advertisements, 3);
    let n = h
        .events_since(0)
        .iter()
        .filter(|e| matches!(e, Event::IntervalAdopted { .. }))
        .map(|e| e.to_string())
        .collect::<Vec<_>>();
    assert_eq!(n.len(), 1);
    assert!(
        n[0].starts_with(
            "advertisement interval changed: mine=1000 milli-sec, rcved=500 milli-sec"
        ),
        "{}",
        n[0]
    );
    assert_eq!(
        h.r.master_adver_interval(ID),
        std::time::Duration::from_millis(500)
    );
}

/// Ledger: RX-14
/// Ledger: KA-10
/// RFC 3768 §7.1: "MAY verify that 'Count IP Addrs' and the list of IP Address(es)
/// matches ... If the packet was not generated by the address owner (Priority does not
/// equal 255 (decimal)), the receiver MUST drop the packet, otherwise continue
/// processing." v3 logs and continues; strict mode drops as keepalived does;
/// `skip_check_adv_addr` skips the check.
#[test]
fn address_list_mismatch_by_version_owner_and_switches() {
    let other = vec![IpAddr::V4(Ipv4Addr::new(10, 0, 0, 200))];
    let (mut h, deadline) = backup(v2(100));
    let mut p = Peer::of(&v2(100), 200);
    p.repr.addresses = other.clone();
    h.rx(&p);
    assert_eq!(h.counters().address_list_errors, 1);
    assert_eq!(h.r.poll_timeout(), deadline);
    p.repr.priority = 255;
    h.rx(&p);
    assert_eq!(
        h.counters().rcvd_advertisements,
        2,
        "from an owner it is processed"
    );

    let (mut h, _) = backup(v3(100));
    let mut p = Peer::of(&v3(100), 200);
    p.repr.addresses = other.clone();
    h.rx(&p);
    assert_eq!(h.counters().rcvd_advertisements, 2, "v3 processes and logs");
    assert!(discarded(&h, Discard::AddressList));

    let mut c = v3(100);
    c.strict = true;
    let (mut h, _) = backup(c);
    h.rx(&p);
    assert_eq!(h.counters().address_list_errors, 1);

    let mut c = v2(100);
    c.skip_check_adv_addr = true;
    let (mut h, _) = backup(c);
    let mut p = Peer::of(&v2(100), 200);
    p.repr.addresses = other;
    h.rx(&p);
    assert_eq!(h.counters().rcvd_advertisements, 2);
}

/// Ledger: RX-15
/// RFC 9568 §7.1: failed checks SHOULD be logged, rate-limited. 1,000 bad adverts give
/// 1,000 counts and one log line per 10 s, which then reports what it held back.
#[test]
fn discards_are_counted_every_time_and_logged_rate_limited() {
    let (mut h, _) = backup(v2(100));
    let mut p = Peer::of(&v2(100), 200);
    p.ttl = 1;
    for k in 0..1000u64 {
        h.run_until(t(2.0) + ns(k * 1_000_000));
        h.rx(&p);
    }
    assert_eq!(h.counters().ip_ttl_errors, 1000);
    let lines = h
        .events_since(0)
        .into_iter()
        .filter(|e| {
            matches!(
                e,
                Event::Discarded {
                    reason: Discard::Ttl,
                    ..
                }
            )
        })
        .count();
    assert_eq!(lines, 1);
    h.run_until(t(20.0));
    h.rx(&p);
    let last = h
        .events_since(0)
        .into_iter()
        .rev()
        .find(|e| matches!(e, Event::Discarded { .. }))
        .unwrap();
    assert!(matches!(
        last,
        Event::Discarded {
            suppressed: 999,
            ..
        }
    ));
}

/// Ledger: KA-22
/// A multicast advert on a unicast instance, or a unicast one from an address that is
/// not a peer with `check_unicast_src`, is discarded.
#[test]
fn delivery_kind_and_unicast_source_are_checked() {
    let mut c = v2(100);
    c.unicast_peers = vec![UnicastPeer {
        address: IpAddr::V4(PEER4),
        min_ttl: None,
        max_ttl: None,
    }];
    c.check_unicast_src = true;
    let mut h = H::started(c.clone());
    h.rx(&Peer::of(&c, 200));
    assert_eq!(
        h.counters().source_errors,
        1,
        "multicast on a unicast instance"
    );
    let mut p = Peer::of(&c, 200).from(IpAddr::V4(Ipv4Addr::new(10, 0, 0, 9)));
    p.dst = IpAddr::V4(ME4);
    h.rx(&p);
    assert_eq!(h.counters().source_errors, 2, "not a unicast_peer");
    let mut p = Peer::of(&c, 200);
    p.dst = IpAddr::V4(ME4);
    h.rx(&p);
    assert_eq!(h.counters().rcvd_advertisements, 1);
}

/// Unicast adverts go to every peer with `unicast_ttl`, checksummed for that peer.
#[test]
fn unicast_adverts_go_to_each_peer() {
    let mut c = v3(255);
    c.state = InitialState::Master;
    c.unicast_ttl = 64;
    c.unicast_peers = [3u8, 4]
        .iter()
        .map(|n| UnicastPeer {
            address: IpAddr::V4(Ipv4Addr::new(10, 0, 0, *n)),
            min_ttl: None,
            max_ttl: None,
        })
        .collect();
    let h = H::started(c);
    let sent: Vec<_> = h
        .log
        .iter()
        .filter_map(|(_, o)| match o {
            keepup_vrrp::Output::Advert(a) => Some((a.dst, a.ttl)),
            _ => None,
        })
        .collect();
    assert_eq!(
        sent,
        vec![
            (IpAddr::V4(Ipv4Addr::new(10, 0, 0, 3)), 64),
            (IpAddr::V4(Ipv4Addr::new(10, 0, 0, 4)), 64)
        ]
    );
}

/// Initialize exists only to wait for Startup: adverts produce nothing.
#[test]
fn adverts_before_startup_do_nothing() {
    let mut h = H::new(vec![v2(100)]);
    h.rx(&Peer::of(&v2(100), 200));
    assert!(h.log.is_empty());
    assert_eq!(h.state(), State::Initialize);
    assert_eq!(h.counters().rcvd_advertisements, 0);
    let _ = Version::V2;
}

/// Ledger: PKT-10
/// Ledger: PKT-09
/// keepup sends the v3/IPv4 checksum with the pseudo-header by default (as keepalived
/// 2.2.7 and FRR do); `v3_checksum_as_v2` selects RFC 9568's message-only form.
#[test]
fn v3_ipv4_checksum_form_sent_follows_the_switch() {
    for (form, want) in [
        (ChecksumForm::PseudoHeader, ChecksumForm::PseudoHeader),
        (ChecksumForm::MessageOnly, ChecksumForm::MessageOnly),
    ] {
        let mut c = v3(255);
        c.state = InitialState::Master;
        c.checksum_form = form;
        let h = H::started(c);
        let a = h.first_advert();
        let p = keepup_wire::ipv4::parse_advert(&a.packet).unwrap();
        let pkt = Packet::new_checked(p.vrrp, false).unwrap();
        let ip = keepup_wire::vrrp::IpPair {
            src: IpAddr::V4(p.src),
            dst: IpAddr::V4(p.dst),
        };
        assert_eq!(pkt.verify_checksum(ip), Some(want));
    }
}
