//! Script checks across the whole configuration: whether each script exists on this
//! host, which user runs it, whether a non-root user could change what root runs
//! (keepalived.conf(5), "SCRIPTS"), and scripts written with shell syntax.
//!
//! keepalived 2.2.7 only counts scripts it can find: a missing one is disabled at
//! start, and `keepalived -t` says nothing of it. Scripts it finds that run as root
//! without `enable_script_security` give its "SECURITY VIOLATION" (exit 6). We report
//! the same once, as a warning, and add notes for the rest.

use super::Ctx;
use crate::diag::{Diagnostic, Severity};
use crate::model::lvs::CheckerKind;
use crate::model::{Config, Script};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

/// The user keepalived runs scripts as when none is configured, if that user exists.
pub const DEFAULT_SCRIPT_USER: &str = "keepalived_script";

/// Every script in the configuration, with a phrase saying where it is configured.
pub fn all_scripts(cfg: &Config) -> Vec<(String, &Script)> {
    let mut out: Vec<(String, &Script)> = Vec::new();
    let g = &cfg.global_defs;
    for (what, s) in [
        ("startup_script", &g.startup_script),
        ("shutdown_script", &g.shutdown_script),
        ("notify_fifo_script", &g.notify_fifo_script),
        ("vrrp_notify_fifo_script", &g.vrrp_notify_fifo_script),
        ("lvs_notify_fifo_script", &g.lvs_notify_fifo_script),
    ] {
        if let Some(s) = s {
            out.push((format!("{what} in global_defs"), s));
        }
    }
    for vs in &cfg.vrrp_scripts {
        if let Some(s) = &vs.script {
            out.push((format!("vrrp_script {}", vs.name), s));
        }
    }
    for vi in &cfg.vrrp_instances {
        for (what, s) in vi.notifications.scripts() {
            out.push((format!("{what} of vrrp_instance {}", vi.name), s));
        }
    }
    for sg in &cfg.vrrp_sync_groups {
        for (what, s) in sg.notifications.scripts() {
            out.push((format!("{what} of vrrp_sync_group {}", sg.name), s));
        }
    }
    for vs in &cfg.virtual_servers {
        for (what, s) in [
            ("quorum_up", &vs.quorum_up),
            ("quorum_down", &vs.quorum_down),
        ] {
            if let Some(s) = s {
                out.push((format!("{what} of a virtual_server"), s));
            }
        }
        for rs in &vs.real_servers {
            for (what, s) in [
                ("notify_up", &rs.notify_up),
                ("notify_down", &rs.notify_down),
            ] {
                if let Some(s) = s {
                    out.push((format!("{what} of a real_server"), s));
                }
            }
            for c in &rs.checkers {
                if let CheckerKind::MiscCheck(m) = &c.kind {
                    if let Some(s) = &m.misc_path {
                        out.push(("MISC_CHECK misc_path".to_string(), s));
                    }
                }
            }
        }
    }
    out
}

/// The first word of a command line, with quotes removed.
fn program(command: &str) -> &str {
    command
        .split_whitespace()
        .next()
        .unwrap_or("")
        .trim_matches(|c| c == '"' || c == '\'')
}

/// Shell syntax that an exec without a shell would pass as literal arguments: such a
/// line runs under a shell (see [`shell_for`]).
pub fn uses_shell_syntax(command: &str) -> bool {
    const SHELL: &[&str] = &[
        "&&", "||", ";", "|", ">", "<", "$", "`", "[", "*", "?", "~", "(", ")", "&",
    ];
    SHELL.iter().any(|s| command.contains(s))
}

/// The first piece of bash-only syntax in `command`, if any: what dash (Debian's and
/// Ubuntu's /bin/sh) does not run as bash would. Several fail in a way that looks like
/// success under dash: in `[[ -f /etc/keepalived/down ]] && exit 1 || exit 0`, `[[` is
/// "not found", so the `||` branch exits 0. A false alarm costs nothing (the line then
/// runs under bash, which runs POSIX sh lines alike); a miss is what matters.
pub fn bash_syntax(command: &str) -> Option<&'static str> {
    const BASH: &[&str] = &[
        "[[",
        "]]",
        "==",
        "<<<",
        "<(",
        ">(",
        "&>",
        "$'",
        "${!",
        "//}",
        "{1..",
        "{0..",
        "/dev/tcp/",
        "/dev/udp/",
        "pipefail",
        "function ",
        "source ",
        "declare ",
        "shopt ",
        "let ",
        "select ",
        "mapfile",
        "readarray",
        "$RANDOM",
        "$BASH",
        "=(",
    ];
    BASH.iter().copied().find(|b| command.contains(b))
}

