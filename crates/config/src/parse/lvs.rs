//! `virtual_server_group`, `virtual_server`, `real_server` and the health checker
//! blocks (keepalived.conf(5), "LVS CONFIGURATION").
//!
//! Parsing fills the model as written; [`validate`] then applies the whole-server
//! rules keepalived applies when it finishes reading (defaults, port and address
//! family agreement, quorum limits, duplicate and empty servers) and fills the
//! settings a real server inherits from its virtual server, and a checker from its
//! real server.

use super::values::{self, arity, flag, int, int_tok, one, string, timer};
use super::{dispatch, unknown_keyword, Ctx, Kw};
use crate::diag::{Diagnostic, Severity};
use crate::model::lvs::{
    BfdCheck, Checker, CheckerKind, DnsCheck, FileCheck, Forwarding, HttpCheck, IpFamily,
    LvsMethod, MiscCheck, Protocol, RealServer, SmtpCheck, SorryServer, Ssl, TunnelChecksum,
    TunnelType, UdpCheck, Url, VirtualServer, VirtualServerGroup, VsAddress, VsgEntry,
};
use crate::model::{Config, Script, Secs};
use crate::source::Span;
use crate::tree::{Stmt, Token};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

const U32_MAX: i64 = u32::MAX as i64;
const I32_MAX: i64 = i32::MAX as i64;
/// Longest `persistence_timeout` keepalived accepts: 31 days.
const MAX_PERSISTENCE: i64 = 2_678_400;
/// Default `persistence_timeout` when the keyword has no value (6 minutes).
const DEFAULT_PERSISTENCE: u32 = 360;
/// Timers are kept in microseconds in a u32 by keepalived's checkers; stay well inside.
const MAX_TIMER: f64 = 4_294.967_295;
/// `delay_loop` may be far longer.
const MAX_DELAY_LOOP: f64 = 18_446_744_073_709.0;

/// The schedulers `lvs_sched` accepts.
pub const SCHEDULERS: &[&str] = &[
    "rr", "wrr", "lc", "wlc", "lblc", "sh", "mh", "dh", "fo", "ovf", "lblcr", "sed", "nq", "twos",
];

/// The checker block names a real server accepts.
pub const CHECKERS: &[&str] = &[
    "HTTP_GET",
    "SSL_GET",
    "TCP_CHECK",
    "SMTP_CHECK",
    "DNS_CHECK",
    "MISC_CHECK",
    "UDP_CHECK",
    "PING_CHECK",
    "FILE_CHECK",
    "BFD_CHECK",
];

// ---------------------------------------------------------------------------
// Small value parsers

fn port_tok(tok: &Token, cx: &mut Ctx) -> Option<u16> {
    int_tok::<u16>(tok, 0, 65535, cx)
}

fn port(stmt: &Stmt, cx: &mut Ctx) -> Option<u16> {
    one(stmt, cx).and_then(|t| port_tok(t, cx))
}

/// `keyword [BOOL]` where the bare keyword means true.
fn opt_bool(stmt: &Stmt, cx: &mut Ctx) -> Option<bool> {
    flag(stmt, cx)
}

/// A `<TIMER>` that must be positive (delay_loop, connect_timeout).
fn positive_timer(stmt: &Stmt, max: f64, cx: &mut Ctx) -> Option<Secs> {
    let t = timer(stmt, 0.0, max, cx)?;
    if t.micros == 0 {
        cx.push(
            Diagnostic::new(
                Severity::Error,
                "out-of-range",
                format!(
                    "'{}' must be greater than 0; the value is ignored",
                    stmt.keyword().text
                ),
            )
            .at(stmt.args()[0].span),
        );
        return None;
    }
    Some(t)
}

fn any_timer(stmt: &Stmt, cx: &mut Ctx) -> Option<Secs> {
    timer(stmt, 0.0, MAX_TIMER, cx)
}

/// `NAT|DR|TUN [type ipip|gue port N|gre [nocsum|csum|remcsum]]`.
fn forwarding(stmt: &Stmt, cx: &mut Ctx) -> Option<Forwarding> {
    if !arity(stmt, 1, 6, cx) {
        return None;
    }
    let a = stmt.args();
    let method = match values::choice_tok(&a[0], &["NAT", "DR", "TUN"], false, cx)? {
        "NAT" => LvsMethod::NAT,
        "DR" => LvsMethod::DR,
        _ => LvsMethod::TUN,
    };
    let mut f = Forwarding::plain(method);
    if a.len() == 1 {
        return Some(f);
    }
    if method != LvsMethod::TUN {
        cx.warning(
            "extra-parameter",
            a[1].span,
            format!(
                "tunnel options only apply to TUN; '{}' and what follows are ignored",
                a[1].text
            ),
        );
        return Some(f);
    }
    if a[1].text != "type" {
        cx.push(
            Diagnostic::new(
                Severity::Error,
                "bad-value",
                format!("'{}' is not a TUN option; the line is ignored", a[1].text),
            )
            .at(a[1].span)
            .help("TUN [type ipip|gue port NUM|gre [nocsum|csum|remcsum]]"),
        );
        return None;
    }
    let Some(tt) = a.get(2) else {
        cx.error(
            "missing-parameter",
            a[1].span,
            "'type' needs a tunnel type (ipip, gue or gre); the line is ignored",
        );
        return None;
    };
    let mut rest = 3;
    f.tunnel_type = Some(
        match values::choice_tok(tt, &["ipip", "gue", "gre"], false, cx)? {
            "ipip" => TunnelType::Ipip,
            "gre" => TunnelType::Gre,
            _ => TunnelType::Gue,
        },
    );
    if f.tunnel_type == Some(TunnelType::Gue) {
        match (a.get(3), a.get(4)) {
            (Some(p), Some(n)) if p.text == "port" => {
                f.tunnel_port = Some(int_tok::<u16>(n, 1, 65535, cx)?);
                rest = 5;
            }
            _ => {
                cx.push(
                    Diagnostic::new(
                        Severity::Error,
                        "missing-parameter",
                        "a gue tunnel needs 'port NUM'; the line is ignored",
                    )
                    .at(tt.span)
                    .help("TUN type gue port 6080"),
                );
                return None;
            }
        }
    }
    if let Some(c) = a.get(rest) {
        let csum = match values::choice_tok(c, &["nocsum", "csum", "remcsum"], false, cx)? {
            "nocsum" => TunnelChecksum::Nocsum,
            "csum" => TunnelChecksum::Csum,
            _ => TunnelChecksum::Remcsum,
        };
        let bad = match f.tunnel_type {
            Some(TunnelType::Ipip) => Some("ipip tunnels have no checksum option"),
            Some(TunnelType::Gre) if csum == TunnelChecksum::Remcsum => {
                Some("gre tunnels do not support remcsum")
            }
            _ => None,
        };
        if let Some(msg) = bad {
            cx.error("bad-value", c.span, format!("{msg}; the line is ignored"));
            return None;
        }
        f.tunnel_checksum = Some(csum);
        if let Some(x) = a.get(rest + 1) {
            cx.warning(
                "extra-parameter",
                x.span,
                format!("'{}' and what follows are ignored", x.text),
            );
        }
    }
    Some(f)
}

/// Parses `ADDRESS` as a range: `A`, `A-LAST_GROUP`, `A-B` or `A/LEN`.
fn ip_range(tok: &Token, cx: &mut Ctx) -> Option<(IpAddr, IpAddr)> {
    let s = tok.text.as_str();
    let bad = |cx: &mut Ctx, why: &str| {
        cx.push(
            Diagnostic::new(
                Severity::Error,
                "bad-address",
                format!(
                    "'{s}' is not a valid address or address range ({why}); the line is ignored"
                ),
            )
            .at(tok.span)
            .help("ADDR, ADDR-LAST (e.g. 192.168.200.1-10), ADDR-ADDR or ADDR/LEN"),
        );
        None
    };
    if let Some((a, len)) = s.split_once('/') {
        let Ok(ip) = a.parse::<IpAddr>() else {
            return bad(cx, "bad address");
        };
        let bits = if ip.is_ipv4() { 32 } else { 128 };
        let Ok(len) = len.parse::<u32>() else {
            return bad(cx, "bad prefix length");
        };
        if len > bits {
            return bad(cx, "prefix length too long");
        }
        let host = bits - len;
        return match ip {
            IpAddr::V4(v) => {
                let n = u32::from(v);
                let mask = if host == 32 {
                    u32::MAX
                } else {
                    (1u32 << host) - 1
                };
                if n & mask != 0 {
                    return bad(cx, "host bits are set after the prefix");
                }
                Some((ip, IpAddr::V4(Ipv4Addr::from(n | mask))))
            }
            IpAddr::V6(v) => {
                let n = u128::from(v);
                let mask = if host == 128 {
                    u128::MAX
                } else {
                    (1u128 << host) - 1
                };
                if n & mask != 0 {
                    return bad(cx, "host bits are set after the prefix");
                }
                Some((ip, IpAddr::V6(Ipv6Addr::from(n | mask))))
            }
        };
    }
    let Some((a, b)) = s.split_once('-') else {
        return match s.parse::<IpAddr>() {
            Ok(ip) => Some((ip, ip)),
            Err(_) => bad(cx, "bad address"),
        };
    };
    let Ok(first) = a.parse::<IpAddr>() else {
        return bad(cx, "bad start address");
    };
    let last = if let Ok(full) = b.parse::<IpAddr>() {
        if full.is_ipv4() != first.is_ipv4() {
            return bad(cx, "the two ends are of different address families");
        }
        full
    } else {
        match first {
            IpAddr::V4(v) => {
                let Ok(o) = b.parse::<u8>() else {
                    return bad(cx, "bad last octet");
                };
                let mut oct = v.octets();
                oct[3] = o;
                IpAddr::V4(Ipv4Addr::from(oct))
            }
            IpAddr::V6(v) => {
                let Ok(g) = u16::from_str_radix(b, 16) else {
                    return bad(cx, "bad last group");
                };
                let mut seg = v.segments();
                seg[7] = g;
                IpAddr::V6(Ipv6Addr::from(seg))
            }
        }
    };
    if last <= first {
        return bad(cx, "the end is not after the start");
    }
    Some((first, last))
}

/// A hex string in keepalived's free format: each word is read two digits per byte,
/// an odd digit left over making a byte of its own. `x` (nibble wildcard) only where
/// `wildcard`.
fn hex_bytes(words: &[Token], wildcard: bool, cx: &mut Ctx) -> Option<String> {
    let mut out = String::new();
    for w in words {
        let digits: Vec<char> = w.text.chars().collect();
        for pair in digits.chunks(2) {
            for c in pair {
                let ok = c.is_ascii_hexdigit() || (wildcard && (*c == 'x' || *c == 'X'));
                if !ok {
                    cx.error(
                        "bad-value",
                        w.span,
                        format!("'{}' is not a hex string; the line is ignored", w.text),
                    );
                    return None;
                }
            }
            if pair.len() == 1 {
                out.push('0');
            }
            out.extend(pair.iter().map(|c| c.to_ascii_lowercase()));
        }
    }
    Some(out)
}

