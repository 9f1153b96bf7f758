//! baton's data plane: an HTTP reverse proxy with balancing and health checks.
//!
//! [`serve`] runs one proxy on an already-bound listener until a shutdown future completes:
//!
//! ```no_run
//! use std::sync::Arc;
//! use baton_proxy::{ProxyConfig, ServerConfig};
//!
//! # async fn run() -> std::io::Result<()> {
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:8080").await?;
//! let config = ProxyConfig::new(vec![
//!     ServerConfig::new("127.0.0.1:9001".parse().unwrap()),
//!     ServerConfig::new("127.0.0.1:9002".parse().unwrap()),
//! ]);
//! baton_proxy::serve(listener, Arc::new(config), tokio::signal::ctrl_c()).await;
//! # Ok(())
//! # }
//! ```
//!
//! HTTP/1.1 (with keep-alive) and HTTP/2 to clients, HTTP/1.1 to servers (pooled keep-alive
//! connections); bodies are streamed both ways; WebSocket upgrades are passed through.
//! Plain HTTP/1.1 requests, nearly all traffic, are served by the client connection's own
//! task with this crate's HTTP/1.1 code (`h1`): one parse per side, no task or channel in
//! between, and no buffer held by an idle connection. Everything else (HTTP/2, HTTP/1.0,
//! upgrades, `Expect`, malformed or oversized heads) is served with hyper.
//! [`Proxy::serve_tls`] terminates TLS with certificates from [`TlsConfig`], chosen by SNI,
//! with HTTP/2 when ALPN picks it; plain listeners take HTTP/2 with prior knowledge (h2c). A request that fails
//! before its body went out is tried once more on another server (after a failed connect any
//! request, otherwise idempotent ones).
//!
//! Server health is passive and active. Servers that keep failing (refused connects,
//! timeouts, 502/503/504 answers) are ejected for a while ([`Ejection`]); an optional
//! [`HealthCheck`] probes every server and takes it out after `fall` failed probes until
//! `rise` pass; a server that comes back can be eased in ([`ProxyConfig::slow_start`]).
//! [`Proxy::reload`] swaps servers and policies without dropping a request, and
//! [`Proxy::health`] reports how many servers are up, and [`Proxy::metrics`] copies out the
//! counters for monitoring (answers by status class, response times, connections).
//! Operators drain a server, put it in maintenance ([`Proxy::set_admin`]) or change its
//! weight ([`Proxy::set_weight`]) at run time; reloads keep those decisions.
//!
//! What the proxy answers itself: 400 (malformed request, or a Host missing, repeated or
//! not the target's), 405 (CONNECT), 408 (request head or body too slow), 431 (head too
//! large), 502 (server failed), 503 (no server available, saying why, or too many
//! connections, in all or from one address), 504 (server too slow, to answer or to take the
//! body). Each carries a Date field and counts in [`ProxyMetrics::own_responses`], but for
//! the 400 and 431 that hyper makes itself for a malformed or oversized head (not counted).
//! [`Limits`] has every timeout and size; X-Forwarded-For is believed only from
//! [`ProxyConfig::trusted_proxies`]. HTTP/2 clients that reset streams in a loop or flood
//! CONTINUATION frames get GOAWAY, and the warnings single requests cause are rate-limited.

// The modules in layers, top down: each imports only modules of its own layer or below, and
// never one that imports it back.

// The listening side: the public `Proxy`, its accept loop and connection limits.
mod proxy;

// One client connection: TLS and protocol sniffing, this crate's HTTP/1.1 loop (with its
// wire codec), and hyper's connection for everything else.
mod conn;
mod h1;
mod transport;

// Forwarding one request: the exchange on hyper's path and its HTTP/1.1 client to the
// servers (over the same pooled connections as the h1 path), the forwarding policy both
// paths follow (retry or answer) and what an attempt does to its server, the proxy's own
// answers, the response body, tunnels.
mod forward;
mod forward_policy;
mod own_answer;
mod response_body;
mod server_verdict;
mod tunnel;
mod upstream_client;

// What one serve call shares with its connections: the proxy's state and the stop signal.
mod serving;

// The servers: the current set and its reloads (`Servers`), server sets and servers with
// their admin state and their one pool of idle connections (`ServerSet`, `Server`), health
// check tasks.
mod health;
mod servers;
mod upstream;

// Building blocks: settings, balancing, codecs, counters, TLS, and the small types the
// layers above share; none imports a layer above.
mod activity;
mod admission;
pub mod balance;
mod check_state;
mod cidr;
mod config;
mod counted;
mod headers;
mod log_limit;
mod metrics;
mod request_body;
mod silence;
mod stop;
mod stream;
#[cfg(test)]
mod test_support;
// Scenarios that take a whole client connection through both forwarding paths.
#[cfg(test)]
mod shared_pool_tests;
mod tls;

/// Entry points for the fuzz targets in `fuzz/`; not an API (feature `fuzzing`, off by default).
#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub mod fuzzing {
    // The HTTP/1.1 path's request head and chunked scanners.
    pub use crate::h1::fuzzing::*;
    // hyper's path to the servers: the response head and the chunked body decoder.
    pub use crate::upstream_client::fuzzing::*;
}

pub use check_state::CheckState;
pub use cidr::{BadCidr, Cidr};
pub use config::{CheckKind, Ejection, HealthCheck, Limits, ProxyConfig, ServerConfig};
pub use metrics::{
    Histogram, LastCheck, ProxyMetrics, RESPONSE_TIME_BUCKETS, STATUS_CLASSES, ServerMetrics,
};
pub use proxy::{Proxy, serve};
pub use tls::{TlsConfig, TlsError};
pub use upstream::{AdminState, ServerStatus, ServersUp, UnknownServer};
