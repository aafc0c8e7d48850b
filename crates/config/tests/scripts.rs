#![allow(clippy::unwrap_used)] // test setup: a failure to create temp files should fail the test
//! The host-dependent script checks (keepalived.conf(5), "SCRIPTS"): which scripts
//! exist, who runs them, and whether a non-root user could change what root runs.
//! Each test builds its own scripts in a temporary directory.

use keepup_config::{load_str, LoadOptions, Severity};
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;

fn opts() -> LoadOptions {
    LoadOptions {
        check_scripts: true,
        ..LoadOptions::default()
    }
}

fn is_root() -> bool {
    keepup_config::parse::scripts::user_uid("root") == Some(0)
        && std::fs::read_to_string("/proc/self/status")
            .map(|s| {
                s.lines()
                    .any(|l| l.starts_with("Uid:") && l.split_whitespace().nth(1) == Some("0"))
            })
            .unwrap_or(false)
}

/// A directory with one executable script of the given mode.
fn script_dir(name: &str, mode: u32) -> (PathBuf, PathBuf) {
    let d = std::env::temp_dir().join(format!("keepup-scripts-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    std::fs::set_permissions(&d, std::fs::Permissions::from_mode(0o755)).unwrap();
    let f = d.join("check.sh");
    std::fs::write(&f, "#!/bin/sh\nexit 0\n").unwrap();
    std::fs::set_permissions(&f, std::fs::Permissions::from_mode(mode)).unwrap();
    (d, f)
}

fn codes(text: &str) -> Vec<(Severity, &'static str)> {
    load_str("s.conf", text, &opts())
        .diagnostics
        .iter()
        .map(|d| (d.severity, d.code))
        .collect()
}

#[test]
fn root_scripts_without_security_warn_once() {
    if !is_root() {
        eprintln!("skipped: the owner checks assume root runs the test");
        return;
    }
    let (d, f) = script_dir("warn", 0o755);
    let text = format!(
        "vrrp_script a {{\n script {f}\n}}\nvrrp_script b {{\n script \"{f} arg\"\n}}\n",
        f = f.display()
    );
    let c = codes(&text);
    assert_eq!(c, vec![(Severity::Warning, "script-security")]);
    let l = load_str("s.conf", &text, &opts());
    assert!(l.diagnostics[0]
        .message
        .starts_with("2 script(s) run as root"));
    let _ = std::fs::remove_dir_all(d);
}

#[test]
fn world_writable_script_is_refused_with_security() {
    if !is_root() {
        eprintln!("skipped: the owner checks assume root runs the test");
        return;
    }
    let (d, f) = script_dir("insecure", 0o777);
    let text = format!(
        "global_defs {{\n enable_script_security\n}}\nvrrp_script a {{\n script {}\n}}\n",
        f.display()
    );
    assert_eq!(codes(&text), vec![(Severity::Error, "insecure-script")]);
    // Without security on, the same script is named in the one warning's notes.
    let text = format!("vrrp_script a {{\n script {}\n}}\n", f.display());
    let l = load_str("s.conf", &text, &opts());
    assert_eq!(l.diagnostics.len(), 1);
    assert!(
        l.diagnostics[0]
            .notes
            .iter()
            .any(|n| n.contains("writable by everyone")),
        "{:?}",
        l.diagnostics[0].notes
    );
    let _ = std::fs::remove_dir_all(d);
}

#[test]
fn secure_root_script_with_security_is_clean() {
    if !is_root() {
        eprintln!("skipped: the owner checks assume root runs the test");
        return;
    }
    let (d, f) = script_dir("secure", 0o755);
    let text = format!(
        "global_defs {{\n enable_script_security\n}}\nvrrp_script a {{\n script {}\n}}\n",
        f.display()
    );
    assert_eq!(codes(&text), vec![]);
    let _ = std::fs::remove_dir_all(d);
}

#[test]
fn missing_script_shell_syntax_and_unknown_user() {
    let text = "vrrp_script gone {\n script /nonexistent/keepup/check\n}\n\
                vrrp_script sh {\n script \"[ -f /etc/keepalived/down ] && exit 1 || exit 0\"\n}\n\
                vrrp_instance VI_1 {\n interface lo\n virtual_router_id 1\n \
                notify_master \"/bin/sh -c true\" no_such_user_keepup\n \
                virtual_ipaddress {\n 10.0.0.1\n }\n}\n";
    let l = load_str(
        "s.conf",
        text,
        &LoadOptions {
            interfaces: None,
            ..opts()
        },
    );
    let c: Vec<_> = l.diagnostics.iter().map(|d| (d.severity, d.code)).collect();
    assert!(c.contains(&(Severity::Note, "script-not-found")), "{c:?}");
    assert!(
        c.contains(&(Severity::Note, "script-shell-syntax")),
        "{c:?}"
    );
    assert!(c.contains(&(Severity::Error, "unknown-user")), "{c:?}");
}
