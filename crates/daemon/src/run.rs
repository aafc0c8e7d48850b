//! `keepup run`: one tokio current-thread loop that owns all state. Drivers turn
//! sockets, netlink events, signals and the engine's deadline into engine inputs, and
//! carry the engine's outputs back to the kernel.
use crate::plan::{plan, Effects, Plan};
use crate::state::{Recorded, StateFile};
use crate::track::{Outcome, TrackInputs, Trackers};
use anyhow::{anyhow, Context, Result};
use keepup_config::model::ipspec::Broadcast;
use keepup_config::model::VirtualAddress;
use keepup_config::{LoadOptions, Verdict};
use keepup_sys::{Address, ArpListener, FrameSender, LinkEvent, Monitor, Netlink, VrrpSocket};
use keepup_vrrp::{Event, Input, InstanceId, Output, Router, RxData, RxPacket, State};
use keepup_wire::MacAddr;
use std::collections::{BTreeSet, HashMap};
use std::net::{IpAddr, Ipv4Addr};
use std::path::PathBuf;
use std::time::Duration;
use tokio::signal::unix::{signal, SignalKind};
use tracing::{error, info, warn};

/// Adverts read in one wakeup at most (the rest wait for the next turn of the loop).
const BURST: usize = 1024;

/// With many instances, how long a burst of adverts is left to gather after its
/// first one wakes the daemon, before all of it is read at once.
///
/// Masters whose instances advertise in step send their adverts in a burst (keepup
/// sends 200 in about 1.5 ms); read as they come, a Backup would wake a dozen times
/// per burst, and those wakeups, not the adverts, were most of its CPU. About 10 µs
/// per instance, from 0.5 to 5 ms, but at most 2 % of the shortest advert interval:
/// an advert read that much later re-arms its down timer (3 intervals and more) that
/// much later. None under 32 instances, where bursts are short.
fn linger_window(instances: &[keepup_vrrp::InstanceConfig]) -> Option<Duration> {
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

/// How long another host's claim on one of our VIPs may stand before it counts as
/// a duplicate address (a preempting Master's advert follows its announcement
/// within microseconds; a lost advert is resent after an advert interval).
const CLAIM_GRACE: Duration = Duration::from_secs(2);

/// What `keepup run` was told on its command line.
#[derive(Debug, Clone)]
pub struct RunOptions {
    pub file: PathBuf,
    pub config_id: Option<String>,
    /// Where the pid file and the address record live (`--runtime-dir`).
    pub runtime_dir: PathBuf,
    /// `-p` (keepalived's main pid file) and `-r` (its VRRP child's): both name us.
    pub pid_files: Vec<PathBuf>,
    /// `-V`: leave the VIPs in place on stop.
    pub dont_release_vrrp: bool,
}

/// Run until SIGTERM/SIGINT; the exit code says how it ended.
pub fn run(opts: RunOptions) -> Result<std::process::ExitCode> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the runtime")?;
    rt.block_on(async move {
        let mut d = Daemon::start(opts).await?;
        d.serve().await?;
        Ok(std::process::ExitCode::SUCCESS)
    })
}

/// Read and plan a configuration; `None` with the reasons logged when it cannot run.
/// A configuration read, planned, and the index of every interface it names (the
/// instances' own and each address's `dev`).
type LoadedPlan = (Plan, keepup_config::model::Config, HashMap<String, u32>);

async fn load(opts: &RunOptions, nl: &Netlink) -> Result<LoadedPlan> {
    let mut lo = LoadOptions::for_this_host();
    if let Some(id) = &opts.config_id {
        lo.preprocess.config_id = id.clone();
    }
    // Interface names are checked against this host by the plan (with the index).
    lo.interfaces = None;
    lo.check_scripts = false;
    let loaded = keepup_config::load_file(&opts.file, &lo);
    if !loaded.diagnostics.is_empty() {
        eprint!("{}", loaded.render());
    }
    if loaded.verdict() == Verdict::Refused {
        return Err(anyhow!(
            "{}: keepup refuses to run this configuration (see above)",
            opts.file.display()
        ));
    }
    let mut config = loaded.config;
    for line in crate::track::vet_scripts(&mut config) {
        error!("{line}");
    }
    let mut names = BTreeSet::new();
    for vi in &config.vrrp_instances {
        names.extend(vi.interface.clone());
        for a in vi
            .virtual_ipaddress
            .iter()
            .chain(&vi.virtual_ipaddress_excluded)
        {
            names.extend(a.dev.clone());
        }
    }
    let mut index = HashMap::new();
    for n in names {
        if let Ok(i) = nl.ifindex(&n).await {
            index.insert(n, i);
        }
    }
    let p = plan(&config, &|n| index.get(n).copied())
        .map_err(|e| anyhow!("{}: {}", opts.file.display(), e.join("; ")))?;
    Ok((p, config, index))
}

struct Daemon {
    opts: RunOptions,
    router: Router,
    plan: Plan,
    nl: Netlink,
    monitor: Monitor,
    v4: Option<VrrpSocket>,
    v6: Option<VrrpSocket>,
    frames: FrameSender,
    arp: ArpListener,
    /// Whether ARP frames are let through to `arp` (only while a VIP is held).
    arp_on: bool,
    /// See [`linger_window`].
    linger: Option<Duration>,
    notifier: crate::notify::Notifier,
    /// (VIP, other MAC) -> when it was last reported (duplicate address detection).
    duplicates: HashMap<(Ipv4Addr, MacAddr), tokio::time::Instant>,
    /// (VIP, other MAC) -> (our instance, when first heard): claims not yet
    /// reported. A host that preempts us announces the VIP just before its advert
    /// arrives, so a claim is a duplicate only if we still hold the VIP a while later.
    suspects: HashMap<(Ipv4Addr, MacAddr), (InstanceId, tokio::time::Instant)>,
    /// The engine's next deadline, kept to the µs (tokio's timers tick in ms).
    timer: keepup_sys::PreciseTimer,
    /// `keepup handover` requests (None if the socket could not be bound).
    control: Option<crate::control::Listener>,
    /// Handover requests waiting for their instances to let go.
    handovers: Vec<PendingHandover>,
    /// Interface index -> MAC address (see [`Daemon::mac`]).
    macs: HashMap<u32, MacAddr>,
    start: tokio::time::Instant,
    state: StateFile,
    /// Interface name -> index, for every interface the plan names.
    ifindex: HashMap<String, u32>,
    /// A digest of the configuration running (scripts vetted), to tell whether a
    /// reload changes anything; the model itself is not kept.
    config: u64,
    trackers: Trackers,
    /// Finished script runs: (script name, process group, how it ended).
    script_tx: tokio::sync::mpsc::UnboundedSender<ScriptDone>,
    script_rx: tokio::sync::mpsc::UnboundedReceiver<ScriptDone>,
    /// Process events for `vrrp_track_process` (`None`: none tracked, or /proc is
    /// read each second instead).
    procmon: Option<keepup_sys::ProcessMonitor>,
}

/// A finished `vrrp_script` run: its name, its process group (0 if it never
/// started) and how it ended.
type ScriptDone = (String, i32, Outcome);

