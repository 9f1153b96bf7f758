//! Connection sync for the NAT virtual servers (`[conn_sync]`, keepalived's
//! `lvs_sync_daemon`): conntrackd in FTFW mode carries this host's NAT flows to the other
//! load balancers, so that established flows survive a failover (docs/conn-sync.md).
//!
//! One task per configuration: it writes conntrackd.conf (`conf`) in a directory beside
//! the control socket, stops a conntrackd a killed baton left, installs the takeover guard
//! (`gate`) and the standby forwarding (`standby`), starts conntrackd and restarts it with
//! a backoff when it exits (`process`), and on each change of role of the VRRP instances
//! it follows runs the netfilter documentation's primary-backup steps (`role`). A backup
//! that sees the master's frames flooded to it commits the peer's flows before the
//! takeover (`early_commit`). The VRRP side is read from the status watch, so the protocol
//! loop never waits for conntrackd. `baton status` shows the process and the last
//! transition's results.
//!
//! On SIGTERM conntrackd is stopped after the instances have given up their VIPs. On
//! `kill -9` of baton it keeps running (nothing stops it); the surviving peer does not
//! need it, since its conntrackd holds the flows already, and the next baton stops it
//! before starting its own.

mod conf;
mod early_commit;
mod gate;
mod process;
mod role;
mod standby;

use std::net::IpAddr;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use baton_config::{Config, L4Protocol, LbKind};
use tokio::process::Child;
use tokio::sync::{oneshot, watch};
use tokio::task::JoinHandle;

use crate::conn_sync_status::{self, ConnSyncStatus};
use crate::status::Status;
use conf::{Files, Settings};
use early_commit::EarlyCommit;
use gate::Guarded;
use process::Conntrackd;
use role::Role;
use standby::StandbyTable;

/// How long a new conntrackd gets to open its socket.
const READY_WITHIN: Duration = Duration::from_secs(5);
/// Restart backoff: doubled after each exit, from the first to the last.
const BACKOFF_FIRST: Duration = Duration::from_secs(1);
const BACKOFF_LAST: Duration = Duration::from_secs(30);
/// A conntrackd that ran this long starts its next backoff from the first again.
const STABLE_RUN: Duration = Duration::from_secs(60);
/// Added to three advertisement intervals for [`Plan::handover`].
const HANDOVER_MARGIN: Duration = Duration::from_millis(500);

/// The running connection sync.
#[derive(Debug)]
pub(crate) struct ConnSync {
    /// What the running one was built from: a reload that gives the same keeps it.
    plan: Plan,
    /// Whether this host is, or lately was, the primary: only then does a stop wait for
    /// the takeover.
    primacy: Arc<Mutex<Primacy>>,
    stop: oneshot::Sender<()>,
    task: JoinHandle<()>,
}

/// Everything the task takes from the configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Plan {
    sync: baton_config::ConnSync,
    followed: Vec<String>,
    servers: Vec<IpAddr>,
    protocols: Vec<&'static str>,
    guarded: Guarded,
    files: Files,
    /// How long a stopping master keeps its NAT tables after giving up the VIPs: packets
    /// sent to it before the new master's gratuitous ARPs (the real servers' replies to
    /// the gateway VIP above all) are still translated instead of leaving un-NATed, which
    /// the client would answer with a reset. The peer takes over within Skew_Time of the
    /// priority-0 advertisement; three intervals and a margin cover its announcements.
    handover: Duration,
    /// How long a backup that committed early waits for its takeover before it calls the
    /// alarm false: VRRP's master-down timer is three intervals and a skew below one, so
    /// four intervals and the margin.
    false_alarm_after: Duration,
}

