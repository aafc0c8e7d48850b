//! `vrrp_track_process`: count the running processes that match a name (and maybe
//! parameters); the tracker is up while quorum <= count <= quorum_max.
//!
//! /proc is read once at start; after that the kernel's process connector says which
//! pids forked, exec'd, were renamed or exited, and only those pids are looked at
//! again. When the connector cannot be used, or dropped events (ENOBUFS), /proc is
//! read afresh.
//!
//! Matching follows keepalived.conf(5): the name is compared exactly with the
//! process name (/proc/PID/stat's comm, what `pgrep '^NAME$'` sees); `full_command`
//! compares it with argv[0] instead. The kernel keeps only 15 characters of a name,
//! so a longer name (which keepalived could never match) is compared with the
//! basename of argv[0]. Parameters, when given, are compared with argv[1..] per
//! `param_match`. Zombies do not count.
use super::{Binding, TrackInputs, Trackers};
use keepup_config::model::track::ParamMatch;
use keepup_config::model::TrackProcess;
use std::collections::BTreeSet;
use std::time::Duration;
use tokio::time::Instant;
use tracing::info;

/// The kernel's TASK_COMM_LEN - 1.
const COMM_MAX: usize = 15;

/// What a process is, as far as matching goes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProcInfo {
    /// The process name (comm).
    pub comm: String,
    /// The command line, when some tracker needs it (empty for kernel threads).
    pub argv: Option<Vec<String>>,
}

/// `process NAME [PARAM ...]`, `param_match`, `full_command`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcessMatch {
    pub name: String,
    pub params: Vec<String>,
    pub param_match: Option<ParamMatch>,
    pub full_command: bool,
}

impl ProcessMatch {
    pub fn new(p: &TrackProcess) -> Option<ProcessMatch> {
        let (name, params) = p.process.split_first()?;
        Some(ProcessMatch {
            name: name.clone(),
            params: params.to_vec(),
            param_match: p.param_match,
            full_command: p.full_command,
        })
    }

    /// Whether the command line is needed (it lives in the process's memory, so it
    /// is read only when it must be).
    pub fn needs_argv(&self) -> bool {
        self.full_command || self.checks_params() || self.name.len() > COMM_MAX
    }

    /// Parameters are checked when given, or when `param_match` is (the man page:
    /// `param_match` without parameters means "no parameters").
    fn checks_params(&self) -> bool {
        !self.params.is_empty() || self.param_match.is_some()
    }

    pub fn matches(&self, p: &ProcInfo) -> bool {
        let argv = p.argv.as_deref().unwrap_or(&[]);
        let name_ok = if self.full_command {
            argv.first() == Some(&self.name)
        } else if self.name.len() > COMM_MAX {
            // comm is the name's first 15 bytes; argv[0]'s basename says the rest.
            self.name.as_bytes().get(..COMM_MAX) == Some(p.comm.as_bytes())
                && argv
                    .first()
                    .is_some_and(|a0| a0.rsplit('/').next() == Some(self.name.as_str()))
        } else {
            p.comm == self.name
        };
        if !name_ok {
            return false;
        }
        if !self.checks_params() {
            return true;
        }
        let have = argv.get(1..).unwrap_or(&[]);
        let want = &self.params;
        match self.param_match {
            None | Some(ParamMatch::Full) => have == want.as_slice(),
            _ if want.is_empty() => have.is_empty(),
            Some(ParamMatch::Partial) => have.len() >= want.len() && have[..want.len()] == *want,
            Some(ParamMatch::Initial) => {
                let n = want.len();
                have.len() >= n
                    && have[..n - 1] == want[..n - 1]
                    && have[n - 1].starts_with(want[n - 1].as_str())
            }
        }
    }
}

