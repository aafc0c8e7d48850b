//! `global_defs`, the top-level daemon keywords (`net_namespace`, `instance`, ...),
//! `linkbeat_interfaces`, `track_group` and `interface_up_down_delays`.
//!
//! Ranges are keepalived 2.2.7's (found by feeding it out-of-range values): a value
//! it rejects is an Error here and the line is ignored; a value it adjusts (a repeat
//! count of 0 becomes 1) is a Warning saying what is used instead.

use super::{dispatch, kb, kw, values, Ctx, Kw};
use crate::diag::{Diagnostic, Severity};
use crate::model::global::{LinkbeatType, LvsFlushOnStop, LvsSyncDaemon, RxBufsPolicy, SmtpServer};
use crate::model::{
    Config, GlobalDefs, InterfaceDelay, LinkbeatInterface, Script, Secs, TrackGroup,
};
use crate::tree::{Stmt, Token};
use std::net::IpAddr;

/// Largest whole number of seconds keepalived takes for a delay held in microseconds.
const MAX_TIMER_SECS: i64 = 4294;
/// Largest fractional seconds keepalived takes for such a delay.
const MAX_TIMER_F: f64 = 4294.967295;
const U32_MAX: i64 = u32::MAX as i64;
const I32_MAX: i64 = i32::MAX as i64;
/// Longest LVS connection timeout keepalived accepts (31 days).
const LVS_MAX_TIMEOUT: i64 = 86400 * 31;

// ---------- small helpers ----------

/// The first value of a keyword that needs one. Extra values are ignored by
/// keepalived without a word, so they get only a note here.
fn arg0<'s>(stmt: &'s Stmt, cx: &mut Ctx) -> Option<&'s Token> {
    let Some(first) = stmt.args().first() else {
        cx.push(
            Diagnostic::new(
                Severity::Error,
                "missing-parameter",
                format!(
                    "'{}' needs a value; the line is ignored",
                    stmt.keyword().text
                ),
            )
            .at(stmt.full_span()),
        );
        return None;
    };
    extra_note(stmt, 1, cx);
    Some(first)
}

/// A note for values past the `max`-th (keepalived ignores them silently).
fn extra_note(stmt: &Stmt, max: usize, cx: &mut Ctx) {
    if let Some(extra) = stmt.args().get(max) {
        cx.note(
            "extra-parameter",
            extra.span,
            format!(
                "'{}' takes at most {max} value(s); '{}' and what follows are ignored",
                stmt.keyword().text,
                extra.text
            ),
        );
    }
}

fn int<T: TryFrom<i64>>(stmt: &Stmt, min: i64, max: i64, cx: &mut Ctx) -> Option<T> {
    arg0(stmt, cx).and_then(|t| values::int_tok(t, min, max, cx))
}

/// A `<TIMER>` in seconds; the message names the keyword, as keepalived's does.
fn timer(stmt: &Stmt, min: f64, max: f64, cx: &mut Ctx) -> Option<Secs> {
    let t = arg0(stmt, cx)?;
    match t.text.parse::<f64>() {
        Ok(v) if v.is_finite() && v >= min && v <= max => Some(Secs::from_secs_f64(v)),
        Ok(v) if v.is_finite() => {
            let mut d = Diagnostic::new(
                Severity::Error,
                "out-of-range",
                format!(
                    "{} {} is outside the range [{min}, {max}] seconds; the line is ignored",
                    stmt.keyword().text,
                    t.text
                ),
            )
            .at(t.span);
            if v == 0.0 {
                d = d.help(format!(
                    "0 is not accepted; remove the line to keep the default, or give at least {min}"
                ));
            }
            cx.push(d);
            None
        }
        _ => values::timer_tok(t, min, max, cx),
    }
}

fn string(stmt: &Stmt, cx: &mut Ctx) -> Option<String> {
    arg0(stmt, cx).map(|t| t.text.clone())
}

/// An optional single word: `None` if absent.
fn opt_word(stmt: &Stmt, cx: &mut Ctx) -> String {
    extra_note(stmt, 1, cx);
    stmt.args()
        .first()
        .map(|t| t.text.clone())
        .unwrap_or_default()
}

/// A keyword that takes no value; keepalived ignores anything after it.
fn plain(stmt: &Stmt, cx: &mut Ctx) -> bool {
    extra_note(stmt, 0, cx);
    true
}

/// `keyword [<BOOL>]`.
fn flag(field: &mut bool, stmt: &Stmt, cx: &mut Ctx) {
    if let Some(v) = values::flag(stmt, cx) {
        *field = v;
    }
}

/// A repeat count where keepalived turns 0 into 1.
fn repeat_at_least_one(stmt: &Stmt, cx: &mut Ctx) -> Option<u32> {
    let v: u32 = int(stmt, 0, U32_MAX, cx)?;
    if v == 0 {
        if let Some(t) = stmt.args().first() {
            cx.push(
                Diagnostic::new(
                    Severity::Warning,
                    "value-adjusted",
                    format!("'{}' must be at least 1; 1 is used", stmt.keyword().text),
                )
                .at(t.span),
            );
        }
        return Some(1);
    }
    Some(v)
}

/// `SCRIPT [user [group]]`, also accepting the newer `user:group` spelling.
fn script(stmt: &Stmt, cx: &mut Ctx) -> Option<Script> {
    let a = stmt.args();
    if a.is_empty() {
        return values::script(stmt, cx);
    }
    let mut user = a.get(1).map(|t| t.text.clone());
    let mut group = a.get(2).map(|t| t.text.clone());
    if let Some(u) = user.clone() {
        if let Some((uu, gg)) = u.split_once(':') {
            user = Some(uu.to_string());
            if !gg.is_empty() {
                group = Some(gg.to_string());
            }
        }
    }
    extra_note(stmt, 3, cx);
    Some(Script {
        command: a[0].text.clone(),
        user,
        group,
        span: stmt.span(),
    })
}

/// A process real-time priority: keepalived clamps to [1, 99] with a message.
fn rt_priority(stmt: &Stmt, cx: &mut Ctx) -> Option<u32> {
    let v: i64 = int(stmt, i64::from(i32::MIN), I32_MAX, cx)?;
    let clamped = v.clamp(1, 99);
    if clamped != v {
        if let Some(t) = stmt.args().first() {
            cx.push(
                Diagnostic::new(
                    Severity::Warning,
                    "value-adjusted",
                    format!("real-time priority {v} is outside [1, 99]; {clamped} is used instead"),
                )
                .at(t.span)
                .help("a real-time priority from 1 to 99"),
            );
        }
    }
    u32::try_from(clamped).ok()
}

/// `*_cpu_affinity CPU...`.
fn cpus(stmt: &Stmt, cx: &mut Ctx) -> Option<Vec<u32>> {
    if !values::arity(stmt, 1, usize::MAX, cx) {
        return None;
    }
    let mut out = Vec::new();
    for t in stmt.args() {
        // CPU_SETSIZE is 1024; whether the CPU exists is for the host running keepup.
        out.push(values::int_tok::<u32>(t, 0, 1023, cx)?);
    }
    Some(out)
}

fn mcast(stmt: &Stmt, want_v4: bool, cx: &mut Ctx) -> Option<IpAddr> {
    let t = arg0(stmt, cx)?;
    let ip = values::ip_tok(t, cx)?;
    let problem = match ip {
        IpAddr::V4(_) if !want_v4 => Some("is not an IPv6 address"),
        IpAddr::V6(_) if want_v4 => Some("is not an IPv4 address"),
        a if !a.is_multicast() => Some("is not a multicast address"),
        _ => None,
    };
    if let Some(p) = problem {
        cx.push(
            Diagnostic::new(
                Severity::Error,
                "bad-value",
                format!("{} {p}; the line is ignored", t.text),
            )
            .at(t.span)
            .help(if want_v4 {
                "an IPv4 multicast address, e.g. 224.0.0.18"
            } else {
                "an IPv6 multicast address, e.g. ff02::12"
            }),
        );
        return None;
    }
    Some(ip)
}

// ---------- global_defs handlers with more than one line of logic ----------

fn notification_email(g: &mut GlobalDefs, s: &Stmt, cx: &mut Ctx) {
    let words = values::block_words(s, cx);
    if s.block.is_some() {
        g.notification_email
            .extend(words.into_iter().map(|t| t.text));
    }
}

