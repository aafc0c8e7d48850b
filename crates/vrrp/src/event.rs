//! Things worth a log line. Each has one `Display` so the wording stays in one place;
//! where keepalived has a line that operators grep for, the wording is keepalived's.
use crate::{InstanceId, State};
use serde::Serialize;
use std::fmt;
use std::net::IpAddr;

/// Why a received packet was discarded (one RFC 6527 counter each).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub enum Discard {
    /// RX-01
    Ttl,
    /// RX-02
    Version,
    /// RX-03
    Type,
    /// RX-04
    Length,
    /// RX-05
    Checksum,
    /// RX-06
    VrId,
    /// RX-08 / RX-14 / KA-10
    AddressList,
    /// RX-09
    IntervalZero,
    /// RX-12
    Interval,
    /// RX-11: Auth Type differs from ours
    AuthType,
    /// RX-11: Auth Type not defined
    InvalidAuthType,
    /// RX-11: PASS or AH failed
    Auth,
    /// RX-10: IPv6, first address not link-local (strict mode)
    NotLinkLocal,
    /// KA-22 / KA-13: unicast source or TTL not allowed, or the wrong delivery kind
    Source,
    /// MST-12: our own advert
    OwnAdvert,
    /// The instance is in Initialize, Fault or Stop.
    NotListening,
    /// auth_hmac `mode enforce`: no trailer.
    HmacMissing,
    /// auth_hmac: a trailer of another extension type or with reserved bits.
    HmacMalformed,
    /// auth_hmac: a key id not configured here.
    HmacUnknownKey,
    /// auth_hmac: the HMAC does not verify.
    HmacAuth,
    /// auth_hmac `anti_replay time`: outside `time_window` of our clock.
    HmacStale,
    /// auth_hmac: a sequence not after the sender's last one (a replay).
    HmacReplay,
}

impl Discard {
    pub fn as_str(self) -> &'static str {
        match self {
            Discard::Ttl => "ttl",
            Discard::Version => "version",
            Discard::Type => "type",
            Discard::Length => "length",
            Discard::Checksum => "checksum",
            Discard::VrId => "vrid",
            Discard::AddressList => "address-list",
            Discard::IntervalZero => "interval-zero",
            Discard::Interval => "interval",
            Discard::AuthType => "auth-type",
            Discard::InvalidAuthType => "invalid-auth-type",
            Discard::Auth => "auth",
            Discard::NotLinkLocal => "not-link-local",
            Discard::Source => "source",
            Discard::OwnAdvert => "own-advert",
            Discard::NotListening => "not-listening",
            Discard::HmacMissing => "auth-hmac-missing",
            Discard::HmacMalformed => "auth-hmac-malformed",
            Discard::HmacUnknownKey => "auth-hmac-unknown-key",
            Discard::HmacAuth => "auth-hmac-invalid",
            Discard::HmacStale => "auth-hmac-stale",
            Discard::HmacReplay => "auth-hmac-replay",
        }
    }

    /// An `auth_hmac` check (named with its own words, not as a setting).
    pub fn is_hmac(self) -> bool {
        matches!(
            self,
            Discard::HmacMissing
                | Discard::HmacMalformed
                | Discard::HmacUnknownKey
                | Discard::HmacAuth
                | Discard::HmacStale
                | Discard::HmacReplay
        )
    }
}

