//! `ipvs/hostile`: the checkers against hostile real servers (issue 17, "Hostile
//! traffic"). For each [`Kind`] of misbehaviour, a virtual server of `each` real servers
//! of that kind and `healthy` well-behaved ones of the same protocol, all served by one
//! `hostile-server` process in the guest; HTTP_GET, DNS_CHECK or SMTP_CHECK at
//! delay_loop 1, connect_timeout 2, retry 1, delay_before_retry 1. keepup and keepalived
//! alternate on the same keepalived.conf. Per run:
//!
//! - the verdicts: from the daemon's start, `/proc/net/ip_vs` is polled until every
//!   real server that must fail is out of the table and every one that must pass is in
//!   (or 30 s): the time of the last removal, and what is wrong at the end;
//! - then a window of `--sample` seconds: CPU (every process of the daemon, and
//!   keepalived's checker process alone), memory (RSS, its growth over the window, the
//!   peak), log lines per second, flaps (a poll that sees a verdict undone), the
//!   interval between the checks of the healthy servers (from the server's log of the
//!   connections and queries it received: a checker stalled by a hostile server
//!   stretches it) and, for a kind that must pass, between the checks of its own
//!   servers (a failed attempt shows as a retry); for DNS the datagrams the kernel
//!   dropped for a full receive buffer.
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};

use super::hostile_server::{Kind, Proto, OK_DIGEST};
use super::{clear_table, cpu, memory, processes, read_proc, stop, Guest, IpvsArgs, SERVERS};
use crate::scenario::Daemon;

/// The first port of the hostile server.
const FIRST_PORT: u16 = 20_000;
/// How long the verdicts may take before the run gives up waiting.
const VERDICT_WAIT: Duration = Duration::from_secs(30);
/// How long the verdicts must hold before the window starts: a right verdict that
/// comes undone at the second check is seen.
const SETTLE: Duration = Duration::from_secs(6);

/// The kinds `--hostile-kinds` names (comma-separated; empty: every one but the healthy
/// servers themselves).
pub fn kinds(a: &IpvsArgs) -> Result<Vec<Kind>> {
    if a.hostile_kinds.is_empty() {
        return Ok(Kind::ALL
            .into_iter()
            .filter(|k| *k != Kind::ok_of(k.proto()))
            .collect());
    }
    a.hostile_kinds
        .split(',')
        .map(|n| {
            Kind::parse(n.trim()).with_context(|| {
                let all: Vec<&str> = Kind::ALL.iter().map(|k| k.name()).collect();
                format!("no hostile kind {n:?}; there are {}", all.join(", "))
            })
        })
        .collect()
}

/// The ports of the hostile server: `each` per kind, and `healthy` of each protocol's
/// healthy kind.
fn ports(kinds: &[Kind], each: usize, healthy: usize) -> Vec<(u16, Kind)> {
    let mut all: Vec<Kind> = Vec::new();
    for k in kinds {
        let ok = Kind::ok_of(k.proto());
        if !all.contains(&ok) {
            all.push(ok);
        }
    }
    let mut v = Vec::new();
    let mut port = FIRST_PORT;
    for k in all.iter().chain(kinds.iter().filter(|k| !all.contains(k))) {
        let n = if all.contains(k) { healthy } else { each };
        for _ in 0..n {
            v.push((port, *k));
            port += 1;
        }
    }
    v
}

/// The configuration of one kind's run: its servers and the healthy ones of its protocol.
fn conf(kind: Kind, servers: &[(u16, Kind)]) -> String {
    let (proto, vport, checker) = match kind.proto() {
        Proto::Http => (
            "TCP",
            80,
            format!(
                "HTTP_GET {{\n            url {{\n                path /\n                \
                 digest {OK_DIGEST}\n                status_code 200\n            }}\n"
            ),
        ),
        Proto::Dns => (
            "UDP",
            53,
            "DNS_CHECK {\n            type A\n            name hostile.test\n".to_owned(),
        ),
        Proto::Smtp => (
            "TCP",
            25,
            "SMTP_CHECK {\n            helo_name keepup.test\n".to_owned(),
        ),
    };
    let mut s = format!(
        "# keepup-bench ipvs/hostile/{}\nvirtual_server 10.61.0.1 {vport} {{\n    delay_loop 1\n    \
         lb_algo rr\n    lb_kind NAT\n    protocol {proto}\n",
        kind.name()
    );
    for (port, _) in servers {
        let _ = write!(
            s,
            "    real_server {SERVERS} {port} {{\n        {checker}            connect_timeout 2\n            \
             retry 1\n            delay_before_retry 1\n        }}\n    }}\n"
        );
    }
    s.push_str("}\n");
    s
}

