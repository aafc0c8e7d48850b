//! Planned switchover without loss: a keepup Master stopped with SIGTERM sends its
//! priority-0 advert at once but keeps answering for its VIP until the new Master
//! (keepup or keepalived 2.2.7) has taken over, so a client sending an ICMP echo
//! every 2 ms loses none. The same holds for `keepup handover`, which hands over
//! without stopping. Root only; CI runs these serially.
#![allow(clippy::unwrap_used)]

mod common;
use common::{has, keepup, routers, wait_addr};

use keepup_testkit::lab::{self, longest_gap, probe::now, Host, Probe, Signal};
use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

const VIP: Ipv4Addr = Ipv4Addr::new(10, 9, 0, 100);

const CONF: &str = "\
vrrp_instance VI_1 {
    state BACKUP
    interface eth0
    virtual_router_id 51
@r1 priority 150
@r2 priority 100
    advert_int 1
    virtual_ipaddress {
        10.9.0.100/24
    }
}
";

/// r1 and r2 on one bridge, and a client at 10.9.0.10.
fn lab_with_client(tag: &str) -> (lab::Lab, Host, Host, Host) {
    let (lab, lan, mut hosts) = routers(tag, 2, false);
    let r2 = hosts.pop().unwrap();
    let r1 = hosts.pop().unwrap();
    let client = lab
        .host("c", &lan, Ipv4Addr::new(10, 9, 0, 10), None)
        .unwrap();
    (lab, r1, r2, client)
}

/// r2's daemon: keepup or keepalived 2.2.7.
enum Peer {
    Keepup(lab::Proc),
    Keepalived(lab::Keepalived),
}

impl Peer {
    fn start(lab: &lab::Lab, host: &Host, keepup_daemon: bool) -> Peer {
        if keepup_daemon {
            Peer::Keepup(keepup(lab, host, CONF, "a"))
        } else {
            Peer::Keepalived(host.keepalived(CONF).unwrap())
        }
    }

    fn log(&self) -> String {
        match self {
            Peer::Keepup(k) => k.log(),
            Peer::Keepalived(k) => k.log(),
        }
    }
}

/// Probe the VIP every 2 ms from `client`, once it answers.
fn probe_vip(client: &Host) -> Probe {
    let probe = client.probe(VIP, Duration::from_millis(2)).unwrap();
    let started = now();
    let answered = lab::wait_until(Duration::from_secs(3), Duration::from_millis(10), || {
        probe.replied_after(started)
    });
    assert!(answered.is_some(), "the client never reached the VIP");
    probe
}

/// What the client saw from `from` on, half a second after the change: echoes sent
/// (up to 100 ms before the end: later ones may still be on their way), how many got
/// no reply, and the longest gap between replies in ms.
fn seen_since(probe: Probe, from: Duration) -> (usize, usize, f64) {
    std::thread::sleep(Duration::from_millis(500));
    let end = now();
    let echoes = probe.echoes();
    drop(probe);
    let window: Vec<_> = echoes
        .iter()
        .filter(|e| e.sent >= from)
        .filter(|e| e.sent + Duration::from_millis(100) <= end)
        .collect();
    let lost = window.iter().filter(|e| e.reply.is_none()).count();
    let gap = longest_gap(&echoes, from, end).unwrap();
    (window.len(), lost, gap.secs() * 1000.0)
}

/// r1 (keepup, 150) Master, r2 (100, keepup or keepalived) Backup, and a client
/// probing the VIP every 2 ms for half a second already.
struct Settled {
    lab: lab::Lab,
    r1: Host,
    r2: Host,
    client: Host,
    k1: lab::Proc,
    k2: Peer,
    probe: Probe,
}

