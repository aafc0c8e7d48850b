//! The network checkers against real servers in a namespace: DNS_CHECK against
//! dnsmasq, UDP_CHECK against a UDP echo service, SMTP_CHECK against OpenSMTPD, and
//! PING_CHECK against the kernel's own echo replies. keepup runs in r1 (10.9.0.1),
//! the servers in r2 (10.9.0.2); each test checks the log lines in keepalived's
//! words, the reason of each failure, and `keepup status`. Root only; CI runs these
//! serially.
#![allow(clippy::unwrap_used)]

mod common;
use common::{client, keepup, routers};

use keepup_testkit::lab::{wait_until, Host, Lab, Proc, Signal};
use std::time::Duration;

/// How many times `what` is in the log.
fn count(k: &Proc, what: &str) -> usize {
    k.log().matches(what).count()
}

/// Wait until `what` is in the log at least `n` times.
fn wait_log(k: &Proc, what: &str, n: usize, secs: u64) -> bool {
    wait_until(
        Duration::from_secs(secs),
        Duration::from_millis(100),
        || count(k, what) >= n,
    )
    .is_some()
}

/// Wait for one more `what` than now, after `act`.
fn after(k: &Proc, what: &str, secs: u64, act: impl FnOnce()) {
    let n = count(k, what);
    act();
    assert!(
        wait_log(k, what, n + 1, secs),
        "no new {what:?} within {secs} s:\n{}",
        k.log()
    );
}

/// The `keepup status` line of real server `rs`, waiting until it holds every word of
/// `want` (the status is refreshed within a second of a change).
fn status_line(lab: &Lab, host: &Host, rs: &str, want: &[&str]) -> String {
    let mut line = String::new();
    let mut all = String::new();
    let ok = wait_until(Duration::from_secs(5), Duration::from_millis(200), || {
        let (code, out, err) = client(lab, host, &["status"]);
        assert_eq!(code, 0, "{err}");
        line = out
            .lines()
            .find(|l| l.contains(rs))
            .unwrap_or_default()
            .to_string();
        all = out;
        want.iter().all(|w| line.contains(w))
    });
    assert!(ok.is_some(), "status of {rs} lacks {want:?}:\n{all}");
    line
}

/// The program must be installed (scripts/test installs it from `package`).
fn need(program: &str, package: &str) {
    let found = ["/usr/sbin", "/usr/bin", "/sbin", "/bin"]
        .iter()
        .any(|d| std::path::Path::new(d).join(program).exists());
    assert!(
        found,
        "{program} is not installed: apt-get install {package} (scripts/test does)"
    );
}

/// The timing every checker here uses: one run a second, down on the first failure.
const FAST: &str = "connect_timeout 1\n            retry 0\n            warmup 0";

// ---------------------------------------------------------------------------------
// DNS_CHECK against dnsmasq.
// ---------------------------------------------------------------------------------

/// dnsmasq in `host` on 10.9.0.2:53, in the foreground with no config file but its
/// arguments: example.test (and its subdomains) is 10.9.0.55; with no upstream, any
/// other name is answered REFUSED.
fn dnsmasq(host: &Host, n: usize) -> Proc {
    host.spawn(
        "dnsmasq",
        &[
            "--no-daemon",
            "--conf-file=/dev/null",
            "--listen-address=10.9.0.2",
            "--bind-interfaces",
            "--port=53",
            "--no-resolv",
            "--no-hosts",
            "--pid-file=",
            "--address=/example.test/10.9.0.55",
            "--log-facility=-",
            "--log-queries",
        ],
        format!("dnsmasq-{n}.log"),
    )
    .unwrap()
}

