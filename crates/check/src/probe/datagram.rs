//! UDP_CHECK and DNS_CHECK: a datagram out, an answer (or an ICMP error, or
//! silence) back.
use std::io;
use std::time::Duration;

use keepup_config::model::lvs::{Checker, DnsCheck, UdpCheck};
use tokio::net::UdpSocket;

use super::{datagram_error, errno, plain, Target};
use crate::plan::secs;
use crate::proto::dns::{judge, DnsFailure, DnsQuery};
use crate::proto::udp::{IcmpError, IcmpVersion, ReplyRule, UdpFailure, UdpOutcome};
use crate::sched::{FailKind, Verdict};

/// The largest datagram read (a DNS answer over UDP without EDNS fits in 512).
const MAX_DATAGRAM: usize = 65_536;

/// The receive buffer of a check's socket. Datagrams that are not the answer (wrong
/// ID, too short, a query) are dropped and the wait goes on, so a spoofer's burst may
/// queue before the answer: the default (208 KiB) holds about 250 small datagrams,
/// and behind a burst of 500 (`ipvs/hostile/dns-spoof-flood` in the VM) one answer in
/// about 30 was lost, the check passing only on its retry. 1 MiB (doubled by the
/// kernel) holds about 2500.
pub(super) const RECV_BUFFER: usize = 1 << 20;

/// A socket connected to the target. One this host will not open or bind is the
/// checker's setup ([`FailKind::Setup`]); a connect refused (no route) says the
/// server cannot be reached.
async fn socket(t: &Target) -> Result<UdpSocket, (FailKind, io::Error)> {
    let setup = |e| (FailKind::Setup, e);
    let s = t
        .socket(socket2::Type::DGRAM, socket2::Protocol::UDP)
        .map_err(setup)?;
    keepup_sys::raise_recv_buffer(&s, RECV_BUFFER);
    let std: std::net::UdpSocket = s.into();
    let s = UdpSocket::from_std(std).map_err(setup)?;
    // Connected: the kernel reports the server's ICMP errors on this socket.
    s.connect(t.to).await.map_err(|e| (datagram_error(&e), e))?;
    Ok(s)
}

/// An error a connected UDP socket reports for an ICMP destination unreachable.
fn icmp_of(e: &io::Error, t: &Target) -> Option<IcmpError> {
    let v4 = t.to.is_ipv4();
    let (version, ty) = if v4 {
        (IcmpVersion::V4, crate::proto::udp::ICMP_DEST_UNREACH)
    } else {
        (IcmpVersion::V6, crate::proto::udp::ICMPV6_DEST_UNREACH)
    };
    // ICMP codes (v4 / v6) for the errno the kernel maps them to.
    let code = match e.raw_os_error()? {
        errno::ECONNREFUSED => {
            return Some(IcmpError::port_unreachable(t.to.ip()));
        }
        errno::ENETUNREACH => 0,
        errno::EHOSTUNREACH => {
            if v4 {
                1
            } else {
                3
            }
        }
        _ => return None,
    };
    Some(IcmpError {
        version,
        icmp_type: ty,
        code,
        from: Some(t.to.ip()),
    })
}

/// UDP_CHECK.
pub async fn udp(c: &Checker, u: &UdpCheck, wait: Duration) -> Verdict {
    let rule = match ReplyRule::from_config(u) {
        Ok(r) => r,
        Err(e) => return Verdict::fail(FailKind::Setup, e.to_string()),
    };
    let t = match Target::of(c, None) {
        Ok(t) => t,
        Err(e) => return Verdict::fail(FailKind::Setup, e),
    };
    let s = match socket(&t).await {
        Ok(s) => s,
        // As `judge` words a socket error, with the kind of where it came.
        Err((kind, e)) => return Verdict::fail(kind, UdpFailure::Socket(plain(&e)).to_string()),
    };
    let outcome = exchange(&s, &t, rule.payload(), wait).await;
    match rule.judge(&outcome) {
        Ok(()) => Verdict::PASS,
        Err(f) => Verdict::fail(udp_kind(&f), f.to_string()),
    }
}

