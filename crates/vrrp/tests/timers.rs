//! Timer rules: Skew_Time, Master_Down_Interval, interval adoption, on virtual time.
mod harness;
use harness::*;
use keepup_vrrp::{InitialState, Input, InstanceId, Output, Reason, State};
use std::time::Duration;

const ID: InstanceId = InstanceId(0);

/// Ledger: TMR-02
/// Ledger: TMR-03
/// RFC 3768 §6.1: "Skew_Time  Time to skew Master_Down_Interval in seconds.
/// Calculated as: ( (256 - Priority) / 256 )" and "Master_Down_Interval  Time
/// interval for Backup to declare Master down (seconds). Calculated as:
/// (3 * Advertisement_Interval) + Skew_time". Worked values from the ledger.
#[test]
fn v2_skew_and_down_interval_match_the_worked_values() {
    for (prio, skew_ns, down_ns) in [
        (100, 609_375_000, 3_609_375_000),
        (254, 7_812_500, 3_007_812_500),
        (1, 996_093_750, 3_996_093_750),
    ] {
        let h = H::new(vec![v2(prio)]);
        assert_eq!(h.r.skew_time(ID), ns(skew_ns), "prio {prio}");
        assert_eq!(h.r.down_interval(ID), ns(down_ns), "prio {prio}");
    }
}

/// Ledger: TMR-04
/// Ledger: TMR-05
/// RFC 9568 §6.1: "Skew_Time: Time to skew Active_Down_Interval in centiseconds.
/// Calculated as: (((256 - Priority) * Active_Adver_Interval) / 256)" and
/// "Active_Down_Interval: ... Calculated as: (3 * Active_Adver_Interval) + Skew_Time".
#[test]
fn v3_skew_and_down_interval_match_the_worked_values() {
    for (prio, int_ms, skew_ns, down_ns) in [
        (200, 1000, 218_750_000, 3_218_750_000),
        (100, 100, 60_937_500, 360_937_500),
        (100, 10, 6_093_750, 36_093_750),
    ] {
        let mut c = v3(prio);
        c.advert_int = Duration::from_millis(int_ms);
        let h = H::new(vec![c]);
        assert_eq!(h.r.skew_time(ID), ns(skew_ns), "prio {prio} {int_ms} ms");
        assert_eq!(
            h.r.down_interval(ID),
            ns(down_ns),
            "prio {prio} {int_ms} ms"
        );
    }
}

/// Ledger: TMR-06
/// Ledger: INI-02
/// RFC 9568 §6.4.1: "Set Active_Adver_Interval to Advertisement_Interval" and "Set the
/// Active_Down_Timer to Active_Down_Interval", then "Transition to the {Backup} state".
/// Nothing is sent at startup by a non-owner.
#[test]
fn non_owner_startup_arms_the_full_down_timer_and_sends_nothing() {
    let mut c = v3(100);
    c.advert_int = Duration::from_millis(500);
    let h = H::started(c);
    assert_eq!(h.state(), State::Backup);
    assert_eq!(h.r.master_adver_interval(ID), Duration::from_millis(500));
    assert_eq!(
        h.r.poll_timeout(),
        Some(t(0.0) + ns(1_500_000_000 + 304_687_500))
    );
    assert_eq!(h.adverts().len(), 0);
    assert_eq!(
        h.transitions(),
        vec![(t(0.0), State::Initialize, State::Backup, Reason::Startup)]
    );
}

/// Ledger: TMR-07
/// Ledger: R9-04
/// RFC 9568 §6.4.2: "Set Active_Adver_Interval to Max Advertise Interval contained in
/// the ADVERTISEMENT", "Recompute the Skew_Time", "Recompute the Active_Down_Interval",
/// "Reset the Active_Down_Timer to Active_Down_Interval". A prio-150 Backup configured
/// at 100 cs hearing 20 cs adverts waits 68.28125 cs.
#[test]
fn v3_backup_adopts_the_masters_interval_and_recomputes_skew() {
    let mut h = H::started(v3(150));
    h.run_until(t(1.0));
    let mut p = Peer::of(&v3(200), 200);
    p.repr.interval = 20;
    h.rx(&p);
    assert_eq!(h.r.master_adver_interval(ID), Duration::from_millis(200));
    assert_eq!(h.r.poll_timeout(), Some(t(1.0) + ns(682_812_500)));
    // Opposite: a v2 Backup never changes its interval (RX-12 drops mismatches).
    let mut h = H::started(v2(150));
    h.rx(&Peer::of(&v2(200), 200));
    assert_eq!(h.r.master_adver_interval(ID), Duration::from_secs(1));
}

