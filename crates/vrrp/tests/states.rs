//! State machine rules: Backup, Master, Shutdown, Fault, sync groups, tracking.
mod harness;
use harness::*;
use keepup_vrrp::{
    Event, InitialState, Input, InstanceConfig, InstanceId, Output, Reason, State, SyncGroupConfig,
    TrackEffect,
};
use keepup_wire::vrrp::Version;
use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

const ID: InstanceId = InstanceId(0);

/// A Master at `c.priority`, alone on its LAN, run to t(1.5). It is started one
/// down interval (INI-02) before it becomes Master at one advert interval and
/// 1/256 (of a second in v2, of the interval in v3), the instant these tests'
/// advert times count from.
fn master(c: InstanceConfig) -> H {
    let mut c = c;
    c.state = InitialState::Master;
    let down = down_interval(&c);
    let first = match c.version {
        Version::V2 => t(1.0) + ns(3_906_250),
        Version::V3 => t(0.0) + c.advert_int + c.advert_int / 256,
    };
    let mut h = H::started_at(c, first - down);
    h.run_until(t(1.5));
    assert_eq!(h.state(), State::Master);
    h
}

/// Ledger: BKP-06
/// RFC 3768 §6.4.2: "If a Shutdown event is received, then: Cancel the
/// Master_Down_Timer; Transition to the {Initialize} state". No advert is sent.
#[test]
fn backup_shutdown_cancels_the_down_timer_and_sends_nothing() {
    let mut h = H::started(v2(100));
    h.input(Input::Shutdown);
    assert_eq!(h.state(), State::Stop);
    assert_eq!(h.r.poll_timeout(), None);
    assert!(h.adverts().is_empty());
}

/// Planned switchover (`handover`): a stopping Master still sends priority 0 at
/// once (MST-06) but keeps its VIPs, so clients are answered until the Backup has
/// taken over (Skew_Time later); the new Master's first advert releases them. No
/// other advert is sent meanwhile. Without a new Master, they go at the down
/// interval; a driver that cannot wait lets go of all at once.
#[test]
fn handover_keeps_the_vips_until_the_new_master_is_heard() {
    let mut c = v2(150);
    c.handover = true;
    let mut h = master(c.clone());
    let mark = h.mark();
    h.input(Input::Shutdown);
    let out = h.since(mark);
    assert_eq!(*h.adverts().last().unwrap(), (t(1.5), 0));
    assert!(!out.iter().any(|o| matches!(o, Output::Vips { .. })));
    assert_eq!(h.state(), State::Stop);
    assert!(h.r.holding());
    // The Backup (100) takes over after its skew (0.61 s) and advertises.
    h.run_until(t(2.11));
    assert_eq!(h.adverts().last().unwrap().1, 0, "nothing more is sent");
    let mark = h.mark();
    h.rx(&Peer::of(&c, 100));
    // Its announcements follow its advert: the VIPs go with them, or 50 ms later.
    assert!(h.r.holding());
    h.run_until(t(2.159));
    assert!(h.r.holding());
    h.run_until(t(2.161));
    let out = h.since(mark);
    assert!(out.iter().any(|o| matches!(
        o,
        Output::Event(Event::HandedOver {
            how: keepup_vrrp::Handover::Advert(_),
            ..
        })
    )));
    assert!(out
        .iter()
        .any(|o| matches!(o, Output::Vips { install: false, .. })));
    assert!(!h.r.holding());
    assert_eq!(h.r.poll_timeout(), None);

    // The new Master's gratuitous ARP: at once.
    let mut h = master(c.clone());
    h.input(Input::Shutdown);
    h.run_until(t(2.11));
    h.rx(&Peer::of(&c, 100));
    h.input(Input::Claimed { instance: ID });
    assert!(!h.r.holding());
    assert_eq!(h.r.poll_timeout(), None);

    // Nobody takes over: the VIPs go once the slowest Backup (priority 1, skew
    // 255/256 s) would have advertised, a second later: 1.996 s.
    let mut h = master(c.clone());
    h.input(Input::Shutdown);
    let mark = h.mark();
    h.run_until(t(1.5 + 1.99));
    assert!(h.r.holding());
    h.run_until(t(1.5 + 2.0));
    assert!(!h.r.holding());
    assert!(h
        .since(mark)
        .iter()
        .any(|o| matches!(o, Output::Vips { install: false, .. })));

    // A large advert_int does not make a lone Master's stop take minutes (the down
    // interval would be 3 × 255 s): the same 1.996 s in v2 (in v3 the bound scales
    // with the interval, as the Backups' skew does).
    let mut slow = c.clone();
    slow.advert_int = std::time::Duration::from_secs(255);
    slow.state = InitialState::Master;
    let mut h = H::started(slow);
    h.run_until(t(800.0));
    assert_eq!(h.state(), State::Master);
    h.input(Input::Shutdown);
    let stopped = h.now;
    h.run_until(stopped + ns(1_990_000_000));
    assert!(h.r.holding());
    h.run_until(stopped + ns(2_000_000_000));
    assert!(
        !h.r.holding(),
        "a lone v2 Master with advert_int 255 lets go in 2 s"
    );

    // The driver cannot wait.
    let mut h = master(c.clone());
    h.input(Input::Shutdown);
    let mark = h.mark();
    h.r.release_all();
    h.drain();
    assert!(!h.r.holding());
    assert_eq!(
        h.since(mark)
            .iter()
            .filter(|o| matches!(o, Output::Vips { install: false, .. }))
            .count(),
        1
    );

    // A reload retiring the instance never holds (the instance is going away).
    let mut h = master(c);
    let mark = h.mark();
    h.r.retire(|_| false);
    h.drain();
    assert!(!h.r.holding());
    assert!(h
        .since(mark)
        .iter()
        .any(|o| matches!(o, Output::Vips { install: false, .. })));
}

