//! The health checkers against real servers in a namespace: a TCP service that stops
//! and comes back, a MISC_CHECK script that fails and one that hangs, quorum and the
//! sorry server, notify_up/notify_down in order, and a VRRP instance beside them that
//! keeps its state. Root only; CI runs these serially.
#![allow(clippy::unwrap_used)]

mod common;
use common::{client, keepup, routers};

use keepup_testkit::lab::{wait_until, Proc};
use std::time::Duration;

fn wait_log(k: &Proc, what: &str, count: usize, secs: u64) -> bool {
    wait_until(
        Duration::from_secs(secs),
        Duration::from_millis(100),
        || k.log().matches(what).count() >= count,
    )
    .is_some()
}

#[test]
fn netns_checkers_take_real_servers_out_and_bring_them_back() {
    if !keepup_testkit::lab::root_or_skip(
        "netns_checkers_take_real_servers_out_and_bring_them_back",
    ) {
        return;
    }
    let (lab, _lan, hosts) = routers("kchk", 1, false);
    let r1 = &hosts[0];
    let flag = lab.file("misc-ok");
    std::fs::write(&flag, "").unwrap();
    let notes = lab.file("notes");
    // A unique argument, to find the hung script's process (and see it gone).
    let hang = "sleep 4242.5";
    let conf = format!(
        r#"
vrrp_instance VI_1 {{
    state MASTER
    interface eth0
    virtual_router_id 51
    priority 150
    advert_int 1
    virtual_ipaddress {{
        10.9.0.100/24
    }}
}}
virtual_server 10.9.0.100 80 {{
    delay_loop 1
    lb_algo rr
    lb_kind NAT
    protocol TCP
    quorum 2
    sorry_server 10.9.0.9 80
    real_server 10.9.0.1 8080 {{
        notify_up "/bin/sh -c 'echo up >> {notes}'"
        notify_down "/bin/sh -c 'echo down >> {notes}'"
        TCP_CHECK {{
            connect_timeout 1
            retry 1
            delay_before_retry 1
            warmup 0
        }}
    }}
    real_server 10.9.0.2 8080 {{
        MISC_CHECK {{
            misc_path "/bin/sh -c 'test -e {flag}'"
            warmup 0
        }}
    }}
    real_server 10.9.0.3 8080 {{
        MISC_CHECK {{
            misc_path "{hang}"
            misc_timeout 1
            warmup 0
        }}
    }}
}}
"#,
        notes = notes.display(),
        flag = flag.display(),
    );
    let web = listener(r1, 8080);
    let k = keepup(&lab, r1, &conf, "a");
    assert!(
        wait_log(&k, "TCP connection to [10.9.0.1]:tcp:8080 success.", 1, 10),
        "{}",
        k.log()
    );
    // Never silent: on a kernel without IPVS the decisions cannot be applied, and it
    // says so.
    if !kernel_has_ipvs() {
        assert!(
            k.log()
                .contains("this kernel has no IPVS (module ip_vs missing)"),
            "{}",
            k.log()
        );
    }
    // The hung script is killed at misc_timeout (with its process group) and fails.
    assert!(
        wait_log(&k, "Removing service [10.9.0.3]:tcp:8080", 1, 10),
        "{}",
        k.log()
    );
    assert!(k.log().contains("timed out"), "{}", k.log());
    // Weight 2 of 3 left: quorum 2 holds.
    assert!(!k.log().contains("Lost quorum"), "{}", k.log());

    // The TCP service stops: down after one retry; quorum lost, sorry server in.
    drop(web);
    assert!(
        wait_log(
            &k,
            "Removing service [10.9.0.1]:tcp:8080 from VS [10.9.0.100]:tcp:80",
            1,
            10
        ),
        "{}",
        k.log()
    );
    assert!(wait_log(&k, "Lost quorum 2-0=2 > 1", 1, 5), "{}", k.log());
    assert!(
        k.log()
            .contains("Adding sorry server [10.9.0.9]:tcp:80 to VS [10.9.0.100]:tcp:80"),
        "{}",
        k.log()
    );
    // It comes back: up on one success, quorum regained, sorry server out.
    let _web = listener(r1, 8080);
    assert!(
        wait_log(
            &k,
            "Adding service [10.9.0.1]:tcp:8080 to VS [10.9.0.100]:tcp:80",
            1,
            10
        ),
        "{}",
        k.log()
    );
    assert!(wait_log(&k, "Gained quorum", 1, 5), "{}", k.log());
    assert!(wait_log(&k, "Removing sorry server", 1, 5), "{}", k.log());

    // `keepup status` shows each real server, its checkers and why they fail.
    let (code, out, err) = client(&lab, r1, &["status"]);
    assert_eq!(code, 0, "{err}");
    eprintln!("{out}");
    assert!(out.contains("[10.9.0.100]:tcp:80: quorum up"), "{out}");
    let hung = out
        .lines()
        .find(|l| l.contains("[10.9.0.3]:tcp:8080"))
        .unwrap_or_default();
    assert!(
        hung.contains("DOWN") && hung.contains("MISC_CHECK failing") && hung.contains("timed out"),
        "{out}"
    );
    let (code, json, _) = client(&lab, r1, &["status", "--json"]);
    assert_eq!(code, 0);
    assert!(json.contains("\"virtual_servers\""), "{json}");

    // The MISC_CHECK's file goes: that server is removed.
    std::fs::remove_file(&flag).unwrap();
    assert!(
        wait_log(&k, "Removing service [10.9.0.2]:tcp:8080", 1, 10),
        "{}",
        k.log()
    );

    // notify_down then notify_up, in that order.
    let ok = wait_until(Duration::from_secs(5), Duration::from_millis(100), || {
        std::fs::read_to_string(&notes).unwrap_or_default() == "down\nup\n"
    });
    assert!(
        ok.is_some(),
        "notes: {:?}\n{}",
        std::fs::read_to_string(&notes),
        k.log()
    );
    // The hung scripts never pile up: at most the one in flight.
    let running = std::process::Command::new("pgrep")
        .args(["-fc", hang])
        .output()
        .unwrap();
    let n: u32 = String::from_utf8_lossy(&running.stdout)
        .trim()
        .parse()
        .unwrap_or(0);
    assert!(n <= 1, "{n} copies of the hung script");
    // VRRP beside them: Master once, no flap.
    assert_eq!(
        k.log().matches("Entering MASTER STATE").count(),
        1,
        "{}",
        k.log()
    );
    // Stopped (a lone Master waits a little for a successor before it lets go).
    k.kill(nix::sys::signal::Signal::SIGTERM).unwrap();
    assert!(
        wait_until(Duration::from_secs(10), Duration::from_millis(100), || !k
            .is_running())
        .is_some(),
        "keepup did not stop:\n{}",
        k.log()
    );
    let left = std::process::Command::new("pgrep")
        .args(["-fc", hang])
        .output()
        .unwrap();
    let n: u32 = String::from_utf8_lossy(&left.stdout)
        .trim()
        .parse()
        .unwrap_or(0);
    let log = std::fs::read_to_string(lab.dir().join("r1-a.log")).unwrap_or_default();
    assert_eq!(n, 0, "the hung script outlived keepup:\n{log}");
}

