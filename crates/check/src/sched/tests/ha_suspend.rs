//! `ha_suspend` on virtual time: checkers skip their runs while the virtual server's
//! address is not on this host, keep their cadence, state and retry run, and the pool
//! is left as it was (keepalived 2.2.7 check_api.c `update_checker_activity` and the
//! launch threads' `if (!checker->enabled)` re-arm at `delay_loop`).
use super::*;

const HERE: u32 = 2;

impl Lab {
    fn add(&mut self, ifindex: u32, ip: &str) {
        let ip = ip.parse().expect("an address literal");
        self.s.handle(self.now, Input::AddressAdded { ifindex, ip });
        self.collect();
    }

    fn remove(&mut self, ifindex: u32, ip: &str) {
        let ip = ip.parse().expect("an address literal");
        self.s
            .handle(self.now, Input::AddressRemoved { ifindex, ip });
        self.collect();
    }
}

/// Retry 0: one failure takes the checker down.
const TCP0: &str = "  TCP_CHECK {\n   connect_timeout 2\n   retry 0\n   warmup 0\n  }";

#[test]
fn absent_at_start_no_check_runs_and_the_pool_keeps_its_starting_state() {
    let mut l = lab_on(&conf(" ha_suspend", &[TCP]), Some(&[(HERE, "10.0.0.9")]));
    assert_eq!(
        l.lines,
        vec![
            "t=0.000 pool vs0 [10.0.1.1]:tcp:80 Add { weight: 1 }",
            "t=0.000 Suspended { vs: VsId(0), on: true, start: true }",
        ]
    );
    assert!(l.s.suspended(VsId(0)));
    l.run(60.0, |_, _| fail());
    assert!(l.grep("probe").is_empty(), "{:#?}", l.lines);
    assert_eq!(l.lines.len(), 2, "{:#?}", l.lines);
    // The status says so; the real server is still up, in the pool.
    let view = l.s.view(l.now, std::time::SystemTime::now());
    assert!(view[0].suspended);
    assert!(view[0].real_servers[0].alive);
    assert_eq!(view[0].real_servers[0].pool_weight, Some(1));
}

#[test]
fn the_address_arriving_resumes_checks_at_the_next_delay_loop_tick_and_leaving_stops_them() {
    let mut l = lab_on(&conf(" ha_suspend", &[TCP]), Some(&[]));
    // The looks come at 1, 11, 21, ...: skipped while suspended.
    l.run(14.5, |_, _| pass());
    l.add(HERE, "10.0.0.1");
    assert_eq!(
        l.grep("Suspended"),
        vec![
            "t=0.000 Suspended { vs: VsId(0), on: true, start: true }",
            "t=14.500 Suspended { vs: VsId(0), on: false, start: false }",
        ]
    );
    // Not at once: at the next tick of its cadence, within delay_loop.
    l.run(33.0, |_, _| pass());
    assert_eq!(l.times("probe c0"), vec![21.0, 31.0]);
    l.remove(HERE, "10.0.0.1");
    l.run(80.0, |_, _| pass());
    assert_eq!(l.times("probe c0"), vec![21.0, 31.0]);
    assert_eq!(l.times("Suspended"), vec![0.0, 14.5, 33.0]);
    // Only the first run's confirmation; nothing entered or left the pool.
    assert_eq!(l.grep("pool").len(), 1, "{:#?}", l.lines);
}

#[test]
fn present_at_start_nothing_is_suspended_or_said() {
    let mut l = lab_on(&conf(" ha_suspend", &[TCP]), Some(&[(HERE, "10.0.0.1")]));
    l.run(25.0, |_, _| pass());
    assert_eq!(l.times("probe c0"), vec![1.0, 11.0, 21.0]);
    assert!(l.grep("Suspended").is_empty());
}

#[test]
fn a_suspended_failing_server_stays_as_it_was_and_its_retry_run_goes_on_after() {
    let mut l = lab_on(&conf(" ha_suspend", &[TCP]), Some(&[(HERE, "10.0.0.1")]));
    // Fails from 20: attempt at 21 is retry 1 of 2, the next would be at 24.
    l.run(22.0, |_, t| if t < 20.0 { pass() } else { fail() });
    l.remove(HERE, "10.0.0.1");
    // Suspended: the look at 24 is skipped, then 34, 44.
    l.run(40.0, |_, _| fail());
    assert!(l.grep("CheckerDown").is_empty(), "{:#?}", l.lines);
    assert!(l.s.is_alive(RsId(0)));
    l.add(HERE, "10.0.0.1");
    l.run(60.0, |_, _| fail());
    // The run at 44 is retry 2; 47 the last: down then, not reset by the pause.
    assert_eq!(l.times("probe c0"), vec![1.0, 11.0, 21.0, 44.0, 47.0, 57.0]);
    assert_eq!(l.times("CheckerDown"), vec![47.0]);
    assert_eq!(l.times("pool vs0 [10.0.1.1]:tcp:80 Remove"), vec![47.0]);
}

