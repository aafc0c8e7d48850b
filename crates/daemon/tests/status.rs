//! `keepup status` and `keepup reload` against real daemons in a lab. Root only; CI
//! runs these serially.
#![allow(clippy::unwrap_used)]

mod common;
use common::{client, has, keepup, keepup_with, one_instance, routers, runtime_dir, wait_addr};

use keepup_testkit::lab::{self, wait_until, Host, Lab};
use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

const VIP: IpAddr = IpAddr::V4(Ipv4Addr::new(10, 9, 0, 100));

fn status_json(lab: &Lab, h: &Host) -> serde_json::Value {
    let (code, out, err) = client(lab, h, &["status", "--json"]);
    assert_eq!(code, 0, "{out}{err}");
    serde_json::from_str(&out).unwrap()
}

/// Wait until the instance's status satisfies `want` (the daemon may not be
/// listening yet at first).
fn wait_status(
    lab: &Lab,
    h: &Host,
    what: &str,
    want: impl Fn(&serde_json::Value) -> bool,
) -> serde_json::Value {
    let mut last = serde_json::Value::Null;
    let ok = wait_until(Duration::from_secs(10), Duration::from_millis(50), || {
        let (code, out, _) = client(lab, h, &["status", "--json"]);
        last = serde_json::from_str(&out).unwrap_or_default();
        code == 0 && want(&last["instances"][0])
    });
    assert!(ok.is_some(), "never {what}: {last:#}");
    last
}

fn wait_state(lab: &Lab, h: &Host, state: &str) -> serde_json::Value {
    wait_status(lab, h, state, |i| i["state"] == state)
}

#[test]
fn netns_status_of_a_master_and_its_backup() {
    if !lab::root_or_skip("netns_status_of_a_master_and_its_backup") {
        return;
    }
    let (lab, _lan, hosts) = routers("kstat", 2, false);
    let (r1, r2) = (&hosts[0], &hosts[1]);
    let k1 = keepup(&lab, r1, &one_instance(150, "", ""), "a");
    let _k2 = keepup(&lab, r2, &one_instance(100, "", ""), "a");
    assert!(wait_addr(r1, VIP, true, 10).is_some(), "{}", k1.log());
    let m = wait_state(&lab, r1, "MASTER");
    let i = &m["instances"][0];
    assert_eq!(i["iname"], "VI_1");
    assert_eq!(i["vrid"], 51);
    assert_eq!(i["ifp_ifname"], "eth0");
    assert_eq!(i["base_priority"], 150);
    assert_eq!(i["effective_priority"], 150);
    assert_eq!(i["vips"][0], "10.9.0.100/24");
    assert_eq!(i["last_transition_from"], "BACKUP");
    assert_eq!(i["last_transition_reason"], "master-down");
    assert!(i["last_transition"].as_f64().unwrap() > 1e9);
    assert_eq!(m["daemon"]["pid"], k1.pid());

    let b = wait_status(&lab, r2, "a Backup hearing r1", |i| {
        i["state"] == "BACKUP" && !i["master"].is_null()
    });
    let i = &b["instances"][0];
    assert_eq!(i["master"], "10.9.0.1", "{b:#}");
    assert_eq!(i["master_priority"], 150, "{b:#}");
    assert_eq!(i["vips"].as_array().unwrap().len(), 0);
    // Counters move: the backup hears adverts.
    let heard = |v: &serde_json::Value| v["instances"][0]["stats"]["advert_rcvd"].as_u64();
    let first = heard(&b).unwrap();
    assert!(
        wait_until(Duration::from_secs(5), Duration::from_millis(200), || {
            heard(&status_json(&lab, r2)).unwrap() > first
        })
        .is_some(),
        "advert_rcvd stays at {first}"
    );

    // The table, as an operator reads it.
    let (code, table, err) = client(&lab, r2, &["status"]);
    assert_eq!(code, 0, "{err}");
    let line = table.lines().find(|l| l.starts_with("VI_1")).unwrap();
    let cells: Vec<&str> = line.split_whitespace().collect();
    assert_eq!(
        &cells[..5],
        ["VI_1", "BACKUP", "100/100", "10.9.0.1", "(150)"],
        "{table}"
    );
    let (_, table, _) = client(&lab, r1, &["status"]);
    assert!(table.contains("MASTER  150/150  this host"), "{table}");

    // Names: one instance, or a clear error for an unknown one.
    let (code, _, err) = client(&lab, r1, &["status", "VI_9"]);
    assert_eq!(code, 1);
    assert!(err.contains("no vrrp_instance VI_9"), "{err}");
}

