//! The scheduler on virtual time: each test writes a keepalived.conf, answers the
//! probes it asks for with a rule, and reads the transcript of what it decided.
use super::*;
use crate::plan::Plan;

const S: Duration = Duration::from_secs(1);

/// A scheduler on a virtual clock and the transcript of its outputs.
struct Lab {
    s: Scheduler,
    t0: Instant,
    now: Instant,
    /// `t=12.000 <line>` per output.
    lines: Vec<String>,
}

fn lab(conf: &str) -> Lab {
    lab_on(conf, None)
}

/// [`lab`] on a host with `local` addresses (ifindex, address) known before start.
fn lab_on(conf: &str, local: Option<&[(u32, &str)]>) -> Lab {
    let loaded = keepup_config::load_str("t.conf", conf, &Default::default());
    assert!(
        loaded
            .diagnostics
            .iter()
            .all(|d| d.severity != keepup_config::Severity::Error),
        "{:#?}",
        loaded.diagnostics
    );
    let config = loaded.config;
    let t0 = Instant::now();
    let mut s = Scheduler::new(Plan::from_config(&config), 7);
    if let Some(local) = local {
        s.local_addresses(
            local
                .iter()
                .map(|(i, a)| (*i, a.parse().expect("an address literal"))),
        );
    }
    s.start(t0);
    let mut l = Lab {
        s,
        t0,
        now: t0,
        lines: Vec::new(),
    };
    l.collect();
    l
}

impl Lab {
    fn t(&self) -> f64 {
        (self.now - self.t0).as_secs_f64()
    }

    /// Read the outputs into the transcript; the probes asked for, in order.
    fn collect(&mut self) -> Vec<(CheckerId, u64)> {
        let mut probes = Vec::new();
        while let Some(o) = self.s.poll_output() {
            let line = match &o {
                Output::Probe {
                    checker, attempt, ..
                } => {
                    probes.push((*checker, *attempt));
                    format!("probe c{}", checker.0)
                }
                Output::Cancel { attempt } => format!("cancel a{attempt}"),
                Output::Pool { vs, server, op, .. } => {
                    format!("pool vs{} {} {op:?}", vs.0, server.name)
                }
                Output::Event(e) => format!("{e:?}"),
            };
            self.lines.push(format!("t={:.3} {line}", self.t()));
        }
        probes
    }

    /// Run until `until` seconds, answering every probe at once with `rule(checker,
    /// seconds)` (None: never answer).
    fn run(&mut self, until: f64, mut rule: impl FnMut(usize, f64) -> Option<Verdict>) {
        let end = self.t0 + Duration::from_secs_f64(until);
        while let Some(next) = self.s.poll_timeout() {
            if next > end {
                break;
            }
            self.now = next;
            self.s.handle_timeout(next);
            for (c, attempt) in self.collect() {
                if let Some(verdict) = rule(c.0, self.t()) {
                    self.s.handle(self.now, Input::Done { attempt, verdict });
                    self.collect();
                }
            }
        }
        self.now = end;
    }

    /// The transcript lines containing `what`.
    fn grep(&self, what: &str) -> Vec<&str> {
        self.lines
            .iter()
            .filter(|l| l.contains(what))
            .map(String::as_str)
            .collect()
    }

    fn times(&self, what: &str) -> Vec<f64> {
        self.grep(what)
            .iter()
            .map(|l| l[2..l.find(' ').unwrap_or(2)].parse().unwrap_or(-1.0))
            .collect()
    }
}

fn pass() -> Option<Verdict> {
    Some(Verdict::PASS)
}

fn fail() -> Option<Verdict> {
    Some(Verdict::fail(FailKind::Connect, "refused"))
}

