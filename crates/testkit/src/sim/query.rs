//! What a scenario reads back from the simulator: the transcript, the records, the
//! engines' states.
use super::{AdvertRecord, EventRecord, HeardRecord, RouterId, Sim, TransitionRecord};
use keepup_vrrp::{IfIndex, InstanceConfig, InstanceId, Instant, Router, State};
use std::net::{Ipv4Addr, Ipv6Addr};

impl Sim {
    pub fn transitions(&self) -> &[TransitionRecord] {
        &self.transitions
    }
    pub fn adverts(&self) -> &[AdvertRecord] {
        &self.adverts
    }
    pub fn heard(&self) -> &[HeardRecord] {
        &self.heard
    }
    pub fn events(&self) -> &[EventRecord] {
        &self.events
    }
    pub fn router_count(&self) -> usize {
        self.nodes.len()
    }
    /// The running engine of `r` (None while powered off).
    pub fn engine(&self, r: RouterId) -> Option<&Router> {
        self.nodes[r.0].engine.as_ref()
    }
    /// The configuration `r` runs `instance` with (source address filled in).
    pub fn config(&self, r: RouterId, instance: InstanceId) -> &InstanceConfig {
        &self.nodes[r.0].configs[instance.0]
    }
    /// `r`'s IPv4 primary address on interface `index`.
    pub fn addr_v4(&self, r: RouterId, index: IfIndex) -> Option<Ipv4Addr> {
        self.nodes[r.0].iface(index).map(|i| i.v4)
    }
    /// `r`'s IPv6 link-local address on interface `index`.
    pub fn addr_v6(&self, r: RouterId, index: IfIndex) -> Option<Ipv6Addr> {
        self.nodes[r.0].iface(index).map(|i| i.v6)
    }
    /// The state of `instance` on `r` (None while powered off).
    pub fn state(&self, r: RouterId, instance: InstanceId) -> Option<State> {
        self.engine(r).map(|e| e.state(instance))
    }
    /// The state of `r`'s first instance.
    pub fn state_of(&self, r: RouterId) -> Option<State> {
        self.state(r, InstanceId(0))
    }
    /// Does `r` hold `instance`'s VIPs (by the Vips outputs; a crash removes them)?
    pub fn holds_vips(&self, r: RouterId, instance: InstanceId) -> bool {
        self.nodes[r.0]
            .track
            .get(instance.0)
            .is_some_and(|t| t.vips)
    }
    /// Running routers with an instance of `vrid` in MASTER (all LANs, both families).
    pub fn masters(&self, vrid: u8) -> Vec<RouterId> {
        self.instances_in(vrid, State::Master)
            .into_iter()
            .map(|(r, _)| r)
            .collect()
    }
    /// Running (router, instance) pairs with VRID `vrid` in `state`.
    pub fn instances_in(&self, vrid: u8, state: State) -> Vec<(RouterId, InstanceId)> {
        let mut out = Vec::new();
        for (k, node) in self.nodes.iter().enumerate() {
            let Some(e) = &node.engine else { continue };
            for (i, c) in node.configs.iter().enumerate() {
                if c.vrid == vrid && e.state(InstanceId(i)) == state {
                    out.push((RouterId(k), InstanceId(i)));
                }
            }
        }
        out
    }
    /// Routers holding the VIPs of an instance with VRID `vrid`.
    pub fn vip_holders(&self, vrid: u8) -> Vec<RouterId> {
        let mut out = Vec::new();
        for (k, node) in self.nodes.iter().enumerate() {
            if node
                .configs
                .iter()
                .zip(&node.track)
                .any(|(c, t)| c.vrid == vrid && t.vips)
            {
                out.push(RouterId(k));
            }
        }
        out
    }
    /// The last advert `r` sent for `vrid` at or before now, with priority > 0.
    pub fn last_advert(&self, r: RouterId, vrid: u8) -> Option<&AdvertRecord> {
        self.adverts
            .iter()
            .rev()
            .find(|a| a.router == r && a.vrid == vrid && a.priority > 0 && a.sent)
    }
    /// Transitions at or after `t`.
    pub fn transitions_since(&self, t: Instant) -> Vec<&TransitionRecord> {
        self.transitions.iter().filter(|x| x.at >= t).collect()
    }
    /// The first transition of `r` into `to` at or after `t`.
    pub fn first_transition(
        &self,
        r: RouterId,
        to: State,
        t: Instant,
    ) -> Option<&TransitionRecord> {
        self.transitions
            .iter()
            .find(|x| x.router == r && x.to == to && x.at >= t)
    }
}
