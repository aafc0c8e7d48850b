//! The `SMTP_CHECK` conversation as a pure state machine: bytes from the server in,
//! the next line to write or a verdict out. No socket, no clock: the probe owns the
//! connection and the timeouts, so every rule here is a plain unit test.
//!
//! The dialog is keepalived's (check/check_smtp.c, `smtp_engine_thread`): wait for
//! the greeting, which must be 220; send `HELO <helo_name>`; the answer must be 250;
//! send `QUIT`; any answer to QUIT ends the check well. Where keepalived is looser
//! or stricter than RFC 5321 in ways that would mark a sound server down, this module
//! follows the RFC and says so at the spot.
//!
//! A probe drives it like this; after `Send`, `feed(&[])` lets the dialog read what
//! it already holds (a server may have sent more than one reply in one segment):
//!
//! ```no_run
//! # use keepup_check::proto::smtp::{SmtpDialog, SmtpFailure, Step};
//! # fn probe(conn: &mut (impl std::io::Read + std::io::Write)) -> std::io::Result<Result<(), SmtpFailure>> {
//! let mut dialog = SmtpDialog::new("smtpchecker.keepalived.org");
//! let mut buf = [0u8; 1024];
//! let mut step = Step::NeedMore;
//! loop {
//!     step = match step {
//!         Step::Send(line) => {
//!             conn.write_all(&line)?;
//!             dialog.feed(&[])
//!         }
//!         Step::NeedMore => match conn.read(&mut buf)? {
//!             0 => return Ok(Err(dialog.eof())),
//!             n => dialog.feed(&buf[..n]),
//!         },
//!         Step::Done(verdict) => return Ok(verdict),
//!     };
//! }
//! # }
//! ```
use std::fmt::{self, Write as _};

use keepup_config::model::lvs::SmtpCheck;

/// The HELO name when `helo_name` is not set: keepalived's `SMTP_DEFAULT_HELO`
/// (include/check_smtp.h).
pub const DEFAULT_HELO_NAME: &str = "smtpchecker.keepalived.org";

/// The longest reply line accepted, line end included. RFC 5321 §4.5.3.1.5 sets 512
/// octets; keepalived reads replies into a buffer of the same size (`SMTP_BUFF_MAX`),
/// so a server that passes there passes here. It also bounds this dialog's memory.
pub const MAX_LINE: usize = 512;

/// The most lines one multi-line reply may have. Real greetings and HELO answers
/// have a handful; a server that streams continuation lines forever is broken, and
/// saying so now beats waiting for the read timeout.
pub const MAX_REPLY_LINES: usize = 64;

/// How many bytes of the server's text a failure quotes.
const QUOTE_LEN: usize = 80;

/// The longest command line we write (RFC 5321 §4.5.3.1.4: 512 octets with CRLF).
const MAX_COMMAND: usize = 512;

/// The command that ends the dialog.
const QUIT: &[u8] = b"QUIT\r\n";

/// Which reply the dialog is waiting for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Stage {
    /// The server's opening 220.
    Greeting,
    /// The answer to `HELO`.
    Helo,
    /// The answer to `QUIT`.
    Quit,
}

impl fmt::Display for Stage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Stage::Greeting => "greeting",
            Stage::Helo => "HELO reply",
            Stage::Quit => "QUIT reply",
        })
    }
}

/// Why an SMTP check failed, in words for the operator's log. Quoted server text is
/// already escaped (non-printable bytes as `\xNN`) and cut to a readable length.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SmtpFailure {
    /// The greeting's code was not 220 (keepalived: "Bad greeting banner").
    /// `text` is the reply's first line.
    #[error("SMTP greeting {code} (expected 220): \"{text}\"")]
    Greeting { code: u16, text: String },
    /// The answer to HELO was not 250 (keepalived: "Bad HELO response").
    #[error("SMTP HELO answered {code} (expected 250): \"{text}\"")]
    Helo { code: u16, text: String },
    /// A line that does not start with a three-digit code followed by a space, a
    /// hyphen or the line end: not an SMTP server, or not one in its right mind.
    #[error("SMTP {stage} is not an SMTP reply: \"{text}\"")]
    NotAReply { stage: Stage, text: String },
    /// A line ran past [`MAX_LINE`] bytes without ending.
    #[error("SMTP {stage} has a line longer than {MAX_LINE} bytes: \"{text}\"")]
    LineTooLong { stage: Stage, text: String },
    /// A multi-line reply ran past [`MAX_REPLY_LINES`] lines; `text` is its first.
    #[error("SMTP {stage} runs past {MAX_REPLY_LINES} lines: \"{text}\"")]
    TooManyLines { stage: Stage, text: String },
    /// The server closed the connection while `stage` was awaited; `partial` quotes
    /// what it had sent of that reply, if anything.
    #[error("SMTP server closed the connection {}", closed_words(*.stage, .partial.as_deref()))]
    Closed {
        stage: Stage,
        partial: Option<String>,
    },
}

