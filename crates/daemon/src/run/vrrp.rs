//! The VRRP side: the engine, its sockets and its clock. Adverts are read here in
//! batches and fed to the engine; the engine's adverts are sent from here.
use super::rx_gate::{self, SocketFilter};
use super::send_failures::{Say, SendFailures};
use super::setup::Setup;
use crate::plan::Plan;
use anyhow::{anyhow, Context, Result};
use keepup_sys::VrrpSocket;
use keepup_vrrp::{Event, State};
use keepup_vrrp::{Input, InstanceConfig, InstanceId, Router, RxData, RxPacket, TxAdvert};
use std::collections::{BTreeMap, BTreeSet};
use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;
use tokio::time::Instant;
use tracing::{error, info, warn};

/// Adverts read in one wakeup at most (the rest wait for the next turn of the loop).
const BURST: usize = 1024;

/// A read that finds this many datagrams queued: the socket is flooded (a pair's
/// adverts come one or two at a time; a burst of many instances' is gathered anyway).
const FLOODED: usize = 16;

/// While flooded, how long the loop lets packets gather before the next read, as
/// [`VrrpSide::gather`] does for bursts: a flood then costs one wakeup per pause
/// instead of one per few packets (issue 17: the wakeups were 95 % of its cost).
/// 1 ms, but at most 2 % of the shortest advert interval (an advert read that much
/// later re-arms its down timer that much later); never past the engine's next
/// deadline.
fn flood_pause(instances: &[InstanceConfig]) -> Duration {
    let shortest = instances.iter().map(|c| c.advert_int).min();
    shortest.map_or(Duration::from_millis(1), |s| {
        (s / 50).min(Duration::from_millis(1))
    })
}

/// What the kernel lets through to the socket of one family (see
/// [`keepup_sys::RxFilter`]). The versions, the VRIDs and, for a VRID whose every
/// instance uses simple-password authentication, the passwords `instances` run on it
/// are listed, but the filter does not judge them (`any_vrid`): with the kernel's
/// 1-in-64 sample a neighbouring virtual router, a VIP another VRID claims or a peer
/// with the wrong password or version would be named only after a minute or more, and
/// operators need those at once. They are judged only while a flood of them lasts
/// (see [`super::rx_gate`]).
pub fn rx_filter(instances: &[InstanceConfig], v6: bool) -> keepup_sys::RxFilter {
    let mut versions = BTreeSet::new();
    let mut vrids: BTreeMap<u8, Option<BTreeSet<[u8; 8]>>> = BTreeMap::new();
    for c in instances.iter().filter(|c| c.is_v6() == v6) {
        versions.insert(c.version.number());
        let entry = vrids.entry(c.vrid).or_insert_with(|| Some(BTreeSet::new()));
        match (&c.auth, c.version, entry.as_mut()) {
            (keepup_vrrp::Auth::Pass(p), keepup_wire::vrrp::Version::V2, Some(set)) => {
                set.insert(*p);
            }
            _ => *entry = None,
        }
    }
    keepup_sys::RxFilter {
        versions: versions.into_iter().collect(),
        vrids: (vrids.into_iter())
            .map(|(v, p)| (v, p.map(|p| p.into_iter().collect())))
            .collect(),
        any_vrid: true,
    }
}

/// With many instances, how long a burst of adverts is left to gather after its
/// first one wakes the daemon, before all of it is read at once.
///
/// Masters whose instances advertise in step send their adverts in a burst (keepup
/// sends 200 in about 1.5 ms); read as they come, a Backup would wake a dozen times
/// per burst, and those wakeups, not the adverts, were most of its CPU. About 10 µs
/// per instance, from 0.5 to 5 ms, but at most 2 % of the shortest advert interval:
/// an advert read that much later re-arms its down timer (3 intervals and more) that
/// much later. None under 32 instances, where bursts are short.
fn linger_window(instances: &[InstanceConfig]) -> Option<Duration> {
    let n = u32::try_from(instances.len()).unwrap_or(u32::MAX);
    if n < 32 {
        return None;
    }
    let shortest = instances.iter().map(|c| c.advert_int).min()?;
    let w = (Duration::from_micros(10) * n)
        .clamp(Duration::from_micros(500), Duration::from_millis(5))
        .min(shortest / 50);
    (w >= Duration::from_micros(100)).then_some(w)
}

