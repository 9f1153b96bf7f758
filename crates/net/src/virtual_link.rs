//! Virtual links over rtnetlink (what `ip link add ... type macvlan|ipvlan` does): keepalived's
//! `use_vmac` macvlan with the VRRP virtual MAC, and its `use_ipvlan`. Made, looked up (to
//! reuse one that exists, as keepalived does), brought up and removed; and the per-interface
//! sysctls keepalived sets on them, through `/proc/sys` of the caller's network namespace.

use std::fmt;
use std::io;

use futures_util::TryStreamExt;
use rtnetlink::packet_route::link::{
    InfoData, InfoIpVlan, InfoKind, InfoMacVlan, IpVlanFlags, IpVlanMode, LinkAttribute, LinkFlags,
    LinkInfo, LinkMessage, MacVlanMode,
};
use rtnetlink::{Handle, LinkIpVlan, LinkMacVlan, LinkUnspec};

use crate::error::Error;
use crate::link::interface_index;
use crate::netlink::{self, AbortOnDrop};

/// What kind of virtual link, with what it must have.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VirtualLinkKind {
    /// A macvlan in private mode with this MAC.
    Macvlan { mac: [u8; 6] },
    /// An ipvlan in L2 mode with these IFLA_IPVLAN_FLAGS (0 bridge, 1 private, 2 vepa).
    Ipvlan { flags: u16 },
}

/// A virtual link as the kernel lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkState {
    pub index: u32,
    /// IFLA_INFO_KIND (`macvlan`, `ipvlan`, `veth`, ...); `None` for a physical device.
    pub kind: Option<String>,
    /// The index of the interface it sits on (IFLA_LINK).
    pub parent: Option<u32>,
    pub mac: Option<[u8; 6]>,
    /// IFLA_MACVLAN_MODE, for a macvlan.
    pub macvlan_private: bool,
    /// L2 mode and the flags, for an ipvlan.
    pub ipvlan_l2_flags: Option<u16>,
    /// IFLA_IFALIAS (`ip link set ... alias`): who made it, by baton's convention.
    pub alias: Option<String>,
    pub up: bool,
}

impl LinkState {
    /// A link of `kind` on the interface with index `parent`: one that can be used as is.
    pub fn matches(&self, kind: VirtualLinkKind, parent: u32) -> bool {
        if self.parent != Some(parent) {
            return false;
        }
        match kind {
            VirtualLinkKind::Macvlan { mac } => {
                self.kind.as_deref() == Some("macvlan")
                    && self.macvlan_private
                    && self.mac == Some(mac)
            }
            VirtualLinkKind::Ipvlan { flags } => {
                self.kind.as_deref() == Some("ipvlan") && self.ipvlan_l2_flags == Some(flags)
            }
        }
    }
}

/// A handle for making and removing virtual links.
pub struct VirtualLinks {
    handle: Handle,
    _task: AbortOnDrop,
}

impl fmt::Debug for VirtualLinks {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VirtualLinks").finish_non_exhaustive()
    }
}

impl VirtualLinks {
    /// Opens the rtnetlink connection. Must be called from within a tokio runtime.
    pub fn new() -> Result<VirtualLinks, Error> {
        let connection = netlink::connect(&[], "opening rtnetlink for virtual links")?;
        drop(connection.notifications);
        Ok(VirtualLinks {
            handle: connection.handle,
            _task: connection.task,
        })
    }

    /// The link called `name`, if there is one.
    pub async fn find(&self, name: &str) -> Result<Option<LinkState>, Error> {
        let mut links = self
            .handle
            .link()
            .get()
            .match_name(name.to_owned())
            .execute();
        match links.try_next().await {
            Ok(Some(message)) => Ok(Some(link_state(&message))),
            Ok(None) => Ok(None),
            Err(error) if netlink::errno(&error) == Some(libc::ENODEV) => Ok(None),
            Err(error) => Err(Error::Interface {
                interface: name.to_owned(),
                operation: "looking the link up",
                source: netlink::to_io(error),
            }),
        }
    }

