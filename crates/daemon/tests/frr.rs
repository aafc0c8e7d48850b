//! keepup and FRR's vrrpd (Debian's `frr` 8.4.4) in one virtual router, VRID 51, VRRPv3,
//! IPv4 and IPv6 at once (one keepup instance and one FRR router per family), each side
//! in each role: election by priority, takeover when the Master is killed (SIGKILL),
//! the priority-0 release of a clean stop (SIGTERM of keepup; `no vrrp 51`, and
//! stopping vrrpd, for FRR), and preemption when the better one comes back. After each
//! convergence each VIP has exactly one holder, the right one: keepup's on its `eth0`,
//! FRR's on its macvlan with carrier (FRR's Backup keeps the address on the macvlan and
//! sets the device `protodown on`, so the holder is the macvlan that is up). A capture
//! shows FRR's adverts leave from the virtual MACs (00:00:5e:00:01:33 for IPv4,
//! 00:00:5e:00:02:33 for IPv6) and keepup, their Backup, stays Backup on them.
//!
//! FRR always uses a virtual MAC, a macvlan the operator creates (FRR's vrrpd docs,
//! "System Configuration"); this machine's kernel has no macvlan, so the whole lab runs in
//! the qemu VM (Debian's 6.1 kernel). keepup runs without `use_vmac` (its adverts leave
//! from its own MAC, which FRR accepts), `version 3`, `advert_int 1`; FRR with
//! `advertisement-interval 1000` (FRR counts milliseconds, in steps of 10).
//!
//! FRR's quirks the lab has to know, named where they show:
//! - FRR's Backup still has the VIP on its (protodown) macvlan, and with Linux's default
//!   `arp_ignore=0` its `eth0` answers ARP for it from the host's real MAC while keepup
//!   is the Master: clients may send the VIP's traffic to the Backup. The FRR host needs
//!   `arp_ignore=1` and `arp_announce=2`; the lab sets them and proves both sides of it.
//! - FRR's IPv6 router sends its first advert as a new Master one interval late (the
//!   test prints the lag after keepup's release: 999 ms seen; vrrpd logs `Failed to find
//!   address to bind on vrrp6-51` at each IPv6 takeover), so nothing here times IPv6; in
//!   fact nothing here asserts an elapsed time: everything waits with generous timeouts
//!   (software emulation), and the times seen are printed.
//! - A SIGKILLed vrrpd leaves its macvlan up with the VIP (nothing sets it protodown),
//!   so after keepup takes over both hosts hold the VIP until vrrpd is back: the
//!   operator's supervisor has to restart vrrpd (or take the macvlan down).
//! - FRR's adverts list only the VIPs (RFC 5798 wants the link-local first); keepup uses
//!   them and says so once. keepup's IPv6 instance lists the same single VIP.
//! - `ip link add ... addrgenmode random type macvlan` (FRR's docs) is refused by the
//!   guest's kernel (EAFNOSUPPORT); `ip link set DEV addrgenmode random` after creation
//!   gives the IPv6 macvlan the random link-local FRR needs.
//! - zebra and vrrpd run as user `frr` (root is not in the `frrvty` group, and the FRR
//!   daemons refuse to start as a user outside it), with their sockets in the lab.
#![allow(clippy::unwrap_used)]

mod common;
use common::has;

use keepup_testkit::lab::{self, wait_until, Host, Lab, Lan, Packet, Proc, Signal};
use keepup_wire::MacAddr;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::PathBuf;
use std::time::{Duration, Instant};

const VIP4: IpAddr = IpAddr::V4(Ipv4Addr::new(10, 9, 0, 100));
const VIP6: IpAddr = IpAddr::V6(Ipv6Addr::new(0xfd00, 9, 0, 0, 0, 0, 0, 0x100));
const VMAC4: MacAddr = MacAddr([0, 0, 0x5e, 0, 1, 51]);
const VMAC6: MacAddr = MacAddr([0, 0, 0x5e, 0, 2, 51]);

/// Generous: qemu emulates, on a shared machine.
const CONVERGE: Duration = Duration::from_secs(30);

