//! TLS for `SSL_GET` and `keepup genhash -S`: rustls with the ring provider, TLS 1.2
//! and 1.3, a full handshake per connection (no session resumption, as keepalived
//! makes a new `SSL` for each check).
//!
//! # Certificate verification
//!
//! keepalived 2.2.7 never verifies the server's certificate. It hands the `SSL`
//! block's `ca` to OpenSSL (`SSL_CTX_load_verify_locations`) but never asks for
//! verification (no `SSL_CTX_set_verify`, no `SSL_get_verify_result`: the Debian
//! binary imports neither), so a self-signed, expired or misnamed certificate passes,
//! with or without a `ca`. keepup differs in one case only:
//!
//! - **No `ca`** (and always for `keepup genhash`): any certificate is accepted, as
//!   keepalived accepts it. The handshake signatures are still checked against the
//!   certificate the server sent, so the server must hold that certificate's key; but
//!   nothing ties the certificate to anyone trusted. This checks that the service
//!   answers, not who it is.
//! - **With `ca`**: keepup verifies. The chain must lead to a certificate of the `ca`
//!   file and be valid now. The name is checked only when SNI is sent (`enable_sni`
//!   with an `sni_name` or a virtualhost that is a DNS name), against that name;
//!   without SNI the certificate may carry any name. keepalived would accept what
//!   fails here.
//!
//! # SNI
//!
//! keepalived sends SNI only with `enable_sni` (genhash: `-I`), naming `sni_name`,
//! else the url's, checker's, real server's or virtual server's virtualhost (genhash:
//! `-V`). OpenSSL sends whatever string that is; rustls sends only a DNS name, so a
//! virtualhost that is an IP address or carries a port (`web:8443`) is not sent.
//!
//! # End of stream
//!
//! SSL_GET reads to the end of the stream, as HTTP_GET does. The server's
//! close_notify ends it, and so does a TCP end without one (many servers skip it),
//! or a reset: the response is then judged on what came. keepalived 2.2.7 (with
//! OpenSSL 3) waits out its timeout after such an end and fails ("Timeout SSL read";
//! seen with its genhash, which runs the checker's reader); keepup judges the
//! response instead.
//!
//! # Client certificate
//!
//! `certificate` (a PEM chain) and `key` (PEM: PKCS#8, PKCS#1 or SEC1; an encrypted
//! PKCS#8 key is decrypted with `password`). A `certificate` without `key` takes the
//! key from the certificate's file. OpenSSL's older encrypted format (`Proc-Type:
//! 4,ENCRYPTED`) is refused with the command that converts it.
use keepup_config::model::lvs::Ssl;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::{verify_server_cert_signed_by_trust_anchor, verify_server_name};
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, CryptoProvider};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName, UnixTime};
use rustls::server::ParsedCertificate;
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};
use std::io::{self, BufRead, Read};
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;
use tokio_rustls::TlsConnector;

/// Why the `SSL` block's files cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TlsSetupError {
    #[error("SSL {what} {path}: {reason}")]
    File {
        what: &'static str,
        path: String,
        reason: String,
    },
    #[error("SSL key is set without a certificate; set certificate too")]
    KeyWithoutCertificate,
    #[error("SSL certificate {certificate} and key {key} cannot be used together: {reason}")]
    ClientAuth {
        certificate: String,
        key: String,
        reason: String,
    },
}

/// The client side of every TLS connection a config makes.
#[derive(Debug, Clone)]
pub struct TlsClient {
    /// Checks the certificate's names against the SNI name (when it verifies).
    named: Arc<ClientConfig>,
    /// For connections without SNI: checks no name.
    unnamed: Arc<ClientConfig>,
    verifies: bool,
}

