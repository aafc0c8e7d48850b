//! Trackers in the running daemon: vrrp_script weights and FAULT, track_interface,
//! and a hung script killed with its children. Root only; CI runs these serially.
#![allow(clippy::unwrap_used)]

mod common;
use common::{has, keepup, one_instance, routers, wait_addr};

use keepup_testkit::lab::{self, wait_until, Host, Lab, Signal};
use std::net::{IpAddr, Ipv4Addr};
use std::path::Path;
use std::time::{Duration, Instant};

const VIP: IpAddr = IpAddr::V4(Ipv4Addr::new(10, 9, 0, 100));

/// A `vrrp_script chk` that fails while `<lab dir>/down-<host>` exists.
fn down_script(dir: &Path, host: &str, extra: &str) -> String {
    format!(
        "vrrp_script chk {{
    script \"/bin/sh -c 'test ! -e {}/down-{host}'\"
    interval 1
{extra}
}}",
        dir.display()
    )
}

fn two(tag: &str) -> (Lab, lab::Lan, Host, Host) {
    let (lab, lan, mut hosts) = routers(tag, 2, false);
    let r2 = hosts.pop().unwrap();
    let r1 = hosts.pop().unwrap();
    (lab, lan, r1, r2)
}

/// "nginx dies": r1 (150) and r2 (100) track a script with weight -60, fall 2,
/// rise 2. r1's check fails: r1 drops to 90 and r2 takes the VIP within
/// fall × interval + Master_Down_Interval (2 + 3.61 s, plus slack); the check
/// recovers: r1 (150) preempts after rise × interval + its down interval.
#[test]
fn netns_track_script_weight_moves_vip_and_back() {
    if !lab::root_or_skip("netns_track_script_weight_moves_vip_and_back") {
        return;
    }
    let (lab, _lan, r1, r2) = two("tscr");
    let dir = lab.dir().to_path_buf();
    let extra = "    fall 2\n    rise 2\n    weight -60";
    let track = "    track_script {\n        chk\n    }";
    let k1 = keepup(
        &lab,
        &r1,
        &one_instance(150, &down_script(&dir, "r1", extra), track),
        "a",
    );
    let k2 = keepup(
        &lab,
        &r2,
        &one_instance(100, &down_script(&dir, "r2", extra), track),
        "a",
    );
    assert!(
        wait_addr(&r1, VIP, true, 10).is_some(),
        "r1 never became master:\n{}",
        k1.log()
    );
    k2.wait_for_log("Entering BACKUP STATE", Duration::from_secs(3))
        .unwrap();
    k1.wait_for_log("VRRP_Script(chk) succeeded", Duration::from_secs(2))
        .unwrap();

    let down = dir.join("down-r1");
    std::fs::write(&down, "").unwrap();
    let failed = Instant::now();
    assert!(
        wait_addr(&r2, VIP, true, 12).is_some(),
        "r2 did not take over:\nr1:\n{}\nr2:\n{}",
        k1.log(),
        k2.log()
    );
    let took = failed.elapsed();
    eprintln!("check failed -> r2 holds the VIP after {took:?}");
    assert!(
        took < Duration::from_millis(7500),
        "takeover after {took:?} (fall 2 s + down interval 3.61 s)"
    );
    assert!(
        wait_addr(&r1, VIP, false, 2).is_some(),
        "VIP left on r1:\n{}",
        k1.log()
    );
    let log1 = k1.log();
    assert!(log1.contains("Script `chk` now returning 1"), "{log1}");
    assert!(
        log1.contains("VRRP_Script(chk) failed (exited with status 1)"),
        "{log1}"
    );

    std::fs::remove_file(&down).unwrap();
    let recovered = Instant::now();
    assert!(
        wait_addr(&r1, VIP, true, 12).is_some(),
        "r1 did not preempt:\n{}",
        k1.log()
    );
    let back = recovered.elapsed();
    eprintln!("check recovered -> r1 holds the VIP again after {back:?}");
    assert!(
        back < Duration::from_millis(7500),
        "preempt after {back:?} (rise 2 s + down interval 3.41 s)"
    );
    assert!(
        wait_addr(&r2, VIP, false, 3).is_some(),
        "VIP left on r2:\n{}",
        k2.log()
    );
    assert!(k1.log().contains("Script `chk` now returning 0"));
}