#[test]
fn netns_dns_check_against_dnsmasq() {
    if !keepup_testkit::lab::root_or_skip("netns_dns_check_against_dnsmasq") {
        return;
    }
    need("dnsmasq", "dnsmasq-base");
    let (lab, _lan, hosts) = routers("kdns", 2, false);
    let (r1, r2) = (&hosts[0], &hosts[1]);
    let conf = format!(
        r#"
virtual_server 10.9.0.100 53 {{
    delay_loop 1
    lb_algo rr
    lb_kind NAT
    protocol UDP
    real_server 10.9.0.2 53 {{
        DNS_CHECK {{
            type A
            name example.test
            {FAST}
        }}
    }}
    real_server 10.9.0.3 53 {{
        DNS_CHECK {{
            connect_ip 10.9.0.2
            type A
            name other.test
            {FAST}
        }}
    }}
}}
"#
    );
    let dns = dnsmasq(r2, 1);
    dns.wait_for_log("started, version", Duration::from_secs(5))
        .unwrap();
    let k = keepup(&lab, r1, &conf, "a");
    assert!(
        wait_log(
            &k,
            "DNS_CHECK on service [10.9.0.2]:udp:53 succeeded.",
            1,
            10
        ),
        "{}",
        k.log()
    );
    // dnsmasq really answered it (and really refused the other name).
    assert!(dns.log().contains("query[A] example.test from 10.9.0.1"));
    assert!(
        wait_log(
            &k,
            "Removing service [10.9.0.3]:udp:53 from VS [10.9.0.100]:udp:53",
            1,
            10
        ),
        "{}",
        k.log()
    );
    assert!(
        k.log().contains(
            "DNS_CHECK on service [10.9.0.3]:udp:53 failed (DNS RCODE REFUSED (5) for A other.test)."
        ),
        "{}",
        k.log()
    );
    assert!(
        dns.log().contains("config error is REFUSED"),
        "{}",
        dns.log()
    );
    status_line(
        &lab,
        r1,
        "[10.9.0.3]:udp:53",
        &[
            "DOWN",
            "DNS_CHECK failing",
            "DNS RCODE REFUSED (5) for A other.test",
        ],
    );
    status_line(&lab, r1, "[10.9.0.2]:udp:53", &["up", "DNS_CHECK ok"]);

    // dnsmasq hangs (SIGSTOP): its socket is open but nothing answers.
    after(&k, "Removing service [10.9.0.2]:udp:53", 10, || {
        dns.kill(Signal::SIGSTOP).unwrap();
    });
    let why = "no DNS answer from 10.9.0.2:53 within 1 s";
    assert!(
        k.log().contains(&format!(
            "DNS_CHECK on service [10.9.0.2]:udp:53 failed ({why})."
        )),
        "{}",
        k.log()
    );
    status_line(
        &lab,
        r1,
        "[10.9.0.2]:udp:53",
        &["DOWN", "DNS_CHECK failing", why],
    );
    // It resumes: back in on its first answer.
    after(&k, "Adding service [10.9.0.2]:udp:53", 10, || {
        dns.kill(Signal::SIGCONT).unwrap();
    });
    // It stops: the port is closed, and the kernel says so.
    after(&k, "Removing service [10.9.0.2]:udp:53", 10, || {
        dns.terminate(Duration::from_secs(2));
    });
    assert!(
        k.log().contains(
            "DNS_CHECK on service [10.9.0.2]:udp:53 failed (ICMP port unreachable from 10.9.0.2)."
        ),
        "{}",
        k.log()
    );
    // Started again: back in.
    let _dns = dnsmasq(r2, 2);
    assert!(
        wait_log(&k, "Adding service [10.9.0.2]:udp:53", 2, 10),
        "{}",
        k.log()
    );
}

// ---------------------------------------------------------------------------------
// UDP_CHECK against a UDP echo service.
// ---------------------------------------------------------------------------------

/// A UDP echo service on 10.9.0.2:9999 in `host` (python3).
fn udp_echo(host: &Host, n: usize) -> Proc {
    let script = "import socket\n\
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n\
        s.bind(('10.9.0.2', 9999))\n\
        print('echoing', flush=True)\n\
        while True:\n\
        \x20   data, peer = s.recvfrom(65536)\n\
        \x20   s.sendto(data, peer)\n";
    let p = host
        .spawn("python3", &["-c", script], format!("echo-{n}.log"))
        .unwrap();
    p.wait_for_log("echoing", Duration::from_secs(5)).unwrap();
    p
}

