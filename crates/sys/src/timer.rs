//! A timer with the kernel's resolution (timerfd), for the engine's deadlines.
//!
//! tokio's timers tick in milliseconds: a deadline wakes up to a millisecond late,
//! which is a tenth of a 10 ms advert interval and all of the 1 ms budget from a down
//! timer's expiry to the VIP on the wire. A timerfd wakes within the scheduler's
//! slack (about 50 µs).

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::time::{Duration, Instant};
use tokio::io::unix::AsyncFd;

use crate::{Error, Result};

/// The shortest period the timer is left to repeat with (see [`PreciseTimer::wait`]).
const MIN_PERIOD: Duration = Duration::from_millis(1);

/// A timerfd that is set as rarely as it can be.
///
/// A Master at `advert_int 0.01` wakes a hundred times a second to send; each
/// wakeup read the expiry and set the next deadline. The timer now repeats at the
/// distance between the deadline that fired and the next one, so adverts, due at
/// exact multiples of the interval, find it set already (a read restarts it). A
/// one-shot expiry is not read at all: its readiness is forgotten, and setting the
/// timer clears the count. A deadline that moves (a Backup's down timer, pushed
/// back by each advert) is set at once: left to fire early, it would cost a
/// wakeup, and a wakeup costs more than the call that spares it.
pub struct PreciseTimer {
    fd: AsyncFd<OwnedFd>,
    /// When the kernel fires next, as far as this side knows: it may fire earlier
    /// (the loop finds nothing due and waits again), never later.
    next: Option<Instant>,
    /// The repeat interval the timer is set with.
    period: Option<Duration>,
    /// The deadline the caller waits for.
    asked: Option<Instant>,
    /// The expiry seen last, if it was the deadline asked for (not an early
    /// wakeup): what a repeat interval is measured from.
    fired: Option<Instant>,
    /// One reading of both clocks, to turn an `Instant` into the timerfd's
    /// absolute CLOCK_MONOTONIC time.
    origin: (Instant, Duration),
}

impl PreciseTimer {
    pub fn new() -> Result<PreciseTimer> {
        // SAFETY: plain syscall; the fd is checked and owned right after.
        let raw = unsafe {
            libc::timerfd_create(
                libc::CLOCK_MONOTONIC,
                libc::TFD_NONBLOCK | libc::TFD_CLOEXEC,
            )
        };
        if raw < 0 {
            return Err(err("timerfd_create", io::Error::last_os_error()));
        }
        // SAFETY: `raw` is a new fd nobody else owns.
        let fd = unsafe { OwnedFd::from_raw_fd(raw) };
        // The Instant first: the monotonic reading after it is a little later, so a
        // deadline converted with this pair fires a few ns late, never early.
        let at = Instant::now();
        let origin = (at, monotonic_now()?);
        Ok(PreciseTimer {
            fd: crate::register_for(fd, tokio::io::Interest::READABLE)
                .map_err(|e| err("register timerfd", e))?,
            next: None,
            period: None,
            asked: None,
            fired: None,
            origin,
        })
    }

    /// Resolve at `deadline` (never, for `None`), or earlier: a caller that finds
    /// nothing due waits again. Cancel-safe: dropped before it resolves, the timer
    /// stays set, and the next call does not set it again.
    pub async fn wait(&mut self, deadline: Option<Instant>) {
        self.asked = deadline;
        match (deadline, self.next) {
            // Set already (a repeating timer's next expiry may be this deadline).
            (Some(d), Some(next)) if next == d => {}
            (None, None) => {}
            (want, _) => {
                let period = want
                    .zip(self.fired)
                    .and_then(|(d, fired)| d.checked_duration_since(fired))
                    .filter(|p| *p >= MIN_PERIOD);
                if self.set(want, period).is_err() {
                    // timerfd_settime fails only on arguments it never gets here;
                    // should it, the deadline is still kept, a little later.
                    match want {
                        Some(d) => tokio::time::sleep_until(d.into()).await,
                        None => std::future::pending().await,
                    }
                    return;
                }
            }
        }
        if self.next.is_none() {
            return std::future::pending().await;
        }
        let Ok(mut guard) = self.fd.readable().await else {
            return;
        };
        if self.period.is_some() {
            // A repeating timerfd is set for its next expiry by this read (the
            // kernel restarts it there, on the same grid).
            let _ = guard.try_io(|fd| {
                let mut ticks = [0u8; 8];
                // SAFETY: reads 8 bytes into a buffer of 8.
                let n =
                    unsafe { libc::read(fd.get_ref().as_raw_fd(), ticks.as_mut_ptr().cast(), 8) };
                if n < 0 {
                    Err(io::Error::last_os_error())
                } else {
                    Ok(())
                }
            });
        }
        // A one-shot expiry is not read: its count is of no use, and setting the
        // timer clears it.
        guard.clear_ready();
        self.expired(Instant::now());
    }

    /// The timer fired (or woke for an expiry set before): where it fires next.
    fn expired(&mut self, now: Instant) {
        // Deadlines a period apart repeat; one that was pushed back (this expiry
        // came early for it) says nothing of the next.
        self.fired = self.next.filter(|_| self.next == self.asked);
        self.next = match (self.next, self.period) {
            // The first repeat after `now`, at least one on: the expiry seen may be
            // the one this side expected, or an earlier one it was told of late.
            (Some(at), Some(p)) => {
                let behind = now.saturating_duration_since(at).as_nanos() / p.as_nanos();
                let steps = u32::try_from(behind + 1).unwrap_or(u32::MAX);
                at.checked_add(p.saturating_mul(steps))
            }
            _ => None,
        };
    }

