//! `vrrp_strict` against keepalived 2.2.7: for each rule strict mode brings, one
//! configuration, the line `keepalived -t` prints for it and the finding keepup makes.
//! keepalived checks interface names against the host, so the cases use `eth0` and the
//! comparison is skipped (keepup's side still checked) where keepalived is not
//! installed or the host has no eth0. No root needed: `-t` only reads the file.
use keepup_config::diag::Severity;
use keepup_config::{load_str, LoadOptions};
use std::process::Command;

/// One rule: the instance's lines (`vrrp_strict` is global), what keepalived says,
/// and keepup's finding (code, severity); `None` where both are silent.
struct Case {
    body: &'static str,
    keepalived: Option<&'static str>,
    keepup: Option<(&'static str, Severity)>,
}

const CASES: &[Case] = &[
    Case {
        body: "state BACKUP\n priority 255",
        keepalived: Some("State MASTER must match being address owner"),
        keepup: Some(("strict-owner-not-master", Severity::Warning)),
    },
    Case {
        body: "state MASTER\n priority 100",
        keepalived: Some("State MASTER must match being address owner"),
        keepup: Some(("strict-master-not-owner", Severity::Warning)),
    },
    Case {
        body: "priority 100\n authentication {\n  auth_type PASS\n  auth_pass x\n }",
        keepalived: Some("Strict mode does not support authentication. Ignoring."),
        keepup: Some(("auth-ignored", Severity::Warning)),
    },
    Case {
        body: "priority 100\n preempt_delay 5",
        keepalived: Some("preempt_delay is incompatible with strict mode - resetting"),
        keepup: Some(("strict-conflict", Severity::Warning)),
    },
    Case {
        body: "priority 100\n accept",
        keepalived: Some("accept mode for VRRP version 2 does not comply with RFC3768"),
        keepup: Some(("strict-conflict", Severity::Warning)),
    },
    Case {
        body: "priority 255\n accept",
        keepalived: None,
        keepup: None,
    },
    Case {
        body: "priority 100\n version 3\n accept",
        keepalived: None,
        keepup: None,
    },
    Case {
        body: "priority 100\n garp_lower_prio_repeat 3",
        keepalived: Some("Strict mode requires no repeat garps. resetting"),
        keepup: Some(("strict-conflict", Severity::Warning)),
    },
    Case {
        body: "priority 100\n garp_lower_prio_delay 2",
        keepalived: Some("Strict mode requires no repeat garp delay. resetting"),
        keepup: Some(("strict-conflict", Severity::Warning)),
    },
    Case {
        body: "priority 100\n lower_prio_no_advert false",
        keepalived: Some("Strict mode requires no lower priority advert. resetting"),
        keepup: Some(("strict-conflict", Severity::Warning)),
    },
    Case {
        body: "priority 100\n higher_prio_send_advert",
        keepalived: Some("strict mode requires higher_prio_send_advert to be clear"),
        keepup: Some(("strict-conflict", Severity::Warning)),
    },
    Case {
        body: "priority 100\n version 2\n virtual_ipaddress {\n  fe80::9\n }",
        keepalived: Some("cannot use IPv6 with VRRP version 2; setting version 3"),
        keepup: Some(("version-forced", Severity::Warning)),
    },
    Case {
        body: "priority 100\n virtual_ipaddress {\n  fd00::9\n }",
        keepalived: Some("the first IPv6 VIP address must be link local"),
        keepup: Some(("first-vip-not-link-local", Severity::Error)),
    },
    // keepalived 2.2.7 runs unicast peers in strict mode without a word; keepup notes it.
    Case {
        body: "priority 100\n unicast_peer {\n  10.9.0.2\n }",
        keepalived: None,
        keepup: Some(("strict-unicast", Severity::Note)),
    },
];

/// The configuration of one case: strict mode, one instance with an IPv4 VIP unless
/// the body brings its own addresses.
fn conf(body: &str) -> String {
    let vip = if body.contains("virtual_ipaddress") {
        ""
    } else {
        " virtual_ipaddress {\n  10.9.0.100/24\n }\n"
    };
    format!(
        "global_defs {{\n vrrp_strict\n}}\nvrrp_instance VI_1 {{\n interface eth0\n \
         virtual_router_id 51\n advert_int 1\n {body}\n{vip}}}\n"
    )
}

/// What `keepalived -t` prints on `text`; None where it cannot judge here.
fn keepalived(text: &str, n: usize) -> Option<String> {
    let path = std::env::temp_dir().join(format!("keepup-strict-{}-{n}.conf", std::process::id()));
    std::fs::write(&path, text).ok()?;
    let out = Command::new("keepalived")
        .args(["-t", "-l", "-f"])
        .arg(&path)
        .output();
    let _ = std::fs::remove_file(&path);
    let out = out.ok()?;
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (!said.contains("Non-existent interface")).then_some(said)
}

fn keepup(text: &str) -> Vec<(&'static str, Severity)> {
    let opts = LoadOptions {
        interfaces: None,
        check_scripts: false,
        ..LoadOptions::for_this_host()
    };
    load_str("strict.conf", text, &opts)
        .diagnostics
        .iter()
        .map(|d| (d.code, d.severity))
        .collect()
}

#[test]
fn strict_mode_rules_match_keepalived() {
    let mut compared = 0;
    for (n, case) in CASES.iter().enumerate() {
        let text = conf(case.body);
        let ours = keepup(&text);
        match case.keepup {
            Some(want) => assert!(ours.contains(&want), "{text}\nkeepup: {ours:?}"),
            None => assert!(ours.is_empty(), "{text}\nkeepup: {ours:?}"),
        }
        let Some(theirs) = keepalived(&text, n) else {
            continue;
        };
        compared += 1;
        match case.keepalived {
            Some(line) => assert!(theirs.contains(line), "{text}\nkeepalived: {theirs}"),
            None => assert!(theirs.trim().is_empty(), "{text}\nkeepalived: {theirs}"),
        }
    }
    if compared == 0 {
        eprintln!("keepalived (or eth0) is not here: keepup's side only");
    }
}

/// A strict instance without a VIP: keepalived 2.2.7 refuses to run its VRRP side
/// ("No VIP specified; at least one is required"), keepup refuses the configuration.
#[test]
fn strict_instance_without_vip_is_refused() {
    let text = "global_defs {\n vrrp_strict\n}\nvrrp_instance VI_1 {\n interface eth0\n \
                virtual_router_id 51\n priority 100\n}\n";
    assert!(keepup(text).contains(&("no-vip", Severity::Fatal)));
    if let Some(theirs) = keepalived(text, 99) {
        assert!(
            theirs.contains("No VIP specified; at least one is required"),
            "{theirs}"
        );
    }
}
