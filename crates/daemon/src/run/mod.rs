//! `keepup run`: one tokio current-thread loop that routes events between the
//! daemon's parts. Each part owns its state:
//!
//! - [`vrrp::VrrpSide`]: the engine, its sockets and its clock;
//! - [`addresses::Addresses`]: VIPs, routes, rules, the address record, announcements;
//! - [`duplicates::DuplicateWatch`]: other hosts answering for our VIPs;
//! - [`firewall::Firewall`]: `no_accept`, the nftables table that drops what is sent
//!   to a non-owner Master's VIPs;
//! - [`tracking::Tracking`]: scripts, files, processes and interfaces tracked;
//! - [`handover::Handovers`]: `keepup handover` requests waiting for their answer;
//! - [`deadlines::Clock`]: every deadline in one table behind one timerfd;
//! - [`setup::Setup`]: the plan running, and where reload decides what changed;
//! - [`crate::dumps::Dumps`]: keepalived's dump files, written off the loop from the
//!   status snapshot.
//!
//! The loop waits on the VRRP sockets, the ARP socket, the clock and one channel
//! ([`incoming`]) for signals, control requests, scripts, process and link events.
mod addresses;
mod deadlines;
mod duplicates;
mod firewall;
mod handover;
mod incoming;
mod reload;
mod rx_gate;
mod send_failures;
mod setup;
mod tracking;
mod vmac;
mod vrrp;

use crate::status::{DaemonStatus, Publisher};
use crate::track::TrackInputs;
use addresses::Addresses;
use anyhow::{Context, Result};
use deadlines::{Clock, Due};
use duplicates::{foreign_claim, held_v4, DuplicateWatch};
pub use firewall::accept_notes;
use firewall::Firewall;
use handover::Handovers;
pub use incoming::signum;
use incoming::{Asked, Incoming};
use keepup_sys::{LinkEvent, Monitor, Netlink};
use keepup_vrrp::{Event, Input, InstanceId, Output, State};
use setup::Setup;
use std::path::PathBuf;
use std::rc::Rc;
use std::time::Duration;
use tokio::time::Instant;
use tracing::{debug, error, info, warn};
use tracking::Tracking;
use vrrp::VrrpSide;

/// How stale the status counters may get (state changes are published at once).
const STATUS_REFRESH: Duration = Duration::from_secs(1);

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
    /// `-I`: leave keepup's IPVS entries in place on stop.
    pub dont_release_ipvs: bool,
    /// `--status-group`: members may read `keepup status` (a name or a gid).
    pub status_group: Option<String>,
    /// `--metrics-listen`: where Prometheus metrics are served.
    pub metrics_listen: Option<std::net::SocketAddr>,
    /// Run the health checkers of the virtual servers (off with `-P`, VRRP only).
    pub checkers: bool,
    /// Run the VRRP instances (off with `-C`, checkers only).
    pub vrrp: bool,
}

impl RunOptions {
    fn lvs(&self, feed: Option<crate::status::IpvsFeed>) -> crate::lvs::Options {
        crate::lvs::Options {
            runtime_dir: self.runtime_dir.clone(),
            dont_release: self.dont_release_ipvs,
            feed,
        }
    }
}

/// Run until SIGTERM/SIGINT; the exit code says how it ended.
pub fn run(opts: RunOptions) -> Result<std::process::ExitCode> {
    keepup_sys::limit_malloc_arenas();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the runtime")?;
    rt.block_on(async move {
        let mut d = Daemon::start(opts).await?;
        // Every instance has its first state, the stale addresses are gone.
        let status = d.states_line();
        d.systemd.ready(status);
        d.serve().await;
        d.systemd.stopping();
        d.stop().await;
        d.systemd.finish();
        Ok(std::process::ExitCode::SUCCESS)
    })
}

/// The loop and its parts.
struct Daemon {
    opts: RunOptions,
    nl: Rc<Netlink>,
    setup: Setup,
    vrrp: VrrpSide,
    addresses: Addresses,
    duplicates: DuplicateWatch,
    firewall: Firewall,
    tracking: Tracking,
    handovers: Handovers,
    notifier: crate::notify::Notifier,
    clock: Clock,
    incoming: incoming::Receiver,
    status: Publisher,
    /// The health checkers, on their own thread (None: no virtual servers, or `-P`).
    checkers: Option<crate::checkers::CheckerSide>,
    /// `lvs_sync_daemon`: the IPVS sync daemons follow an instance's state (as in
    /// keepalived, they belong to the VRRP side: they run with `-P` too).
    syncd: crate::syncd::SyncDaemons,
    /// systemd's readiness, status and watchdog (a no-op outside systemd).
    systemd: crate::systemd::Systemd,
    /// keepalived's dump files (SIGUSR1, SIGUSR2, SIGJSON, STATS_CLEAR).
    dumps: crate::dumps::Dumps,
    /// Router Solicitations for the instances with `keepup_router_advert`.
    solicitations: incoming::Solicitations,
    /// The VMACs of `use_vmac`/`use_ipvlan` and the sysctls they changed.
    vmacs: vmac::Vmacs,
}

