//! Round trips and robustness; the fixtures from a real kernel are in tests/fixtures.rs.
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use proptest::prelude::*;

use super::*;

const FAM: u16 = 0x22;

fn one(buf: &[u8]) -> Received {
    let mut it = decode(buf, FAM);
    let r = it.next().expect("one message").expect("framing");
    assert!(it.next().is_none());
    r
}

fn service(key: ServiceKey) -> Service {
    Service::new(key, "wlc")
}

/// The kernel's reply to a dump carries the same nested service as a NEW_SERVICE
/// request; re-typing our request as a reply lets the reply decoder read our encoding.
fn as_reply(mut req: Vec<u8>) -> Vec<u8> {
    req[6..8].copy_from_slice(&nl::NLM_F_MULTI.to_ne_bytes());
    req
}

#[test]
fn a_service_goes_through_request_and_reply() {
    let s = Service {
        flags: SchedFlags(SchedFlags::PERSISTENT | SchedFlags::SCHED1),
        timeout: 300,
        netmask: 0xffff_ff00,
        pe_name: Some("sip".into()),
        ..service(ServiceKey::Addr {
            protocol: Protocol::Udp,
            addr: "10.0.0.1".parse().expect("ip"),
            port: 5060,
        })
    };
    let mut buf = Vec::new();
    encode(&Request::Op(Op::AddService(s.clone())), FAM, 7, 0, &mut buf);
    assert_eq!(buf.len() % 4, 0);
    let (seq, flags, req) = decode_request(&buf, FAM).expect("request");
    assert_eq!((seq, flags), (7, nl::NLM_F_REQUEST | nl::NLM_F_ACK));
    assert_eq!(req, Request::Op(Op::AddService(s.clone())));
    // The netmask is in network order for IPv4.
    let at = buf
        .windows(8)
        .position(|w| w == [8, 0, 9, 0, 0xff, 0xff, 0xff, 0x00])
        .is_some();
    assert!(at, "{buf:02x?}");
    let r = one(&as_reply(buf));
    assert_eq!(
        r.reply,
        Ok(Reply::Service(ServiceInfo {
            service: s,
            stats: Stats::default()
        }))
    );
}

#[test]
fn an_ack_an_error_with_text_and_a_done() {
    // NLMSG_ERROR 0, capped, for seq 5.
    let mut ack = Vec::new();
    let st = nl::begin(&mut ack, nl::NLMSG_ERROR, nl::NLM_F_CAPPED, 5, 99);
    ack.extend_from_slice(&0i32.to_ne_bytes());
    ack.extend_from_slice(&[0; 16]);
    nl::end(&mut ack, st);
    assert_eq!(one(&ack).reply, Ok(Reply::Ack));
    assert_eq!(one(&ack).seq, 5);

    // -EEXIST, not capped (the request echoed), with an extended-ACK text.
    let mut req = Vec::new();
    encode(&Request::Flush, FAM, 6, 0, &mut req);
    let mut err = Vec::new();
    let st = nl::begin(&mut err, nl::NLMSG_ERROR, nl::NLM_F_ACK_TLVS, 6, 99);
    err.extend_from_slice(&(-17i32).to_ne_bytes());
    err.extend_from_slice(&req);
    nl::put_str(&mut err, nl::NLMSGERR_ATTR_MSG, "exists");
    nl::end(&mut err, st);
    assert_eq!(
        one(&err).reply,
        Ok(Reply::Error {
            errno: 17,
            message: Some("exists".into())
        })
    );

    let mut done = Vec::new();
    let st = nl::begin(&mut done, nl::NLMSG_DONE, nl::NLM_F_MULTI, 8, 99);
    done.extend_from_slice(&0i32.to_ne_bytes());
    nl::end(&mut done, st);
    let mut failed = Vec::new();
    let st = nl::begin(&mut failed, nl::NLMSG_DONE, nl::NLM_F_MULTI, 9, 99);
    failed.extend_from_slice(&(-22i32).to_ne_bytes());
    nl::end(&mut failed, st);
    let both = [done, failed].concat();
    let got: Vec<_> = decode(&both, FAM)
        .map(|r| r.expect("framing"))
        .map(|r| (r.seq, r.reply))
        .collect();
    assert_eq!(
        got,
        vec![
            (8, Ok(Reply::Done)),
            (
                9,
                Ok(Reply::Error {
                    errno: 22,
                    message: None
                })
            )
        ]
    );
}

#[test]
fn the_family_request_and_reply() {
    let mut buf = Vec::new();
    encode_get_family("IPVS", 1, 0, &mut buf);
    assert_eq!(
        buf,
        [
            0x20, 0, 0, 0, 0x10, 0, 0x05, 0, 1, 0, 0, 0, 0, 0, 0, 0, 3, 1, 0, 0, 9, 0, 2, 0, b'I',
            b'P', b'V', b'S', 0, 0, 0, 0
        ][..]
    );
}

