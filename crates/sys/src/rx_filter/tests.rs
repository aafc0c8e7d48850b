//! The filter programs run over crafted packets by the module's classic-BPF
//! interpreter (the instructions the builder uses, with the kernel's rule that a load
//! past the packet's end drops it), and attached to a real socket for the kernel's
//! checker.
use super::*;

fn pw(s: &str) -> [u8; 8] {
    let mut p = [0u8; 8];
    p[..s.len()].copy_from_slice(s.as_bytes());
    p
}

/// VRRPv2/v3 advert: version, type 1, VRID, priority 100, one address, auth type,
/// password (v2's 8 octets; checksums are not the filter's business).
fn vrrp(version: u8, vrid: u8, auth_type: u8, password: &str) -> Vec<u8> {
    let mut v = vec![
        version << 4 | 1,
        vrid,
        100,
        1,
        auth_type,
        1,
        0,
        0,
        10,
        0,
        0,
        100,
    ];
    if version == 2 {
        v.extend_from_slice(&pw(password));
    }
    v
}

fn ipv4(ttl: u8, proto: u8, options: usize, payload: &[u8]) -> Vec<u8> {
    let ihl = 5 + options;
    let mut p = vec![0x40 | ihl as u8, 0xc0, 0, 0, 0, 0, 0, 0, ttl, proto, 0, 0];
    p.extend_from_slice(&[10, 0, 0, 2, 224, 0, 0, 18]);
    p.extend(std::iter::repeat_n(1u8, options * 4));
    p.extend_from_slice(payload);
    p
}

/// AH with Payload Len 4 (24 octets: 12 fixed, 12 of ICV), then `payload`.
fn ah(payload: &[u8]) -> Vec<u8> {
    let mut p = vec![112, 4, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1];
    p.extend_from_slice(&[0xaa; 12]);
    p.extend_from_slice(payload);
    p
}

fn v4_filter() -> RxFilter {
    RxFilter {
        versions: vec![2, 3],
        vrids: vec![(51, Some(vec![pw("secret"), pw("rotated1")])), (52, None)],
        any_vrid: false,
    }
}

/// Kept always; dropped but for the sample (`rand` a multiple of SAMPLE).
fn kept(prog: &[Insn], pkt: &[u8]) -> bool {
    run(prog, pkt, 1) != 0
}
fn sampled(prog: &[Insn], pkt: &[u8]) -> bool {
    run(prog, pkt, 1) == 0 && run(prog, pkt, 2 * SAMPLE) != 0 && run(prog, pkt, 63) == 0
}

#[test]
fn ipv4_keeps_what_an_instance_may_accept() {
    let p = v4_filter().program(Layout::V4);
    assert!(kept(&p, &ipv4(255, 112, 0, &vrrp(2, 51, 1, "secret"))));
    assert!(kept(&p, &ipv4(255, 112, 0, &vrrp(2, 51, 1, "rotated1"))));
    assert!(kept(&p, &ipv4(255, 112, 0, &vrrp(3, 51, 0, ""))));
    // VRID 52 has an instance without a password: any is the engine's to judge.
    assert!(kept(&p, &ipv4(255, 112, 0, &vrrp(2, 52, 1, "whatever"))));
    // No authentication on a PASS VRID: the engine counts the type mismatch.
    assert!(kept(&p, &ipv4(255, 112, 0, &vrrp(2, 51, 0, ""))));
    // A unicast advert's TTL is the engine's to judge (min_ttl, max_ttl).
    let mut unicast = ipv4(64, 112, 0, &vrrp(2, 51, 1, "secret"));
    unicast[16..20].copy_from_slice(&[10, 0, 0, 1]);
    assert!(kept(&p, &unicast));
    // IP options move the VRRP header.
    assert!(kept(&p, &ipv4(255, 112, 2, &vrrp(2, 51, 1, "secret"))));
}

