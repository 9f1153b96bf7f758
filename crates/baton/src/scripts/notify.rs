//! Notify scripts (`notify_master`, `notify_backup`, `notify_fault`, `notify_stop`, `notify`),
//! run one at a time in the order the state changes happened, on a task of their own.

use std::time::Duration;

use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::{Outcome, Script};

/// One script to run, with its arguments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Notification {
    pub(crate) script: Script,
    pub(crate) args: Vec<String>,
}

impl Notification {
    /// keepalived's generic `notify` arguments: "INSTANCE"|"GROUP", name, state, priority.
    pub(crate) fn generic(
        script: Script,
        kind: &str,
        name: &str,
        state: &str,
        priority: u8,
    ) -> Self {
        let args = vec![
            kind.to_owned(),
            name.to_owned(),
            state.to_owned(),
            priority.to_string(),
        ];
        Notification { script, args }
    }
}

/// Queue of notifications; cheap to clone.
#[derive(Debug, Clone)]
pub(crate) struct Notifier {
    queue: mpsc::UnboundedSender<Notification>,
}

impl Notifier {
    /// Starts the worker. `timeout` bounds each script so one stuck script cannot hold up
    /// every later notification forever. `done` (tests) hears each outcome.
    pub(crate) fn spawn(
        timeout: Duration,
        done: Option<mpsc::UnboundedSender<(Notification, Outcome)>>,
    ) -> (Notifier, JoinHandle<()>) {
        let (queue, mut pending) = mpsc::unbounded_channel::<Notification>();
        let worker = tokio::spawn(async move {
            while let Some(notification) = pending.recv().await {
                let outcome = notification
                    .script
                    .run(&notification.args, Some(timeout))
                    .await;
                if !outcome.success() {
                    tracing::warn!(
                        script = ?notification.script.argv,
                        args = ?notification.args,
                        %outcome,
                        "notify script failed"
                    );
                }
                if let Some(done) = &done {
                    let _ = done.send((notification, outcome));
                }
            }
        });
        (Notifier { queue }, worker)
    }

    /// Queues a script; never blocks.
    pub(crate) fn send(&self, notification: Notification) {
        // The worker only stops when the daemon is shutting down; nothing to do then.
        let _ = self.queue.send(notification);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn scripts_run_in_order_one_at_a_time() {
        let log = std::env::temp_dir().join(format!("baton-notify-{}", std::process::id()));
        let _ = std::fs::remove_file(&log);
        let append = |delay: &str| {
            let code = format!("sleep {delay}; echo \"$@\" >> {}", log.display());
            Script::new(
                vec!["/bin/sh".into(), "-c".into(), code, "notify".into()],
                None,
            )
        };
        let (done_tx, mut done) = mpsc::unbounded_channel();
        let (notifier, _worker) = Notifier::spawn(Duration::from_secs(5), Some(done_tx));
        // The first is the slowest: order must still hold.
        notifier.send(Notification::generic(
            append("0.3"),
            "INSTANCE",
            "VI_1",
            "BACKUP",
            100,
        ));
        notifier.send(Notification::generic(
            append("0"),
            "INSTANCE",
            "VI_1",
            "MASTER",
            100,
        ));
        notifier.send(Notification::generic(append("0"), "GROUP", "G", "FAULT", 0));
        for _ in 0..3 {
            let (_, outcome) = done.recv().await.expect("outcome");
            assert_eq!(outcome, Outcome::Exited(0));
        }
        let written = std::fs::read_to_string(&log).expect("log written");
        std::fs::remove_file(&log).ok();
        assert_eq!(
            written,
            "INSTANCE VI_1 BACKUP 100\nINSTANCE VI_1 MASTER 100\nGROUP G FAULT 0\n"
        );
    }
}
