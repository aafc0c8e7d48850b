//! keepup-wire: the bytes keepup sends and receives, and nothing else.
//!
//! Every format follows one shape (smoltcp's): a `Packet<T: AsRef<[u8]>>` view with
//! named field ranges and one `check_len()` after which no accessor panics, and a
//! validated `Repr` with `parse`, `emit` and `buffer_len`. No I/O, no clock.
//!
//! - [`vrrp`]: VRRPv2 (RFC 3768) and VRRPv3 (RFC 5798 / RFC 9568) advertisements.
//! - [`checksum`]: the Internet checksum and the IPv4/IPv6 pseudo-headers.
//! - [`ipv4`]: the IPv4 header keepup builds (IP_HDRINCL) and reads from raw sockets.
//! - [`ah`]: IPsec AH with HMAC-MD5-96 as keepalived uses it for `auth_type AH`.
//! - [`hmac_auth`]: the `auth_hmac` trailer of keepalived 2.4.2+ (HMAC-SHA256-128, a
//!   time-based sequence, anti-replay, key values).
//! - [`arp`]: gratuitous ARP frames.
//! - [`ndisc`]: unsolicited IPv6 neighbour advertisements.
//! - [`ra`]: IPv6 router advertisements for a virtual router, router solicitations.
#![cfg_attr(not(test), deny(clippy::indexing_slicing))]

pub mod ah;
pub mod arp;
mod bytes;
pub mod checksum;
pub mod hmac_auth;
mod icmp6;
pub mod ipv4;
pub mod ndisc;
pub mod ra;
pub mod vrrp;

mod error;

/// Hex text to bytes, for the unit tests' packet images.
#[cfg(test)]
pub(crate) fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex digits"))
        .collect()
}
pub use error::Error;

/// A 48-bit Ethernet address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct MacAddr(pub [u8; 6]);

impl MacAddr {
    pub const BROADCAST: MacAddr = MacAddr([0xff; 6]);

    /// The IPv4 virtual router MAC, 00-00-5E-00-01-{VRID} (RFC 3768 §7.3, RFC 9568 §7.3).
    pub fn vrrp_v4(vrid: u8) -> MacAddr {
        MacAddr([0x00, 0x00, 0x5e, 0x00, 0x01, vrid])
    }

    /// The IPv6 virtual router MAC, 00-00-5E-00-02-{VRID} (RFC 9568 §7.3).
    pub fn vrrp_v6(vrid: u8) -> MacAddr {
        MacAddr([0x00, 0x00, 0x5e, 0x00, 0x02, vrid])
    }
}

impl std::fmt::Display for MacAddr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let m = self.0;
        write!(
            f,
            "{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}",
            m[0], m[1], m[2], m[3], m[4], m[5]
        )
    }
}
