//! The long run: N VRRP instances on a master/backup pair for an hour, trackers
//! flapping and reloads at intervals, for keepup and keepalived side by side (a lab
//! each, at the same time, the same keepalived.conf). Every sample records each
//! daemon's processes, resident memory, open descriptors and zombies; after the stop,
//! what each left behind in its namespaces. A failure: resident memory that grows
//! from the first quarter of the samples after the warm-up to the last quarter (their
//! peaks compared: after each reload the allocator settles at another level, so single
//! samples step up and down), more open descriptors at the end than at the start, a
//! zombie that outlives a sample interval, anything left behind.
use std::fmt::Write as _;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use clap::Args;
use keepup_testkit::lab::{Host, Lab, Signal};

use crate::harness::{self, Running, Tools};
use crate::scenario::{self, Daemon};
use crate::{interrupted, now_ns, Ns};

#[derive(Args, Debug, Clone)]
pub struct LongrunArgs {
    /// How long the daemons run, in minutes (fractions allowed).
    #[arg(long, default_value_t = 60.0)]
    minutes: f64,
    /// VRRP instances (one VIP each) on the pair.
    #[arg(long, default_value_t = 200)]
    instances: usize,
    /// Seconds between tracker flips (a tracked file each time, round robin; every
    /// fifth flip also the tracked script).
    #[arg(long, default_value_t = 10)]
    flap_every: u64,
    /// Seconds between reloads (SIGHUP to both routers), alternately with the same
    /// configuration and with a changed one (other priorities, one instance fewer).
    #[arg(long, default_value_t = 300)]
    reload_every: u64,
    /// Seconds between samples.
    #[arg(long, default_value_t = 30)]
    sample_every: u64,
    /// Seconds before the first sample that counts (default: until each kind of
    /// reload has run once, 2 x --reload-every plus a minute, at most half the run).
    #[arg(long)]
    warmup: Option<u64>,
    /// Only this daemon.
    #[arg(long, value_parser = ["keepup", "keepalived"])]
    daemon: Option<String>,
    /// The keepup binary (default: `keepup` next to this program).
    #[arg(long)]
    keepup: Option<PathBuf>,
    /// Where longrun-latest.md goes.
    #[arg(long, default_value = "bench/results")]
    out: PathBuf,
}

/// Tracked files; instance j tracks file j % FILES (on the master only).
const FILES: usize = 10;
/// A tracked file's or script's weight: the master (150) falls below the backup (100).
const WEIGHT: i32 = -60;

/// The pair's keepalived.conf in generation `g` (a changed reload moves to g + 1):
/// odd generations give the backup another priority and drop the last instance.
fn conf(n: usize, g: u32, flags: &Path) -> String {
    let n = if g % 2 == 1 { n - 1 } else { n };
    let backup_prio = if g % 2 == 1 { 101 } else { 100 };
    let mut s = format!(
        "# keepup-bench longrun: {n} instances, generation {g}
global_defs {{
    script_user root
    enable_script_security
}}
vrrp_script chk_flap {{
    script \"/usr/bin/test ! -e {dir}/script-down\"
    interval 2
    weight {WEIGHT}
}}
",
        dir = flags.display()
    );
    for k in 0..FILES {
        let _ = write!(
            s,
            "vrrp_track_file flap_{k} {{\n    file \"{}\"\n    weight {WEIGHT}\n}}\n",
            flags.join(format!("file-{k}")).display()
        );
    }
    for j in 0..n {
        let _ = write!(
            s,
            "vrrp_instance L{j} {{
@r1 state MASTER
@r2 state BACKUP
    interface eth0
    virtual_router_id {vrid}
@r1 priority 150
@r2 priority {backup_prio}
    advert_int 1
    virtual_ipaddress {{
        {vip}/24
    }}
@r1 track_file {{
@r1     flap_{k}
@r1 }}
@r1 track_script {{
@r1     chk_flap
@r1 }}
}}
",
            vrid = j % scenario::PER_LAN + 1,
            vip = scenario::scale_vip(j),
            k = j % FILES,
        );
    }
    s
}