#[test]
fn netns_status_says_why_an_instance_is_in_fault() {
    if !lab::root_or_skip("netns_status_says_why_an_instance_is_in_fault") {
        return;
    }
    let (lab, _lan, hosts) = routers("kstatf", 1, false);
    let r1 = &hosts[0];
    let marker = lab.dir().join("healthy");
    let top = format!(
        "vrrp_script chk_svc {{\n    script \"/usr/bin/test -e {}\"\n    interval 1\n    fall 1\n    rise 1\n}}\n",
        marker.display()
    );
    std::fs::write(&marker, "").unwrap();
    let k = keepup(
        &lab,
        r1,
        &one_instance(150, &top, "    track_script {\n        chk_svc\n    }\n"),
        "a",
    );
    wait_state(&lab, r1, "MASTER");
    // The weightless script fails: FAULT, and the status says which script.
    std::fs::remove_file(&marker).unwrap();
    let f = wait_state(&lab, r1, "FAULT");
    let i = &f["instances"][0];
    assert_eq!(i["fault_reasons"][0], "script chk_svc is down", "{f:#}");
    assert_eq!(i["trackers"][0]["failing"], true);
    let (_, table, _) = client(&lab, r1, &["status"]);
    assert!(table.contains("FAULT"), "{table}");
    assert!(table.contains("script chk_svc is down"), "{table}");
    assert!(table.contains("failing trackers:"), "{table}");

    // Back, then the link goes down: FAULT for the interface.
    std::fs::write(&marker, "").unwrap();
    wait_state(&lab, r1, "MASTER");
    r1.link_set("eth0", false).unwrap();
    let f = wait_state(&lab, r1, "FAULT");
    assert_eq!(
        f["instances"][0]["fault_reasons"][0],
        "interface eth0 is down",
        "{f:#}\n{}",
        k.log()
    );
}

