//! The LVS soak's world: six real servers, the configuration keepup directs them with
//! (in three variants a reload moves between), each server's faults, and from these the
//! IPVS table that must result: [`expected`].
//!
//! The rules modelled are keepalived's (and keepup's `check::sched`): a real server is
//! alive while its checker passes; `inhibit_on_failure` keeps a dead one at weight 0; a
//! virtual server with a quorum loses it when its alive real servers weigh less than
//! `quorum` (hysteresis 0 here) or nothing, and then its sorry server (weight 1)
//! replaces them all (inhibited ones stay at 0).
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::net::Ipv4Addr;
use std::path::Path;
use std::time::Duration;

/// The director's address on the servers' LAN: the checkers come from it.
pub const DIRECTOR: Ipv4Addr = Ipv4Addr::new(10, 61, 0, 1);
pub const SORRY: Ipv4Addr = Ipv4Addr::new(10, 61, 0, 20);
pub const SERVERS: usize = 6;
/// The page every server answers with while healthy; `digest` is its MD5.
pub const BODY: &str = "ok\n";
pub const BODY_MD5: &str = "eff5bc1ef8ec9d03e640fc4370f5eacd";

/// Real server `i` (0-based) is `rs{i+1}` at 10.61.0.1{i+1}, port 80.
pub fn server_addr(i: usize) -> Ipv4Addr {
    Ipv4Addr::new(10, 61, 0, 11 + i as u8)
}

/// The checkers' timing (the same for every checker of a kind).
pub const DELAY_LOOP: u64 = 1;
pub const CONNECT_TIMEOUT: u64 = 2;
pub const RETRY: u32 = 1;
pub const DELAY_BEFORE_RETRY: u64 = 1;
pub const MISC_TIMEOUT: u64 = 2;
/// keepup gives a MISC_CHECK script a second past misc_timeout to report its end.
const MISC_GRACE: u64 = 1;
/// What the emulated guest may add: a loaded vCPU, a script's start, the reconciler's batch.
pub const SLACK: Duration = Duration::from_millis(3000);
/// A fresh checker (start, or new in a reload) runs first after keepalived's
/// BOOTSTRAP_DELAY (warmup is 0 here).
pub const BOOTSTRAP: Duration = Duration::from_secs(1);

/// How a real server is checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Check {
    Tcp,
    /// HTTP_GET with `status_code 200` and the page's `digest`.
    Http,
    /// MISC_CHECK: a GET of the page (fails on an HTTP error, not on a wrong body).
    Misc,
}

impl Check {
    /// The longest a change of the server's health can take to show in this checker's
    /// verdict: the change may come just after a run began that then passes (one
    /// timeout), the next run starts within delay_loop, and a down needs the first
    /// failure plus `retry` more, `delay_before_retry` apart, each up to its timeout.
    pub fn bound(self) -> Duration {
        let (timeout, retry) = match self {
            Check::Tcp | Check::Http => (CONNECT_TIMEOUT, u64::from(RETRY)),
            Check::Misc => (MISC_TIMEOUT + MISC_GRACE, u64::from(RETRY)),
        };
        Duration::from_secs(DELAY_LOOP + (retry + 2) * timeout + retry * DELAY_BEFORE_RETRY)
    }
}

/// B: the longest checker bound plus [`SLACK`]. After a fault or heal at H the table
/// must equal the truth from H + B on.
pub fn bound() -> Duration {
    [Check::Tcp, Check::Http, Check::Misc]
        .into_iter()
        .map(Check::bound)
        .max()
        .unwrap_or_default()
        + SLACK
}

/// What is wrong with a server's answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Mode {
    #[default]
    Ok,
    /// HTTP 500.
    Error,
    /// 200 with another page (a wrong digest).
    Wrong,
}

impl Mode {
    /// The word the server reads from its mode file.
    pub fn word(self) -> &'static str {
        match self {
            Mode::Ok => "ok",
            Mode::Error => "500",
            Mode::Wrong => "wrong",
        }
    }
}

