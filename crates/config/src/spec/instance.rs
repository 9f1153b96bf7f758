//! A `vrrp_instance` as read, and the [`VrrpInstance`] it resolves into: keepalived's
//! defaults in keepalived's order, the instance's checks in `validate`.

use std::net::IpAddr;
use std::time::Duration;

use baton_vrrp::{Auth, ChecksumMode, Password, Priority, Version, Vrid};

use crate::diagnostic::At;
use crate::diagnostic::{Diagnostics, Location};
use crate::election::ElectionDraft;
use crate::model::{
    Global, InitialState, Notify, TrackFileRef, TrackFrontend, TrackInterface, TrackScriptRef,
    TrackVirtualServer, UnicastPeer, VirtualAddress, VrrpInstance,
};
use crate::validate::Sites;

use super::GarpDraft;
use super::strict_mode;

#[derive(Debug)]
pub(crate) struct InstanceDraft {
    pub(crate) name: String,
    pub(crate) location: Location,
    pub(crate) interface: Option<String>,
    pub(crate) vrid: Option<Vrid>,
    /// `interface` / `virtual_router_id` were written, valid or not: when not valid, the
    /// front end said so and "missing" would be one error too many.
    pub(crate) interface_given: bool,
    pub(crate) vrid_given: bool,
    pub(crate) version: Option<At<Version>>,
    pub(crate) state: Option<InitialState>,
    pub(crate) priority: Option<u8>,
    pub(crate) advert_int: Option<At<Duration>>,
    pub(crate) virtual_addresses: Vec<VirtualAddress>,
    pub(crate) excluded_addresses: Vec<VirtualAddress>,
    pub(crate) no_virtual_ipaddress: bool,
    /// A `virtual_ipaddress` block with entries was written, valid or not.
    pub(crate) virtual_ipaddress_given: bool,
    pub(crate) source_address: Option<At<IpAddr>>,
    /// Where `track_src_ip` was written.
    pub(crate) track_src_ip: Option<Location>,
    pub(crate) unicast_peers: Vec<UnicastPeer>,
    /// Set by `nopreempt` (true) and `preempt` (false), the last one winning.
    pub(crate) nopreempt: Option<At<bool>>,
    pub(crate) preempt_delay: Option<At<Duration>>,
    pub(crate) accept: Option<bool>,
    pub(crate) auth: Option<AuthDraft>,
    pub(crate) track_interfaces: Vec<TrackInterface>,
    pub(crate) track_scripts: Vec<TrackScriptRef>,
    pub(crate) track_files: Vec<TrackFileRef>,
    pub(crate) track_processes: Vec<crate::track_process::TrackProcessRef>,
    pub(crate) track_frontends: Vec<TrackFrontend>,
    pub(crate) track_virtual_servers: Vec<TrackVirtualServer>,
    pub(crate) track_bfds: Vec<crate::bfd::TrackBfdRef>,
    pub(crate) dont_track_primary: bool,
    pub(crate) skip_check_adv_addr: bool,
    /// Where `native_ipv6` was written: the instance must be IPv6.
    pub(crate) native_ipv6: Option<Location>,
    pub(crate) election: ElectionDraft,
    pub(crate) notify: Notify,
    pub(crate) garp: GarpDraft,
    pub(crate) v3_checksum_as_v2: Option<At<bool>>,
    /// `strict_mode`: `None` follows the global `vrrp_strict`.
    pub(crate) strict_mode: Option<bool>,
    /// `virtual_routes`, `virtual_rules`, `promote_secondaries`.
    pub(crate) routing: crate::routing::InstanceRouting,
    pub(crate) vmac: crate::vmac::VmacDraft,
}

impl InstanceDraft {
    pub(crate) fn new(name: String, location: Location) -> InstanceDraft {
        InstanceDraft {
            name,
            location,
            interface: None,
            vrid: None,
            interface_given: false,
            vrid_given: false,
            version: None,
            state: None,
            priority: None,
            advert_int: None,
            virtual_addresses: Vec::new(),
            excluded_addresses: Vec::new(),
            no_virtual_ipaddress: false,
            virtual_ipaddress_given: false,
            source_address: None,
            track_src_ip: None,
            unicast_peers: Vec::new(),
            nopreempt: None,
            preempt_delay: None,
            accept: None,
            auth: None,
            track_interfaces: Vec::new(),
            track_scripts: Vec::new(),
            track_files: Vec::new(),
            track_processes: Vec::new(),
            track_frontends: Vec::new(),
            track_virtual_servers: Vec::new(),
            track_bfds: Vec::new(),
            dont_track_primary: false,
            skip_check_adv_addr: false,
            native_ipv6: None,
            election: ElectionDraft::default(),
            notify: Notify::default(),
            garp: GarpDraft::default(),
            v3_checksum_as_v2: None,
            strict_mode: None,
            routing: crate::routing::InstanceRouting::default(),
            vmac: crate::vmac::VmacDraft::default(),
        }
    }
}

