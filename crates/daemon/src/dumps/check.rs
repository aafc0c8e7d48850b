//! `keepalived_check.data` (SIGUSR1, the checkers' half): the "LVS Topology" and
//! "Health checkers" sections of keepalived 2.2.7's file, with its field names, order
//! and indents (found by running it on the same configurations; see tests/dumps.rs).
//! Tools read it: `grep 'Has run = no'` to see that every checker has run, or a real
//! server's address with the lines after it for its `Up = yes|no`.
//!
//! What the file holds comes from three places: the configuration (read once per
//! load into [`CheckConf`], compact: a real server only gets a record of its own when
//! it differs from its virtual server), the checker side's [`Moment`] (its plan and
//! the states) and the kernel's IPVS table (whether a virtual server is in it, and
//! its IPVS version).
//!
//! What keepalived writes and keepup does not, and why:
//!
//! - "Global definitions" and "SSL definitions": keepalived's settings tables, most
//!   of them for parts keepup does not have; `keepup check --dump` prints the whole
//!   configuration.
//! - A group entry's "Alive: N tcp, ..." and "reloaded", a virtual or real server's
//!   "reloaded" and "previous effective_weight", a checker's "Current weight",
//!   "Retries iterations" and "Default delay before retry": keepalived's reference
//!   counts and bookkeeping during a reload, which keepup does not keep.
//! - MISC_CHECK's "Last ran" and "Last status": keepup keeps how a run ended, not the
//!   script's exit status (`keepup status` shows the last error).
//!
//! - A real server's "Using smtp notification" is what keepup does; keepalived 2.2.7
//!   prints its "unset" marker (-1) as "yes".
//!
//! And what keepup writes that keepalived 2.2.7 does not: a FILE_CHECK under "Health
//! checkers" (keepalived leaves them out; a reader counting checkers sees them all),
//! and a MISC_CHECK whose script does not exist (keepalived drops such a checker at
//! load and its real server counts as up; keepup keeps it, and it fails). A notify
//! script that does not exist is left out, as keepalived does (neither runs it).
use super::format::{cmd_str, f, resolve_program};
use crate::status::IpvsStatus;
use keepup_check::plan::CheckerPlan;
use keepup_check::sched::{Moment, RsView, VsView};
use keepup_config::model::lvs::{
    CheckerKind, Forwarding, IpFamily, LvsMethod, Protocol, RealServer, TunnelChecksum, TunnelType,
    VirtualServer, VsAddress, VsgEntry,
};
use keepup_config::model::{Config, Script, Secs};
use std::fmt::Write as _;
use std::net::IpAddr;

/// What the file says of the configuration, per load.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CheckConf {
    groups: Vec<GroupConf>,
    vss: Vec<VsConf>,
}

#[derive(Debug, Clone, PartialEq)]
struct GroupConf {
    name: String,
    v4: bool,
    v6: bool,
    /// The entries' lines, addresses first, then fwmarks (keepalived's two lists).
    entries: Vec<String>,
}

