//! The chaos soak's short form: `keepup-bench chaos --quick --rounds 1` with a fixed
//! seed, every fault kind once in a seeded order, some overlapped by a second fault
//! (about two minutes: each episode waits out the RFC bound after its heal). It must
//! end with no violation and leave nothing behind. Root only (the long soak is
//! `scripts/chaos`; its latest result is in the README).
use keepup_testkit::lab;

mod common;

#[test]
fn netns_chaos_short_soak_has_no_violation() {
    if !lab::root_or_skip("netns_chaos_short_soak_has_no_violation") {
        return;
    }
    let run = common::bench(&["chaos", "--quick", "--rounds", "1", "--seed", "7"]);
    let stdout = common::assert_soak_passed(
        &run,
        &[
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
        ],
    );
    // Each episode was checked after its heal.
    let settled = stdout.lines().filter(|l| l.contains("settled:")).count();
    assert!(settled >= 12, "{settled} settle checks:\n{stdout}");

    common::assert_nothing_left(run.pid);
}
