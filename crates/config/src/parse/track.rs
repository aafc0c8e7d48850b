//! STUB: to be written.
use super::Ctx;
use crate::model::Config;
use crate::tree::Stmt;

pub fn track_file(_c: &mut Config, _s: &Stmt, _cx: &mut Ctx) {}
pub fn track_process(_c: &mut Config, _s: &Stmt, _cx: &mut Ctx) {}
pub fn vrrp_script(_c: &mut Config, _s: &Stmt, _cx: &mut Ctx) {}
pub fn validate(_c: &Config, _cx: &mut Ctx) {}
