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
use std::time::{Duration, Instant, SystemTime};

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
    // Count transitions from here: the two daemons start a few hundred ms apart,
    // so r2 may briefly claim A before it hears r1's first advert (start-up, not
    // the scenario); that is over within an advert.
    std::thread::sleep(Duration::from_millis(1500));
    let (m1, m2) = (k1.log().len(), k2.log().len());
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
    let (s1, s2) = (&l1[m1..], &l2[m2..]);
    assert_eq!(times(s2, "(VI_2) Entering"), 0, "{l2}");
    assert_eq!(times(s1, "(VI_2) Entering"), 0, "{l1}");
    assert_eq!(times(s1, "(VI_1) Entering MASTER STATE"), 1, "{l1}");
    assert_eq!(times(s2, "(VI_1) Entering MASTER STATE"), 1, "{l2}");
    assert!(
        !l1.contains("duplicate address") && !l2.contains("duplicate address"),
        "a preemption is not a duplicate address:\n{}",
        logs(&k1, &k2)
    );
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

/// The daemon under test on a host: keepup, or keepalived 2.2.7 as the reference
/// the scenario's expectations were checked against.
enum Daemon {
    Keepup(Proc),
    Keepalived(lab::Keepalived),
}

impl Daemon {
    fn start(lab: &Lab, host: &Host, conf: &str, keepalived: bool) -> Daemon {
        if keepalived {
            Daemon::Keepalived(host.keepalived(conf).unwrap())
        } else {
            Daemon::Keepup(keepup(lab, host, conf, "a"))
        }
    }

    fn log(&self) -> String {
        match self {
            Daemon::Keepup(p) => p.log(),
            Daemon::Keepalived(k) => k.log(),
        }
    }
}

/// A notify script that appends its arguments after the first to the file named by
/// the first: `note.sh FILE WORD...`.
fn note_script(dir: &Path) -> String {
    let path = dir.join("note.sh");
    std::fs::write(&path, "#!/bin/sh\nf=$1\nshift\necho \"$*\" >> \"$f\"\n").unwrap();
    std::fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    path.display().to_string()
}

/// The lines a host's group notify scripts wrote so far.
fn notes(dir: &Path, host: &str) -> Vec<String> {
    std::fs::read_to_string(dir.join(format!("notes-{host}")))
        .unwrap_or_default()
        .lines()
        .map(str::to_string)
        .collect()
}

/// Where the group-level checks go: the member VI_1's own track_script (a member's
/// weight is zeroed without sync_group_tracking_weight: FAULT, and the group
/// follows), or the sync group's track_script (its weight -60 reaches every member).
#[derive(Clone, Copy, PartialEq, Eq)]
enum GroupCheck {
    Member,
    Group,
}

/// VI_1's own line for the member check: weight 0 says "FAULT on failure" in so
/// many words. (keepalived 2.2.7 drops a sync-group member's weighted track_script
/// altogether: "ignoring tracked script chk with weights due to SYNC group".)
const MEMBER_TRACK: &str = "    track_script {\n        chk weight 0\n    }\n";

