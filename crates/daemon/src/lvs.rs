//! The IPVS side: keeps the kernel's virtual-server table equal to what the
//! configuration and the checkers decide, on a thread of its own (the socket blocks).
//!
//! The checker side is its only client: it sends the whole picture at start and on a
//! reload ([`Command::Sync`]: the configuration's [`IpvsPlan`] and every pool) and
//! each pool change as it happens. Each batch of commands (everything queued is taken
//! at once, so a start or a flap of many servers is one pipelined batch) is handled the
//! same way: build the wanted table (the plan's keepup-lvs `Layout`), compare it with
//! this side's view of the kernel's table (`reconcile`: only what keepup owns is ever
//! changed), send the operations, and keep what succeeded in the view and in the
//! ownership record.
//!
//! - The view is the kernel's table as read at start, after each reload's own change
//!   is made (so the reload is not slowed by a full read, and a service deleted by hand
//!   is restored by it, while one that another tool added is left alone), and after an
//!   operation fails (another tool raced us: EEXIST, ENOENT).
//! - The ownership record (`<runtime dir>/ipvs.json`) lists the services and real
//!   servers keepup added; a keepup restarted after SIGKILL removes what its
//!   predecessor added and no longer wants, and nothing else.
//! - At stop: keepup's entries are removed (`lvs_flush_on_stop`: the whole table),
//!   unless `-I/--dont-release-ipvs`.
//! - A kernel without IPVS: said once, in plain words; the checkers run on.
//! - `nftables_ipvs`: the marked groups' nftables table (keepup-lvs `nft`) is written
//!   at start and at each reload (the groups keep their marks over it), before the
//!   services, as one `nft -f` transaction that replaces any table of that name (so
//!   what a killed keepup left is replaced too); its name is recorded in
//!   `<runtime dir>/ipvs-nft`, so that a restart on a configuration without it, or
//!   with another name, removes it. At stop it is
//!   removed, unless `-I` (keepalived removes its table in the same place it releases
//!   IPVS). Without nft or nf_tables (asked when the [`IpvsPlan`] is made), keepup
//!   says so once and expands the groups as without `nftables_ipvs`, so that their
//!   traffic still reaches the real servers; keepalived would create the fwmark
//!   services with nothing to mark the packets.
use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::mpsc;
use std::sync::Arc;
use std::time::Duration;

use keepup_config::model::global::LvsFlushOnStop;
use keepup_config::Config;
use keepup_lvs::{DestKey, Member, NftIpvs, Op, Owned, Pools, ServiceKey, Table};
use keepup_sys::{Ipvs, IpvsError, KernelError};
use nix::libc;
use tracing::{debug, error, info, warn};

use crate::status::IpvsKnown;

/// How long stopping may take (removing a large table).
const STOP_LIMIT: Duration = Duration::from_secs(10);

/// Operations in a batch past which the freed buffers are handed back to the kernel.
const LARGE: usize = 1024;

/// What the IPVS side needs of a configuration, made once per configuration on the
/// daemon's thread, so that the running daemon keeps no copy of the configuration (at
/// a few dozen bytes per destination, against a few hundred per real server).
pub struct IpvsPlan {
    layout: keepup_lvs::Layout,
    /// keepalived's name of each virtual server (`[10.0.0.1]:tcp:80`), by index.
    names: Vec<String>,
    /// Each virtual server as configured (`10.0.0.1 80`), for error messages.
    configured: Vec<String>,
    lvs_flush: bool,
    flush_on_stop: LvsFlushOnStop,
    timeouts: keepup_lvs::genl::Timeouts,
    /// `nftables_ipvs` with groups to mark: the marks given (kept at the next reload),
    /// and why nftables cannot be used when it cannot (the groups are then expanded).
    marks: keepup_lvs::Marks,
    nft_unusable: Option<String>,
}

impl IpvsPlan {
    /// The marks this plan gave, for the next reload's plan.
    pub fn marks(&self) -> &keepup_lvs::Marks {
        &self.marks
    }