#[derive(Debug, Clone, PartialEq)]
struct VsConf {
    /// `VS VIP = ..., VPORT = ...`, `VS FWMARK = N` or `VS GROUP = [name]:0`.
    header: String,
    virtualhost: Option<String>,
    family: &'static str,
    sched: String,
    /// The scheduler flag lines' names and whether each is on.
    flags: Vec<(&'static str, bool)>,
    ops: bool,
    persistence_timeout: Option<u32>,
    granularity: Option<String>,
    protocol: &'static str,
    alpha: bool,
    omega: bool,
    ha_suspend: bool,
    inhibit: bool,
    forwarding: String,
    sorry_forwarding: String,
    /// What a real server takes from this virtual server.
    rs: RsConf,
    /// The real servers that differ from `rs`, by index.
    rs_own: Vec<(usize, RsConf)>,
}

/// A real server's lines that its virtual server can give it.
#[derive(Debug, Clone, PartialEq)]
struct RsConf {
    forwarding: String,
    alpha: bool,
    connect_timeout: f64,
    conn_limit: (u32, u32),
    delay_loop: f64,
    retry: Option<u32>,
    delay_before_retry: Option<f64>,
    warmup: Option<f64>,
    /// Its own `virtualhost` (not one taken from the virtual server).
    virtualhost: Option<String>,
}

fn secs(s: Option<Secs>) -> Option<f64> {
    s.map(|s| s.micros as f64 / 1e6)
}

/// `NAT`, `DR`, `TUN, type = IPIP`, `TUN, type = GUE, port = 6080, no checksum`.
fn forwarding(fw: Option<Forwarding>) -> String {
    let Some(fw) = fw else {
        return "NAT".into();
    };
    let csum = match fw.tunnel_checksum {
        None | Some(TunnelChecksum::Nocsum) => "no checksum",
        Some(TunnelChecksum::Csum) => "checksum",
        Some(TunnelChecksum::Remcsum) => "remote checksum",
    };
    match (fw.method, fw.tunnel_type) {
        (LvsMethod::NAT, _) => "NAT".into(),
        (LvsMethod::DR, _) => "DR".into(),
        (LvsMethod::TUN, None | Some(TunnelType::Ipip)) => "TUN, type = IPIP".into(),
        (LvsMethod::TUN, Some(TunnelType::Gue)) => format!(
            "TUN, type = GUE, port = {}, {csum}",
            fw.tunnel_port.unwrap_or(0)
        ),
        (LvsMethod::TUN, Some(TunnelType::Gre)) => format!("TUN, type = GRE, {csum}"),
    }
}

impl CheckConf {
    pub fn new(cfg: &Config) -> CheckConf {
        let groups = cfg
            .virtual_server_groups
            .iter()
            .map(|g| {
                let mut entries = Vec::new();
                let (mut v4, mut v6) = (false, false);
                for e in &g.entries {
                    if let VsgEntry::Range { first, last, port } = e {
                        v4 |= first.is_ipv4();
                        v6 |= first.is_ipv6();
                        let port = port.unwrap_or(0);
                        entries.push(if first == last {
                            format!("VIP = {first}, VPORT = {port}")
                        } else {
                            format!("VIP Range = {first}-{last}, VPORT = {port}")
                        });
                    }
                }
                for e in &g.entries {
                    if let VsgEntry::Fwmark { fwmark, family } = e {
                        let six = *family == Some(IpFamily::Inet6);
                        v6 |= six;
                        v4 |= !six;
                        entries.push(format!(
                            "FWMARK = {fwmark}{}",
                            if six { " IPv6" } else { "" }
                        ));
                    }
                }
                GroupConf {
                    name: g.name.clone(),
                    v4,
                    v6,
                    entries,
                }
            })
            .collect();
        CheckConf {
            groups,
            vss: cfg.virtual_servers.iter().map(VsConf::new).collect(),
        }
    }
}

impl VsConf {
    fn new(v: &VirtualServer) -> VsConf {
        let header = match &v.address {
            VsAddress::Ip { ip, port } => {
                format!("VS VIP = {ip}, VPORT = {}", port.unwrap_or(0))
            }
            VsAddress::Fwmark { fwmark } => format!("VS FWMARK = {fwmark}"),
            VsAddress::Group { group } => format!("VS GROUP = [{group}]:0"),
        };
        let v6 = match (&v.address, v.ip_family) {
            (VsAddress::Ip { ip, .. }, _) => ip.is_ipv6(),
            (_, Some(f)) => f == IpFamily::Inet6,
            _ => v.real_servers.first().is_some_and(|r| r.ip.is_ipv6()),
        };
        let sched = v
            .lvs_sched
            .clone()
            .unwrap_or_else(|| keepup_lvs::desired::DEFAULT_SCHEDULER.to_string());
        let has = |names: &[&str]| v.sched_flags.iter().any(|f| names.contains(&f.as_str()));
        let sched1 = has(&["flag-1", "sh-fallback", "mh-fallback"]);
        let sched2 = has(&["flag-2", "sh-port", "mh-port"]);
        let flags = match sched.as_str() {
            "sh" => vec![("sh-port", sched2), ("sh-fallback", sched1)],
            "mh" => vec![("mh-port", sched2), ("mh-fallback", sched1)],
            _ => vec![
                ("flag-1", sched1),
                ("flag-2", sched2),
                ("flag-3", has(&["flag-3"])),
            ],
        };
        // A fwmark service has no protocol, whatever `protocol` says.
        let protocol = match (v.protocol, &v.address) {
            (_, VsAddress::Fwmark { .. }) | (None, _) => "none",
            (Some(Protocol::TCP), _) => "TCP",
            (Some(Protocol::UDP), _) => "UDP",
            (Some(Protocol::SCTP), _) => "SCTP",
        };
        let rs = RsConf {
            forwarding: forwarding(v.lvs_method),
            alpha: v.alpha,
            connect_timeout: secs(v.connect_timeout).unwrap_or(5.0),
            conn_limit: (0, 0),
            delay_loop: secs(v.delay_loop).unwrap_or(60.0),
            retry: v.retry,
            delay_before_retry: secs(v.delay_before_retry),
            warmup: secs(v.warmup),
            virtualhost: None,
        };
        let rs_own = v
            .real_servers
            .iter()
            .enumerate()
            .filter_map(|(i, r)| {
                let own = RsConf::new(r, v, &rs);
                (own != rs).then_some((i, own))
            })
            .collect();
        VsConf {
            header,
            virtualhost: v.virtualhost.clone(),
            family: if v6 { "inet6" } else { "inet" },
            sched,
            flags,
            ops: v.ops,
            persistence_timeout: v.persistence_timeout,
            granularity: v.persistence_granularity.clone(),
            protocol,
            alpha: v.alpha,
            omega: v.omega,
            ha_suspend: v.ha_suspend,
            inhibit: v.inhibit_on_failure,
            forwarding: rs.forwarding.clone(),
            sorry_forwarding: forwarding(
                v.sorry_server
                    .as_ref()
                    .and_then(|s| s.sorry_server_lvs_method)
                    .or(v.lvs_method),
            ),
            rs,
            rs_own,
        }
    }

