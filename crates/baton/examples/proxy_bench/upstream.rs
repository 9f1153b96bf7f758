//! The two upstream servers, inside this process: minimal HTTP/1.1 origins that answer
//! every request at once with the same small body, keep-alive.

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::net::TcpListener;

use crate::common::origin::{self, Site};

/// The whole answer: small and fixed.
const RESPONSE: &[u8] =
    b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 13\r\n\r\nhello, baton\n";

/// Requests answered by each upstream, to show that every proxy balances over both.
pub(crate) static SERVED: [AtomicU64; 2] = [AtomicU64::new(0), AtomicU64::new(0)];
/// Connections the upstreams accepted: few per run means the proxy keeps them alive.
pub(crate) static ACCEPTED: AtomicU64 = AtomicU64::new(0);

#[derive(Debug)]
struct Upstream {
    served: &'static AtomicU64,
}

impl Site for Upstream {
    fn accepted(&self) {
        ACCEPTED.fetch_add(1, Ordering::Relaxed);
    }

    fn answer(&self, _head: &[u8]) -> (&'static [u8], Duration) {
        self.served.fetch_add(1, Ordering::Relaxed);
        (RESPONSE, Duration::ZERO)
    }
}

/// Binds both upstreams on loopback and serves them on the current runtime.
pub(crate) async fn start() -> std::io::Result<Vec<SocketAddr>> {
    let mut addrs = Vec::new();
    for served in &SERVED {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await?;
        addrs.push(listener.local_addr()?);
        tokio::spawn(origin::serve(listener, Arc::new(Upstream { served })));
    }
    Ok(addrs)
}