/// One virtual server, real servers `rs` (each a `real_server` body), `vs_extra` in
/// the virtual server.
fn conf(vs_extra: &str, rs: &[&str]) -> String {
    let mut s = format!(
        "virtual_server 10.0.0.1 80 {{\n lb_algo rr\n lb_kind NAT\n protocol TCP\n delay_loop 10\n{vs_extra}\n"
    );
    for (i, body) in rs.iter().enumerate() {
        s.push_str(&format!(
            " real_server 10.0.1.{} 80 {{\n{body}\n }}\n",
            i + 1
        ));
    }
    s.push_str("}\n");
    s
}

const TCP: &str =
    "  TCP_CHECK {\n   connect_timeout 2\n   retry 2\n   delay_before_retry 3\n   warmup 0\n  }";

#[test]
fn a_checker_runs_a_second_after_start_then_every_delay_loop() {
    let mut l = lab(&conf("", &[TCP]));
    assert_eq!(
        l.grep("pool"),
        vec!["t=0.000 pool vs0 [10.0.1.1]:tcp:80 Add { weight: 1 }"]
    );
    l.run(35.0, |_, _| pass());
    assert_eq!(l.times("probe c0"), vec![1.0, 11.0, 21.0, 31.0]);
    // Up from the start and still up: no event, no pool change.
    assert_eq!(l.grep("Checker").len(), 1, "{:#?}", l.lines);
    assert!(
        l.grep("Checker")[0].contains("CheckerUp"),
        "first run confirms"
    );
    assert_eq!(l.grep("pool").len(), 1);
}

#[test]
fn warmup_spreads_the_first_runs_within_its_bound() {
    let body = "  TCP_CHECK {\n   warmup 5\n  }";
    let mut l = lab(&conf("", &[body, body, body, body, body, body]));
    l.run(6.5, |_, _| pass());
    let firsts = l.times("probe");
    assert_eq!(firsts.len(), 6);
    assert!(
        firsts.iter().all(|&t| (1.0..=6.0).contains(&t)),
        "{firsts:?}"
    );
    let distinct: std::collections::BTreeSet<u64> =
        firsts.iter().map(|t| (t * 1000.0) as u64).collect();
    assert!(distinct.len() > 1, "the starts are spread: {firsts:?}");
}

#[test]
fn an_up_checker_goes_down_after_retry_further_failures_spaced_delay_before_retry() {
    let mut l = lab(&conf("", &[TCP]));
    // Passes at 1 and 11, fails from 20 on.
    l.run(60.0, |_, t| if t < 20.0 { pass() } else { fail() });
    // 21 fails, retries at 24 and 27 (retry 2, delay_before_retry 3): down at 27.
    assert_eq!(
        l.times("probe c0")[..6],
        [1.0, 11.0, 21.0, 24.0, 27.0, 37.0]
    );
    assert_eq!(l.times("CheckerDown"), vec![27.0]);
    assert_eq!(
        l.grep("pool vs0"),
        vec![
            "t=0.000 pool vs0 [10.0.1.1]:tcp:80 Add { weight: 1 }",
            "t=27.000 pool vs0 [10.0.1.1]:tcp:80 Remove",
        ]
    );
    // A down checker is not retried: delay_loop between its runs.
    assert_eq!(l.times("probe c0")[5..], [37.0, 47.0, 57.0]);
    assert_eq!(
        l.times("RealServer { rs: RsId(0), alive: false, moved: true }"),
        vec![27.0]
    );
}

#[test]
fn a_down_checker_comes_up_on_one_success() {
    let mut l = lab(&conf("", &[TCP]));
    l.run(60.0, |_, t| {
        if (20.0..40.0).contains(&t) {
            fail()
        } else {
            pass()
        }
    });
    assert_eq!(l.times("CheckerDown"), vec![27.0]);
    // Down runs at 37 (fails), 47 (passes): up at once.
    assert_eq!(l.times("CheckerUp")[1..], [47.0]);
    assert_eq!(l.times("pool vs0 [10.0.1.1]:tcp:80 Add"), vec![0.0, 47.0]);
}

