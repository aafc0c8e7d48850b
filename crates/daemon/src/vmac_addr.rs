//! `use_vmac_addr`, and `use_vmac` on a `virtual_ipaddress(_excluded)` line: VMACs for
//! addresses (Ledger: KA-14), as keepalived 2.2.7 makes them (vrrp.c,
//! vrrp_complete_instance; vrrp_vmac.c).
//!
//! An address gets a VMAC of its own, made on the interface it goes on (its `dev`,
//! else the instance's), when
//! - it says `use_vmac`, unless it would go on the instance's own VMAC anyway (no
//!   other `dev`, the instance's family, the instance `use_vmac`: then the flag says
//!   nothing new and keepalived warns so);
//! - or the instance says `use_vmac_addr` and the address has a `dev` other than
//!   the instance's interface, or is of the other family.
//!
//! The VMAC is a private macvlan with the VRRP MAC of the instance's VRID and the
//! *address's* family (00:00:5e:00:01:VRID for IPv4, 00:00:5e:00:02:VRID for IPv6).
//! The addresses of one instance on one interface and family share it. It is named
//! `<prefix>.<VRID>` (`vmac_addr_prefix`, else `vmac_prefix`, else `vrrp`); when an
//! instance's VMAC or an earlier address VMAC has that name, the next of
//! `<prefix>1.<VRID>`, `<prefix>2.<VRID>`, ... (an IPv6 one tries `<prefix>6.<VRID>`
//! first, and skips 6 afterwards), as keepalived's create_vmac_name.
//!
//! It is set up as an instance's VMAC of that family (sysctls, the base's link-local
//! for IPv6, up in every state); the addresses go on it while the instance is Master,
//! and the gratuitous ARPs / NAs for them leave from it, with its MAC.
use crate::plan::VmacPlan;
use keepup_config::model::vrrp::{vmac_name, Family, VrrpInstance};
use keepup_config::model::VirtualAddress;
use keepup_config::Config;
use std::collections::BTreeSet;

/// One VMAC for addresses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddrVmac {
    /// The instance (index in `Config::vrrp_instances`) whose addresses go on it.
    pub instance: usize,
    pub name: String,
    /// The interface it is made on.
    pub base: String,
    pub v6: bool,
    pub mac: [u8; 6],
    /// The addresses that go on it.
    pub addresses: Vec<std::net::IpAddr>,
}

impl AddrVmac {
    /// The link to make, on the interface of index `parent`.
    pub fn plan(&self, parent: u32) -> VmacPlan {
        VmacPlan {
            link: keepup_sys::VirtualLink {
                name: self.name.clone(),
                parent,
                kind: keepup_sys::VirtualKind::Macvlan { mac: self.mac },
            },
            base: self.base.clone(),
            xmit_base: false,
            v6: self.v6,
            any_v6: self.v6,
            address: None,
        }
    }
}

/// Whether `a` (an address of `vi`) goes on a VMAC of its own.
pub fn wants_own_vmac(vi: &VrrpInstance, a: &VirtualAddress) -> bool {
    let other_if = a
        .dev
        .as_ref()
        .is_some_and(|d| Some(d) != vi.interface.as_ref());
    let other_family = a.address.is_ipv6() != (vi.family == Family::Ipv6);
    if a.use_vmac {
        // On the instance's VMAC already: the flag adds nothing.
        !(vi.use_vmac.is_some() && !other_if && !other_family)
    } else {
        vi.use_vmac_addr && (other_if || other_family)
    }
}

