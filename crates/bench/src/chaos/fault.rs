//! The faults: what each does to a router, how long it lasts and how it is healed.
use anyhow::Result;
use keepup_testkit::lab::Lan;
use keepup_testkit::SplitMix64;

use crate::chaos::delay::Impaired;
use crate::chaos::router::Router;
use crate::Ns;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    /// SIGKILL, then a restart.
    Kill,
    /// SIGTERM (a clean stop), then a restart.
    Term,
    /// SIGSTOP, then SIGCONT: a frozen daemon.
    Freeze,
    /// The router's switch port down (carrier lost), then up.
    PortDown,
    /// `ip link set eth0 down` in the router, then up.
    LinkDown,
    /// An nftables rule drops the router's outgoing IP protocol 112.
    DropOut,
    /// An nftables rule drops the router's incoming IP protocol 112.
    DropIn,
    /// tc netem loss and delay on the router's eth0 (where the kernel has no netem, a
    /// userspace relay at its bridge port delays and drops frames both ways).
    Lossy,
    /// SIGHUP with the same configuration.
    Reload,
    /// SIGHUP with the router's priority changed; healed by a reload back.
    ReloadChanged,
    /// The tracked script fails (its weight comes off the priority).
    Script,
    /// SIGUSR1, SIGUSR2 and keepalived's JSON signal (SIGRTMIN+2), as an operator or an
    /// exporter sends them.
    Signals,
}

pub const ALL: [Kind; 12] = [
    Kind::Kill,
    Kind::Term,
    Kind::Freeze,
    Kind::PortDown,
    Kind::LinkDown,
    Kind::DropOut,
    Kind::DropIn,
    Kind::Lossy,
    Kind::Reload,
    Kind::ReloadChanged,
    Kind::Script,
    Kind::Signals,
];

impl Kind {
    pub fn name(self) -> &'static str {
        match self {
            Kind::Kill => "sigkill+restart",
            Kind::Term => "sigterm+restart",
            Kind::Freeze => "sigstop/sigcont",
            Kind::PortDown => "switch port down/up",
            Kind::LinkDown => "link down/up",
            Kind::DropOut => "drop vrrp out",
            Kind::DropIn => "drop vrrp in",
            Kind::Lossy => "loss+delay",
            Kind::Reload => "reload unchanged",
            Kind::ReloadChanged => "reload changed",
            Kind::Script => "tracked script fails",
            Kind::Signals => "usr1/usr2/json",
        }
    }

    /// Whether it stops the daemon (never done to the memory witness).
    pub fn stops(self) -> bool {
        matches!(self, Kind::Kill | Kind::Term)
    }

    /// May run beside another fault on another router.
    pub fn overlaps(self) -> bool {
        !matches!(self, Kind::Kill | Kind::Term | Kind::DropOut | Kind::DropIn)
    }

    /// How long it lasts (ms) before the heal. The firewall faults outlast
    /// Master_Down_Interval plus the 3 advert intervals in which keepup names a split
    /// brain. `quick`: the others at 40 %.
    pub fn duration_ms(self, rng: &mut SplitMix64, quick: bool) -> u64 {
        let (lo, hi) = match self {
            Kind::Kill | Kind::Term => (500, 5000),
            Kind::Freeze => (1000, 8000),
            Kind::PortDown | Kind::LinkDown => (1000, 6000),
            Kind::DropOut | Kind::DropIn => (10_000, 13_000),
            Kind::Lossy => (4000, 10_000),
            Kind::Reload | Kind::Signals => (200, 1500),
            Kind::ReloadChanged | Kind::Script => (3000, 8000),
        };
        let d = lo + rng.below_incl(hi - lo);
        if quick && !matches!(self, Kind::DropOut | Kind::DropIn) {
            (d * 2 / 5).max(200)
        } else {
            d
        }
    }

    /// After the heal, how long the fault's own effects may take before the RFC bound
    /// starts: the tracked script's next run (interval 1 s, rise 1) and a reload's
    /// re-read. A restart's startup is waited for (the heal ends when the daemon has
    /// entered its first state), so it needs none here.
    pub fn settle_ms(self) -> u64 {
        match self {
            Kind::Script => 1500,
            Kind::Reload | Kind::ReloadChanged | Kind::Signals => 1000,
            _ => 0,
        }
    }
}

/// One fault on one router, as it happened.
#[derive(Debug, Clone)]
pub struct Fault {
    pub kind: Kind,
    pub router: usize,
    pub at: Ns,
    pub healed: Option<Ns>,
    /// What was done, in words (`priority 200 -> 185`, `netem loss 20% delay 80ms`).
    pub detail: String,
    /// For Kill: when the restarted daemon was ready.
    pub restarted: Option<Ns>,
    /// For Term: when the daemon had exited.
    pub exited: Option<Ns>,
    /// Each router's [`Router::log_mark`] just before.
    pub marks: Vec<(usize, usize)>,
    /// For Lossy without netem: the relay at the router's bridge port.
    pub impaired: Option<std::sync::Arc<Impaired>>,
}

