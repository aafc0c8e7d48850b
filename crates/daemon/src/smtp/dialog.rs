//! The SMTP conversation (RFC 5321) on tokio: connecting, reading replies, each
//! command and its expected codes, and the DATA payload with its RFC 5322 headers.
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use time::format_description::well_known::Rfc2822;
use time::OffsetDateTime;
use tokio::io::{
    AsyncBufRead, AsyncBufReadExt, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader,
};
use tokio::net::TcpStream;
use tracing::{debug, info, warn};

use super::{Mail, Settings, SmtpError};

/// The longest reply line we read (RFC 5321 §4.5.3.1.5 allows 512 octets).
const MAX_LINE: u64 = 2048;
/// The most lines in one multi-line reply we accept.
const MAX_LINES: usize = 64;

/// A server reply: its code and its text lines (without the code).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    pub code: u16,
    pub lines: Vec<String>,
}

impl Reply {
    fn text(&self) -> String {
        self.lines.join(" / ")
    }
}

/// One SMTP session over any byte stream; every step has `timeout` to complete.
struct Session<S> {
    io: BufReader<S>,
    server: String,
    timeout: Duration,
}

impl<S: tokio::io::AsyncRead + AsyncWrite + Unpin> Session<S> {
    /// Read one reply, multi-line (`250-...` lines up to `250 ...`) or not.
    async fn reply(&mut self, stage: &'static str) -> Result<Reply, SmtpError> {
        let limit = self.timeout;
        match tokio::time::timeout(limit, read_reply(&mut self.io)).await {
            Err(_) => Err(SmtpError::Timeout {
                server: self.server.clone(),
                stage,
            }),
            Ok(Err(ReadError::Io(error))) => Err(SmtpError::Io {
                server: self.server.clone(),
                stage,
                error,
            }),
            Ok(Err(ReadError::Closed)) => Err(SmtpError::Closed {
                server: self.server.clone(),
                stage,
            }),
            Ok(Err(ReadError::Garbled(line))) => Err(SmtpError::Garbled {
                server: self.server.clone(),
                stage,
                line,
            }),
            Ok(Ok(r)) => Ok(r),
        }
    }

    /// A reply whose code is one of `ok`.
    async fn expect(&mut self, stage: &'static str, ok: &[u16]) -> Result<Reply, SmtpError> {
        let r = self.reply(stage).await?;
        if ok.contains(&r.code) {
            Ok(r)
        } else {
            Err(self.rejected(stage, &r))
        }
    }

    fn rejected(&self, stage: &'static str, r: &Reply) -> SmtpError {
        SmtpError::Rejected {
            server: self.server.clone(),
            stage,
            code: r.code,
            text: r.text(),
        }
    }

    async fn send(&mut self, stage: &'static str, bytes: &[u8]) -> Result<(), SmtpError> {
        let io = self.io.get_mut();
        let write = async {
            io.write_all(bytes).await?;
            io.flush().await
        };
        match tokio::time::timeout(self.timeout, write).await {
            Err(_) => Err(SmtpError::Timeout {
                server: self.server.clone(),
                stage,
            }),
            Ok(Err(error)) => Err(SmtpError::Io {
                server: self.server.clone(),
                stage,
                error,
            }),
            Ok(Ok(())) => Ok(()),
        }
    }

    /// A command line, then its reply, which must be one of `ok`.
    async fn command(
        &mut self,
        stage: &'static str,
        line: &str,
        ok: &[u16],
    ) -> Result<Reply, SmtpError> {
        self.send(stage, format!("{line}\r\n").as_bytes()).await?;
        self.expect(stage, ok).await
    }

