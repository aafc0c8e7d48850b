use super::*;
use keepup_config::{load_str, LoadOptions};
use keepup_vrrp::config::InstanceConfig;
use keepup_vrrp::IfIndex;

fn config(line: &str) -> Config {
    let text = format!("global_defs {{\n {line}\n}}\n");
    load_str("t.conf", &text, &LoadOptions::default()).config
}

fn instances() -> Vec<InstanceConfig> {
    vec![
        InstanceConfig::new("VI_1", 51, IfIndex(2), vec![]),
        InstanceConfig::new("VI_2", 52, IfIndex(2), vec![]),
    ]
}

fn daemon(state: SyncState, syncid: u32) -> SyncDaemon {
    SyncDaemon {
        state,
        ifname: "eth1".into(),
        syncid,
        sync_maxlen: None,
        mcast_group: None,
        mcast_port: None,
        mcast_ttl: None,
    }
}

/// As the kernel reports a daemon started with defaults.
fn reported(state: SyncState, syncid: u32) -> SyncDaemon {
    SyncDaemon {
        sync_maxlen: Some(1472),
        mcast_group: Some(DEFAULT_GROUP),
        mcast_port: Some(DEFAULT_PORT),
        mcast_ttl: Some(DEFAULT_TTL),
        ..daemon(state, syncid)
    }
}

#[test]
fn syncid_defaults_to_the_instance_vrid() {
    let s = settings(&config("lvs_sync_daemon eth1 VI_2"), &instances()).unwrap();
    assert_eq!(s.instance.as_deref(), Some("VI_2"));
    assert_eq!(s.daemon.syncid, 52);
    let s = settings(&config("lvs_sync_daemon eth1 inst VI_2 id 7"), &instances()).unwrap();
    assert_eq!(s.daemon.syncid, 7);
}

#[test]
fn without_an_instance_syncid_is_zero_and_both_run() {
    let s = settings(&config("lvs_sync_daemon eth1"), &instances()).unwrap();
    assert_eq!((s.instance.clone(), s.daemon.syncid), (None, 0));
    for master in [false, true] {
        let w = wanted(Some(&s), master);
        assert_eq!(
            w,
            [daemon(SyncState::Master, 0), daemon(SyncState::Backup, 0)]
        );
    }
}

#[test]
fn an_unknown_instance_clears_the_setting() {
    assert_eq!(
        settings(&config("lvs_sync_daemon eth1 VI_9"), &instances()),
        None
    );
    assert_eq!(settings(&config(""), &instances()), None);
    assert!(wanted(None, true).is_empty());
}

#[test]
fn the_instance_state_picks_one_daemon() {
    let s = settings(&config("lvs_sync_daemon eth1 VI_1"), &instances()).unwrap();
    assert_eq!(wanted(Some(&s), true), [daemon(SyncState::Master, 51)]);
    assert_eq!(wanted(Some(&s), false), [daemon(SyncState::Backup, 51)]);
}

#[test]
fn options_reach_the_daemon() {
    let line = "lvs_sync_daemon eth1 VI_1 maxlen 1400 port 9000 ttl 3 group 239.1.1.1";
    let s = settings(&config(line), &instances()).unwrap();
    let d = &s.daemon;
    assert_eq!(
        (d.sync_maxlen, d.mcast_port, d.mcast_ttl, d.mcast_group),
        (
            Some(1400),
            Some(9000),
            Some(3),
            Some("239.1.1.1".parse().unwrap())
        )
    );
}

#[test]
fn becoming_master_stops_backup_then_starts_master() {
    let want = [daemon(SyncState::Master, 51)];
    let running = [reported(SyncState::Backup, 51)];
    assert_eq!(
        plan(&want, &running),
        [
            DaemonOp::Stop(SyncState::Backup),
            DaemonOp::Start(daemon(SyncState::Master, 51))
        ]
    );
}

#[test]
fn a_daemon_running_as_wanted_is_left_alone() {
    let want = [daemon(SyncState::Backup, 51)];
    assert!(plan(&want, &[reported(SyncState::Backup, 51)]).is_empty());
}

#[test]
fn changed_settings_restart_the_daemon() {
    // Another id, another interface, or a default changed to a set value.
    let want = [daemon(SyncState::Backup, 7)];
    let restart = vec![
        DaemonOp::Stop(SyncState::Backup),
        DaemonOp::Start(daemon(SyncState::Backup, 7)),
    ];
    assert_eq!(plan(&want, &[reported(SyncState::Backup, 51)]), restart);
    let other_if = SyncDaemon {
        ifname: "eth0".into(),
        ..reported(SyncState::Backup, 7)
    };
    assert_eq!(plan(&want, &[other_if]), restart);
    let other_port = SyncDaemon {
        mcast_port: Some(9000),
        ..reported(SyncState::Backup, 7)
    };
    assert_eq!(plan(&want, &[other_port]), restart);
    let want_port = [SyncDaemon {
        mcast_port: Some(9000),
        ..daemon(SyncState::Backup, 7)
    }];
    assert_eq!(plan(&want_port, &[reported(SyncState::Backup, 7)]).len(), 2);
}

#[test]
fn at_start_leftovers_of_a_previous_run_are_stopped() {
    let want = [daemon(SyncState::Backup, 51)];
    let running = [
        reported(SyncState::Master, 51),
        reported(SyncState::Backup, 51),
    ];
    assert_eq!(plan(&want, &running), [DaemonOp::Stop(SyncState::Master)]);
    // Not configured any more: what runs is stopped.
    assert_eq!(
        plan(&[], &running),
        [
            DaemonOp::Stop(SyncState::Master),
            DaemonOp::Stop(SyncState::Backup)
        ]
    );
}
