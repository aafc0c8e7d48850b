//! The SMTP client against a small SMTP sink on 127.0.0.1 (a real TCP conversation).
#![allow(clippy::unwrap_used)]

use super::alerts::mailbox;
use super::*;
use crate::notify::Kind;
use keepup_config::model::global::GlobalDefs;
use keepup_config::model::vrrp::Notify;
use std::time::{Instant, UNIX_EPOCH};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};

/// How the sink answers.
#[derive(Clone)]
struct Behaviour {
    greeting: &'static str,
    /// After the greeting, bytes without a line end until the client hangs up.
    flood: bool,
    /// Close the connection after the greeting.
    hang_up: bool,
    ehlo: &'static str,
    mail: &'static str,
    /// RCPT TO lines containing this are refused with 550.
    refuse: Option<&'static str>,
    dot: &'static str,
    /// Accept the connection and never say a word.
    silent: bool,
}

impl Default for Behaviour {
    fn default() -> Self {
        Behaviour {
            greeting: "220 sink ready\r\n",
            flood: false,
            hang_up: false,
            ehlo: "250 sink\r\n",
            mail: "250 ok\r\n",
            refuse: None,
            dot: "250 queued\r\n",
            silent: false,
        }
    }
}

/// What one connection brought: the command lines, and the DATA payload as sent
/// (dot-stuffed, up to and without the final `.` line).
#[derive(Debug, Default, Clone)]
struct Session {
    commands: Vec<String>,
    data: String,
}

struct Sink {
    port: u16,
    sessions: tokio::sync::mpsc::UnboundedReceiver<Session>,
}

impl Sink {
    async fn start(b: Behaviour) -> Sink {
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = l.local_addr().unwrap().port();
        let (tx, sessions) = tokio::sync::mpsc::unbounded_channel();
        tokio::spawn(async move {
            loop {
                let Ok((c, _)) = l.accept().await else { return };
                let b = b.clone();
                let tx = tx.clone();
                tokio::spawn(async move {
                    let s = converse(c, &b).await;
                    let _ = tx.send(s);
                });
            }
        });
        Sink { port, sessions }
    }

    async fn next(&mut self) -> Session {
        tokio::time::timeout(Duration::from_secs(5), self.sessions.recv())
            .await
            .expect("no SMTP session within 5 s")
            .unwrap()
    }
}

async fn converse(c: TcpStream, b: &Behaviour) -> Session {
    let mut s = Session::default();
    let mut io = BufReader::new(c);
    if b.silent {
        tokio::time::sleep(Duration::from_secs(30)).await;
        return s;
    }
    io.get_mut().write_all(b.greeting.as_bytes()).await.unwrap();
    if b.flood {
        let chunk = [b'x'; 8192];
        while io.get_mut().write_all(&chunk).await.is_ok() {}
        return s;
    }
    if b.hang_up {
        return s;
    }
    loop {
        let mut line = String::new();
        if io.read_line(&mut line).await.unwrap_or(0) == 0 {
            return s;
        }
        let cmd = line.trim_end().to_string();
        s.commands.push(cmd.clone());
        let verb = cmd.get(..4).unwrap_or("").to_ascii_uppercase();
        let reply: &str = match verb.as_str() {
            "EHLO" => b.ehlo,
            "HELO" => "250 hello\r\n",
            "MAIL" => b.mail,
            "RCPT" if b.refuse.is_some_and(|r| cmd.contains(r)) => "550 no such user\r\n",
            "RCPT" => "250 ok\r\n",
            "DATA" => {
                io.get_mut().write_all(b"354 go ahead\r\n").await.unwrap();
                loop {
                    let mut l = String::new();
                    if io.read_line(&mut l).await.unwrap_or(0) == 0 {
                        return s;
                    }
                    if l == ".\r\n" {
                        break;
                    }
                    s.data.push_str(&l);
                }
                b.dot
            }
            "QUIT" => {
                io.get_mut().write_all(b"221 bye\r\n").await.unwrap();
                return s;
            }
            _ => "500 unknown command\r\n",
        };
        io.get_mut().write_all(reply.as_bytes()).await.unwrap();
    }
}

