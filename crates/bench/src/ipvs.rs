//! The IPVS benchmarks, keepup against keepalived 2.2.7 in the qemu VM of
//! `keepup_testkit::vm` (this machine's kernel has no IPVS): one boot, alternating runs.
//!
//! - `ipvs/program`: `vs` virtual servers of `rs` real servers each, no checkers, the same
//!   keepalived.conf for both daemons. Time from the daemon's start until the kernel's table
//!   (polled from `/proc/net/ip_vs`) equals the configuration; resident memory then
//!   (VmRSS and Pss of every process of the daemon); a reload (SIGHUP) that replaces one
//!   real server in 1 % of the virtual servers: time until the kernel's table equals the
//!   new configuration, the entries it changed (`ipvsadm -Sn` before and after against
//!   the expected difference) and whether an unchanged entry was ever missing from a poll.
//! - `ipvs/checkers`: `tcp` TCP_CHECK and `http` HTTP_GET real servers at delay_loop 1
//!   against one nginx in the guest: CPU time over a window (all of the daemon's processes,
//!   and keepalived's checker process alone), connections accepted per second (the
//!   guest's `Tcp: PassiveOpens`), memory.
//!
//! - `ipvs/hostile` (`--only hostile`, not in the default run): the HTTP, DNS and SMTP
//!   checkers against real servers that misbehave on purpose ([`hostile`]).
//!
//! The host side boots the VM and runs this same program inside it (`ipvs-guest`), which
//! writes its figures to the job directory; the host prints the table.
use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};
use keepup_lvs::{Protocol, ServiceKey};
use keepup_sys::Ipvs;
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

use crate::report::{self, Results};
use crate::scenario::Daemon;

mod hostile;
pub mod hostile_server;

/// What to run; the same on the host and, passed on, in the guest.
#[derive(clap::Args, Debug, Clone)]
pub struct IpvsArgs {
    /// Runs per benchmark and daemon (alternating keepup and keepalived).
    #[arg(long, default_value_t = 3)]
    pub runs: usize,
    /// Virtual servers in the programming benchmark.
    #[arg(long, default_value_t = 1000)]
    pub vs: usize,
    /// Real servers per virtual server in the programming benchmark.
    #[arg(long, default_value_t = 10)]
    pub rs: usize,
    /// TCP_CHECK real servers in the checker benchmark (0: no checker benchmark).
    #[arg(long, default_value_t = 1000)]
    pub tcp: usize,
    /// HTTP_GET real servers in the checker benchmark.
    #[arg(long, default_value_t = 100)]
    pub http: usize,
    /// Seconds over which the checkers' CPU time is measured.
    #[arg(long, default_value_t = 20)]
    pub sample: u64,
    /// Only the programming benchmark, or only the checker one, or only the hostile
    /// servers' (which the default run leaves out).
    #[arg(long, value_parser = ["program", "checkers", "hostile"])]
    pub only: Option<String>,
    /// The hostile servers' kinds, comma-separated (default: all), e.g.
    /// `http-reset,dns-wrong-id`.
    #[arg(long, default_value = "")]
    pub hostile_kinds: String,
    /// Real servers of each hostile kind.
    #[arg(long, default_value_t = 3)]
    pub hostile_each: usize,
    /// Healthy real servers beside them, of the same protocol.
    #[arg(long, default_value_t = 3)]
    pub hostile_healthy: usize,
    /// The keepup binary (default: `keepup` next to this program).
    #[arg(long)]
    pub keepup: Option<PathBuf>,
    /// Where ipvs-latest.md goes.
    #[arg(long, default_value = "bench/results")]
    pub out: PathBuf,
}

/// The job directory's file of figures: `scenario \t daemon \t metric \t value` lines,
/// and `note \t text` lines.
const FIGURES: &str = "figures.tsv";

