//! Idle keep-alive connections to one server: the one pool both forwarding paths take
//! server connections from and give them back to, this crate's HTTP/1.1 exchange
//! (`h1::exchange`) and hyper's path (`upstream_client`). Last in, first out: the
//! connection used last is the least likely to have been closed by the server, and the
//! oldest ones age out at the bottom.

use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use tokio::net::TcpStream;
use tokio::time::Instant;

#[derive(Debug, Default)]
pub(crate) struct Pool {
    /// Oldest first.
    idle: Mutex<Vec<Idle>>,
    /// Connections handed out again by [`Pool::take`], whichever path asked.
    reused: AtomicU64,
    /// Connections kept by [`Pool::put`].
    kept: AtomicU64,
}

#[derive(Debug)]
struct Idle {
    stream: TcpStream,
    since: Instant,
}

impl Pool {
    /// The most recently used connection that is still open and was idle for less than
    /// `idle_timeout`.
    pub(crate) fn take(&self, idle_timeout: Duration) -> Option<TcpStream> {
        self.take_at(idle_timeout, Instant::now())
    }

    /// [`Pool::take`] with the clock read by the caller: `now`.
    pub(crate) fn take_at(&self, idle_timeout: Duration, now: Instant) -> Option<TcpStream> {
        let mut idle = self.lock();
        while let Some(connection) = idle.pop() {
            if now.duration_since(connection.since) < idle_timeout && is_open(&connection.stream) {
                self.reused.fetch_add(1, Relaxed);
                return Some(connection.stream);
            }
        }
        None
    }

    /// Keeps `stream` for the next request, unless `max_idle` are kept already.
    pub(crate) fn put(&self, stream: TcpStream, max_idle: usize) {
        self.put_at(stream, max_idle, Instant::now());
    }

    /// [`Pool::put`] of a connection last used at `since` (read by the caller; an earlier
    /// instant only makes the connection age out sooner).
    pub(crate) fn put_at(&self, stream: TcpStream, max_idle: usize, since: Instant) {
        let mut idle = self.lock();
        if idle.len() < max_idle {
            self.kept.fetch_add(1, Relaxed);
            idle.push(Idle { stream, since });
        }
    }

    /// Closes the connections idle for `idle_timeout` or more, and the oldest ones beyond
    /// `max_idle` (a reload may have lowered it).
    pub(crate) fn prune(&self, idle_timeout: Duration, max_idle: usize) {
        let mut idle = self.lock();
        let now = Instant::now();
        let expired = idle.partition_point(|c| now.duration_since(c.since) >= idle_timeout);
        let excess = idle.len().saturating_sub(max_idle);
        idle.drain(..expired.max(excess));
    }

    /// Closes every idle connection.
    pub(crate) fn clear(&self) {
        self.lock().clear();
    }

    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.lock().len()
    }

    /// How many connections were taken out again and how many were put back, since the
    /// server was first configured.
    #[cfg(test)]
    pub(crate) fn counts(&self) -> (u64, u64) {
        (self.reused.load(Relaxed), self.kept.load(Relaxed))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Idle>> {
        self.idle.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Opens a connection to the server at `address`, for either path, within `timeout`.
pub(crate) async fn connect(address: SocketAddr, timeout: Duration) -> io::Result<TcpStream> {
    let stream = tokio::time::timeout(timeout, TcpStream::connect(address))
        .await
        .map_err(|_| {
            io::Error::new(
                io::ErrorKind::TimedOut,
                format!("no connection in {timeout:?}"),
            )
        })??;
    stream.set_nodelay(true)?;
    Ok(stream)
}

/// False when the server closed the idle connection or sent something unasked. Costs no
/// system call while the socket is quiet: Tokio only reads once epoll said it is readable.
fn is_open(stream: &TcpStream) -> bool {
    let mut byte = [0u8; 1];
    matches!(stream.try_read(&mut byte), Err(error) if error.kind() == io::ErrorKind::WouldBlock)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn gives_back_the_last_connection_put() {
        let pool = Pool::default();
        let (first, _a) = crate::test_support::connected_pair().await;
        let (second, _b) = crate::test_support::connected_pair().await;
        let second_port = second.local_addr().expect("addr").port();
        pool.put(first, 8);
        pool.put(second, 8);
        let taken = pool.take(Duration::from_secs(60)).expect("idle");
        assert_eq!(taken.local_addr().expect("addr").port(), second_port);
        assert_eq!(pool.len(), 1);
        assert_eq!(pool.counts(), (1, 2), "one reused, two kept");
    }

    #[tokio::test]
    async fn skips_connections_the_server_closed() {
        let pool = Pool::default();
        let (client, server) = crate::test_support::connected_pair().await;
        pool.put(client, 8);
        drop(server);
        // Let the runtime see the FIN.
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(pool.take(Duration::from_secs(60)).is_none());
    }

    #[tokio::test]
    async fn keeps_at_most_max_idle_and_ages_them_out() {
        let pool = Pool::default();
        let mut servers = Vec::new();
        for _ in 0..3 {
            let (client, server) = crate::test_support::connected_pair().await;
            servers.push(server);
            pool.put(client, 2);
        }
        assert_eq!(pool.len(), 2);
        pool.prune(Duration::from_secs(60), 1);
        assert_eq!(pool.len(), 1, "a lowered limit closes the excess");
        pool.prune(Duration::ZERO, 2);
        assert_eq!(pool.len(), 0);
        let (client, _server) = crate::test_support::connected_pair().await;
        pool.put(client, 2);
        assert!(pool.take(Duration::ZERO).is_none(), "too old to use");
    }

    /// `keepalive = 0` in baton.toml: every request opens a new connection.
    #[tokio::test]
    async fn keeps_nothing_with_max_idle_zero() {
        let pool = Pool::default();
        let (client, _server) = crate::test_support::connected_pair().await;
        pool.put(client, 0);
        assert_eq!(pool.len(), 0);
        assert!(pool.take(Duration::from_secs(60)).is_none());
    }
}
