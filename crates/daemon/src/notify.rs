//! Notify scripts (`notify_master`, `notify_backup`, `notify_fault`, `notify_stop`,
//! `notify`) and the notify FIFO, per instance and per sync group.
//!
//! Every instance (and group) has one queue served by one task: its notifications run
//! one after another in the order the transitions happened, however fast the
//! transitions come and however slow the scripts are. A queue never blocks the
//! daemon's loop.
use keepup_config::model::vrrp::Notify;
use keepup_config::model::Script;
use std::collections::HashMap;
use std::path::PathBuf;
use tokio::io::AsyncWriteExt;
use tokio::sync::mpsc::{unbounded_channel, UnboundedSender};
use tracing::{debug, warn};

/// Whose state changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    Instance,
    Group,
}

impl Kind {
    /// The word keepalived passes (`INSTANCE` / `GROUP`).
    fn word(self) -> &'static str {
        match self {
            Kind::Instance => "INSTANCE",
            Kind::Group => "GROUP",
        }
    }
}

/// One thing to run or write, in order.
#[derive(Debug)]
enum Job {
    Run { script: Script, args: Vec<String> },
    Fifo { path: PathBuf, line: String },
}

/// The command for a notify script with `args` appended (keepalived's `notify`
/// arguments). A line with shell syntax runs under `/bin/sh -c`, the arguments then
/// reaching it as "$@". Its own process group, like every script keepup runs.
fn command(line: &str, args: &[String]) -> Option<tokio::process::Command> {
    let mut argv = crate::track::script_argv(line);
    if argv.first().map(String::as_str) == Some("/bin/sh") && argv.len() == 3 && !args.is_empty() {
        argv[2] = format!("{} \"$@\"", argv[2]);
        argv.push("keepup-notify".into());
    }
    let (prog, rest) = argv.split_first()?;
    let mut cmd = tokio::process::Command::new(prog);
    cmd.args(rest).args(args).process_group(0);
    Some(cmd)
}

/// The daemon's notifier: one ordered queue per instance or group name.
#[derive(Default)]
pub struct Notifier {
    /// Keyed by whose notifications they carry: an instance or group (`Some`), or a
    /// virtual server (`None`).
    queues: HashMap<(Option<Kind>, String), UnboundedSender<Job>>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
    /// `notify_fifo` / `vrrp_notify_fifo`: lines `INSTANCE "VI_1" MASTER 100`.
    fifos: Vec<PathBuf>,
    /// `smtp_alert` mails (their own queue: a slow mail server delays no script).
    alerts: crate::smtp::Alerts,
}

impl Notifier {
    pub fn new(fifos: Vec<PathBuf>) -> Notifier {
        Notifier {
            queues: HashMap::new(),
            tasks: Vec::new(),
            fifos,
            alerts: crate::smtp::Alerts::default(),
        }
    }

    /// The email keywords of `global_defs` (at start and on reload).
    pub fn configure_mail(&mut self, g: &keepup_config::model::global::GlobalDefs) {
        self.alerts.configure(g);
    }

    fn queue(&mut self, kind: Option<Kind>, name: &str) -> &UnboundedSender<Job> {
        let tasks = &mut self.tasks;
        self.queues
            .entry((kind, name.to_string()))
            .or_insert_with(|| {
                let (tx, mut rx) = unbounded_channel::<Job>();
                let who = name.to_string();
                tasks.push(tokio::spawn(async move {
                    while let Some(job) = rx.recv().await {
                        run(&who, job).await;
                    }
                }));
                tx
            })
    }

    /// On exit: let every queued notification run (`notify_stop` included), for at
    /// most `limit`.
    pub async fn drain(&mut self, limit: std::time::Duration) {
        self.queues.clear();
        let mut tasks = std::mem::take(&mut self.tasks);
        tasks.extend(self.alerts.close());
        let all = async {
            for t in tasks {
                let _ = t.await;
            }
        };
        if tokio::time::timeout(limit, all).await.is_err() {
            warn!(
                "notify scripts or SMTP alerts still running after {limit:?}; not waiting for them"
            );
        }
    }