fn smtp_server(g: &mut GlobalDefs, s: &Stmt, cx: &mut Ctx) {
    let Some(host) = s.args().first() else {
        arg0(s, cx);
        return;
    };
    extra_note(s, 2, cx);
    let port = match s.args().get(1) {
        Some(p) => match values::int_tok::<u16>(p, 1, 65535, cx) {
            Some(v) => v,
            None => return,
        },
        None => 25,
    };
    g.smtp_server = Some(SmtpServer {
        host: host.text.clone(),
        port,
    });
}

fn smtp_connect_timeout(g: &mut GlobalDefs, s: &Stmt, cx: &mut Ctx) {
    let Some(v) = int::<u32>(s, 0, MAX_TIMER_SECS, cx) else {
        return;
    };
    if v == 0 {
        cx.warning(
            "value-adjusted",
            s.args()[0].span,
            "'smtp_connect_timeout' must be at least 1 second; 1 is used",
        );
        g.smtp_connect_timeout = 1;
    } else {
        g.smtp_connect_timeout = v;
    }
}

fn lvs_sync_daemon(g: &mut GlobalDefs, s: &Stmt, cx: &mut Ctx) {
    if let Some(prev) = &g.lvs_sync_daemon {
        cx.push(
            Diagnostic::new(
                Severity::Error,
                "duplicate",
                format!(
                    "lvs_sync_daemon is already set (interface {}); this line is ignored",
                    prev.interface
                ),
            )
            .at(s.span()),
        );
        return;
    }
    let a = s.args();
    let Some(ifname) = a.first() else {
        cx.push(
            Diagnostic::new(
                Severity::Error,
                "missing-parameter",
                "'lvs_sync_daemon' needs an interface; the line is ignored",
            )
            .at(s.span())
            .help("lvs_sync_daemon INTERFACE [[inst] VRRP_INSTANCE] [id N] [maxlen N] [port N] [ttl N] [group IP]"),
        );
        return;
    };
    let mut d = LvsSyncDaemon {
        interface: ifname.text.clone(),
        span: ifname.span,
        ..LvsSyncDaemon::default()
    };
    let mut i = 1;
    // The instance comes first, with or without `inst`.
    if let Some(t) = a.get(i) {
        if t.text == "inst" {
            if let Some(n) = a.get(i + 1) {
                d.vrrp_instance = Some(n.text.clone());
                d.instance_span = Some(n.span);
            }
            i += 2;
        } else if !["id", "maxlen", "port", "ttl", "group"].contains(&t.text.as_str()) {
            d.vrrp_instance = Some(t.text.clone());
            d.instance_span = Some(t.span);
            i += 1;
            // keepalived 1.x form: `IF INSTANCE SYNCID`.
            if let Some(n) = a.get(i) {
                if n.text.starts_with(|c: char| c.is_ascii_digit()) {
                    cx.push(
                        Diagnostic::new(
                            Severity::Warning,
                            "deprecated",
                            "a bare sync id after the instance is the old syntax",
                        )
                        .at(n.span)
                        .help(format!("write 'id {}'", n.text)),
                    );
                    d.syncid = values::int_tok(n, 0, 255, cx);
                    i += 1;
                }
            }
        }
    }
    while i < a.len() {
        let opt = &a[i];
        let Some(val) = a.get(i + 1) else {
            cx.error(
                "missing-parameter",
                opt.span,
                format!(
                    "lvs_sync_daemon option '{}' needs a value; it is ignored",
                    opt.text
                ),
            );
            break;
        };
        match opt.text.as_str() {
            "id" => d.syncid = values::int_tok(val, 0, 255, cx).or(d.syncid),
            "maxlen" => d.maxlen = values::int_tok(val, 1, 65535 - 20 - 8, cx).or(d.maxlen),
            "port" => d.port = values::int_tok(val, 1, 65535, cx).or(d.port),
            "ttl" => d.ttl = values::int_tok(val, 1, 255, cx).or(d.ttl),
            "group" => {
                if let Some(ip) = values::ip_tok(val, cx) {
                    if ip.is_multicast() {
                        d.group = Some(ip);
                    } else {
                        cx.error(
                            "bad-value",
                            val.span,
                            format!("lvs_sync_daemon group {ip} is not a multicast address; it is ignored"),
                        );
                    }
                }
            }
            _ => {
                let mut diag = Diagnostic::new(
                    Severity::Error,
                    "bad-value",
                    format!(
                        "unknown lvs_sync_daemon option '{}'; it is ignored",
                        opt.text
                    ),
                )
                .at(opt.span);
                diag = match super::suggest(
                    &opt.text,
                    ["id", "maxlen", "port", "ttl", "group"].into_iter(),
                ) {
                    Some(sug) => diag.help(format!("did you mean '{sug}'?")),
                    None => diag.help("options: id, maxlen, port, ttl, group"),
                };
                cx.push(diag);
                i += 1;
                continue;
            }
        }
        i += 2;
    }
    g.lvs_sync_daemon = Some(d);
}

fn lvs_timeouts(g: &mut GlobalDefs, s: &Stmt, cx: &mut Ctx) {
    let a = s.args();
    if a.len() < 2 {
        cx.push(
            Diagnostic::new(
                Severity::Error,
                "missing-parameter",
                "'lvs_timeouts' needs at least one timeout; the line is ignored",
            )
            .at(s.full_span())
            .help("lvs_timeouts [tcp SECS] [tcpfin SECS] [udp SECS]"),
        );
        return;
    }
    let mut i = 0;
    while i < a.len() {
        let opt = &a[i];
        let slot = match opt.text.as_str() {
            "tcp" => &mut g.lvs_timeouts.tcp,
            "tcpfin" => &mut g.lvs_timeouts.tcpfin,
            "udp" => &mut g.lvs_timeouts.udp,
            _ => {
                cx.push(
                    Diagnostic::new(
                        Severity::Error,
                        "bad-value",
                        format!("unknown lvs_timeouts option '{}'; it is ignored", opt.text),
                    )
                    .at(opt.span)
                    .help("options: tcp, tcpfin, udp"),
                );
                i += 1;
                continue;
            }
        };
        match a.get(i + 1) {
            Some(v) => {
                if let Some(n) = values::int_tok(v, 0, LVS_MAX_TIMEOUT, cx) {
                    *slot = Some(n);
                }
            }
            None => cx.error(
                "missing-parameter",
                opt.span,
                format!(
                    "lvs_timeouts '{}' needs a value in seconds; it is ignored",
                    opt.text
                ),
            ),
        }
        i += 2;
    }
}

fn lvs_flush_on_stop(g: &mut GlobalDefs, s: &Stmt, cx: &mut Ctx) {
    extra_note(s, 1, cx);
    match s.args().first() {
        None => g.lvs_flush_on_stop = LvsFlushOnStop::All,
        Some(t) => {
            if values::choice_tok(t, &["VS"], false, cx).is_some() {
                g.lvs_flush_on_stop = LvsFlushOnStop::Vs;
            }
        }
    }
}

fn vrrp_garp_extra_if(g: &mut GlobalDefs, s: &Stmt, cx: &mut Ctx) {
    let a = s.args();
    let (all, val) = match a.first() {
        Some(t) if t.text == "all" => (true, a.get(1)),
        other => (false, other),
    };
    let Some(val) = val else {
        cx.error(
            "missing-parameter",
            s.full_span(),
            "'vrrp_garp_extra_if' needs an interval in seconds; the line is ignored",
        );
        return;
    };
    if let Some(v) = values::int_tok::<u32>(val, 1, 86400, cx) {
        g.vrrp_garp_extra_if = Some(v);
        g.vrrp_garp_extra_if_all = all;
    }
}

fn max_auto_priority(g: &mut GlobalDefs, s: &Stmt, cx: &mut Ctx) {
    if s.args().is_empty() {
        g.max_auto_priority = 99;
    } else if let Some(v) = int(s, -1, 99, cx) {
        g.max_auto_priority = v;
    }
}

fn dynamic_interfaces(g: &mut GlobalDefs, s: &Stmt, cx: &mut Ctx) {
    extra_note(s, 1, cx);
    match s.args().first() {
        None => g.dynamic_interfaces = true,
        Some(t) => {
            if values::choice_tok(t, &["allow_if_changes"], false, cx).is_some() {
                g.dynamic_interfaces = true;
                g.dynamic_interfaces_allow_if_changes = true;
            }
        }
    }
}

