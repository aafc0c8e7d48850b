//! `auth_hmac` (keepalived 2.4.2/2.4.3's trailer) in the engine: two routers on one
//! virtual clock sign and verify each other; replayed, forged, unsigned, stale and
//! foreign-key adverts are refused and counted, each kind named once per sender;
//! a key rotation on reload changes nothing else.
//!
//! Only keepalived 2.2.7 (no `auth_hmac`) is installable in keepup's lab, so these
//! are round trips between keepup routers; the format itself is proven against
//! keepalived's published vectors in `keepup_wire::hmac_auth`.
#![allow(clippy::unwrap_used)]
mod harness;
use harness::*;
use keepup_vrrp::{
    Discard, Event, HmacConfig, InstanceConfig, InstanceId, Output, RxData, RxPacket, State,
    TxAdvert, UnicastPeer,
};
use keepup_wire::hmac_auth::{AntiReplay, Key, Mode, TRAILER_LEN};
use keepup_wire::{ipv4, vrrp};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::Duration;

const ID: InstanceId = InstanceId(0);
/// Unix time the tests start at (2026-12-06), so the sequence looks real.
const EPOCH: Duration = Duration::from_secs(1_796_000_000);

fn key(id: u8, fill: u8) -> Key {
    Key::new(id, vec![fill; 32]).unwrap()
}

fn hmac(mode: Mode, active: u8) -> HmacConfig {
    HmacConfig {
        keys: vec![key(1, b'a'), key(2, b'b')],
        active_key: active,
        anti_replay: AntiReplay::Time { window: 5 },
        mode,
    }
}

fn with(mut c: InstanceConfig, h: HmacConfig) -> InstanceConfig {
    c.auth_hmac = Some(h);
    c
}

fn v4(prio: u8, me: u8) -> InstanceConfig {
    let mut c = v2(prio);
    c.source = Some(IpAddr::V4(Ipv4Addr::new(10, 0, 0, me)));
    c
}

fn v6(prio: u8, me: u16) -> InstanceConfig {
    let mut c = v3_6(prio);
    c.source = Some(IpAddr::V6(Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, me)));
    c
}

/// Two routers on one virtual LAN: what one sends reaches the other at once.
struct Lan {
    r: [H; 2],
    /// Every advert sent, by whom.
    sent: Vec<(usize, TxAdvert)>,
}

impl Lan {
    fn new(a: InstanceConfig, b: InstanceConfig) -> Lan {
        let mut r = [H::new(vec![a]), H::new(vec![b])];
        for h in &mut r {
            h.r.set_wall(t(0.0), EPOCH);
            h.input(keepup_vrrp::Input::Startup);
        }
        let mut lan = Lan {
            r,
            sent: Vec::new(),
        };
        lan.deliver(0, 0);
        lan
    }

    /// Carry the adverts router `k` output since log index `from` to the other.
    fn deliver(&mut self, k: usize, from: usize) {
        let out: Vec<TxAdvert> = self.r[k].log[from..]
            .iter()
            .filter_map(|(_, o)| match o {
                Output::Advert(a) => Some(a.clone()),
                _ => None,
            })
            .collect();
        for a in out {
            self.sent.push((k, a.clone()));
            let src = self.r[k].r.source_address(ID).unwrap();
            deliver(&mut self.r[1 - k], &a, src);
        }
    }

    /// Run both to `to`, one timer at a time, carrying adverts as they leave.
    fn run_until(&mut self, to: Instant) {
        loop {
            let next = [0, 1]
                .into_iter()
                .filter_map(|k| self.r[k].r.poll_timeout().map(|d| (d, k)))
                .min();
            match next {
                Some((d, k)) if d <= to => {
                    for h in &mut self.r {
                        h.now = d;
                    }
                    let from = self.r[k].mark();
                    self.r[k].r.handle_timeout(d);
                    self.r[k].drain();
                    self.deliver(k, from);
                }
                _ => break,
            }
        }
        for h in &mut self.r {
            h.now = to;
        }
    }