#[test]
fn qemu_frr_interop_both_roles_ipv4_and_ipv6() {
    keepup_testkit::vm::guest_test(
        "frr",
        "modprobe macvlan",
        "guest_frr_interop",
        Duration::from_secs(1200),
    );
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Fam {
    V4,
    V6,
}

const FAMS: [Fam; 2] = [Fam::V4, Fam::V6];

impl Fam {
    fn vip(self) -> IpAddr {
        match self {
            Fam::V4 => VIP4,
            Fam::V6 => VIP6,
        }
    }
    /// The operator's macvlan on the FRR host (FRR finds it by its MAC).
    fn macvlan(self) -> &'static str {
        match self {
            Fam::V4 => "vrrp4-51",
            Fam::V6 => "vrrp6-51",
        }
    }
    fn vmac(self) -> MacAddr {
        match self {
            Fam::V4 => VMAC4,
            Fam::V6 => VMAC6,
        }
    }
    /// keepup's instance for this family.
    fn instance(self) -> &'static str {
        match self {
            Fam::V4 => "VI_4",
            Fam::V6 => "VI_6",
        }
    }
    /// FRR's key for this family in `show vrrp json`.
    fn frr_key(self) -> &'static str {
        match self {
            Fam::V4 => "v4",
            Fam::V6 => "v6",
        }
    }
}

/// keepup's side: one instance per family, VRID 51, VRRPv3, no virtual MAC.
fn keepup_conf(prio: u8) -> String {
    let inst = |name: &str, vip: &str| {
        format!(
            "vrrp_instance {name} {{
    state BACKUP
    interface eth0
    virtual_router_id 51
    priority {prio}
    advert_int 1
    version 3
    virtual_ipaddress {{
        {vip}
    }}
}}
"
        )
    };
    format!(
        "{}{}",
        inst("VI_4", "10.9.0.100/24"),
        inst("VI_6", "fd00:9::100/64")
    )
}

/// FRR's side: vrrpd's configuration for VRID 51 on eth0, both families.
fn frr_conf(prio: u8) -> String {
    format!(
        "log stdout informational
interface eth0
{}",
        frr_vrrp_lines(prio)
            .iter()
            .map(|l| format!(" {l}\n"))
            .collect::<String>()
    )
}

fn frr_vrrp_lines(prio: u8) -> Vec<String> {
    vec![
        "vrrp 51 version 3".into(),
        format!("vrrp 51 priority {prio}"),
        "vrrp 51 advertisement-interval 1000".into(),
        "vrrp 51 ip 10.9.0.100".into(),
        "vrrp 51 ipv6 fd00:9::100".into(),
    ]
}

/// FRR on a lab host: zebra (vrrpd needs it in the same namespace) and vrrpd, their
/// sockets, pid files and configuration in one directory of the lab.
struct Frr<'h> {
    host: &'h Host,
    lab_dir: PathBuf,
    dir: PathBuf,
    _zebra: Proc,
    vrrpd: Option<Proc>,
    starts: u32,
    /// Whether vrrpd runs with VRID 51 configured (not after `no vrrp 51`).
    configured: bool,
}