fn vrrp_rx_bufs_policy(g: &mut GlobalDefs, s: &Stmt, cx: &mut Ctx) {
    let Some(t) = arg0(s, cx) else { return };
    let p = match t.text.as_str() {
        "MTU" => Some(RxBufsPolicy::Mtu),
        "ADVERT" => Some(RxBufsPolicy::Advert),
        w if w.starts_with(|c: char| c.is_ascii_digit()) => {
            values::int_tok(t, 1, U32_MAX, cx).map(RxBufsPolicy::Size)
        }
        _ => {
            values::choice_tok(t, &["MTU", "ADVERT"], false, cx);
            None
        }
    };
    if p.is_some() {
        g.vrrp_rx_bufs_policy = p;
    }
}

/// The umask bit names keepalived takes, and their values.
const UMASK_BITS: &[(&str, u32)] = &[
    ("IRUSR", 0o400),
    ("IWUSR", 0o200),
    ("IXUSR", 0o100),
    ("IRGRP", 0o040),
    ("IWGRP", 0o020),
    ("IXGRP", 0o010),
    ("IROTH", 0o004),
    ("IWOTH", 0o002),
    ("IXOTH", 0o001),
    ("IRWXU", 0o700),
    ("IRWXG", 0o070),
    ("IRWXO", 0o007),
];

fn umask(g: &mut GlobalDefs, s: &Stmt, cx: &mut Ctx) {
    if s.args().is_empty() {
        arg0(s, cx);
        return;
    }
    // The bits may be written with or without spaces around '|'.
    let text: String = s.args().iter().map(|t| t.text.as_str()).collect();
    let span = s.args()[0].span;
    let help =
        "a number up to 0777 (octal with a leading 0, or hex with 0x), or bits such as IWGRP|IWOTH";
    if text.starts_with(|c: char| c.is_ascii_digit()) {
        let parsed = if let Some(h) = text.strip_prefix("0x").or_else(|| text.strip_prefix("0X")) {
            u32::from_str_radix(h, 16).ok()
        } else if text.len() > 1 && text.starts_with('0') {
            u32::from_str_radix(&text[1..], 8).ok()
        } else {
            text.parse().ok()
        };
        match parsed {
            Some(v) if v <= 0o777 => g.umask = Some(v),
            _ => cx.push(
                Diagnostic::new(
                    Severity::Error,
                    "bad-value",
                    format!("'{text}' is not a valid umask; the line is ignored"),
                )
                .at(span)
                .help(help),
            ),
        }
        return;
    }
    let mut v = 0;
    for bit in text.split('|') {
        match UMASK_BITS.iter().find(|(n, _)| *n == bit) {
            Some((_, b)) => v |= b,
            None => {
                let mut d = Diagnostic::new(
                    Severity::Error,
                    "bad-value",
                    format!("unknown umask bit '{bit}'; the line is ignored"),
                )
                .at(span);
                d = match super::suggest(bit, UMASK_BITS.iter().map(|(n, _)| *n)) {
                    Some(sug) => d.help(format!("did you mean '{sug}'?")),
                    None => d.help(help),
                };
                cx.push(d);
                return;
            }
        }
    }
    g.umask = Some(v);
}

const INCLUDE_CHECKS: &[&str] = &["readable", "match", "wildcard_match", "brace_match"];

fn include_check(g: &mut GlobalDefs, s: &Stmt, cx: &mut Ctx) {
    for t in s.args() {
        let w = t.text.trim_start_matches(['+', '-']);
        if !INCLUDE_CHECKS.contains(&w) {
            values::choice_tok(
                &Token {
                    text: w.to_string(),
                    span: t.span,
                    quoted: t.quoted,
                },
                INCLUDE_CHECKS,
                false,
                cx,
            );
            return;
        }
    }
    g.include_check = Some(values::rest(s, 0));
}

fn lvs_id(_g: &mut GlobalDefs, s: &Stmt, cx: &mut Ctx) {
    cx.push(
        Diagnostic::new(
            Severity::Error,
            "unknown-keyword",
            "unknown keyword 'lvs_id' in global_defs; the line is ignored",
        )
        .at(s.span())
        .help(format!(
            "'lvs_id' is the keepalived 1.x name of 'router_id': write 'router_id {}'",
            values::rest(s, 0)
        )),
    );
}

fn vrrp_iptables(g: &mut GlobalDefs, s: &Stmt, cx: &mut Ctx) {
    extra_note(s, 2, cx);
    cx.push(
        Diagnostic::new(
            Severity::Warning,
            "unsupported",
            "iptables is not supported; nftables is used instead",
        )
        .at(s.span())
        .help("replace 'vrrp_iptables' (and 'vrrp_ipsets') with 'nftables [TABLE]'"),
    );
    g.vrrp_iptables = Some(s.args().iter().take(2).map(|t| t.text.clone()).collect());
}

fn vrrp_ipsets(g: &mut GlobalDefs, s: &Stmt, cx: &mut Ctx) {
    extra_note(s, 6, cx);
    cx.push(
        Diagnostic::new(
            Severity::Warning,
            "unsupported",
            "ipsets (used with iptables) are not supported; nftables sets are used instead",
        )
        .at(s.span())
        .help("remove 'vrrp_ipsets' and use 'nftables [TABLE]'"),
    );
    g.vrrp_ipsets = Some(s.args().iter().take(6).map(|t| t.text.clone()).collect());
}

/// A flag keepup reads but whose interface it does not serve (SNMP, DBus): set, and
/// said in a note that names what to use instead.
macro_rules! not_served {
    ($f:ident, $what:literal) => {
        |g: &mut GlobalDefs, s: &Stmt, cx: &mut Ctx| {
            g.$f = plain(s, cx);
            cx.push(
                Diagnostic::new(
                    Severity::Note,
                    "not-served",
                    concat!(
                        $what,
                        " is not served by keepup; the setting is read and has no effect"
                    ),
                )
                .at(s.span())
                .help("ask `keepup status` (--json), or scrape `keepup run --metrics-listen ADDR`"),
            );
        }
    };
}