/// Sync group G { VI_1 (VIP A) VI_2 (VIP B) } on r1 (150) and r2 (100); r1 tracks a
/// check that fails while `down-r1` exists. Check fails: both VIPs move to r2;
/// recovers: both come back. The group's notify_master/backup/fault and `notify`
/// append to notes-<host>. Returns (fail -> both on r2, recover -> both on r1).
fn sync_group(tag: &str, check: GroupCheck, keepalived: bool) -> (Duration, Duration) {
    let (lab, r1, r2) = two(tag);
    let dir = lab.dir().to_path_buf();
    let note = note_script(&dir);
    let conf = |host: &str, prio: u8, script: bool| {
        let notify = ["master", "backup", "fault", ""]
            .iter()
            .map(|s| {
                let key = if s.is_empty() {
                    "notify".into()
                } else {
                    format!("notify_{s}")
                };
                let word = if s.is_empty() { "notify" } else { s };
                format!(
                    "    {key} \"{note} {}/notes-{host} {word}\"\n",
                    dir.display()
                )
            })
            .collect::<String>();
        let track = "    track_script {\n        chk\n    }\n";
        let (in_group, in_vi1) = match (script, check) {
            (false, _) => ("", ""),
            (true, GroupCheck::Group) => (track, ""),
            (true, GroupCheck::Member) => ("", MEMBER_TRACK),
        };
        let chk = if script {
            format!(
                "vrrp_script chk {{\n    script \"/bin/sh -c 'test ! -e {}/down-{host}'\"\n    interval 1\n    weight -60\n}}\n",
                dir.display()
            )
        } else {
            String::new()
        };
        format!(
            "{chk}vrrp_sync_group G {{\n    group {{\n        VI_1\n        VI_2\n    }}\n{in_group}{notify}}}\n{}{}",
            instance("VI_1", 51, prio, VIP_A, in_vi1),
            instance("VI_2", 52, prio, VIP_B, "")
        )
    };
    let k1 = Daemon::start(&lab, &r1, &conf("r1", 150, true), keepalived);
    let k2 = Daemon::start(&lab, &r2, &conf("r2", 100, false), keepalived);
    let logs = || format!("r1:\n{}\nr2:\n{}", k1.log(), k2.log());
    let on = |h: &Host| has(h, VIP_A) && has(h, VIP_B);
    let none = |h: &Host| !has(h, VIP_A) && !has(h, VIP_B);
    let settle = |h: &Host, other: &Host, secs| {
        wait_until(Duration::from_secs(secs), Duration::from_millis(20), || {
            on(h) && none(other)
        })
    };
    assert!(
        settle(&r1, &r2, 12).is_some(),
        "r1 not master of both:\n{}",
        logs()
    );
    // Both sides' start-up notifies have run.
    assert!(
        wait_until(Duration::from_secs(3), Duration::from_millis(20), || {
            notes(&dir, "r1").len() >= 4 && notes(&dir, "r2").len() >= 2
        })
        .is_some(),
        "start-up notifies: r1 {:?} r2 {:?}",
        notes(&dir, "r1"),
        notes(&dir, "r2")
    );

    let down = dir.join("down-r1");
    std::fs::write(&down, "").unwrap();
    let t = Instant::now();
    assert!(
        wait_until(Duration::from_secs(12), Duration::from_millis(20), || on(
            &r2
        ))
        .is_some(),
        "the group did not move to r2:\n{}",
        logs()
    );
    let moved = t.elapsed();
    assert!(
        settle(&r2, &r1, 3).is_some(),
        "VIPs left on r1:\n{}",
        logs()
    );
    eprintln!("{tag}: check failed on r1 -> r2 holds A and B after {moved:?}");
    match check {
        GroupCheck::Member => {
            // The log line follows the VIPs' removal by a few µs.
            let logged = wait_until(Duration::from_secs(1), Duration::from_millis(10), || {
                let l1 = k1.log();
                l1.contains("(VI_1) Entering FAULT STATE")
                    && l1.contains("(VI_2) Entering FAULT STATE")
            });
            assert!(logged.is_some(), "{}", k1.log());
        }
        GroupCheck::Group => assert!(!k1.log().contains("FAULT STATE"), "{}", k1.log()),
    }
    // Stays there while the check fails.
    assert!(
        wait_until(Duration::from_secs(3), Duration::from_millis(50), || {
            !(on(&r2) && none(&r1))
        })
        .is_none(),
        "the group did not stay on r2:\n{}",
        logs()
    );

    std::fs::remove_file(&down).unwrap();
    let t = Instant::now();
    assert!(
        wait_until(Duration::from_secs(12), Duration::from_millis(20), || on(
            &r1
        ))
        .is_some(),
        "the group did not come back to r1:\n{}",
        logs()
    );
    let back = t.elapsed();
    assert!(
        settle(&r1, &r2, 3).is_some(),
        "VIPs left on r2:\n{}",
        logs()
    );
    eprintln!("{tag}: check recovered on r1 -> r1 holds A and B after {back:?}");
    // Every group transition ran the state's own script and `notify` with
    // "GROUP G <STATE> 0", once each, in order. (keepalived starts the two at once, so
    // only the order within each kind is compared.)
    let expect1: &[&str] = match check {
        GroupCheck::Member => &["backup", "master", "fault", "backup", "master"],
        GroupCheck::Group => &["backup", "master", "backup", "master"],
    };
    let expect2: &[&str] = &["backup", "master", "backup"];
    for (host, expect) in [("r1", expect1), ("r2", expect2)] {
        let want_notify: Vec<String> = expect
            .iter()
            .map(|s| format!("notify GROUP G {} 0", s.to_uppercase()))
            .collect();
        let mut got = Vec::new();
        let done = wait_until(Duration::from_secs(3), Duration::from_millis(20), || {
            got = notes(&dir, host);
            got.len() >= 2 * expect.len()
        });
        let (notify, own): (Vec<String>, Vec<String>) =
            got.iter().cloned().partition(|l| l.starts_with("notify "));
        assert!(
            done.is_some() && own == *expect && notify == want_notify,
            "{host}'s group notifies: {got:?}\n{}",
            logs()
        );
    }
    let l1 = k1.log();
    assert!(
        l1.contains("VRRP_Group(G) Syncing instances to MASTER state"),
        "{l1}"
    );
    (moved, back)
}

