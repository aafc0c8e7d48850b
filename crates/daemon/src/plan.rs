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
    /// `use_vmac` / `use_ipvlan`: the virtual link the instance runs on, when it
    /// could be made (else the instance runs on its interface itself).
    pub vmac: Option<VmacPlan>,
    /// Where the instance's default source address is read: its base interface
    /// (a VMAC has no address of its own but the VIPs).
    pub source_ifindex: u32,
    /// The index of the virtual link in `vmac`.
    pub vmac_ifindex: Option<u32>,
    /// The VMACs of `use_vmac_addr` / `use_vmac` on an address line that are there
    /// (the addresses on them have them as their `dev` in `vips` and `excluded`).
    pub addr_vmacs: Vec<VmacPlan>,
}

/// The virtual link of `use_vmac` / `use_ipvlan` (Ledger: KA-14).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VmacPlan {
    pub link: keepup_sys::VirtualLink,
    /// The interface it is made on (`interface`).
    pub base: String,
    /// `vmac_xmit_base`: adverts go and are read on the base interface.
    pub xmit_base: bool,
    /// An IPv6 instance (the link-local and addr_gen_mode are set up).
    pub v6: bool,
    /// Any IPv6 address goes on it (else IPv6 is turned off on it, as keepalived).
    pub any_v6: bool,
    /// `use_ipvlan ADDRESS[/LEN]`: the ipvlan's own address.
    pub address: Option<(std::net::IpAddr, u8)>,
}

/// The virtual link an instance asks for, if any: `use_vmac` (a macvlan with the
/// VRRP MAC or the MAC given; 5 octets are completed with the VRID) or
/// `use_ipvlan`. `None` also for a MAC that does not read (the reader warned).
pub fn vmac_of(vi: &VrrpInstance, parent: u32) -> Option<VmacPlan> {
    use keepup_sys::{IpvlanFlag, VirtualKind};
    let vrid = vi.virtual_router_id?;
    let v6 = vi.family == Family::Ipv6;
    let name_default = || format!("vrrp.{vrid}");
    let (name, kind, address) = if let Some(v) = &vi.use_vmac {
        let mac = match &v.mac {
            None => keepup_sys::vrrp_mac(vrid, v6),
            Some(m) => parse_mac(m, vrid)?,
        };
        let name = if v.name.is_empty() {
            name_default()
        } else {
            v.name.clone()
        };
        (name, VirtualKind::Macvlan { mac }, None)
    } else {
        let v = vi.use_ipvlan.as_ref()?;
        let flag = match v.mode.as_deref() {
            Some("private") => IpvlanFlag::Private,
            Some("vepa") => IpvlanFlag::Vepa,
            _ => IpvlanFlag::Bridge,
        };
        let address = v.address.as_deref().and_then(|a| {
            let (ip, len) = a.split_once('/').map_or((a, None), |(i, l)| (i, Some(l)));
            let ip: std::net::IpAddr = ip.parse().ok()?;
            let max = if ip.is_ipv4() { 32 } else { 128 };
            let len = match len {
                Some(l) => l.parse::<u8>().ok().filter(|l| *l <= max)?,
                None => max,
            };
            Some((ip, len))
        });
        let name = v.name.clone().unwrap_or_else(name_default);
        (name, VirtualKind::Ipvlan { flag }, address)
    };
    let any_v6 = vi
        .virtual_ipaddress
        .iter()
        .chain(&vi.virtual_ipaddress_excluded)
        .any(|a| a.address.is_ipv6());
    Some(VmacPlan {
        link: keepup_sys::VirtualLink { name, parent, kind },
        base: vi.interface.clone()?,
        xmit_base: vi.vmac_xmit_base,
        v6,
        any_v6,
        address,
    })
}

/// What `keepup check` adds about `use_vmac`/`use_ipvlan`/`use_vmac_addr`: the links
/// it will make, and whether this kernel can make them (this development machine's
/// cannot).
pub fn vmac_notes(cfg: &Config) -> String {
    let mut out = crate::vmac_addr::notes(cfg);
    let addr_vmacs = crate::vmac_addr::address_vmacs(cfg).len();
    for (kw, module, uses) in [
        (
            "use_vmac",
            "macvlan",
            cfg.vrrp_instances
                .iter()
                .filter(|v| v.use_vmac.is_some())
                .count()
                + addr_vmacs,
        ),
        (
            "use_ipvlan",
            "ipvlan",
            cfg.vrrp_instances
                .iter()
                .filter(|v| v.use_vmac.is_none() && v.use_ipvlan.is_some())
                .count(),
        ),
    ] {
        if uses > 0 && !keepup_sys::kernel_module_available(module) {
            out.push_str(&format!(
                "note: this kernel has no {module} (module {module} missing): the {uses} \
                 {kw} link(s) would not be made; instances and addresses would run on \
                 their interface itself, with its MAC\n"
            ));
        }
    }
    out
}

