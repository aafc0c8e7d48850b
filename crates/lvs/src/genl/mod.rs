//! The IPVS generic-netlink messages (linux/ip_vs.h, family `IPVS`, version 1) and the
//! generic netlink controller's family lookup, as pure encode/decode. No I/O: the socket
//! is `keepup_sys::Ipvs`.
//!
//! - [`encode`] appends one request ([`Request`]) to a buffer, so that many requests go
//!   to the kernel in one `sendmsg`. Dumps carry NLM_F_DUMP; everything else NLM_F_ACK,
//!   so every request ends with exactly one NLMSG_ERROR (0: the ACK) or, for a dump,
//!   NLMSG_DONE: [`Reply::ends_request`].
//! - [`decode`] walks a received buffer and yields each message's sequence number and
//!   its [`Reply`]. A message whose payload is malformed yields its error as a value and
//!   the walk goes on; a length that does not fit ends the walk. Unknown attributes and
//!   commands are skipped, never an error.
//! - [`decode_request`] reads a request back (ipvsadm's, or ours), for tests.
//! - [`encode_get_family`] asks the controller for a family's id.
//!
//! Attribute quirks, as the kernel (net/netfilter/ipvs/ip_vs_ctl.c) and libipvs have them:
//! addresses are 16 bytes (`union nf_inet_addr`, an IPv4 address in the first 4); ports,
//! the tunnel port and the multicast port are in network order; the persistence netmask is
//! in network order for IPv4 and a host-order prefix length for IPv6; the sync daemon's
//! multicast port, alone among ports, is in host order (so [`Service`]'s
//! host-order mask is written big-endian for IPv4 and native for IPv6); service flags go
//! as `struct ip_vs_flags { flags, mask }` and the kernel's report includes
//! IP_VS_SVC_F_HASHED, an internal state that [`decode`] masks out so that the kernel's
//! table compares with the wanted one.
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::table::{
    DestKey, Destination, Family, Forward, Op, Protocol, SchedFlags, Service, ServiceKey,
    TunnelType,
};

pub mod nl;

use nl::{
    attrs, get_be16, get_counter, get_i32, get_str, get_u16, get_u32, get_u8, Header, Messages,
};

/// IPVS_GENL_NAME.
pub const IPVS_FAMILY_NAME: &str = "IPVS";
/// IPVS_GENL_VERSION.
pub const IPVS_GENL_VERSION: u8 = 1;
/// GENL_ID_CTRL: the controller's fixed family id.
pub const GENL_ID_CTRL: u16 = 0x10;

/// IPVS_CMD_*.
pub mod cmd {
    pub const NEW_SERVICE: u8 = 1;
    pub const SET_SERVICE: u8 = 2;
    pub const DEL_SERVICE: u8 = 3;
    pub const GET_SERVICE: u8 = 4;
    pub const NEW_DEST: u8 = 5;
    pub const SET_DEST: u8 = 6;
    pub const DEL_DEST: u8 = 7;
    pub const GET_DEST: u8 = 8;
    pub const NEW_DAEMON: u8 = 9;
    pub const DEL_DAEMON: u8 = 10;
    pub const GET_DAEMON: u8 = 11;
    pub const SET_CONFIG: u8 = 12;
    pub const GET_CONFIG: u8 = 13;
    pub const SET_INFO: u8 = 14;
    pub const GET_INFO: u8 = 15;
    pub const ZERO: u8 = 16;
    pub const FLUSH: u8 = 17;
}

/// IPVS_CMD_ATTR_*.
mod cmd_attr {
    pub const SERVICE: u16 = 1;
    pub const DEST: u16 = 2;
    pub const DAEMON: u16 = 3;
    pub const TIMEOUT_TCP: u16 = 4;
    pub const TIMEOUT_TCP_FIN: u16 = 5;
    pub const TIMEOUT_UDP: u16 = 6;
}

/// IPVS_SVC_ATTR_*.
mod svc_attr {
    pub const AF: u16 = 1;
    pub const PROTOCOL: u16 = 2;
    pub const ADDR: u16 = 3;
    pub const PORT: u16 = 4;
    pub const FWMARK: u16 = 5;
    pub const SCHED_NAME: u16 = 6;
    pub const FLAGS: u16 = 7;
    pub const TIMEOUT: u16 = 8;
    pub const NETMASK: u16 = 9;
    pub const STATS: u16 = 10;
    pub const PE_NAME: u16 = 11;
    pub const STATS64: u16 = 12;
}

/// IPVS_DEST_ATTR_*.
mod dest_attr {
    pub const ADDR: u16 = 1;
    pub const PORT: u16 = 2;
    pub const FWD_METHOD: u16 = 3;
    pub const WEIGHT: u16 = 4;
    pub const U_THRESH: u16 = 5;
    pub const L_THRESH: u16 = 6;
    pub const ACTIVE_CONNS: u16 = 7;
    pub const INACT_CONNS: u16 = 8;
    pub const PERSIST_CONNS: u16 = 9;
    pub const STATS: u16 = 10;
    pub const ADDR_FAMILY: u16 = 11;
    pub const STATS64: u16 = 12;
    pub const TUN_TYPE: u16 = 13;
    pub const TUN_PORT: u16 = 14;
    pub const TUN_FLAGS: u16 = 15;
}

