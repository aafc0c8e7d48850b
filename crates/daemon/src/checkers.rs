//! The checker side: health checks of every `virtual_server`'s real servers, on a
//! thread and runtime of its own, so no number of checkers, no hung script and no
//! slow server can delay an advert. The VRRP loop reaches it only through a command
//! channel (reload, stop), and it publishes its status view for `keepup status`; a
//! panic on this side is caught, logged, and leaves VRRP running.
//!
//! Its decisions (which real servers a virtual server's pool holds, at what weight)
//! are logged in keepalived's words and sent to the IPVS side (`crate::lvs`, a thread
//! of its own), which programs the kernel: the whole picture at start and after a
//! reload, then each change.
//!
//! With `ha_suspend` it watches this host's addresses itself (an rtnetlink monitor of
//! its own, read at start before the first check is planned, so no check of a virtual
//! server whose address is absent ever starts) and tells the scheduler each address
//! that comes and goes; the VRRP side's monitor stays the VRRP side's.
use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use keepup_check::plan::Plan;
use keepup_check::sched::{Dest, Event, Input, Output, PoolOp, Scheduler, Server, VsId};
use keepup_config::model::global::GlobalDefs;
use keepup_config::Config;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tracing::{debug, error, info, warn};

/// How often the status view is refreshed without a change (its next runs).
const VIEW_REFRESH: Duration = Duration::from_secs(1);

/// The checkers' thread's nice value (the VRRP loop keeps the daemon's, 0).
const CHECKERS_NICE: i32 = 10;

/// How long the checker side may take to stop (its omega notifiers queued).
const STOP_LIMIT: Duration = Duration::from_secs(5);

/// What the VRRP loop tells the checker side.
enum Command {
    /// A reload: the new plan takes over what it keeps.
    Reload(Box<Inputs>),
    Stop,
}

/// What the checker side takes of a configuration, at start and at each reload; the
/// configuration itself stays on the daemon's thread, which drops it.
struct Inputs {
    plan: Plan,
    /// For the mails about real servers (smtp_alert).
    global_defs: GlobalDefs,
    /// For the IPVS side (None: it is not running).
    ipvs: Option<Arc<crate::lvs::IpvsPlan>>,
}

impl Inputs {
    /// `marks`: the `nftables_ipvs` marks of the IPVS plan before, which this one
    /// keeps (and replaces by its own).
    fn new(config: &Config, plan: Plan, ipvs: bool, marks: &Mutex<keepup_lvs::Marks>) -> Inputs {
        let ipvs = ipvs.then(|| {
            let mut marks = marks.lock().unwrap_or_else(PoisonError::into_inner);
            let p = crate::lvs::IpvsPlan::with_marks(config, &marks);
            marks.clone_from(p.marks());
            Arc::new(p)
        });
        Inputs {
            plan,
            global_defs: config.global_defs.clone(),
            ipvs,
        }
    }
}

/// The running checker side.
pub struct CheckerSide {
    commands: mpsc::UnboundedSender<Command>,
    thread: Option<std::thread::JoinHandle<()>>,
    /// The IPVS side it feeds (None: it could not start).
    lvs: Option<crate::lvs::LvsSide>,
    /// The `nftables_ipvs` marks given, kept over reloads.
    marks: Mutex<keepup_lvs::Marks>,
}

