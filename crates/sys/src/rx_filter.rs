//! The VRRP receive sockets' kernel filter (classic BPF, `SO_ATTACH_FILTER`): what
//! keepup can never accept is dropped before the daemon is woken, so a flood of it
//! costs a few instructions per packet in softirq instead of a wakeup, a copy and a
//! parse (issue 17).
//!
//! Dropped, on every socket:
//! - any type but ADVERTISEMENT, RFC 3768 §5.3.2 / RFC 9568 §5.2.2, and a version
//!   other than 2 and 3;
//! - unless [`RxFilter::any_vrid`] (the daemon's default: it must hear a
//!   neighbouring VRID or a peer with the wrong password or version at once to name
//!   it; it turns it off only while a flood of those lasts, see
//!   [`keeps`]), a VRRP version the socket's instances do not run, a VRID
//!   no instance on that socket runs, and VRRPv2 simple-password authentication
//!   (type 1) with a password none of the instances for that VRID has, when every
//!   instance for that VRID uses one;
//! - IPv4 only: a TTL other than 255 on a multicast advert (RFC 3768 §7.1, RFC 9568
//!   §7.1; unicast peers have their own TTL range, left to the engine). The IPv6 raw
//!   socket sees no IPv6 header, so the hop limit is checked by the engine (from
//!   IPV6_HOPLIMIT), not here.
//!
//! One in [`SAMPLE`] of the packets the filter would drop is let through, chosen
//! at random by the kernel: the daemon still names a neighbour's VRID (once per
//! sender) and reads its address list for VIP conflicts (a neighbour advertising
//! every second is seen within about a minute, on average), and its discard
//! counters and rate-limited log lines still move, as a sample of the real rate.
//! A packet too short for a field the filter reads is dropped without a sample.
//! The kernel counts none of these drops (a socket filter's verdict is not a
//! socket drop), so the sample is what operators see.
use socket2::SockFilter;

/// One in this many packets the filter rejects reaches the daemon anyway.
pub const SAMPLE: u32 = 64;

/// BPF_MAXINSNS.
const MAX_INSNS: usize = 4096;

/// What the daemon runs on one socket: the filter is built from this.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RxFilter {
    /// VRRP versions (2, 3) run on this socket.
    pub versions: Vec<u8>,
    /// Each VRID run on this socket, with the simple passwords (8 octets,
    /// zero-padded) its instances accept; `None`: some instance for it does not use
    /// simple-password authentication, so the password is not checked here.
    pub vrids: Vec<(u8, Option<Vec<[u8; 8]>>)>,
    /// Let every VRID, password and VRRP version (2, 3) through (only TTL, a valid
    /// version and the type are judged here), so the daemon hears neighbours and
    /// mismatched peers at once.
    pub any_vrid: bool,
}

impl RxFilter {
    /// The same lists, judged: what the daemon attaches while a flood of
    /// adverts it cannot accept lasts.
    pub fn strict(&self) -> RxFilter {
        RxFilter {
            any_vrid: false,
            ..self.clone()
        }
    }
}

/// Which socket a program is for: where the VRRP header starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    /// Raw IPv4, protocol 112: the IPv4 header, then VRRP.
    V4,
    /// Raw IPv4, protocol 51: the IPv4 header, the AH header, then VRRP.
    V4Ah,
    /// Raw IPv6, protocol 112: VRRP from the first byte.
    V6,
}

// Classic BPF opcodes (linux/filter.h, linux/bpf_common.h).
const LD: u16 = 0x00;
const LDX: u16 = 0x01;
const ALU: u16 = 0x04;
const JMP: u16 = 0x05;
const RET: u16 = 0x06;
const MISC: u16 = 0x07;
/// `st M[k]`.
const ST: u16 = 0x02;
const W: u16 = 0x00;
const B: u16 = 0x10;
const IMM: u16 = 0x00;
const ABS: u16 = 0x20;
const IND: u16 = 0x40;
const MEM: u16 = 0x60;
const MSH: u16 = 0xa0;
const ADD: u16 = 0x00;
const AND: u16 = 0x50;
const LSH: u16 = 0x60;
const JA: u16 = 0x00;
const JEQ: u16 = 0x10;
const X: u16 = 0x08;
const TAX: u16 = 0x00;
/// `ld rand`: SKF_AD_OFF + SKF_AD_RANDOM.
const AD_RANDOM: u32 = 0xffff_f000 + 56;

/// One instruction, as the kernel reads it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Insn {
    pub code: u16,
    pub jt: u8,
    pub jf: u8,
    pub k: u32,
}

/// A program under construction: jumps name labels, resolved at the end.
#[derive(Default)]
struct Asm {
    code: Vec<(Insn, Option<usize>)>,
    labels: Vec<Option<usize>>,
}