impl TlsClient {
    /// From the `SSL` block, if any: reads the CA, certificate and key files now.
    pub fn new(ssl: Option<&Ssl>) -> Result<TlsClient, TlsSetupError> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let roots = match ssl.and_then(|s| s.ca.as_deref()) {
            Some(path) => Some(Arc::new(load_roots(path)?)),
            None => None,
        };
        let auth = match ssl {
            Some(s) => client_auth(s)?,
            None => None,
        };
        let config = |check_name: bool| -> Result<Arc<ClientConfig>, TlsSetupError> {
            let verifier = Arc::new(Verifier {
                provider: provider.clone(),
                roots: roots.clone(),
                check_name,
            });
            let builder = ClientConfig::builder_with_provider(provider.clone())
                .with_safe_default_protocol_versions()
                .map_err(|e| TlsSetupError::File {
                    what: "context",
                    path: String::new(),
                    reason: e.to_string(),
                })?
                .dangerous()
                .with_custom_certificate_verifier(verifier);
            let config = match &auth {
                None => builder.with_no_client_auth(),
                Some(a) => builder
                    .with_client_auth_cert(a.chain.clone(), a.key.clone_key())
                    .map_err(|e| TlsSetupError::ClientAuth {
                        certificate: a.certificate.clone(),
                        key: a.key_path.clone(),
                        reason: e.to_string(),
                    })?,
            };
            Ok(Arc::new(config))
        };
        Ok(TlsClient {
            named: config(true)?,
            unnamed: config(false)?,
            verifies: roots.is_some(),
        })
    }

    /// Whether server certificates are verified (a `ca` is set).
    pub fn verifies(&self) -> bool {
        self.verifies
    }

    /// The TLS handshake on a connected socket. `sni` is the name to send, if SNI is
    /// on; one that is not a DNS name is not sent (module documentation).
    pub async fn handshake(
        &self,
        tcp: TcpStream,
        sni: Option<&str>,
        peer: SocketAddr,
    ) -> Result<TlsStream<TcpStream>, HandshakeError> {
        let named = sni.and_then(|s| match ServerName::try_from(s.to_string()) {
            Ok(n @ ServerName::DnsName(_)) => Some(n),
            _ => None,
        });
        let (config, name) = match named {
            Some(n) => (self.named.clone(), n),
            // rustls sends no SNI for an address.
            None => (
                self.unnamed.clone(),
                ServerName::IpAddress(peer.ip().into()),
            ),
        };
        TlsConnector::from(config)
            .connect(name, tcp)
            .await
            .map_err(|e| HandshakeError::new(&e))
    }
}

/// A failed handshake, in words for `keepup status`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum HandshakeError {
    /// What came back is not a TLS record: a plain-text service on this port.
    #[error("the server does not speak TLS on this port (its answer is not a TLS record)")]
    NotTls,
    #[error("the server's certificate is not accepted: {0}")]
    Certificate(String),
    #[error("the server refused the handshake (TLS alert {0})")]
    Alert(String),
    #[error("the server closed the connection during the handshake")]
    Closed,
    #[error("{0}")]
    Other(String),
}

impl HandshakeError {
    fn new(e: &io::Error) -> HandshakeError {
        if let Some(tls) = e.get_ref().and_then(|i| i.downcast_ref::<rustls::Error>()) {
            return match tls {
                rustls::Error::InvalidMessage(_) | rustls::Error::InappropriateMessage { .. } => {
                    HandshakeError::NotTls
                }
                rustls::Error::InvalidCertificate(c) => HandshakeError::Certificate(c.to_string()),
                rustls::Error::AlertReceived(a) => HandshakeError::Alert(format!("{a:?}")),
                other => HandshakeError::Other(other.to_string()),
            };
        }
        match e.kind() {
            io::ErrorKind::UnexpectedEof => HandshakeError::Closed,
            io::ErrorKind::ConnectionReset => HandshakeError::Other("connection reset".into()),
            _ => HandshakeError::Other(e.to_string()),
        }
    }
}