/// `any_vrid` (what the daemon sets): a foreign VRID, a wrong password and the other
/// VRRP version reach the engine, which names them; TTL, versions other than 2 and 3
/// and the type are still judged here.
#[test]
fn any_vrid_lets_every_vrid_and_password_through() {
    let f = RxFilter {
        any_vrid: true,
        ..v4_filter()
    };
    let p = f.program(Layout::V4);
    assert!(kept(&p, &ipv4(255, 112, 0, &vrrp(2, 99, 1, "secret"))));
    assert!(kept(&p, &ipv4(255, 112, 0, &vrrp(2, 51, 1, "wrong"))));
    assert!(kept(&p, &ipv4(255, 112, 0, &vrrp(3, 200, 0, ""))));
    let v2_only = RxFilter {
        versions: vec![2],
        ..f.clone()
    };
    let p2 = v2_only.program(Layout::V4);
    assert!(kept(&p2, &ipv4(255, 112, 0, &vrrp(3, 51, 0, ""))));
    assert!(sampled(&p, &ipv4(64, 112, 0, &vrrp(2, 51, 1, "secret"))));
    assert!(sampled(&p, &ipv4(255, 112, 0, &vrrp(1, 51, 1, "secret"))));
}

#[test]
fn ipv4_drops_what_no_instance_accepts_but_a_sample() {
    let p = v4_filter().program(Layout::V4);
    for bad in [
        ipv4(64, 112, 0, &vrrp(2, 51, 1, "secret")),
        ipv4(254, 112, 0, &vrrp(2, 51, 1, "secret")),
        ipv4(255, 112, 0, &vrrp(2, 99, 1, "secret")),
        ipv4(255, 112, 0, &vrrp(2, 51, 1, "wrong")),
        ipv4(255, 112, 0, &vrrp(2, 51, 1, "secreT")),
        ipv4(255, 112, 0, &vrrp(1, 51, 1, "secret")),
        ipv4(255, 112, 2, &vrrp(2, 51, 1, "rotated2")),
    ] {
        assert!(sampled(&p, &bad), "{bad:x?}");
    }
    // Type 2 (no such message) is no advert.
    let mut t2 = vrrp(2, 51, 1, "secret");
    t2[0] = 0x22;
    assert!(sampled(&p, &ipv4(255, 112, 0, &t2)));
    // Too short for the VRID, or for the password: dropped outright.
    let short = ipv4(255, 112, 0, &[0x21]);
    assert_eq!(run(&p, &short, 0), 0);
    let cut = ipv4(255, 112, 0, &vrrp(2, 51, 1, "secret")[..14]);
    assert_eq!(run(&p, &cut, 0), 0);
}

#[test]
fn a_version_not_run_is_dropped() {
    let f = RxFilter {
        versions: vec![3],
        vrids: vec![(51, None)],
        any_vrid: false,
    };
    let p = f.program(Layout::V4);
    assert!(kept(&p, &ipv4(255, 112, 0, &vrrp(3, 51, 0, ""))));
    assert!(sampled(&p, &ipv4(255, 112, 0, &vrrp(2, 51, 0, ""))));
}

#[test]
fn the_ah_socket_finds_vrrp_after_the_ah_header() {
    let f = RxFilter {
        versions: vec![2],
        vrids: vec![(7, None)],
        any_vrid: false,
    };
    let p = f.program(Layout::V4Ah);
    assert!(kept(&p, &ipv4(255, 51, 0, &ah(&vrrp(2, 7, 2, "")))));
    assert!(sampled(&p, &ipv4(255, 51, 0, &ah(&vrrp(2, 8, 2, "")))));
    assert!(sampled(&p, &ipv4(128, 51, 0, &ah(&vrrp(2, 7, 2, "")))));
}

#[test]
fn ipv6_reads_vrrp_from_the_first_byte_and_has_no_hop_limit_to_check() {
    let f = RxFilter {
        versions: vec![3],
        vrids: vec![(7, None), (200, None)],
        any_vrid: false,
    };
    let p = f.program(Layout::V6);
    assert!(kept(&p, &vrrp(3, 7, 0, "")));
    assert!(kept(&p, &vrrp(3, 200, 0, "")));
    assert!(sampled(&p, &vrrp(3, 8, 0, "")));
    assert!(sampled(&p, &vrrp(2, 7, 0, "")));
}

