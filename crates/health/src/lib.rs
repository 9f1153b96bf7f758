//! Health checkers shared by L4 (keepalived's `virtual_server`) and the HTTP proxy.
//!
//! Two layers, kept apart so that each can be tested alone:
//!
//! - [`probe`] runs one check of one server once and says [`Outcome::Up`] or
//!   [`Outcome::Down`] with the [`Failure`] that explains it. The checkers follow keepalived
//!   2.2.7's TCP_CHECK, HTTP_GET, SSL_GET, MISC_CHECK, SMTP_CHECK, DNS_CHECK, UDP_CHECK,
//!   PING_CHECK and FILE_CHECK (see [`ProbeKind`]).
//! - [`Tracker`] is the sans-IO policy that turns outcomes in a row into a [`Verdict`]
//!   (keepalived's `retry`, HAProxy's `rise` and `fall`) and says when to probe next.
//!
//! [`spawn`] drives both on a Tokio task and reports each verdict change to a callback.
//!
//! The crate knows nothing of baton's configuration: the daemon maps keepalived's checker
//! blocks and baton.toml's health checks onto [`Probe`] and [`Schedule`].

mod outcome;
mod probe;
mod socket;
mod task;
mod tracker;

pub use outcome::{Failure, Outcome, Weight};
pub use probe::{
    FileCheck, HttpCheck, HttpVersion, MiscCheck, Probe, ProbeKind, ReplyPattern, UdpCheck, Url,
    probe,
};
pub use task::{CheckHandle, Status, spawn};
pub use tracker::{Schedule, Tracker, Verdict};