/// IPVS_DAEMON_ATTR_*.
mod daemon_attr {
    pub const STATE: u16 = 1;
    pub const MCAST_IFN: u16 = 2;
    pub const SYNC_ID: u16 = 3;
    pub const SYNC_MAXLEN: u16 = 4;
    pub const MCAST_GROUP: u16 = 5;
    pub const MCAST_GROUP6: u16 = 6;
    pub const MCAST_PORT: u16 = 7;
    pub const MCAST_TTL: u16 = 8;
}

/// IPVS_INFO_ATTR_*.
mod info_attr {
    pub const VERSION: u16 = 1;
    pub const CONN_TAB_SIZE: u16 = 2;
}

/// The controller: CTRL_CMD_* and CTRL_ATTR_*.
mod ctrl {
    pub const CMD_NEWFAMILY: u8 = 1;
    pub const CMD_GETFAMILY: u8 = 3;
    pub const ATTR_FAMILY_ID: u16 = 1;
    pub const ATTR_FAMILY_NAME: u16 = 2;
}

/// IP_VS_CONN_F_TUNNEL_TYPE_*.
const TUN_IPIP: u8 = 0;
const TUN_GUE: u8 = 1;
const TUN_GRE: u8 = 2;

/// A message that could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DecodeError {
    #[error("truncated {0}")]
    Truncated(&'static str),
    #[error("{what} claims a length of {len} that does not fit")]
    Length { what: &'static str, len: usize },
    #[error("attribute {what} has a wrong length {len}")]
    AttrLen { what: &'static str, len: usize },
    #[error("{0} is missing")]
    Missing(&'static str),
    #[error("attribute {0} is not UTF-8")]
    Utf8(&'static str),
    #[error("unknown address family {0}")]
    Family(u16),
    #[error("unknown protocol {0}")]
    Protocol(u16),
    #[error("unknown forwarding method {0}")]
    Forward(u32),
    #[error("unknown tunnel type {0}")]
    TunnelType(u8),
    #[error("unknown sync daemon state {0}")]
    SyncState(u32),
    #[error("not an IPVS request: type {ty}, command {cmd}")]
    NotARequest { ty: u16, cmd: u8 },
}

/// Counters of a service or destination. The kernel sends 32-bit (STATS) and 64-bit
/// (STATS64) copies; the 64-bit ones are used when present.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub struct Stats {
    pub conns: u64,
    pub inpkts: u64,
    pub outpkts: u64,
    pub inbytes: u64,
    pub outbytes: u64,
    pub cps: u64,
    pub inpps: u64,
    pub outpps: u64,
    pub inbps: u64,
    pub outbps: u64,
}

/// A service as the kernel reports it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ServiceInfo {
    pub service: Service,
    pub stats: Stats,
}

/// A destination as the kernel reports it (its service is the one the dump asked for).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct DestInfo {
    pub dest: Destination,
    pub active_conns: u32,
    pub inact_conns: u32,
    pub persist_conns: u32,
    pub stats: Stats,
}

/// Connection timeouts in seconds (`ipvsadm --set tcp tcpfin udp`); 0 in a set leaves
/// that one unchanged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
pub struct Timeouts {
    pub tcp: u32,
    pub tcp_fin: u32,
    pub udp: u32,
}

/// A connection-sync daemon's role (IP_VS_STATE_MASTER / BACKUP).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
pub enum SyncState {
    Master,
    Backup,
}

impl SyncState {
    pub const fn value(self) -> u32 {
        match self {
            SyncState::Master => 1,
            SyncState::Backup => 2,
        }
    }

    pub const fn from_value(v: u32) -> Option<SyncState> {
        match v {
            1 => Some(SyncState::Master),
            2 => Some(SyncState::Backup),
            _ => None,
        }
    }
}

/// A connection-sync daemon (`ipvsadm --start-daemon`). `None`: the kernel's default
/// (the kernel reports every field).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct SyncDaemon {
    pub state: SyncState,
    pub ifname: String,
    pub syncid: u32,
    pub sync_maxlen: Option<u16>,
    pub mcast_group: Option<IpAddr>,
    pub mcast_port: Option<u16>,
    pub mcast_ttl: Option<u8>,
}

/// A request to the IPVS family.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request {
    /// A change to the table (NEW/SET/DEL_SERVICE, NEW/SET/DEL_DEST).
    Op(Op),
    /// Dump every service.
    GetServices,
    /// Dump the destinations of one service.
    GetDests(ServiceKey),
    GetInfo,
    GetConfig,
    SetConfig(Timeouts),
    NewDaemon(SyncDaemon),
    DelDaemon(SyncState),
    /// Dump the sync daemons.
    GetDaemons,
    /// Remove every service.
    Flush,
}

impl Request {
    /// Whether the kernel answers with a dump (ended by NLMSG_DONE) rather than an ACK.
    pub fn is_dump(&self) -> bool {
        matches!(
            self,
            Request::GetServices | Request::GetDests(_) | Request::GetDaemons
        )
    }

    /// Whether the kernel answers with data (a dump, or a GET's reply) rather than
    /// only with its ACK or error.
    pub fn answers_with_data(&self) -> bool {
        match self {
            Request::GetServices
            | Request::GetDests(_)
            | Request::GetDaemons
            | Request::GetInfo
            | Request::GetConfig => true,
            Request::Op(_)
            | Request::SetConfig(_)
            | Request::NewDaemon(_)
            | Request::DelDaemon(_)
            | Request::Flush => false,
        }
    }

