//! `keepup-bench chaos-lvs`: the chaos soak's LVS part, in the qemu VM (this machine's
//! kernel has no IPVS). One boot: the host side starts the VM and runs this program's
//! `chaos-lvs-guest` inside it, which builds a lab of namespaces: keepup as the director
//! (`run -C`) on one bridge with six real servers (`chaos-lvs-server`, each in its own
//! namespace), four virtual servers' worth of TCP_CHECK, HTTP_GET (status and digest) and
//! MISC_CHECK (a GET by a bash script), weights, `inhibit_on_failure` on some, a quorum with a sorry server
//! and quorum_up/down scripts ([`world`]).
//!
//! Faults come one episode at a time at seeded random times, each kind once per round:
//! a server SIGKILLed (then restarted), SIGSTOPped (a hung server: connects, never
//! answers; then SIGCONT), its link down, nftables dropping its traffic from or to the
//! director, the server answering HTTP 500 or a wrong page (digest), keepup reloaded
//! unchanged or with a change (a real server or a virtual server added, a weight
//! changed; changed back at the heal), keepup SIGKILLed and restarted (it must reconcile
//! the table it finds), and SIGUSR1/SIGUSR2. A quarter of the server faults get a second
//! one on another server overlapping them.
//!
//! A sampler reads the director's table (`/proc/<pid>/net/ip_vs`) every 20 ms ([`judge`]).
//! The truth at every moment is the table the configuration and the servers' health
//! call for. After each event at H (fault, heal, reload, restart), from H + B on the
//! table must equal the truth, sample for sample, until the next event; B is the
//! slowest checker's bound ([`world::Check::bound`]) plus 3 s of slack (plus the
//! 1 s bootstrap delay after a start or a reload). Before that, every change of an
//! entry must be to a value a truth held within B (or the state a start or reload
//! begins from: new real servers alive until checked). No entry twice, no foreign
//! entry; keepup never exits unasked and never panics; no zombie child of keepup for
//! 2 s; its memory flat over each life of a minute or more.
use std::fmt::Write as _;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};
use clap::Args;
use keepup_testkit::lab::{Host, Lab, Proc};
use keepup_testkit::SplitMix64;
use nix::sys::signal::Signal;

use crate::{interrupted, now_ns, secs_between, Ns};

pub mod judge;
pub mod server;
pub mod world;

use judge::{Event, Sampler};
use world::{Health, Mode, Variant, SERVERS};

#[derive(Args, Debug, Clone)]
pub struct ChaosLvsArgs {
    /// How long to inject faults.
    #[arg(long, default_value_t = 10.0)]
    pub minutes: f64,
    /// Instead of a time: this many rounds, each every fault kind once in a seeded order.
    #[arg(long)]
    pub rounds: Option<u32>,
    /// The seed of the fault schedule (kinds, servers, times, durations).
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// The keepup binary (default: `keepup` next to this program).
    #[arg(long)]
    pub keepup: Option<PathBuf>,
    /// Where the timeline and verdict go.
    #[arg(long, default_value = "bench/results/chaos-lvs-latest.txt")]
    pub out: PathBuf,
}

const REPORT: &str = "report.txt";

