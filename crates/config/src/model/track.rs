//! Trackers: `vrrp_script`, `track_file` / `vrrp_track_file`, `vrrp_track_process`.
use serde::Serialize;

#[derive(Debug, Clone, Default, Serialize)]
pub struct VrrpScript {
    pub name: String,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct TrackFile {
    pub name: String,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct TrackProcess {
    pub name: String,
}
