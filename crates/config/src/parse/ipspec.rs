//! Address, route and rule lines (`virtual_ipaddress`, `virtual_routes`,
//! `virtual_rules` and the top-level `static_ipaddress`, `static_routes`,
//! `static_rules` blocks), in the `ip address/route/rule add` syntax keepalived takes.
//!
//! What keepalived 2.2.7 does with odd lines was checked against the binary: a bad
//! address or a family mix drops the line; a bad prefix length falls back to the
//! full length; a route or rule keyword without its value stops keepalived (fatal),
//! while an address keyword without its value only ends the line.

use super::Ctx;
use crate::diag::{Diagnostic, Severity};
use crate::model::ipspec::{
    Broadcast, Encap, IpPrefix, Nexthop, PreferredLifetime, Range, Realms, RouteMetric,
};
use crate::model::Config;
use crate::model::{Route, Rule, VirtualAddress};
use crate::tree::{Stmt, Token};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// `static_ipaddress { ... }`: one address per line, on `dev` or the default interface.
pub fn static_ipaddress(c: &mut Config, s: &Stmt, cx: &mut Ctx) {
    let Some(block) = cx.block(s) else { return };
    for line in &block.items {
        let Some(a) = address(line, true, cx) else {
            continue;
        };
        if !track_group_known(c, a.track_group.as_deref(), line, cx) {
            continue;
        }
        if a.dev.is_none() {
            let dflt = c
                .global_defs
                .default_interface
                .clone()
                .unwrap_or_else(|| "eth0".to_string());
            if !cx.interface_exists(&dflt) {
                cx.push(
                    Diagnostic::new(
                        Severity::Error,
                        "unknown-interface",
                        format!(
                            "no 'dev' given and the default interface {dflt} does not exist; \
                             the static address is ignored"
                        ),
                    )
                    .at(line.keyword().span)
                    .help("add 'dev IFNAME' or set default_interface in global_defs"),
                );
                continue;
            }
        }
        c.static_ipaddress.push(a);
    }
}

/// `static_routes { ... }`.
pub fn static_routes(c: &mut Config, s: &Stmt, cx: &mut Ctx) {
    let Some(block) = cx.block(s) else { return };
    for line in &block.items {
        let Some(r) = route(line, cx) else { continue };
        if !track_group_known(c, r.track_group.as_deref(), line, cx) {
            continue;
        }
        // keepalived 2.2.7 says this for static routes as well as for virtual_routes.
        if !r.no_track && !r.has_interface() {
            cx.push(
                Diagnostic::new(
                    Severity::Warning,
                    "route-not-trackable",
                    "route has no interface, so its deletion cannot be watched; it is not tracked",
                )
                .at(line.keyword().span)
                .help("add 'dev IFNAME', or 'no_track' to say this is intended"),
            );
        }
        c.static_routes.push(r);
    }
}

/// `static_rules { ... }`.
pub fn static_rules(c: &mut Config, s: &Stmt, cx: &mut Ctx) {
    let Some(block) = cx.block(s) else { return };
    for line in &block.items {
        let Some(r) = rule(line, cx) else { continue };
        if !track_group_known(c, r.track_group.as_deref(), line, cx) {
            continue;
        }
        c.static_rules.push(r);
    }
}

/// keepalived resolves `track_group` while reading, so the group must come first.
fn track_group_known(c: &Config, group: Option<&str>, line: &Stmt, cx: &mut Ctx) -> bool {
    let Some(g) = group else { return true };
    if c.track_groups.iter().any(|t| t.name == g) {
        return true;
    }
    let span = line
        .words
        .iter()
        .position(|t| t.text == "track_group")
        .and_then(|i| line.words.get(i + 1))
        .map(|t| t.span)
        .unwrap_or(line.keyword().span);
    cx.push(
        Diagnostic::new(
            Severity::Error,
            "unknown-track-group",
            format!("track_group '{g}' is not defined (before this line); the line is ignored"),
        )
        .at(span)
        .help("define 'track_group NAME { group { INSTANCE ... } }' earlier in the file"),
    );
    false
}

/// One line of `virtual_ipaddress` / `virtual_ipaddress_excluded` / `static_ipaddress`.
pub fn vip(s: &Stmt, cx: &mut Ctx) -> Option<VirtualAddress> {
    address(s, false, cx)
}

// ---------------------------------------------------------------------------
// Shared word-level parsers

/// Scope names as in /etc/iproute2/rt_scopes.
const SCOPES: &[(&str, u8)] = &[
    ("global", 0),
    ("site", 200),
    ("link", 253),
    ("host", 254),
    ("nowhere", 255),
];

fn scope_value(t: &Token) -> Option<u8> {
    SCOPES
        .iter()
        .find(|(n, _)| *n == t.text)
        .map(|(_, v)| *v)
        .or_else(|| number(&t.text).and_then(|v| u8::try_from(v).ok()))
}

/// Decimal or `0x` hex, as keepalived's number readers take them.
fn number(s: &str) -> Option<u64> {
    if let Some(h) = s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        u64::from_str_radix(h, 16).ok()
    } else if s.starts_with('+') {
        None
    } else {
        s.parse::<u64>().ok()
    }
}

fn bad(cx: &mut Ctx, code: &'static str, t: &Token, msg: String, help: Option<&str>) {
    let mut d = Diagnostic::new(Severity::Error, code, msg).at(t.span);
    if let Some(h) = help {
        d = d.help(h);
    }
    cx.push(d);
}

/// `ADDR[/LEN]`. A bad length is reported and the full length used (as keepalived
/// does); a bad address is reported and gives `None`. `what` ends the message.
fn prefix_tok(t: &Token, allow_any: bool, what: &str, cx: &mut Ctx) -> Option<IpPrefix> {
    if allow_any {
        match t.text.as_str() {
            "default" | "all" | "any" => {
                return Some(IpPrefix {
                    address: IpAddr::V4(Ipv4Addr::UNSPECIFIED),
                    prefix_len: 0,
                })
            }
            _ => {}
        }
    }
    let (addr, len) = match t.text.split_once('/') {
        Some((a, l)) => (a, Some(l)),
        None => (t.text.as_str(), None),
    };
    let Ok(address) = addr.parse::<IpAddr>() else {
        bad(
            cx,
            "bad-address",
            t,
            format!("'{addr}' is not a valid IP address; {what}"),
            Some("an IPv4 or IPv6 address, optionally with /PREFIXLEN"),
        );
        return None;
    };
    let max: u8 = if address.is_ipv6() { 128 } else { 32 };
    let prefix_len = match len {
        None => max,
        Some(l) => match l.parse::<u8>() {
            Ok(v) if v <= max => v,
            _ => {
                cx.push(
                    Diagnostic::new(
                        Severity::Error,
                        "bad-prefix",
                        format!("'{l}' is not a prefix length for {addr}; /{max} is used"),
                    )
                    .at(t.span)
                    .help(format!("a prefix length from 0 to {max}")),
                );
                max
            }
        },
    };
    Some(IpPrefix {
        address,
        prefix_len,
    })
}

fn family_of(p: &IpPrefix) -> bool {
    p.address.is_ipv6()
}

/// Reports an interface that the host does not have (keepalived warns and
/// carries on, waiting for it to appear).
fn check_interface(t: &Token, what: &str, cx: &mut Ctx) {
    if !cx.interface_exists(&t.text) {
        cx.push(
            Diagnostic::new(
                Severity::Warning,
                "unknown-interface",
                format!(
                    "interface '{}' for {what} does not exist on this host",
                    t.text
                ),
            )
            .at(t.span)
            .help("check the name; keepup waits for the interface to appear"),
        );
    }
}

// ---------------------------------------------------------------------------
// Addresses

/// Address keywords that take a value.
const ADDR_VALUE_KW: &[&str] = &[
    "dev",
    "scope",
    "brd",
    "broadcast",
    "label",
    "peer",
    "preferred_lft",
    "track_group",
];
/// Address keywords that stand alone.
const ADDR_FLAG_KW: &[&str] = &[
    "home",
    "-nodad",
    "mngtmpaddr",
    "noprefixroute",
    "autojoin",
    "no_track",
    "use_vmac",
];

