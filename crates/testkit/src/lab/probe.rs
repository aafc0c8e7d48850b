//! The client's view of a VIP: ICMP echoes on a fixed schedule (every 2 ms if need
//! be, which `ping -i` cannot do here) from a host's namespace, each with its send
//! and reply time on the wall clock (CLOCK_REALTIME, which every namespace shares,
//! so it lines up with capture timestamps), and the longest gap between replies.

use super::{Error, Result};
use std::net::{Ipv4Addr, SocketAddrV4};
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Wall-clock time since the epoch.
pub fn now() -> Duration {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// What the client saw: the longest run without a reply in a window.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Gap {
    /// The last reply before the gap.
    pub before: Duration,
    /// The first reply after it.
    pub after: Duration,
    /// Echoes sent in between that got no reply.
    pub lost: usize,
    /// Echoes sent in between.
    pub sent: usize,
}

impl Gap {
    pub fn secs(&self) -> f64 {
        self.after.saturating_sub(self.before).as_secs_f64()
    }
}

/// One ICMP echo of the probe.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Echo {
    pub seq: u16,
    pub sent: Duration,
    pub reply: Option<Duration>,
}

/// The longest time between two consecutive replies received in `[from, to]`, and
/// the echoes sent in it. `None` with fewer than two replies in the window.
pub fn longest_gap(echoes: &[Echo], from: Duration, to: Duration) -> Option<Gap> {
    let mut replies: Vec<Duration> = echoes
        .iter()
        .filter_map(|e| e.reply)
        .filter(|r| *r >= from && *r <= to)
        .collect();
    replies.sort();
    let (before, after) = replies
        .windows(2)
        .map(|w| (w[0], w[1]))
        .max_by_key(|(a, b)| *b - *a)?;
    let inside: Vec<&Echo> = echoes
        .iter()
        .filter(|e| e.sent > before && e.sent < after)
        .collect();
    let lost = inside
        .iter()
        .filter(|e| e.reply.is_none_or(|r| r > after))
        .count();
    Some(Gap {
        before,
        after,
        lost,
        sent: inside.len(),
    })
}

/// ICMP echoes to one address on a fixed schedule from a host's namespace, with
/// every echo's send and reply time; stopped when dropped.
pub struct Probe {
    stop: Arc<AtomicBool>,
    echoes: Arc<Mutex<Vec<Echo>>>,
    thread: Option<JoinHandle<()>>,
}

impl Probe {
    /// Start probing `target` every `every` from namespace `ns`.
    pub fn start(ns: &str, target: Ipv4Addr, every: Duration) -> Result<Probe> {
        let stop = Arc::new(AtomicBool::new(false));
        let echoes = Arc::new(Mutex::new(Vec::new()));
        let (ready_tx, ready_rx) = mpsc::channel();
        let path = format!("/run/netns/{ns}");
        let thread = {
            let (stop, echoes) = (stop.clone(), echoes.clone());
            std::thread::spawn(move || {
                // setns affects only this thread: its socket is the client's.
                let socket = enter_netns(&path).and_then(|()| icmp_socket());
                match socket {
                    Ok(fd) => {
                        let _ = ready_tx.send(Ok(()));
                        probe_loop(&fd, target, every, &stop, &echoes);
                    }
                    Err(e) => {
                        let _ = ready_tx.send(Err(e));
                    }
                }
            })
        };
        match ready_rx.recv_timeout(Duration::from_secs(5)) {
            Ok(Ok(())) => Ok(Probe {
                stop,
                echoes,
                thread: Some(thread),
            }),
            Ok(Err(e)) => Err(e),
            Err(_) => Err(Error::Invalid("the probe thread did not start".into())),
        }
    }

    /// Every echo so far.
    pub fn echoes(&self) -> Vec<Echo> {
        lock(&self.echoes).clone()
    }

    /// Whether a reply came after `t` (wall-clock time since the epoch).
    pub fn replied_after(&self, t: Duration) -> bool {
        lock(&self.echoes)
            .iter()
            .any(|e| e.reply.is_some_and(|r| r > t))
    }
}

