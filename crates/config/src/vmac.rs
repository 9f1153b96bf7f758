//! keepalived's virtual MAC family: an instance that owns a macvlan (`use_vmac`) or an ipvlan
//! (`use_ipvlan`) on its interface, puts its addresses there and, unless `vmac_xmit_base`,
//! sends its adverts from it; and the global settings that go with them (`vmac_prefix`,
//! `vrrp_garp_extra_if`, `disable_local_igmp`). The names are keepalived 2.2.7's
//! (`vrrp_vmac.c`, `vrrp.c`'s `create_vmac_name`).

use std::net::IpAddr;
use std::time::Duration;

use baton_vrrp::Vrid;

use crate::basics::Family;
use crate::diagnostic::{Diagnostics, Location, WrittenAt};

/// The kernel's limit on an interface name, without the terminating NUL (IFNAMSIZ - 1).
pub(crate) const MAX_INTERFACE_NAME: usize = 15;

/// keepalived's default name prefix (`vrrp.VRID`).
pub(crate) const DEFAULT_PREFIX: &str = "vrrp";

/// The interface an instance owns besides its own: `use_vmac` or `use_ipvlan`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VirtualLink {
    pub kind: VirtualLinkKind,
    /// The name written after `use_vmac` / `use_ipvlan`, else the first of `names` that
    /// no other instance's link has.
    pub name: String,
    /// The name was written (else it was picked).
    pub name_written: bool,
    /// `vmac_prefix`, else `vrrp`.
    pub prefix: String,
    /// `vmac_xmit_base`: adverts go out (and are read) on the base interface; the addresses
    /// stay on the virtual one.
    pub xmit_base: bool,
    pub location: WrittenAt,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VirtualLinkKind {
    /// A macvlan in private mode with the VRRP virtual MAC (or the MAC written).
    Macvlan { mac: Option<MacSpec> },
    /// An ipvlan in L2 mode with these flags, and the address it is given (IPv4 needs one:
    /// an ipvlan shares the base's MAC, so it has no other way to be told apart).
    Ipvlan {
        flags: IpvlanFlags,
        address: Option<(IpAddr, u8)>,
    },
}

/// A MAC written after `use_vmac`: six octets, or five (the sixth is the VRID).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MacSpec {
    pub octets: [u8; 6],
    pub vrid_last: bool,
}

/// `use_ipvlan`'s `bridge` (the default), `private` or `vepa`: the kernel's IPVLAN_F_*.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum IpvlanFlags {
    #[default]
    Bridge,
    Private,
    Vepa,
}

impl IpvlanFlags {
    /// IFLA_IPVLAN_FLAGS's value.
    pub fn bits(self) -> u16 {
        match self {
            IpvlanFlags::Bridge => 0,
            IpvlanFlags::Private => 1,
            IpvlanFlags::Vepa => 2,
        }
    }
}

/// `garp_extra_if` / `vrrp_garp_extra_if`: while master, gratuitous ARPs every `interval`
/// for the addresses on other interfaces than the instance's own (with `all`, also those
/// that are not virtual links).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GarpExtraIf {
    pub interval: Duration,
    pub all: bool,
}

/// A macvlan for addresses that are not on the instance's own link (keepalived's
/// `use_vmac_addr` and an address's own `use_vmac`): a private macvlan on the addresses'
/// interface with the VRRP virtual MAC of their family (or the MAC written after the
/// instance's `use_vmac`), so that they answer ARP / ND with a virtual MAC there too. One
/// per interface and MAC: the addresses that share both share the link.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddressLink {
    /// `vmac_addr_prefix` (else `vmac_prefix`, else `vrrp`) `.VRID`, or the next of
    /// `names` that is free; the daemon may take another when the kernel has the name, or
    /// has a matching link already (keepalived finds one by its MAC).
    pub name: String,
    /// The interface it sits on: the addresses' `dev`, else the instance's interface.
    pub base: String,
    pub mac: [u8; 6],
    /// The family of its addresses (of the first, when a written MAC serves both): IPv4
    /// gets keepalived's ARP settings and no IPv6, IPv6 a link-local address.
    pub family: Family,
    /// The prefix its name was made from, for the daemon to go on from.
    pub prefix: String,
}

/// An instance's address links.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AddressLinks {
    /// `use_vmac_addr`: every address on another interface than the instance's, or of
    /// the other family, gets a link (as an address's own `use_vmac` asks for itself).
    pub use_vmac_addr: bool,
    /// One per interface and MAC, named in keepalived's order by `address_links::plan`.
    pub links: Vec<AddressLink>,
}

impl AddressLink {
    /// The names keepalived would try for this link, in order.
    pub fn candidate_names(&self, vrid: Vrid) -> impl Iterator<Item = String> + '_ {
        names(&self.prefix, vrid, self.family)
    }
}

