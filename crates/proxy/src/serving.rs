//! What one [`Proxy::serve`](crate::Proxy::serve) call shares with every connection and
//! tunnel it starts: the proxy's state, the stop signal and how connections arrive. Kept
//! below the accept loop so that the connection code can take it without importing the
//! listening side.

use std::sync::Arc;

use hyper::server::conn::{http1, http2};
use hyper_util::rt::TokioExecutor;
use tokio::sync::{mpsc, watch};
use tokio_rustls::TlsAcceptor;

use crate::admission::PerClient;
use crate::config::ProxyConfig;
use crate::metrics::ConnectionCounters;
use crate::servers::Servers;
use crate::stop::Stop;

/// What every listener of one proxy shares: see [`crate::Proxy`].
#[derive(Debug)]
pub(crate) struct Shared {
    /// The configuration given to [`Proxy::new`](crate::Proxy::new). Only its client-side limits are read from
    /// here; everything about servers comes from `backends`, which [`Proxy::reload`](crate::Proxy::reload) swaps.
    pub(crate) config: Arc<ProxyConfig>,
    pub(crate) servers: Arc<Servers>,
    pub(crate) http: http1::Builder,
    pub(crate) http2: http2::Builder<TokioExecutor>,
    /// Client connections, for [`Proxy::metrics`](crate::Proxy::metrics).
    pub(crate) connections: ConnectionCounters,
    /// Open connections per client address, when `max_connections_per_client` is set.
    pub(crate) per_client: Option<Arc<PerClient>>,
}

/// One [`Proxy::serve`](crate::Proxy::serve) or [`Proxy::serve_tls`](crate::Proxy::serve_tls)
/// call, shared by its connections and tunnels: not the listening socket (the accept loop
/// owns that), but what serving on it means for them. The call waits for the last of them
/// to end by waiting for the last clone of `_done` to drop (as mini-redis does).
#[derive(Debug)]
pub(crate) struct ServeCall {
    pub(crate) shared: Arc<Shared>,
    pub(crate) stop: watch::Receiver<Stop>,
    pub(crate) transport: Transport,
    pub(crate) _done: mpsc::Sender<()>,
}

/// How a listener's connections arrive.
#[derive(Clone)]
pub(crate) enum Transport {
    /// Plain TCP: HTTP/1.1, or HTTP/2 with prior knowledge (h2c).
    Plain,
    /// TLS, with HTTP/2 when ALPN chose `h2`.
    Tls(TlsAcceptor),
}

impl std::fmt::Debug for Transport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Transport::Plain => "Plain",
            Transport::Tls(_) => "Tls",
        })
    }
}

impl Transport {
    pub(crate) fn is_tls(&self) -> bool {
        matches!(self, Transport::Tls(_))
    }
}
