//! What one virtual router and one sync group are told at start. The daemon builds
//! these from keepalived.conf (names follow its keywords); tests build them directly.
use keepup_wire::hmac_auth::{AntiReplay, Key, Mode};
use keepup_wire::vrrp::{ChecksumForm, Version};
use std::net::IpAddr;
use std::time::Duration;

/// An interface, by kernel index (the simulator numbers its own).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
pub struct IfIndex(pub u32);

/// `state MASTER|BACKUP`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
pub enum InitialState {
    #[default]
    Backup,
    Master,
}

/// `authentication { auth_type .. auth_pass .. }` (VRRPv2 only; KA-20).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Auth {
    #[default]
    None,
    /// The password, zero-padded to 8 octets (AUTH-02).
    Pass([u8; 8]),
    /// The AH key: `auth_pass` as keepalived keys HMAC-MD5 with it (AUTH-03).
    Ah(Vec<u8>),
}

impl Auth {
    /// keepalived takes the first 8 characters of `auth_pass`.
    pub fn pass(secret: &str) -> Auth {
        let mut b = [0u8; 8];
        for (d, s) in b.iter_mut().zip(secret.bytes()) {
            *d = s;
        }
        Auth::Pass(b)
    }
    pub fn ah(secret: &str) -> Auth {
        let mut b = [0u8; 8];
        for (d, s) in b.iter_mut().zip(secret.bytes()) {
            *d = s;
        }
        Auth::Ah(b.to_vec())
    }
}

/// `auth_hmac { ... }` (keepalived 2.4.2/2.4.3, draft-cassen-vrrp-auth-hmac): a
/// 28-octet HMAC-SHA256-128 trailer after each advert (`keepup_wire::hmac_auth`).
/// Keys are decoded already (the daemon reads `file:` keys); `time_window` is inside
/// `anti_replay`.
///
/// Only keepalived 2.2.7 is installable in keepup's lab, which has no `auth_hmac`:
/// the format is proven by keepalived's published vectors and by round trips
/// between keepup routers, not against a live keepalived 2.4.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HmacConfig {
    /// Every configured key: a receiver accepts a trailer signed with any of them
    /// (make-before-break rotation).
    pub keys: Vec<Key>,
    /// `active_key`: the key adverts are signed with.
    pub active_key: u8,
    pub anti_replay: AntiReplay,
    pub mode: Mode,
}

impl HmacConfig {
    /// The active key, if it is configured (validated at `Router::new`).
    pub fn signing_key(&self) -> Option<&Key> {
        keepup_wire::hmac_auth::find_key(&self.keys, self.active_key)
    }
}

/// One `unicast_peer` line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UnicastPeer {
    pub address: IpAddr,
    /// Accepted TTL range of adverts from this peer (newer keepalived; KA-13). `None`:
    /// not checked, as in keepalived 2.2.7.
    pub min_ttl: Option<u8>,
    pub max_ttl: Option<u8>,
}

/// The gratuitous ARP / unsolicited NA schedule (KA-15).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GarpConfig {
    /// `garp_master_delay`: the second burst after becoming MASTER (0: none).
    pub master_delay: Duration,
    /// `garp_master_repeat`: announcements per VIP in each burst.
    pub master_repeat: u32,
    /// `garp_lower_prio_delay`: the second burst after a lower-priority advert.
    pub lower_prio_delay: Duration,
    /// `garp_lower_prio_repeat`: per VIP when a lower-priority advert arrives (0: none).
    pub lower_prio_repeat: u32,
    /// `garp_master_refresh`: periodic burst while MASTER (0: off).
    pub master_refresh: Duration,
    /// `garp_master_refresh_repeat`.
    pub master_refresh_repeat: u32,
    /// `garp_interval` / `gna_interval`: spacing between announcements of one burst.
    pub interval: Duration,
}

impl Default for GarpConfig {
    fn default() -> Self {
        GarpConfig {
            master_delay: Duration::from_secs(5),
            master_repeat: 5,
            lower_prio_delay: Duration::from_secs(5),
            lower_prio_repeat: 5,
            master_refresh: Duration::ZERO,
            master_refresh_repeat: 1,
            interval: Duration::ZERO,
        }
    }
}

