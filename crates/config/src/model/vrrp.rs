//! The VRRP model: instances, their addresses and peers, what they notify, sync groups,
//! the announcement pacing, and the static addresses and routes.

use std::net::{IpAddr, Ipv4Addr};
use std::ops::RangeInclusive;
use std::time::Duration;

use baton_vrrp::{AnnounceConfig, Auth, ChecksumMode, Priority, Version, Vrid};

use super::{
    Family, NotifyScript, TrackFileRef, TrackFrontend, TrackInterface, TrackScriptRef,
    TrackVirtualServer,
};
use crate::diagnostic::{Location, WrittenAt};
use crate::election::ElectionOptions;

/// keepalived's `state`: only a hint. keepalived derives a missing priority from it (MASTER
/// means 255) and a missing state from the priority (255 means MASTER); beyond that the RFC
/// election decides, which the engine does for the address owner on its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InitialState {
    Master,
    Backup,
}

/// keepalived's `vrrp_garp_interval` and `vrrp_gna_interval`: the pause after each
/// gratuitous ARP and after each unsolicited NA of an announcement. Zero (the default)
/// sends them back to back.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AnnouncePacing {
    pub garp_interval: Duration,
    pub gna_interval: Duration,
}

/// keepalived's `garp_group`: the pacing of announcements on these interfaces, instead of
/// the global one. An interval the group does not set is zero (no pause), as keepalived.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GarpGroup {
    pub interfaces: Vec<String>,
    pub pacing: AnnouncePacing,
    pub location: WrittenAt,
}

/// One VRRP virtual router (`vrrp_instance` / `[[vrrp]]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VrrpInstance {
    pub name: String,
    pub interface: String,
    pub vrid: Vrid,
    /// Instance `version`, else `vrrp_version`, except that IPv6 instances default to 3.
    pub version: Version,
    pub initial_state: InitialState,
    /// Default 100, or 255 when `state MASTER` is given without a priority (keepalived).
    pub priority: Priority,
    /// Whole seconds for v2, a multiple of 10 ms for v3.
    pub advert_interval: Duration,
    /// Advertised and added on becoming master. All of one family.
    pub virtual_addresses: Vec<VirtualAddress>,
    /// `virtual_ipaddress_excluded`: added and removed with the others, never advertised;
    /// may be of either family.
    pub excluded_addresses: Vec<VirtualAddress>,
    /// `unicast_src_ip` / `mcast_src_ip`: source of adverts. `None`: the interface's
    /// primary address, found at run time.
    pub source_address: Option<IpAddr>,
    /// `track_src_ip`: FAULT while `source_address` is not on the instance's interface
    /// (nor its virtual link); only set when there is a `source_address`.
    pub track_source_address: bool,
    /// `unicast_peer`: empty means multicast.
    pub unicast_peers: Vec<UnicastPeer>,
    /// `nopreempt` clears it.
    pub preempt: bool,
    pub preempt_delay: Duration,
    /// Accept packets addressed to the virtual addresses when master but not owner.
    /// keepalived's default is on (unless `vrrp_strict`), unlike RFC 5798's.
    pub accept: bool,
    /// VRRPv2 `authentication { auth_type PASS }`.
    pub auth: Auth,
    pub track_interfaces: Vec<TrackInterface>,
    pub track_scripts: Vec<TrackScriptRef>,
    pub track_files: Vec<TrackFileRef>,
    pub track_processes: Vec<crate::track_process::TrackProcessRef>,
    pub track_frontends: Vec<TrackFrontend>,
    /// `track_virtual_server` (baton.toml only).
    pub track_virtual_servers: Vec<TrackVirtualServer>,
    /// `track_bfd` (keepalived.conf only).
    pub track_bfds: Vec<crate::bfd::TrackBfdRef>,
    /// `dont_track_primary`: the instance's own interface going down does not mean FAULT.
    pub dont_track_primary: bool,
    /// `skip_check_adv_addr` (or global `vrrp_skip_check_adv_addr`): adverts from the
    /// master already seen are not checked against our address list.
    pub skip_check_adv_addr: bool,
    /// The pause between the messages of an announcement (the global setting); see
    /// [`announce_pacing_on`](Self::announce_pacing_on).
    pub announce_pacing: AnnouncePacing,
    /// The global `garp_group` blocks.
    pub garp_groups: Vec<GarpGroup>,
    /// keepalived's election options beyond the RFCs.
    pub election: ElectionOptions,
    pub notify: Notify,
    /// `garp_master_*`, defaulting to the global `vrrp_garp_master_*`.
    pub announce: AnnounceConfig,
    /// `v3_checksum_as_v2`: VRRPv3 over IPv4 without the pseudo-header.
    pub checksum_mode: ChecksumMode,
    /// `virtual_routes`, `virtual_rules` (there while master) and `promote_secondaries`.
    pub routing: crate::routing::InstanceRouting,
    /// `use_vmac` / `use_ipvlan`: the interface the instance owns for its addresses.
    pub vmac: Option<crate::vmac::VirtualLink>,
    /// `use_vmac_addr` and the links of addresses that are not on the instance's own.
    pub address_links: crate::vmac::AddressLinks,
    /// `garp_extra_if` (else the global `vrrp_garp_extra_if`).
    pub garp_extra_if: Option<crate::vmac::GarpExtraIf>,
    pub location: WrittenAt,
}

