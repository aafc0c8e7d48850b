//! The control socket: how `keepup handover`, `keepup status` and `keepup reload`
//! reach the running daemon.
//!
//! A Unix stream socket `keepup.ctl` in the runtime directory. One request per
//! connection, one line: `handover [NAME...]`, `resume [NAME...]` (no names: every
//! instance), `status [NAME...]` or `reload`. The daemon answers with lines of text
//! and a last line `ok` or `error: ...`, then closes. A handover is answered when it
//! is over: every named Master has heard its successor and let go of its VIPs, or
//! is Master again because nobody took over. A status is answered from the latest
//! snapshot by the connection's own task, never by the daemon's loop.
//!
//! Anyone may connect (the socket is 0666); the daemon decides by the caller's
//! credentials (SO_PEERCRED): root may do everything, members of the group given
//! with `--status-group` may ask for the status, anyone else is refused with a line
//! saying so.

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
    /// The status snapshot, as JSON (the client renders it).
    Status,
    /// Read the configuration again (as SIGHUP does) and say what changed.
    Reload,
}

impl Verb {
    /// Whether a member of the status group may ask for it (root may ask anything).
    fn read_only(self) -> bool {
        self == Verb::Status
    }
}

/// Who may use the socket besides root.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Access {
    /// Members of this group may read the status.
    pub status_group: Option<u32>,
}

impl Access {
    /// `--status-group`: a group name or a numeric gid.
    pub fn new(status_group: Option<&str>) -> Result<Access> {
        let Some(g) = status_group else {
            return Ok(Access::default());
        };
        let gid = match g.parse::<u32>() {
            Ok(n) => n,
            Err(_) => nix::unistd::Group::from_name(g)
                .with_context(|| format!("--status-group {g}"))?
                .ok_or_else(|| anyhow!("--status-group {g}: no such group"))?
                .gid
                .as_raw(),
        };
        Ok(Access {
            status_group: Some(gid),
        })
    }

    /// May a caller with `uid` and `groups` (primary and supplementary) ask for
    /// `verb`? The refusal says what would be allowed.
    pub fn allows(&self, uid: u32, groups: &[u32], verb: Verb) -> Result<(), String> {
        if uid == 0 {
            return Ok(());
        }
        let member = self.status_group.is_some_and(|g| groups.contains(&g));
        match (verb.read_only(), member, self.status_group) {
            (true, true, _) => Ok(()),
            (true, false, Some(g)) => Err(format!(
                "permission denied: uid {uid} is not root and not in group {g} (--status-group)"
            )),
            (true, false, None) => Err(format!(
                "permission denied: uid {uid} is not root (start keepup with --status-group to let a group read the status)"
            )),
            (false, _, _) => Err(format!(
                "permission denied: only root may ask for {}",
                verb.word()
            )),
        }
    }
}

impl Verb {
    fn word(self) -> &'static str {
        match self {
            Verb::Handover => "handover",
            Verb::Resume => "resume",
            Verb::Status => "status",
            Verb::Reload => "reload",
        }
    }
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
        Some("status") => Verb::Status,
        Some("reload") => Verb::Reload,
        Some(other) => {
            return Err(format!(
                "unknown request {other:?} (handover, resume, status, reload)"
            ))
        }
        None => return Err("empty request".into()),
    };
    let names: Vec<String> = words.map(str::to_string).collect();
    if verb == Verb::Reload && !names.is_empty() {
        return Err("reload takes no names (it reads the whole configuration)".into());
    }
    Ok((verb, names))
}

/// Requests arriving on the socket. Connections are read by their own task (a slow
/// or silent client never holds up the daemon's loop).
pub struct Listener {
    rx: mpsc::Receiver<Request>,
    path: PathBuf,
}

impl Listener {
    /// Bind `keepup.ctl` in `dir` (replacing a stale socket file). Status requests
    /// are answered from `status`; the others are handed to the daemon.
    pub fn bind(dir: &Path, access: Access, status: crate::status::Reader) -> Result<Listener> {
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
        // Who may do what is decided by the caller's credentials, not the file mode.
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o666))
            .with_context(|| format!("cannot open up {}", path.display()))?;
        let (tx, rx) = mpsc::channel(8);
        tokio::spawn(accept(listener, tx, access, status));
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

async fn accept(
    listener: UnixListener,
    tx: mpsc::Sender<Request>,
    access: Access,
    status: crate::status::Reader,
) {
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
        let status = status.clone();
        tokio::spawn(async move {
            if let Some(req) = read_request(stream, access, &status).await {
                let _ = tx.send(req).await;
            }
        });
    }
}

/// The caller's uid and groups (primary and supplementary, from /proc).
fn caller(stream: &UnixStream) -> Option<(u32, Vec<u32>)> {
    let cred = stream.peer_cred().ok()?;
    let mut groups = vec![cred.gid()];
    if let Some(pid) = cred.pid() {
        let text = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
        if let Some(rest) = text.lines().find_map(|l| l.strip_prefix("Groups:")) {
            groups.extend(
                rest.split_whitespace()
                    .filter_map(|g| g.parse::<u32>().ok()),
            );
        }
    }
    Some((cred.uid(), groups))
}

