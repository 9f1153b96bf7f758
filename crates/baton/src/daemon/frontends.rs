//! The data plane of `baton run`: one proxy per `[[frontend]]`, started before VRRP so a
//! backup is ready to serve the moment it takes the VIP, reloaded in place on SIGHUP, and
//! drained before the VIP is released on SIGTERM.
//!
//! Each frontend also reports whether it can serve (its listener is open and its backend has
//! a server up); instances that `track_frontend` it follow that, the in-process version of
//! keepalived's `vrrp_script "killall -0 haproxy"`.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use anyhow::Context as _;
use baton_config::{Backend, Config, Frontend};
use baton_proxy::{Proxy, TlsConfig};
use tokio::net::TcpListener;
use tokio::sync::{oneshot, watch};
use tokio::task::JoinHandle;

use super::listen;
use super::proxy_config::proxy_config;
use super::syn_gate::SynGate;

/// What `baton status` reads: every running frontend's proxy, current after each reload.
pub(crate) type Registry = Arc<RwLock<Vec<ProxyView>>>;

/// One frontend's proxy, with the names to show it under.
#[derive(Debug, Clone)]
pub(crate) struct ProxyView {
    pub(crate) frontend: String,
    pub(crate) backend: String,
    pub(crate) proxy: Proxy,
}

/// Every frontend of the running configuration.
#[derive(Debug)]
pub(crate) struct Frontends {
    running: BTreeMap<String, RunningFrontend>,
    /// Per frontend: true while it can serve. Kept across reloads, so the VRRP side's
    /// watchers never lose their sender.
    health: BTreeMap<String, watch::Sender<bool>>,
    registry: Registry,
}

#[derive(Debug)]
struct RunningFrontend {
    /// Settings as started, locations stripped, to tell what a reload changed.
    frontend: Frontend,
    backend: Backend,
    proxy: Proxy,
    /// None while the listener could not be opened.
    serving: Option<Serving>,
    health_watch: JoinHandle<()>,
    /// The certificate and key files' contents as loaded, to see a renewal on reload.
    certificates: Vec<u8>,
}

#[derive(Debug)]
struct Serving {
    stop: oneshot::Sender<()>,
    task: JoinHandle<()>,
}

impl Frontends {
    /// Opens every frontend's listener and starts its proxy. A listener that cannot be opened
    /// is logged and its frontend reported down; the others run.
    pub(crate) async fn start(config: &Config) -> anyhow::Result<Frontends> {
        super::syn_gate::remove_leftover().await;
        let mut frontends = Frontends {
            running: BTreeMap::new(),
            health: BTreeMap::new(),
            registry: Registry::default(),
        };
        frontends.reload(config)?;
        Ok(frontends)
    }

    /// Whether each frontend can serve, by name.
    pub(crate) fn health(&self) -> BTreeMap<String, watch::Receiver<bool>> {
        self.health
            .iter()
            .map(|(name, sender)| (name.clone(), sender.subscribe()))
            .collect()
    }

    pub(crate) fn registry(&self) -> Registry {
        Arc::clone(&self.registry)
    }

