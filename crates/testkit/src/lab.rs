//! The network-namespace lab: hosts on virtual LANs, real kernels and sockets, for
//! the daemon's root tests, the interop tests against keepalived and `keepup demo`.
//!
//! Synchronous: every effect is an `ip` (iproute2) command, except ICMP echo and
//! sysctls, which a short-lived thread does inside the host's namespace (`setns`
//! affects only that thread).
//!
//! - [`Lab::new`] picks a prefix unique to the run, `ku<pid in hex>-<n>`, and names
//!   everything after it: namespaces `ku1a2b-0-switch`, `ku1a2b-0-r1`, the temp dir
//!   `/tmp/keepup-lab-ku1a2b-0-<tag>`. Nothing is created in the root namespace: each
//!   LAN is a bridge `br<i>` in the lab's switch namespace, each host port a veth whose
//!   ends are created directly in the host's and the switch's namespaces, so their
//!   short names (`eth0`, `r1-e0`) are scoped by the run-unique namespaces.
//! - Dropping the [`Lab`] (also while a test unwinds from a panic) ends the processes
//!   it started (by PID: SIGTERM, then SIGKILL after [`GRACE`]), then any process
//!   still inside its namespaces, deletes the namespaces (which takes the bridges and
//!   veths with them), and removes the temp dir unless `KEEPUP_KEEP_LAB=1`.
//! - The first `Lab::new` of a process runs [`sweep`]: leftovers of *dead* runs of
//!   the same family (a test killed by SIGKILL leaves some) are removed; a name whose
//!   PID is alive, or that is not of the family, is never touched.
//! - Addresses: IPv4 from 10.0.0.0/8 (/24), optional IPv6 from fc00::/7 (/64); IPv6
//!   DAD is off (`accept_dad=0`, `nodad`), so link-locals are usable at once. They
//!   exist only inside the lab's namespaces.
//!
//! ```no_run
//! use keepup_testkit::lab::{Lab, Keepalived, VrrpInstance, keepalived_conf};
//! use std::time::Duration;
//! # fn main() -> Result<(), keepup_testkit::lab::Error> {
//! let lab = Lab::new("demo")?;
//! let lan = lab.bridge()?;
//! let a = lab.host("a", &lan, "10.9.0.1".parse().unwrap(), None)?;
//! let b = lab.host("b", &lan, "10.9.0.2".parse().unwrap(), None)?;
//! assert!(a.ping("10.9.0.2".parse().unwrap(), Duration::from_secs(2))?);
//! let cap = lan.capture("ip proto 112")?;
//! let vi = VrrpInstance::new("VI_1", "eth0", 51, 150, "10.9.0.100".parse().unwrap());
//! let ka = Keepalived::start(&b, &keepalived_conf("b", &[vi]))?;
//! # Ok(()) }
//! ```
use std::collections::HashSet;
use std::ffi::OsStr;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex, Once};
use std::time::{Duration, Instant};

use keepup_wire::MacAddr;

mod capture;
mod cmd;
pub mod keepalived;
pub mod netns;
pub mod pcap;
pub mod probe;
mod process;

pub use capture::Capture;
pub use keepalived::{conf as keepalived_conf, Keepalived, State as KeepalivedState, VrrpInstance};
pub use netns::{sweep, Swept};
pub use nix::sys::signal::Signal;
pub use pcap::{vrrp_adverts, Packet, VrrpFrame};
pub use probe::{longest_gap, Echo, Gap, Probe};
pub use process::{alive, Proc, GRACE};

use process::{lock, Shared};

