//! Where `keepup run` logs, as keepalived's options say:
//!
//! - syslog, unless `-G/--no-syslog`: facility `daemon`, or `-S/--log-facility`
//!   (`0`-`7` for local0-local7, `local0`-`local7`, `user`, `daemon`), with keepalived's
//!   identifiers so that rsyslog rules and alerts written for keepalived keep
//!   matching: `Keepalived_vrrp` for the VRRP side, `Keepalived_healthcheckers` for the
//!   checkers and IPVS. Sent through /dev/log as libc's syslog(3) does (RFC 3164), or,
//!   under systemd without `-S`, natively to journald (`SYSLOG_IDENTIFIER`,
//!   `SYSLOG_FACILITY`, `PRIORITY`, `CODE_FILE`, `CODE_LINE`, `TARGET` fields);
//! - stderr (the console), with `-l/--log-console`, and otherwise whenever it would
//!   not repeat what syslog already gives journald: a daemon started by hand, by a
//!   test or by a supervisor that keeps stderr writes there; under systemd, whose
//!   journal reads both, only one copy is written;
//! - `-D/--log-detail` adds the debug lines; `KEEPUP_LOG` (a tracing filter, e.g.
//!   `info,keepup::lvs=debug`) overrides both.
//!
//! `KEEPUP_SYSLOG_SOCKET` names another socket than /dev/log (a container's, or a
//! test's rsyslog). A syslog daemon that is not there is said once on stderr; the
//! messages go on to stderr, and syslog is tried again when it comes back.
use std::io::Write;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use syslog::{Facility, Formatter3164, LogFormat, Severity};
use tracing::{Level, Metadata};
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{filter, EnvFilter, Layer};

/// keepalived's syslog identifiers (its processes' names).
pub const IDENT_VRRP: &str = "Keepalived_vrrp";
pub const IDENT_CHECKERS: &str = "Keepalived_healthcheckers";

/// How long a missing syslog socket is left before it is tried again.
const RETRY: Duration = Duration::from_secs(5);

/// The logging options of `keepup run` (keepalived's names).
#[derive(Debug, Clone, Default)]
pub struct LogOptions {
    /// `-D`: debug lines too.
    pub detail: bool,
    /// `-l`: to the console (stderr) as well.
    pub console: bool,
    /// `-S`: the syslog facility as given.
    pub facility: Option<String>,
    /// `-G`: no syslog.
    pub no_syslog: bool,
}

/// keepalived's `-S` values: `0`-`7` (local0-local7), `local0`-`local7`, `user`,
/// `daemon`.
pub fn parse_facility(s: &str) -> Result<Facility, String> {
    let local = |n: u8| match n {
        0 => Some(Facility::LOG_LOCAL0),
        1 => Some(Facility::LOG_LOCAL1),
        2 => Some(Facility::LOG_LOCAL2),
        3 => Some(Facility::LOG_LOCAL3),
        4 => Some(Facility::LOG_LOCAL4),
        5 => Some(Facility::LOG_LOCAL5),
        6 => Some(Facility::LOG_LOCAL6),
        7 => Some(Facility::LOG_LOCAL7),
        _ => None,
    };
    let n = s.strip_prefix("local").unwrap_or(s);
    match s {
        "user" => Ok(Facility::LOG_USER),
        "daemon" => Ok(Facility::LOG_DAEMON),
        _ => n.parse::<u8>().ok().and_then(local).ok_or_else(|| {
            format!("invalid log facility '{s}': 0-7, local0-local7, user or daemon")
        }),
    }
}

/// Which identifier a log line of `target` goes under: the checkers' and the IPVS
/// side's under keepalived's health checker process's, the rest under its VRRP
/// process's.
pub fn ident_of(target: &str) -> &'static str {
    const CHECKERS: [&str; 4] = [
        "keepup_check",
        "keepup_lvs",
        "keepup::checkers",
        "keepup::lvs",
    ];
    if CHECKERS.iter().any(|c| {
        target == *c
            || target
                .strip_prefix(c)
                .is_some_and(|rest| rest.starts_with("::"))
    }) {
        IDENT_CHECKERS
    } else {
        IDENT_VRRP
    }
}

