//! What both front ends read of keepalived's LVS family (`virtual_server`,
//! `virtual_server_group`, `real_server`, the checkers, `SSL`) before defaults, and how
//! [`build`] resolves it into [`VirtualServer`]s the way keepalived's
//! `validate_check_config` does: a checker's timing comes from the checker, else its real
//! server, else its virtual server, else the checker's own default; what keepalived
//! corrects with a log line is a warning here, or an error where the correction would
//! change what goes on the wire (a DR real server on another port).
//!
//! Here a virtual server and its service; its real servers, its scheduler flags and
//! persistence, and `virtual_server_group` are resolved in files of their own, the checkers
//! in `checker`.

mod checker;
pub(crate) mod fields;
mod group;
mod real_server;
mod scheduler;

pub(crate) use checker::{
    CheckerDraft, CheckerKindDraft, FileDraft, HttpDraft, MiscDraft, UdpDraft,
};
use group::check_group;
pub(crate) use group::{GroupDraft, GroupEntry};
use real_server::{Ports, quorum, real_servers};
pub(crate) use real_server::{RealServerDraft, SorryDraft};
pub(crate) use scheduler::SchedFlag;
use scheduler::{persistence, sched_flags};

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

use crate::basics::{Family, NotifyScript};
use crate::diagnostic::At;
use crate::diagnostic::{Diagnostics, Location};
use crate::virtual_server::{
    L4Protocol, LbAlgo, LbKind, ServiceMatch, SorryServer, SslContext, VirtualServer,
};
use fields::Granularity;

pub(super) const DEFAULT_DELAY_LOOP: Duration = Duration::from_secs(60);
pub(super) const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// `virtual_server IP PORT | fwmark N | group NAME`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ServiceDraft {
    Address(SocketAddr),
    Fwmark(u32),
    Group(At<String>),
}

/// The settings a virtual server, a real server and a checker may each give; the first
/// one set, from the checker up, wins.
#[derive(Debug, Clone, Default)]
pub(crate) struct TimingDraft {
    pub(crate) delay_loop: Option<Duration>,
    pub(crate) connect_timeout: Option<Duration>,
    pub(crate) retry: Option<u32>,
    pub(crate) delay_before_retry: Option<Duration>,
    pub(crate) warmup: Option<Duration>,
    pub(crate) alpha: Option<bool>,
}

impl TimingDraft {
    /// Each setting of `self`, else of `outer`.
    fn over(&self, outer: &TimingDraft) -> TimingDraft {
        TimingDraft {
            delay_loop: self.delay_loop.or(outer.delay_loop),
            connect_timeout: self.connect_timeout.or(outer.connect_timeout),
            retry: self.retry.or(outer.retry),
            delay_before_retry: self.delay_before_retry.or(outer.delay_before_retry),
            warmup: self.warmup.or(outer.warmup),
            alpha: self.alpha.or(outer.alpha),
        }
    }
}

#[derive(Debug, Clone)]
pub(crate) struct VirtualServerDraft {
    /// baton.toml's `name`; `None` in keepalived.conf, where it is made from the service.
    pub(crate) name: Option<String>,
    pub(crate) location: Location,
    /// `None` when it was invalid (the front end said so).
    pub(crate) service: Option<ServiceDraft>,
    pub(crate) ip_family: Option<At<Family>>,
    pub(crate) protocol: Option<L4Protocol>,
    /// keepalived.conf: a service by address must name its protocol (keepalived 2.2.7
    /// would use UDP and log a configuration error).
    pub(crate) protocol_required: bool,
    pub(crate) lb_algo: Option<LbAlgo>,
    pub(crate) sched_flags: Vec<At<SchedFlag>>,
    pub(crate) lb_kind: Option<LbKind>,
    pub(crate) persistence_timeout: Option<u32>,
    pub(crate) persistence_granularity: Option<At<Granularity>>,
    pub(crate) timing: TimingDraft,
    pub(crate) inhibit_on_failure: Option<bool>,
    pub(crate) ha_suspend: Option<At<bool>>,
    pub(crate) virtualhost: Option<String>,
    pub(crate) omega: bool,
    pub(crate) quorum: Option<u32>,
    pub(crate) hysteresis: Option<u32>,
    pub(crate) quorum_up: Option<NotifyScript>,
    pub(crate) quorum_down: Option<NotifyScript>,
    pub(crate) smtp_alert: Option<bool>,
    /// The default weight of the real servers.
    pub(crate) weight: Option<u32>,
    pub(crate) sorry_server: Option<SorryDraft>,
    pub(crate) snat: Option<At<bool>>,
    pub(crate) real_servers: Vec<RealServerDraft>,
}

