//! Garbage never panics the reader, and each kind of pathological input gets a
//! diagnostic that names it.

use keepup_config::{load_file, load_str, LoadOptions, Verdict};
use proptest::prelude::*;
use std::path::PathBuf;

fn tmpdir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("keepup-robust-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("temp dir");
    d
}

fn codes(l: &keepup_config::Loaded) -> Vec<&'static str> {
    l.diagnostics.iter().map(|d| d.code).collect()
}

#[test]
fn deep_nesting_is_reported_not_recursed() {
    let text = "global_defs {\n".repeat(10_000) + &"}\n".repeat(10_000);
    let l = load_str("deep.conf", &text, &LoadOptions::default());
    assert!(codes(&l).contains(&"nesting-too-deep"), "{:?}", codes(&l));
    assert_eq!(l.verdict(), Verdict::Refused);
}

#[test]
fn ten_megabyte_line_is_reported() {
    let d = tmpdir("longline");
    let f = d.join("long.conf");
    let text = format!("global_defs {{\n router_id {}\n}}\n", "x".repeat(10 << 20));
    std::fs::write(&f, text).expect("write");
    let l = load_file(&f, &LoadOptions::default());
    assert!(codes(&l).contains(&"line-too-long"), "{:?}", codes(&l));
    // The rendered message stays short even though the line is huge.
    assert!(l.render().len() < 4096);
    let _ = std::fs::remove_dir_all(d);
}

#[test]
fn binary_input_is_reported() {
    let d = tmpdir("binary");
    let f = d.join("bin.conf");
    std::fs::write(&f, [0x7f, b'E', b'L', b'F', 0, 1, 2, 0xff, 0xfe, b'\n']).expect("write");
    let l = load_file(&f, &LoadOptions::default());
    assert_eq!(codes(&l), vec!["binary-file"]);
    assert_eq!(l.verdict(), Verdict::Refused);
    let _ = std::fs::remove_dir_all(d);
}

#[test]
fn invalid_utf8_is_a_warning_and_read_anyway() {
    let l = {
        let d = tmpdir("latin1");
        let f = d.join("latin1.conf");
        std::fs::write(&f, b"! caf\xe9\nvrrp_script s {\n script /bin/true\n}\n").expect("write");
        let l = load_file(&f, &LoadOptions::default());
        let _ = std::fs::remove_dir_all(d);
        l
    };
    assert!(codes(&l).contains(&"not-utf8"), "{:?}", codes(&l));
}

#[test]
fn include_of_a_directory_and_of_itself() {
    let d = tmpdir("incl");
    std::fs::create_dir_all(d.join("conf.d")).expect("mkdir");
    let f = d.join("main.conf");
    std::fs::write(&f, "include conf.d\ninclude main.conf\n").expect("write");
    let l = load_file(&f, &LoadOptions::default());
    let c = codes(&l);
    assert!(c.contains(&"include-directory"), "{c:?}");
    assert!(c.contains(&"include-cycle"), "{c:?}");
    let _ = std::fs::remove_dir_all(d);
}

#[test]
fn missing_file_and_directory_as_the_config_are_fatal() {
    let d = tmpdir("missing");
    let l = load_file(&d.join("nope.conf"), &LoadOptions::default());
    assert_eq!(codes(&l), vec!["unreadable-file"]);
    assert_eq!(l.verdict(), Verdict::Refused);
    let l = load_file(&d, &LoadOptions::default());
    assert_eq!(codes(&l), vec!["include-directory"]);
    assert_eq!(l.verdict(), Verdict::Refused);
    let _ = std::fs::remove_dir_all(d);
}

#[test]
fn runaway_sequence_is_stopped() {
    let text = "~SEQ(A, 0, 100000) ~SEQ(B, 0, 100000) ~SEQ(C, 0, 100000) x ${A}.${B}.${C}\n";
    let mut opts = LoadOptions::default();
    // The mechanism is the same at the default limit (2M lines); a small one keeps the test fast.
    opts.preprocess.max_lines = 20_000;
    let l = load_str("seq.conf", text, &opts);
    assert!(
        codes(&l).contains(&"expansion-too-large"),
        "{:?}",
        codes(&l)[..3].to_vec()
    );
}

#[test]
fn sequence_longer_than_the_budget_is_stopped_at_it() {
    // More values than any budget: the reader stops after the lines it may produce.
    let text = "~SEQx(A, 0, 9223372036854775807) x ${A}\n";
    let mut opts = LoadOptions::default();
    opts.preprocess.max_lines = 1_000;
    let l = load_str("seq.conf", text, &opts);
    assert!(codes(&l).contains(&"expansion-too-large"));
    let made: Vec<&str> = l
        .sources
        .lines
        .iter()
        .filter(|l| !l.anchor)
        .map(|l| l.text.as_str())
        .collect();
    assert_eq!(made.len(), 1_000);
    assert_eq!(made[999], "x 3e7");
}

