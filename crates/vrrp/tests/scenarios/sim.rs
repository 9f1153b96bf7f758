//! A simulated LAN for the VRRP engine: N routers, virtual time, per-link latency, seeded
//! loss and partitions. Packets go through the real codec (emit, then decode on receipt), so
//! the scenarios exercise exactly what runs on the wire.
//!
//! Time is virtual: `run_until` jumps from one event (a delivery or a router deadline) to the
//! next, so a 300-second scenario runs in microseconds and every instant is exact.

use std::cmp::Reverse;
use std::collections::{BTreeSet, BinaryHeap, HashMap, HashSet};
use std::net::IpAddr;
use std::time::{Duration, Instant};

use baton_vrrp::{
    DropReason, Event, InstanceConfig, Reason, Received, Router, State, SyncGroupConfig, VipAction,
};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

pub(crate) const DEFAULT_LATENCY: Duration = Duration::from_millis(1);

/// What happened, when, where.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Record {
    /// Since the start of the simulation.
    pub at: Duration,
    pub node: usize,
    pub what: What,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum What {
    State {
        instance: String,
        from: State,
        to: State,
        reason: Reason,
    },
    Announce {
        addresses: Vec<IpAddr>,
    },
    /// A packet from `from` reached this node (before the engine looked at it).
    Delivered {
        from: usize,
        priority: u8,
    },
    Lost {
        from: usize,
    },
    Dropped {
        reason: DropReason,
    },
    /// A Master heard a lower-priority advert (the engine's `LowerPriorityAdvert`).
    LowerPriority {
        from: IpAddr,
    },
}

struct Node {
    configs: Vec<InstanceConfig>,
    groups: Vec<SyncGroupConfig>,
    router: Router,
    up: bool,
    vips: BTreeSet<IpAddr>,
}

#[derive(PartialEq, Eq, PartialOrd, Ord)]
struct Delivery {
    at: Instant,
    seq: u64,
    from: usize,
    to: usize,
    interface: String,
    src: IpAddr,
    dst: IpAddr,
    ttl: u8,
    payload: Vec<u8>,
}

pub(crate) struct Lan {
    t0: Instant,
    now: Instant,
    nodes: Vec<Node>,
    queue: BinaryHeap<Reverse<Delivery>>,
    seq: u64,
    latency: HashMap<(usize, usize), Duration>,
    cut: HashSet<(usize, usize)>,
    loss: f64,
    rng: StdRng,
    log: Vec<Record>,
}

impl Lan {
    pub(crate) fn new(seed: u64) -> Lan {
        let t0 = Instant::now();
        Lan {
            t0,
            now: t0,
            nodes: Vec::new(),
            queue: BinaryHeap::new(),
            seq: 0,
            latency: HashMap::new(),
            cut: HashSet::new(),
            loss: 0.0,
            rng: StdRng::seed_from_u64(seed),
            log: Vec::new(),
        }
    }

    /// Adds a router (not started) and returns its node number.
    pub(crate) fn add_node(
        &mut self,
        configs: Vec<InstanceConfig>,
        groups: Vec<SyncGroupConfig>,
    ) -> usize {
        let router = Router::new(configs.clone(), groups.clone()).expect("valid test config");
        self.nodes.push(Node {
            configs,
            groups,
            router,
            up: false,
            vips: BTreeSet::new(),
        });
        self.nodes.len() - 1
    }

    pub(crate) fn add(&mut self, config: InstanceConfig) -> usize {
        self.add_node(vec![config], Vec::new())
    }

    pub(crate) fn start(&mut self, node: usize) {
        self.nodes[node].up = true;
        self.nodes[node].router.start(self.now);
        self.drain(node);
    }

    /// keepalived's `vrrp_startup_delay` on `node`: no Master before `after` from now.
    /// Call before `start`.
    pub(crate) fn delay_startup(&mut self, node: usize, after: Duration) {
        let until = self.now + after;
        self.nodes[node].router.delay_startup(until);
    }

    pub(crate) fn start_all(&mut self) {
        for node in 0..self.nodes.len() {
            self.start(node);
        }
    }

    /// Graceful stop: the engine's Shutdown event (priority-0 advert, VIPs removed).
    pub(crate) fn shutdown(&mut self, node: usize) {
        self.nodes[node].router.shutdown(self.now);
        self.drain(node);
        self.nodes[node].up = false;
    }

    /// kill -9: the node stops without a word; its VIPs die with it.
    pub(crate) fn crash(&mut self, node: usize) {
        let n = &mut self.nodes[node];
        n.up = false;
        n.vips.clear();
    }

