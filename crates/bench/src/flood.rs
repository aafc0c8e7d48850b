//! Hostile traffic (issue 17): a rogue host on the LAN floods a keepup pair, then a
//! keepalived pair on the same configuration, with one kind of bad VRRP packet at a
//! fixed rate. Figures: each daemon's CPU over the flood, its RSS before and after,
//! state changes and log lines written during it, and when the new Master's second
//! gratuitous ARP round (`garp_master_delay`, 5 s) went out, the flood having started
//! at its takeover.
use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use anyhow::{anyhow, Context, Result};
use keepup_testkit::lab::Host;
use socket2::{Domain, Protocol, Socket, Type};

use crate::harness::{self, Figure, Running, Tools};
use crate::probe::checksum;
use crate::scenario::{self, Daemon};
use crate::{now_ns, secs_between};

/// The rogue host.
pub const ROGUE: Ipv4Addr = Ipv4Addr::new(10, 9, 0, 66);
/// VI_2's VIP (VI_1 has [`scenario::FAILOVER_VIP`]).
pub const AH_VIP: Ipv4Addr = Ipv4Addr::new(10, 9, 0, 101);
const GROUP: Ipv4Addr = Ipv4Addr::new(224, 0, 0, 18);
const PASSWORD: &[u8; 8] = b"secret\0\0";

/// One kind of bad packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FloodKind {
    /// VI_1's VRID, simple password wrong.
    Password,
    /// VI_2's VRID over AH, ICV garbage.
    AhIcv,
    /// VI_1's advert, right password, TTL 64.
    Ttl,
    /// VI_1's advert, right password, checksum wrong.
    Checksum,
    /// A VRID nobody runs here (99), otherwise valid.
    Vrid,
    /// VI_1's advert cut to 6 octets.
    Truncated,
    /// Random octets as protocol 112.
    Garbage,
    /// VI_1's advert with priority 0 and the right password: "the Master stops".
    Priority0,
    /// Valid-looking adverts for VRIDs 100 to 250, in turn.
    ManyVrids,
}

impl FloodKind {
    pub const ALL: [FloodKind; 9] = [
        FloodKind::Password,
        FloodKind::AhIcv,
        FloodKind::Ttl,
        FloodKind::Checksum,
        FloodKind::Vrid,
        FloodKind::Truncated,
        FloodKind::Garbage,
        FloodKind::Priority0,
        FloodKind::ManyVrids,
    ];

    pub fn label(self) -> &'static str {
        match self {
            FloodKind::Password => "password",
            FloodKind::AhIcv => "ah-icv",
            FloodKind::Ttl => "ttl",
            FloodKind::Checksum => "checksum",
            FloodKind::Vrid => "vrid",
            FloodKind::Truncated => "truncated",
            FloodKind::Garbage => "garbage",
            FloodKind::Priority0 => "priority-0",
            FloodKind::ManyVrids => "many-vrids",
        }
    }

    pub fn parse(s: &str) -> Option<FloodKind> {
        FloodKind::ALL.into_iter().find(|k| k.label() == s)
    }

    /// The packets sent, in turn (whole IPv4 packets, from [`ROGUE`] to the group).
    pub fn packets(self) -> Vec<Vec<u8>> {
        let advert = |vrid: u8, prio: u8, pass: bool| {
            let mut v = vec![0x21, vrid, prio, 1, u8::from(pass), 1, 0, 0];
            v.extend_from_slice(&scenario::FAILOVER_VIP.octets());
            v.extend_from_slice(if pass { PASSWORD } else { &[0; 8] });
            let c = checksum(&v);
            v[6..8].copy_from_slice(&c.to_be_bytes());
            v
        };
        match self {
            FloodKind::Password => {
                let mut v = advert(51, 200, true);
                v[12..20].copy_from_slice(b"letmein\0");
                fix(&mut v);
                vec![ipv4(255, 112, &v)]
            }
            FloodKind::AhIcv => {
                let mut v = advert(52, 200, false);
                v[4] = 2;
                fix(&mut v);
                // AH (RFC 2402): next header 112, length 4 (24 octets), SPI = the
                // sender, a sequence number, 12 octets of ICV.
                let mut ah = vec![112, 4, 0, 0];
                ah.extend_from_slice(&ROGUE.octets());
                ah.extend_from_slice(&[0, 0, 0, 1]);
                ah.extend_from_slice(&[0x5a; 12]);
                ah.extend_from_slice(&v);
                vec![ipv4(255, 51, &ah)]
            }
            FloodKind::Ttl => vec![ipv4(64, 112, &advert(51, 200, true))],
            FloodKind::Checksum => {
                let mut v = advert(51, 200, true);
                v[7] ^= 0xff;
                vec![ipv4(255, 112, &v)]
            }
            FloodKind::Vrid => vec![ipv4(255, 112, &advert(99, 200, false))],
            FloodKind::Truncated => vec![ipv4(255, 112, &advert(51, 200, true)[..6])],
            FloodKind::Garbage => {
                let mut x = 0x9e37_79b9_7f4a_7c15u64;
                (0..64)
                    .map(|_| {
                        let body: Vec<u8> = (0..40)
                            .map(|_| {
                                x ^= x << 13;
                                x ^= x >> 7;
                                x ^= x << 17;
                                x as u8
                            })
                            .collect();
                        ipv4(255, 112, &body)
                    })
                    .collect()
            }
            FloodKind::Priority0 => vec![ipv4(255, 112, &advert(51, 0, true))],
            FloodKind::ManyVrids => (100..=250)
                .map(|vrid| ipv4(255, 112, &advert(vrid, 100, false)))
                .collect(),
        }
    }
}

