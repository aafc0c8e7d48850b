//! From the keepalived.conf model to what the engine and the drivers run: one
//! `InstanceConfig` per `vrrp_instance` (the engine's view) and one `Effects` (what the
//! drivers do to the system when it is Master). The reader has already filled in
//! keepalived's defaults and strict-mode rules, so this is a translation, not a
//! second validation; what cannot run here (an interface that does not exist) is
//! reported with the instance's name.
use keepup_config::model::vrrp::{
    AuthHmac, AuthType, Family, Notify, State as CfgState, VrrpInstance,
};
use keepup_config::model::{Config, Route, Rule, Secs, VirtualAddress};
use keepup_vrrp::{
    Auth, HmacConfig, IfIndex, InitialState, InstanceConfig, SyncGroupConfig, UnicastPeer,
};
use keepup_wire::hmac_auth::{self, AntiReplay, Key, KeyValue, Mode};
use keepup_wire::vrrp::{ChecksumForm, Version};
use std::time::Duration;

/// What the drivers do for one instance besides VRRP itself.
#[derive(Debug, Clone)]
pub struct Effects {
    /// The interface VRRP runs on.
    pub interface: String,
    /// `virtual_ipaddress`: added when Master, advertised.
    pub vips: Vec<VirtualAddress>,
    /// `virtual_ipaddress_excluded`: added when Master, not advertised.
    pub excluded: Vec<VirtualAddress>,
    pub routes: Vec<Route>,
    pub rules: Vec<Rule>,
    /// The notify scripts (not part of `same_as`: changing them restarts nothing).
    pub notify: Notify,
}

impl Effects {
    /// The same effects, ignoring where in the file they were written and the
    /// notify scripts (reload).
    pub fn same_as(&self, other: &Effects) -> bool {
        self.interface == other.interface
            && self.vips == other.vips
            && self.excluded == other.excluded
            && self.same_routing(other)
    }

    /// The same `virtual_routes` and `virtual_rules`.
    pub fn same_routing(&self, other: &Effects) -> bool {
        self.routes == other.routes && self.rules == other.rules
    }

    /// Every address the instance installs, advertised or not.
    pub fn addresses(&self) -> impl Iterator<Item = &VirtualAddress> {
        self.vips.iter().chain(self.excluded.iter())
    }
}

/// The runnable form of a configuration.
#[derive(Debug, Clone, Default)]
pub struct Plan {
    pub instances: Vec<InstanceConfig>,
    pub groups: Vec<SyncGroupConfig>,
    /// Parallel to `instances`.
    pub effects: Vec<Effects>,
    /// Parallel to `groups`: each sync group's notify scripts.
    pub group_notify: Vec<Notify>,
    /// `notify_fifo` and `vrrp_notify_fifo` paths.
    pub fifos: Vec<std::path::PathBuf>,
}

fn duration(s: Secs) -> Duration {
    Duration::from_micros(s.micros)
}

/// `auth_hmac` for the engine: every key decoded (a `file:` key read now), the
/// window's default filled in. Any key that cannot be used is an error naming the
/// instance and the key: running with a key missing would leave this router unheard
/// by (or deaf to) its peers.
fn auth_hmac(name: &str, h: &AuthHmac, advert_int: Duration) -> Result<HmacConfig, String> {
    let mut keys = Vec::new();
    for k in &h.key {
        let what = |e: &dyn std::fmt::Display| format!("({name}) auth_hmac key {}: {e}", k.id);
        let bytes = match hmac_auth::parse_key_value(&k.value).map_err(|e| what(&e))? {
            KeyValue::Bytes(b) => b,
            KeyValue::File(path) => {
                let contents = std::fs::read(path)
                    .map_err(|e| what(&format!("cannot read key file {path}: {e}")))?;
                hmac_auth::key_from_file(&contents)
                    .map_err(|e| what(&format!("key file {path}: {e}")))?
            }
        };
        keys.push(Key::new(k.id, bytes).map_err(|e| what(&e))?);
    }
    // keepalived's default for a missing active_key was not read; the first key
    // (in the file's order) signs, which is what a single-key block means.
    let active_key = h
        .active_key
        .or_else(|| h.key.first().map(|k| k.id))
        .unwrap_or(0);
    // time_window: max(3 x advert_int, 5) s (keepalived.conf(5)), a fractional
    // advert_int rounded up, within the keyword's 1-300.
    let window = h.time_window.unwrap_or_else(|| {
        let three = (advert_int * 3).as_secs_f64().ceil();
        // Bounded to 300 before the cast.
        (three.min(f64::from(hmac_auth::TIME_WINDOW_MAX)) as u32).max(5)
    });
    let anti_replay = match h.anti_replay.as_str() {
        "monotonic" => AntiReplay::Monotonic,
        _ => AntiReplay::Time { window },
    };
    Ok(HmacConfig {
        keys,
        active_key,
        anti_replay,
        mode: Mode::from_keyword(&h.mode).unwrap_or_default(),
    })
}