/// One `vrrp_instance`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstanceConfig {
    pub name: String,
    pub vrid: u8,
    pub version: Version,
    /// The interface VRRP runs on.
    pub interface: IfIndex,
    /// Configured priority, 1–255 (255: address owner).
    pub priority: u8,
    /// `advert_int` (v2: whole seconds; v3: a multiple of 10 ms, 10 ms–40.95 s).
    pub advert_int: Duration,
    pub state: InitialState,
    /// `virtual_ipaddress`: advertised and installed, in this order. All of the
    /// instance's family. (`virtual_ipaddress_excluded` never reaches the engine.)
    pub vips: Vec<IpAddr>,
    /// Source of adverts: `unicast_src_ip` / `mcast_src_ip`, or the interface's
    /// primary address (IPv6: its link-local). `None` until the driver reports one
    /// (`Input::SourceAddress`); an instance without one sends nothing.
    pub source: Option<IpAddr>,
    /// `unicast_peer`: adverts go to each peer instead of the multicast group.
    pub unicast_peers: Vec<UnicastPeer>,
    /// `unicast_ttl` (multicast adverts always leave with 255).
    pub unicast_ttl: u8,
    /// `mcast_dst_ip` / `vrrp_mcast_group4|6` (default 224.0.0.18 / ff02::12).
    pub mcast_group: Option<IpAddr>,
    /// `check_unicast_src`: a unicast advert from an address not in `unicast_peers`
    /// is discarded.
    pub check_unicast_src: bool,
    pub auth: Auth,
    /// `auth_hmac`: sign and verify adverts (any version, either family).
    pub auth_hmac: Option<HmacConfig>,
    /// `!nopreempt` (nopreempt only counts with `state BACKUP`, KA-17).
    pub preempt: bool,
    /// `preempt_delay`.
    pub preempt_delay: Duration,
    /// Accept mode (KA-16): passed through to the driver with the VIPs.
    pub accept: bool,
    /// `vrrp_strict` / `strict_mode` (KA-25).
    pub strict: bool,
    /// `skip_check_adv_addr` (KA-10).
    pub skip_check_adv_addr: bool,
    /// `lower_prio_no_advert` (KA-07).
    pub lower_prio_no_advert: bool,
    /// `higher_prio_send_advert` (KA-08).
    pub higher_prio_send_advert: bool,
    pub garp: GarpConfig,
    /// `down_timer_adverts` (KA-04), default 3.
    pub down_timer_adverts: u32,
    /// VRRPv3 over IPv4 checksum sent (`v3_checksum_as_v2` → `MessageOnly`).
    pub checksum_form: ChecksumForm,
    /// Planned switchover without loss: on Shutdown a Master sends its priority-0
    /// advert as the RFC says but keeps its VIPs (so clients are still answered)
    /// until it hears the new Master's advert, or at most for the slowest successor's
    /// Skew_Time and a second (`Instance::handover_bound`).
    /// Off: the VIPs go with the priority-0 advert (RFC 3768 / 9568, keepalived).
    pub handover: bool,
    /// `keepup_router_advert`: while Master, send IPv6 Router Advertisements for the
    /// virtual router with this router lifetime (ARP-07; keepalived sends none,
    /// KA-21). `None`: none are sent.
    pub router_advert: Option<Duration>,
}

impl InstanceConfig {
    /// An instance with keepalived's defaults: v2 if every VIP is IPv4, v3 otherwise;
    /// priority 100, 1 s, BACKUP, preempt on, 3 down-timer adverts.
    pub fn new(name: &str, vrid: u8, interface: IfIndex, vips: Vec<IpAddr>) -> InstanceConfig {
        let v6 = vips.iter().any(|a| a.is_ipv6());
        InstanceConfig {
            name: name.to_string(),
            vrid,
            version: if v6 { Version::V3 } else { Version::V2 },
            interface,
            priority: 100,
            advert_int: Duration::from_secs(1),
            state: InitialState::Backup,
            vips,
            source: None,
            unicast_peers: Vec::new(),
            unicast_ttl: 255,
            mcast_group: None,
            check_unicast_src: false,
            auth: Auth::None,
            auth_hmac: None,
            preempt: true,
            preempt_delay: Duration::ZERO,
            accept: true,
            strict: false,
            skip_check_adv_addr: false,
            lower_prio_no_advert: false,
            higher_prio_send_advert: false,
            garp: GarpConfig::default(),
            down_timer_adverts: 3,
            checksum_form: ChecksumForm::PseudoHeader,
            handover: false,
            router_advert: None,
        }
    }

    /// The instance runs over IPv6.
    pub fn is_v6(&self) -> bool {
        self.vips.first().is_some_and(|a| a.is_ipv6()) || self.source.is_some_and(|a| a.is_ipv6())
    }
}

/// One `vrrp_sync_group`: members by index into the router's instances.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SyncGroupConfig {
    pub name: String,
    pub members: Vec<String>,
}