/// The destination ports in `/proc/net/ip_vs` lines of the form of `read_proc`.
fn dest_ports(table: &BTreeSet<String>) -> BTreeSet<u16> {
    table
        .iter()
        .filter_map(|l| {
            let dest = l.split_once(" -> ")?.1.split_whitespace().next()?;
            u16::from_str_radix(dest.rsplit_once(':')?.1, 16).ok()
        })
        .collect()
}

/// The hostile server, killed (by its PID) on drop.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The check times per port in the server's log, between `from` and `to` (Unix seconds).
fn hits(log: &Path, from: f64, to: f64) -> BTreeMap<u16, Vec<f64>> {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let mut m: BTreeMap<u16, Vec<f64>> = BTreeMap::new();
    for l in text.lines() {
        let Some((p, t)) = l.split_once(' ') else {
            continue;
        };
        let (Ok(p), Ok(t)) = (p.parse::<u16>(), t.parse::<f64>()) else {
            continue;
        };
        if t >= from && t <= to {
            m.entry(p).or_default().push(t);
        }
    }
    m
}

/// The intervals between consecutive checks of each of `ports`.
fn intervals(hits: &BTreeMap<u16, Vec<f64>>, ports: &BTreeSet<u16>) -> Vec<f64> {
    let mut v = Vec::new();
    for p in ports {
        if let Some(ts) = hits.get(p) {
            let mut ts = ts.clone();
            ts.sort_by(f64::total_cmp);
            v.extend(ts.windows(2).map(|w| w[1] - w[0]));
        }
    }
    v.sort_by(f64::total_cmp);
    v
}

/// The guest's `Udp: RcvbufErrors`: datagrams dropped because a socket's receive
/// buffer was full.
fn udp_rcvbuf_errors() -> u64 {
    let snmp = std::fs::read_to_string("/proc/net/snmp").unwrap_or_default();
    let mut udp = snmp.lines().filter(|l| l.starts_with("Udp:"));
    let (Some(names), Some(values)) = (udp.next(), udp.next()) else {
        return 0;
    };
    names
        .split_whitespace()
        .position(|n| n == "RcvbufErrors")
        .and_then(|i| values.split_whitespace().nth(i)?.parse().ok())
        .unwrap_or(0)
}

/// The sum of VmHWM (peak resident memory) over `pids`, MB.
fn peak_rss(pids: &[u32]) -> f64 {
    let kb: u64 = pids
        .iter()
        .filter_map(|p| {
            std::fs::read_to_string(format!("/proc/{p}/status"))
                .ok()?
                .lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))?
                .split_whitespace()
                .next()?
                .parse::<u64>()
                .ok()
        })
        .sum();
    kb as f64 / 1024.0
}

impl Guest {
    pub(super) fn hostile(&mut self, a: &IpvsArgs) -> Result<()> {
        let kinds = kinds(a)?;
        let servers = ports(&kinds, a.hostile_each.max(1), a.hostile_healthy);
        let spec: String = servers
            .iter()
            .map(|(p, k)| format!("{p} {}\n", k.name()))
            .collect();
        let spec_path = self.dir.join("hostile.spec");
        std::fs::write(&spec_path, spec)?;
        let hit_log = self.dir.join("hostile-hits.log");
        let out = std::fs::File::create(self.dir.join("hostile-server.log"))?;
        let child = Command::new(std::env::current_exe()?)
            .args(["hostile-server", "--addr", &SERVERS.to_string(), "--spec"])
            .arg(&spec_path)
            .arg("--log")
            .arg(&hit_log)
            .stdin(Stdio::null())
            .stdout(out.try_clone()?)
            .stderr(out)
            .spawn()
            .context("start the hostile server")?;
        let _server = Server(child);
        std::thread::sleep(Duration::from_secs(1));
        let mut notes = Vec::new();
        for kind in &kinds {
            let mine: Vec<(u16, Kind)> = servers
                .iter()
                .filter(|(_, k)| *k == *kind || *k == Kind::ok_of(kind.proto()))
                .copied()
                .collect();
            let conf_path = self.dir.join(format!("hostile-{}.conf", kind.name()));
            std::fs::write(&conf_path, conf(*kind, &mine))?;
            for run in 1..=a.runs {
                for d in Daemon::BOTH {
                    eprintln!(
                        "[hostile] {} {} run {run}/{}",
                        kind.name(),
                        d.name(),
                        a.runs
                    );
                    if let Err(e) = self.hostile_run(d, run, *kind, &conf_path, &mine, &hit_log, a)
                    {
                        notes.push(format!(
                            "hostile {} {} run {run} FAILED: {e:#}",
                            kind.name(),
                            d.name()
                        ));
                    }
                }
            }
        }
        for n in notes {
            self.note(&n)?;
        }
        Ok(())
    }

