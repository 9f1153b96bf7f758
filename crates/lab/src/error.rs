use std::io;
use std::process::ExitStatus;

/// What went wrong while building, driving or tearing down a lab.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A command ran and exited unsuccessfully.
    #[error("`{command}` failed ({status}): {}", output_summary(.stderr, .stdout))]
    Command {
        /// The command line, as run.
        command: String,
        /// How it ended.
        status: ExitStatus,
        /// Its standard output, lossily decoded.
        stdout: String,
        /// Its standard error, lossily decoded.
        stderr: String,
    },
    /// A command could not be started (or waited for) at all.
    #[error("could not run `{command}`: {source}")]
    Spawn {
        /// The command line that was tried.
        command: String,
        /// Why it failed.
        #[source]
        source: io::Error,
    },
    /// A program the lab needs is not installed.
    #[error("`{program}` is not installed (Debian/Ubuntu: apt-get install {package})")]
    MissingProgram {
        /// The executable that was looked for on `PATH` and in the sbin directories.
        program: &'static str,
        /// The Debian package that provides it.
        package: &'static str,
    },
    /// Building network namespaces needs root: real root, or root of the rootless lab's
    /// user namespace, which [`reexec_in_user_namespace`](crate::reexec_in_user_namespace)
    /// and [`handled_elsewhere`](crate::handled_elsewhere) enter.
    #[error(
        "network namespace labs need root (CAP_NET_ADMIN and CAP_SYS_ADMIN), \
         but this runs as uid {uid} outside a user namespace of its own: run as root, or \
         start again through baton_lab::reexec_in_user_namespace"
    )]
    NotRoot {
        /// The effective uid.
        uid: u32,
    },
    /// Not root, and no user namespace can be made for a rootless lab either.
    #[error(
        "network namespace labs need root, or a user namespace to be root in, but this \
         runs as uid {uid} and {reason}; or run as root (sudo)"
    )]
    UserNamespacesUnavailable {
        /// The effective uid.
        uid: u32,
        /// Why: the sysctl that forbids them and how to allow them, or what `unshare` said.
        reason: String,
    },
    /// In the user namespace of a rootless lab, `/run` could not be made private.
    #[error("cannot prepare the rootless lab's user namespace: {reason}")]
    UserNamespaceSetup {
        /// What failed.
        reason: String,
    },
    /// Running as root, but the kernel or the sandbox refused to create a namespace.
    #[error("cannot create network namespaces here: {reason}")]
    NamespacesUnavailable {
        /// What `ip netns add` said.
        reason: String,
    },
    /// A topology or argument that cannot work (bad address, duplicate host, ...).
    #[error("invalid lab request: {0}")]
    Invalid(String),
    /// [`Lab::cleanup_all`](crate::Lab::cleanup_all) ran (usually from Ctrl-C): this
    /// process builds no more labs.
    #[error("lab clean-up has run (Ctrl-C or Lab::cleanup_all); no new labs in this process")]
    ShuttingDown,
    /// Reading the system's state (`/proc`, `/run/netns`) or installing a signal handler.
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// Why it failed.
        #[source]
        source: io::Error,
    },
}

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Most tools explain failures on stderr, but `ping` says "100% packet loss" on stdout.
fn output_summary(stderr: &str, stdout: &str) -> String {
    let stderr = stderr.trim();
    let stdout = stdout.trim();
    match (stderr.is_empty(), stdout.is_empty()) {
        (false, _) => stderr.to_owned(),
        (true, false) => format!("(stderr empty; stdout:) {stdout}"),
        (true, true) => "(no output)".to_owned(),
    }
}
