//! Just enough header reading for the simulator's bookkeeping (who sent what, with
//! which priority and interval). It validates nothing: the engine under test does
//! that. Kept independent of keepup-wire so the sim does not lean on the code it
//! helps to test.
use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

/// The fields of a VRRP message the simulator records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Peek {
    pub version: u8,
    pub vrid: u8,
    pub priority: u8,
    /// v2: Adver Int in seconds; v3: Max Adver Int in centiseconds (as a Duration).
    pub interval: Duration,
}

/// Read the VRRP fields of a VRRP message (starting at the version octet).
pub fn vrrp(msg: &[u8]) -> Option<Peek> {
    let (&b0, rest) = msg.split_first()?;
    let vrid = *rest.first()?;
    let priority = *rest.get(1)?;
    let b4 = *msg.get(4)?;
    let b5 = *msg.get(5)?;
    let version = b0 >> 4;
    let interval = match version {
        2 => Duration::from_secs(u64::from(b5)),
        _ => Duration::from_millis(10 * ((u64::from(b4 & 0x0f) << 8) | u64::from(b5))),
    };
    Some(Peek {
        version,
        vrid,
        priority,
        interval,
    })
}

/// The addresses of an IPv4 packet and its VRRP message (skipping AH, protocol 51).
pub fn ipv4(packet: &[u8]) -> Option<(Ipv4Addr, Ipv4Addr, &[u8])> {
    let ihl = usize::from(packet.first()? & 0x0f) * 4;
    let proto = *packet.get(9)?;
    let src = <[u8; 4]>::try_from(packet.get(12..16)?).ok()?;
    let dst = <[u8; 4]>::try_from(packet.get(16..20)?).ok()?;
    let mut payload = packet.get(ihl..)?;
    if proto == 51 {
        // AH: next header, payload length in 32-bit words minus 2 (RFC 4302 §2.2).
        let len = (usize::from(*payload.get(1)?) + 2) * 4;
        payload = payload.get(len..)?;
    }
    Some((Ipv4Addr::from(src), Ipv4Addr::from(dst), payload))
}

/// The source and VRRP fields of an IPv4 advert.
pub fn ipv4_advert(packet: &[u8]) -> Option<(IpAddr, Peek)> {
    let (src, _, msg) = ipv4(packet)?;
    Some((IpAddr::V4(src), vrrp(msg)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_v2_and_v3_fields() {
        // v2, VRID 51, prio 100, 1 VIP, auth 0, 1 s.
        let v2 = [0x21, 51, 100, 1, 0, 1, 0, 0];
        let p = vrrp(&v2).expect("v2");
        assert_eq!((p.version, p.vrid, p.priority), (2, 51, 100));
        assert_eq!(p.interval, Duration::from_secs(1));
        // v3, rsvd bits set (ignored), 0x014 = 20 cs.
        let v3 = [0x31, 7, 200, 1, 0xf0, 0x14, 0, 0];
        let p = vrrp(&v3).expect("v3");
        assert_eq!(p.interval, Duration::from_millis(200));
        assert_eq!(vrrp(&v3[..5]), None);
    }

    #[test]
    fn reads_ipv4_and_skips_ah() {
        let mut pkt = vec![0x45, 0xc0, 0, 0, 0, 0, 0, 0, 255, 112, 0, 0];
        pkt.extend_from_slice(&[10, 0, 0, 1, 224, 0, 0, 18]);
        pkt.extend_from_slice(&[0x21, 51, 100, 1, 0, 1, 0, 0]);
        let (src, dst, msg) = ipv4(&pkt).expect("plain");
        assert_eq!(src, Ipv4Addr::new(10, 0, 0, 1));
        assert_eq!(dst, Ipv4Addr::new(224, 0, 0, 18));
        assert_eq!(msg.first(), Some(&0x21));
        // The same with a 24-octet AH header (payload length 4) before VRRP.
        let mut ah = pkt[..20].to_vec();
        ah[9] = 51;
        ah.extend_from_slice(&[112, 4]);
        ah.extend_from_slice(&[0; 22]);
        ah.extend_from_slice(&pkt[20..]);
        let (_, p) = ipv4_advert(&ah).expect("ah");
        assert_eq!((p.vrid, p.priority), (51, 100));
        assert_eq!(ipv4(&pkt[..15]), None);
    }
}
