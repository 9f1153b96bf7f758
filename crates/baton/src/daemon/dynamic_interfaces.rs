//! keepalived's `dynamic_interfaces`: an instance whose interface does not exist yet does
//! not fail the start (or the reload). It is planned with no primary address and no socket,
//! and waits in FAULT (its own interface counts as down). When the interface comes up, the
//! daemon applies the running configuration again, which builds the instance anew with the
//! interface's address and socket; it then starts as after a reload (INIT, BACKUP, ...).
//!
//! The trigger is the interface going up: an interface made, given its address and then set
//! up (what `ip`, VPN daemons and container runtimes do) is ready then. One that comes up
//! without the address the instance needs makes the re-application fail (logged, counted as
//! a failed reload) and the instance waits for the next SIGHUP.

use std::collections::BTreeSet;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use baton_config::{Config, Family};

/// The interfaces of `config`'s instances and tracked interfaces that do not exist now,
/// when `dynamic_interfaces` is on; none otherwise (a missing interface is then an error
/// where it is used, as before).
pub(crate) fn missing(config: &Config) -> BTreeSet<String> {
    if !config.global.dynamic_interfaces {
        return BTreeSet::new();
    }
    let names = config.instances.iter().flat_map(|instance| {
        std::iter::once(instance.interface.clone())
            .chain(instance.track_interfaces.iter().map(|t| t.name.clone()))
    });
    names.filter(|name| !exists(name)).collect()
}

/// Whether the kernel knows an interface of that name (any other error than "no such
/// interface" says nothing about it, and counts as existing, so that it is reported where
/// the interface is used).
pub(crate) fn exists(name: &str) -> bool {
    !matches!(
        baton_net::interface_index(name),
        Err(baton_net::Error::NoSuchInterface { .. })
    )
}

/// The primary address an instance on a missing interface is planned with: none yet.
pub(crate) fn placeholder(family: Family) -> IpAddr {
    match family {
        Family::Ipv4 => Ipv4Addr::UNSPECIFIED.into(),
        Family::Ipv6 => Ipv6Addr::UNSPECIFIED.into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CONF: &str = "global_defs {\n dynamic_interfaces\n}\nvrrp_instance A {\n \
        interface baton-absent0\n virtual_router_id 1\n track_interface {\n lo\n }\n \
        virtual_ipaddress {\n 10.0.3.100\n }\n}\n";

    #[test]
    fn only_absent_interfaces_and_only_with_dynamic_interfaces() {
        let loaded = baton_config::parse_keepalived(CONF, "k.conf").expect("valid");
        let missing = missing(&loaded.config);
        assert_eq!(
            missing.into_iter().collect::<Vec<_>>(),
            ["baton-absent0"],
            "lo exists"
        );
        let without = CONF.replace(" dynamic_interfaces\n", "");
        let loaded = baton_config::parse_keepalived(&without, "k.conf").expect("valid");
        assert!(super::missing(&loaded.config).is_empty());
    }
}
