//! keepup and keepalived 2.2.7 in one virtual router, each in each role: the right
//! master is elected by priority, SIGKILL of either side moves the VIP to the other,
//! a priority-0 release is honoured, and after convergence the VIP is on exactly one
//! host. Root only; CI runs these serially.
#![allow(clippy::unwrap_used)]

mod common;
use common::{has, wait_addr};

use keepup_testkit::lab::{self, Host, Keepalived, Lab, Signal};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::{Duration, Instant};

const VIP4: IpAddr = IpAddr::V4(Ipv4Addr::new(10, 9, 0, 100));
const VIP6: IpAddr = IpAddr::V6(Ipv6Addr::new(0xfd00, 9, 0, 0, 0, 0, 0, 0x100));

/// One config text for both daemons: `@r1`/`@r2` lines pick the priority, and
/// `EXTRA` carries the variant (authentication, version, unicast, addresses).
fn conf(extra: &str) -> String {
    let vips = if extra.contains("fd00:9::100") {
        ""
    } else {
        "    virtual_ipaddress {\n        10.9.0.100/24\n    }\n"
    };
    format!(
        "vrrp_instance VI_1 {{
    state BACKUP
    interface eth0
    virtual_router_id 51
@r1 priority 150
@r2 priority 100
    advert_int 1
{extra}
{vips}}}
"
    )
}

enum Daemon {
    Keepup(lab::Proc),
    Keepalived(Keepalived),
}

impl Daemon {
    fn log(&self) -> String {
        match self {
            Daemon::Keepup(p) => p.log(),
            Daemon::Keepalived(k) => k.log(),
        }
    }
    fn kill(&self) {
        match self {
            Daemon::Keepup(p) => {
                p.kill(Signal::SIGKILL).unwrap();
            }
            Daemon::Keepalived(k) => {
                let _ = k.kill();
            }
        }
    }
    fn stop(&self) {
        match self {
            Daemon::Keepup(p) => {
                p.kill(Signal::SIGTERM).unwrap();
            }
            Daemon::Keepalived(k) => {
                let _ = k.stop();
            }
        }
    }
}

fn start(lab: &Lab, host: &Host, text: &str, keepup: bool, tag: &str) -> Daemon {
    if keepup {
        Daemon::Keepup(common::keepup(lab, host, text, tag))
    } else {
        Daemon::Keepalived(host.keepalived(text).unwrap())
    }
}

fn wait(h: &Host, ip: IpAddr, want: bool, secs: u64) -> bool {
    wait_addr(h, ip, want, secs).is_some()
}

/// r1 (150) and r2 (100); `keepup_on_r1` says which side runs keepup.
fn both_roles(extra: &str, keepup_on_r1: bool) {
    let text = conf(extra);
    let v6 = extra.contains("fd00:9::100");
    #[allow(non_snake_case)]
    let VIP = if v6 { VIP6 } else { VIP4 };
    let (lab, _lan, mut hosts) = common::routers("kinter", 2, v6);
    let r2 = hosts.pop().unwrap();
    let r1 = hosts.pop().unwrap();
    let text1 = text.replace("UNICAST_PEER", "10.9.0.2");
    let text2 = text.replace("UNICAST_PEER", "10.9.0.1");
    let d1 = start(&lab, &r1, &text1, keepup_on_r1, "a");
    let d2 = start(&lab, &r2, &text2, !keepup_on_r1, "a");
    // Election by priority; the VIP on exactly one host.
    assert!(
        wait(&r1, VIP, true, 10),
        "r1 (150) not master\nr1:\n{}\nr2:\n{}",
        d1.log(),
        d2.log()
    );
    std::thread::sleep(Duration::from_secs(2));
    assert!(
        has(&r1, VIP) && !has(&r2, VIP),
        "r1:\n{}\nr2:\n{}",
        d1.log(),
        d2.log()
    );

    // SIGKILL of the master moves the VIP to r2 within the down interval.
    let t = Instant::now();
    d1.kill();
    assert!(
        wait(&r2, VIP, true, 8),
        "r2 did not take over\n{}",
        d2.log()
    );
    let took = t.elapsed();
    assert!(
        took < Duration::from_millis(4700),
        "takeover after {took:?}"
    );

    // r1 comes back (keepup removes its stale VIP first) and preempts.
    let d1 = start(&lab, &r1, &text1, keepup_on_r1, "b");
    assert!(wait(&r1, VIP, true, 10), "r1 did not preempt\n{}", d1.log());
    assert!(wait(&r2, VIP, false, 5), "VIP stayed on r2\n{}", d2.log());

    // A priority-0 release (graceful stop of r1) is honoured at r2's skew time.
    let t = Instant::now();
    d1.stop();
    assert!(
        wait(&r2, VIP, true, 5),
        "r2 ignored the release\n{}",
        d2.log()
    );
    let took = t.elapsed();
    assert!(
        took < Duration::from_millis(1600),
        "release takeover after {took:?}"
    );
    assert!(
        wait(&r1, VIP, false, 3),
        "VIP left on r1 after a graceful stop"
    );

    // SIGKILL of r2 while r1 is gone: nothing breaks; start r1 again and kill r2:
    // the VIP moves to r1.
    let d1 = start(&lab, &r1, &text1, keepup_on_r1, "c");
    assert!(wait(&r1, VIP, true, 10), "{}", d1.log());
    assert!(wait(&r2, VIP, false, 5));
    d2.kill();
    std::thread::sleep(Duration::from_secs(4));
    assert!(
        has(&r1, VIP) && !has(&r2, VIP) || !has(&r1, VIP),
        "{}",
        d1.log()
    );
    assert!(
        has(&r1, VIP),
        "r1 lost the VIP when the backup died\n{}",
        d1.log()
    );
}