/// The count of matching processes and the up/down state it gives, with
/// `fork_delay` / `terminate_delay` holding back a rise / a fall.
#[derive(Debug, Clone)]
pub struct Quorum {
    pub quorum: u32,
    pub quorum_max: u32,
    pub fork_delay: Duration,
    pub terminate_delay: Duration,
    pub pids: BTreeSet<i32>,
    /// What the instances were told (`None` before the first scan).
    pub up: Option<bool>,
    /// A change waiting for its delay: (when, to which state).
    pub pending: Option<(Instant, bool)>,
}

impl Quorum {
    pub fn new(p: &TrackProcess) -> Quorum {
        let d = |s: Option<keepup_config::model::Secs>| {
            s.map(|s| Duration::from_micros(s.micros))
                .unwrap_or_default()
        };
        Quorum {
            quorum: p.quorum,
            quorum_max: p.quorum_max.unwrap_or(u32::MAX),
            fork_delay: d(p.fork_delay),
            terminate_delay: d(p.terminate_delay),
            pids: BTreeSet::new(),
            up: None,
            pending: None,
        }
    }

    fn count(&self) -> u32 {
        u32::try_from(self.pids.len()).unwrap_or(u32::MAX)
    }

    fn want(&self) -> bool {
        (self.quorum..=self.quorum_max).contains(&self.count())
    }

    /// After the pid set changed: the state to report now, if it changes now. The
    /// first state is known at once; later changes wait for their delay, and a
    /// change that is undone within the delay is never reported.
    pub fn settle(&mut self, now: Instant) -> Option<bool> {
        let want = self.want();
        match self.up {
            Some(up) if up == want => {
                self.pending = None;
                None
            }
            Some(_) => {
                let delay = if want {
                    self.fork_delay
                } else {
                    self.terminate_delay
                };
                if delay.is_zero() {
                    self.pending = None;
                    self.up = Some(want);
                    return Some(want);
                }
                if self.pending.map(|(_, w)| w) != Some(want) {
                    self.pending = Some((now + delay, want));
                }
                None
            }
            None => {
                self.up = Some(want);
                Some(want)
            }
        }
    }

    /// A delay that ran out: the state it brings.
    pub fn due(&mut self, now: Instant) -> Option<bool> {
        let (at, to) = self.pending?;
        if at > now {
            return None;
        }
        self.pending = None;
        self.up = Some(to);
        Some(to)
    }
}

#[derive(Debug)]
pub struct ProcessTracker {
    pub name: String,
    pub matcher: ProcessMatch,
    pub quorum: Quorum,
    pub bindings: Vec<Binding>,
}

impl ProcessTracker {
    pub fn new(p: &TrackProcess, matcher: ProcessMatch, b: Binding) -> ProcessTracker {
        ProcessTracker {
            name: p.name.clone(),
            matcher,
            quorum: Quorum::new(p),
            bindings: vec![b],
        }
    }

    /// Log a reported change (keepalived's words) and each binding's new effect.
    fn report(&mut self, up: Option<bool>) -> TrackInputs {
        let Some(up) = up else {
            return TrackInputs::new();
        };
        info!(
            "Quorum {} for tracked process {} ({} running)",
            if up { "gained" } else { "lost" },
            self.name,
            self.quorum.pids.len()
        );
        super::feed_up_down(&mut self.bindings, up)
    }

    /// `pid` is now `info` (`None`: gone, or not readable).
    fn observe(&mut self, pid: i32, info: Option<&ProcInfo>) -> bool {
        if info.is_some_and(|i| self.matcher.matches(i)) {
            self.quorum.pids.insert(pid)
        } else {
            self.quorum.pids.remove(&pid)
        }
    }
}

