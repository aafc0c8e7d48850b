//! keepup-sys: every Linux effect of keepup, behind small safe types. The daemon's
//! drivers use these; the engine never sees them.
//!
//! - [`VrrpSocket`]: raw IP sockets for VRRP (and AH on IPv4), one per family for all
//!   interfaces (`socket`).
//! - [`Netlink`]: rtnetlink requests: links, addresses, routes, rules (`netlink`, over
//!   the small transport in `nl`).
//! - [`Monitor`]: link and address changes (`monitor`).
//! - [`FrameSender`]: whole Ethernet frames over AF_PACKET (`frame`).
//! - [`ProcessMonitor`]: fork/exec/comm/exit events from the process connector
//!   (`procmon`).
//! - [`PreciseTimer`]: deadlines at the kernel's resolution (timerfd), not tokio's
//!   millisecond (`timer`).
//! - [`script`]: the one script runner (process group, user, timeout, reap).
//! - [`sysctl_set`], [`sysctl_get`]: /proc/sys writes and reads.
//! - [`VirtualLink`]: the macvlan/ipvlan of `use_vmac`/`use_ipvlan` (`link`).
//! - [`Ipvs`]: the IPVS generic-netlink socket, blocking, with pipelined changes
//!   (`ipvs`, over keepup-lvs's `genl` codec).
//! - [`nft_apply`]: an nftables change as one `nft -f -` transaction (`nft`).
//!
//! Everything async is for a tokio runtime (the daemon runs a current-thread one);
//! descriptors are non-blocking and wrapped in `AsyncFd`. Kernel errors keep their
//! errno: [`Error::Io`]'s source is the `io::Error` the kernel gave (netlink included).
//! Every `unsafe` block in the crate carries a `SAFETY:` comment.
#![allow(clippy::unused_async)]

use std::net::{IpAddr, Ipv6Addr};

mod frame;
mod ipvs;
mod link;
mod monitor;
mod netlink;
mod nft;
mod nl;
mod procmon;
mod rx_filter;
pub mod script;
mod socket;
mod solicit;
mod timer;
mod vip_filter;
pub use frame::{ArpListener, FrameSender};
pub use ipvs::{module_available as ipvs_module_available, Ipvs, IpvsError, KernelError};
pub use link::{sysctl_get, vrrp_mac, IpvlanFlag, LinkState, VirtualKind, VirtualLink};
pub use monitor::Monitor;
pub use netlink::Netlink;
pub use nft::{nft_apply, nft_program, nft_usable, NftError};
pub use procmon::{ProcEvent, ProcessMonitor};
pub use rx_filter::{
    keeps as rx_filter_keeps, Insn as RxFilterInsn, Layout as RxFilterLayout, RxFilter,
    SAMPLE as RX_FILTER_SAMPLE,
};
pub use socket::{raise_recv_buffer, Datagram, VrrpSocket, PROTO_AH, PROTO_VRRP};
pub use solicit::{Solicitation, SolicitationSocket};
pub use timer::PreciseTimer;
pub use vip_filter::{delete_vip_filter, VipFilter, DEFAULT_TABLE as VIP_FILTER_TABLE};

/// Errors from the kernel, with what was being done.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{what}: {source}")]
    Io {
        what: String,
        #[source]
        source: std::io::Error,
    },
    #[error("netlink: {0}")]
    Netlink(String),
    #[error("no interface named {0}")]
    NoInterface(String),
}

pub type Result<T> = std::result::Result<T, Error>;

/// Types that own the descriptor they return from `as_raw_fd`: it stays open and the
/// same for as long as the value lives, and closes when it is dropped.
pub(crate) trait OwnsFd: std::os::fd::AsRawFd {}
impl OwnsFd for socket2::Socket {}
impl OwnsFd for netlink_sys::Socket {}
impl OwnsFd for std::os::fd::OwnedFd {}

/// Register an owned socket with the current tokio reactor; outside a runtime this
/// is an error (tokio itself would panic).
pub(crate) fn register<T: OwnsFd>(inner: T) -> std::io::Result<tokio::io::unix::AsyncFd<T>> {
    register_for(
        inner,
        tokio::io::Interest::READABLE | tokio::io::Interest::WRITABLE,
    )
}

