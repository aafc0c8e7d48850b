//! The IPv4 header, as keepup writes it for adverts (IP_HDRINCL, so AH can cover it)
//! and as raw IPv4 sockets deliver it on receive.
use crate::{ah, bytes, checksum, vrrp, Error};
use std::net::Ipv4Addr;

/// IPv4 header without options.
pub const HEADER_LEN: usize = 20;

mod field {
    pub const VER_IHL: usize = 0;
    pub const TOS: usize = 1;
    pub const TOTAL_LEN: usize = 2;
    pub const IDENT: usize = 4;
    pub const FLAGS_FRAG: usize = 6;
    pub const TTL: usize = 8;
    pub const PROTOCOL: usize = 9;
    pub const CHECKSUM: usize = 10;
    pub const SRC: usize = 12;
    pub const DST: usize = 16;
}

/// A view over an IPv4 packet (header first).
#[derive(Debug, Clone)]
pub struct Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Packet<T> {
    /// Wrap without checking. Accessors never panic (out-of-range fields read as
    /// zero, `payload` as empty), but they only mean something once checked.
    pub fn new_unchecked(buffer: T) -> Packet<T> {
        Packet { buffer }
    }
    /// Version 4, IHL ≥ 5, header and total length within the buffer.
    /// Octets after the total length (link padding) are ignored, not refused.
    pub fn new_checked(buffer: T) -> Result<Packet<T>, Error> {
        let p = Packet::new_unchecked(buffer);
        p.check_len()?;
        Ok(p)
    }
    /// The checks of `new_checked`.
    pub fn check_len(&self) -> Result<(), Error> {
        let have = self.bytes().len();
        if have < HEADER_LEN || self.version() != 4 {
            return Err(Error::IpHeader);
        }
        let hl = self.header_len();
        let total = self.total_len();
        if hl < HEADER_LEN || hl > have || total < hl || total > have {
            return Err(Error::IpHeader);
        }
        Ok(())
    }
    pub fn into_inner(self) -> T {
        self.buffer
    }
    fn bytes(&self) -> &[u8] {
        self.buffer.as_ref()
    }
    pub fn version(&self) -> u8 {
        bytes::u8_at(self.bytes(), field::VER_IHL) >> 4
    }
    pub fn header_len(&self) -> usize {
        usize::from(bytes::u8_at(self.bytes(), field::VER_IHL) & 0x0f) * 4
    }
    pub fn tos(&self) -> u8 {
        bytes::u8_at(self.bytes(), field::TOS)
    }
    pub fn total_len(&self) -> usize {
        usize::from(bytes::be16(self.bytes(), field::TOTAL_LEN))
    }
    pub fn ident(&self) -> u16 {
        bytes::be16(self.bytes(), field::IDENT)
    }
    /// Flags (3 bits) and fragment offset (13 bits) as one word.
    pub fn flags_frag(&self) -> u16 {
        bytes::be16(self.bytes(), field::FLAGS_FRAG)
    }
    pub fn ttl(&self) -> u8 {
        bytes::u8_at(self.bytes(), field::TTL)
    }
    pub fn protocol(&self) -> u8 {
        bytes::u8_at(self.bytes(), field::PROTOCOL)
    }
    pub fn header_checksum(&self) -> u16 {
        bytes::be16(self.bytes(), field::CHECKSUM)
    }
    /// The header (options included) sums to zero.
    pub fn verify_header_checksum(&self) -> bool {
        match self.bytes().get(..self.header_len()) {
            Some(h) if !h.is_empty() => checksum::checksum(h) == 0,
            _ => false,
        }
    }
    pub fn src(&self) -> Ipv4Addr {
        Ipv4Addr::from(bytes::array::<4>(self.bytes(), field::SRC))
    }
    pub fn dst(&self) -> Ipv4Addr {
        Ipv4Addr::from(bytes::array::<4>(self.bytes(), field::DST))
    }
    /// The octets after the header, up to the total length.
    pub fn payload(&self) -> &[u8] {
        self.bytes()
            .get(self.header_len()..self.total_len())
            .unwrap_or(&[])
    }
}

/// The header fields keepup sets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Repr {
    pub src: Ipv4Addr,
    pub dst: Ipv4Addr,
    pub protocol: u8,
    pub ttl: u8,
    /// Identification (keepalived: 1 for its first advert, then +1 per advert).
    pub ident: u16,
    /// TOS octet; keepalived sends 0xc0 (precedence internetwork control).
    pub tos: u8,
    pub payload_len: usize,
}