/// A log-worthy event. `instance` names are resolved by the driver.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum Event {
    /// A peer of this virtual router disagrees on a setting (`reason`: which), named
    /// once per peer and kind, then counted. `ignored`: its adverts are dropped (else
    /// used anyway).
    Mismatch {
        instance: InstanceId,
        from: IpAddr,
        reason: Discard,
        detail: String,
        ignored: bool,
    },
    /// Adverts for a VRID no instance here runs, on an interface we run on: a
    /// neighbouring virtual router, named once per sender (info), then counted.
    ForeignVrid {
        interface: crate::IfIndex,
        vrid: u8,
        from: IpAddr,
    },
    /// Another VRID's adverts list one of this instance's VIPs.
    VipClaimed {
        instance: InstanceId,
        vip: IpAddr,
        vrid: u8,
        from: IpAddr,
    },
    /// The instance's own source address is in its `unicast_peer` list.
    OwnAddressAsPeer {
        instance: InstanceId,
        address: IpAddr,
    },
    /// A discarded packet (rate-limited per instance and reason, RX-15).
    /// `suppressed`: how many of the same were not logged since the last line.
    Discarded {
        instance: Option<InstanceId>,
        reason: Discard,
        from: IpAddr,
        detail: String,
        suppressed: u64,
    },
    /// v3: a Backup adopted the Master's interval (TMR-07, RX-13).
    IntervalAdopted {
        instance: InstanceId,
        from: IpAddr,
        /// The interval it used before, in milliseconds.
        previous_ms: u64,
        /// The advert's interval.
        centiseconds: u16,
    },
    /// A Master heard a lower priority (KA-07).
    LowerPriority {
        instance: InstanceId,
        from: IpAddr,
        priority: u8,
        ours: u8,
    },
    /// Another router advertises priority 255 for our VRID (OWN-03, RX-07).
    SecondOwner { instance: InstanceId, from: IpAddr },
    /// A peer advertises our own priority (PRE-03), logged once per peer.
    EqualPriority {
        instance: InstanceId,
        from: IpAddr,
        priority: u8,
    },
    /// Another router uses our source address (MST-12).
    AddressConflict { instance: InstanceId, from: IpAddr },
    /// The effective priority changed (tracking).
    PriorityChanged {
        instance: InstanceId,
        from: u8,
        to: u8,
    },
    /// The preempt delay started (we outrank the Master but wait).
    PreemptDelayed { instance: InstanceId, millis: u64 },
    /// A sync group moved its members together.
    SyncGroup { group: usize, to: State },
    /// Split brain: `peer` keeps advertising the VRID as Master at a lower priority
    /// although we answer it, so it does not hear us.
    SplitBrain {
        instance: InstanceId,
        peer: IpAddr,
        vrid: u8,
    },
    /// The instance became Master `count` times within `window_ms` (TMR-09): adverts
    /// are late or lost, often because the Master's queue delays them.
    Flapping {
        instance: InstanceId,
        count: u32,
        window_ms: u64,
    },
    /// auth_hmac `anti_replay time`: an accepted advert's time is more than half of
    /// `time_window` away from this router's clock (said once per sender, before
    /// the drift makes its adverts stale).
    HmacClockSkew {
        instance: InstanceId,
        from: IpAddr,
        /// This router's clock minus the sender's, seconds.
        skew: i32,
        window: u32,
    },
    /// A stopping Master that kept its VIPs after its priority-0 advert
    /// ([`crate::InstanceConfig::handover`]) let them go, and why.
    HandedOver { instance: InstanceId, how: Handover },
}

/// Why a stopping Master let go of the VIPs it held for the handover.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Handover {
    /// The new Master (this address) advertised, and its grace period ran out.
    Advert(IpAddr),
    /// The new Master announced the VIPs (gratuitous ARP / unsolicited NA).
    Announced,
    /// Nobody took over within the down interval.
    Timeout,
    /// The driver could not wait (or the instance was started again).
    Cut,
}

/// [`Event::ForeignVrid`]'s line, with the interface as the driver names it.
pub fn foreign_vrid_line(vrid: u8, from: IpAddr, interface: &str) -> String {
    format!(
        "adverts for VRID {vrid} from {from} on {interface}: another virtual router's, none \
         runs here (counted, not logged again)"
    )
}

impl Discard {
    /// The setting routers of one virtual router must share, for a mismatch of this
    /// kind.
    fn setting(self) -> &'static str {
        match self {
            Discard::Auth | Discard::AuthType | Discard::InvalidAuthType => "authentication",
            Discard::Interval | Discard::IntervalZero => "advert_int",
            Discard::Version => "version",
            Discard::AddressList => "virtual_ipaddress list",
            _ => "settings",
        }
    }
}

