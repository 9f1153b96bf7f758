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

mod address_links;
mod anycast;
mod anycast_refs;
mod basics;
mod bfd;
mod conn_sync;
mod conn_sync_refs;
mod diagnostic;
mod election;
mod fields;
mod keepalived;
mod link_delays;
mod model;
mod proxy_spec;
mod routing;
mod smtp;
mod source_tracking;
mod spec;
mod strict;
mod toml;
mod track_process;
mod track_process_refs;
mod tracks;
mod validate;
mod values;
mod virtual_server;
mod virtual_server_spec;
mod vmac;

use std::path::Path;

pub use anycast::{
    Anycast, Prefix as AnycastPrefix, ROUTE_PROTOCOL as ANYCAST_ROUTE_PROTOCOL,
    Tracked as AnycastTracked,
};
pub use bfd::{BfdInstance, TrackBfdRef};
pub use conn_sync::{ConnSync, SyncTransport};

pub use diagnostic::{Diagnostic, Errors, Location, WrittenAt};
pub use election::{ElectionOptions, OldUnicastChecksum};
pub use keepalived::KeepalivedOptions;
pub use link_delays::InterfaceDelays;
pub use model::{
    AdminListen, AnnouncePacing, Backend, BackendServer, Config, Family, Frontend, GarpGroup,
    Global, GlobalScripts, HealthCheck, HealthCheckKind, InitFile, InitialState, Notify,
    NotifyFifo, NotifyScript, Scope, ScriptUser, StaticAddress, StaticRouting, SyncGroup,
    TimedScript, TlsCertificate, Track, TrackFile, TrackFileRef, TrackFrontend, TrackInterface,
    TrackOrigin, TrackScript, TrackScriptRef, TrackVirtualServer, TrackedObject, UnicastPeer,
    VirtualAddress, VrrpInstance,
};
pub use routing::{
    InstanceRouting, Nexthop, PROTOCOL_KEEPALIVED, Prefix, Route, RouteMode, Rule, RuleAction,
};
pub use smtp::SmtpAlerts;
pub use strict::{OwnListener, drops_traffic_to_vips, own_listeners};
pub use track_process::{ParamMatch, TrackProcess, TrackProcessRef};
pub use virtual_server::{
    Checker, CheckerKind, DnsType, HttpVersion, L4Protocol, LbAlgo, LbKind, Persistence,
    RealServer, ServiceMatch, SorryServer, SslContext, UrlCheck, VirtualServer,
};

