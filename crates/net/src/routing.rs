//! Routes and policy rules over rtnetlink (what `ip route add/del` and `ip rule add/del`
//! do), with the message keepalived's `netlink_route` / `netlink_rule` send, so that what
//! `ip route show` / `ip rule` print is the same whichever daemon added them.
//!
//! Both directions are idempotent: adding what is there and removing what is not succeed,
//! because a transition may be retried and a crashed run leaves its routes behind.

use std::fmt;
use std::net::IpAddr;

use futures_util::StreamExt;
use rtnetlink::Handle;
use rtnetlink::packet_core::{
    NLM_F_ACK, NLM_F_APPEND, NLM_F_CREATE, NLM_F_EXCL, NLM_F_REQUEST, NetlinkMessage,
    NetlinkPayload,
};
use rtnetlink::packet_route::route::{
    RouteAddress, RouteAttribute, RouteFlags, RouteMessage, RouteMetric, RouteNextHop,
    RouteNextHopFlags, RouteProtocol, RouteScope, RouteType,
};
use rtnetlink::packet_route::rule::{
    RuleAction, RuleAttribute, RuleFlags, RuleMessage, RulePortRange, RuleUidRange,
};
use rtnetlink::packet_route::{AddressFamily, IpProtocol, RouteNetlinkMessage};

use crate::error::Error;
use crate::netlink::{self, AbortOnDrop};

/// RTNH_F_ONLINK (also the route's `rtm_flags` for `onlink`).
const ONLINK: u32 = 4;
/// RTAX_LOCK.
const RTAX_LOCK: u16 = 1;

/// How an added route meets an existing one (`ip route prepend | add | append`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CreateMode {
    /// Neither NLM_F_EXCL nor NLM_F_APPEND: keepalived's default.
    #[default]
    Prepend,
    Exclusive,
    Append,
}

/// One hop of a multipath route.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct NexthopSpec {
    pub gateway: Option<IpAddr>,
    pub dev: Option<String>,
    /// rtnh_hops: the weight minus one.
    pub hops: Option<u8>,
    pub onlink: bool,
}

/// A route as rtnetlink is told it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteSpec {
    pub ipv6: bool,
    pub destination: (IpAddr, u8),
    /// RTN_*.
    pub kind: u8,
    pub table: u32,
    /// RTPROT_*.
    pub protocol: u8,
    /// RT_SCOPE_* of an added route (a removal asks for RT_SCOPE_NOWHERE: any scope).
    pub scope: u8,
    pub tos: Option<u8>,
    pub metric: Option<u32>,
    pub dev: Option<String>,
    pub gateway: Option<IpAddr>,
    pub preferred_source: Option<IpAddr>,
    pub source: Option<(IpAddr, u8)>,
    pub onlink: bool,
    /// (RTAX_*, value).
    pub metrics: Vec<(u16, u32)>,
    /// RTAX_LOCK bits.
    pub locked: u32,
    pub nexthops: Vec<NexthopSpec>,
    pub mode: CreateMode,
}

/// What a rule does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RuleVerdict {
    Table(u32),
    Goto(u32),
    Nop,
    Blackhole,
    Unreachable,
    Prohibit,
    L3mdev,
}

/// A policy rule as rtnetlink is told it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleSpec {
    pub ipv6: bool,
    pub from: Option<(IpAddr, u8)>,
    pub to: Option<(IpAddr, u8)>,
    pub verdict: RuleVerdict,
    pub invert: bool,
    pub preference: u32,
    pub tos: u8,
    pub fwmark: Option<(u32, Option<u32>)>,
    pub iif: Option<String>,
    pub oif: Option<String>,
    pub protocol: Option<u8>,
    pub ipproto: Option<u8>,
    pub sport: Option<(u16, u16)>,
    pub dport: Option<(u16, u16)>,
    pub suppress_prefixlength: Option<u32>,
    pub suppress_ifgroup: Option<u32>,
    pub uidrange: Option<(u32, u32)>,
}

/// A handle for adding and removing routes and rules.
pub struct Routing {
    handle: Handle,
    _task: AbortOnDrop,
}

impl fmt::Debug for Routing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Routing").finish_non_exhaustive()
    }
}

impl Routing {
    /// Opens the rtnetlink connection. Must be called from within a tokio runtime.
    pub fn new() -> Result<Routing, Error> {
        let connection = netlink::connect(&[], "opening rtnetlink for routes")?;
        drop(connection.notifications);
        Ok(Routing {
            handle: connection.handle,
            _task: connection.task,
        })
    }