/// One server's faults.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Health {
    pub killed: bool,
    /// SIGSTOP: the kernel still completes connections, nothing answers.
    pub stopped: bool,
    pub link_down: bool,
    pub drop_in: bool,
    pub drop_out: bool,
    pub mode: Mode,
}

impl Health {
    pub fn passes(&self, c: Check) -> bool {
        let reachable = !self.killed && !self.link_down && !self.drop_in && !self.drop_out;
        match c {
            Check::Tcp => reachable,
            Check::Http => reachable && !self.stopped && self.mode == Mode::Ok,
            Check::Misc => reachable && !self.stopped && self.mode != Mode::Error,
        }
    }
}

/// What a reload may change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Variant {
    /// rs6 also in the first virtual server.
    pub extra_rs: bool,
    /// A fourth virtual server.
    pub extra_vs: bool,
    /// rs1 at weight 3 in the first virtual server instead of 1.
    pub heavy: bool,
}

/// One real server of a virtual server.
#[derive(Debug, Clone, PartialEq)]
pub struct Rs {
    pub server: usize,
    pub weight: u32,
    pub check: Check,
    pub inhibit: bool,
}

/// One virtual server.
#[derive(Debug, Clone, PartialEq)]
pub struct Vs {
    pub vip: Ipv4Addr,
    pub port: u16,
    pub sched: &'static str,
    pub rs: Vec<Rs>,
    /// quorum, with the sorry server (port 80) and quorum_up/down scripts.
    pub quorum: Option<u32>,
}

impl Vs {
    pub fn name(&self) -> String {
        format!("{}:{}", self.vip, self.port)
    }
}

fn rs(server: usize, weight: u32, check: Check, inhibit: bool) -> Rs {
    Rs {
        server,
        weight,
        check,
        inhibit,
    }
}

/// The virtual servers of a variant.
pub fn virtual_servers(v: Variant) -> Vec<Vs> {
    let vip = Ipv4Addr::new(10, 60, 0, 100);
    let mut a = vec![
        rs(0, if v.heavy { 3 } else { 1 }, Check::Tcp, false),
        rs(1, 2, Check::Tcp, true),
        rs(2, 1, Check::Http, false),
    ];
    if v.extra_rs {
        a.push(rs(5, 1, Check::Tcp, false));
    }
    let mut all = vec![
        Vs {
            vip,
            port: 80,
            sched: "rr",
            rs: a,
            quorum: Some(3),
        },
        Vs {
            vip,
            port: 8080,
            sched: "wrr",
            rs: vec![
                rs(2, 2, Check::Http, false),
                rs(3, 1, Check::Http, true),
                rs(4, 3, Check::Http, false),
            ],
            quorum: None,
        },
        Vs {
            vip: Ipv4Addr::new(10, 60, 0, 101),
            port: 80,
            sched: "wlc",
            rs: vec![
                rs(4, 1, Check::Misc, false),
                rs(5, 1, Check::Misc, true),
                rs(3, 2, Check::Tcp, false),
            ],
            quorum: None,
        },
    ];
    if v.extra_vs {
        all.push(Vs {
            vip: Ipv4Addr::new(10, 60, 0, 102),
            port: 80,
            sched: "rr",
            rs: vec![rs(0, 1, Check::Tcp, false), rs(1, 1, Check::Http, false)],
            quorum: None,
        });
    }
    all
}

