//! `keepup genhash` against keepalived's own `genhash` (Debian's keepalived 2.2.7) on
//! nginx in a lab namespace: a file, an empty body, 1 MB, a chunked body, a redirect,
//! a 404, HTTPS with a self-signed certificate, SNI, and the failures (TLS to a plain
//! port, a refused port, bad options). Both run with the same options; their stdout,
//! stderr and exit status must be the same. Then SSL_GET in `keepup run` against the
//! same nginx. Root only; CI runs these serially.
#![allow(clippy::unwrap_used)]

mod common;
use common::{keepup, routers};

use keepup_testkit::lab::{wait_until, Host, Lab, Proc};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

const KEEPUP: &str = env!("CARGO_BIN_EXE_keepup");

/// `hello from nginx\n`, as md5sum prints it.
const PAGE_MD5: &str = "7cb04a3741e6b8547bb003c592547b80";

/// The site: `/page`, `/empty`, `/big` (1 MB), `/chunked` (the page through SSI,
/// which nginx sends chunked to an HTTP/1.1 request), `/moved` (301), and a
/// self-signed certificate for web.test.
fn site(lab: &Lab) -> std::path::PathBuf {
    let dir = lab.dir().join("nginx");
    let www = dir.join("www");
    std::fs::create_dir_all(&www).unwrap();
    std::fs::create_dir_all(dir.join("tmp")).unwrap();
    std::fs::write(www.join("page"), "hello from nginx\n").unwrap();
    std::fs::write(www.join("empty"), "").unwrap();
    // 1 MB of varied bytes (xorshift), with every byte value in it.
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    let big: Vec<u8> = (0..1 << 20)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect();
    std::fs::write(www.join("big"), big).unwrap();
    let out = Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "2",
            "-subj",
            "/CN=web.test",
            "-addext",
            "subjectAltName=DNS:web.test",
            "-keyout",
        ])
        .arg(dir.join("key.pem"))
        .arg("-out")
        .arg(dir.join("cert.pem"))
        .output()
        .expect("openssl (scripts/test installs it)");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    dir
}

/// nginx in `host`: plain HTTP on 10.9.0.1:8081, HTTPS on 10.9.0.1:8443.
fn nginx(lab: &Lab, host: &Host) -> Proc {
    let dir = site(lab);
    let d = dir.display();
    let conf = format!(
        "daemon off;\nmaster_process off;\npid {d}/nginx.pid;\nerror_log {d}/error.log;\n\
         events {{ }}\nhttp {{\n access_log off;\n client_body_temp_path {d}/tmp;\n\
         proxy_temp_path {d}/tmp;\n fastcgi_temp_path {d}/tmp;\n uwsgi_temp_path {d}/tmp;\n\
         scgi_temp_path {d}/tmp;\n server {{\n  listen 10.9.0.1:8081;\n\
         listen 10.9.0.1:8443 ssl;\n  ssl_certificate {d}/cert.pem;\n\
         ssl_certificate_key {d}/key.pem;\n  root {d}/www;\n\
         location = /moved {{ return 301 /page; }}\n\
         location = /chunked {{ ssi on; default_type text/html; alias {d}/www/page; }}\n\
         location = /sni {{ default_type text/plain; return 200 \"sni=[$ssl_server_name]\\n\"; }}\n\
         }}\n}}\n"
    );
    let path = dir.join("nginx.conf");
    std::fs::write(&path, conf).unwrap();
    let p = host
        .spawn("nginx", &["-c", path.to_str().unwrap()], "nginx.log")
        .unwrap();
    let up = wait_until(Duration::from_secs(10), Duration::from_millis(50), || {
        host.exec(["genhash", "-s", "10.9.0.1", "-p", "8081", "-u", "/page"])
            .map(|o| String::from_utf8_lossy(&o.stdout).trim() == PAGE_MD5)
            .unwrap_or(false)
    });
    assert!(up.is_some(), "nginx did not start: {}", p.log());
    p
}

