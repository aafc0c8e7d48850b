//! What the scheduler runs, read from the config model: each virtual server with its
//! quorum and sorry server, each real server with its weight and notifiers, each
//! checker with its timing. The probe settings (URLs, payloads, scripts) stay in the
//! config's [`Checker`], which each [`CheckerPlan`] carries for the probe side.
use std::borrow::Cow;
use std::net::IpAddr;
use std::time::Duration;

use keepup_config::model::lvs::{
    Checker, CheckerKind, Protocol, RealServer, SmtpCheck, VirtualServer, VirtualServerGroup,
    VsAddress, VsgEntry,
};
use keepup_config::model::{Script, Secs, TrackFile};
use keepup_config::Config;

/// The checkers' half of a config.
#[derive(Debug, Clone, Default)]
pub struct Plan {
    pub virtual_servers: Vec<VsPlan>,
    /// `checker_log_all_failures` (global_defs): log every failed attempt of an up
    /// checker, not only the one that takes it down.
    pub log_all_failures: bool,
    /// `rs_init_notifies`: run notify_up for the real servers found up at start.
    pub rs_init_notifies: bool,
    /// `no_checker_emails`: mail about a real server only when it goes up or down,
    /// not about each checker.
    pub no_checker_emails: bool,
}

#[derive(Debug, Clone)]
pub struct VsPlan {
    /// As keepalived prints it: `[10.0.0.1]:tcp:80`, `FWM 5`, `[group]:80`.
    pub name: String,
    pub quorum: u32,
    pub hysteresis: u32,
    pub quorum_up: Option<Script>,
    pub quorum_down: Option<Script>,
    /// `omega`: run the down notifiers at shutdown too.
    pub omega: bool,
    pub smtp_alert: bool,
    pub sorry: Option<SorryPlan>,
    pub real_servers: Vec<RsPlan>,
    /// `ha_suspend`: the addresses whose presence on this host lets its checkers run
    /// (None: they always run).
    pub ha_suspend: Option<SuspendOn>,
}

/// What `ha_suspend` watches for a virtual server: its address, or for a
/// `virtual_server_group` the addresses of the group's address entries. The checkers
/// run while at least one of them is on an interface of this host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SuspendOn {
    /// Inclusive ranges (`first == last` for one address).
    pub ranges: Vec<(IpAddr, IpAddr)>,
    /// Whether it names a group (for the log's words).
    pub group: bool,
}

impl SuspendOn {
    /// Whether `ip` is one of the watched addresses.
    pub fn matches(&self, ip: IpAddr) -> bool {
        self.ranges
            .iter()
            .any(|&(first, last)| in_range(ip, first, last))
    }
}

fn in_range(ip: IpAddr, first: IpAddr, last: IpAddr) -> bool {
    match (ip, first, last) {
        (IpAddr::V4(a), IpAddr::V4(f), IpAddr::V4(l)) => (f..=l).contains(&a),
        (IpAddr::V6(a), IpAddr::V6(f), IpAddr::V6(l)) => (f..=l).contains(&a),
        _ => false,
    }
}

/// keepalived's `ha_suspend` watch for `v`: its address, or its group's address
/// entries (fwmark entries have no address; the parser turns ha_suspend off for a
/// fwmark service).
///
/// keepalived 2.2.7 (check_api.c `addr_matches`) returns early for any group, so a
/// group's checkers are deactivated at start and never run again; the code after that
/// return shows the intent (an address of one of the group's entries counts, a range
/// varying in its last octet or last 16 bits), and that is what keepup does.
fn suspend_on(v: &VirtualServer, groups: &[VirtualServerGroup]) -> Option<SuspendOn> {
    if !v.ha_suspend {
        return None;
    }
    match &v.address {
        VsAddress::Ip { ip, .. } => Some(SuspendOn {
            ranges: vec![(*ip, *ip)],
            group: false,
        }),
        VsAddress::Fwmark { .. } => None,
        VsAddress::Group { group } => {
            let g = groups.iter().find(|g| &g.name == group)?;
            // keepalived clears ha_suspend for a group with any fwmark entry.
            if g.entries
                .iter()
                .any(|e| matches!(e, VsgEntry::Fwmark { .. }))
            {
                return None;
            }
            let ranges: Vec<(IpAddr, IpAddr)> = g
                .entries
                .iter()
                .filter_map(|e| match e {
                    VsgEntry::Range { first, last, .. } => Some((*first, *last)),
                    VsgEntry::Fwmark { .. } => None,
                })
                .collect();
            (!ranges.is_empty()).then_some(SuspendOn {
                ranges,
                group: true,
            })
        }
    }
}

