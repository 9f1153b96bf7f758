//! One upstream server's run-time state: in-flight count, passive ejection, active check
//! state, and when it last came back. A reload that keeps a server's address keeps this
//! state; only its configured weight lives in the server set.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, AtomicU32, AtomicU64, Ordering::Relaxed};
use std::time::Duration;

use http::uri::Authority;
use tokio::time::Instant;

use super::admin::{Admin, AdminState};
use super::pool::Pool;
use crate::check_state::CheckState;
use crate::config::Ejection;
use crate::metrics::ServerCounters;

pub(crate) struct Server {
    pub(crate) address: SocketAddr,
    /// `address` as a URI authority, made once.
    pub(crate) authority: Authority,
    active: AtomicU32,
    failures: AtomicU32,
    /// Milliseconds since `epoch` until which the server is ejected; 0: never was.
    ejected_until: AtomicU64,
    /// The next ejection's length in milliseconds; 0: the configured first back-off.
    next_backoff: AtomicU64,
    /// A [`CheckState`] as a byte; written only by the server's check task (and a reload).
    check: AtomicU8,
    /// Milliseconds since `epoch` when the check last went from down to up; 0: never.
    rose_at: AtomicU64,
    epoch: Instant,
    /// For monitoring; kept with the rest of the state across reloads. Connections to the
    /// server count their bytes into it.
    pub(crate) metrics: Arc<ServerCounters>,
    /// The operator's admin state and run-time weight.
    pub(crate) admin: Admin,
    /// Idle connections to the server, for both forwarding paths.
    pub(crate) pool: Pool,
}

impl std::fmt::Debug for Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Server")
            .field("address", &self.address)
            .field("active", &self.active.load(Relaxed))
            .field("check", &self.check_state())
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

impl Server {
    /// A server nobody has talked to yet: up, unchecked, nothing in flight.
    pub(crate) fn new(address: SocketAddr) -> Arc<Self> {
        Arc::new(Server {
            address,
            authority: authority(address),
            active: AtomicU32::new(0),
            failures: AtomicU32::new(0),
            ejected_until: AtomicU64::new(0),
            next_backoff: AtomicU64::new(0),
            check: AtomicU8::new(CheckState::Unchecked.to_u8()),
            rose_at: AtomicU64::new(0),
            epoch: Instant::now(),
            metrics: Arc::default(),
            admin: Admin::default(),
            pool: Pool::default(),
        })
    }

    /// Counts a request as in flight until the guard is dropped.
    pub(crate) fn begin(self: &Arc<Self>) -> ActiveGuard {
        let in_flight = self.active.fetch_add(1, Relaxed).saturating_add(1);
        self.metrics.began(in_flight);
        ActiveGuard(Arc::clone(self))
    }

    pub(crate) fn active(&self) -> u32 {
        self.active.load(Relaxed)
    }

    pub(crate) fn failures(&self) -> u32 {
        self.failures.load(Relaxed)
    }

    pub(crate) fn is_ejected(&self) -> bool {
        // Never ejected (the usual case): no clock to read on every pick.
        let until = self.ejected_until.load(Relaxed);
        until != 0 && until > self.now_ms()
    }

    pub(crate) fn check_state(&self) -> CheckState {
        CheckState::from_u8(self.check.load(Relaxed))
    }

    /// Takes requests as far as health goes: not ejected and not down by its check.
    pub(crate) fn is_healthy(&self) -> bool {
        !self.is_ejected() && self.check_state() != CheckState::Down
    }

    /// Healthy, and the operator lets it take requests: a balancing candidate.
    pub(crate) fn is_available(&self) -> bool {
        self.admin.state() == AdminState::Ready && self.is_healthy()
    }

    /// Sets the admin state and returns the previous one; back to ready starts the
    /// server's slow start, as a health check that rises does.
    pub(crate) fn set_admin(&self, state: AdminState) -> AdminState {
        let was = self.admin.set_state(state);
        if was != AdminState::Ready && state == AdminState::Ready {
            self.rose_at.store(self.now_ms(), Relaxed);
        }
        was
    }

    /// Sets the checked state and returns the previous one; coming up from down starts the
    /// server's slow start.
    pub(crate) fn set_check_state(&self, state: CheckState) -> CheckState {
        let was = CheckState::from_u8(self.check.swap(state.to_u8(), Relaxed));
        if was == CheckState::Down && state != CheckState::Down {
            self.rose_at.store(self.now_ms(), Relaxed);
        }
        was
    }

    /// How long ago the server last came back (its check rose, or its ejection ended), if
    /// it ever did.
    pub(crate) fn back_for(&self) -> Option<Duration> {
        let now = self.now_ms();
        let ejection_end = self.ejected_until.load(Relaxed);
        let ejection_end = if ejection_end <= now { ejection_end } else { 0 };
        let back = ejection_end.max(self.rose_at.load(Relaxed));
        (back != 0).then(|| Duration::from_millis(now - back))
    }

