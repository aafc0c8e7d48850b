//! One router of the soak: its host, its daemon (keepup or keepalived 2.2.7, on the
//! same keepalived.conf), and the ways the soak starts, stops, freezes, signals and
//! reloads it.
use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};
use keepup_testkit::lab::{Host, Keepalived, Lab, Proc, Signal};

use crate::chaos::watch::{lock, Life, Shared};
use crate::{now_ns, Ns};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flavor {
    Keepup,
    Keepalived,
}

impl Flavor {
    pub fn name(self) -> &'static str {
        match self {
            Flavor::Keepup => "keepup",
            Flavor::Keepalived => "keepalived",
        }
    }
}

/// The virtual routers every daemon runs: `(instance, VRID, version, VIPs as written)`;
/// the VIP the soak watches is the last of each.
pub const INSTANCES: [(&str, u8, u8, &[&str]); 2] = [
    ("VI_4", 51, 2, &["10.61.0.100/24"]),
    ("VI_6", 52, 3, &["fe80::100/64", "fd00:61::100/64"]),
];

/// Advertisement interval of both instances, in seconds.
pub const ADVERT_INT: f64 = 1.0;

/// The tracked script's weight: a router whose check fails drops by this much.
pub const SCRIPT_WEIGHT: i32 = -90;

/// The watched VIPs, in [`INSTANCES`] order.
pub fn vips() -> Vec<IpAddr> {
    INSTANCES
        .iter()
        .filter_map(|i| i.3.last()?.split('/').next()?.parse().ok())
        .collect()
}

/// keepalived.conf for a router at `priority`; its tracked script fails while
/// `down_file` exists.
pub fn conf(name: &str, priority: u8, down_file: &std::path::Path) -> String {
    let mut s = format!(
        "global_defs {{\n    router_id {name}\n}}\n\
         vrrp_script chk {{\n    script \"/bin/sh -c 'test ! -e {}'\"\n    interval 1\n    \
         fall 1\n    rise 1\n    weight {SCRIPT_WEIGHT}\n}}\n",
        down_file.display()
    );
    for (inst, vrid, version, vips) in INSTANCES {
        s.push_str(&format!(
            "vrrp_instance {inst} {{\n    state BACKUP\n    interface eth0\n    \
             virtual_router_id {vrid}\n    version {version}\n    priority {priority}\n    \
             advert_int {ADVERT_INT}\n    virtual_ipaddress {{\n"
        ));
        for v in vips {
            s.push_str(&format!("        {v}\n"));
        }
        s.push_str("    }\n    track_script {\n        chk\n    }\n}\n");
    }
    s
}

enum Daemon {
    Keepup(Proc),
    Keepalived(Keepalived),
}

pub struct Router {
    pub name: String,
    pub host: Host,
    pub flavor: Flavor,
    /// The configured priority (a reload with changes moves it for a while).
    pub priority: u8,
    pub mac: [u8; 6],
    /// Never killed nor stopped: its RSS over the whole soak shows whether memory is
    /// flat.
    pub witness: bool,
    pub shared: Arc<Shared>,
    pub down_file: PathBuf,
    /// Every log this router's daemons wrote (one per start).
    pub logs: Vec<PathBuf>,
    keepup: PathBuf,
    conf_path: PathBuf,
    runtime: PathBuf,
    tmpdir: PathBuf,
    daemon: Option<Daemon>,
    pub starts: u32,
}

