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
    /// Commits as a backup, on seeing the master's frames flooded to it.
    #[serde(default)]
    pub(crate) early_commits: u64,
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
    let early = if status.early_commits > 0 {
        format!(
            "  early commits (the master's frames flooded here): {}\n",
            status.early_commits
        )
    } else {
        String::new()
    };
    format!(
        "Connection sync (conntrackd): {process}, {} restarts, role {} (instances {})\n  last transition: {}\n{early}",
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_the_process_the_role_and_each_step() {
        let status = ConnSyncStatus {
            running: true,
            pid: Some(4711),
            restarts: 1,
            role: "primary".into(),
            instances: vec!["VI_1".into()],
            last_transition: ["-c", "-f"]
                .iter()
                .enumerate()
                .map(|(i, option)| CommandResult {
                    option: (*option).into(),
                    ok: i == 0,
                    output: String::new(),
                })
                .collect(),
            commits: 1,
            early_commits: 0,
        };
        assert_eq!(
            render(&status),
            "Connection sync (conntrackd): running (pid 4711), 1 restarts, role primary (instances VI_1)\n  last transition: -c ok, -f failed\n"
        );
        let early = ConnSyncStatus {
            early_commits: 2,
            ..status
        };
        assert!(
            render(&early).ends_with("  early commits (the master's frames flooded here): 2\n"),
            "{}",
            render(&early)
        );
        let stopped = ConnSyncStatus::default();
        assert!(
            render(&stopped).contains("not running"),
            "{}",
            render(&stopped)
        );
        assert!(render(&stopped).contains("last transition: none"));
    }
}
