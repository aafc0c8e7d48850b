//! `HTTP_GET` / `SSL_GET`: the request to send for each `url`, and a streaming judge
//! of the response. No sockets, no TLS, no clock: the probe feeds what it reads (the
//! plaintext, for `SSL_GET`) and calls [`Response::finish`] at end of stream; a read
//! timeout is the probe's business. `keepup genhash` uses the same reader
//! ([`Response::for_genhash`], [`genhash_digest`]).
//!
//! # What keepalived 2.2.7 does, and what we do
//!
//! Read in `keepalived/check/check_http.c` (`http_request_thread`,
//! `http_process_response`, `http_read_thread`, `http_handle_response`,
//! `check_regex`, `url_check`), `check_ssl.c` (`ssl_read_thread`, same processing),
//! `check_genhash.c`, `lib/html.c` (`extract_html`, `extract_status_code`,
//! `extract_content_length`), and checked against the Debian 2.2.7 binary: its
//! `genhash` run against a scripted server on loopback, and the disassembly of the
//! three `lib/html.c` functions.
//!
//! - **Request** (`request_template`): `GET <path> HTTP/1.<0|1>\r\n`,
//!   `User-Agent: KeepAliveClient\r\n`, then `Connection: close\r\n` for `1.0C` and
//!   `1.1` (not for `1.0`), then `Host: <host>\r\n\r\n`. The host is the first
//!   `virtualhost` of url, checker, real server, virtual server, written as is;
//!   without one it is the destination address and port, always with the port (80
//!   and 443 too), an IPv6 address in brackets (`Host: [::1]:8080`).
//! - **Header end**: the first `\r\n\r\n`; a bare `\n\n` does not end it. It must lie
//!   in the first 4095 bytes (`MAX_BUFFER_LENGTH - 1`: the read buffer is full, the
//!   next read asks for 0 bytes and is taken for end of stream). Past that the check
//!   fails; genhash says "no data received". So do we ([`HEADER_LIMIT`]).
//! - **Status**: after the first space of the response (the scan stops at a `\r`),
//!   exactly three characters that `strtoul` reads whole, followed by a space. So
//!   `HTTP/1.1 200\r\n` without a reason phrase fails, and the protocol name is not
//!   checked (`FOO 200 x` passes). It must lie in 100-599 and in `status_code`
//!   (default 200-299, `url_check`).
//! - **Body**: every byte after the header end, up to end of stream, exactly as
//!   received: a chunked body is digested with its chunk framing (not de-chunked),
//!   and the stream is read to EOF whatever the headers say (a pass needs the server
//!   to close). The MD5 covers the first `Content-Length` bytes of it when that header
//!   is usable, else all of it.
//! - **Content-Length** is read as `extract_content_length` reads it: the first
//!   `Content-Length:` in the header, case-sensitive and anywhere in a line (so
//!   `X-Content-Length:` counts), stopping at a NUL byte; its value as C's `strtoul`
//!   parses it (leading blanks, `+` or `-`), and used only when the character after
//!   the number is `\r`, `\n` or the end. `Content-Length: 3 ` (trailing blank),
//!   `3x`, an overflow or `-1` mean "read it all"; `Content-Length:` with nothing
//!   after means 0 bytes.
//! - **Regex**: keepalived runs PCRE2 with partial matching over each read buffer,
//!   and the first buffer that holds the header end still holds the header: the
//!   subject is the whole response from its first byte, headers included, and
//!   `regex_min_offset` / `regex_max_offset` count from there (a match must *start*
//!   within them, both inclusive). We do the same: see [`UrlCheck`].
//! - **Order of judgement** (`http_handle_response`): no header end, then status,
//!   then digest, then regex (`regex_no_match` inverts it).
//!
//! Where keepalived depends on how the stream was cut into reads we choose one
//! answer, so that the verdict never depends on the cut: the status and
//! `Content-Length` are read from the header only (keepalived searches the whole
//! first buffer, so a `Content-Length:` in body bytes that came with the header, or an
//! empty value followed by digits in the body, can count for it); the regex subject
//! always starts with the header (keepalived starts it at the body when the header
//! end came with no body byte). keepalived also undercounts the body for the
//! `Content-Length` limit when a regex keeps a partial match across reads; we do not.
//!
//! # The regex engine
//!
//! This is the Rust `regex` crate (`regex::bytes`), not PCRE2. It runs in linear time
//! and has no backreferences, no look-around (`(?=`, `(?<=`, ...), no possessive or
//! atomic groups, no `\Q..\E`, `\Z`, `\K`, `\R` or `(*VERB)`s: a pattern using them is
//! refused when the check is built ([`HttpConfigError::Regex`]), never half-applied.
//! Other differences from PCRE2 with keepalived's settings:
//!
//! - Without `utf` the match is by bytes, as in PCRE2 (`.` is one byte, `\w` ASCII);
//!   `utf` and `ucp` both turn on Unicode, which also makes `\w`, `\d`, `\s` and `\b`
//!   Unicode-aware (PCRE2 needs `ucp` for that).
//! - `$` without `multiline` matches only at the very end, not before a final newline
//!   (PCRE2 does both unless `dollar_endonly`, which is how this engine always is).
//!   keepalived's partial matching never lets a match that needs to see past the
//!   last byte received count (`ok$`, or `o+` running into the end); here the end of
//!   the response is a real end.
//! - With `multiline`, `^` also matches after a newline that ends the subject (as
//!   PCRE2 with `alt_circumflex`).
//! - `extended` also ignores blanks inside `[...]` (write `\x20`).
//! - The search runs over a sliding window of [`REGEX_WINDOW`] bytes: a match is found
//!   when its shortest form fits in the window (keepalived's partial matches are
//!   likewise kept for at most one 4 KiB buffer). Memory stays bounded on an endless
//!   body; once a match is found, or the scan has passed `regex_max_offset`, the
//!   window is released.
//!
//! `regex_options` mapping: `caseless`, `multiline`, `dotall`, `extended`,
//! `ungreedy`, `utf` and `ucp` map to the engine's own flags; `dollar_endonly` and
//! `alt_circumflex` describe what it always does. `auto_callout`,
//! `dupnames`, `match_unset_backref`, `never_ucp`, `never_utf`, `no_auto_capture`,
//! `no_auto_possess`, `no_dotstar_anchor`, `no_start_optimize`,
//! `never_backslash_c`, `alt_verbnames` and `use_offset_limit`
//! change nothing keepalived can observe with this engine (optimisation switches,
//! restrictions on syntax it does not have, callouts and offset limits keepalived
//! never sets up) and are accepted. `allow_empty_class`, `alt_bsux` and `firstline`
//! change what matches in a way this engine cannot follow, and are refused. `regex_stack` sizes PCRE2's JIT stack; this engine does
//! not backtrack, so it is accepted and has no effect.
use keepup_config::model::lvs::{HttpCheck, Url};
use md5::{Digest, Md5};
use regex::bytes::{Regex, RegexBuilder};
use std::fmt;
use std::net::SocketAddr;
use std::str::FromStr;

/// The longest header section keepalived can read: its 4096-byte buffer less the
/// byte kept for a terminating NUL. The `\r\n\r\n` must end within it.
pub const HEADER_LIMIT: usize = 4095;

/// The regex window: a match is seen when its shortest form fits in this many bytes.
pub const REGEX_WINDOW: usize = 4096;

/// Bytes kept before the scan point so `^`, `\b` and their like see the character
/// before a match start (a UTF-8 character is at most 4 bytes).
const REGEX_BEHIND: usize = 4;
/// Bytes a match end must stay clear of the window end before it is trusted: `$`,
/// `\b` and their like look at the character after it.
const REGEX_AHEAD: usize = 4;
/// The scan runs when this much is buffered: one window whose starts are settled,
/// one more so those matches can end, and the look-behind context.
const REGEX_BUFFER: usize = 2 * REGEX_WINDOW + REGEX_BEHIND;

/// Longest excerpt of what the server sent that a failure quotes.
const SNIPPET_LEN: usize = 64;

/// `http_protocol`: which request line and whether to ask the server to close.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum HttpProtocol {
    /// `GET ... HTTP/1.0` (keepalived's default).
    #[default]
    V1_0,
    /// `1.0C`: HTTP/1.0 with `Connection: close`.
    V1_0C,
    /// `GET ... HTTP/1.1` with `Connection: close`.
    V1_1,
}

impl HttpProtocol {
    /// The protocol of an `HTTP_GET`/`SSL_GET` block: its `http_protocol`, else 1.0.
    pub fn from_config(value: Option<&str>) -> Result<HttpProtocol, HttpConfigError> {
        value.map_or(Ok(HttpProtocol::V1_0), str::parse)
    }

    fn minor(self) -> u8 {
        match self {
            HttpProtocol::V1_0 | HttpProtocol::V1_0C => 0,
            HttpProtocol::V1_1 => 1,
        }
    }

    fn asks_close(self) -> bool {
        !matches!(self, HttpProtocol::V1_0)
    }
}

impl FromStr for HttpProtocol {
    type Err = HttpConfigError;

    /// keepalived's spellings (`http_protocol_handler`): `1.0`, `1.0C` or `1.0c`, `1.1`.
    fn from_str(s: &str) -> Result<HttpProtocol, HttpConfigError> {
        match s {
            "1.0" => Ok(HttpProtocol::V1_0),
            "1.0C" | "1.0c" => Ok(HttpProtocol::V1_0C),
            "1.1" => Ok(HttpProtocol::V1_1),
            _ => Err(HttpConfigError::BadProtocol(s.to_string())),
        }
    }
}