/// A `keepup handover` answered once none of `ids` holds its VIPs any more.
struct PendingHandover {
    reply: tokio::net::UnixStream,
    ids: Vec<InstanceId>,
    /// How each instance let go (the engine's handover event), as it happened.
    how: HashMap<InstanceId, String>,
}

fn prefix_broadcast(a: &VirtualAddress) -> Option<Ipv4Addr> {
    let IpAddr::V4(v4) = a.address else {
        return None;
    };
    let host_bits = 32 - u32::from(a.prefix_len.min(32));
    let mask = if host_bits >= 32 {
        0
    } else {
        u32::MAX << host_bits
    };
    match a.broadcast? {
        Broadcast::Address(b) => Some(b),
        Broadcast::SetHostBits => Some(Ipv4Addr::from(u32::from(v4) | !mask)),
        Broadcast::ClearHostBits => Some(Ipv4Addr::from(u32::from(v4) & mask)),
    }
}

impl Daemon {
    async fn start(opts: RunOptions) -> Result<Daemon> {
        let nl = Netlink::new().await.context("netlink")?;
        let (plan, config, ifindex) = load(&opts, &nl).await?;
        let (trackers, problems) = Trackers::from_config(&config, &plan, 0);
        for p in problems {
            error!("{p}");
        }
        std::fs::create_dir_all(&opts.runtime_dir)
            .with_context(|| format!("cannot create runtime dir {}", opts.runtime_dir.display()))?;
        let pid = std::process::id().to_string();
        let mut pid_files = opts.pid_files.clone();
        pid_files.push(opts.runtime_dir.join("keepup.pid"));
        for f in &pid_files {
            std::fs::write(f, format!("{pid}\n"))
                .with_context(|| format!("cannot write pid file {}", f.display()))?;
        }
        let (state, problem) = StateFile::load(&opts.runtime_dir);
        if let Some(p) = problem {
            warn!("{p}");
        }
        let router =
            Router::new(plan.instances.clone(), plan.groups.clone()).map_err(|e| anyhow!("{e}"))?;
        let (script_tx, script_rx) = tokio::sync::mpsc::unbounded_channel();
        let linger = linger_window(&plan.instances);
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
        let fifos = plan.fifos.clone();
        let procmon = open_process_monitor(&trackers);
        let control = crate::control::Listener::bind(&opts.runtime_dir)
            .map_err(|e| warn!("{e:#}; `keepup handover` will not reach this daemon"))
            .ok();
        let mut d = Daemon {
            opts,
            router,
            plan,
            monitor: Monitor::new().context("netlink monitor")?,
            nl,
            v4,
            v6,
            frames: FrameSender::new().context("AF_PACKET socket")?,
            arp: ArpListener::new().context("AF_PACKET ARP socket")?,
            arp_on: false,
            linger,
            notifier: crate::notify::Notifier::new(fifos),
            duplicates: HashMap::new(),
            suspects: HashMap::new(),
            timer: keepup_sys::PreciseTimer::new().context("timerfd")?,
            control,
            handovers: Vec::new(),
            macs: HashMap::new(),
            start: tokio::time::Instant::now(),
            state,
            ifindex,
            config: digest(&config),
            trackers,
            script_tx,
            script_rx,
            procmon,
        };
        d.notifier.configure_mail(&config.global_defs);
        drop(config);
        d.remove_stale().await?;
        d.join_groups()?;
        d.refresh_sources().await;
        d.refresh_links().await;
        // The first announcement after a takeover should not wait for netlink.
        for ifx in d
            .plan
            .instances
            .iter()
            .map(|c| c.interface.0)
            .collect::<Vec<_>>()
        {
            d.mac(ifx).await;
        }
        d.initial_tracking().await;
        d.input(Input::Startup).await;
        // What reading the configuration used and freed goes back to the kernel.
        keepup_sys::release_free_memory();
        Ok(d)
    }

    fn now(&self) -> keepup_vrrp::Instant {
        engine_time(self.start)
    }

    fn name(&self, id: InstanceId) -> &str {
        &self.router.config(id).name
    }

    fn effects(&self, id: InstanceId) -> &Effects {
        &self.plan.effects[id.0]
    }

    /// The kernel form of a configured address.
    fn address(&self, id: InstanceId, a: &VirtualAddress) -> Option<Address> {
        let dev = a.dev.as_deref().unwrap_or(&self.effects(id).interface);
        let ifindex = *self.ifindex.get(dev)?;
        Some(Address {
            ifindex,
            addr: a.address,
            prefix_len: a.prefix_len,
            broadcast: prefix_broadcast(a),
            scope: a.scope.unwrap_or(0),
            label: a.label.clone(),
        })
    }

    /// Before the first advert: remove every address a previous run recorded, and
    /// every address the config names that is on an interface now (we hold none
    /// yet). An owner's (priority 255) own addresses are left alone unless recorded.
    async fn remove_stale(&mut self) -> Result<()> {
        // A set: an address both recorded and named by the config is removed once.
        let mut doomed: BTreeSet<Recorded> = self.state.addresses.iter().cloned().collect();
        for (i, c) in self.plan.instances.iter().enumerate() {
            if c.priority == 255 {
                continue;
            }
            for a in self.plan.effects[i].addresses() {
                let dev = a
                    .dev
                    .clone()
                    .unwrap_or(self.plan.effects[i].interface.clone());
                doomed.insert(Recorded {
                    interface: dev,
                    address: a.address,
                    prefix_len: a.prefix_len,
                });
            }
        }
        let present = self.nl.addresses(None).await.context("listing addresses")?;
        for r in doomed {
            let Ok(ifindex) = self.nl.ifindex(&r.interface).await else {
                continue;
            };
            let found = present
                .iter()
                .find(|p| p.ifindex == ifindex && p.addr == r.address);
            if let Some(p) = found {
                match self.nl.del_address(p).await {
                    Ok(()) => info!(
                        "removed stale address {}/{} from {} (left by an earlier run)",
                        r.address, p.prefix_len, r.interface
                    ),
                    Err(e) => error!("cannot remove stale address {}: {e}", r.address),
                }
            }
        }
        self.state.addresses.clear();
        self.state
            .save()
            .with_context(|| format!("cannot write {}", self.state.path().display()))
    }

    fn join_groups(&self) -> Result<()> {
        let mut done = BTreeSet::new();
        for c in &self.plan.instances {
            if !c.unicast_peers.is_empty() {
                continue;
            }
            let group = c.mcast_group.unwrap_or(if c.is_v6() {
                IpAddr::V6(keepup_wire::vrrp::MCAST_V6)
            } else {
                IpAddr::V4(keepup_wire::vrrp::MCAST_V4)
            });
            if !done.insert((group, c.interface.0)) {
                continue;
            }
            let sock = if c.is_v6() { &self.v6 } else { &self.v4 };
            if let Some(s) = sock {
                s.join(group, c.interface.0)
                    .with_context(|| format!("joining {group} on {}", c.name))?;
            }
        }
        Ok(())
    }

