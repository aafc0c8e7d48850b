//! `keepup genhash`: keepalived's `genhash`, which prints the MD5 digest of a web
//! page's body as HTTP_GET and SSL_GET compute it (the `digest` of a `url`). Same
//! options and same output, byte for byte, as Debian's keepalived 2.2.7 `genhash`
//! (compared on nginx and on scripted servers): one line without `-v`, the digest or
//! what went wrong; with `-v`, hex dumps of the header and of the body as each read
//! brought them, the digest's dump, and the response time. Called as `genhash` (a
//! symlink to keepup), keepup is genhash.
//!
//! What keepalived does, and so do we:
//!
//! - Options are read as glibc's `getopt_long` reads them: clusters (`-Sv`), attached
//!   values (`-p80`, `--port=80`), unambiguous prefixes of long names (`--serv`),
//!   arguments after options permuted to the end and refused (`Unexpected
//!   argument(s)`). The first bad option or value prints its line and the usage on
//!   stderr, exit status 1; so do `-h` and fewer than two arguments. A repeated option
//!   overrides (with several `-u`, the last url is fetched).
//! - Values: `-s` an IPv4 or IPv6 address (no name, no brackets, no scope); `-p`
//!   1-65535 as `strtol` reads it (`+80`, ` 80`); `-m` and `-t` as `strtoul` reads them
//!   after blanks (empty `-m` is 0; `-t` counts microseconds in 32 bits, so above 4294
//!   seconds it wraps as keepalived's does); `-P` `1.0`, `1.0c`/`1.0C` or `1.1`.
//! - Every run exits 0, whatever the server did. The digest goes to stdout; "no data
//!   received from remote webserver" (no header end) to stderr; every other outcome is
//!   one line on stdout in keepalived's words: `Connection failed`, `Timeout
//!   connecting`, `HTTP_CHECK - network unreachable`, `SSL handshake/communication
//!   error connecting to`, `Cannot send get request to`, `Timeout WEB write`, `Timeout
//!   WEB read` (nothing came), `Timeout HTTP read` / `Timeout SSL read` (the stream
//!   stalled), `Read error with` (a reset), `SSL read error from` (TLS closed with no
//!   header). With no `-t` the wait per step is keepalived's 4294.967295 s.
//! - The body is read in reads of at most 4095 bytes (keepalived's buffer less its
//!   NUL), the header collected across reads; TLS is read a record at a time, as
//!   OpenSSL's `SSL_read` reads. So the verbose dumps are cut where keepalived's are
//!   (a plain TCP read still depends on how the data arrives, for both).
//! - TLS: no certificate check (there is no `SSL` block); SNI only with `-I`, naming
//!   the `-V` virtualhost (rustls sends only a DNS name: [`keepup_check::probe::tls`]).
//!
//! Where keepup differs: keepalived 2.2.7 waits out its read timeout when a TLS
//! stream ends without close_notify, or is reset, and then says `Timeout SSL read`
//! (71 minutes without `-t`); keepup says it at once. A `--url` without its value
//! prints its name (keepalived prints garbage). `-t 0` gives keepalived's usual answer
//! on loopback, `Timeout WEB write` once connected (over TLS keepalived sometimes gets
//! a step further, a race), not a race of our own.
use keepup_check::probe::tls::{is_tls13, read_record, TlsClient};
use keepup_check::proto::http::{self, HttpProtocol, RequestHost, Response};
use socket2::{Domain, Protocol, Socket, Type};
use std::io::{self, Write};
use std::net::{IpAddr, SocketAddr};
use std::process::ExitCode;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::timeout;

/// keepalived's read buffer (`MAX_BUFFER_LENGTH`) less the byte for its NUL.
const READ: usize = 4095;

/// keepalived's default connection timeout in genhash: `UINT_MAX` microseconds.
const DEFAULT_TIMEOUT: Duration = Duration::from_micros(u32::MAX as u64);

/// MD5 of nothing: the digest keepalived dumps when no body byte was read.
const EMPTY_MD5: [u8; 16] = [
    0xd4, 0x1d, 0x8c, 0xd9, 0x8f, 0x00, 0xb2, 0x04, 0xe9, 0x80, 0x09, 0x98, 0xec, 0xf8, 0x42, 0x7e,
];

const HTTP_HEADER_HEXA: &str =
    "-----------------------[    HTTP Header Buffer    ]-----------------------\n";
const HTTP_HEADER_ASCII: &str =
    "-----------------------[ HTTP Header Ascii Buffer ]-----------------------\n";
const HTML_HEADER_HEXA: &str =
    "-----------------------[        HTML Buffer        ]-----------------------\n";
