//! The daemon: drives the VRRP engine with real sockets, netlink and scripts.
//!
//! One protocol task owns the engine and reads the VRRP sockets itself (`sockets`).
//! Everything else (link watcher, track scripts and files, signals) feeds it through
//! channels, and whatever may take time
//! (gratuitous ARP bursts, notify scripts) runs on tasks of its own, so nothing delays an
//! advertisement.

mod anycast;
mod bfd;
mod conn_sync;
mod control;
mod dynamic_interfaces;
mod fault_reasons;
mod fifo_reader;
mod frontends;
mod garp_extra_if;
mod handoff;
mod handoff_offer;
mod handoff_offer_socket;
mod handshakes;
mod host_check;
mod link_debounce;
mod listen;
mod no_accept;
mod notify;
mod notify_fifo;
mod outer_inputs;
mod plan;
mod proxy_config;
mod publish_pace;
mod quiet_vips;
mod reload_file;
mod reload_schedule;
mod reload_time;
mod routes;
mod smtp_alert;
mod smtp_message;
mod sock_diag;
mod sockets;
mod src_ip_tracking;
mod start_stop;
mod state_file;
mod step_down;
mod switchover;
mod syn_gate;
mod systemd;
mod track_file;
mod track_process;
mod tracking;
mod vips;
mod virtual_servers;
mod vmac;
mod vmac_addr;
mod woken;

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::future::Future as _;
use std::path::Path;
use std::pin::pin;
use std::sync::Arc;
use std::task::{Poll, ready};
use std::time::Instant;

use anyhow::Context as _;
use baton_config::{AdminListen, Config, Family};
use baton_vrrp::{Event, InstanceId, Router, VipAction};
use tokio::sync::{mpsc, watch};

use crate::scripts::{Credentials, Notifier};
use crate::status::{ReloadCounts, Status};
use frontends::Frontends;
use no_accept::NoAccept;
use outer_inputs::{Outer, OuterInputs};
use plan::TrackKey;
pub(crate) use plan::plan;
use sockets::{Inbound, Sockets};
use start_stop::When;
use tracking::TrackEvent;
use vips::Vips;
use virtual_servers::VirtualServers;

/// How long stop waits for queued notify scripts (notify_stop included).
const NOTIFY_DRAIN: std::time::Duration = crate::scripts::NOTIFY_TIMEOUT;

/// Re-reads the configuration on SIGHUP.
pub(crate) type Reload = Box<dyn Fn() -> anyhow::Result<Config> + Send + Sync>;

pub(crate) use control::{query, request};
pub(crate) use host_check::problems as host_problems;
pub(crate) use host_check::shortfalls as host_shortfalls;

/// How often `baton status` sees new L4 counters.
const L4_STATUS_INTERVAL: std::time::Duration = std::time::Duration::from_secs(2);

/// Requests from the control socket waiting for the main loop; they are rare and small.
const CONTROL_QUEUE: usize = 16;