/// The bash that runs lines with bash syntax: `bash` from PATH, or `KEEPUP_BASH` (a
/// test names a missing one to see such a script fail).
pub fn bash_program() -> String {
    std::env::var("KEEPUP_BASH").unwrap_or_else(|_| "bash".into())
}

/// How keepup runs a script line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shell {
    /// Split into words and executed, as keepalived does.
    None,
    /// `/bin/sh -c LINE`.
    Sh,
    /// `bash -c LINE`: the line uses this bash-only syntax.
    Bash(&'static str),
}

/// How keepup runs `command`: without a shell when it has no shell syntax, under bash
/// when it uses bash's, else under /bin/sh.
pub fn shell_for(command: &str) -> Shell {
    if !uses_shell_syntax(command) {
        Shell::None
    } else if let Some(b) = bash_syntax(command) {
        Shell::Bash(b)
    } else {
        Shell::Sh
    }
}

/// Where `prog` resolves: itself if it holds a '/', else the first match in PATH
/// (with the system directories keepalived also searches).
pub fn resolve_program(prog: &str) -> Option<PathBuf> {
    if prog.is_empty() {
        return None;
    }
    if prog.contains('/') {
        let p = PathBuf::from(prog);
        return p.is_file().then_some(p);
    }
    let path = std::env::var("PATH").unwrap_or_default();
    let found = path
        .split(':')
        .chain([
            "/usr/local/sbin",
            "/usr/local/bin",
            "/usr/sbin",
            "/usr/bin",
            "/sbin",
            "/bin",
        ])
        .filter(|d| !d.is_empty())
        .map(|d| Path::new(d).join(prog))
        .find(|p| p.is_file());
    found
}

/// Does a user of this name exist (per /etc/passwd)? Returns its uid.
pub fn user_uid(name: &str) -> Option<u32> {
    let passwd = std::fs::read_to_string("/etc/passwd").ok()?;
    passwd.lines().find_map(|l| {
        let mut f = l.split(':');
        (f.next()? == name).then_some(())?;
        f.nth(1)?.parse().ok()
    })
}

/// Why a file run by root could be changed by someone else: the file or a directory
/// above it is owned by a non-root user, or writable by group/others (a sticky
/// directory protects root's files in it).
pub fn insecure_reason(path: &Path) -> Option<String> {
    let meta = std::fs::metadata(path).ok()?;
    if meta.uid() != 0 {
        return Some(format!("{} is owned by uid {}", path.display(), meta.uid()));
    }
    if meta.mode() & 0o022 != 0 {
        return Some(format!(
            "{} is writable by {} (mode {:o})",
            path.display(),
            if meta.mode() & 0o002 != 0 {
                "everyone"
            } else {
                "its group"
            },
            meta.mode() & 0o7777
        ));
    }
    let mut dir = path.parent();
    while let Some(d) = dir {
        if let Ok(m) = std::fs::metadata(d) {
            let sticky = m.mode() & 0o1000 != 0;
            if m.uid() != 0 {
                return Some(format!(
                    "directory {} is owned by uid {}",
                    d.display(),
                    m.uid()
                ));
            }
            if m.mode() & 0o022 != 0 && !sticky {
                return Some(format!(
                    "directory {} is writable by non-root users (mode {:o})",
                    d.display(),
                    m.mode() & 0o7777
                ));
            }
        }
        dir = d.parent();
    }
    None
}

/// The user a script runs as: its own, else `script_user`, else keepalived's default
/// user if it exists, else root.
pub fn run_as(script: &Script, cfg: &Config) -> String {
    script
        .user
        .clone()
        .or_else(|| {
            cfg.global_defs
                .script_user
                .as_ref()
                .and_then(|u| u.user.clone())
        })
        .unwrap_or_else(|| {
            if user_uid(DEFAULT_SCRIPT_USER).is_some() {
                DEFAULT_SCRIPT_USER.to_string()
            } else {
                "root".to_string()
            }
        })
}

/// Why the daemon will not run a script (keepalived disables such scripts at start).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// The program is not on this host (or not a file).
    NotFound(String),
    /// The configured user does not exist.
    UnknownUser(String),
    /// `enable_script_security` is on, the script runs as root and a non-root user
    /// could change it: the path and why.
    Insecure(PathBuf, String),
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Refusal::NotFound(p) => {
                write!(f, "Script {p} cannot be accessed - No such file or directory")
            }
            Refusal::UnknownUser(u) => write!(f, "script user '{u}' does not exist"),
            Refusal::Insecure(p, why) => write!(
                f,
                "Unsafe permissions found for script '{}' - disabling ({why}; enable_script_security refuses scripts root runs that others can change)",
                p.display()
            ),
        }
    }
}