const HTML_HASH: &str =
    "-----------------------[    HTML hash resulting    ]-----------------------\n";
const HTML_HASH_FINAL: &str =
    "-----------------------[ HTML hash final resulting ]-----------------------\n";

/// The usage text after its first line, as genhash prints it on stderr.
const USAGE: &str = "Commands:
   -s server-address -p port -u url
   -S -s server-address -p port -u url
   -h

Options:
Either long or short options are allowed.
   --use-ssl         -S       Use SSL connection to remote server.
   --use-sni         -I       Use SNI during SSL handshake (uses virtualhost setting; see -V).
   --server          -s       Use the specified remote server address.
   --port            -p       Use the specified remote server port.
   --url             -u       Use the specified remote server url.
   --use-virtualhost -V       Use the specified virtualhost in GET query.
   --verbose         -v       Use verbose mode output.
   --help            -h       Display this short inlined help screen.
   --fwmark          -m       Use the specified FW mark.
   --protocol        -P       Use the specified HTTP protocol - '1.0', 1.0c', '1.1'.
                                1.0c means 1.0 with 'Connection: close'
   --timeout         -t       Timeout in seconds
";

/// The long options: name, whether it takes a value, its short letter.
const LONG: &[(&str, bool, char)] = &[
    ("help", false, 'h'),
    ("verbose", false, 'v'),
    ("use-ssl", false, 'S'),
    ("use-sni", false, 'I'),
    ("server", true, 's'),
    ("use-virtualhost", true, 'V'),
    ("port", true, 'p'),
    ("url", true, 'u'),
    ("fwmark", true, 'm'),
    ("protocol", true, 'P'),
    ("timeout", true, 't'),
];

/// What to fetch, and how.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Options {
    server: IpAddr,
    port: u16,
    url: String,
    virtualhost: Option<String>,
    ssl: bool,
    sni: bool,
    verbose: bool,
    fwmark: u32,
    protocol: HttpProtocol,
    timeout: Duration,
}

/// Options as they are read; the mandatory ones may still be missing.
#[derive(Debug, Default)]
struct Partial {
    server: Option<IpAddr>,
    port: Option<u16>,
    url: Option<String>,
    virtualhost: Option<String>,
    ssl: bool,
    sni: bool,
    verbose: bool,
    fwmark: u32,
    protocol: HttpProtocol,
    timeout: Option<Duration>,
}

/// Run genhash with `args` (after the program name, or after `keepup genhash`);
/// `prog` is how the usage names the command.
pub fn main(prog: &str, args: &[String]) -> ExitCode {
    let opts = match parse(args) {
        Ok(o) => o,
        Err(line) => {
            let mut e = io::stderr().lock();
            if let Some(l) = line {
                let _ = writeln!(e, "{l}");
            }
            let _ = write!(e, "Usage: {prog} COMMAND [OPTIONS]\n{USAGE}");
            return ExitCode::from(1);
        }
    };
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("genhash: cannot start: {e}");
            return ExitCode::from(1);
        }
    };
    let mut out = io::BufWriter::new(io::stdout().lock());
    let mut err = io::stderr().lock();
    let done = rt.block_on(run(&opts, &mut out, &mut err));
    if done.and_then(|()| out.flush()).is_err() {
        return ExitCode::from(1);
    }
    ExitCode::SUCCESS
}