    fn command(&self) -> u8 {
        match self {
            Request::Op(Op::AddService(_)) => cmd::NEW_SERVICE,
            Request::Op(Op::EditService(_)) => cmd::SET_SERVICE,
            Request::Op(Op::DelService(_)) => cmd::DEL_SERVICE,
            Request::Op(Op::AddDest(..)) => cmd::NEW_DEST,
            Request::Op(Op::EditDest(..)) => cmd::SET_DEST,
            Request::Op(Op::DelDest(..)) => cmd::DEL_DEST,
            Request::GetServices => cmd::GET_SERVICE,
            Request::GetDests(_) => cmd::GET_DEST,
            Request::GetInfo => cmd::GET_INFO,
            Request::GetConfig => cmd::GET_CONFIG,
            Request::SetConfig(_) => cmd::SET_CONFIG,
            Request::NewDaemon(_) => cmd::NEW_DAEMON,
            Request::DelDaemon(_) => cmd::DEL_DAEMON,
            Request::GetDaemons => cmd::GET_DAEMON,
            Request::Flush => cmd::FLUSH,
        }
    }
}

/// Appends one request for the IPVS family `family_id` (see [`encode_get_family`]).
pub fn encode(req: &Request, family_id: u16, seq: u32, port_id: u32, out: &mut Vec<u8>) {
    encode_flags(req, family_id, seq, port_id, true, out);
}

/// [`encode`] without asking for an ACK: the kernel then answers only if the request
/// fails (an error message with its sequence number). Only for requests that answer
/// with nothing but their ACK ([`Request::answers_with_data`] false); a dump keeps
/// NLM_F_DUMP.
pub fn encode_quiet(req: &Request, family_id: u16, seq: u32, port_id: u32, out: &mut Vec<u8>) {
    encode_flags(req, family_id, seq, port_id, req.answers_with_data(), out);
}

fn encode_flags(
    req: &Request,
    family_id: u16,
    seq: u32,
    port_id: u32,
    ack: bool,
    out: &mut Vec<u8>,
) {
    let flags = nl::NLM_F_REQUEST
        | if req.is_dump() {
            nl::NLM_F_DUMP
        } else if ack {
            nl::NLM_F_ACK
        } else {
            0
        };
    let start = nl::begin(out, family_id, flags, seq, port_id);
    nl::genl(out, req.command(), IPVS_GENL_VERSION);
    match req {
        Request::Op(Op::AddService(s) | Op::EditService(s)) => put_service(out, s),
        Request::Op(Op::DelService(k)) | Request::GetDests(k) => put_service_key(out, k),
        Request::Op(Op::AddDest(k, d) | Op::EditDest(k, d)) => {
            put_service_key(out, k);
            put_dest(out, d);
        }
        Request::Op(Op::DelDest(k, d)) => {
            put_service_key(out, k);
            let n = nl::begin_nest(out, cmd_attr::DEST);
            put_dest_key(out, d);
            nl::end_nest(out, n);
        }
        Request::SetConfig(t) => {
            nl::put_u32(out, cmd_attr::TIMEOUT_TCP, t.tcp);
            nl::put_u32(out, cmd_attr::TIMEOUT_TCP_FIN, t.tcp_fin);
            nl::put_u32(out, cmd_attr::TIMEOUT_UDP, t.udp);
        }
        Request::NewDaemon(d) => put_daemon(out, d),
        Request::DelDaemon(state) => {
            let n = nl::begin_nest(out, cmd_attr::DAEMON);
            nl::put_u32(out, daemon_attr::STATE, state.value());
            nl::end_nest(out, n);
        }
        Request::GetServices
        | Request::GetInfo
        | Request::GetConfig
        | Request::GetDaemons
        | Request::Flush => {}
    }
    nl::end(out, start);
}

/// Appends CTRL_CMD_GETFAMILY for the family `name` (the reply is [`Reply::Family`]).
/// Sets NLM_F_ACK on the message `msg` starts with (one [`encode_quiet`] wrote).
pub fn ask_ack(msg: &mut [u8]) {
    if let Some(f) = msg.get_mut(6..8) {
        let flags = u16::from_ne_bytes([f[0], f[1]]) | nl::NLM_F_ACK;
        f.copy_from_slice(&flags.to_ne_bytes());
    }
}

pub fn encode_get_family(name: &str, seq: u32, port_id: u32, out: &mut Vec<u8>) {
    let start = nl::begin(
        out,
        GENL_ID_CTRL,
        nl::NLM_F_REQUEST | nl::NLM_F_ACK,
        seq,
        port_id,
    );
    nl::genl(out, ctrl::CMD_GETFAMILY, 1);
    nl::put_str(out, ctrl::ATTR_FAMILY_NAME, name);
    nl::end(out, start);
}

fn addr16(addr: &IpAddr) -> [u8; 16] {
    let mut b = [0u8; 16];
    match addr {
        IpAddr::V4(a) => b[..4].copy_from_slice(&a.octets()),
        IpAddr::V6(a) => b = a.octets(),
    }
    b
}

fn put_key_attrs(out: &mut Vec<u8>, k: &ServiceKey) {
    nl::put_u16(out, svc_attr::AF, k.family().af());
    match k {
        ServiceKey::Addr {
            protocol,
            addr,
            port,
        } => {
            nl::put_u16(out, svc_attr::PROTOCOL, protocol.number());
            nl::put(out, svc_attr::ADDR, &addr16(addr));
            nl::put_be16(out, svc_attr::PORT, *port);
        }
        ServiceKey::Fwmark { mark, .. } => nl::put_u32(out, svc_attr::FWMARK, *mark),
    }
}

fn put_service_key(out: &mut Vec<u8>, k: &ServiceKey) {
    let n = nl::begin_nest(out, cmd_attr::SERVICE);
    put_key_attrs(out, k);
    nl::end_nest(out, n);
}

