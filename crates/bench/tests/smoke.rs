//! The benchmark harness starts, measures one short scenario for both daemons and
//! leaves nothing behind. Root only (CI runs it with the other `netns_` tests); the
//! benchmark itself is not part of the test suite.
use std::time::Instant;

use keepup_testkit::lab;

mod common;

const SCENARIO: &str = "failover/v3-100ms/sigterm";

#[test]
fn netns_bench_runs_one_scenario_for_both_daemons_and_cleans_up() {
    if !lab::root_or_skip("netns_bench_runs_one_scenario_for_both_daemons_and_cleans_up") {
        return;
    }
    let out = std::env::temp_dir().join(format!("keepup-bench-smoke-{}", std::process::id()));
    let started = Instant::now();
    let out_arg = out.display().to_string();
    let run = common::bench(&["--runs", "1", "--only", SCENARIO, "--out", &out_arg]);
    let (stdout, stderr) = (&run.stdout, &run.stderr);
    assert!(
        run.status.success(),
        "keepup-bench failed ({}):\n{stdout}\n{stderr}",
        run.status
    );

    // One row per metric; the outage has a figure for each daemon and a ratio.
    let row = stdout
        .lines()
        .find(|l| l.starts_with(&format!("| {SCENARIO} | outage s |")))
        .unwrap_or_else(|| panic!("no outage row in:\n{stdout}\n{stderr}"));
    let cells: Vec<&str> = row.split('|').map(str::trim).collect();
    // "", scenario, metric, keepup, keepalived, ratio, ""
    assert_eq!(cells.len(), 7, "{row}");
    for (who, cell) in [("keepup", cells[3]), ("keepalived", cells[4])] {
        let secs: f64 = cell
            .parse()
            .unwrap_or_else(|_| panic!("{who}: {cell:?} in {row}\n{stderr}"));
        // A clean stop hands over within Skew_Time plus scheduling: far below the
        // Master_Down_Interval (0.3 s + skew) a crash would take.
        assert!(secs > 0.0 && secs < 0.3, "{who} outage {secs} s: {row}");
    }
    assert!(cells[5].parse::<f64>().is_ok(), "ratio in {row}");
    let md = std::fs::read_to_string(out.join("latest.md")).unwrap();
    assert!(md.contains(row), "latest.md lacks the row:\n{md}");
    assert!(md.contains("keepalived") && md.contains("machine:"), "{md}");
    let png = std::fs::read(out.join("outage.png")).unwrap();
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
    let _ = std::fs::remove_dir_all(&out);

    // Nothing left behind (every process the harness starts, daemons, prober,
    // monitors, tcpdump, names a file in its lab's directory on its command line).
    common::assert_nothing_left(run.pid);
    eprintln!("smoke run took {:?}", started.elapsed());
}
