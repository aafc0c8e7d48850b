//! `use_vmac` / `use_ipvlan`: the virtual links the instances run on (Ledger: KA-14).
//!
//! As keepalived (vrrp_vmac.c, vrrp_if_config.c): a macvlan in private mode with the
//! virtual router MAC (or an L2 ipvlan) is made on the instance's interface, named
//! `vrrp.<VRID>` unless named; the VIPs go on it, and the adverts, gratuitous ARPs
//! and unsolicited NAs leave from it, so they carry the virtual MAC (Ledger: TX-06,
//! MAC-03, ARP-01); the kernel answers ARP for the VIPs from it (Ledger: ARP-02).
//!
//! The sysctls keepalived sets, for an IPv4 instance: on the VMAC `arp_ignore=1` (it
//! answers only for its own addresses, the VIPs), `accept_local=1` (it hears a
//! neighbour's adverts sent with a local source), `rp_filter=0` (it receives with no
//! address) and `promote_secondaries=1`; on the base interface `arp_ignore=1` and
//! `arp_filter=1` (the base never answers for a VIP with its own MAC), and, keepup
//! only, `arp_announce=2` there (the host's own ARP requests out of the base use the
//! base's address, never a VIP, as their sender: else neighbours learn the VIP with
//! the base's MAC; Ledger: OWN-04); and when
//! `net.ipv4.conf.all.rp_filter` is set, every interface is raised to it and `all`
//! is set to 0, so the VMAC's 0 counts. IPv6 is turned off on an IPv4 VMAC without
//! IPv6 addresses; on an IPv6 one, no link-local is made from the VMAC (addr_gen_mode
//! none; RFC 5798 §7.4) and the base's link-local is copied onto it as the adverts'
//! source; it gets `arp_ignore=1` as well, so it never answers ARP for another
//! VMAC's IPv4 VIP (the kernel answers for any local address by default).
//!
//! `use_vmac_addr` and `use_vmac` on an address line make more VMACs, one per
//! interface and family of the addresses that ask for one (see `crate::vmac_addr`):
//! they are made, found again, set up, removed and recorded here as the instances'
//! are, with the sysctls of their family.
//!
//! What was changed outside the VMAC (its own settings go with it) is written to
//! `<runtime-dir>/vmacs.json` with the value found before, and put back at a clean
//! stop when still as keepup set it; so is the name of each link keepup runs on. A
//! keepup killed and started again finds its links: one that is as wanted is used
//! again, one with another MAC or parent is made again, and one the configuration no
//! longer names is removed; the values found before are those of the first run.
//!
//! The link stays up in every state, as keepalived's: the VIPs are on it only while
//! Master, so a Backup neither answers ARP for them nor delivers what is sent to
//! them. An IPv4 VMAC's own `forwarding` is 0 while the instance is not Master (and
//! `all`'s value while it is), so a Backup with forwarding on does not route a frame
//! sent to the virtual MAC and a Master does (Ledger: BKP-04, MST-03). keepalived
//! leaves it on. IPv6 has no such switch per interface: keepup's nftables table
//! keeps a Backup from forwarding what comes in on its IPv6 VMACs (`firewall.rs`).
use crate::plan::{vmac_of, VmacPlan};
use keepup_config::Config;
use keepup_sys::{Address, Netlink, VirtualKind};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::net::{IpAddr, Ipv6Addr};
use std::path::{Path, PathBuf};
use tracing::{error, info, warn};

#[derive(Debug, Default, Serialize, Deserialize)]
struct OnDisk {
    /// Links keepup made or took over.
    links: BTreeSet<String>,
    /// sysctl path -> (the value found, the value keepup set).
    sysctls: BTreeMap<String, (String, String)>,
}

/// The virtual links of this run and what they changed.
pub struct Vmacs {
    path: PathBuf,
    disk: OnDisk,
    /// The links the configuration running wants (by name).
    wanted: BTreeSet<String>,
    /// The links made ready in this run, as they were asked for: a reload that asks
    /// for one the same way leaves it (and its Master's forwarding) alone.
    ready: BTreeMap<String, VmacPlan>,
}

impl Vmacs {
    /// Read the record of an earlier run (a keepup killed): what it set is put back
    /// to the values it found, not to its own.
    pub fn load(dir: &Path) -> Vmacs {
        let path = dir.join("vmacs.json");
        let disk = match std::fs::read(&path) {
            Ok(b) => serde_json::from_slice(&b).unwrap_or_else(|e| {
                warn!("{}: unreadable, ignored: {e}", path.display());
                OnDisk::default()
            }),
            Err(_) => OnDisk::default(),
        };
        Vmacs {
            path,
            disk,
            wanted: BTreeSet::new(),
            ready: BTreeMap::new(),
        }
    }

