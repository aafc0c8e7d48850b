//! Named network namespaces: listing, the processes inside one, doing work inside one
//! from a thread of our own (setns affects only the calling thread), ICMP echo, and
//! the sweep of leftovers from dead runs.
use std::fs::File;
use std::net::{IpAddr, SocketAddrV4, SocketAddrV6};
use std::os::fd::AsRawFd;
use std::process::Command;
use std::sync::atomic::{AtomicU16, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use nix::errno::Errno;
use nix::sched::{setns, CloneFlags};
use nix::sys::signal::Signal;
use nix::sys::socket::{
    recvfrom, sendto, setsockopt, socket, sockopt, AddressFamily, MsgFlags, SockFlag, SockProtocol,
    SockType, SockaddrStorage,
};
use nix::sys::time::TimeVal;

use super::process::{alive, lock, signal_pid, POLL};
use super::{cmd, wait_until, Error, Result};

/// Names of all named namespaces (`ip netns list`; the first word of each line).
pub fn list() -> Result<Vec<String>> {
    let out = cmd::ip(["netns", "list"])?;
    Ok(out
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .map(str::to_owned)
        .collect())
}

/// PIDs of the processes inside namespace `ns`.
pub(crate) fn pids(ns: &str) -> Vec<u32> {
    cmd::ip(["netns", "pids", ns])
        .map(|s| s.lines().filter_map(|l| l.trim().parse().ok()).collect())
        .unwrap_or_default()
}

/// Serialises `ip netns add`: the first one on a fresh machine sets up the shared
/// /run/netns mount, and two doing that at once can fail.
static NETNS_ADD: std::sync::Mutex<()> = std::sync::Mutex::new(());

pub(crate) fn add(ns: &str) -> Result<()> {
    let _guard = lock(&NETNS_ADD);
    match cmd::ip(["netns", "add", ns]) {
        Ok(_) => Ok(()),
        Err(first) => {
            std::thread::sleep(Duration::from_millis(100));
            cmd::ip(["netns", "add", ns]).map(drop).map_err(|_| first)
        }
    }
}

/// End every process inside `ns` (they can only be ours: the namespace is), SIGTERM
/// then SIGKILL after `grace`, then delete the namespace. Errors are reported, not
/// returned: this runs in `Drop`.
pub(crate) fn remove(ns: &str, grace: Duration) {
    let stragglers = pids(ns);
    if !stragglers.is_empty() {
        for &p in &stragglers {
            signal_pid(p, Signal::SIGTERM);
        }
        wait_until(grace, POLL, || stragglers.iter().all(|&p| !alive(p)));
        for &p in &stragglers {
            signal_pid(p, Signal::SIGKILL);
        }
    }
    if let Err(e) = cmd::ip(["netns", "del", ns]) {
        eprintln!("lab: {e}");
    }
}

/// Run `f` on a thread that has entered namespace `ns`. Sockets it opens and
/// /proc/sys/net files it writes are the namespace's.
pub(crate) fn in_netns<T, F>(ns: &str, f: F) -> Result<T>
where
    T: Send,
    F: FnOnce() -> Result<T> + Send,
{
    let path = format!("/run/netns/{ns}");
    std::thread::scope(|s| {
        s.spawn(|| {
            let file = File::open(&path).map_err(|source| Error::Io {
                what: format!("open {path}"),
                source,
            })?;
            setns(&file, CloneFlags::CLONE_NEWNET).map_err(|errno| Error::Sys {
                what: format!("setns {path}"),
                errno,
            })?;
            f()
        })
        .join()
        .unwrap_or_else(|_| {
            Err(Error::Invalid(format!(
                "a thread working in namespace {ns} panicked"
            )))
        })
    })
}

/// Write a sysctl in the current thread's namespace. `key` is dotted
/// (`net.ipv6.conf.all.accept_dad`) or a path under /proc/sys (needed when an
/// interface name holds a dot: `net/ipv4/conf/eth0.1/arp_ignore`).
pub(crate) fn write_sysctl(key: &str, value: &str) -> Result<()> {
    let rel = if key.contains('/') {
        key.to_owned()
    } else {
        key.replace('.', "/")
    };
    let path = format!("/proc/sys/{rel}");
    std::fs::write(&path, value).map_err(|source| Error::Io {
        what: format!("write {value:?} to {path}"),
        source,
    })
}

static PING_ID: AtomicU16 = AtomicU16::new(0);

/// ICMP echo to `target` from the current thread's namespace, resent every 200 ms,
/// until a matching reply (same identifier, sequence and payload) or `timeout`.
/// `scope` names the interface for an IPv6 link-local target.
pub(crate) fn ping(target: IpAddr, scope: Option<&str>, timeout: Duration) -> Result<bool> {
    let v6 = target.is_ipv6();
    let (family, proto) = if v6 {
        (AddressFamily::Inet6, SockProtocol::IcmpV6)
    } else {
        (AddressFamily::Inet, SockProtocol::Icmp)
    };
    let sys = |what: &str| {
        let what = what.to_owned();
        move |errno| Error::Sys { what, errno }
    };
    let fd = socket(family, SockType::Raw, SockFlag::SOCK_CLOEXEC, proto)
        .map_err(sys("raw ICMP socket"))?;
    let ident = (std::process::id() as u16) ^ PING_ID.fetch_add(0x101, Ordering::Relaxed);
    let token = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_nanos()
        .to_be_bytes();
    let token = &token[8..];
    let dest: SockaddrStorage = match target {
        IpAddr::V4(a) => SocketAddrV4::new(a, 0).into(),
        IpAddr::V6(a) => {
            let scope_id = match scope {
                Some(dev) => {
                    nix::net::if_::if_nametoindex(dev).map_err(sys(&format!("interface {dev}")))?
                }
                None => 0,
            };
            SocketAddrV6::new(a, 0, 0, scope_id).into()
        }
    };
    let deadline = Instant::now() + timeout;
    let mut seq: u16 = 0;
    let mut buf = [0u8; 2048];
    while Instant::now() < deadline {
        seq = seq.wrapping_add(1);
        let mut msg = vec![if v6 { 128 } else { 8 }, 0, 0, 0];
        msg.extend_from_slice(&ident.to_be_bytes());
        msg.extend_from_slice(&seq.to_be_bytes());
        msg.extend_from_slice(token);
        if !v6 {
            // The kernel fills the ICMPv6 checksum of a raw socket, not the ICMP one.
            let c = keepup_wire::checksum::checksum(&msg);
            msg[2..4].copy_from_slice(&c.to_be_bytes());
        }
        // An unreachable target (no route, link down) is an error here; it is also
        // just no reply, so keep trying until the deadline.
        let sent = sendto(fd.as_raw_fd(), &msg, &dest, MsgFlags::empty()).is_ok();
        let resend = (Instant::now() + Duration::from_millis(200)).min(deadline);
        loop {
            let now = Instant::now();
            if now >= resend {
                break;
            }
            if !sent {
                std::thread::sleep(resend - now);
                break;
            }
            let wait = (resend - now).max(Duration::from_millis(1));
            let tv = TimeVal::new(wait.as_secs() as _, wait.subsec_micros().max(1) as _);
            setsockopt(&fd, sockopt::ReceiveTimeout, &tv).map_err(sys("SO_RCVTIMEO"))?;
            match recvfrom::<SockaddrStorage>(fd.as_raw_fd(), &mut buf) {
                Ok((n, from)) => {
                    let got = buf.get(..n).unwrap_or(&[]);
                    if is_reply(got, from, target, ident, seq, token) {
                        return Ok(true);
                    }
                }
                Err(Errno::EAGAIN | Errno::EINTR) => {}
                Err(e) => return Err(sys("recvfrom")(e)),
            }
        }
    }
    Ok(false)
}

fn is_reply(
    got: &[u8],
    from: Option<SockaddrStorage>,
    target: IpAddr,
    ident: u16,
    seq: u16,
    token: &[u8],
) -> bool {
    let (icmp, src, reply_type) = match target {
        IpAddr::V4(_) => {
            // A raw IPv4 socket hands over the IP header too.
            let ihl = usize::from(got.first().map_or(0, |b| b & 0x0f)) * 4;
            let src = got
                .get(12..16)
                .and_then(|s| <[u8; 4]>::try_from(s).ok())
                .map(IpAddr::from);
            (got.get(ihl..).unwrap_or(&[]), src, 0)
        }
        IpAddr::V6(_) => {
            let src = from
                .as_ref()
                .and_then(|a| a.as_sockaddr_in6())
                .map(|a| IpAddr::V6(a.ip()));
            (got, src, 129)
        }
    };
    src == Some(target)
        && icmp.first() == Some(&reply_type)
        && icmp.get(4..6) == Some(&ident.to_be_bytes()[..])
        && icmp.get(6..8) == Some(&seq.to_be_bytes()[..])
        && icmp.get(8..8 + token.len()) == Some(token)
}

/// The PID a lab name was made by, if `name` is of our family:
/// `ku<pid in hex>-<counter>` followed by `-` (namespaces) or the end.
pub(crate) fn owner_pid(name: &str) -> Option<u32> {
    let rest = name.strip_prefix("ku")?;
    let (pid, rest) = rest.split_once('-')?;
    if pid.is_empty() || pid.len() > 8 || !pid.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    if pid.bytes().any(|b| b.is_ascii_uppercase()) {
        return None;
    }
    let counter = rest.split('-').next()?;
    if counter.is_empty() || !counter.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    u32::from_str_radix(pid, 16).ok()
}

/// What [`sweep`] removed.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Swept {
    pub namespaces: Vec<String>,
    pub processes: Vec<u32>,
    pub dirs: Vec<std::path::PathBuf>,
}

