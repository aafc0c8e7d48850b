//! Link and address changes from the rtnetlink multicast groups.

use std::collections::{HashMap, HashSet, VecDeque};

use netlink_packet_core::{NLM_F_DUMP, NLM_F_REQUEST};
use netlink_packet_route::address::AddressMessage;
use netlink_packet_route::link::LinkMessage;
use netlink_packet_route::{AddressFamily, RouteNetlinkMessage};
use tokio::io::unix::AsyncFd;

use crate::netlink::{address_of, is_up, link_name};
use crate::nl::{self, Fail, Step};
use crate::{Address, Error, LinkEvent, Result};

/// Receive buffer asked for (the kernel caps it at net.core.rmem_max); an overflow
/// is repaired by a fresh snapshot in any case.
const RCVBUF: usize = 1 << 20;

/// What the monitor last knew.
#[derive(Default)]
struct State {
    /// ifindex -> (name, up)
    links: HashMap<u32, (String, bool)>,
    addrs: HashSet<Address>,
}

/// Link and address changes, from an RTMGRP_LINK | IFADDR multicast subscription.
///
/// `Link` is reported when an interface's up-ness (IFF_UP and IFF_RUNNING) changes,
/// when an interface appears, and (as down) when one that was up goes away; other link
/// updates (MTU, statistics, renames) are not. An address is reported once when it
/// appears (IPv6 flag updates such as the end of DAD are not repeated) and on each
/// removal. Interfaces and addresses present when the monitor starts are not reported.
///
/// If the kernel drops notifications because the socket overflowed (ENOBUFS), the
/// monitor reads links and addresses afresh and reports the differences.
pub struct Monitor {
    fd: AsyncFd<netlink_sys::Socket>,
    state: State,
    pending: VecDeque<LinkEvent>,
    seq: u32,
}

impl Monitor {
    /// Subscribe, then take a snapshot (subscribing first, so nothing is missed in
    /// between). Must be called inside a tokio runtime.
    pub fn new() -> Result<Monitor> {
        let what = |step: &str| format!("rtnetlink monitor: {step}");
        let groups =
            (libc::RTMGRP_LINK | libc::RTMGRP_IPV4_IFADDR | libc::RTMGRP_IPV6_IFADDR) as u32;
        let s = nl::socket(groups).map_err(|e| Error::Io {
            what: what("subscribe"),
            source: e,
        })?;
        let _ = s.set_rx_buf_sz(RCVBUF as libc::c_int);
        s.set_non_blocking(true).map_err(|e| Error::Io {
            what: what("O_NONBLOCK"),
            source: e,
        })?;
        let fd = crate::register(s).map_err(|e| Error::Io {
            what: what("register with the runtime"),
            source: e,
        })?;
        let mut m = Monitor {
            fd,
            state: State::default(),
            pending: VecDeque::new(),
            seq: 0,
        };
        m.state = m.snapshot()?;
        Ok(m)
    }

    /// The addresses on this host as the monitor knows them: those found at start
    /// (which are not reported as events) with every change read since, returned by
    /// [`Monitor::next`] or still waiting to be.
    pub fn addresses(&self) -> impl Iterator<Item = &Address> {
        self.state.addrs.iter()
    }

    /// The next change. Cancel safe: events read but not yet returned are kept.
    pub async fn next(&mut self) -> Result<LinkEvent> {
        let mut buf = Vec::with_capacity(nl::RECV_BUF);
        loop {
            if let Some(e) = self.pending.pop_front() {
                return Ok(e);
            }
            let mut guard = self.fd.readable().await.map_err(|e| Error::Io {
                what: "rtnetlink monitor: wait".into(),
                source: e,
            })?;
            buf.clear();
            match guard.try_io(|s| s.get_ref().recv(&mut buf, 0)) {
                Err(_would_block) => continue,
                Ok(Ok(_)) => {
                    for m in nl::notifications(&buf) {
                        self.apply(m);
                    }
                }
                Ok(Err(e)) if e.raw_os_error() == Some(libc::ENOBUFS) => {
                    let fresh = self.snapshot()?;
                    self.resync(fresh);
                }
                Ok(Err(e)) => {
                    return Err(Error::Io {
                        what: "rtnetlink monitor: receive".into(),
                        source: e,
                    })
                }
            }
        }
    }

