//! The Internet checksum (RFC 1071) and the IPv4 / IPv6 pseudo-headers.
use std::net::{Ipv4Addr, Ipv6Addr};

/// One's-complement sum of `data` as 16-bit big-endian words (odd length padded),
/// not folded, not complemented.
pub fn sum(data: &[u8]) -> u32 {
    let _ = data;
    todo!("helper W")
}

/// Fold a 32-bit sum to 16 bits and complement it.
pub fn finish(sum: u32) -> u16 {
    let _ = sum;
    todo!()
}

/// The checksum of `data` alone.
pub fn checksum(data: &[u8]) -> u16 {
    finish(sum(data))
}

/// Sum of the IPv4 pseudo-header (src, dst, zero, protocol, length).
pub fn pseudo_v4(src: Ipv4Addr, dst: Ipv4Addr, protocol: u8, len: u16) -> u32 {
    let _ = (src, dst, protocol, len);
    todo!()
}

/// Sum of the IPv6 pseudo-header (RFC 8200 §8.1: src, dst, upper-layer length, next header).
pub fn pseudo_v6(src: Ipv6Addr, dst: Ipv6Addr, next_header: u8, len: u32) -> u32 {
    let _ = (src, dst, next_header, len);
    todo!()
}
