//! Process events from the kernel's process connector (NETLINK_CONNECTOR,
//! CN_IDX_PROC): fork, exec, comm (name) change and exit, with their pids.
//!
//! The connector exists only in the initial network namespace, and the kernel only
//! accepts listeners from the initial user and pid namespaces. A daemon started
//! inside another network namespace (`ip netns exec`) still lives in the host's
//! process table, so when the socket cannot be opened where we are, it is opened in
//! the initial network namespace by a short-lived thread that enters it (`setns`
//! moves only the calling thread; the socket keeps the namespace it was made in).

use std::collections::VecDeque;
use std::io;
use std::os::fd::AsFd;

use netlink_sys::{protocols::NETLINK_CONNECTOR, Socket, SocketAddr};
use tokio::io::unix::AsyncFd;

use crate::{Error, Result};

/// `CN_IDX_PROC` / `CN_VAL_PROC` (linux/connector.h).
const CN_IDX_PROC: u32 = 1;
const CN_VAL_PROC: u32 = 1;
/// `PROC_CN_MCAST_LISTEN` (linux/cn_proc.h).
const PROC_CN_MCAST_LISTEN: u32 = 1;

/// `enum what` of `struct proc_event`.
const PROC_EVENT_NONE: u32 = 0;
const PROC_EVENT_FORK: u32 = 1;
const PROC_EVENT_EXEC: u32 = 2;
const PROC_EVENT_COMM: u32 = 0x200;
const PROC_EVENT_EXIT: u32 = 0x8000_0000;

const NLMSG_HDRLEN: usize = 16;
/// `struct cn_msg` without its data.
const CN_MSG_LEN: usize = 20;
/// `what`, `cpu`, `timestamp_ns` of `struct proc_event`.
const PROC_EVENT_HDR: usize = 16;

/// Receive buffer asked for: a fork storm (a build) must not overflow it at once.
const RCVBUF: usize = 4 << 20;

/// One event. Pids are the kernel's: `pid` is the thread, `tgid` the process.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProcEvent {
    /// A new task. A process when `child_pid == child_tgid`, else a thread.
    Fork {
        parent_tgid: i32,
        child_pid: i32,
        child_tgid: i32,
    },
    /// A task called execve (its name and command line may have changed).
    Exec { pid: i32, tgid: i32 },
    /// A task's name (`comm`) changed: prctl(PR_SET_NAME) or /proc/PID/comm.
    Comm { pid: i32, tgid: i32, comm: String },
    /// A task ended. The process is gone when `pid == tgid`.
    Exit { pid: i32, tgid: i32 },
    /// The kernel dropped events (the socket overflowed, ENOBUFS): whoever keeps
    /// state from these events must read /proc afresh.
    Lost,
}

/// A subscription to process events.
pub struct ProcessMonitor {
    fd: AsyncFd<Socket>,
    pending: VecDeque<ProcEvent>,
    initial_ns: bool,
}

impl ProcessMonitor {
    /// Subscribe. Tries this network namespace first, then the initial one. Fails
    /// when the kernel lacks CONFIG_PROC_EVENTS, when we may not listen (not root,
    /// or in a user/pid namespace other than the initial ones), or outside a tokio
    /// runtime.
    pub fn new() -> Result<ProcessMonitor> {
        let (sock, initial_ns) = match subscribe() {
            Ok(s) => (s, false),
            Err(e) if e.raw_os_error() == Some(libc::ECONNREFUSED) => (
                subscribe_in_initial_netns().map_err(|source| {
                    io_err("subscribe in the initial network namespace", source)
                })?,
                true,
            ),
            Err(source) => return Err(io_err("subscribe", source)),
        };
        sock.set_non_blocking(true)
            .map_err(|e| io_err("O_NONBLOCK", e))?;
        let fd = crate::register(sock).map_err(|e| io_err("register with the runtime", e))?;
        Ok(ProcessMonitor {
            fd,
            pending: VecDeque::new(),
            initial_ns,
        })
    }

    /// Whether the socket had to be opened in the initial network namespace (we run
    /// in another one).
    pub fn in_initial_namespace(&self) -> bool {
        self.initial_ns
    }

