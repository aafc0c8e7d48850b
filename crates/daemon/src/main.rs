//! The `keepup` command.

use anyhow::Result;
use clap::{CommandFactory, Parser, Subcommand};
use keepup_config::{LoadOptions, Verdict};
use std::path::PathBuf;
use std::process::ExitCode;

mod genhash;

#[derive(Parser)]
#[command(
    name = "keepup",
    version,
    disable_version_flag = true,
    about = "VRRP high availability and an LVS director that read keepalived.conf"
)]
struct Cli {
    /// Print the version (keepalived's `-v`).
    #[arg(short = 'v', long = "version", action = clap::ArgAction::Version)]
    version: Option<bool>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Read a keepalived.conf and report every problem found.
    ///
    /// Exit status: 0 clean (notes allowed), 1 keepup would run but there are warnings or
    /// errors, 2 keepup would refuse to run this configuration.
    Check(CheckArgs),
    /// Run the daemon in the foreground (systemd style): the VRRP instances, and the
    /// health checkers and IPVS for the virtual servers.
    ///
    /// keepalived's own options are accepted, so existing unit files keep working;
    /// `keepup -n -l -D ...` without a subcommand means `keepup run ...`.
    Run(Box<RunArgs>),
    /// Hand mastership over to another router without stopping (planned maintenance).
    ///
    /// Each named instance (all of them without names), with its sync group, sends a
    /// priority-0 advert, as a stopping Master does, and becomes Backup; it keeps
    /// answering for its VIPs until the new Master's advert or announcement is heard,
    /// so clients lose nothing. From then on it does not preempt; it takes over again
    /// only if no Master is heard for the down interval, or after `--resume`. Waits
    /// until the handover is over and prints each instance's outcome.
    Handover(HandoverArgs),
    /// Show the running daemon's state: each instance's state, priority
    /// (effective/base), master, since when and why, then the trackers that count
    /// against an instance.
    ///
    /// Root may ask; so may members of the group `keepup run --status-group` names.
    /// Exit status: 0 answered, 1 refused or an unknown instance, 2 no daemon.
    Status(StatusArgs),
    /// Reload the running daemon's configuration (as SIGHUP does) and print what
    /// became of each instance (unchanged, addresses changed, restarted, added,
    /// removed), or why the new file was refused (the running one then stays).
    ///
    /// Exit status: 0 reloaded, 1 refused, 2 no daemon.
    Reload(ReloadArgs),
    /// Watch a failover: three keepup routers and a client in a throwaway lab (root).
    ///
    /// Builds a lab of network namespaces (a bridge, routers r1, r2, r3 and a client on
    /// 10.51.0.0/24), runs this binary as `keepup run -i rN` in each router on one
    /// keepalived.conf (VRID 51, VIP 10.51.0.100/24, advert_int 1, priorities 150, 120,
    /// 100 on `@r1`/`@r2`/`@r3` lines), and shows the routers' states live. Once r1 is
    /// Master, the client pings the VIP every 10 ms and captures VRRP and ARP; then r1
    /// crashes (SIGKILL to its daemon, its cable pulled) and the demo prints the
    /// takeover's timeline: r1's last advert, r2's first advert, the VIP on r2, r2's
    /// gratuitous ARP, the client's first reply, the client's outage, and the
    /// Master_Down_Interval RFC 3768 predicts. r1 then comes back, removes the VIP its
    /// killed daemon left behind and preempts; every daemon is stopped with SIGTERM and
    /// the lab is removed (also on Ctrl-C or an error). About 15 seconds.
    ///
    /// Needs root (network namespaces, raw sockets), `ip` (iproute2) and `tcpdump`;
    /// exits 1 without them. Nothing leaves the lab's namespaces. KEEPUP_KEEP_LAB=1
    /// keeps the lab's files (daemon logs, pcap, config) in /tmp.
    Demo,
    /// keepalived's genhash: the MD5 digest of a web page's body, for a url's `digest`.
    ///
    /// keepalived's options and output (`keepup genhash -h` lists them): `-s ADDRESS -p
    /// PORT -u URL`, `-S` for TLS, `-v` to see the header and body as read. Called as
    /// `genhash` (a symlink to keepup), keepup is genhash.
    #[command(disable_help_flag = true)]
    Genhash {
        /// genhash's options.
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<std::ffi::OsString>,
    },
    /// Print a completion script for a shell (`keepup completions bash >
    /// /etc/bash_completion.d/keepup`; the Debian package installs them).
    Completions {
        /// bash, zsh, fish, elvish or powershell.
        shell: clap_complete::Shell,
    },
    /// Write the man pages (keepup(8) and one per subcommand) into a directory (what
    /// the Debian package is built with).
    #[command(hide = true)]
    Manpages {
        /// Where the pages go (created).
        dir: PathBuf,
    },
}