    fn rs(&self, i: usize) -> &RsConf {
        self.rs_own
            .iter()
            .find(|(j, _)| *j == i)
            .map_or(&self.rs, |(_, r)| r)
    }
}

impl RsConf {
    /// `r` as its lines say it (the parser has already given it what it takes from
    /// `v`; a `virtualhost` equal to the virtual server's counts as taken).
    fn new(r: &RealServer, v: &VirtualServer, vs: &RsConf) -> RsConf {
        RsConf {
            forwarding: forwarding(r.lvs_method),
            alpha: r.alpha.unwrap_or(vs.alpha),
            connect_timeout: secs(r.connect_timeout).unwrap_or(vs.connect_timeout),
            conn_limit: (r.lthreshold.unwrap_or(0), r.uthreshold.unwrap_or(0)),
            delay_loop: secs(r.delay_loop).unwrap_or(vs.delay_loop),
            retry: r.retry,
            delay_before_retry: secs(r.delay_before_retry),
            warmup: secs(r.warmup),
            virtualhost: r
                .virtualhost
                .clone()
                .filter(|h| Some(h) != v.virtualhost.as_ref()),
        }
    }
}

fn onoff(b: bool) -> &'static str {
    if b {
        "ON"
    } else {
        "OFF"
    }
}

fn yesno(b: bool) -> &'static str {
    if b {
        "yes"
    } else {
        "no"
    }
}

fn abled(b: bool) -> &'static str {
    if b {
        "enabled"
    } else {
        "disabled"
    }
}

/// The user a script runs as, as `uid:gid` (root when none is named or the name is
/// unknown).
fn uid_gid(s: Option<&Script>) -> String {
    let (u, g) = s
        .and_then(|s| {
            let user = s.user.as_deref()?;
            keepup_sys::script::resolve_user(user, s.group.as_deref()).ok()
        })
        .unwrap_or((0, 0));
    format!("{u}:{g}")
}

