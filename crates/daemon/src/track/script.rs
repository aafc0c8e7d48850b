//! `vrrp_script`: its rise/fall state, how its command line becomes argv, and how
//! one run is started, timed out (with its whole process group) and reaped.
use super::{feed_up_down, Binding, TrackInputs};
use keepup_sys::script::ScriptSpec;
use keepup_vrrp::TrackEffect;
use std::time::Duration;

/// The rise/fall state of one `vrrp_script`, as keepalived 2.2.7 counts it:
/// `result` runs from 0 to rise+fall-1 and the script is OK while `result >= rise`.
/// Before the first run the state is unknown (unless `init_fail`), and the first
/// result decides it at once.
#[derive(Debug, Clone)]
pub struct ScriptState {
    pub(super) rise: u32,
    pub(super) fall: u32,
    result: u32,
    /// No run has finished yet and `init_fail` was not given.
    unknown: bool,
}

impl ScriptState {
    pub fn new(rise: u32, fall: u32, init_fail: bool) -> ScriptState {
        let rise = rise.max(1);
        let fall = fall.max(1);
        ScriptState {
            rise,
            fall,
            result: if init_fail { 0 } else { rise - 1 },
            unknown: !init_fail,
        }
    }

    /// The same verdict under new `rise`/`fall` (a reload changed them): known OK
    /// counts as fully risen, known failed as fully fallen.
    pub fn carried(&self, rise: u32, fall: u32) -> ScriptState {
        let mut s = ScriptState::new(rise, fall, false);
        if let Some(ok) = self.ok() {
            s.unknown = false;
            s.result = if ok { s.rise + s.fall - 1 } else { 0 };
        }
        s
    }

    /// `Some(true)` OK, `Some(false)` failed, `None` not known yet.
    pub fn ok(&self) -> Option<bool> {
        (!self.unknown).then_some(self.result >= self.rise)
    }

    /// One run's outcome; `Some(new state)` when the state changed (or became known).
    pub fn record(&mut self, success: bool) -> Option<bool> {
        let before = self.ok();
        let top = self.rise + self.fall - 1;
        if success {
            if self.result < self.rise - 1 {
                self.result += 1;
            } else {
                self.result = top;
            }
        } else if self.result > self.rise && !self.unknown {
            self.result -= 1;
        } else {
            self.result = 0;
        }
        self.unknown = false;
        let after = self.ok();
        (after != before).then_some(after == Some(true))
    }
}

#[derive(Debug)]
pub struct ScriptTracker {
    pub spec: std::sync::Arc<ScriptSpec>,
    pub interval: Duration,
    pub state: ScriptState,
    pub bindings: Vec<Binding>,
    /// The process group of the run in progress.
    pub running: Option<i32>,
    pub next_run: tokio::time::Instant,
    /// The last exit status, for "now returning N".
    pub last_status: Option<i32>,
}

impl ScriptTracker {
    /// Record a finished run; the inputs to feed.
    pub fn finished(&mut self, success: bool) -> TrackInputs {
        match self.state.record(success) {
            Some(up) => feed_up_down(&mut self.bindings, up),
            None => Vec::new(),
        }
    }

    /// The effects before any run: known with `init_fail`; otherwise a weight-0
    /// binding is pending, so its instance waits in INIT for the first result (as
    /// keepalived does) rather than taking the VIP on an unchecked service.
    pub fn initial(&mut self) -> TrackInputs {
        match self.state.ok() {
            Some(up) => feed_up_down(&mut self.bindings, up),
            None => self
                .bindings
                .iter_mut()
                .filter(|b| b.weight == 0)
                .filter_map(|b| b.update(TrackEffect::Pending))
                .collect(),
        }
    }
}
