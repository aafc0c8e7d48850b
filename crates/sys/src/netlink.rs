//! rtnetlink requests: links, addresses, routes, rules.

use std::net::IpAddr;
use std::sync::atomic::{AtomicU32, Ordering};

use netlink_packet_core::{NLM_F_ACK, NLM_F_CREATE, NLM_F_DUMP, NLM_F_EXCL, NLM_F_REQUEST};
use netlink_packet_route::address::{
    AddressAttribute, AddressFlags, AddressHeaderFlags, AddressMessage, AddressScope,
};
use netlink_packet_route::link::{LinkAttribute, LinkFlags, LinkMessage};
use netlink_packet_route::route::{
    RouteAddress, RouteAttribute, RouteMessage, RouteProtocol, RouteScope, RouteType,
};
use netlink_packet_route::rule::{RuleAction, RuleAttribute, RuleMessage};
use netlink_packet_route::{AddressFamily, RouteNetlinkMessage};
use tokio::io::unix::AsyncFd;

use crate::nl::{self, Fail, Step};
use crate::{Address, Error, Result, Route, Rule};

/// How many times a dump that raced with a change is asked again.
const DUMP_TRIES: usize = 5;

/// rtnetlink: interfaces, addresses, routes, rules.
///
/// Requests take `&self` and are serialized on one socket; a request abandoned
/// half-way (its future dropped) leaves replies that the next request skips by
/// sequence number.
pub struct Netlink {
    fd: AsyncFd<netlink_sys::Socket>,
    seq: AtomicU32,
    lock: tokio::sync::Mutex<()>,
}

impl Netlink {
    /// Open the socket. Must be called inside a tokio runtime.
    pub async fn new() -> Result<Netlink> {
        let what = |step: &str| format!("rtnetlink socket: {step}");
        let s = nl::socket(0).map_err(|e| io_err(what("open"), e))?;
        s.set_non_blocking(true)
            .map_err(|e| io_err(what("O_NONBLOCK"), e))?;
        let fd = crate::register(s).map_err(|e| io_err(what("register with the runtime"), e))?;
        Ok(Netlink {
            fd,
            seq: AtomicU32::new(1),
            lock: tokio::sync::Mutex::new(()),
        })
    }

    pub(crate) async fn request(
        &self,
        msg: RouteNetlinkMessage,
        flags: u16,
    ) -> std::result::Result<Vec<RouteNetlinkMessage>, Fail> {
        let _one_at_a_time = self.lock.lock().await;
        let seq = self.seq.fetch_add(1, Ordering::Relaxed);
        let req = nl::encode(msg, flags, seq);
        loop {
            let mut guard = self.fd.writable().await?;
            match guard.try_io(|s| s.get_ref().send(&req, 0)) {
                Ok(r) => {
                    r?;
                    break;
                }
                Err(_would_block) => continue,
            }
        }
        let mut out = Vec::new();
        let mut interrupted = false;
        let mut buf = Vec::with_capacity(nl::RECV_BUF);
        loop {
            let mut guard = self.fd.readable().await?;
            buf.clear();
            match guard.try_io(|s| s.get_ref().recv(&mut buf, 0)) {
                Ok(r) => {
                    r?;
                }
                Err(_would_block) => continue,
            }
            if nl::absorb(&buf, seq, &mut out, &mut interrupted)? == Step::Done {
                return Ok(out);
            }
        }
    }

    /// A change: NLM_F_ACK, so success is confirmed and failure has its errno.
    pub(crate) async fn change(
        &self,
        msg: RouteNetlinkMessage,
        extra: u16,
    ) -> std::result::Result<(), Fail> {
        self.request(msg, NLM_F_REQUEST | NLM_F_ACK | extra)
            .await
            .map(|_| ())
    }

    async fn dump(
        &self,
        msg: RouteNetlinkMessage,
    ) -> std::result::Result<Vec<RouteNetlinkMessage>, Fail> {
        let mut last = Fail::Interrupted;
        for _ in 0..DUMP_TRIES {
            match self.request(msg.clone(), NLM_F_REQUEST | NLM_F_DUMP).await {
                Err(Fail::Interrupted) => last = Fail::Interrupted,
                r => return r,
            }
        }
        Err(last)
    }

