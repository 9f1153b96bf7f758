//! keepalived's `vrrp_track_process` in the daemon: the processes running at start are
//! counted from /proc, then the kernel's process events connector (fork, exec, comm, exit)
//! keeps the counts, and each quorum gained or lost goes to the instances that track it.
//!
//! The connector needs CAP_NET_ADMIN and the initial user and PID namespaces (and, from
//! inside a network namespace, CAP_SYS_ADMIN to make the socket in the initial one: see
//! `baton_net::ProcEvents`). Without it keepalived tracks nothing (its processes never
//! reach a quorum); baton says why in its log and reads /proc every second instead, so
//! tracking works, a little later and at the cost of the reads.

mod matching;
mod proc_fs;
mod processes;
#[cfg(test)]
mod tests;

use std::time::{Duration, Instant};

use anyhow::Context as _;
use baton_config::Config;
use baton_net::{ProcEvent, ProcEvents};
use tokio::task::JoinHandle;

use self::matching::Pattern;
use self::proc_fs::Needs;
use self::processes::{Processes, Rule};
use super::plan::{TrackKey, TrackTarget};

/// How often /proc is read without the connector.
const POLL: Duration = Duration::from_secs(1);
/// keepalived waits this long after lost events before it counts again.
const SETTLE_AFTER_LOSS: Duration = Duration::from_secs(1);

/// Where changes come from.
#[derive(Debug)]
enum Source {
    Events(ProcEvents),
    /// No connector: /proc is read every [`POLL`].
    Poll,
}

/// The tracked processes of one configuration, counted and subscribed, ready to run.
#[derive(Debug)]
pub(crate) struct ProcessWatch {
    processes: Processes,
    /// By rule (the index of [`Processes`]).
    rules: Vec<Tracked>,
    needs: Needs,
    source: Source,
}

/// One `vrrp_track_process` and who to tell.
#[derive(Debug)]
struct Tracked {
    name: String,
    key: TrackKey,
    /// With whether that instance tracks it reversed.
    targets: Vec<(TrackTarget, bool)>,
}

/// Reports to one target whether the object is up for it: the quorum, inverted where the
/// target tracks it reversed (keepalived's `weight W reverse`, whose weight the engine
/// already has negated).
pub(crate) type Report = dyn FnMut(&TrackKey, TrackTarget, bool) + Send;

impl ProcessWatch {
    /// Subscribes to process events (else settles for reading /proc, with a warning), then
    /// counts the processes running now. `tracked` are the `TrackKey::Process` keys of the
    /// plan with their targets.
    pub(crate) fn prepare(
        config: &Config,
        tracked: Vec<(TrackKey, Vec<TrackTarget>)>,
    ) -> anyhow::Result<ProcessWatch> {
        let mut rules = Vec::new();
        let mut patterns = Vec::new();
        for (key, targets) in tracked {
            let TrackKey::Process(name) = &key else {
                continue;
            };
            let process = config
                .track_process(name)
                .with_context(|| format!("unknown vrrp_track_process {name}"))?;
            let pattern = Pattern::new(process);
            patterns.push(Rule {
                pattern,
                quorum: process.quorum,
                quorum_max: process.quorum_max,
                fork_delay: process.fork_delay,
                terminate_delay: process.terminate_delay,
            });
            let targets = targets
                .into_iter()
                .map(|target| {
                    let instance = &config.instances[target.instance.0];
                    (target, config.track_process_reverse(instance, name))
                })
                .collect();
            rules.push(Tracked {
                name: name.clone(),
                key,
                targets,
            });
        }
        let needs = Needs {
            comm: patterns.iter().any(|r| !r.pattern.full_command),
            cmdline: patterns
                .iter()
                .filter(|r| r.pattern.full_command)
                .map(|r| r.pattern.cmdline_needed())
                .max(),
        };
        // Subscribed before the scan, so that no process falls between the two.
        let source = match ProcEvents::open() {
            Ok(events) => {
                tracing::info!("track_process: following the kernel's process events");
                Source::Events(events)
            }
            Err(error) => {
                tracing::warn!(
                    "track_process: the kernel's process events are not available ({error}); \
                     reading /proc every {} s instead",
                    POLL.as_secs()
                );
                Source::Poll
            }
        };
        let processes = Processes::new(patterns, &proc_fs::scan(needs));
        for (index, Tracked { name, .. }) in rules.iter().enumerate() {
            tracing::info!(
                process = %name,
                running = processes.count_of(index),
                quorum = processes.has_quorum(index),
                "tracked process"
            );
        }
        Ok(ProcessWatch {
            processes,
            rules,
            needs,
            source,
        })
    }

