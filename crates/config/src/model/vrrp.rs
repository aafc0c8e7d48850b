//! `vrrp_instance`, `vrrp_sync_group`, `garp_group`.
//!
//! Field names are keepalived's keyword names. Values that keepalived inherits from
//! `global_defs` (version, garp timings, strict mode, ...) are filled in by the
//! validation pass, so the model shows what will actually run.
use crate::model::ipspec::{Route, Rule, VirtualAddress};
use crate::model::{Script, Secs};
use crate::source::Span;
use serde::Serialize;
use std::net::IpAddr;

/// Initial state (`state MASTER|BACKUP`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum State {
    #[default]
    Backup,
    Master,
}

/// Address family an instance runs VRRP over (decided by its VIPs, `native_ipv6`,
/// its source address or its peers).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Family {
    #[default]
    Ipv4,
    Ipv6,
}

impl Family {
    pub fn of(a: &IpAddr) -> Family {
        match a {
            IpAddr::V4(_) => Family::Ipv4,
            IpAddr::V6(_) => Family::Ipv6,
        }
    }
    pub fn label(self) -> &'static str {
        match self {
            Family::Ipv4 => "IPv4",
            Family::Ipv6 => "IPv6",
        }
    }
}

/// One line of a `track_interface` / `track_script` / `track_file` / `track_process`
/// / `track_bfd` block: `NAME [weight N [reverse|noreverse]]`.
#[derive(Debug, Clone, Default, Serialize)]
pub struct TrackRef {
    pub name: String,
    /// `weight`; `None`: the tracked object's own weight (0 for interfaces).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub weight: Option<i32>,
    pub reverse: bool,
    #[serde(skip)]
    pub span: Span,
}

/// keepalived's create_vmac_name: the first of `P.V`, `P1.V`, `P2.V`, ... (an IPv6
/// link tries `P6.V` second and skips 6 afterwards) that `taken` does not hold, the
/// prefix cut so the name fits IFNAMSIZ (15 characters).
pub fn vmac_name(prefix: &str, vrid: u8, v6: bool, taken: &dyn Fn(&str) -> bool) -> String {
    let fit = |num: Option<u16>| {
        let tail = match num {
            Some(n) => format!("{n}.{vrid}"),
            None => format!(".{vrid}"),
        };
        let room = 15usize.saturating_sub(tail.len());
        let p: String = prefix.chars().take(room).collect();
        format!("{p}{tail}")
    };
    let mut num: Option<u16> = None;
    loop {
        let name = fit(num);
        if !taken(&name) || num == Some(u16::MAX) {
            return name;
        }
        num = Some(match (num, v6) {
            (None, true) => 6,
            (Some(6), true) => 1,
            (Some(n), true) if n + 1 == 6 => 7,
            (Some(n), _) => n + 1,
            (None, false) => 1,
        });
    }
}

/// `use_vmac [[name] IFNAME] [MAC] [netlink_notify_msg] [group GROUP]`.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Vmac {
    /// Interface name; keepalived's default is `vrrp.<VRID>`.
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mac: Option<String>,
    pub netlink_notify_msg: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
}

/// `use_ipvlan [[name] IFNAME] [ADDR[/LEN]] [bridge|private|vepa] [group GROUP]`.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Ipvlan {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mode: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
}

/// One `unicast_peer` line: `ADDR [min_ttl N] [max_ttl N]`.
#[derive(Debug, Clone, Serialize)]
pub struct UnicastPeer {
    pub address: IpAddr,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min_ttl: Option<u8>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_ttl: Option<u8>,
    #[serde(skip)]
    pub span: Span,
}

/// `auth_type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum AuthType {
    #[serde(rename = "PASS")]
    Pass,
    #[serde(rename = "AH")]
    Ah,
}

