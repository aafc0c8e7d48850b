//! keepup daemons in a real lab: hosts in network namespaces on one bridge, real
//! kernel sockets and addresses. Root only; CI runs these serially.
#![allow(clippy::unwrap_used)]

use keepup_testkit::lab::Signal;
use keepup_testkit::lab::{self, wait_until, Host, Lab};
use std::net::{IpAddr, Ipv4Addr};
use std::time::{Duration, Instant};

const VIP: IpAddr = IpAddr::V4(Ipv4Addr::new(10, 9, 0, 100));

/// One config for both routers; `@r1`/`@r2` lines pick each one's priority (keepup
/// and keepalived both match them against `-i`).
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

fn keepup(lab: &Lab, host: &Host, conf: &str, tag: &str) -> lab::Proc {
    let path = lab.file(&format!("{}-{tag}.conf", host.name()));
    std::fs::write(&path, conf).unwrap();
    let runtime = lab.file(&format!("{}-run", host.name()));
    host.spawn(
        env!("CARGO_BIN_EXE_keepup"),
        &[
            "run",
            "-f",
            path.to_str().unwrap(),
            "-i",
            host.name(),
            "--runtime-dir",
            runtime.to_str().unwrap(),
        ],
        format!("{}-{tag}.log", host.name()),
    )
    .unwrap()
}

fn has_vip(h: &Host) -> bool {
    h.has_address(VIP).unwrap_or(false)
}

fn wait_vip(h: &Host, want: bool, secs: u64) -> Option<Duration> {
    wait_until(Duration::from_secs(secs), Duration::from_millis(10), || {
        has_vip(h) == want
    })
}

/// Ledger: BKP-07
/// Master killed with SIGKILL: the Backup takes over at the down interval
/// (3 × 1 s + 0.609 s at priority 100); the VIP is on exactly one host; the killed
/// daemon's VIP is still on its interface (nothing cleaned up), and a restart
/// removes it before its first advert, then preempts.
#[test]
fn netns_keepup_sigkill_failover_and_stale_vip_on_restart() {
    if !lab::root_or_skip("netns_keepup_sigkill_failover_and_stale_vip_on_restart") {
        return;
    }
    let lab = Lab::new("kfail").unwrap();
    let lan = lab.bridge().unwrap();
    let r1 = lab
        .host("r1", &lan, Ipv4Addr::new(10, 9, 0, 1), None)
        .unwrap();
    let r2 = lab
        .host("r2", &lan, Ipv4Addr::new(10, 9, 0, 2), None)
        .unwrap();
    let k1 = keepup(&lab, &r1, CONF, "a");
    let k2 = keepup(&lab, &r2, CONF, "a");
    assert!(
        wait_vip(&r1, true, 10).is_some(),
        "r1 never became master:\n{}",
        k1.log()
    );
    k2.wait_for_log("Entering BACKUP STATE", Duration::from_secs(2))
        .unwrap();
    assert!(!has_vip(&r2));

    let killed = Instant::now();
    k1.kill(Signal::SIGKILL).unwrap();
    assert!(
        wait_vip(&r2, true, 8).is_some(),
        "r2 did not take over:\n{}",
        k2.log()
    );
    let took = killed.elapsed();
    assert!(
        took < Duration::from_millis(4700),
        "takeover after {took:?} (down interval 3.61 s)"
    );
    // SIGKILL gives no chance to clean up: the stale VIP is still on r1.
    assert!(has_vip(&r1), "kernel dropped the VIP by itself?");

    let restarted = Instant::now();
    let k1b = keepup(&lab, &r1, CONF, "b");
    let gone = wait_vip(&r1, false, 3).expect("stale VIP not removed on restart");
    assert!(
        gone < Duration::from_secs(1),
        "stale VIP removed after {gone:?}"
    );
    assert!(
        k1b.log().contains("removed stale address 10.9.0.100/24"),
        "{}",
        k1b.log()
    );
    // r1 (150) preempts r2 (100).
    assert!(
        wait_vip(&r1, true, 8).is_some(),
        "r1 did not preempt:\n{}",
        k1b.log()
    );
    assert!(
        wait_vip(&r2, false, 3).is_some(),
        "VIP left on r2:\n{}",
        k2.log()
    );
    let _ = restarted;
    drop(k2);
}

/// Ledger: MST-06
/// Ledger: BKP-08
/// Graceful stop (SIGTERM): the master sends priority 0 and removes its VIP; the
/// Backup takes over after Skew_Time (0.609 s at priority 100), far sooner than the
/// down interval.
#[test]
fn netns_keepup_graceful_stop_takeover_at_skew() {
    if !lab::root_or_skip("netns_keepup_graceful_stop_takeover_at_skew") {
        return;
    }
    let lab = Lab::new("kstop").unwrap();
    let lan = lab.bridge().unwrap();
    let r1 = lab
        .host("r1", &lan, Ipv4Addr::new(10, 9, 0, 1), None)
        .unwrap();
    let r2 = lab
        .host("r2", &lan, Ipv4Addr::new(10, 9, 0, 2), None)
        .unwrap();
    let k1 = keepup(&lab, &r1, CONF, "a");
    let k2 = keepup(&lab, &r2, CONF, "a");
    assert!(wait_vip(&r1, true, 10).is_some(), "{}", k1.log());
    k2.wait_for_log("Entering BACKUP STATE", Duration::from_secs(2))
        .unwrap();
    let stopped = Instant::now();
    k1.kill(Signal::SIGTERM).unwrap();
    assert!(wait_vip(&r2, true, 5).is_some(), "{}", k2.log());
    let took = stopped.elapsed();
    assert!(
        took < Duration::from_millis(1500),
        "takeover after {took:?}"
    );
    assert!(
        k1.wait_timeout(Duration::from_secs(3)).is_some(),
        "keepup did not exit"
    );
    assert!(!has_vip(&r1), "VIP left behind by a graceful stop");
}
