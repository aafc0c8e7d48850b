//! The classic director pair in a real kernel with IPVS (the qemu VM): two directors
//! share the VIP through VRRP, program the same DR virtual server to three nginx real
//! servers, and run `lvs_sync_daemon` on the VRRP instance, so the backup director
//! learns the master's connections. Then the master dies (its links pulled, its daemon
//! SIGKILLed); the backup takes the VIP, and:
//!
//! - (a) new client requests get pages through it;
//! - (b) the long-lived downloads opened through the dead master carry on, because
//!   their IPVS entries were synced (`ipvsadm -Lnc` on the backup shows them before
//!   the failover).
//!
//! Why DR: the real servers answer the client through a router that is neither
//! director, so the return path does not move with the VIP; only the client's packets
//! (its ACKs) need the new director, and it forwards them by the synced entry. (NAT
//! would also need a back-LAN VIP as the real servers' gateway, and the new director to
//! un-NAT their replies: more that can fail for reasons other than sync.)
//!
//! The same lab runs with keepalived 2.2.7 on both directors (same configuration),
//! and the test prints the downloads kept / opened across the failover for both; the
//! only assertion on the figures is that keepup keeps at least one (sync works).
//!
//! Then one director alone runs each daemon with `-P`: the same sync daemons once it
//! is master, after a reload that changes the sync id, and none after its stop.
#![allow(clippy::unwrap_used)]

use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use keepup_testkit::lab::{wait_until, Host, Lab, Proc};

mod common;
use common::nginx;
use keepup_testkit::vm::{guest_test, in_guest};
use nix::sys::signal::Signal;

const KEEPUP: &str = env!("CARGO_BIN_EXE_keepup");
const VIP: &str = "10.60.0.100";
/// Long-lived downloads opened through the master before it dies.
const DOWNLOADS: usize = 12;
/// Each download's size, sent at 100 KB/s: about 20 s, well past the failover.
const BIG: usize = 2 << 20;

