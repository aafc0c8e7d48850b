//! `keepup demo`, run as a user would: the built binary, its output and exit status.
#![allow(clippy::unwrap_used)]

use keepup_testkit::lab;
use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_keepup");

/// The number after `prefix` on the first line that has it (`client outage: 3.53 s`).
fn number_after(out: &str, prefix: &str) -> Option<f64> {
    out.lines().find_map(|l| {
        let (_, rest) = l.split_once(prefix)?;
        rest.split_whitespace().next()?.parse().ok()
    })
}

/// The whole demo in a real lab: election, SIGKILL failover with a measured client
/// outage near r2's Master_Down_Interval (3.531 s after r1's last advert, so 2.5 to
/// 3.6 s after a kill at a random point of the advert interval), preemption by the
/// restarted r1, graceful stop, lab removed.
#[test]
fn netns_demo_runs_to_completion() {
    if !lab::root_or_skip("netns_demo_runs_to_completion") {
        return;
    }
    let out = Command::new(BIN).arg("demo").output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let all = format!("stdout:\n{stdout}\nstderr:\n{stderr}");
    assert!(out.status.success(), "{:?}\n{all}", out.status);

    assert!(
        stdout.contains("r1 MASTER  r2 BACKUP  r3 BACKUP"),
        "no election seen\n{all}"
    );
    assert!(
        stdout.contains("r1 down    r2 MASTER  r3 BACKUP"),
        "no takeover by r2 seen\n{all}"
    );
    let outage = number_after(&stdout, "client outage: ").expect("no measured outage");
    assert!((2.0..6.0).contains(&outage), "outage {outage} s\n{all}");
    let took = number_after(&stdout, "r2 took over ").expect("no takeover instant");
    assert!(
        (3.4..4.2).contains(&took),
        "takeover {took} s after r1's last advert (Master_Down_Interval 3.531 s)\n{all}"
    );
    assert!(!stdout.contains("(not seen)"), "{all}");
    let preempt = number_after(&stdout, "r1 preempted r2 ").expect("no preemption");
    assert!(
        (3.0..5.0).contains(&preempt),
        "preempted after {preempt} s\n{all}"
    );
    assert!(
        stdout.contains("r1 removed the stale 10.51.0.100"),
        "stale VIP not removed on restart\n{all}"
    );
    assert!(stdout.contains("exited 0"), "{all}");
    assert!(stdout.trim_end().ends_with("lab removed"), "{all}");
}

/// Without root the demo says why it needs root and exits 1. As root, the check runs
/// the binary as `nobody` through setpriv (util-linux).
#[test]
fn demo_without_root_says_why_and_exits_1() {
    let mut cmd = if lab::is_root() {
        let mut c = Command::new("setpriv");
        c.args(["--reuid=65534", "--regid=65534", "--clear-groups", BIN]);
        c
    } else {
        Command::new(BIN)
    };
    let out = match cmd.arg("demo").output() {
        Ok(o) => o,
        Err(e) if std::env::var_os("CI").is_none() => {
            eprintln!("skipped demo_without_root_says_why_and_exits_1: cannot run setpriv: {e}");
            return;
        }
        Err(e) => panic!("cannot run setpriv: {e}"),
    };
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("needs root"), "{stderr}");
    assert!(stderr.contains("network namespaces"), "{stderr}");
    assert!(stderr.contains("raw"), "{stderr}");
    assert!(out.stdout.is_empty());
}

#[test]
fn demo_help_explains_it() {
    let out = Command::new(BIN).args(["demo", "--help"]).output().unwrap();
    assert!(out.status.success());
    let help = String::from_utf8_lossy(&out.stdout);
    for needle in [
        "Needs root",
        "network namespaces",
        "SIGKILL",
        "Master_Down_Interval",
        "KEEPUP_KEEP_LAB",
    ] {
        assert!(help.contains(needle), "{needle:?} not in\n{help}");
    }
    let top = Command::new(BIN).arg("--help").output().unwrap();
    assert!(String::from_utf8_lossy(&top.stdout).contains("demo"));
}
