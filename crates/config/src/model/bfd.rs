//! `bfd_instance` blocks.
use serde::Serialize;

#[derive(Debug, Clone, Default, Serialize)]
pub struct BfdInstance {
    pub name: String,
}
