//! Trackers: `vrrp_script`, `track_file` / `vrrp_track_file`, `vrrp_track_process`.
use crate::model::Script;
use crate::source::Span;
use serde::Serialize;

#[derive(Debug, Clone, Default, Serialize)]
pub struct VrrpScript {
    pub name: String,
    /// `script`; `None` if missing (keepalived then drops the vrrp_script).
    pub script: Option<Script>,
    /// `weight` (default 0: failure means FAULT).
    pub weight: i32,
    #[serde(skip)]
    pub span: Span,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct TrackFile {
    pub name: String,
    #[serde(skip)]
    pub span: Span,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct TrackProcess {
    pub name: String,
    #[serde(skip)]
    pub span: Span,
}