    /// The source of each instance without `mcast_src_ip`/`unicast_src_ip`: the
    /// interface's first IPv4 address that is not a VIP, or its IPv6 link-local.
    async fn refresh_sources(&mut self) {
        let Ok(present) = self.nl.addresses(None).await else {
            return;
        };
        let vips: BTreeSet<IpAddr> = self
            .plan
            .effects
            .iter()
            .flat_map(|e| e.addresses().map(|a| a.address))
            .collect();
        for i in 0..self.plan.instances.len() {
            let c = &self.plan.instances[i];
            if c.source.is_some() {
                continue;
            }
            let v6 = c.is_v6();
            let pick = present.iter().find(|a| {
                a.ifindex == c.interface.0
                    && !vips.contains(&a.addr)
                    && match a.addr {
                        IpAddr::V4(_) => !v6,
                        IpAddr::V6(x) => v6 && (x.segments()[0] & 0xffc0) == 0xfe80,
                    }
            });
            let address = pick.map(|a| a.addr);
            let id = InstanceId(i);
            if self.router.source_address(id) != address {
                self.input(Input::SourceAddress {
                    instance: id,
                    address,
                })
                .await;
            }
        }
    }

    async fn refresh_links(&mut self) {
        let mut seen = BTreeSet::new();
        for i in 0..self.plan.instances.len() {
            let ifx = self.plan.instances[i].interface;
            if !seen.insert(ifx) {
                continue;
            }
            let up = self.nl.link_up(ifx.0).await.unwrap_or(false);
            if !up {
                self.input(Input::Link {
                    interface: ifx,
                    up: false,
                })
                .await;
            }
        }
    }

    /// Before Startup (and after a reload): what is known already (interfaces,
    /// files, scripts with `init_fail` or carried over a reload); weight-0 scripts
    /// not run yet are pending.
    async fn initial_tracking(&mut self) {
        let mut inputs = TrackInputs::new();
        for i in 0..self.trackers.interfaces.len() {
            let name = self.trackers.interfaces[i].name.clone();
            self.trackers.interfaces[i].ifindex = self.nl.ifindex(&name).await.ok();
            let up = match self.trackers.interfaces[i].ifindex {
                Some(ifx) => self.nl.link_up(ifx).await.unwrap_or(false),
                None => false,
            };
            if !up {
                info!(
                    "Kernel is reporting: interface {} DOWN",
                    self.trackers.interfaces[i].name
                );
            }
            inputs.extend(self.trackers.interfaces[i].set(up));
        }
        for f in &mut self.trackers.files {
            let v = f.read();
            inputs.extend(f.set(v));
        }
        for s in &mut self.trackers.scripts {
            inputs.extend(s.initial());
        }
        inputs.extend(self.trackers.process_rescan(tokio::time::Instant::now()));
        self.track(inputs).await;
    }

    async fn track(&mut self, inputs: TrackInputs) {
        for (instance, tracker, effect) in inputs {
            self.input(Input::Track {
                instance,
                tracker,
                effect,
            })
            .await;
        }
    }

    /// Start every script that is due and not running.
    fn run_due_scripts(&mut self) {
        let now = tokio::time::Instant::now();
        for s in &mut self.trackers.scripts {
            if s.running.is_some() || s.next_run > now {
                continue;
            }
            s.next_run = now + s.interval;
            let tx = self.script_tx.clone();
            let name = s.spec.name.clone();
            match crate::track::start_script(&s.spec) {
                Ok((child, pgid)) => {
                    s.running = Some(pgid);
                    let timeout = s.spec.timeout;
                    tokio::spawn(async move {
                        let outcome = crate::track::wait_script(child, pgid, timeout).await;
                        let _ = tx.send((name, pgid, outcome));
                    });
                }
                Err(e) => {
                    s.running = Some(0);
                    let _ = tx.send((name, 0, Outcome::CannotRun(e)));
                }
            }
        }
    }

    /// A script run ended: keepalived's log lines, then the new effects.
    async fn script_done(&mut self, (name, pgid, outcome): ScriptDone) {
        // A run of a script a reload dropped or changed belongs to no tracker.
        let Some(s) = self
            .trackers
            .scripts
            .iter_mut()
            .find(|s| s.spec.name == name && s.running == Some(pgid))
        else {
            return;
        };
        s.running = None;
        // The next run keeps to the interval; runs that fell due while this one was
        // still going are skipped (as keepalived does), never started late in a burst.
        let now = tokio::time::Instant::now();
        if s.next_run < now && !s.interval.is_zero() {
            let behind = (now - s.next_run).as_nanos() / s.interval.as_nanos() + 1;
            s.next_run += s.interval * u32::try_from(behind).unwrap_or(u32::MAX);
        }
        let name = s.spec.name.clone();
        match &outcome {
            Outcome::Exited(code) => {
                if s.last_status != Some(*code) {
                    info!("Script `{name}` now returning {code}");
                    s.last_status = Some(*code);
                }
            }
            Outcome::TimedOut => warn!("Script `{name}` timed out"),
            Outcome::Signaled(_) => s.last_status = None,
            Outcome::CannotRun(e) => error!("Script `{name}` cannot run: {e}"),
        }
        let before = s.state.ok();
        let inputs = s.finished(outcome.success());
        let after = s.state.ok();
        if before != after {
            if after == Some(true) {
                info!("VRRP_Script({name}) succeeded");
            } else {
                info!("VRRP_Script({name}) failed ({})", outcome.describe());
            }
        }
        self.track(inputs).await;
    }

    async fn poll_files(&mut self) {
        let mut inputs = TrackInputs::new();
        for f in &mut self.trackers.files {
            let v = f.read();
            let changed = f.set(v);
            if !changed.is_empty() {
                info!("Track file {} now has value {v}", f.name);
            }
            inputs.extend(changed);
        }
        self.track(inputs).await;
    }

    /// A process connector event: only the pids it names are looked at again. A
    /// broken connector is given up for reading /proc each second.
    async fn process_event(&mut self, ev: keepup_sys::Result<keepup_sys::ProcEvent>) {
        let now = tokio::time::Instant::now();
        let inputs = match ev {
            Ok(ev) => self.trackers.process_event(ev, now),
            Err(e) => {
                warn!("process monitor: {e}; tracked processes are now counted from /proc each second");
                self.procmon = None;
                self.trackers.process_rescan(now)
            }
        };
        self.track(inputs).await;
    }

    async fn input(&mut self, input: Input<'_>) {
        let now = self.now();
        self.router.handle(now, input);
        self.drain().await;
    }

    /// Act on the engine's outputs. What touches the wire and the interfaces (VIPs,
    /// announcements, adverts) goes first; logging and notifying the transitions and
    /// events follow in their own order: a takeover's first gratuitous ARP does not
    /// wait for a log line (notify scripts run after the VIPs are in, as keepalived's
    /// do).
    async fn drain(&mut self) {
        let mut later = Vec::new();
        let mut moved = false;
        while let Some(o) = self.router.poll_output() {
            match o {
                Output::Transition { .. } | Output::Event(_) => later.push(o),
                o => {
                    moved |= matches!(o, Output::Vips { .. });
                    self.act(o).await;
                }
            }
        }
        for o in later {
            self.act(o).await;
        }
        if moved {
            self.arp_filter();
        }
        if !self.handovers.is_empty() {
            self.answer_handovers();
        }
    }