    pub(crate) async fn link(&self, ifindex: u32) -> Result<LinkMessage> {
        let mut m = LinkMessage::default();
        m.header.index = ifindex;
        let what = || format!("read link ifindex {ifindex}");
        let replies = self
            .request(RouteNetlinkMessage::GetLink(m), NLM_F_REQUEST | NLM_F_ACK)
            .await
            .map_err(|e| e.into_error(what()))?;
        replies
            .into_iter()
            .find_map(|r| match r {
                RouteNetlinkMessage::NewLink(l) => Some(l),
                _ => None,
            })
            .ok_or_else(|| Error::Netlink(format!("{}: no reply", what())))
    }

    pub async fn ifindex(&self, name: &str) -> Result<u32> {
        let mut m = LinkMessage::default();
        m.attributes.push(LinkAttribute::IfName(name.to_string()));
        let replies = match self
            .request(RouteNetlinkMessage::GetLink(m), NLM_F_REQUEST | NLM_F_ACK)
            .await
        {
            Err(e) if e.errno() == Some(libc::ENODEV) => {
                return Err(Error::NoInterface(name.to_string()))
            }
            r => r.map_err(|e| e.into_error(format!("look up interface {name}")))?,
        };
        replies
            .into_iter()
            .find_map(|r| match r {
                RouteNetlinkMessage::NewLink(l) => Some(l.header.index),
                _ => None,
            })
            .ok_or_else(|| Error::NoInterface(name.to_string()))
    }

    /// Interface is administratively up and has carrier: IFF_UP and IFF_RUNNING, the
    /// latter meaning operstate UP or UNKNOWN (keepalived's IF_FLAGS_UP).
    pub async fn link_up(&self, ifindex: u32) -> Result<bool> {
        Ok(is_up(&self.link(ifindex).await?))
    }

    pub async fn mac(&self, ifindex: u32) -> Result<[u8; 6]> {
        let l = self.link(ifindex).await?;
        l.attributes
            .iter()
            .find_map(|a| match a {
                LinkAttribute::Address(b) => <[u8; 6]>::try_from(b.as_slice()).ok(),
                _ => None,
            })
            .ok_or_else(|| Error::Netlink(format!("ifindex {ifindex} has no Ethernet address")))
    }

    /// Interface names by index, for telling a label from the default one.
    async fn link_names(&self) -> Result<Vec<(u32, String)>> {
        let links = self
            .dump(RouteNetlinkMessage::GetLink(LinkMessage::default()))
            .await
            .map_err(|e| e.into_error("list links".into()))?;
        Ok(links
            .iter()
            .filter_map(|r| match r {
                RouteNetlinkMessage::NewLink(l) => Some((l.header.index, link_name(l)?)),
                _ => None,
            })
            .collect())
    }

    /// Addresses, of one interface or of all. An IPv4 label equal to the interface's
    /// name (what the kernel sets when none is given) is reported as `None`.
    pub async fn addresses(&self, ifindex: Option<u32>) -> Result<Vec<Address>> {
        let names = self.link_names().await?;
        let replies = self
            .dump(RouteNetlinkMessage::GetAddress(AddressMessage::default()))
            .await
            .map_err(|e| e.into_error("list addresses".into()))?;
        Ok(replies
            .iter()
            .filter_map(|r| match r {
                RouteNetlinkMessage::NewAddress(m) => address_of(m, |i| {
                    names.iter().find(|(n, _)| *n == i).map(|(_, s)| s.as_str())
                }),
                _ => None,
            })
            .filter(|a| match ifindex {
                Some(i) => a.ifindex == i,
                None => true,
            })
            .collect())
    }

    /// Add; an address that is already there is not an error. IPv6 addresses are added
    /// with IFA_F_NODAD, as keepalived adds its VIPs (usable at once; no DAD failure
    /// during a split brain). A label is IPv4 only and ignored for IPv6.
    pub async fn add_address(&self, a: &Address) -> Result<()> {
        match self
            .change(
                RouteNetlinkMessage::NewAddress(address_msg(a, true)),
                NLM_F_CREATE | NLM_F_EXCL,
            )
            .await
        {
            Err(e) if e.errno() == Some(libc::EEXIST) => Ok(()),
            r => r.map_err(|e| e.into_error(format!("add address {}", show_addr(a)))),
        }
    }

