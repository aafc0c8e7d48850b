//! `bfd_instance` blocks.
use crate::source::Span;
use serde::Serialize;

#[derive(Debug, Clone, Default, Serialize)]
pub struct BfdInstance {
    pub name: String,
    #[serde(skip)]
    pub span: Span,
}
