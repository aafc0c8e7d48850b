//! The sampler (the director's IPVS table every 20 ms, keepup's zombies and memory every
//! second) and the judge that reads its record against the truth's timeline.
use std::collections::{BTreeMap, BTreeSet};
use std::net::Ipv4Addr;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::world::Table;
use crate::chaos::watch::lock;
use crate::{now_ns, secs_between, Ns};

/// `/proc/<pid>/net/ip_vs` of a process in the director's namespace, as a [`Table`]; a
/// line that comes twice is named in the second value.
pub fn parse_proc(text: &str) -> (Table, Vec<String>) {
    let mut t = Table::new();
    let mut dups = Vec::new();
    let mut svc = String::new();
    for line in text.lines().skip(3) {
        let f: Vec<&str> = line.split_whitespace().collect();
        let (key, value) = match f.as_slice() {
            ["->", addr, fwd, weight, ..] => (
                format!("{svc} -> {} {fwd}", hex_addr(addr)),
                weight.parse().unwrap_or(-2),
            ),
            [proto, addr, sched, ..] => {
                svc = format!("{proto} {}", hex_addr(addr));
                (format!("{svc} {sched}"), -1)
            }
            _ => continue,
        };
        if t.insert(key.clone(), value).is_some() {
            dups.push(key);
        }
    }
    (t, dups)
}

/// `0A3C0064:0050` as `10.60.0.100:80` (anything else as it is).
fn hex_addr(s: &str) -> String {
    let parsed = s.split_once(':').and_then(|(a, p)| {
        let a = u32::from_str_radix(a, 16).ok()?;
        let p = u16::from_str_radix(p, 16).ok()?;
        Some(format!("{}:{p}", Ipv4Addr::from(a)))
    });
    parsed.unwrap_or_else(|| s.to_owned())
}

/// What the sampler saw: every sample's time and which of the distinct tables it read.
#[derive(Default)]
pub struct Record {
    pub tables: Vec<Table>,
    pub samples: Vec<(Ns, usize)>,
    pub duplicates: Vec<(Ns, String)>,
    pub read_errors: u64,
    /// Zombie children of keepup, per second: (time, PIDs).
    pub zombies: Vec<(Ns, BTreeSet<u32>)>,
    /// keepup's RSS in KiB, per second: (time, PID, KiB).
    pub rss: Vec<(Ns, u32, u64)>,
}

