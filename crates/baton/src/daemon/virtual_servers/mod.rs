//! L4 balancing in `baton run`: keepalived's `virtual_server` blocks, with baton's own
//! checkers deciding which real servers take new flows and the kernel's nf_tables doing the
//! forwarding.
//!
//! The main loop owns this runtime and feeds it checker verdicts and operator commands;
//! each change recomputes the affected service's table (`pool`, keepalived's rules) and
//! hands the whole desired state to the applier task, which writes it to the kernel in one
//! nftables transaction. The main loop never waits for `nft`, so nothing here can delay a
//! VRRP advertisement. A virtual server's quorum is published as a watch for instances that
//! `track_virtual_server` it.

mod alerts;
mod applier;
mod checks;
mod host;
mod pool;
mod quorum;
mod table;
mod view;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use baton_config::{Config, LbKind, RealServer, VirtualServer};
use baton_proxy::AdminState;
use tokio::sync::{mpsc, watch};

pub(super) use table::dr_interface;

use super::notify_fifo::{NotifyFifos, real_server_line, service_line};
use super::smtp_alert::Mailer;
use super::smtp_message::QuorumChange;
use super::state_file::{Overrides, ServerKey};
use super::tracking::FirstVerdict;
use crate::scripts::{Credentials, Notification, Notifier, Script};
use crate::status::Status;
use applier::Applier;
use checks::{CheckEvent, RunningCheck};
use pool::ServerState;
use quorum::Quorum;

/// The longest an instance waits for a new virtual server's first verdict before it may
/// become master (less when its checkers' first verdict is due sooner).
const FIRST_VERDICT_WAIT: Duration = Duration::from_secs(2);

pub(crate) use crate::published::VirtualServerRegistry as Registry;

/// Every virtual server of the running configuration.
#[derive(Debug)]
pub(crate) struct VirtualServers {
    services: BTreeMap<String, Service>,
    /// Verdicts from every checker; each carries the generation of the server it checks, so
    /// a verdict from a checker a reload replaced is ignored.
    events_tx: mpsc::UnboundedSender<CheckEvent>,
    events: mpsc::UnboundedReceiver<CheckEvent>,
    /// None while the configuration has no virtual server: then baton needs no `nft`.
    applier: Option<Applier>,
    /// Removing what a predecessor left, when started without virtual servers: in the
    /// background, so a daemon without L4 does not wait for `nft`; awaited before the first
    /// table is written, so it cannot remove that.
    cleanup: Option<tokio::task::JoinHandle<()>>,
    /// Per virtual server: true while it has quorum. Kept across reloads, so the VRRP
    /// side's watchers never lose their sender.
    health: BTreeMap<String, watch::Sender<bool>>,
    /// Virtual servers that got their health sender in the last start or reload: set
    /// once every checker of every real server has given its first verdict (see
    /// [`VirtualServers::first_verdicts`]).
    first_verdicts: BTreeMap<String, Arc<AtomicBool>>,
    registry: Registry,
    notifier: Notifier,
    default_user: Option<Credentials>,
    next_generation: u64,
    /// The running configuration, locations stripped (FILE_CHECK finds its track_file here).
    config: Config,
    /// The VRRP side's view, for `ha_suspend`: which instances are master of which VIPs.
    vrrp: watch::Receiver<Status>,
    /// `smtp_alert`: e-mail on checker and quorum changes.
    mail: Mailer,
    /// `lvs_notify_fifo`: a line per quorum change and real server change, beside the
    /// scripts (keepalived's `do_vs_notifies` / `do_rs_notifies`).
    fifos: NotifyFifos,
    /// Connection sync's commits seen in the status: each new one rebuilds persistence.
    commits_seen: u64,
}

#[derive(Debug)]
struct Service {
    /// As configured, locations stripped, to tell what a reload changed.
    config: VirtualServer,
    /// Where a DR service's packets arrive and leave.
    interface: Option<String>,
    /// `ha_suspend` and this host does not hold the service's address: checkers stopped.
    suspended: bool,
    quorum: Quorum,
    servers: Vec<Server>,
}

