//! A minimal reader for classic libpcap files (what `tcpdump -w` writes), and the
//! decoding of the VRRP adverts in captured Ethernet frames with keepup-wire.
//!
//! File format: a 24-octet global header (magic `a1b2c3d4` for microsecond or
//! `a1b23c4d` for nanosecond timestamps, in the writer's byte order; version; zone;
//! sigfigs; snaplen; link type), then records of a 16-octet header (seconds,
//! fraction, captured length, original length) and the captured octets.
use std::net::{IpAddr, Ipv6Addr};
use std::path::Path;
use std::time::Duration;

use keepup_wire::{ipv4, vrrp, MacAddr};

use super::{Error, Result};

/// LINKTYPE_ETHERNET.
pub const LINKTYPE_ETHERNET: u32 = 1;

/// One captured packet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Packet {
    /// Capture time, since the Unix epoch.
    pub ts: Duration,
    /// Length on the wire (`data` may be shorter if the snap length cut it).
    pub orig_len: u32,
    pub data: Vec<u8>,
}

/// A whole capture file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pcap {
    pub linktype: u32,
    pub snaplen: u32,
    pub packets: Vec<Packet>,
}

/// Parse a classic pcap file. A record cut short at the end (a writer still busy, or
/// killed) ends the list without an error.
pub fn parse(bytes: &[u8]) -> Result<Pcap> {
    let bad = |detail: &str| Error::Parse {
        what: "pcap".into(),
        detail: detail.into(),
    };
    let magic: [u8; 4] = bytes
        .get(..4)
        .and_then(|m| m.try_into().ok())
        .ok_or_else(|| bad("shorter than its magic number"))?;
    let (big, nanos) = match magic {
        [0xd4, 0xc3, 0xb2, 0xa1] => (false, false),
        [0xa1, 0xb2, 0xc3, 0xd4] => (true, false),
        [0x4d, 0x3c, 0xb2, 0xa1] => (false, true),
        [0xa1, 0xb2, 0x3c, 0x4d] => (true, true),
        [0x0a, 0x0d, 0x0d, 0x0a] => {
            return Err(bad("pcapng is not read here (tcpdump -w writes pcap)"))
        }
        _ => return Err(bad("not a pcap file (unknown magic number)")),
    };
    let u32_at = |off: usize| -> Option<u32> {
        let b: [u8; 4] = bytes.get(off..off + 4)?.try_into().ok()?;
        Some(if big {
            u32::from_be_bytes(b)
        } else {
            u32::from_le_bytes(b)
        })
    };
    let snaplen = u32_at(16).ok_or_else(|| bad("global header truncated"))?;
    let linktype = u32_at(20).ok_or_else(|| bad("global header truncated"))?;
    let mut packets = Vec::new();
    let mut off = 24;
    while let (Some(sec), Some(frac), Some(incl), Some(orig)) = (
        u32_at(off),
        u32_at(off + 4),
        u32_at(off + 8),
        u32_at(off + 12),
    ) {
        let start = off + 16;
        let Some(data) = bytes.get(start..start + incl as usize) else {
            break;
        };
        let sub = if nanos {
            Duration::from_nanos(u64::from(frac))
        } else {
            Duration::from_micros(u64::from(frac))
        };
        packets.push(Packet {
            ts: Duration::from_secs(u64::from(sec)) + sub,
            orig_len: orig,
            data: data.to_vec(),
        });
        off = start + incl as usize;
    }
    Ok(Pcap {
        linktype,
        snaplen,
        packets,
    })
}

/// Read and parse a pcap file.
pub fn read(path: &Path) -> Result<Pcap> {
    let bytes = std::fs::read(path).map_err(|source| Error::Io {
        what: format!("read {}", path.display()),
        source,
    })?;
    parse(&bytes)
}

const ETHERTYPE_IPV4: u16 = 0x0800;
const ETHERTYPE_IPV6: u16 = 0x86dd;
const ETHERTYPE_VLAN: u16 = 0x8100;

/// A VRRP advert found in an Ethernet frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VrrpFrame {
    pub ts: Duration,
    pub src_mac: MacAddr,
    pub dst_mac: MacAddr,
    pub src: IpAddr,
    pub dst: IpAddr,
    /// IPv4 TTL or IPv6 hop limit (255 when sent as RFC 3768/5798 require).
    pub ttl: u8,
    /// Carried in IPsec AH (keepalived's `auth_type AH`). The ICV is not checked.
    pub ah: bool,
    /// The advert, parsed and validated by keepup-wire (checksum included).
    pub repr: vrrp::Repr,
}