/// [`register`] for some readiness only. A descriptor written without waiting (a
/// raw socket's sends, a timerfd) is registered for reading: registered for writing
/// too, each send would wake the loop once more to say there is room to send.
pub(crate) fn register_for<T: OwnsFd>(
    inner: T,
    interest: tokio::io::Interest,
) -> std::io::Result<tokio::io::unix::AsyncFd<T>> {
    if tokio::runtime::Handle::try_current().is_err() {
        return Err(std::io::Error::other("not inside a tokio runtime"));
    }
    // SAFETY: `T: OwnsFd` owns its descriptor, which stays open and is returned
    // unchanged by every `as_raw_fd` call until the value (moved into the AsyncFd,
    // which never hands out a way to replace it: we do not call `get_mut`) is dropped.
    Ok(unsafe { tokio::io::unix::AsyncFd::register_with_interest(inner, interest) }?)
}

/// One received VRRP (or AH) packet.
#[derive(Debug, Clone)]
pub struct Received {
    pub ifindex: u32,
    /// IPv4: the whole IP packet as the raw socket delivers it (header first).
    /// IPv6: the VRRP message.
    pub data: Vec<u8>,
    /// IPv6 only (from ancillary data): source, destination, hop limit.
    pub v6: Option<(Ipv6Addr, Ipv6Addr, u8)>,
}

/// An address on an interface, as `ip addr` shows it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Address {
    pub ifindex: u32,
    pub addr: IpAddr,
    pub prefix_len: u8,
    pub broadcast: Option<std::net::Ipv4Addr>,
    /// RT_SCOPE_* (0 universe, 253 link, 254 host).
    pub scope: u8,
    pub label: Option<String>,
}

/// A route as `virtual_routes` describes one (the fields keepup sets).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    pub dst: IpAddr,
    pub prefix_len: u8,
    pub gateway: Option<IpAddr>,
    pub ifindex: Option<u32>,
    pub src: Option<IpAddr>,
    pub table: Option<u32>,
    pub metric: Option<u32>,
    pub scope: Option<u8>,
    /// blackhole / unreachable / prohibit (type); None = unicast.
    pub kind: Option<String>,
}

/// A policy rule as `virtual_rules` describes one (the fields keepup sets).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    pub v6: bool,
    pub from: Option<(IpAddr, u8)>,
    pub to: Option<(IpAddr, u8)>,
    pub table: Option<u32>,
    pub priority: Option<u32>,
    pub fwmark: Option<u32>,
    pub iif: Option<String>,
    pub oif: Option<String>,
}

/// What the kernel says changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LinkEvent {
    /// Operational state (carrier and admin up) of an interface.
    Link {
        ifindex: u32,
        name: String,
        up: bool,
    },
    AddressAdded(Address),
    AddressRemoved(Address),
}

/// Whether this kernel has module `name` (`ip_vs`, `macvlan`): loaded or built in
/// (/sys/module), or `NAME.ko` in its module index. Loads nothing (`keepup check`
/// asks).
pub fn kernel_module_available(name: &str) -> bool {
    if std::path::Path::new("/sys/module").join(name).exists() {
        return true;
    }
    let Ok(release) = std::fs::read_to_string("/proc/sys/kernel/osrelease") else {
        return false;
    };
    let dir = std::path::Path::new("/lib/modules").join(release.trim());
    let file = format!("/{name}.ko");
    ["modules.builtin", "modules.dep"].iter().any(|f| {
        std::fs::read_to_string(dir.join(f)).is_ok_and(|s| s.lines().any(|l| l.contains(&file)))
    })
}

/// Write `value` to /proc/sys/`path` (e.g. `net/ipv4/conf/eth0/arp_ignore`).
///
/// The path is relative and must not climb out of /proc/sys (no `..`). Values under
/// net/ belong to the network namespace of the calling thread.
pub fn sysctl_set(path: &str, value: &str) -> Result<()> {
    let what = || format!("sysctl {path} = {value}");
    let rel = std::path::Path::new(path);
    if path.is_empty()
        || rel.is_absolute()
        || rel
            .components()
            .any(|c| !matches!(c, std::path::Component::Normal(_)))
    {
        return Err(Error::Io {
            what: what(),
            source: std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                "not a path under /proc/sys",
            ),
        });
    }
    std::fs::write(std::path::Path::new("/proc/sys").join(rel), value).map_err(|source| Error::Io {
        what: what(),
        source,
    })
}

