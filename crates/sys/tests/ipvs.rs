//! The IPVS socket against a real kernel: this machine's kernel has no IPVS, so the host
//! test `qemu_ipvs_socket` boots the VM and re-runs this binary's `guest_ipvs_socket`
//! inside it (keepup_testkit::vm::VmJob::run_test). Needs root (qemu, the cache).
use std::collections::BTreeMap;
use std::net::IpAddr;
use std::process::Command;
use std::time::{Duration, Instant};

use keepup_lvs::genl::{SyncDaemon, SyncState, Timeouts};
use keepup_lvs::{
    DestKey, Destination, Family, Forward, Op, Protocol, SchedFlags, Service, ServiceKey,
    TunnelType,
};
use keepup_sys::Ipvs;
use keepup_testkit::vm::{guest_test, in_guest};

#[test]
fn qemu_ipvs_socket() {
    guest_test(
        "ipvs-sock",
        r#"modprobe ip_vs
ip link set lo up
ip link add d0 type dummy && ip addr add 10.0.0.100/24 dev d0 && ip link set d0 up multicast on"#,
        "guest_ipvs_socket",
        Duration::from_secs(600),
    );
}

fn ip(s: &str) -> IpAddr {
    s.parse().expect("ip")
}

fn tcp(addr: &str, port: u16) -> ServiceKey {
    ServiceKey::Addr {
        protocol: Protocol::Tcp,
        addr: ip(addr),
        port,
    }
}

fn svc(key: ServiceKey, scheduler: &str) -> Service {
    Service::new(key, scheduler)
}

fn dest(addr: &str, port: u16, forward: Forward, weight: u32) -> Destination {
    Destination::new(ip(addr), port, forward, weight)
}

