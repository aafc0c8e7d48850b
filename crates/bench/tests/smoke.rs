//! The benchmark harness starts, measures one short scenario for both daemons and
//! leaves nothing behind. Root only (CI runs it with the other `netns_` tests); the
//! benchmark itself is not part of the test suite. The long run and a flood likewise,
//! in their shortest forms.
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

#[test]
fn netns_longrun_samples_both_daemons_and_finds_nothing_left() {
    if !lab::root_or_skip("netns_longrun_samples_both_daemons_and_finds_nothing_left") {
        return;
    }
    let out = std::env::temp_dir().join(format!("keepup-longrun-smoke-{}", std::process::id()));
    let out_arg = out.display().to_string();
    let run = common::bench(&[
        "longrun",
        "--minutes",
        "0.5",
        "--instances",
        "10",
        "--flap-every",
        "2",
        "--reload-every",
        "7",
        "--sample-every",
        "2",
        "--warmup",
        "6",
        "--out",
        &out_arg,
    ]);
    let (stdout, stderr) = (&run.stdout, &run.stderr);
    assert!(
        run.status.success(),
        "keepup-bench longrun failed ({}):\n{stdout}\n{stderr}",
        run.status
    );
    // Trackers flipped and reloads happened, and each daemon has a judged row.
    let counted = |what: &str| -> u64 {
        let end = stdout
            .find(what)
            .unwrap_or_else(|| panic!("no {what:?} in {stdout}"));
        let start = stdout[..end].rfind(' ').map_or(0, |i| i + 1);
        stdout[start..end]
            .parse()
            .unwrap_or_else(|_| panic!("{what}: {stdout}"))
    };
    assert!(counted(" tracker flips") >= 5, "{stdout}");
    assert!(counted(" reloads") >= 2, "{stdout}");
    for daemon in ["keepup", "keepalived"] {
        let row = stdout
            .lines()
            .find(|l| l.starts_with(&format!("| {daemon} |")))
            .unwrap_or_else(|| panic!("no {daemon} row in:\n{stdout}\n{stderr}"));
        let cells: Vec<&str> = row.split('|').map(str::trim).collect();
        assert_eq!(cells.len(), 16, "{row}");
        let rss: u64 = cells[3].parse().unwrap_or_else(|_| panic!("{row}"));
        assert!(rss > 1000, "{daemon}'s RSS {rss} kB: {row}");
        assert_eq!(cells[13], "nothing", "{daemon} left something: {row}");
        if daemon == "keepup" {
            assert_eq!(cells[14], "pass", "{row}\n{stderr}");
        }
    }
    let md = std::fs::read_to_string(out.join("longrun-latest.md")).unwrap();
    assert!(md.contains("| keepup |") && md.contains("machine:"), "{md}");
    let _ = std::fs::remove_dir_all(&out);
    common::assert_nothing_left(run.pid);
}

/// The flood benchmark, tiny: one kind at 2,000 packets/s for 3 s, one run each.
/// Both daemons are measured; keepup keeps its Master through it; the figures land in
/// flood-latest.md.
#[test]
fn netns_bench_floods_both_daemons_and_reports_the_ratio() {
    if !lab::root_or_skip("netns_bench_floods_both_daemons_and_reports_the_ratio") {
        return;
    }
    let out = std::env::temp_dir().join(format!("keepup-bench-flood-{}", std::process::id()));
    let args = [
        "--runs",
        "1",
        "--only",
        "flood/vrid",
        "--flood-rate",
        "2000",
    ];
    let out_arg = out.display().to_string();
    let run = common::bench(&[&args[..], &["--flood-secs", "3", "--out", &out_arg]].concat());
    let (stdout, stderr) = (&run.stdout, &run.stderr);
    assert!(run.status.success(), "{stdout}\n{stderr}");
    let row = |metric: &str| -> Vec<String> {
        let line = stdout
            .lines()
            .find(|l| l.starts_with(&format!("| flood/vrid | {metric} |")))
            .unwrap_or_else(|| panic!("no {metric} row in:\n{stdout}\n{stderr}"));
        line.split('|').map(|c| c.trim().to_owned()).collect()
    };
    let cpu = row("CPU % master");
    for cell in [&cpu[3], &cpu[4]] {
        assert!(cell.parse::<f64>().is_ok(), "{cpu:?}");
    }
    assert!(cpu[5].parse::<f64>().is_ok() || cpu[5] == "-", "{cpu:?}");
    let sent = row("packets/s sent");
    assert!(sent[3].parse::<f64>().unwrap() > 500.0, "{sent:?}");
    assert_eq!(
        row("state changes")[3],
        "0",
        "keepup changed state under the flood"
    );
    assert_eq!(row("r1 still master")[3], "1");
    let md = std::fs::read_to_string(out.join("flood-latest.md")).unwrap();
    assert!(md.contains("| flood/vrid | CPU % master |"), "{md}");
    let _ = std::fs::remove_dir_all(&out);
    common::assert_nothing_left(run.pid);
}