#[test]
fn netns_udp_check_against_an_echo_service() {
    if !keepup_testkit::lab::root_or_skip("netns_udp_check_against_an_echo_service") {
        return;
    }
    let (lab, _lan, hosts) = routers("kudp", 2, false);
    let (r1, r2) = (&hosts[0], &hosts[1]);
    // "hello" must come back as "hello"; the second server wants "world" instead.
    let conf = format!(
        r#"
virtual_server 10.9.0.100 9999 {{
    delay_loop 1
    lb_algo rr
    lb_kind NAT
    protocol UDP
    real_server 10.9.0.2 9999 {{
        UDP_CHECK {{
            payload 68656c6c6f
            require_reply 68656c6c6f
            {FAST}
        }}
    }}
    real_server 10.9.0.3 9999 {{
        UDP_CHECK {{
            connect_ip 10.9.0.2
            payload 68656c6c6f
            require_reply 776f726c64
            {FAST}
        }}
    }}
}}
"#
    );
    let echo = udp_echo(r2, 1);
    let k = keepup(&lab, r1, &conf, "a");
    assert!(
        wait_log(&k, "UDP connection to [10.9.0.2]:udp:9999 success.", 1, 10),
        "{}",
        k.log()
    );
    // The wrong reply: down, with the first byte that differs.
    assert!(
        wait_log(
            &k,
            "Removing service [10.9.0.3]:udp:9999 from VS [10.9.0.100]:udp:9999",
            1,
            10
        ),
        "{}",
        k.log()
    );
    let differs = "UDP reply differs from require_reply at byte 0 (got 68, want 77)";
    assert!(
        k.log().contains(&format!(
            "UDP_CHECK on service [10.9.0.3]:udp:9999 failed ({differs})."
        )),
        "{}",
        k.log()
    );
    status_line(
        &lab,
        r1,
        "[10.9.0.3]:udp:9999",
        &["DOWN", "UDP_CHECK failing", differs],
    );

    // The service stops: the kernel answers port unreachable, and the server goes.
    after(&k, "Removing service [10.9.0.2]:udp:9999", 10, || {
        echo.terminate(Duration::from_secs(2));
    });
    let unreachable = "ICMP port unreachable from 10.9.0.2";
    assert!(
        k.log().contains(&format!(
            "UDP_CHECK on service [10.9.0.2]:udp:9999 failed ({unreachable})."
        )),
        "{}",
        k.log()
    );
    status_line(
        &lab,
        r1,
        "[10.9.0.2]:udp:9999",
        &["DOWN", "UDP_CHECK failing", unreachable],
    );
    // Back: up on its first echo.
    let mut back = None;
    after(&k, "Adding service [10.9.0.2]:udp:9999", 10, || {
        back = Some(udp_echo(r2, 2));
    });
    assert!(
        k.log()
            .contains("UDP connection to [10.9.0.2]:udp:9999 success."),
        "{}",
        k.log()
    );
}

// ---------------------------------------------------------------------------------
// SMTP_CHECK against OpenSMTPD.
// ---------------------------------------------------------------------------------

/// OpenSMTPD (Debian's `opensmtpd`) in `host`, in the foreground (`-d`): a normal
/// listener on 10.9.0.2:2525, and one on 2526 whose connect-phase filter turns every
/// client away with a 554 greeting. It accepts no mail (`reject`).
fn opensmtpd(lab: &Lab, host: &Host, n: usize) -> Proc {
    let conf = lab.file("smtpd.conf");
    std::fs::write(
        &conf,
        "filter \"refuse\" phase connect match src 10.9.0.0/24 \
         disconnect \"554 5.7.1 no service for you\"\n\
         listen on 10.9.0.2 port 2525\n\
         listen on 10.9.0.2 port 2526 filter \"refuse\"\n\
         match from any for any reject\n",
    )
    .unwrap();
    let p = host
        .spawn(
            "smtpd",
            &["-d", "-f", conf.to_str().unwrap()],
            format!("smtpd-{n}.log"),
        )
        .unwrap();
    p.wait_for_log("starting", Duration::from_secs(5)).unwrap();
    p
}

