//! Prometheus metrics (`keepup run --metrics-listen ADDR`): served from the status
//! snapshot, so a scrape never waits on the VRRP loop or the checkers (the kernel's IPVS
//! table is read for it, as for `keepup status`, off the loop).
//!
//! Names, all under `keepup_`:
//! - the daemon: `build_info`, `start_time_seconds`, `config_info` (file and digest),
//!   `config_last_reload_successful`, `config_reloads_total` and
//!   `config_reload_failures_total`, `firewall_failures_total` (the `no_accept`
//!   nftables table's failed writes), `vrrp_rx_filter_strict` by `family` (1 while
//!   a flood has the VRRP socket's kernel filter judge VRIDs, versions and passwords);
//! - each VRRP instance (labels `vrrp_instance`, `interface`, `vrid`): one 0/1
//!   `vrrp_state` series per state, `vrrp_priority` and `vrrp_effective_priority`,
//!   RFC 6527's statistics as counters without a state label (a label that changes
//!   would start a new series at each transition; keepalived's STATS_CLEAR signal
//!   sets them back to zero, which Prometheus takes as a counter reset, as after a
//!   restart: `rate()` and `increase()` handle it), `vrrp_transitions_total`,
//!   `vrrp_split_brain_total`, `vrrp_duplicate_address_total`, and each tracker's
//!   `vrrp_tracker_up`;
//! - each virtual server (`virtual_server`, keepalived's name): `lvs_quorum_up`,
//!   `lvs_real_servers_alive`, `lvs_sorry_server_active`; each real server
//!   (`virtual_server`, `real_server`): `lvs_real_server_up`, `lvs_real_server_weight`
//!   (configured), `lvs_real_server_effective_weight`; each checker (`checker`, its
//!   kind, and `n`, its place among the real server's checkers): `lvs_checker_up`,
//!   `lvs_checker_duration_seconds` (its last run; no series before one ended) and
//!   `lvs_checker_failures_total` by `reason` (`keepup_check::sched::FailKind`'s
//!   names, every one from start so that `rate()` sees the first failure);
//! - the kernel's IPVS table as node_exporter names it (`node_ipvs_*` there,
//!   `keepup_ipvs_*` here, with its labels `local_address`, `local_port`, `local_mark`,
//!   `proto`, `remote_address`, `remote_port`): per service and per destination the
//!   connections, packets and bytes, and per destination its active and inactive
//!   connections and its weight in the kernel.
use std::fmt;
use std::net::IpAddr;
use std::sync::Arc;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{
    DescriptorEncoder, EncodeGaugeValue, EncodeLabelSet, NoLabelSet,
};
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::Registry;

use keepup_check::sched::FailKind;

use crate::status::{IpvsStatus, Snapshot};

/// The exposition formats a scraper may ask for (its `Accept` header).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// `text/plain; version=0.0.4`: what promtool and older scrapers read.
    Text,
    /// `application/openmetrics-text; version=1.0.0`: what Prometheus asks for first.
    OpenMetrics,
}

impl Format {
    /// The format an `Accept` header prefers (OpenMetrics only when asked for).
    pub fn from_accept(accept: Option<&str>) -> Format {
        match accept {
            Some(a) if a.contains("application/openmetrics-text") => Format::OpenMetrics,
            _ => Format::Text,
        }
    }

    pub fn content_type(self) -> &'static str {
        match self {
            Format::Text => prometheus_client::encoding::prometheus_text::CONTENT_TYPE,
            Format::OpenMetrics => "application/openmetrics-text; version=1.0.0; charset=utf-8",
        }
    }
}

/// The metrics of `snapshot`, in `format`.
pub fn encode(snapshot: Arc<Snapshot>, format: Format) -> Result<String, fmt::Error> {
    let mut registry = Registry::with_prefix("keepup");
    registry.register_collector(Box::new(Metrics(snapshot)));
    let mut out = String::new();
    match format {
        Format::Text => prometheus_client::encoding::prometheus_text::encode(&mut out, &registry)?,
        Format::OpenMetrics => prometheus_client::encoding::text::encode(&mut out, &registry)?,
    }
    Ok(out)
}