    #[allow(clippy::too_many_arguments)]
    fn hostile_run(
        &mut self,
        d: Daemon,
        run: usize,
        kind: Kind,
        conf: &Path,
        servers: &[(u16, Kind)],
        hit_log: &Path,
        a: &IpvsArgs,
    ) -> Result<()> {
        let scenario = format!("ipvs/hostile/{}", kind.name());
        let up: BTreeSet<u16> = servers
            .iter()
            .filter(|(_, k)| k.healthy())
            .map(|(p, _)| *p)
            .collect();
        let down: BTreeSet<u16> = servers
            .iter()
            .filter(|(_, k)| !k.healthy())
            .map(|(p, _)| *p)
            .collect();
        let ok: BTreeSet<u16> = servers
            .iter()
            .filter(|(_, k)| *k == Kind::ok_of(kind.proto()))
            .map(|(p, _)| *p)
            .collect();
        let of_kind: BTreeSet<u16> = servers
            .iter()
            .filter(|(_, k)| *k == kind)
            .map(|(p, _)| *p)
            .collect();
        clear_table()?;
        let tag = format!("hostile-{}-{run}", kind.name());
        let t0 = Instant::now();
        let mut r = self.start(d, conf, &tag)?;
        let res = (|| -> Result<()> {
            // The verdicts: each server that must fail, the time it left the table
            // (after having been in it: both daemons add every real server up at start).
            let mut seen: BTreeSet<u16> = BTreeSet::new();
            let mut gone: BTreeMap<u16, Duration> = BTreeMap::new();
            let mut settled_at: Option<Instant> = None;
            let mut table_at = None;
            loop {
                if let Ok(Some(st)) = r.child.try_wait() {
                    anyhow::bail!("{} exited: {st}", d.name());
                }
                let table = read_proc()?;
                let now = dest_ports(&table);
                if !table.is_empty() && table_at.is_none() {
                    table_at = Some(t0.elapsed());
                }
                for p in &down {
                    if now.contains(p) {
                        seen.insert(*p);
                        gone.remove(p);
                    } else if table_at.is_some() && !gone.contains_key(p) {
                        gone.insert(*p, t0.elapsed());
                    }
                }
                let right =
                    down.iter().all(|p| !now.contains(p)) && up.iter().all(|p| now.contains(p));
                match (right, settled_at) {
                    (true, None) => settled_at = Some(Instant::now()),
                    (false, Some(_)) => settled_at = None,
                    _ => {}
                }
                if settled_at.is_some_and(|s| s.elapsed() >= SETTLE) || t0.elapsed() >= VERDICT_WAIT
                {
                    break;
                }
                std::thread::sleep(Duration::from_millis(200));
            }
            if !down.is_empty() {
                let slowest = down
                    .iter()
                    .map(|p| gone.get(p).copied().unwrap_or(VERDICT_WAIT))
                    .max()
                    .unwrap_or_default();
                self.figure(
                    &scenario,
                    d,
                    "verdict: last failing server out s",
                    slowest.as_secs_f64(),
                )?;
                let never_in = down.iter().filter(|p| !seen.contains(p)).count();
                if never_in > 0 && run == 1 {
                    self.note(&format!(
                        "{scenario} {}: {never_in} failing server(s) never seen in the table \
                         (their time is that of the table's first poll)",
                        d.name()
                    ))?;
                }
            }

            // The window.
            let all = processes(&r);
            let checker = r.checker()?;
            let log_len = |p: &Path| std::fs::metadata(p).map_or(0, |m| m.len());
            let (c0, k0, l0) = (cpu(&all), cpu(&checker), log_len(&r.log));
            let u0 = udp_rcvbuf_errors();
            let (rss0, _) = memory(&r);
            let (w0, w_start) = (crate::now_ns() as f64 / 1e9, Instant::now());
            let mut flaps = 0usize;
            while w_start.elapsed() < Duration::from_secs(a.sample) {
                std::thread::sleep(Duration::from_millis(500));
                let now = dest_ports(&read_proc()?);
                flaps += down.iter().filter(|p| now.contains(p)).count()
                    + up.iter().filter(|p| !now.contains(p)).count();
            }
            let (c1, k1, l1) = (cpu(&all), cpu(&checker), log_len(&r.log));
            let u1 = udp_rcvbuf_errors();
            let (secs, w1) = (
                w_start.elapsed().as_secs_f64(),
                crate::now_ns() as f64 / 1e9,
            );
            let pct = |x: u64, y: u64| y.saturating_sub(x) as f64 / 1e9 / secs * 100.0;
            self.figure(&scenario, d, "CPU % (all processes)", pct(c0, c1))?;
            self.figure(&scenario, d, "CPU % (checker process)", pct(k0, k1))?;
            let (rss1, _) = memory(&r);
            self.figure(&scenario, d, "RSS MB (all processes)", rss1)?;
            self.figure(&scenario, d, "RSS growth MB over the window", rss1 - rss0)?;
            self.figure(&scenario, d, "RSS peak MB (VmHWM, summed)", peak_rss(&all))?;
            let bytes = std::fs::read(&r.log).unwrap_or_default();
            let lines = bytes
                .get(l0 as usize..(l1 as usize).min(bytes.len()))
                .map_or(0, |b| b.iter().filter(|c| **c == b'\n').count());
            self.figure(&scenario, d, "log lines /s", lines as f64 / secs)?;
            if kind.proto() == Proto::Dns {
                // Datagrams the guest's kernel dropped for a full receive buffer (the
                // checkers' sockets are the only UDP receivers but the server's).
                self.figure(
                    &scenario,
                    d,
                    "UDP datagrams dropped (receive buffer full)",
                    u1.saturating_sub(u0) as f64,
                )?;
            }
            let h = hits(hit_log, w0, w1);
            let iv = intervals(&h, &ok);
            if !iv.is_empty() {
                self.figure(
                    &scenario,
                    d,
                    "healthy: check interval median s",
                    iv[iv.len() / 2],
                )?;
                self.figure(
                    &scenario,
                    d,
                    "healthy: check interval max s",
                    iv[iv.len() - 1],
                )?;
            } else if !ok.is_empty() {
                self.note(&format!(
                    "{scenario} {} run {run}: the healthy servers got no two checks in the window",
                    d.name()
                ))?;
            }
            if kind.healthy() {
                // A server of this kind that passes: how long its checks took to pass
                // again after one that failed (retry after delay_before_retry).
                let iv = intervals(&h, &of_kind);
                if let Some(max) = iv.last() {
                    self.figure(&scenario, d, "this kind: check interval max s", *max)?;
                }
            }
            let at_kind: usize = of_kind.iter().filter_map(|p| h.get(p)).map(Vec::len).sum();
            self.figure(
                &scenario,
                d,
                "checks /s at this kind's servers",
                at_kind as f64 / secs,
            )?;
            // What is wrong at the end, and the polls of the window that saw a verdict
            // undone.
            let now = dest_ports(&read_proc()?);
            let wrong = down.iter().filter(|p| now.contains(p)).count()
                + up.iter().filter(|p| !now.contains(p)).count();
            self.figure(&scenario, d, "wrong verdicts at end", wrong as f64)?;
            self.figure(
                &scenario,
                d,
                "verdicts undone (polls in window)",
                flaps as f64,
            )?;
            Ok(())
        })();
        stop(&mut r);
        res
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports_give_each_kind_its_servers_and_each_protocol_its_healthy_ones() {
        let p = ports(&[Kind::HttpReset, Kind::DnsWrongId], 2, 1);
        let names: Vec<(u16, &str)> = p.iter().map(|(p, k)| (*p, k.name())).collect();
        assert_eq!(
            names,
            [
                (20_000, "http-ok"),
                (20_001, "dns-ok"),
                (20_002, "http-reset"),
                (20_003, "http-reset"),
                (20_004, "dns-wrong-id"),
                (20_005, "dns-wrong-id"),
            ]
        );
        let c = conf(Kind::DnsWrongId, &p[4..]);
        assert!(c.contains("protocol UDP") && c.contains("DNS_CHECK"), "{c}");
        assert_eq!(c.matches("real_server 10.9.0.50").count(), 2, "{c}");
        let table: BTreeSet<String> = [
            "TCP 0A3D0001:0050 rr",
            "TCP 0A3D0001:0050 -> 0A090032:4E20 Masq 1",
        ]
        .into_iter()
        .map(str::to_owned)
        .collect();
        assert_eq!(dest_ports(&table), BTreeSet::from([20_000]));
    }

    #[test]
    fn intervals_are_per_port() {
        let mut h = BTreeMap::new();
        h.insert(1, vec![3.0, 1.0, 2.0]);
        h.insert(2, vec![10.0, 10.5]);
        h.insert(3, vec![0.0, 100.0]);
        assert_eq!(intervals(&h, &BTreeSet::from([1, 2])), [0.5, 1.0, 1.0]);
    }
}