impl Drop for Probe {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn enter_netns(path: &str) -> Result<()> {
    let f = std::fs::File::open(path).map_err(|source| Error::Io {
        what: format!("open {path}"),
        source,
    })?;
    nix::sched::setns(&f, nix::sched::CloneFlags::CLONE_NEWNET).map_err(|errno| Error::Sys {
        what: format!("setns {path}"),
        errno,
    })
}

fn icmp_socket() -> Result<std::os::fd::OwnedFd> {
    use nix::sys::socket::{socket, AddressFamily, SockFlag, SockProtocol, SockType};
    socket(
        AddressFamily::Inet,
        SockType::Raw,
        SockFlag::SOCK_CLOEXEC | SockFlag::SOCK_NONBLOCK,
        SockProtocol::Icmp,
    )
    .map_err(|errno| Error::Sys {
        what: "raw ICMP socket".into(),
        errno,
    })
}

/// An ICMP echo request (type 8) with its checksum.
fn echo_request(ident: u16, seq: u16) -> Vec<u8> {
    let mut msg = vec![8, 0, 0, 0];
    msg.extend_from_slice(&ident.to_be_bytes());
    msg.extend_from_slice(&seq.to_be_bytes());
    msg.extend_from_slice(b"keepup probe");
    let c = keepup_wire::checksum::checksum(&msg);
    msg[2..4].copy_from_slice(&c.to_be_bytes());
    msg
}

/// The sequence number of an echo reply (type 0) from `target` with our `ident`, in
/// what a raw IPv4 socket hands over (the IP header first).
fn echo_reply_seq(got: &[u8], target: Ipv4Addr, ident: u16) -> Option<u16> {
    let ihl = usize::from(got.first()? & 0x0f) * 4;
    let src: [u8; 4] = got.get(12..16)?.try_into().ok()?;
    let icmp = got.get(ihl..)?;
    let ok = Ipv4Addr::from(src) == target
        && *icmp.first()? == 0
        && icmp.get(4..6)? == ident.to_be_bytes();
    ok.then_some(u16::from_be_bytes([*icmp.get(6)?, *icmp.get(7)?]))
}

/// Send an echo every `every` on schedule; take in replies as they come. The socket
/// is non-blocking and the loop naps at most 1 ms (nanosleep is precise, a socket's
/// receive timeout rounds up to the scheduler tick), so a reply's time is known to
/// about a millisecond.
fn probe_loop(
    fd: &std::os::fd::OwnedFd,
    target: Ipv4Addr,
    every: Duration,
    stop: &AtomicBool,
    echoes: &Mutex<Vec<Echo>>,
) {
    use nix::sys::socket::{recvfrom, sendto, MsgFlags, SockaddrStorage};
    let ident = (std::process::id() as u16) ^ 0x6b75;
    let dest = SockaddrStorage::from(SocketAddrV4::new(target, 0));
    let mut seq: u16 = 0;
    let mut next = Instant::now();
    let mut buf = [0u8; 1500];
    while !stop.load(Ordering::SeqCst) {
        if Instant::now() >= next {
            seq = seq.wrapping_add(1);
            // No route or a full queue is just an echo without a reply.
            let _ = sendto(
                fd.as_raw_fd(),
                &echo_request(ident, seq),
                &dest,
                MsgFlags::empty(),
            );
            lock(echoes).push(Echo {
                seq,
                sent: now(),
                reply: None,
            });
            next += every;
        }
        while let Ok((n, _)) = recvfrom::<SockaddrStorage>(fd.as_raw_fd(), &mut buf) {
            let at = now();
            if let Some(s) = echo_reply_seq(buf.get(..n).unwrap_or(&[]), target, ident) {
                let mut e = lock(echoes);
                if let Some(e) = e.iter_mut().rev().find(|e| e.seq == s) {
                    e.reply.get_or_insert(at);
                }
            }
        }
        let nap = next
            .saturating_duration_since(Instant::now())
            .min(Duration::from_millis(1));
        std::thread::sleep(nap);
    }
}