#[derive(Debug)]
struct Metrics(Arc<Snapshot>);

type Labels = Vec<(&'static str, String)>;

/// A series without labels.
fn none() -> Labels {
    Labels::new()
}

/// One metric family at a time: its descriptor, then its series.
struct Out<'a>(DescriptorEncoder<'a>);

impl Out<'_> {
    fn gauge<L: EncodeLabelSet, V: EncodeGaugeValue>(
        &mut self,
        name: &str,
        help: &str,
        series: impl IntoIterator<Item = (L, V)>,
    ) -> fmt::Result {
        let mut m = self
            .0
            .encode_descriptor(name, help, None, MetricType::Gauge)?;
        for (labels, v) in series {
            m.encode_family(&labels)?.encode_gauge(&v)?;
        }
        Ok(())
    }

    /// A counter (`name` without `_total`: the encoder adds it).
    fn counter<L: EncodeLabelSet>(
        &mut self,
        name: &str,
        help: &str,
        series: impl IntoIterator<Item = (L, u64)>,
    ) -> fmt::Result {
        let mut m = self
            .0
            .encode_descriptor(name, help, None, MetricType::Counter)?;
        for (labels, v) in series {
            m.encode_family(&labels)?
                .encode_counter::<NoLabelSet, _, u64>(&v, None)?;
        }
        Ok(())
    }
}

fn flag(b: bool) -> i64 {
    i64::from(b)
}

/// The VRRP states an instance may be in, as keepalived names them.
const STATES: [&str; 5] = ["INIT", "BACKUP", "MASTER", "FAULT", "STOP"];

impl Collector for Metrics {
    fn encode(&self, encoder: DescriptorEncoder) -> fmt::Result {
        let s = &*self.0;
        let mut out = Out(encoder);
        daemon(&mut out, s)?;
        vrrp(&mut out, s)?;
        lvs(&mut out, s)?;
        if let Some(ipvs) = s.ipvs.as_ref().filter(|i| i.available) {
            kernel(&mut out, ipvs)?;
        }
        Ok(())
    }
}

fn daemon(out: &mut Out, s: &Snapshot) -> fmt::Result {
    let d = &s.daemon;
    out.gauge(
        "build_info",
        "keepup's version (the value is 1)",
        [(vec![("version", d.version.clone())], 1)],
    )?;
    out.gauge(
        "start_time_seconds",
        "When the daemon started, in seconds since the epoch",
        [(none(), d.started)],
    )?;
    out.gauge(
        "config_info",
        "The configuration running: its file and digest (the value is 1)",
        [(
            vec![
                ("file", d.config_file.clone()),
                ("digest", d.config_digest.clone()),
            ],
            1,
        )],
    )?;
    out.gauge(
        "config_last_reload_successful",
        "Whether the last reload was applied (1 before any reload)",
        [(none(), flag(d.last_reload.as_ref().is_none_or(|r| r.ok)))],
    )?;
    out.counter(
        "config_reloads",
        "Reloads asked for (SIGHUP or keepup reload)",
        [(none(), d.reloads)],
    )?;
    out.counter(
        "config_reload_failures",
        "Reloads refused (the running configuration stayed)",
        [(none(), d.reload_failures)],
    )?;
    out.counter(
        "firewall_failures",
        "Writes of the no_accept nftables table that failed (each is tried again)",
        [(none(), d.firewall_failures)],
    )?;
    out.gauge(
        "vrrp_rx_filter_strict",
        "1 while a flood of adverts no instance accepts has the kernel judge VRIDs, \
         versions and passwords on that family's VRRP socket",
        [4u8, 6].map(|v| {
            let strict = d.rx_filter_strict.contains(&v);
            (vec![("family", format!("ipv{v}"))], flag(strict))
        }),
    )
}

