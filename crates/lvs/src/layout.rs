//! The table's shape for one configuration, made once: every service, and every
//! destination each pool member may put in each service. [`Layout::desired`] then
//! gives what [`desired`](crate::desired()) gives for the same pools, from the
//! layout alone, so the daemon need not keep the configuration (tens of thousands of
//! real servers, their checkers and scripts) for as long as it runs: a layout holds a
//! few dozen bytes per destination.
use std::collections::{BTreeMap, HashMap};

use keepup_config::model::Config;

use crate::desired::{build, Builder, Template};
use crate::{Desired, Marks, Member, NftIpvs, Pools, Problem, ServiceKey, Table};

#[derive(Debug, Clone, Default)]
pub struct Layout {
    /// Every service, without destinations.
    services: Table,
    origins: BTreeMap<ServiceKey, usize>,
    /// What the configuration itself gives to say (not the pools).
    problems: Vec<Problem>,
    /// In building order: virtual servers, then their services, then their members.
    templates: Vec<Template>,
    /// Per virtual server: how many real servers, and whether it has a sorry server.
    members: Vec<(usize, bool)>,
    /// With `nftables_ipvs`: the nftables table and the marks given (they depend on the
    /// configuration only).
    nft: Option<NftIpvs>,
    marks: Marks,
}

impl Layout {
    pub fn new(config: &Config) -> Layout {
        Layout::with_marks(config, Some(&Marks::default()))
    }

    /// The layout after a reload, or without nftables: `marks` as in
    /// [`desired_with`](crate::desired_with).
    pub fn with_marks(config: &Config, marks: Option<&Marks>) -> Layout {
        // Every member of every pool, in the order the checkers' pools list them.
        let every: Pools = config
            .virtual_servers
            .iter()
            .enumerate()
            .map(|(i, v)| {
                let real = (0..v.real_servers.len()).map(|r| (Member::Real(r), 0));
                let sorry = v.sorry_server.iter().map(|_| (Member::Sorry, 0));
                (i, real.chain(sorry).collect())
            })
            .collect();
        let mut b = build(config, &every, true, marks);
        if let Some(t) = &mut b.templates {
            t.shrink_to_fit();
        }
        let next = b.next_mark_given();
        let mut services = b.table;
        for e in services.services.values_mut() {
            e.dests.clear();
        }
        Layout {
            services,
            origins: b.service_owner,
            problems: b.problems,
            templates: b.templates.unwrap_or_default(),
            nft: b.nft,
            marks: Marks {
                next,
                given: b.marks,
            },
            members: config
                .virtual_servers
                .iter()
                .map(|v| (v.real_servers.len(), v.sorry_server.is_some()))
                .collect(),
        }
    }

    /// The table for these pools (members in the checkers' order: real servers by
    /// index, then the sorry server), as [`desired`](crate::desired()) makes it.
    /// The problems are the configuration's, and the pools' own.
    pub fn desired(&self, pools: &Pools) -> Desired {
        let mut b = Builder {
            table: self.services.clone(),
            problems: self.problems.clone(),
            service_owner: self.origins.clone(),
            ..Builder::default()
        };
        let mut weights: HashMap<(usize, Member), u32> = HashMap::new();
        for (&vs, pool) in pools {
            let Some(&(reals, sorry)) = self.members.get(vs) else {
                b.problems.push(Problem::UnknownVirtualServer { vs });
                continue;
            };
            for &(m, w) in pool {
                match m {
                    Member::Real(rs) if rs >= reals => {
                        b.problems.push(Problem::UnknownRealServer { vs, rs });
                        continue;
                    }
                    Member::Sorry if !sorry => {
                        b.problems.push(Problem::NoSorryServer { vs });
                        continue;
                    }
                    _ => {}
                }
                // The same member twice: the higher weight, as the builder keeps.
                let e = weights.entry((vs, m)).or_insert(w);
                *e = (*e).max(w);
            }
        }
        for t in &self.templates {
            if let Some(&weight) = weights.get(&(t.vs, t.member)) {
                let mut dest = t.dest.clone();
                dest.weight = weight;
                b.place(t.vs, t.service, dest);
            }
        }
        Desired {
            table: b.table,
            problems: b.problems,
            origins: b.service_owner,
            nft: self.nft.clone(),
            marks: self.marks.clone(),
        }
    }

    /// With `nftables_ipvs`: the nftables table the groups' marks need.
    pub fn nft(&self) -> Option<&NftIpvs> {
        self.nft.as_ref()
    }

    /// The marks given, to keep at the next reload ([`Layout::with_marks`]).
    pub fn marks(&self) -> &Marks {
        &self.marks
    }

    /// How many virtual servers the configuration has.
    pub fn virtual_servers(&self) -> usize {
        self.members.len()
    }
}

#[cfg(test)]
mod tests;
