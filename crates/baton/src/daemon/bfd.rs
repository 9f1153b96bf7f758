//! keepalived's `bfd_instance`: BFD sessions (RFC 5880/5881) to neighbours, whose state VRRP
//! instances track (`track_bfd`) like any other tracked object.
//!
//! The sessions run on one task of their own (see [`driver`]), which owns the UDP sockets
//! and the sans-IO [`baton_bfd::Session`]s; each session's state reaches the tracking as a
//! `watch` of "is Up". They live across reloads: a reload that leaves a `bfd_instance`
//! unchanged leaves its session alone (keepalived keeps the state too), so the peer sees no
//! flap; a changed one starts over, a removed one stops.

mod driver;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use baton_config::{BfdInstance, Config};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

use super::plan::TrackKey;
use super::tracking::Service;
use crate::bfd_status::SessionStatus;
use driver::Command;

/// The running sessions. Nothing runs (and port 3784 stays free) without a `bfd_instance`.
#[derive(Debug, Default)]
pub(crate) struct Bfd {
    sessions: BTreeMap<String, Running>,
    driver: Option<Driver>,
}

#[derive(Debug)]
struct Running {
    /// Compared on reload, but for its location.
    config: BfdInstance,
    up: watch::Receiver<bool>,
}

#[derive(Debug)]
struct Driver {
    commands: mpsc::UnboundedSender<Command>,
    status: Arc<Mutex<BTreeMap<String, SessionStatus>>>,
    task: JoinHandle<()>,
}

impl Drop for Driver {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Bfd {
    /// Makes the sessions those of `config`. Fails only when the listener cannot be opened
    /// (port 3784 taken), before anything changed.
    pub(crate) fn apply(&mut self, config: &Config) -> anyhow::Result<()> {
        if self.driver.is_none() && !config.bfd_instances.is_empty() {
            self.driver = Some(driver::spawn()?);
        }
        let wanted: BTreeMap<String, BfdInstance> = config
            .bfd_instances
            .iter()
            .map(|b| (b.name.clone(), b.clone()))
            .collect();
        let Some(driver) = &self.driver else {
            return Ok(());
        };
        let stale: Vec<String> = self
            .sessions
            .iter()
            .filter(|(name, running)| !wanted.get(*name).is_some_and(|new| *new == running.config))
            .map(|(name, _)| name.clone())
            .collect();
        for name in stale {
            self.sessions.remove(&name);
            let _ = driver.commands.send(Command::Stop(name));
        }
        for (name, instance) in wanted {
            if self.sessions.contains_key(&name) {
                continue;
            }
            let (up_tx, up) = watch::channel(false);
            let _ = driver
                .commands
                .send(Command::Start(instance.clone(), up_tx));
            self.sessions.insert(
                name,
                Running {
                    config: instance,
                    up,
                },
            );
        }
        Ok(())
    }

    /// Each session as a tracked service: up while the session is Up.
    pub(crate) fn add_services(&self, services: &mut BTreeMap<TrackKey, Service>) {
        for (name, running) in &self.sessions {
            services.insert(
                TrackKey::Bfd(name.clone()),
                Service {
                    up: running.up.clone(),
                    first: None,
                },
            );
        }
    }

    /// Every session's state and counters, by name.
    pub(crate) fn status(&self) -> Vec<SessionStatus> {
        self.driver
            .as_ref()
            .and_then(|d| d.status.lock().ok().map(|s| s.values().cloned().collect()))
            .unwrap_or_default()
    }
}
