//! When the VRRP sockets' kernel filter judges VRIDs, versions and passwords.
//!
//! The filter ([`keepup_sys::RxFilter`]) always drops what keepup can never accept
//! whatever it runs (a multicast TTL other than 255, a version other than 2 and 3,
//! another message type). It is *open* for the rest: an advert for a VRID no
//! instance here runs, of a version they do not run or with a password none of them
//! has reaches the engine, which names a neighbouring virtual router, a VIP another
//! VRID claims and a mismatched peer at once. Under a flood of such adverts that
//! costs a wakeup per few packets, so the daemon measures them: past
//! [`ENGAGE_PER_SEC`] it attaches the *strict* program, which drops them in the
//! kernel but for a 1-in-64 sample, and from that sample it sees when the flood has
//! passed ([`RELEASE_PER_SEC`] over [`STRICT_WINDOW`]) and opens the filter again.
//! While it is strict, a new neighbour or a peer's mistake is named late (from the
//! sample); the log says when it starts and ends.
use keepup_sys::{rx_filter_keeps, RxFilter, RxFilterInsn, RxFilterLayout as Layout};
use std::time::Duration;
use tokio::time::Instant;

/// Adverts per second only the strict program would drop that make it engage:
/// far above a LAN's neighbours (300 foreign VRIDs at 1 s), far below a flood.
pub const ENGAGE_PER_SEC: u64 = 1000;
/// ... measured over at least this long (a burst of many neighbours' adverts sent
/// in step is not a flood).
const MEASURE: Duration = Duration::from_millis(250);
/// While strict, the flood's rate is estimated from the sample over this long.
pub const STRICT_WINDOW: Duration = Duration::from_secs(5);
/// The estimate under which the filter opens again.
pub const RELEASE_PER_SEC: u64 = ENGAGE_PER_SEC / 4;

/// A change of the filter, to attach and to log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    /// Attach the strict program: such adverts arrive at about this rate.
    Engage { per_sec: u64 },
    /// Attach the open program again: the estimate fell to this rate, after about
    /// `dropped` adverts were dropped in the kernel over `lasted`.
    Release {
        per_sec: u64,
        dropped: u64,
        lasted: Duration,
    },
}

/// The measure and the mode of one socket's filter (sans-IO: time is an argument).
#[derive(Debug, Default)]
pub struct Gate {
    /// When the strict program went on, if it is on.
    strict_since: Option<Instant>,
    /// The current window: its start and what was counted in it.
    window: Option<Instant>,
    counted: u64,
    /// While strict: the estimate of what the kernel dropped so far.
    dropped: u64,
}

fn per_sec(count: u64, over: Duration) -> u64 {
    let ns = over.as_nanos().max(1);
    u64::try_from(u128::from(count) * 1_000_000_000 / ns).unwrap_or(u64::MAX)
}

impl Gate {
    pub fn strict(&self) -> bool {
        self.strict_since.is_some()
    }

    /// One advert the strict program would have dropped reached the daemon (while
    /// strict: one of the sample).
    pub fn counted(&mut self, now: Instant) -> Option<Change> {
        let start = *self.window.get_or_insert(now);
        self.counted += 1;
        if self.strict() {
            return None;
        }
        let over = now.saturating_duration_since(start);
        if over < MEASURE {
            return None;
        }
        let rate = per_sec(self.counted, over);
        self.window = Some(now);
        self.counted = 0;
        if rate < ENGAGE_PER_SEC {
            return None;
        }
        self.strict_since = Some(now);
        self.dropped = 0;
        Some(Change::Engage { per_sec: rate })
    }

    /// While strict, when the sample is next judged.
    pub fn deadline(&self) -> Option<Instant> {
        self.strict_since?;
        self.window.map(|w| w + STRICT_WINDOW)
    }

    /// The deadline came: the sample's estimate, and whether the flood is over.
    pub fn tick(&mut self, now: Instant) -> Option<Change> {
        let since = self.strict_since?;
        let start = self.window.unwrap_or(since);
        let over = now.saturating_duration_since(start);
        if over < STRICT_WINDOW {
            return None;
        }
        let estimate = self
            .counted
            .saturating_mul(u64::from(keepup_sys::RX_FILTER_SAMPLE));
        let rate = per_sec(estimate, over);
        self.dropped = self.dropped.saturating_add(estimate);
        self.window = Some(now);
        self.counted = 0;
        if rate >= RELEASE_PER_SEC {
            return None;
        }
        self.strict_since = None;
        self.window = None;
        Some(Change::Release {
            per_sec: rate,
            dropped: self.dropped,
            lasted: now.saturating_duration_since(since),
        })
    }
}

/// One socket's filter: its lists, both programs per layout, and its gate.
#[derive(Debug)]
pub struct SocketFilter {
    pub lists: RxFilter,
    programs: Vec<(Layout, Vec<RxFilterInsn>, Vec<RxFilterInsn>)>,
    pub gate: Gate,
}

impl SocketFilter {
    pub fn new(lists: RxFilter, v6: bool) -> SocketFilter {
        let layouts: &[Layout] = if v6 {
            &[Layout::V6]
        } else {
            &[Layout::V4, Layout::V4Ah]
        };
        let strict = lists.strict();
        let programs = (layouts.iter())
            .map(|l| (*l, lists.program(*l), strict.program(*l)))
            .collect();
        SocketFilter {
            lists,
            programs,
            gate: Gate::default(),
        }
    }

    /// The filter to attach now.
    pub fn current(&self) -> RxFilter {
        if self.gate.strict() {
            self.lists.strict()
        } else {
            self.lists.clone()
        }
    }

