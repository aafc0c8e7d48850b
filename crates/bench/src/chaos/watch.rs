//! The soak's eyes: one sampler thread per router namespace and one in the client's,
//! each entered with `setns` once and then looking every 10 ms.
//!
//! - A router's sampler dumps the namespace's addresses over rtnetlink (keepup-sys's
//!   [`Netlink`], the daemon's own) and records which VIPs are there, as a list of
//!   changes `(time, mask)`; at each sample it also checks, per VIP, that no VIP sits on
//!   a router whose daemon has stopped cleanly (SIGTERM: the daemon removes its VIPs
//!   before it exits). Once a second it reads the daemon's RSS.
//! - The client's sampler reads its ARP table (`/proc/thread-self/net/arp`, the
//!   thread's namespace) and records which MAC the client would send the IPv4 VIP's
//!   traffic to.
use std::fs::File;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::Duration;

use anyhow::{anyhow, Context, Result};
use nix::sched::{setns, CloneFlags};

use crate::{now_ns, Ns};

/// Every 10 ms.
pub const EVERY: Duration = Duration::from_millis(10);

pub fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// What the soak knows of a router's daemon, shared with its sampler.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Life {
    /// Running (PID), since.
    Up(u32),
    /// Exited after SIGTERM at this time: its VIPs must be gone.
    Stopped(Ns),
    /// SIGKILLed at this time: the kernel keeps its VIPs until the restart removes them.
    Killed(Ns),
    /// SIGSTOPped (PID) at this time: it holds what it held.
    Frozen(u32, Ns),
}

/// One router's samples.
#[derive(Debug, Default)]
pub struct RouterView {
    /// `(time, mask)` each time the set of VIPs held changed (bit i: VIP i).
    pub changes: Vec<(Ns, u32)>,
    /// Samples taken.
    pub samples: u64,
    /// `(time, VIP index)` of samples where a cleanly stopped daemon's VIP was there.
    pub held_after_stop: Vec<(Ns, usize)>,
    /// `(time, pid, RSS in KiB)`, once a second while the daemon is up.
    pub rss: Vec<(Ns, u32, u64)>,
    /// Sampling errors (the namespace going away at the end, mostly).
    pub errors: u64,
}

impl RouterView {
    /// The VIP mask at `t` (the last change at or before it).
    pub fn mask_at(&self, t: Ns) -> u32 {
        let i = self.changes.partition_point(|&(at, _)| at <= t);
        if i == 0 {
            0
        } else {
            self.changes[i - 1].1
        }
    }
}

pub struct Shared {
    pub view: Mutex<RouterView>,
    pub life: Mutex<Life>,
}

/// The client's ARP view of the IPv4 VIP: `(time, MAC)` changes, `None` when it has no
/// complete entry.
#[derive(Debug, Default)]
pub struct ClientView {
    pub changes: Vec<(Ns, Option<[u8; 6]>)>,
    pub samples: u64,
}

impl ClientView {
    pub fn mac_at(&self, t: Ns) -> Option<[u8; 6]> {
        let i = self.changes.partition_point(|&(at, _)| at <= t);
        if i == 0 {
            None
        } else {
            self.changes[i - 1].1
        }
    }
}

/// The sampler threads; [`Samplers::stop`] ends them.
pub struct Samplers {
    stop: Arc<AtomicBool>,
    threads: Vec<JoinHandle<()>>,
    pub checks: Arc<AtomicU64>,
}

impl Samplers {
    pub fn new() -> Samplers {
        Samplers {
            stop: Arc::new(AtomicBool::new(false)),
            threads: vec![],
            checks: Arc::new(AtomicU64::new(0)),
        }
    }

    /// Sample router namespace `ns` for `vips` into `shared`.
    pub fn router(&mut self, ns: &str, vips: Vec<IpAddr>, shared: Arc<Shared>) -> Result<()> {
        let file = open_ns(ns)?;
        let stop = self.stop.clone();
        let checks = self.checks.clone();
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        self.threads.push(std::thread::spawn(move || {
            let r = router_loop(&file, &vips, &shared, &stop, &checks, &ready_tx);
            if let Err(e) = r {
                let _ = ready_tx.send(Err(format!("{e:#}")));
            }
        }));
        ready(ready_rx, ns)
    }

    /// Sample the client's ARP entry for `vip`.
    pub fn client(&mut self, ns: &str, vip: Ipv4Addr, view: Arc<Mutex<ClientView>>) -> Result<()> {
        let file = open_ns(ns)?;
        let stop = self.stop.clone();
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        self.threads.push(std::thread::spawn(move || {
            if let Err(e) = setns(&file, CloneFlags::CLONE_NEWNET) {
                let _ = ready_tx.send(Err(format!("setns: {e}")));
                return;
            }
            let _ = ready_tx.send(Ok(()));
            while !stop.load(Ordering::Relaxed) {
                let t = now_ns();
                let mac = std::fs::read_to_string("/proc/thread-self/net/arp")
                    .ok()
                    .and_then(|text| arp_mac(&text, vip));
                let mut v = lock(&view);
                v.samples += 1;
                if v.changes.last().map(|c| c.1) != Some(mac) {
                    v.changes.push((t, mac));
                }
                drop(v);
                std::thread::sleep(EVERY);
            }
        }));
        ready(ready_rx, ns)
    }

