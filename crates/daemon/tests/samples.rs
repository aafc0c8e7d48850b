//! Conformance with keepalived 2.2.7 over the sample corpus in
//! `../shared/keepalived-samples/`: `keepup check` gives every sample the verdict
//! class keepalived gave it (VERDICTS.tsv: rc 0 -> 0, rc 5 or 6 -> 1, rc 2 -> 2).
//!
//! keepalived checks interface names against the host, and its verdicts were taken in
//! a network namespace holding veths eth0, eth1, eth2, eth3 and eth0.1, so this test
//! builds the same namespace (root needed) and runs `keepup check` inside it. Under CI
//! (`CI` set) a missing privilege fails the test instead of skipping it.
//!
//! Besides the class, each sample's findings are pinned by code, and where ours differ
//! from keepalived's the table says why.

use std::path::{Path, PathBuf};
use std::process::Command;

/// The findings (severity:code, deduplicated, sorted) `keepup check` makes on each
/// sample, and why they differ from keepalived's where they do.
const EXPECTED: &[(&str, &[&str], &str)] = &[
    ("doc/samples/keepalived.conf.HTTP_GET.port", &[], ""),
    ("doc/samples/keepalived.conf.IPv6", &[], ""),
    ("doc/samples/keepalived.conf.PING_CHECK", &[], ""),
    ("doc/samples/keepalived.conf.SSL_GET", &["warning:ah-master"], "same finding as keepalived"),
    (
        "doc/samples/keepalived.conf.conditional_conf",
        &[
            "error:missing-script",
            "error:unknown-reference",
            "note:timeout-exceeds-interval",
        ],
        "keepalived reports the dropped script and the track_script that names it; \
         we add a note that its timeout (10) exceeds its interval (1)",
    ),
    ("doc/samples/keepalived.conf.fwmark", &["warning:protocol-with-fwmark"], "same finding"),
    ("doc/samples/keepalived.conf.inhibit", &[], ""),
    (
        "doc/samples/keepalived.conf.misc_check",
        &["note:script-not-found"],
        "keepalived silently disables a MISC_CHECK whose script does not exist; we note it",
    ),
    (
        "doc/samples/keepalived.conf.misc_check_arg",
        &["note:script-not-found"],
        "as misc_check",
    ),
    (
        "doc/samples/keepalived.conf.quorum",
        &["note:script-not-found"],
        "quorum_up/quorum_down scripts do not exist on this host; keepalived is silent",
    ),
    ("doc/samples/keepalived.conf.sample", &[], ""),
    ("doc/samples/keepalived.conf.status_code", &[], ""),
    (
        "doc/samples/keepalived.conf.track_interface",
        &["warning:route-not-tracked"],
        "same finding (line 31); keepalived also warned that eth0.1 is missing only when the \
         namespace lacked it",
    ),
    ("doc/samples/keepalived.conf.virtual_server_group", &[], ""),
    (
        "doc/samples/keepalived.conf.vrrp",
        &["note:duplicate-vip"],
        "192.168.200.18 is listed twice in VI_1 (once with a label); keepalived is silent",
    ),
    (
        "doc/samples/keepalived.conf.vrrp.localcheck",
        &["note:script-shell-syntax", "warning:script-security"],
        "keepalived's SECURITY VIOLATION (rc 6) is our script-security warning; we also note \
         the three '</dev/tcp/...' checks, which need bash where /bin/sh is dash",
    ),
    (
        "doc/samples/keepalived.conf.vrrp.lvs_syncd",
        &["error:empty-sync-group", "error:unknown-keyword", "warning:deprecated"],
        "same findings: members outside group { }, the group dropped, lvs_sync_daemon_interface",
    ),
    (
        "doc/samples/keepalived.conf.vrrp.routes",
        &["warning:deprecated", "warning:route-not-tracked"],
        "same findings on the same lines (29-32)",
    ),
    (
        "doc/samples/keepalived.conf.vrrp.scripts",
        &["note:script-not-found"],
        "the notify scripts do not exist on this host; keepalived disables them silently",
    ),
    ("doc/samples/keepalived.conf.vrrp.sync", &["note:script-not-found"], "as vrrp.scripts"),
    ("docker/keepalived.conf", &[], ""),
    (
        "historical/keepalived.conf.ci-linux",
        &["error:unknown-checker", "error:unknown-keyword"],
        "same findings (lvs_id, CI-LINUX), with the names keepalived 1.x used them for",
    ),
    (
        "keepalived/etc/keepalived/keepalived.conf",
        &["error:out-of-range", "warning:auth-ignored", "warning:strict-master-not-owner"],
        "same findings: the two 0 intervals, MASTER without priority 255 and auth under vrrp_strict",
    ),
    (
        "tools/json_tracking/template_vrrp_instance",
        &["error:missing-file", "error:missing-vrid", "fatal:unexpected-brace", "note:deprecated"],
        "an unrendered Jinja template. keepalived's fatal error is a top-level 'track_file' \
         without a name, reached after its brace recovery has misplaced the blocks; ours is the \
         first '{' that follows no keyword (line 5), where the structure stops being knowable",
    ),
];