    /// Adds `route`; succeeds when the kernel has it already.
    pub async fn add_route(&self, route: &RouteSpec) -> Result<(), Error> {
        let message = self.route_message(route, true).await?;
        let flags = NLM_F_CREATE
            | match route.mode {
                CreateMode::Prepend => 0,
                CreateMode::Exclusive => NLM_F_EXCL,
                CreateMode::Append => NLM_F_APPEND,
            };
        let what = || describe_route(route);
        self.send(
            RouteNetlinkMessage::NewRoute(message),
            flags,
            &[libc::EEXIST],
        )
        .await
        .map_err(|source| Error::Routing {
            what: what(),
            operation: "adding",
            source,
        })
    }

    /// Removes `route`; succeeds when the kernel does not have it (or its device is gone).
    pub async fn remove_route(&self, route: &RouteSpec) -> Result<(), Error> {
        let message = match self.route_message(route, false).await {
            Ok(message) => message,
            // No device, no route through it.
            Err(Error::NoSuchInterface { .. }) => return Ok(()),
            Err(error) => return Err(error),
        };
        self.send(
            RouteNetlinkMessage::DelRoute(message),
            0,
            &[libc::ESRCH, libc::ENOENT, libc::ENODEV],
        )
        .await
        .map_err(|source| Error::Routing {
            what: describe_route(route),
            operation: "removing",
            source,
        })
    }

    /// Adds `rule`; succeeds when the kernel has it already.
    pub async fn add_rule(&self, rule: &RuleSpec) -> Result<(), Error> {
        let message = rule_message(rule);
        self.send(
            RouteNetlinkMessage::NewRule(message),
            NLM_F_CREATE | NLM_F_EXCL,
            &[libc::EEXIST],
        )
        .await
        .map_err(|source| Error::Routing {
            what: describe_rule(rule),
            operation: "adding",
            source,
        })
    }

    /// Removes `rule`; succeeds when the kernel does not have it.
    pub async fn remove_rule(&self, rule: &RuleSpec) -> Result<(), Error> {
        let message = rule_message(rule);
        self.send(
            RouteNetlinkMessage::DelRule(message),
            0,
            &[libc::ENOENT, libc::ESRCH],
        )
        .await
        .map_err(|source| Error::Routing {
            what: describe_rule(rule),
            operation: "removing",
            source,
        })
    }

    /// Sends one request and waits for the kernel's answer; the errnos in `fine` count as
    /// success.
    async fn send(
        &self,
        message: RouteNetlinkMessage,
        flags: u16,
        fine: &[i32],
    ) -> Result<(), std::io::Error> {
        let mut request = NetlinkMessage::from(message);
        request.header.flags = NLM_F_REQUEST | NLM_F_ACK | flags;
        let mut handle = self.handle.clone();
        let mut answers = handle
            .request(request)
            .map_err(|e| std::io::Error::other(e.to_string()))?;
        while let Some(answer) = answers.next().await {
            if let NetlinkPayload::Error(error) = answer.payload {
                let Some(code) = error.code else {
                    continue;
                };
                let errno = code.get().abs();
                if fine.contains(&errno) {
                    return Ok(());
                }
                return Err(std::io::Error::from_raw_os_error(errno));
            }
        }
        Ok(())
    }

    async fn index_of(&self, interface: &str) -> Result<u32, Error> {
        crate::addresses::index_over(&self.handle, interface).await
    }

