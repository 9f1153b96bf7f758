//! What one proxy listener needs to run: its servers, how to choose among them, and its limits.

use std::net::SocketAddr;
use std::ops::RangeInclusive;
use std::time::Duration;

use crate::balance::Algorithm;
use crate::cidr::Cidr;

/// One HTTP proxy: the upstream servers, the balancing algorithm, limits and retry policy.
///
/// Built by `baton proxy` from flags, or by the daemon from its configuration. Every field has
/// a default fitting a general-purpose edge proxy; change fields after [`ProxyConfig::new`].
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ProxyConfig {
    /// The upstream servers. May be empty: every request then gets a 503.
    pub servers: Vec<ServerConfig>,
    /// How a server is chosen for each request (default: power of two choices).
    pub algorithm: Algorithm,
    /// Timeouts and sizes that protect the proxy from clients and from servers.
    pub limits: Limits,
    /// How many times a request that failed before any response is tried again on another
    /// server (default 1). Only requests whose body has not been sent yet are retried: after a
    /// failed connect any request, after other failures only idempotent methods.
    pub retries: u32,
    /// Passive health: when consecutive failures (refused connects, timeouts, 502/503/504
    /// answers) take a server out of rotation.
    pub ejection: Ejection,
    /// Active health: a probe sent to every server at an interval (default: none). A server
    /// that fails `fall` probes in a row takes no requests until it passes `rise` in a row.
    pub health_check: Option<HealthCheck>,
    /// How long a server that comes back (its health check rises, or its ejection ends)
    /// takes to get its full share of requests: its effective weight grows linearly from a
    /// tenth of its weight to all of it over this time, as HAProxy's `slowstart` (default
    /// zero: off). Not applied to Maglev, whose table keeps its build-time weights.
    pub slow_start: Duration,
    /// The peers whose X-Forwarded-For and X-Forwarded-Proto are believed (default: none).
    /// From one of them, the client's address is appended to the X-Forwarded-For it sent
    /// and its X-Forwarded-Proto is kept; from anyone else both are replaced, so that a
    /// client cannot pass for another address (HAProxy's `option forwardfor` with a
    /// trusted `except` list, nginx's `set_real_ip_from`).
    pub trusted_proxies: Vec<Cidr>,
}

impl ProxyConfig {
    /// True when `peer`'s X-Forwarded-For and X-Forwarded-Proto are believed.
    pub(crate) fn trusts(&self, peer: std::net::IpAddr) -> bool {
        self.trusted_proxies
            .iter()
            .any(|range| range.contains(peer))
    }

    /// A proxy over `servers` with default algorithm, limits and retry policy.
    pub fn new(servers: Vec<ServerConfig>) -> Self {
        ProxyConfig {
            servers,
            algorithm: Algorithm::default(),
            limits: Limits::default(),
            retries: 1,
            ejection: Ejection::default(),
            health_check: None,
            slow_start: Duration::ZERO,
            trusted_proxies: Vec::new(),
        }
    }
}

/// One upstream server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct ServerConfig {
    /// Where to connect.
    pub address: SocketAddr,
    /// Relative capacity (default 1); 0 takes the server out of rotation.
    pub weight: u32,
}

impl ServerConfig {
    /// A server of weight 1.
    pub fn new(address: SocketAddr) -> Self {
        ServerConfig { address, weight: 1 }
    }

    /// The same server with another weight.
    #[must_use]
    pub fn with_weight(mut self, weight: u32) -> Self {
        self.weight = weight;
        self
    }
}

