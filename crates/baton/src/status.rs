//! What `baton status` shows, shared by the daemon (which fills it) and the client (which
//! prints it). The JSON field names are a stable interface (ARCHITECTURE.md).

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Status {
    pub(crate) vrrp: Vec<InstanceStatus>,
    /// Every frontend's servers, frontend by frontend in name order.
    #[serde(default)]
    pub(crate) backends: Vec<ServerEntry>,
    /// Every L4 virtual server (keepalived's `virtual_server`), in name order.
    #[serde(default)]
    pub(crate) virtual_servers: Vec<VirtualServerEntry>,
    /// VRRP packets dropped before any instance saw them: at the sockets (too large,
    /// malformed, shed behind a flood, or by the kernel for a full socket buffer), by socket and
    /// reason, zero counts left out.
    #[serde(default)]
    pub(crate) vrrp_receive_dropped: Vec<ReceiveDropEntry>,
    /// VRRP packets that decoded far enough to be dispatched but that no instance claims (an
    /// unknown VRID, or too malformed to tell), by the engine's reason, zero counts left out.
    #[serde(default)]
    pub(crate) vrrp_unclaimed_dropped: BTreeMap<String, u64>,
    /// Reloads (SIGHUP or `baton reload`) since the start, by outcome.
    #[serde(default)]
    pub(crate) reloads: ReloadCounts,
    /// keepalived's `bfd_instance` sessions, in name order.
    #[serde(default)]
    pub(crate) bfd: Vec<crate::bfd_status::SessionStatus>,
    /// Connection sync (conntrackd), when configured.
    #[serde(default)]
    pub(crate) conn_sync: Option<crate::conn_sync_status::ConnSyncStatus>,
    /// `[[anycast]]` sections, in configuration order.
    #[serde(default)]
    pub(crate) anycast: Vec<crate::anycast_status::AnycastStatus>,
    /// The reload that keepalived's `reload_time_file` schedules, if any.
    #[serde(default)]
    pub(crate) scheduled_reload: Option<ScheduledReload>,
}

/// A reload due at a time a file gave (`reload_time_file`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct ScheduledReload {
    /// RFC 3339, in local time with its offset.
    pub(crate) at: String,
    /// The file that said so.
    pub(crate) file: String,
    /// `reload_repeat` with a time of day: the file stays, and the reload comes daily.
    pub(crate) daily: bool,
}

/// Reloads since the daemon started, by outcome: a failed one changed nothing, and an
/// operator (or an alert) should learn of it without reading the log.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct ReloadCounts {
    /// The new configuration runs.
    pub(crate) applied: u64,
    /// The file had not changed (certificates renewed, if any, count as applied).
    pub(crate) unchanged: u64,
    /// Refused: unreadable, invalid, or impossible on this host.
    pub(crate) failed: u64,
}

/// Dropped packets of one socket for one reason.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub(crate) struct ReceiveDropEntry {
    pub(crate) interface: String,
    /// `ipv4` or `ipv6`.
    pub(crate) family: String,
    /// `oversized`, `malformed`, `queue_full` or `kernel_overflow`.
    pub(crate) reason: String,
    pub(crate) count: u64,
}

/// The socket readers' drop counters, for [`Status::of`]. Process-wide because readers are
/// restarted on reload while the counts must go on, and because [`Status::of`] is what the
/// protocol loop calls after every input: counts reach `baton status` and the metrics with
/// the next input (at most an advert interval later) without a channel of their own.
#[derive(Debug, Default)]
pub(crate) struct ReceiveDrops {
    counters: Mutex<BTreeMap<SocketReason, Arc<AtomicU64>>>,
}