impl Daemon {
    async fn start(opts: RunOptions) -> Result<Daemon> {
        let nl = Rc::new(Netlink::new().await.context("netlink")?);
        std::fs::create_dir_all(&opts.runtime_dir)
            .with_context(|| format!("cannot create runtime dir {}", opts.runtime_dir.display()))?;
        let mut vmacs = vmac::Vmacs::load(&opts.runtime_dir);
        let (setup, config) = setup::load(
            &opts.file,
            opts.config_id.as_deref(),
            opts.vrrp,
            &nl,
            &mut vmacs,
            &mut String::new(),
        )
        .await?;
        vmacs.prune(&nl).await;
        setup::write_pid_files(&pid_files(&opts))?;
        let (record, problem) = crate::state::StateFile::load(&opts.runtime_dir);
        if let Some(p) = problem {
            warn!("{p}");
        }
        let (tx, rx) = incoming::channel();
        incoming::forward_signals(tx.clone()).context("signal handlers")?;
        incoming::forward_links(Monitor::new().context("netlink monitor")?, tx.clone());
        let (status, reader) = Publisher::new(DaemonStatus::new(&opts.file, setup.digest));
        let access = crate::control::Access::new(opts.status_group.as_deref())?;
        if let Some(addr) = opts.metrics_listen {
            // A metrics address that cannot be bound stops the start: the operator
            // asked for it, and a daemon that silently serves nothing would be graphed
            // as down.
            let l = tokio::net::TcpListener::bind(addr)
                .await
                .with_context(|| format!("--metrics-listen {addr}"))?;
            info!("metrics: serving http://{addr}/metrics");
            tokio::spawn(crate::metrics::serve(l, reader.clone()));
        }
        let dumps = crate::dumps::Dumps::new(reader.clone());
        match crate::control::Listener::bind(&opts.runtime_dir, access, reader) {
            Ok(l) => incoming::forward_control(l, tx.clone()),
            Err(e) => {
                warn!("{e:#}; `keepup status`, `reload` and `handover` will not reach this daemon")
            }
        }
        let mut notifier = crate::notify::Notifier::new(setup.plan.fifos.clone());
        notifier.configure_mail(&config.global_defs);
        let mut d = Daemon {
            vrrp: VrrpSide::new(&setup.plan)?,
            addresses: Addresses::new(nl.clone(), record)?,
            duplicates: DuplicateWatch::new()?,
            solicitations: incoming::Solicitations::new(tx.clone()),
            firewall: Firewall::new(&config, &opts.runtime_dir),
            tracking: Tracking::new(&config, &setup.plan, nl.clone(), tx),
            handovers: Handovers::default(),
            notifier,
            clock: Clock::new().context("timerfd")?,
            incoming: rx,
            status,
            checkers: None,
            syncd: crate::syncd::SyncDaemons::default(),
            systemd: crate::systemd::Systemd::from_env(),
            dumps,
            vmacs,
            opts,
            nl,
            setup,
        };
        d.clock.table.set(
            Due::Watchdog,
            d.systemd.ping_every().map(|p| Instant::now() + p),
        );
        let checkers = d.opts.checkers && !config.virtual_servers.is_empty();
        d.dumps.configure(&config, &d.setup.plan, checkers);
        if d.opts.checkers {
            let feed = d.status.checker_feed();
            let lvs = d.opts.lvs(d.status.ipvs_feed());
            let beat = d.checker_beat();
            d.checkers = crate::checkers::CheckerSide::start(&config, feed, lvs, beat);
            if d.checkers.is_none() {
                d.systemd.no_checkers();
            }
            if d.checkers.is_none() {
                crate::lvs::release_leftovers(&d.opts.lvs(None));
            }
        } else if !config.virtual_servers.is_empty() {
            info!("-P: VRRP only; the virtual servers are not checked");
        }
        if !d.opts.vrrp {
            info!("-C: checkers only; no VRRP instance runs");
        }
        d.configure_syncd(&config);
        let delay = startup_delay(&config.global_defs, uptime());
        drop(config);
        d.addresses.remove_stale(&d.setup).await?;
        // With -C no instance runs: the VRRP side's table is not ours to touch.
        if d.opts.vrrp {
            d.firewall.start(&d.setup);
        }
        d.firewall_armed();
        d.vrrp.join_groups(&d.setup.plan)?;
        d.solicitations.listen(&d.setup.plan);
        d.refresh_sources().await;
        d.refresh_links().await;
        // The first announcement after a takeover should not wait for netlink.
        for c in &d.setup.plan.instances {
            d.addresses.mac(c.interface.0).await;
        }
        let inputs = d.tracking.initial().await;
        d.track(inputs).await;
        if delay.is_zero() {
            d.input(Input::Startup).await;
        } else {
            // The instances wait in Initialize: no adverts, no VIPs, deaf to others'.
            info!("Delaying startup for {} seconds", delay.as_secs_f64());
            d.clock
                .table
                .set(Due::Startup, Some(Instant::now() + delay));
        }
        // The probe runs at once (it also fills the MAC cache), then every 10 s.
        d.clock.table.set(Due::DuplicateProbe, Some(Instant::now()));
        // What reading the configuration used and freed goes back to the kernel.
        keepup_sys::release_free_memory();
        Ok(d)
    }

