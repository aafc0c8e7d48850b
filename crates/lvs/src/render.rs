//! A table as `ipvsadm -Ln --sort` prints it, for `keepup status`: operators compare
//! it with ipvsadm's line for line (a VM test does too).
//!
//! The layout, as ipvsadm 1.31 prints it: a version line, two heading lines, then per
//! service the protocol padded to 4 and the address (`TCP  10.0.0.1:80`, `SCTP
//! 10.0.0.1:80`, or `FWM  MARK [IPv6]`), the scheduler, its flags in parentheses,
//! `persistent T [mask M] [pe NAME]` and `ops`; per destination `  -> ADDR:PORT` padded
//! to 28, the method padded to 7, the weight to 6, and the active and inactive
//! connection counts to 10 each.
//!
//! With `--sort`, ipvsadm orders services by firewall mark, family, protocol, address
//! and port, and destinations by address and port, each compared as the C difference
//! of the two values in 32 bits: `10.0.0.1` minus `192.168.0.1` wraps to a positive
//! number, so `192.168.0.1` comes first. The same comparison and the same merge sort as
//! glibc's `qsort` give the same order here (a comparison that is not a total order
//! would make std's sort panic, and this one is not).
use std::fmt::Write;
use std::net::IpAddr;

use crate::table::{Destination, Family, Forward, SchedFlags, Service, ServiceKey};

/// One destination with the kernel's connection counts.
pub struct Listed<'a> {
    pub dest: &'a Destination,
    pub active_conns: u32,
    pub inact_conns: u32,
}

/// The whole listing. `version` is IPVS_INFO_ATTR_VERSION and the connection table's
/// size, when known.
pub fn ipvsadm_list<'a>(
    version: Option<(u32, u32)>,
    services: impl IntoIterator<Item = (&'a Service, Vec<Listed<'a>>)>,
) -> String {
    let mut out = String::new();
    if let Some((v, size)) = version {
        let _ = writeln!(
            out,
            "IP Virtual Server version {}.{}.{} (size={size})",
            (v >> 16) & 0xff,
            (v >> 8) & 0xff,
            v & 0xff
        );
    }
    out.push_str("Prot LocalAddress:Port Scheduler Flags\n");
    out.push_str("  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn\n");
    let mut services: Vec<_> = services.into_iter().collect();
    merge_sort(&mut services, &|a, b| c_cmp_services(&a.0.key, &b.0.key));
    for (s, mut dests) in services {
        out.push_str(&service_line(s));
        out.push('\n');
        merge_sort(&mut dests, &|a, b| {
            c_cmp_addr_port(
                &a.dest.key.addr,
                a.dest.key.port,
                &b.dest.key.addr,
                b.dest.key.port,
            )
        });
        for d in dests {
            let _ = writeln!(
                out,
                "  -> {:<28} {:<7} {:<6} {:<10} {:<10}",
                dest_name(s.key.family(), &d.dest.key.addr, d.dest.key.port),
                forward_name(d.dest.forward),
                d.dest.weight,
                d.active_conns,
                d.inact_conns
            );
        }
    }
    out
}

/// The sign of a C `int r = a - b` on unsigned 32-bit values.
fn c_diff(a: u32, b: u32) -> i32 {
    a.wrapping_sub(b) as i32
}

/// libipvs's `ipvs_cmp_services`: firewall mark, family, protocol, then address and
/// port.
fn c_cmp_services(a: &ServiceKey, b: &ServiceKey) -> i32 {
    let parts = |k: &ServiceKey| match *k {
        ServiceKey::Addr {
            protocol,
            addr,
            port,
        } => (0, Family::of(&addr), protocol.number(), Some((addr, port))),
        ServiceKey::Fwmark { family, mark } => (mark, family, 0, None),
    };
    let (ma, fa, pa, aa) = parts(a);
    let (mb, fb, pb, ab) = parts(b);
    let r = c_diff(ma, mb);
    if r != 0 {
        return r;
    }
    let r = i32::from(fa.af()) - i32::from(fb.af());
    if r != 0 {
        return r;
    }
    let r = i32::from(pa) - i32::from(pb);
    if r != 0 {
        return r;
    }
    match (aa, ab) {
        (Some((a, pa)), Some((b, pb))) => c_cmp_addr_port(&a, pa, &b, pb),
        _ => 0,
    }
}