impl Plan {
    fn of(config: &Config, control: &Path) -> Option<Plan> {
        // Its location is a WrittenAt, which never counts in a comparison: moving the
        // section's lines changes no plan.
        let sync = config.global.conn_sync.clone()?;
        let mut protocols = Vec::new();
        for vs in &config.virtual_servers {
            if vs.lb_kind != LbKind::Nat {
                continue;
            }
            let name = match vs.protocol {
                L4Protocol::Tcp => "TCP",
                L4Protocol::Udp => "UDP",
                _ => "SCTP",
            };
            if !protocols.contains(&name) {
                protocols.push(name);
            }
        }
        let followed = sync.followed(config);
        let longest = config
            .instances
            .iter()
            .filter(|i| followed.contains(&i.name))
            .map(|i| i.advert_interval)
            .max()
            .unwrap_or(Duration::from_secs(1));
        Some(Plan {
            handover: longest * 3 + HANDOVER_MARGIN,
            false_alarm_after: longest * 4 + HANDOVER_MARGIN,
            followed,
            servers: baton_config::ConnSync::servers(config),
            protocols,
            guarded: Guarded::of(config),
            files: Files::beside(control),
            sync,
        })
    }
}

impl ConnSync {
    /// Starts the connection sync `config` asks for, if any. Never fails: what goes wrong
    /// (no conntrackd, no address on the sync interface) is logged and retried, and the
    /// rest of baton runs on.
    pub(crate) fn start(
        config: &Config,
        status: watch::Receiver<Status>,
        control: &Path,
    ) -> Option<ConnSync> {
        let plan = Plan::of(config, control)?;
        let (stop, stopped) = oneshot::channel();
        let primacy = Arc::new(Mutex::new(Primacy::Never));
        let task = tokio::spawn(run(plan.clone(), status, stopped, Arc::clone(&primacy)));
        Some(ConnSync {
            plan,
            primacy,
            stop,
            task,
        })
    }

    /// After a reload: the running sync stays when nothing it uses changed; otherwise it
    /// is stopped and the new one started (a new primary resends its whole table to the
    /// backups, `-B`).
    pub(crate) async fn reload(
        current: &mut Option<ConnSync>,
        config: &Config,
        status: watch::Receiver<Status>,
        control: &Path,
    ) {
        let wanted = Plan::of(config, control);
        if current.as_ref().map(|c| &c.plan) == wanted.as_ref() {
            return;
        }
        if let Some(running) = current.take() {
            running.end().await;
        }
        *current = ConnSync::start(config, status, control);
    }

    /// Stops conntrackd and removes the guard. Called after the VIPs went and before the
    /// NAT tables go: on a host that was the primary until lately it returns
    /// [`Plan::handover`] after it gave up that role, so that the tables outlive the
    /// takeover; a backup's stop does not wait.
    pub(crate) async fn stop(self) {
        let left = self
            .primacy
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .handover_left(self.plan.handover);
        let handover = tokio::time::sleep(left);
        self.end().await;
        handover.await;
    }

    async fn end(self) {
        let _ = self.stop.send(());
        let _ = self.task.await;
    }
}

/// Whether this host was the primary.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Primacy {
    Never,
    Now,
    /// It became something else then.
    Left(Instant),
}

impl Primacy {
    /// How much of `handover` is still to come.
    fn handover_left(self, handover: Duration) -> Duration {
        match self {
            Primacy::Never => Duration::ZERO,
            Primacy::Now => handover,
            Primacy::Left(at) => handover.saturating_sub(at.elapsed()),
        }
    }

    fn after(self, role: Role) -> Primacy {
        match (self, role) {
            (_, Role::Primary) => Primacy::Now,
            (Primacy::Now, _) => Primacy::Left(Instant::now()),
            (other, _) => other,
        }
    }
}

