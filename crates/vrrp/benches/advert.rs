//! Cost of receiving, validating and answering one advert, in ns/advert.
//!
//! A Master at priority 200 receives a priority-100 advert from a peer; every check of
//! RFC 3768/9568 §7.1 runs (IP header, TTL, version, VRID, checksum, authentication,
//! interval, address list), then it answers with an advert of its own (MST-10),
//! which is built, checksummed and (AH) signed. Three cases: v2 PASS, v2 AH (HMAC-MD5
//! verify + sign), v3 over IPv4.
//!
//! `cargo bench -p keepup-vrrp --bench advert` measures; under `cargo test` (no
//! `--bench` argument) it runs each case a few times as a smoke test.
use keepup_vrrp::{
    Auth, IfIndex, InitialState, Input, InstanceConfig, Output, Router, RxData, RxPacket,
};
use keepup_wire::vrrp::{self, AuthType, ChecksumForm, IpPair, Version};
use keepup_wire::{ah, ipv4};
use std::hint::black_box;
use std::net::{IpAddr, Ipv4Addr};
use std::time::{Duration, Instant};

const IF: IfIndex = IfIndex(1);
const ME: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 2);
const PEER: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 3);

fn config(version: Version, auth: Auth) -> InstanceConfig {
    let vips = (0..3)
        .map(|i| IpAddr::V4(Ipv4Addr::new(10, 0, 1, i)))
        .collect();
    let mut c = InstanceConfig::new("VI_1", 51, IF, vips);
    c.version = version;
    c.auth = auth;
    c.priority = 255;
    c.state = InitialState::Master;
    c.source = Some(IpAddr::V4(ME));
    c
}

/// The peer's advert number `seq` (AH needs a rising sequence number).
fn peer_advert(c: &InstanceConfig, seq: u32) -> Vec<u8> {
    let (auth_type, auth_data) = match &c.auth {
        Auth::Pass(p) => (AuthType::Pass, *p),
        Auth::Ah(_) => (AuthType::Ah, [0; 8]),
        Auth::None => (AuthType::None, [0; 8]),
    };
    let repr = vrrp::Repr {
        version: c.version,
        vrid: c.vrid,
        priority: 100,
        interval: if c.version == Version::V2 { 1 } else { 100 },
        auth_type: if c.version == Version::V2 {
            auth_type
        } else {
            AuthType::None
        },
        auth_data,
        addresses: c.vips.clone(),
    };
    let dst = vrrp::MCAST_V4;
    let ip = IpPair {
        src: IpAddr::V4(PEER),
        dst: IpAddr::V4(dst),
    };
    let Ok(msg) = repr.to_bytes(ip, ChecksumForm::PseudoHeader) else {
        panic!("bench advert does not encode");
    };
    let header = ipv4::Repr {
        src: PEER,
        dst,
        protocol: vrrp::PROTOCOL,
        ttl: 255,
        ident: 1,
        tos: 0xc0,
        payload_len: msg.len(),
    };
    match &c.auth {
        Auth::Ah(key) => ipv4::emit_advert(
            header,
            Some((
                ah::Repr {
                    spi: u32::from(PEER),
                    seq,
                },
                key.as_slice(),
            )),
            &msg,
        ),
        _ => ipv4::emit_advert(header, None, &msg),
    }
}

/// ns per advert over `n` adverts (best of `rounds`).
fn run(c: &InstanceConfig, n: u32, rounds: u32) -> f64 {
    let packets: Vec<Vec<u8>> = (1..=n).map(|s| peer_advert(c, s)).collect();
    let mut best = f64::INFINITY;
    for _ in 0..rounds {
        let Ok(mut r) = Router::new(vec![c.clone()], vec![]) else {
            panic!("bench config refused");
        };
        let mut now = keepup_vrrp::Instant::ZERO;
        r.handle(now, Input::Startup);
        while r.poll_output().is_some() {}
        let mut answered = 0u64;
        let start = Instant::now();
        for p in &packets {
            now = now + Duration::from_micros(10);
            r.handle(
                now,
                Input::Packet(RxPacket {
                    interface: IF,
                    data: RxData::V4(p),
                }),
            );
            while let Some(o) = r.poll_output() {
                if let Output::Advert(a) = o {
                    answered += 1;
                    black_box(a);
                }
            }
        }
        let el = start.elapsed();
        assert_eq!(answered, u64::from(n), "every advert is answered (MST-10)");
        best = best.min(el.as_nanos() as f64 / f64::from(n));
    }
    best
}

fn main() {
    let bench = std::env::args().any(|a| a == "--bench");
    let (n, rounds) = if bench { (200_000, 5) } else { (50, 1) };
    let cases = [
        ("v2 PASS", config(Version::V2, Auth::pass("secret"))),
        ("v2 AH", config(Version::V2, Auth::ah("secret"))),
        ("v3 IPv4", config(Version::V3, Auth::None)),
    ];
    // The lower-priority garp burst would dominate; keepalived's default is 5 per
    // lower-priority advert, which is what a real Master does, but the benchmark
    // measures the advert path.
    for (name, mut c) in cases {
        c.garp.lower_prio_repeat = 0;
        let ns = run(&c, n, rounds);
        println!("{name:8} {ns:8.0} ns/advert (receive, validate, answer; {n} adverts, best of {rounds})");
    }
}