pub struct VrrpSide {
    pub router: Router,
    v4: Option<VrrpSocket>,
    v6: Option<VrrpSocket>,
    /// See [`linger_window`].
    linger: Option<Duration>,
    /// See [`flood_pause`]; and whether the last read found a flood's worth queued.
    flood_pause: Duration,
    flooded: bool,
    /// See [`shadows`].
    shadows: BTreeSet<(u32, u8)>,
    /// See [`heard_on_vmac`].
    remap: BTreeMap<(u32, u8), u32>,
    /// See [`Twins`].
    twins: Twins,
    /// Each socket's kernel filter and when it judges VRIDs (IPv4, IPv6).
    filters: [Option<SocketFilter>; 2],
    /// Adverts that could not be sent, per instance.
    send_failures: SendFailures,
    /// The engine's time zero.
    start: Instant,
}

impl VrrpSide {
    pub fn new(plan: &Plan) -> Result<VrrpSide> {
        let router =
            Router::new(plan.instances.clone(), plan.groups.clone()).map_err(|e| anyhow!("{e}"))?;
        let any_v4 = plan.instances.iter().any(|c| !c.is_v6());
        let any_v6 = plan.instances.iter().any(|c| c.is_v6());
        let ah = plan
            .instances
            .iter()
            .any(|c| matches!(c.auth, keepup_vrrp::Auth::Ah(_)));
        let v4 = if any_v4 {
            Some(VrrpSocket::open_v4(ah).context("IPv4 VRRP socket")?)
        } else {
            None
        };
        let v6 = if any_v6 {
            Some(VrrpSocket::open_v6().context("IPv6 VRRP socket")?)
        } else {
            None
        };
        let mut side = VrrpSide {
            router,
            v4,
            v6,
            linger: linger_window(&plan.instances),
            flood_pause: flood_pause(&plan.instances),
            flooded: false,
            shadows: shadows(plan),
            remap: heard_on_vmac(plan),
            twins: Twins::default(),
            filters: [None, None],
            send_failures: SendFailures::default(),
            start: Instant::now(),
        };
        side.filter(plan);
        Ok(side)
    }

    /// The sockets' kernel filters for `plan`'s VRIDs, versions and passwords (at
    /// start and at each reload; a filter made strict by a flood stays strict, with
    /// the new lists). Without one (an old kernel), the engine still judges every
    /// packet: a warning, not a failure.
    fn filter(&mut self, plan: &Plan) {
        for (i, v6) in [(0, false), (1, true)] {
            let gate = self.filters[i].take().map(|f| f.gate).unwrap_or_default();
            let mut f = SocketFilter::new(rx_filter(&plan.instances, v6), v6);
            f.gate = gate;
            self.attach(v6, &f);
            self.filters[i] = Some(f);
        }
    }

    fn attach(&self, v6: bool, f: &SocketFilter) {
        let sock = if v6 { &self.v6 } else { &self.v4 };
        if let Some(sock) = sock {
            if let Err(e) = sock.set_filter(&f.current()) {
                warn!("kernel filter on the VRRP socket: {e}; every packet reaches keepup");
            }
        }
    }

    /// What a filter's gate decided: the program to attach, and the log line.
    fn filter_changed(&self, v6: bool, change: rx_gate::Change) {
        let Some(f) = &self.filters[usize::from(v6)] else {
            return;
        };
        self.attach(v6, f);
        let family = if v6 { 6 } else { 4 };
        match change {
            rx_gate::Change::Engage { per_sec } => warn!(
                "IPv{family}: {per_sec} adverts/s that no instance here accepts (VRIDs, \
                 versions or passwords not run here): the kernel drops them now, 1 in {} \
                 still read; a new neighbour or a peer's mistake may be named late until \
                 they stop",
                keepup_sys::RX_FILTER_SAMPLE
            ),
            rx_gate::Change::Release {
                per_sec,
                dropped,
                lasted,
            } => info!(
                "IPv{family}: the flood of adverts no instance here accepts is down to about \
                 {per_sec}/s: every advert reaches keepup again (about {dropped} dropped in \
                 the kernel over {} s)",
                lasted.as_secs()
            ),
        }
    }

