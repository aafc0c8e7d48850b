//! keepup as an LVS director in a real kernel with IPVS (the qemu VM): a client fetches
//! pages through a NAT service and a DR service from three real nginx servers, each in
//! its own namespace, and the test changes the world under it:
//!
//! - one real server's nginx stops: it leaves both services within the checkers' timing,
//!   and no client request fails after that;
//! - quorum lost: the sorry server takes over; regained: it leaves;
//! - a reload that removes one real server changes only that destination, while a
//!   long-lived client download through the director runs to its end;
//! - a service deleted by hand with ipvsadm is back after a reload (keepalived #1877);
//!   a service another tool added is never touched;
//! - SIGTERM removes keepup's entries; with `-I` it leaves them; after SIGKILL, a
//!   restart on a configuration without one virtual server, or without any, leaves no
//!   stale entry.
//!
//! The host test boots the VM and re-runs this binary's guest test inside it.
#![allow(clippy::unwrap_used)]

use std::collections::BTreeSet;
use std::net::Ipv4Addr;
use std::path::Path;
use std::time::Duration;

use keepup_testkit::lab::{wait_until, Host, Proc};
use keepup_testkit::vm::{guest_test, in_guest};
use nix::sys::signal::Signal;

mod common;
use common::{director_lab, nginx};

const KEEPUP: &str = env!("CARGO_BIN_EXE_keepup");
/// The long download: 1 MB at 100 KB/s, about ten seconds.
const BIG: usize = 1 << 20;
const VIP: &str = "10.60.0.100";
const SORRY: &str = "10.61.0.20";
/// A service keepup does not manage, added by "another tool".
const FOREIGN: &str = "-A -t 10.99.0.1:99 -s rr";

#[test]
fn qemu_ipvs_director_end_to_end() {
    guest_test(
        "director",
        "modprobe ip_vs",
        "guest_director",
        Duration::from_secs(900),
    );
}

fn config(real_servers: &[u8]) -> String {
    let mut nat = String::new();
    let mut dr = String::new();
    for i in real_servers {
        nat.push_str(&format!(
            "  real_server 10.61.0.1{i} 80 {{\n    TCP_CHECK {{\n      connect_timeout 1\n      \
             retry 1\n      delay_before_retry 1\n    }}\n  }}\n"
        ));
        dr.push_str(&format!(
            "  real_server 10.61.0.1{i} 8080 {{\n    HTTP_GET {{\n      url {{\n        path /\n        \
             status_code 200\n      }}\n      connect_timeout 1\n      retry 1\n      \
             delay_before_retry 1\n    }}\n  }}\n"
        ));
    }
    format!(
        "virtual_server {VIP} 80 {{\n  delay_loop 1\n  lb_algo rr\n  lb_kind NAT\n  protocol TCP\n  \
         quorum 2\n  sorry_server {SORRY} 80\n{nat}}}\n\
         virtual_server {VIP} 8080 {{\n  delay_loop 1\n  lb_algo rr\n  lb_kind DR\n  protocol TCP\n{dr}}}\n"
    )
}

/// The director's table as `ipvsadm -Sn` prints it, one line per entry.
fn table(dir: &Host) -> BTreeSet<String> {
    dir.run(["ipvsadm", "-Sn"])
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect()
}

fn dest(port: u16, rs: &str, method: &str) -> String {
    format!("-a -t {VIP}:{port} -r {rs}:{port} -{method} -w 1")
}

fn wait_table(dir: &Host, what: &str, secs: u64, cond: impl Fn(&BTreeSet<String>) -> bool) {
    let ok = wait_until(
        Duration::from_secs(secs),
        Duration::from_millis(100),
        || cond(&table(dir)),
    );
    assert!(ok.is_some(), "{what}: table now:\n{:#?}", table(dir));
}