impl<'h> Frr<'h> {
    /// Prepares the host as FRR's docs say (the macvlans with the virtual MACs in bridge
    /// mode, the VIPs on them, a random link-local on the IPv6 one), plus the ARP
    /// sysctls FRR's Backup needs (see the module docs), and starts zebra.
    fn new(lab: &Lab, host: &'h Host) -> Frr<'h> {
        for (k, v) in [
            ("net.ipv4.conf.all.arp_ignore", "1"),
            ("net.ipv4.conf.all.arp_announce", "2"),
        ] {
            host.sysctl(k, v).unwrap();
        }
        for fam in FAMS {
            let dev = fam.macvlan();
            host.run([
                "ip", "link", "add", dev, "link", "eth0", "type", "macvlan", "mode", "bridge",
            ])
            .unwrap();
            host.run(["ip", "link", "set", dev, "address", &fam.vmac().to_string()])
                .unwrap();
            if fam == Fam::V6 {
                // Not derived from the (shared) virtual MAC: FRR sends IPv6 adverts from
                // this link-local, and the election compares sources.
                host.run(["ip", "link", "set", dev, "addrgenmode", "random"])
                    .unwrap();
                host.sysctl(&format!("net/ipv6/conf/{dev}/accept_dad"), "0")
                    .unwrap();
            }
            host.run(["ip", "link", "set", dev, "up"]).unwrap();
            let mut add = vec![
                "ip".to_string(),
                "addr".into(),
                "add".into(),
                match fam {
                    Fam::V4 => "10.9.0.100/24".into(),
                    Fam::V6 => "fd00:9::100/64".into(),
                },
                "dev".into(),
                dev.into(),
            ];
            if fam == Fam::V6 {
                add.push("nodad".into());
            }
            host.run(add).unwrap();
        }
        host.link_local(Fam::V6.macvlan()).unwrap();
        // FRR drops root for user frr: a directory it may write.
        let dir = lab.file("frr");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::set_permissions(&dir, std::os::unix::fs::PermissionsExt::from_mode(0o777))
            .unwrap();
        let d = dir.display().to_string();
        let zebra = host
            .spawn(
                "/usr/lib/frr/zebra",
                &[
                    "-u",
                    "frr",
                    "-g",
                    "frr",
                    "-z",
                    &format!("{d}/zserv.api"),
                    "--vty_socket",
                    &d,
                    "-i",
                    &format!("{d}/zebra.pid"),
                    "-f",
                    "/dev/null",
                ],
                "frr-zebra.log",
            )
            .unwrap();
        let sock = dir.join("zserv.api");
        assert!(
            wait_until(CONVERGE, Duration::from_millis(50), || sock.exists()).is_some(),
            "zebra did not start:\n{}",
            zebra.log()
        );
        Frr {
            host,
            lab_dir: lab.dir().to_owned(),
            dir,
            _zebra: zebra,
            vrrpd: None,
            starts: 0,
            configured: false,
        }
    }

    /// Starts vrrpd on `frr_conf(prio)`.
    fn start(&mut self, prio: u8) {
        assert!(self.vrrpd.is_none());
        self.starts += 1;
        let conf = self.dir.join(format!("vrrpd-{}.conf", self.starts));
        std::fs::write(&conf, frr_conf(prio)).unwrap();
        std::fs::set_permissions(&conf, std::os::unix::fs::PermissionsExt::from_mode(0o644))
            .unwrap();
        let d = self.dir.display().to_string();
        let p = self
            .host
            .spawn(
                "/usr/lib/frr/vrrpd",
                &[
                    "-u",
                    "frr",
                    "-g",
                    "frr",
                    "-z",
                    &format!("{d}/zserv.api"),
                    "--vty_socket",
                    &d,
                    "-i",
                    &format!("{d}/vrrpd.pid"),
                    "-f",
                    conf.to_str().unwrap(),
                ],
                self.lab_dir.join(format!("frr-vrrpd-{}.log", self.starts)),
            )
            .unwrap();
        self.vrrpd = Some(p);
        self.configured = true;
    }

    fn log(&self) -> String {
        self.vrrpd.as_ref().map(Proc::log).unwrap_or_default()
    }

    fn kill(&mut self, sig: Signal) {
        let p = self.vrrpd.take().unwrap();
        self.configured = false;
        p.kill(sig).unwrap();
        assert!(p.wait_timeout(CONVERGE).is_some(), "vrrpd did not exit");
        eprintln!("vrrpd ({sig}):\n{}", p.log());
    }

    /// `vtysh --vty_socket DIR -c ... -c ...`: its output.
    fn vtysh(&self, cmds: &[&str]) -> String {
        let mut argv = vec![
            "vtysh".to_string(),
            "--vty_socket".into(),
            self.dir.display().to_string(),
        ];
        for c in cmds {
            argv.push("-c".into());
            argv.push((*c).into());
        }
        let out = self.host.exec(argv).unwrap();
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    }

    /// vrrpd's state of the family's router (`Master`, `Backup`, `Initialize`).
    fn status(&self, fam: Fam) -> String {
        let out = self.vtysh(&["show vrrp 51 json"]);
        serde_json::from_str::<serde_json::Value>(&out)
            .ok()
            .and_then(|v| {
                v.get(0)?
                    .get(fam.frr_key())?
                    .get("status")?
                    .as_str()
                    .map(str::to_owned)
            })
            .unwrap_or_else(|| format!("unknown: {out}"))
    }

    /// Whether FRR holds the family's VIP: on its macvlan, and the macvlan up (not
    /// `protodown`, which is how FRR's Backup lets go).
    fn holds(&self, fam: Fam) -> bool {
        self.host.carrier(fam.macvlan()).unwrap_or(false)
            && self
                .host
                .addresses(fam.macvlan())
                .is_ok_and(|a| a.contains(&fam.vip()))
    }
}

struct Pair<'h> {
    lab: &'h Lab,
    ku: &'h Host,
    frr: Frr<'h>,
    keepup: Option<Proc>,
    keepup_starts: u32,
    keepup_prio: u8,
}

