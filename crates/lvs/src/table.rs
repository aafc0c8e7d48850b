//! The IPVS table as data, in the kernel's terms (linux/ip_vs.h), so that what keepup
//! wants and what the kernel reports compare field by field.
//!
//! Only what configuration decides is here. Counters and connection numbers, which only
//! the kernel knows, travel beside these types in the decoded messages.
use std::collections::BTreeMap;
use std::fmt;
use std::net::IpAddr;

use serde::{Deserialize, Serialize};

/// An address family as the kernel numbers it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Family {
    V4,
    V6,
}

impl Family {
    /// AF_INET / AF_INET6.
    pub const fn af(self) -> u16 {
        match self {
            Family::V4 => 2,
            Family::V6 => 10,
        }
    }

    pub const fn from_af(af: u16) -> Option<Family> {
        match af {
            2 => Some(Family::V4),
            10 => Some(Family::V6),
            _ => None,
        }
    }

    pub const fn of(ip: &IpAddr) -> Family {
        match ip {
            IpAddr::V4(_) => Family::V4,
            IpAddr::V6(_) => Family::V6,
        }
    }
}

/// A service's transport protocol (IPPROTO_*).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Protocol {
    Tcp,
    Udp,
    Sctp,
}

impl Protocol {
    pub const fn number(self) -> u16 {
        match self {
            Protocol::Tcp => 6,
            Protocol::Udp => 17,
            Protocol::Sctp => 132,
        }
    }

    pub const fn from_number(n: u16) -> Option<Protocol> {
        match n {
            6 => Some(Protocol::Tcp),
            17 => Some(Protocol::Udp),
            132 => Some(Protocol::Sctp),
            _ => None,
        }
    }

    /// As ipvsadm prints it.
    pub const fn name(self) -> &'static str {
        match self {
            Protocol::Tcp => "TCP",
            Protocol::Udp => "UDP",
            Protocol::Sctp => "SCTP",
        }
    }
}

/// What identifies a service in the kernel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum ServiceKey {
    /// `virtual_server IP PORT` with its `protocol`.
    Addr {
        protocol: Protocol,
        addr: IpAddr,
        port: u16,
    },
    /// `virtual_server fwmark N`, per family.
    Fwmark { family: Family, mark: u32 },
}

impl ServiceKey {
    pub fn family(&self) -> Family {
        match self {
            ServiceKey::Addr { addr, .. } => Family::of(addr),
            ServiceKey::Fwmark { family, .. } => *family,
        }
    }
}

impl fmt::Display for ServiceKey {
    /// As ipvsadm -Ln names it: `TCP  10.0.0.1:80`, `UDP  [fc00::1]:53`, `FWM  5 IPv6`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ServiceKey::Addr {
                protocol,
                addr: IpAddr::V4(a),
                port,
            } => {
                write!(f, "{} {a}:{port}", protocol.name())
            }
            ServiceKey::Addr {
                protocol,
                addr: IpAddr::V6(a),
                port,
            } => {
                write!(f, "{} [{a}]:{port}", protocol.name())
            }
            ServiceKey::Fwmark {
                family: Family::V4,
                mark,
            } => write!(f, "FWM {mark}"),
            ServiceKey::Fwmark {
                family: Family::V6,
                mark,
            } => write!(f, "FWM {mark} IPv6"),
        }
    }
}

/// Service flags (IP_VS_SVC_F_*).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash, Serialize, Deserialize)]
pub struct SchedFlags(pub u32);

impl SchedFlags {
    pub const PERSISTENT: u32 = 0x0001;
    pub const HASHED: u32 = 0x0002;
    pub const ONEPACKET: u32 = 0x0004;
    /// `flag-1` (sh-fallback, mh-fallback).
    pub const SCHED1: u32 = 0x0008;
    /// `flag-2` (sh-port, mh-port).
    pub const SCHED2: u32 = 0x0010;
    /// `flag-3`.
    pub const SCHED3: u32 = 0x0020;

    pub fn has(self, flag: u32) -> bool {
        self.0 & flag != 0
    }
}

/// A virtual service: what `ipvsadm -A` sets.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Service {
    pub key: ServiceKey,
    /// The scheduler's name: `wlc`, `rr`, `mh`, ...
    pub scheduler: String,
    /// IP_VS_SVC_F_*; PERSISTENT whenever `timeout` is set.
    pub flags: SchedFlags,
    /// Persistence timeout in seconds (0: not persistent).
    pub timeout: u32,
    /// Persistence granularity: an IPv4 netmask as a host-order u32 (`0xffff_ffff` for
    /// /32), or an IPv6 prefix length (128).
    pub netmask: u32,
    /// Persistence engine (`sip`), if any.
    pub pe_name: Option<String>,
}

impl Service {
    /// Whether the kernel would need an edit to turn `self` into `other`: every field
    /// but HASHED, which the kernel sets on every service it holds (and reports back),
    /// whatever was asked.
    pub fn same_settings(&self, other: &Service) -> bool {
        let mask = !SchedFlags::HASHED;
        self.key == other.key
            && self.scheduler == other.scheduler
            && self.flags.0 & mask == other.flags.0 & mask
            && self.timeout == other.timeout
            && self.netmask == other.netmask
            && self.pe_name == other.pe_name
    }
}

