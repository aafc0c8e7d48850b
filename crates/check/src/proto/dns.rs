//! `DNS_CHECK`: the query keepalived sends and how it judges the answer.
//!
//! keepalived 2.2.7 (`keepalived/check/check_dns.c`):
//!
//! - The query (`dns_make_query`) is a bare RFC 1035 message: a random ID, flags with
//!   only RD set (0x0100), one question, no answer/authority/additional records and so
//!   no EDNS OPT record. The question is `name` (default `.`) with `type` (default
//!   SOA) and class IN. Labels are copied byte for byte, case kept, no `\` escapes.
//! - The answer (`dns_recv_thread`) passes when its ID equals the query's, QR is set
//!   and RCODE is 0. Nothing else is read: not ANCOUNT (an empty NOERROR answer
//!   passes), not the question section, not TC, AA or the opcode.
//! - A datagram that is too short, carries another ID or is not a response is dropped
//!   and the checker keeps waiting for the rest of `connect_timeout`; only a non-zero
//!   RCODE ends the check at once. [`DnsFailure::keeps_waiting`] tells a probe which.
//!
//! ```text
//! header:   ID(2) flags(2) QDCOUNT(2) ANCOUNT(2) NSCOUNT(2) ARCOUNT(2)
//! flags:    QR(1) OPCODE(4) AA(1) TC(1) RD(1) RA(1) Z(3) RCODE(4)
//! question: QNAME (length-prefixed labels, then 0) QTYPE(2) QCLASS(2)
//! ```
use keepup_config::model::lvs::DnsCheck;
use std::fmt;

/// Length of the fixed DNS header (RFC 1035 §4.1.1).
pub const HEADER_LEN: usize = 12;
/// The flags keepalived sends: RD only.
pub const QUERY_FLAGS: u16 = FLAG_RD;
/// Recursion desired.
pub const FLAG_RD: u16 = 0x0100;
/// Query/response bit: set in a response.
pub const FLAG_QR: u16 = 0x8000;
/// Class IN.
pub const CLASS_IN: u16 = 1;
/// Longest label (RFC 1035 §2.3.4).
pub const MAX_LABEL_LEN: usize = 63;
/// Longest name in wire form, length octets and the root included (RFC 1035 §2.3.4).
pub const MAX_NAME_LEN: usize = 255;
/// keepalived's default `name`.
pub const DEFAULT_NAME: &str = ".";

mod field {
    use std::ops::Range;
    pub const ID: Range<usize> = 0..2;
    pub const FLAGS: Range<usize> = 2..4;
    pub const QDCOUNT: Range<usize> = 4..6;
    pub const ANCOUNT: Range<usize> = 6..8;
    pub const NSCOUNT: Range<usize> = 8..10;
    pub const ARCOUNT: Range<usize> = 10..12;
}

/// A view over the fixed header at the start of a DNS message.
#[derive(Debug, Clone)]
pub struct Header<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Header<T> {
    /// Wrap and check that the 12 header octets are there; after this no accessor
    /// can panic.
    pub fn new_checked(buffer: T) -> Result<Header<T>, DnsFailure> {
        let len = buffer.as_ref().len();
        if len < HEADER_LEN {
            return Err(DnsFailure::TooShort { len });
        }
        Ok(Header { buffer })
    }

    fn be16(&self, r: std::ops::Range<usize>) -> u16 {
        // In range after `new_checked`; the fallback only keeps this panic-free.
        match self.buffer.as_ref().get(r) {
            Some(&[hi, lo]) => u16::from_be_bytes([hi, lo]),
            _ => 0,
        }
    }
    pub fn id(&self) -> u16 {
        self.be16(field::ID)
    }
    pub fn flags(&self) -> u16 {
        self.be16(field::FLAGS)
    }
    pub fn is_response(&self) -> bool {
        self.flags() & FLAG_QR != 0
    }
    /// The 4-bit header RCODE (no EDNS extension: keepalived sends no OPT record).
    pub fn rcode(&self) -> u8 {
        // Masked to 4 bits, so the cast cannot lose anything.
        (self.flags() & 0x000f) as u8
    }
    pub fn qdcount(&self) -> u16 {
        self.be16(field::QDCOUNT)
    }
    pub fn ancount(&self) -> u16 {
        self.be16(field::ANCOUNT)
    }
    pub fn nscount(&self) -> u16 {
        self.be16(field::NSCOUNT)
    }
    pub fn arcount(&self) -> u16 {
        self.be16(field::ARCOUNT)
    }
}

