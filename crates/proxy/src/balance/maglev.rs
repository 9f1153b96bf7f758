//! Maglev consistent hashing (Eisenbud et al., "Maglev: A Fast and Reliable Software Network
//! Load Balancer", NSDI 2016, section 3.4), with Envoy's weighted population.
//!
//! Each server gets a permutation of the table's slots from two hashes of its id,
//! `offset = h1(id) % M` and `skip = h2(id) % (M - 1) + 1`; with `M` prime every skip visits
//! every slot. Servers take turns claiming their next free slot until the table is full, so
//! each ends up with a near-equal share and a server's removal disturbs few other slots.
//! Weights change whose turn it is: a server of weight `w` takes a turn in iteration `i`
//! when `i * w` has caught up with `max_weight` times the turns it has taken, so its share of
//! the table is `w / total` to within a slot per iteration. Servers are populated in id
//! order, so the table depends only on the set of (id, weight), not on the input order.
//!
//! A lookup is `table[hash(key) % M]`. When that slot's server is not a candidate (unhealthy,
//! drained, excluded for a retry) the lookup walks on to the next slots until it meets a
//! candidate. The keys of absent servers thus move to others in proportion to their
//! slots, and no other key moves; when the server returns its keys come back. The table is
//! only rebuilt when the configuration changes.

use std::fmt;
use std::net::IpAddr;

use super::hash::{KEY_SEED, below, stable_hash};
use super::round_robin::SmoothRoundRobin;
use super::{Balancer, Candidate, HashKey};

/// The table size: prime, and about 100 times the number of servers Maglev is meant for
/// (the paper's rule for keeping every server's share within about 1% of the others').
/// Beyond about 650 servers shares get coarser; beyond 65537 servers the ones with the
/// highest ids get no slot.
pub(super) const TABLE_SIZE: usize = 65537;

const OFFSET_SEED: u64 = 1;
const SKIP_SEED: u64 = 2;
const EMPTY: u32 = u32::MAX;

pub(super) struct Maglev {
    /// Server ids in increasing order; the table holds indices into this.
    servers: Vec<usize>,
    /// `TABLE_SIZE` entries, or none when no server has a weight above 0.
    table: Box<[u32]>,
    /// For requests that carry no key.
    no_key: SmoothRoundRobin,
}

impl fmt::Debug for Maglev {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Maglev")
            .field("servers", &self.servers)
            .field("table_size", &self.table.len())
            .finish_non_exhaustive()
    }
}

impl Maglev {
    /// Builds the table. Servers of weight 0 are left out; an id listed twice gets the sum of
    /// its weights.
    pub(super) fn new(servers: &[(usize, u32)]) -> Self {
        let mut weighted: Vec<(usize, u64)> = servers
            .iter()
            .filter(|&&(_, weight)| weight > 0)
            .map(|&(id, weight)| (id, u64::from(weight)))
            .collect();
        weighted.sort_unstable_by_key(|&(id, _)| id);
        weighted.dedup_by(|next, kept| {
            let same = next.0 == kept.0;
            if same {
                kept.1 += next.1;
            }
            same
        });
        weighted.truncate(TABLE_SIZE);
        Self {
            table: populate(&weighted),
            servers: weighted.into_iter().map(|(id, _)| id).collect(),
            no_key: SmoothRoundRobin::new(),
        }
    }

    /// The server of the first slot from `start` on whose server is a candidate, if any
    /// candidate is in the table.
    fn walk(&self, start: usize, candidates: &[Candidate]) -> Option<usize> {
        let mut eligible = vec![0u64; self.servers.len().div_ceil(64)];
        let mut any = false;
        for candidate in candidates.iter().filter(|c| c.weight > 0) {
            if let Ok(i) = self.servers.binary_search(&candidate.id) {
                eligible[i / 64] |= 1 << (i % 64);
                any = true;
            }
        }
        if !any {
            return None;
        }
        // Every server in the table owns at least one slot, so this ends within a lap.
        (1..TABLE_SIZE)
            .map(|step| self.table[(start + step) % TABLE_SIZE] as usize)
            .find(|&i| eligible[i / 64] & (1 << (i % 64)) != 0)
            .map(|i| self.servers[i])
    }

    #[cfg(test)]
    pub(super) fn slot_counts(&self) -> std::collections::BTreeMap<usize, usize> {
        let mut counts = std::collections::BTreeMap::new();
        for &i in &*self.table {
            *counts.entry(self.servers[i as usize]).or_default() += 1;
        }
        counts
    }
}