/// nginx (Debian's package) in r1 on 10.9.0.1:8081, serving `www` from the lab dir:
/// `/page` is a file, `/broken` answers 503.
fn nginx(lab: &keepup_testkit::lab::Lab, host: &keepup_testkit::lab::Host, n: usize) -> Proc {
    let dir = lab.dir().join("nginx");
    std::fs::create_dir_all(dir.join("www")).unwrap();
    std::fs::create_dir_all(dir.join("tmp")).unwrap();
    let d = dir.display();
    let conf = format!(
        "daemon off;\nmaster_process off;\npid {d}/nginx.pid;\nerror_log {d}/error.log;\n\
         events {{ }}\nhttp {{\n access_log off;\n client_body_temp_path {d}/tmp;\n\
         proxy_temp_path {d}/tmp;\n fastcgi_temp_path {d}/tmp;\n uwsgi_temp_path {d}/tmp;\n\
         scgi_temp_path {d}/tmp;\n server {{\n  listen 10.9.0.1:8081;\n  root {d}/www;\n\
         location = /broken {{ return 503; }}\n }}\n}}\n"
    );
    std::fs::write(dir.join("nginx.conf"), conf).unwrap();
    let conf_path = dir.join("nginx.conf");
    host.spawn(
        "nginx",
        &["-c", conf_path.to_str().unwrap()],
        format!("nginx-{n}.log"),
    )
    .unwrap()
}