    /// Remove; an address that is not there (or whose interface is gone) is not an
    /// error.
    pub async fn del_address(&self, a: &Address) -> Result<()> {
        match self
            .change(RouteNetlinkMessage::DelAddress(address_msg(a, false)), 0)
            .await
        {
            Err(e) if matches!(e.errno(), Some(libc::EADDRNOTAVAIL | libc::ENODEV)) => Ok(()),
            r => r.map_err(|e| e.into_error(format!("delete address {}", show_addr(a)))),
        }
    }

    /// Add (protocol keepalived, NLM_F_EXCL); a route with the same key (table,
    /// destination, TOS, metric) already there is not an error, and is not replaced.
    pub async fn add_route(&self, r: &Route) -> Result<()> {
        let what = || format!("add route {}", show_route(r));
        let m = route_msg(r, true).map_err(|e| Error::Netlink(format!("{}: {e}", what())))?;
        match self
            .change(RouteNetlinkMessage::NewRoute(m), NLM_F_CREATE | NLM_F_EXCL)
            .await
        {
            Err(e) if e.errno() == Some(libc::EEXIST) => Ok(()),
            r => r.map_err(|e| e.into_error(what())),
        }
    }

    /// Delete the route matching the fields given; none there is not an error.
    pub async fn del_route(&self, r: &Route) -> Result<()> {
        let what = || format!("delete route {}", show_route(r));
        let m = route_msg(r, false).map_err(|e| Error::Netlink(format!("{}: {e}", what())))?;
        match self.change(RouteNetlinkMessage::DelRoute(m), 0).await {
            Err(e) if matches!(e.errno(), Some(libc::ESRCH | libc::ENODEV)) => Ok(()),
            r => r.map_err(|e| e.into_error(what())),
        }
    }

    /// Add (action "lookup `table`", protocol keepalived, NLM_F_EXCL so a second add
    /// does not stack a duplicate); a rule already there is not an error.
    pub async fn add_rule(&self, r: &Rule) -> Result<()> {
        let what = || format!("add rule {r:?}");
        let m = rule_msg(r, true).map_err(|e| Error::Netlink(format!("{}: {e}", what())))?;
        match self
            .change(RouteNetlinkMessage::NewRule(m), NLM_F_CREATE | NLM_F_EXCL)
            .await
        {
            Err(e) if e.errno() == Some(libc::EEXIST) => Ok(()),
            r => r.map_err(|e| e.into_error(what())),
        }
    }

    /// Delete the first rule matching the fields given; none there is not an error.
    pub async fn del_rule(&self, r: &Rule) -> Result<()> {
        let what = || format!("delete rule {r:?}");
        let m = rule_msg(r, false).map_err(|e| Error::Netlink(format!("{}: {e}", what())))?;
        match self.change(RouteNetlinkMessage::DelRule(m), 0).await {
            Err(e) if e.errno() == Some(libc::ENOENT) => Ok(()),
            r => r.map_err(|e| e.into_error(what())),
        }
    }
}

fn io_err(what: String, source: std::io::Error) -> Error {
    Error::Io { what, source }
}

/// keepalived's IF_FLAGS_UP: IFF_UP and IFF_RUNNING.
pub(crate) fn is_up(l: &LinkMessage) -> bool {
    l.header.flags.contains(LinkFlags::Up | LinkFlags::Running)
}

pub(crate) fn link_name(l: &LinkMessage) -> Option<String> {
    l.attributes.iter().find_map(|a| match a {
        LinkAttribute::IfName(n) => Some(n.clone()),
        _ => None,
    })
}

/// An `Address` from RTM_NEWADDR/RTM_DELADDR. IPv4: IFA_LOCAL is the address (IFA_ADDRESS
/// is the peer on point-to-point links); IPv6 has IFA_ADDRESS only.
pub(crate) fn address_of<'n>(
    m: &AddressMessage,
    name_of: impl Fn(u32) -> Option<&'n str>,
) -> Option<Address> {
    let (mut local, mut address, mut label, mut broadcast) = (None, None, None, None);
    for a in &m.attributes {
        match a {
            AddressAttribute::Local(ip) => local = Some(*ip),
            AddressAttribute::Address(ip) => address = Some(*ip),
            AddressAttribute::Label(l) => label = Some(l.clone()),
            AddressAttribute::Broadcast(b) => broadcast = Some(*b),
            _ => {}
        }
    }
    let ifindex = m.header.index;
    let label = label.filter(|l| name_of(ifindex) != Some(l.as_str()));
    Some(Address {
        ifindex,
        addr: local.or(address)?,
        prefix_len: m.header.prefix_len,
        broadcast,
        scope: u8::from(m.header.scope),
        label,
    })
}

