//! `nftables_ipvs` in a real kernel (the qemu VM of keepup_testkit::vm), against
//! keepalived 2.2.7 (built with nftables) on the same configurations:
//!
//! - the IPVS tables (`ipvsadm -Sn`, fwmark services included) are identical, and so
//!   are the nftables tables (`nft -j list table`, handles left out and elements
//!   sorted), at start and after a reload that adds a group (the marks given are kept);
//!   both daemons remove their table at SIGTERM;
//! - keepup's table lives as keepalived's does: `-I` leaves it at stop; after SIGKILL a
//!   restart under another table name removes the killed keepup's table; a reload
//!   writes the new table; without nft, keepup says so once and expands the groups;
//! - traffic reaches real nginx servers through every address of a group by the mark
//!   (a client namespace, a director, two real servers; NAT).
#![allow(clippy::unwrap_used)]

use std::collections::BTreeSet;
use std::net::Ipv4Addr;
use std::time::Duration;

use keepup_testkit::lab::{wait_until, Host};
use keepup_testkit::vm::{guest_test, in_guest, VmJob};
use nix::sys::signal::Signal;
use serde_json::Value;

mod common;
use common::{director_lab, nginx};

const KEEPUP: &str = env!("CARGO_BIN_EXE_keepup");

/// Groups of addresses, ranges (IPv4 and IPv6), both families in one group (all
/// tunnelled), a group with a fwmark entry (expanded), two protocols on one group, an
/// entry without a port, persistence with granularity.
const GROUPS: &str = r#"
global_defs {
  nftables_ipvs
}
virtual_server_group G {
  10.1.4.1 80
  10.1.4.10-12 8080
  10.1.4.20/30 81
  10.1.4.30
}
virtual_server_group G6 {
  fc00:1:4::1-3 80
  fc00:1:4::9 443
}
virtual_server_group M {
  10.1.5.1 80
  fwmark 9
}
virtual_server_group B {
  10.1.6.1 80
  fc00:1:6::1 80
}
virtual_server group G {
  lb_algo rr
  lb_kind DR
  protocol TCP
  persistence_timeout 30
  persistence_granularity 255.255.255.0
  real_server 10.2.4.1 80 { }
  real_server 10.2.4.2 { }
  real_server 10.2.4.3 8080 { lvs_method NAT }
}
virtual_server group G {
  lb_algo rr
  lb_kind DR
  protocol UDP
  real_server 10.2.4.1 80 { }
}
virtual_server group G6 {
  lb_algo wlc
  lb_kind DR
  protocol TCP
  real_server fc00:2:4::1 80 { }
}
virtual_server group M {
  lb_algo rr
  lb_kind DR
  protocol TCP
  real_server 10.2.5.1 80 { }
}
virtual_server group B {
  lb_algo rr
  lb_kind TUN
  protocol SCTP
  real_server 10.2.6.1 80 { }
  real_server fc00:2:6::1 80 { }
}
"#;

/// Another name, priority and start mark, counters, a virtual server without protocol
/// (UDP), and the priority written before `nftables_ipvs` (keepalived resets it).
const SETTINGS: &str = r#"
global_defs {
  nftables_ipvs_priority 5
  nftables_ipvs kup
  nftables_ipvs_start_fwmark 77
  nftables_counters
}
virtual_server_group G {
  10.1.4.1 80
  10.1.4.10-12 8080
}
virtual_server_group N {
  10.1.7.1 80
}
virtual_server group G {
  lb_algo rr
  lb_kind NAT
  protocol TCP
  real_server 10.2.4.1 80 { }
  real_server 10.2.4.2 { }
}
virtual_server group N {
  lb_algo rr
  lb_kind DR
  real_server 10.2.7.1 80 { }
}
"#;

/// A reload of keepalived's own: a new group before the others, a new address in one.
/// keepalived keeps the marks given (G 1000, H 1001) and gives N the next (1002).
const BEFORE_RELOAD: &str = r#"
global_defs {
  nftables_ipvs
}
virtual_server_group G {
  10.1.4.1 80
}
virtual_server_group H {
  10.1.5.1 80
}
virtual_server group G {
  lb_algo rr
  protocol TCP
  real_server 10.2.4.1 80 { }
}
virtual_server group H {
  lb_algo rr
  protocol TCP
  real_server 10.2.5.1 80 { }
}
"#;

