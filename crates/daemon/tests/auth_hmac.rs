//! `auth_hmac` between two keepup daemons in a real lab: signed adverts settle a
//! Master and a Backup, a key rotation by reload flaps nothing, and a replayed and a
//! forged advert injected from a third host are refused and counted. Root only; CI
//! runs these serially.
//!
//! Only keepalived 2.2.7 (without `auth_hmac`) is installable here, so this is keepup
//! against keepup; the trailer's format is proven against keepalived 2.4.3's
//! published vectors in `keepup_wire::hmac_auth`, not against a live keepalived 2.4.
#![allow(clippy::unwrap_used)]

mod common;
use common::{client, has, keepup, routers};

use keepup_testkit::lab::{self, wait_until, Capture, Host, Lab, Packet, Signal};
use keepup_wire::hmac_auth::TRAILER_LEN;
use keepup_wire::ipv4;
use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

const VIP: IpAddr = IpAddr::V4(Ipv4Addr::new(10, 9, 0, 100));
const R1: Ipv4Addr = Ipv4Addr::new(10, 9, 0, 1);
/// A VRRPv2 message with one address: what precedes the trailer.
const MESSAGE_LEN: usize = 20;

/// Both routers' config: keys 1 and 2 everywhere, `active_key` as given; a wide
/// window so that an advert replayed within the test is a replay, not a stale one.
fn conf(active: u8) -> String {
    format!(
        "vrrp_instance VI_1 {{
    state BACKUP
    interface eth0
    virtual_router_id 51
@r1 priority 150
@r2 priority 100
    advert_int 1
    auth_hmac {{
        key 1 keepup-netns-auth-hmac-key-number-1
        key 2 hex:{}
        active_key {active}
        time_window 60
    }}
    virtual_ipaddress {{
        10.9.0.100/24
    }}
}}
",
        "5a".repeat(32)
    )
}

/// The VRRP payload of a captured frame sent by `from` (after the IPv4 header).
fn payload_from(p: &Packet, from: Ipv4Addr) -> Option<Vec<u8>> {
    let (_, _, _, ip) = p.ethernet()?;
    let a = ipv4::parse_advert(ip).ok()?;
    (a.src == from).then(|| a.vrrp.to_vec())
}

/// The key id of a captured advert's trailer, if it has one.
fn key_id(vrrp: &[u8]) -> Option<u8> {
    (vrrp.len() == MESSAGE_LEN + TRAILER_LEN).then(|| vrrp[MESSAGE_LEN + 1])
}

/// The latest frame from r1 whose trailer carries `key`.
fn wait_frame(cap: &Capture, key: u8) -> Packet {
    let mut found = None;
    let ok = wait_until(Duration::from_secs(10), Duration::from_millis(50), || {
        found = cap
            .packets()
            .unwrap_or_default()
            .into_iter()
            .rev()
            .find(|p| payload_from(p, R1).and_then(|v| key_id(&v)) == Some(key));
        found.is_some()
    });
    assert!(ok.is_some(), "no advert from r1 signed with key {key}");
    found.unwrap()
}

