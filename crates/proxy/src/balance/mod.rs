//! Choosing the upstream server for a request.
//!
//! The proxy owns health and in-flight counts; a balancer only chooses. For every request the
//! proxy passes the servers that may take it, each as a [`Candidate`] with its weight and its
//! current number of in-flight requests, and gets back the chosen candidate's id:
//!
//! ```
//! use baton_proxy::balance::{Algorithm, Candidate};
//!
//! let algorithm: Algorithm = "leastconn".parse().unwrap();
//! let balancer = algorithm.build(&[(0, 1), (1, 1)]);
//! let candidates = [
//!     Candidate { id: 0, weight: 1, active: 3 },
//!     Candidate { id: 1, weight: 1, active: 0 },
//! ];
//! assert_eq!(balancer.pick(&candidates, None), Some(1));
//! ```
//!
//! # The contract
//!
//! - **Candidates** are the eligible servers only (healthy, not drained, not excluded for a
//!   retry). Their order does not matter to the outcome's fairness; an id appears at most once.
//! - **Ids are stable identities.** Round robin keeps its smooth-weight state per id and Maglev
//!   places servers in its table by a hash of the id, so the same server must keep the same id
//!   across health changes and across rebuilds after a configuration reload. An index into the
//!   configured server list is only stable while the list is; a number derived from the
//!   server's name or address (or assigned once and kept) survives edits to the list.
//!   The proxy uses "baton hash v1" of the server's address, so ids also agree between
//!   baton hosts that list the same servers in another order.
//! - **Weight 0** means "take no new requests": such a candidate is never picked.
//!   [`Balancer::pick`] returns `None` exactly when no candidate has a weight above 0.
//! - **The key** ([`HashKey`]) is only read by [`Algorithm::Maglev`]; the others ignore it.
//!   Maglev without a key (header absent or empty, see [`HashOn::key`]) falls back to smooth
//!   weighted round robin, as HAProxy's hash algorithms do.
//! - **Rebuilding**: call [`Algorithm::build`] again when the configured server list or its
//!   weights change, not when health changes. Building is cheap except for Maglev, which fills
//!   a 65537-entry table (about a millisecond for ten servers). Between rebuilds Maglev uses
//!   its build-time weights; the others read `Candidate::weight` on every pick.
//!
//! # The algorithms
//!
//! | [`Algorithm`] | name | picks | state |
//! |---|---|---|---|
//! | `RoundRobin` | `roundrobin` | nginx's smooth weighted round robin | a mutex over one integer per server |
//! | `LeastConnections` | `leastconn` | lowest `active / weight`; ties shared in weight proportion | one atomic counter |
//! | `PowerOfTwoChoices` (default) | `random`, `p2c` | two distinct servers drawn by weight, the one with the lower `active / weight` | one atomic PRNG state |
//! | `Maglev` | `maglev [source\|path\|hdr(<name>)]` | Maglev consistent hashing of the key | an immutable table |
//!
//! Every `pick` is O(number of candidates) and allocates nothing, except Maglev's fallback
//! when the key's table slot belongs to a server that is not a candidate (one small bitmap).
//! Loads are compared by cross multiplication (`a.active * b.weight` against
//! `b.active * a.weight` in 64 bits), never by division.
//!
//! Maglev keys are hashed with "baton hash v1" (FNV-1a 64 finished by MurmurHash3's fmix64,
//! see `hash.rs`), which is pinned by tests: two baton hosts sharing a VIP, or one host
//! across restarts and upgrades, send the same key to the same server.

mod algorithm;
mod hash;
mod least_conn;
mod maglev;
mod p2c;
mod round_robin;
#[cfg(test)]
mod tests;

use std::cmp::Ordering;
use std::net::{IpAddr, SocketAddr};

pub use algorithm::{Algorithm, HashOn, ParseAlgorithmError};

/// Seed of [`address_id`], apart from the key hash's so that ids and keys do not correlate.
const ID_SEED: u64 = 1;

/// The proxy's balancer id for the server at `address`: "baton hash v1" of the address as
/// text. Derived from the address, it survives reloads that reorder or edit the server list,
/// and two baton hosts with the same servers build the same Maglev table.
pub(crate) fn address_id(address: SocketAddr) -> usize {
    // Truncated on 32-bit targets, where a collision is merely less unlikely; the proxy
    // resolves collisions anyway.
    hash::stable_hash(ID_SEED, address.to_string().as_bytes()) as usize
}

/// A server that may take the request being balanced.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Candidate {
    /// The server's stable identity (see the module documentation); `pick` returns it.
    pub id: usize,
    /// Relative capacity; 0 means the server takes no new requests.
    pub weight: u32,
    /// Requests in flight to this server right now.
    pub active: u32,
}

impl Candidate {
    /// Compares `active / weight` of two candidates with positive weights.
    fn cmp_load(&self, other: &Candidate) -> Ordering {
        let mine = u64::from(self.active) * u64::from(other.weight);
        let theirs = u64::from(other.active) * u64::from(self.weight);
        mine.cmp(&theirs)
    }
}

/// What Maglev hashes to choose a server; built by the proxy, usually with [`HashOn::key`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum HashKey<'a> {
    /// The client's address; an IPv4-mapped IPv6 address hashes as the IPv4 address.
    ClientAddr(IpAddr),
    /// The value of the configured request header.
    Header(&'a [u8]),
    /// The request path, without the query string.
    Path(&'a str),
}

/// Chooses a server among candidates; shared by all the proxy's workers.
pub trait Balancer: Send + Sync + std::fmt::Debug {
    /// Returns the id of the chosen candidate, or `None` when no candidate has a weight
    /// above 0. `key` is only read by hashing algorithms.
    #[must_use]
    fn pick(&self, candidates: &[Candidate], key: Option<&HashKey<'_>>) -> Option<usize>;
}