#[test]
fn a_malformed_payload_is_a_value_and_the_walk_goes_on() {
    let mut buf = Vec::new();
    let st = nl::begin(&mut buf, FAM, 0, 1, 0);
    nl::genl(&mut buf, cmd::NEW_SERVICE, 1);
    let n = nl::begin_nest(&mut buf, cmd_attr::SERVICE);
    nl::put_u16(&mut buf, svc_attr::AF, 99);
    nl::end_nest(&mut buf, n);
    nl::end(&mut buf, st);
    let mut ack = Vec::new();
    let st = nl::begin(&mut ack, nl::NLMSG_ERROR, 0, 2, 0);
    ack.extend_from_slice(&[0; 20]);
    nl::end(&mut ack, st);
    buf.extend_from_slice(&ack);
    let got: Vec<_> = decode(&buf, FAM).map(|r| r.expect("framing")).collect();
    assert_eq!(got[0].reply, Err(DecodeError::Family(99)));
    assert_eq!(got[1].reply, Ok(Reply::Ack));
    // A length beyond the buffer ends the walk.
    buf[0] = 0xff;
    let got: Vec<_> = decode(&buf, FAM).collect();
    assert_eq!(got.len(), 1);
    assert!(got[0].is_err());
}

fn arb_ip(fam: Family) -> BoxedStrategy<IpAddr> {
    match fam {
        Family::V4 => any::<[u8; 4]>()
            .prop_map(|o| IpAddr::V4(Ipv4Addr::from(o)))
            .boxed(),
        Family::V6 => any::<[u8; 16]>()
            .prop_map(|o| IpAddr::V6(Ipv6Addr::from(o)))
            .boxed(),
    }
}

fn arb_family() -> impl Strategy<Value = Family> {
    prop_oneof![Just(Family::V4), Just(Family::V6)]
}

fn arb_key() -> impl Strategy<Value = ServiceKey> {
    prop_oneof![
        (
            prop_oneof![
                Just(Protocol::Tcp),
                Just(Protocol::Udp),
                Just(Protocol::Sctp)
            ],
            arb_family().prop_flat_map(arb_ip),
            any::<u16>()
        )
            .prop_map(|(protocol, addr, port)| ServiceKey::Addr {
                protocol,
                addr,
                port
            }),
        (arb_family(), 1..u32::MAX).prop_map(|(family, mark)| ServiceKey::Fwmark { family, mark }),
    ]
}

fn arb_service() -> impl Strategy<Value = Service> {
    (
        arb_key(),
        "[a-z]{1,15}",
        any::<u32>(),
        any::<u32>(),
        any::<u32>(),
        proptest::option::of("[a-z]{1,15}"),
    )
        .prop_map(
            |(key, scheduler, flags, timeout, netmask, pe_name)| Service {
                key,
                scheduler,
                flags: SchedFlags(flags & !SchedFlags::HASHED),
                timeout,
                netmask,
                pe_name,
            },
        )
}

fn arb_forward() -> impl Strategy<Value = Forward> {
    prop_oneof![
        Just(Forward::Masq),
        Just(Forward::Local),
        Just(Forward::Route),
        Just(Forward::Bypass),
        Just(Forward::Tunnel(TunnelType::Ipip)),
        (any::<u16>(), any::<u16>())
            .prop_map(|(port, flags)| Forward::Tunnel(TunnelType::Gue { port, flags })),
        any::<u16>().prop_map(|flags| Forward::Tunnel(TunnelType::Gre { flags })),
    ]
}

fn arb_dest() -> impl Strategy<Value = Destination> {
    (
        arb_family().prop_flat_map(arb_ip),
        any::<u16>(),
        arb_forward(),
        any::<u32>(),
        any::<u32>(),
        any::<u32>(),
    )
        .prop_map(
            |(addr, port, forward, weight, u_threshold, l_threshold)| Destination {
                key: DestKey { addr, port },
                forward,
                weight,
                u_threshold,
                l_threshold,
            },
        )
}

fn arb_op() -> impl Strategy<Value = Op> {
    prop_oneof![
        arb_service().prop_map(Op::AddService),
        arb_service().prop_map(Op::EditService),
        arb_key().prop_map(Op::DelService),
        (arb_key(), arb_dest()).prop_map(|(k, d)| Op::AddDest(k, d)),
        (arb_key(), arb_dest()).prop_map(|(k, d)| Op::EditDest(k, d)),
        (arb_key(), arb_dest()).prop_map(|(k, d)| Op::DelDest(k, d.key)),
    ]
}