impl fmt::Display for HttpProtocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            HttpProtocol::V1_0 => "1.0",
            HttpProtocol::V1_0C => "1.0C",
            HttpProtocol::V1_1 => "1.1",
        })
    }
}

/// What goes after `Host:`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestHost<'a> {
    /// A `virtualhost`, written as configured (no port added, no brackets).
    VirtualHost(&'a str),
    /// No virtualhost: the destination, `addr:port`, IPv6 as `[addr]:port`, the port
    /// always written. The IPv6 scope is not written (keepalived formats the bare
    /// address with `inet_ntop`).
    Address(SocketAddr),
}

impl fmt::Display for RequestHost<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RequestHost::VirtualHost(h) => f.write_str(h),
            RequestHost::Address(SocketAddr::V4(a)) => write!(f, "{}:{}", a.ip(), a.port()),
            RequestHost::Address(SocketAddr::V6(a)) => write!(f, "[{}]:{}", a.ip(), a.port()),
        }
    }
}

/// The request keepalived sends for one url. keepalived formats it into a 2048-byte
/// buffer and so would cut a request longer than 2047 bytes; we send it whole.
pub fn request(path: &str, host: RequestHost<'_>, protocol: HttpProtocol) -> Vec<u8> {
    let connection = if protocol.asks_close() {
        "Connection: close\r\n"
    } else {
        ""
    };
    format!(
        "GET {path} HTTP/1.{}\r\nUser-Agent: KeepAliveClient\r\n{connection}Host: {host}\r\n\r\n",
        protocol.minor()
    )
    .into_bytes()
}

/// Why a `url` block cannot become a check.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum HttpConfigError {
    #[error("http_protocol '{0}' is not known; use 1.0, 1.0C or 1.1")]
    BadProtocol(String),
    #[error("this url has no path")]
    MissingPath,
    #[error("digest '{0}' is not an MD5 digest; use the 32 hex digits genhash prints")]
    BadDigest(String),
    #[error("status_code {lo}-{hi} is not a range of HTTP status codes; use codes from 100 to 599, low first")]
    BadStatusRange { lo: u16, hi: u16 },
    #[error(
        "regex \"{pattern}\" does not compile: {reason} (keepup uses the Rust regex engine, which has no look-around, backreferences or possessive quantifiers)"
    )]
    Regex { pattern: String, reason: String },
    #[error("regex_options {option} is not supported: {why}")]
    UnsupportedRegexOption { option: String, why: &'static str },
    #[error("regex_options {0} is not a known option")]
    UnknownRegexOption(String),
}

/// The status codes a url accepts: a set over keepalived's 100-599.
#[derive(Clone, PartialEq, Eq)]
pub struct StatusSet {
    /// Bit `code - 100` set when `code` is accepted (500 codes in 8 words).
    bits: [u64; 8],
}

impl StatusSet {
    const MIN: u16 = 100;
    const MAX: u16 = 599;

    /// keepalived's default, `HTTP_DEFAULT_STATUS_CODE_MIN..=MAX`.
    pub fn default_codes() -> StatusSet {
        let mut s = StatusSet { bits: [0; 8] };
        s.insert_range(200, 299);
        s
    }

    /// The set of `status_code` ranges (inclusive); none means 200-299.
    pub fn from_ranges(ranges: &[(u16, u16)]) -> Result<StatusSet, HttpConfigError> {
        if ranges.is_empty() {
            return Ok(StatusSet::default_codes());
        }
        let mut s = StatusSet { bits: [0; 8] };
        for &(lo, hi) in ranges {
            if lo < StatusSet::MIN || hi > StatusSet::MAX || lo > hi {
                return Err(HttpConfigError::BadStatusRange { lo, hi });
            }
            s.insert_range(lo, hi);
        }
        Ok(s)
    }

    fn insert_range(&mut self, lo: u16, hi: u16) {
        for code in lo..=hi {
            let i = usize::from(code - StatusSet::MIN);
            self.bits[i / 64] |= 1 << (i % 64);
        }
    }

    pub fn contains(&self, code: u16) -> bool {
        if !(StatusSet::MIN..=StatusSet::MAX).contains(&code) {
            return false;
        }
        let i = usize::from(code - StatusSet::MIN);
        self.bits[i / 64] & (1 << (i % 64)) != 0
    }

    /// The accepted codes as inclusive ranges, lowest first.
    pub fn ranges(&self) -> Vec<(u16, u16)> {
        let mut out: Vec<(u16, u16)> = Vec::new();
        for code in StatusSet::MIN..=StatusSet::MAX {
            if !self.contains(code) {
                continue;
            }
            match out.last_mut() {
                Some((_, hi)) if *hi + 1 == code => *hi = code,
                _ => out.push((code, code)),
            }
        }
        out
    }
}

impl fmt::Display for StatusSet {
    /// `200-299`, or `200-299, 404`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, (lo, hi)) in self.ranges().into_iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            if lo == hi {
                write!(f, "{lo}")?;
            } else {
                write!(f, "{lo}-{hi}")?;
            }
        }
        Ok(())
    }
}

impl fmt::Debug for StatusSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "StatusSet({self})")
    }
}

/// An MD5 digest; displays as the 32 lower-case hex digits genhash prints.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Md5Digest(pub [u8; 16]);

impl Md5Digest {
    /// Parse 32 hex digits (either case).
    pub fn from_hex(hex: &str) -> Option<Md5Digest> {
        let b = hex.as_bytes();
        // from_str_radix alone would take a `+`.
        if b.len() != 32 || !b.iter().all(u8::is_ascii_hexdigit) {
            return None;
        }
        let mut out = [0u8; 16];
        for (o, pair) in out.iter_mut().zip(b.chunks(2)) {
            let s = std::str::from_utf8(pair).ok()?;
            *o = u8::from_str_radix(s, 16).ok()?;
        }
        Some(Md5Digest(out))
    }
}

impl fmt::Display for Md5Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.iter().try_for_each(|b| write!(f, "{b:02x}"))
    }
}

impl fmt::Debug for Md5Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Md5Digest({self})")
    }
}

/// The compiled `regex` of a url and where a match may start.
#[derive(Debug, Clone)]
struct RegexRule {
    re: Regex,
    pattern: String,
    no_match: bool,
    /// First subject offset a match may start at (`regex_min_offset`).
    min: u64,
    /// Last subject offset a match may start at (`regex_max_offset`), inclusive.
    max: Option<u64>,
}

impl RegexRule {
    fn build(url: &Url, pattern: &str) -> Result<RegexRule, HttpConfigError> {
        let mut b = RegexBuilder::new(pattern);
        // PCRE2 without PCRE2_UTF works on bytes; so does the engine without Unicode.
        b.unicode(false);
        for option in &url.regex_options {
            match option.as_str() {
                "caseless" => {
                    b.case_insensitive(true);
                }
                "multiline" => {
                    b.multi_line(true);
                }
                "dotall" => {
                    b.dot_matches_new_line(true);
                }
                "extended" => {
                    b.ignore_whitespace(true);
                }
                "ungreedy" => {
                    b.swap_greed(true);
                }
                "utf" | "ucp" => {
                    b.unicode(true);
                }
                // What the engine always does.
                "dollar_endonly" | "alt_circumflex" => {}
                // Nothing to do: see the module documentation.
                "auto_callout" | "dupnames" | "match_unset_backref" | "never_ucp"
                | "never_utf" | "no_auto_capture" | "no_auto_possess" | "no_dotstar_anchor"
                | "no_start_optimize" | "never_backslash_c" | "alt_verbnames"
                | "use_offset_limit" => {}
                "allow_empty_class" => return Err(unsupported(option, "the Rust regex engine reads `[]` as the start of a class, never as an empty class")),
                "alt_bsux" => return Err(unsupported(option, "the Rust regex engine has no JavaScript-style \\U, \\u and \\x")),
                "firstline" => return Err(unsupported(option, "the Rust regex engine cannot restrict a match to the first line")),
                _ => return Err(HttpConfigError::UnknownRegexOption(option.clone())),
            }
        }
        let extended = url.regex_options.iter().any(|o| o == "extended");
        if let Some(at) = possessive_quantifier(pattern, extended) {
            // The engine reads `a++` as `(?:a+)+`, which matches where PCRE2's
            // possessive `a++` would not: refuse rather than change the meaning.
            return Err(HttpConfigError::Regex {
                pattern: pattern.to_string(),
                reason: format!("the possessive quantifier at byte {at} is not supported"),
            });
        }
        let re = b.build().map_err(|e| HttpConfigError::Regex {
            pattern: pattern.to_string(),
            reason: e.to_string(),
        })?;
        // keepalived drops both offsets when they cross (`url_check`).
        let (min, max) = match (url.regex_min_offset, url.regex_max_offset) {
            (Some(lo), Some(hi)) if lo > hi => (None, None),
            offsets => offsets,
        };
        Ok(RegexRule {
            re,
            pattern: pattern.to_string(),
            no_match: url.regex_no_match,
            min: min.unwrap_or(0),
            max,
        })
    }
}