fn ipvsadm(args: &str) -> String {
    let out = Command::new("ipvsadm")
        .args(args.split_whitespace())
        .output()
        .expect("ipvsadm");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The kernel's table as plain data, counters left out.
fn read_table(ipvs: &mut Ipvs) -> BTreeMap<ServiceKey, (Service, BTreeMap<DestKey, Destination>)> {
    ipvs.table()
        .expect("table")
        .into_iter()
        .map(|(s, ds)| {
            (
                s.service.key,
                (
                    s.service,
                    ds.into_iter().map(|d| (d.dest.key, d.dest)).collect(),
                ),
            )
        })
        .collect()
}

#[test]
#[ignore = "runs inside the qemu guest (qemu_ipvs_socket)"]
fn guest_ipvs_socket() {
    if !in_guest() {
        return;
    }
    let mut ipvs = Ipvs::open().expect("open");
    ipvs.flush().expect("flush");
    let (version, size) = ipvs.info().expect("info");
    println!("IPVS version {version:#x}, conn_tab_size {size}");
    assert_eq!(version >> 8, 0x0102);

    // Every kind of service and destination.
    let web = tcp("10.0.0.1", 80);
    let dns = ServiceKey::Addr {
        protocol: Protocol::Udp,
        addr: ip("10.0.0.1"),
        port: 53,
    };
    let sctp = ServiceKey::Addr {
        protocol: Protocol::Sctp,
        addr: ip("10.0.0.1"),
        port: 5000,
    };
    let sip = ServiceKey::Addr {
        protocol: Protocol::Udp,
        addr: ip("10.0.0.1"),
        port: 5060,
    };
    let fwm4 = ServiceKey::Fwmark {
        family: Family::V4,
        mark: 5,
    };
    let fwm6 = ServiceKey::Fwmark {
        family: Family::V6,
        mark: 6,
    };
    let v6 = tcp("fc00::1", 443);
    let services = [
        svc(web, "wlc"),
        Service {
            flags: SchedFlags(SchedFlags::PERSISTENT),
            timeout: 300,
            netmask: 0xffff_ff00,
            ..svc(dns, "rr")
        },
        Service {
            flags: SchedFlags(SchedFlags::SCHED1 | SchedFlags::SCHED2),
            ..svc(sctp, "sh")
        },
        Service {
            flags: SchedFlags(SchedFlags::PERSISTENT),
            timeout: 60,
            pe_name: Some("sip".into()),
            ..svc(sip, "rr")
        },
        Service {
            flags: SchedFlags(SchedFlags::ONEPACKET),
            ..svc(fwm4, "wrr")
        },
        svc(fwm6, "lc"),
        Service {
            flags: SchedFlags(SchedFlags::PERSISTENT | SchedFlags::SCHED1),
            timeout: 120,
            netmask: 64,
            ..svc(v6, "mh")
        },
    ];
    let dests: Vec<(ServiceKey, Destination)> = vec![
        (web, dest("10.0.0.2", 8080, Forward::Masq, 3)),
        (web, dest("10.0.0.3", 80, Forward::Route, 0)),
        (
            web,
            dest("10.0.0.4", 80, Forward::Tunnel(TunnelType::Ipip), 1),
        ),
        (
            web,
            dest(
                "10.0.0.5",
                80,
                Forward::Tunnel(TunnelType::Gue {
                    port: 6080,
                    flags: TunnelType::REMCSUM,
                }),
                1,
            ),
        ),
        (
            web,
            dest(
                "10.0.0.6",
                80,
                Forward::Tunnel(TunnelType::Gre {
                    flags: TunnelType::CSUM,
                }),
                1,
            ),
        ),
        (
            web,
            Destination {
                u_threshold: 100,
                l_threshold: 10,
                ..dest("10.0.0.7", 80, Forward::Masq, 2)
            },
        ),
        (dns, dest("10.0.0.2", 53, Forward::Masq, 1)),
        (sctp, dest("10.0.0.9", 5000, Forward::Route, 1)),
        (fwm4, dest("10.0.0.8", 0, Forward::Route, 4)),
        (fwm6, dest("fc00::8", 0, Forward::Route, 1)),
        (v6, dest("fc00::2", 443, Forward::Masq, 2)),
        (v6, dest("fc00::3", 443, Forward::Local, 1)),
    ];
    let mut ops: Vec<Op> = services.iter().cloned().map(Op::AddService).collect();
    // Per-op errors, in the middle of the batch: an unknown scheduler, a duplicate,
    // a destination that is not there.
    ops.push(Op::AddService(svc(tcp("10.0.0.99", 80), "nosuch")));
    ops.push(Op::AddService(svc(web, "rr")));
    ops.push(Op::DelDest(
        web,
        DestKey {
            addr: ip("10.0.0.250"),
            port: 80,
        },
    ));
    ops.extend(dests.iter().cloned().map(|(k, d)| Op::AddDest(k, d)));
    let results = ipvs.apply(&ops);
    assert_eq!(results.len(), ops.len());
    let n = services.len();
    for (i, (op, r)) in ops.iter().zip(&results).enumerate() {
        match i {
            i if i == n => {
                let e = r.as_ref().expect_err("unknown scheduler");
                assert_eq!(e.errno, libc::ENOENT, "{op:?}: {e}");
            }
            i if i == n + 1 => {
                let e = r.as_ref().expect_err("duplicate");
                assert_eq!(e.errno, libc::EEXIST, "{op:?}: {e}");
            }
            i if i == n + 2 => {
                let e = r.as_ref().expect_err("missing dest");
                assert_eq!(e.errno, libc::ENOENT, "{op:?}: {e}");
                println!("errors as the kernel words them: {e}");
            }
            _ => assert!(r.is_ok(), "{op:?}: {r:?}"),
        }
    }

    let listing = ipvsadm("-Ln");
    println!("{listing}");
    for line in [
        "TCP  10.0.0.1:80 wlc",
        "UDP  10.0.0.1:53 rr persistent 300 mask 255.255.255.0",
        "SCTP 10.0.0.1:5000 sh (sh-fallback,sh-port)",
        "UDP  10.0.0.1:5060 rr persistent 60 pe sip",
        "FWM  5 wrr ops",
        "FWM  6 IPv6 lc",
        "TCP  [fc00::1]:443 mh (mh-fallback) persistent 120 mask 64",
        "-> 10.0.0.5:80                  Tunnel  1",
        "-> [fc00::3]:443                Local   1",
        "-> 10.0.0.3:80                  Route   0",
    ] {
        assert!(listing.contains(line), "{line:?} not in\n{listing}");
    }
    let tun = ipvsadm("-Ln --tun-info");
    println!("{tun}");
    assert!(tun.contains("gue") && tun.contains("6080"), "{tun}");
    assert!(!listing.contains("10.0.0.99"), "{listing}");

    // Read back: the same table.
    let mut want: BTreeMap<ServiceKey, (Service, BTreeMap<DestKey, Destination>)> = services
        .iter()
        .map(|s| (s.key, (s.clone(), BTreeMap::new())))
        .collect();
    for (k, d) in &dests {
        want.get_mut(k).expect("svc").1.insert(d.key, d.clone());
    }
    assert_eq!(read_table(&mut ipvs), want);

    // Edit some, delete some.
    let web2 = Service {
        scheduler: "rr".into(),
        flags: SchedFlags(SchedFlags::PERSISTENT),
        timeout: 30,
        ..svc(web, "rr")
    };
    let d2 = Destination {
        weight: 7,
        forward: Forward::Tunnel(TunnelType::Gre { flags: 0 }),
        u_threshold: 5,
        ..dests[0].1.clone()
    };
    let edits = vec![
        Op::EditService(web2.clone()),
        Op::EditDest(web, d2.clone()),
        Op::DelDest(web, dests[1].1.key),
        Op::DelService(sip),
    ];
    assert!(ipvs.apply(&edits).iter().all(Result::is_ok));
    let w = want.get_mut(&web).expect("web");
    w.0 = web2;
    w.1.insert(d2.key, d2);
    w.1.remove(&dests[1].1.key);
    want.remove(&sip);
    assert_eq!(read_table(&mut ipvs), want);

    // Timeouts, sync daemons.
    let t = Timeouts {
        tcp: 900,
        tcp_fin: 120,
        udp: 300,
    };
    ipvs.set_timeouts(t).expect("set timeouts");
    assert_eq!(ipvs.timeouts().expect("timeouts"), t);
    assert!(ipvsadm("-L --timeout").contains("900 120 300"));
    ipvs.start_daemon(SyncDaemon {
        state: SyncState::Backup,
        ifname: "d0".into(),
        syncid: 9,
        sync_maxlen: Some(1400),
        mcast_group: Some(ip("224.0.0.82")),
        mcast_port: Some(8849),
        mcast_ttl: Some(2),
    })
    .expect("start daemon");
    let ds = ipvs.daemons().expect("daemons");
    assert_eq!(ds.len(), 1, "{ds:?}");
    assert_eq!(ds[0].mcast_port, Some(8849));
    let shown = ipvsadm("-L --daemon");
    assert!(
        shown.contains("syncid=9") && shown.contains("port=8849"),
        "{shown}"
    );
    ipvs.stop_daemon(SyncState::Backup).expect("stop daemon");
    assert!(ipvs.daemons().expect("daemons").is_empty());

    // Scale: 1,000 services with 10 destinations each, pipelined.
    ipvs.flush().expect("flush");
    let mut big = Vec::new();
    for i in 0..1000u32 {
        let key = tcp(&format!("10.1.{}.{}", i / 250, i % 250 + 1), 80);
        big.push(Op::AddService(svc(key, "wlc")));
        for j in 0..10u32 {
            big.push(Op::AddDest(
                key,
                dest(
                    &format!("10.2.{}.{}", i / 25, (i % 25) * 10 + j + 1),
                    80,
                    Forward::Masq,
                    1,
                ),
            ));
        }
    }
    let t0 = Instant::now();
    let results = ipvs.apply(&big);
    let applied = t0.elapsed();
    let failed: Vec<_> = results.iter().filter(|r| r.is_err()).collect();
    assert!(
        failed.is_empty(),
        "{} failed, first {:?}",
        failed.len(),
        failed[0]
    );
    let t0 = Instant::now();
    let table = ipvs.table().expect("table");
    let read = t0.elapsed();
    assert_eq!(table.len(), 1000);
    assert!(table.iter().all(|(_, d)| d.len() == 10));
    println!(
        "pipelined (window {}): applied {} ops (1,000 services x 10 dests) in {applied:?}; read them back in {read:?} (in qemu TCG)",
        ipvs.window(),
        big.len()
    );
    // Failures spread over several batches (requests go without an ACK but the last
    // of each batch): every one answered with its own error, every other one done,
    // a failing last request included.
    let mut mixed = Vec::new();
    let mut fails = Vec::new();
    for (i, op) in big.iter().enumerate() {
        if let Op::AddDest(key, d) = op {
            if i % 97 == 0 || i == big.len() - 1 {
                fails.push(mixed.len());
                mixed.push(op.clone());
            }
            mixed.push(Op::AddDest(
                *key,
                Destination {
                    key: DestKey { port: 81, ..d.key },
                    ..d.clone()
                },
            ));
        }
    }
    fails.push(mixed.len());
    mixed.push(big[big.len() - 1].clone());
    let results = ipvs.apply(&mixed);
    assert_eq!(results.len(), mixed.len());
    for (i, r) in results.iter().enumerate() {
        if fails.contains(&i) {
            let e = r.as_ref().expect_err("a destination already there");
            assert_eq!(e.errno, libc::EEXIST, "request {i}: {e}");
        } else {
            assert!(r.is_ok(), "request {i}: {r:?}");
        }
    }
    let table = ipvs.table().expect("table");
    assert!(table.iter().all(|(_, d)| d.len() == 20));
    println!(
        "{} requests, {} failing where expected",
        mixed.len(),
        fails.len()
    );
    ipvs.flush().expect("flush");
    assert!(ipvs.services().expect("services").is_empty());
}
