//! The live view of the routers' states, followed in the daemons' logs.
use std::path::PathBuf;
use std::time::{Duration, Instant};

use super::logs::{new_lines, parse_state_line, RouterState};
use super::rel;
use super::report::format_states;

struct Follow {
    name: &'static str,
    log: PathBuf,
    offset: usize,
    state: RouterState,
}

/// Follows the daemons' logs and prints a state line per change. Changes less than
/// [`Live::COALESCE`] apart are one line (r1 becoming Master and r2 answering with
/// Backup a millisecond later read as one event).
pub(super) struct Live {
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

    pub(super) fn new(t0: Duration) -> Live {
        Live {
            t0,
            routers: vec![],
            pending: vec![],
            pending_since: None,
        }
    }

    pub(super) fn add(&mut self, name: &'static str, log: PathBuf) {
        self.routers.push(Follow {
            name,
            log,
            offset: 0,
            state: RouterState::Starting,
        });
    }

    /// Follow a new log for router `i` (its daemon was restarted).
    pub(super) fn follow(&mut self, i: usize, log: PathBuf) {
        if let Some(r) = self.routers.get_mut(i) {
            r.log = log;
            r.offset = 0;
        }
    }

    /// A change the logs cannot tell (the demo killed a daemon).
    pub(super) fn inject(&mut self, at: Duration, i: usize, state: RouterState) {
        self.pending.push((at, i, state));
        self.pending_since.get_or_insert_with(Instant::now);
    }

    pub(super) fn state(&self, i: usize) -> RouterState {
        self.routers
            .get(i)
            .map_or(RouterState::Starting, |r| r.state)
    }

    /// Read new log lines; print what has waited long enough.
    pub(super) fn poll(&mut self) {
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
    pub(super) fn flush(&mut self) {
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
