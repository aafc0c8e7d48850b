//! The receive path: an advert from the socket through the IP layer, the checks of
//! RFC 3768 / RFC 9568 section 7.1 and authentication, to the Backup's or the Master's
//! answer; what is discarded is counted and named (rate-limited).
use super::{arm, Router};
use crate::config::Auth;
use crate::event::{Discard, Event};
use crate::hmac;
use crate::instance::{addr_key, same_secret, zero_answer_gap, Timer};
use crate::time::Instant;
use crate::{InstanceId, Output, Reason, RxData, RxPacket, State};
use keepup_wire::vrrp::{self, AuthType, IpPair, Version};
use keepup_wire::{ah, hmac_auth, ipv4, Error as WireError};
use std::net::IpAddr;
use std::time::Duration;

impl Router {
    /// Count and (rate-limited, RX-15) log a discard.
    fn discard(
        &mut self,
        now: Instant,
        i: Option<usize>,
        reason: Discard,
        from: IpAddr,
        detail: impl FnOnce() -> String,
    ) {
        let limiter = match i {
            Some(i) => {
                let inst = &mut self.instances[i];
                inst.count(reason);
                inst.rate.entry(reason).or_default()
            }
            None => self.global_rate.entry(reason).or_default(),
        };
        if reason == Discard::NotListening {
            return;
        }
        if let Some(suppressed) = limiter.allow(now) {
            self.outputs.push_back(Output::Event(Event::Discarded {
                instance: i.map(InstanceId),
                reason,
                from,
                detail: detail(),
                suppressed,
            }));
        }
    }

    /// A setting a peer disagrees on: counted (when its advert is dropped), and named
    /// the first time for this peer and kind.
    fn mismatch(
        &mut self,
        i: usize,
        reason: Discard,
        from: IpAddr,
        ignored: bool,
        detail: impl FnOnce() -> String,
    ) {
        let inst = &mut self.instances[i];
        if ignored {
            inst.count(reason);
        }
        if inst.named.first((from, reason)) {
            self.outputs.push_back(Output::Event(Event::Mismatch {
                instance: InstanceId(i),
                from,
                reason,
                detail: detail(),
                ignored,
            }));
        }
    }

    /// An advert for a VRID no instance runs on this interface: a neighbouring virtual
    /// router, counted and named once per sender. Its address list is read for our
    /// VIPs: one address in two virtual routers is a real mistake.
    fn foreign_vrid(&mut self, interface: u32, vrid: u8, from: IpAddr, bytes: &[u8]) {
        self.global.vr_id_errors += 1;
        if self.foreign.first((interface, vrid, from)) {
            self.outputs.push_back(Output::Event(Event::ForeignVrid {
                interface: crate::IfIndex(interface),
                vrid,
                from,
            }));
        }
        let v6 = from.is_ipv6();
        let Ok(packet) = vrrp::Packet::new_checked(bytes, v6) else {
            return;
        };
        let list = {
            use std::hash::{Hash, Hasher};
            let mut h = std::collections::hash_map::DefaultHasher::new();
            packet.addresses_raw(v6).hash(&mut h);
            h.finish()
        };
        if !self.lists_read.first((interface, vrid, from, list)) {
            return;
        }
        for k in 0..usize::from(packet.count()) {
            let Some(vip) = packet.address(k, v6) else {
                break;
            };
            for (i, inst) in self.instances.iter().enumerate() {
                if inst.cfg.interface.0 == interface
                    && inst.cfg.vips.contains(&vip)
                    && self.claims.first((i, vip, vrid, from))
                {
                    self.outputs.push_back(Output::Event(Event::VipClaimed {
                        instance: InstanceId(i),
                        vip,
                        vrid,
                        from,
                    }));
                }
            }
        }
    }

    /// A rate-limited event that is not a discard.
    pub(super) fn note(&mut self, now: Instant, i: usize, key: &'static str, event: Event) {
        if self.instances[i]
            .rate_other
            .entry(key)
            .or_default()
            .allow(now)
            .is_some()
        {
            self.outputs.push_back(Output::Event(event));
        }
    }