    /// keepalived's `netlink_route`: the same header and attributes for add and delete,
    /// except the scope (RT_SCOPE_NOWHERE matches any on delete) and the type (sent on
    /// delete only when not unicast, as keepalived sends it only when given).
    async fn route_message(&self, route: &RouteSpec, adding: bool) -> Result<RouteMessage, Error> {
        let mut message = RouteMessage::default();
        let header = &mut message.header;
        header.address_family = family(route.ipv6);
        header.protocol = RouteProtocol::from(route.protocol);
        header.scope = RouteScope::from(if adding { route.scope } else { 255 });
        header.kind = if adding || route.kind != 1 {
            RouteType::from(route.kind)
        } else {
            RouteType::Unspec
        };
        header.tos = route.tos.unwrap_or(0);
        header.destination_prefix_length = route.destination.1;
        if route.onlink {
            header.flags = RouteFlags::from_bits_retain(ONLINK);
        }
        let attributes = &mut message.attributes;
        match u8::try_from(route.table) {
            Ok(table) => message.header.table = table,
            Err(_) => attributes.push(RouteAttribute::Table(route.table)),
        }
        attributes.push(RouteAttribute::Destination(address(route.destination.0)));
        if let Some((source, len)) = route.source {
            message.header.source_prefix_length = len;
            attributes.push(RouteAttribute::Source(address(source)));
        }
        if let Some(source) = route.preferred_source {
            attributes.push(RouteAttribute::PrefSource(address(source)));
        }
        if let Some(gateway) = route.gateway {
            attributes.push(RouteAttribute::Gateway(address(gateway)));
        }
        if let Some(dev) = &route.dev {
            attributes.push(RouteAttribute::Oif(self.index_of(dev).await?));
        }
        if let Some(metric) = route.metric {
            attributes.push(RouteAttribute::Priority(metric));
        }
        let mut metrics: Vec<RouteMetric> = route
            .metrics
            .iter()
            .filter_map(|(rtax, value)| metric(*rtax, *value))
            .collect();
        if route.locked != 0 {
            metrics.insert(0, RouteMetric::Lock(route.locked));
        }
        if !metrics.is_empty() {
            attributes.push(RouteAttribute::Metrics(metrics));
        }
        if !route.nexthops.is_empty() {
            let mut hops = Vec::new();
            for hop in &route.nexthops {
                let mut next = RouteNextHop::default();
                if let Some(dev) = &hop.dev {
                    next.interface_index = self.index_of(dev).await?;
                }
                if let Some(hops) = hop.hops {
                    next.hops = hops;
                }
                if hop.onlink {
                    next.flags = RouteNextHopFlags::Onlink;
                }
                if let Some(gateway) = hop.gateway {
                    next.attributes
                        .push(RouteAttribute::Gateway(address(gateway)));
                }
                hops.push(next);
            }
            message.attributes.push(RouteAttribute::MultiPath(hops));
        }
        Ok(message)
    }
}

/// keepalived's `netlink_rule`.
fn rule_message(rule: &RuleSpec) -> RuleMessage {
    let mut message = RuleMessage::default();
    let header = &mut message.header;
    header.family = family(rule.ipv6);
    header.tos = rule.tos;
    if rule.invert {
        header.flags = RuleFlags::Invert;
    }
    header.action = match rule.verdict {
        RuleVerdict::Table(_) | RuleVerdict::L3mdev => RuleAction::ToTable,
        RuleVerdict::Goto(_) => RuleAction::Goto,
        RuleVerdict::Nop => RuleAction::Nop,
        RuleVerdict::Blackhole => RuleAction::Blackhole,
        RuleVerdict::Unreachable => RuleAction::Unreachable,
        RuleVerdict::Prohibit => RuleAction::Prohibit,
    };
    let attributes = &mut message.attributes;
    if let RuleVerdict::Table(table) = rule.verdict {
        match u8::try_from(table) {
            Ok(table) => message.header.table = table,
            Err(_) => attributes.push(RuleAttribute::Table(table)),
        }
    }
    if let Some((address, len)) = rule.from {
        message.header.src_len = len;
        attributes.push(RuleAttribute::Source(address));
    }
    if let Some((address, len)) = rule.to {
        message.header.dst_len = len;
        attributes.push(RuleAttribute::Destination(address));
    }
    attributes.push(RuleAttribute::Priority(rule.preference));
    if let Some((mark, mask)) = rule.fwmark {
        attributes.push(RuleAttribute::FwMark(mark));
        if let Some(mask) = mask {
            attributes.push(RuleAttribute::FwMask(mask));
        }
    }
    if let Some(length) = rule.suppress_prefixlength {
        attributes.push(RuleAttribute::SuppressPrefixLen(length));
    }
    if let Some(group) = rule.suppress_ifgroup {
        attributes.push(RuleAttribute::SuppressIfGroup(group));
    }
    if let Some(iif) = &rule.iif {
        attributes.push(RuleAttribute::Iifname(iif.clone()));
    }
    if let Some(oif) = &rule.oif {
        attributes.push(RuleAttribute::Oifname(oif.clone()));
    }
    if let Some((start, end)) = rule.uidrange {
        attributes.push(RuleAttribute::UidRange(RuleUidRange { start, end }));
    }
    if rule.verdict == RuleVerdict::L3mdev {
        attributes.push(RuleAttribute::L3MDev(true));
    }
    if let Some(protocol) = rule.protocol {
        attributes.push(RuleAttribute::Protocol(RouteProtocol::from(protocol)));
    }
    if let Some(protocol) = rule.ipproto {
        attributes.push(RuleAttribute::IpProtocol(IpProtocol::from(protocol)));
    }
    if let Some((start, end)) = rule.sport {
        attributes.push(RuleAttribute::SourcePortRange(RulePortRange { start, end }));
    }
    if let Some((start, end)) = rule.dport {
        attributes.push(RuleAttribute::DestinationPortRange(RulePortRange {
            start,
            end,
        }));
    }
    if let RuleVerdict::Goto(target) = rule.verdict {
        attributes.push(RuleAttribute::Goto(target));
    }
    message
}

