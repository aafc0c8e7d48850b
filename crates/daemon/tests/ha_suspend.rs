//! `ha_suspend` against a real server in a namespace: with the virtual server's
//! address absent no check reaches the server (its accepted connections are
//! counted); the address added by hand (as VRRP would add it) starts the checks
//! within the delay loop; removed, they stop and the real server keeps its state.
//! IPv4 and IPv6. Root only; CI runs these serially.
#![allow(clippy::unwrap_used)]

mod common;
use common::{client, keepup, routers};

use keepup_testkit::lab::{wait_until, Host, Proc};
use std::time::{Duration, Instant};

/// A TCP server on `ip`:`port` that writes one line per accepted connection.
fn counting_server(host: &Host, ip: &str, port: u16) -> Proc {
    let script = format!(
        "import socket,sys\n\
         s=socket.socket(socket.AF_INET6 if ':' in '{ip}' else socket.AF_INET)\n\
         s.setsockopt(socket.SOL_SOCKET,socket.SO_REUSEADDR,1)\n\
         s.bind(('{ip}',{port}))\n\
         s.listen(16)\n\
         print('listening',flush=True)\n\
         while True:\n\
         \x20c,_=s.accept()\n\
         \x20print('conn',flush=True)\n\
         \x20c.close()\n"
    );
    host.spawn(
        "python3",
        &["-c", &script],
        host.lab_file(&format!("server-{port}.log")),
    )
    .unwrap()
}

fn connections(server: &Proc) -> usize {
    server.log().matches("conn\n").count()
}

fn wait_log(k: &Proc, what: &str, secs: u64) -> bool {
    wait_until(Duration::from_secs(secs), Duration::from_millis(50), || {
        k.log().contains(what)
    })
    .is_some()
}