/// One sample of one daemon (its processes on both routers).
#[derive(Debug, Clone, Copy, Default)]
struct Sample {
    at: f64,
    procs: usize,
    rss_kb: u64,
    fds: usize,
    zombies: usize,
    /// VIPs held on r1 and on r2.
    held: (usize, usize),
    /// VIPs (of the instances every generation has) on both routers, on neither.
    both: usize,
    neither: usize,
}

/// A daemon's lab: r1 (master) and r2 (backup) on one bridge.
struct Pair {
    which: Daemon,
    lab: Lab,
    hosts: [Host; 2],
    daemons: Vec<Running>,
    flags: PathBuf,
    samples: Vec<Sample>,
    /// Zombie PIDs of the previous sample: one still there a sample later is a leak.
    zombies_before: Vec<u32>,
    lasting_zombies: usize,
    generation: u32,
}

impl Pair {
    fn start(tools: &Tools, which: Daemon, n: usize) -> Result<Pair> {
        let lab = Lab::new(&format!("long-{}", which.name()))?;
        let lan = lab.bridge()?;
        let r1 = lab.host("r1", &lan, scenario::scale_router_addr(0, 1), None)?;
        let r2 = lab.host("r2", &lan, scenario::scale_router_addr(0, 2), None)?;
        let flags = lab.dir().join("flags");
        std::fs::create_dir_all(&flags)?;
        for k in 0..FILES {
            std::fs::write(flags.join(format!("file-{k}")), "0\n")?;
        }
        let text = conf(n, 0, &flags);
        let d1 = Running::start(tools, which, &r1, &text, &lab)?;
        let d2 = Running::start(tools, which, &r2, &text, &lab)?;
        Ok(Pair {
            which,
            lab,
            hosts: [r1, r2],
            daemons: vec![d1, d2],
            flags,
            samples: vec![],
            zombies_before: vec![],
            lasting_zombies: 0,
            generation: 0,
        })
    }

    /// Flip tracked file `k` (0 <-> 1); `script` also flips the tracked script.
    fn flip(&self, k: usize, script: bool) -> Result<()> {
        let path = self.flags.join(format!("file-{k}"));
        let now = std::fs::read_to_string(&path).unwrap_or_default();
        let next = if now.trim() == "1" { "0\n" } else { "1\n" };
        std::fs::write(&path, next)?;
        if script {
            let down = self.flags.join("script-down");
            if down.exists() {
                std::fs::remove_file(down)?;
            } else {
                std::fs::write(down, "")?;
            }
        }
        Ok(())
    }

    /// SIGHUP to both routers, after writing generation `g`'s configuration.
    fn reload(&mut self, n: usize, changed: bool) -> Result<()> {
        if changed {
            self.generation += 1;
        }
        let text = conf(n, self.generation, &self.flags);
        for (d, h) in self.daemons.iter().zip(&self.hosts) {
            d.rewrite_conf(&self.lab, h, &text)?;
            d.signal(Signal::SIGHUP)?;
        }
        Ok(())
    }

    fn check_running(&self) -> Result<()> {
        for (d, h) in self.daemons.iter().zip(&self.hosts) {
            if !d.is_running() {
                return Err(harness::daemon_died(d, h));
            }
        }
        Ok(())
    }

