//! The process connector against the real kernel (root). The monitor is opened on a
//! thread inside a lab namespace, as a daemon started with `ip netns exec` would be:
//! the connector only exists in the initial network namespace, so this also shows the
//! monitor reaching it from elsewhere.

mod lab;

use std::time::Duration;

use keepup_sys::{ProcEvent, ProcessMonitor};
use lab::{have_root, run_in, Lab};

/// Events until `want` matches one (or 10 s pass); the events before it.
async fn wait_for(
    m: &mut ProcessMonitor,
    what: &str,
    mut want: impl FnMut(&ProcEvent) -> bool,
) -> Vec<ProcEvent> {
    let mut before = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let e = tokio::time::timeout_at(deadline, m.next())
            .await
            .unwrap_or_else(|_| panic!("no {what} within 10 s"))
            .expect("process monitor");
        if want(&e) {
            return before;
        }
        before.push(e);
    }
}

/// A child's fork, exec, name change and exit are each reported with its pid.
#[test]
fn netns_process_monitor_sees_fork_exec_comm_and_exit_of_a_child() {
    if !have_root() {
        return;
    }
    let lab = Lab::new("proc");
    run_in(&lab.a, || async {
        let mut m = ProcessMonitor::new().expect("process monitor");
        assert!(
            m.in_initial_namespace(),
            "from a lab namespace the socket is opened in the initial one"
        );
        // sh renames itself, then forks a child that execs sleep, and waits.
        let mut child = std::process::Command::new("/bin/sh")
            .args([
                "-c",
                "printf kpmon-comm > /proc/$$/comm; /bin/sleep 0.2 & wait",
            ])
            .spawn()
            .expect("spawn sh");
        let sh = i32::try_from(child.id()).expect("pid");
        wait_for(&mut m, "exec of sh", |e| {
            *e == ProcEvent::Exec { pid: sh, tgid: sh }
        })
        .await;
        wait_for(&mut m, "comm change of sh", |e| {
            *e == ProcEvent::Comm {
                pid: sh,
                tgid: sh,
                comm: "kpmon-comm".into(),
            }
        })
        .await;
        let mut forked = 0;
        wait_for(&mut m, "fork by sh", |e| match e {
            ProcEvent::Fork {
                parent_tgid,
                child_pid,
                child_tgid,
            } if *parent_tgid == sh && child_pid == child_tgid => {
                forked = *child_pid;
                true
            }
            _ => false,
        })
        .await;
        assert_ne!(forked, sh);
        wait_for(&mut m, "exec of sleep", |e| {
            *e == ProcEvent::Exec {
                pid: forked,
                tgid: forked,
            }
        })
        .await;
        wait_for(&mut m, "exit of sleep", |e| {
            *e == ProcEvent::Exit {
                pid: forked,
                tgid: forked,
            }
        })
        .await;
        wait_for(&mut m, "exit of sh", |e| {
            *e == ProcEvent::Exit { pid: sh, tgid: sh }
        })
        .await;
        assert!(child.wait().expect("wait sh").success());
    });
}