#[test]
fn a_down_server_stays_out_while_suspended_and_comes_back_on_its_first_check() {
    let mut l = lab_on(&conf(" ha_suspend", &[TCP0]), Some(&[(HERE, "10.0.0.1")]));
    l.run(12.0, |_, t| if t > 10.0 { fail() } else { pass() });
    assert_eq!(l.times("pool vs0 [10.0.1.1]:tcp:80 Remove"), vec![11.0]);
    l.remove(HERE, "10.0.0.1");
    l.run(30.0, |_, _| pass());
    assert!(!l.s.is_alive(RsId(0)), "no check, no change");
    l.add(HERE, "10.0.0.1");
    l.run(32.0, |_, _| pass());
    assert_eq!(l.times("pool vs0 [10.0.1.1]:tcp:80 Add"), vec![0.0, 31.0]);
}

#[test]
fn alpha_absent_at_start_stays_out_of_the_pool_until_first_checked() {
    let alpha = "  TCP_CHECK {\n   alpha\n   warmup 0\n  }";
    let mut l = lab_on(&conf(" ha_suspend", &[alpha]), Some(&[]));
    l.run(30.0, |_, _| pass());
    assert!(l.grep("pool").is_empty(), "{:#?}", l.lines);
    l.add(HERE, "10.0.0.1");
    l.run(32.0, |_, _| pass());
    assert_eq!(l.times("pool vs0 [10.0.1.1]:tcp:80 Add"), vec![31.0]);
}

#[test]
fn a_run_in_flight_when_the_address_leaves_still_counts() {
    let mut l = lab_on(&conf(" ha_suspend", &[TCP0]), Some(&[(HERE, "10.0.0.1")]));
    l.run(10.9, |_, _| pass());
    // The run at 11 is asked for and not answered yet.
    l.run(11.0, |_, _| None);
    let attempt = *l.s.inflight.keys().next().expect("a run in flight");
    l.remove(HERE, "10.0.0.1");
    l.s.handle(
        l.now,
        Input::Done {
            attempt,
            verdict: Verdict::fail(FailKind::Connect, "refused"),
        },
    );
    l.collect();
    assert_eq!(l.times("CheckerDown"), vec![11.0]);
    l.run(60.0, |_, _| pass());
    assert_eq!(l.times("probe c0"), vec![1.0, 11.0]);
}

#[test]
fn an_address_on_two_interfaces_suspends_only_when_both_lose_it() {
    let c = "virtual_server fe80::1 80 {\n lb_algo rr\n lb_kind DR\n protocol TCP\n \
             delay_loop 10\n ha_suspend\n real_server fe80::2 80 {\n  TCP_CHECK {\n   \
             warmup 0\n   bind_if eth0\n  }\n }\n}\n";
    let mut l = lab_on(c, Some(&[(2, "fe80::1"), (3, "fe80::1"), (2, "10.0.0.1")]));
    l.remove(2, "fe80::1");
    assert!(!l.s.suspended(VsId(0)));
    l.remove(3, "fe80::1");
    assert!(l.s.suspended(VsId(0)));
    l.add(3, "fe80::1");
    assert!(!l.s.suspended(VsId(0)));
    assert_eq!(l.grep("Suspended").len(), 2, "{:#?}", l.lines);
}

#[test]
fn a_group_runs_while_any_of_its_addresses_is_on_this_host() {
    let c = "virtual_server_group G {\n 10.0.0.1-3 80\n 10.0.5.5 80\n}\n\
             virtual_server group G {\n lb_algo rr\n lb_kind NAT\n protocol TCP\n \
             delay_loop 10\n ha_suspend\n real_server 10.0.1.1 80 {\n  TCP_CHECK {\n   \
             warmup 0\n  }\n }\n}\n";
    let mut l = lab_on(c, Some(&[(HERE, "10.0.0.4")]));
    assert!(l.s.suspended(VsId(0)), "10.0.0.4 is outside 10.0.0.1-3");
    l.add(HERE, "10.0.0.3");
    assert!(!l.s.suspended(VsId(0)));
    l.add(HERE, "10.0.5.5");
    l.remove(HERE, "10.0.0.3");
    assert!(!l.s.suspended(VsId(0)));
    l.remove(HERE, "10.0.5.5");
    assert!(l.s.suspended(VsId(0)));
    // keepalived clears ha_suspend for a group with a fwmark entry.
    let mixed = c.replace(" 10.0.5.5 80\n", " fwmark 7\n");
    let l = lab_on(&mixed, Some(&[]));
    assert!(!l.s.suspended(VsId(0)));
    assert!(l.s.plan().virtual_servers[0].ha_suspend.is_none());
}