#[test]
fn netns_smtp_check_against_opensmtpd() {
    if !keepup_testkit::lab::root_or_skip("netns_smtp_check_against_opensmtpd") {
        return;
    }
    need("smtpd", "opensmtpd");
    let (lab, _lan, hosts) = routers("ksmtp", 2, false);
    let (r1, r2) = (&hosts[0], &hosts[1]);
    let conf = format!(
        r#"
virtual_server 10.9.0.100 25 {{
    delay_loop 1
    lb_algo rr
    lb_kind NAT
    protocol TCP
    real_server 10.9.0.2 2525 {{
        SMTP_CHECK {{
            helo_name keepup.test
            {FAST}
        }}
    }}
    real_server 10.9.0.3 2526 {{
        SMTP_CHECK {{
            connect_ip 10.9.0.2
            {FAST}
        }}
    }}
}}
"#
    );
    let smtpd = opensmtpd(&lab, r2, 1);
    let k = keepup(&lab, r1, &conf, "a");
    assert!(
        wait_log(
            &k,
            "Remote SMTP server [10.9.0.2]:tcp:2525 succeed on service.",
            1,
            10
        ),
        "{}",
        k.log()
    );
    // The server saw a whole dialog: connected, HELO, QUIT.
    assert!(
        wait_until(Duration::from_secs(3), Duration::from_millis(100), || smtpd
            .log()
            .contains("disconnected reason=quit"))
        .is_some(),
        "{}",
        smtpd.log()
    );
    // The 554 greeting: down, quoting it.
    assert!(
        wait_log(
            &k,
            "Removing service [10.9.0.3]:tcp:2526 from VS [10.9.0.100]:tcp:25",
            1,
            10
        ),
        "{}",
        k.log()
    );
    let greeting = r#"SMTP greeting 554 (expected 220): "554 5.7.1 no service for you""#;
    assert!(
        k.log().contains(&format!(
            "SMTP_CHECK on service [10.9.0.3]:tcp:2526 failed ({greeting})."
        )),
        "{}",
        k.log()
    );
    status_line(
        &lab,
        r1,
        "[10.9.0.3]:tcp:2526",
        &["DOWN", "SMTP_CHECK failing", greeting],
    );

    // The server stops (all its processes): connection refused.
    after(&k, "Removing service [10.9.0.2]:tcp:2525", 10, || {
        smtpd.kill_tree(Signal::SIGKILL).unwrap();
    });
    let refused = "TCP connection to 10.9.0.2:2525: connection refused";
    assert!(
        k.log().contains(&format!(
            "SMTP_CHECK on service [10.9.0.2]:tcp:2525 failed ({refused})."
        )),
        "{}",
        k.log()
    );
    status_line(
        &lab,
        r1,
        "[10.9.0.2]:tcp:2525",
        &["DOWN", "SMTP_CHECK failing", refused],
    );
    // Started again: back in.
    let mut back = None;
    after(&k, "Adding service [10.9.0.2]:tcp:2525", 10, || {
        back = Some(opensmtpd(&lab, r2, 2));
    });
}

// ---------------------------------------------------------------------------------
// PING_CHECK against the kernel.
// ---------------------------------------------------------------------------------