    /// Route events until asked to stop.
    async fn serve(&mut self) {
        loop {
            self.status.rx_filter_strict(self.vrrp.strict_filters());
            if self.status.dirty {
                self.publish();
            }
            self.clock.table.set(Due::Engine, self.vrrp.deadline());
            self.clock
                .table
                .set(Due::RxFilter, self.vrrp.filter_deadline());
            self.clock.table.set(Due::ClaimGrace, self.duplicates.due());
            self.tracking.arm(&mut self.clock.table);
            // Rows already due are served before anything else: under a flood the
            // sockets stay readable, and `select!` (or the reactor's view of the
            // timerfd) would let a due GARP round or advert wait behind the packets.
            if self.clock.table.any_due(Instant::now()) {
                self.deadlines().await;
                continue;
            }
            let arp_on = self.duplicates.listening();
            tokio::select! {
                r = self.vrrp.readable(false) => match r {
                    Ok(()) => self.arrived(false).await,
                    Err(e) => warn!("receive (IPv4): {e}"),
                },
                r = self.vrrp.readable(true) => match r {
                    Ok(()) => self.arrived(true).await,
                    Err(e) => warn!("receive (IPv6): {e}"),
                },
                r = self.duplicates.recv(), if arp_on => match r {
                    Ok((ifindex, frame)) => self.arp_frame(ifindex, &frame).await,
                    Err(e) => warn!("ARP receive: {e}"),
                },
                () = self.clock.wait() => self.deadlines().await,
                Some(ev) = self.incoming.recv() => {
                    if !self.handle(ev).await {
                        return;
                    }
                }
            }
        }
    }

    /// The checker side's heartbeat for systemd's watchdog, when it is on.
    fn checker_beat(&mut self) -> Option<crate::checkers::Beat> {
        let every = self.systemd.beat_every()?;
        Some((self.systemd.checker_heartbeat()?, every))
    }

    /// The instances by state, for systemd's STATUS=.
    fn states_line(&self) -> String {
        if !self.opts.vrrp {
            return "checkers only (-C)".to_string();
        }
        let router = &self.vrrp.router;
        crate::systemd::status_line(self.setup.plan.instances.iter().enumerate().map(|(i, c)| {
            let state = router.state(keepup_vrrp::InstanceId(i));
            (c.name.as_str(), state.keepalived_name())
        }))
    }

    /// A fresh status snapshot; the next one at the latest in a second (counters).
    fn publish(&mut self) {
        let t = &self.tracking.trackers;
        self.status.publish(&self.vrrp.router, &self.setup.plan, t);
        let states = self.states_line();
        self.systemd.status(states);
        let next = Instant::now() + STATUS_REFRESH;
        self.clock.table.set(Due::StatusRefresh, Some(next));
    }

    /// Adverts are queued on one socket (with many instances, on both after the
    /// burst gathered).
    async fn arrived(&mut self, v6: bool) {
        if self.vrrp.gather() {
            self.vrrp.receive(false);
            self.vrrp.receive(true);
        } else {
            self.vrrp.receive(v6);
        }
        self.drain().await;
    }