#[test]
fn netns_http_get_checks_status_and_digest_against_nginx() {
    if !keepup_testkit::lab::root_or_skip("netns_http_get_checks_status_and_digest_against_nginx") {
        return;
    }
    let (lab, _lan, hosts) = routers("khttp", 1, false);
    let r1 = &hosts[0];
    let page = lab.dir().join("nginx").join("www").join("page");
    std::fs::create_dir_all(page.parent().unwrap()).unwrap();
    std::fs::write(&page, "hello from nginx\n").unwrap();
    // md5sum of "hello from nginx\n".
    let digest = format!("{:032x}", md5_of(b"hello from nginx\n"));
    let conf = format!(
        r#"
virtual_server 10.9.0.100 80 {{
    delay_loop 1
    lb_algo rr
    lb_kind NAT
    protocol TCP
    real_server 10.9.0.1 8081 {{
        HTTP_GET {{
            url {{
                path /page
                digest {digest}
            }}
            connect_timeout 1
            retry 0
            warmup 0
        }}
    }}
    real_server 10.9.0.2 8081 {{
        HTTP_GET {{
            url {{
                path /broken
            }}
            connect_ip 10.9.0.1
            connect_timeout 1
            retry 0
            warmup 0
        }}
    }}
    real_server 10.9.0.3 8081 {{
        HTTP_GET {{
            url {{
                path /page
                regex "goodbye"
            }}
            connect_ip 10.9.0.1
            connect_timeout 1
            retry 0
            warmup 0
        }}
    }}
}}
"#
    );
    let _web = nginx(&lab, r1, 1);
    let k = keepup(&lab, r1, &conf, "a");
    assert!(
        wait_log(
            &k,
            "Remote Web server [10.9.0.1]:tcp:8081 succeed on service.",
            1,
            10
        ),
        "{}",
        k.log()
    );
    // /broken answers 503: down, with the reason in plain words.
    assert!(
        wait_log(&k, "Removing service [10.9.0.2]:tcp:8081", 1, 10),
        "{}",
        k.log()
    );
    assert!(
        k.log()
            .contains("HTTP status 503, expected 200-299 for /broken on 10.9.0.1:8081"),
        "{}",
        k.log()
    );
    // A regex that the page does not match.
    assert!(
        wait_log(&k, "Removing service [10.9.0.3]:tcp:8081", 1, 10),
        "{}",
        k.log()
    );
    assert!(
        k.log()
            .contains("regex \"goodbye\" did not match for /page"),
        "{}",
        k.log()
    );
    // The page changes: its digest no longer matches.
    std::fs::write(&page, "changed\n").unwrap();
    assert!(
        wait_log(&k, "Removing service [10.9.0.1]:tcp:8081", 1, 10),
        "{}",
        k.log()
    );
    assert!(
        k.log().contains("differs from the configured"),
        "{}",
        k.log()
    );
    // Restored: up on one success.
    std::fs::write(&page, "hello from nginx\n").unwrap();
    assert!(
        wait_log(&k, "Adding service [10.9.0.1]:tcp:8081", 1, 10),
        "{}",
        k.log()
    );
}