/// r2 pinged over IPv4 and IPv6: up; its address gone, down on silence; back, up;
/// echo requests rejected by a firewall, down at once on the ICMP error, naming its
/// sender. `ping_sockets`: r1's `ping_group_range` admits root, so keepup uses ping
/// sockets (and their error queue); otherwise (the kernel's default, `1 0`) the
/// kernel refuses them and keepup falls back to raw sockets.
fn ping_scenario(tag: &str, ping_sockets: bool) {
    let (lab, _lan, hosts) = routers(tag, 2, true);
    let (r1, r2) = (&hosts[0], &hosts[1]);
    let range = if ping_sockets { "0 2147483647" } else { "1 0" };
    r1.sysctl("net/ipv4/ping_group_range", range).unwrap();
    let now = r1
        .run(["cat", "/proc/sys/net/ipv4/ping_group_range"])
        .unwrap();
    assert_eq!(
        now.split_whitespace().collect::<Vec<_>>(),
        range.split_whitespace().collect::<Vec<_>>()
    );
    let conf = format!(
        r#"
virtual_server 10.9.0.100 80 {{
    delay_loop 1
    lb_algo rr
    lb_kind NAT
    protocol TCP
    real_server 10.9.0.2 80 {{
        PING_CHECK {{
            {FAST}
        }}
    }}
}}
virtual_server fd00:9::100 80 {{
    delay_loop 1
    lb_algo rr
    lb_kind NAT
    protocol TCP
    real_server fd00:9::2 80 {{
        PING_CHECK {{
            {FAST}
        }}
    }}
}}
"#
    );
    let k = keepup(&lab, r1, &conf, "a");
    let (rs4, rs6) = ("[10.9.0.2]:tcp:80", "[fd00:9::2]:tcp:80");
    for rs in [rs4, rs6] {
        assert!(
            wait_log(&k, &format!("ICMP connection to {rs} success."), 1, 10),
            "{}",
            k.log()
        );
    }
    // keepup check no longer calls PING_CHECK unimplemented.
    assert!(!k.log().contains("not implemented"), "{}", k.log());
    status_line(&lab, r1, rs4, &["up", "PING_CHECK ok"]);

    // r2's IPv4 address goes: no ARP answer, no echo reply.
    after(&k, &format!("Removing service {rs4}"), 10, || {
        r2.run(["ip", "addr", "del", "10.9.0.2/24", "dev", "eth0"])
            .unwrap();
    });
    let silence = "no ICMP echo reply from 10.9.0.2 within 1 s";
    assert!(
        k.log()
            .contains(&format!("ICMP CHECK on service {rs4} failed ({silence}")),
        "{}",
        k.log()
    );
    status_line(&lab, r1, rs4, &["DOWN", "PING_CHECK failing", silence]);
    // The IPv6 one is unaffected.
    status_line(&lab, r1, rs6, &["up", "PING_CHECK ok"]);
    // Back: up on the first reply.
    after(&k, &format!("Adding service {rs4}"), 10, || {
        r2.run(["ip", "addr", "add", "10.9.0.2/24", "dev", "eth0"])
            .unwrap();
    });

    // r2 rejects echo requests with an ICMP error: down at once, with the error.
    let (n4, n6) = (
        count(&k, &format!("Removing service {rs4}")),
        count(&k, &format!("Removing service {rs6}")),
    );
    // Multi-line: nft 1.0.6 (Debian 12) wants a newline or `;` after each block.
    r2.nft(
        "table inet kping {\n chain input {\n  type filter hook input priority 0;\n  \
         icmp type echo-request reject with icmp host-unreachable\n  \
         icmpv6 type echo-request reject with icmpv6 addr-unreachable\n }\n}\n",
    )
    .unwrap();
    assert!(
        wait_log(&k, &format!("Removing service {rs4}"), n4 + 1, 10)
            && wait_log(&k, &format!("Removing service {rs6}"), n6 + 1, 10),
        "{}",
        k.log()
    );
    let host_unreach = "ICMP host unreachable from 10.9.0.2";
    let addr_unreach = "ICMPv6 address unreachable from fd00:9::2";
    assert!(
        k.log().contains(&format!(
            "ICMP CHECK on service {rs4} failed ({host_unreach})."
        )),
        "{}",
        k.log()
    );
    assert!(
        k.log().contains(&format!(
            "ICMP CHECK on service {rs6} failed ({addr_unreach})."
        )),
        "{}",
        k.log()
    );
    status_line(&lab, r1, rs6, &["DOWN", "PING_CHECK failing", addr_unreach]);
    // The rule goes: both back.
    let (n4, n6) = (
        count(&k, &format!("Adding service {rs4}")),
        count(&k, &format!("Adding service {rs6}")),
    );
    r2.run(["nft", "delete", "table", "inet", "kping"]).unwrap();
    assert!(
        wait_log(&k, &format!("Adding service {rs4}"), n4 + 1, 10)
            && wait_log(&k, &format!("Adding service {rs6}"), n6 + 1, 10),
        "{}",
        k.log()
    );
}

#[test]
fn netns_ping_check_with_ping_sockets() {
    if !keepup_testkit::lab::root_or_skip("netns_ping_check_with_ping_sockets") {
        return;
    }
    need("nft", "nftables");
    ping_scenario("kping", true);
}

#[test]
fn netns_ping_check_with_raw_sockets() {
    if !keepup_testkit::lab::root_or_skip("netns_ping_check_with_raw_sockets") {
        return;
    }
    need("nft", "nftables");
    ping_scenario("kraw", false);
}