/// Runs until SIGTERM or SIGINT, answering `baton status` and the other commands on the
/// `control` socket and serving metrics and the status page on `admin`.
///
/// Frontends start first, so that a backup already listens (on the VIP it does not hold
/// yet) when VRRP makes it master. On SIGTERM they drain first, while the instances still
/// advertise, and only then do the instances give the VIPs up.
pub(crate) async fn run(
    config: Config,
    reload: Reload,
    control: &Path,
    state_dir: &Path,
    admin: AdminListen,
) -> anyhow::Result<()> {
    let signals = OuterInputs::install_signals()?;

    // keepalived's startup_script: before anything starts, and waited for.
    start_stop::run(&config, When::Startup, default_script_user(&config)?).await;
    let (status, status_rx) = watch::channel(Status::default());
    // The operator's overrides go in with everything they apply to, before it serves or
    // takes part in an election.
    let state = Arc::new(state_file::Store::open(state_dir));
    let restored = state.adopt(&config);
    // The anycast addresses go on lo first: frontends may listen on them.
    let mut anycasts = anycast::Anycasts::new(&config, &restored.anycast_withdrawn).await;
    let mut frontends = Frontends::start(&config, &restored).await?;
    let (l4_notifier, l4_notify_worker) = Notifier::spawn(NOTIFY_DRAIN, None);
    let mut virtual_servers = VirtualServers::start(
        &config,
        l4_notifier,
        default_script_user(&config)?,
        status_rx.clone(),
        &restored,
    )
    .await?;
    // conntrackd for the NAT flows: it follows the instances through the status.
    let sync_status = status_rx.clone();
    let mut conn_sync = conn_sync::ConnSync::start(&config, sync_status.clone(), control);
    let admin_task = match admin {
        AdminListen::At(address) => crate::admin::bind(address).await.map(|listener| {
            let sources = crate::admin::Sources {
                status: status_rx.clone(),
                proxies: frontends.registry(),
                virtual_servers: virtual_servers.registry(),
            };
            crate::admin::spawn(listener, sources)
        }),
        AdminListen::Off => None,
    };
    let (requests_tx, requests) = mpsc::channel(CONTROL_QUEUE);
    let context = control::Context {
        status: status_rx,
        proxies: frontends.registry(),
        virtual_servers: virtual_servers.registry(),
        daemon: requests_tx,
        state: Arc::clone(&state),
    };
    let control_task = control::spawn(control, context)
        .with_context(|| format!("control socket {}", control.display()))?;
    anycasts
        .follow(&config, tracked_services(&frontends, &virtual_servers))
        .await;
    let services = tracked_services(&frontends, &virtual_servers);
    let prepared = Running::prepare(config).await?;
    let mut running = Running::start(prepared, status, services, &restored.stepped_down).await?;
    state.announce(&restored);
    // keepalived's reload_time_file: watched from the start, after the instances.
    let mut schedule = reload_schedule::Monitor::start(&running.config.global);
    systemd::ready();
    let watchdog = systemd::watchdog_interval().map(tokio::time::interval);
    let l4_status = tokio::time::interval(L4_STATUS_INTERVAL);
    let mut outer = OuterInputs::new(signals, requests, watchdog, l4_status);
    // One reload, whether SIGHUP, the reload schedule or the control socket asked for it:
    // the instances, frontends and virtual servers, then what follows their configuration.
    macro_rules! reload_everything {
        () => {{
            let outcome = reload_all(
                &reload,
                &mut running,
                &mut frontends,
                &mut virtual_servers,
                &state,
            )
            .await;
            conn_sync::ConnSync::reload(
                &mut conn_sync,
                &running.config,
                sync_status.clone(),
                control,
            )
            .await;
            anycasts
                .follow(
                    &running.config,
                    tracked_services(&frontends, &virtual_servers),
                )
                .await;
            running.restart_schedule(&mut schedule);
            outcome
        }};
    }
    loop {
        // The outer inputs first: unless one of them was woken that costs a flag, and a
        // flood of adverts cannot keep SIGTERM waiting. The protocol's input is polled on
        // every wake-up.
        let event = tokio::select! {
            biased;
            event = std::future::poll_fn(|cx| outer.poll_next(cx, &mut schedule, &mut virtual_servers)) => event,
            input = running.next_input() => {
                running.handle(input).await;
                if running.take_interface_appeared() {
                    rebuild_on_new_interface(&mut running, &mut frontends, &mut virtual_servers, &state).await;
                }
                // The virtual servers follow the status, which they wait for anew at every
                // poll: a status published is their input.
                if running.take_published() {
                    outer.wake();
                }
                continue;
            }
        };
        match event {
            Outer::Stop => break,
            Outer::Watchdog => systemd::watchdog(),
            Outer::Hangup => {
                let _ = reload_everything!();
            }
            Outer::Schedule(update) => match update {
                reload_schedule::Update::Planned(planned) => running.show_scheduled_reload(planned),
                reload_schedule::Update::Due => {
                    let _ = reload_everything!();
                }
            },
            Outer::Request(request) => match request {
                control::DaemonRequest::Reload { reply } => {
                    let _ = reply.send(reload_everything!());
                }
                control::DaemonRequest::Maintenance {
                    instance,
                    on,
                    reply,
                } => {
                    let _ = reply.send(running.set_maintenance(&instance, on).await);
                }
                control::DaemonRequest::Anycast {
                    name,
                    withdrawn,
                    reply,
                } => {
                    let _ = reply.send(anycasts.hold(&name, withdrawn).await);
                }
                control::DaemonRequest::RealServer {
                    service,
                    address,
                    change,
                    reply,
                } => {
                    let _ = reply.send(virtual_servers.change_server(&service, address, change));
                }
            },
            Outer::VirtualServers => {}
            Outer::L4Status => virtual_servers.refresh_status(),
        }
        // Whatever the event changed (a reload's status, new instances) is seen next time.
        running.take_published();
        outer.wake();
    }
    systemd::stopping();
    // Requests still queued learn that the daemon is stopping.
    outer.close_requests();
    // The shutdown_script of the configuration running now, after everything is released.
    let last = (running.config.clone(), running.notifier.default_user());
    // Behind BGP: the routers stop sending new flows here before anything drains.
    anycasts.withdraw().await;
    switchover::stop(running, frontends).await;
    // After the VIPs went: the peer has the flows in its own conntrackd already.
    if let Some(sync) = conn_sync {
        sync.stop().await;
    }
    virtual_servers.stop().await;
    anycasts.release().await;
    let _ = tokio::time::timeout(NOTIFY_DRAIN, l4_notify_worker).await;
    start_stop::run(&last.0, When::Shutdown, last.1).await;
    control_task.abort();
    let _ = control_task.await;
    if let Some(admin_task) = admin_task {
        admin_task.abort();
    }
    Ok(())
}

/// `dynamic_interfaces`: an interface that was missing came up; the running configuration
/// is applied again, so that its instances get its address and a socket on it.
async fn rebuild_on_new_interface(
    running: &mut Running,
    frontends: &mut Frontends,
    virtual_servers: &mut VirtualServers,
    state: &state_file::Store,
) {
    let config = running.config.clone();
    if let Err(error) = apply(config, running, frontends, virtual_servers, state).await {
        tracing::error!(
            "dynamic_interfaces: building the instances on the new interface failed \
             (a SIGHUP retries): {error:#}"
        );
    }
}

/// SIGHUP and `baton reload`: re-reads the configuration and applies it atomically (see
/// [`apply`]). The outcome is logged, counted in the status, and returned.
async fn reload_all(
    reload: &Reload,
    running: &mut Running,
    frontends: &mut Frontends,
    virtual_servers: &mut VirtualServers,
    state: &state_file::Store,
) -> control::Answer {
    let outcome = reload_outcome(reload, running, frontends, virtual_servers, state).await;
    running.count_reload(outcome.as_ref().ok().copied());
    match outcome {
        Ok(result) => Ok(serde_json::json!({ "ok": true, "reload": result.as_str() })),
        Err(message) => Err(message),
    }
}

/// What a reload that did not fail did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Reloaded {
    Applied,
    Unchanged,
}

impl Reloaded {
    fn as_str(self) -> &'static str {
        match self {
            Reloaded::Applied => "applied",
            Reloaded::Unchanged => "unchanged",
        }
    }
}

async fn reload_outcome(
    reload: &Reload,
    running: &mut Running,
    frontends: &mut Frontends,
    virtual_servers: &mut VirtualServers,
    state: &state_file::Store,
) -> Result<Reloaded, String> {
    // keepalived's reload_file: there while the configuration is read (the running one's).
    let reload_file = running.config.global.reload_file.clone();
    let marker = reload_file.as_deref().map(reload_file::Marker::make);
    let read = reload();
    drop(marker);
    let result = match read {
        // `running.config` is replaced only by a reload that applied, so after a failed one
        // this compares with what really runs.
        Ok(new) if new == running.config => {
            if frontends.renew_certificates() > 0 {
                return Ok(Reloaded::Applied);
            }
            tracing::info!("reload: configuration unchanged, nothing to do");
            running.write_states_on_reload();
            return Ok(Reloaded::Unchanged);
        }
        Ok(new) => {
            systemd::reloading();
            let result = apply(new, running, frontends, virtual_servers, state).await;
            systemd::ready();
            result
        }
        Err(error) => Err(error),
    };
    match result {
        Ok(()) => {
            tracing::info!("reload: done");
            running.write_states_on_reload();
            Ok(Reloaded::Applied)
        }
        Err(error) => {
            let message = format!(
                "reload failed, nothing changed, the running configuration stays: {error:#}"
            );
            tracing::error!("{message}");
            Err(message)
        }
    }
}