fn family(ip: &IpAddr) -> AddressFamily {
    match ip {
        IpAddr::V4(_) => AddressFamily::Inet,
        IpAddr::V6(_) => AddressFamily::Inet6,
    }
}

fn address_msg(a: &Address, add: bool) -> AddressMessage {
    let mut m = AddressMessage::default();
    m.header.family = family(&a.addr);
    m.header.prefix_len = a.prefix_len;
    m.header.scope = AddressScope::from(a.scope);
    m.header.index = a.ifindex;
    m.attributes.push(AddressAttribute::Local(a.addr));
    m.attributes.push(AddressAttribute::Address(a.addr));
    if a.addr.is_ipv4() {
        if let Some(b) = a.broadcast {
            m.attributes.push(AddressAttribute::Broadcast(b));
        }
        if let Some(l) = &a.label {
            m.attributes.push(AddressAttribute::Label(l.clone()));
        }
    } else if add {
        m.header.flags = AddressHeaderFlags::Nodad;
        m.attributes
            .push(AddressAttribute::Flags(AddressFlags::Nodad));
    }
    m
}

fn show_addr(a: &Address) -> String {
    format!("{}/{} on ifindex {}", a.addr, a.prefix_len, a.ifindex)
}

fn show_route(r: &Route) -> String {
    let mut s = format!("{}/{}", r.dst, r.prefix_len);
    if let Some(g) = r.gateway {
        s += &format!(" via {g}");
    }
    if let Some(i) = r.ifindex {
        s += &format!(" ifindex {i}");
    }
    if let Some(t) = r.table {
        s += &format!(" table {t}");
    }
    s
}

fn route_addr(ip: IpAddr) -> RouteAddress {
    match ip {
        IpAddr::V4(a) => RouteAddress::Inet(a),
        IpAddr::V6(a) => RouteAddress::Inet6(a),
    }
}

fn route_type(kind: Option<&str>) -> std::result::Result<RouteType, String> {
    Ok(match kind {
        None | Some("unicast") => RouteType::Unicast,
        Some("blackhole") => RouteType::BlackHole,
        Some("unreachable") => RouteType::Unreachable,
        Some("prohibit") => RouteType::Prohibit,
        Some("throw") => RouteType::Throw,
        Some(k) => return Err(format!("unknown route type {k:?}")),
    })
}

/// Table ids under 256 go in the header; every id also goes in RTA_TABLE/FRA_TABLE
/// (as iproute2 does), which is the only place for larger ones.
fn header_table(t: u32) -> u8 {
    u8::try_from(t).unwrap_or(0)
}

const RT_TABLE_MAIN: u32 = 254;

fn route_msg(r: &Route, add: bool) -> std::result::Result<RouteMessage, String> {
    let fam = family(&r.dst);
    for other in [r.gateway, r.src].into_iter().flatten() {
        if family(&other) != fam {
            return Err(format!("{other} is not of the family of {}", r.dst));
        }
    }
    let kind = route_type(r.kind.as_deref())?;
    let table = r.table.unwrap_or(RT_TABLE_MAIN);
    let mut m = RouteMessage::default();
    m.header.address_family = fam;
    m.header.destination_prefix_length = r.prefix_len;
    m.header.table = header_table(table);
    m.header.kind = kind;
    m.header.protocol = if add {
        RouteProtocol::KeepAlived
    } else {
        RouteProtocol::Unspec
    };
    // iproute2's defaults: a delete matches any scope; an added unicast route with no
    // gateway is on-link.
    m.header.scope = match r.scope {
        Some(s) => RouteScope::from(s),
        None if !add => RouteScope::NoWhere,
        None if kind == RouteType::Unicast && r.gateway.is_none() => RouteScope::Link,
        None => RouteScope::Universe,
    };
    m.attributes
        .push(RouteAttribute::Destination(route_addr(r.dst)));
    if let Some(g) = r.gateway {
        m.attributes.push(RouteAttribute::Gateway(route_addr(g)));
    }
    if let Some(i) = r.ifindex {
        m.attributes.push(RouteAttribute::Oif(i));
    }
    if let Some(s) = r.src {
        m.attributes.push(RouteAttribute::PrefSource(route_addr(s)));
    }
    if let Some(p) = r.metric {
        m.attributes.push(RouteAttribute::Priority(p));
    }
    m.attributes.push(RouteAttribute::Table(table));
    Ok(m)
}

