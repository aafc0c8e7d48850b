//! Why a run failed, in a few words a metric can carry: the reason's text is for
//! people and the log, the kind is for counting (`lvs_checker_failures_total{reason}`).
//! Each failure is classified where it happens, not read back from its text.
use std::fmt;

use serde::de::{MapAccess, Visitor};
use serde::ser::SerializeMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The kind of a failed run. Few and fixed: each is a label value, so a new one is a
/// new series on every checker.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum FailKind {
    /// The checker cannot run as configured: no address or port to connect to, no
    /// `url`, no `misc_path` or `track_file`, a `user` that does not exist, a TLS
    /// setting whose files do not load, a DNS name or UDP payload that does not
    /// build, `BFD_CHECK` (not implemented), or a socket this host will not open or
    /// bind. Nothing was sent to the server.
    Setup,
    /// The server could not be reached: the TCP connection failed (refused,
    /// unreachable, reset, no route), or an ICMP error (destination unreachable, time
    /// exceeded ...) answered a UDP or DNS datagram or an echo request.
    Connect,
    /// SSL_GET's TLS handshake failed (a certificate refused, no common cipher, the
    /// server closed).
    Tls,
    /// Sending or receiving failed after the connection was made (a reset or an
    /// error mid-dialog, a send the kernel refused).
    Network,
    /// The server answered, but not as configured: an HTTP status, digest or regex,
    /// an SMTP reply code or a dialog it broke off, a DNS RCODE, a UDP reply that
    /// differs from `require_reply` or is too short or long.
    Answer,
    /// No answer in time: the run's timeout passed (the scheduler cancelled it), or
    /// a probe's own wait ran out (no DNS answer, no echo reply, no UDP reply with
    /// `require_reply`, a MISC_CHECK script killed at `misc_timeout`).
    Timeout,
    /// MISC_CHECK's script failed: an exit status that fails, a signal, or it could
    /// not be started.
    Script,
    /// FILE_CHECK's `track_file` holds a value that takes the real server down.
    File,
}

impl FailKind {
    /// Every kind, in the order of [`FailKind::index`].
    pub const ALL: [FailKind; 8] = [
        FailKind::Setup,
        FailKind::Connect,
        FailKind::Tls,
        FailKind::Network,
        FailKind::Answer,
        FailKind::Timeout,
        FailKind::Script,
        FailKind::File,
    ];

    /// The label value; stable (dashboards and alerts name it).
    pub fn as_str(self) -> &'static str {
        match self {
            FailKind::Setup => "setup",
            FailKind::Connect => "connect",
            FailKind::Tls => "tls",
            FailKind::Network => "network",
            FailKind::Answer => "answer",
            FailKind::Timeout => "timeout",
            FailKind::Script => "script",
            FailKind::File => "file",
        }
    }

    /// The kind a label names.
    pub fn from_name(name: &str) -> Option<FailKind> {
        FailKind::ALL.into_iter().find(|k| k.as_str() == name)
    }

    /// Its place in [`FailKind::ALL`].
    pub fn index(self) -> usize {
        self as usize
    }
}

impl fmt::Display for FailKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A checker's failed runs by kind since start (a reload that keeps the checker
/// keeps them). Fixed and small, as 10,000 checkers each hold one, and the status
/// snapshot another: `u32` lasts 13 years of a failure every 0.1 s, and saturates
/// rather than wrap (a counter that went back would read as a restart).
///
/// Serialized as a map from the kind's name to its count, without the kinds at 0
/// (a status of 10,000 checkers stays short); a name this version does not know is
/// skipped when read.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Failures([u32; FailKind::ALL.len()]);

impl Failures {
    /// One more failure of `kind`.
    pub fn count(&mut self, kind: FailKind) {
        let n = &mut self.0[kind.index()];
        *n = n.saturating_add(1);
    }

    pub fn get(&self, kind: FailKind) -> u64 {
        u64::from(self.0[kind.index()])
    }

    /// Every kind with its count, 0 included, in [`FailKind::ALL`]'s order.
    pub fn iter(&self) -> impl Iterator<Item = (FailKind, u64)> + '_ {
        FailKind::ALL.into_iter().map(|k| (k, self.get(k)))
    }

    pub fn total(&self) -> u64 {
        self.0.iter().map(|&n| u64::from(n)).sum()
    }
}

impl Serialize for Failures {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let len = self.0.iter().filter(|&&n| n > 0).count();
        let mut m = s.serialize_map(Some(len))?;
        for (k, n) in self.iter().filter(|&(_, n)| n > 0) {
            m.serialize_entry(k.as_str(), &n)?;
        }
        m.end()
    }
}

impl<'de> Deserialize<'de> for Failures {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Failures, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Failures;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a map from a failure kind to its count")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Failures, A::Error> {
                let mut out = Failures::default();
                while let Some((name, n)) = map.next_entry::<String, u64>()? {
                    if let Some(k) = FailKind::from_name(&name) {
                        out.0[k.index()] = u32::try_from(n).unwrap_or(u32::MAX);
                    }
                }
                Ok(out)
            }
        }
        d.deserialize_map(V)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_distinct_lowercase_and_read_back() {
        for (i, k) in FailKind::ALL.into_iter().enumerate() {
            assert_eq!(k.index(), i, "{k}");
            assert_eq!(FailKind::from_name(k.as_str()), Some(k));
            assert!(k.as_str().chars().all(|c| c.is_ascii_lowercase()), "{k}");
        }
        assert_eq!(FailKind::from_name("refused"), None);
    }

    #[test]
    fn failures_count_and_round_trip_without_zeros() {
        let mut f = Failures::default();
        f.count(FailKind::Timeout);
        f.count(FailKind::Timeout);
        f.count(FailKind::Connect);
        assert_eq!(f.get(FailKind::Timeout), 2);
        assert_eq!(f.total(), 3);
        assert_eq!(f.iter().count(), FailKind::ALL.len());
        let json = serde_json::to_string(&f).expect("serializes");
        assert_eq!(json, r#"{"connect":1,"timeout":2}"#);
        let back: Failures = serde_json::from_str(&json).expect("reads back");
        assert_eq!(back, f);
        // A newer version's kind is skipped, not an error.
        let newer: Failures = serde_json::from_str(r#"{"timeout":2,"quantum":5}"#).expect("reads");
        assert_eq!(newer.get(FailKind::Timeout), 2);
        assert_eq!(newer.total(), 2);
    }

    #[test]
    fn a_count_saturates() {
        let mut f = Failures([u32::MAX; FailKind::ALL.len()]);
        f.count(FailKind::File);
        assert_eq!(f.get(FailKind::File), u64::from(u32::MAX));
    }
}
