//! A driver on virtual time for one `Router`, and builders for the adverts a peer
//! would send. Shared by the rule tests.
#![allow(dead_code, clippy::unwrap_used)]

use keepup_vrrp::{
    Auth, IfIndex, Input, InstanceConfig, InstanceId, Output, Reason, Router, RxData, RxPacket,
    State, SyncGroupConfig, TrackEffect,
};
use keepup_wire::vrrp::{self, AuthType, ChecksumForm, IpPair, Version};
use keepup_wire::{ah, ipv4};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::Duration;

pub use keepup_vrrp::Instant;

pub const IF: IfIndex = IfIndex(1);
pub const ME4: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 2);
pub const PEER4: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 3);
pub const VIP4: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 100);
pub const ME6: Ipv6Addr = Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 2);
pub const PEER6: Ipv6Addr = Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 3);
pub const VLL6: Ipv6Addr = Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 0x100);
pub const VIP6: Ipv6Addr = Ipv6Addr::new(0xfd00, 0, 0, 0, 0, 0, 0, 0x100);

/// Where t(0) sits on the engine's clock: late enough that a test may start a
/// router before t(0) (see `H::started_at`).
const EPOCH_SECS: f64 = 100.0;

pub fn t(secs: f64) -> Instant {
    Instant::from_nanos(((EPOCH_SECS + secs) * 1e9).round() as u64)
}

/// Master_Down_Interval at start (the configured interval, no trackers), as the
/// engine arms it for a Backup (INI-02).
pub fn down_interval(c: &InstanceConfig) -> Duration {
    let base = match c.version {
        Version::V2 => Duration::from_secs(1),
        Version::V3 => c.advert_int,
    };
    c.advert_int * c.down_timer_adverts.max(1) + base * (256 - u32::from(c.priority)) / 256
}

pub fn ns(n: u64) -> Duration {
    Duration::from_nanos(n)
}

/// VRRPv2, VRID 51, 10.0.0.100, source 10.0.0.2.
pub fn v2(priority: u8) -> InstanceConfig {
    let mut c = InstanceConfig::new("VI_1", 51, IF, vec![IpAddr::V4(VIP4)]);
    c.priority = priority;
    c.source = Some(IpAddr::V4(ME4));
    c
}

/// VRRPv3 over IPv4, 1 s.
pub fn v3(priority: u8) -> InstanceConfig {
    let mut c = v2(priority);
    c.version = Version::V3;
    c
}

/// VRRPv3 over IPv6: link-local VIP first, then a global one.
pub fn v3_6(priority: u8) -> InstanceConfig {
    let mut c = InstanceConfig::new("VI_6", 51, IF, vec![IpAddr::V6(VLL6), IpAddr::V6(VIP6)]);
    c.priority = priority;
    c.source = Some(IpAddr::V6(ME6));
    c
}

/// What a peer puts in its advert.
#[derive(Clone, Debug)]
pub struct Peer {
    pub src: IpAddr,
    pub dst: IpAddr,
    pub ttl: u8,
    pub repr: vrrp::Repr,
    pub form: ChecksumForm,
    /// AH key and sequence number (v2 / IPv4 only).
    pub ah: Option<(Vec<u8>, u32)>,
}

impl Peer {
    /// The advert a correctly configured peer of `cfg` sends with `priority`.
    pub fn of(cfg: &InstanceConfig, priority: u8) -> Peer {
        let v6 = cfg.is_v6();
        let interval = match cfg.version {
            Version::V2 => u16::try_from(cfg.advert_int.as_secs()).unwrap(),
            Version::V3 => u16::try_from(cfg.advert_int.as_millis() / 10).unwrap(),
        };
        let (auth_type, auth_data, ah) = match (&cfg.version, &cfg.auth) {
            (Version::V2, Auth::Pass(p)) => (AuthType::Pass, *p, None),
            (Version::V2, Auth::Ah(k)) => (AuthType::Ah, [0; 8], Some((k.clone(), 1))),
            _ => (AuthType::None, [0; 8], None),
        };
        Peer {
            src: if v6 {
                IpAddr::V6(PEER6)
            } else {
                IpAddr::V4(PEER4)
            },
            dst: if v6 {
                IpAddr::V6(vrrp::MCAST_V6)
            } else {
                IpAddr::V4(vrrp::MCAST_V4)
            },
            ttl: 255,
            repr: vrrp::Repr {
                version: cfg.version,
                vrid: cfg.vrid,
                priority,
                interval,
                auth_type,
                auth_data,
                addresses: cfg.vips.clone(),
            },
            form: ChecksumForm::PseudoHeader,
            ah,
        }
    }

