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
use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
pub use keepup_testkit::lab::probe::now;
use keepup_testkit::lab::{self, Capture, Host, Lab, Lan, Probe, Proc, Signal};
pub use keepup_testkit::lab::{longest_gap, Echo, Gap};
use keepup_wire::MacAddr;

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

// ---------------------------------------------------------------------------------
// Reading what the lab says: timestamps, daemon logs, `ip monitor`.

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (m + if m > 2 { -3 } else { 9 }) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// A UTC timestamp as the daemon logs it (`2026-11-22T00:17:07.842274Z`) or as
/// `TZ=UTC ip -ts monitor` prints it (`[2026-11-22T00:16:30.555100]`).
pub fn parse_utc(s: &str) -> Option<Duration> {
    let s = s.trim_start_matches('[').trim_end_matches(']');
    let s = s.strip_suffix('Z').unwrap_or(s);
    let (date, time) = s.split_once('T')?;
    let mut d = date.splitn(3, '-').map(|x| x.parse::<i64>().ok());
    let (y, mo, da) = (d.next()??, d.next()??, d.next()??);
    let (hms, frac) = time.split_once('.').unwrap_or((time, ""));
    let mut t = hms.splitn(3, ':').map(|x| x.parse::<i64>().ok());
    let (h, mi, se) = (t.next()??, t.next()??, t.next()??);
    if !(1..=12).contains(&mo) || !(1..=31).contains(&da) || h > 23 || mi > 59 || se > 60 {
        return None;
    }
    if frac.len() > 9 || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let nanos: u32 = if frac.is_empty() {
        0
    } else {
        format!("{frac:0<9}").parse().ok()?
    };
    let secs = days_from_civil(y, mo, da) * 86_400 + h * 3600 + mi * 60 + se;
    Some(Duration::new(u64::try_from(secs).ok()?, nanos))
}

/// A router's state as the demo shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RouterState {
    /// Started, nothing logged yet.
    Starting,
    Backup,
    Master,
    Fault,
    Stop,
    /// Killed by the demo.
    Down,
}

impl RouterState {
    pub fn label(self) -> &'static str {
        match self {
            RouterState::Starting => "-",
            RouterState::Backup => "BACKUP",
            RouterState::Master => "MASTER",
            RouterState::Fault => "FAULT",
            RouterState::Stop => "STOP",
            RouterState::Down => "down",
        }
    }
}

/// `(when, state)` from a daemon's log line `<UTC time>  INFO (VI_1) Entering MASTER
/// STATE` (also `... BACKUP STATE (init)`).
pub fn parse_state_line(line: &str) -> Option<(Duration, RouterState)> {
    let ts = parse_utc(line.split_whitespace().next()?)?;
    let (_, rest) = line.split_once(") Entering ")?;
    let state = match rest.split_whitespace().next()? {
        "MASTER" => RouterState::Master,
        "BACKUP" => RouterState::Backup,
        "FAULT" => RouterState::Fault,
        "STOP" => RouterState::Stop,
        _ => return None,
    };
    Some((ts, state))
}

/// `(when, added)` from a line of `TZ=UTC ip -ts monitor address` about `vip`:
/// `[2026-11-22T00:16:30.558343] 2: eth0    inet 10.51.0.100/24 scope global secondary eth0`,
/// with `Deleted ` before the index when it is removed.
pub fn parse_addr_event(line: &str, vip: Ipv4Addr) -> Option<(Duration, bool)> {
    let (ts, rest) = line.strip_prefix('[')?.split_once(']')?;
    let ts = parse_utc(ts)?;
    let rest = rest.trim_start();
    let (added, rest) = match rest.strip_prefix("Deleted ") {
        Some(r) => (false, r),
        None => (true, rest),
    };
    let mut words = rest.split_whitespace();
    words.find(|w| *w == "inet")?;
    let addr = words.next()?;
    let ip = addr.split('/').next()?;
    (ip.parse::<Ipv4Addr>().ok()? == vip).then_some((ts, added))
}

/// The complete lines of a growing file from byte `offset` on; moves `offset` past
/// them (a line still being written is left for the next call).
fn new_lines(path: &Path, offset: &mut usize) -> Vec<String> {
    let Ok(bytes) = std::fs::read(path) else {
        return vec![];
    };
    let Some(fresh) = bytes.get(*offset..) else {
        return vec![];
    };
    let Some(end) = fresh.iter().rposition(|&b| b == b'\n') else {
        return vec![];
    };
    *offset += end + 1;
    String::from_utf8_lossy(&fresh[..end])
        .lines()
        .map(str::to_owned)
        .collect()
}