impl Pair<'_> {
    fn start_keepup(&mut self) {
        assert!(self.keepup.is_none());
        self.keepup_starts += 1;
        let tag = format!("k{}", self.keepup_starts);
        self.keepup = Some(common::keepup(
            self.lab,
            self.ku,
            &keepup_conf(self.keepup_prio),
            &tag,
        ));
    }

    fn keepup_log(&self) -> String {
        self.keepup.as_ref().map(Proc::log).unwrap_or_default()
    }

    fn stop_keepup(&mut self, sig: Signal) {
        let p = self.keepup.take().unwrap();
        p.kill(sig).unwrap();
        assert!(p.wait_timeout(CONVERGE).is_some(), "keepup did not exit");
        eprintln!("keepup ({sig}):\n{}", p.log());
    }

    fn logs(&self) -> String {
        format!(
            "keepup:\n{}\nFRR vrrpd:\n{}\nFRR status v4 {} v6 {}",
            self.keepup_log(),
            self.frr.log(),
            self.frr.status(Fam::V4),
            self.frr.status(Fam::V6)
        )
    }

    fn keepup_holds(&self, fam: Fam) -> bool {
        has(self.ku, fam.vip())
    }

    /// Waits until `fam`'s VIP is held by the one side (`keepup_wins`) and not the other,
    /// then checks it stays so for two advert intervals.
    fn converged(&self, fam: Fam, keepup_wins: bool, what: &str) {
        let start = Instant::now();
        // With vrrpd running, its own word too: a fresh macvlan is up (so "holds")
        // until vrrpd starts as Backup and sets it protodown.
        let want = if keepup_wins { "Backup" } else { "Master" };
        let ok = |s: &Self| {
            s.keepup_holds(fam) == keepup_wins
                && s.frr.holds(fam) != keepup_wins
                && (!s.frr.configured || s.frr.status(fam) == want)
        };
        assert!(
            wait_until(CONVERGE, Duration::from_millis(200), || ok(self)).is_some(),
            "{what} ({fam:?}): keepup holds {} FRR holds {}, wanted keepup {keepup_wins}\n{}",
            self.keepup_holds(fam),
            self.frr.holds(fam),
            self.logs()
        );
        eprintln!("{what} ({fam:?}): converged after {:?}", start.elapsed());
        std::thread::sleep(Duration::from_secs(2));
        assert!(
            ok(self),
            "{what} ({fam:?}) did not last: keepup {} FRR {}\n{}",
            self.keepup_holds(fam),
            self.frr.holds(fam),
            self.logs()
        );
    }

    fn both_converged(&self, keepup_wins: bool, what: &str) {
        for fam in FAMS {
            self.converged(fam, keepup_wins, what);
        }
    }
}

