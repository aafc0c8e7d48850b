//! What the metrics read of each checker: its last run's duration and its failures
//! by kind, kept over a reload that keeps the checker.
use super::*;

impl Lab {
    fn failures(&self, c: usize) -> Failures {
        self.s.checker(CheckerId(c)).expect("a checker").failures
    }

    fn last_duration(&self, c: usize) -> Option<Duration> {
        self.s
            .checker(CheckerId(c))
            .expect("a checker")
            .last_duration
    }

    /// Start the runs due at `at` and answer each of them `after` later with
    /// `verdict`.
    fn answer_late(&mut self, at: f64, after: Duration, verdict: &Verdict) {
        self.now = self.t0 + Duration::from_secs_f64(at);
        self.s.handle_timeout(self.now);
        let probes = self.collect();
        assert!(!probes.is_empty(), "a run is due at {at}");
        self.now += after;
        for (_, attempt) in probes {
            let verdict = verdict.clone();
            self.s.handle(self.now, Input::Done { attempt, verdict });
        }
        self.collect();
    }
}

#[test]
fn a_run_cancelled_at_its_timeout_counts_a_timeout_and_takes_the_timeout() {
    let body = "  TCP_CHECK {\n   connect_timeout 2\n   retry 0\n   warmup 0\n  }";
    let mut l = lab(&conf("", &[body]));
    assert_eq!(l.last_duration(0), None, "no run has ended");
    assert_eq!(l.failures(0), Failures::default());
    // The run starts at 1; the wake-up for its timeout comes late, at 3.5.
    l.now = l.t0 + S;
    l.s.handle_timeout(l.now);
    assert_eq!(l.collect().len(), 1);
    l.now = l.t0 + Duration::from_millis(3_500);
    l.s.handle_timeout(l.now);
    l.collect();
    assert_eq!(l.grep("cancel"), vec!["t=3.500 cancel a1"]);
    assert_eq!(l.failures(0).get(FailKind::Timeout), 1);
    assert_eq!(l.failures(0).total(), 1);
    assert_eq!(
        l.last_duration(0),
        Some(2 * S),
        "the timeout, not the lateness"
    );
    // The status says the same, in seconds and by name.
    let view = l.s.view(l.now, std::time::SystemTime::UNIX_EPOCH);
    let status = &view[0].real_servers[0].checkers[0];
    assert_eq!(status.last_duration, Some(2.0));
    assert_eq!(status.failures.get(FailKind::Timeout), 1);
}

#[test]
fn a_failed_run_counts_its_kind_and_any_run_its_duration() {
    let body = "  TCP_CHECK {\n   connect_timeout 5\n   retry 1\n   delay_before_retry 2\n   warmup 0\n  }";
    let mut l = lab(&conf("", &[body]));
    let refused = Verdict::fail(FailKind::Connect, "TCP connection refused");
    l.answer_late(1.0, Duration::from_millis(250), &refused);
    assert_eq!(l.last_duration(0), Some(Duration::from_millis(250)));
    // The retry, 2 s on: a wrong answer.
    l.answer_late(
        3.25,
        Duration::from_millis(40),
        &Verdict::fail(FailKind::Answer, "HTTP status 503"),
    );
    let f = l.failures(0);
    assert_eq!(
        f.iter().filter(|&(_, n)| n > 0).collect::<Vec<_>>(),
        vec![(FailKind::Connect, 1), (FailKind::Answer, 1)]
    );
    // A pass counts nothing but still has a duration.
    l.answer_late(13.3, Duration::from_millis(7), &Verdict::PASS);
    assert_eq!(l.failures(0), f);
    assert_eq!(l.last_duration(0), Some(Duration::from_millis(7)));
    assert_eq!(l.grep("CheckerDown").len(), 1, "{:#?}", l.lines);
}

#[test]
fn a_reload_that_keeps_a_checker_keeps_its_counts() {
    let a = "  TCP_CHECK {\n   retry 0\n   warmup 0\n  }";
    let changed = "  TCP_CHECK {\n   retry 0\n   warmup 0\n   connect_port 81\n  }";
    let c = conf("", &[a, a]);
    let mut l = lab(&c);
    l.answer_late(
        1.0,
        Duration::from_millis(30),
        &Verdict::fail(FailKind::Connect, "refused"),
    );
    assert_eq!(l.failures(0).get(FailKind::Connect), 1);
    assert_eq!(l.failures(1).get(FailKind::Connect), 1);
    // Server 1's checker is kept; server 2's changes, so it is a new checker.
    l.reload(&conf("", &[a, changed]));
    assert_eq!(l.failures(0).get(FailKind::Connect), 1);
    assert_eq!(l.last_duration(0), Some(Duration::from_millis(30)));
    assert_eq!(l.failures(1), Failures::default());
    assert_eq!(l.last_duration(1), None);
    // And it goes on counting (its next run: delay_loop after the last ended, 11.03).
    l.answer_late(
        11.5,
        Duration::ZERO,
        &Verdict::fail(FailKind::Connect, "refused"),
    );
    assert_eq!(l.failures(0).get(FailKind::Connect), 2);
}

/// A status written before these fields reads; one written now names only the kinds
/// seen.
#[test]
fn the_status_reads_without_them_and_writes_kinds_by_name() {
    let old = r#"{"kind":"TCP_CHECK","up":true,"has_run":true,"retries":0,
        "last_error":null,"since":null,"next_run":12.5}"#;
    let s: CheckerStatus = serde_json::from_str(old).expect("an older status reads");
    assert_eq!(s.last_duration, None);
    assert_eq!(s.failures, Failures::default());
    let mut f = Failures::default();
    f.count(FailKind::Tls);
    let now = CheckerStatus {
        last_duration: Some(0.25),
        failures: f,
        ..s
    };
    let json = serde_json::to_string(&now).expect("writes");
    assert!(
        json.ends_with(r#""last_duration":0.25,"failures":{"tls":1}}"#),
        "{json}"
    );
    assert_eq!(
        serde_json::from_str::<CheckerStatus>(&json).expect("reads"),
        now
    );
}