/// Whether the program of `argv` is a file (keepalived leaves a script it cannot find
/// out of the file: it will not run it).
fn runnable(argv: &[String]) -> bool {
    argv.first()
        .is_some_and(|p| std::path::Path::new(&resolve_program(p)).is_file())
}

fn script_line(out: &mut String, indent: &str, label: &str, s: &Script) {
    let argv = keepup_sys::script::script_argv(&s.command);
    if !runnable(&argv) {
        return;
    }
    let _ = writeln!(
        out,
        "{indent}{label} = {}, uid:gid {}",
        cmd_str(&argv),
        uid_gid(Some(s))
    );
}

/// `[ip]:port` as keepalived's `inet_sockaddrtopair` writes it.
fn pair(ip: IpAddr, port: u16) -> String {
    format!("[{ip}]:{port}")
}

/// The file's text. Resolves script paths and users: call it off the daemon's loop.
pub fn render(conf: &CheckConf, moment: &Moment, ipvs: Option<&IpvsStatus>) -> String {
    let mut out = String::from("------< LVS Topology >------\n");
    if let Some((code, _)) = ipvs.and_then(|i| i.version) {
        let _ = writeln!(
            out,
            " System is compiled with LVS v{}.{}.{}",
            (code >> 16) & 0xff,
            (code >> 8) & 0xff,
            code & 0xff
        );
    }
    for g in &conf.groups {
        out.push_str(" ------< Virtual server group >------\n");
        let _ = writeln!(
            out,
            " Virtual Server Group = {}, IPv4 = {}, IPv6 = {}",
            g.name,
            yesno(g.v4),
            yesno(g.v6)
        );
        for e in &g.entries {
            let _ = writeln!(out, "   {e}");
        }
    }
    let plan = moment.plan();
    let views = moment.view();
    // The moment may lag a reload for an instant: pair by name, skip what differs.
    let pairs: Vec<_> = conf
        .vss
        .iter()
        .zip(&plan.virtual_servers)
        .zip(&views)
        .filter(|((_, p), v)| p.name == v.name)
        .map(|((c, p), v)| (c, p, v))
        .collect();
    if pairs.len() != conf.vss.len() {
        return out;
    }
    for &(c, p, v) in &pairs {
        let in_kernel = ipvs.is_some_and(|i| {
            i.services
                .iter()
                .any(|s| s.virtual_server.as_deref() == Some(v.name.as_str()))
        });
        virtual_server(&mut out, c, p, v, in_kernel);
    }
    let any = plan
        .virtual_servers
        .iter()
        .flat_map(|v| &v.real_servers)
        .any(|r| !r.checkers.is_empty());
    if any {
        out.push_str("------< Health checkers >------\n");
    }
    for &(_, p, v) in &pairs {
        for (rp, rv) in p.real_servers.iter().zip(&v.real_servers) {
            for (cp, cs) in rp.checkers.iter().zip(&rv.checkers) {
                let _ = writeln!(out, " {} -> {}", p.name, rp.name);
                checker(&mut out, cp, cs, !v.suspended);
            }
        }
    }
    out
}

fn line(out: &mut String, text: impl std::fmt::Display) {
    let _ = writeln!(out, "   {text}");
}

