//! One virtual router's state and the rules that only need that state: timers,
//! intervals, the advert it sends, and the receive checks it applies.
use crate::config::{Auth, InstanceConfig};
use crate::counters::Counters;
use crate::event::Discard;
use crate::time::Instant;
use crate::{Reason, State, TrackEffect};
use keepup_wire::vrrp::{self, AuthType, IpPair, Version};
use keepup_wire::{ah, ipv4};
use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::net::IpAddr;
use std::time::Duration;

/// The timers of one virtual router; their deadlines live in `Instance::timers`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Timer {
    /// Adver_Timer (Master): time to send the next advert.
    Adver = 0,
    /// Master_Down_Timer / Active_Down_Timer (Backup).
    MasterDown = 1,
    /// The next round of the current announcement burst (`garp_interval` spacing).
    GarpRound = 2,
    /// The second burst, `garp_master_delay` / `garp_lower_prio_delay` later.
    GarpDelay = 3,
    /// `garp_master_refresh`.
    GarpRefresh = 4,
    /// A stopping Master holding its VIPs for the handover lets them go.
    Release = 5,
    /// The next IPv6 Router Advertisement (`keepup_router_advert`, ARP-07).
    RouterAdvert = 6,
}

pub(crate) const TIMERS: [Timer; 7] = [
    Timer::Adver,
    Timer::MasterDown,
    Timer::GarpRound,
    Timer::GarpDelay,
    Timer::GarpRefresh,
    Timer::Release,
    Timer::RouterAdvert,
];

/// How often one kind of discard may be logged per instance (RX-15).
pub(crate) const LOG_EVERY: Duration = Duration::from_secs(10);

#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct RateLimit {
    pub last: Option<Instant>,
    pub suppressed: u64,
}

impl RateLimit {
    /// `Some(suppressed)` when a line may be written now.
    pub fn allow(&mut self, now: Instant) -> Option<u64> {
        match self.last {
            Some(last) if now.saturating_since(last) < LOG_EVERY => {
                self.suppressed += 1;
                None
            }
            _ => {
                self.last = Some(now);
                Some(std::mem::take(&mut self.suppressed))
            }
        }
    }
}

#[derive(Debug)]
pub(crate) struct Instance {
    pub cfg: InstanceConfig,
    pub state: State,
    pub group: Option<usize>,
    pub link_up: bool,
    pub source: Option<IpAddr>,
    pub tracks: BTreeMap<u32, TrackEffect>,
    /// Startup came while a tracker was pending: start once none is.
    pub start_waiting: bool,
    /// Stopped (or yielded to Backup), but still holding the VIPs until the new
    /// Master is heard (`InstanceConfig::handover`).
    pub holding: bool,
    /// When a priority-0 advert was last answered at once (MST-08), for
    /// [`zero_answer_gap`].
    pub zero_answered: Option<Instant>,
    /// Handed over on request ([`crate::Input::Yield`]): as Backup, it accepts a
    /// lower-priority Master instead of preempting it.
    pub yielded: bool,
    /// The new Master heard while holding (its announcements are due any moment).
    pub successor: Option<IpAddr>,
    /// Master_Adver_Interval / Active_Adver_Interval: v3 learns it from the Master
    /// (TMR-06/07/08); v2 always uses the local interval (TMR-03).
    pub master_adver_interval: Duration,
    /// The Master's address as last accepted (Backup) or our own (Master).
    pub master: Option<IpAddr>,
    /// The priority in the last advert accepted from the Master (Backup).
    pub master_priority: Option<u8>,
    pub timers: [Option<Instant>; 7],
    /// Router Advertisements sent since this instance became Master.
    pub ra_sent: u32,
    /// When the last one was sent.
    pub ra_last: Option<Instant>,
    /// Rounds left in the current announcement burst.
    pub garp_rounds_left: u32,
    /// Size of a burst scheduled by `GarpDelay`.
    pub garp_delayed_repeat: u32,
    /// Sync groups: the down timer expired and this member is ready to be Master.
    pub wants_master: bool,
    /// What a down-timer expiry means now (master-down, priority-zero, preempt).
    pub down_reason: Reason,
    /// `preempt_delay`: lower-priority adverts are accepted until this instant.
    pub preempt_until: Option<Instant>,
    pub counters: Counters,
    pub ah_seq: u32,
    /// `auth_hmac`: the sequence sent last and the marks of its senders.
    pub hmac: crate::hmac::HmacState,
    /// Highest AH sequence number accepted, per sender (anti-replay).
    pub ah_seen: HashMap<IpAddr, u32>,
    /// The AH key as configured, made ready for checking (see [`Instance::ah_key`]).
    ah_key: Option<(Vec<u8>, keepup_wire::ah::Key)>,
    pub ip_ident: u16,
    pub rate: HashMap<Discard, RateLimit>,
    pub rate_other: HashMap<&'static str, RateLimit>,
    pub equal_peers: BTreeSet<IpAddr>,
    /// (peer, what): the mismatches already named (then only counted).
    pub named: crate::named::Once<(IpAddr, Discard)>,
    /// The interval last logged as adopted (RX-13: log once per change).
    pub logged_interval: Option<u16>,
    /// When it last became Master, newest last (TMR-09 flap detection).
    pub master_entries: VecDeque<Instant>,
    /// A lower-priority router that keeps advertising while we are Master.
    pub rival: Option<Rival>,
}

