//! The snapshot and its table, from an engine driven on virtual time (no sockets).
use super::*;
use keepup_vrrp::{IfIndex, Input, Instant};
use std::time::Duration;

const CONF: &str = "
vrrp_script chk_web {
    script /bin/true
    weight -30
    fall 1
}
vrrp_script chk_db {
    script /bin/true
    fall 1
}
vrrp_instance VI_1 {
    state BACKUP
    interface eth0
    virtual_router_id 51
    priority 150
    advert_int 1
    virtual_ipaddress {
        10.9.0.100/24
    }
    track_script {
        chk_web
    }
}
vrrp_instance VI_2 {
    state BACKUP
    interface eth1
    virtual_router_id 52
    priority 100
    advert_int 1
    virtual_ipaddress {
        10.9.1.100/24
    }
    track_script {
        chk_db
    }
}
vrrp_instance VI_3 {
    state BACKUP
    interface eth0
    virtual_router_id 53
    priority 100
    advert_int 1
    virtual_ipaddress {
        10.9.0.103/24
    }
}
vrrp_sync_group G1 {
    group {
        VI_2
        VI_3
    }
}
";

pub(crate) struct World {
    router: Router,
    plan: Plan,
    trackers: Trackers,
    transitions: HashMap<String, History>,
}

fn epoch(secs: u64) -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(secs)
}

fn daemon() -> DaemonStatus {
    DaemonStatus {
        version: "0.1.0".into(),
        pid: 4242,
        config_file: "/etc/keepalived/keepalived.conf".into(),
        config_digest: "00000000deadbeef".into(),
        started: 1_000.0,
        last_reload: None,
        reloads: 0,
        reload_failures: 0,
        firewall_failures: 0,
        rx_filter_strict: Vec::new(),
    }
}

/// VI_1 Master (its script fails: weight -30); VI_2 in FAULT (eth1 down, and its
/// weightless script failed), VI_3 with it through the sync group.
pub(crate) fn world() -> World {
    let opts = keepup_config::LoadOptions {
        interfaces: None,
        check_scripts: false,
        ..keepup_config::LoadOptions::for_this_host()
    };
    let cfg = keepup_config::load_str("test.conf", CONF, &opts).config;
    let ifindex = |n: &str| match n {
        "eth0" => Some(2),
        "eth1" => Some(3),
        _ => None,
    };
    let plan = crate::plan::plan(&cfg, &ifindex).unwrap();
    let (mut trackers, problems) = Trackers::from_config(&cfg, &plan, 0);
    assert!(problems.is_empty(), "{problems:?}");
    let mut router = Router::new(plan.instances.clone(), plan.groups.clone()).unwrap();
    let t0 = Instant::from_nanos(0);
    router.handle(t0, Input::Startup);
    router.handle_timeout(Instant::from_nanos(5_000_000_000));
    let mut inputs = Vec::new();
    for s in &mut trackers.scripts {
        inputs.extend(s.finished(false));
    }
    for (instance, tracker, effect) in inputs {
        router.handle(
            Instant::from_nanos(5_100_000_000),
            Input::Track {
                instance,
                tracker,
                effect,
            },
        );
    }
    router.handle(
        Instant::from_nanos(5_200_000_000),
        Input::Link {
            interface: IfIndex(3),
            up: false,
        },
    );
    while router.poll_output().is_some() {}
    let mut transitions = HashMap::new();
    for (name, from, reason) in [
        ("VI_1", State::Backup, Reason::MasterDown),
        ("VI_2", State::Master, Reason::Fault),
        ("VI_3", State::Master, Reason::SyncGroup),
    ] {
        transitions.insert(
            name.to_string(),
            History {
                last: Some(Transition {
                    at: epoch(1_005),
                    from,
                    reason,
                }),
                transitions: 1,
                duplicate_address: 0,
            },
        );
    }
    World {
        router,
        plan,
        trackers,
        transitions,
    }
}

pub(crate) fn snap(w: &World) -> Snapshot {
    snapshot(&w.router, &w.plan, &w.trackers, &daemon(), &w.transitions)
}

#[test]
fn the_table_says_state_priority_master_since_and_why() {
    let w = world();
    let s = snap(&w);
    assert_eq!(s.instances[0].state, "MASTER");
    assert_eq!(s.instances[0].effective_priority, 120);
    assert_eq!(s.instances[1].state, "FAULT");
    insta::assert_snapshot!(table(&s, epoch(1_080)));
}