impl VrrpInstance {
    /// An instance with keepalived's defaults, for callers that build one without a file
    /// (`baton vrrp -i eth0 -v 1 10.0.3.100`). Version 3 when the addresses are IPv6.
    pub fn new(
        name: impl Into<String>,
        interface: impl Into<String>,
        vrid: Vrid,
        addresses: Vec<IpAddr>,
    ) -> VrrpInstance {
        let location = Location::blank();
        let version = if addresses.first().is_some_and(IpAddr::is_ipv6) {
            Version::V3
        } else {
            Version::V2
        };
        VrrpInstance {
            name: name.into(),
            interface: interface.into(),
            vrid,
            version,
            initial_state: InitialState::Backup,
            priority: Priority::DEFAULT,
            advert_interval: Duration::from_secs(1),
            virtual_addresses: addresses
                .into_iter()
                .map(|address| VirtualAddress::new(address, location.clone()))
                .collect(),
            excluded_addresses: Vec::new(),
            source_address: None,
            track_source_address: false,
            unicast_peers: Vec::new(),
            preempt: true,
            preempt_delay: Duration::ZERO,
            accept: true,
            auth: Auth::None,
            track_interfaces: Vec::new(),
            track_scripts: Vec::new(),
            track_files: Vec::new(),
            track_processes: Vec::new(),
            track_frontends: Vec::new(),
            track_virtual_servers: Vec::new(),
            track_bfds: Vec::new(),
            dont_track_primary: false,
            skip_check_adv_addr: false,
            announce_pacing: AnnouncePacing::default(),
            garp_groups: Vec::new(),
            election: ElectionOptions::default(),
            notify: Notify::default(),
            announce: AnnounceConfig::default(),
            checksum_mode: ChecksumMode::Standard,
            routing: crate::routing::InstanceRouting::default(),
            vmac: None,
            address_links: crate::vmac::AddressLinks::default(),
            garp_extra_if: None,
            location: location.into(),
        }
    }

    /// Where the instance's addresses go (when they name no `dev`): its virtual link, else
    /// its interface.
    pub fn address_interface(&self) -> &str {
        self.vmac.as_ref().map_or(&self.interface, |l| &l.name)
    }

    /// The device `vip` goes on: its address link, else its `dev`, except that with a
    /// virtual link an address of the instance's family on the instance's own interface
    /// goes on the link (keepalived's `vrrp_complete_instance`: `dev eth0` on an eth0
    /// instance means its vmac).
    pub fn device_of<'a>(&'a self, vip: &'a VirtualAddress) -> &'a str {
        if let Some(link) = self.address_link_of(vip) {
            return &link.name;
        }
        match vip.dev.as_deref() {
            Some(dev) if dev != self.interface => dev,
            _ if Family::of(vip.address) == self.family() => self.address_interface(),
            _ => &self.interface,
        }
    }

