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

/// Splits a script line as keepalived 2.2.7 does (words, with '…' and "…" quoting);
/// a line with shell syntax runs through `/bin/sh -c`, as its author meant.
pub fn command(line: &str) -> tokio::process::Command {
    let shell = line.contains([
        '&', '|', ';', '<', '>', '$', '`', '(', ')', '*', '?', '[', '~',
    ]);
    let mut cmd = if shell {
        let mut c = tokio::process::Command::new("/bin/sh");
        c.arg("-c").arg(line);
        c
    } else {
        let words = split_words(line);
        let mut it = words.into_iter();
        let mut c = tokio::process::Command::new(it.next().unwrap_or_default());
        c.args(it);
        c
    };
    // Its own process group, so a stuck script and its children can be ended together.
    cmd.process_group(0);
    cmd.kill_on_drop(false);
    cmd
}

fn split_words(line: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut cur = String::new();
    let mut quote: Option<char> = None;
    let mut any = false;
    for c in line.chars() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), c) => cur.push(c),
            (None, '\'' | '"') => {
                quote = Some(c);
                any = true;
            }
            (None, c) if c.is_whitespace() => {
                if any || !cur.is_empty() {
                    words.push(std::mem::take(&mut cur));
                    any = false;
                }
            }
            (None, c) => cur.push(c),
        }
    }
    if any || !cur.is_empty() {
        words.push(cur);
    }
    words
}

/// The daemon's notifier: one ordered queue per instance or group name.
#[derive(Default)]
pub struct Notifier {
    queues: HashMap<(Kind, String), UnboundedSender<Job>>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
    /// `notify_fifo` / `vrrp_notify_fifo`: lines `INSTANCE "VI_1" MASTER 100`.
    fifos: Vec<PathBuf>,
}

impl Notifier {
    pub fn new(fifos: Vec<PathBuf>) -> Notifier {
        Notifier {
            queues: HashMap::new(),
            tasks: Vec::new(),
            fifos,
        }
    }

    fn queue(&mut self, kind: Kind, name: &str) -> &UnboundedSender<Job> {
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
        let tasks = std::mem::take(&mut self.tasks);
        let all = async {
            for t in tasks {
                let _ = t.await;
            }
        };
        if tokio::time::timeout(limit, all).await.is_err() {
            warn!("notify scripts still running after {limit:?}; not waiting for them");
        }
    }

    /// `name` entered `state` (keepalived's word: MASTER, BACKUP, FAULT, STOP) at
    /// `priority`: the state's own script, then `notify` with keepalived's arguments,
    /// then the FIFO line.
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
        let q = self.queue(kind, name).clone();
        for j in jobs {
            if q.send(j).is_err() {
                warn!("({name}) notify queue closed");
            }
        }
    }
}

async fn run(who: &str, job: Job) {
    match job {
        Job::Run { script, args } => {
            let mut cmd = command(&script.command);
            cmd.args(&args);
            if let Some(user) = &script.user {
                match nix::unistd::User::from_name(user) {
                    Ok(Some(u)) => {
                        cmd.uid(u.uid.as_raw()).gid(u.gid.as_raw());
                    }
                    _ => {
                        warn!("({who}) notify script {}: no user {user}", script.command);
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
    fn words_split_like_keepalived() {
        assert_eq!(
            split_words("/bin/x a  'b c' \"d\""),
            ["/bin/x", "a", "b c", "d"]
        );
        assert_eq!(split_words("x ''"), ["x", ""]);
    }
}
