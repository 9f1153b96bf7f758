//! A service as `baton status`, the status page and the metrics show it.

use super::applier::Counters;
use super::pool::{self, ServerState};
use super::{Service, table};
use crate::status::{CheckResult, RealServerEntry, VirtualServerEntry};

/// One service as `baton status` shows it.
pub(super) fn entry(service: &Service, counters: &Counters) -> VirtualServerEntry {
    let config = &service.config;
    let states: Vec<ServerState> = service.servers.iter().map(|s| s.state.clone()).collect();
    let has_sorry = config.sorry_server.is_some();
    let members = pool::members(&states, service.quorum.is_up(), has_sorry);
    let real_servers = service
        .servers
        .iter()
        .map(|server| {
            let address = server.state.address;
            let weight = members
                .iter()
                .find(|m| m.address == address)
                .map_or(0, |m| m.weight);
            let count = counters.get(&config.name, address);
            let check = if server.config.checkers.is_empty() {
                "unchecked"
            } else if server.state.alive() {
                "up"
            } else {
                "down"
            };
            RealServerEntry {
                address: address.to_string(),
                up: weight > 0,
                weight,
                configured_weight: server.state.weight(),
                active: count.active,
                admin: server.state.admin.as_str().to_owned(),
                check: check.to_owned(),
                last_check: server.last.join("; "),
                last_probe: combined(server.checks.iter().filter_map(|c| c.last_probe())),
                packets: count.packets,
                bytes: count.bytes,
                connections: count.connections,
            }
        })
        .collect();
    VirtualServerEntry {
        name: config.name.clone(),
        protocol: config.protocol.as_str().to_owned(),
        lb_algo: config.lb_algo.as_str().to_owned(),
        lb_kind: table::kind_name(config.lb_kind).to_owned(),
        quorum_up: service.quorum.is_up(),
        live_weight: pool::live_weight(&states),
        quorum: config.quorum,
        sorry_server: config.sorry_server.as_ref().map(|s| s.address.to_string()),
        sorry_active: has_sorry && members.iter().all(|m| m.weight == 0),
        real_servers,
    }
}

/// A server's checkers' last probes as one result: the first that failed, else the slowest;
/// None when none ran.
fn combined(probes: impl Iterator<Item = CheckResult>) -> Option<CheckResult> {
    probes.reduce(|kept, next| match (kept.passed, next.passed) {
        (true, false) => next,
        (true, true) if next.latency_us > kept.latency_us => next,
        _ => kept,
    })
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn probe(failure: Option<&str>, ms: u64) -> CheckResult {
        CheckResult::new(failure.map(str::to_owned), Duration::from_millis(ms))
    }

    #[test]
    fn a_failed_probe_wins_else_the_slowest_shows() {
        assert_eq!(combined(std::iter::empty()), None);
        let passed = [probe(None, 1), probe(None, 3), probe(None, 2)];
        assert_eq!(combined(passed.into_iter()), Some(probe(None, 3)));
        let mixed = [
            probe(None, 9),
            probe(Some("connect failed"), 2),
            probe(Some("timed out"), 5),
        ];
        assert_eq!(
            combined(mixed.into_iter()),
            Some(probe(Some("connect failed"), 2))
        );
    }
}
