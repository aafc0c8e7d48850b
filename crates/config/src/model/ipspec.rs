//! Addresses, routes and rules, in the syntax shared by `virtual_ipaddress`,
//! `virtual_routes`, `virtual_rules` and the `static_*` blocks.
use crate::source::Span;
use serde::Serialize;
use std::net::{IpAddr, Ipv4Addr};

/// One address line: `ADDR[/LEN] [brd ...] [dev IF] [scope ...] [label ...] ...`.
#[derive(Debug, Clone, Serialize)]
pub struct VirtualAddress {
    pub address: IpAddr,
    pub prefix_len: u8,
    /// `dev`; `None` means the instance's interface (or `default_interface` for static ones).
    pub dev: Option<String>,
    #[serde(skip)]
    pub span: Span,
}

impl Default for VirtualAddress {
    fn default() -> Self {
        VirtualAddress {
            address: IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            prefix_len: 32,
            dev: None,
            span: Span::default(),
        }
    }
}

/// One route line, as `ip route add` takes it.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Route {
    /// `dev` (top-level, not inside a nexthop).
    pub dev: Option<String>,
    #[serde(skip)]
    pub span: Span,
}

/// One rule line, as `ip rule add` takes it.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Rule {
    #[serde(skip)]
    pub span: Span,
}