/// Read one request; answer it here when it is refused or asks for the status,
/// else hand it on.
async fn read_request(
    stream: UnixStream,
    access: Access,
    status: &crate::status::Reader,
) -> Option<Request> {
    let who = caller(&stream);
    let mut reader = tokio::io::BufReader::new(stream);
    let mut line = String::new();
    let read = tokio::time::timeout(Duration::from_secs(2), async {
        // At most one short line.
        let mut limited = (&mut reader).take(4096);
        limited.read_line(&mut line).await
    })
    .await;
    let stream = reader.into_inner();
    if !matches!(read, Ok(Ok(n)) if n > 0) {
        return None;
    }
    let (verb, names) = match parse(&line) {
        Ok(p) => p,
        Err(e) => {
            answer(stream, format!("error: {e}\n"));
            return None;
        }
    };
    let allowed = match &who {
        Some((uid, groups)) => access.allows(*uid, groups, verb),
        None => Err("permission denied: the caller's credentials cannot be read".into()),
    };
    if let Err(e) = allowed {
        answer(stream, format!("error: {e}\n"));
        return None;
    }
    if verb == Verb::Status {
        // Off the loop: the kernel's IPVS table is read for it.
        let status = status.clone();
        let text = tokio::task::spawn_blocking(move || {
            let snapshot = status.read();
            let large = snapshot.ipvs.as_ref().is_some_and(|i| i.entries() >= 1024);
            let text = status_answer(snapshot, &names);
            if large {
                // A large table's copy is freed: its pages go back to the kernel now,
                // or they stay resident between the daemon's live allocations.
                keepup_sys::release_free_memory();
            }
            text
        })
        .await
        .unwrap_or_else(|e| format!("error: {e}\n"));
        answer(stream, text);
        return None;
    }
    Some(Request {
        verb,
        names,
        reply: stream,
    })
}

/// The snapshot as one JSON line (only the named instances, if any), then `ok`.
fn status_answer(mut s: crate::status::Snapshot, names: &[String]) -> String {
    if let Some(n) = names
        .iter()
        .find(|n| !s.instances.iter().any(|i| &i.iname == *n))
    {
        return format!("error: no vrrp_instance {n}\n");
    }
    if !names.is_empty() {
        s.instances.retain(|i| names.contains(&i.iname));
    }
    match serde_json::to_string(&s) {
        Ok(json) => format!("{json}\nok\n"),
        Err(e) => format!("error: {e}\n"),
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

/// Client side: send `line` to the daemon whose runtime directory is `dir`; each
/// line of its answer is given to `each` as it comes. `Ok(true)` when it ends with
/// `ok`.
pub fn request(
    dir: &Path,
    line: &str,
    timeout: Duration,
    mut each: impl FnMut(&str),
) -> Result<bool> {
    let path = dir.join(SOCKET);
    let mut stream = std::os::unix::net::UnixStream::connect(&path).map_err(|e| {
        let why = match e.kind() {
            std::io::ErrorKind::NotFound | std::io::ErrorKind::ConnectionRefused => {
                "no keepup daemon is running there".to_string()
            }
            _ => e.to_string(),
        };
        anyhow!(
            "cannot reach keepup at {}: {why} (is `keepup run` running with this --runtime-dir?)",
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
        each(&l);
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
        assert_eq!(
            parse("status VI_1"),
            Ok((Verb::Status, vec!["VI_1".into()]))
        );
        assert_eq!(parse("reload\n"), Ok((Verb::Reload, vec![])));
        assert!(parse("reload VI_1").is_err());
    }

    #[test]
    fn root_does_all_the_status_group_reads_anyone_else_is_told_why_not() {
        let open = Access {
            status_group: Some(990),
        };
        for v in [Verb::Handover, Verb::Resume, Verb::Status, Verb::Reload] {
            assert_eq!(open.allows(0, &[0], v), Ok(()));
        }
        assert_eq!(open.allows(1000, &[1000, 990], Verb::Status), Ok(()));
        let e = open.allows(1000, &[1000, 990], Verb::Reload).unwrap_err();
        assert!(e.contains("only root may ask for reload"), "{e}");
        let e = open.allows(1000, &[1000], Verb::Status).unwrap_err();
        assert!(e.contains("not in group 990"), "{e}");
        let e = Access::default()
            .allows(1000, &[990], Verb::Status)
            .unwrap_err();
        assert!(e.contains("--status-group"), "{e}");
        assert_eq!(Access::new(Some("990")).unwrap(), open);
        assert_eq!(Access::new(Some("root")).unwrap().status_group, Some(0));
        assert!(Access::new(Some("no-such-group-here")).is_err());
    }
}
