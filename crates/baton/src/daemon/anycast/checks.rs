//! The `vrrp_script`s and `track_file`s `[[anycast]]` sections track: run and read as for
//! VRRP instances (the same definitions, rise and fall, `init_fail`, `init_file`), their
//! states kept by name for the evaluation, which a change wakes.
//!
//! No weights: an announcement has no priority to lower, so a failing script, or a file
//! that reads anything but 0 (keepalived's weight 0) or cannot be read, withdraws.
//! Everything here runs on tasks (scripts as child processes, files read by tokio): nothing
//! blocks the thread the protocol loop shares.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};

use baton_config::{Anycast, AnycastTracked as Tracked, Config};
use baton_vrrp::TrackStatus;
use tokio::sync::{Notify, mpsc};
use tokio::task::JoinHandle;

use super::decision::Health;
use crate::daemon::{track_file, tracking};
use crate::scripts::{Credentials, spawn_track_script};

/// Each tracked script's and file's state, by what `baton status` calls it
/// (`script chk_web`, `file maint`).
pub(super) type States = Arc<Mutex<BTreeMap<String, Health>>>;

/// The checks `sections` track, running until the tasks are aborted.
pub(super) struct Checks {
    pub(super) states: States,
    pub(super) tasks: Vec<JoinHandle<()>>,
}

/// Starts every script and file watcher `sections` name. One that cannot start (its user
/// is gone, script security refuses it, its directory does not exist) is logged and counts
/// as down: the configuration was checked, so this is the host changing under it.
pub(super) fn spawn(
    config: &Config,
    sections: &[Anycast],
    default_user: Option<Credentials>,
    changed: &Arc<Notify>,
) -> Checks {
    let states: States = Arc::default();
    let mut tasks = Vec::new();
    for name in names(sections, |s| &s.track_scripts) {
        let key = script_key(name);
        let script = match tracking::track_script(config, name, default_user) {
            Ok(script) => script,
            Err(error) => {
                tracing::error!("anycast: {error:#}; it counts as failing");
                set(&states, &key, Health::Down);
                continue;
            }
        };
        // As for instances: up (unless init_fail) until `fall` runs have failed.
        set(&states, &key, health(script.initially_up));
        let (tx, mut rx) = mpsc::unbounded_channel();
        tasks.push(spawn_track_script(script, tx));
        let (states, changed) = (Arc::clone(&states), Arc::clone(changed));
        tasks.push(tokio::spawn(async move {
            while let Some(update) = rx.recv().await {
                tracing::info!(script = %update.name, up = update.up, outcome = %update.outcome, "anycast: track script");
                set(&states, &key, health(update.up));
                changed.notify_one();
            }
        }));
    }
    for name in names(sections, |s| &s.track_files) {
        let key = file_key(name);
        let Some(file) = config.track_file(name) else {
            set(&states, &key, Health::Down);
            continue;
        };
        if let Err(error) = tracking::check_track_file_directory(file) {
            tracing::error!("anycast: {error:#}; it counts as failing");
            set(&states, &key, Health::Down);
            continue;
        }
        track_file::write_init_file(file);
        // Until the first read, which comes at once: no announcement on a guess.
        set(&states, &key, Health::Pending);
        let (tx, mut rx) = mpsc::unbounded_channel();
        tasks.push(track_file::spawn_watch(file.path.clone(), tx));
        let (states, changed) = (Arc::clone(&states), Arc::clone(changed));
        tasks.push(tokio::spawn(async move {
            while let Some(contents) = rx.recv().await {
                let up = track_file::status(contents.as_deref(), 0, false) == TrackStatus::Up;
                set(&states, &key, health(up));
                changed.notify_one();
            }
        }));
    }
    Checks { states, tasks }
}

/// The scripts and files `section` tracks, as seen now.
pub(super) fn of(section: &Anycast, states: &States) -> Vec<(String, Health)> {
    let states = states.lock().unwrap_or_else(|e| e.into_inner());
    let scripts = section.track_scripts.iter().map(|t| script_key(&t.name));
    let files = section.track_files.iter().map(|t| file_key(&t.name));
    scripts
        .chain(files)
        .map(|key| {
            let health = states.get(&key).copied().unwrap_or(Health::Down);
            (key, health)
        })
        .collect()
}

/// Every name `list` has in some section, once.
fn names(sections: &[Anycast], list: fn(&Anycast) -> &Vec<Tracked>) -> BTreeSet<&str> {
    sections
        .iter()
        .flat_map(list)
        .map(|t| t.name.as_str())
        .collect()
}

fn script_key(name: &str) -> String {
    format!("script {name}")
}

fn file_key(name: &str) -> String {
    format!("file {name}")
}

fn health(up: bool) -> Health {
    if up { Health::Up } else { Health::Down }
}

fn set(states: &States, key: &str, health: Health) {
    states
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .insert(key.to_owned(), health);
}
