//! `smtp_alert`: a mail to `notification_email` on every VRRP state change of an
//! instance or sync group that asks for it, through `smtp_server`.
//!
//! The client is a small SMTP conversation (RFC 5321) on tokio: greeting, EHLO
//! (HELO when the server does not know EHLO), MAIL FROM, one RCPT TO per recipient,
//! DATA with RFC 5322 headers and dot-stuffing, QUIT. Each step has
//! `smtp_connect_timeout` to answer. Mails go through one bounded queue served by one
//! task, so they leave in the order the transitions happened and a slow or dead
//! server never holds the daemon's loop: when the queue is full, the alert is dropped
//! with a log line.
use crate::notify::Kind;
use keepup_config::model::global::GlobalDefs;
use keepup_config::model::vrrp::Notify;
use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::io::{
    AsyncBufRead, AsyncBufReadExt, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader,
};
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tracing::{debug, info, warn};

/// How many mails may wait for the server before new alerts are dropped.
pub const QUEUE: usize = 64;
/// The longest reply line we read (RFC 5321 §4.5.3.1.5 allows 512 octets).
const MAX_LINE: u64 = 2048;
/// The most lines in one multi-line reply we accept.
const MAX_LINES: usize = 64;

/// Where and how mail is sent: the `global_defs` email keywords, defaults filled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// `smtp_server HOST`: an IP address or a host name.
    pub host: String,
    /// `smtp_server HOST PORT` (default 25).
    pub port: u16,
    /// `smtp_helo_name` (default: the local host name).
    pub helo: String,
    /// `notification_email_from` (default `keepalived@<host name>`).
    pub from: String,
    /// `notification_email`.
    pub to: Vec<String>,
    /// `smtp_connect_timeout`: for the connection and for each reply.
    pub timeout: Duration,
}

impl Settings {
    /// `[host]:port`, as log lines show the server.
    pub fn server(&self) -> String {
        format!("[{}]:{}", self.host, self.port)
    }
}

/// One mail: subject and plain-text body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mail {
    pub subject: String,
    pub body: String,
}

/// Why a mail was not sent.
#[derive(Debug)]
#[non_exhaustive]
pub enum SmtpError {
    /// The host name gave no address.
    Resolve {
        server: String,
        error: std::io::Error,
    },
    /// No answer to the connection within the timeout.
    ConnectTimeout { server: String },
    /// The connection was refused or failed.
    Connect {
        server: String,
        error: std::io::Error,
    },
    /// No (complete) reply within the timeout at `stage`.
    Timeout { server: String, stage: &'static str },
    /// The connection broke at `stage`.
    Io {
        server: String,
        stage: &'static str,
        error: std::io::Error,
    },
    /// The server closed the connection at `stage`.
    Closed { server: String, stage: &'static str },
    /// The server answered `code` where another was needed.
    Rejected {
        server: String,
        stage: &'static str,
        code: u16,
        text: String,
    },
    /// A reply that is not SMTP.
    Garbled {
        server: String,
        stage: &'static str,
        line: String,
    },
}

impl fmt::Display for SmtpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SmtpError::Resolve { server, error } => {
                write!(f, "Cannot resolve SMTP server {server}: {error}")
            }
            SmtpError::ConnectTimeout { server } => {
                write!(f, "Timeout connecting SMTP server {server}.")
            }
            SmtpError::Connect { server, error } => {
                write!(f, "Error connecting SMTP server {server}: {error}")
            }
            SmtpError::Timeout { server, stage } => write!(
                f,
                "Timeout reading data from SMTP server {server} (waiting for the {stage} reply)"
            ),
            SmtpError::Io {
                server,
                stage,
                error,
            } => write!(f, "Error talking to SMTP server {server} at {stage}: {error}"),
            SmtpError::Closed { server, stage } => {
                write!(f, "SMTP server {server} closed the connection at {stage}")
            }
            SmtpError::Rejected {
                server,
                stage,
                code,
                text,
            } => write!(
                f,
                "Error processing {stage} cmd on SMTP server {server}. SMTP status code = {code} ({text})"
            ),
            SmtpError::Garbled {
                server,
                stage,
                line,
            } => write!(
                f,
                "SMTP server {server} sent a reply that is not SMTP at {stage}: {line:?}"
            ),
        }
    }
}

