//! `global_defs` and the other global blocks.
use crate::model::{Script, Secs};
use serde::Serialize;

/// `global_defs` (and the top-level daemon keywords such as `net_namespace`).
/// Field names are keepalived's keyword names.
#[derive(Debug, Clone, Serialize)]
pub struct GlobalDefs {
    /// `vrrp_strict`: enforce RFC compliance (no auth, no unicast, v3 IPv6 VIP rules ...).
    pub vrrp_strict: bool,
    /// `enable_script_security`.
    pub enable_script_security: bool,
    /// `script_user USER [GROUP]` (the user/group in a `Script`; `command` unused).
    pub script_user: Option<Script>,
    /// `default_interface` (default eth0) for static addresses and VIPs without `dev`.
    pub default_interface: Option<String>,
    /// `vrrp_version` (default 2).
    pub vrrp_version: u8,
    /// `vrrp_garp_master_delay` (default 5 s).
    pub vrrp_garp_master_delay: Secs,
    /// `vrrp_garp_master_repeat` (default 5).
    pub vrrp_garp_master_repeat: u32,
    /// `vrrp_garp_master_refresh` (default 0 = none).
    pub vrrp_garp_master_refresh: Secs,
    /// `vrrp_garp_master_refresh_repeat` (default 1).
    pub vrrp_garp_master_refresh_repeat: u32,
    /// `vrrp_garp_lower_prio_delay` (default: garp master delay).
    pub vrrp_garp_lower_prio_delay: Option<Secs>,
    /// `vrrp_garp_lower_prio_repeat` (default: garp master repeat).
    pub vrrp_garp_lower_prio_repeat: Option<u32>,
    /// `vrrp_garp_interval` (default 0 = no pacing).
    pub vrrp_garp_interval: Secs,
    /// `vrrp_gna_interval` (default 0 = no pacing).
    pub vrrp_gna_interval: Secs,
    /// `vrrp_lower_prio_no_advert`.
    pub vrrp_lower_prio_no_advert: bool,
    /// `vrrp_higher_prio_send_advert`.
    pub vrrp_higher_prio_send_advert: bool,
    /// `vrrp_skip_check_adv_addr`.
    pub vrrp_skip_check_adv_addr: bool,
    /// `vrrp_check_unicast_src`.
    pub vrrp_check_unicast_src: bool,
    /// `vrrp_min_garp`.
    pub vrrp_min_garp: bool,
    /// `vrrp_startup_delay`.
    pub vrrp_startup_delay: Secs,
}

impl Default for GlobalDefs {
    fn default() -> Self {
        GlobalDefs {
            vrrp_strict: false,
            enable_script_security: false,
            script_user: None,
            default_interface: None,
            vrrp_version: 2,
            vrrp_garp_master_delay: Secs::from_secs(5),
            vrrp_garp_master_repeat: 5,
            vrrp_garp_master_refresh: Secs::default(),
            vrrp_garp_master_refresh_repeat: 1,
            vrrp_garp_lower_prio_delay: None,
            vrrp_garp_lower_prio_repeat: None,
            vrrp_garp_interval: Secs::default(),
            vrrp_gna_interval: Secs::default(),
            vrrp_lower_prio_no_advert: false,
            vrrp_higher_prio_send_advert: false,
            vrrp_skip_check_adv_addr: false,
            vrrp_check_unicast_src: false,
            vrrp_min_garp: false,
            vrrp_startup_delay: Secs::default(),
        }
    }
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct LinkbeatInterface {
    pub name: String,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct TrackGroup {
    pub name: String,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct InterfaceDelay {
    pub interface: String,
}