/// The end of the `Closed` message: where in the dialog the server hung up.
fn closed_words(stage: Stage, partial: Option<&str>) -> String {
    match (stage, partial) {
        (Stage::Greeting, None) => "before its greeting".into(),
        (Stage::Helo, None) => "after the greeting".into(),
        (Stage::Quit, None) => "after HELO, before answering QUIT".into(),
        (stage, Some(text)) => format!("in the middle of its {stage}: \"{text}\""),
    }
}

/// What the probe does next.
#[derive(Debug, Clone, PartialEq, Eq)]
#[must_use]
pub enum Step {
    /// Write these bytes, then call [`SmtpDialog::feed`] (with `&[]` if nothing new
    /// was read) so the dialog reads any reply it already holds.
    Send(Vec<u8>),
    /// Read from the server and feed what arrives.
    NeedMore,
    /// The check is over; close the connection.
    Done(Result<(), SmtpFailure>),
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum State {
    Awaiting(Stage),
    Done(Result<(), SmtpFailure>),
}

/// One SMTP check conversation with one server. Create one per attempt.
#[derive(Debug, Clone)]
pub struct SmtpDialog {
    /// The whole `HELO <name>\r\n` line, built once.
    helo: Vec<u8>,
    state: State,
    /// The line being received, without its `\n`; never longer than `MAX_LINE - 1`.
    line: Vec<u8>,
    /// Lines of the current reply seen so far.
    reply_lines: usize,
    /// The current reply's first line, quoted, for the failure message.
    first_line: Option<String>,
    /// Bytes that came after a reply we answered with `Send`: the next reply, read
    /// on the next `feed`. Only as large as what the probe handed in at once.
    held: Vec<u8>,
}

impl SmtpDialog {
    /// A dialog that introduces itself as `helo_name`. Control characters are
    /// dropped (a line break in the name would inject a command) and an over-long
    /// name is cut so the HELO line fits RFC 5321's 512 octets; an empty name
    /// becomes [`DEFAULT_HELO_NAME`].
    pub fn new(helo_name: &str) -> Self {
        let mut name: String = helo_name.chars().filter(|c| !c.is_control()).collect();
        let room = MAX_COMMAND - "HELO \r\n".len();
        if name.len() > room {
            let mut cut = room;
            while !name.is_char_boundary(cut) {
                cut -= 1;
            }
            name.truncate(cut);
        }
        if name.trim().is_empty() {
            name = DEFAULT_HELO_NAME.into();
        }
        SmtpDialog {
            helo: format!("HELO {name}\r\n").into_bytes(),
            state: State::Awaiting(Stage::Greeting),
            line: Vec::new(),
            reply_lines: 0,
            first_line: None,
            held: Vec::new(),
        }
    }

    /// A dialog for a configured `SMTP_CHECK` block, `helo_name` defaulted as
    /// keepalived does.
    pub fn for_check(check: &SmtpCheck) -> Self {
        Self::new(check.helo_name.as_deref().unwrap_or(DEFAULT_HELO_NAME))
    }

    /// The reply being waited for, or `None` once the verdict is in (for a probe's
    /// timeout message: "no HELO reply within 5s").
    pub fn stage(&self) -> Option<Stage> {
        match self.state {
            State::Awaiting(stage) => Some(stage),
            State::Done(_) => None,
        }
    }

    /// Take bytes from the server, split anywhere, and say what to do next. After
    /// the verdict, every call repeats it and ignores the bytes.
    pub fn feed(&mut self, bytes: &[u8]) -> Step {
        if self.held.is_empty() {
            self.read(bytes)
        } else {
            let mut input = std::mem::take(&mut self.held);
            input.extend_from_slice(bytes);
            self.read(&input)
        }
    }