/// Interface, family, reason.
type SocketReason = (String, String, &'static str);

pub(crate) static RECEIVE_DROPS: ReceiveDrops = ReceiveDrops {
    counters: Mutex::new(BTreeMap::new()),
};

impl ReceiveDrops {
    /// The counter for one socket and reason, made on first use; a reader keeps it.
    pub(crate) fn counter(
        &self,
        interface: &str,
        family: &str,
        reason: &'static str,
    ) -> Arc<AtomicU64> {
        let mut counters = self.counters.lock().unwrap_or_else(|e| e.into_inner());
        let key = (interface.to_owned(), family.to_owned(), reason);
        Arc::clone(counters.entry(key).or_default())
    }

    fn snapshot(&self) -> Vec<ReceiveDropEntry> {
        let counters = self.counters.lock().unwrap_or_else(|e| e.into_inner());
        counters
            .iter()
            .map(|((interface, family, reason), count)| ReceiveDropEntry {
                interface: interface.clone(),
                family: family.clone(),
                reason: (*reason).to_owned(),
                count: count.load(Ordering::Relaxed),
            })
            .filter(|entry| entry.count > 0)
            .collect()
    }
}

/// One L4 virtual server as it is now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct VirtualServerEntry {
    pub(crate) name: String,
    /// `tcp`, `udp` or `sctp`.
    pub(crate) protocol: String,
    /// keepalived's `lb_algo` and `lb_kind`, as written there (`wlc`, `NAT`).
    pub(crate) lb_algo: String,
    pub(crate) lb_kind: String,
    /// The live real servers' weights reach `quorum` (with hysteresis).
    pub(crate) quorum_up: bool,
    /// Sum of the live real servers' weights, and the quorum it is measured against.
    pub(crate) live_weight: u64,
    pub(crate) quorum: u32,
    pub(crate) sorry_server: Option<String>,
    /// The sorry server takes the new flows (no quorum).
    pub(crate) sorry_active: bool,
    pub(crate) real_servers: Vec<RealServerEntry>,
}

/// One real server of a virtual server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct RealServerEntry {
    pub(crate) address: String,
    /// Takes new flows: checkers pass, ready, weight in the table above 0.
    pub(crate) up: bool,
    /// The weight in the data plane now (0: established flows only).
    pub(crate) weight: u32,
    /// The weight it has when up: configured, or set by a checker or the operator.
    pub(crate) configured_weight: u32,
    /// Connections in the kernel's connection tracking table (NAT); 0 for DR, which keeps
    /// no per-connection state.
    pub(crate) active: u64,
    /// `ready`, `drain` or `maint` (`baton server`).
    pub(crate) admin: String,
    /// The checkers' view: `up`, `down` or `unchecked` (no checker).
    pub(crate) check: String,
    /// The last checker result that changed the state, e.g. `TCP_CHECK: connect failed:
    /// Connection refused`.
    pub(crate) last_check: String,
    /// Its checkers' last probes as one result, shown as the proxy's servers show their
    /// last check: failed when one of them failed (the first such, with its reason and
    /// latency), else passed in the slowest one's time; null before any probe ran, and
    /// without checkers. Absent from older daemons' replies.
    #[serde(default)]
    pub(crate) last_probe: Option<CheckResult>,
    /// Since start: packets and bytes both ways, and new connections.
    pub(crate) packets: u64,
    pub(crate) bytes: u64,
    pub(crate) connections: u64,
}

/// One server of one frontend's backend, as it is now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct ServerEntry {
    pub(crate) backend: String,
    pub(crate) frontend: String,
    pub(crate) address: String,
    /// In rotation: ready (see `admin`), not ejected, not failed by health checks, weight above 0.
    pub(crate) up: bool,
    pub(crate) weight: u32,
    /// Requests in flight to it.
    pub(crate) active: u32,
    /// The health check's view: `up`, `down` or `unchecked`.
    pub(crate) check: String,
    /// Out of rotation for a back-off after consecutive failures.
    pub(crate) ejected: bool,
    /// The operator's state (`baton server`): `ready`, `drain` or `maint`.
    #[serde(default = "ready")]
    pub(crate) admin: String,
    /// What HAProxy's stats page shows of a server, counted since it was configured (a
    /// reload that keeps it keeps them). Absent from older daemons' replies.
    #[serde(flatten)]
    pub(crate) counters: ServerCounters,
}

