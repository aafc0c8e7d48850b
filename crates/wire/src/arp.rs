//! Gratuitous ARP (RFC 5227 §3 announcement form, as keepalived sends it): an
//! Ethernet broadcast ARP request whose sender and target protocol addresses are both
//! the VIP (ARP-01).
//!
//! keepalived 2.2.7 (captured, see `tests/fixtures.rs`): Ethernet destination
//! ff:ff:ff:ff:ff:ff, source = the interface MAC (the VMAC with `use_vmac`),
//! operation 1 (request), sender = (MAC, VIP), target hardware address
//! ff:ff:ff:ff:ff:ff (not zeros), target protocol address = the VIP. It hands the
//! kernel 42 octets, no padding; a NIC pads to the 60-octet Ethernet minimum on the
//! wire, a veth does not. [`Repr::emit`] gives the same 42 octets.
//!
//! ```text
//! Ethernet: dst(6) src(6) type 0x0806(2)
//! ARP:      htype 1(2) ptype 0x0800(2) hlen 6(1) plen 4(1) op(2)
//!           sha(6) spa(4) tha(6) tpa(4)
//! ```
use crate::{bytes, Error, MacAddr};
use std::net::Ipv4Addr;

/// Ethernet header + ARP for IPv4 over Ethernet.
pub const FRAME_LEN: usize = 42;
/// EtherType of ARP.
pub const ETHERTYPE: u16 = 0x0806;
/// ARP operation: request.
pub const OP_REQUEST: u16 = 1;
/// ARP operation: reply.
pub const OP_REPLY: u16 = 2;

mod field {
    pub const ETH_DST: usize = 0;
    pub const ETH_SRC: usize = 6;
    pub const ETHERTYPE: usize = 12;
    pub const HTYPE: usize = 14;
    pub const PTYPE: usize = 16;
    pub const HLEN: usize = 18;
    pub const PLEN: usize = 19;
    pub const OPER: usize = 20;
    pub const SHA: usize = 22;
    pub const SPA: usize = 28;
    pub const THA: usize = 32;
    pub const TPA: usize = 38;
}

/// A view over an Ethernet frame carrying ARP.
#[derive(Debug, Clone)]
pub struct Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Packet<T> {
    /// Wrap without checking; missing fields read as zero.
    pub fn new_unchecked(buffer: T) -> Packet<T> {
        Packet { buffer }
    }
    /// Wrap and `check_len`.
    pub fn new_checked(buffer: T) -> Result<Packet<T>, Error> {
        let p = Packet::new_unchecked(buffer);
        p.check_len()?;
        Ok(p)
    }
    /// At least 42 octets (longer is link padding and ignored).
    pub fn check_len(&self) -> Result<(), Error> {
        let have = self.b().len();
        if have < FRAME_LEN {
            return Err(Error::Truncated {
                have,
                need: FRAME_LEN,
            });
        }
        Ok(())
    }
    fn b(&self) -> &[u8] {
        self.buffer.as_ref()
    }
    fn mac(&self, at: usize) -> MacAddr {
        MacAddr(bytes::array(self.b(), at))
    }
    fn ip(&self, at: usize) -> Ipv4Addr {
        Ipv4Addr::from(bytes::array::<4>(self.b(), at))
    }
    pub fn eth_dst(&self) -> MacAddr {
        self.mac(field::ETH_DST)
    }
    pub fn eth_src(&self) -> MacAddr {
        self.mac(field::ETH_SRC)
    }
    pub fn ethertype(&self) -> u16 {
        bytes::be16(self.b(), field::ETHERTYPE)
    }
    pub fn hardware_type(&self) -> u16 {
        bytes::be16(self.b(), field::HTYPE)
    }
    pub fn protocol_type(&self) -> u16 {
        bytes::be16(self.b(), field::PTYPE)
    }
    pub fn hardware_len(&self) -> u8 {
        bytes::u8_at(self.b(), field::HLEN)
    }
    pub fn protocol_len(&self) -> u8 {
        bytes::u8_at(self.b(), field::PLEN)
    }
    pub fn operation(&self) -> u16 {
        bytes::be16(self.b(), field::OPER)
    }
    pub fn sender_mac(&self) -> MacAddr {
        self.mac(field::SHA)
    }
    pub fn sender_ip(&self) -> Ipv4Addr {
        self.ip(field::SPA)
    }
    pub fn target_mac(&self) -> MacAddr {
        self.mac(field::THA)
    }
    pub fn target_ip(&self) -> Ipv4Addr {
        self.ip(field::TPA)
    }
}

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
    /// The gratuitous ARP keepalived sends for `vip` from `mac`: broadcast request,
    /// sender and target IP = `vip`, target MAC = broadcast.
    pub fn gratuitous(mac: MacAddr, vip: Ipv4Addr) -> Repr {
        Repr {
            eth_src: mac,
            eth_dst: MacAddr::BROADCAST,
            operation: OP_REQUEST,
            sender_mac: mac,
            sender_ip: vip,
            target_mac: MacAddr::BROADCAST,
            target_ip: vip,
        }
    }
    /// Read an Ethernet/ARP frame for IPv4 over Ethernet (htype 1, ptype 0x0800,
    /// lengths 6 and 4). Any operation is accepted; padding after 42 octets ignored.
    pub fn parse(frame: &[u8]) -> Result<Repr, Error> {
        let p = Packet::new_checked(frame)?;
        if p.ethertype() != ETHERTYPE {
            return Err(Error::Frame("EtherType is not ARP"));
        }
        if p.hardware_type() != 1
            || p.protocol_type() != 0x0800
            || p.hardware_len() != 6
            || p.protocol_len() != 4
        {
            return Err(Error::Frame("ARP is not IPv4 over Ethernet"));
        }
        Ok(Repr {
            eth_src: p.eth_src(),
            eth_dst: p.eth_dst(),
            operation: p.operation(),
            sender_mac: p.sender_mac(),
            sender_ip: p.sender_ip(),
            target_mac: p.target_mac(),
            target_ip: p.target_ip(),
        })
    }
    pub fn emit(&self) -> [u8; FRAME_LEN] {
        let mut f = [0u8; FRAME_LEN];
        bytes::put(&mut f, field::ETH_DST, &self.eth_dst.0);
        bytes::put(&mut f, field::ETH_SRC, &self.eth_src.0);
        bytes::put_be16(&mut f, field::ETHERTYPE, ETHERTYPE);
        bytes::put_be16(&mut f, field::HTYPE, 1);
        bytes::put_be16(&mut f, field::PTYPE, 0x0800);
        bytes::put_u8(&mut f, field::HLEN, 6);
        bytes::put_u8(&mut f, field::PLEN, 4);
        bytes::put_be16(&mut f, field::OPER, self.operation);
        bytes::put(&mut f, field::SHA, &self.sender_mac.0);
        bytes::put(&mut f, field::SPA, &self.sender_ip.octets());
        bytes::put(&mut f, field::THA, &self.target_mac.0);
        bytes::put(&mut f, field::TPA, &self.target_ip.octets());
        f
    }
}