impl Packet {
    /// The Ethernet type and payload (one 802.1Q tag skipped).
    pub fn ethernet(&self) -> Option<(MacAddr, MacAddr, u16, &[u8])> {
        let d = &self.data;
        let mac = |r: std::ops::Range<usize>| -> Option<MacAddr> {
            Some(MacAddr(d.get(r)?.try_into().ok()?))
        };
        let (dst, src) = (mac(0..6)?, mac(6..12)?);
        let mut et = u16::from_be_bytes([*d.get(12)?, *d.get(13)?]);
        let mut off = 14;
        if et == ETHERTYPE_VLAN {
            et = u16::from_be_bytes([*d.get(16)?, *d.get(17)?]);
            off = 18;
        }
        Some((dst, src, et, d.get(off..)?))
    }

    /// The VRRP advert in this frame (IPv4, possibly in AH, or IPv6 without extension
    /// headers), if it is one that keepup-wire accepts.
    pub fn vrrp(&self) -> Option<VrrpFrame> {
        let (dst_mac, src_mac, et, payload) = self.ethernet()?;
        let (src, dst, ttl, ah, msg) = match et {
            ETHERTYPE_IPV4 => {
                let a = ipv4::parse_advert(payload).ok()?;
                (
                    IpAddr::V4(a.src),
                    IpAddr::V4(a.dst),
                    a.ttl,
                    a.ah.is_some(),
                    a.vrrp,
                )
            }
            ETHERTYPE_IPV6 => {
                if payload.first()? >> 4 != 6 || *payload.get(6)? != vrrp::PROTOCOL {
                    return None;
                }
                let len = usize::from(u16::from_be_bytes([*payload.get(4)?, *payload.get(5)?]));
                let addr = |r: std::ops::Range<usize>| -> Option<Ipv6Addr> {
                    let o: [u8; 16] = payload.get(r)?.try_into().ok()?;
                    Some(Ipv6Addr::from(o))
                };
                (
                    IpAddr::V6(addr(8..24)?),
                    IpAddr::V6(addr(24..40)?),
                    *payload.get(7)?,
                    false,
                    payload.get(40..40 + len)?,
                )
            }
            _ => return None,
        };
        let packet = vrrp::Packet::new_checked(msg, src.is_ipv6()).ok()?;
        let (repr, _) = vrrp::Repr::parse(&packet, vrrp::IpPair { src, dst }).ok()?;
        Some(VrrpFrame {
            ts: self.ts,
            src_mac,
            dst_mac,
            src,
            dst,
            ttl,
            ah,
            repr,
        })
    }
}