/// ARP replies seen in `packets`: (sender MAC, sender IP).
fn arp_replies(packets: &[Packet]) -> Vec<(MacAddr, Ipv4Addr)> {
    packets
        .iter()
        .filter_map(|p| {
            let (_, _, et, arp) = p.ethernet()?;
            if et != 0x0806 || arp.get(6..8)? != [0, 2] {
                return None;
            }
            let mac = MacAddr(arp.get(8..14)?.try_into().ok()?);
            let ip: [u8; 4] = arp.get(14..18)?.try_into().ok()?;
            Some((mac, Ipv4Addr::from(ip)))
        })
        .collect()
}

/// Who answers a client's ARP request for the VIP (the client's cache flushed first).
fn who_answers_arp(lan: &Lan, client: &Host) -> Vec<MacAddr> {
    client.run(["ip", "neigh", "flush", "all"]).unwrap();
    let cap = lan.capture("arp").unwrap();
    assert!(client.ping(VIP4, Duration::from_secs(5)).unwrap());
    std::thread::sleep(Duration::from_millis(500));
    let mut macs: Vec<MacAddr> = arp_replies(&cap.stop().unwrap())
        .into_iter()
        .filter(|(_, ip)| IpAddr::V4(*ip) == VIP4)
        .map(|(m, _)| m)
        .collect();
    macs.sort_by_key(|m| m.0);
    macs.dedup();
    macs
}

fn lab_hosts(tag: &str) -> (Lab, Lan, Host, Host, Host) {
    let lab = Lab::new(tag).unwrap();
    let lan = lab.bridge().unwrap();
    let host = |name: &str, i: u8| {
        lab.host(
            name,
            &lan,
            Ipv4Addr::new(10, 9, 0, i),
            Some(Ipv6Addr::new(0xfd00, 9, 0, 0, 0, 0, 0, u16::from(i))),
        )
        .unwrap()
    };
    let ku = host("ku", 1);
    let frr = host("frr", 2);
    let client = host("client", 3);
    (lab, lan, ku, frr, client)
}

