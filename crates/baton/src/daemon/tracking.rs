//! Watching tracked objects (interfaces, scripts, files) and turning what they report into
//! engine inputs for every instance that tracks them.

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use anyhow::Context as _;
use baton_config::Config;
use baton_vrrp::TrackStatus;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

use super::link_debounce::{Delays, LinkDebounce};
use super::plan::{TrackKey, TrackTarget};
use super::src_ip_tracking::SourceAddressWatch;
use super::track_file;
use super::track_process::ProcessWatch;
use crate::scripts::{Credentials, Script, TrackScript, spawn_track_script};

/// One report for one instance.
#[derive(Debug, Clone)]
pub(crate) struct TrackEvent {
    pub(crate) object: TrackKey,
    pub(crate) target: TrackTarget,
    pub(crate) status: TrackStatus,
}

/// How often a tracked frontend that has no verdict yet is looked at again.
const FIRST_VERDICT_POLL: Duration = Duration::from_millis(50);

/// A frontend or virtual server as instances track it.
#[derive(Debug)]
pub(crate) struct Service {
    /// True while it can serve.
    pub(crate) up: watch::Receiver<bool>,
    /// Set while its first verdict is still to come (a frontend started just now, whose
    /// servers have not been checked once): see [`FirstVerdict`].
    pub(crate) first: Option<FirstVerdict>,
}

/// A service whose first verdict is still to come. Until it comes, or `within` has passed,
/// the instances that track it hear [`TrackStatus::Unknown`], which keeps them from becoming
/// Master on a guess: `up` is only a guess until then (servers not checked yet count as up),
/// and an instance that took the VIP on it would give it away at the first failed check.
pub(crate) struct FirstVerdict {
    /// True once the verdict is in.
    pub(crate) known: Box<dyn Fn() -> bool + Send + Sync>,
    /// The longest the instances wait for it.
    pub(crate) within: Duration,
}

impl fmt::Debug for FirstVerdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FirstVerdict")
            .field("known", &(self.known)())
            .field("within", &self.within)
            .finish()
    }
}

/// Every watcher of one configuration, ready to start: building it ([`prepare`]) looks up
/// and checks everything a watcher needs, so that a reload fails before it changes anything.
#[derive(Debug)]
pub(crate) struct Watchers {
    events: mpsc::UnboundedSender<TrackEvent>,
    receiver: mpsc::UnboundedReceiver<TrackEvent>,
    /// Tracked interfaces (their states already sent) and the watcher of their changes.
    interfaces: BTreeMap<String, Vec<TrackTarget>>,
    link_watcher: Option<baton_net::LinkWatcher>,
    /// `interface_up_down_delays`, applied to what the link watcher reports.
    link_debounce: LinkDebounce,
    scripts: Vec<(TrackKey, Vec<TrackTarget>, TrackScript)>,
    files: Vec<(TrackKey, Vec<TrackTarget>, baton_config::TrackFile)>,
    services: Vec<(TrackKey, Vec<TrackTarget>)>,
    /// Tracked processes (their quorums already sent), counted and subscribed.
    processes: Option<ProcessWatch>,
    /// `track_src_ip` addresses (where they are already sent), subscribed.
    source_addresses: Option<SourceAddressWatch>,
}

