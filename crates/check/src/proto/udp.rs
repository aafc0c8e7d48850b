//! `UDP_CHECK`: what to send, and what the answer (or the silence) means.
//!
//! keepalived 2.2.7 (`keepalived/check/check_udp.c`, `keepalived/core/layer4.c`):
//!
//! - It sends `payload`, or when none is set 32 bytes of the text
//!   `keepalived check - ` repeated (`udp_bind_connect`, `set_buf`; the man page says
//!   "random", the code sends this fixed filler), on a connected socket with
//!   `IP_RECVERR`/`IPV6_RECVERR` so that ICMP errors reach it.
//! - It then waits `connect_timeout` for one of three things (`udp_socket_state`):
//!   - nothing: success, unless `require_reply` is set;
//!   - an error on the socket (`udp_socket_error`): failure when it is an ICMP or
//!     ICMPv6 destination unreachable of any code; any other ICMP error ends the wait
//!     as if nothing came;
//!   - a datagram: success without `require_reply` (its content is not read).
//!     With `require_reply` and a hex pattern, `check_udp_reply` judges it: length
//!     within `min_reply_length` (default 0) ..= `max_reply_length` (default 255),
//!     then the first min(reply length, pattern length) octets equal to the pattern,
//!     `x` nibbles ignored. With `require_reply` and no pattern, any datagram passes:
//!     `udp_check_thread` calls `check_udp_reply` only when there is a pattern, so the
//!     length limits are not applied either (the man page says they are).
use keepup_config::model::lvs::UdpCheck;
use std::fmt;
use std::net::IpAddr;
use std::time::Duration;

/// keepalived's `max_reply_length` default (`UINT8_MAX`).
pub const DEFAULT_MAX_REPLY_LENGTH: usize = 255;
/// What keepalived sends when no `payload` is configured (`set_buf` filling a
/// 32-byte `UDP_BUFSIZE` buffer).
pub const DEFAULT_PAYLOAD: &[u8; 32] = b"keepalived check - keepalived ch";

/// Why a `UDP_CHECK` block cannot become a rule.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum UdpConfigError {
    #[error(
        "require_reply '{pattern}' is not a hex string; use digits 0-9, a-f and x for an ignored nibble"
    )]
    BadPattern { pattern: String },
}

/// The `require_reply` octets and which of their nibbles are ignored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplyPattern {
    bytes: Vec<u8>,
    /// Set bits are ignored (an `x` nibble sets 0x0f or 0xf0), as keepalived's
    /// `reply_mask`.
    mask: Vec<u8>,
}

impl ReplyPattern {
    /// Parse the config model's form: hex digits two per octet, `x` for an ignored
    /// nibble. The config parser has already applied keepalived's free format (a
    /// lone digit at the end of a word is an octet of its own); a lone digit left at
    /// the end here is read the same way.
    pub fn parse(hex: &str) -> Result<ReplyPattern, UdpConfigError> {
        let bad = || UdpConfigError::BadPattern {
            pattern: hex.to_string(),
        };
        let digits = hex.as_bytes();
        let mut bytes = Vec::with_capacity(digits.len().div_ceil(2));
        let mut mask = Vec::with_capacity(bytes.capacity());
        for pair in digits.chunks(2) {
            let (mut b, mut m) = (0u8, 0u8);
            for &c in pair {
                let (v, ignored) = nibble(c).ok_or_else(bad)?;
                b = (b << 4) | v;
                m = (m << 4) | if ignored { 0x0f } else { 0 };
            }
            bytes.push(b);
            mask.push(m);
        }
        Ok(ReplyPattern { bytes, mask })
    }

    pub fn len(&self) -> usize {
        self.bytes.len()
    }
    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }
    pub fn mask(&self) -> &[u8] {
        &self.mask
    }

    /// The first octet where `reply` differs, over the shorter of the two.
    fn first_difference(&self, reply: &[u8]) -> Option<usize> {
        self.bytes
            .iter()
            .zip(&self.mask)
            .zip(reply)
            .position(|((want, ign), got)| (want ^ got) & !ign != 0)
    }
}

/// A hex digit's value, or `x` (an ignored nibble, value 0).
fn nibble(c: u8) -> Option<(u8, bool)> {
    match c {
        b'0'..=b'9' => Some((c - b'0', false)),
        b'a'..=b'f' => Some((c - b'a' + 10, false)),
        b'A'..=b'F' => Some((c - b'A' + 10, false)),
        b'x' | b'X' => Some((0, true)),
        _ => None,
    }
}

