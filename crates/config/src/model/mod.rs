//! The typed configuration model: plain data, serde-serialisable, with keepalived's
//! keyword names as field names so a user can grep from their config to the code.
//! Defaults are filled in as keepalived fills them.

pub mod bfd;
pub mod global;
pub mod ipspec;
pub mod lvs;
pub mod track;
pub mod vrrp;

use serde::{Serialize, Serializer};

pub use bfd::BfdInstance;
pub use global::{GlobalDefs, InterfaceDelay, LinkbeatInterface, TrackGroup};
pub use ipspec::{Route, Rule, VirtualAddress};
pub use lvs::{VirtualServer, VirtualServerGroup};
pub use track::{TrackFile, TrackProcess, VrrpScript};
pub use vrrp::{GarpGroup, SyncGroup, VrrpInstance};

/// The whole configuration, in file order within each kind.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Config {
    pub global_defs: GlobalDefs,
    pub linkbeat_interfaces: Vec<LinkbeatInterface>,
    pub track_groups: Vec<TrackGroup>,
    pub interface_up_down_delays: Vec<InterfaceDelay>,
    pub static_ipaddress: Vec<VirtualAddress>,
    pub static_routes: Vec<Route>,
    pub static_rules: Vec<Rule>,
    pub track_files: Vec<TrackFile>,
    pub track_processes: Vec<TrackProcess>,
    pub bfd_instances: Vec<BfdInstance>,
    pub vrrp_scripts: Vec<VrrpScript>,
    pub vrrp_sync_groups: Vec<SyncGroup>,
    pub garp_groups: Vec<GarpGroup>,
    pub vrrp_instances: Vec<VrrpInstance>,
    pub virtual_server_groups: Vec<VirtualServerGroup>,
    pub virtual_servers: Vec<VirtualServer>,
    /// The `SSL` block (SSL_GET's client settings); the last one when repeated.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ssl: Option<lvs::Ssl>,
}

/// A duration from a `<TIMER>` value: seconds with microsecond resolution.
/// Serialised as seconds (a number), as the operator wrote it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Secs {
    pub micros: u64,
}

impl Secs {
    pub const fn from_secs(s: u64) -> Self {
        Secs {
            micros: s * 1_000_000,
        }
    }
    pub const fn from_millis(ms: u64) -> Self {
        Secs { micros: ms * 1_000 }
    }
    pub fn from_secs_f64(s: f64) -> Self {
        Secs {
            micros: (s * 1_000_000.0).round() as u64,
        }
    }
    pub fn as_secs_f64(self) -> f64 {
        self.micros as f64 / 1_000_000.0
    }
}

impl Serialize for Secs {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_f64(self.as_secs_f64())
    }
}

/// A script to run: the command line as written, and the user/group to run it as.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Script {
    pub command: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    /// Where it was configured (the keyword).
    #[serde(skip)]
    pub span: crate::source::Span,
}

impl PartialEq for Script {
    /// Every field but the source position (reload compares models read at
    /// different times).
    fn eq(&self, o: &Self) -> bool {
        let Script {
            command,
            user,
            group,
            span: _,
        } = self;
        *command == o.command && *user == o.user && *group == o.group
    }
}

impl Eq for Script {}
