//! Fuzzes the whole reader (preprocessor, lexer, tree, parser, validation), the
//! diagnostics renderer, their JSON form and the Debug form of the model over arbitrary
//! bytes. Includes are off so the fuzzer cannot reach the filesystem.
//!
//! The expansion budget is 2,000 lines (the daemon's is 2,000,000). Every stage still
//! runs on every input, and the stop at the budget (`expansion-too-large`) is still
//! reached by any `~SEQ` or definition that expands past it; nothing in the reader
//! changes behaviour between 2,000 and 20,000 lines (its cost is linear in lines:
//! `bench/config-parse` reads 220,000). What the lower budget saves is time: mutants of
//! the corpus's `~SEQ` inputs expand to the budget again and again, and at 20,000 lines
//! each cost about 0.2 s: with that budget they took half of all fuzzing time.
//!
//! Run: scripts/fuzz --runs 10000000 config
#![no_main]

use keepup_config::{load_str, LoadOptions};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let mut opts = LoadOptions::default();
    opts.preprocess.includes = false;
    opts.preprocess.max_lines = 2_000;
    opts.preprocess.config_id = "main".into();
    let loaded = load_str("fuzz.conf", &text, &opts);
    let _ = loaded.render();
    let _ = loaded.diagnostics_json();
    let _ = debug_len(&loaded);
});

fn debug_len(l: &keepup_config::Loaded) -> usize {
    format!("{:?}", l.config).len()
}