fn settings(port: u16) -> Settings {
    Settings {
        host: "127.0.0.1".into(),
        port,
        helo: "r1.example".into(),
        from: "keepup@r1.example".parse().unwrap(),
        to: vec![
            "ops@example.com".parse().unwrap(),
            "pager@example.com".parse().unwrap(),
        ],
        timeout: Duration::from_secs(3),
    }
}

fn mail() -> Mail {
    Mail {
        subject: "[R1] VRRP Instance VI_1 - Entering MASTER state".into(),
        body: "first line\n.starts with a dot\n..two dots\n.\nlast".into(),
    }
}

/// A full conversation with a multi-line greeting and EHLO reply; every recipient
/// gets a RCPT; the payload is dot-stuffed and the headers are there.
#[tokio::test]
async fn delivers_with_multiline_replies_and_dot_stuffing() {
    let mut sink = Sink::start(Behaviour {
        greeting: "220-sink.example ESMTP\r\n220-second line\r\n220 ready\r\n",
        ehlo: "250-sink.example\r\n250-PIPELINING\r\n250-8BITMIME\r\n250 SIZE 1000000\r\n",
        ..Behaviour::default()
    })
    .await;
    send(&settings(sink.port), &mail()).await.unwrap();
    let s = sink.next().await;
    assert_eq!(
        s.commands,
        [
            "EHLO r1.example",
            "MAIL FROM:<keepup@r1.example>",
            "RCPT TO:<ops@example.com>",
            "RCPT TO:<pager@example.com>",
            "DATA",
            "QUIT"
        ]
    );
    let (head, body) = s.data.split_once("\r\n\r\n").unwrap();
    let head = format!("{head}\r\n");
    assert!(head.contains("From: keepup@r1.example\r\n"), "{head}");
    assert!(
        head.contains("To: ops@example.com, pager@example.com\r\n"),
        "{head}"
    );
    assert!(
        head.contains("Subject: [R1] VRRP Instance VI_1 - Entering MASTER state\r\n"),
        "{head}"
    );
    assert!(head.contains("X-Mailer: Keepalived\r\n"), "{head}");
    assert!(head.contains("Message-ID: <keepup."), "{head}");
    let date = head.lines().find_map(|l| l.strip_prefix("Date: ")).unwrap();
    assert!(date.ends_with(" +0000") && date.len() == 31, "{date}");
    assert_eq!(
        body,
        "first line\r\n..starts with a dot\r\n...two dots\r\n..\r\nlast\r\n"
    );
}

/// A server that refuses EHLO fails the mail at HELO with its code: lettre does
/// not fall back to HELO, and RFC 5321 §2.2.1 has every server support EHLO.
#[tokio::test]
async fn a_refused_ehlo_is_an_error_at_helo() {
    let mut sink = Sink::start(Behaviour {
        ehlo: "502 command not implemented\r\n",
        ..Behaviour::default()
    })
    .await;
    let e = send(&settings(sink.port), &mail()).await.unwrap_err();
    assert!(
        matches!(
            e,
            SmtpError::Rejected {
                stage: "HELO",
                code: 502,
                ..
            }
        ),
        "{e:?}"
    );
    let s = sink.next().await;
    assert_eq!(s.commands[0], "EHLO r1.example");
    assert!(s.data.is_empty());
}

/// A 5xx reply to MAIL FROM fails the mail with the stage and code in the message.
#[tokio::test]
async fn a_5xx_reply_is_an_error_naming_stage_and_code() {
    let mut sink = Sink::start(Behaviour {
        mail: "553-sender refused\r\n553 policy says no\r\n",
        ..Behaviour::default()
    })
    .await;
    let e = send(&settings(sink.port), &mail()).await.unwrap_err();
    match &e {
        SmtpError::Rejected {
            stage, code, text, ..
        } => {
            assert_eq!((*stage, *code), ("MAIL", 553));
            assert_eq!(text, "sender refused policy says no");
        }
        other => panic!("{other:?}"),
    }
    let line = e.to_string();
    assert!(
        line.contains("Error processing MAIL cmd on SMTP server [127.0.0.1]:")
            && line.contains("SMTP status code = 553"),
        "{line}"
    );
    // No RCPT, no DATA after the refusal.
    let s = sink.next().await;
    assert!(!s.commands.iter().any(|c| c.starts_with("RCPT")), "{s:?}");
    assert!(s.data.is_empty());
}