fn status(lab: &Lab, h: &Host) -> serde_json::Value {
    let (code, out, err) = client(lab, h, &["status", "--json"]);
    assert_eq!(code, 0, "{out}{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    v["instances"][0].clone()
}

fn stat(lab: &Lab, h: &Host, name: &str) -> u64 {
    status(lab, h)["stats"][name].as_u64().unwrap_or(0)
}

/// Wait until r2's counter `name` reaches `at_least`.
fn wait_stat(lab: &Lab, h: &Host, name: &str, at_least: u64) {
    let ok = wait_until(Duration::from_secs(10), Duration::from_millis(50), || {
        stat(lab, h, name) >= at_least
    });
    assert!(
        ok.is_some(),
        "{name} never reached {at_least}: {:#}",
        status(lab, h)
    );
}

/// Send a whole Ethernet frame from `h`'s eth0 (AF_PACKET, as a capture replayer
/// would).
fn inject(h: &Host, frame: &[u8]) {
    let hex: String = frame.iter().map(|b| format!("{b:02x}")).collect();
    let script = "import socket,sys\n\
                  s=socket.socket(socket.AF_PACKET,socket.SOCK_RAW)\n\
                  s.bind(('eth0',0))\n\
                  s.send(bytes.fromhex(sys.argv[1]))\n";
    h.run(["python3", "-c", script, &hex]).unwrap();
}

const HMAC_COUNTERS: [&str; 6] = [
    "auth_ext_missing",
    "auth_ext_malformed",
    "auth_ext_unknown_key",
    "auth_ext_invalid_hmac",
    "auth_ext_stale",
    "auth_ext_replay",
];

#[test]
fn netns_auth_hmac_rotation_without_flap_and_replay_and_forgery_refused() {
    if !lab::root_or_skip("netns_auth_hmac_rotation_without_flap_and_replay_and_forgery_refused") {
        return;
    }
    let (lab, lan, hosts) = routers("khmac", 3, false);
    let (r1, r2, r3) = (&hosts[0], &hosts[1], &hosts[2]);
    let k1 = keepup(&lab, r1, &conf(1), "a");
    let k2 = keepup(&lab, r2, &conf(1), "a");
    assert!(
        wait_until(Duration::from_secs(10), Duration::from_millis(20), || has(
            r1, VIP
        ))
        .is_some(),
        "r1 never became master:\n{}\n{}",
        k1.log(),
        k2.log()
    );
    k2.wait_for_log("Entering BACKUP STATE", Duration::from_secs(5))
        .unwrap();
    let cap = lan.capture("ip proto 112").unwrap();
    // Signed with key 1; the Backup takes its adverts and refuses none.
    let old = wait_frame(&cap, 1);
    let seen = stat(&lab, r2, "advert_rcvd");
    wait_stat(&lab, r2, "advert_rcvd", seen + 2);
    for c in HMAC_COUNTERS {
        assert_eq!(stat(&lab, r2, c), 0, "{c}: {:#}", status(&lab, r2));
    }
    let entering = (
        k1.log().matches("Entering").count(),
        k2.log().matches("Entering").count(),
    );

    // Rotation: r1 signs with key 2 after a reload; nobody moves.
    std::fs::write(lab.dir().join("r1-a.conf"), conf(2)).unwrap();
    k1.kill(Signal::SIGHUP).unwrap();
    k1.wait_for_log("reload: 1 instance(s)", Duration::from_secs(10))
        .unwrap();
    assert!(
        status(&lab, r1)["state"] == "MASTER",
        "{:#}",
        status(&lab, r1)
    );
    wait_frame(&cap, 2);
    let seen = stat(&lab, r2, "advert_rcvd");
    wait_stat(&lab, r2, "advert_rcvd", seen + 3);
    assert_eq!(
        (
            k1.log().matches("Entering").count(),
            k2.log().matches("Entering").count(),
        ),
        entering,
        "a key rotation flapped:\n{}\n{}",
        k1.log(),
        k2.log()
    );
    // The reload kept the instance: nothing started afresh.
    let (_, out, _) = client(&lab, r1, &["status", "--json"]);
    let all: serde_json::Value = serde_json::from_str(&out).unwrap();
    let outcome = all["daemon"]["last_reload"]["outcome"]
        .as_str()
        .unwrap_or("");
    assert!(
        outcome.starts_with("ok: ") && outcome.contains(" 0 started afresh"),
        "{all:#}"
    );
    for c in HMAC_COUNTERS {
        assert_eq!(
            stat(&lab, r2, c),
            0,
            "{c} after rotation: {:#}",
            status(&lab, r2)
        );
    }

    // A replay of r1's first capture (key 1, still configured, inside the window):
    // refused as a replay, named once.
    inject(r3, &old.data);
    wait_stat(&lab, r2, "auth_ext_replay", 1);
    k2.wait_for_log("replayed advert", Duration::from_secs(5))
        .unwrap();

    // The same advert with one HMAC octet flipped: refused as a bad HMAC.
    let mut forged = old.data.clone();
    let last = forged.len() - 1;
    forged[last] ^= 0x80;
    inject(r3, &forged);
    wait_stat(&lab, r2, "auth_ext_invalid_hmac", 1);
    k2.wait_for_log("does not verify", Duration::from_secs(5))
        .unwrap();

    // Nothing moved: r1 Master with the VIP, r2 Backup, no Entering line since.
    let s2 = status(&lab, r2);
    assert_eq!(s2["state"], "BACKUP", "{s2:#}");
    assert!(has(r1, VIP));
    assert_eq!(
        (
            k1.log().matches("Entering").count(),
            k2.log().matches("Entering").count(),
        ),
        entering,
        "{}\n{}",
        k1.log(),
        k2.log()
    );
    drop(cap);
}
