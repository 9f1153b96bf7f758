//! `[[anycast]]`: routes the host's BGP speaker (bird2, FRR) announces for this load
//! balancer, present while what each section depends on can serve (docs/operations.md,
//! "Active-active and behind BGP").
//!
//! Each section's prefixes are routes `PREFIX dev lo table T proto 201` (baton's own
//! protocol number); the routing daemon exports table T, and the routers spread the
//! clients over every load balancer that announces a prefix. Host prefixes are also held on
//! `lo` from the start, before the frontends listen, so the host takes what the routers
//! send and the frontends can bind: as addresses, or as local routes with `local_route`
//! (`host_addresses`); they stay until the very end of a stop, after the drain.
//!
//! One task follows the dependencies (frontends' ability to serve, virtual servers'
//! quorums, interfaces' links, scripts and files: `checks`) and adds or removes the routes
//! (`decision`); the operator can hold a section withdrawn (`operator`). A reload replaces
//! the task and hands it the routes in place and the operator's holds, so an unchanged
//! announcement never flaps and a withdrawn one stays withdrawn. A stop withdraws first
//! and waits `withdraw_delay` for the routers to converge; only then do the frontends
//! drain.
//!
//! Connections the routers move between load balancers when the set changes are relayed
//! to the load balancer that holds them (`relay`, with the section's `peers`): from before
//! the frontends accept to after they drained.
//!
//! On a crash the routes would stay and the routers would go on sending traffic here:
//! the systemd unit's `ExecStopPost` flushes every route of protocol 201.

mod checks;
mod decision;
mod host_addresses;
mod operator;
mod relay;

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use baton_config::{ANYCAST_ROUTE_PROTOCOL, Anycast, AnycastPrefix, Config};
use baton_net::{CreateMode, RouteSpec, Routing};
use tokio::sync::{Notify, mpsc, oneshot};
use tokio::task::JoinHandle;

use super::control::Answer;
use super::plan::TrackKey;
use super::tracking::Service;
use crate::anycast_status::AnycastStatus;
use checks::Checks;
use decision::Health;
use operator::Hold;

/// RTN_UNICAST and RT_SCOPE_LINK: what `ip route add PREFIX dev lo` makes.
const UNICAST: u8 = 1;
const SCOPE_LINK: u8 = 253;
/// How often dependencies whose first verdict is still to come are looked at again.
const PENDING_POLL: Duration = Duration::from_millis(50);
const LOOPBACK: &str = "lo";

/// One announced route.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct Route {
    prefix: AnycastPrefix,
    table: u32,
}

impl Route {
    fn spec(self) -> RouteSpec {
        route_on_lo(
            self.prefix.address,
            self.prefix.len,
            UNICAST,
            self.table,
            SCOPE_LINK,
        )
    }
}

/// A route of baton's protocol to `address/len` through `lo`, `kind` and `scope` as
/// rtnetlink numbers them, in `table`.
fn route_on_lo(address: IpAddr, len: u8, kind: u8, table: u32, scope: u8) -> RouteSpec {
    RouteSpec {
        ipv6: address.is_ipv6(),
        destination: (address, len),
        kind,
        table,
        protocol: ANYCAST_ROUTE_PROTOCOL,
        scope,
        tos: None,
        metric: None,
        dev: Some(LOOPBACK.to_owned()),
        gateway: None,
        preferred_source: None,
        source: None,
        onlink: false,
        metrics: Vec::new(),
        locked: 0,
        nexthops: Vec::new(),
        mode: CreateMode::Exclusive,
    }
}

/// The running announcements.
pub(crate) struct Anycasts {
    sections: Vec<Anycast>,
    /// Host prefixes baton holds on `lo` (let go at the end).
    addresses: host_addresses::HostAddresses,
    routing: Option<Arc<Routing>>,
    task: Option<Following>,
    /// Routes in place while no task runs (between a stop of one and the start of the next).
    installed: BTreeSet<Route>,
    /// The sections the operator withdrew (`baton anycast withdraw`).
    held: BTreeSet<String>,
    relay: relay::Relay,
}

struct Following {
    stop: oneshot::Sender<()>,
    holds: mpsc::UnboundedSender<Hold>,
    task: JoinHandle<BTreeSet<Route>>,
}

