//! STUB: to be written.
use super::Ctx;
use crate::model::Config;
use crate::tree::Stmt;

use crate::model::{Route, Rule, VirtualAddress};
pub fn static_ipaddress(_c: &mut Config, _s: &Stmt, _cx: &mut Ctx) {}
pub fn static_routes(_c: &mut Config, _s: &Stmt, _cx: &mut Ctx) {}
pub fn static_rules(_c: &mut Config, _s: &Stmt, _cx: &mut Ctx) {}
/// One line of `virtual_ipaddress` / `virtual_ipaddress_excluded` / `static_ipaddress`.
pub fn vip(_s: &Stmt, _cx: &mut Ctx) -> Option<VirtualAddress> {
    None
}
/// One line of `virtual_routes` / `static_routes`.
pub fn route(_s: &Stmt, _cx: &mut Ctx) -> Option<Route> {
    None
}
/// One line of `virtual_rules` / `static_rules`.
pub fn rule(_s: &Stmt, _cx: &mut Ctx) -> Option<Rule> {
    None
}