    /// The rows of the deadline table that fell due.
    async fn deadlines(&mut self) {
        let now = Instant::now();
        for row in self.clock.table.take_due(now) {
            match row {
                Due::Engine => {
                    // Adverts already queued arrived before this wake-up: heard first,
                    // so a daemon that was stopped (SIGSTOP, a long stall) and wakes with
                    // its down timer overdue stays Backup when its Master's adverts wait
                    // on the socket, instead of taking over for a moment (the loop's
                    // select! takes ready branches in random order).
                    self.vrrp.receive(false);
                    self.vrrp.receive(true);
                    let t = self.vrrp.now();
                    self.vrrp.router.handle_timeout(t);
                    self.drain().await;
                }
                Due::ClaimGrace => {
                    let held = held_v4(&self.vrrp.router, &self.setup, false);
                    for id in self.duplicates.judge(now, &held, &self.setup) {
                        self.status.duplicate_address(self.setup.name(id));
                    }
                }
                Due::DuplicateProbe => {
                    // The cached MACs are refreshed here, off the takeover's path.
                    self.addresses.refresh_macs().await;
                    let held = held_v4(&self.vrrp.router, &self.setup, false);
                    self.duplicates
                        .probe(&mut self.addresses, &held, &self.setup)
                        .await;
                    let next = now + duplicates::PROBE_EVERY;
                    self.clock.table.set(Due::DuplicateProbe, Some(next));
                }
                Due::RxFilter => self.vrrp.filter_tick(now),
                // The counters moved on, maybe: a fresh snapshot.
                Due::StatusRefresh => self.status.dirty = true,
                Due::Startup => {
                    info!("Startup delay over: the VRRP instances start");
                    self.input(Input::Startup).await;
                }
                Due::Firewall => {
                    self.firewall.write(&self.setup, false);
                    self.firewall_armed();
                }
                Due::Watchdog => {
                    self.systemd.ping();
                    let next = self.systemd.ping_every().map(|p| Instant::now() + p);
                    self.clock.table.set(Due::Watchdog, next);
                }
                tracked => {
                    let inputs = self.tracking.fire(tracked, now);
                    self.track(inputs).await;
                }
            }
        }
    }

    /// One message from the channel; `false` when the daemon is to stop.
    async fn handle(&mut self, ev: Incoming) -> bool {
        match ev {
            Incoming::Signal(Asked::Stop) => return false,
            Incoming::Signal(Asked::Reload) => self.reload_and_report(None).await,
            Incoming::Signal(Asked::Dump(kind)) => self.dump(kind),
            Incoming::Signal(Asked::ThreadDump) => incoming::thread_dump_asked(),
            Incoming::Control(req) if req.verb == crate::control::Verb::Reload => {
                self.reload_and_report(Some(req.reply)).await
            }
            Incoming::Control(req) => self.control(req).await,
            Incoming::ScriptDone(done) => {
                let inputs = self.tracking.script_done(done);
                self.track(inputs).await;
            }
            Incoming::Process(ev) => {
                let inputs = self.tracking.process_event(ev);
                self.track(inputs).await;
            }
            Incoming::Link(Ok(ev)) => self.link_event(ev).await,
            Incoming::Link(Err(e)) => warn!("netlink monitor: {e}"),
            Incoming::Solicitation(Ok(s))
                if keepup_wire::ra::valid_solicitation(&s.message, s.hop_limit) =>
            {
                let interface = keepup_vrrp::IfIndex(s.ifindex);
                self.input(Input::RouterSolicitation { interface }).await
            }
            Incoming::Solicitation(Ok(s)) => {
                debug!("router solicitation from {} ignored: not valid", s.source)
            }
            Incoming::Solicitation(Err(e)) => {
                warn!("{e}; router solicitations are no longer answered")
            }
        }
        true
    }

    /// A dump file asked for by signal: the snapshot is made fresh (the periodic
    /// one may be a second old), then the file is written off the loop. STATS_CLEAR
    /// writes the stats as they were, then clears the counters, as keepalived does.
    fn dump(&mut self, kind: crate::dumps::Dump) {
        self.publish();
        self.dumps.write(kind, self.status.latest());
        if kind == crate::dumps::Dump::StatsClear {
            // The Prometheus counters (metrics.rs) read these: after a clear they go
            // back to zero, which Prometheus takes as a counter reset (rate() and
            // increase() handle it), as it does after a restart.
            self.vrrp.router.clear_counters();
            self.status.dirty = true;
        }
    }

    async fn input(&mut self, input: Input<'_>) {
        let now = self.vrrp.now();
        self.vrrp.router.handle(now, input);
        self.drain().await;
    }

