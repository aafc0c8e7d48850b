//! keepup-lvs: virtual servers in the kernel's IPVS, decided in pure code.
//!
//! - [`table`]: the IPVS table as data: services (address, port and protocol, or
//!   firewall mark), their scheduler and flags, persistence, and their destinations with
//!   forwarding method, weight and thresholds. The same types describe what keepup wants
//!   and what the kernel holds.
//!
//! This crate never touches the kernel: the socket lives in keepup-sys, the loop that
//! applies operations in the daemon.

pub mod genl;
pub mod table;

pub use table::{
    DestKey, Destination, Entry, Family, Forward, Op, Protocol, SchedFlags, Service, ServiceKey,
    Table, TunnelType,
};
