//! Connection sync: conntrackd (the netfilter project's daemon) in its FTFW mode, which
//! carries the NAT virtual servers' conntrack entries to the other load balancers, so that
//! established flows survive a failover. baton.toml's `[conn_sync]`; keepalived.conf's
//! `lvs_sync_daemon` maps onto it (IPVS's own sync has no nf_tables counterpart).
//!
//! A leaf: what it takes from the rest of the configuration (the instances it follows,
//! the servers whose flows it carries, the checks) is in `conn_sync_refs`.

use std::net::{IpAddr, Ipv4Addr};
use std::path::PathBuf;

use crate::diagnostic::WrittenAt;

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
    /// (see `ConnSync::followed`).
    pub instances: Vec<String>,
    /// The conntrackd binary.
    pub conntrackd: PathBuf,
    pub location: WrittenAt,
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