impl Repr {
    /// Write a 20-octet header with its checksum (DF clear, no options), as
    /// keepalived 2.2.7 builds it (captured: TOS 0xc0, flags/fragment 0).
    /// Refuses a buffer under 20 octets and a total length over 65535.
    pub fn emit(&self, buf: &mut [u8]) -> Result<(), Error> {
        let total = u16::try_from(HEADER_LEN + self.payload_len)
            .map_err(|_| Error::Emit("IPv4 packet longer than 65535 octets"))?;
        let hdr = buf
            .get_mut(..HEADER_LEN)
            .ok_or(Error::Emit("buffer too small"))?;
        hdr.fill(0);
        bytes::put_u8(hdr, field::VER_IHL, 0x45);
        bytes::put_u8(hdr, field::TOS, self.tos);
        bytes::put_be16(hdr, field::TOTAL_LEN, total);
        bytes::put_be16(hdr, field::IDENT, self.ident);
        bytes::put_u8(hdr, field::TTL, self.ttl);
        bytes::put_u8(hdr, field::PROTOCOL, self.protocol);
        bytes::put(hdr, field::SRC, &self.src.octets());
        bytes::put(hdr, field::DST, &self.dst.octets());
        let c = checksum::checksum(hdr);
        bytes::put_be16(hdr, field::CHECKSUM, c);
        Ok(())
    }
}

/// An IPv4 VRRP packet taken apart: the header, the AH header if protocol 51, and
/// the VRRP message.
#[derive(Debug, Clone)]
pub struct Advert<'a> {
    pub src: Ipv4Addr,
    pub dst: Ipv4Addr,
    pub ttl: u8,
    pub ah: Option<ah::Repr>,
    pub vrrp: &'a [u8],
}

/// Take a received IPv4 packet apart. Protocol must be 112, or 51 with next header
/// 112. Does not verify the AH ICV (see [`ah::verify`]), nor the VRRP message.
///
/// IP options are skipped (IHL), octets past the total length are ignored, and the
/// header checksum is not checked (the kernel drops a bad one before a raw socket
/// sees it). The AH header length comes from its Payload Len field.
pub fn parse_advert(packet: &[u8]) -> Result<Advert<'_>, Error> {
    let ip = Packet::new_checked(packet)?;
    let payload = packet.get(ip.header_len()..ip.total_len()).unwrap_or(&[]);
    let (ah, vrrp) = match ip.protocol() {
        vrrp::PROTOCOL => (None, payload),
        ah::PROTOCOL => {
            let (repr, len) = ah::parse(payload)?;
            (Some(repr), payload.get(len..).unwrap_or(&[]))
        }
        p => return Err(Error::Protocol(p)),
    };
    Ok(Advert {
        src: ip.src(),
        dst: ip.dst(),
        ttl: ip.ttl(),
        ah,
        vrrp,
    })
}