/// A daemon log's state changes, each line once.
fn log_lines_matching(path: &Path, needle: &str) -> Option<Duration> {
    let text = std::fs::read_to_string(path).ok()?;
    text.lines()
        .find(|l| l.contains(needle))
        .and_then(|l| parse_utc(l.split_whitespace().next()?))
}

// ---------------------------------------------------------------------------------
// Output.

/// One live state line: `t=+3.61s  r1 MASTER  r2 BACKUP  r3 BACKUP`.
pub fn format_states(t: f64, states: &[(&str, RouterState)]) -> String {
    let cols: Vec<String> = states
        .iter()
        .map(|(name, s)| format!("{name} {:<6}", s.label()))
        .collect();
    format!("{:<9}  {}", format!("t={t:+.2}s"), cols.join("  "))
        .trim_end()
        .to_owned()
}

/// A signed instant in seconds, three decimals: `+3.119 s`, `-0.412 s`.
pub fn format_rel(secs: f64) -> String {
    format!("{secs:+.3} s")
}

/// The takeover, as measured: every instant is wall-clock time, `None` when it was
/// not seen.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Takeover {
    /// SIGKILL sent to the old master's daemon.
    pub kill: Duration,
    /// Its switch port is down (when `ip link set ... down` returned).
    pub unplugged: Option<Duration>,
    /// r1's last advert (capture on the client).
    pub last_advert_old: Option<Duration>,
    /// The new master's log says `Entering MASTER STATE`.
    pub master_log: Option<Duration>,
    /// Its first advert (capture).
    pub first_advert_new: Option<Duration>,
    /// The VIP appears on it (`ip monitor`).
    pub vip_added: Option<Duration>,
    /// Its first gratuitous ARP for the VIP (capture).
    pub garp: Option<Duration>,
    /// What the client's pings saw around the kill.
    pub gap: Option<Gap>,
    /// The new master's name and priority.
    pub new_master: (&'static str, u8),
}

impl Takeover {
    /// The timeline table, the client's outage and the comparison with the
    /// Master_Down_Interval.
    pub fn render(&self) -> String {
        let (who, prio) = self.new_master;
        let at = |t: Option<Duration>| match t {
            Some(t) => format_rel(rel(t, self.kill)),
            None => "   (not seen)".into(),
        };
        let rows: Vec<(String, String, &str)> = vec![
            (
                at(self.last_advert_old),
                "last advert from r1".into(),
                "capture",
            ),
            (format_rel(0.0), "r1's keepup killed (SIGKILL)".into(), ""),
            (
                at(self.unplugged),
                "r1 unplugged (its switch port down)".into(),
                "",
            ),
            (
                at(self.master_log),
                format!("{who}: (VI_1) Entering MASTER STATE"),
                "its log",
            ),
            (
                at(self.first_advert_new),
                format!("first advert from {who}, priority {prio}"),
                "capture",
            ),
            (
                at(self.vip_added),
                format!("{VIP} added on {who}"),
                "ip monitor",
            ),
            (
                at(self.garp),
                format!("gratuitous ARP for {VIP} from {who}"),
                "capture",
            ),
            (
                at(self.gap.map(|g| g.after)),
                "client gets an echo reply again".into(),
                "ping",
            ),
        ];
        let mut rows = rows;
        // In time order; rows not seen go last.
        rows.sort_by(|a, b| {
            let key = |s: &str| s.trim().trim_end_matches(" s").parse::<f64>().ok();
            match (key(&a.0), key(&b.0)) {
                (Some(x), Some(y)) => x.total_cmp(&y),
                (Some(_), None) => std::cmp::Ordering::Less,
                (None, Some(_)) => std::cmp::Ordering::Greater,
                (None, None) => std::cmp::Ordering::Equal,
            }
        });
        let width = rows.iter().map(|r| r.1.chars().count()).max().unwrap_or(0);
        let mut out = String::from("   since the kill  event\n");
        for (t, what, source) in &rows {
            let source = if source.is_empty() {
                String::new()
            } else {
                format!("({source})")
            };
            let line = format!("   {t:>14}  {what:<width$}  {source}");
            out.push_str(line.trim_end());
            out.push('\n');
        }
        out.push('\n');
        match self.gap {
            Some(g) => out.push_str(&format!(
                "   client outage: {:.2} s (last reply {}, next {}; {} echoes lost)\n",
                g.secs(),
                format_rel(rel(g.before, self.kill)),
                format_rel(rel(g.after, self.kill)),
                g.lost,
            )),
            None => out.push_str("   client outage: not measured (too few replies)\n"),
        }
        let mdi = master_down_interval(prio, ADVERT_INT);
        match (self.last_advert_old, self.first_advert_new) {
            (Some(last), Some(first)) => out.push_str(&format!(
                "   {who} took over {:.3} s after r1's last advert; expected Master_Down_Interval\n   \
                 = 3 × {ADVERT_INT} s + (256 − {prio})/256 s = {mdi:.3} s\n",
                rel(first, last),
            )),
            _ => out.push_str(&format!(
                "   expected: {who} takes over one Master_Down_Interval after r1's last advert,\n   \
                 3 × {ADVERT_INT} s + (256 − {prio})/256 s = {mdi:.3} s\n"
            )),
        }
        out
    }
}