/// Whether stderr is systemd's journal (`JOURNAL_STREAM` names stderr's device and
/// inode): a service's stderr, which journald already reads.
fn stderr_is_journal() -> bool {
    use std::os::unix::fs::MetadataExt;
    let Ok(stream) = std::env::var("JOURNAL_STREAM") else {
        return false;
    };
    let Ok(meta) = std::fs::metadata("/proc/self/fd/2") else {
        return false;
    };
    stream == format!("{}:{}", meta.dev(), meta.ino())
}

/// Where syslog messages go.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Sink {
    None,
    /// journald's native protocol (under systemd, no `-S`).
    Journal,
    /// A syslog socket (/dev/log).
    Socket(PathBuf),
}

/// The destinations for these options: syslog's sink, and whether stderr is written.
fn destinations(o: &LogOptions, under_journal: bool, socket: PathBuf) -> (Sink, bool) {
    let sink = if o.no_syslog {
        Sink::None
    } else if under_journal && o.facility.is_none() {
        Sink::Journal
    } else {
        Sink::Socket(socket)
    };
    // Under systemd the journal keeps stderr and syslog alike: one copy.
    let stderr = o.console || sink == Sink::None || !under_journal;
    (sink, stderr)
}

/// Levels as journald priorities, as they go to syslog (tracing-journald's default
/// makes INFO a notice): INFO is syslog's info, as keepalived logs its state changes.
const JOURNAL_PRIORITIES: tracing_journald::PriorityMappings = tracing_journald::PriorityMappings {
    error: tracing_journald::Priority::Error,
    warn: tracing_journald::Priority::Warning,
    info: tracing_journald::Priority::Informational,
    debug: tracing_journald::Priority::Debug,
    trace: tracing_journald::Priority::Debug,
};

/// Sets up logging for `keepup run`. A problem (a bad `-S`, no syslog socket) is said
/// on stderr, and logging goes on without it.
pub fn init(o: &LogOptions) {
    let level = if o.detail { "debug" } else { "info" };
    let filter = || EnvFilter::try_from_env("KEEPUP_LOG").unwrap_or_else(|_| EnvFilter::new(level));
    let facility = match o.facility.as_deref().map(parse_facility) {
        Some(Err(e)) => {
            eprintln!("keepup: {e}; using daemon");
            Facility::LOG_DAEMON
        }
        Some(Ok(f)) => f,
        None => Facility::LOG_DAEMON,
    };
    let socket = std::env::var_os("KEEPUP_SYSLOG_SOCKET")
        .map_or_else(|| PathBuf::from("/dev/log"), PathBuf::from);
    let (sink, stderr) = destinations(o, stderr_is_journal(), socket);
    let stderr_layer = stderr.then(|| {
        tracing_subscriber::fmt::layer()
            .with_writer(std::io::stderr)
            .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
            .with_target(false)
            .with_filter(filter())
    });
    let mut journal = Vec::new();
    let mut sockets = Vec::new();
    for ident in [IDENT_VRRP, IDENT_CHECKERS] {
        let mine = filter::filter_fn(move |m: &Metadata| ident_of(m.target()) == ident);
        match &sink {
            Sink::None => {}
            Sink::Journal => match tracing_journald::layer() {
                Ok(l) => journal.push(
                    l.with_syslog_identifier(ident.to_string())
                        .with_priority_mappings(JOURNAL_PRIORITIES)
                        .with_custom_fields([(
                            "SYSLOG_FACILITY",
                            ((facility as u32) >> 3).to_string(),
                        )])
                        .with_filter(mine)
                        .with_filter(filter()),
                ),
                Err(e) => eprintln!("keepup: journald: {e}; logging to stderr"),
            },
            Sink::Socket(path) => sockets.push(
                tracing_subscriber::fmt::layer()
                    .without_time()
                    .with_level(false)
                    .with_target(false)
                    .with_ansi(false)
                    .with_writer(Syslog::new(path.clone(), facility, ident))
                    .with_filter(mine)
                    .with_filter(filter()),
            ),
        }
    }
    // An empty Vec of layers is interested in nothing, which would silence the others:
    // None instead.
    let _ = tracing_subscriber::registry()
        .with(stderr_layer)
        .with((!journal.is_empty()).then_some(journal))
        .with((!sockets.is_empty()).then_some(sockets))
        .try_init();
}

