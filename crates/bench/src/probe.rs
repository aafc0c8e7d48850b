//! The client's prober: an ICMP echo to the VIP every 2 ms from the client's
//! namespace, each send and reply written to a file with its wall-clock time
//! (CLOCK_REALTIME is shared by all namespaces, so it lines up with pcap timestamps
//! and the VIP monitors).
//!
//! Runs as its own process (`keepup-bench probe --target VIP --out FILE`, started in
//! the client namespace by the harness), so the harness's own work never delays an
//! echo. One thread sends on a fixed schedule, one blocks in `recv` and stamps each
//! reply as it arrives; a third writes the lines. SIGTERM or SIGINT ends it after a
//! last flush.
//!
//! Each echo's payload carries a 64-bit sequence number and its send time, so a reply
//! names its echo without the 16-bit ICMP sequence wrapping. File lines:
//! `s SEQ SENT_NS` and `r SEQ SENT_NS RECV_NS` (nanoseconds since the Unix epoch).
use std::fs::File;
use std::io::{BufWriter, Write};
use std::net::{Ipv4Addr, SocketAddrV4};
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use nix::sys::signal::{SigSet, Signal};
use nix::sys::socket::{
    recvfrom, sendto, setsockopt, socket, sockopt, AddressFamily, MsgFlags, SockFlag, SockProtocol,
    SockType, SockaddrStorage,
};
use nix::sys::time::TimeVal;

use crate::{now_ns, Ns};

/// Marks our echoes (a raw ICMP socket sees every ICMP packet of the namespace).
const MAGIC: &[u8; 8] = b"kubench1";

/// One echo: when it was sent and when (if) its first reply came.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Echo {
    pub seq: u64,
    pub sent: Ns,
    pub reply: Option<Ns>,
}

/// `keepup-bench probe`: run until SIGTERM/SIGINT.
pub fn run(target: Ipv4Addr, every: Duration, out: &Path) -> Result<()> {
    // Blocked in this thread before any other exists, so every thread inherits the
    // mask and the signals wait for `sigwait` below instead of killing the process.
    let mut sigs = SigSet::empty();
    sigs.add(Signal::SIGTERM);
    sigs.add(Signal::SIGINT);
    sigs.thread_block().context("block SIGTERM")?;

    let sock = socket(
        AddressFamily::Inet,
        SockType::Raw,
        SockFlag::SOCK_CLOEXEC,
        SockProtocol::Icmp,
    )
    .context("raw ICMP socket (needs root)")?;
    // The receiver wakes at least this often to see the stop flag.
    setsockopt(&sock, sockopt::ReceiveTimeout, &TimeVal::new(0, 50_000)).context("SO_RCVTIMEO")?;
    let _ = setsockopt(&sock, sockopt::RcvBuf, &(1 << 20));
    let sock = Arc::new(sock);
    let file = File::create(out).with_context(|| format!("create {}", out.display()))?;
    let stop = Arc::new(AtomicBool::new(false));
    let (tx, rx) = mpsc::channel::<String>();

    let writer = std::thread::spawn(move || write_lines(rx, BufWriter::new(file)));
    let ident = (std::process::id() as u16) ^ 0x6b75;
    let sender = {
        let (sock, stop, tx) = (sock.clone(), stop.clone(), tx.clone());
        std::thread::spawn(move || send_loop(&sock, target, ident, every, &stop, &tx))
    };
    let receiver = {
        let (sock, stop) = (sock.clone(), stop.clone());
        std::thread::spawn(move || recv_loop(&sock, target, ident, &stop, &tx))
    };
    println!("probing {target} every {} us", every.as_micros());
    let _ = std::io::stdout().flush();
    let _ = sigs.wait();
    stop.store(true, Ordering::SeqCst);
    let _ = sender.join();
    let _ = receiver.join();
    match writer.join() {
        Ok(r) => r.with_context(|| format!("write {}", out.display())),
        Err(_) => anyhow::bail!("the writer thread panicked"),
    }
}