/// `authentication { auth_type PASS|AH  auth_pass SECRET }`.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Authentication {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub auth_type: Option<AuthType>,
    /// At most 8 characters (keepalived uses the first eight).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub auth_pass: Option<String>,
    #[serde(skip)]
    pub span: Span,
}

/// One `key ID VALUE` of `auth_hmac`.
#[derive(Debug, Clone, Default, Serialize)]
pub struct HmacKey {
    pub id: u8,
    /// As written (`hex:...`, `file:...` or a plain string).
    pub value: String,
}

/// `auth_hmac { key ... active_key ... anti_replay ... time_window ... mode ... }`
/// (newer keepalived releases).
#[derive(Debug, Clone, Default, Serialize)]
pub struct AuthHmac {
    pub key: Vec<HmacKey>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub active_key: Option<u8>,
    /// `time` (default) or `monotonic`.
    pub anti_replay: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub time_window: Option<u32>,
    /// `enforce` (default), `permissive` or `receive-only`.
    pub mode: String,
    #[serde(skip)]
    pub span: Span,
}

/// `garp_extra_if [all] SECS` (0 disables).
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct GarpExtraIf {
    pub all: bool,
    pub interval: Secs,
}

/// Which defaulted settings were written in the instance (not serialised); the
/// validation pass uses it to fill the others from `global_defs` and to tell
/// what the operator asked for from what was inherited.
#[derive(Debug, Clone, Copy, Default)]
pub struct Explicit {
    pub state: bool,
    pub priority: bool,
    /// The address family was fixed by an address or `native_ipv6`.
    pub family: bool,
    pub version: bool,
    pub accept: bool,
    pub strict_mode: bool,
    pub skip_check_adv_addr: bool,
    pub lower_prio_no_advert: bool,
    pub higher_prio_send_advert: bool,
    pub check_unicast_src: bool,
    pub garp_master_delay: bool,
    pub garp_master_repeat: bool,
    pub garp_lower_prio_delay: bool,
    pub garp_lower_prio_repeat: bool,
    pub garp_master_refresh: bool,
    pub garp_master_refresh_repeat: bool,
    pub down_timer_adverts: bool,
    pub preempt_delay: bool,
    pub unicast_ttl: bool,
    /// A unicast keyword (`unicast_src_ip`, `unicast_peer`, ...) was written.
    pub unicast: bool,
}

