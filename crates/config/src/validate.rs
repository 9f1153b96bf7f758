//! Checks shared by both front ends. Each reports at the line of the setting at fault and
//! none stops the others, so one `baton check` lists everything.

mod proxy;

use std::collections::HashMap;

use baton_vrrp::{Auth, Centiseconds, ChecksumMode, Seconds, Version};

use crate::diagnostic::{At, Diagnostics, Location};
use crate::model::{Config, Family, TrackFileRef, TrackScriptRef, VrrpInstance};

pub(crate) use proxy::{backends, frontends};

pub(crate) use crate::values::seconds;

/// Where the settings that later checks complain about were written (the spec builder
/// records them as it reads an instance).
#[derive(Debug, Clone, Default)]
pub(crate) struct Sites {
    pub(crate) version: Option<Location>,
    pub(crate) advert_int: Option<Location>,
    pub(crate) auth: Option<Location>,
    pub(crate) source: Option<Location>,
    pub(crate) v3_checksum_as_v2: Option<Location>,
}

/// What one instance's settings must agree on.
pub(crate) fn instance(i: &VrrpInstance, sites: &Sites, d: &mut Diagnostics) {
    let name = &i.name;
    let family = i.family();
    let at = |site: &Option<Location>| site.clone().unwrap_or_else(|| Location::clone(&i.location));

    // IFNAMSIZ: the kernel's names are at most 15 bytes.
    let too_long = |interface: &str| interface.len() > 15;
    if too_long(&i.interface) {
        d.error(
            &i.location,
            format!(
                "instance {name}: interface name '{}' is longer than 15 characters",
                i.interface
            ),
        );
    }
    // A loopback interface has no link to advertise on; keepalived 2.2.7 drops the setting
    // ("cannot use a loopback interface (lo) for vrrp - ignoring") and then refuses the
    // instance as one without an interface.
    if i.interface == "lo" {
        d.error(
            &i.location,
            format!(
                "instance {name}: cannot use the loopback interface (lo) for VRRP; keepalived \
                 2.2.7 refuses the instance too"
            ),
        );
    }
    for t in i.track_interfaces.iter().filter(|t| too_long(&t.name)) {
        d.error(
            &t.location,
            format!(
                "instance {name}: track_interface '{}' is longer than 15 characters",
                t.name
            ),
        );
    }
    for v in i.all_addresses() {
        if let Some(dev) = v.dev.as_deref().filter(|dev| too_long(dev)) {
            d.error(
                &v.location,
                format!("instance {name}: dev '{dev}' is longer than 15 characters"),
            );
        }
    }

    if let Some(first) = i.virtual_addresses.first() {
        for vip in &i.virtual_addresses[1..] {
            if Family::of(vip.address) != family {
                d.error(
                    &vip.location,
                    format!(
                        "instance {name}: virtual_ipaddress {} is {} but {} is {family}; \
                         addresses of the other family go in virtual_ipaddress_excluded",
                        vip.address,
                        Family::of(vip.address),
                        first.address
                    ),
                );
            }
        }
    }
    if i.virtual_addresses.len() > 255 {
        d.error(
            &i.location,
            format!(
                "instance {name}: {} virtual addresses do not fit in an advertisement (255 at \
                 most); put the others in virtual_ipaddress_excluded",
                i.virtual_addresses.len()
            ),
        );
    }
    if i.version == Version::V2 && family == Family::Ipv6 {
        d.error(
            &at(&sites.version),
            format!("instance {name}: VRRPv2 is IPv4 only (RFC 3768); use version 3 for IPv6"),
        );
    }
    match i.version {
        Version::V2 if Seconds::from_duration(i.advert_interval).is_none() => d.error(
            &at(&sites.advert_int),
            format!(
                "instance {name}: advert_int {} is not valid for VRRPv2, which needs whole \
                 seconds from 1 to 255",
                seconds(i.advert_interval)
            ),
        ),
        Version::V3 if Centiseconds::from_duration(i.advert_interval).is_none() => d.error(
            &at(&sites.advert_int),
            format!(
                "instance {name}: advert_int {} is not valid for VRRPv3, which needs a \
                 multiple of 0.01 from 0.01 to 40.95 seconds",
                seconds(i.advert_interval)
            ),
        ),
        _ => {}
    }
    if i.version == Version::V3 && i.auth != Auth::None {
        d.error(
            &at(&sites.auth),
            format!(
                "instance {name}: VRRPv3 has no authentication (RFC 5798); remove the \
                 authentication block or use version 2"
            ),
        );
    }
    if let Some(source) = i.source_address.filter(|s| Family::of(*s) != family) {
        d.error(
            &at(&sites.source),
            format!(
                "instance {name}: source address {source} is {} but the instance is {family}",
                Family::of(source)
            ),
        );
    }
    for peer in &i.unicast_peers {
        if Family::of(peer.address) != family {
            d.error(
                &peer.location,
                format!(
                    "instance {name}: unicast_peer {} is {} but the instance is {family}",
                    peer.address,
                    Family::of(peer.address)
                ),
            );
        }
    }
    // keepalived logs "the first IPv6 VIP address should be link local" (RFC 5798 §5.2.9).
    let first_v6 = i.virtual_addresses.first().filter(|v| match v.address {
        std::net::IpAddr::V6(v6) => !v6.is_unicast_link_local(),
        std::net::IpAddr::V4(_) => false,
    });
    if let Some(first) = first_v6.filter(|_| i.unicast_peers.is_empty()) {
        d.warn(
            &first.location,
            format!(
                "instance {name}: the first IPv6 virtual address should be link-local \
                 (RFC 5798 §5.2.9)"
            ),
        );
    }
    let pointless = i.checksum_mode == ChecksumMode::V3AsV2
        && (i.version != Version::V3 || family != Family::Ipv4);
    if let Some(site) = sites.v3_checksum_as_v2.as_ref().filter(|_| pointless) {
        d.warn(
            site,
            format!("instance {name}: v3_checksum_as_v2 only applies to VRRPv3 over IPv4"),
        );
    }
}