    /// The whole transaction after the connection is up.
    async fn deliver(&mut self, s: &Settings, message: &[u8]) -> Result<(), SmtpError> {
        self.expect("greeting", &[220]).await?;
        self.send("HELO", format!("EHLO {}\r\n", s.helo).as_bytes())
            .await?;
        let ehlo = self.reply("HELO").await?;
        if ehlo.code != 250 {
            // An old server: 500/502 (unknown command) or 504 (not implemented).
            if !matches!(ehlo.code, 500 | 502 | 504) {
                return Err(self.rejected("HELO", &ehlo));
            }
            self.command("HELO", &format!("HELO {}", s.helo), &[250])
                .await?;
        }
        self.command(
            "MAIL",
            &format!("MAIL FROM:<{}>", envelope(&s.from)),
            &[250],
        )
        .await?;
        let mut accepted = 0;
        let mut refusal = None;
        for to in &s.to {
            self.send("RCPT", format!("RCPT TO:<{}>\r\n", envelope(to)).as_bytes())
                .await?;
            let r = self.reply("RCPT").await?;
            if matches!(r.code, 250 | 251) {
                accepted += 1;
            } else {
                // One refused recipient should not cost the others their alert.
                warn!(
                    "SMTP server {} refused recipient {to}: {} {}",
                    self.server,
                    r.code,
                    r.text()
                );
                refusal = Some(r);
            }
        }
        if accepted == 0 {
            let r = refusal.unwrap_or(Reply {
                code: 0,
                lines: vec!["no recipient".into()],
            });
            return Err(self.rejected("RCPT", &r));
        }
        self.command("DATA", "DATA", &[354]).await?;
        self.send("DOT", message).await?;
        self.expect("DOT", &[250]).await?;
        // The mail is accepted: a failed QUIT is not worth more than a debug line.
        if let Err(e) = self.command("QUIT", "QUIT", &[221]).await {
            debug!("{e}");
        }
        Ok(())
    }
}

#[derive(Debug)]
pub(super) enum ReadError {
    Io(std::io::Error),
    Closed,
    Garbled(String),
}

/// One reply: lines `CODE-text` continue it, `CODE text` (or `CODE`) ends it.
pub(super) async fn read_reply<R: AsyncBufRead + Unpin>(r: &mut R) -> Result<Reply, ReadError> {
    let mut lines = Vec::new();
    loop {
        let mut buf = Vec::new();
        let n = (&mut *r)
            .take(MAX_LINE)
            .read_until(b'\n', &mut buf)
            .await
            .map_err(ReadError::Io)?;
        if n == 0 {
            return Err(ReadError::Closed);
        }
        let line = String::from_utf8_lossy(&buf);
        let line = line.trim_end_matches(['\r', '\n']);
        let code = line
            .get(..3)
            .filter(|c| c.bytes().all(|b| b.is_ascii_digit()))
            .and_then(|c| c.parse::<u16>().ok())
            .filter(|c| (200..600).contains(c));
        let Some(code) = code else {
            return Err(ReadError::Garbled(line.chars().take(80).collect()));
        };
        let more = match line.as_bytes().get(3) {
            None | Some(b' ') => false,
            Some(b'-') => true,
            Some(_) => return Err(ReadError::Garbled(line.chars().take(80).collect())),
        };
        lines.push(line.get(4..).unwrap_or("").to_string());
        if !more {
            return Ok(Reply { code, lines });
        }
        if lines.len() >= MAX_LINES {
            return Err(ReadError::Garbled(format!(
                "more than {MAX_LINES} lines in one reply"
            )));
        }
    }
}

/// The address for the envelope: what is between `<` and `>` when the setting is
/// written `Name <user@host>`, else the setting itself.
pub(super) fn envelope(addr: &str) -> &str {
    match (addr.find('<'), addr.rfind('>')) {
        (Some(a), Some(b)) if a < b => addr[a + 1..b].trim(),
        _ => addr.trim(),
    }
}

/// A header value on one line (a name from the config never holds a line break,
/// but a header is no place to trust that).
fn one_line(s: &str) -> String {
    s.chars()
        .map(|c| if c == '\r' || c == '\n' { ' ' } else { c })
        .collect()
}