/// MD5 as `md5sum` prints it (the test's own, not the code under test's).
fn md5_of(data: &[u8]) -> u128 {
    let out = std::process::Command::new("md5sum")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut c| {
            use std::io::Write;
            c.stdin.take().unwrap().write_all(data)?;
            c.wait_with_output()
        })
        .unwrap();
    let hex = String::from_utf8_lossy(&out.stdout);
    u128::from_str_radix(hex.split_whitespace().next().unwrap(), 16).unwrap()
}

/// A TCP (and HTTP) listener on 10.9.0.1:`port` in `host` (python3's http.server),
/// its log a fresh file each time.
fn listener(host: &keepup_testkit::lab::Host, port: u16) -> Proc {
    host.spawn(
        "python3",
        &["-m", "http.server", &port.to_string(), "--bind", "10.9.0.1"],
        host.lab_file(&format!("listener-{port}.log")),
    )
    .unwrap()
}

#[test]
fn netns_a_reload_keeps_checkers_and_brings_back_a_failing_server() {
    if !keepup_testkit::lab::root_or_skip(
        "netns_a_reload_keeps_checkers_and_brings_back_a_failing_server",
    ) {
        return;
    }
    let (lab, _lan, hosts) = routers("kreld", 1, false);
    let r1 = &hosts[0];
    let conf = |extra: &str| {
        format!(
            r#"
virtual_server 10.9.0.100 80 {{
    delay_loop 1
    lb_algo rr
    lb_kind NAT
    protocol TCP
    real_server 10.9.0.1 8080 {{
        TCP_CHECK {{
            connect_timeout 1
            retry 0
            warmup 0
        }}
    }}
    real_server 10.9.0.1 8082 {{
        TCP_CHECK {{
            connect_timeout 1
            retry 0
            warmup 0
        }}
    }}
}}
{extra}
"#
        )
    };
    let _up = listener(r1, 8080);
    let k = keepup(&lab, r1, &conf(""), "a");
    assert!(
        wait_log(&k, "Removing service [10.9.0.1]:tcp:8082", 1, 10),
        "{}",
        k.log()
    );
    assert!(wait_log(
        &k,
        "TCP connection to [10.9.0.1]:tcp:8080 success.",
        1,
        5
    ));
    // The same servers, a changed file: nothing flaps, nothing is re-checked early.
    std::fs::write(
        lab.dir().join("r1-a.conf"),
        conf("# a comment changes the digest"),
    )
    .unwrap();
    let mark = k.log().len();
    let (code, out, err) = client(&lab, r1, &["reload"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(wait_log(&k, "checkers: reloading", 1, 5), "{}", k.log());
    std::thread::sleep(Duration::from_secs(2));
    let after = k.log()[mark..].to_string();
    assert!(!after.contains("Adding service"), "{after}");
    assert!(!after.contains("Removing service"), "{after}");
    // The server that was failing before the reload comes back when it answers.
    let _late = listener(r1, 8082);
    assert!(
        wait_log(
            &k,
            "Adding service [10.9.0.1]:tcp:8082 to VS [10.9.0.100]:tcp:80",
            1,
            10
        ),
        "{}",
        k.log()
    );
}

#[test]
fn netns_dash_c_runs_only_the_checkers_and_dash_p_only_vrrp() {
    if !keepup_testkit::lab::root_or_skip(
        "netns_dash_c_runs_only_the_checkers_and_dash_p_only_vrrp",
    ) {
        return;
    }
    let (lab, _lan, hosts) = routers("kcp", 1, false);
    let r1 = &hosts[0];
    let conf = r#"
vrrp_instance VI_1 {
    state MASTER
    interface eth0
    virtual_router_id 51
    priority 150
    advert_int 1
    virtual_ipaddress {
        10.9.0.100/24
    }
}
virtual_server 10.9.0.100 80 {
    delay_loop 1
    lb_algo rr
    lb_kind NAT
    protocol TCP
    real_server 10.9.0.1 8080 {
        TCP_CHECK {
            connect_timeout 1
            warmup 0
        }
    }
}
"#;
    let _web = listener(r1, 8080);
    let vip: std::net::IpAddr = "10.9.0.100".parse().unwrap();
    // -C: the checker runs; the instance does not, so the VIP never comes.
    let k = common::keepup_with(&lab, r1, conf, "c", &["-C"]);
    assert!(
        wait_log(&k, "TCP connection to [10.9.0.1]:tcp:8080 success.", 1, 10),
        "{}",
        k.log()
    );
    std::thread::sleep(Duration::from_secs(4));
    assert!(!common::has(r1, vip), "-C added the VIP:\n{}", k.log());
    assert!(!k.log().contains("Entering MASTER STATE"), "{}", k.log());
    // This machine's kernel has no IPVS: said once, in plain words, in the log, in
    // `keepup status` and by `keepup check`; the checkers run on (above).
    if !kernel_has_ipvs() {
        let said = "this kernel has no IPVS (module ip_vs missing): virtual servers are checked but not programmed";
        assert_eq!(k.log().matches(said).count(), 1, "{}", k.log());
        let (code, out, _) = client(&lab, r1, &["status"]);
        assert_eq!(code, 0);
        assert!(out.contains(said), "{out}");
        let conf_path = lab.dir().join("r1-c.conf");
        let check = std::process::Command::new(env!("CARGO_BIN_EXE_keepup"))
            .args([
                "check",
                "--no-interface-check",
                "-f",
                conf_path.to_str().unwrap(),
            ])
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&check.stderr);
        assert!(
            err.contains("this kernel has no IPVS (module ip_vs missing)"),
            "{err}"
        );
    }
    k.kill(nix::sys::signal::Signal::SIGTERM).unwrap();
    assert!(
        wait_until(Duration::from_secs(10), Duration::from_millis(100), || !k
            .is_running())
        .is_some()
    );
    // -P: the instance runs; no checker does.
    let k = common::keepup_with(&lab, r1, conf, "p", &["-P"]);
    assert!(
        common::wait_addr(r1, vip, true, 10).is_some(),
        "{}",
        k.log()
    );
    std::thread::sleep(Duration::from_secs(2));
    assert!(k.log().contains("-P: VRRP only"), "{}", k.log());
    assert!(!k.log().contains("TCP connection"), "{}", k.log());
}

/// The weight `server` has in the pool of the first virtual server, from
/// `keepup status --json` (None: not in the pool).
fn pool_weight(
    lab: &keepup_testkit::lab::Lab,
    host: &keepup_testkit::lab::Host,
    server: &str,
) -> Option<u64> {
    let (code, out, _) = client(lab, host, &["status", "--json"]);
    if code != 0 {
        return None;
    }
    let v: serde_json::Value = serde_json::from_str(&out).ok()?;
    v["virtual_servers"][0]["real_servers"]
        .as_array()?
        .iter()
        .find(|r| r["name"] == server)?["pool_weight"]
        .as_u64()
}

/// Wait up to 10 s for `server` to have weight `want` in the pool (None: out of it).
fn wait_pool_weight(
    lab: &keepup_testkit::lab::Lab,
    host: &keepup_testkit::lab::Host,
    server: &str,
    want: Option<u64>,
) -> bool {
    wait_until(Duration::from_secs(10), Duration::from_millis(200), || {
        pool_weight(lab, host, server) == want
    })
    .is_some()
}

#[test]
fn netns_misc_dynamic_inhibit_alpha_and_omega_with_real_scripts() {
    if !keepup_testkit::lab::root_or_skip(
        "netns_misc_dynamic_inhibit_alpha_and_omega_with_real_scripts",
    ) {
        return;
    }
    let (lab, _lan, hosts) = routers("kdyn", 1, false);
    let r1 = &hosts[0];
    // The script exits with the status written in this file.
    let status = lab.file("status");
    std::fs::write(&status, "12").unwrap();
    let notes = lab.file("notes");
    let conf = format!(
        r#"
virtual_server 10.9.0.100 80 {{
    delay_loop 1
    lb_algo wrr
    lb_kind NAT
    protocol TCP
    omega
    quorum_down "/bin/sh -c 'echo quorum-down >> {notes}'"
    real_server 10.9.0.1 8080 {{
        weight 3
        inhibit_on_failure
        notify_down "/bin/sh -c 'echo rs1-down >> {notes}'"
        MISC_CHECK {{
            misc_path "/bin/sh -c 'exit $(cat {status})'"
            misc_dynamic
            warmup 0
        }}
    }}
    real_server 10.9.0.2 8080 {{
        alpha
        MISC_CHECK {{
            misc_path "/bin/true"
            warmup 0
        }}
    }}
}}
"#,
        notes = notes.display(),
        status = status.display(),
    );
    let k = keepup(&lab, r1, &conf, "a");
    let wait_weight = |server: &str, want: Option<u64>| wait_pool_weight(&lab, r1, server, want);
    // Exit 12: weight 10 (status - 2); the alpha server joins on its first success.
    assert!(wait_weight("[10.9.0.1]:tcp:8080", Some(10)), "{}", k.log());
    assert!(wait_weight("[10.9.0.2]:tcp:8080", Some(1)), "{}", k.log());
    // Exit 0: the configured weight again (no drift after changes).
    std::fs::write(&status, "0").unwrap();
    assert!(wait_weight("[10.9.0.1]:tcp:8080", Some(3)), "{}", k.log());
    std::fs::write(&status, "7").unwrap();
    assert!(wait_weight("[10.9.0.1]:tcp:8080", Some(5)), "{}", k.log());
    // Exit 1: down; inhibit_on_failure keeps it in the pool at weight 0.
    std::fs::write(&status, "1").unwrap();
    assert!(wait_weight("[10.9.0.1]:tcp:8080", Some(0)), "{}", k.log());
    assert!(
        k.log()
            .contains("Disabling service [10.9.0.1]:tcp:8080 of VS [10.9.0.100]:tcp:80"),
        "{}",
        k.log()
    );
    // omega: at stop the down notifiers run for what is alive, then quorum_down.
    k.kill(nix::sys::signal::Signal::SIGTERM).unwrap();
    assert!(
        wait_until(Duration::from_secs(10), Duration::from_millis(100), || !k
            .is_running())
        .is_some()
    );
    let notes = std::fs::read_to_string(&notes).unwrap_or_default();
    assert!(notes.starts_with("rs1-down\n"), "{notes}");
    assert!(notes.ends_with("quorum-down\n"), "{notes}");
}

#[test]
fn netns_tcp_check_times_out_on_a_silent_server_and_recovers() {
    if !keepup_testkit::lab::root_or_skip(
        "netns_tcp_check_times_out_on_a_silent_server_and_recovers",
    ) {
        return;
    }
    let (lab, _lan, hosts) = routers("ktmo", 1, false);
    let r1 = &hosts[0];
    let conf = r#"
virtual_server 10.9.0.100 80 {
    delay_loop 1
    lb_algo rr
    lb_kind NAT
    protocol TCP
    real_server 10.9.0.1 8080 {
        TCP_CHECK {
            connect_timeout 1
            retry 1
            delay_before_retry 1
            warmup 0
        }
    }
}
"#;
    let _web = listener(r1, 8080);
    let k = keepup(&lab, r1, conf, "a");
    assert!(
        wait_log(&k, "TCP connection to [10.9.0.1]:tcp:8080 success.", 1, 10),
        "{}",
        k.log()
    );
    // The server goes silent (its SYNs dropped): each try ends at connect_timeout.
    r1.nft(
        "table ip ktmo {\n chain input {\n  type filter hook input priority 0;\n  tcp dport 8080 drop\n }\n}\n",
    )
    .unwrap();
    assert!(
        wait_log(&k, "Removing service [10.9.0.1]:tcp:8080", 1, 15),
        "{}",
        k.log()
    );
    assert!(
        k.log()
            .contains("TCP_CHECK on service [10.9.0.1]:tcp:8080 failed after 1 retries (no answer within 1 s)"),
        "{}",
        k.log()
    );
    r1.nft("delete table ip ktmo\n").unwrap();
    assert!(
        wait_log(&k, "Adding service [10.9.0.1]:tcp:8080", 1, 10),
        "{}",
        k.log()
    );
}

#[test]
fn netns_file_check_follows_its_track_file() {
    if !keepup_testkit::lab::root_or_skip("netns_file_check_follows_its_track_file") {
        return;
    }
    let (lab, _lan, hosts) = routers("kfile", 1, false);
    let r1 = &hosts[0];
    let gate = lab.file("gate");
    let scale = lab.file("scale");
    std::fs::write(&gate, "0\n").unwrap();
    std::fs::write(&scale, "5\n").unwrap();
    let conf = format!(
        r#"
track_file gate {{
    file {gate}
    weight 0
}}
track_file scale {{
    file {scale}
    weight 2
}}
virtual_server 10.9.0.100 80 {{
    delay_loop 1
    lb_algo wrr
    lb_kind NAT
    protocol TCP
    real_server 10.9.0.1 8080 {{
        FILE_CHECK {{
            track_file gate
        }}
    }}
    real_server 10.9.0.2 8080 {{
        weight 1
        FILE_CHECK {{
            track_file scale
        }}
    }}
}}
"#,
        gate = gate.display(),
        scale = scale.display(),
    );
    let k = keepup(&lab, r1, &conf, "a");
    let wait_weight = |server: &str, want: Option<u64>| wait_pool_weight(&lab, r1, server, want);
    // 5 x weight 2 added to the configured 1.
    assert!(wait_weight("[10.9.0.2]:tcp:8080", Some(11)), "{}", k.log());
    assert!(wait_weight("[10.9.0.1]:tcp:8080", Some(1)), "{}", k.log());
    // A non-zero value with weight 0: down.
    std::fs::write(&gate, "1\n").unwrap();
    assert!(wait_weight("[10.9.0.1]:tcp:8080", None), "{}", k.log());
    assert!(k.log().contains("track_file gate holds 1"), "{}", k.log());
    std::fs::write(&gate, "0\n").unwrap();
    assert!(wait_weight("[10.9.0.1]:tcp:8080", Some(1)), "{}", k.log());
    std::fs::write(&scale, "2\n").unwrap();
    assert!(wait_weight("[10.9.0.2]:tcp:8080", Some(5)), "{}", k.log());
}

/// Whether this machine's kernel has IPVS or could load it.
fn kernel_has_ipvs() -> bool {
    std::path::Path::new("/proc/net/ip_vs").exists()
        || std::process::Command::new("modprobe")
            .args(["-n", "-q", "ip_vs"])
            .status()
            .is_ok_and(|s| s.success())
}

/// The timing rules against a real server: successful runs `delay_loop` apart (as the
/// server sees them), then (the server stopped) `retry` failed attempts spaced
/// `delay_before_retry` and the real server removed on the last failure (by the log's
/// timestamps). Only lower bounds are asserted (a timer must never fire early; how
/// late it fires depends on the machine), plus the counts.
#[test]
fn netns_checker_timing_holds_against_a_real_server() {
    if !keepup_testkit::lab::root_or_skip("netns_checker_timing_holds_against_a_real_server") {
        return;
    }
    let (lab, _lan, hosts) = routers("ktim", 1, false);
    let r1 = &hosts[0];
    let conf = r#"
global_defs {
    checker_log_all_failures
}
virtual_server 10.9.0.100 80 {
    delay_loop 2
    lb_algo rr
    lb_kind NAT
    protocol TCP
    real_server 10.9.0.1 8080 {
        TCP_CHECK {
            connect_timeout 1
            retry 2
            delay_before_retry 1
            warmup 0
        }
    }
}
"#;
    // A server that prints the time of each connection it accepts.
    let accepts = r1.lab_file("accepts");
    let server = r1
        .spawn(
            "python3",
            &[
                "-u",
                "-c",
                "import socket, time\n\
                 s = socket.socket()\n\
                 s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\n\
                 s.bind(('10.9.0.1', 8080))\n\
                 s.listen(16)\n\
                 while True:\n\
                 \x20   c, _ = s.accept()\n\
                 \x20   print(time.time())\n\
                 \x20   c.close()\n",
            ],
            &accepts,
        )
        .unwrap();
    let k = keepup(&lab, r1, conf, "a");
    let ok = "TCP connection to [10.9.0.1]:tcp:8080 success.";
    assert!(wait_log(&k, ok, 1, 20), "{}", k.log());
    let runs = || -> Vec<f64> {
        std::fs::read_to_string(&accepts)
            .unwrap_or_default()
            .lines()
            .filter_map(|l| l.trim().parse().ok())
            .collect()
    };
    assert!(
        wait_until(
            Duration::from_secs(20),
            Duration::from_millis(100),
            || runs().len() >= 4
        )
        .is_some(),
        "{}",
        k.log()
    );
    server.kill(nix::sys::signal::Signal::SIGKILL).unwrap();
    // Successful runs delay_loop apart (the time the server saw each connection, with
    // a little slack for when it got to print it).
    for w in runs().windows(2) {
        assert!(
            w[1] - w[0] >= 1.9,
            "runs closer than delay_loop 2: {:?}",
            runs()
        );
    }
    assert!(
        wait_log(&k, "Removing service [10.9.0.1]:tcp:8080", 1, 20),
        "{}",
        k.log()
    );
    let log = k.log();
    // Every line with its time, kept increasing across midnight.
    let mut day = 0.0;
    let mut prev = 0.0;
    let timed: Vec<(&str, f64)> = log
        .lines()
        .filter_map(|l| {
            let t = log_time(l)?;
            if t + day < prev {
                day += 86_400.0;
            }
            prev = t + day;
            Some((l, prev))
        })
        .collect();
    let at = |needle: &str| -> Vec<f64> {
        timed
            .iter()
            .filter(|(l, _)| l.contains(needle))
            .map(|(_, t)| *t)
            .collect()
    };
    let tries = at("on service [10.9.0.1]:tcp:8080 failed (");
    assert_eq!(
        tries.len(),
        2,
        "retry 2: two failed attempts before the last:\n{log}"
    );
    let down = at("on service [10.9.0.1]:tcp:8080 failed after 2 retries");
    assert_eq!(down.len(), 1, "{log}");
    assert!(
        tries[1] - tries[0] >= 1.0,
        "a retry before delay_before_retry:\n{log}"
    );
    assert!(
        down[0] - tries[1] >= 1.0,
        "the last try before delay_before_retry:\n{log}"
    );
}

/// Seconds since midnight of a log line's timestamp (`2026-12-04T23:06:01.793129Z ...`).
fn log_time(line: &str) -> Option<f64> {
    let t = line
        .split_whitespace()
        .next()?
        .split('T')
        .nth(1)?
        .trim_end_matches('Z');
    let mut parts = t.split(':');
    let h: f64 = parts.next()?.parse().ok()?;
    let m: f64 = parts.next()?.parse().ok()?;
    let s: f64 = parts.next()?.parse().ok()?;
    Some(h * 3600.0 + m * 60.0 + s)
}
