//! The addresses part: the VIPs, routes and rules an instance installs while Master,
//! the record of every address keepup added (so that none outlives a crash), the
//! cleanup of stale addresses at start, and the announcements (gratuitous ARP,
//! unsolicited NA) that move clients to us.
use super::setup::{rule, Setup};
use crate::state::{Recorded, StateFile};
use anyhow::{Context, Result};
use keepup_config::model::VirtualAddress;
use keepup_sys::{Address, FrameSender, Netlink};
use keepup_vrrp::InstanceId;
use keepup_wire::MacAddr;
use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;
use std::rc::Rc;
use tracing::{error, info, warn};

pub struct Addresses {
    nl: Rc<Netlink>,
    record: StateFile,
    frames: FrameSender,
    /// Interface index -> MAC address (see [`Addresses::mac`]).
    macs: HashMap<u32, MacAddr>,
}

impl Addresses {
    pub fn new(nl: Rc<Netlink>, record: StateFile) -> Result<Addresses> {
        Ok(Addresses {
            nl,
            record,
            frames: FrameSender::new().context("AF_PACKET socket")?,
            macs: HashMap::new(),
        })
    }

    /// Before the first advert: remove every address a previous run recorded, and
    /// every address the config names that is on an interface now (we hold none
    /// yet). An owner's (priority 255) own addresses are left alone unless recorded.
    /// A VIP that was there though no run of ours added it (a host's own address, or
    /// keepalived's leftover) is named as such (OWN-01), as is an owner that holds
    /// none of its VIPs.
    pub async fn remove_stale(&mut self, setup: &Setup) -> Result<()> {
        // A set: an address both recorded and named by the config is removed once;
        // the instance is kept for one named only by the config.
        let mut doomed: BTreeMap<Recorded, Option<InstanceId>> = self
            .record
            .addresses
            .iter()
            .map(|r| (r.clone(), None))
            .collect();
        for id in setup.ids() {
            if setup.plan.instances[id.0].priority == 255 {
                continue;
            }
            for a in setup.effects(id).addresses() {
                doomed.entry(recorded(setup, id, a)).or_insert(Some(id));
            }
        }
        let present = self.nl.addresses(None).await.context("listing addresses")?;
        self.name_owners_without_address(setup, &present).await;
        for (r, named_by) in doomed {
            let Ok(ifindex) = self.nl.ifindex(&r.interface).await else {
                continue;
            };
            let found = present
                .iter()
                .find(|p| p.ifindex == ifindex && p.addr == r.address);
            let Some(p) = found else { continue };
            match (self.nl.del_address(p).await, named_by) {
                (Ok(()), None) => info!(
                    "removed stale address {}/{} from {} (left by an earlier run)",
                    r.address, p.prefix_len, r.interface
                ),
                (Ok(()), Some(id)) => {
                    let name = setup.name(id);
                    warn!(
                        "({name}) removed {}/{} from {}: it is a virtual address of \
                         ({name}), priority {}, held only while MASTER (as keepalived \
                         does); if this router owns it, give ({name}) priority 255",
                        r.address, p.prefix_len, r.interface, setup.plan.instances[id.0].priority
                    )
                }
                (Err(e), _) => error!("cannot remove stale address {}: {e}", r.address),
            }
        }
        self.record.addresses.clear();
        self.record
            .save()
            .with_context(|| format!("cannot write {}", self.record.path().display()))
    }

    /// OWN-01: an instance at priority 255 none of whose VIPs is an address of its
    /// interface runs as owner anyway (as keepalived does); say so once at start.
    async fn name_owners_without_address(&self, setup: &Setup, present: &[Address]) {
        for id in setup.ids() {
            if setup.plan.instances[id.0].priority != 255 {
                continue;
            }
            let mut vips = setup.effects(id).addresses().peekable();
            if vips.peek().is_none() {
                continue;
            }
            let mut owned = false;
            for a in vips {
                if self.record.addresses.contains(&recorded(setup, id, a)) {
                    continue; // ours, from an earlier run
                }
                let Ok(ifindex) = self.nl.ifindex(setup.device(id, a)).await else {
                    continue;
                };
                owned |= present
                    .iter()
                    .any(|p| p.ifindex == ifindex && p.addr == a.address);
            }
            if !owned {
                info!(
                    "({}) priority 255 (the address owner), but none of its virtual \
                     addresses is an address of this host: it runs as the owner anyway",
                    setup.name(id)
                );
            }
        }
    }

