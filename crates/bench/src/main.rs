//! keepup-bench: keepup and keepalived 2.2.7 side by side in one network-namespace
//! lab, the same scenarios and the same keepalived.conf for both, alternating runs;
//! a table of min / median / max with keepup/keepalived ratios, and a chart of the
//! client outage per failover scenario.
//!
//! `keepup-bench [--runs N] [--only GLOB]... [--quick]` runs the benchmark (as root);
//! `probe` and `monitor` are its helpers inside the lab's namespaces.
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{bail, Context, Result};
use clap::{Args, Parser, Subcommand};

mod chaos;
mod chart;
mod flood;
mod font;
mod harness;
mod ipvs;
mod longrun;
mod lvschaos;
mod monitor;
mod probe;
mod report;
mod scenario;

use scenario::{Daemon, Kind, Scenario};

/// Wall-clock time (CLOCK_REALTIME, shared by every namespace) in nanoseconds since
/// the Unix epoch: the one clock of probes, monitors and captures.
pub type Ns = u64;

pub fn now_ns() -> Ns {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as Ns)
        .unwrap_or(0)
}

/// `b - a` in seconds (negative when `b` came first).
pub fn secs_between(a: Ns, b: Ns) -> f64 {
    (b as i128 - a as i128) as f64 / 1e9
}

static INTERRUPTED: AtomicBool = AtomicBool::new(false);

/// Ctrl-C or SIGTERM arrived: the current run ends and its lab is removed.
pub fn interrupted() -> bool {
    INTERRUPTED.load(Ordering::SeqCst)
}

#[derive(Debug)]
pub struct Interrupted;

impl std::fmt::Display for Interrupted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("interrupted")
    }
}

impl std::error::Error for Interrupted {}

#[derive(Parser, Debug)]
#[command(
    name = "keepup-bench",
    version,
    about = "Failover benchmark: keepup and keepalived side by side in one namespace lab",
    args_conflicts_with_subcommands = true
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    bench: BenchArgs,
}

