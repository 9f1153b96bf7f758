//! What to do when a request could not be forwarded: send it again (to the same server on
//! a fresh connection, or to another server), or answer the client with one of baton's own
//! answers; and what each attempt says about its server. Both forwarding paths, this
//! crate's HTTP/1.1 exchange (`h1::exchange`) and hyper's (`forward`), drive this one
//! policy, so that they cannot drift apart.
//!
//! Sans-IO, in the manner of the VRRP engine: the paths tell it what happened ("picked
//! server 2", "the connect failed", "no answer in time", "part of the body is gone") and it
//! answers with a [`Verdict`]; it opens no socket, reads no clock and logs nothing. The
//! paths do the sending, the counting and the logging.
//!
//! The rules, as HAProxy's `retries` and `option redispatch` and nginx's
//! `proxy_next_upstream error timeout` have them:
//! - A failed connect is tried on another server, whatever the method: the server never saw
//!   the request (HAProxy's default `retry-on conn-failure`).
//! - A request that got nothing (or nothing valid) back is tried on another server when its
//!   method is idempotent (RFC 9110 9.2.2): the server may have acted on it.
//! - A pooled connection that turns out closed (nothing at all came back on it) is not the
//!   server's failure: the request goes again to the same server on a fresh connection, once.
//! - At most `retries` servers after the first; none once part of the body is gone, since
//!   it cannot be sent again.
//! - A server that answered, even 503, is passed on (retrying answers would be HAProxy's
//!   `retry-on 503`, which is not its default); a 502, 503 or 504 counts against the server.
//! - No answer within the upstream timeout is 504 at once: another server would only make
//!   the client wait twice as long.

use http::{Method, StatusCode};

use crate::own_answer::OwnAnswer;
use crate::upstream::Unavailable;

/// One request's forwarding policy; see the module's documentation.
#[derive(Debug)]
pub(crate) struct ForwardPolicy {
    /// Most servers tried after the first.
    retries: u32,
    /// The method allows sending the request twice.
    idempotent: bool,
    /// Servers that failed this request, left out of the next pick. Empty (no allocation)
    /// until a failure.
    tried: Vec<usize>,
    /// The server of the attempt in progress.
    current: Option<usize>,
    /// The attempt in progress is the fresh-connection retry on `current`.
    fresh: bool,
    /// Part of the request body left the client's buffer for good.
    body_gone: bool,
}

/// How an attempt on one server ended without a server's answer to pass on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Failure {
    /// No connection could be made.
    Connect,
    /// This host is out of descriptors, ports or memory: not the server's fault, and
    /// another server would fare no better.
    LocalResources,
    /// Nothing, or nothing valid, came back. `stale`: the connection came from the pool and
    /// nothing at all came back on it, most likely because the server had just closed it.
    NoResponse { stale: bool },
    /// No answer within the upstream timeout, or the server stopped taking the body.
    Timeout,
    /// The client stopped sending its body in time.
    ClientStalled,
    /// The client's chunked body broke its framing.
    ClientMalformed,
    /// The client went away.
    ClientGone,
}

/// What to do after a failed attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Next {
    /// Send the request to another server: pick one leaving out [`ForwardPolicy::tried`].
    TryAnother,
    /// Send the request to the same server again, on a new connection (drop its pooled
    /// ones: they are likely closed too).
    TryFresh,
    /// Answer the client.
    Answer(OwnAnswer),
    /// Close the client's connection without a word.
    Close,
}

/// What an attempt says about its server, for its counters and its ejection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Blame {
    /// Nothing either way.
    None,
    /// It answered, well: its run of failures ends.
    Answered,
    /// It answered 502, 503 or 504: a failure toward ejection.
    Troubled,
    /// No connection could be made: a connect error and a failure toward ejection.
    ConnectFailed,
    /// It did not answer in time: a timeout and a failure toward ejection.
    TimedOut,
}

/// The policy's answer to a failed attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[must_use]
pub(crate) struct Verdict {
    pub(crate) next: Next,
    pub(crate) blame: Blame,
}

impl Verdict {
    /// The request goes out again: the failed server counts a retry.
    pub(crate) fn retries(&self) -> bool {
        matches!(self.next, Next::TryAnother | Next::TryFresh)
    }
}