/// An unweighted script (weight 0) that fails puts r1 in FAULT and the VIP moves;
/// when it succeeds again r1 comes back. Then a tracked second interface (no
/// weight) goes down on r1: FAULT again; up: back.
#[test]
fn netns_track_weight_zero_script_and_interface_fault() {
    if !lab::root_or_skip("netns_track_weight_zero_script_and_interface_fault") {
        return;
    }
    let (lab, _lan, mut r1, r2) = two("tfault");
    let lan2 = lab.bridge().unwrap();
    let eth1 = r1.join(&lan2, Ipv4Addr::new(10, 9, 1, 1), None).unwrap();
    let dir = lab.dir().to_path_buf();
    let scripts = down_script(&dir, "r1", "    weight 0");
    let track1 = format!(
        "    track_script {{\n        chk\n    }}\n    track_interface {{\n        {eth1}\n    }}"
    );
    let k1 = keepup(&lab, &r1, &one_instance(150, &scripts, &track1), "a");
    let k2 = keepup(&lab, &r2, &one_instance(100, "", ""), "a");
    assert!(
        wait_addr(&r1, VIP, true, 10).is_some(),
        "r1 never became master:\n{}",
        k1.log()
    );
    k2.wait_for_log("Entering BACKUP STATE", Duration::from_secs(3))
        .unwrap();

    let down = dir.join("down-r1");
    std::fs::write(&down, "").unwrap();
    let t = Instant::now();
    k1.wait_for_log("Entering FAULT STATE", Duration::from_secs(4))
        .unwrap_or_else(|e| panic!("{e}: {}", k1.log()));
    assert!(!common::has(&r1, VIP), "FAULT with the VIP:\n{}", k1.log());
    assert!(
        wait_addr(&r2, VIP, true, 6).is_some(),
        "r2 did not take over:\n{}",
        k2.log()
    );
    eprintln!(
        "weight-0 check failed -> r2 holds the VIP after {:?}",
        t.elapsed()
    );

    std::fs::remove_file(&down).unwrap();
    let t = Instant::now();
    assert!(
        wait_addr(&r1, VIP, true, 10).is_some(),
        "r1 did not come back:\n{}",
        k1.log()
    );
    eprintln!(
        "check recovered -> r1 holds the VIP after {:?}",
        t.elapsed()
    );

    let mark = k1.log().len();
    r1.link_set(&eth1, false).unwrap();
    let t = Instant::now();
    assert!(
        wait_until(Duration::from_secs(3), Duration::from_millis(10), || {
            k1.log()[mark..].contains("Entering FAULT STATE")
        })
        .is_some(),
        "no FAULT on {eth1} down:\n{}",
        k1.log()
    );
    assert!(
        wait_addr(&r2, VIP, true, 6).is_some(),
        "r2 did not take over after {eth1} down:\n{}",
        k2.log()
    );
    eprintln!("{eth1} down -> r2 holds the VIP after {:?}", t.elapsed());
    assert!(!common::has(&r1, VIP));
    r1.link_set(&eth1, true).unwrap();
    assert!(
        wait_addr(&r1, VIP, true, 10).is_some(),
        "r1 did not come back after {eth1} up:\n{}",
        k1.log()
    );
}

/// A weighted track_interface: down costs its weight, and the VIP moves to the
/// peer that now outranks us (150 - 60 < 100).
#[test]
fn netns_track_interface_weight() {
    if !lab::root_or_skip("netns_track_interface_weight") {
        return;
    }
    let (lab, _lan, mut r1, r2) = two("tifw");
    let lan2 = lab.bridge().unwrap();
    let eth1 = r1.join(&lan2, Ipv4Addr::new(10, 9, 1, 1), None).unwrap();
    let track = format!("    track_interface {{\n        {eth1} weight -60\n    }}");
    let k1 = keepup(&lab, &r1, &one_instance(150, "", &track), "a");
    let k2 = keepup(&lab, &r2, &one_instance(100, "", ""), "a");
    assert!(wait_addr(&r1, VIP, true, 10).is_some(), "{}", k1.log());
    k2.wait_for_log("Entering BACKUP STATE", Duration::from_secs(3))
        .unwrap();
    r1.link_set(&eth1, false).unwrap();
    let t = Instant::now();
    assert!(
        wait_addr(&r2, VIP, true, 8).is_some(),
        "r2 did not take over:\n{}",
        k2.log()
    );
    eprintln!(
        "{eth1} down (weight -60) -> r2 holds the VIP after {:?}",
        t.elapsed()
    );
    assert!(
        !k1.log().contains("Entering FAULT STATE"),
        "a weighted interface must not FAULT:\n{}",
        k1.log()
    );
    r1.link_set(&eth1, true).unwrap();
    assert!(
        wait_addr(&r1, VIP, true, 8).is_some(),
        "r1 did not preempt:\n{}",
        k1.log()
    );
}

