//! Snapshot tests over the hand-written configurations in `tests/cases/`.
//!
//! For each `*.conf` the snapshot holds the rendered diagnostics with the exit status
//! `keepup check` would give, the resolved model as `--dump` prints it, and for
//! `grammar-*` cases the preprocessed line stream with where each line came from.
//! A first line `! test: config-id=ID` sets the config id (default `main`).
//! Review changes with `cargo insta review` (or accept with INSTA_UPDATE=always).

use keepup_config::{load_file, LoadOptions, PreprocessOptions};
use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::path::Path;

pub fn test_options(config_id: &str) -> LoadOptions {
    LoadOptions {
        preprocess: PreprocessOptions {
            config_id: config_id.to_string(),
            hostname: "testhost.example.net".to_string(),
            random_seed: 42,
            ..PreprocessOptions::default()
        },
        interfaces: Some(
            ["lo", "eth0", "eth1", "eth2", "eth3"]
                .iter()
                .map(|s| s.to_string())
                .collect::<BTreeSet<_>>(),
        ),
        // Script checks depend on the host's files and users; tests/scripts.rs covers them.
        check_scripts: false,
        disable_refused_scripts: false,
    }
}

fn config_id_of(text: &str) -> String {
    text.lines()
        .next()
        .and_then(|l| l.strip_prefix("! test: config-id="))
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|| "main".to_string())
}

#[test]
fn cases() {
    let crate_dir = env!("CARGO_MANIFEST_DIR");
    insta::glob!("cases/*.conf", |path| {
        let text = std::fs::read_to_string(path).expect("case file is readable");
        let rel = path.strip_prefix(crate_dir).unwrap_or(path);
        let loaded = load_file(rel, &test_options(&config_id_of(&text)));
        let mut out = String::new();
        let _ = writeln!(out, "== exit status {}", loaded.verdict().exit_code());
        out.push_str(&loaded.render());
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if name.starts_with("grammar-") {
            let _ = writeln!(out, "== lines");
            for line in loaded.sources.lines.iter().filter(|l| !l.anchor) {
                let o = line.origin;
                let path = loaded.sources.path(o.file);
                let path = path.strip_prefix("tests/cases").unwrap_or(path);
                let _ = writeln!(out, "{}:{}: {}", path.display(), o.line, line.text);
            }
        }
        let _ = writeln!(out, "== model");
        out.push_str(&serde_json::to_string_pretty(&loaded.config).unwrap_or_default());
        insta::with_settings!({
            filters => vec![(regex_escape(crate_dir).as_str(), "[CRATE]")],
            prepend_module_to_snapshot => false,
        }, {
            insta::assert_snapshot!(out);
        });
    });
}

fn regex_escape(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '/' || c == '_' || c == '-' {
                c.to_string()
            } else {
                format!("\\{c}")
            }
        })
        .collect()
}

#[test]
fn relative_paths_resolve_from_the_crate() {
    assert!(Path::new("tests/cases").is_dir());
}