/// Raise the open-file limit to its hard limit: every running check holds a socket,
/// and 10,000 real servers checked each second exceed the usual 1,024. Returns the
/// limit now in force.
pub fn raise_open_files_limit() -> u64 {
    use nix::sys::resource::{getrlimit, setrlimit, Resource};
    match getrlimit(Resource::RLIMIT_NOFILE) {
        Ok((soft, hard)) if soft < hard => {
            if setrlimit(Resource::RLIMIT_NOFILE, hard, hard).is_ok() {
                hard
            } else {
                soft
            }
        }
        Ok((soft, _)) => soft,
        Err(_) => 0,
    }
}

/// Lower the calling thread's scheduling priority to `nice` (Linux keeps a nice
/// value per thread): the checkers' thread yields the CPU to the VRRP loop, so a
/// burst of checks never delays an advert.
pub fn lower_this_thread_priority(nice: i32) -> std::io::Result<()> {
    let tid = nix::unistd::gettid().as_raw();
    // SAFETY: setpriority takes plain integers (which, who, value) and no pointers;
    // PRIO_PROCESS with a thread id changes only that thread on Linux.
    let r = unsafe { libc::setpriority(libc::PRIO_PROCESS, tid as libc::id_t, nice) };
    if r == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

/// One glibc malloc arena for the whole process. Each thread that allocates (the
/// checkers', the IPVS side's) would otherwise get an arena of its own, several
/// megabytes resident each for a daemon whose threads allocate little (measured: two
/// extra arenas of 5.8 and 4.9 MB beside an 8.3 MB heap at 10,000 real servers), and
/// memory one thread frees could not serve another's (with two arenas, 1,000 x 10
/// virtual servers in the VM held 13.5 MB in use and a free part that grew past
/// 10 MB; with one, 4.4 MB free, steady). Call before the first thread starts.
pub fn limit_malloc_arenas() {
    #[cfg(target_env = "gnu")]
    // SAFETY: mallopt only sets a tuning parameter of glibc's allocator; it takes no
    // pointers and is safe to call before other threads allocate.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 1);
    }
}

/// The C allocator's view of the heap, in bytes: (in use, free but held, mmapped).
pub fn malloc_usage() -> Option<(usize, usize, usize)> {
    #[cfg(target_env = "gnu")]
    {
        // SAFETY: mallinfo2 only reads the allocator's own statistics.
        let m = unsafe { libc::mallinfo2() };
        Some((m.uordblks, m.fordblks, m.hblkhd))
    }
    #[cfg(not(target_env = "gnu"))]
    None
}

/// Give the C allocator's free memory back to the kernel (glibc `malloc_trim`):
/// after reading a configuration, the parser's freed buffers would otherwise stay
/// in the daemon's resident set for its whole life.
pub fn release_free_memory() {
    #[cfg(target_env = "gnu")]
    // SAFETY: malloc_trim only walks and trims the allocator's own free lists; it
    // takes no pointers from us and is safe to call at any time from any thread.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// A calendar time in the local time zone (`struct tm`'s fields, as `ctime` prints
/// them).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LocalTime {
    pub year: i32,
    /// 0 (January) to 11.
    pub month: u32,
    /// 1 to 31.
    pub day: u32,
    /// 0 (Sunday) to 6.
    pub weekday: u32,
    pub hour: u32,
    pub minute: u32,
    pub second: u32,
}

/// `secs` since the epoch in the local time zone (glibc's `localtime_r`, which reads
/// TZ and /etc/localtime as keepalived's `ctime` does). None if out of range.
pub fn local_time(secs: i64) -> Option<LocalTime> {
    let t: libc::time_t = secs;
    // SAFETY: an all-zero `tm` is a valid value of this plain C struct (its pointer
    // field, tm_zone, may be null); localtime_r fills it.
    let mut tm: libc::tm = unsafe { std::mem::zeroed() };
    // SAFETY: both pointers are to live locals for the whole call; localtime_r is the
    // reentrant form and keeps neither.
    let r = unsafe { libc::localtime_r(&t, &mut tm) };
    if r.is_null() {
        return None;
    }
    let u = |v: libc::c_int| u32::try_from(v).ok();
    Some(LocalTime {
        year: tm.tm_year.checked_add(1900)?,
        month: u(tm.tm_mon)?,
        day: u(tm.tm_mday)?,
        weekday: u(tm.tm_wday)?,
        hour: u(tm.tm_hour)?,
        minute: u(tm.tm_min)?,
        second: u(tm.tm_sec)?,
    })
}