/// The whole service, in libipvs' order.
fn put_service(out: &mut Vec<u8>, s: &Service) {
    let n = nl::begin_nest(out, cmd_attr::SERVICE);
    put_key_attrs(out, &s.key);
    nl::put_str(out, svc_attr::SCHED_NAME, &s.scheduler);
    if let Some(pe) = &s.pe_name {
        nl::put_str(out, svc_attr::PE_NAME, pe);
    }
    let mut flags = [0u8; 8];
    flags[..4].copy_from_slice(&s.flags.0.to_ne_bytes());
    flags[4..].copy_from_slice(&u32::MAX.to_ne_bytes());
    nl::put(out, svc_attr::FLAGS, &flags);
    nl::put_u32(out, svc_attr::TIMEOUT, s.timeout);
    let netmask = match s.key.family() {
        Family::V4 => s.netmask.to_be_bytes(),
        Family::V6 => s.netmask.to_ne_bytes(),
    };
    nl::put(out, svc_attr::NETMASK, &netmask);
    nl::end_nest(out, n);
}

fn put_dest_key(out: &mut Vec<u8>, d: &DestKey) {
    nl::put_u16(out, dest_attr::ADDR_FAMILY, Family::of(&d.addr).af());
    nl::put(out, dest_attr::ADDR, &addr16(&d.addr));
    nl::put_be16(out, dest_attr::PORT, d.port);
}

/// The whole destination, in libipvs' order. The tunnel attributes go always (zero when
/// not a tunnel), as ipvsadm sends them; kernels before 5.3 ignore them.
fn put_dest(out: &mut Vec<u8>, d: &Destination) {
    let n = nl::begin_nest(out, cmd_attr::DEST);
    put_dest_key(out, &d.key);
    nl::put_u32(out, dest_attr::FWD_METHOD, d.forward.conn_flags());
    nl::put_u32(out, dest_attr::WEIGHT, d.weight);
    let (tun_type, tun_port, tun_flags) = match d.forward {
        Forward::Tunnel(TunnelType::Ipip) => (TUN_IPIP, 0, 0),
        Forward::Tunnel(TunnelType::Gue { port, flags }) => (TUN_GUE, port, flags),
        Forward::Tunnel(TunnelType::Gre { flags }) => (TUN_GRE, 0, flags),
        _ => (TUN_IPIP, 0, 0),
    };
    nl::put_u8(out, dest_attr::TUN_TYPE, tun_type);
    nl::put_be16(out, dest_attr::TUN_PORT, tun_port);
    nl::put_u16(out, dest_attr::TUN_FLAGS, tun_flags);
    nl::put_u32(out, dest_attr::U_THRESH, d.u_threshold);
    nl::put_u32(out, dest_attr::L_THRESH, d.l_threshold);
    nl::end_nest(out, n);
}

fn put_daemon(out: &mut Vec<u8>, d: &SyncDaemon) {
    let n = nl::begin_nest(out, cmd_attr::DAEMON);
    nl::put_u32(out, daemon_attr::STATE, d.state.value());
    nl::put_str(out, daemon_attr::MCAST_IFN, &d.ifname);
    nl::put_u32(out, daemon_attr::SYNC_ID, d.syncid);
    if let Some(v) = d.sync_maxlen {
        nl::put_u16(out, daemon_attr::SYNC_MAXLEN, v);
    }
    if let Some(v) = d.mcast_port {
        // Host order, unlike the service and tunnel ports.
        nl::put_u16(out, daemon_attr::MCAST_PORT, v);
    }
    if let Some(v) = d.mcast_ttl {
        nl::put_u8(out, daemon_attr::MCAST_TTL, v);
    }
    // Last, as libipvs puts it.
    match d.mcast_group {
        Some(IpAddr::V4(a)) => nl::put(out, daemon_attr::MCAST_GROUP, &a.octets()),
        Some(IpAddr::V6(a)) => nl::put(out, daemon_attr::MCAST_GROUP6, &a.octets()),
        None => {}
    }
    nl::end_nest(out, n);
}

/// What one received message says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    /// The controller's answer: a family's id.
    Family {
        name: String,
        id: u16,
    },
    Service(ServiceInfo),
    Dest(DestInfo),
    Info {
        version: u32,
        conn_tab_size: u32,
    },
    Config(Timeouts),
    Daemon(SyncDaemon),
    /// NLMSG_ERROR with 0: the request was done.
    Ack,
    /// NLMSG_DONE: the end of a dump.
    Done,
    /// NLMSG_ERROR (or a failed dump's NLMSG_DONE): a positive errno and the extended
    /// ACK's text when the kernel gave one.
    Error {
        errno: i32,
        message: Option<String>,
    },
    /// Anything else (NLMSG_NOOP, an unknown command), to be skipped.
    Other {
        msg_type: u16,
        cmd: Option<u8>,
    },
}

impl Reply {
    /// Whether this is the last message for its request.
    pub fn ends_request(&self) -> bool {
        matches!(self, Reply::Ack | Reply::Done | Reply::Error { .. })
    }
}

/// One received message: its header's sequence number and flags, and what it says
/// (or why it could not be read).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Received {
    pub seq: u32,
    pub flags: u16,
    pub reply: Result<Reply, DecodeError>,
}

/// The messages of a received buffer; see [`decode`].
pub struct Replies<'a> {
    msgs: Messages<'a>,
    family_id: u16,
}