fn family(ipv6: bool) -> AddressFamily {
    if ipv6 {
        AddressFamily::Inet6
    } else {
        AddressFamily::Inet
    }
}

fn address(address: IpAddr) -> RouteAddress {
    match address {
        IpAddr::V4(v4) => RouteAddress::Inet(v4),
        IpAddr::V6(v6) => RouteAddress::Inet6(v6),
    }
}

/// An RTAX_* metric; `None` for the lock (sent apart) and numbers baton does not set.
fn metric(rtax: u16, value: u32) -> Option<RouteMetric> {
    Some(match rtax {
        2 => RouteMetric::Mtu(value),
        3 => RouteMetric::Window(value),
        6 => RouteMetric::SsThresh(value),
        7 => RouteMetric::Cwnd(value),
        8 => RouteMetric::Advmss(value),
        9 => RouteMetric::Reordering(value),
        10 => RouteMetric::Hoplimit(value),
        11 => RouteMetric::InitCwnd(value),
        14 => RouteMetric::InitRwnd(value),
        RTAX_LOCK => return None,
        _ => return None,
    })
}

/// `10.9.0.0/16 via 10.0.3.1 dev eth0 table 100`, for messages.
pub fn describe_route(route: &RouteSpec) -> String {
    let mut text = format!("route {}/{}", route.destination.0, route.destination.1);
    if let Some(gateway) = route.gateway {
        text += &format!(" via {gateway}");
    }
    if let Some(dev) = &route.dev {
        text += &format!(" dev {dev}");
    }
    if route.table != 254 {
        text += &format!(" table {}", route.table);
    }
    text
}

/// `rule 100: from 10.0.3.0/24 lookup 100`, for messages.
pub fn describe_rule(rule: &RuleSpec) -> String {
    let mut text = format!("rule {}:", rule.preference);
    if let Some((address, len)) = rule.from {
        text += &format!(" from {address}/{len}");
    }
    if let Some((address, len)) = rule.to {
        text += &format!(" to {address}/{len}");
    }
    text += &format!(" {:?}", rule.verdict);
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule() -> RuleSpec {
        RuleSpec {
            ipv6: false,
            from: Some(("10.0.3.0".parse().unwrap(), 24)),
            to: None,
            verdict: RuleVerdict::Table(1000),
            invert: true,
            preference: 100,
            tos: 0,
            fwmark: Some((1, Some(0xff))),
            iif: Some("eth0".into()),
            oif: None,
            protocol: Some(18),
            ipproto: None,
            sport: None,
            dport: Some((80, 81)),
            suppress_prefixlength: None,
            suppress_ifgroup: None,
            uidrange: None,
        }
    }

    #[test]
    fn rules_carry_keepalived_attributes() {
        let message = rule_message(&rule());
        assert_eq!(message.header.table, 0, "tables above 255 go in FRA_TABLE");
        assert_eq!(message.header.src_len, 24);
        assert_eq!(message.header.action, RuleAction::ToTable);
        assert_eq!(message.header.flags, RuleFlags::Invert);
        let a = &message.attributes;
        assert!(a.contains(&RuleAttribute::Table(1000)));
        assert!(a.contains(&RuleAttribute::Priority(100)));
        assert!(a.contains(&RuleAttribute::FwMask(0xff)));
        assert!(a.contains(&RuleAttribute::Protocol(RouteProtocol::from(18))));
        assert!(a.contains(&RuleAttribute::Iifname("eth0".into())));
        let mut small = rule();
        small.verdict = RuleVerdict::Goto(200);
        let message = rule_message(&small);
        assert_eq!(message.header.action, RuleAction::Goto);
        assert!(message.attributes.contains(&RuleAttribute::Goto(200)));
    }

    #[test]
    fn only_known_metrics_are_sent() {
        assert_eq!(metric(2, 1400), Some(RouteMetric::Mtu(1400)));
        assert_eq!(metric(RTAX_LOCK, 4), None);
        assert_eq!(metric(99, 1), None);
    }
}