fn vrrp(out: &mut Out, s: &Snapshot) -> fmt::Result {
    let id = |i: &crate::status::InstanceStatus| -> Labels {
        vec![
            ("vrrp_instance", i.iname.clone()),
            ("interface", i.ifp_ifname.clone()),
            ("vrid", i.vrid.to_string()),
        ]
    };
    let each = |f: fn(&crate::status::InstanceStatus) -> u64| {
        s.instances.iter().map(move |i| (id(i), f(i)))
    };
    out.gauge(
        "vrrp_state",
        "1 for the state the VRRP instance is in, 0 for the others",
        s.instances.iter().flat_map(|i| {
            STATES.iter().map(move |st| {
                let mut l = id(i);
                l.push(("state", (*st).to_string()));
                (l, flag(i.state == *st))
            })
        }),
    )?;
    out.gauge(
        "vrrp_priority",
        "The configured priority",
        s.instances
            .iter()
            .map(|i| (id(i), i64::from(i.base_priority))),
    )?;
    out.gauge(
        "vrrp_effective_priority",
        "The priority advertised now (trackers' weights applied)",
        s.instances
            .iter()
            .map(|i| (id(i), i64::from(i.effective_priority))),
    )?;
    out.gauge(
        "vrrp_last_transition_timestamp_seconds",
        "When the instance last changed state, in seconds since the epoch",
        s.instances
            .iter()
            .filter_map(|i| Some((id(i), i.last_transition?))),
    )?;
    out.counter(
        "vrrp_transitions",
        "State changes since start",
        each(|i| i.transitions),
    )?;
    // RFC 6527 vrrpRouterStatisticsTable, one counter each.
    out.counter(
        "vrrp_master_transitions",
        "Transitions to MASTER (RFC 6527 vrrpStatisticsMasterTransitions)",
        each(|i| i.stats.become_master),
    )?;
    out.counter(
        "vrrp_adverts_received",
        "Advertisements received (RFC 6527 vrrpStatisticsRcvdAdvertisements)",
        each(|i| i.stats.advert_rcvd),
    )?;
    out.counter(
        "vrrp_adverts_sent",
        "Advertisements sent",
        each(|i| i.stats.advert_sent),
    )?;
    out.counter(
        "vrrp_advert_interval_errors",
        "Advertisements with another interval (RFC 6527 vrrpStatisticsAdvIntervalErrors)",
        each(|i| i.stats.advert_interval_err),
    )?;
    out.counter(
        "vrrp_ip_ttl_errors",
        "Advertisements with a TTL or hop limit other than 255 (RFC 6527 vrrpStatisticsIpTtlErrors)",
        each(|i| i.stats.ip_ttl_err),
    )?;
    out.counter(
        "vrrp_priority_zero_received",
        "Advertisements with priority 0 received (RFC 6527 vrrpStatisticsRcvdPriZeroPackets)",
        each(|i| i.stats.pri_zero_rcvd),
    )?;
    out.counter(
        "vrrp_priority_zero_sent",
        "Advertisements with priority 0 sent (RFC 6527 vrrpStatisticsSentPriZeroPackets)",
        each(|i| i.stats.pri_zero_sent),
    )?;
    out.counter(
        "vrrp_invalid_type_received",
        "Packets of an unknown type (RFC 6527 vrrpStatisticsRcvdInvalidTypePackets)",
        each(|i| i.stats.invalid_type_rcvd),
    )?;
    out.counter(
        "vrrp_address_list_errors",
        "Advertisements whose addresses differ from ours (RFC 6527 vrrpStatisticsAddressListErrors)",
        each(|i| i.stats.addr_list_err),
    )?;
    out.counter(
        "vrrp_packet_length_errors",
        "Packets of a wrong length (RFC 6527 vrrpStatisticsPacketLengthErrors)",
        each(|i| i.stats.packet_len_err),
    )?;
    out.counter(
        "vrrp_invalid_auth_type",
        "VRRPv2 advertisements with an unknown authentication type",
        each(|i| i.stats.invalid_authtype),
    )?;
    out.counter(
        "vrrp_auth_type_mismatch",
        "VRRPv2 advertisements with another authentication type than ours",
        each(|i| i.stats.authtype_mismatch),
    )?;
    out.counter(
        "vrrp_auth_failures",
        "VRRPv2 advertisements whose password does not match",
        each(|i| i.stats.auth_failure),
    )?;
    out.counter(
        "vrrp_auth_hmac_errors",
        "Advertisements refused by auth_hmac, by reason (keepalived's auth_ext_* stats)",
        s.instances.iter().flat_map(|i| {
            let st = &i.stats;
            [
                ("missing", st.auth_ext_missing),
                ("malformed", st.auth_ext_malformed),
                ("unknown_key", st.auth_ext_unknown_key),
                ("invalid_hmac", st.auth_ext_invalid_hmac),
                ("stale", st.auth_ext_stale),
                ("replay", st.auth_ext_replay),
            ]
            .into_iter()
            .map(move |(reason, n)| {
                let mut l = id(i);
                l.push(("reason", reason.to_string()));
                (l, n)
            })
        }),
    )?;
    out.counter(
        "vrrp_source_errors",
        "Advertisements from a source address not accepted",
        each(|i| i.stats.source_err),
    )?;
    out.counter(
        "vrrp_split_brain",
        "Times another MASTER was heard while this one was MASTER",
        each(|i| i.stats.split_brain),
    )?;
    out.counter(
        "vrrp_duplicate_address",
        "Times another host was found answering for one of the instance's addresses",
        each(|i| i.duplicate_address),
    )?;
    out.gauge(
        "vrrp_tracker_up",
        "1 while a tracked script, interface, file or process counts for the instance, 0 while it counts against it",
        s.instances.iter().flat_map(|i| {
            i.trackers.iter().map(move |t| {
                let mut l = id(i);
                l.push(("kind", t.kind.clone()));
                l.push(("tracker", t.name.clone()));
                (l, flag(!t.failing))
            })
        }),
    )
}