fn settled(tag: &str, successor_keepup: bool) -> Settled {
    let (lab, r1, r2, client) = lab_with_client(tag);
    let k1 = keepup(&lab, &r1, CONF, "a");
    assert!(
        wait_addr(&r1, IpAddr::V4(VIP), true, 10).is_some(),
        "{}",
        k1.log()
    );
    let k2 = Peer::start(&lab, &r2, successor_keepup);
    let backup = lab::wait_until(Duration::from_secs(5), Duration::from_millis(20), || {
        k2.log().contains("Entering BACKUP STATE")
    });
    assert!(backup.is_some(), "r2 never became Backup:\n{}", k2.log());
    let probe = probe_vip(&client);
    std::thread::sleep(Duration::from_millis(500));
    Settled {
        lab,
        r1,
        r2,
        client,
        k1,
        k2,
        probe,
    }
}

/// r1 (keepup, 150) is Master, r2 (100) runs keepup or keepalived; a client
/// probes the VIP every 2 ms; r1 gets SIGTERM. The VIP moves to r2 at its
/// Skew_Time, r1 lets go once r2 has announced it, and no echo goes unanswered.
fn switchover(tag: &str, successor_keepup: bool) {
    let Settled {
        lab: _lab,
        r1,
        r2,
        client: _client,
        k1,
        k2,
        probe,
    } = settled(tag, successor_keepup);
    let vip = IpAddr::V4(VIP);
    let stop = now();
    k1.kill(Signal::SIGTERM).unwrap();
    assert!(
        wait_addr(&r2, vip, true, 5).is_some(),
        "r2 did not take over:\n{}",
        k2.log()
    );
    assert!(
        k1.wait_timeout(Duration::from_secs(6)).is_some(),
        "keepup did not exit:\n{}",
        k1.log()
    );
    let exited = now() - stop;
    assert!(!has(&r1, vip), "VIP left on r1:\n{}", k1.log());
    let (sent, lost, gap) = seen_since(probe, stop - Duration::from_millis(100));
    let log1 = k1.log();
    eprintln!(
        "{tag}: {sent} echoes, {lost} lost, longest gap {gap:.1} ms; keepup exited {:.3} s after SIGTERM",
        exited.as_secs_f64()
    );
    assert!(sent > 300, "too few echoes: {sent}");
    assert_eq!(lost, 0, "lost echoes during the switchover:\n{log1}");
    assert!(
        log1.contains("took over; releasing the VIPs")
            || log1.contains("the new master announced the VIPs"),
        "{log1}"
    );
}

#[test]
fn netns_switchover_to_keepup_loses_nothing() {
    if !lab::root_or_skip("netns_switchover_to_keepup_loses_nothing") {
        return;
    }
    switchover("swku", true);
}

#[test]
fn netns_switchover_to_keepalived_loses_nothing() {
    if !lab::root_or_skip("netns_switchover_to_keepalived_loses_nothing") {
        return;
    }
    switchover("swka", false);
}

/// A restarted higher-priority keepup takes the VIP back (preemption) from keepup or
/// keepalived 2.2.7 without a lost echo: it announces the VIP before its first
/// advert, and the old Master lets go when it hears that advert.
fn preemption(tag: &str, old_keepup: bool) {
    let (lab, r1, r2, client) = lab_with_client(tag);
    let vip = IpAddr::V4(VIP);
    let k2 = Peer::start(&lab, &r2, old_keepup);
    assert!(wait_addr(&r2, vip, true, 10).is_some(), "{}", k2.log());
    let probe = probe_vip(&client);
    let restart = now();
    let k1 = keepup(&lab, &r1, CONF, "b");
    assert!(
        wait_addr(&r1, vip, true, 10).is_some(),
        "r1 did not preempt:\n{}",
        k1.log()
    );
    assert!(wait_addr(&r2, vip, false, 3).is_some(), "{}", k2.log());
    let (sent, lost, gap) = seen_since(probe, restart);
    eprintln!("{tag}: {sent} echoes, {lost} lost, longest gap {gap:.1} ms");
    assert!(sent > 1000, "too few echoes: {sent}");
    assert_eq!(lost, 0, "lost echoes during the preemption:\n{}", k1.log());
}

