//! The tracker glue: runs `vrrp_script`s, reads tracked files, watches tracked
//! processes and interfaces, and turns what it learns into the engine's tracking
//! inputs. The trackers themselves (state, weights, bindings) are `crate::track`.
use super::deadlines::{Due, Table};
use super::incoming::{self, Incoming, ScriptDone};
use crate::plan::Plan;
use crate::track::{Outcome, TrackInputs, Trackers};
use keepup_config::model::Config;
use keepup_sys::Netlink;
use keepup_vrrp::{InstanceId, TrackEffect};
use std::collections::HashMap;
use std::rc::Rc;
use std::time::Duration;
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tracing::{error, info, warn};

/// Tracked files are read once a second (keepalived watches them with inotify);
/// without the process connector, tracked processes are counted as often.
const POLL_EVERY: Duration = Duration::from_secs(1);

pub struct Tracking {
    pub trackers: Trackers,
    nl: Rc<Netlink>,
    /// Where finished scripts and process events are sent (the loop's channel).
    tx: incoming::Sender,
    /// The task forwarding process events (`None`: no process tracked, or /proc is
    /// read each second instead).
    procmon: Option<JoinHandle<()>>,
    /// The next read of the tracked files, and the next count from /proc.
    next_file_poll: Instant,
    next_process_poll: Instant,
}

impl Tracking {
    pub fn new(config: &Config, plan: &Plan, nl: Rc<Netlink>, tx: incoming::Sender) -> Tracking {
        let (trackers, problems) = Trackers::from_config(config, plan, 0);
        for p in problems {
            error!("{p}");
        }
        let now = Instant::now();
        let mut t = Tracking {
            trackers,
            nl,
            tx,
            procmon: None,
            next_file_poll: now,
            next_process_poll: now,
        };
        t.watch_processes();
        t
    }

    /// Arm this part's rows of the loop's deadline table.
    pub fn arm(&self, table: &mut Table) {
        let t = &self.trackers;
        table.set(Due::Scripts, t.next_due());
        table.set(Due::ProcessDelay, t.process_next_due());
        table.set(
            Due::FilePoll,
            (!t.files.is_empty()).then_some(self.next_file_poll),
        );
        let poll_procs = self.procmon.is_none() && !t.processes.is_empty();
        table.set(
            Due::ProcessPoll,
            poll_procs.then_some(self.next_process_poll),
        );
    }

    /// A row of this part fell due: act, and the inputs for the engine.
    pub fn fire(&mut self, row: Due, now: Instant) -> TrackInputs {
        match row {
            Due::Scripts => {
                self.run_due_scripts(now);
                TrackInputs::new()
            }
            Due::FilePoll => {
                self.next_file_poll = now + POLL_EVERY;
                self.poll_files()
            }
            Due::ProcessDelay => self.trackers.process_due(now),
            Due::ProcessPoll => {
                self.next_process_poll = now + POLL_EVERY;
                self.trackers.process_rescan(now)
            }
            _ => TrackInputs::new(),
        }
    }

    /// Before Startup (and after a reload): what is known already (interfaces,
    /// files, scripts with `init_fail` or carried over a reload); weight-0 scripts
    /// not run yet are pending.
    pub async fn initial(&mut self) -> TrackInputs {
        let mut inputs = TrackInputs::new();
        for t in &mut self.trackers.interfaces {
            t.ifindex = self.nl.ifindex(&t.name).await.ok();
            let up = match t.ifindex {
                Some(ifx) => self.nl.link_up(ifx).await.unwrap_or(false),
                None => false,
            };
            if !up {
                info!("Kernel is reporting: interface {} DOWN", t.name);
            }
            inputs.extend(t.set(up));
        }
        for f in &mut self.trackers.files {
            let v = f.read();
            inputs.extend(f.set(v));
        }
        for s in &mut self.trackers.scripts {
            inputs.extend(s.initial());
        }
        inputs.extend(self.trackers.process_rescan(Instant::now()));
        inputs
    }

    /// Start every script that is due and not running.
    fn run_due_scripts(&mut self, now: Instant) {
        for s in &mut self.trackers.scripts {
            if s.running.is_some() || s.next_run > now {
                continue;
            }
            s.next_run = now + s.interval;
            let tx = self.tx.clone();
            let name = s.spec.name.clone();
            match crate::track::start_script(&s.spec) {
                Ok(started) => {
                    let pgid = started.pgid;
                    s.running = Some(pgid);
                    let timeout = s.spec.timeout;
                    tokio::spawn(async move {
                        let done = crate::track::wait_script(started, timeout).await;
                        let _ = tx.send(Incoming::ScriptDone((name, pgid, done)));
                    });
                }
                Err(e) => {
                    s.running = Some(0);
                    let done = crate::track::Finished {
                        outcome: Outcome::CannotRun(e),
                        stderr: String::new(),
                    };
                    let _ = tx.send(Incoming::ScriptDone((name, 0, done)));
                }
            }
        }
    }

