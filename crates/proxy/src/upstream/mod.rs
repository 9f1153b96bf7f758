//! One configured set of upstream servers: their weights, the balancer over them, and the
//! policies (ejection, retries, slow start, timeouts, connection pool) that go with them.
//!
//! A reload builds a new set that takes over the run-time state ([`Server`]) of the
//! servers it keeps; a request holds the set it started with until it ends.

mod admin;
mod pool;
mod server;
mod slow_start;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use crate::balance::{self, Algorithm, Balancer, Candidate, HashKey};
use crate::check_state::CheckState;
use crate::config::{Ejection, HealthCheck, Limits, ProxyConfig};
use crate::metrics::ServerMetrics;

pub use admin::{AdminState, UnknownServer};
pub(crate) use pool::connect;
pub(crate) use server::{ActiveGuard, Server};

/// What a [`crate::Proxy`] knows about one of its servers right now.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ServerStatus {
    /// Where the server is.
    pub address: SocketAddr,
    /// The weight it is balanced with: the configured one, or the one an operator set with
    /// [`crate::Proxy::set_weight`].
    pub weight: u32,
    /// True when the server may be picked: ready (see `admin`), not ejected, not down by its
    /// health check, and of a weight above 0.
    pub up: bool,
    /// What the operator decided (see [`crate::Proxy::set_admin`]).
    pub admin: AdminState,
    /// Requests in flight to it (until their response body is done).
    pub active: u32,
    /// Failures in a row (see [`Ejection`]).
    pub consecutive_failures: u32,
    /// What its active health check says.
    pub check: CheckState,
    /// True while it is ejected after consecutive failures.
    pub ejected: bool,
}

/// How many servers of a proxy may take requests; see [`crate::Proxy::health`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct ServersUp {
    /// Servers that may be picked (as [`ServerStatus::up`]).
    pub up: usize,
    /// Servers configured.
    pub total: usize,
}

/// Why no server could be chosen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Unavailable {
    /// The configuration lists no server.
    NoServers,
    /// Every server is down, has weight 0, or was already tried for this request.
    AllDown(DownCounts),
}

/// Why the servers of a set are out of rotation, for the 503 answer's text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct DownCounts {
    pub(crate) total: usize,
    /// Down by their health check.
    pub(crate) checked: usize,
    /// Ejected after consecutive failures.
    pub(crate) ejected: usize,
    /// Of weight 0.
    pub(crate) weight_zero: usize,
    /// Drained or in maintenance by an operator.
    pub(crate) by_operator: usize,
}

/// A configured server in a set.
#[derive(Debug)]
struct Member {
    /// The balancer id, derived from the address so that it survives reloads.
    id: usize,
    /// The weight in the configuration.
    configured: u32,
    /// The weight balanced with: `configured`, or the operator's run-time weight.
    weight: u32,
    server: Arc<Server>,
}

/// How connections to the servers are made and kept. The pools themselves are the
/// servers' ([`Server::pool`]), kept with the rest of a server's state across reloads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PoolSettings {
    pub(crate) connect_timeout: Duration,
    pub(crate) idle_timeout: Duration,
    pub(crate) max_idle: usize,
}

/// One configured set of servers and the policies that go with it; a reload makes a new
/// one, which the proxy's `Servers` swaps in.
#[derive(Debug)]
pub(crate) struct ServerSet {
    /// In configuration order; a request's `tried` list holds indices into it.
    members: Vec<Member>,
    balancer: Box<dyn Balancer>,
    algorithm: Algorithm,
    ejection: Ejection,
    slow_start: Duration,
    health_check: Option<HealthCheck>,
    /// See [`ProxyConfig::retries`].
    pub(crate) retries: u32,
    /// See [`Limits::upstream_timeout`].
    pub(crate) upstream_timeout: Duration,
    pool: PoolSettings,
}

impl ServerSet {
    /// The set for `config`, taking over the state of servers that `previous` has at the
    /// same address (a server listed twice matches by order of appearance).
    pub(crate) fn new(config: &ProxyConfig, previous: Option<&ServerSet>) -> Self {
        let mut kept: HashMap<SocketAddr, Vec<Arc<Server>>> = HashMap::new();
        for member in previous.map_or(&[][..], |p| &p.members).iter().rev() {
            kept.entry(member.server.address)
                .or_default()
                .push(Arc::clone(&member.server));
        }
        let mut ids = Vec::with_capacity(config.servers.len());
        let members: Vec<Member> = config
            .servers
            .iter()
            .map(|server| {
                // Ids must be distinct: a collision (or the same address twice) takes the
                // next free number.
                let mut id = balance::address_id(server.address);
                while ids.contains(&id) {
                    id = id.wrapping_add(1);
                }
                ids.push(id);
                let state = kept
                    .get_mut(&server.address)
                    .and_then(Vec::pop)
                    .unwrap_or_else(|| Server::new(server.address));
                Member {
                    id,
                    configured: server.weight,
                    weight: state.admin.weight_for(server.weight),
                    server: state,
                }
            })
            .collect();
        let weights: Vec<(usize, u32)> = members.iter().map(|m| (m.id, m.weight)).collect();
        ServerSet {
            members,
            balancer: config.algorithm.build(&weights),
            algorithm: config.algorithm.clone(),
            ejection: config.ejection.clone(),
            slow_start: config.slow_start,
            health_check: config.health_check.clone(),
            retries: config.retries,
            upstream_timeout: config.limits.upstream_timeout,
            pool: PoolSettings::of(&config.limits),
        }
    }