/// Timeouts and sizes. The defaults are close to nginx's and HAProxy's usual settings.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Limits {
    /// Time a client has to send a complete request head, counted from the connection's
    /// accept for the first request and from the request's first byte after that. A client
    /// that sent part of a head gets 408 and the connection is closed (default 10 s).
    pub header_read_timeout: Duration,
    /// How long a keep-alive connection may wait for its next request (default 60 s).
    pub idle_timeout: Duration,
    /// How long a client may leave the answer unread (its socket not taking bytes) before
    /// the connection is closed (default 60 s, as nginx's `send_timeout`).
    pub send_timeout: Duration,
    /// Largest request head (request line and headers) in bytes; bigger gets 431 (default 32 KiB).
    pub max_header_size: usize,
    /// Most header fields in one request; more gets 431 (default 100).
    pub max_headers: usize,
    /// Client connections served at once (default: three quarters of the process's
    /// open-files limit, or 4096 where it cannot be read; the rest of the descriptors are for
    /// connections to servers). One more waits for a free slot up to `connection_wait`, then
    /// gets 503; at most as many wait as may be served.
    pub max_connections: usize,
    /// How long a connection over `max_connections` waits for a slot (default 1 s).
    pub connection_wait: Duration,
    /// Client connections served at once from one client address (default 0: no limit, as
    /// nginx without `limit_conn`). A connection over it is refused as one over
    /// `max_connections` is, at once: 503 over plain HTTP (nginx's `limit_conn` answer),
    /// closed over TLS; [`ProxyMetrics`](crate::ProxyMetrics) counts them.
    pub max_connections_per_client: usize,
    /// How long a client may leave its request body unsent: between two reads, as nginx's
    /// `client_body_timeout` (default 60 s). A client that stalls longer gets 408 and its
    /// connection is closed, or, when the answer has begun, just the close.
    pub client_body_timeout: Duration,
    /// Time to establish a TCP connection to a server; a failure counts as a connect
    /// failure, which is retried and counts towards ejection (default 3 s).
    pub connect_timeout: Duration,
    /// How long a server may be silent: from the end of the request (or the last piece of
    /// its body that went out) to the response head, and between pieces of the response
    /// body (default 60 s, as nginx's `proxy_read_timeout`). Before the head the client gets
    /// 504; during the body its connection is closed, since the head is already out.
    /// Also how long a server may leave a streamed request body untaken (its socket full)
    /// before the client gets 504: a server that stops reading cannot hold the client.
    pub upstream_timeout: Duration,
    /// How long an idle pooled connection to a server is kept (default 4 s). Keep it below
    /// the servers' own keep-alive timeout (Node.js closes after 5 s), or requests race with
    /// the server's close.
    pub upstream_idle_timeout: Duration,
    /// Idle pooled connections kept per server (default 256).
    pub upstream_max_idle: usize,
    /// On shutdown, how long in-flight requests and WebSocket tunnels may take to finish
    /// before they are cut (default 10 s).
    pub drain_timeout: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            header_read_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(60),
            send_timeout: Duration::from_secs(60),
            max_header_size: 32 * 1024,
            max_headers: 100,
            max_connections: default_max_connections(),
            connection_wait: Duration::from_secs(1),
            max_connections_per_client: 0,
            client_body_timeout: Duration::from_secs(60),
            connect_timeout: Duration::from_secs(3),
            upstream_timeout: Duration::from_secs(60),
            upstream_idle_timeout: Duration::from_secs(4),
            upstream_max_idle: 256,
            drain_timeout: Duration::from_secs(10),
        }
    }
}

/// Passive ejection: after `consecutive_failures` failures in a row a server is skipped for a
/// back-off time, which starts at `backoff` and doubles, up to `max_backoff`, each time the
/// server fails again right after coming back. One success resets both.
///
/// A failure is what nginx's `max_fails` and HAProxy's `observe layer7` count: a connection
/// that could not be made, a response head that did not come within
/// [`Limits::upstream_timeout`], or a 502, 503 or 504 answer from the server (which is still
/// passed on to the client). Any other answer is a success.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Ejection {
    /// Failures in a row that eject a server (default 3; 0 never ejects).
    pub consecutive_failures: u32,
    /// First back-off time (default 1 s).
    pub backoff: Duration,
    /// Longest back-off time (default 30 s).
    pub max_backoff: Duration,
}

impl Default for Ejection {
    fn default() -> Self {
        Ejection {
            consecutive_failures: 3,
            backoff: Duration::from_secs(1),
            max_backoff: Duration::from_secs(30),
        }
    }
}