    async fn track(&mut self, inputs: TrackInputs) {
        self.status.dirty |= !inputs.is_empty();
        for (instance, tracker, effect) in inputs {
            self.input(Input::Track {
                instance,
                tracker,
                effect,
            })
            .await;
        }
    }

    /// Act on the engine's outputs. What touches the wire and the interfaces (VIPs,
    /// announcements, adverts) goes first; logging and notifying the transitions and
    /// events follow in their own order: a takeover's first gratuitous ARP does not
    /// wait for a log line (notify scripts run after the VIPs are in, as keepalived's
    /// do).
    async fn drain(&mut self) {
        let mut later = Vec::new();
        let mut moved = false;
        while let Some(o) = self.vrrp.router.poll_output() {
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
            self.duplicates.listen(&self.vrrp.router, &self.setup);
        }
        if self.handovers.waiting() {
            self.handovers.answer_done(&self.vrrp.router, &self.setup);
        }
    }

    async fn act(&mut self, o: Output) {
        match o {
            Output::Advert(a) => self.vrrp.send(&a).await,
            // The filter goes in before the VIPs and comes out after them.
            Output::Vips { instance, install } => {
                if install {
                    self.firewall.vips(&self.setup, instance, true);
                    self.addresses.vips(&self.setup, instance, true).await;
                } else {
                    self.addresses.vips(&self.setup, instance, false).await;
                    self.firewall.vips(&self.setup, instance, false);
                }
                let e = self.setup.effects(instance);
                for v in e.vmac.iter().chain(&e.addr_vmacs) {
                    vmac::forwarding(v, install);
                }
                self.firewall_armed();
            }
            Output::Announce {
                instance,
                mut addresses,
            } => {
                // The excluded addresses are announced with the advertised ones,
                // as keepalived does.
                let e = self.setup.effects(instance);
                addresses.extend(e.excluded.iter().map(|a| a.address));
                self.addresses
                    .announce(&self.setup, instance, &addresses)
                    .await;
            }
            Output::RouterAdvert { instance } => {
                self.addresses.router_advert(&self.setup, instance).await
            }
            Output::Transition {
                instance,
                to,
                from,
                reason,
            } => {
                let name = self.setup.name(instance);
                self.syncd.transition(name, to);
                self.status.transition(name, from, reason);
                vrrp::log_transition(name, from, to);
                let prio = self.vrrp.router.effective_priority(instance);
                self.notifier.transition(
                    crate::notify::Kind::Instance,
                    name,
                    &self.setup.effects(instance).notify,
                    to.keepalived_name(),
                    prio,
                );
            }
            Output::Event(e) => {
                if let Event::SyncGroup { group, to } = &e {
                    let p = &self.setup.plan;
                    if let (Some(g), Some(n)) = (p.groups.get(*group), p.group_notify.get(*group)) {
                        info!("VRRP_Group({}) Syncing instances to {to} state", g.name);
                        self.notifier.transition(
                            crate::notify::Kind::Group,
                            &g.name,
                            n,
                            to.keepalived_name(),
                            0,
                        );
                        return;
                    }
                }
                self.status.dirty = true;
                self.handovers.event(&e);
                vrrp::log_event(&self.setup, &e);
            }
        }
    }

    /// A failed firewall write is tried again in a while; each failure is counted in
    /// the status.
    fn firewall_armed(&mut self) {
        let at = self
            .firewall
            .retry
            .then(|| Instant::now() + firewall::RETRY_AFTER);
        self.clock.table.set(Due::Firewall, at);
        self.status.firewall_failures(self.firewall.failures);
    }

    /// `lvs_sync_daemon` at start and after a reload: the daemon of the followed
    /// instance's state now (with `-C` no instance runs, and no sync daemon either).
    fn configure_syncd(&mut self, config: &keepup_config::Config) {
        let settings = if self.opts.vrrp {
            crate::syncd::settings(config, &self.setup.plan.instances)
        } else {
            None
        };
        let (setup, router) = (&self.setup, &self.vrrp.router);
        self.syncd.configure(settings, |name| {
            setup
                .ids()
                .any(|id| setup.name(id) == name && router.state(id) == State::Master)
        });
    }

    /// `keepup handover` / `keepup handover --resume`.
    async fn control(&mut self, req: crate::control::Request) {
        let Some((ids, on)) = self
            .handovers
            .request(&self.setup, req.verb, &req.names, req.reply)
        else {
            return;
        };
        for id in ids {
            let now = self.vrrp.now();
            self.vrrp
                .router
                .handle(now, Input::Yield { instance: id, on });
        }
        self.drain().await;
    }

