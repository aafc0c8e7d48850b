//! IPv6 Router Advertisement (RFC 4861 §4.2) for a virtual router, as a whole
//! Ethernet frame, and the Router Solicitation a host sends to ask for one (§4.1).
//!
//! RFC 9568 §6.4.3 (ledger ARP-07): an IPv6 Active sends Router Advertisements for
//! the virtual router, from its virtual link-local address and with the virtual MAC
//! in the source link-layer address option, so that hosts learn the virtual router as
//! their default router; a Backup never does (BKP-03). keepalived sends none.
//!
//! What keepup sends: to all-nodes (ff02::1, 33:33:00:00:00:01), hop limit 255, Cur
//! Hop Limit 0 (unspecified: hosts keep theirs), M = O = 0, the router lifetime,
//! Reachable Time and Retrans Timer 0 (unspecified), one source link-layer address
//! option, and no prefix information (a failover must not make hosts autoconfigure
//! addresses). 78 octets in all.
//!
//! ```text
//! Ethernet 14 | IPv6 40 (next header 58) | ICMPv6 type 134, code 0, checksum,
//! cur hop limit, M|O, router lifetime (2), reachable time (4), retrans timer (4)
//! | option type 1, length 1, MAC (6)
//! ```
use crate::ndisc::{ALL_NODES, ALL_NODES_MAC, ETHERTYPE, ICMPV6};
use crate::{bytes, checksum, Error, MacAddr};
use std::net::Ipv6Addr;

/// ICMPv6 type of a router solicitation.
pub const TYPE_RS: u8 = 133;
/// ICMPv6 type of a router advertisement.
pub const TYPE_RA: u8 = 134;
/// NDP option type: source link-layer address.
pub const OPT_SOURCE_LLADDR: u8 = 1;

const ETH_LEN: usize = 14;
const IPV6_LEN: usize = 40;
/// ICMPv6 RA without options.
const RA_LEN: usize = 16;
const OPT_LLADDR_LEN: usize = 8;

mod field {
    pub const ETH_DST: usize = 0;
    pub const ETH_SRC: usize = 6;
    pub const ETHERTYPE: usize = 12;
    pub const VER_TC_FLOW: usize = 14;
    pub const PAYLOAD_LEN: usize = 18;
    pub const NEXT_HEADER: usize = 20;
    pub const HOP_LIMIT: usize = 21;
    pub const SRC: usize = 22;
    pub const DST: usize = 38;
    pub const ICMP: usize = 54;
    pub const TYPE: usize = 54;
    pub const CODE: usize = 55;
    pub const CHECKSUM: usize = 56;
    pub const CUR_HOP_LIMIT: usize = 58;
    pub const FLAGS: usize = 59;
    pub const LIFETIME: usize = 60;
    pub const REACHABLE: usize = 62;
    pub const RETRANS: usize = 66;
    pub const OPTIONS: usize = 70;
}

/// A router advertisement with its IPv6 and Ethernet headers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Repr {
    pub eth_src: MacAddr,
    pub eth_dst: MacAddr,
    pub src: Ipv6Addr,
    pub dst: Ipv6Addr,
    pub hop_limit: u8,
    /// Router Lifetime in seconds (0: not a default router).
    pub lifetime: u16,
    /// Source link-layer address option.
    pub source_mac: Option<MacAddr>,
}

fn v6_at(b: &[u8], at: usize) -> Ipv6Addr {
    Ipv6Addr::from(bytes::array::<16>(b, at))
}

impl Repr {
    /// The advertisement of a virtual router whose link-local address is `src`,
    /// sent from `mac`, valid as a default router for `lifetime` seconds.
    pub fn virtual_router(mac: MacAddr, src: Ipv6Addr, lifetime: u16) -> Repr {
        Repr {
            eth_src: mac,
            eth_dst: ALL_NODES_MAC,
            src,
            dst: ALL_NODES,
            hop_limit: 255,
            lifetime,
            source_mac: Some(mac),
        }
    }