async fn run(
    plan: Plan,
    mut status: watch::Receiver<Status>,
    mut stopped: oneshot::Receiver<()>,
    primacy: Arc<Mutex<Primacy>>,
) {
    conn_sync_status::publish(Some(ConnSyncStatus {
        role: Role::Starting.as_str().to_owned(),
        instances: plan.followed.clone(),
        ..ConnSyncStatus::default()
    }));
    let conntrackd = Conntrackd {
        program: plan.sync.conntrackd.clone(),
        files: plan.files.clone(),
    };
    let gate = plan.guarded.clone();
    let prepared = tokio::select! {
        prepared = prepare(&plan, &conntrackd) => prepared,
        _ = &mut stopped => false,
    };
    if prepared {
        let watched = Watched {
            followed: &plan.followed,
            status: &mut status,
            primacy: &primacy,
        };
        supervise(
            &conntrackd,
            &gate,
            watched,
            plan.false_alarm_after,
            &mut stopped,
        )
        .await;
    }
    if let Err(error) = super::syn_gate::nft(&gate::removal()).await {
        tracing::warn!("conn_sync: removing the takeover guard: {error:#}");
    }
    if let Err(error) = super::syn_gate::nft(&standby::removal()).await {
        tracing::warn!("conn_sync: removing the standby forwarding: {error:#}");
    }
    let _ = std::fs::remove_file(plan.files.config());
    let _ = std::fs::remove_dir(&plan.files.dir);
    conn_sync_status::publish(None);
}

/// Whether this process runs in the initial user namespace, whose uid_map maps every id to
/// itself (`0 0 4294967295`); a container's or a rootless lab's maps fewer.
fn in_initial_user_namespace() -> bool {
    std::fs::read_to_string("/proc/self/uid_map").is_ok_and(|map| {
        let ranges: Vec<Vec<&str>> = map
            .lines()
            .map(|line| line.split_whitespace().collect())
            .collect();
        ranges == [vec!["0", "0", "4294967295"]]
    })
}

/// Writes the file (once the sync interface has its address), clears a predecessor's
/// conntrackd and puts the guard in, closed. False if the file cannot be written.
async fn prepare(plan: &Plan, conntrackd: &Conntrackd) -> bool {
    let local = local_address(&plan.sync.interface).await;
    let settings = Settings {
        interface: plan.sync.interface.clone(),
        local,
        transport: plan.sync.transport,
        servers: plan.servers.clone(),
        protocols: plan.protocols.clone(),
        force_socket_buffers: in_initial_user_namespace(),
    };
    if !settings.force_socket_buffers {
        tracing::info!(
            "conn_sync: in a user namespace (an unprivileged container): conntrackd's sync \
             channel keeps the kernel's default socket buffers, since it may not force larger ones"
        );
    }
    let written = std::fs::create_dir_all(&plan.files.dir)
        .and_then(|()| std::fs::write(plan.files.config(), conf::render(&settings, &plan.files)));
    if let Err(error) = written {
        tracing::error!(
            "conn_sync: writing {}: {error}; connection sync is off",
            plan.files.config().display()
        );
        return false;
    }
    conntrackd.remove_leftover().await;
    if let Err(error) = super::syn_gate::nft(&plan.guarded.script(true)).await {
        tracing::error!("conn_sync: the takeover guard: {error:#}");
    }
    true
}

/// The sync interface's IPv4 address (conntrackd's channels are bound to it), waited for.
async fn local_address(interface: &str) -> IpAddr {
    let mut logged = false;
    loop {
        match baton_net::primary_address(interface, baton_net::Family::Ipv4) {
            Ok(address) => return address,
            Err(error) => {
                if !logged {
                    tracing::warn!(
                        "conn_sync: no IPv4 address on {interface} yet ({error}); waiting for one"
                    );
                    logged = true;
                }
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
    }
}

/// Runs conntrackd and follows the VRRP side until stopped.
/// The VRRP side as the supervisor follows it, and where it notes the primary's role.
struct Watched<'a> {
    followed: &'a [String],
    status: &'a mut watch::Receiver<Status>,
    primacy: &'a Mutex<Primacy>,
}

impl Watched<'_> {
    /// The role the status gives now, noted.
    fn role(&mut self) -> Role {
        let role = Role::of(&self.status.borrow_and_update().vrrp, self.followed);
        let mut primacy = self.primacy.lock().unwrap_or_else(|e| e.into_inner());
        *primacy = primacy.after(role);
        role
    }
}