/// libipvs's address-then-port comparison (`ipvs_cmp_dests`): 32-bit words in network
/// order, then the port.
fn c_cmp_addr_port(a: &IpAddr, pa: u16, b: &IpAddr, pb: u16) -> i32 {
    let words = |ip: &IpAddr| -> Vec<u32> {
        match ip {
            IpAddr::V4(v4) => vec![u32::from(*v4)],
            IpAddr::V6(v6) => v6
                .octets()
                .chunks(4)
                .map(|c| u32::from_be_bytes([c[0], c[1], c[2], c[3]]))
                .collect(),
        }
    };
    let r = words(a)
        .iter()
        .zip(words(b))
        .map(|(x, y)| c_diff(*x, y))
        .find(|r| *r != 0)
        .unwrap_or(0);
    if r != 0 {
        return r;
    }
    i32::from(pa) - i32::from(pb)
}

/// glibc's `qsort` for arrays that fit its buffer: a top-down merge sort that splits
/// at n/2 and takes from the left run while the comparison is `<= 0`. Never panics,
/// whatever the comparison.
fn merge_sort<T>(items: &mut Vec<T>, cmp: &dyn Fn(&T, &T) -> i32) {
    if items.len() <= 1 {
        return;
    }
    let right_half = items.split_off(items.len() / 2);
    let mut left = std::mem::take(items);
    let mut right = right_half;
    merge_sort(&mut left, cmp);
    merge_sort(&mut right, cmp);
    let mut l = left.into_iter().peekable();
    let mut r = right.into_iter().peekable();
    while let (Some(a), Some(b)) = (l.peek(), r.peek()) {
        let take_left = cmp(a, b) <= 0;
        let next = if take_left { l.next() } else { r.next() };
        items.extend(next);
    }
    items.extend(l);
    items.extend(r);
}

/// `TCP  10.0.0.1:80 wlc (flag-1) persistent 50 mask 255.255.255.0 pe sip ops`.
pub fn service_line(s: &Service) -> String {
    let mut line = match s.key {
        ServiceKey::Addr {
            protocol,
            addr,
            port,
        } => {
            let mut name = format!("{:<4} {}", protocol.name(), addr_port(&addr, port));
            // ipvsadm cuts an IPv4 service's name at 33 characters.
            if addr.is_ipv4() {
                name.truncate(33);
            }
            name
        }
        ServiceKey::Fwmark {
            family: Family::V4,
            mark,
        } => format!("FWM  {mark}"),
        ServiceKey::Fwmark {
            family: Family::V6,
            mark,
        } => format!("FWM  {mark} IPv6"),
    };
    let _ = write!(line, " {}", s.scheduler);
    let flags = sched_flag_names(&s.scheduler, s.flags);
    if !flags.is_empty() {
        let _ = write!(line, " ({})", flags.join(","));
    }
    if s.flags.has(SchedFlags::PERSISTENT) {
        let _ = write!(line, " persistent {}", s.timeout);
        match s.key.family() {
            Family::V4 if s.netmask != u32::MAX => {
                let _ = write!(line, " mask {}", std::net::Ipv4Addr::from(s.netmask));
            }
            Family::V6 if s.netmask != 128 => {
                let _ = write!(line, " mask {}", s.netmask);
            }
            _ => {}
        }
        if let Some(pe) = &s.pe_name {
            let _ = write!(line, " pe {pe}");
        }
    }
    if s.flags.has(SchedFlags::ONEPACKET) {
        line.push_str(" ops");
    }
    line
}

/// The scheduler flags by the names ipvsadm gives them for this scheduler.
fn sched_flag_names(scheduler: &str, flags: SchedFlags) -> Vec<&'static str> {
    let (one, two, three) = match scheduler {
        "sh" => ("sh-fallback", "sh-port", "flag-3"),
        "mh" => ("mh-fallback", "mh-port", "flag-3"),
        _ => ("flag-1", "flag-2", "flag-3"),
    };
    [
        (SchedFlags::SCHED1, one),
        (SchedFlags::SCHED2, two),
        (SchedFlags::SCHED3, three),
    ]
    .into_iter()
    .filter(|(f, _)| flags.has(*f))
    .map(|(_, n)| n)
    .collect()
}

fn forward_name(f: Forward) -> &'static str {
    match f {
        Forward::Masq => "Masq",
        Forward::Local => "Local",
        Forward::Tunnel(_) => "Tunnel",
        Forward::Route => "Route",
        Forward::Bypass => "Bypass",
    }
}

fn addr_port(addr: &IpAddr, port: u16) -> String {
    match addr {
        IpAddr::V4(a) => format!("{a}:{port}"),
        IpAddr::V6(a) => format!("[{a}]:{port}"),
    }
}

