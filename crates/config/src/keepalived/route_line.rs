//! One line of `virtual_routes` / `static_routes`, read as keepalived 2.2.7's `alloc_route`
//! (`vrrp_iproute.c`) reads it: `[to] [TYPE] PREFIX` and options in any order, then
//! optional `nexthop ...` groups. Options keepalived takes that baton does not act on are
//! refused by name, so no route is installed with less than the file says.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::diagnostic::Location;
use crate::keepalived::rt_names::{RtNames, c_number, route_type};
use crate::routing::{Nexthop, PROTOCOL_KEEPALIVED, Prefix, Route, RouteMode};
use crate::values::parse_ip;

/// RTAX_* numbers of the metrics baton sets.
const RTAX_MTU: u16 = 2;
const RTAX_WINDOW: u16 = 3;
const RTAX_SSTHRESH: u16 = 6;
const RTAX_CWND: u16 = 7;
const RTAX_ADVMSS: u16 = 8;
const RTAX_REORDERING: u16 = 9;
const RTAX_HOPLIMIT: u16 = 10;
const RTAX_INITCWND: u16 = 11;
const RTAX_INITRWND: u16 = 14;

/// Route options keepalived 2.2.7 takes that baton refuses, and why.
const REFUSED: &[(&str, &str)] = &[
    ("encap", "lightweight tunnel encapsulation is not supported"),
    (
        "as",
        "MPLS 'as to' is not supported (keepalived ignores it too)",
    ),
    ("expires", "route expiry is not supported"),
    ("rtt", "the rtt metric is not supported"),
    ("rttvar", "the rttvar metric is not supported"),
    ("rto_min", "the rto_min metric is not supported"),
    ("features", "route features are not supported"),
    ("quickack", "quickack is not supported"),
    ("congctl", "congctl is not supported"),
    ("pref", "IPv6 router preference is not supported"),
    ("ttl-propagate", "ttl-propagate (MPLS) is not supported"),
    ("fastopen_no_cookie", "fastopen_no_cookie is not supported"),
    ("realms", "realms are not supported"),
    ("vrf", "VRFs are not supported"),
];

/// What a line gives: the route, and keepalived's warnings about it.
pub(crate) struct Parsed<T> {
    pub(crate) value: T,
    pub(crate) warnings: Vec<String>,
}

/// Family bookkeeping shared by the route and rule readers: the first address fixes it.
#[derive(Default)]
pub(crate) struct FamilyOf(Option<bool>);

impl FamilyOf {
    pub(crate) fn set(&mut self, ipv6: bool, what: &str) -> Result<(), String> {
        match self.0 {
            Some(known) if known != ipv6 => {
                Err(format!("cannot mix IPv4 and IPv6 addresses ({what})"))
            }
            _ => {
                self.0 = Some(ipv6);
                Ok(())
            }
        }
    }

    pub(crate) fn ipv6(&self) -> bool {
        self.0.unwrap_or(false)
    }
}

/// keepalived's `parse_route`: `default` / `any` / `all` (family from the rest of the
/// line), `default6`, or ADDR[/LEN] (the full length without one).
pub(crate) fn parse_prefix(text: &str) -> Result<Option<Prefix>, String> {
    match text {
        "default" | "any" | "all" => return Ok(None),
        "default6" => {
            return Ok(Some(Prefix {
                address: IpAddr::V6(Ipv6Addr::UNSPECIFIED),
                len: 0,
            }));
        }
        _ => {}
    }
    let (address_text, len_text) = match text.split_once('/') {
        Some((a, l)) => (a, Some(l)),
        None => (text, None),
    };
    let address = parse_ip(address_text).map_err(|_| format!("'{text}' is not an address"))?;
    let max = if address.is_ipv6() { 128 } else { 32 };
    let len = match len_text {
        Some(l) => l
            .parse::<u8>()
            .ok()
            .filter(|l| *l <= max)
            .ok_or_else(|| format!("'{text}': prefix length must be 0..={max}"))?,
        None => max,
    };
    Ok(Some(Prefix { address, len }))
}

/// The unspecified prefix of a family: what `default` becomes once the family is known.
pub(crate) fn any_prefix(ipv6: bool) -> Prefix {
    Prefix {
        address: if ipv6 {
            IpAddr::V6(Ipv6Addr::UNSPECIFIED)
        } else {
            IpAddr::V4(Ipv4Addr::UNSPECIFIED)
        },
        len: 0,
    }
}