    fn name_of(&self, ifindex: u32) -> Option<&str> {
        self.state.links.get(&ifindex).map(|(n, _)| n.as_str())
    }

    fn apply(&mut self, m: RouteNetlinkMessage) {
        match m {
            // AF_BRIDGE copies describe bridge ports (and DELLINK there means "left the
            // bridge"); the interface itself is reported with AF_UNSPEC.
            RouteNetlinkMessage::NewLink(l)
                if l.header.interface_family == AddressFamily::Unspec =>
            {
                let ifindex = l.header.index;
                let up = is_up(&l);
                let name = link_name(&l)
                    .or_else(|| self.name_of(ifindex).map(str::to_string))
                    .unwrap_or_default();
                let was = self.state.links.insert(ifindex, (name.clone(), up));
                if was.map(|(_, u)| u) != Some(up) {
                    self.pending
                        .push_back(LinkEvent::Link { ifindex, name, up });
                }
            }
            RouteNetlinkMessage::DelLink(l)
                if l.header.interface_family == AddressFamily::Unspec =>
            {
                let ifindex = l.header.index;
                if let Some((name, true)) = self.state.links.remove(&ifindex) {
                    self.pending.push_back(LinkEvent::Link {
                        ifindex,
                        name,
                        up: false,
                    });
                }
                self.state.addrs.retain(|a| a.ifindex != ifindex);
            }
            RouteNetlinkMessage::NewAddress(m) => {
                if let Some(a) = address_of(&m, |i| self.name_of(i)) {
                    if self.state.addrs.insert(a.clone()) {
                        self.pending.push_back(LinkEvent::AddressAdded(a));
                    }
                }
            }
            RouteNetlinkMessage::DelAddress(m) => {
                if let Some(a) = address_of(&m, |i| self.name_of(i)) {
                    self.state.addrs.remove(&a);
                    self.pending.push_back(LinkEvent::AddressRemoved(a));
                }
            }
            _ => {}
        }
    }

    /// Report what changed between what we knew and `fresh`, then know `fresh`.
    fn resync(&mut self, fresh: State) {
        self.pending.extend(changes(&self.state, &fresh));
        self.state = fresh;
    }

    /// Links and addresses as they are now, read on a blocking socket of its own
    /// (rtnetlink answers within the request, so this does not wait on the network).
    fn snapshot(&mut self) -> Result<State> {
        let s = nl::socket(0).map_err(|e| Error::Io {
            what: "rtnetlink monitor: snapshot socket".into(),
            source: e,
        })?;
        let links = self
            .dump(&s, RouteNetlinkMessage::GetLink(LinkMessage::default()))
            .map_err(|e| e.into_error("rtnetlink monitor: list links".into()))?;
        let addrs = self
            .dump(
                &s,
                RouteNetlinkMessage::GetAddress(AddressMessage::default()),
            )
            .map_err(|e| e.into_error("rtnetlink monitor: list addresses".into()))?;
        let mut state = State::default();
        for m in links {
            if let RouteNetlinkMessage::NewLink(l) = m {
                let name = link_name(&l).unwrap_or_default();
                state.links.insert(l.header.index, (name, is_up(&l)));
            }
        }
        for m in addrs {
            if let RouteNetlinkMessage::NewAddress(m) = m {
                let names = &state.links;
                if let Some(a) = address_of(&m, |i| names.get(&i).map(|(n, _)| n.as_str())) {
                    state.addrs.insert(a);
                }
            }
        }
        Ok(state)
    }

