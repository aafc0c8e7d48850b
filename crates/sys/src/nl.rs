//! A small rtnetlink transport: one request, its replies up to the ACK or NLMSG_DONE.
//!
//! Messages are typed by netlink-packet-route; the socket is netlink-sys. The same
//! reply parser serves the async socket of `Netlink` and the blocking one `Monitor`
//! uses for its snapshots.

use std::io;

use netlink_packet_core::{
    NetlinkBuffer, NetlinkHeader, NetlinkMessage, NetlinkPayload, NLMSG_DONE, NLMSG_ERROR,
    NLM_F_ACK_TLVS, NLM_F_CAPPED, NLM_F_DUMP_INTR,
};
use netlink_packet_route::RouteNetlinkMessage;
use netlink_sys::{protocols::NETLINK_ROUTE, Socket, SocketAddr};

use crate::Error;

/// Receive buffer: the kernel's dump chunks are at most 32 KiB.
pub(crate) const RECV_BUF: usize = 65_536;

/// NLMSGERR_ATTR_MSG: the extended ACK's text.
const NLMSGERR_ATTR_MSG: u16 = 1;

/// Why a request failed.
#[derive(Debug)]
pub(crate) enum Fail {
    /// The kernel said no: errno (positive) and its extended-ACK text if any.
    Kernel(i32, Option<String>),
    /// A dump raced with a change (NLM_F_DUMP_INTR); ask again.
    Interrupted,
    Io(io::Error),
}

impl Fail {
    pub(crate) fn errno(&self) -> Option<i32> {
        match self {
            Fail::Kernel(e, _) => Some(*e),
            _ => None,
        }
    }

    /// Into the crate's error, saying what was being done.
    pub(crate) fn into_error(self, what: String) -> Error {
        match self {
            Fail::Kernel(errno, msg) => Error::Io {
                what: match msg {
                    Some(m) => format!("{what} ({m})"),
                    None => what,
                },
                source: io::Error::from_raw_os_error(errno),
            },
            Fail::Interrupted => Error::Netlink(format!("{what}: dump kept being interrupted")),
            Fail::Io(source) => Error::Io { what, source },
        }
    }
}

impl From<io::Error> for Fail {
    fn from(e: io::Error) -> Fail {
        Fail::Io(e)
    }
}

/// Where a reply stream stands after one datagram.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Step {
    More,
    Done,
}

/// A NETLINK_ROUTE socket bound to a kernel-chosen port, talking to the kernel, with
/// extended ACKs (error text) and capped ACKs (the request is not echoed back).
pub(crate) fn socket(groups: u32) -> io::Result<Socket> {
    let mut s = Socket::new(NETLINK_ROUTE)?;
    if groups == 0 {
        s.bind_auto()?;
    } else {
        s.bind(&SocketAddr::new(0, groups))?;
    }
    s.connect(&SocketAddr::new(0, 0))?;
    // Both are hints; an old kernel without them still works.
    let _ = s.set_ext_ack(true);
    let _ = s.set_cap_ack(true);
    Ok(s)
}

/// Serialize one request with sequence number `seq`.
pub(crate) fn encode(msg: RouteNetlinkMessage, flags: u16, seq: u32) -> Vec<u8> {
    let mut header = NetlinkHeader::default();
    header.flags = flags;
    header.sequence_number = seq;
    let mut m = NetlinkMessage::new(header, NetlinkPayload::InnerMessage(msg));
    m.finalize();
    let mut buf = vec![0; m.buffer_len()];
    m.serialize(&mut buf);
    buf
}

/// Take in one datagram of replies to request `seq`: messages go to `out`; the ACK,
/// an error or NLMSG_DONE ends the stream. Replies to other (abandoned) requests are
/// skipped, and so is a message netlink-packet-route cannot decode.
pub(crate) fn absorb(
    dgram: &[u8],
    seq: u32,
    out: &mut Vec<RouteNetlinkMessage>,
    interrupted: &mut bool,
) -> Result<Step, Fail> {
    let mut off = 0usize;
    while let Some(rest) = dgram.get(off..) {
        if rest.len() < 16 {
            break;
        }
        let Ok(nb) = NetlinkBuffer::new_checked(rest) else {
            return Err(Fail::Io(io::Error::new(
                io::ErrorKind::InvalidData,
                "malformed netlink message",
            )));
        };
        let len = nb.length() as usize;
        off += (len + 3) & !3;
        if nb.sequence_number() != seq {
            continue;
        }
        if nb.flags() & NLM_F_DUMP_INTR != 0 {
            *interrupted = true;
        }
        let payload = nb.payload();
        match nb.message_type() {
            NLMSG_DONE => {
                // Since Linux 4.x a failed dump ends with DONE carrying -errno.
                let code = read_i32(payload).unwrap_or(0);
                if code < 0 {
                    return Err(Fail::Kernel(-code, None));
                }
                return if *interrupted {
                    Err(Fail::Interrupted)
                } else {
                    Ok(Step::Done)
                };
            }
            NLMSG_ERROR => {
                let code = read_i32(payload).unwrap_or(0);
                if code == 0 {
                    return Ok(Step::Done);
                }
                return Err(Fail::Kernel(-code, ext_ack_text(payload, nb.flags())));
            }
            t if t < 16 => {} // NOOP, OVERRUN and other control messages
            _ => {
                let this = rest.get(..len).unwrap_or(rest);
                if let Ok(m) = NetlinkMessage::<RouteNetlinkMessage>::deserialize(this) {
                    if let NetlinkPayload::InnerMessage(i) = m.payload {
                        out.push(i);
                    }
                }
            }
        }
    }
    Ok(Step::More)
}