/// `aa:bb:cc:dd:ee:ff`, or five octets and the VRID.
fn parse_mac(s: &str, vrid: u8) -> Option<[u8; 6]> {
    let parts: Vec<u8> = s
        .split(':')
        .map(|p| u8::from_str_radix(p, 16).ok())
        .collect::<Option<_>>()?;
    match parts.len() {
        6 => parts.try_into().ok(),
        5 => {
            let mut m = [0u8; 6];
            m[..5].copy_from_slice(&parts);
            m[5] = vrid;
            Some(m)
        }
        _ => None,
    }
}

impl Effects {
    /// The same effects, ignoring where in the file they were written and the
    /// notify scripts (reload).
    pub fn same_as(&self, other: &Effects) -> bool {
        self.interface == other.interface
            && self.vmac == other.vmac
            && self.addr_vmacs == other.addr_vmacs
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
    (i, vi): (usize, &VrrpInstance),
    cfg: &Config,
    ifindex: &dyn Fn(&str) -> Option<u32>,
    vmacs_taken: &mut std::collections::BTreeSet<String>,
    addr_vmacs: &[crate::vmac_addr::AddrVmac],
) -> Result<(InstanceConfig, Effects), String> {
    let name = &vi.name;
    let vrid = vi
        .virtual_router_id
        .ok_or_else(|| format!("({name}) has no virtual_router_id"))?;
    let interface = vi
        .interface
        .clone()
        .ok_or_else(|| format!("({name}) has no interface"))?;
    let base_index = ifindex(&interface)
        .ok_or_else(|| format!("({name}) interface {interface} does not exist"))?;
    // use_vmac/use_ipvlan: the VIPs (and, without vmac_xmit_base, the adverts) go on
    // the virtual link, if it was made (it is named here only then).
    // One VMAC per instance: a second instance naming the same one runs on its
    // interface itself (the daemon made the VMAC for the first and said so).
    let vmac = vmac_of(vi, base_index)
        .filter(|v| !vmacs_taken.contains(&v.link.name))
        .and_then(|v| Some((ifindex(&v.link.name)?, v)))
        .filter(|(i, _)| *i != base_index);
    if let Some((_, v)) = &vmac {
        vmacs_taken.insert(v.link.name.clone());
    }
    let (index, interface) = match &vmac {
        Some((i, v)) if !v.xmit_base => (*i, v.link.name.clone()),
        Some((_, v)) => (base_index, v.link.name.clone()),
        None => (base_index, interface),
    };
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
    // use_vmac_addr / use_vmac on an address: those addresses go on their VMAC when
    // it was made (else on their interface itself).
    let exists = |n: &str| ifindex(n).is_some();
    let place = |list| crate::vmac_addr::place(addr_vmacs, i, list, &exists);
    let own_vmacs = addr_vmacs
        .iter()
        .filter(|v| v.instance == i && exists(&v.name))
        .filter_map(|v| Some(v.plan(ifindex(&v.base)?)))
        .collect();
    let effects = Effects {
        interface,
        vips: place(&vi.virtual_ipaddress),
        excluded: place(&vi.virtual_ipaddress_excluded),
        addr_vmacs: own_vmacs,
        routes: vi.virtual_routes.clone(),
        rules: vi.virtual_rules.clone(),
        notify: vi.notifications.clone(),
        // An ipvlan with its own address sends from it.
        vmac_ifindex: vmac.as_ref().map(|(i, _)| *i),
        source_ifindex: match &vmac {
            Some((i, v)) if v.address.is_some() => *i,
            _ => base_index,
        },
        vmac: vmac.map(|(_, v)| v),
    };
    Ok((c, effects))
}

/// Build the plan. Errors name each instance that cannot run here; the caller refuses
/// to start (or to reload) when there is any.
pub fn plan(cfg: &Config, ifindex: &dyn Fn(&str) -> Option<u32>) -> Result<Plan, Vec<String>> {
    let mut p = Plan::default();
    let mut errors = Vec::new();
    let mut vmacs_taken = std::collections::BTreeSet::new();
    let addr_vmacs = crate::vmac_addr::address_vmacs(cfg);
    for vi in cfg.vrrp_instances.iter().enumerate() {
        match instance(vi, cfg, ifindex, &mut vmacs_taken, &addr_vmacs) {
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

    /// use_vmac: the VIPs and the adverts go on the VMAC when it is there, the source
    /// is read on the base; vmac_xmit_base keeps the adverts on the base; a VMAC
    /// that could not be made leaves the instance on its interface.
    /// Ledger: KA-14
    #[test]
    fn use_vmac_runs_the_instance_on_the_vmac() {
        let text = |extra: &str| {
            format!("vrrp_instance VI_1 {{\n interface eth0\n virtual_router_id 51\n {extra}\n virtual_ipaddress {{\n  10.0.0.100/24\n }}\n}}\n")
        };
        let with_vmac = |n: &str| match n {
            "eth0" => Some(2),
            "vrrp.51" => Some(9),
            _ => None,
        };
        let p = plan(&load(&text("use_vmac")), &with_vmac).unwrap();
        assert_eq!(p.instances[0].interface, IfIndex(9));
        let e = &p.effects[0];
        assert_eq!(e.interface, "vrrp.51");
        assert_eq!(e.source_ifindex, 2);
        let v = e.vmac.as_ref().unwrap();
        assert_eq!(v.base, "eth0");
        assert_eq!(v.link.parent, 2);
        assert_eq!(
            v.link.kind,
            keepup_sys::VirtualKind::Macvlan {
                mac: [0, 0, 0x5e, 0, 1, 51]
            }
        );
        // Two instances asking for one VMAC: the first has it.
        let two = format!(
            "{}{}",
            text("use_vmac vrrp.51"),
            text("use_vmac vrrp.51")
                .replace("VI_1", "VI_2")
                .replace("router_id 51", "router_id 52")
                .replace("10.0.0.100", "10.0.0.101")
        );
        let p = plan(&load(&two), &with_vmac).unwrap();
        assert_eq!(p.effects[0].interface, "vrrp.51");
        assert_eq!(p.effects[1].interface, "eth0");
        assert!(p.effects[1].vmac.is_none());
        let p = plan(&load(&text("use_vmac\n vmac_xmit_base")), &with_vmac).unwrap();
        assert_eq!(p.instances[0].interface, IfIndex(2));
        assert_eq!(p.effects[0].vmac_ifindex, Some(9));
        assert_eq!(p.effects[0].interface, "vrrp.51");
        // Not made: the instance runs on eth0 itself.
        let p = plan(&load(&text("use_vmac")), &ifindex).unwrap();
        assert_eq!(p.instances[0].interface, IfIndex(2));
        assert_eq!(p.effects[0].interface, "eth0");
        assert!(p.effects[0].vmac.is_none());
    }

    /// Ledger: MAC-02
    #[test]
    fn vmac_names_macs_and_ipvlans() {
        let one = |extra: &str, vip: &str| {
            let cfg = load(&format!(
                "vrrp_instance VI_1 {{\n interface eth0\n virtual_router_id 10\n {extra}\n virtual_ipaddress {{\n  {vip}\n }}\n}}\n"
            ));
            vmac_of(&cfg.vrrp_instances[0], 2).unwrap()
        };
        let v = one("use_vmac", "fd00::1/64");
        assert!(v.v6 && v.any_v6);
        assert_eq!(
            v.link.kind,
            keepup_sys::VirtualKind::Macvlan {
                mac: [0, 0, 0x5e, 0, 2, 10]
            }
        );
        let v = one("use_vmac vm1 02:11:22:33:44", "10.0.0.1");
        assert_eq!(v.link.name, "vm1");
        assert_eq!(
            v.link.kind,
            keepup_sys::VirtualKind::Macvlan {
                mac: [2, 0x11, 0x22, 0x33, 0x44, 10]
            },
            "five octets and the VRID"
        );
        let v = one("use_ipvlan ipv1 10.0.0.5/24 private", "10.0.0.1");
        assert_eq!(v.link.name, "ipv1");
        assert_eq!(
            v.link.kind,
            keepup_sys::VirtualKind::Ipvlan {
                flag: keepup_sys::IpvlanFlag::Private
            }
        );
        assert_eq!(v.address, Some(("10.0.0.5".parse().unwrap(), 24)));
    }
}