/// Applies `new` in two phases. First everything it needs is built and checked while the
/// running configuration runs on untouched: the plan (primary addresses), the VRRP sockets,
/// the tracked objects (interfaces that must exist, script users, track file directories),
/// the frontends' new listeners and certificates, the virtual servers' checkers, DR
/// interfaces and rules; the instances go on advertising meanwhile. Any failure there
/// drops what was built and changes nothing. Then the switch, which cannot fail:
/// frontends, virtual servers, VRRP instances (unchanged ones keep their state, so their
/// VIPs do not move). The operator's overrides (`state`) go to whatever the switch
/// builds anew: a frontend whose listener changed gets a new proxy, which keeps its
/// backend's drained and re-weighted servers.
async fn apply(
    new: Config,
    running: &mut Running,
    frontends: &mut Frontends,
    virtual_servers: &mut VirtualServers,
    state: &state_file::Store,
) -> anyhow::Result<()> {
    let restored = state.for_config(&new);
    // The running instances go on advertising meanwhile: writing the first L4 rules runs
    // `nft`, which may take longer than a backup waits for an advertisement.
    let (vrrp, front, l4) = {
        let prepare = async {
            let vrrp = Running::prepare(new).await?;
            let front = frontends.prepare(&vrrp.config, frontends::Listeners::MustOpen)?;
            let l4 = virtual_servers
                .prepare(&vrrp.config, vrrp.default_user, &restored)
                .await?;
            anyhow::Ok((vrrp, front, l4))
        };
        tokio::pin!(prepare);
        loop {
            tokio::select! {
                prepared = &mut prepare => break prepared?,
                input = running.next_input() => running.handle(input).await,
            }
        }
    };

    frontends.commit(front, &restored);
    virtual_servers.commit(l4);
    // Frontends the new file left alone may still have renewed certificates.
    frontends.renew_certificates();
    let services = tracked_services(frontends, virtual_servers);
    running.switch(vrrp, services).await;
    state.adopt(&running.config);
    Ok(())
}

/// What the protocol loop waits for; see [`Running::next_input`].
enum Input {
    /// The engine's next deadline passed (when tokio's timer stands in for the timerfd;
    /// otherwise [`Running::expire`] takes it where it fired).
    Timer,
    Packet(Inbound),
    /// Adverts and timer expiries the engine took in where `next_input` found them (see
    /// [`Running::absorb`] and [`Running::expire`]), the last of which left output to carry
    /// out or counters to publish, or ended the batch [`ABSORBED_MAX`] allows.
    Absorbed,
    Track(TrackEvent),
    /// A step-down's connections ended (see `step_down`).
    SteppedDown(step_down::Ended),
    /// A datagram on the handoff offer port (see `handoff_offer`).
    Offer(handoff_offer_socket::Datagram),
}

/// A configuration's VRRP side, built and checked but not running: what a reload needs
/// before it may touch the running one. Dropping it closes its sockets.
struct Prepared {
    /// `dynamic_interfaces`: interfaces that did not exist when it was prepared.
    missing: BTreeSet<String>,
    config: Config,
    plan: plan::Plan,
    default_user: Option<Credentials>,
    sockets: Sockets,
    vips: Vips,
    watchers: tracking::Watchers,
    /// `use_vmac` / `use_ipvlan`: the instances' links, made before the sockets open on them.
    links: vmac::Links,
}

impl Prepared {
    /// Starts the watchers.
    fn start(self, services: BTreeMap<TrackKey, tracking::Service>) -> Started {
        let (tracks, tasks) = self.watchers.spawn(services);
        Started {
            links: self.links,
            missing: self.missing,
            config: self.config,
            plan: self.plan,
            default_user: self.default_user,
            sockets: self.sockets,
            vips: self.vips,
            tracks,
            tasks,
        }
    }
}

/// A prepared configuration whose watchers run, for [`Running`] to take.
struct Started {
    links: vmac::Links,
    missing: BTreeSet<String>,
    config: Config,
    plan: plan::Plan,
    default_user: Option<Credentials>,
    sockets: Sockets,
    vips: Vips,
    tracks: mpsc::UnboundedReceiver<TrackEvent>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

/// One configuration, running.
struct Running {
    config: Config,
    router: Router,
    sockets: Sockets,
    vips: Vips,
    /// `no_accept`: the rules that drop traffic to a non-owner master's addresses.
    no_accept: NoAccept,
    /// `use_vmac` / `use_ipvlan` links of this configuration.
    links: vmac::Links,
    /// `garp_extra_if`: the periodic announcements of masters on their other interfaces.
    extra_garps: garp_extra_if::ExtraIfGarps,
    tracks: mpsc::UnboundedReceiver<TrackEvent>,
    notifier: notify::StateNotifier,
    notify_worker: tokio::task::JoinHandle<()>,
    /// Watchers to stop with this configuration.
    tasks: Vec<tokio::task::JoinHandle<()>>,
    /// What `baton status` shows, refreshed after every input.
    status: watch::Sender<Status>,
    /// The states last told to systemd.
    systemd_status: String,
    /// Reloads so far, by outcome, for the status.
    reloads: ReloadCounts,
    /// Instances a reload is removing: their stop is notified as keepalived's DELETED (or
    /// FAULT), not STOP.
    removed: BTreeSet<InstanceId>,
    /// `dynamic_interfaces`: interfaces that did not exist when this configuration was
    /// applied; one of them came up when `interface_appeared` is set.
    missing_interfaces: BTreeSet<String>,
    interface_appeared: bool,
    /// keepalived's `bfd_instance` sessions, kept across reloads.
    bfd: bfd::Bfd,
    /// What each tracked object means when it holds its instance in FAULT, for the status.
    fault_reasons: fault_reasons::FaultReasons,
    /// The instances the last reload stopped and started anew.
    restarted_by_reload: Vec<String>,
    /// Forwarding of the old master's connections after it resigned (see `handoff`).
    handoff: handoff::Handoff,
    /// Resigning masters' offers to take packets back, and their pairing with the
    /// priority 0 (see `handoff_offer`).
    offers: handoff_offer_socket::Listeners,
    pairing: handoff_offer::Pairing,
    /// Instances stepped down that keep their addresses while their connections end.
    step_downs: step_down::StepDowns,
    /// The reload `reload_time_file` schedules, for the status.
    scheduled_reload: Option<crate::status::ScheduledReload>,
    /// When counters held back are published (see `publish_pace`).
    pace: publish_pace::Pace,
    /// The engine's next deadline (or the pace's), which `next_input` waits for.
    deadline: baton_net::Deadline,
    /// The latest time the engine was given with a timer or a packet: a packet's arrival
    /// time is not earlier (see `received`).
    engine_time: Instant,
    /// Track events, step-downs ended and handoff offers: polled only when one of them was
    /// woken, not at every advert (see `woken`).
    others: woken::Woken,
    /// A status was published since [`Running::take_published`] was called last.
    published: bool,
    /// Adverts [`Running::expire`] found no room to send, for `carry_out`.
    held_transmits: VecDeque<(InstanceId, baton_vrrp::Transmit)>,
}

/// A packet read this long after it arrived waited in its socket's queue (see `received`).
const QUEUED: std::time::Duration = std::time::Duration::from_millis(1);

/// Adverts and timer expiries `next_input` hands to the engine in one poll before the
/// loop's other inputs (signals, control requests) get their turn, as when each was an
/// input of its own.
const ABSORBED_MAX: u32 = 8;

impl Running {
    /// Builds and checks everything `config` needs; see [`apply`].
    async fn prepare(config: Config) -> anyhow::Result<Prepared> {
        let missing = dynamic_interfaces::missing(&config);
        if !missing.is_empty() {
            tracing::warn!(
                ?missing,
                "dynamic_interfaces: these interfaces do not exist yet; their instances wait in FAULT until they come up"
            );
        }
        let plan = plan_for(&config, &missing)?;
        let default_user = default_script_user(&config)?;
        let watchers = tracking::prepare(&config, &plan.tracks, default_user)?;
        let mut config = config;
        let links = vmac::Links::prepare(&mut config, &missing).await?;
        let vips = Vips::new(&config).await?;
        let sockets = Sockets::open(&config, &missing).await?;
        Ok(Prepared {
            links,
            missing,
            config,
            plan,
            default_user,
            sockets,
            vips,
            watchers,
        })
    }