    /// Every link, by name: to find one by what it is rather than what it is called
    /// (keepalived looks an address's vmac up by its base and MAC).
    pub async fn list(&self) -> Result<Vec<(String, LinkState)>, Error> {
        let mut links = self.handle.link().get().execute();
        let mut listed = Vec::new();
        loop {
            match links.try_next().await {
                Ok(Some(message)) => {
                    let name = message.attributes.iter().find_map(|a| match a {
                        LinkAttribute::IfName(name) => Some(name.clone()),
                        _ => None,
                    });
                    if let Some(name) = name {
                        listed.push((name, link_state(&message)));
                    }
                }
                Ok(None) => return Ok(listed),
                Err(error) => {
                    return Err(Error::Interface {
                        interface: "*".to_owned(),
                        operation: "listing the links",
                        source: netlink::to_io(error),
                    });
                }
            }
        }
    }

    /// Makes `name` of `kind` on `base`, down, then gives it `alias`. The kernel refuses a name that
    /// is taken (EEXIST), and an ipvlan without its module (EOPNOTSUPP / "Unknown device
    /// type"): both come back as the error.
    pub async fn create(
        &self,
        name: &str,
        base: &str,
        kind: VirtualLinkKind,
        alias: &str,
    ) -> Result<u32, Error> {
        let parent = interface_index(base)?;
        let message = match kind {
            VirtualLinkKind::Macvlan { mac } => {
                LinkMacVlan::new(name, parent, MacVlanMode::Private)
                    .address(mac.to_vec())
                    .alias(alias)
                    .build()
            }
            VirtualLinkKind::Ipvlan { flags } => LinkIpVlan::new(name, parent, IpVlanMode::L2)
                .flag(IpVlanFlags::from_bits_retain(flags))
                .alias(alias)
                .build(),
        };
        let operation = match kind {
            VirtualLinkKind::Macvlan { .. } => "creating a macvlan",
            VirtualLinkKind::Ipvlan { .. } => "creating an ipvlan",
        };
        self.handle
            .link()
            .add(message)
            .execute()
            .await
            .map_err(|e| Error::Interface {
                interface: name.to_owned(),
                operation,
                source: netlink::to_io(e),
            })?;
        let index = interface_index(name)?;
        // The kernel reads IFLA_IFALIAS only when it changes a link, not when it makes one.
        let message = LinkUnspec::new_with_index(index).alias(alias).build();
        self.set(message, name, "setting the link's alias").await?;
        Ok(index)
    }

    /// Brings the link up.
    pub async fn set_up(&self, index: u32, name: &str) -> Result<(), Error> {
        let message = LinkUnspec::new_with_index(index).up().build();
        self.set(message, name, "setting the link up").await
    }

    async fn set(
        &self,
        message: LinkMessage,
        name: &str,
        operation: &'static str,
    ) -> Result<(), Error> {
        self.handle
            .link()
            .set(message)
            .execute()
            .await
            .map_err(|e| Error::Interface {
                interface: name.to_owned(),
                operation,
                source: netlink::to_io(e),
            })
    }

    /// Removes the link. One that is gone already is no error.
    pub async fn delete(&self, index: u32, name: &str) -> Result<(), Error> {
        match self.handle.link().del(index).execute().await {
            Ok(()) => Ok(()),
            Err(error) if netlink::errno(&error) == Some(libc::ENODEV) => Ok(()),
            Err(error) => Err(Error::Interface {
                interface: name.to_owned(),
                operation: "removing the link",
                source: netlink::to_io(error),
            }),
        }
    }
}

