//! What `GET /metrics` exports, from the VRRP status the protocol task last published and
//! the proxies' counters read at the scrape. docs/metrics.md describes every family.

use baton_proxy::{ProxyMetrics, STATUS_CLASSES, ServerMetrics};
use baton_vrrp::DropReason;

use super::encode::{Encoder, Kind};
use crate::status::{InstanceStatus, ReloadCounts, Status};

/// The states `baton_vrrp_state` has a series for, as `baton status` names them.
const STATES: [&str; 4] = ["INIT", "BACKUP", "MASTER", "FAULT"];

/// One frontend's proxy counters, with the names it runs under.
#[derive(Debug)]
pub(crate) struct FrontendMetrics {
    pub(crate) frontend: String,
    pub(crate) backend: String,
    pub(crate) metrics: ProxyMetrics,
}

/// The whole exposition.
pub(crate) fn render(status: &Status, frontends: &[FrontendMetrics]) -> String {
    let mut out = Encoder::default();
    out.family(
        "baton_build_info",
        Kind::Gauge,
        "Always 1; the version of the running baton.",
    );
    out.sample(
        "baton_build_info",
        &[("version", env!("CARGO_PKG_VERSION"))],
        1,
    );
    reloads(&mut out, status.reloads);
    vrrp(&mut out, &status.vrrp);
    vrrp_dropped_before_instances(&mut out, status);
    anycast(&mut out, &status.anycast);
    connections(&mut out, frontends);
    servers(&mut out, frontends);
    super::l4_metrics::render(&mut out, &status.virtual_servers);
    out.finish()
}

/// Reloads by outcome, so that a refused one can alert: the old configuration runs on.
fn reloads(out: &mut Encoder, reloads: ReloadCounts) {
    let name = "baton_reloads_total";
    out.family(
        name,
        Kind::Counter,
        "Reloads (SIGHUP or baton reload) by result: applied, unchanged, failed.",
    );
    for (result, count) in [
        ("applied", reloads.applied),
        ("unchanged", reloads.unchanged),
        ("failed", reloads.failed),
    ] {
        out.sample(name, &[("result", result)], count);
    }
}

/// A family with one sample per item, its value read by `value`.
struct Simple<T> {
    name: &'static str,
    kind: Kind,
    help: &'static str,
    value: fn(&T) -> u64,
}

impl<T> Simple<T> {
    const fn new(name: &'static str, kind: Kind, help: &'static str, value: fn(&T) -> u64) -> Self {
        Simple {
            name,
            kind,
            help,
            value,
        }
    }

    /// Writes the family with a sample per item, labelled by `labels`.
    fn write<'a, L>(&self, out: &mut Encoder, items: impl Iterator<Item = (L, &'a T)>)
    where
        T: 'a,
        L: AsRef<[(&'a str, &'a str)]>,
    {
        out.family(self.name, self.kind, self.help);
        for (labels, item) in items {
            out.sample(self.name, labels.as_ref(), (self.value)(item));
        }
    }
}

const INSTANCE_FAMILIES: [Simple<InstanceStatus>; 5] = [
    Simple::new(
        "baton_vrrp_priority",
        Kind::Gauge,
        "Configured VRRP priority.",
        |i| u64::from(i.priority),
    ),
    Simple::new(
        "baton_vrrp_effective_priority",
        Kind::Gauge,
        "Priority advertised now, after tracked objects' weights.",
        |i| u64::from(i.effective_priority),
    ),
    Simple::new(
        "baton_vrrp_transitions_total",
        Kind::Counter,
        "VRRP state changes since the instance started.",
        |i| i.transitions,
    ),
    Simple::new(
        "baton_vrrp_adverts_sent_total",
        Kind::Counter,
        "VRRP advertisements sent.",
        |i| i.adverts_sent,
    ),
    Simple::new(
        "baton_vrrp_adverts_received_total",
        Kind::Counter,
        "Valid VRRP advertisements received.",
        |i| i.adverts_received,
    ),
];

