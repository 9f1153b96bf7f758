//! The data plane of `baton run`: one proxy per `[[frontend]]`, started before VRRP so a
//! backup is ready to serve the moment it takes the VIP, reloaded in place on SIGHUP, and
//! drained before the VIP is released on SIGTERM.
//!
//! Each frontend also reports whether it can serve (its listener is open and its backend has
//! a server up); instances that `track_frontend` it follow that, the in-process version of
//! keepalived's `vrrp_script "killall -0 haproxy"`.

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use baton_config::{Backend, Config, Frontend};
use baton_proxy::{CheckState, Proxy, TlsConfig};
use tokio::net::TcpListener;
use tokio::sync::{oneshot, watch};
use tokio::task::JoinHandle;

use super::listen;
use super::proxy_config::proxy_config;
use super::state_file::Overrides;
use super::syn_gate::SynGate;
use super::tracking::FirstVerdict;

/// The longest an instance waits for a new frontend's first verdict before it may become
/// master (less when the backend's first check interval plus timeout is shorter).
const FIRST_VERDICT_WAIT: Duration = Duration::from_secs(2);

/// On stop, how long the listeners wait for the handshakes they answered before the SYN
/// gate closed (a round trip, normally; a lost ACK would need a second).
const HANDSHAKES_WAIT: Duration = Duration::from_secs(1);

pub(crate) use crate::published::{ProxyRegistry as Registry, ProxyView};

/// Every frontend of the running configuration.
#[derive(Debug)]
pub(crate) struct Frontends {
    running: BTreeMap<String, RunningFrontend>,
    /// Per frontend: true while it can serve. Kept across reloads, so the VRRP side's
    /// watchers never lose their sender.
    health: BTreeMap<String, watch::Sender<bool>>,
    /// Frontends that got their health sender in the last start or reload: their first
    /// verdict may still be to come (see [`Frontends::first_verdicts`]).
    fresh: BTreeSet<String>,
    registry: Registry,
}

/// A new configuration's frontends, checked and with every new listener already open
/// (and its certificates loaded), while the running ones serve on. Dropping it closes those
/// listeners; [`Frontends::commit`] switches to it.
#[derive(Debug)]
pub(crate) struct Prepared {
    wanted: BTreeMap<String, (Frontend, Backend)>,
    /// For frontends that are new or whose listener settings changed; None where the
    /// listener could not be opened at start-up (a reload fails instead).
    opened: BTreeMap<String, Option<Opened>>,
}

type Opened = (TcpListener, Option<Arc<TlsConfig>>);

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
    /// The listening socket the proxy accepts on (another descriptor of it), so that a
    /// proxy replaced by a reload or a certificate renewal hands the very socket to its
    /// successor. A new socket would join the port's SO_REUSEPORT group, and the kernel
    /// hashes new handshakes to every member: whichever member closes (the old listener
    /// after its stop, or a new one when the reload fails) resets the connections that
    /// completed on it since it last accepted. None if the descriptor could not be had
    /// (out of descriptors): the successor then opens a new socket.
    socket: Option<socket2::Socket>,
}

impl Frontends {
    /// Opens every frontend's listener and starts its proxy, with the operator's `restored`
    /// overrides set before it serves. A listener that cannot be opened is logged and its
    /// frontend reported down; the others run.
    pub(crate) async fn start(config: &Config, restored: &Overrides) -> anyhow::Result<Frontends> {
        super::syn_gate::remove_leftover().await;
        super::handoff::remove_leftover().await;
        super::quiet_vips::remove_leftover().await;
        let mut frontends = Frontends {
            running: BTreeMap::new(),
            health: BTreeMap::new(),
            fresh: BTreeSet::new(),
            registry: Registry::default(),
        };
        let prepared = frontends.prepare(config, Listeners::MayFail)?;
        frontends.commit(prepared, restored);
        Ok(frontends)
    }