    /// The next event. Cancel safe: events read but not yet returned are kept.
    pub async fn next(&mut self) -> Result<ProcEvent> {
        let mut buf = Vec::with_capacity(8192);
        loop {
            if let Some(e) = self.pending.pop_front() {
                return Ok(e);
            }
            let mut guard = self.fd.readable().await.map_err(|e| io_err("wait", e))?;
            buf.clear();
            match guard.try_io(|s| s.get_ref().recv_from(&mut buf, 0)) {
                Err(_would_block) => continue,
                // Only the kernel (port 0) speaks for the connector; anyone else
                // could forge an exit.
                Ok(Ok((_, from))) if from.port_number() != 0 => continue,
                Ok(Ok(_)) => self
                    .pending
                    .extend(parse(&buf).into_iter().filter_map(|m| match m {
                        Message::Event(e) => Some(e),
                        Message::Ack { .. } => None,
                    })),
                Ok(Err(e)) if e.raw_os_error() == Some(libc::ENOBUFS) => {
                    return Ok(ProcEvent::Lost)
                }
                Ok(Err(e)) => return Err(io_err("receive", e)),
            }
        }
    }
}

fn io_err(step: &str, source: io::Error) -> Error {
    Error::Io {
        what: format!("process connector: {step}"),
        source,
    }
}

/// Open, bind to the proc group, ask to listen, and wait for the kernel's answer.
fn subscribe() -> io::Result<Socket> {
    let mut s = Socket::new(NETLINK_CONNECTOR)?;
    s.bind(&SocketAddr::new(0, CN_IDX_PROC))?;
    let _ = s.set_rx_buf_sz(RCVBUF);
    // The kernel answers with ack + 1; a value of our own tells our answer from
    // another listener's (answers go to the whole group).
    let ack = std::process::id() ^ 0x6b70_0000;
    s.send(&listen_request(ack), 0)?;
    // The answer comes at once; a kernel that ignores us (a listener outside the
    // initial user or pid namespace) never answers.
    let timeout = nix::sys::time::TimeVal::new(2, 0);
    nix::sys::socket::setsockopt(
        &s.as_fd(),
        nix::sys::socket::sockopt::ReceiveTimeout,
        &timeout,
    )
    .map_err(io::Error::from)?;
    let mut buf = Vec::with_capacity(8192);
    loop {
        buf.clear();
        let (_, from) = match s.recv_from(&mut buf, 0) {
            Ok(r) => r,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                return Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    "the kernel did not answer the listen request (not in the initial user/pid namespace?)",
                ))
            }
            Err(e) if e.raw_os_error() == Some(libc::ENOBUFS) => continue,
            Err(e) => return Err(e),
        };
        if from.port_number() != 0 {
            continue;
        }
        for m in parse(&buf) {
            if let Message::Ack { ack: a, err } = m {
                if a == ack.wrapping_add(1) {
                    if err != 0 {
                        return Err(io::Error::from_raw_os_error(err as i32));
                    }
                    let none = nix::sys::time::TimeVal::new(0, 0);
                    nix::sys::socket::setsockopt(
                        &s.as_fd(),
                        nix::sys::socket::sockopt::ReceiveTimeout,
                        &none,
                    )
                    .map_err(io::Error::from)?;
                    return Ok(s);
                }
            }
        }
    }
}

/// `subscribe` on a thread that has entered the initial network namespace.
fn subscribe_in_initial_netns() -> io::Result<Socket> {
    // Kernel threads always live in the initial namespaces; pid 2 is kthreadd in
    // the initial pid namespace (the only one the connector serves anyway).
    let is_kthreadd = std::fs::read_to_string("/proc/2/comm").is_ok_and(|c| c.trim() == "kthreadd");
    let path = if is_kthreadd {
        "/proc/2/ns/net"
    } else {
        "/proc/1/ns/net"
    };
    std::thread::spawn(move || {
        let ns = std::fs::File::open(path)?;
        nix::sched::setns(&ns, nix::sched::CloneFlags::CLONE_NEWNET).map_err(io::Error::from)?;
        subscribe()
    })
    .join()
    .map_err(|_| io::Error::other("namespace thread panicked"))?
}

