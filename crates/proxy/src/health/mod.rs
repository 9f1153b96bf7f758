//! Active health checks: one task per server probes it at an interval and flips its
//! [`CheckState`] after `rise` or `fall` results in a row.
//!
//! Tasks are owned by the proxy's [`Backends`]: a reload stops the tasks of removed servers,
//! and dropping the last clone of the proxy stops them all. A task refers back to its
//! `Backends` weakly, to publish transitions, so that it keeps nothing alive.

mod check;
mod state;

use std::sync::{Arc, Weak};
use std::time::Duration;

use tokio::task::JoinHandle;
use tokio::time::MissedTickBehavior;

pub use state::CheckState;

use crate::backends::Backends;
use crate::config::HealthCheck;
use crate::upstream::Server;
use state::RiseFall;

/// A running check task, stopped when this is dropped.
#[derive(Debug)]
pub(crate) struct CheckTask(JoinHandle<()>);

impl CheckTask {
    /// Runs `task` until the handle is dropped.
    pub(crate) fn spawn(task: impl Future<Output = ()> + Send + 'static) -> Self {
        CheckTask(tokio::spawn(task))
    }
}

impl Drop for CheckTask {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Starts checking `server` on the current Tokio runtime.
pub(crate) fn spawn(
    server: Arc<Server>,
    check: HealthCheck,
    backends: Weak<Backends>,
) -> CheckTask {
    CheckTask(tokio::spawn(run(server, check, backends)))
}

async fn run(server: Arc<Server>, check: HealthCheck, backends: Weak<Backends>) {
    let interval = check.interval.max(Duration::from_millis(1));
    // A random start within the first interval, so that servers are not probed in step.
    let first = interval.mul_f64(rand::random::<f64>());
    let mut ticks = tokio::time::interval_at(tokio::time::Instant::now() + first, interval);
    ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let mut counter = RiseFall::new(check.rise, check.fall, server.check_state());
    loop {
        ticks.tick().await;
        let result = check::probe(server.address, &check).await;
        if let Err(failure) = &result {
            server.metrics.check_failed();
            tracing::debug!(server = %server.address, %failure, "health check failed");
        }
        let Some(state) = counter.record(result.is_ok()) else {
            continue;
        };
        let was = server.set_check_state(state);
        match (&result, state) {
            (Err(failure), _) => tracing::warn!(
                server = %server.address,
                reason = %failure,
                "server down: {} health checks failed in a row",
                check.fall.max(1)
            ),
            (Ok(()), _) if was == CheckState::Down => tracing::info!(
                server = %server.address,
                "server up: {} health checks passed in a row",
                check.rise.max(1)
            ),
            (Ok(()), _) => {
                tracing::debug!(server = %server.address, "health check confirms server up")
            }
        }
        match backends.upgrade() {
            Some(backends) => backends.refresh(),
            None => return,
        }
    }
}