/// `Err(Some(line))`: print `line` then the usage; `Err(None)`: the usage alone.
fn parse(args: &[String]) -> Result<Options, Option<String>> {
    // keepalived: `if (argc <= 2) usage`.
    if args.len() <= 1 {
        return Err(None);
    }
    let mut p = Partial::default();
    let mut operands: Vec<&str> = Vec::new();
    let mut i = 0;
    while i < args.len() {
        let a = args[i].as_str();
        i += 1;
        if a == "--" {
            operands.extend(args[i..].iter().map(String::as_str));
            break;
        }
        if let Some(long) = a.strip_prefix("--") {
            let (name, attached) = match long.split_once('=') {
                Some((n, v)) => (n, Some(v)),
                None => (long, None),
            };
            let found = match LONG.iter().find(|l| l.0 == name) {
                Some(l) => Some(l),
                None => {
                    let mut prefixed = LONG.iter().filter(|l| l.0.starts_with(name));
                    match (prefixed.next(), prefixed.next()) {
                        (Some(l), None) => Some(l),
                        _ => None,
                    }
                }
            };
            let Some(&(full, takes_value, letter)) = found else {
                return Err(Some(format!("Unknown option {a}")));
            };
            let value = match (takes_value, attached) {
                (false, None) => None,
                (false, Some(_)) => return Err(Some(format!("Unknown option {a}"))),
                (true, Some(v)) => Some(v),
                (true, None) => match args.get(i) {
                    Some(v) => {
                        i += 1;
                        Some(v.as_str())
                    }
                    None => return Err(Some(format!("Missing parameter for option --{full}"))),
                },
            };
            apply(&mut p, letter, value)?;
            continue;
        }
        let Some(cluster) = a.strip_prefix('-').filter(|c| !c.is_empty()) else {
            operands.push(a);
            continue;
        };
        for (at, letter) in cluster.char_indices() {
            let takes_value = match LONG.iter().find(|l| l.2 == letter) {
                Some(l) => l.1,
                None => return Err(Some(format!("Unknown option -{letter}"))),
            };
            if !takes_value {
                apply(&mut p, letter, None)?;
                continue;
            }
            let rest = &cluster[at + letter.len_utf8()..];
            let value = if !rest.is_empty() {
                rest
            } else if let Some(v) = args.get(i) {
                i += 1;
                v.as_str()
            } else {
                return Err(Some(format!("Missing parameter for option -{letter}")));
            };
            apply(&mut p, letter, Some(value))?;
            break;
        }
    }
    if !operands.is_empty() {
        return Err(Some(format!(
            "Unexpected argument(s): {}",
            operands.join(" ")
        )));
    }
    match (p.server, p.port, p.url) {
        (Some(server), Some(port), Some(url)) => Ok(Options {
            server,
            port,
            url,
            virtualhost: p.virtualhost,
            ssl: p.ssl,
            sni: p.sni,
            verbose: p.verbose,
            fwmark: p.fwmark,
            protocol: p.protocol,
            timeout: p.timeout.unwrap_or(DEFAULT_TIMEOUT),
        }),
        _ => Err(None),
    }
}

/// One option; a bad value is the line to print before the usage.
fn apply(p: &mut Partial, letter: char, value: Option<&str>) -> Result<(), Option<String>> {
    let v = value.unwrap_or("");
    match letter {
        'h' => return Err(None),
        'v' => p.verbose = true,
        'S' => p.ssl = true,
        'I' => p.sni = true,
        's' => {
            p.server = Some(
                v.parse()
                    .map_err(|_| Some(format!("server should be an IP, not {v}")))?,
            )
        }
        'V' => p.virtualhost = Some(v.to_string()),
        'p' => {
            let (n, end) = strtol(v);
            if end != v.len() || !(1..=65535).contains(&n) {
                return Err(Some(format!("invalid port number '{v}'")));
            }
            p.port = u16::try_from(n).ok();
        }
        'u' => p.url = Some(v.to_string()),
        'm' => {
            let start = v.trim_start_matches([' ', '\t']);
            let (n, end) = strtoul(start);
            if end != start.len() || start.starts_with('-') {
                return Err(Some(format!("invalid fwmark '{v}'")));
            }
            // keepalived keeps it in an unsigned int.
            p.fwmark = n as u32;
        }
        'P' => {
            p.protocol = match v {
                "1.0" => HttpProtocol::V1_0,
                "1.0c" | "1.0C" => HttpProtocol::V1_0C,
                "1.1" => HttpProtocol::V1_1,
                _ => return Err(Some(format!("invalid HTTP protocol version '{v}'"))),
            }
        }
        't' => {
            let start = v.trim_start_matches([' ', '\t']);
            let (n, end) = strtoul(start);
            if end != start.len() || start.starts_with('-') || start.is_empty() {
                return Err(Some(format!("invalid timeout '{v}'")));
            }
            // Seconds times TIMER_HZ in an unsigned int, as keepalived computes it.
            let micros = (n as u32).wrapping_mul(1_000_000);
            p.timeout = Some(Duration::from_micros(u64::from(micros)));
        }
        _ => return Err(Some(format!("Unknown option -{letter}"))),
    }
    Ok(())
}

/// C's `strtoul(s, &end, 10)`: leading blanks, a sign (`-` negates modulo 2^64),
/// digits; `ULONG_MAX` on overflow. Returns the value and where `end` points (0 when
/// no digit was read).
fn strtoul(s: &str) -> (u64, usize) {
    let (negative, digits, end) = c_number(s);
    if end == 0 {
        return (0, 0);
    }
    let value = digits.unwrap_or(u64::MAX);
    (
        if negative {
            value.wrapping_neg()
        } else {
            value
        },
        end,
    )
}

