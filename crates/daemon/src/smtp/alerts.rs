//! The alerts: what `global_defs` says about mail, each transition's subject and
//! body, and the bounded queue one task sends from.
use crate::notify::Kind;
use keepup_config::model::global::GlobalDefs;
use keepup_config::model::vrrp::Notify;
use lettre::message::Mailbox;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, SystemTime};
use tokio::sync::mpsc;
use tracing::{info, warn};

use super::{rfc5322_date, send, Mail, Settings};

/// How many mails may wait for the server before new alerts are dropped.
pub const QUEUE: usize = 64;

/// The local host name (`/proc/sys/kernel/hostname`), `localhost` if unreadable.
pub fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "localhost".into())
}

/// `addr` as a mailbox (`user@domain` or `Name <user@domain>`), or a warning that
/// names `keyword`.
pub(super) fn mailbox(keyword: &str, addr: &str) -> Option<Mailbox> {
    match addr.trim().parse::<Mailbox>() {
        Ok(m) => Some(m),
        Err(e) => {
            warn!(
                "{keyword} {addr:?} is not a mail address ({e}); user@domain or \"Name <user@domain>\" is expected, and no alert goes to it"
            );
            None
        }
    }
}

/// What the VRRP side of `global_defs` says about mail.
#[derive(Debug, Clone)]
pub struct Policy {
    /// `None` without `smtp_server` or without `notification_email`.
    pub settings: Option<Arc<Settings>>,
    /// For an instance or group without its own `smtp_alert`:
    /// `smtp_alert_vrrp`, else `smtp_alert`, else no (as keepalived).
    pub default_alert: bool,
    /// `no_email_faults`.
    pub no_email_faults: bool,
    /// `router_id` (default: the host name), in every subject.
    pub router_id: String,
}

impl Policy {
    /// The policy `g` sets. An address that is not one (keepalived would put it in
    /// the envelope as written) is said in a warning and left out.
    pub fn from_global(g: &GlobalDefs) -> Policy {
        let host = host_name();
        let settings = match &g.smtp_server {
            Some(srv) if !g.notification_email.is_empty() => {
                let from = g
                    .notification_email_from
                    .clone()
                    .unwrap_or_else(|| format!("keepalived@{host}"));
                let from = mailbox("notification_email_from", &from);
                let to: Vec<Mailbox> = g
                    .notification_email
                    .iter()
                    .filter_map(|a| mailbox("notification_email", a))
                    .collect();
                match from {
                    Some(from) if !to.is_empty() => Some(Arc::new(Settings {
                        host: srv.host.clone(),
                        port: srv.port,
                        helo: g.smtp_helo_name.clone().unwrap_or_else(|| host.clone()),
                        from,
                        to,
                        timeout: Duration::from_secs(u64::from(g.smtp_connect_timeout.max(1))),
                    })),
                    _ => None,
                }
            }
            _ => None,
        };
        Policy {
            settings,
            default_alert: g.smtp_alert_vrrp.or(g.smtp_alert).unwrap_or(false),
            no_email_faults: g.no_email_faults,
            router_id: g.router_id.clone().unwrap_or(host),
        }
    }

    /// Whether an instance or group with these notify settings mails on entering
    /// `state`.
    pub fn wants(&self, n: &Notify, state: &str) -> bool {
        n.smtp_alert.unwrap_or(self.default_alert) && !(self.no_email_faults && state == "FAULT")
    }
}

/// The subject and body for `name` entering `state`. The subject and the body's
/// first line are keepalived's (`[R1] VRRP Instance VI_1 - Entering MASTER state`,
/// `=> VRRP Instance is now owning VRRP VIPs <=`), so mail filters keep working;
/// keepup's details follow.
pub fn alert(router_id: &str, kind: Kind, name: &str, state: &str, priority: u8) -> Mail {
    let what = match kind {
        Kind::Instance => "VRRP Instance",
        Kind::Group => "VRRP Group",
    };
    let subject = match state {
        "STOP" => format!("[{router_id}] {what} {name} - Stopping"),
        s => format!("[{router_id}] {what} {name} - Entering {s} state"),
    };
    let keepalived = match (kind, state) {
        (Kind::Instance, "MASTER") => "=> VRRP Instance is now owning VRRP VIPs <=".to_string(),
        (Kind::Instance, "STOP") => "=> VRRP Instance stopping <=".to_string(),
        (Kind::Instance, _) => "=> VRRP Instance is no longer owning VRRP VIPs <=".to_string(),
        (Kind::Group, "STOP") => "=> All VRRP group instances are now stopping <=".to_string(),
        (Kind::Group, s) => format!("=> All VRRP group instances are now in {s} state <="),
    };
    let mut body = format!("{keepalived}\n\n{what} {name} on {router_id} is now {state}.\n");
    if kind == Kind::Instance {
        body.push_str(&format!("Effective priority: {priority}\n"));
    }
    body.push_str(&format!("Time: {}\n", rfc5322_date(SystemTime::now())));
    Mail { subject, body }
}