#[test]
fn without_ha_suspend_or_before_addresses_are_known_checks_run() {
    let mut l = lab_on(&conf("", &[TCP]), Some(&[]));
    l.run(12.0, |_, _| pass());
    assert_eq!(l.times("probe c0"), vec![1.0, 11.0]);
    let mut l = lab(&conf(" ha_suspend", &[TCP]));
    l.run(12.0, |_, _| pass());
    assert_eq!(l.times("probe c0"), vec![1.0, 11.0]);
    assert!(l.grep("Suspended").is_empty());
}

#[test]
fn file_check_is_not_suspended() {
    let c = "track_file f {\n file /nonexistent/keepup-test\n weight 1\n}\n\
             virtual_server 10.0.0.1 80 {\n lb_algo rr\n lb_kind NAT\n protocol TCP\n \
             ha_suspend\n real_server 10.0.1.1 80 {\n  FILE_CHECK {\n   track_file f\n  }\n \
             }\n}\n";
    let mut l = lab_on(c, Some(&[]));
    assert!(l.s.suspended(VsId(0)));
    l.run(3.5, |_, _| Some(Verdict::Shift { by: 0 }));
    assert_eq!(l.times("probe c0"), vec![1.0, 2.0, 3.0]);
}

#[test]
fn a_reload_keeps_the_suspension_and_says_only_a_change() {
    let c = conf(" ha_suspend", &[TCP]);
    let mut l = lab_on(&c, Some(&[]));
    l.run(5.0, |_, _| pass());
    l.reload(&c);
    assert!(l.since_reload().is_empty(), "{:#?}", l.since_reload());
    assert!(l.s.suspended(VsId(0)));
    // ha_suspend taken out: the checks resume on their cadence.
    l.run(6.0, |_, _| pass());
    l.reload(&conf("", &[TCP]));
    assert_eq!(
        l.since_reload(),
        vec!["t=6.000 Suspended { vs: VsId(0), on: false, start: false }"]
    );
    assert_eq!(
        crate::words::log_line(
            &l.s,
            &Event::Suspended {
                vs: VsId(0),
                on: false,
                start: false
            }
        ),
        "VS [10.0.0.1]:tcp:80: ha_suspend no longer set, checkers resumed"
    );
    l.run(12.0, |_, _| pass());
    assert_eq!(l.times("probe c0"), vec![11.0]);
    // A new virtual server whose address is absent begins suspended, as at start.
    let two = format!(
        "{}{}",
        conf("", &[TCP]),
        conf(" ha_suspend", &[TCP]).replace("10.0.0.1 80", "10.0.0.2 80")
    );
    l.reload(&two);
    assert_eq!(
        l.since_reload(),
        vec![
            "t=12.000 pool vs1 [10.0.1.1]:tcp:80 Add { weight: 1 }",
            "t=12.000 Suspended { vs: VsId(1), on: true, start: true }",
        ]
    );
}

#[test]
fn the_log_says_what_is_suspended_and_why() {
    let mut l = lab_on(&conf(" ha_suspend", &[TCP]), Some(&[]));
    let line = |l: &Lab, on, start| {
        crate::words::log_line(
            &l.s,
            &Event::Suspended {
                vs: VsId(0),
                on,
                start,
            },
        )
    };
    assert_eq!(
        line(&l, true, true),
        "VS [10.0.0.1]:tcp:80: address 10.0.0.1 not on this host, checkers suspended until \
         it is (ha_suspend); real servers keep their starting state"
    );
    assert_eq!(
        line(&l, true, false),
        "VS [10.0.0.1]:tcp:80: address 10.0.0.1 not on this host, checkers suspended \
         (ha_suspend); real servers keep their state"
    );
    assert_eq!(
        line(&l, false, false),
        "VS [10.0.0.1]:tcp:80: address 10.0.0.1 on this host, checkers resumed (ha_suspend)"
    );
    l.add(HERE, "10.0.0.1");
}