/// A syslog socket with one identifier: each line is one RFC 3164 datagram, as libc's
/// syslog(3) sends it.
#[derive(Clone)]
struct Syslog {
    inner: Arc<Mutex<Connection>>,
}

struct Connection {
    path: PathBuf,
    format: Formatter3164,
    socket: Option<std::os::unix::net::UnixDatagram>,
    /// When the socket was last found missing (it is tried again after [`RETRY`]).
    failed: Option<Instant>,
}

/// A missing syslog socket was said (once for the process, not per identifier).
static SAID: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

impl Syslog {
    fn new(path: PathBuf, facility: Facility, ident: &str) -> Syslog {
        Syslog {
            inner: Arc::new(Mutex::new(Connection {
                path,
                format: Formatter3164 {
                    facility,
                    hostname: None,
                    process: ident.to_string(),
                    pid: std::process::id(),
                },
                socket: None,
                failed: None,
            })),
        }
    }
}

impl Connection {
    fn send(&mut self, severity: Severity, line: &str) {
        if self.socket.is_none() {
            if self.failed.is_some_and(|t| t.elapsed() < RETRY) {
                return;
            }
            let s = std::os::unix::net::UnixDatagram::unbound()
                .and_then(|s| s.connect(&self.path).map(|()| s));
            match s {
                Ok(s) => {
                    self.socket = Some(s);
                    self.failed = None;
                }
                Err(e) => {
                    if !SAID.swap(true, std::sync::atomic::Ordering::Relaxed) {
                        eprintln!(
                            "keepup: syslog: {}: {e}; its lines are not sent until it answers",
                            self.path.display()
                        );
                    }
                    self.failed = Some(Instant::now());
                    return;
                }
            }
        }
        let mut datagram = Vec::with_capacity(line.len() + 64);
        if self.format.format(&mut datagram, severity, line).is_err() {
            return;
        }
        if let Some(s) = &self.socket {
            if s.send(&datagram).is_err() {
                // syslogd restarted (its socket is a new one) or went away: connect
                // again for the next line.
                self.socket = None;
            }
        }
    }
}

/// One log line being formatted; sent when dropped.
struct Line {
    to: Arc<Mutex<Connection>>,
    severity: Severity,
    buf: Vec<u8>,
}

