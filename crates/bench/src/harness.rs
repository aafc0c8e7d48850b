//! One run of one scenario for one daemon, in a fresh lab: hosts on a bridge, the
//! daemons, a VIP monitor per router, a capture on the bridge and (for failovers) the
//! client's prober. Every instant is wall-clock nanoseconds ([`Ns`]).
use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{anyhow, bail, Context, Result};
use keepup_testkit::lab::{self, Host, Keepalived, Lab, Lan, Packet, Proc, Signal};

use crate::scenario::{self, Daemon, Fault, Timing};
use crate::{interrupted, monitor, now_ns, probe, secs_between, Ns};

/// Where the binaries are.
#[derive(Debug, Clone)]
pub struct Tools {
    /// This program (for `probe` and `monitor` in the lab's namespaces).
    pub bench: PathBuf,
    pub keepup: PathBuf,
    /// How long the scale scenarios sample CPU and memory.
    pub sample: Duration,
    /// The flood scenarios' rate (packets/s) and length (s).
    pub flood_rate: u64,
    pub flood_secs: f64,
}

/// One figure of one run.
pub type Figure = (&'static str, f64);

/// A daemon running in a lab host.
pub(crate) enum Running {
    /// keepup, and its runtime directory when that is on tmpfs (removed on drop).
    Keepup(Proc, Option<PathBuf>),
    Keepalived(Keepalived),
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Running::Keepup(p, Some(dir)) = self {
            p.terminate(Duration::from_secs(5));
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

/// keepup's runtime directory for `host`: on tmpfs (/dev/shm) when there is one, as
/// /run is on every systemd host (its address record is written before each VIP is
/// added, and a rename on a disk file system costs ~150 µs); else in the lab.
fn runtime_dir(lab: &Lab, host: &Host) -> (PathBuf, bool) {
    let shm = Path::new("/dev/shm");
    let name = lab
        .dir()
        .file_name()
        .map(|n| n.to_string_lossy().into_owned());
    if let (true, Some(name)) = (shm.is_dir(), name) {
        let dir = shm.join(format!("{name}-{}-run", host.name()));
        if std::fs::create_dir_all(&dir).is_ok() {
            return (dir, true);
        }
    }
    (lab.dir().join(format!("{}-run", host.name())), false)
}

/// The configuration file keepup runs with on `host`.
fn keepup_conf(lab: &Lab, host: &Host) -> PathBuf {
    lab.dir().join(format!("{}.conf", host.name()))
}

impl Running {
    pub(crate) fn start(
        tools: &Tools,
        which: Daemon,
        host: &Host,
        conf: &str,
        lab: &Lab,
    ) -> Result<Running> {
        match which {
            Daemon::Keepup => {
                let path = keepup_conf(lab, host);
                std::fs::write(&path, conf)?;
                let (runtime, tmpfs) = runtime_dir(lab, host);
                let log = host.lab_file(&format!("{}-keepup.log", host.name()));
                let args = [
                    "run".to_owned(),
                    "-f".into(),
                    path.display().to_string(),
                    "-i".into(),
                    host.name().into(),
                    "--runtime-dir".into(),
                    runtime.display().to_string(),
                ];
                let p = host.spawn(&tools.keepup.display().to_string(), &args, log)?;
                Ok(Running::Keepup(p, tmpfs.then_some(runtime)))
            }
            Daemon::Keepalived => Ok(Running::Keepalived(host.keepalived(conf)?)),
        }
    }

    pub(crate) fn pid(&self) -> u32 {
        match self {
            Running::Keepup(p, _) => p.pid(),
            Running::Keepalived(k) => k.pid(),
        }
    }

    pub(crate) fn is_running(&self) -> bool {
        match self {
            Running::Keepup(p, _) => p.is_running(),
            Running::Keepalived(k) => k.is_running(),
        }
    }

    pub(crate) fn log(&self) -> String {
        match self {
            Running::Keepup(p, _) => p.log(),
            Running::Keepalived(k) => k.log(),
        }
    }

    /// SIGKILL to the daemon and its children at once (a crash).
    fn kill(&self) -> Result<()> {
        match self {
            Running::Keepup(p, _) => {
                p.kill_tree(Signal::SIGKILL)?;
            }
            Running::Keepalived(k) => {
                k.kill()?;
            }
        }
        Ok(())
    }

    /// SIGTERM, without waiting.
    fn sigterm(&self) -> Result<()> {
        match self {
            Running::Keepup(p, _) => p.kill(Signal::SIGTERM)?,
            Running::Keepalived(k) => k.signal(Signal::SIGTERM)?,
        };
        Ok(())
    }

    /// Send `sig` to the daemon's main process.
    pub(crate) fn signal(&self, sig: Signal) -> Result<()> {
        match self {
            Running::Keepup(p, _) => p.kill(sig)?,
            Running::Keepalived(k) => k.signal(sig)?,
        };
        Ok(())
    }

    /// Replace the configuration file the daemon was started with (a reload reads it).
    pub(crate) fn rewrite_conf(&self, lab: &Lab, host: &Host, conf: &str) -> Result<()> {
        let path = match self {
            Running::Keepup(..) => keepup_conf(lab, host),
            Running::Keepalived(k) => k.conf_path().to_owned(),
        };
        std::fs::write(&path, conf).with_context(|| format!("write {}", path.display()))
    }

    /// SIGTERM and wait for the exit (SIGKILL after a grace period).
    pub(crate) fn stop(&self) {
        match self {
            Running::Keepup(p, _) => {
                p.terminate(Duration::from_secs(5));
            }
            Running::Keepalived(k) => {
                k.stop();
            }
        }
    }

    /// The daemon's process and its descendants (keepalived forks its VRRP child).
    pub(crate) fn pids(&self) -> Vec<u32> {
        let mut v = vec![self.pid()];
        v.extend(descendants(self.pid()));
        v
    }
}

/// Poll `cond` every `poll` until it holds; an error naming `what` after `timeout`
/// or on Ctrl-C.
pub(crate) fn wait(
    timeout: Duration,
    poll: Duration,
    what: &str,
    mut cond: impl FnMut() -> bool,
) -> Result<()> {
    let r = lab::wait_until(timeout, poll, || interrupted() || cond());
    if interrupted() {
        bail!(crate::Interrupted);
    }
    r.map(drop)
        .ok_or_else(|| anyhow!("timed out after {timeout:?} waiting for {what}"))
}

pub(crate) fn pause(d: Duration) -> Result<()> {
    let _ = lab::wait_until(d, Duration::from_millis(20), interrupted);
    if interrupted() {
        bail!(crate::Interrupted);
    }
    Ok(())
}

/// `keepup-bench monitor` in `host`, subscribed before this returns.
fn start_monitor(tools: &Tools, host: &Host) -> Result<(Proc, PathBuf)> {
    let out = host.lab_file(&format!("{}-addr.events", host.name()));
    let p = host.spawn(
        &tools.bench.display().to_string(),
        &[
            "monitor".to_owned(),
            "--out".into(),
            out.display().to_string(),
        ],
        host.lab_file(&format!("{}-monitor.log", host.name())),
    )?;
    p.wait_for_log("monitoring", Duration::from_secs(5))
        .map_err(|e| {
            anyhow!(
                "the VIP monitor in {} did not start: {e}: {}",
                host.name(),
                p.log()
            )
        })?;
    Ok((p, out))
}

/// `keepup-bench probe` in the client, echoing `target` every 2 ms.
fn start_probe(tools: &Tools, client: &Host, target: Ipv4Addr) -> Result<(Proc, PathBuf)> {
    let out = client.lab_file("client-probe.echoes");
    let p = client.spawn(
        &tools.bench.display().to_string(),
        &[
            "probe".to_owned(),
            "--target".into(),
            target.to_string(),
            "--out".into(),
            out.display().to_string(),
        ],
        client.lab_file("client-probe.log"),
    )?;
    p.wait_for_log("probing", Duration::from_secs(5))
        .map_err(|e| anyhow!("the prober did not start: {e}: {}", p.log()))?;
    Ok((p, out))
}

/// Gratuitous ARPs (sender address = target address) in a capture:
/// `(time, sender MAC, address)`.
pub fn garps(packets: &[Packet]) -> Vec<(Ns, [u8; 6], Ipv4Addr)> {
    packets
        .iter()
        .filter_map(|p| {
            let (_, src, et, arp) = p.ethernet()?;
            if et != 0x0806 || arp.get(0..6)? != [0, 1, 8, 0, 6, 4] {
                return None;
            }
            let spa: [u8; 4] = arp.get(14..18)?.try_into().ok()?;
            let tpa: [u8; 4] = arp.get(24..28)?.try_into().ok()?;
            (spa == tpa).then(|| (p.ts.as_nanos() as Ns, src.0, Ipv4Addr::from(spa)))
        })
        .collect()
}

/// A lab with one bridge and hosts at the given addresses.
pub(crate) fn lab_with(tag: &str, hosts: &[(&str, Ipv4Addr)]) -> Result<(Lab, Lan, Vec<Host>)> {
    let lab = Lab::new(tag)?;
    let lan = lab.bridge()?;
    let mut v = Vec::new();
    for (name, ip) in hosts {
        v.push(lab.host(name, &lan, *ip, None)?);
    }
    Ok((lab, lan, v))
}

/// Addresses on any interface of `host` (`ip -j addr`).
pub(crate) fn addresses(host: &Host) -> Vec<IpAddr> {
    host.ifaces()
        .iter()
        .flat_map(|i| host.addresses(&i.name).unwrap_or_default())
        .collect()
}

pub(crate) fn daemon_died(d: &Running, host: &Host) -> anyhow::Error {
    let log = d.log();
    let lines: Vec<&str> = log.lines().filter(|l| !l.trim().is_empty()).collect();
    let last = lines.last().copied().unwrap_or("(its log is empty)");
    let tail = lines[lines.len().saturating_sub(15)..].join("\n");
    // The last line first: the failure list shows one line per run.
    anyhow!(
        "the daemon on {} exited: {last}\nthe end of its log:\n{tail}",
        host.name()
    )
}

// ---------------------------------------------------------------------------------
// Failover.

/// Master r1 and backup r2 run `which`; the client probes the VIP; `fault` strikes r1.
/// Figures: the client's outage and lost echoes, when the new holder added the VIP
/// (its monitor) and sent its first gratuitous ARP for it (the capture), from the
/// fault.
pub fn failover(tools: &Tools, which: Daemon, t: Timing, fault: Fault) -> Result<Vec<Figure>> {
    let (lab, lan, hosts) = lab_with(
        "bench-failover",
        &[
            ("r1", scenario::R1),
            ("r2", scenario::R2),
            ("client", scenario::CLIENT),
        ],
    )?;
    let [r1, r2, client] = <[Host; 3]>::try_from(hosts).map_err(|_| anyhow!("three hosts"))?;
    let vip = IpAddr::V4(scenario::FAILOVER_VIP);
    let adv = Duration::from_secs_f64(t.advert_secs());
    let cap = lan.capture("arp or ip proto 112")?;
    let (_m1, ev1) = start_monitor(tools, &r1)?;
    let (_m2, ev2) = start_monitor(tools, &r2)?;
    let conf = scenario::failover_conf(t);
    let d2 = Running::start(tools, which, &r2, &conf, &lab)?;
    let mut d1 = Running::start(tools, which, &r1, &conf, &lab)?;
    wait(
        Duration::from_secs(15),
        Duration::from_millis(20),
        "r1 to hold the VIP",
        || r1.has_address(vip).unwrap_or(false),
    )
    .map_err(|e| {
        if d1.is_running() {
            e
        } else {
            daemon_died(&d1, &r1)
        }
    })?;
    // Let the backup hear a few adverts before anything fails.
    pause(adv * 3 + Duration::from_millis(500))?;
    let (probe_proc, echoes_file) = start_probe(tools, &client, scenario::FAILOVER_VIP)?;
    let flowing = |span_ms: u64| {
        probe::read(&echoes_file)
            .is_ok_and(|e| probe::flowing(&e, now_ns(), Duration::from_millis(span_ms)))
    };
    wait(
        Duration::from_secs(5),
        Duration::from_millis(20),
        "echo replies from the VIP",
        || flowing(300),
    )?;

    let (t0, holder, holder_events) = match fault {
        Fault::Cut => {
            let t0 = now_ns();
            lan.port_down(&r1)?;
            (t0, &r2, &ev2)
        }
        Fault::Kill => {
            let t0 = now_ns();
            d1.kill()?;
            (t0, &r2, &ev2)
        }
        Fault::Term => {
            let t0 = now_ns();
            d1.sigterm()?;
            (t0, &r2, &ev2)
        }
        Fault::Restart => {
            d1.stop();
            wait(
                Duration::from_secs(15),
                Duration::from_millis(20),
                "r2 to take over",
                || r2.has_address(vip).unwrap_or(false),
            )?;
            wait(
                Duration::from_secs(5),
                Duration::from_millis(20),
                "echo replies via r2",
                || flowing(300),
            )?;
            pause(adv * 3 + Duration::from_millis(300))?;
            let t0 = now_ns();
            d1 = Running::start(tools, which, &r1, &conf, &lab)?;
            (t0, &r1, &ev1)
        }
    };
    let limit = adv * 4 + Duration::from_secs(10);
    wait(
        limit,
        Duration::from_millis(10),
        "the VIP on the new master",
        || monitor::added_after(&monitor::read(holder_events), vip, t0).is_some(),
    )?;
    wait(
        Duration::from_secs(10),
        Duration::from_millis(20),
        "echo replies after the failover",
        || flowing(300),
    )?;
    // Room for a late flap (a second takeover, a VIP dropped again).
    pause((adv * 3).max(Duration::from_secs(1)))?;
    let t_end = now_ns();
    pause(Duration::from_millis(50))?;
    probe_proc.terminate(Duration::from_secs(3));
    let packets = cap.stop()?;
    let echoes = probe::read(&echoes_file)?;
    let events = monitor::read(holder_events);
    drop(d1);
    drop(d2);
    drop(lab);

    let out = probe::outage(&echoes, t0, t_end)
        .ok_or_else(|| anyhow!("no echo reply after the fault"))?;
    let added = monitor::added_after(&events, vip, t0).map(|a| secs_between(t0, a));
    let mac = holder.ifaces()[0].mac.0;
    let garp_at = garps(&packets)
        .into_iter()
        .find(|(ts, src, ip)| *ts >= t0 && *src == mac && IpAddr::V4(*ip) == vip)
        .map(|(ts, _, _)| ts);
    let mut figs = vec![("outage s", out.gap), ("lost echoes", out.lost as f64)];
    if let Some(a) = added {
        figs.push(("VIP added s", a));
    }
    if let Some(g) = garp_at {
        figs.push(("first GARP s", secs_between(t0, g)));
    }
    // When r2's down timer should have expired: r1's last advert on the wire plus
    // r2's Master_Down_Interval (3 intervals + skew; priority 100), or its skew after
    // the priority-0 advert. The new Master's first GARP after that is the daemon's
    // own reaction time.
    if fault != Fault::Restart {
        let r1_mac = r1.ifaces()[0].mac.0;
        let skew = adv.as_secs_f64() * (256.0 - 100.0) / 256.0;
        let last = adverts(&packets)
            .into_iter()
            .rfind(|(ts, src, _)| *src == r1_mac && *ts <= garp_at.unwrap_or(0));
        if let (Some((ts, _, prio)), Some(g)) = (last, garp_at) {
            let wait = if prio == 0 {
                skew
            } else {
                adv.as_secs_f64() * 3.0 + skew
            };
            let expiry = ts + (wait * 1e9) as Ns;
            figs.push(("expiry→GARP ms", (g as f64 - expiry as f64) / 1e6));
        }
    }
    Ok(figs)
}

/// VRRP adverts over IPv4 in a capture: time, source MAC, priority.
fn adverts(packets: &[Packet]) -> Vec<(Ns, [u8; 6], u8)> {
    packets
        .iter()
        .filter_map(|p| {
            let (_, src, et, ip) = p.ethernet()?;
            if et != 0x0800 || *ip.get(9)? != 112 {
                return None;
            }
            let ihl = usize::from(ip.first()? & 0x0f) * 4;
            let prio = *ip.get(ihl + 2)?;
            Some((p.ts.as_nanos() as Ns, src.0, prio))
        })
        .collect()
}

// ---------------------------------------------------------------------------------
// Scale: CPU and memory of N instances.

/// CPU time of a process in ns, and its VmRSS in kB.
///
/// The time is the scheduler's own account (`/proc/PID/task/*/schedstat`, summed
/// over threads), exact to the ns; utime + stime are sampled at the tick (10 ms),
/// too coarse for a daemon that runs 200 times a second for a few µs each.
/// Without schedstats (a kernel built without them), utime + stime.
pub(crate) fn proc_usage(pid: u32) -> Option<(u64, u64)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after = &stat[stat.rfind(')')? + 1..];
    let f: Vec<&str> = after.split_whitespace().collect();
    let ticks = f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?;
    let ns = run_ns(pid).unwrap_or(ticks * 1_000_000_000 / clock_ticks() as u64);
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let rss = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0);
    Some((ns, rss))
}

/// Time on CPU of every thread of `pid`, in ns, from schedstat.
fn run_ns(pid: u32) -> Option<u64> {
    let mut total = 0;
    for t in std::fs::read_dir(format!("/proc/{pid}/task")).ok()? {
        let path = t.ok()?.path().join("schedstat");
        let line = std::fs::read_to_string(path).ok()?;
        total += line.split_whitespace().next()?.parse::<u64>().ok()?;
    }
    Some(total)
}

fn ppid(p: u32) -> Option<u32> {
    let stat = std::fs::read_to_string(format!("/proc/{p}/stat")).ok()?;
    stat[stat.rfind(')')? + 1..]
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

/// Every descendant of `root`, from /proc.
pub fn descendants(root: u32) -> Vec<u32> {
    let all: Vec<(u32, u32)> = std::fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let p = e.file_name().to_str()?.parse::<u32>().ok()?;
            Some((p, ppid(p)?))
        })
        .collect();
    let mut out = vec![];
    let mut frontier = vec![root];
    while let Some(parent) = frontier.pop() {
        for &(p, pp) in &all {
            if pp == parent && !out.contains(&p) {
                out.push(p);
                frontier.push(p);
            }
        }
    }
    out
}

