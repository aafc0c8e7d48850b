//! keepup-vrrp: the VRRP protocol engine, sans-IO.
//!
//! A [`Router`] holds every virtual router of one host (its `vrrp_instance`s) and
//! their sync groups. The driver feeds it [`Input`]s with the current time, re-arms
//! one sleep to [`Router::poll_timeout`], calls [`Router::handle_timeout`] when it
//! expires, and carries each [`Output`] from [`Router::poll_output`] to the system.
//! Nothing here reads a clock or touches a socket, so every rule of RFC 3768,
//! RFC 5798 and RFC 9568 is a unit test on virtual time.

pub mod config;
pub mod counters;
pub mod event;
mod hmac;
mod instance;
mod named;
mod router;
pub mod time;

pub use config::{
    Auth, GarpConfig, HmacConfig, IfIndex, InitialState, InstanceConfig, SyncGroupConfig,
    UnicastPeer,
};
pub use counters::{Counters, GlobalCounters};
pub use event::{Discard, Event, Handover};
pub use router::{ConfigError, Router};
pub use time::Instant;

use std::net::{IpAddr, Ipv6Addr};

/// A virtual router, by its index in the configuration handed to [`Router::new`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
pub struct InstanceId(pub usize);

/// A virtual router's state: RFC 3768/9568 Initialize, Backup and Master (Active),
/// plus keepalived's Fault and Stop.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
pub enum State {
    /// Waiting for Startup; holds nothing, sends nothing.
    Initialize,
    Backup,
    Master,
    /// An interface is down or a tracker failed (KA-18): holds no VIP, sends nothing,
    /// acts on no advert.
    Fault,
    /// Shut down (after Shutdown); like Initialize but final.
    Stop,
}

impl State {
    /// keepalived's word, for log lines and notify scripts.
    pub fn keepalived_name(self) -> &'static str {
        match self {
            State::Initialize => "INIT",
            State::Backup => "BACKUP",
            State::Master => "MASTER",
            State::Fault => "FAULT",
            State::Stop => "STOP",
        }
    }
}

impl std::fmt::Display for State {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.keepalived_name())
    }
}

/// Why a transition happened (the input that explains it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
pub enum Reason {
    /// Startup as address owner or the non-owner start (INI-01/02, KA-02).
    Startup,
    /// The down timer expired: no advert from a Master for the down interval (BKP-07).
    MasterDown,
    /// An advert with priority 0: the Master resigned, down timer at skew (BKP-08).
    PriorityZero,
    /// An advert with a higher priority (or equal from a larger address) while Master
    /// (MST-09).
    HigherPriority,
    /// We outrank the Master and preemption is on: its adverts were discarded until
    /// the down timer expired (BKP-11).
    Preempt,
    /// Shutdown (MST-06, BKP-06).
    Shutdown,
    /// An interface or tracker failed (KA-18).
    Fault,
    /// The fault cleared.
    FaultCleared,
    /// Another member of the sync group moved.
    SyncGroup,
    /// The operator asked this Master to hand over ([`Input::Yield`]).
    Yield,
}

impl Reason {
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::Startup => "startup",
            Reason::MasterDown => "master-down",
            Reason::PriorityZero => "priority-zero",
            Reason::HigherPriority => "higher-priority",
            Reason::Preempt => "preempt",
            Reason::Shutdown => "shutdown",
            Reason::Fault => "fault",
            Reason::FaultCleared => "fault-cleared",
            Reason::SyncGroup => "sync-group",
            Reason::Yield => "handover",
        }
    }
}

/// A received packet, as the socket gave it.
#[derive(Debug, Clone, Copy)]
pub struct RxPacket<'a> {
    /// The interface it arrived on.
    pub interface: IfIndex,
    pub data: RxData<'a>,
}

#[derive(Debug, Clone, Copy)]
pub enum RxData<'a> {
    /// A raw IPv4 socket delivers the IP header (TTL, addresses, AH) with the payload.
    V4(&'a [u8]),
    /// A raw IPv6 socket delivers the VRRP message; the rest comes from ancillary data.
    V6 {
        src: Ipv6Addr,
        dst: Ipv6Addr,
        hop_limit: u8,
        vrrp: &'a [u8],
    },
}

