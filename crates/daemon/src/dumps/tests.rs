//! The dump files against what keepalived 2.2.7 wrote in a lab on the same
//! configuration (the expected lines below are its output, copied from files it
//! wrote in a network namespace), and JSON version 2 against keepalived's
//! `vrrp_json.c`, which 2.2.7 predates.
use super::format::{cmd_str, ctime_usec, f, g};
use super::*;
use crate::status::{History, Stats};
use crate::track::Trackers;
use keepup_vrrp::{Input, Instant, Router};
use std::collections::HashMap;

fn load(text: &str) -> (Config, Plan) {
    let opts = keepup_config::LoadOptions {
        interfaces: None,
        check_scripts: false,
        ..keepup_config::LoadOptions::for_this_host()
    };
    let loaded = keepup_config::load_str("test.conf", text, &opts);
    let cfg = loaded.config;
    let ifindex = |n: &str| match n {
        "veth0" => Some(3),
        "veth1" => Some(2),
        "veth2" => Some(4),
        _ => None,
    };
    let plan = crate::plan::plan(&cfg, &ifindex).unwrap();
    (cfg, plan)
}

/// A snapshot of `plan` after startup (every instance Backup, nothing counted);
/// tests then set what keepalived's run had.
fn snapshot(cfg: &Config, plan: &Plan) -> Snapshot {
    let (trackers, _) = Trackers::from_config(cfg, plan, 0);
    let mut router = Router::new(plan.instances.clone(), plan.groups.clone()).unwrap();
    router.handle(Instant::from_nanos(0), Input::Startup);
    while router.poll_output().is_some() {}
    let daemon = crate::status::DaemonStatus::new(Path::new("/k.conf"), 0);
    crate::status::snapshot(
        &router,
        plan,
        &trackers,
        &daemon,
        &HashMap::<String, History>::new(),
    )
}

fn stats(sent: u64, became: u64) -> Stats {
    Stats {
        advert_rcvd: 0,
        advert_sent: sent,
        become_master: became,
        release_master: 0,
        packet_len_err: 0,
        advert_interval_err: 0,
        ip_ttl_err: 0,
        invalid_type_rcvd: 0,
        addr_list_err: 0,
        invalid_authtype: 0,
        authtype_mismatch: 0,
        auth_failure: 0,
        pri_zero_rcvd: 0,
        pri_zero_sent: 0,
        source_err: 0,
        split_brain: 0,
        ..Stats::default()
    }
}

/// Both instances Master with keepalived's counts and times.
fn as_keepalived_had(s: &mut Snapshot, prios: &[u8], times: &[f64]) {
    for ((i, p), t) in s.instances.iter_mut().zip(prios).zip(times) {
        i.state = "MASTER".into();
        i.effective_priority = *p;
        i.master_priority = None;
        i.last_transition = Some(*t);
        i.vipset = true;
        i.master_adver_int = 1.0;
        i.stats = stats(2, 1);
    }
}

const LAB: &str = r#"
global_defs {
  router_id kdx
  script_user root
  enable_script_security
}
vrrp_script chk_true {
  script "/usr/bin/true"
  interval 1
  weight 10
}
vrrp_instance VI_1 {
  state MASTER
  interface veth0
  virtual_router_id 51
  priority 150
  advert_int 1
  authentication {
    auth_type PASS
    auth_pass secret
  }
  virtual_ipaddress {
    10.77.0.100/24
    10.77.0.101/24 dev veth0 label veth0:1
  }
  virtual_ipaddress_excluded {
    10.77.1.100/24
  }
  track_interface {
    veth1
  }
  track_script {
    chk_true
  }
  notify_master "/usr/bin/echo master"
  notify "/usr/bin/echo x y"
}
vrrp_instance VI_2 {
  state BACKUP
  interface veth0
  virtual_router_id 52
  priority 100
  nopreempt
  virtual_ipaddress {
    10.77.0.200/24
  }
}
"#;