/// Host side: boot the VM, run the guest side, print and keep its report.
pub fn host(args: ChaosLvsArgs) -> Result<ExitCode> {
    use keepup_testkit::vm::VmJob;
    let (exe, keepup) = crate::ipvs::binaries(args.keepup.clone())?;
    let job = VmJob::new("chaos-lvs")?;
    let mut cmd = format!(
        "{} chaos-lvs-guest --dir {} --keepup {} --seed {} --minutes {}",
        exe.display(),
        job.path().display(),
        keepup.display(),
        args.seed,
        args.minutes
    );
    if let Some(r) = args.rounds {
        let _ = write!(cmd, " --rounds {r}");
    }
    let script = format!("ip link set lo up\nmodprobe ip_vs\n{cmd} 2>&1\n");
    eprintln!(
        "booting the VM (qemu, software emulation); progress is in {}/out.log",
        job.path().display()
    );
    let span = match args.rounds {
        Some(r) => Duration::from_secs(u64::from(r) * 600),
        None => Duration::from_secs_f64(args.minutes * 60.0),
    };
    let run = job.run(&script, span + Duration::from_secs(900))?;
    let report = job.read(REPORT).unwrap_or_default();
    if report.is_empty() {
        eprintln!("guest output:\n{}", run.output);
        bail!("the guest's soak left no report (exit {})", run.rc);
    }
    let header = format!(
        "chaos-lvs soak (in the VM: qemu TCG, Debian kernel {}, {:.0} s boot to power-off); command: keepup-bench {}\n",
        keepup_testkit::vm::GuestKernel::ensure()?.version,
        run.elapsed.as_secs_f64(),
        std::env::args().skip(1).collect::<Vec<_>>().join(" ")
    );
    let text = format!("{header}{report}");
    println!("{text}");
    if let Some(parent) = args.out.parent() {
        std::fs::create_dir_all(parent).ok();
    }
    std::fs::write(&args.out, &text).with_context(|| format!("write {}", args.out.display()))?;
    eprintln!("wrote {}", args.out.display());
    Ok(if run.rc == 0 && text.contains("verdict: PASS") {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// The fault kinds, each once per round.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Kind {
    ServerKill,
    ServerStop,
    LinkDown,
    DropIn,
    DropOut,
    Error500,
    WrongPage,
    ReloadSame,
    ReloadChange,
    KeepupKill,
    Signals,
}

const KINDS: [Kind; 11] = [
    Kind::ServerKill,
    Kind::ServerStop,
    Kind::LinkDown,
    Kind::DropIn,
    Kind::DropOut,
    Kind::Error500,
    Kind::WrongPage,
    Kind::ReloadSame,
    Kind::ReloadChange,
    Kind::KeepupKill,
    Kind::Signals,
];

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::ServerKill => "server sigkill+restart",
            Kind::ServerStop => "server sigstop/sigcont",
            Kind::LinkDown => "server link down/up",
            Kind::DropIn => "drop to server",
            Kind::DropOut => "drop from server",
            Kind::Error500 => "http 500",
            Kind::WrongPage => "wrong page (digest)",
            Kind::ReloadSame => "reload unchanged",
            Kind::ReloadChange => "reload changed",
            Kind::KeepupKill => "keepup sigkill+restart",
            Kind::Signals => "usr1/usr2",
        }
    }

    fn on_server(self) -> bool {
        matches!(
            self,
            Kind::ServerKill
                | Kind::ServerStop
                | Kind::LinkDown
                | Kind::DropIn
                | Kind::DropOut
                | Kind::Error500
                | Kind::WrongPage
        )
    }
}

/// One real server in its namespace.
struct Server {
    host: Host,
    proc: Option<Proc>,
    mode: PathBuf,
}

/// The guest's soak.
struct Soak {
    lab: Lab,
    director: Host,
    servers: Vec<Server>,
    bench: PathBuf,
    keepup_bin: PathBuf,
    keepup: Option<Proc>,
    lives: u32,
    conf: PathBuf,
    runtime: PathBuf,
    variant: Variant,
    health: [Health; SERVERS],
    events: Vec<Event>,
    sampler: Sampler,
    start: Ns,
    lines: Vec<String>,
    bound: Duration,
    /// keepup exited when the soak had not stopped it.
    unasked_exits: Vec<(Ns, String)>,
}

