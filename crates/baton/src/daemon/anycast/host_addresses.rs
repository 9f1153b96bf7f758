//! The host prefixes' addresses, held on this host from the start to the end of a run so
//! that it takes what the routers send and the frontends can bind: an address on `lo`, or
//! with `local_route` a local route (`local PREFIX dev lo table local proto 201`), which
//! the kernel treats the same way. FRR needs the route: its zebra makes a connected route
//! of an address on `lo` and ranks it above the route it imports from baton's table for the
//! same prefix, so `redistribute table` never announces it (seen with FRR 8.4).

use std::collections::BTreeSet;
use std::net::IpAddr;

use baton_config::Config;
use baton_net::{RouteSpec, Routing};

use super::{LOOPBACK, route_on_lo};

/// RTN_LOCAL, RT_SCOPE_HOST and RT_TABLE_LOCAL: what the kernel makes for an address.
const LOCAL: u8 = 2;
const SCOPE_HOST: u8 = 254;
const LOCAL_TABLE: u32 = 255;

/// One host prefix and how it is held.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(super) struct HostAddress {
    address: IpAddr,
    len: u8,
    /// A local route rather than an address on `lo`.
    as_route: bool,
}

impl HostAddress {
    fn local_route(self) -> RouteSpec {
        route_on_lo(self.address, self.len, LOCAL, LOCAL_TABLE, SCOPE_HOST)
    }
}

/// What `config`'s sections want held: each host prefix, as its section says.
pub(super) fn wanted(config: &Config) -> BTreeSet<HostAddress> {
    config
        .anycasts
        .iter()
        .flat_map(|section| {
            section
                .prefixes
                .iter()
                .filter(|p| p.is_host())
                .map(|p| HostAddress {
                    address: p.address,
                    len: p.len,
                    as_route: section.local_route,
                })
        })
        .collect()
}

/// The addresses baton holds, and the changes to them.
#[derive(Debug, Default)]
pub(super) struct HostAddresses {
    held: BTreeSet<HostAddress>,
}

impl HostAddresses {
    /// Holds the `wanted` addresses and lets go of those held before that are not wanted
    /// any more: those first, so that a prefix that changes how it is held is not taken
    /// away by its old form's removal (an address's removal deletes the local route).
    pub(super) async fn place(&mut self, wanted: BTreeSet<HostAddress>) {
        if wanted == self.held {
            return;
        }
        let (addresses, routing) = match (baton_net::Addresses::new(), Routing::new()) {
            (Ok(addresses), Ok(routing)) => (addresses, routing),
            (Err(error), _) | (_, Err(error)) => {
                tracing::error!("anycast: opening rtnetlink for the host addresses: {error}");
                return;
            }
        };
        for &host in self.held.difference(&wanted) {
            let (address, len) = (host.address, host.len);
            let removed = if host.as_route {
                routing.remove_route(&host.local_route()).await
            } else {
                addresses.remove(LOOPBACK, address, len).await
            };
            if let Err(error) = removed {
                tracing::error!("anycast: {error}");
            }
        }
        for &host in wanted.difference(&self.held) {
            let (address, len) = (host.address, host.len);
            let added = if host.as_route {
                routing.add_route(&host.local_route()).await
            } else {
                addresses.add(LOOPBACK, address, len, None).await
            };
            match added {
                Ok(()) if host.as_route => {
                    tracing::info!("anycast: {address}/{len} local on {LOOPBACK} (a route)");
                }
                Ok(()) => tracing::info!("anycast: {address}/{len} on {LOOPBACK}"),
                Err(error) => tracing::error!("anycast: {error}"),
            }
        }
        self.held = wanted;
    }
}