/// A script tracked only by VI_1 (weight 0) fails on r1: VI_1 enters FAULT, VI_2
/// follows it (sync group), and r2 holds both VIPs within a script interval (1 s)
/// plus r2's skew time (0.61 s after r1's priority-0 adverts) and slack. It
/// recovers: the group leaves FAULT for BACKUP and r1 (150) preempts both within an
/// interval plus r1's Master_Down_Interval (3.41 s).
#[test]
fn netns_sync_group_member_script_fault_moves_group() {
    if !lab::root_or_skip("netns_sync_group_member_script_fault_moves_group") {
        return;
    }
    let (moved, back) = sync_group("sgmem", GroupCheck::Member, false);
    assert!(moved < Duration::from_secs(4), "moved after {moved:?}");
    assert!(back < Duration::from_millis(7500), "back after {back:?}");
}

/// The sync group's own track_script (weight -60) reaches both members: r1's
/// priorities drop to 90 < 100 and r2 takes both VIPs after its Master_Down_Interval
/// (3.61 s), with no FAULT; recovery: both come back.
#[test]
fn netns_sync_group_track_script_moves_group() {
    if !lab::root_or_skip("netns_sync_group_track_script_moves_group") {
        return;
    }
    let (moved, back) = sync_group("sggrp", GroupCheck::Group, false);
    assert!(moved < Duration::from_millis(8500), "moved after {moved:?}");
    assert!(back < Duration::from_millis(7500), "back after {back:?}");
}

/// Both sync-group scenarios against keepalived 2.2.7 on both routers: the
/// reference the expectations above (VIPs, notify calls and their order) come from.
#[test]
fn netns_sync_group_scenarios_hold_for_keepalived() {
    if !lab::root_or_skip("netns_sync_group_scenarios_hold_for_keepalived") {
        return;
    }
    let (moved, back) = sync_group("sgkam", GroupCheck::Member, true);
    eprintln!("keepalived, member check: moved {moved:?}, back {back:?}");
    let (moved, back) = sync_group("sgkag", GroupCheck::Group, true);
    eprintln!("keepalived, group check: moved {moved:?}, back {back:?}");
}

/// Processes whose command line contains `marker`, from /proc.
fn procs_with(marker: &str) -> usize {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return 0;
    };
    dir.filter_map(Result::ok)
        .filter(|e| {
            e.file_name()
                .to_string_lossy()
                .bytes()
                .all(|b| b.is_ascii_digit())
        })
        .filter_map(|e| std::fs::read(e.path().join("cmdline")).ok())
        .filter(|c| String::from_utf8_lossy(c).contains(marker))
        .count()
}