/// One pattern octet as written in the config: two hex digits, `x` where ignored.
fn show_pattern_octet(b: u8, ignored: u8) -> String {
    let digit = |v: u8, ign: bool| {
        if ign {
            'x'
        } else {
            char::from_digit(u32::from(v), 16).unwrap_or('?')
        }
    };
    [
        digit(b >> 4, ignored & 0xf0 != 0),
        digit(b & 0x0f, ignored & 0x0f != 0),
    ]
    .iter()
    .collect()
}

/// A `UDP_CHECK`'s payload and its rules for the answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplyRule {
    payload: Vec<u8>,
    require_reply: bool,
    pattern: Option<ReplyPattern>,
    min_reply_length: usize,
    max_reply_length: usize,
}

impl ReplyRule {
    /// Build from the parsed block with keepalived's defaults.
    pub fn from_config(c: &UdpCheck) -> Result<ReplyRule, UdpConfigError> {
        // keepalived falls back to its filler when the payload is absent or empty.
        let payload = match &c.payload {
            Some(p) if !p.is_empty() => p.clone(),
            _ => DEFAULT_PAYLOAD.to_vec(),
        };
        let pattern = match c.require_reply.as_deref() {
            None | Some("") => None,
            Some(hex) => Some(ReplyPattern::parse(hex)?),
        };
        let len = |v: Option<u32>, default: usize| {
            v.map_or(default, |n| usize::try_from(n).unwrap_or(usize::MAX))
        };
        Ok(ReplyRule {
            payload,
            require_reply: c.require_reply.is_some(),
            pattern,
            min_reply_length: len(c.min_reply_length, 0),
            max_reply_length: len(c.max_reply_length, DEFAULT_MAX_REPLY_LENGTH),
        })
    }

    /// The datagram to send.
    pub fn payload(&self) -> &[u8] {
        &self.payload
    }
    pub fn require_reply(&self) -> bool {
        self.require_reply
    }
    pub fn pattern(&self) -> Option<&ReplyPattern> {
        self.pattern.as_ref()
    }
    pub fn min_reply_length(&self) -> usize {
        self.min_reply_length
    }
    pub fn max_reply_length(&self) -> usize {
        self.max_reply_length
    }

    /// keepalived's `check_udp_reply`: the length limits, then the pattern (if any)
    /// over the shorter of the reply and the pattern. Pass the whole datagram, so an
    /// over-long reply is seen as such. [`ReplyRule::judge`] calls this only when a
    /// pattern is set, as keepalived does.
    pub fn matches(&self, reply: &[u8]) -> Result<(), UdpFailure> {
        let len = reply.len();
        if len < self.min_reply_length {
            return Err(UdpFailure::TooShort {
                len,
                min: self.min_reply_length,
            });
        }
        if len > self.max_reply_length {
            return Err(UdpFailure::TooLong {
                len,
                max: self.max_reply_length,
            });
        }
        let Some(p) = &self.pattern else {
            return Ok(());
        };
        match p.first_difference(reply) {
            None => Ok(()),
            Some(at) => Err(UdpFailure::Differs {
                at,
                got: reply.get(at).copied().unwrap_or(0),
                want: p.bytes.get(at).copied().unwrap_or(0),
                ignored: p.mask.get(at).copied().unwrap_or(0),
            }),
        }
    }

    /// The verdict on one probe (keepalived's `udp_check_thread` with
    /// `udp_socket_state`).
    ///
    /// One divergence: an ICMP error other than destination unreachable while a
    /// reply is required. keepalived then passes when `require_reply` has no pattern
    /// and fails when it has one (it judges an unfilled buffer whose length reads as
    /// `max_reply_length + 1`); here it fails in both cases, since no reply came.
    pub fn judge(&self, outcome: &UdpOutcome) -> Result<(), UdpFailure> {
        match outcome {
            UdpOutcome::Reply(data) => match self.pattern {
                Some(_) => self.matches(data),
                None => Ok(()),
            },
            UdpOutcome::IcmpError(e) if e.is_dest_unreachable() => {
                Err(UdpFailure::Unreachable(e.clone()))
            }
            UdpOutcome::IcmpError(e) if self.require_reply => {
                Err(UdpFailure::IcmpInsteadOfReply(e.clone()))
            }
            UdpOutcome::IcmpError(_) => Ok(()),
            UdpOutcome::Timeout(after) if self.require_reply => {
                Err(UdpFailure::NoReply { after: *after })
            }
            // Silence is the expected answer of most UDP services to an unknown
            // datagram; only an ICMP error says the port is closed.
            UdpOutcome::Timeout(_) => Ok(()),
            UdpOutcome::SocketError(e) => Err(UdpFailure::Socket(e.clone())),
        }
    }
}

