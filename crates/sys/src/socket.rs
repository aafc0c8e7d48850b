//! Raw IP sockets for VRRP (protocol 112) and, on IPv4, AH (protocol 51).
//!
//! One socket per family serves every interface: the outgoing interface is named per
//! send (IP_PKTINFO / IPV6_PKTINFO ancillary data) and the incoming one is read back
//! from the same ancillary data, so nothing is bound to a device.

use std::io::{self, IoSlice};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddrV4, SocketAddrV6};
use std::os::fd::AsRawFd;

use nix::sys::socket::{
    sendmsg, setsockopt, sockopt, ControlMessage, MsgFlags, SockaddrIn, SockaddrIn6,
};
use socket2::{Domain, InterfaceIndexOrAddress, Protocol, Socket, Type};
use tokio::io::unix::AsyncFd;

use crate::{Error, Received, Result};

/// IANA protocol number of VRRP.
pub const PROTO_VRRP: i32 = 112;
/// IANA protocol number of IPsec AH.
pub const PROTO_AH: i32 = 51;

/// Datagrams read per system call (`recvmmsg`).
const BATCH: usize = 32;
/// Room for one datagram of a batch. The longest valid advert is an IPv6 one with
/// 255 addresses (8 + 255 × 16 = 4,088 octets); IPv4 with a full header, AH and 255
/// addresses stays under 1,200. A longer datagram is cut to this (MSG_TRUNC) and
/// fails the engine's length checks, which count it.
const SLOT: usize = 4096 + 256;
/// Ancillary data room per datagram (IP_PKTINFO; IPV6_PKTINFO and IPV6_HOPLIMIT).
const CMSG_ROOM: usize = 128;

thread_local! {
    /// One batch of receive buffers per thread, allocated once.
    static RX: std::cell::RefCell<Batch> = std::cell::RefCell::new(Batch::new());
}

/// A datagram as read, borrowed from the receive buffers: hand it on before the
/// next read.
#[derive(Debug, Clone, Copy)]
pub struct Datagram<'a> {
    pub ifindex: u32,
    /// IPv4: the whole IP packet as the raw socket delivers it (header first).
    /// IPv6: the VRRP message.
    pub data: &'a [u8],
    /// IPv6 only (from ancillary data): source, destination, hop limit.
    pub v6: Option<(Ipv6Addr, Ipv6Addr, u8)>,
}

impl Datagram<'_> {
    pub fn to_owned(&self) -> Received {
        Received {
            ifindex: self.ifindex,
            data: self.data.to_vec(),
            v6: self.v6,
        }
    }
}

/// What `recvmmsg` reads into: a slot, a source address and ancillary data room per
/// datagram, and the headers that point at them (filled in before each call, as
/// the batch may have moved since the last).
struct Batch {
    bufs: Vec<u8>,
    names: [libc::sockaddr_in6; BATCH],
    cmsgs: [[u64; CMSG_ROOM / 8]; BATCH],
    iovs: [libc::iovec; BATCH],
    hdrs: [libc::mmsghdr; BATCH],
}

impl Batch {
    fn new() -> Batch {
        // SAFETY: sockaddr_in6, iovec and mmsghdr are plain C structs (integers and
        // raw pointers) for which all-zero bytes are a valid value; the pointers are
        // set before every use in `prepare`.
        let (names, iovs, hdrs) =
            unsafe { (std::mem::zeroed(), std::mem::zeroed(), std::mem::zeroed()) };
        Batch {
            bufs: vec![0; BATCH * SLOT],
            names,
            cmsgs: [[0; CMSG_ROOM / 8]; BATCH],
            iovs,
            hdrs,
        }
    }

    /// Point the first `n` headers at their slot, name and ancillary buffers.
    fn prepare(&mut self, n: usize) {
        let base = self.bufs.as_mut_ptr();
        for k in 0..n.min(BATCH) {
            self.iovs[k] = libc::iovec {
                // In bounds: k < BATCH and bufs holds BATCH slots.
                iov_base: base.wrapping_add(k * SLOT).cast(),
                iov_len: SLOT,
            };
            let h = &mut self.hdrs[k];
            h.msg_len = 0;
            h.msg_hdr.msg_name = std::ptr::from_mut(&mut self.names[k]).cast();
            h.msg_hdr.msg_namelen = std::mem::size_of::<libc::sockaddr_in6>() as libc::socklen_t;
            h.msg_hdr.msg_iov = std::ptr::from_mut(&mut self.iovs[k]);
            h.msg_hdr.msg_iovlen = 1;
            h.msg_hdr.msg_control = self.cmsgs[k].as_mut_ptr().cast();
            h.msg_hdr.msg_controllen = CMSG_ROOM as _;
            h.msg_hdr.msg_flags = 0;
        }
    }

