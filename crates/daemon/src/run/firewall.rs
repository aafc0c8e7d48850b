//! The firewall part: `no_accept`. While an instance that is not the address owner
//! (priority 255) and does not accept (`no_accept`, or strict mode's default) holds its
//! VIPs, what is addressed to them is dropped by keepup's nftables table (RFC 3768 and
//! RFC 9568 §6.4.3, Ledger MST-04; the owner accepts whatever the mode, OWN-02;
//! Neighbor Solicitations and Advertisements pass, MST-05). keepalived's default is to
//! accept (KA-16), and so is keepup's.
//!
//! The same table keeps an instance that is not Master from routing IPv6 sent to its
//! VMAC (Ledger: BKP-04): IPv6 has no per-interface switch that stops forwarding
//! (`net.ipv6.conf.X.forwarding` only makes the host a router or not), so while an
//! instance is not Master its IPv6 VMACs are in the table's `backup_vmacs` set, whose
//! rule drops what comes in on them in the forward hook; they leave it before its
//! VIPs are added (an IPv4 VMAC has its `forwarding` sysctl turned off instead, see
//! `vmac.rs`). Turning IPv6 off on the Backup's VMAC would not do: the Backup reads
//! the adverts there, from its link-local. The table is made at start when an IPv6
//! VMAC exists, so a Backup never routes from its first moment.
//!
//! The part decides which addresses to drop; `keepup_sys::VipFilter` writes them. The
//! filter is written before an instance's VIPs are added and after they are removed,
//! so a VIP is never up without its filter. The table is made at start when any
//! instance may need it (and a leftover of a killed keepup, recorded in
//! `<runtime dir>/vrrp-nft`, is replaced or removed), and removed at a clean stop. A
//! write that fails is logged, counted and tried again until it succeeds.
use crate::plan::Plan;
use keepup_config::Config;
use keepup_sys::{NftError, VipFilter};
use keepup_vrrp::InstanceId;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::Duration;
use tracing::{error, info, warn};

use super::setup::Setup;

/// How long after a failed write the filter is written again.
pub const RETRY_AFTER: Duration = Duration::from_secs(5);

pub struct Firewall {
    /// `nftables NAME` (default `keepup`) and `nftables_priority`.
    table: String,
    priority: i32,
    /// The instances holding their VIPs.
    held: BTreeSet<InstanceId>,
    /// The filter in the kernel as last written; `None`: no table of ours known to be
    /// there (none made yet, or the last write failed).
    applied: Option<VipFilter>,
    /// A table of ours may be in the kernel (the record says which).
    recorded: Option<String>,
    record: PathBuf,
    /// Writes that failed since start.
    pub failures: u64,
    /// A failed write waits to be tried again.
    pub retry: bool,
    /// The last failure logged (the same one is logged once).
    said: Option<String>,
}

/// Whether instance `i` of `plan` drops what is sent to its VIPs while it holds them.
pub fn drops(plan: &Plan, i: usize) -> bool {
    plan.instances
        .get(i)
        .is_some_and(|c| c.priority != 255 && !c.accept)
}

/// The VMACs of instance `id` that carry IPv6 (macvlans only: an ipvlan has no MAC
/// of its own).
fn v6_vmacs(setup: &Setup, id: InstanceId) -> impl Iterator<Item = &str> {
    let e = setup.effects(id);
    e.vmac
        .iter()
        .filter(|v| v.v6 || v.any_v6)
        .chain(e.addr_vmacs.iter().filter(|v| v.v6))
        .filter(|v| matches!(v.link.kind, keepup_sys::VirtualKind::Macvlan { .. }))
        .map(|v| v.link.name.as_str())
}

/// Whether instance `id` needs the table: it drops, or has an IPv6 VMAC.
fn needs(setup: &Setup, id: InstanceId) -> bool {
    drops(&setup.plan, id.0) || v6_vmacs(setup, id).next().is_some()
}