    /// Starts the instances; those in `stepped_down` (saved by the operator) start stepped
    /// down, so none of them takes a VIP even for a moment.
    async fn start(
        prepared: Prepared,
        status: watch::Sender<Status>,
        services: BTreeMap<TrackKey, tracking::Service>,
        stepped_down: &BTreeSet<String>,
    ) -> anyhow::Result<Running> {
        let mut bfd = bfd::Bfd::default();
        bfd.apply(&prepared.config)?;
        let mut services = services;
        bfd.add_services(&mut services);
        let started = prepared.start(services);
        let plan = started.plan;
        let fault_reasons = fault_reasons::FaultReasons::of(&plan.tracks);
        let mut router = Router::new(plan.engine_configs, plan.sync_groups)?;
        let delay = started.config.global.startup_delay;
        if !delay.is_zero() {
            // keepalived's vrrp_startup_delay: at the daemon's start only, not on reloads.
            tracing::info!("vrrp_startup_delay: no instance becomes master for {delay:?}");
            router.delay_startup(Instant::now() + delay);
        }
        let (notifier, notify_worker) = Notifier::spawn(NOTIFY_DRAIN, None);
        started.vips.remove_leftovers().await;
        started.vips.start_routing(&started.config).await;
        let no_accept = NoAccept::new(&started.config).await;
        let fifos = notify_fifo::NotifyFifos::open(&started.config.global, started.default_user);
        let mail = smtp_alert::VrrpAlerts::new(smtp_alert::Mailer::start(&started.config.global));
        let handoff = handoff::Handoff::new(&started.config);
        let offers = handoff_offer_socket::Listeners::open(&started.config);
        let deadline = baton_net::Deadline::new().context("creating the protocol timer")?;
        let mut running = Running {
            config: started.config,
            router,
            sockets: started.sockets,
            vips: started.vips,
            no_accept,
            links: started.links,
            extra_garps: garp_extra_if::ExtraIfGarps::default(),
            tracks: started.tracks,
            notifier: notify::StateNotifier::new(notifier, started.default_user, fifos, mail),
            notify_worker,
            tasks: started.tasks,
            status,
            systemd_status: String::new(),
            reloads: ReloadCounts::default(),
            removed: BTreeSet::new(),
            missing_interfaces: started.missing,
            interface_appeared: false,
            bfd,
            restarted_by_reload: Vec::new(),
            handoff,
            offers,
            pairing: handoff_offer::Pairing::default(),
            step_downs: step_down::StepDowns::new(),
            fault_reasons,
            scheduled_reload: None,
            pace: publish_pace::Pace::default(),
            deadline,
            engine_time: Instant::now(),
            others: woken::Woken::new(),
            published: false,
            held_transmits: VecDeque::new(),
        };
        // Initial link and file states arrive as track events before the first step.
        running.apply_pending_tracks();
        let now = Instant::now();
        for name in stepped_down {
            if let Some(id) = running.router.find(name) {
                running.router.set_maintenance(now, id, true);
            }
        }
        running.router.start(now);
        running.drain().await;
        Ok(running)
    }

