//! The IPVS table keepup wants: the configuration's virtual servers, each with the
//! pool the checkers decided (which real servers, or the sorry server, at which weight).
//!
//! keepalived 2.2's rules, read in keepalived/check/ipvswrapper.c (`ipvs_set_srule`,
//! `ipvs_set_drule`, `ipvs_cmd`, `ipvs_group_cmd`, `ipvs_group_range_cmd`) and
//! check_data.c (`validate_check_config`), restated here in our own terms:
//!
//! - A service takes the virtual server's scheduler (`wlc` when unset), its flags
//!   (`flag-1`/`sh-fallback`/`mh-fallback`: SCHED1; `flag-2`/`sh-port`/`mh-port`:
//!   SCHED2; `flag-3`: SCHED3; `hashed`; `ops`: ONEPACKET) and, only when
//!   `persistence_timeout` is set, PERSISTENT with that timeout, the granularity as
//!   netmask and the persistence engine. Without persistence the netmask is the
//!   host mask (0xffffffff, or 128 for IPv6) and no engine is sent.
//! - The service of `virtual_server IP PORT` is (protocol, IP, PORT); the protocol
//!   defaults to UDP (what the kernel takes for 0). A fwmark service has no protocol
//!   and no port; its family is `ip_family`, else that of its first non-tunnelled
//!   server, else that of its (all tunnelled) servers if they agree, else IPv4.
//! - A `virtual_server_group` gives one service per address of each range (with the
//!   entry's port, 0 when it has none, which makes the virtual server persistent),
//!   and one per fwmark entry, of the entry's family, else the virtual server's,
//!   else IPv4. keepalived resets the netmask to the host mask for every group
//!   entry, so `persistence_granularity` has no effect there.
//! - A destination takes its server's address; its port is the service's port with
//!   DR and TUN (0 for a fwmark service), and with NAT the server's own port, or when
//!   it has none the virtual server's port (0 in a group or fwmark service: the
//!   kernel then keeps the packet's port).
//! - `lvs_method TUN` without a type is ipip; `gue` carries its port; `csum` and
//!   `remcsum` set the encapsulation flags, `nocsum` none.
//! - `ha_suspend` only suspends the checkers while the virtual address is absent
//!   (check_api.c `update_checker_activity`): the service itself stays in the table,
//!   so it does not change what is built here.
use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use keepup_config::model::lvs::{
    Forwarding, IpFamily, LvsMethod, Protocol as CfgProtocol, TunnelChecksum,
    TunnelType as CfgTunnel, VirtualServer, VirtualServerGroup, VsAddress, VsgEntry,
};
use keepup_config::model::Config;
use serde::Serialize;

use crate::table::{
    DestKey, Destination, Family, Forward, Protocol, SchedFlags, Service, ServiceKey, Table,
    TunnelType,
};

/// keepalived's default scheduler (IPVS_DEF_SCHED).
pub const DEFAULT_SCHEDULER: &str = "wlc";
/// keepalived's persistence timeout when it has to make a service persistent.
pub const DEFAULT_PERSISTENCE: u32 = 360;
/// The most addresses one group range may expand to (keepalived walks only the
/// last octet of IPv4, the last 16 bits of IPv6).
pub const MAX_RANGE: u128 = 65_536;

/// Which server of a virtual server a pool entry is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub enum Member {
    /// The real server at this index of the virtual server's `real_servers`.
    Real(usize),
    /// The virtual server's `sorry_server`.
    Sorry,
}

/// The pools the checkers decided, by index into `config.virtual_servers`: each a list
/// of (server, weight). A virtual server without an entry has an empty pool (its
/// services exist, with no destinations).
pub type Pools = BTreeMap<usize, Vec<(Member, u32)>>;