/// The MAC of an address link for an address of `family`: the one written after the
/// instance's `use_vmac`, else the RFC's (keepalived copies the written MAC to them).
pub(crate) fn address_link_mac(own: Option<&VirtualLink>, vrid: Vrid, family: Family) -> [u8; 6] {
    own.filter(|l| matches!(l.kind, VirtualLinkKind::Macvlan { mac: Some(_) }))
        .and_then(|l| l.mac(vrid, family))
        .unwrap_or_else(|| virtual_mac(vrid, family))
}

/// The global settings of the family.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct VmacGlobal {
    /// `vmac_prefix`.
    pub prefix: Option<String>,
    /// `vmac_addr_prefix`: the prefix of address links' names (default: `vmac_prefix`'s).
    pub addr_prefix: Option<String>,
    /// `vrrp_garp_extra_if`: the default of every instance's `garp_extra_if`.
    pub garp_extra_if: Option<GarpExtraIf>,
    /// `disable_local_igmp`: the host stops sending IGMP reports for link-local groups
    /// (`net.ipv4.igmp_link_local_mcast_reports = 0`) while the daemon runs.
    pub disable_local_igmp: bool,
}

/// RFC 5798 7.3: 00-00-5E-00-01-{VRID} for IPv4, 00-00-5E-00-02-{VRID} for IPv6.
pub fn virtual_mac(vrid: Vrid, family: Family) -> [u8; 6] {
    let kind = match family {
        Family::Ipv4 => 0x01,
        Family::Ipv6 => 0x02,
    };
    [0x00, 0x00, 0x5e, 0x00, kind, vrid.get()]
}

impl VirtualLink {
    /// The MAC a macvlan of this instance has; `None` for an ipvlan (it has the base's).
    pub fn mac(&self, vrid: Vrid, family: Family) -> Option<[u8; 6]> {
        match self.kind {
            VirtualLinkKind::Macvlan { mac: None } => Some(virtual_mac(vrid, family)),
            VirtualLinkKind::Macvlan { mac: Some(spec) } => {
                let mut octets = spec.octets;
                if spec.vrid_last {
                    octets[5] = vrid.get();
                }
                Some(octets)
            }
            VirtualLinkKind::Ipvlan { .. } => None,
        }
    }

    /// The address an ipvlan is given (`use_ipvlan ... ADDRESS/PREFIX`).
    pub fn own_address(&self) -> Option<IpAddr> {
        match self.kind {
            VirtualLinkKind::Ipvlan { address, .. } => address.map(|(a, _)| a),
            VirtualLinkKind::Macvlan { .. } => None,
        }
    }
}

/// The names keepalived tries in turn for an instance's link without a written name, the
/// first free one winning: `PREFIX.VRID`, then `PREFIX1.VRID`, `PREFIX2.VRID`, ... (for IPv6
/// `PREFIX6.VRID` comes second, then 1, 2, ... without 6). A name longer than the kernel
/// takes loses the end of its prefix.
pub(crate) fn names(prefix: &str, vrid: Vrid, family: Family) -> impl Iterator<Item = String> + '_ {
    let numbers = std::iter::once(None).chain(number_order(family).map(Some));
    numbers.map(move |n| {
        let suffix = match n {
            None => format!(".{}", vrid.get()),
            Some(n) => format!("{n}.{}", vrid.get()),
        };
        let keep = MAX_INTERFACE_NAME.saturating_sub(suffix.len());
        let prefix: String = prefix.chars().take(keep).collect();
        format!("{prefix}{suffix}")
    })
}

fn number_order(family: Family) -> impl Iterator<Item = u32> {
    let first = (family == Family::Ipv6).then_some(6);
    let rest = (1..).filter(move |&n| family == Family::Ipv4 || n != 6);
    first.into_iter().chain(rest)
}

/// The first of [`names`] of `prefix` that is not `taken` (keepalived's `create_vmac_name`;
/// it also skips names of interfaces that exist, which the daemon checks when it makes the
/// link).
pub(crate) fn free_name(prefix: &str, vrid: Vrid, family: Family, taken: &[String]) -> String {
    names(prefix, vrid, family)
        .find(|n| !taken.contains(n))
        .expect("names never end")
}

/// The kernel's `dev_valid_name`: what an interface may be called.
pub(crate) fn valid_interface_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= MAX_INTERFACE_NAME
        && name != "."
        && name != ".."
        && !name
            .chars()
            .any(|c| c == '/' || c == ':' || c.is_whitespace())
}

/// What the keepalived.conf reader collected for one instance.
#[derive(Debug, Clone, Default)]
pub(crate) struct VmacDraft {
    pub(crate) kind: Option<VirtualLinkKind>,
    pub(crate) name: Option<String>,
    pub(crate) location: Option<Location>,
    /// Where `vmac_xmit_base` was written.
    pub(crate) xmit_base: Option<Location>,
    /// `Some(None)`: written as 0, which turns the global default off.
    pub(crate) garp_extra_if: Option<Option<GarpExtraIf>>,
    /// Where `use_vmac_addr` was written.
    pub(crate) use_vmac_addr: Option<Location>,
}

