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
//! - With `nftables_ipvs` (see [`crate::nft`]), a group without fwmark entries is not
//!   expanded: each (group, protocol) gets a mark, from `nftables_ipvs_start_fwmark`
//!   (1000) upwards in the order of the virtual servers (kept over a reload, see
//!   [`Marks`]), and one fwmark service of the
//!   virtual server's family holds its servers, while the group's addresses and ports
//!   go into the nftables map that sets the mark. A second virtual server of the same
//!   group and protocol shares the mark and its service. When every server is
//!   tunnelled and `ip_family` is unset, the service is made in each family the group
//!   has addresses of (the IPv6 one with the host mask). Unlike in an expanded group,
//!   `persistence_granularity` is applied. A group with a fwmark entry is expanded as
//!   without `nftables_ipvs`.
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

use crate::nft::{NftElement, NftIpvs, DEFAULT_PRIORITY};
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
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub enum Problem {
    UnknownGroup {
        vs: usize,
        group: String,
    },
    UnknownSchedFlag {
        vs: usize,
        flag: String,
    },
    BadGranularity {
        vs: usize,
        service: ServiceKey,
        value: String,
    },
    GranularityIgnoredInGroup {
        vs: usize,
    },
    EngineWithoutPersistence {
        vs: usize,
        engine: String,
    },
    OpsNeedsUdp {
        vs: usize,
        service: ServiceKey,
    },
    ZeroPortMadePersistent {
        vs: usize,
    },
    RangeTooLarge {
        vs: usize,
        first: IpAddr,
        last: IpAddr,
    },
    FamilyMismatch {
        vs: usize,
        service: ServiceKey,
        dest: DestKey,
    },
    ServiceConflict {
        vs: usize,
        first: usize,
        service: ServiceKey,
    },
    DestConflict {
        vs: usize,
        first: usize,
        service: ServiceKey,
        dest: DestKey,
    },
    GueWithoutPort {
        vs: usize,
        addr: IpAddr,
    },
    UnknownVirtualServer {
        vs: usize,
    },
    UnknownRealServer {
        vs: usize,
        rs: usize,
    },
    NoSorryServer {
        vs: usize,
    },
    MarkedWithoutPort {
        vs: usize,
        addr: IpAddr,
    },
    MarkedOverlap {
        vs: usize,
        first: IpAddr,
        last: IpAddr,
        port: u16,
    },
    BadNftTableName {
        name: String,
    },
}

impl Problem {
    /// The problem in words, its virtual servers named by `names` (by index; keepalived's
    /// `[10.0.0.1]:tcp:80`), or as `#N` where `names` has none.
    pub fn named<'a>(&'a self, names: &'a [String]) -> Named<'a> {
        Named {
            problem: self,
            names,
        }
    }
}

/// A [`Problem`] with its virtual servers' names, for display.
pub struct Named<'a> {
    problem: &'a Problem,
    names: &'a [String],
}

impl std::fmt::Display for Named<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let name = |i: usize| -> String {
            self.names
                .get(i)
                .cloned()
                .unwrap_or_else(|| format!("#{i}"))
        };
        match self.problem {
            Problem::UnknownGroup { vs, group } => {
                let vs = name(*vs);
                write!(f, "virtual server {vs} uses virtual_server_group {group}, which is not defined; it has no services")
            }
            Problem::UnknownSchedFlag { vs, flag } => {
                let vs = name(*vs);
                write!(
                    f,
                    "virtual server {vs}: scheduler flag '{flag}' is unknown and ignored"
                )
            }
            Problem::BadGranularity { vs, service, value } => {
                let vs = name(*vs);
                write!(f, "virtual server {vs}: persistence_granularity '{value}' does not fit service {service}; the host mask is used")
            }
            Problem::GranularityIgnoredInGroup { vs } => {
                let vs = name(*vs);
                write!(f, "virtual server {vs}: persistence_granularity is not applied to virtual_server_group services (keepalived resets it)")
            }
            Problem::EngineWithoutPersistence { vs, engine } => {
                let vs = name(*vs);
                write!(f, "virtual server {vs}: persistence_engine '{engine}' is only used with persistence_timeout; it is ignored")
            }
            Problem::OpsNeedsUdp { vs, service } => {
                let vs = name(*vs);
                write!(
                    f,
                    "virtual server {vs}: 'ops' needs protocol UDP; it is ignored for {service}"
                )
            }
            Problem::ZeroPortMadePersistent { vs } => {
                let vs = name(*vs);
                write!(f, "virtual server {vs}: a group address without a port only works for a persistent service; it is made persistent ({DEFAULT_PERSISTENCE} s)")
            }
            Problem::RangeTooLarge { vs, first, last } => {
                let vs = name(*vs);
                write!(f, "virtual server {vs}: range {first}-{last} has more than {MAX_RANGE} addresses; it is skipped")
            }
            Problem::FamilyMismatch { vs, service, dest } => {
                let vs = name(*vs);
                write!(f, "virtual server {vs}: server {dest} is not tunnelled and not of the family of {service}; it is not added there")
            }
            Problem::ServiceConflict { vs, first, service } => {
                let vs = name(*vs);
                let first = name(*first);
                write!(f, "virtual servers {first} and {vs} both define {service} with other settings; the first one's are used")
            }
            Problem::DestConflict {
                vs,
                first,
                service,
                dest,
            } => {
                let vs = name(*vs);
                let first = name(*first);
                write!(f, "virtual servers {first} and {vs} both put {dest} in {service}; the first one's is used")
            }
            Problem::GueWithoutPort { vs, addr } => {
                let vs = name(*vs);
                write!(
                    f,
                    "virtual server {vs}: a gue tunnel needs a port; server {addr} is skipped"
                )
            }
            Problem::UnknownVirtualServer { vs } => {
                let vs = name(*vs);
                write!(
                    f,
                    "the pool names virtual server {vs}, which the configuration does not have"
                )
            }
            Problem::UnknownRealServer { vs, rs } => {
                let vs = name(*vs);
                write!(f, "the pool of virtual server {vs} names real server #{rs}, which it does not have")
            }
            Problem::NoSorryServer { vs } => {
                let vs = name(*vs);
                write!(f, "the pool of virtual server {vs} names its sorry server, which it does not have")
            }
            Problem::MarkedWithoutPort { vs, addr } => {
                let vs = name(*vs);
                write!(f, "virtual server {vs}: with nftables_ipvs, group entry {addr} has no port: only packets to port 0 are marked for it (as keepalived does)")
            }
            Problem::MarkedOverlap {
                vs,
                first,
                last,
                port,
            } => {
                let vs = name(*vs);
                write!(f, "virtual server {vs}: with nftables_ipvs, group entry {first}-{last} port {port} overlaps an earlier entry of the same protocol; it is left out of the nftables map")
            }
            Problem::BadNftTableName { name } => {
                write!(f, "nftables_ipvs table name '{name}' is not a name nft accepts (a letter, then letters, digits, '_', '.', '-', '/'); the groups are expanded as without nftables_ipvs")
            }
        }
    }
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.named(&[]).fmt(f)
    }
}