const FRONTEND_FAMILIES: [Simple<ProxyMetrics>; 4] = [
    Simple::new(
        "baton_frontend_connections_active",
        Kind::Gauge,
        "Client connections being served.",
        |m| m.connections_active,
    ),
    Simple::new(
        "baton_frontend_connections_total",
        Kind::Counter,
        "Client connections accepted, refused ones included.",
        |m| m.connections_total,
    ),
    Simple::new(
        "baton_frontend_connections_refused_per_client_total",
        Kind::Counter,
        "Client connections refused because their address was over max_connections_per_client.",
        |m| m.connections_refused_per_client,
    ),
    Simple::new(
        "baton_frontend_accept_errors_total",
        Kind::Counter,
        "Failed accept() calls on the frontend's listener, mostly out of file descriptors.",
        |m| m.accept_errors,
    ),
];

const SERVER_FAMILIES: [Simple<ServerMetrics>; 4] = [
    Simple::new(
        "baton_server_up",
        Kind::Gauge,
        "1 while the server is in rotation (not ejected, not failed by health checks, weight above 0).",
        |s| u64::from(s.up),
    ),
    Simple::new(
        "baton_server_requests_active",
        Kind::Gauge,
        "Requests in flight to the server.",
        |s| u64::from(s.active),
    ),
    Simple::new(
        "baton_server_check_failures_total",
        Kind::Counter,
        "Failed health check probes.",
        |s| s.check_failures,
    ),
    Simple::new(
        "baton_server_ejections_total",
        Kind::Counter,
        "Times the server was ejected after consecutive failures.",
        |s| s.ejections,
    ),
];

fn vrrp(out: &mut Encoder, instances: &[InstanceStatus]) {
    out.family(
        "baton_vrrp_state",
        Kind::Gauge,
        "1 for the state the VRRP instance is in (INIT, BACKUP, MASTER, FAULT), 0 for the others.",
    );
    for i in instances {
        for state in STATES {
            let labels = [("vrrp_instance", i.name.as_str()), ("state", state)];
            out.sample("baton_vrrp_state", &labels, u8::from(i.state == state));
        }
    }
    for family in &INSTANCE_FAMILIES {
        family.write(
            out,
            instances
                .iter()
                .map(|i| ([("vrrp_instance", i.name.as_str())], i)),
        );
    }
    let name = "baton_vrrp_dropped_packets_total";
    out.family(
        name,
        Kind::Counter,
        "VRRP packets dropped, by reason (ttl, auth, checksum, ...).",
    );
    for i in instances {
        for reason in DropReason::ALL.map(DropReason::as_str) {
            let count = i.dropped.get(reason).copied().unwrap_or(0);
            out.sample(
                name,
                &[("vrrp_instance", i.name.as_str()), ("reason", reason)],
                count,
            );
        }
    }
}

/// Drops no instance counted: at the sockets, and packets no instance claims.
fn anycast(out: &mut Encoder, sections: &[crate::anycast_status::AnycastStatus]) {
    out.family(
        "baton_anycast_announced",
        Kind::Gauge,
        "1 while an [[anycast]] section's routes are in its table (the routing daemon announces them), else 0.",
    );
    for section in sections {
        out.sample(
            "baton_anycast_announced",
            &[("anycast", section.name.as_str())],
            u64::from(section.announced),
        );
    }
    out.family(
        "baton_anycast_withdrawn_by_operator",
        Kind::Gauge,
        "1 while `baton anycast withdraw` holds an [[anycast]] section withdrawn, until `baton anycast announce`, else 0.",
    );
    for section in sections {
        out.sample(
            "baton_anycast_withdrawn_by_operator",
            &[("anycast", section.name.as_str())],
            u64::from(section.withdrawn_by_operator),
        );
    }
}