    /// The IP versions whose socket filter is strict now.
    pub fn strict_filters(&self) -> Vec<u8> {
        [(0, 4), (1, 6)]
            .into_iter()
            .filter(|(i, _)| self.filters[*i].as_ref().is_some_and(|f| f.gate.strict()))
            .map(|(_, v)| v)
            .collect()
    }

    /// When a strict filter's sample is next judged.
    pub fn filter_deadline(&self) -> Option<Instant> {
        (self.filters.iter().flatten())
            .filter_map(|f| f.gate.deadline())
            .min()
    }

    /// A strict filter's sample is judged: the flood may be over.
    pub fn filter_tick(&mut self, now: Instant) {
        for (i, v6) in [(0, false), (1, true)] {
            let change = self.filters[i].as_mut().and_then(|f| f.gate.tick(now));
            if let Some(c) = change {
                self.filter_changed(v6, c);
            }
        }
    }

    /// The engine's time now; the wall clock is handed to the engine with it
    /// (`auth_hmac` signs and checks Unix time), so a stepped clock is seen at the
    /// next input.
    pub fn now(&mut self) -> keepup_vrrp::Instant {
        let now = engine_time(self.start);
        self.router.set_wall(now, unix_time());
        now
    }

    /// The engine's next deadline, on the loop's clock.
    pub fn deadline(&self) -> Option<Instant> {
        self.router
            .poll_timeout()
            .map(|d| self.start + Duration::from_nanos(d.as_nanos()))
    }

    /// After a reload: the socket a new family needs, and the burst window.
    pub fn reconfigured(&mut self, plan: &Plan) -> Result<()> {
        self.send_failures.clear();
        self.linger = linger_window(&plan.instances);
        self.flood_pause = flood_pause(&plan.instances);
        self.shadows = shadows(plan);
        self.remap = heard_on_vmac(plan);
        if self.v4.is_none() && plan.instances.iter().any(|c| !c.is_v6()) {
            let ah = plan
                .instances
                .iter()
                .any(|c| matches!(c.auth, keepup_vrrp::Auth::Ah(_)));
            self.v4 = Some(VrrpSocket::open_v4(ah).context("IPv4 VRRP socket")?);
        }
        if self.v6.is_none() && plan.instances.iter().any(|c| c.is_v6()) {
            self.v6 = Some(VrrpSocket::open_v6().context("IPv6 VRRP socket")?);
        }
        self.filter(plan);
        Ok(())
    }

    /// Join each multicast group on each interface an instance uses. An instance
    /// with `vmac_xmit_base` joins on its VMAC as well: a neighbour's advert sent from
    /// the virtual MAC arrives there (see [`heard_on_vmac`]), and the IP layer keeps a
    /// multicast datagram only on an interface that joined its group.
    pub fn join_groups(&self, plan: &Plan) -> Result<()> {
        let mut done = BTreeSet::new();
        for (c, e) in plan.instances.iter().zip(&plan.effects) {
            if !c.unicast_peers.is_empty() {
                continue;
            }
            let group = c.mcast_group.unwrap_or(if c.is_v6() {
                IpAddr::V6(keepup_wire::vrrp::MCAST_V6)
            } else {
                IpAddr::V4(keepup_wire::vrrp::MCAST_V4)
            });
            let vmac = e.vmac_ifindex.filter(|i| *i != c.interface.0);
            for ifindex in std::iter::once(c.interface.0).chain(vmac) {
                if !done.insert((group, ifindex)) {
                    continue;
                }
                let sock = if c.is_v6() { &self.v6 } else { &self.v4 };
                if let Some(s) = sock {
                    s.join(group, ifindex)
                        .with_context(|| format!("joining {group} on {}", c.name))?;
                }
            }
        }
        Ok(())
    }

