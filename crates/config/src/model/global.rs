//! `global_defs`, the top-level daemon keywords, and the other global blocks
//! (`linkbeat_interfaces`, `track_group`, `interface_up_down_delays`).
use crate::model::{Script, Secs};
use crate::source::Span;
use serde::Serialize;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// `global_defs` (and the top-level daemon keywords such as `net_namespace`).
/// Field names are keepalived's keyword names; defaults are keepalived's.
#[derive(Debug, Clone, Serialize)]
pub struct GlobalDefs {
    // ---- top-level daemon keywords (outside global_defs) ----
    /// `net_namespace NAME`.
    pub net_namespace: Option<String>,
    /// `net_namespace_ipvs [NAME]`: `Some("")` means the default namespace.
    pub net_namespace_ipvs: Option<String>,
    /// `namespace_with_ipsets`.
    pub namespace_with_ipsets: bool,
    /// `instance NAME`.
    pub instance: Option<String>,
    /// `use_pid_dir`.
    pub use_pid_dir: bool,
    /// `linkbeat_use_polling`.
    pub linkbeat_use_polling: bool,
    /// `child_wait_time SECS` (default 5).
    pub child_wait_time: u32,

    // ---- files, process names, startup/shutdown ----
    pub tmp_config_directory: Option<String>,
    pub config_save_dir: Option<String>,
    /// `process_names`: use the default process names.
    pub process_names: bool,
    pub process_name: Option<String>,
    pub vrrp_process_name: Option<String>,
    pub checker_process_name: Option<String>,
    pub bfd_process_name: Option<String>,
    pub startup_script: Option<Script>,
    /// `startup_script_timeout` (default 10 s, range 1..1000).
    pub startup_script_timeout: u32,
    pub shutdown_script: Option<Script>,
    /// `shutdown_script_timeout` (default 10 s, range 1..1000).
    pub shutdown_script_timeout: u32,

    // ---- email ----
    pub notification_email: Vec<String>,
    /// `notification_email_from` (default keepalived@HOSTNAME).
    pub notification_email_from: Option<String>,
    pub smtp_server: Option<SmtpServer>,
    pub smtp_helo_name: Option<String>,
    /// `smtp_connect_timeout` in seconds (default 30).
    pub smtp_connect_timeout: u32,
    pub smtp_alert: Option<bool>,
    pub smtp_alert_vrrp: Option<bool>,
    pub smtp_alert_checker: Option<bool>,
    pub checker_log_all_failures: bool,
    pub no_email_faults: bool,
    pub rs_init_notifies: bool,
    pub no_checker_emails: bool,

    // ---- identity and VRRP defaults ----
    /// `router_id` (default: host name).
    pub router_id: Option<String>,
    pub vrrp_mcast_group4: Ipv4Addr,
    pub vrrp_mcast_group6: Ipv6Addr,
    /// `default_interface` (default eth0) for static addresses and VIPs without `dev`.
    pub default_interface: Option<String>,

    // ---- LVS ----
    pub lvs_sync_daemon: Option<LvsSyncDaemon>,
    pub lvs_timeouts: LvsTimeouts,
    pub lvs_flush: bool,
    pub lvs_flush_on_stop: LvsFlushOnStop,

    /// `vrrp_strict`: enforce RFC compliance (no auth, no unicast, v3 IPv6 VIP rules ...).
    pub vrrp_strict: bool,
    /// `enable_script_security`.
    pub enable_script_security: bool,
    /// `script_user USER [GROUP]` (the user/group in a `Script`; `command` unused).
    pub script_user: Option<Script>,
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
    /// `vrrp_delay_after_boot` (newer keepalived).
    pub vrrp_delay_after_boot: Secs,
    /// `vrrp_down_timer_adverts` (default 3, range 1..100).
    pub vrrp_down_timer_adverts: u32,
    /// `vrrp_garp_extra_if [all] SECS` (1..86400).
    pub vrrp_garp_extra_if: Option<u32>,
    /// The `all` of `vrrp_garp_extra_if all SECS`.
    pub vrrp_garp_extra_if_all: bool,
    pub vrrp_notify_priority_changes: bool,
    /// `v3_checksum_as_v2` (newer keepalived).
    pub v3_checksum_as_v2: bool,
    pub log_unknown_vrids: bool,
    /// `vmac_prefix` (default "vrrp").
    pub vmac_prefix: Option<String>,
    pub vmac_addr_prefix: Option<String>,

