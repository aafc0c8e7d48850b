use super::*;
use keepup_config::model::Secs;

fn m(words: &[&str], pm: Option<ParamMatch>, full: bool) -> ProcessMatch {
    ProcessMatch::new(&TrackProcess {
        process: words.iter().map(|w| (*w).to_string()).collect(),
        param_match: pm,
        full_command: full,
        ..TrackProcess::default()
    })
    .expect("a name")
}

fn p(comm: &str, argv: &[&str]) -> ProcInfo {
    ProcInfo {
        comm: comm.into(),
        argv: Some(argv.iter().map(|w| (*w).to_string()).collect()),
    }
}

#[test]
fn name_is_exact_like_pgrep_anchored() {
    let x = m(&["ssh"], None, false);
    assert!(!x.needs_argv());
    assert!(x.matches(&p("ssh", &[])));
    assert!(!x.matches(&p("sshd", &["/usr/sbin/sshd"])));
    assert!(!x.matches(&p("ss", &[])));
}

#[test]
fn long_names_use_argv0_basename() {
    let x = m(&["kpchk-0123456789abc"], None, false);
    assert!(x.needs_argv());
    assert!(x.matches(&p(
        "kpchk-012345678",
        &["/tmp/lab/kpchk-0123456789abc", "5"]
    )));
    assert!(!x.matches(&p("kpchk-012345678", &["/tmp/lab/kpchk-0123456789xyz"])));
    assert!(!x.matches(&p("other", &["/tmp/lab/kpchk-0123456789abc"])));
}

#[test]
fn full_command_compares_argv0() {
    let x = m(&["/usr/sbin/haproxy"], None, true);
    assert!(x.matches(&p("haproxy", &["/usr/sbin/haproxy", "-f", "x"])));
    assert!(!x.matches(&p("haproxy", &["haproxy", "-f", "x"])));
}

#[test]
fn parameters_per_param_match() {
    let exact = m(&["nginx", "-c", "/etc/a.conf"], None, false);
    assert!(exact.matches(&p("nginx", &["nginx", "-c", "/etc/a.conf"])));
    assert!(!exact.matches(&p("nginx", &["nginx", "-c", "/etc/a.conf", "-q"])));
    assert!(!exact.matches(&p("nginx", &["nginx", "-c"])));
    let partial = m(&["nginx", "-c"], Some(ParamMatch::Partial), false);
    assert!(partial.matches(&p("nginx", &["nginx", "-c", "/etc/a.conf"])));
    assert!(!partial.matches(&p("nginx", &["nginx", "-q", "-c"])));
    let initial = m(&["nginx", "-c", "/etc/a"], Some(ParamMatch::Initial), false);
    assert!(initial.matches(&p("nginx", &["nginx", "-c", "/etc/a.conf", "-q"])));
    assert!(!initial.matches(&p("nginx", &["nginx", "-c", "/etc/b.conf"])));
    assert!(!initial.matches(&p("nginx", &["nginx", "-c"])));
    let none = m(&["nginx"], Some(ParamMatch::Partial), false);
    assert!(
        none.matches(&p("nginx", &["nginx"])),
        "no parameters wanted"
    );
    assert!(!none.matches(&p("nginx", &["nginx", "-c"])));
    let any = m(&["nginx"], None, false);
    assert!(any.matches(&ProcInfo {
        comm: "nginx".into(),
        argv: None
    }));
}

fn quorum(q: u32, max: Option<u32>, fork: u64, term: u64) -> Quorum {
    Quorum::new(&TrackProcess {
        process: vec!["x".into()],
        quorum: q,
        quorum_max: max,
        fork_delay: (fork > 0).then(|| Secs::from_millis(fork)),
        terminate_delay: (term > 0).then(|| Secs::from_millis(term)),
        ..TrackProcess::default()
    })
}

