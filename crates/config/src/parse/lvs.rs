//! STUB: to be written.
use super::Ctx;
use crate::model::Config;
use crate::tree::Stmt;

pub fn virtual_server_group(_c: &mut Config, _s: &Stmt, _cx: &mut Ctx) {}
pub fn virtual_server(_c: &mut Config, _s: &Stmt, _cx: &mut Ctx) {}
pub fn validate(_c: &mut Config, _cx: &mut Ctx) {}