fn vrrp_dropped_before_instances(out: &mut Encoder, status: &Status) {
    let name = "baton_vrrp_receive_dropped_packets_total";
    out.family(
        name,
        Kind::Counter,
        "VRRP packets dropped at a socket before any instance saw them, by reason \
         (oversized, malformed, queue_full, kernel_overflow).",
    );
    for d in &status.vrrp_receive_dropped {
        let labels = [
            ("interface", d.interface.as_str()),
            ("family", d.family.as_str()),
            ("reason", d.reason.as_str()),
        ];
        out.sample(name, &labels, d.count);
    }
    let name = "baton_vrrp_unclaimed_dropped_packets_total";
    out.family(
        name,
        Kind::Counter,
        "VRRP packets no instance claims (unknown VRID, or too malformed to tell), by reason.",
    );
    for reason in DropReason::ALL.map(DropReason::as_str) {
        let count = status
            .vrrp_unclaimed_dropped
            .get(reason)
            .copied()
            .unwrap_or(0);
        out.sample(name, &[("reason", reason)], count);
    }
}

fn connections(out: &mut Encoder, frontends: &[FrontendMetrics]) {
    for family in &FRONTEND_FAMILIES {
        let items = frontends
            .iter()
            .map(|f| ([("frontend", f.frontend.as_str())], &f.metrics));
        family.write(out, items);
    }
    let name = "baton_frontend_own_responses_total";
    out.family(
        name,
        Kind::Counter,
        "Answers the proxy made itself (503 with no server up or over a connection limit, 502, 504, 400, 405, 408), by status class.",
    );
    for f in frontends {
        for (class, count) in STATUS_CLASSES.iter().zip(f.metrics.own_responses) {
            let labels = [("frontend", f.frontend.as_str()), ("code", class)];
            out.sample(name, &labels, count);
        }
    }
}

fn servers(out: &mut Encoder, frontends: &[FrontendMetrics]) {
    let servers = server_labels(frontends);
    let labelled = || {
        servers
            .iter()
            .map(|(labels, server)| (labels.each(), *server))
    };
    for family in &SERVER_FAMILIES {
        family.write(out, labelled());
    }

    let name = "baton_server_requests_total";
    out.family(
        name,
        Kind::Counter,
        "Responses the server sent to clients, by status class (code=\"2xx\", ...).",
    );
    for ([frontend, backend, address], server) in labelled() {
        for (class, count) in STATUS_CLASSES.iter().zip(server.responses) {
            out.sample(name, &[frontend, backend, address, ("code", class)], count);
        }
    }

    let name = "baton_server_response_duration_seconds";
    out.family(
        name,
        Kind::Histogram,
        "Time from sending a request to the server to receiving its response head.",
    );
    for (labels, server) in labelled() {
        out.histogram(name, &labels, &server.response_time);
    }
}

/// A server's names: its frontend, backend and address.
struct ServerLabels<'a> {
    frontend: &'a str,
    backend: &'a str,
    address: String,
}

impl ServerLabels<'_> {
    fn each(&self) -> [(&str, &str); 3] {
        [
            ("frontend", self.frontend),
            ("backend", self.backend),
            ("server", self.address.as_str()),
        ]
    }
}

