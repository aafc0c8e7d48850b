//! Real keepalived 2.2.7 in a lab host, as the peer of interop tests.
//!
//! Started as `keepalived -n -l -D -G -f CONF -p PID -r VRRP_PID -c CHECKERS_PID
//! -b BFD_PID -i HOST --vrrp` under `ip netns exec` (not `--namespace`, which would
//! make keepalived enter a namespace itself): in the foreground, logging in detail to
//! the console (its log file here) and not to syslog, every pid file in the lab's
//! directory so instances never share one, VRRP only.
//!
//! keepalived writes lines like `Sat Nov 21 23:56:48 2026: (VI_1) Entering MASTER STATE`
//! (with `-l` and no syslog the `Keepalived_vrrp[PID]:` tag is absent); [`Keepalived::state`]
//! reads the last such line of an instance.
use std::fmt::Write as _;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::process::ExitStatus;
use std::time::Duration;

use nix::sys::signal::Signal;

use super::process::{read_lossy, wait_for_log_since, Proc};
use super::{wait_until, Error, Host, Result};

/// A VRRP state as keepalived logs it (`Entering ... STATE`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum State {
    Backup,
    Master,
    Fault,
}

impl State {
    fn word(self) -> &'static str {
        match self {
            State::Backup => "BACKUP",
            State::Master => "MASTER",
            State::Fault => "FAULT",
        }
    }
}

/// The last state instance `instance` entered, per `log` (keepalived's output).
pub fn last_state(log: &str, instance: &str) -> Option<State> {
    let tag = format!("({instance}) Entering ");
    log.lines().rev().find_map(|l| {
        let rest = &l[l.find(&tag)? + tag.len()..];
        [State::Backup, State::Master, State::Fault]
            .into_iter()
            .find(|s| rest.starts_with(&format!("{} STATE", s.word())))
    })
}

/// One `vrrp_instance` block, for tests that need a plain one. Fields are
/// keepalived's keyword names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VrrpInstance {
    pub name: String,
    /// `BACKUP` or `MASTER`.
    pub state: String,
    pub interface: String,
    pub virtual_router_id: u8,
    pub priority: u8,
    /// Seconds (keepalived also accepts fractions for VRRPv3).
    pub advert_int: String,
    /// 2 or 3.
    pub version: u8,
    /// Each as written in `virtual_ipaddress` (`10.9.0.100/24`).
    pub virtual_ipaddress: Vec<String>,
    /// Further lines, copied into the block as they are (`nopreempt`, `unicast_peer {..}`).
    pub extra: Vec<String>,
}

impl VrrpInstance {
    /// `state BACKUP`, `advert_int 1`, VRRPv2, one IPv4 VIP (`/24`).
    pub fn new(name: &str, interface: &str, vrid: u8, priority: u8, vip: IpAddr) -> Self {
        let plen = if vip.is_ipv6() { 64 } else { 24 };
        VrrpInstance {
            name: name.into(),
            state: "BACKUP".into(),
            interface: interface.into(),
            virtual_router_id: vrid,
            priority,
            advert_int: "1".into(),
            version: 2,
            virtual_ipaddress: vec![format!("{vip}/{plen}")],
            extra: vec![],
        }
    }

    pub fn master(mut self) -> Self {
        self.state = "MASTER".into();
        self
    }

    /// The block, as keepalived.conf text.
    pub fn to_conf(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(s, "vrrp_instance {} {{", self.name);
        let _ = writeln!(s, "    state {}", self.state);
        let _ = writeln!(s, "    interface {}", self.interface);
        let _ = writeln!(s, "    virtual_router_id {}", self.virtual_router_id);
        let _ = writeln!(s, "    priority {}", self.priority);
        let _ = writeln!(s, "    advert_int {}", self.advert_int);
        let _ = writeln!(s, "    version {}", self.version);
        for l in &self.extra {
            let _ = writeln!(s, "    {l}");
        }
        s.push_str("    virtual_ipaddress {\n");
        for v in &self.virtual_ipaddress {
            let _ = writeln!(s, "        {v}");
        }
        s.push_str("    }\n}\n");
        s
    }
}

