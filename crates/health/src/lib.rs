//! Health checkers shared by L4 (keepalived's `virtual_server`) and the HTTP proxy.
//!
//! Two layers, kept apart so that each can be tested alone:
//!
//! - [`probe`] runs one check of one server once and says [`Outcome::Up`] or
//!   [`Outcome::Down`] with the [`Failure`] that explains it. The checkers follow keepalived
//!   2.2.7's TCP_CHECK, HTTP_GET, SSL_GET, MISC_CHECK, SMTP_CHECK, DNS_CHECK, UDP_CHECK,
//!   PING_CHECK and FILE_CHECK (see [`ProbeKind`]). [`probe_as`] is the same with the
//!   caller's own HTTP User-Agent.
//! - [`Tracker`] is the sans-IO policy that turns outcomes in a row into a [`Verdict`]
//!   (keepalived's `retry`, HAProxy's `rise` and `fall`) and says when to probe next.
//!
//! [`spawn`] drives both on a Tokio task and reports each verdict change to a callback.
//!
//! The crate knows nothing of baton's configuration: the daemon maps keepalived's checker
//! blocks and baton.toml's health checks onto [`Probe`] and [`Schedule`]:
//!
//! | keepalived | here |
//! | --- | --- |
//! | `connect_ip`, `connect_port` | [`Probe::connect`] |
//! | `bindto`, `bind_port`, `bind_if`, `fwmark` | [`Probe::bind`], [`Probe::bind_interface`], [`Probe::fwmark`] |
//! | `connect_timeout` (`misc_timeout` for MISC_CHECK) | [`Probe::timeout`] |
//! | `delay_loop`, `delay_before_retry`, `warmup` | [`Schedule::interval`], [`Schedule::retry_interval`], [`Schedule::warmup`] |
//! | `retry` (`nb_get_retry`) | [`Schedule::fall`] = `retry + 1`, [`Schedule::rise`] = 1 |
//! | `alpha` | [`Schedule::start_down`] |
//! | `virtualhost`, `http_protocol`, `enable_sni`, `url { path digest status_code virtualhost }` | [`HttpCheck`], [`Url`] |
//! | top-level `SSL { certificate key ca }` (`password`: none, see [`TlsClientError::EncryptedKey`]) | [`HttpCheck::tls_client`], [`TlsClient`] |
//! | `misc_path`, `misc_dynamic`, `user` | [`MiscCheck`] (the daemon splits the command and resolves the user) |
//! | `helo_name`; `type`, `name` | [`ProbeKind::Smtp`]; [`ProbeKind::Dns`] |
//! | `payload`, `require_reply`, `min_reply_length`, `max_reply_length` | [`UdpCheck`], [`ReplyPattern`] |
//! | `track_file` (its file), `weight`, `reverse` | [`FileCheck`] |
//!
//! Not modelled: HTTP_GET's `regex` family and `fast_recovery` (every url is fetched at each
//! probe, which is what `fast_recovery` asks for), and BFD_CHECK.

mod outcome;
mod probe;
mod task;
mod tls_error;
mod tracker;

pub use outcome::{Failure, Outcome, Weight};
pub use probe::{
    FileCheck, HttpCheck, HttpVersion, MiscCheck, Probe, ProbeKind, ReplyPattern, TlsClient,
    TlsClientError, UdpCheck, Url, probe, probe_as,
};
pub use task::{CheckHandle, Status, spawn};
pub use tracker::{Schedule, Tracker, Verdict};