#[test]
fn a_failure_between_successes_is_forgotten() {
    let mut l = lab(&conf("", &[TCP]));
    // One failure at 21, then a pass at 24: no state change, back to delay_loop.
    l.run(40.0, |_, t| {
        if (20.0..22.0).contains(&t) {
            fail()
        } else {
            pass()
        }
    });
    assert!(l.grep("CheckerDown").is_empty());
    assert_eq!(l.times("probe c0"), vec![1.0, 11.0, 21.0, 24.0, 34.0]);
}

#[test]
fn log_all_failures_reports_each_failed_attempt() {
    let body =
        "  TCP_CHECK {\n   retry 2\n   delay_before_retry 3\n   warmup 0\n   log_all_failures\n  }";
    let mut l = lab(&conf("", &[body]));
    l.run(30.0, |_, t| if t < 20.0 { pass() } else { fail() });
    assert_eq!(l.times("AttemptFailed"), vec![21.0, 24.0]);
    assert_eq!(l.times("CheckerDown"), vec![27.0]);
}

#[test]
fn alpha_starts_down_and_joins_on_its_first_success() {
    let body = "  alpha\n  TCP_CHECK {\n   warmup 0\n  }";
    let mut l = lab(&conf("", &[body]));
    assert!(l.grep("pool").is_empty(), "{:#?}", l.lines);
    l.run(5.0, |_, _| pass());
    assert_eq!(
        l.grep("pool"),
        vec!["t=1.000 pool vs0 [10.0.1.1]:tcp:80 Add { weight: 1 }"]
    );
}

#[test]
fn alpha_with_no_retry_runs_the_down_notifier_on_its_first_failure() {
    let body = "  alpha\n  TCP_CHECK {\n   retry 0\n   warmup 0\n  }";
    let mut l = lab(&conf("", &[body]));
    l.run(5.0, |_, _| fail());
    assert_eq!(
        l.grep("RealServer"),
        vec!["t=1.000 RealServer { rs: RsId(0), alive: false, moved: false }"]
    );
    assert!(l.grep("pool").is_empty());
}

#[test]
fn inhibit_on_failure_sets_weight_zero_instead_of_removing() {
    let body = "  weight 5\n  inhibit_on_failure\n  TCP_CHECK {\n   retry 0\n   warmup 0\n  }";
    let mut l = lab(&conf("", &[body]));
    l.run(30.0, |_, t| {
        if (10.0..20.0).contains(&t) {
            fail()
        } else {
            pass()
        }
    });
    assert_eq!(
        l.grep("pool"),
        vec![
            "t=0.000 pool vs0 [10.0.1.1]:tcp:80 Add { weight: 5 }",
            "t=11.000 pool vs0 [10.0.1.1]:tcp:80 Weight { weight: 0 }",
            "t=21.000 pool vs0 [10.0.1.1]:tcp:80 Weight { weight: 5 }",
        ]
    );
}

#[test]
fn an_alpha_inhibited_server_starts_in_the_pool_at_weight_zero() {
    let body = "  alpha\n  inhibit_on_failure\n  TCP_CHECK {\n   warmup 0\n  }";
    let mut l = lab(&conf("", &[body]));
    assert_eq!(
        l.grep("pool"),
        vec!["t=0.000 pool vs0 [10.0.1.1]:tcp:80 Add { weight: 0 }"]
    );
    l.run(2.0, |_, _| pass());
    assert_eq!(
        l.grep("pool")[1],
        "t=1.000 pool vs0 [10.0.1.1]:tcp:80 Weight { weight: 1 }"
    );
}

#[test]
fn a_real_server_is_alive_only_while_none_of_its_checkers_is_down() {
    let body = "  TCP_CHECK {\n   retry 0\n   warmup 0\n  }\n  TCP_CHECK {\n   connect_port 81\n   retry 0\n   warmup 0\n  }";
    let mut l = lab(&conf("", &[body]));
    // c0 fails 10..30, c1 fails 20..40.
    l.run(50.0, |c, t| {
        let bad = if c == 0 { 10.0..30.0 } else { 20.0..40.0 };
        if bad.contains(&t) {
            fail()
        } else {
            pass()
        }
    });
    assert_eq!(l.times("moved: true"), vec![11.0, 41.0]);
    assert_eq!(l.times("pool vs0 [10.0.1.1]:tcp:80 Remove"), vec![11.0]);
    assert_eq!(l.times("pool vs0 [10.0.1.1]:tcp:80 Add"), vec![0.0, 41.0]);
}

