//! Helpers shared by the unit tests of the parser modules.

use crate::{load_str, LoadOptions, Loaded};

/// Reads `text` as a file named `t.conf`, without host checks.
pub fn load(text: &str) -> Loaded {
    load_str("t.conf", text, &LoadOptions::default())
}

/// The codes of all findings, in order.
pub fn codes(l: &Loaded) -> Vec<&'static str> {
    l.diagnostics.iter().map(|d| d.code).collect()
}