/// What can go wrong in the lab.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A command ran and failed.
    #[error("`{cmd}` failed ({status}): {stderr}")]
    Command {
        cmd: String,
        status: String,
        stderr: String,
    },
    /// A command could not be started (not installed?).
    #[error("cannot run `{cmd}`: {source}")]
    Spawn { cmd: String, source: std::io::Error },
    #[error("{what}: {source}")]
    Io {
        what: String,
        source: std::io::Error,
    },
    #[error("{what}: {errno}")]
    Sys {
        what: String,
        errno: nix::errno::Errno,
    },
    #[error("timed out after {after:?} waiting for {what}")]
    Timeout { after: Duration, what: String },
    #[error("cannot read {what}: {detail}")]
    Parse { what: String, detail: String },
    /// A misuse (a name or address the lab refuses) or a tool that did not start.
    #[error("{0}")]
    Invalid(String),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Poll `cond` every `poll` until it holds or `timeout` passes. `Some(elapsed)` when
/// it held (checked once at once, so `Some(0)`-ish if it already did), `None` on
/// timeout.
pub fn wait_until(
    timeout: Duration,
    poll: Duration,
    mut cond: impl FnMut() -> bool,
) -> Option<Duration> {
    let start = Instant::now();
    loop {
        if cond() {
            return Some(start.elapsed());
        }
        let elapsed = start.elapsed();
        if elapsed >= timeout {
            return None;
        }
        std::thread::sleep(poll.min(timeout - elapsed));
    }
}

/// Whether this process runs as root (the lab needs it).
pub fn is_root() -> bool {
    nix::unistd::geteuid().is_root()
}

/// For tests that need root: `true` to go on. Not root: under CI (`CI` set) panics,
/// since CI must run these tests; elsewhere prints that `test` was skipped and
/// returns `false`.
pub fn root_or_skip(test: &str) -> bool {
    if is_root() {
        return true;
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "{test} needs root (network namespaces) and CI must run it as root"
    );
    eprintln!("skipped {test}: needs root for network namespaces (run the suite as root)");
    false
}

/// `KEEPUP_KEEP_LAB=1`: keep the lab's files (logs, pcaps, configs) after the lab.
fn keep_files() -> bool {
    std::env::var("KEEPUP_KEEP_LAB").is_ok_and(|v| v == "1")
}

const DIR_PREFIX: &str = "keepup-lab-";
const SWITCH: &str = "switch";

static COUNTER: AtomicU32 = AtomicU32::new(0);
static SWEEP: Once = Once::new();

pub(crate) struct Inner {
    prefix: String,
    dir: PathBuf,
    state: Mutex<LabState>,
}

#[derive(Default)]
struct LabState {
    /// Created namespaces, in order (the switch first if any).
    namespaces: Vec<String>,
    switch: Option<String>,
    lans: u32,
    hosts: Vec<String>,
    procs: Vec<Arc<Shared>>,
    files: HashSet<PathBuf>,
}

impl Inner {
    /// A path in the lab dir not handed out before: `name`, else `stem-2.ext`, ...
    pub(crate) fn unique_file(&self, name: &str) -> PathBuf {
        let mut st = lock(&self.state);
        let (stem, ext) = match name.split_once('.') {
            Some((s, e)) => (s.to_owned(), format!(".{e}")),
            None => (name.to_owned(), String::new()),
        };
        let mut n = 1;
        loop {
            let candidate = if n == 1 {
                self.dir.join(name)
            } else {
                self.dir.join(format!("{stem}-{n}{ext}"))
            };
            if st.files.insert(candidate.clone()) {
                return candidate;
            }
            n += 1;
        }
    }