/// What a tracked object (interface, script, file, process, BFD) does to an instance.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TrackEffect {
    /// Contributes this weight to the effective priority (0 when healthy with a
    /// negative weight, etc.: the driver resolves the tracker to a number).
    Weight(i32),
    /// Puts the instance in FAULT while true (a tracker without weight that failed).
    Fault(bool),
    /// Not known yet (keepalived: a weight-0 script before its first result). An
    /// instance with a pending tracker, or in a sync group with one, waits in
    /// Initialize at Startup until none is left, then starts (in Fault if a tracker
    /// then says so). Once started it contributes nothing.
    Pending,
}

/// Something that happened outside the engine.
#[derive(Debug, Clone, Copy)]
pub enum Input<'a> {
    /// Start every instance (RFC "Startup event").
    Startup,
    /// Stop every instance (RFC "Shutdown event"): Masters resign with priority 0.
    Shutdown,
    /// A VRRP (or AH) packet arrived.
    Packet(RxPacket<'a>),
    /// An interface went up or down (carrier / admin state).
    Link { interface: IfIndex, up: bool },
    /// The source address an instance's adverts use changed (primary IPv4 address or
    /// IPv6 link-local of its interface). `None`: it has none (it then sends nothing).
    SourceAddress {
        instance: InstanceId,
        address: Option<IpAddr>,
    },
    /// Another host announced one of this instance's VIPs (a gratuitous ARP or an
    /// unsolicited NA from another MAC). A stopped Master holding its VIPs for the
    /// handover lets them go at once: the clients have been told of the new Master.
    Claimed { instance: InstanceId },
    /// Hand mastership over without stopping (`on`), or take that back. A yielding
    /// Master (with its sync group) sends priority 0 and becomes Backup, holding its
    /// VIPs until the new Master is heard (as a stopping one does); from then on the
    /// instance does not preempt: it takes over only when no Master is heard for
    /// the down interval (which also ends the yield). `on: false` restores preemption.
    Yield { instance: InstanceId, on: bool },
    /// A valid IPv6 Router Solicitation arrived on `interface`: a Master there with
    /// `keepup_router_advert` answers with a Router Advertisement soon (RFC 4861
    /// §6.2.6: within 0.5 s, and no sooner than 3 s after its last one).
    RouterSolicitation { interface: IfIndex },
    /// A tracker's effect on one instance changed. `tracker` identifies it (the driver
    /// numbers its trackers); the latest effect per tracker counts. `Weight(0)` is the
    /// same as no tracker: it forgets that id (the driver's way to drop a tracker).
    Track {
        instance: InstanceId,
        tracker: u32,
        effect: TrackEffect,
    },
}

/// An advert to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TxAdvert {
    pub instance: InstanceId,
    pub interface: IfIndex,
    pub dst: IpAddr,
    /// TTL / hop limit (255, or `unicast_ttl` for unicast).
    pub ttl: u8,
    /// IPv4: the whole IP packet (header, AH if configured, VRRP), for IP_HDRINCL.
    /// IPv6: the VRRP message (checksummed with the configured source).
    pub packet: Vec<u8>,
}

/// Something the driver must do, or report.
#[derive(Debug, Clone, PartialEq)]
pub enum Output {
    Advert(TxAdvert),
    /// Add (`true`) or remove the instance's VIPs (and with them routes/rules, accept
    /// filters, the VMAC): the driver knows the details from the configuration.
    Vips {
        instance: InstanceId,
        install: bool,
    },
    /// Announce these VIPs once each: gratuitous ARP (IPv4) or unsolicited NA (IPv6).
    Announce {
        instance: InstanceId,
        addresses: Vec<IpAddr>,
    },
    /// Send one IPv6 Router Advertisement for the virtual router (ARP-07): from its
    /// link-local VIP, with the lifetime of `keepup_router_advert`. Only a Master
    /// asks for it (BKP-03).
    RouterAdvert {
        instance: InstanceId,
    },
    /// A state change (notify scripts, logs, metrics).
    Transition {
        instance: InstanceId,
        from: State,
        to: State,
        reason: Reason,
    },
    /// Something worth a log line (already rate-limited where it could flood).
    Event(Event),
}