/// The VRRP checksum again, after a change.
fn fix(v: &mut [u8]) {
    v[6..8].fill(0);
    let c = checksum(v);
    v[6..8].copy_from_slice(&c.to_be_bytes());
}

fn ipv4(ttl: u8, proto: u8, payload: &[u8]) -> Vec<u8> {
    let len = u16::try_from(20 + payload.len()).unwrap_or(u16::MAX);
    let mut p = vec![0x45, 0xc0];
    p.extend_from_slice(&len.to_be_bytes());
    p.extend_from_slice(&[0, 0, 0, 0, ttl, proto, 0, 0]);
    p.extend_from_slice(&ROGUE.octets());
    p.extend_from_slice(&GROUP.octets());
    let c = checksum(&p);
    p[10..12].copy_from_slice(&c.to_be_bytes());
    p.extend_from_slice(payload);
    p
}

/// (In the rogue host's namespace.) Send `kind` at `rate` packets/s for `secs`, paced
/// per millisecond; prints how many went out.
pub fn send(kind: FloodKind, rate: u64, secs: f64, iface: &str) -> Result<()> {
    let s = Socket::new(Domain::IPV4, Type::RAW, Some(Protocol::from(255)))
        .context("raw socket (IPPROTO_RAW)")?;
    s.bind_device(Some(iface.as_bytes()))
        .with_context(|| format!("SO_BINDTODEVICE {iface}"))?;
    s.set_multicast_if_v4(&ROGUE).context("IP_MULTICAST_IF")?;
    let dst = socket2::SockAddr::from(std::net::SocketAddrV4::new(GROUP, 0));
    let packets = kind.packets();
    println!("flooding {} at {rate}/s for {secs} s", kind.label());
    let start = std::time::Instant::now();
    let end = start + Duration::from_secs_f64(secs);
    let (mut sent, mut failed) = (0u64, 0u64);
    loop {
        let now = std::time::Instant::now();
        if now >= end || crate::interrupted() {
            break;
        }
        let due = (now - start).as_secs_f64() * rate as f64;
        while (sent + failed) as f64 <= due {
            let p = &packets[((sent + failed) as usize) % packets.len()];
            match s.send_to(p, &dst) {
                Ok(_) => sent += 1,
                Err(_) => failed += 1,
            }
        }
        std::thread::sleep(Duration::from_micros(500));
    }
    println!("sent {sent} failed {failed}");
    Ok(())
}

/// A pair's daemons, their CPU (ns) and RSS (kB) summed over their processes.
fn usage(d: &[&Running]) -> (u64, u64) {
    d.iter()
        .flat_map(|r| r.pids())
        .filter_map(harness::proc_usage)
        .fold((0, 0), |(c, m), (c2, m2)| (c + c2, m + m2))
}

fn lines(d: &Running) -> usize {
    d.log().lines().count()
}

fn state_changes(log: &str) -> usize {
    log.lines().filter(|l| l.contains("Entering ")).count()
}

/// The same keepalived.conf for both daemons: VI_1 (VRID 51, PASS) and VI_2 (VRID
/// 52, AH), r1 MASTER 150, r2 BACKUP 100, advert_int 1.
pub fn conf() -> String {
    let mut s = String::from("# keepup-bench: flood\n");
    for (name, vrid, auth, vip) in [
        ("VI_1", 51, "PASS", scenario::FAILOVER_VIP),
        ("VI_2", 52, "AH", AH_VIP),
    ] {
        s.push_str(&format!(
            "vrrp_instance {name} {{
@r1 state MASTER
@r2 state BACKUP
    interface eth0
    virtual_router_id {vrid}
@r1 priority 150
@r2 priority 100
    advert_int 1
    authentication {{
        auth_type {auth}
        auth_pass secret
    }}
    virtual_ipaddress {{
        {vip}/24
    }}
}}
"
        ));
    }
    s
}