/// stdout (response time blanked), stderr and exit status of one run in `host`.
fn run(host: &Host, program: &[&str], args: &[&str]) -> (String, String, i32) {
    let out = host.exec(program.iter().chain(args)).unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stdout = match stdout.find("\nGlobal response time for [") {
        Some(at) => {
            let (head, tail) = stdout.split_at(at);
            let tail = tail
                .split_once("] = ")
                .map(|(u, rest)| format!("{u}] = N{}", rest.trim_start_matches(char::is_numeric)))
                .unwrap_or_else(|| tail.to_string());
            format!("{head}{tail}")
        }
        None => stdout.into_owned(),
    };
    (
        stdout,
        String::from_utf8_lossy(&out.stderr).into_owned(),
        out.status.code().unwrap_or(-1),
    )
}

/// keepup genhash prints what genhash prints. genhash runs before and after keepup:
/// a `Date:` header in a verbose dump may tick between two runs, never across both.
fn same(host: &Host, args: &[&str]) -> String {
    let before = run(host, &["genhash"], args);
    let ours = run(host, &[KEEPUP, "genhash"], args);
    if ours != before {
        let after = run(host, &["genhash"], args);
        assert_eq!(
            ours,
            after,
            "genhash {}\n--- keepalived's genhash printed:\n{}{}\n--- keepup genhash printed:\n{}{}",
            args.join(" "),
            after.0,
            after.1,
            ours.0,
            ours.1
        );
    }
    ours.0
}

#[test]
fn netns_genhash_prints_what_keepalived_s_genhash_prints() {
    if !keepup_testkit::lab::root_or_skip("netns_genhash_prints_what_keepalived_s_genhash_prints") {
        return;
    }
    let (lab, _lan, hosts) = routers("kgh", 1, false);
    let r1 = &hosts[0];
    let _web = nginx(&lab, r1);
    let plain = ["-s", "10.9.0.1", "-p", "8081"];
    let tls = ["-S", "-s", "10.9.0.1", "-p", "8443"];
    let with = |base: &[&str], more: &[&str]| -> Vec<String> {
        base.iter()
            .chain(more)
            .map(|s| s.to_string())
            .collect::<Vec<_>>()
    };
    let check = |base: &[&str], more: &[&str]| -> String {
        let args = with(base, more);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        same(r1, &args)
    };

    // The plain digests, and what they are.
    assert_eq!(check(&plain, &["-u", "/page"]), format!("{PAGE_MD5}\n"));
    assert_eq!(
        check(&plain, &["-u", "/empty"]),
        "d41d8cd98f00b204e9800998ecf8427e\n"
    );
    for more in [
        &["-u", "/big"][..],
        &["-u", "/moved"],
        &["-u", "/missing"],
        &["-u", "/page", "-P", "1.0c"],
        &["-u", "/page", "-P", "1.1", "-V", "web.test"],
        &["-u", "/chunked", "-P", "1.1"],
        &["--url=/page", "--protocol", "1.1", "-m", "0", "-t", "5"],
    ] {
        check(&plain, more);
        check(&tls, more);
    }
    // Verbose: the header and body dumps, read by read (TLS record by record).
    for more in [
        &["-v", "-u", "/page"][..],
        &["-v", "-u", "/empty"],
        &["-v", "-u", "/moved"],
        &["-v", "-u", "/missing", "-P", "1.1"],
    ] {
        check(&plain, more);
        check(&tls, more);
    }
    let chunked = check(&plain, &["-v", "-u", "/chunked", "-P", "1.1"]);
    assert!(chunked.contains("Transfer-Encoding: chunked"), "{chunked}");
    check(&tls, &["-v", "-u", "/chunked", "-P", "1.1"]);
    let big = check(&tls, &["-v", "-u", "/big"]);
    assert!(big.len() > 4 << 20, "a 1 MB dump");
    // SNI names the virtualhost with -I only.
    let sni = check(&tls, &["-v", "-I", "-V", "web.test", "-u", "/sni"]);
    assert!(sni.contains("sni=[web.test]"), "{sni}");
    let sni = check(&tls, &["-v", "-V", "web.test", "-u", "/sni"]);
    assert!(sni.contains("sni=[]"), "{sni}");

    // Failures: TLS to the plain port, plain to the TLS port, a refused port.
    assert_eq!(
        check(&["-S", "-s", "10.9.0.1", "-p", "8081"], &["-u", "/page"]),
        "SSL handshake/communication error connecting to\n"
    );
    check(&["-s", "10.9.0.1", "-p", "8443"], &["-u", "/page", "-v"]);
    assert_eq!(
        check(&["-s", "10.9.0.1", "-p", "9"], &["-u", "/"]),
        "Connection failed\n"
    );
    check(&["-v", "-s", "10.9.0.1", "-p", "9"], &["-u", "/"]);

    // Bad options: a line and the usage on stderr, exit status 1, as `genhash`.
    let link = lab.dir().join("genhash");
    std::os::unix::fs::symlink(KEEPUP, &link).unwrap();
    for args in [
        &[][..],
        &["-h"],
        &["-s", "10.9.0.1", "-p", "0", "-u", "/"],
        &["-s", "web", "-p", "80", "-u", "/"],
        &["--bogus", "-s", "10.9.0.1"],
        &["-s", "10.9.0.1", "-p", "80", "-u", "/", "extra"],
        &["-s", "10.9.0.1", "-p", "80", "-u", "/", "-P", "2"],
    ] {
        let theirs = named_genhash(Path::new("genhash"), args);
        assert_eq!(theirs.2, 1, "{args:?}");
        assert!(
            theirs.1.contains("Usage: genhash COMMAND [OPTIONS]"),
            "{args:?}"
        );
        // keepup called `genhash` through a symlink is genhash.
        assert_eq!(named_genhash(&link, args), theirs, "{args:?}");
    }
}