    /// Parse a whole frame, verifying the ICMPv6 checksum. No extension headers;
    /// options other than the first source link-layer address are skipped.
    pub fn parse(frame: &[u8]) -> Result<Repr, Error> {
        let icmp = icmpv6(frame, TYPE_RA, RA_LEN)?;
        let mut source_mac = None;
        let mut opts = icmp.get(RA_LEN..).unwrap_or(&[]);
        while !opts.is_empty() {
            let kind = bytes::u8_at(opts, 0);
            let len = usize::from(bytes::u8_at(opts, 1)) * 8;
            if len == 0 {
                return Err(Error::Frame("NDP option of length 0"));
            }
            let opt = opts.get(..len).ok_or(Error::Frame("NDP option overruns"))?;
            if kind == OPT_SOURCE_LLADDR && len == OPT_LLADDR_LEN && source_mac.is_none() {
                source_mac = Some(MacAddr(bytes::array(opt, 2)));
            }
            opts = opts.get(len..).unwrap_or(&[]);
        }
        Ok(Repr {
            eth_src: MacAddr(bytes::array(frame, field::ETH_SRC)),
            eth_dst: MacAddr(bytes::array(frame, field::ETH_DST)),
            src: v6_at(frame, field::SRC),
            dst: v6_at(frame, field::DST),
            hop_limit: bytes::u8_at(frame, field::HOP_LIMIT),
            lifetime: bytes::be16(frame, field::LIFETIME),
            source_mac,
        })
    }

    pub fn buffer_len(&self) -> usize {
        let opt = if self.source_mac.is_some() {
            OPT_LLADDR_LEN
        } else {
            0
        };
        ETH_LEN + IPV6_LEN + RA_LEN + opt
    }

    /// The whole frame with the ICMPv6 checksum.
    pub fn emit(&self) -> Vec<u8> {
        let mut f = vec![0u8; self.buffer_len()];
        let plen = self.buffer_len() - ETH_LEN - IPV6_LEN;
        bytes::put(&mut f, field::ETH_DST, &self.eth_dst.0);
        bytes::put(&mut f, field::ETH_SRC, &self.eth_src.0);
        bytes::put_be16(&mut f, field::ETHERTYPE, ETHERTYPE);
        bytes::put_u8(&mut f, field::VER_TC_FLOW, 0x60);
        bytes::put_be16(&mut f, field::PAYLOAD_LEN, plen as u16);
        bytes::put_u8(&mut f, field::NEXT_HEADER, ICMPV6);
        bytes::put_u8(&mut f, field::HOP_LIMIT, self.hop_limit);
        bytes::put(&mut f, field::SRC, &self.src.octets());
        bytes::put(&mut f, field::DST, &self.dst.octets());
        bytes::put_u8(&mut f, field::TYPE, TYPE_RA);
        bytes::put_u8(&mut f, field::CUR_HOP_LIMIT, 0);
        bytes::put_u8(&mut f, field::FLAGS, 0);
        bytes::put_be16(&mut f, field::LIFETIME, self.lifetime);
        bytes::put(&mut f, field::REACHABLE, &[0; 4]);
        bytes::put(&mut f, field::RETRANS, &[0; 4]);
        if let Some(mac) = self.source_mac {
            bytes::put_u8(&mut f, field::OPTIONS, OPT_SOURCE_LLADDR);
            bytes::put_u8(&mut f, field::OPTIONS + 1, 1);
            bytes::put(&mut f, field::OPTIONS + 2, &mac.0);
        }
        let pseudo = checksum::pseudo_v6(self.src, self.dst, ICMPV6, plen as u32);
        let body = checksum::sum(f.get(field::ICMP..).unwrap_or(&[]));
        let c = checksum::finish(checksum::combine(pseudo, body));
        bytes::put_be16(&mut f, field::CHECKSUM, c);
        f
    }
}

/// Whether `frame` (Ethernet, IPv6, ICMPv6) is a valid Router Solicitation (RFC 4861
/// §6.1.1: hop limit 255, code 0, checksum right, at least 8 octets), and its source.
pub fn parse_solicitation(frame: &[u8]) -> Result<Ipv6Addr, Error> {
    icmpv6(frame, TYPE_RS, 8)?;
    if bytes::u8_at(frame, field::HOP_LIMIT) != 255 {
        return Err(Error::Frame("router solicitation with hop limit below 255"));
    }
    Ok(v6_at(frame, field::SRC))
}