/// The sampler thread's handles.
pub struct Sampler {
    pub record: Arc<Mutex<Record>>,
    /// keepup's PID now (0: none running).
    pub keepup: Arc<AtomicU32>,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

/// How long the sampler waits between two reads of the table.
pub const SAMPLE_GAP: Duration = Duration::from_millis(20);

impl Sampler {
    /// Reads `/proc/<holder>/net/ip_vs` (`holder` lives in the director's namespace).
    pub fn start(holder: u32) -> Sampler {
        let record = Arc::new(Mutex::new(Record::default()));
        let keepup = Arc::new(AtomicU32::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let (r, k, s) = (record.clone(), keepup.clone(), stop.clone());
        let thread = std::thread::spawn(move || {
            let path = format!("/proc/{holder}/net/ip_vs");
            let mut last_slow: Ns = 0;
            while !s.load(Ordering::SeqCst) {
                let text = read_whole(&path);
                let t = now_ns();
                {
                    let mut rec = lock(&r);
                    match text {
                        Ok(text) => {
                            let (table, dups) = parse_proc(&text);
                            for d in dups {
                                rec.duplicates.push((t, d));
                            }
                            let idx = match rec.tables.last() {
                                Some(last) if *last == table => rec.tables.len() - 1,
                                _ => {
                                    rec.tables.push(table);
                                    rec.tables.len() - 1
                                }
                            };
                            rec.samples.push((t, idx));
                        }
                        Err(_) => rec.read_errors += 1,
                    }
                }
                if secs_between(last_slow, t) >= 1.0 {
                    last_slow = t;
                    let pid = k.load(Ordering::SeqCst);
                    if pid != 0 {
                        let z = zombie_children(pid);
                        let rss = rss_kib(pid);
                        let mut rec = lock(&r);
                        rec.zombies.push((t, z));
                        if let Some(kib) = rss {
                            rec.rss.push((t, pid, kib));
                        }
                    }
                }
                std::thread::sleep(SAMPLE_GAP);
            }
        });
        Sampler {
            record,
            keepup,
            stop,
            thread: Some(thread),
        }
    }

    pub fn stop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// The sampler's record (after [`Sampler::stop`], for the judge).
pub fn lock_record(s: &Sampler) -> std::sync::MutexGuard<'_, Record> {
    lock(&s.record)
}

impl Drop for Sampler {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A /proc file in reads of 64 KiB. `read_to_string` begins with a small probe read,
/// and the kernel renders /proc/net/ip_vs afresh at each read from where the last one
/// stopped: a table that changes between the two reads comes back with a piece
/// missing or twice (seen: a whole virtual server absent from one sample). One read of
/// a large buffer renders the whole small table in one pass.
fn read_whole(path: &str) -> std::io::Result<String> {
    use std::io::Read;
    let mut f = std::fs::File::open(path)?;
    let mut out = Vec::new();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            break;
        }
        out.extend_from_slice(&buf[..n]);
    }
    Ok(String::from_utf8_lossy(&out).into_owned())
}

fn zombie_children(parent: u32) -> BTreeSet<u32> {
    let mut out = BTreeSet::new();
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return out;
    };
    for e in dir.flatten() {
        let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        let Some(rest) = stat.rfind(')').map(|i| &stat[i + 1..]) else {
            continue;
        };
        let mut f = rest.split_whitespace();
        let state = f.next();
        let ppid: Option<u32> = f.next().and_then(|p| p.parse().ok());
        if state == Some("Z") && ppid == Some(parent) {
            out.insert(pid);
        }
    }
    out
}

fn rss_kib(pid: u32) -> Option<u64> {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()?
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
}

/// A moment the truth changed (or an event that must change nothing).
#[derive(Debug, Clone)]
pub struct Event {
    pub at: Ns,
    pub what: String,
    /// The table from `at + bound` on (until the next event).
    pub truth: Table,
    /// What keepup may show on its way there besides a recent truth: the state a start
    /// or a reload begins from.
    pub start: Option<Table>,
    pub bound: Duration,
}

/// A finding.
#[derive(Debug, Clone)]
pub struct Violation {
    pub at: Ns,
    pub what: String,
}

/// The judge's result.
#[derive(Debug, Default)]
pub struct Judged {
    pub violations: Vec<Violation>,
    /// Samples compared with a settled truth.
    pub steady_checks: u64,
    /// Changes of the table judged for their direction.
    pub transitions: u64,
    /// Per event: whether the table equalled its truth at `at + bound` (None: the next
    /// event came first), and when it first did.
    pub settled: Vec<Option<(bool, Option<f64>)>>,
    pub longest_gap: f64,
}

fn diff(have: &Table, want: &Table) -> String {
    let mut parts = Vec::new();
    let keys: BTreeSet<&String> = have.keys().chain(want.keys()).collect();
    for k in keys {
        match (have.get(k), want.get(k)) {
            (Some(a), Some(b)) if a != b => parts.push(format!("{k} weight {a}, want {b}")),
            (Some(_), None) => parts.push(format!("{k} present, want absent")),
            (None, Some(b)) => parts.push(format!("{k} absent, want weight {b}")),
            _ => {}
        }
    }
    parts.join("; ")
}