impl CheckerSide {
    /// Start checking, if the configuration has virtual servers, and the IPVS side
    /// that programs their decisions.
    ///
    /// `heartbeat`: beaten at least each period while its loop runs (systemd's
    /// watchdog is fed only while it does).
    pub fn start(
        config: &Config,
        feed: Option<crate::status::CheckerFeed>,
        lvs: crate::lvs::Options,
        heartbeat: Option<Beat>,
    ) -> Option<CheckerSide> {
        let plan = Plan::from_config(config);
        if plan.virtual_servers.is_empty() {
            return None;
        }
        let (vs, rs, checkers) = counts(&plan);
        info!("{vs} virtual server(s), {rs} real server(s), {checkers} checker(s)");
        for p in plan.problems() {
            warn!("{p}");
        }
        for n in group_suspend_notes(&plan) {
            info!("{n}");
        }
        let files = keepup_sys::raise_open_files_limit();
        if files < checkers as u64 {
            warn!(
                "checkers: {checkers} checkers, but only {files} files may be open; \
                 checks that start together may fail to open their socket"
            );
        }
        let fifos: Vec<std::path::PathBuf> = [
            &config.global_defs.notify_fifo,
            &config.global_defs.lvs_notify_fifo,
        ]
        .into_iter()
        .flatten()
        .map(|s| s.command.clone().into())
        .collect();
        let (commands, received) = mpsc::unbounded_channel();
        let lvs = crate::lvs::LvsSide::start(lvs);
        let to_lvs = lvs.as_ref().map(crate::lvs::LvsSide::sender);
        let marks = Mutex::default();
        let inputs = Inputs::new(config, plan, lvs.is_some(), &marks);
        let thread = std::thread::Builder::new()
            .name("keepup-checkers".into())
            .spawn(move || {
                // Below the VRRP loop: checks wait, adverts do not.
                if let Err(e) = keepup_sys::lower_this_thread_priority(CHECKERS_NICE) {
                    warn!("checkers: cannot lower their priority: {e}");
                }
                let rt = match tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                {
                    Ok(rt) => rt,
                    Err(e) => {
                        error!("checkers: cannot start their runtime: {e}; no health checks run");
                        return;
                    }
                };
                let run = std::panic::AssertUnwindSafe(|| {
                    rt.block_on(drive(inputs, fifos, feed, to_lvs, received, heartbeat));
                });
                if std::panic::catch_unwind(run).is_err() {
                    error!("checkers: stopped after an internal error; VRRP runs on");
                }
            });
        match thread {
            Ok(t) => Some(CheckerSide {
                commands,
                thread: Some(t),
                lvs,
                marks,
            }),
            Err(e) => {
                error!("checkers: cannot start their thread: {e}; no health checks run");
                if let Some(l) = lvs {
                    l.stop();
                }
                None
            }
        }
    }

    /// Reload: unchanged checkers keep their state and schedule (see
    /// `Scheduler::reload`).
    pub fn reload(&self, config: &Config) {
        let plan = Plan::from_config(config);
        for p in plan.problems() {
            warn!("{p}");
        }
        let inputs = Inputs::new(config, plan, self.lvs.is_some(), &self.marks);
        if self
            .commands
            .send(Command::Reload(Box::new(inputs)))
            .is_err()
        {
            error!("checkers: not running; the reload does not reach them");
        }
    }

    /// Stop: runs in flight are cancelled, pools emptied, omega notifiers queued; then
    /// the IPVS side releases the table.
    pub fn stop(mut self) {
        let _ = self.commands.send(Command::Stop);
        if let Some(t) = self.thread.take() {
            Self::wait(t);
        }
        if let Some(l) = self.lvs.take() {
            l.stop();
        }
    }

    fn wait(t: std::thread::JoinHandle<()>) {
        let deadline = Instant::now() + STOP_LIMIT;
        while !t.is_finished() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
        if t.is_finished() {
            if t.join().is_err() {
                error!("checkers: their thread panicked while stopping");
            }
        } else {
            warn!("checkers: still stopping after {STOP_LIMIT:?}; not waiting for them");
        }
    }
}

/// What `keepup check` adds about the virtual servers: how many are checked, whether
/// this kernel can hold them (IPVS), and each checker that cannot run as written.
pub fn check_notes(config: &Config) -> String {
    let plan = Plan::from_config(config);
    if plan.virtual_servers.is_empty() {
        return String::new();
    }
    let (vs, rs, checkers) = counts(&plan);
    let mut out = format!(
        "note: {vs} virtual server(s) with {rs} real server(s) and {checkers} checker(s) \
         are health-checked and programmed into IPVS\n"
    );
    if !crate::lvs::kernel_has_ipvs() {
        out.push_str(
            "note: this kernel has no IPVS (module ip_vs missing): the virtual servers \
             would be checked but not programmed\n",
        );
    }
    out.push_str(&crate::lvs::nft_notes(config));
    for p in plan.problems() {
        out.push_str(&format!("note: {p}\n"));
    }
    for n in group_suspend_notes(&plan) {
        out.push_str(&format!("note: {n}\n"));
    }
    out
}

/// Where keepup's ha_suspend differs from keepalived 2.2.7's: on a group, keepalived
/// never matches an address (check_api.c `addr_matches` returns early), so its
/// checkers are deactivated at start for good; keepup runs them while an address of
/// the group is on this host, as that function's remaining code intends.
fn group_suspend_notes(plan: &Plan) -> Vec<String> {
    plan.virtual_servers
        .iter()
        .filter(|v| v.ha_suspend.as_ref().is_some_and(|w| w.group))
        .map(|v| {
            format!(
                "VS {}: ha_suspend on a virtual_server_group: its checkers run while any \
                 address of the group is on this host (keepalived 2.2.7 never runs them)",
                v.name
            )
        })
        .collect()
}

