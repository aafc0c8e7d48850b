//! Operator scenarios from issue 5, end to end with real keepup daemons in network
//! namespaces: the maintenance-file dual-master pattern (track_file and the shell
//! `vrrp_script` form), a sync group following one member's failed script (and a
//! group-level track_script) with the group's notify scripts, and a hung script's
//! runs starting on time. Root only; CI runs these serially.
#![allow(clippy::unwrap_used)]

mod common;
use common::{has, keepup, routers};

use keepup_testkit::lab::{self, wait_until, Host, Lab, Proc};
use std::net::{IpAddr, Ipv4Addr};
use std::path::Path;
use std::time::{Duration, Instant};

const VIP_A: IpAddr = IpAddr::V4(Ipv4Addr::new(10, 9, 0, 101));
const VIP_B: IpAddr = IpAddr::V4(Ipv4Addr::new(10, 9, 0, 102));

fn two(tag: &str) -> (Lab, Host, Host) {
    let (lab, _lan, mut hosts) = routers(tag, 2, false);
    let r2 = hosts.pop().unwrap();
    let r1 = hosts.pop().unwrap();
    (lab, r1, r2)
}

/// One `vrrp_instance` block; `extra` goes inside it as given.
fn instance(name: &str, vrid: u8, prio: u8, vip: IpAddr, extra: &str) -> String {
    format!(
        "vrrp_instance {name} {{
    state BACKUP
    interface eth0
    virtual_router_id {vrid}
    priority {prio}
    advert_int 1
    virtual_ipaddress {{
        {vip}/24
    }}
{extra}}}
"
    )
}

/// Wait up to `secs` for `cond`, checking at every poll that VIP B is on r2 and
/// only there (B never moves in the dual-master scenario). `None` on timeout.
fn wait_b_steady(
    r1: &Host,
    r2: &Host,
    secs: u64,
    mut cond: impl FnMut() -> bool,
) -> Option<Duration> {
    wait_until(Duration::from_secs(secs), Duration::from_millis(20), || {
        assert!(
            has(r2, VIP_B) && !has(r1, VIP_B),
            "VIP B moved (r1 {}, r2 {})",
            has(r1, VIP_B),
            has(r2, VIP_B)
        );
        cond()
    })
}

/// How many times `line` is in `log`.
fn times(log: &str, line: &str) -> usize {
    log.matches(line).count()
}

