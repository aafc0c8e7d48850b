//! `vrrp_instance`, `vrrp_sync_group` and `garp_group` (keepalived.conf(5), "VRRP
//! instance(s)", "VRRP synchronization group(s)", "VRRP gratuitous ARP and
//! unsolicited neighbour advert delay group(s)").
//!
//! Parsing fills the model from one block; [`validate`] then fills the values
//! keepalived inherits from `global_defs` and runs the cross-checks keepalived 2.2.7
//! makes when it starts (each one noted with keepalived's own verdict class).

use super::{dispatch, ipspec, kb, kw, suggest, unknown_keyword, values, Ctx, Kw};
use crate::diag::{Diagnostic, Severity};
use crate::model::vrrp::{
    AuthHmac, AuthType, Authentication, Family, GarpExtraIf, GarpGroup, HmacKey, Ipvlan, Member,
    Notify, State, SyncGroup, TrackRef, UnicastPeer, Vmac, VrrpInstance,
};
use crate::model::{Config, Script, Secs};
use crate::source::Span;
use crate::tree::{Stmt, Token};
use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;

// ---------------------------------------------------------------------------
// Shared pieces
// ---------------------------------------------------------------------------

/// The name after a block keyword (`vrrp_instance NAME {`).
fn block_name(stmt: &Stmt, what: &str, cx: &mut Ctx) -> Option<Token> {
    match stmt.args().first() {
        Some(t) => {
            if stmt.args().len() > 1 {
                cx.warning(
                    "extra-parameter",
                    stmt.args()[1].span,
                    format!(
                        "{what} takes one name; '{}' and what follows are ignored",
                        stmt.args()[1].text
                    ),
                );
            }
            Some(t.clone())
        }
        None => {
            cx.push(
                Diagnostic::new(
                    Severity::Error,
                    "missing-name",
                    format!("{what} needs a name; the block is ignored"),
                )
                .at(stmt.span())
                .help(format!("{what} NAME {{ ... }}")),
            );
            None
        }
    }
}

/// Which `track_*` block a line belongs to; decides the weight range and wording.
#[derive(Clone, Copy, PartialEq, Eq)]
enum TrackKind {
    Interface,
    Script,
    File,
    Process,
    Bfd,
}

impl TrackKind {
    fn keyword(self) -> &'static str {
        match self {
            TrackKind::Interface => "track_interface",
            TrackKind::Script => "track_script",
            TrackKind::File => "track_file",
            TrackKind::Process => "track_process",
            TrackKind::Bfd => "track_bfd",
        }
    }
    fn weight_limit(self) -> i64 {
        match self {
            TrackKind::File | TrackKind::Process => 254,
            _ => 253,
        }
    }
}

/// A `track_* { NAME [weight N [reverse|noreverse]] ... }` block.
fn track_block(stmt: &Stmt, kind: TrackKind, owner: &str, cx: &mut Ctx) -> Vec<TrackRef> {
    let Some(block) = cx.block(stmt) else {
        return Vec::new();
    };
    let mut out: Vec<TrackRef> = Vec::new();
    let lim = kind.weight_limit();
    for line in &block.items {
        let name = line.keyword();
        let mut t = TrackRef {
            name: name.text.clone(),
            weight: None,
            reverse: false,
            span: name.span,
        };
        let args = line.args();
        let mut ok = true;
        let mut i = 0;
        while i < args.len() {
            let a = &args[i];
            match a.text.as_str() {
                "weight" => {
                    let Some(v) = args.get(i + 1) else {
                        cx.push(
                            Diagnostic::new(
                                Severity::Error,
                                "missing-parameter",
                                format!(
                                    "({owner}) 'weight' without a value for {} '{}'; the line is ignored",
                                    kind.keyword(),
                                    t.name
                                ),
                            )
                            .at(a.span)
                            .help(format!("{} weight <-{lim}..{lim}> [reverse]", t.name)),
                        );
                        ok = false;
                        break;
                    };
                    // keepalived accepts +/-254 for interfaces and scripts, clamping it.
                    let parsed: Option<i64> = v.text.parse().ok();
                    match parsed {
                        Some(w) if (w == 254 || w == -254) && lim == 253 => {
                            cx.push(
                                Diagnostic::new(
                                    Severity::Warning,
                                    "weight-clamped",
                                    format!(
                                        "({owner}) weight {w} for '{}' is out of range; {} is used",
                                        t.name,
                                        w.signum() * 253
                                    ),
                                )
                                .at(v.span)
                                .help(format!("a weight from -{lim} to {lim}")),
                            );
                            t.weight = Some((w.signum() * 253) as i32);
                        }
                        _ => match values::int_tok::<i32>(v, -lim, lim, cx) {
                            Some(w) => t.weight = Some(w),
                            None => {
                                ok = false;
                                break;
                            }
                        },
                    }
                    i += 2;
                }
                "reverse" if t.weight.is_some() || kind != TrackKind::Interface => {
                    t.reverse = true;
                    i += 1;
                }
                "noreverse" | "no_reverse" if kind != TrackKind::Interface => {
                    t.reverse = false;
                    i += 1;
                }
                other => {
                    let mut d = Diagnostic::new(
                        Severity::Error,
                        "bad-value",
                        format!(
                            "({owner}) unknown option '{other}' for {} '{}'; the line is ignored",
                            kind.keyword(),
                            t.name
                        ),
                    )
                    .at(a.span);
                    let opts: &[&str] = if kind == TrackKind::Interface {
                        &["weight", "reverse"]
                    } else {
                        &["weight", "reverse", "noreverse"]
                    };
                    d = match suggest(other, opts.iter().copied()) {
                        Some(s) => d.help(format!("did you mean '{s}'?")),
                        None => d.help(format!("{} weight <-{lim}..{lim}> [reverse]", t.name)),
                    };
                    cx.push(d);
                    ok = false;
                    break;
                }
            }
        }
        if line.block.is_some() {
            cx.error(
                "unexpected-block",
                line.span(),
                format!(
                    "a {} entry does not take a block; it is ignored",
                    kind.keyword()
                ),
            );
            ok = false;
        }
        if ok {
            out.push(t);
        }
    }
    out
}

/// What carries the shared notify keywords, and its name for messages.
trait HasNotify {
    fn parts(&mut self) -> (&str, &mut Notify);
}

impl HasNotify for VrrpInstance {
    fn parts(&mut self) -> (&str, &mut Notify) {
        (&self.name, &mut self.notifications)
    }
}

impl HasNotify for SyncGroup {
    fn parts(&mut self) -> (&str, &mut Notify) {
        (&self.name, &mut self.notifications)
    }
}

/// One notify keyword (the tables list which ones each block accepts).
fn notify_keyword<T: HasNotify>(t: &mut T, s: &Stmt, cx: &mut Ctx) {
    let (owner, n) = t.parts();
    let slot = match s.keyword().text.as_str() {
        "notify_master" => &mut n.notify_master,
        "notify_backup" => &mut n.notify_backup,
        "notify_fault" => &mut n.notify_fault,
        "notify_stop" => &mut n.notify_stop,
        "notify" => &mut n.notify,
        "notify_master_rx_lower_pri" => &mut n.notify_master_rx_lower_pri,
        "notify_deleted" => {
            return notify_deleted(
                &mut n.notify_deleted,
                &mut n.notify_deleted_script,
                s,
                owner,
                cx,
            )
        }
        "notify_priority_changes" => return set_opt_flag(&mut n.notify_priority_changes, s, cx),
        _ => return set_opt_flag(&mut n.smtp_alert, s, cx),
    };
    set_script(slot, s, owner, cx)
}

/// Sets a notify script once; a second one is reported and ignored (as keepalived does).
fn set_script(slot: &mut Option<Script>, stmt: &Stmt, owner: &str, cx: &mut Ctx) {
    let Some(s) = values::script(stmt, cx) else {
        return;
    };
    if slot.is_some() {
        cx.push(
            Diagnostic::new(
                Severity::Warning,
                "duplicate-keyword",
                format!(
                    "({owner}) '{}' is already set; this one is ignored",
                    stmt.keyword().text
                ),
            )
            .at(stmt.span())
            .help("keep one of the two lines"),
        );
        return;
    }
    *slot = Some(s);
}

/// `notify_deleted [SCRIPT [user [group]]]`.
fn notify_deleted(
    flag: &mut bool,
    slot: &mut Option<Script>,
    stmt: &Stmt,
    owner: &str,
    cx: &mut Ctx,
) {
    if *flag {
        cx.push(
            Diagnostic::new(
                Severity::Warning,
                "duplicate-keyword",
                format!("({owner}) 'notify_deleted' is already set; this one is ignored"),
            )
            .at(stmt.span()),
        );
        return;
    }
    *flag = true;
    if !stmt.args().is_empty() {
        *slot = values::script(stmt, cx);
    }
}

/// A flag whose value may be written (`smtp_alert`, `strict_mode on`).
fn opt_flag(stmt: &Stmt, cx: &mut Ctx) -> Option<bool> {
    values::flag(stmt, cx)
}

/// A `<BOOL>`-or-nothing keyword stored as `Option<bool>`.
fn set_opt_flag(slot: &mut Option<bool>, stmt: &Stmt, cx: &mut Ctx) {
    if let Some(v) = opt_flag(stmt, cx) {
        *slot = Some(v);
    }
}

/// The default repeat count keepalived uses when 0 is written.
fn repeat(stmt: &Stmt, owner: &str, cx: &mut Ctx) -> Option<u32> {
    let v: u32 = values::int(stmt, 0, i64::from(u32::MAX), cx)?;
    if v == 0 {
        cx.push(
            Diagnostic::new(
                Severity::Warning,
                "out-of-range",
                format!(
                    "({owner}) '{}' must be at least 1; 1 is used",
                    stmt.keyword().text
                ),
            )
            .at(stmt.args()[0].span),
        );
        return Some(1);
    }
    Some(v)
}

// ---------------------------------------------------------------------------
// vrrp_instance
// ---------------------------------------------------------------------------

/// Sets or checks the instance's address family against an address just read.
/// Returns false (after reporting) if the address does not fit.
fn fit_family(vi: &mut VrrpInstance, addr: &IpAddr, what: &str, span: Span, cx: &mut Ctx) -> bool {
    let fam = Family::of(addr);
    if !vi.explicit.family {
        vi.explicit.family = true;
        vi.family = fam;
        return true;
    }
    if vi.family == fam {
        return true;
    }
    cx.push(
        Diagnostic::new(
            Severity::Error,
            "family-mismatch",
            format!(
                "({}) {what} {addr} is {}, but this instance is {}; it is ignored",
                vi.name,
                fam.label(),
                vi.family.label()
            ),
        )
        .at(span)
        .help(
            "an instance runs over one family, set by the first address it is given; \
             put addresses of the other family in virtual_ipaddress_excluded or in another instance",
        ),
    );
    false
}

fn state(vi: &mut VrrpInstance, s: &Stmt, cx: &mut Ctx) {
    let Some(t) = values::one(s, cx) else { return };
    match t.text.as_str() {
        "MASTER" => vi.state = State::Master,
        "BACKUP" => {
            if vi.state == State::Master {
                cx.warning(
                    "conflicting-keyword",
                    t.span,
                    format!(
                        "({}) state was already set to MASTER; BACKUP is ignored",
                        vi.name
                    ),
                );
                return;
            }
            vi.state = State::Backup;
        }
        other => {
            cx.push(
                Diagnostic::new(
                    Severity::Error,
                    "bad-value",
                    format!("({}) unknown state '{other}'; BACKUP is used", vi.name),
                )
                .at(t.span)
                .help("MASTER or BACKUP (upper case)"),
            );
            return;
        }
    }
    vi.explicit.state = true;
}

fn interface(vi: &mut VrrpInstance, s: &Stmt, cx: &mut Ctx) {
    let Some(t) = values::one(s, cx) else { return };
    if t.text == "lo" {
        cx.push(
            Diagnostic::new(
                Severity::Error,
                "bad-value",
                format!(
                    "({}) VRRP cannot run on the loopback interface; the line is ignored",
                    vi.name
                ),
            )
            .at(t.span),
        );
        return;
    }
    if !cx.interface_exists(&t.text) {
        cx.push(
            Diagnostic::new(
                Severity::Warning,
                "no-such-interface",
                format!(
                    "({}) interface '{}' does not exist on this host",
                    vi.name, t.text
                ),
            )
            .at(t.span)
            .help("check the name with `ip link`; the instance stays in FAULT until it appears"),
        );
    }
    vi.interface = Some(t.text.clone());
}

fn is_mac(s: &str) -> bool {
    let parts: Vec<&str> = s.split(':').collect();
    (parts.len() == 5 || parts.len() == 6)
        && parts
            .iter()
            .all(|p| !p.is_empty() && p.len() <= 2 && p.chars().all(|c| c.is_ascii_hexdigit()))
}

fn use_vmac(vi: &mut VrrpInstance, s: &Stmt, cx: &mut Ctx) {
    let mut v = Vmac::default();
    let a = s.args();
    let mut i = 0;
    while i < a.len() {
        let w = a[i].text.as_str();
        match w {
            "name" | "group" => {
                let Some(val) = a.get(i + 1) else {
                    cx.error(
                        "missing-parameter",
                        a[i].span,
                        format!("({}) use_vmac '{w}' needs a value; it is ignored", vi.name),
                    );
                    break;
                };
                if w == "name" {
                    v.name = val.text.clone();
                } else {
                    v.group = Some(val.text.clone());
                }
                i += 2;
                continue;
            }
            "netlink_notify_msg" => v.netlink_notify_msg = true,
            _ if is_mac(w) => {
                let l = w.to_ascii_lowercase();
                if l.starts_with("00:00:5e:00:01") || l.starts_with("00:00:5e:00:02") {
                    cx.push(
                        Diagnostic::new(
                            Severity::Error,
                            "bad-value",
                            format!(
                                "({}) use_vmac MAC {w} is in the range RFC 5798 reserves for VRRP; it is ignored",
                                vi.name
                            ),
                        )
                        .at(a[i].span)
                        .help("leave the MAC out to get the standard 00:00:5e:00:01:VRID, or pick one outside 00:00:5e:00:01/02"),
                    );
                } else {
                    v.mac = Some(w.to_string());
                }
            }
            _ if v.name.is_empty() && v.mac.is_none() => {
                if w.len() > 15 {
                    cx.push(
                        Diagnostic::new(
                            Severity::Error,
                            "bad-value",
                            format!(
                                "({}) VMAC interface name '{w}' is longer than 15 characters; it is ignored",
                                vi.name
                            ),
                        )
                        .at(a[i].span),
                    );
                } else {
                    v.name = w.to_string();
                }
            }
            _ => {
                cx.push(
                    Diagnostic::new(
                        Severity::Error,
                        "bad-value",
                        format!(
                            "({}) use_vmac: '{w}' is not understood; it is ignored",
                            vi.name
                        ),
                    )
                    .at(a[i].span)
                    .help("use_vmac [[name] IFNAME] [MAC] [netlink_notify_msg] [group GROUP]"),
                );
            }
        }
        i += 1;
    }
    vi.use_vmac = Some(v);
}

