//! PING_CHECK: one ICMP (ICMPv6 for an IPv6 server) echo request to the real server
//! (or `connect_ip`), passed by its echo reply within `connect_timeout`.
//!
//! keepalived 2.2.7 (`keepalived/check/check_ping.c`):
//!
//! - One `SOCK_DGRAM` socket of protocol `IPPROTO_ICMP` / `IPPROTO_ICMPV6` (a "ping
//!   socket") per run. The kernel sets the echo identifier (the socket's local port),
//!   computes the checksum and delivers to the socket only echo replies carrying that
//!   identifier. Opening one needs the caller's group inside
//!   `net.ipv4.ping_group_range`, root included (the kernel default `1 0` admits no
//!   group), so keepalived widens that sysctl to `0 <max>` when it reads a PING_CHECK.
//! - The request: type 8 (ICMPv6 128), code 0, a sequence number from a counter shared
//!   by all checkers (stored in host byte order, so it counts in the high octet on
//!   the wire of a little-endian host), and 128 bytes of `keepalived check - `
//!   repeated (`set_buf`).
//!   It is sent with `sendto` from an unbound socket: `bindto`, `bind_if` and
//!   `fwmark` are not applied.
//! - The first datagram read decides: shorter than the 8-byte header, or of a type
//!   other than echo reply, fails; the sequence and the payload are not compared.
//! - ICMP errors are not asked for (no `IP_RECVERR`), so an unreachable host is seen
//!   only as silence until `connect_timeout`.
//!
//! keepup sends the same request (the run's id as the sequence) and differs where it
//! helps an operator and cannot pass a dead server:
//!
//! - `bindto`, `bind_if` and `fwmark` apply, as for every other probe.
//! - An echo reply with another sequence, or from another address, is not ours: it
//!   is ignored and the wait goes on.
//! - With `IP_RECVERR`, an ICMP error about the request (host unreachable, time
//!   exceeded, ...) fails the run at once and names its sender.
//! - keepup does not write `ping_group_range`. When the kernel refuses a ping socket
//!   it opens a raw ICMP socket instead (keepup runs as root), chooses the identifier
//!   itself and matches identifier, sequence and source on every packet it sees, and
//!   reads ICMP errors from the packets that quote its request.
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::os::fd::{AsRawFd, RawFd};
use std::time::Duration;

use keepup_config::model::lvs::Checker;
use socket2::{Protocol, Socket, Type};
use tokio::io::Interest;
use tokio::net::UdpSocket;

use super::{datagram_error, plain, Failure, Target};
use crate::plan::secs;
use crate::proto::udp::{IcmpError, IcmpVersion};
use crate::sched::{FailKind, Verdict};

/// The ICMP and ICMPv6 echo header: type, code, checksum, identifier, sequence.
pub const ECHO_HEADER_LEN: usize = 8;
/// keepalived's `ICMP_BUFSIZE`: the payload after the header.
pub const PAYLOAD_LEN: usize = 128;
/// The text keepalived repeats through the payload (`set_buf`).
const FILLER: &[u8] = b"keepalived check - ";

/// ICMP echo request and reply (RFC 792).
pub const ICMP_ECHO_REQUEST: u8 = 8;
pub const ICMP_ECHO_REPLY: u8 = 0;
/// ICMPv6 echo request and reply (RFC 4443 §4).
pub const ICMPV6_ECHO_REQUEST: u8 = 128;
pub const ICMPV6_ECHO_REPLY: u8 = 129;

/// The largest packet read: an echo reply of ours is 136 bytes (plus an IPv4 header
/// on a raw socket); an ICMP error quotes at most what fits in 1280.
const MAX_PACKET: usize = 2048;

// ---------------------------------------------------------------------------------
// The pure part: the request, and what a packet read back means.
// ---------------------------------------------------------------------------------

/// The Internet checksum (RFC 1071): the ones' complement of the ones' complement
/// sum of the 16-bit words, an odd last octet padded with zero.
pub fn checksum(data: &[u8]) -> u16 {
    let mut sum: u32 = 0;
    let mut words = data.chunks_exact(2);
    for w in &mut words {
        sum += u32::from(u16::from_be_bytes([w[0], w[1]]));
    }
    if let [last] = words.remainder() {
        sum += u32::from(u16::from_be_bytes([*last, 0]));
    }
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    // The loop leaves at most 16 bits.
    !(u16::try_from(sum).unwrap_or(u16::MAX))
}

