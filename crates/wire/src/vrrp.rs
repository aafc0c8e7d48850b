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
use crate::{bytes, checksum, Error};
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

impl IpPair {
    /// Both addresses IPv6 (`Some(true)`), both IPv4 (`Some(false)`), or mixed (`None`).
    fn v6(&self) -> Option<bool> {
        match (self.src, self.dst) {
            (IpAddr::V4(_), IpAddr::V4(_)) => Some(false),
            (IpAddr::V6(_), IpAddr::V6(_)) => Some(true),
            _ => None,
        }
    }
}

/// The v2 trailer for `auth_type PASS`: the password zero-padded to 8 octets, cut at
/// 8 as keepalived does (AUTH-02).
pub fn password_trailer(password: &[u8]) -> [u8; AUTH_DATA_LEN] {
    let mut out = [0u8; AUTH_DATA_LEN];
    for (o, p) in out.iter_mut().zip(password) {
        *o = *p;
    }
    out
}

mod field {
    pub const VER_TYPE: usize = 0;
    pub const VRID: usize = 1;
    pub const PRIORITY: usize = 2;
    pub const COUNT: usize = 3;
    /// v2: Auth Type; v3: rsvd nibble + high nibble of Max Adver Int.
    pub const AUTH_TYPE: usize = 4;
    /// v2: Adver Int (one octet).
    pub const ADVER_INT_V2: usize = 5;
    /// v3: rsvd(4) + Max Adver Int(12), two octets.
    pub const ADVER_INT_V3: usize = 4;
    pub const CHECKSUM: usize = 6;
    pub const ADDRESSES: usize = 8;
}

fn address_len(v6: bool) -> usize {
    if v6 {
        16
    } else {
        4
    }
}