fn keepup(dir: &Host, conf: &Path, runtime: &Path, log: &str, extra: &[&str]) -> Proc {
    let mut args = vec![
        "run",
        "-C",
        "-f",
        conf.to_str().unwrap(),
        "--runtime-dir",
        runtime.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    dir.spawn(KEEPUP, &args, log).unwrap()
}

fn stop(k: &Proc) {
    k.kill(Signal::SIGTERM).unwrap();
    assert!(
        k.wait_timeout(Duration::from_secs(20)).is_some(),
        "keepup did not stop"
    );
}

#[test]
#[ignore = "runs inside the VM (qemu_ipvs_director_end_to_end)"]
fn guest_director() {
    if !in_guest() {
        return;
    }
    let (lab, back, client, dir) = director_lab("lvs");
    // One page through the director's service on `port`.
    let page = |port: u16| common::fetch(&client, &format!("http://{VIP}:{port}/"));
    // DR replies come back through the director (the real servers' router) with the
    // VIP, one of its own addresses, as their source: accept them to forward them.
    for key in ["accept_local", "rp_filter"] {
        let on = if key == "accept_local" { "1" } else { "0" };
        dir.sysctl(&format!("net.ipv4.conf.all.{key}"), on).unwrap();
        dir.sysctl(&format!("net.ipv4.conf.eth1.{key}"), on)
            .unwrap();
    }
    dir.run(["ip", "addr", "add", &format!("{VIP}/24"), "dev", "eth0"])
        .unwrap();
    let mut servers = Vec::new();
    let mut webs = Vec::new();
    for (i, name) in [(1u8, "rs1"), (2, "rs2"), (3, "rs3"), (0, "sorry")] {
        let addr = if i == 0 {
            SORRY.parse().unwrap()
        } else {
            Ipv4Addr::new(10, 61, 0, 10 + i)
        };
        let h = lab.host(name, &back, addr, None).unwrap();
        h.run(["ip", "route", "add", "default", "via", "10.61.0.1"])
            .unwrap();
        // DR: the VIP on lo, never answered for in ARP.
        h.run(["ip", "addr", "add", &format!("{VIP}/32"), "dev", "lo"])
            .unwrap();
        h.sysctl("net.ipv4.conf.all.arp_ignore", "1").unwrap();
        h.sysctl("net.ipv4.conf.all.arp_announce", "2").unwrap();
        webs.push(nginx(&lab, &h, name, &[80, 8080], BIG));
        servers.push(h);
    }
    dir.run(["sh", "-c", &format!("ipvsadm {FOREIGN}")])
        .unwrap();
    let conf = lab.file("director.conf");
    std::fs::write(&conf, config(&[1, 2, 3])).unwrap();
    let runtime = lab.file("run");

    // Start: both services with the three real servers.
    let k = keepup(
        &dir,
        &conf,
        &runtime,
        "keepup-1.log",
        &["--metrics-listen", "10.60.0.1:9650"],
    );
    wait_table(&dir, "three real servers in both services", 20, |t| {
        (1..=3).all(|i| {
            let rs = format!("10.61.0.1{i}");
            t.contains(&dest(80, &rs, "m")) && t.contains(&dest(8080, &rs, "g"))
        })
    });
    let mut seen = BTreeSet::new();
    for _ in 0..9 {
        seen.insert(page(80).expect("NAT fetch"));
        seen.insert(page(8080).expect("DR fetch"));
    }
    assert_eq!(seen, ["rs1", "rs2", "rs3"].map(String::from).into());
    // The metrics: the kernel's counters for those requests under node_exporter's
    // names, and the whole output linted by promtool.
    let nat = format!("local_address=\"{VIP}\",local_port=\"80\",local_mark=\"\",proto=\"TCP\"");
    let taken = |metrics: &str| -> u64 {
        metrics
            .lines()
            .filter(|l| l.starts_with(&format!("keepup_ipvs_backend_connections_total{{{nat},")))
            .filter_map(|l| l.rsplit(' ').next()?.parse::<u64>().ok())
            .sum()
    };
    // The kernel folds its per-CPU counters into what it reports every 2 s: wait for
    // the 9 NAT requests to show.
    let mut metrics = String::new();
    let counted = wait_until(Duration::from_secs(10), Duration::from_millis(500), || {
        metrics = common::fetch(&client, "http://10.60.0.1:9650/metrics").unwrap_or_default();
        taken(&metrics) >= 9
    });
    assert!(
        counted.is_some(),
        "NAT connections in the metrics: {}\n{metrics}",
        taken(&metrics)
    );
    assert!(
        metrics.contains(&format!(
            "keepup_ipvs_backend_weight{{{nat},remote_address=\"10.61.0.11\",remote_port=\"80\"}} "
        )),
        "{metrics}"
    );
    if let Err(e) = common::promtool_check(&dir, &lab.file("director.metrics"), &metrics) {
        panic!("promtool check metrics: {e}\n{metrics}");
    }

    // rs2's nginx stops: out of both services within the checkers' timing.
    webs[1].kill(Signal::SIGTERM).unwrap();
    let _ = webs[1].wait_timeout(Duration::from_secs(5));
    wait_table(&dir, "rs2 removed", 20, |t| {
        !t.iter().any(|l| l.contains("-r 10.61.0.12:"))
    });
    for _ in 0..12 {
        assert!(page(80).is_some_and(|b| b != "rs2"), "NAT request failed");
        assert!(page(8080).is_some_and(|b| b != "rs2"), "DR request failed");
    }

    // rs1 stops too: quorum 2 lost on the NAT service, the sorry server comes in.
    webs[0].kill(Signal::SIGTERM).unwrap();
    let _ = webs[0].wait_timeout(Duration::from_secs(5));
    wait_table(&dir, "sorry server in", 20, |t| {
        t.contains(&dest(80, SORRY, "m")) && !t.iter().any(|l| l.contains("-r 10.61.0.11:"))
    });
    let answers: BTreeSet<_> = (0..6).filter_map(|_| page(80)).collect();
    assert!(answers.contains("sorry"), "{answers:?}");
    // rs1 and rs2 come back: quorum regained, the sorry server leaves.
    webs[0] = nginx(&lab, &servers[0], "rs1", &[80, 8080], BIG);
    webs[1] = nginx(&lab, &servers[1], "rs2", &[80, 8080], BIG);
    wait_table(
        &dir,
        "sorry server out, all back in both services",
        30,
        |t| {
            !t.contains(&dest(80, SORRY, "m"))
                && (1..=3).all(|i| {
                    let rs = format!("10.61.0.1{i}");
                    t.contains(&dest(80, &rs, "m")) && t.contains(&dest(8080, &rs, "g"))
                })
        },
    );

    // A long download through the NAT service while a reload removes a real server.
    let download = lab.file("big");
    let dl = client
        .spawn(
            "curl",
            &[
                "-s",
                "-f",
                "-o",
                download.to_str().unwrap(),
                &format!("http://{VIP}:80/big"),
            ],
            "download.log",
        )
        .unwrap();
    // Which real server carries it (the connection table), and another to remove.
    let mut carrier = None;
    wait_until(Duration::from_secs(5), Duration::from_millis(100), || {
        let conns = dir.run(["ipvsadm", "-Lnc"]).unwrap_or_default();
        carrier = (1..=3).find(|i| {
            conns
                .lines()
                .any(|l| l.contains("ESTABLISHED") && l.contains(&format!("10.61.0.1{i}:80")))
        });
        carrier.is_some()
    })
    .expect("the download's connection in the director's table");
    let carrier = carrier.unwrap();
    let gone = (1..=3).find(|i| *i != carrier).unwrap();
    let keep: Vec<u8> = (1..=3).filter(|i| *i != gone).collect();
    let before = table(&dir);
    std::fs::write(&conf, config(&keep)).unwrap();
    let (rc, out) = reload(&runtime);
    assert_eq!(rc, 0, "reload: {out}");
    let rs = format!("10.61.0.1{gone}");
    wait_table(&dir, "the removed real server gone", 10, |t| {
        !t.iter().any(|l| l.contains(&format!("-r {rs}:")))
    });
    let after = table(&dir);
    let changed: BTreeSet<_> = before.symmetric_difference(&after).cloned().collect();
    assert_eq!(
        changed,
        [dest(80, &rs, "m"), dest(8080, &rs, "g")].into(),
        "a reload that removes one real server changes only its two entries"
    );
    let status = dl.wait_timeout(Duration::from_secs(30));
    assert!(status.is_some_and(|s| s.success()), "the download failed");
    assert_eq!(std::fs::metadata(&download).unwrap().len(), BIG as u64);

    // A service deleted by hand is back after a reload.
    dir.run(["ipvsadm", "-D", "-t", &format!("{VIP}:8080")])
        .unwrap();
    let (rc, out) = reload(&runtime);
    assert_eq!(rc, 0, "reload: {out}");
    wait_table(&dir, "the deleted service restored", 10, |t| {
        t.iter()
            .any(|l| l.starts_with(&format!("-A -t {VIP}:8080 ")))
    });

    // SIGTERM: keepup's entries go, the foreign service stays.
    stop(&k);
    assert_eq!(table(&dir), [FOREIGN.to_owned()].into(), "after SIGTERM");

    // -I: the entries stay at stop.
    let k = keepup(&dir, &conf, &runtime, "keepup-2.log", &["-I"]);
    wait_table(&dir, "programmed again", 20, |t| t.len() > 5);
    stop(&k);
    assert!(table(&dir).len() > 5, "-I keeps the table");

    // SIGKILL, then a restart on a configuration without the DR service.
    let k = keepup(&dir, &conf, &runtime, "keepup-3.log", &[]);
    std::thread::sleep(Duration::from_secs(2));
    k.kill(Signal::SIGKILL).unwrap();
    let _ = k.wait_timeout(Duration::from_secs(5));
    let only_nat = config(&keep)
        .split(&format!("virtual_server {VIP} 8080"))
        .next()
        .unwrap()
        .to_owned();
    std::fs::write(&conf, only_nat).unwrap();
    let k = keepup(&dir, &conf, &runtime, "keepup-4.log", &[]);
    wait_table(&dir, "no stale entry of the killed keepup", 20, |t| {
        !t.iter().any(|l| l.contains(&format!("{VIP}:8080")))
            && t.iter().any(|l| l.starts_with(&format!("-A -t {VIP}:80 ")))
    });

    // SIGKILL again, then a restart on a configuration without any virtual server:
    // what the killed keepup programmed goes all the same.
    k.kill(Signal::SIGKILL).unwrap();
    let _ = k.wait_timeout(Duration::from_secs(5));
    std::fs::write(
        &conf,
        "global_defs {
  router_id director
}
",
    )
    .unwrap();
    let k = keepup(&dir, &conf, &runtime, "keepup-5.log", &[]);
    wait_table(&dir, "no entry of the killed keepup", 20, |t| {
        *t == [FOREIGN.to_owned()].into()
    });
    stop(&k);
    assert_eq!(
        table(&dir),
        [FOREIGN.to_owned()].into(),
        "after the last stop"
    );
}

fn reload(runtime: &Path) -> (i32, String) {
    let out = std::process::Command::new(KEEPUP)
        .args(["reload", "--runtime-dir", runtime.to_str().unwrap()])
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}
