//! The upstream servers at run time: in-flight counts, passive ejection, and the choice of a
//! server through the configured [`Balancer`].

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering::Relaxed};
use std::time::Duration;

use http::uri::Authority;
use tokio::time::Instant;

use crate::balance::{Algorithm, Balancer, Candidate, HashKey};
use crate::config::{Ejection, ServerConfig};

/// What a [`crate::Proxy`] knows about one of its servers right now.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ServerStatus {
    /// Where the server is.
    pub address: SocketAddr,
    /// Its configured weight.
    pub weight: u32,
    /// False while the server is ejected after consecutive connect failures.
    pub up: bool,
    /// Requests in flight to it (until their response body is done).
    pub active: u32,
    /// Connect failures in a row.
    pub consecutive_failures: u32,
}

/// Why no server could be chosen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Unavailable {
    /// The configuration lists no server.
    NoServers,
    /// Every server is ejected, has weight 0, or was already tried for this request.
    AllDown,
}

pub(crate) struct Server {
    pub(crate) address: SocketAddr,
    /// `address` as a URI authority, made once.
    pub(crate) authority: Authority,
    weight: u32,
    active: AtomicU32,
    failures: AtomicU32,
    /// Milliseconds since `Upstreams::epoch` until which the server is ejected; 0: never was.
    ejected_until: AtomicU64,
    /// The next ejection's length in milliseconds; 0: the configured first back-off.
    next_backoff: AtomicU64,
}

impl std::fmt::Debug for Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Server")
            .field("address", &self.address)
            .field("weight", &self.weight)
            .field("active", &self.active.load(Relaxed))
            .finish_non_exhaustive()
    }
}

/// Counts a request in flight to a server until dropped.
#[derive(Debug)]
pub(crate) struct ActiveGuard(Arc<Server>);

impl Drop for ActiveGuard {
    fn drop(&mut self) {
        self.0.active.fetch_sub(1, Relaxed);
    }
}

#[derive(Debug)]
pub(crate) struct Upstreams {
    /// Indexed by balancer id: a server's position in the configuration, stable for the
    /// lifetime of this set.
    servers: Vec<Arc<Server>>,
    balancer: Box<dyn Balancer>,
    algorithm: Algorithm,
    ejection: Ejection,
    epoch: Instant,
}

impl Upstreams {
    pub(crate) fn new(
        servers: &[ServerConfig],
        algorithm: &Algorithm,
        ejection: &Ejection,
    ) -> Self {
        let weights: Vec<(usize, u32)> = servers
            .iter()
            .enumerate()
            .map(|(id, server)| (id, server.weight))
            .collect();
        let servers = servers
            .iter()
            .map(|server| {
                Arc::new(Server {
                    address: server.address,
                    authority: authority(server.address),
                    weight: server.weight,
                    active: AtomicU32::new(0),
                    failures: AtomicU32::new(0),
                    ejected_until: AtomicU64::new(0),
                    next_backoff: AtomicU64::new(0),
                })
            })
            .collect();
        Upstreams {
            servers,
            balancer: algorithm.build(&weights),
            algorithm: algorithm.clone(),
            ejection: ejection.clone(),
            epoch: Instant::now(),
        }
    }

    pub(crate) fn server(&self, id: usize) -> &Arc<Server> {
        &self.servers[id]
    }

    pub(crate) fn algorithm(&self) -> &Algorithm {
        &self.algorithm
    }

    /// Chooses a server that is not ejected and not in `tried`.
    pub(crate) fn pick(
        &self,
        tried: &[usize],
        key: Option<&HashKey<'_>>,
    ) -> Result<usize, Unavailable> {
        if self.servers.is_empty() {
            return Err(Unavailable::NoServers);
        }
        let now = self.now_ms();
        let candidates: Vec<Candidate> = self
            .servers
            .iter()
            .enumerate()
            .filter(|(id, server)| server.ejected_until.load(Relaxed) <= now && !tried.contains(id))
            .map(|(id, server)| Candidate {
                id,
                weight: server.weight,
                active: server.active.load(Relaxed),
            })
            .collect();
        self.balancer
            .pick(&candidates, key)
            .ok_or(Unavailable::AllDown)
    }

    /// Counts a request to server `id` as in flight until the guard is dropped.
    pub(crate) fn begin(&self, id: usize) -> ActiveGuard {
        let server = &self.servers[id];
        server.active.fetch_add(1, Relaxed);
        ActiveGuard(Arc::clone(server))
    }

