//! The IPv4 header, as keepup writes it for adverts (IP_HDRINCL, so AH can cover it)
//! and as raw IPv4 sockets deliver it on receive.
use crate::{ah, Error};
use std::net::Ipv4Addr;

/// IPv4 header without options.
pub const HEADER_LEN: usize = 20;

/// A view over an IPv4 packet (header first).
#[derive(Debug, Clone)]
pub struct Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Packet<T> {
    pub fn new_unchecked(buffer: T) -> Packet<T> {
        Packet { buffer }
    }
    /// Version 4, IHL ≥ 5, header and total length within the buffer.
    pub fn new_checked(buffer: T) -> Result<Packet<T>, Error> {
        let _ = &buffer;
        todo!("helper W")
    }
    pub fn header_len(&self) -> usize {
        todo!()
    }
    pub fn total_len(&self) -> usize {
        todo!()
    }
    pub fn ttl(&self) -> u8 {
        todo!()
    }
    pub fn protocol(&self) -> u8 {
        todo!()
    }
    pub fn src(&self) -> Ipv4Addr {
        todo!()
    }
    pub fn dst(&self) -> Ipv4Addr {
        todo!()
    }
    /// The octets after the header, up to the total length.
    pub fn payload(&self) -> &[u8] {
        todo!()
    }
}

/// The header fields keepup sets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Repr {
    pub src: Ipv4Addr,
    pub dst: Ipv4Addr,
    pub protocol: u8,
    pub ttl: u8,
    /// Identification (keepalived increments it per packet).
    pub ident: u16,
    /// TOS octet; keepalived sends 0xc0 (precedence internetwork control).
    pub tos: u8,
    pub payload_len: usize,
}

impl Repr {
    /// Write a 20-octet header with its checksum (DF clear, no options).
    pub fn emit(&self, buf: &mut [u8]) -> Result<(), Error> {
        let _ = buf;
        todo!()
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
pub fn parse_advert(packet: &[u8]) -> Result<Advert<'_>, Error> {
    let _ = packet;
    todo!()
}

/// Build a whole IPv4 packet: header (protocol 112, or 51 when `ah` is given), the AH
/// header with its ICV computed over the packet (HMAC-MD5-96, keyed by `ah.1`), then
/// `vrrp` (an already emitted VRRP message).
pub fn emit_advert(header: Repr, ah: Option<(ah::Repr, &[u8])>, vrrp: &[u8]) -> Vec<u8> {
    let _ = (header, ah, vrrp);
    todo!()
}
