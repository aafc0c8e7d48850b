//! `auth_hmac` in the engine: signing what an instance sends, checking what it
//! receives, and the per-sender anti-replay marks. The trailer's format, the HMAC
//! input, the sequence and the checks themselves are `keepup_wire::hmac_auth`'s
//! (see its module header for the sources); this file decides where they apply.
//!
//! - **Send.** `mode enforce` and `permissive` sign every advert with `active_key`:
//!   one sequence per advert, shared by every unicast copy (keepalived 2.4.3), the
//!   trailer appended after the VRRP message. IPv4: the IP Total Length covers it,
//!   the VRRP checksum does not. IPv6: the checksum is computed over message and
//!   trailer (what keepalived's kernel writes with `IPV6_CHECKSUM`).
//! - **Receive.** A trailer is only recognised when the message (its length from
//!   Count) is followed by exactly 28 octets. Without one, `enforce` refuses the
//!   advert and the other modes take it. With one, in every mode, it must pass every
//!   check (format, freshness with `anti_replay time`, key id, HMAC, growth past the
//!   sender's mark); each failure has its own counter and is named once per sender.
//! - **Senders.** A unicast instance keeps one mark per configured peer and refuses
//!   a signed advert from an address that is not a peer (as keepalived does). A
//!   multicast instance keeps 4 marks, least recently used evicted, and touches them
//!   only once the HMAC verified, so forged sources cannot push out real ones.
//! - **Clock.** The sequence and the freshness bound need the wall clock (Unix
//!   time); the engine never reads one. The driver gives it with
//!   [`crate::Router::set_wall`]; see there.
//!
//! Where keepup's order differs from keepalived's: the HMAC is checked after the
//! type, length and checksum checks and after the own-advert check, not right after
//! the version. A packet bad in two ways may land in another counter than
//! keepalived's; none is accepted that keepalived would refuse.
//!
//! Only keepalived 2.2.7 (no `auth_hmac`) is installable in keepup's lab, so the
//! format is proven by keepalived's published vectors (in `keepup_wire`) and by
//! round trips between keepup routers, not against a live keepalived 2.4.
use crate::config::{HmacConfig, UnicastPeer};
use crate::event::Discard;
use keepup_wire::hmac_auth::{self, PseudoHeader, ReplayState, SendSequence, TRAILER_LEN};
use keepup_wire::vrrp::{self, Version};
use keepup_wire::Error as WireError;
use std::collections::HashMap;
use std::net::IpAddr;
use std::time::Duration;

/// Multicast senders remembered per instance (keepalived's
/// `VRRP_AUTH_HMAC_MCAST_SENDERS`).
pub(crate) const MCAST_SENDERS: usize = 4;

/// One instance's `auth_hmac` state: what it sent last, and what it accepted from
/// whom. Kept across a reload that keeps the instance.
#[derive(Debug, Clone)]
pub(crate) struct HmacState {
    pub send: SendSequence,
    /// Senders whose clock skew was said to approach the window (once each).
    pub skew_named: crate::named::Once<IpAddr>,
    /// Per configured unicast peer.
    peers: HashMap<IpAddr, ReplayState>,
    /// Multicast senders: (address, mark, last use); `MCAST_SENDERS` at most.
    mcast: Vec<(IpAddr, ReplayState, u64)>,
    lru_clock: u64,
}

impl Default for HmacState {
    fn default() -> HmacState {
        HmacState {
            send: SendSequence::default(),
            skew_named: crate::named::Once::new(64),
            peers: HashMap::new(),
            mcast: Vec::new(),
            lru_clock: 0,
        }
    }
}

impl HmacState {
    /// The mark of `src` (unset if unknown). Touches nothing.
    fn mark(&self, unicast: bool, src: IpAddr) -> ReplayState {
        if unicast {
            self.peers.get(&src).copied().unwrap_or_default()
        } else {
            self.mcast
                .iter()
                .find(|(a, _, _)| *a == src)
                .map(|(_, s, _)| *s)
                .unwrap_or_default()
        }
    }

    /// Store `src`'s mark after its HMAC verified: a multicast sender takes a slot
    /// (the least recently used one when all are taken) and is marked as used now.
    fn keep(&mut self, unicast: bool, src: IpAddr, state: ReplayState) {
        if unicast {
            self.peers.insert(src, state);
            return;
        }
        self.lru_clock += 1;
        let clock = self.lru_clock;
        if let Some(slot) = self.mcast.iter_mut().find(|(a, _, _)| *a == src) {
            *slot = (src, state, clock);
            return;
        }
        if self.mcast.len() < MCAST_SENDERS {
            self.mcast.push((src, state, clock));
            return;
        }
        if let Some(victim) = self.mcast.iter_mut().min_by_key(|(_, _, used)| *used) {
            *victim = (src, state, clock);
        }
    }