    /// Master: addresses first, then routes and rules (a route may use a VIP as
    /// its source). Leaving Master: the reverse.
    ///
    /// The record of what we added is written once for the whole set (before the
    /// first add, after the last removal), not once per address.
    pub async fn vips(&mut self, setup: &Setup, id: InstanceId, install: bool) {
        let addrs: Vec<&VirtualAddress> = setup.effects(id).addresses().collect();
        let records: Vec<Recorded> = addrs.iter().map(|a| recorded(setup, id, a)).collect();
        if install {
            self.record.addresses.extend(records);
            self.save_record();
            for a in &addrs {
                self.kernel_address(setup, id, a, true).await;
            }
            self.routes_and_rules(setup, id, true).await;
        } else {
            self.routes_and_rules(setup, id, false).await;
            for a in &addrs {
                self.kernel_address(setup, id, a, false).await;
            }
            for r in &records {
                self.record.addresses.remove(r);
            }
            self.save_record();
        }
    }

    /// `virtual_routes` and `virtual_rules`: installed while Master, removed when not.
    async fn routes_and_rules(&mut self, setup: &Setup, id: InstanceId, install: bool) {
        let e = setup.effects(id);
        let name = setup.name(id);
        for r in &e.routes {
            let Some(k) = setup.route(e, r) else {
                warn!("({name}) route to {:?}: no such interface", r.to);
                continue;
            };
            let res = if install {
                self.nl.add_route(&k).await
            } else {
                self.nl.del_route(&k).await
            };
            if let Err(err) = res {
                error!("({name}) route {}/{}: {err}", k.dst, k.prefix_len);
            }
        }
        for r in &e.rules {
            let k = rule(r);
            let res = if install {
                self.nl.add_rule(&k).await
            } else {
                self.nl.del_rule(&k).await
            };
            if let Err(err) = res {
                error!("({name}) rule: {err}");
            }
        }
    }

    /// Add or remove one of an instance's addresses, keeping the record true: it is
    /// written before an add and after a remove, so a crash in between leaves a
    /// record of an address, never an address without a record.
    pub async fn change_address(
        &mut self,
        setup: &Setup,
        id: InstanceId,
        a: &VirtualAddress,
        install: bool,
    ) {
        let rec = recorded(setup, id, a);
        if install {
            self.record.addresses.insert(rec);
            self.save_record();
            self.kernel_address(setup, id, a, true).await;
        } else {
            self.kernel_address(setup, id, a, false).await;
            self.record.addresses.remove(&rec);
            self.save_record();
        }
    }

    /// Reload, for an instance kept as Master: its addresses as the old setup
    /// names them (`was`, its id there) become those the new one names (`now`).
    /// Only the difference is applied, and the added addresses announced; the
    /// number added and removed.
    pub async fn apply_difference(
        &mut self,
        (old, was): (&Setup, InstanceId),
        (new, id): (&Setup, InstanceId),
    ) -> (usize, usize) {
        let before: Vec<&VirtualAddress> = old.effects(was).addresses().collect();
        let after: Vec<&VirtualAddress> = new.effects(id).addresses().collect();
        // Compared as configured, wherever in the file each line now is.
        let gone: Vec<&VirtualAddress> = before
            .iter()
            .filter(|b| !after.contains(b))
            .copied()
            .collect();
        let added: Vec<&VirtualAddress> = after
            .iter()
            .filter(|a| !before.contains(a))
            .copied()
            .collect();
        for a in &gone {
            self.change_address(old, was, a, false).await;
        }
        for a in &added {
            self.change_address(new, id, a, true).await;
        }
        let announce: Vec<IpAddr> = added.iter().map(|a| a.address).collect();
        if !announce.is_empty() {
            self.announce(new, id, &announce).await;
        }
        (added.len(), gone.len())
    }

    /// Add or remove one address in the kernel (not recorded).
    async fn kernel_address(
        &mut self,
        setup: &Setup,
        id: InstanceId,
        a: &VirtualAddress,
        install: bool,
    ) {
        let Some(k) = setup.address(id, a) else {
            warn!("({}) no interface for {}", setup.name(id), a.address);
            return;
        };
        let r = if install {
            self.nl.add_address(&k).await
        } else {
            self.nl.del_address(&k).await
        };
        if let Err(e) = r {
            let what = if install { "add" } else { "remove" };
            error!("({}) cannot {what} {}: {e}", setup.name(id), a.address);
        }
    }

    /// An address was removed: if it is a VIP of an instance that is Master
    /// (`master`), someone else took it away from under us; put it back.
    pub async fn put_back(
        &mut self,
        setup: &Setup,
        master: impl Fn(InstanceId) -> bool,
        removed: &Address,
    ) {
        let ours = setup
            .ids()
            .filter(|&id| master(id))
            .flat_map(|id| {
                setup
                    .effects(id)
                    .addresses()
                    .filter(|v| v.address == removed.addr)
                    .filter_map(move |v| setup.address(id, v).map(|k| (id, k)))
            })
            .find(|(_, k)| k.ifindex == removed.ifindex);
        if let Some((id, k)) = ours {
            self.restore(setup, id, &k).await;
        }
    }