fn write_lines(rx: mpsc::Receiver<String>, mut w: BufWriter<File>) -> std::io::Result<()> {
    loop {
        match rx.recv_timeout(Duration::from_millis(20)) {
            Ok(line) => w.write_all(line.as_bytes())?,
            // Idle: let readers of the file see what we have.
            Err(mpsc::RecvTimeoutError::Timeout) => w.flush()?,
            Err(mpsc::RecvTimeoutError::Disconnected) => return w.flush(),
        }
    }
}

/// An ICMP echo request (type 8): ident, 16-bit seq, then MAGIC, the 64-bit seq and
/// the send time.
pub fn echo_request(ident: u16, seq: u64, sent: Ns) -> Vec<u8> {
    let mut msg = vec![8, 0, 0, 0];
    msg.extend_from_slice(&ident.to_be_bytes());
    msg.extend_from_slice(&(seq as u16).to_be_bytes());
    msg.extend_from_slice(MAGIC);
    msg.extend_from_slice(&seq.to_be_bytes());
    msg.extend_from_slice(&sent.to_be_bytes());
    let c = checksum(&msg);
    msg[2..4].copy_from_slice(&c.to_be_bytes());
    msg
}

/// The Internet checksum (RFC 1071).
pub(crate) fn checksum(data: &[u8]) -> u16 {
    let mut sum: u32 = data
        .chunks(2)
        .map(|c| u32::from(u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)])))
        .sum();
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// `(seq, sent)` of an echo reply (type 0) to one of our echoes, in what a raw IPv4
/// socket hands over (the IP header first).
pub fn parse_reply(got: &[u8], target: Ipv4Addr, ident: u16) -> Option<(u64, Ns)> {
    let ihl = usize::from(got.first()? & 0x0f) * 4;
    let src: [u8; 4] = got.get(12..16)?.try_into().ok()?;
    let icmp = got.get(ihl..)?;
    let ours = Ipv4Addr::from(src) == target
        && *icmp.first()? == 0
        && icmp.get(4..6)? == ident.to_be_bytes()
        && icmp.get(8..16)? == MAGIC;
    if !ours {
        return None;
    }
    let seq = u64::from_be_bytes(icmp.get(16..24)?.try_into().ok()?);
    let sent = u64::from_be_bytes(icmp.get(24..32)?.try_into().ok()?);
    Some((seq, sent))
}

fn send_loop(
    sock: &OwnedFd,
    target: Ipv4Addr,
    ident: u16,
    every: Duration,
    stop: &AtomicBool,
    tx: &mpsc::Sender<String>,
) {
    let dest = SockaddrStorage::from(SocketAddrV4::new(target, 0));
    let mut next = Instant::now();
    let mut seq = 0u64;
    while !stop.load(Ordering::SeqCst) {
        let wait = next.saturating_duration_since(Instant::now());
        if !wait.is_zero() {
            std::thread::sleep(wait);
        }
        seq += 1;
        let sent = now_ns();
        // No route or a full queue is just an echo without a reply.
        let _ = sendto(
            sock.as_raw_fd(),
            &echo_request(ident, seq, sent),
            &dest,
            MsgFlags::empty(),
        );
        let _ = tx.send(format!("s {seq} {sent}\n"));
        next += every;
        // Fell far behind (the machine stalled): keep the schedule, skip the backlog.
        let now = Instant::now();
        if now > next + every * 4 {
            next = now;
        }
    }
}

fn recv_loop(
    sock: &OwnedFd,
    target: Ipv4Addr,
    ident: u16,
    stop: &AtomicBool,
    tx: &mpsc::Sender<String>,
) {
    let mut buf = [0u8; 2048];
    while !stop.load(Ordering::SeqCst) {
        // A timeout (EAGAIN) only brings us back to the stop flag.
        if let Ok((n, _)) = recvfrom::<SockaddrStorage>(sock.as_raw_fd(), &mut buf) {
            let at = now_ns();
            if let Some((seq, sent)) = parse_reply(buf.get(..n).unwrap_or(&[]), target, ident) {
                let _ = tx.send(format!("r {seq} {sent} {at}\n"));
            }
        }
    }
}

