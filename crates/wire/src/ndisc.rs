//! Unsolicited IPv6 neighbour advertisement (RFC 4861 §4.4, §7.2.6) for a VIP, as a
//! whole Ethernet frame: to all-nodes (ff02::1, 33:33:00:00:00:01), hop limit 255,
//! flags R (router), S=0, O=1, target = the VIP, target link-layer option = `mac`
//! (ARP-03).
use crate::{Error, MacAddr};
use std::net::Ipv6Addr;

/// A neighbour advertisement with its IPv6 and Ethernet headers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Repr {
    pub eth_src: MacAddr,
    pub eth_dst: MacAddr,
    pub src: Ipv6Addr,
    pub dst: Ipv6Addr,
    pub hop_limit: u8,
    pub router: bool,
    pub solicited: bool,
    pub override_: bool,
    pub target: Ipv6Addr,
    /// Target link-layer address option.
    pub target_mac: Option<MacAddr>,
}

impl Repr {
    /// The unsolicited NA keepalived sends for `vip` (source: the interface's
    /// link-local `src`; `router`: the interface forwards).
    pub fn unsolicited(mac: MacAddr, src: Ipv6Addr, vip: Ipv6Addr, router: bool) -> Repr {
        let _ = (mac, src, vip, router);
        todo!("helper W")
    }
    /// Parse a whole frame, verifying the ICMPv6 checksum.
    pub fn parse(frame: &[u8]) -> Result<Repr, Error> {
        let _ = frame;
        todo!()
    }
    pub fn buffer_len(&self) -> usize {
        todo!()
    }
    /// The whole frame with the ICMPv6 checksum.
    pub fn emit(&self) -> Vec<u8> {
        todo!()
    }
}