impl Router {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        lab: &Lab,
        host: Host,
        flavor: Flavor,
        priority: u8,
        witness: bool,
        keepup: PathBuf,
    ) -> Result<Router> {
        let name = host.name().to_owned();
        let mac = host
            .mac("eth0")
            .map(|m| m.0)
            .ok_or_else(|| anyhow!("{name} has no eth0"))?;
        let tmpdir = lab.dir().join(format!("{name}-tmp"));
        let runtime = lab.dir().join(format!("{name}-run"));
        std::fs::create_dir_all(&tmpdir)?;
        Ok(Router {
            down_file: lab.dir().join(format!("down-{name}")),
            conf_path: lab.dir().join(format!("{name}.conf")),
            name,
            host,
            flavor,
            priority,
            mac,
            witness,
            shared: Arc::new(Shared {
                view: Default::default(),
                life: std::sync::Mutex::new(Life::Stopped(0)),
            }),
            logs: vec![],
            keepup,
            runtime,
            tmpdir,
            daemon: None,
            starts: 0,
        })
    }

    pub fn conf_text(&self, priority: u8) -> String {
        conf(&self.name, priority, &self.down_file)
    }

    /// Start the daemon and wait until every instance has entered its first state
    /// (the daemon's own startup done). Returns when it was ready.
    pub fn start(&mut self) -> Result<Ns> {
        let text = self.conf_text(self.priority);
        let d = match self.flavor {
            Flavor::Keepup => {
                std::fs::write(&self.conf_path, &text)?;
                let log = self.host.lab_file(&format!("{}-keepup.log", self.name));
                let args = [
                    format!("TMPDIR={}", self.tmpdir.display()),
                    self.keepup.display().to_string(),
                    "run".into(),
                    "-f".into(),
                    self.conf_path.display().to_string(),
                    "-i".into(),
                    self.name.clone(),
                    "--runtime-dir".into(),
                    self.runtime.display().to_string(),
                ];
                // env(1) execs keepup: the PID is keepup's.
                Daemon::Keepup(self.host.spawn("env", &args, log)?)
            }
            Flavor::Keepalived => {
                let tmp = self.tmpdir.display().to_string();
                Daemon::Keepalived(Keepalived::start_with_env(
                    &self.host,
                    &text,
                    &[("TMPDIR", &tmp)],
                )?)
            }
        };
        let log = match &d {
            Daemon::Keepup(p) => p.log_path().to_owned(),
            Daemon::Keepalived(k) => k.log_path().to_owned(),
        };
        self.logs.push(log.clone());
        let pid = match &d {
            Daemon::Keepup(p) => p.pid(),
            Daemon::Keepalived(k) => k.pid(),
        };
        self.daemon = Some(d);
        self.starts += 1;
        *lock(&self.shared.life) = Life::Up(pid);
        let start = Instant::now();
        loop {
            let text = std::fs::read_to_string(&log).unwrap_or_default();
            if INSTANCES
                .iter()
                .all(|i| text.contains(&format!("({}) Entering ", i.0)))
            {
                return Ok(now_ns());
            }
            if !self.is_running() {
                bail!(
                    "{} on {} exited at start:\n{text}",
                    self.flavor.name(),
                    self.name
                );
            }
            if start.elapsed() > Duration::from_secs(15) {
                bail!(
                    "{} on {} did not enter a state within 15 s:\n{text}",
                    self.flavor.name(),
                    self.name
                );
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    pub fn pid(&self) -> Option<u32> {
        match self.daemon.as_ref()? {
            Daemon::Keepup(p) => Some(p.pid()),
            Daemon::Keepalived(k) => Some(k.pid()),
        }
    }

    pub fn is_running(&self) -> bool {
        match &self.daemon {
            Some(Daemon::Keepup(p)) => p.is_running(),
            Some(Daemon::Keepalived(k)) => k.is_running(),
            None => false,
        }
    }

    /// SIGKILL to the daemon and its children at once; the kernel keeps the VIPs.
    pub fn sigkill(&mut self) -> Result<()> {
        match &self.daemon {
            Some(Daemon::Keepup(p)) => {
                p.kill_tree(Signal::SIGKILL)?;
                p.wait_timeout(Duration::from_secs(5));
            }
            Some(Daemon::Keepalived(k)) => {
                k.kill()?;
            }
            None => bail!("{}: no daemon to kill", self.name),
        }
        *lock(&self.shared.life) = Life::Killed(now_ns());
        self.forget();
        Ok(())
    }

    /// SIGTERM and wait for the exit. The time it had exited by.
    pub fn sigterm(&mut self) -> Result<Ns> {
        let status = match &self.daemon {
            Some(Daemon::Keepup(p)) => p.terminate(Duration::from_secs(10)),
            Some(Daemon::Keepalived(k)) => k.stop(),
            None => bail!("{}: no daemon to stop", self.name),
        };
        let at = now_ns();
        *lock(&self.shared.life) = Life::Stopped(at);
        self.forget();
        status
            .map(|_| at)
            .ok_or_else(|| anyhow!("{} did not exit on SIGTERM", self.name))
    }

    /// Drop the handle without it signalling the (gone) process again.
    fn forget(&mut self) {
        self.daemon = None;
    }

    /// The daemon and its descendants.
    fn pids(&self) -> Vec<u32> {
        let Some(pid) = self.pid() else {
            return vec![];
        };
        let mut v = vec![pid];
        v.extend(crate::harness::descendants(pid));
        v
    }

    /// SIGSTOP to the daemon and its children: a frozen daemon.
    pub fn freeze(&self) -> Result<()> {
        let pids = self.pids();
        let Some(&pid) = pids.first() else {
            bail!("{}: no daemon to freeze", self.name);
        };
        for p in &pids {
            send(*p, "STOP")?;
        }
        *lock(&self.shared.life) = Life::Frozen(pid, now_ns());
        Ok(())
    }

    pub fn thaw(&self) -> Result<()> {
        for p in self.pids() {
            send(p, "CONT")?;
        }
        if let Some(pid) = self.pid() {
            *lock(&self.shared.life) = Life::Up(pid);
        }
        Ok(())
    }

    /// Send signal `sig` (a name `kill -s` takes, or a number) to the main process.
    pub fn signal(&self, sig: &str) -> Result<()> {
        let pid = self
            .pid()
            .ok_or_else(|| anyhow!("{}: no daemon to signal", self.name))?;
        send(pid, sig)
    }

    /// Rewrite the running configuration for `priority` and reload (SIGHUP).
    pub fn reload(&self, priority: u8) -> Result<()> {
        let path = match &self.daemon {
            Some(Daemon::Keepalived(k)) => k.conf_path().to_owned(),
            _ => self.conf_path.clone(),
        };
        std::fs::write(&path, self.conf_text(priority))
            .with_context(|| format!("write {}", path.display()))?;
        self.signal("HUP")
    }

    /// The text of every log so far.
    pub fn all_logs(&self) -> String {
        self.logs
            .iter()
            .map(|p| std::fs::read_to_string(p).unwrap_or_default())
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// Where the logs end now: (number of logs, length of the last).
    pub fn log_mark(&self) -> (usize, usize) {
        let len = self
            .logs
            .last()
            .and_then(|p| std::fs::metadata(p).ok())
            .map_or(0, |m| m.len() as usize);
        (self.logs.len(), len)
    }

    /// What the logs gained since `mark` (a [`Router::log_mark`]).
    pub fn logs_since(&self, (n, len): (usize, usize)) -> String {
        let mut out = String::new();
        for (i, p) in self.logs.iter().enumerate().skip(n.saturating_sub(1)) {
            let text = std::fs::read_to_string(p).unwrap_or_default();
            let from = if i + 1 == n { len } else { 0 };
            out.push_str(text.get(from..).unwrap_or_default());
            out.push('\n');
        }
        out
    }
}

/// `kill -s SIG PID`.
fn send(pid: u32, sig: &str) -> Result<()> {
    let out = std::process::Command::new("kill")
        .args(["-s", sig, &pid.to_string()])
        .output()
        .context("run kill")?;
    if !out.status.success() {
        bail!(
            "kill -s {sig} {pid}: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(())
}