async fn supervise(
    conntrackd: &Conntrackd,
    gate: &Guarded,
    mut watched: Watched<'_>,
    false_alarm_after: Duration,
    stopped: &mut oneshot::Receiver<()>,
) {
    let mut role;
    let mut standby = StandbyTable::default();
    standby.refresh(gate).await;
    let mut flood = flood_signal();
    let mut early = EarlyCommit::Armed;
    let mut backoff = BACKOFF_FIRST;
    let mut restarts = 0u64;
    loop {
        let Some(mut child) = start(conntrackd, restarts).await else {
            tokio::select! {
                () = tokio::time::sleep(backoff) => {}
                _ = &mut *stopped => return,
            }
            backoff = (backoff * 2).min(BACKOFF_LAST);
            restarts += 1;
            continue;
        };
        let started = tokio::time::Instant::now();
        // A new process has empty caches: the current role's steps run again (a primary
        // resyncs from the kernel and sends it all to the backups, a backup asks for it).
        role = watched.role();
        if role != Role::Starting {
            transition(conntrackd, gate, &mut standby, role).await;
            early.on_role();
        }
        loop {
            tokio::select! {
                _ = &mut *stopped => {
                    conntrackd.stop(&mut child).await;
                    return;
                }
                exit = child.wait() => {
                    let how = exit.map_or_else(|e| e.to_string(), |s| s.to_string());
                    tracing::error!("conn_sync: conntrackd exited ({how}); starting it again in {backoff:?}");
                    conn_sync_status::update(|s| {
                        s.running = false;
                        s.pid = None;
                    });
                    break;
                }
                changed = watched.status.changed() => {
                    if changed.is_err() {
                        conntrackd.stop(&mut child).await;
                        return;
                    }
                    let now = watched.role();
                    if now != role {
                        role = now;
                        transition(conntrackd, gate, &mut standby, role).await;
                        early.on_role();
                    }
                }
                logged = flood_logged(&mut flood) => match logged {
                    Ok(_) => {
                        if early.on_flood(role, Instant::now()) {
                            commit_early(conntrackd).await;
                        }
                    }
                    Err(error) => {
                        tracing::error!("conn_sync: the flood signal: {error}; no early commits");
                        flood = None;
                    }
                },
                () = sleep_until(early.purge_due(false_alarm_after)) => {
                    purge_false_alarm(conntrackd).await;
                    early.on_purged();
                }
            }
        }
        if started.elapsed() >= STABLE_RUN {
            backoff = BACKOFF_FIRST;
        }
        tokio::select! {
            () = tokio::time::sleep(backoff) => {}
            _ = &mut *stopped => return,
        }
        backoff = (backoff * 2).min(BACKOFF_LAST);
        restarts += 1;
    }
}

/// Starts conntrackd and waits for its socket; None (logged) when it cannot start.
async fn start(conntrackd: &Conntrackd, restarts: u64) -> Option<Child> {
    let mut child = match conntrackd.spawn() {
        Ok(child) => child,
        Err(error) => {
            tracing::error!(
                "conn_sync: starting {}: {error}",
                conntrackd.program.display()
            );
            return None;
        }
    };
    let pid = child.id();
    if !conntrackd.ready(READY_WITHIN).await {
        tracing::error!("conn_sync: conntrackd did not open its socket within {READY_WITHIN:?}");
        let _ = child.kill().await;
        return None;
    }
    tracing::info!(pid, "conn_sync: conntrackd runs");
    conn_sync_status::update(|s| {
        s.running = true;
        s.pid = pid;
        s.restarts = restarts;
    });
    Some(child)
}