/// The echo request keepup sends: header then keepalived's 128-byte payload.
///
/// The ICMP checksum is filled in. An ICMPv6 checksum covers a pseudo-header with
/// the source address the kernel picks, and the kernel always computes it for ICMPv6
/// sockets (RFC 3542 §3.1), so it is left zero. A ping socket overwrites the
/// identifier with its own (and recomputes the ICMP checksum).
pub fn echo_request(version: IcmpVersion, id: u16, seq: u16) -> Vec<u8> {
    let ty = match version {
        IcmpVersion::V4 => ICMP_ECHO_REQUEST,
        IcmpVersion::V6 => ICMPV6_ECHO_REQUEST,
    };
    let mut p = Vec::with_capacity(ECHO_HEADER_LEN + PAYLOAD_LEN);
    p.extend_from_slice(&[ty, 0, 0, 0]);
    p.extend_from_slice(&id.to_be_bytes());
    p.extend_from_slice(&seq.to_be_bytes());
    p.extend(FILLER.iter().cycle().take(PAYLOAD_LEN));
    if version == IcmpVersion::V4 {
        let c = checksum(&p);
        p[2..4].copy_from_slice(&c.to_be_bytes());
    }
    p
}

/// What the reply must carry to be ours.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Expect {
    pub version: IcmpVersion,
    /// The real server pinged.
    pub to: IpAddr,
    /// The identifier, when keepup chose it (a raw socket). A ping socket's kernel
    /// delivers only its own identifier's replies, and hides it from the sender.
    pub id: Option<u16>,
    pub seq: u16,
}

/// What one packet read from the socket is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Received {
    /// Our echo reply, from the real server.
    Reply,
    /// An ICMP error quoting our request (raw sockets see these as packets).
    Error(IcmpError),
    /// Not an answer to this request: another host's traffic on a raw socket, a late
    /// reply to an earlier run, our own request looped back. The wait goes on; `why`
    /// says what it was when it could have been ours, for the reason if none comes.
    Ignored { why: Option<String> },
}

impl Received {
    fn ignored() -> Received {
        Received::Ignored { why: None }
    }
    fn because(why: String) -> Received {
        Received::Ignored { why: Some(why) }
    }
}

/// Judge one packet `from` an address. `packet` starts at the ICMP header, except
/// from a raw IPv4 socket (`ip_header`), which reads the IPv4 header first.
pub fn classify(e: &Expect, from: IpAddr, packet: &[u8], ip_header: bool) -> Received {
    let icmp = if ip_header {
        match ipv4_payload(packet) {
            Some(p) => p,
            None => return Received::ignored(),
        }
    } else {
        packet
    };
    if icmp.len() < ECHO_HEADER_LEN {
        return Received::because(format!(
            "a short ICMP packet of {} bytes from {from}",
            icmp.len()
        ));
    }
    let (ty, code) = (icmp[0], icmp[1]);
    let id = u16::from_be_bytes([icmp[4], icmp[5]]);
    let seq = u16::from_be_bytes([icmp[6], icmp[7]]);
    let reply = match e.version {
        IcmpVersion::V4 => ICMP_ECHO_REPLY,
        IcmpVersion::V6 => ICMPV6_ECHO_REPLY,
    };
    if ty == reply {
        if e.id.is_some_and(|want| want != id) {
            return Received::ignored();
        }
        if seq != e.seq {
            return Received::because(format!(
                "an echo reply from {from} with sequence {seq}, expected {}",
                e.seq
            ));
        }
        if from != e.to {
            return Received::because(format!("an echo reply from {from}"));
        }
        return Received::Reply;
    }
    if !is_error_type(e.version, ty) || !quotes_request(e, &icmp[ECHO_HEADER_LEN..]) {
        return Received::ignored();
    }
    let err = IcmpError {
        version: e.version,
        icmp_type: ty,
        code,
        from: Some(from),
    };
    if fails(&err) {
        Received::Error(err)
    } else {
        Received::because(err.to_string())
    }
}