    /// Brings the running frontends in line with `config`: a frontend whose backend alone
    /// changed swaps its servers live (requests in flight finish on the old set); one whose
    /// listener or TLS changed opens the new listener before closing the old; removed ones
    /// drain; unchanged ones are left alone.
    pub(crate) fn reload(&mut self, config: &Config) -> anyhow::Result<()> {
        let config = config.without_locations();
        let mut wanted = BTreeMap::new();
        for frontend in &config.frontends {
            let backend = config.backend(&frontend.backend).with_context(|| {
                format!(
                    "frontend {}: no backend {}",
                    frontend.name, frontend.backend
                )
            })?;
            wanted.insert(frontend.name.clone(), (frontend.clone(), backend.clone()));
        }

        let removed: Vec<String> = self
            .running
            .keys()
            .filter(|name| !wanted.contains_key(*name))
            .cloned()
            .collect();
        for name in removed {
            if let Some(old) = self.running.remove(&name) {
                tracing::info!(frontend = %name, "reload: frontend removed, draining it");
                old.stop_in_background();
            }
            self.health.remove(&name);
        }

        for (name, (frontend, backend)) in wanted {
            let health = self
                .health
                .entry(name.clone())
                .or_insert_with(|| watch::channel(false).0)
                .clone();
            match self.running.remove(&name) {
                Some(old) if old.frontend == frontend && old.backend == backend => {
                    self.running.insert(name, old);
                }
                Some(mut old) if old.frontend == frontend && old.serving.is_some() => {
                    tracing::info!(frontend = %name, backend = %backend.name, "reload: new backend settings, swapped in live");
                    old.proxy
                        .reload(Arc::new(proxy_config(&frontend, &backend)));
                    old.backend = backend;
                    self.running.insert(name, old);
                }
                previous => {
                    let new = RunningFrontend::start(frontend, backend, health);
                    if let Some(old) = previous {
                        tracing::info!(frontend = %name, "reload: listener settings changed, replacing it");
                        old.stop_in_background();
                    }
                    self.running.insert(name, new);
                }
            }
        }

        let views = self
            .running
            .values()
            .map(|running| ProxyView {
                frontend: running.frontend.name.clone(),
                backend: running.backend.name.clone(),
                proxy: running.proxy.clone(),
            })
            .collect();
        *self.registry.write().unwrap_or_else(|e| e.into_inner()) = views;
        Ok(())
    }

    /// Re-reads every TLS frontend's certificate files and serves the renewed ones (see
    /// [`RunningFrontend::renew_certificates`]); how many frontends took new certificates.
    /// A reload does this whether or not the configuration changed, as nginx does on HUP.
    pub(crate) fn renew_certificates(&mut self) -> usize {
        self.running
            .values_mut()
            .map(RunningFrontend::renew_certificates)
            .filter(|&renewed| renewed)
            .count()
    }

    /// SIGTERM: drops new connections at the door (see [`SynGate`]), lets in-flight requests
    /// finish (each frontend bounded by its drain_timeout) and closes every listener. The
    /// returned gate must stay closed until the VIPs are gone, then be opened.
    pub(crate) async fn drain(self) -> Option<SynGate> {
        let listeners: Vec<SocketAddr> = self
            .running
            .values()
            .filter(|running| running.serving.is_some())
            .map(|running| running.frontend.listen)
            .collect();
        let gate = if listeners.is_empty() {
            None
        } else {
            match SynGate::close(&listeners).await {
                Ok(gate) => Some(gate),
                Err(error) => {
                    tracing::error!(
                        "cannot drop new connections while draining, they will be refused: {error:#}"
                    );
                    None
                }
            }
        };
        let stops: Vec<_> = self
            .running
            .into_values()
            .map(RunningFrontend::stop)
            .collect();
        for stop in stops {
            stop.await;
        }
        gate
    }
}

impl RunningFrontend {
    fn start(frontend: Frontend, backend: Backend, health: watch::Sender<bool>) -> RunningFrontend {
        let proxy = Proxy::new(Arc::new(proxy_config(&frontend, &backend)));
        let certificates = certificate_files(&frontend);
        let serving = match open(&frontend) {
            Ok((listener, tls)) => {
                tracing::info!(frontend = %frontend.name, listen = %frontend.listen, backend = %backend.name, tls = tls.is_some(), "frontend listening");
                Some(Serving::spawn(proxy.clone(), listener, tls))
            }
            Err(error) => {
                tracing::error!(frontend = %frontend.name, listen = %frontend.listen, "frontend cannot serve: {error:#}");
                None
            }
        };
        let health_watch = watch_health(
            frontend.name.clone(),
            proxy.health(),
            serving.is_some(),
            health,
        );
        RunningFrontend {
            frontend,
            backend,
            proxy,
            serving,
            health_watch,
            certificates,
        }
    }