    /// `keepup handover` / `keepup handover --resume`.
    async fn control_request(&mut self, req: crate::control::Request) {
        use crate::control::{answer, Verb};
        let mut ids = Vec::new();
        for n in &req.names {
            match (0..self.plan.instances.len())
                .map(InstanceId)
                .find(|&i| self.name(i) == n)
            {
                Some(id) => ids.push(id),
                None => {
                    answer(req.reply, format!("error: no vrrp_instance {n}\n"));
                    return;
                }
            }
        }
        if ids.is_empty() {
            ids = (0..self.plan.instances.len()).map(InstanceId).collect();
        }
        let on = req.verb == Verb::Handover;
        info!(
            "control: {} for {}",
            if on { "handover" } else { "resume" },
            ids.iter()
                .map(|&i| self.name(i))
                .collect::<Vec<_>>()
                .join(", ")
        );
        for &id in &ids {
            let now = self.now();
            self.router.handle(now, Input::Yield { instance: id, on });
        }
        self.handovers.push(PendingHandover {
            reply: req.reply,
            ids,
            how: HashMap::new(),
        });
        self.drain().await;
    }

    /// Answer the handover requests whose instances all let go (or are Master
    /// again because nobody took over).
    fn answer_handovers(&mut self) {
        let mut i = 0;
        while i < self.handovers.len() {
            if self.handovers[i]
                .ids
                .iter()
                .any(|&id| self.router.is_holding(id))
            {
                i += 1;
                continue;
            }
            let p = self.handovers.swap_remove(i);
            let mut text = String::new();
            for &id in &p.ids {
                let name = self.name(id);
                let state = self.router.state(id);
                let line = match (state, p.how.get(&id), self.router.is_yielded(id)) {
                    (State::Backup, Some(how), true) => {
                        format!("{name}: handed over ({how}); BACKUP, not preempting")
                    }
                    (_, _, true) => format!(
                        "{name}: {}, not preempting until `keepup handover --resume`",
                        state.keepalived_name()
                    ),
                    (State::Master, _, false) => {
                        format!("{name}: MASTER (nobody took over within the down interval)")
                    }
                    _ => format!(
                        "{name}: {}, preempting as configured",
                        state.keepalived_name()
                    ),
                };
                text.push_str(&line);
                text.push('\n');
            }
            text.push_str("ok\n");
            crate::control::answer(p.reply, text);
        }
    }

