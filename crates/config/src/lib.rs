//! baton's configuration: one model, two front ends.
//!
//! - [`load_toml`] reads `baton.toml`, the native format, whose keys are keepalived's;
//! - [`load_keepalived`] reads a keepalived.conf (with its `include`s), so an operator can
//!   run baton from the file keepalived runs from, host by host.
//!
//! The proxy's `[[frontend]]` and `[[backend]]` sections, and `track_frontend`, exist in
//! `baton.toml` only (`docs/configuration.md`). keepalived's LVS family (`virtual_server`,
//! its real servers and checkers) is read from both, into [`VirtualServer`]s that baton
//! balances on nf_tables.
//!
//! Both fill the same draft, and one `build` step fills defaults in keepalived's order and
//! validates. Nothing stops at the first problem: every error comes back at once, each as
//! `FILE:LINE: message` ([`Errors`]), and warnings (what keepalived would log and adjust)
//! come back separately. Keywords baton does not support are errors naming the keyword
//! and the reason, never silently skipped; `docs/keepalived-compat.md` lists them all.
//!
//! The model is resolved and checked, and maps onto the engine with
//! [`VrrpInstance::engine_config`], [`Config::tracks`] and [`Config::sync_group_configs`].
//! Data flows one way: file -> draft -> [`Config`] -> runtime.

mod diagnostic;
mod fields;
mod keepalived;
mod model;
mod proxy_spec;
mod spec;
mod toml;
mod tracks;
mod validate;
mod values;
mod virtual_server;
mod virtual_server_spec;

use std::path::Path;

pub use diagnostic::{Diagnostic, Errors, Location};
pub use model::{
    AdminListen, Backend, BackendServer, Config, Family, Frontend, Global, HealthCheck,
    HealthCheckKind, InitFile, InitialState, Notify, NotifyScript, Scope, ScriptUser, SyncGroup,
    TlsCertificate, Track, TrackFile, TrackFileRef, TrackFrontend, TrackInterface, TrackOrigin,
    TrackScript, TrackScriptRef, TrackVirtualServer, TrackedObject, UnicastPeer, VirtualAddress,
    VrrpInstance,
};
pub use virtual_server::{
    Checker, CheckerKind, DnsType, HttpVersion, L4Protocol, LbAlgo, LbKind, Persistence,
    RealServer, ServiceMatch, SorryServer, SslContext, UrlCheck, VirtualServer,
};

use diagnostic::Diagnostics;

/// A configuration that passed every check, and the warnings found on the way.
#[derive(Debug, Clone)]
pub struct Loaded {
    pub config: Config,
    pub warnings: Vec<Diagnostic>,
}

/// Reads and checks a `baton.toml`.
pub fn load_toml(path: impl AsRef<Path>) -> Result<Loaded, Errors> {
    let path = path.as_ref();
    let text = read_file(path)?;
    parse_toml(&text, path)
}

/// Checks the text of a `baton.toml`; `path` names it in messages.
pub fn parse_toml(text: &str, path: impl AsRef<Path>) -> Result<Loaded, Errors> {
    let mut d = Diagnostics::default();
    let draft = toml::read(text, path.as_ref(), &mut d);
    finish(draft, path.as_ref(), d)
}

/// Reads and checks a keepalived.conf and the files it includes.
pub fn load_keepalived(path: impl AsRef<Path>) -> Result<Loaded, Errors> {
    let path = path.as_ref();
    let text = read_file(path)?;
    parse_keepalived(&text, path)
}

/// Checks the text of a keepalived.conf; `path` names it in messages, and relative
/// `include`s are read from its directory.
pub fn parse_keepalived(text: &str, path: impl AsRef<Path>) -> Result<Loaded, Errors> {
    let mut d = Diagnostics::default();
    let draft = keepalived::read(text, path.as_ref(), &mut d);
    finish(draft, path.as_ref(), d)
}

fn finish(draft: spec::Draft, path: &Path, mut d: Diagnostics) -> Result<Loaded, Errors> {
    let config = spec::build(draft, path, &mut d);
    d.into_result(config)
        .map(|(config, warnings)| Loaded { config, warnings })
}

fn read_file(path: &Path) -> Result<String, Errors> {
    std::fs::read_to_string(path).map_err(|error| {
        let mut d = Diagnostics::default();
        d.push_error(Diagnostic::file(path, format!("cannot read: {error}")));
        d.into_result(()).expect_err("an error was pushed")
    })
}