impl std::error::Error for Problem {}

/// The table keepup wants, and what was found on the way.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Desired {
    pub table: Table,
    pub problems: Vec<Problem>,
    /// Which virtual server (index into `config.virtual_servers`) each service comes
    /// from, to name it in messages.
    pub origins: BTreeMap<ServiceKey, usize>,
    /// With `nftables_ipvs`: the nftables table that marks the groups' traffic.
    pub nft: Option<NftIpvs>,
    /// With `nftables_ipvs`: the marks given, to keep at the next reload.
    pub marks: Marks,
}

/// The marks given to (group, protocol) under `nftables_ipvs`, and the next one to
/// give. keepalived keeps a group's mark over a reload and gives a new group the next
/// number after the last one given (never one given before, even if its group has
/// gone); a fresh start counts from `nftables_ipvs_start_fwmark` again.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Marks {
    pub given: BTreeMap<(String, Protocol), u32>,
    /// None: from `nftables_ipvs_start_fwmark`.
    pub next: Option<u32>,
}

/// Builds the IPVS table from the validated configuration and the checkers' pools, as
/// at a fresh start.
pub fn desired(config: &Config, pools: &Pools) -> Desired {
    desired_with(config, pools, Some(&Marks::default()))
}

/// [`desired`] after a reload: `marks` are those of the build before ([`Desired::marks`]),
/// kept for the groups still marked. `None` builds as if `nftables_ipvs` were not set:
/// every group expanded (what keepup falls back to when it cannot program nftables).
pub fn desired_with(config: &Config, pools: &Pools, marks: Option<&Marks>) -> Desired {
    build(config, pools, false, marks).into_desired()
}

/// Runs the builder over every virtual server; with `record`, every destination a
/// pool member puts in a service is also kept, in building order (for [`Layout`]);
/// `marks` as in [`desired_with`].
///
/// [`Layout`]: crate::layout::Layout
pub(crate) fn build(
    config: &Config,
    pools: &Pools,
    record: bool,
    marks: Option<&Marks>,
) -> Builder {
    let mut b = Builder {
        templates: record.then(Vec::new),
        ..Builder::default()
    };
    let g = &config.global_defs;
    if let (Some(name), Some(marks)) = (&g.nftables_ipvs, marks) {
        if crate::nft::valid_table_name(name) {
            b.nft = Some(NftIpvs::new(
                name,
                g.nftables_ipvs_priority.unwrap_or(DEFAULT_PRIORITY),
                g.nftables_counters,
            ));
            b.previous = marks.given.clone();
            b.next_mark = marks.next.unwrap_or(g.nftables_ipvs_start_fwmark);
        } else {
            b.problems
                .push(Problem::BadNftTableName { name: name.clone() });
        }
    }
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
    b
}

/// One service to create, and how its destinations' ports are chosen.
struct Slot {
    key: ServiceKey,
    /// The port of the service (0 for fwmark).
    port: u16,
    /// Whether this service comes from an expanded group (NAT servers without a port
    /// keep 0).
    grouped: bool,
    /// Whether the service keeps the host mask whatever `persistence_granularity` says.
    host_mask: bool,
}

#[derive(Default)]
pub(crate) struct Builder {
    pub(crate) table: Table,
    pub(crate) problems: Vec<Problem>,
    /// Which virtual server put each service, and each destination, in first.
    pub(crate) service_owner: BTreeMap<ServiceKey, usize>,
    pub(crate) dest_owner: BTreeMap<(ServiceKey, DestKey), usize>,
    /// When recording: every destination placed, with who placed it, in order.
    pub(crate) templates: Option<Vec<Template>>,
    /// With `nftables_ipvs`: the table being built, the marks given so far by (group,
    /// protocol), and the next one to give.
    pub(crate) nft: Option<NftIpvs>,
    pub(crate) marks: BTreeMap<(String, Protocol), u32>,
    pub(crate) next_mark: u32,
    /// The marks of the build before (a reload), kept for the groups still marked.
    pub(crate) previous: BTreeMap<(String, Protocol), u32>,
}

/// One destination a pool member of a virtual server puts in one service (its weight
/// is the pool's).
#[derive(Debug, Clone)]
pub(crate) struct Template {
    pub(crate) vs: usize,
    pub(crate) member: Member,
    pub(crate) service: ServiceKey,
    pub(crate) dest: Destination,
}