    /// The latest advert router `k` sent.
    fn last_from(&self, k: usize) -> TxAdvert {
        self.sent
            .iter()
            .rev()
            .find(|(s, _)| *s == k)
            .map(|(_, a)| a.clone())
            .unwrap()
    }
}

/// Hand a sent advert to `h` as its socket would.
fn deliver(h: &mut H, a: &TxAdvert, src: IpAddr) {
    let data = match (src, a.dst) {
        (IpAddr::V6(s), IpAddr::V6(d)) => RxData::V6 {
            src: s,
            dst: d,
            hop_limit: a.ttl,
            vrrp: &a.packet,
        },
        _ => RxData::V4(&a.packet),
    };
    h.r.handle(
        h.now,
        keepup_vrrp::Input::Packet(RxPacket {
            interface: IF,
            data,
        }),
    );
    h.drain();
}

/// The VRRP payload of a sent advert (after the IPv4 header, or the IPv6 payload).
fn payload(a: &TxAdvert) -> Vec<u8> {
    match a.dst {
        IpAddr::V4(_) => ipv4::parse_advert(&a.packet).unwrap().vrrp.to_vec(),
        IpAddr::V6(_) => a.packet.clone(),
    }
}

fn named(h: &H, reason: Discard) -> usize {
    h.events_since(0)
        .iter()
        .filter(|e| matches!(e, Event::Mismatch { reason: r, .. } if *r == reason))
        .count()
}

fn no_hmac_errors(h: &H) {
    let c = h.counters();
    assert_eq!(
        (
            c.auth_ext_missing,
            c.auth_ext_malformed,
            c.auth_ext_unknown_key,
            c.auth_ext_invalid_hmac,
            c.auth_ext_stale,
            c.auth_ext_replay,
        ),
        (0, 0, 0, 0, 0, 0),
        "{c:?}"
    );
}

/// Signed both ways, IPv4 (VRRPv2) and IPv6 (VRRPv3): the Master wins, the Backup
/// accepts every advert, nothing is refused. The trailer is 28 octets after the
/// message; IPv4's Total Length covers it; IPv6's checksum covers it.
#[test]
fn signed_adverts_round_trip_between_two_routers() {
    for (a, b) in [(v4(150, 2), v4(100, 3)), (v6(150, 2), v6(100, 3))] {
        let v6 = a.is_v6();
        let mut lan = Lan::new(
            with(a, hmac(Mode::Enforce, 1)),
            with(b, hmac(Mode::Enforce, 1)),
        );
        lan.run_until(t(10.0));
        assert_eq!(lan.r[0].state(), State::Master);
        assert_eq!(lan.r[1].state(), State::Backup);
        assert!(lan.r[1].counters().rcvd_advertisements >= 5);
        no_hmac_errors(&lan.r[0]);
        no_hmac_errors(&lan.r[1]);
        let a = lan.last_from(0);
        let p = payload(&a);
        let msg_len = vrrp::Packet::new_unchecked(&p[..]).message_len(v6);
        assert_eq!(p.len(), msg_len + TRAILER_LEN);
        assert_eq!(p[msg_len], 1, "extension type");
        assert_eq!(p[msg_len + 1], 1, "key id");
        if let (IpAddr::V6(s), IpAddr::V6(d)) = (lan.r[0].r.source_address(ID).unwrap(), a.dst) {
            assert!(keepup_wire::hmac_auth::verify_ipv6_checksum(s, d, &p));
        } else {
            let ip = ipv4::Packet::new_checked(&a.packet[..]).unwrap();
            assert_eq!(ip.total_len(), a.packet.len());
        }
        assert_eq!(lan.r[1].counters().trailing_octets, 0);
    }
}