/// A read-only or writable view of a VRRP message (starting at the version octet).
#[derive(Debug, Clone)]
pub struct Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Packet<T> {
    /// Wrap without checking. Accessors never panic (out-of-range fields read as
    /// zero), but they only mean something once `check_len` has passed.
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
        let have = self.buffer.as_ref().len();
        if have < HEADER_LEN {
            return Err(Error::Truncated {
                have,
                need: HEADER_LEN,
            });
        }
        let need = self.message_len(v6);
        if have < need {
            return Err(Error::Truncated { have, need });
        }
        Ok(())
    }
    pub fn into_inner(self) -> T {
        self.buffer
    }
    fn bytes(&self) -> &[u8] {
        self.buffer.as_ref()
    }
    pub fn version_raw(&self) -> u8 {
        bytes::u8_at(self.bytes(), field::VER_TYPE) >> 4
    }
    pub fn type_raw(&self) -> u8 {
        bytes::u8_at(self.bytes(), field::VER_TYPE) & 0x0f
    }
    pub fn vrid(&self) -> u8 {
        bytes::u8_at(self.bytes(), field::VRID)
    }
    pub fn priority(&self) -> u8 {
        bytes::u8_at(self.bytes(), field::PRIORITY)
    }
    pub fn count(&self) -> u8 {
        bytes::u8_at(self.bytes(), field::COUNT)
    }
    /// Octets 4–5 read by version: v2 `Adver Int` in seconds; v3 the 12-bit
    /// `Max Adver Int` in centiseconds (the reserved nibble masked off, PKT-05).
    pub fn interval(&self) -> u16 {
        if self.version_raw() == 2 {
            u16::from(bytes::u8_at(self.bytes(), field::ADVER_INT_V2))
        } else {
            bytes::be16(self.bytes(), field::ADVER_INT_V3) & 0x0fff
        }
    }
    /// v3: the reserved nibble before Max Adver Int (0 when sent, ignored on receipt).
    pub fn reserved_v3(&self) -> u8 {
        bytes::u8_at(self.bytes(), field::ADVER_INT_V3) >> 4
    }
    /// v2 Auth Type (meaningless in v3).
    pub fn auth_type(&self) -> AuthType {
        AuthType::from(bytes::u8_at(self.bytes(), field::AUTH_TYPE))
    }
    pub fn checksum(&self) -> u16 {
        bytes::be16(self.bytes(), field::CHECKSUM)
    }
    /// Length of the message as the header announces it (without trailing bytes).
    pub fn message_len(&self, v6: bool) -> usize {
        let trailer = if self.version_raw() == 2 {
            AUTH_DATA_LEN
        } else {
            0
        };
        HEADER_LEN + usize::from(self.count()) * address_len(v6) + trailer
    }
    /// The `i`th address (0-based) read with the family's size; `None` past `count`
    /// or past the buffer.
    pub fn address(&self, i: usize, v6: bool) -> Option<IpAddr> {
        if i >= usize::from(self.count()) {
            return None;
        }
        let size = address_len(v6);
        let at = field::ADDRESSES + i * size;
        let raw = self.bytes().get(at..at + size)?;
        Some(ip_from_slice(raw))
    }
    /// The announced addresses as raw octets (`count × 4` or `× 16`).
    pub fn addresses_raw(&self, v6: bool) -> &[u8] {
        let end = field::ADDRESSES + usize::from(self.count()) * address_len(v6);
        self.bytes().get(field::ADDRESSES..end).unwrap_or(&[])
    }
    /// v2 authentication data (the 8 octets after the addresses).
    pub fn auth_data(&self) -> [u8; 8] {
        let at = field::ADDRESSES + usize::from(self.count()) * 4;
        bytes::array(self.bytes(), at)
    }
    /// Which checksum form verifies, given the carrying IP addresses. v2: plain; v3
    /// IPv6: pseudo-header; v3 IPv4: tries `PseudoHeader` then `MessageOnly`.
    /// The sum runs over exactly the announced message, never trailing octets.
    pub fn verify_checksum(&self, ip: IpPair) -> Option<ChecksumForm> {
        let v6 = ip.v6()?;
        let len = self.message_len(v6);
        let msg = self.bytes().get(..len)?;
        let body = checksum::sum(msg);
        match (self.version_raw(), ip.src, ip.dst) {
            (2, IpAddr::V4(_), IpAddr::V4(_)) => {
                (checksum::finish(body) == 0).then_some(ChecksumForm::PseudoHeader)
            }
            (3, IpAddr::V6(s), IpAddr::V6(d)) => {
                let pseudo = checksum::pseudo_v6(s, d, PROTOCOL, len as u32);
                (checksum::finish(checksum::combine(pseudo, body)) == 0)
                    .then_some(ChecksumForm::PseudoHeader)
            }
            (3, IpAddr::V4(s), IpAddr::V4(d)) => {
                let pseudo = checksum::pseudo_v4(s, d, PROTOCOL, len as u16);
                if checksum::finish(checksum::combine(pseudo, body)) == 0 {
                    Some(ChecksumForm::PseudoHeader)
                } else if checksum::finish(body) == 0 {
                    Some(ChecksumForm::MessageOnly)
                } else {
                    None
                }
            }
            _ => None,
        }
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Packet<T> {
    fn bytes_mut(&mut self) -> &mut [u8] {
        self.buffer.as_mut()
    }
    pub fn set_version_type(&mut self, version: u8, type_: u8) {
        bytes::put_u8(
            self.bytes_mut(),
            field::VER_TYPE,
            (version << 4) | (type_ & 0x0f),
        );
    }
    pub fn set_vrid(&mut self, vrid: u8) {
        bytes::put_u8(self.bytes_mut(), field::VRID, vrid);
    }
    pub fn set_priority(&mut self, priority: u8) {
        bytes::put_u8(self.bytes_mut(), field::PRIORITY, priority);
    }
    pub fn set_count(&mut self, count: u8) {
        bytes::put_u8(self.bytes_mut(), field::COUNT, count);
    }
    /// v2 Auth Type octet.
    pub fn set_auth_type(&mut self, auth: AuthType) {
        bytes::put_u8(self.bytes_mut(), field::AUTH_TYPE, auth.into());
    }
    /// By version (set it first): v2 one octet of seconds; v3 12 bits of
    /// centiseconds with the reserved nibble written 0.
    pub fn set_interval(&mut self, interval: u16) {
        if self.version_raw() == 2 {
            let v = u8::try_from(interval).unwrap_or(u8::MAX);
            bytes::put_u8(self.bytes_mut(), field::ADVER_INT_V2, v);
        } else {
            bytes::put_be16(self.bytes_mut(), field::ADVER_INT_V3, interval & 0x0fff);
        }
    }
    pub fn set_checksum(&mut self, value: u16) {
        bytes::put_be16(self.bytes_mut(), field::CHECKSUM, value);
    }
    /// Write address `i` at its family's size.
    pub fn set_address(&mut self, i: usize, addr: IpAddr) {
        match addr {
            IpAddr::V4(a) => bytes::put(self.bytes_mut(), field::ADDRESSES + i * 4, &a.octets()),
            IpAddr::V6(a) => bytes::put(self.bytes_mut(), field::ADDRESSES + i * 16, &a.octets()),
        }
    }
    /// v2: write the trailer after `count` IPv4 addresses.
    pub fn set_auth_data(&mut self, data: [u8; AUTH_DATA_LEN]) {
        let at = field::ADDRESSES + usize::from(self.count()) * 4;
        bytes::put(self.bytes_mut(), at, &data);
    }
    /// Compute and write the checksum over the announced message, in `form` where
    /// that applies (v3 over IPv4). Returns `Err` if `ip` mixes families or the
    /// buffer is shorter than the message.
    pub fn fill_checksum(&mut self, ip: IpPair, form: ChecksumForm) -> Result<(), Error> {
        let v6 = ip
            .v6()
            .ok_or(Error::Emit("IP source and destination families differ"))?;
        self.check_len(v6)
            .map_err(|_| Error::Emit("buffer too small"))?;
        self.set_checksum(0);
        let len = self.message_len(v6);
        let body = checksum::sum(self.bytes().get(..len).unwrap_or(&[]));
        let total = match (self.version_raw(), ip.src, ip.dst, form) {
            (3, IpAddr::V6(s), IpAddr::V6(d), _) => {
                checksum::combine(checksum::pseudo_v6(s, d, PROTOCOL, len as u32), body)
            }
            (3, IpAddr::V4(s), IpAddr::V4(d), ChecksumForm::PseudoHeader) => {
                checksum::combine(checksum::pseudo_v4(s, d, PROTOCOL, len as u16), body)
            }
            _ => body,
        };
        self.set_checksum(checksum::finish(total));
        Ok(())
    }
}

fn ip_from_slice(raw: &[u8]) -> IpAddr {
    if raw.len() == 16 {
        IpAddr::V6(Ipv6Addr::from(bytes::array::<16>(raw, 0)))
    } else {
        IpAddr::V4(Ipv4Addr::from(bytes::array::<4>(raw, 0)))
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

/// Largest v2 Adver Int (one octet of seconds).
pub const MAX_INTERVAL_V2: u16 = 255;
/// Largest v3 Max Adver Int (12 bits of centiseconds).
pub const MAX_INTERVAL_V3: u16 = 0x0fff;

impl Repr {
    /// Parse and validate: length, version (2|3), type (1), VRID (≠ 0), checksum, and in
    /// v3 count ≥ 1 and interval ≥ 1. `ip` gives the pseudo-header addresses.
    /// Does not judge anything that depends on local configuration.
    ///
    /// The address size follows `ip.src` (IPv6 ⇒ 16 octets). VRRPv2 over IPv6 is
    /// refused as `Version(2)`: RFC 3768 is IPv4 only. A v3 `ip` whose source and
    /// destination differ in family is refused as `IpHeader`.
    pub fn parse<T: AsRef<[u8]>>(
        packet: &Packet<T>,
        ip: IpPair,
    ) -> Result<(Repr, ParseInfo), Error> {
        Repr::parse_inner(packet, ip, true)
    }

    /// [`Repr::parse`] without the checksum, for an advert whose checksum the caller
    /// verified another way: an IPv6 advert with an `auth_hmac` trailer, whose
    /// checksum covers the trailer too (`hmac_auth::verify_ipv6_checksum`). `packet`
    /// is the message alone. The form reported is `PseudoHeader`.
    pub fn parse_checksum_verified<T: AsRef<[u8]>>(
        packet: &Packet<T>,
        ip: IpPair,
    ) -> Result<(Repr, ParseInfo), Error> {
        Repr::parse_inner(packet, ip, false)
    }

    fn parse_inner<T: AsRef<[u8]>>(
        packet: &Packet<T>,
        ip: IpPair,
        check_sum: bool,
    ) -> Result<(Repr, ParseInfo), Error> {
        let have = packet.bytes().len();
        if have < HEADER_LEN {
            return Err(Error::Truncated {
                have,
                need: HEADER_LEN,
            });
        }
        let v6 = ip.src.is_ipv6();
        let version = match packet.version_raw() {
            2 if !v6 => Version::V2,
            3 => Version::V3,
            n => return Err(Error::Version(n)),
        };
        if packet.type_raw() != 1 {
            return Err(Error::Type(packet.type_raw()));
        }
        packet.check_len(v6)?;
        if packet.vrid() == 0 {
            return Err(Error::VridZero);
        }
        if ip.v6().is_none() {
            return Err(Error::IpHeader);
        }
        let checksum_form = if check_sum {
            packet.verify_checksum(ip).ok_or(Error::Checksum)?
        } else {
            ChecksumForm::PseudoHeader
        };
        if version == Version::V3 {
            if packet.count() == 0 {
                return Err(Error::NoAddress);
            }
            if packet.interval() == 0 {
                return Err(Error::IntervalZero);
            }
        }
        let addresses = packet
            .addresses_raw(v6)
            .chunks_exact(address_len(v6))
            .map(ip_from_slice)
            .collect();
        let (auth_type, auth_data) = match version {
            Version::V2 => (packet.auth_type(), packet.auth_data()),
            Version::V3 => (AuthType::None, [0; AUTH_DATA_LEN]),
        };
        let repr = Repr {
            version,
            vrid: packet.vrid(),
            priority: packet.priority(),
            interval: packet.interval(),
            auth_type,
            auth_data,
            addresses,
        };
        let info = ParseInfo {
            checksum_form,
            trailing: have - packet.message_len(v6),
        };
        Ok((repr, info))
    }

    /// Octets `emit` writes.
    pub fn buffer_len(&self) -> usize {
        let addrs: usize = self
            .addresses
            .iter()
            .map(|a| address_len(a.is_ipv6()))
            .sum();
        let trailer = match self.version {
            Version::V2 => AUTH_DATA_LEN,
            Version::V3 => 0,
        };
        HEADER_LEN + addrs + trailer
    }

    /// Everything `emit` refuses, before a byte is written.
    fn check_emit(&self, ip: IpPair) -> Result<bool, Error> {
        let v6 = ip
            .v6()
            .ok_or(Error::Emit("IP source and destination families differ"))?;
        if self.vrid == 0 {
            return Err(Error::Emit("VRID 0"));
        }
        if self.addresses.len() > 255 {
            return Err(Error::Emit("more than 255 addresses"));
        }
        if self.addresses.iter().any(|a| a.is_ipv6() != v6) {
            return Err(Error::Emit("address family differs from the IP header's"));
        }
        match self.version {
            Version::V2 => {
                if v6 {
                    return Err(Error::Emit("VRRPv2 is IPv4 only"));
                }
                if self.interval == 0 || self.interval > MAX_INTERVAL_V2 {
                    return Err(Error::Emit("VRRPv2 interval outside 1-255 s"));
                }
            }
            Version::V3 => {
                if self.addresses.is_empty() {
                    return Err(Error::Emit("VRRPv3 advert with no address"));
                }
                if self.interval == 0 || self.interval > MAX_INTERVAL_V3 {
                    return Err(Error::Emit("VRRPv3 interval outside 1-4095 cs"));
                }
                if self.auth_type != AuthType::None || self.auth_data != [0; AUTH_DATA_LEN] {
                    return Err(Error::Emit("VRRPv3 has no authentication"));
                }
            }
        }
        Ok(v6)
    }

    /// Write the message and its checksum (computed last) into `buf` (at least
    /// `buffer_len()` octets). Refuses what `parse` would refuse, and also a v2
    /// interval of 0 or an `ip` of the wrong family for the addresses.
    pub fn emit(&self, buf: &mut [u8], ip: IpPair, form: ChecksumForm) -> Result<(), Error> {
        self.check_emit(ip)?;
        let len = self.buffer_len();
        let buf = buf.get_mut(..len).ok_or(Error::Emit("buffer too small"))?;
        buf.fill(0);
        let mut p = Packet::new_unchecked(buf);
        p.set_version_type(self.version.number(), 1);
        p.set_vrid(self.vrid);
        p.set_priority(self.priority);
        // check_emit bounds the count to 255.
        p.set_count(self.addresses.len() as u8);
        if self.version == Version::V2 {
            p.set_auth_type(self.auth_type);
        }
        p.set_interval(self.interval);
        for (i, a) in self.addresses.iter().enumerate() {
            p.set_address(i, *a);
        }
        if self.version == Version::V2 {
            p.set_auth_data(self.auth_data);
        }
        p.fill_checksum(ip, form)
    }
    /// `emit` into a new vector.
    pub fn to_bytes(&self, ip: IpPair, form: ChecksumForm) -> Result<Vec<u8>, Error> {
        let mut v = vec![0; self.buffer_len()];
        self.emit(&mut v, ip, form)?;
        Ok(v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v4pair() -> IpPair {
        IpPair {
            src: "10.0.0.1".parse().unwrap(),
            dst: IpAddr::V4(MCAST_V4),
        }
    }

    fn v6pair() -> IpPair {
        IpPair {
            src: "fe80::1".parse().unwrap(),
            dst: IpAddr::V6(MCAST_V6),
        }
    }

    use crate::hex;

    // Vectors computed independently (a few lines of Python with struct.unpack and
    // the RFC 1071 fold), not by this crate.
    const V2: &str = "21336401000170660a0000640000000000000000";
    const V3_PSEUDO: &str = "31336401006475730a000064";
    const V3_MESSAGE_ONLY: &str = "31336401006460030a000064";

    fn v3_repr() -> Repr {
        Repr {
            version: Version::V3,
            vrid: 51,
            priority: 100,
            interval: 100,
            auth_type: AuthType::None,
            auth_data: [0; 8],
            addresses: vec!["10.0.0.100".parse().unwrap()],
        }
    }

    /// Ledger: PKT-07 — RFC 3768 §5.3.8: "The checksum is the 16-bit one's
    /// complement of the one's complement sum of the entire VRRP message starting
    /// with the version field."
    #[test]
    fn v2_vector_parses_and_emits() {
        let bytes = hex(V2);
        let p = Packet::new_checked(&bytes[..], false).unwrap();
        let (repr, info) = Repr::parse(&p, v4pair()).unwrap();
        assert_eq!(repr.version, Version::V2);
        assert_eq!(repr.interval, 1);
        assert_eq!(info.trailing, 0);
        assert_eq!(
            repr.to_bytes(v4pair(), ChecksumForm::PseudoHeader).unwrap(),
            bytes
        );
        // v2 has no pseudo-header: other IP addresses change nothing.
        let other = IpPair {
            src: "10.9.9.9".parse().unwrap(),
            dst: "10.8.8.8".parse().unwrap(),
        };
        assert!(Repr::parse(&p, other).is_ok());
    }

    /// Ledger: PKT-10 — RFC 5798 §5.2.8: "The checksum is the 16-bit one's
    /// complement of the one's complement sum of the entire VRRP message starting
    /// with the version field and a \"pseudo-header\" as defined in Section 8.1 of
    /// [RFC2460]."
    #[test]
    fn v3_pseudo_header_vector() {
        let bytes = hex(V3_PSEUDO);
        let p = Packet::new_checked(&bytes[..], false).unwrap();
        assert_eq!(
            p.verify_checksum(v4pair()),
            Some(ChecksumForm::PseudoHeader)
        );
        let (repr, info) = Repr::parse(&p, v4pair()).unwrap();
        assert_eq!(info.checksum_form, ChecksumForm::PseudoHeader);
        assert_eq!(repr, v3_repr());
        assert_eq!(
            repr.to_bytes(v4pair(), ChecksumForm::PseudoHeader).unwrap(),
            bytes
        );
    }

    /// Ledger: PKT-09 — RFC 9568 §5.2.8: "The checksum is the 16-bit one's
    /// complement of the one's complement sum of the entire VRRP message starting
    /// with the version field." (for IPv4, no pseudo-header).
    #[test]
    fn v3_message_only_vector() {
        let bytes = hex(V3_MESSAGE_ONLY);
        let p = Packet::new_checked(&bytes[..], false).unwrap();
        assert_eq!(p.verify_checksum(v4pair()), Some(ChecksumForm::MessageOnly));
        let (_, info) = Repr::parse(&p, v4pair()).unwrap();
        assert_eq!(info.checksum_form, ChecksumForm::MessageOnly);
        assert_eq!(
            v3_repr()
                .to_bytes(v4pair(), ChecksumForm::MessageOnly)
                .unwrap(),
            bytes
        );
    }

    /// Ledger: PKT-08 — IPv6 always uses its pseudo-header; the form argument does
    /// not change that.
    #[test]
    fn v3_ipv6_round_trip_uses_pseudo_header() {
        let mut r = v3_repr();
        r.addresses = vec!["fe80::100".parse().unwrap(), "fd00::100".parse().unwrap()];
        let a = r.to_bytes(v6pair(), ChecksumForm::PseudoHeader).unwrap();
        let b = r.to_bytes(v6pair(), ChecksumForm::MessageOnly).unwrap();
        assert_eq!(a, b);
        assert_eq!(a.len(), 8 + 32);
        let p = Packet::new_checked(&a[..], true).unwrap();
        let (back, info) = Repr::parse(&p, v6pair()).unwrap();
        assert_eq!(back, r);
        assert_eq!(info.checksum_form, ChecksumForm::PseudoHeader);
        // Another source address breaks the pseudo-header sum.
        let other = IpPair {
            src: "fe80::2".parse().unwrap(),
            ..v6pair()
        };
        assert_eq!(Repr::parse(&p, other), Err(Error::Checksum));
    }

    /// Ledger: RX-04 — trailing octets are counted, not refused (KA-11); the
    /// checksum runs over the announced length only.
    #[test]
    fn trailing_octets_are_reported() {
        let mut bytes = hex(V3_PSEUDO);
        bytes.extend_from_slice(&[0xde, 0xad, 0xbe]);
        let p = Packet::new_checked(&bytes[..], false).unwrap();
        let (repr, info) = Repr::parse(&p, v4pair()).unwrap();
        assert_eq!(repr, v3_repr());
        assert_eq!(info.trailing, 3);
    }

    /// A checksum verified elsewhere (IPv6 with an auth_hmac trailer): every other
    /// check still runs; `parse` refuses the same bytes for their checksum.
    #[test]
    fn parse_checksum_verified_skips_only_the_checksum() {
        let mut bytes = hex(V3_PSEUDO);
        bytes[6] ^= 0xff;
        let p = Packet::new_checked(&bytes[..], false).unwrap();
        assert_eq!(Repr::parse(&p, v4pair()), Err(Error::Checksum));
        let (repr, _) = Repr::parse_checksum_verified(&p, v4pair()).unwrap();
        assert_eq!(repr, v3_repr());
        bytes[0] = 0x32;
        let p = Packet::new_unchecked(&bytes[..]);
        assert_eq!(
            Repr::parse_checksum_verified(&p, v4pair()),
            Err(Error::Type(2))
        );
    }

    /// Ledger: RX-04 — RFC 9568 §7.1: "MUST verify that the received packet
    /// contains the complete VRRP packet (including fixed fields, and IPvX
    /// address(es))". Every cut is refused as truncated.
    #[test]
    fn every_truncation_is_refused() {
        for v in [V2, V3_PSEUDO] {
            let bytes = hex(v);
            for n in 0..bytes.len() {
                let p = Packet::new_unchecked(&bytes[..n]);
                assert!(matches!(
                    Repr::parse(&p, v4pair()),
                    Err(Error::Truncated { .. })
                ));
            }
        }
    }

    /// Ledger: RX-02 — versions other than 2 and 3 are refused; v2 over IPv6 too.
    #[test]
    fn unknown_versions_are_refused() {
        let mut bytes = hex(V3_PSEUDO);
        for v in [0u8, 1, 4, 15] {
            bytes[0] = (v << 4) | 1;
            let p = Packet::new_unchecked(&bytes[..]);
            assert_eq!(Repr::parse(&p, v4pair()), Err(Error::Version(v)));
        }
        let bytes = hex(V2);
        let p = Packet::new_unchecked(&bytes[..]);
        assert_eq!(Repr::parse(&p, v6pair()), Err(Error::Version(2)));
    }

    #[test]
    fn vrid_zero_is_refused() {
        let mut r = v3_repr();
        let mut bytes = r.to_bytes(v4pair(), ChecksumForm::PseudoHeader).unwrap();
        bytes[1] = 0;
        let p = Packet::new_unchecked(&bytes[..]);
        assert_eq!(Repr::parse(&p, v4pair()), Err(Error::VridZero));
        r.vrid = 0;
        assert!(matches!(
            r.to_bytes(v4pair(), ChecksumForm::PseudoHeader),
            Err(Error::Emit(_))
        ));
    }

    /// Ledger: PKT-06 — RFC 9568 §5.2.5: a v3 advert carries at least one address,
    /// all of the carrying IP header's family.
    #[test]
    fn emit_refuses_what_cannot_be_sent() {
        let p4 = v4pair();
        let f = ChecksumForm::PseudoHeader;
        let mut r = v3_repr();
        r.addresses.clear();
        assert!(r.to_bytes(p4, f).is_err(), "v3 without address");
        let mut r = v3_repr();
        r.addresses.push("fd00::1".parse().unwrap());
        assert!(r.to_bytes(p4, f).is_err(), "mixed families");
        let r = v3_repr();
        assert!(r.to_bytes(v6pair(), f).is_err(), "IPv4 list in IPv6");
        let mixed_pair = IpPair {
            src: "10.0.0.1".parse().unwrap(),
            dst: IpAddr::V6(MCAST_V6),
        };
        assert!(r.to_bytes(mixed_pair, f).is_err(), "mixed IpPair");
        let mut r = v3_repr();
        r.addresses = (0..256u32)
            .map(|i| IpAddr::V4(Ipv4Addr::from(0x0a00_0000 + i)))
            .collect();
        assert!(r.to_bytes(p4, f).is_err(), "256 addresses");
        r.addresses.truncate(255);
        assert!(r.to_bytes(p4, f).is_ok(), "255 addresses");
        for bad in [0u16, 4096] {
            let mut r = v3_repr();
            r.interval = bad;
            assert!(r.to_bytes(p4, f).is_err(), "v3 interval {bad}");
        }
        let mut r = v3_repr();
        r.interval = 4095;
        assert!(r.to_bytes(p4, f).is_ok());
        let mut r = v3_repr();
        r.version = Version::V2;
        for bad in [0u16, 256] {
            r.interval = bad;
            assert!(r.to_bytes(p4, f).is_err(), "v2 interval {bad}");
        }
        r.interval = 255;
        assert!(r.to_bytes(p4, f).is_ok());
        let mut r6 = r.clone();
        r6.addresses = vec!["fe80::1".parse().unwrap()];
        assert!(r6.to_bytes(v6pair(), f).is_err(), "v2 over IPv6");
        let mut small = [0u8; 19];
        assert!(r.emit(&mut small, p4, f).is_err(), "buffer too small");
        let mut r = v3_repr();
        r.auth_type = AuthType::Pass;
        assert!(r.to_bytes(p4, f).is_err(), "v3 with authentication");
    }

    /// Ledger: PKT-05 — RFC 5798 / RFC 9568 §5.2.6 (rsvd): "This field MUST be set
    /// to zero on transmission and ignored on reception."
    #[test]
    fn reserved_nibble_is_ignored_and_written_zero() {
        let r = v3_repr();
        let mut bytes = r.to_bytes(v4pair(), ChecksumForm::MessageOnly).unwrap();
        assert_eq!(bytes[4] >> 4, 0);
        bytes[4] |= 0xf0;
        let mut p = Packet::new_unchecked(&mut bytes[..]);
        p.fill_checksum(v4pair(), ChecksumForm::MessageOnly)
            .unwrap();
        assert_eq!(p.reserved_v3(), 0xf);
        assert_eq!(p.interval(), 100);
        let (back, _) = Repr::parse(&p, v4pair()).unwrap();
        assert_eq!(back, r);
    }

    /// Ledger: RX-08
    /// Ledger: RX-09
    /// RFC 9568 §7.1 with errata 8299 and 8301: a v3 advert with Count IPvX Addr 0,
    /// or with Max Adver Int 0, is discarded.
    #[test]
    fn v3_count_zero_and_interval_zero_are_refused() {
        let mut bytes = [0x31, 51, 100, 0, 0, 100, 0, 0];
        let mut p = Packet::new_unchecked(&mut bytes[..]);
        p.fill_checksum(v4pair(), ChecksumForm::PseudoHeader)
            .unwrap();
        assert_eq!(Repr::parse(&p, v4pair()), Err(Error::NoAddress));

        let mut bytes = hex(V3_PSEUDO);
        bytes[4] = 0xf0;
        bytes[5] = 0;
        let mut p = Packet::new_unchecked(&mut bytes[..]);
        p.fill_checksum(v4pair(), ChecksumForm::PseudoHeader)
            .unwrap();
        assert_eq!(Repr::parse(&p, v4pair()), Err(Error::IntervalZero));
    }

    /// Ledger: RX-03 — RFC 9568 §5.2.2: "A packet with unknown type MUST be
    /// discarded."
    #[test]
    fn other_types_are_refused() {
        for t in [0u8, 2, 15] {
            let mut bytes = hex(V2);
            bytes[0] = 0x20 | t;
            let mut p = Packet::new_unchecked(&mut bytes[..]);
            p.fill_checksum(v4pair(), ChecksumForm::PseudoHeader)
                .unwrap();
            assert_eq!(Repr::parse(&p, v4pair()), Err(Error::Type(t)));
        }
    }

    /// Ledger: PKT-04 — RFC 3768 §5.3.10, Authentication Data: "It SHOULD be set to
    /// zero on transmission and ignored on reception." A non-zero trailer parses.
    #[test]
    fn v2_non_zero_trailer_with_auth_none_parses() {
        let mut r = v3_repr();
        r.version = Version::V2;
        r.interval = 1;
        r.auth_data = *b"garbage!";
        let bytes = r.to_bytes(v4pair(), ChecksumForm::PseudoHeader).unwrap();
        let p = Packet::new_checked(&bytes[..], false).unwrap();
        let (back, _) = Repr::parse(&p, v4pair()).unwrap();
        assert_eq!(back.auth_type, AuthType::None);
        assert_eq!(back, r);
    }

    /// Ledger: AUTH-02 — the password zero-padded to 8 octets, cut at 8.
    #[test]
    fn password_trailer_pads_and_cuts() {
        assert_eq!(password_trailer(b"abc"), *b"abc\0\0\0\0\0");
        assert_eq!(password_trailer(b"123456789"), *b"12345678");
    }

    #[test]
    fn accessors_never_panic_on_short_buffers() {
        for n in 0..12 {
            let b = vec![0x21u8; n];
            let p = Packet::new_unchecked(&b[..]);
            let _ = (p.version_raw(), p.type_raw(), p.vrid(), p.priority());
            let _ = (p.count(), p.interval(), p.auth_type(), p.checksum());
            let _ = (p.auth_data(), p.message_len(true), p.address(0, false));
            let _ = p.verify_checksum(v4pair());
        }
    }
}