macro_rules! set_flag {
    ($f:ident) => {
        |g: &mut GlobalDefs, s: &Stmt, cx: &mut Ctx| g.$f = plain(s, cx)
    };
}
macro_rules! set_bool_flag {
    ($f:ident) => {
        |g: &mut GlobalDefs, s: &Stmt, cx: &mut Ctx| flag(&mut g.$f, s, cx)
    };
}
macro_rules! set_string {
    ($f:ident) => {
        |g: &mut GlobalDefs, s: &Stmt, cx: &mut Ctx| {
            if let Some(v) = string(s, cx) {
                g.$f = Some(v);
            }
        }
    };
}
macro_rules! set_script {
    ($f:ident) => {
        |g: &mut GlobalDefs, s: &Stmt, cx: &mut Ctx| {
            if let Some(v) = script(s, cx) {
                g.$f = Some(v);
            }
        }
    };
}
macro_rules! set_int {
    ($f:ident, $min:expr, $max:expr) => {
        |g: &mut GlobalDefs, s: &Stmt, cx: &mut Ctx| {
            if let Some(v) = int(s, $min, $max, cx) {
                g.$f = v;
            }
        }
    };
}
macro_rules! set_opt_int {
    ($f:ident, $min:expr, $max:expr) => {
        |g: &mut GlobalDefs, s: &Stmt, cx: &mut Ctx| {
            if let Some(v) = int(s, $min, $max, cx) {
                g.$f = Some(v);
            }
        }
    };
}
/// Every keyword of `global_defs`, keepalived 2.2.7's plus those added since.
static GLOBAL_DEFS: &[Kw<GlobalDefs>] = &[
    kw("tmp_config_directory", set_string!(tmp_config_directory)),
    kw("config_save_dir", set_string!(config_save_dir)),
    kw("process_names", set_flag!(process_names)),
    kw("process_name", set_string!(process_name)),
    kw("vrrp_process_name", set_string!(vrrp_process_name)),
    kw("checker_process_name", set_string!(checker_process_name)),
    kw("bfd_process_name", set_string!(bfd_process_name)),
    kw("startup_script", set_script!(startup_script)),
    kw(
        "startup_script_timeout",
        set_int!(startup_script_timeout, 1, 1000),
    ),
    kw("shutdown_script", set_script!(shutdown_script)),
    kw(
        "shutdown_script_timeout",
        set_int!(shutdown_script_timeout, 1, 1000),
    ),
    kb("notification_email", notification_email),
    kw(
        "notification_email_from",
        set_string!(notification_email_from),
    ),
    kw("smtp_server", smtp_server),
    kw("smtp_helo_name", set_string!(smtp_helo_name)),
    kw("smtp_connect_timeout", smtp_connect_timeout),
    // `smtp_alert [BOOL]`: bare means on (keepalived's handlers default to true).
    kw("smtp_alert", |g, s, cx| {
        g.smtp_alert = values::flag(s, cx).or(g.smtp_alert)
    }),
    kw("smtp_alert_vrrp", |g, s, cx| {
        g.smtp_alert_vrrp = values::flag(s, cx).or(g.smtp_alert_vrrp)
    }),
    kw("smtp_alert_checker", |g, s, cx| {
        g.smtp_alert_checker = values::flag(s, cx).or(g.smtp_alert_checker)
    }),
    kw(
        "checker_log_all_failures",
        set_bool_flag!(checker_log_all_failures),
    ),
    kw("no_email_faults", set_flag!(no_email_faults)),
    kw("router_id", set_string!(router_id)),
    kw("lvs_id", lvs_id),
    kw("vrrp_mcast_group4", |g, s, cx| {
        if let Some(IpAddr::V4(a)) = mcast(s, true, cx) {
            g.vrrp_mcast_group4 = a;
        }
    }),
    kw("vrrp_mcast_group6", |g, s, cx| {
        if let Some(IpAddr::V6(a)) = mcast(s, false, cx) {
            g.vrrp_mcast_group6 = a;
        }
    }),
    kw("default_interface", set_string!(default_interface)),
    kw("lvs_sync_daemon", lvs_sync_daemon),
    kw("lvs_timeouts", lvs_timeouts),
    kw("lvs_flush", set_flag!(lvs_flush)),
    kw("lvs_flush_on_stop", lvs_flush_on_stop),
    kw("vrrp_garp_master_delay", |g, s, cx| {
        if let Some(v) = int::<u64>(s, 0, MAX_TIMER_SECS, cx) {
            g.vrrp_garp_master_delay = Secs::from_secs(v);
        }
    }),
    kw("vrrp_garp_master_repeat", |g, s, cx| {
        if let Some(v) = repeat_at_least_one(s, cx) {
            g.vrrp_garp_master_repeat = v;
        }
    }),
    kw("vrrp_garp_lower_prio_delay", |g, s, cx| {
        if let Some(v) = int::<u64>(s, 0, MAX_TIMER_SECS, cx) {
            g.vrrp_garp_lower_prio_delay = Some(Secs::from_secs(v));
        }
    }),
    kw(
        "vrrp_garp_lower_prio_repeat",
        set_opt_int!(vrrp_garp_lower_prio_repeat, 0, I32_MAX),
    ),
    kw("vrrp_garp_master_refresh", |g, s, cx| {
        if let Some(v) = int::<u64>(s, 0, U32_MAX, cx) {
            g.vrrp_garp_master_refresh = Secs::from_secs(v);
        }
    }),
    kw("vrrp_garp_master_refresh_repeat", |g, s, cx| {
        if let Some(v) = repeat_at_least_one(s, cx) {
            g.vrrp_garp_master_refresh_repeat = v;
        }
    }),
    kw("vrrp_garp_interval", |g, s, cx| {
        if let Some(v) = timer(s, 0.000001, MAX_TIMER_F, cx) {
            g.vrrp_garp_interval = v;
        }
    }),
    kw("vrrp_gna_interval", |g, s, cx| {
        if let Some(v) = timer(s, 0.000001, MAX_TIMER_F, cx) {
            g.vrrp_gna_interval = v;
        }
    }),
    kw(
        "vrrp_down_timer_adverts",
        set_int!(vrrp_down_timer_adverts, 1, 100),
    ),
    kw("vrrp_min_garp", set_bool_flag!(vrrp_min_garp)),
    kw("vrrp_garp_extra_if", vrrp_garp_extra_if),
    kw(
        "vrrp_lower_prio_no_advert",
        set_bool_flag!(vrrp_lower_prio_no_advert),
    ),
    kw(
        "vrrp_higher_prio_send_advert",
        set_bool_flag!(vrrp_higher_prio_send_advert),
    ),
    kw("vrrp_version", set_int!(vrrp_version, 2, 3)),
    kw("v3_checksum_as_v2", set_bool_flag!(v3_checksum_as_v2)),
    kw("nftables", |g, s, cx| {
        let t = opt_word(s, cx);
        g.nftables = Some(if t.is_empty() { "keepalived".into() } else { t });
    }),
    kw(
        "nftables_priority",
        set_int!(nftables_priority, i64::from(i32::MIN), I32_MAX),
    ),
    kw("nftables_counters", set_flag!(nftables_counters)),
    kw("nftables_ifindex", set_flag!(nftables_ifindex)),
    kw("nftables_ipvs", |g, s, cx| {
        let t = opt_word(s, cx);
        g.nftables_ipvs = Some(if t.is_empty() {
            "keepalived_ipvs".into()
        } else {
            t
        });
        // keepalived 2.2.7 sets the chain priority back to its default here, so an
        // `nftables_ipvs_priority` written before `nftables_ipvs` has no effect (seen
        // in a kernel: `priority filter - 1`); the start fwmark is kept.
        g.nftables_ipvs_priority = None;
    }),
    kw(
        "nftables_ipvs_priority",
        set_opt_int!(nftables_ipvs_priority, i64::from(i32::MIN), I32_MAX),
    ),
    kw(
        "nftables_ipvs_start_fwmark",
        set_int!(nftables_ipvs_start_fwmark, 1, U32_MAX),
    ),
    kw("vrrp_iptables", vrrp_iptables),
    kw("vrrp_ipsets", vrrp_ipsets),
    kw("disable_local_igmp", set_flag!(disable_local_igmp)),
    kw("vrrp_check_unicast_src", set_flag!(vrrp_check_unicast_src)),
    kw(
        "vrrp_skip_check_adv_addr",
        set_flag!(vrrp_skip_check_adv_addr),
    ),
    kw("vrrp_strict", set_flag!(vrrp_strict)),
    kw(
        "vrrp_notify_priority_changes",
        set_bool_flag!(vrrp_notify_priority_changes),
    ),
    kw("max_auto_priority", max_auto_priority),
    kw(
        "min_auto_priority_delay",
        set_int!(min_auto_priority_delay, 1, 10_000_000),
    ),
    kw("vrrp_priority", set_int!(vrrp_priority, -20, 19)),
    kw("checker_priority", set_int!(checker_priority, -20, 19)),
    kw("bfd_priority", set_int!(bfd_priority, -20, 19)),
    kw("vrrp_no_swap", set_flag!(vrrp_no_swap)),
    kw("checker_no_swap", set_flag!(checker_no_swap)),
    kw("bfd_no_swap", set_flag!(bfd_no_swap)),
    kw("vrrp_cpu_affinity", |g, s, cx| {
        if let Some(v) = cpus(s, cx) {
            g.vrrp_cpu_affinity = v;
        }
    }),
    kw("checker_cpu_affinity", |g, s, cx| {
        if let Some(v) = cpus(s, cx) {
            g.checker_cpu_affinity = v;
        }
    }),
    kw("bfd_cpu_affinity", |g, s, cx| {
        if let Some(v) = cpus(s, cx) {
            g.bfd_cpu_affinity = v;
        }
    }),
    kw("vrrp_rt_priority", |g, s, cx| {
        g.vrrp_rt_priority = rt_priority(s, cx).or(g.vrrp_rt_priority)
    }),
    kw("checker_rt_priority", |g, s, cx| {
        g.checker_rt_priority = rt_priority(s, cx).or(g.checker_rt_priority)
    }),
    kw("bfd_rt_priority", |g, s, cx| {
        g.bfd_rt_priority = rt_priority(s, cx).or(g.bfd_rt_priority)
    }),
    kw(
        "vrrp_rlimit_rttime",
        set_int!(vrrp_rlimit_rttime, 1, U32_MAX),
    ),
    kw(
        "checker_rlimit_rttime",
        set_int!(checker_rlimit_rttime, 1, U32_MAX),
    ),
    kw("bfd_rlimit_rttime", set_int!(bfd_rlimit_rttime, 1, U32_MAX)),
    kw("snmp_socket", set_string!(snmp_socket)),
    kw("enable_snmp_vrrp", not_served!(enable_snmp_vrrp, "SNMP")),
    kw("enable_snmp_keepalived", |g, s, cx| {
        cx.push(
            Diagnostic::new(
                Severity::Note,
                "deprecated",
                "'enable_snmp_keepalived' is the old name of 'enable_snmp_vrrp'",
            )
            .at(s.span())
            .help("write 'enable_snmp_vrrp'"),
        );
        g.enable_snmp_vrrp = plain(s, cx);
    }),
    kw(
        "enable_snmp_checker",
        not_served!(enable_snmp_checker, "SNMP"),
    ),
    kw("enable_snmp_rfc", not_served!(enable_snmp_rfc, "SNMP")),
    kw("enable_snmp_rfcv2", not_served!(enable_snmp_rfcv2, "SNMP")),
    kw("enable_snmp_rfcv3", not_served!(enable_snmp_rfcv3, "SNMP")),
    kw("enable_traps", not_served!(enable_traps, "SNMP")),
    kw("snmp_vs_stats_update_interval", |g, s, cx| {
        newer(s, cx);
        if let Some(v) = timer(s, 0.001, 30.0, cx) {
            g.snmp_vs_stats_update_interval = v;
        }
    }),
    kw("snmp_rs_stats_update_interval", |g, s, cx| {
        newer(s, cx);
        if let Some(v) = timer(s, 0.001, 30.0, cx) {
            g.snmp_rs_stats_update_interval = v;
        }
    }),
    kw("enable_dbus", not_served!(enable_dbus, "DBus")),
    kw("dbus_service_name", set_string!(dbus_service_name)),
    kw("dbus_no_interface_name", |g, s, cx| {
        newer(s, cx);
        set_string!(dbus_no_interface_name)(g, s, cx)
    }),
    kw("script_user", |g, s, cx| {
        if let Some(mut sc) = script(s, cx) {
            // SCRIPT position holds the user here: shift into user/group.
            let user = std::mem::take(&mut sc.command);
            g.script_user = Some(Script {
                command: String::new(),
                group: sc.user.or(sc.group),
                user: Some(user),
                span: s.span(),
            });
        }
    }),
    kw("enable_script_security", set_flag!(enable_script_security)),
    kw("notify_fifo", set_script!(notify_fifo)),
    kw("notify_fifo_script", set_script!(notify_fifo_script)),
    kw("vrrp_notify_fifo", set_script!(vrrp_notify_fifo)),
    kw(
        "vrrp_notify_fifo_script",
        set_script!(vrrp_notify_fifo_script),
    ),
    kw("lvs_notify_fifo", set_script!(lvs_notify_fifo)),
    kw(
        "lvs_notify_fifo_script",
        set_script!(lvs_notify_fifo_script),
    ),
    kw(
        "fifo_write_vrrp_states_on_reload",
        set_flag!(fifo_write_vrrp_states_on_reload),
    ),
    kw("dynamic_interfaces", dynamic_interfaces),
    kw(
        "vrrp_netlink_cmd_rcv_bufs",
        set_opt_int!(vrrp_netlink_cmd_rcv_bufs, 0, U32_MAX),
    ),
    kw(
        "vrrp_netlink_cmd_rcv_bufs_force",
        set_bool_flag!(vrrp_netlink_cmd_rcv_bufs_force),
    ),
    kw(
        "vrrp_netlink_monitor_rcv_bufs",
        set_opt_int!(vrrp_netlink_monitor_rcv_bufs, 0, U32_MAX),
    ),
    kw(
        "vrrp_netlink_monitor_rcv_bufs_force",
        set_bool_flag!(vrrp_netlink_monitor_rcv_bufs_force),
    ),
    kw(
        "lvs_netlink_cmd_rcv_bufs",
        set_opt_int!(lvs_netlink_cmd_rcv_bufs, 0, U32_MAX),
    ),
    kw(
        "lvs_netlink_cmd_rcv_bufs_force",
        set_bool_flag!(lvs_netlink_cmd_rcv_bufs_force),
    ),
    kw(
        "lvs_netlink_monitor_rcv_bufs",
        set_opt_int!(lvs_netlink_monitor_rcv_bufs, 0, U32_MAX),
    ),
    kw(
        "lvs_netlink_monitor_rcv_bufs_force",
        set_bool_flag!(lvs_netlink_monitor_rcv_bufs_force),
    ),
    kw(
        "process_monitor_rcv_bufs",
        set_opt_int!(process_monitor_rcv_bufs, 0, U32_MAX),
    ),
    kw(
        "process_monitor_rcv_bufs_force",
        set_bool_flag!(process_monitor_rcv_bufs_force),
    ),
    kw("vrrp_rx_bufs_policy", vrrp_rx_bufs_policy),
    kw(
        "vrrp_rx_bufs_multiplier",
        set_int!(vrrp_rx_bufs_multiplier, 1, U32_MAX),
    ),
    kw("rs_init_notifies", set_flag!(rs_init_notifies)),
    kw("no_checker_emails", set_flag!(no_checker_emails)),
    kw("umask", umask),
    kw("vrrp_startup_delay", |g, s, cx| {
        if let Some(v) = timer(s, 0.001, MAX_TIMER_F, cx) {
            g.vrrp_startup_delay = v;
        }
    }),
    kw("vrrp_delay_after_boot", |g, s, cx| {
        if let Some(v) = timer(s, 0.001, MAX_TIMER_F, cx) {
            g.vrrp_delay_after_boot = v;
        }
    }),
    kw("log_unknown_vrids", set_flag!(log_unknown_vrids)),
    kw("vmac_prefix", set_string!(vmac_prefix)),
    kw("vmac_addr_prefix", set_string!(vmac_addr_prefix)),
    kw("random_seed", set_opt_int!(random_seed, 0, U32_MAX)),
    kw("reload_check_config", |g, s, cx| {
        g.reload_check_config = Some(opt_word(s, cx))
    }),
    kw("reload_time_file", set_string!(reload_time_file)),
    kw("reload_repeat", set_flag!(reload_repeat)),
    kw("reload_file", |g, s, cx| {
        g.reload_file = Some(opt_word(s, cx))
    }),
    kw("include_check", include_check),
    kw("data_use_instance", set_bool_flag!(data_use_instance)),
    kw("use_symlink_paths", set_bool_flag!(use_symlink_paths)),
    kw("set_supplementary_groups", |g, s, cx| {
        newer(s, cx);
        set_flag!(set_supplementary_groups)(g, s, cx)
    }),
    kw("state_file_location", set_string!(state_file_location)),
    kw("stats_file_location", set_string!(stats_file_location)),
    kw("json_file_location", set_string!(json_file_location)),
    kw("json_version", set_int!(json_version, 1, 2)),
    kw("iproute_usr_dir", |g, s, cx| {
        newer(s, cx);
        set_string!(iproute_usr_dir)(g, s, cx)
    }),
    kw("iproute_etc_dir", |g, s, cx| {
        newer(s, cx);
        set_string!(iproute_etc_dir)(g, s, cx)
    }),
];