/// Walks a received buffer from a socket talking to the IPVS family `family_id` (and
/// the controller). Items are `Err` only when the framing itself is broken, which ends
/// the walk.
pub fn decode(buf: &[u8], family_id: u16) -> Replies<'_> {
    Replies {
        msgs: Messages::new(buf),
        family_id,
    }
}

impl Iterator for Replies<'_> {
    type Item = Result<Received, DecodeError>;

    fn next(&mut self) -> Option<Self::Item> {
        let (h, msg) = match self.msgs.next()? {
            Ok(m) => m,
            Err(e) => return Some(Err(e)),
        };
        Some(Ok(Received {
            seq: h.seq,
            flags: h.flags,
            reply: decode_reply(&h, &msg[nl::NLMSG_HDRLEN..], self.family_id),
        }))
    }
}

fn decode_reply(h: &Header, payload: &[u8], family_id: u16) -> Result<Reply, DecodeError> {
    match h.ty {
        nl::NLMSG_ERROR => decode_error(h, payload),
        nl::NLMSG_DONE => {
            // Since Linux 4.x a failed dump ends with DONE carrying -errno.
            let code = if payload.len() >= 4 {
                get_i32("NLMSG_DONE", payload)?
            } else {
                0
            };
            if code < 0 {
                let message = if h.flags & nl::NLM_F_ACK_TLVS != 0 {
                    ext_ack_text(&payload[4..])?
                } else {
                    None
                };
                Ok(Reply::Error {
                    errno: code.saturating_neg(),
                    message,
                })
            } else {
                Ok(Reply::Done)
            }
        }
        GENL_ID_CTRL => {
            let (cmd, body) = genl_payload(payload)?;
            if cmd != ctrl::CMD_NEWFAMILY {
                return Ok(Reply::Other {
                    msg_type: h.ty,
                    cmd: Some(cmd),
                });
            }
            let (mut name, mut id) = (None, None);
            for a in attrs(body) {
                match a? {
                    (ctrl::ATTR_FAMILY_ID, v) => id = Some(get_u16("CTRL_ATTR_FAMILY_ID", v)?),
                    (ctrl::ATTR_FAMILY_NAME, v) => {
                        name = Some(get_str("CTRL_ATTR_FAMILY_NAME", v)?)
                    }
                    _ => {}
                }
            }
            Ok(Reply::Family {
                name: name.ok_or(DecodeError::Missing("CTRL_ATTR_FAMILY_NAME"))?,
                id: id.ok_or(DecodeError::Missing("CTRL_ATTR_FAMILY_ID"))?,
            })
        }
        t if t == family_id && t >= nl::NLMSG_MIN_TYPE => {
            let (cmd, body) = genl_payload(payload)?;
            decode_ipvs(cmd, body).map(|r| {
                r.unwrap_or(Reply::Other {
                    msg_type: t,
                    cmd: Some(cmd),
                })
            })
        }
        t => Ok(Reply::Other {
            msg_type: t,
            cmd: None,
        }),
    }
}

fn genl_payload(payload: &[u8]) -> Result<(u8, &[u8]), DecodeError> {
    match payload {
        [cmd, _version, _, _, body @ ..] => Ok((*cmd, body)),
        _ => Err(DecodeError::Truncated("generic netlink header")),
    }
}

/// NLMSG_ERROR: `int error`, the request's header (and its payload unless
/// NLM_F_CAPPED), then extended-ACK attributes if NLM_F_ACK_TLVS.
fn decode_error(h: &Header, payload: &[u8]) -> Result<Reply, DecodeError> {
    let code = get_i32("NLMSG_ERROR", payload)?;
    if code == 0 {
        return Ok(Reply::Ack);
    }
    let mut message = None;
    if h.flags & nl::NLM_F_ACK_TLVS != 0 {
        let orig = payload.get(4..).unwrap_or_default();
        let skip = if h.flags & nl::NLM_F_CAPPED != 0 {
            nl::NLMSG_HDRLEN
        } else {
            let len = orig
                .get(..4)
                .and_then(|b| b.try_into().ok())
                .map(u32::from_ne_bytes)
                .ok_or(DecodeError::Truncated("NLMSG_ERROR's request"))?;
            nl::align(len as usize)
        };
        let tlvs = orig
            .get(skip..)
            .ok_or(DecodeError::Truncated("NLMSG_ERROR's request"))?;
        message = ext_ack_text(tlvs)?;
    }
    Ok(Reply::Error {
        errno: code.saturating_neg(),
        message,
    })
}

fn ext_ack_text(tlvs: &[u8]) -> Result<Option<String>, DecodeError> {
    for a in attrs(tlvs) {
        if let (nl::NLMSGERR_ATTR_MSG, v) = a? {
            return get_str("NLMSGERR_ATTR_MSG", v).map(Some);
        }
    }
    Ok(None)
}