/// Reads the record against the events (sorted by time; the first is keepup's start).
pub fn judge(rec: &Record, events: &[Event], end: Ns) -> Judged {
    let mut j = Judged::default();
    let seg = |t: Ns| events.partition_point(|e| e.at <= t).checked_sub(1);
    // Steady: every sample from an event's bound to the next event equals its truth;
    // a run of wrong samples is one violation.
    let mut open: Option<usize> = None;
    let mut prev_t: Option<Ns> = None;
    for &(t, idx) in &rec.samples {
        if let Some(p) = prev_t {
            j.longest_gap = j.longest_gap.max(secs_between(p, t));
        }
        prev_t = Some(t);
        let Some(k) = seg(t) else { continue };
        let e = &events[k];
        if t > end || secs_between(e.at, t) < e.bound.as_secs_f64() {
            continue;
        }
        j.steady_checks += 1;
        let have = &rec.tables[idx];
        if *have != e.truth {
            if open != Some(k) {
                open = Some(k);
                j.violations.push(Violation {
                    at: t,
                    what: format!(
                        "{:.1} s after \"{}\" the table differs: {}",
                        secs_between(e.at, t),
                        e.what,
                        diff(have, &e.truth)
                    ),
                });
            }
        } else if open == Some(k) {
            open = None;
        }
    }
    // Settled: the first sample at or after each event's bound.
    for (k, e) in events.iter().enumerate() {
        let due = e.at + e.bound.as_nanos() as Ns;
        let next = events.get(k + 1).map_or(end, |n| n.at);
        if due > next {
            j.settled.push(None);
            continue;
        }
        let i = rec.samples.partition_point(|(t, _)| *t < due);
        let ok = rec
            .samples
            .get(i)
            .is_some_and(|(_, idx)| rec.tables[*idx] == e.truth);
        let first = rec.samples[rec.samples.partition_point(|(t, _)| *t < e.at)..]
            .iter()
            .take_while(|(t, _)| *t < next)
            .find(|(_, idx)| rec.tables[*idx] == e.truth)
            .map(|(t, _)| secs_between(e.at, *t));
        j.settled.push(Some((ok, first)));
    }
    // Direction: each change of an entry must be to a value a truth held within the
    // last bound (or the start state of a start or reload within it).
    for w in rec.samples.windows(2) {
        let ((_, a), (t, b)) = (w[0], w[1]);
        if a == b || t > end {
            continue;
        }
        j.transitions += 1;
        let Some(k) = seg(t) else { continue };
        let (old, new) = (&rec.tables[a], &rec.tables[b]);
        let keys: BTreeSet<&String> = old.keys().chain(new.keys()).collect();
        for key in keys {
            let v = new.get(key);
            if old.get(key) == v {
                continue;
            }
            let mut ok = false;
            for e in events[..=k].iter().rev() {
                let recent = secs_between(e.at, t) <= e.bound.as_secs_f64();
                ok |= e.truth.get(key) == v;
                ok |= recent && e.start.as_ref().is_some_and(|s| s.get(key) == v);
                if !recent {
                    // The truth in effect when the window opened counts too; older
                    // ones do not.
                    break;
                }
            }
            if !ok {
                j.violations.push(Violation {
                    at: t,
                    what: format!(
                        "after \"{}\" {key} went {} -> {}, which no recent truth holds",
                        events[k].what,
                        show(old.get(key)),
                        show(v)
                    ),
                });
            }
        }
    }
    for (t, d) in &rec.duplicates {
        j.violations.push(Violation {
            at: *t,
            what: format!("{d} twice in the table"),
        });
    }
    // Zombies: a child of keepup seen dead and unreaped in three one-second looks.
    let mut seen: BTreeMap<u32, u32> = BTreeMap::new();
    for (t, z) in &rec.zombies {
        seen.retain(|p, _| z.contains(p));
        for p in z {
            let n = seen.entry(*p).or_insert(0);
            *n += 1;
            if *n == 3 {
                j.violations.push(Violation {
                    at: *t,
                    what: format!("zombie child {p} of keepup unreaped for 2 s"),
                });
            }
        }
    }
    j.violations.sort_by_key(|v| v.at);
    j
}

fn show(v: Option<&i64>) -> String {
    match v {
        None => "absent".into(),
        Some(-1) => "present".into(),
        Some(w) => format!("weight {w}"),
    }
}