    async fn act(&mut self, o: Output) {
        match o {
            Output::Advert(a) => {
                let src = self
                    .router
                    .source_address(a.instance)
                    .unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED));
                let sock = if a.dst.is_ipv6() { &self.v6 } else { &self.v4 };
                if let Some(s) = sock {
                    if let Err(e) = s.send(a.interface.0, src, a.dst, a.ttl, &a.packet).await {
                        warn!("({}) cannot send advert: {e}", self.name(a.instance));
                    }
                }
            }
            Output::Vips { instance, install } => self.vips(instance, install).await,
            Output::Announce {
                instance,
                mut addresses,
            } => {
                // The excluded addresses are announced with the advertised ones,
                // as keepalived does.
                let e = self.effects(instance);
                addresses.extend(e.excluded.iter().map(|a| a.address));
                self.announce(instance, &addresses).await;
            }
            Output::Transition {
                instance, to, from, ..
            } => {
                let name = self.name(instance).to_string();
                match (from, to) {
                    (State::Initialize, State::Backup) => {
                        info!("({name}) Entering BACKUP STATE (init)")
                    }
                    (_, State::Stop) => info!("({name}) Entering STOP STATE"),
                    _ => info!("({name}) Entering {} STATE", to.keepalived_name()),
                }
                let prio = self.router.effective_priority(instance);
                let notify = self.plan.effects[instance.0].notify.clone();
                self.notifier.transition(
                    crate::notify::Kind::Instance,
                    &name,
                    &notify,
                    to.keepalived_name(),
                    prio,
                );
            }
            Output::Event(e) => {
                if let Event::SyncGroup { group, to } = &e {
                    if let (Some(g), Some(n)) = (
                        self.plan.groups.get(*group),
                        self.plan.group_notify.get(*group),
                    ) {
                        let (g, n) = (g.name.clone(), n.clone());
                        info!("VRRP_Group({g}) Syncing instances to {to} state");
                        self.notifier.transition(
                            crate::notify::Kind::Group,
                            &g,
                            &n,
                            to.keepalived_name(),
                            0,
                        );
                        return;
                    }
                }
                if let Event::HandedOver { instance, .. } = &e {
                    for p in &mut self.handovers {
                        p.how.insert(*instance, e.to_string());
                    }
                }
                self.log_event(&e)
            }
        }
    }

    fn log_event(&self, e: &Event) {
        let who = match e {
            Event::Discarded { instance, .. } => instance.map(|i| self.name(i).to_string()),
            Event::IntervalAdopted { instance, .. }
            | Event::LowerPriority { instance, .. }
            | Event::SecondOwner { instance, .. }
            | Event::EqualPriority { instance, .. }
            | Event::AddressConflict { instance, .. }
            | Event::PriorityChanged { instance, .. }
            | Event::PreemptDelayed { instance, .. }
            | Event::SplitBrain { instance, .. }
            | Event::HandedOver { instance, .. }
            | Event::Flapping { instance, .. } => Some(self.name(*instance).to_string()),
            Event::SyncGroup { .. } => None,
        };
        let line = match who {
            Some(n) => format!("({n}) {e}"),
            None => e.to_string(),
        };
        match e {
            Event::SplitBrain { .. } | Event::SecondOwner { .. } | Event::Flapping { .. } => {
                error!("{line}")
            }
            Event::Discarded { .. } | Event::AddressConflict { .. } => warn!("{line}"),
            _ => info!("{line}"),
        }
    }

    /// Master: addresses first, then routes and rules (a route may use a VIP as
    /// its source). Leaving Master: the reverse.
    ///
    /// The record of what we added is written once for the whole set (before the
    /// first add, after the last removal), not once per address.
    async fn vips(&mut self, id: InstanceId, install: bool) {
        let addrs: Vec<VirtualAddress> = self.effects(id).addresses().cloned().collect();
        let records: Vec<Recorded> = addrs.iter().map(|a| self.record(id, a)).collect();
        if install {
            self.state.addresses.extend(records);
            self.save_state();
            for a in &addrs {
                self.kernel_address(id, a, true).await;
            }
            self.routes_and_rules(id, true).await;
        } else {
            self.routes_and_rules(id, false).await;
            for a in &addrs {
                self.kernel_address(id, a, false).await;
            }
            for r in &records {
                self.state.addresses.remove(r);
            }
            self.save_state();
        }
    }

    /// `virtual_routes` and `virtual_rules`: installed while Master, removed when not.
    async fn routes_and_rules(&mut self, id: InstanceId, install: bool) {
        let e = self.effects(id).clone();
        let name = self.name(id).to_string();
        for r in &e.routes {
            let Some(k) = self.route(&e, r) else {
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

    fn route(&self, e: &Effects, r: &keepup_config::model::Route) -> Option<keepup_sys::Route> {
        let (dst, prefix_len) = match &r.to {
            Some(p) => (p.address, p.prefix_len),
            None if r.inet6 => (IpAddr::V6(std::net::Ipv6Addr::UNSPECIFIED), 0),
            None => (IpAddr::V4(Ipv4Addr::UNSPECIFIED), 0),
        };
        let dev = r.dev.as_ref().unwrap_or(&e.interface);
        let ifindex = match (r.dev.as_ref(), &r.route_type) {
            (_, Some(t)) if matches!(t.as_str(), "blackhole" | "unreachable" | "prohibit") => None,
            _ => Some(*self.ifindex.get(dev)?),
        };
        Some(keepup_sys::Route {
            dst,
            prefix_len,
            gateway: r.via,
            ifindex,
            src: r.src,
            table: r.table,
            metric: r.metric,
            scope: r.scope,
            kind: r.route_type.clone().filter(|t| t != "unicast"),
        })
    }

    /// How the address record names `a`.
    fn record(&self, id: InstanceId, a: &VirtualAddress) -> Recorded {
        Recorded {
            interface: a.dev.clone().unwrap_or(self.effects(id).interface.clone()),
            address: a.address,
            prefix_len: a.prefix_len,
        }
    }

    /// Add or remove one of an instance's addresses, keeping the record true: it is
    /// written before an add and after a remove, so a crash in between leaves a
    /// record of an address, never an address without a record.
    async fn change_address(&mut self, id: InstanceId, a: &VirtualAddress, install: bool) {
        let rec = self.record(id, a);
        if install {
            self.state.addresses.insert(rec);
            self.save_state();
            self.kernel_address(id, a, true).await;
        } else {
            self.kernel_address(id, a, false).await;
            self.state.addresses.remove(&rec);
            self.save_state();
        }
    }

    /// Add or remove one address in the kernel (not recorded).
    async fn kernel_address(&mut self, id: InstanceId, a: &VirtualAddress, install: bool) {
        let Some(k) = self.address(id, a) else {
            warn!("({}) no interface for {}", self.name(id), a.address);
            return;
        };
        let r = if install {
            self.nl.add_address(&k).await
        } else {
            self.nl.del_address(&k).await
        };
        if let Err(e) = r {
            let what = if install { "add" } else { "remove" };
            error!("({}) cannot {what} {}: {e}", self.name(id), a.address);
        }
    }

    fn save_state(&self) {
        if let Err(e) = self.state.save() {
            error!("cannot write {}: {e}", self.state.path().display());
        }
    }

    /// An interface's MAC address, cached: announcements go out without a netlink
    /// round trip. The ARP probe refreshes it every 10 s, a link event at once.
    async fn mac(&mut self, ifindex: u32) -> Option<MacAddr> {
        if let Some(m) = self.macs.get(&ifindex) {
            return Some(*m);
        }
        let m = MacAddr(self.nl.mac(ifindex).await.ok()?);
        self.macs.insert(ifindex, m);
        Some(m)
    }

    /// Gratuitous ARP / unsolicited NA for `addresses`, each on the interface it is
    /// added to (its `dev`, else the instance's).
    async fn announce(&mut self, id: InstanceId, addresses: &[IpAddr]) {
        let default_if = self.router.config(id).interface.0;
        let dev: HashMap<IpAddr, u32> = self
            .effects(id)
            .addresses()
            .filter(|a| a.dev.is_some())
            .filter_map(|a| Some((a.address, self.ifindex.get(a.dev.as_deref()?).copied()?)))
            .collect();
        for a in addresses {
            let ifx = dev.get(a).copied().unwrap_or(default_if);
            let Some(mac) = self.mac(ifx).await else {
                warn!(
                    "({}) no MAC on interface {ifx} to announce {a}",
                    self.name(id)
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
                warn!("({}) cannot announce {a}: {e}", self.name(id));
            }
        }
    }

    /// The IPv4 VIPs of every Master (or, with `holding`, of every stopped Master
    /// still holding them for the handover), with their interface index.
    fn held_v4(&self, holding: bool) -> Vec<(InstanceId, u32, Ipv4Addr)> {
        let mut out = Vec::new();
        for i in 0..self.plan.instances.len() {
            let id = InstanceId(i);
            let held = if holding {
                self.router.is_holding(id)
            } else {
                self.router.state(id) == State::Master
            };
            if !held {
                continue;
            }
            for a in self.effects(id).addresses() {
                if let (IpAddr::V4(v4), Some(k)) = (a.address, self.address(id, a)) {
                    out.push((id, k.ifindex, v4));
                }
            }
        }
        out
    }

    /// ARP frames are only read while an IPv4 VIP is held (as Master, or for a
    /// handover): another host's claim matters only then.
    fn arp_filter(&mut self) {
        let on = !self.held_v4(false).is_empty() || !self.held_v4(true).is_empty();
        if on != self.arp_on {
            match self.arp.listen(on) {
                Ok(()) => self.arp_on = on,
                Err(e) => warn!("{e}"),
            }
        }
    }

    /// While Master, ask now and then who else answers for our IPv4 VIPs (an ARP
    /// probe, RFC 5227: sender address 0.0.0.0, so no cache learns from it).
    async fn probe_duplicates(&mut self) {
        // Refresh the cached MACs here, off the takeover's path (a takeover that
        // found the cache empty would ask netlink before its first announcement).
        let known: Vec<u32> = self.macs.keys().copied().collect();
        for ifx in known {
            if let Ok(m) = self.nl.mac(ifx).await {
                self.macs.insert(ifx, MacAddr(m));
            }
        }
        for (id, ifindex, vip) in self.held_v4(false) {
            let Some(mac) = self.mac(ifindex).await else {
                continue;
            };
            let probe = keepup_wire::arp::Repr {
                eth_src: mac,
                eth_dst: MacAddr::BROADCAST,
                operation: 1,
                sender_mac: mac,
                sender_ip: Ipv4Addr::UNSPECIFIED,
                target_mac: MacAddr::default(),
                target_ip: vip,
            };
            if let Err(e) = self.frames.send(ifindex, &probe.emit()) {
                warn!("({}) ARP probe for {vip}: {e}", self.name(id));
            }
        }
    }

    /// An ARP frame in which another host (another MAC) speaks for one of our IPv4
    /// VIPs, held as Master (or, with `holding`, held for a handover): the
    /// instance, the VIP and that host's MAC.
    async fn foreign_claim(
        &mut self,
        ifindex: u32,
        frame: &[u8],
        holding: bool,
    ) -> Option<(InstanceId, Ipv4Addr, MacAddr)> {
        let arp = keepup_wire::arp::Repr::parse(frame).ok()?;
        let (id, _, vip) = self
            .held_v4(holding)
            .into_iter()
            .find(|(_, ifx, v)| *ifx == ifindex && *v == arp.sender_ip)?;
        let mine = self.mac(ifindex).await?;
        (arp.sender_mac != mine).then_some((id, vip, arp.sender_mac))
    }

    /// An ARP frame from another host that claims one of our VIPs (a reply to our
    /// probe, or its own gratuitous ARP): two hosts answer for one address.
    async fn arp_frame(&mut self, ifindex: u32, frame: &[u8]) {
        if self.router.holding() {
            // A yielded Master holding its VIPs: the new Master's announcement.
            self.successor_arp(ifindex, frame).await;
        }
        let Some((id, vip, mac)) = self.foreign_claim(ifindex, frame, false).await else {
            return;
        };
        let now = tokio::time::Instant::now();
        let key = (vip, mac);
        if self
            .duplicates
            .get(&key)
            .is_some_and(|t| now.duration_since(*t) < Duration::from_secs(60))
        {
            return;
        }
        self.suspects.entry(key).or_insert((id, now));
    }

    /// When the oldest unconfirmed claim is to be judged.
    fn suspects_due(&self) -> Option<tokio::time::Instant> {
        self.suspects.values().map(|(_, t)| *t + CLAIM_GRACE).min()
    }

    /// Claims heard [`CLAIM_GRACE`] ago: still Master with that VIP means two hosts
    /// answer for it; no longer Master means it was a takeover.
    fn judge_suspects(&mut self) {
        let now = tokio::time::Instant::now();
        let due: Vec<_> = self
            .suspects
            .iter()
            .filter(|(_, (_, t))| now >= *t + CLAIM_GRACE)
            .map(|(k, v)| (*k, *v))
            .collect();
        if due.is_empty() {
            return;
        }
        let held = self.held_v4(false);
        for ((vip, mac), (id, _)) in due {
            self.suspects.remove(&(vip, mac));
            if !held.iter().any(|(i, _, v)| *i == id && *v == vip) {
                continue;
            }
            self.duplicates.insert((vip, mac), now);
            error!(
                "({}) duplicate address: {vip} is also answered by {mac} on this link; another host holds it",
                self.name(id),
            );
        }
    }

    fn deadline(&self) -> Option<tokio::time::Instant> {
        self.router
            .poll_timeout()
            .map(|d| self.start + Duration::from_nanos(d.as_nanos()))
    }

    /// An advert is queued: read it now, or with many instances let the rest of its
    /// burst gather first (see [`linger_window`]).
    ///
    /// The gathering is a pause of the whole loop, on purpose: while it waits
    /// asleep, arriving adverts cost nothing, where any wait inside the runtime
    /// would be woken by each of them. It never runs past the engine's next
    /// deadline, so no advert of ours is sent late and no down timer expires with
    /// its Master's advert still queued; anything else waits at most the window.
    async fn arrived(&mut self, v6: bool) {
        let Some(w) = self.linger else {
            return self.packets(v6).await;
        };
        let now = tokio::time::Instant::now();
        let pause = self
            .deadline()
            .map_or(w, |d| d.saturating_duration_since(now).min(w));
        std::thread::sleep(pause);
        self.packets(false).await;
        self.packets(true).await;
    }

    /// Every advert queued on one socket (up to a bound), fed to the engine in
    /// batches before acting on what they caused: Masters that advertise in step
    /// arrive as a burst and cost one wakeup and a few system calls.
    async fn packets(&mut self, v6: bool) {
        let Daemon {
            v4: s4,
            v6: s6,
            router,
            start,
            ..
        } = self;
        if let Some(sock) = if v6 { s6.as_ref() } else { s4.as_ref() } {
            // One clock reading for the batch: it is read within microseconds.
            let now = engine_time(*start);
            let r = sock.try_recv_batch(BURST, |d| {
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
                        interface: keepup_vrrp::IfIndex(d.ifindex),
                        data,
                    }),
                );
            });
            if let Err(e) = r {
                warn!("receive (IPv{}): {e}", if v6 { 6 } else { 4 });
            }
        }
        self.drain().await;
    }

    async fn link_event(&mut self, ev: LinkEvent) {
        match ev {
            LinkEvent::Link { ifindex, name, up } => {
                // The MAC may have changed: fetch it again now, not at the takeover.
                self.macs.remove(&ifindex);
                if self.plan.instances.iter().any(|c| c.interface.0 == ifindex) {
                    self.mac(ifindex).await;
                }
                let mut inputs = TrackInputs::new();
                for t in &mut self.trackers.interfaces {
                    if t.ifindex == Some(ifindex) || (t.ifindex.is_none() && t.name == name) {
                        t.ifindex = Some(ifindex);
                        inputs.extend(t.set(up));
                    }
                }
                if !inputs.is_empty() {
                    info!(
                        "Kernel is reporting: interface {name} {}",
                        if up { "UP" } else { "DOWN" }
                    );
                }
                self.track(inputs).await;
                if self.plan.instances.iter().any(|c| c.interface.0 == ifindex) {
                    info!("Netlink reports {name} {}", if up { "up" } else { "down" });
                    self.input(Input::Link {
                        interface: keepup_vrrp::IfIndex(ifindex),
                        up,
                    })
                    .await;
                }
            }
            LinkEvent::AddressRemoved(a) => {
                // A VIP taken away by someone else while we are Master is put back.
                let mut restore = None;
                for i in 0..self.plan.instances.len() {
                    let id = InstanceId(i);
                    if self.router.state(id) != State::Master {
                        continue;
                    }
                    for v in self.effects(id).addresses() {
                        if v.address == a.addr {
                            if let Some(k) = self.address(id, v) {
                                if k.ifindex == a.ifindex {
                                    restore = Some((id, k));
                                }
                            }
                        }
                    }
                }
                if let Some((id, k)) = restore {
                    warn!(
                        "({}) virtual address {} was removed by someone else while MASTER; putting it back",
                        self.name(id),
                        k.addr
                    );
                    if let Err(e) = self.nl.add_address(&k).await {
                        error!("({}) cannot restore {}: {e}", self.name(id), k.addr);
                    }
                }
                self.refresh_sources().await;
            }
            LinkEvent::AddressAdded(_) => self.refresh_sources().await,
        }
    }

    async fn serve(&mut self) -> Result<()> {
        let mut signals = signals()?;
        let mut probe = tokio::time::interval(Duration::from_secs(10));
        probe.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        // Tracked files are read once a second (keepalived watches them with inotify).
        let mut files = tokio::time::interval(Duration::from_secs(1));
        files.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        // Without the process connector, tracked processes are counted each second.
        let mut procs = tokio::time::interval(Duration::from_secs(1));
        procs.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            let any_files = !self.trackers.files.is_empty();
            let deadline = match (self.deadline(), self.suspects_due()) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            }
            .map(tokio::time::Instant::into_std);
            let scripts_due = self.trackers.next_due();
            let procs_due = self.trackers.process_next_due();
            let poll_procs = self.procmon.is_none() && !self.trackers.processes.is_empty();
            tokio::select! {
                r = readable(&self.v4) => match r {
                    Ok(()) => self.arrived(false).await,
                    Err(e) => warn!("receive (IPv4): {e}"),
                },
                r = readable(&self.v6) => match r {
                    Ok(()) => self.arrived(true).await,
                    Err(e) => warn!("receive (IPv6): {e}"),
                },
                ev = self.monitor.next() => match ev {
                    Ok(ev) => self.link_event(ev).await,
                    Err(e) => warn!("netlink monitor: {e}"),
                },
                () = self.timer.wait(deadline) => {
                    let now = self.now();
                    self.router.handle_timeout(now);
                    self.drain().await;
                    self.judge_suspects();
                }
                r = self.arp.recv(), if self.arp_on => match r {
                    Ok((ifindex, frame)) => self.arp_frame(ifindex, &frame).await,
                    Err(e) => warn!("ARP receive: {e}"),
                },
                _ = probe.tick() => self.probe_duplicates().await,
                () = sleep_until(scripts_due) => self.run_due_scripts(),
                Some(done) = self.script_rx.recv() => self.script_done(done).await,
                _ = files.tick(), if any_files => self.poll_files().await,
                ev = next_process_event(&mut self.procmon) => self.process_event(ev).await,
                () = sleep_until(procs_due) => {
                    let inputs = self.trackers.process_due(tokio::time::Instant::now());
                    self.track(inputs).await;
                }
                _ = procs.tick(), if poll_procs => {
                    let inputs = self.trackers.process_rescan(tokio::time::Instant::now());
                    self.track(inputs).await;
                }
                Some(sig) = signals.recv() => match sig {
                    Asked::Stop => break,
                    Asked::Reload => self.reload().await,
                },
                Some(req) = next_request(&mut self.control) => self.control_request(req).await,
            }
        }
        self.stop().await;
        Ok(())
    }

    /// SIGTERM/SIGINT: priority-0 adverts from every Master, VIPs removed (unless
    /// `-V`), record cleared.
    async fn stop(&mut self) {
        info!("Stopping");
        // Scripts still running go with their whole process group.
        for s in &mut self.trackers.scripts {
            if let Some(pgid) = s.running.take().filter(|p| *p > 0) {
                crate::track::kill_group(pgid);
            }
        }
        let now = self.now();
        self.router.handle(now, Input::Shutdown);
        self.drain_stopping().await;
        // Planned switchover: a Master keeps answering for its VIPs until the new
        // Master is heard (with -V they stay anyway).
        if self.router.holding() && !self.opts.dont_release_vrrp {
            self.await_handover().await;
        }
        self.router.release_all();
        self.drain_stopping().await;
        self.notifier.drain(Duration::from_secs(10)).await;
        for f in &self.opts.pid_files {
            let _ = std::fs::remove_file(f);
        }
        let _ = std::fs::remove_file(self.opts.runtime_dir.join("keepup.pid"));
    }

    /// The engine's outputs while stopping; with `-V` (keepalived's
    /// `--dont-release-vrrp`) the addresses are left in place.
    async fn drain_stopping(&mut self) {
        while let Some(o) = self.router.poll_output() {
            match o {
                Output::Vips { .. } if self.opts.dont_release_vrrp => {}
                other => self.act(other).await,
            }
        }
    }

    /// Keep receiving until every stopped Master has heard its successor's advert
    /// (the engine bounds each wait by the down interval); another SIGTERM or SIGINT
    /// ends the wait at once.
    async fn await_handover(&mut self) {
        info!("priority 0 sent; answering for the VIPs until the new master is heard");
        let started = tokio::time::Instant::now();
        let mut term = signal(SignalKind::terminate()).ok();
        let mut int = signal(SignalKind::interrupt()).ok();
        // The engine's own bound is the down interval; this only guards the loop.
        let cap = started + Duration::from_secs(60);
        while self.router.holding() {
            let deadline = self.deadline().map(|d| d.min(cap));
            tokio::select! {
                r = readable(&self.v4) => if r.is_ok() { self.packets(false).await },
                r = readable(&self.v6) => if r.is_ok() { self.packets(true).await },
                () = sleep_until(deadline) => {
                    let now = self.now();
                    self.router.handle_timeout(now);
                    self.drain().await;
                    if tokio::time::Instant::now() >= cap {
                        break;
                    }
                }
                r = self.arp.recv() => if let Ok((ifindex, frame)) = r {
                    self.successor_arp(ifindex, &frame).await;
                },
                Some(()) = next_signal(&mut term) => break,
                Some(()) = next_signal(&mut int) => break,
            }
        }
        info!("handover done after {:?}", started.elapsed());
    }

    /// While handing over: the new Master announcing one of our VIPs (an ARP from
    /// another MAC) means the clients have moved; let go at once.
    async fn successor_arp(&mut self, ifindex: u32, frame: &[u8]) {
        if let Some((instance, _, _)) = self.foreign_claim(ifindex, frame, true).await {
            self.input(Input::Claimed { instance }).await;
        }
    }

    /// Reload: trackers from the new configuration. Unchanged scripts keep their
    /// state (and a run in progress); runs of scripts gone or changed are killed. The
    /// new bindings are fed first, then the engine forgets the old ones of the
    /// instances it kept, so a kept instance sees no transient change.
    async fn rebuild_trackers(
        &mut self,
        config: keepup_config::model::Config,
        kept: &[Option<InstanceId>],
    ) {
        let (mut trackers, problems) =
            Trackers::from_config(&config, &self.plan, self.trackers.next_id);
        for p in problems {
            error!("{p}");
        }
        let old = std::mem::take(&mut self.trackers);
        let old_bindings: Vec<(InstanceId, u32)> =
            old.bindings().map(|b| (b.instance, b.tracker)).collect();
        for pgid in trackers.adopt(old) {
            crate::track::kill_group(pgid);
        }
        self.trackers = trackers;
        self.config = digest(&config);
        if self.trackers.processes.is_empty() {
            self.procmon = None;
        } else if self.procmon.is_none() {
            self.procmon = open_process_monitor(&self.trackers);
        }
        self.initial_tracking().await;
        let moved: HashMap<usize, InstanceId> = kept
            .iter()
            .enumerate()
            .filter_map(|(i, k)| k.map(|old| (old.0, InstanceId(i))))
            .collect();
        for (old, tracker) in old_bindings {
            if let Some(&instance) = moved.get(&old.0) {
                self.input(Input::Track {
                    instance,
                    tracker,
                    effect: keepup_vrrp::TrackEffect::Weight(0),
                })
                .await;
            }
        }
    }

    /// SIGHUP: read and validate the new configuration first; an invalid one is
    /// refused and the running one stays.
    async fn reload(&mut self) {
        info!("Reloading");
        let (new, new_config, index) = match load(&self.opts, &self.nl).await {
            Ok(p) => p,
            Err(e) => {
                error!("reload refused, the running configuration stays: {e}");
                return;
            }
        };
        self.notifier.configure_mail(&new_config.global_defs);
        // Scripts, trackers and notify settings are in the configuration, not the plan.
        let same = digest(&new_config) == self.config
            && new.instances == self.plan.instances
            && new.groups == self.plan.groups
            && new
                .effects
                .iter()
                .zip(&self.plan.effects)
                .all(|(a, b)| a.same_as(b));
        if same {
            info!("reload: configuration unchanged");
            return;
        }
        // An instance is kept when only its addresses changed; any other change
        // restarts it, and one that is gone resigns (priority 0, VIPs removed) while
        // its id still means what the old plan says.
        let compatible = |c: &keepup_vrrp::InstanceConfig, e: &Effects| {
            new.instances.iter().zip(&new.effects).any(|(n, ne)| {
                let mut a = c.clone();
                a.vips.clone_from(&n.vips);
                a == *n
                    && ne.interface == e.interface
                    && serde_json::json!([ne.routes, ne.rules])
                        == serde_json::json!([e.routes, e.rules])
            })
        };
        let old_effects = self.plan.effects.clone();
        self.router.retire(|c| {
            self.plan
                .instances
                .iter()
                .position(|x| x.name == c.name)
                .is_some_and(|i| compatible(c, &old_effects[i]))
        });
        self.drain().await;
        let kept = match self
            .router
            .reconfigure(new.instances.clone(), new.groups.clone())
        {
            Ok(k) => k,
            Err(e) => {
                error!("reload failed: {e}");
                return;
            }
        };
        let old_plan = std::mem::replace(&mut self.plan, new);
        self.linger = linger_window(&self.plan.instances);
        self.ifindex.extend(index);
        let (mut added, mut removed, mut restarted) = (0, 0, 0);
        for (i, k) in kept.iter().enumerate() {
            let id = InstanceId(i);
            let Some(old) = k else {
                restarted += 1;
                continue;
            };
            if self.router.state(id) != State::Master {
                continue;
            }
            // A Master keeps its addresses; only the difference is applied.
            let before: Vec<VirtualAddress> =
                old_plan.effects[old.0].addresses().cloned().collect();
            let after: Vec<VirtualAddress> = self.plan.effects[i].addresses().cloned().collect();
            let key = |a: &VirtualAddress| serde_json::to_value(a).unwrap_or_default();
            let new_ones: Vec<VirtualAddress> = after
                .iter()
                .filter(|a| !before.iter().any(|b| key(b) == key(a)))
                .cloned()
                .collect();
            let gone: Vec<VirtualAddress> = before
                .iter()
                .filter(|b| !after.iter().any(|a| key(a) == key(b)))
                .cloned()
                .collect();
            for a in &gone {
                self.change_address(id, a, false).await;
                removed += 1;
            }
            for a in &new_ones {
                self.change_address(id, a, true).await;
                added += 1;
            }
            let announce: Vec<IpAddr> = new_ones.iter().map(|a| a.address).collect();
            if !announce.is_empty() {
                self.announce(id, &announce).await;
            }
        }
        self.rebuild_trackers(new_config, &kept).await;
        if let Err(e) = self.join_groups() {
            warn!("reload: {e}");
        }
        self.refresh_sources().await;
        // The instances started afresh (in Initialize), now that their trackers are fed.
        self.input(Input::Startup).await;
        keepup_sys::release_free_memory();
        info!(
            "reload: {} instance(s), {restarted} started afresh, {added} address(es) added, {removed} removed",
            self.plan.instances.len()
        );
    }
}