/// A server as the table needs it.
struct Server {
    member: Member,
    addr: IpAddr,
    port: Option<u16>,
    forward: Forwarding,
    u_threshold: u32,
    l_threshold: u32,
}

impl Builder {
    /// The next mark to give at a reload (None without `nftables_ipvs`).
    pub(crate) fn next_mark_given(&self) -> Option<u32> {
        self.nft.is_some().then_some(self.next_mark)
    }

    /// The table built, with what was found on the way and the marks given.
    pub(crate) fn into_desired(self) -> Desired {
        let marks = Marks {
            next: self.next_mark_given(),
            given: self.marks,
        };
        Desired {
            table: self.table,
            problems: self.problems,
            origins: self.service_owner,
            nft: self.nft,
            marks,
        }
    }

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
                    host_mask: false,
                });
            }
            VsAddress::Fwmark { fwmark } => slots.push(Slot {
                key: ServiceKey::Fwmark {
                    family,
                    mark: *fwmark,
                },
                port: 0,
                grouped: false,
                host_mask: false,
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
                let marked = self.nft.is_some()
                    && !g
                        .entries
                        .iter()
                        .any(|e| matches!(e, VsgEntry::Fwmark { .. }));
                if marked {
                    let mark = self.mark(vs, g, protocol);
                    for (i, family) in marked_families(v, g, family).into_iter().enumerate() {
                        slots.push(Slot {
                            key: ServiceKey::Fwmark { family, mark },
                            port: 0,
                            grouped: false,
                            host_mask: i > 0,
                        });
                    }
                } else if timeout != 0 && v.persistence_granularity.is_some() {
                    self.problems
                        .push(Problem::GranularityIgnoredInGroup { vs });
                }
                for e in g.entries.iter().filter(|_| !marked) {
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
                                    host_mask: true,
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
                            host_mask: true,
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

    /// The mark of (group, protocol): the one given already, or the next, with the
    /// group's entries put in the nftables map under it.
    fn mark(&mut self, vs: usize, g: &VirtualServerGroup, protocol: Protocol) -> u32 {
        if let Some(m) = self.marks.get(&(g.name.clone(), protocol)) {
            return *m;
        }
        let key = (g.name.clone(), protocol);
        let mark = match self.previous.get(&key) {
            Some(m) => *m,
            None => {
                let m = self.next_mark;
                self.next_mark = self.next_mark.wrapping_add(1);
                m
            }
        };
        self.marks.insert(key, mark);
        for e in &g.entries {
            let VsgEntry::Range { first, last, port } = *e else {
                continue;
            };
            if Family::of(&first) != Family::of(&last) || num(last) < num(first) {
                continue;
            }
            if port.unwrap_or(0) == 0 {
                self.problems
                    .push(Problem::MarkedWithoutPort { vs, addr: first });
            }
            let element = NftElement {
                first,
                last,
                port: port.unwrap_or(0),
                mark,
            };
            let Some(nft) = self.nft.as_mut() else {
                return mark;
            };
            if nft.overlaps(protocol, &element) {
                self.problems.push(Problem::MarkedOverlap {
                    vs,
                    first,
                    last,
                    port: element.port,
                });
                continue;
            }
            nft.add(protocol, element);
        }
        mark
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
        let host_mask = Service::host_mask(key.family());
        let mut netmask = host_mask;
        let mut pe_name = None;
        if timeout != 0 {
            flags |= SchedFlags::PERSISTENT;
            pe_name.clone_from(&v.persistence_engine);
            if let (Some(g), false) = (&v.persistence_granularity, slot.host_mask) {
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
                        member: m,
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
                        member: m,
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
        if let Some(t) = &mut self.templates {
            t.push(Template {
                vs,
                member: s.member,
                service: slot.key,
                dest: dest.clone(),
            });
        }
        self.place(vs, slot.key, dest);
    }

    /// Puts `dest` in `service` for virtual server `vs`: the first virtual server to
    /// put a destination there keeps it.
    pub(crate) fn place(&mut self, vs: usize, service: ServiceKey, dest: Destination) {
        let (key, weight) = (dest.key, dest.weight);
        let Some(entry) = self.table.services.get_mut(&service) else {
            return;
        };
        match self.dest_owner.get(&(service, key)).copied() {
            None => {
                self.dest_owner.insert((service, key), vs);
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
                        service,
                        dest: key,
                    });
                }
            }
        }
    }
}

/// The families of a marked group's fwmark service: the virtual server's, unless all
/// its servers are tunnelled and `ip_family` is unset, when it is each family the group
/// has addresses of (keepalived's `ipvs_set_srule` and `ipvs_cmd`).
fn marked_families(v: &VirtualServer, g: &VirtualServerGroup, family: Family) -> Vec<Family> {
    let vs_method = v.lvs_method.map(|f| f.method).unwrap_or(LvsMethod::NAT);
    let all_tunnelled = v
        .real_servers
        .iter()
        .map(|r| r.lvs_method.map(|f| f.method).unwrap_or(vs_method))
        .chain(v.sorry_server.iter().map(|s| {
            s.sorry_server_lvs_method
                .map(|f| f.method)
                .unwrap_or(vs_method)
        }))
        .all(|m| m == LvsMethod::TUN);
    if v.ip_family.is_some() || !all_tunnelled {
        return vec![family];
    }
    let has = |f: Family| {
        g.entries
            .iter()
            .any(|e| matches!(e, VsgEntry::Range { first, .. } if Family::of(first) == f))
    };
    let families: Vec<Family> = [Family::V4, Family::V6]
        .into_iter()
        .filter(|f| has(*f))
        .collect();
    if families.is_empty() {
        vec![family]
    } else {
        families
    }
}

/// An address as a number, to order the ends of a range.
fn num(a: IpAddr) -> u128 {
    match a {
        IpAddr::V4(a) => u128::from(u32::from(a)),
        IpAddr::V6(a) => u128::from(a),
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::table::Entry;

    /// Parses `text` with the real loader and builds the table with `pools`.
    fn build(text: &str, pools: &[(usize, Vec<(Member, u32)>)]) -> Desired {
        let loaded = keepup_config::load_str("t.conf", text, &Default::default());
        let pools: Pools = pools.iter().cloned().collect();
        desired(&loaded.config, &pools)
    }

    /// Every real server of virtual server 0 at weight 1.
    fn all(n: usize) -> Vec<(usize, Vec<(Member, u32)>)> {
        vec![(0, (0..n).map(|i| (Member::Real(i), 1)).collect())]
    }

    fn only(d: &Desired) -> &Entry {
        assert_eq!(d.table.services.len(), 1, "{:#?}", d.table);
        d.table.services.values().next().expect("one service")
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("test address")
    }

    fn dest<'a>(d: &'a Entry, addr: &str, port: u16) -> &'a Destination {
        d.dests
            .get(&DestKey {
                addr: ip(addr),
                port,
            })
            .unwrap_or_else(|| panic!("no {addr}:{port} in {:#?}", d.dests))
    }

    #[test]
    fn plain_service_with_defaults() {
        let d = build(
            "virtual_server 10.0.0.1 80 {\n real_server 10.0.0.2 8080 { }\n real_server 10.0.0.3 { weight 3 }\n}\n",
            &all(2),
        );
        let e = only(&d);
        // protocol missing: UDP (check_data.c); lvs_sched missing: wlc; NAT.
        assert_eq!(
            e.service,
            Service {
                key: ServiceKey::Addr {
                    protocol: Protocol::Udp,
                    addr: ip("10.0.0.1"),
                    port: 80
                },
                scheduler: "wlc".into(),
                flags: SchedFlags(0),
                timeout: 0,
                netmask: u32::MAX,
                pe_name: None,
            }
        );
        assert_eq!(dest(e, "10.0.0.2", 8080).forward, Forward::Masq);
        // NAT without a port takes the virtual server's port.
        assert_eq!(dest(e, "10.0.0.3", 80).weight, 1);
        assert!(d.problems.is_empty(), "{:?}", d.problems);
    }

    #[test]
    fn pool_weights_and_membership_come_from_the_checkers() {
        let text = "virtual_server 10.0.0.1 80 {\n protocol TCP\n real_server 10.0.0.2 80 { }\n real_server 10.0.0.3 80 { }\n}\n";
        let d = build(text, &[(0, vec![(Member::Real(1), 0)])]);
        let e = only(&d);
        assert_eq!(e.dests.len(), 1);
        assert_eq!(dest(e, "10.0.0.3", 80).weight, 0);
        // No pool: the service stays, empty.
        let d = build(text, &[]);
        assert!(only(&d).dests.is_empty());
    }

    #[test]
    fn scheduler_flags_hashed_and_ops() {
        let d = build(
            "virtual_server 10.0.0.1 53 {\n protocol UDP\n lvs_sched sh\n sh-port\n sh-fallback\n hashed\n ops\n real_server 10.0.0.2 53 { }\n}\n",
            &all(1),
        );
        let s = &only(&d).service;
        assert_eq!(s.scheduler, "sh");
        assert_eq!(
            s.flags.0,
            SchedFlags::SCHED1 | SchedFlags::SCHED2 | SchedFlags::HASHED | SchedFlags::ONEPACKET
        );
        let d = build(
            "virtual_server 10.0.0.1 80 {\n protocol TCP\n lvs_sched mh\n mh-fallback\n flag-3\n real_server 10.0.0.2 80 { }\n}\n",
            &all(1),
        );
        assert_eq!(
            only(&d).service.flags.0,
            SchedFlags::SCHED1 | SchedFlags::SCHED3
        );
        let d = build(
            "virtual_server 10.0.0.1 80 {\n protocol TCP\n flag-2\n ops\n real_server 10.0.0.2 80 { }\n}\n",
            &all(1),
        );
        // ops is refused for TCP (validation turns it off).
        assert_eq!(only(&d).service.flags.0, SchedFlags::SCHED2);
    }

    #[test]
    fn persistence_timeout_granularity_and_engine() {
        let d = build(
            "virtual_server 10.0.0.1 5060 {\n protocol UDP\n persistence_timeout 50\n persistence_granularity 255.255.255.0\n persistence_engine sip\n real_server 10.0.0.2 5060 { }\n}\n",
            &all(1),
        );
        let s = &only(&d).service;
        assert_eq!(s.flags.0, SchedFlags::PERSISTENT);
        assert_eq!((s.timeout, s.netmask), (50, 0xffff_ff00));
        assert_eq!(s.pe_name.as_deref(), Some("sip"));

        let d = build(
            "virtual_server fc00::1 80 {\n protocol TCP\n persistence_timeout\n persistence_granularity 64\n real_server fc00::2 80 { }\n}\n",
            &all(1),
        );
        let s = &only(&d).service;
        assert_eq!((s.timeout, s.netmask), (360, 64));

        // No timeout: host mask, no engine (ipvs_set_srule only sends it when persistent).
        let d = build(
            "virtual_server fc00::1 80 {\n protocol TCP\n persistence_engine sip\n real_server fc00::2 80 { }\n}\n",
            &all(1),
        );
        let s = &only(&d).service;
        assert_eq!((s.timeout, s.netmask, s.pe_name.clone()), (0, 128, None));
        assert!(matches!(
            d.problems[..],
            [Problem::EngineWithoutPersistence { vs: 0, .. }]
        ));
    }

    #[test]
    fn zero_port_service_is_persistent() {
        let d = build(
            "virtual_server 10.0.0.1 {\n protocol TCP\n real_server 10.0.0.2 { }\n}\n",
            &all(1),
        );
        let e = only(&d);
        assert_eq!(
            (e.service.timeout, e.service.flags.0),
            (360, SchedFlags::PERSISTENT)
        );
        assert_eq!(dest(e, "10.0.0.2", 0).weight, 1);
    }

    #[test]
    fn forwarding_methods_and_tunnels() {
        let d = build(
            "virtual_server 10.0.0.1 80 {\n protocol TCP\n lvs_method DR\n\
             real_server 10.0.0.2 8080 { }\n\
             real_server 10.0.0.3 80 { lvs_method TUN }\n\
             real_server 10.0.0.4 80 { lvs_method TUN type gue port 6080 csum }\n\
             real_server 10.0.0.5 80 { lvs_method TUN type gre remcsum }\n\
             real_server 10.0.0.6 80 { lvs_method TUN type gre csum }\n\
             real_server 10.0.0.7 80 { lvs_method TUN type gue port 5555 remcsum }\n\
             real_server 10.0.0.8 9090 { lvs_method NAT\n uthreshold 100\n lthreshold 10 }\n}\n",
            &all(7),
        );
        let e = only(&d);
        // DR cannot change the port: the virtual server's is used.
        assert_eq!(dest(e, "10.0.0.2", 80).forward, Forward::Route);
        assert_eq!(
            dest(e, "10.0.0.3", 80).forward,
            Forward::Tunnel(TunnelType::Ipip)
        );
        assert_eq!(
            dest(e, "10.0.0.4", 80).forward,
            Forward::Tunnel(TunnelType::Gue {
                port: 6080,
                flags: TunnelType::CSUM
            })
        );
        // gre does not take remcsum: the parser drops the line, the VS method stays.
        assert_eq!(dest(e, "10.0.0.5", 80).forward, Forward::Route);
        assert_eq!(
            dest(e, "10.0.0.6", 80).forward,
            Forward::Tunnel(TunnelType::Gre {
                flags: TunnelType::CSUM
            })
        );
        assert_eq!(
            dest(e, "10.0.0.7", 80).forward,
            Forward::Tunnel(TunnelType::Gue {
                port: 5555,
                flags: TunnelType::REMCSUM
            })
        );
        let nat = dest(e, "10.0.0.8", 9090);
        assert_eq!(
            (nat.forward, nat.u_threshold, nat.l_threshold),
            (Forward::Masq, 100, 10)
        );
    }

    #[test]
    fn fwmark_service_family_and_ports() {
        // Non-tunnelled IPv6 servers make the fwmark service IPv6; DR/TUN ports are 0,
        // NAT keeps its own.
        let d = build(
            "virtual_server fwmark 5 {\n lvs_method DR\n real_server fc00::2 80 { }\n real_server fc00::3 8080 { lvs_method NAT }\n real_server fc00::4 { lvs_method NAT }\n}\n",
            &all(3),
        );
        let e = only(&d);
        assert_eq!(
            e.service.key,
            ServiceKey::Fwmark {
                family: Family::V6,
                mark: 5
            }
        );
        assert_eq!(e.service.netmask, 128);
        dest(e, "fc00::2", 0);
        dest(e, "fc00::3", 8080);
        dest(e, "fc00::4", 0);

        // All tunnelled, of one family: that family. Mixed: IPv4, unless ip_family.
        let text = |extra: &str, rs: &str| {
            format!("virtual_server fwmark 7 {{\n lvs_method TUN\n{extra} real_server fc00::2 {{ }}\n real_server {rs} {{ }}\n}}\n")
        };
        let fam = |d: &Desired| only(d).service.key.family();
        assert_eq!(fam(&build(&text("", "fc00::3"), &all(2))), Family::V6);
        assert_eq!(fam(&build(&text("", "10.0.0.3"), &all(2))), Family::V4);
        assert_eq!(
            fam(&build(&text(" ip_family inet6\n", "10.0.0.3"), &all(2))),
            Family::V6
        );
    }

    #[test]
    fn sorry_server_with_its_own_method() {
        let d = build(
            "virtual_server 10.0.0.1 80 {\n protocol TCP\n lvs_method NAT\n sorry_server 10.0.0.9 8080\n sorry_server_lvs_method DR\n real_server 10.0.0.2 80 { }\n}\n",
            &[(0, vec![(Member::Sorry, 1)])],
        );
        let e = only(&d);
        assert_eq!(e.dests.len(), 1);
        // DR: the port is the virtual server's.
        assert_eq!(dest(e, "10.0.0.9", 80).forward, Forward::Route);

        let d = build(
            "virtual_server 10.0.0.1 80 {\n protocol TCP\n sorry_server 10.0.0.9\n real_server 10.0.0.2 80 { }\n}\n",
            &[(0, vec![(Member::Sorry, 1)])],
        );
        assert_eq!(dest(only(&d), "10.0.0.9", 80).forward, Forward::Masq);
    }

    #[test]
    fn sorry_server_that_is_also_a_real_server_keeps_the_higher_weight() {
        let d = build(
            "virtual_server 10.0.0.1 80 {\n protocol TCP\n sorry_server 10.0.0.2 80\n real_server 10.0.0.2 80 { weight 5 }\n}\n",
            &[(0, vec![(Member::Sorry, 1), (Member::Real(0), 5)])],
        );
        assert_eq!(dest(only(&d), "10.0.0.2", 80).weight, 5);
    }

    #[test]
    fn group_ranges_ports_and_fwmarks() {
        let d = build(
            "virtual_server_group G {\n 10.0.0.1-3 80\n 10.1.0.0/31 443\n fc00::1-2 80\n fwmark 9 inet6\n fwmark 8 inet\n}\n\
             virtual_server group G {\n protocol TCP\n lvs_method TUN\n real_server 10.0.0.20 { }\n real_server 10.0.0.21 8080 { lvs_method NAT }\n}\n",
            &all(2),
        );
        let keys: Vec<String> = d.table.services.keys().map(|k| k.to_string()).collect();
        assert_eq!(
            keys,
            [
                "TCP 10.0.0.1:80",
                "TCP 10.0.0.2:80",
                "TCP 10.0.0.3:80",
                "TCP 10.1.0.0:443",
                "TCP 10.1.0.1:443",
                "TCP [fc00::1]:80",
                "TCP [fc00::2]:80",
                "FWM 8",
                "FWM 9 IPv6",
            ]
        );
        let tcp = |a: &str, port| {
            d.table
                .services
                .get(&ServiceKey::Addr {
                    protocol: Protocol::Tcp,
                    addr: ip(a),
                    port,
                })
                .expect("service")
        };
        // TUN takes the entry's port; NAT keeps its own.
        dest(tcp("10.1.0.1", 443), "10.0.0.20", 443);
        dest(tcp("10.1.0.1", 443), "10.0.0.21", 8080);
        // The tunnelled IPv4 server may serve the IPv6 addresses; the NAT one may not.
        let v6 = tcp("fc00::2", 80);
        assert_eq!(v6.dests.len(), 1);
        dest(v6, "10.0.0.20", 80);
        assert!(d.problems.iter().any(|p| matches!(
            p,
            Problem::FamilyMismatch { dest, .. } if dest.addr == ip("10.0.0.21")
        )));
        // Fwmark entries: port 0 for TUN.
        let fwm = &d.table.services[&ServiceKey::Fwmark {
            family: Family::V4,
            mark: 8,
        }];
        dest(fwm, "10.0.0.20", 0);
        assert_eq!(fwm.service.key.family(), Family::V4);
    }

    #[test]
    fn group_address_without_port_makes_it_persistent_and_ignores_granularity() {
        let d = build(
            "virtual_server_group G {\n 10.0.0.1\n}\nvirtual_server group G {\n protocol TCP\n persistence_granularity 255.255.0.0\n real_server 10.0.0.20 80 { }\n}\n",
            &all(1),
        );
        let e = only(&d);
        assert_eq!((e.service.timeout, e.service.netmask), (360, u32::MAX));
        assert!(d
            .problems
            .contains(&Problem::GranularityIgnoredInGroup { vs: 0 }));
        // NAT in a group keeps its port as written.
        dest(e, "10.0.0.20", 80);
    }

    #[test]
    fn group_shared_by_two_virtual_servers() {
        let d = build(
            "virtual_server_group G {\n 10.0.0.1 53\n fwmark 3\n}\n\
             virtual_server group G {\n protocol TCP\n lvs_sched rr\n real_server 10.0.0.20 53 { }\n}\n\
             virtual_server group G {\n protocol UDP\n lvs_sched rr\n real_server 10.0.0.21 53 { }\n}\n",
            &[
                (0, vec![(Member::Real(0), 1)]),
                (1, vec![(Member::Real(0), 2)]),
            ],
        );
        // One TCP and one UDP service; the fwmark service is shared by both.
        assert_eq!(d.table.services.len(), 3);
        let fwm = &d.table.services[&ServiceKey::Fwmark {
            family: Family::V4,
            mark: 3,
        }];
        assert_eq!(fwm.dests.len(), 2);
        assert!(d.problems.is_empty(), "{:?}", d.problems);
    }

    #[test]
    fn conflicting_definitions_of_one_service_are_reported() {
        let d = build(
            "virtual_server 10.0.0.1 80 {\n protocol TCP\n lvs_sched rr\n real_server 10.0.0.20 80 { }\n}\n\
             virtual_server 10.0.0.1 80 {\n protocol TCP\n lvs_sched wrr\n real_server 10.0.0.20 80 { weight 2 }\n}\n",
            &[
                (0, vec![(Member::Real(0), 1)]),
                (1, vec![(Member::Real(0), 2)]),
            ],
        );
        let e = only(&d);
        assert_eq!(e.service.scheduler, "rr");
        assert_eq!(dest(e, "10.0.0.20", 80).weight, 1);
        assert!(matches!(
            d.problems[..],
            [
                Problem::ServiceConflict {
                    vs: 1,
                    first: 0,
                    ..
                },
                Problem::DestConflict {
                    vs: 1,
                    first: 0,
                    ..
                }
            ]
        ));
    }

    #[test]
    fn bad_pool_entries_are_reported() {
        let d = build(
            "virtual_server 10.0.0.1 80 {\n protocol TCP\n real_server 10.0.0.20 80 { }\n}\n",
            &[
                (0, vec![(Member::Real(4), 1), (Member::Sorry, 1)]),
                (3, vec![]),
            ],
        );
        assert!(only(&d).dests.is_empty());
        assert_eq!(
            d.problems,
            [
                Problem::UnknownVirtualServer { vs: 3 },
                Problem::UnknownRealServer { vs: 0, rs: 4 },
                Problem::NoSorryServer { vs: 0 },
            ]
        );
    }

    #[test]
    fn ha_suspend_does_not_remove_the_service() {
        // keepalived suspends the checkers, not the service.
        let d = build(
            "virtual_server 10.0.0.1 80 {\n protocol TCP\n ha_suspend\n real_server 10.0.0.20 80 { }\n}\n",
            &all(1),
        );
        assert_eq!(only(&d).dests.len(), 1);
    }

    /// keepalived 2.2.7's table for this configuration, as read in the VM (ipvsadm -Sn,
    /// nft list ruleset): marks 1000.. per (group, protocol) in virtual-server order.
    const MARKED: &str = "global_defs {\n nftables_ipvs\n}\n\
        virtual_server_group G {\n 10.1.4.1 80\n 10.1.4.10-12 8080\n 10.1.4.20/30 81\n 10.1.4.30\n}\n\
        virtual_server_group G6 {\n fc00:1:4::1-3 80\n fc00:1:4::9 443\n}\n\
        virtual_server_group M {\n 10.1.5.1 80\n fwmark 9\n}\n\
        virtual_server_group B {\n 10.1.6.1 80\n fc00:1:6::1 80\n}\n\
        virtual_server group G {\n lb_algo rr\n lb_kind DR\n protocol TCP\n persistence_timeout 30\n persistence_granularity 255.255.255.0\n\
         real_server 10.2.4.1 80 { }\n real_server 10.2.4.2 { }\n real_server 10.2.4.3 8080 { lvs_method NAT }\n}\n\
        virtual_server group G {\n lb_algo rr\n lb_kind DR\n protocol UDP\n real_server 10.2.4.1 80 { }\n}\n\
        virtual_server group G6 {\n lb_algo wlc\n lb_kind DR\n protocol TCP\n real_server fc00:2:4::1 80 { }\n}\n\
        virtual_server group M {\n lb_algo rr\n lb_kind DR\n protocol TCP\n real_server 10.2.5.1 80 { }\n}\n\
        virtual_server group B {\n lb_algo rr\n lb_kind TUN\n protocol SCTP\n real_server 10.2.6.1 80 { }\n real_server fc00:2:6::1 80 { }\n}\n";

    #[test]
    fn nftables_ipvs_makes_fwmark_services_of_groups() {
        let loaded = keepup_config::load_str("t.conf", MARKED, &Default::default());
        let pools: Pools = (0..5)
            .map(|vs| {
                let n = loaded.config.virtual_servers[vs].real_servers.len();
                (vs, (0..n).map(|i| (Member::Real(i), 1)).collect())
            })
            .collect();
        let d = desired(&loaded.config, &pools);
        let keys: Vec<String> = d.table.services.keys().map(|k| k.to_string()).collect();
        assert_eq!(
            keys,
            [
                "TCP 10.1.5.1:80",
                "FWM 9",
                "FWM 1000",
                "FWM 1001",
                "FWM 1003",
                "FWM 1002 IPv6",
                "FWM 1003 IPv6",
            ]
        );
        let fwm = |family, mark| &d.table.services[&ServiceKey::Fwmark { family, mark }];
        // Granularity applies to the marked service; DR ports are 0, NAT keeps its own.
        let g = fwm(Family::V4, 1000);
        assert_eq!(
            (g.service.timeout, g.service.netmask, g.service.flags.0),
            (30, 0xffff_ff00, SchedFlags::PERSISTENT)
        );
        dest(g, "10.2.4.1", 0);
        dest(g, "10.2.4.2", 0);
        assert_eq!(dest(g, "10.2.4.3", 8080).forward, Forward::Masq);
        // The UDP one: an entry without a port makes it persistent, as when expanded.
        assert_eq!(fwm(Family::V4, 1001).service.timeout, 360);
        // All tunnelled over both families: one service per family, the IPv6 one with
        // the host mask, each with both servers.
        assert_eq!(fwm(Family::V6, 1003).service.netmask, 128);
        assert_eq!(fwm(Family::V4, 1003).dests.len(), 2);
        assert_eq!(fwm(Family::V6, 1003).dests.len(), 2);
        assert_eq!(
            d.origins[&ServiceKey::Fwmark {
                family: Family::V6,
                mark: 1002
            }],
            2
        );

        let nft = d.nft.as_ref().expect("nft table");
        assert_eq!(
            (nft.table.as_str(), nft.priority, nft.counters),
            ("keepalived_ipvs", -1, false)
        );
        let script = nft.script();
        for line in [
            "\t\telements = { 10.1.4.1 . 80 : 1000, 10.1.4.10-10.1.4.12 . 8080 : 1000, \
             10.1.4.20-10.1.4.23 . 81 : 1000, 10.1.4.30 . 0 : 1000 }\n",
            "\t\telements = { 10.1.4.1 . 80 : 1001, 10.1.4.10-10.1.4.12 . 8080 : 1001, \
             10.1.4.20-10.1.4.23 . 81 : 1001, 10.1.4.30 . 0 : 1001 }\n",
            "\t\telements = { 10.1.6.1 . 80 : 1003 }\n",
            "\t\telements = { fc00:1:4::1-fc00:1:4::3 . 80 : 1002, fc00:1:4::9 . 443 : 1002 }\n",
            "\t\telements = { fc00:1:6::1 . 80 : 1003 }\n",
            "\t\tmeta mark set ip daddr . tcp dport map @tcp_map return\n\
             \t\tmeta mark set ip daddr . udp dport map @udp_map return\n\
             \t\tmeta mark set ip daddr . sctp dport map @sctp_map return\n",
            "\t\tmeta mark set ip6 daddr . tcp dport map @tcp_map return\n\
             \t\tmeta mark set ip6 daddr . sctp dport map @sctp_map return\n",
        ] {
            assert!(script.contains(line), "{line}\nnot in\n{script}");
        }
        // The group with a fwmark entry is expanded: nothing of it in the maps.
        assert!(!script.contains("10.1.5.1"), "{script}");
        assert!(d.problems.contains(&Problem::MarkedWithoutPort {
            vs: 0,
            addr: ip("10.1.4.30")
        }));
        assert!(!d
            .problems
            .iter()
            .any(|p| matches!(p, Problem::GranularityIgnoredInGroup { .. })));

        // Without nftables (the fallback), the same configuration is expanded.
        let plain = desired_with(&loaded.config, &pools, None);
        assert!(plain.nft.is_none());
        assert!(plain.table.services.len() > 20);
    }

    #[test]
    fn a_reload_keeps_the_marks_given() {
        let group = |name: &str, addr: &str| {
            format!(
                "virtual_server_group {name} {{\n {addr} 80\n}}\n\
                 virtual_server group {name} {{\n protocol TCP\n real_server 10.2.0.1 80 {{ }}\n}}\n"
            )
        };
        let first = format!(
            "global_defs {{\n nftables_ipvs\n}}\n{}{}{}",
            group("G", "10.1.4.1"),
            group("H", "10.1.5.1"),
            group("X", "10.1.6.1")
        );
        let loaded = keepup_config::load_str("t.conf", &first, &Default::default());
        let d = desired(&loaded.config, &Pools::new());
        let marks: Vec<u32> = d.marks.given.values().copied().collect();
        assert_eq!((marks, d.marks.next), (vec![1000, 1001, 1002], Some(1003)));
        // keepalived, reloaded with a new group first and X gone: G and H keep theirs,
        // N takes the next number (X's is not given again).
        let second = format!(
            "global_defs {{\n nftables_ipvs\n}}\n{}{}{}",
            group("N", "10.1.3.1"),
            group("G", "10.1.4.1"),
            group("H", "10.1.5.1")
        );
        let loaded = keepup_config::load_str("t.conf", &second, &Default::default());
        let r = desired_with(&loaded.config, &Pools::new(), Some(&d.marks));
        let got: Vec<(String, u32)> = r
            .marks
            .given
            .iter()
            .map(|((g, _), m)| (g.clone(), *m))
            .collect();
        assert_eq!(
            got,
            [("G".into(), 1000), ("H".into(), 1001), ("N".into(), 1003)]
        );
        assert_eq!(r.marks.next, Some(1004));
        // The same build again gives the same marks (a pool change between reloads).
        assert_eq!(
            desired_with(&loaded.config, &Pools::new(), Some(&r.marks)).marks,
            r.marks
        );
        // A fresh start counts from the start again, in the order of the configuration.
        let fresh: Vec<u32> = desired(&loaded.config, &Pools::new())
            .marks
            .given
            .into_values()
            .collect();
        assert_eq!(fresh, [1001, 1002, 1000]);
    }

    #[test]
    fn nftables_ipvs_settings_and_shared_marks() {
        let d = build(
            "global_defs {\n nftables_ipvs_priority 5\n nftables_ipvs kup\n nftables_ipvs_start_fwmark 77\n nftables_counters\n}\n\
             virtual_server_group G {\n 10.1.4.1 80\n 10.1.4.1-3 80\n}\n\
             virtual_server group G {\n protocol TCP\n real_server 10.2.4.1 80 { }\n}\n\
             virtual_server group G {\n protocol TCP\n real_server 10.2.4.2 80 { }\n}\n\
             virtual_server group G {\n real_server 10.2.4.3 80 { }\n}\n",
            &[
                (0, vec![(Member::Real(0), 1)]),
                (1, vec![(Member::Real(0), 1)]),
                (2, vec![(Member::Real(0), 1)]),
            ],
        );
        let nft = d.nft.as_ref().expect("nft table");
        // The priority before nftables_ipvs is reset (keepalived 2.2.7); the start mark is not.
        assert_eq!(
            (nft.table.as_str(), nft.priority, nft.counters),
            ("kup", -1, true)
        );
        // Two TCP virtual servers share mark 77 and its service; no protocol is UDP: 78.
        let keys: Vec<String> = d.table.services.keys().map(|k| k.to_string()).collect();
        assert_eq!(keys, ["FWM 77", "FWM 78"]);
        assert_eq!(
            d.table.services[&ServiceKey::Fwmark {
                family: Family::V4,
                mark: 77
            }]
                .dests
                .len(),
            2
        );
        // The overlapping range is left out of the map, and said.
        assert_eq!(nft.families[0].maps[0].elements.len(), 1);
        assert!(d.problems.iter().any(|p| matches!(
            p,
            Problem::MarkedOverlap {
                vs: 0,
                port: 80,
                ..
            }
        )));

        let d = build(
            "global_defs {\n nftables_ipvs bad;name\n}\n\
             virtual_server_group G {\n 10.1.4.1 80\n}\n\
             virtual_server group G {\n protocol TCP\n real_server 10.2.4.1 80 { }\n}\n",
            &all(1),
        );
        assert!(d.nft.is_none());
        assert_eq!(only(&d).service.key.to_string(), "TCP 10.1.4.1:80");
        assert!(matches!(d.problems[..], [Problem::BadNftTableName { .. }]));
    }

    #[test]
    fn huge_range_is_refused() {
        assert_eq!(expand(ip("fc00::"), ip("fc00::1:0")), None);
        assert_eq!(
            expand(ip("10.0.0.254"), ip("10.0.1.1")).map(|v| v.len()),
            Some(4)
        );
    }

    #[test]
    fn problems_read_as_sentences() {
        let p = Problem::OpsNeedsUdp {
            vs: 2,
            service: ServiceKey::Fwmark {
                family: Family::V4,
                mark: 1,
            },
        };
        assert_eq!(
            p.to_string(),
            "virtual server #2: 'ops' needs protocol UDP; it is ignored for FWM 1"
        );
    }
}