fn counts(p: &Plan) -> (usize, usize, usize) {
    let rs = p.virtual_servers.iter().map(|v| v.real_servers.len()).sum();
    let checkers = p
        .virtual_servers
        .iter()
        .flat_map(|v| &v.real_servers)
        .map(|r| r.checkers.len())
        .sum();
    (p.virtual_servers.len(), rs, checkers)
}

/// The checker loop: the scheduler's one deadline, the probes' answers, the stop.
async fn drive(
    inputs: Inputs,
    fifos: Vec<std::path::PathBuf>,
    feed: Option<crate::status::CheckerFeed>,
    lvs: Option<std::sync::mpsc::Sender<crate::lvs::Command>>,
    mut commands: mpsc::UnboundedReceiver<Command>,
    heartbeat: Option<Beat>,
) {
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(1, |d| d.as_nanos() as u64)
        ^ u64::from(std::process::id());
    let mut side = Side {
        sched: Scheduler::new(inputs.plan, seed),
        runs: HashMap::new(),
        cancelled: Vec::new(),
        notifier: crate::notify::Notifier::new(fifos),
        seq: seed as u16,
        feed,
        published: None,
        changed: true,
        lvs,
        lvs_hold: true,
    };
    side.notifier.configure_mail(&inputs.global_defs);
    let (done_tx, mut done_rx) = mpsc::unbounded_channel();
    let mut monitor = None;
    watch_addresses(&mut monitor, &mut side.sched);
    side.sched.start(Instant::now());
    side.act(&done_tx);
    side.sync_lvs(inputs.ipvs);
    let mut beat_due = None;
    loop {
        if let Some((hb, every)) = &heartbeat {
            hb.beat();
            beat_due = Some(Instant::now() + *every);
        }
        let next = side.sched.poll_timeout();
        // The status view's refresh and the heartbeat: one wake-up, the earlier.
        let wake = [side.publish_due(), beat_due].into_iter().flatten().min();
        tokio::select! {
            () = sleep_until(next) => side.sched.handle_timeout(Instant::now()),
            Some((attempt, verdict)) = done_rx.recv() => {
                side.runs.remove(&attempt);
                side.sched.handle(Instant::now(), Input::Done { attempt, verdict });
            }
            () = sleep_until(wake) => {}
            ev = next_address(&mut monitor) => {
                address_changed(ev, &mut monitor, &mut side.sched);
            }
            cmd = commands.recv() => {
                if let Some(Command::Reload(new)) = cmd {
                    info!("checkers: reloading");
                    let Inputs { plan, global_defs, ipvs } = *new;
                    side.notifier.configure_mail(&global_defs);
                    side.sched.reload(plan, Instant::now());
                    watch_addresses(&mut monitor, &mut side.sched);
                    side.changed = true;
                    side.lvs_hold = true;
                    side.act(&done_tx);
                    side.sync_lvs(ipvs);
                    continue;
                }
                // Stop, or the daemon's side of the channel is gone. The pools empty
                // below; the IPVS side does not follow them (it releases the table
                // itself, or keeps it with -I).
                side.lvs_hold = true;
                side.sched.shutdown();
                side.act(&done_tx);
                // The cancelled runs end here (a script's process group killed as
                // its run is dropped), not later with the runtime.
                for run in side.cancelled.drain(..) {
                    let _ = run.await;
                }
                side.notifier.drain(STOP_LIMIT).await;
                return;
            }
        }
        side.act(&done_tx);
        side.publish();
    }
}

/// Start watching this host's addresses when a virtual server has `ha_suspend` and
/// nothing watches yet, and tell the scheduler what is there now. Without a monitor
/// the scheduler suspends nothing: checks keep running rather than stop unseen.
fn watch_addresses(monitor: &mut Option<keepup_sys::Monitor>, sched: &mut Scheduler) {
    let wanted = sched
        .plan()
        .virtual_servers
        .iter()
        .any(|v| v.ha_suspend.is_some());
    if !wanted || monitor.is_some() {
        return;
    }
    match keepup_sys::Monitor::new() {
        Ok(m) => {
            sched.local_addresses(m.addresses().map(|a| (a.ifindex, a.addr)));
            *monitor = Some(m);
        }
        Err(e) => error!(
            "checkers: cannot watch this host's addresses ({e}); ha_suspend is ignored \
             and those virtual servers' checkers run"
        ),
    }
}