/// An advert accepted once is refused the second time: counted as a replay, named
/// once for that sender, and it moves nothing (the down timer is not re-armed).
#[test]
fn replayed_advert_is_refused_counted_and_named_once() {
    let mut lan = Lan::new(
        with(v4(150, 2), hmac(Mode::Enforce, 1)),
        with(v4(100, 3), hmac(Mode::Enforce, 1)),
    );
    lan.run_until(t(5.0));
    let old = lan.last_from(0);
    let src = lan.r[0].r.source_address(ID).unwrap();
    let deadline = lan.r[1].r.poll_timeout();
    let rcvd = lan.r[1].counters().rcvd_advertisements;
    for n in 1..=3 {
        deliver(&mut lan.r[1], &old, src);
        assert_eq!(lan.r[1].counters().auth_ext_replay, n);
    }
    assert_eq!(lan.r[1].counters().rcvd_advertisements, rcvd);
    assert_eq!(
        lan.r[1].r.poll_timeout(),
        deadline,
        "a replay moved a timer"
    );
    assert_eq!(named(&lan.r[1], Discard::HmacReplay), 1);
    let line = lan.r[1]
        .events_since(0)
        .into_iter()
        .find(|e| matches!(e, Event::Mismatch { .. }))
        .unwrap()
        .to_string();
    assert!(line.contains("replayed advert"), "{line}");
    // The real Master's next adverts are still taken.
    lan.run_until(t(8.0));
    assert!(lan.r[1].counters().rcvd_advertisements > rcvd);
    assert_eq!(lan.r[1].state(), State::Backup);
}

/// A flipped HMAC octet, or a priority changed after signing (checksum fixed), is
/// refused as an invalid HMAC. A forged priority 0 does not make the Backup take
/// over early.
#[test]
fn forged_adverts_are_refused_and_counted() {
    let mut lan = Lan::new(
        with(v4(150, 2), hmac(Mode::Enforce, 1)),
        with(v4(100, 3), hmac(Mode::Enforce, 1)),
    );
    lan.run_until(t(5.0));
    let src = lan.r[0].r.source_address(ID).unwrap();
    let mut flipped = lan.last_from(0);
    let last = flipped.packet.len() - 1;
    flipped.packet[last] ^= 0x01;
    deliver(&mut lan.r[1], &flipped, src);
    assert_eq!(lan.r[1].counters().auth_ext_invalid_hmac, 1);

    // Priority 0, with the VRRPv2 checksum made right again: only the HMAC tells.
    let mut resign = lan.last_from(0);
    let ihl = 20;
    resign.packet[ihl + 2] = 0;
    resign.packet[ihl + 6] = 0;
    resign.packet[ihl + 7] = 0;
    let msg_len = 20;
    let sum = keepup_wire::checksum::checksum(&resign.packet[ihl..ihl + msg_len]);
    resign.packet[ihl + 6..ihl + 8].copy_from_slice(&sum.to_be_bytes());
    let before = lan.r[1].transitions().len();
    deliver(&mut lan.r[1], &resign, src);
    assert_eq!(lan.r[1].counters().auth_ext_invalid_hmac, 2);
    assert_eq!(lan.r[1].counters().rcvd_pri_zero_packets, 0);
    assert_eq!(
        named(&lan.r[1], Discard::HmacAuth),
        1,
        "named once per sender"
    );
    lan.run_until(t(9.0));
    assert_eq!(
        lan.r[1].transitions().len(),
        before,
        "the forgery moved the Backup"
    );
    assert_eq!(lan.r[1].state(), State::Backup);
}

/// An unsigned advert: `enforce` refuses it (counted as missing, named once),
/// `permissive` and `receive-only` take it. `receive-only` sends unsigned adverts;
/// the other two sign.
#[test]
fn unsigned_advert_in_each_mode() {
    for (mode, taken) in [
        (Mode::Enforce, false),
        (Mode::Permissive, true),
        (Mode::ReceiveOnly, true),
    ] {
        let c = with(v4(100, 2), hmac(mode, 1));
        let mut h = H::new(vec![c.clone()]);
        h.r.set_wall(t(0.0), EPOCH);
        h.input(keepup_vrrp::Input::Startup);
        h.run_until(t(1.0));
        let plain = Peer::of(&c, 200);
        h.rx(&plain);
        h.rx(&plain);
        let k = h.counters();
        if taken {
            assert_eq!(
                (k.rcvd_advertisements, k.auth_ext_missing),
                (2, 0),
                "{mode:?}"
            );
        } else {
            assert_eq!(
                (k.rcvd_advertisements, k.auth_ext_missing),
                (0, 2),
                "{mode:?}"
            );
            assert_eq!(named(&h, Discard::HmacMissing), 1);
        }
        // Nothing heard from a Master after that: this router becomes Master and
        // sends, signed or not by mode.
        h.run_until(t(8.0));
        assert_eq!(h.state(), State::Master, "{mode:?}");
        let a = h.first_advert();
        let p = payload(&a);
        let signed = p.len() == 20 + TRAILER_LEN;
        assert_eq!(signed, mode.signs(), "{mode:?}: {} octets", p.len());
    }
}