/// The query types keepalived's `type` keyword accepts (`DNS_TYPE[]` in
/// check_dns.c; the man page lists only the first seven).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum QueryType {
    A,
    Ns,
    Cname,
    Soa,
    Mx,
    Txt,
    Aaaa,
    Rrsig,
    Dnskey,
}

impl QueryType {
    /// Every accepted type, in keepalived's order.
    pub const ALL: [QueryType; 9] = [
        QueryType::A,
        QueryType::Ns,
        QueryType::Cname,
        QueryType::Soa,
        QueryType::Mx,
        QueryType::Txt,
        QueryType::Aaaa,
        QueryType::Rrsig,
        QueryType::Dnskey,
    ];

    /// The RR type number on the wire (RFC 1035 §3.2.2, RFC 3596, RFC 4034).
    pub fn code(self) -> u16 {
        match self {
            QueryType::A => 1,
            QueryType::Ns => 2,
            QueryType::Cname => 5,
            QueryType::Soa => 6,
            QueryType::Mx => 15,
            QueryType::Txt => 16,
            QueryType::Aaaa => 28,
            QueryType::Rrsig => 46,
            QueryType::Dnskey => 48,
        }
    }

    /// The mnemonic as written in keepalived.conf.
    pub fn name(self) -> &'static str {
        match self {
            QueryType::A => "A",
            QueryType::Ns => "NS",
            QueryType::Cname => "CNAME",
            QueryType::Soa => "SOA",
            QueryType::Mx => "MX",
            QueryType::Txt => "TXT",
            QueryType::Aaaa => "AAAA",
            QueryType::Rrsig => "RRSIG",
            QueryType::Dnskey => "DNSKEY",
        }
    }

    /// Look up a mnemonic the way keepalived does (`strcasecmp`).
    pub fn from_name(s: &str) -> Option<QueryType> {
        QueryType::ALL
            .into_iter()
            .find(|t| t.name().eq_ignore_ascii_case(s))
    }
}

impl Default for QueryType {
    /// keepalived's `DNS_DEFAULT_TYPE`.
    fn default() -> Self {
        QueryType::Soa
    }
}

impl fmt::Display for QueryType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Why a `DNS_CHECK` block cannot become a query.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DnsConfigError {
    #[error("unknown DNS_CHECK type '{given}'; accepted: {}", accepted_types())]
    UnknownType { given: String },
    #[error("DNS_CHECK name '{name}' has an empty label")]
    EmptyLabel { name: String },
    #[error("DNS_CHECK name '{name}' has a label of {len} bytes; a label holds at most 63")]
    LabelTooLong { name: String, len: usize },
    #[error("DNS_CHECK name '{name}' is {len} bytes on the wire; a name holds at most 255")]
    NameTooLong { name: String, len: usize },
}

fn accepted_types() -> String {
    QueryType::ALL
        .iter()
        .map(|t| t.name())
        .collect::<Vec<_>>()
        .join(", ")
}

/// The question a `DNS_CHECK` asks, with its name already in wire form so that
/// [`DnsQuery::encode`] cannot fail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DnsQuery {
    qtype: QueryType,
    name: String,
    wire_name: Vec<u8>,
}

impl DnsQuery {
    /// Build from a type and a name as written in the config (`.` for the root; a
    /// trailing dot is optional).
    pub fn new(qtype: QueryType, name: &str) -> Result<DnsQuery, DnsConfigError> {
        Ok(DnsQuery {
            qtype,
            name: name.to_string(),
            wire_name: encode_name(name)?,
        })
    }

    /// Build from the parsed `DNS_CHECK` block, with keepalived's defaults (SOA, `.`).
    pub fn from_config(c: &DnsCheck) -> Result<DnsQuery, DnsConfigError> {
        let qtype = match &c.qtype {
            None => QueryType::default(),
            Some(s) => QueryType::from_name(s)
                .ok_or_else(|| DnsConfigError::UnknownType { given: s.clone() })?,
        };
        DnsQuery::new(qtype, c.name.as_deref().unwrap_or(DEFAULT_NAME))
    }

    pub fn qtype(&self) -> QueryType {
        self.qtype
    }

    /// The name as configured.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Length of the encoded query.
    pub fn buffer_len(&self) -> usize {
        HEADER_LEN + self.wire_name.len() + 4
    }