/// The names of everything defined, valid or not, with where.
#[derive(Debug)]
pub(crate) struct Names {
    pub(crate) instances: Vec<(String, Location)>,
    pub(crate) scripts: Vec<(String, Location)>,
    pub(crate) track_files: Vec<(String, Location)>,
    pub(crate) sync_groups: Vec<(String, Location)>,
    pub(crate) frontends: Vec<(String, Location)>,
    pub(crate) backends: Vec<(String, Location)>,
    pub(crate) virtual_server_groups: Vec<(String, Location)>,
}

impl Names {
    fn has(list: &[(String, Location)], name: &str) -> bool {
        list.iter().any(|(n, _)| n == name)
    }
}

/// Every name is defined once.
pub(crate) fn names(names: &Names, d: &mut Diagnostics) {
    unique(d, "instance", &names.instances);
    unique(d, "script", &names.scripts);
    unique(d, "track file", &names.track_files);
    unique(d, "sync group", &names.sync_groups);
    unique(d, "frontend", &names.frontends);
    unique(d, "backend", &names.backends);
    unique(d, "virtual_server_group", &names.virtual_server_groups);
}

/// What instances, scripts, files and groups must agree on between themselves. `complete`
/// says, per instance, whether its interface and VRID are real (not placeholders);
/// `members` are the sync groups' member lists with their lines.
pub(crate) fn config(
    config: &Config,
    names: &Names,
    complete: &[bool],
    members: &[Vec<At<String>>],
    d: &mut Diagnostics,
) {
    let mut routers: HashMap<(&str, u8, Family), &VrrpInstance> = HashMap::new();
    for (i, whole) in config.instances.iter().zip(complete) {
        let key = (i.interface.as_str(), i.vrid.get(), i.family());
        match routers.get(&key) {
            _ if !whole => {}
            Some(first) if first.name != i.name => d.error(
                &i.location,
                format!(
                    "instance {}: VRID {} on {} ({}) is already used by instance {} at {}",
                    i.name, key.1, key.0, key.2, first.name, first.location
                ),
            ),
            Some(_) => {}
            None => {
                routers.insert(key, i);
            }
        }
        let what = format!("instance {}", i.name);
        references(names, &what, &i.track_scripts, &i.track_files, d);
        for f in &i.track_frontends {
            if !Names::has(&names.frontends, &f.name) {
                d.error(
                    &f.location,
                    format!("{what}: track_frontend {0}: no frontend named {0}", f.name),
                );
            }
        }
        for t in &i.track_virtual_servers {
            if config.virtual_server(&t.name).is_none() {
                d.error(
                    &t.location,
                    format!(
                        "{what}: track_virtual_server {0}: no virtual server named {0}",
                        t.name
                    ),
                );
            }
        }
    }

    let mut group_of: HashMap<&str, &str> = HashMap::new();
    for (group, members) in config.sync_groups.iter().zip(members) {
        if members.is_empty() {
            d.error(
                &group.location,
                format!(
                    "sync group {}: no member instances ('group' block)",
                    group.name
                ),
            );
        }
        for member in members {
            let m = member.value.as_str();
            if !Names::has(&names.instances, m) {
                d.error(
                    &member.at,
                    format!("sync group {}: no instance named {m}", group.name),
                );
            } else if let Some(other) = group_of.get(m) {
                let message = if *other == group.name {
                    format!("sync group {}: instance {m} is listed twice", group.name)
                } else {
                    format!(
                        "sync group {}: instance {m} is already in sync group {other}",
                        group.name
                    )
                };
                d.error(&member.at, message);
            } else {
                group_of.insert(m, &group.name);
            }
        }
        let what = format!("sync group {}", group.name);
        references(names, &what, &group.track_scripts, &group.track_files, d);
    }
    interface_names(config, d);
}

