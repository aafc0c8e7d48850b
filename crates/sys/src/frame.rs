//! AF_PACKET sender for whole Ethernet frames (gratuitous ARP, unsolicited NA).

use std::io;
use std::os::fd::AsRawFd;

use socket2::{Domain, Protocol, Socket, Type};

use crate::{Error, Result};

/// AF_PACKET sender for whole Ethernet frames (gratuitous ARP, unsolicited NA).
///
/// One socket serves every interface (the interface is named per send). It is opened
/// with protocol 0, so it receives nothing. It never blocks: a send buffer that is full
/// (say, of an interface whose queue is stuck) is an error (`WouldBlock`) rather than a
/// stalled daemon.
pub struct FrameSender {
    sock: Socket,
}

impl FrameSender {
    pub fn new() -> Result<FrameSender> {
        let what = |step: &str| format!("AF_PACKET socket: {step}");
        let sock =
            Socket::new(Domain::PACKET, Type::RAW, Some(Protocol::from(0))).map_err(|source| {
                Error::Io {
                    what: what("socket"),
                    source,
                }
            })?;
        sock.set_nonblocking(true).map_err(|source| Error::Io {
            what: what("O_NONBLOCK"),
            source,
        })?;
        Ok(FrameSender { sock })
    }

    /// Send `frame` (destination MAC, source MAC, EtherType, payload) out of `ifindex`
    /// as it is.
    pub fn send(&self, ifindex: u32, frame: &[u8]) -> Result<()> {
        let what = || format!("send {}-octet frame on ifindex {ifindex}", frame.len());
        let err = |source| Error::Io {
            what: what(),
            source,
        };
        let (Some(dst), Some(ethertype)) = (frame.get(0..6), frame.get(12..14)) else {
            return Err(err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "shorter than an Ethernet header",
            )));
        };
        let ifindex = libc::c_int::try_from(ifindex)
            .map_err(|_| err(io::Error::new(io::ErrorKind::InvalidInput, "bad ifindex")))?;
        let mut addr = [0u8; 8];
        addr[..6].copy_from_slice(dst);
        let sll = libc::sockaddr_ll {
            sll_family: libc::AF_PACKET as libc::c_ushort,
            // Already in network order: the frame's own EtherType octets.
            sll_protocol: u16::from_ne_bytes([ethertype[0], ethertype[1]]),
            sll_ifindex: ifindex,
            sll_hatype: 0,
            sll_pkttype: 0,
            sll_halen: 6,
            sll_addr: addr,
        };
        // SAFETY: the socket is open for the whole call; `frame` is a live slice whose
        // pointer and length are passed together; `sll` is a fully initialised
        // sockaddr_ll on the stack and the length given is exactly its size.
        let sent = unsafe {
            libc::sendto(
                self.sock.as_raw_fd(),
                frame.as_ptr().cast(),
                frame.len(),
                0,
                std::ptr::from_ref(&sll).cast(),
                std::mem::size_of::<libc::sockaddr_ll>() as libc::socklen_t,
            )
        };
        if sent < 0 {
            return Err(err(io::Error::last_os_error()));
        }
        if sent as usize != frame.len() {
            return Err(err(io::Error::new(
                io::ErrorKind::WriteZero,
                format!("sent {sent} octets"),
            )));
        }
        Ok(())
    }
}

/// AF_PACKET receiver of ARP frames on every interface (EtherType 0x0806), for
/// noticing another host that answers for an address we hold.
pub struct ArpListener {
    fd: tokio::io::unix::AsyncFd<Socket>,
}

/// EtherType of ARP, as the socket protocol wants it (network order).
const ETH_P_ARP: u16 = 0x0806;

/// Classic BPF: accept (up to 64 KiB of) the frame.
const ACCEPT: u32 = 0x1_0000;
/// Ancillary load of the packet type (`SKF_AD_OFF + SKF_AD_PKTTYPE`).
const LOAD_PKTTYPE: u32 = 0xffff_f000 + 4;
/// PACKET_OUTGOING: a frame this host sent.
const PACKET_OUTGOING: u32 = 4;
/// Offset of the ARP sender protocol address (Ethernet header 14 + 14).
const ARP_SPA: u32 = 28;

/// Frames from other hosts with a sender address: replies to our probes and
/// gratuitous ARPs. (Short frames fail the load, which drops them.)
const CLAIMS: [socket2::SockFilter; 6] = [
    bpf(BPF_LD | BPF_B | BPF_ABS, 0, 0, LOAD_PKTTYPE),
    bpf(BPF_JMP | BPF_JEQ | BPF_K, 3, 0, PACKET_OUTGOING),
    bpf(BPF_LD | BPF_W | BPF_ABS, 0, 0, ARP_SPA),
    bpf(BPF_JMP | BPF_JEQ | BPF_K, 1, 0, 0),
    bpf(BPF_RET | BPF_K, 0, 0, ACCEPT),
    bpf(BPF_RET | BPF_K, 0, 0, 0),
];