/// A keyword newer than keepalived 2.2.7 that keepup reads but does not act on yet
/// (see [`super::newer`]).
fn newer(s: &Stmt, cx: &mut Ctx) {
    super::newer::not_yet(s, "global_defs", None, cx);
}

pub fn global_defs(c: &mut Config, s: &Stmt, cx: &mut Ctx) {
    extra_note(s, 0, cx);
    if let Some(b) = cx.block(s) {
        dispatch(&mut c.global_defs, &b.items, GLOBAL_DEFS, "global_defs", cx);
    }
}

// ---------- top-level daemon keywords ----------

pub fn net_namespace(c: &mut Config, s: &Stmt, cx: &mut Ctx) {
    if let Some(v) = string(s, cx) {
        if let Some(prev) = &c.global_defs.net_namespace {
            if *prev != v {
                cx.error(
                    "duplicate",
                    s.args()[0].span,
                    format!("net_namespace is already set to '{prev}'; this line is ignored"),
                );
                return;
            }
        }
        c.global_defs.net_namespace = Some(v.clone());
        namespace_refused(s, cx, &format!("ip netns exec {v} keepup run ..."));
    }
}

/// keepup does not switch network namespaces yet: running on would put the addresses
/// and IPVS entries in the namespace it was started in, so the configuration is refused
/// with the way to run it.
fn namespace_refused(s: &Stmt, cx: &mut Ctx, how: &str) {
    let kw = &s.keyword().text;
    cx.push(
        Diagnostic::new(
            Severity::Fatal,
            "unsupported",
            format!("{kw}: keepup does not switch network namespaces yet"),
        )
        .at(s.keyword().span)
        .help(format!(
            "remove the line and start keepup in the namespace: {how}"
        ))
        .note("running on would add the addresses and IPVS entries in the namespace keepup was started in"),
    );
}