    pub(super) fn receive(&mut self, now: Instant, p: RxPacket<'_>) {
        // The IP layer: addresses, TTL, AH.
        let (src, dst, ttl, ah_hdr, bytes, whole) = match p.data {
            RxData::V4(ip) => match ipv4::parse_advert(ip) {
                Ok(a) => (
                    IpAddr::V4(a.src),
                    IpAddr::V4(a.dst),
                    a.ttl,
                    a.ah,
                    a.vrrp,
                    Some(ip),
                ),
                Err(e) => {
                    self.global.packet_length_errors += 1;
                    let from = ipv4::Packet::new_checked(ip)
                        .map(|h| IpAddr::V4(h.src()))
                        .unwrap_or(IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED));
                    self.discard(now, None, Discard::Length, from, || e.to_string());
                    return;
                }
            },
            RxData::V6 {
                src,
                dst,
                hop_limit,
                vrrp,
            } => (
                IpAddr::V6(src),
                IpAddr::V6(dst),
                hop_limit,
                None,
                vrrp,
                None,
            ),
        };
        let v6 = src.is_ipv6();
        let (Some(&b0), Some(&vrid)) = (bytes.first(), bytes.get(1)) else {
            self.global.packet_length_errors += 1;
            self.discard(now, None, Discard::Length, src, || {
                format!("{} octets", bytes.len())
            });
            return;
        };
        let version = b0 >> 4;
        if version != 2 && version != 3 {
            self.global.version_errors += 1;
            self.discard(now, None, Discard::Version, src, || {
                format!("version {version}")
            });
            return;
        }
        // RX-06: an instance for this VRID on this interface and family.
        let Some(&i) = self.by_vrid.get(&(p.interface.0, vrid, v6)) else {
            self.foreign_vrid(p.interface.0, vrid, src, bytes);
            return;
        };
        let holding = self.instances[i].holding;
        if !matches!(self.instances[i].state, State::Backup | State::Master) && !holding {
            self.discard(now, Some(i), Discard::NotListening, src, String::new);
            return;
        }
        let multicast = dst.is_multicast();
        let inst = &self.instances[i];
        // RX-01: TTL / hop limit 255 on multicast; per-peer range on unicast (KA-13).
        let peer = inst.cfg.unicast_peers.iter().find(|q| q.address == src);
        let ttl_bad = if multicast {
            ttl != 255
        } else {
            peer.is_some_and(|q| {
                q.min_ttl.is_some_and(|m| ttl < m) || q.max_ttl.is_some_and(|m| ttl > m)
            })
        };
        if ttl_bad {
            self.discard(now, Some(i), Discard::Ttl, src, || format!("TTL {ttl}"));
            return;
        }
        // KA-22: delivery kind and unicast source.
        if inst.is_unicast() == multicast {
            let what = if multicast {
                "multicast advert on a unicast instance"
            } else {
                "unicast advert on a multicast instance"
            };
            self.discard(now, Some(i), Discard::Source, src, || what.to_string());
            return;
        }
        if inst.is_unicast() && inst.cfg.check_unicast_src && peer.is_none() {
            self.discard(now, Some(i), Discard::Source, src, || {
                "source is not a unicast_peer".to_string()
            });
            return;
        }
        // RX-02
        let want = inst.cfg.version;
        if version != want.number() {
            self.global.version_errors += 1;
            self.mismatch(i, Discard::Version, src, true, || {
                format!(
                    "speaks VRRP version {version}, this router version {}",
                    want.number()
                )
            });
            return;
        }
        // auth_hmac: a trailer is exactly 28 octets after the message (keepalived's
        // rule). On IPv6 the checksum then covers it too, so it is checked here.
        let (message, trailer) = match inst.cfg.auth_hmac {
            Some(_) => hmac::split(bytes, v6),
            None => {
                if let Some(dropped) = hmac::unexpected_signature(src, dst, bytes) {
                    self.mismatch(i, Discard::AuthType, src, dropped, || {
                        "signs its adverts (auth_hmac), this router has no auth_hmac".into()
                    });
                    if dropped {
                        return;
                    }
                }
                (bytes, None)
            }
        };
        let summed = match (trailer, src, dst) {
            (Some(_), IpAddr::V6(s), IpAddr::V6(d)) => {
                Some(hmac_auth::verify_ipv6_checksum(s, d, bytes))
            }
            _ => None,
        };
        if summed == Some(false) {
            self.global.checksum_errors += 1;
            self.discard(now, Some(i), Discard::Checksum, src, || {
                "checksum over the message and its auth_hmac trailer".into()
            });
            return;
        }
        // RX-03, RX-04, RX-05, RX-08, RX-09
        let packet = vrrp::Packet::new_unchecked(message);
        let parsed = if summed == Some(true) {
            vrrp::Repr::parse_checksum_verified(&packet, IpPair { src, dst })
        } else {
            vrrp::Repr::parse(&packet, IpPair { src, dst })
        };
        let (repr, info) = match parsed {
            Ok(r) => r,
            Err(e) => {
                let reason = match e {
                    WireError::Type(_) => Discard::Type,
                    WireError::Checksum => {
                        self.global.checksum_errors += 1;
                        Discard::Checksum
                    }
                    WireError::NoAddress => Discard::AddressList,
                    WireError::IntervalZero => Discard::IntervalZero,
                    WireError::Version(_) => {
                        self.global.version_errors += 1;
                        Discard::Version
                    }
                    _ => Discard::Length,
                };
                self.discard(now, Some(i), reason, src, || e.to_string());
                return;
            }
        };
        if info.trailing > 0 {
            self.instances[i].counters.trailing_octets += 1;
        }
        // MST-12: our own advert looped back never drives the state machine.
        if Some(src) == self.instances[i].source {
            let ours = self.instances[i].effective_priority();
            self.instances[i].count(Discard::OwnAdvert);
            if repr.priority != ours && repr.priority != 0 {
                self.note(
                    now,
                    i,
                    "address-conflict",
                    Event::AddressConflict {
                        instance: InstanceId(i),
                        from: src,
                    },
                );
            }
            return;
        }
        // auth_hmac: checked before any field reaches the state machine.
        let wall = self.wall_now();
        let inst = &mut self.instances[i];
        if let Some(h) = &inst.cfg.auth_hmac {
            let rx = hmac::Received {
                src,
                version: want,
                vrid,
                message,
                trailer,
            };
            match hmac::check(h, &mut inst.hmac, &inst.cfg.unicast_peers, &rx, wall) {
                Ok(None) => {}
                Ok(Some(skew)) => {
                    if inst.hmac.skew_named.first(src) {
                        let window = hmac::window(h);
                        self.outputs.push_back(Output::Event(Event::HmacClockSkew {
                            instance: InstanceId(i),
                            from: src,
                            skew,
                            window,
                        }));
                    }
                }
                Err((reason, detail)) => {
                    if reason == Discard::Source {
                        self.discard(now, Some(i), reason, src, || detail);
                    } else {
                        self.mismatch(i, reason, src, true, || detail);
                    }
                    return;
                }
            }
        }
        // RX-11: authentication (v2).
        if want == Version::V2 {
            if let Err((reason, detail)) = self.check_auth(i, &repr, src, ah_hdr, whole) {
                // A replayed AH sequence number is an attack or a glitch, not a setting.
                if detail.starts_with("AH sequence") {
                    self.discard(now, Some(i), reason, src, || detail);
                } else {
                    self.mismatch(i, reason, src, true, || detail);
                }
                return;
            }
        }
        let inst = &self.instances[i];
        // RX-12 (v2 drops a different interval); RX-13 (v3 adopts it, below).
        if want == Version::V2 && repr.interval != inst.wire_interval() {
            let mine = inst.wire_interval();
            let theirs = repr.interval;
            self.mismatch(i, Discard::Interval, src, true, || {
                format!("advertises every {theirs} s, this router every {mine} s")
            });
            return;
        }
        // RX-14 / KA-10: the address list (MAY check; v2 drops unless from an owner,
        // v3 logs; strict mode drops as keepalived does).
        if !inst.cfg.skip_check_adv_addr {
            // The same set (lists are short: no allocation on the receive path).
            let (got, mine) = (&repr.addresses, &inst.cfg.vips);
            let same = got.iter().all(|a| mine.contains(a)) && mine.iter().all(|a| got.contains(a));
            if !same {
                let drop = inst.cfg.strict || (want == Version::V2 && repr.priority != 255);
                let list = |a: &[IpAddr]| {
                    a.iter()
                        .map(ToString::to_string)
                        .collect::<Vec<_>>()
                        .join(" ")
                };
                let (theirs, ours) = (list(got), list(mine));
                self.mismatch(i, Discard::AddressList, src, drop, || {
                    format!("advertises the addresses [{theirs}], this router [{ours}]")
                });
                if drop {
                    return;
                }
            }
        }
        // RX-10 / KA-19: IPv6, the first address should be link-local.
        if let Some(IpAddr::V6(first)) = repr.addresses.first() {
            if (first.segments()[0] & 0xffc0) != 0xfe80 {
                let strict = self.instances[i].cfg.strict;
                let first = *first;
                self.mismatch(i, Discard::NotLinkLocal, src, strict, || {
                    format!("lists {first} first, not a link-local address")
                });
                if strict {
                    return;
                }
            }
        }
        // Accepted.
        let inst = &mut self.instances[i];
        inst.counters.rcvd_advertisements += 1;
        if repr.priority == 0 {
            inst.counters.rcvd_pri_zero_packets += 1;
        }
        let ours = inst.effective_priority();
        if repr.priority == 255 && inst.is_owner() {
            // RX-07 with erratum 8298 / OWN-03: process, and say so.
            self.note(
                now,
                i,
                "second-owner",
                Event::SecondOwner {
                    instance: InstanceId(i),
                    from: src,
                },
            );
        } else if repr.priority == ours && self.instances[i].equal_peers.insert(src) {
            // PRE-03: once per peer.
            self.outputs.push_back(Output::Event(Event::EqualPriority {
                instance: InstanceId(i),
                from: src,
                priority: ours,
            }));
        }
        match self.instances[i].state {
            State::Backup => self.backup_rx(i, now, &repr, src),
            State::Master => self.master_rx(i, now, &repr, src),
            State::Stop if holding && repr.priority > 0 => self.successor_heard(i, now, src),
            _ => {}
        }
    }

    fn check_auth(
        &mut self,
        i: usize,
        repr: &vrrp::Repr,
        src: IpAddr,
        ah_hdr: Option<ah::Repr>,
        whole: Option<&[u8]>,
    ) -> Result<(), (Discard, String)> {
        let inst = &mut self.instances[i];
        let name = |t: AuthType| match t {
            AuthType::None => "none".to_string(),
            AuthType::Pass => "PASS".to_string(),
            AuthType::Ah => "AH".to_string(),
            AuthType::Unknown(n) => format!("type {n}"),
        };
        let ours = match &inst.cfg.auth {
            Auth::None => AuthType::None,
            Auth::Pass(_) => AuthType::Pass,
            Auth::Ah(_) => AuthType::Ah,
        };
        let kind = |t: AuthType| match t {
            AuthType::Unknown(n) => (
                Discard::InvalidAuthType,
                format!("sends an undefined authentication type {n}"),
            ),
            other => (
                Discard::AuthType,
                format!(
                    "uses authentication {}, this router {}",
                    name(other),
                    name(ours)
                ),
            ),
        };
        match &inst.cfg.auth {
            Auth::None => {
                if ah_hdr.is_some() {
                    return Err(kind(AuthType::Ah));
                }
                if repr.auth_type != AuthType::None {
                    return Err(kind(repr.auth_type));
                }
            }
            Auth::Pass(secret) => {
                if ah_hdr.is_some() || repr.auth_type != AuthType::Pass {
                    return Err(kind(if ah_hdr.is_some() {
                        AuthType::Ah
                    } else {
                        repr.auth_type
                    }));
                }
                if !same_secret(secret, &repr.auth_data) {
                    return Err((
                        Discard::Auth,
                        "uses a different password (auth_pass)".into(),
                    ));
                }
            }
            Auth::Ah(_) => {
                let Some(hdr) = ah_hdr else {
                    return Err(kind(repr.auth_type));
                };
                // Anti-replay: a sequence number below the last one accepted from this
                // sender is a replay. Judged before the ICV (as keepalived does), so a
                // flood of replayed adverts costs no HMAC; only an advert whose ICV
                // verifies moves the mark.
                let last = inst.ah_seen.get(&src).copied().unwrap_or(0);
                if hdr.seq < last {
                    return Err((
                        Discard::Auth,
                        format!("AH sequence number {} below {last}", hdr.seq),
                    ));
                }
                let ready = inst.ah_key();
                let ok = whole
                    .zip(ready)
                    .is_some_and(|(w, k)| ah::verify_with(w, k).is_ok());
                if !ok {
                    return Err((
                        Discard::Auth,
                        "uses a different AH key (auth_pass): its ICV does not verify".into(),
                    ));
                }
                inst.ah_seen.insert(src, hdr.seq);
                // One counter per instance, as keepalived keeps it: what we send next
                // continues above every number heard, so a router that restarts (and
                // starts as Backup, KA-20) is not taken for a replay.
                inst.ah_seq = inst.ah_seq.max(hdr.seq);
            }
        }
        Ok(())
    }

    /// v3: take the Master's interval (TMR-07/08, RX-13), logging each change once.
    fn adopt_interval(&mut self, i: usize, repr: &vrrp::Repr, src: IpAddr) {
        let inst = &mut self.instances[i];
        if inst.cfg.version != Version::V3 {
            return;
        }
        let previous = inst.master_adver_interval;
        inst.master_adver_interval = Duration::from_millis(u64::from(repr.interval) * 10);
        let differs = repr.interval != inst.wire_interval();
        if differs && inst.logged_interval != Some(repr.interval) {
            inst.logged_interval = Some(repr.interval);
            self.outputs
                .push_back(Output::Event(Event::IntervalAdopted {
                    instance: InstanceId(i),
                    from: src,
                    previous_ms: u64::try_from(previous.as_millis()).unwrap_or(u64::MAX),
                    centiseconds: repr.interval,
                }));
        } else if !differs {
            inst.logged_interval = None;
        }
    }

    fn backup_rx(&mut self, i: usize, now: Instant, repr: &vrrp::Repr, src: IpAddr) {
        let inst = &mut self.instances[i];
        let ours = inst.effective_priority();
        if repr.priority == 0 {
            // BKP-08: the Master resigned; the best Backup takes over after Skew_Time.
            let skew = inst.skew_time();
            arm(&mut self.heap, inst, i, Timer::MasterDown, now + skew);
            inst.down_reason = Reason::PriorityZero;
            inst.wants_master = false;
            return;
        }
        let delay = inst.cfg.preempt_delay;
        let delaying = !delay.is_zero() && inst.preempt_until.is_none_or(|u| now < u);
        if inst.holding {
            // Yielded: the new Master's advert; its announcements follow.
            self.successor_heard(i, now, src);
        }
        let inst = &mut self.instances[i];
        if !inst.cfg.preempt || inst.yielded || repr.priority >= ours || delaying {
            // BKP-09 / BKP-10 (and preempt_delay holding off BKP-11, KA-17).
            if !delay.is_zero() {
                if repr.priority > ours {
                    inst.preempt_until = None;
                } else if inst.preempt_until.is_none() && inst.cfg.preempt {
                    inst.preempt_until = Some(now + delay);
                    let millis = u64::try_from(delay.as_millis()).unwrap_or(u64::MAX);
                    self.outputs.push_back(Output::Event(Event::PreemptDelayed {
                        instance: InstanceId(i),
                        millis,
                    }));
                }
            }
            self.adopt_interval(i, repr, src);
            let inst = &mut self.instances[i];
            inst.master = Some(src);
            inst.master_priority = Some(repr.priority);
            inst.wants_master = false;
            inst.down_reason = Reason::MasterDown;
            let down = inst.down_interval();
            arm(&mut self.heap, inst, i, Timer::MasterDown, now + down);
        } else {
            // BKP-11: a lower priority with preemption on is discarded; the down timer
            // keeps running, so this Backup preempts when it expires.
            inst.down_reason = Reason::Preempt;
        }
    }

    /// A router that hears our adverts steps down at the first one (MST-09). One that
    /// keeps claiming the VRID for three of the longer advert interval does not hear
    /// us: say so once, with what to check, and count it.
    fn watch_rival(&mut self, i: usize, now: Instant, repr: &vrrp::Repr, src: IpAddr) {
        let inst = &mut self.instances[i];
        let theirs = match repr.version {
            Version::V2 => Duration::from_secs(u64::from(repr.interval)),
            Version::V3 => Duration::from_millis(u64::from(repr.interval) * 10),
        };
        let window = inst.cfg.advert_int.max(theirs) * 3;
        let rival = match inst.rival {
            Some(mut r) if r.addr == src && now.saturating_since(r.last) <= window => {
                r.last = now;
                r
            }
            _ => crate::instance::Rival {
                addr: src,
                since: now,
                last: now,
                reported: false,
            },
        };
        let report = !rival.reported && now.saturating_since(rival.since) >= window;
        inst.rival = Some(crate::instance::Rival {
            reported: rival.reported || report,
            ..rival
        });
        if report {
            inst.counters.split_brain += 1;
            let vrid = inst.cfg.vrid;
            self.outputs.push_back(Output::Event(Event::SplitBrain {
                instance: InstanceId(i),
                peer: src,
                vrid,
            }));
        }
    }

    fn master_rx(&mut self, i: usize, now: Instant, repr: &vrrp::Repr, src: IpAddr) {
        let strict = self.strict(i);
        let inst = &mut self.instances[i];
        let ours = inst.effective_priority();
        if repr.priority == 0 {
            // MST-08: answer a resignation at once and stay Master; a flood of them
            // at most once per gap, the Adver_Timer answering at its end.
            let gap = zero_answer_gap(inst.cfg.advert_int);
            if let Some(last) = inst.zero_answered.filter(|t| now < *t + gap) {
                // `last` ahead of `now`: that answer is already on its way.
                if last <= now {
                    let due = last + gap;
                    if inst.timers[Timer::Adver as usize].is_none_or(|at| due < at) {
                        arm(&mut self.heap, inst, i, Timer::Adver, due);
                    }
                    inst.zero_answered = Some(due);
                }
                return;
            }
            inst.zero_answered = Some(now);
            let next = now + inst.cfg.advert_int;
            arm(&mut self.heap, inst, i, Timer::Adver, next);
            self.send_advert(i, ours);
            return;
        }
        let mine = inst.source.map(addr_key).unwrap_or(0);
        let better = repr.priority > ours || (repr.priority == ours && addr_key(src) > mine);
        if better {
            // MST-09 (KA-08: one more advert first if asked, never in strict mode).
            if inst.cfg.higher_prio_send_advert && !strict {
                self.send_advert(i, ours);
            }
            self.adopt_interval(i, repr, src);
            let inst = &mut self.instances[i];
            inst.master = Some(src);
            inst.master_priority = Some(repr.priority);
            self.step_down(i, now);
            return;
        }
        self.watch_rival(i, now, repr, src);
        // MST-10: a lower priority (or equal from a smaller address). RFC 9568 and
        // keepalived answer at once; `lower_prio_no_advert` (forced by strict mode)
        // keeps the RFC 3768/5798 silence.
        self.note(
            now,
            i,
            "lower-priority",
            Event::LowerPriority {
                instance: InstanceId(i),
                from: src,
                priority: repr.priority,
                ours,
            },
        );
        let inst = &self.instances[i];
        if !(inst.cfg.lower_prio_no_advert || strict) {
            self.send_advert(i, ours);
        }
        let garp = self.instances[i].cfg.garp;
        if !strict && garp.lower_prio_repeat > 0 {
            self.start_burst(i, now, garp.lower_prio_repeat);
            if !garp.lower_prio_delay.is_zero() {
                let inst = &mut self.instances[i];
                inst.garp_delayed_repeat = garp.lower_prio_repeat;
                arm(
                    &mut self.heap,
                    inst,
                    i,
                    Timer::GarpDelay,
                    now + garp.lower_prio_delay,
                );
            }
        }
    }
}