/// Every address VMAC the configuration asks for, in the order keepalived makes them.
pub fn address_vmacs(cfg: &Config) -> Vec<AddrVmac> {
    let g = &cfg.global_defs;
    let prefix = g
        .vmac_addr_prefix
        .as_deref()
        .or(g.vmac_prefix.as_deref())
        .unwrap_or("vrrp");
    // The instances' own VMACs keep their names.
    let mut taken: BTreeSet<String> = cfg
        .vrrp_instances
        .iter()
        .filter_map(|vi| crate::plan::vmac_of(vi, 0).map(|v| v.link.name))
        .collect();
    let mut out: Vec<AddrVmac> = Vec::new();
    for (i, vi) in cfg.vrrp_instances.iter().enumerate() {
        let (Some(vrid), Some(interface)) = (vi.virtual_router_id, vi.interface.as_ref()) else {
            continue;
        };
        for a in vi
            .virtual_ipaddress
            .iter()
            .chain(&vi.virtual_ipaddress_excluded)
        {
            if !wants_own_vmac(vi, a) {
                continue;
            }
            let base = a.dev.clone().unwrap_or_else(|| interface.clone());
            let v6 = a.address.is_ipv6();
            let mac = keepup_sys::vrrp_mac(vrid, v6);
            // One per (interface, MAC): keepalived finds the one made already.
            if let Some(v) = out.iter_mut().find(|v| v.base == base && v.mac == mac) {
                if !v.addresses.contains(&a.address) {
                    v.addresses.push(a.address);
                }
                continue;
            }
            let name = vmac_name(prefix, vrid, v6, &|n| taken.contains(n));
            taken.insert(name.clone());
            out.push(AddrVmac {
                instance: i,
                name,
                base,
                v6,
                mac,
                addresses: vec![a.address],
            });
        }
    }
    out
}

/// Where the addresses of instance `i` go: each address with a VMAC of its own that
/// is there (`exists`) gets the VMAC as its `dev`.
pub fn place(
    vmacs: &[AddrVmac],
    i: usize,
    addresses: &[VirtualAddress],
    exists: &dyn Fn(&str) -> bool,
) -> Vec<VirtualAddress> {
    addresses
        .iter()
        .map(|a| {
            let mut a = a.clone();
            if let Some(v) = vmacs
                .iter()
                .find(|v| v.instance == i && v.addresses.contains(&a.address))
                .filter(|v| exists(&v.name))
            {
                a.dev = Some(v.name.clone());
            }
            a
        })
        .collect()
}

/// What `keepup check` says the instances' VMACs will be.
pub fn notes(cfg: &Config) -> String {
    let mut out = String::new();
    for vi in &cfg.vrrp_instances {
        if let Some(v) = crate::plan::vmac_of(vi, 0) {
            let what = match v.link.kind {
                keepup_sys::VirtualKind::Macvlan { mac } => {
                    format!("macvlan (private) {}", mac_text(mac))
                }
                keepup_sys::VirtualKind::Ipvlan { .. } => "ipvlan (l2)".to_string(),
            };
            out.push_str(&format!(
                "note: ({}) runs on {} {what} on {}\n",
                vi.name, v.link.name, v.base
            ));
        }
    }
    for v in address_vmacs(cfg) {
        let list: Vec<String> = v.addresses.iter().map(ToString::to_string).collect();
        out.push_str(&format!(
            "note: ({}) makes VMAC {} macvlan (private) {} on {} for {}\n",
            cfg.vrrp_instances[v.instance].name,
            v.name,
            mac_text(v.mac),
            v.base,
            list.join(", ")
        ));
    }
    out
}

fn mac_text(m: [u8; 6]) -> String {
    m.iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(":")
}

#[cfg(test)]
mod tests {
    use super::*;
    use keepup_config::{load_str, LoadOptions};

    fn load(text: &str) -> Config {
        let l = load_str("t.conf", text, &LoadOptions::default());
        assert!(l.diagnostics.is_empty(), "{}", l.render());
        l.config
    }

    fn inst(name: &str, vrid: u8, extra: &str, vips: &str, evips: &str) -> String {
        format!(
            "vrrp_instance {name} {{\n interface eth0\n virtual_router_id {vrid}\n{extra}\n virtual_ipaddress {{\n{vips}\n }}\n virtual_ipaddress_excluded {{\n{evips}\n }}\n}}\n"
        )
    }