/// One run: the pair starts (r2 first), the flood starts the moment r1 holds its
/// VIP (its takeover) and lasts `tools.flood_secs`.
pub fn run(tools: &Tools, which: Daemon, kind: FloodKind) -> Result<Vec<Figure>> {
    let (lab, lan, hosts) = harness::lab_with(
        "bench-flood",
        &[("r1", scenario::R1), ("r2", scenario::R2), ("rogue", ROGUE)],
    )?;
    let [r1, r2, rogue] = <[Host; 3]>::try_from(hosts).map_err(|_| anyhow!("three hosts"))?;
    let vip = IpAddr::V4(scenario::FAILOVER_VIP);
    let cap = lan.capture("arp")?;
    let conf = conf();
    let d2 = Running::start(tools, which, &r2, &conf, &lab)?;
    harness::pause(Duration::from_millis(500))?;
    let d1 = Running::start(tools, which, &r1, &conf, &lab)?;
    harness::wait(
        Duration::from_secs(15),
        Duration::from_millis(10),
        "r1 to hold the VIP",
        || r1.has_address(vip).unwrap_or(false),
    )
    .map_err(|e| {
        if d1.is_running() {
            e
        } else {
            harness::daemon_died(&d1, &r1)
        }
    })?;
    let took_over = now_ns();
    // r2 (Master until r1 preempted it) has stepped down: its BACKUP line is not
    // the flood's doing.
    harness::wait(
        Duration::from_secs(5),
        Duration::from_millis(5),
        "r2 to give the VIP up",
        || !r2.has_address(vip).unwrap_or(true),
    )?;
    let iface = rogue
        .ifaces()
        .first()
        .map(|i| i.name.clone())
        .ok_or_else(|| anyhow!("the rogue host has no interface"))?;
    let (cpu1, rss1) = usage(&[&d1]);
    let (cpu2, rss2) = usage(&[&d2]);
    let (lines1, lines2) = (lines(&d1), lines(&d2));
    let (log1, log2) = (d1.log().len(), d2.log().len());
    let t0 = now_ns();
    let flooder = rogue.spawn(
        &tools.bench.display().to_string(),
        &[
            "flood".to_owned(),
            "--kind".into(),
            kind.label().into(),
            "--rate".into(),
            tools.flood_rate.to_string(),
            "--secs".into(),
            tools.flood_secs.to_string(),
            "--iface".into(),
            iface,
        ],
        rogue.lab_file("rogue-flood.log"),
    )?;
    harness::wait(
        Duration::from_secs_f64(tools.flood_secs + 10.0),
        Duration::from_millis(100),
        "the flood to end",
        || !flooder.is_running(),
    )?;
    let elapsed = secs_between(t0, now_ns());
    let (cpu1b, rss1b) = usage(&[&d1]);
    let (cpu2b, rss2b) = usage(&[&d2]);
    let sent: f64 = flooder
        .log()
        .lines()
        .find_map(|l| l.strip_prefix("sent "))
        .and_then(|l| l.split_whitespace().next()?.parse().ok())
        .ok_or_else(|| anyhow!("the flooder said: {}", flooder.log()))?;
    for (d, h) in [(&d1, &r1), (&d2, &r2)] {
        if !d.is_running() {
            return Err(harness::daemon_died(d, h));
        }
    }
    let since = |d: &Running, at: usize| state_changes(d.log().get(at..).unwrap_or_default());
    let changes = since(&d1, log1) + since(&d2, log2);
    let logged = (lines(&d1) - lines1) + (lines(&d2) - lines2);
    let holds = r1.has_address(vip).unwrap_or(false) && !r2.has_address(vip).unwrap_or(true);
    d1.stop();
    d2.stop();
    let packets = cap.stop()?;
    // r1's gratuitous ARPs for VI_1's VIP after its takeover: the first round, and
    // the second `garp_master_delay` (5 s) later.
    let mac = r1.iface_on(&lan).and_then(|i| r1.mac(&i.name));
    let times: Vec<f64> = harness::garps(&packets)
        .into_iter()
        .filter(|(t, src, a)| {
            *a == scenario::FAILOVER_VIP
                && mac.is_none_or(|m| m.0 == *src)
                && secs_between(took_over, *t) > -1.0
        })
        .map(|(t, _, _)| secs_between(took_over, t))
        .collect();
    let second = times
        .iter()
        .find(|t| **t > times.first().copied().unwrap_or(0.0) + 2.0)
        .map_or(f64::NAN, |t| t - times.first().copied().unwrap_or(0.0));
    drop(lab);
    let core = |ns: u64| ns as f64 / 1e9 / elapsed * 100.0;
    Ok(vec![
        ("packets/s sent", sent / elapsed),
        ("CPU % master", core(cpu1b - cpu1)),
        ("CPU % backup", core(cpu2b - cpu2)),
        ("RSS MB master after", rss1b as f64 / 1024.0),
        (
            "RSS MB master growth",
            (rss1b as f64 - rss1 as f64) / 1024.0,
        ),
        (
            "RSS MB backup growth",
            (rss2b as f64 - rss2 as f64) / 1024.0,
        ),
        ("state changes", changes as f64),
        ("log lines", logged as f64),
        ("r1 still master", if holds { 1.0 } else { 0.0 }),
        ("2nd GARP round s", second),
    ])
}
