//! keepalived's dump files from keepup and from keepalived 2.2.7, on one
//! configuration, compared field by field. Each daemon runs on a bridge of its own
//! (same addresses, same interface name) with the same peer (a keepup at 10.9.0.2),
//! so both see the same world: VI_1 (v2, PASS, VIPs, excluded VIP, a route, a rule, a
//! script adding 10, two notify scripts) Master, VI_2 in FAULT (a failing weightless
//! script), VI_6 (v3, IPv6, 0.5 s adverts) Master, VI_7 (v3) Backup to the peer's
//! Master (priority 200, 2 s adverts).
//!
//! keepalived 2.2.7 does not know `state_file_location`, `stats_file_location`,
//! `json_file_location` or `json_version` (it logs "Unknown keyword" and goes on):
//! it runs with TMPDIR in the lab, where 2.2.7's `make_tmp_filename` puts its files;
//! keepup is sent to its own directory by those keywords. JSON version 2, which only
//! later keepalived writes, is checked after a reload of keepup against version 1's
//! objects (its layout is proved against keepalived's `vrrp_json.c` in the unit
//! tests).
//!
//! What is normalised, and why: times (`last_transition`, the data file's "Last
//! transition"), the counts of adverts sent and received (each daemon started at
//! its own moment), each host's IPv6 link-local (made from its MAC), and in the data
//! file the lines keepup does not write ([`NOT_WRITTEN`], each with
//! its reason). Everything else must be equal. Also checked: none of these signals
//! ends keepup or takes its VIPs, and STATS_CLEAR writes the counts, then zeroes them.
//! Root only; CI runs these serially.
#![allow(clippy::unwrap_used)]

mod common;
use common::{has, wait_addr};

use keepup_testkit::lab::{self, Keepalived, Signal};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

const VIP: IpAddr = IpAddr::V4(Ipv4Addr::new(10, 9, 0, 100));

/// Data-file lines keepalived writes and keepup does not, by their start (after the
/// indent), with the reason.
const NOT_WRITTEN: &[(&str, &str)] = &[
    ("Flags:", "keepalived's internal flag bits"),
    (
        "Number of config faults",
        "keepalived's fault bookkeeping; `keepup status` says why an instance is in FAULT",
    ),
    ("Number of interface and track script faults", "as above"),
    ("Number of track scripts init", "as above"),
    (
        "Read timeout",
        "the time of keepalived's next read timer; keepup's timers are not kept per socket read",
    ),
    (
        "Master down timer",
        "keepalived's computed timer in usecs; keepup's engine has it but the file does not show it",
    ),
    (
        "Total priority",
        "keepalived's priority before clamping; keepup keeps only the effective one",
    ),
    ("fd_in ", "keepalived's socket descriptors"),
];

/// Lines of the stats file, or the counts in the JSON, that depend on timing.
fn normalise_json(text: &str) -> String {
    let mut out = text.to_string();
    for key in [
        "\"last_transition\":",
        "\"advert_sent\":",
        "\"advert_rcvd\":",
    ] {
        let mut from = 0;
        while let Some(i) = out[from..].find(key) {
            let start = from + i + key.len();
            let end = out[start..]
                .find(|c: char| !(c.is_ascii_digit() || c == '.'))
                .map_or(out.len(), |e| start + e);
            let value: f64 = out[start..end].parse().unwrap();
            // Every instance has made a transition (to MASTER or FAULT) by now.
            assert!(
                key.contains("advert_") || value > 0.0,
                "{key} is {value} in {text}"
            );
            out.replace_range(start..end, "N");
            from = start;
        }
    }
    out
}

fn normalise_stats(text: &str) -> String {
    let mut out = String::new();
    let mut in_adverts = false;
    for l in text.lines() {
        if l == "  Advertisements:" {
            in_adverts = true;
        } else if l.starts_with("  ") && !l.starts_with("    ") {
            in_adverts = false;
        }
        if in_adverts && l.starts_with("    Sent: ") {
            out.push_str("    Sent: N\n");
        } else if in_adverts && l.starts_with("    Received: ") {
            out.push_str("    Received: N\n");
        } else {
            out.push_str(l);
            out.push('\n');
        }
    }
    out
}