    /// The link of its own that `vip` goes on (`use_vmac_addr`, the address's `use_vmac`).
    pub fn address_link_of(&self, vip: &VirtualAddress) -> Option<&crate::vmac::AddressLink> {
        if !vip.use_vmac {
            return None;
        }
        let base = vip.dev.as_deref().unwrap_or(&self.interface);
        let family = Family::of(vip.address);
        let mac = crate::vmac::address_link_mac(self.vmac.as_ref(), self.vrid, family);
        self.address_links
            .links
            .iter()
            .find(|l| l.base == base && l.mac == mac)
    }

    /// Where its adverts go out and are read: its virtual link, unless `vmac_xmit_base` (or
    /// it has none).
    pub fn advert_interface(&self) -> &str {
        match &self.vmac {
            Some(link) if !link.xmit_base => &link.name,
            _ => &self.interface,
        }
    }

    /// Decided by the first virtual address, else the source address, else a unicast peer;
    /// IPv4 when there is none of them (as keepalived).
    pub fn family(&self) -> Family {
        self.virtual_addresses
            .first()
            .map(|v| v.address)
            .or(self.source_address)
            .or(self.unicast_peers.first().map(|p| p.address))
            .map_or(Family::Ipv4, Family::of)
    }

    /// The pacing of announcements on `interface`: its `garp_group`'s, else the global one.
    pub fn announce_pacing_on(&self, interface: &str) -> AnnouncePacing {
        self.garp_groups
            .iter()
            .find(|g| g.interfaces.iter().any(|i| i == interface))
            .map_or(self.announce_pacing, |g| g.pacing)
    }

    /// Every address the instance adds on becoming master: advertised ones first.
    pub fn all_addresses(&self) -> impl Iterator<Item = &VirtualAddress> {
        self.virtual_addresses
            .iter()
            .chain(&self.excluded_addresses)
    }
}

/// A virtual address with what `ip address add` would be told.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VirtualAddress {
    pub address: IpAddr,
    /// Default /32 or /128, as keepalived.
    pub prefix_len: u8,
    /// `brd`: IPv4 broadcast address (`+` and `-` are resolved against the prefix).
    pub broadcast: Option<Ipv4Addr>,
    /// `dev`: interface to add the address to; `None`: the instance's interface.
    pub dev: Option<String>,
    /// `label`: the address label (`eth0:1`).
    pub label: Option<String>,
    pub scope: Option<Scope>,
    /// `no_track`: the address's interface going down does not put the instance in FAULT.
    pub no_track: bool,
    /// IFA_F_* flags of `noprefixroute`, `autojoin`, `mngtmpaddr` and `home`.
    pub flags: u32,
    /// `preferred_lft N` (seconds; `forever` is u32::MAX); `None`: the kernel's default.
    pub preferred_lft: Option<u32>,
    /// `use_vmac` as written; once its instance is complete, whether the address goes on a
    /// link of its own (an [`AddressLink`](crate::vmac::AddressLink) of its instance).
    pub use_vmac: bool,
    pub location: WrittenAt,
}

impl VirtualAddress {
    /// A host address (/32 or /128) on the instance's interface.
    pub fn new(address: IpAddr, location: Location) -> VirtualAddress {
        VirtualAddress {
            address,
            prefix_len: if address.is_ipv6() { 128 } else { 32 },
            broadcast: None,
            dev: None,
            label: None,
            scope: None,
            no_track: false,
            flags: 0,
            preferred_lft: None,
            use_vmac: false,
            location: location.into(),
        }
    }
}

/// `scope` of an address, as `ip address` spells it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Scope {
    Global,
    Site,
    Link,
    Host,
    Nowhere,
}