const AFTER_RELOAD: &str = r#"
global_defs {
  nftables_ipvs
}
virtual_server_group N {
  10.1.3.1 80
}
virtual_server_group G {
  10.1.4.1 80
  10.1.4.2 80
}
virtual_server_group H {
  10.1.5.1 80
}
virtual_server group N {
  lb_algo rr
  protocol TCP
  real_server 10.2.3.1 80 { }
}
virtual_server group G {
  lb_algo rr
  protocol TCP
  real_server 10.2.4.1 80 { }
}
virtual_server group H {
  lb_algo rr
  protocol TCP
  real_server 10.2.5.1 80 { }
}
"#;

/// The shell functions of the guest scripts.
const PRELUDE: &str = r#"
ip link set lo up
ip link add d0 type dummy && ip link set d0 up
ip addr add 10.250.0.1/16 dev d0 && ip route add default dev d0
ip -6 addr add fc00:250::1/64 dev d0 nodad && ip -6 route add default dev d0
modprobe ip_vs
# Waits until the IPVS table is non-empty and unchanged over three reads 0.2 s apart.
settle() {
  prev=""; same=0; i=0
  while [ $i -lt 75 ]; do
    cur="$(ipvsadm -Sn | sort)"
    if [ -n "$cur" ] && [ "$cur" = "$prev" ]; then same=$((same+1)); else same=0; fi
    [ $same -ge 2 ] && return 0
    prev="$cur"; i=$((i+1)); sleep 0.2
  done
}
# Waits (at most 15 s) until `nft list tables` prints exactly $1 (sorted, one a line).
tables_are() {
  i=0
  while [ $i -lt 75 ]; do
    [ "$(nft list tables | sort)" = "$1" ] && return 0
    i=$((i+1)); sleep 0.2
  done
  echo "tables are not '$1':"; nft list tables
}
# Waits (at most 15 s) until `ipvsadm -Sn` has a line with $1, then a second more.
wait_for() {
  i=0
  while [ $i -lt 75 ] && ! ipvsadm -Sn | grep -q -- "$1"; do i=$((i+1)); sleep 0.2; done
  sleep 1
}
dump() {  # prefix table
  ipvsadm -Sn | sort > "$1.ipvs"
  nft -j list table ip "$2" > "$1.ip.json" 2>/dev/null
  nft -j list table ip6 "$2" > "$1.ip6.json" 2>/dev/null
  nft list ruleset > "$1.ruleset"
}
"#;

/// An nft JSON listing as comparable lines: metainfo and handles left out, each map's
/// elements sorted.
fn normalise(json: &str) -> BTreeSet<String> {
    let Ok(v) = serde_json::from_str::<Value>(json) else {
        return BTreeSet::new();
    };
    let mut out = BTreeSet::new();
    for mut item in v["nftables"].as_array().cloned().unwrap_or_default() {
        let Some(obj) = item.as_object_mut() else {
            continue;
        };
        if obj.contains_key("metainfo") {
            continue;
        }
        for inner in obj.values_mut() {
            if let Some(o) = inner.as_object_mut() {
                o.remove("handle");
                if let Some(Value::Array(elems)) = o.get_mut("elem") {
                    elems.sort_by_key(|e| e.to_string());
                }
            }
        }
        out.insert(item.to_string());
    }
    out
}

fn read_set(job: &VmJob, name: &str) -> BTreeSet<String> {
    job.read(name)
        .unwrap_or_default()
        .lines()
        .map(str::to_owned)
        .collect()
}