fn set_script<S: From<Script>>(slot: &mut Option<S>, stmt: &Stmt, cx: &mut Ctx) {
    if slot.is_some() {
        cx.error(
            "duplicate-keyword",
            stmt.span(),
            format!(
                "'{}' is already set for this server; this one is ignored",
                stmt.keyword().text
            ),
        );
        return;
    }
    if let Some(s) = values::script(stmt, cx) {
        *slot = Some(s.into());
    }
}

// ---------------------------------------------------------------------------
// SSL

/// The top-level `SSL { password | ca | certificate | key }` block. keepalived reads
/// a second block as a replacement of the first, and a repeated keyword as a
/// replacement of its value, each with an error line; both are warnings here.
pub fn ssl(c: &mut Config, s: &Stmt, cx: &mut Ctx) {
    if !arity(s, 0, 0, cx) {
        return;
    }
    let Some(block) = cx.block(s) else { return };
    if c.ssl.is_some() {
        cx.warning(
            "duplicate-block",
            s.keyword().span,
            "a second SSL block replaces the first (keepalived: \"SSL context already specified - replacing\")",
        );
    }
    let mut ssl = Ssl::default();
    dispatch(&mut ssl, &block.items, SSL_KEYWORDS, "SSL", cx);
    c.ssl = Some(ssl);
}

static SSL_KEYWORDS: &[Kw<Ssl>] = &[
    super::kw("password", |t, s, cx| ssl_value(&mut t.password, s, cx)),
    super::kw("ca", |t, s, cx| ssl_value(&mut t.ca, s, cx)),
    super::kw("certificate", |t, s, cx| {
        ssl_value(&mut t.certificate, s, cx)
    }),
    super::kw("key", |t, s, cx| ssl_value(&mut t.key, s, cx)),
];

fn ssl_value(slot: &mut Option<String>, s: &Stmt, cx: &mut Ctx) {
    let Some(v) = string(s, cx) else { return };
    if slot.is_some() {
        cx.warning(
            "duplicate-keyword",
            s.keyword().span,
            format!(
                "SSL '{}' is already set; this value replaces it",
                s.keyword().text
            ),
        );
    }
    *slot = Some(v);
}

// ---------------------------------------------------------------------------
// virtual_server_group

pub fn virtual_server_group(c: &mut Config, s: &Stmt, cx: &mut Ctx) {
    if !arity(s, 1, 1, cx) {
        return;
    }
    let Some(block) = cx.block(s) else { return };
    let mut g = VirtualServerGroup {
        name: s.args()[0].text.clone(),
        entries: Vec::new(),
        span: s.args()[0].span,
    };
    for item in &block.items {
        if item.block.is_some() {
            cx.error(
                "unexpected-block",
                item.span(),
                "a virtual_server_group entry does not take a block; the block is ignored",
            );
        }
        let w = &item.words;
        if w[0].text == "fwmark" {
            if !arity(item, 1, 2, cx) {
                continue;
            }
            let Some(mark) = int_tok::<u32>(&w[1], 0, U32_MAX, cx) else {
                continue;
            };
            let family = match w.get(2) {
                None => None,
                Some(t) => match values::choice_tok(t, &["inet", "inet6"], false, cx) {
                    Some("inet") => Some(IpFamily::Inet),
                    Some(_) => Some(IpFamily::Inet6),
                    None => continue,
                },
            };
            g.entries.push(VsgEntry::Fwmark {
                fwmark: mark,
                family,
            });
            continue;
        }
        let Some((first, last)) = ip_range(&w[0], cx) else {
            continue;
        };
        let port = match w.get(1) {
            Some(t) => match port_tok(t, cx) {
                Some(p) => Some(p),
                None => continue,
            },
            None => None,
        };
        if let Some(x) = w.get(2) {
            cx.warning(
                "extra-parameter",
                x.span,
                format!("'{}' and what follows are ignored", x.text),
            );
        }
        g.entries.push(VsgEntry::Range { first, last, port });
    }
    c.virtual_server_groups.push(g);
}

// ---------------------------------------------------------------------------
// virtual_server

static VS: &[Kw<VirtualServer>] = &[
    super::kw("ip_family", |v, s, cx| {
        v.ip_family = match values::choice(s, &["inet", "inet6"], cx) {
            Some("inet") => Some(IpFamily::Inet),
            Some(_) => Some(IpFamily::Inet6),
            None => v.ip_family,
        }
    }),
    super::kw("delay_loop", |v, s, cx| {
        v.delay_loop = positive_timer(s, MAX_DELAY_LOOP, cx).or(v.delay_loop)
    }),
    super::kw("lvs_sched", sched),
    super::kw("lb_algo", sched),
    super::kw("hashed", |v, s, cx| {
        arity(s, 0, 0, cx);
        v.hashed = true
    }),
    super::kw("flag-1", sched_flag),
    super::kw("flag-2", sched_flag),
    super::kw("flag-3", sched_flag),
    super::kw("sh-port", sched_flag),
    super::kw("sh-fallback", sched_flag),
    super::kw("mh-port", sched_flag),
    super::kw("mh-fallback", sched_flag),
    super::kw("ops", |v, s, cx| {
        arity(s, 0, 0, cx);
        v.ops = true
    }),
    super::kw("lvs_method", |v, s, cx| {
        v.lvs_method = forwarding(s, cx).or(v.lvs_method)
    }),
    super::kw("lb_kind", |v, s, cx| {
        v.lvs_method = forwarding(s, cx).or(v.lvs_method)
    }),
    super::kw("persistence_engine", |v, s, cx| {
        v.persistence_engine = string(s, cx).or(v.persistence_engine.take())
    }),
    super::kw("persistence_timeout", |v, s, cx| {
        if s.args().is_empty() {
            v.persistence_timeout = Some(DEFAULT_PERSISTENCE);
        } else if let Some(t) = int(s, 1, MAX_PERSISTENCE, cx) {
            v.persistence_timeout = Some(t);
        }
    }),
    super::kw("persistence_granularity", granularity),
    super::kw("protocol", |v, s, cx| {
        let Some(t) = one(s, cx) else { return };
        v.protocol = match values::choice_tok(t, &["TCP", "UDP", "SCTP"], true, cx) {
            Some("TCP") => Some(Protocol::TCP),
            Some("UDP") => Some(Protocol::UDP),
            Some(_) => Some(Protocol::SCTP),
            None => v.protocol,
        }
    }),
    super::kw("ha_suspend", |v, s, cx| {
        arity(s, 0, 0, cx);
        v.ha_suspend = true
    }),
    super::kw("smtp_alert", |v, s, cx| {
        v.smtp_alert = opt_bool(s, cx).or(v.smtp_alert)
    }),
    super::kw("virtualhost", |v, s, cx| {
        v.virtualhost = string(s, cx).or(v.virtualhost.take())
    }),
    super::kw("snmp_name", |v, s, cx| {
        v.snmp_name = string(s, cx).or(v.snmp_name.take())
    }),
    super::kw("alpha", |v, s, cx| {
        v.alpha = opt_bool(s, cx).unwrap_or(v.alpha)
    }),
    super::kw("omega", |v, s, cx| {
        v.omega = opt_bool(s, cx).unwrap_or(v.omega)
    }),
    super::kw("quorum", |v, s, cx| {
        v.quorum = int(s, 1, U32_MAX, cx).unwrap_or(v.quorum)
    }),
    super::kw("hysteresis", |v, s, cx| {
        v.hysteresis = int(s, 0, U32_MAX, cx).unwrap_or(v.hysteresis)
    }),
    super::kw("quorum_up", |v, s, cx| set_script(&mut v.quorum_up, s, cx)),
    super::kw("quorum_down", |v, s, cx| {
        set_script(&mut v.quorum_down, s, cx)
    }),
    super::kw("sorry_server", sorry_server),
    super::kw("sorry_server_inhibit", |v, s, cx| {
        let on = opt_bool(s, cx);
        match (&mut v.sorry_server, on) {
            (Some(ss), Some(on)) => ss.sorry_server_inhibit = on,
            (None, _) => cx.push(
                Diagnostic::new(
                    Severity::Error,
                    "sorry-server-missing",
                    "'sorry_server_inhibit' comes before (or without) 'sorry_server'; the line is ignored",
                )
                .at(s.span())
                .help("put sorry_server IP [PORT] before this line"),
            ),
            _ => {}
        }
    }),
    super::kw("sorry_server_lvs_method", |v, s, cx| {
        let f = forwarding(s, cx);
        match &mut v.sorry_server {
            Some(ss) => ss.sorry_server_lvs_method = f.or(ss.sorry_server_lvs_method),
            None => cx.push(
                Diagnostic::new(
                    Severity::Error,
                    "sorry-server-missing",
                    "'sorry_server_lvs_method' comes before (or without) 'sorry_server'; the line is ignored",
                )
                .at(s.span())
                .help("put sorry_server IP [PORT] before this line"),
            ),
        }
    }),
    super::kw("connect_timeout", |v, s, cx| {
        v.connect_timeout = positive_timer(s, MAX_TIMER, cx).or(v.connect_timeout)
    }),
    super::kw("retry", |v, s, cx| {
        v.retry = int(s, 1, U32_MAX, cx).or(v.retry)
    }),
    super::kw("delay_before_retry", |v, s, cx| {
        v.delay_before_retry = any_timer(s, cx).or(v.delay_before_retry)
    }),
    super::kw("warmup", |v, s, cx| {
        v.warmup = any_timer(s, cx).or(v.warmup)
    }),
    super::kw("inhibit_on_failure", |v, s, cx| {
        v.inhibit_on_failure = opt_bool(s, cx).unwrap_or(v.inhibit_on_failure)
    }),
    super::kw("weight", |v, s, cx| {
        v.weight = int(s, 1, I32_MAX, cx).or(v.weight)
    }),
    super::kb("real_server", real_server),
];

fn sched(v: &mut VirtualServer, s: &Stmt, cx: &mut Ctx) {
    let Some(t) = one(s, cx) else { return };
    if let Some(n) = values::choice_tok(t, SCHEDULERS, false, cx) {
        v.lvs_sched = Some(n.to_string());
    }
}

fn sched_flag(v: &mut VirtualServer, s: &Stmt, cx: &mut Ctx) {
    arity(s, 0, 0, cx);
    let name = s.keyword().text.as_str();
    // keepalived applies sh-* only when lvs_sched sh was already given, and mh-* to mh.
    let needs = if name.starts_with("sh-") {
        Some("sh")
    } else if name.starts_with("mh-") {
        Some("mh")
    } else {
        None
    };
    if let Some(need) = needs {
        if v.lvs_sched.as_deref() != Some(need) {
            cx.push(
                Diagnostic::new(
                    Severity::Error,
                    "scheduler-flag-mismatch",
                    format!("'{name}' only applies to the {need} scheduler; the flag is ignored"),
                )
                .at(s.span())
                .help(format!("set 'lvs_sched {need}' before this line")),
            );
            return;
        }
    }
    if !v.sched_flags.iter().any(|f| f == name) {
        v.sched_flags.push(name.to_string());
    }
}