fn clock_ticks() -> f64 {
    // USER_HZ: 100 on every Linux architecture keepup runs on.
    100.0
}

/// CPU % of one core and peak total RSS (MB) of the processes of `d` over `span`.
struct Usage {
    cpu: f64,
    rss_mb: f64,
    procs: usize,
}

fn sample(daemons: &[&Running], span: Duration) -> Result<Vec<Usage>> {
    let pids: Vec<Vec<u32>> = daemons.iter().map(|d| d.pids()).collect();
    let cpu_ns =
        |ps: &[u32]| -> u64 { ps.iter().filter_map(|p| proc_usage(*p)).map(|u| u.0).sum() };
    let rss = |ps: &[u32]| -> u64 { ps.iter().filter_map(|p| proc_usage(*p)).map(|u| u.1).sum() };
    let start: Vec<u64> = pids.iter().map(|p| cpu_ns(p)).collect();
    let t_start = now_ns();
    let mut peak = vec![0u64; pids.len()];
    let deadline = std::time::Instant::now() + span;
    while std::time::Instant::now() < deadline {
        for (i, p) in pids.iter().enumerate() {
            peak[i] = peak[i].max(rss(p));
        }
        pause(
            Duration::from_secs(1)
                .min(deadline.saturating_duration_since(std::time::Instant::now())),
        )?;
    }
    let elapsed = secs_between(t_start, now_ns());
    for (d, p) in daemons.iter().zip(&pids) {
        if !d.is_running() || p.iter().any(|x| proc_usage(*x).is_none()) {
            bail!("a daemon process exited while it was sampled");
        }
    }
    Ok(pids
        .iter()
        .enumerate()
        .map(|(i, p)| Usage {
            cpu: (cpu_ns(p) - start[i]) as f64 / 1e9 / elapsed * 100.0,
            rss_mb: peak[i] as f64 / 1024.0,
            procs: p.len(),
        })
        .collect())
}

