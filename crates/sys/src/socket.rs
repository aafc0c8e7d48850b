//! Raw IP sockets for VRRP (protocol 112) and, on IPv4, AH (protocol 51).
//!
//! One socket per family serves every interface: the outgoing interface is named per
//! send (IP_PKTINFO / IPV6_PKTINFO ancillary data) and the incoming one is read back
//! from the same ancillary data, so nothing is bound to a device.

use std::io::{self, IoSlice, IoSliceMut};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddrV4, SocketAddrV6};
use std::os::fd::{AsFd, AsRawFd};

use nix::sys::socket::{
    recvmsg, sendmsg, setsockopt, sockopt, ControlMessage, ControlMessageOwned, MsgFlags,
    SockaddrIn, SockaddrIn6,
};
use socket2::{Domain, InterfaceIndexOrAddress, Protocol, Socket, Type};
use tokio::io::unix::AsyncFd;

use crate::{Error, Received, Result};

/// IANA protocol number of VRRP.
pub const PROTO_VRRP: i32 = 112;
/// IANA protocol number of IPsec AH.
pub const PROTO_AH: i32 = 51;

/// Largest datagram a raw socket can hand us (IPv4 total length / IPv6 payload).
const RECV_BUF: usize = 65_536;

thread_local! {
    /// One receive buffer per thread, zeroed once: a fresh 64 KiB buffer per
    /// packet cost more than the rest of the receive path.
    static RX: std::cell::RefCell<Vec<u8>> = std::cell::RefCell::new(vec![0; RECV_BUF]);
}

/// A raw IP socket for protocol 112 (and 51 for AH on IPv4) of one family.
///
/// `send` and `recv` take `&self`; both are cancel safe (a packet is only consumed or
/// sent inside one non-blocking system call), so a driver may `select!` on them.
pub struct VrrpSocket {
    inner: Inner,
}

enum Inner {
    V4 {
        vrrp: AsyncFd<Socket>,
        ah: Option<AsyncFd<Socket>>,
    },
    V6 {
        vrrp: AsyncFd<Socket>,
    },
}

fn io_err(what: impl Into<String>, source: impl Into<io::Error>) -> Error {
    Error::Io {
        what: what.into(),
        source: source.into(),
    }
}

/// A raw IPv4 socket as both the 112 and the 51 socket need it: the receiving
/// interface reported (IP_PKTINFO), our own multicast not looped back, and only the
/// groups this socket joined delivered (IP_MULTICAST_ALL off, as keepalived sets it).
fn raw_v4(protocol: i32) -> Result<Socket> {
    let what = |step: &str| format!("IPv4 raw socket (protocol {protocol}): {step}");
    let s = Socket::new(Domain::IPV4, Type::RAW, Some(Protocol::from(protocol)))
        .map_err(|e| io_err(what("socket"), e))?;
    s.set_nonblocking(true)
        .map_err(|e| io_err(what("O_NONBLOCK"), e))?;
    setsockopt(&s, sockopt::Ipv4PacketInfo, &true).map_err(|e| io_err(what("IP_PKTINFO"), e))?;
    s.set_multicast_loop_v4(false)
        .map_err(|e| io_err(what("IP_MULTICAST_LOOP"), e))?;
    s.set_multicast_all_v4(false)
        .map_err(|e| io_err(what("IP_MULTICAST_ALL"), e))?;
    Ok(s)
}

fn async_fd(s: Socket, what: &str) -> Result<AsyncFd<Socket>> {
    crate::register(s).map_err(|e| io_err(format!("{what}: register with the runtime"), e))
}

