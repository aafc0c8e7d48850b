//! Trackers in the running daemon: `vrrp_script` (run, time out, rise/fall),
//! `track_interface` (netlink link state) and `track_file` (an integer read from a
//! file) and `vrrp_track_process` (matching processes counted, see `process`). Each (tracker, instance) pair has its own tracker id; the driver feeds
//! `Input::Track` whenever that pair's effect changes, and the engine keeps the
//! latest effect per id.
//!
//! The state machine and the weight rules are pure (unit-tested below); running a
//! script is one async function the driver spawns.
use crate::plan::Plan;
use keepup_config::model::vrrp::TrackRef;
use keepup_config::model::Config;
use keepup_vrrp::{InstanceId, TrackEffect};
use std::time::Duration;

mod process;
mod script;
pub(crate) use keepup_sys::script::resolve_user;
pub use keepup_sys::script::{
    kill_group, script_argv, start_script, wait_script, Finished, Outcome, ScriptSpec,
};
pub use process::ProcessTracker;
pub use script::{ScriptState, ScriptTracker};

/// keepalived's contribution rule for a tracker that is either up (script OK,
/// interface up) or down, tracked with `weight` and `reverse`:
/// weight 0 puts the instance in FAULT while down (while up with `reverse`); a
/// positive weight is added while up, a negative one while down; `reverse` negates
/// the adjustment (keepalived's weight multiplier -1).
pub fn up_down_effect(up: bool, weight: i32, reverse: bool) -> TrackEffect {
    if weight == 0 {
        return TrackEffect::Fault(up == reverse);
    }
    let m = if reverse { -1 } else { 1 };
    let w = match (up, weight > 0) {
        (true, true) | (false, false) => weight * m,
        _ => 0,
    };
    TrackEffect::Weight(w)
}

/// keepalived's rule for a tracked file holding `value`: with weight 0, a non-zero
/// value is a failure (FAULT); otherwise value × weight (negated by `reverse`) is
/// added to the priority, and a result below -253 means FAULT.
pub fn file_effect(value: i64, weight: i32, reverse: bool) -> TrackEffect {
    if weight == 0 {
        return TrackEffect::Fault((value != 0) != reverse);
    }
    let m: i64 = if reverse { -1 } else { 1 };
    let p = value.saturating_mul(i64::from(weight)).saturating_mul(m);
    if p < -253 {
        TrackEffect::Fault(true)
    } else {
        TrackEffect::Weight(i32::try_from(p.min(254)).unwrap_or(254))
    }
}

/// The integer a tracked file holds, read as keepalived does (a leading decimal
/// number, optionally signed; anything else, or no file, is 0).
pub fn parse_file_value(text: &str) -> i64 {
    keepup_config::model::TrackFile::value_of(text)
}

/// One (tracker, instance) pair.
#[derive(Debug, Clone)]
pub struct Binding {
    pub instance: InstanceId,
    pub tracker: u32,
    pub weight: i32,
    pub reverse: bool,
    /// What was last fed to the engine.
    pub last: Option<TrackEffect>,
}

impl Binding {
    /// A `track_*` line's binding: its own `weight [reverse]` overrides the tracked
    /// object's (`default`); `weights` false (a sync-group member's own line without
    /// `sync_group_tracking_weight`) makes it weight 0, i.e. FAULT on failure.
    fn new(
        instance: InstanceId,
        next_id: &mut u32,
        r: &TrackRef,
        default: (i32, bool),
        weights: bool,
    ) -> Binding {
        let (weight, reverse) = match r.weight {
            Some(w) => (w, r.reverse),
            None => (default.0, default.1 || r.reverse),
        };
        let tracker = *next_id;
        *next_id += 1;
        Binding {
            instance,
            tracker,
            weight: if weights { weight } else { 0 },
            reverse,
            last: None,
        }
    }
}

impl Binding {
    /// The input to feed if `effect` differs from what the engine has.
    fn update(&mut self, effect: TrackEffect) -> Option<(InstanceId, u32, TrackEffect)> {
        if self.last == Some(effect) {
            return None;
        }
        self.last = Some(effect);
        Some((self.instance, self.tracker, effect))
    }
}

/// The inputs for the engine: (instance, tracker id, effect).
pub type TrackInputs = Vec<(InstanceId, u32, TrackEffect)>;

/// Each binding's effect of an up/down tracker, for those whose effect changed.
fn feed_up_down(bindings: &mut [Binding], up: bool) -> TrackInputs {
    bindings
        .iter_mut()
        .filter_map(|b| b.update(up_down_effect(up, b.weight, b.reverse)))
        .collect()
}

