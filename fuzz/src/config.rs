//! What the two configuration targets share: where the fuzzed file claims to live, and the
//! checks every result of a configuration load must pass.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use baton_config::{Config, Diagnostic, Errors, Family, Loaded};
use baton_vrrp::Router;

/// The fuzzed configuration's path: a file that does not exist, in an empty directory made
/// for this process, so that relative `include`s and TLS paths find nothing to read.
/// (The directory is left behind, empty, in the temp dir.)
pub fn config_path(name: &str) -> PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    let dir = DIR.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("baton-fuzz-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("make the empty directory");
        dir
    });
    dir.join(name)
}

/// Checks a load's outcome: every error names the file and a line of it (a TOML syntax
/// error without a span may name the file only, when `file_level_errors`); every warning
/// names the file and, if any, a line of it; and a configuration that loads is one the
/// VRRP engine accepts, as the daemon will ask it to.
pub fn check_outcome(
    outcome: &Result<Loaded, Errors>,
    path: &Path,
    text: &str,
    file_level_errors: bool,
) {
    // Lines as the readers count them, plus one past a final newline (where an error at
    // the end of the text points).
    let last_line = text.lines().count() + 1;
    let within = |d: &Diagnostic| {
        assert_eq!(d.file, path, "names another file: {d}");
        if let Some(line) = d.line {
            let in_range = (1..=last_line).contains(&(line as usize));
            assert!(in_range, "line {line} of {last_line}: {d}");
        }
    };
    match outcome {
        Ok(loaded) => {
            loaded.warnings.iter().for_each(within);
            engine_accepts(&loaded.config);
        }
        Err(errors) => {
            assert!(!errors.is_empty(), "an Err with no error");
            for error in errors {
                within(error);
                assert!(
                    file_level_errors || error.line.is_some(),
                    "an error without a line: {error}"
                );
                assert!(!error.message.is_empty(), "an empty message at {error}");
            }
            errors.warnings().iter().for_each(within);
        }
    }
}

/// Builds the engine from a loaded configuration as the daemon's plan does, each instance
/// on an interface whose primary address is a documentation address of its family.
fn engine_accepts(config: &Config) {
    let configs = config
        .instances
        .iter()
        .map(|instance| {
            let primary = match instance.family() {
                Family::Ipv4 => IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1)),
                Family::Ipv6 => IpAddr::V6(Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 1)),
            };
            instance.engine_config(primary, &config.tracks(instance))
        })
        .collect();
    if let Err(error) = Router::new(configs, config.sync_group_configs()) {
        panic!("the configuration loads but the VRRP engine refuses it: {error}");
    }
}