impl VirtualServerDraft {
    pub(crate) fn new(location: Location) -> VirtualServerDraft {
        VirtualServerDraft {
            name: None,
            location,
            service: None,
            ip_family: None,
            protocol: None,
            protocol_required: false,
            lb_algo: None,
            sched_flags: Vec::new(),
            lb_kind: None,
            persistence_timeout: None,
            persistence_granularity: None,
            timing: TimingDraft::default(),
            inhibit_on_failure: None,
            ha_suspend: None,
            virtualhost: None,
            omega: false,
            quorum: None,
            hysteresis: None,
            quorum_up: None,
            quorum_down: None,
            smtp_alert: None,
            weight: None,
            sorry_server: None,
            snat: None,
            real_servers: Vec::new(),
        }
    }
}

/// What the checkers need from outside the virtual servers: the track files (name and
/// own weight, defined or not valid) and the `SSL` block.
pub(crate) struct Context<'a> {
    pub(crate) track_files: &'a [(String, i32)],
    pub(crate) ssl: Option<&'a SslContext>,
    pub(crate) groups: &'a [GroupDraft],
    /// global_defs `checker_log_all_failures`.
    pub(crate) log_all_failures: bool,
}

/// The virtual servers with every default filled in. One that cannot be built (a group
/// that does not exist) is left out, with its error.
pub(crate) fn build(
    drafts: Vec<VirtualServerDraft>,
    context: &Context<'_>,
    d: &mut Diagnostics,
) -> Vec<VirtualServer> {
    for group in context.groups {
        check_group(group, d);
    }
    drafts
        .into_iter()
        .filter_map(|v| virtual_server(v, context, d))
        .collect()
}

/// The name keepalived.conf's services get: `10.0.3.100:80/tcp`, `fwmark:5/tcp`,
/// `group:web/tcp`.
fn service_name(service: &ServiceDraft, protocol: L4Protocol) -> String {
    let proto = protocol.as_str();
    match service {
        ServiceDraft::Address(a) => format!("{a}/{proto}"),
        ServiceDraft::Fwmark(m) => format!("fwmark:{m}/{proto}"),
        ServiceDraft::Group(g) => format!("group:{}/{proto}", g.value),
    }
}

fn family_max_prefix(family: Family) -> u8 {
    match family {
        Family::Ipv4 => 32,
        Family::Ipv6 => 128,
    }
}

pub(super) fn unspecified(family: Family) -> IpAddr {
    match family {
        Family::Ipv4 => Ipv4Addr::UNSPECIFIED.into(),
        Family::Ipv6 => Ipv6Addr::UNSPECIFIED.into(),
    }
}

