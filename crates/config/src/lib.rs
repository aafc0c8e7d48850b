//! keepalived.conf reader for keepup.
//!
//! `source map -> preprocessor (include, @conditionals, $definitions, ~SEQ/~LST)
//! -> lexer with spans -> statement tree -> keyword-table parser -> typed model
//! -> validation`. Every step reports [`Diagnostic`]s with a span that leads back to
//! the file and line the operator wrote.

pub mod diag;
pub mod model;
pub mod parse;
pub mod preprocess;
pub mod source;
pub mod tree;

#[cfg(test)]
mod testutil;

pub use diag::{Diagnostic, Severity, Verdict};
pub use model::Config;
pub use preprocess::Options as PreprocessOptions;
pub use source::SourceMap;

use std::collections::BTreeSet;
use std::path::Path;

/// How to read a configuration.
#[derive(Debug, Clone, Default)]
pub struct LoadOptions {
    pub preprocess: PreprocessOptions,
    /// Interfaces that exist (`None`: do not check interface names).
    pub interfaces: Option<BTreeSet<String>>,
    /// Check scripts against this host: do they exist, who runs them, who could change them.
    pub check_scripts: bool,
    /// Disable, as keepalived does at start, every script the daemon must not run
    /// (not found, not executable, insecure, unknown user): taken out of the model,
    /// so a `track_script` naming it tracks nothing and a notify slot stays silent.
    /// keepalived's log lines for each are in [`Loaded::refused_scripts`].
    pub disable_refused_scripts: bool,
}

impl LoadOptions {
    /// Options for checking against this host: its config id and its interfaces.
    pub fn for_this_host() -> Self {
        LoadOptions {
            preprocess: PreprocessOptions::default(),
            interfaces: host_interfaces(),
            check_scripts: true,
            disable_refused_scripts: false,
        }
    }
}

/// A configuration as read: the model, every finding, and the sources for rendering them.
#[derive(Debug)]
pub struct Loaded {
    pub config: Config,
    pub diagnostics: Vec<Diagnostic>,
    pub sources: SourceMap,
    /// What was disabled with [`LoadOptions::disable_refused_scripts`], in
    /// keepalived's words, one line each.
    pub refused_scripts: Vec<String>,
}

impl Loaded {
    pub fn verdict(&self) -> Verdict {
        Verdict::of(&self.diagnostics)
    }

    /// All diagnostics rendered for a terminal, with a summary line.
    pub fn render(&self) -> String {
        self.sources.render_all(&self.diagnostics)
    }

    /// The diagnostics and verdict as JSON.
    pub fn diagnostics_json(&self) -> serde_json::Value {
        let diags: Vec<_> = self
            .diagnostics
            .iter()
            .map(|d| self.sources.resolve_diag(d))
            .collect();
        serde_json::json!({
            "verdict": self.verdict(),
            "exit_code": self.verdict().exit_code(),
            "diagnostics": diags,
        })
    }
}

/// Reads and checks the configuration file at `path`.
pub fn load_file(path: &Path, opts: &LoadOptions) -> Loaded {
    let mut sources = SourceMap::default();
    let mut diags = Vec::new();
    preprocess::preprocess(path, &opts.preprocess, &mut sources, &mut diags);
    finish(sources, diags, opts)
}

/// Reads and checks configuration text (`name` is used in messages and for `_PWD`).
pub fn load_str(name: &str, text: &str, opts: &LoadOptions) -> Loaded {
    let mut sources = SourceMap::default();
    let mut diags = Vec::new();
    preprocess::preprocess_str(name, text, &opts.preprocess, &mut sources, &mut diags);
    finish(sources, diags, opts)
}

fn finish(sources: SourceMap, mut diags: Vec<Diagnostic>, opts: &LoadOptions) -> Loaded {
    let mut cx = parse::Ctx::new(opts.interfaces.clone());
    cx.check_scripts = opts.check_scripts;
    let mut config = Config::default();
    tree::build_each(&sources, &mut diags, |stmt| {
        parse::parse_top(&mut config, &stmt, &mut cx)
    });
    parse::validate(&mut config, &mut cx);
    diags.append(&mut cx.diags);
    // Reading order; findings without a place (whole-config) go last. Stable, so
    // findings on one line keep the order they were made in.
    diags.sort_by_key(|d| d.span.map(|s| (s.line, s.start)).unwrap_or((u32::MAX, 0)));
    let refused_scripts = if opts.disable_refused_scripts {
        parse::scripts::disable_refused(&mut config)
    } else {
        Vec::new()
    };
    Loaded {
        config,
        diagnostics: diags,
        sources,
        refused_scripts,
    }
}

/// The user (and group) a script runs as: its own `user`, else `script_user` in
/// global_defs, else root.
pub use parse::scripts::run_as as script_user;

/// The network interfaces of this host (network namespace), from /sys/class/net.
pub fn host_interfaces() -> Option<BTreeSet<String>> {
    let dir = std::fs::read_dir("/sys/class/net").ok()?;
    Some(
        dir.filter_map(|e| e.ok())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect(),
    )
}
