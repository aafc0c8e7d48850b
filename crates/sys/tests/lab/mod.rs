//! A two-namespace lab for keepup-sys tests: namespaces A and B joined by a veth
//! (a0 in A, b0 in B), removed when the `Lab` is dropped, even after a failed assert.
//!
//! Code under test runs on a thread that has entered one namespace (`setns` moves
//! only the calling thread), so nothing a test opens or changes is in the host's
//! namespace: sockets, netlink requests and /proc/sys/net writes all belong to the
//! namespace of the thread that makes them. `in_ns` checks that it left the host.

#![allow(dead_code)]

use std::future::Future;
use std::process::Command;
use std::thread::JoinHandle;

/// True when the suite runs as root. Under CI (`CI` set) a missing privilege fails
/// the test rather than skipping it.
pub fn have_root() -> bool {
    let root = std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .map(|l| l.split_whitespace().nth(1) == Some("0"))
        })
        .unwrap_or(false);
    if !root {
        assert!(
            std::env::var_os("CI").is_none(),
            "this test needs root (network namespaces) and CI must run it as root"
        );
        eprintln!("skipped: needs root for network namespaces (run the suite as root)");
    }
    root
}

pub const A_V4: &str = "10.201.0.1";
pub const B_V4: &str = "10.201.0.2";
pub const A_LL: &str = "fe80::a";
pub const B_LL: &str = "fe80::b";
pub const A_MAC: &str = "02:00:5e:c9:00:0a";
pub const B_MAC: &str = "02:00:5e:c9:00:0b";

/// Namespaces A and B (names carry the test run's pid and the test's tag), a veth
/// a0 (A) <-> b0 (B), both up, with 10.201.0.{1,2}/24 and fe80::{a,b}/64 (no DAD).
pub struct Lab {
    pub a: String,
    pub b: String,
}

impl Lab {
    pub fn new(tag: &str) -> Lab {
        let pid = std::process::id();
        let lab = Lab {
            a: format!("kus{pid}-{tag}-a"),
            b: format!("kus{pid}-{tag}-b"),
        };
        // Drop removes whatever was created if a later step panics.
        ip(&["netns", "add", &lab.a]);
        ip(&["netns", "add", &lab.b]);
        ip(&[
            "-n", &lab.a, "link", "add", "a0", "address", A_MAC, "type", "veth", "peer", "name",
            "b0", "address", B_MAC, "netns", &lab.b,
        ]);
        for (ns, dev, v4, ll) in [(&lab.a, "a0", A_V4, A_LL), (&lab.b, "b0", B_V4, B_LL)] {
            ip(&["-n", ns, "addr", "add", &format!("{v4}/24"), "dev", dev]);
            ip(&[
                "-n",
                ns,
                "addr",
                "add",
                &format!("{ll}/64"),
                "dev",
                dev,
                "nodad",
            ]);
            ip(&["-n", ns, "link", "set", "lo", "up"]);
            ip(&["-n", ns, "link", "set", dev, "up"]);
        }
        for (ns, dev) in [(&lab.a, "a0"), (&lab.b, "b0")] {
            wait_link_ready(ns, dev);
        }
        lab
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        for ns in [&self.a, &self.b] {
            let _ = Command::new("ip")
                .args(["netns", "del", ns])
                .stderr(std::process::Stdio::null())
                .status();
        }
    }
}

/// Wait until IPv6 has configured `dev` (its ff00::/8 route is in table local).
///
/// Carrier on a new veth reaches the stack through linkwatch, which holds back a
/// second event for up to a second; until then the device sends nothing (noop qdisc)
/// and IPv6 has no routes on it, so it drops what arrives (Ip6InNoRoutes).
pub fn wait_link_ready(ns: &str, dev: &str) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let routes = ip_out(&[
            "-n", ns, "-6", "route", "show", "table", "local", "dev", dev,
        ]);
        if routes.contains("multicast ff00::/8") {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{dev} in {ns} not ready after 10 s"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

pub fn ip(args: &[&str]) {
    let out = Command::new("ip").args(args).output().expect("run ip");
    assert!(
        out.status.success(),
        "ip {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

pub fn ip_out(args: &[&str]) -> String {
    let out = Command::new("ip").args(args).output().expect("run ip");
    assert!(
        out.status.success(),
        "ip {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Run `f` on a new thread inside namespace `ns`, on a current-thread tokio runtime
/// (as the daemon runs). Join the handle to get its result or its panic.
pub fn in_ns<T, F, Fut>(ns: &str, f: F) -> JoinHandle<T>
where
    T: Send + 'static,
    F: FnOnce() -> Fut + Send + 'static,
    Fut: Future<Output = T>,
{
    let path = format!("/run/netns/{ns}");
    std::thread::spawn(move || {
        let host = std::fs::read_link("/proc/self/ns/net").expect("host netns");
        let fd = std::fs::File::open(&path).expect("open netns");
        nix::sched::setns(&fd, nix::sched::CloneFlags::CLONE_NEWNET).expect("setns");
        let here = std::fs::read_link("/proc/thread-self/ns/net").expect("thread netns");
        assert_ne!(
            host, here,
            "the test thread must not run in the host namespace"
        );
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime")
            .block_on(f())
    })
}

/// `in_ns` and wait for it, re-raising its panic on this thread.
pub fn run_in<T, F, Fut>(ns: &str, f: F) -> T
where
    T: Send + 'static,
    F: FnOnce() -> Fut + Send + 'static,
    Fut: Future<Output = T>,
{
    match in_ns(ns, f).join() {
        Ok(v) => v,
        Err(p) => std::panic::resume_unwind(p),
    }
}

/// Join a lab thread, re-raising its panic.
pub fn join<T>(h: JoinHandle<T>) -> T {
    match h.join() {
        Ok(v) => v,
        Err(p) => std::panic::resume_unwind(p),
    }
}