fn rule_msg(r: &Rule, add: bool) -> std::result::Result<RuleMessage, String> {
    let fam = if r.v6 {
        AddressFamily::Inet6
    } else {
        AddressFamily::Inet
    };
    let mut m = RuleMessage::default();
    m.header.family = fam;
    if let Some((ip, len)) = r.from {
        if family(&ip) != fam {
            return Err(format!("from {ip} is not of the rule's family"));
        }
        m.header.src_len = len;
        m.attributes.push(RuleAttribute::Source(ip));
    }
    if let Some((ip, len)) = r.to {
        if family(&ip) != fam {
            return Err(format!("to {ip} is not of the rule's family"));
        }
        m.header.dst_len = len;
        m.attributes.push(RuleAttribute::Destination(ip));
    }
    match r.table {
        Some(t) => {
            m.header.table = header_table(t);
            m.header.action = RuleAction::ToTable;
            m.attributes.push(RuleAttribute::Table(t));
        }
        // A delete without a table matches any action; an add needs one (the kernel
        // says so).
        None if !add => m.header.action = RuleAction::Unspec,
        None => m.header.action = RuleAction::ToTable,
    }
    if let Some(p) = r.priority {
        m.attributes.push(RuleAttribute::Priority(p));
    }
    if let Some(f) = r.fwmark {
        m.attributes.push(RuleAttribute::FwMark(f));
    }
    if let Some(i) = &r.iif {
        m.attributes.push(RuleAttribute::Iifname(i.clone()));
    }
    if let Some(o) = &r.oif {
        m.attributes.push(RuleAttribute::Oifname(o.clone()));
    }
    if add {
        m.attributes
            .push(RuleAttribute::Protocol(RouteProtocol::KeepAlived));
    }
    Ok(m)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn route(dst: &str, len: u8) -> Route {
        Route {
            dst: dst.parse().expect("literal"),
            prefix_len: len,
            gateway: None,
            ifindex: None,
            src: None,
            table: None,
            metric: None,
            scope: None,
            kind: None,
        }
    }

    #[test]
    fn route_defaults_follow_iproute2() {
        let m = route_msg(&route("10.1.0.0", 16), true).expect("valid");
        assert_eq!(m.header.scope, RouteScope::Link);
        assert_eq!(m.header.table, 254);
        assert_eq!(m.header.protocol, RouteProtocol::KeepAlived);
        let mut via = route("10.1.0.0", 16);
        via.gateway = Some("10.0.0.1".parse().expect("literal"));
        via.table = Some(1000);
        let m = route_msg(&via, true).expect("valid");
        assert_eq!(m.header.scope, RouteScope::Universe);
        assert_eq!(m.header.table, 0);
        assert!(m.attributes.contains(&RouteAttribute::Table(1000)));
        let d = route_msg(&via, false).expect("valid");
        assert_eq!(d.header.scope, RouteScope::NoWhere);
        assert_eq!(d.header.protocol, RouteProtocol::Unspec);
    }

    #[test]
    fn route_refuses_mixed_families_and_unknown_types() {
        let mut r = route("10.1.0.0", 16);
        r.gateway = Some("fe80::1".parse().expect("literal"));
        assert!(route_msg(&r, true).is_err());
        let mut r = route("10.1.0.0", 16);
        r.kind = Some("nat".into());
        assert!(route_msg(&r, true).is_err());
    }

    #[test]
    fn default_label_reads_as_none() {
        let a = Address {
            ifindex: 3,
            addr: "10.0.0.1".parse().expect("literal"),
            prefix_len: 24,
            broadcast: None,
            scope: 0,
            label: Some("eth0".into()),
        };
        let m = address_msg(&a, true);
        let seen = address_of(&m, |_| Some("eth0")).expect("address");
        assert_eq!(seen.label, None);
        let seen = address_of(&m, |_| Some("eth1")).expect("address");
        assert_eq!(seen.label.as_deref(), Some("eth0"));
    }
}
