//! For unit tests that need a network namespace of their own.

use nix::sched::{CloneFlags, unshare};

/// Runs `test` on a thread of its own in a new network namespace with loopback up, and
/// returns what it returns; `None`, after saying SKIPPED, when this process may not make
/// namespaces. The namespace has no name and goes when the thread ends: nothing to clean
/// up, also when the test panics (the panic is passed on).
pub(crate) fn in_a_new_namespace<R: Send + 'static>(
    test: impl FnOnce() -> R + Send + 'static,
) -> Option<R> {
    let thread = std::thread::spawn(|| {
        if let Err(error) = unshare(CloneFlags::CLONE_NEWNET) {
            eprintln!("SKIPPED: needs root to make a network namespace (unshare: {error})");
            return None;
        }
        assert!(ip("link set lo up"), "ip link set lo up");
        Some(test())
    });
    thread
        .join()
        .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
}

/// Runs `ip ARGS` in the calling thread's namespace (a child process starts in the
/// namespace of the thread that spawns it); true if it succeeded.
pub(crate) fn ip(args: &str) -> bool {
    let status = std::process::Command::new("ip")
        .args(args.split_whitespace())
        .status();
    status
        .unwrap_or_else(|error| panic!("ip {args}: {error}"))
        .success()
}