/// Whether an ICMP error about the request ends the run as a failure. Source
/// quench and redirect (ICMP), and packet too big (ICMPv6), say the request went on
/// or will be resent; every other error says it will not be answered.
pub fn fails(e: &IcmpError) -> bool {
    !matches!(
        (e.version, e.icmp_type),
        (IcmpVersion::V4, 4 | 5) | (IcmpVersion::V6, 2)
    )
}

/// ICMP error types: destination unreachable, source quench, redirect, time
/// exceeded, parameter problem; ICMPv6 1 to 4 (RFC 4443 §3).
fn is_error_type(v: IcmpVersion, ty: u8) -> bool {
    match v {
        IcmpVersion::V4 => matches!(ty, 3 | 4 | 5 | 11 | 12),
        IcmpVersion::V6 => (1..=4).contains(&ty),
    }
}

/// The payload of an IPv4 packet, after a header of `IHL` words.
fn ipv4_payload(packet: &[u8]) -> Option<&[u8]> {
    let first = *packet.first()?;
    if first >> 4 != 4 {
        return None;
    }
    let ihl = usize::from(first & 0x0f) * 4;
    if ihl < 20 {
        return None;
    }
    packet.get(ihl..)
}

/// Whether an ICMP error's quoted datagram (its IP header and at least 8 octets of
/// what followed, RFC 792 / RFC 4443) is our echo request to the real server.
fn quotes_request(e: &Expect, quoted: &[u8]) -> bool {
    let (dst, inner) = match e.version {
        IcmpVersion::V4 => {
            // Destination address at 16..20; protocol (1 = ICMP) at 9.
            let Some(dst) = quoted.get(16..20) else {
                return false;
            };
            if quoted.get(9) != Some(&1) {
                return false;
            }
            let dst: [u8; 4] = dst.try_into().unwrap_or_default();
            let Some(inner) = ipv4_payload(quoted) else {
                return false;
            };
            (IpAddr::from(dst), inner)
        }
        IcmpVersion::V6 => {
            // A fixed 40-byte header: next header (58 = ICMPv6) at 6, destination at
            // 24..40. Extension headers do not come with our requests.
            let Some(dst) = quoted.get(24..40) else {
                return false;
            };
            if quoted.get(6) != Some(&58) || quoted.first().map(|b| b >> 4) != Some(6) {
                return false;
            }
            let dst: [u8; 16] = dst.try_into().unwrap_or_default();
            (IpAddr::from(dst), quoted.get(40..).unwrap_or_default())
        }
    };
    let request = match e.version {
        IcmpVersion::V4 => ICMP_ECHO_REQUEST,
        IcmpVersion::V6 => ICMPV6_ECHO_REQUEST,
    };
    let Some(h) = inner.get(..ECHO_HEADER_LEN) else {
        return false;
    };
    let id = u16::from_be_bytes([h[4], h[5]]);
    let seq = u16::from_be_bytes([h[6], h[7]]);
    dst == e.to && h[0] == request && seq == e.seq && e.id.is_none_or(|want| want == id)
}

/// The reason of a run that saw no answer.
fn no_reply(e: &Expect, wait: Duration, last: Option<&str>) -> String {
    let proto = match e.version {
        IcmpVersion::V4 => "ICMP",
        IcmpVersion::V6 => "ICMPv6",
    };
    let why = last.map_or(String::new(), |l| format!(" (last: {l})"));
    format!(
        "no {proto} echo reply from {} within {}{why}",
        e.to,
        secs(wait)
    )
}

// ---------------------------------------------------------------------------------
// The socket side.
// ---------------------------------------------------------------------------------

/// Which socket the kernel gave.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// A ping socket: the kernel owns the identifier; errors come through the error
    /// queue (`IP_RECVERR`).
    Ping,
    /// A raw ICMP socket: every ICMP packet to the host, errors included.
    Raw,
}