/// A destination's name; ipvsadm cuts it at 28 characters in an IPv4 service.
fn dest_name(service_family: Family, addr: &IpAddr, port: u16) -> String {
    let mut name = addr_port(addr, port);
    if service_family == Family::V4 {
        name.truncate(28);
    }
    name
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::table::{Protocol, TunnelType};

    fn service(key: ServiceKey, sched: &str, flags: u32, timeout: u32, netmask: u32) -> Service {
        Service {
            flags: SchedFlags(flags),
            timeout,
            netmask,
            ..Service::new(key, sched)
        }
    }

    fn dest(addr: &str, port: u16, forward: Forward, weight: u32) -> Destination {
        let addr = addr.parse().unwrap_or(IpAddr::from([0, 0, 0, 0]));
        Destination::new(addr, port, forward, weight)
    }

    /// Lines as ipvsadm 1.31 printed them in the VM for the same entries.
    #[test]
    fn lines_match_ipvsadm() {
        let tcp = ServiceKey::Addr {
            protocol: Protocol::Tcp,
            addr: IpAddr::from([10, 1, 0, 1]),
            port: 80,
        };
        let s = service(tcp, "mh", SchedFlags::PERSISTENT, 30, 0xffff_ff00);
        assert_eq!(
            service_line(&s),
            "TCP  10.1.0.1:80 mh persistent 30 mask 255.255.255.0"
        );
        let udp = ServiceKey::Addr {
            protocol: Protocol::Udp,
            addr: IpAddr::from([10, 1, 0, 2]),
            port: 53,
        };
        let mut s = service(
            udp,
            "rr",
            SchedFlags::PERSISTENT | SchedFlags::ONEPACKET,
            60,
            u32::MAX,
        );
        s.pe_name = Some("sip".into());
        assert_eq!(
            service_line(&s),
            "UDP  10.1.0.2:53 rr persistent 60 pe sip ops"
        );
        let s = service(
            tcp,
            "sh",
            SchedFlags::SCHED1 | SchedFlags::SCHED2,
            0,
            u32::MAX,
        );
        assert_eq!(
            service_line(&s),
            "TCP  10.1.0.1:80 sh (sh-fallback,sh-port)"
        );
        let sctp = ServiceKey::Addr {
            protocol: Protocol::Sctp,
            addr: IpAddr::from([10, 1, 2, 2]),
            port: 3868,
        };
        assert_eq!(
            service_line(&service(sctp, "rr", 0, 0, u32::MAX)),
            "SCTP 10.1.2.2:3868 rr"
        );
        let fwm = ServiceKey::Fwmark {
            family: Family::V6,
            mark: 6,
        };
        assert_eq!(
            service_line(&service(fwm, "rr", 0, 0, 128)),
            "FWM  6 IPv6 rr"
        );
        let d = dest("10.2.0.1", 80, Forward::Tunnel(TunnelType::Ipip), 3);
        let s = service(tcp, "wlc", 0, 0, u32::MAX);
        let out = ipvsadm_list(
            Some((0x010201, 4096)),
            [(
                &s,
                vec![Listed {
                    dest: &d,
                    active_conns: 0,
                    inact_conns: 0,
                }],
            )],
        );
        assert_eq!(
            out,
            "IP Virtual Server version 1.2.1 (size=4096)\n\
             Prot LocalAddress:Port Scheduler Flags\n\
             \x20 -> RemoteAddress:Port           Forward Weight ActiveConn InActConn\n\
             TCP  10.1.0.1:80 wlc\n\
             \x20 -> 10.2.0.1:80                  Tunnel  3      0          0         \n"
        );
    }

    #[test]
    fn services_sort_address_services_first_then_marks() {
        let key = |a: [u8; 4], port| ServiceKey::Addr {
            protocol: Protocol::Tcp,
            addr: IpAddr::from(a),
            port,
        };
        let a = service(key([192, 168, 0, 1], 80), "rr", 0, 0, u32::MAX);
        let b = service(key([10, 0, 0, 2], 80), "rr", 0, 0, u32::MAX);
        let f = service(
            ServiceKey::Fwmark {
                family: Family::V4,
                mark: 1,
            },
            "rr",
            0,
            0,
            u32::MAX,
        );
        let out = ipvsadm_list(None, [(&f, vec![]), (&a, vec![]), (&b, vec![])]);
        let lines: Vec<_> = out.lines().skip(2).collect();
        // 10.0.0.2 - 192.168.0.1 wraps positive in C: ipvsadm lists 192.168.0.1 first.
        assert_eq!(
            lines,
            ["TCP  192.168.0.1:80 rr", "TCP  10.0.0.2:80 rr", "FWM  1 rr"]
        );
    }
}