/// Whether the daemon may run `script`, as keepalived decides at start: a program
/// that is not on the host, or an unknown user, disables it; with
/// `enable_script_security`, so does a script run as root that a non-root user could
/// change. A line with shell syntax runs under /bin/sh; its first word is checked
/// when it names a file (a shell word such as `[` or `test` is left to the shell).
pub fn refusal(script: &Script, cfg: &Config) -> Option<Refusal> {
    let cmd = script.command.trim();
    let prog = program(cmd);
    let path = match resolve_program(prog) {
        Some(p) => Some(p),
        None if uses_shell_syntax(cmd) => None,
        None => return Some(Refusal::NotFound(prog.to_string())),
    };
    let user = run_as(script, cfg);
    if user_uid(&user).is_none() {
        return Some(Refusal::UnknownUser(user));
    }
    if !cfg.global_defs.enable_script_security || user_uid(&user) != Some(0) {
        return None;
    }
    let path = path?;
    insecure_reason(&path).map(|why| Refusal::Insecure(path, why))
}

pub fn validate(cfg: &Config, cx: &mut Ctx) {
    let secure = cfg.global_defs.enable_script_security;
    let mut as_root: Vec<String> = Vec::new();
    let mut first_root_span = None;
    let mut insecure: Vec<String> = Vec::new();
    for (what, script) in all_scripts(cfg) {
        let cmd = script.command.trim();
        if uses_shell_syntax(cmd) {
            let mut d = Diagnostic::new(
                Severity::Note,
                "script-shell-syntax",
                format!("{what} uses shell syntax: {cmd}"),
            )
            .at(script.span);
            let shell = match shell_for(cmd) {
                Shell::Bash(b) => format!("bash (it uses bash's `{b}`)"),
                _ => "/bin/sh".to_string(),
            };
            d = if cmd.starts_with('<') {
                d.note(format!("a leading redirection is handed to a shell by keepalived; keepup runs it with {shell} -c"))
            } else {
                d.note(format!("keepalived 2.2.7 runs this without a shell, so the shell syntax is passed as arguments and the check cannot work as written; keepup runs it with {shell} -c"))
            };
            cx.push(d);
            if let Shell::Bash(b) = shell_for(cmd) {
                if resolve_program(&bash_program()).is_none() {
                    cx.push(
                        Diagnostic::new(
                            Severity::Warning,
                            "script-needs-bash",
                            format!("{what} uses bash's `{b}`, but bash is not installed here: the script cannot run, and counts as failing"),
                        )
                        .at(script.span)
                        .help("install bash, or write the line in POSIX sh (`[ -f FILE ]` for `[[ -f FILE ]]`)"),
                    );
                }
            }
            continue;
        }
        let prog = program(cmd);
        let Some(path) = resolve_program(prog) else {
            cx.push(
                Diagnostic::new(
                    Severity::Note,
                    "script-not-found",
                    format!("{what}: '{prog}' is not found on this host; it will be disabled"),
                )
                .at(script.span)
                .help("use the full path of an executable file"),
            );
            continue;
        };
        let user = run_as(script, cfg);
        if let Some(u) = &script.user {
            if user_uid(u).is_none() {
                cx.push(
                    Diagnostic::new(
                        Severity::Error,
                        "unknown-user",
                        format!("{what}: user '{u}' does not exist; the script is disabled"),
                    )
                    .at(script.span),
                );
                continue;
            }
        }
        if user_uid(&user) != Some(0) {
            continue;
        }
        first_root_span.get_or_insert(script.span);
        as_root.push(format!("{what} ({})", path.display()));
        if let Some(why) = insecure_reason(&path) {
            if secure {
                cx.push(
                    Diagnostic::new(
                        Severity::Error,
                        "insecure-script",
                        format!("{what} runs as root but {why}; with enable_script_security it is refused"),
                    )
                    .at(script.span)
                    .help("make the script and every directory above it owned by root and not writable by others, or run it as another user"),
                );
            } else {
                insecure.push(format!("{what}: {why}"));
            }
        }
    }
    if !secure && !as_root.is_empty() {
        let mut d = Diagnostic::new(
            Severity::Warning,
            "script-security",
            format!(
                "{} script(s) run as root but enable_script_security is not set",
                as_root.len()
            ),
        )
        .at_opt(first_root_span)
        .help("add enable_script_security to global_defs, and script_user with an unprivileged user (or create the user 'keepalived_script')");
        for s in as_root.iter().take(5) {
            d = d.note(format!("runs as root: {s}"));
        }
        for s in insecure.iter().take(5) {
            d = d.note(format!("a non-root user could change what root runs: {s}"));
        }
        cx.push(d);
    }
}