    fn sample(&mut self, since: Ns, n: usize) {
        let mut s = Sample {
            at: crate::secs_between(since, now_ns()),
            ..Sample::default()
        };
        let mut zombies = vec![];
        for d in &self.daemons {
            for p in d.pids() {
                s.procs += 1;
                s.rss_kb += rss_kb(p).unwrap_or(0);
                s.fds += open_fds(p);
                if is_zombie(p) {
                    zombies.push(p);
                }
            }
        }
        s.zombies = zombies.len();
        self.lasting_zombies += zombies
            .iter()
            .filter(|z| self.zombies_before.contains(z))
            .count();
        self.zombies_before = zombies;
        let vips: Vec<IpAddr> = (0..n).map(|j| IpAddr::V4(scenario::scale_vip(j))).collect();
        let have = [
            harness::addresses(&self.hosts[0]),
            harness::addresses(&self.hosts[1]),
        ];
        let on = |k: usize, v: &IpAddr| have[k].contains(v);
        s.held = (
            vips.iter().filter(|v| on(0, v)).count(),
            vips.iter().filter(|v| on(1, v)).count(),
        );
        // The last instance is absent from odd generations.
        for v in &vips[..n - 1] {
            match (on(0, v), on(1, v)) {
                (true, true) => s.both += 1,
                (false, false) => s.neither += 1,
                _ => {}
            }
        }
        self.samples.push(s);
    }

    /// Stop both daemons (the master first, as an operator would), then list what
    /// they left in their namespaces: VIPs, nftables tables, links that are not the
    /// lab's, processes.
    fn stop_and_inspect(&mut self, n: usize) -> Vec<String> {
        let mut left = vec![];
        let children: Vec<u32> = self
            .daemons
            .iter()
            .flat_map(|d| d.pids().into_iter().skip(1))
            .collect();
        for d in &self.daemons {
            d.stop();
        }
        for p in children {
            if keepup_testkit::lab::alive(p) {
                left.push(format!("process {p} (a child) still runs"));
            }
        }
        let vips: Vec<IpAddr> = (0..n).map(|j| IpAddr::V4(scenario::scale_vip(j))).collect();
        for h in &self.hosts {
            let have = harness::addresses(h);
            let stale = vips.iter().filter(|v| have.contains(v)).count();
            if stale > 0 {
                left.push(format!("{}: {stale} VIPs still on its interface", h.name()));
            }
            match h.run(["nft", "list", "tables"]) {
                Ok(t) if !t.trim().is_empty() => {
                    left.push(format!("{}: nftables tables {:?}", h.name(), t.trim()))
                }
                Ok(_) => {}
                Err(e) => left.push(format!("{}: nft list tables failed: {e}", h.name())),
            }
            match h.run(["ip", "-o", "link", "show"]) {
                Ok(t) => {
                    for line in t.lines() {
                        let name = line.split(':').nth(1).map(str::trim).unwrap_or("");
                        let name = name.split('@').next().unwrap_or(name);
                        if name != "lo" && !name.starts_with("eth") {
                            left.push(format!("{}: link {name}", h.name()));
                        }
                    }
                }
                Err(e) => left.push(format!("{}: ip link failed: {e}", h.name())),
            }
        }
        left
    }
}

fn rss_kb(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
}

fn open_fds(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .map(|d| d.count())
        .unwrap_or(0)
}

fn is_zombie(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| {
            let i = s.rfind(')')?;
            Some(s[i + 1..].split_whitespace().next()? == "Z")
        })
        .unwrap_or(false)
}

/// What one daemon's run came to.
struct Verdict {
    which: Daemon,
    first: Sample,
    last: Sample,
    max: Sample,
    /// Peak RSS of the first and of the last quarter of the counted samples.
    early_kb: u64,
    late_kb: u64,
    samples: usize,
    lasting_zombies: usize,
    /// Samples where a VIP was on both routers or on neither (a sample may fall inside
    /// a failover; the figure is information, not a failure).
    split_or_none: usize,
    left: Vec<String>,
    problems: Vec<String>,
}

/// RSS growth beyond this is a leak, not noise (allocator arenas settle in steps).
const RSS_NOISE_KB: u64 = 1024;

