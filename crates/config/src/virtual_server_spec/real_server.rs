//! A virtual server's real servers (and `sorry_server`) as read, and how they resolve: the
//! ports a DR or TUN real server may have, timing inherited by their checkers, quorum.

use std::net::SocketAddr;

use super::{CheckerDraft, Context, ServiceDraft, TimingDraft, VirtualServerDraft, checker};
use crate::basics::{Family, NotifyScript};
use crate::diagnostic::{Diagnostics, Location};
use crate::virtual_server::{LbKind, RealServer, ServiceMatch};

#[derive(Debug, Clone)]
pub(crate) struct SorryDraft {
    pub(crate) address: SocketAddr,
    pub(crate) inhibit: bool,
    pub(crate) lb_kind: Option<LbKind>,
    pub(crate) location: Location,
}

#[derive(Debug, Clone)]
pub(crate) struct RealServerDraft {
    /// Port 0 when none was written.
    pub(crate) address: SocketAddr,
    pub(crate) location: Location,
    pub(crate) weight: Option<u32>,
    pub(crate) lb_kind: Option<LbKind>,
    pub(crate) inhibit_on_failure: Option<bool>,
    pub(crate) uthreshold: Option<u32>,
    pub(crate) lthreshold: Option<u32>,
    pub(crate) notify_up: Option<NotifyScript>,
    pub(crate) notify_down: Option<NotifyScript>,
    pub(crate) smtp_alert: Option<bool>,
    pub(crate) timing: TimingDraft,
    pub(crate) virtualhost: Option<String>,
    pub(crate) checkers: Vec<CheckerDraft>,
}

impl RealServerDraft {
    pub(crate) fn new(address: SocketAddr, location: Location) -> RealServerDraft {
        RealServerDraft {
            address,
            location,
            weight: None,
            lb_kind: None,
            inhibit_on_failure: None,
            uthreshold: None,
            lthreshold: None,
            notify_up: None,
            notify_down: None,
            smtp_alert: None,
            timing: TimingDraft::default(),
            virtualhost: None,
            checkers: Vec::new(),
        }
    }
}

/// The ports of a service, and what they mean for a real or sorry server's.
pub(super) struct Ports<'c> {
    /// A single address's port, which a server without one takes (keepalived fills it in
    /// for services by address only; in groups and fwmark services the client's is kept).
    own: Option<u16>,
    /// Each entry's port; `None` for a fwmark.
    each: Vec<Option<u16>>,
    c: &'c str,
}

impl<'c> Ports<'c> {
    pub(super) fn new(
        service: &ServiceDraft,
        entries: &[(ServiceMatch, Option<Family>)],
        c: &'c str,
    ) -> Self {
        let each = entries
            .iter()
            .map(|(m, _)| match m {
                ServiceMatch::Address(a) => Some(a.port()),
                ServiceMatch::Range { port, .. } => Some(*port),
                ServiceMatch::Fwmark(_) => None,
            })
            .collect();
        let own = match service {
            ServiceDraft::Address(a) => Some(a.port()),
            _ => None,
        };
        Ports { own, each, c }
    }

    /// `address` with its port filled in; a DR server on another port than the service's
    /// is an error, as DR cannot rewrite ports.
    pub(super) fn resolve(
        &self,
        what: &str,
        mut address: SocketAddr,
        kind: LbKind,
        at: &Location,
        d: &mut Diagnostics,
    ) -> SocketAddr {
        let c = self.c;
        if address.port() == 0 {
            if let Some(port) = self.own {
                address.set_port(port);
            }
        }
        if kind != LbKind::Dr || address.port() == 0 {
            return address;
        }
        for port in &self.each {
            match port {
                None => d.error(
                    at,
                    format!(
                        "{c}: {what} {address}: DR cannot rewrite the port, and a fwmark service \
                         keeps the client's; write it without a port"
                    ),
                ),
                Some(port) if *port != address.port() => d.error(
                    at,
                    format!(
                        "{c}: {what} {address}: DR cannot rewrite the port: it must be the \
                         service's, {port} (or none)"
                    ),
                ),
                Some(_) => {}
            }
        }
        address
    }
}

/// The real servers with their defaults from the virtual server, and their checkers.
pub(super) fn real_servers(
    v: &VirtualServerDraft,
    family: Family,
    ports: &Ports<'_>,
    context: &Context<'_>,
    d: &mut Diagnostics,
) -> Vec<RealServer> {
    let c = ports.c;
    let mut real_servers: Vec<RealServer> = Vec::new();
    for r in &v.real_servers {
        let r_family = Family::of(r.address.ip());
        if r_family != family {
            d.error(
                &r.location,
                format!(
                    "{c}: real server {} is {r_family} but the service is {family} (mixing \
                     them needs TUN, which baton does not support)",
                    r.address.ip()
                ),
            );
        }
        let kind = r.lb_kind.or(v.lb_kind).unwrap_or(LbKind::Nat);
        let address = ports.resolve("real server", r.address, kind, &r.location, d);
        if let Some(first) = real_servers.iter().find(|x| x.address == address) {
            d.error(
                &r.location,
                format!(
                    "{c}: real server {address} is listed twice (first at {})",
                    first.location
                ),
            );
            continue;
        }
        let owner = checker::Owner {
            virtual_server: v,
            context: c,
            real: r,
            address,
            timing: r.timing.over(&v.timing),
        };
        let checkers = r
            .checkers
            .iter()
            .filter_map(|checker| checker::resolve(checker, &owner, context, d))
            .collect();
        real_servers.push(RealServer {
            address,
            weight: r.weight.or(v.weight).unwrap_or(1),
            lb_kind: kind,
            inhibit_on_failure: r
                .inhibit_on_failure
                .or(v.inhibit_on_failure)
                .unwrap_or(false),
            uthreshold: r.uthreshold.unwrap_or(0),
            lthreshold: r.lthreshold.unwrap_or(0),
            notify_up: r.notify_up.clone(),
            notify_down: r.notify_down.clone(),
            smtp_alert: r.smtp_alert,
            checkers,
            location: r.location.clone().into(),
        });
    }
    real_servers
}

/// keepalived's `validate_check_config`: "quorum ... exceeds total weight of real servers,
/// reducing quorum", then hysteresis kept below quorum.
pub(super) fn quorum(
    v: &VirtualServerDraft,
    real_servers: &[RealServer],
    c: &str,
    d: &mut Diagnostics,
) -> (u32, u32) {
    let total: u64 = real_servers.iter().map(|r| u64::from(r.weight)).sum();
    let mut quorum = v.quorum.unwrap_or(1);
    if u64::from(quorum) > total && !real_servers.is_empty() {
        d.warn(
            &v.location,
            format!(
                "{c}: quorum {quorum} exceeds the total weight of the real servers, {total}, so \
                 the service could never be up; lowered to {total}, as keepalived"
            ),
        );
        quorum = total as u32;
    }
    let mut hysteresis = v.hysteresis.unwrap_or(0);
    if hysteresis > 0 && hysteresis >= quorum {
        let lowered = quorum.saturating_sub(1);
        d.warn(
            &v.location,
            format!(
                "{c}: hysteresis {hysteresis} is not below quorum {quorum}; lowered to \
                 {lowered}, as keepalived"
            ),
        );
        hysteresis = lowered;
    }
    (quorum, hysteresis)
}