#[derive(Debug)]
struct Server {
    config: RealServer,
    state: ServerState,
    generation: u64,
    /// The last result per checker, for `baton status`.
    last: Vec<String>,
    /// Per checker: it has given a verdict. Once all have, the server's first state is
    /// known (for `rs_init_notifies`).
    reported: Vec<bool>,
    /// The running checkers (none while suspended); dropping them stops them.
    checks: Vec<RunningCheck>,
}

/// A reload's virtual servers, built and checked; see [`VirtualServers::prepare`].
#[derive(Debug)]
pub(crate) struct Prepared {
    /// The new configuration, locations stripped.
    config: Config,
    /// Every virtual server of it, in order, with what it takes from the running one.
    services: Vec<(VirtualServer, Planned)>,
    /// Started by `prepare` when none ran: the data plane is writable.
    applier: Option<Applier>,
    /// Who MISC_CHECK programs and notify scripts without a user of their own run as.
    default_user: Option<Credentials>,
}

impl Drop for Prepared {
    fn drop(&mut self) {
        // A reload that failed after the data plane was started for it: take its tables
        // out again (nothing of the running configuration is in them).
        if let Some(applier) = self.applier.take() {
            tokio::spawn(applier.stop());
        }
    }
}

#[derive(Debug)]
enum Planned {
    /// Unchanged: the running service stays as it is.
    Keep,
    /// New or changed.
    Build {
        interface: Option<String>,
        suspended: bool,
        /// Per real server, in configuration order.
        servers: Vec<Slot>,
    },
}

#[derive(Debug)]
enum Slot {
    /// The running server of that address stays, checkers and state.
    Keep,
    /// New, or its settings changed: checkers already started.
    New(Box<Server>),
}

/// An operator's change to one real server (`baton server ...`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ServerChange {
    Admin(AdminState),
    Weight(u32),
}

impl VirtualServers {
    /// Starts every checker and writes the first table, with the operator's `restored`
    /// overrides in it from the start, replacing whatever a predecessor left in the kernel.
    /// Fails when the data plane cannot be written (no `nft`, no nf_tables): a
    /// configuration with virtual servers cannot run without it.
    pub(crate) async fn start(
        config: &Config,
        notifier: Notifier,
        default_user: Option<Credentials>,
        vrrp: watch::Receiver<Status>,
        restored: &Overrides,
    ) -> anyhow::Result<VirtualServers> {
        let (events_tx, events) = mpsc::unbounded_channel();
        let mut runtime = VirtualServers {
            services: BTreeMap::new(),
            events_tx,
            events,
            applier: None,
            cleanup: None,
            health: BTreeMap::new(),
            first_verdicts: BTreeMap::new(),
            registry: Registry::default(),
            notifier,
            default_user,
            next_generation: 0,
            config: Config::default(),
            vrrp,
            mail: Mailer::start(&config.global),
            fifos: NotifyFifos::open_checkers(&config.global, default_user),
            commits_seen: 0,
        };
        let prepared = runtime.prepare_services(config, runtime.default_user, restored)?;
        runtime.replace(prepared);
        if runtime.services.is_empty() {
            runtime.cleanup = Some(tokio::spawn(applier::remove_leftover()));
        } else {
            runtime.applier = Some(Applier::start(runtime.table()).await?);
        }
        runtime.publish();
        Ok(runtime)
    }

    /// Whether each virtual server has quorum, by name.
    pub(crate) fn health(&self) -> BTreeMap<String, watch::Receiver<bool>> {
        self.health
            .iter()
            .map(|(name, sender)| (name.clone(), sender.subscribe()))
            .collect()
    }

    pub(crate) fn registry(&self) -> Registry {
        Arc::clone(&self.registry)
    }

