//! The VRRP engine under arbitrary input: a script of packets (IPv4 with header, IPv6
//! message), time steps, link and tracker changes, for a Master and a Backup of each
//! family. Nothing may panic; timers must stay consistent with states.
#![no_main]
use keepup_vrrp::{
    IfIndex, InitialState, Input, InstanceConfig, InstanceId, Router, RxData, RxPacket, State,
    TrackEffect,
};
use keepup_wire::vrrp::Version;
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
        match op % 6 {
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
