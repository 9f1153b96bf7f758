//! The task that owns baton's nftables tables: it writes the latest desired state in one
//! transaction whenever it changes (states that arrive while a transaction runs are folded
//! into the next one) and reads the counters every [`COUNTER_INTERVAL`].

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, RwLock};

use std::time::Duration;

use anyhow::Context as _;
use baton_l4::{DataPlane, Table};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

/// How often counters are read; also how often the connection-based schedulers (lc,
/// wlc, ...) see new connection counts.
const COUNTER_INTERVAL: Duration = Duration::from_secs(2);

/// Without a connection-based scheduler, connection counts are only shown, and read
/// every this many counter reads (10 s): listing conntrack costs in proportion to the
/// whole table, tens of thousands of entries under load.
const ACTIVE_EVERY: u32 = 5;

/// The name of baton's tables in the kernel.
const TABLE_NAME: &str = "baton";

/// One real server's counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Count {
    pub(crate) active: u64,
    pub(crate) packets: u64,
    pub(crate) bytes: u64,
    pub(crate) connections: u64,
}

/// Counters of every real server, by service name and address, as last read.
#[derive(Debug, Clone, Default)]
pub(crate) struct Counters(HashMap<(String, SocketAddr), Count>);

impl Counters {
    pub(crate) fn get(&self, service: &str, address: SocketAddr) -> Count {
        self.0
            .get(&(service.to_owned(), address))
            .copied()
            .unwrap_or_default()
    }
}

#[derive(Debug)]
pub(crate) struct Applier {
    desired: watch::Sender<Arc<Table>>,
    /// Asks the task to rebuild persistence entries from conntrack (after a takeover).
    restore: mpsc::UnboundedSender<()>,
    counters: Arc<RwLock<Counters>>,
    task: JoinHandle<DataPlane>,
}

impl Applier {
    /// Writes `table` (replacing what a predecessor left), then runs in the background.
    pub(crate) async fn start(table: Table) -> anyhow::Result<Applier> {
        let mut plane = DataPlane::new(TABLE_NAME);
        plane
            .apply(&table)
            .await
            .context("writing the L4 rules (nftables)")?;
        let (desired, mut wanted) = watch::channel(Arc::new(table));
        wanted.mark_unchanged();
        let (restore, mut restores) = mpsc::unbounded_channel();
        let counters = Arc::new(RwLock::new(Counters::default()));
        let shared = Arc::clone(&counters);
        let task = tokio::spawn(async move {
            let mut tick = tokio::time::interval(COUNTER_INTERVAL);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            // The counts last read: every table written carries them, so the
            // connection-based schedulers never fall back to zero counts.
            let mut counts = Counters::default();
            let mut reads: u32 = 0;
            loop {
                tokio::select! {
                    Some(()) = restores.recv() => match plane.restore_persistence().await {
                        Ok(0) => {}
                        Ok(added) => tracing::info!(added, "persistence entries rebuilt from the synced flows"),
                        Err(error) => tracing::warn!("rebuilding persistence entries: {error}"),
                    },
                    changed = wanted.changed() => {
                        if changed.is_err() {
                            break;
                        }
                        let table = with_counts(&wanted.borrow_and_update(), &counts);
                        if let Err(error) = plane.apply(&table).await {
                            tracing::error!("L4 rules not updated: {error}");
                        }
                    }
                    _ = tick.tick() => {
                        let active = reads % ACTIVE_EVERY == 0
                            || wanted.borrow().services.iter().any(|s| s.scheduler.counts_connections());
                        reads = reads.wrapping_add(1);
                        if let Some(read) = read_counters(&plane, (!active).then_some(&counts)).await {
                            counts = read;
                            let table = with_counts(&wanted.borrow(), &counts);
                            // Only connection-based schedulers change with the counts, and
                            // only a change of their slot tables makes a transaction.
                            let changes = plane.render(&table).map_or(true, |s| !s.is_empty());
                            if changes {
                                if let Err(error) = plane.apply(&table).await {
                                    tracing::error!("L4 rules not updated with connection counts: {error}");
                                }
                            }
                            *shared.write().unwrap_or_else(|e| e.into_inner()) = counts.clone();
                        }
                    }
                }
            }
            plane
        });
        Ok(Applier {
            desired,
            restore,
            counters,
            task,
        })
    }

    /// Queues `table`; never waits. The same table again is no change.
    pub(crate) fn apply(&self, table: Table) {
        self.desired.send_if_modified(|current| {
            if **current == table {
                return false;
            }
            *current = Arc::new(table);
            true
        });
    }

    /// Rebuilds the persistence entries of the flows conntrack holds (connection sync
    /// committed the peer's); never waits.
    pub(crate) fn restore_persistence(&self) {
        let _ = self.restore.send(());
    }

    pub(crate) fn counters(&self) -> Counters {
        self.counters
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Stops the task and takes baton's tables out of the kernel.
    pub(crate) async fn stop(self) {
        drop(self.desired);
        match self.task.await {
            Ok(plane) => {
                if let Err(error) = plane.remove().await {
                    tracing::error!("removing the L4 rules: {error}");
                }
            }
            Err(error) => tracing::error!("L4 rules task: {error}"),
        }
    }
}

/// The counters in the kernel now, or None (logged) when they cannot be read. With
/// `last`, active connections are not read but kept from it.
async fn read_counters(plane: &DataPlane, last: Option<&Counters>) -> Option<Counters> {
    let read = match last {
        None => plane.counters().await,
        Some(_) => plane.counters_without_active().await,
    };
    let read = match read {
        Ok(read) => read,
        Err(error) => {
            tracing::warn!("reading the L4 counters: {error}");
            return None;
        }
    };
    let mut counters = Counters::default();
    for c in read {
        let active = last.map_or(c.active_connections, |l| {
            l.get(&c.service, c.backend).active
        });
        counters.0.insert(
            (c.service, c.backend),
            Count {
                active,
                packets: c.packets,
                bytes: c.bytes,
                connections: c.new_connections,
            },
        );
    }
    Some(counters)
}

/// `table` with each backend's active connections as last counted.
fn with_counts(table: &Table, counts: &Counters) -> Table {
    let mut counted = table.clone();
    for service in &mut counted.services {
        for backend in &mut service.backends {
            backend.active_connections = counts.get(&service.name, backend.address).active;
        }
    }
    counted
}

/// Removes tables a predecessor left, for a configuration without virtual servers.
pub(crate) async fn remove_leftover() {
    if let Err(error) = DataPlane::new(TABLE_NAME).remove().await {
        tracing::debug!("no L4 rules left over: {error}");
    }
}