/// A whole keepalived.conf: `global_defs` with `router_id`, then the instances.
pub fn conf(router_id: &str, instances: &[VrrpInstance]) -> String {
    let mut s = format!("global_defs {{\n    router_id {router_id}\n}}\n");
    for i in instances {
        s.push_str(&i.to_conf());
    }
    s
}

/// A running keepalived. Dropping it stops it (SIGTERM; SIGKILL after 5 s).
#[derive(Debug)]
pub struct Keepalived {
    proc: Proc,
    conf: PathBuf,
    vrrp_pid_file: PathBuf,
}

/// How long keepalived gets to stop on SIGTERM (it takes about 1 s: priority-0
/// adverts, VIPs removed, children reaped).
const STOP_GRACE: Duration = Duration::from_secs(5);

impl Keepalived {
    /// Write `conf_text` to the lab directory and start keepalived on `host`. Returns
    /// once its VRRP child has started (`Starting VRRP child process`), or an error
    /// carrying the log if keepalived exited or did not get there within 10 s.
    pub fn start(host: &Host, conf_text: &str) -> Result<Keepalived> {
        Keepalived::start_with_env(host, conf_text, &[])
    }

    /// [`Keepalived::start`] with `env` (`NAME=VALUE` pairs) in keepalived's
    /// environment, e.g. `TMPDIR`, where keepalived 2.2.7 writes its dump files.
    pub fn start_with_env(
        host: &Host,
        conf_text: &str,
        env: &[(&str, &str)],
    ) -> Result<Keepalived> {
        let base = host.lab_file(&format!("{}-keepalived", host.name()));
        let with = |ext: &str| PathBuf::from(format!("{}.{ext}", base.display()));
        let conf = with("conf");
        std::fs::write(&conf, conf_text).map_err(|source| Error::Io {
            what: format!("write {}", conf.display()),
            source,
        })?;
        let vrrp_pid_file = with("vrrp.pid");
        let args: Vec<String> = vec![
            "-n".into(),
            "-l".into(),
            "-D".into(),
            "-G".into(),
            "-f".into(),
            conf.display().to_string(),
            "-p".into(),
            with("pid").display().to_string(),
            "-r".into(),
            vrrp_pid_file.display().to_string(),
            "-c".into(),
            with("checkers.pid").display().to_string(),
            "-b".into(),
            with("bfd.pid").display().to_string(),
            "-i".into(),
            host.name().into(),
            "--vrrp".into(),
        ];
        let proc = if env.is_empty() {
            host.spawn("keepalived", &args, with("log"))?
        } else {
            // env(1) execs keepalived: the process (and its PID) stays the same.
            let mut full: Vec<String> = env.iter().map(|(k, v)| format!("{k}={v}")).collect();
            full.push("keepalived".into());
            full.extend(args);
            host.spawn("env", &full, with("log"))?
        };
        let ka = Keepalived {
            proc,
            conf,
            vrrp_pid_file,
        };
        let started = wait_until(Duration::from_secs(10), Duration::from_millis(20), || {
            !ka.proc.is_running() || ka.log().contains("Starting VRRP child process")
        });
        if started.is_none() || !ka.proc.is_running() {
            return Err(Error::Invalid(format!(
                "keepalived on {} did not start; its log ({}):\n{}",
                host.name(),
                ka.proc.log_path().display(),
                ka.log()
            )));
        }
        Ok(ka)
    }

    /// The main (parent) process.
    pub fn pid(&self) -> u32 {
        self.proc.pid()
    }

    /// The VRRP child's PID, from its pid file.
    pub fn vrrp_pid(&self) -> Option<u32> {
        read_lossy(&self.vrrp_pid_file).trim().parse().ok()
    }

    pub fn conf_path(&self) -> &Path {
        &self.conf
    }

    pub fn log_path(&self) -> &Path {
        self.proc.log_path()
    }