    /// Resolves when an advert is queued on the IPv4 (or IPv6) socket.
    pub async fn readable(&self, v6: bool) -> keepup_sys::Result<()> {
        match if v6 { &self.v6 } else { &self.v4 } {
            Some(s) => s.readable().await,
            None => std::future::pending().await,
        }
    }

    /// An advert is queued: with many instances, let the rest of its burst gather
    /// first (see [`linger_window`]); whether to read both sockets after it.
    ///
    /// The gathering is a pause of the whole loop, on purpose: while it waits
    /// asleep, arriving adverts cost nothing, where any wait inside the runtime
    /// would be woken by each of them. It never runs past the engine's next
    /// deadline, so no advert of ours is sent late and no down timer expires with
    /// its Master's advert still queued; anything else waits at most the window.
    pub fn gather(&self) -> bool {
        let Some(w) = self.linger.or(self.flooded.then_some(self.flood_pause)) else {
            return false;
        };
        let now = Instant::now();
        let pause = self
            .deadline()
            .map_or(w, |d| d.saturating_duration_since(now).min(w));
        std::thread::sleep(pause);
        true
    }

    /// Every advert queued on one socket (up to a bound), fed to the engine in one
    /// batch before the loop acts on what they caused: Masters that advertise in
    /// step arrive as a burst and cost one wakeup and a few system calls.
    pub fn receive(&mut self, v6: bool) {
        let VrrpSide {
            v4,
            v6: s6,
            router,
            shadows,
            remap,
            twins,
            filters,
            ..
        } = self;
        let Some(sock) = (if v6 { s6.as_ref() } else { v4.as_ref() }) else {
            return;
        };
        // One clock reading for the batch: it is read within microseconds.
        let now = engine_time(self.start);
        let loop_now = Instant::now();
        router.set_wall(now, unix_time());
        let mut filter = filters[usize::from(v6)].as_mut();
        let mut change = None;
        let r = sock.try_recv_batch(BURST, |d| {
            if let Some(f) = filter.as_mut() {
                if f.only_open_keeps(d.data, v6) {
                    change = f.gate.counted(loop_now).or(change);
                }
            }
            let mut ifindex = d.ifindex;
            if !shadows.is_empty() || !remap.is_empty() {
                if let Some(vrid) = advert_vrid(d.data, d.v6.is_some()) {
                    if shadows.contains(&(ifindex, vrid)) {
                        return;
                    }
                    let via_vmac = remap.get(&(ifindex, vrid)).copied();
                    if let Some(base) = via_vmac {
                        ifindex = base;
                    }
                    if (via_vmac.is_some() || remap.values().any(|b| *b == ifindex))
                        && twins.twin(ifindex, vrid, via_vmac.is_some(), d.data)
                    {
                        return;
                    }
                }
            }
            let data = match d.v6 {
                Some((src, dst, hop_limit)) => RxData::V6 {
                    src,
                    dst,
                    hop_limit,
                    vrrp: d.data,
                },
                None => RxData::V4(d.data),
            };
            router.handle(
                now,
                Input::Packet(RxPacket {
                    interface: keepup_vrrp::IfIndex(ifindex),
                    data,
                }),
            );
        });
        match r {
            // An empty read (the other socket, after a gathering pause) says nothing.
            Ok(0) => {}
            Ok(n) => self.flooded = n >= FLOODED,
            Err(e) => warn!("receive (IPv{}): {e}", if v6 { 6 } else { 4 }),
        }
        if let Some(c) = change {
            self.filter_changed(v6, c);
        }
    }

