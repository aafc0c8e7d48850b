//! The IPVS messages against bytes a real kernel and ipvsadm exchanged.
//!
//! `fixtures/ipvsadm.txt` was captured in the qemu VM (Debian's 6.1 kernel, ipvsadm
//! 1.31) by `fixtures/capture.py`: an nlmon device taps every generic-netlink message,
//! ipvsadm's requests (`>`) and the kernel's replies (`<`), command by command. Re-run
//! it with `cargo test -p keepup-lvs --test capture -- --ignored`.
use std::net::IpAddr;

use keepup_lvs::genl::{
    decode, decode_request, encode, encode_get_family, DestInfo, Received, Reply, Request,
    ServiceInfo, Stats, SyncDaemon, SyncState, Timeouts,
};
use keepup_lvs::{
    DestKey, Destination, Family, Forward, Op, Protocol, SchedFlags, Service, ServiceKey,
    TunnelType,
};

/// One ipvsadm command's messages.
struct Exchange {
    label: String,
    requests: Vec<Vec<u8>>,
    replies: Vec<Vec<u8>>,
}

fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex"))
        .collect()
}

fn load() -> Vec<Exchange> {
    let text = include_str!("../fixtures/ipvsadm.txt");
    let mut out: Vec<Exchange> = Vec::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# ") {
            if let Some((label, _)) = rest.split_once(": ipvsadm ") {
                out.push(Exchange {
                    label: label.to_owned(),
                    requests: Vec::new(),
                    replies: Vec::new(),
                });
            }
        } else if let Some(h) = line.strip_prefix("> ") {
            out.last_mut().expect("label").requests.push(hex(h));
        } else if let Some(h) = line.strip_prefix("< ") {
            out.last_mut().expect("label").replies.push(hex(h));
        }
    }
    out
}

/// The IPVS family's id, from the controller's first answer.
fn family_id(x: &[Exchange]) -> u16 {
    for e in x {
        for r in &e.replies {
            for m in decode(r, 0) {
                if let Ok(Received {
                    reply: Ok(Reply::Family { name, id }),
                    ..
                }) = m
                {
                    assert_eq!(name, "IPVS");
                    return id;
                }
            }
        }
    }
    panic!("no family reply in the fixtures")
}

fn exchange<'a>(x: &'a [Exchange], label: &str) -> &'a Exchange {
    x.iter().find(|e| e.label == label).expect(label)
}

/// The IPVS requests of an exchange (the controller's lookups left out).
fn requests(x: &Exchange, fam: u16) -> Vec<(u32, u16, Request)> {
    x.requests
        .iter()
        .filter(|r| u16::from_ne_bytes([r[4], r[5]]) == fam)
        .map(|r| decode_request(r, fam).expect("request"))
        .collect()
}

fn replies(x: &Exchange, fam: u16) -> Vec<Reply> {
    x.replies
        .iter()
        .flat_map(|r| decode(r, fam).map(|m| m.expect("framing").reply.expect("reply")))
        .filter(|r| !matches!(r, Reply::Family { .. }))
        .collect()
}

fn ip(s: &str) -> IpAddr {
    s.parse().expect("ip")
}

fn key(protocol: Protocol, addr: &str, port: u16) -> ServiceKey {
    ServiceKey::Addr {
        protocol,
        addr: ip(addr),
        port,
    }
}

fn svc(key: ServiceKey, scheduler: &str) -> Service {
    Service::new(key, scheduler)
}

fn dest(addr: &str, port: u16, forward: Forward, weight: u32) -> Destination {
    Destination::new(ip(addr), port, forward, weight)
}

fn web() -> ServiceKey {
    key(Protocol::Tcp, "10.0.0.1", 80)
}

const FWM4: ServiceKey = ServiceKey::Fwmark {
    family: Family::V4,
    mark: 5,
};
const FWM6: ServiceKey = ServiceKey::Fwmark {
    family: Family::V6,
    mark: 6,
};