impl Anycasts {
    /// Puts the host prefixes of `config` on `lo` and the relay to the peers in place;
    /// nothing is announced yet. `withdrawn`: the sections the operator held withdrawn
    /// when the last daemon stopped (state file).
    pub(crate) async fn new(config: &Config, withdrawn: &BTreeSet<String>) -> Anycasts {
        let mut anycasts = Anycasts {
            sections: Vec::new(),
            addresses: host_addresses::HostAddresses::default(),
            routing: None,
            task: None,
            installed: BTreeSet::new(),
            held: withdrawn.clone(),
            relay: relay::Relay::default(),
        };
        // The relay first: a peer's clone reaching an address with no table to drop it
        // would be answered with a reset.
        anycasts.relay.install(config).await;
        anycasts
            .addresses
            .place(host_addresses::wanted(config))
            .await;
        anycasts
    }

    /// Starts following the dependencies of `config`'s sections (`services`: every
    /// frontend's and virtual server's health, as instances track them). Called at start
    /// and after each reload.
    pub(crate) async fn follow(&mut self, config: &Config, services: BTreeMap<TrackKey, Service>) {
        self.relay.install(config).await;
        self.addresses.place(host_addresses::wanted(config)).await;
        let installed = self.stop_task().await;
        self.sections = config.anycasts.clone();
        // A hold outlives the reload while its section does.
        let sections = &self.sections;
        self.held
            .retain(|name| sections.iter().any(|s| &s.name == name));
        if self.sections.is_empty() && installed.is_empty() {
            return;
        }
        let Some(routing) = self.routing().await else {
            return;
        };
        let default_user = super::default_script_user(config).unwrap_or_else(|error| {
            tracing::error!("anycast: {error:#}");
            None
        });
        let changed = Arc::new(Notify::new());
        let checks = checks::spawn(config, &self.sections, default_user, &changed);
        let (stop, stopped) = oneshot::channel();
        let (holds, holds_rx) = mpsc::unbounded_channel();
        let task = tokio::spawn(follow(
            Inputs {
                sections: self.sections.clone(),
                services,
                checks,
                changed,
                held: self.held.clone(),
                holds: holds_rx,
            },
            installed,
            routing,
            stopped,
        ));
        self.task = Some(Following { stop, holds, task });
    }

    /// `baton anycast withdraw NAME` (`withdrawn`) or `announce NAME`: answers once the
    /// routes are as the operator said (see `operator`).
    pub(crate) async fn hold(&mut self, name: &str, withdrawn: bool) -> Answer {
        let Some(section) = self.sections.iter().find(|s| s.name == name) else {
            return Err(operator::unknown(name, &self.sections));
        };
        if withdrawn {
            self.held.insert(name.to_owned());
        } else {
            self.held.remove(name);
        }
        tracing::info!(
            anycast = %name,
            "{} by the operator",
            if withdrawn { "withdrawn" } else { "handed back to its dependencies" }
        );
        let (done, applied) = oneshot::channel();
        let hold = Hold {
            name: name.to_owned(),
            withdrawn,
            done,
        };
        let sent = self
            .task
            .as_ref()
            .is_some_and(|t| t.holds.send(hold).is_ok());
        let status = match applied.await {
            Ok(status) if sent => status,
            // No task (rtnetlink could not be opened): the hold is kept for the next one.
            _ => crate::anycast_status::snapshot()
                .into_iter()
                .find(|s| s.name == name)
                .unwrap_or_default(),
        };
        operator::answer(status, section)
    }

    /// The first step of a stop: every route withdrawn, then `withdraw_delay` for the
    /// routers to stop sending new flows here, before the frontends drain.
    pub(crate) async fn withdraw(&mut self) {
        let installed = self.stop_task().await;
        if installed.is_empty() {
            return;
        }
        if let Some(routing) = self.routing().await {
            for route in &installed {
                remove(&routing, *route).await;
            }
        }
        let delay = self
            .sections
            .iter()
            .map(|s| s.withdraw_delay)
            .max()
            .unwrap_or_default();
        crate::anycast_status::publish(
            crate::anycast_status::snapshot()
                .into_iter()
                .map(|s| AnycastStatus {
                    announced: false,
                    waiting_on: vec!["stopping".to_owned()],
                    ..s
                })
                .collect(),
        );
        tracing::info!(
            "anycast: {} route(s) withdrawn; waiting {delay:?} for the routers before draining",
            installed.len()
        );
        tokio::time::sleep(delay).await;
    }

