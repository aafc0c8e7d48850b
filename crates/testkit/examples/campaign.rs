//! The simulation campaign (issue 17): random fault schedules over 3-5 routers on
//! the simulator, each checked against VRRP's invariants (see
//! `keepup_testkit::campaign`).
//!
//! ```sh
//! nice -n 10 cargo run --release -p keepup-testkit --example campaign -- \
//!     --schedules 10000 --seed 1
//! ```
//!
//! Options: `--schedules N` (default 1000), `--seed S` (schedule i uses seed S + i;
//! default 1), `--threads T` (default: the CPUs), `--out DIR` (where shrunk failing
//! schedules are written, default `crates/testkit/tests/campaign`), `--replay FILE`
//! (run one transcript and print its simulator transcript). Deterministic per seed
//! whatever the thread count. Exits 1 if any schedule broke an invariant, after
//! shrinking (up to 5 of) them and writing each as `regress-<seed>.txt`.
use keepup_testkit::campaign::{self, Schedule, Tally, KINDS};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Instant;

struct Opts {
    schedules: u64,
    seed: u64,
    threads: usize,
    out: String,
    replay: Option<String>,
}

fn opts() -> Result<Opts, String> {
    let mut o = Opts {
        schedules: 1000,
        seed: 1,
        threads: std::thread::available_parallelism().map_or(2, |n| n.get()),
        out: "crates/testkit/tests/campaign".to_string(),
        replay: None,
    };
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut val = || args.next().ok_or(format!("{a} needs a value"));
        match a.as_str() {
            "--schedules" => o.schedules = val()?.parse().map_err(|e| format!("{a}: {e}"))?,
            "--seed" => o.seed = val()?.parse().map_err(|e| format!("{a}: {e}"))?,
            "--threads" => o.threads = val()?.parse().map_err(|e| format!("{a}: {e}"))?,
            "--out" => o.out = val()?,
            "--replay" => o.replay = Some(val()?),
            _ => return Err(format!("unknown argument {a}")),
        }
    }
    Ok(o)
}

fn replay(path: &str) -> i32 {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("{path}: {e}");
            return 2;
        }
    };
    let s = match campaign::parse(&text) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("{path}: {e}");
            return 2;
        }
    };
    let (mut sim, _) = campaign::build(&s);
    sim.run_until(keepup_testkit::cfg::ms(s.heal_ms()) + s.down_bound() * 5);
    println!("{}", sim.transcript());
    let o = campaign::run(&s);
    for v in &o.violations {
        println!("VIOLATION {v}");
    }
    i32::from(o.failed())
}

fn main() {
    let o = match opts() {
        Ok(o) => o,
        Err(e) => {
            eprintln!("campaign: {e}");
            std::process::exit(2);
        }
    };
    if let Some(p) = &o.replay {
        std::process::exit(replay(p));
    }
    // A panic inside a run is caught and reported as a violation; keep stderr quiet.
    std::panic::set_hook(Box::new(|_| {}));
    let started = Instant::now();
    let next = AtomicU64::new(0);
    let total = Mutex::new(Tally::default());
    let failures: Mutex<Vec<(Schedule, campaign::Outcome)>> = Mutex::new(Vec::new());
    std::thread::scope(|scope| {
        for _ in 0..o.threads.max(1) {
            scope.spawn(|| {
                let mut mine = Tally::default();
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= o.schedules {
                        break;
                    }
                    let s = campaign::generate(o.seed.wrapping_add(i));
                    let out = campaign::run(&s);
                    mine.add(&s, &out);
                    if out.failed() {
                        if let Ok(mut f) = failures.lock() {
                            f.push((s, out));
                        }
                    }
                }
                if let Ok(mut t) = total.lock() {
                    t.merge(&mine);
                }
            });
        }
    });
    let elapsed = started.elapsed();
    let t = total.into_inner().unwrap_or_default();
    let mut failures = failures.into_inner().unwrap_or_default();
    failures.sort_by_key(|(s, _)| s.seed);
    println!(
        "campaign: seeds {}..={}",
        o.seed,
        o.seed + o.schedules.saturating_sub(1)
    );
    println!("schedules run:        {}", t.schedules);
    println!(
        "routers per schedule: 3: {}, 4: {}, 5: {}",
        t.by_routers[3], t.by_routers[4], t.by_routers[5]
    );
    println!(
        "virtual routers:      {} (VRRPv2 {}, v3/IPv4 {}, v3/IPv6 {}; unicast {}, auth_hmac {})",
        t.vrids, t.v2, t.v3_4, t.v3_6, t.unicast, t.hmac
    );
    println!("with a sync group:    {} schedules", t.grouped);
    let faults: u64 = t.faults.values().sum();
    println!("faults injected:      {faults}");
    for k in KINDS {
        println!("  {k:<11} {}", t.faults.get(k).copied().unwrap_or(0));
    }
    println!("invariant checks:");
    println!(
        "  transitions checked (chain, cause, timer bound): {}",
        t.transitions
    );
    println!(
        "  adverts accepted (each re-arms the timer bound):  {}",
        t.adverts
    );
    println!(
        "  post-heal checks (one Master, VIPs, priority, quiet): {}",
        t.post_heal
    );
    println!("simulated time:       {:.1} h", t.sim_ms as f64 / 3.6e6);
    println!(
        "wall time:            {:.1} s on {} threads",
        elapsed.as_secs_f64(),
        o.threads
    );
    println!("violations:           {} schedules", t.failed);
    for (s, out) in failures.iter().take(5) {
        println!("--- seed {} ---", s.seed);
        for v in out.violations.iter().take(5) {
            println!("  {v}");
        }
        let want = campaign::classes(out);
        let small = campaign::shrink(
            s,
            |c| {
                let r = campaign::run(c);
                r.failed() && campaign::classes(&r).iter().any(|x| want.contains(x))
            },
            3000,
        );
        let again = campaign::run(&small);
        let path = format!("{}/regress-{}.txt", o.out, s.seed);
        let mut text = String::from(
            "# A schedule the simulation campaign found failing, shrunk.\n\
             # Replayed by crates/testkit/tests/campaign.rs; see keepup_testkit::campaign.\n",
        );
        for v in &again.violations {
            text.push_str(&format!("# violation: {v}\n"));
        }
        text.push_str(&campaign::to_text(&small));
        text.push_str("# --- simulator transcript ---\n");
        for l in again.transcript.lines() {
            text.push_str(&format!("# {l}\n"));
        }
        match std::fs::create_dir_all(&o.out).and_then(|_| std::fs::write(&path, text)) {
            Ok(()) => println!(
                "  shrunk to {} routers, {} VRIDs, {} faults: {path}",
                small.routers(),
                small.vrids.len(),
                small.faults.len()
            ),
            Err(e) => println!("  could not write {path}: {e}"),
        }
    }
    std::process::exit(i32::from(t.failed > 0));
}