    /// Send one of the engine's adverts; a failure is said once a minute at most
    /// (see [`SendFailures`]).
    pub async fn send(&mut self, a: &TxAdvert) {
        let src = self
            .router
            .source_address(a.instance)
            .unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED));
        let sock = if a.dst.is_ipv6() { &self.v6 } else { &self.v4 };
        let Some(s) = sock else {
            return;
        };
        let result = s.send(a.interface.0, src, a.dst, a.ttl, &a.packet).await;
        let now = Instant::now();
        let name = &self.router.config(a.instance).name;
        let say = match &result {
            Ok(()) => self.send_failures.sent(a.instance, now),
            Err(_) => Some(self.send_failures.failed(a.instance, now)),
        };
        match (say, result) {
            (Some(Say::First), Err(e)) => warn!(
                "({name}) cannot send advert: {e} (said again at most once a minute while \
                 it lasts)"
            ),
            (Some(Say::Again { unsaid }), Err(e)) => {
                warn!("({name}) cannot send advert: {e} ({unsaid} more failed since the last line)")
            }
            (Some(Say::Recovered { failed, lasted }), _) => info!(
                "({name}) adverts go out again, after {failed} failed over {:.1} s",
                lasted.as_secs_f64()
            ),
            _ => {}
        }
    }
}

/// (base ifindex, VRID) of each instance that runs on a VMAC of that base: the
/// macvlan hands a multicast advert to its parent as well (unless it came from the
/// VMAC itself), so the copy read on the base is not a neighbouring virtual router's.
fn shadows(plan: &Plan) -> BTreeSet<(u32, u8)> {
    plan.instances
        .iter()
        .zip(&plan.effects)
        .filter_map(|(c, e)| {
            let v = e.vmac.as_ref()?;
            (!v.xmit_base && c.interface.0 != v.link.parent).then_some((v.link.parent, c.vrid))
        })
        .collect()
}

/// (VMAC ifindex, VRID) -> base ifindex of each instance with `vmac_xmit_base`: it
/// runs on the base, but a neighbour's advert sent from the virtual MAC (our own
/// private macvlan's) is handed to the macvlan alone, and is read there.
fn heard_on_vmac(plan: &Plan) -> BTreeMap<(u32, u8), u32> {
    plan.instances
        .iter()
        .zip(&plan.effects)
        .filter_map(|(c, e)| {
            let v = e.vmac.as_ref()?;
            let vmac = e.vmac_ifindex?;
            (v.xmit_base && vmac != c.interface.0).then_some(((vmac, c.vrid), c.interface.0))
        })
        .collect()
}

/// With `vmac_xmit_base` the VMAC joins the advert group too (see
/// [`VrrpSide::join_groups`]), so an advert sent from a neighbour's own MAC is read
/// twice: on the base and on the VMAC. The second copy is dropped: it is a twin when
/// the last advert read the other way for that VRID had the same bytes (IP header
/// and source included). Adverts repeat unchanged, so a match is forgotten once used:
/// a neighbour sending from the virtual MAC (read on the VMAC alone) is never dropped.
#[derive(Debug, Default)]
struct Twins {
    /// (base ifindex, VRID, read on the VMAC) -> hash of the last advert read so.
    last: std::collections::HashMap<(u32, u8, bool), u64>,
}

impl Twins {
    /// Whether this copy is the twin of one already read (and is to be dropped).
    fn twin(&mut self, base: u32, vrid: u8, via_vmac: bool, data: &[u8]) -> bool {
        use std::hash::{Hash, Hasher};
        let mut h = std::collections::hash_map::DefaultHasher::new();
        data.hash(&mut h);
        let hash = h.finish();
        if self.last.get(&(base, vrid, !via_vmac)) == Some(&hash) {
            self.last.remove(&(base, vrid, !via_vmac));
            return true;
        }
        // Bounded: one entry per (instance, way); more means a stale plan.
        if self.last.len() >= 4096 {
            self.last.clear();
        }
        self.last.insert((base, vrid, via_vmac), hash);
        false
    }
}