/// Read as OpenSSL's `SSL_read` reads: the plaintext of at most one TLS record, up
/// to `buf.len()` bytes. `Ok(0)` after the server's close_notify; an
/// [`io::ErrorKind::UnexpectedEof`] error when the connection ends without one. genhash
/// reads this way so that its verbose dumps are cut where keepalived's are.
pub async fn read_record(s: &mut TlsStream<TcpStream>, buf: &mut [u8]) -> io::Result<usize> {
    loop {
        let (tcp, conn) = s.get_mut();
        {
            let mut reader = conn.reader();
            match reader.fill_buf() {
                Ok(chunk) => {
                    let n = chunk.len().min(buf.len());
                    buf[..n].copy_from_slice(&chunk[..n]);
                    reader.consume(n);
                    return Ok(n);
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) => return Err(e),
            }
        }
        tcp.readable().await?;
        match conn.read_tls(&mut TryRead(tcp)) {
            // At EOF rustls notes it; the reader then says how the stream ended.
            Ok(_) => {
                conn.process_new_packets()
                    .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
            Err(e) => return Err(e),
        }
    }
}

/// Whether the connection speaks TLS 1.3 (whose servers send session tickets right
/// after the handshake: keepalived then times out in its TLS read, not before it).
pub fn is_tls13(s: &TlsStream<TcpStream>) -> bool {
    s.get_ref().1.protocol_version() == Some(rustls::ProtocolVersion::TLSv1_3)
}

/// `io::Read` over a tokio socket that is (probably) readable.
struct TryRead<'a>(&'a TcpStream);

impl Read for TryRead<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.0.try_read(buf)
    }
}

/// Accepts any certificate (no `ca`) or one that chains to the `ca`, its name checked
/// when `check_name`; the handshake signatures are checked either way.
#[derive(Debug)]
struct Verifier {
    provider: Arc<CryptoProvider>,
    roots: Option<Arc<RootCertStore>>,
    check_name: bool,
}

impl ServerCertVerifier for Verifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let Some(roots) = &self.roots else {
            return Ok(ServerCertVerified::assertion());
        };
        let cert = ParsedCertificate::try_from(end_entity)?;
        verify_server_cert_signed_by_trust_anchor(
            &cert,
            roots,
            intermediates,
            now,
            self.provider.signature_verification_algorithms.all,
        )?;
        if self.check_name {
            verify_server_name(&cert, server_name)?;
        }
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

fn file_error(what: &'static str, path: &str, reason: impl ToString) -> TlsSetupError {
    TlsSetupError::File {
        what,
        path: path.to_string(),
        reason: reason.to_string(),
    }
}

fn read_file(what: &'static str, path: &str) -> Result<Vec<u8>, TlsSetupError> {
    std::fs::read(path).map_err(|e| file_error(what, path, super::plain(&e)))
}

fn certificates(
    what: &'static str,
    path: &str,
) -> Result<Vec<CertificateDer<'static>>, TlsSetupError> {
    let pem = read_file(what, path)?;
    let certs = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| file_error(what, path, e))?;
    if certs.is_empty() {
        return Err(file_error(what, path, "no PEM certificate in it"));
    }
    Ok(certs)
}

fn load_roots(path: &str) -> Result<RootCertStore, TlsSetupError> {
    let mut roots = RootCertStore::empty();
    for cert in certificates("ca", path)? {
        roots.add(cert).map_err(|e| {
            file_error(
                "ca",
                path,
                format!("a certificate in it is not usable: {e}"),
            )
        })?;
    }
    Ok(roots)
}

struct ClientAuth {
    certificate: String,
    key_path: String,
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
}

fn client_auth(ssl: &Ssl) -> Result<Option<ClientAuth>, TlsSetupError> {
    let (certificate, key_path) = match (&ssl.certificate, &ssl.key) {
        (None, None) => return Ok(None),
        (None, Some(_)) => return Err(TlsSetupError::KeyWithoutCertificate),
        (Some(c), k) => (c.clone(), k.clone().unwrap_or_else(|| c.clone())),
    };
    let chain = certificates("certificate", &certificate)?;
    let key = load_key(&key_path, ssl.password.as_deref())?;
    Ok(Some(ClientAuth {
        certificate,
        key_path,
        chain,
        key,
    }))
}

