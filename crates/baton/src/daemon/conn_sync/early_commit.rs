//! When a backup commits its peer's flows before the takeover. Pure.
//!
//! Frames of the NAT services flooded to a backup (`standby`) mean that the switch lost
//! the master's port. The backup then commits conntrackd's external cache into its kernel
//! at once, so that standby forwarding finds the flows, instead of waiting for VRRP's
//! master-down timer and the takeover's commit. The commit is whole (conntrackd replaces
//! an entry that exists), so the takeover's own commit later is still right.
//!
//! One commit per alarm: later floods are ignored until the role changes. A false alarm
//! (the master stays master: the switch flooded its MAC for another reason) leaves the
//! committed entries in this kernel unused; when the takeover has not come within VRRP's
//! longest master-down time and a margin, they are purged (`conntrackd -t`, as on becoming
//! backup) and the alarm is armed again.

use std::time::{Duration, Instant};

use super::role::Role;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum EarlyCommit {
    /// The next flood commits (when this host is backup).
    Armed,
    /// Committed at this moment, while backup.
    Committed(Instant),
}

impl EarlyCommit {
    /// A flood was seen: whether to commit now.
    pub(crate) fn on_flood(&mut self, role: Role, now: Instant) -> bool {
        if role == Role::Backup && *self == EarlyCommit::Armed {
            *self = EarlyCommit::Committed(now);
            return true;
        }
        false
    }

    /// The role changed: a takeover committed anyway, a new backup purged its kernel
    /// entries (`-t`) on entering the role.
    pub(crate) fn on_role(&mut self) {
        *self = EarlyCommit::Armed;
    }

    /// When a false alarm's entries are to be purged (`after` the commit), if one is
    /// pending.
    pub(crate) fn purge_due(self, after: Duration) -> Option<Instant> {
        match self {
            EarlyCommit::Armed => None,
            EarlyCommit::Committed(at) => Some(at + after),
        }
    }

    /// The purge ran: armed again.
    pub(crate) fn on_purged(&mut self) {
        *self = EarlyCommit::Armed;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_backup_commits_once_per_alarm() {
        let now = Instant::now();
        let after = Duration::from_secs(1);
        let mut early = EarlyCommit::Armed;
        assert_eq!(early.purge_due(after), None);
        assert!(early.on_flood(Role::Backup, now));
        assert!(!early.on_flood(Role::Backup, now + Duration::from_millis(5)));
        assert_eq!(early.purge_due(after), Some(now + after));
        // The takeover came: nothing to purge, and the next backup spell is armed.
        early.on_role();
        assert_eq!(early.purge_due(after), None);
        assert!(early.on_flood(Role::Backup, now));
    }

    #[test]
    fn only_a_backup_commits_early() {
        let now = Instant::now();
        for role in [Role::Starting, Role::Primary, Role::Fault] {
            let mut early = EarlyCommit::Armed;
            assert!(!early.on_flood(role, now), "{role:?}");
            assert_eq!(early, EarlyCommit::Armed);
        }
    }

    #[test]
    fn a_false_alarm_is_purged_and_armed_again() {
        let now = Instant::now();
        let mut early = EarlyCommit::Armed;
        assert!(early.on_flood(Role::Backup, now));
        early.on_purged();
        assert_eq!(early.purge_due(Duration::from_secs(1)), None);
        assert!(early.on_flood(Role::Backup, now + Duration::from_secs(2)));
    }
}