/// A 5xx after the payload (the server refuses the message itself).
#[tokio::test]
async fn a_refused_message_is_an_error() {
    let sink = Sink::start(Behaviour {
        dot: "554 transaction failed\r\n",
        ..Behaviour::default()
    })
    .await;
    let e = send(&settings(sink.port), &mail()).await.unwrap_err();
    assert!(
        matches!(
            e,
            SmtpError::Rejected {
                stage: "DOT",
                code: 554,
                ..
            }
        ),
        "{e:?}"
    );
}

/// One refused recipient: the others still get the mail. All refused: an error.
#[tokio::test]
async fn refused_recipients() {
    let mut sink = Sink::start(Behaviour {
        refuse: Some("pager@"),
        ..Behaviour::default()
    })
    .await;
    send(&settings(sink.port), &mail()).await.unwrap();
    let s = sink.next().await;
    assert!(s.data.contains("Subject: "), "{s:?}");

    let mut only_pager = settings(sink.port);
    only_pager.to = vec!["pager@example.com".parse().unwrap()];
    let e = send(&only_pager, &mail()).await.unwrap_err();
    assert!(
        matches!(
            e,
            SmtpError::Rejected {
                stage: "RCPT",
                code: 550,
                ..
            }
        ),
        "{e:?}"
    );
}

/// A server that accepts the connection and never greets: a timeout after
/// `smtp_connect_timeout`, not a hang.
#[tokio::test]
async fn a_silent_server_times_out() {
    let sink = Sink::start(Behaviour {
        silent: true,
        ..Behaviour::default()
    })
    .await;
    let mut s = settings(sink.port);
    s.timeout = Duration::from_millis(300);
    let t = Instant::now();
    let e = send(&s, &mail()).await.unwrap_err();
    let took = t.elapsed();
    assert!(
        matches!(
            e,
            SmtpError::Timeout {
                stage: "greeting",
                ..
            }
        ),
        "{e:?}"
    );
    assert!(
        took >= Duration::from_millis(300) && took < Duration::from_secs(2),
        "{took:?}"
    );
    assert!(e
        .to_string()
        .contains("Timeout reading data from SMTP server"));
}

/// Nobody listening: a connect error, quickly.
#[tokio::test]
async fn connection_refused() {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = l.local_addr().unwrap().port();
    drop(l);
    let e = send(&settings(port), &mail()).await.unwrap_err();
    assert!(matches!(e, SmtpError::Connect { .. }), "{e:?}");
    assert!(
        e.to_string()
            .starts_with(&format!("Error connecting SMTP server [127.0.0.1]:{port}")),
        "{e}"
    );
}

/// Servers that do not speak SMTP: each mail fails with an error naming the
/// stage, quickly, and a reply line that never ends stops being read at the cap
/// (lettre alone would buffer it until the timeout).
#[tokio::test]
async fn lying_servers_fail_the_mail() {
    for greeting in [
        "hello\r\n",
        "25x ok\r\n",
        "220_ok\r\n",
        "999 no\r\n",
        "220-a\r\n",
        "",
    ] {
        let sink = Sink::start(Behaviour {
            greeting,
            hang_up: true,
            ..Behaviour::default()
        })
        .await;
        let mut s = settings(sink.port);
        s.timeout = Duration::from_secs(2);
        let t = Instant::now();
        let e = send(&s, &mail()).await.unwrap_err();
        assert!(t.elapsed() < Duration::from_secs(1), "{greeting:?}: {e}");
        assert!(
            matches!(
                e,
                SmtpError::Failed {
                    stage: "greeting",
                    ..
                } | SmtpError::Rejected {
                    stage: "greeting",
                    ..
                }
            ),
            "{greeting:?}: {e:?}"
        );
    }
    let sink = Sink::start(Behaviour {
        greeting: "220-",
        flood: true,
        ..Behaviour::default()
    })
    .await;
    let t = Instant::now();
    let e = send(&settings(sink.port), &mail()).await.unwrap_err();
    assert!(t.elapsed() < Duration::from_secs(2), "{:?}", t.elapsed());
    assert!(
        e.to_string().contains("a reply longer than 4096 bytes"),
        "{e}"
    );
    // A reply of endless continuation lines: lettre's own limit on a reply.
    let endless: &'static str = Box::leak("220-x\r\n".repeat(20_000).into_boxed_str());
    let sink = Sink::start(Behaviour {
        greeting: endless,
        ..Behaviour::default()
    })
    .await;
    let t = Instant::now();
    let e = send(&settings(sink.port), &mail()).await.unwrap_err();
    assert!(t.elapsed() < Duration::from_secs(2), "{:?}", t.elapsed());
    assert!(
        matches!(
            e,
            SmtpError::Failed {
                stage: "greeting",
                ..
            }
        ),
        "{e:?}"
    );
}