/// `n` instances on r1 (master) and r2 (backup).
pub fn scale(tools: &Tools, which: Daemon, n: usize, timing: Timing) -> Result<Vec<Figure>> {
    let lab = Lab::new("bench-scale")?;
    let lans: Vec<Lan> = (0..scenario::scale_lans(n))
        .map(|_| lab.bridge())
        .collect::<Result<_, _>>()?;
    let mut r1 = lab.host("r1", &lans[0], scenario::scale_router_addr(0, 1), None)?;
    let mut r2 = lab.host("r2", &lans[0], scenario::scale_router_addr(0, 2), None)?;
    for (k, lan) in lans.iter().enumerate().skip(1) {
        r1.join(lan, scenario::scale_router_addr(k, 1), None)?;
        r2.join(lan, scenario::scale_router_addr(k, 2), None)?;
    }
    let conf = scenario::scale_conf(n, timing);
    let vips: Vec<IpAddr> = (0..n).map(|j| IpAddr::V4(scenario::scale_vip(j))).collect();
    let count = |h: &Host| {
        let have = addresses(h);
        vips.iter().filter(|v| have.contains(v)).count()
    };
    // The master first, so the figures are of the steady state (a backup that starts
    // with it may win the first elections and be preempted).
    let t_start = now_ns();
    let d1 = Running::start(tools, which, &r1, &conf, &lab)?;
    let timeout = Duration::from_secs(30 + n as u64 / 10);
    wait(
        timeout,
        Duration::from_millis(100),
        &format!("{n} VIPs on r1"),
        || count(&r1) == n || !d1.is_running(),
    )?;
    if !d1.is_running() {
        return Err(daemon_died(&d1, &r1));
    }
    let all_up = secs_between(t_start, now_ns());
    let d2 = Running::start(tools, which, &r2, &conf, &lab)?;
    // Longer than the backup's Master_Down_Interval (3.6 s): had it missed adverts,
    // it would hold VIPs by now.
    pause(Duration::from_secs(5))?;
    if !d2.is_running() {
        return Err(daemon_died(&d2, &r2));
    }
    if count(&r2) != 0 || count(&r1) != n {
        bail!(
            "after the backup started, r1 holds {} and r2 {} of the {n} VIPs",
            count(&r1),
            count(&r2)
        );
    }
    let u = sample(&[&d1, &d2], tools.sample)?;
    if count(&r1) != n {
        bail!("r1 lost VIPs while it was sampled: {} of {n}", count(&r1));
    }
    // The master first: keepup hands its instances over to r2 and exits once r2
    // has taken them; stopped last, it would wait its down interval for a successor.
    d1.stop();
    d2.stop();
    drop(lab);
    Ok(vec![
        ("all VIPs up s", all_up),
        ("CPU % master", u[0].cpu),
        ("CPU % backup", u[1].cpu),
        ("RSS MB master", u[0].rss_mb),
        ("RSS MB backup", u[1].rss_mb),
        ("processes", u[0].procs as f64),
    ])
}