    /// For instances that track a virtual server started by the last start or reload:
    /// how to tell that its quorum is a verdict rather than a guess (real servers count
    /// as up until a checker says otherwise), and how long to wait for it: 2 s, or the
    /// longest `delay_loop` plus `connect_timeout` of its checkers when that is less.
    /// Services without checkers, or suspended (`ha_suspend`), have none.
    pub(crate) fn first_verdicts(&self) -> BTreeMap<String, FirstVerdict> {
        let mut verdicts = BTreeMap::new();
        for (name, known) in &self.first_verdicts {
            let Some(service) = self.services.get(name) else {
                continue;
            };
            let checkers = service.servers.iter().flat_map(|s| &s.config.checkers);
            let Some(first) = checkers.map(|c| c.delay_loop + c.connect_timeout).max() else {
                continue;
            };
            if service.suspended {
                continue;
            }
            let known = Arc::clone(known);
            verdicts.insert(
                name.clone(),
                FirstVerdict {
                    known: Box::new(move || known.load(Ordering::Acquire)),
                    within: FIRST_VERDICT_WAIT.min(first),
                },
            );
        }
        verdicts
    }

    /// Waits for the next checker verdict, or a VRRP change that suspends or resumes
    /// `ha_suspend` services, and applies it.
    pub(crate) async fn step(&mut self) {
        tokio::select! {
            Some(event) = self.events.recv() => {
                self.verdict(event);
                // Verdicts that arrived together go out in one transaction.
                while let Ok(event) = self.events.try_recv() {
                    self.verdict(event);
                }
            }
            Ok(()) = self.vrrp.changed() => {
                self.restore_after_takeover();
                match self.suspend_or_resume() {
                    // The VRRP status changes with every advertisement; most change nothing.
                    Ok(false) => return,
                    Ok(true) => {}
                    Err(error) => tracing::error!("resuming checkers: {error:#}"),
                }
            }
        }
        self.publish();
    }

    /// Connection sync committed the peer's flows into this kernel (a takeover): their
    /// clients' persistence entries follow, which conntrackd does not carry (they are
    /// nf_tables map elements, not conntrack entries).
    fn restore_after_takeover(&mut self) {
        let commits = self
            .vrrp
            .borrow()
            .conn_sync
            .as_ref()
            .map_or(0, |sync| sync.commits);
        if commits != self.commits_seen && commits > 0 {
            if let Some(applier) = &self.applier {
                applier.restore_persistence();
            }
        }
        self.commits_seen = commits;
    }

    /// keepalived's `ha_suspend`: a service's checkers run only while this host holds the
    /// service's address: as master of the VRRP instance that has it, or always when no
    /// instance has it (an address configured outside baton).
    /// True when some service was suspended or resumed.
    fn suspend_or_resume(&mut self) -> anyhow::Result<bool> {
        if !self.services.values().any(|s| s.config.ha_suspend) {
            self.vrrp.borrow_and_update();
            return Ok(false);
        }
        let vrrp = self.vrrp.borrow_and_update().clone();
        let mut changed = false;
        let names: Vec<String> = self.services.keys().cloned().collect();
        for name in names {
            let Some(service) = self.services.get(&name) else {
                continue;
            };
            let suspend = service.config.ha_suspend && !host::holds(&vrrp, &service.config);
            if suspend == service.suspended {
                continue;
            }
            changed = true;
            let word = if suspend { "suspended" } else { "resumed" };
            tracing::info!(virtual_server = %name, "ha_suspend: checkers {word}");
            let vs = service.config.clone();
            let mut restarted = Vec::new();
            if !suspend {
                for rs in &vs.real_servers {
                    let generation = self.next_generation;
                    self.next_generation += 1;
                    restarted.push((
                        generation,
                        self.spawn_checks(&self.config, self.default_user, &vs, rs, generation)?,
                    ));
                }
            }
            let Some(service) = self.services.get_mut(&name) else {
                continue;
            };
            service.suspended = suspend;
            if suspend {
                // The states stay as the checkers last saw them.
                service.servers.iter_mut().for_each(|s| s.checks.clear());
            }
            // Servers are in configuration order, as `restarted` is.
            for (server, (generation, checks)) in service.servers.iter_mut().zip(restarted) {
                server.generation = generation;
                server.checks = checks;
            }
        }
        Ok(changed)
    }

