use super::*;
use crate::status::{IpvsService, IpvsStatus};
use keepup_check::sched::{CheckerStatus, Failures, RsView, VsView};
use keepup_lvs::genl::{DestInfo, ServiceInfo, Stats};

/// The status tests' world (VI_1 Master, VI_2 in FAULT, VI_3 with it), with a
/// virtual server and the kernel's table for it.
fn sample() -> Snapshot {
    let w = crate::status::tests::world();
    let mut s = crate::status::tests::snap(&w);
    let mut failures = Failures::default();
    failures.count(FailKind::Connect);
    failures.count(FailKind::Connect);
    failures.count(FailKind::Timeout);
    s.virtual_servers = vec![VsView {
        name: "[10.0.0.1]:tcp:80".into(),
        quorum: 1,
        hysteresis: 0,
        quorum_up: true,
        live_weight: 3,
        sorry_server: None,
        sorry_on: false,
        suspended: false,
        real_servers: vec![RsView {
            name: "[10.0.1.1]:tcp:80".into(),
            ip: "10.0.1.1".parse().ok(),
            port: Some(80),
            alive: true,
            weight: 3,
            effective_weight: 3,
            pool_weight: Some(3),
            inhibit_on_failure: false,
            checkers: vec![CheckerStatus {
                kind: "HTTP_GET".into(),
                up: true,
                has_run: true,
                retries: 0,
                last_error: None,
                since: None,
                next_run: None,
                last_duration: Some(0.012),
                failures,
            }],
        }],
    }];
    let key = keepup_lvs::ServiceKey::Addr {
        protocol: keepup_lvs::Protocol::Tcp,
        addr: "10.0.0.1".parse().unwrap(),
        port: 80,
    };
    let stats = Stats {
        conns: 7,
        inpkts: 70,
        outpkts: 60,
        inbytes: 7000,
        outbytes: 60000,
        ..Stats::default()
    };
    s.ipvs = Some(IpvsStatus {
        available: true,
        note: None,
        version: Some((0x010201, 4096)),
        services: vec![IpvsService {
            info: ServiceInfo {
                service: keepup_lvs::Service::new(key, "wrr"),
                stats,
            },
            owned: true,
            virtual_server: Some("[10.0.0.1]:tcp:80".into()),
            dests: vec![DestInfo {
                dest: keepup_lvs::Destination::new(
                    "10.0.1.1".parse().unwrap(),
                    80,
                    keepup_lvs::Forward::Masq,
                    3,
                ),
                active_conns: 2,
                inact_conns: 1,
                persist_conns: 0,
                stats,
            }],
        }],
    });
    s
}

fn text() -> String {
    encode(Arc::new(sample()), Format::Text).unwrap()
}

fn line<'a>(out: &'a str, start: &str) -> &'a str {
    out.lines()
        .find(|l| l.starts_with(start))
        .unwrap_or_else(|| panic!("no line {start}:\n{out}"))
}

#[test]
fn each_state_is_a_series_of_its_own() {
    let out = text();
    let id = "vrrp_instance=\"VI_1\",interface=\"eth0\",vrid=\"51\"";
    assert!(
        out.contains(&format!("keepup_vrrp_state{{{id},state=\"MASTER\"}} 1\n")),
        "{out}"
    );
    for other in ["INIT", "BACKUP", "FAULT", "STOP"] {
        assert!(
            out.contains(&format!("keepup_vrrp_state{{{id},state=\"{other}\"}} 0\n")),
            "{other}: {out}"
        );
    }
    let fault = "vrrp_instance=\"VI_2\",interface=\"eth1\",vrid=\"52\"";
    assert!(out.contains(&format!("keepup_vrrp_state{{{fault},state=\"FAULT\"}} 1\n")));
}

/// Counters carry no state label (a transition must not start a new series), end
/// in `_total` and say they are counters.
#[test]
fn counters_are_counters_without_a_state() {
    let out = text();
    assert!(
        out.contains("# TYPE keepup_vrrp_adverts_sent_total counter\n"),
        "{out}"
    );
    assert!(out.contains("# TYPE keepup_vrrp_master_transitions_total counter\n"));
    assert!(line(&out, "keepup_vrrp_transitions_total{vrrp_instance=\"VI_1\"").ends_with(" 1"));
    for l in out.lines().filter(|l| l.contains("_total{")) {
        assert!(!l.contains("state="), "{l}");
    }
    let priority = line(
        &out,
        "keepup_vrrp_effective_priority{vrrp_instance=\"VI_1\"",
    );
    assert!(priority.ends_with(" 120"), "{priority}");
}