/// `authentication { auth_type PASS  auth_pass SECRET }`; `auth_type AH` is refused by the
/// front ends.
#[derive(Debug, Clone)]
pub(crate) struct AuthDraft {
    pub(crate) location: Location,
    pub(crate) pass_type: bool,
    pub(crate) pass: Option<At<String>>,
}

/// Defaults in keepalived's order (`vrrp_complete_instance`), with its adjustments turned
/// into warnings. Missing `interface` / `virtual_router_id` are errors; the instance is
/// still built (with placeholders, and `false` for "complete") so that its other settings
/// are checked too.
pub(super) fn resolve_instance(
    mut i: InstanceDraft,
    global: &Global,
    strict: bool,
    d: &mut Diagnostics,
) -> (VrrpInstance, Sites, bool) {
    let name = i.name.clone();
    let at = i.location.clone();
    if !i.interface_given {
        d.error(
            &at,
            format!(
                "instance {name}: no interface; keepalived 2.2.7 refuses every instance without \
                 one too (\"({name}) Unknown interface!\"), whatever its unicast_src_ip, \
                 default_interface or its addresses' dev say"
            ),
        );
    }
    if !i.vrid_given {
        d.error(&at, format!("instance {name}: no virtual_router_id"));
    }
    let complete = i.interface.is_some() && i.vrid.is_some();
    let interface = i.interface.take().unwrap_or_default();
    let vrid = i.vrid.unwrap_or(Vrid::new(1).expect("not 0"));

    let ipv6 = i
        .virtual_addresses
        .first()
        .map(|v| v.address)
        .or(i.source_address.as_ref().map(|s| s.value))
        .or(i.unicast_peers.first().map(|p| p.address))
        .is_some_and(|a| a.is_ipv6());
    if let Some(at) = &i.native_ipv6
        && !ipv6
    {
        d.error(
            at,
            format!(
                "instance {name}: native_ipv6 needs IPv6 addresses (keepalived: \"Cannot specify native_ipv6 with IPv4 addresses\"); baton takes an instance's family from its addresses, so an IPv6 one needs no native_ipv6"
            ),
        );
    }
    // keepalived.conf(5): "default is global parameter vrrp_version, but IPv6 instances will
    // always use version 3" (an explicit `version 2` with IPv6 is refused by validation).
    let version = match (&i.version, ipv6) {
        (Some(v), _) => v.value,
        (None, true) => Version::V3,
        (None, false) => global.vrrp_version,
    };
    strict_mode::enforce(&mut i, strict, version, d);
    // "If no priority has been set, derive it from the initial state" and the reverse.
    let priority = i.priority.unwrap_or(match i.state {
        Some(InitialState::Master) => 255,
        _ => Priority::DEFAULT.get(),
    });
    let initial_state = i.state.unwrap_or(if priority == 255 {
        InitialState::Master
    } else {
        InitialState::Backup
    });

    let mut preempt = !i.nopreempt.as_ref().is_some_and(|n| n.value);
    let nopreempt_at = i.nopreempt.as_ref().map_or(&at, |n| &n.at).clone();
    if !preempt && priority == 255 {
        d.warn(
            &nopreempt_at,
            format!("instance {name}: nopreempt does not apply to the address owner (priority 255); ignored"),
        );
        preempt = true;
    }
    if !preempt && initial_state == InitialState::Master {
        d.warn(
            &nopreempt_at,
            format!("instance {name}: nopreempt does not work with state MASTER; ignored (write state BACKUP)"),
        );
        preempt = true;
    }
    let mut preempt_delay = i.preempt_delay.as_ref().map_or(Duration::ZERO, |p| p.value);
    if let Some(delay) = i.preempt_delay.as_ref().filter(|p| !p.value.is_zero()) {
        if initial_state == InitialState::Master {
            d.warn(
                &delay.at,
                format!("instance {name}: preempt_delay does not work with state MASTER; ignored"),
            );
            preempt_delay = Duration::ZERO;
        } else if !preempt {
            d.warn(
                &delay.at,
                format!("instance {name}: preempt_delay has no effect with nopreempt; ignored"),
            );
            preempt_delay = Duration::ZERO;
        }
    }

    let auth = match &i.auth {
        None => Auth::None,
        Some(a) => match (&a.pass, a.pass_type) {
            (Some(pass), true) => {
                if pass.value.len() > 8 {
                    d.warn(
                        &pass.at,
                        format!(
                            "instance {name}: auth_pass is longer than 8 characters; only the \
                             first 8 are used (as keepalived)"
                        ),
                    );
                }
                if pass.value.is_empty() {
                    d.error(&pass.at, format!("instance {name}: auth_pass is empty"));
                }
                Auth::SimpleText(Password::new(&pass.value))
            }
            (None, true) => {
                d.error(
                    &a.location,
                    format!("instance {name}: auth_type PASS without auth_pass"),
                );
                Auth::None
            }
            (Some(_), false) => {
                d.error(
                    &a.location,
                    format!("instance {name}: auth_pass without auth_type PASS"),
                );
                Auth::None
            }
            (None, false) => {
                d.error(
                    &a.location,
                    format!("instance {name}: empty authentication block"),
                );
                Auth::None
            }
        },
    };

    let v3_as_v2 = i
        .v3_checksum_as_v2
        .as_ref()
        .map_or(global.v3_checksum_as_v2, |v| v.value);
    let sites = Sites {
        version: i.version.map(|v| v.at),
        advert_int: i.advert_int.as_ref().map(|a| a.at.clone()),
        auth: i.auth.map(|a| a.location),
        source: i.source_address.as_ref().map(|s| s.at.clone()),
        v3_checksum_as_v2: i.v3_checksum_as_v2.map(|v| v.at),
    };
    if i.virtual_addresses.is_empty() && !i.no_virtual_ipaddress {
        if version == Version::V3 && !i.virtual_ipaddress_given {
            d.error(
                &at,
                format!(
                    "instance {name}: no virtual_ipaddress; VRRPv3 needs at least one \
                     (no_virtual_ipaddress allows none)"
                ),
            );
        } else if !i.virtual_ipaddress_given {
            d.warn(&at, format!("instance {name}: no virtual_ipaddress"));
        }
    }
    let facts = crate::vmac::InstanceFacts {
        name: &name,
        at: &at,
        family: if ipv6 {
            crate::Family::Ipv6
        } else {
            crate::Family::Ipv4
        },
        unicast: !i.unicast_peers.is_empty(),
        strict: i.strict_mode.unwrap_or(strict),
    };
    let use_vmac_addr = i.vmac.use_vmac_addr.is_some();
    let (vmac, garp_extra_if) = std::mem::take(&mut i.vmac).resolve(&global.vmac, facts, d);
    let election = i.election.resolve(
        &global.election,
        (&name, !i.unicast_peers.is_empty(), ipv6),
        d,
    );
    // keepalived: an ipvlan's address is the adverts' source unless one is written.
    let source_address = i.source_address.map(|s| s.value).or_else(|| {
        vmac.as_ref()
            .and_then(crate::vmac::VirtualLink::own_address)
    });
    let track_source_address =
        crate::source_tracking::resolve(i.track_src_ip, source_address, &name, d);
    let instance = VrrpInstance {
        name,
        interface,
        vrid,
        version,
        initial_state,
        priority: Priority::new(priority),
        advert_interval: i.advert_int.map_or(Duration::from_secs(1), |a| a.value),
        virtual_addresses: i.virtual_addresses,
        excluded_addresses: i.excluded_addresses,
        source_address,
        track_source_address,
        unicast_peers: i.unicast_peers,
        preempt,
        preempt_delay,
        // keepalived: "If accept/no accept is not specified", accept unless vrrp_strict.
        accept: i.accept.unwrap_or(true),
        auth,
        track_interfaces: i.track_interfaces,
        track_scripts: i.track_scripts,
        track_files: i.track_files,
        track_processes: i.track_processes,
        track_frontends: i.track_frontends,
        track_virtual_servers: i.track_virtual_servers,
        track_bfds: i.track_bfds,
        dont_track_primary: i.dont_track_primary,
        // keepalived: the global setting turns it on for every instance.
        skip_check_adv_addr: i.skip_check_adv_addr || global.skip_check_adv_addr,
        announce_pacing: global.announce_pacing,
        garp_groups: global.garp_groups.clone(),
        election,
        notify: i.notify,
        announce: i.garp.over(global.announce),
        checksum_mode: if v3_as_v2 {
            ChecksumMode::V3AsV2
        } else {
            ChecksumMode::Standard
        },
        vmac,
        address_links: crate::vmac::AddressLinks {
            use_vmac_addr,
            links: Vec::new(),
        },
        garp_extra_if,
        routing: i.routing,
        location: at.into(),
    };
    (instance, sites, complete)
}