fn lvs(out: &mut Out, s: &Snapshot) -> fmt::Result {
    let vss = &s.virtual_servers;
    let vs =
        |v: &keepup_check::sched::VsView| -> Labels { vec![("virtual_server", v.name.clone())] };
    let rss = || {
        vss.iter().flat_map(move |v| {
            v.real_servers.iter().map(move |r| {
                let l: Labels = vec![
                    ("virtual_server", v.name.clone()),
                    ("real_server", r.name.to_string()),
                ];
                (l, r)
            })
        })
    };
    out.gauge(
        "lvs_quorum_up",
        "1 while the virtual server's alive real servers meet its quorum",
        vss.iter().map(|v| (vs(v), flag(v.quorum_up))),
    )?;
    out.gauge(
        "lvs_real_servers_alive",
        "The virtual server's real servers that are alive",
        vss.iter().map(|v| {
            let alive = v.real_servers.iter().filter(|r| r.alive).count();
            (vs(v), alive as i64)
        }),
    )?;
    out.gauge(
        "lvs_real_servers",
        "The virtual server's real servers",
        vss.iter().map(|v| (vs(v), v.real_servers.len() as i64)),
    )?;
    out.gauge(
        "lvs_sorry_server_active",
        "1 while the sorry server stands in for the real servers",
        vss.iter().map(|v| (vs(v), flag(v.sorry_on))),
    )?;
    out.gauge(
        "lvs_real_server_up",
        "1 while the real server is alive (its checkers up)",
        rss().map(|(l, r)| (l, flag(r.alive))),
    )?;
    out.gauge(
        "lvs_real_server_weight",
        "The real server's configured weight",
        rss().map(|(l, r)| (l, i64::from(r.weight))),
    )?;
    out.gauge(
        "lvs_real_server_effective_weight",
        "The real server's weight now (misc_dynamic or FILE_CHECK may change it)",
        rss().map(|(l, r)| (l, i64::from(r.effective_weight))),
    )?;
    // A checker is named by its kind and its place among its real server's checkers.
    let checkers = || {
        rss().flat_map(|(l, r)| {
            r.checkers.iter().enumerate().map(move |(n, c)| {
                let mut l = l.clone();
                l.push(("checker", c.kind.clone()));
                l.push(("n", n.to_string()));
                (l, c)
            })
        })
    };
    out.gauge(
        "lvs_checker_up",
        "1 while the checker finds its real server up",
        checkers().map(|(l, c)| (l, flag(c.up))),
    )?;
    out.gauge(
        "lvs_checker_duration_seconds",
        "How long the checker's last run took, from its start to its verdict (a run cancelled at its timeout: the timeout)",
        // No series before a run has ended: 0 would read as a fast check.
        checkers().filter_map(|(l, c)| Some((l, c.last_duration?))),
    )?;
    let reasons = FailKind::ALL.map(FailKind::as_str).join(", ");
    out.counter(
        "lvs_checker_failures",
        &format!("The checker's failed runs since start, by reason: {reasons}"),
        // Every reason, 0 included, so rate() sees the first failure.
        checkers().flat_map(|(l, c)| {
            c.failures.iter().map(move |(kind, n)| {
                let mut l = l.clone();
                l.push(("reason", kind.as_str().to_string()));
                (l, n)
            })
        }),
    )
}

