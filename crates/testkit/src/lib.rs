//! keepup-testkit: test tools for keepup.
//!
//! - [`Sim`]: a multi-router VRRP simulator on virtual time. N `keepup_vrrp::Router`s
//!   on M virtual LANs with delay, loss, duplication and partitions drawn from a
//!   seeded PRNG; crash, restart, shutdown, link and tracker actions; a transcript
//!   (`t=3.610 r2 VRID 51 BACKUP->MASTER reason=master-down`) to snapshot.
//! - [`campaign`]: random fault schedules over 3-5 routers run on the simulator and
//!   checked against VRRP's invariants; a failing one is shrunk to a transcript
//!   (`examples/campaign.rs` runs thousands; `tests/campaign.rs` a short form).
//! - [`cfg`]: short instance configurations and the RFC timer formulas as oracles.
//! - [`lab`]: the network-namespace lab (root): hosts on bridged LANs in their own
//!   namespaces, processes, tcpdump captures with a pcap reader, and real keepalived
//!   2.2.7 as an interop peer. Everything it makes is removed when it is dropped.
//!
//! ```no_run
//! use keepup_testkit::{cfg::*, Action, Sim};
//! let mut sim = Sim::new(7);
//! let lan = sim.lan();
//! let r1 = sim.router(lan, v2(51, 200));
//! let _r2 = sim.router(lan, v2(51, 100));
//! sim.at(secs(5.0), Action::Crash(r1));
//! sim.run_until(secs(20.0));
//! println!("{}", sim.transcript());
//! ```

pub mod campaign;
pub mod cfg;
pub mod lab;
pub mod peek;
pub mod rng;
pub mod sim;
pub mod vm;

pub use lab::{Capture, Host, Keepalived, Lab, Lan, Proc};
pub use rng::SplitMix64;
pub use sim::{
    Action, AdvertRecord, EventRecord, HeardRecord, LanId, LanParams, LinkParams, RouterId,
    RouterSpec, Sim, SuspendClock, TransitionRecord,
};
