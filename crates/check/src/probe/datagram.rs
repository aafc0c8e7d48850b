//! UDP_CHECK and DNS_CHECK: a datagram out, an answer (or an ICMP error, or
//! silence) back.
use std::io;
use std::time::Duration;

use keepup_config::model::lvs::{Checker, DnsCheck, UdpCheck};
use tokio::net::UdpSocket;

use super::{plain, Target};
use crate::plan::secs;
use crate::proto::dns::{judge, DnsQuery};
use crate::proto::udp::{IcmpError, IcmpVersion, ReplyRule, UdpOutcome};
use crate::sched::Verdict;

/// The largest datagram read (a DNS answer over UDP without EDNS fits in 512).
const MAX_DATAGRAM: usize = 65_536;

async fn socket(t: &Target) -> io::Result<UdpSocket> {
    let s = t.socket(socket2::Type::DGRAM, socket2::Protocol::UDP)?;
    let std: std::net::UdpSocket = s.into();
    let s = UdpSocket::from_std(std)?;
    // Connected: the kernel reports the server's ICMP errors on this socket.
    s.connect(t.to).await?;
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
        libc_errno::ECONNREFUSED => {
            return Some(IcmpError::port_unreachable(t.to.ip()));
        }
        libc_errno::ENETUNREACH => 0,
        libc_errno::EHOSTUNREACH => {
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

/// The errno values a connected UDP socket reports for ICMP errors (Linux).
mod libc_errno {
    pub const ENETUNREACH: i32 = 101;
    pub const ECONNREFUSED: i32 = 111;
    pub const EHOSTUNREACH: i32 = 113;
}

/// UDP_CHECK.
pub async fn udp(c: &Checker, u: &UdpCheck, wait: Duration) -> Verdict {
    let rule = match ReplyRule::from_config(u) {
        Ok(r) => r,
        Err(e) => return Verdict::fail(e.to_string()),
    };
    let t = match Target::of(c, None) {
        Ok(t) => t,
        Err(e) => return Verdict::fail(e),
    };
    let outcome = exchange(&t, rule.payload(), wait).await;
    match rule.judge(&outcome) {
        Ok(()) => Verdict::PASS,
        Err(f) => Verdict::fail(f.to_string()),
    }
}

async fn exchange(t: &Target, payload: &[u8], wait: Duration) -> UdpOutcome {
    let s = match socket(t).await {
        Ok(s) => s,
        Err(e) => return UdpOutcome::SocketError(plain(&e)),
    };
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
        Err(e) => return Verdict::fail(e.to_string()),
    };
    let t = match Target::of(c, Some(53)) {
        Ok(t) => t,
        Err(e) => return Verdict::fail(e),
    };
    let s = match socket(&t).await {
        Ok(s) => s,
        Err(e) => return Verdict::fail(format!("DNS socket to {}: {}", t.to, plain(&e))),
    };
    if let Err(e) = s.send(&query.encode(id)).await {
        return Verdict::fail(format!("DNS query to {}: {}", t.to, plain(&e)));
    }
    let mut buf = vec![0u8; MAX_DATAGRAM];
    let deadline = tokio::time::Instant::now() + wait;
    let mut last = None;
    loop {
        let n = match tokio::time::timeout_at(deadline, s.recv(&mut buf)).await {
            Err(_) => {
                let why = last.map_or(String::new(), |f: String| format!(" (last: {f})"));
                return Verdict::fail(format!(
                    "no DNS answer from {} within {}{why}",
                    t.to,
                    secs(wait)
                ));
            }
            Ok(Ok(n)) => n,
            Ok(Err(e)) => {
                return Verdict::fail(match icmp_of(&e, &t) {
                    Some(i) => i.to_string(),
                    None => format!("DNS answer from {}: {}", t.to, plain(&e)),
                })
            }
        };
        match judge(&query, id, &buf[..n]) {
            Ok(()) => return Verdict::PASS,
            Err(f) if f.keeps_waiting() => last = Some(f.to_string()),
            Err(f) => return Verdict::fail(f.to_string()),
        }
    }
}
