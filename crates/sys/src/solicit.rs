//! IPv6 Router Solicitations (RFC 4861 §4.1) for `keepup_router_advert`: a raw
//! ICMPv6 socket that the kernel filters down to type 133 (ICMP6_FILTER), joined to
//! all-routers (ff02::2) on each interface a virtual router advertises on. The kernel
//! checks the ICMPv6 checksum before it delivers; the hop limit and the receiving
//! interface come from ancillary data.
use std::io::{self, IoSliceMut};
use std::net::Ipv6Addr;
use std::os::fd::AsRawFd;

use nix::sys::socket::{recvmsg, setsockopt, sockopt, ControlMessageOwned, MsgFlags, SockaddrIn6};
use socket2::{Domain, Protocol, Socket, Type};
use tokio::io::unix::AsyncFd;

use crate::{Error, Result};

/// ff02::2, where hosts send their solicitations.
pub const ALL_ROUTERS: Ipv6Addr = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 2);
/// ICMPv6 type of a router solicitation.
const TYPE_RS: u8 = 133;
/// `ICMP6_FILTER` (linux/icmpv6.h `ICMPV6_FILTER`), at level IPPROTO_ICMPV6.
const ICMP6_FILTER: libc::c_int = 1;

/// A solicitation as received: the interface, its source, its hop limit and the
/// ICMPv6 message (the driver judges it: `keepup_wire::ra::valid_solicitation`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Solicitation {
    pub ifindex: u32,
    pub source: Ipv6Addr,
    pub hop_limit: u8,
    pub message: Vec<u8>,
}

pub struct SolicitationSocket {
    fd: AsyncFd<Socket>,
}

fn io_err(step: &str, source: impl Into<io::Error>) -> Error {
    Error::Io {
        what: format!("ICMPv6 socket for router solicitations: {step}"),
        source: source.into(),
    }
}

/// Let only ICMPv6 type 133 through: every bit set blocks its type.
fn pass_only_solicitations(s: &Socket) -> io::Result<()> {
    let mut filter = [u32::MAX; 8];
    filter[usize::from(TYPE_RS >> 5)] &= !(1u32 << (TYPE_RS & 31));
    // SAFETY: `s` is an open socket for the whole call; the value points to a live
    // array of eight u32 (struct icmp6_filter) and the length is exactly its size.
    let rc = unsafe {
        libc::setsockopt(
            s.as_raw_fd(),
            libc::IPPROTO_ICMPV6,
            ICMP6_FILTER,
            filter.as_ptr().cast(),
            std::mem::size_of_val(&filter) as libc::socklen_t,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

impl SolicitationSocket {
    /// Must be called inside a tokio runtime (the fd is registered with it).
    pub fn open() -> Result<SolicitationSocket> {
        let s = Socket::new(Domain::IPV6, Type::RAW, Some(Protocol::ICMPV6))
            .map_err(|e| io_err("socket", e))?;
        s.set_nonblocking(true)
            .map_err(|e| io_err("O_NONBLOCK", e))?;
        pass_only_solicitations(&s).map_err(|e| io_err("ICMP6_FILTER", e))?;
        setsockopt(&s, sockopt::Ipv6RecvPacketInfo, &true)
            .map_err(|e| io_err("IPV6_RECVPKTINFO", e))?;
        setsockopt(&s, sockopt::Ipv6RecvHopLimit, &true)
            .map_err(|e| io_err("IPV6_RECVHOPLIMIT", e))?;
        let fd = crate::register_for(s, tokio::io::Interest::READABLE)
            .map_err(|e| io_err("register with the runtime", e))?;
        Ok(SolicitationSocket { fd })
    }

    /// Listen on `ifindex` (join ff02::2 there). Joining twice is not an error.
    pub fn join(&self, ifindex: u32) -> Result<()> {
        match self.fd.get_ref().join_multicast_v6(&ALL_ROUTERS, ifindex) {
            Ok(()) => Ok(()),
            Err(e) if e.raw_os_error() == Some(libc::EADDRINUSE) => Ok(()),
            Err(e) => Err(io_err(&format!("join ff02::2 on ifindex {ifindex}"), e)),
        }
    }

    /// The next solicitation (waits for one).
    pub async fn recv(&self) -> Result<Solicitation> {
        loop {
            let mut guard = self.fd.readable().await.map_err(|e| io_err("wait", e))?;
            match guard.try_io(|s| recv_one(s.get_ref())) {
                Ok(Ok(Some(sol))) => return Ok(sol),
                Ok(Ok(None)) => continue,
                Ok(Err(e)) => return Err(io_err("recvmsg", e)),
                Err(_would_block) => continue,
            }
        }
    }
}

/// One datagram: `None` if its ancillary data did not say where it came in.
fn recv_one(s: &Socket) -> io::Result<Option<Solicitation>> {
    let mut buf = [0u8; 1500];
    let mut cmsg = nix::cmsg_space!(libc::in6_pktinfo, libc::c_int);
    let mut iov = [IoSliceMut::new(&mut buf)];
    let msg = recvmsg::<SockaddrIn6>(s.as_raw_fd(), &mut iov, Some(&mut cmsg), MsgFlags::empty())
        .map_err(io::Error::from)?;
    let len = msg.bytes;
    let source = msg.address.map(|a| a.ip());
    let mut ifindex = None;
    let mut hops = None;
    for c in msg.cmsgs().map_err(io::Error::from)? {
        match c {
            ControlMessageOwned::Ipv6PacketInfo(info) => ifindex = Some(info.ipi6_ifindex),
            ControlMessageOwned::Ipv6HopLimit(h) => hops = Some(h),
            _ => {}
        }
    }
    let (Some(ifindex), Some(source)) = (ifindex, source) else {
        return Ok(None);
    };
    let message = buf.get(..len).unwrap_or(&[]).to_vec();
    Ok(Some(Solicitation {
        ifindex,
        source,
        hop_limit: hops.and_then(|h| u8::try_from(h).ok()).unwrap_or(0),
        message,
    }))
}