/// Make-before-break: both routers hold keys 1 and 2; the Master is reloaded with
/// `active_key 2`. It keeps its state and sequence, signs with key 2 from its next
/// advert, and the Backup takes every advert: no transition anywhere.
#[test]
fn key_rotation_on_reload_makes_no_transition() {
    let a = with(v4(150, 2), hmac(Mode::Enforce, 1));
    let b = with(v4(100, 3), hmac(Mode::Enforce, 1));
    let mut lan = Lan::new(a.clone(), b);
    lan.run_until(t(5.0));
    let before = (lan.r[0].transitions().len(), lan.r[1].transitions().len());
    let seen = lan.r[1].counters().rcvd_advertisements;

    let mut rotated = a;
    rotated.auth_hmac = Some(hmac(Mode::Enforce, 2));
    let r = &mut lan.r[0].r;
    r.retire(|_| true);
    let kept = r.reconfigure(vec![rotated], vec![]).unwrap();
    assert_eq!(kept, vec![Some(ID)], "the instance is kept");
    lan.r[0].drain();
    lan.r[0].input(keepup_vrrp::Input::Startup);
    lan.run_until(t(12.0));

    assert_eq!(
        (lan.r[0].transitions().len(), lan.r[1].transitions().len()),
        before,
        "{:?} / {:?}",
        lan.r[0].transitions(),
        lan.r[1].transitions()
    );
    assert_eq!(lan.r[0].state(), State::Master);
    let p = payload(&lan.last_from(0));
    assert_eq!(p[20 + 1], 2, "signed with the new active key");
    assert!(lan.r[1].counters().rcvd_advertisements >= seen + 6);
    no_hmac_errors(&lan.r[1]);
}

/// A key id the receiver does not have, another secret under the same id, and a
/// sender whose clock is beyond `time_window`: three counters, each named once.
#[test]
fn unknown_key_other_secret_and_stale_clock() {
    let b = with(v4(100, 3), hmac(Mode::Enforce, 1));
    let cases: [(HmacConfig, Duration, Discard); 3] = [
        (
            HmacConfig {
                keys: vec![key(7, b'a')],
                active_key: 7,
                ..hmac(Mode::Enforce, 1)
            },
            EPOCH,
            Discard::HmacUnknownKey,
        ),
        (
            HmacConfig {
                keys: vec![key(1, b'z')],
                ..hmac(Mode::Enforce, 1)
            },
            EPOCH,
            Discard::HmacAuth,
        ),
        (
            hmac(Mode::Enforce, 1),
            EPOCH + Duration::from_secs(60),
            Discard::HmacStale,
        ),
    ];
    for (cfg, wall, reason) in cases {
        let mut lan = Lan::new(with(v4(150, 2), cfg), b.clone());
        lan.r[0].r.set_wall(lan.r[0].now, wall);
        lan.run_until(t(10.0));
        let k = lan.r[1].counters();
        let counted = match reason {
            Discard::HmacUnknownKey => k.auth_ext_unknown_key,
            Discard::HmacAuth => k.auth_ext_invalid_hmac,
            _ => k.auth_ext_stale,
        };
        assert!(counted >= 5, "{reason:?}: {k:?}");
        assert_eq!(k.rcvd_advertisements, 0, "{reason:?}");
        assert_eq!(named(&lan.r[1], reason), 1, "{reason:?}");
        // Not heard: both claim Master (as two keepalived routers with different
        // keys would).
        assert_eq!(lan.r[1].state(), State::Master, "{reason:?}");
    }
}