/// An IPVS message's body; `None` for a command this crate does not read.
fn decode_ipvs(command: u8, body: &[u8]) -> Result<Option<Reply>, DecodeError> {
    Ok(Some(match command {
        cmd::NEW_SERVICE => {
            let (service, stats) = parse_service(nested(body, cmd_attr::SERVICE)?)?;
            Reply::Service(ServiceInfo { service, stats })
        }
        cmd::NEW_DEST => Reply::Dest(parse_dest(nested(body, cmd_attr::DEST)?)?),
        cmd::NEW_DAEMON => Reply::Daemon(parse_daemon(nested(body, cmd_attr::DAEMON)?)?),
        cmd::SET_CONFIG => Reply::Config(parse_timeouts(body)?),
        cmd::SET_INFO => {
            let (mut version, mut conn_tab_size) = (None, None);
            for a in attrs(body) {
                match a? {
                    (info_attr::VERSION, v) => version = Some(get_u32("INFO_ATTR_VERSION", v)?),
                    (info_attr::CONN_TAB_SIZE, v) => {
                        conn_tab_size = Some(get_u32("INFO_ATTR_CONN_TAB_SIZE", v)?)
                    }
                    _ => {}
                }
            }
            Reply::Info {
                version: version.ok_or(DecodeError::Missing("IPVS_INFO_ATTR_VERSION"))?,
                conn_tab_size: conn_tab_size
                    .ok_or(DecodeError::Missing("IPVS_INFO_ATTR_CONN_TAB_SIZE"))?,
            }
        }
        _ => return Ok(None),
    }))
}

/// The payload of the first top-level attribute `ty`.
fn nested(body: &[u8], ty: u16) -> Result<&[u8], DecodeError> {
    for a in attrs(body) {
        let (t, v) = a?;
        if t == ty {
            return Ok(v);
        }
    }
    Err(DecodeError::Missing(match ty {
        cmd_attr::SERVICE => "IPVS_CMD_ATTR_SERVICE",
        cmd_attr::DEST => "IPVS_CMD_ATTR_DEST",
        _ => "IPVS_CMD_ATTR_DAEMON",
    }))
}

fn parse_timeouts(body: &[u8]) -> Result<Timeouts, DecodeError> {
    let mut t = Timeouts::default();
    for a in attrs(body) {
        match a? {
            (cmd_attr::TIMEOUT_TCP, v) => t.tcp = get_u32("TIMEOUT_TCP", v)?,
            (cmd_attr::TIMEOUT_TCP_FIN, v) => t.tcp_fin = get_u32("TIMEOUT_TCP_FIN", v)?,
            (cmd_attr::TIMEOUT_UDP, v) => t.udp = get_u32("TIMEOUT_UDP", v)?,
            _ => {}
        }
    }
    Ok(t)
}

fn addr_from(what: &'static str, family: Family, b: &[u8]) -> Result<IpAddr, DecodeError> {
    match family {
        Family::V4 => b
            .get(..4)
            .and_then(|b| <[u8; 4]>::try_from(b).ok())
            .map(|o| IpAddr::V4(Ipv4Addr::from(o))),
        Family::V6 => <[u8; 16]>::try_from(b)
            .ok()
            .map(|o| IpAddr::V6(Ipv6Addr::from(o))),
    }
    .ok_or(DecodeError::AttrLen { what, len: b.len() })
}

fn family(af: u16) -> Result<Family, DecodeError> {
    Family::from_af(af).ok_or(DecodeError::Family(af))
}

fn parse_stats(b: &[u8]) -> Result<Stats, DecodeError> {
    let mut s = Stats::default();
    for a in attrs(b) {
        let (t, v) = a?;
        let field = match t {
            1 => &mut s.conns,
            2 => &mut s.inpkts,
            3 => &mut s.outpkts,
            4 => &mut s.inbytes,
            5 => &mut s.outbytes,
            6 => &mut s.cps,
            7 => &mut s.inpps,
            8 => &mut s.outpps,
            9 => &mut s.inbps,
            10 => &mut s.outbps,
            _ => continue,
        };
        *field = get_counter("IPVS_STATS_ATTR", v)?;
    }
    Ok(s)
}

/// A service's attributes; a key-only service (a dest command's) gets the defaults
/// for the rest.
fn parse_service(b: &[u8]) -> Result<(Service, Stats), DecodeError> {
    let (mut af, mut protocol, mut addr, mut port, mut fwmark) = (None, None, None, None, None);
    let mut scheduler = String::new();
    let (mut flags, mut timeout, mut netmask, mut pe_name) = (0, 0, None, None);
    let (mut stats32, mut stats64) = (None, None);
    for a in attrs(b) {
        match a? {
            (svc_attr::AF, v) => af = Some(get_u16("SVC_ATTR_AF", v)?),
            (svc_attr::PROTOCOL, v) => protocol = Some(get_u16("SVC_ATTR_PROTOCOL", v)?),
            (svc_attr::ADDR, v) => addr = Some(v),
            (svc_attr::PORT, v) => port = Some(get_be16("SVC_ATTR_PORT", v)?),
            (svc_attr::FWMARK, v) => fwmark = Some(get_u32("SVC_ATTR_FWMARK", v)?),
            (svc_attr::SCHED_NAME, v) => scheduler = get_str("SVC_ATTR_SCHED_NAME", v)?,
            (svc_attr::FLAGS, v) => {
                let f = v.get(..4).ok_or(DecodeError::AttrLen {
                    what: "SVC_ATTR_FLAGS",
                    len: v.len(),
                })?;
                flags = get_u32("SVC_ATTR_FLAGS", f)?;
            }
            (svc_attr::TIMEOUT, v) => timeout = get_u32("SVC_ATTR_TIMEOUT", v)?,
            (svc_attr::NETMASK, v) => {
                netmask = Some(<[u8; 4]>::try_from(v).map_err(|_| DecodeError::AttrLen {
                    what: "SVC_ATTR_NETMASK",
                    len: v.len(),
                })?)
            }
            (svc_attr::PE_NAME, v) => pe_name = Some(get_str("SVC_ATTR_PE_NAME", v)?),
            (svc_attr::STATS, v) => stats32 = Some(v),
            (svc_attr::STATS64, v) => stats64 = Some(v),
            _ => {}
        }
    }
    let fam = family(af.ok_or(DecodeError::Missing("IPVS_SVC_ATTR_AF"))?)?;
    let key = match (fwmark, protocol, addr, port) {
        (Some(mark), ..) if mark != 0 => ServiceKey::Fwmark { family: fam, mark },
        (_, Some(p), Some(a), Some(port)) => ServiceKey::Addr {
            protocol: Protocol::from_number(p).ok_or(DecodeError::Protocol(p))?,
            addr: addr_from("SVC_ATTR_ADDR", fam, a)?,
            port,
        },
        _ => return Err(DecodeError::Missing("the service's address or fwmark")),
    };
    let netmask = match (netmask, fam) {
        (Some(b), Family::V4) => u32::from_be_bytes(b),
        (Some(b), Family::V6) => u32::from_ne_bytes(b),
        (None, Family::V4) => u32::MAX,
        (None, Family::V6) => 128,
    };
    let stats = match stats64.or(stats32) {
        Some(b) => parse_stats(b)?,
        None => Stats::default(),
    };
    let service = Service {
        key,
        scheduler,
        flags: SchedFlags(flags & !SchedFlags::HASHED),
        timeout,
        netmask,
        pe_name: pe_name.filter(|p| !p.is_empty()),
    };
    Ok((service, stats))
}