#[derive(Args, Debug)]
struct BenchArgs {
    /// Runs per scenario and daemon (default 5; 3 with --quick).
    #[arg(long)]
    runs: Option<usize>,
    /// Only the scenarios whose name matches this glob (repeatable), e.g.
    /// 'failover/v3-*/cut' or 'scale/*'. `--list` shows the names.
    #[arg(long, value_name = "GLOB")]
    only: Vec<String>,
    /// A fast subset: failovers at VRRPv3 advert_int 0.1, 200 instances sampled for
    /// 10 s, 1000 VIPs; 3 runs.
    #[arg(long)]
    quick: bool,
    /// Seconds the scale scenarios sample CPU and memory (default 30; 10 with --quick).
    #[arg(long, value_name = "SECS")]
    sample: Option<u64>,
    /// The flood scenarios' rate, packets/s.
    #[arg(long, default_value_t = 60_000)]
    flood_rate: u64,
    /// The flood scenarios' length, seconds.
    #[arg(long, default_value_t = 15.0)]
    flood_secs: f64,
    /// The keepup binary (default: `keepup` next to this program).
    #[arg(long)]
    keepup: Option<PathBuf>,
    /// Where latest.md and outage.png go.
    #[arg(long, default_value = "bench/results")]
    out: PathBuf,
    /// Only this daemon (for a look at one; the table then has no ratios).
    #[arg(long, value_parser = ["keepup", "keepalived"])]
    daemon: Option<String>,
    /// List the scenarios and exit.
    #[arg(long)]
    list: bool,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// (In the lab's client namespace.) ICMP echo to TARGET every INTERVAL, each send
    /// and reply written to OUT, until SIGTERM.
    #[command(hide = true)]
    Probe {
        #[arg(long)]
        target: std::net::Ipv4Addr,
        #[arg(long)]
        out: PathBuf,
        /// Microseconds between echoes.
        #[arg(long, default_value_t = 2000)]
        every_us: u64,
    },
    /// (In a router namespace.) Address events with their times, to OUT, until SIGTERM.
    #[command(hide = true)]
    Monitor {
        #[arg(long)]
        out: PathBuf,
    },
    /// (In the rogue host's namespace.) Send bad VRRP packets of one KIND.
    #[command(hide = true)]
    Flood {
        #[arg(long)]
        kind: String,
        #[arg(long)]
        rate: u64,
        #[arg(long)]
        secs: f64,
        #[arg(long)]
        iface: String,
    },
    /// IPVS benchmarks in the qemu VM (a kernel with IPVS): programming 1,000 virtual
    /// servers x 10 real servers, a 1 % reload, memory; checkers' CPU. keepup and
    /// keepalived alternating in one boot.
    Ipvs(ipvs::IpvsArgs),
    /// The long run: 200 instances on a master/backup pair for an hour, trackers
    /// flapping and reloads, keepup and keepalived side by side; memory, descriptors,
    /// zombies, and what each leaves behind after its stop.
    Longrun(longrun::LongrunArgs),
    /// A chaos soak: four routers (three keepup, one keepalived 2.2.7) on one bridge,
    /// random faults at seeded random times, every VIP's holders sampled every 10 ms
    /// and the invariants checked after each heal; a timeline and a verdict (exit 1 on
    /// a violation).
    Chaos(chaos::ChaosArgs),
    /// (In the VM.) The hostile real servers of `ipvs --only hostile`: every
    /// `PORT KIND` line of SPEC served on ADDR, each check received logged to LOG.
    #[command(hide = true)]
    HostileServer {
        #[arg(long)]
        addr: std::net::Ipv4Addr,
        #[arg(long)]
        spec: PathBuf,
        #[arg(long)]
        log: PathBuf,
    },
    /// The chaos soak's LVS part, in the qemu VM: keepup as the director in front of six
    /// real servers, random faults (servers killed, hung, cut off, answering wrong;
    /// reloads, keepup SIGKILLed, operator signals), the IPVS table sampled every 20 ms
    /// and judged against the truth after the checkers' timing; a timeline and a verdict
    /// (exit 1 on a violation).
    ChaosLvs(lvschaos::ChaosLvsArgs),
    /// (In the VM.) The guest side of `chaos-lvs`: its report goes to DIR.
    #[command(hide = true)]
    ChaosLvsGuest {
        #[arg(long)]
        dir: PathBuf,
        #[command(flatten)]
        args: lvschaos::ChaosLvsArgs,
    },
    /// (In a real server's namespace of `chaos-lvs`.) A small HTTP server whose answers
    /// MODE decides.
    #[command(hide = true)]
    ChaosLvsServer {
        #[arg(long)]
        listen: std::net::SocketAddr,
        #[arg(long)]
        mode: PathBuf,
    },
    /// (In the VM.) The guest side of `ipvs`: its figures go to DIR.
    #[command(hide = true)]
    IpvsGuest {
        #[arg(long)]
        dir: PathBuf,
        #[command(flatten)]
        args: ipvs::IpvsArgs,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let r = match cli.command {
        Some(Command::Probe {
            target,
            out,
            every_us,
        }) => probe::run(target, Duration::from_micros(every_us.max(100)), &out)
            .map(|()| ExitCode::SUCCESS),
        Some(Command::Monitor { out }) => monitor::run(&out).map(|()| ExitCode::SUCCESS),
        Some(Command::Flood {
            kind,
            rate,
            secs,
            iface,
        }) => match flood::FloodKind::parse(&kind) {
            Some(k) => flood::send(k, rate, secs, &iface).map(|()| ExitCode::SUCCESS),
            None => Err(anyhow::anyhow!("no flood kind {kind:?}")),
        },
        Some(Command::Ipvs(args)) => ipvs::host(args),
        Some(Command::Longrun(args)) => longrun::run(args),
        Some(Command::Chaos(args)) => chaos::run(args),
        Some(Command::IpvsGuest { dir, args }) => ipvs::guest(&dir, args),
        Some(Command::HostileServer { addr, spec, log }) => {
            ipvs::hostile_server::run(addr, &spec, &log).map(|()| ExitCode::SUCCESS)
        }
        Some(Command::ChaosLvs(args)) => lvschaos::host(args),
        Some(Command::ChaosLvsGuest { dir, args }) => lvschaos::guest(&dir, args),
        Some(Command::ChaosLvsServer { listen, mode }) => lvschaos::server::run(listen, mode),
        None => bench(cli.bench),
    };
    match r {
        Ok(c) => c,
        Err(e) => {
            eprintln!("keepup-bench: {e:#}");
            ExitCode::from(2)
        }
    }
}

fn selected(args: &BenchArgs) -> Result<Vec<Scenario>> {
    let mut globs: Vec<&str> = args.only.iter().map(String::as_str).collect();
    if args.quick && globs.is_empty() {
        globs = scenario::QUICK.to_vec();
    }
    let pats = globs
        .iter()
        .map(|g| glob::Pattern::new(g).with_context(|| format!("--only {g:?}")))
        .collect::<Result<Vec<_>>>()?;
    let v: Vec<Scenario> = scenario::all()
        .into_iter()
        .filter(|s| pats.is_empty() || pats.iter().any(|p| p.matches(&s.name)))
        .collect();
    if v.is_empty() {
        bail!("no scenario matches {globs:?} (see --list)");
    }
    Ok(v)
}

fn bench(args: BenchArgs) -> Result<ExitCode> {
    let scenarios = selected(&args)?;
    if args.list {
        for s in scenario::all() {
            println!("{}", s.name);
        }
        return Ok(ExitCode::SUCCESS);
    }
    if !keepup_testkit::lab::is_root() {
        eprintln!(
            "keepup-bench needs root: it builds network namespaces, runs the daemons in \
             them and probes with raw ICMP sockets (sudo scripts/bench)"
        );
        return Ok(ExitCode::from(1));
    }
    let runs = args.runs.unwrap_or(if args.quick { 3 } else { 5 }).max(1);
    let sample = Duration::from_secs(args.sample.unwrap_or(if args.quick { 10 } else { 30 }));
    let (mut tools, versions) = tools(args.keepup.clone(), sample)?;
    tools.flood_rate = args.flood_rate;
    tools.flood_secs = args.flood_secs;
    watch_signals()?;

    let daemons: Vec<Daemon> = Daemon::BOTH
        .into_iter()
        .filter(|d| args.daemon.as_deref().is_none_or(|x| x == d.name()))
        .collect();
    let total = scenarios.len() * runs * daemons.len();
    let mut n = 0;
    let mut results = report::Results::default();
    'all: for s in &scenarios {
        for run in 1..=runs {
            for &d in &daemons {
                n += 1;
                eprint!("[{n}/{total}] {} {} run {run}/{runs}: ", s.name, d.name());
                if matches!(s.kind, Kind::Checkers { .. }) && d == Daemon::Keepalived {
                    // Its checker process exits at start on a kernel without IPVS.
                    eprintln!("skipped (keepalived's checker needs IPVS, which this kernel lacks)");
                    continue;
                }
                let r = match s.kind {
                    Kind::Failover(t, f) => harness::failover(&tools, d, t, f),
                    Kind::Scale(count, timing) => harness::scale(&tools, d, count, timing),
                    Kind::Vips(count, excluded) => harness::vips(&tools, d, count, excluded),
                    Kind::Checkers { tcp, http } => harness::checkers(&tools, tcp, http),
                    Kind::Flood(k) => flood::run(&tools, d, k),
                };
                match r {
                    Ok(figs) => {
                        let shown: Vec<String> = figs
                            .iter()
                            .map(|(m, v)| format!("{m} {}", report::format_value(m, *v)))
                            .collect();
                        eprintln!("{}", shown.join(", "));
                        results.add(&s.name, d, &figs);
                    }
                    Err(e) if e.is::<Interrupted>() || interrupted() => {
                        eprintln!("interrupted; the lab is removed");
                        break 'all;
                    }
                    Err(e) => {
                        eprintln!("FAILED: {e:#}");
                        results.failures.push(report::Failure {
                            scenario: s.name.clone(),
                            daemon: d,
                            run,
                            error: format!("{e:#}"),
                        });
                    }
                }
            }
        }
    }

