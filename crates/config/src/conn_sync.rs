//! Connection sync: conntrackd (the netfilter project's daemon) in its FTFW mode, which
//! carries the NAT virtual servers' conntrack entries to the other load balancers, so that
//! established flows survive a failover. baton.toml's `[conn_sync]`; keepalived.conf's
//! `lvs_sync_daemon` maps onto it (IPVS's own sync has no nf_tables counterpart).

use std::net::{IpAddr, Ipv4Addr};
use std::path::PathBuf;

use crate::diagnostic::{Diagnostics, Location};
use crate::model::Config;
use crate::virtual_server::{LbKind, ServiceMatch};

/// conntrackd's own default multicast group and port (its example configuration's).
pub(crate) const DEFAULT_GROUP: IpAddr = IpAddr::V4(Ipv4Addr::new(225, 0, 0, 50));
pub(crate) const DEFAULT_PORT: u16 = 3780;
/// Where Debian's `conntrackd` package puts it.
pub(crate) const DEFAULT_CONNTRACKD: &str = "/usr/sbin/conntrackd";

/// How this host's NAT flows reach the other load balancers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnSync {
    /// The link the sync messages use (conntrackd's `Interface`); a dedicated link is
    /// best, the LAN works.
    pub interface: String,
    pub transport: SyncTransport,
    /// The VRRP instances whose state makes this host the primary (MASTER of any of them)
    /// or a backup. Empty: every instance that holds a NAT virtual server's address
    /// (see [`ConnSync::followed`]).
    pub instances: Vec<String>,
    /// The conntrackd binary.
    pub conntrackd: PathBuf,
    pub location: Location,
}

/// conntrackd's `Multicast` or `UDP` channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SyncTransport {
    /// Every load balancer joins `group` on the sync interface (IPv4 only in conntrackd
    /// 1.4: an IPv6 group is refused by the check).
    Multicast { group: IpAddr, port: u16 },
    /// Unicast UDP to one peer (two load balancers).
    Unicast { peer: IpAddr, port: u16 },
}

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
