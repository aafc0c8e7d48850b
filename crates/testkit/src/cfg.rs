//! Helpers that make scenarios short: virtual instants from seconds, instance
//! configurations with keepalived's defaults, and the RFC timer formulas as oracles.
use keepup_vrrp::{IfIndex, InitialState, InstanceConfig, UnicastPeer};
use keepup_wire::vrrp::Version;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::Duration;

pub use keepup_vrrp::Instant;

/// An instant `s` seconds after the simulation epoch (rounded to the nanosecond).
pub fn secs(s: f64) -> Instant {
    Instant::from_nanos((s * 1e9).round() as u64)
}

/// An instant `ms` milliseconds after the epoch.
pub fn ms(ms: u64) -> Instant {
    Instant::from_nanos(ms * 1_000_000)
}

/// A duration of `s` seconds (rounded to the nanosecond).
pub fn dur(s: f64) -> Duration {
    Duration::from_nanos((s * 1e9).round() as u64)
}

/// The VIP the config helpers give VRID `vrid` (IPv4): 10.0.100.{vrid}.
pub fn vip4(vrid: u8) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(10, 0, 100, vrid))
}

/// The VIPs the IPv6 config helper gives VRID `vrid`: the virtual link-local
/// fe80::5e:{vrid} first (TX-08), then fd00::{vrid}.
pub fn vips6(vrid: u8) -> Vec<IpAddr> {
    vec![
        IpAddr::V6(Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0x5e, u16::from(vrid))),
        IpAddr::V6(Ipv6Addr::new(0xfd00, 0, 0, 0, 0, 0, 0, u16::from(vrid))),
    ]
}

/// A VRRPv2 instance `VI_{vrid}` on the router's first interface: priority `prio`,
/// 1 s, VIP 10.0.100.{vrid}, keepalived's other defaults (preempt, state BACKUP).
pub fn v2(vrid: u8, prio: u8) -> InstanceConfig {
    let mut c = InstanceConfig::new(&format!("VI_{vrid}"), vrid, IfIndex(1), vec![vip4(vrid)]);
    c.version = Version::V2;
    c.priority = prio;
    c
}

/// A VRRPv3 instance over IPv4 (`vrrp_version 3`), 100 cs.
pub fn v3(vrid: u8, prio: u8) -> InstanceConfig {
    let mut c = v2(vrid, prio);
    c.version = Version::V3;
    c
}

/// A VRRPv3 instance over IPv6 (link-local VIP first), 100 cs.
pub fn v3_6(vrid: u8, prio: u8) -> InstanceConfig {
    let mut c = InstanceConfig::new(&format!("VI_{vrid}"), vrid, IfIndex(1), vips6(vrid));
    c.version = Version::V3;
    c.priority = prio;
    c
}

/// Builder-style tweaks on [`InstanceConfig`], named after keepalived's keywords.
pub trait CfgExt: Sized {
    fn named(self, name: &str) -> Self;
    /// `interface`: the router interface (the sim's `IfIndex(n)` is its n-th one).
    fn on(self, interface: IfIndex) -> Self;
    fn priority(self, prio: u8) -> Self;
    /// `advert_int` in milliseconds (v2: whole seconds only).
    fn advert_int_ms(self, ms: u64) -> Self;
    /// `state MASTER`.
    fn state_master(self) -> Self;
    /// `nopreempt` (keepalived honours it only with `state BACKUP`, KA-17).
    fn nopreempt(self) -> Self;
    fn preempt_delay(self, d: Duration) -> Self;
    /// `unicast_peer { .. }` (multicast off).
    fn unicast_peers(self, peers: &[IpAddr]) -> Self;
    /// `unicast_src_ip` / `mcast_src_ip`.
    fn source(self, addr: IpAddr) -> Self;
}

impl CfgExt for InstanceConfig {
    fn named(mut self, name: &str) -> Self {
        self.name = name.to_string();
        self
    }
    fn on(mut self, interface: IfIndex) -> Self {
        self.interface = interface;
        self
    }
    fn priority(mut self, prio: u8) -> Self {
        self.priority = prio;
        self
    }
    fn advert_int_ms(mut self, ms: u64) -> Self {
        self.advert_int = Duration::from_millis(ms);
        self
    }
    fn state_master(mut self) -> Self {
        self.state = InitialState::Master;
        self
    }
    fn nopreempt(mut self) -> Self {
        self.preempt = false;
        self
    }
    fn preempt_delay(mut self, d: Duration) -> Self {
        self.preempt_delay = d;
        self
    }
    fn unicast_peers(mut self, peers: &[IpAddr]) -> Self {
        self.unicast_peers = peers
            .iter()
            .map(|&address| UnicastPeer {
                address,
                min_ttl: None,
                max_ttl: None,
            })
            .collect();
        self
    }
    fn source(mut self, addr: IpAddr) -> Self {
        self.source = Some(addr);
        self
    }
}

/// Skew_Time in nanoseconds, one division at the end (the ledger's arithmetic rule).
/// v2 (TMR-02): (256 − p) / 256 s, whatever the interval. v3 (TMR-04):
/// (256 − p) × interval / 256.
pub fn skew_time(version: Version, priority: u8, interval: Duration) -> Duration {
    let p = 256 - u64::from(priority);
    let ns = match version {
        Version::V2 => p * 1_000_000_000 / 256,
        Version::V3 => u64::try_from(u128::from(p) * interval.as_nanos() / 256).unwrap_or(u64::MAX),
    };
    Duration::from_nanos(ns)
}

/// The down interval (TMR-03/05): `adverts` × interval + Skew_Time (`adverts` is
/// `down_timer_adverts`, 3 by RFC).
pub fn down_interval(version: Version, priority: u8, interval: Duration, adverts: u32) -> Duration {
    interval * adverts + skew_time(version, priority, interval)
}

/// [`down_interval`] for an instance's own configuration.
pub fn config_down_interval(c: &InstanceConfig) -> Duration {
    down_interval(c.version, c.priority, c.advert_int, c.down_timer_adverts)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Ledger: TMR-02, TMR-03, TMR-04, TMR-05, TMR-07 — the worked values of the
    /// ledger, as oracles for the scenarios.
    #[test]
    fn worked_values() {
        let s = |x: f64| dur(x);
        assert_eq!(down_interval(Version::V2, 100, s(1.0), 3), s(3.609375));
        assert_eq!(down_interval(Version::V2, 254, s(1.0), 3), s(3.0078125));
        assert_eq!(down_interval(Version::V2, 1, s(1.0), 3), s(3.99609375));
        assert_eq!(skew_time(Version::V3, 200, s(1.0)), s(0.21875));
        assert_eq!(down_interval(Version::V3, 200, s(1.0), 3), s(3.21875));
        assert_eq!(down_interval(Version::V3, 100, s(0.1), 3), s(0.3609375));
        assert_eq!(down_interval(Version::V3, 100, s(0.01), 3), s(0.03609375));
        assert_eq!(skew_time(Version::V3, 150, s(0.2)), s(0.0828125));
        assert_eq!(down_interval(Version::V3, 150, s(0.2), 3), s(0.6828125));
    }

    #[test]
    fn instants_from_seconds() {
        assert_eq!(secs(3.609375).as_nanos(), 3_609_375_000);
        assert_eq!(ms(1500), secs(1.5));
        assert_eq!(secs(3.609375).to_string(), "3.609");
    }
}