/// The primary-backup steps of `role`, each logged and shown in the status. A primary's
/// guard opens for new UDP flows once the peer's flows are committed; any other role
/// closes it first. The standby forwarding is written again if an interface came or went.
async fn transition(
    conntrackd: &Conntrackd,
    gate: &Guarded,
    standby: &mut StandbyTable,
    role: Role,
) {
    standby.refresh(gate).await;
    let primary = role == Role::Primary;
    if !primary {
        set_gate(gate, true).await;
    }
    let mut results = Vec::new();
    for step in role.commands() {
        let result = conntrackd.run(*step).await;
        if result.ok {
            tracing::info!(
                "conn_sync: {}: conntrackd {} done",
                role.as_str(),
                result.option
            );
        } else {
            tracing::error!(
                "conn_sync: {}: conntrackd {} failed: {}",
                role.as_str(),
                result.option,
                result.output
            );
        }
        results.push(result);
        if primary && *step == role::Command::Commit {
            set_gate(gate, false).await;
        }
    }
    conn_sync_status::update(|s| {
        s.role = role.as_str().to_owned();
        s.last_transition = results;
        if primary {
            s.commits += 1;
        }
    });
}

/// The listener of the standby forwarding's flood signal; None (logged) when the group
/// cannot be bound, and the backup then waits for the takeover's commit.
fn flood_signal() -> Option<baton_net::NflogGroup> {
    match baton_net::NflogGroup::bind(standby::FLOOD_LOG_GROUP) {
        Ok(group) => Some(group),
        Err(error) => {
            tracing::error!(
                "conn_sync: nflog group {}: {error}; a backup commits the peer's flows only when it takes over",
                standby::FLOOD_LOG_GROUP
            );
            None
        }
    }
}

/// The next flooded frames; never, without a listener.
async fn flood_logged(
    flood: &mut Option<baton_net::NflogGroup>,
) -> Result<usize, baton_net::Error> {
    match flood {
        Some(group) => group.logged().await,
        None => std::future::pending().await,
    }
}

/// Sleeps until `due`; never, for None.
async fn sleep_until(due: Option<Instant>) {
    match due {
        Some(due) => tokio::time::sleep_until(due.into()).await,
        None => std::future::pending().await,
    }
}

/// A backup saw the master's frames flooded to it: the peer's flows go into the kernel
/// now, so that standby forwarding finds them.
async fn commit_early(conntrackd: &Conntrackd) {
    let started = Instant::now();
    let result = conntrackd.run(role::Command::Commit).await;
    if result.ok {
        tracing::info!(
            "conn_sync: the master's frames are flooded here (its port went down?): the peer's flows committed before the takeover, in {:?}",
            started.elapsed()
        );
    } else {
        tracing::error!(
            "conn_sync: committing the peer's flows early failed: {}",
            result.output
        );
    }
    conn_sync_status::update(|s| s.early_commits += 1);
}

/// The master stayed master after an early commit: its entries in this kernel are
/// zombies, purged as a new backup's are.
async fn purge_false_alarm(conntrackd: &Conntrackd) {
    tracing::warn!(
        "conn_sync: the master's frames were flooded here but it stayed master (a switch \
         that forgot its MAC?); the early commit's entries are purged"
    );
    let result = conntrackd.run(role::Command::ResetTimers).await;
    if !result.ok {
        tracing::error!("conn_sync: conntrackd -t failed: {}", result.output);
    }
}

async fn set_gate(gate: &Guarded, closed: bool) {
    if let Err(error) = super::syn_gate::nft(&gate.script(closed)).await {
        tracing::error!("conn_sync: the takeover guard: {error:#}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_recent_primary_waits_for_the_takeover() {
        let handover = Duration::from_secs(3);
        let never = Primacy::Never.after(Role::Backup).after(Role::Fault);
        assert_eq!(never.handover_left(handover), Duration::ZERO);
        let now = never.after(Role::Primary);
        assert_eq!(now.handover_left(handover), handover);
        let left = now.after(Role::Backup);
        assert!(matches!(left, Primacy::Left(_)), "{left:?}");
        assert!(left.handover_left(handover) > Duration::from_secs(2));
        // A later backup transition keeps the moment it left.
        assert_eq!(left.after(Role::Backup), left);
        let long_ago = Primacy::Left(Instant::now() - Duration::from_secs(10));
        assert_eq!(long_ago.handover_left(handover), Duration::ZERO);
    }
}