/// A ping socket, or a raw one when the kernel refuses it (`ping_group_range`, or a
/// kernel without ping sockets). Its errors are the checker's setup: nothing was sent.
fn open(t: &Target, v: IcmpVersion) -> Result<(Socket, Kind), String> {
    let proto = match v {
        IcmpVersion::V4 => Protocol::ICMPV4,
        IcmpVersion::V6 => Protocol::ICMPV6,
    };
    match t.socket(Type::DGRAM, proto) {
        Ok(s) => {
            use nix::sys::socket::{setsockopt, sockopt};
            // ICMP errors about the request into the error queue (and not only the
            // "hard" ones, and not only on a connected socket).
            let set = match v {
                IcmpVersion::V4 => setsockopt(&s, sockopt::Ipv4RecvErr, &true),
                IcmpVersion::V6 => setsockopt(&s, sockopt::Ipv6RecvErr, &true),
            };
            set.map_err(|e| format!("ICMP socket to {}: {}", t.to.ip(), e.desc()))?;
            Ok((s, Kind::Ping))
        }
        Err(ping) if refused(&ping) => match t.socket(Type::RAW, proto) {
            Ok(s) => Ok((s, Kind::Raw)),
            Err(raw) => Err(format!(
                "cannot open an ICMP socket to {}: {} (ping socket: {})",
                t.to.ip(),
                plain(&raw),
                plain(&ping)
            )),
        },
        Err(e) => Err(format!(
            "cannot open an ICMP socket to {}: {}",
            t.to.ip(),
            plain(&e)
        )),
    }
}

/// The errors of a kernel that does not give this process a ping socket.
fn refused(e: &io::Error) -> bool {
    const EPERM: i32 = 1;
    const EACCES: i32 = 13;
    const EPROTONOSUPPORT: i32 = 93;
    const EAFNOSUPPORT: i32 = 97;
    matches!(
        e.raw_os_error(),
        Some(EPERM | EACCES | EPROTONOSUPPORT | EAFNOSUPPORT)
    )
}

/// An identifier for a raw socket's requests: the process's, as ping(8) chooses.
fn raw_id() -> u16 {
    (std::process::id() & 0xffff) as u16
}

/// PING_CHECK. `seq` varies per run.
pub async fn run(c: &Checker, seq: u16, wait: Duration) -> Verdict {
    // No port: the real server's, if any, is carried along and ignored.
    let t = match Target::of(c, Some(0)) {
        Ok(t) => t,
        Err(e) => return Verdict::fail(FailKind::Setup, e),
    };
    let version = match t.to {
        SocketAddr::V4(_) => IcmpVersion::V4,
        SocketAddr::V6(_) => IcmpVersion::V6,
    };
    let (sock, kind) = match open(&t, version) {
        Ok(s) => s,
        Err(e) => return Verdict::fail(FailKind::Setup, e),
    };
    let id = match kind {
        Kind::Ping => 0,
        Kind::Raw => raw_id(),
    };
    let expect = Expect {
        version,
        to: t.to.ip(),
        id: (kind == Kind::Raw).then_some(id),
        seq,
    };
    // A ping or raw socket is a datagram socket to tokio: send_to, recv_from and
    // readiness work on it as on UDP.
    let sock: std::net::UdpSocket = sock.into();
    let sock = match UdpSocket::from_std(sock) {
        Ok(s) => s,
        Err(e) => {
            let reason = format!("ICMP socket to {}: {}", t.to.ip(), plain(&e));
            return Verdict::fail(FailKind::Setup, reason);
        }
    };
    let to = SocketAddr::new(t.to.ip(), 0);
    if let Err(e) = sock.send_to(&echo_request(version, id, seq), to).await {
        let reason = format!("ICMP echo request to {}: {}", t.to.ip(), plain(&e));
        return Verdict::fail(datagram_error(&e), reason);
    }
    match wait_reply(&sock, kind, &expect, wait).await {
        Ok(()) => Verdict::PASS,
        Err((fail, reason)) => Verdict::fail(fail, reason),
    }
}