    /// An ARP frame from another host that claims one of our VIPs (a reply to our
    /// probe, or its own gratuitous ARP): two hosts answer for one address.
    async fn arp_frame(&mut self, ifindex: u32, frame: &[u8]) {
        if self.vrrp.router.holding() {
            // A yielded Master holding its VIPs: the new Master's announcement.
            self.successor_arp(ifindex, frame).await;
        }
        let held = held_v4(&self.vrrp.router, &self.setup, false);
        let claim = foreign_claim(&mut self.addresses, &held, ifindex, frame).await;
        self.duplicates.claim(claim, Instant::now());
    }

    /// While handing over: the new Master announcing one of our VIPs (an ARP from
    /// another MAC) means the clients have moved; let go at once.
    async fn successor_arp(&mut self, ifindex: u32, frame: &[u8]) {
        let held = held_v4(&self.vrrp.router, &self.setup, true);
        if let Some((instance, _, _)) =
            foreign_claim(&mut self.addresses, &held, ifindex, frame).await
        {
            self.input(Input::Claimed { instance }).await;
        }
    }

    async fn link_event(&mut self, ev: LinkEvent) {
        match ev {
            LinkEvent::Link { ifindex, name, up } => {
                let ours = self
                    .setup
                    .plan
                    .instances
                    .iter()
                    .any(|c| c.interface.0 == ifindex);
                // The MAC may have changed: fetch it again now, not at the takeover.
                self.addresses.forget_mac(ifindex);
                if ours {
                    self.addresses.mac(ifindex).await;
                }
                let inputs = self.tracking.link(ifindex, &name, up);
                self.track(inputs).await;
                if ours {
                    info!("Netlink reports {name} {}", if up { "up" } else { "down" });
                    self.input(Input::Link {
                        interface: keepup_vrrp::IfIndex(ifindex),
                        up,
                    })
                    .await;
                }
            }
            LinkEvent::AddressRemoved(a) => {
                let masters = |id| self.vrrp.router.state(id) == State::Master;
                self.addresses.put_back(&self.setup, masters, &a).await;
                self.refresh_sources().await;
            }
            LinkEvent::AddressAdded(_) => self.refresh_sources().await,
        }
    }

    /// The source of each instance without `mcast_src_ip`/`unicast_src_ip`: the
    /// interface's first IPv4 address that is not a VIP, or its IPv6 link-local.
    async fn refresh_sources(&mut self) {
        let Ok(present) = self.nl.addresses(None).await else {
            return;
        };
        for (id, address) in vrrp::sources(&self.setup.plan, &present) {
            if self.vrrp.router.source_address(id) != address {
                self.input(Input::SourceAddress {
                    instance: id,
                    address,
                })
                .await;
            }
        }
    }

    /// Instances whose interface is down at start are told so.
    async fn refresh_links(&mut self) {
        for ifx in vrrp::interfaces(&self.setup.plan) {
            if !self.nl.link_up(ifx.0).await.unwrap_or(false) {
                let (interface, up) = (ifx, false);
                self.input(Input::Link { interface, up }).await;
            }
        }
    }

    /// SIGTERM/SIGINT: priority-0 adverts from every Master, VIPs removed (unless
    /// `-V`), record cleared.
    async fn stop(&mut self) {
        info!("Stopping");
        // As keepalived's stop_vrrp: the sync daemon stops first.
        self.syncd.stop();
        self.tracking.stop();
        let now = self.vrrp.now();
        self.vrrp.router.handle(now, Input::Shutdown);
        self.drain_stopping().await;
        // Planned switchover: a Master keeps answering for its VIPs until the new
        // Master is heard (with -V they stay anyway).
        if self.vrrp.router.holding() && !self.opts.dont_release_vrrp {
            self.await_handover().await;
        }
        self.vrrp.router.release_all();
        self.drain_stopping().await;
        self.firewall
            .stop(self.opts.dont_release_vrrp || !self.opts.vrrp);
        // With -V the VIPs stay, and so do the VMACs they are on.
        if !self.opts.dont_release_vrrp {
            self.vmacs.stop(&self.nl).await;
        }
        if let Some(side) = self.checkers.take() {
            let _ = tokio::task::spawn_blocking(move || side.stop()).await;
        }
        self.notifier.drain(Duration::from_secs(10)).await;
        for f in pid_files(&self.opts) {
            let _ = std::fs::remove_file(f);
        }
    }

