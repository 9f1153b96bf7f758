//! Persistence entries rebuilt from conntrack, for a load balancer that just took over.
//!
//! A NAT service's persistence entries (client address, masked to the granularity ->
//! server) live in an nf_tables map of the host that made them. Connection sync
//! (conntrackd) carries conntrack entries, not map elements: after a takeover the new
//! master holds the old master's flows but no persistence entry, so a persistent client's
//! next connection would be scheduled anew. Each synced flow says which server its client
//! was given; those pairs become the new master's entries (with the map's timeout, from
//! now), for the servers that still take new flows. Clients that have an entry already
//! keep it.

use std::collections::{BTreeMap, BTreeSet};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use super::{DataPlane, is_dr};
use crate::conntrack::{self, Flow};
use crate::error::Error;
use crate::model::{Family, Service};
use crate::nft_json;
use crate::render;

impl DataPlane {
    /// Adds a persistence entry for the client of every flow in conntrack that a NAT
    /// service with persistence holds (a synced flow after a takeover), unless the client
    /// has one. Returns how many were added. Without the conntrack tool, none.
    pub async fn restore_persistence(&self) -> Result<usize, Error> {
        let Some(installed) = &self.installed else {
            return Ok(0);
        };
        let table = &installed.table;
        let mut script = String::new();
        let mut added = 0;
        for (service, id) in table.services.iter().zip(render::service_ids(table)) {
            if is_dr(service) || service.persistence.is_none() {
                continue;
            }
            let family = match service.family {
                Family::Ipv4 => "ipv4",
                Family::Ipv6 => "ipv6",
            };
            let mut flows = Vec::new();
            for filter in conntrack::original_filters(service) {
                let mut args = vec!["-L", "-f", family, "-p", service.protocol.keyword()];
                args.extend(filter.iter().map(String::as_str));
                match self.runner.conntrack(&args).await {
                    Ok(text) => flows.extend(conntrack::parse(&text)),
                    Err(Error::Spawn { .. }) => return Ok(0),
                    Err(error) => return Err(error),
                }
            }
            let map = format!("{id}_persist");
            let existing = match self
                .runner
                .nft_json(&["list", "map", "inet", &self.name, &map])
                .await
            {
                Ok(json) => nft_json::map_entries(&json),
                Err(Error::Nft { .. }) => continue,
                Err(other) => return Err(other),
            };
            let elements = entries(service, &flows, &existing);
            if !elements.is_empty() {
                added += elements.len();
                script.push_str(&format!(
                    "add element inet {} {map} {{ {} }}\n",
                    self.name,
                    elements.join(", ")
                ));
            }
        }
        if !script.is_empty() {
            self.runner.nft_script(&script).await?;
        }
        Ok(added)
    }
}

/// The map elements (`client : server`) for `flows` of `service` whose client has no
/// entry in `existing` (the map's elements as nft lists them), one per client: the first
/// flow's server, when it still takes new flows.
fn entries(service: &Service, flows: &[Flow], existing: &[(String, String)]) -> Vec<String> {
    let Some(persistence) = service.persistence else {
        return Vec::new();
    };
    let taken: BTreeSet<&str> = existing.iter().map(|(client, _)| client.as_str()).collect();
    let live: Vec<SocketAddr> = service.eligible().map(|b| b.address).collect();
    let with_port = !service.all_ports();
    let mut chosen: BTreeMap<IpAddr, SocketAddr> = BTreeMap::new();
    for flow in flows {
        let Some(server) = live.iter().find(|s| flow.belongs_to(service, **s)) else {
            continue;
        };
        let client = masked(flow.original_src, persistence.granularity);
        if !taken.contains(client.to_string().as_str()) {
            chosen.entry(client).or_insert(*server);
        }
    }
    chosen
        .into_iter()
        .map(|(client, server)| format!("{client} : {}", render::server_element(server, with_port)))
        .collect()
}