/// `vrrp_instance NAME { ... }`.
#[derive(Debug, Clone, Serialize)]
pub struct VrrpInstance {
    pub name: String,
    pub state: State,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub interface: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vrf: Option<String>,
    /// Decided by the VIPs (or `native_ipv6`, the source address, the peers).
    pub family: Family,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub use_vmac: Option<Vmac>,
    pub use_vmac_addr: bool,
    pub vmac_xmit_base: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub use_ipvlan: Option<Ipvlan>,
    pub native_ipv6: bool,
    pub dont_track_primary: bool,
    pub track_interface: Vec<TrackRef>,
    pub track_script: Vec<TrackRef>,
    pub track_file: Vec<TrackRef>,
    pub track_process: Vec<TrackRef>,
    pub track_bfd: Vec<TrackRef>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mcast_src_ip: Option<IpAddr>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unicast_src_ip: Option<IpAddr>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mcast_dst_ip: Option<IpAddr>,
    pub track_src_ip: bool,
    /// 2 or 3 (default: global `vrrp_version`; IPv6 always 3).
    pub version: u8,
    pub check_unicast_src: bool,
    pub unicast_peer: Vec<UnicastPeer>,
    pub unicast_fault_no_peer: bool,
    /// Default 255.
    pub unicast_ttl: u8,
    /// `old_unicast_checksum [never]`: `Some(false)` forces the old checksum,
    /// `Some(true)` ("never") turns off detecting it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub old_unicast_checksum: Option<bool>,
    pub v3_checksum_as_v2: bool,
    pub garp_master_delay: Secs,
    pub garp_master_repeat: u32,
    pub garp_lower_prio_delay: Secs,
    pub garp_lower_prio_repeat: u32,
    pub garp_master_refresh: Secs,
    pub garp_master_refresh_repeat: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub garp_extra_if: Option<GarpExtraIf>,
    /// Default 3 (RFC).
    pub down_timer_adverts: u32,
    pub lower_prio_no_advert: bool,
    pub higher_prio_send_advert: bool,
    /// `keepup_router_advert [LIFETIME]` (keepup only; keepalived sends no Router
    /// Advertisements): the router lifetime in seconds of the RAs a Master sends.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub router_advert: Option<u32>,
    /// `timer_expired_backup [PRIO]` (newer keepalived; default priority 254).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timer_expired_backup: Option<u8>,
    /// 1..=255; `None` if missing (keepalived then drops the instance).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub virtual_router_id: Option<u8>,
    /// 1..=255, default 100; 255 means address owner.
    pub priority: u8,
    /// Default 1 s.
    pub advert_int: Secs,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub authentication: Option<Authentication>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub auth_hmac: Option<AuthHmac>,
    pub virtual_ipaddress: Vec<VirtualAddress>,
    pub virtual_ipaddress_excluded: Vec<VirtualAddress>,
    pub no_virtual_ipaddress: bool,
    pub promote_secondaries: bool,
    pub virtual_routes: Vec<Route>,
    pub virtual_rules: Vec<Rule>,
    /// Accept mode: on unless strict mode (or `no_accept`).
    pub accept: bool,
    pub nopreempt: bool,
    pub preempt_delay: Secs,
    pub skip_check_adv_addr: bool,
    pub strict_mode: bool,
    pub debug: u8,
    /// The notify keywords, flattened so the JSON keeps keepalived's keyword names.
    #[serde(flatten)]
    pub notifications: Notify,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kernel_rx_buf_size: Option<u64>,
    /// Deprecated: use `linkbeat_interfaces`.
    pub linkbeat_use_polling: bool,
    /// Deprecated: use the global `lvs_sync_daemon`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lvs_sync_daemon_interface: Option<String>,
    /// The sync group this instance belongs to (filled in by validation).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sync_group: Option<String>,
    #[serde(skip)]
    pub explicit: Explicit,
    #[serde(skip)]
    pub span: Span,
}

impl Default for VrrpInstance {
    fn default() -> Self {
        VrrpInstance {
            name: String::new(),
            state: State::Backup,
            interface: None,
            vrf: None,
            family: Family::Ipv4,
            use_vmac: None,
            use_vmac_addr: false,
            vmac_xmit_base: false,
            use_ipvlan: None,
            native_ipv6: false,
            dont_track_primary: false,
            track_interface: Vec::new(),
            track_script: Vec::new(),
            track_file: Vec::new(),
            track_process: Vec::new(),
            track_bfd: Vec::new(),
            mcast_src_ip: None,
            unicast_src_ip: None,
            mcast_dst_ip: None,
            track_src_ip: false,
            version: 2,
            check_unicast_src: false,
            unicast_peer: Vec::new(),
            unicast_fault_no_peer: false,
            unicast_ttl: 255,
            old_unicast_checksum: None,
            v3_checksum_as_v2: false,
            garp_master_delay: Secs::from_secs(5),
            garp_master_repeat: 5,
            garp_lower_prio_delay: Secs::from_secs(5),
            garp_lower_prio_repeat: 5,
            garp_master_refresh: Secs::default(),
            garp_master_refresh_repeat: 1,
            garp_extra_if: None,
            down_timer_adverts: 3,
            lower_prio_no_advert: false,
            higher_prio_send_advert: false,
            router_advert: None,
            timer_expired_backup: None,
            virtual_router_id: None,
            priority: 100,
            advert_int: Secs::from_secs(1),
            authentication: None,
            auth_hmac: None,
            virtual_ipaddress: Vec::new(),
            virtual_ipaddress_excluded: Vec::new(),
            no_virtual_ipaddress: false,
            promote_secondaries: false,
            virtual_routes: Vec::new(),
            virtual_rules: Vec::new(),
            accept: true,
            nopreempt: false,
            preempt_delay: Secs::default(),
            skip_check_adv_addr: false,
            strict_mode: false,
            debug: 0,
            notifications: Notify::default(),
            kernel_rx_buf_size: None,
            linkbeat_use_polling: false,
            lvs_sync_daemon_interface: None,
            sync_group: None,
            explicit: Explicit::default(),
            span: Span::default(),
        }
    }
}