async fn next_address(
    monitor: &mut Option<keepup_sys::Monitor>,
) -> keepup_sys::Result<keepup_sys::LinkEvent> {
    match monitor {
        Some(m) => m.next().await,
        None => std::future::pending().await,
    }
}

/// An address came or went: the scheduler suspends or resumes what it changes. A
/// monitor that fails is opened afresh and its snapshot replaces what was known.
fn address_changed(
    ev: keepup_sys::Result<keepup_sys::LinkEvent>,
    monitor: &mut Option<keepup_sys::Monitor>,
    sched: &mut Scheduler,
) {
    let now = Instant::now();
    match ev {
        Ok(keepup_sys::LinkEvent::AddressAdded(a)) => sched.handle(
            now,
            Input::AddressAdded {
                ifindex: a.ifindex,
                ip: a.addr,
            },
        ),
        Ok(keepup_sys::LinkEvent::AddressRemoved(a)) => sched.handle(
            now,
            Input::AddressRemoved {
                ifindex: a.ifindex,
                ip: a.addr,
            },
        ),
        Ok(keepup_sys::LinkEvent::Link { .. }) => {}
        Err(e) => {
            warn!("checkers: address monitor: {e}; reading this host's addresses afresh");
            *monitor = None;
            watch_addresses(monitor, sched);
        }
    }
}

async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at.into()).await,
        None => std::future::pending().await,
    }
}

/// The checker loop's heartbeat for systemd's watchdog, and how often to beat it.
pub type Beat = (
    std::sync::Arc<crate::systemd::Heartbeat>,
    std::time::Duration,
);

/// A run's attempt number and what it found.
type Done = (u64, keepup_check::sched::Verdict);

struct Side {
    sched: Scheduler,
    /// The probes in flight, by attempt (the scheduler never runs two of a checker).
    runs: HashMap<u64, JoinHandle<()>>,
    /// Runs cancelled and not yet seen to end.
    cancelled: Vec<JoinHandle<()>>,
    notifier: crate::notify::Notifier,
    /// Varies per run (DNS query IDs).
    seq: u16,
    /// Where `keepup status` reads this side's view.
    feed: Option<crate::status::CheckerFeed>,
    published: Option<Instant>,
    /// A state changed since the view was last published.
    changed: bool,
    /// Where pool changes go to be programmed into IPVS.
    lvs: Option<std::sync::mpsc::Sender<crate::lvs::Command>>,
    /// Pool changes are not sent one by one (a start or reload sends the whole picture
    /// after; a stop sends nothing).
    lvs_hold: bool,
}

impl Side {
    fn act(&mut self, done: &mpsc::UnboundedSender<Done>) {
        while let Some(o) = self.sched.poll_output() {
            match o {
                Output::Probe {
                    checker, attempt, ..
                } => {
                    let Some(plan) = self.sched.checker_plan(checker).cloned() else {
                        continue;
                    };
                    self.seq = self.seq.wrapping_mul(31_421).wrapping_add(6_927);
                    let id = self.seq;
                    let tx = done.clone();
                    let task = tokio::spawn(async move {
                        let verdict = keepup_check::probe::run(&plan, id).await;
                        let _ = tx.send((attempt, verdict));
                    });
                    self.runs.insert(attempt, task);
                }
                Output::Cancel { attempt } => {
                    if let Some(run) = self.runs.remove(&attempt) {
                        run.abort();
                        self.cancelled.retain(|r| !r.is_finished());
                        self.cancelled.push(run);
                    }
                }
                Output::Pool {
                    vs,
                    dest,
                    server,
                    op,
                } => {
                    self.pool(vs, &server, op);
                    if let Some(dest) = dest {
                        self.send_pool(vs, dest, op);
                    }
                }
                Output::Event(e) => self.event(&e),
            }
        }
    }

    /// The view, at once after a change and each second for the next runs (never
    /// more: building it for 10,000 checkers costs).
    fn publish(&mut self) {
        let Some(feed) = &self.feed else {
            return;
        };
        let now = Instant::now();
        // Unchanged, the view is made again each VIEW_REFRESH for its checkers' next
        // runs; without checkers, nothing in it moves.
        let idle = self
            .published
            .is_some_and(|p| now < p + VIEW_REFRESH || !self.timed());
        if !self.changed && idle {
            return;
        }
        let moment = self.sched.moment(now, std::time::SystemTime::now());
        feed.send_replace(std::sync::Arc::new(moment));
        self.published = Some(now);
        self.changed = false;
    }

