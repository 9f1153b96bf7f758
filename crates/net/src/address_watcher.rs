//! Interface addresses coming and going (RTNLGRP_IPV4_IFADDR / RTNLGRP_IPV6_IFADDR), for
//! keepalived's `track_src_ip`, and whether an interface has an address now.

use std::fmt;
use std::net::IpAddr;

use futures_util::StreamExt;
use nix::ifaddrs::getifaddrs;
use rtnetlink::MulticastGroup;
use rtnetlink::packet_core::NetlinkPayload;
use rtnetlink::packet_route::RouteNetlinkMessage;

use crate::addresses::entry;
use crate::error::Error;
use crate::netlink::{self, AbortOnDrop, Notifications};

/// One notification about an interface address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum AddressChange {
    /// `address` was added to the interface with index `index`.
    Added { index: u32, address: IpAddr },
    /// `address` was removed from the interface with index `index` (also when the
    /// interface itself goes).
    Removed { index: u32, address: IpAddr },
    /// Notifications were lost (the socket's receive buffer overflowed): whatever the
    /// caller follows must be read again with [`interface_has_address`].
    Missed,
}

/// Yields every address added or removed in the network namespace of the thread that
/// calls [`AddressWatcher::new`]. The state before it is read with
/// [`interface_has_address`] after `new`, so that no change falls between the two.
pub struct AddressWatcher {
    notifications: Notifications,
    _task: AbortOnDrop,
}

impl fmt::Debug for AddressWatcher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AddressWatcher").finish_non_exhaustive()
    }
}

impl AddressWatcher {
    /// Subscribes to both families' address notifications. Must be called from within a
    /// tokio runtime.
    pub fn new() -> Result<AddressWatcher, Error> {
        let connection = netlink::connect(
            &[MulticastGroup::Ipv4Ifaddr, MulticastGroup::Ipv6Ifaddr],
            "subscribing to address events",
        )?;
        Ok(AddressWatcher {
            notifications: connection.notifications,
            _task: connection.task,
        })
    }

    /// The next change. `None` means the subscription ended (the netlink socket failed).
    pub async fn next(&mut self) -> Option<AddressChange> {
        loop {
            let (message, _) = self.notifications.next().await?;
            let change = match message.payload {
                NetlinkPayload::Overrun(_) => Some(AddressChange::Missed),
                NetlinkPayload::InnerMessage(message) => change_of(message),
                _ => None,
            };
            if change.is_some() {
                return change;
            }
        }
    }
}

fn change_of(message: RouteNetlinkMessage) -> Option<AddressChange> {
    match message {
        RouteNetlinkMessage::NewAddress(message) => {
            let (address, _, _) = entry(&message)?;
            let index = message.header.index;
            Some(AddressChange::Added { index, address })
        }
        RouteNetlinkMessage::DelAddress(message) => {
            let (address, _, _) = entry(&message)?;
            let index = message.header.index;
            Some(AddressChange::Removed { index, address })
        }
        _ => None,
    }
}

/// Whether `address` is on `interface` now; false when the interface does not exist.
///
/// An IPv4 address with a label (`ip address add ... label eth0:1`) is listed under its
/// label, which the kernel's tools require to start with the interface's name and a colon.
pub fn interface_has_address(interface: &str, address: IpAddr) -> Result<bool, Error> {
    let entries = getifaddrs().map_err(|errno| Error::Interface {
        interface: interface.to_owned(),
        operation: "listing addresses (getifaddrs)",
        source: errno.into(),
    })?;
    let labelled = format!("{interface}:");
    Ok(entries
        .filter(|entry| {
            entry.interface_name == interface || entry.interface_name.starts_with(&labelled)
        })
        .filter_map(|entry| entry.address)
        .any(|found| {
            let ip = found
                .as_sockaddr_in()
                .map(|v4| IpAddr::V4(v4.ip()))
                .or_else(|| found.as_sockaddr_in6().map(|v6| IpAddr::V6(v6.ip())));
            ip == Some(address)
        }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rtnetlink::packet_route::address::{AddressAttribute, AddressMessage};

    fn message(index: u32, attributes: Vec<AddressAttribute>) -> AddressMessage {
        let mut message = AddressMessage::default();
        message.header.index = index;
        message.attributes = attributes;
        message
    }

    #[test]
    fn notifications_become_changes_of_the_local_address() {
        let local: IpAddr = "10.0.3.2".parse().unwrap();
        let peer: IpAddr = "10.0.3.9".parse().unwrap();
        // On point-to-point links IFA_ADDRESS is the peer's: IFA_LOCAL is the one that counts.
        let both = vec![
            AddressAttribute::Address(peer),
            AddressAttribute::Local(local),
        ];
        assert_eq!(
            change_of(RouteNetlinkMessage::NewAddress(message(3, both.clone()))),
            Some(AddressChange::Added {
                index: 3,
                address: local
            })
        );
        assert_eq!(
            change_of(RouteNetlinkMessage::DelAddress(message(3, both))),
            Some(AddressChange::Removed {
                index: 3,
                address: local
            })
        );
        let v6: IpAddr = "2001:db8::2".parse().unwrap();
        assert_eq!(
            change_of(RouteNetlinkMessage::DelAddress(message(
                4,
                vec![AddressAttribute::Address(v6)]
            ))),
            Some(AddressChange::Removed {
                index: 4,
                address: v6
            })
        );
        // Without any address there is nothing to report.
        assert_eq!(
            change_of(RouteNetlinkMessage::NewAddress(message(3, Vec::new()))),
            None
        );
    }

    #[test]
    fn loopback_has_its_address_and_a_missing_interface_has_none() {
        // Every network namespace has lo; in a fresh one it may be down, but 127.0.0.1 is
        // on it once it is up. Read only.
        let has = interface_has_address("lo", "127.0.0.1".parse().unwrap()).unwrap();
        let up = crate::link_is_up("lo").unwrap_or(false);
        assert!(has || !up);
        assert!(!interface_has_address("lo", "192.0.2.77".parse().unwrap()).unwrap());
        assert!(!interface_has_address("bnet-nonexistent", "127.0.0.1".parse().unwrap()).unwrap());
    }
}