/// `../shared` beside the project root, or `$KEEPUP_SHARED` when the checkout lives elsewhere.
fn shared() -> PathBuf {
    let base = std::env::var_os("KEEPUP_SHARED")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared"));
    base.join("keepalived-samples")
}

fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .map(|l| l.split_whitespace().nth(1) == Some("0"))
        })
        .unwrap_or(false)
}

/// A network namespace that is removed when dropped, even if the test fails.
struct Netns(String);

impl Netns {
    fn new() -> Netns {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        let name = format!("kup-s{}-{:x}", std::process::id(), nanos & 0xffff);
        ip(&["netns", "add", &name]);
        let ns = Netns(name);
        for (i, dev) in ["eth0", "eth1", "eth2", "eth3", "eth0.1"]
            .iter()
            .enumerate()
        {
            let peer = format!("kp{i}");
            ip(&[
                "-n", &ns.0, "link", "add", dev, "type", "veth", "peer", "name", &peer,
            ]);
            ip(&["-n", &ns.0, "link", "set", dev, "up"]);
        }
        ns
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["netns", "del", &self.0]).status();
    }
}

fn ip(args: &[&str]) {
    let st = Command::new("ip").args(args).status().expect("run ip");
    assert!(st.success(), "ip {args:?} failed");
}

#[test]
fn netns_samples_get_keepalived_verdict_class() {
    if !is_root() {
        assert!(
            std::env::var_os("CI").is_none(),
            "this test needs root (network namespaces) and CI must run it as root"
        );
        eprintln!("skipped: needs root for a network namespace (run the suite as root)");
        return;
    }
    let dir = shared();
    let verdicts = std::fs::read_to_string(dir.join("VERDICTS.tsv")).expect("VERDICTS.tsv");
    let ns = Netns::new();
    let keepup = env!("CARGO_BIN_EXE_keepup");
    let mut failures = Vec::new();
    let mut seen = 0;
    for line in verdicts.lines().skip(1) {
        let Some((file, rc)) = line.split_once('\t') else {
            continue;
        };
        let want = match rc.trim() {
            "0" => 0,
            "5" | "6" => 1,
            "2" => 2,
            other => panic!("unexpected keepalived rc {other} for {file}"),
        };
        let out = Command::new("ip")
            .args(["netns", "exec", &ns.0, keepup, "check", "--json", "-f"])
            .arg(dir.join(file))
            .output()
            .expect("run keepup check");
        let got = out.status.code().unwrap_or(-1);
        let json: serde_json::Value =
            serde_json::from_slice(&out.stdout).expect("keepup check --json prints JSON");
        let mut found: Vec<String> = json["diagnostics"]
            .as_array()
            .map(|a| {
                a.iter()
                    .map(|d| {
                        format!(
                            "{}:{}",
                            d["severity"].as_str().unwrap_or("?"),
                            d["code"].as_str().unwrap_or("?")
                        )
                    })
                    .collect()
            })
            .unwrap_or_default();
        found.sort();
        found.dedup();
        seen += 1;
        if got != want {
            failures.push(format!(
                "{file}: keepalived class {want}, keepup exit {got}: {found:?}"
            ));
        }
        match EXPECTED.iter().find(|(f, _, _)| *f == file) {
            Some((_, codes, _)) if *codes != found.as_slice() => {
                failures.push(format!("{file}: findings {found:?}, expected {codes:?}"))
            }
            Some(_) => {}
            None => failures.push(format!("{file}: not in the EXPECTED table ({found:?})")),
        }
    }
    assert_eq!(
        seen,
        EXPECTED.len(),
        "every sample in VERDICTS.tsv is checked"
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