#[test]
fn quorum_and_quorum_max() {
    let t0 = Instant::now();
    let mut q = quorum(2, Some(3), 0, 0);
    assert_eq!(q.settle(t0), Some(false), "the first state is reported");
    q.pids.insert(1);
    assert_eq!(q.settle(t0), None, "one of two is not enough");
    q.pids.insert(2);
    assert_eq!(q.settle(t0), Some(true));
    q.pids.insert(3);
    assert_eq!(q.settle(t0), None);
    q.pids.insert(4);
    assert_eq!(q.settle(t0), Some(false), "more than quorum_max");
    q.pids.remove(&4);
    assert_eq!(q.settle(t0), Some(true));
}

#[test]
fn delays_hold_back_rise_and_fall() {
    let t0 = Instant::now();
    let ms = Duration::from_millis;
    let mut q = quorum(1, None, 500, 2000);
    q.pids.insert(1);
    assert_eq!(q.settle(t0), Some(true), "at start no delay");
    q.pids.clear();
    assert_eq!(q.settle(t0), None, "the fall waits terminate_delay");
    assert_eq!(q.pending, Some((t0 + ms(2000), false)));
    assert_eq!(q.due(t0 + ms(1999)), None);
    assert_eq!(q.settle(t0 + ms(100)), None, "no re-arm on a repeat");
    assert_eq!(q.pending, Some((t0 + ms(2000), false)));
    assert_eq!(q.due(t0 + ms(2000)), Some(false));
    q.pids.insert(5);
    assert_eq!(q.settle(t0 + ms(3000)), None, "the rise waits fork_delay");
    assert_eq!(q.due(t0 + ms(3500)), Some(true));
    // A restart within terminate_delay is never seen by the instances.
    q.pids.clear();
    assert_eq!(q.settle(t0 + ms(4000)), None);
    q.pids.insert(6);
    assert_eq!(q.settle(t0 + ms(4100)), None);
    assert_eq!(q.pending, None);
    assert_eq!(q.due(t0 + ms(9000)), None);
    assert_eq!(q.up, Some(true));
}

