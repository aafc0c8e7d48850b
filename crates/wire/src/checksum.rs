//! The Internet checksum (RFC 1071) and the IPv4 / IPv6 pseudo-headers.
//!
//! Partial sums are `u32` values that can be added with [`combine`] (or `+` for a
//! few of them; every function here folds carries back in, so a partial sum never
//! exceeds 0x1_fffe and a handful can be added without overflow).
use std::net::{Ipv4Addr, Ipv6Addr};

/// Fold the carries of a 32-bit one's-complement accumulator into its low 16 bits.
fn fold(mut sum: u32) -> u32 {
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    sum
}

/// One's-complement sum of `data` as 16-bit big-endian words (odd length padded),
/// not complemented. Carries are folded back in as it goes (the same value in
/// one's-complement arithmetic), so any input length is safe and the result stays
/// at or below 0xffff.
pub fn sum(data: &[u8]) -> u32 {
    let mut acc: u32 = 0;
    let mut words = data.chunks_exact(2);
    for w in &mut words {
        if let [hi, lo] = w {
            acc = fold(acc + u32::from(u16::from_be_bytes([*hi, *lo])));
        }
    }
    if let [last] = words.remainder() {
        acc = fold(acc + (u32::from(*last) << 8));
    }
    acc
}

/// Add two partial sums (end-around carry kept).
pub fn combine(a: u32, b: u32) -> u32 {
    fold(fold(a) + fold(b))
}

/// Fold a 32-bit sum to 16 bits and complement it.
pub fn finish(sum: u32) -> u16 {
    // `fold` leaves at most 0xffff, so the cast loses nothing.
    !(fold(sum) as u16)
}

/// The checksum of `data` alone.
pub fn checksum(data: &[u8]) -> u16 {
    finish(sum(data))
}

/// Sum of the IPv4 pseudo-header (src, dst, zero, protocol, length).
pub fn pseudo_v4(src: Ipv4Addr, dst: Ipv4Addr, protocol: u8, len: u16) -> u32 {
    let mut acc = sum(&src.octets());
    acc = combine(acc, sum(&dst.octets()));
    acc = combine(acc, u32::from(protocol));
    combine(acc, u32::from(len))
}

/// Sum of the IPv6 pseudo-header (RFC 8200 §8.1: src, dst, upper-layer length, next header).
pub fn pseudo_v6(src: Ipv6Addr, dst: Ipv6Addr, next_header: u8, len: u32) -> u32 {
    let mut acc = sum(&src.octets());
    acc = combine(acc, sum(&dst.octets()));
    acc = combine(acc, sum(&len.to_be_bytes()));
    combine(acc, u32::from(next_header))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 1071 §3 worked example: 00 01 f2 03 f4 f5 f6 f7 sums to ddf2 (folded).
    #[test]
    fn rfc1071_example() {
        let data = [0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7];
        assert_eq!(fold(sum(&data)), 0xddf2);
        assert_eq!(checksum(&data), !0xddf2);
    }

    #[test]
    fn odd_length_is_zero_padded() {
        assert_eq!(sum(&[0xab]), 0xab00);
        assert_eq!(sum(&[0x12, 0x34, 0xab]), 0x1234 + 0xab00);
    }

    #[test]
    fn a_buffer_with_its_checksum_sums_to_zero() {
        let mut data = vec![0x45, 0x00, 0x00, 0x1c, 0x12, 0x34, 0x00, 0x00, 0xff, 0x70];
        data.extend_from_slice(&[0, 0, 10, 0, 0, 1, 224, 0, 0, 18]);
        let c = checksum(&data);
        data[10..12].copy_from_slice(&c.to_be_bytes());
        assert_eq!(checksum(&data), 0);
    }

    #[test]
    fn long_input_does_not_overflow() {
        let data = vec![0xff; 200_000];
        assert_eq!(finish(sum(&data)), 0);
    }

    /// Ledger: PKT-08 — the IPv6 pseudo-header builder: "source, destination,
    /// upper-layer length, next header" (RFC 8200 §8.1).
    #[test]
    fn pseudo_v6_matches_the_layout() {
        let src: Ipv6Addr = "fe80::1".parse().unwrap();
        let dst: Ipv6Addr = "ff02::12".parse().unwrap();
        let mut layout = Vec::new();
        layout.extend_from_slice(&src.octets());
        layout.extend_from_slice(&dst.octets());
        layout.extend_from_slice(&20u32.to_be_bytes());
        layout.extend_from_slice(&[0, 0, 0, 112]);
        assert_eq!(fold(pseudo_v6(src, dst, 112, 20)), fold(sum(&layout)));
    }

    #[test]
    fn pseudo_v4_matches_the_layout() {
        let src = Ipv4Addr::new(10, 1, 2, 3);
        let dst = Ipv4Addr::new(224, 0, 0, 18);
        let mut layout = Vec::new();
        layout.extend_from_slice(&src.octets());
        layout.extend_from_slice(&dst.octets());
        layout.extend_from_slice(&[0, 112, 0, 12]);
        assert_eq!(fold(pseudo_v4(src, dst, 112, 12)), fold(sum(&layout)));
    }
}