/// A router that still claims the VRID although we answer its adverts: it does not
/// hear us (split brain).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Rival {
    pub addr: IpAddr,
    pub since: Instant,
    pub last: Instant,
    pub reported: bool,
}

/// Becoming Master this many times within `FLAP_WINDOW_ADVERTS` down intervals is
/// flapping (TMR-09).
pub(crate) const FLAP_COUNT: usize = 3;
pub(crate) const FLAP_WINDOW_ADVERTS: u32 = 10;

impl Instance {
    /// This instance's AH key made ready for checking: once, and again only when a
    /// reload changed it. `None` without AH.
    pub fn ah_key(&mut self) -> Option<&keepup_wire::ah::Key> {
        let Auth::Ah(key) = &self.cfg.auth else {
            return None;
        };
        if self.ah_key.as_ref().is_none_or(|(k, _)| k != key) {
            self.ah_key = keepup_wire::ah::Key::new(key)
                .ok()
                .map(|ready| (key.clone(), ready));
        }
        self.ah_key.as_ref().map(|(_, ready)| ready)
    }

    pub fn new(cfg: InstanceConfig, group: Option<usize>) -> Instance {
        let interval = cfg.advert_int;
        let source = cfg.source;
        Instance {
            cfg,
            state: State::Initialize,
            group,
            link_up: true,
            source,
            tracks: BTreeMap::new(),
            start_waiting: false,
            holding: false,
            zero_answered: None,
            yielded: false,
            successor: None,
            master_adver_interval: interval,
            master: None,
            master_priority: None,
            timers: [None; 7],
            ra_sent: 0,
            ra_last: None,
            garp_rounds_left: 0,
            garp_delayed_repeat: 0,
            wants_master: false,
            down_reason: Reason::MasterDown,
            preempt_until: None,
            counters: Counters::default(),
            ah_seq: 0,
            hmac: crate::hmac::HmacState::default(),
            ah_seen: HashMap::new(),
            ah_key: None,
            ip_ident: 0,
            rate: HashMap::new(),
            rate_other: HashMap::new(),
            equal_peers: BTreeSet::new(),
            named: crate::named::Once::new(64),
            logged_interval: None,
            master_entries: VecDeque::new(),
            rival: None,
        }
    }

    pub fn is_v6(&self) -> bool {
        self.cfg.is_v6()
    }

    pub fn is_owner(&self) -> bool {
        self.cfg.priority == 255
    }

    pub fn is_unicast(&self) -> bool {
        !self.cfg.unicast_peers.is_empty()
    }

    /// Priority after tracking weights: an owner ignores them (KA-24); otherwise the
    /// sum is kept within 1–254, so tracking never makes an owner.
    pub fn effective_priority(&self) -> u8 {
        if self.is_owner() {
            return 255;
        }
        let sum: i64 = self
            .tracks
            .values()
            .map(|t| match t {
                TrackEffect::Weight(w) => i64::from(*w),
                TrackEffect::Fault(_) | TrackEffect::Pending => 0,
            })
            .sum();
        let p = (i64::from(self.cfg.priority) + sum).clamp(1, 254);
        u8::try_from(p).unwrap_or(254)
    }