/// The maintenance pattern on a dual-master pair: r1 is master of VI_1 (VIP A,
/// 150 vs 100), r2 of VI_2 (VIP B, 150 vs 100); every instance tracks its host's
/// maintenance marker with weight -100 (given by `tracker(host)` as config text,
/// tracked by `track` inside each instance). `enter` puts r1 in maintenance: A moves
/// to r2 (r2 then holds both); `leave` ends it: r1 preempts A back. B never moves.
/// Returns (enter -> A on r2, leave -> A on r1).
fn dual_master(
    tag: &str,
    tracker: impl Fn(&Path, &str) -> String,
    track: &str,
    enter: impl Fn(&Path),
    leave: impl Fn(&Path),
) -> (Duration, Duration) {
    let (lab, r1, r2) = two(tag);
    let dir = lab.dir().to_path_buf();
    let conf = |host: &str, p1: u8, p2: u8| {
        format!(
            "{}\n{}{}",
            tracker(&dir, host),
            instance("VI_1", 51, p1, VIP_A, track),
            instance("VI_2", 52, p2, VIP_B, track)
        )
    };
    let k1 = keepup(&lab, &r1, &conf("r1", 150, 100), "a");
    let k2 = keepup(&lab, &r2, &conf("r2", 100, 150), "a");
    let logs = |k1: &Proc, k2: &Proc| format!("r1:\n{}\nr2:\n{}", k1.log(), k2.log());
    assert!(
        wait_until(Duration::from_secs(12), Duration::from_millis(20), || {
            has(&r1, VIP_A) && has(&r2, VIP_B)
        })
        .is_some(),
        "no dual master:\n{}",
        logs(&k1, &k2)
    );
    // Settled: each side's other instance is Backup and the peers agree.
    k1.wait_for_log("(VI_2) Entering BACKUP STATE", Duration::from_secs(3))
        .unwrap();
    k2.wait_for_log("(VI_1) Entering BACKUP STATE", Duration::from_secs(3))
        .unwrap();
    assert!(wait_b_steady(&r1, &r2, 2, || !has(&r2, VIP_A)).is_some());

    enter(&dir);
    let t = Instant::now();
    assert!(
        wait_b_steady(&r1, &r2, 12, || has(&r2, VIP_A)).is_some(),
        "A did not move to r2:\n{}",
        logs(&k1, &k2)
    );
    let moved = t.elapsed();
    assert!(
        wait_b_steady(&r1, &r2, 2, || !has(&r1, VIP_A)).is_some(),
        "A left on r1:\n{}",
        k1.log()
    );
    eprintln!("{tag}: maintenance on r1 -> r2 holds A and B after {moved:?}");
    // Stay in maintenance a while: A must stay on r2.
    assert!(wait_b_steady(&r1, &r2, 3, || !has(&r2, VIP_A) || has(&r1, VIP_A)).is_none());

    leave(&dir);
    let t = Instant::now();
    assert!(
        wait_b_steady(&r1, &r2, 12, || has(&r1, VIP_A)).is_some(),
        "r1 did not take A back:\n{}",
        logs(&k1, &k2)
    );
    let back = t.elapsed();
    assert!(
        wait_b_steady(&r1, &r2, 3, || !has(&r2, VIP_A)).is_some(),
        "A left on r2:\n{}",
        k2.log()
    );
    eprintln!("{tag}: maintenance over -> r1 holds A again after {back:?}");
    assert!(wait_b_steady(&r1, &r2, 2, || false).is_none());

    // What the logs say: B never changed hands, A went and came back once.
    let (l1, l2) = (k1.log(), k2.log());
    assert_eq!(times(&l2, "(VI_2) Entering MASTER STATE"), 1, "{l2}");
    assert_eq!(times(&l1, "(VI_2) Entering MASTER STATE"), 0, "{l1}");
    assert_eq!(times(&l1, "(VI_1) Entering MASTER STATE"), 2, "{l1}");
    assert_eq!(times(&l2, "(VI_1) Entering MASTER STATE"), 1, "{l2}");
    assert!(
        !l1.contains("FAULT"),
        "a weighted tracker must not FAULT:\n{l1}"
    );
    (moved, back)
}

/// `track_file maint` with weight -100 in both instances, keepalived's maintenance
/// pattern: `echo 1 > file` takes 100 off every instance of the host (a file's
/// value times the weight; an empty or missing file counts 0), `rm` gives it back.
/// A moves within the file poll (1 s) + an advert (1 s) + Master_Down_Interval
/// (3.61 s); back within the poll + r1's down interval (3.41 s).
#[test]
fn netns_maintenance_track_file_dual_master() {
    if !lab::root_or_skip("netns_maintenance_track_file_dual_master") {
        return;
    }
    let (moved, back) = dual_master(
        "mfile",
        |dir, host| {
            format!(
                "track_file maint {{\n    file \"{}/maint-{host}\"\n    weight -100\n}}",
                dir.display()
            )
        },
        "    track_file {\n        maint\n    }\n",
        |dir| std::fs::write(dir.join("maint-r1"), "1\n").unwrap(),
        |dir| std::fs::remove_file(dir.join("maint-r1")).unwrap(),
    );
    assert!(
        moved < Duration::from_millis(8500),
        "A moved after {moved:?}"
    );
    assert!(
        back < Duration::from_millis(7500),
        "A came back after {back:?}"
    );
}

/// The same with the common shell-syntax script (run under /bin/sh -c): `touch
/// down` fails the check (weight -100), `rm` passes it. A moves within an interval
/// (1 s) + an advert + Master_Down_Interval; back within an interval + 3.41 s.
#[test]
fn netns_maintenance_shell_script_dual_master() {
    if !lab::root_or_skip("netns_maintenance_shell_script_dual_master") {
        return;
    }
    let (moved, back) = dual_master(
        "mscr",
        |dir, host| {
            format!(
                "vrrp_script maint {{\n    script \"[ -f {}/down-{host} ] && exit 1 || exit 0\"\n    interval 1\n    weight -100\n}}",
                dir.display()
            )
        },
        "    track_script {\n        maint\n    }\n",
        |dir| std::fs::write(dir.join("down-r1"), "").unwrap(),
        |dir| std::fs::remove_file(dir.join("down-r1")).unwrap(),
    );
    assert!(
        moved < Duration::from_millis(8500),
        "A moved after {moved:?}"
    );
    assert!(
        back < Duration::from_millis(7500),
        "A came back after {back:?}"
    );
}