fn granularity(v: &mut VirtualServer, s: &Stmt, cx: &mut Ctx) {
    let Some(t) = one(s, cx) else { return };
    let v6 = match v.ip_family {
        Some(f) => f == IpFamily::Inet6,
        None => !t.text.contains('.'),
    };
    let ok = if v6 {
        matches!(t.text.parse::<u8>(), Ok(1..=128))
    } else {
        match t.text.parse::<Ipv4Addr>() {
            Ok(m) => {
                let n = u32::from(m);
                if n.leading_ones() + n.trailing_zeros() != 32 {
                    // keepalived 2.2.7 takes it as written; the kernel masks with it.
                    cx.note(
                        "granularity-not-contiguous",
                        t.span,
                        format!("netmask {m} has non-contiguous bits; clients are grouped by exactly these bits"),
                    );
                }
                true
            }
            Err(_) => false,
        }
    };
    if !ok {
        cx.push(
            Diagnostic::new(
                Severity::Error,
                "bad-value",
                format!(
                    "'{}' is not a valid persistence_granularity; the line is ignored",
                    t.text
                ),
            )
            .at(t.span)
            .help("an IPv4 netmask with contiguous bits (e.g. 255.255.255.0), or an IPv6 prefix length 1-128"),
        );
        return;
    }
    v.persistence_granularity = Some(t.text.clone());
    if v.persistence_timeout.is_none() {
        v.persistence_timeout = Some(DEFAULT_PERSISTENCE);
    }
}

fn sorry_server(v: &mut VirtualServer, s: &Stmt, cx: &mut Ctx) {
    if !arity(s, 1, 2, cx) {
        return;
    }
    let a = s.args();
    let Some(ip) = values::ip_tok(&a[0], cx) else {
        return;
    };
    let port = match a.get(1) {
        Some(t) => match port_tok(t, cx) {
            Some(p) => Some(p),
            None => return,
        },
        None => None,
    };
    v.sorry_server = Some(SorryServer {
        ip,
        port,
        sorry_server_inhibit: false,
        sorry_server_lvs_method: None,
        span: a[0].span,
    });
}

pub fn virtual_server(c: &mut Config, s: &Stmt, cx: &mut Ctx) {
    if !arity(s, 1, 2, cx) {
        return;
    }
    let a = s.args();
    let address = match a[0].text.as_str() {
        "fwmark" | "group" if a.len() < 2 => {
            cx.error(
                "missing-parameter",
                a[0].span,
                format!(
                    "'virtual_server {}' needs a value; the virtual server is dropped",
                    a[0].text
                ),
            );
            return;
        }
        "fwmark" => match int_tok::<u32>(&a[1], 0, U32_MAX, cx) {
            Some(m) => VsAddress::Fwmark { fwmark: m },
            None => {
                dropped(cx, a[1].span);
                return;
            }
        },
        "group" => VsAddress::Group {
            group: a[1].text.clone(),
        },
        _ => {
            let Some(ip) = values::ip_tok(&a[0], cx) else {
                dropped(cx, a[0].span);
                return;
            };
            let port = match a.get(1) {
                Some(t) => match port_tok(t, cx) {
                    Some(p) => Some(p),
                    None => {
                        dropped(cx, t.span);
                        return;
                    }
                },
                None => None,
            };
            VsAddress::Ip { ip, port }
        }
    };
    let Some(block) = cx.block(s) else { return };
    let mut v = VirtualServer {
        address,
        quorum: 1,
        span: a[0].span,
        ..Default::default()
    };
    let section = format!("virtual_server {}", v.address);
    dispatch(&mut v, &block.items, VS, &section, cx);
    c.virtual_servers.push(v);
}

fn dropped(cx: &mut Ctx, span: Span) {
    cx.error(
        "virtual-server-dropped",
        span,
        "this virtual server cannot be used and is dropped with its real servers",
    );
}

// ---------------------------------------------------------------------------
// real_server

static RS: &[Kw<RealServer>] = &[
    super::kw("weight", |r, s, cx| {
        r.weight = int(s, 0, I32_MAX, cx).or(r.weight)
    }),
    super::kw("lvs_method", |r, s, cx| {
        r.lvs_method = forwarding(s, cx).or(r.lvs_method)
    }),
    super::kw("notify_up", |r, s, cx| set_script(&mut r.notify_up, s, cx)),
    super::kw("notify_down", |r, s, cx| {
        set_script(&mut r.notify_down, s, cx)
    }),
    super::kw("uthreshold", |r, s, cx| {
        r.uthreshold = int(s, 0, U32_MAX, cx).or(r.uthreshold)
    }),
    super::kw("lthreshold", |r, s, cx| {
        r.lthreshold = int(s, 0, U32_MAX, cx).or(r.lthreshold)
    }),
    super::kw("smtp_alert", |r, s, cx| {
        r.smtp_alert = opt_bool(s, cx).or(r.smtp_alert)
    }),
    super::kw("virtualhost", |r, s, cx| {
        r.virtualhost = string(s, cx).or(r.virtualhost.take())
    }),
    super::kw("snmp_name", |r, s, cx| {
        r.snmp_name = string(s, cx).or(r.snmp_name.take())
    }),
    super::kw("alpha", |r, s, cx| r.alpha = opt_bool(s, cx).or(r.alpha)),
    super::kw("connect_timeout", |r, s, cx| {
        r.connect_timeout = positive_timer(s, MAX_TIMER, cx).or(r.connect_timeout)
    }),
    super::kw("retry", |r, s, cx| {
        r.retry = int(s, 1, U32_MAX, cx).or(r.retry)
    }),
    super::kw("delay_before_retry", |r, s, cx| {
        r.delay_before_retry = any_timer(s, cx).or(r.delay_before_retry)
    }),
    super::kw("warmup", |r, s, cx| {
        r.warmup = any_timer(s, cx).or(r.warmup)
    }),
    super::kw("delay_loop", |r, s, cx| {
        r.delay_loop = positive_timer(s, MAX_DELAY_LOOP, cx).or(r.delay_loop)
    }),
    super::kw("inhibit_on_failure", |r, s, cx| {
        r.inhibit_on_failure = opt_bool(s, cx).or(r.inhibit_on_failure)
    }),
    super::kb("HTTP_GET", |r, s, cx| {
        checker(r, s, CheckerKind::HttpGet(HttpCheck::default()), cx)
    }),
    super::kb("SSL_GET", |r, s, cx| {
        checker(r, s, CheckerKind::SslGet(HttpCheck::default()), cx)
    }),
    super::kb("TCP_CHECK", |r, s, cx| {
        checker(r, s, CheckerKind::TcpCheck, cx)
    }),
    super::kb("SMTP_CHECK", |r, s, cx| {
        checker(r, s, CheckerKind::SmtpCheck(SmtpCheck::default()), cx)
    }),
    super::kb("DNS_CHECK", |r, s, cx| {
        checker(r, s, CheckerKind::DnsCheck(DnsCheck::default()), cx)
    }),
    super::kb("MISC_CHECK", |r, s, cx| {
        checker(r, s, CheckerKind::MiscCheck(MiscCheck::default()), cx)
    }),
    super::kb("UDP_CHECK", |r, s, cx| {
        checker(r, s, CheckerKind::UdpCheck(UdpCheck::default()), cx)
    }),
    super::kb("PING_CHECK", |r, s, cx| {
        checker(r, s, CheckerKind::PingCheck, cx)
    }),
    super::kb("ICMP_CHECK", |r, s, cx| {
        checker(r, s, CheckerKind::PingCheck, cx)
    }),
    super::kb("FILE_CHECK", |r, s, cx| {
        checker(r, s, CheckerKind::FileCheck(FileCheck::default()), cx)
    }),
    super::kb("BFD_CHECK", |r, s, cx| {
        checker(r, s, CheckerKind::BfdCheck(BfdCheck::default()), cx)
    }),
];

fn real_server(v: &mut VirtualServer, s: &Stmt, cx: &mut Ctx) {
    if !arity(s, 1, 2, cx) {
        return;
    }
    let a = s.args();
    let drop_rs = |cx: &mut Ctx, span: Span| {
        cx.error(
            "real-server-dropped",
            span,
            "this real server cannot be used and is dropped",
        )
    };
    let Some(ip) = values::ip_tok(&a[0], cx) else {
        drop_rs(cx, a[0].span);
        return;
    };
    let port = match a.get(1) {
        Some(t) => match port_tok(t, cx) {
            Some(p) => Some(p),
            None => {
                drop_rs(cx, t.span);
                return;
            }
        },
        None => None,
    };
    let Some(block) = cx.block(s) else { return };
    let mut r = RealServer::new(ip, port, a[0].span);
    let section = format!("real_server {}", a[0].text);
    for item in &block.items {
        let word = item.keyword().text.as_str();
        if RS.iter().any(|k| k.name == word) {
            dispatch(&mut r, std::slice::from_ref(item), RS, &section, cx);
        } else if word.chars().any(|c| c.is_ascii_uppercase())
            && super::suggest(word, CHECKERS.iter().copied()).is_none()
        {
            // An upper-case word where a checker goes: most often a checker keepalived
            // no longer has (CI-LINUX) or one this build lacks.
            cx.push(
                Diagnostic::new(
                    Severity::Error,
                    "unknown-checker",
                    format!("unknown keyword '{word}' in {section}: there is no such health checker; the line is ignored"),
                )
                .at(item.span())
                .help(format!("the checkers are {}", CHECKERS.join(", "))),
            );
        } else {
            unknown_keyword(item.keyword(), RS.iter().map(|k| k.name), &section, cx);
        }
    }
    v.real_servers.push(r);
}

// ---------------------------------------------------------------------------
// checkers

/// Connection options: every checker but MISC_CHECK, FILE_CHECK and BFD_CHECK.
static CONN: &[Kw<Checker>] = &[
    super::kw("connect_ip", |c, s, cx| {
        c.connect_ip = values::ip(s, cx).or(c.connect_ip)
    }),
    super::kw("connect_port", |c, s, cx| {
        c.connect_port = port(s, cx).or(c.connect_port)
    }),
    super::kw("bindto", |c, s, cx| {
        c.bindto = values::ip(s, cx).or(c.bindto)
    }),
    super::kw("bind_port", |c, s, cx| {
        c.bind_port = port(s, cx).or(c.bind_port)
    }),
    super::kw("bind_if", |c, s, cx| {
        let Some(n) = string(s, cx) else { return };
        if n.len() > 15 {
            cx.error(
                "bad-value",
                s.args()[0].span,
                format!("interface name '{n}' is longer than 15 characters; the line is ignored"),
            );
            return;
        }
        c.bind_if = Some(n)
    }),
    super::kw("fwmark", |c, s, cx| {
        c.fwmark = int(s, 0, U32_MAX, cx).or(c.fwmark)
    }),
];

