//! IPsec AH (RFC 2402 layout) as keepalived uses it for VRRPv2 `auth_type AH`.
//!
//! What keepalived 2.2.7 does, checked against its captured packets (see
//! `tests/fixtures.rs`: `emit_advert` reproduces them octet for octet, and
//! `tests/fixtures/interop.sh`: a keepalived BACKUP accepts ours):
//!
//! - IPv4 protocol 51; the AH header is 24 octets: next header 112, Payload Len 4
//!   ((24 / 4) − 2), reserved 0, SPI = the sender's IPv4 address (its octets in
//!   order), a sequence number, a 12-octet ICV. The VRRP Auth Type octet is 2 and
//!   its 8-octet trailer is zeros.
//! - Sequence numbers start at 1 with the first advert keepalived sends and go up
//!   by one per advert (the priority-0 advert at shutdown included). A receiver
//!   takes only a number above the last it saw (state: the caller's).
//! - ICV = HMAC-MD5 cut to 96 bits, over the IPv4 header, the AH header and the
//!   VRRP message, with the ICV zeroed and, in a copy of the IPv4 header, the TOS,
//!   the flags/fragment offset and the header checksum zeroed. The TTL is zeroed
//!   only for unicast (`unicast_peer`); with multicast the TTL (255) is covered.
//!   Here "unicast" is read from the packet: a destination outside 224.0.0.0/4.
//! - The HMAC key is `auth_pass` zero-padded to 8 octets. HMAC pads a short key with
//!   zeros to the MD5 block anyway, so the password as given keys the same HMAC.
//!
//! ```text
//! +---------------+---------------+-------------------------------+
//! | Next Header   |  Payload Len  |          RESERVED             |
//! +---------------+---------------+-------------------------------+
//! |                 Security Parameters Index (SPI)               |
//! +---------------------------------------------------------------+
//! |                    Sequence Number Field                      |
//! +---------------------------------------------------------------+
//! |          Integrity Check Value (12 octets, HMAC-MD5-96)       |
//! +---------------------------------------------------------------+
//! ```
use crate::{bytes, ipv4, vrrp, Error};
use hmac::{Hmac, Mac};
use md5::Md5;

/// IP protocol number of AH.
pub const PROTOCOL: u8 = 51;
/// The AH header keepalived sends: 12 fixed octets + a 12-octet ICV.
pub const HEADER_LEN: usize = 24;
/// Where the ICV starts inside the AH header.
pub const ICV_OFFSET: usize = 12;
/// HMAC-MD5-96: the digest cut to 96 bits (RFC 2403).
pub const ICV_LEN: usize = 12;
/// The Payload Len keepalived writes: the AH length in 32-bit words minus 2
/// (RFC 2402 §2.2), (24 / 4) − 2 = 4.
pub const PAYLOAD_LEN: u8 = 4;

mod field {
    pub const NEXT_HEADER: usize = 0;
    pub const PAYLOAD_LEN: usize = 1;
    pub const RESERVED: usize = 2;
    pub const SPI: usize = 4;
    pub const SEQ: usize = 8;
}

/// A view over an AH header (starting at Next Header).
#[derive(Debug, Clone)]
pub struct Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Packet<T> {
    /// Wrap without checking; accessors read missing octets as zero.
    pub fn new_unchecked(buffer: T) -> Packet<T> {
        Packet { buffer }
    }
    /// Wrap and `check_len`.
    pub fn new_checked(buffer: T) -> Result<Packet<T>, Error> {
        let p = Packet::new_unchecked(buffer);
        p.check_len()?;
        Ok(p)
    }
    /// The fixed 12 octets are there, and the header length the Payload Len field
    /// announces is at least that and fits in the buffer.
    pub fn check_len(&self) -> Result<(), Error> {
        let have = self.buffer.as_ref().len();
        if have < ICV_OFFSET || self.header_len() < ICV_OFFSET || self.header_len() > have {
            return Err(Error::AhHeader);
        }
        Ok(())
    }
    pub fn next_header(&self) -> u8 {
        bytes::u8_at(self.buffer.as_ref(), field::NEXT_HEADER)
    }
    pub fn payload_len(&self) -> u8 {
        bytes::u8_at(self.buffer.as_ref(), field::PAYLOAD_LEN)
    }
    /// The AH header length in octets: (Payload Len + 2) × 4.
    pub fn header_len(&self) -> usize {
        (usize::from(self.payload_len()) + 2) * 4
    }
    pub fn reserved(&self) -> u16 {
        bytes::be16(self.buffer.as_ref(), field::RESERVED)
    }
    pub fn spi(&self) -> u32 {
        bytes::be32(self.buffer.as_ref(), field::SPI)
    }
    pub fn seq(&self) -> u32 {
        bytes::be32(self.buffer.as_ref(), field::SEQ)
    }
    /// The ICV octets (everything after the sequence number, up to the header length).
    pub fn icv(&self) -> &[u8] {
        self.buffer
            .as_ref()
            .get(ICV_OFFSET..self.header_len())
            .unwrap_or(&[])
    }
}

/// The AH fields that are not computed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Repr {
    pub spi: u32,
    pub seq: u32,
}

impl Repr {
    /// keepalived's SPI for a sender: its IPv4 source address, octets in order.
    pub fn spi_for(src: std::net::Ipv4Addr) -> u32 {
        u32::from(src)
    }