/// `timer_expired_backup [PRIORITY]` (keepalived 2.2.8; `thread_timer_expired` in
/// 2.3.2): read, and said not to be acted on yet.
fn timer_expired_backup(i: &mut VrrpInstance, s: &Stmt, cx: &mut Ctx) {
    super::newer::not_yet(s, "vrrp_instance", Some(&i.name), cx);
    i.timer_expired_backup = if s.args().is_empty() {
        Some(254)
    } else {
        values::int(s, 1, 254, cx).or(i.timer_expired_backup)
    }
}

fn use_ipvlan(vi: &mut VrrpInstance, s: &Stmt, cx: &mut Ctx) {
    let mut v = Ipvlan::default();
    let a = s.args();
    let mut i = 0;
    while i < a.len() {
        let w = a[i].text.as_str();
        match w {
            "name" | "group" => {
                let Some(val) = a.get(i + 1) else {
                    cx.error(
                        "missing-parameter",
                        a[i].span,
                        format!(
                            "({}) use_ipvlan '{w}' needs a value; it is ignored",
                            vi.name
                        ),
                    );
                    break;
                };
                if w == "name" {
                    v.name = Some(val.text.clone());
                } else {
                    v.group = Some(val.text.clone());
                }
                i += 2;
                continue;
            }
            "bridge" | "private" | "vepa" => v.mode = Some(w.to_string()),
            _ if w
                .split('/')
                .next()
                .is_some_and(|x| x.parse::<IpAddr>().is_ok()) =>
            {
                v.address = Some(w.to_string())
            }
            _ if v.name.is_none() => v.name = Some(w.to_string()),
            _ => {
                cx.push(
                    Diagnostic::new(
                        Severity::Error,
                        "bad-value",
                        format!("({}) use_ipvlan: '{w}' is not understood; it is ignored", vi.name),
                    )
                    .at(a[i].span)
                    .help("use_ipvlan [[name] IFNAME] [ADDRESS[/LEN]] [bridge|private|vepa] [group GROUP]"),
                );
            }
        }
        i += 1;
    }
    vi.use_ipvlan = Some(v);
}

fn native_ipv6(vi: &mut VrrpInstance, s: &Stmt, cx: &mut Ctx) {
    values::arity(s, 0, 0, cx);
    if vi.explicit.family && vi.family == Family::Ipv4 {
        cx.push(
            Diagnostic::new(
                Severity::Error,
                "family-mismatch",
                format!(
                    "({}) native_ipv6 cannot be used with the IPv4 addresses given above; it is ignored",
                    vi.name
                ),
            )
            .at(s.span()),
        );
        return;
    }
    vi.native_ipv6 = true;
    vi.family = Family::Ipv6;
    vi.explicit.family = true;
}

fn src_ip(vi: &mut VrrpInstance, s: &Stmt, cx: &mut Ctx) -> Option<IpAddr> {
    let t = values::one(s, cx)?;
    let a = values::ip_tok(t, cx)?;
    let what = format!("source address of {}", s.keyword().text);
    if fit_family(vi, &a, &what, t.span, cx) {
        Some(a)
    } else {
        None
    }
}

fn mcast_dst_ip(vi: &mut VrrpInstance, s: &Stmt, cx: &mut Ctx) {
    let Some(t) = values::one(s, cx) else { return };
    let Some(a) = values::ip_tok(t, cx) else {
        return;
    };
    if !a.is_multicast() {
        cx.push(
            Diagnostic::new(
                Severity::Error,
                "bad-value",
                format!(
                    "({}) mcast_dst_ip {a} is not a multicast address; it is ignored",
                    vi.name
                ),
            )
            .at(t.span)
            .help("an IPv4 224.0.0.0/4 address or an IPv6 ffX2:: link-local multicast address"),
        );
        return;
    }
    if fit_family(vi, &a, "mcast_dst_ip", t.span, cx) {
        vi.mcast_dst_ip = Some(a);
    }
}

fn unicast_peer(vi: &mut VrrpInstance, s: &Stmt, cx: &mut Ctx) {
    vi.explicit.unicast = true;
    let Some(block) = cx.block(s) else { return };
    for line in &block.items {
        let t = line.keyword();
        let Some(addr) = values::ip_tok(t, cx) else {
            continue;
        };
        if !fit_family(vi, &addr, "unicast_peer", t.span, cx) {
            continue;
        }
        let mut p = UnicastPeer {
            address: addr,
            min_ttl: None,
            max_ttl: None,
            span: t.span,
        };
        let a = line.args();
        let mut i = 0;
        let mut ok = true;
        while i < a.len() {
            let w = a[i].text.as_str();
            if w != "min_ttl" && w != "max_ttl" {
                let mut d = Diagnostic::new(
                    Severity::Error,
                    "bad-value",
                    format!(
                        "({}) unknown unicast_peer option '{w}'; the peer is ignored",
                        vi.name
                    ),
                )
                .at(a[i].span);
                if let Some(sug) = suggest(w, ["min_ttl", "max_ttl"].into_iter()) {
                    d = d.help(format!("did you mean '{sug}'?"));
                } else {
                    d = d.help("ADDRESS [min_ttl 0..255] [max_ttl 0..255]");
                }
                cx.push(d);
                ok = false;
                break;
            }
            let Some(v) = a.get(i + 1) else {
                cx.error(
                    "missing-parameter",
                    a[i].span,
                    format!("({}) '{w}' needs a value; the peer is ignored", vi.name),
                );
                ok = false;
                break;
            };
            let Some(n) = values::int_tok::<u8>(v, 0, 255, cx) else {
                ok = false;
                break;
            };
            if w == "min_ttl" {
                p.min_ttl = Some(n);
            } else {
                p.max_ttl = Some(n);
            }
            i += 2;
        }
        if !ok {
            continue;
        }
        if let (Some(lo), Some(hi)) = (p.min_ttl, p.max_ttl) {
            if lo > hi {
                cx.push(
                    Diagnostic::new(
                        Severity::Warning,
                        "ttl-range-empty",
                        format!(
                            "({}) min_ttl {lo} is above max_ttl {hi}: every advert from {addr} will be dropped",
                            vi.name
                        ),
                    )
                    .at(t.span),
                );
            }
        }
        if p.min_ttl.is_some() || p.max_ttl.is_some() {
            // The man page: a TTL range turns on check_unicast_src.
            vi.check_unicast_src = true;
            vi.explicit.check_unicast_src = true;
        }
        vi.unicast_peer.push(p);
    }
}

fn authentication(vi: &mut VrrpInstance, s: &Stmt, cx: &mut Ctx) {
    let Some(block) = cx.block(s) else { return };
    let mut auth = Authentication {
        span: s.span(),
        ..Authentication::default()
    };
    let section = format!("authentication of vrrp_instance {}", vi.name);
    dispatch(&mut auth, &block.items, AUTH, &section, cx);
    vi.authentication = Some(auth);
}

static AUTH: &[Kw<Authentication>] = &[
    kw("auth_type", |a, s, cx| {
        let Some(t) = values::one(s, cx) else { return };
        match t.text.as_str() {
            "PASS" => a.auth_type = Some(AuthType::Pass),
            "AH" => a.auth_type = Some(AuthType::Ah),
            other => {
                let mut d = Diagnostic::new(
                    Severity::Error,
                    "bad-value",
                    format!("unknown auth_type '{other}'; the line is ignored"),
                )
                .at(t.span)
                .help("PASS or AH (upper case)");
                if other.eq_ignore_ascii_case("pass") || other.eq_ignore_ascii_case("ah") {
                    d = d.help(format!("write it in upper case: {}", other.to_uppercase()));
                }
                cx.push(d);
            }
        }
    }),
    kw("auth_pass", |a, s, cx| {
        let Some(t) = values::one(s, cx) else { return };
        let mut pass = t.text.clone();
        if pass.len() > 8 {
            let cut: String = pass.chars().take(8).collect();
            cx.push(
                Diagnostic::new(
                    Severity::Warning,
                    "auth-pass-truncated",
                    format!(
                        "auth_pass is {} characters long; only the first 8 ('{cut}') are used",
                        pass.len()
                    ),
                )
                .at(t.span)
                .help("use at most 8 characters, the same on every router"),
            );
            pass = cut;
        }
        a.auth_pass = Some(pass);
    }),
];

static HMAC: &[Kw<AuthHmac>] = &[
    kw("key", |h, s, cx| {
        if !values::arity(s, 2, 2, cx) {
            return;
        }
        let a = s.args();
        let Some(id) = values::int_tok::<u8>(&a[0], 1, 255, cx) else {
            return;
        };
        if h.key.iter().any(|k| k.id == id) {
            cx.error(
                "duplicate-keyword",
                a[0].span,
                format!("auth_hmac key {id} is already defined; this one is ignored"),
            );
            return;
        }
        // An inline key is decoded here, so `keepup check` names the line; a `file:`
        // key is read when the daemon plans its run. keepalived ignores a bad key and
        // runs on; keepup refuses: a router missing a key signs nothing its peers take
        // (or refuses theirs), which is two Masters.
        if let Err(e) = keepup_wire::hmac_auth::parse_key_value(&a[1].text) {
            cx.push(
                Diagnostic::new(
                    Severity::Fatal,
                    "bad-value",
                    format!("auth_hmac key {id}: {e}"),
                )
                .at(a[1].span)
                .help(
                    "32 to 64 octets: a plain string, hex: and two digits per octet, or file:PATH",
                ),
            );
        }
        h.key.push(HmacKey {
            id,
            value: a[1].text.clone(),
        });
    }),
    kw("active_key", |h, s, cx| {
        h.active_key = values::int(s, 1, 255, cx).or(h.active_key)
    }),
    kw("anti_replay", |h, s, cx| {
        if let Some(v) = values::choice(s, &["time", "monotonic"], cx) {
            h.anti_replay = v.to_string();
        }
    }),
    kw("time_window", |h, s, cx| {
        h.time_window = values::int(s, 1, 300, cx).or(h.time_window)
    }),
    kw("mode", |h, s, cx| {
        if let Some(v) = values::choice(s, &["enforce", "permissive", "receive-only"], cx) {
            h.mode = v.to_string();
        }
    }),
];

fn auth_hmac(vi: &mut VrrpInstance, s: &Stmt, cx: &mut Ctx) {
    let Some(block) = cx.block(s) else { return };
    let mut h = AuthHmac {
        anti_replay: "time".into(),
        mode: "enforce".into(),
        span: s.span(),
        ..AuthHmac::default()
    };
    let section = format!("auth_hmac of vrrp_instance {}", vi.name);
    dispatch(&mut h, &block.items, HMAC, &section, cx);
    if h.key.is_empty() {
        cx.error(
            "missing-parameter",
            s.span(),
            format!("({}) auth_hmac has no key; it is ignored", vi.name),
        );
        return;
    }
    if let Some(k) = h.active_key {
        if !h.key.iter().any(|x| x.id == k) {
            cx.error(
                "unknown-reference",
                s.span(),
                format!(
                    "({}) auth_hmac active_key {k} is not one of its keys",
                    vi.name
                ),
            );
        }
    }
    // Keys are decoded (and `file:` keys read) when the daemon plans its run
    // (crates/daemon/src/plan.rs): a key that cannot be used stops the start or the
    // reload there, naming the instance and the key.
    vi.auth_hmac = Some(h);
}

fn vips(vi: &mut VrrpInstance, s: &Stmt, cx: &mut Ctx) {
    let Some(block) = cx.block(s) else { return };
    for line in &block.items {
        if let Some(v) = ipspec::vip(line, cx) {
            let addr = v.address;
            if fit_family(vi, &addr, "virtual address", v.span, cx) {
                vi.virtual_ipaddress.push(v);
            }
        }
    }
}

fn evips(vi: &mut VrrpInstance, s: &Stmt, cx: &mut Ctx) {
    let Some(block) = cx.block(s) else { return };
    for line in &block.items {
        if let Some(v) = ipspec::vip(line, cx) {
            vi.virtual_ipaddress_excluded.push(v);
        }
    }
}

fn routes(vi: &mut VrrpInstance, s: &Stmt, cx: &mut Ctx) {
    let Some(block) = cx.block(s) else { return };
    for line in &block.items {
        if let Some(r) = ipspec::route(line, cx) {
            vi.virtual_routes.push(r);
        }
    }
}

fn rules(vi: &mut VrrpInstance, s: &Stmt, cx: &mut Ctx) {
    let Some(block) = cx.block(s) else { return };
    for line in &block.items {
        if let Some(r) = ipspec::rule(line, cx) {
            vi.virtual_rules.push(r);
        }
    }
}

fn garp_extra_if(vi: &mut VrrpInstance, s: &Stmt, cx: &mut Ctx) {
    if !values::arity(s, 1, 2, cx) {
        return;
    }
    let a = s.args();
    let (all, t) = if a[0].text == "all" {
        match a.get(1) {
            Some(t) => (true, t),
            None => {
                cx.error(
                    "missing-parameter",
                    a[0].span,
                    format!(
                        "({}) garp_extra_if all needs an interval; the line is ignored",
                        vi.name
                    ),
                );
                return;
            }
        }
    } else {
        (false, &a[0])
    };
    if let Some(interval) = values::timer_tok(t, 0.0, 86400.0, cx) {
        vi.garp_extra_if = Some(GarpExtraIf { all, interval });
    }
}

fn lvs_sync_daemon_interface(vi: &mut VrrpInstance, s: &Stmt, cx: &mut Ctx) {
    let Some(v) = values::string(s, cx) else {
        return;
    };
    cx.push(
        Diagnostic::new(
            Severity::Warning,
            "deprecated",
            format!(
                "({}) lvs_sync_daemon_interface in a vrrp_instance is deprecated",
                vi.name
            ),
        )
        .at(s.span())
        .help(format!(
            "use `lvs_sync_daemon {v} {}` in global_defs instead",
            vi.name
        )),
    );
    if vi.lvs_sync_daemon_interface.is_some() {
        cx.warning(
            "duplicate-keyword",
            s.span(),
            format!(
                "({}) lvs_sync_daemon_interface is already set; this one is ignored",
                vi.name
            ),
        );
        return;
    }
    vi.lvs_sync_daemon_interface = Some(v);
}