    /// Start `program args` in `ns` with stdout and stderr into `log`, and register
    /// it for cleanup.
    pub(crate) fn spawn<S: AsRef<OsStr>>(
        &self,
        ns: &str,
        program: &str,
        args: &[S],
        log: PathBuf,
    ) -> Result<Proc> {
        let (out, err) = process::log_files(&log)?;
        let mut c = Command::new("ip");
        c.args(["netns", "exec", ns, program])
            .args(args)
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err);
        let child = c.spawn().map_err(|source| Error::Spawn {
            cmd: cmd::display(&c),
            source,
        })?;
        let shared = Arc::new(Shared::new(child, format!("{program} in {ns}"), log));
        lock(&self.state).procs.push(shared.clone());
        Ok(Proc::new(shared))
    }

    fn add_namespace(&self, suffix: &str) -> Result<String> {
        let ns = format!("{}-{suffix}", self.prefix);
        netns::add(&ns)?;
        lock(&self.state).namespaces.push(ns.clone());
        Ok(ns)
    }

    fn switch(&self) -> Result<String> {
        if let Some(sw) = lock(&self.state).switch.clone() {
            return Ok(sw);
        }
        let sw = self.add_namespace(SWITCH)?;
        netns::ip_n(&sw, ["link", "set", "lo", "up"])?;
        // The switch only forwards frames: no IPv6 of its own, so it sends nothing.
        netns::in_netns(&sw, || {
            netns::write_sysctl("net.ipv6.conf.all.disable_ipv6", "1")?;
            netns::write_sysctl("net.ipv6.conf.default.disable_ipv6", "1")
        })?;
        lock(&self.state).switch = Some(sw.clone());
        Ok(sw)
    }
}

/// A lab: the namespaces, bridges, veths, processes and files of one test. See the
/// module docs.
pub struct Lab {
    inner: Arc<Inner>,
}

impl Lab {
    /// A new, empty lab. `tag` (letters, digits, `_`, `-`; cut at 32) names its temp
    /// dir, for people reading a kept one.
    pub fn new(tag: &str) -> Result<Lab> {
        SWEEP.call_once(|| match sweep() {
            Ok(s) if s != Swept::default() => {
                eprintln!("lab: removed leftovers of dead runs: {s:?}")
            }
            Ok(_) => {}
            Err(e) => eprintln!("lab: sweep of dead runs failed: {e}"),
        });
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let prefix = format!("ku{:x}-{n}", std::process::id());
        let tag: String = tag
            .chars()
            .filter(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == '-')
            .take(32)
            .collect();
        let dir = std::env::temp_dir().join(format!("{DIR_PREFIX}{prefix}-{tag}"));
        std::fs::create_dir_all(&dir).map_err(|source| Error::Io {
            what: format!("create {}", dir.display()),
            source,
        })?;
        Ok(Lab {
            inner: Arc::new(Inner {
                prefix,
                dir,
                state: Mutex::new(LabState::default()),
            }),
        })
    }

    /// `ku<pid>-<n>`: the start of every name this lab gives.
    pub fn prefix(&self) -> &str {
        &self.inner.prefix
    }

    /// The lab's temp dir (logs, pcaps, configs).
    pub fn dir(&self) -> &Path {
        &self.inner.dir
    }

    /// A file path in the lab's dir not handed out before (`name`, else `stem-2.ext`).
    pub fn file(&self, name: &str) -> PathBuf {
        self.inner.unique_file(name)
    }

    /// The namespaces created so far.
    pub fn namespaces(&self) -> Vec<String> {
        lock(&self.inner.state).namespaces.clone()
    }

    /// A new LAN: bridge `br<i>` in the lab's switch namespace, STP off and forwarding
    /// at once, multicast snooping off (so VRRP's groups always flood).
    pub fn bridge(&self) -> Result<Lan> {
        let sw = self.inner.switch()?;
        let index = {
            let mut st = lock(&self.inner.state);
            st.lans += 1;
            st.lans - 1
        };
        let br = format!("br{index}");
        netns::ip_n(
            &sw,
            [
                "link",
                "add",
                &br,
                "type",
                "bridge",
                "stp_state",
                "0",
                "forward_delay",
                "0",
                "mcast_snooping",
                "0",
            ],
        )?;
        netns::ip_n(&sw, ["link", "set", &br, "up"])?;
        Ok(Lan {
            lab: self.inner.clone(),
            index,
            bridge: br,
            ns: sw,
        })
    }