/// Something keepalived would refuse, ignore or correct, found while building.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, thiserror::Error)]
#[non_exhaustive]
pub enum Problem {
    #[error("virtual server #{vs} uses virtual_server_group {group}, which is not defined; it has no services")]
    UnknownGroup { vs: usize, group: String },
    #[error("virtual server #{vs}: scheduler flag '{flag}' is unknown and ignored")]
    UnknownSchedFlag { vs: usize, flag: String },
    #[error("virtual server #{vs}: persistence_granularity '{value}' does not fit service {service}; the host mask is used")]
    BadGranularity {
        vs: usize,
        service: ServiceKey,
        value: String,
    },
    #[error("virtual server #{vs}: persistence_granularity is not applied to virtual_server_group services (keepalived resets it)")]
    GranularityIgnoredInGroup { vs: usize },
    #[error("virtual server #{vs}: persistence_engine '{engine}' is only used with persistence_timeout; it is ignored")]
    EngineWithoutPersistence { vs: usize, engine: String },
    #[error("virtual server #{vs}: 'ops' needs protocol UDP; it is ignored for {service}")]
    OpsNeedsUdp { vs: usize, service: ServiceKey },
    #[error("virtual server #{vs}: a group address without a port only works for a persistent service; it is made persistent ({DEFAULT_PERSISTENCE} s)")]
    ZeroPortMadePersistent { vs: usize },
    #[error("virtual server #{vs}: range {first}-{last} has more than {MAX_RANGE} addresses; it is skipped")]
    RangeTooLarge {
        vs: usize,
        first: IpAddr,
        last: IpAddr,
    },
    #[error("virtual server #{vs}: server {dest} is not tunnelled and not of the family of {service}; it is not added there")]
    FamilyMismatch {
        vs: usize,
        service: ServiceKey,
        dest: DestKey,
    },
    #[error("virtual servers #{first} and #{vs} both define {service} with other settings; the first one's are used")]
    ServiceConflict {
        vs: usize,
        first: usize,
        service: ServiceKey,
    },
    #[error(
        "virtual servers #{first} and #{vs} both put {dest} in {service}; the first one's is used"
    )]
    DestConflict {
        vs: usize,
        first: usize,
        service: ServiceKey,
        dest: DestKey,
    },
    #[error("virtual server #{vs}: a gue tunnel needs a port; server {addr} is skipped")]
    GueWithoutPort { vs: usize, addr: IpAddr },
    #[error("the pool names virtual server #{vs}, which the configuration does not have")]
    UnknownVirtualServer { vs: usize },
    #[error("the pool of virtual server #{vs} names real server #{rs}, which it does not have")]
    UnknownRealServer { vs: usize, rs: usize },
    #[error("the pool of virtual server #{vs} names its sorry server, which it does not have")]
    NoSorryServer { vs: usize },
}

/// The table keepup wants, and what was found on the way.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Desired {
    pub table: Table,
    pub problems: Vec<Problem>,
}

/// Builds the IPVS table from the validated configuration and the checkers' pools.
pub fn desired(config: &Config, pools: &Pools) -> Desired {
    let mut b = Builder::default();
    for &vs in pools.keys() {
        if vs >= config.virtual_servers.len() {
            b.problems.push(Problem::UnknownVirtualServer { vs });
        }
    }
    let empty = Vec::new();
    for (i, v) in config.virtual_servers.iter().enumerate() {
        let pool = pools.get(&i).unwrap_or(&empty);
        b.virtual_server(i, v, &config.virtual_server_groups, pool);
    }
    Desired {
        table: b.table,
        problems: b.problems,
    }
}

/// One service to create, and how its destinations' ports are chosen.
struct Slot {
    key: ServiceKey,
    /// The port of the service (0 for fwmark).
    port: u16,
    /// Whether this service comes from a group (NAT servers without a port keep 0).
    grouped: bool,
}

#[derive(Default)]
struct Builder {
    table: Table,
    problems: Vec<Problem>,
    /// Which virtual server put each service, and each destination, in first.
    service_owner: BTreeMap<ServiceKey, usize>,
    dest_owner: BTreeMap<(ServiceKey, DestKey), usize>,
}

/// A server as the table needs it.
struct Server {
    addr: IpAddr,
    port: Option<u16>,
    forward: Forwarding,
    u_threshold: u32,
    l_threshold: u32,
}