fn secs_field(s: &Stmt, min: f64, max: f64, cx: &mut Ctx) -> Option<Secs> {
    values::timer(s, min, max, cx)
}

static INSTANCE: &[Kw<VrrpInstance>] = &[
    kw("state", state),
    kw("interface", interface),
    kw("vrf", |i, s, cx| {
        i.vrf = values::string(s, cx).or(i.vrf.take())
    }),
    kw("use_vmac", use_vmac),
    kw("use_vmac_addr", |i, s, cx| {
        values::arity(s, 0, 0, cx);
        i.use_vmac_addr = true
    }),
    kw("vmac_xmit_base", |i, s, cx| {
        values::arity(s, 0, 0, cx);
        i.vmac_xmit_base = true
    }),
    kw("use_ipvlan", use_ipvlan),
    kw("native_ipv6", native_ipv6),
    kw("dont_track_primary", |i, s, cx| {
        values::arity(s, 0, 0, cx);
        i.dont_track_primary = true
    }),
    kb("track_interface", |i, s, cx| {
        let v = track_block(s, TrackKind::Interface, &i.name.clone(), cx);
        i.track_interface.extend(v)
    }),
    kb("track_script", |i, s, cx| {
        let v = track_block(s, TrackKind::Script, &i.name.clone(), cx);
        i.track_script.extend(v)
    }),
    kb("track_file", |i, s, cx| {
        let v = track_block(s, TrackKind::File, &i.name.clone(), cx);
        i.track_file.extend(v)
    }),
    kb("track_process", |i, s, cx| {
        let v = track_block(s, TrackKind::Process, &i.name.clone(), cx);
        i.track_process.extend(v)
    }),
    kb("track_bfd", |i, s, cx| {
        let v = track_block(s, TrackKind::Bfd, &i.name.clone(), cx);
        no_bfd_tracking(&i.name, &v, s, cx);
        i.track_bfd.extend(v)
    }),
    kw("mcast_src_ip", |i, s, cx| {
        if let Some(a) = src_ip(i, s, cx) {
            i.mcast_src_ip = Some(a)
        }
    }),
    kw("unicast_src_ip", |i, s, cx| {
        i.explicit.unicast = true;
        if let Some(a) = src_ip(i, s, cx) {
            i.unicast_src_ip = Some(a)
        }
    }),
    kw("mcast_dst_ip", mcast_dst_ip),
    kw("track_src_ip", |i, s, cx| {
        values::arity(s, 0, 0, cx);
        i.track_src_ip = true
    }),
    kw("version", |i, s, cx| {
        let Some(t) = values::one(s, cx) else { return };
        match t.text.as_str() {
            "2" => i.version = 2,
            "3" => i.version = 3,
            _ => {
                cx.push(
                    Diagnostic::new(
                        Severity::Error,
                        "bad-value",
                        format!(
                            "({}) VRRP version must be 2 or 3; '{}' is ignored",
                            i.name, t.text
                        ),
                    )
                    .at(t.span),
                );
                return;
            }
        }
        i.explicit.version = true;
    }),
    kw("check_unicast_src", |i, s, cx| {
        values::arity(s, 0, 0, cx);
        i.check_unicast_src = true;
        i.explicit.check_unicast_src = true;
        i.explicit.unicast = true;
    }),
    kb("unicast_peer", unicast_peer),
    kw("unicast_fault_no_peer", |i, s, cx| {
        values::arity(s, 0, 0, cx);
        i.unicast_fault_no_peer = true;
        i.explicit.unicast = true;
    }),
    kw("unicast_ttl", |i, s, cx| {
        i.explicit.unicast = true;
        if let Some(v) = values::int(s, 0, 255, cx) {
            i.unicast_ttl = v;
            i.explicit.unicast_ttl = true;
        }
    }),
    kw("old_unicast_checksum", |i, s, cx| {
        i.explicit.unicast = true;
        match s.args().first() {
            None => i.old_unicast_checksum = Some(false),
            Some(_) => {
                if values::choice(s, &["never"], cx).is_some() {
                    i.old_unicast_checksum = Some(true)
                }
            }
        }
    }),
    kw("v3_checksum_as_v2", |i, s, cx| {
        i.v3_checksum_as_v2 = opt_flag(s, cx).unwrap_or(i.v3_checksum_as_v2)
    }),
    kw("garp_master_delay", |i, s, cx| {
        if let Some(v) = secs_field(s, 0.0, 86400.0, cx) {
            i.garp_master_delay = v;
            i.explicit.garp_master_delay = true;
        }
    }),
    kw("garp_master_repeat", |i, s, cx| {
        if let Some(v) = repeat(s, &i.name.clone(), cx) {
            i.garp_master_repeat = v;
            i.explicit.garp_master_repeat = true;
        }
    }),
    kw("garp_lower_prio_delay", |i, s, cx| {
        if let Some(v) = secs_field(s, 0.0, 86400.0, cx) {
            i.garp_lower_prio_delay = v;
            i.explicit.garp_lower_prio_delay = true;
        }
    }),
    kw("garp_lower_prio_repeat", |i, s, cx| {
        if let Some(v) = values::int(s, 0, i64::from(u32::MAX), cx) {
            i.garp_lower_prio_repeat = v;
            i.explicit.garp_lower_prio_repeat = true;
        }
    }),
    kw("garp_master_refresh", |i, s, cx| {
        if let Some(v) = secs_field(s, 0.0, 86400.0, cx) {
            i.garp_master_refresh = v;
            i.explicit.garp_master_refresh = true;
        }
    }),
    kw("garp_master_refresh_repeat", |i, s, cx| {
        if let Some(v) = repeat(s, &i.name.clone(), cx) {
            i.garp_master_refresh_repeat = v;
            i.explicit.garp_master_refresh_repeat = true;
        }
    }),
    kw("garp_extra_if", garp_extra_if),
    kw("vmac_garp_intvl", |i, s, cx| {
        cx.push(
            Diagnostic::new(
                Severity::Warning,
                "deprecated",
                format!("({}) vmac_garp_intvl is deprecated", i.name),
            )
            .at(s.span())
            .help("use garp_extra_if instead"),
        );
        garp_extra_if(i, s, cx)
    }),
    kw("down_timer_adverts", |i, s, cx| {
        if let Some(v) = values::int(s, 1, 100, cx) {
            i.down_timer_adverts = v;
            i.explicit.down_timer_adverts = true;
        }
    }),
    kw("lower_prio_no_advert", |i, s, cx| {
        if let Some(v) = opt_flag(s, cx) {
            i.lower_prio_no_advert = v;
            i.explicit.lower_prio_no_advert = true;
        }
    }),
    kw("higher_prio_send_advert", |i, s, cx| {
        if let Some(v) = opt_flag(s, cx) {
            i.higher_prio_send_advert = v;
            i.explicit.higher_prio_send_advert = true;
        }
    }),
    kw("keepup_router_advert", |i, s, cx| {
        i.router_advert = if s.args().is_empty() {
            Some(1800)
        } else {
            values::int(s, 12, 9000, cx).or(i.router_advert)
        }
    }),
    kw("timer_expired_backup", timer_expired_backup),
    // keepalived 2.3.2's other name for it.
    kw("thread_timer_expired", timer_expired_backup),
    kw("virtual_router_id", |i, s, cx| {
        i.virtual_router_id = values::int(s, 1, 255, cx).or(i.virtual_router_id)
    }),
    kw("priority", |i, s, cx| {
        if let Some(p) = values::int(s, 1, 255, cx) {
            i.priority = p;
            i.explicit.priority = true;
        }
    }),
    kw("advert_int", |i, s, cx| {
        i.advert_int = secs_field(s, 0.01, 255.0, cx).unwrap_or(i.advert_int)
    }),
    kb("authentication", authentication),
    kb("auth_hmac", auth_hmac),
    kb("virtual_ipaddress", vips),
    kb("virtual_ipaddress_excluded", evips),
    kw("no_virtual_ipaddress", |i, s, cx| {
        values::arity(s, 0, 0, cx);
        i.no_virtual_ipaddress = true
    }),
    kw("promote_secondaries", |i, s, cx| {
        values::arity(s, 0, 0, cx);
        i.promote_secondaries = true
    }),
    kb("virtual_routes", routes),
    kb("virtual_rules", rules),
    kw("accept", |i, s, cx| {
        values::arity(s, 0, 0, cx);
        i.accept = true;
        i.explicit.accept = true;
    }),
    kw("no_accept", |i, s, cx| {
        values::arity(s, 0, 0, cx);
        i.accept = false;
        i.explicit.accept = true;
    }),
    kw("nopreempt", |i, s, cx| {
        values::arity(s, 0, 0, cx);
        i.nopreempt = true
    }),
    kw("preempt", |i, s, cx| {
        values::arity(s, 0, 0, cx);
        i.nopreempt = false
    }),
    kw("preempt_delay", |i, s, cx| {
        if let Some(v) = secs_field(s, 0.0, 1000.0, cx) {
            i.preempt_delay = v;
            i.explicit.preempt_delay = true;
        }
    }),
    kw("skip_check_adv_addr", |i, s, cx| {
        if let Some(v) = opt_flag(s, cx) {
            i.skip_check_adv_addr = v;
            i.explicit.skip_check_adv_addr = true;
        }
    }),
    kw("strict_mode", |i, s, cx| {
        if let Some(v) = opt_flag(s, cx) {
            i.strict_mode = v;
            i.explicit.strict_mode = true;
        }
    }),
    kw("debug", |i, s, cx| {
        i.debug = values::int(s, 0, 4, cx).unwrap_or(i.debug)
    }),
    kw("notify_master", notify_keyword::<VrrpInstance>),
    kw("notify_backup", notify_keyword::<VrrpInstance>),
    kw("notify_fault", notify_keyword::<VrrpInstance>),
    kw("notify_stop", notify_keyword::<VrrpInstance>),
    kw("notify_deleted", notify_keyword::<VrrpInstance>),
    kw("notify", notify_keyword::<VrrpInstance>),
    kw("notify_master_rx_lower_pri", notify_keyword::<VrrpInstance>),
    kw("notify_priority_changes", notify_keyword::<VrrpInstance>),
    kw("smtp_alert", notify_keyword::<VrrpInstance>),
    kw("kernel_rx_buf_size", |i, s, cx| {
        i.kernel_rx_buf_size = values::int(s, 1, i64::MAX, cx).or(i.kernel_rx_buf_size)
    }),
    kw("linkbeat_use_polling", |i, s, cx| {
        values::arity(s, 0, 0, cx);
        i.linkbeat_use_polling = true;
        cx.push(
            Diagnostic::new(
                Severity::Warning,
                "deprecated",
                format!(
                    "({}) linkbeat_use_polling in a vrrp_instance is deprecated",
                    i.name
                ),
            )
            .at(s.span())
            .help("list the interface in a top-level `linkbeat_interfaces { ... }` block instead"),
        );
    }),
    kw("lvs_sync_daemon_interface", lvs_sync_daemon_interface),
];

pub fn vrrp_instance(c: &mut Config, s: &Stmt, cx: &mut Ctx) {
    let Some(name) = block_name(s, "vrrp_instance", cx) else {
        return;
    };
    let Some(block) = cx.block(s) else { return };
    if !cx.define("vrrp_instance", &name.text) {
        let d = Diagnostic::new(
            Severity::Error,
            "duplicate-name",
            format!(
                "vrrp_instance {} is already defined; this second block is ignored",
                name.text
            ),
        )
        .at(name.span)
        .help("give each vrrp_instance its own name");
        cx.push(d);
        return;
    }
    let mut vi = VrrpInstance {
        name: name.text.clone(),
        span: name.span,
        ..VrrpInstance::default()
    };
    let section = format!("vrrp_instance {}", name.text);
    dispatch(&mut vi, &block.items, INSTANCE, &section, cx);
    c.vrrp_instances.push(vi);
}

// ---------------------------------------------------------------------------
// vrrp_sync_group
// ---------------------------------------------------------------------------

static SYNC_GROUP: &[Kw<SyncGroup>] = &[
    kb("group", |g, s, cx| {
        if !g.group.is_empty() {
            cx.push(
                Diagnostic::new(
                    Severity::Error,
                    "duplicate-keyword",
                    format!(
                        "sync group {} already has a group list; this one is ignored",
                        g.name
                    ),
                )
                .at(s.span())
                .help("list every member in one `group { ... }` block"),
            );
            return;
        }
        let words = values::block_words(s, cx);
        if words.is_empty() && s.block.is_some() {
            cx.warning(
                "empty-block",
                s.span(),
                format!("sync group {} has an empty group block", g.name),
            );
        }
        g.group = words
            .into_iter()
            .map(|t| Member {
                name: t.text,
                span: t.span,
            })
            .collect();
    }),
    kb("track_interface", |g, s, cx| {
        let v = track_block(s, TrackKind::Interface, &g.name.clone(), cx);
        g.track_interface.extend(v)
    }),
    kb("track_script", |g, s, cx| {
        let v = track_block(s, TrackKind::Script, &g.name.clone(), cx);
        g.track_script.extend(v)
    }),
    kb("track_file", |g, s, cx| {
        let v = track_block(s, TrackKind::File, &g.name.clone(), cx);
        g.track_file.extend(v)
    }),
    kb("track_process", |g, s, cx| {
        let v = track_block(s, TrackKind::Process, &g.name.clone(), cx);
        g.track_process.extend(v)
    }),
    kb("track_bfd", |g, s, cx| {
        let v = track_block(s, TrackKind::Bfd, &g.name.clone(), cx);
        no_bfd_tracking(&g.name, &v, s, cx);
        g.track_bfd.extend(v)
    }),
    kw("notify_master", notify_keyword::<SyncGroup>),
    kw("notify_backup", notify_keyword::<SyncGroup>),
    kw("notify_fault", notify_keyword::<SyncGroup>),
    kw("notify_stop", notify_keyword::<SyncGroup>),
    kw("notify_deleted", notify_keyword::<SyncGroup>),
    kw("notify", notify_keyword::<SyncGroup>),
    kw("notify_priority_changes", notify_keyword::<SyncGroup>),
    kw("smtp_alert", notify_keyword::<SyncGroup>),
    kw("global_tracking", |g, s, cx| {
        values::arity(s, 0, 0, cx);
        g.global_tracking = true;
        cx.push(
            Diagnostic::new(
                Severity::Warning,
                "deprecated",
                format!("({}) global_tracking is deprecated", g.name),
            )
            .at(s.span())
            .help("put track_interface / track_script / track_file in the sync group itself"),
        );
    }),
    kw("sync_group_tracking_weight", |g, s, cx| {
        values::arity(s, 0, 0, cx);
        g.sync_group_tracking_weight = true
    }),
];

