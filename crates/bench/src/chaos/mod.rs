//! `keepup-bench chaos`: a soak of random faults on a mixed cluster.
//!
//! Four routers on one bridge, r1 (priority 200), r2 (120) and r4 (100) running keepup
//! and r3 (150) keepalived 2.2.7, all on the same keepalived.conf (keepalived is next
//! in line, so most takeovers and preemptions cross the two daemons): a VRRPv2 IPv4
//! instance (VRID 51) and a VRRPv3 IPv6 one (VRID 52), advert_int 1, both tracking a
//! script (weight -90). A client pings the IPv4 VIP every 10 ms. Faults come one
//! episode at a time at seeded random times (sometimes two overlapping on two routers),
//! each healed after a random while; samplers look at every router's addresses and
//! the client's ARP table every 10 ms ([`watch`]); after each heal the invariants are
//! checked ([`check`]), and at the end the logs (panics), RSS and the stopped daemons'
//! VIPs. It prints a timeline and a verdict, and exits 1 on a violation.
//!
//! What is checked, exactly (see `verdict_rules` for the printed form):
//! - After each episode's last heal at H (a restart's heal ends when the daemon has
//!   entered its first state) plus the fault's settle time S (tracked script 1.5 s,
//!   reloads and signals 1 s), exactly one router holds each VIP from some instant
//!   T <= H + S + B on, through the check at H + S + B + 1.5 s, where
//!   B = 4 x advert_int + 0.2 s: Master_Down_Interval = 3 x advert_int + Skew_Time
//!   (TMR-03) is below 4 x advert_int at any priority, and 0.2 s covers the 10 ms
//!   sampling and the takeover's own work. That router's daemon is running.
//! - The client's ARP entry for the IPv4 VIP names the holder's MAC 1 s after T, and
//!   an echo sent after T is answered.
//! - No VIP on a router whose daemon exited on SIGTERM, at any sample after the exit.
//! - SIGKILL: the kernel keeps the VIPs (measured: the stale window); the restarted
//!   daemon has removed them when it has entered its first state (+0.5 s).
//! - SIGSTOP: a frozen Master keeps its VIPs while another takes over (measured); on
//!   SIGCONT the cluster settles as above.
//! - Split brain: when a firewall fault leaves two running Masters that do not both
//!   hear each other for 3 x advert_int + 1.5 s, the one that hears a lower-priority
//!   rival names it in its log (keepup: `split brain: ... also claims VRID n`);
//!   keepalived 2.2.7 names none, which is reported as keepalived's.
//! - No daemon exits that the soak did not stop; no `panicked` in any log; the RSS of
//!   the keepup that is never stopped (r4) is flat: the median of its last minute
//!   within 10 % (at most 1 MiB) of its first minute's.
use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{bail, Context, Result};
use clap::Args;
use keepup_testkit::lab::{self, Lab, Proc};
use keepup_testkit::SplitMix64;

use crate::{interrupted, now_ns, secs_between, Ns};

pub mod check;
pub mod delay;
pub mod fault;
pub mod router;
pub mod watch;

use fault::{Fault, Kind};
use router::{Flavor, Router, ADVERT_INT, INSTANCES};
use watch::{lock, ClientView, Life, Samplers};

#[derive(Args, Debug, Clone)]
pub struct ChaosArgs {
    /// How long to inject faults.
    #[arg(long, default_value_t = 10.0)]
    pub minutes: f64,
    /// Seconds instead of minutes (the test suite's short form).
    #[arg(long)]
    pub seconds: Option<u64>,
    /// The seed of the fault schedule (kinds, routers, times, durations).
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// The keepup binary (default: `keepup` next to this program).
    #[arg(long)]
    pub keepup: Option<PathBuf>,
    /// Instead of a time: this many rounds, each every fault kind once in a seeded
    /// order (plus the overlapping ones).
    #[arg(long)]
    pub rounds: Option<u32>,
    /// The test suite's pace: shorter faults (the firewall ones still long enough for
    /// a split brain to be named), shorter gaps, more overlaps.
    #[arg(long)]
    pub quick: bool,
    /// Also write the timeline and verdict to this file.
    #[arg(long)]
    pub out: Option<PathBuf>,
}