    /// The plan at start: `nftables_ipvs` marks from its start mark.
    pub fn new(config: &Config) -> IpvsPlan {
        IpvsPlan::with_marks(config, &keepup_lvs::Marks::default())
    }

    /// The plan at a reload: the groups keep the marks of the plan before (`previous`,
    /// its [`IpvsPlan::marks`]), as keepalived keeps them. When the configuration marks
    /// groups, nft and nf_tables are asked once here (`nft list tables`); without them
    /// the layout expands the groups, as without `nftables_ipvs`.
    pub fn with_marks(config: &Config, previous: &keepup_lvs::Marks) -> IpvsPlan {
        let t = &config.global_defs.lvs_timeouts;
        let mut layout = keepup_lvs::Layout::with_marks(config, Some(previous));
        let marks = layout.marks().clone();
        let mut nft_unusable = None;
        if layout.nft().is_some_and(|n| !n.is_empty()) {
            if let Err(e) = keepup_sys::nft_usable() {
                nft_unusable = Some(e.to_string());
                layout = keepup_lvs::Layout::with_marks(config, None);
            }
        }
        IpvsPlan {
            layout,
            marks,
            nft_unusable,
            names: config
                .virtual_servers
                .iter()
                .map(keepup_check::plan::vs_name)
                .collect(),
            configured: config
                .virtual_servers
                .iter()
                .map(|v| v.address.to_string())
                .collect(),
            lvs_flush: config.global_defs.lvs_flush,
            flush_on_stop: config.global_defs.lvs_flush_on_stop,
            timeouts: keepup_lvs::genl::Timeouts {
                tcp: t.tcp.unwrap_or(0),
                tcp_fin: t.tcpfin.unwrap_or(0),
                udp: t.udp.unwrap_or(0),
            },
        }
    }
}

/// What the checker side tells the IPVS side.
pub enum Command {
    /// At start and after a reload: the configuration's plan and every virtual server's
    /// pool.
    Sync { plan: Arc<IpvsPlan>, pools: Pools },
    /// One pool change: `weight` None removes the server from the pool.
    Pool {
        vs: usize,
        member: Member,
        weight: Option<u32>,
    },
    /// Stop: remove keepup's entries (unless told to keep them) and end.
    Stop,
}

/// Settings that come from the command line, not the configuration.
#[derive(Debug, Clone)]
pub struct Options {
    /// Where the ownership record lives.
    pub runtime_dir: PathBuf,
    /// `-I/--dont-release-ipvs`: leave the table as it is at stop.
    pub dont_release: bool,
    /// Where the kernel's table is published for `keepup status`.
    pub feed: Option<crate::status::IpvsFeed>,
}