    /// A new host on `lan`: namespace `<prefix>-<name>` with `lo` up, `eth0` a veth
    /// whose peer is a port of the LAN's bridge, `ipv4`/24 on it (10.0.0.0/8 only),
    /// `ipv6`/64 too if given (fc00::/7 only), and its IPv6 link-local ready.
    ///
    /// `name`: 1 to 10 letters, digits or `_`, unique in the lab, not `switch`.
    pub fn host(
        &self,
        name: &str,
        lan: &Lan,
        ipv4: Ipv4Addr,
        ipv6: Option<Ipv6Addr>,
    ) -> Result<Host> {
        let ok_name = !name.is_empty()
            && name.len() <= 10
            && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
            && name != SWITCH;
        if !ok_name {
            return Err(Error::Invalid(format!(
                "host name {name:?}: use 1 to 10 letters, digits or '_' (and not {SWITCH:?})"
            )));
        }
        let seq = {
            let mut st = lock(&self.inner.state);
            if st.hosts.iter().any(|h| h == name) {
                return Err(Error::Invalid(format!("host {name:?} exists in this lab")));
            }
            st.hosts.push(name.to_owned());
            st.hosts.len() - 1
        };
        check_addresses(ipv4, ipv6)?;
        let ns = self.inner.add_namespace(name)?;
        // Before any interface exists, so each one inherits them from `default`.
        netns::in_netns(&ns, || {
            for (k, v) in [
                ("net.ipv6.conf.all.accept_dad", "0"),
                ("net.ipv6.conf.default.accept_dad", "0"),
                ("net.ipv6.conf.default.accept_ra", "0"),
                ("net.ipv6.conf.default.router_solicitations", "0"),
            ] {
                netns::write_sysctl(k, v)?;
            }
            Ok(())
        })?;
        netns::ip_n(&ns, ["link", "set", "lo", "up"])?;
        let mut host = Host {
            lab: self.inner.clone(),
            name: name.to_owned(),
            ns,
            seq: u16::try_from(seq).unwrap_or(u16::MAX),
            ifaces: vec![],
        };
        host.join(lan, ipv4, ipv6)?;
        Ok(host)
    }
}

fn check_addresses(ipv4: Ipv4Addr, ipv6: Option<Ipv6Addr>) -> Result<()> {
    if ipv4.octets()[0] != 10 {
        return Err(Error::Invalid(format!(
            "{ipv4}: lab addresses come from 10.0.0.0/8"
        )));
    }
    if let Some(v6) = ipv6 {
        if v6.segments()[0] & 0xfe00 != 0xfc00 {
            return Err(Error::Invalid(format!(
                "{v6}: lab IPv6 addresses come from fc00::/7 (link-locals come by themselves)"
            )));
        }
    }
    Ok(())
}

impl Drop for Lab {
    fn drop(&mut self) {
        let (procs, namespaces) = {
            let mut st = lock(&self.inner.state);
            (
                std::mem::take(&mut st.procs),
                std::mem::take(&mut st.namespaces),
            )
        };
        process::terminate_all(&procs, GRACE);
        // Hosts first, the switch (created first) last.
        for ns in namespaces.iter().rev() {
            netns::remove(ns, Duration::from_secs(1));
        }
        if keep_files() {
            eprintln!("lab: kept {} (KEEPUP_KEEP_LAB=1)", self.inner.dir.display());
        } else if let Err(e) = std::fs::remove_dir_all(&self.inner.dir) {
            eprintln!("lab: cannot remove {}: {e}", self.inner.dir.display());
        }
    }
}

impl std::fmt::Debug for Lab {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Lab")
            .field("prefix", &self.inner.prefix)
            .field("dir", &self.inner.dir)
            .finish()
    }
}

/// A LAN: one bridge in the lab's switch namespace.
pub struct Lan {
    lab: Arc<Inner>,
    index: u32,
    bridge: String,
    ns: String,
}

