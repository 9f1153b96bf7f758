//! What connection sync ([`ConnSync`]) takes from the rest of the configuration: the VRRP
//! instances it follows, the servers whose flows it carries, and the checks that they agree.

use std::net::IpAddr;

use crate::conn_sync::{ConnSync, SyncTransport};
use crate::diagnostic::Diagnostics;
use crate::model::Config;
use crate::virtual_server::{LbKind, ServiceMatch};

impl ConnSync {
    /// The instances whose state decides this host's role, in configuration order.
    pub fn followed(&self, config: &Config) -> Vec<String> {
        if !self.instances.is_empty() {
            return self.instances.clone();
        }
        let nat: Vec<&ServiceMatch> = config
            .virtual_servers
            .iter()
            .filter(|vs| vs.lb_kind == LbKind::Nat)
            .flat_map(|vs| &vs.matches)
            .collect();
        config
            .instances
            .iter()
            .filter(|i| {
                i.all_addresses()
                    .any(|a| nat.iter().any(|m| holds(m, a.address)))
            })
            .map(|i| i.name.clone())
            .collect()
    }

    /// The addresses whose flows are synced: the NAT services' real and sorry servers (the
    /// reply source of every NAT flow, which conntrackd's address filter looks at).
    pub fn servers(config: &Config) -> Vec<IpAddr> {
        let mut servers: Vec<IpAddr> = config
            .virtual_servers
            .iter()
            .filter(|vs| vs.lb_kind == LbKind::Nat)
            .flat_map(|vs| {
                vs.real_servers
                    .iter()
                    .map(|rs| rs.address.ip())
                    .chain(vs.sorry_server.iter().map(|s| s.address.ip()))
            })
            .collect();
        servers.sort();
        servers.dedup();
        servers
    }
}

fn holds(m: &ServiceMatch, address: IpAddr) -> bool {
    match *m {
        ServiceMatch::Address(vip) => vip.ip() == address,
        ServiceMatch::Range { first, last, .. } => first <= address && address <= last,
        _ => false,
    }
}

/// What `conn_sync` must agree on with the rest of the configuration.
pub(crate) fn check(config: &Config, d: &mut Diagnostics) {
    let Some(sync) = &config.global.conn_sync else {
        return;
    };
    let at = &sync.location;
    if sync.interface.is_empty() || sync.interface.len() > 15 {
        d.error(
            at,
            format!(
                "conn_sync: interface '{}' is not an interface name (1 to 15 characters)",
                sync.interface
            ),
        );
    }
    match sync.transport {
        SyncTransport::Multicast { group, .. } if !matches!(group, IpAddr::V4(g) if g.is_multicast()) =>
        {
            d.error(
                at,
                format!(
                    "conn_sync: group {group} is not an IPv4 multicast address (conntrackd's multicast channel is IPv4 only; use peer for unicast)"
                ),
            );
        }
        _ => {}
    }
    for name in &sync.instances {
        if !config.instances.iter().any(|i| &i.name == name) {
            d.error(at, format!("conn_sync: no vrrp instance named {name}"));
        }
    }
    let nat = config
        .virtual_servers
        .iter()
        .any(|vs| vs.lb_kind == LbKind::Nat);
    if !nat {
        d.warn(
            at,
            "conn_sync: no NAT virtual server, so there is nothing to synchronise (DR flows need no state)",
        );
    } else if sync.instances.is_empty() && sync.followed(config).is_empty() {
        d.error(
            at,
            "conn_sync: no vrrp instance holds a NAT virtual server's address; name the instance whose state decides the primary (instance = [...])",
        );
    }
}