impl Balancer for Maglev {
    fn pick(&self, candidates: &[Candidate], key: Option<&HashKey<'_>>) -> Option<usize> {
        let Some(key) = key else {
            return self.no_key.pick(candidates, None);
        };
        let hash = key_hash(key);
        if !self.table.is_empty() {
            let start = (hash % TABLE_SIZE as u64) as usize;
            let id = self.servers[self.table[start] as usize];
            if candidates.iter().any(|c| c.id == id && c.weight > 0) {
                return Some(id);
            }
            if let Some(id) = self.walk(start, candidates) {
                return Some(id);
            }
        }
        by_hash(hash, candidates)
    }
}

/// Fills the table, Envoy's way (`MaglevTable::constructMaglevTableInternal`).
fn populate(servers: &[(usize, u64)]) -> Box<[u32]> {
    if servers.is_empty() {
        return Box::default();
    }
    let m = TABLE_SIZE as u64;
    let mut next: Vec<u64> = Vec::with_capacity(servers.len());
    let mut skip: Vec<u64> = Vec::with_capacity(servers.len());
    for &(id, _) in servers {
        let bytes = (id as u64).to_le_bytes();
        next.push(stable_hash(OFFSET_SEED, &bytes) % m);
        skip.push(stable_hash(SKIP_SEED, &bytes) % (m - 1) + 1);
    }
    let max_weight = servers.iter().map(|&(_, w)| w).max().unwrap_or(1);
    let mut turns_owed = vec![0u64; servers.len()];

    let mut table = vec![EMPTY; TABLE_SIZE].into_boxed_slice();
    let mut filled = 0;
    // The heaviest server takes a turn every iteration, so this ends within M iterations.
    'fill: for iteration in 1u64.. {
        for (i, &(_, weight)) in servers.iter().enumerate() {
            if iteration.saturating_mul(weight) < turns_owed[i] {
                continue;
            }
            turns_owed[i] += max_weight;
            loop {
                let slot = next[i] as usize;
                next[i] = (next[i] + skip[i]) % m;
                if table[slot] == EMPTY {
                    table[slot] = i as u32;
                    break;
                }
            }
            filled += 1;
            if filled == TABLE_SIZE {
                break 'fill;
            }
        }
    }
    table
}

fn key_hash(key: &HashKey<'_>) -> u64 {
    match key {
        HashKey::ClientAddr(addr) => match addr.to_canonical() {
            IpAddr::V4(v4) => stable_hash(KEY_SEED, &v4.octets()),
            IpAddr::V6(v6) => stable_hash(KEY_SEED, &v6.octets()),
        },
        HashKey::Header(value) => stable_hash(KEY_SEED, value),
        HashKey::Path(path) => stable_hash(KEY_SEED, path.as_bytes()),
    }
}

/// For candidates the table does not know (the server list changed without a rebuild): a
/// choice by weight that still depends only on the key and the candidate set.
fn by_hash(hash: u64, candidates: &[Candidate]) -> Option<usize> {
    let total: u64 = candidates.iter().map(|c| u64::from(c.weight)).sum();
    if total == 0 {
        return None;
    }
    let mut point = below(hash, total);
    for candidate in candidates.iter().filter(|c| c.weight > 0) {
        let weight = u64::from(candidate.weight);
        if point < weight {
            return Some(candidate.id);
        }
        point -= weight;
    }
    None
}

#[cfg(test)]
mod tests {
    use std::net::{Ipv4Addr, Ipv6Addr};

    use super::*;

    const KEYS: u32 = 100_000;

    fn equal(n: usize) -> Vec<(usize, u32)> {
        (0..n).map(|id| (id, 1)).collect()
    }

    fn candidates(servers: &[(usize, u32)]) -> Vec<Candidate> {
        servers
            .iter()
            .map(|&(id, weight)| Candidate {
                id,
                weight,
                active: 0,
            })
            .collect()
    }

