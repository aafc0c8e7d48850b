//! The duplicate-address watch: while we hold an IPv4 VIP, ARP frames in which
//! another host speaks for it. A claim is a *suspect* first (a host preempting us
//! announces the VIP just before its advert arrives) and is reported only if we
//! still hold the VIP [`CLAIM_GRACE`] later. While Master we also probe our VIPs now
//! and then (RFC 5227), so a host that silently holds one is found too.
use super::addresses::Addresses;
use super::setup::Setup;
use anyhow::{Context, Result};
use keepup_sys::ArpListener;
use keepup_vrrp::{InstanceId, Router, State};
use keepup_wire::MacAddr;
use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;
use tokio::time::Instant;
use tracing::{error, warn};

/// How long another host's claim on one of our VIPs may stand before it counts as
/// a duplicate address (a preempting Master's advert follows its announcement
/// within microseconds; a lost advert is resent after an advert interval).
const CLAIM_GRACE: Duration = Duration::from_secs(2);

/// How often a Master probes its VIPs.
pub const PROBE_EVERY: Duration = Duration::from_secs(10);

/// A duplicate is reported again after this long.
const REPORT_AGAIN: Duration = Duration::from_secs(60);

/// An IPv4 VIP held now: its instance, interface index and address.
pub type HeldV4 = (InstanceId, u32, Ipv4Addr);

/// The IPv4 VIPs of every Master (or, with `holding`, of every stopped Master
/// still holding them for the handover), with their interface index.
pub fn held_v4(router: &Router, setup: &Setup, holding: bool) -> Vec<HeldV4> {
    let mut out = Vec::new();
    for id in setup.ids() {
        let held = if holding {
            router.is_holding(id)
        } else {
            router.state(id) == State::Master
        };
        if !held {
            continue;
        }
        for a in setup.effects(id).addresses() {
            if let (IpAddr::V4(v4), Some(k)) = (a.address, setup.address(id, a)) {
                out.push((id, k.ifindex, v4));
            }
        }
    }
    out
}

pub struct DuplicateWatch {
    arp: ArpListener,
    /// Whether ARP frames are let through to `arp` (only while a VIP is held).
    on: bool,
    /// (VIP, other MAC) -> when it was last reported.
    reported: HashMap<(Ipv4Addr, MacAddr), Instant>,
    /// (VIP, other MAC) -> (our instance, when first heard): claims not yet judged.
    suspects: HashMap<(Ipv4Addr, MacAddr), (InstanceId, Instant)>,
}

impl DuplicateWatch {
    pub fn new() -> Result<DuplicateWatch> {
        Ok(DuplicateWatch {
            arp: ArpListener::new().context("AF_PACKET ARP socket")?,
            on: false,
            reported: HashMap::new(),
            suspects: HashMap::new(),
        })
    }

    /// Whether ARP frames are read now.
    pub fn listening(&self) -> bool {
        self.on
    }

    /// ARP frames are only read while an IPv4 VIP is held (as Master, or for a
    /// handover): another host's claim matters only then.
    pub fn listen(&mut self, router: &Router, setup: &Setup) {
        let on =
            !held_v4(router, setup, false).is_empty() || !held_v4(router, setup, true).is_empty();
        if on != self.on {
            match self.arp.listen(on) {
                Ok(()) => self.on = on,
                Err(e) => warn!("{e}"),
            }
        }
    }

    /// The next ARP frame (interface index, frame).
    pub async fn recv(&self) -> keepup_sys::Result<(u32, Vec<u8>)> {
        self.arp.recv().await
    }

    /// While Master, ask who else answers for our IPv4 VIPs (an ARP probe, RFC
    /// 5227: sender address 0.0.0.0, so no cache learns from it).
    pub async fn probe(&self, addresses: &mut Addresses, held: &[HeldV4], setup: &Setup) {
        for &(id, ifindex, vip) in held {
            let Some(mac) = addresses.mac(ifindex).await else {
                continue;
            };
            let probe = keepup_wire::arp::Repr {
                eth_src: mac,
                eth_dst: MacAddr::BROADCAST,
                operation: 1,
                sender_mac: mac,
                sender_ip: Ipv4Addr::UNSPECIFIED,
                target_mac: MacAddr::default(),
                target_ip: vip,
            };
            if let Err(e) = addresses.send_frame(ifindex, &probe.emit()) {
                warn!("({}) ARP probe for {vip}: {e}", setup.name(id));
            }
        }
    }

    /// An ARP frame from another host that claims one of our VIPs held as Master
    /// (a reply to our probe, or its own gratuitous ARP): a suspect, judged later.
    pub fn claim(&mut self, claim: Option<(InstanceId, Ipv4Addr, MacAddr)>, now: Instant) {
        let Some((id, vip, mac)) = claim else {
            return;
        };
        let key = (vip, mac);
        if self
            .reported
            .get(&key)
            .is_some_and(|t| now.duration_since(*t) < REPORT_AGAIN)
        {
            return;
        }
        self.suspects.entry(key).or_insert((id, now));
    }

    /// When the oldest unjudged claim is to be judged.
    pub fn due(&self) -> Option<Instant> {
        self.suspects.values().map(|(_, t)| *t + CLAIM_GRACE).min()
    }

    /// Claims heard [`CLAIM_GRACE`] ago: still Master with that VIP means two hosts
    /// answer for it; no longer Master means it was a takeover. Returns the instances
    /// whose duplicates it reported.
    pub fn judge(&mut self, now: Instant, held: &[HeldV4], setup: &Setup) -> Vec<InstanceId> {
        let due: Vec<_> = self
            .suspects
            .iter()
            .filter(|(_, (_, t))| now >= *t + CLAIM_GRACE)
            .map(|(k, v)| (*k, *v))
            .collect();
        let mut reported = Vec::new();
        for ((vip, mac), (id, _)) in due {
            self.suspects.remove(&(vip, mac));
            if !held.iter().any(|(i, _, v)| *i == id && *v == vip) {
                continue;
            }
            self.reported.insert((vip, mac), now);
            error!(
                "({}) duplicate address: {vip} is also answered by {mac} on this link; another host holds it",
                setup.name(id),
            );
            reported.push(id);
        }
        reported
    }
}

/// An ARP frame in which another host (another MAC) speaks for one of the VIPs in
/// `held`: the instance, the VIP and that host's MAC.
pub async fn foreign_claim(
    addresses: &mut Addresses,
    held: &[HeldV4],
    ifindex: u32,
    frame: &[u8],
) -> Option<(InstanceId, Ipv4Addr, MacAddr)> {
    let arp = keepup_wire::arp::Repr::parse(frame).ok()?;
    let &(id, _, vip) = held
        .iter()
        .find(|(_, ifx, v)| *ifx == ifindex && *v == arp.sender_ip)?;
    let mine = addresses.mac(ifindex).await?;
    (arp.sender_mac != mine).then_some((id, vip, arp.sender_mac))
}