    // ---- firewall ----
    /// `nftables [TABLE]`: `Some` when set; the table defaults to "keepalived".
    pub nftables: Option<String>,
    /// `nftables_priority` (default -1).
    pub nftables_priority: i32,
    pub nftables_counters: bool,
    pub nftables_ifindex: bool,
    /// `nftables_ipvs [TABLE]`.
    pub nftables_ipvs: Option<String>,
    pub nftables_ipvs_priority: Option<i32>,
    /// `nftables_ipvs_start_fwmark` (default 1000).
    pub nftables_ipvs_start_fwmark: u32,
    /// `vrrp_iptables [IN [OUT]]`: the chain names given (empty: INPUT/OUTPUT).
    pub vrrp_iptables: Option<Vec<String>>,
    /// `vrrp_ipsets [NAMES...]`.
    pub vrrp_ipsets: Option<Vec<String>>,
    pub disable_local_igmp: bool,

    // ---- process scheduling ----
    /// `max_auto_priority` (-1..99, default 0 = no automatic increase).
    pub max_auto_priority: i32,
    /// `min_auto_priority_delay` in microseconds (default 1000000).
    pub min_auto_priority_delay: u32,
    pub vrrp_priority: i32,
    pub checker_priority: i32,
    pub bfd_priority: i32,
    pub vrrp_no_swap: bool,
    pub checker_no_swap: bool,
    pub bfd_no_swap: bool,
    pub vrrp_cpu_affinity: Vec<u32>,
    pub checker_cpu_affinity: Vec<u32>,
    pub bfd_cpu_affinity: Vec<u32>,
    pub vrrp_rt_priority: Option<u32>,
    pub checker_rt_priority: Option<u32>,
    pub bfd_rt_priority: Option<u32>,
    /// `*_rlimit_rttime` in microseconds (default 10000).
    pub vrrp_rlimit_rttime: u32,
    pub checker_rlimit_rttime: u32,
    pub bfd_rlimit_rttime: u32,

    // ---- SNMP / DBus ----
    pub snmp_socket: Option<String>,
    /// `enable_snmp_vrrp` (also its old name `enable_snmp_keepalived`).
    pub enable_snmp_vrrp: bool,
    pub enable_snmp_checker: bool,
    pub enable_snmp_rfc: bool,
    pub enable_snmp_rfcv2: bool,
    pub enable_snmp_rfcv3: bool,
    pub enable_traps: bool,
    /// `snmp_vs_stats_update_interval` (newer keepalived; default 5 s).
    pub snmp_vs_stats_update_interval: Secs,
    /// `snmp_rs_stats_update_interval` (newer keepalived; default 5 s).
    pub snmp_rs_stats_update_interval: Secs,
    pub enable_dbus: bool,
    pub dbus_service_name: Option<String>,
    pub dbus_no_interface_name: Option<String>,

    // ---- notify FIFOs (the path is the `Script`'s `command`) ----
    pub notify_fifo: Option<Script>,
    pub notify_fifo_script: Option<Script>,
    pub vrrp_notify_fifo: Option<Script>,
    pub vrrp_notify_fifo_script: Option<Script>,
    pub lvs_notify_fifo: Option<Script>,
    pub lvs_notify_fifo_script: Option<Script>,
    pub fifo_write_vrrp_states_on_reload: bool,

    // ---- interfaces and netlink ----
    pub dynamic_interfaces: bool,
    /// `dynamic_interfaces allow_if_changes`.
    pub dynamic_interfaces_allow_if_changes: bool,
    pub vrrp_netlink_cmd_rcv_bufs: Option<u32>,
    pub vrrp_netlink_cmd_rcv_bufs_force: bool,
    pub vrrp_netlink_monitor_rcv_bufs: Option<u32>,
    pub vrrp_netlink_monitor_rcv_bufs_force: bool,
    pub lvs_netlink_cmd_rcv_bufs: Option<u32>,
    pub lvs_netlink_cmd_rcv_bufs_force: bool,
    pub lvs_netlink_monitor_rcv_bufs: Option<u32>,
    pub lvs_netlink_monitor_rcv_bufs_force: bool,
    pub process_monitor_rcv_bufs: Option<u32>,
    pub process_monitor_rcv_bufs_force: bool,
    pub vrrp_rx_bufs_policy: Option<RxBufsPolicy>,
    /// `vrrp_rx_bufs_multiplier` (default 3).
    pub vrrp_rx_bufs_multiplier: u32,