#[test]
fn qemu_ipvs_sync_director_pair() {
    guest_test(
        "syncd",
        "modprobe ip_vs",
        "guest_sync_pair",
        Duration::from_secs(900),
    );
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Daemon {
    Keepup,
    Keepalived,
    /// The control: keepup without `lvs_sync_daemon`.
    KeepupNoSync,
}

/// What one run of the lab measured.
#[derive(Debug)]
struct Figures {
    /// Connections in the backup director's table (synced) before the failover.
    synced: usize,
    opened: usize,
    kept: usize,
    /// New requests through the new master after the failover that got a page.
    fresh_ok: usize,
    fresh: usize,
    /// Sync daemons each director ran before the failover (`ipvsadm -L --daemon`).
    daemons: [String; 2],
    /// The new master's after it.
    after: String,
}

#[test]
#[ignore = "runs inside the VM (qemu_ipvs_sync_director_pair)"]
fn guest_sync_pair() {
    if !in_guest() {
        return;
    }
    let keepup = lab_run(Daemon::Keepup);
    let keepalived = lab_run(Daemon::Keepalived);
    let control = lab_run(Daemon::KeepupNoSync);
    for (name, f) in [
        ("keepup", &keepup),
        ("keepalived 2.2.7", &keepalived),
        ("keepup without lvs_sync_daemon (control)", &control),
    ] {
        println!(
            "FIGURES {name}: connections kept/opened across the failover: {}/{}; synced \
             on the backup before it: {}; new requests through the new master: {}/{}; \
             daemons: master director [{}], backup director [{}], new master after [{}]",
            f.kept, f.opened, f.synced, f.fresh_ok, f.fresh, f.daemons[0], f.daemons[1], f.after
        );
    }
    // Without sync the new master has no entry for them: the downloads break, so a
    // kept one above is sync's doing.
    assert_eq!(control.synced, 0, "control: {control:?}");
    assert!(control.kept < control.opened, "control: {control:?}");
    assert!(
        keepup.daemons[0].contains("master sync daemon"),
        "{keepup:?}"
    );
    assert!(
        keepup.daemons[1].contains("backup sync daemon"),
        "{keepup:?}"
    );
    assert!(keepup.after.contains("master sync daemon"), "{keepup:?}");
    assert!(!keepup.after.contains("backup sync daemon"), "{keepup:?}");
    assert!(keepup.synced > 0, "keepup: nothing synced: {keepup:?}");
    assert!(keepup.kept > 0, "keepup: no connection kept: {keepup:?}");
    assert_eq!(keepup.fresh_ok, keepup.fresh, "keepup: new requests failed");

    // The sync daemons' lifecycle, the same for both daemons: with -P (they belong to
    // the VRRP side), a reload that changes the sync id, and the stop.
    let ours = sync_lifecycle(Daemon::Keepup);
    let theirs = sync_lifecycle(Daemon::Keepalived);
    println!("SYNC LIFECYCLE keepup: {ours:?}\nSYNC LIFECYCLE keepalived 2.2.7: {theirs:?}");
    assert!(
        ours[0].contains("master sync daemon") && ours[0].contains("syncid=5"),
        "{ours:?}"
    );
    assert!(
        ours[1].contains("master sync daemon") && ours[1].contains("syncid=7"),
        "{ours:?}"
    );
    assert_eq!(ours[2], "", "keepup left sync daemons at stop: {ours:?}");
    assert_eq!(ours, theirs, "keepup and keepalived differ");
}

/// One director alone (so its instance becomes master) with `-P` and `lvs_sync_daemon
/// eth1 VI_1 id 5`: the sync daemons once it is master, after a reload to `id 7`, and
/// after its stop (`ipvsadm -L --daemon`, one string each).
fn sync_lifecycle(daemon: Daemon) -> Vec<String> {
    let (lab, _back, _client, dir) = common::director_lab("synclife");
    let conf = lab.file("life.conf");
    let write = |id: u8| {
        std::fs::write(
            &conf,
            format!(
                "global_defs {{\n  router_id life\n  lvs_sync_daemon eth1 VI_1 id {id}\n}}\n\
                 vrrp_instance VI_1 {{\n  state MASTER\n  interface eth0\n  virtual_router_id 61\n  \
                 priority 150\n  advert_int 1\n  virtual_ipaddress {{\n    {VIP}/24 dev eth0\n  }}\n}}\n"
            ),
        )
        .unwrap();
    };
    write(5);
    let p = spawn(&lab, daemon, &dir, &conf, "life", &["-P"]);
    let mut seen = Vec::new();
    // The instance master (keepalived 2.2.7 takes the full down interval to get there),
    // its sync daemon with `want`.
    let settle = |want: &str| {
        wait_until(Duration::from_secs(20), Duration::from_millis(200), || {
            let d = daemons(&dir);
            has_vip(&dir) && d.contains("master sync daemon") && d.contains(want)
        });
        // Whatever else follows (a backup daemon stopped) has its moment.
        std::thread::sleep(Duration::from_secs(2));
        daemons(&dir)
    };
    seen.push(settle("syncid=5"));
    write(7);
    p.kill(Signal::SIGHUP).unwrap();
    seen.push(settle("syncid=7"));
    p.kill(Signal::SIGTERM).unwrap();
    let _ = p.wait_timeout(Duration::from_secs(15));
    seen.push(daemons(&dir));
    println!("{daemon:?} log:\n{}", p.log());
    seen
}

fn config(router: &str, priority: u8, sync: bool) -> String {
    let mut rs = String::new();
    for i in 1..=3 {
        rs.push_str(&format!(
            "  real_server 10.61.0.1{i} 80 {{\n    TCP_CHECK {{\n      connect_timeout 1\n    }}\n  }}\n"
        ));
    }
    format!(
        "global_defs {{\n  router_id {router}\n{}}}\n\
         vrrp_instance VI_1 {{\n  state BACKUP\n  interface eth0\n  virtual_router_id 60\n  \
         priority {priority}\n  advert_int 1\n  virtual_ipaddress {{\n    {VIP}/24 dev eth0\n  }}\n}}\n\
         virtual_server {VIP} 80 {{\n  delay_loop 2\n  lb_algo rr\n  lb_kind DR\n  protocol TCP\n{rs}}}\n",
        if sync { "  lvs_sync_daemon eth1 VI_1\n" } else { "" }
    )
}

/// A director's daemon: keepup (VRRP and checkers), or keepalived (both children).
fn start(lab: &Lab, daemon: Daemon, dir: &Host, router: &str, priority: u8) -> Proc {
    let conf = lab.file(&format!("{router}.conf"));
    std::fs::write(
        &conf,
        config(router, priority, daemon != Daemon::KeepupNoSync),
    )
    .unwrap();
    spawn(lab, daemon, dir, &conf, router, &[])
}

/// `daemon` in `dir` on `conf`, its pid files, runtime dir and log named after `name`,
/// with `extra` options.
fn spawn(lab: &Lab, daemon: Daemon, dir: &Host, conf: &Path, name: &str, extra: &[&str]) -> Proc {
    let c = conf.to_str().unwrap();
    let log = format!("{name}.log");
    match daemon {
        Daemon::Keepup | Daemon::KeepupNoSync => {
            let runtime = lab.file(&format!("{name}-run"));
            let mut args = vec!["run", "-f", c, "--runtime-dir", runtime.to_str().unwrap()];
            args.extend_from_slice(extra);
            dir.spawn(KEEPUP, &args, log).unwrap()
        }
        Daemon::Keepalived => {
            let pid = |ext: &str| lab.file(&format!("{name}.{ext}.pid"));
            let (p, v, k, b) = (pid("main"), pid("vrrp"), pid("check"), pid("bfd"));
            let mut args = vec![
                "-n",
                "-l",
                "-D",
                "-f",
                c,
                "-p",
                p.to_str().unwrap(),
                "-r",
                v.to_str().unwrap(),
                "-c",
                k.to_str().unwrap(),
                "-b",
                b.to_str().unwrap(),
                "-i",
                name,
            ];
            args.extend_from_slice(extra);
            dir.spawn("keepalived", &args, log).unwrap()
        }
    }
}

/// The connections to the VIP in `dir`'s table (`ipvsadm -Lnc`), ESTABLISHED.
fn connections(dir: &Host) -> usize {
    dir.run(["ipvsadm", "-Lnc"])
        .unwrap_or_default()
        .lines()
        .filter(|l| l.contains("ESTABLISHED") && l.contains(&format!("{VIP}:80")))
        .count()
}

fn daemons(dir: &Host) -> String {
    dir.run(["ipvsadm", "-L", "--daemon"])
        .unwrap_or_default()
        .lines()
        .map(str::trim)
        .collect::<Vec<_>>()
        .join("; ")
}

fn has_vip(h: &Host) -> bool {
    h.has_address(VIP.parse().unwrap()).unwrap_or(false)
}

fn lab_run(daemon: Daemon) -> Figures {
    let lab = Lab::new("sync").unwrap();
    let front = lab.bridge().unwrap();
    let back = lab.bridge().unwrap();
    let client = lab
        .host("client", &front, Ipv4Addr::new(10, 60, 0, 10), None)
        .unwrap();
    // The real servers' way back to the client: a router that is neither director.
    let mut router = lab
        .host("router", &front, Ipv4Addr::new(10, 60, 0, 254), None)
        .unwrap();
    router
        .join(&back, Ipv4Addr::new(10, 61, 0, 254), None)
        .unwrap();
    router.sysctl("net.ipv4.ip_forward", "1").unwrap();
    // Replies come from the VIP (on the front LAN) through the back interface.
    for iface in ["all", "default", "eth0", "eth1"] {
        router
            .sysctl(&format!("net.ipv4.conf.{iface}.rp_filter"), "0")
            .unwrap();
    }
    let mut dirs = Vec::new();
    for (n, name) in [(1u8, "dira"), (2, "dirb")] {
        let mut d = lab
            .host(name, &front, Ipv4Addr::new(10, 60, 0, n), None)
            .unwrap();
        d.join(&back, Ipv4Addr::new(10, 61, 0, n), None).unwrap();
        dirs.push(d);
    }
    let mut webs = Vec::new();
    for i in 1..=3u8 {
        let h = lab
            .host(
                &format!("rs{i}"),
                &back,
                Ipv4Addr::new(10, 61, 0, 10 + i),
                None,
            )
            .unwrap();
        h.run(["ip", "route", "add", "default", "via", "10.61.0.254"])
            .unwrap();
        // DR: the VIP on lo, never answered for in ARP.
        h.run(["ip", "addr", "add", &format!("{VIP}/32"), "dev", "lo"])
            .unwrap();
        h.sysctl("net.ipv4.conf.all.arp_ignore", "1").unwrap();
        h.sysctl("net.ipv4.conf.all.arp_announce", "2").unwrap();
        webs.push((nginx(&lab, &h, &format!("rs{i}"), &[80], BIG), h));
    }

    let procs = [
        start(&lab, daemon, &dirs[0], "dira", 150),
        start(&lab, daemon, &dirs[1], "dirb", 100),
    ];
    let (master, backup) = (&dirs[0], &dirs[1]);
    let ready = wait_until(Duration::from_secs(60), Duration::from_millis(200), || {
        has_vip(master)
            && !has_vip(backup)
            && [master, backup].iter().all(|d| {
                let t = d.run(["ipvsadm", "-Ln"]).unwrap_or_default();
                (1..=3).all(|i| t.contains(&format!("10.61.0.1{i}:80")))
            })
    });
    assert!(
        ready.is_some(),
        "{daemon:?}: dira master with the VIP, both tables full:\n{}\n{}\nlogs:\n{}\n{}",
        master.run(["ipvsadm", "-Ln"]).unwrap_or_default(),
        backup.run(["ipvsadm", "-Ln"]).unwrap_or_default(),
        procs[0].log(),
        procs[1].log()
    );
    // Both sync daemons running as their instance says.
    if daemon != Daemon::KeepupNoSync {
        wait_until(Duration::from_secs(10), Duration::from_millis(200), || {
            daemons(master).contains("master") && daemons(backup).contains("backup")
        });
    }
    let daemon_lines = [daemons(master), daemons(backup)];
    for _ in 0..3 {
        assert!(
            common::fetch(&client, &format!("http://{VIP}/")).is_some(),
            "{daemon:?}: a page through dira"
        );
    }

    // Long-lived downloads through the master.
    let mut downloads: Vec<(Proc, PathBuf)> = Vec::new();
    for n in 0..DOWNLOADS {
        let out = lab.file(&format!("big-{n}"));
        let p = client
            .spawn(
                "curl",
                &[
                    "-s",
                    "-f",
                    "--max-time",
                    "90",
                    "-o",
                    out.to_str().unwrap(),
                    &format!("http://{VIP}/big"),
                ],
                format!("download-{n}.log"),
            )
            .unwrap();
        downloads.push((p, out));
    }
    // The backup learns them through the sync daemons.
    let mut synced = 0;
    wait_until(Duration::from_secs(8), Duration::from_millis(250), || {
        synced = connections(backup);
        synced >= DOWNLOADS
    });
    std::thread::sleep(Duration::from_secs(1));
    synced = synced.max(connections(backup));
    let on_master = connections(master);
    println!(
        "{daemon:?}: before the failover: {on_master} connection(s) on the master, {synced} \
         on the backup\nbackup's table:\n{}",
        backup.run(["ipvsadm", "-Lnc"]).unwrap_or_default()
    );

    // The master dies: links pulled, daemon killed.
    front.port_down(master).unwrap();
    back.port_down(master).unwrap();
    procs[0].kill_tree(Signal::SIGKILL).unwrap();
    let _ = procs[0].wait_timeout(Duration::from_secs(5));
    let t = Instant::now();
    let took = wait_until(Duration::from_secs(20), Duration::from_millis(100), || {
        has_vip(backup)
    });
    assert!(
        took.is_some(),
        "{daemon:?}: dirb took no VIP:\n{}",
        procs[1].log()
    );
    println!(
        "{daemon:?}: dirb has the VIP {:?} after the kill",
        t.elapsed()
    );

    // (a) New requests through the new master.
    let fresh = 6;
    let fresh_ok = (0..fresh)
        .filter(|_| common::fetch(&client, &format!("http://{VIP}/")).is_some())
        .count();

    // (b) The downloads carry on to their end, or fail.
    let mut kept = 0;
    for (p, out) in &downloads {
        let status = p.wait_timeout(Duration::from_secs(120));
        let full = std::fs::metadata(out)
            .map(|m| m.len() as usize)
            .unwrap_or(0)
            == BIG;
        if status.is_some_and(|s| s.success()) && full {
            kept += 1;
        }
    }
    let after = daemons(backup);
    let _ = procs[1].kill(Signal::SIGTERM);
    let _ = procs[1].wait_timeout(Duration::from_secs(20));
    if daemon == Daemon::Keepup {
        // keepup's stop stops the sync daemon it started.
        let left = daemons(backup);
        assert!(
            !left.contains("backup") && !left.contains("master"),
            "keepup left a sync daemon running: {left}"
        );
    }
    for (w, _) in &webs {
        let _ = w.kill(Signal::SIGTERM);
    }
    Figures {
        synced,
        opened: DOWNLOADS,
        kept,
        fresh_ok,
        fresh,
        daemons: daemon_lines,
        after,
    }
}