    /// A fresh process on a crashed or stopped node, from the same configuration.
    pub(crate) fn restart(&mut self, node: usize) {
        let n = &mut self.nodes[node];
        n.router = Router::new(n.configs.clone(), n.groups.clone()).expect("valid test config");
        n.vips.clear();
        self.start(node);
    }

    pub(crate) fn set_latency(&mut self, a: usize, b: usize, latency: Duration) {
        self.latency.insert((a, b), latency);
        self.latency.insert((b, a), latency);
    }

    /// Probability that any one packet on any link is lost.
    pub(crate) fn set_loss(&mut self, loss: f64) {
        self.loss = loss;
    }

    /// No packets between the two sides, either way.
    pub(crate) fn partition(&mut self, side_a: &[usize], side_b: &[usize]) {
        for &a in side_a {
            for &b in side_b {
                self.cut.insert((a, b));
                self.cut.insert((b, a));
            }
        }
    }

    /// Packets from `from` to `to` are lost; the other way still works.
    pub(crate) fn cut_one_way(&mut self, from: usize, to: usize) {
        self.cut.insert((from, to));
    }

    pub(crate) fn heal(&mut self) {
        self.cut.clear();
    }

    pub(crate) fn set_track(&mut self, node: usize, instance: &str, track: usize, up: bool) {
        let router = &mut self.nodes[node].router;
        let id = router.find(instance).expect("instance exists");
        router.set_track(self.now, id, track, up);
        self.drain(node);
    }

    /// A tracked object's report, including [`baton_vrrp::TrackStatus::Unknown`] (before
    /// `start`, as the daemon reports a frontend that has no verdict yet).
    pub(crate) fn set_track_status(
        &mut self,
        node: usize,
        instance: &str,
        track: usize,
        status: baton_vrrp::TrackStatus,
    ) {
        let router = &mut self.nodes[node].router;
        let id = router.find(instance).expect("instance exists");
        router.set_track_status(self.now, id, track, status);
        self.drain(node);
    }

    /// `baton instance step-down` (true) or `resume` (false) on `node`.
    pub(crate) fn set_maintenance(&mut self, node: usize, instance: &str, on: bool) {
        let router = &mut self.nodes[node].router;
        let id = router.find(instance).expect("instance exists");
        assert!(router.set_maintenance(self.now, id, on));
        self.drain(node);
    }

    /// Hands raw bytes to a node as if received from the wire.
    pub(crate) fn inject(
        &mut self,
        node: usize,
        received: Received<'_>,
        payload: &[u8],
    ) -> Result<(), DropReason> {
        let result = self.nodes[node]
            .router
            .handle_packet(self.now, received, payload);
        self.drain(node);
        result.map(|_| ()).map_err(|dropped| dropped.reason)
    }

    pub(crate) fn state(&self, node: usize, instance: &str) -> State {
        let router = &self.nodes[node].router;
        let id = router.find(instance).expect("instance exists");
        router.instance(id).expect("instance exists").state()
    }

    pub(crate) fn router(&self, node: usize) -> &Router {
        &self.nodes[node].router
    }

    /// The running nodes that have `vip` configured on their interface right now.
    pub(crate) fn holders(&self, vip: IpAddr) -> Vec<usize> {
        (0..self.nodes.len())
            .filter(|&n| self.nodes[n].up && self.nodes[n].vips.contains(&vip))
            .collect()
    }

    /// Running nodes whose instance `name` is Master.
    pub(crate) fn masters(&self, instance: &str) -> Vec<usize> {
        (0..self.nodes.len())
            .filter(|&n| self.nodes[n].up && self.state(n, instance) == State::Master)
            .collect()
    }

    pub(crate) fn log(&self) -> &[Record] {
        &self.log
    }

    /// State changes of `node`, as (time, to, reason).
    pub(crate) fn transitions(&self, node: usize) -> Vec<(Duration, State, Reason)> {
        self.log
            .iter()
            .filter(|r| r.node == node)
            .filter_map(|r| match &r.what {
                What::State { to, reason, .. } => Some((r.at, *to, *reason)),
                _ => None,
            })
            .collect()
    }

    /// When `node` last entered `state`.
    pub(crate) fn last_entered(&self, node: usize, state: State) -> Option<Duration> {
        self.transitions(node)
            .iter()
            .rev()
            .find(|(_, to, _)| *to == state)
            .map(|(at, _, _)| *at)
    }

    /// Advances virtual time to `since_start` after the start of the simulation.
    pub(crate) fn run_to(&mut self, since_start: Duration) {
        self.run_until(self.t0 + since_start);
    }