#[test]
fn qemu_nft_ipvs_matches_keepalived_and_lives_as_it_does() {
    let job = VmJob::new("nft").unwrap();
    let groups = job.write("groups.conf", GROUPS).unwrap();
    let settings = job.write("settings.conf", SETTINGS).unwrap();
    let before = job.write("before.conf", BEFORE_RELOAD).unwrap();
    let after = job.write("after.conf", AFTER_RELOAD).unwrap();
    let work = job.path().join("work.conf");
    // The lifecycle's configurations: another table name (what a restart after SIGKILL
    // must replace the killed keepup's table by), and a reload's change of a group.
    let renamed = job
        .write(
            "renamed.conf",
            GROUPS.replace("nftables_ipvs\n", "nftables_ipvs other\n"),
        )
        .unwrap();
    let reloaded = GROUPS
        .replace("nftables_ipvs\n", "nftables_ipvs other\n")
        .replace("10.1.4.1 80\n", "10.1.4.2 80\n");
    let mut s = String::from(PRELUDE);
    for (name, conf, table, reload) in [
        ("groups", &groups, "keepalived_ipvs", None),
        ("settings", &settings, "kup", None),
        ("reload", &before, "keepalived_ipvs", Some(&after)),
    ] {
        let (orig, conf) = (conf.display(), work.display());
        // With a second configuration: it replaces the first, the daemon reloads, and
        // the table is read once the new group's server is in.
        let reload = |cmd: &str| match reload {
            Some(after) => format!(
                "cp {} {conf}\n{cmd}\nwait_for 10.2.3.1:80\n",
                after.display()
            ),
            None => String::new(),
        };
        let (ka_reload, ku_reload) = (
            reload("kill -HUP $pid"),
            reload(&format!(
                "{KEEPUP} reload --runtime-dir /run/k-{name} > {name}.reload.out 2>&1"
            )),
        );
        s.push_str(&format!(
            r#"
cp {orig} {conf}
keepalived -C -n -l -D -f {conf} -p /run/{name}.pid -c /run/{name}.c.pid -r /run/{name}.v.pid > {name}.keepalived.log 2>&1 &
pid=$!
settle; sleep 1
{ka_reload}dump {name}.keepalived {table}
kill -TERM $pid; wait $pid
tables_are ""
nft list tables > {name}.keepalived.after
ipvsadm -C
cp {orig} {conf}
{KEEPUP} run -C -f {conf} --runtime-dir /run/k-{name} > {name}.keepup.log 2>&1 &
pid=$!
settle; sleep 1
{ku_reload}dump {name}.keepup {table}
kill -TERM $pid; wait $pid
tables_are ""
nft list tables > {name}.keepup.after
ipvsadm -Sn > {name}.keepup.ipvs-after
ipvsadm -C
"#
        ));
    }
    let (groups, renamed) = (groups.display(), renamed.display());
    s.push_str(&format!(
        r#"
# -I: the table stays at stop.
{KEEPUP} run -C -I -f {groups} --runtime-dir /run/k-life > life-1.log 2>&1 &
pid=$!
settle; tables_are "table ip keepalived_ipvs
table ip6 keepalived_ipvs"
kill -TERM $pid; wait $pid
nft list tables | sort > life-dont-release.tables
# SIGKILL, then a restart under another name: the killed keepup's table goes.
{KEEPUP} run -C -f {groups} --runtime-dir /run/k-life > life-2.log 2>&1 &
pid=$!
settle; sleep 1
kill -KILL $pid; wait $pid
nft list tables | sort > life-killed.tables
{KEEPUP} run -C -f {renamed} --runtime-dir /run/k-life > life-3.log 2>&1 &
pid=$!
settle
tables_are "table ip other
table ip6 other"
nft list tables | sort > life-restarted.tables
# A reload writes the new table.
cat > {renamed}.new <<'EOF'
{reloaded}
EOF
mv {renamed}.new {renamed}
{KEEPUP} reload --runtime-dir /run/k-life > life-reload.out 2>&1
i=0
while [ $i -lt 50 ] && ! nft list table ip other | grep -q '10.1.4.2 . 80'; do i=$((i+1)); sleep 0.2; done
nft list table ip other > life-reloaded.table
kill -TERM $pid; wait $pid
tables_are ""
nft list tables > life-stopped.tables
ipvsadm -Sn > life-stopped.ipvs
ls /run/k-life > life-runtime.ls
# Without nft: said once, the groups expanded.
mv /usr/sbin/nft /usr/sbin/nft.off
{KEEPUP} run -C -f {groups} --runtime-dir /run/k-nonft > nonft.log 2>&1 &
pid=$!
settle; sleep 1
ipvsadm -Sn | sort > nonft.ipvs
kill -TERM $pid; wait $pid
mv /usr/sbin/nft.off /usr/sbin/nft
"#
    ));
    let run = job.run(&s, Duration::from_secs(600)).unwrap();
    assert_eq!(run.rc, 0, "guest:\n{}", run.output);
    let log = |n: &str| job.read(n).unwrap_or_default();

    let mut report = String::new();
    for name in ["groups", "settings", "reload"] {
        let ka = read_set(&job, &format!("{name}.keepalived.ipvs"));
        let ku = read_set(&job, &format!("{name}.keepup.ipvs"));
        assert!(
            ka.iter().any(|l| l.starts_with("-A -f ")),
            "{name}: keepalived made no fwmark service:\n{ka:#?}\n{}",
            log(&format!("{name}.keepalived.log"))
        );
        for l in ku.difference(&ka) {
            report.push_str(&format!("{name}: IPVS keepup only:      {l}\n"));
        }
        for l in ka.difference(&ku) {
            report.push_str(&format!("{name}: IPVS keepalived only:  {l}\n"));
        }
        for fam in ["ip", "ip6"] {
            let ka = normalise(&log(&format!("{name}.keepalived.{fam}.json")));
            let ku = normalise(&log(&format!("{name}.keepup.{fam}.json")));
            for l in ku.difference(&ka) {
                report.push_str(&format!("{name} {fam}: nft keepup only:      {l}\n"));
            }
            for l in ka.difference(&ku) {
                report.push_str(&format!("{name} {fam}: nft keepalived only:  {l}\n"));
            }
        }
        for daemon in ["keepalived", "keepup"] {
            let after = log(&format!("{name}.{daemon}.after"));
            if !after.trim().is_empty() {
                report.push_str(&format!("{name}: {daemon} left at stop: {after}\n"));
            }
        }
        let left = log(&format!("{name}.keepup.ipvs-after"));
        if !left.trim().is_empty() {
            report.push_str(&format!("{name}: keepup left IPVS entries: {left}\n"));
        }
    }
    assert!(
        report.is_empty(),
        "keepup and keepalived differ:\n{report}\nkeepalived:\n{}\nkeepup:\n{}\nkeepup log:\n{}",
        log("groups.keepalived.ruleset"),
        log("groups.keepup.ruleset"),
        log("groups.keepup.log")
    );
    // The groups case has the same table in both families; spot-check its content.
    let ruleset = log("groups.keepup.ruleset");
    assert!(
        ruleset.contains("10.1.4.10-10.1.4.12 . 8080 : 0x000003e8"),
        "{ruleset}"
    );
    assert!(
        ruleset.contains("fc00:1:4::1-fc00:1:4::3 . 80 : 0x000003ea"),
        "{ruleset}"
    );
    // After the reload: the marks kept, the new group's the next.
    let reloaded = log("reload.keepup.ruleset");
    for element in [
        "10.1.4.2 . 80 : 0x000003e8",
        "10.1.5.1 . 80 : 0x000003e9",
        "10.1.3.1 . 80 : 0x000003ea",
    ] {
        assert!(reloaded.contains(element), "{element}:\n{reloaded}");
    }

    let both = |t: &str| format!("table ip {t}\ntable ip6 {t}\n");
    let life = format!(
        "{}\n{}\n{}\n{}",
        log("life-1.log"),
        log("life-2.log"),
        log("life-3.log"),
        log("life-reload.out")
    );
    assert_eq!(
        log("life-dont-release.tables"),
        both("keepalived_ipvs"),
        "-I keeps the table\n{life}"
    );
    assert_eq!(
        log("life-killed.tables"),
        both("keepalived_ipvs"),
        "SIGKILL leaves it"
    );
    assert_eq!(
        log("life-restarted.tables"),
        both("other"),
        "the restart replaced the killed keepup's table\n{life}"
    );
    assert!(
        life.contains("found the nftables table keepalived_ipvs of a previous keepup"),
        "{life}"
    );
    let reloaded = log("life-reloaded.table");
    assert!(
        reloaded.contains("10.1.4.2 . 80") && !reloaded.contains("10.1.4.1 . 80"),
        "the reload wrote the new table:\n{reloaded}\n{life}"
    );
    assert_eq!(log("life-stopped.tables").trim(), "", "{life}");
    assert_eq!(log("life-stopped.ipvs").trim(), "", "{life}");
    assert!(
        !log("life-runtime.ls").contains("ipvs-nft"),
        "the record goes at stop"
    );

    let nonft = log("nonft.log");
    assert_eq!(
        nonft
            .matches("nftables_ipvs: the nft program is not installed")
            .count(),
        1,
        "{nonft}"
    );
    let expanded = read_set(&job, "nonft.ipvs");
    assert!(
        expanded.contains("-A -t 10.1.4.11:8080 -s rr -p 30 -M 255.255.255.255")
            || expanded
                .iter()
                .any(|l| l.starts_with("-A -t 10.1.4.11:8080 ")),
        "{expanded:#?}\n{nonft}"
    );
    assert!(
        !expanded.iter().any(|l| l.starts_with("-A -f 1000")),
        "{expanded:#?}"
    );
    eprintln!("boot and runs {:?}", run.elapsed);
}

