//! The demo itself: the lab, its routers and their daemons, and the four phases
//! (election, crash, r1's return, stop).
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use keepup_testkit::lab::{Capture, Host, Lab, Lan, Probe, Proc, Signal};

use super::live::Live;
use super::logs::{log_lines_matching, RouterState};
use super::report::{header, render_preemption};
use super::timeline::measure_takeover;
use super::{
    longest_gap, master_down_interval, now, rel, Interrupted, ADVERT_INT, CLIENT, CONF,
    PROBE_EVERY, ROUTERS, VIP,
};

pub(super) struct Router {
    pub(super) name: &'static str,
    pub(super) priority: u8,
    pub(super) host: Host,
    conf: PathBuf,
    runtime: PathBuf,
    /// `TZ=UTC ip -ts monitor address` in the router's namespace.
    pub(super) addr_log: PathBuf,
    pub(super) daemon: Option<Proc>,
    _monitor: Proc,
}

pub(super) struct Demo {
    interrupted: Arc<AtomicBool>,
    exe: PathBuf,
    live: Live,
    pub(super) routers: Vec<Router>,
    pub(super) probe: Option<Probe>,
    pub(super) capture: Option<Capture>,
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

pub(super) fn demo(exe: &Path, interrupted: Arc<AtomicBool>) -> Result<()> {
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