/// `keepup reload`: an unchanged file changes nothing (no GARP), an added VIP is
/// added without a flap, a bad file is refused with its diagnostics while the old
/// configuration goes on; the status says when and how the last reload went.
#[test]
fn netns_keepup_reload_says_what_it_did() {
    if !lab::root_or_skip("netns_keepup_reload_says_what_it_did") {
        return;
    }
    let (lab, lan, hosts) = routers("krel", 1, false);
    let r1 = &hosts[0];
    let conf = one_instance(150, "", "");
    let k = keepup(&lab, r1, &conf, "a");
    assert!(wait_addr(r1, VIP, true, 10).is_some(), "{}", k.log());
    std::thread::sleep(Duration::from_secs(6)); // past the second GARP burst

    let cap = lan.capture("arp").unwrap();
    let (code, out, err) = client(&lab, r1, &["reload"]);
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(out, "VI_1: unchanged\nconfiguration unchanged\nok\n");
    std::thread::sleep(Duration::from_millis(500));
    let garps = cap
        .stop()
        .unwrap()
        .iter()
        .filter_map(|p| keepup_wire::arp::Repr::parse(&p.data).ok())
        .filter(|a| IpAddr::V4(a.sender_ip) == VIP)
        .count();
    assert_eq!(garps, 0, "gratuitous ARPs after an unchanged reload");
    let s = status_json(&lab, r1);
    assert!(
        s["daemon"]["last_reload"]["outcome"]
            .as_str()
            .unwrap()
            .starts_with("ok: "),
        "{s:#}"
    );

    // A VIP added: it appears, the old one never leaves, the instance is kept.
    let added = conf.replace(
        "        10.9.0.100/24\n",
        "        10.9.0.100/24\n        10.9.0.101/24\n",
    );
    std::fs::write(lab.dir().join("r1-a.conf"), &added).unwrap();
    let (code, out, err) = client(&lab, r1, &["reload"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.starts_with("VI_1: addresses changed (+10.9.0.101/24), state kept\n"),
        "{out}"
    );
    assert!(
        out.ends_with("1 address(es) added, 0 removed\nok\n"),
        "{out}"
    );
    assert!(has(r1, "10.9.0.101".parse().unwrap()));
    assert!(has(r1, VIP));

    // A bad file: refused with what `keepup check` would say, the old one runs on.
    let bad = added
        .replace("interface eth0", "interface eth9")
        .replace("advert_int 1", "advert_int 1\n    advert_intt 2");
    std::fs::write(lab.dir().join("r1-a.conf"), bad).unwrap();
    let (code, out, err) = client(&lab, r1, &["reload"]);
    assert_eq!(code, 1, "{out}{err}");
    assert!(
        out.starts_with("error: reload refused, the running configuration stays"),
        "{out}"
    );
    assert!(
        out.contains("unknown keyword 'advert_intt'"),
        "the diagnostics: {out}"
    );
    assert!(
        out.contains("interface eth9 does not exist"),
        "the reason: {out}"
    );
    let s = status_json(&lab, r1);
    assert_eq!(s["instances"][0]["state"], "MASTER");
    assert!(
        s["daemon"]["last_reload"]["outcome"]
            .as_str()
            .unwrap()
            .starts_with("refused: "),
        "{s:#}"
    );
    assert!(has(r1, VIP) && has(r1, "10.9.0.101".parse().unwrap()));
    assert_eq!(
        k.log().matches("Entering MASTER STATE").count(),
        1,
        "{}",
        k.log()
    );
}

/// Who may ask: root always; a member of `--status-group` may read the status but
/// not reload; anyone else is refused at once with a reason. No daemon: one line.
#[test]
fn netns_status_as_another_user() {
    if !lab::root_or_skip("netns_status_as_another_user") {
        return;
    }
    let (lab, _lan, hosts) = routers("kstatu", 1, false);
    let r1 = &hosts[0];
    // The lab's files must be reachable by another user; the binary too.
    use std::os::unix::fs::PermissionsExt;
    let open = std::fs::Permissions::from_mode(0o755);
    std::fs::set_permissions(lab.dir(), open.clone()).unwrap();
    let bin = lab.dir().join("keepup");
    std::fs::copy(env!("CARGO_BIN_EXE_keepup"), &bin).unwrap();
    std::fs::set_permissions(&bin, open).unwrap();
    let k = keepup_with(
        &lab,
        r1,
        &one_instance(150, "", ""),
        "a",
        &["--status-group", "4711"],
    );
    assert!(wait_addr(r1, VIP, true, 10).is_some(), "{}", k.log());
    let run = runtime_dir(&lab, r1);
    let as_user = |groups: &str, verb: &str| {
        let out = std::process::Command::new("timeout")
            .args(["10", "setpriv", "--reuid=4242", "--regid=4242"])
            .arg(groups)
            .arg("--")
            .arg(&bin)
            .args([verb, "--runtime-dir"])
            .arg(&run)
            .output()
            .unwrap();
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned()
                + &String::from_utf8_lossy(&out.stderr),
        )
    };
    let (code, out) = as_user("--groups=4711", "status");
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("VI_1") && out.contains("MASTER"), "{out}");
    let (code, out) = as_user("--groups=4711", "reload");
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("only root may ask for reload"), "{out}");
    let (code, out) = as_user("--clear-groups", "status");
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("permission denied: uid 4242 is not root and not in group 4711"),
        "{out}"
    );

    // No daemon behind a runtime dir: one line, non-zero.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_keepup"))
        .args(["status", "--runtime-dir"])
        .arg(lab.dir().join("nobody-here"))
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_ne!(out.status.code(), Some(0));
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("no keepup daemon is running there"), "{err}");
}
