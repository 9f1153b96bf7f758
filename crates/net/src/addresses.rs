//! Virtual addresses on interfaces, over rtnetlink (what `ip address add/del/show` does).
//!
//! Both directions are idempotent, because the daemon's view and the kernel's can differ: a
//! crashed run leaves its VIPs behind, an operator may add one by hand, and a transition may be
//! retried. Adding an address that is there and removing one that is not both succeed.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use futures_util::TryStreamExt;
use rtnetlink::packet_route::address::{
    AddressAttribute, AddressFlags, AddressHeaderFlags, AddressMessage, AddressScope, CacheInfo,
};
use rtnetlink::{AddressMessageBuilder, Handle};

use crate::error::Error;
use crate::netlink::{self, AbortOnDrop};

/// `IFNAMSIZ - 1`: the kernel's limit for IFA_LABEL (its netlink policy rejects longer ones).
const MAX_LABEL_LEN: usize = 15;

/// Optional attributes of an added address.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AddOptions<'a> {
    /// IPv4 only (`label eth0:1`).
    pub label: Option<&'a str>,
    /// IPv4 only (`brd`); `None` keeps the usual broadcast address of the prefix.
    pub broadcast: Option<Ipv4Addr>,
    /// `ifa_scope` (RT_SCOPE_*: 0 global, 200 site, 253 link, 254 host).
    pub scope: Option<u8>,
    /// IFA_F_* flags beyond those baton sets itself (`noprefixroute`, `autojoin`, ...).
    pub flags: u32,
    /// `preferred_lft` in seconds (u32::MAX: forever); the address stays valid forever.
    pub preferred_lft: Option<u32>,
}

/// One address for [`Addresses::add_all`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AddRequest<'a> {
    pub interface: &'a str,
    pub address: IpAddr,
    pub prefix_len: u8,
    pub options: AddOptions<'a>,
}

/// A handle for adding, removing and listing interface addresses.
///
/// Opens an rtnetlink socket in the network namespace of the thread that calls [`Addresses::new`]
/// and drives it on the current tokio runtime.
pub struct Addresses {
    handle: Handle,
    _task: AbortOnDrop,
}

impl fmt::Debug for Addresses {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Addresses").finish_non_exhaustive()
    }
}

impl Addresses {
    /// Opens the rtnetlink connection. Must be called from within a tokio runtime.
    pub fn new() -> Result<Addresses, Error> {
        let connection = netlink::connect(&[], "opening rtnetlink for addresses")?;
        // No groups are subscribed, so no notification ever arrives: the receiver can go.
        drop(connection.notifications);
        Ok(Addresses {
            handle: connection.handle,
            _task: connection.task,
        })
    }

    /// Adds `address/prefix_len` to `interface`. Succeeds when the address is already there with
    /// that prefix length (its label is then left as it is).
    ///
    /// `label` (keepalived's `label eth0:1`) applies to IPv4 only: IPv6 has no address labels
    /// and the kernel ignores one, so it is not sent. IPv6 addresses are added with IFA_F_NODAD:
    /// a VIP must be usable at once, not after a second of duplicate address detection, and
    /// VRRP itself keeps two routers from holding it.
    pub async fn add(
        &self,
        interface: &str,
        address: IpAddr,
        prefix_len: u8,
        label: Option<&str>,
    ) -> Result<(), Error> {
        let options = AddOptions {
            label,
            ..AddOptions::default()
        };
        self.add_with(interface, address, prefix_len, &options)
            .await
    }

    /// [`Addresses::add`] with everything `ip address add` takes that keepalived's
    /// `virtual_ipaddress` can set: label, IPv4 broadcast (`brd`) and scope.
    pub async fn add_with(
        &self,
        interface: &str,
        address: IpAddr,
        prefix_len: u8,
        options: &AddOptions<'_>,
    ) -> Result<(), Error> {
        let index = self.index_of(interface).await?;
        self.add_at(index, interface, address, prefix_len, options)
            .await
    }