    /// For instances that track a frontend started by the last start or reload: how to
    /// tell that its first verdict is in (every server checked once, or one up by its
    /// check), and how long to wait for it: [`FIRST_VERDICT_WAIT`], or the backend's check
    /// interval plus timeout when that is less. Frontends without health checks, without a
    /// listener, or that were running before have none: their state is known.
    pub(crate) fn first_verdicts(&self) -> BTreeMap<String, FirstVerdict> {
        let mut verdicts = BTreeMap::new();
        for name in &self.fresh {
            let Some(running) = self.running.get(name) else {
                continue;
            };
            let Some(check) = &running.backend.health_check else {
                continue;
            };
            if running.serving.is_none() {
                continue;
            }
            let proxy = running.proxy.clone();
            let known = move || {
                let servers = proxy.servers();
                servers.iter().any(|s| s.up && s.check == CheckState::Up)
                    || servers.iter().all(|s| s.check != CheckState::Unchecked)
            };
            let within = FIRST_VERDICT_WAIT.min(check.interval + check.timeout);
            verdicts.insert(
                name.clone(),
                FirstVerdict {
                    known: Box::new(known),
                    within,
                },
            );
        }
        verdicts
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

    /// The first half of a reload: checks `config`'s frontends and opens the listeners
    /// (and loads the certificates) of those that are new or whose listener or TLS settings
    /// changed, changing nothing that runs. With [`Listeners::MustOpen`] (a reload) a
    /// listener that cannot be opened fails it.
    pub(crate) fn prepare(
        &self,
        config: &Config,
        listeners: Listeners,
    ) -> anyhow::Result<Prepared> {
        // Listeners, proxies and their tasks live on the data plane's threads (made for
        // the first frontend: without any, none).
        let _data_plane = (!config.frontends.is_empty()).then(crate::data_plane::enter);
        let mut wanted = BTreeMap::new();
        let mut opened = BTreeMap::new();
        for frontend in &config.frontends {
            let backend = config.backend(&frontend.backend).with_context(|| {
                format!(
                    "frontend {}: no backend {}",
                    frontend.name, frontend.backend
                )
            })?;
            let old = self.running.get(&frontend.name);
            if old.is_none_or(|old| !old.keeps_listener(frontend, backend)) {
                let listening = self.socket_on(frontend.listen);
                let listener = match (open(frontend, listening), listeners) {
                    (Ok(listener), _) => Some(listener),
                    (Err(error), Listeners::MustOpen) => {
                        return Err(error.context(format!("frontend {}", frontend.name)));
                    }
                    (Err(error), Listeners::MayFail) => {
                        tracing::error!(frontend = %frontend.name, listen = %frontend.listen, "frontend cannot serve: {error:#}");
                        None
                    }
                };
                opened.insert(frontend.name.clone(), listener);
            }
            wanted.insert(frontend.name.clone(), (frontend.clone(), backend.clone()));
        }
        Ok(Prepared { wanted, opened })
    }

    /// The second half: brings the running frontends in line with what `prepare` built. A
    /// frontend whose backend alone changed swaps its servers live (requests in flight
    /// finish on the old set); one whose listener or TLS changed takes its new listener
    /// and the old one drains; removed ones drain; unchanged ones are left alone. A new
    /// proxy takes the operator's overrides (`restored`) before it serves, and a live swap
    /// gets them too, so no reload puts a drained server back into rotation.
    pub(crate) fn commit(&mut self, prepared: Prepared, restored: &Overrides) {
        let serving = !prepared.wanted.is_empty() || !self.running.is_empty();
        let _data_plane = serving.then(crate::data_plane::enter);
        let Prepared { wanted, mut opened } = prepared;
        self.fresh.clear();
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
            if !self.health.contains_key(&name) {
                self.health.insert(name.clone(), watch::channel(false).0);
                self.fresh.insert(name.clone());
            }
            let health = self.health[&name].clone();
            match self.running.remove(&name) {
                Some(old) if old.frontend == frontend && old.backend == backend => {
                    self.running.insert(name, old);
                }
                Some(mut old) if old.keeps_listener(&frontend, &backend) => {
                    tracing::info!(frontend = %name, backend = %backend.name, "reload: new backend settings, swapped in live");
                    old.proxy
                        .reload(Arc::new(proxy_config(&frontend, &backend)));
                    restore(&old.proxy, &backend.name, restored);
                    old.backend = backend;
                    self.running.insert(name, old);
                }
                previous => {
                    let listener = opened.remove(&name).flatten();
                    let new = RunningFrontend::start(frontend, backend, health, listener, restored);
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
    }

    /// Re-reads every TLS frontend's certificate files and serves the renewed ones (see
    /// [`RunningFrontend::renew_certificates`]); how many frontends took new certificates.
    /// A reload does this whether or not the configuration changed, as nginx does on HUP.
    pub(crate) fn renew_certificates(&mut self) -> usize {
        let _data_plane = (!self.running.is_empty()).then(crate::data_plane::enter);
        self.running
            .values_mut()
            .map(RunningFrontend::renew_certificates)
            .filter(|&renewed| renewed)
            .count()
    }

    /// The listening socket a running frontend holds on `address`, if one does: a reload
    /// that keeps the address serves on that same socket (see [`Serving::socket`]).
    fn socket_on(&self, address: SocketAddr) -> Option<&socket2::Socket> {
        self.running
            .values()
            .filter(|running| running.frontend.listen == address)
            .find_map(|running| running.serving.as_ref()?.socket.as_ref())
    }

    /// The addresses the frontends listen on (those whose listener is open).
    pub(crate) fn listeners(&self) -> Vec<SocketAddr> {
        self.running
            .values()
            .filter(|running| running.serving.is_some())
            .map(|running| running.frontend.listen)
            .collect()
    }

    /// SIGTERM: drops new connections at the door (see [`SynGate`]), lets the handshakes
    /// already answered complete (see `handshakes`), lets in-flight requests finish (each
    /// frontend bounded by its drain_timeout) and closes every listener. The returned gate
    /// must stay closed until the VIPs are gone, then be opened.
    pub(crate) async fn drain(self) -> Option<SynGate> {
        let listeners = self.listeners();
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
        let open = super::handshakes::settle(&listeners, HANDSHAKES_WAIT).await;
        if open > 0 {
            tracing::warn!(
                open,
                "closing the listeners with handshakes still half done: their clients get a reset"
            );
        }
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

/// Whether a listener that cannot be opened fails the whole (see [`Frontends::prepare`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Listeners {
    /// At start-up: the frontend is reported down and the others run.
    MayFail,
    /// On reload: the running configuration stays.
    MustOpen,
}

impl RunningFrontend {
    /// Starts the proxy, with the operator's `restored` overrides, serving on `listener`
    /// (None: it could not be opened).
    fn start(
        frontend: Frontend,
        backend: Backend,
        health: watch::Sender<bool>,
        listener: Option<Opened>,
        restored: &Overrides,
    ) -> RunningFrontend {
        let proxy = Proxy::new(Arc::new(proxy_config(&frontend, &backend)));
        restore(&proxy, &backend.name, restored);
        let certificates = certificate_files(&frontend);
        let serving = listener.map(|(listener, tls)| {
            tracing::info!(frontend = %frontend.name, listen = %frontend.listen, backend = %backend.name, tls = tls.is_some(), "frontend listening");
            Serving::spawn(proxy.clone(), listener, tls)
        });
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

    /// Whether a reload to `frontend` and `backend` keeps this frontend's listener: the
    /// same settings, or only the backend's while serving (its servers are swapped live).
    fn keeps_listener(&self, frontend: &Frontend, backend: &Backend) -> bool {
        self.frontend == *frontend && (self.backend == *backend || self.serving.is_some())
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
        let socket = self
            .serving
            .as_ref()
            .and_then(|serving| serving.socket.as_ref());
        match open(&self.frontend, socket) {
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
        let socket = listen::same_socket(&listener)
            .inspect_err(|error| {
                tracing::warn!(
                    "cannot keep the listening socket for a reload to take over: {error}"
                );
            })
            .ok();
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
        Serving { stop, task, socket }
    }

    /// Stops accepting, and waits up to `limit` for the connections to drain.
    async fn stop(self, limit: Duration) {
        let Serving { stop, task, socket } = self;
        // The proxy's descriptor must be the socket's last: it takes what the kernel
        // queued, then its close closes the socket (unless a successor serves on it).
        drop(socket);
        let _ = stop.send(());
        if tokio::time::timeout(limit, task).await.is_err() {
            tracing::error!("a listener did not stop within {limit:?}");
        }
    }
}

/// Sets the operator's overrides of `backend`'s servers on `proxy`. `restored` holds only
/// servers the configuration has, with weights set under today's configured weight.
fn restore(proxy: &Proxy, backend: &str, restored: &Overrides) {
    let ours = restored
        .servers
        .iter()
        .filter(|(key, _)| key.pool == backend);
    for (key, saved) in ours {
        // Servers of another configuration were dropped already: nothing to refuse here.
        if let Some(admin) = saved.admin {
            let _ = proxy.set_admin(key.address, admin);
        }
        if let Some(weight) = saved.weight {
            let _ = proxy.set_weight(key.address, weight);
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

/// The listener and, for a TLS frontend, its certificates. The listener is `listening`
/// (another descriptor of that socket) when a running frontend listens on the address
/// already, a new socket otherwise.
fn open(
    frontend: &Frontend,
    listening: Option<&socket2::Socket>,
) -> anyhow::Result<(TcpListener, Option<Arc<TlsConfig>>)> {
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
    let listener = match listening {
        Some(socket) => listen::share(socket),
        None => listen::bind(frontend.listen),
    }
    .with_context(|| format!("listening on {}", frontend.listen))?;
    Ok((listener, tls))
}

/// Follows the backend's health into the frontend's: up while listening with a server up.
fn watch_health(
    name: String,
    mut backend: watch::Receiver<baton_proxy::ServersUp>,
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

#[cfg(test)]
mod tests {
    use super::*;

    fn config(frontends: &[(&str, SocketAddr)]) -> Config {
        let mut text = String::new();
        for (name, listen) in frontends {
            text.push_str(&format!(
                "[[frontend]]\nname = \"{name}\"\nlisten = \"{listen}\"\nbackend = \"app\"\n\n"
            ));
        }
        text.push_str("[[backend]]\nname = \"app\"\nservers = [\"127.0.0.1:9\"]\n");
        baton_config::parse_toml(&text, "test.toml")
            .expect("valid")
            .config
    }

    #[tokio::test]
    async fn a_reload_whose_listener_cannot_bind_fails_and_changes_nothing() {
        // A free port: the listener that found it closes at the end of the statement.
        let web = listen::bind("127.0.0.1:0".parse().expect("address"))
            .expect("bind")
            .local_addr()
            .expect("local");
        let mut frontends = Frontends::start(&config(&[("web", web)]), &Overrides::default())
            .await
            .expect("start");
        // A plain listener (no SO_REUSEPORT) holds the port the new frontend wants.
        let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let api = taken.local_addr().expect("local");

        let error = frontends
            .prepare(&config(&[("web", web), ("api", api)]), Listeners::MustOpen)
            .expect_err("the port is taken");
        assert!(format!("{error:#}").contains("frontend api"), "{error:#}");
        let names: Vec<String> = frontends.health().into_keys().collect();
        assert_eq!(names, ["web"], "nothing of the new configuration runs");

        // At start-up the same frontend is only reported down; the others run.
        let prepared = frontends
            .prepare(&config(&[("web", web), ("api", api)]), Listeners::MayFail)
            .expect("may fail");
        frontends.commit(prepared, &Overrides::default());
        assert!(frontends.running["api"].serving.is_none());
        assert!(frontends.running["web"].serving.is_some());
    }

    /// A connect storm on `address` until `stop`: each client sends a request and reads
    /// until the proxy closes. Returns (answered, reset).
    fn connect_storm(
        address: SocketAddr,
        stop: Arc<std::sync::atomic::AtomicBool>,
    ) -> std::thread::JoinHandle<(usize, usize)> {
        use std::io::{Read, Write};
        use std::sync::atomic::Ordering;
        std::thread::spawn(move || {
            let (mut answered, mut reset) = (0, 0);
            while !stop.load(Ordering::Relaxed) {
                let outcome = std::net::TcpStream::connect(address).and_then(|mut stream| {
                    stream.write_all(b"GET / HTTP/1.1\r\nhost: a\r\nconnection: close\r\n\r\n")?;
                    let mut answer = Vec::new();
                    stream.read_to_end(&mut answer)?;
                    Ok(answer)
                });
                match outcome {
                    Ok(answer) if answer.starts_with(b"HTTP/1.1 ") => answered += 1,
                    Ok(answer) => panic!("not an answer: {:?}", String::from_utf8_lossy(&answer)),
                    Err(error) if error.kind() == std::io::ErrorKind::ConnectionReset => reset += 1,
                    Err(error) => panic!("client: {error}"),
                }
            }
            (answered, reset)
        })
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn reloads_that_keep_the_address_reset_no_connection() {
        let web = listen::bind("127.0.0.1:0".parse().expect("address"))
            .expect("bind")
            .local_addr()
            .expect("local");
        let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let api = taken.local_addr().expect("local");
        let timeouts = |seconds: u32| {
            let mut config = config(&[("web", web)]);
            config.frontends[0].client_timeout = Duration::from_secs(seconds.into());
            config
        };
        let failing = |seconds: u32| {
            let mut config = config(&[("web", web), ("api", api)]);
            config.frontends[0].client_timeout = Duration::from_secs(seconds.into());
            config
        };
        let mut frontends = Frontends::start(&timeouts(10), &Overrides::default())
            .await
            .expect("start");
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let clients: Vec<_> = (0..4)
            .map(|_| connect_storm(web, Arc::clone(&stop)))
            .collect();
        for round in 0..200 {
            // A listener setting changes (a new proxy takes over), then a reload that
            // fails after preparing web anew (api's port is taken).
            let seconds = 11 + round % 2;
            let prepared = frontends
                .prepare(&timeouts(seconds), Listeners::MustOpen)
                .expect("prepare");
            frontends.commit(prepared, &Overrides::default());
            frontends
                .prepare(&failing(seconds + 1), Listeners::MustOpen)
                .expect_err("api's port is taken");
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        let (mut answered, mut reset) = (0, 0);
        for client in clients {
            let (a, r) = client.join().expect("client");
            answered += a;
            reset += r;
        }
        assert!(answered > 200, "the storm ran: {answered} answered");
        assert_eq!(
            reset,
            0,
            "{reset} of {} connections reset",
            answered + reset
        );
    }

    #[tokio::test]
    async fn only_new_frontends_with_health_checks_wait_for_a_first_verdict() {
        let port = |listener: TcpListener| listener.local_addr().expect("local");
        let web = port(listen::bind("127.0.0.1:0".parse().expect("address")).expect("bind"));
        let text = format!(
            "[[frontend]]\nname = \"web\"\nlisten = \"{web}\"\nbackend = \"app\"\n\n\
             [[backend]]\nname = \"app\"\nservers = [\"127.0.0.1:9\"]\n\
             [backend.health_check]\ntype = \"tcp\"\ninterval = 5\ntimeout = 1\n"
        );
        let checked = baton_config::parse_toml(&text, "test.toml")
            .expect("valid")
            .config;
        let mut frontends = Frontends::start(&checked, &Overrides::default())
            .await
            .expect("start");
        let first = frontends.first_verdicts();
        assert_eq!(first["web"].within, FIRST_VERDICT_WAIT, "2 s < 5 s + 1 s");
        // A reload that keeps it: it was running before, its state is known.
        let prepared = frontends
            .prepare(&checked, Listeners::MustOpen)
            .expect("prepare");
        frontends.commit(prepared, &Overrides::default());
        assert!(frontends.first_verdicts().is_empty());
    }
}
