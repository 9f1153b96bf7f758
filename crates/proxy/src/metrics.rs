//! Counters for monitoring: per server (requests, answers by status class, time to the
//! response head, errors by kind, bytes, most requests at once, failed health checks and the
//! last one's result, ejections) and per proxy (client connections).
//!
//! They are relaxed atomics bumped on the request path: no lock, no allocation, a handful of
//! `fetch_add`s per request. [`Proxy::metrics`](crate::Proxy::metrics) copies them out for an
//! exporter. A server's counters live with its run-time state, so a reload that keeps the
//! server keeps its counts; a removed server's counts go with it.

use std::net::SocketAddr;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Duration;

use http::StatusCode;

use crate::counted::Tally;

/// Upper bounds, in seconds, of the response-time histogram's buckets (Prometheus' defaults
/// with a 1 ms bucket in front, since a proxy on a LAN often answers faster than 5 ms).
pub const RESPONSE_TIME_BUCKETS: [f64; 12] = [
    0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// [`RESPONSE_TIME_BUCKETS`] in nanoseconds, so that recording compares integers.
const BUCKET_NANOS: [u64; 12] = [
    1_000_000,
    5_000_000,
    10_000_000,
    25_000_000,
    50_000_000,
    100_000_000,
    250_000_000,
    500_000_000,
    1_000_000_000,
    2_500_000_000,
    5_000_000_000,
    10_000_000_000,
];

/// The status classes [`ServerMetrics::responses`] counts, in its order.
pub const STATUS_CLASSES: [&str; 5] = ["1xx", "2xx", "3xx", "4xx", "5xx"];

/// `status`'s index in [`STATUS_CLASSES`].
fn status_class(status: StatusCode) -> usize {
    usize::from(status.as_u16() / 100).clamp(1, 5) - 1
}

/// One server's counters, bumped where things happen.
#[derive(Debug, Default)]
pub(crate) struct ServerCounters {
    /// Answers from the server by status class, `1xx` first.
    responses: [AtomicU64; 5],
    /// Observations per bucket (not cumulative); the last one is above every bound.
    buckets: [AtomicU64; 13],
    sum_nanos: AtomicU64,
    check_failures: AtomicU64,
    ejections: AtomicU64,
    /// Attempts sent to it: a request retried on another server counts on both.
    requests: AtomicU64,
    /// The most requests in flight to it at once.
    max_active: AtomicU64,
    connect_errors: AtomicU64,
    timeouts: AtomicU64,
    retries: AtomicU64,
    /// Bytes read from and written to its connections, on every path (see [`ServerMetrics`]).
    bytes_in: AtomicU64,
    bytes_out: AtomicU64,
    /// Written once per probe, read by exporters: a lock off the request path.
    last_check: Mutex<Option<LastCheck>>,
}

impl ServerCounters {
    /// A request went to the server, which now has `in_flight` requests.
    pub(crate) fn began(&self, in_flight: u32) {
        self.requests.fetch_add(1, Relaxed);
        self.max_active.fetch_max(u64::from(in_flight), Relaxed);
    }

    /// No connection to the server could be made.
    pub(crate) fn connect_failed(&self) {
        self.connect_errors.fetch_add(1, Relaxed);
    }

    /// The server did not answer within the upstream timeout.
    pub(crate) fn timed_out(&self) {
        self.timeouts.fetch_add(1, Relaxed);
    }

    /// A request that failed on this server is sent again (to it or another one).
    pub(crate) fn retried(&self) {
        self.retries.fetch_add(1, Relaxed);
    }

    /// A health check probe ended: passed, or failed for `failure`, after `latency`.
    pub(crate) fn checked(&self, failure: Option<String>, latency: Duration) {
        let result = LastCheck {
            passed: failure.is_none(),
            failure: failure.unwrap_or_default(),
            latency,
        };
        *self.last_check.lock().unwrap_or_else(|e| e.into_inner()) = Some(result);
    }

    /// The server sent a response head with `status`, `elapsed` after the request went out.
    pub(crate) fn responded(&self, status: StatusCode, elapsed: Duration) {
        self.responses[status_class(status)].fetch_add(1, Relaxed);
        let nanos = u64::try_from(elapsed.as_nanos()).unwrap_or(u64::MAX);
        let bucket = BUCKET_NANOS.partition_point(|&bound| bound < nanos);
        self.buckets[bucket].fetch_add(1, Relaxed);
        self.sum_nanos.fetch_add(nanos, Relaxed);
    }

    /// A health check probe failed.
    pub(crate) fn check_failed(&self) {
        self.check_failures.fetch_add(1, Relaxed);
    }

    /// The server was ejected after consecutive failures.
    pub(crate) fn ejected(&self) {
        self.ejections.fetch_add(1, Relaxed);
    }

    /// Bytes from and to the server, for tests.
    #[cfg(test)]
    pub(crate) fn bytes_moved(&self) -> (u64, u64) {
        (self.bytes_in.load(Relaxed), self.bytes_out.load(Relaxed))
    }

    fn response_time(&self) -> Histogram {
        let mut cumulative = Vec::with_capacity(self.buckets.len());
        let mut total = 0u64;
        for bucket in &self.buckets {
            total = total.saturating_add(bucket.load(Relaxed));
            cumulative.push(total);
        }
        Histogram {
            bounds: &RESPONSE_TIME_BUCKETS,
            cumulative,
            sum: Duration::from_nanos(self.sum_nanos.load(Relaxed)).as_secs_f64(),
            count: total,
        }
    }

    /// A copy of the counters, with the server's state as its set sees it.
    pub(crate) fn snapshot(&self, address: SocketAddr, up: bool, active: u32) -> ServerMetrics {
        ServerMetrics {
            address,
            up,
            active,
            responses: std::array::from_fn(|i| self.responses[i].load(Relaxed)),
            response_time: self.response_time(),
            check_failures: self.check_failures.load(Relaxed),
            ejections: self.ejections.load(Relaxed),
            requests: self.requests.load(Relaxed),
            max_active: self.max_active.load(Relaxed),
            connect_errors: self.connect_errors.load(Relaxed),
            timeouts: self.timeouts.load(Relaxed),
            retries: self.retries.load(Relaxed),
            bytes_in: self.bytes_in.load(Relaxed),
            bytes_out: self.bytes_out.load(Relaxed),
            last_check: self
                .last_check
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .clone(),
        }
    }
}

/// The bytes of the server's connections, on every path (see [`crate::counted`]).
impl Tally for ServerCounters {
    fn received(&self, n: usize) {
        self.bytes_in.fetch_add(n as u64, Relaxed);
    }

    fn sent(&self, n: usize) {
        self.bytes_out.fetch_add(n as u64, Relaxed);
    }
}

/// A proxy's client connections.
#[derive(Debug, Default)]
pub(crate) struct ConnectionCounters {
    active: AtomicU64,
    total: AtomicU64,
    refused_per_client: AtomicU64,
    /// `accept()` failures: mostly out of file descriptors.
    accept_errors: AtomicU64,
    /// Answers the proxy made itself (see `own_answer`) by status class.
    own_responses: [AtomicU64; 5],
}

impl ConnectionCounters {
    /// A client connection was accepted (whether served or refused over the limit).
    pub(crate) fn accepted(&self) {
        self.total.fetch_add(1, Relaxed);
    }

    /// A connection was refused: its address had `max_connections_per_client` open.
    pub(crate) fn refused_per_client(&self) {
        self.refused_per_client.fetch_add(1, Relaxed);
    }

    /// `accept()` failed; the connection waits in the listen queue (or the kernel drops it).
    pub(crate) fn accept_failed(&self) {
        self.accept_errors.fetch_add(1, Relaxed);
    }

    /// The proxy answered a request itself with `status`, no server's answer passed on.
    pub(crate) fn answered_by_proxy(&self, status: StatusCode) {
        self.own_responses[status_class(status)].fetch_add(1, Relaxed);
    }

    /// Counts a connection as being served until the guard drops.
    pub(crate) fn serving(&self) -> ServingGuard<'_> {
        self.active.fetch_add(1, Relaxed);
        ServingGuard(self)
    }

    /// The proxy's connection counts with `servers`' copies (see [`ServerCounters::snapshot`]).
    pub(crate) fn snapshot(&self, servers: Vec<ServerMetrics>) -> ProxyMetrics {
        ProxyMetrics {
            connections_active: self.active.load(Relaxed),
            connections_total: self.total.load(Relaxed),
            connections_refused_per_client: self.refused_per_client.load(Relaxed),
            accept_errors: self.accept_errors.load(Relaxed),
            own_responses: std::array::from_fn(|i| self.own_responses[i].load(Relaxed)),
            servers,
        }
    }
}

