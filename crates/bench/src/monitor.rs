//! The VIP monitor: address events of a router's namespace, each with its wall-clock
//! time, from keepup-sys's rtnetlink [`Monitor`] (the daemon's own).
//!
//! `keepup-bench monitor --out FILE` runs in a router namespace until SIGTERM and
//! writes `a NS IFINDEX ADDR/PLEN` when an address appears and `d ...` when one goes
//! (NS: nanoseconds since the Unix epoch). It prints `monitoring` once subscribed.
use std::io::Write;
use std::net::IpAddr;
use std::path::Path;

use anyhow::{Context, Result};
use keepup_sys::{LinkEvent, Monitor};

use crate::{now_ns, Ns};

pub fn run(out: &Path) -> Result<()> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(async {
        let mut file =
            std::fs::File::create(out).with_context(|| format!("create {}", out.display()))?;
        let mut mon = Monitor::new().context("rtnetlink monitor")?;
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
        println!("monitoring");
        std::io::stdout().flush()?;
        loop {
            tokio::select! {
                _ = term.recv() => return Ok(()),
                ev = mon.next() => {
                    let at = now_ns();
                    let line = match ev? {
                        LinkEvent::AddressAdded(a) => {
                            format!("a {at} {} {}/{}\n", a.ifindex, a.addr, a.prefix_len)
                        }
                        LinkEvent::AddressRemoved(a) => {
                            format!("d {at} {} {}/{}\n", a.ifindex, a.addr, a.prefix_len)
                        }
                        LinkEvent::Link { .. } => continue,
                    };
                    // One write per event: whole lines reach the file at once.
                    file.write_all(line.as_bytes())?;
                }
            }
        }
    })
}

/// One address event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AddrEvent {
    pub at: Ns,
    pub added: bool,
    pub addr: IpAddr,
}

/// The events in a monitor file (complete lines only).
pub fn read(path: &Path) -> Vec<AddrEvent> {
    parse(&std::fs::read_to_string(path).unwrap_or_default())
}

pub fn parse(text: &str) -> Vec<AddrEvent> {
    let whole = match text.rfind('\n') {
        Some(i) => &text[..=i],
        None => "",
    };
    whole
        .lines()
        .filter_map(|l| {
            let mut w = l.split_ascii_whitespace();
            let added = match w.next()? {
                "a" => true,
                "d" => false,
                _ => return None,
            };
            let at = w.next()?.parse().ok()?;
            let _ifindex = w.next()?;
            let addr = w.next()?.split('/').next()?.parse().ok()?;
            Some(AddrEvent { at, added, addr })
        })
        .collect()
}

/// When `addr` was first added at or after `since`.
pub fn added_after(events: &[AddrEvent], addr: IpAddr, since: Ns) -> Option<Ns> {
    events
        .iter()
        .find(|e| e.added && e.addr == addr && e.at >= since)
        .map(|e| e.at)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_monitor_lines() {
        let text = "a 100 2 10.9.0.100/24\nd 200 2 10.9.0.100/24\nx\na 300 2 fd00::1/64\na 4";
        let e = parse(text);
        assert_eq!(e.len(), 3);
        let vip: IpAddr = "10.9.0.100".parse().unwrap();
        assert_eq!(
            e[0],
            AddrEvent {
                at: 100,
                added: true,
                addr: vip
            }
        );
        assert!(!e[1].added);
        assert_eq!(added_after(&e, vip, 0), Some(100));
        assert_eq!(added_after(&e, vip, 101), None);
    }
}