impl Lan {
    pub fn index(&self) -> u32 {
        self.index
    }

    /// The bridge's name inside the switch namespace.
    pub fn bridge(&self) -> &str {
        &self.bridge
    }

    /// The switch namespace.
    pub fn ns(&self) -> &str {
        &self.ns
    }

    fn ports_of<'h>(&self, host: &'h Host) -> Result<Vec<&'h str>> {
        let ports: Vec<&str> = host
            .ifaces
            .iter()
            .filter(|i| i.lan == self.index)
            .map(|i| i.port.as_str())
            .collect();
        if ports.is_empty() {
            return Err(Error::Invalid(format!(
                "host {} has no port on LAN {}",
                host.name, self.index
            )));
        }
        Ok(ports)
    }

    fn set_ports(&self, host: &Host, state: &str) -> Result<()> {
        for p in self.ports_of(host)? {
            netns::ip_n(&self.ns, ["link", "set", p, state])?;
        }
        Ok(())
    }

    /// Cut `host` off at the switch: its bridge port goes down, so the host's
    /// interface loses carrier (as when a cable is pulled).
    pub fn port_down(&self, host: &Host) -> Result<()> {
        self.set_ports(host, "down")
    }

    /// Undo [`Lan::port_down`].
    pub fn port_up(&self, host: &Host) -> Result<()> {
        self.set_ports(host, "up")
    }

    /// The bridge port of `host`'s (first) interface on this LAN, in [`Lan::ns`].
    pub fn port_of(&self, host: &Host) -> Result<String> {
        Ok(self.ports_of(host)?[0].to_owned())
    }

    /// Run `f` on a thread inside the switch namespace: the sockets it opens see the
    /// bridge and its ports.
    pub fn within<T: Send>(&self, f: impl FnOnce() -> T + Send) -> Result<T> {
        netns::in_netns(&self.ns, || Ok(f()))
    }

    /// Capture every frame crossing the bridge that matches `filter` (tcpdump syntax).
    pub fn capture(&self, filter: &str) -> Result<Capture> {
        Capture::start(&self.lab, &self.ns, &self.bridge, filter)
    }
}

impl std::fmt::Debug for Lan {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Lan({} in {})", self.bridge, self.ns)
    }
}

/// One interface of a host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Iface {
    /// `eth0`, `eth1`, ... inside the host.
    pub name: String,
    /// The LAN's index ([`Lan::index`]).
    pub lan: u32,
    /// The bridge port (the veth's other end) in the switch namespace.
    pub port: String,
    pub mac: MacAddr,
    pub ipv4: Ipv4Addr,
    pub ipv6: Option<Ipv6Addr>,
}

/// A host: its own namespace with interfaces on one or more LANs. A handle: the lab
/// owns what it made, so dropping a `Host` removes nothing.
pub struct Host {
    lab: Arc<Inner>,
    name: String,
    ns: String,
    seq: u16,
    ifaces: Vec<Iface>,
}

impl Host {
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The namespace (for `ip netns exec` by hand).
    pub fn ns(&self) -> &str {
        &self.ns
    }

    pub fn ifaces(&self) -> &[Iface] {
        &self.ifaces
    }

    /// The host's (first) interface on `lan`.
    pub fn iface_on(&self, lan: &Lan) -> Option<&Iface> {
        self.ifaces.iter().find(|i| i.lan == lan.index)
    }

