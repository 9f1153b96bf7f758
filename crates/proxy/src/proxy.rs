//! The proxy as callers see it ([`Proxy`]: servers, reloads, operator changes, health,
//! metrics), and its listening side: accepting clients, the connection limit, and stopping
//! without cutting requests short. (Named for the proxy: a `Server` is an upstream server.)

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, mpsc, watch};

use crate::admission::{PerClient, Slot};
use crate::config::ProxyConfig;
use crate::log_limit::{self, warn_limited};
use crate::metrics::{ConnectionCounters, ProxyMetrics};
use crate::own_answer::OwnAnswer;
use crate::servers::Servers;
use crate::serving::{ServeCall, Shared, Transport};
use crate::stop::Stop;
use crate::tls::TlsConfig;
use crate::upstream::{AdminState, ServerStatus, ServersUp, UnknownServer};

/// Serves HTTP on `listener`, forwarding to `config`'s servers, until `shutdown` completes.
///
/// Then it stops accepting, lets in-flight requests finish for up to
/// [`Limits::drain_timeout`](crate::Limits::drain_timeout), cuts whatever is left and returns.
/// Errors on single connections are logged and never end the server.
pub async fn serve(listener: TcpListener, config: Arc<ProxyConfig>, shutdown: impl Future) {
    Proxy::new(config).serve(listener, shutdown).await;
}

/// A proxy: its servers' run-time state (in-flight counts, ejections, health checks) and
/// connection pools, shared by every listener it serves.
///
/// Health checks run while any clone of the proxy (or a `serve` call) is alive.
#[derive(Debug, Clone)]
pub struct Proxy {
    shared: Arc<Shared>,
}

/// What a listener's accepted connections go through: its shared context, the
/// connection slots, the queue for one, and the refusals in progress.
struct Gates {
    context: Arc<ServeCall>,
    slots: Arc<Semaphore>,
    queue: Arc<Semaphore>,
    refusing: Arc<Semaphore>,
    /// How long a queued connection waits for a slot.
    wait: Duration,
}

/// Connections being refused with a 503 at once; past this they are closed without a word.
const MAX_REFUSING: usize = 1024;

impl Proxy {
    /// Sets up the servers and the connection pool, and starts the health checks when
    /// called within a Tokio runtime (otherwise the first [`Proxy::serve`] starts them).
    pub fn new(config: Arc<ProxyConfig>) -> Self {
        let servers = Servers::new(&config);
        servers.start_checks();
        let shared = Shared {
            servers,
            http: crate::conn::http_builder(&config.limits),
            http2: crate::conn::http2_builder(&config.limits),
            connections: ConnectionCounters::default(),
            per_client: match config.limits.max_connections_per_client {
                0 => None,
                limit => Some(PerClient::new(limit)),
            },
            config,
        };
        Proxy {
            shared: Arc::new(shared),
        }
    }

    /// The servers, in configuration order, as they are now.
    pub fn servers(&self) -> Vec<ServerStatus> {
        self.shared.servers.current().status()
    }

    /// Applies `config`'s servers, weights, algorithm, health check, ejection policy, slow
    /// start, retries and server-side limits (connect, upstream and pool settings) at once.
    ///
    /// Requests already on their way finish with the servers and policies they started
    /// with; every request that starts after this returns uses the new ones. A server whose
    /// address was already configured keeps its run-time state (health, failures, ejection,
    /// in-flight count); a new server starts up, unchecked until its first probes; the
    /// checks of removed servers stop. A kept server keeps its idle connections, which new
    /// pool settings govern from then on. Client-side settings (timeouts and sizes of client
    /// connections, the connection limits, trusted proxies, the drain timeout) stay those
    /// given to [`Proxy::new`].
    pub fn reload(&self, config: Arc<ProxyConfig>) {
        self.shared.servers.reload(&config);
    }

    /// Sets the admin state of the server at `address` (every server there, should the
    /// configuration list the address twice), as HAProxy's `set server ... state`.
    ///
    /// [`AdminState::Drain`] and [`AdminState::Maintenance`] take the server out of
    /// balancing at once: no new request goes to it, also not as a retry, while requests in
    /// flight (and WebSocket tunnels) finish. A drained server is only not a candidate:
    /// Maglev keeps its table, so its keys go to their next servers and come back with it.
    /// Maintenance also pauses its health checks, keeping the last known check state until
    /// they resume. Back to [`AdminState::Ready`], the server takes requests again as its
    /// health allows, eased in by slow start when configured. The state is part of the
    /// server's run-time state: [`Proxy::reload`] keeps it while the address stays
    /// configured.
    pub fn set_admin(&self, address: SocketAddr, state: AdminState) -> Result<(), UnknownServer> {
        self.shared.servers.set_admin(address, state)
    }

