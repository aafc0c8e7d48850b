use super::*;
use TrackEffect::{Fault, Weight};

/// Feed results; the states after each.
fn run(s: &mut ScriptState, results: &[bool]) -> Vec<Option<bool>> {
    results
        .iter()
        .map(|&r| {
            s.record(r);
            s.ok()
        })
        .collect()
}

#[test]
fn first_result_decides_at_once() {
    let mut s = ScriptState::new(3, 3, false);
    assert_eq!(s.ok(), None);
    assert_eq!(s.record(false), Some(false));
    let mut s = ScriptState::new(3, 3, false);
    assert_eq!(s.record(true), Some(true));
}

#[test]
fn fall_failures_to_fail_rise_successes_to_recover() {
    let mut s = ScriptState::new(2, 3, false);
    s.record(true);
    assert_eq!(
        run(&mut s, &[false, false, true, false, false, false]),
        [
            Some(true),
            Some(true),
            Some(true),
            Some(true),
            Some(true),
            Some(false)
        ],
        "a success resets the fall count"
    );
    assert_eq!(
        run(&mut s, &[true, false, true, true]),
        [Some(false), Some(false), Some(false), Some(true)],
        "a failure resets the rise count"
    );
}

#[test]
fn init_fail_starts_failed_and_needs_rise() {
    let mut s = ScriptState::new(2, 1, true);
    assert_eq!(s.ok(), Some(false));
    assert_eq!(s.record(true), None);
    assert_eq!(s.record(true), Some(true));
    assert_eq!(s.record(false), Some(false));
}

#[test]
fn weights_as_the_man_page_says() {
    // Positive: added while up. Negative: subtracted while down.
    assert_eq!(up_down_effect(true, 10, false), Weight(10));
    assert_eq!(up_down_effect(false, 10, false), Weight(0));
    assert_eq!(up_down_effect(true, -60, false), Weight(0));
    assert_eq!(up_down_effect(false, -60, false), Weight(-60));
    // Reverse: decreased when up, increased when down.
    assert_eq!(up_down_effect(true, 10, true), Weight(-10));
    assert_eq!(up_down_effect(false, 10, true), Weight(0));
    assert_eq!(up_down_effect(true, -60, true), Weight(0));
    assert_eq!(up_down_effect(false, -60, true), Weight(60));
    // Weight 0: FAULT while down; with reverse, while up.
    assert_eq!(up_down_effect(false, 0, false), Fault(true));
    assert_eq!(up_down_effect(true, 0, false), Fault(false));
    assert_eq!(up_down_effect(true, 0, true), Fault(true));
}

#[test]
fn file_values() {
    assert_eq!(file_effect(0, 0, false), Fault(false));
    assert_eq!(file_effect(3, 0, false), Fault(true));
    assert_eq!(file_effect(3, 10, false), Weight(30));
    assert_eq!(file_effect(3, 10, true), Weight(-30));
    assert_eq!(file_effect(-30, 10, false), Fault(true));
    assert_eq!(parse_file_value(" -12abc\n"), -12);
    assert_eq!(parse_file_value("x"), 0);
    assert_eq!(parse_file_value(""), 0);
}

#[test]
fn tracker_feeds_only_changes() {
    let mut t = ScriptTracker {
        spec: std::sync::Arc::new(ScriptSpec {
            name: "chk".into(),
            argv: vec![],
            user: None,
            timeout: Duration::from_secs(1),
        }),
        interval: Duration::from_secs(1),
        state: ScriptState::new(2, 2, false),
        bindings: vec![
            Binding {
                instance: InstanceId(0),
                tracker: 0,
                weight: -60,
                reverse: false,
                last: None,
            },
            Binding {
                instance: InstanceId(1),
                tracker: 1,
                weight: 0,
                reverse: false,
                last: None,
            },
        ],
        running: None,
        next_run: tokio::time::Instant::now(),
        last_status: None,
    };
    assert_eq!(
        t.initial(),
        [(InstanceId(1), 1, TrackEffect::Pending)],
        "a weight-0 binding waits for the first result"
    );
    assert_eq!(
        t.finished(true),
        [
            (InstanceId(0), 0, Weight(0)),
            (InstanceId(1), 1, Fault(false))
        ]
    );
    assert!(t.finished(true).is_empty());
    assert!(
        t.finished(false).is_empty(),
        "fall 2: one failure is not enough"
    );
    assert_eq!(
        t.finished(false),
        [
            (InstanceId(0), 0, Weight(-60)),
            (InstanceId(1), 1, Fault(true))
        ]
    );
}