/// A member name in `group { ... }`.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Member {
    pub name: String,
    #[serde(skip)]
    pub span: Span,
}

/// `vrrp_sync_group NAME { group { ... } ... }`.
#[derive(Debug, Clone, Default, Serialize)]
pub struct SyncGroup {
    pub name: String,
    pub group: Vec<Member>,
    pub track_interface: Vec<TrackRef>,
    pub track_script: Vec<TrackRef>,
    pub track_file: Vec<TrackRef>,
    pub track_process: Vec<TrackRef>,
    pub track_bfd: Vec<TrackRef>,
    /// The notify keywords, flattened so the JSON keeps keepalived's keyword names.
    #[serde(flatten)]
    pub notifications: Notify,
    /// Deprecated: track on the sync group instead.
    pub global_tracking: bool,
    pub sync_group_tracking_weight: bool,
    #[serde(skip)]
    pub span: Span,
}

/// `garp_group { garp_interval .. gna_interval .. interface IF | interfaces { .. } }`.
#[derive(Debug, Clone, Default, Serialize)]
pub struct GarpGroup {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub garp_interval: Option<Secs>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gna_interval: Option<Secs>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub interface: Option<String>,
    pub interfaces: Vec<String>,
    #[serde(skip)]
    pub span: Span,
}

/// The notify keywords a `vrrp_instance` and a `vrrp_sync_group` share.
/// (`notify_master_rx_lower_pri` is the instance's only; a sync group never sets it.)
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Notify {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub notify_master: Option<Script>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub notify_backup: Option<Script>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub notify_fault: Option<Script>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub notify_stop: Option<Script>,
    /// `notify_deleted [SCRIPT]`: report DELETED rather than FAULT.
    pub notify_deleted: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub notify_deleted_script: Option<Script>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub notify: Option<Script>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub notify_master_rx_lower_pri: Option<Script>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub notify_priority_changes: Option<bool>,
    /// `None`: the global `smtp_alert` setting decides.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub smtp_alert: Option<bool>,
}

/// `Notify`'s script slots with their keywords, as an array of `(keyword, &slot)`
/// (`$($m)*` is empty or `mut`): one list for the shared and the mutable view.
macro_rules! notify_slots {
    ($n:expr, $($m:tt)*) => {
        [
            ("notify_master", &$($m)* $n.notify_master),
            ("notify_backup", &$($m)* $n.notify_backup),
            ("notify_fault", &$($m)* $n.notify_fault),
            ("notify_stop", &$($m)* $n.notify_stop),
            ("notify_deleted", &$($m)* $n.notify_deleted_script),
            ("notify", &$($m)* $n.notify),
            ("notify_master_rx_lower_pri", &$($m)* $n.notify_master_rx_lower_pri),
        ]
    };
}

impl Notify {
    /// Every script slot, set or not, with its keyword.
    pub fn slots_mut(&mut self) -> [(&'static str, &mut Option<Script>); 7] {
        notify_slots!(self, mut)
    }

    /// The scripts set, each with its keyword.
    pub fn scripts(&self) -> impl Iterator<Item = (&'static str, &Script)> {
        notify_slots!(self,)
            .into_iter()
            .filter_map(|(k, s)| s.as_ref().map(|s| (k, s)))
    }
}
