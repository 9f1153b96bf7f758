//! Link state, read synchronously: each call is one `getifaddrs` (a netlink dump in glibc) or
//! one ioctl, quick enough to call from async code.

use std::net::{IpAddr, Ipv6Addr};

use nix::ifaddrs::{InterfaceAddress, getifaddrs};
use nix::net::if_::{InterfaceFlags, if_nametoindex};

use crate::error::Error;
use crate::family::Family;

/// IFNAMSIZ - 1: the longest name the kernel gives an interface.
const MAX_NAME_LEN: usize = 15;

/// Refuses a name no interface can have before it reaches the kernel, whose answers to one
/// mislead: rtnetlink's policy says ERANGE ("Numerical result out of range"), glibc's
/// `if_nametoindex` says ENODEV without the reason, and SO_BINDTODEVICE binds to the name
/// cut to 15 bytes, which may be another interface's.
pub(crate) fn check_name(interface: &str) -> Result<(), Error> {
    if interface.len() > MAX_NAME_LEN {
        return Err(Error::NameTooLong {
            interface: interface.to_owned(),
        });
    }
    Ok(())
}

/// The kernel's index of `interface`.
pub fn interface_index(interface: &str) -> Result<u32, Error> {
    check_name(interface)?;
    // glibc asks through a socket of its own: out of file descriptors, that fails with
    // EMFILE, which is no news about the interface.
    if_nametoindex(interface).map_err(|errno| match errno {
        nix::errno::Errno::ENODEV => Error::NoSuchInterface {
            interface: interface.to_owned(),
        },
        errno => Error::Interface {
            interface: interface.to_owned(),
            operation: "looking up its index",
            source: errno.into(),
        },
    })
}

/// Whether `interface` is administratively up (IFF_UP) and operationally up (IFF_RUNNING, which
/// the kernel sets when the operational state is UP or UNKNOWN: carrier present and not dormant).
pub fn link_is_up(interface: &str) -> Result<bool, Error> {
    let entry = entries_of(interface)?.into_iter().next();
    let entry = entry.ok_or_else(|| Error::NoSuchInterface {
        interface: interface.to_owned(),
    })?;
    Ok(is_up(entry.flags))
}

pub(crate) fn is_up(flags: InterfaceFlags) -> bool {
    flags.contains(InterfaceFlags::IFF_UP | InterfaceFlags::IFF_RUNNING)
}

/// The Ethernet address of `interface`.
pub fn mac_address(interface: &str) -> Result<[u8; 6], Error> {
    entries_of(interface)?
        .iter()
        .filter_map(|entry| entry.address.as_ref()?.as_link_addr())
        .find(|link| link.halen() == 6)
        .and_then(|link| link.addr())
        .ok_or_else(|| Error::NoHardwareAddress {
            interface: interface.to_owned(),
        })
}

/// What a frame out of an interface needs: its index and its Ethernet address.
///
/// Read once ([`link_layer`]) and kept for a burst of gratuitous ARPs or neighbour
/// advertisements, instead of a `getifaddrs` (a netlink dump of every link and address of
/// the namespace) and an `if_nametoindex` (a socket, an ioctl and a close) per message: a new
/// master of 100 instances sent 500 of each before its last address was announced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LinkLayer {
    /// The kernel's index of the interface.
    pub index: u32,
    /// Its Ethernet address.
    pub mac: [u8; 6],
}

/// The index and Ethernet address of `interface`, from one `getifaddrs`.
pub fn link_layer(interface: &str) -> Result<LinkLayer, Error> {
    entries_of(interface)?
        .iter()
        .filter_map(|entry| entry.address.as_ref()?.as_link_addr())
        .find(|link| link.halen() == 6)
        .and_then(|link| {
            Some(LinkLayer {
                index: u32::try_from(link.ifindex()).ok()?,
                mac: link.addr()?,
            })
        })
        .ok_or_else(|| Error::NoHardwareAddress {
            interface: interface.to_owned(),
        })
}

/// The address keepalived would advertise from on `interface`: for IPv4 the first primary
/// address, for IPv6 the link-local address (RFC 5798 §5.1.2.2 requires a link-local source).
///
/// The kernel keeps an interface's IPv4 primaries ahead of its secondaries (`__inet_insert_ifa`
/// links secondaries at the tail), so the first IPv4 address listed is a primary.
///
/// A freshly configured link-local address may still be tentative (duplicate address detection
/// takes about a second); the kernel refuses it as a source with EINVAL until then.
pub fn primary_address(interface: &str, family: Family) -> Result<IpAddr, Error> {
    let addresses = entries_of(interface)?
        .into_iter()
        .filter_map(|entry| entry.address);
    let found = match family {
        Family::Ipv4 => addresses
            .filter_map(|address| Some(IpAddr::V4(address.as_sockaddr_in()?.ip())))
            .next(),
        Family::Ipv6 => addresses
            .filter_map(|address| Some(address.as_sockaddr_in6()?.ip()))
            .find(is_link_local)
            .map(IpAddr::V6),
    };
    found.ok_or_else(|| Error::NoPrimaryAddress {
        interface: interface.to_owned(),
        family,
    })
}