/// Looks up everything the watchers of `config` need, changing nothing: every tracked
/// interface must exist on this host (its state is read now), every script's user must
/// exist, every track file's directory must exist. Fails on the first that does not.
pub(crate) fn prepare(
    config: &Config,
    tracks: &BTreeMap<TrackKey, Vec<TrackTarget>>,
    default_user: Option<Credentials>,
) -> anyhow::Result<Watchers> {
    let (events, receiver) = mpsc::unbounded_channel();
    let mut watchers = Watchers {
        events,
        receiver,
        interfaces: BTreeMap::new(),
        link_watcher: None,
        link_debounce: LinkDebounce::default(),
        scripts: Vec::new(),
        files: Vec::new(),
        services: Vec::new(),
        processes: None,
        source_addresses: None,
    };
    let mut processes = Vec::new();
    let mut source_addresses = Vec::new();
    if tracks
        .keys()
        .any(|key| matches!(key, TrackKey::Interface(_)))
    {
        // Subscribed before the states are read, so no change falls between the two.
        watchers.link_watcher =
            Some(baton_net::LinkWatcher::new().context("subscribing to link events")?);
    }
    for (key, targets) in tracks {
        match key {
            TrackKey::Interface(name) => {
                // dynamic_interfaces: one that does not exist yet is down until it comes up.
                let up = match baton_net::link_is_up(name) {
                    Err(baton_net::Error::NoSuchInterface { .. })
                        if config.global.dynamic_interfaces =>
                    {
                        false
                    }
                    other => other.with_context(|| format!("tracked interface {name}"))?,
                };
                send_all(&watchers.events, key, targets, TrackStatus::from(up));
                watchers.interfaces.insert(name.clone(), targets.clone());
            }
            TrackKey::Script(name) => {
                let script = track_script(config, name, default_user)?;
                watchers
                    .scripts
                    .push((key.clone(), targets.clone(), script));
            }
            TrackKey::File(name) => {
                let file = config
                    .track_file(name)
                    .with_context(|| format!("unknown track file {name}"))?;
                check_track_file_directory(file)?;
                watchers
                    .files
                    .push((key.clone(), targets.clone(), file.clone()));
            }
            TrackKey::Frontend(_) | TrackKey::VirtualServer(_) | TrackKey::Bfd(_) => {
                watchers.services.push((key.clone(), targets.clone()));
            }
            TrackKey::Process(_) => processes.push((key.clone(), targets.clone())),
            TrackKey::SourceAddress { .. } => {
                source_addresses.push((key.clone(), targets.clone()));
            }
        }
    }
    if !source_addresses.is_empty() {
        let mut report = per_target_report(watchers.events.clone());
        let watch = SourceAddressWatch::prepare(source_addresses, &mut report)?;
        watchers.source_addresses = Some(watch);
    }
    if !processes.is_empty() {
        let watch = ProcessWatch::prepare(config, processes)?;
        watch.initial(&mut per_target_report(watchers.events.clone()));
        watchers.processes = Some(watch);
    }
    let delays = config.global.link_delays.iter().map(|d| {
        let delays = Delays {
            down: d.down,
            up: d.up,
        };
        (d.interface.clone(), delays)
    });
    // A link that cannot be read counts as never up: nothing is delayed before it is.
    watchers.link_debounce =
        LinkDebounce::new(delays, |name| baton_net::link_is_up(name).unwrap_or(false));
    Ok(watchers)
}

/// The `vrrp_script` `name` of `config`, ready to run as `default_user` unless it names its
/// own. Vetted now, so a script that script security refuses fails the start or the reload
/// with its reason, instead of counting as a failing check that lowers the priority
/// (keepalived disables such a script).
pub(crate) fn track_script(
    config: &Config,
    name: &str,
    default_user: Option<Credentials>,
) -> anyhow::Result<TrackScript> {
    let script = config
        .script(name)
        .with_context(|| format!("unknown script {name}"))?;
    let credentials = match &script.user {
        Some(user) => Some(
            Credentials::lookup(&user.user, user.group.as_deref())
                .with_context(|| format!("vrrp_script {name}: user"))?,
        ),
        None => default_user,
    };
    let runnable = Script::new(script.argv.clone(), credentials);
    if let Some(program) = script.argv.first() {
        runnable
            .permitted(program)
            .map_err(|refused| anyhow::anyhow!("vrrp_script {name}: {refused}"))?;
    }
    Ok(TrackScript {
        name: name.to_owned(),
        script: runnable,
        interval: script.interval,
        timeout: Some(script.timeout),
        rise: script.rise,
        fall: script.fall,
        initially_up: !script.init_fail,
    })
}

/// A track file in a directory that does not exist is a typo: it would read as a failure
/// forever (and its `init_file` could not be written), so it is refused instead.
pub(crate) fn check_track_file_directory(file: &baton_config::TrackFile) -> anyhow::Result<()> {
    let directory = match file.path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => std::path::Path::new("."),
    };
    if !directory.is_dir() {
        anyhow::bail!(
            "track_file {}: directory {} does not exist",
            file.name,
            directory.display()
        );
    }
    Ok(())
}

