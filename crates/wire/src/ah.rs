//! IPsec AH (RFC 2402 layout) as keepalived uses it for VRRPv2 `auth_type AH`:
//! HMAC-MD5-96 over the whole IPv4 packet with the mutable IP fields (TOS, flags and
//! fragment offset, TTL, header checksum) and the ICV zeroed; SPI = the sender's IPv4
//! address; a sequence number that increases per advert.
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
use crate::Error;

/// IP protocol number of AH.
pub const PROTOCOL: u8 = 51;
/// The AH header keepalived sends: 12 fixed octets + a 12-octet ICV.
pub const HEADER_LEN: usize = 24;

/// The AH fields that are not computed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Repr {
    pub spi: u32,
    pub seq: u32,
}

/// Check the ICV of a whole received IPv4 packet (header, AH, VRRP) against `key`
/// (keepalived: the `auth_pass`, up to 8 octets). Constant-time comparison.
pub fn verify(ip_packet: &[u8], key: &[u8]) -> Result<(), Error> {
    let _ = (ip_packet, key);
    todo!("helper W")
}
