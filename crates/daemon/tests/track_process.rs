//! vrrp_track_process in the running daemon: a tracked process dies and the VIP
//! moves (as fast as the kernel's process events and VRRP allow), comes back and the
//! VIP returns; quorum; terminate_delay; weight 0 means FAULT. Root only; CI runs
//! these serially.
//!
//! Processes are not confined by network namespaces: every process on the machine is
//! visible to every daemon. So each tracked program is a copy of /bin/sleep under a
//! name unique to this lab (its prefix carries the test run's pid and a counter),
//! which no other test or run can start.
#![allow(clippy::unwrap_used)]

mod common;
use common::{keepup, one_instance, routers, wait_addr};

use keepup_testkit::lab::{self, wait_until, Host, Lab, Proc, Signal};
use std::net::{IpAddr, Ipv4Addr};
use std::path::PathBuf;
use std::time::{Duration, Instant};

const VIP: IpAddr = IpAddr::V4(Ipv4Addr::new(10, 9, 0, 100));

fn two(tag: &str) -> (Lab, Host, Host) {
    let (lab, _lan, mut hosts) = routers(tag, 2, false);
    let r2 = hosts.pop().unwrap();
    let r1 = hosts.pop().unwrap();
    (lab, r1, r2)
}

/// A copy of /bin/sleep in the lab dir named `<stem>-<lab prefix>`.
fn program(lab: &Lab, stem: &str) -> (String, PathBuf) {
    let name = format!("{stem}{}", lab.prefix());
    let path = lab.dir().join(&name);
    std::fs::copy("/bin/sleep", &path).unwrap();
    (name, path)
}

/// Start one copy of the tracked program in `host`.
fn start(host: &Host, path: &std::path::Path, n: u32) -> Proc {
    host.spawn(path.to_str().unwrap(), &["1000"], format!("prog-{n}.log"))
        .unwrap()
}

/// The block tracking `chk`.
const TRACK: &str = "    track_process {\n        chk\n    }";

/// Wait for `needle` in the log after byte `mark`; how long it took.
fn log_after(p: &Proc, mark: usize, needle: &str, secs: u64) -> Option<Duration> {
    wait_until(Duration::from_secs(secs), Duration::from_millis(5), || {
        p.log().get(mark..).is_some_and(|l| l.contains(needle))
    })
}

