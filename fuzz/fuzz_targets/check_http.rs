//! Fuzzes the HTTP_GET / SSL_GET response reader over arbitrary bytes: it must never
//! panic, must stay within its memory bounds, and must reach the same verdict (and
//! genhash the same digest) however the stream is cut.
//!
//! Run: cargo fuzz run check_http --sanitizer none -- -max_total_time=300
#![no_main]

use keepup_check::proto::http::{
    HttpProtocol, Response, UrlCheck, Verdict, HEADER_LIMIT, REGEX_WINDOW,
};
use keepup_config::model::lvs::Url;
use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;

/// Checks built once: plain, with a digest, and with a bounded regex.
fn checks() -> &'static [UrlCheck] {
    static CHECKS: OnceLock<Vec<UrlCheck>> = OnceLock::new();
    CHECKS.get_or_init(|| {
        let plain = Url {
            path: Some("/".into()),
            ..Default::default()
        };
        let digest = Url {
            digest: Some("5d41402abc4b2a76b9719d911017c592".into()),
            status_code: vec![(100, 599)],
            ..plain.clone()
        };
        let regex = Url {
            regex: Some("(?i)o[a-z]{0,8}k$|Server: \\w+".into()),
            regex_min_offset: Some(4),
            regex_max_offset: Some(9000),
            regex_options: vec!["multiline".into()],
            ..plain.clone()
        };
        let no_match = Url {
            regex_no_match: true,
            ..regex.clone()
        };
        [plain, digest, regex, no_match]
            .iter()
            .filter_map(|u| UrlCheck::new(u, None, HttpProtocol::V1_1).ok())
            .collect()
    })
}

/// Feed `data` cut at `cuts` (sorted offsets), checking the memory bound after each.
fn run(mut r: Response, data: &[u8], cuts: &[usize]) -> Response {
    let mut at = 0;
    for &cut in cuts.iter().chain(std::iter::once(&data.len())) {
        r.feed(&data[at..cut]);
        assert!(r.buffered() <= HEADER_LIMIT.max(2 * REGEX_WINDOW + 4));
        at = cut;
    }
    r
}

fuzz_target!(|data: &[u8]| {
    // The first octet picks where to cut (and a second cut at its mirror); the rest
    // is what the server sent.
    let (sel, body) = match data.split_first() {
        Some((s, b)) => (usize::from(*s), b),
        None => (0, data),
    };
    let first = body.len() * sel / 255;
    let second = first + (body.len() - first) * (255 - sel) / 255;
    let cuts = [first, second];

    for check in checks() {
        let whole = run(check.response(), body, &[]).finish();
        let split = run(check.response(), body, &cuts).finish();
        assert_eq!(whole, split);
        // Byte by byte on short inputs too.
        if body.len() <= 512 {
            let mut r = check.response();
            for b in body {
                r.feed(std::slice::from_ref(b));
            }
            assert_eq!(r.finish(), whole);
        }
        match whole {
            Verdict::Pass(p) => {
                assert!(p.body_len <= body.len() as u64);
                let _ = p.content_length_mismatch();
            }
            Verdict::Fail(f) => {
                let _ = f.to_string();
            }
        }
    }

    let whole = run(Response::for_genhash(), body, &[]).finish_genhash();
    let split = run(Response::for_genhash(), body, &cuts).finish_genhash();
    assert_eq!(whole, split);
    if let Ok(d) = whole {
        assert_eq!(d.to_string().len(), 32);
    }
});