    /// The query datagram. `id` is the caller's: randomness is an input here, as the
    /// clock is elsewhere, so tests can fix it.
    pub fn encode(&self, id: u16) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.buffer_len());
        out.extend_from_slice(&id.to_be_bytes());
        out.extend_from_slice(&QUERY_FLAGS.to_be_bytes());
        out.extend_from_slice(&1u16.to_be_bytes()); // QDCOUNT
        out.extend_from_slice(&[0; 6]); // ANCOUNT, NSCOUNT, ARCOUNT
        out.extend_from_slice(&self.wire_name);
        out.extend_from_slice(&self.qtype.code().to_be_bytes());
        out.extend_from_slice(&CLASS_IN.to_be_bytes());
        out
    }
}

/// `name` in wire form. keepalived refuses empty labels at config time but writes a
/// long label's length into one octet unchecked (a label over 63 would read as a
/// compression pointer); here both limits of RFC 1035 §2.3.4 are config errors.
fn encode_name(name: &str) -> Result<Vec<u8>, DnsConfigError> {
    if name == "." {
        return Ok(vec![0]);
    }
    // One trailing dot marks the name as absolute; it adds no label.
    let body = name.strip_suffix('.').unwrap_or(name);
    let mut out = Vec::with_capacity(body.len() + 2);
    for label in body.split('.') {
        let len = label.len();
        if len == 0 {
            return Err(DnsConfigError::EmptyLabel {
                name: name.to_string(),
            });
        }
        if len > MAX_LABEL_LEN {
            return Err(DnsConfigError::LabelTooLong {
                name: name.to_string(),
                len,
            });
        }
        // At most 63 here, so the length fits its octet.
        out.push(len as u8);
        out.extend_from_slice(label.as_bytes());
    }
    out.push(0);
    if out.len() > MAX_NAME_LEN {
        return Err(DnsConfigError::NameTooLong {
            name: name.to_string(),
            len: out.len(),
        });
    }
    Ok(out)
}

/// Why a datagram did not pass the check.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DnsFailure {
    /// Shorter than a DNS header.
    #[error("DNS reply too short ({len} bytes)")]
    TooShort { len: usize },
    /// Not the answer to our query (a late answer to an earlier one, or spoofed).
    #[error("DNS reply ID {got:#06x} does not match the query's {want:#06x}")]
    IdMismatch { got: u16, want: u16 },
    /// A query, not a response (QR 0), e.g. our own datagram looped back.
    #[error("DNS reply is not a response (QR 0)")]
    NotResponse,
    /// The server answered with an error.
    #[error("DNS RCODE {} ({rcode}) for {qtype} {name}", rcode_name(*.rcode))]
    Rcode {
        rcode: u8,
        qtype: QueryType,
        name: String,
    },
}

impl DnsFailure {
    /// True when keepalived drops this datagram and goes on waiting for another
    /// until the timeout; false when the check fails now.
    pub fn keeps_waiting(&self) -> bool {
        !matches!(self, DnsFailure::Rcode { .. })
    }
}

/// The mnemonic of a 4-bit RCODE (IANA "DNS RCODEs"; 11 is DSOTYPENI, RFC 8490).
pub fn rcode_name(rcode: u8) -> &'static str {
    match rcode {
        0 => "NOERROR",
        1 => "FORMERR",
        2 => "SERVFAIL",
        3 => "NXDOMAIN",
        4 => "NOTIMP",
        5 => "REFUSED",
        6 => "YXDOMAIN",
        7 => "YXRRSET",
        8 => "NXRRSET",
        9 => "NOTAUTH",
        10 => "NOTZONE",
        11 => "DSOTYPENI",
        _ => "unassigned",
    }
}

