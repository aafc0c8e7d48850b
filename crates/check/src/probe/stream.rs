//! TCP_CHECK, SMTP_CHECK, HTTP_GET and SSL_GET: a TCP connection and, but for
//! TCP_CHECK, a dialog over it.
use keepup_config::model::lvs::{Checker, HttpCheck, SmtpCheck};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;

use super::tls::TlsClient;
use super::{plain, Failure, Target};
use crate::proto::http;
use crate::proto::smtp::{SmtpDialog, Step};
use crate::sched::{FailKind, Verdict};

/// Bytes read per call; a dialog's parser bounds what it keeps.
const READ: usize = 16 * 1024;

/// A connection to the target. A socket this host will not open or bind (a missing
/// `bind_if`, a `bindto` address it does not have) is the checker's setup; what
/// `connect` says is the server's.
async fn connect(t: &Target) -> Result<TcpStream, Failure> {
    let s = t
        .socket(socket2::Type::STREAM, socket2::Protocol::TCP)
        .map_err(|e| {
            let reason = format!("cannot open a socket to {}: {}", t.to, plain(&e));
            (FailKind::Setup, reason)
        })?;
    let std: std::net::TcpStream = s.into();
    let sock = tokio::net::TcpSocket::from_std_stream(std);
    sock.connect(t.to).await.map_err(|e| {
        let reason = format!("TCP connection to {}: {}", t.to, plain(&e));
        (FailKind::Connect, reason)
    })
}

/// TCP_CHECK: the connection is the check.
pub async fn tcp(c: &Checker) -> Verdict {
    let t = match Target::of(c, None) {
        Ok(t) => t,
        Err(e) => return Verdict::fail(FailKind::Setup, e),
    };
    match connect(&t).await {
        Ok(_) => Verdict::PASS,
        Err((kind, e)) => Verdict::fail(kind, e),
    }
}

/// SMTP_CHECK: greeting 220, HELO answered 250, QUIT.
pub async fn smtp(c: &Checker, s: &SmtpCheck) -> Verdict {
    let t = match Target::of(c, Some(25)) {
        Ok(t) => t,
        Err(e) => return Verdict::fail(FailKind::Setup, e),
    };
    let mut stream = match connect(&t).await {
        Ok(s) => s,
        Err((kind, e)) => return Verdict::fail(kind, e),
    };
    let mut dialog = SmtpDialog::for_check(s);
    let mut buf = vec![0u8; READ];
    let mut input: &[u8] = &[];
    let mut n;
    loop {
        match dialog.feed(input) {
            Step::Send(bytes) => {
                if let Err(e) = stream.write_all(&bytes).await {
                    let reason = format!("SMTP write to {}: {}", t.to, plain(&e));
                    return Verdict::fail(FailKind::Network, reason);
                }
                // A reply that came with the last read is read now.
                input = &[];
                continue;
            }
            Step::Done(Ok(())) => return Verdict::PASS,
            // A reply code, or a dialog the server broke off or garbled.
            Step::Done(Err(f)) => return Verdict::fail(FailKind::Answer, f.to_string()),
            Step::NeedMore => {}
        }
        n = match stream.read(&mut buf).await {
            Ok(0) => return Verdict::fail(FailKind::Answer, dialog.eof().to_string()),
            Ok(n) => n,
            Err(e) => {
                let reason = format!("SMTP read from {}: {}", t.to, plain(&e));
                return Verdict::fail(FailKind::Network, reason);
            }
        };
        input = &buf[..n];
    }
}

/// HTTP_GET / SSL_GET: every url must pass, each on a connection of its own, read to
/// the end of the stream (as keepalived reads), its body digested as it comes.
/// SSL_GET speaks TLS first ([`super::tls`]: no certificate check without a `ca`).
pub async fn http(c: &Checker, h: &HttpCheck, tls: bool) -> Verdict {
    let kind = if tls { "SSL_GET" } else { "HTTP_GET" };
    let urls = match http::UrlCheck::all(h, None) {
        Ok(u) => u,
        Err(e) => return Verdict::fail(FailKind::Setup, e.to_string()),
    };
    if urls.is_empty() {
        return Verdict::fail(FailKind::Setup, format!("{kind} has no url with a path"));
    }
    let t = match Target::of(c, Some(80)) {
        Ok(t) => t,
        Err(e) => return Verdict::fail(FailKind::Setup, e),
    };
    let client = if tls {
        match TlsClient::new(h.ssl.as_ref()) {
            Ok(c) => Some(c),
            // Its ca, certificate or key files do not load.
            Err(e) => return Verdict::fail(FailKind::Setup, e.to_string()),
        }
    } else {
        None
    };
    for url in &urls {
        let result = match (connect(&t).await, &client) {
            (Err(e), _) => Err(e),
            (Ok(s), None) => get(s, &t, url).await,
            (Ok(s), Some(client)) => {
                // keepalived names the SNI from sni_name, else the url's virtualhost
                // and those it inherits.
                let sni = h
                    .enable_sni
                    .then(|| h.sni_name.as_deref().or(url.virtualhost()))
                    .flatten();
                match client.handshake(s, sni, t.to).await {
                    Ok(s) => get(s, &t, url).await,
                    Err(e) => Err((FailKind::Tls, format!("TLS handshake: {e}"))),
                }
            }
        };
        if let Err((kind, e)) = result {
            return Verdict::fail(kind, format!("{e} for {} on {}", url.path(), t.to));
        }
    }
    Verdict::PASS
}

/// One request and its response, on a connected (TLS) stream.
async fn get<S: AsyncRead + AsyncWrite + Unpin>(
    mut stream: S,
    t: &Target,
    url: &http::UrlCheck,
) -> Result<(), Failure> {
    stream
        .write_all(&url.request(t.to))
        .await
        .map_err(|e| (FailKind::Network, format!("HTTP request: {}", plain(&e))))?;
    let mut response = url.response();
    let mut buf = vec![0u8; READ];
    loop {
        let n = match stream.read(&mut buf).await {
            Ok(0) => break,
            Ok(n) => n,
            // A reset after the whole response still leaves a verdict to give; so
            // does a TLS stream ended without close_notify (many servers skip it).
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::ConnectionReset | std::io::ErrorKind::UnexpectedEof
                ) =>
            {
                break
            }
            Err(e) => return Err((FailKind::Network, format!("HTTP read: {}", plain(&e)))),
        };
        if response.feed(&buf[..n]) == http::Progress::Done {
            break;
        }
    }
    match response.finish() {
        http::Verdict::Pass(_) => Ok(()),
        // The status, digest or regex, or a response that is none (no data, no
        // status line, headers cut short): the server answered, wrongly.
        http::Verdict::Fail(f) => Err((FailKind::Answer, f.to_string())),
    }
}