/// `base` with the addresses of the `held` instances that drop (VIPs and excluded
/// VIPs, each with the interface it is added on), and the IPv6 VMACs of the others.
fn wanted(setup: &Setup, held: &BTreeSet<InstanceId>, mut f: VipFilter) -> VipFilter {
    for id in setup.ids().filter(|id| !held.contains(id)) {
        for name in v6_vmacs(setup, id) {
            if !f.no_forwarding(name) {
                warn!(
                    "({}) VMAC '{name}' cannot be kept from forwarding (the name cannot be \
                     written in an nftables set)",
                    setup.name(id)
                );
            }
        }
    }
    for &id in held {
        if id.0 >= setup.plan.instances.len() || !drops(&setup.plan, id.0) {
            continue;
        }
        for a in setup.effects(id).addresses() {
            let dev = setup.device(id, a);
            if !f.insert(a.address, dev) {
                warn!(
                    "({}) no_accept: {} on interface '{dev}' cannot be filtered (the name \
                     cannot be written in an nftables set)",
                    setup.name(id),
                    a.address
                );
            }
        }
    }
    f
}

/// The table's name and priority as the configuration gives them.
fn table_of(config: &Config) -> (String, i32) {
    let g = &config.global_defs;
    let name = g
        .nftables
        .clone()
        .unwrap_or_else(|| keepup_sys::VIP_FILTER_TABLE.to_string());
    (name, g.nftables_priority)
}

impl Firewall {
    pub fn new(config: &Config, runtime_dir: &Path) -> Firewall {
        let (table, priority) = table_of(config);
        let record = runtime_dir.join("vrrp-nft");
        let recorded = std::fs::read_to_string(&record)
            .ok()
            .map(|s| s.trim().to_owned())
            .filter(|s| !s.is_empty());
        Firewall {
            table,
            priority,
            held: BTreeSet::new(),
            applied: None,
            recorded,
            record,
            failures: 0,
            retry: false,
            said: None,
        }
    }

    /// At start (nothing held yet): the table is made, empty, when an instance may
    /// need it, and any table a previous keepup left is replaced or removed. Without
    /// nft, an instance that needs it is named loudly: its VIPs would accept.
    pub fn start(&mut self, setup: &Setup) {
        let needing: Vec<&str> = setup
            .ids()
            .filter(|id| needs(setup, *id))
            .map(|id| setup.name(id))
            .collect();
        if let Some(old) = self.recorded.clone() {
            if needing.is_empty() || old != self.filter().table() {
                info!(
                    "no_accept: removing the nftables table inet {old} left by a previous keepup"
                );
                self.delete(&old);
            }
        }
        if needing.is_empty() {
            return;
        }
        if let Err(e) = keepup_sys::nft_usable() {
            error!(
                "no_accept: {e}: packets addressed to the VIPs of {} would be ACCEPTED while \
                 it is MASTER (and a Backup would route IPv6 sent to its VMAC); install \
                 nftables (or set `accept`)",
                needing
                    .iter()
                    .map(|n| format!("({n})"))
                    .collect::<Vec<_>>()
                    .join(", ")
            );
        }
        self.write(setup, true);
    }

    /// The filter as `setup` and the instances held want it.
    fn wanted(&self, setup: &Setup) -> VipFilter {
        wanted(setup, &self.held, self.filter())
    }

    fn filter(&self) -> VipFilter {
        VipFilter::new(&self.table, self.priority)
    }

    /// `id` is about to add its VIPs (`install`) or has removed them: the filter is
    /// written first on the way up and last on the way down (the caller's order).
    pub fn vips(&mut self, setup: &Setup, id: InstanceId, install: bool) {
        let changed = if install {
            self.held.insert(id)
        } else {
            self.held.remove(&id)
        };
        if changed && drops(&setup.plan, id.0) {
            let what = if install { "setting" } else { "removing" };
            info!("({}) {what} firewall drop rule", setup.name(id));
        }
        if changed && needs(setup, id) {
            self.write(setup, false);
        }
    }

