//! A proxy's servers over time: the current [`ServerSet`], swapped whole by a reload (an
//! `ArcSwap`, as pingora does), with the health checks that run over it and the watch that
//! reports how many are up.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError, Weak};
use std::time::Duration;

use arc_swap::ArcSwap;
use tokio::sync::watch;

use crate::check_state::CheckState;
use crate::config::{HealthCheck, ProxyConfig};
use crate::health::{self, CheckTask};
use crate::upstream::{AdminState, Server, ServerSet, ServersUp, UnknownServer};

/// A proxy's servers: the current set, its health checks and its health watch; reloads and
/// operator changes go through here.
#[derive(Debug)]
pub(crate) struct Servers {
    current: ArcSwap<ServerSet>,
    health: watch::Sender<ServersUp>,
    /// The running check tasks and the configuration; also serialises reloads and
    /// operator changes.
    checks: Mutex<Checks>,
}

/// One check task per checked server (but those in maintenance), all with the same
/// configuration, and the proxy configuration the current set was built from.
#[derive(Debug)]
struct Checks {
    /// Rebuilds the set when an operator changes a weight.
    proxy: ProxyConfig,
    config: Option<HealthCheck>,
    /// The server is kept here so that its address in memory (the key) is not reused.
    tasks: Vec<(Arc<Server>, CheckTask)>,
    /// Closes pooled server connections once they idled for too long.
    sweeper: Option<CheckTask>,
}

impl Servers {
    /// The servers of `config`, with no check running yet (see [`Servers::start_checks`]).
    pub(crate) fn new(config: &ProxyConfig) -> Arc<Self> {
        let upstreams = ServerSet::new(config, None);
        let (health, _) = watch::channel(upstreams.health());
        Arc::new(Servers {
            current: ArcSwap::from_pointee(upstreams),
            health,
            checks: Mutex::new(Checks {
                proxy: config.clone(),
                config: None,
                tasks: Vec::new(),
                sweeper: None,
            }),
        })
    }

    /// The current set. A request keeps the set it got for its whole life, so a reload
    /// never changes the servers under it.
    pub(crate) fn current(&self) -> Arc<ServerSet> {
        self.current.load_full()
    }

    /// Swaps in the servers and policies of `config`; servers at an address the current set
    /// has keep their run-time state.
    pub(crate) fn reload(self: &Arc<Self>, config: &ProxyConfig) {
        let mut checks = self.checks.lock().unwrap_or_else(PoisonError::into_inner);
        let next = Arc::new(ServerSet::new(config, Some(&self.current())));
        checks.proxy = config.clone();
        self.current.store(Arc::clone(&next));
        self.sync_checks(&mut checks, &next);
        drop(checks);
        self.refresh();
    }

    /// Starts the check tasks the current set needs and are not running yet. Needs a Tokio
    /// runtime; without one it does nothing, and the next call (each `serve` makes one)
    /// starts them.
    pub(crate) fn start_checks(self: &Arc<Self>) {
        let mut checks = self.checks.lock().unwrap_or_else(PoisonError::into_inner);
        self.sync_checks(&mut checks, &self.current());
    }

    /// Makes the running checks match `set`: stops the tasks of servers it does not have,
    /// restarts every task when the check changed, and starts the missing ones.
    fn sync_checks(self: &Arc<Self>, checks: &mut Checks, set: &ServerSet) {
        let wanted = set.health_check();
        if checks.config.as_ref() != wanted {
            checks.tasks.clear();
            checks.config = wanted.cloned();
            if wanted.is_none() {
                // Nothing will ever probe them again: a server down by its check would
                // stay down for good.
                for server in set.servers() {
                    server.set_check_state(CheckState::Unchecked);
                }
            }
        }
        // Maintenance pauses a server's checks; its last known state stays until they resume.
        let checked = |s: &Arc<Server>| s.admin.state() != AdminState::Maintenance;
        checks
            .tasks
            .retain(|(server, _)| checked(server) && set.servers().any(|s| Arc::ptr_eq(s, server)));
        if tokio::runtime::Handle::try_current().is_err() {
            return;
        }
        if checks.sweeper.is_none() {
            checks.sweeper = Some(CheckTask::spawn(sweep_pools(Arc::downgrade(self))));
        }
        let Some(check) = wanted else { return };
        for server in set.servers().filter(|s| checked(s)) {
            if !checks.tasks.iter().any(|(s, _)| Arc::ptr_eq(s, server)) {
                // Publishes each verdict; holds the set weakly, so the task keeps nothing alive.
                let servers = Arc::downgrade(self);
                let decided = move || match servers.upgrade() {
                    Some(servers) => {
                        servers.refresh();
                        true
                    }
                    None => false,
                };
                let task = health::spawn(Arc::clone(server), check.clone(), decided);
                checks.tasks.push((Arc::clone(server), task));
            }
        }
    }