/// Timing options: every checker but FILE_CHECK and BFD_CHECK.
static TIMING: &[Kw<Checker>] = &[
    super::kw("alpha", |c, s, cx| c.alpha = opt_bool(s, cx).or(c.alpha)),
    super::kw("connect_timeout", |c, s, cx| {
        c.connect_timeout = positive_timer(s, MAX_TIMER, cx).or(c.connect_timeout)
    }),
    super::kw("retry", |c, s, cx| {
        c.retry = int(s, 0, U32_MAX, cx).or(c.retry)
    }),
    super::kw("delay_before_retry", |c, s, cx| {
        c.delay_before_retry = any_timer(s, cx).or(c.delay_before_retry)
    }),
    super::kw("warmup", |c, s, cx| {
        c.warmup = any_timer(s, cx).or(c.warmup)
    }),
    super::kw("delay_loop", |c, s, cx| {
        c.delay_loop = positive_timer(s, MAX_DELAY_LOOP, cx).or(c.delay_loop)
    }),
    super::kw("log_all_failures", |c, s, cx| {
        c.log_all_failures = opt_bool(s, cx).or(c.log_all_failures)
    }),
];

fn http(c: &mut Checker) -> Option<&mut HttpCheck> {
    match &mut c.kind {
        CheckerKind::HttpGet(h) | CheckerKind::SslGet(h) => Some(h),
        _ => None,
    }
}

static HTTP: &[Kw<Checker>] = &[
    super::kw("http_protocol", |c, s, cx| {
        let Some(t) = one(s, cx) else { return };
        let Some(p) = values::choice_tok(t, &["1.0", "1.0C", "1.0c", "1.1"], false, cx) else {
            return;
        };
        if let Some(h) = http(c) {
            h.http_protocol = Some(p.to_ascii_uppercase());
        }
    }),
    super::kw("virtualhost", |c, s, cx| {
        let v = string(s, cx);
        if let Some(h) = http(c) {
            h.virtualhost = v.or(h.virtualhost.take());
        }
    }),
    super::kw("fast_recovery", |c, s, cx| {
        let v = opt_bool(s, cx);
        if let (Some(h), Some(v)) = (http(c), v) {
            h.fast_recovery = v;
        }
    }),
    super::kw("enable_sni", |c, s, cx| {
        let v = opt_bool(s, cx);
        if let (Some(h), Some(v)) = (http(c), v) {
            h.enable_sni = v;
        }
    }),
    super::kw("sni_name", |c, s, cx| {
        let v = string(s, cx);
        if let Some(h) = http(c) {
            h.sni_name = v.or(h.sni_name.take());
        }
    }),
    super::kw("tls_compliant", |c, s, cx| {
        super::newer::not_yet(s, "SSL_GET", None, cx);
        let v = opt_bool(s, cx);
        if let (Some(h), Some(v)) = (http(c), v) {
            h.tls_compliant = v;
        }
    }),
    super::kw("nb_get_retry", |c, s, cx| {
        cx.push(
            Diagnostic::new(
                Severity::Warning,
                "deprecated",
                "'nb_get_retry' is deprecated; it is read as 'retry'",
            )
            .at(s.span())
            .help("write 'retry' instead"),
        );
        c.retry = int(s, 0, U32_MAX, cx).or(c.retry);
    }),
    super::kb("url", url),
];

static URL: &[Kw<Url>] = &[
    super::kw("path", |u, s, cx| u.path = string(s, cx).or(u.path.take())),
    super::kw("digest", |u, s, cx| {
        let Some(t) = one(s, cx) else { return };
        if t.text.len() != 32 || !t.text.chars().all(|c| c.is_ascii_hexdigit()) {
            cx.push(
                Diagnostic::new(
                    Severity::Error,
                    "bad-value",
                    format!("'{}' is not an MD5 digest; the line is ignored", t.text),
                )
                .at(t.span)
                .help("32 hex digits, as genhash prints them"),
            );
            return;
        }
        u.digest = Some(t.text.to_ascii_lowercase());
    }),
    super::kw("status_code", |u, s, cx| {
        if !arity(s, 1, usize::MAX, cx) {
            return;
        }
        for t in s.args() {
            let (lo, hi) = match t.text.split_once('-') {
                Some((a, b)) => (a, b),
                None => (t.text.as_str(), t.text.as_str()),
            };
            match (lo.parse::<u16>(), hi.parse::<u16>()) {
                (Ok(l), Ok(h)) if (100..=599).contains(&l) && (l..=599).contains(&h) => {
                    u.status_code.push((l, h))
                }
                _ => cx.push(
                    Diagnostic::new(
                        Severity::Error,
                        "bad-value",
                        format!(
                            "'{}' is not an HTTP status code or range; it is ignored",
                            t.text
                        ),
                    )
                    .at(t.span)
                    .help("a code from 100 to 599, or a range such as 200-299"),
                ),
            }
        }
    }),
    super::kw("virtualhost", |u, s, cx| {
        u.virtualhost = string(s, cx).or(u.virtualhost.take())
    }),
    super::kw("regex", |u, s, cx| {
        u.regex = string(s, cx).or(u.regex.take())
    }),
    super::kw("regex_no_match", |u, s, cx| {
        arity(s, 0, 0, cx);
        u.regex_no_match = true
    }),
    super::kw("regex_options", |u, s, cx| {
        if !arity(s, 1, usize::MAX, cx) {
            return;
        }
        for t in s.args() {
            if let Some(o) = values::choice_tok(t, REGEX_OPTIONS, false, cx) {
                u.regex_options.push(o.to_string());
            }
        }
    }),
    super::kw("regex_stack", |u, s, cx| {
        if !arity(s, 2, 2, cx) {
            return;
        }
        let a = s.args();
        let (Some(lo), Some(hi)) = (
            int_tok::<u64>(&a[0], 1, i64::MAX, cx),
            int_tok::<u64>(&a[1], 1, i64::MAX, cx),
        ) else {
            return;
        };
        if lo > hi {
            cx.error(
                "bad-value",
                a[0].span,
                "the regex_stack start size is larger than the maximum; the line is ignored",
            );
            return;
        }
        u.regex_stack = Some((lo, hi));
    }),
    super::kw("regex_min_offset", |u, s, cx| {
        u.regex_min_offset = int(s, 0, i64::MAX, cx).or(u.regex_min_offset)
    }),
    super::kw("regex_max_offset", |u, s, cx| {
        u.regex_max_offset = int(s, 0, i64::MAX, cx).or(u.regex_max_offset)
    }),
];

const REGEX_OPTIONS: &[&str] = &[
    "allow_empty_class",
    "alt_bsux",
    "auto_callout",
    "caseless",
    "dollar_endonly",
    "dotall",
    "dupnames",
    "extended",
    "firstline",
    "match_unset_backref",
    "multiline",
    "never_ucp",
    "never_utf",
    "no_auto_capture",
    "no_auto_possess",
    "no_dotstar_anchor",
    "no_start_optimize",
    "ucp",
    "ungreedy",
    "utf",
    "never_backslash_c",
    "alt_circumflex",
    "alt_verbnames",
    "use_offset_limit",
];

fn url(c: &mut Checker, s: &Stmt, cx: &mut Ctx) {
    arity(s, 0, 0, cx);
    let Some(block) = cx.block(s) else { return };
    let mut u = Url {
        span: s.span(),
        ..Default::default()
    };
    dispatch(&mut u, &block.items, URL, "url", cx);
    let regex_extras = u.regex_no_match
        || !u.regex_options.is_empty()
        || u.regex_stack.is_some()
        || u.regex_min_offset.is_some()
        || u.regex_max_offset.is_some();
    if u.regex.is_none() && regex_extras {
        cx.error(
            "regex-missing",
            s.span(),
            "this url has regex options but no 'regex'; the options are ignored",
        );
    }
    if let (Some(lo), Some(hi)) = (u.regex_min_offset, u.regex_max_offset) {
        if lo > hi {
            cx.error(
                "bad-value",
                s.span(),
                format!(
                    "regex_min_offset {lo} is larger than regex_max_offset {hi}; both are ignored"
                ),
            );
            u.regex_min_offset = None;
            u.regex_max_offset = None;
        }
    }
    if u.path.is_none() {
        cx.push(
            Diagnostic::new(
                Severity::Error,
                "url-without-path",
                "this url has no 'path'; the url is ignored",
            )
            .at(s.span())
            .help("add: path /"),
        );
        return;
    }
    if let Some(h) = http(c) {
        h.url.push(u);
    }
}

static SMTP: &[Kw<Checker>] = &[
    super::kw("helo_name", |c, s, cx| {
        let v = string(s, cx);
        if let (CheckerKind::SmtpCheck(m), Some(v)) = (&mut c.kind, v) {
            m.helo_name = Some(v);
        }
    }),
    super::kb("host", |c, s, cx| {
        cx.push(
            Diagnostic::new(
                Severity::Note,
                "deprecated",
                "the SMTP_CHECK 'host' block is deprecated; it is read as one more SMTP_CHECK",
            )
            .at(s.span())
            .help("write a separate SMTP_CHECK block for each address"),
        );
        let Some(block) = cx.block(s) else { return };
        let mut h = Checker::new(CheckerKind::TcpCheck, s.span());
        run_tables(&mut h, &block.items, &[CONN, TIMING], "SMTP_CHECK host", cx);
        if let CheckerKind::SmtpCheck(m) = &mut c.kind {
            m.host.push(h);
        }
    }),
];

static DNS: &[Kw<Checker>] = &[
    super::kw("type", |c, s, cx| {
        let Some(t) = one(s, cx) else { return };
        let Some(q) = values::choice_tok(t, DNS_TYPES, true, cx) else {
            return;
        };
        if let CheckerKind::DnsCheck(d) = &mut c.kind {
            d.qtype = Some(q.to_string());
        }
    }),
    super::kw("name", |c, s, cx| {
        let Some(n) = string(s, cx) else { return };
        // One trailing dot (the root) is allowed; `com..` is an empty label.
        let labels = n.strip_suffix('.').unwrap_or(&n);
        if n != "." && labels.split('.').any(str::is_empty) {
            cx.error(
                "bad-value",
                s.args()[0].span,
                format!("DNS name '{n}' has an empty label; the line is ignored"),
            );
            return;
        }
        if let CheckerKind::DnsCheck(d) = &mut c.kind {
            if d.name.is_some() {
                cx.error(
                    "duplicate-keyword",
                    s.span(),
                    "the DNS_CHECK name is already set; this one is ignored",
                );
                return;
            }
            d.name = Some(n);
        }
    }),
];

const DNS_TYPES: &[&str] = &[
    "A", "NS", "CNAME", "SOA", "MX", "TXT", "AAAA", "RRSIG", "DNSKEY",
];