    /// Write the 24-octet header keepalived sends (next header VRRP, Payload Len 4,
    /// reserved 0, SPI, sequence number) with a zero ICV; nothing if `buf` is short.
    pub fn emit_header(&self, buf: &mut [u8]) {
        let Some(h) = buf.get_mut(..HEADER_LEN) else {
            return;
        };
        h.fill(0);
        bytes::put_u8(h, field::NEXT_HEADER, vrrp::PROTOCOL);
        bytes::put_u8(h, field::PAYLOAD_LEN, PAYLOAD_LEN);
        bytes::put_be32(h, field::SPI, self.spi);
        bytes::put_be32(h, field::SEQ, self.seq);
    }
}

/// Read the AH header at the start of an IPv4 payload: its fields and its length.
/// The next header must be VRRP (`Protocol` otherwise).
pub fn parse(payload: &[u8]) -> Result<(Repr, usize), Error> {
    let p = Packet::new_checked(payload)?;
    if p.next_header() != vrrp::PROTOCOL {
        return Err(Error::Protocol(p.next_header()));
    }
    Ok((
        Repr {
            spi: p.spi(),
            seq: p.seq(),
        },
        p.header_len(),
    ))
}

/// An AH key made ready once: HMAC's inner and outer padded keys are hashed here, so
/// a packet then costs the digest of its own octets only (a flood of adverts with a
/// bad ICV is checked at about half the cost).
#[derive(Clone)]
pub struct Key(Hmac<Md5>);

impl Key {
    pub fn new(key: &[u8]) -> Result<Key, Error> {
        <Hmac<Md5> as Mac>::new_from_slice(key)
            .map(Key)
            .map_err(|_| Error::AhAuth)
    }
}

impl std::fmt::Debug for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ah::Key(..)")
    }
}

/// The full HMAC-MD5 of a whole IPv4 + AH + VRRP packet prepared as keepalived does:
/// the IP TOS, flags/fragment offset and header checksum read as zeros, and the TTL
/// too when the destination is not multicast (keepalived zeroes it for unicast peers
/// only); the ICV reads as zeros; the digest runs over the header (options
/// included), the AH header and the VRRP message, up to the total length. The
/// packet is not copied: its header and AH header are, on the stack.
fn mac(ip_packet: &[u8], key: &Key) -> Result<Hmac<Md5>, Error> {
    let ip = ipv4::Packet::new_checked(ip_packet)?;
    if ip.protocol() != PROTOCOL {
        return Err(Error::Protocol(ip.protocol()));
    }
    let hl = ip.header_len();
    let unicast = !ip.dst().is_multicast();
    let whole = ip_packet.get(..ip.total_len()).ok_or(Error::IpHeader)?;
    let ah_bytes = whole.get(hl..).unwrap_or(&[]);
    let ah = Packet::new_checked(ah_bytes)?;
    if ah.next_header() != vrrp::PROTOCOL {
        return Err(Error::Protocol(ah.next_header()));
    }
    if ah.payload_len() != PAYLOAD_LEN {
        return Err(Error::AhHeader);
    }
    // At most 60 octets (a 4-bit IHL).
    let mut header = [0u8; 60];
    let header = header.get_mut(..hl).ok_or(Error::IpHeader)?;
    header.copy_from_slice(whole.get(..hl).ok_or(Error::IpHeader)?);
    bytes::put_u8(header, 1, 0); // TOS
    bytes::put_be16(header, 6, 0); // flags, fragment offset
    bytes::put_be16(header, 10, 0); // header checksum
    if unicast {
        bytes::put_u8(header, 8, 0); // TTL
    }
    // The fixed part of AH, then its ICV as zeros.
    let mut ah_header = [0u8; HEADER_LEN];
    let fixed = ah_bytes.get(..ICV_OFFSET).ok_or(Error::AhHeader)?;
    ah_header[..ICV_OFFSET].copy_from_slice(fixed);
    let rest = ah_bytes.get(HEADER_LEN..).ok_or(Error::AhHeader)?;
    let mut mac = key.0.clone();
    mac.update(header);
    mac.update(&ah_header);
    mac.update(rest);
    Ok(mac)
}

/// The ICV keepalived would write into this packet (HMAC-MD5 cut to 96 bits).
/// `ip_packet` is a whole IPv4 packet with protocol 51; its current ICV is ignored.
pub fn compute_icv(ip_packet: &[u8], key: &[u8]) -> Result<[u8; ICV_LEN], Error> {
    let digest = mac(ip_packet, &Key::new(key)?)?.finalize().into_bytes();
    Ok(bytes::array(&digest, 0))
}

/// Check the ICV of a whole received IPv4 packet (header, AH, VRRP) against `key`
/// (keepalived: the `auth_pass`, up to 8 octets). Constant-time comparison.
///
/// keepalived keys HMAC with the password zero-padded to 8 octets; HMAC pads a
/// short key with zeros to the MD5 block anyway, so the password as given and its
/// padded form give the same ICV. keepalived also requires SPI = the source
/// address and a sequence number above the last one seen; those are the caller's
/// (see [`Repr::spi_for`]), as they need state.
pub fn verify(ip_packet: &[u8], key: &[u8]) -> Result<(), Error> {
    verify_with(ip_packet, &Key::new(key)?)
}

/// [`verify`] with a key made ready once.
pub fn verify_with(ip_packet: &[u8], key: &Key) -> Result<(), Error> {
    let m = mac(ip_packet, key)?;
    let ip = ipv4::Packet::new_unchecked(ip_packet);
    let icv = bytes::array::<ICV_LEN>(ip_packet, ip.header_len() + ICV_OFFSET);
    m.verify_truncated_left(&icv).map_err(|_| Error::AhAuth)
}