/// Every rtnetlink message in a multicast datagram, whatever its sequence number (a
/// notification carries the number of the request that caused it, if any).
pub(crate) fn notifications(dgram: &[u8]) -> Vec<RouteNetlinkMessage> {
    let mut out = Vec::new();
    let mut off = 0usize;
    while let Some(rest) = dgram.get(off..) {
        let Ok(nb) = NetlinkBuffer::new_checked(rest) else {
            break;
        };
        let len = nb.length() as usize;
        off += (len + 3) & !3;
        if nb.message_type() < 16 {
            continue;
        }
        let this = rest.get(..len).unwrap_or(rest);
        if let Ok(m) = NetlinkMessage::<RouteNetlinkMessage>::deserialize(this) {
            if let NetlinkPayload::InnerMessage(i) = m.payload {
                out.push(i);
            }
        }
    }
    out
}

fn read_i32(b: &[u8]) -> Option<i32> {
    Some(i32::from_ne_bytes(b.get(..4)?.try_into().ok()?))
}

fn read_u16(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_ne_bytes(b.get(at..at + 2)?.try_into().ok()?))
}

/// The text of an extended ACK: after the error code comes the request's header (and
/// its payload unless capped), then attributes when NLM_F_ACK_TLVS is set.
fn ext_ack_text(payload: &[u8], flags: u16) -> Option<String> {
    if flags & NLM_F_ACK_TLVS == 0 {
        return None;
    }
    let orig = payload.get(4..)?;
    let orig_len = if flags & NLM_F_CAPPED != 0 {
        16
    } else {
        u32::from_ne_bytes(orig.get(..4)?.try_into().ok()?) as usize
    };
    let mut tlvs = orig.get((orig_len + 3) & !3..)?;
    while tlvs.len() >= 4 {
        let len = usize::from(read_u16(tlvs, 0)?);
        let kind = read_u16(tlvs, 2)?;
        if len < 4 {
            break;
        }
        if kind & 0x3fff == NLMSGERR_ATTR_MSG {
            let text = tlvs.get(4..len)?;
            let text = text.split(|b| *b == 0).next().unwrap_or(text);
            return Some(String::from_utf8_lossy(text).into_owned());
        }
        tlvs = tlvs.get((len + 3) & !3..)?;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn error_reply(seq: u32, code: i32, text: Option<&str>) -> Vec<u8> {
        let mut payload = code.to_ne_bytes().to_vec();
        // the capped request header
        payload.extend_from_slice(&[0u8; 16]);
        let mut flags = NLM_F_CAPPED;
        if let Some(t) = text {
            flags |= NLM_F_ACK_TLVS;
            let mut v = t.as_bytes().to_vec();
            v.push(0);
            let len = 4 + v.len();
            payload.extend_from_slice(&(len as u16).to_ne_bytes());
            payload.extend_from_slice(&NLMSGERR_ATTR_MSG.to_ne_bytes());
            payload.extend_from_slice(&v);
            while payload.len() & 3 != 0 {
                payload.push(0);
            }
        }
        let mut m = ((16 + payload.len()) as u32).to_ne_bytes().to_vec();
        m.extend_from_slice(&NLMSG_ERROR.to_ne_bytes());
        m.extend_from_slice(&flags.to_ne_bytes());
        m.extend_from_slice(&seq.to_ne_bytes());
        m.extend_from_slice(&0u32.to_ne_bytes());
        m.extend_from_slice(&payload);
        m
    }

    #[test]
    fn ack_ends_the_stream() {
        let mut out = Vec::new();
        let mut intr = false;
        let r = absorb(&error_reply(7, 0, None), 7, &mut out, &mut intr);
        assert!(matches!(r, Ok(Step::Done)));
    }

    #[test]
    fn error_carries_errno_and_text() {
        let mut out = Vec::new();
        let mut intr = false;
        let r = absorb(
            &error_reply(7, -libc::EEXIST, Some("File exists here")),
            7,
            &mut out,
            &mut intr,
        );
        match r {
            Err(Fail::Kernel(e, Some(t))) => {
                assert_eq!(e, libc::EEXIST);
                assert_eq!(t, "File exists here");
            }
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn other_sequence_numbers_are_skipped() {
        let mut d = error_reply(6, -libc::EPERM, None);
        d.extend(error_reply(7, 0, None));
        let mut out = Vec::new();
        let mut intr = false;
        assert!(matches!(absorb(&d, 7, &mut out, &mut intr), Ok(Step::Done)));
        let mut out = Vec::new();
        assert!(matches!(
            absorb(&error_reply(6, 0, None), 7, &mut out, &mut intr),
            Ok(Step::More)
        ));
    }

    #[test]
    fn garbage_does_not_panic() {
        let mut out = Vec::new();
        let mut intr = false;
        for n in 0..64u8 {
            let d: Vec<u8> = (0..n).map(|i| i.wrapping_mul(37)).collect();
            let _ = absorb(&d, 1, &mut out, &mut intr);
        }
    }
}
