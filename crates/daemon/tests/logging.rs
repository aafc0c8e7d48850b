//! `keepup run -D -S 0` logging to a real rsyslog, as the tutorials set keepalived up
//! (`KEEPALIVED_OPTIONS="-D -S 0"` and rsyslog's `local0.* /var/log/keepalived.log`),
//! with a test's socket and log files in place of /dev/log and /var/log. Root only; CI
//! runs these serially.
#![allow(clippy::unwrap_used)]

mod common;
use common::{one_instance, routers, runtime_dir, wait_addr};

use keepup_testkit::lab::{self, wait_until};
use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

const VIP: IpAddr = IpAddr::V4(Ipv4Addr::new(10, 9, 0, 100));

#[test]
fn netns_syslog_local0_reaches_rsyslogs_rule() {
    if !lab::root_or_skip("netns_syslog_local0_reaches_rsyslogs_rule") {
        return;
    }
    let (lab, _lan, hosts) = routers("klog", 2, false);
    let (r1, r2) = (&hosts[0], &hosts[1]);
    let dir = lab.dir().to_path_buf();
    let socket = dir.join("log.sock");
    let work = dir.join("rsyslog");
    std::fs::create_dir_all(&work).unwrap();
    let conf = dir.join("rsyslog.conf");
    std::fs::write(
        &conf,
        format!(
            "global(workDirectory=\"{work}\")\n\
             module(load=\"imuxsock\" SysSock.Use=\"off\")\n\
             input(type=\"imuxsock\" Socket=\"{sock}\" CreatePath=\"on\")\n\
             local0.* {dir}/keepalived.log\n\
             local1.* {dir}/local1.log\n\
             daemon.* {dir}/daemon.log\n",
            work = work.display(),
            sock = socket.display(),
            dir = dir.display()
        ),
    )
    .unwrap();
    let pidfile = dir.join("rsyslogd.pid");
    let _rsyslog = r1
        .spawn(
            "rsyslogd",
            &[
                "-n",
                "-f",
                conf.to_str().unwrap(),
                "-i",
                pidfile.to_str().unwrap(),
            ],
            "rsyslogd.log",
        )
        .unwrap();
    assert!(
        wait_until(Duration::from_secs(10), Duration::from_millis(50), || {
            socket.exists()
        })
        .is_some(),
        "rsyslogd did not open {}",
        socket.display()
    );
    // r1: the tutorial's options, with a checker so that both identifiers log; r2: -G
    // (no syslog), whose lines must not reach rsyslog.
    let director = "virtual_server 10.9.0.200 80 {
    lb_algo rr
    lb_kind NAT
    protocol TCP
    real_server 10.9.0.2 9 {
        TCP_CHECK {
            connect_timeout 1
        }
    }
}
";
    let start = |host: &lab::Host, conf: String, extra: &[&str]| {
        let path = dir.join(format!("{}.conf", host.name()));
        std::fs::write(&path, conf).unwrap();
        let mut args = vec![
            format!("KEEPUP_SYSLOG_SOCKET={}", socket.display()),
            env!("CARGO_BIN_EXE_keepup").to_string(),
            "run".into(),
            "-f".into(),
            path.display().to_string(),
            "--runtime-dir".into(),
            runtime_dir(&lab, host).display().to_string(),
        ];
        args.extend(extra.iter().map(|s| s.to_string()));
        host.spawn("env", &args, format!("{}.log", host.name()))
            .unwrap()
    };
    let k1 = start(
        r1,
        format!("{}{director}", one_instance(150, "", "")),
        &["-D", "-S", "0"],
    );
    let k2 = start(r2, one_instance(100, "", ""), &["-G"]);
    assert!(wait_addr(r1, VIP, true, 10).is_some(), "{}", k1.log());

    let log = dir.join("keepalived.log");
    let master = format!(
        "Keepalived_vrrp[{}]: (VI_1) Entering MASTER STATE",
        k1.pid()
    );
    let checker = format!("Keepalived_healthcheckers[{}]: ", k1.pid());
    let mut text = String::new();
    let found = wait_until(Duration::from_secs(15), Duration::from_millis(100), || {
        text = std::fs::read_to_string(&log).unwrap_or_default();
        text.contains(&master) && text.contains(&checker)
    });
    assert!(
        found.is_some(),
        "{} lacks {master:?} or {checker:?}:\n{text}\nkeepup's stderr:\n{}",
        log.display(),
        k1.log()
    );
    // -D: the debug lines are there too; stderr still has the lines (not under systemd).
    assert!(k1.log().contains("Entering MASTER STATE"), "{}", k1.log());
    // Only local0: nothing under local1 or daemon; nothing from r2 (-G).
    for other in ["local1.log", "daemon.log"] {
        let t = std::fs::read_to_string(dir.join(other)).unwrap_or_default();
        assert!(t.is_empty(), "{other}: {t}");
    }
    assert!(
        !text.contains(&format!("[{}]", k2.pid())),
        "-G still logged to syslog:\n{text}"
    );
    assert!(
        k2.log().contains("(VI_1) Entering BACKUP STATE"),
        "{}",
        k2.log()
    );
}