/// The VRID of an advert as read: after the IPv4 header and any AH (IPv4), or at
/// once (IPv6).
fn advert_vrid(data: &[u8], v6: bool) -> Option<u8> {
    let mut at = 0;
    if !v6 {
        at = usize::from(data.first()? & 0x0f) * 4;
        if i32::from(*data.get(9)?) == keepup_sys::PROTO_AH {
            at += (usize::from(*data.get(at + 1)?) + 2) * 4;
        }
    }
    data.get(at + 1).copied()
}

/// The source each instance without `mcast_src_ip`/`unicast_src_ip` should use,
/// from the addresses `present` on this host: its interface's first IPv4 address
/// that is not a VIP, or its IPv6 link-local. With `use_vmac` it is read from the
/// base interface: the VMAC has no address of its own but the VIPs (and, for IPv6,
/// a copy of the base's link-local).
pub fn sources(plan: &Plan, present: &[keepup_sys::Address]) -> Vec<(InstanceId, Option<IpAddr>)> {
    let vips: BTreeSet<IpAddr> = plan
        .effects
        .iter()
        .flat_map(|e| e.addresses().map(|a| a.address))
        .collect();
    let mut out = Vec::new();
    for (i, c) in plan.instances.iter().enumerate() {
        if c.source.is_some() {
            continue;
        }
        let v6 = c.is_v6();
        let pick = present.iter().find(|a| {
            a.ifindex
                == plan
                    .effects
                    .get(i)
                    .map_or(c.interface.0, |e| e.source_ifindex)
                && !vips.contains(&a.addr)
                && match a.addr {
                    IpAddr::V4(_) => !v6,
                    IpAddr::V6(x) => v6 && (x.segments()[0] & 0xffc0) == 0xfe80,
                }
        });
        out.push((InstanceId(i), pick.map(|a| a.addr)));
    }
    out
}

/// An engine event in keepalived's words, at its level.
pub fn log_event(setup: &Setup, e: &Event) {
    // A neighbouring virtual router: named by the interface's name, at info.
    if let Event::ForeignVrid {
        interface,
        vrid,
        from,
    } = e
    {
        let ifname = setup
            .ifindex
            .iter()
            .find(|(_, &i)| i == interface.0)
            .map_or_else(|| format!("interface {}", interface.0), |(n, _)| n.clone());
        info!(
            "{}",
            keepup_vrrp::event::foreign_vrid_line(*vrid, *from, &ifname)
        );
        return;
    }
    let who = match e {
        Event::Discarded { instance, .. } => instance.map(|i| setup.name(i)),
        Event::Mismatch { instance, .. }
        | Event::VipClaimed { instance, .. }
        | Event::OwnAddressAsPeer { instance, .. } => Some(setup.name(*instance)),
        Event::ForeignVrid { .. } => None,
        Event::IntervalAdopted { instance, .. }
        | Event::LowerPriority { instance, .. }
        | Event::SecondOwner { instance, .. }
        | Event::EqualPriority { instance, .. }
        | Event::AddressConflict { instance, .. }
        | Event::PriorityChanged { instance, .. }
        | Event::PreemptDelayed { instance, .. }
        | Event::SplitBrain { instance, .. }
        | Event::HmacClockSkew { instance, .. }
        | Event::HandedOver { instance, .. }
        | Event::Flapping { instance, .. } => Some(setup.name(*instance)),
        Event::SyncGroup { .. } => None,
    };
    let line = match who {
        Some(n) => format!("({n}) {e}"),
        None => e.to_string(),
    };
    match e {
        Event::SplitBrain { .. }
        | Event::SecondOwner { .. }
        | Event::Flapping { .. }
        | Event::VipClaimed { .. } => error!("{line}"),
        // FRR's IPv6 adverts list only the VIPs: normal, and used.
        Event::Mismatch {
            reason: keepup_vrrp::Discard::NotLinkLocal,
            ignored: false,
            ..
        } => info!("{line}"),
        Event::Discarded { .. }
        | Event::AddressConflict { .. }
        | Event::HmacClockSkew { .. }
        | Event::Mismatch { .. }
        | Event::OwnAddressAsPeer { .. } => warn!("{line}"),
        _ => info!("{line}"),
    }
}