pub fn net_namespace_ipvs(c: &mut Config, s: &Stmt, cx: &mut Ctx) {
    let v = opt_word(s, cx);
    // An empty name is the default namespace: where keepup runs anyway without
    // net_namespace.
    if !v.is_empty() || c.global_defs.net_namespace.is_some() {
        namespace_refused(s, cx, "one keepup per namespace, each with `ip netns exec`");
    }
    c.global_defs.net_namespace_ipvs = Some(v);
}

pub fn namespace_with_ipsets(c: &mut Config, s: &Stmt, cx: &mut Ctx) {
    c.global_defs.namespace_with_ipsets = plain(s, cx);
}

pub fn instance(c: &mut Config, s: &Stmt, cx: &mut Ctx) {
    if let Some(v) = string(s, cx) {
        c.global_defs.instance = Some(v);
    }
}

pub fn use_pid_dir(c: &mut Config, s: &Stmt, cx: &mut Ctx) {
    c.global_defs.use_pid_dir = plain(s, cx);
}

pub fn linkbeat_use_polling(c: &mut Config, s: &Stmt, cx: &mut Ctx) {
    c.global_defs.linkbeat_use_polling = plain(s, cx);
}

pub fn child_wait_time(c: &mut Config, s: &Stmt, cx: &mut Ctx) {
    if let Some(v) = int(s, 0, U32_MAX, cx) {
        c.global_defs.child_wait_time = v;
    }
}

// ---------- linkbeat_interfaces, track_group, interface_up_down_delays ----------

pub fn linkbeat_interfaces(c: &mut Config, s: &Stmt, cx: &mut Ctx) {
    let Some(b) = cx.block(s) else { return };
    for item in &b.items {
        let name = item.keyword();
        let polling = match item.args().first() {
            None => None,
            Some(t) => match values::choice_tok(t, &["MII", "ETHTOOL", "IOCTL"], false, cx) {
                Some("MII") => Some(LinkbeatType::Mii),
                Some("ETHTOOL") => Some(LinkbeatType::Ethtool),
                Some(_) => Some(LinkbeatType::Ioctl),
                None => None,
            },
        };
        if let Some(extra) = item.args().get(1) {
            cx.error(
                "extra-parameter",
                extra.span,
                format!(
                    "'{}' and what follows are not understood in linkbeat_interfaces",
                    extra.text
                ),
            );
        }
        c.linkbeat_interfaces.push(LinkbeatInterface {
            name: name.text.clone(),
            polling,
            span: name.span,
        });
    }
}

static TRACK_GROUP: &[Kw<TrackGroup>] = &[kb("group", |tg, s, cx| {
    for t in values::block_words(s, cx) {
        tg.group.push(t.text.clone());
        tg.member_spans.push(t.span);
    }
})];

pub fn track_group(c: &mut Config, s: &Stmt, cx: &mut Ctx) {
    let Some(name) = arg0(s, cx) else { return };
    let Some(b) = cx.block(s) else { return };
    if c.track_groups.iter().any(|t| t.name == name.text) {
        cx.error(
            "duplicate",
            name.span,
            format!(
                "track_group '{}' is already defined; this one is ignored",
                name.text
            ),
        );
        return;
    }
    let mut tg = TrackGroup {
        name: name.text.clone(),
        span: name.span,
        ..TrackGroup::default()
    };
    let section = format!("track_group {}", name.text);
    dispatch(&mut tg, &b.items, TRACK_GROUP, &section, cx);
    c.track_groups.push(tg);
}

pub fn interface_up_down_delays(c: &mut Config, s: &Stmt, cx: &mut Ctx) {
    let Some(b) = cx.block(s) else { return };
    for item in &b.items {
        let name = item.keyword();
        let Some(down_tok) = item.args().first() else {
            cx.push(
                Diagnostic::new(
                    Severity::Error,
                    "missing-parameter",
                    format!(
                        "interface '{}' needs a down delay; the line is ignored",
                        name.text
                    ),
                )
                .at(name.span)
                .help("IFNAME DOWN_DELAY [UP_DELAY], in seconds from 0 to 255"),
            );
            continue;
        };
        extra_note(item, 2, cx);
        let Some(down) = values::timer_tok(down_tok, 0.0, 255.0, cx) else {
            continue;
        };
        let up = match item.args().get(1) {
            Some(t) => match values::timer_tok(t, 0.0, 255.0, cx) {
                Some(v) => v,
                None => continue,
            },
            None => down,
        };
        c.interface_up_down_delays.push(InterfaceDelay {
            interface: name.text.clone(),
            down_delay: down,
            up_delay: up,
            span: name.span,
        });
    }
}

// ---------- cross-checks ----------