/// The header: the lab, the configuration, where the files are.
pub fn header(dir: &Path) -> String {
    let mut out =
        String::from("keepup demo: VRRP failover in a throwaway lab of network namespaces\n\n");
    for (i, (name, prio, addr)) in ROUTERS.iter().enumerate() {
        let wire = match i {
            0 => "─┐",
            1 => "─┼─ bridge ─ client 10.51.0.10",
            _ => "─┘",
        };
        out.push_str(&format!(
            "   {name} {:<11} priority {prio} {wire}\n",
            addr.to_string()
        ));
    }
    out.push_str(&format!(
        "\n   one keepalived.conf for all three (@r1/@r2/@r3 lines): VRID {VRID}, VIP {VIP}/24,\n   \
         advert_int {ADVERT_INT}; each router runs `keepup run -i rN`.\n   \
         files: {} (KEEPUP_KEEP_LAB=1 keeps them)\n",
        dir.display()
    ));
    out
}

// ---------------------------------------------------------------------------------
// The live view of the routers' states.

struct Follow {
    name: &'static str,
    log: PathBuf,
    offset: usize,
    state: RouterState,
}

/// Follows the daemons' logs and prints a state line per change. Changes less than
/// [`Live::COALESCE`] apart are one line (r1 becoming Master and r2 answering with
/// Backup a millisecond later read as one event).
struct Live {
    t0: Duration,
    routers: Vec<Follow>,
    /// Changes read but not printed yet: (when, router, state).
    pending: Vec<(Duration, usize, RouterState)>,
    /// When the oldest pending change was read.
    pending_since: Option<Instant>,
}

impl Live {
    const COALESCE: Duration = Duration::from_millis(50);
    /// How long a change waits for the logs of the others before it is printed.
    const HOLD: Duration = Duration::from_millis(120);

    fn new(t0: Duration) -> Live {
        Live {
            t0,
            routers: vec![],
            pending: vec![],
            pending_since: None,
        }
    }

    fn add(&mut self, name: &'static str, log: PathBuf) {
        self.routers.push(Follow {
            name,
            log,
            offset: 0,
            state: RouterState::Starting,
        });
    }

    /// Follow a new log for router `i` (its daemon was restarted).
    fn follow(&mut self, i: usize, log: PathBuf) {
        if let Some(r) = self.routers.get_mut(i) {
            r.log = log;
            r.offset = 0;
        }
    }

    /// A change the logs cannot tell (the demo killed a daemon).
    fn inject(&mut self, at: Duration, i: usize, state: RouterState) {
        self.pending.push((at, i, state));
        self.pending_since.get_or_insert_with(Instant::now);
    }

    fn state(&self, i: usize) -> RouterState {
        self.routers
            .get(i)
            .map_or(RouterState::Starting, |r| r.state)
    }

    /// Read new log lines; print what has waited long enough.
    fn poll(&mut self) {
        for i in 0..self.routers.len() {
            let r = &mut self.routers[i];
            let lines = new_lines(&r.log, &mut r.offset);
            for l in lines {
                if let Some((ts, s)) = parse_state_line(&l) {
                    self.pending.push((ts, i, s));
                    self.pending_since.get_or_insert_with(Instant::now);
                }
            }
        }
        if self
            .pending_since
            .is_some_and(|since| since.elapsed() >= Self::HOLD)
        {
            self.flush();
        }
    }