/// One connection being served; see [`ConnectionCounters::serving`].
#[derive(Debug)]
pub(crate) struct ServingGuard<'a>(&'a ConnectionCounters);

impl Drop for ServingGuard<'_> {
    fn drop(&mut self) {
        self.0.active.fetch_sub(1, Relaxed);
    }
}

/// A copy of a proxy's counters; see [`Proxy::metrics`](crate::Proxy::metrics).
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct ProxyMetrics {
    /// Client connections being served now.
    pub connections_active: u64,
    /// Client connections accepted since the proxy started, refused ones included.
    pub connections_total: u64,
    /// Client connections refused because their address had
    /// [`Limits::max_connections_per_client`](crate::Limits::max_connections_per_client)
    /// open already.
    pub connections_refused_per_client: u64,
    /// Failed `accept()` calls (mostly: out of file descriptors). The connection stays in
    /// the listen queue and is accepted later, or the kernel drops it when the queue is full.
    pub accept_errors: u64,
    /// Answers the proxy made itself, by status class ([`STATUS_CLASSES`] order): a 503
    /// with no server up or to a connection over a limit, a 502 or 504 for a server that
    /// failed, a 400, 405 or 408 for a client. Not the 400 and 431 hyper answers to a
    /// malformed or oversized head on its own.
    pub own_responses: [u64; 5],
    /// The current servers, in configuration order.
    pub servers: Vec<ServerMetrics>,
}