const NFT_TABLE: &str = "keepup_chaos";

fn nft_drop(hook: &str, cond: &str) -> String {
    format!(
        "table inet {NFT_TABLE} {{\n  chain c {{\n    type filter hook {hook} priority 0;\n    \
         {cond} drop;\n  }}\n}}\n"
    )
}

/// Do `kind` to router `r` now.
pub fn inject(
    kind: Kind,
    routers: &mut [Router],
    i: usize,
    lan: &Lan,
    rng: &mut SplitMix64,
) -> Result<Fault> {
    let r = &mut routers[i];
    let mut f = Fault {
        kind,
        router: i,
        at: crate::now_ns(),
        healed: None,
        detail: String::new(),
        restarted: None,
        exited: None,
        marks: vec![],
        impaired: None,
    };
    match kind {
        Kind::Kill => r.sigkill()?,
        Kind::Term => f.exited = Some(r.sigterm()?),
        Kind::Freeze => r.freeze()?,
        Kind::PortDown => {
            // The lab's switch side: done by the caller, which holds the LAN.
        }
        Kind::LinkDown => r.host.link_set("eth0", false)?,
        Kind::DropOut => r.host.nft(&nft_drop("output", "meta l4proto 112"))?,
        Kind::DropIn => r.host.nft(&nft_drop("input", "meta l4proto 112"))?,
        Kind::Lossy => {
            let loss = 10 + rng.below_incl(30);
            let delay = 20 + rng.below_incl(180);
            let netem = r.host.exec([
                "tc",
                "qdisc",
                "add",
                "dev",
                "eth0",
                "root",
                "netem",
                "delay",
                &format!("{delay}ms"),
                "loss",
                &format!("{loss}%"),
            ])?;
            if netem.status.success() {
                f.detail = format!("netem delay {delay}ms loss {loss}%");
            } else {
                // This kernel has no sch_netem: a relay at the bridge port, both ways.
                let seed = rng.next_u64();
                let delay_d = std::time::Duration::from_millis(delay);
                f.impaired = Some(Impaired::start(lan, &r.host, delay_d, loss, seed)?);
                f.detail = format!(
                    "relay delay {delay}ms loss {loss}% each way (userspace: no netem in this kernel)"
                );
            }
        }
        Kind::Reload => r.reload(r.priority)?,
        Kind::ReloadChanged => {
            let to = if rng.chance(0.5) {
                r.priority.saturating_add(15)
            } else {
                r.priority.saturating_sub(15)
            };
            r.reload(to)?;
            f.detail = format!("priority {} -> {to}", r.priority);
        }
        Kind::Script => {
            std::fs::write(&r.down_file, b"")?;
        }
        Kind::Signals => {
            let mut sigs = vec!["USR1".to_owned(), "USR2".into(), json_signal()];
            // Shuffle the order.
            for k in (1..sigs.len()).rev() {
                let j = rng.below_incl(k as u64) as usize;
                sigs.swap(k, j);
            }
            for s in &sigs {
                r.signal(s)?;
                std::thread::sleep(std::time::Duration::from_millis(50));
            }
            f.detail = sigs.join(",").replace(&json_signal(), "JSON");
        }
    }
    Ok(f)
}

/// Undo `f`. Returns when the heal is done (a restarted daemon has entered its first
/// state).
pub fn heal(f: &mut Fault, routers: &mut [Router]) -> Result<Ns> {
    let r = &mut routers[f.router];
    match f.kind {
        Kind::Kill => {
            let ready = r.start()?;
            f.restarted = Some(ready);
        }
        Kind::Term => {
            f.restarted = Some(r.start()?);
        }
        Kind::Freeze => r.thaw()?,
        Kind::PortDown => {}
        Kind::LinkDown => r.host.link_set("eth0", true)?,
        Kind::DropOut | Kind::DropIn => {
            r.host.run(["nft", "delete", "table", "inet", NFT_TABLE])?;
        }
        Kind::Lossy => match f.impaired.take() {
            Some(relay) => relay.heal()?,
            None => {
                r.host.run(["tc", "qdisc", "del", "dev", "eth0", "root"])?;
            }
        },
        Kind::Reload | Kind::Signals => {}
        Kind::ReloadChanged => r.reload(r.priority)?,
        Kind::Script => {
            let _ = std::fs::remove_file(&r.down_file);
        }
    }
    let at = crate::now_ns();
    f.healed = Some(at);
    Ok(at)
}

/// keepalived's JSON signal, SIGRTMIN+2, as `keepup --signum=JSON` names it (set at
/// start; 36 on glibc otherwise).
pub static JSON_SIGNAL: std::sync::OnceLock<String> = std::sync::OnceLock::new();

pub fn json_signal() -> String {
    JSON_SIGNAL.get().cloned().unwrap_or_else(|| "36".into())
}