fn address(s: &Stmt, is_static: bool, cx: &mut Ctx) -> Option<VirtualAddress> {
    let words = &s.words;
    let first = &words[0];
    let p = prefix_tok(first, false, "the address is ignored", cx)?;
    let mut a = VirtualAddress {
        address: p.address,
        prefix_len: p.prefix_len,
        span: first.span,
        ..VirtualAddress::default()
    };
    let v6 = p.address.is_ipv6();
    let mut explicit_scope: Option<&Token> = None;
    let mut label_tok: Option<&Token> = None;
    let mut i = 1;
    while i < words.len() {
        let w = &words[i];
        let kw = w.text.as_str();
        if ADDR_FLAG_KW.contains(&kw) && !(is_static && kw == "use_vmac") {
            match kw {
                "home" => a.home = true,
                "-nodad" => a.nodad = true,
                "mngtmpaddr" => a.mngtmpaddr = true,
                "noprefixroute" => a.noprefixroute = true,
                "autojoin" => a.autojoin = true,
                "no_track" => a.no_track = true,
                _ => {
                    // The address gets a VMAC of its own on its interface (Ledger:
                    // KA-14; keepup's run/vmac.rs). keepalived 2.2.7 takes no name here.
                    a.use_vmac = true;
                    if let Some(n) = words.get(i + 1) {
                        let nt = n.text.as_str();
                        if !ADDR_VALUE_KW.contains(&nt) && !ADDR_FLAG_KW.contains(&nt) {
                            cx.push(
                                Diagnostic::new(
                                    Severity::Warning,
                                    "ignored",
                                    format!(
                                        "use_vmac on an address takes no name; '{nt}' is ignored"
                                    ),
                                )
                                .at(n.span)
                                .note("the VMAC is named vrrp.VRID (vrrpN.VRID when that name is taken), as keepalived names it"),
                            );
                            i += 1;
                        }
                    }
                }
            }
            i += 1;
            continue;
        }
        if !ADDR_VALUE_KW.contains(&kw) || (!is_static && kw == "track_group") {
            let mut d = Diagnostic::new(
                Severity::Error,
                "unknown-address-option",
                format!("unknown option '{kw}' for an address; the word is ignored"),
            )
            .at(w.span);
            let known = ADDR_VALUE_KW
                .iter()
                .chain(ADDR_FLAG_KW.iter())
                .copied()
                .filter(|k| !(is_static && *k == "use_vmac") && (is_static || *k != "track_group"));
            if kw == "nodad" {
                d = d.help("the flag is spelled '-nodad'");
            } else if let Some(sug) = super::suggest(kw, known) {
                d = d.help(format!("did you mean '{sug}'?"));
            }
            cx.push(d);
            i += 1;
            continue;
        }
        let Some(v) = words.get(i + 1) else {
            cx.push(
                Diagnostic::new(
                    Severity::Error,
                    "missing-parameter",
                    format!("'{kw}' needs a value; it is ignored"),
                )
                .at(w.span),
            );
            break;
        };
        match kw {
            "dev" => {
                if a.dev.is_some() {
                    bad(
                        cx,
                        "duplicate-option",
                        w,
                        format!(
                            "'dev' is given twice for {}; the address is ignored",
                            first.text
                        ),
                        None,
                    );
                    return None;
                }
                check_interface(v, &format!("address {}", first.text), cx);
                a.dev = Some(v.text.clone());
            }
            "scope" => match scope_value(v) {
                Some(sc) => {
                    a.scope = Some(sc);
                    explicit_scope = Some(w);
                }
                None => bad(
                    cx,
                    "bad-value",
                    v,
                    format!("'{}' is not a scope; the scope is ignored", v.text),
                    Some("one of global, site, link, host, nowhere, or a number 0-255"),
                ),
            },
            "brd" | "broadcast" => {
                if v6 {
                    bad(
                        cx,
                        "broadcast-on-ipv6",
                        w,
                        format!(
                            "an IPv6 address has no broadcast address; the address {} is ignored",
                            first.text
                        ),
                        Some("remove 'brd ...' from this line"),
                    );
                    return None;
                }
                a.broadcast = Some(match v.text.as_str() {
                    "+" => Broadcast::SetHostBits,
                    "-" => Broadcast::ClearHostBits,
                    t => match t.parse::<Ipv4Addr>() {
                        Ok(b) => Broadcast::Address(b),
                        Err(_) => {
                            bad(
                                cx,
                                "bad-address",
                                v,
                                format!(
                                    "'{t}' is not a broadcast address; the address {} is ignored",
                                    first.text
                                ),
                                Some("an IPv4 address, '+' (host bits set) or '-' (clear)"),
                            );
                            return None;
                        }
                    },
                });
            }
            "label" => {
                a.label = Some(v.text.clone());
                label_tok = Some(w);
            }
            "peer" => match v.text.parse::<IpAddr>() {
                Ok(pa) => a.peer = Some(pa),
                Err(_) => bad(
                    cx,
                    "bad-address",
                    v,
                    format!(
                        "'{}' is not a valid peer address; the peer is ignored",
                        v.text
                    ),
                    Some("a plain IP address, without a prefix length"),
                ),
            },
            "preferred_lft" => {
                if v.text == "forever" {
                    a.preferred_lft = Some(PreferredLifetime::Forever);
                } else {
                    match number(&v.text).and_then(|n| u32::try_from(n).ok()) {
                        Some(n) => a.preferred_lft = Some(PreferredLifetime::Seconds(n)),
                        None => bad(
                            cx,
                            "bad-value",
                            v,
                            format!("preferred_lft '{}' is not valid; it is ignored", v.text),
                            Some("a number of seconds or 'forever'"),
                        ),
                    }
                }
            }
            _ => a.track_group = Some(v.text.clone()),
        }
        i += 2;
    }
    if a.peer.is_some() && a.broadcast.is_some() {
        a.broadcast = None;
        let span = words
            .iter()
            .find(|t| t.text == "brd" || t.text == "broadcast")
            .map(|t| t.span)
            .unwrap_or(first.span);
        cx.push(
            Diagnostic::new(
                Severity::Error,
                "broadcast-with-peer",
                "a broadcast address cannot be given together with 'peer'; the broadcast address is ignored",
            )
            .at(span),
        );
    }
    if v6 {
        if let Some(w) = explicit_scope {
            a.scope = None;
            bad(
                cx,
                "ignored-for-ipv6",
                w,
                format!(
                    "a scope cannot be given for the IPv6 address {}; the scope is ignored",
                    first.text
                ),
                None,
            );
        }
        if let Some(w) = label_tok {
            a.label = None;
            bad(
                cx,
                "ignored-for-ipv6",
                w,
                format!(
                    "a label cannot be given for the IPv6 address {}; the label is ignored",
                    first.text
                ),
                None,
            );
        }
        if let IpAddr::V6(x) = a.address {
            // fe80::/10 addresses are only meaningful on their link.
            if x.segments()[0] & 0xffc0 == 0xfe80 {
                a.scope = Some(253);
            }
        }
    }
    Some(a)
}

// ---------------------------------------------------------------------------
// Routes and rules: a cursor over the words of a line

struct Words<'a> {
    toks: &'a [Token],
    i: usize,
    /// Set when a diagnostic already condemned the line.
    failed: bool,
}

impl<'a> Words<'a> {
    fn new(s: &'a Stmt) -> Self {
        Words {
            toks: &s.words,
            i: 0,
            failed: false,
        }
    }
    fn peek(&self) -> Option<&'a Token> {
        self.toks.get(self.i)
    }
    fn next(&mut self) -> Option<&'a Token> {
        let t = self.toks.get(self.i);
        self.i += 1;
        t
    }
    /// The value after keyword `kw`. keepalived 2.2.7 stops reading the
    /// configuration when a route or rule keyword has no value.
    fn value(&mut self, kw: &Token, cx: &mut Ctx) -> Option<&'a Token> {
        match self.next() {
            Some(t) => Some(t),
            None => {
                cx.push(
                    Diagnostic::new(
                        Severity::Fatal,
                        "missing-parameter",
                        format!("'{}' needs a value at the end of the line", kw.text),
                    )
                    .at(kw.span)
                    .note("keepalived 2.2.7 stops reading the configuration here"),
                );
                self.failed = true;
                None
            }
        }
    }
}

/// Reports a bad value for keyword `kw` and condemns the line (`what` = "route"/"rule").
fn reject(
    w: &mut Words,
    cx: &mut Ctx,
    t: &Token,
    code: &'static str,
    msg: String,
    help: &str,
    what: &str,
) {
    let mut d = Diagnostic::new(
        Severity::Error,
        code,
        format!("{msg}; the {what} is ignored"),
    )
    .at(t.span);
    if !help.is_empty() {
        d = d.help(help.to_string());
    }
    cx.push(d);
    w.failed = true;
}