    /// What each target hears now (see [`Report`]).
    pub(crate) fn initial(&self, report: &mut Report) {
        for (index, Tracked { key, targets, .. }) in self.rules.iter().enumerate() {
            let up = self.processes.has_quorum(index);
            for (target, reverse) in targets {
                report(key, *target, up != *reverse);
            }
        }
    }

    /// Follows the processes until dropped, reporting each quorum change.
    pub(crate) fn spawn(self, mut report: Box<Report>) -> JoinHandle<()> {
        let ProcessWatch {
            mut processes,
            rules,
            needs,
            mut source,
        } = self;
        tokio::spawn(async move {
            let mut next_scan = matches!(source, Source::Poll).then(|| Instant::now() + POLL);
            loop {
                let deadline = [processes.poll_timeout(), next_scan]
                    .into_iter()
                    .flatten()
                    .min();
                let sleep = async {
                    match deadline {
                        Some(at) => tokio::time::sleep_until(at.into()).await,
                        None => std::future::pending().await,
                    }
                };
                let event = async {
                    match &mut source {
                        Source::Events(events) => events.next().await,
                        Source::Poll => std::future::pending().await,
                    }
                };
                tokio::select! {
                    event = event => match event {
                        Ok(ProcEvent::Lost) => {
                            tracing::warn!("track_process: process events were lost (receive queue full); counting again from /proc in 1 s");
                            next_scan.get_or_insert(Instant::now() + SETTLE_AFTER_LOSS);
                        }
                        Ok(event) => apply(&mut processes, event, needs),
                        Err(error) => {
                            tracing::error!("track_process: {error}; reading /proc every {} s from now on", POLL.as_secs());
                            source = Source::Poll;
                            next_scan = Some(Instant::now());
                        }
                    },
                    () = sleep => {
                        let now = Instant::now();
                        processes.handle_timeout(now);
                        if next_scan.is_some_and(|at| at <= now) {
                            processes.rescan(&proc_fs::scan(needs), now);
                            next_scan = matches!(source, Source::Poll).then(|| now + POLL);
                        }
                    }
                }
                while let Some((index, up)) = processes.poll_change() {
                    let Tracked { name, key, targets } = &rules[index];
                    tracing::info!(
                        process = %name,
                        running = processes.count_of(index),
                        "Quorum {} for tracked process {name}",
                        if up { "gained" } else { "lost" }
                    );
                    for (target, reverse) in targets {
                        report(key, *target, up != *reverse);
                    }
                }
            }
        })
    }
}

/// One connector event: threads are left out, as keepalived does.
fn apply(processes: &mut Processes, event: ProcEvent, needs: Needs) {
    let now = Instant::now();
    match event {
        ProcEvent::Fork {
            parent_tgid,
            child_pid,
            child_tgid,
        } if child_pid == child_tgid => processes.fork(parent_tgid, child_tgid, now),
        ProcEvent::Exec { pid, tgid } if pid == tgid => {
            processes.exec(pid, proc_fs::read(pid, needs).as_ref());
        }
        ProcEvent::Comm { pid, tgid, comm } if pid == tgid => processes.rename(pid, &comm),
        ProcEvent::Exit { pid, tgid } if pid == tgid => processes.exit(pid, now),
        _ => {}
    }
}