    /// Whether the view shows times that move (its checkers' next runs).
    fn timed(&self) -> bool {
        self.sched.has_checkers()
    }

    fn publish_due(&self) -> Option<Instant> {
        self.feed.as_ref()?;
        if self.published.is_some() && !self.timed() {
            // Published on changes only.
            return None;
        }
        Some(
            self.published
                .map_or_else(Instant::now, |p| p + VIEW_REFRESH),
        )
    }

    /// The whole picture to the IPVS side: the configuration and every pool. Pool
    /// changes flow one by one after it.
    fn sync_lvs(&mut self, plan: Option<Arc<crate::lvs::IpvsPlan>>) {
        self.lvs_hold = false;
        let (Some(lvs), Some(plan)) = (&self.lvs, plan) else {
            return;
        };
        let pools = (0..self.sched.plan().virtual_servers.len())
            .map(|v| {
                let pool = self.sched.pool(VsId(v));
                let members = pool
                    .into_iter()
                    .filter_map(|(d, w)| Some((self.member(d)?, w)))
                    .collect();
                (v, members)
            })
            .collect();
        let _ = lvs.send(crate::lvs::Command::Sync { plan, pools });
    }

    fn send_pool(&self, vs: VsId, dest: Dest, op: PoolOp) {
        let (Some(lvs), false) = (&self.lvs, self.lvs_hold) else {
            return;
        };
        let Some(member) = self.member(dest) else {
            return;
        };
        let weight = match op {
            PoolOp::Add { weight } | PoolOp::Weight { weight } => Some(weight),
            PoolOp::Remove => None,
        };
        let _ = lvs.send(crate::lvs::Command::Pool {
            vs: vs.0,
            member,
            weight,
        });
    }

    /// A pool entry as the IPVS side names it: the index of the real server in its
    /// virtual server, or the sorry server.
    fn member(&self, dest: Dest) -> Option<keepup_lvs::Member> {
        match dest {
            Dest::Real(rs) => self
                .sched
                .real_server_at(rs)
                .map(|(_, at)| keepup_lvs::Member::Real(at)),
            Dest::Sorry => Some(keepup_lvs::Member::Sorry),
        }
    }

    fn pool(&self, vs: VsId, server: &Server, op: PoolOp) {
        let Some(v) = self.sched.plan().virtual_servers.get(vs.0) else {
            return;
        };
        let who = &server.name;
        // At debug: the events above already say each change in keepalived's words,
        // and `keepup status` shows each pool.
        match op {
            PoolOp::Add { weight } => {
                debug!("VS {}: pool gains {who} at weight {weight}", v.name);
            }
            PoolOp::Weight { weight } => {
                debug!("VS {}: pool keeps {who} at weight {weight}", v.name);
            }
            PoolOp::Remove => debug!("VS {}: pool loses {who}", v.name),
        }
    }

    fn event(&mut self, e: &Event) {
        self.changed = true;
        let line = keepup_check::words::log_line(&self.sched, e);
        match e {
            Event::AttemptFailed { .. } => info!("{line}"),
            Event::CheckerDown { .. } => warn!("{line}"),
            Event::Suspended { vs, on, .. } => {
                info!("{line}");
                self.each_checker_suspended(*vs, *on);
            }
            _ => info!("{line}"),
        }
        self.notify(e);
        self.mail(e);
    }