pub fn sync_group(c: &mut Config, s: &Stmt, cx: &mut Ctx) {
    let Some(name) = block_name(s, "vrrp_sync_group", cx) else {
        return;
    };
    let Some(block) = cx.block(s) else { return };
    if c.vrrp_sync_groups.iter().any(|g| g.name == name.text) {
        cx.push(
            Diagnostic::new(
                Severity::Error,
                "duplicate-name",
                format!(
                    "vrrp_sync_group {} is already defined; this second block is ignored",
                    name.text
                ),
            )
            .at(name.span),
        );
        return;
    }
    let mut g = SyncGroup {
        name: name.text.clone(),
        span: name.span,
        ..SyncGroup::default()
    };
    let section = format!("vrrp_sync_group {}", name.text);
    for item in &block.items {
        let word = item.keyword();
        if SYNC_GROUP.iter().any(|k| k.name == word.text) {
            dispatch(&mut g, std::slice::from_ref(item), SYNC_GROUP, &section, cx);
            continue;
        }
        let known = SYNC_GROUP.iter().map(|k| k.name);
        if suggest(&word.text, known.clone()).is_some() || item.block.is_some() {
            unknown_keyword(word, known, &section, cx);
            continue;
        }
        // A bare word in a sync group is almost always a member written outside
        // `group { }` (keepalived reads it as an unknown keyword and drops it).
        cx.push(
            Diagnostic::new(
                Severity::Error,
                "unknown-keyword",
                format!(
                    "unknown keyword '{}' in {section}; the line is ignored",
                    word.text
                ),
            )
            .at(word.span)
            .help(format!(
                "if '{}' is a vrrp_instance, list it inside `group {{ ... }}`",
                word.text
            )),
        );
    }
    c.vrrp_sync_groups.push(g);
}

// ---------------------------------------------------------------------------
// garp_group
// ---------------------------------------------------------------------------

static GARP: &[Kw<GarpGroup>] = &[
    kw("garp_interval", |g, s, cx| {
        g.garp_interval = values::timer(s, 0.0, 86400.0, cx).or(g.garp_interval)
    }),
    kw("gna_interval", |g, s, cx| {
        g.gna_interval = values::timer(s, 0.0, 86400.0, cx).or(g.gna_interval)
    }),
    kw("interface", |g, s, cx| {
        let Some(t) = values::one(s, cx) else { return };
        if !cx.interface_exists(&t.text) {
            cx.warning(
                "no-such-interface",
                t.span,
                format!(
                    "garp_group interface '{}' does not exist on this host",
                    t.text
                ),
            );
        }
        g.interface = Some(t.text.clone());
    }),
    kb("interfaces", |g, s, cx| {
        let words = values::block_words(s, cx);
        if words.is_empty() && s.block.is_some() {
            cx.warning(
                "empty-block",
                s.span(),
                "garp_group has an empty interfaces block",
            );
        }
        for t in words {
            if !cx.interface_exists(&t.text) {
                cx.warning(
                    "no-such-interface",
                    t.span,
                    format!(
                        "garp_group interface '{}' does not exist on this host",
                        t.text
                    ),
                );
            }
            g.interfaces.push(t.text);
        }
    }),
];

pub fn garp_group(c: &mut Config, s: &Stmt, cx: &mut Ctx) {
    values::arity(s, 0, 0, cx);
    let Some(block) = cx.block(s) else { return };
    let mut g = GarpGroup {
        span: s.span(),
        ..GarpGroup::default()
    };
    dispatch(&mut g, &block.items, GARP, "garp_group", cx);
    c.garp_groups.push(g);
}

// ---------------------------------------------------------------------------
// Validation
// ---------------------------------------------------------------------------

pub fn validate(c: &mut Config, cx: &mut Ctx) {
    drop_instances_without_vrid(c, cx);
    let g = global_view(c);
    for vi in &mut c.vrrp_instances {
        inherit(vi, &g);
    }
    sync_groups(c, cx);
    for idx in 0..c.vrrp_instances.len() {
        let mut vi = std::mem::take(&mut c.vrrp_instances[idx]);
        check_instance(&mut vi, c, cx);
        address_use_vmac(&vi, cx);
        c.vrrp_instances[idx] = vi;
    }
    duplicate_vrids(c, cx);
    garp_groups(c, cx);
    default_vmac_names(c);
}

/// A `use_vmac` without a name gets keepalived's (create_vmac_name): `vrrp.VRID`
/// (`vmac_prefix` for `vrrp`), else the next free one, in the order of the
/// instances; an IPv6 instance tries `vrrp6.VRID` second.
fn default_vmac_names(c: &mut Config) {
    let prefix = c
        .global_defs
        .vmac_prefix
        .clone()
        .unwrap_or_else(|| "vrrp".to_string());
    let mut taken: BTreeSet<String> = c
        .vrrp_instances
        .iter()
        .filter_map(|vi| vi.use_vmac.as_ref())
        .filter(|v| !v.name.is_empty())
        .map(|v| v.name.clone())
        .collect();
    for vi in &mut c.vrrp_instances {
        let v6 = vi.family == Family::Ipv6;
        let (Some(id), Some(v)) = (vi.virtual_router_id, vi.use_vmac.as_mut()) else {
            continue;
        };
        if v.name.is_empty() {
            v.name = crate::model::vrrp::vmac_name(&prefix, id, v6, &|n| taken.contains(n));
            taken.insert(v.name.clone());
        }
    }
}

/// The global settings an instance inherits.
struct GlobalView {
    strict: bool,
    version: u8,
    garp_master_delay: Secs,
    garp_master_repeat: u32,
    garp_master_refresh: Secs,
    garp_master_refresh_repeat: u32,
    garp_lower_prio_delay: Option<Secs>,
    garp_lower_prio_repeat: Option<u32>,
    lower_prio_no_advert: bool,
    higher_prio_send_advert: bool,
    skip_check_adv_addr: bool,
    check_unicast_src: bool,
}

fn global_view(c: &Config) -> GlobalView {
    {
        let g = &c.global_defs;
        GlobalView {
            strict: g.vrrp_strict,
            version: g.vrrp_version,
            garp_master_delay: g.vrrp_garp_master_delay,
            garp_master_repeat: g.vrrp_garp_master_repeat,
            garp_master_refresh: g.vrrp_garp_master_refresh,
            garp_master_refresh_repeat: g.vrrp_garp_master_refresh_repeat,
            garp_lower_prio_delay: g.vrrp_garp_lower_prio_delay,
            garp_lower_prio_repeat: g.vrrp_garp_lower_prio_repeat,
            lower_prio_no_advert: g.vrrp_lower_prio_no_advert,
            higher_prio_send_advert: g.vrrp_higher_prio_send_advert,
            skip_check_adv_addr: g.vrrp_skip_check_adv_addr,
            check_unicast_src: g.vrrp_check_unicast_src,
        }
    }
}

/// Fills what the instance did not set from `global_defs`, as keepalived does.
fn inherit(vi: &mut VrrpInstance, g: &GlobalView) {
    let e = vi.explicit;
    if !e.strict_mode {
        vi.strict_mode = g.strict;
    }
    if !e.version {
        vi.version = g.version;
    }
    if !e.garp_master_delay {
        vi.garp_master_delay = g.garp_master_delay;
    }
    if !e.garp_master_repeat {
        vi.garp_master_repeat = g.garp_master_repeat;
    }
    if !e.garp_master_refresh {
        vi.garp_master_refresh = g.garp_master_refresh;
    }
    if !e.garp_master_refresh_repeat {
        vi.garp_master_refresh_repeat = g.garp_master_refresh_repeat;
    }
    // Without their own keyword these follow the global settings, not the instance's
    // garp_master_delay/repeat (keepalived 2.2.7 in a lab: an instance with
    // `garp_master_delay 2` and `garp_master_repeat 3` dumps a lower-priority delay of
    // 5 and repeat of 5, the global defaults).
    if !e.garp_lower_prio_delay {
        vi.garp_lower_prio_delay = g.garp_lower_prio_delay.unwrap_or(g.garp_master_delay);
    }
    if !e.garp_lower_prio_repeat {
        vi.garp_lower_prio_repeat = g.garp_lower_prio_repeat.unwrap_or(g.garp_master_repeat);
    }
    if !e.lower_prio_no_advert {
        vi.lower_prio_no_advert = g.lower_prio_no_advert;
    }
    if !e.higher_prio_send_advert {
        vi.higher_prio_send_advert = g.higher_prio_send_advert;
    }
    if !e.skip_check_adv_addr {
        vi.skip_check_adv_addr = g.skip_check_adv_addr;
    }
    if !e.check_unicast_src {
        vi.check_unicast_src = g.check_unicast_src;
    }
    // keepalived: an instance that starts as MASTER without a priority is the
    // address owner, and the owner without a state starts as MASTER (KA-02).
    if !e.priority && vi.state == State::Master {
        vi.priority = 255;
    }
    if !e.state && vi.priority == 255 {
        vi.state = State::Master;
    }
    // keepalived accepts by default (KA-16); strict mode does not, except for the
    // address owner, which accepts whatever the mode (RFC 5798 6.4.3, OWN-02).
    if !e.accept {
        vi.accept = vi.priority == 255 || !vi.strict_mode;
    }
}

/// `use_vmac` on an address line that says nothing new, as keepalived 2.2.7 reports it
/// (vrrp_complete_instance): on the instance's own VMAC already (its family, no other
/// `dev`, the instance `use_vmac`), or given a VMAC by `use_vmac_addr` anyway.
fn address_use_vmac(vi: &VrrpInstance, cx: &mut Ctx) {
    let v6 = vi.family == Family::Ipv6;
    for a in vi
        .virtual_ipaddress
        .iter()
        .chain(&vi.virtual_ipaddress_excluded)
        .filter(|a| a.use_vmac)
    {
        let other_if = a
            .dev
            .as_ref()
            .is_some_and(|d| Some(d) != vi.interface.as_ref());
        let other_family = a.address.is_ipv6() != v6;
        let (code, msg) = if vi.use_vmac.is_some() && !other_if && !other_family {
            (
                "vmac-redundant",
                format!(
                    "({}) use_vmac specified for VIP/eVIP {} and vrrp instance: it goes on the instance's VMAC",
                    vi.name, a.address
                ),
            )
        } else if vi.use_vmac_addr && (other_if || other_family) {
            (
                "vmac-redundant",
                format!(
                    "({}) use_vmac_addr specified and use_vmac specified for VIP/eVIP {}",
                    vi.name, a.address
                ),
            )
        } else {
            continue;
        };
        warn(
            cx,
            code,
            a.span,
            msg,
            "remove use_vmac from the address line",
        );
    }
}

fn drop_instances_without_vrid(c: &mut Config, cx: &mut Ctx) {
    c.vrrp_instances.retain(|vi| {
        if vi.virtual_router_id.is_some() {
            return true;
        }
        cx.push(
            Diagnostic::new(
                Severity::Error,
                "missing-vrid",
                format!(
                    "vrrp_instance {} has no valid virtual_router_id; the instance is dropped",
                    vi.name
                ),
            )
            .at(vi.span)
            .help("add `virtual_router_id N` with N from 1 to 255, the same on every router of this group"),
        );
        false
    });
}

/// keepup runs no BFD sessions yet: a `track_bfd` entry never moves its instance,
/// where keepalived would fault it (or change its priority) when the neighbour goes
/// down. Said, never silently dropped.
fn no_bfd_tracking<T>(owner: &str, entries: &[T], s: &Stmt, cx: &mut Ctx) {
    if entries.is_empty() {
        return;
    }
    warn(
        cx,
        "bfd-not-run",
        s.span(),
        format!(
            "({owner}) track_bfd: keepup runs no BFD sessions yet, so these trackers never \
             change the instance (keepalived would fault it, or change its priority, when \
             a neighbour goes down)"
        ),
        "track the neighbour with a vrrp_script (e.g. a ping or a TCP check) instead",
    );
}

fn warn(cx: &mut Ctx, code: &'static str, span: Span, msg: String, help: &str) {
    let mut d = Diagnostic::new(Severity::Warning, code, msg).at(span);
    if !help.is_empty() {
        d = d.help(help);
    }
    cx.push(d);
}