    /// Join another LAN: a new `eth<n>` (MAC `02:6b:75:<host>:<n>`), addressed as
    /// [`Lab::host`] does. Returns the interface's name.
    pub fn join(&mut self, lan: &Lan, ipv4: Ipv4Addr, ipv6: Option<Ipv6Addr>) -> Result<String> {
        check_addresses(ipv4, ipv6)?;
        let n = self.ifaces.len();
        let name = format!("eth{n}");
        let port = format!("{}-e{n}", self.name);
        let [hi, lo] = self.seq.to_be_bytes();
        let mac = MacAddr([0x02, 0x6b, 0x75, hi, lo, u8::try_from(n).unwrap_or(u8::MAX)]);
        let mac_s = mac.to_string();
        cmd::ip([
            "link", "add", &name, "address", &mac_s, "netns", &self.ns, "type", "veth", "peer",
            "name", &port, "netns", &lan.ns,
        ])?;
        // Recorded at once: cleanup does not depend on it (the namespace takes the
        // veth along), but port_down does.
        self.ifaces.push(Iface {
            name: name.clone(),
            lan: lan.index,
            port: port.clone(),
            mac,
            ipv4,
            ipv6,
        });
        let key = format!("net/ipv6/conf/{name}/accept_dad");
        netns::in_netns(&self.ns, || netns::write_sysctl(&key, "0"))?;
        netns::ip_n(&lan.ns, ["link", "set", &port, "master", &lan.bridge, "up"])?;
        netns::ip_n(
            &self.ns,
            ["addr", "add", &format!("{ipv4}/24"), "dev", &name],
        )?;
        if let Some(v6) = ipv6 {
            netns::ip_n(
                &self.ns,
                ["addr", "add", &format!("{v6}/64"), "dev", &name, "nodad"],
            )?;
        }
        netns::ip_n(&self.ns, ["link", "set", &name, "up"])?;
        self.link_local(&name)?;
        Ok(name)
    }

