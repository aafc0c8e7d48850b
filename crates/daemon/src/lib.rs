//! The keepup daemon: the runtime that drives the engine on Linux.
pub mod plan;