/// Where a PCRE2 possessive quantifier (`a++`, `a*+`, `a?+`, `a{2}+`) is, if any: a
/// `+` right after a quantifier, outside classes and escapes (and, in extended mode,
/// with blanks and comments between, as PCRE2 allows).
fn possessive_quantifier(pattern: &str, extended: bool) -> Option<usize> {
    let p = pattern.as_bytes();
    let counted = |from: usize| -> Option<usize> {
        // `{n}`, `{n,}` or `{n,m}` starting at `from`: the index of its `}`.
        let close = from + p[from..].iter().position(|&b| b == b'}')?;
        let inner = &p[from + 1..close];
        let ok = inner.first().is_some_and(u8::is_ascii_digit)
            && inner.iter().all(|&b| b.is_ascii_digit() || b == b',')
            && inner.iter().filter(|&&b| b == b',').count() <= 1;
        ok.then_some(close)
    };
    let mut after_quantifier = false;
    let mut i = 0;
    while i < p.len() {
        match p[i] {
            b'\\' => {
                // `\x{..}`, `\p{..}` and their like are one atom.
                i += 2;
                if p.get(i) == Some(&b'{') {
                    i += p[i..]
                        .iter()
                        .position(|&b| b == b'}')
                        .unwrap_or(p.len() - i);
                    i += 1;
                }
                after_quantifier = false;
                continue;
            }
            b'[' => {
                // Skip the class: a `]` first (after `^`) is literal; `[:name:]` nests.
                i += 1;
                if p.get(i) == Some(&b'^') {
                    i += 1;
                }
                if p.get(i) == Some(&b']') {
                    i += 1;
                }
                while i < p.len() && p[i] != b']' {
                    if p[i] == b'\\' {
                        i += 1;
                    } else if p[i] == b'[' && p.get(i + 1) == Some(&b':') {
                        i += p[i..]
                            .windows(2)
                            .position(|w| w == b":]")
                            .map_or(0, |n| n + 1);
                    }
                    i += 1;
                }
                after_quantifier = false;
            }
            b'(' => {
                // `(?` opens group syntax, not a quantifier.
                if p.get(i + 1) == Some(&b'?') {
                    i += 1;
                }
                after_quantifier = false;
            }
            b'+' if after_quantifier => return Some(i),
            b'*' | b'+' => after_quantifier = true,
            // `?` after a quantifier makes it lazy; still a quantifier.
            b'?' => after_quantifier = true,
            b'{' => match counted(i) {
                Some(close) => {
                    i = close;
                    after_quantifier = true;
                }
                None => after_quantifier = false,
            },
            b'#' if extended => {
                i += p[i..]
                    .iter()
                    .position(|&b| b == b'\n')
                    .unwrap_or(p.len() - i);
            }
            b if extended && b.is_ascii_whitespace() => {}
            _ => after_quantifier = false,
        }
        i += 1;
    }
    None
}

fn unsupported(option: &str, why: &'static str) -> HttpConfigError {
    HttpConfigError::UnsupportedRegexOption {
        option: option.to_string(),
        why,
    }
}

/// One `url` of an `HTTP_GET`/`SSL_GET` check, ready to judge responses.
///
/// The regex subject is the whole response, header included, and
/// `regex_min_offset`/`regex_max_offset` are offsets into it (module
/// documentation). Options keepalived ignores without a `regex` are ignored here too
/// (the config reader has already said so).
#[derive(Debug, Clone)]
pub struct UrlCheck {
    path: String,
    virtualhost: Option<String>,
    protocol: HttpProtocol,
    status: StatusSet,
    digest: Option<Md5Digest>,
    regex: Option<RegexRule>,
}

impl UrlCheck {
    /// Build from the config model. `fallback_virtualhost` is the first set of the
    /// checker's, the real server's and the virtual server's `virtualhost`; the url's
    /// own wins over it.
    pub fn new(
        url: &Url,
        fallback_virtualhost: Option<&str>,
        protocol: HttpProtocol,
    ) -> Result<UrlCheck, HttpConfigError> {
        let path = url.path.clone().ok_or(HttpConfigError::MissingPath)?;
        let digest = match &url.digest {
            Some(hex) => Some(
                Md5Digest::from_hex(hex).ok_or_else(|| HttpConfigError::BadDigest(hex.clone()))?,
            ),
            None => None,
        };
        let regex = match &url.regex {
            Some(pattern) => Some(RegexRule::build(url, pattern)?),
            None => None,
        };
        Ok(UrlCheck {
            path,
            virtualhost: url
                .virtualhost
                .clone()
                .or_else(|| fallback_virtualhost.map(str::to_string)),
            protocol,
            status: StatusSet::from_ranges(&url.status_code)?,
            digest,
            regex,
        })
    }

    /// Every url of a check block, in order. `fallback_virtualhost` is the real
    /// server's `virtualhost`, else the virtual server's. A url without a `path` is
    /// left out, as keepalived leaves it out (`url_check`).
    pub fn all(
        check: &HttpCheck,
        fallback_virtualhost: Option<&str>,
    ) -> Result<Vec<UrlCheck>, HttpConfigError> {
        let protocol = HttpProtocol::from_config(check.http_protocol.as_deref())?;
        let vhost = check.virtualhost.as_deref().or(fallback_virtualhost);
        check
            .url
            .iter()
            .filter(|u| u.path.is_some())
            .map(|u| UrlCheck::new(u, vhost, protocol))
            .collect()
    }

    pub fn path(&self) -> &str {
        &self.path
    }
    pub fn virtualhost(&self) -> Option<&str> {
        self.virtualhost.as_deref()
    }
    pub fn protocol(&self) -> HttpProtocol {
        self.protocol
    }
    pub fn status_codes(&self) -> &StatusSet {
        &self.status
    }
    pub fn digest(&self) -> Option<Md5Digest> {
        self.digest
    }

    /// The request for this url to `dst`.
    pub fn request(&self, dst: SocketAddr) -> Vec<u8> {
        let host = match &self.virtualhost {
            Some(v) => RequestHost::VirtualHost(v),
            None => RequestHost::Address(dst),
        };
        request(&self.path, host, self.protocol)
    }

    /// A reader for one response to this url.
    pub fn response(&self) -> Response {
        Response::new(self)
    }
}

/// Up to 64 bytes the server sent, shown with non-printable bytes escaped.
#[derive(Clone, PartialEq, Eq)]
pub struct Snippet(Vec<u8>);

impl Snippet {
    /// The first line of `bytes` (up to a `\r` or `\n`, at most 64 bytes).
    fn first_line(bytes: &[u8]) -> Snippet {
        let end = bytes
            .iter()
            .position(|&b| b == b'\r' || b == b'\n')
            .unwrap_or(bytes.len())
            .min(SNIPPET_LEN);
        Snippet(bytes[..end].to_vec())
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Display for Snippet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "\"{}\"", self.0.escape_ascii())
    }
}

impl fmt::Debug for Snippet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Snippet({self})")
    }
}

/// Why a url failed, in words for `keepup status`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Failure {
    /// keepalived: "Read, no data received from".
    #[error("connection closed with no data")]
    NoData,
    /// keepalived says "no data received" here too.
    #[error("connection closed before the headers ended: server sent {sent}")]
    HeadersIncomplete { sent: Snippet },
    /// keepalived reads no further and says "no data received".
    #[error("the response headers are longer than {HEADER_LIMIT} bytes")]
    HeadersTooLong,
    /// keepalived: status code 0, "HTTP status code error".
    #[error("no HTTP status line: server sent {sent}")]
    NoStatusLine { sent: Snippet },
    #[error("HTTP status {got}, expected {expected}")]
    Status { got: u16, expected: StatusSet },
    #[error("digest {got} differs from the configured {expected}")]
    Digest { got: Md5Digest, expected: Md5Digest },
    #[error("regex \"{pattern}\" did not match")]
    RegexNoMatch { pattern: String },
    #[error("regex \"{pattern}\" matched and regex_no_match is set")]
    RegexMatched { pattern: String },
}

/// A url that passed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pass {
    pub status: u16,
    /// MD5 of the body, as keepalived computes it (computed even without `digest`).
    pub digest: Md5Digest,
    /// Body bytes received (after the header, up to end of stream).
    pub body_len: u64,
    /// The `Content-Length` keepalived took from the header, if it took one.
    pub content_length: Option<u64>,
}

impl Pass {
    /// `(Content-Length, received)` when they differ: keepalived logs
    /// "content_length (N) does not match received bytes (M)" and still passes.
    pub fn content_length_mismatch(&self) -> Option<(u64, u64)> {
        self.content_length
            .filter(|&n| n != self.body_len)
            .map(|n| (n, self.body_len))
    }
}

/// The judgement of one response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Pass(Pass),
    Fail(Failure),
}

impl Verdict {
    pub fn is_pass(&self) -> bool {
        matches!(self, Verdict::Pass(_))
    }
}

/// What [`Response::feed`] learnt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Progress {
    /// Keep reading until end of stream (keepalived always reads to EOF).
    NeedMore,
    /// The verdict is settled and is a failure; stop reading and call `finish`.
    /// Never returned for a response that could still pass, since a pass needs EOF.
    Done,
}

/// What genhash reports when there is no digest to print.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum GenhashError {
    /// keepalived's exact words (on stderr): no header end was received.
    #[error("no data received from remote webserver")]
    NoData,
}

/// The judge's copy of what a url requires.
#[derive(Debug, Clone)]
struct Rules {
    status: StatusSet,
    digest: Option<Md5Digest>,
    regex: Option<(String, bool)>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Collecting the header section.
    Head,
    /// Past the header end.
    Body,
    /// No header end in [`HEADER_LIMIT`] bytes.
    TooLong,
}