/// Receive buffer while listening (the usual default, 208 KiB, and a little more).
const ROOM: usize = 256 << 10;

const BPF_LD: u16 = 0x00;
const BPF_JMP: u16 = 0x05;
const BPF_RET: u16 = 0x06;
const BPF_W: u16 = 0x00;
const BPF_B: u16 = 0x10;
const BPF_ABS: u16 = 0x20;
const BPF_JEQ: u16 = 0x10;
const BPF_K: u16 = 0x00;

const fn bpf(code: u16, jt: u8, jf: u8, k: u32) -> socket2::SockFilter {
    socket2::SockFilter::new(code, jt, jf, k)
}

impl ArpListener {
    /// Must be called inside a tokio runtime.
    pub fn new() -> Result<ArpListener> {
        let what = |step: &str| format!("AF_PACKET ARP socket: {step}");
        let proto = i32::from(ETH_P_ARP.to_be());
        let sock = Socket::new(Domain::PACKET, Type::RAW, Some(Protocol::from(proto))).map_err(
            |source| Error::Io {
                what: what("socket"),
                source,
            },
        )?;
        sock.set_nonblocking(true).map_err(|source| Error::Io {
            what: what("O_NONBLOCK"),
            source,
        })?;
        sock.attach_filter(&CLAIMS).map_err(|source| Error::Io {
            what: what("filter"),
            source,
        })?;
        let listener = ArpListener {
            fd: crate::register(sock).map_err(|source| Error::Io {
                what: what("register with the runtime"),
                source,
            })?,
        };
        listener.listen(false)?;
        Ok(listener)
    }

    /// Whether frames are kept for [`ArpListener::recv`]. The filter, attached once
    /// (each attach has the kernel compile it, with calls across CPUs), always drops
    /// our own transmissions and probes (sender address 0.0.0.0, which claim
    /// nothing). Off, as it starts, the receive buffer is the least the kernel
    /// allows, so all but the first few frames are dropped before they are queued:
    /// a host that holds no VIP has no claim to check, and 200 VIPs probed every 10 s
    /// are 20 frames a second. The caller stops reading while off, so those few wake
    /// no one again. On, the buffer is restored and what was queued before is
    /// thrown away (heard while nothing was held, it is stale).
    pub fn listen(&self, on: bool) -> Result<()> {
        let s = self.fd.get_ref();
        s.set_recv_buffer_size(if on { ROOM } else { 0 })
            .map_err(|source| Error::Io {
                what: format!("ARP socket: SO_RCVBUF ({})", if on { "on" } else { "off" }),
                source,
            })?;
        if on {
            let mut buf = [0u8; 64];
            // Bounded: at most what the small buffer held, and what arrived since.
            for _ in 0..256 {
                let r = nix::sys::socket::recv(
                    s.as_raw_fd(),
                    &mut buf,
                    nix::sys::socket::MsgFlags::MSG_DONTWAIT
                        | nix::sys::socket::MsgFlags::MSG_TRUNC,
                );
                if r.is_err() {
                    break;
                }
            }
        }
        Ok(())
    }

    /// The next ARP frame (whole, Ethernet header first) and the interface it came in
    /// on. Frames this host sent itself are skipped.
    pub async fn recv(&self) -> Result<(u32, Vec<u8>)> {
        use nix::sys::socket::{recvfrom, LinkAddr};
        loop {
            let mut guard = self.fd.readable().await.map_err(|source| Error::Io {
                what: "ARP socket: wait".into(),
                source,
            })?;
            let mut buf = [0u8; 1600];
            let r = guard.try_io(|s| {
                recvfrom::<LinkAddr>(s.get_ref().as_raw_fd(), &mut buf).map_err(io::Error::from)
            });
            match r {
                Ok(Ok((n, Some(from)))) => {
                    // PACKET_OUTGOING (4): our own transmissions.
                    if from.pkttype() == 4 {
                        continue;
                    }
                    let ifindex = u32::try_from(from.ifindex()).unwrap_or(0);
                    return Ok((ifindex, buf.get(..n).unwrap_or(&[]).to_vec()));
                }
                Ok(Ok((_, None))) => continue,
                Ok(Err(source)) => {
                    return Err(Error::Io {
                        what: "ARP socket: recv".into(),
                        source,
                    })
                }
                Err(_would_block) => continue,
            }
        }
    }
}