fn rule(r: &keepup_config::model::Rule) -> keepup_sys::Rule {
    let p = |x: &Option<keepup_config::model::ipspec::IpPrefix>| {
        x.as_ref().map(|p| (p.address, p.prefix_len))
    };
    let v6 = r.inet6
        || r.from.as_ref().is_some_and(|p| p.address.is_ipv6())
        || r.to.as_ref().is_some_and(|p| p.address.is_ipv6());
    keepup_sys::Rule {
        v6,
        from: p(&r.from),
        to: p(&r.to),
        table: r.table,
        priority: r.priority,
        fwmark: r.fwmark,
        iif: r.iif.clone(),
        oif: r.oif.clone(),
    }
}

/// The engine's time: since the daemon started.
fn engine_time(start: tokio::time::Instant) -> keepup_vrrp::Instant {
    let ns = u64::try_from(start.elapsed().as_nanos()).unwrap_or(u64::MAX);
    keepup_vrrp::Instant::from_nanos(ns)
}

async fn readable(s: &Option<VrrpSocket>) -> keepup_sys::Result<()> {
    match s {
        Some(s) => s.readable().await,
        None => std::future::pending().await,
    }
}

/// The process connector for `vrrp_track_process`, if any process is tracked; says
/// once which way processes are watched.
fn open_process_monitor(trackers: &Trackers) -> Option<keepup_sys::ProcessMonitor> {
    if trackers.processes.is_empty() {
        return None;
    }
    match keepup_sys::ProcessMonitor::new() {
        Ok(m) => {
            info!(
                "track_process: watching process events (kernel process connector{})",
                if m.in_initial_namespace() {
                    ", initial network namespace"
                } else {
                    ""
                }
            );
            Some(m)
        }
        Err(e) => {
            warn!(
                "track_process: no process events ({e}); counting processes from /proc each second"
            );
            None
        }
    }
}