/// keepalived 2.2.7's keepalived.json for [`LAB`] (both instances Master, no peer).
const LAB_JSON: &str = r#"[{"data":{"iname":"VI_1","dont_track_primary":0,"skip_check_adv_addr":0,"strict_mode":0,"vmac_ifname":"","ifp_ifname":"veth0","master_priority":0,"last_transition":1796508945.859492,"garp_delay":5,"garp_refresh":0,"garp_rep":5,"garp_refresh_rep":1,"garp_lower_prio_delay":5,"garp_lower_prio_rep":5,"lower_prio_no_advert":0,"higher_prio_send_advert":0,"vrid":51,"base_priority":150,"effective_priority":160,"vipset":true,"promote_secondaries":false,"adver_int":1,"master_adver_int":1,"accept":1,"nopreempt":false,"preempt_delay":0,"state":2,"wantstate":2,"version":2,"smtp_alert":false,"notify_deleted":false,"script_master":"'\/usr\/bin\/echo' 'master'","script":"'\/usr\/bin\/echo' 'x' 'y'","vips":["10.77.0.100\/24 dev veth0 scope global set","10.77.0.101\/24 dev veth0 scope global label veth0:1 set"],"evips":["10.77.1.100\/24 dev veth0 scope global set"],"track_ifp":["veth1"],"track_script":["'\/usr\/bin\/true'"],"auth_type":1,"auth_data":"secret"},"stats":{"advert_rcvd":0,"advert_sent":2,"become_master":1,"release_master":0,"packet_len_err":0,"advert_interval_err":0,"ip_ttl_err":0,"invalid_type_rcvd":0,"addr_list_err":0,"invalid_authtype":0,"authtype_mismatch":0,"auth_failure":0,"pri_zero_rcvd":0,"pri_zero_sent":0}},{"data":{"iname":"VI_2","dont_track_primary":0,"skip_check_adv_addr":0,"strict_mode":0,"vmac_ifname":"","ifp_ifname":"veth0","master_priority":0,"last_transition":1796508946.087764,"garp_delay":5,"garp_refresh":0,"garp_rep":5,"garp_refresh_rep":1,"garp_lower_prio_delay":5,"garp_lower_prio_rep":5,"lower_prio_no_advert":0,"higher_prio_send_advert":0,"vrid":52,"base_priority":100,"effective_priority":100,"vipset":true,"promote_secondaries":false,"adver_int":1,"master_adver_int":1,"accept":1,"nopreempt":true,"preempt_delay":0,"state":2,"wantstate":2,"version":2,"smtp_alert":false,"notify_deleted":false,"vips":["10.77.0.200\/24 dev veth0 scope global set"],"auth_type":0},"stats":{"advert_rcvd":0,"advert_sent":2,"become_master":1,"release_master":0,"packet_len_err":0,"advert_interval_err":0,"ip_ttl_err":0,"invalid_type_rcvd":0,"addr_list_err":0,"invalid_authtype":0,"authtype_mismatch":0,"auth_failure":0,"pri_zero_rcvd":0,"pri_zero_sent":0}}]
"#;

#[test]
fn json_v1_is_keepalived_2_2_7s_byte_for_byte() {
    let (cfg, plan) = load(LAB);
    let conf = DumpConfig::new(&cfg, &plan, false);
    let mut s = snapshot(&cfg, &plan);
    as_keepalived_had(&mut s, &[160, 100], &[1796508945.859492, 1796508946.087764]);
    assert_eq!(json::render(&s, &conf).unwrap(), LAB_JSON);
    // And it is JSON.
    let v: serde_json::Value = serde_json::from_str(LAB_JSON).unwrap();
    assert_eq!(
        v[0]["data"]["vips"][0],
        "10.77.0.100/24 dev veth0 scope global set"
    );
}

/// keepalived 2.2.7's keepalived.stats for one instance, as it wrote it.
const LAB_STATS: &str = "VRRP Instance: VI_1
  Advertisements:
    Received: 0
    Sent: 2
  Became master: 1
  Released master: 0
  Packet Errors:
    Length: 0
    TTL: 0
    Invalid Type: 0
    Advertisement Interval: 0
    Address List: 0
  Authentication Errors:
    Invalid Type: 0
    Type Mismatch: 0
    Failure: 0
  Priority Zero:
    Received: 0
    Sent: 0