/// `Entering ... STATE`, in keepalived's words (operators grep for them).
pub fn log_transition(name: &str, from: State, to: State) {
    match (from, to) {
        (State::Initialize, State::Backup) => info!("({name}) Entering BACKUP STATE (init)"),
        (_, State::Stop) => info!("({name}) Entering STOP STATE"),
        _ => info!("({name}) Entering {} STATE", to.keepalived_name()),
    }
}

/// Each interface an instance runs on, once.
pub fn interfaces(plan: &Plan) -> Vec<keepup_vrrp::IfIndex> {
    let mut seen = BTreeSet::new();
    plan.instances
        .iter()
        .map(|c| c.interface)
        .filter(|i| seen.insert(*i))
        .collect()
}

/// The engine's time: since `start`.
/// Time since the Unix epoch (zero if the clock is set before 1970).
fn unix_time() -> Duration {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
}

fn engine_time(start: Instant) -> keepup_vrrp::Instant {
    let ns = u64::try_from(start.elapsed().as_nanos()).unwrap_or(u64::MAX);
    keepup_vrrp::Instant::from_nanos(ns)
}

#[cfg(test)]
mod tests {
    use super::*;
    use keepup_vrrp::IfIndex;

    fn instances(n: usize, advert_int: Duration) -> Vec<InstanceConfig> {
        (0..n)
            .map(|i| {
                let vrid = u8::try_from(i % 255 + 1).unwrap_or(1);
                let mut c = InstanceConfig::new(&format!("VI_{i}"), vrid, IfIndex(2), vec![]);
                c.advert_int = advert_int;
                c
            })
            .collect()
    }

    /// The kernel filter's spec: versions and VRIDs per family; passwords only where
    /// every instance of a VRID uses one (a VRID shared with an instance without
    /// one, or a VRRPv3 one, is left unchecked); VRIDs and passwords not judged.
    #[test]
    fn the_kernel_filter_names_each_family_s_versions_vrids_and_passwords() {
        use keepup_vrrp::Auth;
        let mut v = instances(4, Duration::from_secs(1));
        v[0].auth = Auth::pass("secret");
        v[1].auth = Auth::pass("other");
        v[1].vrid = 1;
        v[2].auth = Auth::pass("alone");
        v[2].vrid = 9;
        v[3].vrid = 9;
        v[3].version = keepup_wire::vrrp::Version::V3;
        let f = rx_filter(&v, false);
        assert_eq!(f.versions, vec![2, 3]);
        let mut secret = [0u8; 8];
        secret[..6].copy_from_slice(b"secret");
        let mut other = [0u8; 8];
        other[..5].copy_from_slice(b"other");
        assert_eq!(f.vrids, vec![(1, Some(vec![other, secret])), (9, None)]);
        // Listed, not judged (but during a flood, see `rx_gate`): neighbours and
        // mismatched peers must be heard at once.
        assert!(f.any_vrid);
        let none = keepup_sys::RxFilter {
            any_vrid: true,
            ..Default::default()
        };
        assert_eq!(rx_filter(&v, true), none);
    }

    /// Under a flood, reads wait 1 ms for more to gather, 2 % of the shortest
    /// interval at most.
    #[test]
    fn a_flooded_socket_is_read_after_a_pause_of_a_sliver_of_the_interval() {
        let ms = Duration::from_millis;
        assert_eq!(flood_pause(&instances(1, Duration::from_secs(1))), ms(1));
        assert_eq!(
            flood_pause(&instances(1, ms(10))),
            Duration::from_micros(200)
        );
        assert_eq!(flood_pause(&[]), ms(1));
    }

