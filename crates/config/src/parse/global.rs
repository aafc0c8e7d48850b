//! STUB: to be written.
use super::Ctx;
use crate::model::Config;
use crate::tree::Stmt;

pub fn global_defs(_c: &mut Config, _s: &Stmt, _cx: &mut Ctx) {}
pub fn net_namespace(_c: &mut Config, _s: &Stmt, _cx: &mut Ctx) {}
pub fn net_namespace_ipvs(_c: &mut Config, _s: &Stmt, _cx: &mut Ctx) {}
pub fn namespace_with_ipsets(_c: &mut Config, _s: &Stmt, _cx: &mut Ctx) {}
pub fn instance(_c: &mut Config, _s: &Stmt, _cx: &mut Ctx) {}
pub fn use_pid_dir(_c: &mut Config, _s: &Stmt, _cx: &mut Ctx) {}
pub fn linkbeat_use_polling(_c: &mut Config, _s: &Stmt, _cx: &mut Ctx) {}
pub fn child_wait_time(_c: &mut Config, _s: &Stmt, _cx: &mut Ctx) {}
pub fn linkbeat_interfaces(_c: &mut Config, _s: &Stmt, _cx: &mut Ctx) {}
pub fn track_group(_c: &mut Config, _s: &Stmt, _cx: &mut Ctx) {}
pub fn interface_up_down_delays(_c: &mut Config, _s: &Stmt, _cx: &mut Ctx) {}
pub fn validate(_c: &Config, _cx: &mut Ctx) {}
