//! Addresses, routes and rules, in the syntax shared by `virtual_ipaddress`,
//! `virtual_routes`, `virtual_rules` and the `static_*` blocks.
//!
//! Field names follow keepalived's (and `ip address/route/rule add`'s) keywords.
use crate::source::Span;
use serde::Serialize;
use std::net::{IpAddr, Ipv4Addr};

/// An address with a prefix length: `ADDR[/LEN]`, or `default`/`all` (length 0).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct IpPrefix {
    pub address: IpAddr,
    pub prefix_len: u8,
}

/// `brd` of an IPv4 address: an address, or `+` / `-` to set / clear the host bits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Broadcast {
    Address(Ipv4Addr),
    /// `brd +`: all host bits set.
    SetHostBits,
    /// `brd -`: all host bits clear.
    ClearHostBits,
}

/// `preferred_lft nn|forever`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PreferredLifetime {
    Forever,
    Seconds(u32),
}

/// One address line: `ADDR[/LEN] [brd ...] [dev IF] [scope ...] [label ...] ...`.
#[derive(Debug, Clone, Serialize)]
pub struct VirtualAddress {
    pub address: IpAddr,
    /// Defaults to 32 (IPv4) or 128 (IPv6).
    pub prefix_len: u8,
    /// `dev`; `None` means the instance's interface (or `default_interface` for static ones).
    pub dev: Option<String>,
    /// `brd` / `broadcast` (IPv4 only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub broadcast: Option<Broadcast>,
    /// `scope` as a number (global 0, site 200, link 253, host 254, nowhere 255).
    /// IPv6 link-local addresses get link scope; other IPv6 addresses take none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scope: Option<u8>,
    /// `label` (IPv4 only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    /// `peer ADDR` (point-to-point peer).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub peer: Option<IpAddr>,
    /// `home` (IPv6 home address).
    pub home: bool,
    /// `-nodad`.
    pub nodad: bool,
    /// `mngtmpaddr`.
    pub mngtmpaddr: bool,
    /// `noprefixroute`.
    pub noprefixroute: bool,
    /// `autojoin`.
    pub autojoin: bool,
    /// `preferred_lft`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub preferred_lft: Option<PreferredLifetime>,
    /// `use_vmac [NAME]` (VIPs only): put the address on the instance's VMAC.
    pub use_vmac: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vmac_name: Option<String>,
    /// `track_group GROUP` (static addresses only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub track_group: Option<String>,
    /// `no_track`: a deleted address does not take the instance out of MASTER.
    pub no_track: bool,
    #[serde(skip)]
    pub span: Span,
}

impl Default for VirtualAddress {
    fn default() -> Self {
        VirtualAddress {
            address: IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            prefix_len: 32,
            dev: None,
            broadcast: None,
            scope: None,
            label: None,
            peer: None,
            home: false,
            nodad: false,
            mngtmpaddr: false,
            noprefixroute: false,
            autojoin: false,
            preferred_lft: None,
            use_vmac: false,
            vmac_name: None,
            track_group: None,
            no_track: false,
            span: Span::default(),
        }
    }
}

/// A route metric value with its optional `lock`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct RouteMetric {
    pub value: u32,
    pub lock: bool,
}

/// `realms [FROM/]TO`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Realms {
    pub from: u16,
    pub to: u16,
}

/// `encap TYPE ...`: the type and its parameters as written.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Encap {
    #[serde(rename = "type")]
    pub kind: String,
    pub params: Vec<String>,
}

/// One `nexthop` of a multipath route (or the `or` gateway).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Nexthop {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub via: Option<IpAddr>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dev: Option<String>,
    /// `weight` 1..256.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub weight: Option<u16>,
    pub onlink: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub realms: Option<Realms>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub encap: Option<Encap>,
}