impl Builder {
    fn virtual_server(
        &mut self,
        vs: usize,
        v: &VirtualServer,
        groups: &[VirtualServerGroup],
        pool: &[(Member, u32)],
    ) {
        let family = vs_family(v);
        let protocol = match v.protocol {
            Some(CfgProtocol::TCP) => Protocol::Tcp,
            Some(CfgProtocol::SCTP) => Protocol::Sctp,
            // keepalived sets UDP explicitly where the kernel would take 0 as UDP.
            Some(CfgProtocol::UDP) | None => Protocol::Udp,
        };
        let mut slots = Vec::new();
        let mut timeout = v.persistence_timeout.unwrap_or(0);
        match &v.address {
            VsAddress::Ip { ip, port } => {
                let port = port.unwrap_or(0);
                if port == 0 && timeout == 0 {
                    // Validation does this already; kept so a hand-built model agrees.
                    timeout = DEFAULT_PERSISTENCE;
                }
                slots.push(Slot {
                    key: ServiceKey::Addr {
                        protocol,
                        addr: *ip,
                        port,
                    },
                    port,
                    grouped: false,
                });
            }
            VsAddress::Fwmark { fwmark } => slots.push(Slot {
                key: ServiceKey::Fwmark {
                    family,
                    mark: *fwmark,
                },
                port: 0,
                grouped: false,
            }),
            VsAddress::Group { group } => {
                let Some(g) = groups.iter().find(|g| &g.name == group) else {
                    self.problems.push(Problem::UnknownGroup {
                        vs,
                        group: group.clone(),
                    });
                    return;
                };
                let zero_port = g.entries.iter().any(|e| {
                    matches!(
                        e,
                        VsgEntry::Range {
                            port: None | Some(0),
                            ..
                        }
                    )
                });
                if zero_port && timeout == 0 {
                    self.problems.push(Problem::ZeroPortMadePersistent { vs });
                    timeout = DEFAULT_PERSISTENCE;
                }
                if timeout != 0 && v.persistence_granularity.is_some() {
                    self.problems
                        .push(Problem::GranularityIgnoredInGroup { vs });
                }
                for e in &g.entries {
                    match *e {
                        VsgEntry::Range { first, last, port } => {
                            let Some(addrs) = expand(first, last) else {
                                self.problems
                                    .push(Problem::RangeTooLarge { vs, first, last });
                                continue;
                            };
                            let port = port.unwrap_or(0);
                            for addr in addrs {
                                slots.push(Slot {
                                    key: ServiceKey::Addr {
                                        protocol,
                                        addr,
                                        port,
                                    },
                                    port,
                                    grouped: true,
                                });
                            }
                        }
                        VsgEntry::Fwmark { fwmark, family: f } => slots.push(Slot {
                            key: ServiceKey::Fwmark {
                                family: f.map(family_of).unwrap_or(family),
                                mark: fwmark,
                            },
                            port: 0,
                            grouped: true,
                        }),
                    }
                }
            }
        }

        let flags = self.flags(vs, v);
        if v.persistence_engine.is_some() && timeout == 0 {
            self.problems.push(Problem::EngineWithoutPersistence {
                vs,
                engine: v.persistence_engine.clone().unwrap_or_default(),
            });
        }
        let servers = self.pool_servers(vs, v, pool);
        for slot in slots {
            let service = self.service(vs, v, &slot, flags, timeout);
            self.put_service(vs, service);
            for (s, weight) in &servers {
                self.put_dest(vs, &slot, s, *weight);
            }
        }
    }

    fn flags(&mut self, vs: usize, v: &VirtualServer) -> u32 {
        let mut flags = 0;
        for f in &v.sched_flags {
            flags |= match f.as_str() {
                "flag-1" | "sh-fallback" | "mh-fallback" => SchedFlags::SCHED1,
                "flag-2" | "sh-port" | "mh-port" => SchedFlags::SCHED2,
                "flag-3" => SchedFlags::SCHED3,
                _ => {
                    self.problems.push(Problem::UnknownSchedFlag {
                        vs,
                        flag: f.clone(),
                    });
                    0
                }
            };
        }
        if v.hashed {
            flags |= SchedFlags::HASHED;
        }
        flags
    }