/// Reads a route line. `static_line` allows `track_group` (and needs a `dev` for it).
pub(crate) fn parse_route(
    words: &[&str],
    names: &RtNames,
    static_line: bool,
    location: Location,
) -> Result<Parsed<Route>, String> {
    let mut warnings = Vec::new();
    let mut family = FamilyOf::default();
    let mut route = Route {
        ipv6: false,
        destination: any_prefix(false),
        kind: 1,
        table: 254,
        protocol: PROTOCOL_KEEPALIVED,
        scope: 0,
        tos: None,
        metric: None,
        dev: None,
        via: None,
        preferred_source: None,
        from: None,
        onlink: false,
        metrics: Vec::new(),
        locked: 0,
        nexthops: Vec::new(),
        mode: RouteMode::Prepend,
        no_track: false,
        track_group: None,
        location: location.into(),
    };
    let mut destination: Option<Option<Prefix>> = None;
    let mut protocol_given = None;
    let mut i = 0;
    let word = |i: usize, after: &str| {
        words
            .get(i)
            .copied()
            .ok_or_else(|| format!("'{after}' needs a value"))
    };
    while i < words.len() {
        let option = words[i];
        match option {
            "inet" | "inet6" => family.set(option == "inet6", option)?,
            "src" => {
                let text = word(i + 1, option)?;
                i += 1;
                let address =
                    parse_ip(text).map_err(|_| format!("invalid route src address {text}"))?;
                family.set(address.is_ipv6(), "src")?;
                route.preferred_source = Some(address);
            }
            "via" | "gw" => {
                if option == "gw" {
                    warnings.push("\"gw\" for routes is deprecated; use \"via\"".to_owned());
                }
                i += 1;
                let mut text = word(i, option)?;
                if text == "inet" || text == "inet6" {
                    family.set(text == "inet6", text)?;
                    i += 1;
                    text = word(i, option)?;
                }
                let address =
                    parse_ip(text).map_err(|_| format!("invalid route via address {text}"))?;
                family.set(address.is_ipv6(), "via")?;
                route.via = Some(address);
            }
            "from" => {
                let text = word(i + 1, option)?;
                i += 1;
                let prefix = parse_prefix(text)?
                    .filter(|p| p.address.is_ipv6())
                    .ok_or_else(|| {
                        format!("route from address only supported with IPv6 ({text})")
                    })?;
                family.set(true, "from")?;
                route.from = Some(prefix);
            }
            "tos" | "dsfield" => {
                let text = word(i + 1, option)?;
                i += 1;
                route.tos = Some(
                    names
                        .dsfield(text)
                        .ok_or_else(|| format!("TOS value {text} is invalid"))?,
                );
            }
            "table" => {
                let text = word(i + 1, option)?;
                i += 1;
                route.table = names
                    .table(text)
                    .ok_or_else(|| format!("routing table {text} not found for route"))?;
            }
            "protocol" => {
                let text = word(i + 1, option)?;
                i += 1;
                protocol_given =
                    Some(names.protocol(text).ok_or_else(|| {
                        format!("protocol {text} not found or invalid for route")
                    })?);
            }
            "scope" => {
                let text = word(i + 1, option)?;
                i += 1;
                route.scope = names
                    .scope(text)
                    .ok_or_else(|| format!("scope {text} not found or invalid for route"))?;
            }
            "metric" | "priority" | "preference" => {
                let text = word(i + 1, option)?;
                i += 1;
                route.metric = Some(u32_value(text, "metric")?);
            }
            "dev" | "oif" => {
                route.dev = Some(word(i + 1, option)?.to_owned());
                i += 1;
            }
            "onlink" => route.onlink = true,
            "mtu" | "advmss" | "cwnd" | "ssthresh" | "reordering" => {
                i += 1;
                let rtax = match option {
                    "mtu" => RTAX_MTU,
                    "advmss" => RTAX_ADVMSS,
                    "cwnd" => RTAX_CWND,
                    "ssthresh" => RTAX_SSTHRESH,
                    _ => RTAX_REORDERING,
                };
                if word(i, option)? == "lock" {
                    route.locked |= 1 << rtax;
                    i += 1;
                }
                route
                    .metrics
                    .push((rtax, u32_value(word(i, option)?, option)?));
            }
            "hoplimit" | "window" | "initcwnd" | "initrwnd" => {
                let text = word(i + 1, option)?;
                i += 1;
                let (rtax, max) = match option {
                    "hoplimit" => (RTAX_HOPLIMIT, 255),
                    "window" => (RTAX_WINDOW, u32::MAX),
                    "initcwnd" => (RTAX_INITCWND, u32::MAX),
                    _ => (RTAX_INITRWND, u32::MAX),
                };
                let value = u32_value(text, option)?;
                if value > max {
                    return Err(format!("invalid {option} {text} specified for route"));
                }
                route.metrics.push((rtax, value));
            }
            "add" => route.mode = RouteMode::Add,
            "prepend" => route.mode = RouteMode::Prepend,
            "append" => route.mode = RouteMode::Append,
            "or" => {
                warnings.push("\"or\" for routes is deprecated; use \"nexthop\"".to_owned());
                let text = word(i + 1, option)?;
                i += 1;
                if !route.nexthops.is_empty() {
                    warnings.push("\"or\" route already specified: this one is ignored".into());
                } else {
                    let address =
                        parse_ip(text).map_err(|_| format!("invalid \"or\" address {text}"))?;
                    let first = Nexthop {
                        via: route.via.take(),
                        dev: None,
                        hops: None,
                        onlink: false,
                    };
                    let second = Nexthop {
                        via: Some(address),
                        ..first.clone()
                    };
                    route.nexthops = vec![first, second];
                }
            }
            "nexthop" => {
                if !route.nexthops.is_empty() {
                    return Err("cannot give nexthops with an \"or\" route".into());
                }
                route.nexthops = parse_nexthops(&words[i..], &mut family)?;
                i = words.len();
                continue;
            }
            "no_track" => route.no_track = true,
            "track_group" if static_line => {
                let name = word(i + 1, option)?;
                i += 1;
                if route.track_group.is_some() {
                    return Err(format!("track_group {name} is a duplicate"));
                }
                route.track_group = Some(name.to_owned());
            }
            _ => {
                if let Some((_, why)) = REFUSED.iter().find(|(name, _)| *name == option) {
                    return Err(format!("route option '{option}' is not supported: {why}"));
                }
                if option == "to" {
                    i += 1;
                }
                let mut text = word(i, "to")?;
                if let Some(kind) = route_type(text) {
                    route.kind = kind;
                    i += 1;
                    text = word(i, option)?;
                }
                let prefix =
                    parse_prefix(text).map_err(|_| format!("unknown route keyword {text}"))?;
                if let Some(p) = prefix {
                    family.set(p.address.is_ipv6(), text)?;
                }
                destination = Some(prefix);
            }
        }
        i += 1;
    }
    let Some(destination) = destination else {
        return Err("a route must have a destination".into());
    };
    route.ipv6 = family.ipv6();
    route.destination = destination.unwrap_or_else(|| any_prefix(route.ipv6));
    match (route.no_track, protocol_given) {
        (false, Some(p)) if p != PROTOCOL_KEEPALIVED => warnings.push(format!(
            "a tracked route's protocol is keepalived ({PROTOCOL_KEEPALIVED}); protocol {p} is replaced (add no_track to keep it)"
        )),
        (true, Some(p)) => route.protocol = p,
        _ => {}
    }
    if !route.no_track && route.dev.is_none() {
        // keepalived follows a route's interface; without one there is nothing to follow.
        warnings.push(format!(
            "route {} has no dev: it is not tracked (its removal by someone else goes unnoticed)",
            words.join(" ")
        ));
        route.no_track = true;
    }
    if route.track_group.is_some() && route.dev.is_none() {
        warnings.push("a static route without dev cannot have a track_group: it is ignored".into());
        route.track_group = None;
    }
    Ok(Parsed {
        value: route,
        warnings,
    })
}