    /// Multicast senders remembered now (tests).
    #[cfg(test)]
    pub(crate) fn mcast_senders(&self) -> Vec<IpAddr> {
        self.mcast.iter().map(|(a, _, _)| *a).collect()
    }
}

/// The trailer for one advert: `None` when this mode does not sign (or the active
/// key is missing, which `Router::new` refuses). `message` is the VRRP message as
/// built for any destination: the checksum, the only octets that differ, is not
/// covered.
pub(crate) fn sign(
    cfg: &HmacConfig,
    state: &mut HmacState,
    version: Version,
    vrid: u8,
    src: IpAddr,
    message: &[u8],
    wall: Duration,
) -> Option<[u8; TRAILER_LEN]> {
    if !cfg.mode.signs() {
        return None;
    }
    let key = cfg.signing_key()?;
    let sequence = state.send.next(cfg.anti_replay, wall);
    let pseudo = PseudoHeader::new(version, vrid, src);
    hmac_auth::sign(key.id(), key.bytes(), sequence, &pseudo, message).ok()
}

/// `message` with the trailer appended; on IPv6 the checksum is then computed over
/// both, as keepalived's kernel writes it.
pub(crate) fn append(
    mut message: Vec<u8>,
    trailer: &[u8; TRAILER_LEN],
    src: IpAddr,
    dst: IpAddr,
) -> Vec<u8> {
    message.extend_from_slice(trailer);
    if let (IpAddr::V6(s), IpAddr::V6(d)) = (src, dst) {
        let sum = hmac_auth::ipv6_checksum(s, d, &message);
        vrrp::Packet::new_unchecked(&mut message[..]).set_checksum(sum);
    }
    message
}

/// Split what followed the IP header into the VRRP message and the trailer, when
/// there is exactly one trailer's length after the message (keepalived's rule).
pub(crate) fn split(payload: &[u8], v6: bool) -> (&[u8], Option<&[u8]>) {
    if payload.len() < vrrp::HEADER_LEN {
        return (payload, None);
    }
    let len = vrrp::Packet::new_unchecked(payload).message_len(v6);
    match hmac_auth::locate(payload, len) {
        Some(trailer) => (payload.get(..len).unwrap_or(payload), Some(trailer)),
        None => (payload, None),
    }
}

/// For an instance without `auth_hmac`: `Some` when `bytes` (what followed the IP
/// header) end in what looks like a trailer, to be named once for the sender. IPv4:
/// `Some(false)`, the trailer is only trailing octets (KA-11) and the advert is used.
/// IPv6: `Some(true)` when the checksum verifies over the trailer too, so the advert
/// cannot be taken without `auth_hmac` (dropped, counted as another
/// authentication); otherwise `None` and the usual checks decide.
pub(crate) fn unexpected_signature(src: IpAddr, dst: IpAddr, bytes: &[u8]) -> Option<bool> {
    let (_, trailer) = split(bytes, src.is_ipv6());
    hmac_auth::Repr::parse(trailer?).ok()?;
    match (src, dst) {
        (IpAddr::V6(s), IpAddr::V6(d)) => {
            hmac_auth::verify_ipv6_checksum(s, d, bytes).then_some(true)
        }
        _ => Some(false),
    }
}

/// `time_window` (0 with `anti_replay monotonic`).
pub(crate) fn window(cfg: &HmacConfig) -> u32 {
    match cfg.anti_replay {
        hmac_auth::AntiReplay::Time { window } => window,
        hmac_auth::AntiReplay::Monotonic => 0,
    }
}

/// What a receiver needs to know about the advert being checked.
pub(crate) struct Received<'a> {
    pub src: IpAddr,
    pub version: Version,
    pub vrid: u8,
    /// The VRRP message alone.
    pub message: &'a [u8],
    pub trailer: Option<&'a [u8]>,
}

