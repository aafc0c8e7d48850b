//! One alert's SMTP session on lettre's connection: each step under
//! `smtp_connect_timeout`, every recipient tried, and the message lettre writes.
use lettre::message::header::{ContentType, HeaderName, HeaderValue, MIME_VERSION_1_0};
use lettre::transport::smtp::client::{AsyncSmtpConnection, AsyncTokioStream};
use lettre::transport::smtp::commands::{Data, Mail as MailCmd, Rcpt};
use lettre::transport::smtp::extension::ClientId;
use lettre::Message;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use time::format_description::well_known::Rfc2822;
use time::OffsetDateTime;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tracing::{debug, info, warn};

use super::{Mail, Settings, SmtpError};

/// The most the server may send after each of our writes (the greeting, or one
/// command's reply). Real replies are a few hundred bytes, RFC 5321 §4.5.3.1.5 has
/// 512 octets a line. lettre's reader takes a line of any length, and parses a
/// multi-line reply again from its first line at each new one, so an endless reply
/// would cost memory and then time.
const REPLY_CAP: usize = 4096;

/// What the session has done on the wire, shared between the [`Wire`] lettre owns
/// and the session that bounds its steps in time.
#[derive(Debug)]
struct Progress {
    start: std::time::Instant,
    /// Bytes read from the server since our last write.
    read: AtomicUsize,
    /// Something was written: the greeting had come, lettre sent EHLO.
    wrote: AtomicBool,
    /// When the last write ended, in µs since `start`.
    last_write_us: AtomicU64,
}

impl Progress {
    fn last_write(&self) -> Option<tokio::time::Instant> {
        self.wrote.load(Ordering::Relaxed).then(|| {
            let us = self.last_write_us.load(Ordering::Relaxed);
            tokio::time::Instant::from_std(self.start + Duration::from_micros(us))
        })
    }
}

/// The TCP connection as lettre uses it: reads stop after [`REPLY_CAP`] bytes
/// since the last write, and writes are noted in [`Progress`].
#[derive(Debug)]
struct Wire {
    tcp: TcpStream,
    progress: Arc<Progress>,
}

impl AsyncRead for Wire {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let left = REPLY_CAP.saturating_sub(self.progress.read.load(Ordering::Relaxed));
        if left == 0 {
            return Poll::Ready(Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("a reply longer than {REPLY_CAP} bytes"),
            )));
        }
        // Through a bounded buffer of our own: `ReadBuf::take` would need `unsafe`
        // to hand the bytes back to `buf`.
        let mut chunk = [0u8; 4096];
        let n = left.min(buf.remaining()).min(chunk.len());
        let mut limited = ReadBuf::new(&mut chunk[..n]);
        match Pin::new(&mut self.tcp).poll_read(cx, &mut limited) {
            Poll::Ready(Ok(())) => {
                let got = limited.filled();
                self.progress.read.fetch_add(got.len(), Ordering::Relaxed);
                buf.put_slice(got);
                Poll::Ready(Ok(()))
            }
            other => other,
        }
    }
}

impl AsyncWrite for Wire {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let r = Pin::new(&mut self.tcp).poll_write(cx, buf);
        if let Poll::Ready(Ok(n)) = r {
            if n > 0 {
                let p = &self.progress;
                let us = u64::try_from(p.start.elapsed().as_micros()).unwrap_or(u64::MAX);
                p.last_write_us.store(us, Ordering::Relaxed);
                p.wrote.store(true, Ordering::Relaxed);
                p.read.store(0, Ordering::Relaxed);
            }
        }
        r
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.tcp).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.tcp).poll_shutdown(cx)
    }
}

impl AsyncTokioStream for Wire {
    fn peer_addr(&self) -> io::Result<std::net::SocketAddr> {
        self.tcp.peer_addr()
    }
}

/// How a step ended badly, before it is named.
enum StepError {
    Timeout,
    Smtp(lettre::transport::smtp::Error),
}

/// One SMTP session: the server (for log lines), the time each step has, and what
/// went over the wire.
struct Session {
    server: String,
    timeout: Duration,
    progress: Arc<Progress>,
}

impl Session {
    /// Run one step of the conversation. It has `timeout` from its start, and from
    /// each of our writes within it: a write is a command whose reply gets its own
    /// `timeout`, as keepalived bounds each read (lettre's connect reads the
    /// greeting and then sends EHLO in one step).
    async fn step<T, F>(&self, fut: F) -> Result<T, StepError>
    where
        F: Future<Output = Result<T, lettre::transport::smtp::Error>>,
    {
        tokio::pin!(fut);
        let mut deadline = tokio::time::Instant::now() + self.timeout;
        loop {
            match tokio::time::timeout_at(deadline, &mut fut).await {
                Ok(r) => return r.map_err(StepError::Smtp),
                Err(_) => match self.progress.last_write().map(|w| w + self.timeout) {
                    Some(later) if later > deadline => deadline = later,
                    _ => return Err(StepError::Timeout),
                },
            }
        }
    }