/// Every server of every frontend, with its labels.
fn server_labels(frontends: &[FrontendMetrics]) -> Vec<(ServerLabels<'_>, &ServerMetrics)> {
    frontends
        .iter()
        .flat_map(|f| {
            f.metrics.servers.iter().map(|server| {
                let labels = ServerLabels {
                    frontend: &f.frontend,
                    backend: &f.backend,
                    address: server.address.to_string(),
                };
                (labels, server)
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;
    use std::sync::Arc;

    use super::*;

    fn instance(name: &str, state: &str) -> InstanceStatus {
        InstanceStatus::example(name, state)
    }

    /// A proxy that never served: real servers, counters at zero.
    fn frontend(name: &str, servers: &[&str]) -> FrontendMetrics {
        let config = baton_proxy::ProxyConfig::new(
            servers
                .iter()
                .map(|s| baton_proxy::ServerConfig::new(s.parse().expect("address")))
                .collect(),
        );
        FrontendMetrics {
            frontend: name.into(),
            backend: "app".into(),
            metrics: baton_proxy::Proxy::new(Arc::new(config)).metrics(),
        }
    }

    /// Checks the 0.0.4 rules a scraper relies on: each family has HELP then TYPE once,
    /// its samples follow it without another family in between, sample names match the
    /// family (with `_bucket`, `_sum`, `_count` for histograms), values are numbers.
    fn check_exposition(text: &str) -> BTreeSet<String> {
        let mut seen = BTreeSet::new();
        let mut current: Option<(String, String)> = None;
        let mut lines = text.lines().peekable();
        while let Some(line) = lines.next() {
            if let Some(rest) = line.strip_prefix("# HELP ") {
                let name = rest.split(' ').next().expect("name").to_owned();
                let kind_line = lines.next().expect("TYPE after HELP");
                let kind = kind_line
                    .strip_prefix(&format!("# TYPE {name} "))
                    .unwrap_or_else(|| panic!("TYPE for {name}: {kind_line}"));
                assert!(
                    ["counter", "gauge", "histogram"].contains(&kind),
                    "{kind_line}"
                );
                assert!(seen.insert(name.clone()), "{name} declared twice");
                assert!(name.starts_with("baton_"), "{name}");
                assert_eq!(kind == "counter", name.ends_with("_total"), "{name}");
                current = Some((name, kind.to_owned()));
                continue;
            }
            let (family, kind) = current.as_ref().expect("sample before any family");
            let (series, value) = line.rsplit_once(' ').expect("name and value");
            assert!(value.parse::<f64>().is_ok(), "value of {line}");
            let name = series.split('{').next().expect("name");
            let allowed = if kind == "histogram" {
                ["_bucket", "_sum", "_count"]
                    .iter()
                    .any(|suffix| name == format!("{family}{suffix}"))
            } else {
                name == family
            };
            assert!(allowed, "{line} under {family}");
        }
        seen
    }

    #[test]
    fn every_family_is_well_formed_and_present() {
        let status = Status {
            vrrp: vec![instance("VI_1", "MASTER"), instance("VI_\"2\"", "BACKUP")],
            backends: Vec::new(),
            virtual_servers: vec![crate::status::VirtualServerEntry::example()],
            vrrp_receive_dropped: vec![crate::status::ReceiveDropEntry {
                interface: "eth0".into(),
                family: "ipv4".into(),
                reason: "oversized".into(),
                count: 9,
            }],
            vrrp_unclaimed_dropped: [("vrid".to_owned(), 4)].into(),
            reloads: ReloadCounts {
                applied: 2,
                unchanged: 0,
                failed: 1,
            },
            bfd: Vec::new(),
            scheduled_reload: None,
            conn_sync: None,
            anycast: vec![crate::anycast_status::AnycastStatus {
                name: "web".into(),
                prefixes: vec!["10.0.9.100/32".into()],
                table: 100,
                announced: true,
                withdrawn_by_operator: false,
                waiting_on: Vec::new(),
            }],
        };
        let frontends = [frontend("web", &["127.0.0.1:8001", "[::1]:8002"])];
        let text = render(&status, &frontends);
        let families = check_exposition(&text);
        let expected = [
            "baton_build_info",
            "baton_reloads_total",
            "baton_vrrp_state",
            "baton_vrrp_priority",
            "baton_vrrp_effective_priority",
            "baton_vrrp_transitions_total",
            "baton_vrrp_adverts_sent_total",
            "baton_vrrp_adverts_received_total",
            "baton_vrrp_dropped_packets_total",
            "baton_vrrp_receive_dropped_packets_total",
            "baton_vrrp_unclaimed_dropped_packets_total",
            "baton_frontend_connections_active",
            "baton_frontend_connections_total",
            "baton_frontend_connections_refused_per_client_total",
            "baton_frontend_accept_errors_total",
            "baton_frontend_own_responses_total",
            "baton_server_up",
            "baton_server_requests_active",
            "baton_server_check_failures_total",
            "baton_server_ejections_total",
            "baton_server_requests_total",
            "baton_server_response_duration_seconds",
            "baton_virtual_server_quorum_up",
            "baton_virtual_server_sorry_active",
            "baton_real_server_up",
            "baton_real_server_weight",
            "baton_real_server_connections_active",
            "baton_real_server_connections_total",
            "baton_real_server_packets_total",
            "baton_real_server_bytes_total",
            "baton_anycast_announced",
            "baton_anycast_withdrawn_by_operator",
        ];
        assert_eq!(families, expected.iter().map(|s| s.to_string()).collect());

        for line in [
            "baton_reloads_total{result=\"failed\"} 1",
            "baton_reloads_total{result=\"unchanged\"} 0",
            "baton_vrrp_state{vrrp_instance=\"VI_1\",state=\"MASTER\"} 1",
            "baton_vrrp_state{vrrp_instance=\"VI_1\",state=\"BACKUP\"} 0",
            "baton_vrrp_state{vrrp_instance=\"VI_\\\"2\\\"\",state=\"BACKUP\"} 1",
            "baton_vrrp_effective_priority{vrrp_instance=\"VI_1\"} 130",
            "baton_vrrp_dropped_packets_total{vrrp_instance=\"VI_1\",reason=\"auth\"} 2",
            "baton_vrrp_dropped_packets_total{vrrp_instance=\"VI_1\",reason=\"ttl\"} 0",
            "baton_vrrp_receive_dropped_packets_total{interface=\"eth0\",family=\"ipv4\",reason=\"oversized\"} 9",
            "baton_vrrp_unclaimed_dropped_packets_total{reason=\"vrid\"} 4",
            "baton_vrrp_unclaimed_dropped_packets_total{reason=\"length\"} 0",
            "baton_frontend_connections_total{frontend=\"web\"} 0",
            "baton_frontend_accept_errors_total{frontend=\"web\"} 0",
            "baton_frontend_own_responses_total{frontend=\"web\",code=\"5xx\"} 0",
            "baton_server_up{frontend=\"web\",backend=\"app\",server=\"[::1]:8002\"} 1",
            "baton_server_requests_total{frontend=\"web\",backend=\"app\",server=\"127.0.0.1:8001\",code=\"5xx\"} 0",
            "baton_server_response_duration_seconds_bucket{frontend=\"web\",backend=\"app\",server=\"127.0.0.1:8001\",le=\"0.001\"} 0",
            "baton_server_response_duration_seconds_bucket{frontend=\"web\",backend=\"app\",server=\"127.0.0.1:8001\",le=\"+Inf\"} 0",
            "baton_server_response_duration_seconds_count{frontend=\"web\",backend=\"app\",server=\"[::1]:8002\"} 0",
            "baton_virtual_server_quorum_up{virtual_server=\"10.0.3.100:80/tcp\"} 1",
            "baton_real_server_connections_active{virtual_server=\"10.0.3.100:80/tcp\",real_server=\"10.0.3.11:80\"} 4",
            "baton_real_server_bytes_total{virtual_server=\"10.0.3.100:80/tcp\",real_server=\"10.0.3.11:80\"} 1000",
            "baton_anycast_announced{anycast=\"web\"} 1",
            "baton_anycast_withdrawn_by_operator{anycast=\"web\"} 0",
        ] {
            assert!(text.lines().any(|l| l == line), "missing {line}\n{text}");
        }
        let states = text
            .lines()
            .filter(|l| l.starts_with("baton_vrrp_state{"))
            .count();
        assert_eq!(states, 8, "four states per instance");
        let build = format!(
            "baton_build_info{{version=\"{}\"}} 1",
            env!("CARGO_PKG_VERSION")
        );
        assert!(text.contains(&build));
    }

    #[test]
    fn no_instances_and_no_frontends_still_declare_every_family() {
        let text = render(&Status::default(), &[]);
        assert_eq!(check_exposition(&text).len(), 32);
    }
}