/// `nexthop via [inet|inet6] ADDR dev IF weight 1..256 onlink`, repeated to the end.
fn parse_nexthops(words: &[&str], family: &mut FamilyOf) -> Result<Vec<Nexthop>, String> {
    let mut hops = Vec::new();
    let mut i = 0;
    while words.get(i) == Some(&"nexthop") {
        i += 1;
        let mut hop = Nexthop {
            via: None,
            dev: None,
            hops: None,
            onlink: false,
        };
        while let Some(&option) = words.get(i) {
            let value = |at: usize| {
                words
                    .get(at)
                    .copied()
                    .ok_or_else(|| format!("nexthop '{option}' needs a value"))
            };
            match option {
                "via" => {
                    i += 1;
                    let mut text = value(i)?;
                    if text == "inet" || text == "inet6" {
                        family
                            .set(text == "inet6", "nexthop")
                            .map_err(|_| "IPv4/6 mismatch for nexthop".to_owned())?;
                        i += 1;
                        text = value(i)?;
                    }
                    let address =
                        parse_ip(text).map_err(|_| format!("invalid nexthop address {text}"))?;
                    family
                        .set(address.is_ipv6(), "nexthop")
                        .map_err(|_| "address family mismatch for next hop".to_owned())?;
                    hop.via = Some(address);
                }
                "dev" => {
                    i += 1;
                    hop.dev = Some(value(i)?.to_owned());
                }
                "weight" => {
                    i += 1;
                    let text = value(i)?;
                    let weight = c_number(text)
                        .filter(|w| (1..=256).contains(w))
                        .ok_or_else(|| {
                            format!("invalid weight {text} specified for route (1..=256)")
                        })?;
                    hop.hops = Some((weight - 1) as u8);
                }
                "onlink" => hop.onlink = true,
                "encap" | "realms" | "as" => {
                    return Err(format!("nexthop option '{option}' is not supported"));
                }
                _ => break,
            }
            i += 1;
        }
        hops.push(hop);
    }
    if let Some(rest) = words.get(i) {
        return Err(format!(
            "route has trailing nonsense after nexthops - {rest}"
        ));
    }
    Ok(hops)
}

/// keepalived's `get_u32`: strtoul base 0, no sign.
pub(crate) fn u32_value(text: &str, what: &str) -> Result<u32, String> {
    c_number(text)
        .and_then(|n| u32::try_from(n).ok())
        .ok_or_else(|| format!("invalid {what} {text}"))
}
