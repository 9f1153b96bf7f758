//! External programs the daemon runs: track scripts (`vrrp_script`) and notify scripts.
//! Both run off the protocol loop: a script never delays an advertisement. Who runs them
//! and whether they may run follow keepalived's script security (`policy`, `security`).

mod credentials;
mod notify;
mod policy;
mod rise_fall;
mod run;
mod security;
mod track;

pub(crate) use credentials::Credentials;
pub(crate) use notify::{Notification, Notifier};
pub(crate) use policy::configure;
pub(crate) use rise_fall::RiseFall;
pub(crate) use run::{Outcome, Script};
pub(crate) use track::{TrackScript, spawn_track_script};