/// One server's counters, as the status page shows them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct ServerCounters {
    /// Requests sent to it; a request retried elsewhere counts on each server it went to.
    #[serde(default)]
    pub(crate) requests: u64,
    /// Its answers by status class (`2xx`: 10), zero counts left out.
    #[serde(default)]
    pub(crate) responses: BTreeMap<String, u64>,
    /// The most requests in flight to it at once (HAProxy's maximum sessions).
    #[serde(default)]
    pub(crate) max_active: u64,
    /// Bytes from and to the server (response and request, heads included).
    #[serde(default)]
    pub(crate) bytes_in: u64,
    #[serde(default)]
    pub(crate) bytes_out: u64,
    #[serde(default)]
    pub(crate) errors: ServerErrors,
    /// Failed attempts sent again (to another server, or on a fresh connection).
    #[serde(default)]
    pub(crate) retries: u64,
    /// The last health check probe; null when none ran.
    #[serde(default)]
    pub(crate) last_check: Option<CheckResult>,
}

/// A server's errors by class.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct ServerErrors {
    /// No connection could be made.
    pub(crate) connect: u64,
    /// 5xx answers the server itself sent.
    pub(crate) status_5xx: u64,
    /// No answer within the upstream timeout.
    pub(crate) timeouts: u64,
}

/// One health check probe's result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct CheckResult {
    pub(crate) passed: bool,
    /// Why it failed; empty when it passed.
    pub(crate) failure: String,
    /// From the probe's start to its result, in microseconds.
    pub(crate) latency_us: u64,
}

impl ServerCounters {
    fn of(metrics: &baton_proxy::ServerMetrics) -> ServerCounters {
        let responses = baton_proxy::STATUS_CLASSES
            .iter()
            .zip(metrics.responses)
            .filter(|&(_, count)| count > 0)
            .map(|(class, count)| ((*class).to_owned(), count))
            .collect();
        ServerCounters {
            requests: metrics.requests,
            responses,
            max_active: metrics.max_active,
            bytes_in: metrics.bytes_in,
            bytes_out: metrics.bytes_out,
            errors: ServerErrors {
                connect: metrics.connect_errors,
                status_5xx: metrics.responses[4],
                timeouts: metrics.timeouts,
            },
            retries: metrics.retries,
            last_check: metrics.last_check.as_ref().map(|check| {
                let failure = (!check.passed).then(|| check.failure.clone());
                CheckResult::new(failure, check.latency)
            }),
        }
    }
}

impl CheckResult {
    /// A probe that failed for `failure` (passed when None), after `latency`.
    pub(crate) fn new(failure: Option<String>, latency: Duration) -> CheckResult {
        CheckResult {
            passed: failure.is_none(),
            failure: failure.unwrap_or_default(),
            latency_us: u64::try_from(latency.as_micros()).unwrap_or(u64::MAX),
        }
    }
}

fn ready() -> String {
    baton_proxy::AdminState::Ready.as_str().to_owned()
}