/// What one probe saw after sending the payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UdpOutcome {
    /// A datagram from the server: all of it, not cut to `max_reply_length`.
    Reply(Vec<u8>),
    /// An ICMP error from the socket's error queue (origin ICMP or ICMPv6).
    IcmpError(IcmpError),
    /// Nothing within `connect_timeout`, which is given here for the message.
    Timeout(Duration),
    /// The send or receive failed locally; keepalived counts it as a failure.
    SocketError(String),
}

/// ICMP or ICMPv6, which decides how type and code read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IcmpVersion {
    V4,
    V6,
}

/// An ICMP error as the kernel reports it (`sock_extended_err`: `ee_type`,
/// `ee_code`, and the offender's address when known).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IcmpError {
    pub version: IcmpVersion,
    pub icmp_type: u8,
    pub code: u8,
    pub from: Option<IpAddr>,
}

/// ICMP destination unreachable (RFC 792).
pub const ICMP_DEST_UNREACH: u8 = 3;
/// ICMPv6 destination unreachable (RFC 4443 §3.1).
pub const ICMPV6_DEST_UNREACH: u8 = 1;

impl IcmpError {
    /// Port unreachable from `from`, in the ICMP version of its address.
    pub fn port_unreachable(from: IpAddr) -> IcmpError {
        match from {
            IpAddr::V4(_) => IcmpError {
                version: IcmpVersion::V4,
                icmp_type: ICMP_DEST_UNREACH,
                code: 3,
                from: Some(from),
            },
            IpAddr::V6(_) => IcmpError {
                version: IcmpVersion::V6,
                icmp_type: ICMPV6_DEST_UNREACH,
                code: 4,
                from: Some(from),
            },
        }
    }

    /// The only kind keepalived counts as a failure, whatever its code.
    pub fn is_dest_unreachable(&self) -> bool {
        match self.version {
            IcmpVersion::V4 => self.icmp_type == ICMP_DEST_UNREACH,
            IcmpVersion::V6 => self.icmp_type == ICMPV6_DEST_UNREACH,
        }
    }

    /// What happened, in words (RFC 792, RFC 1812 §5.2.7.1, RFC 4443).
    fn what(&self) -> String {
        let known = match (self.version, self.icmp_type, self.code) {
            (IcmpVersion::V4, 3, 0) => "network unreachable",
            (IcmpVersion::V4, 3, 1) => "host unreachable",
            (IcmpVersion::V4, 3, 2) => "protocol unreachable",
            (IcmpVersion::V4, 3, 3) => "port unreachable",
            (IcmpVersion::V4, 3, 4) => "fragmentation needed",
            (IcmpVersion::V4, 3, 5) => "source route failed",
            (IcmpVersion::V4, 3, 6) => "destination network unknown",
            (IcmpVersion::V4, 3, 7) => "destination host unknown",
            (IcmpVersion::V4, 3, 9) => "network administratively prohibited",
            (IcmpVersion::V4, 3, 10) => "host administratively prohibited",
            (IcmpVersion::V4, 3, 13) => "communication administratively prohibited",
            (IcmpVersion::V4, 4, _) => "source quench",
            (IcmpVersion::V4, 5, _) => "redirect",
            (IcmpVersion::V4, 11, _) => "time exceeded",
            (IcmpVersion::V4, 12, _) => "parameter problem",
            (IcmpVersion::V6, 1, 0) => "no route to destination",
            (IcmpVersion::V6, 1, 1) => "communication administratively prohibited",
            (IcmpVersion::V6, 1, 2) => "beyond scope of source address",
            (IcmpVersion::V6, 1, 3) => "address unreachable",
            (IcmpVersion::V6, 1, 4) => "port unreachable",
            (IcmpVersion::V6, 1, 5) => "source address failed policy",
            (IcmpVersion::V6, 1, 6) => "reject route to destination",
            (IcmpVersion::V6, 2, _) => "packet too big",
            (IcmpVersion::V6, 3, _) => "time exceeded",
            (IcmpVersion::V6, 4, _) => "parameter problem",
            _ if self.is_dest_unreachable() => {
                return format!("destination unreachable (code {})", self.code)
            }
            _ => return format!("type {} code {}", self.icmp_type, self.code),
        };
        known.to_string()
    }
}