    /// After a reload: the table's name or priority may have changed, and which
    /// instances drop; `held` is which instances hold their VIPs now.
    pub fn reloaded(
        &mut self,
        config: &Config,
        setup: &Setup,
        held: impl Iterator<Item = InstanceId>,
    ) {
        let (table, priority) = table_of(config);
        let renamed = table != self.table || priority != self.priority;
        if renamed {
            let old = self.filter().table().to_owned();
            if self.applied.is_some() || self.recorded.is_some() {
                self.delete(&old);
            }
            self.table = table;
            self.priority = priority;
            self.applied = None;
        }
        self.held = held.collect();
        let needed = setup.ids().any(|id| needs(setup, id));
        if needed {
            self.write(setup, renamed);
        } else if self.applied.is_some() || self.recorded.is_some() {
            let t = self.filter().table().to_owned();
            self.delete(&t);
        }
    }

    /// Write the wanted filter if it differs from the kernel's (`fresh`: the whole
    /// table, as at start).
    pub fn write(&mut self, setup: &Setup, fresh: bool) {
        let want = self.wanted(setup);
        if !fresh && self.applied.as_ref() == Some(&want) {
            self.retry = false;
            return;
        }
        let table = want.table().to_owned();
        if self.recorded.as_deref() != Some(table.as_str()) {
            // Recorded before it is made, so a crash leaves no table unrecorded.
            if let Err(e) = std::fs::write(&self.record, format!("{table}\n")) {
                warn!("cannot write {}: {e}", self.record.display());
            }
            self.recorded = Some(table.clone());
        }
        match want.apply(fresh || self.applied.is_none()) {
            Ok(()) => {
                if self.said.take().is_some() {
                    info!("no_accept: the nftables table inet {table} is written again");
                }
                self.applied = Some(want);
                self.retry = false;
            }
            Err(e) => self.failed(&table, &e),
        }
    }

    fn failed(&mut self, table: &str, e: &NftError) {
        self.failures += 1;
        self.applied = None;
        self.retry = true;
        let line = format!(
            "no_accept: cannot write the nftables table inet {table}: {e}; packets to the \
             VIPs it should drop are accepted until it is written (tried again every {}s)",
            RETRY_AFTER.as_secs()
        );
        if self.said.as_ref() != Some(&line) {
            error!("{line} (failure {})", self.failures);
            self.said = Some(line);
        }
    }

    fn delete(&mut self, table: &str) {
        match keepup_sys::delete_vip_filter(table) {
            Ok(()) => {
                if self.recorded.as_deref() == Some(table) {
                    let _ = std::fs::remove_file(&self.record);
                    self.recorded = None;
                }
            }
            // Without nft there is no table of ours to remove (the record stays for a
            // start that has nft again).
            Err(NftError::Missing) => {}
            Err(e) => {
                self.failures += 1;
                error!("no_accept: cannot remove the nftables table inet {table}: {e}");
            }
        }
        self.applied = None;
    }

    /// A clean stop: the table goes (`-V` leaves it, with the VIPs).
    pub fn stop(&mut self, keep: bool) {
        if keep {
            return;
        }
        if let Some(t) = self.recorded.clone() {
            self.delete(&t);
        }
    }
}