fn u32_tok(t: &Token) -> Option<u32> {
    number(&t.text).and_then(|v| u32::try_from(v).ok())
}

/// Routing tables: built-in names, numbers, and on a checked host the names in
/// /etc/iproute2/rt_tables.
fn table_value(t: &Token, cx: &Ctx) -> Option<u32> {
    match t.text.as_str() {
        "unspec" => return Some(0),
        "default" => return Some(253),
        "main" => return Some(254),
        "local" => return Some(255),
        _ => {}
    }
    if let Some(n) = u32_tok(t) {
        return Some(n);
    }
    if cx.interfaces.is_some() {
        for path in ["/etc/iproute2/rt_tables", "/usr/share/iproute2/rt_tables"] {
            if let Ok(text) = std::fs::read_to_string(path) {
                for line in text.lines() {
                    let mut it = line.split_whitespace();
                    if let (Some(n), Some(name)) = (it.next(), it.next()) {
                        if name == t.text && !n.starts_with('#') {
                            return u32_tok(&Token {
                                text: n.to_string(),
                                span: t.span,
                                quoted: false,
                            });
                        }
                    }
                }
            }
        }
    }
    None
}

fn tos_value(t: &Token) -> Option<u8> {
    number(&t.text).and_then(|v| u8::try_from(v).ok())
}

fn realms_value(t: &Token) -> Option<Realms> {
    let one = |s: &str| number(s).and_then(|v| u16::try_from(v).ok());
    match t.text.split_once('/') {
        Some((f, to)) => Some(Realms {
            from: one(f)?,
            to: one(to)?,
        }),
        None => Some(Realms {
            from: 0,
            to: one(&t.text)?,
        }),
    }
}

fn range_value(t: &Token, max: u32) -> Option<Range> {
    let (a, b) = t.text.split_once('-')?;
    let a = u32::try_from(number(a)?).ok()?;
    let b = u32::try_from(number(b)?).ok()?;
    (a <= b && b <= max).then_some(Range { start: a, end: b })
}

/// Route protocol names as in /etc/iproute2/rt_protos.
const PROTOCOLS: &[(&str, u8)] = &[
    ("unspec", 0),
    ("redirect", 1),
    ("kernel", 2),
    ("boot", 3),
    ("static", 4),
    ("gated", 8),
    ("ra", 9),
    ("mrt", 10),
    ("zebra", 11),
    ("bird", 12),
    ("dnrouted", 13),
    ("xorp", 14),
    ("ntk", 15),
    ("dhcp", 16),
    ("keepalived", 18),
    ("babel", 42),
    ("openr", 99),
    ("bgp", 186),
    ("isis", 187),
    ("ospf", 188),
    ("rip", 189),
    ("eigrp", 192),
];
const RTPROT_KEEPALIVED: u8 = 18;

const ROUTE_TYPES: &[&str] = &[
    "unicast",
    "local",
    "broadcast",
    "anycast",
    "multicast",
    "blackhole",
    "unreachable",
    "prohibit",
    "throw",
    "nat",
];

const ROUTE_KEYWORDS: &[&str] = &[
    "src",
    "from",
    "to",
    "via",
    "gw",
    "or",
    "dev",
    "oif",
    "onlink",
    "encap",
    "table",
    "vrf",
    "metric",
    "priority",
    "preference",
    "tos",
    "dsfield",
    "protocol",
    "scope",
    "realms",
    "mtu",
    "hoplimit",
    "advmss",
    "rtt",
    "rttvar",
    "reordering",
    "window",
    "cwnd",
    "ssthresh",
    "rto_min",
    "initcwnd",
    "initrwnd",
    "features",
    "quickack",
    "fastopen_no_cookie",
    "congctl",
    "pref",
    "expires",
    "ttl-propagate",
    "nexthop",
    "add",
    "append",
    "prepend",
    "inet6",
    "no_track",
    "track_group",
];

/// The parameters of `encap TYPE ...` that we know take a value.
const ENCAP_VALUE_KW: &[&str] = &[
    "id", "dst", "src", "tos", "tc", "ttl", "hoplimit", "key", "mode", "segs", "hmac", "in", "out",
    "xmit", "headroom", "flags",
];
const ENCAP_FLAG_KW: &[&str] = &["csum", "nocsum", "seq", "noseq", "nokey"];

fn encap(w: &mut Words, kw: &Token, cx: &mut Ctx) -> Option<Encap> {
    let kind = w.value(kw, cx)?;
    let mut e = Encap {
        kind: kind.text.clone(),
        params: Vec::new(),
    };
    if kind.text == "mpls" {
        // Only the label stack (keepalived 2.2.7 takes no ttl here).
        e.params.push(w.value(kind, cx)?.text.clone());
        return Some(e);
    }
    while let Some(t) = w.peek() {
        if ENCAP_FLAG_KW.contains(&t.text.as_str()) {
            e.params.push(t.text.clone());
            w.next();
        } else if ENCAP_VALUE_KW.contains(&t.text.as_str()) {
            w.next();
            e.params.push(t.text.clone());
            e.params.push(w.value(t, cx)?.text.clone());
        } else {
            break;
        }
    }
    Some(e)
}

/// A metric value with an optional `lock` before it.
fn metric(w: &mut Words, kw: &Token, cx: &mut Ctx) -> Option<RouteMetric> {
    let mut v = w.value(kw, cx)?;
    let mut lock = false;
    if v.text == "lock" {
        lock = true;
        v = w.value(kw, cx)?;
    }
    match u32_tok(v) {
        Some(value) => Some(RouteMetric { value, lock }),
        None => {
            reject(
                w,
                cx,
                v,
                "bad-value",
                format!("'{}' is not a valid {} value", v.text, kw.text),
                "a whole number, optionally after 'lock'",
                "route",
            );
            None
        }
    }
}

fn gateway(w: &mut Words, kw: &Token, cx: &mut Ctx) -> Option<IpAddr> {
    let mut v = w.value(kw, cx)?;
    // `via inet|inet6 ADDR` names the family explicitly.
    if v.text == "inet" || v.text == "inet6" {
        v = w.value(v, cx)?;
    }
    match v.text.parse::<IpAddr>() {
        Ok(a) => Some(a),
        Err(_) => {
            reject(
                w,
                cx,
                v,
                "bad-address",
                format!("'{}' is not a valid gateway address", v.text),
                "an IPv4 or IPv6 address",
                "route",
            );
            None
        }
    }
}

fn deprecated(cx: &mut Ctx, t: &Token, instead: &str) {
    cx.push(
        Diagnostic::new(
            Severity::Warning,
            "deprecated",
            format!("'{}' for routes is deprecated", t.text),
        )
        .at(t.span)
        .help(format!("use '{instead}'")),
    );
}

fn nexthop(w: &mut Words, cx: &mut Ctx) -> Option<Nexthop> {
    let mut nh = Nexthop::default();
    while let Some(t) = w.peek() {
        match t.text.as_str() {
            "via" => {
                w.next();
                nh.via = Some(gateway(w, t, cx)?);
            }
            "dev" => {
                w.next();
                let v = w.value(t, cx)?;
                check_interface(v, "a route nexthop", cx);
                nh.dev = Some(v.text.clone());
            }
            "weight" => {
                w.next();
                let v = w.value(t, cx)?;
                match number(&v.text).and_then(|n| u16::try_from(n).ok()) {
                    Some(n) if (1..=256).contains(&n) => nh.weight = Some(n),
                    _ => {
                        reject(
                            w,
                            cx,
                            v,
                            "out-of-range",
                            format!("nexthop weight '{}' is not in 1..256", v.text),
                            "a weight from 1 to 256",
                            "route",
                        );
                        return None;
                    }
                }
            }
            "onlink" => {
                w.next();
                nh.onlink = true;
            }
            "realms" => {
                w.next();
                let v = w.value(t, cx)?;
                match realms_value(v) {
                    Some(r) => nh.realms = Some(r),
                    None => {
                        reject(
                            w,
                            cx,
                            v,
                            "bad-value",
                            format!("'{}' is not a valid realm", v.text),
                            "REALM or FROM/TO, as numbers",
                            "route",
                        );
                        return None;
                    }
                }
            }
            "encap" => {
                w.next();
                nh.encap = Some(encap(w, t, cx)?);
            }
            _ => break,
        }
    }
    Some(nh)
}