/// A copy of one server's counters, with its state.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct ServerMetrics {
    /// Where the server is.
    pub address: SocketAddr,
    /// In rotation (as [`ServerStatus::up`](crate::ServerStatus::up)).
    pub up: bool,
    /// Requests in flight to it.
    pub active: u32,
    /// Response heads the server sent, by status class ([`STATUS_CLASSES`] order). The
    /// proxy's own answers (502, 503, 504 when a server failed) are not here: those servers
    /// show up in `ejections` and `check_failures`.
    pub responses: [u64; 5],
    /// Time from sending a request to the server to receiving its response head.
    pub response_time: Histogram,
    /// Failed health check probes.
    pub check_failures: u64,
    /// Times it was ejected after consecutive failures.
    pub ejections: u64,
    /// Requests sent to it (each attempt of a retried request counts where it went).
    pub requests: u64,
    /// The most requests in flight to it at once since it was configured.
    pub max_active: u64,
    /// Attempts that found no connection (refused, unreachable, connect timeout).
    pub connect_errors: u64,
    /// Attempts with no response head within the upstream timeout (answered 504).
    pub timeouts: u64,
    /// Failed attempts sent again, to another server or on a fresh connection.
    pub retries: u64,
    /// Bytes read from and written to its connections, heads included: the response and
    /// the request as they went over the wire, whichever path served the client (HTTP/1.1,
    /// HTTP/2, TLS, HTTP/1.0, a WebSocket tunnel's bytes). Health checks are not counted.
    pub bytes_in: u64,
    pub bytes_out: u64,
    /// The last health check probe, if one ran.
    pub last_check: Option<LastCheck>,
}