/// Host side: boot the VM, run the guest side in it, print and save the table.
pub fn host(args: IpvsArgs) -> Result<std::process::ExitCode> {
    use keepup_testkit::vm::VmJob;
    let (exe, keepup) = binaries(args.keepup.clone())?;
    let job = VmJob::new("ipvs-bench")?;
    let mut cmd = format!(
        "{} ipvs-guest --dir {} --keepup {} --runs {} --vs {} --rs {} --tcp {} --http {} --sample {}",
        exe.display(),
        job.path().display(),
        keepup.display(),
        args.runs,
        args.vs,
        args.rs,
        args.tcp,
        args.http,
        args.sample
    );
    if let Some(o) = &args.only {
        let _ = write!(cmd, " --only {o}");
    }
    if !args.hostile_kinds.is_empty() {
        let _ = write!(cmd, " --hostile-kinds {}", args.hostile_kinds);
    }
    let _ = write!(
        cmd,
        " --hostile-each {} --hostile-healthy {}",
        args.hostile_each, args.hostile_healthy
    );
    let script = format!(
        "ip link set lo up\nip link add d0 type dummy && ip link set d0 up\n\
         ip addr add {SERVERS}/16 dev d0\nmodprobe ip_vs\nulimit -n 65536\n{cmd} 2>&1\n"
    );
    eprintln!(
        "booting the VM (qemu, software emulation); progress is in {}/out.log",
        job.path().display()
    );
    let run = job.run(&script, Duration::from_secs(3600))?;
    let figures = job.read(FIGURES).unwrap_or_default();
    let mut results = Results::default();
    let mut notes = Vec::new();
    for line in figures.lines() {
        let f: Vec<&str> = line.split('\t').collect();
        match f.as_slice() {
            ["note", text] => notes.push((*text).to_owned()),
            [scenario, daemon, metric, value] => {
                let d = if *daemon == "keepup" {
                    Daemon::Keepup
                } else {
                    Daemon::Keepalived
                };
                let v: f64 = value.parse().with_context(|| format!("figure {line:?}"))?;
                // The table keeps metric names as &'static str; a handful, once.
                let metric: &'static str = Box::leak(metric.to_string().into_boxed_str());
                results.add(scenario, d, &[(metric, v)]);
            }
            _ => {}
        }
    }
    if run.rc != 0 || results.rows.is_empty() {
        eprintln!("guest output:\n{}", run.output);
        bail!("the guest's benchmark failed (exit {})", run.rc);
    }
    let table = results.table();
    let mut text = format!(
        "# keepup-bench ipvs results\n\n- {}\n- VM: qemu TCG (software emulation), 2 vCPUs, Debian kernel {}\n\
         - runs per benchmark and daemon: {}, alternating keepup and keepalived, one boot ({:.0} s)\n\
         - command: `keepup-bench ipvs {}`\n\n{table}\nNotes:\n\n",
        host_line(),
        keepup_testkit::vm::GuestKernel::ensure()?.version,
        args.runs,
        run.elapsed.as_secs_f64(),
        std::env::args().skip(2).collect::<Vec<_>>().join(" ")
    );
    for n in &notes {
        let _ = writeln!(text, "- {n}");
    }
    println!("{text}");
    std::fs::create_dir_all(&args.out)?;
    // The hostile servers alone have their own file (they answer issue 17).
    let md = args.out.join(if args.only.as_deref() == Some("hostile") {
        "ipvs-hostile-latest.md"
    } else {
        "ipvs-latest.md"
    });
    std::fs::write(&md, &text).with_context(|| format!("write {}", md.display()))?;
    eprintln!("wrote {}", md.display());
    Ok(std::process::ExitCode::SUCCESS)
}

/// This program and the keepup binary (`keepup` beside it unless given), both as
/// absolute paths: the guest sees the host's files at the same paths.
pub(crate) fn binaries(keepup: Option<PathBuf>) -> Result<(PathBuf, PathBuf)> {
    let exe = std::env::current_exe().context("cannot find this program")?;
    let keepup = keepup.unwrap_or_else(|| exe.with_file_name("keepup"));
    let keepup = keepup.canonicalize().with_context(|| {
        format!(
            "no keepup binary at {} (cargo build --release -p keepup, or --keepup PATH)",
            keepup.display()
        )
    })?;
    Ok((exe, keepup))
}

fn host_line() -> String {
    let cpu = crate::cpu_model().unwrap_or_default();
    let nproc = std::thread::available_parallelism().map_or(0, |n| n.get());
    format!("host: {nproc} CPUs, {cpu}")
}

/// The guest's address of the checkers' real servers (on a dummy interface).
const SERVERS: Ipv4Addr = Ipv4Addr::new(10, 9, 0, 50);
const FIRST_PORT: u16 = 10_000;

/// Guest side: every run, figures appended to the job directory's file as they come.
pub fn guest(dir: &Path, args: IpvsArgs) -> Result<std::process::ExitCode> {
    let keepup = args.keepup.clone().ok_or_else(|| anyhow!("--keepup"))?;
    let mut g = Guest {
        dir: dir.to_owned(),
        keepup,
        figures: String::new(),
    };
    let only = args.only.as_deref();
    if only == Some("hostile") {
        g.hostile(&args)?;
        return Ok(std::process::ExitCode::SUCCESS);
    }
    if only != Some("checkers") {
        g.programming(&args)?;
    }
    if only != Some("program") && args.tcp + args.http > 0 {
        g.checkers(&args)?;
    }
    Ok(std::process::ExitCode::SUCCESS)
}

struct Guest {
    dir: PathBuf,
    keepup: PathBuf,
    figures: String,
}