/// Ledger: TMR-08
/// RFC 9568 §6.4.3: an Active that hears a better Active sets "Active_Adver_Interval to
/// Max Advertise Interval contained in the ADVERTISEMENT", recomputes the skew and the
/// down interval, and arms the Active_Down_Timer before it becomes Backup.
#[test]
fn v3_master_stepping_down_adopts_the_winners_interval() {
    let mut c = v3(100);
    c.state = InitialState::Master;
    let mut h = H::started_at(c.clone(), t(1.0) - down_interval(&c));
    h.run_until(t(1.1));
    assert_eq!(h.state(), State::Master);
    let mut p = Peer::of(&v3(200), 200);
    p.repr.interval = 20;
    h.rx(&p);
    assert_eq!(h.state(), State::Backup);
    // 3 x 200 ms + (156 x 200 ms / 256)
    assert_eq!(
        h.r.poll_timeout(),
        Some(t(1.1) + ns(600_000_000 + 121_875_000))
    );
}

/// Ledger: KA-04
/// `down_timer_adverts` replaces the 3 of the down interval.
#[test]
fn down_timer_adverts_scales_the_down_interval() {
    let mut c = v2(100);
    c.down_timer_adverts = 5;
    let h = H::new(vec![c]);
    assert_eq!(h.r.down_interval(ID), ns(5_609_375_000));
}

/// Ledger: TMR-01
/// Ledger: TX-07
/// RFC 9568 §5.2.7: "The Max Advertise Interval is a 12-bit field that indicates the
/// time interval (in centiseconds) between ADVERTISEMENTS." The advert carries the
/// configured interval in the version's unit, and the current priority.
#[test]
fn adverts_carry_the_interval_in_the_versions_unit() {
    let mut c = v3(255);
    c.state = InitialState::Master;
    c.advert_int = Duration::from_millis(250);
    let h = H::started(c.clone());
    let a = h.first_advert();
    let r = parse_sent(&a, c.source.unwrap());
    assert_eq!(r.interval, 25);
    assert_eq!(r.priority, 255);
    let mut c = v2(255);
    c.state = InitialState::Master;
    c.advert_int = Duration::from_secs(3);
    let h = H::started(c.clone());
    let a = h.first_advert();
    assert_eq!(parse_sent(&a, c.source.unwrap()).interval, 3);
}

/// Ledger: MST-07
/// RFC 3768 §6.4.3: "If the Adver_Timer fires, then: Send an ADVERTISEMENT; Reset the
/// Adver_Timer to Advertisement_Interval". Ten intervals give ten adverts at exact
/// deadlines, and none early.
#[test]
fn master_sends_one_advert_per_interval_at_exact_deadlines() {
    let mut c = v2(255);
    c.state = InitialState::Master;
    let mut h = H::started(c);
    h.run_until(t(10.0));
    let times: Vec<Instant> = h.adverts().iter().map(|(t, _)| *t).collect();
    let want: Vec<Instant> = (0..=10).map(|s| t(f64::from(s))).collect();
    assert_eq!(times, want);
    let mark = h.mark();
    h.run_until(t(11.0) - ns(1));
    assert_eq!(h.adverts_since(mark), 0, "no advert before its deadline");
}

