//! Addresses, routes and rules, in the syntax shared by `virtual_ipaddress`,
//! `virtual_routes`, `virtual_rules` and the `static_*` blocks.
use serde::Serialize;

#[derive(Debug, Clone, Default, Serialize)]
pub struct VirtualAddress {}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Route {}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Rule {}