static MISC: &[Kw<Checker>] = &[
    super::kw("misc_path", |c, s, cx| {
        let v = values::script(s, cx);
        if let (CheckerKind::MiscCheck(m), Some(v)) = (&mut c.kind, v) {
            m.misc_path = Some(v);
        }
    }),
    super::kw("misc_timeout", |c, s, cx| {
        let v = int(s, 1, U32_MAX, cx);
        if let (CheckerKind::MiscCheck(m), Some(v)) = (&mut c.kind, v) {
            m.misc_timeout = Some(v);
        }
    }),
    super::kw("misc_dynamic", |c, s, cx| {
        let v = opt_bool(s, cx);
        if let (CheckerKind::MiscCheck(m), Some(v)) = (&mut c.kind, v) {
            m.misc_dynamic = v;
        }
    }),
    super::kw("user", |c, s, cx| {
        if !arity(s, 1, 2, cx) {
            return;
        }
        let a = s.args();
        if let CheckerKind::MiscCheck(m) = &mut c.kind {
            m.user = Some(Script {
                command: String::new(),
                user: Some(a[0].text.clone()),
                group: a.get(1).map(|t| t.text.clone()),
                span: s.span(),
            });
        }
    }),
];

static UDP: &[Kw<Checker>] = &[
    super::kw("payload", |c, s, cx| {
        if !arity(s, 1, usize::MAX, cx) {
            return;
        }
        let Some(hex) = hex_bytes(s.args(), false, cx) else {
            return;
        };
        let bytes = (0..hex.len())
            .step_by(2)
            .filter_map(|i| hex.get(i..i + 2))
            .filter_map(|p| u8::from_str_radix(p, 16).ok())
            .collect();
        if let CheckerKind::UdpCheck(u) = &mut c.kind {
            u.payload = Some(bytes);
        }
    }),
    super::kw("require_reply", |c, s, cx| {
        let Some(hex) = hex_bytes(s.args(), true, cx) else {
            return;
        };
        if let CheckerKind::UdpCheck(u) = &mut c.kind {
            u.require_reply = Some(hex);
        }
    }),
    super::kw("min_reply_length", |c, s, cx| {
        let v = int(s, 0, 65535, cx);
        if let (CheckerKind::UdpCheck(u), Some(v)) = (&mut c.kind, v) {
            u.min_reply_length = Some(v);
        }
    }),
    super::kw("max_reply_length", |c, s, cx| {
        let v = int(s, 0, 65535, cx);
        if let (CheckerKind::UdpCheck(u), Some(v)) = (&mut c.kind, v) {
            u.max_reply_length = Some(v);
        }
    }),
];

/// `weight N [reverse|noreverse]` of FILE_CHECK and BFD_CHECK.
fn weight_reverse(s: &Stmt, cx: &mut Ctx) -> Option<(i32, bool)> {
    if !arity(s, 1, 2, cx) {
        return None;
    }
    let a = s.args();
    let w = int_tok::<i32>(&a[0], -I32_MAX, I32_MAX, cx)?;
    let rev = match a.get(1) {
        None => false,
        Some(t) => values::choice_tok(t, &["reverse", "noreverse"], false, cx)? == "reverse",
    };
    Some((w, rev))
}

static FILE: &[Kw<Checker>] = &[
    super::kw("track_file", |c, s, cx| {
        let v = string(s, cx);
        if let (CheckerKind::FileCheck(f), Some(v)) = (&mut c.kind, v) {
            f.track_file = Some(v);
        }
    }),
    super::kw("file", |c, s, cx| {
        let v = string(s, cx);
        if let (CheckerKind::FileCheck(f), Some(v)) = (&mut c.kind, v) {
            f.track_file = Some(v);
        }
    }),
    super::kw("dynamic", |c, s, cx| {
        let v = opt_bool(s, cx);
        if let (CheckerKind::FileCheck(f), Some(v)) = (&mut c.kind, v) {
            f.dynamic = v;
        }
    }),
    super::kw("weight", |c, s, cx| {
        let v = weight_reverse(s, cx);
        if let (CheckerKind::FileCheck(f), Some((w, r))) = (&mut c.kind, v) {
            f.weight = Some(w);
            f.reverse = r;
        }
    }),
];

static BFD: &[Kw<Checker>] = &[
    super::kw("name", |c, s, cx| {
        let v = string(s, cx);
        if let (CheckerKind::BfdCheck(b), Some(v)) = (&mut c.kind, v) {
            b.name = Some(v);
        }
    }),
    super::kw("weight", |c, s, cx| {
        let v = weight_reverse(s, cx);
        if let (CheckerKind::BfdCheck(b), Some((w, r))) = (&mut c.kind, v) {
            b.weight = Some(w);
            b.reverse = r;
        }
    }),
];

/// Runs each statement through the first table that knows its keyword.
fn run_tables(
    c: &mut Checker,
    items: &[Stmt],
    tables: &[&[Kw<Checker>]],
    section: &str,
    cx: &mut Ctx,
) {
    for item in items {
        let word = item.keyword().text.as_str();
        match tables.iter().find(|t| t.iter().any(|k| k.name == word)) {
            Some(t) => dispatch(c, std::slice::from_ref(item), t, section, cx),
            None => unknown_keyword(
                item.keyword(),
                tables.iter().flat_map(|t| t.iter().map(|k| k.name)),
                section,
                cx,
            ),
        }
    }
}

fn checker(r: &mut RealServer, s: &Stmt, kind: CheckerKind, cx: &mut Ctx) {
    arity(s, 0, 0, cx);
    let Some(block) = cx.block(s) else { return };
    let name = kind.name();
    let tables: &[&[Kw<Checker>]] = match &kind {
        CheckerKind::HttpGet(_) | CheckerKind::SslGet(_) => &[HTTP, CONN, TIMING],
        CheckerKind::TcpCheck | CheckerKind::PingCheck => &[CONN, TIMING],
        CheckerKind::SmtpCheck(_) => &[SMTP, CONN, TIMING],
        CheckerKind::DnsCheck(_) => &[DNS, CONN, TIMING],
        CheckerKind::MiscCheck(_) => &[MISC, TIMING],
        CheckerKind::UdpCheck(_) => &[UDP, CONN, TIMING],
        CheckerKind::FileCheck(_) => &[FILE],
        CheckerKind::BfdCheck(_) => &[BFD],
    };
    let mut c = Checker::new(kind, s.span());
    run_tables(&mut c, &block.items, tables, name, cx);
    // A checker keepalived cannot run is dropped.
    let missing = match &c.kind {
        CheckerKind::HttpGet(h) | CheckerKind::SslGet(h) if h.url.is_empty() => Some((
            "checker-incomplete",
            "has no usable 'url' block",
            "url { path / }",
        )),
        CheckerKind::MiscCheck(m) if m.misc_path.is_none() => Some((
            "checker-incomplete",
            "has no 'misc_path'",
            "misc_path /path/to/script",
        )),
        CheckerKind::FileCheck(f) if f.track_file.is_none() => Some((
            "checker-incomplete",
            "has no 'track_file'",
            "track_file NAME (a track_file block)",
        )),
        CheckerKind::BfdCheck(b) if b.name.is_none() => {
            Some(("checker-incomplete", "has no 'name'", "name BFD_INSTANCE"))
        }
        _ => None,
    };
    if let Some((code, what, help)) = missing {
        cx.push(
            Diagnostic::new(
                Severity::Error,
                code,
                format!("this {name} {what}; the checker is dropped"),
            )
            .at(s.span())
            .help(format!("add: {help}")),
        );
        return;
    }
    if let (CheckerKind::UdpCheck(u), Some(lo), Some(hi)) =
        (&c.kind, udp_min(&c.kind), udp_max(&c.kind))
    {
        let _ = u;
        if lo > hi {
            cx.warning(
                "udp-reply-length",
                s.span(),
                format!("min_reply_length {lo} is larger than max_reply_length {hi}; this check will always fail"),
            );
        }
    }
    r.checkers.push(c);
}

fn udp_min(k: &CheckerKind) -> Option<u32> {
    match k {
        CheckerKind::UdpCheck(u) => u.min_reply_length,
        _ => None,
    }
}

fn udp_max(k: &CheckerKind) -> Option<u32> {
    match k {
        CheckerKind::UdpCheck(u) => Some(u.max_reply_length.unwrap_or(255)),
        _ => None,
    }
}

// ---------------------------------------------------------------------------
// validation

/// The whole-server rules keepalived applies after reading, then the inherited defaults.
pub fn validate(c: &mut Config, cx: &mut Ctx) {
    validate_groups(c, cx);
    let groups = c.virtual_server_groups.clone();
    let track_files: Vec<String> = c.track_files.iter().map(|t| t.name.clone()).collect();
    let bfds: Vec<String> = c.bfd_instances.iter().map(|b| b.name.clone()).collect();
    // Keyed by address and protocol as written; a hash set keeps this linear for large
    // configurations.
    let mut seen: std::collections::HashSet<String> = std::collections::HashSet::new();
    let mut kept = Vec::new();
    for mut v in std::mem::take(&mut c.virtual_servers) {
        if validate_vs(&mut v, &groups, &track_files, &bfds, cx) {
            let key = format!("{} {:?}", v.address, v.protocol);
            if !seen.insert(key) {
                cx.push(
                    Diagnostic::new(
                        Severity::Note,
                        "duplicate-virtual-server",
                        format!(
                            "virtual_server {} is defined more than once; both are used",
                            v.address
                        ),
                    )
                    .at(v.span),
                );
            }
            inherit(&mut v);
            kept.push(v);
        }
    }
    c.virtual_servers = kept;
    // One SSL context serves every SSL_GET checker (keepalived's check_data->ssl).
    for ch in c
        .virtual_servers
        .iter_mut()
        .flat_map(|v| v.real_servers.iter_mut())
        .flat_map(|r| r.checkers.iter_mut())
    {
        if let CheckerKind::SslGet(h) = &mut ch.kind {
            h.ssl.clone_from(&c.ssl);
        }
    }
}

fn validate_groups(c: &mut Config, cx: &mut Ctx) {
    c.virtual_server_groups.retain(|g| {
        if g.entries.is_empty() {
            cx.push(
                Diagnostic::new(
                    Severity::Error,
                    "empty-group",
                    format!("virtual_server_group {} has no entries; the group is dropped", g.name),
                )
                .at(g.span)
                .help("list addresses (IP [PORT], IP-LAST [PORT]) or 'fwmark N'"),
            );
            return false;
        }
        let (mut v4, mut v6, mut bare_fwmark) = (false, false, false);
        for e in &g.entries {
            match e {
                VsgEntry::Range { first, .. } => {
                    v4 |= first.is_ipv4();
                    v6 |= first.is_ipv6();
                }
                VsgEntry::Fwmark { family: None, .. } => bare_fwmark = true,
                VsgEntry::Fwmark { .. } => {}
            }
        }
        if v4 && v6 && bare_fwmark {
            cx.push(
                Diagnostic::new(
                    Severity::Error,
                    "group-family",
                    format!(
                        "virtual_server_group {} mixes IPv4 and IPv6 addresses with a fwmark that has no family; the group is dropped",
                        g.name
                    ),
                )
                .at(g.span)
                .help("write 'fwmark N inet' or 'fwmark N inet6'"),
            );
            return false;
        }
        true
    });
}

