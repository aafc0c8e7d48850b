//! keepup-lvs: virtual servers in the kernel's IPVS, decided in pure code.
//!
//! - [`table`]: the IPVS table as data: services (address, port and protocol, or
//!   firewall mark), their scheduler and flags, persistence, and their destinations with
//!   forwarding method, weight and thresholds. The same types describe what keepup wants
//!   and what the kernel holds.
//! - [`desired`]: the table keepup wants, from the configuration and the checkers'
//!   pools, with what keepalived would refuse or ignore reported beside it.
//! - [`layout`]: the same table from a layout made once per configuration, so the
//!   daemon keeps the layout rather than the configuration.
//! - [`nft`]: with `nftables_ipvs`, the nftables table that marks the virtual server
//!   groups' traffic for their fwmark services, and its `nft -f` script.
//! - [`genl`]: the IPVS generic-netlink messages, encoded and decoded as values.
//! - [`reconcile`]: the fewest operations from the kernel's table to the wanted one,
//!   touching only what keepup owns; [`reconcile::apply`] plays them on a table.
//!
//! This crate never touches the kernel: the socket lives in keepup-sys, the loop that
//! applies operations in the daemon.

pub mod desired;
pub mod genl;
pub mod layout;
pub mod nft;
pub mod reconcile;
pub mod render;
pub mod table;

pub use desired::{desired, desired_with, Desired, Marks, Member, Named, Pools, Problem};
pub use layout::Layout;
pub use nft::NftIpvs;
pub use reconcile::{apply, apply_all, reconcile, ApplyError, Owned};
pub use table::{
    DestKey, Destination, Entry, Family, Forward, Op, Protocol, SchedFlags, Service, ServiceKey,
    Table, TunnelType,
};
