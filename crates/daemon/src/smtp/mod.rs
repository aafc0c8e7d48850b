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
use std::fmt;
use std::time::Duration;

mod alerts;
mod dialog;
pub use alerts::{alert, host_name, Alerts, Policy, QUEUE};
pub use dialog::{message, rfc5322_date, send, Reply};

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

#[cfg(test)]
mod tests;