/// With `anti_replay monotonic` the clocks need not agree: a sender an hour ahead
/// is taken.
#[test]
fn monotonic_ignores_the_clock() {
    let mono = HmacConfig {
        anti_replay: AntiReplay::Monotonic,
        ..hmac(Mode::Enforce, 1)
    };
    let mut lan = Lan::new(with(v4(150, 2), mono.clone()), with(v4(100, 3), mono));
    lan.r[0]
        .r
        .set_wall(lan.r[0].now, EPOCH + Duration::from_secs(3600));
    lan.run_until(t(10.0));
    assert_eq!(lan.r[1].state(), State::Backup);
    no_hmac_errors(&lan.r[1]);
}

/// Unicast: a signed advert from an address that is not a unicast_peer is refused
/// (keepalived keeps replay state per peer); the peer's own adverts are taken.
#[test]
fn unicast_signed_advert_from_a_non_peer_is_refused() {
    let peer = |a: u8| UnicastPeer {
        address: IpAddr::V4(Ipv4Addr::new(10, 0, 0, a)),
        min_ttl: None,
        max_ttl: None,
    };
    let mut a = with(v4(150, 2), hmac(Mode::Enforce, 1));
    a.unicast_peers = vec![peer(3)];
    let mut b = with(v4(100, 3), hmac(Mode::Enforce, 1));
    b.unicast_peers = vec![peer(2)];
    let mut lan = Lan::new(a, b);
    lan.run_until(t(5.0));
    assert_eq!(lan.r[1].state(), State::Backup);
    no_hmac_errors(&lan.r[1]);
    let sources = lan.r[1].counters().source_errors;

    // Router 10.0.0.4 with the right keys, not configured as a peer of b.
    let mut c = with(v4(200, 4), hmac(Mode::Enforce, 1));
    c.unicast_peers = vec![peer(3)];
    let mut other = H::new(vec![c]);
    other.r.set_wall(t(0.0), EPOCH);
    other.now = lan.r[1].now;
    other.input(keepup_vrrp::Input::Startup);
    other.run_for(Duration::from_secs(4));
    let sent = other.first_advert();
    deliver(&mut lan.r[1], &sent, IpAddr::V4(Ipv4Addr::new(10, 0, 0, 4)));
    assert_eq!(lan.r[1].counters().source_errors, sources + 1);
    assert_eq!(lan.r[1].state(), State::Backup);
}

/// `Router::new` refuses what cannot run: no key, an active key that is not one of
/// them, a key id twice, auth_hmac with AH.
#[test]
fn impossible_auth_hmac_settings_are_refused() {
    let bad = [
        HmacConfig {
            keys: vec![],
            ..hmac(Mode::Enforce, 1)
        },
        hmac(Mode::Enforce, 9),
        HmacConfig {
            keys: vec![key(1, b'a'), key(1, b'b')],
            ..hmac(Mode::Enforce, 1)
        },
    ];
    for h in bad {
        let e = keepup_vrrp::Router::new(vec![with(v4(100, 2), h.clone())], vec![]);
        assert!(e.is_err(), "{h:?}");
    }
    // receive-only signs nothing: its active key need not exist.
    assert!(
        keepup_vrrp::Router::new(vec![with(v4(100, 2), hmac(Mode::ReceiveOnly, 9))], vec![])
            .is_ok()
    );
    let mut ah = with(v4(100, 2), hmac(Mode::Enforce, 1));
    ah.auth = keepup_vrrp::Auth::ah("secret");
    assert!(keepup_vrrp::Router::new(vec![ah], vec![]).is_err());
}

