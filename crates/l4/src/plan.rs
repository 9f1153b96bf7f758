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
        if dr {
            // Every LB must build the same DR table, or a flow changes server when the VIP
            // moves; connection counts are one LB's own (and no LB counts DR flows, which
            // bypass conntrack), so DR's connection-based schedulers use the weights alone.
            for backend in &mut backends {
                backend.active_connections = 0;
            }
        }
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

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::model::{Family, Match, Persistence, Protocol};

    fn service(scheduler: Scheduler, backends: &[(u8, u32, u64)]) -> Service {
        Service {
            name: "s".into(),
            matches: vec![Match::Address("10.0.3.100:80".parse().expect("vip"))],
            protocol: Protocol::Tcp,
            family: Family::Ipv4,
            forwarding: Forwarding::Nat { snat: false },
            scheduler,
            hash_port: false,
            persistence: None,
            backends: backends
                .iter()
                .map(|&(last, weight, active)| Backend {
                    address: format!("10.0.3.{last}:80").parse().expect("address"),
                    weight,
                    active_connections: active,
                    uthreshold: 0,
                })
                .collect(),
            fallback: None,
        }
    }

    fn share(plan: &Plan, last: u8) -> usize {
        let target = plan
            .targets
            .iter()
            .position(|t| t.ip().to_string() == format!("10.0.3.{last}"));
        plan.slots.iter().filter(|&&s| Some(s) == target).count()
    }

    #[test]
    fn wlc_slots_follow_inverse_load() {
        let plan = Plan::of(&service(
            Scheduler::Wlc,
            &[(11, 1, 0), (12, 1, 9), (13, 2, 9)],
        ));
        assert_eq!(plan.key, Key::Numgen);
        assert_eq!(
            (share(&plan, 11), share(&plan, 12), share(&plan, 13)),
            (10, 1, 2)
        );
    }

    #[test]
    fn failover_is_one_slot_and_fallback_takes_over_when_all_are_zero() {
        let plan = Plan::of(&service(Scheduler::Fo, &[(11, 1, 0), (12, 5, 0)]));
        assert_eq!(plan.slots, vec![0]);
        assert_eq!(plan.targets[0].ip().to_string(), "10.0.3.12");
        let mut down = service(Scheduler::Rr, &[(11, 0, 0), (12, 0, 0)]);
        assert!(Plan::of(&down).slots.is_empty());
        down.fallback = Some("10.0.3.99:80".parse().expect("fallback"));
        let plan = Plan::of(&down);
        assert_eq!((plan.targets.len(), plan.slots.len()), (1, 1));
        assert_eq!(plan.targets[0], down.fallback.expect("fallback"));
    }

    #[test]
    fn keys_follow_the_scheduler_and_the_forwarding() {
        let mut s = service(Scheduler::Rr, &[(11, 1, 0), (12, 1, 0)]);
        assert_eq!(Plan::of(&s).key, Key::Numgen);
        s.forwarding = Forwarding::Dr {
            interface: "eth0".into(),
        };
        assert_eq!(Plan::of(&s).key, Key::Flow);
        assert_eq!(Plan::of(&s).slots.len(), maglev::SIZE);
        s.persistence = Some(Persistence {
            timeout: Duration::from_secs(60),
            granularity: 24,
        });
        assert_eq!(
            Plan::of(&s).key,
            Key::Source {
                port: false,
                prefix: Some(24)
            }
        );
        s.scheduler = Scheduler::Dh;
        s.persistence = None;
        assert_eq!(Plan::of(&s).key, Key::Destination);
    }

    #[test]
    fn tables_ignore_the_order_of_the_config() {
        let forward = service(Scheduler::Mh, &[(11, 1, 0), (12, 2, 0), (13, 1, 0)]);
        let mut reversed = forward.clone();
        reversed.backends.reverse();
        assert_eq!(Plan::of(&forward), Plan::of(&reversed));
    }
}
