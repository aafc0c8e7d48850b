//! `global_defs` and the other global blocks.
use serde::Serialize;

#[derive(Debug, Clone, Default, Serialize)]
pub struct GlobalDefs {}

#[derive(Debug, Clone, Default, Serialize)]
pub struct LinkbeatInterface {
    pub name: String,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct TrackGroup {
    pub name: String,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct InterfaceDelay {
    pub interface: String,
}
