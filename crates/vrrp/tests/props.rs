//! Property tests of one engine under arbitrary inputs: it never panics, its timers
//! always match its state, and a discarded packet changes nothing but counters.
mod harness;
use harness::*;
use keepup_vrrp::{IfIndex, InitialState, Input, InstanceId, RxData, RxPacket, State, TrackEffect};
use proptest::prelude::*;
use std::net::{IpAddr, Ipv4Addr};

#[derive(Debug, Clone)]
enum Step {
    Wait(u32),
    Advert { prio: u8, last: u8, v3: bool },
    Bytes(Vec<u8>),
    Link(bool),
    Track(u32, i32),
    Fault(u32, bool),
    Pending(u32),
    Claimed,
    Startup,
    Shutdown,
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        (1u32..5_000_000).prop_map(Step::Wait),
        (any::<u8>(), 1u8..20, any::<bool>()).prop_map(|(prio, last, v3)| Step::Advert {
            prio,
            last,
            v3
        }),
        proptest::collection::vec(any::<u8>(), 0..80).prop_map(Step::Bytes),
        any::<bool>().prop_map(Step::Link),
        (0u32..3, -300i32..300).prop_map(|(k, w)| Step::Track(k, w)),
        (0u32..3, any::<bool>()).prop_map(|(k, f)| Step::Fault(k, f)),
        (0u32..3).prop_map(Step::Pending),
        Just(Step::Claimed),
        Just(Step::Startup),
        Just(Step::Shutdown),
    ]
}

/// Timers agree with the state: a Master has its Adver_Timer, a Backup its down
/// timer, and FAULT, STOP and Initialize have none.
fn consistent(h: &H) {
    let deadline = h.r.poll_timeout();
    match h.state() {
        State::Master | State::Backup => {
            assert!(deadline.is_some(), "{:?} without a timer", h.state())
        }
        // A stopped Master holding its VIPs for the handover waits for its release.
        State::Stop if h.r.holding() => assert!(deadline.is_some()),
        State::Fault | State::Stop | State::Initialize => assert_eq!(deadline, None),
    }
    assert!(
        deadline.is_none_or(|d| d > h.now),
        "a due timer was left unfired"
    );
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn engine_survives_any_input_sequence(
        prio in 1u8..=255,
        master in any::<bool>(),
        v3_inst in any::<bool>(),
        handover in any::<bool>(),
        steps in proptest::collection::vec(step(), 1..60),
    ) {
        let mut c = if v3_inst { v3(prio) } else { v2(prio) };
        c.state = if master { InitialState::Master } else { InitialState::Backup };
        c.handover = handover;
        let mut h = H::new(vec![c.clone()]);
        for s in steps {
            match s {
                Step::Wait(us) => h.run_for(std::time::Duration::from_micros(u64::from(us))),
                Step::Advert { prio, last, v3: is_v3 } => {
                    let base = if is_v3 { v3(100) } else { v2(100) };
                    let p = Peer::of(&base, prio).from(IpAddr::V4(Ipv4Addr::new(10, 0, 0, last)));
                    h.rx(&p);
                }
                Step::Bytes(b) => {
                    h.input(Input::Packet(RxPacket { interface: IfIndex(1), data: RxData::V4(&b) }));
                    h.input(Input::Packet(RxPacket {
                        interface: IfIndex(1),
                        data: RxData::V6 { src: PEER6, dst: keepup_wire::vrrp::MCAST_V6, hop_limit: 255, vrrp: &b },
                    }));
                }
                Step::Link(up) => h.input(Input::Link { interface: IF, up }),
                Step::Track(k, w) => h.input(Input::Track { instance: InstanceId(0), tracker: k, effect: TrackEffect::Weight(w) }),
                Step::Fault(k, f) => h.input(Input::Track { instance: InstanceId(0), tracker: k + 10, effect: TrackEffect::Fault(f) }),
                Step::Pending(k) => h.input(Input::Track { instance: InstanceId(0), tracker: k + 10, effect: TrackEffect::Pending }),
                Step::Claimed => h.input(Input::Claimed { instance: InstanceId(0) }),
                Step::Startup => h.input(Input::Startup),
                Step::Shutdown => h.input(Input::Shutdown),
            }
            consistent(&h);
            let p = h.r.effective_priority(InstanceId(0));
            prop_assert!(p >= 1);
            prop_assert!(prio == 255 || p <= 254);
        }
    }

    /// Random bytes delivered as packets only ever move counters.
    #[test]
    fn random_packets_change_no_state(bytes in proptest::collection::vec(any::<u8>(), 0..120)) {
        let (mut h, before) = {
            let mut h = H::started(v2(100));
            h.run_until(t(1.0));
            let d = h.r.poll_timeout();
            (h, d)
        };
        let n = h.log.len();
        h.input(Input::Packet(RxPacket { interface: IF, data: RxData::V4(&bytes) }));
        prop_assert_eq!(h.r.poll_timeout(), before);
        prop_assert_eq!(h.state(), State::Backup);
        prop_assert!(h.log[n..].iter().all(|(_, o)| matches!(o, keepup_vrrp::Output::Event(_))));
    }
}