    fn service(
        &mut self,
        vs: usize,
        v: &VirtualServer,
        slot: &Slot,
        mut flags: u32,
        timeout: u32,
    ) -> Service {
        let key = slot.key;
        if v.ops {
            match key {
                ServiceKey::Addr { protocol, .. } if protocol != Protocol::Udp => {
                    self.problems
                        .push(Problem::OpsNeedsUdp { vs, service: key });
                }
                _ => flags |= SchedFlags::ONEPACKET,
            }
        }
        let host_mask = match key.family() {
            Family::V4 => u32::MAX,
            Family::V6 => 128,
        };
        let mut netmask = host_mask;
        let mut pe_name = None;
        if timeout != 0 {
            flags |= SchedFlags::PERSISTENT;
            pe_name.clone_from(&v.persistence_engine);
            if let (Some(g), false) = (&v.persistence_granularity, slot.grouped) {
                match granularity(g, key.family()) {
                    Some(m) => netmask = m,
                    None => self.problems.push(Problem::BadGranularity {
                        vs,
                        service: key,
                        value: g.clone(),
                    }),
                }
            }
        }
        Service {
            key,
            scheduler: v
                .lvs_sched
                .clone()
                .unwrap_or_else(|| DEFAULT_SCHEDULER.to_string()),
            flags: SchedFlags(flags),
            timeout,
            netmask,
            pe_name,
        }
    }

    fn put_service(&mut self, vs: usize, service: Service) {
        let key = service.key;
        match self.table.services.get(&key) {
            None => {
                self.service_owner.insert(key, vs);
                self.table.add_service(service);
            }
            Some(e) => {
                let first = self.service_owner.get(&key).copied().unwrap_or(vs);
                if e.service != service && first != vs {
                    self.problems.push(Problem::ServiceConflict {
                        vs,
                        first,
                        service: key,
                    });
                }
            }
        }
    }

    /// The pool's servers, resolved; unknown members reported and skipped.
    fn pool_servers(
        &mut self,
        vs: usize,
        v: &VirtualServer,
        pool: &[(Member, u32)],
    ) -> Vec<(Server, u32)> {
        let vs_forward = v.lvs_method.unwrap_or(Forwarding::plain(LvsMethod::NAT));
        let mut out = Vec::new();
        for &(m, weight) in pool {
            let s = match m {
                Member::Real(rs) => match v.real_servers.get(rs) {
                    Some(r) => Server {
                        addr: r.ip,
                        port: r.port,
                        forward: r.lvs_method.unwrap_or(vs_forward),
                        u_threshold: r.uthreshold.unwrap_or(0),
                        l_threshold: r.lthreshold.unwrap_or(0),
                    },
                    None => {
                        self.problems.push(Problem::UnknownRealServer { vs, rs });
                        continue;
                    }
                },
                Member::Sorry => match &v.sorry_server {
                    Some(ss) => Server {
                        addr: ss.ip,
                        port: ss.port,
                        forward: ss.sorry_server_lvs_method.unwrap_or(vs_forward),
                        u_threshold: 0,
                        l_threshold: 0,
                    },
                    None => {
                        self.problems.push(Problem::NoSorryServer { vs });
                        continue;
                    }
                },
            };
            out.push((s, weight));
        }
        out
    }

    fn put_dest(&mut self, vs: usize, slot: &Slot, s: &Server, weight: u32) {
        let Some(forward) = forward(&s.forward) else {
            self.problems
                .push(Problem::GueWithoutPort { vs, addr: s.addr });
            return;
        };
        let port = match (forward, slot.key) {
            (Forward::Masq, ServiceKey::Fwmark { .. }) => s.port.unwrap_or(0),
            (Forward::Masq, _) if slot.grouped => s.port.unwrap_or(0),
            (Forward::Masq, _) => s.port.filter(|p| *p != 0).unwrap_or(slot.port),
            (_, ServiceKey::Fwmark { .. }) => 0,
            _ => slot.port,
        };
        let key = DestKey { addr: s.addr, port };
        if !matches!(forward, Forward::Tunnel(_)) && Family::of(&s.addr) != slot.key.family() {
            // Report once per server, not once per address of a range.
            let p = Problem::FamilyMismatch {
                vs,
                service: slot.key,
                dest: key,
            };
            if !self.problems.iter().any(|q| {
                matches!(q, Problem::FamilyMismatch { vs: w, dest, .. } if *w == vs && *dest == key)
            }) {
                self.problems.push(p);
            }
            return;
        }
        let dest = Destination {
            key,
            forward,
            weight,
            u_threshold: s.u_threshold,
            l_threshold: s.l_threshold,
        };
        let Some(entry) = self.table.services.get_mut(&slot.key) else {
            return;
        };
        match self.dest_owner.get(&(slot.key, key)).copied() {
            None => {
                self.dest_owner.insert((slot.key, key), vs);
                entry.dests.insert(key, dest);
            }
            // The same server twice in one pool (the sorry server is also a real
            // server): the higher weight wins, so a live one is not inhibited.
            Some(first) if first == vs => {
                if let Some(d) = entry.dests.get_mut(&key) {
                    if weight > d.weight {
                        *d = dest;
                    }
                }
            }
            Some(first) => {
                if entry.dests.get(&key) != Some(&dest) {
                    self.problems.push(Problem::DestConflict {
                        vs,
                        first,
                        service: slot.key,
                        dest: key,
                    });
                }
            }
        }
    }
}

