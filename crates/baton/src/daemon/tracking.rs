//! Watching tracked objects (interfaces, scripts, files) and turning what they report into
//! engine inputs for every instance that tracks them.

use std::collections::BTreeMap;
use std::fmt;

use anyhow::Context as _;
use baton_config::Config;
use baton_vrrp::TrackStatus;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

use super::plan::{TrackKey, TrackTarget};
use super::track_file;
use crate::scripts::{Credentials, Script, TrackScript, spawn_track_script};

/// One report for one instance.
#[derive(Debug, Clone)]
pub(crate) struct TrackEvent {
    pub(crate) object: TrackKey,
    pub(crate) target: TrackTarget,
    pub(crate) status: TrackStatus,
}

impl fmt::Display for TrackKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TrackKey::Interface(name) => write!(f, "interface {name}"),
            TrackKey::Script(name) => write!(f, "script {name}"),
            TrackKey::File(name) => write!(f, "file {name}"),
            TrackKey::Frontend(name) => write!(f, "frontend {name}"),
            TrackKey::VirtualServer(name) => write!(f, "virtual server {name}"),
        }
    }
}

/// Starts a watcher per object. Interfaces and frontends report their current state at
/// once, so the instances start in FAULT when their link is already down.
/// `services` has each running frontend's ability to serve and each virtual server's
/// quorum, by their track keys.
pub(crate) async fn spawn(
    config: &Config,
    tracks: &BTreeMap<TrackKey, Vec<TrackTarget>>,
    default_user: Option<Credentials>,
    services: &BTreeMap<TrackKey, watch::Receiver<bool>>,
) -> anyhow::Result<(mpsc::UnboundedReceiver<TrackEvent>, Vec<JoinHandle<()>>)> {
    let (events, receiver) = mpsc::unbounded_channel();
    let mut tasks = Vec::new();
    let mut interfaces = BTreeMap::new();
    for (key, targets) in tracks {
        match key {
            TrackKey::Interface(name) => {
                let up =
                    baton_net::link_is_up(name).with_context(|| format!("interface {name}"))?;
                send_all(&events, key, targets, TrackStatus::from(up));
                interfaces.insert(name.clone(), targets.clone());
            }
            TrackKey::Script(name) => {
                let script = config
                    .script(name)
                    .with_context(|| format!("unknown script {name}"))?;
                let credentials = match &script.user {
                    Some(user) => Some(Credentials::lookup(&user.user, user.group.as_deref())?),
                    None => default_user,
                };
                let (tx, mut rx) = mpsc::unbounded_channel();
                tasks.push(spawn_track_script(
                    TrackScript {
                        name: name.clone(),
                        script: Script::new(script.argv.clone(), credentials),
                        interval: script.interval,
                        timeout: Some(script.timeout),
                        rise: script.rise,
                        fall: script.fall,
                        initially_up: !script.init_fail,
                    },
                    tx,
                ));
                let (events, key, targets) = (events.clone(), key.clone(), targets.clone());
                tasks.push(tokio::spawn(async move {
                    while let Some(update) = rx.recv().await {
                        tracing::info!(script = %update.name, up = update.up, outcome = %update.outcome, "track script");
                        send_all(&events, &key, &targets, TrackStatus::from(update.up));
                    }
                }));
            }
            TrackKey::Frontend(_) | TrackKey::VirtualServer(_) => {
                let mut serving = services
                    .get(key)
                    .cloned()
                    .with_context(|| format!("unknown {key}"))?;
                // Now, like interfaces, so the first step already knows; then every change.
                let up = *serving.borrow_and_update();
                send_all(&events, key, targets, TrackStatus::from(up));
                let (events, key, targets) = (events.clone(), key.clone(), targets.clone());
                tasks.push(tokio::spawn(async move {
                    while serving.changed().await.is_ok() {
                        let up = *serving.borrow_and_update();
                        send_all(&events, &key, &targets, TrackStatus::from(up));
                    }
                }));
            }
            TrackKey::File(name) => {
                let file = config
                    .track_file(name)
                    .with_context(|| format!("unknown track file {name}"))?;
                if let Some(init) = file.init_file {
                    if init.overwrite || !file.path.exists() {
                        std::fs::write(&file.path, format!("{}\n", init.value))
                            .with_context(|| format!("init_file {}", file.path.display()))?;
                    }
                }
                let (tx, mut rx) = mpsc::unbounded_channel();
                tasks.push(track_file::spawn_watch(file.path.clone(), tx));
                let (events, key, targets) = (events.clone(), key.clone(), targets.clone());
                tasks.push(tokio::spawn(async move {
                    while let Some(contents) = rx.recv().await {
                        for target in &targets {
                            let status = track_file::status(contents.as_deref(), target.weight);
                            let event = TrackEvent {
                                object: key.clone(),
                                target: *target,
                                status,
                            };
                            let _ = events.send(event);
                        }
                    }
                }));
            }
        }
    }
    if !interfaces.is_empty() {
        let mut watcher = baton_net::LinkWatcher::new().context("subscribing to link events")?;
        let events = events.clone();
        tasks.push(tokio::spawn(async move {
            while let Some((name, up)) = watcher.next().await {
                if let Some(targets) = interfaces.get(&name) {
                    send_all(
                        &events,
                        &TrackKey::Interface(name.clone()),
                        targets,
                        TrackStatus::from(up),
                    );
                }
            }
        }));
    }
    Ok((receiver, tasks))
}

fn send_all(
    events: &mpsc::UnboundedSender<TrackEvent>,
    key: &TrackKey,
    targets: &[TrackTarget],
    status: TrackStatus,
) {
    for target in targets {
        let _ = events.send(TrackEvent {
            object: key.clone(),
            target: *target,
            status,
        });
    }
}