    pub(crate) fn server(&self, index: usize) -> &Arc<Server> {
        &self.members[index].server
    }

    /// Every server of the set, in configuration order.
    pub(crate) fn servers(&self) -> impl Iterator<Item = &Arc<Server>> {
        self.members.iter().map(|m| &m.server)
    }

    /// The servers at `address` (usually one), each with its configured weight.
    pub(crate) fn at(&self, address: SocketAddr) -> impl Iterator<Item = (u32, &Arc<Server>)> {
        self.members
            .iter()
            .filter(move |m| m.server.address == address)
            .map(|m| (m.configured, &m.server))
    }

    /// How connections to the servers are made and kept.
    pub(crate) fn pool_settings(&self) -> &PoolSettings {
        &self.pool
    }

    pub(crate) fn algorithm(&self) -> &Algorithm {
        &self.algorithm
    }

    pub(crate) fn health_check(&self) -> Option<&HealthCheck> {
        self.health_check.as_ref()
    }

    /// Chooses a healthy server that is not in `tried`; returns its index in the set.
    pub(crate) fn pick(
        &self,
        tried: &[usize],
        key: Option<&HashKey<'_>>,
    ) -> Result<usize, Unavailable> {
        if self.members.is_empty() {
            return Err(Unavailable::NoServers);
        }
        // On the stack for the usual few servers: a pick allocates nothing.
        const ON_STACK: usize = 16;
        let picked = if self.members.len() <= ON_STACK {
            let empty = Candidate {
                id: 0,
                weight: 0,
                active: 0,
            };
            let mut room = [empty; ON_STACK];
            let mut count = 0;
            for (slot, candidate) in room.iter_mut().zip(self.candidates(tried)) {
                *slot = candidate;
                count += 1;
            }
            self.balancer.pick(&room[..count], key)
        } else {
            let candidates: Vec<Candidate> = self.candidates(tried).collect();
            self.balancer.pick(&candidates, key)
        };
        let id = picked.ok_or_else(|| Unavailable::AllDown(self.down_counts()))?;
        Ok(self
            .members
            .iter()
            .position(|m| m.id == id)
            .expect("the balancer picks among the candidates"))
    }

    /// The healthy servers not in `tried`, with their slow-start weights. The clock is
    /// read only for a server that was ejected or, with slow start on, ever came back.
    fn candidates<'a>(&'a self, tried: &'a [usize]) -> impl Iterator<Item = Candidate> + 'a {
        self.members
            .iter()
            .enumerate()
            .filter(|(index, m)| m.server.is_available() && !tried.contains(index))
            .map(|(_, m)| Candidate {
                id: m.id,
                weight: if self.slow_start.is_zero() {
                    m.weight
                } else {
                    slow_start::effective_weight(m.weight, self.slow_start, m.server.back_for())
                },
                active: m.server.active(),
            })
    }

    /// Counts a request to server `index` as in flight until the guard is dropped.
    pub(crate) fn begin(&self, index: usize) -> ActiveGuard {
        self.members[index].server.begin()
    }

    /// A request to server `index` failed; returns the back-off when this ejected it.
    pub(crate) fn failed(&self, index: usize) -> Option<Duration> {
        self.members[index].server.failed(&self.ejection)
    }

    /// Server `index` answered well.
    pub(crate) fn succeeded(&self, index: usize) {
        self.members[index].server.succeeded();
    }

    pub(crate) fn status(&self) -> Vec<ServerStatus> {
        self.members
            .iter()
            .map(|m| {
                let ejected = m.server.is_ejected();
                let check = m.server.check_state();
                let admin = m.server.admin.state();
                ServerStatus {
                    address: m.server.address,
                    weight: m.weight,
                    up: admin == AdminState::Ready
                        && !ejected
                        && check != CheckState::Down
                        && m.weight > 0,
                    admin,
                    active: m.server.active(),
                    consecutive_failures: m.server.failures(),
                    check,
                    ejected,
                }
            })
            .collect()
    }

    pub(crate) fn health(&self) -> ServersUp {
        ServersUp {
            up: self
                .members
                .iter()
                .filter(|m| m.weight > 0 && m.server.is_available())
                .count(),
            total: self.members.len(),
        }
    }

    /// The counters of every server, in configuration order, with its state.
    pub(crate) fn metrics(&self) -> Vec<ServerMetrics> {
        self.status()
            .into_iter()
            .zip(self.servers())
            .map(|(status, server)| {
                server
                    .metrics
                    .snapshot(status.address, status.up, status.active)
            })
            .collect()
    }

    fn down_counts(&self) -> DownCounts {
        let mut counts = DownCounts {
            total: self.members.len(),
            ..DownCounts::default()
        };
        for m in &self.members {
            if m.server.admin.state() != AdminState::Ready {
                counts.by_operator += 1;
            } else if m.server.check_state() == CheckState::Down {
                counts.checked += 1;
            } else if m.server.is_ejected() {
                counts.ejected += 1;
            } else if m.weight == 0 {
                counts.weight_zero += 1;
            }
        }
        counts
    }
}

impl PoolSettings {
    fn of(limits: &Limits) -> Self {
        PoolSettings {
            connect_timeout: limits.connect_timeout,
            idle_timeout: limits.upstream_idle_timeout,
            max_idle: limits.upstream_max_idle,
        }
    }
}

#[cfg(test)]
mod tests;
