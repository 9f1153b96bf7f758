//! hyper's connections to the servers, counting their bytes into the server's metrics as the
//! HTTP/1.1 path's connections do: whatever hyper serves (HTTP/2 from clients, HTTP/1.0,
//! `Expect`, WebSocket tunnels) goes over these.
//!
//! hyper's client tells a connector only the URI, so the connector looks the server up by
//! the URI's authority (the server's address, see `forward`) once per new connection, in a
//! directory the set publishes on every build; the connection then keeps the server's
//! counters for its whole life. A request on a pooled connection costs the counting only:
//! no lookup, lock or allocation.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

use arc_swap::ArcSwap;
use http::Uri;
use http::uri::Authority;
use hyper_util::client::legacy::connect::{Connected, Connection, HttpConnector};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;
use tower_service::Service;

use super::Server;
use crate::counted::Counted;
use crate::metrics::ServerCounters;

/// A connection to a server, counting into its counters.
pub(crate) type CountedStream = TokioIo<Counted<TcpStream, Arc<ServerCounters>>>;

type HttpConnecting = <HttpConnector as Service<Uri>>::Future;

/// Whose counters a new connection to an authority feeds.
#[derive(Debug, Default)]
pub(crate) struct Directory {
    servers: ArcSwap<Vec<(Authority, Arc<ServerCounters>)>>,
    /// For a connection to an address no current server has (a request of a set a reload
    /// just replaced): counted, but shown nowhere.
    unlisted: Arc<ServerCounters>,
}

impl Directory {
    /// From now on, new connections count into `servers`' counters. Two servers at one
    /// address share hyper's connections; the first one listed gets their counts.
    pub(crate) fn publish<'a>(&self, servers: impl Iterator<Item = &'a Arc<Server>>) {
        let entries = servers
            .map(|s| (s.authority.clone(), Arc::clone(&s.metrics)))
            .collect();
        self.servers.store(Arc::new(entries));
    }

    fn counters_of(&self, uri: &Uri) -> Arc<ServerCounters> {
        let servers = self.servers.load();
        uri.authority()
            .and_then(|authority| servers.iter().find(|(a, _)| a == authority))
            .map_or_else(|| Arc::clone(&self.unlisted), |(_, c)| Arc::clone(c))
    }
}

/// hyper's [`HttpConnector`], its streams wrapped in [`Counted`].
#[derive(Debug, Clone)]
pub(crate) struct CountingConnector {
    http: HttpConnector,
    directory: Arc<Directory>,
}

impl CountingConnector {
    pub(crate) fn new(http: HttpConnector, directory: Arc<Directory>) -> Self {
        CountingConnector { http, directory }
    }
}

impl Service<Uri> for CountingConnector {
    type Response = CountedStream;
    type Error = <HttpConnector as Service<Uri>>::Error;
    type Future = Connecting;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.http.poll_ready(cx)
    }

    fn call(&mut self, uri: Uri) -> Self::Future {
        Connecting {
            counters: Some(self.directory.counters_of(&uri)),
            connecting: self.http.call(uri),
        }
    }
}

/// A connection being made, and the counters it will count into.
pub(crate) struct Connecting {
    connecting: HttpConnecting,
    counters: Option<Arc<ServerCounters>>,
}

impl Future for Connecting {
    type Output = Result<CountedStream, <HttpConnector as Service<Uri>>::Error>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        let stream = ready!(Pin::new(&mut this.connecting).poll(cx))?.into_inner();
        let counters = this.counters.take().expect("polled after completion");
        Poll::Ready(Ok(TokioIo::new(Counted::new(stream, counters))))
    }
}

impl Connection for Counted<TcpStream, Arc<ServerCounters>> {
    fn connected(&self) -> Connected {
        self.get_ref().connected()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_connection_counts_into_the_server_at_its_authority() {
        let servers = [
            Server::new("127.0.0.1:9001".parse().expect("address")),
            Server::new("127.0.0.1:9002".parse().expect("address")),
        ];
        let directory = Directory::default();
        directory.publish(servers.iter());
        let uri: Uri = "http://127.0.0.1:9002/path".parse().expect("uri");
        assert!(Arc::ptr_eq(
            &directory.counters_of(&uri),
            &servers[1].metrics
        ));
        // A reload that removed the server: counted where no server's row shows it.
        directory.publish(servers[..1].iter());
        let counters = directory.counters_of(&uri);
        assert!(!servers.iter().any(|s| Arc::ptr_eq(&counters, &s.metrics)));
    }
}