/// Check one advert's trailer (or its absence) for an instance with `cfg`. `Err`:
/// the discard and, for the log, what the sender did. The sender's mark moves only
/// when everything passed. `Ok(Some(skew))`: accepted, but with `anti_replay time`
/// the sender's clock is more than half the window away (keepalived warns then).
pub(crate) fn check(
    cfg: &HmacConfig,
    state: &mut HmacState,
    peers: &[UnicastPeer],
    rx: &Received<'_>,
    wall: Duration,
) -> Result<Option<i32>, (Discard, String)> {
    let Some(trailer) = rx.trailer else {
        return cfg.mode.check_missing().map(|()| None).map_err(|_| {
            (
                Discard::HmacMissing,
                "sends adverts without an auth_hmac trailer, and this router's mode is \
                 enforce (use mode permissive on every router while migrating)"
                    .to_string(),
            )
        });
    };
    // keepalived anchors a unicast sender's replay state to its peer entry.
    let unicast = !peers.is_empty();
    if unicast && !peers.iter().any(|p| p.address == rx.src) {
        return Err((
            Discard::Source,
            "signs its adverts (auth_hmac) but is not a unicast_peer of this router".into(),
        ));
    }
    let mut mark = state.mark(unicast, rx.src);
    let pseudo = PseudoHeader::new(rx.version, rx.vrid, rx.src);
    let result = hmac_auth::receive(
        &cfg.keys,
        cfg.anti_replay,
        &mut mark,
        wall,
        &pseudo,
        rx.message,
        trailer,
    );
    if matches!(result, Ok(_) | Err(WireError::HmacReplay)) {
        // The HMAC verified: this sender is real.
        state.keep(unicast, rx.src, mark);
    }
    let (_, skew) = result.map_err(|e| explain(cfg, e))?;
    Ok(match cfg.anti_replay {
        hmac_auth::AntiReplay::Time { window } if skew.unsigned_abs() > window / 2 => Some(skew),
        _ => None,
    })
}

fn explain(cfg: &HmacConfig, e: WireError) -> (Discard, String) {
    match e {
        WireError::HmacStale { skew } => {
            let window = window(cfg);
            (
                Discard::HmacStale,
                format!(
                    "sends auth_hmac times {skew} s away from this router's clock, beyond \
                     time_window {window} s (a replayed capture, or clocks out of step: \
                     check NTP on both)"
                ),
            )
        }
        WireError::HmacUnknownKey(id) => {
            let ours: Vec<String> = cfg.keys.iter().map(|k| k.id().to_string()).collect();
            (
                Discard::HmacUnknownKey,
                format!(
                    "signs with auth_hmac key {id}, which this router does not have (keys {})",
                    ours.join(", ")
                ),
            )
        }
        WireError::HmacAuth => (
            Discard::HmacAuth,
            "sends an auth_hmac trailer whose HMAC does not verify (another secret under \
             the same key id, or a forged or altered advert)"
                .into(),
        ),
        WireError::HmacReplay => (
            Discard::HmacReplay,
            "sent an auth_hmac sequence not after the last one accepted from it (a \
             replayed advert)"
                .into(),
        ),
        other => (
            Discard::HmacMalformed,
            format!("sends a malformed auth_hmac trailer ({other})"),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use keepup_wire::hmac_auth::Sequence;
    use std::net::Ipv4Addr;

    fn a(n: u8) -> IpAddr {
        IpAddr::V4(Ipv4Addr::new(10, 0, 0, n))
    }

    fn marked(n: u64) -> ReplayState {
        let mut s = ReplayState::default();
        let now = Duration::from_secs(1000);
        let _ = hmac_auth::AntiReplay::Monotonic.check(&mut s, Sequence(n), now);
        s
    }

    /// Four multicast senders are remembered; a fifth evicts the least recently
    /// used, and a sender used again is kept.
    #[test]
    fn multicast_marks_are_a_small_lru() {
        let mut st = HmacState::default();
        for n in 1..=4 {
            st.keep(false, a(n), marked(u64::from(n)));
        }
        st.keep(false, a(1), marked(10)); // 1 used again: 2 is now the oldest
        st.keep(false, a(5), marked(5));
        let mut kept = st.mcast_senders();
        kept.sort();
        assert_eq!(kept, vec![a(1), a(3), a(4), a(5)]);
        assert_eq!(st.mark(false, a(1)).mark(), Some(Sequence(10)));
        assert_eq!(st.mark(false, a(2)).mark(), None, "forgotten");
        // Unicast marks are per peer, not limited here (only peers reach them).
        for n in 1..=8 {
            st.keep(true, a(n), marked(1));
        }
        assert_eq!(st.peers.len(), 8);
    }

    /// The trailer is found only at exactly 28 octets after the message.
    #[test]
    fn trailer_found_by_exact_length_only() {
        let msg = [
            0x21u8, 51, 100, 1, 0, 1, 0, 0, 10, 0, 0, 100, 0, 0, 0, 0, 0, 0, 0, 0,
        ];
        let mut with = msg.to_vec();
        with.extend_from_slice(&[0; TRAILER_LEN]);
        assert_eq!(
            split(&with, false),
            (&msg[..], Some(&[0u8; TRAILER_LEN][..]))
        );
        with.push(0);
        assert_eq!(split(&with, false).1, None);
        assert_eq!(split(&msg, false), (&msg[..], None));
        assert_eq!(split(&[0x21, 51], false), (&[0x21u8, 51][..], None));
    }
}