impl fmt::Display for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Event::Mismatch {
                from,
                reason: Discard::NotLinkLocal,
                detail,
                ignored,
                ..
            } => write!(
                f,
                "{from} {detail}: {} (RFC 5798 wants its link-local address first; FRR \
                 sends only the VIPs); counted, not logged again",
                if *ignored {
                    "its adverts are ignored in strict mode"
                } else {
                    "its adverts are used"
                }
            ),
            Event::Mismatch {
                from,
                reason,
                detail,
                ..
            } if reason.is_hmac() => write!(
                f,
                "{from} {detail}: its adverts are ignored (auth_hmac, counted as {}, not \
                 logged again for this sender)",
                reason.as_str()
            ),
            Event::Mismatch {
                from,
                reason,
                detail,
                ignored,
                ..
            } => write!(
                f,
                "{from} {detail}: {}; every router of this virtual router needs the same {} \
                 (counted, not logged again)",
                if *ignored {
                    "its adverts are ignored"
                } else {
                    "its adverts are used anyway"
                },
                reason.setting()
            ),
            Event::ForeignVrid {
                interface,
                vrid,
                from,
            } => f.write_str(&foreign_vrid_line(
                *vrid,
                *from,
                &format!("interface {}", interface.0),
            )),
            Event::VipClaimed {
                vip, vrid, from, ..
            } => write!(
                f,
                "VIP {vip} is also claimed by VRID {vrid} from {from}: two virtual routers \
                 hold one address; keep it in one of them"
            ),
            Event::OwnAddressAsPeer { address, .. } => write!(
                f,
                "unicast_peer {address} is this router's own address: its adverts to itself \
                 are ignored; remove it from unicast_peer"
            ),
            Event::Discarded {
                reason,
                from,
                detail,
                suppressed,
                ..
            } => {
                write!(f, "discarded advert from {from}: {} ({detail})", reason.as_str())?;
                if *suppressed > 0 {
                    write!(f, "; {suppressed} more not logged")?;
                }
                Ok(())
            }
            Event::IntervalAdopted {
                from,
                previous_ms,
                centiseconds,
                ..
            } => write!(
                f,
                "advertisement interval changed: mine={previous_ms} milli-sec, rcved={} milli-sec (from {from})",
                u32::from(*centiseconds) * 10
            ),
            Event::LowerPriority {
                from, priority, ours, ..
            } => write!(
                f,
                "Received advert from {from} with lower priority {priority}, ours {ours}, forcing new election"
            ),
            Event::SecondOwner { from, .. } => write!(
                f,
                "CONFIGURATION ERROR: local instance and a remote instance ({from}) are both configured as address owner"
            ),
            Event::EqualPriority { from, priority, .. } => {
                write!(f, "peer {from} advertises our priority {priority}; give backups different priorities")
            }
            Event::AddressConflict { from, .. } => {
                write!(f, "another router uses our source address {from}")
            }
            Event::PriorityChanged { from, to, .. } => {
                write!(f, "Changing effective priority from {from} to {to}")
            }
            Event::PreemptDelayed { millis, .. } => {
                write!(f, "preemption delayed for {} ms (preempt_delay)", millis)
            }
            Event::SyncGroup { to, .. } => write!(f, "Syncing instances to {to} state"),
            Event::HandedOver { how, .. } => match how {
                Handover::Advert(to) => write!(f, "{to} took over; releasing the VIPs"),
                Handover::Announced => {
                    write!(f, "the new master announced the VIPs; releasing them")
                }
                Handover::Timeout => {
                    write!(f, "no new master within the down interval; releasing the VIPs")
                }
                Handover::Cut => write!(f, "releasing the VIPs without waiting further"),
            },
            Event::HmacClockSkew {
                from, skew, window, ..
            } => write!(
                f,
                "authentication clock skew {skew} sec from {from} approaching window {window} sec; \
                 check NTP on both routers (said once per sender)"
            ),
            Event::SplitBrain { peer, vrid, .. } => write!(
                f,
                "split brain: {peer} also claims VRID {vrid} and does not hear us; check that IP protocol 112 (vrrp) is accepted on {peer}"
            ),
            Event::Flapping {
                count, window_ms, ..
            } => write!(
                f,
                "flapping: became MASTER {count} times in {window_ms} ms; adverts are late or lost (check the link and the load on the master)"
            ),
        }
    }
}