/// Ledger: MST-07
/// "Reset the Adver_Timer to Advertisement_Interval" when it fires: a driver that
/// wakes up late (a loaded host; a VM resumed with its clock moved on) sends the
/// late advert, and the next one comes a whole interval after it, not sooner. The
/// simulation campaign found the opposite (crates/testkit/tests/campaign/
/// regress-392.txt: 969 ms between two adverts of a 1 s Master after a 321 ms
/// pause).
#[test]
fn a_late_advert_is_followed_by_a_whole_interval() {
    let mut c = v2(255);
    c.state = InitialState::Master;
    let mut h = H::started(c);
    h.run_until(t(3.0));
    // The advert due at t=4 is handled at 4.321.
    let mark = h.mark();
    h.now = t(4.321);
    h.r.handle_timeout(h.now);
    h.drain();
    assert_eq!(h.adverts_since(mark), 1);
    let mark = h.mark();
    h.run_until(t(5.321) - ns(1));
    assert_eq!(
        h.adverts_since(mark),
        0,
        "an advert sooner than the interval"
    );
    h.run_until(t(5.321));
    assert_eq!(h.adverts_since(mark), 1);
    // Woken far too late (several intervals): one advert, not a burst to catch up.
    let mark = h.mark();
    h.now = t(9.5);
    h.r.handle_timeout(h.now);
    h.drain();
    assert_eq!(h.adverts_since(mark), 1);
    assert_eq!(h.r.poll_timeout(), Some(t(10.5)));
}

/// Ledger: BKP-07
/// RFC 3768 §6.4.2: "If the Master_Down_Timer fires, then: Send an ADVERTISEMENT;
/// Broadcast a gratuitous ARP request ... for each IP address associated with the
/// virtual router; Set the Adver_Timer to Advertisement_Interval; Transition to the
/// {Master} state". It fires at exactly the down interval after the last advert,
/// never a nanosecond before.
#[test]
fn backup_takes_over_exactly_at_the_down_interval() {
    let mut h = H::started(v2(100));
    h.run_until(t(2.0));
    h.rx(&Peer::of(&v2(200), 200));
    let due = t(2.0) + ns(3_609_375_000);
    h.run_until(due - ns(1));
    assert_eq!(h.state(), State::Backup);
    let mark = h.mark();
    h.run_until(due);
    assert_eq!(h.state(), State::Master);
    let out = h.since(mark);
    assert!(matches!(
        out[0],
        Output::Transition {
            to: State::Master,
            reason: Reason::MasterDown,
            ..
        }
    ));
    assert!(matches!(out[1], Output::Vips { install: true, .. }));
    // Announcements before the advert (the old Master lets go when it hears it).
    let advert = out
        .iter()
        .position(|o| matches!(o, Output::Advert(_)))
        .unwrap();
    assert!(advert > 2);
    assert!(out[2..advert]
        .iter()
        .all(|o| matches!(o, Output::Announce { .. })));
    assert_eq!(h.r.poll_timeout(), Some(due + Duration::from_secs(1)));
}

/// Ledger: BKP-08
/// RFC 3768 §6.4.2: "If the Priority in the ADVERTISEMENT is Zero, then: Set the
/// Master_Down_Timer to Skew_Time".
#[test]
fn priority_zero_advert_sets_the_down_timer_to_skew_time() {
    let mut h = H::started(v2(100));
    h.run_until(t(1.0));
    h.rx(&Peer::of(&v2(200), 200));
    h.run_until(t(1.5));
    h.rx(&Peer::of(&v2(200), 0));
    assert_eq!(h.r.poll_timeout(), Some(t(1.5) + ns(609_375_000)));
    h.run_until(t(3.0));
    let last = *h.transitions().last().unwrap();
    assert_eq!(
        last,
        (
            t(1.5) + ns(609_375_000),
            State::Backup,
            State::Master,
            Reason::PriorityZero
        )
    );
    assert_eq!(h.counters().rcvd_pri_zero_packets, 1);
}