/// The running IPVS side.
pub struct LvsSide {
    commands: mpsc::Sender<Command>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl LvsSide {
    pub fn start(opts: Options) -> Option<LvsSide> {
        let (commands, received) = mpsc::channel();
        let thread = std::thread::Builder::new()
            .name("keepup-ipvs".into())
            .spawn(move || {
                let run = std::panic::AssertUnwindSafe(|| serve(&opts, &received));
                if std::panic::catch_unwind(run).is_err() {
                    error!("IPVS: stopped after an internal error; the table stays as it is");
                }
            });
        match thread {
            Ok(t) => Some(LvsSide {
                commands,
                thread: Some(t),
            }),
            Err(e) => {
                error!("IPVS: cannot start its thread: {e}; virtual servers are not programmed");
                None
            }
        }
    }

    /// A sender for the checker side.
    pub fn sender(&self) -> mpsc::Sender<Command> {
        self.commands.clone()
    }

    /// Stops the side, waiting (bounded) for it to release the table.
    pub fn stop(mut self) {
        let _ = self.commands.send(Command::Stop);
        let Some(t) = self.thread.take() else {
            return;
        };
        let deadline = std::time::Instant::now() + STOP_LIMIT;
        while !t.is_finished() && std::time::Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
        if t.is_finished() {
            let _ = t.join();
        } else {
            warn!("IPVS: still releasing the table after {STOP_LIMIT:?}; leaving it");
        }
    }
}

/// At a start without virtual servers: what a previous keepup recorded in the runtime
/// dir (its IPVS entries, its `nftables_ipvs` table; a keepup killed, then started on
/// a configuration without virtual servers) is removed, as a start with virtual
/// servers removes what the configuration no longer has. Kept with `-I`.
pub fn release_leftovers(opts: &Options) {
    let dir = &opts.runtime_dir;
    if !owned_path(dir).exists() && !nft_record_path(dir).exists() {
        return;
    }
    if opts.dont_release {
        info!("IPVS: -I: what a previous keepup programmed stays in the kernel");
        return;
    }
    match Ipvs::open() {
        Ok(ipvs) => {
            info!("IPVS: no virtual server configured; removing what a previous keepup programmed");
            Side::new(ipvs, opts.clone()).stop();
        }
        Err(e) => warn!(
            "IPVS: a previous keepup's record is in {}, but the kernel's IPVS cannot be \
             reached ({e}); its entries stay",
            dir.display()
        ),
    }
}

/// Whether this kernel can hold virtual servers, for `keepup check` and the start
/// message. Does not load the module.
pub fn kernel_has_ipvs() -> bool {
    std::path::Path::new("/proc/net/ip_vs").exists() || keepup_sys::ipvs_module_available()
}

fn serve(opts: &Options, commands: &mpsc::Receiver<Command>) {
    let ipvs = match Ipvs::open() {
        Ok(i) => i,
        Err(e) => {
            let note = match e {
                IpvsError::NotAvailable => {
                    "this kernel has no IPVS (module ip_vs missing): virtual servers are \
                     checked but not programmed"
                        .to_owned()
                }
                e => format!(
                    "cannot open the kernel's IPVS interface ({e}): virtual servers are \
                     checked but not programmed"
                ),
            };
            warn!("IPVS: {note}");
            if let Some(feed) = &opts.feed {
                feed.send_replace(Some(Arc::new(IpvsKnown {
                    available: false,
                    note: Some(note),
                    ..IpvsKnown::default()
                })));
            }
            return idle(commands);
        }
    };
    let mut side = Side::new(ipvs, opts.clone());
    side.publish();
    loop {
        let Ok(first) = commands.recv() else {
            return side.stop();
        };
        let mut batch = vec![first];
        batch.extend(commands.try_iter());
        let mut stop = false;
        for c in batch {
            match c {
                Command::Sync { plan, pools } => side.sync(plan, pools),
                Command::Pool { vs, member, weight } => side.pool(vs, member, weight),
                Command::Stop => stop = true,
            }
        }
        if stop {
            return side.stop();
        }
        side.program();
        side.publish();
        if std::mem::take(&mut side.large) {
            // What a large batch built and dropped (the wanted table, the messages,
            // the replies) goes back to the kernel now; left to itself, the allocator
            // keeps those pages resident between the live allocations.
            keepup_sys::release_free_memory();
            if let Some((used, free, _)) = keepup_sys::malloc_usage() {
                debug!(
                    "IPVS: after a large batch, the heap holds {:.1} MB in use, {:.1} MB free",
                    used as f64 / 1e6,
                    free as f64 / 1e6
                );
            }
        }
    }
}

/// Without IPVS: take the commands until stopped, so the checker side never blocks.
fn idle(commands: &mpsc::Receiver<Command>) {
    while let Ok(c) = commands.recv() {
        if matches!(c, Command::Stop) {
            return;
        }
    }
}

struct Side {
    ipvs: Ipvs,
    opts: Options,
    plan: Option<Arc<IpvsPlan>>,
    pools: BTreeMap<usize, BTreeMap<Member, u32>>,
    /// The kernel's table as far as this side knows.
    view: Table,
    owned: Owned,
    /// The view must be read again before the next reconciliation.
    stale: bool,
    /// After this reconciliation, read the kernel's table and reconcile once more (a
    /// reload: its change first, then what was changed by hand).
    mend: bool,
    /// The problems of the configuration, said once per configuration.
    said: BTreeSet<String>,
    /// Operations that failed, by service, with the error, said once until it changes.
    failing: BTreeMap<(ServiceKey, Option<DestKey>), String>,
    started: bool,
    /// IPVS's version and connection table size, for the status.
    version: Option<(u32, u32)>,
    /// Which virtual server each wanted service programs, by keepalived's name (shared
    /// with the status).
    names: Arc<BTreeMap<ServiceKey, String>>,
    /// The configuration changed since `names` was made.
    names_stale: bool,
    /// `nftables_ipvs`: whether the table is to be written again (start, reload), the
    /// table keepup's record names (written by this or a previous keepup), and the
    /// last failure said.
    nft_due: bool,
    nft_table: Option<String>,
    nft_said: Option<String>,
    /// What the status was last told.
    published: Option<Arc<IpvsKnown>>,
    /// A batch of at least [`LARGE`] operations ran since the heap was last trimmed.
    large: bool,
}

impl Side {
    fn new(mut ipvs: Ipvs, opts: Options) -> Side {
        let owned = load_owned(&opts.runtime_dir);
        let nft_table = load_nft_record(&opts.runtime_dir);
        let version = ipvs.info().ok();
        Side {
            ipvs,
            opts,
            plan: None,
            pools: BTreeMap::new(),
            view: Table::default(),
            owned,
            stale: true,
            mend: false,
            said: BTreeSet::new(),
            failing: BTreeMap::new(),
            started: false,
            version,
            names: Arc::default(),
            names_stale: true,
            nft_due: true,
            nft_table,
            nft_said: None,
            published: None,
            large: false,
        }
    }

