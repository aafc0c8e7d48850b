//! Health checkers for the real servers of `virtual_server` blocks, sans-IO.
//!
//! [`sched`] owns every checker's timers and state machines (keepalived's `retry`,
//! `delay_before_retry`, `delay_loop`, `warmup`, `alpha`), each real server's alive
//! state and weight, each virtual server's quorum and sorry server; its outputs are
//! decisions, never kernel calls. [`proto`] holds the pure protocol logic the probes
//! use: the HTTP request and response check with keepalived's MD5 digest, the SMTP
//! dialog, the DNS query and answer, the UDP reply match.
pub mod plan;
pub mod probe;
pub mod proto;
pub mod sched;
pub mod words;