/// keepup(8) and keepup-SUBCOMMAND(8), from the command line's own help.
fn manpages(dir: &std::path::Path) -> Result<ExitCode> {
    std::fs::create_dir_all(dir)?;
    let cli = Cli::command();
    let page = |cmd: clap::Command, name: &str| -> Result<()> {
        let mut out = Vec::new();
        clap_mangen::Man::new(cmd)
            .section("8")
            .manual("System Manager's Manual")
            .source(format!("keepup {}", env!("CARGO_PKG_VERSION")))
            .render(&mut out)?;
        std::fs::write(dir.join(format!("{name}.8")), out)?;
        Ok(())
    };
    page(cli.clone(), "keepup")?;
    for sub in cli.get_subcommands().filter(|s| !s.is_hide_set()) {
        let name = format!("keepup-{}", sub.get_name());
        page(sub.clone().name(name.clone()), &name)?;
    }
    Ok(ExitCode::SUCCESS)
}

/// The configuration file and the config id, as keepalived takes them.
#[derive(clap::Args)]
struct ConfigArgs {
    /// Configuration file.
    #[arg(
        short = 'f',
        long = "use-file",
        default_value = "/etc/keepalived/keepalived.conf"
    )]
    file: PathBuf,
    /// Config id that `@ID` lines are matched against (default: the host name up to its
    /// first dot).
    #[arg(short = 'i', long = "config-id")]
    config_id: Option<String>,
}

#[derive(clap::Args)]
struct HandoverArgs {
    /// vrrp_instance names (default: every instance).
    names: Vec<String>,
    /// Undo an earlier handover: preempt again as configured.
    #[arg(long)]
    resume: bool,
    /// The running daemon's runtime directory (`keepup run --runtime-dir`).
    #[arg(long, default_value = "/run/keepup")]
    runtime_dir: PathBuf,
    /// Give up waiting for the answer after this many seconds.
    #[arg(long, default_value_t = 60)]
    timeout: u64,
}

#[derive(clap::Args)]
struct StatusArgs {
    /// vrrp_instance names (default: every instance).
    names: Vec<String>,
    /// The snapshot as JSON (keepalived's field names where it has one).
    #[arg(long)]
    json: bool,
    /// The running daemon's runtime directory (`keepup run --runtime-dir`).
    #[arg(long, default_value = "/run/keepup")]
    runtime_dir: PathBuf,
}

#[derive(clap::Args)]
struct ReloadArgs {
    /// The running daemon's runtime directory (`keepup run --runtime-dir`).
    #[arg(long, default_value = "/run/keepup")]
    runtime_dir: PathBuf,
    /// Give up waiting for the answer after this many seconds.
    #[arg(long, default_value_t = 60)]
    timeout: u64,
}