/// What `keepup check` adds about `no_accept`: which instances have what is sent to
/// their VIPs dropped while they are Master, by which table, and a warning when nft or
/// nf_tables is missing (their VIPs would accept).
pub fn accept_notes(config: &Config) -> String {
    let dropping: Vec<String> = config
        .vrrp_instances
        .iter()
        .filter(|vi| vi.priority != 255 && !vi.accept)
        .map(|vi| format!("({})", vi.name))
        .collect();
    if dropping.is_empty() {
        return String::new();
    }
    let (table, _) = table_of(config);
    let table = VipFilter::new(&table, 0).table().to_owned();
    let names = dropping.join(", ");
    let note = format!(
        "note: no_accept: while MASTER, {names} drop what is sent to their VIPs \
         (nftables table inet {table})\n"
    );
    match keepup_sys::nft_usable() {
        Ok(()) => note,
        // Not root, most often: nf_tables cannot be asked from here.
        Err(e @ (NftError::Refused(_) | NftError::Io(_) | NftError::Timeout)) => {
            format!("{note}note: no_accept: nft could not be asked here ({e})\n")
        }
        Err(e) => format!(
            "warning: no_accept: {e}: packets to the VIPs of {names} would be ACCEPTED \
             while MASTER; install nftables, or write `accept`\n"
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use keepup_config::LoadOptions;
    use std::collections::HashMap;

    fn setup(text: &str) -> (Setup, Config) {
        let opts = LoadOptions {
            interfaces: None,
            check_scripts: false,
            ..LoadOptions::for_this_host()
        };
        let config = keepup_config::load_str("t.conf", text, &opts).config;
        let ifindex = |n: &str| match n {
            "eth0" => Some(2),
            "eth1" => Some(3),
            _ => None,
        };
        let plan = crate::plan::plan(&config, &ifindex).expect("plan");
        let names = HashMap::from([("eth0".to_string(), 2), ("eth1".to_string(), 3)]);
        let s = Setup {
            plan,
            ifindex: names,
            digest: 0,
        };
        (s, config)
    }

    fn inst(name: &str, vrid: u8, body: &str, vips: &str) -> String {
        format!(
            "vrrp_instance {name} {{\n interface eth0\n virtual_router_id {vrid}\n{body}\n \
             virtual_ipaddress {{\n{vips}\n }}\n}}\n"
        )
    }

    /// MST-04 / OWN-02 / KA-16: only a held, non-owner instance that does not accept
    /// has its addresses (excluded ones too, each on its own interface) in the filter.
    #[test]
    fn only_non_owners_without_accept_drop() {
        let text = [
            inst("ACC", 1, " priority 100", "  10.0.0.1/24"),
            inst(
                "NOACC",
                2,
                " priority 100\n no_accept",
                "  10.0.0.2/24",
            ),
            inst("OWNER", 3, " priority 255\n no_accept", "  10.0.0.3/24"),
            inst("IDLE", 4, " priority 100\n no_accept", "  10.0.0.4/24"),
        ]
        .concat()
        .replace(
            "vrrp_instance NOACC {",
            "vrrp_instance NOACC {\n virtual_ipaddress_excluded {\n  fd00::9\n  fe80::2/64 dev eth1\n }",
        );
        let (s, config) = setup(&text);
        let drop: Vec<bool> = (0..4).map(|i| drops(&s.plan, i)).collect();
        assert_eq!(drop, [false, true, false, true]);
        let held: BTreeSet<InstanceId> = (0..3).map(InstanceId).collect();
        let f = wanted(&s, &held, VipFilter::new("keepup", -1));
        let ip = |t: &str| t.parse::<std::net::IpAddr>().expect("ip");
        for (a, want) in [
            ("10.0.0.1", false),
            ("10.0.0.2", true),
            ("fe80::2", true),
            ("fd00::9", true),
            ("10.0.0.3", false),
            ("10.0.0.4", false),
        ] {
            assert_eq!(f.contains(ip(a)), want, "{a}");
        }
        assert!(f.script().contains("fe80::2 . \"eth1\""), "{}", f.script());
        let notes = accept_notes(&config);
        assert!(notes.contains("(NOACC), (IDLE)"), "{notes}");
        assert!(
            !notes.contains("OWNER") && !notes.contains("(ACC)"),
            "{notes}"
        );
    }

    /// Strict mode drops for non-owners that say nothing; `nftables NAME` names the table.
    #[test]
    fn strict_defaults_and_table_name() {
        let text = format!(
            "global_defs {{\n vrrp_strict\n nftables kup\n nftables_priority 5\n}}\n{}{}",
            inst("S", 1, " priority 100", "  10.0.0.1/24"),
            inst("O", 2, " priority 255", "  10.0.0.2/24")
        );
        let (s, config) = setup(&text);
        assert!(drops(&s.plan, 0) && !drops(&s.plan, 1));
        let (t, p) = table_of(&config);
        assert_eq!((t.as_str(), p), ("kup", 5));
        assert!(table_of(&Config::default()).0 == "keepup");
    }
}