fn family_of(f: IpFamily) -> Family {
    match f {
        IpFamily::Inet => Family::V4,
        IpFamily::Inet6 => Family::V6,
    }
}

/// The family a fwmark service of this virtual server gets: `ip_family`, else that
/// of its first server that is not tunnelled, else that of all its servers if they
/// agree, else IPv4.
fn vs_family(v: &VirtualServer) -> Family {
    if let Some(f) = v.ip_family {
        return family_of(f);
    }
    if let VsAddress::Ip { ip, .. } = &v.address {
        return Family::of(ip);
    }
    let vs_method = v.lvs_method.map(|f| f.method).unwrap_or(LvsMethod::NAT);
    let servers = v
        .sorry_server
        .iter()
        .map(|s| {
            (
                s.ip,
                s.sorry_server_lvs_method
                    .map(|f| f.method)
                    .unwrap_or(vs_method),
            )
        })
        .chain(
            v.real_servers
                .iter()
                .map(|r| (r.ip, r.lvs_method.map(|f| f.method).unwrap_or(vs_method))),
        );
    let mut all: Option<Family> = None;
    let mut agree = true;
    for (ip, m) in servers {
        if m != LvsMethod::TUN {
            return Family::of(&ip);
        }
        match all {
            None => all = Some(Family::of(&ip)),
            Some(f) if f != Family::of(&ip) => agree = false,
            _ => {}
        }
    }
    match all {
        Some(f) if agree => f,
        _ => Family::V4,
    }
}

/// The kernel's forwarding method; `None` for a gue tunnel without a port.
fn forward(f: &Forwarding) -> Option<Forward> {
    Some(match f.method {
        LvsMethod::NAT => Forward::Masq,
        LvsMethod::DR => Forward::Route,
        LvsMethod::TUN => {
            let flags = match f.tunnel_checksum {
                None | Some(TunnelChecksum::Nocsum) => 0,
                Some(TunnelChecksum::Csum) => TunnelType::CSUM,
                Some(TunnelChecksum::Remcsum) => TunnelType::REMCSUM,
            };
            Forward::Tunnel(match f.tunnel_type {
                None | Some(CfgTunnel::Ipip) => TunnelType::Ipip,
                Some(CfgTunnel::Gue) => TunnelType::Gue {
                    port: f.tunnel_port?,
                    flags,
                },
                Some(CfgTunnel::Gre) => TunnelType::Gre { flags },
            })
        }
    })
}

/// `persistence_granularity` for a service of `family`: an IPv4 netmask as a
/// host-order u32, or an IPv6 prefix length.
fn granularity(text: &str, family: Family) -> Option<u32> {
    match family {
        Family::V4 => text.parse::<Ipv4Addr>().ok().map(u32::from),
        Family::V6 => match text.parse::<u32>() {
            Ok(n @ 1..=128) => Some(n),
            _ => None,
        },
    }
}

/// Every address from `first` to `last`, inclusive; `None` when too many.
fn expand(first: IpAddr, last: IpAddr) -> Option<Vec<IpAddr>> {
    match (first, last) {
        (IpAddr::V4(a), IpAddr::V4(b)) => {
            let (a, b) = (u32::from(a), u32::from(b));
            if b < a {
                return Some(Vec::new());
            }
            if u128::from(b - a) >= MAX_RANGE {
                return None;
            }
            Some((a..=b).map(|n| IpAddr::V4(Ipv4Addr::from(n))).collect())
        }
        (IpAddr::V6(a), IpAddr::V6(b)) => {
            let (a, b) = (u128::from(a), u128::from(b));
            if b < a {
                return Some(Vec::new());
            }
            if b - a >= MAX_RANGE {
                return None;
            }
            Some((a..=b).map(|n| IpAddr::V6(Ipv6Addr::from(n))).collect())
        }
        // The parser refuses ranges whose ends differ in family.
        _ => None,
    }
}