#[test]
fn quorum_with_hysteresis_and_the_sorry_server() {
    // Three servers of weight 1; quorum 2, hysteresis 1: lost below 1, gained at 3.
    let vs = " quorum 2\n hysteresis 1\n sorry_server 10.0.9.9 80";
    let check = |n: u32| {
        format!(
            "  TCP_CHECK {{\n   connect_port {}\n   retry 0\n   warmup 0\n  }}",
            80 + n
        )
    };
    let (a, b, c) = (check(0), check(1), check(2));
    let mut l = lab(&conf(vs, &[&a, &b, &c]));
    // Server i fails from 10 + 10 i to 60 + 10 i.
    l.run(100.0, |i, t| {
        let from = 10.0 + 10.0 * i as f64;
        if (from..from + 50.0).contains(&t) {
            fail()
        } else {
            pass()
        }
    });
    // Weight 3 at start (>= 2 + 1: up). 11: 2 left, 21: 1 left (not < 1), 31: 0 left: lost.
    assert_eq!(l.times("Quorum { vs: VsId(0), up: false"), vec![31.0]);
    // Back: 61: 1, 71: 2, 81: 3 (>= 3): gained.
    assert_eq!(l.times("Quorum { vs: VsId(0), up: true"), vec![81.0]);
    assert_eq!(l.times("Sorry { vs: VsId(0), on: true }"), vec![31.0]);
    assert_eq!(l.times("Sorry { vs: VsId(0), on: false }"), vec![81.0]);
    // The sorry server holds the pool alone from 31 to 81; the servers that come
    // back meanwhile wait outside it.
    assert_eq!(l.times("pool vs0 [10.0.9.9]:tcp:80 Add"), vec![31.0]);
    assert_eq!(l.times("pool vs0 [10.0.9.9]:tcp:80 Remove"), vec![81.0]);
    assert_eq!(l.times("pool vs0 [10.0.1.1]:tcp:80 Add"), vec![0.0, 81.0]);
    assert_eq!(l.times("pool vs0 [10.0.1.3]:tcp:80 Add"), vec![0.0, 81.0]);
}

#[test]
fn the_sorry_server_stands_in_at_start_when_quorum_is_not_met() {
    let vs = " quorum 2\n sorry_server 10.0.9.9 80";
    let body = "  alpha\n  TCP_CHECK {\n   warmup 0\n  }";
    let mut l = lab(&conf(vs, &[body, body]));
    assert_eq!(
        l.lines,
        vec![
            "t=0.000 Quorum { vs: VsId(0), up: false, start: true, threshold: 2, weight: 0 }",
            "t=0.000 Sorry { vs: VsId(0), on: true }",
            "t=0.000 pool vs0 [10.0.9.9]:tcp:80 Add { weight: 1 }",
        ]
    );
    l.run(2.0, |_, _| pass());
    assert_eq!(l.times("pool vs0 [10.0.9.9]:tcp:80 Remove"), vec![1.0]);
}

#[test]
fn sorry_server_inhibit_keeps_it_at_weight_zero_when_not_needed() {
    let vs = " quorum 1\n sorry_server 10.0.9.9 80\n sorry_server_inhibit";
    let body = "  TCP_CHECK {\n   retry 0\n   warmup 0\n  }";
    let mut l = lab(&conf(vs, &[body]));
    l.run(30.0, |_, t| {
        if (10.0..20.0).contains(&t) {
            fail()
        } else {
            pass()
        }
    });
    assert_eq!(
        l.grep("pool vs0 [10.0.9.9]:tcp:80"),
        vec![
            "t=0.000 pool vs0 [10.0.9.9]:tcp:80 Add { weight: 0 }",
            "t=11.000 pool vs0 [10.0.9.9]:tcp:80 Weight { weight: 1 }",
            "t=21.000 pool vs0 [10.0.9.9]:tcp:80 Weight { weight: 0 }",
        ]
    );
}