/// One virtual server of the programming benchmark: its address and its real servers
/// with their weights (all on port 80, NAT, wrr).
#[derive(Debug, Clone, PartialEq)]
struct Vs {
    vip: Ipv4Addr,
    real: Vec<(Ipv4Addr, u32)>,
}

fn model(vs: usize, rs: usize) -> Vec<Vs> {
    (0..vs)
        .map(|i| Vs {
            vip: Ipv4Addr::from(u32::from(Ipv4Addr::new(10, 100, 0, 1)) + i as u32),
            real: (0..rs)
                .map(|j| {
                    let ip = u32::from(Ipv4Addr::new(10, 200, 0, 0)) + (i * rs + j) as u32;
                    (Ipv4Addr::from(ip), 1 + (j as u32 % 3))
                })
                .collect(),
        })
        .collect()
}

/// The reload's change: in every 100th virtual server, the last real server replaced by
/// a new one (in 10.201/16).
fn changed(m: &[Vs]) -> Vec<Vs> {
    let mut m = m.to_vec();
    for (i, v) in m.iter_mut().enumerate() {
        if i % 100 == 50 {
            if let Some(last) = v.real.last_mut() {
                *last = (
                    Ipv4Addr::from(u32::from(Ipv4Addr::new(10, 201, 0, 0)) + i as u32),
                    last.1,
                );
            }
        }
    }
    m
}

fn program_conf(m: &[Vs]) -> String {
    let mut s = String::from("# keepup-bench ipvs/program: no checkers\n");
    for v in m {
        let _ = writeln!(
            s,
            "virtual_server {} 80 {{\n    lb_algo wrr\n    lb_kind NAT\n    protocol TCP",
            v.vip
        );
        for (ip, w) in &v.real {
            let _ = writeln!(s, "    real_server {ip} 80 {{\n        weight {w}\n    }}");
        }
        s.push_str("}\n");
    }
    s
}

/// The table as `/proc/net/ip_vs` shows it, one string per service and per destination
/// (address, forwarding, weight; the connection counters left out).
fn expected_proc(m: &[Vs]) -> BTreeSet<String> {
    let hex = |ip: Ipv4Addr, port: u16| format!("{:08X}:{port:04X}", u32::from(ip));
    let mut set = BTreeSet::new();
    for v in m {
        let svc = format!("TCP {}", hex(v.vip, 80));
        set.insert(format!("{svc} wrr"));
        for (ip, w) in &v.real {
            set.insert(format!("{svc} -> {} Masq {w}", hex(*ip, 80)));
        }
    }
    set
}

/// The UTC time of day (seconds) of a log line stamped `2026-12-05T01:14:14.188903Z`.
fn time_of_day(line: &str) -> Option<f64> {
    let t = line.get(11..)?.split(['Z', ' ']).next()?;
    let mut parts = t.split(':');
    let h: f64 = parts.next()?.parse().ok()?;
    let m: f64 = parts.next()?.parse().ok()?;
    let s: f64 = parts.next()?.parse().ok()?;
    Some(h * 3600.0 + m * 60.0 + s)
}

/// The milliseconds of an "IPVS: N operation(s) in X ms" log line.
fn batch_ms(line: &str) -> Option<f64> {
    let rest = line.split_once(" operation(s) in ")?.1;
    rest.strip_suffix(" ms")?.trim().parse().ok()
}

/// `/proc/net/ip_vs` in the form of [`expected_proc`].
fn read_proc() -> Result<BTreeSet<String>> {
    let text = std::fs::read_to_string("/proc/net/ip_vs").context("read /proc/net/ip_vs")?;
    let mut set = BTreeSet::new();
    let mut svc = String::new();
    for line in text.lines().skip(3) {
        let f: Vec<&str> = line.split_whitespace().collect();
        match f.as_slice() {
            ["->", addr, fwd, weight, ..] => {
                set.insert(format!("{svc} -> {addr} {fwd} {weight}"));
            }
            [proto, addr, sched, ..] => {
                svc = format!("{proto} {addr}");
                set.insert(format!("{svc} {sched}"));
            }
            _ => {}
        }
    }
    Ok(set)
}

/// `ipvsadm -Sn`, its lines as a set.
fn ipvsadm_save() -> Result<BTreeSet<String>> {
    let out = Command::new("ipvsadm")
        .arg("-Sn")
        .output()
        .context("ipvsadm -Sn")?;
    Ok(String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_owned)
        .collect())
}