#[derive(Debug, Clone)]
pub struct SorryPlan {
    pub name: String,
    pub ip: IpAddr,
    pub port: Option<u16>,
    /// `sorry_server_inhibit`: kept in the pool at weight 0 while not needed.
    pub inhibit: bool,
}

#[derive(Debug, Clone)]
pub struct RsPlan {
    /// As keepalived prints it: `[10.0.0.2]:tcp:80` (shared with the status views).
    pub name: std::sync::Arc<str>,
    pub ip: IpAddr,
    pub port: Option<u16>,
    /// `weight` as configured (keepalived's `iweight`).
    pub weight: u32,
    /// `inhibit_on_failure`: weight 0 instead of removal when down.
    pub inhibit: bool,
    /// Boxed, as in the configuration's model (most real servers have none).
    pub notify_up: Option<Box<Script>>,
    pub notify_down: Option<Box<Script>>,
    pub smtp_alert: bool,
    /// Shared with the probes in flight (a run holds its checker's plan).
    pub checkers: Vec<std::sync::Arc<CheckerPlan>>,
}

#[derive(Debug, Clone)]
pub struct CheckerPlan {
    pub timing: Timing,
    /// `alpha`: starts down; the real server joins the pool on its first success.
    pub alpha: bool,
    /// `log_all_failures` of this checker.
    pub log_all_failures: bool,
    /// `misc_dynamic`: a success may set the real server's weight.
    pub dynamic: bool,
    /// FILE_CHECK: the tracked file, and how its value counts.
    pub file: Option<FileSource>,
    /// How long the probe itself waits for what it judges (a UDP or DNS answer:
    /// `connect_timeout`; a MISC_CHECK script: `misc_timeout`). The run's timeout
    /// ([`Timing::timeout`]) leaves it room to say so.
    pub wait: Duration,
    /// What the probe does.
    pub checker: Checker,
}

/// A FILE_CHECK's `track_file`: the file, and the weight its value is multiplied by
/// (0: any value but 0 takes the real server down).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileSource {
    pub name: String,
    /// None: no `track_file` of that name, or it has no `file`.
    pub path: Option<String>,
    pub weight: i32,
    pub reverse: bool,
}

impl CheckerPlan {
    /// `HTTP_GET`, `TCP_CHECK`, ...
    pub fn kind(&self) -> &'static str {
        self.checker.kind.name()
    }
}

/// When a checker runs, and how long a run may take.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timing {
    pub delay_loop: Duration,
    /// Further failures of an up checker before it goes down.
    pub retry: u32,
    pub delay_before_retry: Duration,
    /// The first run comes 1 s after start plus a random part of this.
    pub warmup: Duration,
    /// The whole run, connection to verdict (a run still going then has failed).
    pub timeout: Duration,
    /// The next run is counted from the start of the last (keepalived's MISC_CHECK),
    /// not from its end.
    pub from_start: bool,
}

/// How often a FILE_CHECK reads its file.
const FILE_POLL: Duration = Duration::from_secs(1);

fn dur(s: Option<Secs>, default: Duration) -> Duration {
    s.map_or(default, |s| Duration::from_micros(s.micros))
}

fn proto(p: Option<Protocol>) -> &'static str {
    match p {
        Some(Protocol::TCP) => "tcp",
        // keepalived's default for an address service without `protocol`.
        Some(Protocol::UDP) | None => "udp",
        Some(Protocol::SCTP) => "sctp",
    }
}