    /// The switch of a reload, with everything `prepared`: instances whose configuration
    /// did not change keep their state (no VIP moves); changed and removed ones stop with a
    /// priority-0 advert, new and changed ones start. Sockets and watchers are the new ones.
    async fn switch(
        &mut self,
        prepared: Prepared,
        services: BTreeMap<TrackKey, tracking::Service>,
    ) {
        let now = Instant::now();
        let mut restarted = Vec::new();
        let ids: Vec<InstanceId> = self.router.instances().map(|(id, _)| id).collect();
        for id in ids {
            let current = self.router.instance(id).map(|i| i.config().clone());
            let changed = |c: &baton_vrrp::InstanceConfig| {
                !prepared.plan.engine_configs.contains(c)
                    || vmac::relinked(&self.config, &prepared.config, &c.name)
            };
            if let Some(current) = current.filter(changed) {
                let kept = prepared
                    .config
                    .instances
                    .iter()
                    .any(|i| i.name == current.name);
                if !kept {
                    self.removed.insert(id);
                }
                restarted.push(current.name.clone());
                self.router.shutdown_instance(now, id);
            }
        }
        // The goodbyes go out through the old sockets, with the old configuration.
        self.drain().await;
        self.removed.clear();
        tracing::info!(
            stopped = ?restarted,
            "reload: restarting changed and removed instances; unchanged ones keep their state"
        );
        for task in self.tasks.drain(..) {
            task.abort();
        }
        let mut services = services;
        if let Err(error) = self.bfd.apply(&prepared.config) {
            tracing::error!("reload: bfd_instance sessions: {error:#}");
        }
        self.bfd.add_services(&mut services);
        let Started {
            links,
            missing,
            config,
            plan,
            default_user,
            sockets,
            vips,
            tracks,
            tasks,
        } = prepared.start(services);
        self.fault_reasons = fault_reasons::FaultReasons::of(&plan.tracks);
        if default_user != self.notifier.default_user() {
            tracing::info!("reload: script_user changed; scripts run as the new one from now on");
            self.notifier.set_default_user(default_user);
        }
        self.notifier.reopen_fifos(&config);
        // `plan` built a router from these already: the engine cannot refuse them now.
        if let Err(error) = self
            .router
            .reconfigure(plan.engine_configs, plan.sync_groups)
        {
            tracing::error!(
                "reload: the VRRP engine refused a configuration it had accepted: {error}"
            );
        }
        vips.take_over_routing(&self.vips, &self.config, &config)
            .await;
        self.vips = vips;
        self.missing_interfaces = missing;
        self.interface_appeared = false;
        self.config = config;
        self.handoff.reconfigure(&self.config);
        self.offers = handoff_offer_socket::Listeners::open(&self.config);
        self.no_accept.reconfigure(&self.config).await;
        // The old sockets go first: a link may only be removed once nothing reads on it.
        self.sockets = sockets;
        let old_links = std::mem::replace(&mut self.links, links);
        old_links.retire(Some(&self.links)).await;
        self.tracks = tracks;
        self.tasks = tasks;
        // The new receivers have not registered the group's waker yet.
        self.others.wake();
        self.apply_pending_tracks();
        self.router.start(Instant::now());
        self.drain().await;
        self.restarted_by_reload = restarted;
    }

    /// `fifo_write_vrrp_states_on_reload`: the states after a reload that did not fail.
    fn write_states_on_reload(&mut self) {
        let restarted = std::mem::take(&mut self.restarted_by_reload);
        if self.config.global.fifo_write_states_on_reload {
            self.notifier
                .write_states(&self.config, &self.router, &restarted);
        }
    }

    /// `baton instance step-down|resume`: the engine's maintenance input, then its outputs.
    /// The masters stepped down hand their connections over first (see `step_down`).
    async fn set_maintenance(&mut self, instance: &str, on: bool) -> control::Answer {
        let masters: Vec<InstanceId> = self
            .router
            .instances()
            .filter(|(_, engine)| engine.state() == baton_vrrp::State::Master)
            .map(|(id, _)| id)
            .collect();
        let answer = control::set_maintenance(&mut self.router, Instant::now(), instance, on);
        if answer.is_ok() {
            let what = if on { "stepped down" } else { "resumed" };
            tracing::info!(instance, "{what} by the operator");
        }
        for id in masters {
            let resigned = self
                .router
                .instance(id)
                .is_some_and(|engine| engine.state() != baton_vrrp::State::Master);
            if let Some(config) = self.config.instances.get(id.0).filter(|_| resigned) {
                self.step_downs.begin(&self.config, config).await;
            }
        }
        self.drain().await;
        answer
    }

    /// Waits for the next input. Cancel-safe (a timer, socket reads and channel receives
    /// that take nothing they do not return): the loops that select over it with other work
    /// drop it whenever that work comes first.
    /// What the input leads to is [`Running::handle`]'s, which must not be dropped halfway.
    ///
    /// Polled in this order: the rare inputs (track events, step-downs ended, offers) as one
    /// group only when one of them was woken, which costs a flag otherwise; the timer; the
    /// sockets. A flood on the sockets leaves the timer and the rest their turn. Adverts
    /// that only push the engine's timer back ([`Running::absorb`]) and expiries that only
    /// send adverts ([`Running::expire`]) are handled here, up to [`ABSORBED_MAX`] in one
    /// poll, the timer looked at again after each.
    async fn next_input(&mut self) -> Input {
        let mut deadline = self.next_deadline();
        // The timer expired and what was queued meanwhile is being read first (see
        // `Sockets::start_catch_up`): on while the deadline is still due, the timer's turn
        // once the catch-up ends; over if the adverts read moved the deadline on.
        if self.sockets.catching_up() {
            if deadline.is_some_and(|at| at <= Instant::now()) {
                let queued = std::future::poll_fn(|cx| Poll::Ready(self.sockets.poll_queued(cx)));
                return match queued.await {
                    Poll::Ready(packet) => Input::Packet(packet),
                    Poll::Pending => Input::Timer,
                };
            }
            self.sockets.end_catch_up();
        }
        // Re-armed only when the deadline moved (see `baton_net::Deadline`); tokio's timer
        // stands in should the timerfd ever fail.
        let mut standby = None;
        if let Err(error) = self.deadline.set(deadline) {
            tracing::error!("arming the protocol timer: {error}");
            standby = deadline.map(|at| Box::pin(tokio::time::sleep_until(at.into())));
        }
        std::future::poll_fn(|cx| {
            let others = self.others.poll(cx, |cx| {
                // A closed channel (None) never wakes the group again: as a disabled branch.
                if let Poll::Ready(Some(event)) = self.tracks.poll_recv(cx) {
                    return Poll::Ready(Input::Track(event));
                }
                if let Poll::Ready(ended) = pin!(self.step_downs.next_ended()).poll(cx) {
                    return Poll::Ready(Input::SteppedDown(ended));
                }
                pin!(self.offers.next()).poll(cx).map(Input::Offer)
            });
            if others.is_ready() {
                return others;
            }
            let mut absorbed = 0;
            loop {
                let mut expired = false;
                if let (Some(at), None) = (deadline, &standby) {
                    match self.deadline.poll_expired(cx) {
                        Poll::Ready(Ok(())) => expired = true,
                        Poll::Ready(Err(error)) => {
                            tracing::error!("waiting for the protocol timer: {error}");
                            standby = Some(Box::pin(tokio::time::sleep_until(at.into())));
                        }
                        Poll::Pending => {}
                    }
                }
                if let Some(sleep) = &mut standby {
                    expired |= sleep.as_mut().poll(cx).is_ready();
                }
                let handled = if expired {
                    // Adverts queued while this task was not running come before the
                    // timer: a backup that woke late must not take over from a master that
                    // kept advertising (issue 13).
                    self.sockets.start_catch_up();
                    if let Poll::Ready(packet) = self.sockets.poll_queued(cx) {
                        return Poll::Ready(Input::Packet(packet));
                    }
                    if standby.is_some() {
                        return Poll::Ready(Input::Timer);
                    }
                    self.expire()
                } else {
                    let packet = ready!(self.sockets.poll_next(cx));
                    if standby.is_some() {
                        return Poll::Ready(Input::Packet(packet));
                    }
                    self.absorb(packet)
                };
                if let Some(input) = handled {
                    return Poll::Ready(input);
                }
                absorbed += 1;
                if absorbed == ABSORBED_MAX {
                    return Poll::Ready(Input::Absorbed);
                }
                // The advert or the expiry moved the timer: re-armed before the sockets are
                // read again, and looked at as above should it be due already.
                deadline = self.next_deadline();
                if let Err(error) = self.deadline.set(deadline) {
                    tracing::error!("arming the protocol timer: {error}");
                    return Poll::Ready(Input::Absorbed);
                }
            }
        })
        .await
    }