#[derive(clap::Args)]
struct RunArgs {
    #[command(flatten)]
    config: ConfigArgs,
    /// Directory for the pid file and the record of added addresses.
    #[arg(long, default_value = "/run/keepup")]
    runtime_dir: PathBuf,
    /// Members of this group (a name or a gid) may read `keepup status`; root may
    /// always.
    #[arg(long)]
    status_group: Option<String>,
    /// Serve Prometheus metrics on this address (`127.0.0.1:9650`, `[::]:9650`) at
    /// /metrics. Off unless given (or KEEPUP_METRICS_LISTEN is set, for unit files).
    #[arg(long, value_name = "ADDR:PORT", env = "KEEPUP_METRICS_LISTEN")]
    metrics_listen: Option<std::net::SocketAddr>,
    /// keepalived: main pid file (keepup writes its own pid there).
    #[arg(short = 'p', long = "pid")]
    pid: Option<PathBuf>,
    /// keepalived: VRRP child pid file (keepup writes its own pid there).
    #[arg(short = 'r', long = "vrrp_pid")]
    vrrp_pid: Option<PathBuf>,
    /// keepalived: checkers child pid file (keepup writes its own pid there).
    #[arg(short = 'c', long = "checkers_pid")]
    checkers_pid: Option<PathBuf>,
    /// keepalived: BFD child pid file (keepup writes its own pid there; it runs no
    /// BFD).
    #[arg(short = 'b', long = "bfd_pid")]
    bfd_pid: Option<PathBuf>,
    /// keepalived: umask for the files it creates (octal, as `-u 0027`).
    #[arg(short = 'u', long = "umask", value_name = "MASK", value_parser = parse_umask)]
    umask: Option<u32>,
    /// keepalived: do not run the BFD subsystem (keepup has none).
    #[arg(short = 'B', long = "no_bfd")]
    no_bfd: bool,
    /// keepalived: run every child process even without configuration (keepup is one
    /// process).
    #[arg(long = "all")]
    all: bool,
    /// keepalived: do not respawn child processes (keepup is one process; run it
    /// under systemd's Restart= for respawning).
    #[arg(short = 'R', long = "dont-respawn")]
    dont_respawn: bool,
    /// keepalived: produce a core dump on a crash (set the core limit with ulimit or
    /// LimitCORE=; keepup leaves it as it finds it).
    #[arg(short = 'm', long = "core-dump")]
    core_dump: bool,
    /// keepalived: run in this network namespace. keepup does not switch namespaces
    /// yet and refuses to start: run it with `ip netns exec NAME keepup ...`.
    #[arg(short = 's', long = "namespace", value_name = "NAME")]
    namespace: Option<String>,
    /// keepalived: drop the VIPs on a transition forced by a signal (not done by
    /// keepup: said at start).
    #[arg(short = 'X', long = "release-vips")]
    release_vips: bool,
    /// keepalived: log every address added or removed (not done by keepup: said at
    /// start).
    #[arg(short = 'a', long = "address-monitoring")]
    address_monitoring: bool,
    /// keepalived: dump the configuration to the log (`keepup check --dump` prints
    /// it).
    #[arg(short = 'd', long = "dump-conf")]
    dump_conf: bool,
    /// keepalived: an error if any configuration file is missing (not done by keepup:
    /// `keepup check` names a missing file).
    #[arg(short = 'e', long = "all-config")]
    all_config: bool,
    /// keepalived: enable SNMP (keepup serves no SNMP; `--metrics-listen` serves
    /// Prometheus metrics).
    #[arg(short = 'x', long = "snmp")]
    snmp: bool,
    /// keepalived: the SNMP master agent's socket (no SNMP in keepup).
    #[arg(short = 'A', long = "snmp-agent-socket", value_name = "FILE")]
    snmp_agent_socket: Option<String>,
    /// keepalived: set the kernel's core_pattern (not done by keepup).
    #[arg(short = 'M', long = "core-dump-pattern", value_name = "PATN", num_args = 0..=1)]
    core_dump_pattern: Option<Option<String>>,
    /// keepalived: do not remove VRRP VIPs and routes on stop.
    #[arg(short = 'V', long = "dont-release-vrrp")]
    dont_release_vrrp: bool,
    /// keepalived: do not remove the IPVS virtual and real servers keepup added on stop.
    #[arg(short = 'I', long = "dont-release-ipvs")]
    dont_release_ipvs: bool,
    /// keepalived: only test the configuration (same as `keepup check`).
    #[arg(short = 't', long = "config-test")]
    config_test: bool,
    /// keepalived: stay in the foreground (keepup always does).
    #[arg(short = 'n', long = "dont-fork")]
    dont_fork: bool,
    /// keepalived: log to the console (stderr) as well as to syslog. Without it,
    /// stderr is written too unless systemd's journal reads it.
    #[arg(short = 'l', long = "log-console")]
    log_console: bool,
    /// keepalived: detailed log messages.
    #[arg(short = 'D', long = "log-detail")]
    log_detail: bool,
    /// keepalived: syslog facility: 0-7 (local0-local7), local0-local7, user or daemon
    /// (the default).
    #[arg(short = 'S', long = "log-facility", value_name = "FACILITY")]
    log_facility: Option<String>,
    /// keepalived: do not log to syslog.
    #[arg(short = 'G', long = "no-syslog")]
    no_syslog: bool,
    /// keepalived: run only the VRRP subsystem (no health checkers).
    #[arg(short = 'P', long = "vrrp", conflicts_with = "check_only")]
    vrrp_only: bool,
    /// keepalived: run only the health checkers (no VRRP instance).
    #[arg(short = 'C', long = "check")]
    check_only: bool,
    /// keepalived: print the number of the signal for STOP, RELOAD, DATA, STATS,
    /// STATS_CLEAR or JSON and exit (`kill -s $(keepup --signum=JSON) PID`).
    #[arg(long = "signum", value_name = "SIGFUNC")]
    signum: Option<String>,
}

