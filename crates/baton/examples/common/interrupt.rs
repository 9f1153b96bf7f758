//! Ctrl-C (and SIGTERM) for a benchmark: stop what it started, remove its files, then exit.

use std::sync::atomic::{AtomicBool, Ordering};

use tokio::signal::unix::{SignalKind, signal};

/// Set when an interrupt arrives, before the clean-up starts.
static INTERRUPTED: AtomicBool = AtomicBool::new(false);

/// Runs `cleanup` and exits with status 130 when SIGINT or SIGTERM arrives.
///
/// The handlers are registered before this returns, so nothing the caller starts afterwards
/// can outlive an early Ctrl-C. They wait on a thread of their own, so a main thread blocked
/// in `wait()` on a child does not delay them.
pub(crate) fn on_interrupt(cleanup: impl FnOnce() + Send + 'static) -> std::io::Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .build()?;
    let (mut interrupt, mut terminate) = {
        let _context = runtime.enter();
        (
            signal(SignalKind::interrupt())?,
            signal(SignalKind::terminate())?,
        )
    };
    std::thread::Builder::new()
        .name("interrupt".into())
        .spawn(move || {
            runtime.block_on(async {
                tokio::select! {
                    _ = interrupt.recv() => {}
                    _ = terminate.recv() => {}
                }
            });
            INTERRUPTED.store(true, Ordering::SeqCst);
            eprintln!("\ninterrupted: stopping everything this run started");
            cleanup();
            std::process::exit(130);
        })?;
    Ok(())
}

/// Blocks for good once an interrupt is being handled: the handler exits the process when
/// its clean-up is done, and a main thread that returned first would cut that short (and
/// would report runs the clean-up broke as failures).
pub(crate) fn wait_if_interrupted() {
    while INTERRUPTED.load(Ordering::SeqCst) {
        std::thread::park();
    }
}