fn method_name(m: LvsMethod) -> &'static str {
    match m {
        LvsMethod::NAT => "NAT",
        LvsMethod::DR => "DR",
        LvsMethod::TUN => "TUN",
    }
}

/// Checks one virtual server; false when keepalived drops it.
fn validate_vs(
    v: &mut VirtualServer,
    groups: &[VirtualServerGroup],
    track_files: &[String],
    bfds: &[String],
    cx: &mut Ctx,
) -> bool {
    let name = format!("virtual_server {}", v.address);
    let group = match &v.address {
        VsAddress::Group { group } => match groups.iter().find(|g| &g.name == group) {
            Some(g) => Some(g),
            None => {
                cx.push(
                    Diagnostic::new(
                        Severity::Error,
                        "unknown-group",
                        format!("virtual_server_group {group} is not defined (or was dropped); {name} does nothing and is dropped"),
                    )
                    .at(v.span)
                    .help("define virtual_server_group NAME { ... } with this name"),
                );
                return false;
            }
        },
        _ => None,
    };
    let fwmark_only = match (&v.address, group) {
        (VsAddress::Fwmark { .. }, _) => true,
        (_, Some(g)) => g
            .entries
            .iter()
            .all(|e| matches!(e, VsgEntry::Fwmark { .. })),
        _ => false,
    };
    let is_fwmark = matches!(v.address, VsAddress::Fwmark { .. });

    // Address family: an address service has its own; a fwmark one takes ip_family or
    // its first non-tunnelled server; a group is not compared.
    let mut family = match &v.address {
        VsAddress::Ip { ip, .. } => {
            if let Some(f) = v.ip_family {
                if f != IpFamily::of(ip) {
                    cx.warning(
                        "family-mismatch",
                        v.span,
                        format!(
                            "ip_family does not match the address of {name}; ip_family is ignored"
                        ),
                    );
                }
            }
            Some(IpFamily::of(ip))
        }
        VsAddress::Fwmark { .. } => v.ip_family,
        VsAddress::Group { .. } => None,
    };
    let vs_method = v.lvs_method.map(|f| f.method).unwrap_or(LvsMethod::NAT);
    let check_family = group.is_none();

    if let Some(ss) = &v.sorry_server {
        let m = ss
            .sorry_server_lvs_method
            .map(|f| f.method)
            .unwrap_or(vs_method);
        if m != LvsMethod::TUN && check_family {
            match family {
                None => family = Some(IpFamily::of(&ss.ip)),
                Some(f) if f != IpFamily::of(&ss.ip) => {
                    cx.push(
                        Diagnostic::new(
                            Severity::Error,
                            "family-mismatch",
                            format!("sorry_server {} is not of the address family of {name}; the sorry server is dropped", ss.ip),
                        )
                        .at(ss.span)
                        .help("only tunnelled (TUN) servers may differ in address family"),
                    );
                    v.sorry_server = None;
                }
                _ => {}
            }
        }
    }

    // Real servers: address family, then duplicates.
    let mut kept: Vec<RealServer> = Vec::new();
    for r in std::mem::take(&mut v.real_servers) {
        let m = r.lvs_method.map(|f| f.method).unwrap_or(vs_method);
        if m != LvsMethod::TUN && check_family {
            match family {
                None => family = Some(IpFamily::of(&r.ip)),
                Some(f) if f != IpFamily::of(&r.ip) => {
                    cx.push(
                        Diagnostic::new(
                            Severity::Error,
                            "family-mismatch",
                            format!("real_server {} is not of the address family of {name}; the real server is dropped", r.ip),
                        )
                        .at(r.span)
                        .help("only tunnelled (lvs_method TUN) real servers may differ in address family"),
                    );
                    continue;
                }
                _ => {}
            }
        }
        if kept.iter().any(|k| k.ip == r.ip && k.port == r.port) {
            cx.push(
                Diagnostic::new(
                    Severity::Error,
                    "duplicate-real-server",
                    format!(
                        "real_server {} is listed twice in {name}; this second one is dropped",
                        r.ip
                    ),
                )
                .at(r.span),
            );
            continue;
        }
        kept.push(r);
    }
    v.real_servers = kept;

    // keepalived (check_data.c) clears it for a fwmark service and for a group with
    // any fwmark entry: a mark is no address that could come and go.
    let has_fwmark = is_fwmark
        || group.is_some_and(|g| {
            g.entries
                .iter()
                .any(|e| matches!(e, VsgEntry::Fwmark { .. }))
        });
    if v.ha_suspend && has_fwmark {
        cx.warning(
            "ha-suspend-fwmark",
            v.span,
            if is_fwmark {
                format!("ha_suspend cannot be used with a fwmark service; it is turned off for {name}")
            } else {
                format!("ha_suspend cannot be used with a group that has a fwmark entry; it is turned off for {name}")
            },
        );
        v.ha_suspend = false;
    }
    if fwmark_only {
        if v.protocol.is_some() {
            cx.push(
                Diagnostic::new(
                    Severity::Warning,
                    "protocol-with-fwmark",
                    format!("{name} is a fwmark service: 'protocol' does not apply and is ignored"),
                )
                .at(v.span)
                .help("remove the protocol line; the firewall mark selects the packets"),
            );
        }
    } else if v.protocol.is_none() {
        cx.push(
            Diagnostic::new(
                Severity::Warning,
                "no-protocol",
                format!("{name} has no 'protocol'; keepalived uses UDP"),
            )
            .at(v.span)
            .help("add: protocol TCP (or UDP, SCTP)"),
        );
        v.protocol = Some(Protocol::UDP);
    }
    if v.ops && !fwmark_only && v.protocol != Some(Protocol::UDP) {
        cx.warning(
            "ops-needs-udp",
            v.span,
            format!(
                "'ops' (one-packet scheduling) needs protocol UDP; it is turned off for {name}"
            ),
        );
        v.ops = false;
    }
    let vport = match &v.address {
        VsAddress::Ip { port, .. } => Some(port.unwrap_or(0)),
        _ => None,
    };
    if vport == Some(0) && v.persistence_timeout.is_none() {
        cx.push(
            Diagnostic::new(
                Severity::Warning,
                "zero-port",
                format!("{name} has no port, which only works for a persistent service; keepalived makes it persistent"),
            )
            .at(v.span)
            .help("give the port, or set persistence_timeout"),
        );
        v.persistence_timeout = Some(DEFAULT_PERSISTENCE);
    }
    if v.lvs_sched.is_none() {
        cx.push(
            Diagnostic::new(
                Severity::Warning,
                "no-scheduler",
                format!("{name} has no 'lvs_sched' (lb_algo); wlc is used"),
            )
            .at(v.span)
            .help(format!(
                "add: lvs_sched rr (one of {})",
                SCHEDULERS.join(", ")
            )),
        );
        v.lvs_sched = Some("wlc".into());
    }
    if v.lvs_method.is_none() {
        cx.push(
            Diagnostic::new(
                Severity::Warning,
                "no-lvs-method",
                format!("{name} has no 'lvs_method' (lb_kind); NAT is used"),
            )
            .at(v.span)
            .help("add: lvs_method NAT (or DR, TUN)"),
        );
        v.lvs_method = Some(Forwarding::plain(LvsMethod::NAT));
    }

    // Ports: fwmark services ignore them; DR and TUN cannot change them.
    for r in &mut v.real_servers {
        let m = r.lvs_method.map(|f| f.method).unwrap_or(vs_method);
        match (vport, r.port) {
            (None, Some(p)) if is_fwmark && p != 0 => {
                // keepalived 2.2.7 only complains (and clears the port) for DR and TUN.
                let sev = if m == LvsMethod::NAT {
                    Severity::Note
                } else {
                    Severity::Warning
                };
                cx.push(
                    Diagnostic::new(
                        sev,
                        "port-ignored",
                        format!(
                            "{name} is a fwmark service: the port {p} of real_server {} is not used",
                            r.ip
                        ),
                    )
                    .at(r.span)
                    .help("leave the port out: real_server IP { ... }"),
                );
            }
            (Some(vp), Some(rp)) if vp != 0 && rp != vp && m != LvsMethod::NAT => {
                cx.push(
                    Diagnostic::new(
                        Severity::Warning,
                        "port-mismatch",
                        format!(
                            "real_server {} port {rp} differs from the virtual server's port {vp}, which {} forwarding cannot change; port {vp} is used",
                            r.ip,
                            method_name(m)
                        ),
                    )
                    .at(r.span)
                    .help("with DR and TUN the real server port must equal the virtual server port; use NAT to map ports"),
                );
                r.port = Some(vp);
            }
            _ => {}
        }
    }
    if let Some(ss) = &mut v.sorry_server {
        let m = ss
            .sorry_server_lvs_method
            .map(|f| f.method)
            .unwrap_or(vs_method);
        if let (Some(vp), Some(sp)) = (vport, ss.port) {
            if vp != 0 && sp != vp && m != LvsMethod::NAT {
                cx.warning(
                    "port-mismatch",
                    ss.span,
                    format!(
                        "sorry_server port {sp} differs from the virtual server's port {vp}, which {} forwarding cannot change; port {vp} is used",
                        method_name(m)
                    ),
                );
                ss.port = Some(vp);
            }
        }
        if let Some(r) = v
            .real_servers
            .iter()
            .find(|r| r.ip == ss.ip && r.port == ss.port)
        {
            let rs_inhibit = r.inhibit_on_failure.unwrap_or(v.inhibit_on_failure);
            if rs_inhibit != ss.sorry_server_inhibit {
                cx.warning(
                    "sorry-server-inhibit",
                    ss.span,
                    format!(
                        "the sorry server is also real_server {} but their inhibit settings differ; the real server's ({}) is used for both",
                        r.ip,
                        if rs_inhibit { "on" } else { "off" }
                    ),
                );
                ss.sorry_server_inhibit = rs_inhibit;
            }
        }
    }

    // Checkers that refer to other sections, and checker addresses.
    for r in &mut v.real_servers {
        let rs_ip = r.ip;
        r.checkers
            .retain(|ch| check_checker(ch, rs_ip, track_files, bfds, cx));
    }

    if v.real_servers.is_empty() {
        cx.push(
            Diagnostic::new(
                Severity::Error,
                "no-real-servers",
                format!("{name} has no (usable) real servers; the virtual server is dropped"),
            )
            .at(v.span)
            .help("add real_server IP PORT { ... }"),
        );
        return false;
    }

    let total: u64 = v
        .real_servers
        .iter()
        .map(|r| u64::from(r.weight.or(v.weight).unwrap_or(1)))
        .sum();
    if u64::from(v.quorum) > total {
        let reduced = u32::try_from(total).unwrap_or(u32::MAX);
        cx.push(
            Diagnostic::new(
                Severity::Warning,
                "quorum-too-high",
                format!(
                    "quorum {} of {name} is more than the total weight {total} of its real servers; it is reduced to {reduced}",
                    v.quorum
                ),
            )
            .at(v.span)
            .help("quorum is the least total weight of live real servers needed"),
        );
        v.quorum = reduced;
    }
    if v.hysteresis >= v.quorum {
        let fixed = v.quorum.saturating_sub(1);
        cx.push(
            Diagnostic::new(
                Severity::Warning,
                "hysteresis-too-high",
                format!(
                    "hysteresis {} of {name} is not below its quorum {}; it is set to {fixed}",
                    v.hysteresis, v.quorum
                ),
            )
            .at(v.span)
            .help("hysteresis must be smaller than quorum"),
        );
        v.hysteresis = fixed;
    }
    true
}