    /// Print every pending change now.
    fn flush(&mut self) {
        let mut pending = std::mem::take(&mut self.pending);
        self.pending_since = None;
        pending.sort_by_key(|(ts, _, _)| *ts);
        let mut batch_start: Option<Duration> = None;
        for (k, (ts, i, s)) in pending.iter().enumerate() {
            let start = *batch_start.get_or_insert(*ts);
            if let Some(r) = self.routers.get_mut(*i) {
                r.state = *s;
            }
            let next_far = pending
                .get(k + 1)
                .is_none_or(|(next, _, _)| *next - start > Self::COALESCE);
            if next_far {
                let states: Vec<(&str, RouterState)> =
                    self.routers.iter().map(|r| (r.name, r.state)).collect();
                println!("   {}", format_states(rel(start, self.t0), &states));
                batch_start = None;
            }
        }
    }
}

// ---------------------------------------------------------------------------------
// The demo.

struct Router {
    name: &'static str,
    priority: u8,
    host: Host,
    conf: PathBuf,
    runtime: PathBuf,
    /// `TZ=UTC ip -ts monitor address` in the router's namespace.
    addr_log: PathBuf,
    daemon: Option<Proc>,
    _monitor: Proc,
}

struct Demo {
    interrupted: Arc<AtomicBool>,
    exe: PathBuf,
    live: Live,
    routers: Vec<Router>,
    probe: Option<Probe>,
    capture: Option<Capture>,
    client: Host,
    lan: Lan,
    /// Last, so it is dropped last: it ends what is left and deletes the namespaces.
    lab: Lab,
}

