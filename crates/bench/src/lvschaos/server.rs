//! The soak's real server (`keepup-bench chaos-lvs-server`, in a namespace of the guest):
//! a small HTTP/1.0 server whose answers a mode file decides at each request: `ok` (the
//! page), `500` (an error), `wrong` (another page: a wrong digest).
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result};

use super::world::{Mode, BODY};

pub fn run(listen: SocketAddr, mode: PathBuf) -> Result<std::process::ExitCode> {
    let l = TcpListener::bind(listen).with_context(|| format!("listen on {listen}"))?;
    loop {
        let Ok((conn, _)) = l.accept() else {
            continue;
        };
        let mode = mode.clone();
        std::thread::spawn(move || {
            let _ = answer(conn, &mode);
        });
    }
}

fn current(mode: &Path) -> Mode {
    match std::fs::read_to_string(mode).unwrap_or_default().trim() {
        "500" => Mode::Error,
        "wrong" => Mode::Wrong,
        _ => Mode::Ok,
    }
}

fn answer(mut conn: TcpStream, mode: &Path) -> std::io::Result<()> {
    conn.set_read_timeout(Some(Duration::from_secs(3)))?;
    let mut req = Vec::new();
    let mut buf = [0u8; 1024];
    while !req.windows(4).any(|w| w == b"\r\n\r\n") && req.len() < 16 * 1024 {
        let n = conn.read(&mut buf)?;
        if n == 0 {
            return Ok(());
        }
        req.extend_from_slice(&buf[..n]);
    }
    let (status, body) = match current(mode) {
        Mode::Ok => ("200 OK", BODY),
        Mode::Error => ("500 Internal Server Error", "broken\n"),
        Mode::Wrong => ("200 OK", "not the page\n"),
    };
    let reply = format!(
        "HTTP/1.0 {status}\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    conn.write_all(reply.as_bytes())
}