/// Build a whole IPv4 packet: header (protocol 112, or 51 when `ah` is given), the AH
/// header with its ICV computed over the packet (HMAC-MD5-96, keyed by `ah.1`), then
/// `vrrp` (an already emitted VRRP message).
///
/// `header.protocol` and `header.payload_len` are set here. `vrrp` must leave the
/// packet under 65536 octets (a VRRP message is at most 4088); a longer one gives a
/// packet whose total length field saturates.
pub fn emit_advert(header: Repr, ah: Option<(ah::Repr, &[u8])>, vrrp: &[u8]) -> Vec<u8> {
    let ah_len = if ah.is_some() { ah::HEADER_LEN } else { 0 };
    let mut h = header;
    h.protocol = if ah.is_some() {
        ah::PROTOCOL
    } else {
        vrrp::PROTOCOL
    };
    h.payload_len = (ah_len + vrrp.len()).min(usize::from(u16::MAX) - HEADER_LEN);
    let mut out = vec![0u8; HEADER_LEN + ah_len + vrrp.len()];
    // Cannot fail: the buffer holds the header and the length was clamped.
    let _ = h.emit(&mut out);
    bytes::put(&mut out, HEADER_LEN + ah_len, vrrp);
    if let Some((repr, key)) = ah {
        repr.emit_header(out.get_mut(HEADER_LEN..).unwrap_or(&mut []));
        if let Ok(icv) = ah::compute_icv(&out, key) {
            bytes::put(&mut out, HEADER_LEN + ah::ICV_OFFSET, &icv);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::hex;

    /// IPv4 + AH + VRRPv2 built by a few lines of Python (struct, hmac, hashlib)
    /// following keepalived's vrrp_update_pkt: ICV over the header with TOS,
    /// flags/fragment and checksum zeroed (TTL kept: multicast), AH with ICV
    /// zeroed, then VRRP; key "secret" padded to 8; SPI = 10.0.0.1, seq 1, ident 7.
    const AH_VECTOR: &str = "45c0004000070000ff33d0b00a000001e0000012700400000a00000100000001\
                             b3e5e1be7c11e88264d4b8002133640102016e660a0000640000000000000000";

    fn header() -> Repr {
        Repr {
            src: Ipv4Addr::new(10, 0, 0, 1),
            dst: vrrp::MCAST_V4,
            protocol: 0,
            ttl: 255,
            ident: 7,
            tos: 0xc0,
            payload_len: 0,
        }
    }

    /// Ledger: AUTH-03 — the AH layout and ICV match an independent build.
    #[test]
    fn emit_advert_with_ah_matches_the_independent_vector() {
        let bytes = hex(AH_VECTOR);
        let vrrp = &bytes[44..];
        let ah = ah::Repr {
            spi: ah::Repr::spi_for(Ipv4Addr::new(10, 0, 0, 1)),
            seq: 1,
        };
        let built = emit_advert(header(), Some((ah, b"secret")), vrrp);
        assert_eq!(built, bytes);
        assert_eq!(ah::verify(&bytes, b"secret"), Ok(()));
        assert_eq!(ah::verify(&bytes, b"secret\0\0"), Ok(()));
        assert_eq!(ah::verify(&bytes, b"Secret"), Err(Error::AhAuth));

        let adv = parse_advert(&bytes).unwrap();
        assert_eq!(adv.ah, Some(ah));
        assert_eq!(adv.vrrp, vrrp);
        assert_eq!(adv.ttl, 255);
        assert_eq!(adv.src, Ipv4Addr::new(10, 0, 0, 1));
    }

    /// The mutable fields (TOS, flags/fragment, checksum) are outside the ICV; the
    /// rest of the packet is inside it.
    #[test]
    fn ah_icv_covers_what_keepalived_covers() {
        let bytes = hex(AH_VECTOR);
        for i in 0..bytes.len() {
            for bit in 0..8 {
                let mut b = bytes.clone();
                b[i] ^= 1 << bit;
                let mutable = matches!(i, 1 | 6 | 7 | 10 | 11);
                let r = ah::verify(&b, b"secret");
                if mutable {
                    assert_eq!(r, Ok(()), "octet {i} bit {bit}");
                } else {
                    assert!(r.is_err(), "octet {i} bit {bit}");
                }
            }
        }
    }

    #[test]
    fn unicast_ah_zeroes_the_ttl() {
        let mut h = header();
        h.dst = Ipv4Addr::new(10, 0, 0, 2);
        let vrrp = &hex(AH_VECTOR)[44..];
        let ah = ah::Repr { spi: 1, seq: 2 };
        let mut bytes = emit_advert(h, Some((ah, b"k")), vrrp);
        assert_eq!(ah::verify(&bytes, b"k"), Ok(()));
        bytes[8] = 64;
        assert_eq!(ah::verify(&bytes, b"k"), Ok(()), "TTL outside the ICV");
    }

    #[test]
    fn plain_advert_round_trip() {
        let vrrp = hex("21336401000170660a0000640000000000000000");
        let bytes = emit_advert(header(), None, &vrrp);
        assert_eq!(bytes.len(), 40);
        let ip = Packet::new_checked(&bytes[..]).unwrap();
        assert_eq!(ip.protocol(), vrrp::PROTOCOL);
        assert_eq!(ip.tos(), 0xc0);
        assert_eq!(ip.flags_frag(), 0, "DF clear");
        assert!(ip.verify_header_checksum());
        let adv = parse_advert(&bytes).unwrap();
        assert_eq!(adv.vrrp, &vrrp[..]);
        assert_eq!(adv.ah, None);
    }

    #[test]
    fn options_are_skipped_and_padding_ignored() {
        let vrrp = hex("21336401000170660a0000640000000000000000");
        let mut bytes = emit_advert(header(), None, &vrrp);
        // Insert a 4-octet option (NOP NOP NOP EOL) and fix IHL and total length.
        bytes.splice(20..20, [1, 1, 1, 0]);
        bytes[0] = 0x46;
        bytes[3] += 4;
        bytes.extend_from_slice(&[0; 6]);
        let adv = parse_advert(&bytes).unwrap();
        assert_eq!(adv.vrrp, &vrrp[..]);
    }

    #[test]
    fn malformed_headers_are_refused() {
        let vrrp = hex("21336401000170660a0000640000000000000000");
        let good = emit_advert(header(), None, &vrrp);
        for n in 0..good.len() {
            assert!(parse_advert(&good[..n]).is_err(), "cut at {n}");
        }
        let mut b = good.clone();
        b[0] = 0x65;
        assert_eq!(parse_advert(&b).unwrap_err(), Error::IpHeader);
        let mut b = good.clone();
        b[0] = 0x44;
        assert_eq!(parse_advert(&b).unwrap_err(), Error::IpHeader);
        let mut b = good.clone();
        b[9] = 17;
        assert_eq!(parse_advert(&b).unwrap_err(), Error::Protocol(17));
        let mut b = hex(AH_VECTOR);
        b[20] = 6;
        assert_eq!(parse_advert(&b).unwrap_err(), Error::Protocol(6));
        let mut b = hex(AH_VECTOR);
        b[21] = 200;
        assert_eq!(parse_advert(&b).unwrap_err(), Error::AhHeader);
    }

    #[test]
    fn repr_emit_refuses_short_buffers_and_long_payloads() {
        let mut buf = [0u8; 19];
        assert!(header().emit(&mut buf).is_err());
        let mut h = header();
        h.payload_len = 65516;
        assert!(h.emit(&mut [0u8; 20]).is_err());
    }
}
