//! The fewest operations that turn the kernel's table into the one keepup wants,
//! touching only what keepup owns.
//!
//! Ownership, decided here:
//!
//! - keepup owns a service it created, or one it wants that it found already there
//!   (adopted, as keepalived does: its `ipvs_cmd` treats EEXIST on add as success and
//!   goes on adding destinations). A service keepup neither wants nor owns is never
//!   touched, whatever its destinations.
//! - An owned service keepup no longer wants is deleted whole: the kernel takes its
//!   destinations with it, including any added by hand.
//! - Within a wanted service, a destination keepup wants is added or edited (and so
//!   becomes owned); one it does not want is deleted only if keepup owns it. A
//!   destination someone added by hand to one of keepup's services stays, like
//!   keepalived, which only ever removes the servers it added.
//! - [`Owned`] is plain serde data. The daemon writes it after each batch, so a keepup
//!   restarted after SIGKILL still knows what the killed one created and removes what
//!   the new configuration no longer wants. Without that file keepup owns nothing it
//!   finds at start but what it wants ([`Owned::adopt`]): a foreign entry is never
//!   claimed.
use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use crate::table::{DestKey, Destination, Op, Service, ServiceKey, Table};

/// What keepup created (or adopted) in the kernel's table.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Owned {
    pub services: BTreeSet<ServiceKey>,
    pub dests: BTreeSet<(ServiceKey, DestKey)>,
}

impl Owned {
    /// Claims every service and destination of `table`.
    pub fn all_of(table: &Table) -> Owned {
        let mut o = Owned::default();
        o.adopt(table, table);
        o
    }

    /// Claims what keepup wants and the kernel has (adopted, even when no operation
    /// touched it), so that it is removed once no longer wanted. True if it claimed
    /// anything new.
    pub fn adopt(&mut self, desired: &Table, kernel: &Table) -> bool {
        let mut new = false;
        for (k, want) in &desired.services {
            let Some(have) = kernel.services.get(k) else {
                continue;
            };
            new |= self.services.insert(*k);
            for d in want.dests.keys().filter(|d| have.dests.contains_key(d)) {
                new |= self.dests.insert((*k, *d));
            }
        }
        new
    }

    pub fn owns_service(&self, key: &ServiceKey) -> bool {
        self.services.contains(key)
    }

    pub fn owns_dest(&self, key: &ServiceKey, dest: &DestKey) -> bool {
        self.dests.contains(&(*key, *dest))
    }

    /// Records one operation the kernel carried out. Call it for each op whose result
    /// was success (and, at the daemon's choice, for an add that failed with EEXIST or
    /// a delete that failed with ENOENT: their effect holds all the same).
    pub fn record(&mut self, op: &Op) {
        match op {
            Op::AddService(s) | Op::EditService(s) => {
                self.services.insert(s.key);
            }
            Op::DelService(k) => {
                self.services.remove(k);
                self.forget_dests_of(k);
            }
            Op::AddDest(k, d) | Op::EditDest(k, d) => {
                self.dests.insert((*k, d.key));
            }
            Op::DelDest(k, d) => {
                self.dests.remove(&(*k, *d));
            }
        }
    }

    /// Records the ops of a batch with the socket's results, one per op, in order.
    pub fn record_results<E>(&mut self, ops: &[Op], results: &[Result<(), E>]) {
        for (op, r) in ops.iter().zip(results) {
            if r.is_ok() {
                self.record(op);
            }
        }
    }

    /// Forgets what is no longer in the kernel (deleted by hand, or by a module
    /// reload), so the record does not grow without bound.
    pub fn prune(&mut self, kernel: &Table) {
        self.services.retain(|k| kernel.services.contains_key(k));
        self.dests.retain(|(k, d)| {
            kernel
                .services
                .get(k)
                .is_some_and(|e| e.dests.contains_key(d))
        });
    }

    fn forget_dests_of(&mut self, key: &ServiceKey) {
        self.dests.retain(|(k, _)| k != key);
    }
}