    /// Put back a VIP someone else removed from under a Master (`k`, of `id`).
    async fn restore(&mut self, setup: &Setup, id: InstanceId, k: &Address) {
        warn!(
            "({}) virtual address {} was removed by someone else while MASTER; putting it back",
            setup.name(id),
            k.addr
        );
        if let Err(e) = self.nl.add_address(k).await {
            error!("({}) cannot restore {}: {e}", setup.name(id), k.addr);
        }
    }

    fn save_record(&self) {
        if let Err(e) = self.record.save() {
            error!("cannot write {}: {e}", self.record.path().display());
        }
    }

    /// An interface's MAC address, cached: announcements go out without a netlink
    /// round trip. The ARP probe refreshes it every 10 s, a link event at once.
    pub async fn mac(&mut self, ifindex: u32) -> Option<MacAddr> {
        if let Some(m) = self.macs.get(&ifindex) {
            return Some(*m);
        }
        let m = MacAddr(self.nl.mac(ifindex).await.ok()?);
        self.macs.insert(ifindex, m);
        Some(m)
    }

    /// Ask netlink again for every cached MAC (off the takeover's path).
    pub async fn refresh_macs(&mut self) {
        let known: Vec<u32> = self.macs.keys().copied().collect();
        for ifx in known {
            if let Ok(m) = self.nl.mac(ifx).await {
                self.macs.insert(ifx, MacAddr(m));
            }
        }
    }

    /// A link changed: its MAC may have too.
    pub fn forget_mac(&mut self, ifindex: u32) {
        self.macs.remove(&ifindex);
    }

    /// Send one Ethernet frame out of `ifindex`.
    pub fn send_frame(&self, ifindex: u32, frame: &[u8]) -> keepup_sys::Result<()> {
        self.frames.send(ifindex, frame)
    }

    /// Gratuitous ARP / unsolicited NA for `addresses`, each on the interface it is
    /// added to (its `dev`, else the instance's).
    pub async fn announce(&mut self, setup: &Setup, id: InstanceId, addresses: &[IpAddr]) {
        let default_if = setup.plan.instances[id.0].interface.0;
        let dev: HashMap<IpAddr, u32> = setup
            .effects(id)
            .addresses()
            .filter(|a| a.dev.is_some())
            .filter_map(|a| Some((a.address, setup.ifindex.get(a.dev.as_deref()?).copied()?)))
            .collect();
        for a in addresses {
            let ifx = dev.get(a).copied().unwrap_or(default_if);
            let Some(mac) = self.mac(ifx).await else {
                warn!(
                    "({}) no MAC on interface {ifx} to announce {a}",
                    setup.name(id)
                );
                continue;
            };
            let frame = match a {
                IpAddr::V4(v4) => keepup_wire::arp::Repr::gratuitous(mac, *v4).emit().to_vec(),
                // keepalived sends the NA from the VIP itself.
                IpAddr::V6(v6) => {
                    keepup_wire::ndisc::Repr::unsolicited(mac, *v6, *v6, false).emit()
                }
            };
            if let Err(e) = self.frames.send(ifx, &frame) {
                warn!("({}) cannot announce {a}: {e}", setup.name(id));
            }
        }
    }

    /// ARP-07: one Router Advertisement for the virtual router of `id`, to all nodes
    /// out of its interface: from its link-local VIP (the virtual router's address,
    /// which hosts then use as their default router), from the interface's MAC, with
    /// the router lifetime of `keepup_router_advert`.
    pub async fn router_advert(&mut self, setup: &Setup, id: InstanceId) {
        let cfg = &setup.plan.instances[id.0];
        let Some(lifetime) = cfg.router_advert else {
            return;
        };
        let Some(src) = cfg.vips.iter().find_map(|a| match a {
            IpAddr::V6(v6) if v6.is_unicast_link_local() => Some(*v6),
            _ => None,
        }) else {
            return; // the config refuses keepup_router_advert without one
        };
        let ifx = cfg.interface.0;
        let Some(mac) = self.mac(ifx).await else {
            warn!(
                "({}) no MAC on interface {ifx} for a router advertisement",
                setup.name(id)
            );
            return;
        };
        let secs = u16::try_from(lifetime.as_secs()).unwrap_or(u16::MAX);
        let frame = keepup_wire::ra::Repr::virtual_router(mac, src, secs).emit();
        if let Err(e) = self.frames.send(ifx, &frame) {
            warn!(
                "({}) cannot send a router advertisement: {e}",
                setup.name(id)
            );
        }
    }
}

/// How the address record names `a`, an address of instance `id`.
fn recorded(setup: &Setup, id: InstanceId, a: &VirtualAddress) -> Recorded {
    Recorded {
        interface: setup.device(id, a).to_string(),
        address: a.address,
        prefix_len: a.prefix_len,
    }
}