    fn set(&mut self, deadline: Option<Instant>, period: Option<Duration>) -> Result<()> {
        // A disarmed timer does not repeat.
        let period = period.filter(|_| deadline.is_some());
        let spec = libc::itimerspec {
            it_interval: timespec(period.unwrap_or_default()),
            it_value: match deadline {
                // Absolute, and never zero (zero disarms): a past deadline fires
                // at once.
                Some(d) => timespec(
                    (self.origin.1 + d.saturating_duration_since(self.origin.0))
                        .max(Duration::from_nanos(1)),
                ),
                None => timespec(Duration::ZERO),
            },
        };
        // SAFETY: a valid timerfd and a fully initialised itimerspec.
        let r = unsafe {
            libc::timerfd_settime(
                self.fd.get_ref().as_raw_fd(),
                libc::TFD_TIMER_ABSTIME,
                &spec,
                std::ptr::null_mut(),
            )
        };
        if r < 0 {
            // The kernel's timer is as it was; nothing here is known of it now but
            // that it fires no later than it did.
            return Err(err("timerfd_settime", io::Error::last_os_error()));
        }
        self.next = deadline;
        self.period = period;
        Ok(())
    }
}

fn timespec(d: Duration) -> libc::timespec {
    libc::timespec {
        tv_sec: libc::time_t::try_from(d.as_secs()).unwrap_or(libc::time_t::MAX),
        tv_nsec: libc::c_long::from(d.subsec_nanos()),
    }
}

/// CLOCK_MONOTONIC now, since its (boot-time) zero.
fn monotonic_now() -> Result<Duration> {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: writes one timespec into a live one.
    if unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) } != 0 {
        return Err(err("clock_gettime", io::Error::last_os_error()));
    }
    let secs = u64::try_from(ts.tv_sec).unwrap_or(0);
    let nanos = u32::try_from(ts.tv_nsec).unwrap_or(0);
    Ok(Duration::new(secs, nanos))
}

fn err(what: &str, e: io::Error) -> Error {
    Error::Io {
        what: what.to_string(),
        source: e,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    /// How the loop waits: again until the deadline is reached (the timer may wake
    /// early, never late).
    async fn until(t: &mut PreciseTimer, at: Instant) -> usize {
        let mut wakeups = 0;
        while Instant::now() < at {
            t.wait(Some(at)).await;
            wakeups += 1;
        }
        wakeups
    }

    #[tokio::test(flavor = "current_thread")]
    async fn fires_at_its_deadline_and_rearms() {
        let mut t = PreciseTimer::new().unwrap();
        for ms in [3u64, 1, 5] {
            let start = Instant::now();
            let at = start + Duration::from_millis(ms);
            until(&mut t, at).await;
            // Never early; how late is for the benchmark to measure (on a busy host
            // a wakeup can be tens of ms late), this only checks that it fires.
            let late = Instant::now().saturating_duration_since(at);
            assert!(late < Duration::from_secs(5), "late by {late:?}");
        }
        // A past deadline fires at once; a changed deadline replaces the old one.
        t.wait(Some(Instant::now() - Duration::from_millis(1)))
            .await;
        let far = Instant::now() + Duration::from_secs(60);
        let near = Instant::now() + Duration::from_millis(2);
        assert!(
            tokio::time::timeout(Duration::from_millis(20), t.wait(Some(far)))
                .await
                .is_err()
        );
        tokio::time::timeout(Duration::from_millis(500), until(&mut t, near))
            .await
            .unwrap();
        // None never fires.
        assert!(
            tokio::time::timeout(Duration::from_millis(20), t.wait(None))
                .await
                .is_err()
        );
    }

    #[tokio::test(flavor = "current_thread")]
    async fn deadlines_a_period_apart_are_kept_without_setting_the_timer_again() {
        let mut t = PreciseTimer::new().unwrap();
        // Long enough that a wakeup late under a busy host still comes before the
        // next expiry.
        let p = Duration::from_millis(25);
        let first = Instant::now() + p;
        until(&mut t, first).await;
        until(&mut t, first + p).await;
        // Set with the period between the two: the next ones are kept as set.
        assert_eq!(t.period, Some(p));
        for k in 2..6 {
            let at = first + p * k;
            // A host so busy that this expiry already passed (the last wakeup came
            // a period late) says nothing about how the timer was set.
            if Instant::now() >= at {
                until(&mut t, at).await;
                continue;
            }
            assert_eq!(t.next, Some(at), "expiry {k} as set");
            assert_eq!(until(&mut t, at).await, 1, "one wakeup for expiry {k}");
        }
        // A deadline off the period sets the timer for it: one wakeup.
        let off = first + p * 6 + p / 2;
        assert_eq!(until(&mut t, off).await, 1);
        // An earlier deadline than the set one sets it.
        let soon = Instant::now() + Duration::from_millis(1);
        until(&mut t, soon).await;
        assert!(t.next.is_none_or(|n| n > soon));
    }
}