#[test]
fn misc_dynamic_sets_the_weight_and_never_drifts() {
    let body =
        "  weight 3\n  MISC_CHECK {\n   misc_path /bin/true\n   misc_dynamic\n   warmup 0\n  }";
    let mut l = lab(&conf("", &[body]));
    // Exit statuses 12, 7, 0, 12, 7, 0, ... (weights 10, 5, configured 3).
    let statuses = [12u32, 7, 0];
    let mut n = 0;
    l.run(95.0, |_, _| {
        let s = statuses[n % 3];
        n += 1;
        Some(Verdict::Pass {
            weight: (s >= 2).then(|| s - 2),
        })
    });
    let weights: Vec<&str> = l
        .grep("pool")
        .iter()
        .filter_map(|s| s.split_once(' ').map(|p| p.1))
        .collect();
    assert_eq!(
        weights[..4],
        [
            "pool vs0 [10.0.1.1]:tcp:80 Add { weight: 3 }",
            "pool vs0 [10.0.1.1]:tcp:80 Weight { weight: 10 }",
            "pool vs0 [10.0.1.1]:tcp:80 Weight { weight: 5 }",
            "pool vs0 [10.0.1.1]:tcp:80 Weight { weight: 3 }",
        ]
    );
    // After nine more cycles the same three weights, no drift.
    assert_eq!(l.s.weight(RsId(0)), [10, 5, 3][(n - 1) % 3]);
    assert!(weights.iter().all(|w| w.ends_with("weight: 3 }")
        || w.ends_with("weight: 10 }")
        || w.ends_with("weight: 5 }")));
}

#[test]
fn a_run_past_its_timeout_is_cancelled_and_counts_as_a_failure() {
    let body = "  TCP_CHECK {\n   connect_timeout 2\n   retry 0\n   warmup 0\n  }";
    let mut l = lab(&conf("", &[body]));
    l.run(5.0, |_, _| None);
    assert_eq!(l.grep("cancel"), vec!["t=3.000 cancel a1"]);
    assert_eq!(l.times("CheckerDown"), vec![3.0]);
    assert!(l.grep("CheckerDown")[0].contains("no answer within 2 s"));
    // The late answer of that run changes nothing.
    let before = l.lines.len();
    l.s.handle(
        l.now,
        Input::Done {
            attempt: 1,
            verdict: Verdict::PASS,
        },
    );
    l.collect();
    assert_eq!(l.lines.len(), before);
}

#[test]
fn misc_check_counts_its_next_run_from_the_start_of_the_last() {
    let body = "  MISC_CHECK {\n   misc_path /bin/true\n   misc_timeout 5\n   warmup 0\n  }";
    let mut l = lab(&conf("", &[body]));
    // Each run answers 4 s after it starts: the runs stay 10 s apart.
    let mut pending: Option<(CheckerId, u64, Instant)> = None;
    let end = l.t0 + Duration::from_secs(35);
    while let Some(next) = l.s.poll_timeout() {
        let answer_at = pending.map(|p| p.2);
        let at = answer_at.map_or(next, |a| a.min(next));
        if at > end {
            break;
        }
        l.now = at;
        if answer_at == Some(at) {
            let (_, attempt, _) = pending.take().expect("pending");
            l.s.handle(
                at,
                Input::Done {
                    attempt,
                    verdict: Verdict::PASS,
                },
            );
        } else {
            l.s.handle_timeout(at);
        }
        for (c, a) in l.collect() {
            pending = Some((c, a, at + 4 * S));
        }
    }
    assert_eq!(l.times("probe c0"), vec![1.0, 11.0, 21.0, 31.0]);
}