/// A streaming reader of one HTTP response: feed what the socket gives, then
/// `finish` at end of stream. Holds at most [`HEADER_LIMIT`] bytes of header and,
/// with a regex, about two [`REGEX_WINDOW`]s of body; the body itself is digested
/// as it passes.
#[derive(Debug, Clone)]
pub struct Response {
    phase: Phase,
    /// The header section while it is read; emptied once parsed.
    head: Vec<u8>,
    received: u64,
    status: Option<u16>,
    first_line: Snippet,
    content_length: Option<u64>,
    body_len: u64,
    md5: Md5,
    /// `None` for genhash, which judges nothing.
    rules: Option<Rules>,
    scan: Option<RegexScan>,
    /// A failure is settled: ignore what follows.
    done: bool,
}

impl Response {
    /// A reader judging against `check`.
    pub fn new(check: &UrlCheck) -> Response {
        let mut r = Response::for_genhash();
        r.rules = Some(Rules {
            status: check.status.clone(),
            digest: check.digest,
            regex: check
                .regex
                .as_ref()
                .map(|rule| (rule.pattern.clone(), rule.no_match)),
        });
        r.scan = check.regex.as_ref().map(RegexScan::new);
        r
    }

    /// A reader that only digests, as `genhash` does.
    pub fn for_genhash() -> Response {
        Response {
            phase: Phase::Head,
            head: Vec::new(),
            received: 0,
            status: None,
            first_line: Snippet(Vec::new()),
            content_length: None,
            body_len: 0,
            md5: Md5::new(),
            rules: None,
            scan: None,
            done: false,
        }
    }

    /// Take the next bytes of the stream, however they were cut.
    pub fn feed(&mut self, mut bytes: &[u8]) -> Progress {
        if self.done {
            return Progress::Done;
        }
        self.received = self.received.saturating_add(bytes.len() as u64);
        if self.phase == Phase::Head {
            // Only what fits in keepalived's buffer can hold the header end.
            let take = bytes.len().min(HEADER_LIMIT - self.head.len());
            let from = self.head.len().saturating_sub(3);
            self.head.extend_from_slice(&bytes[..take]);
            match find(&self.head[from..], b"\r\n\r\n") {
                Some(at) => {
                    let end = from + at + 4;
                    // Bytes after the header end came from this feed: they are body.
                    let extra = self.head.len() - end;
                    self.head.truncate(end);
                    bytes = &bytes[take - extra..];
                    self.end_of_head();
                    if self.done {
                        return Progress::Done;
                    }
                }
                None if self.head.len() == HEADER_LIMIT => {
                    self.phase = Phase::TooLong;
                    self.head = Vec::new();
                    self.done = true;
                    return Progress::Done;
                }
                None => return Progress::NeedMore,
            }
        }
        self.body(bytes);
        if self.done {
            Progress::Done
        } else {
            Progress::NeedMore
        }
    }

    fn end_of_head(&mut self) {
        self.phase = Phase::Body;
        self.status = status_code(&self.head);
        self.content_length = content_length(&self.head);
        self.first_line = Snippet::first_line(&self.head);
        if let Some(scan) = &mut self.scan {
            scan.feed(&self.head);
        }
        self.head = Vec::new();
        // A bad status fails whatever follows (it is judged first).
        if let Some(rules) = &self.rules {
            if !self.status.is_some_and(|s| rules.status.contains(s)) {
                self.done = true;
            }
        }
    }

    fn body(&mut self, bytes: &[u8]) {
        if bytes.is_empty() {
            return;
        }
        // keepalived digests up to Content-Length bytes and counts all it receives.
        let room = match self.content_length {
            Some(n) => n.saturating_sub(self.body_len),
            None => u64::MAX,
        };
        let digested = usize::try_from(room).map_or(bytes.len(), |r| r.min(bytes.len()));
        self.md5.update(&bytes[..digested]);
        self.body_len = self.body_len.saturating_add(bytes.len() as u64);
        if let Some(scan) = &mut self.scan {
            scan.feed(bytes);
            // With no digest to judge first, a settled regex failure is final.
            if let (Some(found), Some(rules)) = (scan.found, &self.rules) {
                let no_match = rules.regex.as_ref().is_some_and(|(_, n)| *n);
                if rules.digest.is_none() && found == no_match {
                    self.done = true;
                }
            }
        }
    }

    /// End of stream: the verdict, judged in keepalived's order.
    pub fn finish(mut self) -> Verdict {
        let fail = Verdict::Fail;
        match self.phase {
            Phase::Head if self.received == 0 => return fail(Failure::NoData),
            Phase::Head => {
                return fail(Failure::HeadersIncomplete {
                    sent: Snippet::first_line(&self.head),
                })
            }
            Phase::TooLong => return fail(Failure::HeadersTooLong),
            Phase::Body => {}
        }
        let Some(rules) = self.rules.take() else {
            // Genhash readers judge nothing; everything that got here passes.
            let status = self.status.unwrap_or(0);
            return self.pass(status);
        };
        let Some(status) = self.status else {
            return fail(Failure::NoStatusLine {
                sent: self.first_line.clone(),
            });
        };
        if !rules.status.contains(status) {
            return fail(Failure::Status {
                got: status,
                expected: rules.status,
            });
        }
        let digest = Md5Digest(self.md5.clone().finalize().into());
        if let Some(expected) = rules.digest {
            if digest != expected {
                return fail(Failure::Digest {
                    got: digest,
                    expected,
                });
            }
        }
        if let (Some((pattern, no_match)), Some(scan)) = (rules.regex, self.scan.as_mut()) {
            if scan.finish() == no_match {
                return fail(if no_match {
                    Failure::RegexMatched { pattern }
                } else {
                    Failure::RegexNoMatch { pattern }
                });
            }
        }
        self.pass(status)
    }

    fn pass(self, status: u16) -> Verdict {
        Verdict::Pass(Pass {
            status,
            digest: Md5Digest(self.md5.finalize().into()),
            body_len: self.body_len,
            content_length: self.content_length,
        })
    }

    /// End of stream, as genhash sees it: the digest whatever the status, or "no data"
    /// when the header never ended.
    pub fn finish_genhash(self) -> Result<Md5Digest, GenhashError> {
        match self.phase {
            Phase::Body => Ok(Md5Digest(self.md5.finalize().into())),
            Phase::Head | Phase::TooLong => Err(GenhashError::NoData),
        }
    }

    /// Body bytes digested so far: all received, or the first `Content-Length` of
    /// them. Those of each feed are the first ones of its body part (genhash's verbose
    /// dump shows exactly these).
    pub fn digested_len(&self) -> u64 {
        self.content_length
            .map_or(self.body_len, |n| n.min(self.body_len))
    }

    /// Bytes held right now (header, regex window): bounded whatever is fed.
    pub fn buffered(&self) -> usize {
        self.head.len() + self.scan.as_ref().map_or(0, |s| s.buf.len())
    }
}