/// An empty table in a fresh IPVS: the module is loaded again, because the kernel keeps
/// the destinations of deleted services in a trash list for a while and looks every new
/// destination up in it, so a run after one that removed 10,000 destinations would
/// take seconds longer (measured: the kernel's batch 0.33 s fresh, 1.2 s after).
fn clear_table() -> Result<()> {
    let st = Command::new("ipvsadm").arg("-C").status()?;
    if !st.success() {
        bail!("ipvsadm -C failed");
    }
    let loaded = std::fs::read_to_string("/proc/modules").unwrap_or_default();
    let mut mods: Vec<&str> = loaded
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .filter(|m| m.starts_with("ip_vs_"))
        .collect();
    mods.push("ip_vs");
    let st = Command::new("modprobe").arg("-r").args(&mods).status()?;
    if !st.success() {
        // Still in use (a sync daemon?): measured with the trash, said.
        eprintln!(
            "  note: modprobe -r {} failed; IPVS not reloaded",
            mods.join(" ")
        );
    }
    let st = Command::new("modprobe").arg("ip_vs").status()?;
    if !st.success() {
        bail!("modprobe ip_vs failed");
    }
    Ok(())
}

/// How long a poll waits before the next.
const POLL_GAP: Duration = Duration::from_millis(5);

/// Every 50th virtual server and the last (the reload's changes among them): the ones a
/// poll reads through generic netlink, one small dump each. Reading the whole table
/// (`/proc/net/ip_vs`, 11,000 lines) takes 0.3-0.5 s in the emulated guest and would
/// take a vCPU from the daemon.
fn sampled(m: &[Vs]) -> Vec<usize> {
    (0..m.len())
        .filter(|i| i % 50 == 0 || *i == m.len() - 1)
        .collect()
}

/// Whether the sampled virtual servers have exactly their real servers and weights.
fn sample_matches(ipvs: &mut Ipvs, m: &[Vs], sample: &[usize]) -> bool {
    sample.iter().all(|&i| {
        let v = &m[i];
        let key = ServiceKey::Addr {
            protocol: Protocol::Tcp,
            addr: IpAddr::V4(v.vip),
            port: 80,
        };
        let Ok(dests) = ipvs.dests(key) else {
            return false;
        };
        let have: BTreeSet<(IpAddr, u32)> = dests
            .iter()
            .map(|d| (d.dest.key.addr, d.dest.weight))
            .collect();
        let want: BTreeSet<(IpAddr, u32)> =
            v.real.iter().map(|(a, w)| (IpAddr::V4(*a), *w)).collect();
        have == want
    })
}

/// Polls until the kernel's table equals `m`: the sampled virtual servers through generic
/// netlink, then, once they match, the whole table from `/proc/net/ip_vs`. Returns the
/// time from `t0` to the end of the sample poll that matched (confirmed by the whole
/// table) and the longest sample poll.
fn poll_until(ipvs: &mut Ipvs, t0: Instant, m: &[Vs]) -> Result<(Duration, Duration)> {
    let timeout = Duration::from_secs(600);
    let want = expected_proc(m);
    let sample = sampled(m);
    let mut longest = Duration::ZERO;
    loop {
        let r = Instant::now();
        let ok = sample_matches(ipvs, m, &sample);
        longest = longest.max(r.elapsed());
        let at = t0.elapsed();
        if ok && read_proc()? == want {
            return Ok((at, longest));
        }
        if t0.elapsed() > timeout {
            bail!("the kernel's table did not reach the expected one within {timeout:?}");
        }
        std::thread::sleep(POLL_GAP);
    }
}

/// A daemon running in the guest, and where its log goes.
struct Running {
    daemon: Daemon,
    child: Child,
    log: PathBuf,
    /// keepalived's checker process's PID file.
    checker_pid: PathBuf,
}

impl Running {
    /// The process that runs the checkers: keepup's own, keepalived's checker child.
    fn checker(&self) -> Result<Vec<u32>> {
        Ok(match self.daemon {
            Daemon::Keepup => vec![self.child.id()],
            Daemon::Keepalived => vec![std::fs::read_to_string(&self.checker_pid)?
                .trim()
                .parse()
                .context("keepalived's checker PID file")?],
        })
    }
}

/// Time on CPU of all of `pids`, in ns.
fn cpu(pids: &[u32]) -> u64 {
    pids.iter().filter_map(|p| run_ns(*p)).sum()
}

impl Guest {
    fn figure(&mut self, scenario: &str, d: Daemon, metric: &str, v: f64) -> Result<()> {
        eprintln!(
            "  {scenario} {} {metric}: {}",
            d.name(),
            report::format_value(metric, v)
        );
        let _ = writeln!(self.figures, "{scenario}\t{}\t{metric}\t{v}", d.name());
        self.flush()
    }

    fn note(&mut self, text: &str) -> Result<()> {
        eprintln!("  note: {text}");
        let _ = writeln!(self.figures, "note\t{}", text.replace(['\t', '\n'], " "));
        self.flush()
    }