/// Translate one instance; `ifindex` resolves interface names on this host.
fn instance(
    vi: &VrrpInstance,
    cfg: &Config,
    ifindex: &dyn Fn(&str) -> Option<u32>,
) -> Result<(InstanceConfig, Effects), String> {
    let name = &vi.name;
    let vrid = vi
        .virtual_router_id
        .ok_or_else(|| format!("({name}) has no virtual_router_id"))?;
    let interface = vi
        .interface
        .clone()
        .ok_or_else(|| format!("({name}) has no interface"))?;
    let index = ifindex(&interface)
        .ok_or_else(|| format!("({name}) interface {interface} does not exist"))?;
    let vips: Vec<std::net::IpAddr> = vi.virtual_ipaddress.iter().map(|a| a.address).collect();
    let mut c = InstanceConfig::new(name, vrid, IfIndex(index), vips);
    c.version = if vi.version == 3 || vi.family == Family::Ipv6 {
        Version::V3
    } else {
        Version::V2
    };
    c.priority = vi.priority;
    c.advert_int = duration(vi.advert_int);
    c.state = match vi.state {
        CfgState::Master => InitialState::Master,
        CfgState::Backup => InitialState::Backup,
    };
    c.source = vi.unicast_src_ip.or(vi.mcast_src_ip);
    c.unicast_peers = vi
        .unicast_peer
        .iter()
        .map(|p| UnicastPeer {
            address: p.address,
            min_ttl: p.min_ttl,
            max_ttl: p.max_ttl,
        })
        .collect();
    c.unicast_ttl = vi.unicast_ttl;
    c.mcast_group = vi.mcast_dst_ip;
    c.check_unicast_src = vi.check_unicast_src;
    c.auth = match &vi.authentication {
        Some(a) if c.version == Version::V2 => {
            let pass = a.auth_pass.as_deref().unwrap_or("");
            match a.auth_type {
                Some(AuthType::Pass) => Auth::pass(pass),
                Some(AuthType::Ah) => Auth::ah(pass),
                None => Auth::None,
            }
        }
        _ => Auth::None,
    };
    c.auth_hmac = vi
        .auth_hmac
        .as_ref()
        .map(|h| auth_hmac(name, h, c.advert_int))
        .transpose()?;
    c.preempt = !vi.nopreempt;
    c.preempt_delay = duration(vi.preempt_delay);
    c.accept = vi.accept;
    c.strict = vi.strict_mode;
    c.skip_check_adv_addr = vi.skip_check_adv_addr;
    c.lower_prio_no_advert = vi.lower_prio_no_advert;
    // keepup hands over without loss on a planned stop (see InstanceConfig::handover).
    c.handover = true;
    c.higher_prio_send_advert = vi.higher_prio_send_advert;
    c.router_advert = vi
        .router_advert
        .map(|s| std::time::Duration::from_secs(u64::from(s)));
    c.down_timer_adverts = vi.down_timer_adverts;
    c.checksum_form = if vi.v3_checksum_as_v2 {
        ChecksumForm::MessageOnly
    } else {
        ChecksumForm::PseudoHeader
    };
    let g = &cfg.global_defs;
    // Pacing: a garp_group naming this interface wins over the global setting.
    let group = cfg.garp_groups.iter().find(|gg| {
        gg.interface.as_deref() == Some(interface.as_str()) || gg.interfaces.contains(&interface)
    });
    let v6 = c.is_v6();
    let interval = match (group, v6) {
        (Some(gg), false) => gg.garp_interval.unwrap_or(g.vrrp_garp_interval),
        (Some(gg), true) => gg.gna_interval.unwrap_or(g.vrrp_gna_interval),
        (None, false) => g.vrrp_garp_interval,
        (None, true) => g.vrrp_gna_interval,
    };
    c.garp = keepup_vrrp::GarpConfig {
        master_delay: duration(vi.garp_master_delay),
        master_repeat: vi.garp_master_repeat,
        lower_prio_delay: duration(vi.garp_lower_prio_delay),
        lower_prio_repeat: vi.garp_lower_prio_repeat,
        master_refresh: duration(vi.garp_master_refresh),
        master_refresh_repeat: vi.garp_master_refresh_repeat,
        interval: duration(interval),
    };
    let effects = Effects {
        interface,
        vips: vi.virtual_ipaddress.clone(),
        excluded: vi.virtual_ipaddress_excluded.clone(),
        routes: vi.virtual_routes.clone(),
        rules: vi.virtual_rules.clone(),
        notify: vi.notifications.clone(),
    };
    Ok((c, effects))
}