impl Scope {
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Global => "global",
            Scope::Site => "site",
            Scope::Link => "link",
            Scope::Host => "host",
            Scope::Nowhere => "nowhere",
        }
    }

    /// The value of `ifa_scope` (rtnetlink `RT_SCOPE_*`).
    pub fn rt_scope(self) -> u8 {
        match self {
            Scope::Global => 0,
            Scope::Site => 200,
            Scope::Link => 253,
            Scope::Host => 254,
            Scope::Nowhere => 255,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnicastPeer {
    pub address: IpAddr,
    /// keepalived's `min_ttl` / `max_ttl`: the TTLs accepted from this peer (any by
    /// default, as keepalived does for unicast adverts).
    pub ttl: RangeInclusive<u8>,
    pub location: WrittenAt,
}

/// Scripts run on state changes.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Notify {
    pub master: Option<NotifyScript>,
    pub backup: Option<NotifyScript>,
    pub fault: Option<NotifyScript>,
    /// Run when the instance stops (instances only; keepalived accepts it on groups too).
    pub stop: Option<NotifyScript>,
    /// keepalived's plain `notify`: run on every change, after the specific one, with four
    /// more arguments: `INSTANCE`|`GROUP`, the name, the new state, the priority.
    pub any: Option<NotifyScript>,
    /// `notify_master_rx_lower_pri` (instances): run when the instance, as master, hears a
    /// lower-priority advert (at most once per advert interval).
    pub master_rx_lower_pri: Option<NotifyScript>,
    /// `notify_deleted [SCRIPT]` (instances): an instance a reload removes is reported
    /// `DELETED` (running this script, if given) instead of keepalived's default `FAULT`.
    pub deleted: Option<NotifyScript>,
    /// `notify_deleted` was written, with or without a script.
    pub notify_deleted: bool,
    /// `notify_priority_changes [BOOL]` (instances, sync groups): effective priority
    /// changes go to the notify FIFOs too. `None`: the sync group's setting, else
    /// [`Global::notify_priority_changes`](crate::Global::notify_priority_changes).
    pub priority_changes: Option<bool>,
    /// `smtp_alert [BOOL]` (instances, sync groups): e-mail on each change. `None`: the
    /// global default, see [`crate::SmtpAlerts::for_vrrp`].
    pub smtp_alert: Option<bool>,
}

impl Notify {
    pub fn is_empty(&self) -> bool {
        self == &Notify::default()
    }
}

/// keepalived's `vrrp_sync_group`: instances that are MASTER, BACKUP or FAULT together.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncGroup {
    pub name: String,
    /// Instance names, each in at most one group.
    pub members: Vec<String>,
    pub notify: Notify,
    /// Tracked by every member.
    pub track_interfaces: Vec<TrackInterface>,
    pub track_scripts: Vec<TrackScriptRef>,
    pub track_files: Vec<TrackFileRef>,
    pub track_processes: Vec<crate::track_process::TrackProcessRef>,
    pub track_bfds: Vec<crate::bfd::TrackBfdRef>,
    /// `sync_group_tracking_weight`: members keep the weights of their own tracked
    /// objects. Without it keepalived zeroes or ignores them (see
    /// [`Config::tracks`](crate::Config::tracks)).
    pub tracking_weight: bool,
    pub location: WrittenAt,
}

/// The top-level `static_ipaddress`, `static_routes` and `static_rules`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct StaticRouting {
    /// Each with its device (the line's `dev`, else `default_interface`).
    pub addresses: Vec<StaticAddress>,
    pub routes: Vec<crate::routing::Route>,
    pub rules: Vec<crate::routing::Rule>,
}

/// A `static_ipaddress` line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StaticAddress {
    pub address: VirtualAddress,
    pub dev: String,
    pub track_group: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vrid(n: u8) -> Vrid {
        Vrid::new(n).expect("non-zero")
    }

    #[test]
    fn new_instances_have_keepalived_defaults() {
        let v4 = VrrpInstance::new(
            "VI_1",
            "eth0",
            vrid(1),
            vec!["10.0.3.100".parse().expect("literal")],
        );
        assert_eq!(v4.version, Version::V2);
        assert_eq!(v4.family(), Family::Ipv4);
        assert_eq!(v4.virtual_addresses[0].prefix_len, 32);
        assert!(v4.preempt && v4.accept);
        let v6 = VrrpInstance::new(
            "VI_6",
            "eth0",
            vrid(6),
            vec!["fe80::1".parse().expect("literal")],
        );
        assert_eq!(v6.version, Version::V3);
        assert_eq!(v6.family(), Family::Ipv6);
        assert_eq!(v6.virtual_addresses[0].prefix_len, 128);
        let none = VrrpInstance::new("VI_0", "eth0", vrid(2), Vec::new());
        assert_eq!(none.family(), Family::Ipv4);
    }

    #[test]
    fn scopes_match_rtnetlink() {
        assert_eq!(Scope::Link.rt_scope(), 253);
        assert_eq!(Scope::Host.as_str(), "host");
    }
}
