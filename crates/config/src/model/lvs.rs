//! `virtual_server_group`, `virtual_server`, `real_server` and the health checkers.
//!
//! Field names are keepalived's keyword names. Settings that a real server inherits
//! from its virtual server, and a checker from its real server, are `Option`s as
//! written; validation fills the unset ones with the inherited value or keepalived's
//! default, so after loading they hold what keepalived would use.
use crate::model::{Script, Secs};
use crate::source::Span;
use serde::Serialize;
use std::net::IpAddr;

/// `virtual_server_group NAME { ... }`.
#[derive(Debug, Clone, Default, Serialize)]
pub struct VirtualServerGroup {
    pub name: String,
    pub entries: Vec<VsgEntry>,
    #[serde(skip)]
    pub span: Span,
}

/// One line of a `virtual_server_group`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum VsgEntry {
    /// `IP [PORT]` or a range `IP-LAST`, `IP-IP`, `IP/LEN` (`first == last` for one address).
    Range {
        first: IpAddr,
        last: IpAddr,
        #[serde(skip_serializing_if = "Option::is_none")]
        port: Option<u16>,
    },
    /// `fwmark N [inet|inet6]`.
    Fwmark {
        fwmark: u32,
        #[serde(skip_serializing_if = "Option::is_none")]
        family: Option<IpFamily>,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum IpFamily {
    Inet,
    Inet6,
}

impl IpFamily {
    pub fn of(ip: &IpAddr) -> Self {
        match ip {
            IpAddr::V4(_) => IpFamily::Inet,
            IpAddr::V6(_) => IpFamily::Inet6,
        }
    }
}

/// What a `virtual_server` line names.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum VsAddress {
    /// `virtual_server IP [PORT]`.
    Ip {
        ip: IpAddr,
        #[serde(skip_serializing_if = "Option::is_none")]
        port: Option<u16>,
    },
    /// `virtual_server fwmark N`.
    Fwmark { fwmark: u32 },
    /// `virtual_server group NAME`.
    Group { group: String },
}

impl Default for VsAddress {
    fn default() -> Self {
        VsAddress::Fwmark { fwmark: 0 }
    }
}

impl std::fmt::Display for VsAddress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            VsAddress::Ip {
                ip: IpAddr::V6(ip),
                port,
            } => write!(f, "[{ip}]:{}", port.unwrap_or(0)),
            VsAddress::Ip { ip, port } => write!(f, "{ip}:{}", port.unwrap_or(0)),
            VsAddress::Fwmark { fwmark } => write!(f, "fwmark {fwmark}"),
            VsAddress::Group { group } => write!(f, "group {group}"),
        }
    }
}

/// `protocol TCP|UDP|SCTP`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Protocol {
    TCP,
    UDP,
    SCTP,
}

/// The LVS forwarding method of `lvs_method` / `lb_kind` / `sorry_server_lvs_method`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum LvsMethod {
    NAT,
    DR,
    TUN,
}

/// `lvs_method TUN type ipip|gue port N|gre [nocsum|csum|remcsum]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum TunnelType {
    Ipip,
    Gue,
    Gre,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum TunnelChecksum {
    Nocsum,
    Csum,
    Remcsum,
}

/// A forwarding method with its tunnel options.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Forwarding {
    pub method: LvsMethod,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tunnel_type: Option<TunnelType>,
    /// `port` of a `gue` tunnel.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tunnel_port: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tunnel_checksum: Option<TunnelChecksum>,
}

impl Forwarding {
    pub fn plain(method: LvsMethod) -> Self {
        Forwarding {
            method,
            tunnel_type: None,
            tunnel_port: None,
            tunnel_checksum: None,
        }
    }
}

/// `sorry_server IP [PORT]` with `sorry_server_inhibit` and `sorry_server_lvs_method`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SorryServer {
    pub ip: IpAddr,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub port: Option<u16>,
    pub sorry_server_inhibit: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sorry_server_lvs_method: Option<Forwarding>,
    #[serde(skip)]
    pub span: Span,
}