    fn flush(&self) -> Result<()> {
        std::fs::write(self.dir.join(FIGURES), &self.figures).context("write figures")
    }

    fn start(&self, d: Daemon, conf: &Path, tag: &str) -> Result<Running> {
        let log = self.dir.join(format!("{tag}.{}.log", d.name()));
        let out = std::fs::File::create(&log)?;
        let err = out.try_clone()?;
        let checker_pid = PathBuf::from(format!("/run/kb-{tag}.c.pid"));
        let mut cmd = match d {
            Daemon::Keepup => {
                let mut c = Command::new(&self.keepup);
                // Info level like keepalived's default, but the IPVS side's debug lines
                // ("IPVS: N operation(s)") for the count of kernel operations.
                c.env("KEEPUP_LOG", "info,keepup::lvs=debug")
                    .args(["run", "-C", "-f"])
                    .arg(conf)
                    .arg("--runtime-dir")
                    .arg(format!("/run/keepup-{tag}"));
                c
            }
            Daemon::Keepalived => {
                let mut c = Command::new("keepalived");
                c.args(["-C", "-n", "-l", "-f"]).arg(conf).args([
                    "-p",
                    &format!("/run/kb-{tag}.pid"),
                    "-c",
                    &checker_pid.display().to_string(),
                    "-r",
                    &format!("/run/kb-{tag}.v.pid"),
                ]);
                c
            }
        };
        let child = cmd
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .with_context(|| format!("start {}", d.name()))?;
        Ok(Running {
            daemon: d,
            child,
            log,
            checker_pid,
        })
    }

    /// One programming run of one daemon.
    fn program_run(
        &mut self,
        d: Daemon,
        run: usize,
        base: &[Vs],
        after: &[Vs],
    ) -> Result<Vec<String>> {
        let mut notes = Vec::new();
        let scenario = format!("ipvs/program/{}vs-x-{}rs", base.len(), base[0].real.len());
        clear_table()?;
        let tag = format!("program-{run}");
        let conf = self.dir.join(format!("{tag}.{}.conf", d.name()));
        std::fs::write(&conf, program_conf(base))?;
        let mut ipvs = Ipvs::open().context("IPVS generic netlink")?;
        let t0 = Instant::now();
        // For reading the daemon's log against: when it was started (Unix seconds).
        std::fs::write(
            self.dir.join(format!("{tag}.{}.t0", d.name())),
            format!("{:.6}\n", crate::now_ns() as f64 / 1e9),
        )?;
        let mut r = self.start(d, &conf, &tag)?;
        let res = (|| -> Result<()> {
            let (full, longest) = poll_until(&mut ipvs, t0, base)?;
            self.figure(&scenario, d, "start to full table s", full.as_secs_f64())?;
            if d == Daemon::Keepup {
                // The kernel's share: how long the IPVS side's first batch took (its
                // log), the floor under the start figure for any daemon.
                let log = std::fs::read_to_string(&r.log).unwrap_or_default();
                let started = crate::now_ns() as f64 / 1e9 - t0.elapsed().as_secs_f64();
                if let Some(at) = log.lines().next().and_then(time_of_day) {
                    // Reading the configuration and setting up, exec included.
                    let s = (at - started.rem_euclid(86_400.0)).rem_euclid(86_400.0);
                    self.figure(&scenario, d, "start: to its first log line s", s)?;
                }
                if let Some(ms) = log.lines().find_map(batch_ms) {
                    self.figure(&scenario, d, "start: the kernel's batch s", ms / 1e3)?;
                }
            }
            notes.push(format!(
                "{} run {run}: longest poll of the {} sampled virtual servers {:.1} ms (+{} ms between polls)",
                d.name(),
                sampled(base).len(),
                longest.as_secs_f64() * 1e3,
                POLL_GAP.as_millis()
            ));
            // Settled: nothing more to do for it, and the memory it keeps.
            std::thread::sleep(Duration::from_secs(2));
            let (rss, pss) = memory(&r);
            self.figure(&scenario, d, "RSS MB (all processes)", rss)?;
            if let Some(pss) = pss {
                self.figure(&scenario, d, "Pss MB (all processes)", pss)?;
            }
            // Where the memory is, for a look afterwards (KEEPUP_KEEP_LAB=1).
            for p in processes(&r) {
                for f in ["smaps", "status"] {
                    let _ = std::fs::copy(
                        format!("/proc/{p}/{f}"),
                        self.dir.join(format!("{tag}.{}.{p}.{f}", d.name())),
                    );
                }
            }
            let before = ipvsadm_save()?;
            let log_before = std::fs::read_to_string(&r.log).unwrap_or_default().len();
            // The reload: 1 % of the virtual servers, each one real server replaced.
            let new = program_conf(after);
            let tmp = conf.with_extension("new");
            std::fs::write(&tmp, new)?;
            std::fs::rename(&tmp, &conf)?;
            let t1 = Instant::now();
            kill(Pid::from_raw(r.child.id() as i32), Signal::SIGHUP)?;
            let (reload, _) = poll_until(&mut ipvs, t1, after)?;
            self.figure(
                &scenario,
                d,
                "reload 1 % to new table s",
                reload.as_secs_f64(),
            )?;
            // Anything later (a second pass) would show in the table or the log.
            std::thread::sleep(Duration::from_secs(3));
            let after_save = ipvsadm_save()?;
            let removed: BTreeSet<_> = before.difference(&after_save).cloned().collect();
            let added: BTreeSet<_> = after_save.difference(&before).cloned().collect();
            let exp_removed = changed_lines(base, after);
            let exp_added = changed_lines(after, base);
            let unexpected = removed.symmetric_difference(&exp_removed).count()
                + added.symmetric_difference(&exp_added).count();
            self.figure(
                &scenario,
                d,
                "reload: entries changed (ipvsadm -Sn)",
                (removed.len() + added.len()) as f64,
            )?;
            self.figure(
                &scenario,
                d,
                "reload: unexpected changes",
                unexpected as f64,
            )?;
            let log = std::fs::read_to_string(&r.log).unwrap_or_default();
            let after_log = log.get(log_before..).unwrap_or_default();
            match d {
                Daemon::Keepup => {
                    let ops: u64 = after_log
                        .lines()
                        .filter_map(|l| {
                            let rest = &l[l.find("IPVS: ")? + 6..];
                            rest.split_once(" operation(s)")?
                                .0
                                .trim()
                                .parse::<u64>()
                                .ok()
                        })
                        .sum();
                    self.figure(&scenario, d, "reload: kernel operations (log)", ops as f64)?;
                }
                Daemon::Keepalived => {
                    let n = after_log
                        .lines()
                        .filter(|l| {
                            l.contains("Removing service")
                                || l.contains("Adding service")
                                || l.contains("Removing virtual server")
                                || l.contains("Adding virtual server")
                        })
                        .count();
                    if run == 1 {
                        notes.push(format!(
                            "keepalived's reload log (run 1), {n} adding/removing lines:\n{}",
                            after_log.lines().take(12).collect::<Vec<_>>().join(" | ")
                        ));
                    }
                }
            }
            Ok(())
        })();
        stop(&mut r);
        if let Err(e) = res {
            let log = std::fs::read_to_string(&r.log).unwrap_or_default();
            let tail: Vec<&str> = log.lines().rev().take(20).collect();
            bail!("{e:#}\nlog tail (newest first):\n{}", tail.join("\n"));
        }
        Ok(notes)
    }

