//! keepalived's `notify_fifo_script` / `vrrp_notify_fifo_script`: the FIFO's reader, which
//! keepalived starts with the FIFO's path as its last argument and leaves running
//! (`fifo_open` in lib/notify.c runs it with no timeout; when it exits keepalived only logs
//! "notify fifo script terminated"). It runs as its user, through the same security checks
//! as every other script.
//!
//! When its FIFO closes (a stop, or a reload that changes the FIFO or the script), the
//! reader reads end-of-file; one still running [`GRACE`] later is stopped with its process
//! group (SIGTERM, then SIGKILL), so that a reload does not leave an old reader behind.

use std::path::Path;
use std::time::Duration;

use baton_config::NotifyScript;
use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;
use tokio::task::JoinHandle;

use crate::scripts::{Credentials, Script};

/// How long a reader may take to leave after its FIFO closed.
const GRACE: Duration = Duration::from_secs(5);

/// After SIGTERM, how long before SIGKILL (keepalived's child timeout uses 2 s too).
const TERM_TO_KILL: Duration = Duration::from_secs(2);

/// A running FIFO reader.
#[derive(Debug)]
pub(crate) struct FifoReader {
    /// Its process group (the reader leads it).
    group: Pid,
    /// Waits for it to exit, and logs that.
    waiter: JoinHandle<()>,
}

impl FifoReader {
    /// Starts `script` with `fifo` as its last argument; `default_user` runs it when it
    /// names no user. A reader that cannot start is logged and left out, as keepalived does.
    pub(crate) fn start(
        script: &NotifyScript,
        fifo: &Path,
        default_user: Option<Credentials>,
    ) -> Option<FifoReader> {
        let what = script.argv.first().map_or("", String::as_str);
        let credentials = match &script.user {
            Some(user) => match Credentials::lookup(&user.user, user.group.as_deref()) {
                Ok(credentials) => Some(credentials),
                Err(error) => {
                    tracing::error!(script = what, "notify FIFO script not run: {error}");
                    return None;
                }
            },
            None => default_user,
        };
        let runnable = Script::new(script.argv.clone(), credentials);
        if runnable.needs_helper() {
            // The helper answers when a script ends; a reader never does.
            tracing::error!(
                script = what,
                "notify FIFO script not run: it runs as another user, which an unprivileged \
                 baton leaves to the script helper, and the helper runs only scripts that end"
            );
            return None;
        }
        let path = fifo.to_string_lossy().into_owned();
        let mut child = match runnable.spawn(&[path]) {
            Ok(child) => child,
            Err(reason) => {
                tracing::error!(script = what, "notify FIFO script not run: {reason}");
                return None;
            }
        };
        let group = Pid::from_raw(child.id().and_then(|id| i32::try_from(id).ok())?);
        tracing::info!(script = what, fifo = %fifo.display(), "notify FIFO script started");
        let what = what.to_owned();
        let waiter = tokio::spawn(async move {
            match child.wait().await {
                Ok(status) => {
                    tracing::info!(script = what, "notify FIFO script terminated ({status})")
                }
                Err(error) => tracing::warn!(script = what, "notify FIFO script: {error}"),
            }
        });
        Some(FifoReader { group, waiter })
    }
}

impl Drop for FifoReader {
    fn drop(&mut self) {
        if self.waiter.is_finished() {
            return;
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            self.waiter.abort();
            return;
        };
        let group = self.group;
        let mut waiter = std::mem::replace(&mut self.waiter, runtime.spawn(async {}));
        runtime.spawn(async move {
            if tokio::time::timeout(GRACE, &mut waiter).await.is_ok() {
                return;
            }
            tracing::warn!(
                "notify FIFO script still runs {GRACE:?} after its FIFO closed: stopping it"
            );
            let _ = killpg(group, Signal::SIGTERM);
            if tokio::time::timeout(TERM_TO_KILL, &mut waiter)
                .await
                .is_err()
            {
                let _ = killpg(group, Signal::SIGKILL);
                // Dropping the child kills the reader itself, if the group kill missed it.
                waiter.abort();
            }
        });
    }
}