// ---------------------------------------------------------------------------------
// Many VIPs.

/// One instance with `n` VIPs, MASTER on r1. Figures from the master transition (the
/// earlier of r1's first advert and its first VIP added): until all VIPs are on the
/// interface, and until each has had its first gratuitous ARP.
pub fn vips(tools: &Tools, which: Daemon, n: usize, excluded: bool) -> Result<Vec<Figure>> {
    let (lab, lan, hosts) = lab_with("bench-vips", &[("r1", scenario::R1)])?;
    let r1 = &hosts[0];
    let cap = lan.capture("arp or ip proto 112")?;
    let (_mon, events_file) = start_monitor(tools, r1)?;
    let vips: Vec<Ipv4Addr> = (0..n).map(scenario::many_vip).collect();
    let t_start = now_ns();
    let d = Running::start(tools, which, r1, &scenario::vips_conf(n, excluded), &lab)?;
    let timeout = Duration::from_secs(30);
    let added = |ev: &[monitor::AddrEvent]| {
        let mut seen = std::collections::HashSet::new();
        for e in ev.iter().filter(|e| e.added) {
            seen.insert(e.addr);
        }
        vips.iter()
            .filter(|v| seen.contains(&IpAddr::V4(**v)))
            .count()
    };
    wait(
        timeout,
        Duration::from_millis(50),
        &format!("{n} VIPs on r1"),
        || added(&monitor::read(&events_file)) == n || !d.is_running(),
    )?;
    if !d.is_running() {
        return Err(daemon_died(&d, r1));
    }
    let mac = r1.ifaces()[0].mac.0;
    let announced = |p: &[Packet]| {
        let mut seen = std::collections::HashSet::new();
        for (_, src, ip) in garps(p) {
            if src == mac {
                seen.insert(ip);
            }
        }
        vips.iter().filter(|v| seen.contains(v)).count()
    };
    // All of them, or as many as come within 20 s (past keepalived's second round,
    // garp_master_delay 5 s).
    let _ = lab::wait_until(Duration::from_secs(20), Duration::from_millis(100), || {
        interrupted() || cap.packets().is_ok_and(|p| announced(&p) == n)
    });
    if interrupted() {
        bail!(crate::Interrupted);
    }
    let packets = cap.stop()?;
    let events = monitor::read(&events_file);
    drop(d);
    drop(lab);

    let first_advert = lab::vrrp_adverts(&packets)
        .iter()
        .find(|a| a.src == IpAddr::V4(scenario::R1))
        .map(|a| a.ts.as_nanos() as Ns);
    let first_add = events.iter().filter(|e| e.added).map(|e| e.at).min();
    let last_add = vips
        .iter()
        .filter_map(|v| monitor::added_after(&events, IpAddr::V4(*v), t_start))
        .max()
        .context("no VIP added")?;
    let master = [first_advert, first_add]
        .into_iter()
        .flatten()
        .min()
        .context("no master transition seen")?;
    let g = garps(&packets);
    let first_garps: Vec<Ns> = vips
        .iter()
        .filter_map(|v| {
            g.iter()
                .find(|(_, src, ip)| *src == mac && ip == v)
                .map(|x| x.0)
        })
        .collect();
    let mut figs = vec![
        ("start to all VIPs s", secs_between(t_start, last_add)),
        ("master to all VIPs s", secs_between(master, last_add)),
        ("VIPs with a GARP", first_garps.len() as f64),
    ];
    if first_garps.len() == n {
        let last = first_garps.iter().copied().max().unwrap_or(master);
        figs.push(("master to all GARPs s", secs_between(master, last)));
    }
    Ok(figs)
}