    /// Starts the checkers of real server `rs` of `vs`, as `config` (the running one, or
    /// the one a reload prepares) says.
    fn spawn_checks(
        &self,
        config: &Config,
        default_user: Option<Credentials>,
        vs: &VirtualServer,
        rs: &RealServer,
        generation: u64,
    ) -> anyhow::Result<Vec<RunningCheck>> {
        rs.checkers
            .iter()
            .enumerate()
            .map(|(index, checker)| {
                checks::spawn(
                    config,
                    checker,
                    rs.weight,
                    default_user,
                    checks::Target {
                        service: vs.name.clone(),
                        server: rs.address,
                        checker: index,
                        generation,
                    },
                    self.events_tx.clone(),
                )
            })
            .collect()
    }

    /// The first half of a reload (SIGHUP): builds and checks what `config` needs while
    /// the running services run on: the checkers of new and changed real servers (started;
    /// their verdicts wait in the channel until the switch), every DR service's interface,
    /// the new rules, and, when no virtual server ran so far, the data plane itself (the
    /// first table is written now: nothing of the running configuration is in it). Dropping
    /// the result stops what it started.
    pub(crate) async fn prepare(
        &mut self,
        config: &Config,
        default_user: Option<Credentials>,
        restored: &Overrides,
    ) -> anyhow::Result<Prepared> {
        let mut prepared = self.prepare_services(config, default_user, restored)?;
        let table = self.table_of(&prepared);
        baton_l4::DataPlane::new("baton")
            .render(&table)
            .map_err(|error| anyhow::anyhow!("the L4 rules: {error}"))?;
        if self.applier.is_none() && !table.services.is_empty() {
            if let Some(cleanup) = self.cleanup.take() {
                let _ = cleanup.await;
            }
            prepared.applier = Some(Applier::start(table).await?);
        }
        Ok(prepared)
    }

    /// The second half: services whose settings did not change keep their checkers and
    /// states; within a changed service, real servers whose own settings did not change
    /// keep theirs too, so a reload moves no flow it does not have to.
    pub(crate) fn commit(&mut self, mut prepared: Prepared) {
        let applier = prepared.applier.take();
        self.replace(prepared);
        match (applier, self.services.is_empty()) {
            (Some(applier), _) => self.applier = Some(applier),
            (None, true) => {
                if let Some(applier) = self.applier.take() {
                    // Its tables leave the kernel in the background: the main loop does not
                    // wait for `nft`.
                    tokio::spawn(applier.stop());
                }
            }
            (None, false) => {}
        }
        self.publish();
    }

    /// `baton server drain|disable|enable|weight VS ADDR`.
    pub(crate) fn change_server(
        &mut self,
        service: &str,
        address: SocketAddr,
        change: ServerChange,
    ) -> Result<serde_json::Value, String> {
        let known = self.services.keys().cloned().collect::<Vec<_>>().join(", ");
        let Some(running) = self.services.get_mut(service) else {
            return Err(format!(
                "unknown virtual server {service:?}; virtual servers: {known}"
            ));
        };
        let Some(server) = running
            .servers
            .iter_mut()
            .find(|s| s.state.address == address)
        else {
            let listed: Vec<String> = running
                .servers
                .iter()
                .map(|s| s.state.address.to_string())
                .collect();
            return Err(format!(
                "no real server {address} in virtual server {service}; its real servers: {}",
                listed.join(", ")
            ));
        };
        match change {
            ServerChange::Admin(admin) => server.state.admin = admin,
            ServerChange::Weight(weight) => server.state.operator_weight = Some(weight),
        }
        let (admin, weight) = (server.state.admin, server.state.weight());
        tracing::info!(virtual_server = service, real_server = %address, admin = admin.as_str(), weight, "changed by the operator");
        self.requorum(service);
        self.publish();
        Ok(serde_json::json!({
            "ok": true,
            "virtual_server": service,
            "address": address.to_string(),
            "admin": admin.as_str(),
            "weight": weight,
        }))
    }

