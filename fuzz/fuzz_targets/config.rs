//! Fuzzes the whole reader (preprocessor, lexer, tree, parser, validation) and the
//! diagnostics renderer over arbitrary bytes. Includes are off so the fuzzer cannot
//! reach the filesystem; the expansion budget is small so each input stays fast.
//!
//! Run: cargo fuzz run config --sanitizer none -- -max_total_time=600
#![no_main]

use keepup_config::{load_str, LoadOptions};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let mut opts = LoadOptions::default();
    opts.preprocess.includes = false;
    opts.preprocess.max_lines = 20_000;
    opts.preprocess.config_id = "main".into();
    let loaded = load_str("fuzz.conf", &text, &opts);
    let _ = loaded.render();
    let _ = loaded.diagnostics_json();
    let _ = serde_json_len(&loaded);
});

fn serde_json_len(l: &keepup_config::Loaded) -> usize {
    format!("{:?}", l.config).len()
}