/// Read until our reply or an error about our request, for at most `wait`. What
/// was ignored last goes into the reason should the wait run out.
async fn wait_reply(
    sock: &UdpSocket,
    kind: Kind,
    e: &Expect,
    wait: Duration,
) -> Result<(), Failure> {
    let deadline = tokio::time::Instant::now() + wait;
    let mut buf = vec![0u8; MAX_PACKET];
    let mut last: Option<String> = None;
    loop {
        let ready = sock.ready(Interest::READABLE | Interest::ERROR);
        let ready = match tokio::time::timeout_at(deadline, ready).await {
            Err(_) => return Err((FailKind::Timeout, no_reply(e, wait, last.as_deref()))),
            Ok(Err(err)) => {
                let reason = format!("ICMP socket to {}: {}", e.to, plain(&err));
                return Err((FailKind::Network, reason));
            }
            Ok(Ok(r)) => r,
        };
        if ready.is_error() {
            // One error a turn; the readiness clears once the queue is empty.
            match sock.try_io(Interest::ERROR, || pending_error(sock, kind, e.version)) {
                Ok(err) if fails(&err) => return Err((FailKind::Connect, err.to_string())),
                Ok(err) => last = Some(err.to_string()),
                Err(err) if err.kind() == io::ErrorKind::WouldBlock => {}
                Err(err) => {
                    let reason = format!("ICMP echo request to {}: {}", e.to, plain(&err));
                    return Err((FailKind::Network, reason));
                }
            }
        }
        if ready.is_readable() {
            match sock.try_recv_from(&mut buf) {
                Ok((n, from)) => match classify(e, from.ip(), &buf[..n], ip_header(kind, e)) {
                    Received::Reply => return Ok(()),
                    Received::Error(err) => return Err((FailKind::Connect, err.to_string())),
                    Received::Ignored { why } => last = why.or(last),
                },
                Err(err) if err.kind() == io::ErrorKind::WouldBlock => {}
                // The socket's pending error, set by an ICMP error whose details
                // come through the error queue (a ping socket) or as the next
                // packet (a raw one).
                Err(err) => last = Some(plain(&err)),
            }
        }
    }
}

/// Whether packets read from a `kind` socket start with the IP header.
fn ip_header(kind: Kind, e: &Expect) -> bool {
    kind == Kind::Raw && e.version == IcmpVersion::V4
}

/// The next ICMP error about the request, or `WouldBlock` when none is left. A ping
/// socket queues them (`IP_RECVERR`); a raw socket reads them as packets, and only
/// its pending error is cleared here.
fn pending_error(sock: &UdpSocket, kind: Kind, v: IcmpVersion) -> io::Result<IcmpError> {
    if kind == Kind::Ping {
        if let Some(err) = error_queue(sock.as_raw_fd(), v)? {
            return Ok(err);
        }
    }
    sock.take_error()?;
    Err(io::ErrorKind::WouldBlock.into())
}