/// track_file: the value times the weight is added to the priority. r1 (150)
/// tracks a file with weight -10: 7 in the file makes it 80 and r2 (100) takes
/// the VIP; 0 gives it back. `init_file` creates the file with 0 at start-up.
#[test]
fn netns_track_file_weight() {
    if !lab::root_or_skip("netns_track_file_weight") {
        return;
    }
    let (lab, _lan, r1, r2) = two("tfile");
    let file = lab.dir().join("prio-r1");
    let files = format!(
        "track_file f {{\n    file \"{}\"\n    weight -10\n    init_file\n}}",
        file.display()
    );
    let k1 = keepup(
        &lab,
        &r1,
        &one_instance(150, &files, "    track_file {\n        f\n    }"),
        "a",
    );
    let k2 = keepup(&lab, &r2, &one_instance(100, "", ""), "a");
    assert!(wait_addr(&r1, VIP, true, 10).is_some(), "{}", k1.log());
    k2.wait_for_log("Entering BACKUP STATE", Duration::from_secs(3))
        .unwrap();
    assert_eq!(std::fs::read_to_string(&file).unwrap().trim(), "0");
    std::fs::write(&file, "7\n").unwrap();
    let t = Instant::now();
    assert!(
        wait_addr(&r2, VIP, true, 8).is_some(),
        "r2 did not take over:\n{}",
        k1.log()
    );
    eprintln!("file 7 x -10 -> r2 holds the VIP after {:?}", t.elapsed());
    std::fs::write(&file, "0\n").unwrap();
    let t = Instant::now();
    assert!(
        wait_addr(&r1, VIP, true, 8).is_some(),
        "r1 did not preempt:\n{}",
        k1.log()
    );
    eprintln!("file 0 -> r1 holds the VIP after {:?}", t.elapsed());
}

/// Processes whose command line contains `pattern` (the PID namespace is shared
/// with the lab, so the pattern is unique to this run).
fn count(pattern: &str) -> Vec<u32> {
    let out = std::process::Command::new("pgrep")
        .args(["-f", pattern])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.trim().parse().ok())
        .collect()
}

/// A script that never exits and leaves a child behind, timeout 1, interval 2:
/// never two copies at once, each killed with its child at the timeout; and all
/// gone when keepup stops.
#[test]
fn netns_track_hung_script_killed_with_its_group() {
    if !lab::root_or_skip("netns_track_hung_script_killed_with_its_group") {
        return;
    }
    let (lab, _lan, mut hosts) = routers("thang", 1, false);
    let r1 = hosts.pop().unwrap();
    // A duration unique to this run, so pgrep finds only our sleeps.
    let secs = format!("1000.{}", std::process::id());
    let script = lab.dir().join("hang.sh");
    std::fs::write(
        &script,
        format!("#!/bin/sh\nsleep {secs} &\nsleep {secs}\n"),
    )
    .unwrap();
    std::fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let scripts = format!(
        "vrrp_script hang {{\n    script \"{}\"\n    interval 2\n    timeout 1\n    weight -10\n}}",
        script.display()
    );
    let k1 = keepup(
        &lab,
        &r1,
        &one_instance(150, &scripts, "    track_script {\n        hang\n    }"),
        "a",
    );
    let sleeps = format!("sleep {secs}");
    let shell = script.display().to_string();
    let start = Instant::now();
    let (mut max_sleeps, mut max_shells) = (0, 0);
    while start.elapsed() < Duration::from_secs(5) {
        max_sleeps = max_sleeps.max(count(&sleeps).len());
        max_shells = max_shells.max(count(&shell).len());
        std::thread::sleep(Duration::from_millis(50));
    }
    let log = k1.log();
    assert!(max_shells <= 1, "{max_shells} copies of the script at once");
    assert!(
        max_sleeps <= 2,
        "{max_sleeps} sleeps at once: a killed run left its child"
    );
    assert!(max_sleeps >= 1, "the script never ran:\n{log}");
    let timeouts = log.matches("Script `hang` timed out").count();
    assert!(
        (2..=3).contains(&timeouts),
        "{timeouts} timeouts in 5 s:\n{log}"
    );
    assert!(
        log.contains("VRRP_Script(hang) failed (timed out)"),
        "{log}"
    );

    // Alone on the LAN, keepup answers for its VIP for the down interval before it
    // exits (no Backup to hand over to).
    k1.kill(Signal::SIGTERM).unwrap();
    assert!(k1.wait_timeout(Duration::from_secs(8)).is_some());
    let gone = wait_until(Duration::from_secs(2), Duration::from_millis(20), || {
        count(&sleeps).is_empty()
    });
    let left = count(&sleeps);
    // Do not leave them behind even when the assertion fails.
    for p in &left {
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(i32::try_from(*p).unwrap()),
            Signal::SIGKILL,
        );
    }
    assert!(gone.is_some(), "script processes left after stop: {left:?}");
}