    /// The server closed the connection: the failure to report. Replies already
    /// held are read first, so the failure names the stage the dialog really
    /// reached. Meant for while the dialog waits; after a failure it repeats that
    /// failure, and after a good verdict it describes the (harmless) close without
    /// changing the verdict.
    pub fn eof(&mut self) -> SmtpFailure {
        if !self.held.is_empty() {
            // A `Send` here is moot: the connection is gone.
            let _ = self.feed(&[]);
        }
        let stage = match &self.state {
            State::Done(Err(failure)) => return failure.clone(),
            State::Done(Ok(())) => {
                return SmtpFailure::Closed {
                    stage: Stage::Quit,
                    partial: None,
                }
            }
            State::Awaiting(stage) => *stage,
        };
        let partial = self
            .first_line
            .clone()
            .or_else(|| (!self.line.is_empty()).then(|| quote(strip_cr(&self.line))));
        let failure = SmtpFailure::Closed { stage, partial };
        let _ = self.finish(Err(failure.clone()));
        failure
    }

    /// Run `input` through the line reader until the dialog has something to say.
    fn read(&mut self, input: &[u8]) -> Step {
        for (at, &byte) in input.iter().enumerate() {
            let stage = match &self.state {
                State::Awaiting(stage) => *stage,
                State::Done(verdict) => return Step::Done(verdict.clone()),
            };
            if byte != b'\n' {
                // Fail as the line reaches the limit, before storing more: an
                // endless line costs MAX_LINE bytes, not whatever the server sends.
                if self.line.len() + 1 >= MAX_LINE {
                    let text = quote(&self.line);
                    return self.finish(Err(SmtpFailure::LineTooLong { stage, text }));
                }
                self.line.push(byte);
                continue;
            }
            let line = std::mem::take(&mut self.line);
            let step = self.on_line(stage, strip_cr(&line));
            // Keep the allocation for the next line.
            self.line = line;
            self.line.clear();
            match step {
                None => {}
                Some(Step::Send(command)) => {
                    self.held = input.get(at + 1..).unwrap_or_default().to_vec();
                    return Step::Send(command);
                }
                Some(step) => return step,
            }
        }
        match &self.state {
            State::Awaiting(_) => Step::NeedMore,
            State::Done(verdict) => Step::Done(verdict.clone()),
        }
    }

    /// One complete line (line end removed) while `stage` is awaited.
    fn on_line(&mut self, stage: Stage, text: &[u8]) -> Option<Step> {
        if stage == Stage::Quit {
            // keepalived ends the check well on the first line after QUIT, whatever
            // it says (check_smtp.c, SMTP_RECV_QUIT): the server already proved
            // itself by greeting and answering HELO.
            return Some(self.finish(Ok(())));
        }
        let Some((code, last)) = reply_line(text) else {
            let text = quote(text);
            return Some(self.finish(Err(SmtpFailure::NotAReply { stage, text })));
        };
        self.reply_lines += 1;
        if self.first_line.is_none() {
            self.first_line = Some(quote(text));
        }
        if !last {
            // RFC 5321 §4.2.1: `code-text` lines continue the reply; keepalived
            // fails any multi-line greeting, which marks a sound server down.
            if self.reply_lines >= MAX_REPLY_LINES {
                let text = self.first_line.take().unwrap_or_default();
                return Some(self.finish(Err(SmtpFailure::TooManyLines { stage, text })));
            }
            return None;
        }
        // The final line's code is the reply's (a server should repeat one code on
        // every line; the last one is what any client acts on).
        let first = self.first_line.take().unwrap_or_default();
        self.reply_lines = 0;
        match (stage, code) {
            (Stage::Greeting, 220) => {
                self.state = State::Awaiting(Stage::Helo);
                Some(Step::Send(self.helo.clone()))
            }
            (Stage::Helo, 250) => {
                self.state = State::Awaiting(Stage::Quit);
                Some(Step::Send(QUIT.to_vec()))
            }
            (Stage::Greeting, code) => {
                Some(self.finish(Err(SmtpFailure::Greeting { code, text: first })))
            }
            (Stage::Helo, code) => Some(self.finish(Err(SmtpFailure::Helo { code, text: first }))),
            (Stage::Quit, _) => Some(self.finish(Ok(()))),
        }
    }