    /// A failed link or a failed weightless tracker (KA-18).
    pub fn faulted(&self) -> bool {
        !self.link_up
            || self
                .tracks
                .values()
                .any(|t| matches!(t, TrackEffect::Fault(true)))
    }

    /// A tracker has not reported yet (see [`TrackEffect::Pending`]).
    pub fn pending(&self) -> bool {
        self.tracks.values().any(|t| *t == TrackEffect::Pending)
    }

    pub fn cancel(&mut self, t: Timer) {
        self.timers[t as usize] = None;
    }

    pub fn cancel_all(&mut self) {
        self.timers = [None; 7];
        self.ra_sent = 0;
        self.ra_last = None;
        self.garp_rounds_left = 0;
        self.rival = None;
    }

    /// Skew_Time in nanoseconds, one division at the end.
    /// v2 (RFC 3768 §6.1): (256 − Priority) / 256 s.
    /// v3 (RFC 9568 §6.1): ((256 − Priority) × Active_Adver_Interval) / 256.
    pub fn skew_time(&self) -> Duration {
        let p = u128::from(256 - u16::from(self.effective_priority()));
        let base = match self.cfg.version {
            Version::V2 => 1_000_000_000u128,
            Version::V3 => self.master_adver_interval.as_nanos(),
        };
        Duration::from_nanos(u64::try_from(p * base / 256).unwrap_or(u64::MAX))
    }

    /// Master_Down_Interval = 3 × Advertisement_Interval + Skew_Time (the 3 is
    /// `down_timer_adverts`, KA-04). v2 uses the local interval, v3 the learned one.
    pub fn down_interval(&self) -> Duration {
        let interval = match self.cfg.version {
            Version::V2 => self.cfg.advert_int,
            Version::V3 => self.master_adver_interval,
        };
        interval * self.cfg.down_timer_adverts.max(1) + self.skew_time()
    }

    /// How long a stopping Master keeps answering for its VIPs while its successor
    /// takes over. A Backup that hears the priority-0 advert becomes Master after its
    /// Skew_Time (RFC 9568 §6.4.2): at most 255/256 of a second (v2) or of the
    /// advert interval it learned from us (v3); a second more is allowed for its
    /// advert to arrive. Never longer than the down interval. So a lone Master (no
    /// Backup to take over) with `advert_int 255` stops in two seconds, not minutes.
    pub fn handover_bound(&self) -> Duration {
        let base = match self.cfg.version {
            Version::V2 => Duration::from_secs(1),
            Version::V3 => self.cfg.advert_int,
        };
        (base * 255 / 256 + Duration::from_secs(1)).min(self.down_interval())
    }

    /// When the next Router Advertisement is due after `now` (RFC 4861 §6.2.4):
    /// MaxRtrAdvInterval is a third of the router lifetime (4 s to 1800 s),
    /// MinRtrAdvInterval a third of that, the interval uniform between them, and the
    /// three after the first at most 16 s after the one before (see `draw`).
    pub fn next_router_advert(&self, now: Instant, lifetime: Duration) -> Duration {
        let max = (lifetime / 3).clamp(Duration::from_secs(4), Duration::from_secs(1800));
        let min = max / 3;
        let pick = min + self.draw(now, max - min);
        if self.ra_sent < 3 {
            pick.min(Duration::from_secs(16))
        } else {
            pick
        }
    }

    /// When to answer a Router Solicitation heard at `now` (RFC 4861 §6.2.6): after
    /// a delay of up to MAX_RA_DELAY_TIME (0.5 s), and no sooner than
    /// MIN_DELAY_BETWEEN_RAS (3 s) after the last advertisement.
    pub fn solicited_router_advert(&self, now: Instant) -> Instant {
        let at = now + self.draw(now, Duration::from_millis(500));
        match self.ra_last {
            Some(last) if last + Duration::from_secs(3) > at => last + Duration::from_secs(3),
            _ => at,
        }
    }