async fn next_process_event(
    m: &mut Option<keepup_sys::ProcessMonitor>,
) -> keepup_sys::Result<keepup_sys::ProcEvent> {
    match m {
        Some(m) => m.next().await,
        None => std::future::pending().await,
    }
}

/// A digest of a configuration model (its JSON form), to compare two of them.
fn digest(config: &keepup_config::model::Config) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    serde_json::to_vec(config).unwrap_or_default().hash(&mut h);
    h.finish()
}

/// The next delivery of a signal, or never if it could not be registered.
async fn next_signal(s: &mut Option<tokio::signal::unix::Signal>) -> Option<()> {
    match s {
        Some(s) => s.recv().await,
        None => std::future::pending().await,
    }
}

/// What a signal asks of the daemon.
enum Asked {
    /// SIGTERM or SIGINT.
    Stop,
    /// SIGHUP.
    Reload,
}

/// SIGTERM, SIGINT and SIGHUP as one stream, read by a task of their own: one
/// branch in the daemon's loop instead of three signal futures rebuilt per wakeup.
fn signals() -> Result<tokio::sync::mpsc::UnboundedReceiver<Asked>> {
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    let mut hup = signal(SignalKind::hangup())?;
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        loop {
            let sig = tokio::select! {
                Some(()) = term.recv() => Asked::Stop,
                Some(()) = int.recv() => Asked::Stop,
                Some(()) = hup.recv() => Asked::Reload,
                else => return,
            };
            if tx.send(sig).is_err() {
                return;
            }
        }
    });
    Ok(rx)
}

async fn next_request(c: &mut Option<crate::control::Listener>) -> Option<crate::control::Request> {
    match c {
        Some(c) => c.next().await,
        None => std::future::pending().await,
    }
}

async fn sleep_until(d: Option<tokio::time::Instant>) {
    match d {
        Some(d) => tokio::time::sleep_until(d).await,
        None => std::future::pending().await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use keepup_vrrp::{IfIndex, InstanceConfig};

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
}
