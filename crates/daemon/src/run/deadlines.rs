//! The loop's one clock: every deadline the daemon keeps, in one table, behind one
//! timerfd. The engine's next deadline is a row like any other; a new timer is a new
//! row, not a new branch in the loop's `select!`.
use tokio::time::Instant;

/// What a row of the table is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Due {
    /// The engine's `poll_timeout` (adverts, down timers, GARP repeats).
    Engine,
    /// The next ARP probe for our VIPs (every 10 s).
    DuplicateProbe,
    /// The oldest claim on a VIP waiting to be judged a duplicate or a takeover.
    ClaimGrace,
    /// The next `vrrp_script` run that falls due.
    Scripts,
    /// The next read of the tracked files (every second).
    FilePoll,
    /// A `vrrp_track_process` delay or timer running out.
    ProcessDelay,
    /// The next count of tracked processes from /proc (without the process connector).
    ProcessPoll,
    /// The next refresh of the status snapshot (its counters).
    StatusRefresh,
    /// The next ping of systemd's watchdog.
    Watchdog,
    /// The next attempt to write the `no_accept` filter after a failure.
    Firewall,
    /// The VRRP instances' delayed start (`vrrp_startup_delay`,
    /// `vrrp_delay_after_boot`).
    Startup,
    /// The next judgement of a strict VRRP socket filter's sample (see `rx_gate`).
    RxFilter,
}

impl Due {
    const ALL: [Due; 12] = [
        Due::Engine,
        Due::DuplicateProbe,
        Due::ClaimGrace,
        Due::Scripts,
        Due::FilePoll,
        Due::ProcessDelay,
        Due::ProcessPoll,
        Due::StatusRefresh,
        Due::Watchdog,
        Due::Firewall,
        Due::Startup,
        Due::RxFilter,
    ];
}

/// When each row falls due (`None`: not armed).
#[derive(Debug, Default, Clone)]
pub struct Table {
    at: [Option<Instant>; Due::ALL.len()],
}

impl Table {
    pub fn set(&mut self, row: Due, at: Option<Instant>) {
        self.at[row as usize] = at;
    }

    /// Whether `row` is armed.
    pub fn armed(&self, row: Due) -> bool {
        self.at[row as usize].is_some()
    }

    /// The earliest armed row's deadline: what the timer is set to.
    pub fn earliest(&self) -> Option<Instant> {
        self.at.iter().flatten().min().copied()
    }

    /// Whether a row is due at `now`.
    pub fn any_due(&self, now: Instant) -> bool {
        self.earliest().is_some_and(|t| t <= now)
    }

    /// The rows due at `now`, in table order (the engine first), disarmed: the
    /// caller acts on each and arms it again if it repeats.
    pub fn take_due(&mut self, now: Instant) -> Vec<Due> {
        Due::ALL
            .into_iter()
            .filter(|&d| {
                let due = self.at[d as usize].is_some_and(|t| t <= now);
                if due {
                    self.at[d as usize] = None;
                }
                due
            })
            .collect()
    }
}

/// The table and the timerfd that wakes the loop at its earliest row.
pub struct Clock {
    pub table: Table,
    timer: keepup_sys::PreciseTimer,
}

impl Clock {
    pub fn new() -> keepup_sys::Result<Clock> {
        Ok(Clock {
            table: Table::default(),
            timer: keepup_sys::PreciseTimer::new()?,
        })
    }

    /// Resolve when the earliest row falls due (never, with none armed), or now and
    /// then a little before: the loop then finds no row due and waits again.
    /// Cancel-safe.
    pub async fn wait(&mut self) {
        let at = self.table.earliest().map(Instant::into_std);
        self.timer.wait(at).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn the_earliest_row_wakes_and_due_rows_are_taken_once() {
        let t0 = Instant::now();
        let s = Duration::from_secs;
        let mut t = Table::default();
        assert_eq!(t.earliest(), None);
        t.set(Due::FilePoll, Some(t0 + s(1)));
        t.set(Due::Engine, Some(t0 + s(3)));
        t.set(Due::DuplicateProbe, Some(t0 + s(10)));
        assert_eq!(t.earliest(), Some(t0 + s(1)));
        assert!(!t.any_due(t0));
        assert!(t.any_due(t0 + s(1)));
        assert!(t.take_due(t0).is_empty());
        assert_eq!(t.take_due(t0 + s(3)), vec![Due::Engine, Due::FilePoll]);
        // Taken rows are disarmed until armed again.
        assert_eq!(t.earliest(), Some(t0 + s(10)));
        assert!(t.take_due(t0 + s(3)).is_empty());
        t.set(Due::DuplicateProbe, None);
        assert_eq!(t.earliest(), None);
    }
}