/// keepup 150 is the Master, FRR 100 its Backup.
fn keepup_master() {
    let (lab, lan, ku, frr_host, client) = lab_hosts("frrkm");
    let mut p = Pair {
        lab: &lab,
        ku: &ku,
        frr: Frr::new(&lab, &frr_host),
        keepup: None,
        keepup_starts: 0,
        keepup_prio: 150,
    };
    let ku_mac = ku.ifaces()[0].mac;
    let frr_mac = frr_host.ifaces()[0].mac;

    // Election by priority: keepup first, then FRR joins as Backup.
    p.start_keepup();
    p.frr.start(100);
    p.both_converged(true, "keepup 150 elected over FRR 100");
    assert!(
        p.frr.log().contains("[IPv4] Initialize -> Backup"),
        "{}",
        p.logs()
    );

    // The ARP quirk: with the lab's arp_ignore=1 only the Master answers for the VIP;
    // with Linux's default 0, FRR's Backup answers too, from its real MAC, because
    // the VIP stays on its protodown macvlan.
    let answered = who_answers_arp(&lan, &client);
    eprintln!("ARP for the VIP, FRR host arp_ignore=1: {answered:?}");
    assert_eq!(answered, vec![ku_mac]);
    frr_host
        .sysctl("net.ipv4.conf.all.arp_ignore", "0")
        .unwrap();
    frr_host
        .sysctl("net.ipv4.conf.all.arp_announce", "0")
        .unwrap();
    let answered = who_answers_arp(&lan, &client);
    eprintln!("ARP for the VIP, FRR host arp_ignore=0: {answered:?}");
    assert!(
        answered.contains(&ku_mac) && answered.contains(&frr_mac),
        "{answered:?}"
    );
    frr_host
        .sysctl("net.ipv4.conf.all.arp_ignore", "1")
        .unwrap();
    frr_host
        .sysctl("net.ipv4.conf.all.arp_announce", "2")
        .unwrap();

    // SIGKILL of keepup: FRR takes over (keepup's VIP stays behind on its host, as
    // any SIGKILLed daemon's: not checked here, the restart below removes it).
    let t = Instant::now();
    p.stop_keepup(Signal::SIGKILL);
    for fam in FAMS {
        assert!(
            wait_until(CONVERGE, Duration::from_millis(50), || p.frr.holds(fam)).is_some(),
            "FRR did not take over {fam:?}\n{}",
            p.logs()
        );
        eprintln!("FRR took over {fam:?} after {:?}", t.elapsed());
    }

    // keepup comes back and preempts FRR.
    p.start_keepup();
    p.both_converged(true, "keepup 150 back, preempting FRR");

    // SIGTERM of keepup: its priority-0 advert hands over to FRR (at FRR's skew
    // time; printed, not asserted).
    let cap = lan.capture("ip proto 112 or ip6 proto 112").unwrap();
    let t = Instant::now();
    p.stop_keepup(Signal::SIGTERM);
    for fam in FAMS {
        assert!(
            wait_until(CONVERGE, Duration::from_millis(50), || p.frr.holds(fam)
                && !p.keepup_holds(fam))
            .is_some(),
            "FRR did not take over {fam:?} after keepup's release\n{}",
            p.logs()
        );
        eprintln!(
            "FRR took over {fam:?} after keepup's release: {:?}",
            t.elapsed()
        );
    }
    let frames = lab::vrrp_adverts(&cap.stop().unwrap());
    for fam in FAMS {
        assert!(
            frames.iter().any(|f| f.src_mac == ku_mac
                && f.repr.priority == 0
                && f.src.is_ipv6() == (fam == Fam::V6)),
            "no priority-0 advert from keepup ({fam:?}): {frames:?}"
        );
    }
    // FRR's first advert per family as the new Master (printed: IPv6's is late).
    let first = |mac: MacAddr| frames.iter().find(|f| f.src_mac == mac).map(|f| f.ts);
    if let (Some(a4), Some(a6)) = (first(VMAC4), first(VMAC6)) {
        eprintln!(
            "FRR's first adverts as the new Master: IPv6 {:?} after IPv4",
            a6.saturating_sub(a4)
        );
    }

    // keepup back again: preempts.
    p.start_keepup();
    p.both_converged(true, "keepup 150 back after its release");
    p.stop_keepup(Signal::SIGTERM);
    p.frr.kill(Signal::SIGTERM);
}