/// The DATA payload: headers, a blank line, the body with CRLF line ends and every
/// line that starts with `.` doubled (RFC 5321 §4.5.2), and the final `.` line.
pub fn message(s: &Settings, mail: &Mail, now: SystemTime, id: &str) -> Vec<u8> {
    let mut out = String::new();
    out.push_str(&format!("Date: {}\r\n", rfc5322_date(now)));
    out.push_str(&format!("From: {}\r\n", one_line(&s.from)));
    out.push_str(&format!("To: {}\r\n", one_line(&s.to.join(", "))));
    out.push_str(&format!("Subject: {}\r\n", one_line(&mail.subject)));
    out.push_str(&format!("Message-ID: <{id}@{}>\r\n", one_line(&s.helo)));
    out.push_str("MIME-Version: 1.0\r\n");
    out.push_str("Content-Type: text/plain; charset=utf-8\r\n");
    out.push_str("X-Mailer: keepup\r\n");
    out.push_str("\r\n");
    for line in mail.body.lines() {
        if line.starts_with('.') {
            out.push('.');
        }
        out.push_str(line);
        out.push_str("\r\n");
    }
    out.push_str(".\r\n");
    out.into_bytes()
}

/// `Tue, 04 Mar 2025 09:05:01 +0000`: RFC 5322 §3.3, in UTC.
pub fn rfc5322_date(t: SystemTime) -> String {
    let secs = t
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    // Out of `time`'s range (after the year 9999) only with a clock gone mad: the
    // epoch then, rather than a panic.
    let at = i64::try_from(secs)
        .ok()
        .and_then(|s| OffsetDateTime::from_unix_timestamp(s).ok())
        .unwrap_or(OffsetDateTime::UNIX_EPOCH);
    // RFC 5322 keeps RFC 2822's date-time syntax; `time` names the format after 2822.
    at.format(&Rfc2822).unwrap_or_default()
}

/// Connect (each address of the host in turn, `timeout` each) and deliver `mail`.
pub async fn send(s: &Settings, mail: &Mail) -> Result<(), SmtpError> {
    let server = s.server();
    let addrs: Vec<std::net::SocketAddr> = match tokio::time::timeout(
        s.timeout,
        tokio::net::lookup_host((s.host.as_str(), s.port)),
    )
    .await
    {
        Err(_) => return Err(SmtpError::ConnectTimeout { server }),
        Ok(Err(error)) => return Err(SmtpError::Resolve { server, error }),
        Ok(Ok(a)) => a.collect(),
    };
    let mut last = None;
    let mut stream = None;
    for a in addrs {
        match tokio::time::timeout(s.timeout, TcpStream::connect(a)).await {
            Err(_) => {
                last = Some(SmtpError::ConnectTimeout {
                    server: server.clone(),
                })
            }
            Ok(Err(error)) => {
                last = Some(SmtpError::Connect {
                    server: server.clone(),
                    error,
                })
            }
            Ok(Ok(c)) => {
                stream = Some(c);
                break;
            }
        }
    }
    let Some(stream) = stream else {
        return Err(last.unwrap_or(SmtpError::Resolve {
            server,
            error: std::io::Error::new(std::io::ErrorKind::NotFound, "no address"),
        }));
    };
    info!("Remote SMTP server {server} connected.");
    let mut session = Session {
        io: BufReader::new(stream),
        server,
        timeout: s.timeout,
    };
    let id = message_id();
    session
        .deliver(s, &message(s, mail, SystemTime::now(), &id))
        .await
}

fn message_id() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static SEQ: AtomicU64 = AtomicU64::new(0);
    let t = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_micros())
        .unwrap_or(0);
    format!(
        "keepup.{t}.{}.{}",
        std::process::id(),
        SEQ.fetch_add(1, Ordering::Relaxed)
    )
}