/// Ledger: KA-02
/// Ledger: INI-02
/// `state MASTER` below 255 starts as Backup with the full down interval, exactly as
/// `state BACKUP` does (INI-02). keepalived 2.2.7 measured the same in a lab (3.65 s
/// every run): its instances leave INIT through the path that arms the full interval.
/// Newer keepalived source also has a one-interval first timer for this case; keepup
/// does not follow it, because with it one lost advert from a better Master at a
/// restart claims the VIPs and flaps (see the next test).
#[test]
fn non_owner_state_master_starts_backup_with_the_full_down_interval() {
    for (c, down) in [
        (v2(100), ns(3_609_375_000)),
        (
            keepup_vrrp::InstanceConfig {
                advert_int: Duration::from_millis(500),
                ..v3(100)
            },
            ns(1_500_000_000 + 304_687_500),
        ),
    ] {
        let mut master = c.clone();
        master.state = InitialState::Master;
        let h = H::started(master);
        assert_eq!(h.state(), State::Backup);
        assert_eq!(h.r.poll_timeout(), Some(t(0.0) + down));
        let h = H::started(c);
        assert_eq!(h.r.poll_timeout(), Some(t(0.0) + down));
    }
}

/// Ledger: KA-02
/// A router restarting with `state MASTER` below a better Master never takes over
/// because one of that Master's adverts was lost: whatever the phase of the restart
/// against the Master's adverts (every 10 ms of it), with the first advert after the
/// start lost, the instance stays Backup and never sends an advert.
#[test]
fn one_lost_advert_at_start_never_makes_a_restarting_router_master() {
    for (ours, theirs) in [(v2(100), v2(200)), (v3(100), v3(200))] {
        let interval = theirs.advert_int;
        for phase_ms in (0..interval.as_millis() as u64).step_by(10) {
            let mut c = ours.clone();
            c.state = InitialState::Master;
            let mut h = H::started(c);
            let peer = Peer::of(&theirs, 200);
            // The better Master's adverts: the first after the start is lost.
            let mut at = t(0.0) + Duration::from_millis(phase_ms) + interval;
            while at < t(12.0) {
                h.run_until(at);
                h.rx(&peer);
                at = at + interval;
            }
            h.run_until(t(12.0));
            assert!(
                h.transitions().iter().all(|tr| tr.2 != State::Master),
                "phase {phase_ms} ms: {:?}",
                h.transitions()
            );
            assert!(h.adverts().is_empty(), "phase {phase_ms} ms");
        }
    }
}

/// Ledger: PRE-02
/// Ledger: INI-01
/// RFC 3768 §6.4.1: "If the Priority = 255 (i.e., the router owns the IP address(es)
/// associated with the virtual router), then: Send an ADVERTISEMENT; Broadcast a
/// gratuitous ARP request ...; Set the Adver_Timer to Advertisement_Interval;
/// Transition to the {Master} state". The owner takes over even with nopreempt.
#[test]
fn owner_starts_master_at_once_with_announcements_then_advert() {
    let mut c = v2(255);
    c.state = InitialState::Master;
    c.preempt = false;
    let h = H::started(c);
    assert_eq!(h.state(), State::Master);
    let out = h.since(0);
    assert!(matches!(
        out[0],
        Output::Transition {
            from: State::Initialize,
            to: State::Master,
            reason: Reason::Startup,
            ..
        }
    ));
    assert!(matches!(out[1], Output::Vips { install: true, .. }));
    let announces = out
        .iter()
        .filter(|o| matches!(o, Output::Announce { .. }))
        .count();
    assert_eq!(announces, 5, "garp_master_repeat 5 (KA-15)");
    assert!(out[2..7]
        .iter()
        .all(|o| matches!(o, Output::Announce { .. })));
    assert!(matches!(out[7], Output::Advert(_)));
    assert_eq!(h.adverts(), vec![(t(0.0), 255)]);
    // Adver_Timer at one interval; the second announcement burst at 5 s.
    assert_eq!(h.r.poll_timeout(), Some(t(1.0)));
    assert_eq!(
        h.r.counters(ID).new_master_reason,
        keepup_vrrp::counters::NewMasterReason::Priority
    );
}