    pub fn log(&self) -> String {
        self.proc.log()
    }

    /// The log's length now: pass it to [`Keepalived::wait_for_log_since`] to wait for
    /// a line written after this point.
    pub fn log_mark(&self) -> usize {
        self.log().len()
    }

    /// Wait until the log contains `needle`; how long that took.
    pub fn wait_for_log(&self, needle: &str, timeout: Duration) -> Result<Duration> {
        self.wait_for_log_since(0, needle, timeout)
    }

    /// Wait until the log past byte `mark` contains `needle`.
    pub fn wait_for_log_since(
        &self,
        mark: usize,
        needle: &str,
        timeout: Duration,
    ) -> Result<Duration> {
        wait_for_log_since(self.proc.log_path(), mark, needle, timeout)
    }

    /// The state `instance` last entered, per the log.
    pub fn state(&self, instance: &str) -> Option<State> {
        last_state(&self.log(), instance)
    }

    /// Wait until `instance` is in `state` (per the log); how long that took.
    pub fn wait_for_state(
        &self,
        instance: &str,
        state: State,
        timeout: Duration,
    ) -> Result<Duration> {
        wait_until(timeout, Duration::from_millis(20), || {
            self.state(instance) == Some(state)
        })
        .ok_or_else(|| Error::Timeout {
            after: timeout,
            what: format!(
                "({instance}) {} STATE in {}; last: {:?}",
                state.word(),
                self.log_path().display(),
                self.state(instance)
            ),
        })
    }

    pub fn is_running(&self) -> bool {
        self.proc.is_running()
    }

    /// Stop gracefully: SIGTERM (keepalived sends priority 0 and removes its VIPs),
    /// SIGKILL if it has not exited after 5 s.
    pub fn stop(&self) -> Option<ExitStatus> {
        self.proc.terminate(STOP_GRACE)
    }

    /// Crash it: SIGKILL to keepalived and its children at once (the parent stopped
    /// first so it cannot respawn them). Nothing is sent and the VIPs stay where they
    /// are, as after a power cut.
    pub fn kill(&self) -> Result<Option<ExitStatus>> {
        self.proc.kill_tree(Signal::SIGKILL)?;
        Ok(self.proc.wait_timeout(STOP_GRACE))
    }

    /// Send any signal to the main process (SIGHUP reloads, SIGUSR1 dumps data).
    pub fn signal(&self, sig: Signal) -> Result<bool> {
        self.proc.kill(sig)
    }
}

impl Drop for Keepalived {
    fn drop(&mut self) {
        self.proc.terminate(STOP_GRACE);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_last_state_of_each_instance() {
        let log = "\
Sat Nov 21 23:56:44 2026: (VI_1) Entering BACKUP STATE (init)
Sat Nov 21 23:56:44 2026: (VI_2) Entering BACKUP STATE (init)
Sat Nov 21 23:56:48 2026: (VI_1) Receive advertisement timeout
Sat Nov 21 23:56:48 2026: (VI_1) Entering MASTER STATE
Sat Nov 21 23:56:49 2026: Keepalived_vrrp[7]: (VI_2) Entering FAULT STATE
";
        assert_eq!(last_state(log, "VI_1"), Some(State::Master));
        assert_eq!(last_state(log, "VI_2"), Some(State::Fault));
        assert_eq!(last_state(log, "VI_3"), None);
        assert_eq!(last_state("", "VI_1"), None);
    }

    #[test]
    fn writes_a_plain_instance() {
        let i = VrrpInstance::new("VI_1", "eth0", 51, 150, "10.9.0.100".parse().unwrap()).master();
        let text = conf("r1", &[i]);
        assert_eq!(
            text,
            "global_defs {\n    router_id r1\n}\nvrrp_instance VI_1 {\n    state MASTER\n    \
             interface eth0\n    virtual_router_id 51\n    priority 150\n    advert_int 1\n    \
             version 2\n    virtual_ipaddress {\n        10.9.0.100/24\n    }\n}\n"
        );
    }
}