    /// `ip netns exec NS argv...`, whatever its exit status. `argv[0]` is the program.
    pub fn exec<I, S>(&self, argv: I) -> Result<Output>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        cmd::output(
            Command::new("ip")
                .args(["netns", "exec", &self.ns])
                .args(argv),
        )
    }

    /// As [`Host::exec`], but a non-zero exit is an error (with stderr); returns stdout.
    pub fn run<I, S>(&self, argv: I) -> Result<String>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        cmd::check(
            Command::new("ip")
                .args(["netns", "exec", &self.ns])
                .args(argv),
        )
    }

    /// Start `program args` in the background in this host, stdout and stderr into
    /// `log` (a relative path is taken in the lab's dir).
    pub fn spawn<S: AsRef<OsStr>>(
        &self,
        program: &str,
        args: &[S],
        log: impl AsRef<Path>,
    ) -> Result<Proc> {
        let log = log.as_ref();
        let log = if log.is_absolute() {
            log.to_owned()
        } else {
            self.lab.dir.join(log)
        };
        self.lab.spawn(&self.ns, program, args, log)
    }

    /// A fresh path in the lab's dir for this host's files (`stem`, `stem-2`, ...).
    pub fn lab_file(&self, stem: &str) -> PathBuf {
        self.lab.unique_file(stem)
    }

    /// The addresses on `iface` (`ip -j addr show dev IFACE`), in the kernel's order.
    pub fn addresses(&self, iface: &str) -> Result<Vec<IpAddr>> {
        let json = netns::ip_n(&self.ns, ["-j", "addr", "show", "dev", iface])?;
        Ok(parse_addresses(&json)?
            .into_iter()
            .map(|(_, a)| a)
            .collect())
    }

    /// Whether `ip` is on any interface of this host (loopback included).
    pub fn has_address(&self, ip: IpAddr) -> Result<bool> {
        let json = netns::ip_n(&self.ns, ["-j", "addr", "show"])?;
        Ok(parse_addresses(&json)?.iter().any(|(_, a)| *a == ip))
    }

    /// The MAC address the lab gave `iface` (`None`: not one of its interfaces).
    pub fn mac(&self, iface: &str) -> Option<MacAddr> {
        self.ifaces.iter().find(|i| i.name == iface).map(|i| i.mac)
    }

    /// The IPv6 link-local of `iface`, waiting up to 2 s for it to appear.
    pub fn link_local(&self, iface: &str) -> Result<Ipv6Addr> {
        let mut found = None;
        wait_until(Duration::from_secs(2), Duration::from_millis(10), || {
            found = self.addresses(iface).ok().and_then(|v| {
                v.into_iter().find_map(|a| match a {
                    IpAddr::V6(a) if a.segments()[0] & 0xffc0 == 0xfe80 => Some(a),
                    _ => None,
                })
            });
            found.is_some()
        });
        found.ok_or_else(|| Error::Timeout {
            after: Duration::from_secs(2),
            what: format!("an IPv6 link-local on {iface} in {}", self.ns),
        })
    }

    /// `ip link set IFACE up|down` inside the host (administrative state).
    pub fn link_set(&self, iface: &str, up: bool) -> Result<()> {
        netns::ip_n(
            &self.ns,
            ["link", "set", iface, if up { "up" } else { "down" }],
        )
        .map(drop)
    }

    /// Whether `iface` has carrier (`LOWER_UP`).
    pub fn carrier(&self, iface: &str) -> Result<bool> {
        let json = netns::ip_n(&self.ns, ["-j", "link", "show", "dev", iface])?;
        let v: serde_json::Value = serde_json::from_str(&json).map_err(|e| Error::Parse {
            what: "ip -j link".into(),
            detail: e.to_string(),
        })?;
        Ok(v.get(0)
            .and_then(|l| l.get("flags"))
            .and_then(|f| f.as_array())
            .is_some_and(|f| f.iter().any(|x| x == "LOWER_UP")))
    }

    /// Probe `target` with an ICMP echo every `every` from this host (see [`Probe`]).
    pub fn probe(&self, target: Ipv4Addr, every: Duration) -> Result<Probe> {
        Probe::start(&self.ns, target, every)
    }

    /// ICMP echo to `ip` until a reply or `timeout` (an IPv6 link-local goes out of
    /// `eth0`; see [`Host::ping_via`]).
    pub fn ping(&self, ip: IpAddr, timeout: Duration) -> Result<bool> {
        self.ping_via(ip, "eth0", timeout)
    }

    /// ICMP echo to `ip`, with `iface` as the scope of an IPv6 link-local.
    pub fn ping_via(&self, ip: IpAddr, iface: &str, timeout: Duration) -> Result<bool> {
        let scope = match ip {
            IpAddr::V6(a) if a.segments()[0] & 0xffc0 == 0xfe80 => Some(iface),
            _ => None,
        };
        netns::in_netns(&self.ns, || netns::ping(ip, scope, timeout))
    }

    /// Run `f` on a thread inside this host's namespace: the sockets it opens are
    /// this host's (e.g. a raw socket that sends crafted packets from it).
    pub fn within<T: Send>(&self, f: impl FnOnce() -> T + Send) -> Result<T> {
        netns::in_netns(&self.ns, || Ok(f()))
    }

    /// Load nftables rules (`nft -f -`), e.g.
    /// `table inet t { chain in { type filter hook input priority 0; ip protocol vrrp drop; } }`.
    pub fn nft(&self, rules: &str) -> Result<()> {
        cmd::check_stdin(
            Command::new("ip").args(["netns", "exec", &self.ns, "nft", "-f", "-"]),
            rules.as_bytes(),
        )
        .map(drop)
    }

    /// Set a sysctl in this host's namespace (`net.ipv4.ip_forward`, or a path under
    /// /proc/sys for names with dots: `net/ipv4/conf/eth0.1/arp_ignore`).
    pub fn sysctl(&self, key: &str, value: &str) -> Result<()> {
        netns::in_netns(&self.ns, || netns::write_sysctl(key, value))
    }

    /// Capture on `iface` of this host what matches `filter` (tcpdump syntax).
    pub fn capture(&self, iface: &str, filter: &str) -> Result<Capture> {
        Capture::start(&self.lab, &self.ns, iface, filter)
    }

    /// Start real keepalived here with `conf` (see [`Keepalived::start`]).
    pub fn keepalived(&self, conf: &str) -> Result<Keepalived> {
        Keepalived::start(self, conf)
    }
}

