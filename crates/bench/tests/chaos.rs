//! The chaos soak's short form: `keepup-bench chaos --quick --rounds 1` with a fixed
//! seed, every fault kind once in a seeded order, some overlapped by a second fault
//! (about two minutes: each episode waits out the RFC bound after its heal). It must end with no violation and leave nothing behind. Root only
//! (the long soak is `scripts/chaos`; its latest result is in the README).
use std::process::Command;

use keepup_testkit::lab;

#[test]
fn netns_chaos_short_soak_has_no_violation() {
    if !lab::root_or_skip("netns_chaos_short_soak_has_no_violation") {
        return;
    }
    let bench = env!("CARGO_BIN_EXE_keepup-bench");
    let keepup = std::path::Path::new(bench).with_file_name("keepup");
    assert!(
        keepup.is_file(),
        "no keepup binary at {} (cargo build -p keepup)",
        keepup.display()
    );
    let child = Command::new(bench)
        .args(["chaos", "--quick", "--rounds", "1", "--seed", "7"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    let output = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "the soak failed ({}):\n{stdout}\n{stderr}",
        output.status
    );
    assert!(
        stdout.contains("verdict: PASS — violations: 0"),
        "{stdout}\n{stderr}"
    );
    let injected = stdout
        .lines()
        .find(|l| l.starts_with("faults injected:"))
        .unwrap_or_else(|| panic!("no fault count in:\n{stdout}"));
    for kind in [
        "sigkill+restart",
        "sigterm+restart",
        "sigstop/sigcont",
        "switch port down/up",
        "link down/up",
        "drop vrrp out",
        "drop vrrp in",
        "loss+delay",
        "reload unchanged",
        "reload changed",
        "tracked script fails",
        "usr1/usr2/json",
    ] {
        assert!(injected.contains(kind), "{kind} never injected: {injected}");
    }
    // Each episode was checked after its heal.
    let settled = stdout.lines().filter(|l| l.contains("settled:")).count();
    assert!(settled >= 12, "{settled} settle checks:\n{stdout}");

    let prefix = format!("ku{pid:x}-");
    let netns = Command::new("ip").args(["netns", "list"]).output().unwrap();
    let left: Vec<String> = String::from_utf8_lossy(&netns.stdout)
        .lines()
        .filter(|l| l.starts_with(&prefix))
        .map(str::to_owned)
        .collect();
    assert!(left.is_empty(), "namespaces left behind: {left:?}");
}