    /// use_vmac_addr: a VMAC per other interface and per other family, named after
    /// the instance's own; the instance's family on its own interface stays on its
    /// VMAC. Ledger: KA-14
    #[test]
    fn use_vmac_addr_makes_one_per_interface_and_family() {
        let cfg = load(&inst(
            "VI_1",
            51,
            " use_vmac\n use_vmac_addr",
            "  10.9.0.100/24\n  10.9.1.100/24 dev eth1\n  10.9.1.101/24 dev eth1",
            "  fd00:9::100/64\n  fd00:19::100/64 dev eth1",
        ));
        let v = address_vmacs(&cfg);
        let got: Vec<_> = v
            .iter()
            .map(|v| {
                (
                    v.name.as_str(),
                    v.base.as_str(),
                    v.mac[4],
                    v.addresses.len(),
                )
            })
            .collect();
        assert_eq!(
            got,
            [
                ("vrrp1.51", "eth1", 1, 2),
                ("vrrp6.51", "eth0", 2, 1),
                ("vrrp2.51", "eth1", 2, 1)
            ]
        );
        // The addresses are placed on the VMACs that are there.
        let vi = &cfg.vrrp_instances[0];
        let placed = place(&v, 0, &vi.virtual_ipaddress, &|n| n == "vrrp1.51");
        assert_eq!(placed[0].dev, None, "the instance's VMAC, as before");
        assert_eq!(placed[1].dev.as_deref(), Some("vrrp1.51"));
        let placed = place(&v, 0, &vi.virtual_ipaddress_excluded, &|_| false);
        assert_eq!(placed[0].dev, None, "not made: on its interface itself");
    }

    /// use_vmac on an address line, with no use_vmac in the instance: that address
    /// alone gets a VMAC (named as the instance's would be); on the instance's VMAC
    /// already, the flag changes nothing.
    #[test]
    fn use_vmac_on_an_address() {
        let cfg = load(&inst(
            "VI_1",
            52,
            "",
            "  10.9.0.100/24 use_vmac\n  10.9.0.101/24",
            "  10.9.2.1/24 dev eth2 use_vmac",
        ));
        let v = address_vmacs(&cfg);
        assert_eq!(v.len(), 2);
        assert_eq!(
            (v[0].name.as_str(), v[0].base.as_str()),
            ("vrrp.52", "eth0")
        );
        assert_eq!(
            v[0].addresses,
            ["10.9.0.100".parse::<std::net::IpAddr>().unwrap()]
        );
        assert_eq!(
            (v[1].name.as_str(), v[1].base.as_str()),
            ("vrrp1.52", "eth2")
        );
        // (keepup check warns, as keepalived does: the flag says nothing new.)
        let text = inst("VI_1", 52, " use_vmac", "  10.9.0.100/24 use_vmac", "");
        let cfg = load_str("t.conf", &text, &LoadOptions::default()).config;
        assert!(address_vmacs(&cfg).is_empty());
        let notes = notes(&cfg);
        assert!(
            notes.contains("(VI_1) runs on vrrp.52 macvlan (private) 00:00:5e:00:01:34 on eth0"),
            "{notes}"
        );
    }

    #[test]
    fn names_follow_keepalived() {
        let taken: BTreeSet<String> = ["vrrp.5", "vrrp6.5", "vrrp1.5"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let t = |n: &str| taken.contains(n);
        assert_eq!(vmac_name("vrrp", 5, true, &t), "vrrp2.5");
        assert_eq!(vmac_name("vrrp", 5, false, &t), "vrrp2.5");
        assert_eq!(vmac_name("vrrp", 5, false, &|_| false), "vrrp.5");
        assert_eq!(
            vmac_name("averyveryverylongprefix", 200, false, &|_| false),
            "averyveryve.200"
        );
    }
}
