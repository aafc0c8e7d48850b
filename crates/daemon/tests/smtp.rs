//! `smtp_alert` in the running daemon: real SMTP conversations over TCP with a sink
//! listening on 127.0.0.1 inside each router's namespace (that namespace's own
//! loopback). Root only; CI runs these serially.
#![allow(clippy::unwrap_used)]

mod common;
use common::{keepup, one_instance, routers, wait_addr};

use keepup_testkit::lab::{self, wait_until, Host, Signal};
use std::io::{BufRead, BufReader, Write};
use std::net::{IpAddr, Ipv4Addr, TcpListener};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

const VIP: IpAddr = IpAddr::V4(Ipv4Addr::new(10, 9, 0, 100));

/// One mail as the sink received it.
#[derive(Debug, Clone)]
struct Received {
    at: Instant,
    wall: SystemTime,
    commands: Vec<String>,
    headers: Vec<(String, String)>,
    body: String,
}

impl Received {
    fn header(&self, name: &str) -> &str {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
            .unwrap_or("")
    }
}

/// An SMTP sink on 127.0.0.1 in a host's namespace. `greet: false` accepts
/// connections and never answers (a hung mail server).
struct Sink {
    port: u16,
    mails: Arc<Mutex<Vec<Received>>>,
}

impl Sink {
    fn start(host: &Host, greet: bool) -> Sink {
        // The socket belongs to the namespace of the thread that creates it.
        let ns = format!("/run/netns/{}", host.ns());
        let listener = std::thread::spawn(move || {
            let f = std::fs::File::open(&ns).unwrap();
            nix::sched::setns(&f, nix::sched::CloneFlags::CLONE_NEWNET).unwrap();
            TcpListener::bind("127.0.0.1:0").unwrap()
        })
        .join()
        .unwrap();
        let port = listener.local_addr().unwrap().port();
        let mails = Arc::new(Mutex::new(Vec::new()));
        let m = mails.clone();
        std::thread::spawn(move || {
            let mut held = Vec::new();
            for c in listener.incoming() {
                let Ok(c) = c else { return };
                if !greet {
                    held.push(c);
                    continue;
                }
                if let Some(r) = converse(c) {
                    m.lock().unwrap().push(r);
                }
            }
        });
        Sink { port, mails }
    }

    fn mails(&self) -> Vec<Received> {
        self.mails.lock().unwrap().clone()
    }

    /// Wait for a mail whose subject contains `needle`, received after `since`
    /// mails.
    fn wait_for(&self, since: usize, needle: &str, secs: u64) -> Option<Received> {
        let mut found = None;
        wait_until(Duration::from_secs(secs), Duration::from_millis(5), || {
            found = self
                .mails()
                .into_iter()
                .skip(since)
                .find(|m| m.header("Subject").contains(needle));
            found.is_some()
        });
        found
    }
}

/// One SMTP session, the server side.
fn converse(c: std::net::TcpStream) -> Option<Received> {
    c.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
    let mut w = c.try_clone().ok()?;
    let mut r = BufReader::new(c);
    let mut out = |s: &str| w.write_all(s.as_bytes()).ok();
    out("220-keepup test sink\r\n220 ready\r\n")?;
    let mut commands = Vec::new();
    let mut data = String::new();
    let mut at = None;
    loop {
        let mut line = String::new();
        if r.read_line(&mut line).ok()? == 0 {
            break;
        }
        let cmd = line.trim_end().to_string();
        commands.push(cmd.clone());
        match cmd.get(..4).unwrap_or("") {
            "EHLO" => out("250-sink\r\n250 8BITMIME\r\n")?,
            "DATA" => {
                out("354 go ahead\r\n")?;
                loop {
                    let mut l = String::new();
                    if r.read_line(&mut l).ok()? == 0 || l == ".\r\n" {
                        break;
                    }
                    data.push_str(&l);
                }
                at = Some(Instant::now());
                out("250 queued\r\n")?;
            }
            "QUIT" => {
                out("221 bye\r\n")?;
                break;
            }
            _ => out("250 ok\r\n")?,
        }
    }
    let (head, body) = data.split_once("\r\n\r\n")?;
    // Unfold long headers (RFC 5322 §2.2.3), as any mail reader does.
    let head = head.replace("\r\n ", " ").replace("\r\n\t", "\t");
    let headers = head
        .split("\r\n")
        .filter_map(|l| l.split_once(": "))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    Some(Received {
        at: at?,
        wall: SystemTime::now(),
        commands,
        headers,
        body: body.to_string(),
    })
}

