//! The VRRP engine under arbitrary input: a script of packets (IPv4 with header, IPv6
//! message), time steps, link and tracker changes, for a Master and a Backup of each
//! family. Nothing may panic; timers must stay consistent with states.
#![no_main]
use keepup_vrrp::{
    IfIndex, InitialState, Input, InstanceConfig, InstanceId, Router, RxData, RxPacket, State,
    TrackEffect,
};
use keepup_wire::ipv4;
use keepup_wire::vrrp::{self, AuthType, ChecksumForm, IpPair, Version};
use libfuzzer_sys::fuzz_target;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::Duration;

fn router() -> Option<Router> {
    let mut a = InstanceConfig::new("a", 51, IfIndex(1), vec![IpAddr::V4(Ipv4Addr::new(10, 0, 0, 100))]);
    a.source = Some(IpAddr::V4(Ipv4Addr::new(10, 0, 0, 2)));
    a.priority = 255;
    a.state = InitialState::Master;
    let mut b = a.clone();
    b.name = "b".into();
    b.vrid = 52;
    b.priority = 100;
    b.version = Version::V3;
    let ll = Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 0x100);
    let mut c = InstanceConfig::new("c", 51, IfIndex(1), vec![IpAddr::V6(ll)]);
    c.source = Some(IpAddr::V6(Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 2)));
    Router::new(vec![a, b, c], vec![]).ok()
}

fuzz_target!(|data: &[u8]| {
    let Some(mut r) = router() else { return };
    let mut now = keepup_vrrp::Instant::ZERO;
    r.handle(now, Input::Startup);
    let mut rest = data;
    while let [op, len, tail @ ..] = rest {
        let n = usize::from(*len).min(tail.len());
        let (chunk, next) = tail.split_at(n);
        rest = next;
        match op % 8 {
            // A well-formed advert whose fields come from the input, so the fuzzer
            // reaches the state machine and not only the checks in front of it.
            6 | 7 => {
                let b = |k: usize| chunk.get(k).copied().unwrap_or(0);
                let v3 = op % 2 == 1;
                let repr = vrrp::Repr {
                    version: if v3 { Version::V3 } else { Version::V2 },
                    vrid: 51 + (b(0) % 2),
                    priority: b(1),
                    interval: if v3 { u16::from(b(2)).max(1) } else { 1 + u16::from(b(2) % 2) },
                    auth_type: AuthType::None,
                    auth_data: [0; 8],
                    addresses: vec![IpAddr::V4(Ipv4Addr::new(10, 0, 0, 100 + (b(3) % 2)))],
                };
                let src = Ipv4Addr::new(10, 0, 0, b(4));
                let dst = vrrp::MCAST_V4;
                let ip = IpPair { src: IpAddr::V4(src), dst: IpAddr::V4(dst) };
                if let Ok(msg) = repr.to_bytes(ip, ChecksumForm::PseudoHeader) {
                    let header = ipv4::Repr {
                        src,
                        dst,
                        protocol: vrrp::PROTOCOL,
                        ttl: if b(5) == 0 { 1 } else { 255 },
                        ident: 0,
                        tos: 0,
                        payload_len: msg.len(),
                    };
                    let pkt = ipv4::emit_advert(header, None, &msg);
                    r.handle(now, Input::Packet(RxPacket { interface: IfIndex(1), data: RxData::V4(&pkt) }));
                }
            }
            0 => r.handle(now, Input::Packet(RxPacket { interface: IfIndex(1), data: RxData::V4(chunk) })),
            1 => r.handle(
                now,
                Input::Packet(RxPacket {
                    interface: IfIndex(1),
                    data: RxData::V6 {
                        src: Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 3),
                        dst: keepup_wire::vrrp::MCAST_V6,
                        hop_limit: 255,
                        vrrp: chunk,
                    },
                }),
            ),
            2 => {
                now = now + Duration::from_millis(u64::from(*len) * 37);
                r.handle_timeout(now);
            }
            3 => r.handle(now, Input::Link { interface: IfIndex(1), up: len % 2 == 0 }),
            4 => r.handle(
                now,
                Input::Track {
                    instance: InstanceId(usize::from(*len % 3)),
                    tracker: u32::from(*len % 4),
                    effect: TrackEffect::Weight(i32::from(*len as i8) * 3),
                },
            ),
            _ => r.handle(now, if len % 2 == 0 { Input::Shutdown } else { Input::Startup }),
        }
        while r.poll_output().is_some() {}
        for i in 0..r.instance_count() {
            let s = r.state(InstanceId(i));
            assert!(matches!(s, State::Master | State::Backup | State::Fault | State::Stop | State::Initialize));
        }
        if let Some(d) = r.poll_timeout() {
            assert!(d > now || r.instance_count() > 0);
        }
    }
});