/// FRR 150 is the Master, keepup 100 its Backup.
fn frr_master() {
    let (lab, lan, ku, frr_host, _client) = lab_hosts("frrfm");
    let mut p = Pair {
        lab: &lab,
        ku: &ku,
        frr: Frr::new(&lab, &frr_host),
        keepup: None,
        keepup_starts: 0,
        keepup_prio: 100,
    };
    let ku_mac = ku.ifaces()[0].mac;
    let frr_ll = frr_host.link_local(Fam::V6.macvlan()).unwrap();

    // FRR alone becomes Master; keepup joins and accepts FRR's adverts: it stays Backup
    // well past its down interval while FRR advertises from the virtual MACs.
    let cap = lan.capture("ip proto 112 or ip6 proto 112").unwrap();
    p.frr.start(150);
    for fam in FAMS {
        assert!(
            wait_until(CONVERGE, Duration::from_millis(200), || p.frr.status(fam)
                == "Master")
            .is_some(),
            "{}",
            p.logs()
        );
    }
    p.start_keepup();
    p.both_converged(false, "FRR 150 elected over keepup 100");
    std::thread::sleep(Duration::from_secs(5));
    let frames = lab::vrrp_adverts(&cap.stop().unwrap());
    let log = p.keepup_log();
    for fam in FAMS {
        assert!(!p.keepup_holds(fam) && p.frr.holds(fam), "{}", p.logs());
        let line = format!("({}) Entering BACKUP STATE", fam.instance());
        assert!(log.contains(&line), "{log}");
        let master = format!("({}) Entering MASTER STATE", fam.instance());
        assert!(!log.contains(&master), "{log}");
        let frr: Vec<_> = frames.iter().filter(|f| f.src_mac == fam.vmac()).collect();
        assert!(frr.len() >= 3, "{fam:?}: {frames:?}");
        for f in &frr {
            assert_eq!(f.repr.vrid, 51);
            assert_eq!(f.repr.priority, 150);
            assert_eq!(f.repr.interval, 100, "centiseconds");
            assert_eq!(f.ttl, 255);
            assert_eq!(f.repr.addresses, vec![fam.vip()]);
            let src = match fam {
                Fam::V4 => IpAddr::V4(Ipv4Addr::new(10, 9, 0, 2)),
                Fam::V6 => IpAddr::V6(frr_ll),
            };
            assert_eq!(f.src, src, "{fam:?}");
        }
        // keepup, the Backup, sent none.
        assert!(
            !frames
                .iter()
                .any(|f| f.src_mac == ku_mac && f.src.is_ipv6() == (fam == Fam::V6)),
            "{frames:?}"
        );
    }
    // FRR's IPv6 adverts list only the VIP: used, and said once.
    assert!(
        log.contains("lists fd00:9::100 first, not a link-local address")
            && log.contains("its adverts are used"),
        "{log}"
    );

    // SIGKILL of vrrpd: keepup takes over. FRR's macvlan stays up with the VIP (a
    // Master's macvlan is not protodown, and nothing sets it so when vrrpd dies: zebra
    // does not), so until vrrpd is back both hosts answer for the VIP, as after a
    // SIGKILLed keepalived. Asserted, to notice if FRR changes it.
    let t = Instant::now();
    p.frr.kill(Signal::SIGKILL);
    for fam in FAMS {
        assert!(
            wait_until(CONVERGE, Duration::from_millis(50), || p.keepup_holds(fam)).is_some(),
            "keepup did not take over {fam:?}\n{}",
            p.logs()
        );
        eprintln!("keepup took over {fam:?} after {:?}", t.elapsed());
        assert!(p.frr.holds(fam), "FRR's {} went down", fam.macvlan());
    }

    // vrrpd comes back and preempts keepup.
    p.frr.start(150);
    p.both_converged(false, "FRR 150 back, preempting keepup");

    // `no vrrp 51`: FRR's priority-0 advert hands over to keepup.
    let cap = lan.capture("ip proto 112 or ip6 proto 112").unwrap();
    let t = Instant::now();
    let out = p
        .frr
        .vtysh(&["configure terminal", "interface eth0", "no vrrp 51"]);
    p.frr.configured = false;
    eprintln!("no vrrp 51: {out}");
    p.both_converged(true, "keepup after FRR's `no vrrp 51`");
    eprintln!("keepup took over after `no vrrp 51`: {:?}", t.elapsed());
    let frames = lab::vrrp_adverts(&cap.stop().unwrap());
    for fam in FAMS {
        assert!(
            frames
                .iter()
                .any(|f| f.src_mac == fam.vmac() && f.repr.priority == 0),
            "no priority-0 advert from FRR ({fam:?}): {frames:?}"
        );
    }

    // The router configured again: FRR preempts.
    let mut cmds = vec!["configure terminal".to_string(), "interface eth0".into()];
    cmds.extend(frr_vrrp_lines(150));
    let cmds: Vec<&str> = cmds.iter().map(String::as_str).collect();
    let out = p.frr.vtysh(&cmds);
    p.frr.configured = true;
    eprintln!("vrrp 51 again: {out}");
    p.both_converged(false, "FRR 150 configured again, preempting keepup");

    // Stopping vrrpd (SIGTERM) releases too.
    let t = Instant::now();
    p.frr.kill(Signal::SIGTERM);
    p.both_converged(true, "keepup after vrrpd stopped");
    eprintln!("keepup took over after vrrpd stopped: {:?}", t.elapsed());
    p.stop_keepup(Signal::SIGTERM);
}

#[test]
#[ignore = "runs inside the VM (qemu_frr_interop_both_roles_ipv4_and_ipv6)"]
fn guest_frr_interop() {
    if !keepup_testkit::vm::in_guest() {
        return;
    }
    keepup_master();
    frr_master();
}