/// Traffic through the marks: a client fetches a page from every address of a group
/// (a single address and a range) and gets it from the real servers behind the one
/// fwmark service.
#[test]
fn qemu_nft_ipvs_traffic_reaches_real_servers() {
    guest_test(
        "nft-traffic",
        "modprobe ip_vs",
        "guest_nft_traffic",
        Duration::from_secs(600),
    );
}

const VIPS: [&str; 3] = ["10.60.0.100", "10.60.0.101", "10.60.0.102"];

#[test]
#[ignore = "runs inside the VM (qemu_nft_ipvs_traffic_reaches_real_servers)"]
fn guest_nft_traffic() {
    if !in_guest() {
        return;
    }
    let (lab, back, client, dir) = director_lab("nftlvs");
    for vip in VIPS {
        dir.run(["ip", "addr", "add", &format!("{vip}/24"), "dev", "eth0"])
            .unwrap();
    }
    let mut webs = Vec::new();
    for (i, name) in [(1u8, "rs1"), (2, "rs2")] {
        let h = lab
            .host(name, &back, Ipv4Addr::new(10, 61, 0, 10 + i), None)
            .unwrap();
        h.run(["ip", "route", "add", "default", "via", "10.61.0.1"])
            .unwrap();
        webs.push(nginx(&lab, &h, name, &[80], 1024));
    }
    let conf = lab.file("director.conf");
    std::fs::write(
        &conf,
        "global_defs {\n  nftables_ipvs\n}\n\
         virtual_server_group WEB {\n  10.60.0.100 80\n  10.60.0.101-102 80\n}\n\
         virtual_server group WEB {\n  delay_loop 1\n  lb_algo rr\n  lb_kind NAT\n  protocol TCP\n\
         \x20 real_server 10.61.0.11 80 {\n    TCP_CHECK {\n      connect_timeout 1\n    }\n  }\n\
         \x20 real_server 10.61.0.12 80 {\n    TCP_CHECK {\n      connect_timeout 1\n    }\n  }\n}\n",
    )
    .unwrap();
    let runtime = lab.file("run");
    let k = dir
        .spawn(
            KEEPUP,
            &[
                "run",
                "-C",
                "-f",
                conf.to_str().unwrap(),
                "--runtime-dir",
                runtime.to_str().unwrap(),
            ],
            "keepup.log",
        )
        .unwrap();
    let table = dir_table;
    let ok = wait_until(Duration::from_secs(30), Duration::from_millis(100), || {
        let t = table(&dir);
        t.contains("-a -f 1000 -r 10.61.0.11:80 -m -w 1")
            && t.contains("-a -f 1000 -r 10.61.0.12:80 -m -w 1")
    });
    assert!(
        ok.is_some(),
        "the fwmark service with both real servers:\n{}\n{}",
        table(&dir),
        std::fs::read_to_string(lab.dir().join("keepup.log")).unwrap_or_default()
    );
    // Only the one fwmark service: the group's addresses are not services.
    assert!(
        !table(&dir).contains("-A -t "),
        "no per-address service:\n{}",
        table(&dir)
    );
    for vip in VIPS {
        let mut seen = BTreeSet::new();
        for _ in 0..4 {
            seen.insert(
                common::fetch(&client, &format!("http://{vip}:80/")).unwrap_or_else(|| {
                    panic!(
                        "fetch through {vip} failed; director:\n{}\n{}",
                        table(&dir),
                        dir.run(["nft", "list", "ruleset"]).unwrap_or_default()
                    )
                }),
            );
        }
        assert_eq!(
            seen,
            ["rs1", "rs2"].map(String::from).into(),
            "round robin through {vip}"
        );
    }
    // The twelve connections went through the mark's service (the kernel sums its
    // per-CPU counters every two seconds).
    let stats = || dir.run(["ipvsadm", "-Ln", "--stats"]).unwrap();
    let twelve = wait_until(Duration::from_secs(10), Duration::from_millis(200), || {
        stats().lines().any(|l| {
            l.starts_with("FWM  1000") && l.split_whitespace().nth(2).is_some_and(|c| c == "12")
        })
    });
    assert!(twelve.is_some(), "{}", stats());
    k.kill(Signal::SIGTERM).unwrap();
    assert!(k.wait_timeout(Duration::from_secs(20)).is_some());
    assert_eq!(
        dir.run(["nft", "list", "tables"]).unwrap().trim(),
        "",
        "SIGTERM removes the table"
    );
    drop(webs);
}

fn dir_table(d: &Host) -> String {
    d.run(["ipvsadm", "-Sn"]).unwrap_or_default()
}