    /// The last step of a stop, after the drain: the host prefixes leave `lo`, then the
    /// relay goes (in the other order, a peer's clone reaching the address in between
    /// would be answered with a reset).
    pub(crate) async fn release(mut self) {
        self.addresses.place(BTreeSet::new()).await;
        self.relay.remove().await;
    }

    async fn stop_task(&mut self) -> BTreeSet<Route> {
        if let Some(following) = self.task.take() {
            let _ = following.stop.send(());
            match following.task.await {
                Ok(installed) => self.installed = installed,
                Err(error) => tracing::error!("anycast: the task ended badly: {error}"),
            }
        }
        std::mem::take(&mut self.installed)
    }

    async fn routing(&mut self) -> Option<Arc<Routing>> {
        if self.routing.is_none() {
            match Routing::new() {
                Ok(routing) => self.routing = Some(Arc::new(routing)),
                Err(error) => tracing::error!("anycast: opening rtnetlink: {error}"),
            }
        }
        self.routing.clone()
    }
}

/// What the task follows.
struct Inputs {
    sections: Vec<Anycast>,
    services: BTreeMap<TrackKey, Service>,
    checks: Checks,
    /// Woken by every change of a dependency.
    changed: Arc<Notify>,
    /// The sections the operator withdrew, and the changes to come.
    held: BTreeSet<String>,
    holds: mpsc::UnboundedReceiver<Hold>,
}

/// The task: evaluates every section whenever a dependency or the operator's hold changes,
/// and adds or removes its routes. Returns the routes in place when stopped.
async fn follow(
    inputs: Inputs,
    mut installed: BTreeSet<Route>,
    routing: Arc<Routing>,
    mut stopped: oneshot::Receiver<()>,
) -> BTreeSet<Route> {
    let Inputs {
        sections,
        services,
        checks,
        changed,
        mut held,
        mut holds,
    } = inputs;
    let links = Arc::new(Mutex::new(BTreeMap::new()));
    let mut watchers = watch_services(&services, &changed);
    watchers.extend(checks.tasks);
    let interfaces: BTreeSet<&String> = sections.iter().flat_map(|s| &s.track_interfaces).collect();
    if !interfaces.is_empty() {
        watchers.push(watch_links(&interfaces, &links, &changed));
    }
    let started = Instant::now();
    // Routes of a predecessor that no section announces any more.
    let configured: BTreeSet<Route> = sections.iter().flat_map(routes_of).collect();
    for route in installed.clone().difference(&configured) {
        remove(&routing, *route).await;
        installed.remove(route);
    }
    // Operators waiting for their hold to be applied: answered after the evaluation.
    let mut waiting: Vec<Hold> = Vec::new();
    loop {
        let mut pending = false;
        let mut shown = Vec::new();
        for section in &sections {
            let mut health = dependencies(section, &services, &links, started);
            health.extend(checks::of(section, &checks.states));
            pending |= health.iter().any(|(_, h)| *h == Health::Pending);
            let routes = routes_of(section);
            let now = routes.iter().all(|r| installed.contains(r));
            let wanted = !held.contains(&section.name)
                && decision::announced(health.iter().map(|(_, h)| *h), now);
            for route in routes {
                let there = installed.contains(&route);
                if wanted && !there && add(&routing, route, &section.name).await {
                    installed.insert(route);
                } else if !wanted && there {
                    remove(&routing, route).await;
                    tracing::info!(anycast = %section.name, "withdrawn {}", route.prefix);
                    installed.remove(&route);
                }
            }
            shown.push(status_of(section, &health, &installed, &held));
        }
        for hold in waiting.drain(..) {
            let status = shown.iter().find(|s| s.name == hold.name);
            let _ = hold.done.send(status.cloned().unwrap_or_default());
        }
        crate::anycast_status::publish(shown);
        let poll = async {
            if pending {
                tokio::time::sleep(PENDING_POLL).await;
            } else {
                std::future::pending::<()>().await;
            }
        };
        tokio::select! {
            _ = &mut stopped => break,
            () = changed.notified() => {}
            () = poll => {}
            Some(hold) = holds.recv() => {
                if hold.withdrawn {
                    held.insert(hold.name.clone());
                } else {
                    held.remove(&hold.name);
                }
                waiting.push(hold);
            }
        }
    }
    for watcher in watchers {
        watcher.abort();
    }
    installed
}

fn routes_of(section: &Anycast) -> Vec<Route> {
    section
        .prefixes
        .iter()
        .map(|&prefix| Route {
            prefix,
            table: section.table,
        })
        .collect()
}