impl std::error::Error for SmtpError {}

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
enum ReadError {
    Io(std::io::Error),
    Closed,
    Garbled(String),
}

/// One reply: lines `CODE-text` continue it, `CODE text` (or `CODE`) ends it.
async fn read_reply<R: AsyncBufRead + Unpin>(r: &mut R) -> Result<Reply, ReadError> {
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
fn envelope(addr: &str) -> &str {
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
    let days = i64::try_from(secs / 86_400).unwrap_or(0);
    let rem = secs % 86_400;
    let (y, m, d) = civil_from_days(days);
    const WEEKDAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let wd = WEEKDAYS[usize::try_from(days.rem_euclid(7)).unwrap_or(0)];
    let mon = MONTHS[usize::try_from(m - 1).unwrap_or(0).min(11)];
    format!(
        "{wd}, {d:02} {mon} {y:04} {:02}:{:02}:{:02} +0000",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// Days since 1970-01-01 to (year, month 1..12, day 1..31), proleptic Gregorian
/// (H. Hinnant's "civil_from_days").
fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
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

/// The local host name (`/proc/sys/kernel/hostname`), `localhost` if unreadable.
pub fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "localhost".into())
}

/// What the VRRP side of `global_defs` says about mail.
#[derive(Debug, Clone)]
pub struct Policy {
    /// `None` without `smtp_server` or without `notification_email`.
    pub settings: Option<Arc<Settings>>,
    /// For an instance or group without its own `smtp_alert`:
    /// `smtp_alert_vrrp`, else `smtp_alert`, else no (as keepalived).
    pub default_alert: bool,
    /// `no_email_faults`.
    pub no_email_faults: bool,
    /// `router_id` (default: the host name), in every subject.
    pub router_id: String,
}

impl Policy {
    pub fn from_global(g: &GlobalDefs) -> Policy {
        let host = host_name();
        let settings = match &g.smtp_server {
            Some(srv) if !g.notification_email.is_empty() => Some(Arc::new(Settings {
                host: srv.host.clone(),
                port: srv.port,
                helo: g.smtp_helo_name.clone().unwrap_or_else(|| host.clone()),
                from: g
                    .notification_email_from
                    .clone()
                    .unwrap_or_else(|| format!("keepalived@{host}")),
                to: g.notification_email.clone(),
                timeout: Duration::from_secs(u64::from(g.smtp_connect_timeout.max(1))),
            })),
            _ => None,
        };
        Policy {
            settings,
            default_alert: g.smtp_alert_vrrp.or(g.smtp_alert).unwrap_or(false),
            no_email_faults: g.no_email_faults,
            router_id: g.router_id.clone().unwrap_or(host),
        }
    }

    /// Whether an instance or group with these notify settings mails on entering
    /// `state`.
    pub fn wants(&self, n: &Notify, state: &str) -> bool {
        n.smtp_alert.unwrap_or(self.default_alert) && !(self.no_email_faults && state == "FAULT")
    }
}

/// The subject and body for `name` entering `state`.
pub fn alert(router_id: &str, kind: Kind, name: &str, state: &str, priority: u8) -> Mail {
    let what = match kind {
        Kind::Instance => "VRRP instance",
        Kind::Group => "VRRP sync group",
    };
    let subject = match state {
        "STOP" => format!("[{router_id}] {what} {name}: stopping"),
        s => format!("[{router_id}] {what} {name}: entering {s} state"),
    };
    let meaning = match (kind, state) {
        (Kind::Instance, "MASTER") => "It now holds the virtual addresses.".to_string(),
        (Kind::Instance, "STOP") => {
            "keepup is stopping it; it gives up the virtual addresses.".to_string()
        }
        (Kind::Instance, _) => "It does not hold the virtual addresses.".to_string(),
        (Kind::Group, "STOP") => "keepup is stopping every instance of the group.".to_string(),
        (Kind::Group, s) => format!("Every instance of the group is now {s}."),
    };
    let mut body = format!("{what} {name} on {router_id} is now {state}.\n{meaning}\n");
    if kind == Kind::Instance {
        body.push_str(&format!("Effective priority: {priority}\n"));
    }
    body.push_str(&format!("Time: {}\n", rfc5322_date(SystemTime::now())));
    Mail { subject, body }
}

/// One queued alert: who it is about (for the log) and where it goes.
struct Queued {
    who: String,
    settings: Arc<Settings>,
    mail: Mail,
}

/// The daemon's alert queue: which state each instance/group was last mailed about
/// (no second mail for the same state, as keepalived), and the sending task.
#[derive(Default)]
pub struct Alerts {
    policy: Option<Policy>,
    last: HashMap<(Kind, String), String>,
    tx: Option<mpsc::Sender<Queued>>,
    task: Option<tokio::task::JoinHandle<()>>,
    /// The missing-server warning was given.
    warned: bool,
}

impl Alerts {
    /// New `global_defs` (start and reload).
    pub fn configure(&mut self, g: &GlobalDefs) {
        let p = Policy::from_global(g);
        if p.settings.is_none() && (p.default_alert || g.smtp_server.is_some()) {
            let missing = if g.smtp_server.is_none() {
                "smtp_server"
            } else {
                "notification_email"
            };
            warn!("smtp_alert: no {missing} in global_defs; no alert mail will be sent");
        }
        self.policy = Some(p);
        self.warned = false;
    }

    /// `name` entered `state`: queue its mail if its `smtp_alert` (or the global
    /// default) asks for one. Whether a mail was queued.
    pub fn transition(
        &mut self,
        kind: Kind,
        name: &str,
        n: &Notify,
        state: &str,
        priority: u8,
    ) -> bool {
        let Some(p) = &self.policy else { return false };
        if !p.wants(n, state) {
            return false;
        }
        let Some(settings) = p.settings.clone() else {
            if !self.warned {
                self.warned = true;
                warn!(
                    "({name}) smtp_alert is on, but global_defs lacks smtp_server or notification_email; no mail is sent"
                );
            }
            return false;
        };
        let key = (kind, name.to_string());
        if self.last.get(&key).map(String::as_str) == Some(state) {
            return false;
        }
        self.last.insert(key, state.to_string());
        let mail = alert(&p.router_id, kind, name, state, priority);
        let tx = self.tx.get_or_insert_with(|| {
            let (tx, rx) = mpsc::channel(QUEUE);
            self.task = Some(tokio::spawn(serve(rx)));
            tx
        });
        let q = Queued {
            who: name.to_string(),
            settings,
            mail,
        };
        match tx.try_send(q) {
            Ok(()) => true,
            Err(mpsc::error::TrySendError::Full(q)) => {
                warn!(
                    "({}) SMTP alert dropped: {QUEUE} mails already wait for {}",
                    q.who,
                    q.settings.server()
                );
                false
            }
            Err(mpsc::error::TrySendError::Closed(q)) => {
                warn!("({}) SMTP alert dropped: the mail task is gone", q.who);
                false
            }
        }
    }

    /// On exit: no more alerts; the task that sends the queued ones.
    pub fn close(&mut self) -> Option<tokio::task::JoinHandle<()>> {
        self.tx = None;
        self.task.take()
    }
}

async fn serve(mut rx: mpsc::Receiver<Queued>) {
    while let Some(q) = rx.recv().await {
        match send(&q.settings, &q.mail).await {
            Ok(()) => info!("({}) SMTP alert successfully sent.", q.who),
            Err(e) => warn!("({}) SMTP alert not sent: {e}", q.who),
        }
    }
}

#[cfg(test)]
mod tests;