/// node_exporter's labels of a service (`local_*`, `proto`).
fn service_labels(key: &keepup_lvs::ServiceKey) -> Labels {
    match key {
        keepup_lvs::ServiceKey::Addr {
            protocol,
            addr,
            port,
        } => vec![
            ("local_address", addr.to_string()),
            ("local_port", port.to_string()),
            ("local_mark", String::new()),
            ("proto", protocol.name().to_string()),
        ],
        keepup_lvs::ServiceKey::Fwmark { mark, .. } => vec![
            ("local_address", String::new()),
            ("local_port", "0".to_string()),
            ("local_mark", mark.to_string()),
            ("proto", "FWM".to_string()),
        ],
    }
}

fn backend_labels(service: &keepup_lvs::ServiceKey, addr: IpAddr, port: u16) -> Labels {
    let mut l = service_labels(service);
    l.push(("remote_address", addr.to_string()));
    l.push(("remote_port", port.to_string()));
    l
}

fn kernel(out: &mut Out, ipvs: &IpvsStatus) -> fmt::Result {
    let services = || {
        ipvs.services
            .iter()
            .map(|s| (service_labels(&s.info.service.key), &s.info.stats))
    };
    let backends = || {
        ipvs.services.iter().flat_map(|s| {
            let key = s.info.service.key;
            s.dests
                .iter()
                .map(move |d| (backend_labels(&key, d.dest.key.addr, d.dest.key.port), d))
        })
    };
    out.counter(
        "ipvs_connections",
        "Connections the service took (the kernel's count)",
        services().map(|(l, st)| (l, st.conns)),
    )?;
    out.counter(
        "ipvs_incoming_packets",
        "Packets to the service",
        services().map(|(l, st)| (l, st.inpkts)),
    )?;
    out.counter(
        "ipvs_outgoing_packets",
        "Packets from the service",
        services().map(|(l, st)| (l, st.outpkts)),
    )?;
    out.counter(
        "ipvs_incoming_bytes",
        "Bytes to the service",
        services().map(|(l, st)| (l, st.inbytes)),
    )?;
    out.counter(
        "ipvs_outgoing_bytes",
        "Bytes from the service",
        services().map(|(l, st)| (l, st.outbytes)),
    )?;
    out.gauge(
        "ipvs_backend_connections_active",
        "The real server's active connections in the kernel",
        backends().map(|(l, d)| (l, i64::from(d.active_conns))),
    )?;
    out.gauge(
        "ipvs_backend_connections_inactive",
        "The real server's inactive connections in the kernel",
        backends().map(|(l, d)| (l, i64::from(d.inact_conns))),
    )?;
    out.gauge(
        "ipvs_backend_weight",
        "The real server's weight in the kernel",
        backends().map(|(l, d)| (l, i64::from(d.dest.weight))),
    )?;
    out.counter(
        "ipvs_backend_connections",
        "Connections the real server took",
        backends().map(|(l, d)| (l, d.stats.conns)),
    )?;
    out.counter(
        "ipvs_backend_incoming_packets",
        "Packets to the real server",
        backends().map(|(l, d)| (l, d.stats.inpkts)),
    )?;
    out.counter(
        "ipvs_backend_outgoing_packets",
        "Packets from the real server",
        backends().map(|(l, d)| (l, d.stats.outpkts)),
    )?;
    out.counter(
        "ipvs_backend_incoming_bytes",
        "Bytes to the real server",
        backends().map(|(l, d)| (l, d.stats.inbytes)),
    )?;
    out.counter(
        "ipvs_backend_outgoing_bytes",
        "Bytes from the real server",
        backends().map(|(l, d)| (l, d.stats.outbytes)),
    )
}

