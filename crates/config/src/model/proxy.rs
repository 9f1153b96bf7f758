//! The proxy model (`baton.toml` only): frontends, the backends they send requests to,
//! their servers and health checks.

use std::net::SocketAddr;
use std::ops::RangeInclusive;
use std::path::PathBuf;
use std::time::Duration;

use baton_proxy::balance::Algorithm;

use crate::diagnostic::WrittenAt;

/// A `[[frontend]]`: where the proxy listens, and the backend it sends requests to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frontend {
    pub name: String,
    /// May be a virtual address this host does not hold yet: the listener is bound before
    /// the address arrives (the way HAProxy and nginx are set up next to keepalived, with
    /// non-local binds).
    pub listen: SocketAddr,
    /// The name of a [`Backend`] of the same configuration.
    pub backend: String,
    /// Certificates to serve HTTPS with; empty: plain HTTP. With several, the client's SNI
    /// picks one and the first is for clients that send none or match none.
    pub tls: Vec<TlsCertificate>,
    /// Client connections served at once. `None`: the proxy's default, from the
    /// open-files limit.
    pub max_connections: Option<usize>,
    /// How long a keep-alive connection may wait for its next request (default 60 s).
    pub client_timeout: Duration,
    /// Time a client has to send a complete request head; 408 after (default 10 s).
    pub request_timeout: Duration,
    /// Largest request head in bytes; 431 above (default 32768).
    pub max_header_size: usize,
    /// On stop and reload, how long in-flight requests may take to finish (default 10 s).
    pub drain_timeout: Duration,
    /// How long a client may pause while sending a request body; 408 after (default 60 s,
    /// as nginx's `client_body_timeout`).
    pub client_body_timeout: Duration,
    /// Connections one client address may have open; 0: no limit (the default).
    pub max_connections_per_client: usize,
    /// Peers whose X-Forwarded-For and X-Forwarded-Proto are extended and kept; everyone
    /// else's are replaced (default: none).
    pub trusted_proxies: Vec<baton_proxy::Cidr>,
    pub location: WrittenAt,
}

/// A certificate chain and its private key, both PEM files; checked readable when the
/// configuration is loaded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsCertificate {
    /// Relative paths are resolved against the directory of the file that names them.
    pub cert: PathBuf,
    pub key: PathBuf,
    pub location: WrittenAt,
}

/// A `[[backend]]`: the servers requests are balanced over, and how.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Backend {
    pub name: String,
    /// May be empty (every request then gets a 503); `baton check` warns.
    pub servers: Vec<BackendServer>,
    /// `balance` and `hash` (default: power of two choices).
    pub balance: Algorithm,
    /// Times a request that failed before any response is tried on another server
    /// (default 1).
    pub retries: u32,
    /// Time to establish a connection to a server (default 3 s).
    pub connect_timeout: Duration,
    /// How long a server may be silent before the client gets 504 (default 60 s).
    pub server_timeout: Duration,
    /// Idle keep-alive connections kept per server for later requests (default 256); 0:
    /// none, every request opens a new connection.
    pub keepalive: usize,
    /// How long an idle kept connection to a server may wait for its next request before
    /// baton closes it (default 4 s).
    pub keepalive_timeout: Duration,
    /// A server back in rotation gets its full weight over this time; zero: at once
    /// (the default).
    pub slow_start: Duration,
    /// Consecutive connect failures or 5xx answers that eject a server (default 3; 0:
    /// never).
    pub max_fails: u32,
    /// First ejection time (default 1 s); it doubles each time the server fails again right
    /// after coming back, up to 30 s.
    pub fail_timeout: Duration,
    /// Active health checking; `None`: only the passive ejection above.
    pub health_check: Option<HealthCheck>,
    pub location: WrittenAt,
}

/// One entry of a backend's `servers`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackendServer {
    pub address: SocketAddr,
    /// Relative capacity, 0..=256 (default 1); 0 takes the server out of rotation.
    pub weight: u32,
    pub location: WrittenAt,
}

/// `[backend.health_check]`: a probe of every server of the backend, every `interval`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HealthCheck {
    pub kind: HealthCheckKind,
    /// Default 2 s.
    pub interval: Duration,
    /// A probe that takes longer has failed (default 1 s).
    pub timeout: Duration,
    /// Consecutive successes that bring a failed server back (default 2).
    pub rise: u32,
    /// Consecutive failures that take a server out (default 3).
    pub fall: u32,
    pub location: WrittenAt,
}

/// What a health probe does.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum HealthCheckKind {
    /// The server accepts a TCP connection.
    Tcp,
    /// `GET path` (with `Host: host`, else the server's address) answers with a status in
    /// `expect`.
    Http {
        /// Default `/`.
        path: String,
        host: Option<String>,
        /// Default 200..=399.
        expect: RangeInclusive<u16>,
    },
}