#[test]
fn trackers_and_the_daemon() {
    let out = text();
    assert!(
        out.contains("keepup_build_info{version=\"0.1.0\"} 1\n"),
        "{out}"
    );
    assert!(out.contains("keepup_start_time_seconds 1000.0\n"), "{out}");
    assert!(out.contains("keepup_config_last_reload_successful 1\n"));
    assert!(out.contains("keepup_config_reload_failures_total 0\n"));
    assert!(out.contains("keepup_firewall_failures_total 0\n"));
    assert!(
        out.contains("keepup_vrrp_rx_filter_strict{family=\"ipv4\"} 0\n"),
        "{out}"
    );
    assert!(
        out.contains("keepup_vrrp_rx_filter_strict{family=\"ipv6\"} 0\n"),
        "{out}"
    );
    let failing = line(&out, "keepup_vrrp_tracker_up{vrrp_instance=\"VI_1\"");
    assert!(failing.contains("kind=\"script\""), "{failing}");
    assert!(failing.ends_with(" 0"), "{failing}");
}

/// The director: the checkers' view, and the kernel's table under node_exporter's
/// names and labels.
#[test]
fn virtual_servers_and_the_kernels_counters() {
    let out = text();
    let vs = "virtual_server=\"[10.0.0.1]:tcp:80\"";
    let rs = format!("{vs},real_server=\"[10.0.1.1]:tcp:80\"");
    assert!(
        out.contains(&format!("keepup_lvs_quorum_up{{{vs}}} 1\n")),
        "{out}"
    );
    assert!(out.contains(&format!("keepup_lvs_real_servers_alive{{{vs}}} 1\n")));
    assert!(out.contains(&format!("keepup_lvs_real_server_weight{{{rs}}} 3\n")));
    assert!(out.contains(&format!(
        "keepup_lvs_checker_up{{{rs},checker=\"HTTP_GET\",n=\"0\"}} 1\n"
    )));
    let checker = format!("{rs},checker=\"HTTP_GET\",n=\"0\"");
    assert!(out.contains("# TYPE keepup_lvs_checker_duration_seconds gauge\n"));
    assert!(out.contains(&format!(
        "keepup_lvs_checker_duration_seconds{{{checker}}} 0.012\n"
    )));
    assert!(out.contains("# TYPE keepup_lvs_checker_failures_total counter\n"));
    // Every reason is a series from the start, the ones not seen at 0.
    for (reason, n) in [
        ("setup", 0),
        ("connect", 2),
        ("tls", 0),
        ("network", 0),
        ("answer", 0),
        ("timeout", 1),
        ("script", 0),
        ("file", 0),
    ] {
        assert!(
            out.contains(&format!(
                "keepup_lvs_checker_failures_total{{{checker},reason=\"{reason}\"}} {n}\n"
            )),
            "{reason}: {out}"
        );
    }
    assert_eq!(
        out.lines()
            .filter(|l| l.starts_with("keepup_lvs_checker_failures_total{"))
            .count(),
        FailKind::ALL.len()
    );
    let svc = "local_address=\"10.0.0.1\",local_port=\"80\",local_mark=\"\",proto=\"TCP\"";
    let backend = format!("{svc},remote_address=\"10.0.1.1\",remote_port=\"80\"");
    assert!(
        out.contains(&format!("keepup_ipvs_connections_total{{{svc}}} 7\n")),
        "{out}"
    );
    assert!(out.contains(&format!(
        "keepup_ipvs_outgoing_bytes_total{{{svc}}} 60000\n"
    )));
    assert!(out.contains(&format!(
        "keepup_ipvs_backend_connections_active{{{backend}}} 2\n"
    )));
    assert!(out.contains(&format!("keepup_ipvs_backend_weight{{{backend}}} 3\n")));
    assert!(out.contains(&format!(
        "keepup_ipvs_backend_incoming_packets_total{{{backend}}} 70\n"
    )));
}

/// A checker that has not run yet: no duration (0 would read as a fast check),
/// and its failures at 0 for every reason.
#[test]
fn a_checker_not_run_yet_has_no_duration_and_zero_failures() {
    let mut s = sample();
    let rs = &mut s.virtual_servers[0].real_servers[0];
    let fresh = CheckerStatus {
        kind: "TCP_CHECK".into(),
        has_run: false,
        last_duration: None,
        failures: Failures::default(),
        ..rs.checkers[0].clone()
    };
    rs.checkers.push(fresh);
    let out = encode(Arc::new(s), Format::Text).unwrap();
    let fresh = "checker=\"TCP_CHECK\",n=\"1\"";
    assert!(
        !out.lines()
            .any(|l| l.starts_with("keepup_lvs_checker_duration_seconds{") && l.contains(fresh)),
        "{out}"
    );
    let zeros = out
        .lines()
        .filter(|l| l.starts_with("keepup_lvs_checker_failures_total{") && l.contains(fresh))
        .inspect(|l| assert!(l.ends_with(" 0"), "{l}"))
        .count();
    assert_eq!(zeros, FailKind::ALL.len(), "{out}");
}

#[test]
fn openmetrics_when_asked() {
    assert_eq!(Format::from_accept(None), Format::Text);
    let prom = "application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5";
    assert_eq!(Format::from_accept(Some(prom)), Format::OpenMetrics);
    let out = encode(Arc::new(sample()), Format::OpenMetrics).unwrap();
    assert!(out.ends_with("# EOF\n"), "{out}");
    assert!(
        out.contains("# TYPE keepup_vrrp_adverts_sent counter\n"),
        "{out}"
    );
}
