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
use crate::{bytes, checksum, Error, MacAddr};
use std::net::Ipv6Addr;

/// EtherType of IPv6.
pub const ETHERTYPE: u16 = 0x86dd;
/// IPv6 next header of ICMPv6.
pub const ICMPV6: u8 = 58;
/// ICMPv6 type of a neighbour advertisement.
pub const TYPE_NA: u8 = 136;
/// ff02::1
pub const ALL_NODES: Ipv6Addr = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 1);
/// 33:33:00:00:00:01, the Ethernet group of ff02::1 (RFC 2464 §7).
pub const ALL_NODES_MAC: MacAddr = MacAddr([0x33, 0x33, 0, 0, 0, 1]);
/// NDP option type: target link-layer address.
pub const OPT_TARGET_LLADDR: u8 = 2;

const ETH_LEN: usize = 14;
const IPV6_LEN: usize = 40;
/// ICMPv6 NA without options.
const NA_LEN: usize = 24;
const OPT_LLADDR_LEN: usize = 8;

const FLAG_ROUTER: u8 = 0x80;
const FLAG_SOLICITED: u8 = 0x40;
const FLAG_OVERRIDE: u8 = 0x20;

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
    pub const FLAGS: usize = 58;
    pub const TARGET: usize = 62;
    pub const OPTIONS: usize = 78;
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

fn v6_at(b: &[u8], at: usize) -> Ipv6Addr {
    Ipv6Addr::from(bytes::array::<16>(b, at))
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
        let need = field::OPTIONS;
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
        if plen < NA_LEN {
            return Err(Error::Frame("IPv6 payload shorter than an NA"));
        }
        let end = field::ICMP + plen;
        let icmp = frame.get(field::ICMP..end).ok_or(Error::Truncated {
            have: frame.len(),
            need: end,
        })?;
        if bytes::u8_at(frame, field::TYPE) != TYPE_NA || bytes::u8_at(frame, field::CODE) != 0 {
            return Err(Error::Frame(
                "ICMPv6 message is not a neighbour advertisement",
            ));
        }
        let src = v6_at(frame, field::SRC);
        let dst = v6_at(frame, field::DST);
        let pseudo = checksum::pseudo_v6(src, dst, ICMPV6, plen as u32);
        if checksum::finish(checksum::combine(pseudo, checksum::sum(icmp))) != 0 {
            return Err(Error::Frame("ICMPv6 checksum"));
        }
        let mut target_mac = None;
        let mut opts = icmp.get(NA_LEN..).unwrap_or(&[]);
        while !opts.is_empty() {
            let kind = bytes::u8_at(opts, 0);
            let len = usize::from(bytes::u8_at(opts, 1)) * 8;
            if len == 0 {
                return Err(Error::Frame("NDP option of length 0"));
            }
            let opt = opts.get(..len).ok_or(Error::Frame("NDP option overruns"))?;
            if kind == OPT_TARGET_LLADDR && len == OPT_LLADDR_LEN && target_mac.is_none() {
                target_mac = Some(MacAddr(bytes::array(opt, 2)));
            }
            opts = opts.get(len..).unwrap_or(&[]);
        }
        let flags = bytes::u8_at(frame, field::FLAGS);
        Ok(Repr {
            eth_src: MacAddr(bytes::array(frame, field::ETH_SRC)),
            eth_dst: MacAddr(bytes::array(frame, field::ETH_DST)),
            src,
            dst,
            hop_limit: bytes::u8_at(frame, field::HOP_LIMIT),
            router: flags & FLAG_ROUTER != 0,
            solicited: flags & FLAG_SOLICITED != 0,
            override_: flags & FLAG_OVERRIDE != 0,
            target: v6_at(frame, field::TARGET),
            target_mac,
        })
    }

    pub fn buffer_len(&self) -> usize {
        let opt = if self.target_mac.is_some() {
            OPT_LLADDR_LEN
        } else {
            0
        };
        ETH_LEN + IPV6_LEN + NA_LEN + opt
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
        bytes::put_u8(&mut f, field::TYPE, TYPE_NA);
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
        bytes::put_u8(&mut f, field::FLAGS, flags);
        bytes::put(&mut f, field::TARGET, &self.target.octets());
        if let Some(mac) = self.target_mac {
            bytes::put_u8(&mut f, field::OPTIONS, OPT_TARGET_LLADDR);
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