/// Handover without stopping (`Input::Yield`): the Master sends priority 0, becomes
/// Backup but keeps its VIPs until the new Master is heard; then it stays Backup
/// under a lower-priority Master (no preemption) until asked back.
#[test]
fn yield_hands_over_keeps_the_vips_until_heard_and_does_not_preempt_back() {
    let mut c = v2(150);
    c.handover = true;
    let mut h = master(c.clone());
    let mark = h.mark();
    h.input(Input::Yield {
        instance: ID,
        on: true,
    });
    let out = h.since(mark);
    assert_eq!(*h.adverts().last().unwrap(), (t(1.5), 0));
    assert!(!out.iter().any(|o| matches!(o, Output::Vips { .. })));
    assert!(out.iter().any(|o| matches!(
        o,
        Output::Transition {
            to: State::Backup,
            reason: Reason::Yield,
            ..
        }
    )));
    assert_eq!(h.state(), State::Backup);
    assert!(h.r.holding() && h.r.is_yielded(ID));
    // The other router (100) takes over after its skew and advertises; its
    // announcement releases the VIPs.
    h.run_until(t(2.11));
    let peer = Peer::of(&c, 100);
    h.rx(&peer);
    assert!(h.r.holding());
    let mark = h.mark();
    h.input(Input::Claimed { instance: ID });
    assert!(!h.r.holding());
    assert!(h
        .since(mark)
        .iter()
        .any(|o| matches!(o, Output::Vips { install: false, .. })));
    // Lower-priority adverts are accepted from now on: no preemption.
    for k in 0..10 {
        h.run_until(t(2.11 + f64::from(k) + 1.0));
        h.rx(&peer);
    }
    assert_eq!(h.state(), State::Backup);
    // Asked back: the next down interval without accepting its adverts preempts.
    h.input(Input::Yield {
        instance: ID,
        on: false,
    });
    for _ in 1..5 {
        h.run_for(Duration::from_secs(1));
        h.rx(&peer);
    }
    assert_eq!(h.state(), State::Master);
    assert!(!h.r.is_yielded(ID));
}

/// A yield nobody answers: the down interval later the router is Master again and
/// never dropped its VIPs; the yield is over.
#[test]
fn yield_without_a_successor_keeps_the_vips_and_returns_to_master() {
    let mut c = v2(150);
    c.handover = true;
    let mut h = master(c);
    let mark = h.mark();
    h.input(Input::Yield {
        instance: ID,
        on: true,
    });
    h.run_until(t(1.5 + 3.5));
    let out = h.since(mark);
    assert!(!out
        .iter()
        .any(|o| matches!(o, Output::Vips { install: false, .. })));
    assert_eq!(h.state(), State::Master);
    assert!(!h.r.holding() && !h.r.is_yielded(ID));
}

/// Stopping while a yield still holds the VIPs waits for the successor as a
/// stopping Master does; a fault while holding drops them at once.
#[test]
fn yield_then_shutdown_or_fault_lets_go() {
    let mut c = v2(150);
    c.handover = true;
    let mut h = master(c.clone());
    h.input(Input::Yield {
        instance: ID,
        on: true,
    });
    h.input(Input::Shutdown);
    assert_eq!(h.state(), State::Stop);
    assert!(h.r.holding());
    h.run_until(t(2.11));
    h.rx(&Peer::of(&c, 100));
    h.run_until(t(2.2));
    assert!(!h.r.holding());

    let mut h = master(c);
    h.input(Input::Yield {
        instance: ID,
        on: true,
    });
    let mark = h.mark();
    h.track(0, 1, TrackEffect::Fault(true));
    assert_eq!(h.state(), State::Fault);
    assert!(!h.r.holding());
    assert!(h
        .since(mark)
        .iter()
        .any(|o| matches!(o, Output::Vips { install: false, .. })));
}

/// Ledger: MST-06
/// Ledger: PKT-02
/// RFC 3768 §6.4.3: "If a Shutdown event is received, then: Cancel the Adver_Timer;
/// Send an ADVERTISEMENT with Priority = 0; Transition to the {Initialize} state".
/// Priority 0 appears on the wire only here.
#[test]
fn master_shutdown_sends_priority_zero_and_releases_the_vips() {
    let mut h = master(v2(100));
    let mark = h.mark();
    h.input(Input::Shutdown);
    let out = h.since(mark);
    assert!(matches!(out[0], Output::Advert(_)));
    assert_eq!(*h.adverts().last().unwrap(), (t(1.5), 0));
    assert!(matches!(out[1], Output::Vips { install: false, .. }));
    assert!(matches!(
        out[2],
        Output::Transition {
            to: State::Stop,
            reason: Reason::Shutdown,
            ..
        }
    ));
    assert_eq!(h.r.poll_timeout(), None);
    assert_eq!(h.counters().sent_pri_zero_packets, 1);
    assert!(h.adverts()[..h.adverts().len() - 1]
        .iter()
        .all(|(_, p)| *p != 0));
    // The engine refuses a configured priority 0.
    assert!(keepup_vrrp::Router::new(vec![v2(0)], vec![]).is_err());
}

/// Ledger: MST-08
/// RFC 3768 §6.4.3: "If the Priority in the ADVERTISEMENT is Zero, then: Send an
/// ADVERTISEMENT; Reset the Adver_Timer to Advertisement_Interval".
#[test]
fn master_answers_a_priority_zero_advert_at_once_and_stays_master() {
    let mut h = master(v2(100));
    h.run_until(t(1.7));
    let mark = h.mark();
    h.rx(&Peer::of(&v2(50), 0));
    assert_eq!(h.adverts_since(mark), 1);
    assert_eq!(h.state(), State::Master);
    assert_eq!(h.r.poll_timeout(), Some(t(2.7)));
}