/// `vip` is the virtual server's address, `rs` the real server's (this host's own),
/// `plen` the prefix to add the vip with.
fn suspends_and_resumes(tag: &str, v6: bool, vip: &str, rs: &str, plen: u8) {
    let (lab, _lan, hosts) = routers(tag, 1, v6);
    let r1 = &hosts[0];
    let delay_loop = 2;
    let conf = format!(
        r#"
virtual_server {vip} 80 {{
    delay_loop {delay_loop}
    lb_algo rr
    lb_kind NAT
    protocol TCP
    ha_suspend
    real_server {rs} 8080 {{
        TCP_CHECK {{
            connect_timeout 1
            retry 0
            warmup 0
        }}
    }}
}}
"#
    );
    let server = counting_server(r1, rs, 8080);
    assert!(
        wait_until(Duration::from_secs(5), Duration::from_millis(50), || server
            .log()
            .contains("listening"))
        .is_some(),
        "{}",
        server.log()
    );
    let k = keepup(&lab, r1, &conf, "a");
    let vs = format!("[{vip}]:tcp:80");

    // Absent at start: suspended, said once, and no check reaches the server.
    assert!(
        wait_log(
            &k,
            &format!("VS {vs}: address {vip} not on this host, checkers suspended until it is"),
            10
        ),
        "{}",
        k.log()
    );
    std::thread::sleep(Duration::from_secs(3 * delay_loop));
    assert_eq!(connections(&server), 0, "{}", k.log());
    let (code, out, err) = client(&lab, r1, &["status"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("checkers SUSPENDED (ha_suspend"), "{out}");

    // The address arrives (as VRRP would add it): checks start within delay_loop.
    let added = Instant::now();
    let prefix = format!("{vip}/{plen}");
    let mut add = vec!["ip", "addr", "add", &prefix, "dev", "eth0"];
    if v6 {
        // No duplicate address detection: the address is usable at once, as VRRP's is.
        add.push("nodad");
    }
    r1.run(add).unwrap();
    assert!(
        wait_log(
            &k,
            &format!("VS {vs}: address {vip} on this host, checkers resumed (ha_suspend)"),
            5
        ),
        "{}",
        k.log()
    );
    let first = wait_until(
        Duration::from_secs(delay_loop + 3),
        Duration::from_millis(20),
        || connections(&server) > 0,
    );
    assert!(
        first.is_some(),
        "no check after the address came: {}",
        k.log()
    );
    let took = added.elapsed();
    eprintln!("first check {took:?} after the address was added");
    assert!(
        took < Duration::from_secs(delay_loop + 2),
        "{took:?}: {}",
        k.log()
    );
    // They go on, every delay_loop.
    let before = connections(&server);
    std::thread::sleep(Duration::from_secs(2 * delay_loop + 1));
    assert!(connections(&server) > before, "{}", k.log());
    let (_, out, _) = client(&lab, r1, &["status"]);
    assert!(!out.contains("SUSPENDED"), "{out}");

    // Removed: suspended again; once a run in flight has ended, nothing more.
    r1.run(["ip", "addr", "del", &format!("{vip}/{plen}"), "dev", "eth0"])
        .unwrap();
    assert!(
        wait_log(
            &k,
            &format!("VS {vs}: address {vip} not on this host, checkers suspended (ha_suspend)"),
            5
        ),
        "{}",
        k.log()
    );
    std::thread::sleep(Duration::from_secs(1));
    let at_removal = connections(&server);
    std::thread::sleep(Duration::from_secs(3 * delay_loop));
    assert_eq!(connections(&server), at_removal, "{}", k.log());
    // The real server kept its state all along: never removed.
    assert!(!k.log().contains("Removing service"), "{}", k.log());
    assert_eq!(
        k.log().matches("checkers suspended").count(),
        2,
        "{}",
        k.log()
    );
    assert_eq!(
        k.log().matches("checkers resumed").count(),
        1,
        "{}",
        k.log()
    );
    eprintln!("{}", k.log());
    k.kill(nix::sys::signal::Signal::SIGTERM).unwrap();
}

#[test]
fn netns_ha_suspend_checks_only_while_the_address_is_here() {
    if !keepup_testkit::lab::root_or_skip("netns_ha_suspend_checks_only_while_the_address_is_here")
    {
        return;
    }
    suspends_and_resumes("khas4", false, "10.9.0.100", "10.9.0.1", 32);
}

#[test]
fn netns_ha_suspend_checks_only_while_the_ipv6_address_is_here() {
    if !keepup_testkit::lab::root_or_skip(
        "netns_ha_suspend_checks_only_while_the_ipv6_address_is_here",
    ) {
        return;
    }
    suspends_and_resumes("khas6", true, "fd00:9::100", "fd00:9::1", 128);
}

/// A reload that adds ha_suspend to a checked virtual server whose address is absent
/// suspends it at once (the checker side starts watching addresses then); one that
/// takes it out again resumes the checks.
#[test]
fn netns_ha_suspend_added_by_a_reload_suspends_and_removed_resumes() {
    if !keepup_testkit::lab::root_or_skip(
        "netns_ha_suspend_added_by_a_reload_suspends_and_removed_resumes",
    ) {
        return;
    }
    let (lab, _lan, hosts) = routers("khasr", 1, false);
    let r1 = &hosts[0];
    let conf = |extra: &str| {
        format!(
            r#"
virtual_server 10.9.0.100 80 {{
    delay_loop 1
    lb_algo rr
    lb_kind NAT
    protocol TCP
    {extra}
    real_server 10.9.0.1 8080 {{
        TCP_CHECK {{
            connect_timeout 1
            retry 0
            warmup 0
        }}
    }}
}}
"#
        )
    };
    let server = counting_server(r1, "10.9.0.1", 8080);
    let k = keepup(&lab, r1, &conf(""), "a");
    assert!(
        wait_until(Duration::from_secs(10), Duration::from_millis(50), || {
            connections(&server) >= 2
        })
        .is_some(),
        "{}",
        k.log()
    );
    let path = lab.dir().join("r1-a.conf");
    std::fs::write(&path, conf("ha_suspend")).unwrap();
    let (code, out, err) = client(&lab, r1, &["reload"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        wait_log(
            &k,
            "VS [10.9.0.100]:tcp:80: address 10.9.0.100 not on this host, checkers suspended",
            5
        ),
        "{}",
        k.log()
    );
    std::thread::sleep(Duration::from_secs(2));
    let at = connections(&server);
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(connections(&server), at, "{}", k.log());

    std::fs::write(&path, conf("")).unwrap();
    let (code, out, err) = client(&lab, r1, &["reload"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        wait_log(
            &k,
            "VS [10.9.0.100]:tcp:80: ha_suspend no longer set, checkers resumed",
            5
        ),
        "{}",
        k.log()
    );
    assert!(
        wait_until(Duration::from_secs(4), Duration::from_millis(50), || {
            connections(&server) > at
        })
        .is_some(),
        "{}",
        k.log()
    );
    assert!(!k.log().contains("Removing service"), "{}", k.log());
}

/// keepalived 2.2.7 and keepup side by side in a kernel with IPVS (the qemu VM), each
/// the checker side of its own director on the same configuration, each checking its
/// own counting server on one real server host: with the address absent neither
/// reaches its server and both tables hold the service and its real server (nothing is
/// removed); the address added, both start checking within the delay loop; removed,
/// both stop and leave the table as it was.
///
/// And where keepup differs on purpose: a group with ha_suspend whose address is
/// present from the start. keepalived 2.2.7 never matches a group's address
/// (check_api.c `addr_matches` returns early), so it deactivates that group's checker
/// for good and its server is never checked; keepup checks it.
#[test]
fn qemu_ha_suspend_matches_keepalived() {
    keepup_testkit::vm::guest_test(
        "hasuspend",
        "modprobe ip_vs",
        "guest_ha_suspend",
        Duration::from_secs(600),
    );
}

const VM_VIP: &str = "10.9.0.100";
const VM_DELAY_LOOP: u64 = 2;

/// The group's address, on both directors from the start.
const VM_GROUP_VIP: &str = "10.9.0.101";

/// The single virtual server checks `port`, the group's `port + 2`.
fn vm_conf(port: u16) -> String {
    let group_port = port + 2;
    let v6_port = port + 4;
    let vip6 = vm_vip6(port);
    format!(
        r#"
virtual_server_group G {{
    {VM_GROUP_VIP} 81
}}
virtual_server group G {{
    delay_loop {VM_DELAY_LOOP}
    lb_algo rr
    lb_kind NAT
    protocol TCP
    ha_suspend
    real_server 10.9.0.2 {group_port} {{
        TCP_CHECK {{
            connect_timeout 1
            retry 0
            warmup 0
        }}
    }}
}}
virtual_server {VM_VIP} 80 {{
    delay_loop {VM_DELAY_LOOP}
    lb_algo rr
    lb_kind NAT
    protocol TCP
    ha_suspend
    real_server 10.9.0.2 {port} {{
        TCP_CHECK {{
            connect_timeout 1
            retry 0
            warmup 0
        }}
    }}
}}
virtual_server {vip6} 80 {{
    delay_loop {VM_DELAY_LOOP}
    lb_algo rr
    lb_kind NAT
    protocol TCP
    ha_suspend
    real_server fd00:9::2 {v6_port} {{
        TCP_CHECK {{
            connect_timeout 1
            retry 0
            warmup 0
        }}
    }}
}}
"#
    )
}

/// The IPv6 virtual server's address of the director checking `port`, added with
/// duplicate address detection (as an operator's `ip addr add` would, and unlike
/// VRRP's): one per director, as both are on one LAN and DAD would refuse the second.
fn vm_vip6(port: u16) -> &'static str {
    if port == 8081 {
        "fd00:9::100"
    } else {
        "fd00:9::101"
    }
}

/// The director's table as `ipvsadm -Sn` prints it, keepup's counting server's port
/// written as keepalived's so the two compare.
fn ipvs_table(h: &Host) -> String {
    h.run(["ipvsadm", "-Sn"])
        .unwrap()
        .replace(":8082 ", ":8081 ")
        .replace(":8084 ", ":8083 ")
        .replace(":8086 ", ":8085 ")
        .replace("[fd00:9::101]", "[fd00:9::100]")
}

#[test]
#[ignore = "runs inside the VM (qemu_ha_suspend_matches_keepalived)"]
fn guest_ha_suspend() {
    use std::net::{Ipv4Addr, Ipv6Addr};
    if !keepup_testkit::vm::in_guest() {
        return;
    }
    let lab = keepup_testkit::lab::Lab::new("hasus").unwrap();
    let lan = lab.bridge().unwrap();
    let ka_dir = lab
        .host(
            "ka",
            &lan,
            Ipv4Addr::new(10, 9, 0, 1),
            Some(Ipv6Addr::new(0xfd00, 9, 0, 0, 0, 0, 0, 1)),
        )
        .unwrap();
    let rs = lab
        .host(
            "rs",
            &lan,
            Ipv4Addr::new(10, 9, 0, 2),
            Some(Ipv6Addr::new(0xfd00, 9, 0, 0, 0, 0, 0, 2)),
        )
        .unwrap();
    let ku_dir = lab
        .host(
            "ku",
            &lan,
            Ipv4Addr::new(10, 9, 0, 3),
            Some(Ipv6Addr::new(0xfd00, 9, 0, 0, 0, 0, 0, 3)),
        )
        .unwrap();
    let ka_server = counting_server(&rs, "10.9.0.2", 8081);
    let ku_server = counting_server(&rs, "10.9.0.2", 8082);
    let ka_group_server = counting_server(&rs, "10.9.0.2", 8083);
    let ku_group_server = counting_server(&rs, "10.9.0.2", 8084);
    let ka_v6_server = counting_server(&rs, "fd00:9::2", 8085);
    let ku_v6_server = counting_server(&rs, "fd00:9::2", 8086);
    for h in [&ka_dir, &ku_dir] {
        h.run([
            "ip",
            "addr",
            "add",
            &format!("{VM_GROUP_VIP}/32"),
            "dev",
            "eth0",
        ])
        .unwrap();
    }
    for s in [
        &ka_server,
        &ku_server,
        &ka_group_server,
        &ku_group_server,
        &ka_v6_server,
        &ku_v6_server,
    ] {
        assert!(
            wait_until(Duration::from_secs(10), Duration::from_millis(50), || s
                .log()
                .contains("listening"))
            .is_some()
        );
    }
    // keepalived's checker side only (-C), logging to its output.
    let ka_conf = lab.file("ka.conf");
    std::fs::write(&ka_conf, vm_conf(8081)).unwrap();
    let pid = |n: &str| lab.file(n).display().to_string();
    let ka = ka_dir
        .spawn(
            "keepalived",
            &[
                "-n",
                "-l",
                "-D",
                "-C",
                "-f",
                &ka_conf.display().to_string(),
                "-p",
                &pid("ka.pid"),
                "-c",
                &pid("ka-checkers.pid"),
                "-r",
                &pid("ka-vrrp.pid"),
                "-b",
                &pid("ka-bfd.pid"),
            ],
            "ka.log",
        )
        .unwrap();
    let ku = common::keepup_with(&lab, &ku_dir, &vm_conf(8082), "ku", &["-C"]);

    // Absent: neither checks, both deactivate and say so; both tables hold the service.
    assert!(
        wait_log(&ka, "Deactivating healthchecker for service", 15),
        "{}",
        ka.log()
    );
    assert!(
        wait_log(&ku, "checkers suspended until it is (ha_suspend)", 15),
        "{}",
        ku.log()
    );
    std::thread::sleep(Duration::from_secs(3 * VM_DELAY_LOOP + 1));
    let absent = (connections(&ka_server), connections(&ku_server));
    let tables_absent = (ipvs_table(&ka_dir), ipvs_table(&ku_dir));
    eprintln!(
        "absent: connections keepalived {} keepup {}",
        absent.0, absent.1
    );
    eprintln!(
        "absent: tables\nkeepalived:\n{}keepup:\n{}",
        tables_absent.0, tables_absent.1
    );
    assert_eq!(absent, (0, 0), "{}\n{}", ka.log(), ku.log());
    assert_eq!(tables_absent.0, tables_absent.1);
    assert!(
        tables_absent.0.contains("-r 10.9.0.2:"),
        "{}",
        tables_absent.0
    );

    // Added on both directors (as VRRP would): both check within the delay loop.
    for h in [&ka_dir, &ku_dir] {
        h.run(["ip", "addr", "add", &format!("{VM_VIP}/32"), "dev", "eth0"])
            .unwrap();
    }
    let added = Instant::now();
    let mut first = [None, None];
    wait_until(
        Duration::from_secs(VM_DELAY_LOOP + 4),
        Duration::from_millis(20),
        || {
            for (i, s) in [&ka_server, &ku_server].into_iter().enumerate() {
                if first[i].is_none() && connections(s) > 0 {
                    first[i] = Some(added.elapsed());
                }
            }
            first.iter().all(Option::is_some)
        },
    );
    eprintln!(
        "present: first check after {:?} (keepalived) and {:?} (keepup)",
        first[0], first[1]
    );
    assert!(
        first.iter().all(Option::is_some),
        "{}\n{}",
        ka.log(),
        ku.log()
    );
    assert!(
        ka.log().contains("Activating healthchecker for service"),
        "{}",
        ka.log()
    );
    std::thread::sleep(Duration::from_secs(3 * VM_DELAY_LOOP));
    let present = (connections(&ka_server), connections(&ku_server));
    eprintln!(
        "present: connections keepalived {} keepup {}",
        present.0, present.1
    );
    // Both check while the address is here, at about the same rate (counted over
    // three delay loops under emulation, on a host that may be busy: one or two apart).
    assert!(
        present.0 >= 2 && present.1 >= 2 && present.0.abs_diff(present.1) <= 2,
        "{present:?}"
    );

    // Removed: both stop; the tables are as they were.
    for h in [&ka_dir, &ku_dir] {
        h.run(["ip", "addr", "del", &format!("{VM_VIP}/32"), "dev", "eth0"])
            .unwrap();
    }
    assert!(
        wait_log(&ka, "Suspending healthchecker for service", 5),
        "{}",
        ka.log()
    );
    assert!(
        wait_log(&ku, "checkers suspended (ha_suspend)", 5),
        "{}",
        ku.log()
    );
    std::thread::sleep(Duration::from_secs(1));
    let at_removal = (connections(&ka_server), connections(&ku_server));
    std::thread::sleep(Duration::from_secs(3 * VM_DELAY_LOOP));
    let after = (connections(&ka_server), connections(&ku_server));
    eprintln!("removed: connections keepalived {at_removal:?} -> {after:?} (keepalived, keepup)");
    assert_eq!(after, at_removal);
    let tables = (ipvs_table(&ka_dir), ipvs_table(&ku_dir));
    assert_eq!(tables.0, tables.1);
    assert_eq!(tables.0, tables_absent.0);
    // The group: never checked by keepalived, checked by keepup all along.
    let group = (connections(&ka_group_server), connections(&ku_group_server));
    eprintln!(
        "group with its address present: connections keepalived {} keepup {}",
        group.0, group.1
    );
    assert_eq!(group.0, 0, "{}", ka.log());
    assert!(group.1 > 3, "{}", ku.log());
    assert!(!ka
        .log()
        .contains("Activating healthchecker for service [10.9.0.2]:tcp:8083"));

    // IPv6, its address added with duplicate address detection: both check once it is
    // there. Then removed: keepup stops; keepalived counts each RTM_NEWADDR (the kernel
    // sends one more when DAD ends), so its count does not fall back to 0 and it
    // checks on (printed, not asserted: it is keepalived's to fix).
    let v6_absent = (connections(&ka_v6_server), connections(&ku_v6_server));
    assert_eq!(v6_absent, (0, 0));
    for (h, port) in [(&ka_dir, 8081), (&ku_dir, 8082)] {
        let vip6 = format!("{}/128", vm_vip6(port));
        h.run(["ip", "addr", "add", &vip6, "dev", "eth0"]).unwrap();
    }
    std::thread::sleep(Duration::from_secs(3 * VM_DELAY_LOOP + 2));
    let v6_present = (connections(&ka_v6_server), connections(&ku_v6_server));
    eprintln!(
        "IPv6 present: connections keepalived {} keepup {}",
        v6_present.0, v6_present.1
    );
    assert!(
        v6_present.0 > 0 && v6_present.1 > 0,
        "{v6_present:?}\n{}\n{}",
        ka.log(),
        ku.log()
    );
    for (h, port) in [(&ka_dir, 8081), (&ku_dir, 8082)] {
        let vip6 = format!("{}/128", vm_vip6(port));
        h.run(["ip", "addr", "del", &vip6, "dev", "eth0"]).unwrap();
    }
    std::thread::sleep(Duration::from_secs(2));
    let v6_removed = (connections(&ka_v6_server), connections(&ku_v6_server));
    std::thread::sleep(Duration::from_secs(3 * VM_DELAY_LOOP));
    let v6_later = (connections(&ka_v6_server), connections(&ku_v6_server));
    eprintln!(
        "IPv6 removed: connections keepalived {} -> {}, keepup {} -> {}",
        v6_removed.0, v6_later.0, v6_removed.1, v6_later.1
    );
    assert_eq!(v6_later.1, v6_removed.1, "{}", ku.log());
    eprintln!("keepalived:\n{}\nkeepup:\n{}", ka.log(), ku.log());
}