impl Demo {
    /// Poll `cond` every 10 ms (following the logs meanwhile) until it holds;
    /// an error naming `what` after `timeout`, or on Ctrl-C.
    fn wait(
        &mut self,
        timeout: Duration,
        what: &str,
        mut cond: impl FnMut(&Demo) -> bool,
    ) -> Result<()> {
        let start = Instant::now();
        loop {
            self.live.poll();
            if self.interrupted.load(Ordering::SeqCst) {
                return Err(Interrupted.into());
            }
            if cond(self) {
                return Ok(());
            }
            if start.elapsed() >= timeout {
                let logs: Vec<String> = self
                    .routers
                    .iter()
                    .filter_map(|r| {
                        let d = r.daemon.as_ref()?;
                        Some(format!(
                            "--- {} ({})\n{}",
                            r.name,
                            d.log_path().display(),
                            tail(&d.log(), 8)
                        ))
                    })
                    .collect();
                bail!(
                    "timed out after {timeout:?} waiting for {what}\n{}",
                    logs.join("\n")
                );
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Follow the logs for `d` (the live view keeps printing).
    fn pause(&mut self, d: Duration) -> Result<()> {
        let end = Instant::now() + d;
        self.wait(d + Duration::from_secs(1), "a pause", |_| {
            Instant::now() >= end
        })
    }

    fn start_daemon(&mut self, i: usize, tag: &str) -> Result<PathBuf> {
        let r = &self.routers[i];
        let log = self.lab.file(&format!("{}-{tag}.log", r.name));
        let exe = self.exe.to_string_lossy().into_owned();
        let args = [
            "KEEPUP_LOG=info".to_owned(),
            exe,
            "run".into(),
            "-f".into(),
            r.conf.display().to_string(),
            "-i".into(),
            r.name.into(),
            "--runtime-dir".into(),
            r.runtime.display().to_string(),
        ];
        let p = r.host.spawn("env", &args, &log)?;
        self.routers[i].daemon = Some(p);
        Ok(log)
    }

    fn states_are(&self, want: [RouterState; 3]) -> bool {
        (0..3).all(|i| self.live.state(i) == want[i])
    }
}

fn tail(s: &str, n: usize) -> String {
    let lines: Vec<&str> = s.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

fn demo(exe: &Path, interrupted: Arc<AtomicBool>) -> Result<()> {
    use RouterState::{Backup, Down, Master};
    let lab = Lab::new("demo")?;
    let lan = lab.bridge()?;
    let conf = lab.file("keepalived.conf");
    std::fs::write(&conf, CONF).with_context(|| format!("write {}", conf.display()))?;
    let mut routers = Vec::new();
    for (name, priority, addr) in ROUTERS {
        let host = lab.host(name, &lan, addr, None)?;
        let addr_log = lab.file(&format!("{name}-addr.log"));
        let monitor = host.spawn(
            "env",
            &["TZ=UTC", "ip", "-ts", "monitor", "address"],
            &addr_log,
        )?;
        routers.push(Router {
            name,
            priority,
            conf: conf.clone(),
            runtime: lab.dir().join(format!("{name}-run")),
            addr_log,
            host,
            daemon: None,
            _monitor: monitor,
        });
    }
    let client = lab.host("client", &lan, CLIENT, None)?;
    print!("{}", header(lab.dir()));

    let t0 = now();
    let mut d = Demo {
        interrupted,
        exe: exe.to_owned(),
        live: Live::new(t0),
        routers,
        probe: None,
        capture: None,
        client,
        lan,
        lab,
    };
    println!(
        "\n1. election: all three start as Backup; after its Master_Down_Interval ({:.3} s)\n   \
         the highest priority, r1, becomes Master",
        master_down_interval(ROUTERS[0].1, ADVERT_INT)
    );
    for (i, (name, _, _)) in ROUTERS.iter().enumerate() {
        let log = d.start_daemon(i, "a")?;
        d.live.add(name, log);
    }
    d.wait(Duration::from_secs(10), "r1 to become Master", |d| {
        d.states_are([Master, Backup, Backup])
    })?;
    d.wait(Duration::from_secs(3), "the VIP on r1", |d| {
        d.routers[0]
            .host
            .has_address(IpAddr::V4(VIP))
            .unwrap_or(false)
    })?;
    d.capture = Some(d.client.capture("eth0", "ip proto 112 or arp")?);
    d.probe = Some(d.client.probe(VIP, PROBE_EVERY)?);
    let since = now();
    d.wait(Duration::from_secs(3), "a ping reply from the VIP", |d| {
        d.probe.as_ref().is_some_and(|p| p.replied_after(since))
    })?;
    println!(
        "   client: pings {VIP} every {} ms; tcpdump on its eth0 for VRRP and ARP",
        PROBE_EVERY.as_millis()
    );
    d.pause(Duration::from_millis(1500))?;

    // 2. The crash.
    let kill = now();
    if let Some(p) = &d.routers[0].daemon {
        p.kill(Signal::SIGKILL)?;
    }
    d.lan.port_down(&d.routers[0].host)?;
    let unplugged = now();
    d.live.inject(kill, 0, Down);
    println!(
        "\n2. crash at t={:+.2}s: SIGKILL to r1's keepup, and r1's cable pulled (a killed daemon\n   \
         leaves its VIP behind; r1's kernel would go on answering for it)",
        rel(kill, t0)
    );
    d.wait(Duration::from_secs(8), "r2 to take over", |d| {
        d.live.state(1) == Master
    })?;
    d.wait(
        Duration::from_secs(5),
        "the client to reach the VIP again",
        |d| d.probe.as_ref().is_some_and(|p| p.replied_after(kill)),
    )?;
    d.pause(Duration::from_millis(500))?;
    d.live.flush();
    let takeover = measure_takeover(&d, kill, unplugged)?;
    println!("\n{}", takeover.render());

    // 3. r1 comes back.
    d.lan.port_up(&d.routers[0].host)?;
    d.wait(Duration::from_secs(3), "r1's carrier", |d| {
        d.routers[0].host.carrier("eth0").unwrap_or(false)
    })?;
    let restart = now();
    println!(
        "3. r1 back at t={:+.2}s: cable in, keepup restarted; it removes the VIP its killed\n   \
         daemon left behind, then preempts r2 (priority 150 > 120) after its own\n   \
         Master_Down_Interval ({:.3} s)",
        rel(restart, t0),
        master_down_interval(ROUTERS[0].1, ADVERT_INT)
    );
    let log = d.start_daemon(0, "b")?;
    d.live.follow(0, log.clone());
    d.wait(Duration::from_secs(8), "r1 to preempt", |d| {
        d.states_are([Master, Backup, Backup])
    })?;
    d.pause(Duration::from_millis(300))?;
    d.live.flush();
    let stale = log_lines_matching(&log, "removed stale address");
    let mastered = log_lines_matching(&log, "Entering MASTER STATE");
    let echoes = d.probe.as_ref().map(Probe::echoes).unwrap_or_default();
    let gap = longest_gap(&echoes, restart, now());
    println!(
        "{}",
        render_preemption(rel_opt(stale, restart), rel_opt(mastered, restart), gap)
    );

    // 4. Stop.
    d.probe = None;
    d.capture = None;
    let mut codes = Vec::new();
    for r in &d.routers {
        if let Some(p) = &r.daemon {
            p.kill(Signal::SIGTERM)?;
        }
    }
    for r in &d.routers {
        let code = r
            .daemon
            .as_ref()
            .and_then(|p| p.wait_timeout(Duration::from_secs(5)))
            .and_then(|s| s.code());
        codes.push((r.name, code));
    }
    let all_ok = codes.iter().all(|(_, c)| *c == Some(0));
    println!(
        "4. stop: SIGTERM to every keepup: {}",
        if all_ok {
            "each resigned (priority 0 advert), removed its\n   VIP and exited 0".to_owned()
        } else {
            let c: Vec<String> = codes
                .iter()
                .map(|(n, c)| {
                    format!(
                        "{n} {}",
                        c.map_or("no exit".into(), |c| format!("exit {c}"))
                    )
                })
                .collect();
            c.join(", ")
        }
    );
    drop(d);
    println!("   lab removed");
    if !all_ok {
        bail!("a daemon did not stop cleanly");
    }
    Ok(())
}

fn rel_opt(t: Option<Duration>, zero: Duration) -> Option<f64> {
    t.map(|t| rel(t, zero))
}

/// What phase 3 prints under the state lines.
pub fn render_preemption(stale: Option<f64>, master: Option<f64>, gap: Option<Gap>) -> String {
    let mut out = String::new();
    if let Some(s) = stale {
        out.push_str(&format!(
            "   r1 removed the stale {VIP} {s:.3} s after its start, before its first advert\n"
        ));
    }
    match master {
        Some(m) => out.push_str(&format!(
            "   r1 preempted r2 {m:.3} s after its start (Master_Down_Interval {:.3} s)\n",
            master_down_interval(ROUTERS[0].1, ADVERT_INT)
        )),
        None => out.push_str("   r1 did not log Entering MASTER STATE\n"),
    }
    if let Some(g) = gap {
        out.push_str(&format!(
            "   client meanwhile: {} echoes lost, longest gap between replies {:.3} s\n",
            g.lost,
            g.secs()
        ));
    }
    out
}

/// The takeover's instants from the capture, the new master's log and `ip monitor`,
/// and the probe.
fn measure_takeover(d: &Demo, kill: Duration, unplugged: Duration) -> Result<Takeover> {
    let old = &d.routers[0];
    let new = &d.routers[1];
    let packets = d
        .capture
        .as_ref()
        .map(Capture::packets)
        .transpose()?
        .unwrap_or_default();
    let adverts = lab::vrrp_adverts(&packets);
    let from = |r: &Router| IpAddr::V4(r.host.ifaces()[0].ipv4);
    let last_advert_old = adverts
        .iter()
        .filter(|a| a.src == from(old) && a.repr.vrid == VRID)
        .map(|a| a.ts)
        .next_back();
    let first_advert_new = adverts
        .iter()
        .find(|a| a.src == from(new) && a.repr.vrid == VRID && a.ts > kill)
        .map(|a| a.ts);
    let new_mac: MacAddr = new.host.ifaces()[0].mac;
    let garp = packets
        .iter()
        .filter(|p| p.ts > kill)
        .find(|p| {
            keepup_wire::arp::Repr::parse(&p.data)
                .is_ok_and(|a| a.sender_ip == VIP && a.target_ip == VIP && a.sender_mac == new_mac)
        })
        .map(|p| p.ts);
    let master_log = new
        .daemon
        .as_ref()
        .and_then(|p| {
            p.log()
                .lines()
                .filter_map(parse_state_line)
                .find(|(ts, s)| *ts > kill && *s == RouterState::Master)
        })
        .map(|(ts, _)| ts);
    let vip_added = std::fs::read_to_string(&new.addr_log)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| parse_addr_event(l, VIP))
        .find(|(ts, added)| *added && *ts > kill)
        .map(|(ts, _)| ts);
    let echoes = d.probe.as_ref().map(Probe::echoes).unwrap_or_default();
    let gap = longest_gap(&echoes, kill - Duration::from_secs(1), now());
    Ok(Takeover {
        kill,
        unplugged: Some(unplugged),
        last_advert_old,
        master_log,
        first_advert_new,
        vip_added,
        garp,
        gap,
        new_master: (new.name, new.priority),
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn at(s: f64) -> Duration {
        Duration::from_secs(1_800_000_000) + Duration::from_secs_f64(s)
    }

    #[test]
    fn master_down_interval_of_the_demo_routers() {
        assert!((master_down_interval(150, 1) - 3.414_062_5).abs() < 1e-9);
        assert!((master_down_interval(120, 1) - 3.531_25).abs() < 1e-9);
        assert!((master_down_interval(100, 1) - 3.609_375).abs() < 1e-9);
    }

    #[test]
    fn parses_log_and_monitor_timestamps_as_utc() {
        // date -u -d 2026-11-22T00:17:07 +%s
        let t = parse_utc("2026-11-22T00:17:07.842274Z").unwrap();
        assert_eq!(t, Duration::new(1_795_306_627, 842_274_000));
        assert_eq!(parse_utc("[2026-11-22T00:17:07.842274]"), Some(t));
        assert_eq!(parse_utc("1970-01-01T00:00:00Z"), Some(Duration::ZERO));
        assert_eq!(
            parse_utc("2000-03-01T00:00:01.5Z"),
            Some(Duration::new(951_868_801, 500_000_000))
        );
        for bad in [
            "",
            "x",
            "2026-13-01T00:00:00Z",
            "2026-11-22 00:17:07",
            "2026-11-22T00:17:07.12a",
        ] {
            assert_eq!(parse_utc(bad), None, "{bad}");
        }
    }

    #[test]
    fn reads_state_changes_from_daemon_logs() {
        let l = "2026-11-22T00:17:03.803903Z  INFO (VI_1) Entering BACKUP STATE (init)";
        assert_eq!(
            parse_state_line(l),
            Some((
                parse_utc("2026-11-22T00:17:03.803903Z").unwrap(),
                RouterState::Backup
            ))
        );
        let l = "2026-11-22T00:17:07.842274Z  INFO (VI_1) Entering MASTER STATE";
        assert_eq!(parse_state_line(l).map(|x| x.1), Some(RouterState::Master));
        let l = "2026-11-22T00:17:07.849053Z  INFO (VI_1) Entering STOP STATE";
        assert_eq!(parse_state_line(l).map(|x| x.1), Some(RouterState::Stop));
        assert_eq!(
            parse_state_line("2026-11-22T00:17:07.848111Z  INFO Stopping"),
            None
        );
        assert_eq!(parse_state_line("configuration is clean: 0 fatal"), None);
    }

    #[test]
    fn reads_vip_changes_from_ip_monitor() {
        let add = "[2026-11-22T00:16:30.558343] 2: eth0    inet 10.51.0.100/24 scope global secondary eth0";
        let del = "[2026-11-22T00:16:30.762832] Deleted 2: eth0    inet 10.51.0.100/24 scope global secondary eth0";
        let other = "[2026-11-22T00:16:30.762832] 2: eth0    inet 10.51.0.2/24 scope global eth0";
        assert_eq!(
            parse_addr_event(add, VIP),
            Some((parse_utc("2026-11-22T00:16:30.558343").unwrap(), true))
        );
        assert_eq!(parse_addr_event(del, VIP).map(|x| x.1), Some(false));
        assert_eq!(parse_addr_event(other, VIP), None);
        assert_eq!(
            parse_addr_event("       valid_lft forever preferred_lft forever", VIP),
            None
        );
    }

    #[test]
    fn new_lines_leaves_a_line_being_written() {
        let dir = std::env::temp_dir().join(format!("keepup-demo-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let f = dir.join("log");
        std::fs::write(&f, "one\ntwo\nthr").unwrap();
        let mut off = 0;
        assert_eq!(new_lines(&f, &mut off), ["one", "two"]);
        assert_eq!(new_lines(&f, &mut off), Vec::<String>::new());
        std::fs::write(&f, "one\ntwo\nthree\n").unwrap();
        assert_eq!(new_lines(&f, &mut off), ["three"]);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn formats_a_state_line() {
        use RouterState::*;
        assert_eq!(
            format_states(3.614, &[("r1", Master), ("r2", Backup), ("r3", Backup)]),
            "t=+3.61s   r1 MASTER  r2 BACKUP  r3 BACKUP"
        );
        assert_eq!(
            format_states(12.0, &[("r1", Down), ("r2", Master), ("r3", Starting)]),
            "t=+12.00s  r1 down    r2 MASTER  r3 -"
        );
    }

    #[test]
    fn the_longest_gap_between_replies() {
        // Echoes every 10 ms from t=0; replies 1 ms later, except 30..=80 (lost).
        let echoes: Vec<Echo> = (0..120u16)
            .map(|i| Echo {
                seq: i,
                sent: at(f64::from(i) * 0.01),
                reply: (!(30..=80).contains(&i)).then(|| at(f64::from(i) * 0.01 + 0.001)),
            })
            .collect();
        let g = longest_gap(&echoes, at(0.0), at(2.0)).unwrap();
        assert_eq!(g.lost, 51);
        assert_eq!(g.sent, 52, "51 lost and the one whose reply ends the gap");
        assert!((g.secs() - 0.52).abs() < 1e-6, "{}", g.secs());
        assert!((rel(g.before, at(0.0)) - 0.291).abs() < 1e-6);
        assert_eq!(longest_gap(&echoes[..1], at(0.0), at(2.0)), None);
    }

    #[test]
    fn renders_the_takeover_timeline() {
        let kill = at(10.0);
        let t = Takeover {
            kill,
            unplugged: Some(at(10.004)),
            last_advert_old: Some(at(9.588)),
            master_log: Some(at(13.1193)),
            first_advert_new: Some(at(13.1204)),
            vip_added: Some(at(13.1201)),
            garp: Some(at(13.1210)),
            gap: Some(Gap {
                before: at(9.596),
                after: at(13.128),
                lost: 352,
                sent: 353,
            }),
            new_master: ("r2", 120),
        };
        let want = "   since the kill  event
         -0.412 s  last advert from r1                     (capture)
         +0.000 s  r1's keepup killed (SIGKILL)
         +0.004 s  r1 unplugged (its switch port down)
         +3.119 s  r2: (VI_1) Entering MASTER STATE        (its log)
         +3.120 s  first advert from r2, priority 120      (capture)
         +3.120 s  10.51.0.100 added on r2                 (ip monitor)
         +3.121 s  gratuitous ARP for 10.51.0.100 from r2  (capture)
         +3.128 s  client gets an echo reply again         (ping)

   client outage: 3.53 s (last reply -0.404 s, next +3.128 s; 352 echoes lost)
   r2 took over 3.532 s after r1's last advert; expected Master_Down_Interval
   = 3 × 1 s + (256 − 120)/256 s = 3.531 s
";
        assert_eq!(t.render(), want);
        let unseen = Takeover {
            kill,
            new_master: ("r2", 120),
            ..Takeover::default()
        };
        let r = unseen.render();
        assert!(r.contains("(not seen)"), "{r}");
        assert!(r.contains("client outage: not measured"), "{r}");
        assert!(r.contains("= 3.531 s"), "{r}");
    }

    #[test]
    fn renders_the_preemption() {
        let g = Gap {
            before: at(1.0),
            after: at(1.02),
            lost: 1,
            sent: 2,
        };
        let r = render_preemption(Some(0.0123), Some(3.4321), Some(g));
        assert_eq!(
            r,
            "   r1 removed the stale 10.51.0.100 0.012 s after its start, before its first advert
   r1 preempted r2 3.432 s after its start (Master_Down_Interval 3.414 s)
   client meanwhile: 1 echoes lost, longest gap between replies 0.020 s
"
        );
    }

    #[test]
    fn header_and_root_message_say_what_they_need() {
        let h = header(Path::new("/tmp/keepup-lab-x"));
        assert!(h.contains("r1 10.51.0.1"), "{h}");
        assert!(h.contains("priority 150"), "{h}");
        assert!(h.contains("/tmp/keepup-lab-x"), "{h}");
        assert!(NEEDS_ROOT.contains("network namespaces"));
        assert!(NEEDS_ROOT.contains("raw"));
        assert!(NEEDS_ROOT.contains("sudo keepup demo"));
    }

    #[test]
    fn the_embedded_config_is_clean_for_each_router() {
        for (name, prio, _) in ROUTERS {
            let mut opts = keepup_config::LoadOptions::for_this_host();
            opts.preprocess.config_id = name.into();
            opts.interfaces = None;
            let loaded = keepup_config::load_str("demo.conf", CONF, &opts);
            assert_eq!(
                loaded.verdict(),
                keepup_config::Verdict::Clean,
                "{name}: {}",
                loaded.render()
            );
            let vi = &loaded.config.vrrp_instances[0];
            assert_eq!(vi.priority, prio, "{name}");
            assert_eq!(vi.virtual_router_id, Some(VRID));
        }
    }
}
