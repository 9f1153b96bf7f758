//! Smooth weighted round robin, as nginx does it (`ngx_http_upstream_get_peer`).
//!
//! Every pick adds each candidate's weight to its `current`, chooses the largest `current`
//! (the first one on a tie) and takes the total weight off the winner. Over any window of
//! `total` picks each server is chosen `weight` times, and the picks of a heavy server are
//! spread out instead of bunched: weights a=5, b=1, c=1 give `a a b a c a a`.

use std::sync::{Mutex, PoisonError};

use super::{Balancer, Candidate, HashKey};

#[derive(Debug, Default)]
pub(super) struct SmoothRoundRobin {
    /// One slot per candidate of the previous pick, in its order.
    slots: Mutex<Vec<Slot>>,
}

#[derive(Debug, Clone, Copy)]
struct Slot {
    id: usize,
    current: i64,
}

impl SmoothRoundRobin {
    pub(super) fn new() -> Self {
        Self::default()
    }
}

impl Balancer for SmoothRoundRobin {
    fn pick(&self, candidates: &[Candidate], _key: Option<&HashKey<'_>>) -> Option<usize> {
        let mut slots = self.slots.lock().unwrap_or_else(PoisonError::into_inner);
        let same_set = slots.len() == candidates.len()
            && slots.iter().zip(candidates).all(|(s, c)| s.id == c.id);
        if !same_set {
            resync(&mut slots, candidates);
        }

        let mut total = 0i64;
        let mut best: Option<(usize, i64)> = None;
        for (i, (slot, candidate)) in slots.iter_mut().zip(candidates).enumerate() {
            if candidate.weight == 0 {
                continue;
            }
            let weight = i64::from(candidate.weight);
            slot.current += weight;
            total += weight;
            if best.is_none_or(|(_, current)| slot.current > current) {
                best = Some((i, slot.current));
            }
        }
        let (i, _) = best?;
        slots[i].current -= total;
        Some(candidates[i].id)
    }
}

/// Lines the slots up with a new candidate set, keeping the `current` of servers that were
/// already there; newcomers start at 0.
///
/// The sum of `current` over the set is what keeps the values bounded (a pick adds and takes
/// away the same total, so it never changes the sum); a set change can leave it away from 0,
/// so the values are shifted back around 0. Costs O(n log n) and one allocation, only when
/// the set changed.
fn resync(slots: &mut Vec<Slot>, candidates: &[Candidate]) {
    slots.sort_unstable_by_key(|s| s.id);
    let mut next: Vec<Slot> = candidates
        .iter()
        .map(|c| Slot {
            id: c.id,
            current: slots
                .binary_search_by_key(&c.id, |s| s.id)
                .map_or(0, |i| slots[i].current),
        })
        .collect();
    if !next.is_empty() {
        let sum: i64 = next.iter().map(|s| s.current).sum();
        let shift = sum / next.len() as i64;
        for slot in &mut next {
            slot.current -= shift;
        }
    }
    *slots = next;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn candidates(weights: &[u32]) -> Vec<Candidate> {
        weights
            .iter()
            .enumerate()
            .map(|(id, &weight)| Candidate {
                id,
                weight,
                active: 0,
            })
            .collect()
    }

    fn names(rr: &SmoothRoundRobin, candidates: &[Candidate], n: usize) -> String {
        (0..n)
            .map(|_| char::from(b'a' + rr.pick(candidates, None).unwrap() as u8))
            .collect()
    }

    #[test]
    fn weights_5_1_1_give_nginx_smooth_sequence() {
        let rr = SmoothRoundRobin::new();
        let c = candidates(&[5, 1, 1]);
        // nginx's documented sequence, then the cycle repeats.
        assert_eq!(names(&rr, &c, 7), "aabacaa");
        assert_eq!(names(&rr, &c, 14), "aabacaaaabacaa");
    }

    #[test]
    fn equal_weights_alternate_strictly() {
        let rr = SmoothRoundRobin::new();
        assert_eq!(names(&rr, &candidates(&[1, 1, 1]), 9), "abcabcabc");
        let rr = SmoothRoundRobin::new();
        assert_eq!(names(&rr, &candidates(&[7, 7]), 6), "ababab");
    }

    #[test]
    fn weight_zero_is_never_picked() {
        let rr = SmoothRoundRobin::new();
        assert_eq!(names(&rr, &candidates(&[0, 2, 0, 1]), 6), "bdbbdb");
        assert_eq!(rr.pick(&candidates(&[0, 0]), None), None);
    }

    #[test]
    fn a_server_leaving_and_returning_keeps_the_rest_smooth() {
        let rr = SmoothRoundRobin::new();
        let all = candidates(&[5, 1, 1]);
        assert_eq!(names(&rr, &all, 3), "aab");
        // b is unhealthy for a while: a and c share 5:1.
        let without_b = [all[0], all[2]];
        let seq = names(&rr, &without_b, 12);
        assert_eq!(seq.matches('a').count(), 10, "{seq}");
        assert_eq!(seq.matches('c').count(), 2, "{seq}");
        // b is back: the cycle is 5:1:1 again over any 7 consecutive picks after it settles.
        let _ = names(&rr, &all, 7);
        let seq = names(&rr, &all, 70);
        assert_eq!(seq.matches('a').count(), 50, "{seq}");
        assert_eq!(seq.matches('b').count(), 10, "{seq}");
        assert_eq!(seq.matches('c').count(), 10, "{seq}");
    }

    #[test]
    fn candidate_order_changes_keep_state_per_id() {
        let rr = SmoothRoundRobin::new();
        let c = candidates(&[1, 1]);
        let reversed = [c[1], c[0]];
        let mut picks = Vec::new();
        for i in 0..10 {
            let set = if i % 2 == 0 { &c[..] } else { &reversed[..] };
            picks.push(rr.pick(set, None).unwrap());
        }
        assert_eq!(picks, [0, 1, 0, 1, 0, 1, 0, 1, 0, 1]);
    }

    #[test]
    fn values_stay_bounded_under_churn() {
        let rr = SmoothRoundRobin::new();
        let all = candidates(&[3, 1, 4, 1, 5, 9, 2, 6]);
        for i in 0..10_000usize {
            // A different subset each time: drop one server in turn, sometimes two.
            let set: Vec<Candidate> = all
                .iter()
                .copied()
                .filter(|c| c.id != i % 8 && (i % 3 != 0 || c.id != (i / 3) % 8))
                .collect();
            let _ = rr.pick(&set, None);
        }
        let slots = rr.slots.lock().unwrap();
        let total: i64 = all.iter().map(|c| i64::from(c.weight)).sum();
        for s in slots.iter() {
            assert!(s.current.abs() <= 2 * total * all.len() as i64, "{s:?}");
        }
    }
}