    /// Datagram `k` of the last call, if its ancillary data says where it came in
    /// (and, on IPv6, from whom with which hop limit).
    fn datagram(&self, k: usize, v6: bool) -> Option<Datagram<'_>> {
        let h = self.hdrs.get(k)?;
        let len = (h.msg_len as usize).min(SLOT);
        let data = self.bufs.get(k * SLOT..k * SLOT + len)?;
        let mut ifindex = None;
        let mut dst = None;
        let mut hops = None;
        let hdr = &h.msg_hdr;
        // SAFETY: `hdr` is the msghdr the kernel just filled: msg_control points into
        // `self.cmsgs[k]` (alive, borrowed with `self`) and msg_controllen is what the
        // kernel wrote there, so CMSG_FIRSTHDR/CMSG_NXTHDR stay inside that buffer.
        // Each payload is read unaligned, and only once its cmsg_len shows it whole.
        unsafe {
            let mut c = libc::CMSG_FIRSTHDR(hdr);
            while !c.is_null() {
                let cm = &*c;
                let have = cm.cmsg_len as usize;
                let data = libc::CMSG_DATA(c);
                let fits = |size: usize| have >= libc::CMSG_LEN(size as u32) as usize;
                match (cm.cmsg_level, cm.cmsg_type) {
                    (libc::IPPROTO_IP, libc::IP_PKTINFO)
                        if fits(std::mem::size_of::<libc::in_pktinfo>()) =>
                    {
                        let i = std::ptr::read_unaligned(data.cast::<libc::in_pktinfo>());
                        ifindex = u32::try_from(i.ipi_ifindex).ok();
                    }
                    (libc::IPPROTO_IPV6, libc::IPV6_PKTINFO)
                        if fits(std::mem::size_of::<libc::in6_pktinfo>()) =>
                    {
                        let i = std::ptr::read_unaligned(data.cast::<libc::in6_pktinfo>());
                        ifindex = Some(i.ipi6_ifindex);
                        dst = Some(Ipv6Addr::from(i.ipi6_addr.s6_addr));
                    }
                    (libc::IPPROTO_IPV6, libc::IPV6_HOPLIMIT)
                        if fits(std::mem::size_of::<libc::c_int>()) =>
                    {
                        let h = std::ptr::read_unaligned(data.cast::<libc::c_int>());
                        hops = u8::try_from(h).ok();
                    }
                    _ => {}
                }
                c = libc::CMSG_NXTHDR(hdr, c);
            }
        }
        let ifindex = ifindex?;
        if !v6 {
            return ah_carries_vrrp_or_not_ah(data).then_some(Datagram {
                ifindex,
                data,
                v6: None,
            });
        }
        let name = self.names.get(k)?;
        let whole = hdr.msg_namelen as usize >= std::mem::size_of::<libc::sockaddr_in6>();
        if !whole || i32::from(name.sin6_family) != libc::AF_INET6 {
            return None;
        }
        let src = Ipv6Addr::from(name.sin6_addr.s6_addr);
        Some(Datagram {
            ifindex,
            data,
            v6: Some((src, dst?, hops?)),
        })
    }
}