/// What `genhash` prints for a whole response.
pub fn genhash_digest(response: &[u8]) -> Result<Md5Digest, GenhashError> {
    let mut r = Response::for_genhash();
    r.feed(response);
    r.finish_genhash()
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// C's `strtoul(s, &end, 10)` with the end of `s` standing for the NUL: leading
/// `isspace` blanks, an optional sign (`-` negates modulo 2^64), decimal digits.
/// Returns the value and the index `end` points at (0 when no digits were read);
/// an overflow gives `u64::MAX`, as `ULONG_MAX`.
fn strtoul(s: &[u8]) -> (u64, usize) {
    let mut i = s
        .iter()
        .position(|b| !matches!(b, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r'))
        .unwrap_or(s.len());
    let negative = s.get(i) == Some(&b'-');
    if matches!(s.get(i), Some(b'+' | b'-')) {
        i += 1;
    }
    let digits = i;
    let mut value = Some(0u64);
    while let Some(d) = s.get(i).filter(|b| b.is_ascii_digit()) {
        value = value
            .and_then(|v| v.checked_mul(10))
            .and_then(|v| v.checked_add(u64::from(d - b'0')));
        i += 1;
    }
    if i == digits {
        return (0, 0);
    }
    match value {
        None => (u64::MAX, i),
        Some(v) if negative => (v.wrapping_neg(), i),
        Some(v) => (v, i),
    }
}

/// `extract_status_code` over the header section: after the first space (the scan
/// gives up at a `\r`), three characters `strtoul` reads whole, then a space.
/// `None` where keepalived gets 0 or a negative number; either fails.
fn status_code(head: &[u8]) -> Option<u16> {
    let space = head.iter().position(|&b| b == b' ' || b == b'\r')?;
    if head[space] != b' ' || head.get(space + 4) != Some(&b' ') {
        return None;
    }
    let code = head.get(space + 1..space + 4)?;
    if code[0] == b' ' {
        return None;
    }
    match strtoul(code) {
        (v, 3) => u16::try_from(v).ok(),
        _ => None,
    }
}

/// `extract_content_length` over the header section: see the module documentation.
/// `None` stands for keepalived's `SIZE_MAX`, "no limit".
fn content_length(head: &[u8]) -> Option<u64> {
    const NAME: &[u8] = b"Content-Length:";
    // keepalived searches with strstr: a NUL ends the text.
    let text = &head[..head.iter().position(|&b| b == 0).unwrap_or(head.len())];
    let value = &text[find(text, NAME)? + NAME.len()..];
    let (n, end) = strtoul(value);
    match value.get(end) {
        None | Some(b'\r' | b'\n') if n != u64::MAX => Some(n),
        _ => None,
    }
}

/// The streaming regex search over the response.
///
/// `buf` holds subject bytes `base..base + buf.len()`. Each round (when the buffer
/// is full, and at the end) settles whether a match starts before `settle`; a
/// match is trusted when it ends at least [`REGEX_AHEAD`] bytes before the buffer
/// end (or the buffer ends the subject), so look-ahead assertions saw real bytes.
/// Then all but the last window and [`REGEX_BEHIND`] bytes of context are dropped.
#[derive(Debug, Clone)]
struct RegexScan {
    re: Regex,
    min: u64,
    max: Option<u64>,
    buf: Vec<u8>,
    base: u64,
    /// Match starts before this offset are settled (no match there).
    scan_from: u64,
    /// `Some(true)`: matched; `Some(false)`: no match can be found any more.
    found: Option<bool>,
}

/// One round's answer about match starts.
enum Round {
    /// A match starts at this buffer index.
    At(usize),
    /// A match starts somewhere in this index range (inclusive).
    Within(usize, usize),
    /// No match starts in the settled part.
    Nothing,
}

impl RegexScan {
    fn new(rule: &RegexRule) -> RegexScan {
        RegexScan {
            re: rule.re.clone(),
            min: rule.min,
            max: rule.max,
            buf: Vec::new(),
            base: 0,
            scan_from: 0,
            found: None,
        }
    }

    fn feed(&mut self, mut bytes: &[u8]) {
        while !bytes.is_empty() && self.found.is_none() {
            // Fill to exactly REGEX_BUFFER, so rounds fall at the same offsets
            // whatever the feeds.
            let n = bytes.len().min(REGEX_BUFFER - self.buf.len());
            self.buf.extend_from_slice(&bytes[..n]);
            bytes = &bytes[n..];
            if self.buf.len() == REGEX_BUFFER {
                self.round(false);
            }
        }
    }

    fn finish(&mut self) -> bool {
        if self.found.is_none() {
            self.round(true);
        }
        self.found == Some(true)
    }

    fn settle(&mut self, found: bool) {
        self.found = Some(found);
        self.buf = Vec::new();
    }

    fn round(&mut self, last: bool) {
        let len = self.buf.len();
        let from = self.scan_from.max(self.min);
        if self.max.is_some_and(|max| from > max) {
            return self.settle(false);
        }
        // Starts before `settle` are decided this round; at the end, all of them.
        let settle = if last { len } else { len - REGEX_WINDOW };
        let end = self.base + settle as u64;
        if from < end || (last && from == end) {
            // from >= base (base only moves up to scan_from - REGEX_BEHIND), and
            // from <= base + settle <= base + len, so the index is in the buffer.
            let idx = usize::try_from(from - self.base).unwrap_or(len).min(len);
            let base = self.base;
            let at = |i: usize| base + i as u64;
            match self.search(idx, settle, last) {
                Round::At(s) => return self.settle(self.max.is_none_or(|max| at(s) <= max)),
                Round::Within(lo, hi) => {
                    let Some(max) = self.max else {
                        return self.settle(true);
                    };
                    if at(hi) <= max {
                        return self.settle(true);
                    }
                    if at(lo) > max {
                        return self.settle(false);
                    }
                    // The trusted match ends at `hi`; take the leftmost match in the
                    // bytes up to there for its start.
                    let start = self.re.find_at(&self.buf[..hi], idx).map(|m| m.start());
                    return self.settle(start.is_some_and(|s| at(s) <= max));
                }
                Round::Nothing => {}
            }
        }
        if last {
            return self.settle(false);
        }
        let drop = settle - REGEX_BEHIND;
        self.buf.drain(..drop);
        self.base += drop as u64;
        self.scan_from = self.scan_from.max(end);
    }

    fn search(&self, idx: usize, settle: usize, last: bool) -> Round {
        let len = self.buf.len();
        let trusted = |end: usize| last || end + REGEX_AHEAD <= len;
        let Some(m) = self.re.find_at(&self.buf, idx) else {
            return Round::Nothing;
        };
        if trusted(m.end()) {
            return Round::At(m.start());
        }
        // The leftmost candidate runs into the window end: its end may be an artefact
        // of the cut (`$`, `\b`), or the match is long. Nothing starts earlier.
        if m.start() >= settle {
            return Round::Nothing;
        }
        // Does some match end early enough to trust? It starts at or after the
        // leftmost candidate and at or before its own end.
        match self.re.shortest_match_at(&self.buf, idx) {
            Some(end) if trusted(end) => Round::Within(m.start(), end),
            _ => Round::Nothing,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::net::{Ipv4Addr, Ipv6Addr, SocketAddrV6};

    // Digests below were printed by Debian's keepalived 2.2.7 `genhash -s 127.0.0.1
    // -p 18080 -u /x` against a Python server on loopback sending the response shown
    // (in one write, or in the writes shown, 100 ms apart), and agree with `md5sum`.
    const MD5_HELLO: &str = "5d41402abc4b2a76b9719d911017c592"; // "hello"
    const MD5_HEL: &str = "46356afe55fa3cea9cbe73ad442cad47"; // "hel"
    const MD5_EMPTY: &str = "d41d8cd98f00b204e9800998ecf8427e"; // ""
    const MD5_AB: &str = "187ef4436122d1cc2f40dc2b92f0eba0"; // "ab"
    const MD5_CHUNKED: &str = "79e9489e3bd3f0cb0158215341de046d"; // "5\r\nhello\r\n0\r\n\r\n"

    fn url() -> Url {
        Url {
            path: Some("/".into()),
            ..Default::default()
        }
    }

    fn check(u: &Url) -> UrlCheck {
        UrlCheck::new(u, None, HttpProtocol::V1_0).expect("valid url")
    }

    fn judge(c: &UrlCheck, resp: &[u8]) -> Verdict {
        let mut r = c.response();
        r.feed(resp);
        r.finish()
    }

    fn judge_split(c: &UrlCheck, parts: &[&[u8]]) -> Verdict {
        let mut r = c.response();
        for p in parts {
            r.feed(p);
        }
        r.finish()
    }

    fn hex(resp: &[u8]) -> String {
        genhash_digest(resp).expect("a digest").to_string()
    }

    fn fail(v: Verdict) -> Failure {
        match v {
            Verdict::Fail(f) => f,
            Verdict::Pass(p) => panic!("expected a failure, got {p:?}"),
        }
    }

    fn with_regex(pattern: &str, f: impl FnOnce(&mut Url)) -> UrlCheck {
        let mut u = url();
        u.regex = Some(pattern.into());
        f(&mut u);
        check(&u)
    }

    #[test]
    fn request_bytes_per_protocol() {
        // Captured from genhash 2.2.7 (-P 1.0 / 1.0c / 1.1) on 127.0.0.1:18080.
        let host = RequestHost::Address(SocketAddr::from((Ipv4Addr::LOCALHOST, 18080)));
        assert_eq!(
            request("/x", host, HttpProtocol::V1_0),
            b"GET /x HTTP/1.0\r\nUser-Agent: KeepAliveClient\r\nHost: 127.0.0.1:18080\r\n\r\n"
        );
        assert_eq!(
            request("/x", host, HttpProtocol::V1_0C),
            b"GET /x HTTP/1.0\r\nUser-Agent: KeepAliveClient\r\nConnection: close\r\nHost: 127.0.0.1:18080\r\n\r\n"
        );
        assert_eq!(
            request("/x", host, HttpProtocol::V1_1),
            b"GET /x HTTP/1.1\r\nUser-Agent: KeepAliveClient\r\nConnection: close\r\nHost: 127.0.0.1:18080\r\n\r\n"
        );
    }

    #[test]
    fn request_host_forms() {
        // Port 80 is written; IPv6 in brackets; a virtualhost as is (genhash -V).
        let v4 = RequestHost::Address(SocketAddr::from((Ipv4Addr::new(10, 0, 0, 1), 80)));
        assert!(request("/", v4, HttpProtocol::V1_0).ends_with(b"Host: 10.0.0.1:80\r\n\r\n"));
        let v6 = RequestHost::Address(SocketAddr::V6(SocketAddrV6::new(
            Ipv6Addr::LOCALHOST,
            18080,
            0,
            3,
        )));
        assert!(request("/", v6, HttpProtocol::V1_0).ends_with(b"Host: [::1]:18080\r\n\r\n"));
        let vh = RequestHost::VirtualHost("www.example.com:8080");
        assert_eq!(
            request("/x", vh, HttpProtocol::V1_1),
            b"GET /x HTTP/1.1\r\nUser-Agent: KeepAliveClient\r\nConnection: close\r\nHost: www.example.com:8080\r\n\r\n"
        );
        let vh6 = RequestHost::VirtualHost("::1");
        assert!(request("/", vh6, HttpProtocol::V1_0).ends_with(b"Host: ::1\r\n\r\n"));
    }

    #[test]
    fn url_virtualhost_precedence() {
        let dst = SocketAddr::from((Ipv4Addr::new(10, 0, 0, 1), 8080));
        let mut u = url();
        let c = UrlCheck::new(&u, Some("rs.example"), HttpProtocol::V1_0).expect("ok");
        assert!(c.request(dst).ends_with(b"Host: rs.example\r\n\r\n"));
        u.virtualhost = Some("url.example".into());
        let c = UrlCheck::new(&u, Some("rs.example"), HttpProtocol::V1_0).expect("ok");
        assert!(c.request(dst).ends_with(b"Host: url.example\r\n\r\n"));
        let c = check(&url());
        assert!(c.request(dst).ends_with(b"Host: 10.0.0.1:8080\r\n\r\n"));

        let h = HttpCheck {
            http_protocol: Some("1.1".into()),
            virtualhost: Some("chk.example".into()),
            url: vec![url(), Url::default()],
            ..Default::default()
        };
        let all = UrlCheck::all(&h, Some("rs.example")).expect("ok");
        assert_eq!(all.len(), 1, "a url with no path is left out");
        assert_eq!(all[0].virtualhost(), Some("chk.example"));
        assert_eq!(all[0].protocol(), HttpProtocol::V1_1);
    }

    #[test]
    fn protocol_spellings() {
        assert_eq!(HttpProtocol::from_config(None), Ok(HttpProtocol::V1_0));
        assert_eq!("1.0".parse(), Ok(HttpProtocol::V1_0));
        assert_eq!("1.0C".parse(), Ok(HttpProtocol::V1_0C));
        assert_eq!("1.0c".parse(), Ok(HttpProtocol::V1_0C));
        assert_eq!("1.1".parse(), Ok(HttpProtocol::V1_1));
        let e = "2".parse::<HttpProtocol>().expect_err("bad");
        assert_eq!(
            e.to_string(),
            "http_protocol '2' is not known; use 1.0, 1.0C or 1.1"
        );
    }

    #[test]
    fn status_ranges() {
        let c = check(&url());
        assert_eq!(c.status_codes().to_string(), "200-299");
        for (code, ok) in [
            (199, false),
            (200, true),
            (204, true),
            (299, true),
            (300, false),
        ] {
            let resp = format!("HTTP/1.1 {code} X\r\n\r\n");
            assert_eq!(judge(&c, resp.as_bytes()).is_pass(), ok, "{code}");
        }
        assert_eq!(
            fail(judge(&c, b"HTTP/1.1 503 Busy\r\n\r\n")).to_string(),
            "HTTP status 503, expected 200-299"
        );
        let mut u = url();
        u.status_code = vec![(200, 200), (404, 404), (500, 502), (201, 201)];
        let c = check(&u);
        assert_eq!(c.status_codes().to_string(), "200-201, 404, 500-502");
        assert!(judge(&c, b"HTTP/1.0 404 Not Found\r\n\r\n").is_pass());
        assert!(!judge(&c, b"HTTP/1.0 202 Accepted\r\n\r\n").is_pass());
        u.status_code = vec![(100, 599)];
        assert!(judge(&check(&u), b"HTTP/1.0 599 x\r\n\r\n").is_pass());
        for bad in [(99, 200), (200, 600), (300, 200)] {
            u.status_code = vec![bad];
            assert!(matches!(
                UrlCheck::new(&u, None, HttpProtocol::V1_0),
                Err(HttpConfigError::BadStatusRange { .. })
            ));
        }
    }

    #[test]
    fn status_line_as_keepalived_reads_it() {
        for (head, want) in [
            (&b"HTTP/1.0 200 OK\r\n\r\n"[..], Some(200)),
            (b"HTTP/1.1 200\r\n\r\n", None), // no reason phrase: no space after the code
            (b"HTTP/1.1 200 \r\n\r\n", Some(200)),
            (b"FOO 204 whatever\r\n\r\n", Some(204)), // the protocol is not checked
            (b"HTTP/1.0  200 OK\r\n\r\n", None),      // two spaces
            (b"HTTP/1.0 2000 OK\r\n\r\n", None),
            (b"HTTP/1.0 +20 OK\r\n\r\n", Some(20)), // strtoul takes the sign
            (b"HTTP/1.0 -20 OK\r\n\r\n", None),
            (b"HTTP/1.0 2x0 OK\r\n\r\n", None),
            (b"HTTP/1.0\r\n 200 OK\r\n\r\n", None), // the scan stops at \r
            (b"HTTP/1.0\nX 200 OK\r\n\r\n", Some(200)), // but not at \n
            (b"\r\n\r\n", None),
        ] {
            let end = find(head, b"\r\n\r\n").expect("test header") + 4;
            assert_eq!(
                status_code(&head[..end]),
                want,
                "{:?}",
                head.escape_ascii().to_string()
            );
        }
        let c = check(&url());
        assert_eq!(
            fail(judge(&c, b"HTTP/1.1 200\r\nServer: x\r\n\r\nok")).to_string(),
            "no HTTP status line: server sent \"HTTP/1.1 200\""
        );
        assert_eq!(
            fail(judge(&c, b"HTTP/1.0 +20 OK\r\n\r\n")).to_string(),
            "HTTP status 20, expected 200-299"
        );
    }

    #[test]
    fn digest_of_known_bodies() {
        assert_eq!(hex(b"HTTP/1.0 200 OK\r\n\r\nhello"), MD5_HELLO);
        assert_eq!(hex(b"HTTP/1.0 200 OK\r\n\r\n"), MD5_EMPTY);
        // genhash prints the digest whatever the status.
        assert_eq!(hex(b"HTTP/1.0 503 NO\r\n\r\nhello"), MD5_HELLO);
        // Chunked bodies are digested with their framing.
        assert_eq!(
            hex(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"),
            MD5_CHUNKED
        );
        let mut u = url();
        u.digest = Some(MD5_HELLO.into());
        let c = check(&u);
        let v = judge(&c, b"HTTP/1.0 200 OK\r\n\r\nhello");
        assert!(v.is_pass());
        let f = fail(judge(&c, b"HTTP/1.0 200 OK\r\n\r\nhellO"));
        assert_eq!(
            f.to_string(),
            format!(
                "digest {} differs from the configured {MD5_HELLO}",
                hex(b"\r\n\r\nhellO")
            )
        );
        u.digest = Some("xyz".into());
        assert_eq!(
            UrlCheck::new(&u, None, HttpProtocol::V1_0)
                .expect_err("bad")
                .to_string(),
            "digest 'xyz' is not an MD5 digest; use the 32 hex digits genhash prints"
        );
        u.digest = Some(format!("+{}", &MD5_HELLO[1..]));
        assert!(UrlCheck::new(&u, None, HttpProtocol::V1_0).is_err());
        u.digest = Some(MD5_HELLO.to_uppercase());
        assert_eq!(
            check(&u).digest().map(|d| d.to_string()).as_deref(),
            Some(MD5_HELLO)
        );
    }

    #[test]
    fn content_length_as_keepalived_2_2_7_uses_it() {
        // Each case was run through genhash 2.2.7 with body "0123456789": the
        // number is how many body bytes its digest covered.
        let body = b"0123456789";
        let h = b"HTTP/1.0 200 OK\r\n";
        for (hdr, n) in [
            (&b"Content-Length: 3\r\n"[..], 3),
            (b"content-length: 3\r\n", 10), // case-sensitive
            (b"Content-Length:3\r\n", 3),
            (b"Content-Length:\t3\r\n", 3),
            (b"Content-Length: 3 \r\n", 10), // a trailing blank spoils it
            (b"Content-Length: 3x\r\n", 10),
            (b"X-Content-Length: 3\r\n", 3), // found anywhere
            (b"Content-Length: -1\r\n", 10),
            (b"Content-Length: +4\r\n", 4),
            (b"Content-Length: 3\r\nContent-Length: 5\r\n", 3), // the first one
            (b"Content-Length: \r\n", 10),
            (b"Content-Length: \r\nX: y\r\n", 10),
            (b"Content-Length:\r\n", 0), // no digits, and \r right after the colon
            (b"X: \0\r\nContent-Length: 3\r\n", 10), // strstr stops at the NUL
            (b"Content-Length: 2\0\r\n", 2),
            (b"Content-Length: 3\n\r\n", 3),
            (b"Content-Length: 99999999999999999999999\r\n", 10),
            (b"Content-Length: 0\r\n", 0),
            (b"Content-Length: -0\r\n", 0),
            (b"Content-Length: 30\r\n", 10), // shorter body: all of it, and a pass
        ] {
            let resp = [&h[..], hdr, b"\r\n", body].concat();
            let want = genhash_digest(&[&h[..], b"\r\n", &body[..n]].concat());
            assert_eq!(genhash_digest(&resp), want, "{}", hdr.escape_ascii());
        }
        // Bytes after Content-Length are read and counted, not digested.
        let mut r = check(&url()).response();
        r.feed(b"HTTP/1.0 200 OK\r\nContent-Length: 3\r\n\r\nhe");
        r.feed(b"llo");
        let Verdict::Pass(p) = r.finish() else {
            panic!("pass expected")
        };
        assert_eq!(p.digest.to_string(), MD5_HEL);
        assert_eq!((p.body_len, p.content_length), (5, Some(3)));
        assert_eq!(p.content_length_mismatch(), Some((3, 5)));
        let v = judge(
            &check(&url()),
            b"HTTP/1.0 200 OK\r\nContent-Length: 10\r\n\r\nhello",
        );
        let Verdict::Pass(p) = v else {
            panic!("pass expected")
        };
        assert_eq!(p.digest.to_string(), MD5_HELLO);
        assert_eq!(p.content_length_mismatch(), Some((10, 5)));
        // The empty digest when Content-Length is 0, from genhash.
        assert_eq!(
            hex(b"HTTP/1.0 200 OK\r\nContent-Length:\r\n\r\nab"),
            MD5_EMPTY
        );
        assert_eq!(
            hex(b"HTTP/1.0 200 OK\r\nContent-Length: 2\0\r\n\r\nabc"),
            MD5_AB
        );
    }

    #[test]
    fn reads_to_eof_whatever_the_headers_say() {
        // A complete Content-Length body or chunked terminator does not end the read:
        // keepalived (and so a pass) needs end of stream.
        let mut r = check(&url()).response();
        assert_eq!(
            r.feed(b"HTTP/1.0 200 OK\r\nContent-Length: 5\r\n\r\nhello"),
            Progress::NeedMore
        );
        assert_eq!(
            r.feed(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"),
            Progress::NeedMore
        );
    }

    #[test]
    fn header_split_at_every_position() {
        let mut u = url();
        u.digest = Some(MD5_HELLO.into());
        u.regex = Some("Server: (nginx|x)".into());
        let c = check(&u);
        let resp = b"HTTP/1.0 200 OK\r\nServer: x\r\nContent-Length: 5\r\n\r\nhello";
        let whole = judge(&c, resp);
        assert!(whole.is_pass(), "{whole:?}");
        for i in 0..=resp.len() {
            assert_eq!(
                judge_split(&c, &[&resp[..i], &resp[i..]]),
                whole,
                "split at {i}"
            );
            for j in i..=resp.len() {
                let v = judge_split(&c, &[&resp[..i], &resp[i..j], &resp[j..]]);
                assert_eq!(v, whole, "split at {i}, {j}");
            }
        }
        // Byte by byte.
        let mut r = c.response();
        for b in resp {
            r.feed(std::slice::from_ref(b));
        }
        assert_eq!(r.finish(), whole);
        // genhash, split the way it was tested against keepalived.
        let mut r = Response::for_genhash();
        for p in [
            &b"HTTP/1.0 200 OK\r\n"[..],
            b"Server: x\r",
            b"\n\r\nhel",
            b"lo",
        ] {
            r.feed(p);
        }
        assert_eq!(
            r.finish_genhash().map(|d| d.to_string()).as_deref(),
            Ok(MD5_HELLO)
        );
    }

    #[test]
    fn header_limit_is_4095_bytes() {
        // genhash 2.2.7: a 4095-byte header section is read, 4096 is "no data".
        for (total, ok) in [(4094, true), (4095, true), (4096, false), (4097, false)] {
            let base = b"HTTP/1.0 200 OK\r\nX: ".to_vec();
            let pad = total - base.len() - 4;
            let resp = [base, vec![b'a'; pad], b"\r\n\r\nhello".to_vec()].concat();
            let got = genhash_digest(&resp).map(|d| d.to_string());
            if ok {
                assert_eq!(got.as_deref(), Ok(MD5_HELLO), "{total}");
            } else {
                assert_eq!(got, Err(GenhashError::NoData), "{total}");
                let mut r = check(&url()).response();
                assert_eq!(r.feed(&resp[..2000]), Progress::NeedMore);
                assert_eq!(r.feed(&resp[2000..]), Progress::Done);
                assert_eq!(r.finish(), Verdict::Fail(Failure::HeadersTooLong));
            }
        }
        assert_eq!(
            Failure::HeadersTooLong.to_string(),
            "the response headers are longer than 4095 bytes"
        );
    }

    #[test]
    fn garbage_and_truncation() {
        let c = check(&url());
        assert_eq!(fail(judge(&c, b"")), Failure::NoData);
        assert_eq!(
            fail(judge(&c, b"SSH-2.0-OpenSSH_9.2p1 Debian-2\r\n")).to_string(),
            "connection closed before the headers ended: server sent \"SSH-2.0-OpenSSH_9.2p1 Debian-2\""
        );
        // A bare \n\n does not end the header (genhash: "no data received").
        assert_eq!(
            genhash_digest(b"HTTP/1.0 200 OK\n\nhello"),
            Err(GenhashError::NoData)
        );
        assert_eq!(
            fail(judge(&c, b"\x00\x01\xffgarbage \"x\"\r\n\r\n")).to_string(),
            "no HTTP status line: server sent \"\\x00\\x01\\xffgarbage \\\"x\\\"\""
        );
        assert_eq!(
            GenhashError::NoData.to_string(),
            "no data received from remote webserver"
        );
        let resp = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello";
        let end = find(resp, b"\r\n\r\n").expect("header") + 4;
        for i in 0..resp.len() {
            let v = judge(&c, &resp[..i]);
            assert_eq!(v.is_pass(), i >= end, "cut at {i}");
        }
    }

    #[test]
    fn bad_status_settles_early_but_genhash_reads_on() {
        let c = check(&url());
        let mut r = c.response();
        assert_eq!(r.feed(b"HTTP/1.0 500 Oops\r\n\r\nmore"), Progress::Done);
        assert_eq!(r.feed(b"ignored"), Progress::Done);
        assert_eq!(
            fail(r.finish()).to_string(),
            "HTTP status 500, expected 200-299"
        );
        let mut r = Response::for_genhash();
        assert_eq!(r.feed(b"HTTP/1.0 500 Oops\r\n\r\nhel"), Progress::NeedMore);
        r.feed(b"lo");
        assert_eq!(
            r.finish_genhash().map(|d| d.to_string()).as_deref(),
            Ok(MD5_HELLO)
        );
    }

    #[test]
    fn endless_body_and_header_stay_bounded() {
        let c = with_regex("never-there", |_| {});
        let mut r = c.response();
        r.feed(b"HTTP/1.0 200 OK\r\n\r\n");
        let chunk = vec![b'x'; 1000];
        for _ in 0..10_000 {
            assert_eq!(r.feed(&chunk), Progress::NeedMore);
            assert!(r.buffered() <= REGEX_BUFFER);
        }
        assert_eq!(
            fail(r.finish()).to_string(),
            "regex \"never-there\" did not match"
        );
        let mut r = check(&url()).response();
        r.feed(b"HTTP/1.0 200 OK\r\nX: ");
        let mut progress = Progress::NeedMore;
        for _ in 0..100 {
            progress = r.feed(&chunk);
            assert!(r.buffered() <= HEADER_LIMIT);
        }
        assert_eq!(progress, Progress::Done);
    }

    #[test]
    fn regex_match_no_match_and_inversion() {
        let resp = b"HTTP/1.0 200 OK\r\nServer: test\r\n\r\n<html>status: healthy</html>\n";
        assert!(judge(&with_regex("status: (healthy|ok)", |_| {}), resp).is_pass());
        assert_eq!(
            fail(judge(&with_regex("sick", |_| {}), resp)).to_string(),
            "regex \"sick\" did not match"
        );
        let inverted = with_regex("sick", |u| u.regex_no_match = true);
        assert!(judge(&inverted, resp).is_pass());
        let inverted = with_regex("healthy", |u| u.regex_no_match = true);
        assert_eq!(
            fail(judge(&inverted, resp)).to_string(),
            "regex \"healthy\" matched and regex_no_match is set"
        );
        // The subject starts at the status line, as keepalived's first buffer does.
        assert!(judge(&with_regex("^HTTP/1\\.0 200", |_| {}), resp).is_pass());
        assert!(judge(&with_regex("Server: test", |_| {}), resp).is_pass());
        assert!(!judge(&with_regex("^<html>", |_| {}), resp).is_pass());
        assert!(judge(&with_regex("(?m)^<html>", |_| {}), resp).is_pass());
        // `$` is the end of the response only.
        assert!(judge(&with_regex("</html>\\n$", |_| {}), resp).is_pass());
        assert!(!judge(&with_regex("</html>$", |_| {}), resp).is_pass());
        // Digest is judged before the regex.
        let both = with_regex("sick", |u| u.digest = Some(MD5_EMPTY.into()));
        assert!(matches!(fail(judge(&both, resp)), Failure::Digest { .. }));
    }

    #[test]
    fn regex_options() {
        let resp = b"HTTP/1.0 200 OK\r\n\r\nLine one\nline TWO\n\xe9t\xc3\xa9";
        let with = |p: &str, opts: &[&str]| {
            with_regex(p, |u| {
                u.regex_options = opts.iter().map(|s| s.to_string()).collect()
            })
        };
        assert!(!judge(&with("line two", &[]), resp).is_pass());
        assert!(judge(&with("line two", &["caseless"]), resp).is_pass());
        assert!(judge(&with("^line", &["multiline"]), resp).is_pass());
        assert!(judge(&with("one.line", &["dotall"]), resp).is_pass());
        assert!(!judge(&with("one.line", &[]), resp).is_pass());
        assert!(judge(&with("line \\x20 TWO # a comment", &["extended"]), resp).is_pass());
        assert!(judge(&with("L.+?e", &["ungreedy", "no_auto_capture"]), resp).is_pass());
        // Without utf the match is by bytes: `.` takes one byte of "é".
        assert!(judge(&with("^\\xe9t\\xc3.$", &["multiline"]), resp).is_pass());
        assert!(judge(&with("t.$", &["utf"]), resp).is_pass());
        assert!(!judge(&with("t.$", &[]), resp).is_pass());
        for (opt, refused) in [
            ("allow_empty_class", true),
            ("alt_bsux", true),
            ("dollar_endonly", false),
            ("firstline", true),
            ("auto_callout", false),
            ("never_utf", false),
        ] {
            let mut u = url();
            u.regex = Some("x".into());
            u.regex_options = vec![opt.into()];
            let r = UrlCheck::new(&u, None, HttpProtocol::V1_0);
            assert_eq!(
                matches!(r, Err(HttpConfigError::UnsupportedRegexOption { .. })),
                refused,
                "{opt}"
            );
        }
        let mut u = url();
        u.regex = Some("x".into());
        u.regex_options = vec!["bogus".into()];
        assert_eq!(
            UrlCheck::new(&u, None, HttpProtocol::V1_0)
                .expect_err("bad")
                .to_string(),
            "regex_options bogus is not a known option"
        );
        u.regex_options = vec!["firstline".into()];
        assert_eq!(
            UrlCheck::new(&u, None, HttpProtocol::V1_0).expect_err("bad").to_string(),
            "regex_options firstline is not supported: the Rust regex engine cannot restrict a match to the first line"
        );
        // regex_stack is accepted and changes nothing.
        u.regex_options = Vec::new();
        u.regex_stack = Some((1024, 65536));
        assert!(UrlCheck::new(&u, None, HttpProtocol::V1_0).is_ok());
    }

    #[test]
    fn pcre_only_syntax_is_refused() {
        for p in [
            "(?<=a)b",
            "(?=a)",
            "(a)\\1",
            "(?>a)",
            "\\Qa.b\\E",
            "a\\Z",
            "(*UTF)a",
            "(unclosed",
            "a++b",
            "a*+",
            "x?+",
            "a{2}+",
            "a{2,}+",
            "(ab)++",
            "[ab]++",
            "a+?+",
        ] {
            let mut u = url();
            u.regex = Some(p.into());
            let e = UrlCheck::new(&u, None, HttpProtocol::V1_0).expect_err(p);
            assert!(matches!(e, HttpConfigError::Regex { .. }), "{p}");
            assert!(e.to_string().contains("Rust regex engine"), "{e}");
        }
    }

    #[test]
    fn possessive_quantifiers_are_found() {
        for (p, ext, want) in [
            ("a++", false, Some(2)),
            ("a+ +", false, None), // two plain repetitions of a blank-separated atom
            ("a+ +", true, Some(3)),
            ("a+ # x\n+", true, Some(7)),
            ("a+", false, None),
            ("a+?", false, None),
            ("\\++", false, None),
            ("[+]+", false, None),
            ("[]+]+", false, None),
            ("[^]+]+", false, None),
            ("[[:digit:]+]+", false, None),
            ("\\x{2b}+", false, None),
            ("a{x}+", false, None), // not a counted repetition
            ("(?:a)+", false, None),
            ("a{1,2}+", false, Some(6)),
        ] {
            assert_eq!(possessive_quantifier(p, ext), want, "{p:?} extended={ext}");
        }
    }

    #[test]
    fn regex_offsets() {
        // Offsets count from the first byte of the response (header included).
        let head = b"HTTP/1.0 200 OK\r\n\r\n"; // 19 bytes
        let resp = [&head[..], b"ok..ok"].concat(); // "ok" at 19 and 23
        let at = |min: Option<u64>, max: Option<u64>| {
            let c = with_regex("ok", |u| {
                u.regex_min_offset = min;
                u.regex_max_offset = max;
            });
            judge(&c, &resp).is_pass()
        };
        assert!(at(None, None));
        assert!(at(Some(19), Some(19)));
        assert!(!at(None, Some(18)));
        assert!(at(Some(20), None)); // the second one, at 23
        assert!(at(Some(23), Some(23)));
        assert!(at(Some(30), Some(10))); // crossed: both dropped, as keepalived does
        assert!(!at(Some(20), Some(22)));
        assert!(!at(Some(24), None));
        // A match may start at min while its look-behind sees the byte before.
        let c = with_regex("\\Bok", |u| u.regex_min_offset = Some(23));
        assert!(!judge(&c, &resp).is_pass());
        let c = with_regex("\\.ok", |u| u.regex_min_offset = Some(22));
        assert!(judge(&c, &resp).is_pass());
    }

    #[test]
    fn regex_across_window_boundaries() {
        let head = b"HTTP/1.0 200 OK\r\n\r\n".to_vec();
        let needle = b"<needle-in-the-body>";
        // Put the needle at every offset around the first round boundaries.
        for pos in (REGEX_WINDOW - 40..REGEX_WINDOW + 40)
            .chain(2 * REGEX_WINDOW - 40..2 * REGEX_WINDOW + 40)
            .chain(3 * REGEX_WINDOW - 30..3 * REGEX_WINDOW + 10)
        {
            let mut body = vec![b'.'; 4 * REGEX_WINDOW];
            body[pos..pos + needle.len()].copy_from_slice(needle);
            let resp = [head.clone(), body].concat();
            let c = with_regex("<needle-[a-z-]+>", |_| {});
            assert!(judge(&c, &resp).is_pass(), "needle at {pos}");
            let start = (head.len() + pos) as u64;
            let c = with_regex("<needle", |u| u.regex_max_offset = Some(start));
            assert!(judge(&c, &resp).is_pass(), "max at {pos}");
            let c = with_regex("<needle", |u| u.regex_max_offset = Some(start - 1));
            assert!(!judge(&c, &resp).is_pass(), "max before {pos}");
            let c = with_regex("<needle", |u| u.regex_min_offset = Some(start + 1));
            assert!(!judge(&c, &resp).is_pass(), "min after {pos}");
            // `$` at a window end must not match there.
            let c = with_regex("needle-in-the-body>$", |_| {});
            assert!(!judge(&c, &resp).is_pass(), "$ at {pos}");
        }
        // A match whose shortest form fits in the window is found even when the
        // leftmost-first match runs long.
        let mut body = b"start".to_vec();
        body.extend(vec![b'x'; 5 * REGEX_WINDOW]);
        let resp = [head.clone(), body].concat();
        assert!(judge(&with_regex("(?s)start.*", |_| {}), &resp).is_pass());
        let c = with_regex("(?s)start.*", |u| u.regex_max_offset = Some(19));
        assert!(judge(&c, &resp).is_pass());
        let c = with_regex("(?s)start.*", |u| u.regex_max_offset = Some(18));
        assert!(!judge(&c, &resp).is_pass());
        // One that cannot fit is not.
        let mut body = b"start".to_vec();
        body.extend(vec![b'x'; 3 * REGEX_WINDOW]);
        body.extend(b"end");
        let resp = [head, body].concat();
        assert!(!judge(&with_regex("startx+end", |_| {}), &resp).is_pass());
        assert!(judge(&with_regex("x{100}end", |_| {}), &resp).is_pass());
    }

    #[test]
    fn settled_regex_failure_ends_the_read_without_a_digest() {
        let c = with_regex("bad", |u| u.regex_no_match = true);
        let mut r = c.response();
        r.feed(b"HTTP/1.0 200 OK\r\n\r\n");
        let mut body = vec![b'.'; 3 * REGEX_WINDOW];
        body[10..13].copy_from_slice(b"bad");
        assert_eq!(r.feed(&body), Progress::Done);
        assert!(matches!(
            r.finish(),
            Verdict::Fail(Failure::RegexMatched { .. })
        ));
        // With a digest, the read goes on: the digest is judged first.
        let c = with_regex("bad", |u| {
            u.regex_no_match = true;
            u.digest = Some(MD5_EMPTY.into());
        });
        let mut r = c.response();
        r.feed(b"HTTP/1.0 200 OK\r\n\r\n");
        assert_eq!(r.feed(&body), Progress::NeedMore);
        assert!(matches!(r.finish(), Verdict::Fail(Failure::Digest { .. })));
    }

    fn judge_cuts(c: &UrlCheck, data: &[u8], cuts: &[usize]) -> Verdict {
        let mut r = c.response();
        let mut at = 0;
        let mut sorted: Vec<usize> = cuts.iter().map(|&x| x % (data.len() + 1)).collect();
        sorted.sort_unstable();
        for cut in sorted {
            r.feed(&data[at..cut]);
            at = cut;
        }
        r.feed(&data[at..]);
        r.finish()
    }

    proptest! {
        #[test]
        fn random_bytes_any_split_same_verdict(
            data in proptest::collection::vec(any::<u8>(), 0..600),
            cuts in proptest::collection::vec(any::<usize>(), 0..8),
        ) {
            let plain = check(&url());
            let regex = with_regex("(?i)o[a-z]*k", |u| u.regex_min_offset = Some(3));
            for c in [&plain, &regex] {
                let whole = judge(c, &data);
                prop_assert_eq!(judge_cuts(c, &data, &cuts), whole);
            }
        }

        #[test]
        fn responses_any_split_same_verdict(
            status in 100u16..700,
            cl in proptest::option::of(0u64..40),
            seed in any::<u64>(),
            len in 0usize..12_000,
            cuts in proptest::collection::vec(any::<usize>(), 0..6),
            max in proptest::option::of(0u64..12_000),
        ) {
            let mut data = format!("HTTP/1.1 {status} X\r\n").into_bytes();
            if let Some(n) = cl {
                data.extend(format!("Content-Length: {n}\r\n").bytes());
            }
            data.extend(b"\r\n");
            // A cheap generator: mostly dots, with a few letters the patterns use.
            let mut x = seed | 1;
            data.extend((0..len).map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                match x % 1024 {
                    0..=4 => b'o',
                    5..=9 => b'k',
                    10 => b'\n',
                    _ => b'.',
                }
            }));
            const PATTERN: &str = "ok$|k\\nk|ko|o[^ok]{50,60}kk";
            let c = with_regex(PATTERN, |u| u.regex_max_offset = max);
            let whole = judge(&c, &data);
            prop_assert_eq!(judge_cuts(&c, &data, &cuts), whole.clone());
            // The windowed scan agrees with a search of the whole response.
            if (200..300).contains(&status) {
                let re = Regex::new(&format!("(?-u){PATTERN}")).expect("regex");
                let first = re.find(&data).map(|m| m.start() as u64);
                let expect = first.is_some_and(|s| max.is_none_or(|mx| s <= mx));
                prop_assert_eq!(whole.is_pass(), expect);
            }
        }
    }
}