    /// Record the verdict and forget buffered input: nothing after it matters.
    fn finish(&mut self, verdict: Result<(), SmtpFailure>) -> Step {
        self.held = Vec::new();
        self.line = Vec::new();
        self.first_line = None;
        self.state = State::Done(verdict.clone());
        Step::Done(verdict)
    }
}

/// A reply line's code and whether it is the reply's last line, or `None` when the
/// line is not a reply line. Any three digits count as a code, as in keepalived's
/// `smtp_get_status`, so an odd code is reported as a code, not as noise. A code
/// alone on the line ends the reply (RFC 5321 §4.2: the text is optional); keepalived
/// rejects `220\r\n` only because it leaves the `\r` in place.
fn reply_line(text: &[u8]) -> Option<(u16, bool)> {
    let [a, b, c, rest @ ..] = text else {
        return None;
    };
    if !(a.is_ascii_digit() && b.is_ascii_digit() && c.is_ascii_digit()) {
        return None;
    }
    let code = [a, b, c]
        .iter()
        .fold(0u16, |n, d| n * 10 + u16::from(**d - b'0'));
    match rest.first() {
        None | Some(b' ') => Some((code, true)),
        Some(b'-') => Some((code, false)),
        Some(_) => None,
    }
}

/// A line without the `\r` of its CRLF (a bare `\n` also ends a line: keepalived
/// looks for `\n` only, and lenient servers exist).
fn strip_cr(line: &[u8]) -> &[u8] {
    line.strip_suffix(b"\r").unwrap_or(line)
}

/// Server text fit for a log line: printable ASCII as is, everything else escaped,
/// at most `QUOTE_LEN` bytes of it, `...` when cut.
fn quote(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(QUOTE_LEN + 8);
    for &b in bytes.iter().take(QUOTE_LEN) {
        match b {
            b'"' => out.push_str("\\\""),
            b'\\' => out.push_str("\\\\"),
            b'\r' => out.push_str("\\r"),
            b'\t' => out.push_str("\\t"),
            0x20..=0x7e => out.push(char::from(b)),
            _ => {
                let _ = write!(out, "\\x{b:02x}");
            }
        }
    }
    if bytes.len() > QUOTE_LEN {
        out.push_str("...");
    }
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests: a panic is the failure report
mod tests {
    use super::*;
    use proptest::prelude::*;

    const HELO: &[u8] = b"HELO probe.example\r\n";
    const GOOD: &[u8] = b"220 mx.example ESMTP ready\r\n250 mx.example\r\n221 bye\r\n";

    /// What a probe would see: the bytes the dialog wrote and its verdict, `None`
    /// when it still waits.
    #[derive(Debug, PartialEq)]
    struct Outcome {
        sent: Vec<u8>,
        verdict: Option<Result<(), SmtpFailure>>,
    }

    /// Plays the server's bytes to a dialog in `chunks`, draining after each `Send`
    /// as a probe does, then closes the connection if `close`.
    fn play_with(dialog: &mut SmtpDialog, chunks: &[&[u8]], close: bool) -> Outcome {
        let mut sent = Vec::new();
        for chunk in chunks {
            let mut step = dialog.feed(chunk);
            loop {
                match step {
                    Step::Send(bytes) => {
                        sent.extend_from_slice(&bytes);
                        step = dialog.feed(&[]);
                    }
                    Step::NeedMore => break,
                    Step::Done(verdict) => {
                        return Outcome {
                            sent,
                            verdict: Some(verdict),
                        }
                    }
                }
            }
        }
        let verdict = close.then(|| Err(dialog.eof()));
        Outcome { sent, verdict }
    }

    fn play(chunks: &[&[u8]], close: bool) -> Outcome {
        play_with(&mut SmtpDialog::new("probe.example"), chunks, close)
    }

    fn failure(chunks: &[&[u8]], close: bool) -> SmtpFailure {
        match play(chunks, close).verdict {
            Some(Err(f)) => f,
            other => panic!("expected a failure, got {other:?}"),
        }
    }

    fn full_dialog() -> Vec<u8> {
        [HELO, QUIT].concat()
    }

    #[test]
    fn normal_dialog_byte_by_byte() {
        let mut d = SmtpDialog::new("probe.example");
        let (greeting, rest) = GOOD.split_at(28);
        let (helo_reply, quit_reply) = rest.split_at(16);
        assert_eq!(d.stage(), Some(Stage::Greeting));
        for (i, b) in greeting.iter().enumerate() {
            let step = d.feed(std::slice::from_ref(b));
            if i + 1 < greeting.len() {
                assert_eq!(step, Step::NeedMore, "byte {i}");
            } else {
                assert_eq!(step, Step::Send(HELO.to_vec()));
            }
        }
        assert_eq!(d.feed(&[]), Step::NeedMore);
        assert_eq!(d.stage(), Some(Stage::Helo));
        for (i, b) in helo_reply.iter().enumerate() {
            let step = d.feed(std::slice::from_ref(b));
            if i + 1 < helo_reply.len() {
                assert_eq!(step, Step::NeedMore, "byte {i}");
            } else {
                assert_eq!(step, Step::Send(b"QUIT\r\n".to_vec()));
            }
        }
        assert_eq!(d.stage(), Some(Stage::Quit));
        for (i, b) in quit_reply.iter().enumerate() {
            let step = d.feed(std::slice::from_ref(b));
            if i + 1 < quit_reply.len() {
                assert_eq!(step, Step::NeedMore, "byte {i}");
            } else {
                assert_eq!(step, Step::Done(Ok(())));
            }
        }
        assert_eq!(d.stage(), None);
    }

    #[test]
    fn every_reply_in_one_feed() {
        let out = play(&[GOOD], false);
        assert_eq!(out.sent, full_dialog());
        assert_eq!(out.verdict, Some(Ok(())));
    }

    #[test]
    fn split_at_every_byte_position() {
        for i in 0..=GOOD.len() {
            let (a, b) = GOOD.split_at(i);
            let out = play(&[a, b], false);
            assert_eq!(out.sent, full_dialog(), "split at {i}");
            assert_eq!(out.verdict, Some(Ok(())), "split at {i}");
        }
    }

    #[test]
    fn split_at_every_pair_of_positions() {
        for i in 0..=GOOD.len() {
            for j in i..=GOOD.len() {
                let out = play(&[&GOOD[..i], &GOOD[i..j], &GOOD[j..]], false);
                assert_eq!(out.verdict, Some(Ok(())), "split at {i}, {j}");
            }
        }
    }

    #[test]
    fn multi_line_greeting_and_helo_reply() {
        let server = b"220-mx.example ESMTP\r\n220-no UCE\r\n220 ready\r\n\
                       250-mx.example hello\r\n250 HELP\r\n221 bye\r\n";
        let out = play(&[server], false);
        assert_eq!(out.sent, full_dialog());
        assert_eq!(out.verdict, Some(Ok(())));
    }

    #[test]
    fn multi_line_greeting_waits_for_its_last_line() {
        let mut d = SmtpDialog::new("probe.example");
        assert_eq!(d.feed(b"220-first\r\n220-second\r\n"), Step::NeedMore);
        assert_eq!(d.feed(b"220 last\r\n"), Step::Send(HELO.to_vec()));
    }

    #[test]
    fn bare_lf_line_ends() {
        let out = play(&[b"220 hi\n250 ok\n221 bye\n"], false);
        assert_eq!(out.verdict, Some(Ok(())));
    }

    #[test]
    fn code_alone_on_a_line_is_a_reply() {
        let out = play(&[b"220\r\n250\r\n221\r\n"], false);
        assert_eq!(out.verdict, Some(Ok(())));
    }

    #[test]
    fn greeting_refused() {
        let f = failure(&[b"554 no service\r\n"], false);
        assert_eq!(
            f,
            SmtpFailure::Greeting {
                code: 554,
                text: "554 no service".into()
            }
        );
        assert_eq!(
            f.to_string(),
            r#"SMTP greeting 554 (expected 220): "554 no service""#
        );
    }

    #[test]
    fn temporary_greeting_refusal_fails_too() {
        // keepalived compares with 220 only: 421 "try later" is a failure.
        let f = failure(&[b"421 busy\r\n"], false);
        assert!(matches!(f, SmtpFailure::Greeting { code: 421, .. }));
    }

    #[test]
    fn multi_line_refusal_quotes_its_first_line() {
        let f = failure(
            &[b"554-blocked: 10.0.0.5 listed\r\n554 see the site\r\n"],
            false,
        );
        assert_eq!(
            f.to_string(),
            r#"SMTP greeting 554 (expected 220): "554-blocked: 10.0.0.5 listed""#
        );
    }

    #[test]
    fn final_line_code_decides() {
        let out = play(&[b"554-odd\r\n220 fine after all\r\n"], false);
        assert_eq!(out.sent, HELO);
        assert_eq!(out.verdict, None);
    }

    #[test]
    fn helo_refused() {
        let out = play(&[b"220 hi\r\n", b"501 syntax error\r\n"], false);
        assert_eq!(out.sent, HELO);
        let f = out.verdict.unwrap().unwrap_err();
        assert_eq!(
            f,
            SmtpFailure::Helo {
                code: 501,
                text: "501 syntax error".into()
            }
        );
        assert_eq!(
            f.to_string(),
            r#"SMTP HELO answered 501 (expected 250): "501 syntax error""#
        );
    }

    #[test]
    fn any_answer_to_quit_passes() {
        for quit_reply in [&b"221 bye\r\n"[..], b"500 what?\r\n", b"garbage\n", b"\r\n"] {
            let out = play(&[b"220 hi\r\n250 ok\r\n", quit_reply], false);
            assert_eq!(out.verdict, Some(Ok(())), "{quit_reply:?}");
        }
    }

    #[test]
    fn closed_before_the_greeting() {
        let f = failure(&[], true);
        assert_eq!(
            f.to_string(),
            "SMTP server closed the connection before its greeting"
        );
    }

    #[test]
    fn closed_in_the_middle_of_the_greeting() {
        let f = failure(&[b"220 mx.exa"], true);
        assert_eq!(
            f.to_string(),
            r#"SMTP server closed the connection in the middle of its greeting: "220 mx.exa""#
        );
        let f = failure(&[b"220-first\r\n220-sec"], true);
        assert_eq!(
            f,
            SmtpFailure::Closed {
                stage: Stage::Greeting,
                partial: Some("220-first".into())
            }
        );
    }

    #[test]
    fn closed_after_the_greeting() {
        let f = failure(&[b"220 hi\r\n"], true);
        assert_eq!(
            f.to_string(),
            "SMTP server closed the connection after the greeting"
        );
    }

    #[test]
    fn closed_before_answering_quit() {
        // keepalived also fails here: it needs a line after QUIT (a read of 0 bytes
        // is "Read failure").
        let f = failure(&[b"220 hi\r\n250 ok\r\n"], true);
        assert_eq!(
            f.to_string(),
            "SMTP server closed the connection after HELO, before answering QUIT"
        );
        let f = failure(&[b"220 hi\r\n250 ok\r\n221 by"], true);
        assert_eq!(
            f.to_string(),
            r#"SMTP server closed the connection in the middle of its QUIT reply: "221 by""#
        );
    }

    #[test]
    fn eof_reads_held_replies_first() {
        // The probe fed everything and hit the close without draining after Send.
        let mut d = SmtpDialog::new("probe.example");
        assert_eq!(d.feed(b"220 hi\r\n250 ok\r\n"), Step::Send(HELO.to_vec()));
        assert_eq!(
            d.eof(),
            SmtpFailure::Closed {
                stage: Stage::Quit,
                partial: None
            }
        );
    }

    #[test]
    fn http_server_is_not_an_smtp_server() {
        let f = failure(
            &[b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n"],
            false,
        );
        assert_eq!(
            f.to_string(),
            r#"SMTP greeting is not an SMTP reply: "HTTP/1.1 400 Bad Request""#
        );
    }

    #[test]
    fn garbage_is_escaped_and_cut() {
        let mut line = b"\x00\x1b[31m\"q\"\\ \xff".to_vec();
        line.extend(std::iter::repeat_n(b'z', 200));
        line.extend_from_slice(b"\r\n");
        let f = failure(&[&line], false);
        let shown = f.to_string();
        assert!(
            shown.starts_with(r#"SMTP greeting is not an SMTP reply: "\x00\x1b[31m\"q\"\\ \xff"#),
            "{shown}"
        );
        assert!(shown.ends_with("zzz...\""), "{shown}");
        assert!(shown.len() < 200, "{shown}");
    }

    #[test]
    fn malformed_reply_lines() {
        for line in [
            &b"22 short\r\n"[..],
            b"2201 four digits\r\n",
            b"220_underscore\r\n",
            b" 220 leading space\r\n",
            b"+22 sign\r\n",
            b"\r\n",
        ] {
            let f = failure(&[line], false);
            assert!(
                matches!(
                    f,
                    SmtpFailure::NotAReply {
                        stage: Stage::Greeting,
                        ..
                    }
                ),
                "{line:?}: {f}"
            );
        }
        let f = failure(&[b"220 hi\r\n", b"250\tok\r\n"], false);
        assert!(matches!(
            f,
            SmtpFailure::NotAReply {
                stage: Stage::Helo,
                ..
            }
        ));
    }

    #[test]
    fn endless_line_fails_with_bounded_memory() {
        let mut d = SmtpDialog::new("probe.example");
        let chunk = vec![b'x'; 4096];
        let mut fed = 0;
        let verdict = loop {
            match d.feed(&chunk) {
                Step::NeedMore => fed += chunk.len(),
                Step::Done(v) => break v,
                Step::Send(s) => panic!("sent {s:?}"),
            }
            assert!(fed < 1 << 20, "still reading after {fed} bytes");
        };
        assert_eq!(fed, 0, "fails within the first chunk");
        let f = verdict.unwrap_err();
        assert!(matches!(
            f,
            SmtpFailure::LineTooLong {
                stage: Stage::Greeting,
                ..
            }
        ));
        assert!(f
            .to_string()
            .starts_with("SMTP greeting has a line longer than 512 bytes: \"xxxx"));
        // Byte by byte the line buffer never grows past the limit either.
        let mut d = SmtpDialog::new("probe.example");
        for i in 0..2 * MAX_LINE {
            match d.feed(b"y") {
                Step::NeedMore => assert!(d.line.len() < MAX_LINE, "byte {i}"),
                Step::Done(v) => {
                    assert!(matches!(v, Err(SmtpFailure::LineTooLong { .. })));
                    assert_eq!(i, MAX_LINE - 1);
                    return;
                }
                Step::Send(s) => panic!("sent {s:?}"),
            }
        }
        panic!("no verdict");
    }

    #[test]
    fn line_length_limit_counts_the_line_end() {
        // 512 octets with CRLF is the RFC 5321 limit: accepted.
        let mut longest = b"220 ".to_vec();
        longest.resize(MAX_LINE - 2, b'a');
        longest.extend_from_slice(b"\r\n");
        assert_eq!(longest.len(), MAX_LINE);
        assert_eq!(play(&[&longest], false).sent, HELO);
        // One more octet is not.
        let mut over = b"220 ".to_vec();
        over.resize(MAX_LINE - 1, b'a');
        over.extend_from_slice(b"\r\n");
        assert!(matches!(
            failure(&[&over], false),
            SmtpFailure::LineTooLong { .. }
        ));
    }

    #[test]
    fn too_many_continuation_lines() {
        let mut server = Vec::new();
        for _ in 0..MAX_REPLY_LINES {
            server.extend_from_slice(b"220-more\r\n");
        }
        server.extend_from_slice(b"220 done\r\n");
        let f = failure(&[&server], false);
        assert_eq!(
            f.to_string(),
            r#"SMTP greeting runs past 64 lines: "220-more""#
        );
        // One fewer continuation line is fine.
        let fine = &server[b"220-more\r\n".len()..];
        assert_eq!(play(&[fine], false).sent, HELO);
    }

    #[test]
    fn verdict_is_final() {
        let mut d = SmtpDialog::new("probe.example");
        let out = play_with(&mut d, &[b"554 no\r\n"], false);
        let verdict = out.verdict.unwrap();
        assert_eq!(
            d.feed(b"220 changed my mind\r\n"),
            Step::Done(verdict.clone())
        );
        assert_eq!(Err(d.eof()), verdict);

        let mut d = SmtpDialog::new("probe.example");
        assert_eq!(play_with(&mut d, &[GOOD], false).verdict, Some(Ok(())));
        let _ = d.eof();
        assert_eq!(d.feed(b""), Step::Done(Ok(())));
    }

    #[test]
    fn helo_name_default_and_hygiene() {
        let mut d = SmtpDialog::for_check(&SmtpCheck::default());
        assert_eq!(
            d.feed(b"220 hi\r\n"),
            Step::Send(b"HELO smtpchecker.keepalived.org\r\n".to_vec())
        );
        let check = SmtpCheck {
            helo_name: Some("lb1.example.net".into()),
            ..SmtpCheck::default()
        };
        let mut d = SmtpDialog::for_check(&check);
        assert_eq!(
            d.feed(b"220 hi\r\n"),
            Step::Send(b"HELO lb1.example.net\r\n".to_vec())
        );
        // A line break in the name must not become a second command.
        let mut d = SmtpDialog::new("evil\r\nRCPT TO:<x@y>");
        assert_eq!(
            d.feed(b"220 hi\r\n"),
            Step::Send(b"HELO evilRCPT TO:<x@y>\r\n".to_vec())
        );
        let mut d = SmtpDialog::new(" \t");
        assert_eq!(
            d.feed(b"220 hi\r\n"),
            Step::Send(b"HELO smtpchecker.keepalived.org\r\n".to_vec())
        );
        let mut d = SmtpDialog::new(&"é".repeat(400));
        match d.feed(b"220 hi\r\n") {
            Step::Send(line) => {
                assert!(line.len() <= MAX_COMMAND);
                assert!(std::str::from_utf8(&line).is_ok());
                assert!(line.ends_with(b"\r\n"));
            }
            other => panic!("{other:?}"),
        }
    }

    /// Cut `data` at the given points (taken modulo its length, sorted).
    fn cut<'a>(data: &'a [u8], points: &[usize]) -> Vec<&'a [u8]> {
        let mut at: Vec<usize> = points.iter().map(|p| p % (data.len() + 1)).collect();
        at.sort_unstable();
        let mut chunks = Vec::new();
        let mut start = 0;
        for p in at {
            chunks.push(&data[start..p]);
            start = p;
        }
        chunks.push(&data[start..]);
        chunks
    }

    proptest! {
        #[test]
        fn random_bytes_in_random_splits_never_panic(
            data in proptest::collection::vec(any::<u8>(), 0..2048),
            points in proptest::collection::vec(any::<usize>(), 0..8),
            close in any::<bool>(),
        ) {
            let mut d = SmtpDialog::new("probe.example");
            let out = play_with(&mut d, &cut(&data, &points), close);
            // The dialog only ever says HELO then QUIT, in that order.
            prop_assert!(full_dialog().starts_with(&out.sent));
            prop_assert!(d.line.len() < MAX_LINE);
            if let Some(verdict) = out.verdict {
                let _ = format!("{verdict:?}");
                if let Err(f) = &verdict {
                    prop_assert!(f.to_string().len() < 400);
                } else {
                    prop_assert_eq!(&out.sent, &full_dialog());
                }
                prop_assert_eq!(d.feed(&data), Step::Done(verdict));
            }
        }

        #[test]
        fn reply_shaped_lines_never_panic(
            lines in proptest::collection::vec(
                (
                    prop::sample::select(vec!["220", "250", "221", "554", "501", "999", "22"]),
                    prop::sample::select(vec![" ", "-", "", "_"]),
                    "[ -~]{0,20}",
                    prop::sample::select(vec!["\r\n", "\n", "\r"]),
                ),
                0..12,
            ),
            points in proptest::collection::vec(any::<usize>(), 0..8),
            close in any::<bool>(),
        ) {
            let server: Vec<u8> = lines
                .iter()
                .flat_map(|(code, sep, text, end)| [*code, *sep, text.as_str(), *end].concat().into_bytes())
                .collect();
            let mut d = SmtpDialog::new("probe.example");
            let out = play_with(&mut d, &cut(&server, &points), close);
            prop_assert!(full_dialog().starts_with(&out.sent));
            if out.verdict == Some(Ok(())) {
                prop_assert_eq!(&out.sent, &full_dialog());
            }
            // The same bytes in one piece give the same verdict.
            let whole = play(&[&server], close);
            prop_assert_eq!(whole, out);
        }

        #[test]
        fn a_good_dialog_passes_in_any_split(
            points in proptest::collection::vec(any::<usize>(), 0..12),
            bare_lf in any::<bool>(),
        ) {
            let server: Vec<u8> = if bare_lf {
                GOOD.iter().copied().filter(|&b| b != b'\r').collect()
            } else {
                GOOD.to_vec()
            };
            let out = play(&cut(&server, &points), false);
            prop_assert_eq!(out.sent, full_dialog());
            prop_assert_eq!(out.verdict, Some(Ok(())));
        }
    }
}