#[derive(Debug)]
pub struct InterfaceTracker {
    pub name: String,
    pub ifindex: Option<u32>,
    /// As last seen (`None`: not yet).
    pub up: Option<bool>,
    pub bindings: Vec<Binding>,
}

impl InterfaceTracker {
    pub fn set(&mut self, up: bool) -> TrackInputs {
        self.up = Some(up);
        feed_up_down(&mut self.bindings, up)
    }
}

#[derive(Debug)]
pub struct FileTracker {
    pub name: String,
    pub path: std::path::PathBuf,
    /// As last read (`None`: not yet).
    pub value: Option<i64>,
    pub bindings: Vec<Binding>,
}

impl FileTracker {
    pub fn set(&mut self, value: i64) -> TrackInputs {
        self.value = Some(value);
        self.bindings
            .iter_mut()
            .filter_map(|b| b.update(file_effect(value, b.weight, b.reverse)))
            .collect()
    }

    /// Read the file now (missing or unreadable: 0).
    pub fn read(&self) -> i64 {
        std::fs::read_to_string(&self.path)
            .map(|t| parse_file_value(&t))
            .unwrap_or(0)
    }
}

/// Every tracker of a configuration.
#[derive(Debug, Default)]
pub struct Trackers {
    pub scripts: Vec<ScriptTracker>,
    pub interfaces: Vec<InterfaceTracker>,
    pub files: Vec<FileTracker>,
    pub processes: Vec<ProcessTracker>,
    /// The next unused tracker id (ids are never reused, so a reload can tell the
    /// engine to forget the old ones).
    pub next_id: u32,
}

impl Trackers {
    /// The trackers that `cfg`'s instances (and their sync groups) name, for the
    /// instances of `plan`. Problems (an unknown user) are returned to be logged;
    /// the tracker is then left out.
    pub fn from_config(cfg: &Config, plan: &Plan, first_id: u32) -> (Trackers, Vec<String>) {
        let mut t = Trackers::default();
        let mut problems = Vec::new();
        let mut next_id = first_id;
        let now = tokio::time::Instant::now();
        for (i, ic) in plan.instances.iter().enumerate() {
            let Some(vi) = cfg.vrrp_instances.iter().find(|v| v.name == ic.name) else {
                continue;
            };
            let group = cfg
                .vrrp_sync_groups
                .iter()
                .find(|g| g.group.iter().any(|m| m.name == vi.name));
            // keepalived sets a member's own tracking weights to 0 (FAULT on
            // failure) unless the group says sync_group_tracking_weight.
            let own_weights = group.is_none_or(|g| g.sync_group_tracking_weight);
            let refs =
                |own: &[TrackRef],
                 grp: fn(&keepup_config::model::vrrp::SyncGroup) -> &[TrackRef]| {
                    let mut v: Vec<(TrackRef, bool)> =
                        own.iter().map(|r| (r.clone(), own_weights)).collect();
                    if let Some(g) = group {
                        v.extend(grp(g).iter().map(|r| (r.clone(), true)));
                    }
                    v
                };
            let id = InstanceId(i);
            for (r, weights) in refs(&vi.track_script, |g| &g.track_script) {
                let Some(s) = cfg.vrrp_scripts.iter().find(|s| s.name == r.name) else {
                    continue;
                };
                let Some(script) = &s.script else {
                    continue;
                };
                let b = Binding::new(id, &mut next_id, &r, (s.weight, s.weight_reverse), weights);
                if let Some(st) = t.scripts.iter_mut().find(|x| x.spec.name == s.name) {
                    st.bindings.push(b);
                    continue;
                }
                // keepalived's choice of user: the script's own, else script_user,
                // else keepalived_script if that user exists, else root.
                let group = if script.user.is_some() {
                    script.group.as_deref()
                } else {
                    cfg.global_defs
                        .script_user
                        .as_ref()
                        .and_then(|u| u.group.as_deref())
                };
                let user = match resolve_user(&keepup_config::script_user(script, cfg), group) {
                    Ok(u) => u,
                    Err(e) => {
                        problems.push(format!("VRRP_Script({}) cannot run: {e}", s.name));
                        continue;
                    }
                };
                let interval = Duration::from_micros(s.interval.micros).max(Duration::from_secs(1));
                let timeout = s
                    .timeout
                    .map(|x| Duration::from_micros(x.micros))
                    .unwrap_or(interval);
                t.scripts.push(ScriptTracker {
                    spec: std::sync::Arc::new(ScriptSpec {
                        name: s.name.clone(),
                        argv: script_argv(&script.command),
                        user: Some(user).filter(|&ids| ids != (0, 0)),
                        timeout,
                    }),
                    interval,
                    state: ScriptState::new(s.rise, s.fall, s.init_fail),
                    bindings: vec![b],
                    running: None,
                    next_run: now,
                    last_status: None,
                });
            }
            // The instance's address VMACs (use_vmac_addr, use_vmac on an address) are
            // followed as its own interface is, as keepalived follows them: one down
            // (an operator's `ip link set ... down`, a deletion) is FAULT.
            let addr_vmacs = plan.effects.get(i).into_iter().flat_map(|e| {
                e.addr_vmacs.iter().map(|v| TrackRef {
                    name: v.link.name.clone(),
                    weight: None,
                    reverse: false,
                    span: Default::default(),
                })
            });
            let own = refs(&vi.track_interface, |g| &g.track_interface);
            for (r, weights) in own.into_iter().chain(addr_vmacs.map(|r| (r, false))) {
                let b = Binding {
                    instance: id,
                    tracker: next_id,
                    weight: if weights { r.weight.unwrap_or(0) } else { 0 },
                    reverse: r.reverse,
                    last: None,
                };
                next_id += 1;
                match t.interfaces.iter_mut().find(|x| x.name == r.name) {
                    Some(x) => x.bindings.push(b),
                    None => t.interfaces.push(InterfaceTracker {
                        name: r.name.clone(),
                        ifindex: None,
                        up: None,
                        bindings: vec![b],
                    }),
                }
            }
            for (r, weights) in refs(&vi.track_file, |g| &g.track_file) {
                let Some(f) = cfg.track_files.iter().find(|f| f.name == r.name) else {
                    continue;
                };
                let Some(path) = &f.file else {
                    continue;
                };
                let b = Binding::new(id, &mut next_id, &r, (f.weight, f.weight_reverse), weights);
                match t.files.iter_mut().find(|x| x.name == f.name) {
                    Some(x) => x.bindings.push(b),
                    None => {
                        if let Some(v) = f.init_file {
                            let p = std::path::Path::new(path);
                            if f.init_file_overwrite || !p.exists() {
                                if let Err(e) = std::fs::write(p, format!("{v}\n")) {
                                    problems.push(format!(
                                        "track_file {}: cannot write {path}: {e}",
                                        f.name
                                    ));
                                }
                            }
                        }
                        t.files.push(FileTracker {
                            name: f.name.clone(),
                            path: path.into(),
                            value: None,
                            bindings: vec![b],
                        });
                    }
                }
            }
            for (r, weights) in refs(&vi.track_process, |g| &g.track_process) {
                let Some(p) = cfg.track_processes.iter().find(|p| p.name == r.name) else {
                    continue;
                };
                let Some(matcher) = process::ProcessMatch::new(p) else {
                    continue;
                };
                let b = Binding::new(id, &mut next_id, &r, (p.weight, p.weight_reverse), weights);
                match t.processes.iter_mut().find(|x| x.name == p.name) {
                    Some(x) => x.bindings.push(b),
                    None => t.processes.push(ProcessTracker::new(p, matcher, b)),
                }
            }
        }
        t.next_id = next_id;
        (t, problems)
    }

