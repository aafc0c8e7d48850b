//! `bfd_instance` blocks (RFC 5880 sessions).
use crate::model::Secs;
use crate::source::Span;
use serde::Serialize;
use std::net::IpAddr;

/// `bfd_instance NAME { ... }`. Field names are keepalived's keywords; defaults are its.
#[derive(Debug, Clone, Serialize)]
pub struct BfdInstance {
    pub name: String,
    /// `neighbor_ip` (or `neighbour_ip`); required.
    pub neighbor_ip: Option<IpAddr>,
    pub source_ip: Option<IpAddr>,
    /// `min_rx` in ms with microsecond resolution (default 10 ms).
    pub min_rx: Secs,
    /// `min_tx` (default 10 ms).
    pub min_tx: Secs,
    /// `idle_tx` (default 1000 ms).
    pub idle_tx: Secs,
    /// `multiplier` (default 5).
    pub multiplier: u8,
    pub passive: bool,
    /// `ttl` for IPv4 (default 255).
    pub ttl: u8,
    /// `hoplimit` for IPv6 (default 64).
    pub hoplimit: u8,
    /// `max_hops` (-1..255; default 0; 255 disables the hop check).
    pub max_hops: i16,
    /// `weight` (-253..253, default 0).
    pub weight: i32,
    /// `weight N reverse`.
    pub weight_reverse: bool,
    /// `vrrp`: send events only to the VRRP process.
    pub vrrp: bool,
    /// `checker`: send events only to the checker process.
    pub checker: bool,
    /// `multihop` (newer keepalived): use port 4784 (RFC 5883).
    pub multihop: bool,
    #[serde(skip)]
    pub span: Span,
}

impl Default for BfdInstance {
    fn default() -> Self {
        BfdInstance {
            name: String::new(),
            neighbor_ip: None,
            source_ip: None,
            min_rx: Secs::from_millis(10),
            min_tx: Secs::from_millis(10),
            idle_tx: Secs::from_millis(1000),
            multiplier: 5,
            passive: false,
            ttl: 255,
            hoplimit: 64,
            max_hops: 0,
            weight: 0,
            weight_reverse: false,
            vrrp: false,
            checker: false,
            multihop: false,
            span: Span::default(),
        }
    }
}