    fn error(&self, stage: &'static str, e: StepError) -> SmtpError {
        let server = self.server.clone();
        match e {
            StepError::Timeout => SmtpError::Timeout { server, stage },
            StepError::Smtp(error) => match error.status() {
                Some(code) => SmtpError::Rejected {
                    server,
                    stage,
                    code: u16::from(code),
                    // lettre keeps the reply's text as the error's source.
                    text: std::error::Error::source(&error)
                        .map(ToString::to_string)
                        .unwrap_or_default(),
                },
                None => SmtpError::Failed {
                    server,
                    stage,
                    error,
                },
            },
        }
    }

    /// The greeting and EHLO (lettre's connect), the envelope, the message, QUIT.
    async fn deliver(&self, wire: Wire, s: &Settings, message: &[u8]) -> Result<(), SmtpError> {
        let helo = ClientId::Domain(s.helo.clone());
        let connect = AsyncSmtpConnection::connect_with_transport(Box::new(wire), &helo);
        let mut conn = self.step(connect).await.map_err(|e| {
            // Nothing written yet: lettre was still waiting for the greeting.
            let stage = if self.progress.wrote.load(Ordering::Relaxed) {
                "HELO"
            } else {
                "greeting"
            };
            self.error(stage, e)
        })?;
        let from = MailCmd::new(Some(s.from.email.clone()), vec![]);
        self.step(conn.command(from))
            .await
            .map_err(|e| self.error("MAIL", e))?;
        let mut accepted = 0;
        let mut refusal = None;
        for to in &s.to {
            match self
                .step(conn.command(Rcpt::new(to.email.clone(), vec![])))
                .await
            {
                Ok(_) => accepted += 1,
                Err(StepError::Smtp(e)) if e.status().is_some() => {
                    // One refused recipient should not cost the others their alert.
                    let e = self.error("RCPT", StepError::Smtp(e));
                    if let SmtpError::Rejected { code, text, .. } = &e {
                        warn!(
                            "SMTP server {} refused recipient {}: {code} {text}",
                            self.server, to.email
                        );
                    }
                    refusal = Some(e);
                }
                Err(e) => return Err(self.error("RCPT", e)),
            }
        }
        if accepted == 0 {
            return Err(refusal.unwrap_or(SmtpError::Rejected {
                server: self.server.clone(),
                stage: "RCPT",
                code: 0,
                text: "no recipient".into(),
            }));
        }
        self.step(conn.command(Data))
            .await
            .map_err(|e| self.error("DATA", e))?;
        // lettre dot-stuffs the message and ends it with `.`.
        self.step(conn.message(message))
            .await
            .map_err(|e| self.error("DOT", e))?;
        // The mail is accepted: a failed QUIT is not worth more than a debug line.
        if let Err(e) = self.step(conn.quit()).await {
            debug!("{}", self.error("QUIT", e));
        }
        Ok(())
    }
}

/// A header value on one line (a name from the config never holds a line break,
/// but a header is no place to trust that).
fn one_line(s: &str) -> String {
    s.chars()
        .map(|c| if c == '\r' || c == '\n' { ' ' } else { c })
        .collect()
}

/// The message lettre writes: keepalived's headers (Date, From, Subject, X-Mailer,
/// To) first, then Message-ID and the MIME ones, and the body in a transfer encoding
/// fit for any server. Dot-stuffing is left to the session.
pub fn message(s: &Settings, mail: &Mail, now: SystemTime, id: &str) -> Result<Vec<u8>, SmtpError> {
    let mut b = Message::builder()
        .date(now)
        .from(s.from.clone())
        .subject(one_line(&mail.subject))
        .raw_header(HeaderValue::new(
            // keepalived's, which mail filters may match.
            HeaderName::new_from_ascii_str("X-Mailer"),
            "Keepalived".into(),
        ));
    for to in &s.to {
        b = b.to(to.clone());
    }
    b.message_id(Some(format!("<{id}@{}>", one_line(&s.helo))))
        .header(MIME_VERSION_1_0)
        .header(ContentType::TEXT_PLAIN)
        .body(mail.body.clone())
        .map(|m| m.formatted())
        .map_err(SmtpError::Message)
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
    let message = message(s, mail, SystemTime::now(), &message_id())?;
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
    let Some(tcp) = stream else {
        return Err(last.unwrap_or(SmtpError::Resolve {
            server,
            error: io::Error::new(io::ErrorKind::NotFound, "no address"),
        }));
    };
    info!("Remote SMTP server {server} connected.");
    let progress = Arc::new(Progress {
        start: std::time::Instant::now(),
        read: AtomicUsize::new(0),
        wrote: AtomicBool::new(false),
        last_write_us: AtomicU64::new(0),
    });
    let session = Session {
        server,
        timeout: s.timeout,
        progress: progress.clone(),
    };
    session.deliver(Wire { tcp, progress }, s, &message).await
}

fn message_id() -> String {
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
