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
//!   the new configuration no longer wants. Without that file (or with
//!   `lvs_flush`), [`Owned::all_of`] claims the whole kernel table.
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
    /// Claims every service and destination of `table` (no record, or `lvs_flush`).
    pub fn all_of(table: &Table) -> Owned {
        let mut o = Owned::default();
        for (k, e) in &table.services {
            o.services.insert(*k);
            for d in e.dests.keys() {
                o.dests.insert((*k, *d));
            }
        }
        o
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