fn virtual_server(
    out: &mut String,
    c: &VsConf,
    p: &keepup_check::plan::VsPlan,
    v: &VsView,
    in_kernel: bool,
) {
    out.push_str(" ------< Virtual server >------\n");
    let _ = writeln!(out, " {}", c.header);
    if let Some(h) = &c.virtualhost {
        line(out, format_args!("VirtualHost = {h}"));
    }
    line(out, format_args!("Address family = {}", c.family));
    line(
        out,
        format_args!("connection timeout = {}", f(c.rs.connect_timeout)),
    );
    line(out, format_args!("delay_loop = {}", f(c.rs.delay_loop)));
    line(out, format_args!("lvs_sched = {}", c.sched));
    // The kernel ignores the flag from user space (Linux 5.13, "ipvs: ignore
    // IP_VS_SVC_F_HASHED flag when adding service"): `hashed` never takes effect, and
    // keepalived 2.2.7 says so too.
    line(out, "Hashed = disabled");
    for (name, on) in &c.flags {
        line(out, format_args!("{name} = {}", abled(*on)));
    }
    line(
        out,
        format_args!(
            "One packet scheduling = {}{}",
            abled(c.ops),
            if c.ops && c.protocol != "UDP" {
                " (inactive due to not UDP)"
            } else {
                ""
            }
        ),
    );
    if let Some(t) = c.persistence_timeout {
        line(out, format_args!("persistence timeout = {t}"));
    }
    if let Some(g) = &c.granularity {
        line(out, format_args!("persistence granularity = {g}"));
    }
    line(out, format_args!("protocol = {}", c.protocol));
    line(out, format_args!("alpha is {}", onoff(c.alpha)));
    line(out, format_args!("omega is {}", onoff(c.omega)));
    timing_lines(out, &c.rs);
    line(
        out,
        format_args!("Inhibit on failure is {}", onoff(c.inhibit)),
    );
    line(
        out,
        format_args!("quorum = {}, hysteresis = {}", v.quorum, v.hysteresis),
    );
    if let Some(s) = &p.quorum_up {
        script_line(out, "   ", "Quorum up notify script", s);
    }
    if let Some(s) = &p.quorum_down {
        script_line(out, "   ", "Quorum down notify script", s);
    }
    if c.ha_suspend {
        line(out, "Using HA suspend");
    }
    line(
        out,
        format_args!("Using smtp notification = {}", yesno(p.smtp_alert)),
    );
    line(
        out,
        format_args!("default forwarding method = {}", c.forwarding),
    );
    if let Some(s) = &p.sorry {
        line(out, format_args!("sorry server = {}", s.name));
        line(
            out,
            format_args!("  forwarding method = {}", c.sorry_forwarding),
        );
        line(
            out,
            format_args!("  Inhibit on failure is {}", onoff(s.inhibit)),
        );
    }
    line(out, format_args!("alive = {}", u8::from(in_kernel)));
    line(
        out,
        format_args!("quorum_state_up = {}", u8::from(v.quorum_up)),
    );
    for (i, (rp, rv)) in p.real_servers.iter().zip(&v.real_servers).enumerate() {
        real_server(out, c.rs(i), rp, rv);
    }
}

/// `Retry count`, `Retry delay` and `Warmup`, each when set.
fn timing_lines(out: &mut String, r: &RsConf) {
    if let Some(n) = r.retry {
        line(out, format_args!("Retry count = {n}"));
    }
    if let Some(d) = r.delay_before_retry {
        line(out, format_args!("Retry delay = {}", f(d)));
    }
    if let Some(w) = r.warmup {
        line(out, format_args!("Warmup = {}", f(w)));
    }
}

fn real_server(out: &mut String, c: &RsConf, p: &keepup_check::plan::RsPlan, v: &RsView) {
    out.push_str("   ------< Real server >------\n");
    let ip = v.ip.unwrap_or(p.ip);
    line(
        out,
        format_args!(
            "RIP = {ip}, RPORT = {}, WEIGHT = {} EFF WEIGHT = {}",
            p.port.unwrap_or(0),
            v.weight,
            v.effective_weight
        ),
    );
    line(out, format_args!("forwarding method = {}", c.forwarding));
    line(out, format_args!("Alpha is {}", onoff(c.alpha)));
    line(
        out,
        format_args!("connection timeout = {}", f(c.connect_timeout)),
    );
    line(
        out,
        format_args!(
            "connection limit range = {} -> {}",
            c.conn_limit.0, c.conn_limit.1
        ),
    );
    line(out, format_args!("Delay loop = {}", f(c.delay_loop)));
    timing_lines(out, c);
    line(
        out,
        format_args!("Inhibit on failure is {}", onoff(v.inhibit_on_failure)),
    );
    if let Some(s) = &p.notify_up {
        script_line(out, "     ", "RS up notify script", s);
    }
    if let Some(s) = &p.notify_down {
        script_line(out, "     ", "RS down notify script", s);
    }
    if let Some(h) = &c.virtualhost {
        let _ = writeln!(out, "    VirtualHost = '{h}'");
    }
    line(
        out,
        format_args!("Using smtp notification = {}", yesno(p.smtp_alert)),
    );
    line(out, format_args!("initial weight = {}", v.weight));
    line(
        out,
        format_args!("effective weight = {}", v.effective_weight),
    );
    line(out, format_args!("alive = {}", u8::from(v.alive)));
    let failed = v.checkers.iter().filter(|c| !c.up).count();
    line(out, format_args!("num failed checkers = {failed}"));
    line(
        out,
        format_args!("RS set = {}", u8::from(v.pool_weight.is_some())),
    );
}