pub use vmac::{
    AddressLink, AddressLinks, GarpExtraIf, IpvlanFlags, MacSpec, VirtualLink, VirtualLinkKind,
    VmacGlobal, virtual_mac,
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

/// Reads and checks a keepalived.conf and the files it includes, with this host's
/// config id (as keepalived without `-i`).
pub fn load_keepalived(path: impl AsRef<Path>) -> Result<Loaded, Errors> {
    load_keepalived_with(path, &KeepalivedOptions::default())
}

/// [`load_keepalived`] with keepalived's command-line settings (`--config-id`).
pub fn load_keepalived_with(
    path: impl AsRef<Path>,
    options: &KeepalivedOptions,
) -> Result<Loaded, Errors> {
    let path = path.as_ref();
    let text = read_file(path)?;
    parse_keepalived_with(&text, path, options)
}

/// Checks the text of a keepalived.conf; `path` names it in messages, and relative
/// `include`s are read from its directory.
pub fn parse_keepalived(text: &str, path: impl AsRef<Path>) -> Result<Loaded, Errors> {
    parse_keepalived_with(text, path, &KeepalivedOptions::default())
}

/// [`parse_keepalived`] with keepalived's command-line settings (`--config-id`).
pub fn parse_keepalived_with(
    text: &str,
    path: impl AsRef<Path>,
    options: &KeepalivedOptions,
) -> Result<Loaded, Errors> {
    let mut d = Diagnostics::default();
    let draft = keepalived::read(text, path.as_ref(), options, &mut d);
    finish(draft, path.as_ref(), d)
}

fn finish(draft: spec::Draft, path: &Path, mut d: Diagnostics) -> Result<Loaded, Errors> {
    let config = spec::build(draft, path, &mut d);
    d.into_result(config)
        .map(|(config, warnings)| Loaded { config, warnings })
}

fn read_file(path: &Path) -> Result<String, Errors> {
    read_config_file(path).map_err(|message| {
        let mut d = Diagnostics::default();
        d.push_error(Diagnostic::file(path, message));
        d.into_result(()).expect_err("an error was pushed")
    })
}

/// The largest configuration file read, included ones too. keepalived.conf files are
/// kilobytes; anything near this is a mistake (an include pattern that caught a log or an
/// image) or an attempt to exhaust the reader's memory.
pub(crate) const MAX_FILE_BYTES: u64 = 16 * 1024 * 1024;

/// Reads a configuration file: a regular file (symlinks followed) of at most
/// [`MAX_FILE_BYTES`], in UTF-8. A FIFO would block the reader until someone writes to it,
/// and a device may never end, so their kind is refused before they are opened, and checked
/// again on the opened file in case it was swapped in between. The error is the message
/// to put after the file's name.
pub(crate) fn read_config_file(path: &Path) -> Result<String, String> {
    use std::io::Read as _;
    use std::os::unix::fs::MetadataExt as _;
    let cannot_read = |error: std::io::Error| format!("cannot read: {error}");
    let before = std::fs::metadata(path).map_err(cannot_read)?;
    regular(&before)?;
    let file = std::fs::File::open(path).map_err(cannot_read)?;
    let opened = file.metadata().map_err(cannot_read)?;
    if (opened.dev(), opened.ino()) != (before.dev(), before.ino()) {
        return Err("refused: the file was replaced while being opened".to_owned());
    }
    regular(&opened)?;
    let mut text = String::new();
    file.take(MAX_FILE_BYTES + 1)
        .read_to_string(&mut text)
        .map_err(cannot_read)?;
    if text.len() as u64 > MAX_FILE_BYTES {
        return Err(format!(
            "refused: larger than {} MiB; a configuration file is not that big",
            MAX_FILE_BYTES / (1024 * 1024)
        ));
    }
    Ok(text)
}

/// Ok for a regular file, the refusal for anything else, and for one already too big.
fn regular(metadata: &std::fs::Metadata) -> Result<(), String> {
    use std::os::unix::fs::FileTypeExt as _;
    let kind = metadata.file_type();
    let what = if kind.is_file() {
        if metadata.len() > MAX_FILE_BYTES {
            return Err(format!(
                "refused: {} bytes, larger than {} MiB; a configuration file is not that big",
                metadata.len(),
                MAX_FILE_BYTES / (1024 * 1024)
            ));
        }
        return Ok(());
    } else if kind.is_dir() {
        "a directory"
    } else if kind.is_fifo() {
        "a FIFO"
    } else if kind.is_char_device() {
        "a character device"
    } else if kind.is_block_device() {
        "a block device"
    } else if kind.is_socket() {
        "a socket"
    } else {
        "not a file"
    };
    Err(format!("refused: {what}, not a regular file"))
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;

    /// A fresh directory with a FIFO (`pipe`), a sparse 17 MiB file (`big.conf`) and a
    /// small valid one (`ok.conf`).
    fn hostile_files(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("baton-config-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("dir");
        let made = std::process::Command::new("mkfifo")
            .arg(dir.join("pipe"))
            .status()
            .expect("mkfifo runs");
        assert!(made.success());
        let big = std::fs::File::create(dir.join("big.conf")).expect("big");
        big.set_len(MAX_FILE_BYTES + 1024 * 1024).expect("sparse");
        std::fs::write(dir.join("ok.conf"), "global_defs {\n}\n").expect("ok");
        dir
    }

    fn messages(errors: &Errors) -> Vec<String> {
        errors.iter().map(ToString::to_string).collect()
    }

    #[test]
    fn a_fifo_a_device_or_a_huge_file_is_refused_as_the_file_to_read() {
        let dir = hostile_files("top");
        for (file, refusal) in [
            (dir.join("pipe"), "refused: a FIFO, not a regular file"),
            (
                PathBuf::from("/dev/zero"),
                "refused: a character device, not a regular file",
            ),
            (dir.join("big.conf"), "larger than 16 MiB"),
            (dir.clone(), "refused: a directory, not a regular file"),
        ] {
            let errors = load_keepalived(&file).expect_err("refused");
            let text = messages(&errors).join("\n");
            assert!(
                text.starts_with(&format!("{}: ", file.display())) && text.contains(refusal),
                "{text}"
            );
            assert!(load_toml(&file).is_err());
        }
        std::fs::remove_dir_all(&dir).ok();
    }

    /// With `includer` (keepalived's "readable" check) they are errors; with a plain
    /// `include` they are left out with a warning, as keepalived logs and skips them.
    #[test]
    fn includes_of_a_fifo_a_device_or_a_huge_file_are_refused_at_their_line() {
        let dir = hostile_files("include");
        let main = dir.join("keepalived.conf");
        let text = "include ok.conf\nincluder pipe\nincluder /dev/zero\nincluder big.conf\n\
                    includer p*e\n";
        let lenient = text.replace("includer", "include");
        let loaded = parse_keepalived(&lenient, &main).expect("left out with warnings");
        let left_out = loaded
            .warnings
            .iter()
            .filter(|w| w.message.ends_with("; left out"))
            .count();
        assert_eq!(left_out, 4, "{:#?}", loaded.warnings);
        let errors = parse_keepalived(text, &main).expect_err("refused");
        let at = |line: u32, pattern: &str, file: &Path, refusal: &str| {
            format!(
                "{}:{line}: include {pattern}: {}: refused: {refusal}",
                main.display(),
                file.display()
            )
        };
        let pipe = dir.join("pipe");
        let found = messages(&errors);
        for expected in [
            at(2, "pipe", &pipe, "a FIFO, not a regular file"),
            at(
                3,
                "/dev/zero",
                Path::new("/dev/zero"),
                "a character device, not a regular file",
            ),
            at(5, "p*e", &pipe, "a FIFO, not a regular file"),
        ] {
            assert!(found.contains(&expected), "{expected}\nin {found:#?}");
        }
        let big = format!("{}:4: include big.conf: ", main.display());
        assert!(
            found
                .iter()
                .any(|e| e.starts_with(&big) && e.contains("larger than 16 MiB")),
            "{found:#?}"
        );
        assert_eq!(found.len(), 4, "ok.conf is fine: {found:#?}");
        std::fs::remove_dir_all(&dir).ok();
    }
}