// ---------------------------------------------------------------------------------
// Health checkers at scale.

/// nginx in the servers' host, listening on every port in `ports` itself (a NAT
/// redirect to one port would cost the checker side conntrack's work: measured, a
/// third of its CPU); its files in the lab dir.
fn start_nginx(lab: &Lab, host: &Host, ports: std::ops::RangeInclusive<usize>) -> Result<Proc> {
    let dir = lab.dir().join("nginx");
    let path = write_nginx_conf(&dir, scenario::SERVERS, ports)?;
    let p = host.spawn("nginx", &["-c", &path.display().to_string()], "nginx.log")?;
    // Up when the last port listens.
    Ok(p)
}

/// An nginx.conf in `dir` (with its temporary files there) answering `200 ok` on
/// each of `ports` of `address`, many connections at once, no access log; its path.
pub(crate) fn write_nginx_conf(
    dir: &std::path::Path,
    address: std::net::Ipv4Addr,
    ports: impl IntoIterator<Item = usize>,
) -> Result<PathBuf> {
    use std::fmt::Write as _;
    std::fs::create_dir_all(dir.join("tmp"))?;
    let d = dir.display();
    let mut listen = String::new();
    for p in ports {
        let _ = writeln!(listen, "  listen {address}:{p} backlog=1024;");
    }
    let conf = format!(
        "daemon off;\nmaster_process off;\nworker_rlimit_nofile 65536;\npid {d}/nginx.pid;\n\
         error_log {d}/error.log;\nevents {{ worker_connections 16384; }}\nhttp {{\n\
         access_log off;\n client_body_temp_path {d}/tmp;\n proxy_temp_path {d}/tmp;\n\
         fastcgi_temp_path {d}/tmp;\n uwsgi_temp_path {d}/tmp;\n scgi_temp_path {d}/tmp;\n\
         server {{\n{listen}  location / {{ return 200 \"ok\\n\"; }}\n }}\n}}\n"
    );
    let path = dir.join("nginx.conf");
    std::fs::write(&path, conf)?;
    Ok(path)
}