/// keepalived.conf for a variant; `dir` holds the MISC_CHECK and quorum scripts.
pub fn config(v: Variant, dir: &Path) -> String {
    let d = dir.display();
    let mut s = format!("# keepup-bench chaos-lvs, variant {v:?}\n");
    for vs in virtual_servers(v) {
        let _ = writeln!(
            s,
            "virtual_server {} {} {{\n  delay_loop {DELAY_LOOP}\n  lb_algo {}\n  lb_kind NAT\n  protocol TCP",
            vs.vip, vs.port, vs.sched
        );
        if let Some(q) = vs.quorum {
            let _ = writeln!(
                s,
                "  quorum {q}\n  hysteresis 0\n  sorry_server {SORRY} 80\n  \
                 quorum_up \"{d}/quorum.sh up\"\n  quorum_down \"{d}/quorum.sh down\""
            );
        }
        for r in &vs.rs {
            let _ = writeln!(
                s,
                "  real_server {} 80 {{\n    weight {}",
                server_addr(r.server),
                r.weight
            );
            if r.inhibit {
                s.push_str("    inhibit_on_failure\n");
            }
            match r.check {
                Check::Tcp => {
                    let _ = writeln!(
                        s,
                        "    TCP_CHECK {{\n      connect_timeout {CONNECT_TIMEOUT}\n      retry {RETRY}\n      \
                         delay_before_retry {DELAY_BEFORE_RETRY}\n      warmup 0\n    }}"
                    );
                }
                Check::Http => {
                    let _ = writeln!(
                        s,
                        "    HTTP_GET {{\n      url {{\n        path /\n        status_code 200\n        \
                         digest {BODY_MD5}\n      }}\n      connect_timeout {CONNECT_TIMEOUT}\n      \
                         retry {RETRY}\n      delay_before_retry {DELAY_BEFORE_RETRY}\n      warmup 0\n    }}"
                    );
                }
                Check::Misc => {
                    let _ = writeln!(
                        s,
                        "    MISC_CHECK {{\n      misc_path \"{d}/misc.sh {}\"\n      misc_timeout {MISC_TIMEOUT}\n      \
                         retry {RETRY}\n      delay_before_retry {DELAY_BEFORE_RETRY}\n      warmup 0\n    }}",
                        server_addr(r.server)
                    );
                }
            }
            s.push_str("  }\n");
        }
        s.push_str("}\n");
    }
    s
}