    fn programming(&mut self, a: &IpvsArgs) -> Result<()> {
        let base = model(a.vs.max(1), a.rs.max(1));
        let after = changed(&base);
        let mut notes = Vec::new();
        for run in 1..=a.runs {
            for d in Daemon::BOTH {
                eprintln!("[program] {} run {run}/{}", d.name(), a.runs);
                match self.program_run(d, run, &base, &after) {
                    Ok(n) => notes.extend(n),
                    Err(e) => notes.push(format!("{} run {run} FAILED: {e:#}", d.name())),
                }
            }
        }
        for n in notes {
            self.note(&n)?;
        }
        Ok(())
    }

    fn checkers(&mut self, a: &IpvsArgs) -> Result<()> {
        let scenario = format!("ipvs/checkers/{}-tcp-{}-http", a.tcp, a.http);
        let _nginx = self.start_nginx(a.tcp + a.http)?;
        std::thread::sleep(Duration::from_secs(2));
        let conf = self.dir.join("checkers.conf");
        std::fs::write(&conf, checkers_conf(a.tcp, a.http))?;
        let mut notes = Vec::new();
        for run in 1..=a.runs {
            for d in Daemon::BOTH {
                eprintln!("[checkers] {} run {run}/{}", d.name(), a.runs);
                if let Err(e) = self.checker_run(d, run, &conf, &scenario, a) {
                    notes.push(format!("checkers {} run {run} FAILED: {e:#}", d.name()));
                }
            }
        }
        for n in notes {
            self.note(&n)?;
        }
        Ok(())
    }