    let table = results.table();
    println!("{table}");
    let failures = results.failure_lines();
    if !failures.is_empty() {
        println!("failed runs:\n{failures}");
    }
    std::fs::create_dir_all(&args.out).with_context(|| format!("create {}", args.out.display()))?;
    // The flood scenarios alone have their own file (they answer issue 17).
    let floods = scenarios.iter().all(|s| matches!(s.kind, Kind::Flood(_)));
    let md = args.out.join(if floods {
        "flood-latest.md"
    } else {
        "latest.md"
    });
    let header = format!(
        "{}- runs per scenario and daemon: {runs}, alternating keepup and keepalived\n",
        machine_header(&versions)
    );
    let mut text = format!("# keepup-bench results\n\n{header}\n{table}\nScenarios:\n\n");
    for s in &scenarios {
        text.push_str(&format!("- `{}`: {}\n", s.name, s.describe()));
    }
    if !failures.is_empty() {
        text.push_str(&format!("\nFailed runs:\n\n{failures}"));
    }
    std::fs::write(&md, text).with_context(|| format!("write {}", md.display()))?;
    let png = args.out.join("outage.png");
    let bars = chart::outage_bars(&results);
    if !bars.is_empty() {
        chart::write(&bars, &png)?;
        eprintln!("wrote {} and {}", md.display(), png.display());
    } else {
        eprintln!(
            "wrote {} (no failover scenario ran: no chart)",
            md.display()
        );
    }
    if interrupted() {
        return Ok(ExitCode::from(130));
    }
    Ok(if results.rows.is_empty() {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

/// The first line a program prints for `args` (keepalived writes it to stderr).
fn version_of(program: &str, args: &[&str]) -> Result<String> {
    let out = std::process::Command::new(program)
        .args(args)
        .output()
        .with_context(|| format!("run {program}"))?;
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(text.lines().next().unwrap_or_default().trim().to_owned())
}

/// This machine's CPU model, from /proc/cpuinfo.
pub fn cpu_model() -> Option<String> {
    std::fs::read_to_string("/proc/cpuinfo").ok().and_then(|c| {
        c.lines()
            .find_map(|l| l.strip_prefix("model name"))
            .map(|v| v.trim_start_matches([' ', '\t', ':']).to_owned())
    })
}

/// Date, machine and versions, as markdown lines.
/// The binaries a run needs, checked, and their versions ("keepup x; keepalived y").
pub(crate) fn tools(keepup: Option<PathBuf>, sample: Duration) -> Result<(harness::Tools, String)> {
    let bench_exe = std::env::current_exe().context("cannot find this program")?;
    let keepup = keepup.unwrap_or_else(|| bench_exe.with_file_name("keepup"));
    if !keepup.is_file() {
        bail!(
            "no keepup binary at {} (cargo build --release -p keepup, or --keepup PATH)",
            keepup.display()
        );
    }
    let ka_version = version_of("keepalived", &["--version"])
        .context("keepalived is not installed (apt-get install keepalived)")?;
    let ku_version = version_of(&keepup.display().to_string(), &["--version"])?;
    let tools = harness::Tools {
        bench: bench_exe,
        keepup: keepup.canonicalize().unwrap_or(keepup),
        sample,
        flood_rate: 0,
        flood_secs: 0.0,
    };
    Ok((tools, format!("{ku_version}; {ka_version}")))
}

/// Date, machine, versions and this command, as list items of a results file.
pub(crate) fn machine_header(versions: &str) -> String {
    let date = std::process::Command::new("date")
        .args(["-u", "+%Y-%m-%d %H:%M UTC"])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_default();
    let cpu = cpu_model().unwrap_or_else(|| "unknown CPU".into());
    let nproc = std::thread::available_parallelism().map_or(0, |n| n.get());
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .map(|s| s.trim().to_owned())
        .unwrap_or_default();
    let args: Vec<String> = std::env::args().skip(1).collect();
    format!(
        "- date: {date}\n- machine: {nproc} CPUs, {cpu}, Linux {kernel}\n- {versions}\n\
         - command: `keepup-bench {}`\n",
        args.join(" ")
    )
}

/// SIGINT and SIGTERM set the flag instead of ending the process, so the current
/// lab is removed on the way out.
pub(crate) fn watch_signals() -> Result<()> {
    use tokio::signal::unix::{signal, SignalKind};
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .build()?;
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
        INTERRUPTED.store(true, Ordering::SeqCst);
    });
    Ok(())
}
