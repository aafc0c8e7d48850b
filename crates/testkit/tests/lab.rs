//! The network-namespace lab itself, on the real kernel: hosts on a bridge reach each
//! other (IPv4, IPv6 link-local and ULA), a port taken down at the switch cuts a host
//! off (on one of its LANs only), nftables and sysctls apply inside a host only, a panicking test leaves nothing
//! behind, the sweep removes what a killed run left, and two real keepalived 2.2.7
//! elect the higher priority and fail over, seen in a capture decoded by keepup-wire.
//!
//! Needs root. Under CI (`CI` set) a missing privilege fails these tests instead of
//! skipping them. About 20 s in all.
use std::net::{IpAddr, Ipv6Addr};
use std::process::Command;
use std::time::{Duration, Instant};

use keepup_testkit::lab::{
    self, keepalived_conf, netns, vrrp_adverts, wait_until, Error, KeepalivedState, Lab,
    VrrpInstance,
};
use keepup_wire::vrrp;

const SEC: Duration = Duration::from_secs(1);

fn v4(s: &str) -> IpAddr {
    s.parse().expect("an IPv4 literal")
}

/// The child-process half of the cleanup tests: does nothing unless
/// `KEEPUP_LAB_CHILD` is set (by `netns_panicking_test_cleans_up` and
/// `netns_sweep_removes_what_a_killed_run_left`), then builds a lab with a running
/// process, prints its prefix and PID, and panics or aborts.
#[test]
fn netns_child_helper() {
    let Some(mode) = std::env::var_os("KEEPUP_LAB_CHILD") else {
        return;
    };
    let lab = Lab::new("child").expect("lab");
    let lan = lab.bridge().expect("bridge");
    let a = lab
        .host("a", &lan, "10.9.1.1".parse().unwrap(), None)
        .expect("host");
    let _b = lab
        .host("b", &lan, "10.9.1.2".parse().unwrap(), None)
        .expect("host");
    let sleep = a.spawn("sleep", &["60"], "sleep.log").expect("spawn");
    println!("LAB_PREFIX={}", lab.prefix());
    println!("LAB_DIR={}", lab.dir().display());
    println!("SLEEP_PID={}", sleep.pid());
    if mode == "abort" {
        // No unwinding, no Drop: what SIGKILL or a crash leaves behind.
        std::process::abort();
    }
    panic!("the test body panics with a lab, its hosts and a process alive");
}

struct Child {
    ok: bool,
    prefix: String,
    dir: String,
    sleep_pid: u32,
}