/// One line of `virtual_routes` / `static_routes`.
pub fn route(s: &Stmt, cx: &mut Ctx) -> Option<Route> {
    let mut r = Route {
        span: s.keyword().span,
        ..Route::default()
    };
    let mut w = Words::new(s);
    // Families seen in addresses, with the first word that set one.
    let mut fam: Option<bool> = None;
    let mut mixed = false;
    let mut proto_tok: Option<&Token> = None;
    let mut pref_tok: Option<&Token> = None;
    let mut expires_tok: Option<&Token> = None;
    let mut from_tok: Option<&Token> = None;
    while let Some(t) = w.next() {
        let kw = t.text.as_str();
        match kw {
            "inet6" => {
                r.inet6 = true;
                skip_after_inet6(&mut w, cx);
            }
            "inet" => {}
            "src" => {
                let v = w.value(t, cx)?;
                match v.text.parse::<IpAddr>() {
                    Ok(a) => {
                        note_fam(a.is_ipv6(), &mut fam, &mut mixed);
                        r.src = Some(a);
                    }
                    Err(_) => reject(
                        &mut w,
                        cx,
                        v,
                        "bad-address",
                        format!("'{}' is not a valid source address", v.text),
                        "an IPv4 or IPv6 address",
                        "route",
                    ),
                }
            }
            "from" => {
                let v = w.value(t, cx)?;
                match prefix_tok(v, false, "the route is ignored", cx) {
                    Some(p) => {
                        note_fam(family_of(&p), &mut fam, &mut mixed);
                        r.from = Some(p);
                        from_tok = Some(t);
                    }
                    None => w.failed = true,
                }
            }
            "via" | "gw" => {
                if kw == "gw" {
                    deprecated(cx, t, "via");
                }
                let a = gateway(&mut w, t, cx)?;
                note_fam(a.is_ipv6(), &mut fam, &mut mixed);
                r.via = Some(a);
            }
            "or" => {
                deprecated(cx, t, "nexthop");
                let a = gateway(&mut w, t, cx)?;
                note_fam(a.is_ipv6(), &mut fam, &mut mixed);
                r.or = Some(a);
            }
            "dev" | "oif" => {
                let v = w.value(t, cx)?;
                check_interface(v, "a route", cx);
                r.dev = Some(v.text.clone());
            }
            "onlink" => r.onlink = true,
            "encap" => r.encap = Some(encap(&mut w, t, cx)?),
            "table" => {
                let v = w.value(t, cx)?;
                match table_value(v, cx) {
                    Some(n) => r.table = Some(n),
                    None => reject(
                        &mut w,
                        cx,
                        v,
                        "bad-value",
                        format!("routing table '{}' is not known", v.text),
                        "a table number, main, local, default, or a name from /etc/iproute2/rt_tables",
                        "route",
                    ),
                }
            }
            "vrf" => {
                let v = w.value(t, cx)?;
                if !cx.interface_exists(&v.text) {
                    reject(
                        &mut w,
                        cx,
                        v,
                        "unknown-interface",
                        format!("VRF '{}' does not exist on this host", v.text),
                        "the name of a VRF device",
                        "route",
                    );
                }
                r.vrf = Some(v.text.clone());
            }
            "metric" | "priority" | "preference" => {
                let v = w.value(t, cx)?;
                match u32_tok(v) {
                    Some(n) => r.metric = Some(n),
                    None => reject(
                        &mut w,
                        cx,
                        v,
                        "bad-value",
                        format!("'{}' is not a valid route metric", v.text),
                        "a whole number from 0 to 4294967295",
                        "route",
                    ),
                }
            }
            "tos" | "dsfield" => {
                let v = w.value(t, cx)?;
                match tos_value(v) {
                    Some(n) => r.tos = Some(n),
                    None => reject(
                        &mut w,
                        cx,
                        v,
                        "bad-value",
                        format!("'{}' is not a valid TOS value", v.text),
                        "a number from 0 to 255 (0x.. for hex)",
                        "route",
                    ),
                }
            }
            "protocol" => {
                let v = w.value(t, cx)?;
                let p = PROTOCOLS
                    .iter()
                    .find(|(n, _)| *n == v.text)
                    .map(|(_, n)| *n)
                    .or_else(|| number(&v.text).and_then(|n| u8::try_from(n).ok()));
                match p {
                    Some(n) => {
                        r.protocol = Some(n);
                        proto_tok = Some(t);
                    }
                    None => reject(
                        &mut w,
                        cx,
                        v,
                        "bad-value",
                        format!("'{}' is not a route protocol", v.text),
                        "a number 0-255 or a name from rt_protos such as static, bird, keepalived",
                        "route",
                    ),
                }
            }
            "scope" => {
                let v = w.value(t, cx)?;
                match scope_value(v) {
                    Some(n) => r.scope = Some(n),
                    None => reject(
                        &mut w,
                        cx,
                        v,
                        "bad-value",
                        format!("'{}' is not a scope", v.text),
                        "one of global, site, link, host, nowhere, or a number 0-255",
                        "route",
                    ),
                }
            }
            "realms" => {
                let v = w.value(t, cx)?;
                match realms_value(v) {
                    Some(x) => r.realms = Some(x),
                    None => reject(
                        &mut w,
                        cx,
                        v,
                        "bad-value",
                        format!("'{}' is not a valid realm", v.text),
                        "REALM or FROM/TO, as numbers",
                        "route",
                    ),
                }
            }
            "mtu" | "hoplimit" | "advmss" | "rtt" | "rttvar" | "reordering" | "window" | "cwnd"
            | "ssthresh" | "rto_min" | "initcwnd" | "initrwnd" => {
                let m = metric(&mut w, t, cx);
                let slot = match kw {
                    "mtu" => &mut r.metrics.mtu,
                    "hoplimit" => &mut r.metrics.hoplimit,
                    "advmss" => &mut r.metrics.advmss,
                    "rtt" => &mut r.metrics.rtt,
                    "rttvar" => &mut r.metrics.rttvar,
                    "reordering" => &mut r.metrics.reordering,
                    "window" => &mut r.metrics.window,
                    "cwnd" => &mut r.metrics.cwnd,
                    "ssthresh" => &mut r.metrics.ssthresh,
                    "rto_min" => &mut r.metrics.rto_min,
                    "initcwnd" => &mut r.metrics.initcwnd,
                    _ => &mut r.metrics.initrwnd,
                };
                *slot = m;
            }
            "features" => {
                let v = w.value(t, cx)?;
                if v.text == "ecn" {
                    r.metrics.features_ecn = true;
                } else {
                    reject(
                        &mut w,
                        cx,
                        v,
                        "bad-value",
                        format!("route feature '{}' is not supported", v.text),
                        "the only feature is 'ecn'",
                        "route",
                    );
                }
            }
            "quickack" | "fastopen_no_cookie" => {
                let v = w.value(t, cx)?;
                let b = match v.text.as_str() {
                    "0" => Some(false),
                    "1" => Some(true),
                    _ => None,
                };
                match b {
                    Some(b) if kw == "quickack" => r.metrics.quickack = Some(b),
                    Some(b) => r.metrics.fastopen_no_cookie = Some(b),
                    None => reject(
                        &mut w,
                        cx,
                        v,
                        "bad-value",
                        format!("{kw} takes 0 or 1, not '{}'", v.text),
                        "0 or 1",
                        "route",
                    ),
                }
            }
            "congctl" => {
                let mut v = w.value(t, cx)?;
                if v.text == "lock" {
                    r.metrics.congctl_lock = true;
                    v = w.value(t, cx)?;
                }
                r.metrics.congctl = Some(v.text.clone());
            }
            "pref" => {
                let v = w.value(t, cx)?;
                match v.text.as_str() {
                    "low" | "medium" | "high" => {
                        r.pref = Some(v.text.clone());
                        pref_tok = Some(t);
                    }
                    _ => reject(
                        &mut w,
                        cx,
                        v,
                        "bad-value",
                        format!("route pref '{}' is not valid", v.text),
                        "one of low, medium, high",
                        "route",
                    ),
                }
            }
            "expires" => {
                let v = w.value(t, cx)?;
                match u32_tok(v) {
                    Some(n) => {
                        r.expires = Some(n);
                        expires_tok = Some(t);
                    }
                    None => reject(
                        &mut w,
                        cx,
                        v,
                        "bad-value",
                        format!("'{}' is not a valid expiry time", v.text),
                        "a number of seconds",
                        "route",
                    ),
                }
            }
            "ttl-propagate" => {
                let v = w.value(t, cx)?;
                match v.text.as_str() {
                    "enabled" => r.ttl_propagate = Some(true),
                    "disabled" => r.ttl_propagate = Some(false),
                    _ => reject(
                        &mut w,
                        cx,
                        v,
                        "bad-value",
                        format!("ttl-propagate '{}' is not valid", v.text),
                        "enabled or disabled",
                        "route",
                    ),
                }
            }
            "nexthop" => {
                let nh = nexthop(&mut w, cx)?;
                if let Some(a) = nh.via {
                    note_fam(a.is_ipv6(), &mut fam, &mut mixed);
                }
                r.nexthops.push(nh);
                // After the nexthops only more nexthops may follow.
                while let Some(n) = w.next() {
                    if n.text == "nexthop" {
                        let nh = nexthop(&mut w, cx)?;
                        if let Some(a) = nh.via {
                            note_fam(a.is_ipv6(), &mut fam, &mut mixed);
                        }
                        r.nexthops.push(nh);
                    } else {
                        reject(
                            &mut w,
                            cx,
                            n,
                            "unknown-route-keyword",
                            format!("'{}' after the nexthops is not understood", n.text),
                            "put route options before the first 'nexthop'; nexthops take via, dev, weight, onlink, realms, encap",
                            "route",
                        );
                        break;
                    }
                }
            }
            "add" | "append" | "prepend" => r.mode = Some(kw.to_string()),
            "no_track" => r.no_track = true,
            "track_group" => r.track_group = Some(w.value(t, cx)?.text.clone()),
            "to" => {
                let mut v = w.value(t, cx)?;
                if ROUTE_TYPES.contains(&v.text.as_str()) && v.text != "unicast" {
                    r.route_type = Some(v.text.clone());
                    v = w.value(v, cx)?;
                }
                dest(&mut r, &mut w, v, &mut fam, &mut mixed, cx);
            }
            _ if ROUTE_TYPES.contains(&kw) && kw != "unicast" && r.to.is_none() => {
                r.route_type = Some(kw.to_string());
            }
            _ if r.to.is_none()
                && (kw == "default"
                    || kw
                        .split('/')
                        .next()
                        .is_some_and(|a| a.parse::<IpAddr>().is_ok())) =>
            {
                dest(&mut r, &mut w, t, &mut fam, &mut mixed, cx);
            }
            _ => {
                let mut d = Diagnostic::new(
                    Severity::Error,
                    "unknown-route-keyword",
                    format!("unknown route keyword '{kw}'; the route is ignored"),
                )
                .at(t.span);
                if let Some(sug) = super::suggest(kw, ROUTE_KEYWORDS.iter().copied()) {
                    d = d.help(format!("did you mean '{sug}'?"));
                } else if kw == "proto" || kw == "type" || kw == "realm" {
                    d = d.help("keepalived does not take shortened or 'type' forms; write the option in full");
                }
                cx.push(d);
                w.failed = true;
            }
        }
        if w.failed {
            return None;
        }
    }
    let Some(to) = r.to else {
        cx.push(
            Diagnostic::new(
                Severity::Error,
                "route-no-destination",
                "the route has no destination; the route is ignored",
            )
            .at(s.keyword().span)
            .help("give the destination prefix, e.g. '10.1.0.0/16 via 10.0.0.1', or 'default'"),
        );
        return None;
    };
    // `default` takes the family of the rest of the line, or inet6.
    if to.prefix_len == 0 && to.address == IpAddr::V4(Ipv4Addr::UNSPECIFIED) {
        let is6 = r.inet6 || fam == Some(true);
        if is6 {
            r.to = Some(IpPrefix {
                address: IpAddr::V6(Ipv6Addr::UNSPECIFIED),
                prefix_len: 0,
            });
        }
    } else if r.inet6 && !to.address.is_ipv6() {
        mixed = true;
    }
    if mixed {
        cx.push(
            Diagnostic::new(
                Severity::Error,
                "mixed-families",
                "the route mixes IPv4 and IPv6 addresses; the route is ignored",
            )
            .at(s.keyword().span),
        );
        return None;
    }
    let v6 = r.to.is_some_and(|p| p.address.is_ipv6());
    for (tok, what) in [
        (pref_tok, "pref"),
        (expires_tok, "expires"),
        (from_tok, "from"),
    ] {
        if let Some(t) = tok {
            if !v6 {
                cx.push(
                    Diagnostic::new(
                        Severity::Error,
                        "ipv6-only",
                        format!("'{what}' is only valid for IPv6 routes; the route is ignored"),
                    )
                    .at(t.span),
                );
                return None;
            }
        }
    }
    if let (Some(p), Some(t)) = (r.protocol, proto_tok) {
        if p != RTPROT_KEEPALIVED && !r.no_track {
            cx.push(
                Diagnostic::new(
                    Severity::Warning,
                    "route-protocol-reset",
                    "a tracked route must have protocol keepalived (18); the protocol is reset to keepalived",
                )
                .at(t.span)
                .help("add 'no_track' to keep this protocol, or remove 'protocol'"),
            );
            r.protocol = Some(RTPROT_KEEPALIVED);
        }
    }
    Some(r)
}