/// Serves `GET /metrics` on `listener` until the daemon ends: each scrape reads the
/// status (off the loop) and encodes it.
pub async fn serve(listener: tokio::net::TcpListener, status: crate::status::Reader) {
    loop {
        let stream = match listener.accept().await {
            Ok((s, _)) => s,
            Err(e) => {
                tracing::warn!("metrics: {e}");
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                continue;
            }
        };
        let status = status.clone();
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |req| {
                let status = status.clone();
                async move { Ok::<_, std::convert::Infallible>(answer(req, status).await) }
            });
            let conn = hyper::server::conn::http1::Builder::new()
                .serve_connection(hyper_util::rt::TokioIo::new(stream), service);
            // A scraper that neither asks nor goes is dropped.
            let _ = tokio::time::timeout(std::time::Duration::from_secs(30), conn).await;
        });
    }
}

type Body = http_body_util::Full<hyper::body::Bytes>;

async fn answer(
    req: hyper::Request<hyper::body::Incoming>,
    status: crate::status::Reader,
) -> hyper::Response<Body> {
    let reply = |code: u16, ctype: &str, body: String| {
        let mut r = hyper::Response::new(Body::from(body));
        *r.status_mut() = hyper::StatusCode::from_u16(code).unwrap_or_default();
        if let Ok(v) = hyper::header::HeaderValue::from_str(ctype) {
            r.headers_mut().insert(hyper::header::CONTENT_TYPE, v);
        }
        r
    };
    match (req.method(), req.uri().path()) {
        (&hyper::Method::GET, "/metrics") => {}
        (&hyper::Method::GET, "/") => {
            return reply(
                200,
                "text/html; charset=utf-8",
                "<html><body><a href=\"/metrics\">keepup metrics</a></body></html>\n".into(),
            )
        }
        _ => {
            return reply(
                404,
                "text/plain",
                "not found: keepup serves /metrics\n".into(),
            )
        }
    }
    let format = Format::from_accept(
        req.headers()
            .get(hyper::header::ACCEPT)
            .and_then(|v| v.to_str().ok()),
    );
    let body = tokio::task::spawn_blocking(move || {
        let snapshot = Arc::new(status.read());
        let large = snapshot.ipvs.as_ref().is_some_and(|i| i.entries() >= 1024);
        let body = encode(snapshot, format);
        if large {
            keepup_sys::release_free_memory();
        }
        body
    })
    .await;
    match body {
        Ok(Ok(b)) => reply(200, format.content_type(), b),
        Ok(Err(e)) => reply(500, "text/plain", format!("encoding the metrics: {e}\n")),
        Err(e) => reply(500, "text/plain", format!("reading the status: {e}\n")),
    }
}

#[cfg(test)]
mod tests;