/// `virtual_server IP PORT | fwmark N | group NAME { ... }`.
#[derive(Debug, Clone, Default, Serialize)]
pub struct VirtualServer {
    pub address: VsAddress,
    /// `delay_loop` (default 60 s).
    pub delay_loop: Option<Secs>,
    /// `lvs_sched` / `lb_algo` (default wlc).
    pub lvs_sched: Option<String>,
    /// Scheduler flags: `flag-1`, `flag-2`, `flag-3`, `sh-port`, `sh-fallback`, `mh-port`, `mh-fallback`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub sched_flags: Vec<String>,
    /// `hashed` (obsolete scheduler flag).
    pub hashed: bool,
    /// `ops` (one-packet scheduling, UDP only).
    pub ops: bool,
    /// `lvs_method` / `lb_kind` (default NAT).
    pub lvs_method: Option<Forwarding>,
    pub persistence_engine: Option<String>,
    /// `persistence_timeout` in seconds (alone: 360).
    pub persistence_timeout: Option<u32>,
    /// `persistence_granularity`: an IPv4 netmask or an IPv6 prefix length, as written.
    pub persistence_granularity: Option<String>,
    /// `protocol` (keepalived defaults to UDP when missing on an address service).
    pub protocol: Option<Protocol>,
    pub ha_suspend: bool,
    pub smtp_alert: Option<bool>,
    pub virtualhost: Option<String>,
    pub snmp_name: Option<String>,
    pub alpha: bool,
    pub omega: bool,
    /// `quorum` (default 1).
    pub quorum: u32,
    /// `hysteresis` (default 0).
    pub hysteresis: u32,
    pub quorum_up: Option<Script>,
    pub quorum_down: Option<Script>,
    pub ip_family: Option<IpFamily>,
    pub sorry_server: Option<SorryServer>,
    /// `connect_timeout` (default 5 s).
    pub connect_timeout: Option<Secs>,
    pub retry: Option<u32>,
    pub delay_before_retry: Option<Secs>,
    pub warmup: Option<Secs>,
    pub inhibit_on_failure: bool,
    /// `weight`: the default weight of its real servers.
    pub weight: Option<u32>,
    pub real_servers: Vec<RealServer>,
    #[serde(skip)]
    pub span: Span,
}

/// `real_server IP [PORT] { ... }`.
#[derive(Debug, Clone, Serialize)]
pub struct RealServer {
    pub ip: IpAddr,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub port: Option<u16>,
    /// `weight` (default: the virtual server's `weight`, else 1).
    pub weight: Option<u32>,
    /// `lvs_method` (default: the virtual server's).
    pub lvs_method: Option<Forwarding>,
    /// Boxed: most real servers have none, and a configuration may hold tens of
    /// thousands of real servers.
    pub notify_up: Option<Box<Script>>,
    pub notify_down: Option<Box<Script>>,
    pub uthreshold: Option<u32>,
    pub lthreshold: Option<u32>,
    pub smtp_alert: Option<bool>,
    pub virtualhost: Option<String>,
    pub snmp_name: Option<String>,
    pub alpha: Option<bool>,
    pub connect_timeout: Option<Secs>,
    pub retry: Option<u32>,
    pub delay_before_retry: Option<Secs>,
    pub warmup: Option<Secs>,
    pub delay_loop: Option<Secs>,
    pub inhibit_on_failure: Option<bool>,
    pub checkers: Vec<Checker>,
    #[serde(skip)]
    pub span: Span,
}

impl RealServer {
    pub fn new(ip: IpAddr, port: Option<u16>, span: Span) -> Self {
        RealServer {
            ip,
            port,
            weight: None,
            lvs_method: None,
            notify_up: None,
            notify_down: None,
            uthreshold: None,
            lthreshold: None,
            smtp_alert: None,
            virtualhost: None,
            snmp_name: None,
            alpha: None,
            connect_timeout: None,
            retry: None,
            delay_before_retry: None,
            warmup: None,
            delay_loop: None,
            inhibit_on_failure: None,
            checkers: Vec::new(),
            span,
        }
    }
}

/// One health checker block of a real server: the options every checker has, and
/// the kind with its own options.
#[derive(Debug, Clone, Serialize)]
pub struct Checker {
    #[serde(flatten)]
    pub kind: CheckerKind,
    /// `connect_ip` (default: the real server's address).
    pub connect_ip: Option<IpAddr>,
    /// `connect_port` (default: the real server's port).
    pub connect_port: Option<u16>,
    pub bindto: Option<IpAddr>,
    pub bind_port: Option<u16>,
    pub bind_if: Option<String>,
    /// `fwmark` to mark the checker's packets with.
    pub fwmark: Option<u32>,
    pub alpha: Option<bool>,
    pub connect_timeout: Option<Secs>,
    /// `retry` (`nb_get_retry` is the deprecated spelling).
    pub retry: Option<u32>,
    pub delay_before_retry: Option<Secs>,
    pub warmup: Option<Secs>,
    pub delay_loop: Option<Secs>,
    pub log_all_failures: Option<bool>,
    #[serde(skip)]
    pub span: Span,
}