    pub fn from(mut self, src: IpAddr) -> Peer {
        self.src = src;
        self
    }

    /// The bytes a socket would deliver: IPv4 with its header, IPv6 the message.
    pub fn bytes(&self) -> Vec<u8> {
        let msg = self
            .repr
            .to_bytes(
                IpPair {
                    src: self.src,
                    dst: self.dst,
                },
                self.form,
            )
            .unwrap();
        self.wrap(msg)
    }

    /// The advert with `f` applied to its message, then the checksum recomputed
    /// (`fix = false` keeps the checksum as it was).
    pub fn mangled(&self, fix: bool, f: impl FnOnce(&mut Vec<u8>)) -> Vec<u8> {
        let ip = IpPair {
            src: self.src,
            dst: self.dst,
        };
        let mut msg = self.repr.to_bytes(ip, self.form).unwrap();
        f(&mut msg);
        if fix {
            let mut p = vrrp::Packet::new_unchecked(&mut msg[..]);
            p.fill_checksum(ip, self.form).unwrap();
        }
        self.wrap(msg)
    }

    /// Wrap an already built (possibly broken) VRRP message.
    pub fn wrap(&self, msg: Vec<u8>) -> Vec<u8> {
        match (self.src, self.dst) {
            (IpAddr::V4(s), IpAddr::V4(d)) => {
                let header = ipv4::Repr {
                    src: s,
                    dst: d,
                    protocol: vrrp::PROTOCOL,
                    ttl: self.ttl,
                    ident: 7,
                    tos: 0xc0,
                    payload_len: msg.len(),
                };
                match &self.ah {
                    Some((key, seq)) => ipv4::emit_advert(
                        header,
                        Some((
                            ah::Repr {
                                spi: u32::from(s),
                                seq: *seq,
                            },
                            key,
                        )),
                        &msg,
                    ),
                    None => ipv4::emit_advert(header, None, &msg),
                }
            }
            _ => msg,
        }
    }
}

/// One router on virtual time, with everything it output and when.
pub struct H {
    pub r: Router,
    pub now: Instant,
    pub log: Vec<(Instant, Output)>,
}

impl H {
    pub fn new(cfgs: Vec<InstanceConfig>) -> H {
        H::with_groups(cfgs, vec![])
    }

    pub fn with_groups(cfgs: Vec<InstanceConfig>, groups: Vec<SyncGroupConfig>) -> H {
        H {
            r: Router::new(cfgs, groups).unwrap(),
            now: t(0.0),
            log: Vec::new(),
        }
    }

    /// One instance, started at t=0.
    pub fn started(cfg: InstanceConfig) -> H {
        H::started_at(cfg, t(0.0))
    }

    /// One instance, started at `at` (which may be before t(0)).
    pub fn started_at(cfg: InstanceConfig, at: Instant) -> H {
        let mut h = H::new(vec![cfg]);
        h.now = at;
        h.input(Input::Startup);
        h
    }

    pub fn drain(&mut self) {
        while let Some(o) = self.r.poll_output() {
            self.log.push((self.now, o));
        }
    }

    pub fn input(&mut self, i: Input<'_>) {
        self.r.handle(self.now, i);
        self.drain();
    }

    /// Tracker `tracker` of instance number `instance` now has `effect`.
    pub fn track(&mut self, instance: usize, tracker: u32, effect: TrackEffect) {
        self.input(Input::Track {
            instance: InstanceId(instance),
            tracker,
            effect,
        });
    }