    fn save(&self) {
        if self.disk.links.is_empty() && self.disk.sysctls.is_empty() {
            let _ = std::fs::remove_file(&self.path);
            return;
        }
        let tmp = self.path.with_extension("json.tmp");
        let r = serde_json::to_vec_pretty(&self.disk)
            .map_err(std::io::Error::other)
            .and_then(|b| std::fs::write(&tmp, b))
            .and_then(|()| std::fs::rename(&tmp, &self.path));
        if let Err(e) = r {
            warn!("{}: {e}", self.path.display());
        }
    }

    /// Make (or find again) the link of each instance with `use_vmac`/`use_ipvlan`;
    /// the names of those that are ready. An instance whose link cannot be made is
    /// logged and runs on its interface itself (as keepup did before it had VMACs).
    pub async fn ensure(&mut self, nl: &Netlink, config: &Config) -> Vec<String> {
        let mut ready = Vec::new();
        self.wanted.clear();
        for vi in &config.vrrp_instances {
            if vi.use_vmac.is_none() && vi.use_ipvlan.is_none() {
                continue;
            }
            let Some(base) = vi.interface.as_deref() else {
                continue;
            };
            let Ok(parent) = nl.ifindex(base).await else {
                continue; // the plan says the interface is missing
            };
            let Some(v) = vmac_of(vi, parent) else {
                continue;
            };
            if !self.wanted.insert(v.link.name.clone()) {
                error!(
                    "({}) VMAC interface {} is already another instance's (give it a name: use_vmac NAME); the instance runs on {base} itself",
                    vi.name, v.link.name
                );
                continue;
            }
            match self.ready_as(nl, &v, &vi.name).await {
                Ok(()) => ready.push(v.link.name.clone()),
                Err(e) => error!(
                    "({}) Unable to create VMAC interface {}: {e}; the instance runs on {base} itself",
                    vi.name, v.link.name
                ),
            }
        }
        // use_vmac_addr / use_vmac on an address line.
        for a in crate::vmac_addr::address_vmacs(config) {
            let name = &config.vrrp_instances[a.instance].name;
            let Ok(parent) = nl.ifindex(&a.base).await else {
                continue; // the address's interface is missing: the plan says so
            };
            let v = a.plan(parent);
            if !self.wanted.insert(a.name.clone()) {
                continue;
            }
            match self.ready_as(nl, &v, name).await {
                Ok(()) => ready.push(a.name.clone()),
                Err(e) => error!(
                    "({name}) Unable to create VMAC interface {}: {e}; {} stay on {} itself, with its MAC",
                    a.name,
                    a.addresses
                        .iter()
                        .map(ToString::to_string)
                        .collect::<Vec<_>>()
                        .join(", "),
                    a.base
                ),
            }
        }
        self.save();
        ready
    }

    /// The link of `v` made (or found) and set up.
    async fn ready_as(&mut self, nl: &Netlink, v: &VmacPlan, instance: &str) -> Result<(), String> {
        if self.ready.get(&v.link.name) == Some(v) {
            let there = nl.link_state(&v.link.name).await;
            if matches!(there, Ok(Some(ref s)) if s.matches(&v.link)) {
                return Ok(());
            }
        }
        let ifindex = self.make(nl, instance, v).await?;
        self.configure(nl, v, ifindex).await;
        self.ready.insert(v.link.name.clone(), v.clone());
        Ok(())
    }

    /// The link of `v`: one already there as wanted, else a new one (an old one of
    /// another kind, MAC or parent is removed first; a physical one is never).
    async fn make(&mut self, nl: &Netlink, instance: &str, v: &VmacPlan) -> Result<u32, String> {
        let name = &v.link.name;
        match nl.link_state(name).await.map_err(|e| e.to_string())? {
            Some(s) if s.matches(&v.link) => {
                info!("({instance}) vmac: reusing VMAC interface {name}");
                self.disk.links.insert(name.clone());
                return Ok(s.ifindex);
            }
            Some(s) if s.is_virtual_lan() => {
                info!(
                    "vmac: Removing old VMAC interface {name} due to conflicting interface or MAC for vrrp_instance {instance}"
                );
                nl.del_link(s.ifindex).await.map_err(|e| e.to_string())?;
            }
            Some(_) => {
                return Err(format!(
                    "an interface named {name} exists and is not a macvlan or ipvlan"
                ))
            }
            None => {}
        }
        nl.add_virtual_link(&v.link)
            .await
            .map_err(|e| e.to_string())?;
        self.disk.links.insert(name.clone());
        info!("({instance}): Success creating VMAC interface {name}");
        nl.ifindex(name).await.map_err(|e| e.to_string())
    }