/// What `baton status` shows of `section`.
fn status_of(
    section: &Anycast,
    health: &[(String, Health)],
    installed: &BTreeSet<Route>,
    held: &BTreeSet<String>,
) -> AnycastStatus {
    let waiting_on = health
        .iter()
        .filter_map(|(what, health)| match health {
            Health::Up => None,
            Health::Down => Some(format!("{what}: down")),
            Health::Pending => Some(format!("{what}: first check due")),
        })
        .collect();
    AnycastStatus {
        name: section.name.clone(),
        prefixes: section.prefixes.iter().map(ToString::to_string).collect(),
        table: section.table,
        announced: routes_of(section).iter().all(|r| installed.contains(r)),
        withdrawn_by_operator: held.contains(&section.name),
        waiting_on,
    }
}

/// Every dependency of `section`, named, as seen now. A service the daemon does not run
/// (it failed to start) counts as down.
fn dependencies(
    section: &Anycast,
    services: &BTreeMap<TrackKey, Service>,
    links: &Mutex<BTreeMap<String, bool>>,
    started: Instant,
) -> Vec<(String, Health)> {
    let service = |key: TrackKey| match services.get(&key) {
        None => (key.to_string(), Health::Down),
        Some(service) => {
            let waiting = service
                .first
                .as_ref()
                .is_some_and(|first| !(first.known)() && started.elapsed() < first.within);
            let health = match (*service.up.borrow(), waiting) {
                (_, true) => Health::Pending,
                (true, false) => Health::Up,
                (false, false) => Health::Down,
            };
            (key.to_string(), health)
        }
    };
    let links = links.lock().unwrap_or_else(|e| e.into_inner());
    let frontends = section
        .track_frontends
        .iter()
        .cloned()
        .map(TrackKey::Frontend);
    let virtual_servers = section
        .track_virtual_servers
        .iter()
        .cloned()
        .map(TrackKey::VirtualServer);
    frontends
        .chain(virtual_servers)
        .map(service)
        .chain(section.track_interfaces.iter().map(|name| {
            let up = links.get(name).copied().unwrap_or(false);
            let health = if up { Health::Up } else { Health::Down };
            (format!("interface {name}"), health)
        }))
        .collect()
}

/// A task per service that wakes the evaluation when its health changes.
fn watch_services(
    services: &BTreeMap<TrackKey, Service>,
    changed: &Arc<Notify>,
) -> Vec<JoinHandle<()>> {
    services
        .values()
        .map(|service| {
            let mut up = service.up.clone();
            let changed = Arc::clone(changed);
            tokio::spawn(async move {
                while up.changed().await.is_ok() {
                    changed.notify_one();
                }
            })
        })
        .collect()
}

/// Reads the tracked interfaces' links now and follows their changes into `links`.
fn watch_links(
    interfaces: &BTreeSet<&String>,
    links: &Arc<Mutex<BTreeMap<String, bool>>>,
    changed: &Arc<Notify>,
) -> JoinHandle<()> {
    // Subscribed before the states are read, so no change falls between the two.
    let watcher = baton_net::LinkWatcher::new();
    {
        let mut links = links.lock().unwrap_or_else(|e| e.into_inner());
        for name in interfaces {
            let up = baton_net::link_is_up(name).unwrap_or(false);
            links.insert((*name).clone(), up);
        }
    }
    let links = Arc::clone(links);
    let changed = Arc::clone(changed);
    tokio::spawn(async move {
        let mut watcher = match watcher {
            Ok(watcher) => watcher,
            Err(error) => {
                tracing::error!("anycast: subscribing to link events: {error}");
                return;
            }
        };
        while let Some((name, up)) = watcher.next().await {
            let mut links = links.lock().unwrap_or_else(|e| e.into_inner());
            if let Some(state) = links.get_mut(&name)
                && *state != up
            {
                *state = up;
                changed.notify_one();
            }
        }
    })
}

async fn add(routing: &Routing, route: Route, section: &str) -> bool {
    match routing.add_route(&route.spec()).await {
        Ok(()) => {
            tracing::info!(anycast = %section, "announced {} (table {})", route.prefix, route.table);
            true
        }
        Err(error) => {
            tracing::error!(anycast = %section, "{error}");
            false
        }
    }
}

async fn remove(routing: &Routing, route: Route) {
    if let Err(error) = routing.remove_route(&route.spec()).await {
        tracing::error!("anycast: {error}");
    }
}