/// Cross-section and address checks of one checker; false when keepalived drops it.
fn check_checker(
    ch: &Checker,
    rs_ip: IpAddr,
    track_files: &[String],
    bfds: &[String],
    cx: &mut Ctx,
) -> bool {
    match &ch.kind {
        CheckerKind::FileCheck(f) => {
            if let Some(t) = &f.track_file {
                if !track_files.iter().any(|n| n == t) {
                    cx.push(
                        Diagnostic::new(
                            Severity::Error,
                            "unknown-track-file",
                            format!("FILE_CHECK refers to track_file '{t}', which is not defined; the checker is dropped"),
                        )
                        .at(ch.span)
                        .help("define it in a track_file NAME { file PATH } block"),
                    );
                    return false;
                }
            }
        }
        CheckerKind::BfdCheck(b) => {
            if let Some(n) = &b.name {
                if !bfds.iter().any(|x| x == n) {
                    cx.push(
                        Diagnostic::new(
                            Severity::Error,
                            "unknown-bfd",
                            format!("BFD_CHECK refers to bfd_instance '{n}', which is not defined; the checker is dropped"),
                        )
                        .at(ch.span)
                        .help("define it in a bfd_instance NAME { ... } block"),
                    );
                    return false;
                }
            }
        }
        _ => {}
    }
    if let Some(b) = ch.bindto {
        let dst = ch.connect_ip.unwrap_or(rs_ip);
        if b.is_ipv4() != dst.is_ipv4() {
            cx.push(
                Diagnostic::new(
                    Severity::Error,
                    "family-mismatch",
                    format!("{} bindto {b} is not of the address family of the address it checks ({dst}); the checker is dropped", ch.kind.name()),
                )
                .at(ch.span),
            );
            return false;
        }
        if let IpAddr::V6(v6) = b {
            if v6.segments()[0] & 0xffc0 == 0xfe80 && ch.bind_if.is_none() {
                cx.push(
                    Diagnostic::new(
                        Severity::Error,
                        "link-local-needs-interface",
                        format!("{} bindto {b} is link-local and needs 'bind_if'; the checker is dropped", ch.kind.name()),
                    )
                    .at(ch.span)
                    .help("add: bind_if eth0"),
                );
                return false;
            }
        }
    }
    if let Some(i) = &ch.bind_if {
        if !cx.interface_exists(i) {
            cx.note(
                "unknown-interface",
                ch.span,
                format!("bind_if {i}: this host has no such interface"),
            );
        }
    }
    true
}

/// Fills what a real server takes from its virtual server and a checker from its real
/// server, and keepalived's defaults below that.
fn inherit(v: &mut VirtualServer) {
    let vs_delay = v.delay_loop.unwrap_or(Secs::from_secs(60));
    v.delay_loop = Some(vs_delay);
    for r in &mut v.real_servers {
        r.weight = r.weight.or(v.weight).or(Some(1));
        r.lvs_method = r.lvs_method.or(v.lvs_method);
        r.alpha = r.alpha.or(Some(v.alpha));
        r.inhibit_on_failure = r.inhibit_on_failure.or(Some(v.inhibit_on_failure));
        r.delay_loop = r.delay_loop.or(Some(vs_delay));
        r.connect_timeout = r.connect_timeout.or(v.connect_timeout);
        r.retry = r.retry.or(v.retry);
        r.delay_before_retry = r.delay_before_retry.or(v.delay_before_retry);
        r.warmup = r.warmup.or(v.warmup);
        if r.virtualhost.is_none() {
            r.virtualhost.clone_from(&v.virtualhost);
        }
        let rs = r.clone();
        for ch in &mut r.checkers {
            inherit_checker(ch, &rs);
            if let CheckerKind::SmtpCheck(m) = &mut ch.kind {
                for h in &mut m.host {
                    inherit_checker(h, &rs);
                }
            }
        }
    }
}

