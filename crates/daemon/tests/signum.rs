//! `keepup --signum=NAME` answers as `keepalived --signum=NAME` does (scripts run
//! `kill -s $(keepalived --signum=JSON) PID`): the same number on stdout and status
//! 0, or the same complaint on stderr and status 1. No root needed; skipped where
//! keepalived is not installed.
#![allow(clippy::unwrap_used)]

use std::process::Command;

fn answer(program: &str, args: &[&str]) -> Option<(i32, String, String)> {
    let out = Command::new(program).args(args).output().ok()?;
    Some((
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    ))
}

#[test]
fn signum_answers_as_keepalived_does() {
    let names = [
        "STOP",
        "RELOAD",
        "DATA",
        "STATS",
        "STATS_CLEAR",
        "JSON",
        "TDUMP",
        "json",
        "Stop",
        "NOPE",
        "",
    ];
    let keepup = env!("CARGO_BIN_EXE_keepup");
    // glibc's numbers on Linux, whether or not keepalived is here to compare.
    let (min, max) = (nix::libc::SIGRTMIN(), nix::libc::SIGRTMAX());
    for (name, n) in [
        ("STOP", 15),
        ("RELOAD", 1),
        ("DATA", 10),
        ("STATS", 12),
        ("JSON", min + 2),
        ("STATS_CLEAR", max - 1),
    ] {
        let arg = format!("--signum={name}");
        let (code, out, _) = answer(keepup, &[&arg]).unwrap();
        assert_eq!((code, out), (0, format!("{n}\n")), "{name}");
        // The same through `keepup run`.
        let (code, out, _) = answer(keepup, &["run", "--signum", name]).unwrap();
        assert_eq!((code, out), (0, format!("{n}\n")), "run {name}");
    }
    if answer("keepalived", &["--version"]).is_none() {
        eprintln!("keepalived is not installed: compared with glibc's numbers only");
        return;
    }
    for name in names {
        let arg = format!("--signum={name}");
        let ours = answer(keepup, &[&arg]).unwrap();
        let theirs = answer("keepalived", &[&arg]).unwrap();
        assert_eq!(ours, theirs, "--signum={name}");
    }
}