    // ---- misc ----
    /// `umask` (default IWGRP|IWOTH = 0o022).
    pub umask: Option<u32>,
    pub random_seed: Option<u32>,
    /// `reload_check_config [LOG_FILE]`: `Some("")` when set without a log file.
    pub reload_check_config: Option<String>,
    pub reload_time_file: Option<String>,
    pub reload_repeat: bool,
    /// `reload_file [PATH]`: `Some("")` means the default file.
    pub reload_file: Option<String>,
    /// `include_check [OPTIONS]`, the options as written (`Some("")`: all checks).
    pub include_check: Option<String>,
    pub data_use_instance: bool,
    /// Newer keepalived keywords.
    pub use_symlink_paths: bool,
    pub set_supplementary_groups: bool,
    pub state_file_location: Option<String>,
    pub stats_file_location: Option<String>,
    pub json_file_location: Option<String>,
    /// `json_version` (default 1).
    pub json_version: u8,
    pub iproute_usr_dir: Option<String>,
    pub iproute_etc_dir: Option<String>,
}

impl Default for GlobalDefs {
    fn default() -> Self {
        GlobalDefs {
            net_namespace: None,
            net_namespace_ipvs: None,
            namespace_with_ipsets: false,
            instance: None,
            use_pid_dir: false,
            linkbeat_use_polling: false,
            child_wait_time: 5,
            tmp_config_directory: None,
            config_save_dir: None,
            process_names: false,
            process_name: None,
            vrrp_process_name: None,
            checker_process_name: None,
            bfd_process_name: None,
            startup_script: None,
            startup_script_timeout: 10,
            shutdown_script: None,
            shutdown_script_timeout: 10,
            notification_email: Vec::new(),
            notification_email_from: None,
            smtp_server: None,
            smtp_helo_name: None,
            smtp_connect_timeout: 30,
            smtp_alert: None,
            smtp_alert_vrrp: None,
            smtp_alert_checker: None,
            checker_log_all_failures: false,
            no_email_faults: false,
            rs_init_notifies: false,
            no_checker_emails: false,
            router_id: None,
            vrrp_mcast_group4: Ipv4Addr::new(224, 0, 0, 18),
            vrrp_mcast_group6: Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 0x12),
            default_interface: None,
            lvs_sync_daemon: None,
            lvs_timeouts: LvsTimeouts::default(),
            lvs_flush: false,
            lvs_flush_on_stop: LvsFlushOnStop::No,
            vrrp_strict: false,
            enable_script_security: false,
            script_user: None,
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
            vrrp_delay_after_boot: Secs::default(),
            vrrp_down_timer_adverts: 3,
            vrrp_garp_extra_if: None,
            vrrp_garp_extra_if_all: false,
            vrrp_notify_priority_changes: false,
            v3_checksum_as_v2: false,
            log_unknown_vrids: false,
            vmac_prefix: None,
            vmac_addr_prefix: None,
            nftables: None,
            nftables_priority: -1,
            nftables_counters: false,
            nftables_ifindex: false,
            nftables_ipvs: None,
            nftables_ipvs_priority: None,
            nftables_ipvs_start_fwmark: 1000,
            vrrp_iptables: None,
            vrrp_ipsets: None,
            disable_local_igmp: false,
            max_auto_priority: 0,
            min_auto_priority_delay: 1_000_000,
            vrrp_priority: 0,
            checker_priority: 0,
            bfd_priority: 0,
            vrrp_no_swap: false,
            checker_no_swap: false,
            bfd_no_swap: false,
            vrrp_cpu_affinity: Vec::new(),
            checker_cpu_affinity: Vec::new(),
            bfd_cpu_affinity: Vec::new(),
            vrrp_rt_priority: None,
            checker_rt_priority: None,
            bfd_rt_priority: None,
            vrrp_rlimit_rttime: 10_000,
            checker_rlimit_rttime: 10_000,
            bfd_rlimit_rttime: 10_000,
            snmp_socket: None,
            enable_snmp_vrrp: false,
            enable_snmp_checker: false,
            enable_snmp_rfc: false,
            enable_snmp_rfcv2: false,
            enable_snmp_rfcv3: false,
            enable_traps: false,
            snmp_vs_stats_update_interval: Secs::from_secs(5),
            snmp_rs_stats_update_interval: Secs::from_secs(5),
            enable_dbus: false,
            dbus_service_name: None,
            dbus_no_interface_name: None,
            notify_fifo: None,
            notify_fifo_script: None,
            vrrp_notify_fifo: None,
            vrrp_notify_fifo_script: None,
            lvs_notify_fifo: None,
            lvs_notify_fifo_script: None,
            fifo_write_vrrp_states_on_reload: false,
            dynamic_interfaces: false,
            dynamic_interfaces_allow_if_changes: false,
            vrrp_netlink_cmd_rcv_bufs: None,
            vrrp_netlink_cmd_rcv_bufs_force: false,
            vrrp_netlink_monitor_rcv_bufs: None,
            vrrp_netlink_monitor_rcv_bufs_force: false,
            lvs_netlink_cmd_rcv_bufs: None,
            lvs_netlink_cmd_rcv_bufs_force: false,
            lvs_netlink_monitor_rcv_bufs: None,
            lvs_netlink_monitor_rcv_bufs_force: false,
            process_monitor_rcv_bufs: None,
            process_monitor_rcv_bufs_force: false,
            vrrp_rx_bufs_policy: None,
            vrrp_rx_bufs_multiplier: 3,
            umask: None,
            random_seed: None,
            reload_check_config: None,
            reload_time_file: None,
            reload_repeat: false,
            reload_file: None,
            include_check: None,
            data_use_instance: false,
            use_symlink_paths: false,
            set_supplementary_groups: false,
            state_file_location: None,
            stats_file_location: None,
            json_file_location: None,
            json_version: 1,
            iproute_usr_dir: None,
            iproute_etc_dir: None,
        }
    }
}

