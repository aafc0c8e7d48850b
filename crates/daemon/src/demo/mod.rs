//! `keepup demo`: a VRRP failover you can watch, in a throwaway lab.
//!
//! Builds a lab of network namespaces with [`keepup_testkit::lab`] (a bridge, routers
//! r1/r2/r3 and a client on 10.51.0.0/24), runs this very binary as `keepup run` in
//! each router on one embedded keepalived.conf, then:
//!
//! 1. shows the routers' states live, read from their logs (`(VI_1) Entering MASTER
//!    STATE`, keepalived's wording);
//! 2. once r1 is Master, pings the VIP from the client every 10 ms (a raw ICMP socket
//!    in the client's namespace) and captures VRRP and ARP on the client's interface;
//! 3. crashes r1 (SIGKILL to its daemon, and its cable pulled: a killed daemon leaves
//!    the VIP on its interface, and the kernel would go on answering for it) and
//!    prints the takeover's timeline from the capture, r2's log, an `ip monitor` in
//!    r2 and the pings, beside the Master_Down_Interval RFC 3768 §6.1 predicts;
//! 4. brings r1 back (it removes the stale VIP and preempts), stops every daemon with
//!    SIGTERM and removes the lab (also on an error or Ctrl-C: `Lab`'s `Drop`).
//!
//! Every instant is wall-clock time since the Unix epoch (`Duration`), so pcap
//! timestamps, log timestamps (UTC, RFC 3339) and the probe's clock compare directly.
use std::net::Ipv4Addr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use keepup_testkit::lab;
pub use keepup_testkit::lab::probe::now;
pub use keepup_testkit::lab::{longest_gap, Echo, Gap};

mod live;
mod logs;
mod report;
mod scenario;
mod timeline;
pub use logs::{parse_addr_event, parse_state_line, parse_utc, RouterState};
pub use report::{format_rel, format_states, header, render_preemption};
use scenario::demo;
pub use timeline::Takeover;

/// The virtual router: VRID and advert interval (seconds) as in [`CONF`].
pub const VRID: u8 = 51;
pub const ADVERT_INT: u32 = 1;
pub const VIP: Ipv4Addr = Ipv4Addr::new(10, 51, 0, 100);
const CLIENT: Ipv4Addr = Ipv4Addr::new(10, 51, 0, 10);
/// How often the client pings the VIP.
const PROBE_EVERY: Duration = Duration::from_millis(10);

/// The routers: name (also the config id matched by `@name` lines), priority, address.
pub const ROUTERS: [(&str, u8, Ipv4Addr); 3] = [
    ("r1", 150, Ipv4Addr::new(10, 51, 0, 1)),
    ("r2", 120, Ipv4Addr::new(10, 51, 0, 2)),
    ("r3", 100, Ipv4Addr::new(10, 51, 0, 3)),
];

/// One configuration for all three routers; `keepup run -i rN` keeps the `@rN` lines,
/// as keepalived does with `-i`.
pub const CONF: &str = "\
# keepup demo: one file for r1, r2 and r3; `-i rN` keeps the @rN lines.
vrrp_instance VI_1 {
    state BACKUP
    interface eth0
    virtual_router_id 51
@r1 priority 150
@r2 priority 120
@r3 priority 100
    advert_int 1
    virtual_ipaddress {
        10.51.0.100/24
    }
}
";

/// What `keepup demo` says, and its exit status, when it is not run as root.
pub const NEEDS_ROOT: &str = "\
keepup demo needs root: it builds a throwaway lab of network namespaces (a bridge,
three routers and a client), runs three `keepup run` daemons in them that open raw
VRRP sockets and add addresses, and pings from the client with a raw ICMP socket.
Nothing leaves the lab's namespaces, and the lab is removed at the end.

    sudo keepup demo";

/// The Master_Down_Interval of a Backup (RFC 3768 §6.1): 3 × Advertisement_Interval
/// + Skew_Time, with Skew_Time = (256 − Priority) / 256 s.
pub fn master_down_interval(priority: u8, advert_int: u32) -> f64 {
    3.0 * f64::from(advert_int) + f64::from(256 - u32::from(priority)) / 256.0
}

/// `keepup demo`.
pub fn run() -> Result<ExitCode> {
    if !lab::is_root() {
        eprintln!("{NEEDS_ROOT}");
        return Ok(ExitCode::from(1));
    }
    // What the lab needs, installed when missing (the README promises a fresh
    // Debian/Ubuntu machine is enough).
    let missing: Vec<&str> = [("ip", "iproute2"), ("tcpdump", "tcpdump")]
        .into_iter()
        .filter(|(tool, _)| !on_path(tool))
        .map(|(_, pkg)| pkg)
        .collect();
    if !missing.is_empty() {
        println!("installing {} (apt-get)", missing.join(" "));
        let ok = on_path("apt-get")
            && std::process::Command::new("apt-get")
                .args(["update", "-qq"])
                .status()
                .is_ok_and(|s| s.success())
            && std::process::Command::new("apt-get")
                .args(["install", "-y", "-qq", "--no-install-recommends"])
                .args(&missing)
                .env("DEBIAN_FRONTEND", "noninteractive")
                .status()
                .is_ok_and(|s| s.success());
        if !ok {
            eprintln!(
                "keepup demo needs {} (Debian: apt-get install {})",
                missing.join(" and "),
                missing.join(" ")
            );
            return Ok(ExitCode::from(1));
        }
    }
    let interrupted = Arc::new(AtomicBool::new(false));
    watch_signals(interrupted.clone())?;
    let exe = std::env::current_exe().context("cannot find the keepup binary itself")?;
    match demo(&exe, interrupted) {
        Ok(()) => Ok(ExitCode::SUCCESS),
        Err(e) if e.is::<Interrupted>() => {
            println!("interrupted: the lab is removed");
            Ok(ExitCode::from(130))
        }
        Err(e) => Err(e),
    }
}

fn on_path(tool: &str) -> bool {
    let mut dirs: Vec<PathBuf> = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).collect())
        .unwrap_or_default();
    dirs.extend(["/usr/sbin", "/sbin", "/usr/bin"].map(PathBuf::from));
    dirs.iter().any(|d| d.join(tool).is_file())
}

/// Ctrl-C or SIGTERM while the demo runs.
#[derive(Debug)]
struct Interrupted;

impl std::fmt::Display for Interrupted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("interrupted")
    }
}

impl std::error::Error for Interrupted {}

/// SIGINT and SIGTERM set `flag` instead of ending the process, so the demo's waits
/// return and the lab is removed on the way out.
fn watch_signals(flag: Arc<AtomicBool>) -> Result<()> {
    use tokio::signal::unix::{signal, SignalKind};
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .build()?;
    // Registered here, before the lab exists, so no signal falls between the two.
    let (mut int, mut term) = {
        let _ctx = rt.enter();
        (
            signal(SignalKind::interrupt())?,
            signal(SignalKind::terminate())?,
        )
    };
    std::thread::spawn(move || {
        rt.block_on(async {
            tokio::select! {
                _ = int.recv() => {}
                _ = term.recv() => {}
            }
        });
        flag.store(true, Ordering::SeqCst);
    });
    Ok(())
}

/// `t - zero` in seconds, negative when `t` came first.
pub fn rel(t: Duration, zero: Duration) -> f64 {
    let d = t.as_nanos() as i128 - zero.as_nanos() as i128;
    d as f64 / 1e9
}

#[cfg(test)]
mod tests;
