//! keepup-sys: every Linux effect of keepup, behind small safe types. The daemon's
//! drivers use these; the engine never sees them. (API declared; bodies follow.)
#![allow(clippy::unused_async)]

use std::net::{IpAddr, Ipv6Addr};

/// Errors from the kernel, with what was being done.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{what}: {source}")]
    Io {
        what: String,
        #[source]
        source: std::io::Error,
    },
    #[error("netlink: {0}")]
    Netlink(String),
    #[error("no interface named {0}")]
    NoInterface(String),
}

pub type Result<T> = std::result::Result<T, Error>;

/// One received VRRP (or AH) packet.
#[derive(Debug, Clone)]
pub struct Received {
    pub ifindex: u32,
    /// IPv4: the whole IP packet as the raw socket delivers it (header first).
    /// IPv6: the VRRP message.
    pub data: Vec<u8>,
    /// IPv6 only (from ancillary data): source, destination, hop limit.
    pub v6: Option<(Ipv6Addr, Ipv6Addr, u8)>,
}

/// A raw IP socket for protocol 112 (and 51 for AH on IPv4) of one family.
pub struct VrrpSocket {
    _todo: (),
}

impl VrrpSocket {
    /// IPv4: raw socket, IP_HDRINCL (we send whole packets), receives protocol 112
    /// and, if `ah`, a second raw socket for protocol 51. IPv6: raw socket, hop limit
    /// read back (IPV6_RECVHOPLIMIT, IPV6_RECVPKTINFO), multicast hops 255, TCLASS CS6.
    pub fn open_v4(ah: bool) -> Result<VrrpSocket> {
        let _ = ah;
        todo!("sys helper")
    }
    pub fn open_v6() -> Result<VrrpSocket> {
        todo!()
    }
    /// Join the group (224.0.0.18 / ff02::12 or `mcast_dst_ip`) on an interface.
    pub fn join(&self, group: IpAddr, ifindex: u32) -> Result<()> {
        let _ = (group, ifindex);
        todo!()
    }
    /// Send one advert. IPv4: `packet` is the whole IP packet (header with TTL, AH,
    /// VRRP), sent out of `ifindex`. IPv6: `packet` is the VRRP message, sent from
    /// `src` (the link-local) with hop limit `ttl` out of `ifindex`.
    pub async fn send(
        &self,
        ifindex: u32,
        src: IpAddr,
        dst: IpAddr,
        ttl: u8,
        packet: &[u8],
    ) -> Result<()> {
        let _ = (ifindex, src, dst, ttl, packet);
        todo!()
    }
    /// The next packet (with the interface it arrived on).
    pub async fn recv(&self) -> Result<Received> {
        todo!()
    }
}

/// An address on an interface, as `ip addr` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Address {
    pub ifindex: u32,
    pub addr: IpAddr,
    pub prefix_len: u8,
    pub broadcast: Option<std::net::Ipv4Addr>,
    /// RT_SCOPE_* (0 universe, 253 link, 254 host).
    pub scope: u8,
    pub label: Option<String>,
}

/// A route as `virtual_routes` describes one (the fields keepup sets).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    pub dst: IpAddr,
    pub prefix_len: u8,
    pub gateway: Option<IpAddr>,
    pub ifindex: Option<u32>,
    pub src: Option<IpAddr>,
    pub table: Option<u32>,
    pub metric: Option<u32>,
    pub scope: Option<u8>,
    /// blackhole / unreachable / prohibit (type); None = unicast.
    pub kind: Option<String>,
}

/// A policy rule as `virtual_rules` describes one (the fields keepup sets).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    pub v6: bool,
    pub from: Option<(IpAddr, u8)>,
    pub to: Option<(IpAddr, u8)>,
    pub table: Option<u32>,
    pub priority: Option<u32>,
    pub fwmark: Option<u32>,
    pub iif: Option<String>,
    pub oif: Option<String>,
}

/// What the kernel says changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LinkEvent {
    /// Operational state (carrier and admin up) of an interface.
    Link {
        ifindex: u32,
        name: String,
        up: bool,
    },
    AddressAdded(Address),
    AddressRemoved(Address),
}

/// rtnetlink: interfaces, addresses, routes, rules.
pub struct Netlink {
    _todo: (),
}

impl Netlink {
    pub async fn new() -> Result<Netlink> {
        todo!("sys helper")
    }
    pub async fn ifindex(&self, name: &str) -> Result<u32> {
        let _ = name;
        todo!()
    }
    /// Interface is administratively up and has carrier.
    pub async fn link_up(&self, ifindex: u32) -> Result<bool> {
        let _ = ifindex;
        todo!()
    }
    pub async fn mac(&self, ifindex: u32) -> Result<[u8; 6]> {
        let _ = ifindex;
        todo!()
    }
    pub async fn addresses(&self, ifindex: Option<u32>) -> Result<Vec<Address>> {
        let _ = ifindex;
        todo!()
    }
    /// Add; an address that is already there is not an error.
    pub async fn add_address(&self, a: &Address) -> Result<()> {
        let _ = a;
        todo!()
    }
    /// Remove; an address that is not there is not an error.
    pub async fn del_address(&self, a: &Address) -> Result<()> {
        let _ = a;
        todo!()
    }
    pub async fn add_route(&self, r: &Route) -> Result<()> {
        let _ = r;
        todo!()
    }
    pub async fn del_route(&self, r: &Route) -> Result<()> {
        let _ = r;
        todo!()
    }
    pub async fn add_rule(&self, r: &Rule) -> Result<()> {
        let _ = r;
        todo!()
    }
    pub async fn del_rule(&self, r: &Rule) -> Result<()> {
        let _ = r;
        todo!()
    }
}

/// Link and address changes, from an RTMGRP_LINK | IFADDR multicast subscription.
pub struct Monitor {
    _todo: (),
}

impl Monitor {
    pub fn new() -> Result<Monitor> {
        todo!("sys helper")
    }
    pub async fn next(&mut self) -> Result<LinkEvent> {
        todo!()
    }
}

/// AF_PACKET sender for whole Ethernet frames (gratuitous ARP, unsolicited NA).
pub struct FrameSender {
    _todo: (),
}

impl FrameSender {
    pub fn new() -> Result<FrameSender> {
        todo!("sys helper")
    }
    pub fn send(&self, ifindex: u32, frame: &[u8]) -> Result<()> {
        let _ = (ifindex, frame);
        todo!()
    }
}

/// Write `value` to /proc/sys/`path` (e.g. `net/ipv4/conf/eth0/arp_ignore`).
pub fn sysctl_set(path: &str, value: &str) -> Result<()> {
    let _ = (path, value);
    todo!()
}
