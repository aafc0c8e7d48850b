//! Running `ip`, `nft` and friends: one place that turns a failed command into an
//! [`Error`] naming the command line and its stderr.
use std::ffi::OsStr;
use std::io::Write;
use std::process::{Command, Output, Stdio};

use super::{Error, Result};

/// The command line as a person would type it (for error messages).
pub(crate) fn display(cmd: &Command) -> String {
    let mut s = cmd.get_program().to_string_lossy().into_owned();
    for a in cmd.get_args() {
        s.push(' ');
        s.push_str(&a.to_string_lossy());
    }
    s
}

/// Run to completion, whatever the exit status.
pub(crate) fn output(cmd: &mut Command) -> Result<Output> {
    cmd.stdin(Stdio::null());
    cmd.output().map_err(|source| Error::Spawn {
        cmd: display(cmd),
        source,
    })
}

fn checked(cmd: &Command, out: Output) -> Result<String> {
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(Error::Command {
            cmd: display(cmd),
            status: out.status.to_string(),
            stderr: String::from_utf8_lossy(&out.stderr).trim().to_owned(),
        })
    }
}

/// Run to completion; a non-zero exit is an error carrying stderr. Returns stdout.
pub(crate) fn check(cmd: &mut Command) -> Result<String> {
    let out = output(cmd)?;
    checked(cmd, out)
}

/// As [`check`], with `input` written to the command's stdin.
pub(crate) fn check_stdin(cmd: &mut Command, input: &[u8]) -> Result<String> {
    cmd.stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().map_err(|source| Error::Spawn {
        cmd: display(cmd),
        source,
    })?;
    if let Some(mut stdin) = child.stdin.take() {
        // A command that exits early closes its stdin; its exit status tells why.
        let _ = stdin.write_all(input);
    }
    let out = child.wait_with_output().map_err(|source| Error::Spawn {
        cmd: display(cmd),
        source,
    })?;
    checked(cmd, out)
}

/// `ip ARGS...`, checked.
pub(crate) fn ip<I, S>(args: I) -> Result<String>
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    check(Command::new("ip").args(args))
}
