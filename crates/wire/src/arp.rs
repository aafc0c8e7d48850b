//! Gratuitous ARP (RFC 5227 §3 announcement form, as keepalived sends it): an
//! Ethernet broadcast ARP request whose sender and target protocol addresses are both
//! the VIP (ARP-01).
use crate::{Error, MacAddr};
use std::net::Ipv4Addr;

/// Ethernet header + ARP for IPv4 over Ethernet.
pub const FRAME_LEN: usize = 42;

/// An ARP packet for IPv4 over Ethernet, with its Ethernet header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Repr {
    pub eth_src: MacAddr,
    pub eth_dst: MacAddr,
    /// 1 request, 2 reply.
    pub operation: u16,
    pub sender_mac: MacAddr,
    pub sender_ip: Ipv4Addr,
    pub target_mac: MacAddr,
    pub target_ip: Ipv4Addr,
}

impl Repr {
    /// The gratuitous ARP keepalived sends for `vip` from `mac`.
    pub fn gratuitous(mac: MacAddr, vip: Ipv4Addr) -> Repr {
        let _ = (mac, vip);
        todo!("helper W")
    }
    pub fn parse(frame: &[u8]) -> Result<Repr, Error> {
        let _ = frame;
        todo!()
    }
    pub fn emit(&self) -> [u8; FRAME_LEN] {
        todo!()
    }
}