/// `/proc/PID` as matching needs it; `None` for a zombie or a pid that is gone.
pub fn read_proc(pid: i32, argv: bool) -> Option<ProcInfo> {
    let stat = std::fs::read(format!("/proc/{pid}/stat")).ok()?;
    // "PID (COMM) STATE ...": the name may hold spaces and parentheses.
    let open = stat.iter().position(|&c| c == b'(')?;
    let close = stat.iter().rposition(|&c| c == b')')?;
    let comm = String::from_utf8_lossy(stat.get(open + 1..close)?).into_owned();
    if stat.get(close + 2) == Some(&b'Z') {
        return None;
    }
    let argv = if argv {
        let raw = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
        Some(
            raw.split(|&c| c == 0)
                .map(|w| String::from_utf8_lossy(w).into_owned())
                .collect::<Vec<_>>()
                .split_last()
                .map(|(last, rest)| {
                    // cmdline ends with a NUL, which leaves an empty last word.
                    let mut v = rest.to_vec();
                    if !last.is_empty() {
                        v.push(last.clone());
                    }
                    v
                })
                .unwrap_or_default(),
        )
    } else {
        None
    };
    Some(ProcInfo { comm, argv })
}

/// Every process now.
pub fn scan(argv: bool) -> Vec<(i32, ProcInfo)> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.filter_map(|e| {
        let pid: i32 = e.ok()?.file_name().to_str()?.parse().ok()?;
        Some((pid, read_proc(pid, argv)?))
    })
    .collect()
}

impl Trackers {
    fn process_argv(&self) -> bool {
        self.processes.iter().any(|p| p.matcher.needs_argv())
    }

    /// Read every process (at start, after lost events, or each second without the
    /// connector); the inputs for the states that change.
    pub fn process_rescan(&mut self, now: Instant) -> TrackInputs {
        if self.processes.is_empty() {
            return TrackInputs::new();
        }
        let all = scan(self.process_argv());
        let mut inputs = TrackInputs::new();
        for t in &mut self.processes {
            t.quorum.pids = all
                .iter()
                .filter(|(_, i)| t.matcher.matches(i))
                .map(|(p, _)| *p)
                .collect();
            let up = t.quorum.settle(now);
            inputs.extend(t.report(up));
        }
        inputs
    }

    /// One event from the process connector.
    pub fn process_event(&mut self, ev: keepup_sys::ProcEvent, now: Instant) -> TrackInputs {
        use keepup_sys::ProcEvent;
        let (pid, gone) = match ev {
            ProcEvent::Lost => {
                info!("Process monitor lost events; reading /proc again");
                return self.process_rescan(now);
            }
            // A thread's events say nothing about its process's name or life.
            ProcEvent::Fork {
                parent_tgid,
                child_pid,
                child_tgid,
            } if child_pid == child_tgid => {
                // A child starts as a copy of its parent: only a tracked parent's
                // children can match.
                if !self
                    .processes
                    .iter()
                    .any(|t| t.quorum.pids.contains(&parent_tgid))
                {
                    return TrackInputs::new();
                }
                (child_tgid, false)
            }
            ProcEvent::Exec { pid, tgid } | ProcEvent::Comm { pid, tgid, .. } if pid == tgid => {
                (tgid, false)
            }
            ProcEvent::Exit { pid, tgid } if pid == tgid => (tgid, true),
            _ => return TrackInputs::new(),
        };
        let info = if gone {
            None
        } else {
            read_proc(pid, self.process_argv())
        };
        let mut inputs = TrackInputs::new();
        for t in &mut self.processes {
            if t.observe(pid, info.as_ref()) {
                let up = t.quorum.settle(now);
                inputs.extend(t.report(up));
            }
        }
        inputs
    }

    /// When the next delayed change is due.
    pub fn process_next_due(&self) -> Option<Instant> {
        self.processes
            .iter()
            .filter_map(|t| t.quorum.pending.map(|(at, _)| at))
            .min()
    }