    /// `name` entered `state` (keepalived's word: MASTER, BACKUP, FAULT, STOP) at
    /// `priority`: the state's own script, then `notify` with keepalived's arguments,
    /// then the FIFO line; and the `smtp_alert` mail when one is wanted.
    pub fn transition(&mut self, kind: Kind, name: &str, n: &Notify, state: &str, priority: u8) {
        let specific = match state {
            "MASTER" => n.notify_master.as_ref(),
            "BACKUP" => n.notify_backup.as_ref(),
            "FAULT" => n.notify_fault.as_ref(),
            "STOP" => n.notify_stop.as_ref(),
            _ => None,
        };
        let mut jobs = Vec::new();
        if let Some(s) = specific {
            jobs.push(Job::Run {
                script: s.clone(),
                args: Vec::new(),
            });
        }
        if let Some(s) = &n.notify {
            jobs.push(Job::Run {
                script: s.clone(),
                args: vec![
                    kind.word().to_string(),
                    name.to_string(),
                    state.to_string(),
                    priority.to_string(),
                ],
            });
        }
        for path in &self.fifos {
            jobs.push(Job::Fifo {
                path: path.clone(),
                line: format!("{} \"{name}\" {state} {priority}\n", kind.word()),
            });
        }
        self.alerts.transition(kind, name, n, state, priority);
        if jobs.is_empty() {
            // No queue (and no task) for an instance that notifies nothing.
            return;
        }
        let q = self.queue(Some(kind), name).clone();
        for j in jobs {
            if q.send(j).is_err() {
                warn!("({name}) notify queue closed");
            }
        }
    }
}

impl Notifier {
    /// A checker-side `smtp_alert` mail (see [`crate::smtp::Alerts::checker`]).
    pub fn checker_mail(&mut self, who: &str, subject: &str, body: &str) {
        self.alerts.checker(who, subject, body);
    }

    /// A checker-side change of virtual server `vs`: `script` (notify_up/down,
    /// quorum_up/down, run without arguments as keepalived does), then `line` to
    /// each FIFO (`RS [10.0.0.2]:tcp:80 [10.0.0.1]:tcp:80 UP`).
    pub fn lvs(&mut self, vs: &str, script: Option<&Script>, line: String) {
        let mut jobs: Vec<Job> = script
            .map(|s| Job::Run {
                script: s.clone(),
                args: Vec::new(),
            })
            .into_iter()
            .collect();
        jobs.extend(self.fifos.iter().map(|path| Job::Fifo {
            path: path.clone(),
            line: line.clone(),
        }));
        if jobs.is_empty() {
            return;
        }
        let q = self.queue(None, vs).clone();
        for j in jobs {
            if q.send(j).is_err() {
                warn!("(VS {vs}) notify queue closed");
            }
        }
    }
}

async fn run(who: &str, job: Job) {
    match job {
        Job::Run { script, args } => {
            let Some(mut cmd) = command(&script.command, &args) else {
                return;
            };
            if let Some(user) = &script.user {
                match crate::track::resolve_user(user, script.group.as_deref()) {
                    Ok((uid, gid)) => {
                        cmd.uid(uid).gid(gid);
                    }
                    Err(e) => {
                        warn!("({who}) notify script {}: {e}", script.command);
                        return;
                    }
                }
            }
            debug!(
                "({who}) running notify script {} {}",
                script.command,
                args.join(" ")
            );
            match cmd.status().await {
                Ok(s) if s.success() => {}
                Ok(s) => warn!("({who}) notify script {} exited with {s}", script.command),
                Err(e) => warn!("({who}) cannot run notify script {}: {e}", script.command),
            }
        }
        Job::Fifo { path, line } => {
            // A FIFO with no reader would block an open for writing: open it
            // non-blocking and drop the line if nobody listens.
            let opened = tokio::fs::OpenOptions::new()
                .write(true)
                .custom_flags(libc_nonblock())
                .open(&path)
                .await;
            match opened {
                Ok(mut f) => {
                    if let Err(e) = f.write_all(line.as_bytes()).await {
                        warn!("notify fifo {}: {e}", path.display());
                    }
                }
                Err(e) => debug!("notify fifo {}: {e}", path.display()),
            }
        }
    }
}

fn libc_nonblock() -> i32 {
    nix::fcntl::OFlag::O_NONBLOCK.bits()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shell_lines_get_the_arguments_as_positional_parameters() {
        let c = command("echo x | cat", &["INSTANCE".into(), "VI_1".into()]).unwrap();
        let argv: Vec<String> = c
            .as_std()
            .get_args()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        assert_eq!(
            argv,
            [
                "-c",
                "echo x | cat \"$@\"",
                "keepup-notify",
                "INSTANCE",
                "VI_1"
            ]
        );
    }
}