/// IFNAMSIZ - 1: the kernel's interface names are at most 15 bytes.
const MAX_INTERFACE_NAME: usize = 15;

/// The interface names the instance checks do not cover, each at its line: a longer name
/// is no interface's, and the kernel answers a lookup of one with an error that does not
/// say so (ERANGE from rtnetlink's policy; SO_BINDTODEVICE truncates it to 15 bytes).
/// keepalived finds no such interface and ignores the line with a warning (with
/// `dynamic_interfaces` it keeps the name cut to 15 bytes), so an error here is stricter.
fn interface_names(config: &Config, d: &mut Diagnostics) {
    let mut check = |at: &Location, what: String, name: &str| {
        if name.len() > MAX_INTERFACE_NAME {
            d.error(
                at,
                format!(
                    "{what} '{name}' is longer than {MAX_INTERFACE_NAME} characters, the \
                     kernel's limit for an interface name"
                ),
            );
        }
    };
    for group in &config.global.garp_groups {
        for name in &group.interfaces {
            check(&group.location, "garp_group: interface".into(), name);
        }
    }
    for group in &config.sync_groups {
        for t in &group.track_interfaces {
            let what = format!("sync group {}: track_interface", group.name);
            check(&t.location, what, &t.name);
        }
    }
    for a in &config.static_routing.addresses {
        check(&a.address.location, "static_ipaddress: dev".into(), &a.dev);
    }
    let routing = config
        .instances
        .iter()
        .map(|i| {
            (
                format!("instance {}: ", i.name),
                &i.routing.routes,
                &i.routing.rules,
            )
        })
        .chain(std::iter::once((
            String::new(),
            &config.static_routing.routes,
            &config.static_routing.rules,
        )));
    for (what, routes, rules) in routing {
        for r in routes {
            let devs = r
                .dev
                .iter()
                .chain(r.nexthops.iter().filter_map(|n| n.dev.as_ref()));
            for dev in devs {
                check(
                    &r.location,
                    format!(
                        "{what}route {}/{}: dev",
                        r.destination.address, r.destination.len
                    ),
                    dev,
                );
            }
        }
        for r in rules {
            for (key, dev) in [("iif", &r.iif), ("oif", &r.oif)] {
                if let Some(dev) = dev {
                    check(&r.location, format!("{what}rule: {key}"), dev);
                }
            }
        }
    }
}

fn unique(d: &mut Diagnostics, kind: &str, items: &[(String, Location)]) {
    let mut seen: HashMap<&str, &Location> = HashMap::new();
    for (name, at) in items {
        if let Some(first) = seen.get(name.as_str()) {
            d.error(
                at,
                format!("{kind} {name} is defined twice (first at {first})"),
            );
        } else {
            seen.insert(name, at);
        }
    }
}

fn references(
    names: &Names,
    what: &str,
    scripts: &[TrackScriptRef],
    files: &[TrackFileRef],
    d: &mut Diagnostics,
) {
    for s in scripts {
        if !Names::has(&names.scripts, &s.name) {
            d.error(
                &s.location,
                format!("{what}: track_script {0}: no vrrp_script named {0}", s.name),
            );
        }
    }
    for f in files {
        if !Names::has(&names.track_files, &f.name) {
            d.error(
                &f.location,
                format!("{what}: track_file {0}: no track_file named {0}", f.name),
            );
        }
    }
}