/// C's `strtol(s, &end, 10)`, clamped to `i64` as `LONG_MIN`/`LONG_MAX`.
fn strtol(s: &str) -> (i64, usize) {
    let (negative, digits, end) = c_number(s);
    if end == 0 {
        return (0, 0);
    }
    let value = match (digits, negative) {
        (Some(d), false) => i64::try_from(d).unwrap_or(i64::MAX),
        (Some(d), true) => 0i64.checked_sub_unsigned(d).unwrap_or(i64::MIN),
        (None, false) => i64::MAX,
        (None, true) => i64::MIN,
    };
    (value, end)
}

/// The parts C's number parsers read: sign, digits (`None` on overflow), end.
fn c_number(s: &str) -> (bool, Option<u64>, usize) {
    let b = s.as_bytes();
    let mut i = b
        .iter()
        .position(|c| !matches!(c, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r'))
        .unwrap_or(b.len());
    let negative = b.get(i) == Some(&b'-');
    if matches!(b.get(i), Some(b'+' | b'-')) {
        i += 1;
    }
    let first = i;
    let mut value = Some(0u64);
    while let Some(d) = b.get(i).filter(|c| c.is_ascii_digit()) {
        value = value
            .and_then(|v| v.checked_mul(10))
            .and_then(|v| v.checked_add(u64::from(d - b'0')));
        i += 1;
    }
    if i == first {
        return (false, Some(0), 0);
    }
    (negative, value, i)
}

/// keepalived's `dump_buffer`: offset, 16 bytes in hex (a `-` after 8), and the
/// printable ones.
fn dump(out: &mut impl Write, bytes: &[u8]) -> io::Result<()> {
    for (n, line) in bytes.chunks(16).enumerate() {
        write!(out, "{:04} ", (n * 16) & 0xffff)?;
        for i in 0..16 {
            match line.get(i) {
                Some(b) => write!(out, " {b:02x}")?,
                None => out.write_all(b"   ")?,
            }
            if i == 7 {
                out.write_all(b" -")?;
            }
        }
        out.write_all(b"   ")?;
        for i in 0..16 {
            let c = match line.get(i) {
                Some(&b) if (0x20..=0x7e).contains(&b) => b,
                Some(_) => b'.',
                None => b' ',
            };
            out.write_all(&[c])?;
        }
        out.write_all(b"\n")?;
    }
    Ok(())
}

/// The response as it is read: the header collected until it ends, the body digested
/// by [`Response`], and with `-v` each read dumped as keepalived dumps it.
struct Reading<'o, W> {
    out: &'o mut W,
    verbose: bool,
    response: Response,
    /// The header so far (keepalived's buffer: at most [`READ`] bytes).
    head: Vec<u8>,
    extracted: bool,
}

impl<W: Write> Reading<'_, W> {
    /// How much the next read may take.
    fn room(&self) -> usize {
        if self.extracted {
            READ
        } else {
            READ - self.head.len()
        }
    }

    fn feed(&mut self, bytes: &[u8]) -> io::Result<()> {
        let before = self.response.digested_len();
        self.response.feed(bytes);
        let digested =
            usize::try_from(self.response.digested_len() - before).unwrap_or(bytes.len());
        if self.extracted {
            if self.verbose && digested > 0 {
                dump(self.out, &bytes[..digested])?;
            }
            return Ok(());
        }
        if self.verbose {
            self.out.write_all(HTTP_HEADER_HEXA.as_bytes())?;
        }
        let from = self.head.len().saturating_sub(3);
        let had = self.head.len();
        self.head.extend_from_slice(bytes);
        let Some(at) = self.head[from..].windows(4).position(|w| w == b"\r\n\r\n") else {
            return Ok(());
        };
        let end = from + at + 4;
        self.extracted = true;
        if self.verbose {
            let head = &self.head[..end];
            dump(self.out, head)?;
            self.out.write_all(HTTP_HEADER_ASCII.as_bytes())?;
            // printf("%.*s") stops at a NUL.
            let shown = head.split(|&b| b == 0).next().unwrap_or(head);
            self.out.write_all(shown)?;
            self.out.write_all(b"\n")?;
            if digested > 0 {
                let body = end - had;
                self.out.write_all(HTML_HEADER_HEXA.as_bytes())?;
                dump(self.out, &bytes[body..body + digested])?;
            }
        }
        self.head = Vec::new();
        Ok(())
    }

    /// End of stream: the digest (dumped with `-v`), or what genhash says instead.
    fn end(self, tls: bool, err: &mut impl Write) -> io::Result<Option<&'static str>> {
        let digest = match self.response.finish_genhash() {
            Ok(d) if self.extracted => Some(d),
            _ => None,
        };
        if self.verbose {
            self.out.write_all(b"\n")?;
            self.out.write_all(HTML_HASH.as_bytes())?;
            dump(self.out, digest.as_ref().map_or(&EMPTY_MD5, |d| &d.0))?;
            self.out.write_all(HTML_HASH_FINAL.as_bytes())?;
        }
        match digest {
            Some(d) => {
                writeln!(self.out, "{d}")?;
                Ok(None)
            }
            None if tls => Ok(Some("SSL read error from")),
            None => {
                self.out.flush()?;
                writeln!(err, "{}", http::GenhashError::NoData)?;
                Ok(None)
            }
        }
    }
}