fn parse_dest(b: &[u8]) -> Result<DestInfo, DecodeError> {
    let (mut af, mut addr, mut port, mut fwd) = (None, None, None, None);
    let (mut weight, mut u_threshold, mut l_threshold) = (0, 0, 0);
    let (mut active_conns, mut inact_conns, mut persist_conns) = (0, 0, 0);
    let (mut tun_type, mut tun_port, mut tun_flags) = (TUN_IPIP, 0, 0);
    let (mut stats32, mut stats64) = (None, None);
    for a in attrs(b) {
        match a? {
            (dest_attr::ADDR, v) => addr = Some(v),
            (dest_attr::PORT, v) => port = Some(get_be16("DEST_ATTR_PORT", v)?),
            (dest_attr::FWD_METHOD, v) => fwd = Some(get_u32("DEST_ATTR_FWD_METHOD", v)?),
            (dest_attr::WEIGHT, v) => weight = get_u32("DEST_ATTR_WEIGHT", v)?,
            (dest_attr::U_THRESH, v) => u_threshold = get_u32("DEST_ATTR_U_THRESH", v)?,
            (dest_attr::L_THRESH, v) => l_threshold = get_u32("DEST_ATTR_L_THRESH", v)?,
            (dest_attr::ACTIVE_CONNS, v) => active_conns = get_u32("DEST_ATTR_ACTIVE_CONNS", v)?,
            (dest_attr::INACT_CONNS, v) => inact_conns = get_u32("DEST_ATTR_INACT_CONNS", v)?,
            (dest_attr::PERSIST_CONNS, v) => persist_conns = get_u32("DEST_ATTR_PERSIST_CONNS", v)?,
            (dest_attr::STATS, v) => stats32 = Some(v),
            (dest_attr::STATS64, v) => stats64 = Some(v),
            (dest_attr::ADDR_FAMILY, v) => af = Some(get_u16("DEST_ATTR_ADDR_FAMILY", v)?),
            (dest_attr::TUN_TYPE, v) => tun_type = get_u8("DEST_ATTR_TUN_TYPE", v)?,
            (dest_attr::TUN_PORT, v) => tun_port = get_be16("DEST_ATTR_TUN_PORT", v)?,
            (dest_attr::TUN_FLAGS, v) => tun_flags = get_u16("DEST_ATTR_TUN_FLAGS", v)?,
            _ => {}
        }
    }
    let addr = addr.ok_or(DecodeError::Missing("IPVS_DEST_ATTR_ADDR"))?;
    // Kernels before ADDR_FAMILY (4.x) only had destinations of the service's family;
    // without it an address whose last 12 bytes are zero is taken for IPv4.
    let fam = match af {
        Some(af) => family(af)?,
        None if addr.get(4..).is_some_and(|t| t.iter().all(|&b| b == 0)) => Family::V4,
        None => Family::V6,
    };
    let forward = match fwd.ok_or(DecodeError::Missing("IPVS_DEST_ATTR_FWD_METHOD"))? {
        0 => Forward::Masq,
        1 => Forward::Local,
        2 => Forward::Tunnel(match tun_type {
            TUN_IPIP => TunnelType::Ipip,
            TUN_GUE => TunnelType::Gue {
                port: tun_port,
                flags: tun_flags,
            },
            TUN_GRE => TunnelType::Gre { flags: tun_flags },
            t => return Err(DecodeError::TunnelType(t)),
        }),
        3 => Forward::Route,
        4 => Forward::Bypass,
        f => return Err(DecodeError::Forward(f)),
    };
    let stats = match stats64.or(stats32) {
        Some(b) => parse_stats(b)?,
        None => Stats::default(),
    };
    Ok(DestInfo {
        dest: Destination {
            key: DestKey {
                addr: addr_from("DEST_ATTR_ADDR", fam, addr)?,
                port: port.ok_or(DecodeError::Missing("IPVS_DEST_ATTR_PORT"))?,
            },
            forward,
            weight,
            u_threshold,
            l_threshold,
        },
        active_conns,
        inact_conns,
        persist_conns,
        stats,
    })
}