    /// SIGTERM: checkers stop and baton's tables leave the kernel. Flows in progress through
    /// NAT lose their translation with the table, as they lose the VIP. DR tables stay a
    /// moment longer ([`table::dr_linger`]), forwarding what clients still send here until
    /// the new master has announced itself.
    pub(crate) async fn stop(mut self) {
        for service in self.services.values() {
            if service.config.omega {
                self.omega(service);
                let alive: Vec<&RealServer> = service
                    .servers
                    .iter()
                    .filter(|s| s.state.alive())
                    .map(|s| &s.config)
                    .collect();
                alerts::shutting_down(&self.mail, &service.config, &alive);
            }
        }
        self.services.clear();
        if let Some(applier) = self.applier.take() {
            if let Some(linger) = table::dr_linger(&self.config) {
                tracing::info!(
                    "stopping: DR forwarding kept for {} ms, until the new master is known",
                    linger.as_millis()
                );
                tokio::time::sleep(linger).await;
            }
            applier.stop().await;
        }
        self.mail.close().await;
    }

    /// keepalived's `omega`: a removed service runs its down scripts.
    fn omega(&self, service: &Service) {
        if let Some(script) = &service.config.quorum_down {
            self.notify(script, &service.config.name);
        }
        self.fifos.write(&service_line(&service.config, false));
        for server in &service.servers {
            if let Some(script) = &server.config.notify_down {
                self.notify(script, &service.config.name);
            }
            let address = server.config.address;
            self.fifos
                .write(&real_server_line(&service.config, address, false));
        }
    }

    /// What `config` needs besides the running services, without changing them. A real
    /// server keeps the operator's state it had; one that did not run takes what
    /// `restored` saved for it.
    fn prepare_services(
        &mut self,
        config: &Config,
        default_user: Option<Credentials>,
        restored: &Overrides,
    ) -> anyhow::Result<Prepared> {
        let config = config.clone();
        // A new default user restarts every checker, so MISC_CHECK programs run as it.
        let user_changed = default_user != self.default_user;
        let vrrp = self.vrrp.borrow().clone();
        let mut services = Vec::new();
        for vs in &config.virtual_servers {
            let old = self.services.get(&vs.name);
            if !user_changed && old.is_some_and(|old| old.config == *vs) {
                services.push((vs.clone(), Planned::Keep));
                continue;
            }
            let interface = table::dr_interface(&config, vs);
            if vs.lb_kind == LbKind::Dr && interface.is_none() {
                anyhow::bail!(
                    "virtual server {}: lb_kind DR forwards frames on the interface that holds \
                     the virtual address, and no vrrp_instance has it among its \
                     virtual_ipaddress",
                    vs.name
                );
            }
            let suspended = vs.ha_suspend && !host::holds(&vrrp, vs);
            let mut servers = Vec::new();
            for rs in &vs.real_servers {
                let previous =
                    old.and_then(|old| old.servers.iter().find(|s| s.state.address == rs.address));
                if !user_changed && previous.is_some_and(|previous| previous.config == *rs) {
                    servers.push(Slot::Keep);
                    continue;
                }
                let generation = self.next_generation;
                self.next_generation += 1;
                let checks = if suspended {
                    Vec::new()
                } else {
                    self.spawn_checks(&config, default_user, vs, rs, generation)?
                };
                let mut state = ServerState {
                    address: rs.address,
                    configured_weight: rs.weight,
                    operator_weight: None,
                    weight_offsets: vec![0; rs.checkers.len()],
                    admin: AdminState::Ready,
                    // keepalived: up until a checker says otherwise, down with `alpha`.
                    checks_up: rs.checkers.iter().map(|c| !c.start_down).collect(),
                    inhibit_on_failure: rs.inhibit_on_failure,
                };
                // The operator's state survives a change to the server's settings.
                if let Some(previous) = previous {
                    state.admin = previous.state.admin;
                    state.operator_weight = previous.state.operator_weight;
                } else if let Some(saved) = restored
                    .real_servers
                    .get(&ServerKey::new(&vs.name, rs.address))
                {
                    state.admin = saved.admin.unwrap_or(AdminState::Ready);
                    state.operator_weight = saved.weight;
                }
                servers.push(Slot::New(Box::new(Server {
                    config: rs.clone(),
                    state,
                    generation,
                    last: vec![String::from("not checked yet"); rs.checkers.len()],
                    reported: vec![false; rs.checkers.len()],
                    checks,
                })));
            }
            services.push((
                vs.clone(),
                Planned::Build {
                    interface,
                    suspended,
                    servers,
                },
            ));
        }
        Ok(Prepared {
            config,
            services,
            applier: None,
            default_user,
        })
    }