    /// The sysctls, the IPv6 link-local, the ipvlan's address; then up.
    async fn configure(&mut self, nl: &Netlink, v: &VmacPlan, ifindex: u32) {
        let name = &v.link.name;
        let macvlan = matches!(v.link.kind, VirtualKind::Macvlan { .. });
        if !v.v6 {
            self.clear_rp_filter();
            for (k, val) in [
                ("arp_ignore", "1"),
                ("accept_local", "1"),
                ("rp_filter", "0"),
                ("promote_secondaries", "1"),
            ] {
                set(&format!("net/ipv4/conf/{name}/{k}"), val);
            }
            // Not Master yet: no routing of what is sent to the VMAC (BKP-04).
            forwarding(v, false);
            if macvlan {
                // arp_announce is keepup's own (keepalived leaves it): without it the
                // host's ARP requests out of the base name a VIP as their sender with
                // the base's MAC, which neighbours and switches learn (OWN-04).
                for (k, val) in [
                    ("arp_ignore", "1"),
                    ("arp_filter", "1"),
                    ("arp_announce", "2"),
                ] {
                    self.set_saved(&format!("net/ipv4/conf/{}/{k}", v.base), val);
                }
            }
        }
        if v.v6 {
            // An IPv6 VMAC hears the ARP broadcasts too: with the kernel's default it
            // would answer for the IPv4 VIPs of the host (another VMAC's) with its MAC.
            set(&format!("net/ipv4/conf/{name}/arp_ignore"), "1");
        }
        // No link-local from the VMAC (RFC 5798 §7.4): set before the link is up, and
        // on every VMAC, as keepalived 2.2.7 does (seen in the VM).
        set(&format!("net/ipv6/conf/{name}/addr_gen_mode"), "1");
        let off = if v.v6 || v.any_v6 { "0" } else { "1" };
        set(&format!("net/ipv6/conf/{name}/disable_ipv6"), off);
        if v.v6 && !v.xmit_base {
            if let Some(ll) = base_link_local(nl, v.link.parent).await {
                let a = Address {
                    ifindex,
                    addr: IpAddr::V6(ll),
                    prefix_len: 64,
                    broadcast: None,
                    scope: 0,
                    label: None,
                };
                if let Err(e) = nl.add_address(&a).await {
                    warn!("Adding link-local address to vmac {name} failed: {e}");
                }
            }
        }
        if let Some((addr, prefix_len)) = v.address {
            let a = Address {
                ifindex,
                addr,
                prefix_len,
                broadcast: None,
                scope: 0,
                label: None,
            };
            if let Err(e) = nl.add_address(&a).await {
                warn!("Adding address {addr} to ipvlan {name} failed: {e}");
            }
        }
        if let Err(e) = nl.set_link_up(ifindex, true).await {
            warn!("vmac: cannot bring {name} up: {e}");
        }
        self.save();
    }

    /// keepalived's clear_rp_filter: with `all.rp_filter` set, raise each interface
    /// (and `default`) to it and set `all` to 0, so that a VMAC's own 0 counts and
    /// no other interface changes its behaviour.
    fn clear_rp_filter(&mut self) {
        let all = "net/ipv4/conf/all/rp_filter";
        let Some(v) = get(all).and_then(|s| s.parse::<u8>().ok()) else {
            return;
        };
        if v == 0 {
            return;
        }
        let Ok(dir) = std::fs::read_dir("/proc/sys/net/ipv4/conf") else {
            return;
        };
        for ent in dir.flatten() {
            let n = ent.file_name().to_string_lossy().into_owned();
            if n == "all" {
                continue;
            }
            let p = format!("net/ipv4/conf/{n}/rp_filter");
            if let Some(x) = get(&p)
                .and_then(|s| s.parse::<u8>().ok())
                .filter(|x| *x < v)
            {
                info!(
                    "NOTICE: setting sysctl {} from {x} to {v}",
                    p.replace('/', ".")
                );
                self.set_saved(&p, &v.to_string());
            }
        }
        info!("NOTICE: setting sysctl net.ipv4.conf.all.rp_filter from {v} to 0");
        self.set_saved(all, "0");
    }

    /// Set a sysctl outside the VMAC, keeping the value found the first time.
    fn set_saved(&mut self, path: &str, value: &str) {
        let Some(found) = get(path) else {
            return;
        };
        if found == value && !self.disk.sysctls.contains_key(path) {
            return;
        }
        self.disk
            .sysctls
            .entry(path.to_string())
            .or_insert_with(|| (found, value.to_string()));
        set(path, value);
    }