fn judge(p: &Pair, warmup: f64, left: Vec<String>) -> Verdict {
    let counted: Vec<Sample> = p
        .samples
        .iter()
        .copied()
        .filter(|s| s.at >= warmup)
        .collect();
    let first = counted.first().copied().unwrap_or_default();
    let last = counted.last().copied().unwrap_or_default();
    let quarter = counted.len().div_ceil(4);
    let peak = |w: &[Sample]| w.iter().map(|s| s.rss_kb).max().unwrap_or(0);
    let early = peak(&counted[..quarter]);
    let late = peak(&counted[counted.len() - quarter..]);
    let max = Sample {
        procs: counted.iter().map(|s| s.procs).max().unwrap_or(0),
        rss_kb: counted.iter().map(|s| s.rss_kb).max().unwrap_or(0),
        fds: counted.iter().map(|s| s.fds).max().unwrap_or(0),
        zombies: counted.iter().map(|s| s.zombies).max().unwrap_or(0),
        ..Sample::default()
    };
    let mut problems = vec![];
    if counted.len() < 2 {
        problems.push(format!(
            "only {} samples after the warm-up: run longer",
            counted.len()
        ));
    }
    let growth = late.saturating_sub(early);
    if growth > RSS_NOISE_KB.max(early / 10) {
        problems.push(format!(
            "RSS grew {growth} kB (peak of the first quarter {early} kB, of the last {late} kB)"
        ));
    }
    // A reload or a script may hold a descriptor or two at the instant of a sample.
    if last.fds > first.fds + 2 {
        problems.push(format!("open descriptors {} -> {}", first.fds, last.fds));
    }
    if p.lasting_zombies > 0 {
        problems.push(format!(
            "{} zombie(s) outlived a sample interval",
            p.lasting_zombies
        ));
    }
    if !left.is_empty() {
        problems.push(format!("left behind after the stop: {}", left.join("; ")));
    }
    let split_or_none = counted.iter().filter(|s| s.both + s.neither > 0).count();
    Verdict {
        which: p.which,
        first,
        last,
        max,
        early_kb: early,
        late_kb: late,
        samples: counted.len(),
        lasting_zombies: p.lasting_zombies,
        split_or_none,
        left,
        problems,
    }
}