/// Ledger: MST-09
/// RFC 3768 §6.4.3: "If the Priority in the ADVERTISEMENT is greater than the local
/// Priority, or If the Priority in the ADVERTISEMENT is equal to the local Priority and
/// the primary IP Address of the sender is greater than the local primary IP Address,
/// then: Cancel Adver_Timer; Set Master_Down_Timer to Master_Down_Interval; Transition
/// to the {Backup} state". Addresses compare as numbers: 10.0.0.10 > 10.0.0.2.
#[test]
fn master_steps_down_for_higher_priority_or_equal_priority_from_a_larger_address() {
    let mut h = master(v2(100));
    let mark = h.mark();
    h.rx(&Peer::of(&v2(150), 150));
    assert_eq!(h.state(), State::Backup);
    assert!(h
        .since(mark)
        .iter()
        .any(|o| matches!(o, Output::Vips { install: false, .. })));
    assert_eq!(h.r.poll_timeout(), Some(t(1.5) + ns(3_609_375_000)));

    let mut h = master(v2(100));
    let larger = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 10));
    h.rx(&Peer::of(&v2(100), 100).from(larger));
    assert_eq!(h.state(), State::Backup, "10.0.0.10 beats 10.0.0.2");
    assert_eq!(h.r.master_address(ID), Some(larger));

    // Opposite: equal priority from a smaller address, or a lower priority.
    let mut h = master(v2(100));
    h.rx(&Peer::of(&v2(100), 100).from(IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1))));
    h.rx(&Peer::of(&v2(100), 99));
    assert_eq!(h.state(), State::Master);
}

/// Ledger: MST-10
/// Ledger: KA-07
/// Ledger: R9-03
/// RFC 9568 §6.4.3: on a lower priority (or equal from a smaller address) "Discard
/// the ADVERTISEMENT" and "Send an ADVERTISEMENT immediately to assert the Active
/// state". `lower_prio_no_advert` (and strict mode) keep RFC 3768's silence.
#[test]
fn master_answers_a_lower_priority_advert_unless_told_not_to() {
    let mut h = master(v2(100));
    let mark = h.mark();
    h.rx(&Peer::of(&v2(50), 50));
    assert_eq!(h.adverts_since(mark), 1);
    assert!(h.events_since(mark).iter().any(|e| matches!(
        e,
        Event::LowerPriority {
            priority: 50,
            ours: 100,
            ..
        }
    )));
    assert!(h.events_since(mark).iter().any(|e| e
        .to_string()
        .contains("with lower priority 50, ours 100, forcing new election")));
    for quiet in [true, false] {
        let mut c = v2(100);
        c.lower_prio_no_advert = quiet;
        c.strict = !quiet;
        let mut h = master(c);
        let mark = h.mark();
        h.rx(&Peer::of(&v2(50), 50));
        assert_eq!(h.adverts_since(mark), 0);
        assert_eq!(h.state(), State::Master);
    }
}

/// Ledger: KA-08
/// `higher_prio_send_advert`: one more advert before going Backup (never in strict
/// mode).
#[test]
fn higher_prio_send_advert_sends_one_advert_before_stepping_down() {
    let mut c = v2(100);
    c.higher_prio_send_advert = true;
    let mut h = master(c);
    let mark = h.mark();
    h.rx(&Peer::of(&v2(150), 150));
    assert_eq!(h.adverts_since(mark), 1);
    assert_eq!(h.state(), State::Backup);
    let mut h = master(v2(100));
    let mark = h.mark();
    h.rx(&Peer::of(&v2(150), 150));
    assert_eq!(h.adverts_since(mark), 0);
}

/// Ledger: BKP-09
/// RFC 3768 §6.4.2: "If Preempt_Mode is False, or If the Priority in the ADVERTISEMENT
/// is greater than or equal to the local Priority, then: Reset the Master_Down_Timer
/// to Master_Down_Interval". With nopreempt a 200 Backup follows a 100 Master.
#[test]
fn nopreempt_backup_accepts_a_lower_priority_master() {
    let mut c = v2(200);
    c.preempt = false;
    let mut h = H::started(c);
    for s in 1..20 {
        h.run_until(t(f64::from(s)));
        h.rx(&Peer::of(&v2(100), 100));
        assert_eq!(
            h.r.poll_timeout(),
            Some(t(f64::from(s)) + ns(3_218_750_000))
        );
    }
    assert_eq!(h.state(), State::Backup);
}

/// Ledger: BKP-10
/// RFC 3768 §6.4.2: an advert whose priority is "greater than or equal to the local
/// Priority" re-arms the timer; a Backup never compares addresses.
#[test]
fn backup_accepts_equal_priority_whatever_the_address() {
    for last in [1u8, 200] {
        let mut h = H::started(v2(100));
        let from = IpAddr::V4(Ipv4Addr::new(10, 0, 0, last));
        for s in 1..10 {
            h.run_until(t(f64::from(s)));
            h.rx(&Peer::of(&v2(100), 100).from(from));
        }
        assert_eq!(h.state(), State::Backup, "peer 10.0.0.{last}");
    }
}

/// Ledger: BKP-11
/// RFC 3768 §6.4.2: with Preempt_Mode True and a lower priority: "Discard the
/// ADVERTISEMENT". The timer is not re-armed, so the Backup preempts.
#[test]
fn preempting_backup_ignores_a_lower_master_and_takes_over() {
    let mut h = H::started(v2(200));
    for s in 1..10 {
        h.run_until(t(f64::from(s)));
        h.rx(&Peer::of(&v2(100), 100));
    }
    assert_eq!(h.state(), State::Master);
    let (at, _, _, reason) = h.transitions()[1];
    assert_eq!(
        at,
        t(0.0) + ns(3_218_750_000),
        "the startup timer was never re-armed"
    );
    assert_eq!(reason, Reason::Preempt);
    assert_eq!(
        h.counters().new_master_reason,
        keepup_vrrp::counters::NewMasterReason::Preempted
    );
}