/// The echoes in a probe file (complete lines only; a reply's first copy counts).
pub fn read(path: &Path) -> Result<Vec<Echo>> {
    let text = std::fs::read_to_string(path).with_context(|| format!("read {}", path.display()))?;
    Ok(parse(&text))
}

pub fn parse(text: &str) -> Vec<Echo> {
    let mut echoes: Vec<Echo> = Vec::new();
    let mut replies: Vec<(u64, Ns)> = Vec::new();
    // The last line may be cut short by a writer still busy: only whole lines count.
    let whole = match text.rfind('\n') {
        Some(i) => &text[..=i],
        None => "",
    };
    for line in whole.lines() {
        let mut w = line.split_ascii_whitespace();
        let kind = w.next();
        let nums: Vec<u64> = w.filter_map(|x| x.parse().ok()).collect();
        match (kind, nums.as_slice()) {
            (Some("s"), [seq, sent]) => echoes.push(Echo {
                seq: *seq,
                sent: *sent,
                reply: None,
            }),
            (Some("r"), [seq, _sent, at]) => replies.push((*seq, *at)),
            _ => {}
        }
    }
    // Sends are written in order of their seq, from 1.
    for (seq, at) in replies {
        let Some(i) = seq.checked_sub(1).and_then(|i| usize::try_from(i).ok()) else {
            continue;
        };
        if let Some(e) = echoes.get_mut(i).filter(|e| e.seq == seq) {
            if e.reply.is_none_or(|r| at < r) {
                e.reply = Some(at);
            }
        }
    }
    echoes
}

/// What the client saw of one failure.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Outage {
    /// The longest time between two consecutive replies (the last before the window
    /// counts as the gap's start), seconds.
    pub gap: f64,
    /// Echoes sent in the window that never got a reply.
    pub lost: usize,
    /// Echoes sent in the window.
    pub sent: usize,
}

/// The outage in `[from, to]`: `None` if no reply came after `from`.
pub fn outage(echoes: &[Echo], from: Ns, to: Ns) -> Option<Outage> {
    let mut replies: Vec<Ns> = echoes.iter().filter_map(|e| e.reply).collect();
    replies.sort_unstable();
    let last_before = replies.iter().rev().find(|r| **r < from).copied();
    let mut inside: Vec<Ns> = replies
        .iter()
        .copied()
        .filter(|r| *r >= from && *r <= to)
        .collect();
    if inside.is_empty() {
        return None;
    }
    if let Some(b) = last_before {
        inside.insert(0, b);
    }
    let gap = inside.windows(2).map(|w| w[1] - w[0]).max().unwrap_or(0);
    let window: Vec<&Echo> = echoes
        .iter()
        .filter(|e| e.sent >= from && e.sent <= to)
        .collect();
    Some(Outage {
        gap: gap as f64 / 1e9,
        lost: window.iter().filter(|e| e.reply.is_none()).count(),
        sent: window.len(),
    })
}