async fn run(o: &Options, out: &mut impl Write, err: &mut impl Write) -> io::Result<()> {
    let start = Instant::now();
    if let Some(line) = fetch(o, out, err).await? {
        writeln!(out, "{line}")?;
    }
    if o.verbose {
        write!(
            out,
            "\nGlobal response time for [{}] = {} usecs\n",
            o.url,
            start.elapsed().as_micros()
        )?;
    }
    Ok(())
}

/// `Some(line)`: the outcome to print instead of a digest.
async fn fetch(
    o: &Options,
    out: &mut impl Write,
    err: &mut impl Write,
) -> io::Result<Option<&'static str>> {
    let dst = SocketAddr::new(o.server, o.port);
    // With -t 0 keepalived's steps that are ready at once still go through.
    let zero = o.timeout.is_zero();
    let tcp = match connect(dst, o.fwmark, o.timeout).await {
        Ok(s) => s,
        Err(line) => return Ok(Some(line)),
    };
    let host = match &o.virtualhost {
        Some(v) => RequestHost::VirtualHost(v),
        None => RequestHost::Address(dst),
    };
    let request = http::request(&o.url, host, o.protocol);
    let mut reading = Reading {
        out,
        verbose: o.verbose,
        response: Response::for_genhash(),
        head: Vec::new(),
        extracted: false,
    };
    let mut buf = vec![0u8; READ];
    if !o.ssl {
        let mut tcp = tcp;
        if zero {
            return Ok(Some("Timeout WEB write"));
        }
        match timeout(o.timeout, tcp.write_all(&request)).await {
            Err(_) => return Ok(Some("Timeout WEB write")),
            Ok(Err(_)) => return Ok(Some("Cannot send get request to")),
            Ok(Ok(())) => {}
        }
        let mut first = true;
        loop {
            let room = reading.room();
            if room == 0 {
                return reading.end(false, err);
            }
            match timeout(o.timeout, tcp.read(&mut buf[..room])).await {
                Err(_) if first => return Ok(Some("Timeout WEB read")),
                Err(_) => return Ok(Some("Timeout HTTP read")),
                Ok(Ok(0)) => return reading.end(false, err),
                Ok(Ok(n)) => reading.feed(&buf[..n])?,
                Ok(Err(_)) => return Ok(Some("Read error with")),
            }
            first = false;
        }
    }
    let Ok(client) = TlsClient::new(None) else {
        return Ok(Some("SSL handshake/communication error connecting to"));
    };
    let sni = if o.sni {
        o.virtualhost.as_deref()
    } else {
        None
    };
    let handshake = client.handshake(tcp, sni, dst);
    let done = if zero {
        handshake.await
    } else {
        match timeout(o.timeout, handshake).await {
            Ok(r) => r,
            Err(_) => return Ok(Some("Timeout connecting")),
        }
    };
    let Ok(mut tls) = done else {
        return Ok(Some("SSL handshake/communication error connecting to"));
    };
    if zero {
        return Ok(Some("Timeout WEB write"));
    }
    let send = async {
        tls.write_all(&request).await?;
        tls.flush().await
    };
    match timeout(o.timeout, send).await {
        Err(_) => return Ok(Some("Timeout WEB write")),
        Ok(Err(_)) => return Ok(Some("Cannot send get request to")),
        Ok(Ok(())) => {}
    }
    // A TLS 1.3 server's session tickets wake keepalived's first read, so its wait
    // times out in the TLS read.
    let mut first = !is_tls13(&tls);
    loop {
        let room = reading.room();
        if room == 0 {
            return reading.end(true, err);
        }
        match timeout(o.timeout, read_record(&mut tls, &mut buf[..room])).await {
            Err(_) if first => return Ok(Some("Timeout WEB read")),
            Ok(Ok(0)) => return reading.end(true, err),
            Ok(Ok(n)) => reading.feed(&buf[..n])?,
            // keepalived waits out its timeout after an end without close_notify, or
            // a reset, then says this.
            Err(_) | Ok(Err(_)) => return Ok(Some("Timeout SSL read")),
        }
        first = false;
    }
}