#[test]
fn reads_this_process() {
    let me = i32::try_from(std::process::id()).expect("pid");
    let info = read_proc(me, true).expect("our own /proc entry");
    let argv0 = std::env::args().next().expect("argv0");
    assert_eq!(info.argv.as_ref().and_then(|a| a.first()), Some(&argv0));
    assert!(!info.comm.is_empty());
    assert!(scan(false).iter().any(|(p, _)| *p == me));
    assert_eq!(read_proc(i32::MAX, false), None);
}
/// Bindings as for scripts: a group's track_process reaches every member with
/// its weight; a member's own line is weight 0 (FAULT) unless
/// sync_group_tracking_weight; a line's weight overrides the tracker's.
#[test]
fn from_config_bindings() {
    let text = "vrrp_track_process a {\n process kpa\n weight -60\n quorum 2\n delay 1.5\n}\nvrrp_track_process b {\n process /usr/bin/kpb x\n full_command\n weight 10\n}\nvrrp_sync_group G {\n group {\n  VI_2\n }\n track_process {\n  a weight -5\n }\n}\nvrrp_instance VI_1 {\n interface eth0\n virtual_router_id 1\n priority 100\n virtual_ipaddress {\n  10.0.0.1\n }\n track_process {\n  a\n  b reverse\n }\n}\nvrrp_instance VI_2 {\n interface eth0\n virtual_router_id 2\n priority 100\n virtual_ipaddress {\n  10.0.0.2\n }\n track_process {\n  b\n }\n}\n";
    let opts = keepup_config::LoadOptions {
        interfaces: None,
        check_scripts: false,
        ..keepup_config::LoadOptions::for_this_host()
    };
    let cfg = keepup_config::load_str("test.conf", text, &opts).config;
    let plan = crate::plan::plan(&cfg, &|n| (n == "eth0").then_some(2)).expect("plan");
    let (t, problems) = Trackers::from_config(&cfg, &plan, 0);
    assert!(problems.is_empty(), "{problems:?}");
    let w = |name: &str| -> Vec<(usize, i32, bool)> {
        t.processes
            .iter()
            .find(|p| p.name == name)
            .expect("tracker")
            .bindings
            .iter()
            .map(|x| (x.instance.0, x.weight, x.reverse))
            .collect()
    };
    assert_eq!(w("a"), [(0, -60, false), (1, -5, false)]);
    assert_eq!(
        w("b"),
        [(0, 10, true), (1, 0, false)],
        "member weight zeroed"
    );
    let a = &t.processes[0];
    assert_eq!(a.quorum.quorum, 2);
    assert_eq!(a.quorum.fork_delay, Duration::from_millis(1500));
    assert_eq!(a.quorum.terminate_delay, Duration::from_millis(1500));
    let b = t.processes.iter().find(|p| p.name == "b").expect("b");
    assert_eq!(b.matcher.params, ["x"]);
    assert!(b.matcher.full_command);
}
/// A real process (a copy of sleep under a name of this test run's own) is
/// counted by a rescan and by exec/exit events, and forgotten when it is gone.
#[test]
fn rescan_and_events_follow_a_real_process() {
    use keepup_sys::ProcEvent;
    use keepup_vrrp::{InstanceId, TrackEffect::Weight};
    let me = std::process::id();
    let dir = std::env::temp_dir().join(format!("keepup-unit-{me}"));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let name = format!("kpu{me}");
    let prog = dir.join(&name);
    std::fs::copy("/bin/sleep", &prog).expect("copy sleep");
    let tp = TrackProcess {
        name: "chk".into(),
        process: vec![name],
        weight: -60,
        ..TrackProcess::default()
    };
    let b = Binding {
        instance: InstanceId(0),
        tracker: 7,
        weight: -60,
        reverse: false,
        last: None,
    };
    let mut t = Trackers {
        processes: vec![ProcessTracker::new(
            &tp,
            ProcessMatch::new(&tp).expect("name"),
            b,
        )],
        ..Trackers::default()
    };
    let now = Instant::now();
    assert_eq!(t.process_rescan(now), [(InstanceId(0), 7, Weight(-60))]);
    let spawn = || {
        std::process::Command::new(&prog)
            .arg("100")
            .spawn()
            .expect("spawn")
    };
    let mut child = spawn();
    let pid = i32::try_from(child.id()).expect("pid");
    // The exec may not have happened yet when the event is handled here; wait
    // for the name the way the kernel would report it (after the exec).
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while read_proc(pid, false).is_none_or(|i| i.comm != tp.process[0]) {
        assert!(std::time::Instant::now() < deadline, "child never exec'd");
        std::thread::sleep(Duration::from_millis(5));
    }
    assert_eq!(
        t.process_event(ProcEvent::Exec { pid, tgid: pid }, now),
        [(InstanceId(0), 7, Weight(0))]
    );
    assert!(t
        .process_event(ProcEvent::Exec { pid, tgid: pid }, now)
        .is_empty());
    child.kill().expect("kill");
    child.wait().expect("reap");
    assert_eq!(
        t.process_event(ProcEvent::Exit { pid, tgid: pid }, now),
        [(InstanceId(0), 7, Weight(-60))]
    );
    let mut child = spawn();
    let pid = i32::try_from(child.id()).expect("pid");
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while read_proc(pid, false).is_none_or(|i| i.comm != tp.process[0]) {
        assert!(std::time::Instant::now() < deadline, "child never exec'd");
        std::thread::sleep(Duration::from_millis(5));
    }
    assert_eq!(t.process_rescan(now), [(InstanceId(0), 7, Weight(0))]);
    child.kill().expect("kill");
    child.wait().expect("reap");
    assert_eq!(t.process_rescan(now), [(InstanceId(0), 7, Weight(-60))]);
    let _ = std::fs::remove_dir_all(&dir);
}