impl ServerEntry {
    /// The servers of one running proxy.
    pub(crate) fn of(
        frontend: &str,
        backend: &str,
        proxy: &baton_proxy::Proxy,
    ) -> Vec<ServerEntry> {
        // Two copies, taken one after the other: a reload in between may change the set,
        // so counters are matched by position and address, and left empty otherwise.
        let metrics = proxy.metrics().servers;
        proxy
            .servers()
            .into_iter()
            .enumerate()
            .map(|(index, server)| ServerEntry {
                counters: metrics
                    .get(index)
                    .filter(|m| m.address == server.address)
                    .map(ServerCounters::of)
                    .unwrap_or_default(),
                backend: backend.to_owned(),
                frontend: frontend.to_owned(),
                address: server.address.to_string(),
                up: server.up,
                weight: server.weight,
                active: server.active,
                check: match server.check {
                    baton_proxy::CheckState::Up => "up",
                    baton_proxy::CheckState::Down => "down",
                    _ => "unchecked",
                }
                .to_owned(),
                ejected: server.ejected,
                admin: server.admin.as_str().to_owned(),
            })
            .collect()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct InstanceStatus {
    pub(crate) name: String,
    pub(crate) vrid: u8,
    pub(crate) interface: String,
    /// `INIT`, `BACKUP`, `MASTER` or `FAULT`.
    pub(crate) state: String,
    /// Configured priority.
    pub(crate) priority: u8,
    pub(crate) effective_priority: u8,
    /// The current master as seen, or null.
    pub(crate) master: Option<String>,
    pub(crate) vips: Vec<String>,
    pub(crate) transitions: u64,
    /// Stepped down by `baton instance step-down`: never master until resumed.
    #[serde(default)]
    pub(crate) maintenance: bool,
    pub(crate) adverts_sent: u64,
    pub(crate) adverts_received: u64,
    /// Dropped packets by reason (`ttl`, `checksum`, `auth`, ...), zero counts left out.
    pub(crate) dropped: BTreeMap<String, u64>,
    /// What holds it in FAULT (`source address 10.0.3.2 not on eth0`, `interface eth1
    /// down`), empty otherwise.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub(crate) faults: Vec<String>,
}

/// Non-zero drop counts by the engine's reason.
fn dropped_by_reason(stats: &baton_vrrp::Stats) -> BTreeMap<String, u64> {
    baton_vrrp::DropReason::ALL
        .iter()
        .map(|&reason| (reason.as_str().to_owned(), stats.dropped(reason)))
        .filter(|&(_, count)| count > 0)
        .collect()
}

impl Status {
    /// The engine's view, as operators read it.
    pub(crate) fn of(router: &baton_vrrp::Router) -> Status {
        let vrrp = router
            .instances()
            .map(|(_, instance)| {
                let config = instance.config();
                let stats = instance.stats();
                let dropped = dropped_by_reason(stats);
                InstanceStatus {
                    name: config.name.clone(),
                    vrid: config.vrid.get(),
                    interface: config.interface.clone(),
                    state: instance.state().as_str().to_owned(),
                    priority: config.priority.get(),
                    effective_priority: instance.effective_priority().get(),
                    master: instance.master().map(|m| m.to_string()),
                    vips: config
                        .virtual_addresses
                        .iter()
                        .map(ToString::to_string)
                        .collect(),
                    transitions: stats.transitions,
                    maintenance: instance.maintenance(),
                    adverts_sent: stats.adverts_sent,
                    adverts_received: stats.adverts_received,
                    dropped,
                    faults: Vec::new(),
                }
            })
            .collect();
        let unclaimed = router.unclaimed_stats();
        Status {
            vrrp,
            backends: Vec::new(),
            virtual_servers: Vec::new(),
            vrrp_receive_dropped: RECEIVE_DROPS.snapshot(),
            vrrp_unclaimed_dropped: dropped_by_reason(unclaimed),
            reloads: ReloadCounts::default(),
            bfd: Vec::new(),
            scheduled_reload: None,
            conn_sync: crate::conn_sync_status::snapshot(),
            anycast: crate::anycast_status::snapshot(),
        }
    }

    /// Tables for people.
    pub(crate) fn render(&self) -> String {
        let instances: Vec<Vec<String>> = self
            .vrrp
            .iter()
            .map(|i| {
                let dropped: Vec<String> =
                    i.dropped.iter().map(|(r, n)| format!("{r}={n}")).collect();
                vec![
                    i.name.clone(),
                    i.vrid.to_string(),
                    i.interface.clone(),
                    if i.maintenance {
                        format!("{} (stepped down)", i.state)
                    } else if !i.faults.is_empty() {
                        format!("{} ({})", i.state, i.faults.join(", "))
                    } else {
                        i.state.clone()
                    },
                    i.priority.to_string(),
                    i.effective_priority.to_string(),
                    i.master.clone().unwrap_or_else(|| "-".into()),
                    i.vips.join(","),
                    i.transitions.to_string(),
                    if dropped.is_empty() {
                        "0".into()
                    } else {
                        dropped.join(",")
                    },
                ]
            })
            .collect();
        let mut out = String::from("VRRP instances\n");
        out.push_str(&table(
            &[
                "NAME",
                "VRID",
                "IFACE",
                "STATE",
                "PRIO",
                "EFFECTIVE",
                "MASTER",
                "VIPS",
                "TRANSITIONS",
                "DROPPED",
            ],
            &instances,
        ));
        if let Some(line) = self.render_receive_drops() {
            out.push_str(&line);
        }
        if let Some(sync) = &self.conn_sync {
            out.push_str(&crate::conn_sync_status::render(sync));
        }
        out.push_str(&crate::anycast_status::render(&self.anycast));
        if let Some(reload) = &self.scheduled_reload {
            let daily = if reload.daily { ", then daily" } else { "" };
            out.push_str(&format!(
                "  reload scheduled for {} by {}{daily}\n",
                reload.at, reload.file
            ));
        }
        if !self.backends.is_empty() {
            let servers: Vec<Vec<String>> = self
                .backends
                .iter()
                .map(|s| {
                    vec![
                        s.frontend.clone(),
                        s.backend.clone(),
                        s.address.clone(),
                        if s.up { "UP" } else { "DOWN" }.to_owned(),
                        s.admin.clone(),
                        s.check.clone(),
                        if s.ejected { "yes" } else { "no" }.to_owned(),
                        s.weight.to_string(),
                        s.active.to_string(),
                    ]
                })
                .collect();
            out.push_str("\nBackend servers\n");
            out.push_str(&table(
                &[
                    "FRONTEND", "BACKEND", "ADDRESS", "STATE", "ADMIN", "CHECK", "EJECTED",
                    "WEIGHT", "ACTIVE",
                ],
                &servers,
            ));
        }
        if !self.virtual_servers.is_empty() {
            out.push_str("\nVirtual servers (L4)\n");
            out.push_str(&self.render_virtual_servers());
        }
        if !self.bfd.is_empty() {
            out.push_str("\nBFD sessions\n");
            out.push_str(&crate::bfd_status::render(&self.bfd));
        }
        out
    }

    /// One line for the VRRP packets no instance saw, when there are any.
    fn render_receive_drops(&self) -> Option<String> {
        let sockets = self
            .vrrp_receive_dropped
            .iter()
            .map(|d| format!("{}={} ({} {})", d.reason, d.count, d.interface, d.family));
        let unclaimed = self
            .vrrp_unclaimed_dropped
            .iter()
            .map(|(reason, count)| format!("{reason}={count} (no instance)"));
        let all: Vec<String> = sockets.chain(unclaimed).collect();
        (!all.is_empty()).then(|| format!("  dropped before any instance: {}\n", all.join(", ")))
    }

    fn render_virtual_servers(&self) -> String {
        let mut rows = Vec::new();
        for vs in &self.virtual_servers {
            let service = format!("{} {}/{}", vs.name, vs.lb_algo, vs.lb_kind);
            let quorum = format!(
                "{} {}/{}",
                if vs.quorum_up { "UP" } else { "DOWN" },
                vs.live_weight,
                vs.quorum
            );
            for rs in &vs.real_servers {
                rows.push(vec![
                    service.clone(),
                    quorum.clone(),
                    rs.address.clone(),
                    if rs.up { "UP" } else { "DOWN" }.to_owned(),
                    rs.admin.clone(),
                    rs.check.clone(),
                    format!("{}/{}", rs.weight, rs.configured_weight),
                    rs.active.to_string(),
                    rs.connections.to_string(),
                ]);
            }
            if let Some(address) = &vs.sorry_server {
                let state = if vs.sorry_active { "ACTIVE" } else { "standby" };
                let mut row = vec![
                    service.clone(),
                    quorum.clone(),
                    format!("{address} (sorry)"),
                    state.to_owned(),
                ];
                row.extend(std::iter::repeat_n("-".to_owned(), 5));
                rows.push(row);
            }
        }
        table(
            &[
                "SERVICE",
                "QUORUM",
                "REAL SERVER",
                "STATE",
                "ADMIN",
                "CHECK",
                "WEIGHT",
                "ACTIVE",
                "CONNS",
            ],
            &rows,
        )
    }
}

/// Left-aligned columns as wide as their widest cell, indented by two spaces.
fn table(header: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = header.iter().map(|h| h.len()).collect();
    for row in rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.len());
        }
    }
    let line = |cells: &mut dyn Iterator<Item = &str>| {
        let padded: Vec<String> = cells
            .zip(&widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect();
        format!("  {}\n", padded.join("  ").trim_end())
    };
    let mut out = line(&mut header.iter().copied());
    for row in rows {
        out.push_str(&line(&mut row.iter().map(String::as_str)));
    }
    if rows.is_empty() {
        out.push_str("  (none)\n");
    }
    out
}

