//! The hostile real servers of `ipvs/hostile`: one process (in the VM, `keepup-bench
//! hostile-server`) serving many ports of one address, each port one [`Kind`] of
//! misbehaviour (or a healthy server of the protocol, to see that the checker keeps it
//! while the others fail). Every connection or query it receives is logged as
//! `port unix-seconds` to `--log`, which is how the benchmark measures the interval
//! between a checker's runs.
//!
//! Blocking sockets, one thread per port and per connection: a few dozen ports, and
//! every write has a timeout so a checker that stops reading frees its thread.
use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{bail, Context, Result};

/// The protocol a kind speaks, and so the checker pointed at it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Proto {
    Http,
    Dns,
    Smtp,
}

/// One way of answering a checker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `HTTP/1.1 200 OK`, body `ok\n` (its MD5 is the checkers' digest).
    HttpOk,
    /// Binary garbage instead of a status line, then close.
    HttpGarbage,
    /// A status line, then header lines forever.
    HttpHeadersForever,
    /// 200 with a 64 MB body: the digest is wrong, and it must be digested as it comes.
    HttpHugeBody,
    /// A valid 200 response, one byte every 100 ms: slower than connect_timeout.
    HttpSlowLoris,
    /// A well-formed 500.
    HttpStatus500,
    /// Half a header, then a TCP reset.
    HttpReset,
    /// Answers with the query's ID, QR set, NOERROR.
    DnsOk,
    /// 5 bytes: less than a header.
    DnsShort,
    /// Another ID.
    DnsWrongId,
    /// QR clear (a query, not an answer).
    DnsQrClear,
    /// Right ID, QR, NOERROR, but 65535 of every record with none there.
    DnsBogusCounts,
    /// Right ID, QR, NOERROR, and an answer whose name is a compression pointer to itself.
    DnsCompressionLoop,
    /// 500 replies with wrong IDs at once (a spoofer's flood at the checker's port),
    /// then the right answer.
    DnsSpoofFlood,
    /// `220` banner, `250` to HELO, `221` to QUIT.
    SmtpOk,
    /// Binary garbage instead of a banner.
    SmtpGarbage,
    /// `220 ` and then a line that never ends.
    SmtpEndlessBanner,
    /// `554` banner.
    Smtp5xx,
    /// `220-` continuation lines forever.
    SmtpMultilineForever,
}

/// The MD5 of [`Kind::HttpOk`]'s body, `ok\n`: the HTTP checkers' `digest`.
pub const OK_DIGEST: &str = "eff5bc1ef8ec9d03e640fc4370f5eacd";