/// Ledger: KA-17
/// `preempt_delay`: lower-priority adverts are accepted for the delay after startup,
/// then the Backup preempts.
#[test]
fn preempt_delay_holds_preemption_for_the_delay() {
    let mut c = v2(200);
    c.preempt_delay = Duration::from_secs(10);
    let mut h = H::started(c);
    let mut s = 1.0;
    while h.state() == State::Backup && s < 30.0 {
        h.run_until(t(s));
        h.rx(&Peer::of(&v2(100), 100));
        s += 1.0;
    }
    let (at, _, to, _) = *h.transitions().last().unwrap();
    assert_eq!(to, State::Master);
    // Last advert accepted at 9 s (before 10 s), so the down timer runs out at
    // 9 s + 3.21875 s.
    assert_eq!(at, t(9.0) + ns(3_218_750_000));
}

/// Ledger: RX-07
/// Ledger: OWN-03
/// Ledger: KA-09
/// Erratum 8298 to RFC 9568 §7.1: the owner keeps processing adverts and logs that a
/// second owner may exist. Two owners resolve by address. (keepalived also lowers its
/// own priority to 254 on an equal 255 advert; keepup does not, so the pair resolves
/// by the RFC rule alone and the conflict stays visible in the log.)
#[test]
fn owner_processes_a_second_owner_and_the_larger_address_wins() {
    let mut c = v2(255);
    c.state = InitialState::Master;
    let mut h = H::started(c.clone());
    let mark = h.mark();
    h.rx(&Peer::of(&c, 255).from(IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1))));
    assert_eq!(h.state(), State::Master);
    assert!(h
        .events_since(mark)
        .iter()
        .any(|e| matches!(e, Event::SecondOwner { .. })));
    h.rx(&Peer::of(&c, 255));
    assert_eq!(h.state(), State::Backup, "10.0.0.3 beats 10.0.0.2");
}

/// Ledger: MST-12
/// keepup rule: our own adverts (looped back) never drive the state machine.
#[test]
fn own_adverts_are_ignored_and_counted() {
    let mut h = master(v2(100));
    let p = Peer::of(&v2(100), 200).from(IpAddr::V4(ME4));
    h.rx(&p);
    assert_eq!(h.state(), State::Master);
    assert_eq!(h.counters().own_adverts, 1);
    assert_eq!(h.counters().rcvd_advertisements, 0);
}

/// Ledger: KA-18
/// keepalived FAULT: a link down makes a Master resign (priority 0), drop its VIPs
/// and stop acting on adverts; link up returns it to Backup.
#[test]
fn link_down_faults_and_link_up_recovers() {
    let mut h = master(v2(100));
    let mark = h.mark();
    h.input(Input::Link {
        interface: IF,
        up: false,
    });
    assert_eq!(h.state(), State::Fault);
    assert_eq!(*h.adverts().last().unwrap(), (t(1.5), 0));
    assert!(h
        .since(mark)
        .iter()
        .any(|o| matches!(o, Output::Vips { install: false, .. })));
    assert_eq!(h.r.poll_timeout(), None);
    h.rx(&Peer::of(&v2(50), 50));
    assert_eq!(
        h.adverts_since(mark),
        1,
        "FAULT neither answers nor advertises"
    );
    h.input(Input::Link {
        interface: IF,
        up: true,
    });
    assert_eq!(h.state(), State::Backup);
    assert!(matches!(
        h.transitions().last().unwrap(),
        (_, State::Fault, State::Backup, Reason::FaultCleared)
    ));
}

/// Ledger: TX-07
/// Ledger: KA-24
/// Ledger: KA-05
/// Tracking weights change the priority the next advert carries, and the skew;
/// the sum stays within 1–254 and an owner ignores weights.
#[test]
fn tracking_weights_set_the_effective_priority() {
    let mut h = master(v2(100));
    h.track(0, 1, TrackEffect::Weight(-30));
    h.track(0, 2, TrackEffect::Weight(-10));
    assert_eq!(h.r.effective_priority(ID), 60);
    let mark = h.mark();
    h.run_until(t(2.1));
    assert_eq!(h.adverts_since(mark), 1);
    assert_eq!(
        h.adverts().last().unwrap().1,
        60,
        "the next advert carries 60"
    );
    assert_eq!(h.r.skew_time(ID), ns(765_625_000));
    h.track(0, 1, TrackEffect::Weight(500));
    assert_eq!(
        h.r.effective_priority(ID),
        254,
        "tracking never makes an owner"
    );
    h.track(0, 1, TrackEffect::Weight(-500));
    assert_eq!(h.r.effective_priority(ID), 1);
    let mut c = v2(255);
    c.state = InitialState::Master;
    let mut h = H::started(c);
    h.track(0, 1, TrackEffect::Weight(-100));
    assert_eq!(h.r.effective_priority(ID), 255);
}

/// A tracker without weight that fails puts the instance in FAULT (KA-18).
#[test]
fn failed_tracker_faults_the_instance_until_it_recovers() {
    let mut h = master(v2(100));
    h.track(0, 7, TrackEffect::Fault(true));
    assert_eq!(h.state(), State::Fault);
    h.track(0, 7, TrackEffect::Fault(false));
    assert_eq!(h.state(), State::Backup);
}