/// Judge one received datagram against the query sent with `id`, as keepalived's
/// `dns_recv_thread` does: ID, then QR, then RCODE; the rest of the message is not
/// read. `query` only names the question in an RCODE failure.
///
/// keepalived's length test compares with `sizeof` a pointer (8 on 64-bit) rather
/// than the 12-byte header; a datagram of 8 to 11 bytes cannot be a DNS message, so
/// here it is dropped as too short rather than judged.
pub fn judge(query: &DnsQuery, id: u16, reply: &[u8]) -> Result<(), DnsFailure> {
    let h = Header::new_checked(reply)?;
    if h.id() != id {
        return Err(DnsFailure::IdMismatch {
            got: h.id(),
            want: id,
        });
    }
    if !h.is_response() {
        return Err(DnsFailure::NotResponse);
    }
    match h.rcode() {
        0 => Ok(()),
        rcode => Err(DnsFailure::Rcode {
            rcode,
            qtype: query.qtype,
            name: query.name.clone(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn hex(s: &str) -> Vec<u8> {
        let s: String = s.split_whitespace().collect();
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    fn root_soa() -> DnsQuery {
        DnsQuery::from_config(&DnsCheck::default()).unwrap()
    }

    /// A reply header: `id`, `flags`, QDCOUNT 1 and `an` answers, then `rest`.
    fn reply(id: u16, flags: u16, an: u16, rest: &[u8]) -> Vec<u8> {
        let mut v = Vec::new();
        v.extend_from_slice(&id.to_be_bytes());
        v.extend_from_slice(&flags.to_be_bytes());
        v.extend_from_slice(&[0, 1]);
        v.extend_from_slice(&an.to_be_bytes());
        v.extend_from_slice(&[0, 0, 0, 0]);
        v.extend_from_slice(rest);
        v
    }

    // Fixtures laid out by hand from RFC 1035 §4.1, following what keepalived's
    // dns_make_query writes for the same config: RD only, QDCOUNT 1, no OPT record.
    // (Not captured from a running keepalived.)

    #[test]
    fn encode_root_soa() {
        let q = root_soa();
        assert_eq!(q.qtype(), QueryType::Soa);
        assert_eq!(q.name(), ".");
        let want = hex("1234 0100 0001 0000 0000 0000  00  0006 0001");
        assert_eq!(q.encode(0x1234), want);
        assert_eq!(q.buffer_len(), want.len());
    }

    #[test]
    fn encode_example_com_a() {
        let c = DnsCheck {
            qtype: Some("a".into()),
            name: Some("example.com.".into()),
        };
        let q = DnsQuery::from_config(&c).unwrap();
        let want = hex("abcd 0100 0001 0000 0000 0000
             07 6578616d706c65 03 636f6d 00  0001 0001");
        assert_eq!(q.encode(0xabcd), want);
    }

    #[test]
    fn trailing_dot_is_optional() {
        let a = DnsQuery::new(QueryType::Aaaa, "www.example.com").unwrap();
        let b = DnsQuery::new(QueryType::Aaaa, "www.example.com.").unwrap();
        assert_eq!(a.encode(7), b.encode(7));
    }

    #[test]
    fn case_is_kept() {
        let q = DnsQuery::new(QueryType::Mx, "ExAmple").unwrap();
        assert_eq!(&q.encode(0)[12..21], b"\x07ExAmple\x00");
    }

    #[test]
    fn type_names_and_codes() {
        let codes: Vec<u16> = QueryType::ALL.iter().map(|t| t.code()).collect();
        assert_eq!(codes, [1, 2, 5, 6, 15, 16, 28, 46, 48]);
        for t in QueryType::ALL {
            assert_eq!(QueryType::from_name(&t.name().to_lowercase()), Some(t));
        }
        assert_eq!(QueryType::from_name("PTR"), None);
    }

    #[test]
    fn unknown_type_lists_accepted() {
        let c = DnsCheck {
            qtype: Some("PTR".into()),
            name: None,
        };
        let e = DnsQuery::from_config(&c).unwrap_err();
        assert_eq!(
            e.to_string(),
            "unknown DNS_CHECK type 'PTR'; accepted: A, NS, CNAME, SOA, MX, TXT, AAAA, RRSIG, DNSKEY"
        );
    }

    #[test]
    fn name_limits() {
        let l63 = "a".repeat(63);
        assert!(DnsQuery::new(QueryType::A, &l63).is_ok());
        let l64 = "a".repeat(64);
        assert_eq!(
            DnsQuery::new(QueryType::A, &l64),
            Err(DnsConfigError::LabelTooLong {
                name: l64.clone(),
                len: 64
            })
        );
        let l300 = "a".repeat(300);
        assert!(matches!(
            DnsQuery::new(QueryType::A, &l300),
            Err(DnsConfigError::LabelTooLong { len: 300, .. })
        ));
        // 4 labels of 63: 4 * 64 + 1 = 257 octets; 3 of 63 and one of 61: 255.
        let long = [l63.as_str(); 4].join(".");
        assert!(matches!(
            DnsQuery::new(QueryType::A, &long),
            Err(DnsConfigError::NameTooLong { len: 257, .. })
        ));
        let max = format!("{0}.{0}.{0}.{1}.", l63, "b".repeat(61));
        assert_eq!(
            DnsQuery::new(QueryType::A, &max).unwrap().buffer_len(),
            12 + 255 + 4
        );
        for bad in ["", "..", ".com", "a..b", "com.."] {
            assert!(
                matches!(
                    DnsQuery::new(QueryType::A, bad),
                    Err(DnsConfigError::EmptyLabel { .. })
                ),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn judge_ok() {
        let q = root_soa();
        // NOERROR with one answer, RA set, the question and an answer after the header.
        let r = reply(0x1234, 0x8180, 1, &hex("00 0006 0001 c00c"));
        assert_eq!(judge(&q, 0x1234, &r), Ok(()));
    }

    #[test]
    fn judge_ok_without_answer_or_question() {
        // keepalived reads neither ANCOUNT nor the question: a bare NOERROR header passes.
        let q = root_soa();
        assert_eq!(judge(&q, 1, &reply(1, 0x8000, 0, &[])), Ok(()));
        // Nor TC, AA or the opcode.
        assert_eq!(judge(&q, 1, &reply(1, 0xfef0, 0, &[])), Ok(()));
    }

    #[test]
    fn judge_wrong_id() {
        let e = judge(&root_soa(), 0x4321, &reply(0x1234, 0x8180, 1, &[])).unwrap_err();
        assert_eq!(
            e.to_string(),
            "DNS reply ID 0x1234 does not match the query's 0x4321"
        );
        assert!(e.keeps_waiting());
    }

    #[test]
    fn judge_query_not_response() {
        let q = root_soa();
        let e = judge(&q, 9, &q.encode(9)).unwrap_err();
        assert_eq!(e, DnsFailure::NotResponse);
        assert_eq!(e.to_string(), "DNS reply is not a response (QR 0)");
        assert!(e.keeps_waiting());
    }

    #[test]
    fn judge_each_rcode() {
        let q = DnsQuery::new(QueryType::A, "example.com").unwrap();
        for rcode in 1..=15u16 {
            let e = judge(&q, 5, &reply(5, 0x8180 | rcode, 0, &[])).unwrap_err();
            assert!(!e.keeps_waiting());
            assert!(matches!(e, DnsFailure::Rcode { rcode: r, .. } if u16::from(r) == rcode));
        }
        let e = judge(&q, 5, &reply(5, 0x8182, 0, &[])).unwrap_err();
        assert_eq!(e.to_string(), "DNS RCODE SERVFAIL (2) for A example.com");
        let e = judge(&q, 5, &reply(5, 0x8183, 0, &[])).unwrap_err();
        assert_eq!(e.to_string(), "DNS RCODE NXDOMAIN (3) for A example.com");
        let e = judge(&q, 5, &reply(5, 0x818c, 0, &[])).unwrap_err();
        assert_eq!(e.to_string(), "DNS RCODE unassigned (12) for A example.com");
    }

    #[test]
    fn judge_truncated() {
        let q = root_soa();
        let full = reply(3, 0x8180, 0, &[]);
        for n in 0..HEADER_LEN {
            let e = judge(&q, 3, &full[..n]).unwrap_err();
            assert_eq!(e, DnsFailure::TooShort { len: n });
            assert!(e.keeps_waiting());
        }
        assert_eq!(
            DnsFailure::TooShort { len: 5 }.to_string(),
            "DNS reply too short (5 bytes)"
        );
        assert_eq!(judge(&q, 3, &full), Ok(()));
    }

    #[test]
    fn header_view() {
        let r = reply(0xbeef, 0x8183, 2, &[]);
        let h = Header::new_checked(&r[..]).unwrap();
        assert_eq!(
            (h.id(), h.is_response(), h.rcode(), h.qdcount(), h.ancount()),
            (0xbeef, true, 3, 1, 2)
        );
        assert_eq!((h.nscount(), h.arcount()), (0, 0));
    }

    proptest! {
        #[test]
        fn judge_never_panics(id in any::<u16>(), bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
            let q = root_soa();
            match judge(&q, id, &bytes) {
                Ok(()) => {
                    prop_assert!(bytes.len() >= HEADER_LEN);
                    prop_assert_eq!(u16::from_be_bytes([bytes[0], bytes[1]]), id);
                }
                Err(e) => { let _ = e.to_string(); }
            }
        }

        #[test]
        fn encode_has_one_question(id in any::<u16>(), labels in proptest::collection::vec("[a-z0-9-]{1,63}", 1..4)) {
            let name = labels.join(".");
            let q = DnsQuery::new(QueryType::Txt, &name).unwrap();
            let b = q.encode(id);
            let h = Header::new_checked(&b[..]).unwrap();
            prop_assert_eq!((h.id(), h.flags(), h.qdcount()), (id, QUERY_FLAGS, 1));
            prop_assert_eq!(b.len(), 12 + name.len() + 2 + 4);
        }
    }
}