/// Write an executable script with `mode`.
fn script_file(path: &Path, body: &str, mode: u32) {
    std::fs::write(path, format!("#!/bin/sh\n{body}\n")).unwrap();
    std::fs::set_permissions(path, std::os::unix::fs::PermissionsExt::from_mode(mode)).unwrap();
}

/// `enable_script_security`: a check script anyone can write is refused, as
/// keepalived refuses it (its lines, the track dropped, the script never run), and
/// so is a world-writable notify script, while a safe one runs. Making the script
/// safe and reloading rebuilds the trackers: the check (weight 0, failing) now runs
/// and r1 goes to FAULT, r2 takes the VIP; the check passing brings it back.
#[test]
fn netns_track_script_security_and_reload() {
    if !lab::root_or_skip("netns_track_script_security_and_reload") {
        return;
    }
    let (lab, _lan, r1, r2) = two("tsec");
    let dir = lab.dir().join("sec");
    std::fs::create_dir(&dir).unwrap();
    std::fs::set_permissions(&dir, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let chk = dir.join("chk.sh");
    let ran = dir.join("chk-ran");
    script_file(&chk, &format!("echo x >> {}\nexit 1", ran.display()), 0o777);
    let bad = dir.join("notify-bad.sh");
    let bad_ran = dir.join("notify-bad-ran");
    script_file(
        &bad,
        &format!("echo \"$@\" >> {}", bad_ran.display()),
        0o777,
    );
    let good = dir.join("notify-good.sh");
    let good_ran = dir.join("notify-good-ran");
    script_file(
        &good,
        &format!("echo \"$@\" >> {}", good_ran.display()),
        0o755,
    );
    let scripts = format!(
        "global_defs {{\n    enable_script_security\n    script_user root\n}}\nvrrp_script chk {{\n    script \"{}\"\n    interval 1\n    weight 0\n}}",
        chk.display()
    );
    let tracking = format!(
        "    track_script {{\n        chk\n    }}\n    notify_master \"{}\"\n    notify \"{}\"",
        bad.display(),
        good.display()
    );
    let k1 = keepup(&lab, &r1, &one_instance(150, &scripts, &tracking), "a");
    let k2 = keepup(&lab, &r2, &one_instance(100, "", ""), "a");
    assert!(
        wait_addr(&r1, VIP, true, 10).is_some(),
        "r1 (check refused, so untracked) never became master:\n{}",
        k1.log()
    );
    let log = k1.log();
    assert!(
        log.contains(&format!(
            "Unsafe permissions found for script '{}'",
            chk.display()
        )),
        "{log}"
    );
    assert!(
        log.contains("Disabling track script chk due to insecure"),
        "{log}"
    );
    assert!(
        log.contains("notify_master of vrrp_instance VI_1 will not run"),
        "{log}"
    );
    let good_line = wait_until(Duration::from_secs(3), Duration::from_millis(20), || {
        std::fs::read_to_string(&good_ran).is_ok_and(|t| t.contains("INSTANCE VI_1 MASTER 150"))
    });
    assert!(
        good_line.is_some(),
        "the safe notify script did not run:\n{log}"
    );
    assert!(!ran.exists(), "the insecure check script ran");
    assert!(!bad_ran.exists(), "the insecure notify script ran");

    // Safe now; same file, SIGHUP: the check runs, fails (weight 0): FAULT.
    std::fs::set_permissions(&chk, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let reloaded = Instant::now();
    k1.kill(Signal::SIGHUP).unwrap();
    assert!(
        wait_addr(&r2, VIP, true, 8).is_some(),
        "r2 did not take over after the reload:\nr1:\n{}\nr2:\n{}",
        k1.log(),
        k2.log()
    );
    eprintln!("reload -> r2 holds the VIP after {:?}", reloaded.elapsed());
    assert!(wait_addr(&r1, VIP, false, 2).is_some(), "{}", k1.log());
    let log = k1.log();
    assert!(log.contains("Entering FAULT STATE"), "{log}");
    assert!(ran.exists(), "the check never ran after the reload:\n{log}");

    script_file(&chk, "exit 0", 0o755);
    let fixed = Instant::now();
    assert!(
        wait_addr(&r1, VIP, true, 10).is_some(),
        "r1 did not come back:\n{}",
        k1.log()
    );
    eprintln!(
        "check passes -> r1 holds the VIP after {:?}",
        fixed.elapsed()
    );
}

/// A weight-0 check holds its instance in INIT until its first result, as keepalived
/// does: neither router claims the VIP while the checks (3 s each) run, even r1 with
/// `state MASTER`. Then r1's check passes (BACKUP, then MASTER) and r2's fails (FAULT,
/// never MASTER).
#[test]
fn netns_track_weight0_script_holds_init_until_first_result() {
    if !lab::root_or_skip("netns_track_weight0_script_holds_init_until_first_result") {
        return;
    }
    let (lab, _lan, r1, r2) = two("tinit");
    let mk = |host: &str, prio: u8, code: u8| {
        let s = lab.dir().join(format!("slow-{host}.sh"));
        script_file(&s, &format!("sleep 3\nexit {code}"), 0o755);
        let scripts = format!(
            "vrrp_script chk {{\n    script \"{}\"\n    interval 10\n    timeout 8\n    weight 0\n}}",
            s.display()
        );
        one_instance(prio, &scripts, "    track_script {\n        chk\n    }")
            .replace("state BACKUP", "state MASTER")
    };
    let started = Instant::now();
    let k1 = keepup(&lab, &r1, &mk("r1", 150, 0), "a");
    let k2 = keepup(&lab, &r2, &mk("r2", 100, 1), "a");
    while started.elapsed() < Duration::from_millis(2500) {
        assert!(
            !has(&r1, VIP) && !has(&r2, VIP),
            "a VIP before the checks reported"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(!k1.log().contains("Entering"), "{}", k1.log());
    assert!(!k2.log().contains("Entering"), "{}", k2.log());
    assert!(
        wait_addr(&r1, VIP, true, 10).is_some(),
        "r1 never became master:\n{}",
        k1.log()
    );
    eprintln!("r1 holds the VIP {:?} after start", started.elapsed());
    k2.wait_for_log("Entering FAULT STATE", Duration::from_secs(3))
        .unwrap_or_else(|_| panic!("{}", k2.log()));
    let log1 = k1.log();
    let first = log1.find("Entering").unwrap();
    assert!(log1[first..].starts_with("Entering BACKUP STATE"), "{log1}");
    assert!(!k2.log().contains("Entering MASTER"), "{}", k2.log());
    assert!(!has(&r2, VIP));
}

/// The classic maintenance switch, written where /bin/sh is bash:
/// `[[ -f FILE ]] && exit 1 || exit 0`. Under dash `[[` is "not found" and the line
/// exits 0 whatever the file: keepup runs it under bash, so the file moves the VIP
/// and its removal brings it back. A script's stderr reaches the log with its new
/// status. Where bash cannot be run (`KEEPUP_BASH` names a missing one), the script
/// fails loudly and never passes, and `keepup check` warns.
#[test]
fn netns_track_bash_maintenance_switch_on_a_dash_host() {
    if !lab::root_or_skip("netns_track_bash_maintenance_switch_on_a_dash_host") {
        return;
    }
    let sh = std::fs::canonicalize("/bin/sh").unwrap();
    eprintln!("/bin/sh is {}", sh.display());
    let (lab, _lan, r1, r2) = two("tbash");
    let dir = lab.dir().to_path_buf();
    let script = |host: &str, say: &str| {
        format!(
            "vrrp_script chk {{
    script \"[[ -f {d}/down-{host} ]] && {{ {say} exit 1; }} || exit 0\"
    interval 1
}}",
            d = dir.display()
        )
    };
    let track = "    track_script {\n        chk\n    }";
    let k1 = keepup(&lab, &r1, &one_instance(150, &script("r1", ""), track), "a");
    let r2_conf = one_instance(100, &script("r2", "echo r2 is in maintenance >&2;"), track);
    let k2 = keepup(&lab, &r2, &r2_conf, "a");
    assert!(
        wait_addr(&r1, VIP, true, 10).is_some(),
        "r1 never became master:\n{}",
        k1.log()
    );
    k1.wait_for_log("VRRP_Script(chk) succeeded", Duration::from_secs(5))
        .unwrap();

    // The down file: r1's script fails (under dash it would pass), r2 takes over.
    std::fs::write(dir.join("down-r1"), "").unwrap();
    assert!(
        wait_addr(&r2, VIP, true, 10).is_some(),
        "r2 did not take over:\nr1:\n{}\nr2:\n{}",
        k1.log(),
        k2.log()
    );
    assert!(wait_addr(&r1, VIP, false, 3).is_some(), "{}", k1.log());
    assert!(
        k1.log().contains("Script `chk` now returning 1"),
        "{}",
        k1.log()
    );
    // Removed: r1 comes back.
    std::fs::remove_file(dir.join("down-r1")).unwrap();
    assert!(
        wait_addr(&r1, VIP, true, 10).is_some(),
        "r1 did not come back:\n{}",
        k1.log()
    );

    // r2's script says why on stderr: the line with its new status carries it.
    std::fs::write(dir.join("down-r2"), "").unwrap();
    k2.wait_for_log(
        "Script `chk` now returning 1 (stderr: r2 is in maintenance)",
        Duration::from_secs(5),
    )
    .unwrap_or_else(|e| panic!("{e}:\n{}", k2.log()));
    std::fs::remove_file(dir.join("down-r2")).unwrap();
    k2.wait_for_log("Script `chk` now returning 0", Duration::from_secs(5))
        .unwrap();

    // No bash to run it: r1, restarted so, fails the script loudly and never holds
    // the VIP (r2 takes it over).
    k1.kill(Signal::SIGTERM).unwrap();
    k1.wait_timeout(Duration::from_secs(10));
    let conf = dir.join("r1-nobash.conf");
    std::fs::write(&conf, one_instance(150, &script("r1", ""), track)).unwrap();
    let runtime = common::runtime_dir(&lab, &r1);
    let k1 = r1
        .spawn(
            "env",
            &[
                "KEEPUP_BASH=/nonexistent/bash",
                env!("CARGO_BIN_EXE_keepup"),
                "run",
                "-f",
                conf.to_str().unwrap(),
                "--runtime-dir",
                runtime.to_str().unwrap(),
            ],
            "r1-nobash.log",
        )
        .unwrap();
    k1.wait_for_log(
        "Script `chk` cannot run: the line uses bash syntax, and bash is not installed",
        Duration::from_secs(10),
    )
    .unwrap_or_else(|e| panic!("{e}:\n{}", k1.log()));
    assert!(wait_addr(&r2, VIP, true, 10).is_some(), "{}", k2.log());
    std::thread::sleep(Duration::from_secs(2));
    assert!(
        !has(&r1, VIP),
        "r1 holds the VIP with a script that cannot run:\n{}",
        k1.log()
    );
    let check = std::process::Command::new(env!("CARGO_BIN_EXE_keepup"))
        .args([
            "check",
            "--no-interface-check",
            "-f",
            conf.to_str().unwrap(),
        ])
        .env("KEEPUP_BASH", "/nonexistent/bash")
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&check.stderr);
    assert!(
        said.contains("uses bash's `[[`, but bash is not installed here"),
        "{said}"
    );
    assert_eq!(check.status.code(), Some(1), "{said}");
}
