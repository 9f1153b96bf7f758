//! Telling systemd how the daemon is doing (sd_notify), for `Type=notify` units: READY once
//! the frontends listen and the instances run, RELOADING then READY around a reload,
//! STOPPING when a stop begins, a STATUS line with each instance's state, and watchdog
//! pings from the protocol loop itself, so a stuck loop (no adverts) gets the daemon
//! restarted. Outside systemd (no NOTIFY_SOCKET) every call does nothing.

use std::time::Duration;

use sd_notify::NotifyState;

use crate::status::Status;

pub(crate) fn ready() {
    send(&[NotifyState::Ready]);
}

/// systemd 253's `Type=notify-reload` wants the monotonic time with RELOADING; older ones
/// ignore it.
pub(crate) fn reloading() {
    match NotifyState::monotonic_usec_now() {
        Ok(now) => send(&[NotifyState::Reloading, now]),
        Err(_) => send(&[NotifyState::Reloading]),
    }
}

pub(crate) fn stopping() {
    send(&[NotifyState::Stopping]);
}

/// The line `systemctl status` shows; see [`status_line`].
pub(crate) fn status(line: &str) {
    send(&[NotifyState::Status(line)]);
}

/// How often to ping the watchdog: half its timeout, as sd_watchdog_enabled(3) advises.
pub(crate) fn watchdog_interval() -> Option<Duration> {
    sd_notify::watchdog_enabled().map(|timeout| timeout / 2)
}

pub(crate) fn watchdog() {
    send(&[NotifyState::Watchdog]);
}

fn send(states: &[NotifyState<'_>]) {
    if std::env::var_os("NOTIFY_SOCKET").is_none() {
        return;
    }
    if let Err(error) = sd_notify::notify(states) {
        tracing::warn!("telling systemd: {error}");
    }
}

/// Each instance and its state, e.g. "VI_1 MASTER, VI_2 BACKUP".
pub(crate) fn status_line(status: &Status) -> String {
    if status.vrrp.is_empty() {
        return "no VRRP instances".into();
    }
    status
        .vrrp
        .iter()
        .map(|i| format!("{} {}", i.name, i.state))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_line_names_each_instance_and_state() {
        let mut status = Status::default();
        assert_eq!(status_line(&status), "no VRRP instances");
        for (name, state) in [("VI_1", "MASTER"), ("VI_2", "BACKUP")] {
            status
                .vrrp
                .push(crate::status::InstanceStatus::example(name, state));
        }
        assert_eq!(status_line(&status), "VI_1 MASTER, VI_2 BACKUP");
    }
}