#[test]
fn a_backup_without_a_master_heard_says_so() {
    let mut w = world();
    w.router = Router::new(w.plan.instances.clone(), w.plan.groups.clone()).unwrap();
    w.router.handle(Instant::from_nanos(0), Input::Startup);
    w.transitions.clear();
    let s = snap(&w);
    assert!(s.instances.iter().all(|i| i.state == "BACKUP"));
    insta::assert_snapshot!(table(&s, epoch(1_080)));
}

/// The JSON field names are an interface: tools map them to keepalived's.
#[test]
fn json_field_names_are_stable() {
    let w = world();
    let s = snap(&w);
    insta::assert_json_snapshot!(s.instances[1]);
    let back: Snapshot = serde_json::from_str(&serde_json::to_string(&s).unwrap()).unwrap();
    assert_eq!(back, s);
}

#[test]
fn ages_read_at_a_glance() {
    assert_eq!(render::ago(100.0, 145.0), "45s");
    assert_eq!(render::ago(0.0, 192.0), "3m12s");
    assert_eq!(render::ago(0.0, 7_500.0), "2h05m");
    assert_eq!(render::ago(0.0, 356_400.0), "4d03h");
    assert_eq!(
        render::ago(10.0, 5.0),
        "0s",
        "a clock step back is not negative"
    );
}

/// ha_suspend: the virtual server says its checkers are suspended and why, each timed
/// checker's next run reads `suspended`; a FILE_CHECK goes on.
#[test]
fn a_suspended_virtual_server_says_so() {
    use keepup_check::sched::{CheckerStatus, RsView, VsView};
    let w = world();
    let mut s = snap(&w);
    let checker = |kind: &str| CheckerStatus {
        kind: kind.into(),
        up: true,
        has_run: true,
        retries: 0,
        last_error: None,
        since: None,
        next_run: Some(1_085.0),
        last_duration: None,
        failures: Default::default(),
    };
    s.virtual_servers = vec![VsView {
        name: "[10.0.0.1]:tcp:80".into(),
        quorum: 1,
        hysteresis: 0,
        quorum_up: true,
        live_weight: 1,
        sorry_server: None,
        sorry_on: false,
        suspended: true,
        real_servers: vec![RsView {
            name: "[10.0.1.1]:tcp:80".into(),
            ip: None,
            port: None,
            alive: true,
            weight: 1,
            effective_weight: 1,
            pool_weight: Some(1),
            inhibit_on_failure: false,
            checkers: vec![
                {
                    let mut c = checker("TCP_CHECK");
                    c.last_duration = Some(0.012);
                    c.failures.count(keepup_check::sched::FailKind::Timeout);
                    c.failures.count(keepup_check::sched::FailKind::Timeout);
                    c.failures.count(keepup_check::sched::FailKind::Connect);
                    c
                },
                checker("FILE_CHECK"),
            ],
        }],
    }];
    let out = table(&s, epoch(1_080));
    assert!(
        out.contains(
            "[10.0.0.1]:tcp:80: quorum up (live weight 1, quorum 1 hysteresis 0), checkers \
             SUSPENDED (ha_suspend: address not on this host)"
        ),
        "{out}"
    );
    let line = |kind: &str| {
        out.lines()
            .find(|l| l.contains(kind))
            .unwrap_or_default()
            .to_string()
    };
    let cells = |kind: &str| -> Vec<String> {
        line(kind)
            .split("  ")
            .map(str::trim)
            .filter(|c| !c.is_empty())
            .map(String::from)
            .collect()
    };
    // NEXT, TOOK and FAILED (with the kinds when more than one).
    let tcp = cells("TCP_CHECK ok");
    assert!(
        tcp.ends_with(&[
            "suspended".into(),
            "12ms".into(),
            "3 (connect 1, timeout 2)".into()
        ]),
        "{out}"
    );
    assert!(
        cells("FILE_CHECK ok").ends_with(&["in 5s".into(), "-".into(), "0".into()]),
        "{out}"
    );
    assert!(line("REAL SERVER").contains("TOOK  FAILED"), "{out}");
    // An older status without the field still reads (not suspended).
    let json = serde_json::to_string(&s.virtual_servers[0]).unwrap();
    let old = json.replace(",\"suspended\":true", "");
    assert!(!old.contains("suspended"));
    let back: VsView = serde_json::from_str(&old).unwrap();
    assert!(!back.suspended);
}