/// The operations, in an order the kernel accepts, that make `kernel` what `desired`
/// says for every wanted service, delete what keepup owns and no longer wants, and
/// leave everything else alone.
///
/// Order: owned unwanted services are deleted first (their destinations go with
/// them); then per wanted service, in key order: the service is added or edited,
/// owned unwanted destinations are deleted, then destinations are added or edited.
pub fn reconcile(desired: &Table, kernel: &Table, owned: &Owned) -> Vec<Op> {
    let mut ops = Vec::new();
    for key in kernel.services.keys() {
        if !desired.services.contains_key(key) && owned.owns_service(key) {
            ops.push(Op::DelService(*key));
        }
    }
    for (key, want) in &desired.services {
        let Some(have) = kernel.services.get(key) else {
            ops.push(Op::AddService(want.service.clone()));
            ops.extend(want.dests.values().map(|d| Op::AddDest(*key, d.clone())));
            continue;
        };
        if !have.service.same_settings(&want.service) {
            ops.push(Op::EditService(want.service.clone()));
        }
        for dk in have.dests.keys() {
            if !want.dests.contains_key(dk) && owned.owns_dest(key, dk) {
                ops.push(Op::DelDest(*key, *dk));
            }
        }
        for (dk, d) in &want.dests {
            match have.dests.get(dk) {
                None => ops.push(Op::AddDest(*key, d.clone())),
                Some(h) if h != d => ops.push(Op::EditDest(*key, d.clone())),
                Some(_) => {}
            }
        }
    }
    ops
}

/// Why the kernel would refuse an operation (as `apply` models it).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ApplyError {
    #[error("service {0} already exists")]
    ServiceExists(ServiceKey),
    #[error("no service {0}")]
    NoService(ServiceKey),
    #[error("destination {1} already exists in {0}")]
    DestExists(ServiceKey, DestKey),
    #[error("no destination {1} in {0}")]
    NoDest(ServiceKey, DestKey),
}

/// Applies one operation to a table the way the kernel does (EEXIST and ENOENT as
/// errors), so the daemon can keep its view of the kernel between dumps and tests can
/// check a plan without a kernel.
pub fn apply(op: &Op, table: &mut Table) -> Result<(), ApplyError> {
    match op {
        Op::AddService(s) => {
            if table.services.contains_key(&s.key) {
                return Err(ApplyError::ServiceExists(s.key));
            }
            table.add_service(s.clone());
        }
        Op::EditService(s) => {
            let e = table
                .services
                .get_mut(&s.key)
                .ok_or(ApplyError::NoService(s.key))?;
            e.service = edited(&e.service, s);
        }
        Op::DelService(k) => {
            table.services.remove(k).ok_or(ApplyError::NoService(*k))?;
        }
        Op::AddDest(k, d) => {
            let e = table.services.get_mut(k).ok_or(ApplyError::NoService(*k))?;
            if e.dests.contains_key(&d.key) {
                return Err(ApplyError::DestExists(*k, d.key));
            }
            e.dests.insert(d.key, d.clone());
        }
        Op::EditDest(k, d) => {
            let e = table.services.get_mut(k).ok_or(ApplyError::NoService(*k))?;
            let slot: &mut Destination = e
                .dests
                .get_mut(&d.key)
                .ok_or(ApplyError::NoDest(*k, d.key))?;
            *slot = d.clone();
        }
        Op::DelDest(k, dk) => {
            let e = table.services.get_mut(k).ok_or(ApplyError::NoService(*k))?;
            e.dests.remove(dk).ok_or(ApplyError::NoDest(*k, *dk))?;
        }
    }
    Ok(())
}

/// Applies a batch, one result per op, going on after a failure as the socket does.
pub fn apply_all(ops: &[Op], table: &mut Table) -> Vec<Result<(), ApplyError>> {
    ops.iter().map(|op| apply(op, table)).collect()
}