    /// The engine's outputs while stopping; with `-V` (keepalived's
    /// `--dont-release-vrrp`) the addresses are left in place.
    async fn drain_stopping(&mut self) {
        while let Some(o) = self.vrrp.router.poll_output() {
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
        let started = Instant::now();
        // The engine's own bound is the down interval; this only guards the loop.
        let cap = started + Duration::from_secs(60);
        self.clock.table = deadlines::Table::default();
        while self.vrrp.router.holding() {
            let deadline = self.vrrp.deadline().map_or(cap, |d| d.min(cap));
            self.clock.table.set(Due::Engine, Some(deadline));
            // As in `serve`: a due deadline first, however busy the sockets.
            if self.clock.table.any_due(Instant::now()) {
                if self.handover_timeout(cap).await {
                    break;
                }
                continue;
            }
            tokio::select! {
                r = self.vrrp.readable(false) => if r.is_ok() { self.arrived(false).await },
                r = self.vrrp.readable(true) => if r.is_ok() { self.arrived(true).await },
                r = self.duplicates.recv() => if let Ok((ifindex, frame)) = r {
                    self.successor_arp(ifindex, &frame).await;
                },
                () = self.clock.wait() => if self.handover_timeout(cap).await {
                    break;
                },
                Some(ev) = self.incoming.recv() => {
                    if let Incoming::Signal(Asked::Stop) = ev {
                        break;
                    }
                }
            }
        }
        info!("handover done after {:?}", started.elapsed());
    }

    /// The engine's timers during a handover; whether the loop's own cap is reached.
    async fn handover_timeout(&mut self, cap: Instant) -> bool {
        let now = self.vrrp.now();
        self.vrrp.router.handle_timeout(now);
        self.drain().await;
        Instant::now() >= cap
    }

    /// SIGHUP or `keepup reload`: what the reload did, for the log, the status and
    /// the client (its lines, then `ok` or an `error:` line).
    async fn reload_and_report(&mut self, reply: Option<tokio::net::UnixStream>) {
        self.systemd.reloading();
        let result = self.reload().await;
        let status = self.states_line();
        self.systemd.ready(status);
        let ok = result.is_ok();
        let (answer, outcome) = reload::report(result);
        self.status.reloaded(ok, outcome, self.setup.digest);
        if let Some(r) = reply {
            crate::control::answer(r, answer);
        }
    }

    /// Read and validate the new configuration first; an invalid one is refused
    /// (`Err`: what the reader found, and why) and the running one stays. `Ok`: one
    /// line per instance saying what became of it, then a summary.
    /// The checker side takes the new virtual servers (started now if the old
    /// configuration had none).
    fn reload_checkers(&mut self, config: &keepup_config::Config) {
        if !self.opts.checkers {
            return;
        }
        match &self.checkers {
            Some(side) => side.reload(config),
            None => {
                let feed = self.status.checker_feed();
                let lvs = self.opts.lvs(self.status.ipvs_feed());
                let beat = self.checker_beat();
                self.checkers = crate::checkers::CheckerSide::start(config, feed, lvs, beat);
                if self.checkers.is_none() {
                    self.systemd.no_checkers();
                }
            }
        }
    }

    async fn reload(&mut self) -> Result<Vec<String>, String> {
        info!("Reloading");
        let mut findings = String::new();
        let file = &self.opts.file;
        let id = self.opts.config_id.as_deref();
        let (new, new_config) = setup::load(
            file,
            id,
            self.opts.vrrp,
            &self.nl,
            &mut self.vmacs,
            &mut findings,
        )
        .await
        .map_err(|e| format!("{findings}{e:#}"))?;
        self.notifier.configure_mail(&new_config.global_defs);
        self.reload_checkers(&new_config);
        let old = &self.setup.plan;
        if new.digest == self.setup.digest && reload::same_plan(old, &new.plan) {
            info!("reload: configuration unchanged");
            return Ok(reload::unchanged(old));
        }
        let decision = reload::decide(old, &new.plan);
        self.vrrp.router.retire(|c| decision.keeps(&c.name));
        self.drain().await;
        let kept = self
            .vrrp
            .router
            .reconfigure(new.plan.instances.clone(), new.plan.groups.clone())
            .map_err(|e| format!("reload failed: {e}"))?;
        // Interfaces the old plan named stay known (its addresses are removed by them).
        let mut new = new;
        let mut ifindex = self.setup.ifindex.clone();
        ifindex.extend(std::mem::take(&mut new.ifindex));
        new.ifindex = ifindex;
        let old = std::mem::replace(&mut self.setup, new);
        if let Err(e) = self.vrrp.reconfigured(&self.setup.plan) {
            error!("reload: {e:#}");
        }
        // The filter first: a kept Master's new VIPs are dropped from their first
        // moment (with -C no instance runs, and the table is not ours to touch).
        if self.opts.vrrp {
            let router = &self.vrrp.router;
            let held = self
                .setup
                .ids()
                .filter(|&id| router.state(id) == State::Master);
            self.firewall.reloaded(&new_config, &self.setup, held);
            self.firewall_armed();
        }
        let (mut added, mut removed, mut restarted) = (0, 0, 0);
        for (i, k) in kept.iter().enumerate() {
            let id = InstanceId(i);
            let Some(was) = k else {
                restarted += 1;
                continue;
            };
            if self.vrrp.router.state(id) != State::Master {
                continue;
            }
            // A Master keeps its addresses; only the difference is applied.
            let (a, r) = self
                .addresses
                .apply_difference((&old, *was), (&self.setup, id))
                .await;
            added += a;
            removed += r;
        }
        // Trackers: the new bindings are fed first, then the engine forgets the old
        // ones of the instances it kept, so a kept instance sees no transient change.
        let forget = self.tracking.rebuild(&new_config, &self.setup.plan, &kept);
        let inputs = self.tracking.initial().await;
        self.track(inputs).await;
        self.track(forget).await;
        if let Err(e) = self.vrrp.join_groups(&self.setup.plan) {
            warn!("reload: {e}");
        }
        self.solicitations.listen(&self.setup.plan);
        self.refresh_sources().await;
        // VMACs of instances the reload removed go, now that their VIPs are gone.
        self.vmacs.prune(&self.nl).await;
        self.configure_syncd(&new_config);
        let checkers = self.opts.checkers && !new_config.virtual_servers.is_empty();
        self.dumps
            .configure(&new_config, &self.setup.plan, checkers);
        // The instances started afresh (in Initialize), now that their trackers are fed;
        // during the startup delay they all wait for its end.
        if !self.clock.table.armed(Due::Startup) {
            self.input(Input::Startup).await;
        }
        keepup_sys::release_free_memory();
        let summary = format!(
            "reload: {} instance(s), {restarted} started afresh, {added} address(es) added, {removed} removed",
            self.setup.plan.instances.len()
        );
        info!("{summary}");
        let mut lines = decision.lines;
        lines.push(summary);
        Ok(lines)
    }
}

/// keepalived's pid files (`-p`, `-r`) and our own in the runtime dir.
/// How long the VRRP instances wait after start: `vrrp_startup_delay`, or what is left
/// of `vrrp_delay_after_boot` since the system booted (`uptime`), the longer.
fn startup_delay(g: &keepup_config::model::GlobalDefs, uptime: Duration) -> Duration {
    let us = |s: keepup_config::model::Secs| Duration::from_micros(s.micros);
    us(g.vrrp_startup_delay).max(us(g.vrrp_delay_after_boot).saturating_sub(uptime))
}

/// How long ago the system booted (/proc/uptime; zero if unreadable, which errs on
/// the side of waiting).
fn uptime() -> Duration {
    std::fs::read_to_string("/proc/uptime")
        .ok()
        .and_then(|t| t.split_whitespace().next()?.parse::<f64>().ok())
        .map_or(Duration::ZERO, Duration::from_secs_f64)
}

fn pid_files(opts: &RunOptions) -> Vec<PathBuf> {
    let mut files = opts.pid_files.clone();
    files.push(opts.runtime_dir.join("keepup.pid"));
    files
}

#[cfg(test)]
mod tests {
    use super::startup_delay;
    use keepup_config::model::{GlobalDefs, Secs};
    use std::time::Duration;

    /// The longer of `vrrp_startup_delay` and what is left of `vrrp_delay_after_boot`
    /// since boot (none once the system has been up that long: a restart does not wait).
    #[test]
    fn startup_waits_the_longer_delay() {
        let mut g = GlobalDefs::default();
        let up = Duration::from_secs;
        assert_eq!(startup_delay(&g, up(1000)), Duration::ZERO);
        g.vrrp_startup_delay = Secs::from_secs(5);
        assert_eq!(startup_delay(&g, up(1000)), up(5));
        g.vrrp_delay_after_boot = Secs::from_secs(60);
        assert_eq!(
            startup_delay(&g, up(40)),
            up(20),
            "20 s left of 60 after boot"
        );
        assert_eq!(
            startup_delay(&g, up(58)),
            up(5),
            "the startup delay is longer"
        );
        assert_eq!(startup_delay(&g, up(1000)), up(5), "long after boot");
    }
}
