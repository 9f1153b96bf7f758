//! What a client connection holds while it is served: its slot under the listener's
//! connection limit and, when a per-client limit is set, its place in its address's count.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, PoisonError};

use tokio::sync::OwnedSemaphorePermit;

/// A connection's admission, held by its socket for as long as the socket lives (also in a
/// WebSocket tunnel after an upgrade), so that both limits count open sockets.
#[derive(Debug)]
pub(crate) struct Slot {
    _permit: OwnedSemaphorePermit,
    _client: Option<ClientGuard>,
}

impl Slot {
    pub(crate) fn new(permit: OwnedSemaphorePermit, client: Option<ClientGuard>) -> Self {
        Slot {
            _permit: permit,
            _client: client,
        }
    }
}

/// Open connections per client address, against `max_connections_per_client`.
///
/// One lock for the whole map: it is taken once when a connection opens and once when it
/// closes, both far rarer than the requests on it. Only addresses with open connections
/// are in the map, so it never holds more entries than there are connections.
#[derive(Debug)]
pub(crate) struct PerClient {
    limit: usize,
    open: Mutex<HashMap<IpAddr, usize>>,
}

/// One connection of one client address; see [`PerClient::admit`].
#[derive(Debug)]
pub(crate) struct ClientGuard {
    tracker: Arc<PerClient>,
    address: IpAddr,
}

impl PerClient {
    /// A tracker allowing `limit` connections per address (at least one).
    pub(crate) fn new(limit: usize) -> Arc<Self> {
        Arc::new(PerClient {
            limit: limit.max(1),
            open: Mutex::new(HashMap::new()),
        })
    }

    /// A place for one more connection from `address`, or `None` when the address has
    /// `limit` open already. An IPv4 client seen on a dual-stack socket (as `::ffff:a.b.c.d`)
    /// counts as its IPv4 address.
    pub(crate) fn admit(self: &Arc<Self>, address: IpAddr) -> Option<ClientGuard> {
        let address = address.to_canonical();
        let mut open = self.open.lock().unwrap_or_else(PoisonError::into_inner);
        let count = open.entry(address).or_insert(0);
        if *count >= self.limit {
            return None;
        }
        *count += 1;
        Some(ClientGuard {
            tracker: Arc::clone(self),
            address,
        })
    }

    #[cfg(test)]
    fn open(&self, address: IpAddr) -> usize {
        let open = self.open.lock().unwrap_or_else(PoisonError::into_inner);
        open.get(&address).copied().unwrap_or(0)
    }
}

impl Drop for ClientGuard {
    fn drop(&mut self) {
        let mut open = self
            .tracker
            .open
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(count) = open.get_mut(&self.address) {
            *count -= 1;
            if *count == 0 {
                open.remove(&self.address);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_address_gets_its_limit_and_closing_frees_a_place() {
        let tracker = PerClient::new(2);
        let a: IpAddr = "192.0.2.1".parse().expect("ip");
        let b: IpAddr = "192.0.2.2".parse().expect("ip");
        let first = tracker.admit(a).expect("first");
        let second = tracker
            .admit("::ffff:192.0.2.1".parse().expect("ip"))
            .expect("second");
        assert!(tracker.admit(a).is_none(), "a third from the same address");
        let other = tracker.admit(b).expect("another address is not affected");
        drop(first);
        let again = tracker.admit(a).expect("a place was freed");
        drop((second, again, other));
        assert_eq!(tracker.open(a), 0);
        assert!(
            tracker.open.lock().expect("lock").is_empty(),
            "no entry left behind"
        );
    }
}