#[test]
fn dates_are_rfc5322() {
    let at = |s: u64| rfc5322_date(UNIX_EPOCH + Duration::from_secs(s));
    assert_eq!(at(0), "Thu, 01 Jan 1970 00:00:00 +0000");
    assert_eq!(at(951_782_400), "Tue, 29 Feb 2000 00:00:00 +0000");
    assert_eq!(at(1_741_079_101), "Tue, 04 Mar 2025 09:05:01 +0000");
}

/// The envelope takes the address of `Name <user@host>`; what is no address is
/// refused (with a warning), not sent to the server as written.
#[test]
fn addresses_are_mailboxes() {
    assert_eq!(mailbox("k", "a@b.c").unwrap().email.to_string(), "a@b.c");
    let named = mailbox("k", "Keepalived <k@x.y>").unwrap();
    assert_eq!(named.email.to_string(), "k@x.y");
    assert_eq!(named.to_string(), "Keepalived <k@x.y>");
    assert_eq!(mailbox("k", " a@b ").unwrap().email.to_string(), "a@b");
    assert!(mailbox("k", "root").is_none());
    assert!(mailbox("k", "a@").is_none());

    let p = Policy::from_global(&global(
        "global_defs {\n notification_email {\n root\n ops@x.y\n }\n smtp_server 127.0.0.1\n}\n",
    ));
    let s = p.settings.unwrap();
    assert_eq!(s.to, [mailbox("k", "ops@x.y").unwrap()]);
    let none = Policy::from_global(&global(
        "global_defs {\n notification_email {\n root\n }\n smtp_server 127.0.0.1\n}\n",
    ));
    assert!(none.settings.is_none());
}

fn global(text: &str) -> GlobalDefs {
    let opts = keepup_config::LoadOptions {
        interfaces: None,
        check_scripts: false,
        ..keepup_config::LoadOptions::for_this_host()
    };
    keepup_config::load_str("test.conf", text, &opts)
        .config
        .global_defs
}

fn notify(alert: Option<bool>) -> Notify {
    Notify {
        smtp_alert: alert,
        ..Notify::default()
    }
}

/// keepalived's precedence: the instance's (or group's) own `smtp_alert`, else
/// `smtp_alert_vrrp`, else `smtp_alert`, else no mail; `no_email_faults` drops FAULT.
#[test]
fn who_gets_mail() {
    let base = "notification_email {\n  a@b.c\n }\n smtp_server 127.0.0.1 2525\n";
    let p =
        |extra: &str| Policy::from_global(&global(&format!("global_defs {{\n {base}{extra}}}\n")));

    let none = p("");
    assert!(!none.wants(&notify(None), "MASTER"));
    assert!(none.wants(&notify(Some(true)), "MASTER"));

    let global_on = p(" smtp_alert on\n");
    assert!(global_on.wants(&notify(None), "BACKUP"));
    assert!(!global_on.wants(&notify(Some(false)), "BACKUP"));

    let vrrp_off = p(" smtp_alert on\n smtp_alert_vrrp off\n");
    assert!(!vrrp_off.wants(&notify(None), "MASTER"));
    assert!(vrrp_off.wants(&notify(Some(true)), "MASTER"));

    let vrrp_on = p(" smtp_alert off\n smtp_alert_vrrp\n");
    assert!(vrrp_on.wants(&notify(None), "MASTER"));

    let no_faults = p(" smtp_alert\n no_email_faults\n");
    assert!(no_faults.wants(&notify(None), "MASTER"));
    assert!(!no_faults.wants(&notify(None), "FAULT"));

    let s = none.settings.unwrap();
    assert_eq!(
        (s.host.as_str(), s.port, s.to.len()),
        ("127.0.0.1", 2525, 1)
    );
    assert_eq!(s.from.to_string(), format!("keepalived@{}", host_name()));
    assert_eq!(s.helo, host_name());
    assert_eq!(s.timeout, Duration::from_secs(30));
    assert_eq!(none.router_id, host_name());

    // No server or no recipient: nothing to send with.
    let p2 = Policy::from_global(&global(
        "global_defs {\n smtp_alert\n smtp_server 127.0.0.1\n}\n",
    ));
    assert!(p2.settings.is_none() && p2.default_alert);
}

