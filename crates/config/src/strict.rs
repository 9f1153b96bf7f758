//! keepalived's strict RFC mode: the global `vrrp_strict` or an instance's `strict_mode`.
//! keepalived 2.2.7 (`vrrp_complete_instance`) refuses an instance that cannot conform
//! (no virtual address, unicast peers) and adjusts the settings the RFCs forbid, saying so;
//! baton does the same, the adjustments as warnings at the line that asked for them. The
//! one lasting effect is Accept_Mode off (`no_accept`) unless `accept` is written (and even
//! then off for VRRPv2, which RFC 3768 gives no Accept_Mode): a non-owner master drops
//! traffic to its virtual addresses (the daemon's `inet baton_vrrp` table).
//!
//! The checks themselves run on the instance's draft (`spec::strict_mode`); here is what
//! comes after: which instances drop traffic, baton's own listeners that the daemon lets
//! through, and the warning about the trap.

use std::net::{IpAddr, SocketAddr};

use crate::diagnostic::{Diagnostics, Location};
use crate::model::{Config, VrrpInstance};
use crate::virtual_server::{L4Protocol, ServiceMatch};

/// Whether `instance`, as master, drops traffic to its addresses: Accept_Mode off and not
/// the address owner (an owner always accepts: RFC 5798 §6.4.3).
pub fn drops_traffic_to_vips(instance: &VrrpInstance) -> bool {
    !instance.accept && !instance.priority.is_owner()
}

/// A port baton itself serves: a frontend (TCP) or a virtual server's address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OwnListener {
    pub protocol: L4Protocol,
    /// May be unspecified (0.0.0.0 / ::): every address of the family.
    pub address: SocketAddr,
    /// `frontend NAME` / `virtual_server NAME`, for messages.
    pub what: String,
    pub location: Location,
}

/// Every frontend and every `IP PORT` virtual server: what the no_accept rules let through
/// to baton's own services (ranges and fwmark services are the operator's firewall's).
pub fn own_listeners(config: &Config) -> Vec<OwnListener> {
    let frontends = config.frontends.iter().map(|f| OwnListener {
        protocol: L4Protocol::Tcp,
        address: f.listen,
        what: format!("frontend {}", f.name),
        location: Location::clone(&f.location),
    });
    let virtual_servers = config.virtual_servers.iter().flat_map(|v| {
        v.matches.iter().filter_map(move |m| match m {
            ServiceMatch::Address(address) => Some(OwnListener {
                protocol: v.protocol,
                address: *address,
                what: format!("virtual_server {}", v.name),
                location: Location::clone(&v.location),
            }),
            _ => None,
        })
    });
    frontends.chain(virtual_servers).collect()
}

/// keepalived's most reported trap: strict mode (or `no_accept`) on an instance whose
/// address a local service listens on: the master drops what that service should answer.
/// baton lets its own listeners through and says so; anything else listening there (and
/// keepalived running the same file) gets nothing.
pub(crate) fn warn_of_trap(config: &Config, d: &mut Diagnostics) {
    let listeners = own_listeners(config);
    for instance in config.instances.iter().filter(|i| drops_traffic_to_vips(i)) {
        for vip in instance.all_addresses() {
            for listener in listeners.iter().filter(|l| l.serves(vip.address)) {
                d.warn(
                    &instance.location,
                    format!(
                        "instance {}: no_accept (written, or strict mode's default): as master (not the owner) it drops every packet to {}, where {} listens ({}); baton lets that port through, but keepalived with this file would not, and nothing else on {} is reachable: write 'accept' in the instance if the address serves traffic",
                        instance.name,
                        vip.address,
                        listener.what,
                        listener.location,
                        vip.address,
                    ),
                );
            }
        }
    }
}

impl OwnListener {
    /// Whether it takes connections to `address` (a wildcard takes its family's).
    pub fn serves(&self, address: IpAddr) -> bool {
        let ip = self.address.ip();
        ip == address || (ip.is_unspecified() && ip.is_ipv4() == address.is_ipv4())
    }
}