/// The kind of a UDP_CHECK failure.
fn udp_kind(f: &UdpFailure) -> FailKind {
    match f {
        UdpFailure::TooShort { .. } | UdpFailure::TooLong { .. } | UdpFailure::Differs { .. } => {
            FailKind::Answer
        }
        UdpFailure::Unreachable(_) | UdpFailure::IcmpInsteadOfReply(_) => FailKind::Connect,
        UdpFailure::NoReply { .. } => FailKind::Timeout,
        // A send or receive the kernel refused for another reason than an ICMP error.
        UdpFailure::Socket(_) => FailKind::Network,
    }
}

async fn exchange(s: &UdpSocket, t: &Target, payload: &[u8], wait: Duration) -> UdpOutcome {
    if let Err(e) = s.send(payload).await {
        return match icmp_of(&e, t) {
            Some(i) => UdpOutcome::IcmpError(i),
            None => UdpOutcome::SocketError(plain(&e)),
        };
    }
    let mut buf = vec![0u8; MAX_DATAGRAM];
    match tokio::time::timeout(wait, s.recv(&mut buf)).await {
        Err(_) => UdpOutcome::Timeout(wait),
        Ok(Ok(n)) => UdpOutcome::Reply(buf[..n].to_vec()),
        Ok(Err(e)) => match icmp_of(&e, t) {
            Some(i) => UdpOutcome::IcmpError(i),
            None => UdpOutcome::SocketError(plain(&e)),
        },
    }
}

/// DNS_CHECK: answers that are not ours (wrong ID, too short, a query) are dropped
/// and the wait goes on, as keepalived does; a wrong RCODE fails at once.
pub async fn dns(c: &Checker, d: &DnsCheck, id: u16, wait: Duration) -> Verdict {
    let query = match DnsQuery::from_config(d) {
        Ok(q) => q,
        Err(e) => return Verdict::fail(FailKind::Setup, e.to_string()),
    };
    let t = match Target::of(c, Some(53)) {
        Ok(t) => t,
        Err(e) => return Verdict::fail(FailKind::Setup, e),
    };
    let s = match socket(&t).await {
        Ok(s) => s,
        Err((kind, e)) => {
            return Verdict::fail(kind, format!("DNS socket to {}: {}", t.to, plain(&e)))
        }
    };
    if let Err(e) = s.send(&query.encode(id)).await {
        let reason = format!("DNS query to {}: {}", t.to, plain(&e));
        return Verdict::fail(datagram_error(&e), reason);
    }
    let mut buf = vec![0u8; MAX_DATAGRAM];
    let deadline = tokio::time::Instant::now() + wait;
    let mut last = None;
    loop {
        let n = match tokio::time::timeout_at(deadline, s.recv(&mut buf)).await {
            Err(_) => {
                let why = last.map_or(String::new(), |f: DnsFailure| format!(" (last: {f})"));
                return Verdict::fail(
                    FailKind::Timeout,
                    format!("no DNS answer from {} within {}{why}", t.to, secs(wait)),
                );
            }
            Ok(Ok(n)) => n,
            Ok(Err(e)) => {
                return match icmp_of(&e, &t) {
                    Some(i) => Verdict::fail(FailKind::Connect, i.to_string()),
                    None => {
                        let reason = format!("DNS answer from {}: {}", t.to, plain(&e));
                        Verdict::fail(FailKind::Network, reason)
                    }
                }
            }
        };
        match judge(&query, id, &buf[..n]) {
            Ok(()) => return Verdict::PASS,
            // Kept as it is, worded only if the wait ends: a flood of them costs no
            // formatting.
            Err(f) if f.keeps_waiting() => last = Some(f),
            // An RCODE: the server answered, with an error.
            Err(f) => return Verdict::fail(FailKind::Answer, f.to_string()),
        }
    }
}
