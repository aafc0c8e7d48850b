//! STUB: to be written.
use super::Ctx;
use crate::model::Config;
use crate::tree::Stmt;

pub fn bfd_instance(_c: &mut Config, _s: &Stmt, _cx: &mut Ctx) {}
pub fn validate(_c: &Config, _cx: &mut Ctx) {}