fn check_instance(vi: &mut VrrpInstance, c: &Config, cx: &mut Ctx) {
    let n = vi.name.clone();
    let sp = vi.span;

    // The same address twice (keepalived 2.2.7 accepts it without a word).
    let mut seen_vips = std::collections::HashSet::new();
    for a in vi
        .virtual_ipaddress
        .iter()
        .chain(vi.virtual_ipaddress_excluded.iter())
    {
        if !seen_vips.insert((a.address, a.dev.as_deref())) {
            cx.note(
                "duplicate-vip",
                a.span,
                format!(
                    "({n}) {} is listed more than once; it is added once",
                    a.address
                ),
            );
        }
    }

    // Interface.
    if vi.interface.is_some() && vi.vrf.is_some() {
        cx.error(
            "conflicting-keyword",
            sp,
            format!("({n}) vrf cannot be combined with interface; vrf is ignored"),
        );
        vi.vrf = None;
    }
    if vi.interface.is_none() && vi.unicast_peer.is_empty() {
        cx.push(
            Diagnostic::new(
                Severity::Error,
                "missing-interface",
                format!("({n}) has no interface; the instance cannot run"),
            )
            .at(sp)
            .help("add `interface IF`; only unicast instances may leave it out"),
        );
    }

    // Router Advertisements come from the virtual router's link-local address.
    let link_local = vi.virtual_ipaddress.iter().any(|a| match a.address {
        std::net::IpAddr::V6(v6) => v6.is_unicast_link_local(),
        _ => false,
    });
    if vi.router_advert.is_some() && !link_local {
        cx.push(
            Diagnostic::new(
                Severity::Error,
                "router-advert-without-link-local",
                format!(
                    "({n}) keepup_router_advert needs a link-local virtual address (the \
                     virtual router's, which hosts take as their default router); no \
                     router advertisements are sent"
                ),
            )
            .at(sp)
            .help("add the virtual router's link-local address first in virtual_ipaddress, e.g. fe80::1/64"),
        );
        vi.router_advert = None;
    }

    // Family and version.
    if vi.family == Family::Ipv6 && vi.version == 2 {
        if vi.explicit.version {
            // keepalived reports it as a configuration error in strict mode only.
            let msg = format!("({n}) IPv6 needs VRRP version 3; version 3 is used");
            if vi.strict_mode {
                cx.warning("version-forced", sp, msg);
            } else {
                cx.note("version-forced", sp, msg);
            }
        }
        vi.version = 3;
    }

    // Addresses that do not fit in one advert (255 at most, and a 1500-octet
    // packet) are added but not advertised, as keepalived does: excluded VIPs.
    let (per, header) = match vi.family {
        Family::Ipv6 => (16, 40 + 8),
        _ => (4, 20 + 8 + if vi.version == 2 { 8 } else { 0 }),
    };
    let fit = ((1500 - header) / per).min(255);
    if vi.virtual_ipaddress.len() > fit {
        let total = vi.virtual_ipaddress.len();
        let excess = vi.virtual_ipaddress.split_off(fit);
        warn(
            cx,
            "too-many-vips",
            excess[0].span,
            format!(
                "({n}) {total} virtual addresses do not fit in one advert (at most {fit}); the last {} are added as excluded addresses (not advertised), as keepalived does",
                excess.len()
            ),
            "move them to virtual_ipaddress_excluded",
        );
        vi.virtual_ipaddress_excluded.splice(0..0, excess);
    }

    // Advert interval against the version (RFC 3768: whole seconds; RFC 5798:
    // centiseconds, 12 bits).
    let cs = vi.advert_int.micros as f64 / 10_000.0;
    if vi.version == 2 {
        if !vi.advert_int.micros.is_multiple_of(1_000_000) {
            let secs = ((vi.advert_int.micros as f64) / 1e6).round().max(1.0) as u64;
            warn(
                cx,
                "advert-int-rounded",
                sp,
                format!(
                    "({n}) VRRPv2 advert_int must be whole seconds; {} is rounded to {secs}",
                    vi.advert_int.as_secs_f64()
                ),
                "use a whole number of seconds, or `version 3` for fractions",
            );
            vi.advert_int = Secs::from_secs(secs);
        }
    } else if cs > 4095.0 {
        warn(
            cx,
            "advert-int-range",
            sp,
            format!(
                "({n}) VRRPv3 advert_int {} is above the maximum 40.95; 40.95 is used",
                vi.advert_int.as_secs_f64()
            ),
            "VRRPv3 carries the interval in centiseconds (at most 40.95 s)",
        );
        vi.advert_int = Secs::from_millis(40_950);
    } else if !vi.advert_int.micros.is_multiple_of(10_000) {
        let r = cs.round().max(1.0) as u64;
        warn(
            cx,
            "advert-int-rounded",
            sp,
            format!(
                "({n}) VRRPv3 advert_int {} is not a multiple of 10 ms; it is rounded to {}",
                vi.advert_int.as_secs_f64(),
                r as f64 / 100.0
            ),
            "use a multiple of 0.01 s",
        );
        vi.advert_int = Secs::from_millis(r * 10);
    }

    // VIPs. VRRPv3 and strict mode need one (RFC 5798 5.2.5: Count IPvX Addr is at
    // least 1); keepalived 2.2.7 then refuses to run its VRRP side at all (KA-23).
    if vi.virtual_ipaddress.is_empty()
        && vi.version == 3
        && !vi.strict_mode
        && vi.no_virtual_ipaddress
    {
        // keepalived 2.2.8 and later run this (against RFC 5798); keepup's VRRPv3
        // adverts always carry an address, so it refuses rather than run otherwise.
        cx.push(
            Diagnostic::new(
                Severity::Fatal,
                "unsupported",
                format!(
                    "({n}) no_virtual_ipaddress (keepalived 2.2.8) with VRRPv3 is not supported by keepup yet"
                ),
            )
            .at(sp)
            .help("add a virtual_ipaddress block, or use version 2")
            .note("keepalived 2.2.8 and later send VRRPv3 adverts with no address (against RFC 5798 5.2.5); keepup does not"),
        );
    } else if vi.virtual_ipaddress.is_empty() && (vi.version == 3 || vi.strict_mode) {
        let why = if vi.strict_mode {
            "strict mode"
        } else {
            "VRRPv3"
        };
        cx.push(
            Diagnostic::new(
                Severity::Fatal,
                "no-vip",
                format!("({n}) has no virtual_ipaddress; {why} requires at least one"),
            )
            .at(sp)
            .help(
                "add a virtual_ipaddress block (keepalived 2.2.7 also refuses to run without one)",
            ),
        );
    } else if vi.virtual_ipaddress.is_empty() && !vi.no_virtual_ipaddress {
        let why = if vi.version == 3 {
            "VRRPv3 requires at least one"
        } else {
            "an instance without one only elects a master"
        };
        warn(
            cx,
            "no-vip",
            sp,
            format!("({n}) has no virtual_ipaddress; {why}"),
            "add a virtual_ipaddress block (or no_virtual_ipaddress if this is intended)",
        );
    }
    if vi.family == Family::Ipv6 && vi.strict_mode && vi.version == 3 {
        if let Some(first) = vi.virtual_ipaddress.first() {
            if let IpAddr::V6(a) = first.address {
                if (a.segments()[0] & 0xffc0) != 0xfe80 {
                    cx.push(
                        Diagnostic::new(
                            Severity::Error,
                            "first-vip-not-link-local",
                            format!("({n}) in strict mode the first IPv6 virtual address must be link-local"),
                        )
                        .at(first.span)
                        .help("list a fe80:: address first (RFC 5798 5.2.9)"),
                    );
                }
            }
        }
    }

    // Authentication.
    if let Some(auth) = &vi.authentication {
        let asp = auth.span;
        let mut drop_reason: Option<String> = None;
        if vi.strict_mode {
            drop_reason = Some("strict mode does not allow authentication".into());
        } else if vi.version == 3 {
            drop_reason = Some("VRRP version 3 has no authentication".into());
        } else if auth.auth_pass.is_none() {
            drop_reason = Some("it has no auth_pass".into());
        } else if auth.auth_type == Some(AuthType::Ah) && vi.family == Family::Ipv6 {
            drop_reason = Some("AH authentication is IPv4 only".into());
        } else if auth.auth_type.is_none() {
            drop_reason = Some("it has no auth_type".into());
        }
        if let Some(r) = drop_reason {
            warn(
                cx,
                "auth-ignored",
                asp,
                format!("({n}) authentication is ignored: {r}"),
                "remove the authentication block (RFC 3768 removed VRRP authentication)",
            );
            vi.authentication = None;
        } else if auth.auth_type == Some(AuthType::Ah) && vi.state == State::Master {
            warn(
                cx,
                "ah-master",
                asp,
                format!("({n}) state MASTER cannot be used with AH authentication; the instance starts as BACKUP"),
                "remove `state MASTER`, or use auth_type PASS",
            );
            vi.state = State::Backup;
        }
    }

    // Strict mode.
    if vi.strict_mode {
        if vi.state == State::Master && vi.priority != 255 {
            warn(
                cx,
                "strict-master-not-owner",
                sp,
                format!(
                    "({n}) in strict mode state MASTER is only for the address owner (priority 255), but priority is {}; the instance starts as BACKUP",
                    vi.priority
                ),
                "set `priority 255`, or use `state BACKUP`",
            );
            vi.state = State::Backup;
        } else if vi.state == State::Backup && vi.priority == 255 {
            warn(
                cx,
                "strict-owner-not-master",
                sp,
                format!(
                    "({n}) in strict mode the address owner (priority 255) starts as MASTER; state BACKUP is ignored"
                ),
                "remove `state BACKUP`, or lower the priority",
            );
            vi.state = State::Master;
        }
        if vi.explicit.preempt_delay && vi.preempt_delay.micros > 0 {
            warn(
                cx,
                "strict-conflict",
                sp,
                format!("({n}) preempt_delay is not allowed in strict mode; it is reset to 0"),
                "remove preempt_delay or strict mode",
            );
            vi.preempt_delay = Secs::default();
        }
        if vi.down_timer_adverts != 3 {
            warn(
                cx,
                "strict-conflict",
                sp,
                format!("({n}) down_timer_adverts is not allowed in strict mode; 3 is used"),
                "remove down_timer_adverts or strict mode",
            );
            vi.down_timer_adverts = 3;
        }
        if vi.vmac_xmit_base {
            warn(
                cx,
                "strict-conflict",
                sp,
                format!("({n}) vmac_xmit_base is not allowed in strict mode; it is turned off"),
                "remove vmac_xmit_base or strict mode",
            );
            vi.vmac_xmit_base = false;
        }
        if vi.explicit.lower_prio_no_advert && !vi.lower_prio_no_advert {
            warn(
                cx,
                "strict-conflict",
                sp,
                format!("({n}) strict mode requires lower_prio_no_advert; it is turned on"),
                "remove `lower_prio_no_advert off` or strict mode",
            );
        }
        vi.lower_prio_no_advert = true;
        if vi.explicit.higher_prio_send_advert && vi.higher_prio_send_advert {
            warn(
                cx,
                "strict-conflict",
                sp,
                format!(
                    "({n}) higher_prio_send_advert is not allowed in strict mode; it is turned off"
                ),
                "remove higher_prio_send_advert or strict mode",
            );
        }
        vi.higher_prio_send_advert = false;
        // No repeated gratuitous ARPs towards a lower-priority master (KA-07, KA-15);
        // the global settings are not inherited here.
        if vi.explicit.garp_lower_prio_repeat && vi.garp_lower_prio_repeat > 0 {
            warn(
                cx,
                "strict-conflict",
                sp,
                format!("({n}) strict mode sends no repeated gratuitous ARPs: garp_lower_prio_repeat is reset to 0"),
                "remove garp_lower_prio_repeat or strict mode",
            );
        }
        vi.garp_lower_prio_repeat = 0;
        if vi.explicit.garp_lower_prio_delay && vi.garp_lower_prio_delay.micros > 0 {
            warn(
                cx,
                "strict-conflict",
                sp,
                format!("({n}) strict mode sends no repeated gratuitous ARPs: garp_lower_prio_delay is reset to 0"),
                "remove garp_lower_prio_delay or strict mode",
            );
        }
        vi.garp_lower_prio_delay = Secs::default();
        // Unicast is not VRRP (KA-22). keepalived 2.2.7 runs it in strict mode anyway
        // (seen in a lab; later releases refuse such an instance), and so does keepup.
        if !vi.unicast_peer.is_empty() {
            cx.note(
                "strict-unicast",
                sp,
                format!("({n}) unicast peers are not part of VRRP (RFC 3768, RFC 5798 send adverts by multicast); they are used, as keepalived 2.2.7 does, although strict mode is on"),
            );
        }
        // Accept_Mode does not exist in VRRPv2 (RFC 3768 6.4.3): a non-owner Master
        // drops what is sent to its VIPs.
        if vi.version == 2 && vi.priority != 255 && vi.explicit.accept && vi.accept {
            warn(cx, "strict-conflict", sp, format!("({n}) accept mode is not part of VRRPv2 (RFC 3768); in strict mode it is turned off"), "remove `accept`, or use `version 3`");
            vi.accept = false;
        }
        if vi.use_vmac.as_ref().is_some_and(|v| v.mac.is_some()) {
            warn(cx, "strict-conflict", sp, format!("({n}) a use_vmac MAC address is not allowed in strict mode; the RFC MAC is used"), "remove the MAC address from use_vmac");
            if let Some(v) = &mut vi.use_vmac {
                v.mac = None;
            }
        }
    }

    // Preemption.
    if vi.nopreempt && vi.priority == 255 {
        warn(cx, "nopreempt-owner", sp, format!("({n}) nopreempt has no effect with priority 255 (the address owner always preempts); it is turned off"), "remove nopreempt, or lower the priority");
        vi.nopreempt = false;
    } else if vi.nopreempt && vi.state == State::Master {
        warn(
            cx,
            "nopreempt-master",
            sp,
            format!("({n}) nopreempt does not work with state MASTER; nopreempt is turned off"),
            "use `state BACKUP` with nopreempt",
        );
        vi.nopreempt = false;
    }
    if vi.preempt_delay.micros > 0 {
        if vi.state == State::Master {
            warn(
                cx,
                "preempt-delay-master",
                sp,
                format!("({n}) preempt_delay does not work with state MASTER; it is reset to 0"),
                "use `state BACKUP` with preempt_delay",
            );
            vi.preempt_delay = Secs::default();
        } else if vi.nopreempt {
            warn(
                cx,
                "preempt-delay-nopreempt",
                sp,
                format!("({n}) preempt_delay has no effect with nopreempt; it is reset to 0"),
                "remove one of them",
            );
            vi.preempt_delay = Secs::default();
        }
    }

    // Unicast.
    if vi.unicast_peer.is_empty() {
        if vi.explicit.unicast_ttl {
            warn(
                cx,
                "unicast-without-peers",
                sp,
                format!("({n}) unicast_ttl has no effect without unicast_peer; it is ignored"),
                "add a unicast_peer block or remove unicast_ttl",
            );
            vi.unicast_ttl = 255;
        } else if vi.explicit.unicast && !vi.unicast_fault_no_peer {
            warn(cx, "unicast-without-peers", sp, format!("({n}) a unicast keyword is set but there is no unicast_peer; the instance uses multicast"), "add a unicast_peer block, or unicast_fault_no_peer to go to FAULT instead");
        }
    } else {
        if vi.mcast_dst_ip.is_some() {
            warn(
                cx,
                "mcast-with-unicast",
                sp,
                format!("({n}) mcast_dst_ip has no effect with unicast peers; it is ignored"),
                "remove mcast_dst_ip",
            );
            vi.mcast_dst_ip = None;
        }
        if vi.interface.is_none() && vi.unicast_src_ip.is_none() && vi.mcast_src_ip.is_none() {
            cx.push(
                Diagnostic::new(
                    Severity::Error,
                    "missing-interface",
                    format!("({n}) a unicast instance needs unicast_src_ip or interface"),
                )
                .at(sp),
            );
        }
        if vi.use_vmac.is_some() && !vi.vmac_xmit_base {
            warn(
                cx,
                "vmac-xmit-base",
                sp,
                format!("({n}) use_vmac with unicast peers needs vmac_xmit_base; it is turned on"),
                "add vmac_xmit_base",
            );
            vi.vmac_xmit_base = true;
        }
    }
    if vi.vmac_xmit_base && vi.use_vmac.is_none() {
        warn(
            cx,
            "xmit-base-without-vmac",
            sp,
            format!("({n}) vmac_xmit_base only applies with use_vmac; it is ignored"),
            "add use_vmac or remove vmac_xmit_base",
        );
        vi.vmac_xmit_base = false;
    }

    // Routes without an interface cannot be tracked.
    for r in &vi.virtual_routes {
        if r.dev.is_none() {
            warn(
                cx,
                "route-not-tracked",
                r.span,
                format!("({n}) this route has no `dev`, so keepalived cannot track it; it is installed but not watched"),
                "add `dev IF` to the route, or `no_track` if that is intended",
            );
        }
    }

    // Trackers.
    let in_group = vi.sync_group.clone();
    let group_weights = in_group
        .as_ref()
        .and_then(|g| c.vrrp_sync_groups.iter().find(|x| &x.name == g))
        .is_some_and(|g| g.sync_group_tracking_weight);
    let own_if = vi.interface.clone();
    vi.track_interface.retain(|t| {
        if !cx.interface_exists(&t.name) {
            warn(
                cx,
                "no-such-interface",
                t.span,
                format!(
                    "({n}) tracked interface '{}' does not exist on this host",
                    t.name
                ),
                "check the name with `ip link`",
            );
        }
        if own_if.as_deref() == Some(t.name.as_str()) {
            warn(
                cx,
                "track-own-interface",
                t.span,
                format!(
                    "({n}) '{}' is the instance's own interface, which is always tracked; this entry is ignored",
                    t.name
                ),
                "remove it from track_interface",
            );
            return false;
        }
        true
    });
    check_refs(
        &mut vi.track_script,
        "track_script",
        "vrrp_script",
        &n,
        cx,
        |name| {
            c.vrrp_scripts
                .iter()
                .find(|s| s.name == name && s.script.is_some())
                .map(|s| s.weight)
        },
    );
    check_refs(
        &mut vi.track_file,
        "track_file",
        "track_file",
        &n,
        cx,
        |name| c.track_files.iter().any(|s| s.name == name).then_some(0),
    );
    check_refs(
        &mut vi.track_process,
        "track_process",
        "vrrp_track_process",
        &n,
        cx,
        |name| {
            c.track_processes
                .iter()
                .any(|s| s.name == name)
                .then_some(0)
        },
    );
    check_refs(
        &mut vi.track_bfd,
        "track_bfd",
        "bfd_instance",
        &n,
        cx,
        |name| c.bfd_instances.iter().any(|s| s.name == name).then_some(0),
    );
    let script_weight = |name: &str| {
        c.vrrp_scripts
            .iter()
            .find(|s| s.name == name)
            .map(|s| s.weight)
            .unwrap_or(0)
    };
    let weighted: Vec<(String, Span)> = vi
        .track_interface
        .iter()
        .filter(|t| t.weight.unwrap_or(0) != 0)
        .chain(
            vi.track_script
                .iter()
                .filter(|t| t.weight.unwrap_or_else(|| script_weight(&t.name)) != 0),
        )
        .chain(vi.track_file.iter().filter(|t| t.weight.unwrap_or(0) != 0))
        .chain(
            vi.track_process
                .iter()
                .filter(|t| t.weight.unwrap_or(0) != 0),
        )
        .chain(vi.track_bfd.iter().filter(|t| t.weight.unwrap_or(0) != 0))
        .map(|t| (t.name.clone(), t.span))
        .collect();
    for (name, span) in weighted {
        if vi.priority == 255 {
            warn(cx, "weight-ignored", span, format!("({n}) the weight of '{name}' is ignored: priority 255 (address owner) cannot change"), "lower the priority, or use weight 0 to go to FAULT instead");
        } else if let Some(g) = &in_group {
            if !group_weights {
                warn(cx, "weight-ignored", span, format!("({n}) '{name}' has a weight but the instance is in sync group {g}: keepalived 2.2.7 stops tracking it; keepup tracks it with weight 0, so its failure puts the group in FAULT"), "set sync_group_tracking_weight in the group to use the weight, or write weight 0 to say FAULT on failure");
            }
        }
    }
}