    /// A script run ended: keepalived's log lines, then the new effects.
    pub fn script_done(&mut self, (name, pgid, done): ScriptDone) -> TrackInputs {
        let outcome = done.outcome;
        // What it said on stderr, for the lines below (logged when its status changes,
        // not at every run).
        let said = if done.stderr.is_empty() {
            String::new()
        } else {
            format!(" (stderr: {})", done.stderr)
        };
        // A run of a script a reload dropped or changed belongs to no tracker.
        let Some(s) = self
            .trackers
            .scripts
            .iter_mut()
            .find(|s| s.spec.name == name && s.running == Some(pgid))
        else {
            return TrackInputs::new();
        };
        s.running = None;
        // The next run keeps to the interval; runs that fell due while this one was
        // still going are skipped (as keepalived does), never started late in a burst.
        let now = Instant::now();
        if s.next_run < now && !s.interval.is_zero() {
            let behind = (now - s.next_run).as_nanos() / s.interval.as_nanos() + 1;
            s.next_run += s.interval * u32::try_from(behind).unwrap_or(u32::MAX);
        }
        match &outcome {
            Outcome::Exited(code) => {
                if s.last_status != Some(*code) {
                    info!("Script `{name}` now returning {code}{said}");
                    s.last_status = Some(*code);
                }
            }
            Outcome::TimedOut => warn!("Script `{name}` timed out{said}"),
            Outcome::Signaled(_) => s.last_status = None,
            Outcome::CannotRun(e) => error!("Script `{name}` cannot run: {e}"),
        }
        let before = s.state.ok();
        let inputs = s.finished(outcome.success());
        let after = s.state.ok();
        if before != after {
            if after == Some(true) {
                info!("VRRP_Script({name}) succeeded");
            } else {
                info!("VRRP_Script({name}) failed ({})", outcome.describe());
            }
        }
        inputs
    }

    fn poll_files(&mut self) -> TrackInputs {
        let mut inputs = TrackInputs::new();
        for f in &mut self.trackers.files {
            let v = f.read();
            let changed = f.set(v);
            if !changed.is_empty() {
                info!("Track file {} now has value {v}", f.name);
            }
            inputs.extend(changed);
        }
        inputs
    }

    /// A process connector event: only the pids it names are looked at again. A
    /// broken connector is given up for reading /proc each second.
    pub fn process_event(&mut self, ev: keepup_sys::Result<keepup_sys::ProcEvent>) -> TrackInputs {
        let now = Instant::now();
        match ev {
            Ok(ev) => self.trackers.process_event(ev, now),
            Err(e) => {
                warn!("process monitor: {e}; tracked processes are now counted from /proc each second");
                self.procmon = None;
                self.next_process_poll = now + POLL_EVERY;
                self.trackers.process_rescan(now)
            }
        }
    }

    /// A link went up or down: the interface trackers that follow it.
    pub fn link(&mut self, ifindex: u32, name: &str, up: bool) -> TrackInputs {
        let mut inputs = TrackInputs::new();
        for t in &mut self.trackers.interfaces {
            if t.ifindex == Some(ifindex) || (t.ifindex.is_none() && t.name == name) {
                t.ifindex = Some(ifindex);
                inputs.extend(t.set(up));
            }
        }
        if !inputs.is_empty() {
            info!(
                "Kernel is reporting: interface {name} {}",
                if up { "UP" } else { "DOWN" }
            );
        }
        inputs
    }

    /// Reload: trackers from the new configuration. Unchanged scripts keep their
    /// state (and a run in progress); runs of scripts gone or changed are killed.
    /// `kept[i]` is the old id of the new plan's instance `i`, if the engine kept
    /// it. Returns the inputs that make the engine forget the old bindings of the
    /// kept instances, to be fed once the new ones are.
    pub fn rebuild(
        &mut self,
        config: &Config,
        plan: &Plan,
        kept: &[Option<InstanceId>],
    ) -> TrackInputs {
        let (mut trackers, problems) = Trackers::from_config(config, plan, self.trackers.next_id);
        for p in problems {
            error!("{p}");
        }
        let old = std::mem::take(&mut self.trackers);
        let moved: HashMap<usize, InstanceId> = kept
            .iter()
            .enumerate()
            .filter_map(|(i, k)| k.map(|was| (was.0, InstanceId(i))))
            .collect();
        let forget = old
            .bindings()
            .filter_map(|b| {
                Some((
                    *moved.get(&b.instance.0)?,
                    b.tracker,
                    TrackEffect::Weight(0),
                ))
            })
            .collect();
        for pgid in trackers.adopt(old) {
            crate::track::kill_group(pgid);
        }
        self.trackers = trackers;
        self.watch_processes();
        forget
    }

    /// Stopping: scripts still running go with their whole process group.
    pub fn stop(&mut self) {
        for s in &mut self.trackers.scripts {
            if let Some(pgid) = s.running.take().filter(|p| *p > 0) {
                crate::track::kill_group(pgid);
            }
        }
    }

    /// Watch process events if any process is tracked (saying once which way
    /// processes are watched); stop watching if none is.
    fn watch_processes(&mut self) {
        if self.trackers.processes.is_empty() {
            if let Some(h) = self.procmon.take() {
                h.abort();
            }
            return;
        }
        if self.procmon.as_ref().is_some_and(|h| !h.is_finished()) {
            return;
        }
        match keepup_sys::ProcessMonitor::new() {
            Ok(m) => {
                info!(
                    "track_process: watching process events (kernel process connector{})",
                    if m.in_initial_namespace() {
                        ", initial network namespace"
                    } else {
                        ""
                    }
                );
                self.procmon = Some(incoming::forward_processes(m, self.tx.clone()));
            }
            Err(e) => {
                warn!(
                    "track_process: no process events ({e}); counting processes from /proc each second"
                );
                self.procmon = None;
            }
        }
    }
}