impl PartialEq for Checker {
    /// Every field but the source position: the same checker moved in the file is
    /// the same checker (a reload keeps its state).
    fn eq(&self, o: &Self) -> bool {
        // Destructured, so that a new field cannot be forgotten here.
        let Checker {
            kind,
            connect_ip,
            connect_port,
            bindto,
            bind_port,
            bind_if,
            fwmark,
            alpha,
            connect_timeout,
            retry,
            delay_before_retry,
            warmup,
            delay_loop,
            log_all_failures,
            span: _,
        } = self;
        *kind == o.kind
            && *connect_ip == o.connect_ip
            && *connect_port == o.connect_port
            && *bindto == o.bindto
            && *bind_port == o.bind_port
            && *bind_if == o.bind_if
            && *fwmark == o.fwmark
            && *alpha == o.alpha
            && *connect_timeout == o.connect_timeout
            && *retry == o.retry
            && *delay_before_retry == o.delay_before_retry
            && *warmup == o.warmup
            && *delay_loop == o.delay_loop
            && *log_all_failures == o.log_all_failures
    }
}

impl Eq for Checker {}

impl PartialEq for Url {
    /// Every field but the source position.
    fn eq(&self, o: &Self) -> bool {
        let Url {
            path,
            digest,
            status_code,
            virtualhost,
            regex,
            regex_no_match,
            regex_options,
            regex_stack,
            regex_min_offset,
            regex_max_offset,
            span: _,
        } = self;
        *path == o.path
            && *digest == o.digest
            && *status_code == o.status_code
            && *virtualhost == o.virtualhost
            && *regex == o.regex
            && *regex_no_match == o.regex_no_match
            && *regex_options == o.regex_options
            && *regex_stack == o.regex_stack
            && *regex_min_offset == o.regex_min_offset
            && *regex_max_offset == o.regex_max_offset
    }
}

impl Eq for Url {}

impl Checker {
    pub fn new(kind: CheckerKind, span: Span) -> Self {
        Checker {
            kind,
            connect_ip: None,
            connect_port: None,
            bindto: None,
            bind_port: None,
            bind_if: None,
            fwmark: None,
            alpha: None,
            connect_timeout: None,
            retry: None,
            delay_before_retry: None,
            warmup: None,
            delay_loop: None,
            log_all_failures: None,
            span,
        }
    }
}

/// The checker kinds, by their keepalived block names.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "checker")]
pub enum CheckerKind {
    #[serde(rename = "HTTP_GET")]
    HttpGet(HttpCheck),
    #[serde(rename = "SSL_GET")]
    SslGet(HttpCheck),
    #[serde(rename = "TCP_CHECK")]
    TcpCheck,
    #[serde(rename = "SMTP_CHECK")]
    SmtpCheck(SmtpCheck),
    #[serde(rename = "DNS_CHECK")]
    DnsCheck(DnsCheck),
    #[serde(rename = "MISC_CHECK")]
    MiscCheck(MiscCheck),
    #[serde(rename = "UDP_CHECK")]
    UdpCheck(UdpCheck),
    #[serde(rename = "PING_CHECK")]
    PingCheck,
    #[serde(rename = "FILE_CHECK")]
    FileCheck(FileCheck),
    #[serde(rename = "BFD_CHECK")]
    BfdCheck(BfdCheck),
}

impl CheckerKind {
    pub fn name(&self) -> &'static str {
        match self {
            CheckerKind::HttpGet(_) => "HTTP_GET",
            CheckerKind::SslGet(_) => "SSL_GET",
            CheckerKind::TcpCheck => "TCP_CHECK",
            CheckerKind::SmtpCheck(_) => "SMTP_CHECK",
            CheckerKind::DnsCheck(_) => "DNS_CHECK",
            CheckerKind::MiscCheck(_) => "MISC_CHECK",
            CheckerKind::UdpCheck(_) => "UDP_CHECK",
            CheckerKind::PingCheck => "PING_CHECK",
            CheckerKind::FileCheck(_) => "FILE_CHECK",
            CheckerKind::BfdCheck(_) => "BFD_CHECK",
        }
    }
}