/// An instance for other modules' tests: `name` in `state`, priority 150 lowered to 130, two
/// packets dropped for `auth`.
#[cfg(test)]
impl InstanceStatus {
    pub(crate) fn example(name: &str, state: &str) -> InstanceStatus {
        InstanceStatus {
            name: name.into(),
            vrid: 51,
            interface: "eth0".into(),
            state: state.into(),
            priority: 150,
            effective_priority: 130,
            master: None,
            vips: vec!["10.0.3.100".into()],
            transitions: 3,
            adverts_sent: 40,
            adverts_received: 7,
            dropped: BTreeMap::from([("auth".into(), 2)]),
            faults: Vec::new(),
            maintenance: false,
        }
    }
}

/// A virtual server for other modules' tests: one real server up, a sorry server on standby.
#[cfg(test)]
impl VirtualServerEntry {
    pub(crate) fn example() -> VirtualServerEntry {
        VirtualServerEntry {
            name: "10.0.3.100:80/tcp".into(),
            protocol: "tcp".into(),
            lb_algo: "wlc".into(),
            lb_kind: "NAT".into(),
            quorum_up: true,
            live_weight: 1,
            quorum: 1,
            sorry_server: Some("10.0.3.13:80".into()),
            sorry_active: false,
            real_servers: vec![RealServerEntry {
                address: "10.0.3.11:80".into(),
                up: true,
                weight: 1,
                configured_weight: 1,
                active: 4,
                admin: "ready".into(),
                check: "up".into(),
                last_check: "TCP_CHECK: connected".into(),
                last_probe: Some(CheckResult::new(None, Duration::from_micros(420))),
                packets: 10,
                bytes: 1000,
                connections: 5,
            }],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Status {
        Status {
            vrrp: vec![InstanceStatus {
                name: "VI_1".into(),
                vrid: 51,
                interface: "eth0".into(),
                state: "MASTER".into(),
                priority: 150,
                effective_priority: 130,
                master: Some("10.0.3.6".into()),
                vips: vec!["10.0.3.100".into()],
                transitions: 2,
                maintenance: true,
                adverts_sent: 10,
                adverts_received: 0,
                dropped: BTreeMap::from([("ttl".into(), 3)]),
                faults: Vec::new(),
            }],
            backends: vec![ServerEntry {
                backend: "app".into(),
                frontend: "web".into(),
                address: "10.0.3.11:8080".into(),
                up: false,
                weight: 2,
                active: 0,
                check: "down".into(),
                ejected: false,
                admin: "drain".into(),
                counters: ServerCounters {
                    requests: 12,
                    responses: BTreeMap::from([("2xx".into(), 9), ("5xx".into(), 1)]),
                    max_active: 3,
                    bytes_in: 5000,
                    bytes_out: 800,
                    errors: ServerErrors {
                        connect: 2,
                        status_5xx: 1,
                        timeouts: 0,
                    },
                    retries: 2,
                    last_check: Some(CheckResult {
                        passed: false,
                        failure: "connect failed: Connection refused".into(),
                        latency_us: 250,
                    }),
                },
            }],
            virtual_servers: vec![VirtualServerEntry::example()],
            vrrp_receive_dropped: vec![ReceiveDropEntry {
                interface: "eth0".into(),
                family: "ipv4".into(),
                reason: "oversized".into(),
                count: 7,
            }],
            vrrp_unclaimed_dropped: BTreeMap::from([("vrid".into(), 2)]),
            reloads: ReloadCounts {
                applied: 3,
                unchanged: 1,
                failed: 2,
            },
            bfd: Vec::new(),
            scheduled_reload: Some(ScheduledReload {
                at: "2026-12-03T18:00:00+01:00".into(),
                file: "/run/keepalived/reload_at".into(),
                daily: true,
            }),
            conn_sync: None,
            anycast: Vec::new(),
        }
    }

    #[test]
    fn a_scheduled_reload_is_shown() {
        let text = sample().render();
        assert!(
            text.contains(
                "reload scheduled for 2026-12-03T18:00:00+01:00 by /run/keepalived/reload_at, then daily"
            ),
            "{text}"
        );
        assert!(!Status::default().render().contains("reload scheduled"));
        let json = serde_json::to_value(sample()).expect("serializes");
        assert_eq!(
            json["scheduled_reload"]["file"],
            "/run/keepalived/reload_at"
        );
    }

    #[test]
    fn reload_counts_are_in_the_json() {
        let json = serde_json::to_value(sample()).expect("serializes");
        assert_eq!(json["reloads"]["failed"], 2);
        assert_eq!(json["reloads"]["applied"], 3);
        // A status from an older daemon, without them, still reads.
        let mut old = json;
        old.as_object_mut().expect("object").remove("reloads");
        let read: Status = serde_json::from_value(old).expect("deserializes");
        assert_eq!(read.reloads, ReloadCounts::default());
    }

    #[test]
    fn drops_before_any_instance_are_shown() {
        let text = sample().render();
        assert!(
            text.contains(
                "dropped before any instance: oversized=7 (eth0 ipv4), vrid=2 (no instance)"
            ),
            "{text}"
        );
        assert!(!Status::default().render().contains("dropped before"));
        let json = serde_json::to_value(sample()).expect("serializes");
        assert_eq!(json["vrrp_receive_dropped"][0]["reason"], "oversized");
        assert_eq!(json["vrrp_unclaimed_dropped"]["vrid"], 2);
    }

    #[test]
    fn receive_drop_counters_are_kept_per_socket_and_reason() {
        let drops = ReceiveDrops::default();
        drops
            .counter("eth9", "ipv4", "oversized")
            .fetch_add(2, Ordering::Relaxed);
        drops
            .counter("eth9", "ipv4", "oversized")
            .fetch_add(1, Ordering::Relaxed);
        drops.counter("eth9", "ipv6", "malformed");
        let snapshot = drops.snapshot();
        assert_eq!(snapshot.len(), 1, "zero counts are left out: {snapshot:?}");
        assert_eq!(snapshot[0].count, 3);
    }

    #[test]
    fn json_has_the_stable_field_names() {
        let json = serde_json::to_value(sample()).expect("serializes");
        let instance = &json["vrrp"][0];
        for field in [
            "name",
            "vrid",
            "interface",
            "state",
            "priority",
            "effective_priority",
            "master",
            "vips",
            "transitions",
            "maintenance",
        ] {
            assert!(instance.get(field).is_some(), "missing {field}: {json}");
        }
        assert_eq!(instance["state"], "MASTER");
        assert_eq!(instance["dropped"]["ttl"], 3);
        let server = &json["backends"][0];
        for field in ["backend", "address", "up", "weight", "active", "admin"] {
            assert!(server.get(field).is_some(), "missing {field}: {json}");
        }
        assert_eq!(server["up"], false);
        let real = &json["virtual_servers"][0]["real_servers"][0];
        for field in ["address", "up", "weight", "active", "admin", "check"] {
            assert!(real.get(field).is_some(), "missing {field}: {json}");
        }
        assert_eq!(json["virtual_servers"][0]["quorum_up"], true);
        assert_eq!(server["admin"], "drain");
        assert_eq!(instance["maintenance"], true);
    }

    #[test]
    fn server_counters_sit_beside_the_state_and_old_replies_read_without_them() {
        let json = serde_json::to_value(sample()).expect("serializes");
        let server = &json["backends"][0];
        assert_eq!(server["requests"], 12);
        assert_eq!(server["responses"]["2xx"], 9);
        assert_eq!(server["max_active"], 3);
        assert_eq!(server["bytes_in"], 5000);
        assert_eq!(server["bytes_out"], 800);
        assert_eq!(server["errors"]["connect"], 2);
        assert_eq!(server["errors"]["status_5xx"], 1);
        assert_eq!(server["retries"], 2);
        assert_eq!(server["last_check"]["passed"], false);
        assert_eq!(server["last_check"]["latency_us"], 250);
        let read: Status = serde_json::from_value(json.clone()).expect("reads");
        assert_eq!(read, sample());

        let mut old = json;
        let fields = old["backends"][0].as_object_mut().expect("object");
        for field in [
            "requests",
            "responses",
            "max_active",
            "bytes_in",
            "bytes_out",
            "errors",
            "retries",
            "last_check",
        ] {
            fields.remove(field);
        }
        let read: Status = serde_json::from_value(old).expect("reads");
        assert_eq!(read.backends[0].counters, ServerCounters::default());
    }

    #[test]
    fn a_real_server_s_last_probe_reads_as_a_proxy_server_s_last_check() {
        let json = serde_json::to_value(sample()).expect("serializes");
        let real = &json["virtual_servers"][0]["real_servers"][0];
        assert_eq!(real["last_check"], "TCP_CHECK: connected", "kept: {real}");
        assert_eq!(
            real["last_probe"],
            serde_json::json!({"passed": true, "failure": "", "latency_us": 420})
        );
        let failed = CheckResult::new(Some("connect failed".into()), Duration::from_millis(2));
        assert_eq!((failed.passed, failed.latency_us), (false, 2000));

        let mut old = json;
        let fields = old["virtual_servers"][0]["real_servers"][0]
            .as_object_mut()
            .expect("object");
        fields.remove("last_probe");
        let read: Status = serde_json::from_value(old).expect("reads");
        assert_eq!(read.virtual_servers[0].real_servers[0].last_probe, None);
    }

    #[test]
    fn what_holds_an_instance_in_fault_is_shown() {
        let mut status = sample();
        assert!(
            !serde_json::to_string(&status)
                .expect("json")
                .contains("faults")
        );
        status.vrrp[0].maintenance = false;
        status.vrrp[0].state = "FAULT".into();
        status.vrrp[0].faults = vec!["source address 10.0.3.2 not on eth0".into()];
        assert!(
            status
                .render()
                .contains("FAULT (source address 10.0.3.2 not on eth0)"),
            "{}",
            status.render()
        );
        let json = serde_json::to_value(&status).expect("serializes");
        assert_eq!(
            json["vrrp"][0]["faults"][0],
            "source address 10.0.3.2 not on eth0"
        );
    }

    #[test]
    fn replies_of_older_daemons_still_read() {
        let mut json = serde_json::to_value(sample()).expect("serializes");
        json["vrrp"][0]
            .as_object_mut()
            .expect("object")
            .remove("maintenance");
        json["backends"][0]
            .as_object_mut()
            .expect("object")
            .remove("admin");
        let status: Status = serde_json::from_value(json).expect("reads");
        assert!(!status.vrrp[0].maintenance);
        assert_eq!(status.backends[0].admin, "ready");
    }

    #[test]
    fn table_shows_each_instance() {
        let table = sample().render();
        assert!(
            table.contains("VI_1")
                && table.contains("MASTER (stepped down)")
                && table.contains("ttl=3"),
            "{table}"
        );
        assert!(
            table.contains("10.0.3.11:8080") && table.contains("DOWN") && table.contains("drain"),
            "{table}"
        );
        assert!(
            table.contains("10.0.3.100:80/tcp wlc/NAT")
                && table.contains("UP 1/1")
                && table.contains("10.0.3.13:80 (sorry)")
                && table.contains("standby"),
            "{table}"
        );
        assert!(Status::default().render().contains("(none)"));
        assert!(!Status::default().render().contains("Backend servers"));
    }
}
