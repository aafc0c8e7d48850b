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

/// Under systemd without `-S`: journald's native protocol, each line once (not also
/// through stderr, which systemd hands to journald too), under keepalived's
/// identifiers with the priority and facility as fields. A real systemd-journald runs in
/// a mount namespace of the test's own (a tmpfs on /run), and keepup's stderr is a
/// journal stream with `JOURNAL_STREAM` naming it, as systemd starts a service.
#[test]
fn netns_journald_native_fields_one_copy() {
    if !lab::root_or_skip("netns_journald_native_fields_one_copy") {
        return;
    }
    let (lab, _lan, hosts) = routers("kjrn", 1, false);
    let r1 = &hosts[0];
    let dir = lab.dir().to_path_buf();
    let conf = dir.join("r1.conf");
    std::fs::write(&conf, one_instance(150, "", "")).unwrap();
    let out = dir.join("journal.json");
    let script = format!(
        r#"set -e
# This mount namespace's own /run; `ip netns exec` left /sys without its cgroup
# mount, which journald needs.
mount -t tmpfs tmpfs /run
mkdir -p /run/systemd /run/log
mountpoint -q /sys/fs/cgroup || mount -t cgroup2 none /sys/fs/cgroup
/lib/systemd/systemd-journald &
journald=$!
i=0; while [ ! -S /run/systemd/journal/socket ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i+1)); done
systemd-cat -t keepup-stderr sh -c 'JOURNAL_STREAM=$(stat -L -c %d:%i /proc/self/fd/2) exec {keepup} run -f {conf} --runtime-dir {run}' &
keepup=$!  # systemd-cat and sh exec: keepup's own PID
i=0
until journalctl -D /run/log/journal --no-pager -o cat 2>/dev/null | grep -q 'Entering MASTER STATE'; do
  i=$((i+1)); [ $i -lt 150 ] || break; sleep 0.1
done
sleep 1
journalctl -D /run/log/journal --no-pager -o json > {out}
kill -TERM $keepup
wait $keepup || true
kill $journald
"#,
        keepup = env!("CARGO_BIN_EXE_keepup"),
        conf = conf.display(),
        run = runtime_dir(&lab, r1).display(),
        out = out.display(),
    );
    let script_path = dir.join("journal.sh");
    std::fs::write(&script_path, script).unwrap();
    let run = r1
        .spawn(
            "unshare",
            &["-m", "sh", script_path.to_str().unwrap()],
            "journal.log",
        )
        .unwrap();
    assert!(
        run.wait_timeout(Duration::from_secs(40)).is_some(),
        "the journal script did not end:\n{}",
        run.log()
    );
    let text = std::fs::read_to_string(&out).unwrap_or_default();
    let entries: Vec<serde_json::Value> = text
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    let field = |e: &serde_json::Value, k: &str| e[k].as_str().unwrap_or_default().to_string();
    let master: Vec<&serde_json::Value> = entries
        .iter()
        .filter(|e| field(e, "MESSAGE").contains("(VI_1) Entering MASTER STATE"))
        .collect();
    assert_eq!(
        master.len(),
        1,
        "one copy of the line expected in the journal:\n{text}\nscript:\n{}",
        run.log()
    );
    let e = master[0];
    assert_eq!(field(e, "SYSLOG_IDENTIFIER"), "Keepalived_vrrp", "{e}");
    assert_eq!(field(e, "PRIORITY"), "6", "{e}");
    assert_eq!(field(e, "SYSLOG_FACILITY"), "3", "{e}");
    // Nothing of keepup's through the stderr stream.
    let via_stderr: Vec<String> = entries
        .iter()
        .filter(|e| field(e, "SYSLOG_IDENTIFIER") == "keepup-stderr")
        .map(|e| field(e, "MESSAGE"))
        .collect();
    assert!(via_stderr.is_empty(), "stderr copies: {via_stderr:?}");
}