    /// The table the services of `prepared` would write.
    fn table_of(&self, prepared: &Prepared) -> baton_l4::Table {
        let services = prepared
            .services
            .iter()
            .filter_map(|(vs, planned)| {
                let old = self.services.get(&vs.name);
                let (interface, states) = match planned {
                    Planned::Keep => {
                        let old = old?;
                        let states = old.servers.iter().map(|s| s.state.clone()).collect();
                        (old.interface.clone(), states)
                    }
                    Planned::Build {
                        interface, servers, ..
                    } => {
                        let states: Vec<ServerState> = vs
                            .real_servers
                            .iter()
                            .zip(servers)
                            .filter_map(|(rs, slot)| match slot {
                                Slot::New(server) => Some(server.state.clone()),
                                Slot::Keep => old?
                                    .servers
                                    .iter()
                                    .find(|s| s.state.address == rs.address)
                                    .map(|s| s.state.clone()),
                            })
                            .collect();
                        (interface.clone(), states)
                    }
                };
                let quorum = match (planned, old) {
                    (Planned::Keep, Some(old)) => old.quorum,
                    _ => Quorum::new(vs.quorum, vs.hysteresis, pool::live_weight(&states)),
                };
                let members = pool::members(&states, quorum.is_up(), vs.sorry_server.is_some());
                Some(table::service(vs, &members, interface.as_deref()))
            })
            .collect();
        baton_l4::Table { services }
    }

    /// Brings the services in line with `prepared` (without touching the kernel).
    fn replace(&mut self, mut prepared: Prepared) {
        // Only services new with this configuration may still wait for a first verdict.
        self.first_verdicts.clear();
        let config = std::mem::take(&mut prepared.config);
        let services = std::mem::take(&mut prepared.services);
        self.default_user = prepared.default_user;
        self.config = config.clone();
        if !self.mail.started_from(&config.global) {
            self.mail = Mailer::start(&config.global);
        }
        if !self.fifos.opened_from(&config.global) {
            // The old FIFO closes (and goes, if baton made it) before the new one opens.
            self.fifos = NotifyFifos::default();
            self.fifos = NotifyFifos::open_checkers(&config.global, self.default_user);
        }
        let mut old = std::mem::take(&mut self.services);
        for (vs, planned) in services {
            let service = match (planned, old.remove(&vs.name)) {
                (Planned::Keep, Some(running)) => running,
                (Planned::Keep, None) => {
                    // Cannot happen: Keep is planned from a running service.
                    tracing::error!(virtual_server = %vs.name, "not running; skipped");
                    continue;
                }
                (
                    Planned::Build {
                        interface,
                        suspended,
                        servers,
                    },
                    previous,
                ) => {
                    tracing::info!(virtual_server = %vs.name, "starting");
                    self.build(&vs, previous, interface, suspended, servers)
                }
            };
            if !self.health.contains_key(&vs.name) {
                let settled = service
                    .servers
                    .iter()
                    .all(|s| s.reported.iter().all(|&r| r));
                self.first_verdicts
                    .insert(vs.name.clone(), Arc::new(AtomicBool::new(settled)));
            }
            self.health
                .entry(vs.name.clone())
                .or_insert_with(|| watch::channel(false).0)
                .send_replace(service.quorum.is_up());
            self.services.insert(vs.name.clone(), service);
        }
        host::warn_without_forwarding(&config);
        for (name, service) in old {
            tracing::info!(virtual_server = %name, "removed");
            if service.config.omega {
                self.omega(&service);
            }
            self.health.remove(&name);
        }
    }

