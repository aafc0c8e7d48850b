//! keepalived's ways of writing values in its dump files: printf's `%g` and `%f`,
//! addresses, routes and rules as its `format_*` functions print them, a script as its
//! `cmd_str` quotes it, and `ctime` dates. Checked against what keepalived 2.2.7
//! wrote in a lab (the unit tests keep those lines).
use keepup_config::model::ipspec::{Broadcast, PreferredLifetime};
use keepup_config::model::{Route, Rule, VirtualAddress};
use std::fmt::Write as _;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

/// printf's `%g` (six significant digits, trailing zeros dropped, exponent form
/// below 1e-4 and from 1e6): what keepalived's JSON writer prints for a double.
pub fn g(v: f64) -> String {
    if v == 0.0 {
        return "0".into();
    }
    if !v.is_finite() {
        return if v.is_nan() {
            "nan"
        } else if v > 0.0 {
            "inf"
        } else {
            "-inf"
        }
        .into();
    }
    // The exponent after rounding to six significant digits decides the form.
    let sci = format!("{v:.5e}");
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    if (-4..6).contains(&exp) {
        let decimals = usize::try_from(5 - exp).unwrap_or(0);
        trim_zeros(format!("{v:.decimals$}"))
    } else {
        let sign = if exp < 0 { '-' } else { '+' };
        format!(
            "{}e{sign}{:02}",
            trim_zeros(mantissa.to_string()),
            exp.abs()
        )
    }
}