/// Whether IPv6 forwarding is on for `interface`. keepalived sets the Router flag of its
/// neighbour advertisements from this, and so does [`crate::send_unsolicited_na`].
pub fn ipv6_forwarding(interface: &str) -> bool {
    // Interface names never contain '/', so this path stays under conf/.
    if interface.contains('/') || interface.is_empty() {
        return false;
    }
    std::fs::read_to_string(format!("/proc/sys/net/ipv6/conf/{interface}/forwarding"))
        .is_ok_and(|value| value.trim() == "1")
}

fn is_link_local(address: &Ipv6Addr) -> bool {
    address.segments()[0] & 0xffc0 == 0xfe80
}

/// The `getifaddrs` entries of `interface`: one AF_PACKET entry (flags and hardware address)
/// and one per IP address, in the kernel's order.
fn entries_of(interface: &str) -> Result<Vec<InterfaceAddress>, Error> {
    check_name(interface)?;
    let all = getifaddrs().map_err(|errno| Error::Interface {
        interface: interface.to_owned(),
        operation: "listing interfaces (getifaddrs)",
        source: errno.into(),
    })?;
    let entries: Vec<_> = all
        .filter(|entry| entry.interface_name == interface)
        .collect();
    if entries.is_empty() {
        // getifaddrs lists every link; an interface it does not list does not exist.
        return Err(Error::NoSuchInterface {
            interface: interface.to_owned(),
        });
    }
    Ok(entries)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn link_local_is_fe80_slash_10() {
        assert!(is_link_local(&"fe80::1".parse().unwrap()));
        assert!(is_link_local(&"febf::1".parse().unwrap()));
        assert!(!is_link_local(&"fec0::1".parse().unwrap()));
        assert!(!is_link_local(&"fd00::1".parse().unwrap()));
    }

    #[test]
    fn unknown_interface_is_a_typed_error() {
        let name = "bnet-nosuchif";
        assert!(matches!(
            interface_index(name),
            Err(Error::NoSuchInterface { .. })
        ));
        assert!(matches!(
            link_is_up(name),
            Err(Error::NoSuchInterface { .. })
        ));
        assert!(matches!(
            mac_address(name),
            Err(Error::NoSuchInterface { .. })
        ));
        assert!(matches!(
            primary_address(name, Family::Ipv4),
            Err(Error::NoSuchInterface { .. })
        ));
        assert!(!ipv6_forwarding(name));
        assert!(!ipv6_forwarding("../all"));
    }

    #[test]
    fn a_name_longer_than_the_kernel_allows_says_so() {
        let name = "bnet-16-bytes-xx";
        assert_eq!(name.len(), 16);
        for result in [
            interface_index(name).map(drop),
            link_is_up(name).map(drop),
            mac_address(name).map(drop),
            link_layer(name).map(drop),
            primary_address(name, Family::Ipv6).map(drop),
        ] {
            let error = result.unwrap_err();
            assert!(matches!(error, Error::NameTooLong { .. }), "{error:?}");
            assert!(
                error
                    .to_string()
                    .contains("longer than the kernel's limit of 15")
            );
        }
        // 15 bytes is a name the kernel could have: looked up, not refused.
        assert!(matches!(
            interface_index("bnet-15-bytes-x"),
            Err(Error::NoSuchInterface { .. })
        ));
    }

    #[test]
    fn loopback_is_found() {
        // Every network namespace has lo, always with index 1. Read only.
        assert_eq!(interface_index("lo").unwrap(), 1);
        assert!(link_is_up("lo").is_ok());
    }

    #[test]
    fn link_layer_agrees_with_the_single_lookups() {
        // lo's hardware address is six zero bytes, and its index is always 1.
        let lo = link_layer("lo").unwrap();
        assert_eq!(lo.index, interface_index("lo").unwrap());
        assert_eq!(lo.mac, mac_address("lo").unwrap());
        assert!(matches!(
            link_layer("bnet-nosuchif"),
            Err(Error::NoSuchInterface { .. })
        ));
    }
}