fn handover(a: HandoverArgs) -> Result<ExitCode> {
    let verb = if a.resume { "resume" } else { "handover" };
    let line = std::iter::once(verb.to_string())
        .chain(a.names)
        .collect::<Vec<_>>()
        .join(" ");
    let timeout = std::time::Duration::from_secs(a.timeout.max(1));
    let ok = keepup::control::request(&a.runtime_dir, &line, timeout, |l| println!("{l}"))?;
    Ok(if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

fn reload(a: ReloadArgs) -> Result<ExitCode> {
    let timeout = std::time::Duration::from_secs(a.timeout.max(1));
    let ok = keepup::control::request(&a.runtime_dir, "reload", timeout, |l| println!("{l}"))?;
    Ok(if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

fn status(a: StatusArgs) -> Result<ExitCode> {
    let line = std::iter::once("status".to_string())
        .chain(a.names)
        .collect::<Vec<_>>()
        .join(" ");
    let mut lines = Vec::new();
    let timeout = std::time::Duration::from_secs(10);
    let ok = keepup::control::request(&a.runtime_dir, &line, timeout, |l| {
        lines.push(l.to_string())
    })?;
    if !ok {
        for l in &lines {
            eprintln!("keepup: {}", l.strip_prefix("error: ").unwrap_or(l));
        }
        return Ok(ExitCode::from(1));
    }
    let json = lines.first().map(String::as_str).unwrap_or("");
    let snapshot: keepup::status::Snapshot = serde_json::from_str(json)
        .map_err(|e| anyhow::anyhow!("the daemon's answer is not a status: {e}"))?;
    if a.json {
        println!("{}", serde_json::to_string_pretty(&snapshot)?);
    } else {
        print!(
            "{}",
            keepup::status::table(&snapshot, std::time::SystemTime::now())
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// `-u MASK` as keepalived reads it (C's base 0): `0027` octal, `0x17` hex, `23`
/// decimal.
fn parse_umask(s: &str) -> Result<u32, String> {
    let parsed = if let Some(hex) = s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        u32::from_str_radix(hex, 16)
    } else if s.len() > 1 && s.starts_with('0') {
        u32::from_str_radix(&s[1..], 8)
    } else {
        s.parse()
    };
    parsed
        .ok()
        .filter(|m| *m <= 0o777)
        .ok_or_else(|| format!("{s:?} is not a umask (0000-0777, octal with a leading 0)"))
}

/// `--signum=NAME`: keepalived's answer, its output and its exit status.
fn signum(name: &str) -> ExitCode {
    if name.is_empty() {
        eprintln!("Missing parameter for option --signum");
        return ExitCode::from(1);
    }
    match keepup::run::signum(name) {
        Some(n) => {
            println!("{n}");
            ExitCode::SUCCESS
        }
        None => {
            eprintln!("Unknown sigfunc {name}");
            ExitCode::from(1)
        }
    }
}

fn run(args: RunArgs) -> Result<ExitCode> {
    if let Some(name) = &args.signum {
        return Ok(signum(name));
    }
    if args.config_test {
        return check(CheckArgs {
            config: args.config,
            json: false,
            dump: false,
            no_interface_check: false,
            runtime_dir: args.runtime_dir.clone(),
        });
    }
    if let Some(ns) = &args.namespace {
        anyhow::bail!(
            "-s {ns}: keepup does not switch network namespaces yet; start it in the \
             namespace instead: ip netns exec {ns} keepup run ..."
        );
    }
    keepup::logging::init(&keepup::logging::LogOptions {
        detail: args.log_detail,
        console: args.log_console,
        facility: args.log_facility,
        no_syslog: args.no_syslog,
    });
    for (given, flag, what) in [
        (
            args.release_vips,
            "-X",
            "VIPs are not dropped on a transition forced by a signal",
        ),
        (
            args.address_monitoring,
            "-a",
            "address changes are not logged",
        ),
        (
            args.dump_conf,
            "-d",
            "the configuration is not dumped to the log (keepup check --dump prints it)",
        ),
        (
            args.all_config,
            "-e",
            "a missing configuration file is not an error (keepup check names it)",
        ),
        (
            args.snmp || args.snmp_agent_socket.is_some(),
            "-x/-A",
            "no SNMP is served (--metrics-listen serves Prometheus metrics)",
        ),
        (
            args.core_dump_pattern.is_some(),
            "-M",
            "the kernel's core_pattern is left as it is",
        ),
    ] {
        if given {
            tracing::warn!("keepalived's {flag} is not supported by keepup: {what}");
        }
    }
    // Options of keepalived's process model that keepup, one process, has nothing to
    // do for (each flag's help says why).
    let _ = (
        args.dont_fork,
        args.no_bfd,
        args.all,
        args.dont_respawn,
        args.core_dump,
    );
    if let Some(mask) = args.umask {
        nix::sys::stat::umask(nix::sys::stat::Mode::from_bits_truncate(mask));
    }
    keepup::run::run(keepup::run::RunOptions {
        file: args.config.file,
        config_id: args.config.config_id,
        runtime_dir: args.runtime_dir,
        pid_files: [args.pid, args.vrrp_pid, args.checkers_pid, args.bfd_pid]
            .into_iter()
            .flatten()
            .collect(),
        dont_release_vrrp: args.dont_release_vrrp,
        dont_release_ipvs: args.dont_release_ipvs,
        status_group: args.status_group,
        metrics_listen: args.metrics_listen,
        checkers: !args.vrrp_only,
        vrrp: !args.check_only,
    })
}

#[derive(clap::Args)]
struct CheckArgs {
    #[command(flatten)]
    config: ConfigArgs,
    /// Print diagnostics as JSON.
    #[arg(long)]
    json: bool,
    /// Print the resolved configuration model as JSON.
    #[arg(long)]
    dump: bool,
    /// Do not compare the configuration with this host's interfaces (that they exist,
    /// and which virtual addresses they already hold).
    #[arg(long)]
    no_interface_check: bool,
    /// A running keepup's runtime directory: the addresses it added are its own, not
    /// this host's (`keepup run --runtime-dir`).
    #[arg(long, default_value = "/run/keepup")]
    runtime_dir: PathBuf,
}

fn check(args: CheckArgs) -> Result<ExitCode> {
    let mut opts = LoadOptions::for_this_host();
    if let Some(id) = args.config.config_id {
        opts.preprocess.config_id = id;
    }
    if args.no_interface_check {
        opts.interfaces = None;
    }
    let mut loaded = keepup_config::load_file(&args.config.file, &opts);
    if !args.no_interface_check && loaded.verdict() != Verdict::Refused {
        let found = keepup::ownership::diagnostics(&loaded.config, &args.runtime_dir);
        loaded.diagnostics.extend(found);
    }
    let verdict = loaded.verdict();
    if args.json {
        let mut v = loaded.diagnostics_json();
        if args.dump {
            v["config"] = serde_json::to_value(&loaded.config)?;
        }
        println!("{}", serde_json::to_string_pretty(&v)?);
    } else {
        eprint!("{}", loaded.render());
        if verdict != Verdict::Refused {
            eprint!("{}", keepup::checkers::check_notes(&loaded.config));
            eprint!("{}", keepup::run::accept_notes(&loaded.config));
            eprint!("{}", keepup::plan::vmac_notes(&loaded.config));
        }
        if args.dump && verdict != Verdict::Refused {
            println!("{}", serde_json::to_string_pretty(&loaded.config)?);
        }
    }
    Ok(ExitCode::from(verdict.exit_code() as u8))
}

fn main() -> ExitCode {
    // keepalived's command line (`keepup -n -l -D -f FILE`) means `keepup run`.
    let mut argv: Vec<std::ffi::OsString> = std::env::args_os().collect();
    let lossy = |a: &std::ffi::OsString| a.to_string_lossy().into_owned();
    let prog = argv.first().map(lossy).unwrap_or_default();
    if std::path::Path::new(&prog).file_name() == Some("genhash".as_ref()) {
        let args: Vec<String> = argv.iter().skip(1).map(lossy).collect();
        return genhash::main(&prog, &args);
    }
    // keepalived's genhash mode: `keepalived -T ARGS`.
    if argv.get(1).is_some_and(|a| a == "-T" || a == "--genhash") {
        let args: Vec<String> = argv.iter().skip(2).map(lossy).collect();
        return genhash::main(&format!("{prog} -T"), &args);
    }
    let keepalived_style = argv.get(1).is_some_and(|a| {
        let a = a.to_string_lossy();
        a.starts_with('-') && !matches!(a.as_ref(), "-h" | "--help" | "-v" | "--version")
    });
    if keepalived_style {
        argv.insert(1, "run".into());
    }
    let cli = Cli::parse_from(argv);
    let r = match cli.command {
        Command::Check(a) => check(a),
        Command::Run(a) => run(*a),
        Command::Demo => keepup::demo::run(),
        Command::Handover(a) => handover(a),
        Command::Status(a) => status(a),
        Command::Reload(a) => reload(a),
        Command::Genhash { args } => {
            let args: Vec<String> = args.iter().map(lossy).collect();
            return genhash::main(&format!("{prog} genhash"), &args);
        }
        Command::Completions { shell } => {
            // Made whole first: a closed pipe is an error to report, not a panic.
            let mut script = Vec::new();
            clap_complete::generate(shell, &mut Cli::command(), "keepup", &mut script);
            std::io::Write::write_all(&mut std::io::stdout(), &script)
                .map(|()| ExitCode::SUCCESS)
                .map_err(Into::into)
        }
        Command::Manpages { dir } => manpages(&dir),
    };
    match r {
        Ok(code) => code,
        Err(e) => {
            eprintln!("keepup: {e:#}");
            ExitCode::from(2)
        }
    }
}