impl Watchers {
    /// Starts a watcher per object; what `prepare` checked cannot fail here. Interfaces and
    /// services report their current state at once, so the instances start in FAULT when
    /// their link is already down. `services` has each running frontend's ability to serve
    /// and each virtual server's quorum, by their track keys.
    pub(crate) fn spawn(
        self,
        services: BTreeMap<TrackKey, Service>,
    ) -> (mpsc::UnboundedReceiver<TrackEvent>, Vec<JoinHandle<()>>) {
        let Watchers {
            events,
            receiver,
            interfaces,
            link_watcher,
            mut link_debounce,
            scripts,
            files,
            services: tracked,
            processes,
            source_addresses,
        } = self;
        let mut services = services;
        let mut tasks = Vec::new();
        for (key, targets, script) in scripts {
            let (tx, mut rx) = mpsc::unbounded_channel();
            tasks.push(spawn_track_script(script, tx));
            let events = events.clone();
            tasks.push(tokio::spawn(async move {
                while let Some(update) = rx.recv().await {
                    tracing::info!(script = %update.name, up = update.up, outcome = %update.outcome, "track script");
                    send_all(&events, &key, &targets, TrackStatus::from(update.up));
                }
            }));
        }
        for (key, targets, file) in files {
            track_file::write_init_file(&file);
            let (tx, mut rx) = mpsc::unbounded_channel();
            tasks.push(track_file::spawn_watch(file.path.clone(), tx));
            let events = events.clone();
            tasks.push(tokio::spawn(async move {
                while let Some(contents) = rx.recv().await {
                    for target in &targets {
                        let status =
                            track_file::status(contents.as_deref(), target.weight, target.reverse);
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
        for (key, targets) in tracked {
            let Some(service) = services.remove(&key) else {
                // The configuration checks that tracked frontends and virtual servers exist.
                tracing::error!("{key} is tracked but not running; it counts as down");
                send_all(&events, &key, &targets, TrackStatus::Down);
                continue;
            };
            tasks.push(follow_service(&events, key, targets, service));
        }
        if let Some(watch) = processes {
            tasks.push(watch.spawn(Box::new(per_target_report(events.clone()))));
        }
        if let Some(watch) = source_addresses {
            tasks.push(watch.spawn(Box::new(per_target_report(events.clone()))));
        }
        if let Some(mut watcher) = link_watcher {
            let events = events.clone();
            tasks.push(tokio::spawn(async move {
                loop {
                    let deadline = link_debounce.next_deadline();
                    let delay_over = async {
                        match deadline {
                            Some(at) => tokio::time::sleep_until(at.into()).await,
                            None => std::future::pending().await,
                        }
                    };
                    let changes = tokio::select! {
                        event = watcher.next() => {
                            let Some((name, up)) = event else { break };
                            let now = std::time::Instant::now();
                            let change = link_debounce.changed(&name, up, now);
                            if change.is_none() {
                                tracing::debug!(interface = %name, up, "no link change to report (interface_up_down_delays may hold it back)");
                            }
                            change.map(|up| (name, up)).into_iter().collect()
                        }
                        () = delay_over => link_debounce.expired(std::time::Instant::now()),
                    };
                    for (name, up) in changes {
                        if let Some(targets) = interfaces.get(&name) {
                            send_all(
                                &events,
                                &TrackKey::Interface(name.clone()),
                                targets,
                                TrackStatus::from(up),
                            );
                        }
                    }
                }
            }));
        }
        (receiver, tasks)
    }
}

/// Reports `service` to `targets`: its state now (or Unknown while its first verdict is
/// to come, for at most [`FirstVerdict::within`]), then every change.
fn follow_service(
    events: &mpsc::UnboundedSender<TrackEvent>,
    key: TrackKey,
    targets: Vec<TrackTarget>,
    service: Service,
) -> JoinHandle<()> {
    let Service {
        up: mut serving,
        first,
    } = service;
    let first = first.filter(|first| !(first.known)());
    match &first {
        Some(first) => {
            tracing::info!(object = %key, within = ?first.within, "no verdict yet: tracking instances wait for it before they may become master");
            send_all(events, &key, &targets, TrackStatus::Unknown);
        }
        // Now, like interfaces, so the first step already knows.
        None => {
            let up = *serving.borrow_and_update();
            send_all(events, &key, &targets, TrackStatus::from(up));
        }
    }
    let events = events.clone();
    tokio::spawn(async move {
        if let Some(first) = first {
            let deadline = tokio::time::Instant::now() + first.within;
            while !(first.known)() && tokio::time::Instant::now() < deadline {
                tokio::time::sleep(FIRST_VERDICT_POLL).await;
            }
            if !(first.known)() {
                tracing::warn!(object = %key, within = ?first.within, "no verdict in time: going by the current state");
            }
            let up = *serving.borrow_and_update();
            send_all(&events, &key, &targets, TrackStatus::from(up));
        }
        while serving.changed().await.is_ok() {
            let up = *serving.borrow_and_update();
            send_all(&events, &key, &targets, TrackStatus::from(up));
        }
    })
}

/// Reports already made per target: a tracked process's (its watcher applies `reverse`)
/// and a source address's.
fn per_target_report(
    events: mpsc::UnboundedSender<TrackEvent>,
) -> impl FnMut(&TrackKey, TrackTarget, bool) + Send {
    move |key, target, up| {
        let _ = events.send(TrackEvent {
            object: key.clone(),
            target,
            status: TrackStatus::from(up),
        });
    }
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
            status: reversed(status, target.reverse),
        });
    }
}

/// keepalived's `reverse`: up counts as down and down as up for this target, whose engine
/// weight is already negated (see `baton_config::Track::reverse`).
fn reversed(status: TrackStatus, reverse: bool) -> TrackStatus {
    match status {
        TrackStatus::Up if reverse => TrackStatus::Down,
        TrackStatus::Down if reverse => TrackStatus::Up,
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An interface this host has other than the loopback (which VRRP cannot use), for an
    /// instance the watchers are prepared for.
    fn a_link() -> String {
        std::fs::read_dir("/sys/class/net")
            .expect("/sys/class/net")
            .filter_map(|entry| entry.ok()?.file_name().into_string().ok())
            .find(|name| name != "lo")
            .expect("a network interface besides lo")
    }

    fn config(tracks: &str, top: &str) -> Config {
        let link = a_link();
        let text = format!(
            "{top}vrrp_instance VI_1 {{\n    interface {link}\n    virtual_router_id 51\n    \
             priority 100\n    unicast_src_ip 127.0.0.1\n{tracks}    virtual_ipaddress {{\n        \
             10.0.3.100/24\n    }}\n}}\n"
        );
        baton_config::parse_keepalived(&text, "test.conf")
            .expect("valid")
            .config
    }

    fn prepared(config: &Config) -> anyhow::Result<Watchers> {
        let plan = super::super::plan::plan(config, |_, _| Ok("127.0.0.1".parse()?))?;
        prepare(config, &plan.tracks, None)
    }

    #[tokio::test]
    async fn what_a_watcher_needs_is_checked_before_anything_starts() {
        let cases = [
            ("    track_interface {\n        eht0\n    }\n", "", "eht0"),
            (
                "    track_script {\n        chk\n    }\n",
                "vrrp_script chk {\n    script \"/bin/true\"\n    user baton-no-such-user\n}\n",
                "baton-no-such-user",
            ),
            (
                "    track_file {\n        state\n    }\n",
                "track_file state {\n    file \"/baton-no-such-dir/state\"\n}\n",
                "/baton-no-such-dir",
            ),
            (
                "    track_script {\n        chk\n    }\n",
                "vrrp_script chk {\n    script \"/baton-no-such-dir/check\"\n}\n",
                "vrrp_script chk",
            ),
        ];
        for (tracks, top, expected) in cases {
            let error = prepared(&config(tracks, top)).expect_err(expected);
            assert!(format!("{error:#}").contains(expected), "{error:#}");
        }
        // The loopback exists everywhere, /tmp too.
        let good = config(
            "    track_interface {\n        lo\n    }\n    track_file {\n        state\n    }\n",
            "track_file state {\n    file \"/tmp/baton-state\"\n}\n",
        );
        prepared(&good).expect("prepared");
    }
}