/// Ledger: KA-15
/// keepalived's announcement schedule: `garp_master_repeat` per VIP on becoming
/// Master, again after `garp_master_delay`, `garp_interval` apart, and every
/// `garp_master_refresh` if set. Strict mode sends one per VIP (the RFC's rule).
#[test]
fn garp_schedule_follows_repeat_delay_interval_and_refresh() {
    let mut c = v2(255);
    c.state = InitialState::Master;
    c.garp.master_repeat = 3;
    c.garp.interval = Duration::from_millis(100);
    c.garp.master_delay = Duration::from_secs(2);
    c.garp.master_refresh = Duration::from_secs(10);
    c.garp.master_refresh_repeat = 2;
    let mut h = H::started(c.clone());
    h.run_until(t(12.0));
    let times: Vec<Instant> = h
        .log
        .iter()
        .filter(|(_, o)| matches!(o, Output::Announce { .. }))
        .map(|(t, _)| *t)
        .collect();
    assert_eq!(
        times,
        vec![
            t(0.0),
            t(0.1),
            t(0.2),
            t(2.0),
            t(2.1),
            t(2.2),
            t(10.0),
            t(10.1)
        ]
    );
    c.strict = true;
    let mut h = H::started(c);
    h.run_until(t(3.0));
    let n = h
        .log
        .iter()
        .filter(|(_, o)| matches!(o, Output::Announce { .. }))
        .count();
    assert_eq!(n, 1);
    let _ = Input::Startup;
}

/// Issue 17: a priority-0 flood starting just after a takeover. Each such advert makes
/// the Master answer and re-arm its Adver_Timer (MST-06); the timer heap must stay
/// bounded by the live timers (it grew by one entry per packet), and the second GARP
/// burst (`garp_master_delay`, 5 s after the takeover) must still go out on time.
#[test]
fn priority_zero_flood_keeps_the_timer_heap_bounded_answers_and_the_garp_round_on_time() {
    let mut c = v2(100);
    c.state = InitialState::Master;
    let mut h = H::started(c.clone());
    // The takeover: an initial-state Master with priority < 255 waits one down
    // interval, then becomes Master.
    h.run_until(t(3.7));
    let (took_over, ..) = *h
        .transitions()
        .iter()
        .find(|(_, _, to, _)| *to == State::Master)
        .expect("became Master");
    let flood = Peer::of(&v2(50), 0);
    let bytes = flood.bytes();
    // 2000 packets/s of engine time for 10 s, from 0.5 s after the takeover.
    let mut at = took_over + Duration::from_millis(500);
    assert!(
        at > h.now,
        "the flood starts after the takeover, in engine time"
    );
    let mut most = 0;
    for _ in 0..20_000 {
        at = at + Duration::from_micros(500);
        h.run_until(at);
        h.rx_bytes(&flood, &bytes);
        most = most.max(h.r.timer_entries());
    }
    assert_eq!(h.state(), State::Master);
    // Answered at once, but at most once a millisecond (zero_answer_gap): 20,000
    // packets 0.5 ms apart, about 10,000 answers, never two within a millisecond.
    let answers: Vec<Instant> = h
        .adverts()
        .iter()
        .map(|(at, _)| *at)
        .filter(|at| *at > took_over + Duration::from_millis(500))
        .collect();
    assert!(
        (9_000..=10_100).contains(&answers.len()),
        "{} answers",
        answers.len()
    );
    let close: Vec<_> = answers
        .windows(2)
        .filter(|w| w[1] - w[0] < Duration::from_millis(1))
        .collect();
    assert!(close.is_empty(), "{close:?}");
    assert!(
        most <= 2 * 64,
        "the timer heap held {most} entries for a handful of live timers"
    );
    let announces: Vec<Instant> = h
        .log
        .iter()
        .filter(|(_, o)| matches!(o, Output::Announce { .. }))
        .map(|(at, _)| *at)
        .collect();
    let delayed: Vec<&Instant> = announces
        .iter()
        .filter(|at| **at >= took_over + c.garp.master_delay)
        .collect();
    assert_eq!(
        delayed.first().copied(),
        Some(&(took_over + c.garp.master_delay)),
        "the second GARP burst is due garp_master_delay after the takeover: {announces:?}"
    );
}