proptest! {
    #[test]
    fn random_bytes_never_panic(buf in proptest::collection::vec(any::<u8>(), 0..512)) {
        for r in decode(&buf, FAM).take(1000) {
            let _ = r;
        }
        let _ = decode_request(&buf, FAM);
    }

    /// Random bytes behind a well-formed header reach the attribute parsers.
    #[test]
    fn random_payloads_never_panic(
        ty in prop_oneof![Just(FAM), Just(GENL_ID_CTRL), Just(nl::NLMSG_ERROR), Just(nl::NLMSG_DONE)],
        flags in any::<u16>(),
        cmd in 0u8..20,
        body in proptest::collection::vec(any::<u8>(), 0..256),
    ) {
        let mut buf = Vec::new();
        let st = nl::begin(&mut buf, ty, flags, 1, 0);
        nl::genl(&mut buf, cmd, 1);
        buf.extend_from_slice(&body);
        nl::end(&mut buf, st);
        for r in decode(&buf, FAM) {
            let _ = r;
        }
        let _ = decode_request(&buf, FAM);
    }

    #[test]
    fn every_op_round_trips(op in arb_op(), seq in any::<u32>()) {
        let mut buf = Vec::new();
        encode(&Request::Op(op.clone()), FAM, seq, 0, &mut buf);
        let (s, _, req) = decode_request(&buf, FAM).expect("request");
        prop_assert_eq!(s, seq);
        prop_assert_eq!(req, Request::Op(op));
    }

    /// A dump reply holds the same nested attributes as an add request.
    #[test]
    fn services_and_dests_round_trip_as_replies(s in arb_service(), k in arb_key(), d in arb_dest()) {
        let mut buf = Vec::new();
        encode(&Request::Op(Op::AddService(s.clone())), FAM, 1, 0, &mut buf);
        prop_assert_eq!(one(&as_reply(buf)).reply, Ok(Reply::Service(ServiceInfo { service: s, stats: Stats::default() })));
        let mut buf = Vec::new();
        encode(&Request::Op(Op::AddDest(k, d.clone())), FAM, 1, 0, &mut buf);
        prop_assert_eq!(
            one(&as_reply(buf)).reply,
            Ok(Reply::Dest(DestInfo { dest: d, active_conns: 0, inact_conns: 0, persist_conns: 0, stats: Stats::default() }))
        );
    }

    /// A quiet request is its plain encoding without NLM_F_ACK (a GET keeps it), and
    /// `ask_ack` gives it back.
    #[test]
    fn a_quiet_request_differs_only_in_its_ack_flag(op in arb_op(), seq in any::<u32>()) {
        for req in [Request::Op(op.clone()), Request::GetInfo, Request::GetServices, Request::Flush] {
            let (mut plain, mut quiet) = (Vec::new(), Vec::new());
            encode(&req, FAM, seq, 7, &mut plain);
            encode_quiet(&req, FAM, seq, 7, &mut quiet);
            let flags = |b: &[u8]| u16::from_ne_bytes([b[6], b[7]]);
            prop_assert_eq!(&plain[8..], &quiet[8..]);
            prop_assert_eq!(flags(&quiet) & nl::NLM_F_ACK != 0, req.answers_with_data() && !req.is_dump());
            prop_assert_eq!(decode_request(&quiet, FAM).expect("request").2, req.clone());
            ask_ack(&mut quiet);
            if !req.is_dump() {
                prop_assert_eq!(&plain, &quiet);
            }
        }
    }

    #[test]
    fn other_requests_round_trip(
        t in (any::<u32>(), any::<u32>(), any::<u32>()),
        ifname in "[a-z0-9]{1,15}",
        syncid in any::<u32>(),
        opt in (proptest::option::of(any::<u16>()), proptest::option::of(arb_family().prop_flat_map(arb_ip)),
                proptest::option::of(any::<u16>()), proptest::option::of(any::<u8>())),
        k in arb_key(),
    ) {
        let daemon = SyncDaemon {
            state: SyncState::Backup, ifname, syncid,
            sync_maxlen: opt.0, mcast_group: opt.1, mcast_port: opt.2, mcast_ttl: opt.3,
        };
        for req in [
            Request::GetServices, Request::GetDests(k), Request::GetInfo, Request::GetConfig,
            Request::SetConfig(Timeouts { tcp: t.0, tcp_fin: t.1, udp: t.2 }),
            Request::NewDaemon(daemon.clone()), Request::DelDaemon(SyncState::Master),
            Request::GetDaemons, Request::Flush,
        ] {
            let mut buf = Vec::new();
            encode(&req, FAM, 3, 0, &mut buf);
            prop_assert_eq!(decode_request(&buf, FAM).expect("request").2, req);
        }
    }
}