/// The per-route metrics (`ip route` "options" that go into RTA_METRICS).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct RouteMetrics {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mtu: Option<RouteMetric>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hoplimit: Option<RouteMetric>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub advmss: Option<RouteMetric>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rtt: Option<RouteMetric>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rttvar: Option<RouteMetric>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reordering: Option<RouteMetric>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub window: Option<RouteMetric>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cwnd: Option<RouteMetric>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ssthresh: Option<RouteMetric>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rto_min: Option<RouteMetric>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub initcwnd: Option<RouteMetric>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub initrwnd: Option<RouteMetric>,
    /// `features ecn`.
    pub features_ecn: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub quickack: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fastopen_no_cookie: Option<bool>,
    /// `congctl [lock] NAME`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub congctl: Option<String>,
    pub congctl_lock: bool,
}

/// One route line, as `ip route add` takes it.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Route {
    /// `inet6` was given (forces IPv6 where the family is otherwise unclear).
    pub inet6: bool,
    /// Route type: `unicast` (default) or `local`, `broadcast`, `anycast`, `multicast`,
    /// `blackhole`, `unreachable`, `prohibit`, `throw`, `nat`.
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    pub route_type: Option<String>,
    /// Destination (`to` is optional; `default` is the zero-length prefix).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub to: Option<IpPrefix>,
    /// `src`: preferred source address.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub src: Option<IpAddr>,
    /// `from`: source prefix (IPv6 only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub from: Option<IpPrefix>,
    /// `via` (or the deprecated `gw`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub via: Option<IpAddr>,
    /// The deprecated `or ADDR`: a second gateway.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub or: Option<IpAddr>,
    /// `dev` (top-level, not inside a nexthop).
    pub dev: Option<String>,
    pub onlink: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub encap: Option<Encap>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub table: Option<u32>,
    /// `vrf NAME`: the table of a VRF device.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vrf: Option<String>,
    /// `metric` / `priority` / `preference`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metric: Option<u32>,
    /// `tos` / `dsfield`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tos: Option<u8>,
    /// `protocol` as a number (names from rt_protos).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub protocol: Option<u8>,
    /// `scope` as a number.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scope: Option<u8>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub realms: Option<Realms>,
    pub metrics: RouteMetrics,
    /// `pref low|medium|high` (IPv6 router preference).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pref: Option<String>,
    /// `expires SECS` (IPv6 only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expires: Option<u32>,
    /// `ttl-propagate enabled|disabled`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ttl_propagate: Option<bool>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub nexthops: Vec<Nexthop>,
    /// `add` / `append` / `prepend` (the default is prepend).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mode: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub track_group: Option<String>,
    pub no_track: bool,
    #[serde(skip)]
    pub span: Span,
}

impl Route {
    /// keepalived 2.2.7 only watches a route with a top-level `dev` (a `dev` inside
    /// the nexthops does not count).
    pub fn has_interface(&self) -> bool {
        self.dev.is_some()
    }
}

/// A port or uid range `A-B`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Range {
    pub start: u32,
    pub end: u32,
}

/// One rule line, as `ip rule add` takes it.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Rule {
    pub inet6: bool,
    /// `not`: invert the selector.
    pub not: bool,
    /// `from PREFIX|all`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub from: Option<IpPrefix>,
    /// `to PREFIX|all`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub to: Option<IpPrefix>,
    /// `tos` / `dsfield`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tos: Option<u8>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fwmark: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fwmask: Option<u32>,
    /// `priority` / `preference` / `order`. keepalived assigns one if missing.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub priority: Option<u32>,
    /// `table` / `lookup`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub table: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub iif: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub oif: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub uidrange: Option<Range>,
    pub l3mdev: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub suppress_prefixlength: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub suppress_ifgroup: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub goto: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub realms: Option<Realms>,
    /// `type` or a bare `blackhole` / `prohibit` / `unreachable` / `nop`.
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    pub rule_type: Option<String>,
    /// `protocol N`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub protocol: Option<u8>,
    /// `ipproto` (number or name).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ipproto: Option<u8>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sport: Option<Range>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dport: Option<Range>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub track_group: Option<String>,
    pub no_track: bool,
    #[serde(skip)]
    pub span: Span,
}