/// Remove what dead earlier runs left: namespaces named `ku<pid>-<n>-...` whose
/// `<pid>` is no longer alive (ending the processes still inside them first), and
/// their temp dirs `/tmp/keepup-lab-ku<pid>-<n>-...` (kept when `KEEPUP_KEEP_LAB=1`
/// is set, as a kept lab's files are meant to be read). Nothing else is touched.
/// [`super::Lab::new`] runs it once per process.
pub fn sweep() -> Result<Swept> {
    let mut swept = Swept::default();
    let me = std::process::id();
    let dead = |pid: u32| pid != me && !alive(pid);
    for ns in list()? {
        if owner_pid(&ns).is_some_and(dead) {
            let inside = pids(&ns);
            remove(&ns, Duration::from_millis(500));
            swept.processes.extend(inside);
            swept.namespaces.push(ns);
        }
    }
    if !super::keep_files() {
        if let Ok(dir) = std::fs::read_dir(std::env::temp_dir()) {
            for e in dir.flatten() {
                let name = e.file_name();
                let Some(name) = name.to_str() else { continue };
                let Some(rest) = name.strip_prefix(super::DIR_PREFIX) else {
                    continue;
                };
                if owner_pid(rest).is_some_and(dead) && std::fs::remove_dir_all(e.path()).is_ok() {
                    swept.dirs.push(e.path());
                }
            }
        }
    }
    Ok(swept)
}

