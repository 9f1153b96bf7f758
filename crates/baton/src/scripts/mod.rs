//! External programs the daemon runs: track scripts (`vrrp_script`) and notify scripts.
//! Both run off the protocol loop: a script never delays an advertisement. Who runs them
//! and whether they may run follow keepalived's script security (`policy`, `security`).

mod credentials;
mod inventory;
mod misc_via_helper;
mod notify;
mod outcome;
mod policy;
mod rise_fall;
mod run;
mod security;
mod track;
mod via_helper;

pub(crate) use credentials::Credentials;
#[cfg(test)]
pub(crate) use inventory::Arguments;
pub(crate) use inventory::{Entry, NOTIFY_TIMEOUT, inventory};
pub(crate) use misc_via_helper::{command_line as helper_command_line, run_for_misc_check};
pub(crate) use notify::{Notification, Notifier};
pub(crate) use outcome::Outcome;
pub(crate) use policy::configure;
pub(crate) use rise_fall::RiseFall;
pub(crate) use run::Script;
pub(crate) use track::{TrackScript, spawn_track_script};
pub(crate) use via_helper::{
    DEFAULT_SOCKET as DEFAULT_HELPER_SOCKET, Reply, Request, check_configuration as check_helper,
    needed as needs_helper, set_socket as set_helper_socket,
};