/// Read up to `max` (at most [`BATCH`]) queued datagrams in one system call and hand
/// each of ours to `f`. Returns how many were read (ours or not); WouldBlock if none
/// was queued.
fn recv_batch(
    s: &Socket,
    v6: bool,
    max: usize,
    f: &mut dyn FnMut(Datagram<'_>),
) -> io::Result<usize> {
    RX.with(|rx| {
        // `f` hands datagrams on; were it to read again, it would find the batch busy.
        let mut b = rx
            .try_borrow_mut()
            .map_err(|_| io::Error::other("receive buffers in use"))?;
        let n = max.clamp(1, BATCH);
        b.prepare(n);
        // SAFETY: `s` is open for the whole call; the first `n` headers were just
        // pointed (`prepare`) at buffers owned by `b`, which stays borrowed, and
        // alive, until the call returns; each length given is that buffer's size.
        let got = unsafe {
            libc::recvmmsg(
                s.as_raw_fd(),
                b.hdrs.as_mut_ptr(),
                n as libc::c_uint,
                libc::MSG_DONTWAIT,
                std::ptr::null_mut(),
            )
        };
        let got = usize::try_from(got).map_err(|_| io::Error::last_os_error())?;
        for k in 0..got.min(n) {
            if let Some(d) = b.datagram(k, v6) {
                f(d);
            }
        }
        Ok(got)
    })
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
    raise_recv_buffer(&s, RECV_ROOM);
    Ok(s)
}

/// Receive buffer for a burst of adverts: the default (208 KiB) holds about 200
/// of them, and a daemon with 1000 instances lets a burst gather before reading it.
const RECV_ROOM: usize = 2 << 20;

/// Raise the receive buffer to `bytes` past `net.core.rmem_max` (SO_RCVBUFFORCE, as
/// root), or up to it; the default is kept if neither is allowed.
pub fn raise_recv_buffer(s: &Socket, bytes: usize) {
    if setsockopt(s, sockopt::RcvBufForce, &bytes).is_err() {
        let _ = s.set_recv_buffer_size(bytes);
    }
}

/// Registered for reading only: sends are made without waiting (see [`send_on`]).
fn async_fd(s: Socket, what: &str) -> Result<AsyncFd<Socket>> {
    crate::register_for(s, tokio::io::Interest::READABLE)
        .map_err(|e| io_err(format!("{what}: register with the runtime"), e))
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
        raise_recv_buffer(&s, RECV_ROOM);
        Ok(VrrpSocket {
            inner: Inner::V6 {
                vrrp: async_fd(s, "IPv6 raw socket (protocol 112)")?,
            },
        })
    }

    /// Put `filter`'s programs on this socket (both for IPv4 with AH), replacing any
    /// before: the kernel drops what no instance here can accept (see
    /// [`crate::RxFilter`]).
    pub fn set_filter(&self, filter: &crate::RxFilter) -> Result<()> {
        use crate::RxFilterLayout as L;
        let on = |s: &AsyncFd<Socket>, layout| {
            crate::rx_filter::attach(s.get_ref(), &filter.program(layout))
                .map_err(|e| io_err(format!("SO_ATTACH_FILTER ({layout:?})"), e))
        };
        match &self.inner {
            Inner::V4 { vrrp, ah } => {
                on(vrrp, L::V4)?;
                if let Some(ah) = ah {
                    on(ah, L::V4Ah)?;
                }
                Ok(())
            }
            Inner::V6 { vrrp } => on(vrrp, L::V6),
        }
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

    /// Every datagram queued now, up to `max`, each of ours handed to `f` (in
    /// batches of up to 32 per system call), without waiting: after
    /// [`VrrpSocket::readable`], a burst (200 Masters' adverts arrive together) is
    /// read in a few calls. Returns how many were read.
    ///
    /// The socket itself is asked, not the reactor's view of it: the reactor learns
    /// readiness only in `epoll_wait`, and a process thawed by SIGCONT (or one whose
    /// timer fell due first) may run its timers before that call has told it of the
    /// adverts queued meanwhile (`epoll_wait` even fails with EINTR after a stop).
    /// Reading them first is what keeps a thawed Backup from taking over for a moment.
    pub fn try_recv_batch(&self, max: usize, mut f: impl FnMut(Datagram<'_>)) -> Result<usize> {
        let mut total = 0;
        let (first, second, v6) = match &self.inner {
            Inner::V4 { vrrp, ah } => (vrrp, ah.as_ref(), false),
            Inner::V6 { vrrp } => (vrrp, None, true),
        };
        for fd in std::iter::once(first).chain(second) {
            while total < max {
                let asked = (max - total).min(BATCH);
                match recv_batch(fd.get_ref(), v6, asked, &mut f) {
                    Ok(n) if n < asked => {
                        // A short batch emptied the queue: no call to hear EAGAIN.
                        total += n;
                        drained(fd);
                        break;
                    }
                    Ok(n) => total += n,
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                        drained(fd);
                        break;
                    }
                    Err(e) => return Err(io_err("receive VRRP", e)),
                }
            }
        }
        Ok(total)
    }

    /// Wait until a datagram is queued (on either socket, IPv4 with AH); read it
    /// with [`VrrpSocket::try_recv_batch`].
    pub async fn readable(&self) -> Result<()> {
        let r = match &self.inner {
            Inner::V4 { vrrp, ah: None } | Inner::V6 { vrrp } => vrrp.readable().await.map(drop),
            Inner::V4 { vrrp, ah: Some(ah) } => {
                tokio::select! {
                    r = vrrp.readable() => r.map(drop),
                    r = ah.readable() => r.map(drop),
                }
            }
        };
        r.map_err(|e| io_err("wait for VRRP", e))
    }

    /// The next packet (with the interface it arrived on).
    ///
    /// IPv4 with AH: whichever of the two sockets is ready first; AH packets whose next
    /// header is not VRRP (another user of IPsec on the host) are dropped here.
    pub async fn recv(&self) -> Result<Received> {
        loop {
            self.readable().await?;
            let mut out = None;
            self.try_recv_batch(1, |d| out = Some(d.to_owned()))?;
            if let Some(r) = out {
                return Ok(r);
            }
        }
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

/// Send without waiting; only when the send buffer is full (a burst of adverts
/// ahead of a slow device) wait until there is room, on a duplicate of the
/// descriptor registered for writing just for that wait (the socket itself is
/// registered for reading only, see [`async_fd`]).
async fn send_on(
    fd: &AsyncFd<Socket>,
    mut op: impl FnMut(&Socket) -> io::Result<()>,
) -> io::Result<()> {
    match op(fd.get_ref()) {
        Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
        r => return r,
    }
    let dup = crate::register_for(fd.get_ref().try_clone()?, tokio::io::Interest::WRITABLE)?;
    loop {
        let mut guard = dup.writable().await?;
        match guard.try_io(|s| op(s.get_ref())) {
            Ok(r) => return r,
            Err(_would_block) => continue,
        }
    }
}

/// The queue was read empty: forget the readiness without another read. A datagram
/// that arrives after the read is reported by the next `epoll_wait` (the reactor
/// only learns readiness there), so none is missed.
fn drained(fd: &AsyncFd<Socket>) {
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    if let std::task::Poll::Ready(Ok(mut guard)) = fd.poll_read_ready(&mut cx) {
        guard.clear_ready();
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