pub fn guest(dir: &Path, args: ChaosLvsArgs) -> Result<ExitCode> {
    let bench = std::env::current_exe().context("cannot find this program")?;
    let keepup = args.keepup.clone().ok_or_else(|| anyhow!("--keepup"))?;
    crate::watch_signals()?;
    let mut soak = Soak::new(bench, keepup)?;
    let res = soak.run(&args);
    let report = soak.finish(dir, &args, res.as_ref().err());
    std::fs::write(dir.join(REPORT), &report).context("write the report")?;
    Ok(if report.contains("verdict: PASS") {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

impl Soak {
    fn new(bench: PathBuf, keepup_bin: PathBuf) -> Result<Soak> {
        let lab = Lab::new("lvs")?;
        let lan = lab.bridge()?;
        let director = lab.host("director", &lan, world::DIRECTOR, None)?;
        // A process that lives in the director's namespace for the whole soak: its
        // /proc/<pid>/net/ip_vs is the director's table, whoever runs keepup.
        let holder = director.spawn("sleep", &["1000000"], "holder.log")?;
        let sampler = Sampler::start(holder.pid());
        std::mem::forget(holder); // the lab ends it
        let mut servers = Vec::new();
        for i in 0..SERVERS {
            let host = lab.host(&format!("rs{}", i + 1), &lan, world::server_addr(i), None)?;
            let mode = lab.file(&format!("rs{}.mode", i + 1));
            std::fs::write(&mode, "ok\n")?;
            servers.push(Server {
                host,
                proc: None,
                mode,
            });
        }
        for (name, text) in world::scripts(lab.dir()) {
            let p = lab.dir().join(name);
            std::fs::write(&p, text)?;
            std::fs::set_permissions(&p, std::os::unix::fs::PermissionsExt::from_mode(0o755))?;
        }
        let conf = lab.file("keepalived.conf");
        let runtime = lab.file("run");
        Ok(Soak {
            lab,
            director,
            servers,
            bench,
            keepup_bin,
            keepup: None,
            lives: 0,
            conf,
            runtime,
            variant: Variant::default(),
            health: [Health::default(); SERVERS],
            events: Vec::new(),
            sampler,
            start: now_ns(),
            lines: Vec::new(),
            bound: world::bound(),
            unasked_exits: Vec::new(),
        })
    }

    fn say(&mut self, line: String) {
        println!("{line}");
        self.lines.push(line);
    }

    fn at(&mut self, t: Ns, what: String) {
        let line = format!("t=+{:7.2}s  {what}", secs_between(self.start, t));
        self.say(line);
    }

    fn start_server(&mut self, i: usize) -> Result<()> {
        let s = &self.servers[i];
        let listen = SocketAddr::from((world::server_addr(i), 80));
        let p = s.host.spawn(
            &self.bench.display().to_string(),
            &[
                "chaos-lvs-server".to_owned(),
                "--listen".into(),
                listen.to_string(),
                "--mode".into(),
                s.mode.display().to_string(),
            ],
            format!("rs{}.log", i + 1),
        )?;
        self.servers[i].proc = Some(p);
        Ok(())
    }

    fn write_config(&self) -> Result<()> {
        let tmp = self.conf.with_extension("new");
        std::fs::write(&tmp, world::config(self.variant, self.lab.dir()))?;
        std::fs::rename(&tmp, &self.conf)?;
        Ok(())
    }

    fn start_keepup(&mut self) -> Result<()> {
        self.lives += 1;
        let p = self.director.spawn(
            &self.keepup_bin.display().to_string(),
            &[
                "run".to_owned(),
                "-C".into(),
                "-f".into(),
                self.conf.display().to_string(),
                "--runtime-dir".into(),
                self.runtime.display().to_string(),
            ],
            format!("keepup-{}.log", self.lives),
        )?;
        self.sampler
            .keepup
            .store(p.pid(), std::sync::atomic::Ordering::SeqCst);
        self.keepup = Some(p);
        Ok(())
    }

    fn signal_keepup(&self, sig: Signal) -> Result<()> {
        match &self.keepup {
            Some(k) => {
                k.kill(sig)?;
                Ok(())
            }
            None => bail!("keepup is not running"),
        }
    }

    /// Records an event that began at `t0`: its truth from now on, its bound counted
    /// from now (so the time the fault took to apply is not the checkers').
    fn event(&mut self, t0: Ns, what: String, start: Option<world::Table>, extra: Duration) {
        let applied = Duration::from_nanos(now_ns().saturating_sub(t0));
        let truth = world::truth(self.variant, &self.health);
        self.at(t0, what.clone());
        self.events.push(Event {
            at: t0,
            what,
            truth,
            start,
            bound: self.bound + extra + applied,
        });
    }

    /// Sleeps `d`, watching that keepup keeps running.
    fn pause(&mut self, d: Duration) -> Result<()> {
        let until = Instant::now() + d;
        while Instant::now() < until {
            if interrupted() {
                bail!("interrupted");
            }
            if let Some(k) = &self.keepup {
                if let Some(st) = k.wait_timeout(Duration::ZERO) {
                    let t = now_ns();
                    let what = format!("keepup exited unasked: {st}");
                    self.unasked_exits.push((t, what.clone()));
                    self.at(t, format!("VIOLATION {what}; restarted"));
                    self.keepup = None;
                    self.start_keepup()?;
                    self.event(
                        t,
                        "keepup restarted after its exit".into(),
                        None,
                        world::BOOTSTRAP,
                    );
                }
            }
            std::thread::sleep(Duration::from_millis(50).min(until - Instant::now()));
        }
        Ok(())
    }

    fn nft_table(dir_in: bool) -> String {
        let (hook, field) = if dir_in {
            ("input", "saddr")
        } else {
            ("output", "daddr")
        };
        format!(
            "table inet lvschaos {{\n  chain guard {{\n    type filter hook {hook} priority 0;\n    \
             ip {field} {} drop;\n  }}\n}}\n",
            world::DIRECTOR
        )
    }

    /// Puts fault `k` on server `i` (`on`) or heals it.
    fn server_fault(&mut self, k: Kind, i: usize, on: bool) -> Result<()> {
        let h = &mut self.health[i];
        let s = &mut self.servers[i];
        match k {
            Kind::ServerKill => {
                if on {
                    if let Some(p) = s.proc.take() {
                        p.kill(Signal::SIGKILL)?;
                        let _ = p.wait_timeout(Duration::from_secs(5));
                    }
                    h.killed = true;
                } else {
                    h.killed = false;
                    self.start_server(i)?;
                }
            }
            Kind::ServerStop => {
                if let Some(p) = &s.proc {
                    p.kill(if on { Signal::SIGSTOP } else { Signal::SIGCONT })?;
                }
                h.stopped = on;
            }
            Kind::LinkDown => {
                s.host.link_set("eth0", !on)?;
                h.link_down = on;
            }
            Kind::DropIn | Kind::DropOut => {
                if on {
                    s.host.nft(&Self::nft_table(k == Kind::DropIn))?;
                } else {
                    s.host.run(["nft", "delete", "table", "inet", "lvschaos"])?;
                }
                if k == Kind::DropIn {
                    h.drop_in = on;
                } else {
                    h.drop_out = on;
                }
            }
            Kind::Error500 | Kind::WrongPage => {
                let m = match (on, k) {
                    (false, _) => Mode::Ok,
                    (true, Kind::Error500) => Mode::Error,
                    _ => Mode::Wrong,
                };
                std::fs::write(&s.mode, format!("{}\n", m.word()))?;
                h.mode = m;
            }
            _ => bail!("{k:?} is not a server fault"),
        }
        Ok(())
    }

    fn run(&mut self, args: &ChaosLvsArgs) -> Result<()> {
        let mut rng = SplitMix64::new(args.seed);
        for i in 0..SERVERS {
            self.start_server(i)?;
        }
        self.write_config()?;
        self.say(format!(
            "chaos-lvs: seed {}, {}; keepup -C as the director, rs1-rs6 in their namespaces; \
             B = {:.1} s (delay_loop {}, connect_timeout {}, retry {}, delay_before_retry {}, misc_timeout {} + 1, slack {:.1} s)",
            args.seed,
            match args.rounds {
                Some(r) => format!("{r} round(s)"),
                None => format!("{} min of faults", args.minutes),
            },
            self.bound.as_secs_f64(),
            world::DELAY_LOOP,
            world::CONNECT_TIMEOUT,
            world::RETRY,
            world::DELAY_BEFORE_RETRY,
            world::MISC_TIMEOUT,
            world::SLACK.as_secs_f64()
        ));
        self.start = now_ns();
        let t0 = now_ns();
        self.start_keepup()?;
        self.event(
            t0,
            "keepup started".into(),
            Some(world::fresh(self.variant)),
            world::BOOTSTRAP,
        );
        self.pause(self.bound + world::BOOTSTRAP + Duration::from_secs(1))?;
        let span = Duration::from_secs_f64(args.minutes * 60.0);
        let began = Instant::now();
        let mut round: Vec<Kind> = Vec::new();
        let mut rounds_done = 0;
        let mut n = 0u32;
        loop {
            if round.is_empty() {
                if args.rounds.is_some_and(|r| rounds_done >= r)
                    || (args.rounds.is_none() && began.elapsed() >= span)
                {
                    break;
                }
                rounds_done += 1;
                round = KINDS.to_vec();
                // Seeded shuffle.
                for i in (1..round.len()).rev() {
                    round.swap(i, rng.below_incl(i as u64) as usize);
                }
            }
            if args.rounds.is_none() && began.elapsed() >= span {
                break;
            }
            let k = round.remove(0);
            n += 1;
            self.episode(n, k, &mut rng)?;
            let gap = self.bound + Duration::from_secs_f64(0.2 + 1.5 * rng.next_f64());
            self.pause(gap)?;
        }
        Ok(())
    }

    fn hold(&self, rng: &mut SplitMix64) -> Duration {
        self.bound + Duration::from_secs_f64(0.2 + 1.5 * rng.next_f64())
    }

    fn episode(&mut self, n: u32, k: Kind, rng: &mut SplitMix64) -> Result<()> {
        if k.on_server() {
            // A wrong answer matters to HTTP_GET and MISC_CHECK only: rs3-rs6. A
            // third of the faults that fail every check go to rs2, whose weight holds
            // the first virtual server's quorum: the sorry server comes and goes.
            let i = match k {
                Kind::Error500 | Kind::WrongPage => 2 + rng.below_incl(SERVERS as u64 - 3) as usize,
                Kind::ServerStop => rng.below_incl(SERVERS as u64 - 1) as usize,
                _ if rng.chance(1.0 / 3.0) => 1,
                _ => rng.below_incl(SERVERS as u64 - 1) as usize,
            };
            let t = now_ns();
            self.server_fault(k, i, true)?;
            self.event(
                t,
                format!("#{n} rs{} {}", i + 1, k.name()),
                None,
                Duration::ZERO,
            );
            let hold = self.hold(rng);
            let mut second = None;
            if rng.chance(0.25) {
                let lead = Duration::from_secs_f64(0.3 + 3.0 * rng.next_f64());
                self.pause(lead)?;
                let j = (i + 1 + rng.below_incl(SERVERS as u64 - 2) as usize) % SERVERS;
                let k2 = KINDS[rng.below_incl(6) as usize];
                let t = now_ns();
                self.server_fault(k2, j, true)?;
                self.event(
                    t,
                    format!("#{n} +overlap rs{} {}", j + 1, k2.name()),
                    None,
                    Duration::ZERO,
                );
                second = Some((k2, j));
                self.pause(hold.saturating_sub(lead))?;
            } else {
                self.pause(hold)?;
            }
            let t = now_ns();
            self.server_fault(k, i, false)?;
            self.event(t, format!("#{n} rs{} healed", i + 1), None, Duration::ZERO);
            if let Some((k2, j)) = second {
                self.pause(Duration::from_secs_f64(2.0 * rng.next_f64()))?;
                let t = now_ns();
                self.server_fault(k2, j, false)?;
                self.event(t, format!("#{n} rs{} healed", j + 1), None, Duration::ZERO);
            }
            return Ok(());
        }
        match k {
            Kind::ReloadSame => {
                let t = now_ns();
                self.signal_keepup(Signal::SIGHUP)?;
                self.event(t, format!("#{n} {}", k.name()), None, world::BOOTSTRAP);
            }
            Kind::ReloadChange => {
                let old = self.variant;
                let mut new = old;
                let what = match rng.below_incl(2) {
                    0 => {
                        new.extra_rs = !new.extra_rs;
                        "rs6 added to 10.60.0.100:80"
                    }
                    1 => {
                        new.extra_vs = !new.extra_vs;
                        "virtual server 10.60.0.102:80 added"
                    }
                    _ => {
                        new.heavy = !new.heavy;
                        "rs1's weight in 10.60.0.100:80 1 -> 3"
                    }
                };
                for (from, to, say) in [
                    (old, new, what.to_owned()),
                    (new, old, "changed back".into()),
                ] {
                    let t = now_ns();
                    self.variant = to;
                    self.write_config()?;
                    self.signal_keepup(Signal::SIGHUP)?;
                    let start = world::reloaded(from, to, &self.health);
                    self.event(
                        t,
                        format!("#{n} {} ({say})", k.name()),
                        Some(start),
                        world::BOOTSTRAP,
                    );
                    if from == old {
                        let hold = self.hold(rng);
                        self.pause(hold)?;
                    }
                }
            }
            Kind::KeepupKill => {
                let t = now_ns();
                if let Some(p) = self.keepup.take() {
                    p.kill(Signal::SIGKILL)?;
                    let _ = p.wait_timeout(Duration::from_secs(5));
                }
                self.sampler
                    .keepup
                    .store(0, std::sync::atomic::Ordering::SeqCst);
                self.event(
                    t,
                    format!("#{n} {}: SIGKILL", k.name()),
                    None,
                    Duration::ZERO,
                );
                self.pause(Duration::from_secs_f64(0.2 + 1.8 * rng.next_f64()))?;
                let t = now_ns();
                self.start_keepup()?;
                self.event(
                    t,
                    format!("#{n} keepup restarted"),
                    Some(world::fresh(self.variant)),
                    world::BOOTSTRAP,
                );
            }
            Kind::Signals => {
                let t = now_ns();
                let order = if rng.chance(0.5) {
                    [Signal::SIGUSR1, Signal::SIGUSR2]
                } else {
                    [Signal::SIGUSR2, Signal::SIGUSR1]
                };
                for s in order {
                    self.signal_keepup(s)?;
                    std::thread::sleep(Duration::from_millis(200));
                }
                self.event(
                    t,
                    format!("#{n} {} ({:?} then {:?})", k.name(), order[0], order[1]),
                    None,
                    Duration::ZERO,
                );
            }
            _ => {}
        }
        Ok(())
    }

    /// Stops everything, judges the record, and returns the report.
    fn finish(&mut self, dir: &Path, args: &ChaosLvsArgs, err: Option<&anyhow::Error>) -> String {
        let end = now_ns();
        self.sampler.stop();
        let mut stopped_ok = true;
        if let Some(k) = self.keepup.take() {
            stopped_ok = k.terminate(Duration::from_secs(20)).is_some();
        }
        let rec = judge::lock_record(&self.sampler);
        let j = judge::judge(&rec, &self.events, end);
        let (mem_lines, mem_bad) = judge::memory(&rec);
        // The timeline again with each event's settle check, in time order.
        let mut out = Vec::new();
        let mut v_iter = j.violations.iter().peekable();
        for (k, e) in self.events.iter().enumerate() {
            while let Some(v) = v_iter.next_if(|v| v.at < e.at) {
                out.push(format!(
                    "t=+{:7.2}s    VIOLATION {}",
                    secs_between(self.start, v.at),
                    v.what
                ));
            }
            out.push(format!(
                "t=+{:7.2}s  {}",
                secs_between(self.start, e.at),
                e.what
            ));
            if let Some(Some((ok, first))) = j.settled.get(k) {
                out.push(format!(
                    "t=+{:7.2}s    settled: table {} the truth ({} entries){} (bound +{:.2}s)",
                    secs_between(self.start, e.at) + e.bound.as_secs_f64(),
                    if *ok { "equals" } else { "DIFFERS FROM" },
                    e.truth.len(),
                    first.map_or(String::new(), |f| format!(", reached at +{f:.2}s")),
                    e.bound.as_secs_f64()
                ));
            }
        }
        for v in v_iter {
            out.push(format!(
                "t=+{:7.2}s    VIOLATION {}",
                secs_between(self.start, v.at),
                v.what
            ));
        }
        let mut counts: std::collections::BTreeMap<&str, u32> = Default::default();
        for e in &self.events {
            for k in KINDS {
                if e.what.contains(k.name()) {
                    *counts.entry(k.name()).or_default() += 1;
                }
            }
        }
        let mut extra = Vec::new();
        let mut panics = 0;
        for life in 1..=self.lives {
            let log = std::fs::read_to_string(self.lab.dir().join(format!("keepup-{life}.log")))
                .unwrap_or_default();
            for l in log.lines().filter(|l| l.contains("panicked")) {
                panics += 1;
                extra.push(format!("panic in keepup-{life}.log: {l}"));
            }
        }
        if !stopped_ok {
            extra.push("keepup did not stop on SIGTERM within 20 s".into());
        }
        for (_, what) in &self.unasked_exits {
            extra.push(what.clone());
        }
        for v in &mem_bad {
            extra.push(v.what.clone());
        }
        // The daemon's logs and the quorum scripts' beside the report, for a look after.
        for life in 1..=self.lives {
            let name = format!("keepup-{life}.log");
            let _ = std::fs::copy(self.lab.dir().join(&name), dir.join(&name));
        }
        let _ = std::fs::copy(self.lab.dir().join("quorum.log"), dir.join("quorum.log"));
        if let Some(e) = err {
            extra.push(format!("the soak stopped early: {e:#}"));
        }
        if rec.samples.is_empty() {
            extra.push("the sampler read no table".into());
        }
        let quorum = std::fs::read_to_string(self.lab.dir().join("quorum.log")).unwrap_or_default();
        let violations = j.violations.len() + extra.len();
        let mut text = self.lines.first().cloned().unwrap_or_default();
        text.push('\n');
        for l in out {
            let _ = writeln!(text, "{l}");
        }
        text.push('\n');
        let shown: Vec<String> = counts.iter().map(|(k, c)| format!("{k} {c}")).collect();
        let _ = writeln!(
            text,
            "faults injected: {} events ({})",
            self.events.len().saturating_sub(1),
            shown.join(", ")
        );
        let _ = writeln!(
            text,
            "checks made: {} table samples judged against a settled truth, {} table changes judged for direction, {} settle checks; \
             {} samples in all, longest gap between samples {:.3} s, {} unreadable",
            j.steady_checks,
            j.transitions,
            j.settled.iter().flatten().count(),
            rec.samples.len(),
            j.longest_gap,
            rec.read_errors
        );
        let _ = writeln!(
            text,
            "quorum scripts ran {} times ({} up, {} down); keepup lives: {}",
            quorum.lines().count(),
            quorum.lines().filter(|l| l.starts_with("up")).count(),
            quorum.lines().filter(|l| l.starts_with("down")).count(),
            self.lives
        );
        for l in &mem_lines {
            let _ = writeln!(text, "memory: {l}");
        }
        for l in &extra {
            let _ = writeln!(text, "VIOLATION {l}");
        }
        let _ = writeln!(
            text,
            "verdict: {} — violations: {violations} (panics {panics}), seed {}, {:.1} min",
            if violations == 0 { "PASS" } else { "FAIL" },
            args.seed,
            secs_between(self.start, end) / 60.0
        );
        println!("{text}");
        text
    }
}