const ENCRYPTED_BEGIN: &str = "-----BEGIN ENCRYPTED PRIVATE KEY-----";
const ENCRYPTED_END: &str = "-----END ENCRYPTED PRIVATE KEY-----";

/// The private key of a PEM file, decrypted with `password` when it is encrypted.
fn load_key(path: &str, password: Option<&str>) -> Result<PrivateKeyDer<'static>, TlsSetupError> {
    let pem = read_file("key", path)?;
    let text = String::from_utf8_lossy(&pem);
    if text.contains("Proc-Type: 4,ENCRYPTED") {
        return Err(file_error(
            "key",
            path,
            "is encrypted in OpenSSL's legacy format; convert it with \
             `openssl pkcs8 -topk8 -in OLD -out NEW` (keeping a password) and use NEW",
        ));
    }
    if let Some(start) = text.find(ENCRYPTED_BEGIN) {
        let Some(password) = password else {
            return Err(file_error(
                "key",
                path,
                "is encrypted; set its password in the SSL block (password)",
            ));
        };
        let end = text[start..]
            .find(ENCRYPTED_END)
            .map(|e| start + e + ENCRYPTED_END.len())
            .ok_or_else(|| file_error("key", path, "the encrypted key has no END line"))?;
        let (_, doc) = pkcs8::der::Document::from_pem(&text[start..end])
            .map_err(|e| file_error("key", path, format!("not a PEM encrypted key: {e}")))?;
        let info = pkcs8::EncryptedPrivateKeyInfo::try_from(doc.as_bytes())
            .map_err(|e| file_error("key", path, format!("not a PKCS#8 encrypted key: {e}")))?;
        let secret = info.decrypt(password).map_err(|e| {
            file_error(
                "key",
                path,
                format!("cannot decrypt it with the SSL password: {e}"),
            )
        })?;
        return Ok(PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(
            secret.as_bytes().to_vec(),
        )));
    }
    PrivateKeyDer::from_pem_slice(&pem).map_err(|e| match e {
        rustls::pki_types::pem::Error::NoItemsFound => {
            file_error("key", path, "no PEM private key in it")
        }
        e => file_error("key", path, e),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_ssl_block_accepts_any_certificate() {
        let c = TlsClient::new(None).expect("builds");
        assert!(!c.verifies());
        let c = TlsClient::new(Some(&Ssl::default())).expect("builds");
        assert!(!c.verifies());
    }

    #[test]
    fn unreadable_files_are_named() {
        let ssl = Ssl {
            ca: Some("/nonexistent/ca.pem".into()),
            ..Ssl::default()
        };
        assert_eq!(
            TlsClient::new(Some(&ssl)).expect_err("no file").to_string(),
            "SSL ca /nonexistent/ca.pem: no such file or directory"
        );
        let ssl = Ssl {
            key: Some("/k.pem".into()),
            ..Ssl::default()
        };
        assert_eq!(
            TlsClient::new(Some(&ssl)).expect_err("no cert"),
            TlsSetupError::KeyWithoutCertificate
        );
        let dir = std::env::temp_dir().join(format!("keepup-tls-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let empty = dir.join("empty.pem");
        std::fs::write(&empty, "not pem\n").expect("write");
        let ssl = Ssl {
            ca: Some(empty.display().to_string()),
            ..Ssl::default()
        };
        assert!(TlsClient::new(Some(&ssl))
            .expect_err("no cert")
            .to_string()
            .ends_with("no PEM certificate in it"));
        let legacy = dir.join("legacy.pem");
        std::fs::write(
            &legacy,
            "-----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\nDEK-Info: AES-128-CBC,00\n\nAAAA\n-----END RSA PRIVATE KEY-----\n",
        )
        .expect("write");
        let err = load_key(&legacy.display().to_string(), Some("x")).expect_err("legacy");
        assert!(err.to_string().contains("openssl pkcs8 -topk8"), "{err}");
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// Runs `openssl` with `args` in `dir`; false when there is no openssl.
    fn openssl(dir: &std::path::Path, args: &[&str]) -> bool {
        match std::process::Command::new("openssl")
            .args(args)
            .current_dir(dir)
            .output()
        {
            Ok(o) if o.status.success() => true,
            Ok(o) => panic!("openssl {args:?}: {}", String::from_utf8_lossy(&o.stderr)),
            Err(_) => false,
        }
    }

    /// A CA; a server certificate for web.test from it; a self-signed one for
    /// web.test; a client certificate from the CA with its key encrypted (PKCS#8,
    /// password "secret"). None without the openssl command.
    fn pki(dir: &std::path::Path) -> Option<()> {
        std::fs::create_dir_all(dir).ok()?;
        let ec = [
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
        ];
        let req = |extra: &[&str]| -> Vec<String> {
            ["req"]
                .iter()
                .chain(ec.iter())
                .chain(extra.iter())
                .map(|s| s.to_string())
                .collect()
        };
        let run = |args: Vec<String>| {
            let a: Vec<&str> = args.iter().map(String::as_str).collect();
            openssl(dir, &a)
        };
        if !run(req(&[
            "-x509",
            "-days",
            "2",
            "-subj",
            "/CN=test-ca",
            "-keyout",
            "ca.key",
            "-out",
            "ca.pem",
        ])) {
            return None;
        }
        run(req(&[
            "-x509",
            "-days",
            "2",
            "-subj",
            "/CN=web.test",
            "-addext",
            "subjectAltName=DNS:web.test",
            "-keyout",
            "self.key",
            "-out",
            "self.pem",
        ]));
        std::fs::write(dir.join("srv.ext"), "subjectAltName=DNS:web.test\n").ok()?;
        std::fs::write(dir.join("cli.ext"), "extendedKeyUsage=clientAuth\n").ok()?;
        for (name, subj) in [("srv", "/CN=web.test"), ("cli", "/CN=client")] {
            let (key, csr, pem, ext) = (
                format!("{name}.key"),
                format!("{name}.csr"),
                format!("{name}.pem"),
                format!("{name}.ext"),
            );
            run(req(&["-subj", subj, "-keyout", &key, "-out", &csr]));
            openssl(
                dir,
                &[
                    "x509",
                    "-req",
                    "-in",
                    &csr,
                    "-CA",
                    "ca.pem",
                    "-CAkey",
                    "ca.key",
                    "-CAcreateserial",
                    "-days",
                    "2",
                    "-extfile",
                    &ext,
                    "-out",
                    &pem,
                ],
            );
        }
        openssl(
            dir,
            &[
                "pkcs8",
                "-topk8",
                "-in",
                "cli.key",
                "-out",
                "cli-enc.key",
                "-passout",
                "pass:secret",
            ],
        );
        Some(())
    }

    /// A TLS server on loopback answering one HTTP response per connection, with
    /// `cert`/`key`, asking for a client certificate from `client_ca` if given.
    async fn server(
        dir: &std::path::Path,
        cert: &str,
        key: &str,
        client_ca: Option<&str>,
    ) -> SocketAddr {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let p = |f: &str| dir.join(f).display().to_string();
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = rustls::ServerConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .expect("versions");
        let builder = match client_ca {
            Some(ca) => builder.with_client_cert_verifier(
                rustls::server::WebPkiClientVerifier::builder_with_provider(
                    Arc::new(load_roots(&p(ca)).expect("ca")),
                    provider,
                )
                .build()
                .expect("verifier"),
            ),
            None => builder.with_no_client_auth(),
        };
        let config = builder
            .with_single_cert(
                certificates("certificate", &p(cert)).expect("cert"),
                load_key(&p(key), None).expect("key"),
            )
            .expect("server config");
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        tokio::spawn(async move {
            while let Ok((tcp, _)) = listener.accept().await {
                let acceptor = acceptor.clone();
                tokio::spawn(async move {
                    if let Ok(mut s) = acceptor.accept(tcp).await {
                        let mut buf = [0u8; 1024];
                        let _ = s.read(&mut buf).await;
                        let _ = s.write_all(b"HTTP/1.0 200 OK\r\n\r\nhi").await;
                        let _ = s.shutdown().await;
                    }
                });
            }
        });
        addr
    }

    /// Handshake, request, and the whole answer (by records).
    async fn fetch(
        client: &TlsClient,
        to: SocketAddr,
        sni: Option<&str>,
    ) -> Result<Vec<u8>, String> {
        use tokio::io::AsyncWriteExt;
        let tcp = TcpStream::connect(to).await.map_err(|e| e.to_string())?;
        let mut s = client
            .handshake(tcp, sni, to)
            .await
            .map_err(|e| e.to_string())?;
        s.write_all(b"GET / HTTP/1.0\r\n\r\n")
            .await
            .map_err(|e| e.to_string())?;
        let mut out = Vec::new();
        let mut buf = [0u8; 4095];
        loop {
            match read_record(&mut s, &mut buf).await {
                Ok(0) => return Ok(out),
                Ok(n) => out.extend_from_slice(&buf[..n]),
                Err(e) => return Err(e.to_string()),
            }
        }
    }

    #[test]
    fn verification_follows_the_ca_and_client_certificates_work() {
        let dir = std::env::temp_dir().join(format!("keepup-pki-{}", std::process::id()));
        if pki(&dir).is_none() {
            eprintln!("no openssl command: skipped");
            return;
        }
        let p = |f: &str| Some(dir.join(f).display().to_string());
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        rt.block_on(async {
            let ca_signed = server(&dir, "srv.pem", "srv.key", None).await;
            let self_signed = server(&dir, "self.pem", "self.key", None).await;
            let wants_client = server(&dir, "srv.pem", "srv.key", Some("ca.pem")).await;
            let ok = Ok(b"HTTP/1.0 200 OK\r\n\r\nhi".to_vec());

            // No CA: anything goes, as with keepalived.
            let any = TlsClient::new(None).expect("client");
            assert_eq!(fetch(&any, self_signed, None).await, ok);
            assert_eq!(fetch(&any, ca_signed, Some("other.test")).await, ok);

            // A CA: the chain must lead to it; the name counts only with SNI.
            let with_ca = Ssl {
                ca: p("ca.pem"),
                ..Ssl::default()
            };
            let strict = TlsClient::new(Some(&with_ca)).expect("client");
            assert!(strict.verifies());
            assert_eq!(fetch(&strict, ca_signed, None).await, ok);
            assert_eq!(fetch(&strict, ca_signed, Some("web.test")).await, ok);
            let e = fetch(&strict, ca_signed, Some("other.test"))
                .await
                .expect_err("wrong name");
            assert!(
                e.starts_with("the server's certificate is not accepted"),
                "{e}"
            );
            let e = fetch(&strict, self_signed, None)
                .await
                .expect_err("untrusted");
            assert!(
                e.starts_with("the server's certificate is not accepted"),
                "{e}"
            );
            // An address is not sent as SNI, so no name is checked.
            assert_eq!(fetch(&strict, ca_signed, Some("127.0.0.1")).await, ok);

            // A client certificate whose key is encrypted with the password.
            let with_cert = Ssl {
                certificate: p("cli.pem"),
                key: p("cli-enc.key"),
                password: Some("secret".into()),
                ..Ssl::default()
            };
            let client = TlsClient::new(Some(&with_cert)).expect("client");
            assert_eq!(fetch(&client, wants_client, None).await, ok);
            // Without one, the server refuses (at the handshake or the first read).
            assert!(fetch(&any, wants_client, None).await.is_err());
            // The wrong password, or none, is said when the config is read.
            let wrong = Ssl {
                password: Some("wrong".into()),
                ..with_cert.clone()
            };
            let e = TlsClient::new(Some(&wrong)).expect_err("bad password");
            assert!(e.to_string().contains("cannot decrypt it"), "{e}");
            let none = Ssl {
                password: None,
                ..with_cert.clone()
            };
            let e = TlsClient::new(Some(&none)).expect_err("no password");
            assert!(e.to_string().contains("set its password"), "{e}");
        });
        let _ = std::fs::remove_dir_all(&dir);
    }
}