/// The VRRP adverts among `packets` (Ethernet frames), in capture order.
pub fn vrrp_adverts(packets: &[Packet]) -> Vec<VrrpFrame> {
    packets.iter().filter_map(Packet::vrrp).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    /// A v2 advert (VRID 51, priority 150, 1 s, no auth, VIP 10.9.0.100) built with
    /// keepup-wire in keepalived's IPv4 header shape, in an Ethernet frame from
    /// 02:6b:75:00:01:00. (Real keepalived frames are decoded by tests/lab.rs.)
    fn advert_frame() -> Vec<u8> {
        let vrrp_msg = {
            let repr = vrrp::Repr {
                version: vrrp::Version::V2,
                vrid: 51,
                priority: 150,
                interval: 1,
                auth_type: vrrp::AuthType::None,
                auth_data: [0; 8],
                addresses: vec![IpAddr::V4(Ipv4Addr::new(10, 9, 0, 100))],
            };
            let mut buf = vec![0; repr.buffer_len()];
            let ip = vrrp::IpPair {
                src: Ipv4Addr::new(10, 9, 0, 1).into(),
                dst: vrrp::MCAST_V4.into(),
            };
            repr.emit(&mut buf, ip, vrrp::ChecksumForm::PseudoHeader)
                .expect("emit");
            buf
        };
        let header = ipv4::Repr {
            src: Ipv4Addr::new(10, 9, 0, 1),
            dst: vrrp::MCAST_V4,
            protocol: vrrp::PROTOCOL,
            ttl: 255,
            ident: 1,
            tos: 0xc0,
            payload_len: 0,
        };
        let ip = ipv4::emit_advert(header, None, &vrrp_msg);
        let mut frame = vec![0x01, 0x00, 0x5e, 0x00, 0x00, 0x12];
        frame.extend_from_slice(&[0x02, 0x6b, 0x75, 0x00, 0x01, 0x00]);
        frame.extend_from_slice(&ETHERTYPE_IPV4.to_be_bytes());
        frame.extend_from_slice(&ip);
        frame
    }

    fn file(big: bool, nanos: bool, records: &[(u32, u32, &[u8])]) -> Vec<u8> {
        let put = |v: &mut Vec<u8>, x: u32| {
            v.extend_from_slice(&if big {
                x.to_be_bytes()
            } else {
                x.to_le_bytes()
            })
        };
        let mut v = Vec::new();
        put(&mut v, if nanos { 0xa1b2_3c4d } else { 0xa1b2_c3d4 });
        let (major, minor) = (2u16, 4u16);
        if big {
            v.extend_from_slice(&major.to_be_bytes());
            v.extend_from_slice(&minor.to_be_bytes());
        } else {
            v.extend_from_slice(&major.to_le_bytes());
            v.extend_from_slice(&minor.to_le_bytes());
        }
        put(&mut v, 0);
        put(&mut v, 0);
        put(&mut v, 262_144);
        put(&mut v, LINKTYPE_ETHERNET);
        for (sec, frac, data) in records {
            put(&mut v, *sec);
            put(&mut v, *frac);
            put(&mut v, data.len() as u32);
            put(&mut v, data.len() as u32);
            v.extend_from_slice(data);
        }
        v
    }

    #[test]
    fn reads_both_byte_orders_and_resolutions() {
        for (big, nanos) in [(false, false), (true, false), (false, true), (true, true)] {
            let f = file(big, nanos, &[(10, 500, b"abc"), (11, 0, b"")]);
            let p = parse(&f).expect("parse");
            assert_eq!(p.linktype, LINKTYPE_ETHERNET);
            assert_eq!(p.snaplen, 262_144);
            assert_eq!(p.packets.len(), 2);
            let sub = if nanos {
                Duration::from_nanos(500)
            } else {
                Duration::from_micros(500)
            };
            assert_eq!(p.packets[0].ts, Duration::from_secs(10) + sub);
            assert_eq!(p.packets[0].data, b"abc");
            assert_eq!(p.packets[1].data, b"");
        }
    }

    #[test]
    fn a_truncated_last_record_ends_the_list() {
        let f = file(false, false, &[(1, 0, b"first"), (2, 0, b"second")]);
        for cut in 24..f.len() {
            let p = parse(&f[..cut]).expect("parse");
            assert!(p.packets.len() <= 1 || cut == f.len());
        }
        assert_eq!(parse(&f).expect("parse").packets.len(), 2);
    }

    #[test]
    fn refuses_what_is_not_pcap() {
        assert!(parse(b"").is_err());
        assert!(parse(b"\x0a\x0d\x0d\x0a....").is_err());
        assert!(parse(b"GIF89a..................").is_err());
        assert!(parse(&file(false, false, &[])[..20]).is_err());
    }

    #[test]
    fn decodes_a_vrrp_v2_advert_from_an_ethernet_frame() {
        let frame = advert_frame();
        let f = file(false, false, &[(5, 0, &frame), (6, 0, &frame[..20])]);
        let p = parse(&f).expect("parse");
        let adverts = vrrp_adverts(&p.packets);
        assert_eq!(adverts.len(), 1, "the cut frame is not an advert");
        let a = &adverts[0];
        assert_eq!(a.ts, Duration::from_secs(5));
        assert_eq!(a.src, IpAddr::V4(Ipv4Addr::new(10, 9, 0, 1)));
        assert_eq!(a.dst, IpAddr::V4(vrrp::MCAST_V4));
        assert_eq!(a.ttl, 255);
        assert!(!a.ah);
        assert_eq!(a.src_mac, MacAddr([0x02, 0x6b, 0x75, 0x00, 0x01, 0x00]));
        assert_eq!((a.repr.vrid, a.repr.priority), (51, 150));
        assert_eq!(
            a.repr.addresses,
            vec![IpAddr::V4(Ipv4Addr::new(10, 9, 0, 100))]
        );
    }

    #[test]
    fn decoding_random_bytes_never_panics() {
        let mut rng = crate::SplitMix64::new(7);
        let frame = advert_frame();
        for _ in 0..20_000 {
            let mut data = frame.clone();
            let n = (rng.next_u64() % data.len() as u64) as usize;
            data.truncate(n.max(1));
            let i = (rng.next_u64() % data.len() as u64) as usize;
            data[i] ^= rng.next_u64() as u8;
            let p = Packet {
                ts: Duration::ZERO,
                orig_len: 0,
                data,
            };
            let _ = p.vrrp();
        }
    }
}