/// keepalived's `inet_sockaddrtotrio`: `[ip]:proto:port`.
fn trio(ip: &IpAddr, proto: &str, port: Option<u16>) -> String {
    format!("[{ip}]:{proto}:{}", port.unwrap_or(0))
}

/// keepalived's `FMT_VS`.
pub fn vs_name(v: &VirtualServer) -> String {
    match &v.address {
        VsAddress::Ip { ip, port } => trio(ip, proto(v.protocol), *port),
        VsAddress::Fwmark { fwmark } => format!("FWM {fwmark}"),
        VsAddress::Group { group } => format!("[{group}]:0"),
    }
}

impl Plan {
    pub fn from_config(c: &Config) -> Plan {
        let g = &c.global_defs;
        let smtp_default = g.smtp_alert_checker.or(g.smtp_alert).unwrap_or(false);
        Plan {
            virtual_servers: c
                .virtual_servers
                .iter()
                .map(|v| {
                    let mut p = VsPlan::from_config(v, smtp_default, &c.track_files);
                    p.ha_suspend = suspend_on(v, &c.virtual_server_groups);
                    p
                })
                .collect(),
            log_all_failures: g.checker_log_all_failures,
            rs_init_notifies: g.rs_init_notifies,
            no_checker_emails: g.no_checker_emails,
        }
    }
}

impl VsPlan {
    fn from_config(v: &VirtualServer, smtp_default: bool, files: &[TrackFile]) -> VsPlan {
        // keepalived clears a fwmark service's protocol: its servers are `[ip]:none:0`.
        let p = match v.address {
            VsAddress::Fwmark { .. } => "none",
            _ => proto(v.protocol),
        };
        let smtp_alert = v.smtp_alert.unwrap_or(smtp_default);
        VsPlan {
            name: vs_name(v),
            quorum: v.quorum,
            hysteresis: v.hysteresis,
            quorum_up: v.quorum_up.clone(),
            quorum_down: v.quorum_down.clone(),
            omega: v.omega,
            smtp_alert,
            sorry: v.sorry_server.as_ref().map(|s| SorryPlan {
                name: trio(&s.ip, p, s.port),
                ip: s.ip,
                port: s.port,
                inhibit: s.sorry_server_inhibit,
            }),
            real_servers: v
                .real_servers
                .iter()
                .map(|r| RsPlan::from_config(r, p, smtp_alert, files))
                .collect(),
            ha_suspend: None,
        }
    }
}

impl RsPlan {
    fn from_config(r: &RealServer, proto: &str, smtp_default: bool, files: &[TrackFile]) -> RsPlan {
        RsPlan {
            name: trio(&r.ip, proto, r.port).into(),
            ip: r.ip,
            port: r.port,
            weight: r.weight.unwrap_or(1),
            inhibit: r.inhibit_on_failure.unwrap_or(false),
            notify_up: r.notify_up.clone(),
            notify_down: r.notify_down.clone(),
            smtp_alert: r.smtp_alert.unwrap_or(smtp_default),
            checkers: r
                .checkers
                .iter()
                .flat_map(checkers_of)
                .map(|c| std::sync::Arc::new(CheckerPlan::from_config(&c, files)))
                .collect(),
        }
    }
}

/// A checker block, and for SMTP_CHECK each deprecated `host { }` block as an
/// SMTP_CHECK of its own with the block's connection and the parent's `helo_name` (as
/// keepalived runs them; the parser reads a host block's options only).
fn checkers_of(c: &Checker) -> Vec<Cow<'_, Checker>> {
    match &c.kind {
        CheckerKind::SmtpCheck(s) if !s.host.is_empty() => s
            .host
            .iter()
            .map(|h| {
                let mut h = h.clone();
                h.kind = CheckerKind::SmtpCheck(SmtpCheck {
                    helo_name: s.helo_name.clone(),
                    host: Vec::new(),
                });
                Cow::Owned(h)
            })
            .collect(),
        _ => vec![Cow::Borrowed(c)],
    }
}

