//! hyper's path to the servers: a request that hyper's server took in (HTTP/2, HTTP/1.0,
//! upgrades, `Expect`, odd heads) goes out as HTTP/1.1 over a connection from the server's
//! pool, the same pool this crate's HTTP/1.1 exchange (`h1::exchange`) takes from and gives
//! back to, and comes back to hyper as a `Response` whose body streams from that connection.
//! The connection goes back to the pool once the body ended cleanly and the server keeps it
//! open; it is closed otherwise. After a 101 it is handed whole to the WebSocket tunnel.
//!
//! The connection is driven by whoever waits on it, not by a task that owns it (as in
//! hyper's client): [`send`] writes the head and the body and reads the answer's head in the
//! request's task, and the [`ServerBody`] reads the rest, and finishes sending the request
//! body, as hyper's server polls it. Between requests a connection is a plain socket in the
//! pool, whichever path used it last: one set of idle limits, one test of a dead connection
//! ([`Pool::take`](crate::upstream)), one place that counts a server's connections.

mod body;
#[cfg(feature = "fuzzing")]
pub(crate) mod fuzzing;
mod head;
mod wire;

use std::borrow::Cow;
use std::io;
use std::sync::Arc;

use http::{Method, Request, Response};

use crate::request_body::{BoxError, RequestBody};
use crate::upstream::{PoolSettings, Server};
pub(crate) use body::{ServerBody, Upgraded};
use head::Framing;
use wire::{Upload, Wire};

/// Why a request got no answer to pass on.
#[derive(Debug, thiserror::Error)]
pub(crate) enum SendError {
    /// No connection could be made.
    #[error("connect failed: {0}")]
    Connect(io::Error),
    /// Nothing, or nothing valid, came back. `stale`: the connection came from the pool and
    /// nothing at all came back on it after the whole request went out, most likely because
    /// the server had just closed it.
    #[error("{reason}")]
    NoResponse {
        reason: Cow<'static, str>,
        stale: bool,
    },
    /// The client's body failed (it went away, or stopped sending: see
    /// [`Progress`](crate::request_body::Progress)).
    #[error("client body: {0}")]
    Client(BoxError),
}

/// The server a request goes to and how.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Target<'a> {
    pub(crate) server: &'a Arc<Server>,
    pub(crate) pool: &'a PoolSettings,
    /// On a new connection, not a pooled one (after a pooled one turned out closed).
    pub(crate) fresh: bool,
}

/// Sends `request` (origin-form target, headers already rewritten for the server) to the
/// target's server and returns the answer once its head came. Interim answers (1xx but 101)
/// are skipped, as hyper's client skips them. No timeout here: the caller's upstream
/// timeout covers the whole wait.
pub(crate) async fn send(
    target: Target<'_>,
    request: Request<RequestBody>,
) -> Result<Response<ServerBody>, SendError> {
    let Target {
        server,
        pool,
        fresh,
    } = target;
    let pooled = if fresh {
        None
    } else {
        server.pool.take(pool.idle_timeout)
    };
    let reused = pooled.is_some();
    let stream = match pooled {
        Some(stream) => stream,
        None => crate::upstream::connect(server.address, pool.connect_timeout)
            .await
            .map_err(SendError::Connect)?,
    };
    let (parts, body) = request.into_parts();
    let is_head = parts.method == Method::HEAD;
    let (head, outgoing) = head::request(&parts, &server.authority, &body);
    let upload = Upload::new(head, body, outgoing);
    let mut wire = Wire::new(stream, Arc::clone(&server.metrics), upload);
    let answer = std::future::poll_fn(|cx| wire.poll_head(cx, is_head)).await;
    let head = answer.map_err(|error| match error {
        SendError::NoResponse { reason, stale } => SendError::NoResponse {
            reason,
            stale: stale && reused,
        },
        other => other,
    })?;
    let body = match head.framing {
        Framing::Upgrade => ServerBody::upgraded(wire),
        Framing::Empty => {
            if head.reusable && wire.is_reusable() {
                server.pool.put(wire.into_stream(), pool.max_idle);
            }
            ServerBody::empty()
        }
        framing => ServerBody::reading(wire, framing, head.reusable, server, pool.max_idle),
    };
    Ok(Response::from_parts(head.parts, body))
}

#[cfg(test)]
mod tests;