/// A pending tracker (a weight-0 script that has not reported) holds the instance in
/// Initialize at Startup, as keepalived does: it sends nothing and takes nothing,
/// even configured `state MASTER`. Its first result starts it: OK gives Backup,
/// failure gives Fault. Shutdown while waiting stops it for good.
#[test]
fn pending_tracker_holds_startup_until_it_reports() {
    for (result, want) in [
        (TrackEffect::Fault(false), State::Backup),
        (TrackEffect::Fault(true), State::Fault),
        (TrackEffect::Weight(0), State::Backup),
    ] {
        let mut c = v2(100);
        c.state = InitialState::Master;
        let mut h = H::new(vec![c]);
        h.track(0, 3, TrackEffect::Pending);
        h.input(Input::Startup);
        h.run_until(t(10.0));
        assert_eq!(h.state(), State::Initialize);
        assert!(h.adverts().is_empty() && h.transitions().is_empty());
        h.track(0, 3, result);
        assert_eq!(h.state(), want, "after {result:?}");
        assert_eq!(h.transitions().len(), 1);
    }
    let mut h = H::new(vec![v2(100)]);
    h.track(0, 3, TrackEffect::Pending);
    h.input(Input::Startup);
    h.input(Input::Shutdown);
    assert_eq!(h.state(), State::Stop);
    h.track(0, 3, TrackEffect::Fault(false));
    assert_eq!(
        h.state(),
        State::Stop,
        "a stopped instance never starts again"
    );
}

/// A pending tracker in one member of a sync group holds the whole group; once it
/// reports, every member starts.
#[test]
fn pending_tracker_holds_the_sync_group() {
    let mut h = group_pair_unstarted();
    h.track(1, 1, TrackEffect::Pending);
    h.input(Input::Startup);
    assert_eq!(h.r.state(InstanceId(0)), State::Initialize);
    assert_eq!(h.r.state(InstanceId(1)), State::Initialize);
    let mark = h.mark();
    h.track(1, 1, TrackEffect::Fault(false));
    assert_eq!(h.r.state(InstanceId(0)), State::Backup);
    assert_eq!(h.r.state(InstanceId(1)), State::Backup);
    assert!(
        h.events_since(mark).iter().any(|e| matches!(
            e,
            Event::SyncGroup {
                to: State::Backup,
                ..
            }
        )),
        "the group's own BACKUP is reported once it starts"
    );
    h.run_until(t(5.0));
    assert_eq!(h.r.state(InstanceId(0)), State::Master);
}

/// `Weight(0)` forgets a tracker: a Fault or a weight it had no longer counts.
#[test]
fn weight_zero_forgets_a_tracker() {
    let mut h = master(v2(100));
    h.track(0, 1, TrackEffect::Weight(-30));
    assert_eq!(h.r.effective_priority(ID), 70);
    h.track(0, 1, TrackEffect::Weight(0));
    assert_eq!(h.r.effective_priority(ID), 100);
    h.track(0, 2, TrackEffect::Fault(true));
    assert_eq!(h.state(), State::Fault);
    h.track(0, 2, TrackEffect::Weight(0));
    assert_eq!(h.state(), State::Backup);
}

/// Ledger: TX-05
/// With no source address yet (an IPv6 link-local still in DAD), nothing is sent and
/// the skip is counted; the state machine still runs.
#[test]
fn no_source_address_means_no_advert_but_counted() {
    let mut c = v3_6(255);
    c.state = InitialState::Master;
    c.source = None;
    let mut h = H::started(c);
    assert_eq!(h.state(), State::Master);
    assert!(h.adverts().is_empty());
    assert_eq!(h.counters().send_skipped, 1);
    h.input(Input::SourceAddress {
        instance: ID,
        address: Some(IpAddr::V6(ME6)),
    });
    h.run_until(t(1.0));
    assert_eq!(h.adverts().len(), 1);
}

/// Ledger: MAC-02
/// RFC 9568 §7.3: the IPv4 and IPv6 virtual routers with one VRID are separate
/// instances with their own state.
#[test]
fn ipv4_and_ipv6_routers_with_one_vrid_are_independent() {
    let mut a = v3(100);
    a.name = "v4".into();
    let b = v3_6(100);
    let mut h = H::new(vec![a, b]);
    h.input(Input::Startup);
    for s in 1..10 {
        h.run_until(t(f64::from(s)));
        h.rx(&Peer::of(&v3_6(200), 200));
    }
    assert_eq!(h.r.state(InstanceId(0)), State::Master);
    assert_eq!(h.r.state(InstanceId(1)), State::Backup);
}

fn group_pair_unstarted() -> H {
    let mut a = v2(100);
    a.name = "A".into();
    let mut b = v2(100);
    b.name = "B".into();
    b.vrid = 52;
    b.interface = keepup_vrrp::IfIndex(2);
    let g = SyncGroupConfig {
        name: "G".into(),
        members: vec!["A".into(), "B".into()],
    };
    H::with_groups(vec![a, b], vec![g])
}

fn group_pair() -> H {
    let mut h = group_pair_unstarted();
    h.input(Input::Startup);
    h
}

/// Sync group: members become Master together once every member's down timer has
/// run out ("prefer backup"), and a fault in one member pulls the whole group into
/// FAULT (KA-18); when it clears, all return to Backup.
#[test]
fn sync_group_moves_members_together() {
    let mut h = group_pair();
    h.run_until(t(5.0));
    assert_eq!(h.r.state(InstanceId(0)), State::Master);
    assert_eq!(h.r.state(InstanceId(1)), State::Master);
    h.track(1, 1, TrackEffect::Fault(true));
    assert_eq!(h.r.state(InstanceId(0)), State::Fault);
    assert_eq!(h.r.state(InstanceId(1)), State::Fault);
    let reasons: Vec<Reason> = h.transitions().iter().rev().take(2).map(|x| x.3).collect();
    assert!(reasons.contains(&Reason::SyncGroup) && reasons.contains(&Reason::Fault));
    h.track(1, 1, TrackEffect::Fault(false));
    assert_eq!(h.r.state(InstanceId(0)), State::Backup);
    assert_eq!(h.r.state(InstanceId(1)), State::Backup);
}