    /// Balances the server at `address` with `weight` instead of its configured weight
    /// (0 takes it out of rotation), as HAProxy's `set server ... weight`. Requests already
    /// on their way are not affected.
    ///
    /// The run-time weight lasts until a [`Proxy::reload`] gives the server another
    /// configured weight than it had when this was called (or the proxy is dropped): a
    /// reload that leaves the server's weight alone keeps it.
    pub fn set_weight(&self, address: SocketAddr, weight: u32) -> Result<(), UnknownServer> {
        self.shared.servers.set_weight(address, weight)
    }

    /// A watch of how many servers may take requests, updated when that changes: by a
    /// health check, an ejection starting or ending, an operator's change, or a reload. For VRRP tracking and
    /// status pages.
    pub fn health(&self) -> watch::Receiver<ServersUp> {
        self.shared.servers.watch()
    }

    /// The counters of the current servers and of client connections, for an exporter
    /// (Prometheus). Cheap enough to call at every scrape: a few atomic loads per server.
    pub fn metrics(&self) -> ProxyMetrics {
        let servers = self.shared.servers.current().metrics();
        self.shared.connections.snapshot(servers)
    }

    /// Serves HTTP on `listener` until `shutdown` completes; see [`serve`]. Clients speak
    /// HTTP/1.1, or HTTP/2 with prior knowledge (h2c).
    pub async fn serve(&self, listener: TcpListener, shutdown: impl Future) {
        self.run(listener, Transport::Plain, shutdown).await;
    }

    /// Serves HTTPS on `listener` until `shutdown` completes, as [`serve`] does HTTP.
    ///
    /// Clients speak HTTP/2 when ALPN chose it, HTTP/1.1 otherwise. The TLS handshake must
    /// be done within [`Limits::header_read_timeout`](crate::Limits::header_read_timeout),
    /// and a failed one closes only its own connection. Servers see `X-Forwarded-Proto:
    /// https`. Connections over the limit are closed without an answer (a plain-text 503
    /// would be noise to a TLS client).
    pub async fn serve_tls(
        &self,
        listener: TcpListener,
        tls: Arc<TlsConfig>,
        shutdown: impl Future,
    ) {
        self.run(listener, Transport::Tls(tls.acceptor()), shutdown)
            .await;
    }

    /// The accept loop of [`Proxy::serve`] and [`Proxy::serve_tls`].
    async fn run(&self, listener: TcpListener, transport: Transport, shutdown: impl Future) {
        self.shared.servers.start_checks();
        let limits = &self.shared.config.limits;
        let (stop, stop_rx) = watch::channel(Stop::Run);
        let (done, mut all_done) = mpsc::channel::<()>(1);
        let context = Arc::new(ServeCall {
            shared: Arc::clone(&self.shared),
            stop: stop_rx,
            transport,
            _done: done,
        });
        let gates = Gates {
            context,
            slots: Arc::new(Semaphore::new(limits.max_connections.max(1))),
            // Connections waiting for a slot: never more than there are slots.
            queue: Arc::new(Semaphore::new(limits.max_connections.max(1))),
            refusing: Arc::new(Semaphore::new(MAX_REFUSING)),
            wait: limits.connection_wait,
        };

        tokio::pin!(shutdown);
        loop {
            let (stream, peer) = tokio::select! {
                _ = &mut shutdown => break,
                accepted = listener.accept() => match accepted {
                    Ok(accepted) => accepted,
                    Err(error) => {
                        // Mostly out of file descriptors: give the others a moment to close.
                        // Counted each time, logged within a rate limit (a client flood
                        // would otherwise write 50 lines a second).
                        self.shared.connections.accept_failed();
                        warn_limited!(log_limit::ACCEPT_FAILED, %error, "accept failed");
                        tokio::time::sleep(Duration::from_millis(20)).await;
                        continue;
                    }
                },
            };
            self.admit(stream, peer, &gates);
        }
        self.take_queued(listener, &gates);
        let context = gates.context;

        let _ = stop.send(Stop::Drain);
        drop(context);
        if tokio::time::timeout(limits.drain_timeout, all_done.recv())
            .await
            .is_err()
        {
            tracing::warn!(
                "requests still in flight after {:?}; closing them",
                limits.drain_timeout
            );
            let _ = stop.send(Stop::Now);
            let _ = tokio::time::timeout(Duration::from_secs(1), all_done.recv()).await;
        }
    }