/// The service after an edit. The kernel keeps HASHED as it was; everything else is
/// replaced.
fn edited(old: &Service, new: &Service) -> Service {
    let mut s = new.clone();
    let hashed = crate::table::SchedFlags::HASHED;
    s.flags.0 = (s.flags.0 & !hashed) | (old.flags.0 & hashed);
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::table::{Forward, Protocol, SchedFlags};
    use proptest::prelude::*;
    use std::net::{IpAddr, Ipv4Addr};

    fn skey(n: u8) -> ServiceKey {
        ServiceKey::Addr {
            protocol: Protocol::Tcp,
            addr: IpAddr::V4(Ipv4Addr::new(10, 0, 0, n)),
            port: 80,
        }
    }

    fn dkey(n: u8) -> DestKey {
        DestKey {
            addr: IpAddr::V4(Ipv4Addr::new(10, 1, 0, n)),
            port: 80,
        }
    }

    fn svc(n: u8, sched: &str) -> Service {
        Service::new(skey(n), sched)
    }

    fn dst(n: u8, weight: u32) -> Destination {
        let k = dkey(n);
        Destination::new(k.addr, k.port, Forward::Masq, weight)
    }

    fn table(entries: &[(Service, &[Destination])]) -> Table {
        let mut t = Table::default();
        for (s, ds) in entries {
            let k = s.key;
            t.add_service(s.clone());
            for d in *ds {
                t.add_dest(&k, d.clone());
            }
        }
        t
    }

    #[test]
    fn equal_tables_need_nothing() {
        let t = table(&[(svc(1, "rr"), &[dst(1, 1), dst(2, 3)])]);
        assert!(reconcile(&t, &t, &Owned::all_of(&t)).is_empty());
        assert!(reconcile(&t, &t, &Owned::default()).is_empty());
    }

    #[test]
    fn new_service_is_added_before_its_destinations() {
        let want = table(&[(svc(1, "rr"), &[dst(1, 1)])]);
        let ops = reconcile(&want, &Table::default(), &Owned::default());
        assert_eq!(
            ops,
            [
                Op::AddService(svc(1, "rr")),
                Op::AddDest(skey(1), dst(1, 1))
            ]
        );
    }

    #[test]
    fn changed_settings_are_edits_not_replacements() {
        let have = table(&[(svc(1, "rr"), &[dst(1, 1), dst(2, 1)])]);
        let mut s = svc(1, "wlc");
        s.timeout = 50;
        s.flags = SchedFlags(SchedFlags::PERSISTENT);
        let want = table(&[(s.clone(), &[dst(1, 0), dst(2, 1)])]);
        let ops = reconcile(&want, &have, &Owned::all_of(&have));
        assert_eq!(ops, [Op::EditService(s), Op::EditDest(skey(1), dst(1, 0))]);
    }

    #[test]
    fn adopted_entries_are_removed_once_no_longer_wanted() {
        // Found at start, already right: no operation, but keepup's from now on.
        let have = table(&[(svc(1, "rr"), &[dst(1, 1)]), (svc(2, "rr"), &[dst(2, 1)])]);
        let want = table(&[(svc(1, "rr"), &[dst(1, 1)])]);
        let mut owned = Owned::default();
        assert!(reconcile(&want, &have, &owned).is_empty());
        assert!(owned.adopt(&want, &have));
        assert!(!owned.adopt(&want, &have), "nothing new the second time");
        assert!(owned.owns_dest(&skey(1), &dkey(1)));
        assert!(
            !owned.owns_service(&skey(2)),
            "a service keepup never wanted is not claimed"
        );
        assert_eq!(
            reconcile(&Table::default(), &have, &owned),
            [Op::DelService(skey(1))]
        );
    }

    #[test]
    fn kernel_hashed_flag_is_not_a_difference() {
        let mut k = svc(1, "rr");
        k.flags = SchedFlags(SchedFlags::HASHED);
        let have = table(&[(k, &[])]);
        let want = table(&[(svc(1, "rr"), &[])]);
        assert!(reconcile(&want, &have, &Owned::all_of(&have)).is_empty());
    }

    #[test]
    fn deleted_service_takes_its_destinations() {
        let have = table(&[(svc(1, "rr"), &[dst(1, 1), dst(2, 1)])]);
        let ops = reconcile(&Table::default(), &have, &Owned::all_of(&have));
        assert_eq!(ops, [Op::DelService(skey(1))]);
    }

    #[test]
    fn what_keepup_does_not_own_is_left_alone() {
        // A foreign service, and a hand-added destination in a service keepup wants.
        let have = table(&[
            (svc(1, "rr"), &[dst(1, 1), dst(9, 1)]),
            (svc(2, "rr"), &[dst(1, 1)]),
        ]);
        let want = table(&[(svc(1, "rr"), &[dst(1, 1)])]);
        let mut owned = Owned::default();
        owned.services.insert(skey(1));
        owned.dests.insert((skey(1), dkey(1)));
        assert!(reconcile(&want, &have, &owned).is_empty());
        // Once owned, the unwanted destination goes.
        owned.dests.insert((skey(1), dkey(9)));
        assert_eq!(
            reconcile(&want, &have, &owned),
            [Op::DelDest(skey(1), dkey(9))]
        );
    }

    #[test]
    fn wanted_service_found_unowned_is_adopted() {
        let have = table(&[(svc(1, "rr"), &[dst(1, 5)])]);
        let want = table(&[(svc(1, "wlc"), &[dst(1, 1)])]);
        let mut owned = Owned::default();
        let ops = reconcile(&want, &have, &owned);
        assert_eq!(
            ops,
            [
                Op::EditService(svc(1, "wlc")),
                Op::EditDest(skey(1), dst(1, 1))
            ]
        );
        let mut kernel = have.clone();
        let results = apply_all(&ops, &mut kernel);
        owned.record_results(&ops, &results);
        assert!(owned.owns_service(&skey(1)) && owned.owns_dest(&skey(1), &dkey(1)));
        // Later unwanted: now removed.
        assert_eq!(
            reconcile(&Table::default(), &kernel, &owned),
            [Op::DelService(skey(1))]
        );
    }

    #[test]
    fn restart_after_kill_removes_what_the_old_config_left() {
        // The killed keepup created service 1 and 2; its record was persisted.
        let have = table(&[(svc(1, "rr"), &[dst(1, 1)]), (svc(2, "rr"), &[dst(1, 1)])]);
        let owned = Owned::all_of(&have);
        let json = serde_json::to_string(&owned).expect("serialize");
        let back: Owned = serde_json::from_str(&json).expect("deserialize");
        assert_eq!(back, owned);
        let want = table(&[(svc(1, "rr"), &[dst(1, 1)])]);
        assert_eq!(reconcile(&want, &have, &back), [Op::DelService(skey(2))]);
    }

    #[test]
    fn failed_ops_are_not_recorded_and_prune_forgets_vanished_entries() {
        let ops = [
            Op::AddService(svc(1, "rr")),
            Op::AddDest(skey(1), dst(1, 1)),
        ];
        let mut owned = Owned::default();
        owned.record_results(&ops, &[Ok(()), Err(())]);
        assert!(owned.owns_service(&skey(1)));
        assert!(!owned.owns_dest(&skey(1), &dkey(1)));
        owned.prune(&Table::default());
        assert_eq!(owned, Owned::default());
    }

    #[test]
    fn apply_refuses_like_the_kernel() {
        let mut t = table(&[(svc(1, "rr"), &[dst(1, 1)])]);
        assert_eq!(
            apply(&Op::AddService(svc(1, "rr")), &mut t),
            Err(ApplyError::ServiceExists(skey(1)))
        );
        assert_eq!(
            apply(&Op::AddDest(skey(2), dst(1, 1)), &mut t),
            Err(ApplyError::NoService(skey(2)))
        );
        assert_eq!(
            apply(&Op::EditDest(skey(1), dst(2, 1)), &mut t),
            Err(ApplyError::NoDest(skey(1), dkey(2)))
        );
        assert_eq!(
            apply(&Op::AddDest(skey(1), dst(1, 1)), &mut t),
            Err(ApplyError::DestExists(skey(1), dkey(1)))
        );
        assert_eq!(apply(&Op::DelService(skey(1)), &mut t), Ok(()));
        assert!(t.services.is_empty());
    }

    // ---- properties

    fn arb_service(n: u8) -> impl Strategy<Value = Service> {
        (
            prop::sample::select(vec!["rr", "wlc"]),
            0u32..2,
            any::<bool>(),
        )
            .prop_map(move |(sched, timeout, hashed)| {
                let mut s = svc(n, sched);
                s.timeout = timeout;
                if hashed {
                    s.flags.0 |= SchedFlags::HASHED;
                }
                s
            })
    }

    fn arb_table() -> impl Strategy<Value = Table> {
        prop::collection::btree_map(
            0u8..5,
            prop::collection::btree_map(0u8..4, 0u32..3, 0..4),
            0..5,
        )
        .prop_flat_map(|m| {
            let parts: Vec<_> = m
                .into_iter()
                .map(|(n, ds)| (arb_service(n), Just(ds)))
                .collect();
            parts.prop_map(|parts| {
                let mut t = Table::default();
                for (s, ds) in parts {
                    let k = s.key;
                    t.add_service(s);
                    for (d, w) in ds {
                        t.add_dest(&k, dst(d, w));
                    }
                }
                t
            })
        })
    }

    /// A random part of what is in `kernel`.
    fn arb_owned(kernel: &Table) -> impl Strategy<Value = Owned> {
        let all = Owned::all_of(kernel);
        let s: Vec<_> = all.services.into_iter().collect();
        let d: Vec<_> = all.dests.into_iter().collect();
        (
            prop::sample::subsequence(s.clone(), 0..=s.len()),
            prop::sample::subsequence(d.clone(), 0..=d.len()),
        )
            .prop_map(|(s, d)| Owned {
                services: s.into_iter().collect(),
                dests: d.into_iter().collect(),
            })
    }

    fn case() -> impl Strategy<Value = (Table, Table, Owned)> {
        (arb_table(), arb_table()).prop_flat_map(|(want, have)| {
            let o = arb_owned(&have);
            (Just(want), Just(have), o)
        })
    }

    proptest! {
        #[test]
        fn applying_the_plan_gives_the_wanted_table_and_spares_the_rest(
            (want, have, owned) in case()
        ) {
            let ops = reconcile(&want, &have, &owned);
            let mut kernel = have.clone();
            let results = apply_all(&ops, &mut kernel);
            prop_assert!(results.iter().all(|r| r.is_ok()), "{:?}", results);

            for (k, w) in &want.services {
                let got = kernel.services.get(k).expect("wanted service present");
                prop_assert!(got.service.same_settings(&w.service));
                for (dk, d) in &w.dests {
                    prop_assert_eq!(got.dests.get(dk), Some(d));
                }
                // Unwanted destinations remain exactly when keepup does not own them.
                let before = have.services.get(k);
                for (dk, d) in &got.dests {
                    if !w.dests.contains_key(dk) {
                        prop_assert!(!owned.owns_dest(k, dk));
                        prop_assert_eq!(before.and_then(|b| b.dests.get(dk)), Some(d));
                    }
                }
                if let Some(b) = before {
                    for dk in b.dests.keys() {
                        if !w.dests.contains_key(dk) && !owned.owns_dest(k, dk) {
                            prop_assert!(got.dests.contains_key(dk));
                        }
                    }
                }
            }
            for (k, h) in &have.services {
                if want.services.contains_key(k) {
                    continue;
                }
                if owned.owns_service(k) {
                    prop_assert!(!kernel.services.contains_key(k));
                } else {
                    prop_assert_eq!(kernel.services.get(k), Some(h));
                }
            }
            // Nothing appears that was neither wanted nor there.
            for k in kernel.services.keys() {
                prop_assert!(want.services.contains_key(k) || have.services.contains_key(k));
            }
        }

        #[test]
        fn reconciling_again_needs_nothing((want, have, owned) in case()) {
            let ops = reconcile(&want, &have, &owned);
            let mut kernel = have.clone();
            let results = apply_all(&ops, &mut kernel);
            let mut owned = owned;
            owned.record_results(&ops, &results);
            prop_assert_eq!(reconcile(&want, &kernel, &owned), vec![]);
            // The record survives a restart.
            let json = serde_json::to_string(&owned).expect("serialize");
            let back: Owned = serde_json::from_str(&json).expect("deserialize");
            prop_assert_eq!(reconcile(&want, &kernel, &back), vec![]);
        }

        #[test]
        fn no_op_touches_what_is_already_right((want, have, owned) in case()) {
            let ops = reconcile(&want, &have, &owned);
            let deleted: BTreeSet<ServiceKey> = ops
                .iter()
                .filter_map(|o| match o { Op::DelService(k) => Some(*k), _ => None })
                .collect();
            for op in &ops {
                match op {
                    Op::AddService(s) => prop_assert!(!have.services.contains_key(&s.key)),
                    Op::EditService(s) => {
                        let h = &have.services[&s.key].service;
                        prop_assert!(!h.same_settings(s));
                    }
                    Op::DelService(k) => prop_assert!(owned.owns_service(k)),
                    Op::AddDest(k, d) => prop_assert!(have
                        .services
                        .get(k)
                        .is_none_or(|e| !e.dests.contains_key(&d.key))),
                    Op::EditDest(k, d) => prop_assert_ne!(have.services[k].dests.get(&d.key), Some(d)),
                    Op::DelDest(k, dk) => {
                        prop_assert!(!deleted.contains(k));
                        prop_assert!(owned.owns_dest(k, dk));
                    }
                }
            }
        }
    }
}