";

#[test]
fn stats_file_is_keepalived_2_2_7s() {
    let (cfg, plan) = load(LAB);
    let mut s = snapshot(&cfg, &plan);
    as_keepalived_had(&mut s, &[160, 100], &[0.0, 0.0]);
    let out = text::stats(&s);
    assert_eq!(
        out,
        format!("{LAB_STATS}{}", LAB_STATS.replace("VI_1", "VI_2"))
    );
    // Each counter lands on its own line.
    s.instances[0].stats = Stats {
        advert_rcvd: 1,
        advert_sent: 2,
        become_master: 3,
        release_master: 4,
        packet_len_err: 5,
        ip_ttl_err: 6,
        invalid_type_rcvd: 7,
        advert_interval_err: 8,
        addr_list_err: 9,
        invalid_authtype: 10,
        authtype_mismatch: 11,
        auth_failure: 12,
        pri_zero_rcvd: 13,
        pri_zero_sent: 14,
        source_err: 0,
        split_brain: 0,
        ..Stats::default()
    };
    let out = text::stats(&s);
    let numbers: Vec<&str> = out
        .lines()
        .take(19)
        .skip(1)
        .filter_map(|l| l.rsplit_once(": ").map(|(_, n)| n))
        .collect();
    assert_eq!(
        numbers,
        ["1", "2", "3", "4", "5", "6", "7", "8", "9", "10", "11", "12", "13", "14"]
    );
}

/// The address, route and rule forms keepalived 2.2.7 wrote for these lines.
#[test]
fn addresses_routes_and_rules_read_as_keepalived_writes_them() {
    let (cfg, plan) = load(
        "vrrp_instance VI_1 {
  interface veth0
  virtual_router_id 51
  virtual_ipaddress {
    10.77.0.100/24 brd + dev veth0 scope link label veth0:v
    10.77.0.102 peer 10.77.0.103
    10.77.2.1/24 dev veth2
  }
  virtual_routes {
    10.88.0.0/16 via 10.77.0.254 dev veth0
    10.89.0.0/16 via 10.77.0.254
    10.90.0.0/16 dev veth0 table 100 metric 5 scope link
    src 10.77.0.100 to 10.91.0.0/16 via 10.77.0.254 dev veth0
    default via 10.77.0.254 table 101
    unreachable 10.92.0.0/16
    prohibit 10.93.0.0/16
    10.94.0.1 dev veth0 no_track
    blackhole 10.95.0.0/16 table 102
  }
  virtual_rules {
    from 10.77.0.100 table 100 priority 16384
    to 10.91.0.0/16 table 101 priority 50
    from all fwmark 5 lookup 102 priority 16383
    iif veth0 table 100 priority 16382
  }
}
vrrp_instance VI_6 {
  interface veth0
  virtual_router_id 61
  virtual_ipaddress {
    fd00::100/64
    fd00::101
    fe80::100/64
  }
  virtual_ipaddress_excluded {
    fd00::200/64 preferred_lft 30 -nodad
  }
}
",
    );
    let conf = DumpConfig::new(&cfg, &plan, false);
    let (v4, v6) = (&conf.instances[0], &conf.instances[1]);
    assert_eq!(
        v4.vips,
        [
            "10.77.0.100/24 brd 10.77.0.255 dev veth0 scope link label veth0:v",
            "10.77.0.102 dev veth0 scope global peer 10.77.0.103/32",
            "10.77.2.1/24 dev veth2 scope global",
        ]
    );
    assert_eq!(
        v6.vips,
        [
            "fd00::100/64 dev veth0 scope global preferred_lft forever",
            "fd00::101 dev veth0 scope global deprecated",
            "fe80::100/64 dev veth0 scope global preferred_lft forever",
        ]
    );
    assert_eq!(
        v6.evips,
        ["fd00::200/64 dev veth0 scope global -nodad preferred_lft 30"]
    );
    assert_eq!(
        v4.vroutes,
        [
            "prepend 10.88.0.0/16 via inet 10.77.0.254 dev veth0 proto 18",
            "prepend 10.89.0.0/16 via inet 10.77.0.254 proto 18 no_track",
            "prepend 10.90.0.0/16 dev veth0 table 100 proto 18 scope 253 metric 5",
            "prepend 10.91.0.0/16 src 10.77.0.100 via inet 10.77.0.254 dev veth0 proto 18",
            "prepend 0.0.0.0/0 via inet 10.77.0.254 table 101 proto 18 no_track",
            "add unreachable 10.92.0.0/16 proto 18 no_track",
            "add prohibit 10.93.0.0/16 proto 18 no_track",
            "prepend 10.94.0.1 dev veth0 no_track",
            "add blackhole 10.95.0.0/16 table 102 proto 18 no_track",
        ]
    );
    // keepalived numbered the rules without a priority itself (16384 down); these
    // are given here as it chose them.
    assert_eq!(
        v4.vrules,
        [
            "from 10.77.0.100 priority 16384 tos 0x0 protocol 18 lookup 100",
            "from all to 10.91.0.0/16 priority 50 tos 0x0 protocol 18 lookup 101",
            "from 0.0.0.0/0 priority 16383 tos 0x0 fwmark 0x5 protocol 18 lookup 102",
            "from all priority 16382 tos 0x0 iif veth0 protocol 18 lookup 100",
        ]
    );
}

