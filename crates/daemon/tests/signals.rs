//! Every signal keepalived handles, sent to a keepup Master: none may end it (a
//! daemon ended by a signal's default action leaves its VIP on the interface), and
//! the dump signals write their files. Root only; CI runs these serially.
#![allow(clippy::unwrap_used)]

mod common;
use common::{client, has, keepup, one_instance, routers, wait_addr};

use keepup_testkit::lab;
use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

const VIP: IpAddr = IpAddr::V4(Ipv4Addr::new(10, 9, 0, 100));

/// keepalived's signals by number: USR1 (data dump), USR2 (stats), HUP (reload),
/// SIGJSON (SIGRTMIN+2), SIGSTATS_CLEAR (SIGRTMAX-1), SIGTDUMP (SIGRTMAX).
fn keepalived_signals() -> Vec<(String, i32)> {
    let (min, max) = (nix::libc::SIGRTMIN(), nix::libc::SIGRTMAX());
    vec![
        ("USR1".into(), nix::libc::SIGUSR1),
        ("USR2".into(), nix::libc::SIGUSR2),
        ("HUP".into(), nix::libc::SIGHUP),
        ("JSON (RTMIN+2)".into(), min + 2),
        ("STATS_CLEAR (RTMAX-1)".into(), max - 1),
        ("TDUMP (RTMAX)".into(), max),
    ]
}

#[test]
fn netns_no_keepalived_signal_ends_a_master_or_strands_its_vip() {
    if !lab::root_or_skip("netns_no_keepalived_signal_ends_a_master_or_strands_its_vip") {
        return;
    }
    let (lab, _lan, hosts) = routers("ksig", 1, false);
    let r1 = &hosts[0];
    // The dump files go to the lab, not to /tmp (where a real keepalived's may be).
    let d = lab.dir().display().to_string();
    let top = format!(
        "global_defs {{\n state_file_location {d}/\n stats_file_location {d}/\n json_file_location {d}/\n}}\n"
    );
    let k = keepup(&lab, r1, &one_instance(150, &top, ""), "a");
    assert!(
        wait_addr(r1, VIP, true, 10).is_some(),
        "never Master:\n{}",
        k.log()
    );
    for (name, n) in keepalived_signals() {
        // `kill` takes real-time signals by number, which nix's Signal cannot name.
        let sent = std::process::Command::new("kill")
            .args([format!("-{n}"), k.pid().to_string()])
            .status()
            .unwrap();
        assert!(sent.success(), "kill -{n} failed");
        std::thread::sleep(Duration::from_millis(300));
        assert!(k.is_running(), "SIG{name} ended keepup:\n{}", k.log());
        assert!(has(r1, VIP), "VIP gone after SIG{name}:\n{}", k.log());
        let (code, out, err) = client(&lab, r1, &["status"]);
        assert_eq!(code, 0, "no status after SIG{name}: {err}");
        assert!(out.contains("MASTER"), "after SIG{name}:\n{out}");
    }
    let log = k.log();
    assert!(log.contains("Printing VRRP data for process"), "{log}");
    for f in ["keepalived.data", "keepalived.stats", "keepalived.json"] {
        assert!(lab.dir().join(f).exists(), "no {f}:\n{log}");
    }
    assert!(log.contains("Reloading"), "{log}");
    assert_eq!(
        log.matches("Entering MASTER STATE").count(),
        1,
        "a signal made it flap:\n{log}"
    );
}