    /// After a start or a reload: remove the links keepup made that the
    /// configuration no longer names (a killed keepup's, or a removed instance's).
    pub async fn prune(&mut self, nl: &Netlink) {
        let gone: Vec<String> = self.disk.links.difference(&self.wanted).cloned().collect();
        for name in gone {
            remove(nl, &name).await;
            self.disk.links.remove(&name);
            self.ready.remove(&name);
        }
        self.save();
    }

    /// A clean stop: the links are removed and the sysctls put back (those still
    /// as keepup set them).
    pub async fn stop(&mut self, nl: &Netlink) {
        for name in std::mem::take(&mut self.disk.links) {
            remove(nl, &name).await;
        }
        self.ready.clear();
        // `all` last: the interfaces are put back before `all` counts again.
        let mut entries: Vec<_> = std::mem::take(&mut self.disk.sysctls).into_iter().collect();
        entries.sort_by_key(|(p, _)| p.contains("/all/"));
        for (path, (found, ours)) in entries {
            if get(&path).as_deref() == Some(ours.as_str()) {
                set(&path, &found);
            }
        }
        self.save();
    }
}

/// An IPv4 VMAC routes what it receives only while its instance is Master (and the
/// host routes at all: `net.ipv4.conf.all.forwarding`). Ledger: BKP-04, MST-03
pub fn forwarding(v: &VmacPlan, master: bool) {
    if v.v6 {
        return;
    }
    let value = if master {
        get("net/ipv4/conf/all/forwarding").unwrap_or_else(|| "0".into())
    } else {
        "0".into()
    };
    set(&format!("net/ipv4/conf/{}/forwarding", v.link.name), &value);
}

/// Remove a macvlan/ipvlan by name (never another kind of interface).
async fn remove(nl: &Netlink, name: &str) {
    match nl.link_state(name).await {
        Ok(Some(s)) if s.is_virtual_lan() => match nl.del_link(s.ifindex).await {
            Ok(()) => info!("vmac: Success removing VMAC interface {name}"),
            Err(e) => warn!("vmac: Error removing VMAC interface {name}: {e}"),
        },
        Ok(_) => {}
        Err(e) => warn!("vmac: {e}"),
    }
}

/// The base interface's IPv6 link-local, else one made from its MAC (EUI-64).
async fn base_link_local(nl: &Netlink, base: u32) -> Option<Ipv6Addr> {
    if let Ok(addrs) = nl.addresses(Some(base)).await {
        let ll = addrs.iter().find_map(|a| match a.addr {
            IpAddr::V6(x) if (x.segments()[0] & 0xffc0) == 0xfe80 => Some(x),
            _ => None,
        });
        if ll.is_some() {
            return ll;
        }
    }
    let m = nl.mac(base).await.ok()?;
    Some(eui64_link_local(m))
}

/// fe80::/64 with the modified EUI-64 of `mac` (RFC 4291 appendix A).
fn eui64_link_local(m: [u8; 6]) -> Ipv6Addr {
    Ipv6Addr::from([
        0xfe,
        0x80,
        0,
        0,
        0,
        0,
        0,
        0,
        m[0] ^ 0x02,
        m[1],
        m[2],
        0xff,
        0xfe,
        m[3],
        m[4],
        m[5],
    ])
}

fn get(path: &str) -> Option<String> {
    keepup_sys::sysctl_get(path).ok()
}

fn set(path: &str, value: &str) {
    if let Err(e) = keepup_sys::sysctl_set(path, value) {
        warn!("vmac: {e}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn link_local_from_a_mac() {
        let ll = eui64_link_local([0x52, 0x54, 0x00, 0x12, 0x34, 0x56]);
        assert_eq!(ll, "fe80::5054:ff:fe12:3456".parse::<Ipv6Addr>().unwrap());
    }

    #[test]
    fn the_record_round_trips_and_a_bad_one_is_ignored() {
        let dir = std::env::temp_dir().join(format!("keepup-vmacs-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let mut v = Vmacs::load(&dir);
        assert!(v.disk.links.is_empty());
        v.disk.links.insert("vrrp.51".into());
        v.disk.sysctls.insert(
            "net/ipv4/conf/eth0/arp_ignore".into(),
            ("0".into(), "1".into()),
        );
        v.save();
        let again = Vmacs::load(&dir);
        assert!(again.disk.links.contains("vrrp.51"));
        assert_eq!(
            again.disk.sysctls["net/ipv4/conf/eth0/arp_ignore"],
            ("0".to_string(), "1".to_string())
        );
        std::fs::write(dir.join("vmacs.json"), b"{not json").unwrap();
        assert!(Vmacs::load(&dir).disk.links.is_empty());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