/// nlmsghdr + cn_msg + PROC_CN_MCAST_LISTEN, in host byte order.
fn listen_request(ack: u32) -> Vec<u8> {
    let total = NLMSG_HDRLEN + CN_MSG_LEN + 4;
    let mut m = Vec::with_capacity(total);
    m.extend_from_slice(&(total as u32).to_ne_bytes());
    m.extend_from_slice(&(libc::NLMSG_DONE as u16).to_ne_bytes());
    m.extend_from_slice(&0u16.to_ne_bytes()); // flags
    m.extend_from_slice(&0u32.to_ne_bytes()); // seq
    m.extend_from_slice(&0u32.to_ne_bytes()); // port: the kernel fills it in
    m.extend_from_slice(&CN_IDX_PROC.to_ne_bytes());
    m.extend_from_slice(&CN_VAL_PROC.to_ne_bytes());
    m.extend_from_slice(&0u32.to_ne_bytes()); // cn seq
    m.extend_from_slice(&ack.to_ne_bytes());
    m.extend_from_slice(&4u16.to_ne_bytes()); // data length
    m.extend_from_slice(&0u16.to_ne_bytes()); // cn flags
    m.extend_from_slice(&PROC_CN_MCAST_LISTEN.to_ne_bytes());
    m
}

#[derive(Debug, PartialEq, Eq)]
enum Message {
    Event(ProcEvent),
    /// The answer to a listen request (`what` NONE): the request's ack + 1, errno.
    Ack {
        ack: u32,
        err: u32,
    },
}

fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    let bytes: [u8; 4] = b.get(at..at + 4)?.try_into().ok()?;
    Some(u32::from_ne_bytes(bytes))
}

fn i32_at(b: &[u8], at: usize) -> Option<i32> {
    u32_at(b, at).map(|v| v as i32)
}

/// The connector messages in one datagram; anything short or foreign is skipped.
fn parse(buf: &[u8]) -> Vec<Message> {
    let mut out = Vec::new();
    let mut off = 0;
    while let Some(len) = u32_at(buf, off) {
        let len = len as usize;
        if len < NLMSG_HDRLEN || off + len > buf.len() {
            break;
        }
        if let Some(m) = parse_one(&buf[off + NLMSG_HDRLEN..off + len]) {
            out.push(m);
        }
        off += (len + 3) & !3;
    }
    out
}