/// Reports `track_*` entries naming objects that do not exist, and removes them.
fn check_refs(
    refs: &mut Vec<TrackRef>,
    kw: &str,
    kind: &str,
    owner: &str,
    cx: &mut Ctx,
    lookup: impl Fn(&str) -> Option<i32>,
) {
    refs.retain(|t| {
        if lookup(&t.name).is_some() {
            return true;
        }
        cx.push(
            Diagnostic::new(
                Severity::Error,
                "unknown-reference",
                format!(
                    "({owner}) {kw} '{}' does not name a usable {kind}; it is not tracked",
                    t.name
                ),
            )
            .at(t.span)
            .help(format!(
                "define `{kind} {} {{ ... }}` (a vrrp_script needs a `script` line), or fix the name",
                t.name
            )),
        );
        false
    });
}

fn sync_groups(c: &mut Config, cx: &mut Ctx) {
    let names: BTreeSet<String> = c.vrrp_instances.iter().map(|v| v.name.clone()).collect();
    let mut owner: BTreeMap<String, String> = BTreeMap::new();
    let mut keep = Vec::new();
    for mut g in std::mem::take(&mut c.vrrp_sync_groups) {
        let gname = g.name.clone();
        g.group.retain(|m| {
            if !names.contains(&m.name) {
                cx.push(
                    Diagnostic::new(
                        Severity::Error,
                        "unknown-reference",
                        format!("sync group {gname}: vrrp_instance '{}' does not exist; it is ignored", m.name),
                    )
                    .at(m.span),
                );
                return false;
            }
            if let Some(other) = owner.get(&m.name) {
                cx.push(
                    Diagnostic::new(
                        Severity::Error,
                        "duplicate-member",
                        format!(
                            "vrrp_instance '{}' is already in sync group {other}; it is not added to {gname}",
                            m.name
                        ),
                    )
                    .at(m.span)
                    .help("an instance can be in one sync group only"),
                );
                return false;
            }
            owner.insert(m.name.clone(), gname.clone());
            true
        });
        if g.group.is_empty() {
            cx.push(
                Diagnostic::new(
                    Severity::Error,
                    "empty-sync-group",
                    format!("sync group {gname} has no vrrp_instance; the group is dropped"),
                )
                .at(g.span)
                .help("list its instances inside `group { VI_1 VI_2 }`"),
            );
            continue;
        }
        if g.group.len() == 1 {
            warn(
                cx,
                "single-member-sync-group",
                g.span,
                format!(
                    "sync group {gname} has only one vrrp_instance, so it synchronises nothing"
                ),
                "add the other instances to `group { ... }`, or remove the sync group",
            );
        }
        // Group trackers must exist.
        check_refs(
            &mut g.track_script,
            "track_script",
            "vrrp_script",
            &gname,
            cx,
            |name| {
                c.vrrp_scripts
                    .iter()
                    .find(|s| s.name == name && s.script.is_some())
                    .map(|s| s.weight)
            },
        );
        check_refs(
            &mut g.track_file,
            "track_file",
            "track_file",
            &gname,
            cx,
            |name| c.track_files.iter().any(|s| s.name == name).then_some(0),
        );
        check_refs(
            &mut g.track_process,
            "track_process",
            "vrrp_track_process",
            &gname,
            cx,
            |name| {
                c.track_processes
                    .iter()
                    .any(|s| s.name == name)
                    .then_some(0)
            },
        );
        check_refs(
            &mut g.track_bfd,
            "track_bfd",
            "bfd_instance",
            &gname,
            cx,
            |name| c.bfd_instances.iter().any(|s| s.name == name).then_some(0),
        );
        for t in &g.track_interface {
            if !cx.interface_exists(&t.name) {
                warn(
                    cx,
                    "no-such-interface",
                    t.span,
                    format!(
                        "({gname}) tracked interface '{}' does not exist on this host",
                        t.name
                    ),
                    "check the name with `ip link`",
                );
            }
        }
        keep.push(g);
    }
    c.vrrp_sync_groups = keep;
    for vi in &mut c.vrrp_instances {
        vi.sync_group = owner.get(&vi.name).cloned();
        let Some(g) = vi
            .sync_group
            .as_ref()
            .and_then(|gn| c.vrrp_sync_groups.iter().find(|g| &g.name == gn))
        else {
            continue;
        };
        // The same tracker on the group and on a member is counted twice.
        let pairs = [
            (
                &g.track_interface,
                &mut vi.track_interface,
                "track_interface",
            ),
            (&g.track_script, &mut vi.track_script, "track_script"),
            (&g.track_process, &mut vi.track_process, "track_process"),
            (&g.track_bfd, &mut vi.track_bfd, "track_bfd"),
        ];
        for (gl, il, kw) in pairs {
            il.retain(|t| {
                if gl.iter().any(|x| x.name == t.name) {
                    warn(
                        cx,
                        "tracked-twice",
                        t.span,
                        format!("({}) {kw} '{}' is also tracked by sync group {}; the instance's entry is ignored", vi.name, t.name, g.name),
                        "remove it from the vrrp_instance",
                    );
                    return false;
                }
                true
            });
        }
    }
}

fn duplicate_vrids(c: &Config, cx: &mut Ctx) {
    let list = &c.vrrp_instances;
    // Only instances with the same VRID, family and interface can collide: bucket them
    // first so large configurations stay linear.
    let mut buckets: std::collections::HashMap<_, Vec<usize>> = std::collections::HashMap::new();
    for (i, a) in list.iter().enumerate() {
        if a.interface.is_some() {
            buckets
                .entry((
                    a.virtual_router_id,
                    a.family.label(),
                    a.interface.as_deref(),
                ))
                .or_default()
                .push(i);
        }
    }
    for (i, a) in list.iter().enumerate() {
        let earlier = buckets
            .get(&(
                a.virtual_router_id,
                a.family.label(),
                a.interface.as_deref(),
            ))
            .map(|v| v.as_slice())
            .unwrap_or(&[]);
        for b in earlier.iter().take_while(|&&j| j < i).map(|&j| &list[j]) {
            let same = a.virtual_router_id == b.virtual_router_id
                && a.family == b.family
                && a.interface.is_some()
                && a.interface == b.interface
                && a.mcast_dst_ip == b.mcast_dst_ip
                && a.unicast_peer.is_empty() == b.unicast_peer.is_empty();
            if !same {
                continue;
            }
            // Unicast instances may share a VRID if their peers do not overlap.
            if !a.unicast_peer.is_empty()
                && !a
                    .unicast_peer
                    .iter()
                    .any(|p| b.unicast_peer.iter().any(|q| q.address == p.address))
            {
                continue;
            }
            cx.push(
                Diagnostic::new(
                    Severity::Error,
                    "duplicate-vrid",
                    format!(
                        "({}) virtual_router_id {} is already used by {} for {} on {}; the two cannot be told apart",
                        a.name,
                        a.virtual_router_id.unwrap_or(0),
                        b.name,
                        a.family.label(),
                        a.interface.as_deref().unwrap_or("?")
                    ),
                )
                .at(a.span)
                .help("give each instance on an interface its own virtual_router_id"),
            );
        }
    }
}

