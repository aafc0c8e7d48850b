//! Unit tests of the simulator itself.
use super::*;
use crate::cfg::{ms, v2, v3_6};

fn three_on_one_lan() -> (Sim, LanId, [RouterId; 3]) {
    let mut sim = Sim::new(1);
    let lan = sim.lan();
    let a = sim.add(
        RouterSpec::new()
            .iface(lan)
            .instance(v2(1, 100))
            .unstarted(),
    );
    let b = sim.add(
        RouterSpec::new()
            .iface(lan)
            .instance(v2(1, 150))
            .unstarted(),
    );
    let c = sim.add(
        RouterSpec::new()
            .iface(lan)
            .instance(v2(1, 200))
            .unstarted(),
    );
    (sim, lan, [a, b, c])
}

const MCAST4: IpAddr = IpAddr::V4(Ipv4Addr::new(224, 0, 0, 18));

#[test]
fn multicast_reaches_every_other_interface_on_the_lan() {
    let (mut sim, _, [a, b, c]) = three_on_one_lan();
    let other = sim.lan();
    let d = sim.add(
        RouterSpec::new()
            .iface(other)
            .instance(v2(1, 50))
            .unstarted(),
    );
    assert_eq!(
        sim.recipients(a, IfIndex(1), MCAST4),
        vec![(b, IfIndex(1)), (c, IfIndex(1))]
    );
    // A LAN of its own hears nobody else.
    assert_eq!(sim.recipients(d, IfIndex(1), MCAST4), vec![]);
    // Unknown interface: nothing leaves.
    assert_eq!(sim.recipients(a, IfIndex(9), MCAST4), vec![]);
}

#[test]
fn unicast_reaches_the_interface_with_that_address() {
    let (sim, lan, [a, b, c]) = three_on_one_lan();
    let to_c = IpAddr::V4(Sim::default_v4(lan, 3));
    assert_eq!(sim.recipients(a, IfIndex(1), to_c), vec![(c, IfIndex(1))]);
    let to_b6 = IpAddr::V6(Sim::default_v6(lan, 2));
    assert_eq!(sim.recipients(a, IfIndex(1), to_b6), vec![(b, IfIndex(1))]);
    let nobody = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 99));
    assert_eq!(sim.recipients(a, IfIndex(1), nobody), vec![]);
}

#[test]
fn partition_splits_and_heal_joins() {
    let (mut sim, lan, [a, b, c]) = three_on_one_lan();
    sim.apply(Action::Partition(lan, vec![vec![a], vec![b]]));
    // c, not named, forms a group of its own.
    assert_eq!(sim.recipients(a, IfIndex(1), MCAST4), vec![]);
    assert_eq!(sim.recipients(b, IfIndex(1), MCAST4), vec![]);
    sim.apply(Action::Partition(lan, vec![vec![a, c], vec![b]]));
    assert_eq!(sim.recipients(a, IfIndex(1), MCAST4), vec![(c, IfIndex(1))]);
    sim.apply(Action::Heal(lan));
    assert_eq!(sim.recipients(b, IfIndex(1), MCAST4).len(), 2);
    assert_eq!(
        sim.transcript(),
        "t=0.000 lan0 partition [r1] [r2]\nt=0.000 lan0 partition [r1 r3] [r2]\nt=0.000 lan0 heal"
    );
}

#[test]
fn a_down_interface_neither_sends_nor_hears() {
    let (mut sim, _, [a, b, c]) = three_on_one_lan();
    sim.nodes[b.0].ifaces[0].up = false;
    assert_eq!(sim.recipients(a, IfIndex(1), MCAST4), vec![(c, IfIndex(1))]);
    assert_eq!(sim.recipients(b, IfIndex(1), MCAST4).len(), 2); // the gate is in transmit
}

#[test]
fn default_addresses_and_sources() {
    let mut sim = Sim::new(1);
    let lan0 = sim.lan();
    let lan1 = sim.lan();
    let a = sim.add(
        RouterSpec::new()
            .iface(lan0)
            .iface(lan1)
            .instance(v2(1, 100))
            .instance(v3_6(2, 100).on(IfIndex(2)))
            .unstarted(),
    );
    let b = sim.add(
        RouterSpec::new()
            .iface_v4(lan0, Ipv4Addr::new(10, 0, 0, 10))
            .instance(v2(1, 100).source("10.0.0.77".parse().expect("addr")))
            .unstarted(),
    );
    assert_eq!(sim.addr_v4(a, IfIndex(1)), Some(Ipv4Addr::new(10, 0, 0, 1)));
    assert_eq!(sim.addr_v4(a, IfIndex(2)), Some(Ipv4Addr::new(10, 0, 1, 1)));
    assert_eq!(sim.addr_v6(a, IfIndex(1)), "fe80::1".parse().ok());
    assert_eq!(sim.addr_v6(a, IfIndex(2)), "fe80::1:1".parse().ok());
    assert_eq!(sim.config(a, InstanceId(0)).source, "10.0.0.1".parse().ok());
    assert_eq!(
        sim.config(a, InstanceId(1)).source,
        "fe80::1:1".parse().ok()
    );
    assert_eq!(
        sim.addr_v4(b, IfIndex(1)),
        Some(Ipv4Addr::new(10, 0, 0, 10))
    );
    // A source the scenario chose is kept.
    assert_eq!(
        sim.config(b, InstanceId(0)).source,
        "10.0.0.77".parse().ok()
    );
}

use crate::cfg::CfgExt;

#[test]
fn actions_are_ordered_and_lan_changes_are_logged() {
    let (mut sim, lan, [a, ..]) = three_on_one_lan();
    sim.at(ms(2000), Action::Heal(lan));
    sim.at(
        ms(1000),
        Action::SetLan(lan, LanParams::default().loss(0.3)),
    );
    sim.at(ms(1000), Action::Partition(lan, vec![vec![a]]));
    sim.run_until(ms(5000));
    assert_eq!(sim.now(), ms(5000));
    assert_eq!(
        sim.transcript(),
        "t=1.000 lan0 delay=0ms jitter=0ms loss=30% dup=0%\n\
         t=1.000 lan0 partition [r1]\n\
         t=2.000 lan0 heal"
    );
    assert_eq!(sim.transcript_since(ms(1500)), vec!["t=2.000 lan0 heal"]);
}

#[test]
fn reason_table() {
    assert!(reason_fits(Cause::Timer, Reason::MasterDown, State::Master));
    assert!(!reason_fits(
        Cause::Packet,
        Reason::MasterDown,
        State::Master
    ));
    assert!(!reason_fits(
        Cause::Packet,
        Reason::HigherPriority,
        State::Master
    ));
    assert!(reason_fits(
        Cause::Packet,
        Reason::HigherPriority,
        State::Backup
    ));
    assert!(reason_fits(Cause::Track, Reason::Fault, State::Fault));
    assert!(!reason_fits(
        Cause::Spurious,
        Reason::MasterDown,
        State::Master
    ));
    assert!(!reason_fits(Cause::Timer, Reason::Startup, State::Master));
}

#[test]
fn line_time_parses_the_prefix() {
    assert_eq!(line_time("t=3.610 r2 crash"), Some(ms(3610)));
    assert_eq!(line_time("nothing"), None);
}