#[test]
fn subjects_and_bodies() {
    let m = alert("R1", Kind::Instance, "VI_1", "MASTER", 150);
    assert_eq!(m.subject, "[R1] VRRP Instance VI_1 - Entering MASTER state");
    assert!(m
        .body
        .starts_with("=> VRRP Instance is now owning VRRP VIPs <=\n"));
    assert!(m.body.contains("now MASTER") && m.body.contains("priority: 150"));
    let g = alert("R1", Kind::Group, "G1", "FAULT", 0);
    assert_eq!(g.subject, "[R1] VRRP Group G1 - Entering FAULT state");
    assert!(g
        .body
        .starts_with("=> All VRRP group instances are now in FAULT state <=\n"));
    let s = alert("R1", Kind::Instance, "VI_1", "STOP", 0);
    assert_eq!(s.subject, "[R1] VRRP Instance VI_1 - Stopping");
}

fn alerts_to(port: u16, extra: &str) -> Alerts {
    let mut a = Alerts::default();
    a.configure(&global(&format!(
        "global_defs {{\n router_id R1\n notification_email {{\n  ops@x.y\n }}\n notification_email_from keepup@r1\n smtp_server 127.0.0.1 {port}\n smtp_connect_timeout 2\n{extra}}}\n"
    )));
    a
}

/// Through the queue: mails arrive in transition order, a repeated state is not
/// mailed twice, and closing waits for the queued ones.
#[tokio::test]
async fn alerts_in_order_once_per_state() {
    let mut sink = Sink::start(Behaviour::default()).await;
    let mut a = alerts_to(sink.port, " smtp_alert\n");
    let n = notify(None);
    for state in ["BACKUP", "MASTER", "MASTER", "FAULT", "BACKUP"] {
        a.transition(Kind::Instance, "VI_1", &n, state, 100);
    }
    a.transition(Kind::Instance, "VI_2", &notify(Some(false)), "MASTER", 100);
    a.transition(Kind::Group, "G1", &n, "MASTER", 0);
    tokio::time::timeout(Duration::from_secs(10), a.close().unwrap())
        .await
        .unwrap()
        .unwrap();
    let mut subjects = Vec::new();
    while let Ok(s) = sink.sessions.try_recv() {
        let subj = s
            .data
            .lines()
            .find_map(|l| l.strip_prefix("Subject: "))
            .unwrap()
            .to_string();
        subjects.push(subj);
    }
    assert_eq!(
        subjects,
        [
            "[R1] VRRP Instance VI_1 - Entering BACKUP state",
            "[R1] VRRP Instance VI_1 - Entering MASTER state",
            "[R1] VRRP Instance VI_1 - Entering FAULT state",
            "[R1] VRRP Instance VI_1 - Entering BACKUP state",
            "[R1] VRRP Group G1 - Entering MASTER state",
        ]
    );
}

/// A server that never answers: transitions return at once, the queue fills, and
/// further alerts are dropped rather than waited for.
#[tokio::test]
async fn a_stuck_server_never_blocks_transitions() {
    let sink = Sink::start(Behaviour {
        silent: true,
        ..Behaviour::default()
    })
    .await;
    let mut a = alerts_to(sink.port, " smtp_alert\n");
    let n = notify(None);
    let t = Instant::now();
    let mut queued = 0;
    for i in 0..(QUEUE + 20) {
        if a.transition(Kind::Instance, &format!("VI_{i}"), &n, "MASTER", 100) {
            queued += 1;
        }
        // Let the task take the first mail off the queue.
        tokio::task::yield_now().await;
    }
    assert!(t.elapsed() < Duration::from_secs(1), "{:?}", t.elapsed());
    assert!(
        (QUEUE..=QUEUE + 1).contains(&queued),
        "{queued} queued of {}",
        QUEUE + 20
    );
    if let Some(task) = a.close() {
        task.abort();
    }
}