    fn addr(i: u32) -> HashKey<'static> {
        // Spread over the whole IPv4 space, as clients are.
        HashKey::ClientAddr(IpAddr::V4(Ipv4Addr::from(i.wrapping_mul(2_654_435_761))))
    }

    fn assignments(maglev: &Maglev, candidates: &[Candidate]) -> Vec<usize> {
        (0..KEYS)
            .map(|i| maglev.pick(candidates, Some(&addr(i))).unwrap())
            .collect()
    }

    #[test]
    fn table_is_fully_populated_and_shared_equally() {
        let maglev = Maglev::new(&equal(10));
        assert_eq!(maglev.table.len(), TABLE_SIZE);
        assert!(maglev.table.iter().all(|&i| i != EMPTY));
        let counts = maglev.slot_counts();
        assert_eq!(counts.len(), 10);
        // Equal turns: shares differ by at most one slot.
        let (min, max) = (counts.values().min(), counts.values().max());
        assert!(max.unwrap() - min.unwrap() <= 1, "{counts:?}");
    }

    #[test]
    fn table_shares_follow_weights() {
        for weights in [
            vec![1, 2, 3],
            vec![1, 1, 1, 1, 10],
            vec![100, 250, 7, 64, 33, 1000],
        ] {
            let servers: Vec<(usize, u32)> = weights.iter().copied().enumerate().collect();
            let maglev = Maglev::new(&servers);
            assert!(maglev.table.iter().all(|&i| i != EMPTY));
            let total: u32 = weights.iter().sum();
            for (id, count) in maglev.slot_counts() {
                let share = count as f64 / TABLE_SIZE as f64;
                let expected = f64::from(weights[id]) / f64::from(total);
                assert!(
                    (share - expected).abs() < 0.01 && (share / expected - 1.0).abs() < 0.02,
                    "weights {weights:?}: server {id} has {share:.4}, expected {expected:.4}"
                );
            }
        }
    }

    #[test]
    fn a_server_of_tiny_weight_still_gets_a_slot() {
        let maglev = Maglev::new(&[(0, 1), (1, u32::MAX)]);
        let counts = maglev.slot_counts();
        assert_eq!(counts[&0], 1);
        assert_eq!(counts[&1], TABLE_SIZE - 1);
    }

    #[test]
    fn the_table_depends_on_the_set_not_the_order() {
        let a = Maglev::new(&[(3, 1), (10, 2), (7, 1), (42, 5)]);
        let b = Maglev::new(&[(42, 5), (7, 1), (3, 1), (10, 2)]);
        assert_eq!(a.table, b.table);
        assert_eq!(a.servers, b.servers);
        // Duplicates add up; weight 0 is left out.
        let c = Maglev::new(&[(42, 2), (7, 1), (3, 1), (10, 2), (42, 3), (99, 0)]);
        assert_eq!(a.table, c.table);
        assert_eq!(a.servers, c.servers);
    }

    #[test]
    fn lookups_are_deterministic_and_pinned() {
        let servers = equal(10);
        let set = candidates(&servers);
        let a = Maglev::new(&servers);
        let b = Maglev::new(&servers);
        assert_eq!(assignments(&a, &set), assignments(&b, &set));
        let path = HashKey::Path("/index.html");
        let first = a.pick(&set, Some(&path));
        for _ in 0..10 {
            assert_eq!(a.pick(&set, Some(&path)), first);
        }
        // Changing these remaps every key on every host, across versions: don't. (Cross-checked
        // against an independent Python implementation of the population and the hash.)
        let pinned: Vec<Option<usize>> = [
            HashKey::Path("/index.html"),
            HashKey::Path("/api/v1/users/17"),
            HashKey::Header(b"session-8c2f"),
            HashKey::ClientAddr(IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1))),
            HashKey::ClientAddr(IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1))),
        ]
        .iter()
        .map(|key| a.pick(&set, Some(key)))
        .collect();
        assert_eq!(pinned, PINNED_PICKS);
        assert_eq!(stable_hash(0, &table_bytes(&a)), PINNED_TABLE);
    }

    const PINNED_PICKS: [Option<usize>; 5] = [Some(5), Some(3), Some(0), Some(2), Some(9)];
    const PINNED_TABLE: u64 = 0xcb3c_05ab_7d02_2afd;

    fn table_bytes(maglev: &Maglev) -> Vec<u8> {
        maglev.table.iter().flat_map(|i| i.to_le_bytes()).collect()
    }

    #[test]
    fn ipv4_mapped_addresses_hash_as_ipv4() {
        let v4 = Ipv4Addr::new(198, 51, 100, 7);
        assert_eq!(
            key_hash(&HashKey::ClientAddr(IpAddr::V4(v4))),
            key_hash(&HashKey::ClientAddr(IpAddr::V6(v4.to_ipv6_mapped())))
        );
    }

    #[test]
    fn key_shares_follow_weights() {
        let servers = vec![(0, 1), (1, 2), (2, 3)];
        let maglev = Maglev::new(&servers);
        let mut counts = [0u32; 3];
        for id in assignments(&maglev, &candidates(&servers)) {
            counts[id] += 1;
        }
        for (id, &n) in counts.iter().enumerate() {
            let share = f64::from(n) / f64::from(KEYS);
            let expected = (id + 1) as f64 / 6.0;
            assert!((share - expected).abs() < 0.01, "{counts:?}");
        }
    }

    /// Returns (fraction of all keys that moved, fraction of the keys not on `removed`
    /// that moved).
    fn disruption(before: &[usize], after: &[usize], removed: usize) -> (f64, f64) {
        let moved = before.iter().zip(after).filter(|(b, a)| b != a).count();
        let others = before.iter().filter(|&&b| b != removed).count();
        let others_moved = before
            .iter()
            .zip(after)
            .filter(|&(b, a)| *b != removed && b != a)
            .count();
        (
            moved as f64 / before.len() as f64,
            others_moved as f64 / others as f64,
        )
    }

    #[test]
    fn an_unhealthy_server_moves_only_its_own_keys() {
        let servers = equal(10);
        let maglev = Maglev::new(&servers);
        let all = candidates(&servers);
        let before = assignments(&maglev, &all);

        let healthy: Vec<Candidate> = all.iter().copied().filter(|c| c.id != 4).collect();
        let after = assignments(&maglev, &healthy);
        assert!(after.iter().all(|&id| id != 4));
        let (moved, others_moved) = disruption(&before, &after, 4);
        println!("unhealthy 1 of 10: moved {moved:.4}, others moved {others_moved:.4}");
        assert!(moved < 0.1 + 0.005, "moved {moved}");
        assert_eq!(others_moved, 0.0);

        // Its keys spread over the nine others, roughly evenly.
        let mut inherited = [0u32; 10];
        for (b, a) in before.iter().zip(&after) {
            if *b == 4 {
                inherited[*a] += 1;
            }
        }
        let orphans: u32 = inherited.iter().sum();
        for (id, &n) in inherited.iter().enumerate().filter(|&(id, _)| id != 4) {
            let share = f64::from(n) / f64::from(orphans);
            assert!(
                (0.5 / 9.0..1.5 / 9.0).contains(&share),
                "{id}: {inherited:?}"
            );
        }

        // Healthy again: every key is back where it was.
        assert_eq!(assignments(&maglev, &all), before);
    }

    #[test]
    fn removing_a_server_from_the_configuration_moves_about_its_share() {
        let servers = equal(10);
        let before = assignments(&Maglev::new(&servers), &candidates(&servers));
        let nine: Vec<(usize, u32)> = servers.iter().copied().filter(|&(id, _)| id != 4).collect();
        let after = assignments(&Maglev::new(&nine), &candidates(&nine));
        let (moved, others_moved) = disruption(&before, &after, 4);
        println!("rebuilt without 1 of 10: moved {moved:.4}, others moved {others_moved:.4}");
        assert!(moved < 0.1 + 0.01, "moved {moved}");
        assert!(others_moved < 0.01, "others moved {others_moved}");

        // Added back: the same table, so the same assignments.
        assert_eq!(
            assignments(&Maglev::new(&servers), &candidates(&servers)),
            before
        );
    }

    #[test]
    fn many_unhealthy_servers_still_resolve() {
        let servers = equal(100);
        let maglev = Maglev::new(&servers);
        let last = candidates(&[(99, 1)]);
        for i in 0..1000 {
            assert_eq!(maglev.pick(&last, Some(&addr(i))), Some(99));
        }
    }

    #[test]
    fn candidates_unknown_to_the_table_are_chosen_by_hash() {
        let maglev = Maglev::new(&equal(3));
        let strangers = candidates(&[(50, 1), (51, 3)]);
        let mut counts = [0u32; 2];
        for i in 0..KEYS {
            let key = addr(i);
            let id = maglev.pick(&strangers, Some(&key)).unwrap();
            assert_eq!(maglev.pick(&strangers, Some(&key)), Some(id));
            counts[id - 50] += 1;
        }
        let share = f64::from(counts[1]) / f64::from(KEYS);
        assert!((share - 0.75).abs() < 0.01, "{counts:?}");
        // And a table with no servers at all still answers.
        let empty = Maglev::new(&[]);
        assert!(empty.pick(&strangers, Some(&addr(1))).is_some());
        assert_eq!(empty.pick(&[], Some(&addr(1))), None);
    }

    #[test]
    fn no_key_falls_back_to_round_robin() {
        let servers = equal(3);
        let maglev = Maglev::new(&servers);
        let set = candidates(&servers);
        let picks: Vec<Option<usize>> = (0..6).map(|_| maglev.pick(&set, None)).collect();
        assert_eq!(picks, [0, 1, 2, 0, 1, 2].map(Some));
    }

    #[test]
    fn weight_zero_candidates_are_skipped() {
        let servers = equal(4);
        let maglev = Maglev::new(&servers);
        let mut set = candidates(&servers);
        set[1].weight = 0;
        for i in 0..10_000 {
            assert_ne!(maglev.pick(&set, Some(&addr(i))), Some(1));
        }
        for c in &mut set {
            c.weight = 0;
        }
        assert_eq!(maglev.pick(&set, Some(&addr(0))), None);
    }
}