    pub fn stop(self) {
        self.stop.store(true, Ordering::Relaxed);
        for t in self.threads {
            let _ = t.join();
        }
    }
}

fn open_ns(ns: &str) -> Result<File> {
    let path = format!("/run/netns/{ns}");
    File::open(&path).with_context(|| format!("open {path}"))
}

fn ready(rx: std::sync::mpsc::Receiver<Result<(), String>>, ns: &str) -> Result<()> {
    match rx.recv_timeout(Duration::from_secs(10)) {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => Err(anyhow!("sampler in {ns}: {e}")),
        Err(_) => Err(anyhow!("sampler in {ns} did not start")),
    }
}

fn router_loop(
    file: &File,
    vips: &[IpAddr],
    shared: &Shared,
    stop: &AtomicBool,
    checks: &AtomicU64,
    ready: &std::sync::mpsc::Sender<Result<(), String>>,
) -> Result<()> {
    setns(file, CloneFlags::CLONE_NEWNET).context("setns")?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let nl = rt
        .block_on(keepup_sys::Netlink::new())
        .context("rtnetlink")?;
    let _ = ready.send(Ok(()));
    let mut last_rss: Ns = 0;
    while !stop.load(Ordering::Relaxed) {
        let t = now_ns();
        let got = rt.block_on(nl.addresses(None));
        let life = *lock(&shared.life);
        let mut view = lock(&shared.view);
        match got {
            Ok(addrs) => {
                let mut mask = 0u32;
                for (i, vip) in vips.iter().enumerate() {
                    if addrs.iter().any(|a| a.addr == *vip) {
                        mask |= 1 << i;
                    }
                }
                view.samples += 1;
                checks.fetch_add(vips.len() as u64, Ordering::Relaxed);
                if let Life::Stopped(at) = life {
                    if at < t {
                        for i in 0..vips.len() {
                            if mask & (1 << i) != 0 {
                                view.held_after_stop.push((t, i));
                            }
                        }
                    }
                }
                if view.changes.last().map(|c| c.1) != Some(mask) {
                    view.changes.push((t, mask));
                }
            }
            Err(_) => view.errors += 1,
        }
        if let Life::Up(pid) = life {
            if t.saturating_sub(last_rss) >= 1_000_000_000 {
                if let Some(kib) = rss_kib(pid) {
                    view.rss.push((t, pid, kib));
                }
                last_rss = t;
            }
        }
        drop(view);
        std::thread::sleep(EVERY);
    }
    Ok(())
}

/// VmRSS of `pid` in KiB.
pub fn rss_kib(pid: u32) -> Option<u64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    s.lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// The MAC of a complete ARP entry for `ip` in `/proc/net/arp` text.
pub fn arp_mac(text: &str, ip: Ipv4Addr) -> Option<[u8; 6]> {
    let want = ip.to_string();
    for line in text.lines().skip(1) {
        let w: Vec<&str> = line.split_whitespace().collect();
        if w.len() < 4 || w[0] != want {
            continue;
        }
        // Flags 0x2: complete.
        let flags = u32::from_str_radix(w[2].trim_start_matches("0x"), 16).ok()?;
        if flags & 0x2 == 0 {
            return None;
        }
        let mut mac = [0u8; 6];
        let mut parts = w[3].split(':');
        for b in &mut mac {
            *b = u8::from_str_radix(parts.next()?, 16).ok()?;
        }
        return Some(mac);
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_arp_table() {
        let text =
            "IP address       HW type     Flags       HW address            Mask     Device\n\
                    10.61.0.1        0x1         0x2         02:6b:75:00:01:00     *        eth0\n\
                    10.61.0.100      0x1         0x2         02:6b:75:00:02:00     *        eth0\n\
                    10.61.0.9        0x1         0x0         00:00:00:00:00:00     *        eth0\n";
        let vip = Ipv4Addr::new(10, 61, 0, 100);
        assert_eq!(arp_mac(text, vip), Some([2, 0x6b, 0x75, 0, 2, 0]));
        assert_eq!(arp_mac(text, Ipv4Addr::new(10, 61, 0, 9)), None);
        assert_eq!(arp_mac(text, Ipv4Addr::new(10, 61, 0, 7)), None);
    }

    #[test]
    fn mask_at_takes_the_last_change() {
        let v = RouterView {
            changes: vec![(10, 1), (20, 0), (30, 3)],
            ..Default::default()
        };
        assert_eq!(v.mask_at(5), 0);
        assert_eq!(v.mask_at(10), 1);
        assert_eq!(v.mask_at(25), 0);
        assert_eq!(v.mask_at(99), 3);
    }
}