impl std::fmt::Debug for Host {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Host")
            .field("ns", &self.ns)
            .field("ifaces", &self.ifaces)
            .finish()
    }
}

/// (interface, address) pairs from `ip -j addr show` output.
fn parse_addresses(json: &str) -> Result<Vec<(String, IpAddr)>> {
    let bad = |detail: String| Error::Parse {
        what: "ip -j addr".into(),
        detail,
    };
    let v: serde_json::Value = serde_json::from_str(json).map_err(|e| bad(e.to_string()))?;
    let links = v.as_array().ok_or_else(|| bad("not a list".into()))?;
    let mut out = Vec::new();
    for l in links {
        let ifname = l.get("ifname").and_then(|n| n.as_str()).unwrap_or_default();
        for a in l
            .get("addr_info")
            .and_then(|a| a.as_array())
            .into_iter()
            .flatten()
        {
            if let Some(local) = a.get("local").and_then(|x| x.as_str()) {
                let ip = local
                    .parse()
                    .map_err(|_| bad(format!("address {local:?}")))?;
                out.push((ifname.to_owned(), ip));
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_ip_j_addr() {
        let json = r#"[{"ifindex":1,"ifname":"lo","flags":["LOOPBACK","UP"],"addr_info":[{"family":"inet","local":"127.0.0.1","prefixlen":8},{"family":"inet6","local":"::1","prefixlen":128}]},{"ifindex":2,"link_index":3,"ifname":"eth0","addr_info":[{"family":"inet","local":"10.9.0.1","prefixlen":24,"broadcast":"10.9.0.255"},{"family":"inet","local":"10.9.0.100","prefixlen":24,"secondary":true},{"family":"inet6","local":"fe80::6b:75ff:fe00:0","prefixlen":64}]},{"ifindex":3,"ifname":"eth1","addr_info":[]}]"#;
        let got = parse_addresses(json).unwrap();
        let want: Vec<(String, IpAddr)> = vec![
            ("lo".into(), "127.0.0.1".parse().unwrap()),
            ("lo".into(), "::1".parse().unwrap()),
            ("eth0".into(), "10.9.0.1".parse().unwrap()),
            ("eth0".into(), "10.9.0.100".parse().unwrap()),
            ("eth0".into(), "fe80::6b:75ff:fe00:0".parse().unwrap()),
        ];
        assert_eq!(got, want);
        assert!(parse_addresses("{").is_err());
        assert!(parse_addresses(r#"[{"addr_info":[{"local":"x"}]}]"#).is_err());
    }

    #[test]
    fn refuses_addresses_outside_the_lab_ranges() {
        assert!(check_addresses(Ipv4Addr::new(10, 1, 2, 3), None).is_ok());
        assert!(check_addresses(Ipv4Addr::new(192, 168, 0, 1), None).is_err());
        assert!(
            check_addresses(Ipv4Addr::new(10, 1, 2, 3), Some("fd00::1".parse().unwrap())).is_ok()
        );
        assert!(check_addresses(
            Ipv4Addr::new(10, 1, 2, 3),
            Some("2001:db8::1".parse().unwrap())
        )
        .is_err());
    }

    #[test]
    fn wait_until_reports_the_time_taken() {
        assert!(wait_until(Duration::ZERO, Duration::from_millis(1), || true).is_some());
        assert_eq!(
            wait_until(Duration::from_millis(30), Duration::from_millis(5), || {
                false
            }),
            None
        );
        let start = Instant::now();
        let took = wait_until(Duration::from_secs(2), Duration::from_millis(5), || {
            start.elapsed() >= Duration::from_millis(50)
        })
        .unwrap();
        assert!(
            took >= Duration::from_millis(50) && took < Duration::from_secs(1),
            "{took:?}"
        );
    }
}