/// Whether `ns` exists (a quick check for tests).
pub fn exists(ns: &str) -> bool {
    std::path::Path::new("/run/netns").join(ns).exists()
        || list().is_ok_and(|l| l.iter().any(|n| n == ns))
}

/// `ip -n NS ARGS...`.
pub(crate) fn ip_n<I, S>(ns: &str, args: I) -> Result<String>
where
    I: IntoIterator<Item = S>,
    S: AsRef<std::ffi::OsStr>,
{
    cmd::check(Command::new("ip").arg("-n").arg(ns).args(args))
}

#[cfg(test)]
mod tests {
    use super::owner_pid;

    #[test]
    fn owner_pid_reads_only_our_family() {
        assert_eq!(owner_pid("ku1a2b-0-r1"), Some(0x1a2b));
        assert_eq!(owner_pid("ku1a2b-12-switch"), Some(0x1a2b));
        assert_eq!(owner_pid("ku1a2b-3-lab_tag"), Some(0x1a2b));
        assert_eq!(owner_pid("ku1a2b-3"), Some(0x1a2b));
        assert_eq!(owner_pid("kube-system"), None);
        assert_eq!(owner_pid("ku1A2B-0-r1"), None);
        assert_eq!(owner_pid("ku-0-r1"), None);
        assert_eq!(owner_pid("ku12-x-r1"), None);
        assert_eq!(owner_pid("ku123456789-0-r1"), None);
        assert_eq!(owner_pid("myns"), None);
        assert_eq!(owner_pid("kuzz-0-a"), None);
    }
}