impl Write for Line {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.buf.extend_from_slice(b);
        Ok(b.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Drop for Line {
    fn drop(&mut self) {
        let text = String::from_utf8_lossy(&self.buf);
        let text = text.trim_end();
        if text.is_empty() {
            return;
        }
        if let Ok(mut c) = self.to.lock() {
            c.send(self.severity, text);
        }
    }
}

impl<'a> MakeWriter<'a> for Syslog {
    type Writer = Line;

    fn make_writer(&'a self) -> Line {
        self.line(Severity::LOG_INFO)
    }

    fn make_writer_for(&'a self, meta: &Metadata<'_>) -> Line {
        // keepalived logs at LOG_INFO what is not an error or a warning.
        let severity = match *meta.level() {
            Level::ERROR => Severity::LOG_ERR,
            Level::WARN => Severity::LOG_WARNING,
            Level::INFO => Severity::LOG_INFO,
            Level::DEBUG | Level::TRACE => Severity::LOG_DEBUG,
        };
        self.line(severity)
    }
}

impl Syslog {
    fn line(&self, severity: Severity) -> Line {
        Line {
            to: self.inner.clone(),
            severity,
            buf: Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn facilities_as_keepalived_reads_them() {
        for (given, want) in [
            ("0", Facility::LOG_LOCAL0),
            ("7", Facility::LOG_LOCAL7),
            ("local3", Facility::LOG_LOCAL3),
            ("daemon", Facility::LOG_DAEMON),
            ("user", Facility::LOG_USER),
        ] {
            assert_eq!(
                parse_facility(given).map(|f| f as u32),
                Ok(want as u32),
                "{given}"
            );
        }
        for bad in ["8", "local8", "kern", "", "-1"] {
            assert!(parse_facility(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn each_side_under_keepalived_s_identifier() {
        assert_eq!(ident_of("keepup::run"), IDENT_VRRP);
        assert_eq!(ident_of("keepup::run::duplicates"), IDENT_VRRP);
        assert_eq!(ident_of("keepup::syncd"), IDENT_VRRP);
        assert_eq!(ident_of("keepup_vrrp::router"), IDENT_VRRP);
        assert_eq!(ident_of("keepup::checkers"), IDENT_CHECKERS);
        assert_eq!(ident_of("keepup::lvs"), IDENT_CHECKERS);
        assert_eq!(ident_of("keepup_check::probe::stream"), IDENT_CHECKERS);
        assert_eq!(ident_of("keepup::checkersx"), IDENT_VRRP);
    }

    #[test]
    fn one_copy_under_systemd() {
        let sock = PathBuf::from("/dev/log");
        let o = |facility: Option<&str>, console, no_syslog| LogOptions {
            detail: false,
            console,
            facility: facility.map(str::to_string),
            no_syslog,
        };
        // By hand or under a test: syslog and stderr.
        assert_eq!(
            destinations(&o(None, false, false), false, sock.clone()),
            (Sink::Socket(sock.clone()), true)
        );
        // Under systemd: journald natively, no stderr copy.
        assert_eq!(
            destinations(&o(None, false, false), true, sock.clone()),
            (Sink::Journal, false)
        );
        // -S under systemd: the facility's syslog socket (journald reads it too).
        assert_eq!(
            destinations(&o(Some("0"), false, false), true, sock.clone()),
            (Sink::Socket(sock.clone()), false)
        );
        // -l: stderr as well; -G: no syslog, stderr always.
        assert_eq!(
            destinations(&o(None, true, false), true, sock.clone()),
            (Sink::Journal, true)
        );
        assert_eq!(
            destinations(&o(None, false, true), true, sock.clone()),
            (Sink::None, true)
        );
    }

    #[test]
    fn a_line_is_one_rfc3164_datagram() {
        let dir = std::env::temp_dir().join(format!("keepup-syslog-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("log.sock");
        let _ = std::fs::remove_file(&path);
        let server = std::os::unix::net::UnixDatagram::bind(&path).unwrap();
        let log = Syslog::new(path.clone(), Facility::LOG_LOCAL0, IDENT_VRRP);
        {
            let mut l = log.line(Severity::LOG_INFO);
            l.write_all(b"(VI_1) Entering MASTER STATE\n").unwrap();
        }
        let mut buf = [0u8; 512];
        let n = server.recv(&mut buf).unwrap();
        let got = String::from_utf8_lossy(&buf[..n]).into_owned();
        // local0 (16) * 8 + info (6) = 134.
        assert!(got.starts_with("<134>"), "{got}");
        assert!(
            got.ends_with(&format!(
                " Keepalived_vrrp[{}]: (VI_1) Entering MASTER STATE",
                std::process::id()
            )),
            "{got}"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}
