//! Notify scripts in a real lab: every transition reaches the scripts, in order.
#![allow(clippy::unwrap_used)]

mod common;
use common::{keepup, routers, wait_addr};
use keepup_testkit::lab::{self, wait_until, Signal};
use std::net::IpAddr;
use std::time::Duration;

/// Twenty state changes in two seconds (the link flapping: FAULT, BACKUP, ...) give
/// notify calls in exactly the transition order, with keepalived's arguments, even
/// though each call is slower than the flaps (it sleeps 50 ms).
#[test]
fn netns_notify_calls_follow_transition_order() {
    if !lab::root_or_skip("netns_notify_calls_follow_transition_order") {
        return;
    }
    let (lab, _lan, hosts) = routers("knotify", 1, false);
    let r1 = &hosts[0];
    let out = lab.dir().join("notify.out");
    let script = lab.dir().join("notify.sh");
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\necho \"$1 $2 $3 $4\" >> {}\nsleep 0.05\n",
            out.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let conf = format!(
        "vrrp_instance VI_1 {{\n    interface eth0\n    virtual_router_id 51\n    priority 150\n    advert_int 1\n    notify {}\n    virtual_ipaddress {{\n        10.9.0.100/24\n    }}\n}}\n",
        script.display()
    );
    let k1 = keepup(&lab, r1, &conf, "a");
    let vip: IpAddr = "10.9.0.100".parse().unwrap();
    assert!(wait_addr(r1, vip, true, 10).is_some(), "{}", k1.log());
    for _ in 0..10 {
        r1.link_set("eth0", false).unwrap();
        std::thread::sleep(Duration::from_millis(100));
        r1.link_set("eth0", true).unwrap();
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(wait_addr(r1, vip, true, 10).is_some(), "{}", k1.log());
    k1.kill(Signal::SIGTERM).unwrap();
    k1.wait_timeout(Duration::from_secs(5));
    let log = k1.log();
    let entered: Vec<String> = log
        .lines()
        .filter_map(|l| l.split("(VI_1) Entering ").nth(1))
        .map(|rest| rest.split(' ').next().unwrap().to_string())
        .collect();
    assert!(
        entered.len() >= 22,
        "only {} transitions:\n{log}",
        entered.len()
    );
    // Every call has run once the queue drains (50 ms each).
    let want = entered.len();
    wait_until(Duration::from_secs(10), Duration::from_millis(50), || {
        std::fs::read_to_string(&out).map_or(0, |s| s.lines().count()) >= want
    });
    let calls: Vec<String> = std::fs::read_to_string(&out)
        .unwrap()
        .lines()
        .map(String::from)
        .collect();
    let states: Vec<String> = calls
        .iter()
        .map(|l| l.split(' ').nth(2).unwrap_or("").to_string())
        .collect();
    assert_eq!(states, entered, "notify order differs from the transitions");
    assert!(
        calls.iter().all(|c| c.starts_with("INSTANCE VI_1 ")),
        "{calls:?}"
    );
    assert!(
        calls.contains(&"INSTANCE VI_1 MASTER 150".to_string()),
        "{calls:?}"
    );
}