/// What each ipvsadm command asked, as this crate reads it.
fn expected_requests() -> Vec<(&'static str, Request)> {
    let v6 = key(Protocol::Tcp, "fc00::1", 443);
    let op = Request::Op;
    vec![
        ("add-svc-tcp", op(Op::AddService(svc(web(), "wlc")))),
        (
            "add-dest-masq",
            op(Op::AddDest(web(), dest("10.0.0.2", 8080, Forward::Masq, 3))),
        ),
        (
            "add-dest-route-weight0",
            op(Op::AddDest(web(), dest("10.0.0.3", 80, Forward::Route, 0))),
        ),
        (
            "add-dest-ipip",
            op(Op::AddDest(
                web(),
                dest("10.0.0.4", 80, Forward::Tunnel(TunnelType::Ipip), 1),
            )),
        ),
        (
            "add-dest-gue",
            op(Op::AddDest(
                web(),
                dest(
                    "10.0.0.5",
                    80,
                    Forward::Tunnel(TunnelType::Gue {
                        port: 6080,
                        flags: TunnelType::REMCSUM,
                    }),
                    1,
                ),
            )),
        ),
        (
            "add-dest-gre-csum",
            op(Op::AddDest(
                web(),
                dest(
                    "10.0.0.6",
                    80,
                    Forward::Tunnel(TunnelType::Gre {
                        flags: TunnelType::CSUM,
                    }),
                    1,
                ),
            )),
        ),
        (
            "add-dest-thresholds",
            op(Op::AddDest(
                web(),
                Destination {
                    u_threshold: 100,
                    l_threshold: 10,
                    ..dest("10.0.0.7", 80, Forward::Masq, 2)
                },
            )),
        ),
        (
            "add-svc-udp-persistent",
            op(Op::AddService(Service {
                flags: SchedFlags(SchedFlags::PERSISTENT),
                timeout: 300,
                netmask: 0xffff_ff00,
                ..svc(key(Protocol::Udp, "10.0.0.1", 53), "rr")
            })),
        ),
        (
            "add-svc-sctp-flags",
            op(Op::AddService(Service {
                flags: SchedFlags(SchedFlags::SCHED1 | SchedFlags::SCHED2),
                ..svc(key(Protocol::Sctp, "10.0.0.1", 5000), "sh")
            })),
        ),
        (
            "add-svc-pe-sip",
            op(Op::AddService(Service {
                flags: SchedFlags(SchedFlags::PERSISTENT),
                timeout: 60,
                pe_name: Some("sip".into()),
                ..svc(key(Protocol::Udp, "10.0.0.1", 5060), "rr")
            })),
        ),
        (
            "add-svc-onepacket",
            op(Op::AddService(Service {
                flags: SchedFlags(SchedFlags::ONEPACKET),
                ..svc(key(Protocol::Udp, "10.0.0.1", 123), "rr")
            })),
        ),
        ("add-svc-fwmark4", op(Op::AddService(svc(FWM4, "wrr")))),
        (
            "add-dest-fwmark4",
            op(Op::AddDest(FWM4, dest("10.0.0.8", 0, Forward::Route, 4))),
        ),
        ("add-svc-fwmark6", op(Op::AddService(svc(FWM6, "lc")))),
        (
            "add-dest-fwmark6",
            op(Op::AddDest(FWM6, dest("fc00::8", 0, Forward::Route, 1))),
        ),
        (
            "add-svc-ipv6",
            op(Op::AddService(Service {
                flags: SchedFlags(SchedFlags::PERSISTENT | SchedFlags::SCHED1),
                timeout: 120,
                netmask: 64,
                ..svc(v6, "mh")
            })),
        ),
        (
            "add-dest-ipv6",
            op(Op::AddDest(v6, dest("fc00::2", 443, Forward::Masq, 2))),
        ),
        ("edit-svc", op(Op::EditService(svc(web(), "rr")))),
        (
            "edit-dest",
            op(Op::EditDest(
                web(),
                dest("10.0.0.2", 8080, Forward::Masq, 5),
            )),
        ),
        (
            "del-dest",
            op(Op::DelDest(
                web(),
                DestKey {
                    addr: ip("10.0.0.7"),
                    port: 80,
                },
            )),
        ),
        (
            "del-svc",
            op(Op::DelService(key(Protocol::Udp, "10.0.0.1", 123))),
        ),
        (
            "set-timeouts",
            Request::SetConfig(Timeouts {
                tcp: 900,
                tcp_fin: 120,
                udp: 300,
            }),
        ),
        ("get-timeouts", Request::GetConfig),
        (
            "start-daemon-master",
            Request::NewDaemon(SyncDaemon {
                state: SyncState::Master,
                ifname: "d0".into(),
                syncid: 7,
                sync_maxlen: None,
                mcast_group: None,
                mcast_port: None,
                mcast_ttl: None,
            }),
        ),
        ("start-daemon-backup", Request::NewDaemon(backup_daemon())),
        ("get-daemons", Request::GetDaemons),
        ("stop-daemon-master", Request::DelDaemon(SyncState::Master)),
        ("flush", Request::Flush),
    ]
}