/// `smtp_server HOST [PORT]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SmtpServer {
    /// An IP address or a host name, as written.
    pub host: String,
    /// Default 25.
    pub port: u16,
}

/// `lvs_sync_daemon IF [[inst] VRRP_INSTANCE] [id N] [maxlen N] [port N] [ttl N] [group IP]`.
#[derive(Debug, Clone, Default, Serialize)]
pub struct LvsSyncDaemon {
    pub interface: String,
    pub vrrp_instance: Option<String>,
    /// `id` (0..255; default: the instance's VRID).
    pub syncid: Option<u8>,
    pub maxlen: Option<u16>,
    /// Default 8848.
    pub port: Option<u16>,
    pub ttl: Option<u8>,
    /// Default 224.0.0.81.
    pub group: Option<IpAddr>,
    #[serde(skip)]
    pub span: Span,
    #[serde(skip)]
    pub instance_span: Option<Span>,
}

/// `lvs_timeouts [tcp SECS] [tcpfin SECS] [udp SECS]`; unset values are left as they are.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct LvsTimeouts {
    pub tcp: Option<u32>,
    pub tcpfin: Option<u32>,
    pub udp: Option<u32>,
}

/// `lvs_flush_on_stop [VS]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LvsFlushOnStop {
    /// Not set: servers are removed one by one.
    #[default]
    No,
    /// Flush the whole IPVS table.
    All,
    /// Remove each managed virtual server (the kernel removes its real servers).
    Vs,
}

/// `vrrp_rx_bufs_policy MTU|ADVERT|NUMBER`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum RxBufsPolicy {
    Mtu,
    Advert,
    Size(u32),
}

/// Link polling method for a `linkbeat_interfaces` entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum LinkbeatType {
    Mii,
    Ethtool,
    Ioctl,
}

/// One line of `linkbeat_interfaces`: `IF [MII|ETHTOOL|IOCTL]`.
#[derive(Debug, Clone, Default, Serialize)]
pub struct LinkbeatInterface {
    pub name: String,
    /// Preferred polling method (default: MII, else ETHTOOL, else IOCTL).
    pub polling: Option<LinkbeatType>,
    #[serde(skip)]
    pub span: Span,
}

/// `track_group NAME { group { VI_1 VI_2 } }`.
#[derive(Debug, Clone, Default, Serialize)]
pub struct TrackGroup {
    pub name: String,
    /// Names of the vrrp_instances in the group.
    pub group: Vec<String>,
    #[serde(skip)]
    pub span: Span,
    #[serde(skip)]
    pub member_spans: Vec<Span>,
}

/// One line of `interface_up_down_delays`: `IF DOWN [UP]`.
#[derive(Debug, Clone, Default, Serialize)]
pub struct InterfaceDelay {
    pub interface: String,
    pub down_delay: Secs,
    /// Defaults to the down delay.
    pub up_delay: Secs,
    #[serde(skip)]
    pub span: Span,
}