    /// A request to the server failed (see [`Ejection`] for what counts). Returns the
    /// back-off when this failure ejected the server.
    pub(crate) fn failed(&self, ejection: &Ejection) -> Option<Duration> {
        let failures = self.failures.fetch_add(1, Relaxed).saturating_add(1);
        let threshold = ejection.consecutive_failures;
        if threshold == 0 || failures < threshold {
            return None;
        }
        let now = self.now_ms();
        let until = self.ejected_until.load(Relaxed);
        if until > now {
            // Requests that were already on their way fail too; they must not lengthen
            // the ejection.
            return None;
        }
        let first = millis(ejection.backoff).max(1);
        let backoff = match self.next_backoff.load(Relaxed) {
            0 => first,
            next => next,
        };
        self.ejected_until
            .compare_exchange(until, now + backoff, Relaxed, Relaxed)
            .ok()?;
        let max = millis(ejection.max_backoff).max(first);
        self.next_backoff
            .store(backoff.saturating_mul(2).min(max), Relaxed);
        self.metrics.ejected();
        tracing::warn!(
            server = %self.address,
            failures,
            backoff_ms = backoff,
            "server ejected after consecutive failures"
        );
        Some(Duration::from_millis(backoff))
    }

    /// The server answered well: it is healthy again.
    pub(crate) fn succeeded(&self) {
        if self.failures.load(Relaxed) != 0 {
            let was_ejected = self.next_backoff.swap(0, Relaxed) != 0;
            self.failures.store(0, Relaxed);
            if was_ejected {
                tracing::info!(server = %self.address, "server answers again");
            }
        }
    }

    /// Milliseconds since the server was first configured, never 0 so that 0 can mean
    /// "never".
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

    fn server() -> Arc<Server> {
        Server::new(SocketAddr::from(([127, 0, 0, 1], 8000)))
    }

    #[tokio::test(start_paused = true)]
    async fn consecutive_failures_eject_with_growing_backoff() {
        let server = server();
        let ejection = Ejection::default();
        assert_eq!(server.failed(&ejection), None);
        assert_eq!(server.failed(&ejection), None);
        assert!(!server.is_ejected(), "two failures are not enough");
        assert_eq!(server.failed(&ejection), Some(Duration::from_secs(1)));
        assert!(server.is_ejected());
        // In-flight failures while ejected do not lengthen the ejection.
        assert_eq!(server.failed(&ejection), None);
        assert_eq!(server.failed(&ejection), None);
        tokio::time::advance(Duration::from_millis(1001)).await;
        assert!(!server.is_ejected(), "back after the first back-off (1 s)");

        // Failing right after coming back doubles the back-off.
        assert_eq!(server.failed(&ejection), Some(Duration::from_secs(2)));
        tokio::time::advance(Duration::from_millis(1500)).await;
        assert!(server.is_ejected(), "second back-off is 2 s");
        tokio::time::advance(Duration::from_millis(600)).await;
        assert!(!server.is_ejected());

        // One success resets everything.
        server.succeeded();
        assert_eq!(server.failures(), 0);
        assert_eq!(server.failed(&ejection), None);
        assert!(!server.is_ejected());
    }

    #[tokio::test(start_paused = true)]
    async fn coming_back_is_dated_by_the_check_or_the_ejection_end() {
        let server = server();
        assert_eq!(server.back_for(), None, "never went away");
        assert_eq!(
            server.set_check_state(CheckState::Up),
            CheckState::Unchecked
        );
        assert_eq!(
            server.back_for(),
            None,
            "unchecked to up is not coming back"
        );
        server.set_check_state(CheckState::Down);
        assert!(!server.is_healthy());
        tokio::time::advance(Duration::from_secs(5)).await;
        server.set_check_state(CheckState::Up);
        assert!(server.is_healthy());
        tokio::time::advance(Duration::from_secs(2)).await;
        assert_eq!(server.back_for(), Some(Duration::from_secs(2)));

        let ejection = Ejection::default();
        for _ in 0..3 {
            server.failed(&ejection);
        }
        assert!(!server.is_healthy());
        assert_eq!(
            server.back_for(),
            Some(Duration::from_secs(2)),
            "still ejected"
        );
        tokio::time::advance(Duration::from_millis(1500)).await;
        assert!(server.is_healthy());
        let back = server.back_for().expect("back");
        assert!(back <= Duration::from_millis(501), "{back:?}");
    }

    #[test]
    fn in_flight_counts_follow_guards() {
        let server = server();
        let a = server.begin();
        let b = server.begin();
        assert_eq!(server.active(), 2);
        drop((a, b));
        assert_eq!(server.active(), 0);
    }
}