fn backup_daemon() -> SyncDaemon {
    SyncDaemon {
        state: SyncState::Backup,
        ifname: "d0".into(),
        syncid: 9,
        sync_maxlen: Some(1400),
        mcast_group: Some(ip("224.0.0.82")),
        mcast_port: Some(8849),
        mcast_ttl: Some(2),
    }
}

/// Parse: each ipvsadm command's last IPVS request (after its GET_INFO) reads as what
/// the command says.
#[test]
fn parse_ipvsadm_requests() {
    let x = load();
    let fam = family_id(&x);
    for (label, want) in expected_requests() {
        let reqs = requests(exchange(&x, label), fam);
        assert_eq!(reqs[0].2, Request::GetInfo, "{label}");
        let (_, flags, got) = reqs.last().expect(label);
        assert_eq!(got, &want, "{label}");
        assert_eq!(*flags, if want.is_dump() { 0x305 } else { 0x5 }, "{label}");
    }
}

/// Emit: what we encode is ipvsadm's bytes exactly, for everything but the destination
/// operations and the service deletion (ipvsadm sends the whole service with those, we
/// its key: the kernel reads only the key there) and stopping a daemon, whose decoded
/// form is compared instead.
#[test]
fn emit_what_ipvsadm_sends() {
    let x = load();
    let fam = family_id(&x);
    let mut exact = 0;
    for (label, want) in expected_requests() {
        let e = exchange(&x, label);
        let raw = e
            .requests
            .iter()
            .rfind(|r| u16::from_ne_bytes([r[4], r[5]]) == fam)
            .expect(label);
        let seq = u32::from_ne_bytes(raw[8..12].try_into().expect("seq"));
        let port = u32::from_ne_bytes(raw[12..16].try_into().expect("port"));
        let mut ours = Vec::new();
        encode(&want, fam, seq, port, &mut ours);
        // ipvsadm also sends an empty interface and syncid 0 to stop a daemon.
        let decoded_only = matches!(
            want,
            Request::Op(Op::AddDest(..) | Op::EditDest(..) | Op::DelDest(..) | Op::DelService(_))
                | Request::DelDaemon(_)
        );
        if decoded_only {
            assert_eq!(decode_request(&ours, fam).expect(label).2, want, "{label}");
        } else {
            let mut raw = raw.clone();
            if want.is_dump() {
                // ipvsadm asks its dumps with NLM_F_ACK too; we do not.
                raw[6] &= !0x04;
            }
            assert_eq!(hexs(&ours), hexs(&raw), "{label}");
            exact += 1;
        }
    }
    assert!(exact >= 15, "{exact}");
    // The controller lookup too.
    let raw = &exchange(&x, "add-svc-tcp").requests[0];
    let mut ours = Vec::new();
    let seq = u32::from_ne_bytes(raw[8..12].try_into().expect("seq"));
    let port = u32::from_ne_bytes(raw[12..16].try_into().expect("port"));
    encode_get_family("IPVS", seq, port, &mut ours);
    assert_eq!(hexs(&ours), hexs(raw));
}

fn hexs(b: &[u8]) -> String {
    b.iter().map(|b| format!("{b:02x}")).collect()
}

fn no_stats(r: Reply) -> Reply {
    match r {
        Reply::Service(s) => Reply::Service(ServiceInfo {
            stats: Stats::default(),
            ..s
        }),
        Reply::Dest(d) => Reply::Dest(DestInfo {
            stats: Stats::default(),
            active_conns: 0,
            inact_conns: 0,
            persist_conns: 0,
            ..d
        }),
        r => r,
    }
}

