//! What the forwarding policy's word does, the same on both forwarding paths: an attempt's
//! outcome ([`Blame`], [`Verdict`]) goes into its server's counters and the run of failures
//! that ejects it (published to the proxy's health watch when it does), and a request no
//! server could take is logged.

use std::sync::Arc;

use http::Method;

use crate::forward_policy::{Blame, Verdict};
use crate::log_limit::{self, warn_limited};
use crate::own_answer::OwnAnswer;
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

/// Logs (rate-limited) the answer to a request to `path` that no server could take: every
/// server down, or none left to try; no servers configured at all is not news.
pub(crate) fn log_no_server(answer: OwnAnswer, method: &Method, path: &str) {
    match answer {
        OwnAnswer::AllDown(_) => {
            let text = answer.text();
            warn_limited!(log_limit::NO_SERVER, "{}", text.trim_end());
        }
        OwnAnswer::BadGateway => warn_limited!(
            log_limit::NO_SERVER,
            "{method} {path}: no other server to try: 502"
        ),
        _ => {}
    }
}
