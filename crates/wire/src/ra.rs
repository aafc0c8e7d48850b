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
use crate::icmp6::{self, Headers};
use crate::ndisc::{ALL_NODES, ALL_NODES_MAC};
use crate::{bytes, Error, MacAddr};
use std::net::Ipv6Addr;

/// ICMPv6 type of a router solicitation.
pub const TYPE_RS: u8 = 133;
/// ICMPv6 type of a router advertisement.
pub const TYPE_RA: u8 = 134;
/// NDP option type: source link-layer address.
pub const OPT_SOURCE_LLADDR: u8 = 1;

/// ICMPv6 RA without options.
const RA_LEN: usize = 16;
const OPT_LLADDR_LEN: usize = 8;

/// Offsets in the ICMPv6 message.
mod field {
    pub const TYPE: usize = 0;
    pub const CUR_HOP_LIMIT: usize = 4;
    pub const FLAGS: usize = 5;
    pub const LIFETIME: usize = 6;
    pub const OPTIONS: usize = 16;
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
        let (h, icmp) =
            Headers::parse(frame, TYPE_RA, RA_LEN, "ICMPv6 message shorter than an RA")?;
        let source_mac =
            icmp6::lladdr_option(icmp.get(RA_LEN..).unwrap_or(&[]), OPT_SOURCE_LLADDR)?;
        Ok(Repr {
            eth_src: h.eth_src,
            eth_dst: h.eth_dst,
            src: h.src,
            dst: h.dst,
            hop_limit: h.hop_limit,
            lifetime: bytes::be16(icmp, field::LIFETIME),
            source_mac,
        })
    }

    pub fn buffer_len(&self) -> usize {
        let opt = if self.source_mac.is_some() {
            OPT_LLADDR_LEN
        } else {
            0
        };
        icmp6::ICMP + RA_LEN + opt
    }

    /// The whole frame with the ICMPv6 checksum.
    pub fn emit(&self) -> Vec<u8> {
        let mut f = vec![0u8; self.buffer_len()];
        let m = f.get_mut(icmp6::ICMP..).unwrap_or_default();
        bytes::put_u8(m, field::TYPE, TYPE_RA);
        // Cur Hop Limit, M|O flags, Reachable Time and Retrans Timer: 0 (unspecified).
        bytes::put_u8(m, field::CUR_HOP_LIMIT, 0);
        bytes::put_u8(m, field::FLAGS, 0);
        bytes::put_be16(m, field::LIFETIME, self.lifetime);
        if let Some(mac) = self.source_mac {
            bytes::put_u8(m, field::OPTIONS, OPT_SOURCE_LLADDR);
            bytes::put_u8(m, field::OPTIONS + 1, 1);
            bytes::put(m, field::OPTIONS + 2, &mac.0);
        }
        Headers {
            eth_src: self.eth_src,
            eth_dst: self.eth_dst,
            src: self.src,
            dst: self.dst,
            hop_limit: self.hop_limit,
        }
        .finish(&mut f);
        f
    }
}

/// Whether an ICMPv6 message (as a raw ICMPv6 socket delivers it: the kernel has
/// checked its checksum) that arrived with `hop_limit` is a valid Router Solicitation
/// (RFC 4861 §6.1.1: hop limit 255, type 133, code 0, at least 8 octets).
pub fn valid_solicitation(message: &[u8], hop_limit: u8) -> bool {
    hop_limit == 255
        && message.len() >= 8
        && message.first() == Some(&TYPE_RS)
        && message.get(1) == Some(&0)
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
        f[icmp6::ICMP + field::LIFETIME] ^= 1;
        assert!(Repr::parse(&f).is_err());
        let f = fixture();
        assert!(
            !valid_solicitation(&f[icmp6::ICMP..], 255),
            "an RA is not an RS"
        );
        for n in 0..f.len() {
            assert!(Repr::parse(&f[..n]).is_err());
        }
    }

    #[test]
    fn solicitation_is_recognised() {
        // An RS with a source link-layer option, as the socket hands it over.
        let m = hex("8500000000000000" /* type, code, checksum, reserved */);
        assert!(valid_solicitation(&m, 255));
        assert!(!valid_solicitation(&m, 64), "hop limit below 255");
        assert!(!valid_solicitation(&m[..7], 255), "shorter than 8 octets");
        let mut coded = m.clone();
        coded[1] = 1;
        assert!(!valid_solicitation(&coded, 255), "code 1");
    }
}
