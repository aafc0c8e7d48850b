//! The LVS chaos soak's short form, in the qemu VM: `keepup-bench chaos-lvs --rounds 1`
//! with a fixed seed, every fault kind once in a seeded order (about six minutes of
//! faults in one boot: each episode waits out the checkers' bound after its heal). It
//! must end with no violation: the director's IPVS table equal to the alive real servers
//! after each bound, only moves towards the truth before it, keepup never exiting
//! unasked, no panic, no lasting zombie (the long soak is `scripts/chaos --lvs`; its
//! latest result is in the README).
mod common;

#[test]
fn qemu_chaos_lvs_short_soak_has_no_violation() {
    let out = std::env::temp_dir().join(format!("chaos-lvs-test-{}.txt", std::process::id()));
    let out_s = out.display().to_string();
    let run = common::bench(&["chaos-lvs", "--rounds", "1", "--seed", "7", "--out", &out_s]);
    let _ = std::fs::remove_file(&out);
    let stdout = common::assert_soak_passed(
        &run,
        &[
            "server sigkill+restart",
            "server sigstop/sigcont",
            "server link down/up",
            "drop to server",
            "drop from server",
            "http 500",
            "wrong page (digest)",
            "reload unchanged",
            "reload changed",
            "keepup sigkill+restart",
            "usr1/usr2",
        ],
    );
    // Every episode's settle check was made, and they all held.
    let settled: Vec<&str> = stdout.lines().filter(|l| l.contains("settled:")).collect();
    assert!(
        settled.len() >= 11,
        "{} settle checks:\n{stdout}",
        settled.len()
    );
    assert!(settled.iter().all(|l| l.contains("equals")), "{stdout}");
}