/// Deconstruct: the kernel's dumps of services and destinations, with counters.
#[test]
fn parse_the_kernels_dumps() {
    let x = load();
    let fam = family_id(&x);
    let got = replies(exchange(&x, "list"), fam);
    assert!(got.contains(&Reply::Info {
        version: 0x010201,
        conn_tab_size: 4096
    }));
    let services: Vec<Service> = got
        .iter()
        .filter_map(|r| match r {
            Reply::Service(s) => Some(s.service.clone()),
            _ => None,
        })
        .collect();
    // The kernel's order (its hash), every kind; HASHED masked out of the flags.
    let mut want: Vec<Service> = expected_requests()
        .into_iter()
        .filter_map(|(l, r)| match r {
            Request::Op(Op::AddService(s)) if l.starts_with("add-svc") => Some(s),
            _ => None,
        })
        .collect();
    want.sort_by_key(|s| s.key);
    let mut sorted = services.clone();
    sorted.sort_by_key(|s| s.key);
    assert_eq!(sorted, want);

    // The TCP service had three connections (one to each of three destinations).
    let web_stats = got
        .iter()
        .find_map(|r| match r {
            Reply::Service(s) if s.service.key == web() => Some(s.stats),
            _ => None,
        })
        .expect("web");
    assert_eq!(
        (web_stats.conns, web_stats.inpkts, web_stats.inbytes),
        (3, 3, 180)
    );

    // Destinations: each dump in the order of the requests, ended by NLMSG_DONE.
    let mut dumps: Vec<Vec<Destination>> = vec![Vec::new()];
    let mut active = 0;
    // ipvsadm asks its dumps with NLM_F_ACK: after each NLMSG_DONE, Linux 6.1 sends
    // an ACK as well (we do not ask for it).
    for r in got.iter().skip_while(|r| !matches!(r, Reply::Done)).skip(1) {
        match r {
            Reply::Ack => {}
            Reply::Dest(d) => {
                active += d.active_conns;
                dumps.last_mut().expect("dump").push(d.dest.clone());
            }
            Reply::Done => dumps.push(Vec::new()),
            other => panic!("{other:?}"),
        }
    }
    dumps.pop();
    assert_eq!(dumps.len(), 8);
    assert_eq!(active, 3);
    let dests_of = |k: ServiceKey| -> Vec<Destination> {
        let mut v: Vec<Destination> = expected_requests()
            .into_iter()
            .filter_map(|(l, r)| match r {
                Request::Op(Op::AddDest(s, d)) if s == k && l.starts_with("add-dest") => Some(d),
                _ => None,
            })
            .collect();
        v.sort_by_key(|d| d.key);
        v
    };
    let mut first = dumps[0].clone();
    first.sort_by_key(|d| d.key);
    assert_eq!(first, dests_of(web()));
    let mut fwm6 = dumps[7].clone();
    fwm6.sort_by_key(|d| d.key);
    assert_eq!(fwm6[0], dests_of(FWM6)[0]);
    assert_eq!(fwm6[1].key.addr, ip("fc00::9"));

    // --stats reads the same table.
    let again: Vec<Reply> = replies(exchange(&x, "list-stats"), fam)
        .into_iter()
        .map(no_stats)
        .collect();
    let first: Vec<Reply> = got.into_iter().map(no_stats).collect();
    assert_eq!(again, first);
}

/// Deconstruct: errors (IPVS gives no extended-ACK text), timeouts, sync daemons.
#[test]
fn parse_errors_config_and_daemons() {
    let x = load();
    let fam = family_id(&x);
    for (label, errno) in [
        ("err-eexist", 17),
        ("err-no-sched", 2),
        ("err-enoent-dest", 2),
    ] {
        let got = replies(exchange(&x, label), fam);
        assert_eq!(
            got.last(),
            Some(&Reply::Error {
                errno,
                message: None
            }),
            "{label}"
        );
    }
    let got = replies(exchange(&x, "get-timeouts"), fam);
    assert!(got.contains(&Reply::Config(Timeouts {
        tcp: 900,
        tcp_fin: 120,
        udp: 300
    })));
    let daemons: Vec<SyncDaemon> = replies(exchange(&x, "get-daemons"), fam)
        .into_iter()
        .filter_map(|r| match r {
            Reply::Daemon(d) => Some(d),
            _ => None,
        })
        .collect();
    assert_eq!(
        daemons,
        vec![
            SyncDaemon {
                state: SyncState::Master,
                ifname: "d0".into(),
                syncid: 7,
                sync_maxlen: Some(1472),
                mcast_group: Some(ip("224.0.0.81")),
                mcast_port: Some(8848),
                mcast_ttl: Some(1),
            },
            backup_daemon()
        ]
    );
}

/// Deconstruct the framing itself: a dump part holds several messages, each with
/// NLM_F_MULTI and the request's sequence number.
#[test]
fn a_dump_part_is_many_messages() {
    let x = load();
    let fam = family_id(&x);
    let e = exchange(&x, "list");
    let req_seq = requests(e, fam)[1].0;
    let part: Vec<Received> = e
        .replies
        .iter()
        .flat_map(|r| decode(r, fam).map(|m| m.expect("framing")))
        .filter(|m| matches!(m.reply, Ok(Reply::Service(_))))
        .collect();
    assert_eq!(part.len(), 8);
    assert!(part.iter().all(|m| m.flags & 0x2 != 0 && m.seq == req_seq));
}