    /// A connection to server `id` could not be established.
    pub(crate) fn connect_failed(&self, id: usize) {
        let server = &self.servers[id];
        let failures = server.failures.fetch_add(1, Relaxed).saturating_add(1);
        let threshold = self.ejection.consecutive_failures;
        if threshold == 0 || failures < threshold {
            return;
        }
        let now = self.now_ms();
        let until = server.ejected_until.load(Relaxed);
        if until > now {
            // Requests that were already on their way fail too; they must not lengthen
            // the ejection.
            return;
        }
        let first = millis(self.ejection.backoff).max(1);
        let backoff = match server.next_backoff.load(Relaxed) {
            0 => first,
            next => next,
        };
        if server
            .ejected_until
            .compare_exchange(until, now + backoff, Relaxed, Relaxed)
            .is_ok()
        {
            let max = millis(self.ejection.max_backoff).max(first);
            server
                .next_backoff
                .store(backoff.saturating_mul(2).min(max), Relaxed);
            tracing::warn!(
                server = %server.address,
                failures,
                backoff_ms = backoff,
                "server ejected after consecutive connect failures"
            );
        }
    }

    /// Server `id` answered: it is healthy again.
    pub(crate) fn succeeded(&self, id: usize) {
        let server = &self.servers[id];
        if server.failures.load(Relaxed) != 0 {
            let was_ejected = server.next_backoff.swap(0, Relaxed) != 0;
            server.failures.store(0, Relaxed);
            if was_ejected {
                tracing::info!(server = %server.address, "server answers again");
            }
        }
    }

    pub(crate) fn status(&self) -> Vec<ServerStatus> {
        let now = self.now_ms();
        self.servers
            .iter()
            .map(|server| ServerStatus {
                address: server.address,
                weight: server.weight,
                up: server.ejected_until.load(Relaxed) <= now,
                active: server.active.load(Relaxed),
                consecutive_failures: server.failures.load(Relaxed),
            })
            .collect()
    }

    /// Milliseconds since the set was made, never 0 so that 0 can mean "never ejected".
    fn now_ms(&self) -> u64 {
        millis(self.epoch.elapsed()).saturating_add(1)
    }
}

fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

fn authority(address: SocketAddr) -> Authority {
    // A socket address always formats as a valid authority ("1.2.3.4:80", "[::1]:80").
    Authority::try_from(address.to_string().as_str()).expect("socket address is an authority")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(n: u16) -> Upstreams {
        let servers: Vec<ServerConfig> = (0..n)
            .map(|i| ServerConfig::new(SocketAddr::from(([127, 0, 0, 1], 8000 + i))))
            .collect();
        Upstreams::new(&servers, &Algorithm::default(), &Ejection::default())
    }

    #[test]
    fn empty_set_has_no_servers() {
        assert_eq!(set(0).pick(&[], None), Err(Unavailable::NoServers));
    }

    #[test]
    fn tried_servers_are_skipped() {
        let upstreams = set(2);
        for _ in 0..20 {
            assert_eq!(upstreams.pick(&[0], None), Ok(1));
        }
        assert_eq!(upstreams.pick(&[0, 1], None), Err(Unavailable::AllDown));
    }

    #[test]
    fn in_flight_counts_follow_guards() {
        let upstreams = set(2);
        let a = upstreams.begin(1);
        let b = upstreams.begin(1);
        assert_eq!(upstreams.status()[1].active, 2);
        drop((a, b));
        assert_eq!(upstreams.status()[1].active, 0);
    }

    #[tokio::test(start_paused = true)]
    async fn consecutive_connect_failures_eject_with_growing_backoff() {
        let upstreams = set(2);
        upstreams.connect_failed(0);
        upstreams.connect_failed(0);
        assert!(upstreams.status()[0].up, "two failures are not enough");
        upstreams.connect_failed(0);
        assert!(!upstreams.status()[0].up);
        for _ in 0..20 {
            assert_eq!(upstreams.pick(&[], None), Ok(1));
        }
        // In-flight failures while ejected do not lengthen the ejection.
        upstreams.connect_failed(0);
        upstreams.connect_failed(0);
        tokio::time::advance(Duration::from_millis(1001)).await;
        assert!(
            upstreams.status()[0].up,
            "back after the first back-off (1 s)"
        );

        // Failing right after coming back doubles the back-off.
        upstreams.connect_failed(0);
        tokio::time::advance(Duration::from_millis(1500)).await;
        assert!(!upstreams.status()[0].up, "second back-off is 2 s");
        tokio::time::advance(Duration::from_millis(600)).await;
        assert!(upstreams.status()[0].up);

        // One success resets everything.
        upstreams.succeeded(0);
        assert_eq!(upstreams.status()[0].consecutive_failures, 0);
        upstreams.connect_failed(0);
        assert!(upstreams.status()[0].up);
    }

    #[test]
    fn all_ejected_is_all_down() {
        let upstreams = set(1);
        for _ in 0..3 {
            upstreams.connect_failed(0);
        }
        assert_eq!(upstreams.pick(&[], None), Err(Unavailable::AllDown));
    }
}
