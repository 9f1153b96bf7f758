//! Where a service's new flows go: the key that picks a slot and the slot table. Pure.

use std::net::SocketAddr;

use crate::maglev;
use crate::model::{Backend, Forwarding, Scheduler, Service};
use crate::weights::{MAX_SLOTS, effective_weights, interleave, reduce};

/// What the kernel computes to pick a slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Key {
    /// `numgen inc`: the next slot for each new flow (NAT only: conntrack remembers the
    /// choice for the flow's later packets).
    Numgen,
    /// `jhash` of the client address (masked to `prefix` bits when set), with its port
    /// when `port`.
    Source { port: bool, prefix: Option<u8> },
    /// `jhash` of the destination address (the VIP a flow was sent to).
    Destination,
    /// `jhash` of the client address and port: the flow, for DR's stateless rr/wrr/lc...
    Flow,
}

/// A service's new-flow table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Plan {
    pub(crate) key: Key,
    /// The servers that own slots: backends with an effective weight, or the fallback.
    pub(crate) targets: Vec<SocketAddr>,
    /// Per slot, an index into `targets`. Empty: no server, new flows are dropped.
    pub(crate) slots: Vec<usize>,
}

impl Plan {
    pub(crate) fn of(service: &Service) -> Plan {
        let dr = matches!(service.forwarding, Forwarding::Dr { .. });
        // Sorted, so that the tables do not depend on the order of the config.
        let mut backends: Vec<Backend> = service.backends.clone();
        backends.sort_by_key(|b| b.address);
        let weights = effective_weights(service.scheduler, &backends);
        let (mut targets, mut weights): (Vec<SocketAddr>, Vec<u32>) = backends
            .iter()
            .zip(weights)
            .filter(|(_, w)| *w > 0)
            .map(|(b, w)| (b.address, w))
            .unzip();
        if targets.is_empty() {
            if let Some(fallback) = service.fallback {
                targets.push(fallback);
                weights.push(1);
            }
        }
        let key = match (service.scheduler, dr, service.persistence) {
            // DR keeps no state, so persistence can only be a hash of the client.
            (_, true, Some(p)) => Key::Source {
                port: false,
                prefix: Some(p.granularity),
            },
            (Scheduler::Sh | Scheduler::Mh, _, _) => Key::Source {
                port: service.hash_port,
                prefix: None,
            },
            (Scheduler::Dh | Scheduler::Lblc | Scheduler::Lblcr, _, _) => Key::Destination,
            (_, true, None) => Key::Flow,
            (_, false, _) => Key::Numgen,
        };
        let slots = match targets.len() {
            0 => Vec::new(),
            1 => vec![0],
            _ if key == Key::Numgen => interleave(&reduce(&weights, MAX_SLOTS)),
            _ => maglev::table(&targets, &weights),
        };
        Plan {
            key,
            targets,
            slots,
        }
    }
}