/// Whether replies are flowing: every echo sent in `[now - span, now - 20 ms]` has had
/// its reply, and there was at least one.
pub fn flowing(echoes: &[Echo], now: Ns, span: Duration) -> bool {
    let from = now.saturating_sub(span.as_nanos() as u64);
    let to = now.saturating_sub(20_000_000);
    let w: Vec<&Echo> = echoes
        .iter()
        .filter(|e| e.sent >= from && e.sent <= to)
        .collect();
    !w.is_empty() && w.iter().all(|e| e.reply.is_some())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reply_packet(req: &[u8], from: Ipv4Addr) -> Vec<u8> {
        let mut ip = vec![0x45, 0, 0, 0, 0, 0, 0, 0, 64, 1, 0, 0];
        ip.extend_from_slice(&from.octets());
        ip.extend_from_slice(&[10, 9, 0, 10]);
        let mut icmp = req.to_vec();
        icmp[0] = 0;
        ip.extend_from_slice(&icmp);
        ip
    }

    #[test]
    fn an_echo_request_checks_out_and_its_reply_names_it() {
        let req = echo_request(0x1234, 70_000, 1_700_000_000_123_456_789);
        assert_eq!(checksum(&req), 0, "a correct checksum sums to zero");
        assert_eq!(&req[6..8], &(70_000u64 as u16).to_be_bytes());
        let vip = Ipv4Addr::new(10, 9, 0, 100);
        let got = reply_packet(&req, vip);
        assert_eq!(
            parse_reply(&got, vip, 0x1234),
            Some((70_000, 1_700_000_000_123_456_789))
        );
        assert_eq!(parse_reply(&got, vip, 0x1235), None, "another ident");
        assert_eq!(parse_reply(&got, Ipv4Addr::new(10, 9, 0, 1), 0x1234), None);
        let mut request_seen = got.clone();
        request_seen[20] = 8;
        assert_eq!(parse_reply(&request_seen, vip, 0x1234), None);
        for n in 0..got.len() {
            assert_eq!(parse_reply(&got[..n], vip, 0x1234), None);
        }
    }

    const MS: u64 = 1_000_000;

    #[test]
    fn reads_a_probe_file_with_a_cut_last_line() {
        let text = "s 1 100\ns 2 200\nr 1 100 150\ns 3 300\nr 2 200 260\nr 1 100 170\nr 3 30";
        let e = parse(text);
        assert_eq!(e.len(), 3);
        assert_eq!(e[0].reply, Some(150), "the first copy counts");
        assert_eq!(e[1].reply, Some(260));
        assert_eq!(e[2].reply, None, "the cut line is not read");
    }

    /// Echoes every 2 ms from t=0 to t=`end_ms`, with replies 1 ms later except
    /// those sent in `[lost_from, lost_to)`.
    fn echoes(end_ms: u64, lost_from: u64, lost_to: u64) -> Vec<Echo> {
        (0..end_ms / 2)
            .map(|i| {
                let sent = i * 2 * MS;
                let lost = sent >= lost_from * MS && sent < lost_to * MS;
                Echo {
                    seq: i + 1,
                    sent,
                    reply: (!lost).then_some(sent + MS),
                }
            })
            .collect()
    }

    #[test]
    fn the_outage_is_the_longest_gap_between_replies() {
        // Replies stop for echoes sent in [1000, 1500) ms.
        let e = echoes(3000, 1000, 1500);
        let o = outage(&e, 900 * MS, 3000 * MS).expect("replies after");
        // Last reply 999 ms, next 1501 ms.
        assert!((o.gap - 0.502).abs() < 1e-9, "{o:?}");
        assert_eq!(o.lost, 250);
        assert_eq!(o.sent, 1050);
        // The gap that starts before the window still counts in full.
        let o = outage(&e, 1200 * MS, 3000 * MS).expect("replies after");
        assert!((o.gap - 0.502).abs() < 1e-9, "{o:?}");
        // No failure: the probe's own spacing.
        let o = outage(&echoes(1000, 0, 0), 0, 1000 * MS).expect("replies");
        assert!((o.gap - 0.002).abs() < 1e-9, "{o:?}");
        // No reply after the fault: no figure.
        assert_eq!(outage(&echoes(1000, 500, 2000), 600 * MS, 1000 * MS), None);
    }

    #[test]
    fn flowing_needs_every_recent_echo_answered() {
        let e = echoes(1000, 900, 1000);
        assert!(flowing(&e, 800 * MS, Duration::from_millis(200)));
        assert!(!flowing(&e, 1000 * MS, Duration::from_millis(200)));
        assert!(!flowing(&[], 1000 * MS, Duration::from_millis(200)));
    }
}
