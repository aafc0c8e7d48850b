//! Property tests for the `auth_hmac` trailer: nothing panics on any input, every
//! signed advert verifies, any single flipped bit outside the VRRP checksum is
//! refused, and a receiver accepts every sequence a sender produces, once.
#![allow(clippy::unwrap_used)] // strategies and helpers: a failure is a test failure
use keepup_wire::hmac_auth::{
    self, AntiReplay, Key, PseudoHeader, ReplayState, ReplayVerdict, Repr, SendSequence, Sequence,
    Trailer, TRAILER_LEN,
};
use keepup_wire::Error;
use proptest::prelude::*;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::Duration;

fn any_source() -> impl Strategy<Value = IpAddr> {
    prop_oneof![
        any::<u32>().prop_map(|a| IpAddr::V4(Ipv4Addr::from(a))),
        any::<u128>().prop_map(|a| IpAddr::V6(Ipv6Addr::from(a))),
    ]
}

fn any_pseudo() -> impl Strategy<Value = PseudoHeader> {
    (prop_oneof![Just(2u8), Just(3u8)], any::<u8>(), any_source()).prop_map(
        |(version, vrid, source)| PseudoHeader {
            version,
            vrid,
            source,
        },
    )
}

fn any_key() -> impl Strategy<Value = Key> {
    (
        1u8..=255,
        prop::collection::vec(any::<u8>(), hmac_auth::KEY_MIN_LEN..=hmac_auth::KEY_MAX_LEN),
    )
        .prop_map(|(id, bytes)| Key::new(id, bytes).unwrap())
}

/// A VRRP message as far as the HMAC cares: at least the 8-octet header.
fn any_message() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(any::<u8>(), 8..=120)
}

proptest! {
    #[test]
    fn parsing_any_bytes_never_panics(b in prop::collection::vec(any::<u8>(), 0..64)) {
        let _ = Repr::parse(&b);
        let t = Trailer::new_unchecked(&b[..]);
        let _ = (t.ext_type(), t.key_id(), t.reserved(), t.sequence(), t.hmac());
        let _ = Trailer::new_checked(&b[..]);
        let _ = hmac_auth::locate(&b, b.len().saturating_sub(TRAILER_LEN));
        let _ = hmac_auth::key_from_file(&b);
        let _ = hmac_auth::verify_ipv6_checksum(Ipv6Addr::LOCALHOST, Ipv6Addr::LOCALHOST, &b);
        let _ = PseudoHeader::of_message(&b, IpAddr::V4(Ipv4Addr::LOCALHOST));
    }

    #[test]
    fn verifying_any_bytes_never_panics(
        key in any_key(),
        pseudo in any_pseudo(),
        msg in prop::collection::vec(any::<u8>(), 0..40),
        tr in prop::collection::vec(any::<u8>(), 0..40),
        now in any::<u64>(),
    ) {
        let keys = [key.clone()];
        let _ = hmac_auth::verify(key.bytes(), &pseudo, &msg, &tr);
        let _ = hmac_auth::verify_with_keys(&keys, &pseudo, &msg, &tr);
        let mut st = ReplayState::default();
        for mode in [AntiReplay::Time { window: 5 }, AntiReplay::Monotonic] {
            let _ = hmac_auth::receive(
                &keys, mode, &mut st, Duration::from_secs(now), &pseudo, &msg, &tr,
            );
        }
    }

    #[test]
    fn key_values_never_panic(s in ".{0,80}", raw in prop::collection::vec(any::<u8>(), 0..80)) {
        let _ = hmac_auth::parse_key_value(&s);
        let mut hexed = b"hex:".to_vec();
        hexed.extend_from_slice(&raw);
        let _ = hmac_auth::key_from_file(&hexed);
    }

    #[test]
    fn signed_adverts_verify(
        key in any_key(),
        pseudo in any_pseudo(),
        msg in any_message(),
        seq in any::<u64>(),
    ) {
        let tr = hmac_auth::sign(key.id(), key.bytes(), Sequence(seq), &pseudo, &msg).unwrap();
        let repr = hmac_auth::verify_with_keys(std::slice::from_ref(&key), &pseudo, &msg, &tr).unwrap();
        prop_assert_eq!(repr.key_id, key.id());
        prop_assert_eq!(repr.sequence, Sequence(seq));
        prop_assert_eq!(Repr::parse(&tr).unwrap().to_bytes(), tr);
        let mut packet = msg.clone();
        packet.extend_from_slice(&tr);
        prop_assert_eq!(hmac_auth::locate(&packet, msg.len()), Some(&tr[..]));
    }

    #[test]
    fn any_flipped_bit_outside_the_checksum_is_refused(
        key in any_key(),
        pseudo in any_pseudo(),
        msg in any_message(),
        seq in any::<u64>(),
        pick in any::<prop::sample::Index>(),
        bit in 0u8..8,
    ) {
        let tr = hmac_auth::sign(key.id(), key.bytes(), Sequence(seq), &pseudo, &msg).unwrap();
        let mut packet = msg.clone();
        packet.extend_from_slice(&tr);
        let i = pick.index(packet.len());
        packet[i] ^= 1 << bit;
        let (m, t) = packet.split_at(msg.len());
        let got = hmac_auth::verify_with_keys(&[key], &pseudo, m, t);
        if i == 6 || i == 7 {
            prop_assert!(got.is_ok());
        } else {
            prop_assert!(matches!(
                got,
                Err(Error::HmacAuth | Error::HmacMalformed(_) | Error::HmacUnknownKey(_))
            ));
        }
    }

    /// A sender's sequences, with its clock going forward in small steps and now and
    /// then a little backwards (within the window), are each accepted once.
    #[test]
    fn receiver_accepts_each_sent_sequence_once(
        start in 1_000_000_000u64..4_000_000_000,
        steps in prop::collection::vec(-2_000_000i64..3_000_000_000, 1..40),
        monotonic in any::<bool>(),
    ) {
        let mode = if monotonic { AntiReplay::Monotonic } else { AntiReplay::Time { window: 5 } };
        let mut tx = SendSequence::default();
        let mut rx = ReplayState::default();
        let mut now_ns = i128::from(start) * 1_000_000_000;
        for step in steps {
            now_ns += i128::from(step);
            let now = Duration::from_nanos(now_ns as u64);
            let seq = tx.next(mode, now);
            let first = mode.check(&mut rx, seq, now);
            let accepted = matches!(first, ReplayVerdict::Accept { .. });
            prop_assert!(accepted, "{:?} refused: {:?}", seq, first);
            prop_assert_eq!(mode.check(&mut rx, seq, now), ReplayVerdict::Replayed);
        }
    }
}