/// Disable, as keepalived does at start, every `vrrp_script` and notify script the
/// daemon must not run (see [`refusal`]; `LoadOptions::disable_refused_scripts`): its script is taken out of `cfg`, so a
/// `track_script` naming it no longer tracks it and a notify slot stays silent.
/// Returns the log lines, in keepalived's wording.
pub fn disable_refused(cfg: &mut Config) -> Vec<String> {
    let mut lines = Vec::new();
    let snapshot = cfg.clone();
    for vs in &mut cfg.vrrp_scripts {
        let Some(r) = vs.script.as_ref().and_then(|s| refusal(s, &snapshot)) else {
            continue;
        };
        lines.push(r.to_string());
        lines.push(format!(
            "Disabling track script {} {}",
            vs.name,
            match r {
                Refusal::Insecure(..) => "due to insecure",
                _ => "since not found/accessible",
            }
        ));
        vs.script = None;
    }
    let notifies = cfg
        .vrrp_instances
        .iter_mut()
        .map(|v| (format!("vrrp_instance {}", v.name), &mut v.notifications))
        .chain(
            cfg.vrrp_sync_groups
                .iter_mut()
                .map(|g| (format!("vrrp_sync_group {}", g.name), &mut g.notifications)),
        );
    for (owner, n) in notifies {
        for (kw, slot) in n.slots_mut() {
            if let Some(r) = slot.as_ref().and_then(|s| refusal(s, &snapshot)) {
                lines.push(format!("{r}; {kw} of {owner} will not run"));
                *slot = None;
            }
        }
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shell_syntax() {
        assert!(uses_shell_syntax(
            "[ -f /etc/keepalived/down ] && exit 1 || exit 0"
        ));
        assert!(uses_shell_syntax("</dev/tcp/127.0.0.1/80"));
        assert!(uses_shell_syntax("pidof nginx > /dev/null"));
        assert!(!uses_shell_syntax("/usr/bin/killall -0 sshd"));
    }

    /// The classic maintenance switch is bash's; its POSIX form and plain commands are
    /// not.
    #[test]
    fn which_shell_runs_a_line() {
        assert_eq!(
            shell_for("[[ -f /etc/keepalived/down ]] && exit 1 || exit 0"),
            Shell::Bash("[[")
        );
        assert_eq!(
            shell_for("</dev/tcp/127.0.0.1/80"),
            Shell::Bash("/dev/tcp/")
        );
        assert_eq!(shell_for("test \"$(cat /x)\" == up"), Shell::Bash("=="));
        assert_eq!(
            shell_for("[ -f /etc/keepalived/down ] && exit 1 || exit 0"),
            Shell::Sh
        );
        assert_eq!(shell_for("pidof nginx > /dev/null"), Shell::Sh);
        assert_eq!(shell_for("/usr/bin/killall -0 sshd"), Shell::None);
    }

    #[test]
    fn resolves_through_path() {
        assert!(resolve_program("sh").is_some());
        assert!(resolve_program("/bin/sh").is_some());
        assert!(resolve_program("no-such-program-keepup").is_none());
        assert_eq!(user_uid("root"), Some(0));
    }

    #[test]
    fn world_writable_script_is_insecure() {
        use std::os::unix::fs::PermissionsExt;
        let d = std::env::temp_dir().join(format!("keepup-sec-{}", std::process::id()));
        std::fs::create_dir_all(&d).unwrap();
        let f = d.join("s.sh");
        std::fs::write(&f, "#!/bin/sh\n").unwrap();
        std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o777)).unwrap();
        let why = insecure_reason(&f);
        std::fs::remove_dir_all(&d).unwrap();
        // Running as root the file is root-owned, so its mode is the reason.
        if nix_is_root() {
            assert!(why.unwrap().contains("writable by everyone"));
        }
    }

    fn nix_is_root() -> bool {
        std::fs::metadata("/proc/self")
            .map(|m| m.uid() == 0)
            .unwrap_or(false)
    }
}
