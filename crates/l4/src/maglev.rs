//! Maglev hashing (Eisenbud et al., NSDI 2016, §3.4), computed here and loaded into the
//! kernel as a map `jhash(flow) mod SIZE -> backend`.
//!
//! Every LB with the same backends must build the same table, or a flow that moves between
//! LBs (a VRRP failover, or ECMP in front of several LBs) lands elsewhere. So the table
//! depends only on the backends' addresses and weights: not on their order in the config
//! (they are sorted), the host, the start time or the Rust version (the hash is FNV-1a with
//! a fixed finaliser, not std's unspecified `DefaultHasher`).

use std::net::SocketAddr;

use crate::weights::{interleave, reduce};

/// Slots in every Maglev table: a prime (the paper's requirement, so every `skip` walks
/// all slots), the default of the kernel's own `ip_vs_mh`. Replacing all 4093 elements of
/// a map takes about 25 ms of nft here; 65537 took 300 ms.
pub(crate) const SIZE: usize = 4093;

/// Weights are scaled down to at most this many turns per round; small enough that a
/// round is a small part of the table, large enough for a weight share within 1%.
const TURNS: u32 = 256;

/// The Maglev table: for each of [`SIZE`] slots, the index into `backends` of its owner.
/// `weights[i]` is backend i's relative share (0 = owns no slot). Empty when no weight is
/// positive.
pub(crate) fn table(backends: &[SocketAddr], weights: &[u32]) -> Vec<usize> {
    // Sorted by address, so the turn order does not depend on the caller's order.
    let mut order: Vec<usize> = (0..backends.len()).filter(|&i| weights[i] > 0).collect();
    order.sort_by_key(|&i| backends[i]);
    if order.is_empty() {
        return Vec::new();
    }
    let size = SIZE as u64;
    let (offsets, skips): (Vec<u64>, Vec<u64>) = order
        .iter()
        .map(|&i| {
            let name = backends[i].to_string();
            (
                hash(name.as_bytes(), 0x6f66_6673) % size,
                hash(name.as_bytes(), 0x736b_6970) % (size - 1) + 1,
            )
        })
        .unzip();
    let ordered_weights: Vec<u32> = order.iter().map(|&i| weights[i]).collect();
    // Weighted Maglev: a backend of twice the weight takes twice the turns; the turns
    // of one round are interleaved so that no backend fills a run of slots at once.
    let turns = interleave(&reduce(&ordered_weights, TURNS));
    let mut next = vec![0u64; order.len()];
    let mut slots = vec![usize::MAX; SIZE];
    let mut filled = 0;
    'fill: loop {
        for &k in &turns {
            // The backend's next preferred slot that is still free (§3.4, Pseudocode 1).
            loop {
                let slot = ((offsets[k] + next[k] * skips[k]) % size) as usize;
                next[k] += 1;
                if slots[slot] == usize::MAX {
                    slots[slot] = order[k];
                    filled += 1;
                    break;
                }
            }
            if filled == SIZE {
                break 'fill;
            }
        }
    }
    slots
}

/// FNV-1a 64 over `bytes` after `seed`, then splitmix64's finaliser: FNV alone leaves
/// the low bits of similar strings ("10.0.3.11:80", "10.0.3.12:80") correlated.
fn hash(bytes: &[u8], seed: u64) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &byte in seed.to_le_bytes().iter().chain(bytes) {
        h ^= u64::from(byte);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h = (h ^ (h >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    h = (h ^ (h >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    h ^ (h >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addresses(n: u8) -> Vec<SocketAddr> {
        (0..n)
            .map(|i| format!("10.0.3.{}:8080", 11 + i).parse().expect("address"))
            .collect()
    }

    fn shares(slots: &[usize], n: usize) -> Vec<f64> {
        let mut counts = vec![0usize; n];
        for &s in slots {
            counts[s] += 1;
        }
        counts
            .iter()
            .map(|&c| c as f64 / slots.len() as f64)
            .collect()
    }

    #[test]
    fn same_table_whatever_the_order() {
        let backends = addresses(5);
        let weights = [1, 2, 3, 1, 1];
        let first = table(&backends, &weights);
        let mut reversed = backends.clone();
        reversed.reverse();
        let mut reversed_weights = weights;
        reversed_weights.reverse();
        let second = table(&reversed, &reversed_weights);
        // Same owner address in every slot, although the indices differ.
        for (a, b) in first.iter().zip(&second) {
            assert_eq!(backends[*a], reversed[*b]);
        }
        assert_eq!(first.len(), SIZE);
    }

    #[test]
    fn equal_weights_share_equally() {
        let slots = table(&addresses(7), &[1; 7]);
        for share in shares(&slots, 7) {
            assert!((share - 1.0 / 7.0).abs() < 0.01, "{share}");
        }
    }

    #[test]
    fn weights_are_respected_within_a_few_percent() {
        let weights = [1, 2, 3, 4];
        let total: u32 = weights.iter().sum();
        let slots = table(&addresses(4), &weights);
        for (share, w) in shares(&slots, 4).iter().zip(weights) {
            let expected = f64::from(w) / f64::from(total);
            assert!((share - expected).abs() < 0.02, "{share} vs {expected}");
        }
        // A weight-0 backend owns nothing.
        let slots = table(&addresses(3), &[1, 0, 1]);
        assert!(!slots.contains(&1));
    }

    #[test]
    fn removing_a_backend_moves_little_more_than_its_share() {
        let backends = addresses(10);
        let before = table(&backends, &[1; 10]);
        let mut weights = [1; 10];
        weights[4] = 0;
        let after = table(&backends, &weights);
        let moved_others = before
            .iter()
            .zip(&after)
            .filter(|(b, a)| **b != 4 && b != a)
            .count();
        // Its own tenth must move; Maglev moves only a little of everyone else's.
        assert!(!after.contains(&4));
        let fraction = moved_others as f64 / SIZE as f64;
        assert!(fraction < 0.03, "{fraction} of the other slots moved");
    }

    #[test]
    fn adding_a_backend_takes_slots_mostly_from_others_evenly() {
        let backends = addresses(6);
        let before = table(&backends[..5], &[1; 5]);
        let after = table(&backends, &[1; 6]);
        let moved_to_other = before
            .iter()
            .zip(&after)
            .filter(|(b, a)| b != a && **a != 5)
            .count();
        let fraction = moved_to_other as f64 / SIZE as f64;
        assert!(fraction < 0.03, "{fraction} moved between old backends");
    }

    #[test]
    fn hash_is_fixed() {
        // Pinned: a change here changes every deployed table and breaks mixed-version pairs.
        let slots = table(&addresses(3), &[1, 1, 1]);
        assert_eq!(slots[..12], [0, 0, 2, 2, 1, 0, 2, 2, 1, 1, 1, 1]);
    }
}