fn garp_groups(c: &mut Config, cx: &mut Ctx) {
    let mut seen: BTreeSet<String> = BTreeSet::new();
    c.garp_groups.retain_mut(|g| {
        if g.garp_interval.is_none() && g.gna_interval.is_none() {
            cx.push(
                Diagnostic::new(
                    Severity::Error,
                    "garp-group-no-delay",
                    "garp_group sets neither garp_interval nor gna_interval; the group is dropped",
                )
                .at(g.span)
                .help("add garp_interval and/or gna_interval"),
            );
            return false;
        }
        if g.interface.is_some() && !g.interfaces.is_empty() {
            cx.push(
                Diagnostic::new(
                    Severity::Note,
                    "conflicting-keyword",
                    "garp_group has both interface and interfaces; the man page asks for one",
                )
                .at(g.span)
                .help("interface for one link, interfaces { } for links sharing a switch"),
            );
        }
        let mut all: Vec<String> = g.interface.iter().cloned().collect();
        all.extend(g.interfaces.iter().cloned());
        if all.is_empty() {
            cx.push(
                Diagnostic::new(
                    Severity::Error,
                    "garp-group-no-interface",
                    "garp_group names no interface; the group is dropped",
                )
                .at(g.span)
                .help("add `interface IF` or `interfaces { IF ... }`"),
            );
            return false;
        }
        for i in &all {
            if !seen.insert(i.clone()) {
                cx.error(
                    "duplicate-member",
                    g.span,
                    format!("interface {i} is already in another garp_group; it is ignored here"),
                );
            }
        }
        true
    });
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests: a panic is the failure report
mod tests {
    use super::*;
    use crate::model::{Route, VirtualAddress, VrrpScript};
    use crate::testutil::load;
    use crate::{load_str, LoadOptions};

    /// Codes of the findings, leaving out `no-vip` (the VIP parser lives elsewhere).
    fn codes(l: &crate::Loaded) -> Vec<&'static str> {
        l.diagnostics
            .iter()
            .map(|d| d.code)
            .filter(|c| *c != "no-vip")
            .collect()
    }

    fn inst(body: &str) -> String {
        format!("vrrp_instance VI_1 {{\n interface eth0\n virtual_router_id 51\n{body}\n}}\n")
    }

    /// Validates a model built by hand (for checks that need VIPs, routes, scripts).
    fn check(mut cfg: Config) -> (Config, Vec<&'static str>) {
        let mut cx = Ctx::new(None);
        validate(&mut cfg, &mut cx);
        let c = cx.diags.iter().map(|d| d.code).collect();
        (cfg, c)
    }

    fn vi_with_vip(addr: &str) -> VrrpInstance {
        VrrpInstance {
            name: "VI_1".into(),
            interface: Some("eth0".into()),
            virtual_router_id: Some(51),
            family: Family::of(&addr.parse().unwrap()),
            virtual_ipaddress: vec![VirtualAddress {
                address: addr.parse().unwrap(),
                prefix_len: 24,
                ..VirtualAddress::default()
            }],
            ..VrrpInstance::default()
        }
    }

    #[test]
    fn vips_beyond_one_advert_become_excluded() {
        let mut text = String::from(
            "vrrp_instance VI_1 {\n interface eth0\n virtual_router_id 1\n virtual_ipaddress {\n",
        );
        for i in 0..300 {
            text.push_str(&format!("  10.80.{}.{}/16\n", i / 250, i % 250 + 1));
        }
        text.push_str(" }\n virtual_ipaddress_excluded {\n  10.81.0.1\n }\n}\n");
        let l = crate::load_str("t.conf", &text, &LoadOptions::default());
        let vi = &l.config.vrrp_instances[0];
        assert_eq!(vi.virtual_ipaddress.len(), 255);
        assert_eq!(vi.virtual_ipaddress_excluded.len(), 46);
        assert_eq!(
            vi.virtual_ipaddress_excluded[0].address.to_string(),
            "10.80.1.6",
            "the 256th address comes first"
        );
        assert!(l.diagnostics.iter().any(|d| d.code == "too-many-vips"));
    }

    #[test]
    fn defaults_and_every_keyword() {
        let l = load(&inst(
            r#" state BACKUP
 use_vmac vrrp51 netlink_notify_msg group 5
 vmac_xmit_base
 use_vmac_addr
 dont_track_primary
 track_interface {
   eth1 weight -10 reverse
   eth2
 }
 mcast_src_ip 10.0.0.1
 version 3
 unicast_peer {
   10.0.0.2 min_ttl 1 max_ttl 255
 }
 unicast_ttl 10
 unicast_fault_no_peer
 old_unicast_checksum never
 priority 150
 advert_int 0.5
 garp_master_delay 2
 garp_master_repeat 3
 garp_lower_prio_delay 1
 garp_lower_prio_repeat 2
 garp_master_refresh 60
 garp_master_refresh_repeat 2
 garp_extra_if all 30
 down_timer_adverts 4
 lower_prio_no_advert
 higher_prio_send_advert on
 no_accept
 nopreempt
 skip_check_adv_addr off
 debug 2
 notify_master "/bin/m arg" root
 notify_backup /bin/b
 notify_fault /bin/f
 notify_stop /bin/s
 notify_deleted
 notify /bin/n
 notify_master_rx_lower_pri /bin/l
 notify_priority_changes true
 smtp_alert
 kernel_rx_buf_size 65536
 promote_secondaries
 track_src_ip
 no_virtual_ipaddress"#,
        ));
        // no_virtual_ipaddress with VRRPv3 is not supported (refused).
        assert_eq!(codes(&l), ["unsupported"], "{}", l.render());
        let v = &l.config.vrrp_instances[0];
        assert_eq!(v.version, 3);
        assert_eq!(v.priority, 150);
        assert_eq!(v.advert_int, Secs::from_millis(500));
        assert_eq!(v.unicast_peer.len(), 1);
        assert_eq!(v.unicast_peer[0].min_ttl, Some(1));
        assert!(
            v.check_unicast_src,
            "a TTL range turns on check_unicast_src"
        );
        assert_eq!(v.use_vmac.as_ref().unwrap().name, "vrrp51");
        assert_eq!(v.track_interface[0].weight, Some(-10));
        assert!(v.track_interface[0].reverse);
        assert!(!v.accept && v.nopreempt && v.lower_prio_no_advert && v.higher_prio_send_advert);
        assert_eq!(v.garp_master_repeat, 3);
        assert_eq!(v.garp_extra_if.unwrap().interval, Secs::from_secs(30));
        assert_eq!(
            v.notifications
                .notify_master
                .as_ref()
                .unwrap()
                .user
                .as_deref(),
            Some("root")
        );
        assert!(v.notifications.notify_deleted);
        assert_eq!(v.notifications.smtp_alert, Some(true));
        assert_eq!(v.kernel_rx_buf_size, Some(65536));
    }

    #[test]
    fn inherited_defaults() {
        let l = load(&inst(" state MASTER"));
        let v = &l.config.vrrp_instances[0];
        // keepalived makes a MASTER without a priority the address owner.
        assert_eq!(v.priority, 255);
        assert_eq!(v.advert_int, Secs::from_secs(1));
        assert_eq!(v.version, 2);
        assert_eq!(v.garp_master_delay, Secs::from_secs(5));
        assert_eq!(v.garp_lower_prio_repeat, 5);
        assert!(v.accept);
        let mut cfg = Config::default();
        cfg.global_defs.vrrp_version = 3;
        cfg.global_defs.vrrp_garp_master_repeat = 2;
        cfg.vrrp_instances.push(vi_with_vip("10.1.1.1"));
        let (cfg, c) = check(cfg);
        assert!(c.is_empty(), "{c:?}");
        assert_eq!(cfg.vrrp_instances[0].version, 3);
        assert_eq!(cfg.vrrp_instances[0].garp_master_repeat, 2);
        assert_eq!(cfg.vrrp_instances[0].garp_lower_prio_repeat, 2);
    }

    /// keepalived 2.2.7 (its JSON dump, in a lab): the lower-priority GARP delay and
    /// repeat follow the global settings, not the instance's own garp_master_*.
    #[test]
    fn lower_prio_garp_follows_the_globals_not_the_instance() {
        let l = load(&format!(
            "global_defs {{\n vrrp_garp_master_delay 3\n}}\n{}",
            inst(" garp_master_delay 2\n garp_master_repeat 3")
        ));
        let v = &l.config.vrrp_instances[0];
        assert_eq!(v.garp_master_delay, Secs::from_secs(2));
        assert_eq!(v.garp_lower_prio_delay, Secs::from_secs(3));
        assert_eq!(v.garp_master_repeat, 3);
        assert_eq!(v.garp_lower_prio_repeat, 5);
    }

    #[test]
    fn bad_values() {
        let l = load(&inst(
            " state master\n priority 0\n version 4\n advert_int 0\n debug 9\n bogus_kw 1\n prority 5",
        ));
        let c = codes(&l);
        assert_eq!(
            c,
            [
                "bad-value",
                "out-of-range",
                "bad-value",
                "out-of-range",
                "out-of-range",
                "unknown-keyword",
                "unknown-keyword"
            ],
            "{}",
            l.render()
        );
        assert!(l.render().contains("did you mean 'priority'"));
        assert_eq!(l.config.vrrp_instances[0].priority, 100);
    }

    #[test]
    fn missing_vrid_drops_instance() {
        let l = load("vrrp_instance VI_1 {\n interface eth0\n virtual_router_id 0\n}\n");
        assert!(codes(&l).contains(&"missing-vrid"));
        assert!(l.config.vrrp_instances.is_empty());
    }

    #[test]
    fn duplicate_names_and_vrids() {
        let l = load(&format!("{}{}", inst(""), inst("")));
        assert!(codes(&l).contains(&"duplicate-name"));
        let text = format!("{}{}", inst(""), inst("").replace("VI_1", "VI_2"));
        assert!(codes(&load(&text)).contains(&"duplicate-vrid"));
        let text = format!(
            "{}{}",
            inst(""),
            inst("").replace("VI_1", "VI_2").replace("eth0", "eth1")
        );
        assert!(!codes(&load(&text)).contains(&"duplicate-vrid"));
    }

    #[test]
    fn auth() {
        let l = load(&inst(
            " authentication {\n  auth_type PASS\n  auth_pass 123456789\n }",
        ));
        assert_eq!(codes(&l), ["auth-pass-truncated"]);
        let a = l.config.vrrp_instances[0].authentication.as_ref().unwrap();
        assert_eq!(a.auth_pass.as_deref(), Some("12345678"));
        // keepalived: AH with an initial MASTER state is cleared.
        let l = load(&inst(
            " state MASTER\n priority 100\n authentication {\n  auth_type AH\n  auth_pass 1111\n }",
        ));
        assert_eq!(codes(&l), ["ah-master"]);
        assert_eq!(l.config.vrrp_instances[0].state, State::Backup);
        let l = load(&inst(
            " version 3\n authentication {\n  auth_type PASS\n  auth_pass x\n }",
        ));
        assert_eq!(codes(&l), ["auth-ignored"]);
        let l = load(&inst(" authentication {\n  auth_type FOO\n }"));
        assert_eq!(codes(&l), ["auth-ignored", "bad-value"]);
    }

    #[test]
    fn strict_mode_conflicts() {
        // keepalived/etc/keepalived/keepalived.conf: vrrp_strict, MASTER priority 100, auth.
        let mut cfg = Config::default();
        cfg.global_defs.vrrp_strict = true;
        let mut vi = vi_with_vip("10.1.1.1");
        vi.state = State::Master;
        vi.priority = 100;
        vi.explicit.priority = true;
        vi.authentication = Some(Authentication {
            auth_type: Some(AuthType::Pass),
            auth_pass: Some("1111".into()),
            span: Span::default(),
        });
        cfg.vrrp_instances.push(vi);
        let (cfg, c) = check(cfg);
        assert_eq!(c, ["auth-ignored", "strict-master-not-owner"]);
        let v = &cfg.vrrp_instances[0];
        assert!(v.authentication.is_none() && !v.accept && v.strict_mode);
        let l = load(&inst(
            " strict_mode\n preempt_delay 5\n higher_prio_send_advert\n accept\n down_timer_adverts 5",
        ));
        assert_eq!(
            codes(&l),
            [
                "strict-conflict",
                "strict-conflict",
                "strict-conflict",
                "strict-conflict"
            ],
            "{}",
            l.render()
        );
    }

    /// An instance in strict mode with one VIP and `body`.
    fn strict(body: &str) -> crate::Loaded {
        load(&inst(&format!(
            " strict_mode\n virtual_ipaddress {{\n  10.0.0.1/24\n }}\n{body}"
        )))
    }

    /// keepalived 2.2.7: "(A) State MASTER must match being address owner", both ways.
    #[test]
    fn strict_owner_is_master_and_master_is_owner() {
        let l = strict(" state BACKUP\n priority 255");
        assert_eq!(codes(&l), ["strict-owner-not-master"], "{}", l.render());
        assert_eq!(l.config.vrrp_instances[0].state, State::Master);
        let l = strict(" state MASTER\n priority 254");
        assert_eq!(codes(&l), ["strict-master-not-owner"]);
        assert_eq!(l.config.vrrp_instances[0].state, State::Backup);
        // Outside strict mode an owner may start as BACKUP (KA-02).
        let l = load(&inst(" state BACKUP\n priority 255"));
        assert_eq!(l.config.vrrp_instances[0].state, State::Backup);
        // Without a state the owner starts as MASTER, in any mode.
        let l = load(&inst(" priority 255"));
        assert_eq!(l.config.vrrp_instances[0].state, State::Master);
        assert!(codes(&l).is_empty(), "{}", l.render());
    }

    /// KA-16: accept by default; strict mode drops for non-owners; the owner accepts.
    #[test]
    fn accept_defaults() {
        let v = |l: &crate::Loaded| l.config.vrrp_instances[0].accept;
        assert!(v(&load(&inst(" priority 100"))));
        assert!(!v(&load(&inst(" priority 100\n no_accept"))));
        assert!(!v(&strict(" priority 100")));
        assert!(v(&strict(" priority 255")));
        assert!(v(&strict(" priority 100\n version 3\n accept")));
    }

    /// keepalived 2.2.7: "(B) warning - accept mode for VRRP version 2 does not comply
    /// with RFC3768 - resetting", for non-owners only.
    #[test]
    fn strict_v2_accept_is_reset_for_non_owners() {
        let l = strict(" priority 100\n accept");
        assert_eq!(codes(&l), ["strict-conflict"]);
        assert!(!l.config.vrrp_instances[0].accept);
        let l = strict(" priority 255\n accept");
        assert!(codes(&l).is_empty(), "{}", l.render());
        assert!(l.config.vrrp_instances[0].accept);
        let l = strict(" priority 100\n version 3\n accept");
        assert!(codes(&l).is_empty(), "{}", l.render());
    }

    /// keepalived 2.2.7: "Strict mode requires no repeat garps" / "no repeat garp
    /// delay. resetting"; the global settings are silently not inherited.
    #[test]
    fn strict_no_lower_priority_garp_repeats() {
        let l = strict(" garp_lower_prio_repeat 3\n garp_lower_prio_delay 2");
        assert_eq!(codes(&l), ["strict-conflict", "strict-conflict"]);
        let v = &l.config.vrrp_instances[0];
        assert_eq!(v.garp_lower_prio_repeat, 0);
        assert_eq!(v.garp_lower_prio_delay, Secs::default());
        let l = load(&format!(
            "global_defs {{\n vrrp_strict\n vrrp_garp_lower_prio_repeat 2\n vrrp_higher_prio_send_advert\n}}\n{}",
            inst(" virtual_ipaddress {\n  10.0.0.1/24\n }")
        ));
        assert!(codes(&l).is_empty(), "{}", l.render());
        let v = &l.config.vrrp_instances[0];
        assert_eq!(v.garp_lower_prio_repeat, 0);
        assert!(!v.higher_prio_send_advert && v.lower_prio_no_advert);
    }

    /// keepalived 2.2.7: "(D) No VIP specified; at least one is required" stops its
    /// VRRP side; keepup refuses the configuration.
    #[test]
    fn strict_and_v3_need_a_vip() {
        let fatal = |l: &crate::Loaded| {
            l.diagnostics
                .iter()
                .any(|d| d.code == "no-vip" && d.severity == Severity::Fatal)
        };
        assert!(fatal(&load(&inst(" strict_mode"))));
        assert!(fatal(&load(&inst(" version 3"))));
        let l = load(&inst(" version 2"));
        assert!(!fatal(&l) && l.diagnostics.iter().any(|d| d.code == "no-vip"));
    }

    /// keepalived 2.2.7: "(E) cannot use IPv6 with VRRP version 2; setting version 3"
    /// is an error in strict mode only; unicast peers are used in strict mode, as
    /// keepalived 2.2.7 does (noted).
    #[test]
    fn strict_ipv6_v2_and_unicast() {
        let l = load(&inst(
            " strict_mode\n version 2\n virtual_ipaddress {\n  fe80::1\n }",
        ));
        let d = l.diagnostics.iter().find(|d| d.code == "version-forced");
        assert_eq!(
            d.map(|d| d.severity),
            Some(Severity::Warning),
            "{}",
            l.render()
        );
        assert_eq!(l.config.vrrp_instances[0].version, 3);
        let l = load(&inst(" version 2\n virtual_ipaddress {\n  fe80::1\n }"));
        let d = l.diagnostics.iter().find(|d| d.code == "version-forced");
        assert_eq!(d.map(|d| d.severity), Some(Severity::Note));
        let l = strict(" unicast_peer {\n  10.0.0.2\n }");
        assert_eq!(codes(&l), ["strict-unicast"]);
        assert_eq!(l.config.vrrp_instances[0].unicast_peer.len(), 1);
    }

    #[test]
    fn strict_v6_first_vip_link_local() {
        let mut cfg = Config::default();
        let mut vi = vi_with_vip("2001:db8::1");
        vi.strict_mode = true;
        vi.explicit.strict_mode = true;
        cfg.vrrp_instances.push(vi);
        let (cfg, c) = check(cfg);
        assert_eq!(c, ["first-vip-not-link-local"]);
        assert_eq!(cfg.vrrp_instances[0].version, 3);
    }

    #[test]
    fn preemption_and_advert_int() {
        let l = load(&inst(
            " state MASTER\n priority 100\n nopreempt\n preempt_delay 3",
        ));
        assert_eq!(codes(&l), ["nopreempt-master", "preempt-delay-master"]);
        let l = load(&inst(" priority 255\n nopreempt"));
        assert_eq!(codes(&l), ["nopreempt-owner"]);
        let l = load(&inst(" advert_int 1.5"));
        assert_eq!(codes(&l), ["advert-int-rounded"]);
        assert_eq!(l.config.vrrp_instances[0].advert_int, Secs::from_secs(2));
        let l = load(&inst(" version 3\n advert_int 41"));
        assert_eq!(codes(&l), ["advert-int-range"]);
        let l = load(&inst(" version 3\n advert_int 0.015"));
        assert_eq!(codes(&l), ["advert-int-rounded"]);
    }

    #[test]
    fn unicast() {
        let l = load(&inst(" unicast_src_ip 10.0.0.1"));
        assert_eq!(codes(&l), ["unicast-without-peers"]);
        let l = load(&inst(" unicast_ttl 5"));
        assert_eq!(codes(&l), ["unicast-without-peers"]);
        let l = load(&inst(
            " unicast_src_ip 2001:db8::1\n unicast_peer {\n  10.0.0.2\n  2001:db8::2 min_ttl 9 max_ttl 3\n  2001:db8::3 foo 1\n }",
        ));
        assert_eq!(
            codes(&l),
            ["family-mismatch", "ttl-range-empty", "bad-value"],
            "{}",
            l.render()
        );
        assert_eq!(l.config.vrrp_instances[0].family, Family::Ipv6);
        let l = load(&inst(
            " mcast_dst_ip 224.0.0.30\n unicast_peer {\n  10.0.0.2\n }",
        ));
        assert_eq!(codes(&l), ["mcast-with-unicast"]);
        let l = load(&inst(" vmac_xmit_base"));
        assert_eq!(codes(&l), ["xmit-base-without-vmac"]);
    }

    #[test]
    fn vip_family_is_set_by_first_address() {
        // Built by hand: one family per instance, the first address decides.
        let mut cfg = Config::default();
        let mut vi = vi_with_vip("2001:db8::1");
        vi.explicit.version = true;
        vi.version = 2;
        cfg.vrrp_instances.push(vi);
        let (cfg, c) = check(cfg);
        assert_eq!(c, ["version-forced"]);
        assert_eq!(cfg.vrrp_instances[0].version, 3);
        let mut cx = Ctx::new(None);
        let mut vi = vi_with_vip("10.1.1.1");
        vi.explicit.family = true;
        let addr: IpAddr = "2001:db8::9".parse().unwrap();
        assert!(!fit_family(
            &mut vi,
            &addr,
            "virtual address",
            Span::default(),
            &mut cx
        ));
        assert_eq!(cx.diags[0].code, "family-mismatch");
    }

    #[test]
    fn routes_without_dev_and_interfaces() {
        let mut cfg = Config::default();
        let mut vi = vi_with_vip("10.1.1.1");
        vi.virtual_routes = vec![
            Route {
                dev: None,
                ..Route::default()
            },
            Route {
                dev: Some("eth1".into()),
                ..Route::default()
            },
        ];
        vi.track_interface.push(TrackRef {
            name: "eth0".into(),
            ..TrackRef::default()
        });
        cfg.vrrp_instances.push(vi);
        let (cfg, c) = check(cfg);
        assert_eq!(c, ["route-not-tracked", "track-own-interface"]);
        assert!(cfg.vrrp_instances[0].track_interface.is_empty());
        let opts = LoadOptions {
            interfaces: Some(["eth0".to_string()].into_iter().collect()),
            ..LoadOptions::default()
        };
        let l = load_str(
            "t.conf",
            &inst(" track_interface {\n  eth7\n }").replace("interface eth0", "interface eth9"),
            &opts,
        );
        let c: Vec<_> = l
            .diagnostics
            .iter()
            .map(|d| d.code)
            .filter(|c| *c != "no-vip")
            .collect();
        assert_eq!(c, ["no-such-interface", "no-such-interface"]);
        let l = load(&inst(
            " lvs_sync_daemon_interface eth0\n linkbeat_use_polling",
        ));
        assert_eq!(codes(&l), ["deprecated", "deprecated"]);
    }

    #[test]
    fn track_refs() {
        // conditional_conf: a track_script naming a missing (or script-less) vrrp_script.
        let mut cfg = Config::default();
        cfg.vrrp_scripts.push(VrrpScript {
            name: "noscript".into(),
            script: None,
            ..VrrpScript::default()
        });
        cfg.vrrp_scripts.push(VrrpScript {
            name: "ok".into(),
            script: Some(Script::default()),
            weight: 10,
            ..VrrpScript::default()
        });
        let mut vi = vi_with_vip("10.1.1.1");
        for n in ["missing", "noscript", "ok"] {
            vi.track_script.push(TrackRef {
                name: n.into(),
                ..TrackRef::default()
            });
        }
        vi.track_file.push(TrackRef {
            name: "f".into(),
            ..TrackRef::default()
        });
        vi.priority = 255;
        cfg.vrrp_instances.push(vi);
        let (cfg, c) = check(cfg);
        assert_eq!(
            c,
            [
                "unknown-reference",
                "unknown-reference",
                "unknown-reference",
                "weight-ignored"
            ]
        );
        assert_eq!(cfg.vrrp_instances[0].track_script.len(), 1);
        let l = load(&inst(
            " track_interface {\n  eth1 weight\n  eth2 weight 254\n  eth3 weight 10 bogus\n }\n track_process {\n  p weight 254\n }",
        ));
        assert_eq!(
            codes(&l),
            [
                "missing-parameter",
                "weight-clamped",
                "bad-value",
                "unknown-reference"
            ],
            "{}",
            l.render()
        );
    }

    #[test]
    fn sync_groups() {
        // vrrp.lvs_syncd: members written outside `group { }`.
        let l = load(&format!(
            "vrrp_sync_group VG1 {{\n VI_1\n VI_2\n}}\n{}",
            inst("")
        ));
        assert_eq!(
            codes(&l),
            ["empty-sync-group", "unknown-keyword", "unknown-keyword"]
        );
        assert!(l.render().contains("inside `group"));
        assert!(l.config.vrrp_sync_groups.is_empty());
        let text = format!(
            "vrrp_sync_group G1 {{\n group {{\n  VI_1 VI_9\n }}\n global_tracking\n notify_master /bin/x\n smtp_alert\n sync_group_tracking_weight\n}}\nvrrp_sync_group G2 {{\n group {{\n  VI_1\n }}\n}}\n{}",
            inst(" track_interface {\n  eth1 weight 5\n }")
        );
        let l = load(&text);
        assert_eq!(
            codes(&l),
            [
                "single-member-sync-group",
                "unknown-reference",
                "deprecated",
                "empty-sync-group",
                "duplicate-member"
            ],
            "{}",
            l.render()
        );
        assert_eq!(l.config.vrrp_instances[0].sync_group.as_deref(), Some("G1"));
        let l = load(&format!(
            "vrrp_sync_group G1 {{\n group {{\n  VI_1\n  VI_2\n }}\n track_interface {{\n  eth1\n }}\n}}\n{}{}",
            inst(" track_interface {\n  eth1\n  eth2 weight 3\n }"),
            inst("").replace("VI_1", "VI_2").replace("51", "52")
        ));
        assert_eq!(
            codes(&l),
            ["tracked-twice", "weight-ignored"],
            "{}",
            l.render()
        );
    }

    #[test]
    fn garp_groups() {
        let l = load(
            "garp_group {\n garp_interval 0.1\n interface eth1\n}\ngarp_group {\n interface eth2\n}\ngarp_group {\n gna_interval 1\n interfaces {\n  eth1\n }\n}\n",
        );
        assert_eq!(codes(&l), ["garp-group-no-delay", "duplicate-member"]);
        assert_eq!(l.config.garp_groups.len(), 2);
    }

    /// keepalived 2.2.8's no_virtual_ipaddress silences the no-VIP warning; with
    /// VRRPv3 it also sends adverts with no address, which keepup does not: refused,
    /// saying so (not as a plain "VRRPv3 requires at least one").
    #[test]
    fn no_virtual_ipaddress() {
        let l = load(&inst(" no_virtual_ipaddress"));
        assert!(l.diagnostics.is_empty(), "{}", l.render());
        let l = load(&inst(" version 3\n no_virtual_ipaddress"));
        assert_eq!(l.verdict(), crate::Verdict::Refused, "{}", l.render());
        assert_eq!(l.diagnostics.len(), 1, "{}", l.render());
        assert_eq!(l.diagnostics[0].code, "unsupported");
        assert!(l
            .render()
            .contains("no_virtual_ipaddress (keepalived 2.2.8) with VRRPv3"));
        // Strict mode refuses no VIPs in keepalived 2.4 too: the plain finding.
        let l = load(&inst(" version 3\n strict_mode\n no_virtual_ipaddress"));
        assert_eq!(l.verdict(), crate::Verdict::Refused, "{}", l.render());
        assert!(l.diagnostics.iter().any(|d| d.code == "no-vip"));
    }

    #[test]
    fn newer_keywords() {
        let l = load(&inst(
            " timer_expired_backup\n v3_checksum_as_v2\n use_ipvlan ipv1 10.0.0.5/24 private\n auth_hmac {\n  key 1 hex:000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f\n  active_key 1\n  anti_replay monotonic\n  time_window 10\n  mode permissive\n }",
        ));
        // timer_expired_backup is read and said not supported yet (parse/newer.rs
        // has every newer keyword); use_ipvlan, auth_hmac and v3_checksum_as_v2 are
        // read and run.
        assert_eq!(codes(&l), ["unsupported"], "{}", l.render());
        let v = &l.config.vrrp_instances[0];
        assert_eq!(v.timer_expired_backup, Some(254));
        assert_eq!(v.auth_hmac.as_ref().unwrap().mode, "permissive");
        assert_eq!(
            v.use_ipvlan.as_ref().unwrap().mode.as_deref(),
            Some("private")
        );
        let l = load(&inst(" use_vmac 00:00:5e:00:01:33"));
        assert_eq!(codes(&l), ["bad-value"]);
        let l = load(&inst(" use_vmac vrrp.x 02:00:00:00:00:01\n vmac_xmit_base"));
        assert!(codes(&l).is_empty(), "{}", l.render());
        let v = l.config.vrrp_instances[0].use_vmac.as_ref().unwrap();
        assert_eq!(
            (v.name.as_str(), v.mac.as_deref()),
            ("vrrp.x", Some("02:00:00:00:00:01"))
        );
        let l = load(&inst(" use_vmac\n use_vmac_addr"));
        assert!(codes(&l).is_empty(), "{}", l.render());
        assert!(l.config.vrrp_instances[0].use_vmac_addr);
        let v = l.config.vrrp_instances[0].use_vmac.as_ref().unwrap();
        assert_eq!(v.name, "vrrp.51", "keepalived's default name");
        // One VRID for IPv4 and IPv6, both use_vmac: the IPv6 one is vrrp6.51, as
        // keepalived names it; vmac_prefix replaces vrrp.
        let two = "vrrp_instance A {\n interface eth0\n virtual_router_id 51\n use_vmac\n virtual_ipaddress {\n  10.0.0.1/24\n }\n}\n\
                   vrrp_instance B {\n interface eth0\n virtual_router_id 51\n use_vmac\n virtual_ipaddress {\n  fd00::1/64\n }\n}\n";
        let l = load(two);
        let names: Vec<&str> = l
            .config
            .vrrp_instances
            .iter()
            .map(|v| v.use_vmac.as_ref().unwrap().name.as_str())
            .collect();
        assert_eq!(names, ["vrrp.51", "vrrp6.51"], "{}", l.render());
        let l = load(&format!("global_defs {{\n vmac_prefix vm\n}}\n{two}"));
        let v = l.config.vrrp_instances[0].use_vmac.as_ref().unwrap();
        assert_eq!(v.name, "vm.51", "{}", l.render());
        // use_vmac on an address that says nothing new is said so, as keepalived does.
        let l = load(
            "vrrp_instance VI_1 {\n interface eth0\n virtual_router_id 51\n use_vmac\n use_vmac_addr\n virtual_ipaddress {\n  10.0.0.1/24 use_vmac\n  10.0.1.1/24 dev eth1 use_vmac\n  10.0.2.1/24 dev eth2\n }\n}\n",
        );
        assert_eq!(
            codes(&l),
            ["vmac-redundant", "vmac-redundant"],
            "{}",
            l.render()
        );
        let l = load(
            "vrrp_instance VI_1 {\n interface eth0\n virtual_router_id 51\n virtual_ipaddress {\n  10.0.0.1/24 use_vmac\n }\n}\n",
        );
        assert!(codes(&l).is_empty(), "{}", l.render());
        assert!(l.config.vrrp_instances[0].virtual_ipaddress[0].use_vmac);
    }

    /// An inline auth_hmac key that cannot be used refuses the file at its line
    /// (keepalived would drop the key and run on: two Masters); a `file:` key is
    /// left to the daemon, which reads it when it plans.
    #[test]
    fn a_bad_inline_auth_hmac_key_is_fatal() {
        for (key, says) in [
            ("hex:00", "key is 1 octets; 32 to 64 are needed"),
            ("hex:0g", "not a hex string"),
            ("short", "key is 5 octets"),
        ] {
            let l = load(&inst(&format!(" auth_hmac {{\n  key 1 {key}\n }}")));
            assert_eq!(codes(&l), ["bad-value"], "{}", l.render());
            assert!(l.render().contains(says), "{}", l.render());
            assert_eq!(l.verdict(), crate::Verdict::Refused);
        }
        let l = load(&inst(
            " auth_hmac {\n  key 1 file:/etc/keepalived/vrrp.key\n }",
        ));
        assert!(codes(&l).is_empty(), "{}", l.render());
    }
}