/// Sync group notifies (keepalived 2.2.7 in a lab): the group is reported in
/// BACKUP at start-up, in FAULT when a member faults, and in BACKUP again when the
/// fault clears, each before its members' transitions; then in MASTER together.
#[test]
fn sync_group_reports_backup_at_start_and_after_fault() {
    let group_events = |h: &H, from: usize| -> Vec<State> {
        h.events_since(from)
            .into_iter()
            .filter_map(|e| match e {
                Event::SyncGroup { group: 0, to } => Some(to),
                _ => None,
            })
            .collect()
    };
    let mut h = group_pair();
    assert_eq!(group_events(&h, 0), [State::Backup]);
    h.run_until(t(5.0));
    assert_eq!(group_events(&h, 0), [State::Backup, State::Master]);
    let fault = |h: &mut H, on: bool| {
        h.input(Input::Track {
            instance: InstanceId(1),
            tracker: 1,
            effect: TrackEffect::Fault(on),
        });
    };
    let m = h.mark();
    fault(&mut h, true);
    assert_eq!(group_events(&h, m), [State::Fault]);
    let m = h.mark();
    fault(&mut h, false);
    assert_eq!(group_events(&h, m), [State::Backup]);
    assert!(
        matches!(
            h.since(m).first(),
            Some(Output::Event(Event::SyncGroup { .. }))
        ),
        "the group's line comes first: {:?}",
        h.since(m)
    );
    let m = h.mark();
    h.run_until(t(10.0));
    assert_eq!(group_events(&h, m), [State::Master]);
}

/// Sync group: while one member still hears its Master, the other waits in Backup;
/// a Master member that steps down takes the group with it.
#[test]
fn sync_group_prefers_backup_and_steps_down_together() {
    let mut h = group_pair();
    // Only A hears a Master (VRID 51 on interface 1).
    for s in 1..12 {
        h.run_until(t(f64::from(s)));
        h.rx(&Peer::of(&v2(200), 200));
    }
    assert_eq!(h.r.state(InstanceId(0)), State::Backup);
    assert_eq!(h.r.state(InstanceId(1)), State::Backup, "B waits for A");
    h.run_until(t(16.0));
    assert_eq!(h.r.state(InstanceId(0)), State::Master);
    assert_eq!(h.r.state(InstanceId(1)), State::Master);
    h.rx(&Peer::of(&v2(200), 200));
    assert_eq!(h.r.state(InstanceId(0)), State::Backup);
    assert_eq!(h.r.state(InstanceId(1)), State::Backup);
}

/// Ledger: PRE-01
/// RFC 3768 §6.1: "Preempt_Mode ... Default is True." keepalived accepts by default
/// (KA-16).
#[test]
fn defaults_preempt_on_accept_on() {
    let c = InstanceConfig::new("x", 1, IF, vec![]);
    assert!(c.preempt);
    assert!(c.accept);
    assert_eq!(c.advert_int, Duration::from_secs(1));
    assert_eq!(c.priority, 100);
}

/// Ledger: PRE-03
/// A peer advertising our own priority is logged once per peer.
#[test]
fn equal_priority_peer_is_logged_once() {
    let mut h = H::started(v2(100));
    for s in 1..5 {
        h.run_until(t(f64::from(s)));
        h.rx(&Peer::of(&v2(100), 100));
    }
    let n = h
        .events_since(0)
        .iter()
        .filter(|e| matches!(e, Event::EqualPriority { .. }))
        .count();
    assert_eq!(n, 1);
}

/// Ledger: TMR-09
/// RFC 9568 §2.5: late adverts make Backups flap; keepup logs it (rate-limited) when
/// an instance becomes Master 3 times within 10 down intervals.
#[test]
fn repeated_takeovers_are_reported_as_flapping() {
    let mut h = H::started(v2(100));
    // A Master whose adverts arrive just too late: each one makes us step down, then
    // its silence makes us take over again.
    for k in 0..4 {
        h.run_until(t(4.0 + 4.0 * f64::from(k)));
        h.rx(&Peer::of(&v2(200), 200));
    }
    h.run_until(t(25.0));
    let flaps: Vec<Event> = h
        .events_since(0)
        .into_iter()
        .filter(|e| matches!(e, Event::Flapping { .. }))
        .collect();
    assert_eq!(flaps.len(), 1, "{flaps:?}");
    assert!(flaps[0].to_string().contains("became MASTER 3 times"));
    // Opposite: a steady Master heard in time never flaps.
    let mut h = H::started(v2(100));
    for s in 1..25 {
        h.run_until(t(f64::from(s)));
        h.rx(&Peer::of(&v2(200), 200));
    }
    assert!(!h
        .events_since(0)
        .iter()
        .any(|e| matches!(e, Event::Flapping { .. })));
}

/// Ledger: KA-23
/// Ledger: PKT-06
/// A v2 instance may have no VIP; v3 needs at least one (RFC 9568 §5.2.5 with erratum
/// 8299), and families never mix.
#[test]
fn vip_count_and_family_rules() {
    let mut c = v2(100);
    c.vips.clear();
    assert!(keepup_vrrp::Router::new(vec![c.clone()], vec![]).is_ok());
    c.version = keepup_wire::vrrp::Version::V3;
    assert!(keepup_vrrp::Router::new(vec![c], vec![]).is_err());
    let mut c = v3(100);
    c.vips.push(IpAddr::V6(VIP6));
    assert!(keepup_vrrp::Router::new(vec![c], vec![]).is_err());
}

