//! Fuzzes the SMTP_CHECK dialog: arbitrary server bytes, fed in pieces of a size the
//! first octet picks, drained after every `Send` as a probe does. The dialog must not
//! panic, must only ever say HELO then QUIT, and must hold to its verdict.
//!
//! Run: cargo fuzz run check_smtp --sanitizer none -- -max_total_time=300
#![no_main]

use keepup_check::proto::smtp::{SmtpDialog, Step};
use libfuzzer_sys::fuzz_target;

const SAID: &[u8] = b"HELO fuzz.example\r\nQUIT\r\n";

fuzz_target!(|data: &[u8]| {
    let (sel, body) = match data.split_first() {
        Some((s, b)) => (*s, b),
        None => (1, data),
    };
    // Piece sizes 1..=128; the top bit also decides whether the server closes.
    let piece = usize::from(sel & 0x7f).max(1);
    let close = sel & 0x80 != 0;

    let mut dialog = SmtpDialog::new("fuzz.example");
    let mut sent = Vec::new();
    let mut verdict = None;
    'feed: for chunk in body.chunks(piece) {
        let mut step = dialog.feed(chunk);
        loop {
            match step {
                Step::Send(bytes) => {
                    sent.extend_from_slice(&bytes);
                    step = dialog.feed(&[]);
                }
                Step::NeedMore => break,
                Step::Done(v) => {
                    verdict = Some(v);
                    break 'feed;
                }
            }
        }
    }
    // Only ever HELO, then QUIT, in that order.
    assert!(SAID.starts_with(&sent), "sent {sent:?}");
    match verdict {
        // A settled verdict holds: more bytes change nothing.
        Some(v) => {
            if let Step::Done(again) = dialog.feed(b"250 more\r\n") {
                assert_eq!(again, v);
            }
            if v.is_ok() {
                assert_eq!(sent, SAID);
            }
        }
        None if close => {
            let failure = dialog.eof();
            let _ = (failure.to_string(), dialog.stage());
        }
        None => {}
    }
});
