//! The keepup daemon: the runtime that drives the engine on Linux.
pub mod checkers;
pub mod control;
pub mod demo;
pub mod dumps;
pub mod logging;
pub mod lvs;
pub mod metrics;
pub mod notify;
pub mod ownership;
pub mod plan;
pub mod run;
pub mod smtp;
pub mod state;
pub mod status;
pub mod syncd;
pub mod systemd;
pub mod track;
