//! Netlink framing by hand: `nlmsghdr`, `genlmsghdr` and `nlattr` (linux/netlink.h,
//! linux/genetlink.h), writing into a `Vec<u8>` and reading from a borrowed buffer.
//!
//! ```text
//!  0               1               2               3
//! +---------------+---------------+---------------+---------------+
//! |                          nlmsg_len (host order)               |
//! +---------------+---------------+---------------+---------------+
//! |          nlmsg_type           |          nlmsg_flags          |
//! +---------------+---------------+---------------+---------------+
//! |                          nlmsg_seq                            |
//! +---------------+---------------+---------------+---------------+
//! |                          nlmsg_pid                            |
//! +---------------+---------------+---------------+---------------+
//! |      cmd      |    version    |           reserved            |  genlmsghdr
//! +---------------+---------------+---------------+---------------+
//! |           nla_len             |    nla_type (NESTED bit 15)   |  attributes,
//! +---------------+---------------+---------------+---------------+  each padded
//! |  payload ...                                                  |  to 4 bytes
//! ```
//!
//! Netlink is host-endian; IPVS puts ports, IPv4 netmasks and groups in network order
//! inside their attributes (noted where they are written).
use super::DecodeError;

pub const NLMSG_HDRLEN: usize = 16;
pub const GENL_HDRLEN: usize = 4;
pub const NLA_HDRLEN: usize = 4;

pub const NLM_F_REQUEST: u16 = 0x1;
pub const NLM_F_MULTI: u16 = 0x2;
pub const NLM_F_ACK: u16 = 0x4;
pub const NLM_F_DUMP: u16 = 0x300;
/// On an NLMSG_ERROR: the request's payload is not echoed.
pub const NLM_F_CAPPED: u16 = 0x100;
/// On an NLMSG_ERROR or NLMSG_DONE: extended-ACK attributes follow.
pub const NLM_F_ACK_TLVS: u16 = 0x200;
/// A dump that raced with a change.
pub const NLM_F_DUMP_INTR: u16 = 0x10;

pub const NLMSG_NOOP: u16 = 1;
pub const NLMSG_ERROR: u16 = 2;
pub const NLMSG_DONE: u16 = 3;
/// Types below this are netlink's own control messages.
pub const NLMSG_MIN_TYPE: u16 = 16;

pub const NLA_F_NESTED: u16 = 1 << 15;
pub const NLA_F_NET_BYTEORDER: u16 = 1 << 14;
pub const NLA_TYPE_MASK: u16 = !(NLA_F_NESTED | NLA_F_NET_BYTEORDER);

/// NLMSGERR_ATTR_MSG: the extended ACK's text.
pub const NLMSGERR_ATTR_MSG: u16 = 1;

pub const fn align(n: usize) -> usize {
    (n + 3) & !3
}

/// Starts a message (header with a length to patch) and returns where it starts.
pub fn begin(out: &mut Vec<u8>, ty: u16, flags: u16, seq: u32, port_id: u32) -> usize {
    let start = out.len();
    out.extend_from_slice(&0u32.to_ne_bytes());
    out.extend_from_slice(&ty.to_ne_bytes());
    out.extend_from_slice(&flags.to_ne_bytes());
    out.extend_from_slice(&seq.to_ne_bytes());
    out.extend_from_slice(&port_id.to_ne_bytes());
    start
}

/// Appends a generic netlink header.
pub fn genl(out: &mut Vec<u8>, cmd: u8, version: u8) {
    out.extend_from_slice(&[cmd, version, 0, 0]);
}

/// Patches the length of the message begun at `start`.
pub fn end(out: &mut [u8], start: usize) {
    let len = (out.len() - start) as u32;
    out[start..start + 4].copy_from_slice(&len.to_ne_bytes());
}

/// Appends one attribute, padded to 4 bytes.
pub fn put(out: &mut Vec<u8>, ty: u16, data: &[u8]) {
    let len = (NLA_HDRLEN + data.len()) as u16;
    out.extend_from_slice(&len.to_ne_bytes());
    out.extend_from_slice(&ty.to_ne_bytes());
    out.extend_from_slice(data);
    out.resize(align(out.len()), 0);
}

pub fn put_u8(out: &mut Vec<u8>, ty: u16, v: u8) {
    put(out, ty, &[v]);
}

pub fn put_u16(out: &mut Vec<u8>, ty: u16, v: u16) {
    put(out, ty, &v.to_ne_bytes());
}

/// A u16 in network order (ports).
pub fn put_be16(out: &mut Vec<u8>, ty: u16, v: u16) {
    put(out, ty, &v.to_be_bytes());
}

pub fn put_u32(out: &mut Vec<u8>, ty: u16, v: u32) {
    put(out, ty, &v.to_ne_bytes());
}

/// A NUL-terminated string, as libnl's `nla_put_string`.
pub fn put_str(out: &mut Vec<u8>, ty: u16, s: &str) {
    let mut v = Vec::with_capacity(s.len() + 1);
    v.extend_from_slice(s.as_bytes());
    v.push(0);
    put(out, ty, &v);
}

/// Starts a nested attribute; `end_nest` patches its length.
pub fn begin_nest(out: &mut Vec<u8>, ty: u16) -> usize {
    let start = out.len();
    out.extend_from_slice(&0u16.to_ne_bytes());
    out.extend_from_slice(&(ty | NLA_F_NESTED).to_ne_bytes());
    start
}