impl fmt::Display for IcmpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let proto = match self.version {
            IcmpVersion::V4 => "ICMP",
            IcmpVersion::V6 => "ICMPv6",
        };
        write!(f, "{proto} {}", self.what())?;
        if let Some(from) = self.from {
            write!(f, " from {from}")?;
        }
        Ok(())
    }
}

/// Why a `UDP_CHECK` probe failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum UdpFailure {
    #[error("UDP reply of {len} bytes is shorter than min_reply_length {min}")]
    TooShort { len: usize, min: usize },
    #[error("UDP reply of {len} bytes is longer than max_reply_length {max}")]
    TooLong { len: usize, max: usize },
    /// `at` counts from 0.
    #[error(
        "UDP reply differs from require_reply at byte {at} (got {got:02x}, want {})",
        show_pattern_octet(*.want, *.ignored)
    )]
    Differs {
        at: usize,
        got: u8,
        want: u8,
        ignored: u8,
    },
    #[error("{0}")]
    Unreachable(IcmpError),
    #[error("no UDP reply: {0}")]
    IcmpInsteadOfReply(IcmpError),
    #[error("no UDP reply within {} s", .after.as_secs_f64())]
    NoReply { after: Duration },
    #[error("UDP socket error: {0}")]
    Socket(String),
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::net::{Ipv4Addr, Ipv6Addr};

    fn rule(require_reply: Option<&str>, min: Option<u32>, max: Option<u32>) -> ReplyRule {
        ReplyRule::from_config(&UdpCheck {
            payload: None,
            require_reply: require_reply.map(str::to_string),
            min_reply_length: min,
            max_reply_length: max,
        })
        .unwrap()
    }

    const SECS3: Duration = Duration::from_secs(3);

    #[test]
    fn defaults() {
        let r = rule(None, None, None);
        assert_eq!(r.payload(), DEFAULT_PAYLOAD);
        assert_eq!(r.payload().len(), 32);
        assert!(!r.require_reply());
        assert_eq!((r.min_reply_length(), r.max_reply_length()), (0, 255));
        let r = rule(Some(""), None, None);
        assert!(r.require_reply());
        assert_eq!(r.pattern(), None);
    }

    #[test]
    fn payload_from_config() {
        let mut c = UdpCheck {
            payload: Some(vec![0xde, 0xad]),
            ..UdpCheck::default()
        };
        assert_eq!(ReplyRule::from_config(&c).unwrap().payload(), [0xde, 0xad]);
        c.payload = Some(Vec::new());
        assert_eq!(
            ReplyRule::from_config(&c).unwrap().payload(),
            DEFAULT_PAYLOAD
        );
    }

    #[test]
    fn pattern_parse() {
        // The man page's example after the config parser's normalisation.
        let p = ReplyPattern::parse("ab120f03450654644312 03".replace(' ', "").as_str()).unwrap();
        assert_eq!(
            p.bytes(),
            [0xab, 0x12, 0x0f, 0x03, 0x45, 0x06, 0x54, 0x64, 0x43, 0x12, 0x03]
        );
        assert!(p.mask().iter().all(|&m| m == 0));
        let p = ReplyPattern::parse("4xx2XX").unwrap();
        assert_eq!(p.bytes(), [0x40, 0x02, 0x00]);
        assert_eq!(p.mask(), [0x0f, 0xf0, 0xff]);
        // A lone last digit is an octet of its own, as keepalived reads it.
        let p = ReplyPattern::parse("123").unwrap();
        assert_eq!(p.bytes(), [0x12, 0x03]);
        for bad in ["zz", "12 34", "0g"] {
            let e = ReplyPattern::parse(bad).unwrap_err();
            assert!(e.to_string().starts_with(&format!("require_reply '{bad}'")));
        }
        let c = UdpCheck {
            require_reply: Some("q".into()),
            ..UdpCheck::default()
        };
        assert!(ReplyRule::from_config(&c).is_err());
    }

    #[test]
    fn matches_compares_the_shorter() {
        let r = rule(Some("0102030405"), None, None);
        assert_eq!(r.matches(&[1, 2, 3, 4, 5]), Ok(()));
        // A reply shorter than the pattern is compared over its own length only.
        assert_eq!(r.matches(&[1, 2]), Ok(()));
        assert_eq!(r.matches(&[]), Ok(()));
        // And a longer one over the pattern's.
        assert_eq!(r.matches(&[1, 2, 3, 4, 5, 99, 99]), Ok(()));
        let e = r.matches(&[1, 2, 9, 4, 5]).unwrap_err();
        assert_eq!(
            e,
            UdpFailure::Differs {
                at: 2,
                got: 9,
                want: 3,
                ignored: 0
            }
        );
        assert_eq!(
            e.to_string(),
            "UDP reply differs from require_reply at byte 2 (got 09, want 03)"
        );
    }

    #[test]
    fn matches_ignores_x_nibbles() {
        let r = rule(Some("4x0xx1"), None, None);
        assert_eq!(r.matches(&[0x4f, 0x0a, 0x31]), Ok(()));
        assert_eq!(r.matches(&[0x40, 0x00, 0x01]), Ok(()));
        let e = r.matches(&[0x5f, 0x0a, 0x31]).unwrap_err();
        assert_eq!(
            e.to_string(),
            "UDP reply differs from require_reply at byte 0 (got 5f, want 4x)"
        );
        let e = r.matches(&[0x4f, 0x0a, 0x32]).unwrap_err();
        assert!(matches!(e, UdpFailure::Differs { at: 2, .. }));
        assert!(e.to_string().ends_with("(got 32, want x1)"));
    }

    #[test]
    fn matches_length_limits() {
        let r = rule(Some("00"), Some(4), None);
        let e = r.matches(&[0, 0, 0]).unwrap_err();
        assert_eq!(
            e.to_string(),
            "UDP reply of 3 bytes is shorter than min_reply_length 4"
        );
        assert_eq!(r.matches(&[0; 4]), Ok(()));
        assert_eq!(r.matches(&[0; 255]), Ok(()));
        let e = r.matches(&[0; 256]).unwrap_err();
        assert_eq!(
            e.to_string(),
            "UDP reply of 256 bytes is longer than max_reply_length 255"
        );
        let r = rule(Some("00"), Some(2), Some(2));
        assert_eq!(r.matches(&[0, 7]), Ok(()));
        assert!(r.matches(&[0, 7, 7]).is_err());
        // min above max: keepalived warns at load and the check always fails.
        let r = rule(Some("00"), Some(10), Some(5));
        assert!((0..20).all(|n| r.matches(&vec![0; n]).is_err()));
        // Lengths are checked before content, as keepalived does.
        let r = rule(Some("ff"), Some(2), None);
        assert!(matches!(r.matches(&[0]), Err(UdpFailure::TooShort { .. })));
    }

    #[test]
    fn judge_without_require_reply() {
        let r = rule(None, Some(10), Some(10));
        // Silence is success; any datagram is success, its content and length unread.
        assert_eq!(r.judge(&UdpOutcome::Timeout(SECS3)), Ok(()));
        assert_eq!(r.judge(&UdpOutcome::Reply(vec![])), Ok(()));
        assert_eq!(r.judge(&UdpOutcome::Reply(vec![1; 999])), Ok(()));
        let pu = IcmpError::port_unreachable(IpAddr::V4(Ipv4Addr::new(10, 0, 0, 2)));
        let e = r.judge(&UdpOutcome::IcmpError(pu)).unwrap_err();
        assert_eq!(e.to_string(), "ICMP port unreachable from 10.0.0.2");
        // Any destination-unreachable code fails.
        let host = IcmpError {
            version: IcmpVersion::V4,
            icmp_type: 3,
            code: 1,
            from: Some(IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1))),
        };
        let e = r.judge(&UdpOutcome::IcmpError(host)).unwrap_err();
        assert_eq!(e.to_string(), "ICMP host unreachable from 10.0.0.1");
        // Other ICMP errors end the wait as if nothing came.
        let ttl = IcmpError {
            version: IcmpVersion::V4,
            icmp_type: 11,
            code: 0,
            from: None,
        };
        assert_eq!(r.judge(&UdpOutcome::IcmpError(ttl)), Ok(()));
        let e = r
            .judge(&UdpOutcome::SocketError("Network is unreachable".into()))
            .unwrap_err();
        assert_eq!(e.to_string(), "UDP socket error: Network is unreachable");
    }

    #[test]
    fn judge_with_require_reply() {
        let r = rule(Some(""), Some(4), Some(8));
        let e = r.judge(&UdpOutcome::Timeout(SECS3)).unwrap_err();
        assert_eq!(e.to_string(), "no UDP reply within 3 s");
        let e = r
            .judge(&UdpOutcome::Timeout(Duration::from_millis(2500)))
            .unwrap_err();
        assert_eq!(e.to_string(), "no UDP reply within 2.5 s");
        // No pattern: keepalived skips check_udp_reply, so the lengths go unchecked.
        assert_eq!(r.judge(&UdpOutcome::Reply(vec![1])), Ok(()));
        assert_eq!(r.judge(&UdpOutcome::Reply(vec![1; 300])), Ok(()));
        let ttl = IcmpError {
            version: IcmpVersion::V6,
            icmp_type: 3,
            code: 0,
            from: Some(IpAddr::V6(Ipv6Addr::new(0xfd00, 0, 0, 0, 0, 0, 0, 1))),
        };
        let e = r.judge(&UdpOutcome::IcmpError(ttl)).unwrap_err();
        assert_eq!(
            e.to_string(),
            "no UDP reply: ICMPv6 time exceeded from fd00::1"
        );

        let r = rule(Some("cafe"), Some(4), Some(8));
        assert_eq!(r.judge(&UdpOutcome::Reply(vec![0xca, 0xfe, 0, 0])), Ok(()));
        assert!(matches!(
            r.judge(&UdpOutcome::Reply(vec![0xca, 0xfe])),
            Err(UdpFailure::TooShort { len: 2, min: 4 })
        ));
        assert!(matches!(
            r.judge(&UdpOutcome::Reply(vec![0xca, 0xff, 0, 0])),
            Err(UdpFailure::Differs { at: 1, .. })
        ));
        let pu = IcmpError::port_unreachable(IpAddr::V6(Ipv6Addr::LOCALHOST));
        let e = r.judge(&UdpOutcome::IcmpError(pu)).unwrap_err();
        assert_eq!(e.to_string(), "ICMPv6 port unreachable from ::1");
    }

    #[test]
    fn icmp_words() {
        let e = |version, icmp_type, code| {
            IcmpError {
                version,
                icmp_type,
                code,
                from: None,
            }
            .to_string()
        };
        assert_eq!(
            e(IcmpVersion::V4, 3, 15),
            "ICMP destination unreachable (code 15)"
        );
        assert_eq!(e(IcmpVersion::V4, 99, 1), "ICMP type 99 code 1");
        assert_eq!(e(IcmpVersion::V6, 1, 0), "ICMPv6 no route to destination");
        assert_eq!(e(IcmpVersion::V6, 1, 3), "ICMPv6 address unreachable");
        assert_eq!(
            e(IcmpVersion::V6, 1, 9),
            "ICMPv6 destination unreachable (code 9)"
        );
    }

    proptest! {
        #[test]
        fn matches_never_panics(
            pattern in "[0-9a-fxX]{0,24}",
            min in proptest::option::of(0u32..70_000),
            max in proptest::option::of(0u32..70_000),
            reply in proptest::collection::vec(any::<u8>(), 0..400),
        ) {
            let r = rule(Some(&pattern), min, max);
            let _ = r.matches(&reply).map_err(|e| e.to_string());
            let _ = r.judge(&UdpOutcome::Reply(reply)).map_err(|e| e.to_string());
        }

        #[test]
        fn pattern_matches_its_own_bytes_and_wildcards_match_anything(
            reply in proptest::collection::vec(any::<u8>(), 0..255),
        ) {
            let exact: String = reply.iter().map(|b| format!("{b:02x}")).collect();
            prop_assert_eq!(rule(Some(&exact), None, None).matches(&reply), Ok(()));
            let wild = "x".repeat(reply.len() * 2);
            prop_assert_eq!(rule(Some(&wild), None, None).matches(&reply), Ok(()));
        }
    }
}