/// The data file's VRRP Topology and Sync groups sections, per instance: its lines,
/// the time of "Last transition" checked and blanked.
fn topology(text: &str) -> Vec<(String, Vec<String>)> {
    let mut out: Vec<(String, Vec<String>)> = Vec::new();
    let mut on = false;
    for l in text.lines() {
        if l.starts_with("------<") {
            on = l == "------< VRRP Topology >------";
            continue;
        }
        if !on {
            continue;
        }
        if let Some(name) = l.strip_prefix(" VRRP Instance = ") {
            out.push((name.to_string(), Vec::new()));
            continue;
        }
        let Some((_, lines)) = out.last_mut() else {
            continue;
        };
        let l = match l.strip_prefix("   Last transition = ") {
            Some(t) => {
                let secs: f64 = t.split(' ').next().unwrap().parse().unwrap();
                assert!(secs > 0.0, "{l}");
                "   Last transition = T".to_string()
            }
            None => l.to_string(),
        };
        lines.push(l);
    }
    out
}

fn send(pid: u32, signal: i32) {
    // `kill` takes real-time signals by number, which nix's Signal cannot name.
    let ok = std::process::Command::new("kill")
        .args([format!("-{signal}"), pid.to_string()])
        .status()
        .unwrap()
        .success();
    assert!(ok, "kill -{signal} {pid}");
}

/// Remove `file`, send `signal` to `pid`, and read the file once written.
fn ask(pid: u32, signal: i32, file: &Path, log: &dyn Fn() -> String) -> String {
    let _ = std::fs::remove_file(file);
    send(pid, signal);
    let written = lab::wait_until(Duration::from_secs(5), Duration::from_millis(20), || {
        file.exists()
    });
    assert!(
        written.is_some(),
        "{} not written after signal {signal}:\n{}",
        file.display(),
        log()
    );
    // keepalived writes in place: give it a moment to finish.
    std::thread::sleep(Duration::from_millis(200));
    let meta = std::fs::metadata(file).unwrap();
    assert_eq!(
        std::os::unix::fs::PermissionsExt::mode(&meta.permissions()) & 0o777,
        0o600,
        "{}",
        file.display()
    );
    std::fs::read_to_string(file).unwrap()
}

fn conf(dir: &Path, json_version: u8) -> String {
    let d = dir.display();
    format!(
        r#"global_defs {{
    router_id dumps
    script_user root
    enable_script_security
    state_file_location {d}/
    stats_file_location {d}/keepalived.stats
    json_file_location {d}/
    json_version {json_version}
}}
vrrp_script chk_ok {{
    script "/usr/bin/true"
    interval 1
    weight 10
}}
vrrp_script chk_bad {{
    script "/usr/bin/false"
    interval 1
}}
vrrp_instance VI_1 {{
    state MASTER
    interface eth0
    virtual_router_id 51
    priority 150
    advert_int 1
    authentication {{
        auth_type PASS
        auth_pass secret
    }}
    virtual_ipaddress {{
        10.9.0.100/24
        10.9.0.101/24 dev eth0 label eth0:1
    }}
    virtual_ipaddress_excluded {{
        10.9.1.100/24
    }}
    virtual_routes {{
        10.88.0.0/16 via 10.9.0.254 dev eth0
    }}
    virtual_rules {{
        from 10.9.0.100 table 100 priority 100
    }}
    track_script {{
        chk_ok
    }}
    notify_master "/usr/bin/true master"
    notify "/usr/bin/true x y"
}}
vrrp_instance VI_2 {{
    state BACKUP
    interface eth0
    virtual_router_id 52
    priority 100
    nopreempt
    garp_master_delay 2
    virtual_ipaddress {{
        10.9.0.200/24
    }}
    track_script {{
        chk_bad
    }}
}}
vrrp_instance VI_6 {{
    state BACKUP
    interface eth0
    virtual_router_id 61
    priority 100
    advert_int 0.5
    virtual_ipaddress {{
        fd00:9::100/64
    }}
}}
{}"#,
        vi_7(100, 1)
    )
}

/// VI_7, VRRPv3: Backup at 100 in the daemons compared, Master at 200 (2 s adverts)
/// in the peer.
fn vi_7(priority: u8, advert_int: u8) -> String {
    format!(
        "vrrp_instance VI_7 {{
    state BACKUP
    interface eth0
    virtual_router_id 71
    version 3
    priority {priority}
    advert_int {advert_int}
    virtual_ipaddress {{
        10.9.0.77/24
    }}
}}
"
    )
}

fn dir(lab: &lab::Lab, name: &str) -> PathBuf {
    let d = lab.dir().join(name);
    std::fs::create_dir_all(&d).unwrap();
    d
}