    /// Whether `data` (as read: IPv4 from its header, IPv6 from the VRRP header) is
    /// an advert the open program keeps and the strict one drops.
    pub fn only_open_keeps(&self, data: &[u8], v6: bool) -> bool {
        let layout = if v6 {
            Layout::V6
        } else if data.get(9).map(|p| i32::from(*p)) == Some(keepup_sys::PROTO_AH) {
            Layout::V4Ah
        } else {
            Layout::V4
        };
        self.programs
            .iter()
            .find(|(l, _, _)| *l == layout)
            // The strict program first: what it keeps (every advert an instance
            // here may accept) costs one run.
            .is_some_and(|(_, open, strict)| {
                !rx_filter_keeps(strict, data) && rx_filter_keeps(open, data)
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn feed(g: &mut Gate, from: Instant, per_sec: u64, secs: u64) -> Vec<(Duration, Change)> {
        let step = Duration::from_nanos(1_000_000_000 / per_sec);
        let mut out = Vec::new();
        for i in 0..per_sec * secs {
            let at = from + step * u32::try_from(i).unwrap();
            if let Some(c) = g.counted(at) {
                out.push((at - from, c));
            }
        }
        out
    }

    #[test]
    fn a_neighbourhood_never_engages_it() {
        let t0 = Instant::now();
        let mut g = Gate::default();
        // 300 foreign VRIDs advertising in step every second: bursts of 300.
        for s in 0..20u64 {
            for i in 0..300u32 {
                let at = t0 + Duration::from_secs(s) + Duration::from_micros(5) * i;
                assert_eq!(g.counted(at), None);
            }
        }
        assert_eq!(feed(&mut g, t0 + Duration::from_secs(30), 900, 5), vec![]);
        assert!(!g.strict() && g.deadline().is_none());
    }

    #[test]
    fn a_flood_engages_it_within_the_measure_and_its_end_releases_it() {
        let t0 = Instant::now();
        let mut g = Gate::default();
        let changes = feed(&mut g, t0, 60_000, 1);
        let (at, c) = changes[0];
        assert_eq!(changes.len(), 1);
        assert!(
            at >= MEASURE && at < MEASURE + Duration::from_millis(1),
            "{at:?}"
        );
        assert!(
            matches!(c, Change::Engage { per_sec } if per_sec > 59_000),
            "{c:?}"
        );
        assert!(g.strict());
        // The flood goes on: the sample (1 in 64) keeps it strict.
        let mut now = t0 + Duration::from_secs(1);
        for _ in 0..4 {
            let d = g.deadline().unwrap();
            feed(&mut g, now, 60_000 / 64, (d - now).as_secs().max(1));
            now = d;
            assert_eq!(g.tick(now), None);
            assert!(g.strict());
        }
        // Early ticks do nothing.
        assert_eq!(g.tick(now + Duration::from_secs(1)), None);
        // It ends: the next judgement opens the filter again.
        let d = g.deadline().unwrap();
        match g.tick(d) {
            Some(Change::Release {
                per_sec,
                dropped,
                lasted,
            }) => {
                assert_eq!(per_sec, 0);
                assert!(dropped > 1_000_000, "{dropped}");
                assert!(lasted > Duration::from_secs(20), "{lasted:?}");
            }
            other => panic!("{other:?}"),
        }
        assert!(!g.strict() && g.deadline().is_none());
        // A stray advert later does not engage it again.
        assert_eq!(g.counted(d + Duration::from_secs(60)), None);
        assert_eq!(g.counted(d + Duration::from_secs(61)), None);
    }

    #[test]
    fn a_flood_that_persists_slowly_keeps_it_strict() {
        let t0 = Instant::now();
        let mut g = Gate::default();
        feed(&mut g, t0, 5_000, 1);
        assert!(g.strict());
        // 500/s estimated (8 sampled per second) is above the release rate.
        let mut now = t0 + Duration::from_secs(1);
        for _ in 0..3 {
            let d = g.deadline().unwrap();
            feed(&mut g, now, 8, (d - now).as_secs());
            assert_eq!(g.tick(d), None);
            now = d;
        }
        assert!(g.strict());
    }

    #[test]
    fn only_what_the_strict_program_alone_drops_is_counted() {
        let lists = RxFilter {
            versions: vec![2],
            vrids: vec![(51, Some(vec![*b"secret\0\0"]))],
            any_vrid: true,
        };
        let f = SocketFilter::new(lists, false);
        let advert = |ttl: u8, vrid: u8, pass: &[u8; 8]| {
            let mut p = vec![0x45, 0xc0, 0, 40, 0, 0, 0, 0, ttl, 112, 0, 0];
            p.extend_from_slice(&[10, 0, 0, 2, 224, 0, 0, 18]);
            p.extend_from_slice(&[0x21, vrid, 100, 1, 1, 1, 0, 0, 10, 0, 0, 100]);
            p.extend_from_slice(pass);
            p
        };
        assert!(!f.only_open_keeps(&advert(255, 51, b"secret\0\0"), false));
        assert!(f.only_open_keeps(&advert(255, 52, b"secret\0\0"), false));
        assert!(f.only_open_keeps(&advert(255, 51, b"wrong\0\0\0"), false));
        // TTL 64 on multicast: both programs drop it (the sample reaching us is not
        // a flood the strict program could stop).
        assert!(!f.only_open_keeps(&advert(64, 52, b"secret\0\0"), false));
        assert!(!f.only_open_keeps(&[0x45], false));
        assert!(f.current().any_vrid);
    }
}