    fn checker_run(
        &mut self,
        d: Daemon,
        run: usize,
        conf: &Path,
        scenario: &str,
        a: &IpvsArgs,
    ) -> Result<()> {
        clear_table()?;
        let tag = format!("checkers-{run}");
        let mut r = self.start(d, conf, &tag)?;
        let res = (|| -> Result<()> {
            // Every checker has run (the first check within delay_loop) and the rate is
            // steady.
            std::thread::sleep(Duration::from_secs(8));
            if let Ok(Some(st)) = r.child.try_wait() {
                bail!("{} exited: {st}", d.name());
            }
            let all = processes(&r);
            let checker = r.checker()?;
            let (c0, k0, o0) = (cpu(&all), cpu(&checker), passive_opens()?);
            let t0 = Instant::now();
            std::thread::sleep(Duration::from_secs(a.sample));
            let (c1, k1, o1) = (cpu(&all), cpu(&checker), passive_opens()?);
            let secs = t0.elapsed().as_secs_f64();
            let pct = |x: u64, y: u64| (y.saturating_sub(x)) as f64 / 1e9 / secs * 100.0;
            self.figure(scenario, d, "CPU % (all processes)", pct(c0, c1))?;
            self.figure(scenario, d, "CPU % (checker process)", pct(k0, k1))?;
            let conns = o1.saturating_sub(o0);
            self.figure(scenario, d, "connections accepted /s", conns as f64 / secs)?;
            // Both daemons may fall short of one check per real server per second in the
            // emulated guest: the cost per check is the comparable figure.
            self.figure(
                scenario,
                d,
                "CPU ms per check (all processes)",
                c1.saturating_sub(c0) as f64 / 1e6 / conns.max(1) as f64,
            )?;
            let (rss, pss) = memory(&r);
            self.figure(scenario, d, "RSS MB (all processes)", rss)?;
            if let Some(pss) = pss {
                self.figure(scenario, d, "Pss MB (all processes)", pss)?;
            }
            let table = read_proc()?;
            let dests = table.iter().filter(|l| l.contains("->")).count();
            self.figure(
                scenario,
                d,
                "real servers out of the table at end",
                (a.tcp + a.http) as f64 - dests as f64,
            )?;
            Ok(())
        })();
        stop(&mut r);
        res
    }

    fn start_nginx(&self, ports: usize) -> Result<Nginx> {
        let dir = self.dir.join("nginx");
        let first = usize::from(FIRST_PORT);
        let path = crate::harness::write_nginx_conf(&dir, SERVERS, first..first + ports)?;
        let log = std::fs::File::create(dir.join("nginx.log"))?;
        let child = Command::new("nginx")
            .arg("-c")
            .arg(&path)
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()
            .context("start nginx")?;
        Ok(Nginx(child))
    }
}

struct Nginx(Child);

impl Drop for Nginx {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The `ipvsadm -Sn` destination lines of `a` that `b` lacks.
fn changed_lines(a: &[Vs], b: &[Vs]) -> BTreeSet<String> {
    let mut s = BTreeSet::new();
    for (x, y) in a.iter().zip(b) {
        for (ip, w) in &x.real {
            if !y.real.contains(&(*ip, *w)) {
                s.insert(format!("-a -t {}:80 -r {ip}:80 -m -w {w}", x.vip));
            }
        }
    }
    s
}

/// The checker benchmark's configuration: one virtual server of `tcp` TCP_CHECK real
/// servers and one of `http` HTTP_GET ones, each on its own port of [`SERVERS`].
fn checkers_conf(tcp: usize, http: usize) -> String {
    let mut s = format!(
        "# keepup-bench ipvs/checkers: {tcp} TCP_CHECK, {http} HTTP_GET\n\
         virtual_server 10.60.0.1 80 {{\n    delay_loop 1\n    lb_algo rr\n    lb_kind NAT\n    protocol TCP\n"
    );
    let port = |i: usize| usize::from(FIRST_PORT) + i;
    for i in 0..tcp {
        let _ = write!(
            s,
            "    real_server {SERVERS} {} {{\n        TCP_CHECK {{\n            connect_timeout 2\n        }}\n    }}\n",
            port(i)
        );
    }
    s.push_str("}\n");
    if http > 0 {
        s.push_str(
            "virtual_server 10.60.0.1 8080 {\n    delay_loop 1\n    lb_algo rr\n    lb_kind NAT\n    protocol TCP\n",
        );
        for i in 0..http {
            let _ = write!(
                s,
                "    real_server {SERVERS} {} {{\n        HTTP_GET {{\n            url {{\n                path /\n                status_code 200\n            }}\n            connect_timeout 2\n        }}\n    }}\n",
                port(tcp + i)
            );
        }
        s.push_str("}\n");
    }
    s
}

/// SIGTERM, then SIGKILL after 30 s; the table cleared for the next run.
fn stop(r: &mut Running) {
    let pid = Pid::from_raw(r.child.id() as i32);
    let _ = kill(pid, Signal::SIGTERM);
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        if let Ok(Some(_)) = r.child.try_wait() {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    if let Ok(None) = r.child.try_wait() {
        eprintln!("  {} did not stop on SIGTERM: killed", r.daemon.name());
        let _ = r.child.kill();
        let _ = r.child.wait();
    }
    let _ = clear_table();
}

/// The daemon's process and its descendants.
fn processes(r: &Running) -> Vec<u32> {
    let root = r.child.id();
    let mut parents: Vec<(u32, u32)> = Vec::new();
    if let Ok(dir) = std::fs::read_dir("/proc") {
        for e in dir.flatten() {
            let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else {
                continue;
            };
            let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
                continue;
            };
            let ppid = stat
                .rfind(')')
                .and_then(|i| stat[i + 1..].split_whitespace().nth(1)?.parse().ok())
                .unwrap_or(0);
            parents.push((pid, ppid));
        }
    }
    let mut out = vec![root];
    let mut i = 0;
    while i < out.len() {
        let p = out[i];
        out.extend(parents.iter().filter(|(_, pp)| *pp == p).map(|(c, _)| *c));
        i += 1;
    }
    out
}

/// VmRSS summed over the daemon's processes, and Pss if smaps_rollup is there, in MB.
fn memory(r: &Running) -> (f64, Option<f64>) {
    let field = |path: String, name: &str| -> Option<u64> {
        std::fs::read_to_string(path)
            .ok()?
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.split_whitespace().next()?.parse().ok())
    };
    let ps = processes(r);
    let rss: u64 = ps
        .iter()
        .filter_map(|p| field(format!("/proc/{p}/status"), "VmRSS:"))
        .sum();
    let pss: Option<Vec<u64>> = ps
        .iter()
        .map(|p| field(format!("/proc/{p}/smaps_rollup"), "Pss:"))
        .collect();
    (
        rss as f64 / 1024.0,
        pss.map(|v| v.iter().sum::<u64>() as f64 / 1024.0),
    )
}