/// "haproxy dies": r1 (150) tracks a process with weight -60, r2 (100) nothing. The
/// process is killed: r1 drops to 90 at once (the kernel says so; nothing polls),
/// so r2 takes the VIP within Master_Down_Interval (3.61 s) of r1's last advert at
/// 150. The process starts again: r1 (150) preempts within its own down interval.
#[test]
fn netns_track_process_weight_moves_vip_and_back() {
    if !lab::root_or_skip("netns_track_process_weight_moves_vip_and_back") {
        return;
    }
    let (lab, r1, r2) = two("tproc");
    let (name, path) = program(&lab, "kp");
    assert!(name.len() <= 15, "{name}: a name the kernel keeps whole");
    let top = format!("vrrp_track_process chk {{\n    process {name}\n    weight -60\n}}");
    let p1 = start(&r1, &path, 1);
    let k1 = keepup(&lab, &r1, &one_instance(150, &top, TRACK), "a");
    let k2 = keepup(&lab, &r2, &one_instance(100, "", ""), "a");
    assert!(
        wait_addr(&r1, VIP, true, 10).is_some(),
        "r1 never became master:\n{}",
        k1.log()
    );
    k2.wait_for_log("Entering BACKUP STATE", Duration::from_secs(3))
        .unwrap();
    let log1 = k1.log();
    assert!(
        log1.contains("track_process: watching process events (kernel process connector"),
        "{log1}"
    );
    assert!(
        log1.contains("Quorum gained for tracked process chk (1 running)"),
        "{log1}"
    );

    let mark = k1.log().len();
    p1.kill(Signal::SIGKILL).unwrap();
    let killed = Instant::now();
    let seen = log_after(&k1, mark, "Quorum lost for tracked process chk", 2)
        .unwrap_or_else(|| panic!("exit not noticed:\n{}", k1.log()));
    eprintln!("process killed -> r1 knows after {seen:?}");
    assert!(
        seen < Duration::from_millis(500),
        "an exit event is immediate, took {seen:?}"
    );
    assert!(
        wait_addr(&r2, VIP, true, 10).is_some(),
        "r2 did not take over:\nr1:\n{}\nr2:\n{}",
        k1.log(),
        k2.log()
    );
    let took = killed.elapsed();
    eprintln!("process killed -> r2 holds the VIP after {took:?}");
    assert!(
        took < Duration::from_millis(6000),
        "takeover after {took:?} (down interval 3.61 s + slack)"
    );
    assert!(
        wait_addr(&r1, VIP, false, 2).is_some(),
        "VIP left on r1:\n{}",
        k1.log()
    );

    let mark = k1.log().len();
    let _p2 = start(&r1, &path, 2);
    let started = Instant::now();
    let seen = log_after(&k1, mark, "Quorum gained for tracked process chk", 2)
        .unwrap_or_else(|| panic!("start not noticed:\n{}", k1.log()));
    eprintln!("process started -> r1 knows after {seen:?}");
    assert!(
        wait_addr(&r1, VIP, true, 10).is_some(),
        "r1 did not preempt:\n{}",
        k1.log()
    );
    let back = started.elapsed();
    eprintln!("process started -> r1 holds the VIP again after {back:?}");
    assert!(
        back < Duration::from_millis(6000),
        "preempt after {back:?} (down interval 3.41 s + slack)"
    );
    assert!(
        wait_addr(&r2, VIP, false, 3).is_some(),
        "VIP left on r2:\n{}",
        k2.log()
    );
}

/// quorum 2 and terminate_delay 2 on a name longer than the kernel keeps (matched
/// by argv[0]): one process is not enough (r2 is master); a second one gives the
/// quorum and r1 preempts. A process replaced within the delay is never seen as a
/// loss; one that stays gone is, after the delay, and the VIP moves to r2.
#[test]
fn netns_track_process_quorum_and_terminate_delay() {
    if !lab::root_or_skip("netns_track_process_quorum_and_terminate_delay") {
        return;
    }
    let (lab, r1, r2) = two("tprocq");
    let (name, path) = program(&lab, "kpchk-quorum-");
    assert!(name.len() > 15, "{name}: longer than comm");
    let top = format!(
        "vrrp_track_process chk {{\n    process {name}\n    weight -60\n    quorum 2\n    terminate_delay 2\n}}"
    );
    let _a = start(&r1, &path, 1);
    let k1 = keepup(&lab, &r1, &one_instance(150, &top, TRACK), "a");
    let k2 = keepup(&lab, &r2, &one_instance(100, "", ""), "a");
    k1.wait_for_log(
        "Quorum lost for tracked process chk (1 running)",
        Duration::from_secs(5),
    )
    .unwrap_or_else(|e| panic!("{e}:\n{}", k1.log()));
    assert!(
        wait_addr(&r2, VIP, true, 10).is_some(),
        "one process of 2: r2 (100) should beat r1 (90):\nr1:\n{}\nr2:\n{}",
        k1.log(),
        k2.log()
    );
    assert!(!common::has(&r1, VIP));

    let mark = k1.log().len();
    let b = start(&r1, &path, 2);
    let started = Instant::now();
    log_after(
        &k1,
        mark,
        "Quorum gained for tracked process chk (2 running)",
        2,
    )
    .unwrap_or_else(|| panic!("second process not counted:\n{}", k1.log()));
    assert!(
        wait_addr(&r1, VIP, true, 10).is_some(),
        "r1 did not preempt:\n{}",
        k1.log()
    );
    eprintln!(
        "quorum reached -> r1 holds the VIP after {:?}",
        started.elapsed()
    );

    // Replaced within terminate_delay: no change at all.
    let mark = k1.log().len();
    b.kill(Signal::SIGKILL).unwrap();
    std::thread::sleep(Duration::from_millis(500));
    let c = start(&r1, &path, 3);
    std::thread::sleep(Duration::from_millis(2500));
    let since = k1.log()[mark..].to_string();
    assert!(
        !since.contains("Quorum lost"),
        "a restart within terminate_delay was reported:\n{since}"
    );
    assert!(common::has(&r1, VIP), "r1 lost the VIP:\n{}", k1.log());

    // Gone for good: lost after the delay, then the VIP moves.
    let mark = k1.log().len();
    c.kill(Signal::SIGKILL).unwrap();
    let killed = Instant::now();
    let lost = log_after(&k1, mark, "Quorum lost for tracked process chk", 6)
        .unwrap_or_else(|| panic!("loss never reported:\n{}", k1.log()));
    eprintln!("process killed -> quorum lost after {lost:?} (terminate_delay 2 s)");
    assert!(
        lost >= Duration::from_millis(1900) && lost < Duration::from_millis(3000),
        "terminate_delay 2 s, reported after {lost:?}"
    );
    assert!(
        wait_addr(&r2, VIP, true, 10).is_some(),
        "r2 did not take over:\n{}",
        k2.log()
    );
    let took = killed.elapsed();
    eprintln!("process killed -> r2 holds the VIP after {took:?}");
    assert!(
        took < Duration::from_millis(8000),
        "takeover after {took:?} (delay 2 s + down interval 3.61 s + slack)"
    );
}

