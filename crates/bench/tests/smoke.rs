//! The benchmark harness starts, measures one short scenario for both daemons and
//! leaves nothing behind. Root only (CI runs it with the other `netns_` tests); the
//! benchmark itself is not part of the test suite. The long run and a flood likewise,
//! in their shortest forms.
use std::path::Path;
use std::process::Command;
use std::time::Instant;

use keepup_testkit::lab;

const SCENARIO: &str = "failover/v3-100ms/sigterm";

#[test]
fn netns_bench_runs_one_scenario_for_both_daemons_and_cleans_up() {
    if !lab::root_or_skip("netns_bench_runs_one_scenario_for_both_daemons_and_cleans_up") {
        return;
    }
    let bench = env!("CARGO_BIN_EXE_keepup-bench");
    // `cargo test --workspace` builds the keepup binary beside this one.
    let keepup = Path::new(bench).with_file_name("keepup");
    assert!(
        keepup.is_file(),
        "no keepup binary at {} (cargo build -p keepup)",
        keepup.display()
    );
    let out = std::env::temp_dir().join(format!("keepup-bench-smoke-{}", std::process::id()));
    let started = Instant::now();
    let (pid, output) = run_bench(bench, &["--runs", "1", "--only", SCENARIO], &out);
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "keepup-bench failed ({}):\n{stdout}\n{stderr}",
        output.status
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

    nothing_left_behind(pid);
    eprintln!("smoke run took {:?}", started.elapsed());
}

#[test]
fn netns_longrun_samples_both_daemons_and_finds_nothing_left() {
    if !lab::root_or_skip("netns_longrun_samples_both_daemons_and_finds_nothing_left") {
        return;
    }
    let bench = env!("CARGO_BIN_EXE_keepup-bench");
    let out = std::env::temp_dir().join(format!("keepup-longrun-smoke-{}", std::process::id()));
    let (pid, output) = run_bench(
        bench,
        &[
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
        ],
        &out,
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "keepup-bench longrun failed ({}):\n{stdout}\n{stderr}",
        output.status
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
        assert_eq!(cells.len(), 15, "{row}");
        let rss: u64 = cells[3].parse().unwrap_or_else(|_| panic!("{row}"));
        assert!(rss > 1000, "{daemon}'s RSS {rss} kB: {row}");
        assert_eq!(cells[12], "nothing", "{daemon} left something: {row}");
        if daemon == "keepup" {
            assert_eq!(cells[13], "pass", "{row}\n{stderr}");
        }
    }
    let md = std::fs::read_to_string(out.join("longrun-latest.md")).unwrap();
    assert!(md.contains("| keepup |") && md.contains("machine:"), "{md}");
    let _ = std::fs::remove_dir_all(&out);
    nothing_left_behind(pid);
}

/// Run keepup-bench with `args` and `--out out`: its pid (labs are named after it)
/// and what it printed.
fn run_bench(bench: &str, args: &[&str], out: &Path) -> (u32, std::process::Output) {
    let child = Command::new(bench)
        .args(args)
        .arg("--out")
        .arg(out)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("keepup-bench starts");
    let pid = child.id();
    (
        pid,
        child.wait_with_output().expect("keepup-bench's output"),
    )
}

/// Nothing left behind by the bench run `pid`: namespaces, processes, lab directories.
fn nothing_left_behind(pid: u32) {
    // The labs' names start with ku<bench pid in hex>-.
    let prefix = format!("ku{pid:x}-");
    let netns = Command::new("ip")
        .args(["netns", "list"])
        .output()
        .expect("ip netns list");
    let left: Vec<String> = String::from_utf8_lossy(&netns.stdout)
        .lines()
        .filter(|l| l.starts_with(&prefix))
        .map(str::to_owned)
        .collect();
    assert!(left.is_empty(), "namespaces left behind: {left:?}");
    // Every process the harness starts (daemons, prober, monitors, tcpdump) names a
    // file in its lab's directory on its command line.
    let dir_mark = format!("keepup-lab-{prefix}");
    let procs: Vec<String> = std::fs::read_dir("/proc")
        .expect("read /proc")
        .flatten()
        .filter_map(|e| {
            e.file_name().to_str()?.parse::<u32>().ok()?;
            let cmd = std::fs::read(e.path().join("cmdline")).ok()?;
            let cmd = String::from_utf8_lossy(&cmd).replace('\0', " ");
            cmd.contains(&dir_mark).then_some(cmd)
        })
        .collect();
    assert!(procs.is_empty(), "processes left behind: {procs:?}");
    let dirs: Vec<_> = std::fs::read_dir(std::env::temp_dir())
        .expect("read the temporary directory")
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with(&dir_mark))
        .collect();
    assert!(dirs.is_empty(), "lab directories left behind: {dirs:?}");
}

/// The flood benchmark, tiny: one kind at 2,000 packets/s for 3 s, one run each.
/// Both daemons are measured; keepup keeps its Master through it; the figures land in
/// flood-latest.md.
#[test]
fn netns_bench_floods_both_daemons_and_reports_the_ratio() {
    if !lab::root_or_skip("netns_bench_floods_both_daemons_and_reports_the_ratio") {
        return;
    }
    let bench = env!("CARGO_BIN_EXE_keepup-bench");
    let out = std::env::temp_dir().join(format!("keepup-bench-flood-{}", std::process::id()));
    let args = [
        "--runs",
        "1",
        "--only",
        "flood/vrid",
        "--flood-rate",
        "2000",
    ];
    let (pid, output) = run_bench(bench, &[&args[..], &["--flood-secs", "3"]].concat(), &out);
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stdout}\n{stderr}");
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
    nothing_left_behind(pid);
}