impl ForwardPolicy {
    /// The policy for a request with `method`, over a server set allowing `retries`.
    pub(crate) fn new(method: &Method, retries: u32) -> Self {
        ForwardPolicy {
            retries,
            idempotent: is_idempotent(method),
            tried: Vec::new(),
            current: None,
            fresh: false,
            body_gone: false,
        }
    }

    /// The servers to leave out of the next pick.
    pub(crate) fn tried(&self) -> &[usize] {
        &self.tried
    }

    /// The balancer picked server `index` for the next attempt.
    pub(crate) fn picked(&mut self, index: usize) {
        self.current = Some(index);
        self.fresh = false;
    }

    /// Part of the request body was taken from the client and sent: the request cannot be
    /// sent again.
    pub(crate) fn body_gone(&mut self) {
        self.body_gone = true;
    }

    /// No server could be picked.
    pub(crate) fn no_server(&self, why: Unavailable) -> OwnAnswer {
        match why {
            // The servers left were tried: the last one's failure is the answer.
            _ if !self.tried.is_empty() => OwnAnswer::BadGateway,
            Unavailable::NoServers => OwnAnswer::NoServers,
            Unavailable::AllDown(down) => OwnAnswer::AllDown(down),
        }
    }

    /// The server answered with `status`, which goes to the client as it is.
    pub(crate) fn answered(&self, status: StatusCode) -> Blame {
        if is_server_trouble(status) {
            Blame::Troubled
        } else {
            Blame::Answered
        }
    }

    /// The attempt on the current server failed.
    pub(crate) fn failed(&mut self, failure: Failure) -> Verdict {
        let server = self.current.expect("a failure follows a pick");
        let verdict = |next, blame| Verdict { next, blame };
        match failure {
            Failure::ClientStalled => verdict(Next::Answer(OwnAnswer::BodyTimeout), Blame::None),
            Failure::ClientMalformed => {
                verdict(Next::Answer(OwnAnswer::MalformedBody), Blame::None)
            }
            Failure::ClientGone => verdict(Next::Close, Blame::None),
            Failure::Timeout => verdict(Next::Answer(OwnAnswer::GatewayTimeout), Blame::TimedOut),
            Failure::LocalResources => verdict(Next::Answer(OwnAnswer::BadGateway), Blame::None),
            Failure::NoResponse { stale: true } if !self.body_gone && !self.fresh => {
                self.fresh = true;
                verdict(Next::TryFresh, Blame::None)
            }
            Failure::Connect => {
                self.tried.push(server);
                verdict(self.another(true), Blame::ConnectFailed)
            }
            Failure::NoResponse { .. } => {
                self.tried.push(server);
                verdict(self.another(self.idempotent), Blame::None)
            }
        }
    }

    /// Another server if the request may go again (`safe`) and retries are left, else 502.
    fn another(&self, safe: bool) -> Next {
        if safe && !self.body_gone && self.tried.len() <= self.retries as usize {
            Next::TryAnother
        } else {
            Next::Answer(OwnAnswer::BadGateway)
        }
    }
}

/// True when the error comes from this host running out of descriptors, ports or memory.
pub(crate) fn out_of_local_resources(error: &(dyn std::error::Error + 'static)) -> bool {
    let mut source = Some(error);
    while let Some(error) = source {
        if let Some(io) = error.downcast_ref::<std::io::Error>() {
            return matches!(
                io.raw_os_error(),
                Some(
                    libc::EMFILE
                        | libc::ENFILE
                        | libc::ENOBUFS
                        | libc::ENOMEM
                        | libc::EADDRNOTAVAIL
                )
            );
        }
        source = error.source();
    }
    false
}

/// The answers that count as a server failure for ejection, as nginx's `max_fails` with
/// `http_502 http_503 http_504` and HAProxy's `observe layer7` count them: the server, or
/// whatever it fronts, is broken or overloaded.
fn is_server_trouble(status: StatusCode) -> bool {
    matches!(
        status,
        StatusCode::BAD_GATEWAY | StatusCode::SERVICE_UNAVAILABLE | StatusCode::GATEWAY_TIMEOUT
    )
}

/// RFC 9110 9.2.2: methods whose request may be sent twice.
fn is_idempotent(method: &Method) -> bool {
    matches!(
        *method,
        Method::GET | Method::HEAD | Method::OPTIONS | Method::PUT | Method::DELETE | Method::TRACE
    )
}

#[cfg(test)]
mod tests;