impl VrrpSocket {
    /// IPv4: raw socket, IP_HDRINCL (we send whole packets), receives protocol 112
    /// and, if `ah`, a second raw socket for protocol 51. IPv6: raw socket, hop limit
    /// read back (IPV6_RECVHOPLIMIT, IPV6_RECVPKTINFO), multicast hops 255, TCLASS CS6.
    ///
    /// Must be called inside a tokio runtime (the fds are registered with it); outside
    /// one it is an error.
    pub fn open_v4(ah: bool) -> Result<VrrpSocket> {
        let vrrp = raw_v4(PROTO_VRRP)?;
        // The engine builds the IPv4 header itself (TTL 255, TOS 0xc0, identification,
        // and AH over the header), so the kernel must send it as given.
        vrrp.set_header_included_v4(true)
            .map_err(|e| io_err("IPv4 raw socket (protocol 112): IP_HDRINCL", e))?;
        let ah = if ah {
            Some(async_fd(
                raw_v4(PROTO_AH)?,
                "IPv4 raw socket (protocol 51)",
            )?)
        } else {
            None
        };
        Ok(VrrpSocket {
            inner: Inner::V4 {
                vrrp: async_fd(vrrp, "IPv4 raw socket (protocol 112)")?,
                ah,
            },
        })
    }

    /// IPv6 raw socket for protocol 112. The engine computes the VRRP checksum, so the
    /// kernel neither fills nor checks one (IPV6_CHECKSUM off).
    pub fn open_v6() -> Result<VrrpSocket> {
        let what = |step: &str| format!("IPv6 raw socket (protocol 112): {step}");
        let s = Socket::new(Domain::IPV6, Type::RAW, Some(Protocol::from(PROTO_VRRP)))
            .map_err(|e| io_err(what("socket"), e))?;
        s.set_nonblocking(true)
            .map_err(|e| io_err(what("O_NONBLOCK"), e))?;
        setsockopt(&s, sockopt::Ipv6RecvPacketInfo, &true)
            .map_err(|e| io_err(what("IPV6_RECVPKTINFO"), e))?;
        setsockopt(&s, sockopt::Ipv6RecvHopLimit, &true)
            .map_err(|e| io_err(what("IPV6_RECVHOPLIMIT"), e))?;
        s.set_multicast_hops_v6(255)
            .map_err(|e| io_err(what("IPV6_MULTICAST_HOPS"), e))?;
        s.set_unicast_hops_v6(255)
            .map_err(|e| io_err(what("IPV6_UNICAST_HOPS"), e))?;
        // CS6 (0xc0), as keepalived marks adverts.
        s.set_tclass_v6(0xc0)
            .map_err(|e| io_err(what("IPV6_TCLASS"), e))?;
        s.set_multicast_loop_v6(false)
            .map_err(|e| io_err(what("IPV6_MULTICAST_LOOP"), e))?;
        s.set_multicast_all_v6(false)
            .map_err(|e| io_err(what("IPV6_MULTICAST_ALL"), e))?;
        ipv6_checksum_off(&s).map_err(|e| io_err(what("IPV6_CHECKSUM"), e))?;
        Ok(VrrpSocket {
            inner: Inner::V6 {
                vrrp: async_fd(s, "IPv6 raw socket (protocol 112)")?,
            },
        })
    }

    /// Join the group (224.0.0.18 / ff02::12 or `mcast_dst_ip`) on an interface.
    /// Joining a group that is already joined there is not an error.
    pub fn join(&self, group: IpAddr, ifindex: u32) -> Result<()> {
        self.membership(group, ifindex, true)
    }

    /// Leave the group on an interface. Leaving a group that is not joined there is not
    /// an error.
    pub fn leave(&self, group: IpAddr, ifindex: u32) -> Result<()> {
        self.membership(group, ifindex, false)
    }

    fn membership(&self, group: IpAddr, ifindex: u32, join: bool) -> Result<()> {
        let verb = if join { "join" } else { "leave" };
        let what = || format!("{verb} {group} on ifindex {ifindex}");
        match (&self.inner, group) {
            (Inner::V4 { vrrp, ah }, IpAddr::V4(g)) => {
                for s in std::iter::once(vrrp).chain(ah.as_ref()) {
                    let iface = InterfaceIndexOrAddress::Index(ifindex);
                    let r = if join {
                        s.get_ref().join_multicast_v4_n(&g, &iface)
                    } else {
                        s.get_ref().leave_multicast_v4_n(&g, &iface)
                    };
                    membership_result(r, join).map_err(|e| io_err(what(), e))?;
                }
                Ok(())
            }
            (Inner::V6 { vrrp }, IpAddr::V6(g)) => {
                let r = if join {
                    vrrp.get_ref().join_multicast_v6(&g, ifindex)
                } else {
                    vrrp.get_ref().leave_multicast_v6(&g, ifindex)
                };
                membership_result(r, join).map_err(|e| io_err(what(), e))
            }
            _ => Err(io_err(what(), family_mismatch())),
        }
    }

