//! IPv6 Router Advertisements for the virtual router (`keepup_router_advert`): sent by
//! the Active only, at once when it becomes Active and then at RFC 4861 intervals.
mod harness;
use harness::*;
use keepup_vrrp::{Input, Instant, Output, State};
use std::time::Duration;

/// The instants of every Router Advertisement the router asked for.
fn router_adverts(h: &H) -> Vec<Instant> {
    h.log
        .iter()
        .filter(|(_, o)| matches!(o, Output::RouterAdvert { .. }))
        .map(|(t, _)| *t)
        .collect()
}

fn with_ra(priority: u8) -> keepup_vrrp::InstanceConfig {
    let mut c = v3_6(priority);
    c.router_advert = Some(Duration::from_secs(1800));
    c
}

/// Ledger: ARP-07
/// An IPv6 Active sends Router Advertisements: one the moment it becomes Active,
/// the next three at most 16 s after each other (MAX_INITIAL_RTR_ADVERT_INTERVAL), then
/// between MinRtrAdvInterval (200 s) and MaxRtrAdvInterval (600 s) for a lifetime of
/// 1800 s, as long as it stays Active.
#[test]
fn the_active_advertises_the_virtual_router() {
    let mut h = H::started(with_ra(100));
    h.run_until(t(3.0));
    assert!(router_adverts(&h).is_empty(), "Backup first");
    h.run_until(t(4000.0));
    assert_eq!(h.state(), State::Master);
    let became = h.transitions().last().unwrap().0;
    let ras = router_adverts(&h);
    assert_eq!(ras[0], became, "at once");
    let gaps: Vec<Duration> = ras.windows(2).map(|w| w[1] - w[0]).collect();
    for (k, g) in gaps.iter().enumerate() {
        if k < 3 {
            assert!(*g <= Duration::from_secs(16), "initial gap {k}: {g:?}");
        } else {
            assert!(
                *g >= Duration::from_secs(200) && *g <= Duration::from_secs(600),
                "gap {k}: {g:?}"
            );
        }
    }
    assert!(ras.len() >= 8, "{ras:?}");
    // Not all the same: the intervals are spread.
    assert!(gaps[3..].windows(2).any(|w| w[0] != w[1]), "{gaps:?}");
}

/// Ledger: BKP-03
/// Ledger: ARP-07
/// A Backup never sends one, however long it stays Backup; a Master that steps down
/// stops at once, and the new Active (here: this router again, after the better
/// Master goes quiet) starts again with one at once.
#[test]
fn a_backup_never_advertises_the_virtual_router() {
    let mut h = H::started(with_ra(100));
    let peer = Peer::of(&v3_6(200), 200);
    for s in 1..=1000 {
        h.run_until(t(f64::from(s)));
        h.rx(&peer);
    }
    assert_eq!(h.state(), State::Backup);
    assert!(router_adverts(&h).is_empty());

    // Master, then a better one: no RA after the step down.
    h.run_until(t(1010.0));
    assert_eq!(h.state(), State::Master);
    assert_eq!(router_adverts(&h).len(), 1);
    h.rx(&peer);
    assert_eq!(h.state(), State::Backup);
    let mark = h.mark();
    for s in 1011..=3000 {
        h.run_until(t(f64::from(s)));
        h.rx(&peer);
    }
    assert!(!h
        .since(mark)
        .iter()
        .any(|o| matches!(o, Output::RouterAdvert { .. })));

    // Stopping sends none either (the next Active advertises the same address).
    h.run_until(t(3010.0));
    assert_eq!(h.state(), State::Master);
    let mark = h.mark();
    h.input(Input::Shutdown);
    h.run_until(t(4000.0));
    assert!(!h
        .since(mark)
        .iter()
        .any(|o| matches!(o, Output::RouterAdvert { .. })));
}

/// Without `keepup_router_advert` (keepalived's behaviour, KA-21) none is sent.
#[test]
fn none_without_the_keyword() {
    let mut h = H::started(v3_6(100));
    h.run_until(t(2000.0));
    assert_eq!(h.state(), State::Master);
    assert!(router_adverts(&h).is_empty());
}

/// Ledger: ARP-07
/// A Router Solicitation is answered within 0.5 s (MAX_RA_DELAY_TIME), but never
/// sooner than 3 s after the last advertisement (MIN_DELAY_BETWEEN_RAS); a Backup,
/// or a Master without the keyword, ignores it.
#[test]
fn a_solicitation_is_answered_soon() {
    let mut h = H::started(with_ra(100));
    h.run_until(t(100.0));
    assert_eq!(h.state(), State::Master);
    let before = router_adverts(&h).len();
    let last = *router_adverts(&h).last().unwrap();
    // Long after the last one: within half a second.
    let asked = h.now;
    assert!(asked - last > Duration::from_secs(3));
    h.input(Input::RouterSolicitation { interface: IF });
    h.run_until(asked + Duration::from_millis(500));
    let ras = router_adverts(&h);
    assert_eq!(ras.len(), before + 1);
    let answered = *ras.last().unwrap();
    // Right after that one: at its third second.
    h.input(Input::RouterSolicitation { interface: IF });
    h.run_until(answered + Duration::from_secs(3));
    let ras = router_adverts(&h);
    assert_eq!(ras.len(), before + 2);
    assert_eq!(*ras.last().unwrap(), answered + Duration::from_secs(3));
    // The periodic schedule goes on from there.
    h.run_until(t(2000.0));
    let gaps: Vec<Duration> = router_adverts(&h)[before + 1..]
        .windows(2)
        .map(|w| w[1] - w[0])
        .collect();
    assert!(
        gaps.iter().all(|g| *g >= Duration::from_secs(3)),
        "{gaps:?}"
    );

    let mut b = H::started(with_ra(100));
    b.input(Input::RouterSolicitation { interface: IF });
    b.run_until(t(2.0));
    assert!(router_adverts(&b).is_empty());
    let mut m = H::started(v3_6(100));
    m.run_until(t(100.0));
    m.input(Input::RouterSolicitation { interface: IF });
    m.run_until(t(200.0));
    assert!(router_adverts(&m).is_empty());
}
