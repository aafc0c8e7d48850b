//! STUB: to be written.
use super::Ctx;
use crate::model::Config;
use crate::tree::Stmt;

pub fn sync_group(_c: &mut Config, _s: &Stmt, _cx: &mut Ctx) {}
pub fn garp_group(_c: &mut Config, _s: &Stmt, _cx: &mut Ctx) {}
pub fn vrrp_instance(_c: &mut Config, _s: &Stmt, _cx: &mut Ctx) {}
pub fn validate(_c: &mut Config, _cx: &mut Ctx) {}