    /// A duration in `[0, span)` drawn from `now` and the VRID (splitmix64's
    /// finaliser): spread like a random one, but the engine stays deterministic.
    fn draw(&self, now: Instant, span: Duration) -> Duration {
        let mut x = now.as_nanos() ^ (u64::from(self.cfg.vrid) << 56);
        x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        x ^= x >> 31;
        let span = u64::try_from(span.as_nanos()).unwrap_or(u64::MAX);
        Duration::from_nanos(if span == 0 { 0 } else { x % span })
    }

    /// The interval as the wire carries it: v2 whole seconds, v3 centiseconds.
    pub fn wire_interval(&self) -> u16 {
        match self.cfg.version {
            Version::V2 => {
                let s = (self.cfg.advert_int.as_millis() + 500) / 1000;
                u16::try_from(s.clamp(1, 255)).unwrap_or(1)
            }
            Version::V3 => {
                let cs = (self.cfg.advert_int.as_millis() + 5) / 10;
                u16::try_from(cs.clamp(1, 4095)).unwrap_or(100)
            }
        }
    }

    /// The advert this router sends now, with `priority` (0 when resigning).
    pub fn advert_repr(&self, priority: u8) -> vrrp::Repr {
        let (auth_type, auth_data) = match (&self.cfg.version, &self.cfg.auth) {
            (Version::V3, _) | (_, Auth::None) => (AuthType::None, [0; 8]),
            (Version::V2, Auth::Pass(p)) => (AuthType::Pass, *p),
            (Version::V2, Auth::Ah(_)) => (AuthType::Ah, [0; 8]),
        };
        vrrp::Repr {
            version: self.cfg.version,
            vrid: self.cfg.vrid,
            priority,
            interval: self.wire_interval(),
            auth_type: if self.cfg.version == Version::V3 {
                AuthType::None
            } else {
                auth_type
            },
            auth_data,
            addresses: self.cfg.vips.clone(),
        }
    }

    /// Where adverts go: each unicast peer, or the multicast group.
    pub fn destinations(&self) -> Vec<(IpAddr, u8)> {
        if self.is_unicast() {
            self.cfg
                .unicast_peers
                .iter()
                .map(|p| (p.address, self.cfg.unicast_ttl))
                .collect()
        } else {
            vec![(self.mcast_group(), 255)]
        }
    }

    pub fn mcast_group(&self) -> IpAddr {
        match self.cfg.mcast_group {
            Some(g) => g,
            None if self.is_v6() => IpAddr::V6(vrrp::MCAST_V6),
            None => IpAddr::V4(vrrp::MCAST_V4),
        }
    }

    /// Build the packets of one advert (one per destination). `None`: no source
    /// address yet (TX-05: never send from an unspecified address). `wall`: Unix
    /// time now, for the `auth_hmac` sequence.
    pub fn build_adverts(
        &mut self,
        priority: u8,
        wall: Duration,
    ) -> Option<Vec<(IpAddr, u8, Vec<u8>)>> {
        let src = self.source?;
        let repr = self.advert_repr(priority);
        let destinations = self.destinations();
        // One trailer per advert, shared by every copy (the checksum, the only octets
        // that differ between copies, is not covered).
        let trailer = match (&self.cfg.auth_hmac, destinations.first()) {
            (Some(h), Some(&(dst, _))) => repr
                .to_bytes(IpPair { src, dst }, self.cfg.checksum_form)
                .ok()
                .and_then(|msg| {
                    crate::hmac::sign(
                        h,
                        &mut self.hmac,
                        self.cfg.version,
                        self.cfg.vrid,
                        src,
                        &msg,
                        wall,
                    )
                }),
            _ => None,
        };
        let mut out = Vec::new();
        for (dst, ttl) in destinations {
            let ip = IpPair { src, dst };
            let Ok(msg) = repr.to_bytes(ip, self.cfg.checksum_form) else {
                continue;
            };
            let msg = match &trailer {
                Some(t) => crate::hmac::append(msg, t, src, dst),
                None => msg,
            };
            let packet = match (src, dst) {
                (IpAddr::V4(s), IpAddr::V4(d)) => {
                    self.ip_ident = self.ip_ident.wrapping_add(1);
                    let header = ipv4::Repr {
                        src: s,
                        dst: d,
                        protocol: vrrp::PROTOCOL,
                        ttl,
                        ident: self.ip_ident,
                        tos: 0xc0,
                        payload_len: msg.len(),
                    };
                    match &self.cfg.auth {
                        Auth::Ah(key) if self.cfg.version == Version::V2 => {
                            self.ah_seq = self.ah_seq.wrapping_add(1);
                            let a = ah::Repr {
                                spi: u32::from(s),
                                seq: self.ah_seq,
                            };
                            ipv4::emit_advert(header, Some((a, key.as_slice())), &msg)
                        }
                        _ => ipv4::emit_advert(header, None, &msg),
                    }
                }
                (IpAddr::V6(_), IpAddr::V6(_)) => msg,
                _ => continue,
            };
            out.push((dst, ttl, packet));
        }
        Some(out)
    }