    /// What the protocol timer is set to: the engine's next deadline, or the pace's.
    fn next_deadline(&self) -> Option<Instant> {
        [self.router.poll_timeout(), self.pace.due()]
            .into_iter()
            .flatten()
            .min()
    }

    /// A backup's advert, handed to the engine where it was read, without a trip through
    /// [`Running::handle`] and the loop around it: with adverts every 10 ms that trip was
    /// most of the daemon's work per advert (issue 13, item 5), for an advert that only
    /// pushes the engine's timer back. `None` when that is all it did (the caller re-arms
    /// the timer and reads on); the input that carries the rest out otherwise: the packet
    /// itself when it needs what only `handle` does (a master resigning, for the handoff),
    /// [`Input::Absorbed`] when the engine left output or the counters are due.
    fn absorb(&mut self, packet: Inbound) -> Option<Input> {
        if switchover::resigned_master(&self.router, &packet).is_some() {
            return Some(Input::Packet(packet));
        }
        self.received(packet);
        self.more_to_do()
    }

    /// The timer's input, handled where it fired, as [`Running::absorb`] handles adverts:
    /// what the engine asks to send (a master's advert every interval) is sent at once,
    /// and `None` when that was all. Otherwise [`Input::Absorbed`] for `handle` to carry out
    /// the rest: addresses, events, counters due, or a send that found the buffer full
    /// (held for `carry_out`, which waits for room).
    fn expire(&mut self) -> Option<Input> {
        self.engine_time = Instant::now();
        self.router.handle_timeout(self.engine_time);
        while let Some((id, transmit)) = self.router.poll_transmit() {
            let Some(instance) = self.config.instances.get(id.0) else {
                continue;
            };
            match self.sockets.try_send(instance, &transmit) {
                // Its buffer carries the next advert: a master's adverts allocate nothing.
                Ok(()) => self.router.recycle(id, transmit),
                Err(error) if error.kind() == std::io::ErrorKind::WouldBlock => {
                    self.held_transmits.push_back((id, transmit));
                    return Some(Input::Absorbed);
                }
                Err(error) => {
                    tracing::warn!(instance = %instance.name, dst = %transmit.dst, "sending advertisement: {error:#}");
                }
            }
        }
        self.more_to_do()
    }

    /// After an input handled in `next_input`: [`Input::Absorbed`] if the engine left
    /// output or the counters are due for publication.
    fn more_to_do(&mut self) -> Option<Input> {
        let more = self.router.has_output() || self.pace.counters_changed(self.engine_time);
        more.then_some(Input::Absorbed)
    }

    /// Hands `input` to the engine and carries out what it asks for. Run it to completion
    /// (in a `select!` arm's body, not as a branch): an action taken from the engine and
    /// dropped on the way (a VIP removal awaiting netlink) would be lost, and the VIP stay.
    async fn handle(&mut self, input: Input) {
        // Adverts and timers: what changes counters alone is published at a pace.
        let paced = matches!(input, Input::Timer | Input::Packet(_) | Input::Absorbed);
        match input {
            // The engine has them already (see `absorb`).
            Input::Absorbed => {}
            Input::Timer => {
                self.engine_time = Instant::now();
                self.router.handle_timeout(self.engine_time);
            }
            Input::Packet(packet) => {
                let resigned = switchover::resigned_master(&self.router, &packet);
                self.received(packet);
                // Armed before this host can become master: its takeover (Skew_Time from
                // now) is an input handled after this one. Only with the old master's
                // offer (see `handoff_offer`).
                if let Some(key) = resigned {
                    let old_master = key.2;
                    if let Some(window) = self.pairing.resigned(Instant::now(), key) {
                        self.handoff.arm(old_master, window).await;
                    }
                }
            }
            Input::Track(event) => {
                if self.appeared(&event) {
                    // Built anew by the caller (see `take_interface_appeared`): this
                    // configuration's instance has no address or socket on it.
                    return;
                }
                self.track(event);
                self.apply_pending_tracks();
            }
            Input::SteppedDown(ended) => self.step_downs.finish(ended, &self.vips).await,
            Input::Offer(datagram) => self.offered(&datagram).await,
        }
        if !paced {
            self.drain().await;
            return;
        }
        let reported = self.carry_out().await;
        if reported || self.pace.counters_changed(Instant::now()) {
            self.publish();
        }
    }

