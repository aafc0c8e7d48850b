//! VRRP advertisements, v2 (RFC 3768 §5.1) and v3 (RFC 9568 §5.1 / RFC 5798).
//!
//! ```text
//! VRRPv2                                  VRRPv3
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |Version| Type  | Virtual Rtr ID|   Priority    | Count IP Addrs|
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! v2: |   Auth Type   |   Adver Int   |          Checksum             |
//! v3: |(rsvd) |     Max Adver Int     |          Checksum             |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                 IPvX Address(es) (count x 4 or 16)            |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! v2 only: |            Authentication Data (8 octets)                 |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! ```
use crate::Error;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// IP protocol number / IPv6 next header of VRRP.
pub const PROTOCOL: u8 = 112;
/// 224.0.0.18
pub const MCAST_V4: Ipv4Addr = Ipv4Addr::new(224, 0, 0, 18);
/// ff02::12
pub const MCAST_V6: Ipv6Addr = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 0x12);
/// Fixed header length (both versions).
pub const HEADER_LEN: usize = 8;
/// v2 authentication data trailer length.
pub const AUTH_DATA_LEN: usize = 8;

/// Protocol version (octet 0, high nibble).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Version {
    V2,
    V3,
}

impl Version {
    pub fn number(self) -> u8 {
        match self {
            Version::V2 => 2,
            Version::V3 => 3,
        }
    }
}

/// v2 Auth Type octet (RFC 2338 §5.3.6; RFC 3768 keeps only 0).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AuthType {
    None,
    /// 1: simple text password (keepalived `auth_type PASS`).
    Pass,
    /// 2: IPsec AH (keepalived `auth_type AH`).
    Ah,
    Unknown(u8),
}

impl From<u8> for AuthType {
    fn from(v: u8) -> Self {
        match v {
            0 => AuthType::None,
            1 => AuthType::Pass,
            2 => AuthType::Ah,
            n => AuthType::Unknown(n),
        }
    }
}

impl From<AuthType> for u8 {
    fn from(v: AuthType) -> u8 {
        match v {
            AuthType::None => 0,
            AuthType::Pass => 1,
            AuthType::Ah => 2,
            AuthType::Unknown(n) => n,
        }
    }
}

/// How the VRRPv3-over-IPv4 checksum is computed (PKT-09, PKT-10, KA-06). IPv6 always
/// uses its pseudo-header and v2 never uses one, whatever this says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum ChecksumForm {
    /// RFC 5798 read literally, keepalived 2.2.7, FRR: with the IPv4 pseudo-header.
    #[default]
    PseudoHeader,
    /// RFC 9568 §5.2.8: over the VRRP message only (keepalived `v3_checksum_as_v2`).
    MessageOnly,
}

/// The addresses the checksum's pseudo-header needs: the IP source and destination
/// of the carrying packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IpPair {
    pub src: IpAddr,
    pub dst: IpAddr,
}

/// A read-only or writable view of a VRRP message (starting at the version octet).
#[derive(Debug, Clone)]
pub struct Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Packet<T> {
    /// Wrap without checking; accessors may panic until `check_len` has passed.
    pub fn new_unchecked(buffer: T) -> Packet<T> {
        Packet { buffer }
    }
    /// Wrap and `check_len`. `v6`: the carrying IP header is IPv6 (address size 16).
    pub fn new_checked(buffer: T, v6: bool) -> Result<Packet<T>, Error> {
        let p = Packet::new_unchecked(buffer);
        p.check_len(v6)?;
        Ok(p)
    }
    /// The buffer holds the fixed header, `count` addresses of the family and (v2)
    /// the 8-octet trailer. After this, no accessor panics. Longer is allowed (KA-11).
    pub fn check_len(&self, v6: bool) -> Result<(), Error> {
        let _ = v6;
        todo!("helper W")
    }
    pub fn into_inner(self) -> T {
        self.buffer
    }
    pub fn version_raw(&self) -> u8 {
        todo!()
    }
    pub fn type_raw(&self) -> u8 {
        todo!()
    }
    pub fn vrid(&self) -> u8 {
        todo!()
    }
    pub fn priority(&self) -> u8 {
        todo!()
    }
    pub fn count(&self) -> u8 {
        todo!()
    }
    /// Octets 4–5 read by version: v2 `Adver Int` in seconds; v3 the 12-bit
    /// `Max Adver Int` in centiseconds (the reserved nibble masked off, PKT-05).
    pub fn interval(&self) -> u16 {
        todo!()
    }
    /// v2 Auth Type (meaningless in v3).
    pub fn auth_type(&self) -> AuthType {
        todo!()
    }
    pub fn checksum(&self) -> u16 {
        todo!()
    }
    /// Length of the message as the header announces it (without trailing bytes).
    pub fn message_len(&self, v6: bool) -> usize {
        let _ = v6;
        todo!()
    }
    /// v2 authentication data (the 8 octets after the addresses).
    pub fn auth_data(&self) -> [u8; 8] {
        todo!()
    }
    /// Which checksum form verifies, given the carrying IP addresses. v2: plain; v3
    /// IPv6: pseudo-header; v3 IPv4: tries `PseudoHeader` then `MessageOnly`.
    pub fn verify_checksum(&self, ip: IpPair) -> Option<ChecksumForm> {
        let _ = ip;
        todo!()
    }
}

/// A validated VRRP advertisement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Repr {
    pub version: Version,
    pub vrid: u8,
    pub priority: u8,
    /// As on the wire: v2 seconds (1–255), v3 centiseconds (1–4095).
    pub interval: u16,
    /// v2 only (`AuthType::None` for v3).
    pub auth_type: AuthType,
    /// v2 only: the trailer (zeros unless PASS; the password zero-padded).
    pub auth_data: [u8; 8],
    /// All of one family: IPv4 in v2 and v3/IPv4, IPv6 in v3/IPv6.
    pub addresses: Vec<IpAddr>,
}

/// What `Repr::parse` learned besides the advert.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ParseInfo {
    /// The checksum form that verified (always `PseudoHeader` for v2 and IPv6).
    pub checksum_form: ChecksumForm,
    /// Octets after the announced message (KA-11: counted, not refused).
    pub trailing: usize,
}

impl Repr {
    /// Parse and validate: length, version (2|3), type (1), VRID (≠ 0), checksum, and in
    /// v3 count ≥ 1 and interval ≥ 1. `ip` gives the pseudo-header addresses.
    /// Does not judge anything that depends on local configuration.
    pub fn parse<T: AsRef<[u8]>>(
        packet: &Packet<T>,
        ip: IpPair,
    ) -> Result<(Repr, ParseInfo), Error> {
        let _ = (packet, ip);
        todo!()
    }
    /// Octets `emit` writes.
    pub fn buffer_len(&self) -> usize {
        todo!()
    }
    /// Write the message and its checksum (computed last) into `buf` (at least
    /// `buffer_len()` octets). Refuses what `parse` would refuse.
    pub fn emit(&self, buf: &mut [u8], ip: IpPair, form: ChecksumForm) -> Result<(), Error> {
        let _ = (buf, ip, form);
        todo!()
    }
    /// `emit` into a new vector.
    pub fn to_bytes(&self, ip: IpPair, form: ChecksumForm) -> Result<Vec<u8>, Error> {
        let mut v = vec![0; self.buffer_len()];
        self.emit(&mut v, ip, form)?;
        Ok(v)
    }
}
