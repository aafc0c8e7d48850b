//! What the bench crate's root tests share: run keepup-bench, and check that a run
//! left nothing behind.
#![allow(dead_code, clippy::unwrap_used)]
use std::process::{Command, ExitStatus, Stdio};

/// A finished `keepup-bench` run.
pub struct Run {
    pub pid: u32,
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
}

/// Run `keepup-bench ARGS` (the one cargo built for this test) to its end; the keepup
/// binary beside it must exist.
pub fn bench(args: &[&str]) -> Run {
    let bench = env!("CARGO_BIN_EXE_keepup-bench");
    // `cargo test --workspace` builds the keepup binary beside this one.
    let keepup = std::path::Path::new(bench).with_file_name("keepup");
    assert!(
        keepup.is_file(),
        "no keepup binary at {} (cargo build -p keepup)",
        keepup.display()
    );
    let child = Command::new(bench)
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    let output = child.wait_with_output().unwrap();
    Run {
        pid,
        status: output.status,
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

/// A soak's run (`chaos`, `chaos-lvs`) ended with its PASS verdict and injected
/// every kind of `kinds`: its stdout.
pub fn assert_soak_passed<'a>(run: &'a Run, kinds: &[&str]) -> &'a str {
    let (stdout, stderr) = (&run.stdout, &run.stderr);
    assert!(
        run.status.success(),
        "the soak failed ({}):\n{stdout}\n{stderr}",
        run.status
    );
    assert!(
        stdout.contains("verdict: PASS — violations: 0"),
        "{stdout}\n{stderr}"
    );
    let injected = stdout
        .lines()
        .find(|l| l.starts_with("faults injected:"))
        .unwrap_or_else(|| panic!("no fault count in:\n{stdout}"));
    for kind in kinds {
        assert!(injected.contains(kind), "{kind} never injected: {injected}");
    }
    stdout
}

/// Nothing left behind by the run of PID `pid`: no namespace named after it (labs'
/// names start with ku<pid in hex>-), no process naming a file of its labs'
/// directories on its command line (every process a lab starts does), no such
/// directory.
pub fn assert_nothing_left(pid: u32) {
    let prefix = format!("ku{pid:x}-");
    let netns = Command::new("ip").args(["netns", "list"]).output().unwrap();
    let left: Vec<String> = String::from_utf8_lossy(&netns.stdout)
        .lines()
        .filter(|l| l.starts_with(&prefix))
        .map(str::to_owned)
        .collect();
    assert!(left.is_empty(), "namespaces left behind: {left:?}");
    let dir_mark = format!("keepup-lab-{prefix}");
    let procs = processes_naming(&dir_mark);
    assert!(procs.is_empty(), "processes left behind: {procs:?}");
    let dirs: Vec<_> = std::fs::read_dir(std::env::temp_dir())
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with(&dir_mark))
        .collect();
    assert!(dirs.is_empty(), "lab directories left behind: {dirs:?}");
}

/// The command lines of the processes that name `mark` on theirs.
pub fn processes_naming(mark: &str) -> Vec<String> {
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| {
            e.file_name().to_str()?.parse::<u32>().ok()?;
            let cmd = std::fs::read(e.path().join("cmdline")).ok()?;
            let cmd = String::from_utf8_lossy(&cmd).replace('\0', " ");
            cmd.contains(mark).then_some(cmd)
        })
        .collect()
}
