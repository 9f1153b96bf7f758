//! Which role this host plays for conntrackd, from the VRRP instances it follows, and what
//! each change of role runs: the netfilter documentation's primary-backup.sh
//! (conntrack-tools, doc/sync/primary-backup.sh), step for step. Pure.

use crate::status::InstanceStatus;

/// conntrackd's role here.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Role {
    /// Before any followed instance has a state to go by.
    Starting,
    /// MASTER of a followed instance: it forwards the flows, from the kernel's table.
    Primary,
    /// None is MASTER: the peer's flows wait in conntrackd's external cache.
    Backup,
    /// Every followed instance is in FAULT.
    Fault,
}

impl Role {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Role::Starting => "starting",
            Role::Primary => "primary",
            Role::Backup => "backup",
            Role::Fault => "fault",
        }
    }

    /// The role `instances` (the status of every instance) give, following `followed`.
    /// MASTER of any followed instance makes the primary: its VIPs bring the flows here.
    pub(crate) fn of(instances: &[InstanceStatus], followed: &[String]) -> Role {
        let states: Vec<&str> = instances
            .iter()
            .filter(|i| followed.contains(&i.name))
            .map(|i| i.state.as_str())
            .collect();
        if states.contains(&"MASTER") {
            Role::Primary
        } else if states.is_empty() || states.iter().all(|s| *s == "INIT") {
            Role::Starting
        } else if states.iter().all(|s| *s == "FAULT") {
            Role::Fault
        } else {
            Role::Backup
        }
    }

    /// The conntrackd options run, in order, on entering this role (each as
    /// `conntrackd -C FILE OPTION`). A failed one is logged and the next still runs, as
    /// the script does.
    pub(crate) fn commands(self) -> &'static [Command] {
        match self {
            Role::Starting => &[],
            Role::Primary => &[
                Command::Commit,
                Command::Flush,
                Command::Resync,
                Command::BulkSend,
            ],
            Role::Backup => &[Command::ResetTimers, Command::RequestResync],
            Role::Fault => &[Command::ResetTimers],
        }
    }
}

/// One step of primary-backup.sh.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Command {
    /// `-c`: commit the external cache (the peer's flows) into the kernel's table.
    Commit,
    /// `-f`: flush the internal and external caches.
    Flush,
    /// `-R`: resynchronise the internal cache with the kernel's table.
    Resync,
    /// `-B`: send the whole internal cache to the backups.
    BulkSend,
    /// `-t`: schedule the purge of the kernel's (now stale) entries of synced flows.
    ResetTimers,
    /// `-n`: ask the primary to send everything again.
    RequestResync,
}

impl Command {
    /// The request conntrackd's client sends on the daemon's UNIX socket for this option
    /// (conntrack-tools' include/conntrackd.h; without an argument, `-c`, `-f` and `-R` ask
    /// for conntrack entries and expectations both).
    pub(crate) fn request(self) -> i32 {
        match self {
            Command::Commit => 46,        // ALL_COMMIT
            Command::Flush => 45,         // ALL_FLUSH_CACHE
            Command::Resync => 44,        // ALL_RESYNC_MASTER
            Command::BulkSend => 22,      // SEND_BULK
            Command::ResetTimers => 26,   // RESET_TIMERS
            Command::RequestResync => 23, // REQUEST_DUMP
        }
    }

    pub(crate) fn option(self) -> &'static str {
        match self {
            Command::Commit => "-c",
            Command::Flush => "-f",
            Command::Resync => "-R",
            Command::BulkSend => "-B",
            Command::ResetTimers => "-t",
            Command::RequestResync => "-n",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn instance(name: &str, state: &str) -> InstanceStatus {
        let mut i: InstanceStatus = serde_json::from_value(serde_json::json!({
            "name": name, "vrid": 1, "interface": "eth0", "state": state, "priority": 100,
            "effective_priority": 100, "master": null, "vips": [], "transitions": 0,
            "adverts_sent": 0, "adverts_received": 0, "dropped": {},
        }))
        .expect("instance status");
        i.state = state.to_owned();
        i
    }

    #[test]
    fn master_of_a_followed_instance_is_primary() {
        let followed = vec!["VI_1".to_owned(), "VI_2".to_owned()];
        let of = |states: &[(&str, &str)]| {
            let all: Vec<InstanceStatus> = states.iter().map(|(n, s)| instance(n, s)).collect();
            Role::of(&all, &followed)
        };
        assert_eq!(of(&[("VI_1", "INIT"), ("VI_2", "INIT")]), Role::Starting);
        assert_eq!(of(&[("VI_1", "BACKUP"), ("VI_2", "MASTER")]), Role::Primary);
        assert_eq!(of(&[("VI_1", "BACKUP"), ("VI_2", "FAULT")]), Role::Backup);
        assert_eq!(of(&[("VI_1", "FAULT"), ("VI_2", "FAULT")]), Role::Fault);
        // An instance not followed decides nothing.
        assert_eq!(of(&[("VI_1", "BACKUP"), ("VI_9", "MASTER")]), Role::Backup);
        assert_eq!(of(&[]), Role::Starting);
    }

    #[test]
    fn transitions_run_the_primary_backup_script() {
        let options =
            |role: Role| -> Vec<&str> { role.commands().iter().map(|c| c.option()).collect() };
        assert_eq!(options(Role::Primary), ["-c", "-f", "-R", "-B"]);
        assert_eq!(options(Role::Backup), ["-t", "-n"]);
        assert_eq!(options(Role::Fault), ["-t"]);
        assert!(options(Role::Starting).is_empty());
    }
}
