//! keepup under systemd: the unit file as shipped passes `systemd-analyze verify`, and
//! the sd_notify messages (READY, STATUS, RELOADING, WATCHDOG, STOPPING) reach a socket
//! the test listens on as systemd would (`NOTIFY_SOCKET`, `WATCHDOG_USEC`).
#![allow(clippy::unwrap_used)]

mod common;
use common::{one_instance, routers, runtime_dir, wait_addr};

use keepup_testkit::lab;
use std::net::{IpAddr, Ipv4Addr};
use std::os::unix::net::UnixDatagram;
use std::time::{Duration, Instant};

const VIP: IpAddr = IpAddr::V4(Ipv4Addr::new(10, 9, 0, 100));

#[test]
fn the_unit_file_verifies() {
    let unit =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../packaging/keepup.service");
    let text = std::fs::read_to_string(&unit).unwrap();
    assert!(text.contains("ExecStart=/usr/sbin/keepup run"), "{text}");
    // Verified with this build's binary in ExecStart's place (the package installs it
    // at /usr/sbin/keepup; the package's test verifies it there, man page included).
    let dir = std::env::temp_dir().join(format!("keepup-unit-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let copy = dir.join("keepup.service");
    std::fs::write(
        &copy,
        text.replace("/usr/sbin/keepup", env!("CARGO_BIN_EXE_keepup")),
    )
    .unwrap();
    let out = std::process::Command::new("systemd-analyze")
        .args(["verify", "--man=no"])
        .arg(&copy)
        .output()
        .expect("systemd-analyze (package systemd)");
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let _ = std::fs::remove_dir_all(&dir);
    assert!(out.status.success() && said.trim().is_empty(), "{said}");
}

/// The messages keepup sent, each a datagram of `KEY=VALUE` lines.
struct Notify {
    socket: UnixDatagram,
    seen: Vec<String>,
}

impl Notify {
    /// The next message that satisfies `want`, within `secs`.
    fn wait(&mut self, secs: u64, what: &str, want: impl Fn(&str) -> bool) -> String {
        let until = Instant::now() + Duration::from_secs(secs);
        let mut buf = vec![0u8; 4096];
        while Instant::now() < until {
            if let Ok(n) = self.socket.recv(&mut buf) {
                let m = String::from_utf8_lossy(&buf[..n]).into_owned();
                self.seen.push(m.clone());
                if want(&m) {
                    return m;
                }
            }
        }
        panic!("no {what} within {secs} s; seen: {:#?}", self.seen);
    }
}

#[test]
fn netns_notify_ready_status_reload_watchdog_stop() {
    if !lab::root_or_skip("netns_notify_ready_status_reload_watchdog_stop") {
        return;
    }
    let (lab, _lan, hosts) = routers("ksysd", 1, false);
    let r1 = &hosts[0];
    let path = lab.dir().join("notify.sock");
    let socket = UnixDatagram::bind(&path).unwrap();
    socket
        .set_read_timeout(Some(Duration::from_millis(100)))
        .unwrap();
    let mut notify = Notify {
        socket,
        seen: Vec::new(),
    };
    // A virtual server too, so that the checker side's heartbeat feeds the watchdog.
    let conf = format!(
        "{}virtual_server 10.9.0.200 80 {{
    lb_algo rr
    lb_kind NAT
    protocol TCP
    real_server 10.9.0.2 9 {{
        TCP_CHECK {{
            connect_timeout 1
        }}
    }}
}}
",
        one_instance(150, "", "")
    );
    let file = lab.dir().join("r1.conf");
    std::fs::write(&file, conf).unwrap();
    // As systemd starts it: WATCHDOG_PID is the daemon's own pid (the shell's, which
    // exec hands on).
    let command = format!(
        "exec env WATCHDOG_PID=$$ WATCHDOG_USEC=400000 NOTIFY_SOCKET={} {} run -f {} --runtime-dir {}",
        path.display(),
        env!("CARGO_BIN_EXE_keepup"),
        file.display(),
        runtime_dir(&lab, r1).display()
    );
    let k = r1.spawn("sh", &["-c", &command], "r1.log").unwrap();

    // READY=1 with the first states (Backup until the down timer runs out).
    let ready = notify.wait(10, "READY=1", |m| m.contains("READY=1"));
    assert!(
        ready.contains("STATUS=BACKUP: VI_1"),
        "{ready}\n{}",
        k.log()
    );
    // The watchdog is fed every half WatchdogSec (200 ms): pings keep coming (how
    // fast is not asserted: a loaded machine may be late, and systemd allows up to
    // WatchdogSec).
    for _ in 0..4 {
        notify.wait(2, "WATCHDOG=1", |m| m == "WATCHDOG=1\n");
    }
    // A change of state shows in STATUS=. Meanwhile nobody reads the socket: its queue
    // (10 datagrams) fills with pings, and the loop must not block on it.
    assert!(wait_addr(r1, VIP, true, 10).is_some(), "{}", k.log());
    notify.wait(5, "STATUS=MASTER", |m| m.contains("STATUS=MASTER: VI_1"));
    // A reload: RELOADING=1 (with the monotonic time systemd asks for), then READY=1.
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(k.pid() as i32),
        nix::sys::signal::Signal::SIGHUP,
    )
    .unwrap();
    let reloading = notify.wait(5, "RELOADING=1", |m| m.contains("RELOADING=1"));
    assert!(reloading.contains("MONOTONIC_USEC="), "{reloading}");
    notify.wait(5, "READY=1 after the reload", |m| m.contains("READY=1"));
    // Stop: STOPPING=1.
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(k.pid() as i32),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    notify.wait(5, "STOPPING=1", |m| m.contains("STOPPING=1"));
}
