//! Delay and loss for a kernel without `sch_netem`: the router's bridge port is taken
//! off the bridge, a veth pair joins the bridge in its place, and a relay thread in the
//! switch namespace carries every frame between the port and that veth, each way late
//! by the same delay (so in order), a share of them dropped. Undone by [`Impaired::heal`];
//! the veths live in the lab's switch namespace, so removing the lab removes them.
use std::collections::VecDeque;
use std::os::fd::{AsRawFd, OwnedFd};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};
use keepup_testkit::lab::{Host, Lan};
use keepup_testkit::SplitMix64;
use nix::sys::socket::{
    recvfrom, socket, AddressFamily, LinkAddr, SockFlag, SockProtocol, SockType,
};

/// A frame this host sent (`PACKET_OUTGOING`): the relay's own sends, never relayed.
const PACKET_OUTGOING: u8 = 4;

/// One router's port, impaired until [`Impaired::heal`].
pub struct Impaired {
    ns: String,
    bridge: String,
    port: String,
    relay_link: String,
    stop: Arc<AtomicBool>,
    thread: Mutex<Option<JoinHandle<()>>>,
}

impl std::fmt::Debug for Impaired {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Impaired({} via {} in {})",
            self.port, self.relay_link, self.ns
        )
    }
}

fn ip(ns: &str, args: &[&str]) -> Result<()> {
    let out = Command::new("ip")
        .args(["-n", ns])
        .args(args)
        .output()
        .context("run ip")?;
    if !out.status.success() {
        bail!(
            "ip -n {ns} {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(())
}

impl Impaired {
    /// Delay every frame to and from `host` on `lan` by `delay`, and drop `loss_pct`
    /// percent of them, each way. `seed` draws which frames are lost.
    pub fn start(
        lan: &Lan,
        host: &Host,
        delay: Duration,
        loss_pct: u64,
        seed: u64,
    ) -> Result<Arc<Impaired>> {
        let ns = lan.ns().to_owned();
        let port = lan.port_of(host)?;
        // Short names: an interface name has at most 15 characters.
        // (Host names are ASCII, at most 10 characters: the last 6 are kept.)
        let name = host.name();
        let tag = &name[name.len().saturating_sub(6)..];
        let relay_link = format!("dly{tag}a");
        let bridge_link = format!("dly{tag}b");
        ip(&ns, &["link", "set", &port, "nomaster"])?;
        let made = ip(
            &ns,
            &[
                "link",
                "add",
                &relay_link,
                "type",
                "veth",
                "peer",
                "name",
                &bridge_link,
            ],
        )
        .and_then(|()| {
            ip(
                &ns,
                &["link", "set", &bridge_link, "master", lan.bridge(), "up"],
            )
        })
        .and_then(|()| ip(&ns, &["link", "set", &relay_link, "up"]));
        if let Err(e) = made {
            let _ = ip(&ns, &["link", "del", &relay_link]);
            let _ = ip(&ns, &["link", "set", &port, "master", lan.bridge()]);
            return Err(e);
        }
        let (sock, sender, port_index, relay_index) = lan
            .within(|| -> Result<_> {
                let index = |name: &str| {
                    nix::net::if_::if_nametoindex(name)
                        .with_context(|| format!("ifindex of {name}"))
                };
                let sock = socket(
                    AddressFamily::Packet,
                    SockType::Raw,
                    SockFlag::SOCK_NONBLOCK | SockFlag::SOCK_CLOEXEC,
                    SockProtocol::EthAll,
                )
                .context("AF_PACKET socket")?;
                let sender = keepup_sys::FrameSender::new()?;
                Ok((sock, sender, index(&port)?, index(&relay_link)?))
            })
            .map_err(|e| anyhow!("{e}"))??;
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::Builder::new()
            .name("chaos-delay".into())
            .spawn(move || {
                relay(
                    &sock,
                    &sender,
                    (port_index, relay_index),
                    delay,
                    loss_pct,
                    SplitMix64::new(seed),
                    &flag,
                )
            })
            .context("spawn the relay")?;
        Ok(Arc::new(Impaired {
            ns,
            bridge: lan.bridge().to_owned(),
            port,
            relay_link,
            stop,
            thread: Mutex::new(Some(thread)),
        }))
    }

    /// Stop the relay and put the port back on the bridge.
    pub fn heal(&self) -> Result<()> {
        self.stop.store(true, Ordering::Relaxed);
        let thread = self.thread.lock().ok().and_then(|mut t| t.take());
        if let Some(t) = thread {
            let _ = t.join();
        }
        // Both steps, whatever the first says: the port must go back on the bridge.
        let removed = ip(&self.ns, &["link", "del", &self.relay_link]);
        ip(
            &self.ns,
            &["link", "set", &self.port, "master", &self.bridge],
        )?;
        removed
    }
}

/// Carry frames between the two interfaces `(a, b)` until `stop`: each one read is
/// sent out of the other interface `delay` later, unless the draw loses it.
fn relay(
    sock: &OwnedFd,
    sender: &keepup_sys::FrameSender,
    (a, b): (u32, u32),
    delay: Duration,
    loss_pct: u64,
    mut rng: SplitMix64,
    stop: &AtomicBool,
) {
    let mut due: VecDeque<(Instant, u32, Vec<u8>)> = VecDeque::new();
    let mut buf = vec![0u8; 65536];
    while !stop.load(Ordering::Relaxed) {
        // A millisecond's nap between reads: frames are late by the delay, give or
        // take that (the socket is non-blocking; the lab's traffic is light).
        let wait = due.front().map_or(Duration::from_millis(1), |(at, ..)| {
            at.saturating_duration_since(Instant::now())
                .min(Duration::from_millis(1))
        });
        std::thread::sleep(wait);
        loop {
            match recvfrom::<LinkAddr>(sock.as_raw_fd(), &mut buf) {
                Ok((n, Some(from))) => {
                    if from.pkttype() == PACKET_OUTGOING {
                        continue;
                    }
                    let index = u32::try_from(from.ifindex()).unwrap_or(0);
                    let to = if index == a {
                        b
                    } else if index == b {
                        a
                    } else {
                        continue;
                    };
                    if rng.below_incl(99) < loss_pct {
                        continue;
                    }
                    due.push_back((Instant::now() + delay, to, buf[..n].to_vec()));
                }
                Ok((_, None)) => continue,
                Err(_) => break,
            }
        }
        let now = Instant::now();
        while due.front().is_some_and(|(at, ..)| *at <= now) {
            if let Some((_, to, frame)) = due.pop_front() {
                // A frame the kernel refuses (the link going away at the heal) is lost,
                // as on a wire.
                let _ = sender.send(to, &frame);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use keepup_testkit::lab::{root_or_skip, Lab};
    use std::net::{IpAddr, Ipv4Addr};

    /// Two hosts on a bridge: 80 ms each way makes an echo take at least 160 ms (a
    /// lower bound only: a loaded machine adds to it; the lab's ping waits 200 ms for
    /// each echo's answer); all lost, none is answered;
    /// healed, the port is back on the bridge, answers come again, no relay link is
    /// left.
    #[test]
    fn netns_chaos_relay_delays_and_drops_both_ways_until_healed() {
        if !root_or_skip("netns_chaos_relay_delays_and_drops_both_ways_until_healed") {
            return;
        }
        let lab = Lab::new("dly").unwrap();
        let lan = lab.bridge().unwrap();
        let a = lab
            .host("a", &lan, Ipv4Addr::new(10, 77, 0, 1), None)
            .unwrap();
        let b = lab
            .host("b", &lan, Ipv4Addr::new(10, 77, 0, 2), None)
            .unwrap();
        let to_b = IpAddr::V4(Ipv4Addr::new(10, 77, 0, 2));
        assert!(
            a.ping(to_b, Duration::from_secs(5)).unwrap(),
            "no echo before"
        );

        let slow = Impaired::start(&lan, &a, Duration::from_millis(80), 0, 1).unwrap();
        let sent = Instant::now();
        assert!(
            a.ping(to_b, Duration::from_secs(5)).unwrap(),
            "no echo through the relay"
        );
        let took = sent.elapsed();
        assert!(took >= Duration::from_millis(160), "echo after {took:?}");
        slow.heal().unwrap();

        let lossy = Impaired::start(&lan, &a, Duration::from_millis(1), 100, 2).unwrap();
        assert!(
            !a.ping(to_b, Duration::from_secs(1)).unwrap(),
            "answered at 100 % loss"
        );
        lossy.heal().unwrap();
        assert!(
            a.ping(to_b, Duration::from_secs(5)).unwrap(),
            "no echo after the heal"
        );

        let links = Command::new("ip")
            .args(["-n", lan.ns(), "-o", "link"])
            .output()
            .unwrap();
        let links = String::from_utf8_lossy(&links.stdout);
        assert!(!links.contains("dly"), "{links}");
        let port = lan.port_of(&a).unwrap();
        assert!(
            links.lines().any(|l| l.contains(&format!("{port}@"))
                && l.contains(&format!("master {}", lan.bridge()))),
            "{port} not back on the bridge:\n{links}"
        );
        drop(b);
    }
}