    /// [`Addresses::add_with`] for many addresses, pipelined: each interface's index is asked
    /// once, then every request is sent before the first answer is awaited, so the kernel's
    /// acknowledgements come back together rather than one round trip (two, with the index)
    /// per address. The kernel handles the requests in order. The results are in the order
    /// of `requests`.
    pub async fn add_all(&self, requests: &[AddRequest<'_>]) -> Vec<Result<(), Error>> {
        let mut interfaces: Vec<&str> = Vec::new();
        for request in requests {
            if !interfaces.contains(&request.interface) {
                interfaces.push(request.interface);
            }
        }
        let indexes: Vec<Option<u32>> = futures_util::future::join_all(
            interfaces
                .iter()
                .map(|interface| async { self.index_of(interface).await.ok() }),
        )
        .await;
        let adds = requests.iter().map(|request| {
            let at = interfaces.iter().position(|i| *i == request.interface);
            let index = at.and_then(|at| indexes[at]);
            async move {
                let index = match index {
                    Some(index) => index,
                    // Asked again for its error (the first answer was not kept: errors do
                    // not clone). Rare: the interface is gone.
                    None => self.index_of(request.interface).await?,
                };
                let AddRequest {
                    interface,
                    address,
                    prefix_len,
                    ref options,
                } = *request;
                self.add_at(index, interface, address, prefix_len, options)
                    .await
            }
        });
        futures_util::future::join_all(adds).await
    }

    async fn add_at(
        &self,
        index: u32,
        interface: &str,
        address: IpAddr,
        prefix_len: u8,
        options: &AddOptions<'_>,
    ) -> Result<(), Error> {
        check_prefix(interface, address, prefix_len)?;
        if let (Some(label), IpAddr::V4(_)) = (options.label, address) {
            check_label(interface, address, label)?;
        }
        let mut request = self.handle.address().add(index, address, prefix_len);
        let message = request.message_mut();
        match address {
            IpAddr::V4(_) => {
                if let Some(label) = options.label {
                    message
                        .attributes
                        .push(AddressAttribute::Label(label.to_owned()));
                }
                if let Some(broadcast) = options.broadcast {
                    // rtnetlink fills in the usual broadcast; an explicit `brd` replaces it.
                    message
                        .attributes
                        .retain(|a| !matches!(a, AddressAttribute::Broadcast(_)));
                    message
                        .attributes
                        .push(AddressAttribute::Broadcast(broadcast));
                }
            }
            IpAddr::V6(_) => message.header.flags |= AddressHeaderFlags::Nodad,
        }
        if let Some(scope) = options.scope {
            message.header.scope = AddressScope::from(scope);
        }
        if options.flags != 0 {
            // Flags above the header's 8 bits only fit IFA_FLAGS; the kernel prefers it.
            let low = AddressHeaderFlags::from_bits_retain((options.flags & 0xff) as u8);
            message.header.flags |= low;
            let all = u32::from(message.header.flags.bits()) | options.flags;
            message
                .attributes
                .push(AddressAttribute::Flags(AddressFlags::from_bits_retain(all)));
        }
        if let Some(preferred) = options.preferred_lft {
            let mut lifetimes = CacheInfo::default();
            lifetimes.ifa_preferred = preferred;
            lifetimes.ifa_valid = u32::MAX;
            message
                .attributes
                .push(AddressAttribute::CacheInfo(lifetimes));
        }
        match request.execute().await {
            Ok(()) => Ok(()),
            Err(error) if netlink::errno(&error) == Some(libc::EEXIST) => Ok(()),
            Err(error) => Err(address_error(interface, address, "adding", error)),
        }
    }

    /// The index of `interface`, asked over this handle's socket. `if_nametoindex` opens a
    /// socket of its own, which fails when the process is out of file descriptors: a master
    /// flooded with connections must still be able to give its VIP up.
    async fn index_of(&self, interface: &str) -> Result<u32, Error> {
        index_over(&self.handle, interface).await
    }

    /// Removes `address/prefix_len` from `interface`. Succeeds when it is not there.
    ///
    /// The kernel matches the prefix length too: an address present with another prefix length
    /// stays. [`Addresses::list`] tells which prefix length a leftover address has.
    pub async fn remove(
        &self,
        interface: &str,
        address: IpAddr,
        prefix_len: u8,
    ) -> Result<(), Error> {
        let index = self.index_of(interface).await?;
        check_prefix(interface, address, prefix_len)?;
        let message = match address {
            IpAddr::V4(v4) => AddressMessageBuilder::<Ipv4Addr>::new()
                .index(index)
                .address(v4, prefix_len)
                .build(),
            IpAddr::V6(v6) => AddressMessageBuilder::<Ipv6Addr>::new()
                .index(index)
                .address(v6, prefix_len)
                .build(),
        };
        match self.handle.address().del(message).execute().await {
            Ok(()) => Ok(()),
            // What both IPv4 and IPv6 answer for an address the interface does not have.
            Err(error) if netlink::errno(&error) == Some(libc::EADDRNOTAVAIL) => Ok(()),
            Err(error) => Err(address_error(interface, address, "removing", error)),
        }
    }

    /// The addresses of `interface`, both families, in the kernel's order: each with its prefix
    /// length and, for IPv4, its label (the kernel reports the interface name when none was
    /// given, as `ip address show` does).
    pub async fn list(&self, interface: &str) -> Result<Vec<(IpAddr, u8, Option<String>)>, Error> {
        let index = self.index_of(interface).await?;
        let mut dump = std::pin::pin!(
            self.handle
                .address()
                .get()
                .set_link_index_filter(index)
                .execute()
        );
        let mut addresses = Vec::new();
        loop {
            match dump.try_next().await {
                Ok(Some(message)) => addresses.extend(entry(&message)),
                Ok(None) => return Ok(addresses),
                Err(error) => {
                    return Err(Error::Interface {
                        interface: interface.to_owned(),
                        operation: "listing addresses",
                        source: netlink::to_io(error),
                    });
                }
            }
        }
    }
}

/// The index of `interface`, asked over `handle`'s socket.
pub(crate) async fn index_over(handle: &Handle, interface: &str) -> Result<u32, Error> {
    // The kernel's policy for IFLA_IFNAME answers a longer name with ERANGE.
    crate::link::check_name(interface)?;
    let mut links = std::pin::pin!(
        handle
            .link()
            .get()
            .match_name(interface.to_owned())
            .execute()
    );
    let no_such = || Error::NoSuchInterface {
        interface: interface.to_owned(),
    };
    match links.try_next().await {
        Ok(Some(link)) => Ok(link.header.index),
        Ok(None) => Err(no_such()),
        Err(error) if netlink::errno(&error) == Some(libc::ENODEV) => Err(no_such()),
        Err(error) => Err(Error::Interface {
            interface: interface.to_owned(),
            operation: "looking up its index",
            source: netlink::to_io(error),
        }),
    }
}

/// One dumped address as (address, prefix length, label). IFA_LOCAL is the interface's own
/// address; IFA_ADDRESS is the peer's on point-to-point links, so IFA_LOCAL wins when present.
pub(crate) fn entry(message: &AddressMessage) -> Option<(IpAddr, u8, Option<String>)> {
    let mut local = None;
    let mut address = None;
    let mut label = None;
    for attribute in &message.attributes {
        match attribute {
            AddressAttribute::Local(ip) => local = Some(*ip),
            AddressAttribute::Address(ip) => address = Some(*ip),
            AddressAttribute::Label(text) => label = Some(text.clone()),
            _ => {}
        }
    }
    Some((local.or(address)?, message.header.prefix_len, label))
}

fn check_prefix(interface: &str, address: IpAddr, prefix_len: u8) -> Result<(), Error> {
    let max = if address.is_ipv4() { 32 } else { 128 };
    if prefix_len > max {
        return Err(Error::InvalidPrefix {
            interface: interface.to_owned(),
            address,
            prefix_len,
        });
    }
    Ok(())
}

fn check_label(interface: &str, address: IpAddr, label: &str) -> Result<(), Error> {
    let reason = if label.is_empty() {
        "is empty"
    } else if label.len() > MAX_LABEL_LEN {
        "is longer than 15 bytes"
    } else if label.contains('\0') {
        "contains a NUL byte"
    } else {
        return Ok(());
    };
    Err(Error::InvalidLabel {
        interface: interface.to_owned(),
        address,
        label: label.to_owned(),
        reason,
    })
}

fn address_error(
    interface: &str,
    address: IpAddr,
    operation: &'static str,
    error: rtnetlink::Error,
) -> Error {
    Error::Address {
        interface: interface.to_owned(),
        address,
        operation,
        source: netlink::to_io(error),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rtnetlink::packet_route::AddressFamily;

    #[test]
    fn labels_are_checked_before_the_kernel_sees_them() {
        let vip: IpAddr = "10.0.3.100".parse().unwrap();
        assert!(check_label("eth0", vip, "eth0:1").is_ok());
        assert!(check_label("eth0", vip, "123456789012345").is_ok());
        assert!(matches!(
            check_label("eth0", vip, "1234567890123456"),
            Err(Error::InvalidLabel {
                reason: "is longer than 15 bytes",
                ..
            })
        ));
        assert!(check_label("eth0", vip, "").is_err());
        assert!(check_label("eth0", vip, "a\0b").is_err());
    }

    #[test]
    fn a_name_longer_than_the_kernel_allows_is_refused_before_rtnetlink() {
        // Read only: asks this namespace's kernel for links by name.
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async {
            let addresses = Addresses::new().unwrap();
            let long = "bnet-16-bytes-xx";
            let error = addresses.list(long).await.unwrap_err();
            assert!(matches!(error, Error::NameTooLong { .. }), "{error:?}");
            let error = addresses
                .remove(long, "10.0.3.100".parse().unwrap(), 32)
                .await;
            assert!(matches!(error, Err(Error::NameTooLong { .. })));
            let results = addresses
                .add_all(&[AddRequest {
                    interface: long,
                    address: "10.0.3.100".parse().unwrap(),
                    prefix_len: 32,
                    options: AddOptions::default(),
                }])
                .await;
            assert!(matches!(results[..], [Err(Error::NameTooLong { .. })]));
            let error = addresses.list("bnet-15-bytes-x").await.unwrap_err();
            assert!(matches!(error, Error::NoSuchInterface { .. }), "{error:?}");
        });
    }

    #[test]
    fn prefix_lengths_are_bounded_by_family() {
        let v4: IpAddr = "10.0.3.100".parse().unwrap();
        let v6: IpAddr = "fd00::100".parse().unwrap();
        assert!(check_prefix("eth0", v4, 32).is_ok());
        assert!(check_prefix("eth0", v4, 33).is_err());
        assert!(check_prefix("eth0", v6, 128).is_ok());
        assert!(check_prefix("eth0", v6, 129).is_err());
    }

    #[test]
    fn dump_entries_prefer_the_local_address() {
        let mut message = AddressMessage::default();
        message.header.family = AddressFamily::Inet;
        message.header.prefix_len = 32;
        message.attributes = vec![
            AddressAttribute::Address("10.0.0.2".parse().unwrap()),
            AddressAttribute::Local("10.0.0.1".parse().unwrap()),
            AddressAttribute::Label("eth0:vip".into()),
        ];
        assert_eq!(
            entry(&message),
            Some(("10.0.0.1".parse().unwrap(), 32, Some("eth0:vip".into())))
        );
        message
            .attributes
            .retain(|attribute| matches!(attribute, AddressAttribute::Address(_)));
        assert_eq!(
            entry(&message),
            Some(("10.0.0.2".parse().unwrap(), 32, None))
        );
        message.attributes.clear();
        assert_eq!(entry(&message), None);
    }
}