/// A TCP connection as keepalived's genhash makes it, or its words for the failure.
async fn connect(dst: SocketAddr, fwmark: u32, wait: Duration) -> Result<TcpStream, &'static str> {
    const FAILED: &str = "Connection failed";
    let s = Socket::new(Domain::for_address(dst), Type::STREAM, Some(Protocol::TCP))
        .map_err(|_| FAILED)?;
    s.set_nonblocking(true).map_err(|_| FAILED)?;
    s.set_cloexec(true).map_err(|_| FAILED)?;
    if fwmark != 0 {
        // keepalived goes on without the mark when it cannot set it.
        let _ = s.set_mark(fwmark);
    }
    match s.connect(&dst.into()) {
        Ok(()) => {}
        Err(e) if e.raw_os_error() == Some(nix::errno::Errno::EINPROGRESS as i32) => {}
        // Refused at once (no route): keepalived's words for it.
        Err(_) => return Err("HTTP_CHECK - network unreachable"),
    }
    let tcp = TcpStream::from_std(s.into()).map_err(|_| FAILED)?;
    let ready = if wait.is_zero() {
        tcp.writable().await
    } else {
        timeout(wait, tcp.writable())
            .await
            .map_err(|_| "Timeout connecting")?
    };
    ready.map_err(|_| "Error connecting")?;
    match tcp.take_error() {
        Ok(None) => Ok(tcp),
        Ok(Some(_)) => Err(FAILED),
        Err(_) => Err("Error connecting"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(line: &str) -> Vec<String> {
        line.split(' ').map(str::to_string).collect()
    }

    fn parsed(line: &str) -> Options {
        parse(&args(line)).expect(line)
    }

    fn refused(line: &str) -> Option<String> {
        parse(&args(line)).expect_err(line)
    }

    #[test]
    fn options_as_getopt_long_reads_them() {
        let o = parsed("-s 127.0.0.1 -p 18081 -u /page");
        assert_eq!(
            (o.server, o.port, o.url.as_str(), o.timeout),
            (
                "127.0.0.1".parse().expect("ip"),
                18081,
                "/page",
                DEFAULT_TIMEOUT
            )
        );
        assert_eq!(o.protocol, HttpProtocol::V1_0);
        assert!(!o.ssl && !o.sni && !o.verbose);
        // Attached values, clusters, long names, prefixes, `=`.
        let o = parsed("-s127.0.0.1 -p18081 -u/x -SvI --use-v=web --proto 1.1 --serv ::1");
        assert_eq!(o.server, "::1".parse::<IpAddr>().expect("ip"));
        assert!(o.ssl && o.verbose && o.sni);
        assert_eq!(o.virtualhost.as_deref(), Some("web"));
        assert_eq!(o.protocol, HttpProtocol::V1_1);
        // The last of a repeated option counts; a value may start with '-'.
        assert_eq!(parsed("-s 1.2.3.4 -p 1 -u /a -u /b").url, "/b");
        assert_eq!(parsed("-s 1.2.3.4 -p 1 -u -v").url, "-v");
        // strtol / strtoul as C reads them.
        assert_eq!(parsed("-s 1.2.3.4 -p +80 -u /").port, 80);
        assert_eq!(
            parse(&[
                "-s".into(),
                "1.2.3.4".into(),
                "-p".into(),
                " 80".into(),
                "-u".into(),
                "/".into()
            ])
            .map(|o| o.port),
            Ok(80)
        );
        assert_eq!(
            parse(&args("-s 1.2.3.4 -p 1 -u / -m")),
            Err(Some("Missing parameter for option -m".into()))
        );
        assert_eq!(
            parse(&[
                "-s".into(),
                "1.2.3.4".into(),
                "-p".into(),
                "1".into(),
                "-u".into(),
                "/".into(),
                "-m".into(),
                "".into()
            ])
            .map(|o| o.fwmark),
            Ok(0)
        );
        assert_eq!(parsed("-s 1.2.3.4 -p 1 -u / -m 4294967296").fwmark, 0);
        assert_eq!(
            parsed("-s 1.2.3.4 -p 1 -u / -t 5").timeout,
            Duration::from_secs(5)
        );
        // 5000 s in microseconds wraps in 32 bits, as in keepalived.
        assert_eq!(
            parsed("-s 1.2.3.4 -p 1 -u / -t 5000").timeout,
            Duration::from_micros(705_032_704)
        );
        assert_eq!(
            parsed("-s 1.2.3.4 -p 1 -u / -P 1.0C").protocol,
            HttpProtocol::V1_0C
        );
    }

    #[test]
    fn refusals_say_what_genhash_says() {
        // The usage alone.
        for line in [
            "-h",
            "-s",
            "-s 1.2.3.4 -p 80",
            "-s 1.2.3.4 -p 80 -u / -h",
            "--help",
        ] {
            assert_eq!(refused(line), None, "{line}");
        }
        assert_eq!(parse(&[]), Err(None));
        for (line, said) in [
            ("-s foo -p 80 -u /", "server should be an IP, not foo"),
            ("-s [::1] -p 80 -u /", "server should be an IP, not [::1]"),
            (
                "-s 127.0.0.01 -p 80 -u /",
                "server should be an IP, not 127.0.0.01",
            ),
            (
                "-s fe80::1%lo -p 80 -u /",
                "server should be an IP, not fe80::1%lo",
            ),
            ("-s 1.2.3.4 -p 0 -u /", "invalid port number '0'"),
            ("-s 1.2.3.4 -p 65536 -u /", "invalid port number '65536'"),
            ("-s 1.2.3.4 -p 0x50 -u /", "invalid port number '0x50'"),
            ("-s 1.2.3.4 -p -5 -u /", "invalid port number '-5'"),
            ("-s 1.2.3.4 -p 80 -u / -m -1", "invalid fwmark '-1'"),
            ("-s 1.2.3.4 -p 80 -u / -m abc", "invalid fwmark 'abc'"),
            ("-s 1.2.3.4 -p 80 -u / -t x", "invalid timeout 'x'"),
            ("-s 1.2.3.4 -p 80 -u / -t -1", "invalid timeout '-1'"),
            (
                "-s 1.2.3.4 -p 80 -u / -P 2.0",
                "invalid HTTP protocol version '2.0'",
            ),
            (
                "-s 1.2.3.4 -p 80 -u / -P 1.0k",
                "invalid HTTP protocol version '1.0k'",
            ),
            ("-x -s 1.2.3.4 -p 80 -u /", "Unknown option -x"),
            ("-vx -s 1.2.3.4", "Unknown option -x"),
            ("-Tv -s 1.2.3.4", "Unknown option -T"),
            ("--bogus=3 -s 1.2.3.4", "Unknown option --bogus=3"),
            ("--use 1.2.3.4 -s 1.2.3.4", "Unknown option --use"),
            ("--verbose=1 -s 1.2.3.4", "Unknown option --verbose=1"),
            ("--hash md5 -s 1.2.3.4", "Unknown option --hash"),
            (
                "-s 1.2.3.4 -p 80 -u / -V",
                "Missing parameter for option -V",
            ),
            (
                "-s 1.2.3.4 -p 80 -u / --url",
                "Missing parameter for option --url",
            ),
            (
                "-s 1.2.3.4 -p 80 -u / extra args",
                "Unexpected argument(s): extra args",
            ),
            ("-s 1.2.3.4 x -p 80 -u /", "Unexpected argument(s): x"),
            ("-s 1.2.3.4 -p 80 -- -u /", "Unexpected argument(s): -u /"),
            // The first problem wins.
            ("-p 0 -s foo -u /", "invalid port number '0'"),
        ] {
            assert_eq!(refused(line).as_deref(), Some(said), "{line}");
        }
    }

    #[test]
    fn dumps_as_keepalived_dumps() {
        // Lines printed by genhash 2.2.7 -v on nginx.
        let mut out = Vec::new();
        dump(&mut out, b"hello from nginx\n").expect("dump");
        assert_eq!(
            String::from_utf8(out).expect("text"),
            "0000  68 65 6c 6c 6f 20 66 72 - 6f 6d 20 6e 67 69 6e 78   hello from nginx\n\
             0016  0a                      -                           .               \n"
        );
        let mut out = Vec::new();
        dump(&mut out, b"ytes\r\n\r\n").expect("dump");
        assert_eq!(
            String::from_utf8(out).expect("text"),
            "0000  79 74 65 73 0d 0a 0d 0a -                           ytes....        \n"
        );
        let mut out = Vec::new();
        dump(&mut out, &EMPTY_MD5).expect("dump");
        assert_eq!(
            String::from_utf8(out).expect("text"),
            "0000  d4 1d 8c d9 8f 00 b2 04 - e9 80 09 98 ec f8 42 7e   ..............B~\n"
        );
        let mut out = Vec::new();
        dump(&mut out, b"").expect("dump");
        assert!(out.is_empty());
    }

    /// Servers on loopback (a thread of their own), each answering every connection
    /// with its answer, then closing.
    fn servers(answers: &[&'static [u8]]) -> Vec<SocketAddr> {
        let answers = answers.to_vec();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            rt.block_on(async move {
                let mut addrs = Vec::new();
                for answer in answers {
                    let l = tokio::net::TcpListener::bind("127.0.0.1:0")
                        .await
                        .expect("bind");
                    addrs.push(l.local_addr().expect("addr"));
                    tokio::spawn(async move {
                        while let Ok((mut s, _)) = l.accept().await {
                            let mut buf = [0u8; 1024];
                            let _ = s.read(&mut buf).await;
                            let _ = s.write_all(answer).await;
                        }
                    });
                }
                let _ = tx.send(addrs);
                std::future::pending::<()>().await
            })
        });
        rx.recv().expect("servers")
    }

    /// One run: what it printed on stdout and on stderr.
    fn genhash(o: &Options) -> (String, String) {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        let (mut out, mut err) = (Vec::new(), Vec::new());
        rt.block_on(run(o, &mut out, &mut err)).expect("run");
        (
            String::from_utf8_lossy(&out).into_owned(),
            String::from_utf8_lossy(&err).into_owned(),
        )
    }

    #[test]
    fn verbose_output_is_keepalived_s() {
        let addr = servers(&[b"HTTP/1.0 200 OK\r\nContent-Length: 3\r\n\r\nabcdef"])[0];
        let mut o = parsed(&format!("-s 127.0.0.1 -p {} -u /x -v", addr.port()));
        let (out, err) = genhash(&o);
        // The body past Content-Length is neither digested nor dumped.
        let (head, time) = out
            .split_once("\nGlobal response time for [/x] = ")
            .expect("time");
        assert!(time.ends_with(" usecs\n"), "{out}");
        assert_eq!(
            head,
            "-----------------------[    HTTP Header Buffer    ]-----------------------\n\
             0000  48 54 54 50 2f 31 2e 30 - 20 32 30 30 20 4f 4b 0d   HTTP/1.0 200 OK.\n\
             0016  0a 43 6f 6e 74 65 6e 74 - 2d 4c 65 6e 67 74 68 3a   .Content-Length:\n\
             0032  20 33 0d 0a 0d 0a       -                            3....          \n\
             -----------------------[ HTTP Header Ascii Buffer ]-----------------------\n\
             HTTP/1.0 200 OK\r\nContent-Length: 3\r\n\r\n\n\
             -----------------------[        HTML Buffer        ]-----------------------\n\
             0000  61 62 63                -                           abc             \n\
             \n\
             -----------------------[    HTML hash resulting    ]-----------------------\n\
             0000  90 01 50 98 3c d2 4f b0 - d6 96 3f 7d 28 e1 7f 72   ..P.<.O...?}(..r\n\
             -----------------------[ HTML hash final resulting ]-----------------------\n\
             900150983cd24fb0d6963f7d28e17f72\n"
        );
        assert_eq!(err, "");
        o.verbose = false;
        assert_eq!(
            genhash(&o),
            ("900150983cd24fb0d6963f7d28e17f72\n".into(), String::new())
        );
    }

    #[test]
    fn failures_are_one_line() {
        let addrs = servers(&[b"", b"HTTP/1.0 200 OK\r\nX: y\r\n"]);
        let (closes, partial) = (addrs[0], addrs[1]);
        let refused = std::net::TcpListener::bind("127.0.0.1:0")
            .expect("bind")
            .local_addr()
            .expect("addr");
        let at = |a: SocketAddr, extra: &str| {
            parsed(&format!("-s 127.0.0.1 -p {} -u /x{extra}", a.port()))
        };
        let no_data = (
            String::new(),
            "no data received from remote webserver\n".to_string(),
        );
        assert_eq!(genhash(&at(closes, "")), no_data);
        assert_eq!(genhash(&at(partial, "")), no_data);
        // The listener above is gone: refused.
        assert_eq!(
            genhash(&at(refused, "")),
            ("Connection failed\n".into(), String::new())
        );
        let (out, err) = genhash(&at(partial, " -v"));
        assert!(
            out.starts_with(
                "-----------------------[    HTTP Header Buffer    ]-----------------------\n\n\
                 -----------------------[    HTML hash resulting    ]-----------------------\n\
                 0000  d4 1d 8c d9"
            ),
            "{out}"
        );
        assert!(
            out.contains("resulting ]-----------------------\n\nGlobal response time"),
            "{out}"
        );
        assert_eq!(err, no_data.1);
        // Over TLS to a plain server: the handshake fails.
        assert_eq!(
            genhash(&at(partial, " -S")),
            (
                "SSL handshake/communication error connecting to\n".into(),
                String::new()
            )
        );
    }
}