/// What the instance around a [`VmacDraft`] is, for the checks keepalived makes when it
/// completes an instance.
#[derive(Debug, Clone, Copy)]
pub(crate) struct InstanceFacts<'a> {
    pub(crate) name: &'a str,
    pub(crate) at: &'a Location,
    pub(crate) family: Family,
    pub(crate) unicast: bool,
    pub(crate) strict: bool,
}

impl VmacDraft {
    /// The instance's link, with keepalived's corrections (`vrrp_end_handler`,
    /// `vrrp_complete_instance`) reported as warnings where keepalived carries on.
    pub(crate) fn resolve(
        self,
        global: &VmacGlobal,
        facts: InstanceFacts<'_>,
        d: &mut Diagnostics,
    ) -> (Option<VirtualLink>, Option<GarpExtraIf>) {
        let name = facts.name;
        let garp_extra_if = self.garp_extra_if.unwrap_or(global.garp_extra_if);
        let Some(kind) = self.kind else {
            if let Some(at) = &self.xmit_base {
                d.warn(
                    at,
                    format!("instance {name}: vmac_xmit_base is only valid with a vmac; ignored (as keepalived)"),
                );
            }
            return (None, garp_extra_if);
        };
        let location = self.location.unwrap_or_else(|| facts.at.clone());
        let mut xmit_base = self.xmit_base.is_some();
        let macvlan = matches!(kind, VirtualLinkKind::Macvlan { .. });
        if let VirtualLinkKind::Ipvlan { address, .. } = kind {
            match address {
                None if facts.family == Family::Ipv4 => d.error(
                    &location,
                    format!("instance {name}: an IPv4 ipvlan needs its address: use_ipvlan [NAME] ADDRESS/PREFIX (keepalived: \"IPv4 ipvlan requires a source ip address\")"),
                ),
                Some((a, _)) if Family::of(a) != facts.family => d.error(
                    &location,
                    format!("instance {name}: the ipvlan address {a} is not of the instance's family"),
                ),
                _ => {}
            }
        }
        if !macvlan && xmit_base {
            d.warn(
                &location,
                format!("instance {name}: vmac_xmit_base is only valid with a vmac; ignored (as keepalived)"),
            );
            xmit_base = false;
        }
        if macvlan && facts.unicast && !xmit_base {
            d.warn(
                &location,
                format!("instance {name}: unicast with use_vmac requires vmac_xmit_base; set (as keepalived)"),
            );
            xmit_base = true;
        }
        if macvlan && facts.strict && xmit_base {
            d.warn(
                &location,
                format!("instance {name}: vmac_xmit_base is incompatible with strict mode; reset (as keepalived)"),
            );
            xmit_base = false;
        }
        let link = VirtualLink {
            kind,
            name_written: self.name.is_some(),
            // Picked by `address_links::plan` once every instance is read.
            name: self.name.unwrap_or_default(),
            prefix: global
                .prefix
                .clone()
                .unwrap_or_else(|| DEFAULT_PREFIX.to_owned()),
            xmit_base,
            location: location.into(),
        };
        (Some(link), garp_extra_if)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vrid(n: u8) -> Vrid {
        Vrid::new(n).expect("not 0")
    }

    #[test]
    fn names_follow_keepalived_order() {
        let v4: Vec<String> = names("vrrp", vrid(7), Family::Ipv4).take(3).collect();
        assert_eq!(v4, ["vrrp.7", "vrrp1.7", "vrrp2.7"]);
        let v6: Vec<String> = names("vrrp", vrid(7), Family::Ipv6).take(8).collect();
        assert_eq!(
            v6,
            [
                "vrrp.7", "vrrp6.7", "vrrp1.7", "vrrp2.7", "vrrp3.7", "vrrp4.7", "vrrp5.7",
                "vrrp7.7"
            ]
        );
        let long: Vec<String> = names("averyveryverylongprefix", vrid(200), Family::Ipv4)
            .take(2)
            .collect();
        assert_eq!(long, ["averyveryve.200", "averyveryv1.200"]);
        assert!(long.iter().all(|n| n.len() <= MAX_INTERFACE_NAME));
    }

    #[test]
    fn the_virtual_mac_is_rfc_5798s() {
        assert_eq!(virtual_mac(vrid(51), Family::Ipv4), [0, 0, 0x5e, 0, 1, 51]);
        assert_eq!(
            virtual_mac(vrid(255), Family::Ipv6),
            [0, 0, 0x5e, 0, 2, 255]
        );
    }

    #[test]
    fn interface_names_as_the_kernel_takes_them() {
        assert!(valid_interface_name("vrrp.51"));
        assert!(!valid_interface_name(""));
        assert!(!valid_interface_name(".."));
        assert!(!valid_interface_name("a:b"));
        assert!(!valid_interface_name("a b"));
        assert!(!valid_interface_name("sixteen-chars-xx"));
    }
}
