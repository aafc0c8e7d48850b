//! `vrrp_instance`, `vrrp_sync_group`, `garp_group`.
use serde::Serialize;

#[derive(Debug, Clone, Default, Serialize)]
pub struct VrrpInstance {
    pub name: String,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct SyncGroup {
    pub name: String,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct GarpGroup {}