/// weight 0 (the default): the process gone puts r1 in FAULT at once and r2 takes
/// the VIP; back again, r1 leaves FAULT and preempts.
#[test]
fn netns_track_process_weight_zero_fault() {
    if !lab::root_or_skip("netns_track_process_weight_zero_fault") {
        return;
    }
    let (lab, r1, r2) = two("tprocf");
    let (name, path) = program(&lab, "kf");
    let top = format!("vrrp_track_process chk {{\n    process {name}\n}}");
    let p1 = start(&r1, &path, 1);
    let k1 = keepup(&lab, &r1, &one_instance(150, &top, TRACK), "a");
    let k2 = keepup(&lab, &r2, &one_instance(100, "", ""), "a");
    assert!(
        wait_addr(&r1, VIP, true, 10).is_some(),
        "r1 never became master:\n{}",
        k1.log()
    );
    k2.wait_for_log("Entering BACKUP STATE", Duration::from_secs(3))
        .unwrap();

    let mark = k1.log().len();
    p1.kill(Signal::SIGKILL).unwrap();
    let killed = Instant::now();
    let fault = log_after(&k1, mark, "Entering FAULT STATE", 3)
        .unwrap_or_else(|| panic!("no FAULT:\n{}", k1.log()));
    eprintln!("process killed -> r1 in FAULT after {fault:?}");
    assert!(fault < Duration::from_millis(1000), "FAULT after {fault:?}");
    assert!(!common::has(&r1, VIP), "FAULT with the VIP:\n{}", k1.log());
    assert!(
        wait_addr(&r2, VIP, true, 6).is_some(),
        "r2 did not take over:\n{}",
        k2.log()
    );
    let took = killed.elapsed();
    eprintln!("process killed -> r2 holds the VIP after {took:?}");
    assert!(
        took < Duration::from_millis(5000),
        "takeover after {took:?} (at most the down interval 3.61 s + slack)"
    );

    let _p2 = start(&r1, &path, 2);
    let started = Instant::now();
    assert!(
        wait_addr(&r1, VIP, true, 10).is_some(),
        "r1 did not come back:\n{}",
        k1.log()
    );
    eprintln!(
        "process started -> r1 holds the VIP after {:?}",
        started.elapsed()
    );
}
