//! Figures gathered over the runs, and the markdown table of min / median / max per
//! daemon with the keepup/keepalived ratio of the medians.
use std::fmt::Write as _;

use crate::scenario::Daemon;

/// One line of the table: a scenario's metric, with every run's value per daemon.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    pub scenario: String,
    pub metric: &'static str,
    /// `[keepup, keepalived]`.
    pub values: [Vec<f64>; 2],
}

/// A run that failed: scenario, daemon, run number (from 1), the error.
#[derive(Debug, Clone, PartialEq)]
pub struct Failure {
    pub scenario: String,
    pub daemon: Daemon,
    pub run: usize,
    pub error: String,
}

#[derive(Debug, Default, Clone, PartialEq)]
pub struct Results {
    pub rows: Vec<Row>,
    pub failures: Vec<Failure>,
}

fn slot(d: Daemon) -> usize {
    match d {
        Daemon::Keepup => 0,
        Daemon::Keepalived => 1,
    }
}

impl Results {
    pub fn add(&mut self, scenario: &str, d: Daemon, figures: &[(&'static str, f64)]) {
        for (metric, v) in figures {
            let i = match self
                .rows
                .iter()
                .position(|r| r.scenario == scenario && r.metric == *metric)
            {
                Some(i) => i,
                None => {
                    self.rows.push(Row {
                        scenario: scenario.to_owned(),
                        metric,
                        values: [vec![], vec![]],
                    });
                    self.rows.len() - 1
                }
            };
            self.rows[i].values[slot(d)].push(*v);
        }
    }

    /// The markdown table.
    pub fn table(&self) -> String {
        let mut s = String::from(
            "| scenario | metric | keepup min / median / max | keepalived min / median / max | keepup/keepalived |\n\
             | --- | --- | --- | --- | --- |\n",
        );
        for r in &self.rows {
            let [ku, ka] = [stats(&r.values[0]), stats(&r.values[1])];
            let ratio = match (ku, ka) {
                (Some(a), Some(b)) if b.median > 0.0 => format!("{:.2}", a.median / b.median),
                _ => "-".into(),
            };
            let _ = writeln!(
                s,
                "| {} | {} | {} | {} | {} |",
                r.scenario,
                r.metric,
                cell(ku, r.metric, r.values[0].len()),
                cell(ka, r.metric, r.values[1].len()),
                ratio
            );
        }
        s
    }

    /// The failed runs, one line each (empty if none).
    pub fn failure_lines(&self) -> String {
        let mut s = String::new();
        for f in &self.failures {
            let first = f.error.lines().next().unwrap_or_default();
            let _ = writeln!(
                s,
                "- {} {} run {}: {first}",
                f.scenario,
                f.daemon.name(),
                f.run
            );
        }
        s
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Stats {
    pub min: f64,
    pub median: f64,
    pub max: f64,
}

/// Min, median (the mean of the middle two for an even count) and max.
pub fn stats(v: &[f64]) -> Option<Stats> {
    if v.is_empty() {
        return None;
    }
    let mut v = v.to_vec();
    v.sort_by(f64::total_cmp);
    let n = v.len();
    let median = if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    };
    Some(Stats {
        min: v[0],
        median,
        max: v[n - 1],
    })
}

/// A value as its metric wants it: seconds to the millisecond, milliseconds and CPU
/// to 0.01.
pub fn format_value(metric: &str, v: f64) -> String {
    if metric.ends_with(" s") {
        format!("{v:.3}")
    } else if metric.ends_with(" ms") || metric.starts_with("CPU") {
        format!("{v:.2}")
    } else if metric.starts_with("RSS") {
        format!("{v:.1}")
    } else if v.fract() == 0.0 {
        format!("{v:.0}")
    } else {
        format!("{v:.1}")
    }
}

fn cell(s: Option<Stats>, metric: &str, n: usize) -> String {
    match s {
        None => "(no run)".into(),
        Some(s) if n == 1 => format_value(metric, s.median),
        Some(s) => format!(
            "{} / **{}** / {}",
            format_value(metric, s.min),
            format_value(metric, s.median),
            format_value(metric, s.max)
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn min_median_max() {
        assert_eq!(stats(&[]), None);
        let s = stats(&[3.0, 1.0, 2.0]).unwrap();
        assert_eq!((s.min, s.median, s.max), (1.0, 2.0, 3.0));
        assert_eq!(stats(&[4.0, 1.0, 2.0, 3.0]).unwrap().median, 2.5);
    }

    #[test]
    fn the_table_has_a_row_per_scenario_metric_with_the_ratio_of_medians() {
        let mut r = Results::default();
        for (ku, ka) in [(0.5, 3.0), (0.7, 3.4), (0.6, 3.2)] {
            r.add("failover/v2-1s/cut", Daemon::Keepup, &[("outage s", ku)]);
            r.add(
                "failover/v2-1s/cut",
                Daemon::Keepalived,
                &[("outage s", ka)],
            );
        }
        r.add("scale/1", Daemon::Keepup, &[("CPU % master", 0.123)]);
        let t = r.table();
        assert!(
            t.contains(
                "| failover/v2-1s/cut | outage s | 0.500 / **0.600** / 0.700 | \
                 3.000 / **3.200** / 3.400 | 0.19 |"
            ),
            "{t}"
        );
        assert!(
            t.contains("| scale/1 | CPU % master | 0.12 | (no run) | - |"),
            "{t}"
        );
        assert_eq!(t.lines().count(), 4);
    }
}
