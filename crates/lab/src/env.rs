//! Preconditions: root, iproute2, and a kernel that lets us create namespaces.

use nix::unistd::geteuid;

use crate::cleanup;
use crate::cmd::{self, IP};
use crate::error::{Error, Result};

/// Checks that labs can be built here: running as root, `ip` installed, and a probe
/// namespace can be created (and is deleted again).
///
/// The error's `Display` is a complete sentence meant for a person (`baton demo` prints it).
pub(crate) fn check_environment() -> Result<()> {
    let uid = geteuid();
    if !uid.is_root() {
        return Err(Error::NotRoot { uid: uid.as_raw() });
    }
    cmd::locate(IP)?;
    // Named like a lab, so that a probe left by a killed process is stale like any other.
    let probe = format!(
        "{}probe",
        cleanup::unique_prefix(crate::Lab::DEFAULT_PREFIX)
    );
    match cmd::ip(&["netns", "add", &probe]) {
        Ok(_) => {
            cmd::ip(&["netns", "del", &probe])?;
            Ok(())
        }
        Err(Error::Command { stderr, .. }) => Err(Error::NamespacesUnavailable {
            reason: stderr.trim().to_owned(),
        }),
        Err(other) => Err(other),
    }
}

/// For tests that need a lab: returns `true` (after printing a loud `SKIPPED (needs root)`
/// line to stderr) when not running as root, so the test can `return` early.
///
/// Only the missing root is a reason to skip. As root (as in CI) the test goes on, so a
/// missing tool or a refused namespace fails it with the reason instead of hiding it.
///
/// ```no_run
/// #[test]
/// fn failover() {
///     if baton_lab::skip_without_root("failover") {
///         return;
///     }
///     // ...
/// }
/// ```
pub fn skip_without_root(test: &str) -> bool {
    let uid = geteuid();
    if uid.is_root() {
        return false;
    }
    eprintln!(
        "SKIPPED (needs root): {test}: network-namespace tests need root, this is uid {uid}; \
         run `sudo -E cargo test` to include them"
    );
    true
}
