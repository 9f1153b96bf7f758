//! Connection sync (conntrackd) as `baton status` shows it: filled by the daemon's
//! conn_sync task, read by `Status::of` with every VRRP input (as the receive-drop
//! counters are), printed by the client. A leaf.

use std::sync::Mutex;

use serde::{Deserialize, Serialize};

/// conntrackd and the last change of role.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct ConnSyncStatus {
    /// conntrackd's process runs (started by baton).
    pub(crate) running: bool,
    pub(crate) pid: Option<u32>,
    /// Times it was started again after it exited.
    pub(crate) restarts: u64,
    /// `starting`, `primary`, `backup` or `fault`.
    pub(crate) role: String,
    /// The VRRP instances whose state gives the role.
    pub(crate) instances: Vec<String>,
    /// The commands run on the last change of role, in order.
    pub(crate) last_transition: Vec<CommandResult>,
    /// Takeovers so far (commits of the peer's flows): the L4 side rebuilds the
    /// persistence entries after each.
    #[serde(default)]
    pub(crate) commits: u64,
}

/// One `conntrackd -C FILE OPTION` of a transition.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct CommandResult {
    /// `-c`, `-f`, `-R`, `-B`, `-t`, `-n`.
    pub(crate) option: String,
    pub(crate) ok: bool,
    /// What it printed (its error when it failed), trimmed.
    pub(crate) output: String,
}

static CURRENT: Mutex<Option<ConnSyncStatus>> = Mutex::new(None);

/// Replaces what `baton status` shows (`None`: no connection sync configured).
pub(crate) fn publish(status: Option<ConnSyncStatus>) {
    *CURRENT.lock().unwrap_or_else(|e| e.into_inner()) = status;
}

/// Changes what `baton status` shows, if connection sync runs.
pub(crate) fn update(change: impl FnOnce(&mut ConnSyncStatus)) {
    if let Some(status) = CURRENT.lock().unwrap_or_else(|e| e.into_inner()).as_mut() {
        change(status);
    }
}

pub(crate) fn snapshot() -> Option<ConnSyncStatus> {
    CURRENT.lock().unwrap_or_else(|e| e.into_inner()).clone()
}

/// Two lines for people.
pub(crate) fn render(status: &ConnSyncStatus) -> String {
    let process = match (status.running, status.pid) {
        (true, Some(pid)) => format!("running (pid {pid})"),
        _ => "not running".to_owned(),
    };
    let commands: Vec<String> = status
        .last_transition
        .iter()
        .map(|c| format!("{} {}", c.option, if c.ok { "ok" } else { "failed" }))
        .collect();
    format!(
        "Connection sync (conntrackd): {process}, {} restarts, role {} (instances {})\n  last transition: {}\n",
        status.restarts,
        status.role,
        status.instances.join(","),
        if commands.is_empty() {
            "none".to_owned()
        } else {
            commands.join(", ")
        }
    )
}
