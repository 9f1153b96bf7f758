//! The daemon: drives the VRRP engine with real sockets, netlink and scripts.
//!
//! One protocol task owns the engine. Everything else (socket readers, link watcher,
//! track scripts and files, signals) feeds it through channels, and whatever may take time
//! (gratuitous ARP bursts, notify scripts) runs on tasks of its own, so nothing delays an
//! advertisement.

mod notify;
mod plan;
mod sockets;
mod track_file;
mod tracking;
mod vips;

use std::collections::HashMap;
use std::time::Instant;

use anyhow::Context as _;
use baton_config::{Config, Family};
use baton_vrrp::{Event, InstanceId, Router};
use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::mpsc;

use crate::scripts::{Credentials, Notifier};
pub(crate) use plan::plan;
use sockets::{Inbound, Sockets};
use tracking::TrackEvent;
use vips::Vips;

/// How long stop waits for queued notify scripts (notify_stop included).
const NOTIFY_DRAIN: std::time::Duration = std::time::Duration::from_secs(10);

/// Re-reads the configuration on SIGHUP.
pub(crate) type Reload = Box<dyn Fn() -> anyhow::Result<Config> + Send>;

/// Runs until SIGTERM or SIGINT.
pub(crate) async fn run(config: Config, reload: Reload) -> anyhow::Result<()> {
    let mut terminate = signal(SignalKind::terminate()).context("installing SIGTERM handler")?;
    let mut interrupt = signal(SignalKind::interrupt()).context("installing SIGINT handler")?;
    let mut hangup = signal(SignalKind::hangup()).context("installing SIGHUP handler")?;

    let mut running = Running::start(config).await?;
    loop {
        tokio::select! {
            _ = terminate.recv() => break,
            _ = interrupt.recv() => break,
            _ = hangup.recv() => match reload() {
                Ok(new) if new.without_locations() == running.config.without_locations() => {
                    tracing::info!("reload: configuration unchanged, nothing to do");
                }
                Ok(new) => {
                    tracing::info!("reload: configuration changed, restarting the VRRP instances");
                    running.stop().await;
                    running = Running::start(new).await?;
                }
                Err(error) => tracing::error!("reload failed, keeping the running configuration: {error:#}"),
            },
            () = running.step() => {}
        }
    }
    tracing::info!("stopping: priority 0 advertisements, removing virtual addresses");
    running.stop().await;
    Ok(())
}

/// One configuration, running.
struct Running {
    config: Config,
    router: Router,
    sockets: Sockets,
    inbound: mpsc::Receiver<Inbound>,
    vips: Vips,
    tracks: mpsc::UnboundedReceiver<TrackEvent>,
    notifier: notify::StateNotifier,
    notify_worker: tokio::task::JoinHandle<()>,
    /// Watchers and readers to stop with this configuration.
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Running {
    async fn start(config: Config) -> anyhow::Result<Running> {
        let plan = plan(&config, |interface, family| {
            baton_net::primary_address(interface, net_family(family))
                .with_context(|| format!("reading the addresses of {interface}"))
        })?;
        let default_user = match &config.global.script_user {
            Some(user) => Some(
                Credentials::lookup(&user.user, user.group.as_deref())
                    .context("global script_user")?,
            ),
            None => None,
        };
        let (notifier, notify_worker) = Notifier::spawn(NOTIFY_DRAIN, None);
        let vips = Vips::new(&config).await?;
        vips.remove_leftovers().await;
        let (sockets, inbound, mut tasks) = Sockets::open(&config).await?;
        let (tracks, mut track_tasks) =
            tracking::spawn(&config, &plan.tracks, default_user).await?;
        tasks.append(&mut track_tasks);

        let mut running = Running {
            config,
            router: plan.router,
            sockets,
            inbound,
            vips,
            tracks,
            notifier: notify::StateNotifier::new(notifier, default_user),
            notify_worker,
            tasks,
        };
        // Initial link and file states arrive as track events before the first step.
        running.apply_pending_tracks();
        running.router.start(Instant::now());
        running.drain().await;
        Ok(running)
    }

    /// Waits for the next input and handles it.
    async fn step(&mut self) {
        let deadline = self
            .router
            .poll_timeout()
            .map(tokio::time::Instant::from_std);
        let sleep = async {
            match deadline {
                Some(at) => tokio::time::sleep_until(at).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            () = sleep => self.router.handle_timeout(Instant::now()),
            Some(packet) = self.inbound.recv() => self.received(packet),
            Some(event) = self.tracks.recv() => {
                self.track(event);
                self.apply_pending_tracks();
            }
        }
        self.drain().await;
    }

    fn received(&mut self, packet: Inbound) {
        let received = baton_vrrp::Received {
            interface: &packet.interface,
            src: packet.src,
            dst: packet.dst,
            ttl: packet.ttl,
        };
        if let Err(dropped) = self
            .router
            .handle_packet(Instant::now(), received, &packet.payload)
        {
            tracing::debug!(interface = %packet.interface, src = %packet.src, "{dropped}");
        }
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

    /// Carries out everything the engine asked for.
    async fn drain(&mut self) {
        while let Some((id, transmit)) = self.router.poll_transmit() {
            if let Some(instance) = self.config.instances.get(id.0) {
                if let Err(error) = self.sockets.send(instance, &transmit).await {
                    tracing::warn!(instance = %instance.name, dst = %transmit.dst, "sending advertisement: {error:#}");
                }
            }
        }
        while let Some((id, action)) = self.router.poll_action() {
            if let Some(instance) = self.config.instances.get(id.0) {
                self.vips.apply(instance, action).await;
            }
        }
        while let Some((id, event)) = self.router.poll_event() {
            self.event(id, event);
        }
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
                self.notifier
                    .instance_changed(&self.config, &self.router, id, to);
            }
            Event::PriorityChanged { from, to } => {
                tracing::info!(instance = name, "effective priority {from} -> {to}");
            }
            _ => {}
        }
    }

    /// Shutdown event for every instance, and the notify scripts that follow.
    async fn stop(mut self) {
        self.router.shutdown(Instant::now());
        self.drain().await;
        for task in &self.tasks {
            task.abort();
        }
        drop(self.notifier);
        let _ = tokio::time::timeout(NOTIFY_DRAIN, self.notify_worker).await;
    }
}

fn net_family(family: Family) -> baton_net::Family {
    match family {
        Family::Ipv4 => baton_net::Family::Ipv4,
        Family::Ipv6 => baton_net::Family::Ipv6,
    }
}

/// Instances grouped by the (interface, family) socket they share.
fn socket_keys(config: &Config) -> HashMap<(String, Family), bool> {
    let mut keys = HashMap::new();
    for instance in &config.instances {
        let multicast = instance.unicast_peers.is_empty();
        *keys
            .entry((instance.interface.clone(), instance.family()))
            .or_insert(false) |= multicast;
    }
    keys
}
