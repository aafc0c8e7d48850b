//! `smtp_alert`: a mail to `notification_email` on every VRRP state change of an
//! instance or sync group that asks for it, through `smtp_server`.
//!
//! lettre speaks SMTP (RFC 5321: replies, EHLO, dot-stuffing) and writes the message
//! (RFC 5322 headers, their encoding and folding, the body's transfer encoding). Plain
//! SMTP to `smtp_server`, as keepalived's smtp_alert: no TLS, no authentication.
//!
//! What stays ours, and why:
//! - The session's steps (`dialog.rs`): lettre's async client bounds only the TCP
//!   connect in time, so each step runs under `smtp_connect_timeout` here, as
//!   keepalived bounds each read; and lettre's `send` gives up on the first refused
//!   recipient, where one unknown address should not cost the others their alert, so
//!   MAIL, each RCPT and DATA are lettre's commands sent one by one.
//! - The connection lettre reads (`dialog::Wire`): lettre reads a reply line of any
//!   length, so a server that never ends a line would grow the daemon's memory until
//!   the timeout; the wire stops reading a reply after 4 KiB. It also tells whether
//!   the greeting came (nothing written yet), to name the step that failed.
//! - The TCP connect (tokio), each address of the host in turn, to keep keepalived's
//!   log wording (`Timeout connecting SMTP server ...`).
//!
//! Mails go through one bounded queue served by one task, so they leave in the order
//! the transitions happened and a slow or dead server never holds the daemon's loop:
//! when the queue is full, the alert is dropped with a log line.
use lettre::message::Mailbox;
use std::fmt;
use std::time::Duration;

mod alerts;
mod dialog;
pub use alerts::{alert, host_name, Alerts, Policy, QUEUE};
pub use dialog::{message, rfc5322_date, send};

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
    pub from: Mailbox,
    /// `notification_email`: never empty.
    pub to: Vec<Mailbox>,
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
    /// The server answered `code` (4xx or 5xx) at `stage`.
    Rejected {
        server: String,
        stage: &'static str,
        code: u16,
        text: String,
    },
    /// The conversation broke at `stage`: the connection failed or closed, or the
    /// server sent something that is not an SMTP reply.
    Failed {
        server: String,
        stage: &'static str,
        error: lettre::transport::smtp::Error,
    },
    /// lettre could not build the message.
    Message(lettre::error::Error),
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
            SmtpError::Rejected {
                server,
                stage,
                code,
                text,
            } => write!(
                f,
                "Error processing {stage} cmd on SMTP server {server}. SMTP status code = {code} ({text})"
            ),
            SmtpError::Failed {
                server,
                stage,
                error,
            } => write!(f, "Error talking to SMTP server {server} at {stage}: {error}"),
            SmtpError::Message(error) => write!(f, "Cannot build the alert mail: {error}"),
        }
    }
}

impl std::error::Error for SmtpError {}

#[cfg(test)]
mod tests;