impl Asm {
    fn op(&mut self, code: u16, k: u32) {
        self.code.push((
            Insn {
                code,
                jt: 0,
                jf: 0,
                k,
            },
            None,
        ));
    }
    fn label(&mut self) -> usize {
        self.labels.push(None);
        self.labels.len() - 1
    }
    fn here(&mut self, l: usize) {
        self.labels[l] = Some(self.code.len());
    }
    fn goto(&mut self, l: usize) {
        self.code.push((
            Insn {
                code: JMP | JA,
                jt: 0,
                jf: 0,
                k: 0,
            },
            Some(l),
        ));
    }
    /// Go to `l` if A == k (a short test, then a long jump).
    fn if_eq(&mut self, k: u32, l: usize) {
        self.code.push((
            Insn {
                code: JMP | JEQ,
                jt: 0,
                jf: 1,
                k,
            },
            None,
        ));
        self.goto(l);
    }
    /// Skip the next `n` instructions if A != k.
    fn short_ne(&mut self, k: u32, n: u8) {
        self.code.push((
            Insn {
                code: JMP | JEQ,
                jt: 0,
                jf: n,
                k,
            },
            None,
        ));
    }
    /// Go to `l` if A != k.
    fn if_ne(&mut self, k: u32, l: usize) {
        self.code.push((
            Insn {
                code: JMP | JEQ,
                jt: 1,
                jf: 0,
                k,
            },
            None,
        ));
        self.goto(l);
    }
    fn finish(self) -> Vec<Insn> {
        let labels = self.labels;
        (self.code.into_iter().enumerate())
            .map(|(i, (mut insn, to))| {
                if let Some(l) = to {
                    // Every label is placed and after its jumps (the builder's own
                    // layout); `ja` offsets count from the next instruction.
                    let at = labels[l].unwrap_or(i + 1);
                    insn.k = u32::try_from(at.saturating_sub(i + 1)).unwrap_or(0);
                }
                insn
            })
            .collect()
    }
}

impl RxFilter {
    /// The program for a socket of `layout`. Past the kernel's 4096 instructions
    /// (about 255 VRIDs with three passwords each), passwords are left to the
    /// engine.
    pub fn program(&self, layout: Layout) -> Vec<Insn> {
        let p = self.build(layout);
        if p.len() <= MAX_INSNS {
            return p;
        }
        let loose = RxFilter {
            versions: self.versions.clone(),
            vrids: self.vrids.iter().map(|(v, _)| (*v, None)).collect(),
            any_vrid: self.any_vrid,
        };
        loose.build(layout)
    }

    /// The VRID and simple-password stage: to `accept` or to `sample`.
    fn vrids_and_passwords(&self, a: &mut Asm, accept: usize, sample: usize) {
        // Only a VRRPv2 advert with authentication type 1 carries a password; for any
        // other the VRID decides (an authentication type mismatch is the engine's
        // to count).
        let no_password = a.label();
        a.op(LD | B | IND, 0);
        a.if_ne(0x21, no_password);
        a.op(LD | B | IND, 4);
        a.if_ne(1, no_password);
        // M[0] the VRID, M[1] and M[2] the password, which follows the addresses:
        // at X + 8 + 4 * Count IPvX Addrs.
        a.op(LD | B | IND, 1);
        a.op(ST, 0);
        a.op(LD | B | IND, 3);
        a.op(ALU | LSH, 2);
        a.op(ALU | ADD | X, 0);
        a.op(MISC | TAX, 0);
        a.op(LD | W | IND, 8);
        a.op(ST, 1);
        a.op(LD | W | IND, 12);
        a.op(ST, 2);
        a.op(LD | MEM, 0);
        let blocks: Vec<(usize, &[[u8; 8]])> = (self.vrids.iter())
            .filter_map(|(_, p)| p.as_deref())
            .map(|p| (a.label(), p))
            .collect();
        let mut next_block = blocks.iter();
        for (vrid, passwords) in &self.vrids {
            let to = match passwords {
                None => accept,
                Some(_) => next_block.next().map_or(accept, |(l, _)| *l),
            };
            a.if_eq(u32::from(*vrid), to);
        }
        a.goto(sample);
        for (l, passwords) in blocks {
            a.here(l);
            for p in passwords {
                a.op(LD | MEM, 1);
                a.short_ne(u32::from_be_bytes([p[0], p[1], p[2], p[3]]), 3);
                a.op(LD | MEM, 2);
                a.short_ne(u32::from_be_bytes([p[4], p[5], p[6], p[7]]), 1);
                a.goto(accept);
            }
            a.goto(sample);
        }
        a.here(no_password);
        a.op(LD | B | IND, 1);
        for (vrid, _) in &self.vrids {
            a.if_eq(u32::from(*vrid), accept);
        }
        a.goto(sample);
    }