    /// Every (tracker, instance) binding.
    pub fn bindings(&self) -> impl Iterator<Item = &Binding> {
        self.scripts
            .iter()
            .flat_map(|x| &x.bindings)
            .chain(self.interfaces.iter().flat_map(|x| &x.bindings))
            .chain(self.files.iter().flat_map(|x| &x.bindings))
            .chain(self.processes.iter().flat_map(|x| &x.bindings))
    }

    /// Reload: take over the running state of every script that runs the same
    /// command as the same user under the same name (its timing may have changed), so
    /// a reload neither forgets a failed check nor starts a second copy of one in
    /// progress. Returns the process groups of runs whose script is gone or
    /// changed, to be killed.
    pub fn adopt(&mut self, old: Trackers) -> Vec<i32> {
        let mut orphans = Vec::new();
        for o in old.scripts {
            let same = self.scripts.iter_mut().find(|n| {
                (&n.spec.name, &n.spec.argv, n.spec.user)
                    == (&o.spec.name, &o.spec.argv, o.spec.user)
            });
            match same {
                Some(n) => {
                    n.state = o.state.carried(n.state.rise, n.state.fall);
                    n.running = o.running;
                    n.next_run = o.next_run;
                    n.last_status = o.last_status;
                }
                None => orphans.extend(o.running.filter(|p| *p > 0)),
            }
        }
        orphans
    }

    /// When the next script is due (none while every script is running).
    pub fn next_due(&self) -> Option<tokio::time::Instant> {
        self.scripts
            .iter()
            .filter(|s| s.running.is_none())
            .map(|s| s.next_run)
            .min()
    }
}

#[cfg(test)]
mod tests;