/// Every VRID with two passwords: the longest program keepup can make is within the
/// kernel's 4096 instructions, and the kernel's checker takes it (on a UDP socket,
/// which needs no privilege), as it takes the others.
#[test]
fn the_kernel_accepts_the_programs() {
    let big = RxFilter {
        versions: vec![2, 3],
        vrids: (1..=255)
            .map(|v| (v, Some(vec![pw("one"), pw("two")])))
            .collect(),
        any_vrid: false,
    };
    // Two passwords for every VRID fit; three do not, and are left to the engine.
    assert!(big.build(Layout::V4).len() <= MAX_INSNS);
    let mut bigger = big.clone();
    for (_, p) in &mut bigger.vrids {
        if let Some(p) = p {
            p.push(pw("three"));
        }
    }
    let loose = bigger.program(Layout::V4);
    assert!(kept(&loose, &ipv4(255, 112, 0, &vrrp(2, 9, 1, "four"))));
    assert!(!kept(
        &big.program(Layout::V4),
        &ipv4(255, 112, 0, &vrrp(2, 9, 1, "four"))
    ));
    let s = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::DGRAM, None)
        .expect("a UDP socket");
    let any = RxFilter {
        any_vrid: true,
        ..v4_filter()
    };
    for f in [big, bigger, v4_filter(), any, RxFilter::default()] {
        for layout in [Layout::V4, Layout::V4Ah, Layout::V6] {
            let p = f.program(layout);
            assert!(p.len() <= 4096, "{} instructions", p.len());
            attach(&s, &p).expect("the kernel takes the program");
        }
    }
    let p = v4_filter().program(Layout::V4);
    assert!(kept(&p, &ipv4(255, 112, 0, &vrrp(2, 52, 0, ""))));
}

/// The daemon runs the strict program over what the open one let through: its
/// verdict is the kernel's, the sample aside.
#[test]
fn keeps_is_the_programs_verdict_without_the_sample() {
    let open = RxFilter {
        any_vrid: true,
        ..v4_filter()
    };
    let strict = open.strict();
    assert!(!strict.any_vrid);
    let (o, s) = (open.program(Layout::V4), strict.program(Layout::V4));
    let foreign = ipv4(255, 112, 0, &vrrp(2, 99, 1, "secret"));
    let wrong = ipv4(255, 112, 0, &vrrp(2, 51, 1, "wrong"));
    let ours = ipv4(255, 112, 0, &vrrp(2, 51, 1, "secret"));
    let ttl = ipv4(64, 112, 0, &vrrp(2, 99, 1, "secret"));
    for (pkt, open_keeps, strict_keeps) in [
        (&foreign, true, false),
        (&wrong, true, false),
        (&ours, true, true),
        (&ttl, false, false),
    ] {
        assert_eq!(keeps(&o, pkt), open_keeps, "{pkt:x?}");
        assert_eq!(keeps(&s, pkt), strict_keeps, "{pkt:x?}");
    }
}

/// Whatever the program and the packet, the interpreter ends without a panic.
#[test]
fn the_interpreter_never_panics() {
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let codes = [
        LD | B | ABS,
        LD | B | IND,
        LD | W | ABS,
        LD | W | IND,
        LD | MEM,
        LDX | IMM,
        LDX | B | MSH,
        ALU | ADD,
        ALU | ADD | X,
        ALU | AND,
        ALU | LSH,
        MISC | TAX,
        ST,
        JMP | JA,
        JMP | JEQ,
        RET,
        0xffff,
    ];
    for _ in 0..20_000 {
        let n = (next() % 12) as usize;
        let prog: Vec<Insn> = (0..n)
            .map(|_| Insn {
                code: codes[(next() % codes.len() as u64) as usize],
                jt: next() as u8,
                jf: next() as u8,
                k: if next() % 2 == 0 {
                    next() as u32
                } else {
                    (next() % 40) as u32
                },
            })
            .collect();
        let pkt: Vec<u8> = (0..next() % 48).map(|_| next() as u8).collect();
        let _ = keeps(&prog, &pkt);
    }
}