    fn build(&self, layout: Layout) -> Vec<Insn> {
        let mut a = Asm::default();
        let (accept, sample, drop) = (a.label(), a.label(), a.label());
        // X: the VRRP header's offset.
        match layout {
            Layout::V4 | Layout::V4Ah => {
                // TTL 255 on multicast only: a unicast peer's TTL has its own
                // range (`min_ttl`, `max_ttl`), judged by the engine.
                let ttl_ok = a.label();
                a.op(LD | B | ABS, 16);
                a.op(ALU | AND, 0xf0);
                a.if_ne(0xe0, ttl_ok);
                a.op(LD | B | ABS, 8);
                a.if_ne(255, sample);
                a.here(ttl_ok);
                a.op(LDX | B | MSH, 0);
                if layout == Layout::V4Ah {
                    // AH's length is (Payload Len + 2) 32-bit words (RFC 4302 §2.2).
                    a.op(LD | B | IND, 1);
                    a.op(ALU | ADD, 2);
                    a.op(ALU | LSH, 2);
                    a.op(ALU | ADD | X, 0);
                    a.op(MISC | TAX, 0);
                }
            }
            Layout::V6 => a.op(LDX | IMM, 0),
        }
        // Version and type: an ADVERTISEMENT (1) of a version run here.
        let version_ok = a.label();
        a.op(LD | B | IND, 0);
        // With any VRID, any VRRP version: a peer of one of our VRIDs on the other
        // version is a mistake the engine names.
        let versions: &[u8] = if self.any_vrid {
            &[2, 3]
        } else {
            &self.versions
        };
        for &v in versions {
            a.if_eq(u32::from(v) << 4 | 1, version_ok);
        }
        a.goto(sample);
        a.here(version_ok);
        if self.any_vrid {
            a.goto(accept);
        } else {
            self.vrids_and_passwords(&mut a, accept, sample);
        }
        a.here(sample);
        a.op(LD | W | ABS, AD_RANDOM);
        a.op(ALU | AND, SAMPLE - 1);
        a.if_ne(0, drop);
        a.here(accept);
        a.op(RET, u32::MAX);
        a.here(drop);
        a.op(RET, 0);
        a.finish()
    }
}

/// Whether `program` keeps `pkt` (its sample aside: `ld rand` reads as a value the
/// sample never takes): the kernel's verdict, in the daemon. The daemon runs the
/// strict program over what the open one let through, to see a flood the strict one
/// would stop. Only the instructions the builder emits are read; anything else, a
/// jump past the end or a load past the packet's end ends the run as the kernel
/// would (dropped), never in a panic.
pub fn keeps(program: &[Insn], pkt: &[u8]) -> bool {
    run(program, pkt, 1) != 0
}

/// Run `prog` over `pkt` with `rand` as `ld rand`: the bytes kept (0: dropped).
fn run(prog: &[Insn], pkt: &[u8], rand: u32) -> u32 {
    let (mut a, mut x, mut pc) = (0u32, 0u32, 0usize);
    let mut m = [0u32; 16];
    let byte = |at: u32| pkt.get(at as usize).map(|b| u32::from(*b));
    let word = |at: u32| {
        let at = at as usize;
        pkt.get(at..at.checked_add(4)?)
            .map(|w| u32::from_be_bytes([w[0], w[1], w[2], w[3]]))
    };
    while let Some(&Insn { code, jt, jf, k }) = prog.get(pc) {
        pc += 1;
        let loaded = match code {
            c if c == LD | B | ABS => byte(k),
            c if c == LD | B | IND => byte(x.wrapping_add(k)),
            c if c == LD | W | ABS && k == AD_RANDOM => Some(rand),
            c if c == LD | W | ABS => word(k),
            c if c == LD | W | IND => word(x.wrapping_add(k)),
            c if c == LD | MEM => m.get(k as usize).copied(),
            _ => Some(a),
        };
        let Some(v) = loaded else { return 0 };
        a = v;
        match code {
            c if c & 0x07 == LD => {}
            c if c == LDX | IMM => x = k,
            c if c == LDX | B | MSH => match byte(k) {
                Some(b) => x = 4 * (b & 0xf),
                None => return 0,
            },
            c if c == ALU | ADD => a = a.wrapping_add(k),
            c if c == ALU | ADD | X => a = a.wrapping_add(x),
            c if c == ALU | AND => a &= k,
            c if c == ALU | LSH => a = a.checked_shl(k).unwrap_or(0),
            c if c == MISC | TAX => x = a,
            c if c == ST => match m.get_mut(k as usize) {
                Some(slot) => *slot = a,
                None => return 0,
            },
            c if c == JMP | JA => pc = pc.saturating_add(k as usize),
            c if c == JMP | JEQ => pc += usize::from(if a == k { jt } else { jf }),
            c if c == RET => return k,
            _ => return 0,
        }
    }
    0
}

/// Attach `program` to `s`, replacing any filter it had.
pub(crate) fn attach(s: &socket2::Socket, program: &[Insn]) -> std::io::Result<()> {
    let code: Vec<SockFilter> = (program.iter())
        .map(|i| SockFilter::new(i.code, i.jt, i.jf, i.k))
        .collect();
    s.attach_filter(&code)
}

#[cfg(test)]
mod tests;