#[test]
fn virtual_time_is_exact_across_many_checkers() {
    // 250 checkers at delay_loop 1 for a minute: each runs 60 times, none is lost.
    let body = "  TCP_CHECK {\n   delay_loop 1\n   warmup 1\n  }";
    let bodies: Vec<&str> = std::iter::repeat_n(body, 250).collect();
    let mut l = lab(&conf("", &bodies));
    l.run(61.5, |_, _| pass());
    let mut per: std::collections::BTreeMap<&str, Vec<f64>> = Default::default();
    for line in l.grep("probe") {
        let (t, what) = line.split_once(' ').unwrap_or_default();
        per.entry(what)
            .or_default()
            .push(t[2..].parse().unwrap_or(-1.0));
    }
    assert_eq!(per.len(), 250);
    for (c, runs) in per {
        // Exactly a second apart from a first run within 1 s + warmup.
        assert!((1.0..=2.0).contains(&runs[0]), "{c}: {runs:?}");
        let expected = (61.5 - runs[0]).floor() as usize + 1;
        assert_eq!(runs.len(), expected, "{c}");
        assert!(
            runs.windows(2).all(|w| ((w[1] - w[0]) - 1.0).abs() < 1e-6),
            "{c}"
        );
    }
}

#[test]
fn shutdown_empties_the_pools_and_runs_the_down_notifiers_only_with_omega() {
    for (omega, notified) in [("", 0), (" omega", 1)] {
        let body = "  TCP_CHECK {\n   warmup 0\n  }";
        let mut l = lab(&conf(omega, &[body, body]));
        l.run(1.0, |c, _| if c == 0 { None } else { pass() });
        l.s.shutdown();
        l.collect();
        assert_eq!(l.grep("cancel").len(), 1, "the run in flight is stopped");
        assert_eq!(l.grep("Remove").len(), 2);
        assert_eq!(l.grep("notify: true").len(), 2 * notified);
        assert_eq!(l.grep("ShutdownVs").len(), notified);
        assert!(l.s.poll_timeout().is_none(), "nothing runs after");
    }
}

#[test]
fn log_lines_keep_keepalived_wording() {
    let vs = " quorum 1\n sorry_server 10.0.9.9 80";
    let mut l = lab(&conf(vs, &[TCP]));
    let mut lines = Vec::new();
    let step = |l: &mut Lab, verdict: Option<Verdict>, lines: &mut Vec<String>| {
        let at = l.s.poll_timeout().expect("a run is due");
        l.s.handle_timeout(at);
        let mut probes = Vec::new();
        while let Some(o) = l.s.poll_output() {
            match o {
                Output::Probe {
                    checker, attempt, ..
                } => probes.push((checker, attempt)),
                Output::Event(e) => lines.push(crate::words::log_line(&l.s, &e)),
                _ => {}
            }
        }
        for (_, attempt) in probes {
            if let Some(v) = verdict.clone() {
                l.s.handle(
                    at,
                    Input::Done {
                        attempt,
                        verdict: v,
                    },
                );
            }
            while let Some(o) = l.s.poll_output() {
                if let Output::Event(e) = o {
                    lines.push(crate::words::log_line(&l.s, &e));
                }
            }
        }
    };
    step(&mut l, pass(), &mut lines);
    for _ in 0..3 {
        step(&mut l, fail(), &mut lines);
    }
    step(&mut l, pass(), &mut lines);
    assert_eq!(
        lines,
        vec![
            "TCP connection to [10.0.1.1]:tcp:80 success.",
            "TCP_CHECK on service [10.0.1.1]:tcp:80 failed after 2 retries (refused).",
            "Removing service [10.0.1.1]:tcp:80 from VS [10.0.0.1]:tcp:80",
            "Lost quorum 1-0=1 > 0 for VS [10.0.0.1]:tcp:80",
            "Adding sorry server [10.0.9.9]:tcp:80 to VS [10.0.0.1]:tcp:80",
            "TCP connection to [10.0.1.1]:tcp:80 success.",
            "Adding service [10.0.1.1]:tcp:80 to VS [10.0.0.1]:tcp:80",
            "Gained quorum 1+0=1 <= 1 for VS [10.0.0.1]:tcp:80",
            "Removing sorry server [10.0.9.9]:tcp:80 from VS [10.0.0.1]:tcp:80",
        ]
    );
}

