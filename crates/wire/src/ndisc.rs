//! Unsolicited IPv6 neighbour advertisement (RFC 4861 §4.4, §7.2.6) for a VIP, as a
//! whole Ethernet frame: to all-nodes (ff02::1, 33:33:00:00:00:01), hop limit 255,
//! flags R (router), S=0, O=1, target = the VIP, target link-layer option = `mac`
//! (ARP-03).
//!
//! keepalived 2.2.7 (captured, see `tests/fixtures.rs`; vrrp_ndisc.c agrees): IPv6
//! source = the VIP itself (not the interface link-local), traffic class and flow
//! label 0, R = the interface's IPv6 `forwarding` setting, S = 0, O = 1, one target
//! link-layer address option with the interface MAC (the VMAC with `use_vmac`).
//! 86 octets in all.
//!
//! ```text
//! Ethernet 14 | IPv6 40 (next header 58) | ICMPv6 type 136, code 0, checksum,
//! R|S|O + 29 reserved bits, target (16) | option type 2, length 1, MAC (6)
//! ```
use crate::icmp6::{self, Headers};
use crate::{bytes, Error, MacAddr};
use std::net::Ipv6Addr;

pub use crate::icmp6::{ETHERTYPE, ICMPV6};
/// ICMPv6 type of a neighbour advertisement.
pub const TYPE_NA: u8 = 136;
/// ff02::1
pub const ALL_NODES: Ipv6Addr = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 1);
/// 33:33:00:00:00:01, the Ethernet group of ff02::1 (RFC 2464 §7).
pub const ALL_NODES_MAC: MacAddr = MacAddr([0x33, 0x33, 0, 0, 0, 1]);
/// NDP option type: target link-layer address.
pub const OPT_TARGET_LLADDR: u8 = 2;

/// ICMPv6 NA without options.
const NA_LEN: usize = 24;
const OPT_LLADDR_LEN: usize = 8;

const FLAG_ROUTER: u8 = 0x80;
const FLAG_SOLICITED: u8 = 0x40;
const FLAG_OVERRIDE: u8 = 0x20;

/// Offsets in the ICMPv6 message.
mod field {
    pub const TYPE: usize = 0;
    pub const FLAGS: usize = 4;
    pub const TARGET: usize = 8;
    pub const OPTIONS: usize = 24;
}

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
    /// The unsolicited NA keepalived sends for `vip` from `mac`. `src` is the IPv6
    /// source: keepalived uses the VIP itself (pass `vip`); `router`: the interface
    /// forwards (keepalived reads its `forwarding` sysctl; RFC 9568 §6.4.2 asks R=1).
    pub fn unsolicited(mac: MacAddr, src: Ipv6Addr, vip: Ipv6Addr, router: bool) -> Repr {
        Repr {
            eth_src: mac,
            eth_dst: ALL_NODES_MAC,
            src,
            dst: ALL_NODES,
            hop_limit: 255,
            router,
            solicited: false,
            override_: true,
            target: vip,
            target_mac: Some(mac),
        }
    }

    /// Parse a whole frame, verifying the ICMPv6 checksum. No extension headers;
    /// octets after the IPv6 payload length (padding) are ignored; options other
    /// than the first target link-layer address are skipped.
    pub fn parse(frame: &[u8]) -> Result<Repr, Error> {
        let (h, icmp) = Headers::parse(frame, TYPE_NA, NA_LEN, "IPv6 payload shorter than an NA")?;
        let target_mac =
            icmp6::lladdr_option(icmp.get(NA_LEN..).unwrap_or(&[]), OPT_TARGET_LLADDR)?;
        let flags = bytes::u8_at(icmp, field::FLAGS);
        Ok(Repr {
            eth_src: h.eth_src,
            eth_dst: h.eth_dst,
            src: h.src,
            dst: h.dst,
            hop_limit: h.hop_limit,
            router: flags & FLAG_ROUTER != 0,
            solicited: flags & FLAG_SOLICITED != 0,
            override_: flags & FLAG_OVERRIDE != 0,
            target: Ipv6Addr::from(bytes::array::<16>(icmp, field::TARGET)),
            target_mac,
        })
    }

    pub fn buffer_len(&self) -> usize {
        let opt = if self.target_mac.is_some() {
            OPT_LLADDR_LEN
        } else {
            0
        };
        icmp6::ICMP + NA_LEN + opt
    }

    /// The whole frame with the ICMPv6 checksum.
    pub fn emit(&self) -> Vec<u8> {
        let mut f = vec![0u8; self.buffer_len()];
        let m = f.get_mut(icmp6::ICMP..).unwrap_or_default();
        bytes::put_u8(m, field::TYPE, TYPE_NA);
        let mut flags = 0;
        if self.router {
            flags |= FLAG_ROUTER;
        }
        if self.solicited {
            flags |= FLAG_SOLICITED;
        }
        if self.override_ {
            flags |= FLAG_OVERRIDE;
        }
        bytes::put_u8(m, field::FLAGS, flags);
        bytes::put(m, field::TARGET, &self.target.octets());
        if let Some(mac) = self.target_mac {
            bytes::put_u8(m, field::OPTIONS, OPT_TARGET_LLADDR);
            bytes::put_u8(m, field::OPTIONS + 1, 1);
            bytes::put(m, field::OPTIONS + 2, &mac.0);
        }
        self.headers().finish(&mut f);
        f
    }

    fn headers(&self) -> Headers {
        Headers {
            eth_src: self.eth_src,
            eth_dst: self.eth_dst,
            src: self.src,
            dst: self.dst,
            hop_limit: self.hop_limit,
        }
    }
}