    /// A service as prepared; real servers unchanged from `previous` keep their checkers
    /// and states.
    fn build(
        &mut self,
        vs: &VirtualServer,
        previous: Option<Service>,
        interface: Option<String>,
        suspended: bool,
        slots: Vec<Slot>,
    ) -> Service {
        let mut kept: BTreeMap<SocketAddr, Server> = previous
            .map(|p| p.servers)
            .unwrap_or_default()
            .into_iter()
            .map(|s| (s.state.address, s))
            .collect();
        let servers: Vec<Server> = vs
            .real_servers
            .iter()
            .zip(slots)
            .filter_map(|(rs, slot)| match slot {
                Slot::New(server) => Some(*server),
                Slot::Keep => kept.remove(&rs.address),
            })
            .collect();
        let states: Vec<ServerState> = servers.iter().map(|s| s.state.clone()).collect();
        let quorum = Quorum::new(vs.quorum, vs.hysteresis, pool::live_weight(&states));
        let service = Service {
            config: vs.clone(),
            interface,
            suspended,
            quorum,
            servers,
        };
        let word = if quorum.is_up() { "up" } else { "down" };
        tracing::info!(virtual_server = %vs.name, "starting with quorum {word}");
        if !quorum.is_up() {
            if let Some(script) = &vs.quorum_down {
                self.notify(script, &vs.name);
            }
            self.fifos.write(&service_line(vs, false));
            if vs.sorry_server.is_some() {
                let live = pool::live_weight(&states);
                alerts::quorum_changed(&self.mail, vs, QuorumChange::StartingDown, live);
            }
        }
        service
    }

    fn verdict(&mut self, event: CheckEvent) {
        let target = &event.target;
        let Some(service) = self.services.get_mut(&target.service) else {
            return;
        };
        let Some(server) = service
            .servers
            .iter_mut()
            .find(|s| s.state.address == target.server && s.generation == target.generation)
        else {
            return;
        };
        let was_alive = server.state.alive();
        let first_state_was_known = server.reported.iter().all(|&r| r);
        let checker_was_up = server.state.checks_up.get(target.checker).copied();
        let first_verdict = server.reported.get(target.checker) == Some(&false);
        if let Some(reported) = server.reported.get_mut(target.checker) {
            *reported = true;
        }
        let first_state = !first_state_was_known && server.reported.iter().all(|&r| r);
        if let Some(up) = server.state.checks_up.get_mut(target.checker) {
            *up = event.up;
        }
        if let Some(offset) = server.state.weight_offsets.get_mut(target.checker) {
            *offset = event.weight_offset;
        }
        if let Some(last) = server.last.get_mut(target.checker) {
            last.clone_from(&event.reason);
        }
        let alive = server.state.alive();
        let change = alerts::CheckerChange {
            vs: &service.config,
            rs: &server.config,
            checker: target.checker,
            was_up: checker_was_up.unwrap_or(event.up),
            up: event.up,
            first: first_verdict,
            server_was_alive: was_alive,
            server_alive: alive,
            reason: &event.reason,
        };
        alerts::checker_changed(&self.mail, &change);
        // keepalived runs a server's notify script when its state changes; with
        // `rs_init_notifies`, also for the first state its checkers confirm.
        let confirmed = first_state && self.config.global.rs_init_notifies;
        if alive != was_alive || confirmed {
            let (word, script) = if alive {
                ("up", &server.config.notify_up)
            } else {
                ("down", &server.config.notify_down)
            };
            tracing::info!(virtual_server = %target.service, real_server = %target.server, reason = %event.reason, "real server {word}");
            let line = real_server_line(&service.config, server.config.address, alive);
            if let Some(script) = script.clone() {
                self.notify(&script, &target.service);
            }
            self.fifos.write(&line);
        }
        let name = target.service.clone();
        self.requorum(&name);
        // After the quorum: instances waiting for the first verdict read it next.
        if let (Some(known), Some(service)) =
            (self.first_verdicts.get(&name), self.services.get(&name))
        {
            if service
                .servers
                .iter()
                .all(|s| s.reported.iter().all(|&r| r))
            {
                known.store(true, Ordering::Release);
            }
        }
    }