/// `router_id` = host name; mail to two recipients through 127.0.0.1:`port`.
/// `global`: `smtp_alert` in global_defs, else in the instance.
fn conf(host: &str, prio: u8, port: u16, global: bool, timeout: u32) -> String {
    let (g, i) = if global {
        ("    smtp_alert\n", "")
    } else {
        ("", "    smtp_alert\n")
    };
    let top = format!(
        "global_defs {{
    router_id {host}
    notification_email {{
        ops@example.com
        noc@example.com
    }}
    notification_email_from keepup-{host}@example.com
    smtp_server 127.0.0.1 {port}
    smtp_helo_name {host}.lab
    smtp_connect_timeout {timeout}
{g}}}"
    );
    one_instance(prio, &top, i)
}

fn check_envelope(m: &Received, host: &str) {
    assert_eq!(m.header("From"), format!("keepup-{host}@example.com"));
    assert_eq!(m.header("To"), "ops@example.com, noc@example.com");
    assert_eq!(m.header("X-Mailer"), "Keepalived");
    assert!(m.header("Date").ends_with(" +0000"), "{m:?}");
    assert_eq!(
        m.commands,
        [
            format!("EHLO {host}.lab"),
            format!("MAIL FROM:<keepup-{host}@example.com>"),
            "RCPT TO:<ops@example.com>".into(),
            "RCPT TO:<noc@example.com>".into(),
            "DATA".into(),
            "QUIT".into(),
        ]
    );
}

/// When the daemon logged the first line containing `needle` (its log lines start
/// with an RFC 3339 UTC time, `2025-03-04T09:05:01.123456Z`).
fn logged_at(log: &str, needle: &str) -> SystemTime {
    let line = log
        .lines()
        .find(|l| l.contains(needle))
        .unwrap_or_else(|| panic!("no {needle:?} in the log:\n{log}"));
    let ts = line.split_whitespace().next().unwrap();
    UNIX_EPOCH + keepup::demo::parse_utc(ts).unwrap_or_else(|| panic!("no time in {line:?}"))
}

/// From the logged transition to the mail's arrival at the sink, in ms.
fn delay(log: &str, needle: &str, m: &Received) -> f64 {
    let t = logged_at(log, needle);
    match m.wall.duration_since(t) {
        Ok(d) => d.as_secs_f64() * 1e3,
        Err(e) => -(e.duration().as_secs_f64() * 1e3),
    }
}

/// Signed delay from `from` to `to`, in ms.
fn ms(from: Instant, to: Instant) -> f64 {
    if to >= from {
        (to - from).as_secs_f64() * 1e3
    } else {
        -((from - to).as_secs_f64() * 1e3)
    }
}