    /// Record a Master entry; `Some((count, window))` when that makes it flapping.
    pub fn note_master_entry(&mut self, now: Instant) -> Option<(u32, Duration)> {
        let window = self.down_interval() * FLAP_WINDOW_ADVERTS;
        self.master_entries.push_back(now);
        while self
            .master_entries
            .front()
            .is_some_and(|&t| now.saturating_since(t) > window)
        {
            self.master_entries.pop_front();
        }
        if self.master_entries.len() > FLAP_COUNT {
            self.master_entries.pop_front();
        }
        (self.master_entries.len() >= FLAP_COUNT).then(|| {
            (
                u32::try_from(self.master_entries.len()).unwrap_or(u32::MAX),
                window,
            )
        })
    }

    /// Map a discard to its counter.
    pub fn count(&mut self, d: Discard) {
        let c = &mut self.counters;
        match d {
            Discard::Ttl => c.ip_ttl_errors += 1,
            Discard::Type => c.rcvd_invalid_type_packets += 1,
            Discard::Length => c.packet_length_errors += 1,
            Discard::AddressList | Discard::NotLinkLocal => c.address_list_errors += 1,
            Discard::IntervalZero => c.interval_zero_errors += 1,
            Discard::Interval => c.adv_interval_errors += 1,
            Discard::AuthType => c.auth_type_mismatch += 1,
            Discard::InvalidAuthType => c.invalid_auth_type += 1,
            Discard::Auth => c.auth_failures += 1,
            Discard::Source => c.source_errors += 1,
            Discard::OwnAdvert => c.own_adverts += 1,
            Discard::HmacMissing => c.auth_ext_missing += 1,
            Discard::HmacMalformed => c.auth_ext_malformed += 1,
            Discard::HmacUnknownKey => c.auth_ext_unknown_key += 1,
            Discard::HmacAuth => c.auth_ext_invalid_hmac += 1,
            Discard::HmacStale => c.auth_ext_stale += 1,
            Discard::HmacReplay => c.auth_ext_replay += 1,
            // Counted by the router (global) or not at all.
            Discard::Version | Discard::Checksum | Discard::VrId | Discard::NotListening => {}
        }
    }
}

/// Unsigned comparison of two addresses in network byte order (MST-09). IPv4 sorts
/// below IPv6, which never meet in one virtual router.
pub(crate) fn addr_key(a: IpAddr) -> u128 {
    match a {
        IpAddr::V4(v) => u128::from(u32::from(v)),
        IpAddr::V6(v) => u128::from(v),
    }
}

/// Constant-time comparison of the PASS trailer (AUTH-02).
pub(crate) fn same_secret(a: &[u8; 8], b: &[u8; 8]) -> bool {
    a.iter()
        .zip(b.iter())
        .fold(0u8, |acc, (x, y)| acc | (x ^ y))
        == 0
}

/// A Master answers priority-0 adverts at once (MST-08), but a flood of them at most
/// once per this gap (the next answer is the Adver_Timer, armed for the gap's end):
/// 1 ms, or a 256th of the advert interval if shorter, below any Backup's Skew_Time
/// ((256 - Priority) / 256 of a second, or of the interval in VRRPv3), so no Backup
/// that heard the flood's priority 0 times out before our answer.
pub(crate) fn zero_answer_gap(advert_int: std::time::Duration) -> std::time::Duration {
    (advert_int / 256).min(std::time::Duration::from_millis(1))
}