    /// A datagram on the offer port: the handoff armed if it pairs with a priority 0;
    /// anything that is not a valid offer from an instance's master counted and dropped.
    async fn offered(&mut self, datagram: &handoff_offer_socket::Datagram) {
        let now = Instant::now();
        match switchover::offered_by_master(
            &self.router,
            &self.config,
            &self.pairing,
            datagram,
            now,
        ) {
            Ok((key, window)) => {
                tracing::debug!(interface = %key.0, vrid = key.1, from = %key.2, "handoff offer received");
                let old_master = key.2;
                if let Some(window) = self.pairing.offered(now, key, window) {
                    self.handoff.arm(old_master, window).await;
                }
            }
            Err(rejected) => {
                self.pairing.rejected += 1;
                tracing::debug!(
                    interface = %datagram.interface,
                    from = %datagram.from,
                    ?rejected,
                    dropped = self.pairing.rejected,
                    "handoff offer: datagram dropped"
                );
            }
        }
    }

    fn received(&mut self, packet: Inbound) {
        let received = baton_vrrp::Received {
            interface: &packet.interface,
            src: packet.src,
            dst: packet.dst,
            ttl: packet.ttl,
        };
        // RFC 5798's timers count from when an advert is received: for one that waited in
        // the queue (the task was not scheduled), the kernel's time (see `sockets`), though
        // never before a time the engine was already given. Only while no instance is
        // Master: a Master answers a lower-priority advert and announces its addresses at
        // most once per advert interval by this time, and adverts queued through a pause,
        // each given its own arrival, would all be answered now, one burst each (the
        // driver cannot tell the engine "received then, answer now"; keepalived counts
        // every advert from when it is read).
        let now = Instant::now();
        let at = match packet.arrived {
            Some(arrived)
                if now.saturating_duration_since(arrived) > QUEUED
                    && !self
                        .router
                        .instances()
                        .any(|(_, engine)| engine.state() == baton_vrrp::State::Master) =>
            {
                arrived.clamp(self.engine_time, now)
            }
            _ => now,
        };
        self.engine_time = at;
        if let Err(dropped) = self.router.handle_packet(at, received, &packet.payload) {
            tracing::debug!(interface = %packet.interface, src = %packet.src, "{dropped}");
        }
        self.sockets.recycle(packet.payload);
    }

    /// Whether `event` is a missing interface (`dynamic_interfaces`) coming up; it is noted.
    fn appeared(&mut self, event: &TrackEvent) -> bool {
        let appeared = matches!(
            &event.object,
            TrackKey::Interface(name) if self.missing_interfaces.contains(name)
        ) && event.status == baton_vrrp::TrackStatus::Up;
        if appeared {
            tracing::info!(object = %event.object, "dynamic_interfaces: came up");
            self.interface_appeared = true;
        }
        appeared
    }

    /// True once after an interface that was missing came up: apply the configuration
    /// again, so that its instances are built on it.
    fn take_interface_appeared(&mut self) -> bool {
        std::mem::take(&mut self.interface_appeared)
    }

    fn track(&mut self, event: TrackEvent) {
        tracing::info!(object = %event.object, status = ?event.status, "tracked object changed");
        self.router.set_track_status(
            Instant::now(),
            event.target.instance,
            event.target.index,
            event.status,
        );
    }

    fn apply_pending_tracks(&mut self) {
        while let Ok(event) = self.tracks.try_recv() {
            self.track(event);
        }
    }

    /// Carries out everything the engine asked for, and publishes the status.
    async fn drain(&mut self) {
        self.carry_out().await;
        self.publish();
    }

    /// Carries out everything the engine asked for; true if it reported a change (an
    /// address to add or remove, an event) rather than adverts alone.
    async fn carry_out(&mut self) -> bool {
        let mut reported = false;
        // What `expire` could not send first, then the engine's queue.
        while let Some((id, transmit)) = self
            .held_transmits
            .pop_front()
            .or_else(|| self.router.poll_transmit())
        {
            if let Some(instance) = self.config.instances.get(id.0) {
                if let Err(error) = self.sockets.send(instance, &transmit).await {
                    tracing::warn!(instance = %instance.name, dst = %transmit.dst, "sending advertisement: {error:#}");
                }
            }
            self.router.recycle(id, transmit);
        }
        while let Some((id, action)) = self.router.poll_action() {
            reported = true;
            if let Some(instance) = self.config.instances.get(id.0) {
                // The rules come before the addresses and go after them, as keepalived's.
                let adding = matches!(action, VipAction::Add { .. });
                if adding {
                    // Master again while a step-down still keeps the addresses quietly.
                    self.step_downs.cancel(&instance.name).await;
                    self.no_accept.apply(instance, &action).await;
                }
                if !self.step_downs.holds(instance, &action) {
                    self.vips.apply(instance, action.clone()).await;
                }
                self.extra_garps.apply(instance, &action);
                if !adding {
                    self.no_accept.apply(instance, &action).await;
                }
            }
        }
        // The additions and announcements of this wake-up, together (see `vips`).
        if self.vips.has_pending() {
            self.vips.flush().await;
        }
        while let Some((id, event)) = self.router.poll_event() {
            reported = true;
            self.event(id, event);
        }
        reported
    }

    /// After any reload: `reload_time_file` is watched anew, as the configuration running
    /// now says (keepalived restarts its watch after every reload and reads the file again).
    fn restart_schedule(&mut self, schedule: &mut reload_schedule::Monitor) {
        schedule.restart(&self.config.global);
        self.show_scheduled_reload(None);
    }

    fn show_scheduled_reload(&mut self, planned: Option<crate::status::ScheduledReload>) {
        self.scheduled_reload = planned;
        self.publish();
    }

    /// Counts a reload (`None`: it failed) and shows it in the status at once.
    fn count_reload(&mut self, outcome: Option<Reloaded>) {
        let counter = match outcome {
            Some(Reloaded::Applied) => &mut self.reloads.applied,
            Some(Reloaded::Unchanged) => &mut self.reloads.unchanged,
            None => &mut self.reloads.failed,
        };
        *counter += 1;
        self.publish();
    }

    /// What `baton status` shows from here: the engine's view and the reload counts.
    fn publish(&mut self) {
        let mut status = Status::of(&self.router);
        status.reloads = self.reloads;
        status.bfd = self.bfd.status();
        self.fault_reasons.fill(&self.router, &mut status);
        status.scheduled_reload = self.scheduled_reload.clone();
        let line = systemd::status_line(&status);
        if line != self.systemd_status {
            systemd::status(&line);
            self.systemd_status = line;
        }
        self.status.send_replace(status);
        self.pace.published(Instant::now());
        self.published = true;
    }