/// Memory per keepup life that lasted a minute: the peak of its first quarter against
/// the peak of its last; growth over 10 % (and 1 MiB) is a finding.
pub fn memory(rec: &Record) -> (Vec<String>, Vec<Violation>) {
    let mut lives: BTreeMap<u32, Vec<(Ns, u64)>> = BTreeMap::new();
    for (t, pid, kib) in &rec.rss {
        lives.entry(*pid).or_default().push((*t, *kib));
    }
    let (mut lines, mut bad) = (Vec::new(), Vec::new());
    for (pid, s) in lives {
        if s.len() < 60 {
            continue;
        }
        let q = s.len() / 4;
        let first = s[..q].iter().map(|x| x.1).max().unwrap_or(0);
        let last = s[s.len() - q..].iter().map(|x| x.1).max().unwrap_or(0);
        let line = format!(
            "keepup pid {pid}, {} s: RSS peak {:.1} MiB in its first quarter, {:.1} MiB in its last",
            s.len(),
            first as f64 / 1024.0,
            last as f64 / 1024.0
        );
        if last > first + (first / 10).max(1024) {
            bad.push(Violation {
                at: s[s.len() - 1].0,
                what: format!("memory grew: {line}"),
            });
        }
        lines.push(line);
    }
    (lines, bad)
}

#[cfg(test)]
mod tests {
    use super::*;

    const PROC: &str = "IP Virtual Server version 1.2.1 (size=4096)\n\
        Prot LocalAddress:Port Scheduler Flags\n\
          -> RemoteAddress:Port Forward Weight ActiveConn InActConn\n\
        TCP  0A3C0064:0050 rr \n\
          -> 0A3D000B:0050      Masq    1      0          0\n\
          -> 0A3D000C:0050      Masq    0      0          0\n";

    #[test]
    fn the_proc_table_reads_as_names_and_weights() {
        let (t, dups) = parse_proc(PROC);
        assert!(dups.is_empty());
        assert_eq!(t["TCP 10.60.0.100:80 rr"], -1);
        assert_eq!(t["TCP 10.60.0.100:80 -> 10.61.0.11:80 Masq"], 1);
        assert_eq!(t["TCP 10.60.0.100:80 -> 10.61.0.12:80 Masq"], 0);
        let (_, dups) = parse_proc(&format!("{PROC}  -> 0A3D000B:0050      Masq    1 0 0\n"));
        assert_eq!(dups, ["TCP 10.60.0.100:80 -> 10.61.0.11:80 Masq"]);
    }

    fn table(entries: &[(&str, i64)]) -> Table {
        entries.iter().map(|(k, v)| ((*k).to_owned(), *v)).collect()
    }

    fn ev(at_s: u64, what: &str, truth: Table) -> Event {
        Event {
            at: at_s * 1_000_000_000,
            what: what.into(),
            truth,
            start: None,
            bound: Duration::from_secs(5),
        }
    }

    #[test]
    fn the_judge_allows_lag_towards_the_truth_and_names_a_flap_and_a_late_table() {
        let up = table(&[("svc", -1), ("rs", 1)]);
        let down = table(&[("svc", -1)]);
        let events = [
            ev(0, "start", up.clone()),
            ev(10, "rs killed", down.clone()),
        ];
        let s = |secs: f64, i: usize| ((secs * 1e9) as Ns, i);
        // Removed 3 s after the kill: fine.
        let rec = Record {
            tables: vec![up.clone(), down.clone()],
            samples: vec![s(1.0, 0), s(9.0, 0), s(13.0, 1), s(20.0, 1)],
            ..Record::default()
        };
        let j = judge(&rec, &events, 21_000_000_000);
        assert!(j.violations.is_empty(), "{:?}", j.violations);
        assert_eq!(j.settled[1], Some((true, Some(3.0))));
        // Still there 6 s after: one violation, however many samples.
        let rec = Record {
            tables: vec![up.clone(), down.clone()],
            samples: vec![s(1.0, 0), s(15.5, 0), s(15.6, 0), s(16.0, 1)],
            ..Record::default()
        };
        let j = judge(&rec, &events, 21_000_000_000);
        assert_eq!(j.violations.len(), 1, "{:?}", j.violations);
        // Out and back in with no fault: the return is a move away from the truth.
        let events = [ev(0, "start", up.clone())];
        let rec = Record {
            tables: vec![up.clone(), down, up],
            samples: vec![s(1.0, 0), s(2.0, 1), s(2.1, 2)],
            ..Record::default()
        };
        let j = judge(&rec, &events, 21_000_000_000);
        assert!(!j.violations.is_empty());
    }
}
