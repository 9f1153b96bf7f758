//! A service as `baton status`, the status page and the metrics show it.

use super::applier::Counters;
use super::pool::{self, ServerState};
use super::{Service, table};
use crate::status::{RealServerEntry, VirtualServerEntry};

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