    /// Delayed changes whose time has come.
    pub fn process_due(&mut self, now: Instant) -> TrackInputs {
        let mut inputs = TrackInputs::new();
        for t in &mut self.processes {
            let up = t.quorum.due(now);
            inputs.extend(t.report(up));
        }
        inputs
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use keepup_config::model::Secs;

    fn m(words: &[&str], pm: Option<ParamMatch>, full: bool) -> ProcessMatch {
        ProcessMatch::new(&TrackProcess {
            process: words.iter().map(|w| (*w).to_string()).collect(),
            param_match: pm,
            full_command: full,
            ..TrackProcess::default()
        })
        .expect("a name")
    }

    fn p(comm: &str, argv: &[&str]) -> ProcInfo {
        ProcInfo {
            comm: comm.into(),
            argv: Some(argv.iter().map(|w| (*w).to_string()).collect()),
        }
    }

    #[test]
    fn name_is_exact_like_pgrep_anchored() {
        let x = m(&["ssh"], None, false);
        assert!(!x.needs_argv());
        assert!(x.matches(&p("ssh", &[])));
        assert!(!x.matches(&p("sshd", &["/usr/sbin/sshd"])));
        assert!(!x.matches(&p("ss", &[])));
    }

    #[test]
    fn long_names_use_argv0_basename() {
        let x = m(&["kpchk-0123456789abc"], None, false);
        assert!(x.needs_argv());
        assert!(x.matches(&p(
            "kpchk-012345678",
            &["/tmp/lab/kpchk-0123456789abc", "5"]
        )));
        assert!(!x.matches(&p("kpchk-012345678", &["/tmp/lab/kpchk-0123456789xyz"])));
        assert!(!x.matches(&p("other", &["/tmp/lab/kpchk-0123456789abc"])));
    }

    #[test]
    fn full_command_compares_argv0() {
        let x = m(&["/usr/sbin/haproxy"], None, true);
        assert!(x.matches(&p("haproxy", &["/usr/sbin/haproxy", "-f", "x"])));
        assert!(!x.matches(&p("haproxy", &["haproxy", "-f", "x"])));
    }

    #[test]
    fn parameters_per_param_match() {
        let exact = m(&["nginx", "-c", "/etc/a.conf"], None, false);
        assert!(exact.matches(&p("nginx", &["nginx", "-c", "/etc/a.conf"])));
        assert!(!exact.matches(&p("nginx", &["nginx", "-c", "/etc/a.conf", "-q"])));
        assert!(!exact.matches(&p("nginx", &["nginx", "-c"])));
        let partial = m(&["nginx", "-c"], Some(ParamMatch::Partial), false);
        assert!(partial.matches(&p("nginx", &["nginx", "-c", "/etc/a.conf"])));
        assert!(!partial.matches(&p("nginx", &["nginx", "-q", "-c"])));
        let initial = m(&["nginx", "-c", "/etc/a"], Some(ParamMatch::Initial), false);
        assert!(initial.matches(&p("nginx", &["nginx", "-c", "/etc/a.conf", "-q"])));
        assert!(!initial.matches(&p("nginx", &["nginx", "-c", "/etc/b.conf"])));
        assert!(!initial.matches(&p("nginx", &["nginx", "-c"])));
        let none = m(&["nginx"], Some(ParamMatch::Partial), false);
        assert!(
            none.matches(&p("nginx", &["nginx"])),
            "no parameters wanted"
        );
        assert!(!none.matches(&p("nginx", &["nginx", "-c"])));
        let any = m(&["nginx"], None, false);
        assert!(any.matches(&ProcInfo {
            comm: "nginx".into(),
            argv: None
        }));
    }

    fn quorum(q: u32, max: Option<u32>, fork: u64, term: u64) -> Quorum {
        Quorum::new(&TrackProcess {
            process: vec!["x".into()],
            quorum: q,
            quorum_max: max,
            fork_delay: (fork > 0).then(|| Secs::from_millis(fork)),
            terminate_delay: (term > 0).then(|| Secs::from_millis(term)),
            ..TrackProcess::default()
        })
    }

    #[test]
    fn quorum_and_quorum_max() {
        let t0 = Instant::now();
        let mut q = quorum(2, Some(3), 0, 0);
        assert_eq!(q.settle(t0), Some(false), "the first state is reported");
        q.pids.insert(1);
        assert_eq!(q.settle(t0), None, "one of two is not enough");
        q.pids.insert(2);
        assert_eq!(q.settle(t0), Some(true));
        q.pids.insert(3);
        assert_eq!(q.settle(t0), None);
        q.pids.insert(4);
        assert_eq!(q.settle(t0), Some(false), "more than quorum_max");
        q.pids.remove(&4);
        assert_eq!(q.settle(t0), Some(true));
    }

    #[test]
    fn delays_hold_back_rise_and_fall() {
        let t0 = Instant::now();
        let ms = Duration::from_millis;
        let mut q = quorum(1, None, 500, 2000);
        q.pids.insert(1);
        assert_eq!(q.settle(t0), Some(true), "at start no delay");
        q.pids.clear();
        assert_eq!(q.settle(t0), None, "the fall waits terminate_delay");
        assert_eq!(q.pending, Some((t0 + ms(2000), false)));
        assert_eq!(q.due(t0 + ms(1999)), None);
        assert_eq!(q.settle(t0 + ms(100)), None, "no re-arm on a repeat");
        assert_eq!(q.pending, Some((t0 + ms(2000), false)));
        assert_eq!(q.due(t0 + ms(2000)), Some(false));
        q.pids.insert(5);
        assert_eq!(q.settle(t0 + ms(3000)), None, "the rise waits fork_delay");
        assert_eq!(q.due(t0 + ms(3500)), Some(true));
        // A restart within terminate_delay is never seen by the instances.
        q.pids.clear();
        assert_eq!(q.settle(t0 + ms(4000)), None);
        q.pids.insert(6);
        assert_eq!(q.settle(t0 + ms(4100)), None);
        assert_eq!(q.pending, None);
        assert_eq!(q.due(t0 + ms(9000)), None);
        assert_eq!(q.up, Some(true));
    }

    #[test]
    fn reads_this_process() {
        let me = i32::try_from(std::process::id()).expect("pid");
        let info = read_proc(me, true).expect("our own /proc entry");
        let argv0 = std::env::args().next().expect("argv0");
        assert_eq!(info.argv.as_ref().and_then(|a| a.first()), Some(&argv0));
        assert!(!info.comm.is_empty());
        assert!(scan(false).iter().any(|(p, _)| *p == me));
        assert_eq!(read_proc(i32::MAX, false), None);
    }
    /// Bindings as for scripts: a group's track_process reaches every member with
    /// its weight; a member's own line is weight 0 (FAULT) unless
    /// sync_group_tracking_weight; a line's weight overrides the tracker's.
    #[test]
    fn from_config_bindings() {
        let text = "vrrp_track_process a {\n process kpa\n weight -60\n quorum 2\n delay 1.5\n}\nvrrp_track_process b {\n process /usr/bin/kpb x\n full_command\n weight 10\n}\nvrrp_sync_group G {\n group {\n  VI_2\n }\n track_process {\n  a weight -5\n }\n}\nvrrp_instance VI_1 {\n interface eth0\n virtual_router_id 1\n priority 100\n virtual_ipaddress {\n  10.0.0.1\n }\n track_process {\n  a\n  b reverse\n }\n}\nvrrp_instance VI_2 {\n interface eth0\n virtual_router_id 2\n priority 100\n virtual_ipaddress {\n  10.0.0.2\n }\n track_process {\n  b\n }\n}\n";
        let opts = keepup_config::LoadOptions {
            interfaces: None,
            check_scripts: false,
            ..keepup_config::LoadOptions::for_this_host()
        };
        let cfg = keepup_config::load_str("test.conf", text, &opts).config;
        let plan = crate::plan::plan(&cfg, &|n| (n == "eth0").then_some(2)).expect("plan");
        let (t, problems) = Trackers::from_config(&cfg, &plan, 0);
        assert!(problems.is_empty(), "{problems:?}");
        let w = |name: &str| -> Vec<(usize, i32, bool)> {
            t.processes
                .iter()
                .find(|p| p.name == name)
                .expect("tracker")
                .bindings
                .iter()
                .map(|x| (x.instance.0, x.weight, x.reverse))
                .collect()
        };
        assert_eq!(w("a"), [(0, -60, false), (1, -5, false)]);
        assert_eq!(
            w("b"),
            [(0, 10, true), (1, 0, false)],
            "member weight zeroed"
        );
        let a = &t.processes[0];
        assert_eq!(a.quorum.quorum, 2);
        assert_eq!(a.quorum.fork_delay, Duration::from_millis(1500));
        assert_eq!(a.quorum.terminate_delay, Duration::from_millis(1500));
        let b = t.processes.iter().find(|p| p.name == "b").expect("b");
        assert_eq!(b.matcher.params, ["x"]);
        assert!(b.matcher.full_command);
    }
    /// A real process (a copy of sleep under a name of this test run's own) is
    /// counted by a rescan and by exec/exit events, and forgotten when it is gone.
    #[test]
    fn rescan_and_events_follow_a_real_process() {
        use keepup_sys::ProcEvent;
        use keepup_vrrp::{InstanceId, TrackEffect::Weight};
        let me = std::process::id();
        let dir = std::env::temp_dir().join(format!("keepup-unit-{me}"));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let name = format!("kpu{me}");
        let prog = dir.join(&name);
        std::fs::copy("/bin/sleep", &prog).expect("copy sleep");
        let tp = TrackProcess {
            name: "chk".into(),
            process: vec![name],
            weight: -60,
            ..TrackProcess::default()
        };
        let b = Binding {
            instance: InstanceId(0),
            tracker: 7,
            weight: -60,
            reverse: false,
            last: None,
        };
        let mut t = Trackers {
            processes: vec![ProcessTracker::new(
                &tp,
                ProcessMatch::new(&tp).expect("name"),
                b,
            )],
            ..Trackers::default()
        };
        let now = Instant::now();
        assert_eq!(t.process_rescan(now), [(InstanceId(0), 7, Weight(-60))]);
        let spawn = || {
            std::process::Command::new(&prog)
                .arg("100")
                .spawn()
                .expect("spawn")
        };
        let mut child = spawn();
        let pid = i32::try_from(child.id()).expect("pid");
        // The exec may not have happened yet when the event is handled here; wait
        // for the name the way the kernel would report it (after the exec).
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        while read_proc(pid, false).is_none_or(|i| i.comm != tp.process[0]) {
            assert!(std::time::Instant::now() < deadline, "child never exec'd");
            std::thread::sleep(Duration::from_millis(5));
        }
        assert_eq!(
            t.process_event(ProcEvent::Exec { pid, tgid: pid }, now),
            [(InstanceId(0), 7, Weight(0))]
        );
        assert!(t
            .process_event(ProcEvent::Exec { pid, tgid: pid }, now)
            .is_empty());
        child.kill().expect("kill");
        child.wait().expect("reap");
        assert_eq!(
            t.process_event(ProcEvent::Exit { pid, tgid: pid }, now),
            [(InstanceId(0), 7, Weight(-60))]
        );
        let mut child = spawn();
        let pid = i32::try_from(child.id()).expect("pid");
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        while read_proc(pid, false).is_none_or(|i| i.comm != tp.process[0]) {
            assert!(std::time::Instant::now() < deadline, "child never exec'd");
            std::thread::sleep(Duration::from_millis(5));
        }
        assert_eq!(t.process_rescan(now), [(InstanceId(0), 7, Weight(0))]);
        child.kill().expect("kill");
        child.wait().expect("reap");
        assert_eq!(t.process_rescan(now), [(InstanceId(0), 7, Weight(-60))]);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