impl Kind {
    pub const ALL: [Kind; 19] = [
        Kind::HttpOk,
        Kind::HttpGarbage,
        Kind::HttpHeadersForever,
        Kind::HttpHugeBody,
        Kind::HttpSlowLoris,
        Kind::HttpStatus500,
        Kind::HttpReset,
        Kind::DnsOk,
        Kind::DnsShort,
        Kind::DnsWrongId,
        Kind::DnsQrClear,
        Kind::DnsBogusCounts,
        Kind::DnsCompressionLoop,
        Kind::DnsSpoofFlood,
        Kind::SmtpOk,
        Kind::SmtpGarbage,
        Kind::SmtpEndlessBanner,
        Kind::Smtp5xx,
        Kind::SmtpMultilineForever,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Kind::HttpOk => "http-ok",
            Kind::HttpGarbage => "http-garbage",
            Kind::HttpHeadersForever => "http-headers-forever",
            Kind::HttpHugeBody => "http-huge-body",
            Kind::HttpSlowLoris => "http-slow-loris",
            Kind::HttpStatus500 => "http-500",
            Kind::HttpReset => "http-reset",
            Kind::DnsOk => "dns-ok",
            Kind::DnsShort => "dns-short",
            Kind::DnsWrongId => "dns-wrong-id",
            Kind::DnsQrClear => "dns-qr-clear",
            Kind::DnsBogusCounts => "dns-bogus-counts",
            Kind::DnsCompressionLoop => "dns-compression-loop",
            Kind::DnsSpoofFlood => "dns-spoof-flood",
            Kind::SmtpOk => "smtp-ok",
            Kind::SmtpGarbage => "smtp-garbage",
            Kind::SmtpEndlessBanner => "smtp-endless-banner",
            Kind::Smtp5xx => "smtp-5xx",
            Kind::SmtpMultilineForever => "smtp-multiline-forever",
        }
    }

    pub fn parse(s: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.name() == s)
    }

    pub fn proto(self) -> Proto {
        match self {
            Kind::HttpOk
            | Kind::HttpGarbage
            | Kind::HttpHeadersForever
            | Kind::HttpHugeBody
            | Kind::HttpSlowLoris
            | Kind::HttpStatus500
            | Kind::HttpReset => Proto::Http,
            Kind::DnsOk
            | Kind::DnsShort
            | Kind::DnsWrongId
            | Kind::DnsQrClear
            | Kind::DnsBogusCounts
            | Kind::DnsCompressionLoop
            | Kind::DnsSpoofFlood => Proto::Dns,
            Kind::SmtpOk
            | Kind::SmtpGarbage
            | Kind::SmtpEndlessBanner
            | Kind::Smtp5xx
            | Kind::SmtpMultilineForever => Proto::Smtp,
        }
    }

    /// Whether a right checker keeps this server in the table. DNS_CHECK judges the
    /// header alone (ID, QR, RCODE; keepalived's `dns_recv_thread` reads nothing else),
    /// so bogus counts and a compression loop behind a right header pass; the flood of
    /// spoofed answers is followed by the right one, which must still be found.
    pub fn healthy(self) -> bool {
        matches!(
            self,
            Kind::HttpOk
                | Kind::DnsOk
                | Kind::DnsBogusCounts
                | Kind::DnsCompressionLoop
                | Kind::DnsSpoofFlood
                | Kind::SmtpOk
        )
    }

    /// The healthy kind of `proto`.
    pub fn ok_of(proto: Proto) -> Kind {
        match proto {
            Proto::Http => Kind::HttpOk,
            Proto::Dns => Kind::DnsOk,
            Proto::Smtp => Kind::SmtpOk,
        }
    }
}

type Log = Arc<Mutex<std::fs::File>>;

fn log_hit(log: &Log, port: u16) {
    let t = crate::now_ns() as f64 / 1e9;
    if let Ok(mut f) = log.lock() {
        let _ = writeln!(f, "{port} {t:.6}");
    }
}

/// Serve every `port kind` line of `spec` on `addr` until killed.
pub fn run(addr: Ipv4Addr, spec: &Path, log: &Path) -> Result<()> {
    let text = std::fs::read_to_string(spec).with_context(|| format!("read {}", spec.display()))?;
    let log: Log = Arc::new(Mutex::new(
        std::fs::File::create(log).with_context(|| format!("create {}", log.display()))?,
    ));
    let mut n = 0;
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let (port, kind) = line
            .split_once(' ')
            .and_then(|(p, k)| Some((p.parse::<u16>().ok()?, Kind::parse(k.trim())?)))
            .with_context(|| format!("spec line {line:?}: want `PORT KIND`"))?;
        let at = SocketAddr::from((addr, port));
        let log = log.clone();
        if kind.proto() == Proto::Dns {
            let sock = UdpSocket::bind(at).with_context(|| format!("bind UDP {at}"))?;
            std::thread::spawn(move || serve_dns(sock, kind, port, &log));
        } else {
            let l = TcpListener::bind(at).with_context(|| format!("bind TCP {at}"))?;
            std::thread::spawn(move || {
                for s in l.incoming().flatten() {
                    log_hit(&log, port);
                    std::thread::spawn(move || {
                        let _ = s.set_write_timeout(Some(Duration::from_secs(30)));
                        let _ = s.set_read_timeout(Some(Duration::from_secs(30)));
                        let _ = serve_stream(s, kind);
                    });
                }
            });
        }
        n += 1;
    }
    if n == 0 {
        bail!("{}: no ports", spec.display());
    }
    eprintln!("hostile-server: {n} port(s) on {addr}");
    loop {
        std::thread::park();
    }
}

/// Reads until the end of an HTTP request's header (or of the client's stream).
fn read_request(s: &mut TcpStream) -> std::io::Result<()> {
    let mut got = Vec::new();
    let mut buf = [0u8; 2048];
    while !got.windows(4).any(|w| w == b"\r\n\r\n") && got.len() < 64 * 1024 {
        let n = s.read(&mut buf)?;
        if n == 0 {
            break;
        }
        got.extend_from_slice(&buf[..n]);
    }
    Ok(())
}