    fn sync(&mut self, plan: Arc<IpvsPlan>, pools: Pools) {
        if !self.started {
            self.started = true;
            if plan.lvs_flush {
                match self.ipvs.flush() {
                    Ok(()) => {
                        info!("IPVS: table flushed (lvs_flush)");
                        self.owned = Owned::default();
                    }
                    Err(e) => error!("IPVS: lvs_flush failed: {e}"),
                }
            }
        }
        self.set_timeouts(plan.timeouts);
        self.pools = pools
            .into_iter()
            .map(|(vs, p)| (vs, p.into_iter().collect()))
            .collect();
        self.plan = Some(plan);
        self.names_stale = true;
        self.nft_due = true;
        self.said.clear();
        // After a reload's change is made, the kernel's table is read again, so that
        // what was changed by hand is mended too.
        self.mend = true;
    }

    fn set_timeouts(&mut self, want: keepup_lvs::genl::Timeouts) {
        if want == keepup_lvs::genl::Timeouts::default() {
            return;
        }
        if let Err(e) = self.ipvs.set_timeouts(want) {
            error!("IPVS: cannot set lvs_timeouts: {e}");
        }
    }

    fn pool(&mut self, vs: usize, member: Member, weight: Option<u32>) {
        let pool = self.pools.entry(vs).or_default();
        match weight {
            Some(w) => {
                pool.insert(member, w);
            }
            None => {
                pool.remove(&member);
            }
        }
    }

    /// Brings the kernel to the wanted table: the difference, pipelined.
    fn program(&mut self) {
        let Some(plan) = self.plan.clone() else {
            return;
        };
        let pools: Pools = self
            .pools
            .iter()
            .map(|(vs, p)| (*vs, p.iter().map(|(m, w)| (*m, *w)).collect()))
            .collect();
        if std::mem::take(&mut self.nft_due) {
            self.program_nft(&plan);
        }
        let want = plan.layout.desired(&pools);
        if self.names_stale {
            self.names = Arc::new(
                want.origins
                    .iter()
                    .filter_map(|(k, i)| Some((*k, plan.names.get(*i)?.clone())))
                    .collect(),
            );
            self.names_stale = false;
        }
        for p in &want.problems {
            let line = p.named(&plan.names).to_string();
            if self.said.insert(line.clone()) {
                warn!("IPVS: {line}");
            }
        }
        self.converge(&want, &plan);
        if std::mem::take(&mut self.mend) && !self.stale {
            self.stale = true;
            self.converge(&want, &plan);
        }
    }