fn unix_now() -> f64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
}

/// A script that never exits (and forks a child that never exits), timeout 1,
/// interval 2. Each run writes its start time first. The runs start on time, every
/// 2 s (keepalived's schedule: interval from start to start), never piling up behind
/// a hung one; each run is killed with its child at its timeout, so between 1 s after
/// a start and the next start no process of it is left.
#[test]
fn netns_hung_script_next_runs_start_on_time() {
    if !lab::root_or_skip("netns_hung_script_next_runs_start_on_time") {
        return;
    }
    let (lab, _lan, mut hosts) = routers("hangt", 1, false);
    let r1 = hosts.pop().unwrap();
    let dir = lab.dir().to_path_buf();
    // A marker unique to this run in every process of the script.
    let marker = format!("1000.{}", std::process::id());
    let starts = dir.join("starts");
    let script = dir.join("hang.sh");
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\ndate +%s.%N >> {}\nsleep {marker} &\nexec sleep {marker}\n",
            starts.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let conf = format!(
        "vrrp_script hang {{\n    script \"{}\"\n    interval 2\n    timeout 1\n    weight -10\n}}\n{}",
        script.display(),
        instance(
            "VI_1",
            51,
            150,
            VIP_A,
            "    track_script {\n        hang\n    }\n"
        )
    );
    let k1 = keepup(&lab, &r1, &conf, "a");
    // (wall-clock time, processes of the script) every 50 ms for 11 s.
    let mut samples = Vec::new();
    let t = Instant::now();
    while t.elapsed() < Duration::from_secs(11) {
        samples.push((unix_now(), procs_with(&marker)));
        std::thread::sleep(Duration::from_millis(50));
    }
    let log = k1.log();
    k1.kill(lab::Signal::SIGTERM).unwrap();
    let starts: Vec<f64> = std::fs::read_to_string(&starts)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.trim().parse().ok())
        .collect();
    let gaps: Vec<f64> = starts.windows(2).map(|w| w[1] - w[0]).collect();
    eprintln!("starts every {gaps:.3?} s");
    assert!(starts.len() >= 5, "{} runs in 11 s:\n{log}", starts.len());
    for g in &gaps {
        assert!(
            (1.8..2.5).contains(g),
            "runs {gaps:.3?} s apart, want 2 s:\n{log}"
        );
    }
    // Over the whole window the schedule did not drift (no run started late and
    // pushed the next ones back).
    let span = starts[starts.len() - 1] - starts[0];
    let want = 2.0 * (starts.len() - 1) as f64;
    assert!(
        (span - want).abs() < 0.5,
        "{} runs over {span:.3} s, want {want} s",
        starts.len()
    );
    for (i, s) in starts.iter().enumerate().take(starts.len() - 1) {
        let during: Vec<usize> = samples
            .iter()
            .filter(|(at, _)| (s + 0.2..s + 0.8).contains(at))
            .map(|x| x.1)
            .collect();
        let after: Vec<usize> = samples
            .iter()
            .filter(|(at, _)| (s + 1.4..starts[i + 1] - 0.1).contains(at))
            .map(|x| x.1)
            .collect();
        // The marker finds the run's two sleeps while it hangs...
        assert!(
            !during.is_empty() && during.iter().all(|&n| n == 2),
            "run {i}: {during:?} processes while it hangs"
        );
        // ... and none once its timeout has passed.
        assert!(
            !after.is_empty() && after.iter().all(|&n| n == 0),
            "run {i}: {after:?} processes left after its timeout"
        );
    }
    let timeouts = log.matches("Script `hang` timed out").count();
    assert!(
        timeouts + 1 >= starts.len(),
        "{timeouts} timeouts for {} runs:\n{log}",
        starts.len()
    );
    assert!(
        wait_until(Duration::from_secs(3), Duration::from_millis(20), || {
            procs_with(&marker) == 0
        })
        .is_some(),
        "script processes left after keepup stopped"
    );
}
