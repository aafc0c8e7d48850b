//! Trackers: `vrrp_script`, `track_file` / `vrrp_track_file`, `vrrp_track_process`.
use crate::model::{Script, Secs};
use crate::source::Span;
use serde::Serialize;

/// `vrrp_script NAME { ... }`.
#[derive(Debug, Clone, Serialize)]
pub struct VrrpScript {
    pub name: String,
    /// `script`; `None` if missing (keepalived then drops the vrrp_script).
    /// `user USER [GROUP]` fills the user and group.
    pub script: Option<Script>,
    /// `interval` (default 1 s, 1..4294 whole seconds).
    pub interval: Secs,
    /// `timeout` (default: none, keepalived then uses the interval).
    pub timeout: Option<Secs>,
    /// `weight` (default 0: failure means FAULT), -253..253.
    pub weight: i32,
    /// `weight N reverse`.
    pub weight_reverse: bool,
    /// `rise` (default 1).
    pub rise: u32,
    /// `fall` (default 1).
    pub fall: u32,
    /// `init_fail`: start in the failed state.
    pub init_fail: bool,
    #[serde(skip)]
    pub span: Span,
}

impl Default for VrrpScript {
    fn default() -> Self {
        VrrpScript {
            name: String::new(),
            script: None,
            interval: Secs::from_secs(1),
            timeout: None,
            weight: 0,
            weight_reverse: false,
            rise: 1,
            fall: 1,
            init_fail: false,
            span: Span::default(),
        }
    }
}

/// `track_file NAME { ... }` (also `vrrp_track_file`).
#[derive(Debug, Clone, Serialize)]
pub struct TrackFile {
    pub name: String,
    /// `file PATH`; `None` if missing (keepalived then ignores the track_file).
    pub file: Option<String>,
    /// `weight` (default 1), -254..254.
    pub weight: i32,
    pub weight_reverse: bool,
    /// `init_file [VALUE] [overwrite]`: the value to write at start-up.
    pub init_file: Option<i64>,
    /// `init_file ... overwrite`: write even if the file exists.
    pub init_file_overwrite: bool,
    #[serde(skip)]
    pub span: Span,
}

impl TrackFile {
    /// The value a tracked file holds, as keepalived reads it: a leading integer
    /// (sign allowed, spaces before it skipped), 0 when there is none.
    pub fn value_of(text: &str) -> i64 {
        let t = text.trim_start();
        let (neg, digits) = match t.as_bytes().first() {
            Some(b'-') => (true, &t[1..]),
            Some(b'+') => (false, &t[1..]),
            _ => (false, t),
        };
        let end = digits
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(digits.len());
        let v: i64 = digits[..end].parse().unwrap_or(0);
        if neg {
            -v
        } else {
            v
        }
    }
}

impl Default for TrackFile {
    fn default() -> Self {
        TrackFile {
            name: String::new(),
            file: None,
            weight: 1,
            weight_reverse: false,
            init_file: None,
            init_file_overwrite: false,
            span: Span::default(),
        }
    }
}

/// `param_match initial|partial`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ParamMatch {
    /// Parameters must match exactly (the default when parameters are given).
    Full,
    Initial,
    Partial,
}

/// `vrrp_track_process NAME { ... }`.
#[derive(Debug, Clone, Serialize)]
pub struct TrackProcess {
    pub name: String,
    /// `process NAME [PARAM ...]`: the name and its parameters, as words.
    /// Empty if missing (keepalived then drops the track process).
    pub process: Vec<String>,
    /// `param_match`; `None`: exact when parameters are given, name only otherwise.
    pub param_match: Option<ParamMatch>,
    /// `weight` (default 0 in keepalived 2.2.7's code), -254..254.
    pub weight: i32,
    pub weight_reverse: bool,
    /// `quorum` (default 1), 1..65535.
    pub quorum: u32,
    /// `quorum_max` (default unlimited), 0..65535.
    pub quorum_max: Option<u32>,
    /// `terminate_delay` (set by `delay` too).
    pub terminate_delay: Option<Secs>,
    /// `fork_delay` (set by `delay` too).
    pub fork_delay: Option<Secs>,
    /// `full_command`: match /proc/PID/cmdline rather than the process name.
    pub full_command: bool,
    #[serde(skip)]
    pub span: Span,
}

impl Default for TrackProcess {
    fn default() -> Self {
        TrackProcess {
            name: String::new(),
            process: Vec::new(),
            param_match: None,
            weight: 0,
            weight_reverse: false,
            quorum: 1,
            quorum_max: None,
            terminate_delay: None,
            fork_delay: None,
            full_command: false,
            span: Span::default(),
        }
    }
}