/// The ICMPv6 message of `frame` if it is of type `kind`, code 0, at least `min`
/// octets and with a right checksum.
fn icmpv6(frame: &[u8], kind: u8, min: usize) -> Result<&[u8], Error> {
    let need = field::ICMP + min;
    if frame.len() < need {
        return Err(Error::Truncated {
            have: frame.len(),
            need,
        });
    }
    if bytes::be16(frame, field::ETHERTYPE) != ETHERTYPE {
        return Err(Error::Frame("EtherType is not IPv6"));
    }
    if bytes::u8_at(frame, field::VER_TC_FLOW) >> 4 != 6 {
        return Err(Error::Frame("IP version is not 6"));
    }
    if bytes::u8_at(frame, field::NEXT_HEADER) != ICMPV6 {
        return Err(Error::Frame("next header is not ICMPv6"));
    }
    let plen = usize::from(bytes::be16(frame, field::PAYLOAD_LEN));
    if plen < min {
        return Err(Error::Frame("ICMPv6 message too short"));
    }
    let end = field::ICMP + plen;
    let icmp = frame.get(field::ICMP..end).ok_or(Error::Truncated {
        have: frame.len(),
        need: end,
    })?;
    if bytes::u8_at(frame, field::TYPE) != kind || bytes::u8_at(frame, field::CODE) != 0 {
        return Err(Error::Frame("not the ICMPv6 message expected"));
    }
    let src = v6_at(frame, field::SRC);
    let dst = v6_at(frame, field::DST);
    let pseudo = checksum::pseudo_v6(src, dst, ICMPV6, plen as u32);
    if checksum::finish(checksum::combine(pseudo, checksum::sum(icmp))) != 0 {
        return Err(Error::Frame("ICMPv6 checksum"));
    }
    Ok(icmp)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hex;

    const MAC: MacAddr = MacAddr([0x00, 0x00, 0x5e, 0x00, 0x02, 0x3d]);

    /// An RA from fe80::100 with lifetime 1800, as keepup emits it; the checksum
    /// (0x12e2) was computed apart from this crate (RFC 1071 over the pseudo-header
    /// and the message, in a few lines of Python).
    const FRAME: &str = concat!(
        "333300000001",
        "00005e00023d",
        "86dd",
        "60000000",
        "0018",
        "3a",
        "ff",
        "fe800000000000000000000000000100",
        "ff020000000000000000000000000001",
        "86",
        "00",
        "12e2",
        "00",
        "00",
        "0708",
        "00000000",
        "00000000",
        "01",
        "01",
        "00005e00023d",
    );

    fn fixture() -> Vec<u8> {
        hex(FRAME)
    }

    #[test]
    fn construct_and_parse() {
        let r = Repr::virtual_router(MAC, "fe80::100".parse().unwrap(), 1800);
        let f = r.emit();
        assert_eq!(f.len(), 78);
        assert_eq!(f, fixture());
        assert_eq!(Repr::parse(&f).unwrap(), r);
    }

    #[test]
    fn checksum_and_type_are_checked() {
        let mut f = fixture();
        f[field::LIFETIME] ^= 1;
        assert!(Repr::parse(&f).is_err());
        let f = fixture();
        assert!(parse_solicitation(&f).is_err(), "an RA is not an RS");
        for n in 0..f.len() {
            assert!(Repr::parse(&f[..n]).is_err());
        }
    }

    #[test]
    fn solicitation_is_recognised() {
        // An RS from fe80::2 to ff02::2 with a source link-layer option.
        let src: Ipv6Addr = "fe80::2".parse().unwrap();
        let dst: Ipv6Addr = "ff02::2".parse().unwrap();
        let mut f = hex(concat!(
            "333300000002",
            "020000000002",
            "86dd",
            "60000000",
            "0010",
            "3a",
            "ff",
            "fe800000000000000000000000000002",
            "ff020000000000000000000000000002",
            "85",
            "00",
            "0000",
            "00000000",
            "01",
            "01",
            "020000000002",
        ));
        let pseudo = checksum::pseudo_v6(src, dst, ICMPV6, 16);
        let c = checksum::finish(checksum::combine(pseudo, checksum::sum(&f[54..])));
        bytes::put_be16(&mut f, field::CHECKSUM, c);
        assert_eq!(parse_solicitation(&f).unwrap(), src);
        f[field::HOP_LIMIT] = 64;
        assert!(parse_solicitation(&f).is_err());
    }
}
