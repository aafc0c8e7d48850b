//! Helpers shared by the daemon's root tests: a lab with routers on one bridge, and
//! keepup started in a host the way an operator would start it.
#![allow(dead_code, clippy::unwrap_used)]

use keepup_testkit::lab::{wait_until, Host, Lab, Lan, Proc};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::Duration;

/// A lab with one bridge and routers r1, r2, ... at 10.9.0.N (and fd00:9::N with `v6`).
pub fn routers(tag: &str, n: u8, v6: bool) -> (Lab, Lan, Vec<Host>) {
    let lab = Lab::new(tag).unwrap();
    let lan = lab.bridge().unwrap();
    let hosts = (1..=n)
        .map(|i| {
            let six = v6.then(|| Ipv6Addr::new(0xfd00, 9, 0, 0, 0, 0, 0, u16::from(i)));
            lab.host(&format!("r{i}"), &lan, Ipv4Addr::new(10, 9, 0, i), six)
                .unwrap()
        })
        .collect();
    (lab, lan, hosts)
}

/// A director's lab (in the IPVS VM): a client at 10.60.0.10 on the front bridge, the
/// director at 10.60.0.1 there and 10.61.0.1 on the back bridge (forwarding), and the
/// client's route to the back network through it. Returns the lab, the back bridge
/// (for the real servers), the client and the director.
pub fn director_lab(tag: &str) -> (Lab, Lan, Host, Host) {
    let lab = Lab::new(tag).unwrap();
    let front = lab.bridge().unwrap();
    let back = lab.bridge().unwrap();
    let client = lab
        .host("client", &front, Ipv4Addr::new(10, 60, 0, 10), None)
        .unwrap();
    let mut dir = lab
        .host("director", &front, Ipv4Addr::new(10, 60, 0, 1), None)
        .unwrap();
    dir.join(&back, Ipv4Addr::new(10, 61, 0, 1), None).unwrap();
    dir.sysctl("net.ipv4.ip_forward", "1").unwrap();
    client
        .run(["ip", "route", "add", "10.61.0.0/24", "via", "10.60.0.1"])
        .unwrap();
    (lab, back, client, dir)
}

/// One page from `url` (curl, 3 s at most): its body, or None when the request failed.
pub fn fetch(client: &Host, url: &str) -> Option<String> {
    let out = client
        .exec(["curl", "-s", "-f", "--max-time", "3", url])
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

/// `promtool check metrics` (Debian's `prometheus`) in `host` on `text`, kept in
/// `file`: what it said when it finds a problem.
pub fn promtool_check(host: &Host, file: &std::path::Path, text: &str) -> Result<(), String> {
    let text = if text.ends_with('\n') {
        text.to_string()
    } else {
        format!("{text}\n")
    };
    std::fs::write(file, &text).map_err(|e| e.to_string())?;
    let lint = host
        .exec([
            "sh",
            "-c",
            &format!("promtool check metrics < {}", file.display()),
        ])
        .map_err(|e| e.to_string())?;
    if lint.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{}{}",
            String::from_utf8_lossy(&lint.stdout),
            String::from_utf8_lossy(&lint.stderr)
        ))
    }
}

/// `keepup run` in `host` on `conf` (written to `<host>-<tag>.conf`), with `-i
/// <host>` and one runtime dir per host that survives restarts.
pub fn keepup(lab: &Lab, host: &Host, conf: &str, tag: &str) -> Proc {
    keepup_with(lab, host, conf, tag, &[])
}

/// [`keepup`] with more options after `run`'s own.
pub fn keepup_with(lab: &Lab, host: &Host, conf: &str, tag: &str, extra: &[&str]) -> Proc {
    let path = lab.dir().join(format!("{}-{tag}.conf", host.name()));
    std::fs::write(&path, conf).unwrap();
    let runtime = runtime_dir(lab, host);
    let mut args = vec![
        "run",
        "-f",
        path.to_str().unwrap(),
        "-i",
        host.name(),
        "--runtime-dir",
        runtime.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    host.spawn(
        env!("CARGO_BIN_EXE_keepup"),
        &args,
        format!("{}-{tag}.log", host.name()),
    )
    .unwrap()
}

/// The runtime dir [`keepup`] gives the daemon in `host`.
pub fn runtime_dir(lab: &Lab, host: &Host) -> std::path::PathBuf {
    lab.dir().join(format!("{}-run", host.name()))
}

/// A keepup client command (`status`, `reload`, ...) against the daemon in `host`:
/// exit code, stdout, stderr.
pub fn client(lab: &Lab, host: &Host, args: &[&str]) -> (i32, String, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_keepup"))
        .args(args)
        .arg("--runtime-dir")
        .arg(runtime_dir(lab, host))
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

pub fn has(h: &Host, ip: IpAddr) -> bool {
    h.has_address(ip).unwrap_or(false)
}

/// Wait until `h` holds (or not) `ip`; how long it took.
pub fn wait_addr(h: &Host, ip: IpAddr, want: bool, secs: u64) -> Option<Duration> {
    wait_until(Duration::from_secs(secs), Duration::from_millis(10), || {
        has(h, ip) == want
    })
}

/// One router's config: `top` (vrrp_script / track blocks, global_defs), then VI_1
/// (VRID 51, VIP 10.9.0.100/24, advert_int 1) at priority `prio` with `tracking`
/// lines inside the instance.
pub fn one_instance(prio: u8, top: &str, tracking: &str) -> String {
    format!(
        "{top}
vrrp_instance VI_1 {{
    state BACKUP
    interface eth0
    virtual_router_id 51
    priority {prio}
    advert_int 1
    virtual_ipaddress {{
        10.9.0.100/24
    }}
{tracking}
}}
"
    )
}

/// nginx (Debian's package) in `host`, listening on `ports` of every address: `/`
/// answers `name`, `/big` is `big` bytes sent at 100 KB/s (a long-lived connection).
pub fn nginx(lab: &Lab, host: &Host, name: &str, ports: &[u16], big: usize) -> Proc {
    let dir = lab.dir().join(format!("nginx-{name}"));
    std::fs::create_dir_all(dir.join("www")).unwrap();
    std::fs::create_dir_all(dir.join("tmp")).unwrap();
    std::fs::write(dir.join("www/index.html"), format!("{name}\n")).unwrap();
    std::fs::write(dir.join("www/big"), vec![b'x'; big]).unwrap();
    let d = dir.display();
    let listen: String = ports.iter().map(|p| format!("  listen {p};\n")).collect();
    let conf = format!(
        "daemon off;\nmaster_process off;\npid {d}/nginx.pid;\nerror_log {d}/error.log;\n\
         events {{ }}\nhttp {{\n access_log off;\n client_body_temp_path {d}/tmp;\n\
         proxy_temp_path {d}/tmp;\n fastcgi_temp_path {d}/tmp;\n uwsgi_temp_path {d}/tmp;\n\
         scgi_temp_path {d}/tmp;\n server {{\n{listen}  root {d}/www;\n\
         location = /big {{ limit_rate 100k; }}\n }}\n}}\n"
    );
    let path = dir.join("nginx.conf");
    std::fs::write(&path, conf).unwrap();
    host.spawn(
        "nginx",
        &["-c", path.to_str().unwrap()],
        format!("nginx-{name}.log"),
    )
    .unwrap()
}