    /// Re-measures the quorum of `service` after a change; runs `quorum_up` / `quorum_down`
    /// and tells tracking instances.
    fn requorum(&mut self, service: &str) {
        let Some(running) = self.services.get_mut(service) else {
            return;
        };
        let states: Vec<ServerState> = running.servers.iter().map(|s| s.state.clone()).collect();
        let live = pool::live_weight(&states);
        let Some(up) = running.quorum.update(live) else {
            return;
        };
        let change = if up {
            QuorumChange::Gained
        } else {
            QuorumChange::Lost
        };
        alerts::quorum_changed(&self.mail, &running.config, change, live);
        let line = service_line(&running.config, up);
        let (word, script) = if up {
            ("gained", running.config.quorum_up.clone())
        } else {
            ("lost", running.config.quorum_down.clone())
        };
        tracing::warn!(
            virtual_server = service,
            live_weight = live,
            quorum = running.config.quorum,
            hysteresis = running.config.hysteresis,
            next_change_at = running.quorum.threshold(),
            "{word} quorum"
        );
        if let Some(sender) = self.health.get(service) {
            sender.send_replace(up);
        }
        if let Some(script) = script {
            self.notify(&script, service);
        }
        self.fifos.write(&line);
    }

    fn notify(&self, script: &baton_config::NotifyScript, service: &str) {
        let credentials = match &script.user {
            Some(user) => match Credentials::lookup(&user.user, user.group.as_deref()) {
                Ok(credentials) => Some(credentials),
                Err(error) => {
                    tracing::error!(virtual_server = service, "notify script not run: {error}");
                    return;
                }
            },
            None => self.default_user,
        };
        self.notifier.send(Notification {
            script: Script::new(script.argv.clone(), credentials),
            args: Vec::new(),
        });
    }

    /// The desired state of every service.
    fn table(&self) -> baton_l4::Table {
        let services = self
            .services
            .values()
            .map(|service| {
                let states: Vec<ServerState> =
                    service.servers.iter().map(|s| s.state.clone()).collect();
                let members = pool::members(
                    &states,
                    service.quorum.is_up(),
                    service.config.sorry_server.is_some(),
                );
                table::service(&service.config, &members, service.interface.as_deref())
            })
            .collect();
        baton_l4::Table { services }
    }

    /// Sends the table to the applier and refreshes what `baton status` shows.
    fn publish(&mut self) {
        if let Some(applier) = &self.applier {
            applier.apply(self.table());
        }
        self.refresh_status();
    }

    /// Refreshes what `baton status` shows, counters included (also on the main loop's
    /// timer, as the applier reads new counters).
    pub(crate) fn refresh_status(&self) {
        let counters = self
            .applier
            .as_ref()
            .map(Applier::counters)
            .unwrap_or_default();
        let entries = self
            .services
            .values()
            .map(|service| view::entry(service, &counters))
            .collect();
        *self.registry.write().unwrap_or_else(|e| e.into_inner()) = entries;
    }
}