    /// Writes the marked groups' nftables table (start, reload), or removes the one
    /// keepup's record names when none is wanted; on failure, falls back to expanded
    /// groups until the next reload.
    fn program_nft(&mut self, plan: &IpvsPlan) {
        if let Some(why) = &plan.nft_unusable {
            let line = format!(
                "nftables_ipvs: {why}: the virtual server groups are programmed one IPVS \
                 service per address and port instead, as without nftables_ipvs"
            );
            if self.nft_said.as_ref() != Some(&line) {
                warn!("IPVS: {line}");
                self.nft_said = Some(line);
            }
            return;
        }
        let wanted = plan.layout.nft().filter(|n| !n.is_empty());
        let mut script = String::new();
        if let Some(old) = &self.nft_table {
            if wanted.is_none_or(|n| &n.table != old) {
                script.push_str(&NftIpvs::delete_script(old));
            }
        }
        if let Some(n) = wanted {
            script.push_str(&n.script());
        }
        if script.is_empty() {
            return;
        }
        match keepup_sys::nft_apply(&script) {
            Ok(()) => {
                self.nft_said = None;
                if let Some(n) = wanted {
                    let elements: usize = n
                        .families
                        .iter()
                        .flat_map(|f| &f.maps)
                        .map(|m| m.elements.len())
                        .sum();
                    info!(
                        "IPVS: nftables table {} written ({elements} map element{})",
                        n.table,
                        if elements == 1 { "" } else { "s" }
                    );
                }
                self.nft_table = wanted.map(|n| n.table.clone());
                self.save_nft_record();
            }
            Err(e) => {
                // nft and nf_tables answered when the plan was made: the table itself
                // was refused. The fwmark services stay; nothing marks their traffic.
                let line = match wanted {
                    None => format!(
                        "cannot remove the nftables table {} a previous keepup left: {e}",
                        self.nft_table.as_deref().unwrap_or_default()
                    ),
                    Some(n) => format!(
                        "nftables_ipvs: cannot write the nftables table {}: {e}; the groups' \
                         fwmark services get no traffic until it is written (at a reload)",
                        n.table
                    ),
                };
                if self.nft_said.as_ref() != Some(&line) {
                    error!("IPVS: {line}");
                    self.nft_said = Some(line);
                }
            }
        }
    }

    /// Removes the nftables table keepup wrote (at stop).
    fn release_nft(&mut self) {
        let Some(table) = self.nft_table.take() else {
            return;
        };
        match keepup_sys::nft_apply(&NftIpvs::delete_script(&table)) {
            Ok(()) => info!("IPVS: nftables table {table} removed"),
            Err(e) => error!("IPVS: at stop, cannot remove the nftables table {table}: {e}"),
        }
        let _ = std::fs::remove_file(nft_record_path(&self.opts.runtime_dir));
    }

    fn save_nft_record(&self) {
        let path = nft_record_path(&self.opts.runtime_dir);
        let write = match &self.nft_table {
            Some(t) => std::fs::write(&path, format!("{t}\n")),
            None => match std::fs::remove_file(&path) {
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
                r => r,
            },
        };
        if let Err(e) = write {
            warn!(
                "IPVS: cannot write {}: {e}; after a crash, keepup's nftables table would not be known",
                path.display()
            );
        }
    }