/// B: Master_Down_Interval < 4 x advert_int, plus 0.2 s.
const BOUND_MS: u64 = (4.0 * ADVERT_INT * 1000.0) as u64 + 200;
/// How long the single holder must last past the bound.
const HOLD_MS: u64 = 1500;
const IP4: Ipv4Addr = Ipv4Addr::new(10, 61, 0, 100);

struct Report {
    start: Ns,
    lines: Vec<String>,
}

impl Report {
    fn say(&mut self, line: String) {
        println!("{line}");
        self.lines.push(line);
    }
    fn at(&mut self, t: Ns, what: String) {
        let line = format!("t=+{:7.2}s  {what}", secs_between(self.start, t));
        self.say(line);
    }
}

#[derive(Debug, Clone)]
struct Violation {
    at: Ns,
    what: String,
    /// Whose behaviour: keepalived's findings are reported, not counted against keepup.
    keepalived: bool,
}

/// An episode's window for the late-advert analysis.
#[derive(Debug, Clone)]
struct Window {
    from: Ns,
    to: Ns,
    faulted: Vec<usize>,
}

pub fn run(args: ChaosArgs) -> Result<ExitCode> {
    if !lab::is_root() {
        eprintln!(
            "keepup-bench chaos needs root: it builds network namespaces (sudo scripts/chaos)"
        );
        return Ok(ExitCode::from(1));
    }
    let bench = std::env::current_exe().context("cannot find this program")?;
    let keepup = args
        .keepup
        .clone()
        .unwrap_or_else(|| bench.with_file_name("keepup"));
    if !keepup.is_file() {
        bail!(
            "no keepup binary at {} (cargo build --release -p keepup, or --keepup PATH)",
            keepup.display()
        );
    }
    let keepup = keepup.canonicalize().unwrap_or(keepup);
    let ka_version = crate::version_of("keepalived", &["--version"])
        .context("keepalived is not installed (apt-get install keepalived)")?;
    let ku_version = crate::version_of(&keepup.display().to_string(), &["--version"])?;
    let json = crate::version_of(&keepup.display().to_string(), &["--signum=JSON"])?;
    if json.parse::<u32>().is_ok() {
        let _ = fault::JSON_SIGNAL.set(json);
    }
    crate::watch_signals()?;
    let span_ms = args
        .seconds
        .map_or((args.minutes * 60_000.0) as u64, |s| s * 1000);

    let lab = Lab::new("chaos")?;
    let lan = lab.bridge()?;
    let mut routers: Vec<Router> = Vec::new();
    for (n, flavor, prio) in [
        (1u8, Flavor::Keepup, 200u8),
        (2, Flavor::Keepup, 120),
        (3, Flavor::Keepalived, 150),
        (4, Flavor::Keepup, 100),
    ] {
        let host = lab.host(
            &format!("r{n}"),
            &lan,
            Ipv4Addr::new(10, 61, 0, n),
            Some(format!("fd00:61::{n}").parse()?),
        )?;
        routers.push(Router::new(
            &lab,
            host,
            flavor,
            prio,
            n == 4,
            keepup.clone(),
        )?);
    }
    let client = lab.host(
        "client",
        &lan,
        Ipv4Addr::new(10, 61, 0, 10),
        Some("fd00:61::10".parse()?),
    )?;
    let vips = router::vips();
    let mut samplers = Samplers::new();
    for r in &routers {
        samplers.router(r.host.ns(), vips.clone(), r.shared.clone())?;
    }
    let client_view = Arc::new(Mutex::new(ClientView::default()));
    samplers.client(client.ns(), IP4, client_view.clone())?;
    let capture = lan.capture("ip proto 112 or ip6 proto 112")?;
    let probe_out = client.lab_file("client-probe.echoes");
    let probe: Proc = client.spawn(
        &bench.display().to_string(),
        &[
            "probe".to_owned(),
            "--target".into(),
            IP4.to_string(),
            "--out".into(),
            probe_out.display().to_string(),
            "--every-us".into(),
            "10000".into(),
        ],
        client.lab_file("client-probe.log"),
    )?;
    probe.wait_for_log("probing", Duration::from_secs(5))?;

    let start = now_ns();
    let mut rep = Report {
        start,
        lines: vec![],
    };
    let length = match args.rounds {
        Some(n) => format!("{n} round(s) of every fault kind"),
        None => format!("{:.1} min of faults", span_ms as f64 / 60_000.0),
    };
    rep.say(format!(
        "chaos soak: seed {}, {length}; {ku_version}; {ka_version}",
        args.seed
    ));
    rep.say(format!(
        "lab {}: r1 keepup 200, r2 keepup 120, r3 keepalived 150, r4 keepup 100 (never stopped: \
         the memory witness); VRRPv2 VRID 51 {IP4}, VRRPv3 VRID 52 {}; advert_int {ADVERT_INT} s; \
         client pings {IP4} every 10 ms",
        lab.prefix(),
        vips[1]
    ));
    for r in &mut routers {
        r.start()?;
    }
    let mut violations: Vec<Violation> = Vec::new();
    let mut windows: Vec<Window> = Vec::new();
    let mut checks: u64 = 0;
    let mut injected: BTreeMap<Kind, u32> = BTreeMap::new();
    let mut figures: Vec<String> = Vec::new();

    // The first election: Master_Down_Interval after the starts.
    let first = now_ns();
    wait_ms(BOUND_MS + HOLD_MS)?;
    let views_now = |routers: &[Router]| -> Vec<watch::RouterView> {
        routers
            .iter()
            .map(|r| {
                let v = lock(&r.shared.view);
                watch::RouterView {
                    changes: v.changes.clone(),
                    ..Default::default()
                }
            })
            .collect()
    };
    {
        let vs = views_now(&routers);
        let v: Vec<&watch::RouterView> = vs.iter().collect();
        let (c, bad) = check_settled(&routers, &v, &client_view, &probe_out, first, 0, &mut rep);
        checks += c;
        violations.extend(bad);
    }

    let mut rng = SplitMix64::new(args.seed);
    let mut cycle: Vec<Kind> = Vec::new();
    let mut episode = 0u32;
    let end = start + span_ms * 1_000_000;
    let mut popped = 0usize;
    let more = |popped: usize| match args.rounds {
        Some(n) => popped < n as usize * fault::ALL.len(),
        None => now_ns() < end,
    };
    while more(popped) && !interrupted() {
        wait_ms(if args.quick {
            200 + rng.below_incl(600)
        } else {
            500 + rng.below_incl(2500)
        })?;
        if cycle.is_empty() {
            // Every kind once per round, in a seeded order.
            cycle = fault::ALL.to_vec();
            for k in (1..cycle.len()).rev() {
                let j = rng.below_incl(k as u64) as usize;
                cycle.swap(k, j);
            }
        }
        let Some(kind) = cycle.pop() else { continue };
        popped += 1;
        episode += 1;
        let target = pick(&routers, kind, None, &mut rng);
        let mut faults: Vec<Fault> = Vec::new();
        let f = do_inject(kind, &mut routers, target, &lan, &mut rng)?;
        rep.at(
            f.at,
            format!(
                "#{episode} {} {}{}",
                routers[target].name,
                kind.name(),
                detail(&f)
            ),
        );
        *injected.entry(kind).or_default() += 1;
        let dur = kind.duration_ms(&mut rng, args.quick);
        faults.push(f);
        // Sometimes a second fault on another router while the first lasts.
        if kind.overlaps() && rng.chance(if args.quick { 0.5 } else { 0.25 }) {
            wait_ms(dur / 2)?;
            let overlappable: Vec<Kind> = fault::ALL.into_iter().filter(|k| k.overlaps()).collect();
            let k2 = overlappable[rng.below_incl(overlappable.len() as u64 - 1) as usize];
            let t2 = pick(&routers, k2, Some(target), &mut rng);
            let f2 = do_inject(k2, &mut routers, t2, &lan, &mut rng)?;
            rep.at(
                f2.at,
                format!(
                    "#{episode} +overlap {} {}{}",
                    routers[t2].name,
                    k2.name(),
                    detail(&f2)
                ),
            );
            *injected.entry(k2).or_default() += 1;
            let d2 = k2.duration_ms(&mut rng, args.quick).min(dur);
            wait_ms(d2)?;
            faults.push(f2);
        } else {
            wait_ms(dur)?;
        }
        let mut healed_at = 0;
        for f in faults.iter_mut().rev() {
            let r = f.router;
            if f.kind == Kind::PortDown {
                lan.port_up(&routers[r].host)?;
            }
            healed_at = fault::heal(f, &mut routers)?;
            let extra = match (f.restarted, f.kind) {
                (Some(t), _) => format!(" (restarted, ready at +{:.2}s)", secs_between(f.at, t)),
                _ => String::new(),
            };
            rep.at(
                healed_at,
                format!("#{episode} {} healed{extra}", routers[r].name),
            );
        }
        let settle = faults.iter().map(|f| f.kind.settle_ms()).max().unwrap_or(0);
        wait_ms(settle + BOUND_MS + HOLD_MS)?;
        let vs = views_now(&routers);
        let v: Vec<&watch::RouterView> = vs.iter().collect();
        let (c, bad) = check_settled(
            &routers,
            &v,
            &client_view,
            &probe_out,
            healed_at,
            settle,
            &mut rep,
        );
        checks += c;
        let (c2, bad2, figs) = check_faults(&routers, &v, &faults);
        checks += c2;
        for b in bad.iter().chain(&bad2) {
            rep.at(
                b.at,
                format!(
                    "  VIOLATION{}: {}",
                    if b.keepalived { " (keepalived's)" } else { "" },
                    b.what
                ),
            );
        }
        for fg in &figs {
            rep.say(format!("             {fg}"));
        }
        figures.extend(figs.into_iter().map(|f| format!("#{episode} {f}")));
        windows.push(Window {
            from: faults.iter().map(|f| f.at).min().unwrap_or(healed_at),
            to: now_ns(),
            faulted: faults.iter().map(|f| f.router).collect(),
        });
        violations.extend(bad);
        violations.extend(bad2);
        // A daemon that the soak did not stop must still run.
        for r in routers.iter_mut() {
            checks += 1;
            if matches!(*lock(&r.shared.life), Life::Up(_)) && !r.is_running() {
                let at = now_ns();
                violations.push(Violation {
                    at,
                    what: format!(
                        "{} on {} exited without being stopped",
                        r.flavor.name(),
                        r.name
                    ),
                    keepalived: r.flavor == Flavor::Keepalived,
                });
                rep.at(
                    at,
                    format!(
                        "  VIOLATION: {} on {} exited; restarting it",
                        r.flavor.name(),
                        r.name
                    ),
                );
                *lock(&r.shared.life) = Life::Stopped(at);
                r.start()?;
            }
        }
    }
    let stopped_at = now_ns();
    if interrupted() {
        rep.say("interrupted: the lab is removed".into());
    }
    checks += samplers.checks.load(std::sync::atomic::Ordering::Relaxed);
    samplers.stop();
    let packets = capture.stop().unwrap_or_default();
    let adverts = keepup_testkit::lab::vrrp_adverts(&packets);

    // Global checks.
    for r in &routers {
        let v = lock(&r.shared.view);
        for &(t, i) in v.held_after_stop.iter().take(5) {
            violations.push(Violation {
                at: t,
                what: format!(
                    "{} held {} after its daemon exited on SIGTERM",
                    r.name, vips[i]
                ),
                keepalived: r.flavor == Flavor::Keepalived,
            });
        }
        let logs = r.all_logs();
        checks += 1;
        if let Some(l) = logs.lines().find(|l| l.contains("panicked")) {
            violations.push(Violation {
                at: stopped_at,
                what: format!("{} on {} panicked: {l}", r.flavor.name(), r.name),
                keepalived: false,
            });
        }
    }
    let mut memory = Vec::new();
    for r in routers.iter().filter(|r| r.flavor == Flavor::Keepup) {
        let v = lock(&r.shared.view);
        let mut by_pid: BTreeMap<u32, Vec<(Ns, u64)>> = BTreeMap::new();
        for &(t, pid, kib) in &v.rss {
            by_pid.entry(pid).or_default().push((t, kib));
        }
        let window: Ns = if span_ms >= 300_000 {
            60_000_000_000
        } else {
            15_000_000_000
        };
        for (pid, s) in &by_pid {
            if let Some((a, b)) = check::rss_ends(s, window) {
                let ok = check::flat(a, b);
                memory.push(format!(
                    "{} pid {pid}: RSS {a} KiB in its first {} s, {b} KiB in its last ({})",
                    r.name,
                    window / 1_000_000_000,
                    if ok { "flat" } else { "GROWING" }
                ));
                if r.witness {
                    checks += 1;
                    if !ok {
                        violations.push(Violation {
                            at: stopped_at,
                            what: format!("{}'s RSS grew from {a} to {b} KiB", r.name),
                            keepalived: false,
                        });
                    }
                }
            }
        }
    }

    // Late adverts beside each violation: a Master whose adverts came late while no
    // fault touched it was starved of CPU (the machine is shared), not wrong.
    let mut context = Vec::new();
    for v in &violations {
        let Some(w) = windows
            .iter()
            .find(|w| w.from <= v.at && v.at <= w.to + 1_000_000_000)
        else {
            continue;
        };
        let mut worst: Option<(f64, String)> = None;
        for (i, r) in routers.iter().enumerate() {
            if w.faulted.contains(&i) {
                continue;
            }
            let mut last: BTreeMap<u8, Ns> = BTreeMap::new();
            for a in adverts.iter().filter(|a| a.src_mac.0 == r.mac) {
                let t = a.ts.as_nanos() as Ns;
                if t < w.from || t > w.to {
                    continue;
                }
                if let Some(p) = last.insert(a.repr.vrid, t) {
                    let gap = secs_between(p, t);
                    if worst.as_ref().is_none_or(|x| gap > x.0) {
                        worst = Some((gap, format!("{} VRID {}", r.name, a.repr.vrid)));
                    }
                }
            }
        }
        if let Some((gap, who)) = worst {
            let late = gap > 1.5 * ADVERT_INT;
            context.push(format!(
                "  at +{:.2}s: longest gap between adverts of an unfaulted Master: {gap:.2} s ({who}){}",
                secs_between(start, v.at),
                if late { ": adverts late, CPU starvation likely" } else { "" }
            ));
        }
    }

    let ku: Vec<&Violation> = violations.iter().filter(|v| !v.keepalived).collect();
    let ka: Vec<&Violation> = violations.iter().filter(|v| v.keepalived).collect();
    let total: u32 = injected.values().sum();
    rep.say(String::new());
    rep.say(format!(
        "faults injected: {total} in {episode} episodes ({})",
        injected
            .iter()
            .map(|(k, n)| format!("{} {n}", k.name()))
            .collect::<Vec<_>>()
            .join(", ")
    ));
    rep.say(format!(
        "invariant checks made: {checks} (per 10 ms sample and VIP on each router, per episode, at the end)"
    ));
    for m in &memory {
        rep.say(format!("memory: {m}"));
    }
    for l in &context {
        rep.say(l.clone());
    }
    for v in &ka {
        rep.say(format!(
            "keepalived's: +{:.2}s {}",
            secs_between(start, v.at),
            v.what
        ));
    }
    for v in &ku {
        rep.say(format!(
            "violation: +{:.2}s {}",
            secs_between(start, v.at),
            v.what
        ));
    }
    rep.say(format!(
        "verdict: {} — violations: {} (keepalived's findings: {}), seed {}, {:.1} min",
        if ku.is_empty() && !interrupted() {
            "PASS"
        } else {
            "FAIL"
        },
        ku.len(),
        ka.len(),
        args.seed,
        secs_between(start, stopped_at) / 60.0
    ));
    if let Some(out) = &args.out {
        std::fs::write(out, rep.lines.join("\n") + "\n")
            .with_context(|| format!("write {}", out.display()))?;
    }
    drop(probe);
    drop(routers);
    drop(lab);
    Ok(if interrupted() {
        ExitCode::from(130)
    } else if ku.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

fn fmt_mac(m: &[u8; 6]) -> String {
    m.iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(":")
}

fn detail(f: &Fault) -> String {
    if f.detail.is_empty() {
        String::new()
    } else {
        format!(" ({})", f.detail)
    }
}

fn wait_ms(ms: u64) -> Result<()> {
    let _ = lab::wait_until(
        Duration::from_millis(ms),
        Duration::from_millis(20),
        interrupted,
    );
    if interrupted() {
        bail!(crate::Interrupted);
    }
    Ok(())
}

/// A router for `kind`: never the witness for a stop, never `not`. Faults that move
/// the VIP prefer its current holder (dropping its adverts provokes split brain;
/// killing or freezing it, a takeover).
fn pick(routers: &[Router], kind: Kind, not: Option<usize>, rng: &mut SplitMix64) -> usize {
    let ok: Vec<usize> = (0..routers.len())
        .filter(|&i| Some(i) != not && !(kind.stops() && routers[i].witness))
        .collect();
    let moves = !matches!(kind, Kind::Reload | Kind::Signals | Kind::DropIn);
    if moves && rng.chance(0.6) {
        let t = now_ns();
        if let Some(h) = ok
            .iter()
            .copied()
            .find(|&i| lock(&routers[i].shared.view).mask_at(t) & 1 != 0)
        {
            return h;
        }
    }
    ok[rng.below_incl(ok.len() as u64 - 1) as usize]
}

fn do_inject(
    kind: Kind,
    routers: &mut [Router],
    i: usize,
    lan: &lab::Lan,
    rng: &mut SplitMix64,
) -> Result<Fault> {
    let marks: Vec<(usize, usize)> = routers.iter().map(Router::log_mark).collect();
    if kind == Kind::PortDown {
        lan.port_down(&routers[i].host)?;
    }
    let mut f = fault::inject(kind, routers, i, lan, rng)?;
    f.marks = marks;
    Ok(f)
}

/// After a heal at `healed` (+ `settle_ms`): one holder per VIP within the bound, its
/// daemon up, and the client's view agreeing. The number of checks and the violations.
fn check_settled(
    routers: &[Router],
    views: &[&watch::RouterView],
    client: &Mutex<ClientView>,
    probe_out: &std::path::Path,
    healed: Ns,
    settle_ms: u64,
    rep: &mut Report,
) -> (u64, Vec<Violation>) {
    let bound = (settle_ms + BOUND_MS) * 1_000_000;
    let to = healed + bound + HOLD_MS * 1_000_000;
    let mut checks = 0;
    let mut bad = Vec::new();
    let mut said = Vec::new();
    let vips = router::vips();
    for (i, vip) in vips.iter().enumerate() {
        checks += 1;
        match check::settled(views, i, healed, to) {
            None => {
                let h: Vec<&str> = check::holders(views, i, to)
                    .into_iter()
                    .map(|r| routers[r].name.as_str())
                    .collect();
                bad.push(Violation {
                    at: to,
                    what: format!(
                        "{vip}: held by {h:?} at +{:.2}s after the heal, not by exactly one",
                        secs_between(healed, to)
                    ),
                    keepalived: false,
                });
            }
            Some((since, h)) => {
                let took = secs_between(healed, since);
                said.push(format!("{} holds {vip} from +{took:.2}s", routers[h].name));
                if since > healed + bound {
                    bad.push(Violation {
                        at: since,
                        what: format!(
                            "{vip}: one holder ({}) only {took:.2} s after the heal; bound {:.2} s",
                            routers[h].name,
                            bound as f64 / 1e9
                        ),
                        keepalived: false,
                    });
                }
                checks += 1;
                if !matches!(*lock(&routers[h].shared.life), Life::Up(_))
                    || !routers[h].is_running()
                {
                    bad.push(Violation {
                        at: to,
                        what: format!(
                            "{vip} held by {} whose daemon is not running",
                            routers[h].name
                        ),
                        keepalived: false,
                    });
                }
                if vip.is_ipv4() {
                    checks += 2;
                    let look = (since + 1_000_000_000).min(to);
                    let mac = lock(client).mac_at(look);
                    if mac != Some(routers[h].mac) {
                        bad.push(Violation {
                            at: look,
                            what: format!(
                                "the client's ARP entry for {vip} is {} at +{:.2}s, not {}'s MAC",
                                mac.map_or("absent".into(), |m| fmt_mac(&m)),
                                secs_between(healed, look),
                                routers[h].name
                            ),
                            keepalived: false,
                        });
                    }
                    let echoes = crate::probe::read(probe_out).unwrap_or_default();
                    if !echoes
                        .iter()
                        .any(|e| e.sent >= since && e.sent <= to && e.reply.is_some())
                    {
                        bad.push(Violation {
                            at: to,
                            what: format!(
                                "the client got no echo reply from {vip} after +{took:.2}s"
                            ),
                            keepalived: false,
                        });
                    }
                }
            }
        }
    }
    rep.at(
        to,
        format!(
            "  settled: {} (bound +{:.2}s) {}",
            said.join(", "),
            bound as f64 / 1e9,
            if bad.is_empty() { "ok" } else { "VIOLATED" }
        ),
    );
    (checks, bad)
}

/// The checks of each fault's own rule: stale VIPs after SIGKILL, the frozen Master's
/// overlap, split brain named. Checks, violations and figures.
fn check_faults(
    routers: &[Router],
    views: &[&watch::RouterView],
    faults: &[Fault],
) -> (u64, Vec<Violation>, Vec<String>) {
    let mut checks = 0;
    let mut bad = Vec::new();
    let mut figs = Vec::new();
    let vips = router::vips();
    for f in faults {
        let r = &routers[f.router];
        let healed = f.healed.unwrap_or(f.at);
        match f.kind {
            Kind::Kill => {
                let ready = f.restarted.unwrap_or(healed);
                for (i, vip) in vips.iter().enumerate() {
                    if views[f.router].mask_at(f.at) & (1 << i) == 0 {
                        continue;
                    }
                    checks += 1;
                    match check::gone_since(views[f.router], i, f.at, ready + 500_000_000) {
                        Some(t) => figs.push(format!(
                            "{} stale {vip} after SIGKILL for {:.2} s (gone {:+.3} s from the restarted daemon's first state)",
                            r.name,
                            secs_between(f.at, t),
                            secs_between(ready, t)
                        )),
                        None => bad.push(Violation {
                            at: ready,
                            what: format!(
                                "{} still held the stale {vip} 0.5 s after its restarted {} entered its first state",
                                r.name,
                                r.flavor.name()
                            ),
                            keepalived: r.flavor == Flavor::Keepalived,
                        }),
                    }
                }
            }
            Kind::Freeze => {
                // A frozen Backup whose Master ran on hears the adverts queued while it
                // was stopped before its overdue down timer: it must not take over,
                // not even for a moment (a transition the 10 ms samples may miss, so
                // its log is read).
                let master_ran = faults.len() == 1
                    && (0..routers.len()).any(|o| {
                        o != f.router
                            && views[o].mask_at(f.at) != 0
                            && views[f.router].mask_at(f.at) == 0
                    });
                if master_ran {
                    checks += 1;
                    let log = r.logs_since(f.marks[f.router]);
                    if let Some(l) = log.lines().find(|l| l.contains("Entering MASTER STATE")) {
                        bad.push(Violation {
                            at: healed,
                            what: format!(
                                "{} ({}) was a frozen Backup whose Master ran on, and took over after SIGCONT: {}",
                                r.name,
                                r.flavor.name(),
                                l.trim()
                            ),
                            keepalived: r.flavor == Flavor::Keepalived,
                        });
                    }
                }
                for (i, vip) in vips.iter().enumerate() {
                    for (s, e, who) in check::overlaps(views, i, f.at, healed + 2_000_000_000) {
                        let names: Vec<&str> =
                            who.iter().map(|&w| routers[w].name.as_str()).collect();
                        let after = secs_between(s.max(healed), e).max(0.0);
                        figs.push(format!(
                            "frozen {}: {vip} on {names:?} together for {:.2} s, {after:.2} s of it after SIGCONT",
                            r.name,
                            secs_between(s, e)
                        ));
                    }
                }
            }
            Kind::DropOut | Kind::DropIn if faults.len() == 1 => {
                let window = (3.0 * ADVERT_INT + 1.5) * 1e9;
                for (i, vip) in vips.iter().enumerate() {
                    let vrid = INSTANCES[i].1;
                    for (s, e, who) in check::overlaps(views, i, f.at, healed) {
                        if ((e - s) as f64) < window || who.len() != 2 || !who.contains(&f.router) {
                            continue;
                        }
                        let other = if who[0] == f.router { who[1] } else { who[0] };
                        let hearer = if f.kind == Kind::DropOut {
                            f.router
                        } else {
                            other
                        };
                        let h = &routers[hearer];
                        checks += 1;
                        let named = h.logs_since(f.marks[hearer]).lines().any(|l| {
                            l.contains("split brain") && l.contains(&format!("VRID {vrid}"))
                        });
                        figs.push(format!(
                            "split brain on {vip}: {} and {} both Master for {:.2} s; {} {}",
                            routers[f.router].name,
                            routers[other].name,
                            secs_between(s, e),
                            h.name,
                            if named { "named it" } else { "did not name it" }
                        ));
                        if !named {
                            bad.push(Violation {
                                at: e,
                                what: format!(
                                    "split brain on {vip} ({} and {} Master for {:.2} s) not named by {} ({})",
                                    routers[f.router].name,
                                    routers[other].name,
                                    secs_between(s, e),
                                    h.name,
                                    h.flavor.name()
                                ),
                                keepalived: h.flavor == Flavor::Keepalived,
                            });
                        }
                    }
                }
            }
            _ => {}
        }
    }
    (checks, bad, figs)
}