impl Lab {
    /// Reload with `conf` at the current time; the transcript goes on.
    fn reload(&mut self, conf: &str) {
        let loaded = keepup_config::load_str("t.conf", conf, &Default::default());
        self.s.reload(Plan::from_config(&loaded.config), self.now);
        self.lines.push(format!("t={:.3} reload", self.t()));
        self.collect();
    }

    /// The transcript from the last reload on.
    fn since_reload(&self) -> Vec<&str> {
        let at = self
            .lines
            .iter()
            .rposition(|l| l.ends_with(" reload"))
            .unwrap_or(0);
        self.lines[at + 1..].iter().map(String::as_str).collect()
    }
}

#[test]
fn a_reload_of_the_same_file_changes_nothing_and_keeps_the_schedule() {
    let c = conf(" quorum 1\n sorry_server 10.0.9.9 80", &[TCP, TCP]);
    let mut l = lab(&c);
    l.run(
        25.5,
        |i, t| if i == 1 && t > 20.0 { fail() } else { pass() },
    );
    // Server 2 is retrying (failed at 21, next try at 24 failed, next at 27).
    l.reload(&c);
    assert!(l.since_reload().is_empty(), "{:#?}", l.since_reload());
    l.run(
        40.0,
        |i, t| if i == 1 && t > 20.0 { fail() } else { pass() },
    );
    // The retry run goes on where it was: down at 27, not reset by the reload.
    assert_eq!(l.times("CheckerDown"), vec![27.0]);
    assert_eq!(l.times("probe c0"), vec![1.0, 11.0, 21.0, 31.0]);
}

#[test]
fn a_server_failing_before_a_reload_comes_back_after_it_when_it_passes() {
    // keepalived #1720: after a reload such a server stays out.
    let body = "  TCP_CHECK {\n   retry 0\n   warmup 0\n  }";
    let c = conf("", &[body]);
    let mut l = lab(&c);
    l.run(15.0, |_, t| if t > 10.0 { fail() } else { pass() });
    assert_eq!(l.times("pool vs0 [10.0.1.1]:tcp:80 Remove"), vec![11.0]);
    l.reload(&c);
    l.run(30.0, |_, _| pass());
    assert_eq!(l.times("pool vs0 [10.0.1.1]:tcp:80 Add"), vec![0.0, 21.0]);
}

#[test]
fn a_reload_adds_and_removes_servers_and_resets_only_changed_checkers() {
    let a = "  TCP_CHECK {\n   retry 0\n   warmup 0\n  }";
    let changed = "  TCP_CHECK {\n   retry 0\n   warmup 0\n   connect_port 81\n  }";
    let mut l = lab(&conf("", &[a, a]));
    l.run(5.0, |_, _| pass());
    // Server 1 keeps its checker, server 2 is dropped, server 3 is new; then server 1's
    // checker changes.
    let next = conf("", &[a]).replace(
        " }\n}\n",
        " }\n real_server 10.0.1.3 80 {\n  TCP_CHECK {\n   retry 0\n   warmup 0\n  }\n }\n}\n",
    );
    l.reload(&next);
    let after = l.since_reload().join("\n");
    assert!(
        after.contains("Gone { vs: \"[10.0.0.1]:tcp:80\", server: Some(\"[10.0.1.2]:tcp:80\") }"),
        "{after}"
    );
    assert!(
        after.contains("pool vs0 [10.0.1.2]:tcp:80 Remove"),
        "{after}"
    );
    assert!(
        after.contains("pool vs0 [10.0.1.3]:tcp:80 Add { weight: 1 }"),
        "{after}"
    );
    assert!(
        !after.contains("[10.0.1.1]"),
        "the kept server is left alone: {after}"
    );
    l.run(12.0, |_, _| pass());
    // The kept checker keeps its schedule (1, 11); the new one starts 1 s after the
    // reload.
    assert_eq!(l.times("probe c0"), vec![1.0, 11.0]);
    assert_eq!(l.times("probe c1"), vec![1.0, 6.0]);
    let changed_conf = next.replacen(a, changed, 1);
    l.reload(&changed_conf);
    assert!(l.since_reload().is_empty(), "{:#?}", l.since_reload());
    l.run(14.0, |_, _| pass());
    // The changed checker runs anew 1 s after the reload, not at 21.
    assert_eq!(l.times("probe c0"), vec![1.0, 11.0, 13.0]);
}