/// Ledger: KA-25
/// Strict mode (`vrrp_strict`) in the engine: one announcement per VIP, no answer to a
/// lower priority, no extra advert before stepping down.
#[test]
fn strict_mode_bundle_in_the_engine() {
    let mut c = v2(100);
    c.strict = true;
    c.higher_prio_send_advert = true;
    let mut h = master(c);
    let announces = h
        .log
        .iter()
        .filter(|(_, o)| matches!(o, Output::Announce { .. }))
        .count();
    assert_eq!(announces, 1);
    let mark = h.mark();
    h.rx(&Peer::of(&v2(50), 50));
    assert_eq!(h.adverts_since(mark), 0);
    h.rx(&Peer::of(&v2(150), 150));
    assert_eq!(h.adverts_since(mark), 0);
    assert_eq!(h.state(), State::Backup);
}

/// Split brain (issue 4): a lower-priority Master that keeps advertising although we
/// answer each advert does not hear us (a firewall drops protocol 112 on its side).
/// It is said once, with what to check, and counted; a peer that steps down is not.
#[test]
fn a_rival_that_does_not_hear_us_is_reported_once() {
    let mut h = master(v2(200));
    for k in 0..10 {
        h.run_until(t(2.0 + f64::from(k)));
        h.rx(&Peer::of(&v2(100), 100));
    }
    let said: Vec<String> = h
        .events_since(0)
        .iter()
        .filter(|e| matches!(e, Event::SplitBrain { .. }))
        .map(|e| e.to_string())
        .collect();
    assert_eq!(said.len(), 1, "{said:?}");
    assert_eq!(
        said[0],
        "split brain: 10.0.0.3 also claims VRID 51 and does not hear us; check that IP protocol 112 (vrrp) is accepted on 10.0.0.3"
    );
    assert_eq!(h.counters().split_brain, 1);
    // It was said 3 intervals after the first of its adverts.
    let at = h
        .log
        .iter()
        .find(|(_, o)| matches!(o, Output::Event(Event::SplitBrain { .. })))
        .unwrap()
        .0;
    assert_eq!(at, t(5.0));
    // Opposite: one lower advert (the peer then hears us and stops) says nothing.
    let mut h = master(v2(200));
    h.rx(&Peer::of(&v2(100), 100));
    h.run_until(t(10.0));
    assert_eq!(h.counters().split_brain, 0);
}

/// Reload: an unchanged instance keeps its state and says nothing; a VIP added to a
/// Master keeps it Master and the next advert carries the new list; a changed
/// instance starts afresh; a removed one resigns first.
#[test]
fn reconfigure_keeps_unchanged_and_vip_only_changes() {
    let mut a = v2(100);
    a.state = InitialState::Master;
    let mut b = v2(100);
    b.name = "B".into();
    b.vrid = 52;
    let mut h = H::new(vec![a.clone(), b.clone()]);
    h.input(Input::Startup);
    h.run_until(t(5.0));
    assert_eq!(h.r.state(InstanceId(0)), State::Master);
    let mark = h.mark();
    h.r.retire(|c| c.name == "VI_1" || c.name == "B");
    let kept = h.r.reconfigure(vec![a.clone(), b.clone()], vec![]).unwrap();
    h.input(Input::Startup);
    assert_eq!(kept, vec![Some(InstanceId(0)), Some(InstanceId(1))]);
    assert!(h.since(mark).is_empty(), "an unchanged reload does nothing");
    // Add a VIP to the Master.
    let mut a2 = a.clone();
    a2.vips.push(IpAddr::V4(Ipv4Addr::new(10, 0, 0, 101)));
    let kept = h.r.reconfigure(vec![a2, b.clone()], vec![]).unwrap();
    assert_eq!(kept[0], Some(InstanceId(0)));
    assert_eq!(h.r.state(InstanceId(0)), State::Master);
    h.run_until(t(6.5));
    let sent = h
        .log
        .iter()
        .rev()
        .find_map(|(_, o)| match o {
            Output::Advert(x) if x.instance == InstanceId(0) => Some(x.clone()),
            _ => None,
        })
        .unwrap();
    assert_eq!(parse_sent(&sent, IpAddr::V4(ME4)).addresses.len(), 2);
    // Change B's priority: it restarts; drop VI_1: it resigns first.
    let mut b2 = b.clone();
    b2.priority = 150;
    let mark = h.mark();
    h.r.retire(|c| c.name == "B");
    h.log.extend(
        std::iter::from_fn(|| h.r.poll_output())
            .map(|o| (t(6.5), o))
            .collect::<Vec<_>>(),
    );
    let out = h.since(mark);
    assert!(out
        .iter()
        .any(|o| matches!(o, Output::Vips { install: false, .. })));
    assert_eq!(*h.adverts().last().unwrap(), (t(6.5), 0));
    let kept = h.r.reconfigure(vec![b2], vec![]).unwrap();
    assert_eq!(kept, vec![None]);
    assert_eq!(h.r.state(InstanceId(0)), State::Initialize);
    h.input(Input::Startup);
    assert_eq!(h.r.state(InstanceId(0)), State::Backup);
}

/// Two v2 instances, VI_1 (VRID 1) and B (VRID 52), in one sync group G.
fn grouped_pair() -> (InstanceConfig, InstanceConfig, Vec<SyncGroupConfig>) {
    let a = v2(100);
    let mut b = v2(100);
    b.name = "B".into();
    b.vrid = 52;
    let groups = vec![SyncGroupConfig {
        name: "G".into(),
        members: vec!["VI_1".into(), "B".into()],
    }];
    (a, b, groups)
}