fn virtual_server(
    v: VirtualServerDraft,
    context: &Context<'_>,
    d: &mut Diagnostics,
) -> Option<VirtualServer> {
    let service = v.service.clone()?;
    let entries = entries(&v, &service, context, d)?;
    let protocol = protocol(&v, &service, &entries, d);
    let name = v
        .name
        .clone()
        .unwrap_or_else(|| service_name(&service, protocol));
    let c = format!("virtual server {name}");
    let c = c.as_str();
    let family = family(&v, &entries, c, d);
    let lb_algo = v.lb_algo.unwrap_or(LbAlgo::Wlc);
    let (hash_port, hash_fallback) = sched_flags(&v, lb_algo, c, d);
    let lb_kind = v.lb_kind.unwrap_or(LbKind::Nat);
    let persistence = persistence(&v, &entries, family, c, d);

    let mut ha_suspend = v.ha_suspend.as_ref().is_some_and(|h| h.value);
    let has_fwmark = entries
        .iter()
        .any(|(m, _)| matches!(m, ServiceMatch::Fwmark(_)));
    if let Some(h) = v.ha_suspend.as_ref().filter(|_| ha_suspend && has_fwmark) {
        d.warn(
            &h.at,
            format!(
                "{c}: ha_suspend cannot work with fwmarks (there is no address to wait for); \
                 ignored, as keepalived"
            ),
        );
        ha_suspend = false;
    }
    let snat = v.snat.as_ref().is_some_and(|s| s.value);
    if let Some(s) = v.snat.as_ref().filter(|_| snat && lb_kind != LbKind::Nat) {
        d.error(
            &s.at,
            format!(
                "{c}: snat applies to NAT only: with DR the real servers answer clients directly"
            ),
        );
    }
    if v.real_servers.is_empty() {
        d.error(
            &v.location,
            format!("{c}: no real_server (keepalived ignores such a virtual server)"),
        );
    }

    let ports = Ports::new(&service, &entries, c);
    let real_servers = real_servers(&v, family, &ports, context, d);
    let sorry_server = v.sorry_server.as_ref().map(|s| {
        let s_family = Family::of(s.address.ip());
        if s_family != family {
            d.error(
                &s.location,
                format!(
                    "{c}: sorry_server {} is {s_family} but the service is {family}",
                    s.address.ip()
                ),
            );
        }
        let kind = s.lb_kind.or(v.lb_kind).unwrap_or(LbKind::Nat);
        SorryServer {
            address: ports.resolve("sorry_server", s.address, kind, &s.location, d),
            inhibit: s.inhibit,
            lb_kind: kind,
            location: s.location.clone().into(),
        }
    });
    let (quorum, hysteresis) = quorum(&v, &real_servers, c, d);

    Some(VirtualServer {
        name,
        matches: entries.into_iter().map(|(m, _)| m).collect(),
        family,
        protocol,
        lb_algo,
        hash_port,
        hash_fallback,
        lb_kind,
        persistence,
        delay_loop: v.timing.delay_loop.unwrap_or(DEFAULT_DELAY_LOOP),
        ha_suspend,
        virtualhost: v.virtualhost.clone(),
        alpha: v.timing.alpha.unwrap_or(false),
        omega: v.omega,
        quorum,
        hysteresis,
        quorum_up: v.quorum_up.clone(),
        quorum_down: v.quorum_down.clone(),
        smtp_alert: v.smtp_alert,
        sorry_server,
        snat,
        real_servers,
        location: v.location.clone().into(),
    })
}

/// What the service matches: its address, its fwmark, or its group's entries (with the
/// family a group's fwmark was given). `None`, with an error, for a group that does not
/// exist.
fn entries(
    v: &VirtualServerDraft,
    service: &ServiceDraft,
    context: &Context<'_>,
    d: &mut Diagnostics,
) -> Option<Vec<(ServiceMatch, Option<Family>)>> {
    match service {
        ServiceDraft::Address(a) => Some(vec![(ServiceMatch::Address(*a), None)]),
        ServiceDraft::Fwmark(m) => Some(vec![(ServiceMatch::Fwmark(*m), None)]),
        ServiceDraft::Group(g) => {
            let Some(group) = context.groups.iter().find(|x| x.name == g.value) else {
                let what = match &v.name {
                    Some(name) => format!("virtual server {name}"),
                    None => "virtual_server".to_owned(),
                };
                d.error(
                    &g.at,
                    format!(
                        "{what}: group {0}: no virtual_server_group named {0}",
                        g.value
                    ),
                );
                return None;
            };
            Some(
                group
                    .entries
                    .iter()
                    .map(|e| (e.service, e.family))
                    .collect(),
            )
        }
    }
}

fn address_family(entries: &[(ServiceMatch, Option<Family>)]) -> Option<Family> {
    entries.iter().find_map(|(m, _)| match m {
        ServiceMatch::Address(a) => Some(Family::of(a.ip())),
        ServiceMatch::Range { first, .. } => Some(Family::of(*first)),
        ServiceMatch::Fwmark(_) => None,
    })
}