    /// A dump, asked again while it races with changes.
    fn dump(
        &mut self,
        s: &netlink_sys::Socket,
        msg: RouteNetlinkMessage,
    ) -> std::result::Result<Vec<RouteNetlinkMessage>, Fail> {
        let mut last = Fail::Interrupted;
        for _ in 0..5 {
            self.seq = self.seq.wrapping_add(1);
            match request_blocking(s, self.seq, msg.clone(), NLM_F_REQUEST | NLM_F_DUMP) {
                Err(Fail::Interrupted) => last = Fail::Interrupted,
                r => return r,
            }
        }
        Err(last)
    }
}

/// The events that turn `old` into `new`: links whose up-ness changed or that appeared,
/// links that were up and are gone (as down), addresses removed, addresses added.
fn changes(old: &State, new: &State) -> Vec<LinkEvent> {
    let mut out = Vec::new();
    for (&ifindex, (name, up)) in &new.links {
        if old.links.get(&ifindex).map(|(_, u)| *u) != Some(*up) {
            out.push(LinkEvent::Link {
                ifindex,
                name: name.clone(),
                up: *up,
            });
        }
    }
    for (&ifindex, (name, up)) in &old.links {
        if *up && !new.links.contains_key(&ifindex) {
            out.push(LinkEvent::Link {
                ifindex,
                name: name.clone(),
                up: false,
            });
        }
    }
    out.extend(
        old.addrs
            .difference(&new.addrs)
            .map(|a| LinkEvent::AddressRemoved(a.clone())),
    );
    out.extend(
        new.addrs
            .difference(&old.addrs)
            .map(|a| LinkEvent::AddressAdded(a.clone())),
    );
    out
}

/// One request on a blocking socket, for the monitor's snapshots. rtnetlink answers
/// inside the sending call, so the receive never waits on anything but the kernel.
pub(crate) fn request_blocking(
    s: &netlink_sys::Socket,
    seq: u32,
    msg: RouteNetlinkMessage,
    flags: u16,
) -> std::result::Result<Vec<RouteNetlinkMessage>, Fail> {
    let req = nl::encode(msg, flags, seq);
    s.send(&req, 0)?;
    let mut out = Vec::new();
    let mut interrupted = false;
    let mut buf = Vec::with_capacity(nl::RECV_BUF);
    loop {
        buf.clear();
        s.recv(&mut buf, 0)?;
        if nl::absorb(&buf, seq, &mut out, &mut interrupted)? == Step::Done {
            return Ok(out);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(ifindex: u32, ip: &str) -> Address {
        Address {
            ifindex,
            addr: ip.parse().expect("literal"),
            prefix_len: 24,
            broadcast: None,
            scope: 0,
            label: None,
        }
    }

    #[test]
    fn changes_between_snapshots() {
        let mut old = State::default();
        old.links.insert(1, ("lo".into(), true));
        old.links.insert(2, ("eth0".into(), true));
        old.links.insert(3, ("eth1".into(), true));
        old.addrs.insert(addr(2, "10.0.0.1"));
        old.addrs.insert(addr(2, "10.0.0.2"));
        let mut new = State::default();
        new.links.insert(1, ("lo".into(), true));
        new.links.insert(2, ("eth0".into(), false));
        new.links.insert(4, ("eth2".into(), false));
        new.addrs.insert(addr(2, "10.0.0.2"));
        new.addrs.insert(addr(4, "10.0.1.1"));
        let mut got = changes(&old, &new);
        got.sort_by_key(|e| format!("{e:?}"));
        let mut want = vec![
            LinkEvent::Link {
                ifindex: 2,
                name: "eth0".into(),
                up: false,
            },
            LinkEvent::Link {
                ifindex: 3,
                name: "eth1".into(),
                up: false,
            },
            LinkEvent::Link {
                ifindex: 4,
                name: "eth2".into(),
                up: false,
            },
            LinkEvent::AddressRemoved(addr(2, "10.0.0.1")),
            LinkEvent::AddressAdded(addr(4, "10.0.1.1")),
        ];
        want.sort_by_key(|e| format!("{e:?}"));
        assert_eq!(got, want);
        assert!(changes(&new, &new).is_empty());
    }

    #[test]
    fn outside_a_runtime_is_an_error_not_a_panic() {
        assert!(Monitor::new().is_err());
    }
}
