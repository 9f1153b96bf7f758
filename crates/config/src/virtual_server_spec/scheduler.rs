//! A virtual server's scheduler flags and persistence, as keepalived checks them against
//! its `lb_algo` and family.

use std::time::Duration;

use super::{VirtualServerDraft, family_max_prefix, fields};
use crate::basics::Family;
use crate::diagnostic::Diagnostics;
use crate::virtual_server::{LbAlgo, Persistence, ServiceMatch};

/// The scheduler flags, resolved against `lb_algo` once the whole block is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SchedFlag {
    ShPort,
    ShFallback,
    MhPort,
    MhFallback,
    /// IPVS's `IP_VS_SVC_F_SCHED1`: sh-fallback / mh-fallback.
    Flag1,
    /// `IP_VS_SVC_F_SCHED2`: sh-port / mh-port.
    Flag2,
    /// `IP_VS_SVC_F_SCHED3`: no scheduler uses it.
    Flag3,
    /// keepalived 2.2.7 accepts it and does nothing with it.
    Hashed,
}

impl SchedFlag {
    fn name(self) -> &'static str {
        match self {
            SchedFlag::ShPort => "sh-port",
            SchedFlag::ShFallback => "sh-fallback",
            SchedFlag::MhPort => "mh-port",
            SchedFlag::MhFallback => "mh-fallback",
            SchedFlag::Flag1 => "flag-1",
            SchedFlag::Flag2 => "flag-2",
            SchedFlag::Flag3 => "flag-3",
            SchedFlag::Hashed => "hashed",
        }
    }
}

/// `hash_port` and `hash_fallback` from the scheduler flags that apply to `lb_algo`.
pub(super) fn sched_flags(
    v: &VirtualServerDraft,
    lb_algo: LbAlgo,
    c: &str,
    d: &mut Diagnostics,
) -> (bool, bool) {
    let (mut hash_port, mut hash_fallback) = (false, false);
    let hashing = matches!(lb_algo, LbAlgo::Sh | LbAlgo::Mh);
    for flag in &v.sched_flags {
        let (applies, port) = match flag.value {
            SchedFlag::ShPort => (lb_algo == LbAlgo::Sh, true),
            SchedFlag::ShFallback => (lb_algo == LbAlgo::Sh, false),
            SchedFlag::MhPort => (lb_algo == LbAlgo::Mh, true),
            SchedFlag::MhFallback => (lb_algo == LbAlgo::Mh, false),
            // IPVS numbers the flags: SCHED1 is sh/mh-fallback, SCHED2 sh/mh-port.
            SchedFlag::Flag1 => (hashing, false),
            SchedFlag::Flag2 => (hashing, true),
            SchedFlag::Flag3 | SchedFlag::Hashed => (false, false),
        };
        if applies {
            if port {
                hash_port = true;
            } else {
                hash_fallback = true;
            }
        } else if flag.value == SchedFlag::Hashed {
            d.warn(
                &flag.at,
                format!("{c}: hashed has no effect (keepalived ignores it too); ignored"),
            );
        } else {
            d.warn(
                &flag.at,
                format!(
                    "{c}: {} means nothing for lb_algo {}; ignored (as keepalived and IPVS do)",
                    flag.value.name(),
                    lb_algo.as_str()
                ),
            );
        }
    }
    (hash_port, hash_fallback)
}

/// `persistence_timeout` / `persistence_granularity`; a service on port 0 without them gets
/// keepalived's 360 seconds, with a warning.
pub(super) fn persistence(
    v: &VirtualServerDraft,
    entries: &[(ServiceMatch, Option<Family>)],
    family: Family,
    c: &str,
    d: &mut Diagnostics,
) -> Option<Persistence> {
    let max = family_max_prefix(family);
    if v.persistence_timeout.is_some() || v.persistence_granularity.is_some() {
        let granularity = match &v.persistence_granularity {
            Some(g) if g.value.netmask && family == Family::Ipv6 => {
                d.error(
                    &g.at,
                    format!(
                        "{c}: persistence_granularity is an IPv4 netmask but the service is \
                         IPv6; write a prefix length"
                    ),
                );
                max
            }
            Some(g) if g.value.prefix > max => {
                d.error(
                    &g.at,
                    format!(
                        "{c}: persistence_granularity {} is longer than an {family} address",
                        g.value.prefix
                    ),
                );
                max
            }
            Some(g) => g.value.prefix,
            None => max,
        };
        let seconds = v
            .persistence_timeout
            .map_or(fields::DEFAULT_PERSISTENCE, u64::from);
        return Some(Persistence {
            timeout: Duration::from_secs(seconds),
            granularity,
        });
    }
    let port_zero = entries.iter().any(|(m, _)| match m {
        ServiceMatch::Address(a) => a.port() == 0,
        ServiceMatch::Range { port, .. } => *port == 0,
        ServiceMatch::Fwmark(_) => false,
    });
    if !port_zero {
        return None;
    }
    d.warn(
        &v.location,
        format!(
            "{c}: port 0 (every port) is only valid for persistent services; persistence of {} \
             seconds set, as keepalived",
            fields::DEFAULT_PERSISTENCE
        ),
    );
    Some(Persistence {
        timeout: Duration::from_secs(fields::DEFAULT_PERSISTENCE),
        granularity: max,
    })
}