/// A sender whose clock is more than half of `time_window` away is still heard,
/// and said once (keepalived's warning before the drift makes it stale).
#[test]
fn clock_skew_near_the_window_is_said_once() {
    let mut lan = Lan::new(
        with(v4(150, 2), hmac(Mode::Enforce, 1)),
        with(v4(100, 3), hmac(Mode::Enforce, 1)),
    );
    lan.r[0]
        .r
        .set_wall(lan.r[0].now, EPOCH + Duration::from_secs(4));
    lan.run_until(t(10.0));
    assert_eq!(lan.r[1].state(), State::Backup);
    no_hmac_errors(&lan.r[1]);
    let said: Vec<String> = lan.r[1]
        .events_since(0)
        .iter()
        .filter(|e| {
            matches!(
                e,
                Event::HmacClockSkew {
                    skew: -4,
                    window: 5,
                    ..
                }
            )
        })
        .map(ToString::to_string)
        .collect();
    assert_eq!(said.len(), 1, "{said:?}");
    assert!(said[0].starts_with("authentication clock skew -4 sec from 10.0.0.2"));
}

/// A router without auth_hmac hears a signed advert: named once. IPv4: used (the
/// trailer is only trailing octets); IPv6: its checksum covers the trailer, so it
/// is dropped and counted as another authentication.
#[test]
fn signed_adverts_reaching_a_router_without_auth_hmac_are_named() {
    for (a, b) in [(v4(150, 2), v4(100, 3)), (v6(150, 2), v6(100, 3))] {
        let v6 = a.is_v6();
        let mut lan = Lan::new(with(a, hmac(Mode::Enforce, 1)), b);
        lan.run_until(t(10.0));
        let k = lan.r[1].counters();
        let names: Vec<String> = lan.r[1]
            .events_since(0)
            .iter()
            .filter(|e| {
                matches!(
                    e,
                    Event::Mismatch {
                        reason: Discard::AuthType,
                        ..
                    }
                )
            })
            .map(ToString::to_string)
            .collect();
        assert_eq!(names.len(), 1, "{names:?}");
        assert!(
            names[0].contains("signs its adverts (auth_hmac)"),
            "{}",
            names[0]
        );
        if v6 {
            assert!(
                k.auth_type_mismatch >= 5 && k.rcvd_advertisements == 0,
                "{k:?}"
            );
        } else {
            assert!(
                k.rcvd_advertisements >= 5 && k.trailing_octets >= 5,
                "{k:?}"
            );
            assert_eq!(lan.r[1].state(), State::Backup);
        }
    }
}

proptest::proptest! {
    /// Random bytes after a valid header, or a real signed advert with random octets
    /// changed, never panic an auth_hmac router and never pass as a Master's advert
    /// unless they are the advert unchanged.
    #[test]
    fn mangled_signed_adverts_never_pass(
        flips in proptest::collection::vec((0usize..200, 1u8..=255), 1..4),
        tail in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..64),
        six in proptest::prelude::any::<bool>(),
    ) {
        let (a, b) = if six { (v6(150, 2), v6(100, 3)) } else { (v4(150, 2), v4(100, 3)) };
        let mut lan = Lan::new(with(a, hmac(Mode::Enforce, 1)), with(b, hmac(Mode::Enforce, 1)));
        lan.run_until(t(5.0));
        let src = lan.r[0].r.source_address(ID).unwrap();
        let mut adv = lan.last_from(0);
        let rcvd = lan.r[1].counters().rcvd_advertisements;
        let mut changed = false;
        for (at, x) in &flips {
            let n = adv.packet.len();
            // The IPv4 header is the kernel's business (and not covered): leave it.
            let lo = if six { 0 } else { 20 };
            if n > lo {
                let i = lo + at % (n - lo);
                adv.packet[i] ^= x;
                changed = true;
            }
        }
        let mut longer = adv.clone();
        longer.packet.extend_from_slice(&tail);
        deliver(&mut lan.r[1], &adv, src);
        deliver(&mut lan.r[1], &longer, src);
        proptest::prop_assert!(changed);
        proptest::prop_assert_eq!(lan.r[1].counters().rcvd_advertisements, rcvd);
        proptest::prop_assert_eq!(lan.r[1].state(), State::Backup);
    }
}