/// Reload: an instance started afresh (its priority changed) on an interface the
/// driver said is down starts in FAULT, not BACKUP: the engine remembers the link.
/// Its sync-group sibling, kept, stays in FAULT too. Found by the simulation
/// campaign (crates/testkit/tests/campaign/regress-3898.txt): the new instance took
/// the link for up, went to BACKUP, and its group left FAULT with it.
#[test]
fn an_instance_restarted_by_reload_on_a_down_link_starts_in_fault() {
    let (a, b, groups) = grouped_pair();
    let mut h = H::with_groups(vec![a.clone(), b.clone()], groups.clone());
    h.input(Input::Startup);
    h.run_until(t(1.0));
    h.input(Input::Link {
        interface: IF,
        up: false,
    });
    assert_eq!(h.r.state(InstanceId(0)), State::Fault);
    assert_eq!(h.r.state(InstanceId(1)), State::Fault);
    let mut b2 = b.clone();
    b2.priority = 150;
    h.r.retire(|c| c.name != "B");
    h.drain();
    let kept = h.r.reconfigure(vec![a.clone(), b2], groups).unwrap();
    assert_eq!(kept, vec![Some(InstanceId(0)), None]);
    assert!(!h.r.link_up(InstanceId(1)));
    h.input(Input::Startup);
    assert_eq!(h.r.state(InstanceId(0)), State::Fault);
    assert_eq!(h.r.state(InstanceId(1)), State::Fault);
    h.run_until(t(10.0));
    assert_eq!(h.r.state(InstanceId(1)), State::Fault);
    // Opposite: the link comes back, both leave FAULT.
    h.input(Input::Link {
        interface: IF,
        up: true,
    });
    assert_eq!(h.r.state(InstanceId(0)), State::Backup);
    assert_eq!(h.r.state(InstanceId(1)), State::Backup);
}

/// Reload: a sync group held in FAULT by a member's tracker, whose member a reload
/// renews (a new priority). The driver feeds the new instance its trackers one at a
/// time, a healthy one first: the kept member must not leave FAULT and come back
/// at that instant (a needless BACKUP then FAULT for notify scripts). Found by the
/// simulation campaign (crates/testkit/tests/campaign/regress-1007789.txt). And the
/// opposite: renewed with every tracker healthy, the group leaves FAULT at Startup.
#[test]
fn a_reload_renewing_a_faulted_group_member_does_not_flap_the_others() {
    for still_faulted in [true, false] {
        let (a, b, groups) = grouped_pair();
        let mut h = H::with_groups(vec![a.clone(), b.clone()], groups.clone());
        h.input(Input::Startup);
        h.track(1, 1, TrackEffect::Fault(false));
        h.track(1, 2, TrackEffect::Fault(true));
        assert_eq!(h.r.state(InstanceId(0)), State::Fault);
        let mut b2 = b.clone();
        b2.priority = 150;
        h.r.retire(|c| c.name != "B");
        h.drain();
        h.r.reconfigure(vec![a.clone(), b2], groups).unwrap();
        let mark = h.mark();
        h.track(1, 1, TrackEffect::Fault(false));
        h.track(1, 2, TrackEffect::Fault(still_faulted));
        h.input(Input::Startup);
        let moved: Vec<(State, State, Reason)> = h
            .since(mark)
            .iter()
            .filter_map(|o| match o {
                Output::Transition {
                    instance: InstanceId(0),
                    from,
                    to,
                    reason,
                } => Some((*from, *to, *reason)),
                _ => None,
            })
            .collect();
        if still_faulted {
            assert_eq!(moved, vec![], "the kept member flapped");
            assert_eq!(h.r.state(InstanceId(1)), State::Fault);
        } else {
            assert_eq!(
                moved,
                vec![(State::Fault, State::Backup, Reason::FaultCleared)]
            );
            assert_eq!(h.r.state(InstanceId(1)), State::Backup);
        }
    }
}

/// What `keepup status` shows of a Backup: the Master's address and the priority it
/// advertised; of a Master, no other Master. The link and the trackers' effects as
/// last told.
#[test]
fn status_facts_master_priority_link_and_trackers() {
    let mut h = master(v2(100));
    assert_eq!(h.r.master_priority(ID), None);
    h.rx(&Peer::of(&v2(150), 150));
    assert_eq!(h.state(), State::Backup);
    assert_eq!(h.r.master_priority(ID), Some(150));
    h.rx(&Peer::of(&v2(150), 140));
    assert_eq!(
        h.r.master_priority(ID),
        Some(140),
        "the latest advert counts"
    );
    // Nobody advertises: the down timer makes us Master again, with no other Master.
    h.run_for(ns(5_000_000_000));
    assert_eq!(h.state(), State::Master);
    assert_eq!(h.r.master_priority(ID), None);

    assert!(h.r.link_up(ID));
    h.track(0, 7, TrackEffect::Weight(-20));
    h.track(0, 9, TrackEffect::Fault(true));
    assert_eq!(
        h.r.track_effects(ID).collect::<Vec<_>>(),
        vec![(7, TrackEffect::Weight(-20)), (9, TrackEffect::Fault(true))]
    );
    h.input(Input::Link {
        interface: IF,
        up: false,
    });
    assert!(!h.r.link_up(ID));
}

/// keepalived's `release_master` counts each way out of Master (here: a higher
/// priority Master heard, then a Fault), and STATS_CLEAR sets every count back to
/// zero while the reason of the latest takeover stays.
#[test]
fn release_master_counts_leaving_master_and_clear_zeroes_the_counts() {
    let c = v2(100);
    let mut h = master(c.clone());
    assert_eq!(h.counters().master_transitions, 1);
    assert_eq!(h.counters().release_master, 0);
    h.rx(&Peer::of(&c, 200));
    assert_eq!(h.state(), State::Backup);
    assert_eq!(h.counters().release_master, 1);
    assert!(h.counters().rcvd_advertisements >= 1);
    let reason = h.counters().new_master_reason;
    h.r.clear_counters();
    let k = h.counters();
    assert_eq!(
        k,
        keepup_vrrp::Counters {
            new_master_reason: reason,
            ..Default::default()
        }
    );
    // Counting goes on from zero.
    h.rx(&Peer::of(&c, 200));
    assert_eq!(h.counters().rcvd_advertisements, 1);
}
