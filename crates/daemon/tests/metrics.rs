//! `keepup run --metrics-listen`: a real Prometheus server (Debian's `prometheus`)
//! scrapes a keepup master and its backup in a lab and answers PromQL for their states
//! and a counter; `promtool check metrics` lints what keepup serves. Root only; CI runs
//! these serially.
#![allow(clippy::unwrap_used)]

mod common;
use common::{keepup_with, one_instance, routers, wait_addr};

use keepup_testkit::lab::{self, wait_until, Host};
use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

const VIP: IpAddr = IpAddr::V4(Ipv4Addr::new(10, 9, 0, 100));

/// What `url` serves (curl in `from`): body, or None.
fn get(from: &Host, url: &str, accept: &str) -> Option<String> {
    let out = from
        .exec([
            "curl",
            "-s",
            "-f",
            "--max-time",
            "3",
            "-H",
            &format!("Accept: {accept}"),
            url,
        ])
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}

/// `promtool query instant` against the Prometheus in `host`: its output.
fn query(host: &Host, expr: &str) -> String {
    let out = host
        .exec(["promtool", "query", "instant", "http://10.9.0.3:9090", expr])
        .unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn netns_metrics_linted_and_scraped_by_prometheus() {
    if !lab::root_or_skip("netns_metrics_linted_and_scraped_by_prometheus") {
        return;
    }
    let (lab, _lan, hosts) = routers("kmet", 3, false);
    let (r1, r2, r3) = (&hosts[0], &hosts[1], &hosts[2]);
    // Prometheus in r3, scraping both routers each second; its own port is the real
    // server of r1's virtual server (a TCP_CHECK that passes).
    let prom_dir = lab.dir().join("prometheus");
    std::fs::create_dir_all(prom_dir.join("data")).unwrap();
    let prom_conf = prom_dir.join("prometheus.yml");
    std::fs::write(
        &prom_conf,
        "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n\
         scrape_configs:\n  - job_name: keepup\n    static_configs:\n      \
         - targets: ['10.9.0.1:9650', '10.9.0.2:9650']\n",
    )
    .unwrap();
    let _prom = r3
        .spawn(
            "prometheus",
            &[
                format!("--config.file={}", prom_conf.display()),
                format!("--storage.tsdb.path={}", prom_dir.join("data").display()),
                "--web.listen-address=10.9.0.3:9090".to_string(),
            ],
            "prometheus.log",
        )
        .unwrap();
    let director = "virtual_server 10.9.0.200 80 {
    lb_algo rr
    lb_kind NAT
    protocol TCP
    real_server 10.9.0.3 9090 {
        weight 2
        TCP_CHECK {
            connect_timeout 1
        }
    }
}
";
    let conf1 = format!("{}{director}", one_instance(150, "", ""));
    let k1 = keepup_with(
        &lab,
        r1,
        &conf1,
        "a",
        &["--metrics-listen", "10.9.0.1:9650"],
    );
    let k2 = keepup_with(
        &lab,
        r2,
        &one_instance(100, "", ""),
        "a",
        &["--metrics-listen", "10.9.0.2:9650"],
    );
    assert!(wait_addr(r1, VIP, true, 10).is_some(), "{}", k1.log());

    // What keepup serves passes promtool's lint, in the classic text format.
    let mut text = String::new();
    let served = wait_until(Duration::from_secs(10), Duration::from_millis(200), || {
        text = get(r3, "http://10.9.0.1:9650/metrics", "text/plain").unwrap_or_default();
        text.contains("keepup_lvs_real_server_up{") && text.contains("state=\"MASTER\"} 1")
    });
    assert!(served.is_some(), "{text}\n{}", k1.log());
    if let Err(e) = common::promtool_check(r3, &lab.dir().join("r1.metrics"), &text) {
        panic!("promtool check metrics: {e}\n{text}");
    }
    assert!(
        text.contains(
            "keepup_lvs_real_server_up{virtual_server=\"[10.9.0.200]:tcp:80\",real_server=\"[10.9.0.3]:tcp:9090\"} 1"
        ),
        "{text}"
    );
    let open = get(
        r3,
        "http://10.9.0.2:9650/metrics",
        "application/openmetrics-text",
    )
    .unwrap();
    assert!(open.ends_with("# EOF\n"), "{open}");
    assert!(
        get(r3, "http://10.9.0.2:9650/nothing", "*/*").is_none(),
        "only /metrics is served"
    );

    // Prometheus scraped both (it asks for OpenMetrics first) and answers PromQL.
    let mut last = String::new();
    let states = wait_until(Duration::from_secs(30), Duration::from_millis(500), || {
        last = query(r3, "keepup_vrrp_state{state=\"MASTER\"} == 1");
        last.contains("instance=\"10.9.0.1:9650\"") && !last.contains("10.9.0.2:9650")
    });
    assert!(
        states.is_some(),
        "the master's state: {last}\n{}",
        std::fs::read_to_string(lab.dir().join("prometheus.log")).unwrap_or_default()
    );
    assert!(last.contains("vrrp_instance=\"VI_1\""), "{last}");
    // The backup's series: scraped on its own schedule, so waited for too.
    let mut backup = String::new();
    let seen = wait_until(Duration::from_secs(20), Duration::from_millis(500), || {
        backup = query(
            r3,
            "keepup_vrrp_state{state=\"BACKUP\",instance=\"10.9.0.2:9650\"}",
        );
        backup.contains("=> 1 @")
    });
    assert!(seen.is_some(), "the backup's state: {backup:?}");
    // A counter that moves: the backup hears the master's adverts.
    let heard = wait_until(Duration::from_secs(20), Duration::from_millis(500), || {
        last = query(
            r3,
            "increase(keepup_vrrp_adverts_received_total{instance=\"10.9.0.2:9650\"}[5s]) > 0",
        );
        last.contains("vrrp_instance=\"VI_1\"")
    });
    assert!(heard.is_some(), "adverts received: {last}");
    drop(k2);
}