/// `protocol`; keepalived.conf must give it for services by address.
fn protocol(
    v: &VirtualServerDraft,
    service: &ServiceDraft,
    entries: &[(ServiceMatch, Option<Family>)],
    d: &mut Diagnostics,
) -> L4Protocol {
    if let Some(p) = v.protocol {
        return p;
    }
    if v.protocol_required && address_family(entries).is_some() {
        let what = match service {
            ServiceDraft::Address(a) => a.to_string(),
            ServiceDraft::Group(g) => format!("group {}", g.value),
            ServiceDraft::Fwmark(m) => format!("fwmark {m}"),
        };
        d.error(
            &v.location,
            format!(
                "virtual server {what}: no protocol; keepalived 2.2.7 would balance UDP (and log \
                 a configuration error): write protocol TCP, UDP or SCTP"
            ),
        );
    }
    L4Protocol::Tcp
}

/// keepalived's rule: the addresses decide; a fwmark service takes `ip_family`, else a
/// group's fwmark family, else its real / sorry servers' (non-TUN, which is all of
/// baton's), else `persistence_granularity`'s.
fn family(
    v: &VirtualServerDraft,
    entries: &[(ServiceMatch, Option<Family>)],
    c: &str,
    d: &mut Diagnostics,
) -> Family {
    let fwmark_family = entries.iter().find_map(|(_, f)| *f);
    let server_family = v
        .real_servers
        .first()
        .map(|r| Family::of(r.address.ip()))
        .or(v.sorry_server.as_ref().map(|s| Family::of(s.address.ip())));
    let granularity_family = v
        .persistence_granularity
        .as_ref()
        .and_then(|g| g.value.netmask.then_some(Family::Ipv4));
    let family = address_family(entries)
        .or(v.ip_family.as_ref().map(|f| f.value))
        .or(fwmark_family)
        .or(server_family)
        .or(granularity_family)
        .unwrap_or(Family::Ipv4);
    if let Some(f) = v.ip_family.as_ref().filter(|f| f.value != family) {
        let word = match f.value {
            Family::Ipv4 => "inet",
            Family::Ipv6 => "inet6",
        };
        d.error(
            &f.at,
            format!(
                "{c}: ip_family {word} conflicts with the service's addresses, which are {family}"
            ),
        );
    }
    if let Some(f) = fwmark_family.filter(|f| *f != family) {
        d.error(
            &v.location,
            format!("{c}: its group's fwmark is {f} but the service is {family}"),
        );
    }
    family
}

/// Names and services two virtual servers both claim: the same name (in keepalived.conf,
/// the same service written twice), or the same match and protocol.
pub(crate) fn duplicates(servers: &[VirtualServer], d: &mut Diagnostics) {
    let mut names: HashMap<&str, &VirtualServer> = HashMap::new();
    let mut seen: HashMap<(ServiceMatch, L4Protocol), &VirtualServer> = HashMap::new();
    for v in servers {
        if let Some(first) = names.get(v.name.as_str()) {
            d.error(
                &v.location,
                format!(
                    "virtual server {} is defined twice (first at {})",
                    v.name, first.location
                ),
            );
            continue;
        }
        names.insert(&v.name, v);
        for m in &v.matches {
            match seen.get(&(*m, v.protocol)) {
                Some(first) => d.error(
                    &v.location,
                    format!(
                        "virtual server {}: {} is already balanced by virtual server {} at {}",
                        v.name,
                        describe(m, v.protocol),
                        first.name,
                        first.location
                    ),
                ),
                None => {
                    seen.insert((*m, v.protocol), v);
                }
            }
        }
    }
}

fn describe(m: &ServiceMatch, protocol: L4Protocol) -> String {
    let proto = protocol.as_str();
    match m {
        ServiceMatch::Address(a) => format!("{a}/{proto}"),
        ServiceMatch::Range { first, last, port } => format!("{first}-{last} port {port}/{proto}"),
        ServiceMatch::Fwmark(mark) => format!("fwmark {mark}/{proto}"),
    }
}