macro_rules! interop {
    ($name_a:ident, $name_b:ident, $extra:expr) => {
        #[test]
        fn $name_a() {
            if lab::root_or_skip(stringify!($name_a)) {
                both_roles($extra, true);
            }
        }
        #[test]
        fn $name_b() {
            if lab::root_or_skip(stringify!($name_b)) {
                both_roles($extra, false);
            }
        }
    };
}

interop!(
    netns_interop_v2_keepup_master,
    netns_interop_v2_keepalived_master,
    ""
);
interop!(
    netns_interop_v2_pass_keepup_master,
    netns_interop_v2_pass_keepalived_master,
    "    authentication {\n        auth_type PASS\n        auth_pass secret1\n    }"
);
interop!(
    netns_interop_v2_ah_keepup_master,
    netns_interop_v2_ah_keepalived_master,
    "    authentication {\n        auth_type AH\n        auth_pass secret1\n    }"
);
interop!(
    netns_interop_v3_keepup_master,
    netns_interop_v3_keepalived_master,
    "    version 3"
);
interop!(
    netns_interop_unicast_keepup_master,
    netns_interop_unicast_keepalived_master,
    "    unicast_peer {\n        UNICAST_PEER\n    }"
);
interop!(
    netns_interop_v3_ipv6_keepup_master,
    netns_interop_v3_ipv6_keepalived_master,
    "    virtual_ipaddress {\n        fe80::100/64\n        fd00:9::100/64\n    }"
);

/// Ledger: KA-02
/// A keepup with `state MASTER` (priority 100) restarting next to a keepalived Master
/// (150) while that Master's first advert after each start is lost (an nft rule in
/// keepup's namespace drops one, then the test removes it) stays Backup: no
/// `Entering MASTER STATE`, the VIP never on r2, keepalived never hears a rival.
/// Three restarts, so three phases against keepalived's adverts.
#[test]
fn netns_restart_with_state_master_survives_one_lost_advert() {
    if !lab::root_or_skip("netns_restart_with_state_master_survives_one_lost_advert") {
        return;
    }
    let (lab, _lan, mut hosts) = common::routers("krestart", 2, false);
    let r2 = hosts.pop().unwrap();
    let r1 = hosts.pop().unwrap();
    let text = conf("").replace("@r2 priority 100", "@r2 priority 100\n@r2 state MASTER");
    let ka = r1.keepalived(&text).unwrap();
    assert!(
        wait(&r1, VIP4, true, 10),
        "keepalived not master\n{}",
        ka.log()
    );
    let drop_one = "table inet kr_lost {
    chain input {
        type filter hook input priority -10;
        ip protocol vrrp counter drop
    }
}";
    for round in 0..3 {
        r2.nft(drop_one).unwrap();
        let tag = format!("r{round}");
        let d = common::keepup(&lab, &r2, &text, &tag);
        let dropped = || {
            let out = r2
                .run(["nft", "list", "table", "inet", "kr_lost"])
                .unwrap_or_default();
            out.split("packets ")
                .nth(1)
                .and_then(|s| s.split(' ').next()?.parse::<u32>().ok())
                .unwrap_or(0)
        };
        let seen = lab::wait_until(Duration::from_secs(5), Duration::from_millis(5), || {
            dropped() > 0
        });
        let n = dropped();
        r2.nft("delete table inet kr_lost").unwrap();
        assert!(seen.is_some() && n == 1, "{n} adverts dropped\n{}", d.log());
        // Past keepup's down interval (3.61 s from start) with margin.
        std::thread::sleep(Duration::from_secs(5));
        let log = d.log();
        assert!(log.contains("Entering BACKUP STATE"), "{log}");
        assert!(
            !log.contains("Entering MASTER STATE"),
            "round {round}:\n{log}"
        );
        assert!(!has(&r2, VIP4) && has(&r1, VIP4), "round {round}:\n{log}");
        d.kill(Signal::SIGTERM).unwrap();
        assert!(d.wait_timeout(Duration::from_secs(10)).is_some());
    }
    let kalog = ka.log();
    let as_master = kalog.split_once("Entering MASTER STATE").unwrap().1;
    assert!(
        !as_master.contains("Entering BACKUP STATE") && !as_master.contains("higher priority"),
        "{kalog}"
    );
}