#[test]
fn numbers_print_as_printf_does() {
    for (v, want) in [
        (5.0, "5"),
        (0.5, "0.5"),
        (1.5, "1.5"),
        (0.01, "0.01"),
        (0.0001, "0.0001"),
        (0.00001, "1e-05"),
        (100000.0, "100000"),
        (1234567.0, "1.23457e+06"),
        (0.1234567, "0.123457"),
        (2.0, "2"),
        (0.0, "0"),
    ] {
        assert_eq!(g(v), want, "%g of {v}");
    }
    assert_eq!(f(1796508945.859492), "1796508945.859492");
    assert_eq!(f(0.0), "0.000000");
}

#[test]
fn strings_are_escaped_as_keepalived_escapes_them() {
    let (cfg, plan) = load(
        "vrrp_instance VI_1 {\n interface veth0\n virtual_router_id 1\n notify_master \"/usr/bin/printf a\\\\\\\\z 'q r'\"\n virtual_ipaddress {\n  10.0.0.1\n }\n}\n",
    );
    let conf = DumpConfig::new(&cfg, &plan, false);
    let s = snapshot(&cfg, &plan);
    let out = json::render(&s, &conf).unwrap();
    // keepalived 2.2.7 wrote '\/usr\/bin\/echo' 'x\nz' 'q r' for `x\\z`: its
    // writer turns a backslash into \n.
    assert!(
        out.contains(r#""script_master":"'\/usr\/bin\/printf' 'a\nz' 'q r'""#),
        "{out}"
    );
}

#[test]
fn json_v2_follows_keepalived_s_vrrp_json_c() {
    let (cfg, plan) = load(
        "global_defs {\n json_version 2\n}\nvrrp_track_process nginx {\n process nginx -g daemon\n param_match partial\n quorum 2\n quorum_max 4\n weight 10 reverse\n delay 0.5\n}\nvrrp_track_process sshd {\n process sshd\n}\nvrrp_instance VI_1 {\n interface veth0\n virtual_router_id 1\n virtual_ipaddress {\n  10.0.0.1\n }\n track_process {\n  nginx\n }\n}\n",
    );
    let conf = DumpConfig::new(&cfg, &plan, false);
    assert_eq!(conf.json_version, 2);
    let mut s = snapshot(&cfg, &plan);
    s.track_processes = vec![crate::status::ProcessStatus {
        name: "nginx".into(),
        current_processes: 3,
        have_quorum: true,
        fork_delay_timer_running: false,
        terminate_delay_timer_running: true,
    }];
    let out = json::render(&s, &conf).unwrap();
    assert!(
        out.starts_with(r#"{"vrrp":[{"data":{"iname":"VI_1","#),
        "{out}"
    );
    // The instance's list of process names comes after track_script's place and
    // before auth_type.
    assert!(
        out.contains(
            r#""vips":["10.0.0.1 dev veth0 scope global"],"track_process":["nginx"],"auth_type":0}"#
        ),
        "{out}"
    );
    assert!(
        out.ends_with(concat!(
            r#""track_process":[{"process":"nginx","parameters":"-g daemon","param_match":"partial","min_processes":2,"max_processes":4,"current_processes":3,"have_quorum":true,"weight":-10,"terminate_delay":0.5,"fork_delay":0.5,"fork_delay_timer_running":false,"terminate_delay_timer_running":true,"full_command":false},"#,
            r#"{"process":"sshd","param_match":"none","min_processes":1,"current_processes":0,"have_quorum":false,"weight":0,"terminate_delay":0,"fork_delay":0,"fork_delay_timer_running":false,"terminate_delay_timer_running":false,"full_command":false}]}"#,
            "\n"
        )),
        "{out}"
    );
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["vrrp"][0]["stats"]["release_master"], 0);
    // Version 1 has no process list at all (keepalived 2.2.7 wrote none).
    let mut v1 = conf.clone();
    v1.json_version = 1;
    let out = json::render(&s, &v1).unwrap();
    assert!(
        out.starts_with(r#"[{"data""#) && !out.contains("track_process"),
        "{out}"
    );
}

#[test]
fn no_instance_no_json_file() {
    let (cfg, plan) = load("global_defs {\n router_id x\n}\n");
    let conf = DumpConfig::new(&cfg, &plan, false);
    let s = snapshot(&cfg, &plan);
    assert_eq!(render(Dump::Json, &s, &conf), None);
    assert_eq!(render(Dump::Stats, &s, &conf).as_deref(), Some(""));
}

#[test]
fn files_go_where_keepalived_puts_them() {
    let mut g = GlobalDefs::default();
    let tmp = |t: Option<&str>, g: &GlobalDefs| Files::new(g, t.map(std::ffi::OsStr::new));
    let f = tmp(None, &g);
    assert_eq!(f.data, Path::new("/tmp/keepalived.data"));
    assert_eq!(f.stats, Path::new("/tmp/keepalived.stats"));
    assert_eq!(f.json, Path::new("/tmp/keepalived.json"));
    assert_eq!(
        tmp(Some("/var/tmp/k"), &g).json,
        Path::new("/var/tmp/k/keepalived.json")
    );
    assert_eq!(tmp(Some(""), &g).json, Path::new("/tmp/keepalived.json"));
    // data_use_instance (keepalived 2.2.7, in a lab): only the data file's name.
    g.data_use_instance = true;
    assert_eq!(tmp(None, &g).data, Path::new("/tmp/keepalived.data"));
    g.instance = Some("inst1".into());
    assert_eq!(tmp(None, &g).data, Path::new("/tmp/keepalived.inst1.data"));
    g.net_namespace = Some("blue".into());
    assert_eq!(
        tmp(None, &g).data,
        Path::new("/tmp/keepalived.blue_inst1.data")
    );
    g.instance = None;
    let f = tmp(None, &g);
    assert_eq!(f.data, Path::new("/tmp/keepalived.blue.data"));
    assert_eq!(f.stats, Path::new("/tmp/keepalived.stats"));
    // The locations: a directory ends in '/', anything else names the file.
    g.state_file_location = Some("/run/k/".into());
    g.stats_file_location = Some("/run/k/my.stats".into());
    g.json_file_location = Some("/srv/".into());
    let f = tmp(Some("/ignored"), &g);
    assert_eq!(f.data, Path::new("/run/k/keepalived.blue.data"));
    assert_eq!(f.stats, Path::new("/run/k/my.stats"));
    assert_eq!(f.json, Path::new("/srv/keepalived.json"));
}

#[test]
fn files_are_replaced_whole_with_mode_0600() {
    let dir = std::env::temp_dir().join(format!("keepup-dumps-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("keepalived.json");
    write_atomically(&path, b"one").unwrap();
    write_atomically(&path, b"two").unwrap();
    assert_eq!(std::fs::read(&path).unwrap(), b"two");
    let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    // A link planted where the file goes is replaced, not followed.
    let victim = dir.join("victim");
    std::fs::write(&victim, b"keep").unwrap();
    let link = dir.join("keepalived.stats");
    std::os::unix::fs::symlink(&victim, &link).unwrap();
    write_atomically(&link, b"stats").unwrap();
    assert_eq!(std::fs::read(&victim).unwrap(), b"keep");
    assert!(!std::fs::symlink_metadata(&link)
        .unwrap()
        .file_type()
        .is_symlink());
    // Nothing is left beside it.
    let names: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names.len(), 3, "{names:?}");
    // A directory that is not there is an error, not a panic.
    assert!(write_atomically(&dir.join("no/such/file"), b"x").is_err());
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn scripts_are_quoted_and_resolved_as_keepalived_does() {
    let dir = std::env::temp_dir().join(format!("keepup-cmd-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let real = dir.join("real");
    std::fs::write(&real, b"").unwrap();
    let link = dir.join("link");
    std::os::unix::fs::symlink(&real, &link).unwrap();
    let argv = vec![link.display().to_string(), "a b".into(), "c".into()];
    assert_eq!(cmd_str(&argv), format!("'{}' 'a b' 'c'", real.display()));
    // A program that is not there is written as given.
    assert_eq!(
        cmd_str(&["/nonexistent/x".into()]),
        "'/nonexistent/x'".to_string()
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn data_file_has_keepalived_s_topology_lines() {
    let (cfg, plan) = load(LAB);
    let conf = DumpConfig::new(&cfg, &plan, false);
    let mut s = snapshot(&cfg, &plan);
    as_keepalived_had(&mut s, &[160, 100], &[1796508945.859492, 1796508946.087764]);
    s.instances[0].src_ip = Some("10.77.0.1".into());
    let out = text::data(&s, &conf);
    let when = ctime_usec(1796508945.859492);
    assert!(when.starts_with("1796508945.859492 ("), "{when}");
    // keepalived 2.2.7's lines for VI_1, less those keepup does not write (see the
    // module's header): Flags, the fault counters, Read timeout, Master down timer,
    // Total priority, fd_in/fd_out.
    let want = format!(
        "------< VRRP Topology >------
 VRRP Instance = VI_1
   VRRP Version = 2
   State = MASTER
   Wantstate = MASTER
   Last transition = {when}
   Interface = veth0
   Using src_ip = 10.77.0.1
   Multicast address 224.0.0.18
   Gratuitous ARP delay = 5
   Gratuitous ARP repeat = 5
   Gratuitous ARP refresh = 0
   Gratuitous ARP refresh repeat = 1
   Gratuitous ARP lower priority delay = 5
   Gratuitous ARP lower priority repeat = 5
   Down timer adverts = 3
   Send advert after receive lower priority advert = true
   Send advert after receive higher priority advert = false
   Virtual Router ID = 51
   Priority = 150
   Effective priority = 160
   Advert interval = 1 sec
   Accept = enabled
   Preempt = enabled
   Promote_secondaries = disabled
   Authentication type = SIMPLE_PASSWORD
   Password = secret
   Virtual IP (2):
     10.77.0.100/24 dev veth0 scope global set
     10.77.0.101/24 dev veth0 scope global label veth0:1 set
   Virtual IP Excluded :
     10.77.1.100/24 dev veth0 scope global set
   Tracked interfaces :
     veth1 weight 0
   Tracked scripts :
     chk_true weight 10
   Using smtp notification = no
   Notify deleted = Fault
   Master state transition script = '/usr/bin/echo' 'master', uid:gid 0:0
   Generic state transition script = '/usr/bin/echo' 'x' 'y', uid:gid 0:0
   Notify priority changes = false
 VRRP Instance = VI_2
"
    );
    assert!(out.starts_with(&want), "{out}");
    assert!(out.contains("   Preempt = disabled\n"), "{out}");
}
