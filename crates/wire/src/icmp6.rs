//! What the ICMPv6 frames keepup sends (neighbour and router advertisements) share:
//! an Ethernet header, an IPv6 header without extension headers (next header 58),
//! and the ICMPv6 checksum over the pseudo-header and the message.
use crate::{bytes, checksum, Error, MacAddr};
use std::net::Ipv6Addr;

/// EtherType of IPv6.
pub const ETHERTYPE: u16 = 0x86dd;
/// IPv6 next header of ICMPv6.
pub const ICMPV6: u8 = 58;
/// Where the ICMPv6 message starts in the frame (Ethernet 14, IPv6 40).
pub(crate) const ICMP: usize = 54;

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
    pub const TYPE: usize = 54;
    pub const CODE: usize = 55;
    pub const CHECKSUM: usize = 56;
}

/// The headers of one frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Headers {
    pub eth_src: MacAddr,
    pub eth_dst: MacAddr,
    pub src: Ipv6Addr,
    pub dst: Ipv6Addr,
    pub hop_limit: u8,
}

fn v6_at(b: &[u8], at: usize) -> Ipv6Addr {
    Ipv6Addr::from(bytes::array::<16>(b, at))
}

impl Headers {
    /// Fill in the Ethernet and IPv6 headers of `f`, whose ICMPv6 message (from
    /// [`ICMP`] to the end, checksum field zero) is already written, and its checksum.
    pub(crate) fn finish(&self, f: &mut [u8]) {
        let plen = f.len().saturating_sub(ICMP);
        bytes::put(f, field::ETH_DST, &self.eth_dst.0);
        bytes::put(f, field::ETH_SRC, &self.eth_src.0);
        bytes::put_be16(f, field::ETHERTYPE, ETHERTYPE);
        bytes::put_u8(f, field::VER_TC_FLOW, 0x60);
        bytes::put_be16(f, field::PAYLOAD_LEN, plen as u16);
        bytes::put_u8(f, field::NEXT_HEADER, ICMPV6);
        bytes::put_u8(f, field::HOP_LIMIT, self.hop_limit);
        bytes::put(f, field::SRC, &self.src.octets());
        bytes::put(f, field::DST, &self.dst.octets());
        bytes::put_be16(f, field::CHECKSUM, 0);
        let pseudo = checksum::pseudo_v6(self.src, self.dst, ICMPV6, plen as u32);
        let body = checksum::sum(f.get(ICMP..).unwrap_or(&[]));
        let c = checksum::finish(checksum::combine(pseudo, body));
        bytes::put_be16(f, field::CHECKSUM, c);
    }

    /// The headers of `frame` and its ICMPv6 message, if it is one of type `kind`,
    /// code 0, at least `min` octets (`short` says so otherwise) and with a right
    /// checksum. Octets after the IPv6 payload length (padding) are left out.
    pub(crate) fn parse<'a>(
        frame: &'a [u8],
        kind: u8,
        min: usize,
        short: &'static str,
    ) -> Result<(Headers, &'a [u8]), Error> {
        let need = ICMP + min;
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
            return Err(Error::Frame(short));
        }
        let end = ICMP + plen;
        let icmp = frame.get(ICMP..end).ok_or(Error::Truncated {
            have: frame.len(),
            need: end,
        })?;
        if bytes::u8_at(frame, field::TYPE) != kind || bytes::u8_at(frame, field::CODE) != 0 {
            return Err(Error::Frame("not the ICMPv6 message expected"));
        }
        let h = Headers {
            eth_src: MacAddr(bytes::array(frame, field::ETH_SRC)),
            eth_dst: MacAddr(bytes::array(frame, field::ETH_DST)),
            src: v6_at(frame, field::SRC),
            dst: v6_at(frame, field::DST),
            hop_limit: bytes::u8_at(frame, field::HOP_LIMIT),
        };
        let pseudo = checksum::pseudo_v6(h.src, h.dst, ICMPV6, plen as u32);
        if checksum::finish(checksum::combine(pseudo, checksum::sum(icmp))) != 0 {
            return Err(Error::Frame("ICMPv6 checksum"));
        }
        Ok((h, icmp))
    }
}

/// The first link-layer address option of `kind` (source 1, target 2) among the
/// NDP options `opts`, if any; a zero-length option is an error.
pub(crate) fn lladdr_option(mut opts: &[u8], kind: u8) -> Result<Option<MacAddr>, Error> {
    let mut found = None;
    while !opts.is_empty() {
        let k = bytes::u8_at(opts, 0);
        let len = usize::from(bytes::u8_at(opts, 1)) * 8;
        if len == 0 {
            return Err(Error::Frame("NDP option of length 0"));
        }
        let opt = opts.get(..len).ok_or(Error::Frame("NDP option overruns"))?;
        if k == kind && len == 8 && found.is_none() {
            found = Some(MacAddr(bytes::array(opt, 2)));
        }
        opts = opts.get(len..).unwrap_or(&[]);
    }
    Ok(found)
}