fn us(d: std::time::Duration) -> u128 {
    d.as_micros()
}

fn checker(
    out: &mut String,
    p: &CheckerPlan,
    s: &keepup_check::sched::CheckerStatus,
    enabled: bool,
) {
    let t = &p.timing;
    line(out, format_args!("Enabled = {}", yesno(enabled)));
    line(out, format_args!("Up = {}", yesno(s.up)));
    line(out, format_args!("Has run = {}", yesno(s.has_run)));
    line(out, format_args!("Alpha = {}", yesno(p.alpha)));
    line(out, format_args!("Delay loop = {} us", us(t.delay_loop)));
    line(out, format_args!("Warmup = {} us", us(t.warmup)));
    line(out, format_args!("Retries = {}", t.retry));
    if t.retry > 0 {
        line(
            out,
            format_args!("Delay before retry = {} us", us(t.delay_before_retry)),
        );
    }
    line(
        out,
        format_args!("Log all failures = {}", yesno(p.log_all_failures)),
    );
    let c = &p.checker;
    let connects = !matches!(
        c.kind,
        CheckerKind::MiscCheck(_) | CheckerKind::FileCheck(_) | CheckerKind::BfdCheck(_)
    );
    if connects {
        line(out, "Connection");
        if let Some(ip) = c.connect_ip {
            line(
                out,
                format_args!("  Dest = {}", pair(ip, c.connect_port.unwrap_or(0))),
            );
        }
        match (c.bindto, c.bind_port) {
            (Some(ip), port) => line(
                out,
                format_args!("  Bind to = {}", pair(ip, port.unwrap_or(0))),
            ),
            (None, Some(port)) => line(out, format_args!("  Bind port = {port}")),
            (None, None) => {}
        }
        if let Some(i) = &c.bind_if {
            line(out, format_args!("  Bind interface = {i}"));
        }
        if let Some(m) = c.fwmark {
            line(out, format_args!("  Fwmark = {m}"));
        }
        line(
            out,
            format_args!("  Timeout = {}", f(secs(c.connect_timeout).unwrap_or(5.0))),
        );
    }
    match &c.kind {
        CheckerKind::HttpGet(h) | CheckerKind::SslGet(h) => {
            line(
                out,
                format_args!(
                    "Keepalive method = {}, http protocol {}",
                    c.kind.name(),
                    h.http_protocol.as_deref().unwrap_or("1.0")
                ),
            );
            if let Some(v) = &h.virtualhost {
                line(out, format_args!("Virtualhost = {v}"));
            }
            let set = |b: bool| if b { "set" } else { "unset" };
            line(out, format_args!("Enable SNI {}", set(h.enable_sni)));
            line(out, format_args!("Fast recovery {}", set(h.fast_recovery)));
            for u in &h.url {
                line(
                    out,
                    format_args!("Checked url = {}", u.path.as_deref().unwrap_or("")),
                );
                if let Some(d) = &u.digest {
                    line(out, format_args!("  digest = {d}"));
                }
                line(out, "  HTTP Status Code(s)");
                for r in status_ranges(&u.status_code) {
                    line(out, format_args!("    {r}"));
                }
                if let Some(v) = &u.virtualhost {
                    line(out, format_args!("  Virtual host = {v}"));
                }
            }
        }
        CheckerKind::TcpCheck => line(out, "Keepalive method = TCP_CHECK"),
        CheckerKind::PingCheck => line(out, "Keepalive method = PING_CHECK"),
        CheckerKind::SmtpCheck(m) => {
            line(out, "Keepalive method = SMTP_CHECK");
            line(
                out,
                format_args!(
                    "helo = {}",
                    m.helo_name
                        .as_deref()
                        .unwrap_or("smtpchecker.keepalived.org")
                ),
            );
        }
        CheckerKind::DnsCheck(d) => {
            line(out, "Keepalive method = DNS_CHECK");
            line(
                out,
                format_args!("Type = {}", d.qtype.as_deref().unwrap_or("SOA")),
            );
            line(
                out,
                format_args!("Name = {}", d.name.as_deref().unwrap_or("")),
            );
        }
        CheckerKind::UdpCheck(u) => {
            line(out, "Keepalive method = UDP_CHECK");
            match &u.payload {
                Some(p) => {
                    line(out, "Payload specified = yes");
                    line(out, format_args!("Payload length = {}", p.len()));
                }
                None => line(out, "Payload specified = no"),
            }
            line(
                out,
                format_args!("Require reply = {}", yesno(u.require_reply.is_some())),
            );
            if let Some(r) = &u.require_reply {
                line(
                    out,
                    format_args!("  Min reply length = {}", u.min_reply_length.unwrap_or(0)),
                );
                line(
                    out,
                    format_args!("  Max reply length = {}", u.max_reply_length.unwrap_or(0)),
                );
                line(out, format_args!("  Reply data len = {}", r.len() / 2));
            }
        }
        CheckerKind::MiscCheck(m) => {
            line(out, "Keepalive method = MISC_CHECK");
            let argv = m
                .misc_path
                .as_ref()
                .map(|s| keepup_sys::script::script_argv(&s.command))
                .unwrap_or_default();
            line(out, format_args!("script = {}", cmd_str(&argv)));
            line(
                out,
                format_args!("timeout = {}", m.misc_timeout.unwrap_or(0)),
            );
            line(
                out,
                format_args!("dynamic = {}", if m.misc_dynamic { "YES" } else { "NO" }),
            );
            line(
                out,
                format_args!(
                    "uid:gid = {}",
                    uid_gid(m.user.as_ref().or(m.misc_path.as_ref()))
                ),
            );
        }
        CheckerKind::FileCheck(fc) => {
            line(out, "Keepalive method = FILE_CHECK");
            line(
                out,
                format_args!("Tracked file = {}", fc.track_file.as_deref().unwrap_or("")),
            );
        }
        CheckerKind::BfdCheck(b) => {
            line(out, "Keepalive method = BFD_CHECK");
            line(
                out,
                format_args!("Tracked BFD = {}", b.name.as_deref().unwrap_or("")),
            );
        }
    }
}

/// The status codes as keepalived lists them: merged ranges, one per line, `200-299`
/// when none are configured.
fn status_ranges(codes: &[(u16, u16)]) -> Vec<String> {
    let mut sorted: Vec<(u16, u16)> = if codes.is_empty() {
        vec![(200, 299)]
    } else {
        codes.to_vec()
    };
    sorted.sort_unstable();
    let mut merged: Vec<(u16, u16)> = Vec::new();
    for (a, b) in sorted {
        match merged.last_mut() {
            Some(last) if a <= last.1.saturating_add(1) => last.1 = last.1.max(b),
            _ => merged.push((a, b)),
        }
    }
    merged
        .into_iter()
        .map(|(a, b)| {
            if a == b {
                a.to_string()
            } else {
                format!("{a}-{b}")
            }
        })
        .collect()
}

#[cfg(test)]
#[path = "check_tests.rs"]
mod tests;
