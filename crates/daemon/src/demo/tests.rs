//! Unit tests of `keepup demo`'s parsing, measuring and printing (no lab needed).
#![allow(clippy::unwrap_used)]
use super::logs::new_lines;
use super::*;
use std::path::Path;

fn at(s: f64) -> Duration {
    Duration::from_secs(1_800_000_000) + Duration::from_secs_f64(s)
}

#[test]
fn master_down_interval_of_the_demo_routers() {
    assert!((master_down_interval(150, 1) - 3.414_062_5).abs() < 1e-9);
    assert!((master_down_interval(120, 1) - 3.531_25).abs() < 1e-9);
    assert!((master_down_interval(100, 1) - 3.609_375).abs() < 1e-9);
}

#[test]
fn parses_log_and_monitor_timestamps_as_utc() {
    // date -u -d 2026-11-22T00:17:07 +%s
    let t = parse_utc("2026-11-22T00:17:07.842274Z").unwrap();
    assert_eq!(t, Duration::new(1_795_306_627, 842_274_000));
    assert_eq!(parse_utc("[2026-11-22T00:17:07.842274]"), Some(t));
    assert_eq!(parse_utc("1970-01-01T00:00:00Z"), Some(Duration::ZERO));
    assert_eq!(
        parse_utc("2000-03-01T00:00:01.5Z"),
        Some(Duration::new(951_868_801, 500_000_000))
    );
    for bad in [
        "",
        "x",
        "2026-13-01T00:00:00Z",
        "2026-11-22 00:17:07",
        "2026-11-22T00:17:07.12a",
    ] {
        assert_eq!(parse_utc(bad), None, "{bad}");
    }
}

#[test]
fn reads_state_changes_from_daemon_logs() {
    let l = "2026-11-22T00:17:03.803903Z  INFO (VI_1) Entering BACKUP STATE (init)";
    assert_eq!(
        parse_state_line(l),
        Some((
            parse_utc("2026-11-22T00:17:03.803903Z").unwrap(),
            RouterState::Backup
        ))
    );
    let l = "2026-11-22T00:17:07.842274Z  INFO (VI_1) Entering MASTER STATE";
    assert_eq!(parse_state_line(l).map(|x| x.1), Some(RouterState::Master));
    let l = "2026-11-22T00:17:07.849053Z  INFO (VI_1) Entering STOP STATE";
    assert_eq!(parse_state_line(l).map(|x| x.1), Some(RouterState::Stop));
    assert_eq!(
        parse_state_line("2026-11-22T00:17:07.848111Z  INFO Stopping"),
        None
    );
    assert_eq!(parse_state_line("configuration is clean: 0 fatal"), None);
}

#[test]
fn reads_vip_changes_from_ip_monitor() {
    let add =
        "[2026-11-22T00:16:30.558343] 2: eth0    inet 10.51.0.100/24 scope global secondary eth0";
    let del = "[2026-11-22T00:16:30.762832] Deleted 2: eth0    inet 10.51.0.100/24 scope global secondary eth0";
    let other = "[2026-11-22T00:16:30.762832] 2: eth0    inet 10.51.0.2/24 scope global eth0";
    assert_eq!(
        parse_addr_event(add, VIP),
        Some((parse_utc("2026-11-22T00:16:30.558343").unwrap(), true))
    );
    assert_eq!(parse_addr_event(del, VIP).map(|x| x.1), Some(false));
    assert_eq!(parse_addr_event(other, VIP), None);
    assert_eq!(
        parse_addr_event("       valid_lft forever preferred_lft forever", VIP),
        None
    );
}