/// Reads one line (to `\n`) from the client.
fn read_line(s: &mut TcpStream) -> std::io::Result<()> {
    let mut b = [0u8; 1];
    for _ in 0..4096 {
        if s.read(&mut b)? == 0 || b[0] == b'\n' {
            break;
        }
    }
    Ok(())
}

const GARBAGE: &[u8] = b"\x00\xff\xfe\x16\x03\x01NOT-A-PROTOCOL\x80\x81\x82\r\n\x00\x00\x1b[2J";

/// Writes `chunk` until the peer goes away (or the write timeout passes).
fn forever(s: &mut TcpStream, chunk: &[u8]) -> std::io::Result<()> {
    loop {
        s.write_all(chunk)?;
        // A pace that keeps the server from taking the guest's vCPUs from the daemon.
        std::thread::sleep(Duration::from_millis(5));
    }
}

fn serve_stream(mut s: TcpStream, kind: Kind) -> std::io::Result<()> {
    match kind {
        Kind::HttpOk => {
            read_request(&mut s)?;
            s.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nConnection: close\r\n\r\nok\n")
        }
        Kind::HttpGarbage => {
            read_request(&mut s)?;
            s.write_all(GARBAGE)
        }
        Kind::HttpHeadersForever => {
            read_request(&mut s)?;
            s.write_all(b"HTTP/1.1 200 OK\r\n")?;
            forever(
                &mut s,
                &b"X-Hostile: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n".repeat(64),
            )
        }
        Kind::HttpHugeBody => {
            read_request(&mut s)?;
            const LEN: usize = 64 << 20;
            s.write_all(
                format!("HTTP/1.1 200 OK\r\nContent-Length: {LEN}\r\nConnection: close\r\n\r\n")
                    .as_bytes(),
            )?;
            let chunk = vec![b'x'; 64 * 1024];
            for _ in 0..LEN / chunk.len() {
                s.write_all(&chunk)?;
            }
            Ok(())
        }
        Kind::HttpSlowLoris => {
            read_request(&mut s)?;
            let reply = b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nConnection: close\r\n\r\nok\n";
            for b in reply.iter().cycle().take(100_000) {
                s.write_all(std::slice::from_ref(b))?;
                std::thread::sleep(Duration::from_millis(100));
            }
            Ok(())
        }
        Kind::HttpStatus500 => {
            read_request(&mut s)?;
            s.write_all(
                b"HTTP/1.1 500 Internal Server Error\r\nContent-Length: 3\r\nConnection: close\r\n\r\nok\n",
            )
        }
        Kind::HttpReset => {
            read_request(&mut s)?;
            s.write_all(b"HTTP/1.1 200 OK\r\nContent-Le")?;
            // SO_LINGER 0: close sends a RST instead of a FIN.
            socket2::SockRef::from(&s).set_linger(Some(Duration::ZERO))?;
            Ok(())
        }
        Kind::SmtpOk => {
            s.write_all(b"220 hostile.test ESMTP\r\n")?;
            read_line(&mut s)?;
            s.write_all(b"250 hostile.test\r\n")?;
            read_line(&mut s)?;
            s.write_all(b"221 bye\r\n")
        }
        Kind::SmtpGarbage => s.write_all(GARBAGE),
        Kind::SmtpEndlessBanner => {
            s.write_all(b"220 ")?;
            forever(&mut s, &[b'A'; 4096])
        }
        Kind::Smtp5xx => s.write_all(b"554 no SMTP service here\r\n"),
        Kind::SmtpMultilineForever => forever(&mut s, &b"220-still greeting\r\n".repeat(64)),
        _ => Ok(()),
    }
}

/// A reply to `q` with `id`, `flags` and these counts, then `rest`.
fn dns_reply(q: &[u8], id: u16, flags: u16, counts: [u16; 4], rest: &[u8]) -> Vec<u8> {
    let mut v = Vec::with_capacity(12 + rest.len());
    v.extend_from_slice(&id.to_be_bytes());
    v.extend_from_slice(&flags.to_be_bytes());
    for c in counts {
        v.extend_from_slice(&c.to_be_bytes());
    }
    // The question as asked, when the query had one.
    if counts[0] == 1 {
        v.extend_from_slice(q.get(12..).unwrap_or_default());
    }
    v.extend_from_slice(rest);
    v
}