/// Connections opened to the servers' host so far (its nft counter of SYNs).
fn connections(host: &Host) -> Result<u64> {
    let out = host.run(["nft", "list", "chain", "ip", "keepup_bench", "input"])?;
    let n = out
        .split_whitespace()
        .skip_while(|w| *w != "packets")
        .nth(1)
        .and_then(|n| n.parse().ok())
        .ok_or_else(|| anyhow!("no counter in: {out}"))?;
    Ok(n)
}

/// keepup with `tcp` + `http` checked real servers on r1: checks per second, CPU and
/// memory, and whether the VRRP instance beside them kept its adverts on time.
pub fn checkers(tools: &Tools, tcp: usize, http: usize) -> Result<Vec<Figure>> {
    let (lab, _lan, hosts) = lab_with(
        "bench-chk",
        &[("r1", scenario::R1), ("srv", scenario::SERVERS)],
    )?;
    let (r1, srv) = (&hosts[0], &hosts[1]);
    let first = usize::from(scenario::FIRST_PORT);
    let last = first + tcp + http - 1;
    // A plain filter rule: no NAT, so no connection tracking either.
    srv.nft(&format!(
        "table ip keepup_bench {{\n chain input {{\n  type filter hook input priority 0;\n  \
         tcp dport {first}-{last} tcp flags syn counter\n }}\n}}\n"
    ))?;
    let _nginx = start_nginx(&lab, srv, first..=last)?;
    pause(Duration::from_secs(2))?;
    let conf = scenario::checkers_conf(tcp, http);
    let d = Running::start(tools, Daemon::Keepup, r1, &conf, &lab)?;
    // Every checker has run once (1 s + warmup up to delay_loop), and the rate is steady.
    pause(Duration::from_secs(5))?;
    if !d.is_running() {
        return Err(daemon_died(&d, r1));
    }
    // On r1's own interface: the adverts as they leave it. (On the bridge, they would
    // also wait behind the checks' packets in the kernel's per-CPU receive backlog,
    // which the veth pair shares with them: a lab artifact a NIC does not have.)
    let cap = r1.capture("eth0", "ip proto 112")?;
    let before = connections(srv)?;
    let t0 = now_ns();
    let u = sample(&[&d], tools.sample)?;
    let checks = (connections(srv)? - before) as f64 / secs_between(t0, now_ns());
    let packets = cap.stop()?;
    let times: Vec<Ns> = adverts(&packets).into_iter().map(|(t, _, _)| t).collect();
    let gap = times
        .windows(2)
        .map(|w| w[1].saturating_sub(w[0]))
        .max()
        .unwrap_or(0) as f64
        / 1e6;
    if times.len() < 2 {
        bail!("no adverts captured:\n{}", d.log());
    }
    let log = d.log();
    // Every real server answers: none may have been taken out (the hung MISC_CHECK's
    // own server aside).
    let lost = log
        .lines()
        .filter(|l| l.contains("Removing service") && !l.contains(":8081 from"))
        .count();
    d.stop();
    drop(lab);
    Ok(vec![
        ("checks/s", checks),
        ("CPU %", u[0].cpu),
        ("RSS MB", u[0].rss_mb),
        ("largest advert gap ms", gap),
        ("real servers lost", lost as f64),
    ])
}
