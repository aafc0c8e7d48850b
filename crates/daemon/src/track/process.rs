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
mod tests;