    fn run_until(&mut self, deadline: Instant) {
        loop {
            let next_timer = self
                .nodes
                .iter()
                .filter(|n| n.up)
                .filter_map(|n| n.router.poll_timeout())
                .min();
            let next_delivery = self.queue.peek().map(|Reverse(d)| d.at);
            let next = match (next_timer, next_delivery) {
                (Some(a), Some(b)) => a.min(b),
                (a, b) => match a.or(b) {
                    Some(t) => t,
                    None => break,
                },
            };
            if next > deadline {
                break;
            }
            self.now = self.now.max(next);
            // Deliveries first: a packet that arrives at the very instant a timer would fire
            // resets it, as it would on a real host that reads its socket before its timers.
            while self.queue.peek().is_some_and(|Reverse(d)| d.at <= self.now) {
                let Reverse(delivery) = self.queue.pop().expect("peeked");
                self.deliver(delivery);
            }
            for node in 0..self.nodes.len() {
                let due = self.nodes[node]
                    .router
                    .poll_timeout()
                    .is_some_and(|t| t <= self.now);
                if self.nodes[node].up && due {
                    self.nodes[node].router.handle_timeout(self.now);
                    self.drain(node);
                }
            }
        }
        self.now = self.now.max(deadline);
    }

    fn deliver(&mut self, d: Delivery) {
        if !self.nodes[d.to].up {
            return;
        }
        let priority = d.payload.get(2).copied().unwrap_or(0);
        self.record(
            d.to,
            What::Delivered {
                from: d.from,
                priority,
            },
        );
        let received = Received {
            interface: &d.interface,
            src: d.src,
            dst: d.dst,
            ttl: d.ttl,
        };
        let result = self.nodes[d.to]
            .router
            .handle_packet(self.now, received, &d.payload);
        if let Err(dropped) = result {
            self.record(
                d.to,
                What::Dropped {
                    reason: dropped.reason,
                },
            );
        }
        self.drain(d.to);
    }

    /// Pulls every output of `node` and acts on it.
    fn drain(&mut self, node: usize) {
        while let Some((id, transmit)) = self.nodes[node].router.poll_transmit() {
            let interface = self.nodes[node]
                .router
                .instance(id)
                .expect("instance exists")
                .config()
                .interface
                .clone();
            for to in self.receivers(node, transmit.dst) {
                if self.cut.contains(&(node, to)) {
                    continue;
                }
                if self.loss > 0.0 && self.rng.random_bool(self.loss) {
                    self.record(to, What::Lost { from: node });
                    continue;
                }
                let latency = self
                    .latency
                    .get(&(node, to))
                    .copied()
                    .unwrap_or(DEFAULT_LATENCY);
                self.seq += 1;
                self.queue.push(Reverse(Delivery {
                    at: self.now + latency,
                    seq: self.seq,
                    from: node,
                    to,
                    interface: interface.clone(),
                    src: transmit.src,
                    dst: transmit.dst,
                    ttl: transmit.ttl,
                    payload: transmit.payload.clone(),
                }));
            }
        }
        while let Some((_, action)) = self.nodes[node].router.poll_action() {
            match action {
                VipAction::Add { addresses, .. } => self.nodes[node].vips.extend(addresses),
                VipAction::Remove { addresses } => {
                    for address in addresses {
                        self.nodes[node].vips.remove(&address);
                    }
                }
                VipAction::Announce { addresses, .. } => {
                    self.record(node, What::Announce { addresses })
                }
            }
        }
        while let Some((id, event)) = self.nodes[node].router.poll_event() {
            if let Event::LowerPriorityAdvert { from, .. } = event {
                self.record(node, What::LowerPriority { from });
            }
            if let Event::StateChanged { from, to, reason } = event {
                let instance = self.nodes[node]
                    .router
                    .instance(id)
                    .expect("exists")
                    .name()
                    .to_owned();
                self.record(
                    node,
                    What::State {
                        instance,
                        from,
                        to,
                        reason,
                    },
                );
            }
        }
    }

    /// Multicast reaches every other node that listens to the group (`mcast_dst_ip`);
    /// unicast the node that has `dst` as its address.
    fn receivers(&self, from: usize, dst: IpAddr) -> Vec<usize> {
        if dst.is_multicast() {
            return (0..self.nodes.len())
                .filter(|&n| n != from)
                .filter(|&n| {
                    self.nodes[n]
                        .configs
                        .iter()
                        .any(|c| c.multicast_group() == dst)
                })
                .collect();
        }
        (0..self.nodes.len())
            .filter(|&n| {
                self.nodes[n]
                    .configs
                    .iter()
                    .any(|c| c.primary_address == dst)
            })
            .collect()
    }

    fn record(&mut self, node: usize, what: What) {
        self.log.push(Record {
            at: self.now - self.t0,
            node,
            what,
        });
    }
}
