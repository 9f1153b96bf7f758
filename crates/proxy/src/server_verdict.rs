//! What one attempt's outcome does to its server, the same on both forwarding paths: the
//! counters, and the run of failures that ejects it (published to the proxy's health watch
//! when it does). The outcome itself is the forwarding policy's word ([`Blame`], [`Verdict`]).

use std::sync::Arc;

use crate::forward_policy::{Blame, Verdict};
use crate::servers::Servers;
use crate::upstream::ServerSet;

/// Records `blame` against server `index` of `set`.
pub(crate) fn record(servers: &Arc<Servers>, set: &ServerSet, index: usize, blame: Blame) {
    let metrics = &set.server(index).metrics;
    match blame {
        Blame::None => {}
        Blame::Answered => set.succeeded(index),
        Blame::Troubled => servers.failed(set, index),
        Blame::ConnectFailed => {
            metrics.connect_failed();
            servers.failed(set, index);
        }
        Blame::TimedOut => {
            metrics.timed_out();
            servers.failed(set, index);
        }
    }
}

/// Records a failed attempt's verdict against server `index` of `set`: its blame, and a
/// retry when the request goes out again.
pub(crate) fn record_failure(
    servers: &Arc<Servers>,
    set: &ServerSet,
    index: usize,
    verdict: Verdict,
) {
    record(servers, set, index, verdict.blame);
    if verdict.retries() {
        set.server(index).metrics.retried();
    }
}