    /// Reconciles `want` with the view and applies the difference. At most twice: a
    /// failure caused by another tool's change is mended by one fresh read of the
    /// kernel's table.
    fn converge(&mut self, want: &keepup_lvs::Desired, plan: &IpvsPlan) {
        for attempt in 0..2 {
            if self.stale && !self.refresh() {
                return;
            }
            let ops = keepup_lvs::reconcile(&want.table, &self.view, &self.owned);
            if ops.is_empty() {
                if self.owned.adopt(&want.table, &self.view) {
                    self.save_owned();
                }
                return;
            }
            let started = std::time::Instant::now();
            let results = self.ipvs.apply(&ops);
            debug!(
                "IPVS: {} operation(s) in {:.1} ms",
                ops.len(),
                started.elapsed().as_secs_f64() * 1e3
            );
            // A service the kernel refused to add: its destinations fail with it, and
            // only the service's error is worth saying.
            let refused: BTreeSet<ServiceKey> = ops
                .iter()
                .zip(&results)
                .filter(|(op, r)| matches!(op, Op::AddService(_)) && r.is_err())
                .map(|(op, _)| op.service())
                .collect();
            let mut raced = false;
            for (op, r) in ops.iter().zip(&results) {
                match r {
                    Ok(()) => {
                        self.failing.remove(&entry_of(op));
                        let _ = keepup_lvs::apply(op, &mut self.view);
                    }
                    Err(_)
                        if !matches!(op, Op::AddService(_)) && refused.contains(&op.service()) => {}
                    Err(e) if attempt == 0 && is_race(op, e) => raced = true,
                    Err(e) => self.report(op, e, plan, &want.origins),
                }
            }
            self.owned.record_results(&ops, &results);
            self.owned.adopt(&want.table, &self.view);
            self.save_owned();
            self.large |= ops.len() >= LARGE;
            if !raced {
                return;
            }
            self.stale = true;
        }
    }

    /// Reads the kernel's table into the view; false (said) if it cannot.
    fn refresh(&mut self) -> bool {
        match self.ipvs.table() {
            Ok(t) => {
                let mut view = Table::default();
                for (s, dests) in t {
                    let key = s.service.key;
                    view.add_service(s.service);
                    for d in dests {
                        view.add_dest(&key, d.dest);
                    }
                }
                self.owned.prune(&view);
                self.view = view;
                self.stale = false;
                true
            }
            Err(e) => {
                error!("IPVS: cannot read the kernel's table: {e}");
                false
            }
        }
    }

    /// One failed operation, named with its virtual server, said once until it changes.
    fn report(
        &mut self,
        op: &Op,
        e: &KernelError,
        plan: &IpvsPlan,
        origins: &BTreeMap<ServiceKey, usize>,
    ) {
        let key = op.service();
        let vs = origins
            .get(&key)
            .and_then(|i| plan.configured.get(*i))
            .map(|v| format!(" (virtual_server {v})"))
            .unwrap_or_default();
        let hint = match (op, e.errno) {
            (Op::AddService(s) | Op::EditService(s), libc::ENOENT) => format!(
                "; is the scheduler '{}' available (module ip_vs_{})?",
                s.scheduler, s.scheduler
            ),
            (_, libc::EAFNOSUPPORT) => "; the kernel has no IPv6 support for IPVS".into(),
            _ => String::new(),
        };
        let line = format!("{}{vs}: {e}{hint}", describe(op));
        let entry = entry_of(op);
        if self.failing.get(&entry) != Some(&line) {
            error!("IPVS: {line}");
            self.failing.insert(entry, line);
        }
    }

    /// Tells the status what this side knows (the table itself is read from the
    /// kernel when the status is asked for), when it changed.
    fn publish(&mut self) {
        let Some(feed) = &self.opts.feed else {
            return;
        };
        let known = IpvsKnown {
            available: true,
            note: None,
            version: self.version,
            names: self.names.clone(),
            owned: match &self.published {
                Some(p) if *p.owned == self.owned.services => p.owned.clone(),
                _ => Arc::new(self.owned.services.clone()),
            },
        };
        if self.published.as_deref() != Some(&known) {
            let known = Arc::new(known);
            feed.send_replace(Some(known.clone()));
            self.published = Some(known);
        }
    }