fn inherit_checker(ch: &mut Checker, r: &RealServer) {
    let (conn, timing) = match ch.kind {
        CheckerKind::FileCheck(_) | CheckerKind::BfdCheck(_) => (false, false),
        CheckerKind::MiscCheck(_) => (false, true),
        _ => (true, true),
    };
    if conn {
        ch.connect_ip = ch.connect_ip.or(Some(r.ip));
        ch.connect_port = ch.connect_port.or(r.port);
    }
    if !timing {
        return;
    }
    let delay = ch
        .delay_loop
        .or(r.delay_loop)
        .unwrap_or(Secs::from_secs(60));
    ch.delay_loop = Some(delay);
    ch.alpha = ch.alpha.or(r.alpha).or(Some(false));
    ch.connect_timeout = ch
        .connect_timeout
        .or(r.connect_timeout)
        .or(Some(Secs::from_secs(5)));
    let (retry, before) = match ch.kind {
        CheckerKind::HttpGet(_) | CheckerKind::SslGet(_) => (1, Secs::from_secs(3)),
        CheckerKind::DnsCheck(_) => (3, delay),
        CheckerKind::MiscCheck(_) => (0, Secs::from_secs(1)),
        _ => (1, Secs::from_secs(1)),
    };
    ch.retry = ch.retry.or(r.retry).or(Some(retry));
    ch.delay_before_retry = ch
        .delay_before_retry
        .or(r.delay_before_retry)
        .or(Some(before));
    ch.warmup = ch.warmup.or(r.warmup).or(Some(delay));
    ch.log_all_failures = ch.log_all_failures.or(Some(false));
    if let CheckerKind::HttpGet(h) | CheckerKind::SslGet(h) = &mut ch.kind {
        if h.virtualhost.is_none() {
            h.virtualhost.clone_from(&r.virtualhost);
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::model::lvs::{CheckerKind, LvsMethod, Protocol, TunnelType, VsAddress, VsgEntry};
    use crate::testutil::{codes, load};
    use crate::Loaded;

    const HEAD: &str = "lb_algo rr\nlb_kind NAT\nprotocol TCP\n";

    fn vs(body: &str) -> Loaded {
        load(&format!(
            "virtual_server 10.0.0.1 80 {{\n{HEAD}{body}\n}}\n"
        ))
    }

    #[test]
    fn clean_virtual_server_with_every_family_of_keyword() {
        let l = vs(
            "delay_loop 6\npersistence_timeout 50\npersistence_granularity 255.255.255.0\n\
             ha_suspend\nsmtp_alert\nvirtualhost www.example.com\nsnmp_name web\nalpha\nomega\n\
             quorum 2\nhysteresis 1\nquorum_up \"/bin/up x\" nobody\nquorum_down /bin/down\n\
             sorry_server 10.0.0.9 80\nsorry_server_inhibit\nsorry_server_lvs_method NAT\n\
             connect_timeout 3\nretry 2\ndelay_before_retry 2\nwarmup 0\ninhibit_on_failure\n\
             real_server 10.0.0.2 80 {\n weight 2\n notify_up /bin/u\n notify_down /bin/d\n\
             uthreshold 100\n lthreshold 10\n TCP_CHECK {\n  connect_port 81\n }\n}",
        );
        assert!(l.diagnostics.is_empty(), "{}", l.render());
        let v = &l.config.virtual_servers[0];
        assert_eq!(v.protocol, Some(Protocol::TCP));
        assert_eq!(v.quorum, 2);
        assert_eq!(
            v.quorum_up.as_ref().map(|s| s.command.as_str()),
            Some("/bin/up x")
        );
        assert!(v
            .sorry_server
            .as_ref()
            .is_some_and(|s| s.sorry_server_inhibit));
        let r = &v.real_servers[0];
        assert_eq!(r.weight, Some(2));
        let c = &r.checkers[0];
        assert_eq!(c.connect_port, Some(81));
        assert_eq!(c.connect_ip, "10.0.0.2".parse().ok());
        assert_eq!(c.retry, Some(2));
        assert_eq!(c.delay_loop.map(|d| d.as_secs_f64()), Some(6.0));
        assert_eq!(c.warmup.map(|d| d.micros), Some(0));
    }

    #[test]
    fn checker_defaults_follow_kind() {
        let l = load(
            "virtual_server 10.0.0.1 53 {\nlb_algo rr\nlb_kind NAT\nprotocol UDP\n\
             real_server 10.0.0.2 53 {\n DNS_CHECK {\n  type aaaa\n  name example.com\n }\n\
             MISC_CHECK {\n  misc_path \"/bin/chk 1\"\n  misc_timeout 3\n  misc_dynamic\n  user nobody\n }\n\
             HTTP_GET {\n  url {\n   path /\n   status_code 200-299 404\n   digest 9B3A0C85A887A256D6939DA88AABD8CD\n  }\n }\n}\n}\n",
        );
        assert!(l.diagnostics.is_empty(), "{}", l.render());
        let cs = &l.config.virtual_servers[0].real_servers[0].checkers;
        assert_eq!(cs[0].retry, Some(3));
        assert!(
            matches!(&cs[0].kind, CheckerKind::DnsCheck(d) if d.qtype.as_deref() == Some("AAAA"))
        );
        assert_eq!(cs[1].retry, Some(0));
        assert_eq!(cs[1].connect_ip, None);
        assert_eq!(cs[2].delay_before_retry.map(|d| d.as_secs_f64()), Some(3.0));
        match &cs[2].kind {
            CheckerKind::HttpGet(h) => {
                assert_eq!(h.url[0].status_code, vec![(200, 299), (404, 404)]);
                assert_eq!(
                    h.url[0].digest.as_deref(),
                    Some("9b3a0c85a887a256d6939da88aabd8cd")
                );
            }
            k => panic!("{k:?}"),
        }
    }

    #[test]
    fn a_dns_name_may_end_with_one_dot_only() {
        for (name, ok) in [
            ("example.com.", true),
            (".", true),
            ("com..", false),
            ("a..b", false),
        ] {
            let l = load(&format!(
                "virtual_server 10.0.0.1 53 {{\nlb_algo rr\nlb_kind NAT\nprotocol UDP\n\
                 real_server 10.0.0.2 53 {{\n DNS_CHECK {{\n  name {name}\n }}\n}}\n}}\n"
            ));
            assert_eq!(codes(&l).is_empty(), ok, "{name}: {}", l.render());
        }
    }

    #[test]
    fn groups_and_ranges() {
        let l = load(
            "virtual_server_group G {\n 10.0.0.1-10 80\n 10.0.1.0/30 80\n fd00::1-ff 80\n fwmark 7 inet6\n}\n\
             virtual_server group G {\n lb_algo rr\n lb_kind DR\n protocol TCP\n real_server 10.0.0.2 80 {\n }\n}\n",
        );
        assert!(l.diagnostics.is_empty(), "{}", l.render());
        let g = &l.config.virtual_server_groups[0];
        assert_eq!(g.entries.len(), 4);
        assert!(
            matches!(g.entries[1], VsgEntry::Range { last, .. } if "10.0.1.3".parse::<std::net::IpAddr>().ok() == Some(last))
        );
        assert!(
            matches!(&l.config.virtual_servers[0].address, VsAddress::Group { group } if group == "G")
        );
    }

    #[test]
    fn group_problems() {
        let l = load(
            "virtual_server_group E {\n}\nvirtual_server_group M {\n 10.0.0.1 80\n fd00::1 80\n fwmark 1\n}\n\
             virtual_server_group R {\n 10.0.0.5-3 80\n 10.0.0.1/24 80\n}\n\
             virtual_server group NOPE {\n lb_algo rr\n lb_kind NAT\n protocol TCP\n real_server 10.0.0.2 80 {\n }\n}\n",
        );
        let c = codes(&l);
        assert!(c.contains(&"empty-group"));
        assert!(c.contains(&"group-family"));
        assert!(c.contains(&"bad-address"));
        assert!(c.contains(&"unknown-group"));
        assert!(l.config.virtual_servers.is_empty());
    }

    #[test]
    fn fwmark_protocol_warns() {
        let l = load("virtual_server fwmark 1 {\nlb_algo rr\nlb_kind NAT\npersistence_timeout 900\nprotocol TCP\nreal_server 10.0.0.2 {\n}\n}\n");
        assert_eq!(codes(&l), vec!["protocol-with-fwmark"]);
    }

    #[test]
    fn old_checker_name_is_an_error_with_help() {
        let l = vs("real_server 10.0.0.2 80 {\n CI-LINUX\n}");
        assert_eq!(codes(&l), vec!["unknown-checker"]);
        assert!(l.diagnostics[0]
            .help
            .as_deref()
            .is_some_and(|h| h.contains("HTTP_GET")));
        let l = vs("real_server 10.0.0.2 80 {\n TCP_CHEK {\n }\n}");
        assert_eq!(codes(&l), vec!["unknown-keyword"]);
        assert_eq!(
            l.diagnostics[0].help.as_deref(),
            Some("did you mean 'TCP_CHECK'?")
        );
    }

    #[test]
    fn dropped_servers() {
        let rs = "real_server 10.0.0.2 80 {\n}\n";
        assert_eq!(
            codes(&vs(&format!("{rs}{rs}"))),
            vec!["duplicate-real-server"]
        );
        assert_eq!(
            codes(&vs("real_server fd00::2 80 {\n}")),
            vec!["no-real-servers", "family-mismatch"]
        );
        assert_eq!(codes(&vs("")), vec!["no-real-servers"]);
        let l = vs("real_server 10.0.0.300 80 {\n}");
        assert!(codes(&l).contains(&"real-server-dropped"));
        // a tunnelled real server may be of the other family
        let l = vs("real_server fd00::2 80 {\n lvs_method TUN type gue port 6080 csum\n}");
        assert!(l.diagnostics.is_empty(), "{}", l.render());
        let f = l.config.virtual_servers[0].real_servers[0]
            .lvs_method
            .expect("lvs_method is set");
        assert_eq!(
            (f.method, f.tunnel_type, f.tunnel_port),
            (LvsMethod::TUN, Some(TunnelType::Gue), Some(6080))
        );
    }

    #[test]
    fn whole_server_rules() {
        let rs = "real_server 10.0.0.2 80 {\n}\n";
        assert_eq!(
            codes(&vs(&format!("quorum 5\n{rs}"))),
            vec!["quorum-too-high"]
        );
        assert_eq!(
            codes(&vs(&format!("hysteresis 1\n{rs}"))),
            vec!["hysteresis-too-high"]
        );
        assert_eq!(codes(&vs(&format!("ops\n{rs}"))), vec!["ops-needs-udp"]);
        let l = load(&format!("virtual_server 10.0.0.1 80 {{\n{rs}}}\n"));
        assert_eq!(
            codes(&l),
            vec!["no-protocol", "no-scheduler", "no-lvs-method"]
        );
        let l = load(&format!("virtual_server 10.0.0.1 {{\n{HEAD}{rs}}}\n"));
        assert_eq!(codes(&l), vec!["zero-port"]);
        let l = load("virtual_server 10.0.0.1 80 {\nlb_algo rr\nlb_kind DR\nprotocol TCP\nsorry_server 10.0.0.9 81\nreal_server 10.0.0.2 8080 {\n}\n}\n");
        assert_eq!(codes(&l), vec!["port-mismatch", "port-mismatch"]);
        let l = load("virtual_server fwmark 1 {\nlb_algo rr\nlb_kind NAT\nha_suspend\nreal_server 10.0.0.2 {\n}\n}\n");
        assert_eq!(codes(&l), vec!["ha-suspend-fwmark"]);
        let l = load("virtual_server_group G {\n10.0.0.1 80\nfwmark 3\n}\nvirtual_server group G {\nlb_algo rr\nlb_kind NAT\nprotocol TCP\nha_suspend\nreal_server 10.0.0.2 80 {\n}\n}\n");
        assert_eq!(codes(&l), vec!["ha-suspend-fwmark"]);
        assert!(!l.config.virtual_servers[0].ha_suspend);
    }

    #[test]
    fn value_errors() {
        let rs = "real_server 10.0.0.2 80 {\n}\n";
        for (line, code) in [
            ("persistence_timeout 0", "out-of-range"),
            ("quorum 0", "out-of-range"),
            ("retry 0", "out-of-range"),
            ("delay_loop 0", "out-of-range"),
            ("lb_algo bogus", "bad-value"),
            ("sh-port", "scheduler-flag-mismatch"),
            ("sorry_server_inhibit", "sorry-server-missing"),
            ("persistence_granularity 1.2.3", "bad-value"),
            ("lvs_method TUN type gue", "missing-parameter"),
            ("lvs_method TUN type ipip csum", "bad-value"),
        ] {
            let l = vs(&format!("{line}\n{rs}"));
            assert!(codes(&l).contains(&code), "{line}: {}", l.render());
        }
        let l = vs("real_server 10.0.0.2 80 {\n weight -1\n notify_up /a\n notify_up /b\n}");
        assert_eq!(codes(&l), vec!["out-of-range", "duplicate-keyword"]);
    }

    #[test]
    fn ssl_block_reaches_ssl_get_checkers() {
        let rs = "real_server 10.0.0.2 443 {\n SSL_GET {\n  url {\n   path /\n  }\n }\n HTTP_GET {\n  url {\n   path /\n  }\n }\n}\n";
        let l = load(&format!(
            "virtual_server 10.0.0.1 443 {{\n{HEAD}{rs}}}\n\
             SSL {{\n password \"s3cret pass\"\n ca /etc/ca.pem\n certificate /etc/c.pem\n key /etc/k.pem\n}}\n"
        ));
        assert!(l.diagnostics.is_empty(), "{}", l.render());
        let ssl = l.config.ssl.clone().expect("an SSL block");
        assert_eq!(ssl.password.as_deref(), Some("s3cret pass"));
        assert_eq!(ssl.ca.as_deref(), Some("/etc/ca.pem"));
        assert_eq!(ssl.certificate.as_deref(), Some("/etc/c.pem"));
        assert_eq!(ssl.key.as_deref(), Some("/etc/k.pem"));
        let checkers = &l.config.virtual_servers[0].real_servers[0].checkers;
        match (&checkers[0].kind, &checkers[1].kind) {
            (CheckerKind::SslGet(s), CheckerKind::HttpGet(h)) => {
                assert_eq!(s.ssl.as_ref(), Some(&ssl));
                assert_eq!(h.ssl, None);
            }
            k => panic!("{k:?}"),
        }
        // The password never appears in a dump.
        let json = serde_json::to_string(&l.config).expect("json");
        assert!(!json.contains("s3cret"), "{json}");
        assert!(json.contains("\"ca\":\"/etc/ca.pem\""), "{json}");

        // Repeats replace, with a warning each; a missing value is an error.
        let l = load("SSL {\n ca /a\n ca /b\n key\n bogus x\n}\nSSL {\n certificate /c\n}\n");
        assert_eq!(
            codes(&l),
            vec![
                "duplicate-keyword",
                "missing-parameter",
                "unknown-keyword",
                "duplicate-block"
            ]
        );
        let ssl = l.config.ssl.expect("an SSL block");
        assert_eq!((ssl.ca, ssl.certificate), (None, Some("/c".into())));
    }

    #[test]
    fn checker_problems() {
        let chk = |b: &str| vs(&format!("real_server 10.0.0.2 80 {{\n{b}\n}}"));
        assert_eq!(codes(&chk("HTTP_GET {\n}")), vec!["checker-incomplete"]);
        assert_eq!(
            codes(&chk("SSL_GET {\n url {\n  status_code 200\n }\n}")),
            vec!["checker-incomplete", "url-without-path"]
        );
        assert_eq!(
            codes(&chk("MISC_CHECK {\n misc_timeout 3\n}")),
            vec!["checker-incomplete"]
        );
        assert_eq!(
            codes(&chk("MISC_CHECK {\n misc_path /x\n connect_ip 1.2.3.4\n}")),
            vec!["unknown-keyword"]
        );
        assert_eq!(
            codes(&chk("FILE_CHECK {\n track_file f\n}")),
            vec!["unknown-track-file"]
        );
        assert_eq!(codes(&chk("BFD_CHECK {\n name b\n}")), vec!["unknown-bfd"]);
        assert_eq!(
            codes(&chk("TCP_CHECK {\n bindto fd00::1\n}")),
            vec!["family-mismatch"]
        );
        assert_eq!(
            codes(&chk("HTTP_GET {\n nb_get_retry 2\n url {\n  path /\n }\n}")),
            vec!["deprecated"]
        );
        assert_eq!(
            codes(&chk(
                "UDP_CHECK {\n payload Ab12f 3\n require_reply 1x\n min_reply_length 300\n}"
            )),
            vec!["udp-reply-length"]
        );
        let l = chk("UDP_CHECK {\n payload Ab12f 3 456\n}");
        match &l.config.virtual_servers[0].real_servers[0].checkers[0].kind {
            CheckerKind::UdpCheck(u) => {
                assert_eq!(
                    u.payload.as_deref(),
                    Some(&[0xab, 0x12, 0x0f, 0x03, 0x45, 0x06][..])
                )
            }
            k => panic!("{k:?}"),
        }
        assert_eq!(
            codes(&chk("HTTP_GET {\n url {\n  path /\n  digest abc\n  status_code 600\n  regex_options bogus\n }\n}")),
            vec!["bad-value", "bad-value", "bad-value"]
        );
        assert_eq!(
            codes(&chk(
                "SMTP_CHECK {\n helo_name x\n host {\n  connect_ip 10.0.0.4\n }\n}"
            )),
            vec!["deprecated"]
        );
    }
}
