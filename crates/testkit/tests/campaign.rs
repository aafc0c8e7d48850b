//! The simulation campaign in the suite: a short form of the full run (see
//! `keepup_testkit::campaign` and the README), the shrunk transcripts it once found,
//! and tests of the campaign's own parts (text round trip, shrinker, checks).
use keepup_testkit::campaign::{self, Fault, FaultKind, Schedule};
use std::path::Path;

/// Seeds of the short form: apart from the README's full runs.
const SHORT_SEED: u64 = 7_000_000;
const SHORT_SCHEDULES: u64 = 240;

/// Ledger: MST-09, BKP-07, BKP-09, BKP-11 — a few hundred random fault schedules
/// (every fault kind, 3-5 routers, several VRIDs) hold every invariant: after the
/// last fault heals, one Master per VRID within Master_Down_Interval + delay, the
/// best preempting priority, the VIPs on it alone, nothing moving afterwards; no
/// transition without a cause and no timer early on the way.
#[test]
fn short_campaign_holds_every_invariant() {
    let threads = 2;
    let failures: Vec<String> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                scope.spawn(move || {
                    let mut bad = Vec::new();
                    let mut i = t;
                    while i < SHORT_SCHEDULES {
                        let s = campaign::generate(SHORT_SEED + i);
                        let o = campaign::run(&s);
                        if o.failed() {
                            bad.push(format!(
                                "seed {}: {:?}\n{}",
                                s.seed,
                                o.violations,
                                campaign::to_text(&s)
                            ));
                        }
                        i += threads;
                    }
                    bad
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().expect("a campaign thread"))
            .collect()
    });
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Every shrunk transcript in `tests/campaign/` replays without a violation.
#[test]
fn kept_transcripts_replay_clean() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/campaign");
    let mut n = 0;
    let mut entries: Vec<_> = std::fs::read_dir(&dir)
        .expect("tests/campaign")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "txt"))
        .collect();
    entries.sort();
    for p in entries {
        let text = std::fs::read_to_string(&p).expect("readable");
        let s = campaign::parse(&text).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
        assert!(campaign::valid(&s), "{}: not a valid schedule", p.display());
        let o = campaign::run(&s);
        assert!(
            !o.failed(),
            "{}: {:?}\n{}",
            p.display(),
            o.violations,
            o.transcript
        );
        n += 1;
    }
    assert!(n >= 1, "no transcript in {}", dir.display());
}

/// The known anti-replay limit (regress-785.txt) is a split brain the checks do
/// see when counted from the wall clock's correction: they can fail.
#[test]
fn checks_catch_a_split_brain() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/campaign");
    let text = std::fs::read_to_string(dir.join("regress-785.txt")).expect("readable");
    let s = campaign::parse(&text).expect("parses");
    let plain_end = s.faults.iter().map(Fault::end_ms).max().unwrap_or(0);
    assert!(plain_end < s.heal_ms());
    let o = campaign::run_healed_at(&s, plain_end);
    assert!(
        o.violations.iter().any(|v| v.contains("2 Masters")),
        "{:?}",
        o.violations
    );
    assert_eq!(campaign::classes(&o), vec!["masters"]);
    assert!(!campaign::run(&s).failed());
}

#[test]
fn schedules_round_trip_through_text() {
    for seed in 0..200 {
        let s = campaign::generate(seed);
        assert!(campaign::valid(&s), "seed {seed}");
        let text = campaign::to_text(&s);
        assert_eq!(
            campaign::parse(&text).as_ref(),
            Ok(&s),
            "seed {seed}\n{text}"
        );
    }
}

#[test]
fn generation_is_a_function_of_the_seed_and_covers_every_kind() {
    assert_eq!(campaign::generate(5), campaign::generate(5));
    assert_ne!(campaign::generate(5), campaign::generate(6));
    let mut seen = std::collections::BTreeSet::new();
    for seed in 0..300 {
        let s = campaign::generate(seed);
        assert!((3..=5).contains(&s.routers()));
        for f in &s.faults {
            seen.insert(f.kind.name());
        }
    }
    assert_eq!(seen.len(), campaign::KINDS.len(), "{seen:?}");
}

/// The shrinker keeps what makes a run fail and drops the rest: with "fails" meaning
/// "r2 crashes at some point", a big schedule shrinks to that crash alone on two
/// routers and one VRID.
#[test]
fn shrinker_reaches_a_minimal_schedule() {
    let s: Schedule = (0..)
        .map(campaign::generate)
        .find(|s| {
            s.routers() == 5
                && s.vrids.len() >= 2
                && s.faults.len() >= 6
                && s.faults.iter().any(|f| f.kind == FaultKind::Crash(1))
        })
        .expect("a big schedule");
    let fails = |c: &Schedule| {
        c.faults
            .iter()
            .any(|f| matches!(f.kind, FaultKind::Crash(_)))
    };
    let small = campaign::shrink(&s, fails, 10_000);
    assert_eq!(small.faults.len(), 1, "{}", campaign::to_text(&small));
    assert!(matches!(small.faults[0].kind, FaultKind::Crash(_)));
    assert_eq!(small.routers(), 2);
    assert_eq!(small.vrids.len(), 1);
    assert_eq!(small.delay_ms, 0);
}