/// `HTTP_GET` / `SSL_GET`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct HttpCheck {
    /// `http_protocol` 1.0, 1.0C or 1.1 (default 1.0).
    pub http_protocol: Option<String>,
    pub virtualhost: Option<String>,
    pub fast_recovery: bool,
    /// `enable_sni` (SSL_GET).
    pub enable_sni: bool,
    /// `sni_name` (SSL_GET, newer keepalived).
    pub sni_name: Option<String>,
    /// `tls_compliant` (SSL_GET, newer keepalived).
    pub tls_compliant: bool,
    pub url: Vec<Url>,
    /// SSL_GET only: the top-level `SSL` block, copied here by validation (keepalived
    /// has one SSL context for all SSL_GET checkers), so a checker carries all it runs
    /// with and a changed `SSL` block restarts the checkers that use it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ssl: Option<Ssl>,
}

/// `url { ... }`.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Url {
    pub path: Option<String>,
    /// `digest`: 32 hex digits (MD5), lower-cased.
    pub digest: Option<String>,
    /// `status_code` ranges (inclusive); empty means 200-299.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub status_code: Vec<(u16, u16)>,
    pub virtualhost: Option<String>,
    pub regex: Option<String>,
    pub regex_no_match: bool,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub regex_options: Vec<String>,
    /// `regex_stack START MAX`.
    pub regex_stack: Option<(u64, u64)>,
    pub regex_min_offset: Option<u64>,
    pub regex_max_offset: Option<u64>,
    #[serde(skip)]
    pub span: Span,
}

/// `SMTP_CHECK`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SmtpCheck {
    /// `helo_name` (default smtpchecker.keepalived.org).
    pub helo_name: Option<String>,
    /// Deprecated `host { ... }` blocks: each an extra checker with its own connection options.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub host: Vec<Checker>,
}

/// `DNS_CHECK`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct DnsCheck {
    /// `type` (default SOA).
    #[serde(rename = "type")]
    pub qtype: Option<String>,
    /// `name` (default ".").
    pub name: Option<String>,
}

/// `MISC_CHECK`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct MiscCheck {
    pub misc_path: Option<Script>,
    /// `misc_timeout` in seconds (default: delay_loop).
    pub misc_timeout: Option<u32>,
    pub misc_dynamic: bool,
    /// `user USERNAME [GROUPNAME]` (kept in a `Script` with an empty command).
    pub user: Option<Script>,
}

/// `UDP_CHECK`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct UdpCheck {
    /// `payload` as bytes.
    pub payload: Option<Vec<u8>>,
    /// `require_reply [HEX]`: `Some` when set; the pattern in hex with `x` for an ignored nibble.
    pub require_reply: Option<String>,
    pub min_reply_length: Option<u32>,
    pub max_reply_length: Option<u32>,
}

/// `FILE_CHECK`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct FileCheck {
    pub track_file: Option<String>,
    pub dynamic: bool,
    pub weight: Option<i32>,
    pub reverse: bool,
}

/// `BFD_CHECK`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct BfdCheck {
    pub name: Option<String>,
    pub weight: Option<i32>,
    pub reverse: bool,
}

/// The top-level `SSL { ... }` block: the client side of SSL_GET's TLS. keepalived
/// calls the values cafile, certfile and keyfile in its messages.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Ssl {
    /// `password`: decrypts `key` when it is encrypted.
    #[serde(skip_serializing_if = "Option::is_none", serialize_with = "hidden")]
    pub password: Option<String>,
    /// `ca`: a PEM file of CA certificates.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ca: Option<String>,
    /// `certificate`: a PEM file with the client certificate (and its chain).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub certificate: Option<String>,
    /// `key`: a PEM file with the client certificate's private key.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
}

/// A secret in a dump: that it is set, never its value.
fn hidden<S: serde::Serializer>(v: &Option<String>, s: S) -> Result<S::Ok, S::Error> {
    match v {
        Some(_) => s.serialize_str("********"),
        None => s.serialize_none(),
    }
}