/// keepalived 2.2.7 passes over the word that follows `inet6` without reading it
/// (at the end of a line, `inet6` works as documented).
fn skip_after_inet6(w: &mut Words, cx: &mut Ctx) {
    if let Some(n) = w.next() {
        cx.push(
            Diagnostic::new(
                Severity::Error,
                "inet6-skips-word",
                format!(
                    "keepalived 2.2.7 skips the word after 'inet6', so '{}' is not read",
                    n.text
                ),
            )
            .at(n.span)
            .help("put 'inet6' at the end of the line"),
        );
    }
}

fn note_fam(is6: bool, fam: &mut Option<bool>, mixed: &mut bool) {
    match fam {
        Some(f) if *f != is6 => *mixed = true,
        Some(_) => {}
        None => *fam = Some(is6),
    }
}

fn dest(
    r: &mut Route,
    w: &mut Words,
    v: &Token,
    fam: &mut Option<bool>,
    mixed: &mut bool,
    cx: &mut Ctx,
) {
    if r.to.is_some() {
        reject(
            w,
            cx,
            v,
            "duplicate-option",
            format!("a second destination '{}'", v.text),
            "a route has one destination",
            "route",
        );
        return;
    }
    match prefix_tok(v, true, "the route is ignored", cx) {
        Some(p) => {
            if !(p.prefix_len == 0 && p.address == IpAddr::V4(Ipv4Addr::UNSPECIFIED)) {
                note_fam(family_of(&p), fam, mixed);
            }
            r.to = Some(p);
        }
        None => w.failed = true,
    }
}

// ---------------------------------------------------------------------------
// Rules

const RULE_KEYWORDS: &[&str] = &[
    "from",
    "to",
    "not",
    "tos",
    "dsfield",
    "fwmark",
    "priority",
    "preference",
    "order",
    "table",
    "lookup",
    "iif",
    "oif",
    "uidrange",
    "l3mdev",
    "suppress_prefixlength",
    "suppress_ifgroup",
    "goto",
    "realms",
    "type",
    "blackhole",
    "prohibit",
    "unreachable",
    "nop",
    "protocol",
    "ipproto",
    "sport",
    "dport",
    "inet6",
    "no_track",
    "track_group",
];

const RULE_TYPES: &[&str] = &["blackhole", "prohibit", "unreachable", "nop"];

/// IP protocol names accepted by `ipproto`.
const IPPROTOS: &[(&str, u8)] = &[
    ("icmp", 1),
    ("igmp", 2),
    ("tcp", 6),
    ("udp", 17),
    ("dccp", 33),
    ("ipv6", 41),
    ("rsvp", 46),
    ("gre", 47),
    ("esp", 50),
    ("ah", 51),
    ("ipv6-icmp", 58),
    ("icmpv6", 58),
    ("ospf", 89),
    ("pim", 103),
    ("vrrp", 112),
    ("sctp", 132),
    ("udplite", 136),
    ("mpls", 137),
];