    /// True once after a status was published (see [`Running::publish`]).
    fn take_published(&mut self) -> bool {
        std::mem::take(&mut self.published)
    }

    fn event(&self, id: InstanceId, event: Event) {
        let name = self
            .config
            .instances
            .get(id.0)
            .map_or("?", |i| i.name.as_str());
        match event {
            Event::StateChanged { from, to, reason } => {
                let master = self.router.instance(id).and_then(|i| i.master());
                tracing::info!(
                    instance = name,
                    master = ?master,
                    "{from} -> {to}: {reason}"
                );
                if self.removed.contains(&id) {
                    let priority = self
                        .router
                        .instance(id)
                        .map_or(0, |i| i.effective_priority().get());
                    self.notifier
                        .instance_deleted(&self.config, id, (from, priority));
                } else {
                    self.notifier
                        .instance_changed(&self.config, &self.router, id, to);
                }
            }
            Event::LowerPriorityAdvert { from, priority } => {
                tracing::info!(
                    instance = name,
                    "master heard {from} advertise with lower priority {priority}"
                );
                let priority = self
                    .router
                    .instance(id)
                    .map_or(0, |i| i.effective_priority().get());
                self.notifier
                    .lower_priority_heard(&self.config, id, priority);
            }
            Event::OldUnicastChecksum { from } => {
                // keepalived logs "Setting unicast VRRPv3 checksum to old version".
                tracing::info!(
                    instance = name,
                    "{from} sums its adverts as keepalived before 1.3.6: the old unicast checksum from now on"
                );
            }
            Event::PriorityChanged { from, to } => {
                tracing::info!(instance = name, "effective priority {from} -> {to}");
                self.notifier
                    .priority_changed(&self.config, &self.router, id, to.get());
            }
            _ => {}
        }
    }

    /// Shutdown event for every instance, and the notify scripts that follow. With
    /// `Addresses::Keep` the masters' addresses stay, held for the caller (`switchover`).
    async fn stop(mut self, addresses: switchover::Addresses) -> Option<switchover::Held> {
        self.router.shutdown(Instant::now());
        let keep = addresses == switchover::Addresses::Keep;
        if keep {
            self.vips.hold_removals();
        }
        // A step-down's addresses go with the masters' ones (held with them, or now).
        let stepping_down = self.step_downs.end_all(&self.vips).await;
        if stepping_down && !keep {
            quiet_vips::remove_leftover().await;
        }
        self.drain().await;
        self.handoff.disarm().await;
        if !keep {
            self.vips.stop_routing(&self.config).await;
        }
        self.no_accept.clear().await;
        for task in &self.tasks {
            task.abort();
        }
        std::mem::take(&mut self.links).retire(None).await;
        // The stop's e-mail goes out (bounded); the scripts' worker ends with the notifier.
        self.notifier.close_mail().await;
        let _ = tokio::time::timeout(NOTIFY_DRAIN, self.notify_worker).await;
        keep.then(|| switchover::Held {
            vips: self.vips,
            config: self.config,
        })
    }
}

impl switchover::Instances for Running {
    type Input = Input;

    async fn next_input(&mut self) -> Input {
        Running::next_input(self).await
    }

    async fn handle(&mut self, input: Input) {
        Running::handle(self, input).await;
    }

    fn masters(&self) -> Vec<&baton_config::VrrpInstance> {
        self.router
            .instances()
            .filter(|(_, engine)| engine.state() == baton_vrrp::State::Master)
            .filter_map(|(id, _)| self.config.instances.get(id.0))
            .collect()
    }

    fn stepping_down(&self) -> Vec<&baton_config::VrrpInstance> {
        self.step_downs.instances()
    }

    fn config(&self) -> &Config {
        &self.config
    }

    async fn stop(self, addresses: switchover::Addresses) -> Option<switchover::Held> {
        Running::stop(self, addresses).await
    }
}

/// What instances may track besides interfaces, scripts and files: every frontend's
/// ability to serve and every virtual server's quorum, each with how to wait for its first
/// verdict when it was started just now (see [`tracking::FirstVerdict`]).
fn tracked_services(
    frontends: &Frontends,
    virtual_servers: &VirtualServers,
) -> BTreeMap<TrackKey, tracking::Service> {
    let mut services = BTreeMap::new();
    add_services(
        &mut services,
        TrackKey::Frontend,
        frontends.health(),
        frontends.first_verdicts(),
    );
    add_services(
        &mut services,
        TrackKey::VirtualServer,
        virtual_servers.health(),
        virtual_servers.first_verdicts(),
    );
    services
}

/// One kind of service's health, by name, under `key`, with the first verdicts still due.
fn add_services(
    services: &mut BTreeMap<TrackKey, tracking::Service>,
    key: fn(String) -> TrackKey,
    health: BTreeMap<String, watch::Receiver<bool>>,
    mut first: BTreeMap<String, tracking::FirstVerdict>,
) {
    for (name, up) in health {
        let first = first.remove(&name);
        services.insert(key(name), tracking::Service { first, up });
    }
}

/// Who runs scripts that name no user, by keepalived's rule, with the configuration's
/// script security adopted for every script's next run (see `scripts::configure`).
/// When baton is not root, the scripts that run as another user must be ones the script
/// helper will run: checked here, so that the start or the reload fails with the reason.
fn default_script_user(config: &Config) -> anyhow::Result<Option<Credentials>> {
    let user = crate::scripts::configure(&config.global).context("global script_user")?;
    crate::scripts::check_helper(config, user)?;
    Ok(user)
}

/// The plan for `config`, with primary addresses read from the interfaces, except the
/// `missing` ones (`dynamic_interfaces`), whose instances have none yet.
fn plan_for(config: &Config, missing: &BTreeSet<String>) -> anyhow::Result<plan::Plan> {
    plan(config, |interface, family| {
        if missing.contains(interface) {
            return Ok(dynamic_interfaces::placeholder(family));
        }
        baton_net::primary_address(interface, net_family(family))
            .with_context(|| format!("reading the addresses of {interface}"))
    })
}

fn net_family(family: Family) -> baton_net::Family {
    match family {
        Family::Ipv4 => baton_net::Family::Ipv4,
        Family::Ipv6 => baton_net::Family::Ipv6,
    }
}
