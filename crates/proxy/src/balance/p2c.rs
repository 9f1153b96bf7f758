//! Power of two choices (HAProxy's `random` with its default of two draws).
//!
//! Two distinct candidates are drawn at random, each in proportion to its weight, and the
//! one with the lower `active / weight` wins; on a tie the first draw does, so an idle farm
//! is spread in proportion to weight. Two draws are enough to avoid the herding of plain
//! least connections when many proxies (or workers) act on the same stale counts, and the
//! busiest candidate can never win.

use std::cmp::Ordering;

use super::hash::{SplitMix64, below};
use super::{Balancer, Candidate, HashKey};

#[derive(Debug)]
pub(super) struct P2c {
    rng: SplitMix64,
}

impl P2c {
    pub(super) fn from_entropy() -> Self {
        Self {
            rng: SplitMix64::from_entropy(),
        }
    }

    #[cfg(test)]
    pub(super) fn with_seed(seed: u64) -> Self {
        Self {
            rng: SplitMix64::new(seed),
        }
    }
}

impl Balancer for P2c {
    fn pick(&self, candidates: &[Candidate], _key: Option<&HashKey<'_>>) -> Option<usize> {
        let total: u64 = candidates.iter().map(|c| u64::from(c.weight)).sum();
        if total == 0 {
            return None;
        }
        let first = draw(candidates, below(self.rng.next_u64(), total), None);
        let rest = total - u64::from(candidates[first].weight);
        if rest == 0 {
            return Some(candidates[first].id);
        }
        let second = draw(candidates, below(self.rng.next_u64(), rest), Some(first));
        let (a, b) = (&candidates[first], &candidates[second]);
        Some(if b.cmp_load(a) == Ordering::Less {
            b.id
        } else {
            a.id
        })
    }
}

/// The index of the candidate whose stretch of the cumulative weight holds `point`,
/// leaving out `skip`. Weight-0 candidates have no stretch.
fn draw(candidates: &[Candidate], mut point: u64, skip: Option<usize>) -> usize {
    let mut last = 0;
    for (i, candidate) in candidates.iter().enumerate() {
        if Some(i) == skip || candidate.weight == 0 {
            continue;
        }
        let weight = u64::from(candidate.weight);
        if point < weight {
            return i;
        }
        point -= weight;
        last = i;
    }
    // Not reached while `point` is below the weight drawn from.
    last
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(id: usize, weight: u32, active: u32) -> Candidate {
        Candidate { id, weight, active }
    }

    #[test]
    fn never_picks_the_busier_of_two() {
        let p2c = P2c::with_seed(1);
        let set = [c(0, 1, 100), c(1, 1, 3)];
        for _ in 0..1000 {
            assert_eq!(p2c.pick(&set, None), Some(1));
        }
        // Relative to weight: 100/50 = 2 beats 3/1.
        let set = [c(0, 50, 100), c(1, 1, 3)];
        for _ in 0..1000 {
            assert_eq!(p2c.pick(&set, None), Some(0));
        }
    }

    #[test]
    fn never_picks_the_busiest_of_many() {
        let p2c = P2c::with_seed(2);
        let mut set: Vec<Candidate> = (0..8).map(|id| c(id, 1, id as u32)).collect();
        set[3].active = 1000;
        let mut counts = [0u32; 8];
        for _ in 0..10_000 {
            counts[p2c.pick(&set, None).unwrap()] += 1;
        }
        assert_eq!(counts[3], 0, "{counts:?}");
        // The least loaded wins whenever it is drawn, first or second: a quarter of the picks.
        assert!(counts[0] > 2300, "{counts:?}");
    }

    #[test]
    fn draws_are_distinct() {
        // With two candidates of very unequal weight both are still always compared.
        let p2c = P2c::with_seed(3);
        let set = [c(0, 1_000_000, 10), c(1, 1, 0)];
        for _ in 0..1000 {
            assert_eq!(p2c.pick(&set, None), Some(1));
        }
    }

    #[test]
    fn same_seed_same_picks() {
        let set: Vec<Candidate> = (0..16).map(|id| c(id, 1 + id as u32 % 3, 0)).collect();
        let a = P2c::with_seed(9);
        let b = P2c::with_seed(9);
        for _ in 0..1000 {
            assert_eq!(a.pick(&set, None), b.pick(&set, None));
        }
    }

    #[test]
    fn weight_zero_is_never_picked() {
        let p2c = P2c::with_seed(4);
        let set = [c(0, 0, 0), c(1, 1, 50), c(2, 0, 0)];
        for _ in 0..100 {
            assert_eq!(p2c.pick(&set, None), Some(1));
        }
        assert_eq!(p2c.pick(&[c(0, 0, 0)], None), None);
    }
}