impl CheckerPlan {
    fn from_config(c: &Checker, files: &[TrackFile]) -> CheckerPlan {
        let mut delay_loop = dur(c.delay_loop, Duration::from_secs(60));
        let file = match &c.kind {
            CheckerKind::FileCheck(f) => {
                let name = f.track_file.clone().unwrap_or_default();
                let tf = files.iter().find(|t| t.name == name);
                // The checker's own weight, else the track_file's (keepalived).
                let (weight, reverse) = match (f.weight, tf) {
                    (Some(w), _) if w != 0 => (w, f.reverse),
                    (_, Some(t)) => (t.weight, t.weight_reverse),
                    _ => (0, false),
                };
                // keepalived follows the file with inotify; keepup reads it each second.
                delay_loop = FILE_POLL;
                Some(FileSource {
                    path: tf.and_then(|t| t.file.clone()),
                    name,
                    weight,
                    reverse,
                })
            }
            _ => None,
        };
        let connect = dur(c.connect_timeout, Duration::from_secs(5));
        // The probe's own wait, and the second it is given to report its end.
        let grace = Duration::from_secs(1);
        let mut wait = connect;
        let (timeout, from_start, dynamic) = match &c.kind {
            // keepalived's misc_timeout defaults to the delay_loop.
            CheckerKind::MiscCheck(m) => {
                wait = m
                    .misc_timeout
                    .map_or(delay_loop, |s| Duration::from_secs(u64::from(s)));
                (wait + grace, true, m.misc_dynamic)
            }
            // Every url is a request of its own, each given connect_timeout.
            CheckerKind::HttpGet(h) | CheckerKind::SslGet(h) => {
                (connect * (h.url.len().max(1) as u32), false, false)
            }
            // The greeting, HELO and QUIT, each given connect_timeout.
            CheckerKind::SmtpCheck(_) => (connect * 3, false, false),
            // The probe waits connect_timeout for an answer and judges the silence
            // itself (a pass without require_reply): a second more to say so.
            // PING_CHECK waits connect_timeout for its echo reply, and says so too.
            CheckerKind::UdpCheck(_) | CheckerKind::DnsCheck(_) | CheckerKind::PingCheck => {
                (connect + grace, false, false)
            }
            _ => (connect, false, false),
        };
        let is_file = file.is_some();
        CheckerPlan {
            timing: Timing {
                delay_loop,
                // A file's value counts at once: no retry, no warmup.
                retry: if is_file { 0 } else { c.retry.unwrap_or(1) },
                delay_before_retry: dur(c.delay_before_retry, Duration::from_secs(1)),
                warmup: if is_file {
                    Duration::ZERO
                } else {
                    dur(c.warmup, delay_loop)
                },
                timeout,
                from_start,
            },
            alpha: c.alpha.unwrap_or(false),
            log_all_failures: c.log_all_failures.unwrap_or(false),
            dynamic: dynamic || file.as_ref().is_some_and(|f| f.weight != 0),
            file,
            wait,
            checker: c.clone(),
        }
    }
}

/// `3 s`, `0.5 s`: a duration in log lines and reasons.
pub(crate) fn secs(d: Duration) -> String {
    format!("{} s", d.as_secs_f64())
}

impl Plan {
    /// What cannot run as written, one line each (`[10.0.0.2]:tcp:53 DNS_CHECK: ...`):
    /// a probe setting keepup refuses, or a checker kind keepup does not run yet.
    /// Those checkers still run and fail with the same reason, so their real servers
    /// are never counted healthy by mistake.
    pub fn problems(&self) -> Vec<String> {
        let mut out = Vec::new();
        for v in &self.virtual_servers {
            for r in &v.real_servers {
                for c in &r.checkers {
                    if let Err(e) = crate::probe::validate(c) {
                        out.push(format!("{} {}: {e}", r.name, c.kind()));
                    }
                }
            }
        }
        out
    }
}