impl Service {
    /// A service with no flags and no persistence (the host mask as its netmask).
    pub fn new(key: ServiceKey, scheduler: &str) -> Service {
        Service {
            key,
            scheduler: scheduler.to_owned(),
            flags: SchedFlags(0),
            timeout: 0,
            netmask: Service::host_mask(key.family()),
            pe_name: None,
        }
    }

    /// The netmask of a service without persistence granularity: /32 or /128.
    pub const fn host_mask(family: Family) -> u32 {
        match family {
            Family::V4 => u32::MAX,
            Family::V6 => 128,
        }
    }
}

/// The forwarding method of a destination (IP_VS_CONN_F_FWD_MASK).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Forward {
    /// NAT (`Masq` in ipvsadm).
    Masq,
    /// Local node (`Local`).
    Local,
    /// IP tunnel (`Tunnel`), with its type.
    Tunnel(TunnelType),
    /// Direct routing (`Route`).
    Route,
    /// Cache bypass (`Bypass`).
    Bypass,
}

impl Forward {
    /// The IP_VS_CONN_F_* value of the method.
    pub const fn conn_flags(self) -> u32 {
        match self {
            Forward::Masq => 0,
            Forward::Local => 1,
            Forward::Tunnel(_) => 2,
            Forward::Route => 3,
            Forward::Bypass => 4,
        }
    }
}

/// Tunnel encapsulation (IP_VS_CONN_F_TUNNEL_TYPE_*) and its options
/// (IP_VS_TUNNEL_ENCAP_FLAG_*).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum TunnelType {
    Ipip,
    /// Generic UDP encapsulation to `port`, with its checksum flags.
    Gue {
        port: u16,
        flags: u16,
    },
    /// GRE with its checksum flags.
    Gre {
        flags: u16,
    },
}

impl TunnelType {
    /// IP_VS_TUNNEL_ENCAP_FLAG_CSUM.
    pub const CSUM: u16 = 1 << 0;
    /// IP_VS_TUNNEL_ENCAP_FLAG_REMCSUM.
    pub const REMCSUM: u16 = 1 << 1;
}

/// What identifies a destination within its service.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct DestKey {
    pub addr: IpAddr,
    pub port: u16,
}

impl fmt::Display for DestKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.addr {
            IpAddr::V4(a) => write!(f, "{a}:{}", self.port),
            IpAddr::V6(a) => write!(f, "[{a}]:{}", self.port),
        }
    }
}

/// A real server in a service: what `ipvsadm -a` sets.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Destination {
    pub key: DestKey,
    pub forward: Forward,
    /// 0 keeps it in the table without new connections (`inhibit_on_failure`).
    pub weight: u32,
    /// Upper and lower connection thresholds (0: none).
    pub u_threshold: u32,
    pub l_threshold: u32,
}

impl Destination {
    /// A destination without thresholds.
    pub fn new(addr: IpAddr, port: u16, forward: Forward, weight: u32) -> Destination {
        Destination {
            key: DestKey { addr, port },
            forward,
            weight,
            u_threshold: 0,
            l_threshold: 0,
        }
    }
}

/// One service with its destinations.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Entry {
    pub service: Service,
    pub dests: BTreeMap<DestKey, Destination>,
}

/// An IPVS table: services by key, each with its destinations.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct Table {
    pub services: BTreeMap<ServiceKey, Entry>,
}

impl Table {
    /// Adds a service (replacing one with the same key) with no destinations.
    pub fn add_service(&mut self, service: Service) -> &mut Entry {
        let key = service.key;
        let entry = self.services.entry(key).or_insert_with(|| Entry {
            service: service.clone(),
            dests: BTreeMap::new(),
        });
        entry.service = service;
        entry
    }

    /// Adds a destination to the service `key` (which must have been added).
    pub fn add_dest(&mut self, key: &ServiceKey, dest: Destination) -> bool {
        match self.services.get_mut(key) {
            Some(e) => {
                e.dests.insert(dest.key, dest);
                true
            }
            None => false,
        }
    }
}

/// One change to the kernel's table: what a reconciler decides and a socket sends.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum Op {
    AddService(Service),
    /// Same key, other scheduler, flags, persistence or engine: edited in place, so
    /// connections survive.
    EditService(Service),
    DelService(ServiceKey),
    AddDest(ServiceKey, Destination),
    /// Same address and port, other weight, method or thresholds: edited in place.
    EditDest(ServiceKey, Destination),
    DelDest(ServiceKey, DestKey),
}

impl Op {
    /// The service the operation concerns, for error messages.
    pub fn service(&self) -> ServiceKey {
        match self {
            Op::AddService(s) | Op::EditService(s) => s.key,
            Op::DelService(k) | Op::AddDest(k, _) | Op::EditDest(k, _) | Op::DelDest(k, _) => *k,
        }
    }
}