    /// Send one advert. IPv4: `packet` is the whole IP packet (header with TTL, AH,
    /// VRRP), sent out of `ifindex`. IPv6: `packet` is the VRRP message, sent from
    /// `src` (the link-local) with hop limit `ttl` out of `ifindex`.
    ///
    /// IPv4 ignores `src` and `ttl` (they are in the header the engine built).
    pub async fn send(
        &self,
        ifindex: u32,
        src: IpAddr,
        dst: IpAddr,
        ttl: u8,
        packet: &[u8],
    ) -> Result<()> {
        let what = || format!("send to {dst} from {src} on ifindex {ifindex}");
        let r = match (&self.inner, src, dst) {
            (Inner::V4 { vrrp, .. }, _, IpAddr::V4(dst)) => {
                send_on(vrrp, |s| send_v4(s, ifindex, dst, packet)).await
            }
            (Inner::V6 { vrrp }, IpAddr::V6(src), IpAddr::V6(dst)) => {
                send_on(vrrp, |s| send_v6(s, ifindex, src, dst, ttl, packet)).await
            }
            _ => Err(family_mismatch()),
        };
        r.map_err(|e| io_err(what(), e))
    }

    /// A packet already queued, without waiting: after [`VrrpSocket::recv`], the
    /// rest of a burst (200 Masters' adverts arrive together) is read in one wakeup.
    pub fn try_recv(&self) -> Result<Option<Received>> {
        let r = match &self.inner {
            Inner::V4 { vrrp, ah: None } => try_recv_on(vrrp, recv_v4),
            Inner::V4 { vrrp, ah: Some(ah) } => match try_recv_on(vrrp, recv_v4) {
                Ok(None) => try_recv_on(ah, recv_v4),
                r => r,
            },
            Inner::V6 { vrrp } => try_recv_on(vrrp, recv_v6),
        };
        r.map_err(|e| io_err("receive VRRP", e))
    }

    /// The next packet (with the interface it arrived on).
    ///
    /// IPv4 with AH: whichever of the two sockets is ready first; AH packets whose next
    /// header is not VRRP (another user of IPsec on the host) are dropped here.
    pub async fn recv(&self) -> Result<Received> {
        let r = match &self.inner {
            Inner::V4 { vrrp, ah: None } => recv_on(vrrp, recv_v4).await,
            Inner::V4 { vrrp, ah: Some(ah) } => {
                tokio::select! {
                    r = recv_on(vrrp, recv_v4) => r,
                    r = recv_on(ah, recv_v4) => r,
                }
            }
            Inner::V6 { vrrp } => recv_on(vrrp, recv_v6).await,
        };
        r.map_err(|e| io_err("receive VRRP", e))
    }
}

fn family_mismatch() -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidInput,
        "address family does not match the socket",
    )
}

/// Joining twice (EADDRINUSE) and leaving what was not joined (EADDRNOTAVAIL) are
/// the states asked for already.
fn membership_result(r: io::Result<()>, join: bool) -> io::Result<()> {
    match r {
        Err(e) if join && e.raw_os_error() == Some(libc::EADDRINUSE) => Ok(()),
        Err(e) if !join && e.raw_os_error() == Some(libc::EADDRNOTAVAIL) => Ok(()),
        r => r,
    }
}