fn link_state(message: &LinkMessage) -> LinkState {
    let mut state = LinkState {
        index: message.header.index,
        kind: None,
        parent: None,
        mac: None,
        macvlan_private: false,
        ipvlan_l2_flags: None,
        alias: None,
        up: message.header.flags.contains(LinkFlags::Up),
    };
    for attribute in &message.attributes {
        match attribute {
            LinkAttribute::Link(parent) => state.parent = Some(*parent),
            LinkAttribute::Address(bytes) => state.mac = <[u8; 6]>::try_from(&bytes[..]).ok(),
            LinkAttribute::IfAlias(alias) => state.alias = Some(alias.clone()),
            LinkAttribute::LinkInfo(infos) => read_link_info(infos, &mut state),
            _ => {}
        }
    }
    state
}

fn read_link_info(infos: &[LinkInfo], state: &mut LinkState) {
    for info in infos {
        match info {
            LinkInfo::Kind(kind) => state.kind = Some(kind_name(kind)),
            LinkInfo::Data(InfoData::MacVlan(data)) => {
                state.macvlan_private = data
                    .iter()
                    .any(|d| matches!(d, InfoMacVlan::Mode(MacVlanMode::Private)));
            }
            LinkInfo::Data(InfoData::IpVlan(data)) => {
                let l2 = data
                    .iter()
                    .any(|d| matches!(d, InfoIpVlan::Mode(IpVlanMode::L2)));
                let flags = data.iter().find_map(|d| match d {
                    InfoIpVlan::Flags(f) => Some(f.bits()),
                    _ => None,
                });
                state.ipvlan_l2_flags = l2.then_some(flags.unwrap_or(0));
            }
            _ => {}
        }
    }
}

fn kind_name(kind: &InfoKind) -> String {
    match kind {
        InfoKind::MacVlan => "macvlan".to_owned(),
        InfoKind::IpVlan => "ipvlan".to_owned(),
        other => other.to_string(),
    }
}

/// Reads `/proc/sys/net/<path>` (for example `ipv4/conf/eth0/arp_ignore`) as a number.
pub fn read_sysctl(path: &str) -> io::Result<u32> {
    let text = std::fs::read_to_string(format!("/proc/sys/net/{path}"))?;
    text.trim()
        .parse()
        .map_err(|_| io::Error::other(format!("net/{path}: not a number: {}", text.trim())))
}

/// Writes `value` to `/proc/sys/net/<path>`.
pub fn write_sysctl(path: &str, value: u32) -> io::Result<()> {
    std::fs::write(format!("/proc/sys/net/{path}"), value.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn link(kind: &str, parent: u32) -> LinkState {
        LinkState {
            index: 9,
            kind: Some(kind.to_owned()),
            parent: Some(parent),
            mac: Some([0, 0, 0x5e, 0, 1, 7]),
            macvlan_private: true,
            ipvlan_l2_flags: None,
            alias: None,
            up: true,
        }
    }

    #[test]
    fn only_a_private_macvlan_with_the_mac_on_the_base_matches() {
        let want = VirtualLinkKind::Macvlan {
            mac: [0, 0, 0x5e, 0, 1, 7],
        };
        assert!(link("macvlan", 2).matches(want, 2));
        assert!(!link("macvlan", 3).matches(want, 2));
        assert!(!link("veth", 2).matches(want, 2));
        let mut bridge = link("macvlan", 2);
        bridge.macvlan_private = false;
        assert!(!bridge.matches(want, 2));
        let other_mac = VirtualLinkKind::Macvlan {
            mac: [0, 0, 0x5e, 0, 1, 8],
        };
        assert!(!link("macvlan", 2).matches(other_mac, 2));
        let mut ipvlan = link("ipvlan", 2);
        ipvlan.ipvlan_l2_flags = Some(1);
        assert!(ipvlan.matches(VirtualLinkKind::Ipvlan { flags: 1 }, 2));
        assert!(!ipvlan.matches(VirtualLinkKind::Ipvlan { flags: 0 }, 2));
    }
}