/// The replies `kind` sends to query `q`.
pub fn dns_replies(kind: Kind, q: &[u8]) -> Vec<Vec<u8>> {
    let Some(id) = q.get(..2).map(|b| u16::from_be_bytes([b[0], b[1]])) else {
        return Vec::new();
    };
    // QR, RD, RA; NOERROR.
    const ANSWER: u16 = 0x8180;
    // An A record for the question's name (a pointer to offset 12), 10.9.0.50.
    const RR: &[u8] = &[0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 10, 9, 0, 50];
    match kind {
        Kind::DnsOk => vec![dns_reply(q, id, ANSWER, [1, 1, 0, 0], RR)],
        Kind::DnsShort => vec![q.get(..5).unwrap_or(q).to_vec()],
        Kind::DnsWrongId => vec![dns_reply(q, id ^ 0x5a5a, ANSWER, [1, 1, 0, 0], RR)],
        Kind::DnsQrClear => vec![dns_reply(q, id, ANSWER & !0x8000, [1, 1, 0, 0], RR)],
        Kind::DnsBogusCounts => vec![dns_reply(q, id, ANSWER, [0xffff; 4], &[0xc0])],
        Kind::DnsCompressionLoop => {
            // After the header and question the answer's name points at itself.
            let at = q.len() as u16;
            let ptr = (0xc000 | at).to_be_bytes();
            let rr = [ptr[0], ptr[1], 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 10, 9, 0, 50];
            vec![dns_reply(q, id, ANSWER, [1, 1, 0, 0], &rr)]
        }
        Kind::DnsSpoofFlood => {
            let mut v: Vec<Vec<u8>> = (1..=500u16)
                .map(|i| dns_reply(q, id.wrapping_add(i), ANSWER, [1, 1, 0, 0], RR))
                .collect();
            v.push(dns_reply(q, id, ANSWER, [1, 1, 0, 0], RR));
            v
        }
        _ => Vec::new(),
    }
}

fn serve_dns(sock: UdpSocket, kind: Kind, port: u16, log: &Log) {
    let mut buf = [0u8; 1500];
    loop {
        let Ok((n, from)) = sock.recv_from(&mut buf) else {
            continue;
        };
        log_hit(log, port);
        for r in dns_replies(kind, &buf[..n]) {
            let _ = sock.send_to(&r, from);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_have_unique_names_and_parse_back() {
        for k in Kind::ALL {
            assert_eq!(Kind::parse(k.name()), Some(k));
        }
        assert_eq!(Kind::parse("nope"), None);
        for p in [Proto::Http, Proto::Dns, Proto::Smtp] {
            assert!(Kind::ok_of(p).healthy());
            assert_eq!(Kind::ok_of(p).proto(), p);
        }
    }

    #[test]
    fn dns_replies_are_what_they_say() {
        // ID 0x1234, RD, one question: ". SOA IN".
        let q = [0x12, 0x34, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 6, 0, 1];
        let ok = &dns_replies(Kind::DnsOk, &q)[0];
        assert_eq!(&ok[..4], &[0x12, 0x34, 0x81, 0x80]);
        assert_eq!(&ok[12..17], &q[12..]);
        assert_eq!(dns_replies(Kind::DnsShort, &q)[0].len(), 5);
        assert_ne!(&dns_replies(Kind::DnsWrongId, &q)[0][..2], &q[..2]);
        assert_eq!(dns_replies(Kind::DnsQrClear, &q)[0][2] & 0x80, 0);
        let lp = &dns_replies(Kind::DnsCompressionLoop, &q)[0];
        assert_eq!(&lp[q.len()..q.len() + 2], &[0xc0, q.len() as u8]);
        let flood = dns_replies(Kind::DnsSpoofFlood, &q);
        assert_eq!(flood.len(), 501);
        assert_eq!(flood.last(), Some(ok));
        assert!(dns_replies(Kind::DnsOk, &[1]).is_empty());
    }
}