/// Time on CPU of every thread of `pid`, in ns (schedstat).
fn run_ns(pid: u32) -> Option<u64> {
    let mut total = 0;
    for t in std::fs::read_dir(format!("/proc/{pid}/task")).ok()? {
        let line = std::fs::read_to_string(t.ok()?.path().join("schedstat")).ok()?;
        total += line.split_whitespace().next()?.parse::<u64>().ok()?;
    }
    Some(total)
}

/// The guest's `Tcp: PassiveOpens`: connections accepted so far (nothing but nginx
/// accepts any in the guest).
fn passive_opens() -> Result<u64> {
    let snmp = std::fs::read_to_string("/proc/net/snmp")?;
    let mut tcp = snmp.lines().filter(|l| l.starts_with("Tcp:"));
    let (names, values) = (
        tcp.next()
            .ok_or_else(|| anyhow!("no Tcp: in /proc/net/snmp"))?,
        tcp.next().ok_or_else(|| anyhow!("no Tcp: values"))?,
    );
    let i = names
        .split_whitespace()
        .position(|n| n == "PassiveOpens")
        .ok_or_else(|| anyhow!("no PassiveOpens"))?;
    values
        .split_whitespace()
        .nth(i)
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| anyhow!("bad PassiveOpens"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_log_gives_its_times() {
        let first = "2026-12-05T01:14:14.188903Z  INFO 1000 virtual server(s), 10000 real server(s), 0 checker(s)";
        let t = time_of_day(first).expect("time");
        assert!((t - (3600.0 + 14.0 * 60.0 + 14.188903)).abs() < 1e-6, "{t}");
        let batch = "2026-12-05T01:18:58.005038Z DEBUG IPVS: 11000 operation(s) in 397.8 ms";
        assert_eq!(batch_ms(batch), Some(397.8));
        assert_eq!(batch_ms(first), None);
        assert_eq!(time_of_day("garbage"), None);
    }

    #[test]
    fn the_reload_replaces_one_real_server_in_one_percent_of_the_virtual_servers() {
        let base = model(1000, 10);
        let after = changed(&base);
        let removed = changed_lines(&base, &after);
        let added = changed_lines(&after, &base);
        assert_eq!((removed.len(), added.len()), (10, 10));
        assert!(removed.contains("-a -t 10.100.0.51:80 -r 10.200.1.253:80 -m -w 1"));
        assert!(added.contains("-a -t 10.100.0.51:80 -r 10.201.0.50:80 -m -w 1"));
        let (b, a) = (expected_proc(&base), expected_proc(&after));
        assert_eq!(b.len(), 11_000);
        assert_eq!(b.symmetric_difference(&a).count(), 20);
        assert!(b.contains("TCP 0A640001:0050 wrr"));
        assert!(b.contains("TCP 0A640001:0050 -> 0AC80000:0050 Masq 1"));
    }
}