    /// A TLS frontend whose certificate or key files changed since they were loaded (a
    /// renewal): a new listener with the new certificates takes over, the old one drains in
    /// the background. The proxy, and with it every server's state, stays. False when
    /// nothing changed, or when the new files do not load (then the old ones stay in use).
    fn renew_certificates(&mut self) -> bool {
        if self.frontend.tls.is_empty() || self.serving.is_none() {
            return false;
        }
        let certificates = certificate_files(&self.frontend);
        if certificates == self.certificates {
            return false;
        }
        let name = &self.frontend.name;
        match open(&self.frontend) {
            Ok((listener, tls)) => {
                tracing::info!(frontend = %name, "reload: certificate files changed, new listener with them");
                let new = Serving::spawn(self.proxy.clone(), listener, tls);
                if let Some(old) = self.serving.replace(new) {
                    tokio::spawn(old.stop(self.drain_limit()));
                }
                self.certificates = certificates;
                true
            }
            Err(error) => {
                tracing::error!(frontend = %name, "reload: the changed certificates do not load, keeping the old ones: {error:#}");
                false
            }
        }
    }

    /// For reloads, which run on the protocol loop: waiting there for requests to drain
    /// (up to drain_timeout) would hold back advertisements long enough for a backup to
    /// take over.
    fn stop_in_background(self) {
        tokio::spawn(self.stop());
    }

    /// How long a stopping listener may take: the proxy itself cuts what is left after
    /// drain_timeout; the margin only guards against a task that does not end.
    fn drain_limit(&self) -> Duration {
        self.frontend.drain_timeout + Duration::from_secs(2)
    }

    async fn stop(self) {
        self.health_watch.abort();
        let limit = self.drain_limit();
        if let Some(serving) = self.serving {
            serving.stop(limit).await;
        }
    }
}

impl Serving {
    fn spawn(proxy: Proxy, listener: TcpListener, tls: Option<Arc<TlsConfig>>) -> Serving {
        let (stop, stopped) = oneshot::channel::<()>();
        let shutdown = async move {
            let _ = stopped.await;
        };
        let task = tokio::spawn(async move {
            match tls {
                Some(tls) => proxy.serve_tls(listener, tls, shutdown).await,
                None => proxy.serve(listener, shutdown).await,
            }
        });
        Serving { stop, task }
    }

    /// Stops accepting, and waits up to `limit` for the connections to drain.
    async fn stop(self, limit: Duration) {
        let _ = self.stop.send(());
        if tokio::time::timeout(limit, self.task).await.is_err() {
            tracing::error!("a listener did not stop within {limit:?}");
        }
    }
}

/// The bytes of every certificate and key file of `frontend`, in order (unreadable files
/// count as empty: `open` reports them).
fn certificate_files(frontend: &Frontend) -> Vec<u8> {
    let mut contents = Vec::new();
    for pair in &frontend.tls {
        for path in [&pair.cert, &pair.key] {
            contents.extend(std::fs::read(path).unwrap_or_default());
            contents.push(0);
        }
    }
    contents
}

/// The listener and, for a TLS frontend, its certificates.
fn open(frontend: &Frontend) -> anyhow::Result<(TcpListener, Option<Arc<TlsConfig>>)> {
    let tls = if frontend.tls.is_empty() {
        None
    } else {
        let pairs: Vec<_> = frontend
            .tls
            .iter()
            .map(|c| (c.cert.clone(), c.key.clone()))
            .collect();
        Some(Arc::new(TlsConfig::from_pem_files(&pairs)?))
    };
    let listener = listen::bind(frontend.listen)
        .with_context(|| format!("listening on {}", frontend.listen))?;
    Ok((listener, tls))
}

/// Follows the backend's health into the frontend's: up while listening with a server up.
fn watch_health(
    name: String,
    mut backend: watch::Receiver<baton_proxy::BackendHealth>,
    listening: bool,
    frontend: watch::Sender<bool>,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            let (up, total) = {
                let health = backend.borrow_and_update();
                (health.up, health.total)
            };
            let serving = listening && up > 0;
            let changed = frontend.send_if_modified(|current| {
                let changed = *current != serving;
                *current = serving;
                changed
            });
            if changed && serving {
                tracing::info!(frontend = %name, servers_up = up, servers = total, "frontend can serve");
            } else if changed {
                tracing::warn!(frontend = %name, servers_up = up, servers = total, listening, "frontend cannot serve");
            }
            if backend.changed().await.is_err() {
                break;
            }
        }
    })
}