fn parse_daemon(b: &[u8]) -> Result<SyncDaemon, DecodeError> {
    let (mut state, mut ifname, mut syncid) = (None, String::new(), 0);
    let mut d = SyncDaemon {
        state: SyncState::Master,
        ifname: String::new(),
        syncid: 0,
        sync_maxlen: None,
        mcast_group: None,
        mcast_port: None,
        mcast_ttl: None,
    };
    for a in attrs(b) {
        match a? {
            (daemon_attr::STATE, v) => state = Some(get_u32("DAEMON_ATTR_STATE", v)?),
            (daemon_attr::MCAST_IFN, v) => ifname = get_str("DAEMON_ATTR_MCAST_IFN", v)?,
            (daemon_attr::SYNC_ID, v) => syncid = get_u32("DAEMON_ATTR_SYNC_ID", v)?,
            (daemon_attr::SYNC_MAXLEN, v) => {
                d.sync_maxlen = Some(get_u16("DAEMON_ATTR_SYNC_MAXLEN", v)?)
            }
            (daemon_attr::MCAST_GROUP, v) => {
                d.mcast_group = Some(addr_from("DAEMON_ATTR_MCAST_GROUP", Family::V4, v)?)
            }
            (daemon_attr::MCAST_GROUP6, v) => {
                d.mcast_group = Some(addr_from("DAEMON_ATTR_MCAST_GROUP6", Family::V6, v)?)
            }
            (daemon_attr::MCAST_PORT, v) => {
                d.mcast_port = Some(get_u16("DAEMON_ATTR_MCAST_PORT", v)?)
            }
            (daemon_attr::MCAST_TTL, v) => d.mcast_ttl = Some(get_u8("DAEMON_ATTR_MCAST_TTL", v)?),
            _ => {}
        }
    }
    let state = state.ok_or(DecodeError::Missing("IPVS_DAEMON_ATTR_STATE"))?;
    d.state = SyncState::from_value(state).ok_or(DecodeError::SyncState(state))?;
    d.ifname = ifname;
    d.syncid = syncid;
    Ok(d)
}

/// Reads one request message (ipvsadm's or ours) back: its sequence number, flags and
/// what it asks. Requests this crate never sends (ZERO, GET_SERVICE of one service)
/// are `NotARequest`.
pub fn decode_request(msg: &[u8], family_id: u16) -> Result<(u32, u16, Request), DecodeError> {
    let h = Header::parse(msg)?;
    let (command, body) = genl_payload(&msg[nl::NLMSG_HDRLEN..h.len as usize])?;
    if h.ty != family_id {
        return Err(DecodeError::NotARequest {
            ty: h.ty,
            cmd: command,
        });
    }
    let key = || parse_service(nested(body, cmd_attr::SERVICE)?).map(|(s, _)| s.key);
    let dest = || parse_dest(nested(body, cmd_attr::DEST)?).map(|d| d.dest);
    let req = match command {
        cmd::NEW_SERVICE => Request::Op(Op::AddService(
            parse_service(nested(body, cmd_attr::SERVICE)?)?.0,
        )),
        cmd::SET_SERVICE => Request::Op(Op::EditService(
            parse_service(nested(body, cmd_attr::SERVICE)?)?.0,
        )),
        cmd::DEL_SERVICE => Request::Op(Op::DelService(key()?)),
        cmd::NEW_DEST => Request::Op(Op::AddDest(key()?, dest()?)),
        cmd::SET_DEST => Request::Op(Op::EditDest(key()?, dest()?)),
        cmd::DEL_DEST => {
            // A key-only destination has no forwarding method: read address and port.
            let b = nested(body, cmd_attr::DEST)?;
            let (mut af, mut addr, mut port) = (None, None, None);
            for a in attrs(b) {
                match a? {
                    (dest_attr::ADDR_FAMILY, v) => af = Some(get_u16("DEST_ATTR_ADDR_FAMILY", v)?),
                    (dest_attr::ADDR, v) => addr = Some(v),
                    (dest_attr::PORT, v) => port = Some(get_be16("DEST_ATTR_PORT", v)?),
                    _ => {}
                }
            }
            let k = key()?;
            let fam = match af {
                Some(af) => family(af)?,
                None => k.family(),
            };
            Request::Op(Op::DelDest(
                k,
                DestKey {
                    addr: addr_from(
                        "DEST_ATTR_ADDR",
                        fam,
                        addr.ok_or(DecodeError::Missing("IPVS_DEST_ATTR_ADDR"))?,
                    )?,
                    port: port.ok_or(DecodeError::Missing("IPVS_DEST_ATTR_PORT"))?,
                },
            ))
        }
        cmd::GET_SERVICE if h.flags & nl::NLM_F_DUMP == nl::NLM_F_DUMP => Request::GetServices,
        cmd::GET_DEST => Request::GetDests(key()?),
        cmd::GET_INFO => Request::GetInfo,
        cmd::GET_CONFIG => Request::GetConfig,
        cmd::SET_CONFIG => Request::SetConfig(parse_timeouts(body)?),
        cmd::NEW_DAEMON => Request::NewDaemon(parse_daemon(nested(body, cmd_attr::DAEMON)?)?),
        cmd::DEL_DAEMON => Request::DelDaemon(parse_daemon(nested(body, cmd_attr::DAEMON)?)?.state),
        cmd::GET_DAEMON => Request::GetDaemons,
        cmd::FLUSH => Request::Flush,
        c => return Err(DecodeError::NotARequest { ty: h.ty, cmd: c }),
    };
    Ok((h.seq, h.flags, req))
}

#[cfg(test)]
mod tests;