    fn stop(mut self) {
        let flush = self
            .plan
            .as_ref()
            .map(|p| p.flush_on_stop)
            .unwrap_or_default();
        if self.opts.dont_release {
            info!("IPVS: -I: keepup's virtual servers stay in the kernel");
            return;
        }
        self.release_nft();
        if flush == LvsFlushOnStop::All {
            match self.ipvs.flush() {
                Ok(()) => info!("IPVS: table flushed (lvs_flush_on_stop)"),
                Err(e) => error!("IPVS: lvs_flush_on_stop failed: {e}"),
            }
        } else {
            if self.stale {
                let _ = self.refresh();
            }
            let ops = keepup_lvs::reconcile(&Table::default(), &self.view, &self.owned);
            let results = self.ipvs.apply(&ops);
            for (op, r) in ops.iter().zip(&results) {
                if let Err(e) = r {
                    if e.errno != libc::ENOENT && e.errno != libc::ESRCH {
                        error!("IPVS: at stop, {}: {e}", describe(op));
                    }
                }
            }
            info!(
                "IPVS: keepup's {} service(s) removed",
                self.owned.services.len()
            );
        }
        let _ = std::fs::remove_file(owned_path(&self.opts.runtime_dir));
    }

    fn save_owned(&self) {
        let path = owned_path(&self.opts.runtime_dir);
        let tmp = path.with_extension("json.tmp");
        let write = serde_json::to_vec(&self.owned)
            .map_err(std::io::Error::other)
            .and_then(|b| std::fs::write(&tmp, b))
            .and_then(|()| std::fs::rename(&tmp, &path));
        if let Err(e) = write {
            warn!(
                "IPVS: cannot write {}: {e}; after a crash, keepup's entries would not be known",
                path.display()
            );
        }
    }
}

/// Errors that mean the view was wrong: another tool changed the table. (ENOENT on
/// adding a service is not one: the kernel says so for a scheduler it does not have.)
fn is_race(op: &Op, e: &KernelError) -> bool {
    match op {
        Op::AddService(_) => e.errno == libc::EEXIST,
        Op::AddDest(..) => matches!(e.errno, libc::EEXIST | libc::ESRCH),
        _ => matches!(e.errno, libc::ENOENT | libc::ESRCH),
    }
}

/// The entry an operation concerns: a service, or one of its destinations.
fn entry_of(op: &Op) -> (ServiceKey, Option<DestKey>) {
    match op {
        Op::AddService(_) | Op::EditService(_) | Op::DelService(_) => (op.service(), None),
        Op::AddDest(k, d) | Op::EditDest(k, d) => (*k, Some(d.key)),
        Op::DelDest(k, d) => (*k, Some(*d)),
    }
}

fn describe(op: &Op) -> String {
    match op {
        Op::AddService(s) => format!("adding service {}", s.key),
        Op::EditService(s) => format!("changing service {}", s.key),
        Op::DelService(k) => format!("removing service {k}"),
        Op::AddDest(k, d) => format!("adding real server {} to {k}", d.key),
        Op::EditDest(k, d) => format!("changing real server {} of {k}", d.key),
        Op::DelDest(k, d) => format!("removing real server {d} from {k}"),
    }
}

fn nft_record_path(dir: &std::path::Path) -> PathBuf {
    dir.join("ipvs-nft")
}

/// The nftables table a previous keepup wrote and did not remove.
fn load_nft_record(dir: &std::path::Path) -> Option<String> {
    let name = std::fs::read_to_string(nft_record_path(dir)).ok()?;
    let name = name.trim();
    if !keepup_lvs::nft::valid_table_name(name) {
        return None;
    }
    info!("IPVS: found the nftables table {name} of a previous keepup; it is replaced");
    Some(name.to_owned())
}

/// What `keepup check` adds about `nftables_ipvs`: which groups are marked, and
/// whether nft is there to do it.
pub fn nft_notes(config: &Config) -> String {
    let Some(name) = &config.global_defs.nftables_ipvs else {
        return String::new();
    };
    if !keepup_lvs::nft::valid_table_name(name) {
        return format!(
            "note: nftables_ipvs: '{name}' is not a table name nft accepts: the groups would \
             be programmed one IPVS service per address and port\n"
        );
    }
    let want = keepup_lvs::desired(config, &Pools::new());
    let Some(nft) = want.nft.filter(|n| !n.is_empty()) else {
        return format!(
            "note: nftables_ipvs {name}: no virtual server group to mark (a group with a \
             fwmark entry is expanded as without it)\n"
        );
    };
    let marks: BTreeSet<u32> = nft
        .families
        .iter()
        .flat_map(|f| &f.maps)
        .flat_map(|m| &m.elements)
        .map(|e| e.mark)
        .collect();
    let families: Vec<&str> = nft
        .families
        .iter()
        .map(|f| match f.family {
            keepup_lvs::Family::V4 => "ip",
            keepup_lvs::Family::V6 => "ip6",
        })
        .collect();
    let mut out = format!(
        "note: nftables_ipvs: the virtual server groups are marked (fwmark {}) by the \
         nftables table {} {name}\n",
        marks
            .iter()
            .map(u32::to_string)
            .collect::<Vec<_>>()
            .join(", "),
        families.join("/"),
    );
    if keepup_sys::nft_program().is_none() {
        out.push_str(
            "note: nftables_ipvs: the nft program is not installed (package nftables): the \
             groups would be programmed one IPVS service per address and port instead\n",
        );
    }
    out
}

fn owned_path(dir: &std::path::Path) -> PathBuf {
    dir.join("ipvs.json")
}

fn load_owned(dir: &std::path::Path) -> Owned {
    let path = owned_path(dir);
    match std::fs::read(&path) {
        Ok(b) => match serde_json::from_slice(&b) {
            Ok(o) => {
                info!(
                    "IPVS: found the record of a previous keepup ({}); its entries are \
                     reconciled",
                    path.display()
                );
                o
            }
            Err(e) => {
                warn!("IPVS: ignoring {}: {e}", path.display());
                Owned::default()
            }
        },
        Err(_) => Owned::default(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(text: &str) -> Config {
        keepup_config::load_str("t.conf", text, &Default::default()).config
    }

    #[test]
    fn check_names_the_marks_and_the_tables() {
        let c = config(
            "global_defs {\n nftables_ipvs\n}\n\
             virtual_server_group G {\n 10.1.0.1 80\n fc00::1-2 80\n}\n\
             virtual_server group G {\n protocol TCP\n lb_kind TUN\n real_server 10.2.0.1 80 { }\n}\n\
             virtual_server group G {\n protocol UDP\n lb_kind TUN\n real_server 10.2.0.1 80 { }\n}\n",
        );
        let notes = nft_notes(&c);
        assert!(
            notes.starts_with(
                "note: nftables_ipvs: the virtual server groups are marked (fwmark 1000, 1001) \
                 by the nftables table ip/ip6 keepalived_ipvs\n"
            ),
            "{notes}"
        );
        let c = config(
            "global_defs {\n nftables_ipvs t\n}\n\
             virtual_server_group G {\n 10.1.0.1 80\n fwmark 3\n}\n\
             virtual_server group G {\n protocol TCP\n real_server 10.2.0.1 80 { }\n}\n",
        );
        assert!(nft_notes(&c).contains("no virtual server group to mark"));
        let c = config(
            "global_defs {\n nftables_ipvs a;b\n}\n\
             virtual_server_group G {\n 10.1.0.1 80\n}\n\
             virtual_server group G {\n protocol TCP\n real_server 10.2.0.1 80 { }\n}\n",
        );
        assert!(nft_notes(&c).contains("'a;b' is not a table name nft accepts"));
        let c = config("virtual_server 10.1.0.1 80 {\n real_server 10.2.0.1 80 { }\n}\n");
        assert_eq!(nft_notes(&c), "");
    }
}