    /// Takes one accepted connection: admitted per client, then served in a free slot,
    /// queued for one, or refused with a 503.
    fn admit(&self, stream: TcpStream, peer: SocketAddr, gates: &Gates) {
        let _ = stream.set_nodelay(true);
        self.shared.connections.accepted();
        let client = match &self.shared.per_client {
            None => None,
            Some(per_client) => {
                let admitted = per_client.admit(peer.ip());
                if admitted.is_none() {
                    // Refused before anything is read or handshaken: a client over
                    // its share costs as little as can be.
                    self.shared.connections.refused_per_client();
                    if let Ok(refusal) = Arc::clone(&gates.refusing).try_acquire_owned() {
                        let answer = refusal_answer(&gates.context);
                        tokio::spawn(async move {
                            refuse(stream, peer, answer, PER_CLIENT).await;
                            drop(refusal);
                        });
                    }
                    return;
                }
                admitted
            }
        };
        if let Ok(permit) = Arc::clone(&gates.slots).try_acquire_owned() {
            tokio::spawn(crate::transport::accept(
                Arc::clone(&gates.context),
                stream,
                peer,
                Slot::new(permit, client),
            ));
        } else if let Ok(place) = Arc::clone(&gates.queue).try_acquire_owned() {
            let slots = Arc::clone(&gates.slots);
            let context = Arc::clone(&gates.context);
            let refusing = Arc::clone(&gates.refusing);
            let wait = gates.wait;
            tokio::spawn(async move {
                let permit = tokio::time::timeout(wait, slots.acquire_owned()).await;
                drop(place);
                match permit {
                    Ok(Ok(permit)) => {
                        let slot = Slot::new(permit, client);
                        crate::transport::accept(context, stream, peer, slot).await;
                    }
                    _ => {
                        if let Ok(refusal) = refusing.try_acquire_owned() {
                            let answer = refusal_answer(&context);
                            drop(context);
                            refuse(stream, peer, answer, ALL_CLIENTS).await;
                            drop(refusal);
                        }
                    }
                }
            });
        } else if let Ok(refusal) = Arc::clone(&gates.refusing).try_acquire_owned() {
            let answer = refusal_answer(&gates.context);
            tokio::spawn(async move {
                refuse(stream, peer, answer, ALL_CLIENTS).await;
                drop(refusal);
            });
        }
    }

    /// After the stop: the connections the kernel completed on this listener and queued.
    /// Each listener of a SO_REUSEPORT group (a reload's old and new one) has its own
    /// queue, and closing it would reset them; they are taken and served instead (their
    /// first request, answered with `connection: close`). Asked of the socket directly:
    /// the reactor may not have seen the last arrivals.
    fn take_queued(&self, listener: TcpListener, gates: &Gates) {
        let Ok(listener) = listener.into_std() else {
            return;
        };
        while let Ok((stream, peer)) = listener.accept() {
            let stream = stream
                .set_nonblocking(true)
                .and_then(|()| TcpStream::from_std(stream));
            if let Ok(stream) = stream {
                self.admit(stream, peer, gates);
            }
        }
    }
}

/// Which connection limit a refused connection is over, as the log says it.
const ALL_CLIENTS: &str = "connection limit reached";
const PER_CLIENT: &str = "connection limit per client address reached";

/// The 503 for a connection over a limit, counted; none over TLS, where an answer would
/// cost a handshake, under load (and a plain-text 503 would be noise to a TLS client).
fn refusal_answer(context: &ServeCall) -> Option<Vec<u8>> {
    let counters = &context.shared.connections;
    let answer = OwnAnswer::TooManyConnections;
    (!context.transport.is_tls()).then(|| answer.http1(counters, true, false))
}

/// Answers `answer` (a 503) to a connection over a limit and closes it, reading what the
/// client sent for a moment so that the close does not reset the connection before the
/// client reads; without an answer (TLS), closes it at once.
async fn refuse(mut stream: TcpStream, peer: SocketAddr, answer: Option<Vec<u8>>, limit: &str) {
    let Some(answer) = answer else {
        tracing::debug!(%peer, "{limit}: closed");
        return;
    };
    tracing::debug!(%peer, "{limit}: 503");
    let wait = Duration::from_millis(500);
    crate::stream::answer_and_close(&mut stream, &answer, wait).await;
}