    /// `smtp_alert` mails, as keepalived sends them: per checker going up or down
    /// (only when its real server does, with `no_checker_emails`), per quorum change.
    fn mail(&mut self, e: &Event) {
        let plan = self.sched.plan();
        let (who, subject, body) = match *e {
            Event::CheckerUp { checker } | Event::CheckerDown { checker, .. } => {
                let up = matches!(e, Event::CheckerUp { .. });
                let Some(rs) = self.sched.rs_of(checker) else {
                    return;
                };
                let Some(r) = self.sched.rs_plan(rs) else {
                    return;
                };
                if !r.smtp_alert || plan.no_checker_emails {
                    return;
                }
                let vs = self.vs_name(rs);
                let kind = self
                    .sched
                    .checker_plan(checker)
                    .map_or("CHECK".to_string(), |p| p.kind().replace('_', " "));
                let (word, verb) = if up {
                    ("UP", "succeed")
                } else {
                    ("DOWN", "failed")
                };
                (
                    r.name.to_string(),
                    format!("Realserver {} of virtual server {vs} - {word}", r.name),
                    format!("=> {kind} {verb} on service <="),
                )
            }
            Event::RealServer {
                rs,
                alive,
                moved: true,
            } => {
                let Some(r) = self.sched.rs_plan(rs) else {
                    return;
                };
                if !r.smtp_alert || !plan.no_checker_emails {
                    return;
                }
                let vs = self.vs_name(rs);
                let word = if alive { "UP" } else { "DOWN" };
                (
                    r.name.to_string(),
                    format!("Realserver {} of virtual server {vs} - {word}", r.name),
                    format!("=> Real server is {word} <="),
                )
            }
            Event::Quorum { vs, up, .. } => {
                let v = &plan.virtual_servers[vs.0];
                if !v.smtp_alert {
                    return;
                }
                let word = if up { "UP" } else { "DOWN" };
                (
                    v.name.clone(),
                    format!("Virtualserver {} - {word}", v.name),
                    format!("=> {} <=", keepup_check::words::log_line(&self.sched, e)),
                )
            }
            _ => return,
        };
        self.notifier.checker_mail(&who, &subject, &body);
    }

    /// keepalived's line per checker (`Suspending healthchecker for service [RS] for
    /// VS [VS]`), at debug: the virtual server's line above says it once.
    fn each_checker_suspended(&self, vs: VsId, on: bool) {
        let verb = if on { "Suspending" } else { "Activating" };
        let name = &self.sched.plan().virtual_servers[vs.0].name;
        for rs in self.sched.real_servers_of(vs) {
            let Some(r) = self.sched.rs_plan(rs) else {
                continue;
            };
            for &c in self.sched.checkers_of(rs) {
                // FILE_CHECK is never suspended.
                let timed = self
                    .sched
                    .checker_plan(keepup_check::sched::CheckerId(c))
                    .is_some_and(|p| p.file.is_none());
                if timed {
                    debug!("{verb} healthchecker for service {} for VS {name}", r.name);
                }
            }
        }
    }

    fn vs_name(&self, rs: keepup_check::sched::RsId) -> String {
        self.sched
            .vs_of(rs)
            .map(|v| self.sched.plan().virtual_servers[v.0].name.clone())
            .unwrap_or_default()
    }

    /// notify_up / notify_down, quorum_up / quorum_down and the FIFO lines, in
    /// order on the virtual server's queue.
    fn notify(&mut self, e: &Event) {
        let plan = self.sched.plan();
        let (vs, script, line) = match *e {
            Event::RealServer { rs, alive, .. } => {
                let Some((v, script, line)) = self.rs_notify(rs, alive) else {
                    return;
                };
                (v, script, line)
            }
            Event::ShutdownRs { rs, notify: true } => {
                let Some((v, script, line)) = self.rs_notify(rs, false) else {
                    return;
                };
                (v, script, line)
            }
            Event::Quorum { vs, up, .. } => {
                let v = &plan.virtual_servers[vs.0];
                let script = if up { &v.quorum_up } else { &v.quorum_down };
                let word = if up { "UP" } else { "DOWN" };
                (
                    v.name.clone(),
                    script.clone(),
                    format!("VS {} {word}\n", v.name),
                )
            }
            Event::ShutdownVs { vs } => {
                let v = &plan.virtual_servers[vs.0];
                (
                    v.name.clone(),
                    v.quorum_down.clone(),
                    format!("VS {} DOWN\n", v.name),
                )
            }
            _ => return,
        };
        debug!("checkers: notify {}", line.trim_end());
        self.notifier.lvs(&vs, script.as_ref(), line);
    }

    /// The virtual server's name, the real server's notify_up or notify_down and its
    /// FIFO line (`RS [10.0.0.2]:tcp:80 [10.0.0.1]:tcp:80 UP`).
    fn rs_notify(
        &self,
        rs: keepup_check::sched::RsId,
        alive: bool,
    ) -> Option<(String, Option<keepup_config::model::Script>, String)> {
        let r = self.sched.rs_plan(rs)?;
        let v = &self.sched.plan().virtual_servers[self.sched.vs_of(rs)?.0].name;
        let (script, word) = if alive {
            (&r.notify_up, "UP")
        } else {
            (&r.notify_down, "DOWN")
        };
        Some((
            v.clone(),
            script.as_deref().cloned(),
            format!("RS {} {v} {word}\n", r.name),
        ))
    }
}