#[test]
fn a_reload_that_drops_a_virtual_server_says_so() {
    let mut l = lab(&conf("", &[TCP]));
    l.reload("");
    assert_eq!(
        l.since_reload(),
        vec!["t=0.000 Gone { vs: \"[10.0.0.1]:tcp:80\", server: None }"]
    );
    assert!(l.s.poll_timeout().is_none());
}

/// PING_CHECK's lines are check_ping.c's: `ICMP CHECK on service RS failed.`, and
/// with retries `ICMP CHECK on service RS of VS failed after N retries.`
#[test]
fn ping_check_log_lines_keep_keepalived_wording() {
    for (retry, down) in [
        (
            0,
            "ICMP CHECK on service [10.0.1.1]:tcp:80 failed (silence).",
        ),
        (
            2,
            "ICMP CHECK on service [10.0.1.1]:tcp:80 of [10.0.0.1]:tcp:80 failed after 2 \
             retries (silence).",
        ),
    ] {
        let body = format!("  PING_CHECK {{\n   retry {retry}\n   warmup 0\n  }}");
        let mut l = lab(&conf("", &[&body]));
        let mut lines = Vec::new();
        let mut runs = 0;
        while runs < 5 {
            let at = l.s.poll_timeout().expect("a run is due");
            l.s.handle_timeout(at);
            let mut probes = Vec::new();
            while let Some(o) = l.s.poll_output() {
                match o {
                    Output::Probe { attempt, .. } => probes.push(attempt),
                    Output::Event(e) => lines.push(crate::words::log_line(&l.s, &e)),
                    _ => {}
                }
            }
            for attempt in probes {
                runs += 1;
                let verdict = if runs == 1 {
                    Verdict::PASS
                } else {
                    Verdict::fail(FailKind::Timeout, "silence")
                };
                l.s.handle(at, Input::Done { attempt, verdict });
                while let Some(o) = l.s.poll_output() {
                    if let Output::Event(e) = o {
                        lines.push(crate::words::log_line(&l.s, &e));
                    }
                }
            }
        }
        assert_eq!(lines[0], "ICMP connection to [10.0.1.1]:tcp:80 success.");
        assert!(lines.iter().any(|x| x == down), "{lines:#?}");
    }
}

mod ha_suspend;
mod metrics;

/// Issue 17: a run answered long before its timeout leaves its Timeout entry behind in
/// the heap. With runs every second and a 100 s timeout, 50 checkers left ~100 stale
/// entries each; the heap stays within twice the armed alarms, and runs keep their
/// schedule.
#[test]
fn stale_alarms_never_outnumber_the_live_ones() {
    let body = "  TCP_CHECK {\n   connect_timeout 100\n   warmup 0\n  }";
    let rs: Vec<&str> = vec![body; 50];
    let mut l = lab(&conf("", &rs).replace("delay_loop 10", "delay_loop 1"));
    let mut most = 0;
    for step in 1..=200 {
        l.run(f64::from(step), |_, _| pass());
        most = most.max(l.s.heap.len());
    }
    assert!(most <= 2 * 50 + HEAP_FLOOR, "heap held {most} entries");
    // Each checker ran every second: 200 s, first run at 1 s.
    assert_eq!(l.grep("probe").len(), 50 * 200);
}
