//! The probes: one async run of one checker against its real server, ending in a
//! [`Verdict`]. The scheduler bounds every run by its timeout and drops (cancels) a
//! run that overstays, which closes its socket or kills its script's process group;
//! a probe only bounds what it must answer itself within that time (UDP: "no reply
//! within connect_timeout" is a pass without `require_reply`).
//!
//! Every socket honours the checker's `connect_ip`, `connect_port`, `bindto`,
//! `bind_port`, `bind_if` (SO_BINDTODEVICE) and `fwmark` (SO_MARK), IPv4 or IPv6.
use keepup_config::model::lvs::{Checker, CheckerKind};
use socket2::{Domain, Protocol, Socket, Type};
use std::io;
use std::net::{IpAddr, SocketAddr};

use crate::plan::CheckerPlan;
use crate::sched::{FailKind, Verdict};

mod datagram;
mod file;
mod misc;
mod ping;
mod stream;
pub mod tls;

/// Run one check. `id` varies per run (a DNS query ID).
pub async fn run(plan: &CheckerPlan, id: u16) -> Verdict {
    let c = &plan.checker;
    let wait = plan.wait;
    match &c.kind {
        CheckerKind::TcpCheck => stream::tcp(c).await,
        CheckerKind::HttpGet(h) => stream::http(c, h, false).await,
        CheckerKind::SslGet(h) => stream::http(c, h, true).await,
        CheckerKind::SmtpCheck(s) => stream::smtp(c, s).await,
        CheckerKind::DnsCheck(d) => datagram::dns(c, d, id, wait).await,
        CheckerKind::UdpCheck(u) => datagram::udp(c, u, wait).await,
        CheckerKind::MiscCheck(m) => misc::run(m, wait).await,
        CheckerKind::PingCheck => ping::run(c, id, wait).await,
        CheckerKind::FileCheck(_) => match &plan.file {
            Some(f) => file::run(f).await,
            None => Verdict::fail(FailKind::Setup, "FILE_CHECK has no track_file"),
        },
        CheckerKind::BfdCheck(_) => Verdict::fail(
            FailKind::Setup,
            "BFD_CHECK is not implemented in keepup yet",
        ),
    }
}

/// Whether a checker can run as configured: its settings build (a DNS name, a UDP
/// reply pattern, an HTTP regex, a track_file that exists) and keepup runs its kind.
pub fn validate(plan: &CheckerPlan) -> Result<(), String> {
    let c = &plan.checker;
    match &c.kind {
        CheckerKind::DnsCheck(d) => crate::proto::dns::DnsQuery::from_config(d)
            .map(|_| ())
            .map_err(|e| e.to_string()),
        CheckerKind::UdpCheck(u) => crate::proto::udp::ReplyRule::from_config(u)
            .map(|_| ())
            .map_err(|e| e.to_string()),
        CheckerKind::HttpGet(h) | CheckerKind::SslGet(h) => {
            crate::proto::http::UrlCheck::all(h, None)
                .map_err(|e| e.to_string())
                .and_then(|u| {
                    if u.is_empty() {
                        Err("no url with a path: every run fails".to_string())
                    } else {
                        Ok(())
                    }
                })?;
            if let CheckerKind::SslGet(h) = &c.kind {
                tls::TlsClient::new(h.ssl.as_ref()).map_err(|e| e.to_string())?;
            }
            Ok(())
        }
        CheckerKind::FileCheck(_) => match &plan.file {
            Some(f) if f.path.is_some() => Ok(()),
            Some(f) => Err(format!(
                "no track_file {} with a file: every run fails",
                f.name
            )),
            None => Err("no track_file: every run fails".into()),
        },
        CheckerKind::BfdCheck(_) => {
            Err("BFD_CHECK is not implemented in keepup yet; it fails every run".into())
        }
        _ => Ok(()),
    }
}

/// A failure as the probes' helpers return it: its kind, decided where it happened,
/// and its reason.
type Failure = (FailKind, String);

/// Where a checker connects, and from where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub to: SocketAddr,
    pub from: Option<SocketAddr>,
    pub bind_if: Option<String>,
    pub fwmark: Option<u32>,
}

impl Target {
    /// `default_port` when neither `connect_port` nor the real server gives one.
    pub fn of(c: &Checker, default_port: Option<u16>) -> Result<Target, String> {
        let ip = c
            .connect_ip
            .ok_or("no address to connect to (connect_ip)")?;
        let port = c
            .connect_port
            .filter(|&p| p != 0)
            .or(default_port)
            .ok_or("no port to connect to (connect_port, or the real server's port)")?;
        let from = match (c.bindto, c.bind_port) {
            (Some(ip), port) => Some(SocketAddr::new(ip, port.unwrap_or(0))),
            (None, Some(port)) => Some(SocketAddr::new(unspecified(&ip), port)),
            (None, None) => None,
        };
        Ok(Target {
            to: SocketAddr::new(ip, port),
            from,
            bind_if: c.bind_if.clone(),
            fwmark: c.fwmark,
        })
    }

    /// A non-blocking socket with the source, device and mark set.
    fn socket(&self, ty: Type, proto: Protocol) -> io::Result<Socket> {
        let s = Socket::new(Domain::for_address(self.to), ty, Some(proto))?;
        s.set_nonblocking(true)?;
        s.set_cloexec(true)?;
        if let Some(dev) = &self.bind_if {
            s.bind_device(Some(dev.as_bytes()))?;
        }
        if let Some(mark) = self.fwmark {
            s.set_mark(mark)?;
        }
        if let Some(from) = self.from {
            s.bind(&from.into())?;
        }
        Ok(s)
    }
}

fn unspecified(like: &IpAddr) -> IpAddr {
    match like {
        IpAddr::V4(_) => IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED),
        IpAddr::V6(_) => IpAddr::V6(std::net::Ipv6Addr::UNSPECIFIED),
    }
}

/// The kind of a failed send or receive on a datagram socket: the kernel saying the
/// server cannot be reached (no route, or an ICMP error it had for the socket) is
/// [`FailKind::Connect`]; anything else [`FailKind::Network`].
fn datagram_error(e: &io::Error) -> FailKind {
    match e.raw_os_error() {
        Some(errno::ECONNREFUSED | errno::ENETUNREACH | errno::EHOSTUNREACH) => FailKind::Connect,
        _ => FailKind::Network,
    }
}

/// The errno values the kernel gives a socket for ICMP errors and missing routes
/// (Linux; `io::ErrorKind` names two of them only from Rust 1.83).
mod errno {
    pub const ENETUNREACH: i32 = 101;
    pub const ECONNREFUSED: i32 = 111;
    pub const EHOSTUNREACH: i32 = 113;
}

/// An I/O error in plain words: `connection refused`, `no route to host`.
fn plain(e: &io::Error) -> String {
    match e.kind() {
        io::ErrorKind::ConnectionRefused => "connection refused".into(),
        io::ErrorKind::ConnectionReset => "connection reset".into(),
        io::ErrorKind::TimedOut => "timed out".into(),
        _ => {
            let s = e.to_string();
            // "No route to host (os error 113)" -> "no route to host"
            let s = s.split(" (os error").next().unwrap_or(&s).to_string();
            let mut c = s.chars();
            c.next()
                .map(|f| f.to_lowercase().chain(c).collect())
                .unwrap_or(s)
        }
    }
}

#[cfg(test)]
mod tests;