/// One ICMP error from a ping socket's error queue, if any is there.
fn error_queue(fd: RawFd, v: IcmpVersion) -> io::Result<Option<IcmpError>> {
    use nix::sys::socket::{recvmsg, ControlMessageOwned, MsgFlags, SockaddrStorage};
    const SO_EE_ORIGIN_ICMP: u8 = 2;
    const SO_EE_ORIGIN_ICMP6: u8 = 3;
    // The quoted request is not needed: the kernel matched it to this socket.
    let mut quoted = [0u8; 64];
    let mut iov = [io::IoSliceMut::new(&mut quoted)];
    let mut cmsg = vec![0u8; 256];
    let msg = match recvmsg::<SockaddrStorage>(
        fd,
        &mut iov,
        Some(&mut cmsg),
        MsgFlags::MSG_ERRQUEUE | MsgFlags::MSG_DONTWAIT,
    ) {
        Ok(m) => m,
        Err(nix::errno::Errno::EAGAIN) => return Ok(None),
        Err(e) => return Err(e.into()),
    };
    for c in msg.cmsgs()? {
        let (ee, from) = match c {
            ControlMessageOwned::Ipv4RecvErr(ee, addr) => (
                ee,
                addr.map(|a| IpAddr::from(u32::from_be(a.sin_addr.s_addr).to_be_bytes())),
            ),
            ControlMessageOwned::Ipv6RecvErr(ee, addr) => {
                (ee, addr.map(|a| IpAddr::from(a.sin6_addr.s6_addr)))
            }
            _ => continue,
        };
        let icmp = match v {
            IcmpVersion::V4 => ee.ee_origin == SO_EE_ORIGIN_ICMP,
            IcmpVersion::V6 => ee.ee_origin == SO_EE_ORIGIN_ICMP6,
        };
        if !icmp {
            // A local error (a message too long for the path): its errno says it.
            return Err(io::Error::from_raw_os_error(
                i32::try_from(ee.ee_errno).unwrap_or(0),
            ));
        }
        return Ok(Some(IcmpError {
            version: v,
            icmp_type: ee.ee_type,
            code: ee.ee_code,
            from,
        }));
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{Ipv4Addr, Ipv6Addr};

    const SERVER: IpAddr = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 2));
    const ROUTER: IpAddr = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 254));
    const SERVER6: IpAddr = IpAddr::V6(Ipv6Addr::new(0xfd00, 0, 0, 0, 0, 0, 0, 2));
    const ROUTER6: IpAddr = IpAddr::V6(Ipv6Addr::new(0xfd00, 0, 0, 0, 0, 0, 0, 0xfe));

    fn expect(id: Option<u16>) -> Expect {
        Expect {
            version: IcmpVersion::V4,
            to: SERVER,
            id,
            seq: 7,
        }
    }

    fn expect6(id: Option<u16>) -> Expect {
        Expect {
            version: IcmpVersion::V6,
            to: SERVER6,
            id,
            seq: 7,
        }
    }

    /// An echo reply to `echo_request(v, id, seq)`: the type changed, the checksum
    /// recomputed (ICMP), the rest returned as sent.
    fn reply(v: IcmpVersion, id: u16, seq: u16) -> Vec<u8> {
        let mut p = echo_request(v, id, seq);
        p[2] = 0;
        p[3] = 0;
        match v {
            IcmpVersion::V4 => {
                p[0] = ICMP_ECHO_REPLY;
                let c = checksum(&p);
                p[2..4].copy_from_slice(&c.to_be_bytes());
            }
            IcmpVersion::V6 => p[0] = ICMPV6_ECHO_REPLY,
        }
        p
    }

    /// A 20-byte IPv4 header (no options) for `proto` from `src` to `dst`, then
    /// `payload`.
    fn ipv4(src: IpAddr, dst: IpAddr, proto: u8, payload: &[u8]) -> Vec<u8> {
        let (IpAddr::V4(s), IpAddr::V4(d)) = (src, dst) else {
            panic!("IPv4 only")
        };
        let len = u16::try_from(20 + payload.len()).unwrap();
        let mut h = vec![0x45, 0, 0, 0, 0, 0, 0x40, 0, 64, proto, 0, 0];
        h[2..4].copy_from_slice(&len.to_be_bytes());
        h.extend_from_slice(&s.octets());
        h.extend_from_slice(&d.octets());
        let c = checksum(&h);
        h[10..12].copy_from_slice(&c.to_be_bytes());
        h.extend_from_slice(payload);
        h
    }

    /// A 40-byte IPv6 header (next header ICMPv6) then `payload`.
    fn ipv6(src: IpAddr, dst: IpAddr, payload: &[u8]) -> Vec<u8> {
        let (IpAddr::V6(s), IpAddr::V6(d)) = (src, dst) else {
            panic!("IPv6 only")
        };
        let mut h = vec![0x60, 0, 0, 0];
        h.extend_from_slice(&u16::try_from(payload.len()).unwrap().to_be_bytes());
        h.extend_from_slice(&[58, 64]);
        h.extend_from_slice(&s.octets());
        h.extend_from_slice(&d.octets());
        h.extend_from_slice(payload);
        h
    }

    /// An ICMP error of `ty`/`code` quoting `quoted` (an IP datagram's start).
    fn icmp_error(ty: u8, code: u8, quoted: &[u8]) -> Vec<u8> {
        let mut p = vec![ty, code, 0, 0, 0, 0, 0, 0];
        p.extend_from_slice(quoted);
        let c = checksum(&p);
        p[2..4].copy_from_slice(&c.to_be_bytes());
        p
    }

    #[test]
    fn checksum_is_rfc_1071() {
        // RFC 1071 §3's example: the sum of 0001 f203 f4f5 f6f7 is ddf2.
        assert_eq!(
            checksum(&[0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7]),
            !0xddf2
        );
        // An odd length pads with a zero octet.
        assert_eq!(checksum(&[0x01]), !0x0100);
        assert_eq!(checksum(&[]), 0xffff);
        // A packet with its checksum in place sums to zero.
        let p = echo_request(IcmpVersion::V4, 0x1234, 0xabcd);
        assert_eq!(checksum(&p), 0);
    }

    #[test]
    fn echo_request_is_keepalived_s() {
        let p = echo_request(IcmpVersion::V4, 0x1234, 0x0102);
        assert_eq!(p.len(), 136);
        assert_eq!(&p[..2], &[8, 0], "type echo request, code 0");
        assert_eq!(
            &p[4..8],
            &[0x12, 0x34, 0x01, 0x02],
            "id then sequence, big-endian"
        );
        // set_buf: the text six times, then its first 14 bytes.
        let payload = format!("{}keepalived che", "keepalived check - ".repeat(6));
        assert_eq!(&p[8..], payload.as_bytes());

        let p6 = echo_request(IcmpVersion::V6, 1, 2);
        assert_eq!(&p6[..4], &[128, 0, 0, 0], "ICMPv6: the kernel sums");
        assert_eq!(&p6[8..], &p[8..], "the same payload");
    }

    #[test]
    fn our_reply_passes() {
        let r = reply(IcmpVersion::V4, 99, 7);
        // A ping socket: the kernel already matched the identifier.
        assert_eq!(classify(&expect(None), SERVER, &r, false), Received::Reply);
        // A raw socket: the identifier is checked, the IP header skipped.
        let raw = ipv4(SERVER, ROUTER, 1, &r);
        assert_eq!(
            classify(&expect(Some(99)), SERVER, &raw, true),
            Received::Reply
        );
        let r6 = reply(IcmpVersion::V6, 99, 7);
        assert_eq!(
            classify(&expect6(Some(99)), SERVER6, &r6, false),
            Received::Reply
        );
    }

    #[test]
    fn other_replies_are_ignored() {
        // Another identifier (another pinger on the host): silently.
        let raw = ipv4(SERVER, ROUTER, 1, &reply(IcmpVersion::V4, 98, 7));
        assert_eq!(
            classify(&expect(Some(99)), SERVER, &raw, true),
            Received::Ignored { why: None }
        );
        // Another sequence: a late reply to an earlier run.
        let r = reply(IcmpVersion::V4, 99, 6);
        assert_eq!(
            classify(&expect(None), SERVER, &r, false),
            Received::Ignored {
                why: Some("an echo reply from 10.0.0.2 with sequence 6, expected 7".into())
            }
        );
        // From another address.
        let r = reply(IcmpVersion::V4, 99, 7);
        assert!(matches!(
            classify(&expect(None), ROUTER, &r, false),
            Received::Ignored { why: Some(w) } if w == "an echo reply from 10.0.0.254"
        ));
        // Our own request, looped back to a raw socket pinging a local address.
        let own = ipv4(SERVER, SERVER, 1, &echo_request(IcmpVersion::V4, 99, 7));
        assert_eq!(
            classify(&expect(Some(99)), SERVER, &own, true),
            Received::Ignored { why: None }
        );
        // An ICMPv4 reply type read as ICMPv6 is not a reply.
        let r = reply(IcmpVersion::V4, 99, 7);
        assert_eq!(
            classify(&expect6(None), SERVER6, &r, false),
            Received::Ignored { why: None }
        );
        // Too short for the header.
        assert!(matches!(
            classify(&expect(None), SERVER, &[0, 0, 0], false),
            Received::Ignored { why: Some(_) }
        ));
        // Not IPv4, or a header length below 20, on a raw socket.
        assert_eq!(
            classify(&expect(Some(99)), SERVER, &[0x65; 40], true),
            Received::Ignored { why: None }
        );
        assert_eq!(
            classify(&expect(Some(99)), SERVER, &[0x44; 40], true),
            Received::Ignored { why: None }
        );
    }

    #[test]
    fn an_error_quoting_our_request_fails() {
        // Host unreachable from a router on the way, as a raw socket reads it.
        let request = ipv4(
            ROUTER,
            SERVER,
            1,
            &echo_request(IcmpVersion::V4, 99, 7)[..8],
        );
        let err = ipv4(ROUTER, ROUTER, 1, &icmp_error(3, 1, &request));
        let got = classify(&expect(Some(99)), ROUTER, &err, true);
        let Received::Error(e) = got else {
            panic!("{got:?}")
        };
        assert_eq!(e.to_string(), "ICMP host unreachable from 10.0.0.254");
        // Time exceeded, too.
        let err = ipv4(ROUTER, ROUTER, 1, &icmp_error(11, 0, &request));
        assert!(matches!(
            classify(&expect(Some(99)), ROUTER, &err, true),
            Received::Error(e) if e.to_string() == "ICMP time exceeded from 10.0.0.254"
        ));
        // ICMPv6 address unreachable.
        let request6 = ipv6(ROUTER6, SERVER6, &echo_request(IcmpVersion::V6, 99, 7)[..8]);
        let err6 = icmp_error(1, 3, &request6);
        assert!(matches!(
            classify(&expect6(Some(99)), ROUTER6, &err6, false),
            Received::Error(e) if e.to_string() == "ICMPv6 address unreachable from fd00::fe"
        ));
    }

    #[test]
    fn errors_about_other_datagrams_are_ignored() {
        // Another sequence, another identifier, another destination, not an echo.
        for (id, seq, dst, ty) in [
            (99, 6, SERVER, 8),
            (98, 7, SERVER, 8),
            (99, 7, ROUTER, 8),
            (99, 7, SERVER, 0),
        ] {
            let mut req = echo_request(IcmpVersion::V4, id, seq);
            req[0] = ty;
            let quoted = ipv4(ROUTER, dst, 1, &req[..8]);
            let err = ipv4(ROUTER, ROUTER, 1, &icmp_error(3, 1, &quoted));
            assert_eq!(
                classify(&expect(Some(99)), ROUTER, &err, true),
                Received::Ignored { why: None },
                "{id} {seq} {dst} {ty}"
            );
        }
        // A UDP datagram quoted (protocol 17).
        let quoted = ipv4(
            ROUTER,
            SERVER,
            17,
            &echo_request(IcmpVersion::V4, 99, 7)[..8],
        );
        let err = ipv4(ROUTER, ROUTER, 1, &icmp_error(3, 3, &quoted));
        assert_eq!(
            classify(&expect(Some(99)), ROUTER, &err, true),
            Received::Ignored { why: None }
        );
        // Too short to quote anything.
        let err = ipv4(ROUTER, ROUTER, 1, &icmp_error(3, 1, &[0x45, 0, 0]));
        assert_eq!(
            classify(&expect(Some(99)), ROUTER, &err, true),
            Received::Ignored { why: None }
        );
    }

    #[test]
    fn redirects_and_too_big_do_not_fail() {
        let request = ipv4(
            ROUTER,
            SERVER,
            1,
            &echo_request(IcmpVersion::V4, 99, 7)[..8],
        );
        let err = ipv4(ROUTER, ROUTER, 1, &icmp_error(5, 1, &request));
        assert!(matches!(
            classify(&expect(Some(99)), ROUTER, &err, true),
            Received::Ignored { why: Some(w) } if w == "ICMP redirect from 10.0.0.254"
        ));
        let too_big = IcmpError {
            version: IcmpVersion::V6,
            icmp_type: 2,
            code: 0,
            from: None,
        };
        assert!(!fails(&too_big));
        assert!(fails(&IcmpError::port_unreachable(SERVER)));
        assert!(fails(&IcmpError::port_unreachable(SERVER6)));
    }

    #[test]
    fn no_reply_reads_as_the_other_probes() {
        let e = expect(None);
        assert_eq!(
            no_reply(&e, Duration::from_secs(3), None),
            "no ICMP echo reply from 10.0.0.2 within 3 s"
        );
        assert_eq!(
            no_reply(&expect6(None), Duration::from_millis(500), Some("x")),
            "no ICMPv6 echo reply from fd00::2 within 0.5 s (last: x)"
        );
    }
}
