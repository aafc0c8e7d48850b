//! Planned switchover without loss: a keepup Master stopped with SIGTERM sends its
//! priority-0 advert at once but keeps answering for its VIP until the new Master
//! (keepup or keepalived 2.2.7) has taken over, so a client sending an ICMP echo
//! every 2 ms loses none. Root only; CI runs these serially.
#![allow(clippy::unwrap_used)]

mod common;
use common::{has, keepup, routers, wait_addr};

use keepup_testkit::lab::{self, longest_gap, probe::now, Signal};
use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

const VIP: Ipv4Addr = Ipv4Addr::new(10, 9, 0, 100);

const CONF: &str = "\
vrrp_instance VI_1 {
    state BACKUP
    interface eth0
    virtual_router_id 51
@r1 priority 150
@r2 priority 100
    advert_int 1
    virtual_ipaddress {
        10.9.0.100/24
    }
}
";

/// r1 (keepup, 150) is Master, r2 (100) runs keepup or keepalived; a client
/// probes the VIP every 2 ms; r1 gets SIGTERM. The VIP moves to r2 at its
/// Skew_Time, r1 lets go once r2 has announced it, and no echo goes unanswered.
fn switchover(tag: &str, successor_keepup: bool) {
    let (lab, lan, mut hosts) = routers(tag, 2, false);
    let r2 = hosts.pop().unwrap();
    let r1 = hosts.pop().unwrap();
    let client = lab
        .host("c", &lan, Ipv4Addr::new(10, 9, 0, 10), None)
        .unwrap();
    let vip = IpAddr::V4(VIP);
    let k1 = keepup(&lab, &r1, CONF, "a");
    assert!(wait_addr(&r1, vip, true, 10).is_some(), "{}", k1.log());
    let (k2, kad) = if successor_keepup {
        (Some(keepup(&lab, &r2, CONF, "a")), None)
    } else {
        (None, Some(r2.keepalived(CONF).unwrap()))
    };
    let log2 = || match (&k2, &kad) {
        (Some(k), _) => k.log(),
        (_, Some(k)) => k.log(),
        _ => String::new(),
    };
    let backup = lab::wait_until(Duration::from_secs(5), Duration::from_millis(20), || {
        log2().contains("Entering BACKUP STATE")
    });
    assert!(backup.is_some(), "r2 never became Backup:\n{}", log2());

    let probe = client.probe(VIP, Duration::from_millis(2)).unwrap();
    let started = now();
    let answered = lab::wait_until(Duration::from_secs(3), Duration::from_millis(10), || {
        probe.replied_after(started)
    });
    assert!(answered.is_some(), "the client never reached the VIP");
    std::thread::sleep(Duration::from_millis(500));

    let stop = now();
    k1.kill(Signal::SIGTERM).unwrap();
    assert!(
        wait_addr(&r2, vip, true, 5).is_some(),
        "r2 did not take over:\n{}",
        log2()
    );
    assert!(
        k1.wait_timeout(Duration::from_secs(6)).is_some(),
        "keepup did not exit:\n{}",
        k1.log()
    );
    let exited = now() - stop;
    assert!(!has(&r1, vip), "VIP left on r1:\n{}", k1.log());
    std::thread::sleep(Duration::from_millis(500));
    let end = now();
    let echoes = probe.echoes();
    drop(probe);
    // Echoes sent from just before the stop until 100 ms before the end (later ones
    // may still be on their way).
    let window: Vec<_> = echoes
        .iter()
        .filter(|e| e.sent >= stop - Duration::from_millis(100))
        .filter(|e| e.sent + Duration::from_millis(100) <= end)
        .collect();
    let lost = window.iter().filter(|e| e.reply.is_none()).count();
    let gap = longest_gap(&echoes, stop - Duration::from_millis(100), end).unwrap();
    let log1 = k1.log();
    eprintln!(
        "{tag}: {} echoes, {lost} lost, longest gap {:.1} ms; keepup exited {:.3} s after SIGTERM",
        window.len(),
        gap.secs() * 1000.0,
        exited.as_secs_f64()
    );
    assert!(window.len() > 300, "too few echoes: {}", window.len());
    assert_eq!(lost, 0, "lost echoes during the switchover:\n{log1}");
    assert!(
        log1.contains("took over; releasing the VIPs")
            || log1.contains("the new master announced the VIPs"),
        "{log1}"
    );
}

#[test]
fn netns_switchover_to_keepup_loses_nothing() {
    if !lab::root_or_skip("netns_switchover_to_keepup_loses_nothing") {
        return;
    }
    switchover("swku", true);
}

#[test]
fn netns_switchover_to_keepalived_loses_nothing() {
    if !lab::root_or_skip("netns_switchover_to_keepalived_loses_nothing") {
        return;
    }
    switchover("swka", false);
}

/// A restarted higher-priority keepup takes the VIP back (preemption) from keepup or
/// keepalived 2.2.7 without a lost echo: it announces the VIP with its first advert,
/// and the old Master lets go when it hears that advert.
fn preemption(tag: &str, old_keepup: bool) {
    let (lab, lan, mut hosts) = routers(tag, 2, false);
    let r2 = hosts.pop().unwrap();
    let r1 = hosts.pop().unwrap();
    let client = lab
        .host("c", &lan, Ipv4Addr::new(10, 9, 0, 10), None)
        .unwrap();
    let vip = IpAddr::V4(VIP);
    let (k2, kad) = if old_keepup {
        (Some(keepup(&lab, &r2, CONF, "a")), None)
    } else {
        (None, Some(r2.keepalived(CONF).unwrap()))
    };
    let log2 = || match (&k2, &kad) {
        (Some(k), _) => k.log(),
        (_, Some(k)) => k.log(),
        _ => String::new(),
    };
    assert!(wait_addr(&r2, vip, true, 10).is_some(), "{}", log2());
    let probe = client.probe(VIP, Duration::from_millis(2)).unwrap();
    let started = now();
    let answered = lab::wait_until(Duration::from_secs(3), Duration::from_millis(10), || {
        probe.replied_after(started)
    });
    assert!(answered.is_some(), "the client never reached the VIP");
    let restart = now();
    let k1 = keepup(&lab, &r1, CONF, "b");
    assert!(
        wait_addr(&r1, vip, true, 10).is_some(),
        "r1 did not preempt:\n{}",
        k1.log()
    );
    assert!(wait_addr(&r2, vip, false, 3).is_some(), "{}", log2());
    std::thread::sleep(Duration::from_millis(500));
    let end = now();
    let echoes = probe.echoes();
    drop(probe);
    let window: Vec<_> = echoes
        .iter()
        .filter(|e| e.sent >= restart)
        .filter(|e| e.sent + Duration::from_millis(100) <= end)
        .collect();
    let lost = window.iter().filter(|e| e.reply.is_none()).count();
    let gap = longest_gap(&echoes, restart, end).unwrap();
    eprintln!(
        "{tag}: {} echoes, {lost} lost, longest gap {:.1} ms",
        window.len(),
        gap.secs() * 1000.0
    );
    assert!(window.len() > 1000, "too few echoes: {}", window.len());
    assert_eq!(lost, 0, "lost echoes during the preemption:\n{}", k1.log());
}

#[test]
fn netns_preemption_from_keepup_loses_nothing() {
    if !lab::root_or_skip("netns_preemption_from_keepup_loses_nothing") {
        return;
    }
    preemption("prku", true);
}

#[test]
fn netns_preemption_from_keepalived_loses_nothing() {
    if !lab::root_or_skip("netns_preemption_from_keepalived_loses_nothing") {
        return;
    }
    preemption("prka", false);
}