/// r1 (150, global `smtp_alert`) and r2 (100, the instance's `smtp_alert`), each
/// with a sink on its own loopback. r1 mails BACKUP (init) then MASTER, r2 BACKUP;
/// r1 unplugged: r1 mails FAULT (its server is local), r2 MASTER; SIGTERM on r2:
/// its STOP mail leaves before it exits. Each mail arrives within a second of the
/// transition the daemon logged (a loopback conversation takes milliseconds; the
/// rest is slack for a loaded host).
#[test]
fn netns_smtp_alert_mails_each_transition() {
    if !lab::root_or_skip("netns_smtp_alert_mails_each_transition") {
        return;
    }
    let (lab, lan, mut hosts) = routers("smtp", 2, false);
    let r2 = hosts.pop().unwrap();
    let r1 = hosts.pop().unwrap();
    let s1 = Sink::start(&r1, true);
    let s2 = Sink::start(&r2, true);
    let k1 = keepup(&lab, &r1, &conf("r1", 150, s1.port, true, 5), "a");
    let k2 = keepup(&lab, &r2, &conf("r2", 100, s2.port, false, 5), "a");

    assert!(
        wait_addr(&r1, VIP, true, 10).is_some(),
        "r1 never became master:\n{}",
        k1.log()
    );
    let m = s1
        .wait_for(0, "Entering MASTER state", 5)
        .unwrap_or_else(|| panic!("no MASTER mail from r1: {:?}\n{}", s1.mails(), k1.log()));
    let d1 = delay(&k1.log(), "Entering MASTER STATE", &m);
    eprintln!("r1: Entering MASTER STATE -> mail in the sink: {d1:.1} ms");
    assert_eq!(
        m.header("Subject"),
        "[r1] VRRP Instance VI_1 - Entering MASTER state"
    );
    assert!(m.body.contains("now MASTER"), "{}", m.body);
    check_envelope(&m, "r1");
    assert!((-1.0..1000.0).contains(&d1), "{d1:.1} ms");
    // r1 first came up as BACKUP (init): that mail came first.
    let subjects: Vec<String> = s1
        .mails()
        .iter()
        .map(|m| m.header("Subject").to_string())
        .collect();
    assert_eq!(
        subjects,
        [
            "[r1] VRRP Instance VI_1 - Entering BACKUP state",
            "[r1] VRRP Instance VI_1 - Entering MASTER state"
        ]
    );
    let b = s2
        .wait_for(0, "Entering BACKUP state", 5)
        .unwrap_or_else(|| panic!("no BACKUP mail from r2:\n{}", k2.log()));
    check_envelope(&b, "r2");
    assert_eq!(
        b.header("Subject"),
        "[r2] VRRP Instance VI_1 - Entering BACKUP state"
    );
    k1.wait_for_log("SMTP alert successfully sent.", Duration::from_secs(2))
        .unwrap();

    // Failover: r1's link goes down.
    let (n1, n2) = (s1.mails().len(), s2.mails().len());
    lan.port_down(&r1).unwrap();
    let cut = Instant::now();
    assert!(
        wait_addr(&r2, VIP, true, 8).is_some(),
        "r2 did not take over:\n{}",
        k2.log()
    );
    let m2 = s2
        .wait_for(n2, "Entering MASTER state", 5)
        .unwrap_or_else(|| panic!("no MASTER mail from r2: {:?}\n{}", s2.mails(), k2.log()));
    let f1 = s1
        .wait_for(n1, "Entering FAULT state", 5)
        .unwrap_or_else(|| panic!("no FAULT mail from r1: {:?}\n{}", s1.mails(), k1.log()));
    let d2 = delay(&k2.log(), "Entering MASTER STATE", &m2);
    let df = delay(&k1.log(), "Entering FAULT STATE", &f1);
    eprintln!(
        "r2: Entering MASTER STATE -> mail: {d2:.1} ms ({:.0} ms after the cut); r1: Entering FAULT STATE -> mail: {df:.1} ms ({:.1} ms after the cut)",
        ms(cut, m2.at),
        ms(cut, f1.at)
    );
    assert_eq!(
        m2.header("Subject"),
        "[r2] VRRP Instance VI_1 - Entering MASTER state"
    );
    check_envelope(&m2, "r2");
    check_envelope(&f1, "r1");
    assert!((-1.0..1000.0).contains(&d2), "{d2:.1} ms");
    assert!((-1.0..1000.0).contains(&df), "{df:.1} ms");
    // The carrier loss reaches r1 at once: FAULT well before r2's down timer runs out.
    assert!(ms(cut, f1.at) < 1500.0, "{:.1} ms", ms(cut, f1.at));

    // SIGTERM on r2: the STOP mail goes out before the daemon exits.
    let n2 = s2.mails().len();
    k2.kill(Signal::SIGTERM).unwrap();
    assert!(
        k2.wait_timeout(Duration::from_secs(10)).is_some(),
        "r2 did not exit:\n{}",
        k2.log()
    );
    let stop = s2.mails()[n2..].to_vec();
    assert_eq!(
        stop.iter().map(|m| m.header("Subject")).collect::<Vec<_>>(),
        ["[r2] VRRP Instance VI_1 - Stopping"],
        "{}",
        k2.log()
    );
    let ds = delay(&k2.log(), "Entering STOP STATE", &stop[0]);
    eprintln!("r2: Entering STOP STATE -> mail: {ds:.1} ms");
    assert!((-1.0..1000.0).contains(&ds), "{ds:.1} ms");
    drop(k1);
}