/// `address` with only its first `prefix` bits, as the persistence rule masks it.
fn masked(address: IpAddr, prefix: u8) -> IpAddr {
    match address {
        IpAddr::V4(a) => {
            let bits = u32::from(prefix.min(32));
            let mask = u32::MAX.checked_shl(32 - bits).unwrap_or(0);
            IpAddr::V4(Ipv4Addr::from(u32::from(a) & mask))
        }
        IpAddr::V6(a) => {
            let bits = u32::from(prefix.min(128));
            let mask = u128::MAX.checked_shl(128 - bits).unwrap_or(0);
            IpAddr::V6(Ipv6Addr::from(u128::from(a) & mask))
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::model::{Backend, Forwarding, Match, Persistence, Protocol, Scheduler};

    fn service(granularity: u8) -> Service {
        let backend = |address: &str| Backend {
            address: address.parse().expect("address"),
            weight: 1,
            active_connections: 0,
            uthreshold: 0,
        };
        Service {
            name: "web".into(),
            matches: vec![Match::Address("10.0.3.100:80".parse().expect("vip"))],
            protocol: Protocol::Tcp,
            family: Family::Ipv4,
            forwarding: Forwarding::Nat { snat: false },
            scheduler: Scheduler::Rr,
            hash_port: false,
            persistence: Some(Persistence {
                timeout: Duration::from_secs(300),
                granularity,
            }),
            backends: vec![backend("10.0.3.11:8080"), backend("10.0.3.12:8080")],
            fallback: None,
        }
    }

    const FLOWS: &str = "\
tcp      6 431999 ESTABLISHED src=10.0.5.50 dst=10.0.3.100 sport=40000 dport=80 src=10.0.3.11 dst=10.0.5.50 sport=8080 dport=40000 [ASSURED] mark=0 use=1
tcp      6 431999 ESTABLISHED src=10.0.5.50 dst=10.0.3.100 sport=40001 dport=80 src=10.0.3.11 dst=10.0.5.50 sport=8080 dport=40001 [ASSURED] mark=0 use=1
tcp      6 120 TIME_WAIT src=10.0.5.51 dst=10.0.3.100 sport=40002 dport=80 src=10.0.3.12 dst=10.0.5.51 sport=8080 dport=40002 [ASSURED] mark=0 use=1
tcp      6 431999 ESTABLISHED src=10.0.5.52 dst=10.0.3.100 sport=40003 dport=443 src=10.0.3.12 dst=10.0.5.52 sport=8443 dport=40003 [ASSURED] mark=0 use=1
";

    #[test]
    fn each_client_of_a_synced_flow_gets_its_server() {
        let flows = conntrack::parse(FLOWS);
        assert_eq!(
            entries(&service(32), &flows, &[]),
            [
                "10.0.5.50 : 10.0.3.11 . 8080",
                "10.0.5.51 : 10.0.3.12 . 8080"
            ]
        );
        // A /24 granularity: one entry for the whole subnet, the first flow's server.
        assert_eq!(
            entries(&service(24), &flows, &[]),
            ["10.0.5.0 : 10.0.3.11 . 8080"]
        );
        // A client with an entry keeps it.
        let existing = [("10.0.5.50".to_owned(), "10.0.3.12 . 8080".to_owned())];
        assert_eq!(
            entries(&service(32), &flows, &existing),
            ["10.0.5.51 : 10.0.3.12 . 8080"]
        );
        // A server that takes no new flows gets no new client.
        let mut drained = service(32);
        drained.backends[0].weight = 0;
        assert_eq!(
            entries(&drained, &flows, &[]),
            ["10.0.5.51 : 10.0.3.12 . 8080"]
        );
    }

    #[test]
    fn masks_to_the_granularity() {
        let ip = |s: &str| s.parse::<IpAddr>().expect("ip");
        assert_eq!(masked(ip("10.0.5.77"), 24), ip("10.0.5.0"));
        assert_eq!(masked(ip("10.0.5.77"), 32), ip("10.0.5.77"));
        assert_eq!(masked(ip("10.0.5.77"), 0), ip("0.0.0.0"));
        assert_eq!(masked(ip("2001:db8::1:2"), 64), ip("2001:db8::"));
    }
}
