//! The data plane's threads, apart from the protocol loop's.
//!
//! `baton run` drives its VRRP instances on one thread, in an epoll of its own (see
//! `baton_net::protocol_loop`, as keepalived runs its VRRP process), and its checks and
//! control socket on a current-thread runtime driven by a second thread: an advertisement
//! received or due wakes the protocol's thread alone. On a multi-thread runtime the same
//! advert woke a worker (whose driver saw the socket or the timer) and then the protocol
//! loop's thread, and idle workers woke to look for work: twice keepalived's CPU as master,
//! four to seven times as backup, with adverts every 10 ms.
//!
//! The proxies (listeners, connections, health checks of frontends) still want every core
//! (`--threads N`): they run on a multi-thread runtime built on first use, so a
//! configuration without frontends starts no worker at all. Code that starts a proxy does
//! so inside [`enter`]; what it spawns and the sockets it registers belong to these threads.

use std::sync::OnceLock;

use tokio::runtime::{Builder, EnterGuard, Runtime};

/// `--threads`, set once by the daemon before it starts; unset (tests, `baton proxy`):
/// there is no separate data plane, and proxies run on the caller's runtime.
static THREADS: OnceLock<Option<usize>> = OnceLock::new();
/// Built on the first [`enter`]; None if that failed (logged; the caller's runtime serves).
static RUNTIME: OnceLock<Option<Runtime>> = OnceLock::new();

/// Gives the data plane its own `threads` workers (None: one per core).
pub(crate) fn configure(threads: Option<usize>) {
    let _ = THREADS.set(threads);
}

/// While the guard lives, `tokio::spawn` and socket registration go to the data plane's
/// threads. None without a data plane (see [`configure`]): the caller's runtime serves.
/// Hold it in synchronous code only, never across an `.await`.
#[must_use]
pub(crate) fn enter() -> Option<EnterGuard<'static>> {
    let threads = *THREADS.get()?;
    RUNTIME
        .get_or_init(|| build(threads))
        .as_ref()
        .map(Runtime::enter)
}

fn build(threads: Option<usize>) -> Option<Runtime> {
    let mut builder = Builder::new_multi_thread();
    builder.thread_name("baton-data").enable_all();
    if let Some(threads) = threads {
        builder.worker_threads(threads.max(1));
    }
    match builder.build() {
        Ok(runtime) => Some(runtime),
        Err(error) => {
            tracing::error!(
                "starting the data plane's threads: {error}; the proxies share the protocol loop's thread"
            );
            None
        }
    }
}