/// Build the plan. Errors name each instance that cannot run here; the caller refuses
/// to start (or to reload) when there is any.
pub fn plan(cfg: &Config, ifindex: &dyn Fn(&str) -> Option<u32>) -> Result<Plan, Vec<String>> {
    let mut p = Plan::default();
    let mut errors = Vec::new();
    for vi in &cfg.vrrp_instances {
        match instance(vi, cfg, ifindex) {
            Ok((c, e)) => {
                p.instances.push(c);
                p.effects.push(e);
            }
            Err(e) => errors.push(e),
        }
    }
    for g in &cfg.vrrp_sync_groups {
        let members: Vec<String> = g
            .group
            .iter()
            .map(|m| m.name.clone())
            .filter(|m| p.instances.iter().any(|i| i.name == *m))
            .collect();
        if members.len() > 1 {
            p.groups.push(SyncGroupConfig {
                name: g.name.clone(),
                members,
            });
            p.group_notify.push(g.notifications.clone());
        }
    }
    let gd = &cfg.global_defs;
    p.fifos = [&gd.notify_fifo, &gd.vrrp_notify_fifo]
        .into_iter()
        .flatten()
        .map(|s| std::path::PathBuf::from(&s.command))
        .collect();
    if let Err(e) = keepup_vrrp::Router::new(p.instances.clone(), p.groups.clone()) {
        errors.push(e.to_string());
    }
    if errors.is_empty() {
        Ok(p)
    } else {
        Err(errors)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(text: &str) -> Config {
        let opts = keepup_config::LoadOptions {
            interfaces: None,
            check_scripts: false,
            ..keepup_config::LoadOptions::for_this_host()
        };
        keepup_config::load_str("test.conf", text, &opts).config
    }

    fn ifindex(name: &str) -> Option<u32> {
        (name == "eth0").then_some(2)
    }

    /// keepalived's pairing of state and priority, the auth, unicast and garp fields
    /// reach the engine as the reader resolved them.
    #[test]
    fn instance_fields_reach_the_engine() {
        let cfg = load(
            "global_defs {\n vrrp_garp_interval 0.1\n}\nvrrp_instance VI_1 {\n state MASTER\n interface eth0\n virtual_router_id 51\n advert_int 2\n nopreempt\n authentication {\n  auth_type PASS\n  auth_pass secret99\n }\n unicast_src_ip 10.0.0.2\n unicast_peer {\n  10.0.0.3\n }\n virtual_ipaddress {\n  10.0.0.100/24 dev eth0 label eth0:vip\n }\n virtual_ipaddress_excluded {\n  10.0.1.100/24\n }\n}\n",
        );
        let p = plan(&cfg, &ifindex).unwrap();
        let c = &p.instances[0];
        assert_eq!(c.vrid, 51);
        assert_eq!(c.interface, IfIndex(2));
        assert_eq!(
            c.priority, 255,
            "state MASTER without a priority is the owner"
        );
        assert_eq!(c.state, InitialState::Master);
        assert_eq!(c.advert_int, Duration::from_secs(2));
        assert!(c.preempt, "nopreempt only counts with state BACKUP (KA-17)");
        assert_eq!(c.auth, Auth::pass("secret99"));
        assert_eq!(c.source, Some("10.0.0.2".parse().unwrap()));
        assert_eq!(c.unicast_peers.len(), 1);
        assert_eq!(c.garp.interval, Duration::from_millis(100));
        assert_eq!(
            c.vips,
            vec!["10.0.0.100".parse::<std::net::IpAddr>().unwrap()]
        );
        let e = &p.effects[0];
        assert_eq!(e.vips[0].prefix_len, 24);
        assert_eq!(e.vips[0].label.as_deref(), Some("eth0:vip"));
        assert_eq!(e.excluded.len(), 1);
        assert_eq!(e.addresses().count(), 2);
    }

    #[test]
    fn missing_interface_is_named() {
        let cfg = load(
            "vrrp_instance VI_1 {\n interface eth9\n virtual_router_id 51\n virtual_ipaddress {\n  10.0.0.100\n }\n}\n",
        );
        let e = plan(&cfg, &ifindex).unwrap_err();
        assert_eq!(e, vec!["(VI_1) interface eth9 does not exist".to_string()]);
    }

    fn hmac_conf(block: &str, advert_int: u32) -> String {
        format!(
            "vrrp_instance VI_1 {{\n interface eth0\n virtual_router_id 51\n advert_int {advert_int}\n auth_hmac {{\n{block} }}\n virtual_ipaddress {{\n  10.0.0.100\n }}\n}}\n"
        )
    }

    /// Inline (ASCII, hex) and file keys are decoded; the active key, the window's
    /// default max(3 x advert_int, 5) and the mode reach the engine.
    #[test]
    fn auth_hmac_keys_and_defaults_reach_the_engine() {
        let dir = std::env::temp_dir().join(format!("keepup-plan-hmac-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("key3");
        std::fs::write(&file, format!("hex:{}\n", "ab".repeat(40))).unwrap();
        let block = format!(
            "  key 1 abcdefghijklmnopqrstuvwxyz012345\n  key 2 hex:{}\n  key 3 file:{}\n  active_key 2\n  mode permissive\n",
            "00".repeat(32),
            file.display()
        );
        let p = plan(&load(&hmac_conf(&block, 1)), &ifindex).unwrap();
        let h = p.instances[0].auth_hmac.clone().unwrap();
        let got: Vec<(u8, Vec<u8>)> = h
            .keys
            .iter()
            .map(|k| (k.id(), k.bytes().to_vec()))
            .collect();
        assert_eq!(
            got,
            vec![
                (1, b"abcdefghijklmnopqrstuvwxyz012345".to_vec()),
                (2, vec![0; 32]),
                (3, vec![0xab; 40]),
            ]
        );
        assert_eq!(h.active_key, 2);
        assert_eq!(h.mode, Mode::Permissive);
        assert_eq!(h.anti_replay, AntiReplay::Time { window: 5 });
        // Defaults: the first key signs; 3 x 3 s = 9 s; monotonic has no window.
        let one = "  key 4 abcdefghijklmnopqrstuvwxyz012345\n";
        let p = plan(&load(&hmac_conf(one, 3)), &ifindex).unwrap();
        let h = p.instances[0].auth_hmac.clone().unwrap();
        assert_eq!((h.active_key, h.mode), (4, Mode::Enforce));
        assert_eq!(h.anti_replay, AntiReplay::Time { window: 9 });
        let mono = format!("{one}  anti_replay monotonic\n  time_window 30\n");
        let p = plan(&load(&hmac_conf(&mono, 1)), &ifindex).unwrap();
        assert_eq!(
            p.instances[0].auth_hmac.as_ref().unwrap().anti_replay,
            AntiReplay::Monotonic
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// A key that cannot be used stops the start (or the reload), naming the
    /// instance, the key and what is wrong.
    #[test]
    fn a_bad_auth_hmac_key_is_a_config_error() {
        for (block, want) in [
            ("  key 1 short\n", "(VI_1) auth_hmac key 1: key is 5 octets; 32 to 64 are needed"),
            ("  key 1 hex:zz\n", "(VI_1) auth_hmac key 1: hex: value is not a hex string"),
            (
                "  key 7 file:/nonexistent/keepup-key\n",
                "(VI_1) auth_hmac key 7: cannot read key file /nonexistent/keepup-key: No such file",
            ),
        ] {
            let e = plan(&load(&hmac_conf(block, 1)), &ifindex).unwrap_err();
            assert!(e.len() == 1 && e[0].starts_with(want), "{e:?}");
        }
    }

    #[test]
    fn ipv6_instance_runs_v3() {
        let cfg = load(
            "vrrp_instance VI_6 {\n interface eth0\n virtual_router_id 52\n priority 150\n virtual_ipaddress {\n  fe80::100/64\n  fd00::100/64\n }\n}\n",
        );
        let p = plan(&cfg, &ifindex).unwrap();
        assert_eq!(p.instances[0].version, Version::V3);
        assert!(p.instances[0].is_v6());
    }
}