/// One `cn_msg` carrying a `proc_event`.
fn parse_one(cn: &[u8]) -> Option<Message> {
    if u32_at(cn, 0)? != CN_IDX_PROC || u32_at(cn, 4)? != CN_VAL_PROC {
        return None;
    }
    let ack = u32_at(cn, 12)?;
    let ev = cn.get(CN_MSG_LEN..)?;
    let what = u32_at(ev, 0)?;
    let d = ev.get(PROC_EVENT_HDR..)?;
    Some(match what {
        PROC_EVENT_NONE => Message::Ack {
            ack,
            err: u32_at(d, 0)?,
        },
        PROC_EVENT_FORK => Message::Event(ProcEvent::Fork {
            parent_tgid: i32_at(d, 4)?,
            child_pid: i32_at(d, 8)?,
            child_tgid: i32_at(d, 12)?,
        }),
        PROC_EVENT_EXEC => Message::Event(ProcEvent::Exec {
            pid: i32_at(d, 0)?,
            tgid: i32_at(d, 4)?,
        }),
        PROC_EVENT_COMM => {
            let raw = d.get(8..24)?;
            let end = raw.iter().position(|&c| c == 0).unwrap_or(raw.len());
            Message::Event(ProcEvent::Comm {
                pid: i32_at(d, 0)?,
                tgid: i32_at(d, 4)?,
                comm: String::from_utf8_lossy(&raw[..end]).into_owned(),
            })
        }
        PROC_EVENT_EXIT => Message::Event(ProcEvent::Exit {
            pid: i32_at(d, 0)?,
            tgid: i32_at(d, 4)?,
        }),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A kernel message: nlmsghdr + cn_msg + proc_event header + `data`.
    fn msg(what: u32, ack: u32, data: &[u8]) -> Vec<u8> {
        let mut ev = Vec::new();
        ev.extend_from_slice(&what.to_ne_bytes());
        ev.extend_from_slice(&1u32.to_ne_bytes()); // cpu
        ev.extend_from_slice(&123u64.to_ne_bytes());
        ev.extend_from_slice(data);
        let mut cn = Vec::new();
        for v in [CN_IDX_PROC, CN_VAL_PROC, 7, ack] {
            cn.extend_from_slice(&v.to_ne_bytes());
        }
        cn.extend_from_slice(&(ev.len() as u16).to_ne_bytes());
        cn.extend_from_slice(&0u16.to_ne_bytes());
        cn.extend_from_slice(&ev);
        let total = NLMSG_HDRLEN + cn.len();
        let mut m = Vec::new();
        m.extend_from_slice(&(total as u32).to_ne_bytes());
        m.extend_from_slice(&3u16.to_ne_bytes());
        m.extend_from_slice(&0u16.to_ne_bytes());
        m.extend_from_slice(&[0; 8]);
        m.extend_from_slice(&cn);
        while m.len() % 4 != 0 {
            m.push(0);
        }
        m
    }

    fn words(v: &[i32]) -> Vec<u8> {
        v.iter().flat_map(|x| x.to_ne_bytes()).collect()
    }

    #[test]
    fn parses_each_event_kind() {
        let mut comm = words(&[42, 40]);
        comm.extend_from_slice(b"kpchk\0\0\0\0\0\0\0\0\0\0\0");
        let mut buf = msg(PROC_EVENT_FORK, 0, &words(&[10, 10, 11, 11]));
        buf.extend(msg(PROC_EVENT_EXEC, 0, &words(&[11, 11])));
        buf.extend(msg(PROC_EVENT_COMM, 0, &comm));
        buf.extend(msg(PROC_EVENT_EXIT, 0, &words(&[11, 11, 0, 17, 10, 10])));
        buf.extend(msg(PROC_EVENT_NONE, 5, &words(&[0])));
        buf.extend(msg(0x4, 0, &words(&[1, 1, 0, 0]))); // uid change: ignored
        assert_eq!(
            parse(&buf),
            [
                Message::Event(ProcEvent::Fork {
                    parent_tgid: 10,
                    child_pid: 11,
                    child_tgid: 11
                }),
                Message::Event(ProcEvent::Exec { pid: 11, tgid: 11 }),
                Message::Event(ProcEvent::Comm {
                    pid: 42,
                    tgid: 40,
                    comm: "kpchk".into()
                }),
                Message::Event(ProcEvent::Exit { pid: 11, tgid: 11 }),
                Message::Ack { ack: 5, err: 0 },
            ]
        );
    }

    #[test]
    fn short_or_garbage_input_is_skipped_not_a_panic() {
        let full = msg(PROC_EVENT_EXIT, 0, &words(&[11, 11, 0, 17]));
        for n in 0..full.len() {
            let _ = parse(&full[..n]);
        }
        assert!(parse(&full[..full.len() - 20]).is_empty());
        let mut bad = full.clone();
        bad[0..4].copy_from_slice(&3u32.to_ne_bytes()); // length below a header
        assert!(parse(&bad).is_empty());
        let mut other = full;
        other[16..20].copy_from_slice(&9u32.to_ne_bytes()); // another connector
        assert!(parse(&other).is_empty());
    }

    #[test]
    fn listen_request_layout() {
        let r = listen_request(9);
        assert_eq!(r.len(), 40);
        assert_eq!(u32_at(&r, 0), Some(40));
        assert_eq!(u32_at(&r, 16), Some(CN_IDX_PROC));
        assert_eq!(u32_at(&r, 28), Some(9));
        assert_eq!(u32_at(&r, 36), Some(PROC_CN_MCAST_LISTEN));
    }

    #[test]
    fn outside_a_runtime_is_an_error_not_a_panic() {
        assert!(ProcessMonitor::new().is_err());
    }
}
