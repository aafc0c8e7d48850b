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

/// `keepup run` in `host` on `conf` (written to `<host>-<tag>.conf`), with `-i
/// <host>` and one runtime dir per host that survives restarts.
pub fn keepup(lab: &Lab, host: &Host, conf: &str, tag: &str) -> Proc {
    let path = lab.dir().join(format!("{}-{tag}.conf", host.name()));
    std::fs::write(&path, conf).unwrap();
    let runtime = lab.dir().join(format!("{}-run", host.name()));
    host.spawn(
        env!("CARGO_BIN_EXE_keepup"),
        &[
            "run",
            "-f",
            path.to_str().unwrap(),
            "-i",
            host.name(),
            "--runtime-dir",
            runtime.to_str().unwrap(),
        ],
        format!("{}-{tag}.log", host.name()),
    )
    .unwrap()
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