/// A mail server that accepts the connection and never answers (smtp_connect_timeout
/// 30 s): failover is not delayed by a second, and the daemon logs the timeout.
#[test]
fn netns_smtp_hung_server_does_not_delay_failover() {
    if !lab::root_or_skip("netns_smtp_hung_server_does_not_delay_failover") {
        return;
    }
    let (lab, _lan, mut hosts) = routers("smtph", 2, false);
    let r2 = hosts.pop().unwrap();
    let r1 = hosts.pop().unwrap();
    let s1 = Sink::start(&r1, false);
    let s2 = Sink::start(&r2, false);
    let k1 = keepup(&lab, &r1, &conf("r1", 150, s1.port, true, 2), "a");
    let k2 = keepup(&lab, &r2, &conf("r2", 100, s2.port, true, 30), "a");
    assert!(
        wait_addr(&r1, VIP, true, 10).is_some(),
        "r1 never became master:\n{}",
        k1.log()
    );
    // r2's BACKUP mail now hangs for 30 s; r1 dies.
    k2.wait_for_log("Remote SMTP server", Duration::from_secs(3))
        .unwrap();
    k1.kill(Signal::SIGKILL).unwrap();
    let killed = Instant::now();
    assert!(
        wait_addr(&r2, VIP, true, 8).is_some(),
        "r2 did not take over:\n{}",
        k2.log()
    );
    let took = killed.elapsed();
    eprintln!("takeover {took:?} after the kill with r2's mail server hung");
    // Master_Down_Interval 3 × 1 s + skew (100/256 s) = 3.61 s, plus slack.
    assert!(took < Duration::from_millis(5000), "{took:?}");
    // r1 (2 s timeout) logged its own hung server.
    assert!(
        k1.log()
            .contains("Timeout reading data from SMTP server [127.0.0.1]"),
        "{}",
        k1.log()
    );
    assert!(s1.mails().is_empty() && s2.mails().is_empty());
}

#[test]
fn netns_smtp_alert_mails_a_real_server_going_down_and_its_quorum() {
    if !lab::root_or_skip("netns_smtp_alert_mails_a_real_server_going_down_and_its_quorum") {
        return;
    }
    let (lab, _lan, hosts) = routers("ksmc", 1, false);
    let r1 = &hosts[0];
    let sink = Sink::start(r1, true);
    let port = sink.port;
    // No server on 10.9.0.1:8089: the checker fails at its first run.
    let conf = format!(
        "global_defs {{
    router_id r1
    notification_email {{
        ops@example.com
    }}
    notification_email_from keepup-r1@example.com
    smtp_server 127.0.0.1 {port}
    smtp_alert_checker
}}
virtual_server 10.9.0.100 80 {{
    delay_loop 1
    lb_algo rr
    lb_kind NAT
    protocol TCP
    real_server 10.9.0.1 8089 {{
        TCP_CHECK {{
            connect_timeout 1
            retry 0
            warmup 0
        }}
    }}
}}
"
    );
    let k = keepup(&lab, r1, &conf, "a");
    let m = sink
        .wait_for(0, "Realserver [10.9.0.1]:tcp:8089 of virtual server", 10)
        .unwrap_or_else(|| panic!("no mail:\n{}", k.log()));
    assert_eq!(
        m.header("Subject"),
        "[r1] Realserver [10.9.0.1]:tcp:8089 of virtual server [10.9.0.100]:tcp:80 - DOWN"
    );
    assert!(
        m.body.contains("=> TCP CHECK failed on service <="),
        "{}",
        m.body
    );
    let q = sink
        .wait_for(0, "Virtualserver [10.9.0.100]:tcp:80 - DOWN", 10)
        .unwrap_or_else(|| panic!("no quorum mail:\n{}", k.log()));
    assert!(q.body.contains("Lost quorum"), "{}", q.body);
}