fn ipv6_checksum_off(s: &Socket) -> io::Result<()> {
    let off: libc::c_int = -1;
    // SAFETY: `s` is an open socket for the whole call; the option value points to a
    // live c_int and the length passed is exactly its size, as IPV6_CHECKSUM expects.
    let rc = unsafe {
        libc::setsockopt(
            s.as_raw_fd(),
            libc::IPPROTO_IPV6,
            libc::IPV6_CHECKSUM,
            std::ptr::from_ref(&off).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

async fn send_on(
    fd: &AsyncFd<Socket>,
    mut op: impl FnMut(&Socket) -> io::Result<()>,
) -> io::Result<()> {
    loop {
        let mut guard = fd.writable().await?;
        match guard.try_io(|s| op(s.get_ref())) {
            Ok(r) => return r,
            Err(_would_block) => continue,
        }
    }
}

async fn recv_on(
    fd: &AsyncFd<Socket>,
    op: fn(&Socket) -> io::Result<Option<Received>>,
) -> io::Result<Received> {
    loop {
        let mut guard = fd.readable().await?;
        match guard.try_io(|s| op(s.get_ref())) {
            Ok(Ok(Some(r))) => return Ok(r),
            // A datagram that is not ours to report: read the next one.
            Ok(Ok(None)) => continue,
            Ok(Err(e)) => return Err(e),
            Err(_would_block) => continue,
        }
    }
}

/// One datagram if one is queued now, without waiting.
fn try_recv_on(
    fd: &AsyncFd<Socket>,
    op: fn(&Socket) -> io::Result<Option<Received>>,
) -> io::Result<Option<Received>> {
    loop {
        match fd.try_io(tokio::io::Interest::READABLE, op) {
            Ok(Some(r)) => return Ok(Some(r)),
            Ok(None) => continue,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(None),
            Err(e) => return Err(e),
        }
    }
}

fn send_v4(s: &Socket, ifindex: u32, dst: Ipv4Addr, packet: &[u8]) -> io::Result<()> {
    // With IP_HDRINCL the header's source stays as built; IP_PKTINFO only picks the
    // outgoing interface (for multicast it overrides IP_MULTICAST_IF).
    let info = libc::in_pktinfo {
        ipi_ifindex: ifindex_c(ifindex)?,
        ipi_spec_dst: libc::in_addr { s_addr: 0 },
        ipi_addr: libc::in_addr { s_addr: 0 },
    };
    let addr = SockaddrIn::from(SocketAddrV4::new(dst, 0));
    let sent = sendmsg(
        s.as_raw_fd(),
        &[IoSlice::new(packet)],
        &[ControlMessage::Ipv4PacketInfo(&info)],
        MsgFlags::MSG_DONTWAIT,
        Some(&addr),
    )?;
    short_send(sent, packet.len())
}

fn send_v6(
    s: &Socket,
    ifindex: u32,
    src: Ipv6Addr,
    dst: Ipv6Addr,
    ttl: u8,
    packet: &[u8],
) -> io::Result<()> {
    let info = libc::in6_pktinfo {
        ipi6_addr: libc::in6_addr {
            s6_addr: src.octets(),
        },
        ipi6_ifindex: ifindex,
    };
    let hops = libc::c_int::from(ttl);
    // A link-scoped destination (ff02::12, fe80::/10 unicast peers) needs its zone.
    let scope = if is_link_scoped(&dst) { ifindex } else { 0 };
    let addr = SockaddrIn6::from(SocketAddrV6::new(dst, 0, 0, scope));
    let sent = sendmsg(
        s.as_raw_fd(),
        &[IoSlice::new(packet)],
        &[
            ControlMessage::Ipv6PacketInfo(&info),
            ControlMessage::Ipv6HopLimit(&hops),
        ],
        MsgFlags::MSG_DONTWAIT,
        Some(&addr),
    )?;
    short_send(sent, packet.len())
}

fn is_link_scoped(a: &Ipv6Addr) -> bool {
    let o = a.octets();
    (o[0] == 0xfe && o[1] & 0xc0 == 0x80) || (o[0] == 0xff && o[1] & 0x0f <= 2)
}

fn ifindex_c(ifindex: u32) -> io::Result<libc::c_int> {
    libc::c_int::try_from(ifindex)
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "ifindex out of range"))
}

fn short_send(sent: usize, len: usize) -> io::Result<()> {
    if sent == len {
        Ok(())
    } else {
        Err(io::Error::new(
            io::ErrorKind::WriteZero,
            format!("sent {sent} of {len} octets"),
        ))
    }
}

/// One IPv4 datagram, header first, with the interface from IP_PKTINFO.
fn recv_v4(s: &Socket) -> io::Result<Option<Received>> {
    RX.with_borrow_mut(|rx| recv_v4_into(s, rx))
}

fn recv_v4_into(s: &Socket, buf: &mut [u8]) -> io::Result<Option<Received>> {
    let mut cmsg = nix::cmsg_space!(libc::in_pktinfo);
    let (len, ifindex) = {
        let mut iov = [IoSliceMut::new(buf)];
        let msg = recvmsg::<SockaddrIn>(
            s.as_fd().as_raw_fd(),
            &mut iov,
            Some(&mut cmsg),
            MsgFlags::MSG_DONTWAIT,
        )?;
        let mut ifindex = None;
        for c in msg.cmsgs()? {
            if let ControlMessageOwned::Ipv4PacketInfo(info) = c {
                ifindex = u32::try_from(info.ipi_ifindex).ok();
            }
        }
        (msg.bytes, ifindex)
    };
    let Some(ifindex) = ifindex else {
        return Ok(None);
    };
    let data = &buf[..len];
    if !ah_carries_vrrp_or_not_ah(data) {
        return Ok(None);
    }
    Ok(Some(Received {
        ifindex,
        data: data.to_vec(),
        v6: None,
    }))
}

/// On the AH socket, only AH whose next header is VRRP is ours.
fn ah_carries_vrrp_or_not_ah(packet: &[u8]) -> bool {
    let Some(&ver_ihl) = packet.first() else {
        return false;
    };
    if packet.get(9) != Some(&(PROTO_AH as u8)) {
        return true;
    }
    let ihl = usize::from(ver_ihl & 0x0f) * 4;
    packet.get(ihl) == Some(&(PROTO_VRRP as u8))
}

/// One IPv6 VRRP message with source, destination, hop limit and interface.
fn recv_v6(s: &Socket) -> io::Result<Option<Received>> {
    RX.with_borrow_mut(|rx| recv_v6_into(s, rx))
}

fn recv_v6_into(s: &Socket, buf: &mut [u8]) -> io::Result<Option<Received>> {
    let mut cmsg = nix::cmsg_space!(libc::in6_pktinfo, libc::c_int);
    let (len, src, info, hops) = {
        let mut iov = [IoSliceMut::new(buf)];
        let msg = recvmsg::<SockaddrIn6>(
            s.as_raw_fd(),
            &mut iov,
            Some(&mut cmsg),
            MsgFlags::MSG_DONTWAIT,
        )?;
        let mut info = None;
        let mut hops = None;
        for c in msg.cmsgs()? {
            match c {
                ControlMessageOwned::Ipv6PacketInfo(i) => info = Some(i),
                ControlMessageOwned::Ipv6HopLimit(h) => hops = u8::try_from(h).ok(),
                _ => {}
            }
        }
        (msg.bytes, msg.address.map(|a| a.ip()), info, hops)
    };
    let (Some(src), Some(info), Some(hops)) = (src, info, hops) else {
        return Ok(None);
    };
    Ok(Some(Received {
        ifindex: info.ipi6_ifindex,
        data: buf[..len].to_vec(),
        v6: Some((src, Ipv6Addr::from(info.ipi6_addr.s6_addr), hops)),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn link_scope() {
        assert!(is_link_scoped(&"ff02::12".parse().expect("literal")));
        assert!(is_link_scoped(&"fe80::1".parse().expect("literal")));
        assert!(!is_link_scoped(&"ff05::12".parse().expect("literal")));
        assert!(!is_link_scoped(&"fd00::1".parse().expect("literal")));
    }

    #[test]
    fn ah_filter() {
        let mut p = vec![0x45u8; 24];
        p[9] = 112;
        assert!(ah_carries_vrrp_or_not_ah(&p));
        p[9] = 51;
        p[20] = 112;
        assert!(ah_carries_vrrp_or_not_ah(&p));
        p[20] = 6;
        assert!(!ah_carries_vrrp_or_not_ah(&p));
        assert!(!ah_carries_vrrp_or_not_ah(&[]));
    }
}
