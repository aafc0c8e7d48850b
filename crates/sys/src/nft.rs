//! nftables through the `nft` program: each change is one `nft -f -` run, which the
//! kernel applies as one transaction (all of the script, or none of it).
//!
//! keepalived builds the nf_tables netlink messages itself; keepup leaves the grammar to
//! nft, the tool every distribution ships with nf_tables, and keeps to what nft 0.9.4
//! and later read (interval maps with concatenated keys).
use std::io::{self, Write as _};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// How long one `nft -f` may take before it is killed.
const LIMIT: Duration = Duration::from_secs(10);

/// Why a script was not applied.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum NftError {
    /// No `nft` program on PATH, in /usr/sbin or in /sbin.
    #[error("the nft program is not installed (package nftables)")]
    Missing,
    /// nft ran and refused the script (nothing of it was applied): its own words.
    #[error("nft refused the change: {0}")]
    Refused(String),
    #[error("running nft: {0}")]
    Io(#[from] io::Error),
    #[error("nft did not finish within {LIMIT:?}; it was stopped")]
    Timeout,
}

/// Where the `nft` program is: on PATH, else in /usr/sbin or /sbin (a service's PATH
/// may lack the sbin directories).
pub fn nft_program() -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain([PathBuf::from("/usr/sbin"), PathBuf::from("/sbin")])
        .map(|d| d.join("nft"))
        .find(|p| is_executable(p))
}

fn is_executable(p: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// Runs `nft -f -` with `script` on its standard input: one transaction.
pub fn nft_apply(script: &str) -> Result<(), NftError> {
    run(&["-f", "-"], script)
}

/// Whether nft and the kernel's nf_tables answer (`nft list tables`, which changes
/// nothing): the error says which is missing.
pub fn nft_usable() -> Result<(), NftError> {
    run(&["list", "tables"], "")
}

fn run(args: &[&str], script: &str) -> Result<(), NftError> {
    let program = nft_program().ok_or(NftError::Missing)?;
    let mut child = Command::new(program)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()?;
    if let Some(mut stdin) = child.stdin.take() {
        // A script too large for the pipe is read while it is written; nft reads all of
        // its input before it does anything.
        stdin.write_all(script.as_bytes())?;
    }
    let deadline = Instant::now() + LIMIT;
    let status = loop {
        if let Some(s) = child.try_wait()? {
            break s;
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            return Err(NftError::Timeout);
        }
        // nft takes a few milliseconds; the no_accept filter is on the takeover path.
        std::thread::sleep(Duration::from_millis(1));
    };
    if status.success() {
        return Ok(());
    }
    let mut err = String::new();
    if let Some(mut e) = child.stderr.take() {
        let _ = io::Read::read_to_string(&mut e, &mut err);
    }
    Err(NftError::Refused(summarise(&err, status)))
}

/// nft's complaint in one line: its error lines (the script's echo and the caret
/// lines under it left out).
fn summarise(stderr: &str, status: std::process::ExitStatus) -> String {
    let lines: Vec<&str> = stderr
        .lines()
        .map(str::trim)
        .filter(|l| l.contains("Error") || l.contains("rror:"))
        .collect();
    if lines.is_empty() {
        let t = stderr.trim();
        if t.is_empty() {
            format!("nft exited with {status}")
        } else {
            t.replace('\n', " / ")
        }
    } else {
        lines.join(" / ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::process::ExitStatusExt as _;

    #[test]
    fn complaint_in_one_line() {
        let err = "/dev/stdin:3:1-20: Error: Could not process rule: Operation not supported\n\
                   table ip keepalived_ipvs {\n^^^^^^^^^^^^^^^^^^^^\n";
        assert_eq!(
            summarise(err, std::process::ExitStatus::from_raw(256)),
            "/dev/stdin:3:1-20: Error: Could not process rule: Operation not supported"
        );
        assert_eq!(
            summarise("", std::process::ExitStatus::from_raw(256)),
            "nft exited with exit status: 1"
        );
    }
}