/// One health check probe's result.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct LastCheck {
    pub passed: bool,
    /// Why it failed (`connect failed: Connection refused`); empty when it passed.
    pub failure: String,
    /// From the probe's start to its result.
    pub latency: Duration,
}

/// A histogram as Prometheus exposes one (a fixed shape, so exporters may build one too).
#[derive(Debug, Clone, PartialEq)]
pub struct Histogram {
    /// Upper bounds of the buckets, in seconds, ascending.
    pub bounds: &'static [f64],
    /// Observations at or below each bound (cumulative), then one more entry for all of
    /// them (`+Inf`), which equals `count`.
    pub cumulative: Vec<u64>,
    /// The sum of all observations, in seconds.
    pub sum: f64,
    /// How many observations.
    pub count: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_bounds_match_in_both_units() {
        for (seconds, nanos) in RESPONSE_TIME_BUCKETS.iter().zip(BUCKET_NANOS) {
            assert_eq!(
                Duration::from_secs_f64(*seconds).as_nanos(),
                u128::from(nanos)
            );
        }
    }

    #[test]
    fn responses_count_by_class_and_fill_cumulative_buckets() {
        let counters = ServerCounters::default();
        counters.responded(StatusCode::OK, Duration::from_micros(500));
        // On a bound: `le` means less than or equal.
        counters.responded(StatusCode::NOT_FOUND, Duration::from_millis(5));
        counters.responded(StatusCode::BAD_GATEWAY, Duration::from_millis(300));
        counters.responded(StatusCode::SWITCHING_PROTOCOLS, Duration::from_secs(60));
        counters.responded(StatusCode::FOUND, Duration::from_millis(2));
        let histogram = counters.response_time();
        assert_eq!(
            std::array::from_fn::<u64, 5, _>(|i| counters.responses[i].load(Relaxed)),
            [1, 1, 1, 1, 1]
        );
        assert_eq!(
            histogram.cumulative,
            [1, 3, 3, 3, 3, 3, 3, 4, 4, 4, 4, 4, 5]
        );
        assert_eq!(histogram.count, 5);
        assert!((histogram.sum - 60.3075).abs() < 1e-9, "{}", histogram.sum);
    }

    #[test]
    fn requests_keep_their_peak_and_the_last_check_is_kept() {
        let counters = ServerCounters::default();
        counters.began(1);
        counters.began(3);
        counters.began(2);
        counters.connect_failed();
        counters.retried();
        counters.received(100);
        counters.sent(40);
        counters.checked(None, Duration::from_millis(2));
        counters.checked(Some("connect failed".into()), Duration::from_millis(7));
        assert_eq!(counters.requests.load(Relaxed), 3);
        assert_eq!(counters.max_active.load(Relaxed), 3, "the peak stays");
        assert_eq!(counters.bytes_in.load(Relaxed), 100);
        let last = counters.last_check.lock().expect("lock").clone();
        assert_eq!(
            last,
            Some(LastCheck {
                passed: false,
                failure: "connect failed".into(),
                latency: Duration::from_millis(7),
            })
        );
    }

    #[test]
    fn connections_count_while_served() {
        let connections = ConnectionCounters::default();
        connections.accepted();
        connections.accepted();
        let guard = connections.serving();
        assert_eq!(connections.active.load(Relaxed), 1);
        drop(guard);
        assert_eq!(connections.active.load(Relaxed), 0);
        assert_eq!(connections.total.load(Relaxed), 2);
    }

    #[test]
    fn own_answers_count_by_class() {
        let connections = ConnectionCounters::default();
        connections.answered_by_proxy(StatusCode::SERVICE_UNAVAILABLE);
        connections.answered_by_proxy(StatusCode::BAD_GATEWAY);
        connections.answered_by_proxy(StatusCode::REQUEST_TIMEOUT);
        connections.accept_failed();
        let metrics = connections.snapshot(Vec::new());
        assert_eq!(metrics.own_responses, [0, 0, 0, 1, 2]);
        assert_eq!(metrics.accept_errors, 1);
    }
}
