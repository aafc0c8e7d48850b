//! The control socket: how `keepup handover` reaches the running daemon.
//!
//! A Unix stream socket `keepup.ctl` in the runtime directory, mode 0600 (root
//! only). One request per connection, one line: `handover [NAME...]` or
//! `resume [NAME...]` (no names: every instance). The daemon answers with lines
//! of text and a last line `ok` or `error: ...`, then closes. A handover is
//! answered when it is over: every named Master has heard its successor and let
//! go of its VIPs, or is Master again because nobody took over.

use anyhow::{anyhow, bail, Context, Result};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt};
use tokio::net::{UnixListener, UnixStream};
use tokio::sync::mpsc;
use tracing::warn;

/// The socket's file name in the runtime directory.
pub const SOCKET: &str = "keepup.ctl";

/// What a request asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verb {
    /// Hand mastership over without stopping; do not preempt back.
    Handover,
    /// Preempt again as configured (undo `Handover`).
    Resume,
}

/// A request read from a client, with the connection to answer on.
pub struct Request {
    pub verb: Verb,
    /// Instance names; empty means every instance.
    pub names: Vec<String>,
    pub reply: UnixStream,
}

/// One request line.
pub fn parse(line: &str) -> Result<(Verb, Vec<String>), String> {
    let mut words = line.split_whitespace();
    let verb = match words.next() {
        Some("handover") => Verb::Handover,
        Some("resume") => Verb::Resume,
        Some(other) => return Err(format!("unknown request {other:?} (handover, resume)")),
        None => return Err("empty request".into()),
    };
    Ok((verb, words.map(str::to_string).collect()))
}

/// Requests arriving on the socket. Connections are read by their own task (a slow
/// or silent client never holds up the daemon's loop).
pub struct Listener {
    rx: mpsc::Receiver<Request>,
    path: PathBuf,
}

impl Listener {
    /// Bind `keepup.ctl` in `dir` (replacing a stale socket file).
    pub fn bind(dir: &Path) -> Result<Listener> {
        let path = dir.join(SOCKET);
        match std::fs::remove_file(&path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                return Err(e).with_context(|| format!("cannot remove {}", path.display()));
            }
            _ => {}
        }
        let listener = UnixListener::bind(&path)
            .with_context(|| format!("cannot listen on {}", path.display()))?;
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))
            .with_context(|| format!("cannot restrict {}", path.display()))?;
        let (tx, rx) = mpsc::channel(8);
        tokio::spawn(accept(listener, tx));
        Ok(Listener { rx, path })
    }

    pub async fn next(&mut self) -> Option<Request> {
        self.rx.recv().await
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

async fn accept(listener: UnixListener, tx: mpsc::Sender<Request>) {
    loop {
        let stream = match listener.accept().await {
            Ok((s, _)) => s,
            Err(e) => {
                warn!("control socket: {e}");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let tx = tx.clone();
        tokio::spawn(async move {
            if let Some(req) = read_request(stream).await {
                let _ = tx.send(req).await;
            }
        });
    }
}

async fn read_request(stream: UnixStream) -> Option<Request> {
    let mut reader = tokio::io::BufReader::new(stream);
    let mut line = String::new();
    let read = tokio::time::timeout(Duration::from_secs(2), async {
        // At most one short line.
        let mut limited = (&mut reader).take(4096);
        limited.read_line(&mut line).await
    })
    .await;
    let mut stream = reader.into_inner();
    if !matches!(read, Ok(Ok(n)) if n > 0) {
        return None;
    }
    match parse(&line) {
        Ok((verb, names)) => Some(Request {
            verb,
            names,
            reply: stream,
        }),
        Err(e) => {
            let _ = stream.write_all(format!("error: {e}\n").as_bytes()).await;
            None
        }
    }
}

/// Send `text` (lines) and close, off the daemon's loop.
pub fn answer(mut stream: UnixStream, text: String) {
    tokio::spawn(async move {
        let write = async {
            stream.write_all(text.as_bytes()).await?;
            stream.shutdown().await
        };
        let _ = tokio::time::timeout(Duration::from_secs(5), write).await;
    });
}

/// Client side: send `line` to the daemon whose runtime directory is `dir`, print
/// its answer as it comes; `Ok(true)` when it ends with `ok`.
pub fn request(dir: &Path, line: &str, timeout: Duration) -> Result<bool> {
    let path = dir.join(SOCKET);
    let mut stream = std::os::unix::net::UnixStream::connect(&path).with_context(|| {
        format!(
            "cannot reach keepup at {} (is `keepup run` running with this --runtime-dir?)",
            path.display()
        )
    })?;
    stream.set_read_timeout(Some(timeout))?;
    stream.write_all(format!("{line}\n").as_bytes())?;
    let mut last = None;
    for l in BufReader::new(stream).lines() {
        let l = l.map_err(|e| match e.kind() {
            std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut => {
                anyhow!("no answer within {timeout:?}")
            }
            _ => anyhow!("reading the answer: {e}"),
        })?;
        println!("{l}");
        last = Some(l);
    }
    match last.as_deref() {
        Some("ok") => Ok(true),
        Some(_) => Ok(false),
        None => bail!("keepup closed the connection without an answer"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_lines() {
        assert_eq!(parse("handover\n"), Ok((Verb::Handover, vec![])));
        assert_eq!(
            parse("handover VI_1 VI_2"),
            Ok((Verb::Handover, vec!["VI_1".into(), "VI_2".into()]))
        );
        assert_eq!(parse("resume"), Ok((Verb::Resume, vec![])));
        assert!(parse("").is_err());
        assert!(parse("reboot").unwrap_err().contains("unknown request"));
    }
}
