//! `virtual_server_group`, `virtual_server`, `real_server` and the checkers.
use serde::Serialize;

#[derive(Debug, Clone, Default, Serialize)]
pub struct VirtualServerGroup {
    pub name: String,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct VirtualServer {}