#[test]
fn new_lines_leaves_a_line_being_written() {
    let dir = std::env::temp_dir().join(format!("keepup-demo-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let f = dir.join("log");
    std::fs::write(&f, "one\ntwo\nthr").unwrap();
    let mut off = 0;
    assert_eq!(new_lines(&f, &mut off), ["one", "two"]);
    assert_eq!(new_lines(&f, &mut off), Vec::<String>::new());
    std::fs::write(&f, "one\ntwo\nthree\n").unwrap();
    assert_eq!(new_lines(&f, &mut off), ["three"]);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn formats_a_state_line() {
    use RouterState::*;
    assert_eq!(
        format_states(3.614, &[("r1", Master), ("r2", Backup), ("r3", Backup)]),
        "t=+3.61s   r1 MASTER  r2 BACKUP  r3 BACKUP"
    );
    assert_eq!(
        format_states(12.0, &[("r1", Down), ("r2", Master), ("r3", Starting)]),
        "t=+12.00s  r1 down    r2 MASTER  r3 -"
    );
}

#[test]
fn the_longest_gap_between_replies() {
    // Echoes every 10 ms from t=0; replies 1 ms later, except 30..=80 (lost).
    let echoes: Vec<Echo> = (0..120u16)
        .map(|i| Echo {
            seq: i,
            sent: at(f64::from(i) * 0.01),
            reply: (!(30..=80).contains(&i)).then(|| at(f64::from(i) * 0.01 + 0.001)),
        })
        .collect();
    let g = longest_gap(&echoes, at(0.0), at(2.0)).unwrap();
    assert_eq!(g.lost, 51);
    assert_eq!(g.sent, 52, "51 lost and the one whose reply ends the gap");
    assert!((g.secs() - 0.52).abs() < 1e-6, "{}", g.secs());
    assert!((rel(g.before, at(0.0)) - 0.291).abs() < 1e-6);
    assert_eq!(longest_gap(&echoes[..1], at(0.0), at(2.0)), None);
}

#[test]
fn renders_the_takeover_timeline() {
    let kill = at(10.0);
    let t = Takeover {
        kill,
        unplugged: Some(at(10.004)),
        last_advert_old: Some(at(9.588)),
        master_log: Some(at(13.1193)),
        first_advert_new: Some(at(13.1204)),
        vip_added: Some(at(13.1201)),
        garp: Some(at(13.1210)),
        gap: Some(Gap {
            before: at(9.596),
            after: at(13.128),
            lost: 352,
            sent: 353,
        }),
        new_master: ("r2", 120),
    };
    let want = "   since the kill  event
         -0.412 s  last advert from r1                     (capture)
         +0.000 s  r1's keepup killed (SIGKILL)
         +0.004 s  r1 unplugged (its switch port down)
         +3.119 s  r2: (VI_1) Entering MASTER STATE        (its log)
         +3.120 s  first advert from r2, priority 120      (capture)
         +3.120 s  10.51.0.100 added on r2                 (ip monitor)
         +3.121 s  gratuitous ARP for 10.51.0.100 from r2  (capture)
         +3.128 s  client gets an echo reply again         (ping)

   client outage: 3.53 s (last reply -0.404 s, next +3.128 s; 352 echoes lost)
   r2 took over 3.532 s after r1's last advert; expected Master_Down_Interval
   = 3 × 1 s + (256 − 120)/256 s = 3.531 s
";
    assert_eq!(t.render(), want);
    let unseen = Takeover {
        kill,
        new_master: ("r2", 120),
        ..Takeover::default()
    };
    let r = unseen.render();
    assert!(r.contains("(not seen)"), "{r}");
    assert!(r.contains("client outage: not measured"), "{r}");
    assert!(r.contains("= 3.531 s"), "{r}");
}

#[test]
fn renders_the_preemption() {
    let g = Gap {
        before: at(1.0),
        after: at(1.02),
        lost: 1,
        sent: 2,
    };
    let r = render_preemption(Some(0.0123), Some(3.4321), Some(g));
    assert_eq!(
        r,
        "   r1 removed the stale 10.51.0.100 0.012 s after its start, before its first advert
   r1 preempted r2 3.432 s after its start (Master_Down_Interval 3.414 s)
   client meanwhile: 1 echoes lost, longest gap between replies 0.020 s
"
    );
}

#[test]
fn header_and_root_message_say_what_they_need() {
    let h = header(Path::new("/tmp/keepup-lab-x"));
    assert!(h.contains("r1 10.51.0.1"), "{h}");
    assert!(h.contains("priority 150"), "{h}");
    assert!(h.contains("/tmp/keepup-lab-x"), "{h}");
    assert!(NEEDS_ROOT.contains("network namespaces"));
    assert!(NEEDS_ROOT.contains("raw"));
    assert!(NEEDS_ROOT.contains("sudo keepup demo"));
}

#[test]
fn the_embedded_config_is_clean_for_each_router() {
    for (name, prio, _) in ROUTERS {
        let mut opts = keepup_config::LoadOptions::for_this_host();
        opts.preprocess.config_id = name.into();
        opts.interfaces = None;
        let loaded = keepup_config::load_str("demo.conf", CONF, &opts);
        assert_eq!(
            loaded.verdict(),
            keepup_config::Verdict::Clean,
            "{name}: {}",
            loaded.render()
        );
        let vi = &loaded.config.vrrp_instances[0];
        assert_eq!(vi.priority, prio, "{name}");
        assert_eq!(vi.virtual_router_id, Some(VRID));
    }
}