    /// Advance to `to`, firing every timer on the way at its own deadline.
    pub fn run_until(&mut self, to: Instant) {
        while let Some(d) = self.r.poll_timeout() {
            if d > to {
                break;
            }
            assert!(d >= self.now, "deadline {d} in the past (now {})", self.now);
            self.now = d;
            self.r.handle_timeout(d);
            self.drain();
        }
        self.now = to;
    }

    pub fn run_for(&mut self, d: Duration) {
        let to = self.now + d;
        self.run_until(to);
    }

    /// Deliver `peer`'s advert now.
    pub fn rx(&mut self, peer: &Peer) {
        let bytes = peer.bytes();
        self.rx_bytes(peer, &bytes);
    }

    /// Deliver raw bytes as if from `peer` (its addresses and hop limit).
    pub fn rx_bytes(&mut self, peer: &Peer, bytes: &[u8]) {
        let data = match (peer.src, peer.dst) {
            (IpAddr::V6(src), IpAddr::V6(dst)) => RxData::V6 {
                src,
                dst,
                hop_limit: peer.ttl,
                vrrp: bytes,
            },
            _ => RxData::V4(bytes),
        };
        self.input(Input::Packet(RxPacket {
            interface: IF,
            data,
        }));
    }

    pub fn state(&self) -> State {
        self.r.state(InstanceId(0))
    }

    pub fn counters(&self) -> keepup_vrrp::Counters {
        *self.r.counters(InstanceId(0))
    }

    /// Outputs since index `from` of the log.
    pub fn since(&self, from: usize) -> Vec<&Output> {
        self.log[from..].iter().map(|(_, o)| o).collect()
    }

    pub fn mark(&self) -> usize {
        self.log.len()
    }

    /// (time, from, to, reason) of every transition.
    pub fn transitions(&self) -> Vec<(Instant, State, State, Reason)> {
        self.log
            .iter()
            .filter_map(|(t, o)| match o {
                Output::Transition {
                    from, to, reason, ..
                } => Some((*t, *from, *to, *reason)),
                _ => None,
            })
            .collect()
    }

    /// The instants adverts left, with the priority they carried.
    pub fn adverts(&self) -> Vec<(Instant, u8)> {
        self.log
            .iter()
            .filter_map(|(t, o)| match o {
                Output::Advert(a) => Some((*t, advert_priority(&a.packet, a.dst))),
                _ => None,
            })
            .collect()
    }

    /// The first advert sent (panics if none was).
    pub fn first_advert(&self) -> keepup_vrrp::TxAdvert {
        self.log
            .iter()
            .find_map(|(_, o)| match o {
                Output::Advert(a) => Some(a.clone()),
                _ => None,
            })
            .expect("an advert was sent")
    }

    pub fn adverts_since(&self, from: usize) -> usize {
        self.since(from)
            .iter()
            .filter(|o| matches!(o, Output::Advert(_)))
            .count()
    }

    pub fn events_since(&self, from: usize) -> Vec<keepup_vrrp::Event> {
        self.since(from)
            .into_iter()
            .filter_map(|o| match o {
                Output::Event(e) => Some(e.clone()),
                _ => None,
            })
            .collect()
    }
}

/// The priority octet of a sent advert (IPv4: after the IP header and any AH).
pub fn advert_priority(packet: &[u8], dst: IpAddr) -> u8 {
    let msg = match dst {
        IpAddr::V4(_) => ipv4::parse_advert(packet).unwrap().vrrp.to_vec(),
        IpAddr::V6(_) => packet.to_vec(),
    };
    msg[2]
}

/// Parse a sent advert back (IPv4 with its header, IPv6 from `src`).
pub fn parse_sent(a: &keepup_vrrp::TxAdvert, src: IpAddr) -> vrrp::Repr {
    let (msg, src) = match a.dst {
        IpAddr::V4(_) => {
            let p = ipv4::parse_advert(&a.packet).unwrap();
            (p.vrrp.to_vec(), IpAddr::V4(p.src))
        }
        IpAddr::V6(_) => (a.packet.clone(), src),
    };
    let pkt = vrrp::Packet::new_checked(&msg[..], src.is_ipv6()).unwrap();
    vrrp::Repr::parse(&pkt, IpPair { src, dst: a.dst })
        .unwrap()
        .0
}
