//! keepalived's command line, as a unit file's `$DAEMON_ARGS` or an init script passes
//! it, is accepted by keepup: every option keepalived 2.2.7's `--help` lists (read
//! from the installed keepalived) either does what keepalived does, is accepted with
//! the reason keepup has nothing to do for it, or (`-s`) refuses to start with the way
//! to run keepup instead. No root needed; skipped where keepalived is not installed.
#![allow(clippy::unwrap_used)]

use std::process::Command;

const KEEPUP: &str = env!("CARGO_BIN_EXE_keepup");

/// Each option of `keepalived --help`: its short form (if any), its long form, and
/// whether it takes a value (`=X`) or may (`[=X]`).
fn keepalived_options() -> Option<Vec<(Option<String>, String, &'static str)>> {
    let out = Command::new("keepalived").arg("--help").output().ok()?;
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    let mut opts = Vec::new();
    for line in text.lines() {
        let t = line.trim_start();
        if !t.starts_with('-') {
            continue;
        }
        let spec = t.split_whitespace().next().unwrap_or_default();
        let (short, long) = match spec.strip_suffix(',') {
            Some(s) => (
                Some(s.to_string()),
                t.split_whitespace().nth(1).unwrap_or_default(),
            ),
            None => (None, spec),
        };
        // `--config-id id   Skip ...`: a value after one space, the description after
        // two.
        let after = t[t.find(long).unwrap() + long.len()..].to_string();
        let value = if long.contains("[=") {
            "optional"
        } else if long.contains('=') || (after.starts_with(' ') && !after.starts_with("  ")) {
            "required"
        } else {
            "none"
        };
        let name = long.split(['=', '[']).next().unwrap().to_string();
        opts.push((short, name, value));
    }
    Some(opts)
}

/// A value that option accepts.
fn value_for(long: &str) -> &'static str {
    match long {
        "--log-facility" => "0",
        "--umask" => "0027",
        "--signum" => "JSON",
        "--config-id" => "node1",
        "--namespace" => "blue",
        _ => "/tmp/keepup-cli-test-unused",
    }
}

#[test]
fn every_keepalived_option_is_accepted() {
    let Some(opts) = keepalived_options() else {
        eprintln!("keepalived is not installed: nothing to compare with");
        return;
    };
    assert!(opts.len() > 25, "keepalived --help gave {opts:?}");
    let dir = std::env::temp_dir().join(format!("keepup-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let conf = dir.join("keepalived.conf");
    std::fs::write(
        &conf,
        "virtual_server 192.0.2.1 80 {\n lb_algo rr\n lb_kind NAT\n protocol TCP\n \
         real_server 192.0.2.2 80 {\n  TCP_CHECK {\n  }\n }\n}\n",
    )
    .unwrap();
    let conf = conf.to_str().unwrap();
    let mut report = String::new();
    for (short, long, value_kind) in &opts {
        let run = |flag: &str| {
            let value = match long.as_str() {
                "--use-file" => conf.to_string(),
                other => value_for(other).to_string(),
            };
            let mut args: Vec<String> = match *value_kind {
                "required" if flag.starts_with("--") => vec![format!("{flag}={value}")],
                "required" => vec![flag.to_string(), value],
                _ => vec![flag.to_string()],
            };
            if long != "--use-file" {
                args.extend(["-f".into(), conf.into()]);
            }
            // Every run only tests the configuration (-t), but --signum (prints and
            // exits) and -s (refused before anything).
            if !matches!(long.as_str(), "--config-test" | "--signum" | "--namespace") {
                args.push("-t".into());
            }
            let out = Command::new(KEEPUP).args(&args).output().unwrap();
            (
                args,
                out.status.code().unwrap_or(-1),
                String::from_utf8_lossy(&out.stdout).into_owned()
                    + &String::from_utf8_lossy(&out.stderr),
            )
        };
        for flag in short.iter().chain(std::iter::once(long)) {
            let (args, code, text) = run(flag);
            let ok = match long.as_str() {
                "--help" => code == 0 && text.contains("Usage"),
                "--version" => code == 0,
                "--genhash" => text.contains("Usage") || text.contains("-s server-address"),
                "--signum" => code == 0 && text.trim().parse::<i32>().is_ok(),
                "--namespace" => code != 0 && text.contains("ip netns exec blue keepup"),
                _ => code == 0,
            };
            if !ok {
                report.push_str(&format!("keepup {}: exit {code}\n{text}\n", args.join(" ")));
            }
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
    assert!(report.is_empty(), "{report}");
}