/// One queued alert: who it is about (for the log) and where it goes.
struct Queued {
    who: String,
    settings: Arc<Settings>,
    mail: Mail,
}

/// The daemon's alert queue: which state each instance/group was last mailed about
/// (no second mail for the same state, as keepalived), and the sending task.
#[derive(Default)]
pub struct Alerts {
    policy: Option<Policy>,
    last: HashMap<(Kind, String), String>,
    tx: Option<mpsc::Sender<Queued>>,
    task: Option<tokio::task::JoinHandle<()>>,
    /// The missing-server warning was given.
    warned: bool,
}

impl Alerts {
    /// New `global_defs` (start and reload).
    pub fn configure(&mut self, g: &GlobalDefs) {
        let p = Policy::from_global(g);
        if p.settings.is_none() && (p.default_alert || g.smtp_server.is_some()) {
            let missing = if g.smtp_server.is_none() {
                "no smtp_server"
            } else if g.notification_email.is_empty() {
                "no notification_email"
            } else {
                // The addresses were refused above, each with its reason.
                "no usable notification_email or notification_email_from"
            };
            warn!("smtp_alert: {missing} in global_defs; no alert mail will be sent");
        }
        self.policy = Some(p);
        self.warned = false;
    }

    /// `name` entered `state`: queue its mail if its `smtp_alert` (or the global
    /// default) asks for one. Whether a mail was queued.
    pub fn transition(
        &mut self,
        kind: Kind,
        name: &str,
        n: &Notify,
        state: &str,
        priority: u8,
    ) -> bool {
        let Some(p) = &self.policy else { return false };
        if !p.wants(n, state) {
            return false;
        }
        let Some(settings) = p.settings.clone() else {
            if !self.warned {
                self.warned = true;
                warn!(
                    "({name}) smtp_alert is on, but global_defs lacks smtp_server or notification_email; no mail is sent"
                );
            }
            return false;
        };
        let key = (kind, name.to_string());
        if self.last.get(&key).map(String::as_str) == Some(state) {
            return false;
        }
        self.last.insert(key, state.to_string());
        let mail = alert(&p.router_id, kind, name, state, priority);
        self.queue(name, settings, mail)
    }

    /// A checker-side alert (a real server or a virtual server's quorum): the mail
    /// `subject` (after `[router_id] `) and `body`, if mail is configured. The caller
    /// has decided that `smtp_alert` asks for it.
    pub fn checker(&mut self, who: &str, subject: &str, body: &str) -> bool {
        let Some(p) = &self.policy else { return false };
        let Some(settings) = p.settings.clone() else {
            if !self.warned {
                self.warned = true;
                warn!(
                    "({who}) smtp_alert is on, but global_defs lacks smtp_server or notification_email; no mail is sent"
                );
            }
            return false;
        };
        let mail = Mail {
            subject: format!("[{}] {subject}", p.router_id),
            body: format!("{body}\nTime: {}\n", rfc5322_date(SystemTime::now())),
        };
        self.queue(who, settings, mail)
    }

    fn queue(&mut self, name: &str, settings: Arc<Settings>, mail: Mail) -> bool {
        let tx = self.tx.get_or_insert_with(|| {
            let (tx, rx) = mpsc::channel(QUEUE);
            self.task = Some(tokio::spawn(serve(rx)));
            tx
        });
        let q = Queued {
            who: name.to_string(),
            settings,
            mail,
        };
        match tx.try_send(q) {
            Ok(()) => true,
            Err(mpsc::error::TrySendError::Full(q)) => {
                warn!(
                    "({}) SMTP alert dropped: {QUEUE} mails already wait for {}",
                    q.who,
                    q.settings.server()
                );
                false
            }
            Err(mpsc::error::TrySendError::Closed(q)) => {
                warn!("({}) SMTP alert dropped: the mail task is gone", q.who);
                false
            }
        }
    }

    /// On exit: no more alerts; the task that sends the queued ones.
    pub fn close(&mut self) -> Option<tokio::task::JoinHandle<()>> {
        self.tx = None;
        self.task.take()
    }
}

async fn serve(mut rx: mpsc::Receiver<Queued>) {
    while let Some(q) = rx.recv().await {
        match send(&q.settings, &q.mail).await {
            Ok(()) => info!("({}) SMTP alert successfully sent.", q.who),
            Err(e) => warn!("({}) SMTP alert not sent: {e}", q.who),
        }
    }
}