#[test]
fn argv_like_keepalived() {
    assert_eq!(
        script_argv("/bin/sh -c 'test ! -e /tmp/x'"),
        ["/bin/sh", "-c", "test ! -e /tmp/x"]
    );
    assert_eq!(script_argv("killall -0 nginx"), ["killall", "-0", "nginx"]);
    assert_eq!(
        script_argv("pidof nginx && true"),
        ["/bin/sh", "-c", "pidof nginx && true"]
    );
    assert_eq!(script_argv(r#"a "b c" d\ e"#), ["a", "b c", "d e"]);
}

fn load(text: &str) -> (Config, Plan) {
    let opts = keepup_config::LoadOptions {
        interfaces: None,
        check_scripts: false,
        ..keepup_config::LoadOptions::for_this_host()
    };
    let cfg = keepup_config::load_str("test.conf", text, &opts).config;
    let plan = crate::plan::plan(&cfg, &|n| (n == "eth0").then_some(2)).unwrap();
    (cfg, plan)
}

/// A sync group's track_script reaches every member with its weight; a member's
/// own weighted script counts as weight 0 (FAULT) unless
/// sync_group_tracking_weight; every (tracker, instance) pair has its own id.
#[test]
fn sync_group_tracking_and_ids() {
    let (cfg, plan) = load(
        "vrrp_script a {\n script /bin/true\n weight -20\n}\nvrrp_script b {\n script \"/bin/false x\"\n weight 5 reverse\n fall 3\n}\ntrack_file f {\n file /nonexistent/keepup-f\n weight 3\n}\nvrrp_sync_group G {\n group {\n  VI_1\n  VI_2\n }\n track_script {\n  a\n }\n track_file {\n  f weight -2\n }\n}\nvrrp_instance VI_1 {\n interface eth0\n virtual_router_id 1\n priority 100\n virtual_ipaddress {\n  10.0.0.1\n }\n track_script {\n  b\n }\n}\nvrrp_instance VI_2 {\n interface eth0\n virtual_router_id 2\n priority 100\n virtual_ipaddress {\n  10.0.0.2\n }\n track_interface {\n  eth1 weight 10\n }\n}\n",
    );
    let (t, problems) = Trackers::from_config(&cfg, &plan, 0);
    assert!(problems.is_empty(), "{problems:?}");
    let a = t.scripts.iter().find(|s| s.spec.name == "a").unwrap();
    let b = t.scripts.iter().find(|s| s.spec.name == "b").unwrap();
    let w = |bs: &[Binding]| -> Vec<(usize, i32, bool)> {
        bs.iter()
            .map(|x| (x.instance.0, x.weight, x.reverse))
            .collect()
    };
    assert_eq!(w(&a.bindings), [(0, -20, false), (1, -20, false)]);
    assert_eq!(w(&b.bindings), [(0, 0, true)], "member weight zeroed");
    assert_eq!(b.spec.argv, ["/bin/false", "x"]);
    assert_eq!(b.spec.timeout, Duration::from_secs(1), "timeout = interval");
    assert_eq!(w(&t.interfaces[0].bindings), [(1, 0, false)]);
    assert_eq!(w(&t.files[0].bindings), [(0, -2, false), (1, -2, false)]);
    assert_eq!(t.files[0].read(), 0, "a missing file reads 0");
    let mut ids: Vec<u32> = t.bindings().map(|x| x.tracker).collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), 6);
    assert_eq!(t.next_id, 6);
}

/// A reload keeps what unchanged scripts know (and their run in progress) under
/// new tracker ids; a changed command starts unknown and its run is returned to
/// be killed.
#[test]
fn reload_adopts_unchanged_scripts() {
    let text = |b: &str, rise: u32| {
        format!("vrrp_script a {{\n script /bin/true\n rise {rise}\n}}\nvrrp_script b {{\n script \"{b}\"\n}}\nvrrp_instance VI_1 {{\n interface eth0\n virtual_router_id 1\n priority 100\n virtual_ipaddress {{\n  10.0.0.1\n }}\n track_script {{\n  a\n  b\n }}\n}}\n")
    };
    let (cfg, plan) = load(&text("/bin/false", 2));
    let (mut old, _) = Trackers::from_config(&cfg, &plan, 0);
    for s in &mut old.scripts {
        s.state.record(false);
        s.running = Some(4242);
    }
    let (cfg, plan) = load(&text("/bin/false x", 3));
    let (mut new, _) = Trackers::from_config(&cfg, &plan, old.next_id);
    assert!(
        new.bindings().all(|b| b.tracker >= 2),
        "ids are never reused"
    );
    let orphans = new.adopt(old);
    let a = &new.scripts[0];
    assert_eq!((a.state.ok(), a.running), (Some(false), Some(4242)));
    assert_eq!(a.state.rise, 3);
    let b = &new.scripts[1];
    assert_eq!((b.state.ok(), b.running), (None, None));
    assert_eq!(orphans, [4242]);
}

#[test]
fn carried_state_keeps_the_verdict() {
    let mut s = ScriptState::new(2, 2, false);
    assert_eq!(s.carried(5, 5).ok(), None);
    s.record(true);
    let c = s.carried(5, 5);
    assert_eq!(c.ok(), Some(true));
    let mut c2 = c.clone();
    for _ in 0..4 {
        assert_eq!(c2.record(false), None, "fall 5 needs 5 failures");
    }
    assert_eq!(c2.record(false), Some(false));
    s.record(false);
    s.record(false);
    assert_eq!(s.carried(1, 1).ok(), Some(false));
}