fn trim_zeros(s: String) -> String {
    if !s.contains('.') {
        return s;
    }
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

/// printf's `%f`: six decimals.
pub fn f(v: f64) -> String {
    format!("{v:.6}")
}

/// `ADDR` or `ADDR/LEN` (keepalived leaves out a host prefix: /32, /128).
fn prefixed(address: IpAddr, len: u8) -> String {
    let host = if address.is_ipv4() { 32 } else { 128 };
    if len == host {
        address.to_string()
    } else {
        format!("{address}/{len}")
    }
}

/// The kernel's rt_scopes names (`/etc/iproute2/rt_scopes`), as keepalived prints a
/// scope.
fn scope_name(scope: u8) -> String {
    match scope {
        0 => "global".into(),
        200 => "site".into(),
        253 => "link".into(),
        254 => "host".into(),
        255 => "nowhere".into(),
        n => n.to_string(),
    }
}

/// The broadcast address keepalived computes for `brd +` / `brd -` (only up to /30),
/// or the one given.
fn broadcast(a: &VirtualAddress) -> Option<std::net::Ipv4Addr> {
    let IpAddr::V4(base) = a.peer.unwrap_or(a.address) else {
        return None;
    };
    let mask = u32::MAX.checked_shr(u32::from(a.prefix_len)).unwrap_or(0);
    match a.broadcast? {
        Broadcast::Address(b) => Some(b),
        _ if a.prefix_len > 30 => None,
        Broadcast::SetHostBits => Some((u32::from(base) | mask).into()),
        Broadcast::ClearHostBits => Some((u32::from(base) & !mask).into()),
    }
}

/// A `virtual_ipaddress` line as keepalived 2.2.7's `format_ipaddress` prints it,
/// without the trailing ` set` (the writer adds it while the address is installed):
/// `10.0.0.1/24 brd 10.0.0.255 dev eth0 scope global label eth0:1`. `ifname` is the
/// instance's interface, used when the line names no `dev`.
pub fn ip_address(a: &VirtualAddress, ifname: &str) -> String {
    let mut s = prefixed(a.address, a.prefix_len);
    if let Some(b) = broadcast(a) {
        let _ = write!(s, " brd {b}");
    }
    let dev = a.dev.as_deref().unwrap_or(ifname);
    // keepalived keeps no scope for an IPv6 address (its own parser clears it), so
    // it prints "global" even for a link-local one.
    let scope = if a.address.is_ipv6() {
        0
    } else {
        a.scope.unwrap_or(0)
    };
    let _ = write!(s, " dev {dev} scope {}", scope_name(scope));
    if let Some(l) = &a.label {
        let _ = write!(s, " label {l}");
    }
    if let Some(p) = a.peer {
        let _ = write!(s, " peer {p}/{}", a.prefix_len);
    }
    for (on, word) in [
        (a.home, " home"),
        (a.nodad, " -nodad"),
        (a.mngtmpaddr, " mngtmpaddr"),
        (a.noprefixroute, " noprefixroute"),
        (a.autojoin, " autojoin"),
        (a.no_track, " no_track"),
    ] {
        if on {
            s.push_str(word);
        }
    }
    if a.address.is_ipv6() {
        // keepalived's default: a /128 is added deprecated, anything else preferred.
        let lft = a.preferred_lft.unwrap_or(if a.prefix_len == 128 {
            PreferredLifetime::Seconds(0)
        } else {
            PreferredLifetime::Forever
        });
        match lft {
            PreferredLifetime::Seconds(0) => s.push_str(" deprecated"),
            PreferredLifetime::Forever => s.push_str(" preferred_lft forever"),
            PreferredLifetime::Seconds(n) => {
                let _ = write!(s, " preferred_lft {n}");
            }
        }
    }
    s
}

/// keepalived's protocol for the routes and rules it adds (RTPROT_KEEPALIVED).
const PROTO_KEEPALIVED: u8 = 18;
/// The main routing table.
const TABLE_MAIN: u32 = 254;

/// A `virtual_routes` line as keepalived 2.2.7 prints it: the command (`prepend` for
/// a unicast route unless another is given, `add` otherwise), the type when not
/// unicast, the destination, then the options in its order, and `no_track` for a
/// route without a `dev` (which it does not watch). Options keepalived prints but
/// keepup has not seen it print (encap, the TCP metrics, nexthops) follow in the
/// order its later versions use.
pub fn route(r: &Route) -> String {
    let unicast = r.route_type.as_deref().is_none_or(|t| t == "unicast");
    let mode = r
        .mode
        .as_deref()
        .unwrap_or(if unicast { "prepend" } else { "add" });
    let mut s = format!("{mode} ");
    if let Some(t) = r.route_type.as_deref().filter(|_| !unicast) {
        let _ = write!(s, "{t} ");
    }
    let v6 =
        r.inet6 || r.to.is_some_and(|p| p.address.is_ipv6()) || r.via.is_some_and(|v| v.is_ipv6());
    match r.to {
        Some(p) if p.prefix_len == 0 => s.push_str(if v6 { "::/0" } else { "0.0.0.0/0" }),
        Some(p) => s.push_str(&prefixed(p.address, p.prefix_len)),
        None => s.push_str(if v6 { "::/0" } else { "0.0.0.0/0" }),
    }
    if let Some(src) = r.src {
        let _ = write!(s, " src {src}");
    }
    if let Some(from) = r.from {
        let _ = write!(s, " from {}", prefixed(from.address, from.prefix_len));
    }
    if let Some(tos) = r.tos {
        let _ = write!(s, " tos {tos}");
    }
    if let Some(via) = r.via {
        let family = if via.is_ipv6() { "inet6" } else { "inet" };
        let _ = write!(s, " via {family} {via}");
    }
    if let Some(dev) = &r.dev {
        let _ = write!(s, " dev {dev}");
    }
    if let Some(t) = r.table.filter(|t| *t != TABLE_MAIN) {
        let _ = write!(s, " table {t}");
    }
    if !r.no_track {
        let _ = write!(s, " proto {}", r.protocol.unwrap_or(PROTO_KEEPALIVED));
    }
    if let Some(scope) = r.scope {
        let _ = write!(s, " scope {scope}");
    }
    if let Some(m) = r.metric {
        let _ = write!(s, " metric {m}");
    }
    if r.onlink && !v6 {
        s.push_str(" onlink");
    }
    if let Some(rl) = r.realms {
        if rl.from != 0 {
            let _ = write!(s, " realms {}/{}", rl.from, rl.to);
        } else {
            let _ = write!(s, " realm {}", rl.to);
        }
    }
    if let Some(m) = r.metrics.mtu {
        let _ = write!(s, " mtu {}{}", if m.lock { "lock " } else { "" }, m.value);
    }
    for nh in &r.nexthops {
        s.push_str(" nexthop");
        if let Some(via) = nh.via {
            let _ = write!(s, " via inet{} {via}", if via.is_ipv6() { "6" } else { "" });
        }
        if let Some(dev) = &nh.dev {
            let _ = write!(s, " dev {dev}");
        }
        if let Some(w) = nh.weight {
            let _ = write!(s, " weight {w}");
        }
        if nh.onlink {
            s.push_str(" onlink");
        }
    }
    if r.no_track || !r.has_interface() {
        s.push_str(" no_track");
    }
    s
}

/// A `virtual_rules` line as keepalived 2.2.7 prints it: `from` (`all` when none was
/// given), `to`, the priority, the TOS (always), the selectors, the protocol and the
/// action (`lookup N`, `goto N` or the type).
pub fn rule(r: &Rule) -> String {
    let mut s = String::from("from ");
    match r.from {
        Some(p) => s.push_str(&if p.prefix_len == 0 {
            format!("{}/0", p.address)
        } else {
            prefixed(p.address, p.prefix_len)
        }),
        None => s.push_str("all"),
    }
    if r.not {
        s.insert_str(0, "not ");
    }
    if let Some(p) = r.to {
        let _ = write!(s, " to {}", prefixed(p.address, p.prefix_len));
    }
    if let Some(p) = r.priority {
        let _ = write!(s, " priority {p}");
    }
    let _ = write!(s, " tos 0x{:x}", r.tos.unwrap_or(0));
    if let Some(m) = r.fwmark {
        let _ = write!(s, " fwmark 0x{m:x}");
        if let Some(mask) = r.fwmask {
            let _ = write!(s, "/0x{mask:x}");
        }
    }
    if let Some(i) = &r.iif {
        let _ = write!(s, " iif {i}");
    }
    if let Some(o) = &r.oif {
        let _ = write!(s, " oif {o}");
    }
    if let Some(u) = r.uidrange {
        let _ = write!(s, " uidrange {}-{}", u.start, u.end);
    }
    if r.l3mdev {
        s.push_str(" l3mdev");
    }
    if let Some(n) = r.suppress_prefixlength {
        let _ = write!(s, " suppress_prefixlength {n}");
    }
    if let Some(n) = r.suppress_ifgroup {
        let _ = write!(s, " suppress_ifgroup {n}");
    }
    if let Some(rl) = r.realms {
        let _ = write!(s, " realms {}/{}", rl.from, rl.to);
    }
    let _ = write!(s, " protocol {}", r.protocol.unwrap_or(PROTO_KEEPALIVED));
    if let Some(p) = r.ipproto {
        let _ = write!(s, " ipproto {p}");
    }
    if let Some(p) = r.sport {
        let _ = write!(s, " sport {}-{}", p.start, p.end);
    }
    if let Some(p) = r.dport {
        let _ = write!(s, " dport {}-{}", p.start, p.end);
    }
    if let Some(g) = r.goto {
        let _ = write!(s, " goto {g}");
    } else if let Some(t) = r.table {
        let _ = write!(s, " lookup {t}");
    } else if let Some(t) = &r.rule_type {
        let _ = write!(s, " {t}");
    }
    s
}

/// Where keepalived looks for a script named without a `/`, when PATH is unset.
const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// The program as keepalived records it: a name without `/` searched in PATH, then
/// every symbolic link resolved (`/bin/echo` becomes `/usr/bin/echo` on a merged
/// /usr). Reads the file system: call it off the daemon's loop.
pub fn resolve_program(program: &str) -> String {
    let found: Option<PathBuf> = if program.contains('/') {
        Some(PathBuf::from(program))
    } else {
        let path = std::env::var("PATH").unwrap_or_else(|_| DEFAULT_PATH.into());
        path.split(':')
            .filter(|d| !d.is_empty())
            .map(|d| Path::new(d).join(program))
            .find(|p| p.is_file())
    };
    found
        .and_then(|p| std::fs::canonicalize(p).ok())
        .map_or_else(|| program.to_string(), |p| p.display().to_string())
}

/// keepalived's `cmd_str`: each word in single quotes, separated by spaces, the
/// program resolved as [`resolve_program`] does.
pub fn cmd_str(argv: &[String]) -> String {
    argv.iter()
        .enumerate()
        .map(|(i, a)| {
            if i == 0 {
                format!("'{}'", resolve_program(a))
            } else {
                format!("'{a}'")
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// `SECS.USECS (Www Mmm dd hh:mm:ss.USECS yyyy)` in local time, as keepalived 2.2.7
/// writes a time in its data dump (`ctime` with the microseconds put after the
/// seconds).
pub fn ctime_usec(epoch: f64) -> String {
    let secs = epoch.floor();
    let usec = ((epoch - secs) * 1e6).round().min(999_999.0) as u32;
    let secs = secs as i64;
    let when = match keepup_sys::local_time(secs) {
        Some(t) => {
            const DAYS: [&str; 7] = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
            const MONTHS: [&str; 12] = [
                "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
            ];
            let day = DAYS.get(t.weekday as usize).copied().unwrap_or("???");
            let month = MONTHS.get(t.month as usize).copied().unwrap_or("???");
            format!(
                "{day} {month} {:2} {:02}:{:02}:{:02}.{usec:06} {}",
                t.day, t.hour, t.minute, t.second, t.year
            )
        }
        None => "invalid time".into(),
    };
    format!("{secs}.{usec:06} ({when})")
}