// Equality ignoring source positions (reload compares models read at different times).
impl PartialEq for VirtualAddress {
    /// Every field but the source position: the same line moved elsewhere in the
    /// file (or to another file) is the same VirtualAddress.
    fn eq(&self, o: &Self) -> bool {
        // Destructured, so that a new field cannot be forgotten here.
        let VirtualAddress {
            address,
            prefix_len,
            dev,
            broadcast,
            scope,
            label,
            peer,
            home,
            nodad,
            mngtmpaddr,
            noprefixroute,
            autojoin,
            preferred_lft,
            use_vmac,
            vmac_name,
            track_group,
            no_track,
            span: _,
        } = self;
        *address == o.address
            && *prefix_len == o.prefix_len
            && *dev == o.dev
            && *broadcast == o.broadcast
            && *scope == o.scope
            && *label == o.label
            && *peer == o.peer
            && *home == o.home
            && *nodad == o.nodad
            && *mngtmpaddr == o.mngtmpaddr
            && *noprefixroute == o.noprefixroute
            && *autojoin == o.autojoin
            && *preferred_lft == o.preferred_lft
            && *use_vmac == o.use_vmac
            && *vmac_name == o.vmac_name
            && *track_group == o.track_group
            && *no_track == o.no_track
    }
}

impl Eq for VirtualAddress {}

impl PartialEq for Route {
    /// Every field but the source position: the same line moved elsewhere in the
    /// file (or to another file) is the same Route.
    fn eq(&self, o: &Self) -> bool {
        // Destructured, so that a new field cannot be forgotten here.
        let Route {
            inet6,
            route_type,
            to,
            src,
            from,
            via,
            or,
            dev,
            onlink,
            encap,
            table,
            vrf,
            metric,
            tos,
            protocol,
            scope,
            realms,
            metrics,
            pref,
            expires,
            ttl_propagate,
            nexthops,
            mode,
            track_group,
            no_track,
            span: _,
        } = self;
        *inet6 == o.inet6
            && *route_type == o.route_type
            && *to == o.to
            && *src == o.src
            && *from == o.from
            && *via == o.via
            && *or == o.or
            && *dev == o.dev
            && *onlink == o.onlink
            && *encap == o.encap
            && *table == o.table
            && *vrf == o.vrf
            && *metric == o.metric
            && *tos == o.tos
            && *protocol == o.protocol
            && *scope == o.scope
            && *realms == o.realms
            && *metrics == o.metrics
            && *pref == o.pref
            && *expires == o.expires
            && *ttl_propagate == o.ttl_propagate
            && *nexthops == o.nexthops
            && *mode == o.mode
            && *track_group == o.track_group
            && *no_track == o.no_track
    }
}

impl Eq for Route {}

impl PartialEq for Rule {
    /// Every field but the source position: the same line moved elsewhere in the
    /// file (or to another file) is the same Rule.
    fn eq(&self, o: &Self) -> bool {
        // Destructured, so that a new field cannot be forgotten here.
        let Rule {
            inet6,
            not,
            from,
            to,
            tos,
            fwmark,
            fwmask,
            priority,
            table,
            iif,
            oif,
            uidrange,
            l3mdev,
            suppress_prefixlength,
            suppress_ifgroup,
            goto,
            realms,
            rule_type,
            protocol,
            ipproto,
            sport,
            dport,
            track_group,
            no_track,
            span: _,
        } = self;
        *inet6 == o.inet6
            && *not == o.not
            && *from == o.from
            && *to == o.to
            && *tos == o.tos
            && *fwmark == o.fwmark
            && *fwmask == o.fwmask
            && *priority == o.priority
            && *table == o.table
            && *iif == o.iif
            && *oif == o.oif
            && *uidrange == o.uidrange
            && *l3mdev == o.l3mdev
            && *suppress_prefixlength == o.suppress_prefixlength
            && *suppress_ifgroup == o.suppress_ifgroup
            && *goto == o.goto
            && *realms == o.realms
            && *rule_type == o.rule_type
            && *protocol == o.protocol
            && *ipproto == o.ipproto
            && *sport == o.sport
            && *dport == o.dport
            && *track_group == o.track_group
            && *no_track == o.no_track
    }
}

impl Eq for Rule {}