#[test]
fn netns_dump_files_match_keepalived() {
    if !lab::root_or_skip("netns_dump_files_match_keepalived") {
        return;
    }
    let lab = lab::Lab::new("kdump").unwrap();
    let (lan_a, lan_b) = (lab.bridge().unwrap(), lab.bridge().unwrap());
    let (v4, v6) = (
        Ipv4Addr::new(10, 9, 0, 1),
        Some(Ipv6Addr::new(0xfd00, 9, 0, 0, 0, 0, 0, 1)),
    );
    let ka_host = lab.host("ka", &lan_a, v4, v6).unwrap();
    let ku_host = lab.host("ku", &lan_b, v4, v6).unwrap();
    // The same peer on each bridge, Master of VI_7 before the daemons compared start
    // (so theirs is Backup from the start, never Master).
    let peer_v4 = Ipv4Addr::new(10, 9, 0, 2);
    let peers: Vec<lab::Proc> = [("pa", &lan_a), ("pb", &lan_b)]
        .into_iter()
        .map(|(name, lan)| {
            let h = lab.host(name, lan, peer_v4, None).unwrap();
            common::keepup(&lab, &h, &vi_7(200, 2), "peer")
        })
        .collect();
    let peer_master = |p: &lab::Proc| p.log().contains("(VI_7) Entering MASTER STATE");
    let up = lab::wait_until(Duration::from_secs(15), Duration::from_millis(100), || {
        peers.iter().all(peer_master)
    });
    assert!(up.is_some(), "a peer is not Master:\n{}", peers[0].log());
    let (ka_dir, ku_dir) = (dir(&lab, "ka-tmp"), dir(&lab, "ku-dumps"));
    let text = conf(&ku_dir, 1);
    let ka_dir_s = ka_dir.display().to_string();
    let ka = Keepalived::start_with_env(&ka_host, &text, &[("TMPDIR", &ka_dir_s)]).unwrap();
    let ku = common::keepup(&lab, &ku_host, &text, "a");
    let logs = || format!("keepalived:\n{}\nkeepup:\n{}", ka.log(), ku.log());
    for h in [&ka_host, &ku_host] {
        assert!(
            wait_addr(h, VIP, true, 10).is_some(),
            "no VIP on {}:\n{}",
            h.name(),
            logs()
        );
    }
    // VI_6 Master (3 x 0.5 s and skew); VI_2 starts in FAULT (keepalived logs
    // nothing for that: the dumps say it); chk_ok counted (160) at its first run.
    let settled = lab::wait_until(Duration::from_secs(10), Duration::from_millis(100), || {
        let (a, b) = (ka.log(), ku.log());
        [&a, &b]
            .iter()
            .all(|l| l.contains("(VI_6) Entering MASTER STATE"))
    });
    assert!(settled.is_some(), "{}", logs());
    std::thread::sleep(Duration::from_secs(3));

    let (min, max) = (nix::libc::SIGRTMIN(), nix::libc::SIGRTMAX());
    let (usr1, usr2, json, clear) = (nix::libc::SIGUSR1, nix::libc::SIGUSR2, min + 2, max - 1);
    let ka_log = || ka.log();
    let ku_log = || ku.log();

    // SIGUSR2: keepalived.stats, line for line.
    let theirs = ask(ka.pid(), usr2, &ka_dir.join("keepalived.stats"), &ka_log);
    let ours = ask(ku.pid(), usr2, &ku_dir.join("keepalived.stats"), &ku_log);
    assert_eq!(
        normalise_stats(&ours),
        normalise_stats(&theirs),
        "stats\n{}",
        logs()
    );

    // SIGJSON: keepalived.json, byte for byte once times and sent counts are blanked.
    let theirs = ask(ka.pid(), json, &ka_dir.join("keepalived.json"), &ka_log);
    let ours = ask(ku.pid(), json, &ku_dir.join("keepalived.json"), &ku_log);
    assert_eq!(
        normalise_json(&ours),
        normalise_json(&theirs),
        "json\n{}",
        logs()
    );
    let v1: serde_json::Value = serde_json::from_str(&ours).unwrap();
    // The world is as described: (state, master_priority, master_adver_int).
    let seen: Vec<_> = (0..4)
        .map(|i| {
            let d = &v1[i]["data"];
            (
                d["iname"].clone(),
                d["state"].clone(),
                d["master_priority"].clone(),
                d["master_adver_int"].clone(),
            )
        })
        .collect();
    assert_eq!(
        seen,
        [
            ("VI_1".into(), 2.into(), 0.into(), 1.into()),
            ("VI_2".into(), 3.into(), 0.into(), 1.into()),
            ("VI_6".into(), 2.into(), 0.into(), 0.5.into()),
            ("VI_7".into(), 1.into(), 200.into(), 2.into()),
        ]
    );

    // SIGUSR1: keepalived.data's VRRP topology, line by line.
    // Each host's IPv6 link-local (the source of VI_6's adverts) comes from its own
    // MAC address: written as LL.
    let ll = |h: &lab::Host, text: String| {
        text.replace(&h.link_local("eth0").unwrap().to_string(), "LL")
    };
    let theirs = ask(ka.pid(), usr1, &ka_dir.join("keepalived.data"), &ka_log);
    let theirs = topology(&ll(&ka_host, theirs));
    let ours = topology(&ll(
        &ku_host,
        ask(ku.pid(), usr1, &ku_dir.join("keepalived.data"), &ku_log),
    ));
    let names = |t: &[(String, Vec<String>)]| t.iter().map(|x| x.0.clone()).collect::<Vec<_>>();
    assert_eq!(names(&ours), names(&theirs));
    for ((name, ours), (_, theirs)) in ours.iter().zip(&theirs) {
        let expected: Vec<&String> = theirs
            .iter()
            .filter(|l| {
                let t = l.trim_start();
                !NOT_WRITTEN.iter().any(|(p, _)| t.starts_with(p))
            })
            .collect();
        let ours: Vec<&String> = ours.iter().collect();
        assert_eq!(ours, expected, "data file, {name}");
    }

    // STATS_CLEAR: the stats as they were, then every counter at zero.
    let theirs = ask(ka.pid(), clear, &ka_dir.join("keepalived.stats"), &ka_log);
    let ours = ask(ku.pid(), clear, &ku_dir.join("keepalived.stats"), &ku_log);
    assert_eq!(
        normalise_stats(&ours),
        normalise_stats(&theirs),
        "stats_clear"
    );
    assert!(ours.contains("  Became master: 1\n"), "{ours}");
    std::thread::sleep(Duration::from_millis(1500));
    let theirs = ask(ka.pid(), usr2, &ka_dir.join("keepalived.stats"), &ka_log);
    let ours = ask(ku.pid(), usr2, &ku_dir.join("keepalived.stats"), &ku_log);
    assert_eq!(
        normalise_stats(&ours),
        normalise_stats(&theirs),
        "after clear"
    );
    assert!(!ours.contains("  Became master: 1\n"), "{ours}");

    // JSON version 2 after a reload: {"vrrp": the same objects} (no process is
    // tracked, so no track_process list).
    let path = lab.dir().join(format!("{}-a.conf", ku_host.name()));
    std::fs::write(&path, conf(&ku_dir, 2)).unwrap();
    let mark = ku.log().len();
    ku.kill(Signal::SIGHUP).unwrap();
    let reloaded = lab::wait_until(Duration::from_secs(5), Duration::from_millis(20), || {
        ku.log()[mark..].contains("reload:")
    });
    assert!(reloaded.is_some(), "{}", ku.log());
    let before = SystemTime::now();
    let v2 = ask(ku.pid(), json, &ku_dir.join("keepalived.json"), &ku_log);
    let v2: serde_json::Value = serde_json::from_str(&v2).unwrap();
    let obj = v2.as_object().unwrap();
    assert_eq!(obj.keys().collect::<Vec<_>>(), ["vrrp"], "{v2}");
    let (a, b) = (v1.as_array().unwrap(), v2["vrrp"].as_array().unwrap());
    assert_eq!(a.len(), b.len());
    for (x, y) in a.iter().zip(b) {
        // The counters moved on (and were cleared); the configuration did not.
        let mut x = x["data"].clone();
        let mut y = y["data"].clone();
        x["last_transition"] = 0.into();
        y["last_transition"] = 0.into();
        assert_eq!(x, y);
    }
    assert!(before.elapsed().unwrap() < Duration::from_secs(5));

    // None of this ended keepup, moved its VIP or made it flap.
    assert!(ku.is_running(), "{}", ku.log());
    assert!(has(&ku_host, VIP), "{}", ku.log());
    let log = ku.log();
    for line in [
        "Printing VRRP stats for process(",
        "Printing VRRP as json for process(",
        "Printing VRRP data for process(",
        "Printing and clearing VRRP stats for process(",
    ] {
        assert!(log.contains(line), "no {line:?}:\n{log}");
    }
    assert_eq!(
        log.matches("(VI_1) Entering MASTER STATE").count(),
        1,
        "{log}"
    );
    assert!(ka.is_running(), "{}", ka.log());
}