/// An active health check: what to send each server, how often, and how many results in a
/// row flip its state.
///
/// A server starts up (its state is [`CheckState::Unchecked`](crate::CheckState) until the
/// first probe), so a proxy that starts or reloads does not refuse traffic while the first
/// probes are on their way. It goes down after `fall` failed probes in a row and comes back
/// after `rise` successful ones, as HAProxy's `rise` and `fall`. The first probe of each
/// server is sent at a random point within the first `interval`, so that many servers (or
/// many proxies) do not probe in step.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct HealthCheck {
    /// What a probe is.
    pub kind: CheckKind,
    /// Time between the starts of two probes of a server (default 2 s).
    pub interval: Duration,
    /// How long a probe may take, connecting included; longer is a failure (default 1 s).
    pub timeout: Duration,
    /// Successful probes in a row that bring a down server back (default 2; 0 counts as 1).
    pub rise: u32,
    /// Failed probes in a row that take a server down (default 3; 0 counts as 1).
    pub fall: u32,
}

impl HealthCheck {
    /// The default timing, HAProxy's, declared once: the constructors below and
    /// `baton.toml`'s `[backend.health_check]` (in baton-config) use these.
    pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(2);
    pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(1);
    pub const DEFAULT_RISE: u32 = 2;
    pub const DEFAULT_FALL: u32 = 3;
    /// The statuses an HTTP check passes with when none are given: any success or
    /// redirect, as HAProxy's `http-check`.
    pub const DEFAULT_EXPECT: RangeInclusive<u16> = 200..=399;

    /// A TCP check with HAProxy's default timing: the server passes when it accepts a
    /// connection within the timeout.
    pub fn tcp() -> Self {
        Self::with_kind(CheckKind::Tcp)
    }

    /// An HTTP check of `path` with HAProxy's default timing: the server passes when it
    /// answers `GET path` with a 2xx or 3xx status within the timeout.
    pub fn http(path: impl Into<String>) -> Self {
        Self::with_kind(CheckKind::Http {
            path: path.into(),
            host: None,
            expect: Self::DEFAULT_EXPECT,
        })
    }

    fn with_kind(kind: CheckKind) -> Self {
        HealthCheck {
            kind,
            interval: Self::DEFAULT_INTERVAL,
            timeout: Self::DEFAULT_TIMEOUT,
            rise: Self::DEFAULT_RISE,
            fall: Self::DEFAULT_FALL,
        }
    }
}

/// What an active health check sends.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum CheckKind {
    /// Connect, then close: the server passes if the connection is accepted.
    Tcp,
    /// `GET path HTTP/1.1` with `Connection: close` and `User-Agent: baton-health-check`:
    /// the server passes if the status of its answer is in `expect`.
    Http {
        /// The request target, such as `/healthz`.
        path: String,
        /// The `Host` header; `None` sends the server's address.
        host: Option<String>,
        /// The statuses that pass (`200..=399` from [`HealthCheck::http`]).
        expect: RangeInclusive<u16>,
    },
}

/// Three quarters of the soft open-files limit (from /proc/self/limits), at least 64.
fn default_max_connections() -> usize {
    std::fs::read_to_string("/proc/self/limits")
        .ok()
        .and_then(|limits| open_files_limit(&limits))
        .map_or(4096, |limit| (limit / 4 * 3).max(64))
}

/// The soft limit from the "Max open files" line of /proc/self/limits.
fn open_files_limit(limits: &str) -> Option<usize> {
    let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
    match line.split_whitespace().nth(3)? {
        "unlimited" => Some(1 << 20),
        soft => soft.parse().ok(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn open_files_limit_is_read_from_proc() {
        let limits = "Limit                     Soft Limit           Hard Limit           Units\n\
                      Max processes             63541                63541                processes\n\
                      Max open files            1024                 524288               files\n";
        assert_eq!(open_files_limit(limits), Some(1024));
        assert_eq!(open_files_limit("nothing"), None);
        assert!(Limits::default().max_connections >= 64);
    }
}
