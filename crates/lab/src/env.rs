//! Preconditions: root (real, or of the rootless lab's user namespace), iproute2, and a
//! kernel that lets us create namespaces; the gate of lab tests.

use nix::unistd::geteuid;

use crate::cleanup;
use crate::cmd::{self, IP};
use crate::error::{Error, Result};
use crate::rootless;

/// Checks that labs can be built here: running as root, `ip` installed, and a probe
/// namespace can be created (and is deleted again).
///
/// The error's `Display` is a complete sentence meant for a person (`baton demo` prints it).
pub(crate) fn check_environment() -> Result<()> {
    let uid = geteuid();
    if !uid.is_root() {
        return Err(Error::NotRoot { uid: uid.as_raw() });
    }
    rootless::prepare()?;
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

/// The gate of every lab test: `true` when this process must not build the test's lab
/// itself, so the test returns at once.
///
/// - As root (as in CI), and in the copy that runs as root of a user namespace: `false`, the
///   test goes on, and a missing tool or a refused namespace fails it with the reason.
/// - Not root, where this user may create user namespaces (most desktop and CI kernels):
///   the test runs again, alone, in a copy of the test binary as root of a new user
///   namespace (the rootless lab, see `rootless.rs`); its output is shown as the test's
///   own and a failure there fails the test here. Then `true`.
/// - Not root, and the kernel forbids unprivileged user namespaces: a loud `SKIPPED` line
///   naming the sysctl to change, then `true`.
///
/// ```no_run
/// #[test]
/// fn failover() {
///     if baton_lab::handled_elsewhere("failover") {
///         return;
///     }
///     // ...
/// }
/// ```
pub fn handled_elsewhere(test: &str) -> bool {
    if geteuid().is_root() {
        if let Err(error) = rootless::prepare() {
            panic!("{test}: {error}");
        }
        return false;
    }
    match rootless::availability() {
        Ok(_) => rootless::rerun_this_test(test),
        Err(reason) => eprintln!("SKIPPED (needs root or user namespaces): {test}: {reason}"),
    }
    true
}