/// The MISC_CHECK script (a GET by bash's /dev/tcp, quick to start in the emulated
/// guest where curl takes a second: fails on an HTTP error or no answer, not on a wrong
/// page; a connection that hangs is killed at misc_timeout) and the
/// quorum script (appends its word and the time).
pub fn scripts(dir: &Path) -> [(&'static str, String); 2] {
    [
        (
            "misc.sh",
            "#!/bin/bash\nexec 3<>\"/dev/tcp/$1/80\" || exit 1\n\
             printf 'GET / HTTP/1.0\\r\\nHost: %s\\r\\n\\r\\n' \"$1\" >&3\n\
             read -r -t 1.5 proto code rest <&3 || exit 1\n[ \"${code:-999}\" -lt 400 ]\n"
                .to_owned(),
        ),
        (
            "quorum.sh",
            format!(
                "#!/bin/sh\necho \"$1 $(date +%s.%N)\" >> {}/quorum.log\n",
                dir.display()
            ),
        ),
    ]
}

/// The table as the soak compares it: `TCP 10.60.0.100:80 rr` for a service (value
/// -1), `TCP 10.60.0.100:80 -> 10.61.0.11:80 Masq` for a destination (value its weight).
pub type Table = BTreeMap<String, i64>;

/// The table for a variant when `alive(vs, rs)` says which real servers are alive.
pub fn expected(v: Variant, alive: &dyn Fn(&Vs, &Rs) -> bool) -> Table {
    let mut t = Table::new();
    for vs in virtual_servers(v) {
        let svc = format!("TCP {}", vs.name());
        t.insert(format!("{svc} {}", vs.sched), -1);
        let live: i64 = vs
            .rs
            .iter()
            .filter(|r| alive(&vs, r))
            .map(|r| i64::from(r.weight))
            .sum();
        let sorry_on = vs.quorum.is_some_and(|q| live == 0 || live < i64::from(q));
        for r in &vs.rs {
            let key = format!("{svc} -> {}:80 Masq", server_addr(r.server));
            if alive(&vs, r) && !sorry_on {
                t.insert(key, i64::from(r.weight));
            } else if r.inhibit {
                t.insert(key, 0);
            }
        }
        if sorry_on {
            t.insert(format!("{svc} -> {SORRY}:80 Masq"), 1);
        }
    }
    t
}

/// The truth: each real server alive exactly when its checker passes.
pub fn truth(v: Variant, health: &[Health; SERVERS]) -> Table {
    expected(v, &|_, r| health[r.server].passes(r.check))
}

/// What a (re)started keepup begins from: every real server alive until checked.
pub fn fresh(v: Variant) -> Table {
    expected(v, &|_, _| true)
}

/// What a reload from `old` begins from: the real servers it keeps as they were, the
/// new ones alive until checked.
pub fn reloaded(old: Variant, new: Variant, health: &[Health; SERVERS]) -> Table {
    let before = virtual_servers(old);
    expected(new, &|vs, r| {
        let kept = before.iter().any(|o| {
            o.vip == vs.vip
                && o.port == vs.port
                && o.rs
                    .iter()
                    .any(|x| x.server == r.server && x.check == r.check)
        });
        !kept || health[r.server].passes(r.check)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bound_comes_from_the_checkers_timing() {
        // TCP/HTTP: 1 + 3 x 2 + 1 = 8 s; MISC: 1 + 3 x (2 + 1) + 1 = 11 s; plus the slack.
        assert_eq!(Check::Tcp.bound(), Duration::from_secs(8));
        assert_eq!(Check::Misc.bound(), Duration::from_secs(11));
        assert_eq!(bound(), Duration::from_secs(14));
    }

    #[test]
    fn quorum_lost_brings_the_sorry_server_and_keeps_the_inhibited_at_zero() {
        let mut h = [Health::default(); SERVERS];
        let v = Variant::default();
        let t = truth(v, &h);
        assert_eq!(t["TCP 10.60.0.100:80 -> 10.61.0.12:80 Masq"], 2);
        assert!(!t.contains_key("TCP 10.60.0.100:80 -> 10.61.0.20:80 Masq"));
        // rs2 (weight 2 of 4, quorum 3) dies: the sorry server takes over.
        h[1].killed = true;
        let t = truth(v, &h);
        assert_eq!(t["TCP 10.60.0.100:80 -> 10.61.0.20:80 Masq"], 1);
        assert_eq!(t["TCP 10.60.0.100:80 -> 10.61.0.12:80 Masq"], 0);
        assert!(!t.contains_key("TCP 10.60.0.100:80 -> 10.61.0.11:80 Masq"));
        // With rs1 heavy, the quorum holds.
        let t = truth(Variant { heavy: true, ..v }, &h);
        assert_eq!(t["TCP 10.60.0.100:80 -> 10.61.0.11:80 Masq"], 3);
        assert!(!t.contains_key("TCP 10.60.0.100:80 -> 10.61.0.20:80 Masq"));
    }

    #[test]
    fn a_hung_server_passes_tcp_only_and_a_wrong_page_passes_misc() {
        let hung = Health {
            stopped: true,
            ..Health::default()
        };
        assert!(hung.passes(Check::Tcp));
        assert!(!hung.passes(Check::Http) && !hung.passes(Check::Misc));
        let wrong = Health {
            mode: Mode::Wrong,
            ..Health::default()
        };
        assert!(wrong.passes(Check::Misc) && !wrong.passes(Check::Http));
    }

    #[test]
    fn a_reload_starts_only_the_new_real_servers_alive() {
        let mut h = [Health::default(); SERVERS];
        h[5].killed = true;
        let old = Variant::default();
        let new = Variant {
            extra_rs: true,
            ..old
        };
        let start = reloaded(old, new, &h);
        assert_eq!(start["TCP 10.60.0.100:80 -> 10.61.0.16:80 Masq"], 1);
        // rs6 in the MISC service was there before: still inhibited.
        assert_eq!(start["TCP 10.60.0.101:80 -> 10.61.0.16:80 Masq"], 0);
        assert!(!truth(new, &h).contains_key("TCP 10.60.0.100:80 -> 10.61.0.16:80 Masq"));
    }
}