fn run_child(mode: &str) -> Child {
    let out = Command::new(std::env::current_exe().expect("test binary"))
        .args([
            "netns_child_helper",
            "--exact",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("KEEPUP_LAB_CHILD", mode)
        .env_remove("KEEPUP_KEEP_LAB")
        .output()
        .expect("run the test binary");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let field = |key: &str| {
        stdout
            .lines()
            .find_map(|l| l.split_once(key).map(|(_, v)| v))
            .unwrap_or_else(|| {
                panic!(
                    "child printed no {key}\nstdout:\n{stdout}\nstderr:\n{}",
                    String::from_utf8_lossy(&out.stderr)
                )
            })
            .to_owned()
    };
    Child {
        ok: out.status.success(),
        prefix: field("LAB_PREFIX="),
        dir: field("LAB_DIR="),
        sleep_pid: field("SLEEP_PID=").parse().expect("a pid"),
    }
}

fn namespaces_of(prefix: &str) -> Vec<String> {
    let family = format!("{prefix}-");
    netns::list()
        .expect("ip netns list")
        .into_iter()
        .filter(|n| n.starts_with(&family))
        .collect()
}

#[test]
fn netns_two_hosts_ping_v4_v6_and_link_local() -> Result<(), Error> {
    if !lab::root_or_skip("netns_two_hosts_ping_v4_v6_and_link_local") {
        return Ok(());
    }
    let lab = Lab::new("ping")?;
    let lan = lab.bridge()?;
    let ula_a: Ipv6Addr = "fd00:9:2::1".parse().unwrap();
    let ula_b: Ipv6Addr = "fd00:9:2::2".parse().unwrap();
    let a = lab.host("a", &lan, "10.9.2.1".parse().unwrap(), Some(ula_a))?;
    let b = lab.host("b", &lan, "10.9.2.2".parse().unwrap(), Some(ula_b))?;
    assert_eq!(
        lab.namespaces().len(),
        3,
        "switch, a, b: {:?}",
        lab.namespaces()
    );

    // Addresses as configured, with a link-local from the fixed MAC, no DAD pending.
    let addrs = a.addresses("eth0")?;
    let ll_a = a.link_local("eth0")?;
    let ll_b = b.link_local("eth0")?;
    assert_eq!(
        addrs,
        vec![v4("10.9.2.1"), IpAddr::V6(ula_a), IpAddr::V6(ll_a)]
    );
    assert_eq!(a.ifaces()[0].mac.to_string(), "02:6b:75:00:00:00");
    assert_eq!(ll_a, "fe80::6b:75ff:fe00:0".parse::<Ipv6Addr>().unwrap());
    let flags = a.run(["ip", "-6", "addr", "show", "dev", "eth0"])?;
    assert!(!flags.contains("tentative"), "{flags}");
    assert!(a.has_address(v4("10.9.2.1"))? && !a.has_address(v4("10.9.2.2"))?);

    let t = Instant::now();
    assert!(a.ping(v4("10.9.2.2"), 3 * SEC)?, "a -> b IPv4");
    assert!(b.ping(v4("10.9.2.1"), 3 * SEC)?, "b -> a IPv4");
    assert!(a.ping(IpAddr::V6(ll_b), 3 * SEC)?, "a -> b link-local");
    assert!(
        b.ping_via(IpAddr::V6(ll_a), "eth0", 3 * SEC)?,
        "b -> a link-local"
    );
    assert!(a.ping(IpAddr::V6(ula_b), 3 * SEC)?, "a -> b ULA");
    assert!(!a.ping(v4("10.9.2.3"), SEC / 2)?, "nobody has 10.9.2.3");
    eprintln!("pings took {:?}", t.elapsed());

    // exec runs inside the host: its own interfaces, not the root namespace's.
    let out = a.exec(["ip", "-br", "link"])?;
    let links = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success());
    assert_eq!(
        links
            .lines()
            .map(|l| l.split([' ', '@']).next().unwrap_or(""))
            .collect::<Vec<_>>(),
        ["lo", "eth0"],
        "{links}"
    );
    Ok(())
}

#[test]
fn netns_port_down_cuts_a_host_off_and_port_up_heals() -> Result<(), Error> {
    if !lab::root_or_skip("netns_port_down_cuts_a_host_off_and_port_up_heals") {
        return Ok(());
    }
    let lab = Lab::new("port")?;
    let lan = lab.bridge()?;
    let a = lab.host("a", &lan, "10.9.3.1".parse().unwrap(), None)?;
    let b = lab.host("b", &lan, "10.9.3.2".parse().unwrap(), None)?;
    assert!(a.ping(v4("10.9.3.2"), 3 * SEC)?);
    assert!(b.carrier("eth0")?);

    lan.port_down(&b)?;
    let lost = wait_until(2 * SEC, Duration::from_millis(10), || {
        b.carrier("eth0").is_ok_and(|c| !c)
    });
    assert!(
        lost.is_some(),
        "b's eth0 keeps carrier with its bridge port down"
    );
    assert!(a.carrier("eth0")?, "a is not affected");
    assert!(!a.ping(v4("10.9.3.2"), SEC)?, "a still reaches b");

    lan.port_up(&b)?;
    assert!(wait_until(2 * SEC, Duration::from_millis(10), || b
        .carrier("eth0")
        .unwrap_or(false))
    .is_some());
    assert!(a.ping(v4("10.9.3.2"), 3 * SEC)?, "a does not reach b again");

    // Administrative state inside the host works the same way for the peer.
    b.link_set("eth0", false)?;
    assert!(!a.ping(v4("10.9.3.2"), SEC / 2)?);
    b.link_set("eth0", true)?;
    assert!(a.ping(v4("10.9.3.2"), 3 * SEC)?);
    Ok(())
}

#[test]
fn netns_a_host_on_two_lans() -> Result<(), Error> {
    if !lab::root_or_skip("netns_a_host_on_two_lans") {
        return Ok(());
    }
    let lab = Lab::new("two_lans")?;
    let (lan0, lan1) = (lab.bridge()?, lab.bridge()?);
    let mut r = lab.host("r", &lan0, "10.9.6.1".parse().unwrap(), None)?;
    assert_eq!(r.join(&lan1, "10.9.7.1".parse().unwrap(), None)?, "eth1");
    let a = lab.host("a", &lan0, "10.9.6.2".parse().unwrap(), None)?;
    let b = lab.host("b", &lan1, "10.9.7.2".parse().unwrap(), None)?;
    assert_eq!(r.iface_on(&lan1).map(|i| i.name.as_str()), Some("eth1"));
    assert_eq!(r.addresses("eth1")?[0], v4("10.9.7.1"));
    assert!(r.ping(v4("10.9.6.2"), 3 * SEC)? && r.ping(v4("10.9.7.2"), 3 * SEC)?);
    assert!(b.ping(v4("10.9.7.1"), 3 * SEC)?);
    // The LANs are separate segments: a does not hear b's subnet.
    assert!(!a.ping(v4("10.9.7.1"), SEC / 2)?);

    lan1.port_down(&r)?;
    assert!(wait_until(2 * SEC, Duration::from_millis(10), || r
        .carrier("eth1")
        .is_ok_and(|c| !c))
    .is_some());
    assert!(r.carrier("eth0")?, "only r's port on LAN 1 went down");
    assert!(r.ping(v4("10.9.6.2"), 3 * SEC)?);
    assert!(!r.ping(v4("10.9.7.2"), SEC / 2)?);
    Ok(())
}

#[test]
fn netns_nft_and_sysctl_apply_inside_one_host() -> Result<(), Error> {
    if !lab::root_or_skip("netns_nft_and_sysctl_apply_inside_one_host") {
        return Ok(());
    }
    let lab = Lab::new("nft")?;
    let lan = lab.bridge()?;
    let a = lab.host("a", &lan, "10.9.4.1".parse().unwrap(), None)?;
    let b = lab.host("b", &lan, "10.9.4.2".parse().unwrap(), None)?;
    let c = lab.host("c", &lan, "10.9.4.3".parse().unwrap(), None)?;
    assert!(a.ping(v4("10.9.4.2"), 3 * SEC)?);

    b.nft("table inet lab { chain input { type filter hook input priority 0; ip saddr 10.9.4.1 icmp type echo-request drop; }; }")?;
    assert!(!a.ping(v4("10.9.4.2"), SEC / 2)?, "b's rule drops a's echo");
    assert!(c.ping(v4("10.9.4.2"), 3 * SEC)?, "and only a's");
    b.nft("table ip novrrp { chain input { type filter hook input priority 0; ip protocol 112 drop; }; }")?;
    let rules = b.run(["nft", "list", "ruleset"])?;
    // nft names protocol 112 `vrrp` where /etc/protocols has it.
    let vrrp_rule = ["ip protocol vrrp drop", "ip protocol 112 drop"];
    assert!(
        rules.contains("10.9.4.1") && vrrp_rule.iter().any(|r| rules.contains(r)),
        "{rules}"
    );
    assert!(
        !a.run(["nft", "list", "ruleset"])?.contains("10.9.4.1"),
        "a has no rules"
    );

    c.sysctl("net.ipv4.icmp_echo_ignore_all", "1")?;
    assert!(!a.ping(v4("10.9.4.3"), SEC / 2)?, "c ignores echo");
    assert_eq!(
        c.run(["sysctl", "-n", "net.ipv4.icmp_echo_ignore_all"])?
            .trim(),
        "1"
    );
    assert_eq!(
        a.run(["sysctl", "-n", "net.ipv4.icmp_echo_ignore_all"])?
            .trim(),
        "0"
    );
    Ok(())
}

#[test]
fn netns_panicking_test_cleans_up() {
    if !lab::root_or_skip("netns_panicking_test_cleans_up") {
        return;
    }
    let child = run_child("panic");
    assert!(!child.ok, "the child test was meant to fail");
    assert!(child.prefix.starts_with("ku"), "{}", child.prefix);
    assert_eq!(
        namespaces_of(&child.prefix),
        Vec::<String>::new(),
        "namespaces left"
    );
    assert!(
        !std::path::Path::new(&child.dir).exists(),
        "{} left",
        child.dir
    );
    assert!(
        !lab::alive(child.sleep_pid),
        "the child's process {} left",
        child.sleep_pid
    );
}

#[test]
fn netns_sweep_removes_what_a_killed_run_left() -> Result<(), Error> {
    if !lab::root_or_skip("netns_sweep_removes_what_a_killed_run_left") {
        return Ok(());
    }
    // A lab of our own first: the automatic sweep (once per process) is then done
    // and cannot race with the explicit one below; and it must survive the sweep.
    let ours = Lab::new("survivor")?;
    let lan = ours.bridge()?;
    let _h = ours.host("h", &lan, "10.9.5.1".parse().unwrap(), None)?;

    let child = run_child("abort");
    assert!(!child.ok);
    let left = namespaces_of(&child.prefix);
    assert_eq!(
        left.len(),
        3,
        "switch, a, b expected after an abort: {left:?}"
    );
    assert!(lab::alive(child.sleep_pid));

    let swept = lab::sweep()?;
    for ns in &left {
        assert!(swept.namespaces.contains(ns), "{ns} not swept: {swept:?}");
    }
    assert!(swept.processes.contains(&child.sleep_pid), "{swept:?}");
    assert_eq!(namespaces_of(&child.prefix), Vec::<String>::new());
    assert!(
        wait_until(2 * SEC, Duration::from_millis(10), || !lab::alive(
            child.sleep_pid
        ))
        .is_some()
    );
    assert!(!std::path::Path::new(&child.dir).exists());
    assert_eq!(
        namespaces_of(ours.prefix()).len(),
        2,
        "our own lab was touched"
    );
    Ok(())
}

/// Two keepalived 2.2.7, priorities 150 and 100, VRID 51: the 150 one becomes
/// Master with the VIP on its eth0 (and only there); SIGKILL of it (no priority-0
/// advert) moves the VIP to the other after Master_Down_Interval
/// (3 × 1 s + (256 − 100)/256 s ≈ 3.61 s after the last advert). A capture on the
/// bridge sees both Masters' adverts, decoded by keepup-wire.
#[test]
fn netns_keepalived_elects_the_higher_priority_and_fails_over() -> Result<(), Error> {
    if !lab::root_or_skip("netns_keepalived_elects_the_higher_priority_and_fails_over") {
        return Ok(());
    }
    let lab = Lab::new("ka_failover")?;
    let lan = lab.bridge()?;
    let r1 = lab.host("r1", &lan, "10.9.51.1".parse().unwrap(), None)?;
    let r2 = lab.host("r2", &lan, "10.9.51.2".parse().unwrap(), None)?;
    let vip = v4("10.9.51.100");
    let cap = lan.capture("ip proto 112")?;

    let start = Instant::now();
    let ka1 = r1.keepalived(&keepalived_conf(
        "r1",
        &[VrrpInstance::new("VI_1", "eth0", 51, 150, vip)],
    ))?;
    let ka2 = r2.keepalived(&keepalived_conf(
        "r2",
        &[VrrpInstance::new("VI_1", "eth0", 51, 100, vip)],
    ))?;
    ka1.wait_for_state("VI_1", KeepalivedState::Master, 10 * SEC)?;
    ka2.wait_for_state("VI_1", KeepalivedState::Backup, 2 * SEC)?;
    let on_r1 = wait_until(2 * SEC, Duration::from_millis(10), || {
        r1.addresses("eth0").is_ok_and(|a| a.contains(&vip))
    });
    assert!(
        on_r1.is_some(),
        "VIP not on r1's eth0: {:?}",
        r1.addresses("eth0")
    );
    eprintln!("r1 Master with the VIP {:?} after start", start.elapsed());
    // Some adverts from r1; the Backup must stay Backup and without the VIP.
    std::thread::sleep(SEC * 3 / 2);
    assert!(
        !r2.has_address(vip)?,
        "VIP on r2 as well: {:?}",
        r2.addresses("eth0")
    );
    assert_eq!(ka2.state("VI_1"), Some(KeepalivedState::Backup));
    assert_eq!(ka1.state("VI_1"), Some(KeepalivedState::Master));

    let mark = ka2.log_mark();
    let killed = Instant::now();
    ka1.kill()?;
    assert!(!ka1.is_running());
    let took = wait_until(8 * SEC, Duration::from_millis(10), || {
        r2.addresses("eth0").is_ok_and(|a| a.contains(&vip))
    });
    let took = took.unwrap_or_else(|| panic!("VIP did not move to r2; r2's log:\n{}", ka2.log()));
    eprintln!("VIP moved to r2 {took:?} after SIGKILL of r1's keepalived");
    assert!(
        took <= Duration::from_millis(4500),
        "failover took {took:?}"
    );
    ka2.wait_for_log_since(mark, "(VI_1) Entering MASTER STATE", SEC)?;
    std::thread::sleep(SEC * 6 / 5);
    let since_kill = killed.elapsed();

    let packets = cap.stop()?;
    let adverts = vrrp_adverts(&packets);
    assert!(
        !adverts.is_empty(),
        "{} packets, no advert decoded",
        packets.len()
    );
    for a in &adverts {
        assert_eq!(a.dst, IpAddr::V4(vrrp::MCAST_V4));
        assert_eq!(a.ttl, 255);
        assert_eq!(a.repr.version, vrrp::Version::V2);
        assert_eq!(a.repr.vrid, 51);
        assert_eq!(a.repr.interval, 1);
        assert_eq!(a.repr.addresses, vec![vip]);
    }
    let from = |ip: &str| -> Vec<u8> {
        adverts
            .iter()
            .filter(|a| a.src == v4(ip))
            .map(|a| a.repr.priority)
            .collect()
    };
    let (p1, p2) = (from("10.9.51.1"), from("10.9.51.2"));
    assert!(
        p1.len() >= 2 && p1.iter().all(|&p| p == 150),
        "r1's adverts: {p1:?}"
    );
    assert!(
        !p2.is_empty() && p2.iter().all(|&p| p == 100),
        "r2's adverts: {p2:?}"
    );
    // r2 only advertised after r1 died: r1's last advert precedes r2's first.
    let last1 = adverts
        .iter()
        .filter(|a| a.src == v4("10.9.51.1"))
        .map(|a| a.ts)
        .max();
    let first2 = adverts
        .iter()
        .filter(|a| a.src == v4("10.9.51.2"))
        .map(|a| a.ts)
        .min();
    assert!(last1 < first2, "r1 last {last1:?}, r2 first {first2:?}");
    // The Backup takes over Master_Down_Interval after the last advert it heard
    // (RFC 3768 §6.4.2), and advertises at once.
    let gap = first2.zip(last1).map(|(f, l)| f - l).unwrap_or_default();
    assert!(
        (Duration::from_millis(3400)..=Duration::from_millis(4500)).contains(&gap),
        "r1's last advert to r2's first: {gap:?}, expected about 3.61 s"
    );
    eprintln!(
        "{} adverts ({} from r1, {} from r2); r1's last to r2's first: {gap:?}; {since_kill:?} since the kill",
        adverts.len(),
        p1.len(),
        p2.len()
    );
    Ok(())
}