pub fn run(args: LongrunArgs) -> Result<ExitCode> {
    if !keepup_testkit::lab::is_root() {
        eprintln!("keepup-bench longrun needs root: it builds network namespaces");
        return Ok(ExitCode::from(1));
    }
    let n = args.instances;
    if !(2..=scenario::PER_LAN).contains(&n) {
        bail!("--instances must be 2-{} (one LAN)", scenario::PER_LAN);
    }
    let (tools, versions) = crate::tools(args.keepup.clone(), Duration::ZERO)?;
    crate::watch_signals()?;
    let daemons: Vec<Daemon> = Daemon::BOTH
        .into_iter()
        .filter(|d| args.daemon.as_deref().is_none_or(|x| x == d.name()))
        .collect();
    let span = Duration::from_secs_f64(args.minutes.max(0.0) * 60.0);
    let warmup = args
        .warmup
        .unwrap_or((2 * args.reload_every + 60).min(span.as_secs() / 2));
    eprintln!(
        "longrun: {n} instances on a master/backup pair of {} for {:.1} min; a tracker \
         flips every {} s, a reload every {} s, a sample every {} s",
        daemons
            .iter()
            .map(|d| d.name())
            .collect::<Vec<_>>()
            .join(" and "),
        args.minutes,
        args.flap_every,
        args.reload_every,
        args.sample_every
    );
    let mut pairs = daemons
        .iter()
        .map(|&d| Pair::start(&tools, d, n).with_context(|| format!("start {}", d.name())))
        .collect::<Result<Vec<_>>>()?;
    let t0 = now_ns();
    let start = Instant::now();
    let every = |s: u64| Duration::from_secs(s.max(1));
    let (mut next_flap, mut next_reload, mut next_sample) = (
        start + every(args.flap_every),
        start + every(args.reload_every),
        start,
    );
    let (mut flips, mut reloads) = (0usize, 0usize);
    let mut failure = None;
    while start.elapsed() < span && !interrupted() {
        let now = Instant::now();
        if now >= next_sample {
            next_sample += every(args.sample_every);
            for p in &mut pairs {
                p.sample(t0, n);
            }
            let line: Vec<String> = pairs
                .iter()
                .filter_map(|p| {
                    let s = p.samples.last()?;
                    Some(format!(
                        "{} {} procs, {} kB, {} fds, {} zombies, VIPs {}/{}",
                        p.which.name(),
                        s.procs,
                        s.rss_kb,
                        s.fds,
                        s.zombies,
                        s.held.0,
                        s.held.1
                    ))
                })
                .collect();
            eprintln!(
                "  t={:>6.0}s  {}",
                start.elapsed().as_secs_f64(),
                line.join(" | ")
            );
        }
        if now >= next_flap {
            next_flap += every(args.flap_every);
            for p in &pairs {
                p.flip(flips % FILES, flips % 5 == 4)?;
            }
            flips += 1;
        }
        if now >= next_reload {
            next_reload += every(args.reload_every);
            let changed = reloads % 2 == 1;
            for p in &mut pairs {
                p.reload(n, changed)?;
            }
            reloads += 1;
        }
        if let Some(e) = pairs.iter().find_map(|p| p.check_running().err()) {
            failure = Some(e);
            break;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    for p in &mut pairs {
        p.sample(t0, n);
    }
    let elapsed = start.elapsed();
    let verdicts: Vec<Verdict> = pairs
        .iter_mut()
        .map(|p| {
            let left = p.stop_and_inspect(n);
            judge(p, warmup as f64, left)
        })
        .collect();
    drop(pairs);
    if let Some(e) = failure {
        return Err(e);
    }
    let report = report(&args, warmup, &versions, elapsed, flips, reloads, &verdicts);
    println!("{report}");
    std::fs::create_dir_all(&args.out)?;
    let md = args.out.join("longrun-latest.md");
    std::fs::write(&md, &report).with_context(|| format!("write {}", md.display()))?;
    eprintln!("wrote {}", md.display());
    if interrupted() {
        return Ok(ExitCode::from(130));
    }
    let keepup_ok = verdicts
        .iter()
        .filter(|v| v.which == Daemon::Keepup)
        .all(|v| v.problems.is_empty());
    Ok(if keepup_ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

fn report(
    args: &LongrunArgs,
    warmup: u64,
    versions: &str,
    elapsed: Duration,
    flips: usize,
    reloads: usize,
    verdicts: &[Verdict],
) -> String {
    let mut s = format!(
        "# keepup-bench longrun\n\n{}\n{} instances, advert_int 1, {:.1} min; {flips} tracker \
         flips, {reloads} reloads, half of them with changes; figures from the first sample \
         after a {} s warm-up to the last, summed over the master's and the backup's \
         processes.\n\n",
        crate::machine_header(versions),
        args.instances,
        elapsed.as_secs_f64() / 60.0,
        warmup
    );
    s.push_str(
        "| daemon | samples | RSS kB first | last | max | peak 1st / last quarter | fds first \
         | last | processes | zombies max | zombies lasting | VIP on both or neither | left \
         after stop | verdict |\n\
         |---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n",
    );
    for v in verdicts {
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} | {} | {} / {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            v.which.name(),
            v.samples,
            v.first.rss_kb,
            v.last.rss_kb,
            v.max.rss_kb,
            v.early_kb,
            v.late_kb,
            v.first.fds,
            v.last.fds,
            v.max.procs,
            v.max.zombies,
            v.lasting_zombies,
            v.split_or_none,
            if v.left.is_empty() {
                "nothing".to_owned()
            } else {
                v.left.join("; ")
            },
            if v.problems.is_empty() {
                "pass".to_owned()
            } else {
                format!("FAIL: {}", v.problems.join("; "))
            }
        );
    }
    let _ = writeln!(
        s,
        "\nNot covered here: macvlans and IPVS entries (this kernel has neither; the VM \
         tests check those are removed at stop).\n\n",
    );
    s
}