    #[test]
    fn bursts_gather_only_with_many_instances_and_for_a_sliver_of_the_interval() {
        let s = Duration::from_secs(1);
        let ms = Duration::from_millis;
        assert_eq!(linger_window(&instances(1, s)), None);
        assert_eq!(linger_window(&instances(31, s)), None);
        // 10 µs per instance, from 0.5 to 5 ms.
        assert_eq!(
            linger_window(&instances(32, s)),
            Some(Duration::from_micros(500))
        );
        assert_eq!(linger_window(&instances(200, s)), Some(ms(2)));
        assert_eq!(linger_window(&instances(1000, s)), Some(ms(5)));
        // At most 2 % of the shortest interval: 200 µs at 10 ms.
        let mut mixed = instances(200, s);
        mixed[7].advert_int = ms(10);
        assert_eq!(linger_window(&mixed), Some(Duration::from_micros(200)));
        // Under 100 µs it would not be worth a pause: none.
        assert_eq!(linger_window(&instances(200, ms(4))), None);
    }

    #[test]
    fn advert_vrid_reads_past_the_ipv4_header_and_ah() {
        let mut v4 = vec![0x45u8; 20];
        v4[9] = 112;
        v4.extend([0x21, 51, 100, 1]);
        assert_eq!(advert_vrid(&v4, false), Some(51));
        // AH with payload length 4: (4 + 2) * 4 = 24 octets.
        let mut ah = vec![0u8; 20];
        ah[0] = 0x45;
        ah[9] = 51;
        let mut h = vec![112u8, 4];
        h.resize(24, 0);
        ah.extend(h);
        ah.extend([0x21, 52]);
        assert_eq!(advert_vrid(&ah, false), Some(52));
        assert_eq!(advert_vrid(&[0x31, 61], true), Some(61));
        assert_eq!(advert_vrid(&[], false), None);
        assert_eq!(advert_vrid(&[0x4f], false), None);
    }

    fn vmac_plan(extra: &str) -> Plan {
        let text = format!(
            "vrrp_instance VI_1 {{\n interface eth0\n virtual_router_id 51\n use_vmac\n {extra}\n virtual_ipaddress {{\n  10.0.0.100/24\n }}\n}}\n"
        );
        let opts = keepup_config::LoadOptions {
            interfaces: None,
            check_scripts: false,
            ..keepup_config::LoadOptions::for_this_host()
        };
        let cfg = keepup_config::load_str("t.conf", &text, &opts).config;
        crate::plan::plan(&cfg, &|n| match n {
            "eth0" => Some(2),
            "vrrp.51" => Some(9),
            _ => None,
        })
        .unwrap()
    }

    /// On a VMAC, the copy of an advert read on the base is dropped; with
    /// vmac_xmit_base, one read on the VMAC counts as heard on the base.
    #[test]
    fn adverts_read_beside_a_vmac() {
        let p = vmac_plan("");
        assert_eq!(shadows(&p), BTreeSet::from([(2, 51)]));
        assert!(heard_on_vmac(&p).is_empty());
        let p = vmac_plan("vmac_xmit_base");
        assert!(shadows(&p).is_empty());
        assert_eq!(heard_on_vmac(&p), BTreeMap::from([((9, 51), 2)]));
    }

    /// An advert read on the base and again on the VMAC is taken once; adverts read
    /// one way only (from the virtual MAC: the VMAC alone) are all taken.
    #[test]
    fn twins_are_dropped_once_and_lone_copies_never() {
        let mut t = Twins::default();
        let a = [0x45u8, 1, 2, 3];
        for _ in 0..3 {
            assert!(!t.twin(2, 51, false, &a), "base copy");
            assert!(t.twin(2, 51, true, &a), "its twin on the VMAC");
        }
        // The other order.
        assert!(!t.twin(2, 51, true, &a));
        assert!(t.twin(2, 51, false, &a));
        // A neighbour on the virtual MAC: only the VMAC reads it, every time.
        for _ in 0..3 {
            assert!(!t.twin(2, 51, true, &a));
        }
        // Another VRID or other bytes are not twins.
        let mut t = Twins::default();
        assert!(!t.twin(2, 51, false, &a));
        assert!(!t.twin(2, 52, true, &a));
        assert!(!t.twin(2, 51, true, &[9, 9]));
    }
}