pub fn end_nest(out: &mut [u8], start: usize) {
    let len = (out.len() - start) as u16;
    out[start..start + 2].copy_from_slice(&len.to_ne_bytes());
}

/// One netlink message header, read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    pub len: u32,
    pub ty: u16,
    pub flags: u16,
    pub seq: u32,
    pub port_id: u32,
}

fn u16_at(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_ne_bytes(b.get(at..at + 2)?.try_into().ok()?))
}

fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_ne_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

impl Header {
    /// Reads the header at the start of `b`, checking that the length it claims fits.
    pub fn parse(b: &[u8]) -> Result<Header, DecodeError> {
        let trunc = DecodeError::Truncated("netlink header");
        let h = Header {
            len: u32_at(b, 0).ok_or(trunc.clone())?,
            ty: u16_at(b, 4).ok_or(trunc.clone())?,
            flags: u16_at(b, 6).ok_or(trunc.clone())?,
            seq: u32_at(b, 8).ok_or(trunc.clone())?,
            port_id: u32_at(b, 12).ok_or(trunc)?,
        };
        let len = h.len as usize;
        if len < NLMSG_HDRLEN || len > b.len() {
            return Err(DecodeError::Length {
                what: "netlink message",
                len,
            });
        }
        Ok(h)
    }
}

/// Splits a buffer of back-to-back netlink messages: each item is one message
/// (header included). A length that does not fit ends the walk with an error.
pub struct Messages<'a> {
    buf: &'a [u8],
}

impl<'a> Messages<'a> {
    pub fn new(buf: &'a [u8]) -> Self {
        Messages { buf }
    }
}

impl<'a> Iterator for Messages<'a> {
    type Item = Result<(Header, &'a [u8]), DecodeError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.buf.is_empty() {
            return None;
        }
        match Header::parse(self.buf) {
            Ok(h) => {
                let len = h.len as usize;
                let msg = &self.buf[..len];
                let next = align(len).min(self.buf.len());
                self.buf = &self.buf[next..];
                Some(Ok((h, msg)))
            }
            Err(e) => {
                self.buf = &[];
                Some(Err(e))
            }
        }
    }
}

/// The attributes in a buffer: `(type without flag bits, payload)`. A length that
/// does not fit ends the walk with an error.
pub struct Attrs<'a> {
    buf: &'a [u8],
}

pub fn attrs(buf: &[u8]) -> Attrs<'_> {
    Attrs { buf }
}

impl<'a> Iterator for Attrs<'a> {
    type Item = Result<(u16, &'a [u8]), DecodeError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.buf.len() < NLA_HDRLEN {
            // Trailing padding shorter than a header is not an attribute.
            return None;
        }
        let len = u16_at(self.buf, 0).unwrap_or(0) as usize;
        let ty = u16_at(self.buf, 2).unwrap_or(0) & NLA_TYPE_MASK;
        if len < NLA_HDRLEN || len > self.buf.len() {
            self.buf = &[];
            return Some(Err(DecodeError::Length {
                what: "netlink attribute",
                len,
            }));
        }
        let payload = &self.buf[NLA_HDRLEN..len];
        let next = align(len).min(self.buf.len());
        self.buf = &self.buf[next..];
        Some(Ok((ty, payload)))
    }
}

/// Attribute payload readers; a wrong size is an error naming the attribute.
pub fn get_u8(what: &'static str, b: &[u8]) -> Result<u8, DecodeError> {
    match b {
        [v] => Ok(*v),
        _ => Err(DecodeError::AttrLen { what, len: b.len() }),
    }
}

pub fn get_u16(what: &'static str, b: &[u8]) -> Result<u16, DecodeError> {
    b.try_into()
        .map(u16::from_ne_bytes)
        .map_err(|_| DecodeError::AttrLen { what, len: b.len() })
}

pub fn get_be16(what: &'static str, b: &[u8]) -> Result<u16, DecodeError> {
    b.try_into()
        .map(u16::from_be_bytes)
        .map_err(|_| DecodeError::AttrLen { what, len: b.len() })
}

pub fn get_u32(what: &'static str, b: &[u8]) -> Result<u32, DecodeError> {
    b.try_into()
        .map(u32::from_ne_bytes)
        .map_err(|_| DecodeError::AttrLen { what, len: b.len() })
}

/// A counter: 64 bits in STATS64, 32 in STATS.
pub fn get_counter(what: &'static str, b: &[u8]) -> Result<u64, DecodeError> {
    match b.len() {
        8 => Ok(u64::from_ne_bytes(
            b.try_into()
                .map_err(|_| DecodeError::AttrLen { what, len: 8 })?,
        )),
        4 => get_u32(what, b).map(u64::from),
        len => Err(DecodeError::AttrLen { what, len }),
    }
}

pub fn get_i32(what: &'static str, b: &[u8]) -> Result<i32, DecodeError> {
    b.get(..4)
        .and_then(|b| b.try_into().ok())
        .map(i32::from_ne_bytes)
        .ok_or(DecodeError::AttrLen { what, len: b.len() })
}

/// A string, up to its first NUL (the kernel's are NUL-terminated).
pub fn get_str(what: &'static str, b: &[u8]) -> Result<String, DecodeError> {
    let end = b.iter().position(|&c| c == 0).unwrap_or(b.len());
    std::str::from_utf8(&b[..end])
        .map(str::to_owned)
        .map_err(|_| DecodeError::Utf8(what))
}