/// A genhash run on loopback-free options (no server is reached), `argv[0]` being
/// `genhash` whatever the path: (stdout, stderr, status).
fn named_genhash(program: &Path, args: &[&str]) -> (String, String, i32) {
    let out = Command::new(program)
        .arg0("genhash")
        .args(args)
        .output()
        .unwrap();
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
        out.status.code().unwrap_or(-1),
    )
}

fn wait_log(k: &Proc, what: &str, secs: u64) -> bool {
    wait_until(
        Duration::from_secs(secs),
        Duration::from_millis(100),
        || k.log().contains(what),
    )
    .is_some()
}

#[test]
fn netns_ssl_get_passes_on_https_and_says_why_it_fails_on_http() {
    if !keepup_testkit::lab::root_or_skip(
        "netns_ssl_get_passes_on_https_and_says_why_it_fails_on_http",
    ) {
        return;
    }
    let (lab, _lan, hosts) = routers("kssl", 1, false);
    let r1 = &hosts[0];
    let _web = nginx(&lab, r1);
    // No SSL block: the self-signed certificate is accepted, as keepalived accepts it.
    let conf = format!(
        r#"
virtual_server 10.9.0.100 443 {{
    delay_loop 1
    lb_algo rr
    lb_kind NAT
    protocol TCP
    real_server 10.9.0.1 8443 {{
        SSL_GET {{
            url {{
                path /page
                digest {PAGE_MD5}
            }}
            enable_sni
            virtualhost web.test
            connect_timeout 2
            retry 0
            warmup 0
        }}
    }}
    real_server 10.9.0.2 8081 {{
        SSL_GET {{
            url {{
                path /page
            }}
            connect_ip 10.9.0.1
            connect_timeout 2
            retry 0
            warmup 0
        }}
    }}
}}
"#
    );
    let k = keepup(&lab, r1, &conf, "a");
    assert!(
        wait_log(
            &k,
            "Remote Web server [10.9.0.1]:tcp:8443 succeed on service.",
            10
        ),
        "{}",
        k.log()
    );
    assert!(
        wait_log(&k, "Removing service [10.9.0.2]:tcp:8081", 10),
        "{}",
        k.log()
    );
    assert!(
        k.log().contains(
            "TLS handshake: the server does not speak TLS on this port (its answer is not a \
             TLS record) for /page on 10.9.0.1:8081"
        ),
        "{}",
        k.log()
    );
    // SSL_GET is no longer among what keepup cannot run.
    assert!(
        !k.log().contains("SSL_GET is not implemented"),
        "{}",
        k.log()
    );
}