/// One line of `virtual_rules` / `static_rules`.
pub fn rule(s: &Stmt, cx: &mut Ctx) -> Option<Rule> {
    let mut r = Rule {
        span: s.keyword().span,
        ..Rule::default()
    };
    let mut w = Words::new(s);
    let mut fam: Option<bool> = None;
    let mut mixed = false;
    // The actions, of which a rule takes exactly one.
    let mut actions: Vec<&Token> = Vec::new();
    while let Some(t) = w.next() {
        let kw = t.text.as_str();
        let mut prefix = |w: &mut Words, cx: &mut Ctx, fam: &mut Option<bool>| {
            let v = w.value(t, cx)?;
            match prefix_tok(v, true, "the rule is ignored", cx) {
                Some(p) => {
                    if p.prefix_len != 0 || p.address != IpAddr::V4(Ipv4Addr::UNSPECIFIED) {
                        let is6 = family_of(&p);
                        match fam {
                            Some(f) if *f != is6 => mixed = true,
                            Some(_) => {}
                            None => *fam = Some(is6),
                        }
                    }
                    Some(p)
                }
                None => {
                    w.failed = true;
                    None
                }
            }
        };
        match kw {
            "inet6" => {
                r.inet6 = true;
                skip_after_inet6(&mut w, cx);
            }
            "not" => r.not = true,
            "from" => r.from = prefix(&mut w, cx, &mut fam),
            "to" => r.to = prefix(&mut w, cx, &mut fam),
            "tos" | "dsfield" => {
                let v = w.value(t, cx)?;
                match tos_value(v) {
                    Some(n) => r.tos = Some(n),
                    None => reject(
                        &mut w,
                        cx,
                        v,
                        "bad-value",
                        format!("'{}' is not a valid TOS value", v.text),
                        "a number from 0 to 255 (0x.. for hex)",
                        "rule",
                    ),
                }
            }
            "fwmark" => {
                let v = w.value(t, cx)?;
                let (m, mask) = match v.text.split_once('/') {
                    Some((a, b)) => (a, Some(b)),
                    None => (v.text.as_str(), None),
                };
                let mv = number(m).and_then(|n| u32::try_from(n).ok());
                let kv = mask.map(|b| number(b).and_then(|n| u32::try_from(n).ok()));
                match (mv, kv) {
                    (Some(a), None) => r.fwmark = Some(a),
                    (Some(a), Some(Some(b))) => {
                        r.fwmark = Some(a);
                        r.fwmask = Some(b);
                    }
                    _ => reject(
                        &mut w,
                        cx,
                        v,
                        "bad-value",
                        format!("'{}' is not a valid fwmark", v.text),
                        "MARK or MARK/MASK, as numbers",
                        "rule",
                    ),
                }
            }
            "priority" | "preference" | "order" => {
                let v = w.value(t, cx)?;
                match u32_tok(v) {
                    Some(n) => r.priority = Some(n),
                    None => reject(
                        &mut w,
                        cx,
                        v,
                        "bad-value",
                        format!("'{}' is not a valid rule preference", v.text),
                        "a whole number from 0 to 4294967295",
                        "rule",
                    ),
                }
            }
            "table" | "lookup" => {
                actions.push(t);
                let v = w.value(t, cx)?;
                match table_value(v, cx) {
                    Some(n) => r.table = Some(n),
                    None => reject(
                        &mut w,
                        cx,
                        v,
                        "bad-value",
                        format!("routing table '{}' is not known", v.text),
                        "a table number, main, local, default, or a name from /etc/iproute2/rt_tables",
                        "rule",
                    ),
                }
            }
            "goto" => {
                actions.push(t);
                let v = w.value(t, cx)?;
                match u32_tok(v) {
                    Some(n) => r.goto = Some(n),
                    None => reject(
                        &mut w,
                        cx,
                        v,
                        "bad-value",
                        format!("'{}' is not a valid goto target", v.text),
                        "the preference of the rule to go to",
                        "rule",
                    ),
                }
            }
            "l3mdev" => {
                actions.push(t);
                r.l3mdev = true;
            }
            "blackhole" | "prohibit" | "unreachable" | "nop" => {
                actions.push(t);
                r.rule_type = Some(kw.to_string());
            }
            "type" => {
                actions.push(t);
                let v = w.value(t, cx)?;
                if RULE_TYPES.contains(&v.text.as_str()) {
                    r.rule_type = Some(v.text.clone());
                } else {
                    reject(
                        &mut w,
                        cx,
                        v,
                        "bad-value",
                        format!("'{}' is not a rule action", v.text),
                        "one of blackhole, prohibit, unreachable, nop",
                        "rule",
                    );
                }
            }
            "iif" | "oif" => {
                let v = w.value(t, cx)?;
                check_interface(v, "a rule", cx);
                if kw == "iif" {
                    r.iif = Some(v.text.clone());
                } else {
                    r.oif = Some(v.text.clone());
                }
            }
            "uidrange" | "sport" | "dport" => {
                let v = w.value(t, cx)?;
                let max = if kw == "uidrange" { u32::MAX } else { 65535 };
                match range_value(v, max) {
                    Some(x) if kw == "uidrange" => r.uidrange = Some(x),
                    Some(x) if kw == "sport" => r.sport = Some(x),
                    Some(x) => r.dport = Some(x),
                    None => reject(
                        &mut w,
                        cx,
                        v,
                        "bad-value",
                        format!("'{}' is not a valid {kw} range", v.text),
                        if kw == "uidrange" {
                            "START-END, e.g. 10000-19999"
                        } else {
                            "START-END ports, e.g. 1024-2048 (a single port is written 80-80)"
                        },
                        "rule",
                    ),
                }
            }
            "suppress_prefixlength" | "suppress_ifgroup" => {
                let v = w.value(t, cx)?;
                match u32_tok(v) {
                    Some(n) if kw == "suppress_prefixlength" => r.suppress_prefixlength = Some(n),
                    Some(n) => r.suppress_ifgroup = Some(n),
                    None => reject(
                        &mut w,
                        cx,
                        v,
                        "bad-value",
                        format!("'{}' is not a valid {kw} value", v.text),
                        "a whole number",
                        "rule",
                    ),
                }
            }
            "realms" => {
                let v = w.value(t, cx)?;
                match realms_value(v) {
                    Some(x) => r.realms = Some(x),
                    None => reject(
                        &mut w,
                        cx,
                        v,
                        "bad-value",
                        format!("'{}' is not a valid realm", v.text),
                        "REALM or FROM/TO, as numbers",
                        "rule",
                    ),
                }
            }
            "protocol" => {
                let v = w.value(t, cx)?;
                match number(&v.text).and_then(|n| u8::try_from(n).ok()) {
                    Some(n) => r.protocol = Some(n),
                    None => reject(
                        &mut w,
                        cx,
                        v,
                        "bad-value",
                        format!("'{}' is not a valid rule protocol", v.text),
                        "a number from 0 to 255 (keepalived 2.2.7 takes no names here)",
                        "rule",
                    ),
                }
            }
            "ipproto" => {
                let v = w.value(t, cx)?;
                let lower = v.text.to_ascii_lowercase();
                let p = IPPROTOS
                    .iter()
                    .find(|(n, _)| *n == lower)
                    .map(|(_, n)| *n)
                    .or_else(|| number(&v.text).and_then(|n| u8::try_from(n).ok()));
                match p {
                    Some(n) => r.ipproto = Some(n),
                    None => reject(
                        &mut w,
                        cx,
                        v,
                        "bad-value",
                        format!("'{}' is not an IP protocol", v.text),
                        "a protocol name such as tcp, udp, icmp, or a number 0-255",
                        "rule",
                    ),
                }
            }
            "no_track" => r.no_track = true,
            "track_group" => r.track_group = Some(w.value(t, cx)?.text.clone()),
            _ => {
                let mut d = Diagnostic::new(
                    Severity::Error,
                    "unknown-rule-keyword",
                    format!("unknown rule option '{kw}'; the rule is ignored"),
                )
                .at(t.span);
                if kw == "pref" {
                    d = d.help("write 'priority', 'preference' or 'order' (keepalived 2.2.7 does not take 'pref')");
                } else if kw == "ip_proto" {
                    d = d.help("did you mean 'ipproto'?");
                } else if let Some(sug) = super::suggest(kw, RULE_KEYWORDS.iter().copied()) {
                    d = d.help(format!("did you mean '{sug}'?"));
                }
                cx.push(d);
                w.failed = true;
            }
        }
        if w.failed {
            return None;
        }
    }
    if r.inet6 && fam == Some(false) {
        mixed = true;
    }
    if mixed {
        cx.push(
            Diagnostic::new(
                Severity::Error,
                "mixed-families",
                "the rule mixes IPv4 and IPv6 addresses; the rule is ignored",
            )
            .at(s.keyword().span),
        );
        return None;
    }
    if actions.len() > 1 {
        cx.push(
            Diagnostic::new(
                Severity::Error,
                "rule-action-conflict",
                format!(
                    "a rule takes one action, but '{}' and '{}' are both given; the rule is ignored",
                    actions[0].text, actions[1].text
                ),
            )
            .at(actions[1].span)
            .help("one of table/lookup, goto, l3mdev, blackhole, prohibit, unreachable, nop"),
        );
        return None;
    }
    if actions.is_empty() {
        cx.push(
            Diagnostic::new(
                Severity::Error,
                "rule-no-action",
                "the rule has no action; the rule is ignored",
            )
            .at(s.keyword().span)
            .help("add 'table N' (or goto, l3mdev, blackhole, prohibit, unreachable, nop)"),
        );
        return None;
    }
    if r.table.is_none()
        && (r.suppress_prefixlength.is_some() || r.suppress_ifgroup.is_some() || r.realms.is_some())
    {
        let t = s
            .words
            .iter()
            .find(|t| t.text.starts_with("suppress_") || t.text == "realms")
            .map(|t| t.span)
            .unwrap_or(s.keyword().span);
        cx.push(
            Diagnostic::new(
                Severity::Error,
                "rule-action-conflict",
                "suppress_prefixlength, suppress_ifgroup and realms only go with a 'table' action; the rule is ignored",
            )
            .at(t),
        );
        return None;
    }
    if let Some(p) = r.protocol {
        if p != RTPROT_KEEPALIVED && !r.no_track {
            let t = s
                .words
                .iter()
                .find(|t| t.text == "protocol")
                .map(|t| t.span)
                .unwrap_or(s.keyword().span);
            cx.push(
                Diagnostic::new(
                    Severity::Warning,
                    "rule-protocol-reset",
                    "a tracked rule must have protocol keepalived (18); the protocol is reset to 18",
                )
                .at(t)
                .help("add 'no_track' to keep this protocol, or remove 'protocol'"),
            );
            r.protocol = Some(RTPROT_KEEPALIVED);
        }
    }
    if r.priority.is_none() {
        cx.push(
            Diagnostic::new(
                Severity::Warning,
                "rule-no-preference",
                "the rule has no preference; keepalived assigns one, which is probably not what you want",
            )
            .at(s.keyword().span)
            .help("add 'priority N' so the rules keep their order"),
        );
    }
    Some(r)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests may panic on a broken expectation
mod tests {
    use crate::model::ipspec::{Broadcast, PreferredLifetime};
    use crate::testutil::{codes, load};
    use crate::{load_str, LoadOptions, Severity};
    use std::net::IpAddr;

    fn has(l: &crate::Loaded, code: &str, sev: Severity) -> bool {
        l.diagnostics
            .iter()
            .any(|d| d.code == code && d.severity == sev)
    }

    #[test]
    fn addresses() {
        let l = load(
            "static_ipaddress {\n\
             10.0.0.1/24 brd + dev eth0 scope link label eth0:1 home -nodad mngtmpaddr noprefixroute autojoin no_track preferred_lft forever\n\
             10.0.0.2 dev eth1 scope 200 peer 10.0.0.3 preferred_lft 30\n\
             2001:db8::1 dev eth0\n\
             fe80::1/64 dev eth0\n\
             10.0.0.4/24 brd - dev eth0\n\
             }\n",
        );
        assert!(l.diagnostics.is_empty(), "{}", l.render());
        let a = &l.config.static_ipaddress;
        assert_eq!(a.len(), 5);
        assert_eq!(a[0].prefix_len, 24);
        assert_eq!(a[0].broadcast, Some(Broadcast::SetHostBits));
        assert_eq!(a[0].scope, Some(253));
        assert_eq!(a[0].label.as_deref(), Some("eth0:1"));
        assert!(a[0].home && a[0].nodad && a[0].mngtmpaddr && a[0].noprefixroute);
        assert!(a[0].autojoin && a[0].no_track);
        assert_eq!(a[0].preferred_lft, Some(PreferredLifetime::Forever));
        assert_eq!(a[1].prefix_len, 32);
        assert_eq!(a[1].dev.as_deref(), Some("eth1"));
        assert_eq!(a[1].scope, Some(200));
        assert_eq!(a[1].peer, Some("10.0.0.3".parse::<IpAddr>().unwrap()));
        assert_eq!(a[1].preferred_lft, Some(PreferredLifetime::Seconds(30)));
        assert_eq!(a[2].prefix_len, 128);
        assert_eq!(a[2].scope, None);
        assert_eq!(a[3].scope, Some(253));
        assert_eq!(a[4].broadcast, Some(Broadcast::ClearHostBits));
    }

    #[test]
    fn address_errors() {
        let l = load(
            "static_ipaddress {\n\
             10.0.0.2/33 dev eth0\n\
             10.0.0.300 dev eth0\n\
             2001:db8::2 brd 1.2.3.4 dev eth0\n\
             10.0.0.5 dev eth0 scope foo bogus nodad\n\
             10.0.0.6 dev eth0 dev eth1\n\
             10.0.0.7 dev eth0 use_vmac\n\
             10.0.0.8 dev\n\
             2001:db8::3 dev eth0 scope link label x\n\
             10.0.0.9 dev eth0 track_group G\n\
             10.0.0.10 dev eth0 brd x\n\
             10.0.0.11 dev eth0 brd + peer 10.0.0.12\n\
             }\n",
        );
        let a = &l.config.static_ipaddress;
        // .2 (prefix fixed), .5, .7, .8, ::3, .11
        assert_eq!(a.len(), 6, "{}", l.render());
        assert!(has(&l, "broadcast-with-peer", Severity::Error));
        assert_eq!(a[5].broadcast, None);
        assert_eq!(a[0].prefix_len, 32);
        assert!(has(&l, "bad-prefix", Severity::Error));
        assert!(has(&l, "bad-address", Severity::Error));
        assert!(has(&l, "broadcast-on-ipv6", Severity::Error));
        assert!(has(&l, "bad-value", Severity::Error));
        assert!(has(&l, "unknown-address-option", Severity::Error));
        assert!(has(&l, "duplicate-option", Severity::Error));
        assert!(has(&l, "missing-parameter", Severity::Error));
        assert!(has(&l, "ignored-for-ipv6", Severity::Error));
        assert!(has(&l, "unknown-track-group", Severity::Error));
        let ipv6 = a.iter().find(|x| x.address.is_ipv6()).unwrap();
        assert_eq!(ipv6.scope, None);
        assert_eq!(ipv6.label, None);
    }

    #[test]
    fn vip_takes_use_vmac_and_not_track_group() {
        let l = load("static_ipaddress {\n10.0.0.1 dev eth0\n}\n");
        assert!(l.diagnostics.is_empty());
        let mut cx = super::Ctx::new(None);
        let text = "10.0.0.1/24 use_vmac vrrp.51 no_track\n10.0.0.2 track_group G\n";
        let loaded = load_str("v.conf", text, &LoadOptions::default());
        // Build statements the same way the loader does.
        let stmts = crate::tree::build(&loaded.sources, &mut Vec::new());
        let a = super::vip(&stmts[0], &mut cx).unwrap();
        assert!(a.use_vmac && a.no_track);
        assert_eq!(a.vmac_name, None);
        let b = super::vip(&stmts[1], &mut cx).unwrap();
        assert_eq!(b.track_group, None);
        assert_eq!(
            cx.diags.len(),
            3,
            "use_vmac takes no name; track_group and G both unknown in a VIP"
        );
        assert_eq!(cx.diags[0].code, "ignored");
    }

    #[test]
    fn interfaces_checked() {
        let opts = LoadOptions {
            interfaces: Some(["eth0".to_string()].into_iter().collect()),
            ..LoadOptions::default()
        };
        let l = load_str(
            "t.conf",
            "static_ipaddress {\n10.0.0.1 dev eth9\n10.0.0.2\n}\nstatic_routes {\n10.1.0.0/16 dev eth9\n}\nstatic_rules {\nfrom all iif eth9 table 1 priority 5\n}\n",
            &opts,
        );
        assert_eq!(
            codes(&l),
            vec![
                "unknown-interface",
                "unknown-interface",
                "unknown-interface"
            ]
        );
        assert_eq!(l.config.static_ipaddress.len(), 2);
        let l = load_str(
            "t.conf",
            "static_ipaddress {\n10.0.0.2\n}\n",
            &LoadOptions {
                interfaces: Some(["eth1".to_string()].into_iter().collect()),
                ..LoadOptions::default()
            },
        );
        assert_eq!(codes(&l), vec!["unknown-interface"]);
        assert!(l.config.static_ipaddress.is_empty());
    }

    #[test]
    fn routes() {
        let l = load(
            "static_routes {\n\
             192.168.2.0/24 via 10.0.0.1 dev eth0\n\
             src 10.0.0.5 192.168.3.0/24 via 10.0.0.1 dev eth0 table 100 metric 5 scope link\n\
             to 192.168.4.0/24 dev eth0 protocol keepalived tos 0x10 realms 1/2 mtu lock 1400 advmss 100 features ecn quickack 1 congctl lock cubic onlink append\n\
             blackhole 192.168.5.0/24 no_track\n\
             192.168.6.0/24 table main no_track nexthop via 10.0.0.1 dev eth0 weight 1 onlink nexthop via 10.0.0.2 dev eth1 weight 2\n\
             2001:db8::/64 from 2001:db8:1::/64 dev eth0 pref high expires 30 ttl-propagate disabled\n\
             default via 10.0.0.1 dev eth0\n\
             default via fe80::1 dev eth0 inet6\n\
             192.168.7.0/24 via 10.0.0.1 dev eth0 encap mpls 200/300\n\
             }\n",
        );
        assert!(l.diagnostics.is_empty(), "{}", l.render());
        let r = &l.config.static_routes;
        assert_eq!(r.len(), 9);
        assert_eq!(r[0].to.unwrap().prefix_len, 24);
        assert_eq!(r[0].via, Some("10.0.0.1".parse().unwrap()));
        assert_eq!(r[1].src, Some("10.0.0.5".parse().unwrap()));
        assert_eq!(
            (r[1].table, r[1].metric, r[1].scope),
            (Some(100), Some(5), Some(253))
        );
        assert_eq!(r[2].protocol, Some(18));
        assert_eq!(r[2].tos, Some(16));
        assert_eq!(r[2].realms.map(|x| (x.from, x.to)), Some((1, 2)));
        assert_eq!(
            r[2].metrics.mtu.map(|m| (m.value, m.lock)),
            Some((1400, true))
        );
        assert!(r[2].metrics.features_ecn && r[2].metrics.congctl_lock && r[2].onlink);
        assert_eq!(r[2].mode.as_deref(), Some("append"));
        assert_eq!(r[3].route_type.as_deref(), Some("blackhole"));
        assert_eq!(r[4].nexthops.len(), 2);
        assert_eq!(r[4].nexthops[1].weight, Some(2));
        assert_eq!(r[4].table, Some(254));
        assert!(!r[4].has_interface());
        assert_eq!(r[5].pref.as_deref(), Some("high"));
        assert_eq!(r[5].ttl_propagate, Some(false));
        assert!(r[6].to.unwrap().address.is_ipv4());
        assert!(r[7].to.unwrap().address.is_ipv6());
        assert_eq!(r[8].encap.as_ref().map(|e| e.kind.as_str()), Some("mpls"));
    }

    #[test]
    fn route_diagnostics() {
        let l = load(
            "static_routes {\n\
             192.168.3.0/24 gw 10.0.0.1 dev eth0\n\
             192.168.4.0/24 via 10.0.0.1 or 10.0.0.2 dev eth0\n\
             192.168.5.0/24 via 10.0.0.1\n\
             192.168.6.0/24 dev eth0 protocol bird\n\
             192.168.7.0/24 dev eth0 bogus 3\n\
             192.168.8.0/24 via 2001:db8::1 dev eth0\n\
             dev eth0\n\
             192.168.9.0/24 dev eth0 pref high\n\
             192.168.10.0/24 dev eth0 scope foo\n\
             192.168.11.0/24 nexthop via 10.0.0.1 dev eth0 mtu 5\n\
             192.168.12.0/24 dev eth0 table nosuch\n\
             }\n",
        );
        let c = codes(&l);
        for code in [
            "deprecated",
            "route-not-trackable",
            "route-protocol-reset",
            "unknown-route-keyword",
            "mixed-families",
            "route-no-destination",
            "ipv6-only",
            "bad-value",
        ] {
            assert!(c.contains(&code), "{code} missing: {}", l.render());
        }
        assert_eq!(c.iter().filter(|x| **x == "deprecated").count(), 2);
        // gw, or, no-dev (kept with a warning), protocol reset (kept).
        assert_eq!(l.config.static_routes.len(), 4, "{}", l.render());
        assert_eq!(l.config.static_routes[3].protocol, Some(18));
        assert_eq!(
            l.config.static_routes[1].or,
            Some("10.0.0.2".parse().unwrap())
        );
    }

    #[test]
    fn route_missing_value_is_fatal() {
        let l = load("static_routes {\n192.168.1.0/24 dev eth0 via\n}\n");
        assert!(has(&l, "missing-parameter", Severity::Fatal));
        assert!(l.config.static_routes.is_empty());
        let l = load("static_rules {\nfrom 10.0.0.0/8 table 1 priority\n}\n");
        assert!(has(&l, "missing-parameter", Severity::Fatal));
    }

    #[test]
    fn rules() {
        let l = load(
            "static_rules {\n\
             from 192.168.2.0/24 table 1 priority 10\n\
             not from 10.0.0.0/8 to 10.1.0.0/16 iif eth0 oif eth1 tos 22 fwmark 0x10/0xff preference 11 realms 30/20 lookup main\n\
             to 2001:db8::/32 from 2001:db8:1::/48 uidrange 1000-1999 order 12 table 6908\n\
             from all l3mdev protocol 12 no_track ipproto udp sport 10-20 dport 20-30 priority 13\n\
             from 10.0.0.0/8 type blackhole priority 14 no_track\n\
             from 10.0.0.0/8 goto 100 priority 15\n\
             to 2001:db8::/32 unreachable priority 16 inet6\n\
             }\n",
        );
        assert!(l.diagnostics.is_empty(), "{}", l.render());
        let r = &l.config.static_rules;
        assert_eq!(r.len(), 7);
        assert_eq!((r[0].table, r[0].priority), (Some(1), Some(10)));
        assert!(r[1].not);
        assert_eq!((r[1].fwmark, r[1].fwmask), (Some(16), Some(255)));
        assert_eq!(r[1].table, Some(254));
        assert_eq!(r[2].uidrange.map(|x| (x.start, x.end)), Some((1000, 1999)));
        assert!(r[3].l3mdev);
        assert_eq!(r[3].ipproto, Some(17));
        assert_eq!(r[3].dport.map(|x| x.end), Some(30));
        assert_eq!(r[4].rule_type.as_deref(), Some("blackhole"));
        assert_eq!(r[5].goto, Some(100));
        assert!(r[6].inet6);
    }

    #[test]
    fn rule_diagnostics() {
        let l = load(
            "static_rules {\n\
             from 10.0.0.0/8 table 1\n\
             from 10.0.0.0/8 table 1 goto 5 priority 2\n\
             from 10.0.0.0/8 priority 3\n\
             from 10.0.0.0/8 table 1 pref 4\n\
             from 10.0.0.0/8 to 2001:db8::/32 table 1 priority 5\n\
             from 10.0.0.0/8 table 1 dport 20 priority 6\n\
             from 10.0.0.0/8 table 1 protocol kernel priority 7\n\
             from 10.0.0.0/8 goto 9 suppress_prefixlength 0 priority 8\n\
             from all table 1 protocol 12 priority 9\n\
             inet6 from all table 1 priority 10\n\
             inet6 to 2001:db8::/32 table 1 priority 11\n\
             }\n",
        );
        let c = codes(&l);
        assert_eq!(
            c,
            vec![
                "rule-no-preference",
                "rule-action-conflict",
                "rule-no-action",
                "unknown-rule-keyword",
                "mixed-families",
                "bad-value",
                "bad-value",
                "rule-action-conflict",
                "rule-protocol-reset",
                "inet6-skips-word",
                "unknown-rule-keyword",
                "inet6-skips-word",
                "unknown-rule-keyword"
            ],
            "{}",
            l.render()
        );
        assert_eq!(l.config.static_rules.len(), 2);
        assert_eq!(l.config.static_rules[1].protocol, Some(18));
    }
}
