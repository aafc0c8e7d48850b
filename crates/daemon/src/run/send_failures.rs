//! Adverts that cannot be sent (a firewall dropping outgoing VRRP, an interface
//! going away): said at the first failure, then at most once a minute with how many
//! failed meanwhile, and once more when sending works again, instead of a line per
//! advert (with 200 instances at 1 s, 200 lines a second).
use keepup_vrrp::InstanceId;
use std::collections::HashMap;
use std::time::Duration;
use tokio::time::Instant;

/// Between two lines about one instance's failing sends.
pub const QUIET: Duration = Duration::from_secs(60);

/// What to log about one send.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Say {
    /// The first failure: say it with its error.
    First,
    /// A failure, a minute or more after the last line: `unsaid` failed since.
    Again { unsaid: u64 },
    /// A failure already said: count it only.
    Quiet,
    /// A send worked after `failed` failures over `lasted`.
    Recovered { failed: u64, lasted: Duration },
}

#[derive(Debug)]
struct Failing {
    since: Instant,
    said: Instant,
    unsaid: u64,
    total: u64,
}

#[derive(Debug, Default)]
pub struct SendFailures {
    failing: HashMap<InstanceId, Failing>,
}

impl SendFailures {
    pub fn failed(&mut self, id: InstanceId, now: Instant) -> Say {
        let Some(f) = self.failing.get_mut(&id) else {
            self.failing.insert(
                id,
                Failing {
                    since: now,
                    said: now,
                    unsaid: 0,
                    total: 1,
                },
            );
            return Say::First;
        };
        f.total += 1;
        if now.saturating_duration_since(f.said) < QUIET {
            f.unsaid += 1;
            return Say::Quiet;
        }
        let unsaid = std::mem::take(&mut f.unsaid);
        f.said = now;
        Say::Again { unsaid }
    }

    /// A send of `id` worked: whether it had been failing.
    pub fn sent(&mut self, id: InstanceId, now: Instant) -> Option<Say> {
        let f = self.failing.remove(&id)?;
        Some(Say::Recovered {
            failed: f.total,
            lasted: now.saturating_duration_since(f.since),
        })
    }

    /// After a reload: forget instances that no longer exist (their ids are reused).
    pub fn clear(&mut self) {
        self.failing.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failing_instance_is_said_once_a_minute_and_when_it_recovers() {
        let t0 = Instant::now();
        let (a, b) = (InstanceId(0), InstanceId(1));
        let mut f = SendFailures::default();
        assert_eq!(f.sent(a, t0), None);
        assert_eq!(f.failed(a, t0), Say::First);
        assert_eq!(f.failed(b, t0), Say::First, "each instance on its own");
        let mut quiet = 0;
        for s in 1..60 {
            let at = t0 + Duration::from_secs(s);
            assert_eq!(f.failed(a, at), Say::Quiet);
            quiet += 1;
        }
        assert_eq!(f.failed(a, t0 + QUIET), Say::Again { unsaid: quiet });
        assert_eq!(f.failed(a, t0 + QUIET + Duration::from_secs(1)), Say::Quiet);
        assert_eq!(
            f.sent(a, t0 + QUIET + Duration::from_secs(2)),
            Some(Say::Recovered {
                failed: 62,
                lasted: QUIET + Duration::from_secs(2)
            })
        );
        assert_eq!(f.sent(a, t0 + QUIET + Duration::from_secs(3)), None);
        // Failing again later starts over with a line at once.
        assert_eq!(f.failed(a, t0 + QUIET * 2), Say::First);
    }
}