#[test]
fn netns_preemption_from_keepup_loses_nothing() {
    if !lab::root_or_skip("netns_preemption_from_keepup_loses_nothing") {
        return;
    }
    preemption("prku", true);
}

#[test]
fn netns_preemption_from_keepalived_loses_nothing() {
    if !lab::root_or_skip("netns_preemption_from_keepalived_loses_nothing") {
        return;
    }
    preemption("prka", false);
}

/// `keepup handover --runtime-dir DIR [NAME...]`, run as a command next to the
/// daemon: its stdout and whether it exited 0.
fn handover_command(lab: &lab::Lab, host: &Host, args: &[&str]) -> (String, bool) {
    let runtime = lab.dir().join(format!("{}-run", host.name()));
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_keepup"))
        .arg("handover")
        .arg("--runtime-dir")
        .arg(&runtime)
        .args(args)
        .output()
        .unwrap();
    (
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr),
        out.status.success(),
    )
}

/// `keepup handover` hands mastership to r2 (keepup or keepalived 2.2.7) without
/// stopping r1, and without a lost echo; r1 then stays Backup under the
/// lower-priority Master (no preemption) until `keepup handover --resume`, which
/// takes the VIP back (again without loss).
fn handover(tag: &str, successor_keepup: bool) {
    let Settled {
        lab,
        r1,
        r2,
        client,
        k1,
        k2,
        probe,
    } = settled(tag, successor_keepup);
    let vip = IpAddr::V4(VIP);
    let asked = now();
    let (out, ok) = handover_command(&lab, &r1, &[]);
    let answered = now() - asked;
    assert!(ok, "keepup handover failed: {out}\n{}", k1.log());
    assert!(
        out.contains("VI_1: handed over") && out.ends_with("ok\n"),
        "{out}"
    );
    assert!(has(&r2, vip) && !has(&r1, vip), "{out}\n{}", k1.log());
    // No preemption back: r1 (150) stays Backup under r2 (100).
    std::thread::sleep(Duration::from_secs(4));
    assert!(
        has(&r2, vip) && !has(&r1, vip),
        "r1 preempted back:\n{}",
        k1.log()
    );
    let (sent, lost, gap) = seen_since(probe, asked - Duration::from_millis(100));
    eprintln!(
        "{tag}: handover answered after {:.3} s: {out:?}; {sent} echoes, {lost} lost, longest gap {gap:.1} ms",
        answered.as_secs_f64()
    );
    assert_eq!(lost, 0, "lost echoes during the handover:\n{}", k1.log());

    // --resume: r1 preempts as configured, and that loses nothing either.
    let probe = probe_vip(&client);
    let resumed = now();
    let (out, ok) = handover_command(&lab, &r1, &["--resume", "VI_1"]);
    assert!(ok && out.contains("preempting as configured"), "{out}");
    assert!(
        wait_addr(&r1, vip, true, 6).is_some(),
        "r1 did not take the VIP back:\n{}",
        k1.log()
    );
    assert!(wait_addr(&r2, vip, false, 3).is_some(), "{}", k2.log());
    let (sent, lost, gap) = seen_since(probe, resumed);
    eprintln!("{tag}: resume: {sent} echoes, {lost} lost, longest gap {gap:.1} ms");
    assert_eq!(
        lost,
        0,
        "lost echoes when r1 took the VIP back:\n{}",
        k1.log()
    );

    // A name that is no instance is an error, and changes nothing.
    let (out, ok) = handover_command(&lab, &r1, &["VI_9"]);
    assert!(!ok && out.contains("no vrrp_instance VI_9"), "{out}");
    assert!(has(&r1, vip));
}

#[test]
fn netns_handover_command_to_keepup_loses_nothing() {
    if !lab::root_or_skip("netns_handover_command_to_keepup_loses_nothing") {
        return;
    }
    handover("hoku", true);
}

#[test]
fn netns_handover_command_to_keepalived_loses_nothing() {
    if !lab::root_or_skip("netns_handover_command_to_keepalived_loses_nothing") {
        return;
    }
    handover("hoka", false);
}