#[test]
fn sequence_values_at_the_edges() {
    let values = |text: &str| -> Vec<String> {
        let l = load_str("seq.conf", text, &LoadOptions::default());
        l.sources.lines.iter().map(|l| l.text.clone()).collect()
    };
    // The last value is i64::MAX: the next would overflow.
    assert_eq!(
        values("~SEQ(A, 9223372036854775806, 9223372036854775807) x ${A}\n"),
        ["x 9223372036854775806", "x 9223372036854775807"]
    );
    assert_eq!(
        values("~SEQ(A, -9223372036854775806, -1, -9223372036854775807) x ${A}\n"),
        ["x -9223372036854775806", "x -9223372036854775807"]
    );
    // The end is not always reached; counting down; a negative end alone.
    assert_eq!(values("~SEQ(A, 5, -2, 0) x ${A}\n"), ["x 5", "x 3", "x 1"]);
    assert_eq!(values("~SEQ(A, 3, 1) x ${A}\n"), ["x 3", "x 2", "x 1"]);
    assert_eq!(values("~SEQ(A, -2) x ${A}\n"), ["x -1", "x -2"]);
    assert_eq!(
        values("~SEQx(A, 250, 3, 260) x ${A}\n"),
        ["x fa", "x fd", "x 100", "x 103"]
    );
    // Nothing when the step leads away from the end.
    assert!(values("~SEQ(A, 1, 1, 0) x ${A}\n").is_empty());
    // The variable has its earlier value again after the block, also when named twice.
    assert_eq!(
        values("$A=before\n~LST({A, A}, {1, 2}) x ${A}\ny ${A}\n"),
        ["x 2", "y before"]
    );
}

fn untrusted() -> LoadOptions {
    let mut o = LoadOptions::default();
    o.preprocess.includes = false;
    o.preprocess.max_lines = 50_000;
    o
}

const WORDS: &[&str] = &[
    "{",
    "}",
    "\"",
    "'",
    "\\",
    "$X=",
    "${X}",
    "$X",
    "@main",
    "@^x",
    "~SEQ(A,1,3)",
    "~LST({A,B},{1,2})",
    "#",
    "!",
    "\n",
    " ",
    "vrrp_instance",
    "virtual_server",
    "global_defs",
    "real_server",
    "HTTP_GET",
    "url",
    "virtual_ipaddress",
    "10.0.0.1/24",
    "fe80::1",
    "eth0",
    "priority",
    "255",
    "-1",
    "0x10",
    "1.5",
    "track_script",
    "vrrp_script",
    "script",
    "group",
    "vrrp_sync_group",
    "authentication",
    "auth_type",
    "AH",
    "state",
    "MASTER",
    "include",
    "virtual_router_id",
    "unicast_peer",
    "static_routes",
    "via",
    "dev",
    "nexthop",
];

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    #[test]
    fn random_text_never_panics(s in "\\PC{0,400}") {
        let l = load_str("p.conf", &s, &untrusted());
        let _ = l.render();
        let _ = l.diagnostics_json();
    }

    #[test]
    fn keyword_soup_never_panics(idx in proptest::collection::vec(0..WORDS.len(), 0..200)) {
        let text: String = idx.iter().map(|&i| format!("{} ", WORDS[i])).collect();
        let l = load_str("soup.conf", &text, &untrusted());
        let _ = l.render();
        let _ = serde_json::to_string(&l.config);
    }
}

/// Found by the property test above: a definition that doubles itself grew a line
/// exponentially until allocation failed. Expansion now stops at the line limit.
#[test]
fn self_doubling_definition_is_stopped() {
    let text = "$X=ab\n$X=${X}${X}\n$X=${X}${X}\nrouter_id ${X}\n$D=${D}${D}\nvrrp_script s {\n script ${D}\n}\n";
    let l = load_str("double.conf", text, &untrusted());
    let c = codes(&l);
    assert!(
        c.contains(&"expansion-too-long") || c.contains(&"expansion-too-deep"),
        "{c:?}"
    );
}

/// Every input the fuzzer ever crashed on (fuzz/regressions/) reads without panicking.
#[test]
fn fuzz_regressions() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/regressions");
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return;
    };
    for e in entries.flatten() {
        let bytes = std::fs::read(e.path()).expect("read regression input");
        let text = String::from_utf8_lossy(&bytes);
        let l = load_str("regression.conf", &text, &untrusted());
        let _ = l.render();
        let _ = l.diagnostics_json();
    }
}