    /// Sets the admin state of the servers at `address` (see [`crate::Proxy::set_admin`]).
    pub(crate) fn set_admin(
        self: &Arc<Self>,
        address: SocketAddr,
        state: AdminState,
    ) -> Result<(), UnknownServer> {
        let mut checks = self.checks.lock().unwrap_or_else(PoisonError::into_inner);
        let set = self.current();
        let mut found = false;
        for (_, server) in set.at(address) {
            found = true;
            let was = server.set_admin(state);
            if was != state {
                tracing::info!(server = %address, "admin state {was} -> {state}");
            }
        }
        if !found {
            return Err(UnknownServer(address));
        }
        self.sync_checks(&mut checks, &set);
        drop(checks);
        self.refresh();
        Ok(())
    }

    /// Balances the servers at `address` with `weight` (see [`crate::Proxy::set_weight`]):
    /// the set is rebuilt, as by a reload of the same configuration, since balancers such
    /// as Maglev read weights when they are built.
    pub(crate) fn set_weight(
        self: &Arc<Self>,
        address: SocketAddr,
        weight: u32,
    ) -> Result<(), UnknownServer> {
        let checks = self.checks.lock().unwrap_or_else(PoisonError::into_inner);
        let set = self.current();
        let mut found = false;
        for (configured, server) in set.at(address) {
            found = true;
            server.admin.set_weight(configured, weight);
        }
        if !found {
            return Err(UnknownServer(address));
        }
        tracing::info!(server = %address, weight, "run-time weight set");
        self.current
            .store(Arc::new(ServerSet::new(&checks.proxy, Some(&set))));
        drop(checks);
        self.refresh();
        Ok(())
    }

    /// A watch of the current set's health.
    pub(crate) fn watch(&self) -> watch::Receiver<ServersUp> {
        self.health.subscribe()
    }

    /// Publishes the current set's health if it changed. Computed under the watch's lock, so
    /// that two concurrent refreshes cannot publish out of order.
    pub(crate) fn refresh(&self) {
        self.health.send_if_modified(|published| {
            let now = self.current.load().health();
            let changed = *published != now;
            *published = now;
            changed
        });
    }

    /// Server `index` of `set` failed a request; when that ejected it, publishes the health
    /// now and again when the ejection ends.
    pub(crate) fn failed(self: &Arc<Self>, set: &ServerSet, index: usize) {
        let Some(backoff) = set.failed(index) else {
            return;
        };
        self.refresh();
        let servers: Weak<Servers> = Arc::downgrade(self);
        tokio::spawn(async move {
            // The ejection ends on the millisecond; a little later it is surely over.
            tokio::time::sleep(backoff + Duration::from_millis(1)).await;
            if let Some(servers) = servers.upgrade() {
                servers.refresh();
            }
        });
    }
}

/// Every second, closes the pooled connections that idled past the pool's idle timeout
/// (also those of servers no request went to since) or that a lowered limit left over.
async fn sweep_pools(servers: Weak<Servers>) {
    let mut ticks = tokio::time::interval(Duration::from_secs(1));
    loop {
        ticks.tick().await;
        let Some(servers) = servers.upgrade() else {
            return;
        };
        let set = servers.current();
        let pool = set.pool_settings();
        for server in set.servers() {
            server.pool.prune(pool.idle_timeout, pool.max_idle);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::ServerConfig;

    #[tokio::test]
    async fn draining_keeps_the_set_and_a_weight_rebuilds_it() {
        let address = SocketAddr::from(([127, 0, 0, 1], 8000));
        let mut config = ProxyConfig::new(vec![ServerConfig::new(address)]);
        config.algorithm = "maglev source".parse().expect("algorithm");
        let servers = Servers::new(&config);
        let before = servers.current();
        servers
            .set_admin(address, AdminState::Drain)
            .expect("known");
        // The Maglev table is not rebuilt: the drained server is merely not a candidate.
        assert!(Arc::ptr_eq(&before, &servers.current()));
        assert_eq!(servers.watch().borrow().up, 0);
        servers.set_weight(address, 5).expect("known");
        assert!(!Arc::ptr_eq(&before, &servers.current()));
        assert_eq!(servers.current().status()[0].weight, 5);
        assert_eq!(servers.current().status()[0].admin, AdminState::Drain);
    }
}
