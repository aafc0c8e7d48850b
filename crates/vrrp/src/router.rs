//! The host's virtual routers and sync groups, and the driver-facing API.
use crate::config::{InstanceConfig, SyncGroupConfig};
use crate::counters::{Counters, GlobalCounters};
use crate::time::Instant;
use crate::{Input, InstanceId, Output, State};

/// A configuration the engine cannot run.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    #[error("{instance}: {problem}")]
    Instance { instance: String, problem: String },
    #[error("sync group {group}: {problem}")]
    SyncGroup { group: String, problem: String },
}

/// Every virtual router of one host.
#[derive(Debug)]
pub struct Router {
    _todo: (),
}

impl Router {
    /// Check the configuration and build the routers, all in Initialize.
    pub fn new(
        instances: Vec<InstanceConfig>,
        groups: Vec<SyncGroupConfig>,
    ) -> Result<Router, ConfigError> {
        let _ = (instances, groups);
        todo!("engine")
    }
    /// Feed one input at `now`.
    pub fn handle(&mut self, now: Instant, input: Input<'_>) {
        let _ = (now, input);
        todo!()
    }
    /// Fire every timer due at or before `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        let _ = now;
        todo!()
    }
    /// The earliest deadline of any timer, if one is armed.
    pub fn poll_timeout(&self) -> Option<Instant> {
        todo!()
    }
    /// The next thing to do, in order.
    pub fn poll_output(&mut self) -> Option<Output> {
        todo!()
    }
    pub fn instance_count(&self) -> usize {
        todo!()
    }
    pub fn find(&self, name: &str) -> Option<InstanceId> {
        let _ = name;
        todo!()
    }
    pub fn config(&self, id: InstanceId) -> &InstanceConfig {
        let _ = id;
        todo!()
    }
    pub fn state(&self, id: InstanceId) -> State {
        let _ = id;
        todo!()
    }
    /// Priority after tracking weights (what adverts carry).
    pub fn effective_priority(&self, id: InstanceId) -> u8 {
        let _ = id;
        todo!()
    }
    /// The Master's address as last heard (Backup), or our own (Master).
    pub fn master_address(&self, id: InstanceId) -> Option<std::net::IpAddr> {
        let _ = id;
        todo!()
    }
    pub fn counters(&self, id: InstanceId) -> &Counters {
        let _ = id;
        todo!()
    }
    pub fn global_counters(&self) -> &GlobalCounters {
        todo!()
    }
}
