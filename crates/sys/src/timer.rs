//! A timer with the kernel's resolution (timerfd), for the engine's deadlines.
//!
//! tokio's timers tick in milliseconds: a deadline wakes up to a millisecond late,
//! which is a tenth of a 10 ms advert interval and all of the 1 ms budget from a down
//! timer's expiry to the VIP on the wire. A timerfd wakes within the scheduler's
//! slack (about 50 µs).

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::time::Instant;
use tokio::io::unix::AsyncFd;

use crate::{Error, Result};

pub struct PreciseTimer {
    fd: AsyncFd<OwnedFd>,
    /// The deadline the timerfd is set to.
    armed: Option<Instant>,
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
        Ok(PreciseTimer {
            fd: crate::register(fd).map_err(|e| err("register timerfd", e))?,
            armed: None,
        })
    }

    /// Resolve at `deadline` (never, for `None`). Cancel-safe: dropped before it
    /// resolves, the timer stays set, and the next call with the same deadline
    /// does not set it again.
    pub async fn wait(&mut self, deadline: Option<Instant>) {
        if deadline != self.armed {
            if self.set(deadline).is_err() {
                // timerfd_settime fails only on arguments it never gets here; should
                // it, the deadline is still kept, a little later.
                match deadline {
                    Some(d) => tokio::time::sleep_until(d.into()).await,
                    None => std::future::pending().await,
                }
                return;
            }
            self.armed = deadline;
        }
        if self.armed.is_none() {
            return std::future::pending().await;
        }
        loop {
            let Ok(mut guard) = self.fd.readable().await else {
                return;
            };
            let read = guard.try_io(|fd| {
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
            if let Ok(Ok(())) = read {
                self.armed = None;
                return;
            }
        }
    }

    fn set(&self, deadline: Option<Instant>) -> Result<()> {
        let value = match deadline {
            // A deadline already past fires at once (a zero value would disarm).
            Some(d) => d
                .saturating_duration_since(Instant::now())
                .max(std::time::Duration::from_nanos(1)),
            None => std::time::Duration::ZERO,
        };
        let spec = libc::itimerspec {
            it_interval: libc::timespec {
                tv_sec: 0,
                tv_nsec: 0,
            },
            it_value: libc::timespec {
                tv_sec: libc::time_t::try_from(value.as_secs()).unwrap_or(libc::time_t::MAX),
                tv_nsec: libc::c_long::from(value.subsec_nanos()),
            },
        };
        // SAFETY: a valid timerfd and a fully initialised itimerspec.
        let r = unsafe {
            libc::timerfd_settime(
                self.fd.get_ref().as_raw_fd(),
                0,
                &spec,
                std::ptr::null_mut(),
            )
        };
        if r < 0 {
            return Err(err("timerfd_settime", io::Error::last_os_error()));
        }
        Ok(())
    }
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

    #[tokio::test(flavor = "current_thread")]
    async fn fires_at_its_deadline_and_rearms() {
        let mut t = PreciseTimer::new().unwrap();
        for ms in [3u64, 1, 5] {
            let start = Instant::now();
            let at = start + Duration::from_millis(ms);
            t.wait(Some(at)).await;
            // Never early; how late is for the benchmark to measure (on a busy host
            // a wakeup can be tens of ms late), this only checks that it fires.
            let late = Instant::now().saturating_duration_since(at);
            assert!(Instant::now() >= at);
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
        tokio::time::timeout(Duration::from_millis(500), t.wait(Some(near)))
            .await
            .unwrap();
        // None never fires.
        assert!(
            tokio::time::timeout(Duration::from_millis(20), t.wait(None))
                .await
                .is_err()
        );
    }
}