pub fn validate(c: &Config, cx: &mut Ctx) {
    for l in &c.linkbeat_interfaces {
        if !cx.interface_exists(&l.name) {
            cx.error(
                "unknown-interface",
                l.span,
                format!(
                    "interface '{}' does not exist; it is not polled for link state",
                    l.name
                ),
            );
        }
    }
    for d in &c.interface_up_down_delays {
        if !cx.interface_exists(&d.interface) {
            cx.error(
                "unknown-interface",
                d.span,
                format!(
                    "interface '{}' does not exist; its up/down delays are ignored",
                    d.interface
                ),
            );
        }
    }
    // keepalived 2.2.7 says nothing about the next findings: notes only.
    let known = |n: &str| c.vrrp_instances.iter().any(|i| i.name == n);
    for tg in &c.track_groups {
        for (m, span) in tg.group.iter().zip(&tg.member_spans) {
            if !known(m) {
                cx.note(
                    "unknown-instance",
                    *span,
                    format!(
                        "track_group '{}' names vrrp_instance '{m}', which is not defined",
                        tg.name
                    ),
                );
            }
        }
    }
    if let Some(sd) = &c.global_defs.lvs_sync_daemon {
        if !cx.interface_exists(&sd.interface) {
            cx.note(
                "unknown-interface",
                sd.span,
                format!(
                    "lvs_sync_daemon interface '{}' does not exist here; the sync daemon cannot start on it",
                    sd.interface
                ),
            );
        }
        if let (Some(inst), Some(span)) = (&sd.vrrp_instance, sd.instance_span) {
            if !known(inst) {
                cx.note(
                    "unknown-instance",
                    span,
                    format!(
                        "lvs_sync_daemon follows vrrp_instance '{inst}', which is not defined; no sync daemon runs"
                    ),
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::model::global::{LinkbeatType, LvsFlushOnStop, RxBufsPolicy};
    use crate::model::Secs;
    use crate::testutil::{codes, load};
    use crate::{load_str, LoadOptions, Loaded};
    use std::collections::BTreeSet;

    fn clean(text: &str) -> Loaded {
        let l = load(text);
        // Notes aside (an instance named here is defined by the vrrp parser).
        assert!(
            l.diagnostics
                .iter()
                .all(|d| d.severity == crate::Severity::Note),
            "{}",
            l.render()
        );
        l
    }

    #[test]
    fn defaults() {
        let g = load("").config.global_defs;
        assert_eq!(g.vrrp_version, 2);
        assert_eq!(g.vrrp_garp_master_delay, Secs::from_secs(5));
        assert_eq!(g.vrrp_garp_master_repeat, 5);
        assert_eq!(g.smtp_connect_timeout, 30);
        assert_eq!(g.child_wait_time, 5);
        assert_eq!(g.vrrp_mcast_group4.to_string(), "224.0.0.18");
        assert_eq!(g.vrrp_mcast_group6.to_string(), "ff02::12");
        assert_eq!(g.vrrp_rlimit_rttime, 10_000);
        assert_eq!(g.nftables_ipvs_start_fwmark, 1000);
        assert_eq!(g.vrrp_down_timer_adverts, 3);
    }

    #[test]
    fn email_and_identity() {
        let l = clean(
            "global_defs {\n notification_email {\n a@b.c\n d@e.f\n }\n notification_email_from k@x.y\n smtp_server 10.0.0.1 2525\n smtp_helo_name h\n smtp_connect_timeout 5\n smtp_alert on\n smtp_alert_vrrp no\n router_id R1\n}\n",
        );
        let g = &l.config.global_defs;
        assert_eq!(g.notification_email, vec!["a@b.c", "d@e.f"]);
        assert_eq!(g.notification_email_from.as_deref(), Some("k@x.y"));
        let smtp = g.smtp_server.as_ref().map(|s| (s.host.as_str(), s.port));
        assert_eq!(smtp, Some(("10.0.0.1", 2525)));
        assert_eq!(g.smtp_connect_timeout, 5);
        assert_eq!(g.smtp_alert, Some(true));
        assert_eq!(g.smtp_alert_vrrp, Some(false));
        assert_eq!(g.router_id.as_deref(), Some("R1"));
        // A host name is fine too, with the default port.
        let l = clean("global_defs {\n smtp_server mail.example.com\n}\n");
        assert_eq!(l.config.global_defs.smtp_server.map(|s| s.port), Some(25));
    }

    /// `smtp_alert`, `smtp_alert_vrrp`, `smtp_alert_checker` take an optional BOOL;
    /// bare means on, as in keepalived.
    #[test]
    fn smtp_alert_flags_may_be_bare() {
        let l = clean("global_defs {\n smtp_alert\n smtp_alert_vrrp\n smtp_alert_checker off\n}\n");
        let g = &l.config.global_defs;
        assert_eq!(
            (g.smtp_alert, g.smtp_alert_vrrp, g.smtp_alert_checker),
            (Some(true), Some(true), Some(false))
        );
        let l = load("global_defs {\n smtp_alert maybe\n}\n");
        assert_eq!(codes(&l), vec!["not-a-bool"]);
        assert_eq!(l.config.global_defs.smtp_alert, None);
    }

    #[test]
    fn garp_intervals_zero_is_out_of_range() {
        let l = load("global_defs {\n vrrp_garp_interval 0\n vrrp_gna_interval 0.000001\n}\n");
        assert_eq!(codes(&l), vec!["out-of-range"]);
        assert_eq!(l.config.global_defs.vrrp_garp_interval, Secs::default());
        assert_eq!(l.config.global_defs.vrrp_gna_interval, Secs { micros: 1 });
    }

    #[test]
    fn garp_family() {
        let l = clean(
            "global_defs {\n vrrp_garp_master_delay 10\n vrrp_garp_master_repeat 2\n vrrp_garp_lower_prio_delay 3\n vrrp_garp_lower_prio_repeat 0\n vrrp_garp_master_refresh 60\n vrrp_garp_master_refresh_repeat 2\n vrrp_garp_interval 0.001\n vrrp_min_garp\n vrrp_garp_extra_if all 100\n vrrp_down_timer_adverts 5\n}\n",
        );
        let g = &l.config.global_defs;
        assert_eq!(g.vrrp_garp_master_delay, Secs::from_secs(10));
        assert_eq!(g.vrrp_garp_lower_prio_repeat, Some(0));
        assert_eq!(g.vrrp_garp_master_refresh, Secs::from_secs(60));
        assert_eq!(g.vrrp_garp_interval, Secs::from_millis(1));
        assert!(g.vrrp_min_garp && g.vrrp_garp_extra_if_all);
        assert_eq!(g.vrrp_garp_extra_if, Some(100));
        assert_eq!(g.vrrp_down_timer_adverts, 5);
        // keepalived turns a repeat of 0 into 1 and says so.
        let l =
            load("global_defs {\n vrrp_garp_master_repeat 0\n vrrp_garp_master_delay 5000\n}\n");
        assert_eq!(codes(&l), vec!["value-adjusted", "out-of-range"]);
        assert_eq!(l.config.global_defs.vrrp_garp_master_repeat, 1);
    }

    #[test]
    fn ranges() {
        let l = load(
            "global_defs {\n vrrp_version 4\n vrrp_priority 20\n max_auto_priority 100\n min_auto_priority_delay 0\n startup_script_timeout 0\n vrrp_rx_bufs_multiplier 0\n vrrp_startup_delay 0\n vrrp_down_timer_adverts 101\n}\n",
        );
        assert_eq!(codes(&l), vec!["out-of-range"; 8]);
        let l = load("global_defs {\n vrrp_rt_priority 0\n checker_rt_priority 100\n smtp_connect_timeout 0\n}\n");
        assert_eq!(codes(&l), vec!["value-adjusted"; 3]);
        let g = &l.config.global_defs;
        assert_eq!(
            (g.vrrp_rt_priority, g.checker_rt_priority),
            (Some(1), Some(99))
        );
        assert_eq!(g.smtp_connect_timeout, 1);
    }

    #[test]
    fn scheduling_and_snmp() {
        let l = clean(
            "global_defs {\n vrrp_priority -5\n checker_priority 19\n bfd_priority -20\n vrrp_no_swap\n checker_no_swap\n bfd_no_swap\n vrrp_cpu_affinity 0 1\n vrrp_rt_priority 50\n bfd_rlimit_rttime 2\n max_auto_priority\n snmp_socket udp:1.2.3.4:705\n enable_snmp_vrrp\n enable_snmp_rfcv3\n enable_traps\n enable_dbus\n}\n",
        );
        let g = &l.config.global_defs;
        assert_eq!(
            (g.vrrp_priority, g.checker_priority, g.bfd_priority),
            (-5, 19, -20)
        );
        assert!(g.vrrp_no_swap && g.checker_no_swap && g.bfd_no_swap);
        assert_eq!(g.vrrp_cpu_affinity, vec![0, 1]);
        assert_eq!(g.vrrp_rt_priority, Some(50));
        assert_eq!(g.bfd_rlimit_rttime, 2);
        assert_eq!(g.max_auto_priority, 99);
        assert!(g.enable_snmp_vrrp && g.enable_snmp_rfcv3 && g.enable_traps && g.enable_dbus);
        // Each is said: read, not served.
        let said: Vec<&str> = l
            .diagnostics
            .iter()
            .filter(|d| d.code == "not-served")
            .map(|d| d.message.as_str())
            .collect();
        assert_eq!(said.len(), 4, "{said:?}");
        assert!(
            said[3].starts_with("DBus is not served by keepup"),
            "{said:?}"
        );
    }

    #[test]
    fn lvs_keywords() {
        let l = clean(
            "global_defs {\n lvs_sync_daemon eth0 inst VI_1 id 5 maxlen 1400 port 8848 ttl 2 group 224.0.0.81\n lvs_timeouts tcp 100 udp 30\n lvs_flush\n lvs_flush_on_stop VS\n}\n",
        );
        let g = &l.config.global_defs;
        let sd = g.lvs_sync_daemon.as_ref().map(|d| {
            (
                d.interface.as_str(),
                d.vrrp_instance.as_deref(),
                d.syncid,
                d.maxlen,
                d.port,
                d.ttl,
            )
        });
        assert_eq!(
            sd,
            Some((
                "eth0",
                Some("VI_1"),
                Some(5),
                Some(1400),
                Some(8848),
                Some(2)
            ))
        );
        assert_eq!(
            (
                g.lvs_timeouts.tcp,
                g.lvs_timeouts.tcpfin,
                g.lvs_timeouts.udp
            ),
            (Some(100), None, Some(30))
        );
        assert!(g.lvs_flush);
        assert_eq!(g.lvs_flush_on_stop, LvsFlushOnStop::Vs);
        let l = load("global_defs {\n lvs_sync_daemon eth0 VI_1 7\n lvs_sync_daemon eth1\n lvs_timeouts udp 2678401 foo\n}\n");
        assert_eq!(
            codes(&l),
            vec![
                "unknown-instance",
                "deprecated",
                "duplicate",
                "out-of-range",
                "bad-value"
            ]
        );
        assert_eq!(
            l.config.global_defs.lvs_sync_daemon.and_then(|d| d.syncid),
            Some(7)
        );
    }

    #[test]
    fn nftables_ipvs_resets_an_earlier_priority() {
        let g = clean("global_defs {\n nftables_ipvs_priority 5\n nftables_ipvs\n}\n")
            .config
            .global_defs;
        assert_eq!(g.nftables_ipvs.as_deref(), Some("keepalived_ipvs"));
        assert_eq!(g.nftables_ipvs_priority, None);
        let g = clean("global_defs {\n nftables_ipvs\n nftables_ipvs_priority 5\n}\n")
            .config
            .global_defs;
        assert_eq!(g.nftables_ipvs_priority, Some(5));
    }

    #[test]
    fn firewall_and_misc() {
        let l = clean(
            "global_defs {\n nftables\n nftables_priority -5\n nftables_counters\n nftables_ipvs t2\n nftables_ipvs_start_fwmark 50\n dynamic_interfaces allow_if_changes\n vrrp_rx_bufs_policy 1024\n umask IWGRP | IWOTH\n random_seed 7\n reload_check_config\n reload_file /run/k.reload\n include_check +match -wildcard_match\n data_use_instance\n json_version 2\n vrrp_delay_after_boot 15.5\n}\n",
        );
        let g = &l.config.global_defs;
        assert_eq!(g.nftables.as_deref(), Some("keepalived"));
        assert_eq!(g.nftables_priority, -5);
        assert_eq!(g.nftables_ipvs.as_deref(), Some("t2"));
        assert!(g.dynamic_interfaces && g.dynamic_interfaces_allow_if_changes);
        assert_eq!(g.vrrp_rx_bufs_policy, Some(RxBufsPolicy::Size(1024)));
        assert_eq!(g.umask, Some(0o022));
        assert_eq!(g.random_seed, Some(7));
        assert_eq!(g.reload_check_config.as_deref(), Some(""));
        assert_eq!(g.include_check.as_deref(), Some("+match -wildcard_match"));
        assert!(g.data_use_instance);
        assert_eq!(g.json_version, 2);
        assert_eq!(g.vrrp_delay_after_boot, Secs::from_millis(15_500));
        let l = clean("global_defs {\n umask 0027\n}\n");
        assert_eq!(l.config.global_defs.umask, Some(0o027));
        let l = load("global_defs {\n umask IWGRB\n umask 01000\n include_check bogus\n vrrp_rx_bufs_policy mtu\n}\n");
        assert_eq!(codes(&l), vec!["bad-value"; 4]);
    }

    #[test]
    fn mcast_groups() {
        let l =
            clean("global_defs {\n vrrp_mcast_group4 224.0.0.19\n vrrp_mcast_group6 ff02::13\n}\n");
        assert_eq!(
            l.config.global_defs.vrrp_mcast_group4.to_string(),
            "224.0.0.19"
        );
        let l =
            load("global_defs {\n vrrp_mcast_group4 10.0.0.1\n vrrp_mcast_group6 224.0.0.1\n}\n");
        assert_eq!(codes(&l), vec!["bad-value", "bad-value"]);
    }

    #[test]
    fn scripts_and_fifos() {
        let l = clean(
            "global_defs {\n startup_script \"/bin/start x\" root\n shutdown_script_timeout 20\n script_user nobody nogroup\n enable_script_security\n vrrp_notify_fifo /run/f user:grp\n lvs_notify_fifo_script /bin/read\n}\n",
        );
        let g = &l.config.global_defs;
        let st = g
            .startup_script
            .as_ref()
            .map(|s| (s.command.as_str(), s.user.as_deref()));
        assert_eq!(st, Some(("/bin/start x", Some("root"))));
        assert_eq!(g.shutdown_script_timeout, 20);
        let su = g
            .script_user
            .as_ref()
            .map(|s| (s.user.as_deref(), s.group.as_deref()));
        assert_eq!(su, Some((Some("nobody"), Some("nogroup"))));
        let f = g
            .vrrp_notify_fifo
            .as_ref()
            .map(|s| (s.user.as_deref(), s.group.as_deref()));
        assert_eq!(f, Some((Some("user"), Some("grp"))));
        assert!(g.lvs_notify_fifo_script.is_some());
    }

    #[test]
    fn legacy_and_unsupported() {
        let l = load("global_defs {\n lvs_id LB1\n vrrp_iptables\n enable_snmp_keepalived\n}\n");
        assert_eq!(
            codes(&l),
            vec!["unknown-keyword", "unsupported", "deprecated"]
        );
        assert!(l.diagnostics[0]
            .help
            .as_deref()
            .is_some_and(|h| h.contains("router_id LB1")));
        assert_eq!(l.config.global_defs.router_id, None);
        // enable_snmp_keepalived is only a note: keepalived 2.2.7 takes it silently.
        assert_eq!(l.diagnostics[2].severity, crate::Severity::Note);
    }

    #[test]
    fn extra_values_are_notes() {
        let l = load("global_defs {\n router_id a b\n vrrp_strict x\n}\n");
        assert_eq!(codes(&l), vec!["extra-parameter", "extra-parameter"]);
        assert_eq!(l.verdict(), crate::Verdict::Clean);
        assert_eq!(l.config.global_defs.router_id.as_deref(), Some("a"));
    }

    #[test]
    fn top_level_daemon_keywords() {
        let l = clean(
            "net_namespace_ipvs\nnamespace_with_ipsets\ninstance i1\nuse_pid_dir\nlinkbeat_use_polling\nchild_wait_time 20\n",
        );
        let g = &l.config.global_defs;
        assert_eq!(g.net_namespace_ipvs.as_deref(), Some(""));
        assert!(g.namespace_with_ipsets && g.use_pid_dir && g.linkbeat_use_polling);
        assert_eq!(g.instance.as_deref(), Some("i1"));
        assert_eq!(g.child_wait_time, 20);
        let l = load("instance\nchild_wait_time abc\nnet_namespace a\nnet_namespace b\n");
        assert_eq!(
            codes(&l),
            vec![
                "missing-parameter",
                "not-a-number",
                "unsupported",
                "duplicate"
            ]
        );
    }

    /// Running on in the wrong namespace would put the VIPs there: refused, with the
    /// way to run it.
    #[test]
    fn a_network_namespace_is_refused_with_the_way_to_run_it() {
        for text in ["net_namespace blue\n", "net_namespace_ipvs blue\n"] {
            let l = load(text);
            assert_eq!(l.verdict(), crate::Verdict::Refused, "{text}");
            let d = &l.diagnostics[0];
            assert_eq!(d.severity, crate::Severity::Fatal, "{text}");
            assert_eq!(d.code, "unsupported", "{text}");
        }
        assert!(load("net_namespace blue\n")
            .render()
            .contains("ip netns exec blue keepup run"));
    }

    fn with_ifs(text: &str) -> Loaded {
        let ifs: BTreeSet<String> = ["eth0", "eth1", "lo"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let opts = LoadOptions {
            interfaces: Some(ifs),
            ..LoadOptions::default()
        };
        load_str("t.conf", text, &opts)
    }

    #[test]
    fn linkbeat_interfaces() {
        let l = with_ifs("linkbeat_interfaces {\n eth0\n eth1 ETHTOOL\n eth9 MII\n lo FOO\n}\n");
        assert_eq!(codes(&l), vec!["unknown-interface", "bad-value"]);
        let lb = &l.config.linkbeat_interfaces;
        assert_eq!(lb.len(), 4);
        assert_eq!(lb[1].polling, Some(LinkbeatType::Ethtool));
        assert_eq!(lb[0].polling, None);
    }

    #[test]
    fn interface_up_down_delays() {
        let l = with_ifs(
            "interface_up_down_delays {\n eth0 1.5\n eth1 2 3\n lo 256\n eth9 1\n eth0\n}\n",
        );
        assert_eq!(
            codes(&l),
            vec!["out-of-range", "unknown-interface", "missing-parameter"]
        );
        let d = &l.config.interface_up_down_delays;
        assert_eq!(d.len(), 3);
        assert_eq!(
            (d[0].down_delay, d[0].up_delay),
            (Secs::from_millis(1500), Secs::from_millis(1500))
        );
        assert_eq!(d[1].up_delay, Secs::from_secs(3));
    }

    #[test]
    fn track_groups() {
        let l = load("track_group TG1 {\n group {\n VI_1\n VI_2\n }\n}\ntrack_group TG1 {\n group {\n VI_3\n }\n}\ntrack_group TG2 {\n grup {\n }\n}\n");
        let tg = &l.config.track_groups;
        assert_eq!(tg.len(), 2);
        assert_eq!(tg[0].group, vec!["VI_1", "VI_2"]);
        // Members name vrrp_instances the vrrp parser fills in; here none exist,
        // which keepalived does not complain about: notes.
        assert_eq!(
            codes(&l),
            vec![
                "unknown-instance",
                "unknown-instance",
                "duplicate",
                "unknown-keyword"
            ]
        );
        assert_eq!(l.diagnostics[0].severity, crate::Severity::Note);
    }

    #[test]
    fn track_group_members_found() {
        let mut cfg = crate::model::Config::default();
        cfg.vrrp_instances.push(crate::model::VrrpInstance {
            name: "VI_1".into(),
            ..Default::default()
        });
        cfg.track_groups.push(crate::model::TrackGroup {
            name: "T".into(),
            group: vec!["VI_1".into()],
            member_spans: vec![Default::default()],
            ..Default::default()
        });
        let mut cx = super::Ctx::new(None);
        super::validate(&cfg, &mut cx);
        assert!(cx.diags.is_empty());
    }
}
