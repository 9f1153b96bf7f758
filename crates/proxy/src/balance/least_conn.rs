//! Least connections: the candidate with the fewest in-flight requests per unit of weight.
//!
//! Ties are common (every idle server ties at 0), and taking the first one would send all of
//! a light load to one server. Ties are shared instead, in proportion to weight, by walking
//! the golden-ratio Weyl sequence over the tied weight: the choice is deterministic (one
//! counter), spread out (consecutive picks land on different servers), and fair whatever
//! subset happens to tie. With fast requests and low concurrency, where everything is idle,
//! this is what makes weights count at all.

use std::cmp::Ordering as CmpOrdering;
use std::sync::atomic::{AtomicU64, Ordering};

use super::hash::weyl;
use super::{Balancer, Candidate, HashKey};

#[derive(Debug, Default)]
pub(super) struct LeastConn {
    ties: AtomicU64,
}

impl LeastConn {
    pub(super) fn new() -> Self {
        Self::default()
    }
}

impl Balancer for LeastConn {
    fn pick(&self, candidates: &[Candidate], _key: Option<&HashKey<'_>>) -> Option<usize> {
        let mut best: Option<&Candidate> = None;
        let mut tied_weight = 0u64;
        let mut tied = 0usize;
        for candidate in candidates.iter().filter(|c| c.weight > 0) {
            let order = best.map_or(CmpOrdering::Less, |b| candidate.cmp_load(b));
            match order {
                CmpOrdering::Less => {
                    best = Some(candidate);
                    tied_weight = u64::from(candidate.weight);
                    tied = 1;
                }
                CmpOrdering::Equal => {
                    tied_weight += u64::from(candidate.weight);
                    tied += 1;
                }
                CmpOrdering::Greater => {}
            }
        }
        let best = best?;
        if tied == 1 {
            return Some(best.id);
        }

        let n = self.ties.fetch_add(1, Ordering::Relaxed);
        let mut point = weyl(n, tied_weight);
        for candidate in candidates.iter().filter(|c| c.weight > 0) {
            if candidate.cmp_load(best) == CmpOrdering::Equal {
                let weight = u64::from(candidate.weight);
                if point < weight {
                    return Some(candidate.id);
                }
                point -= weight;
            }
        }
        // Not reached: the point lies within the tied weight, which the walk covers.
        Some(best.id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(id: usize, weight: u32, active: u32) -> Candidate {
        Candidate { id, weight, active }
    }

    #[test]
    fn prefers_the_idle_server() {
        let lc = LeastConn::new();
        let set = [c(0, 1, 4), c(1, 1, 0), c(2, 1, 2)];
        for _ in 0..100 {
            assert_eq!(lc.pick(&set, None), Some(1));
        }
    }

    #[test]
    fn load_is_relative_to_weight() {
        let lc = LeastConn::new();
        // 2/3 < 1/1: the heavier server is less loaded although it has more requests.
        assert_eq!(lc.pick(&[c(0, 1, 1), c(1, 3, 2)], None), Some(1));
        // 4/3 > 1/1.
        assert_eq!(lc.pick(&[c(0, 1, 1), c(1, 3, 4)], None), Some(0));
        // Cross multiplication does not overflow at the extremes.
        let max = [c(0, u32::MAX, u32::MAX), c(1, 1, u32::MAX)];
        assert_eq!(lc.pick(&max, None), Some(0));
    }

    #[test]
    fn ties_go_round_not_to_the_first() {
        let lc = LeastConn::new();
        let set = [c(0, 1, 5), c(1, 1, 2), c(2, 1, 2), c(3, 1, 2)];
        let mut counts = [0u32; 4];
        let mut previous = None;
        for _ in 0..300 {
            let id = lc.pick(&set, None).unwrap();
            assert_ne!(
                Some(id),
                previous,
                "the same server twice in a row on a tie"
            );
            previous = Some(id);
            counts[id] += 1;
        }
        assert_eq!(counts[0], 0);
        for &n in &counts[1..] {
            assert!((95..=105).contains(&n), "{counts:?}");
        }
    }

    #[test]
    fn ties_are_shared_by_weight() {
        let lc = LeastConn::new();
        let set = [c(0, 1, 0), c(1, 2, 0), c(2, 3, 0)];
        let mut counts = [0u32; 3];
        for _ in 0..6000 {
            counts[lc.pick(&set, None).unwrap()] += 1;
        }
        for (i, &n) in counts.iter().enumerate() {
            let expected = 1000 * (i as u32 + 1);
            assert!(n.abs_diff(expected) <= 10, "{counts:?}");
        }
    }

    #[test]
    fn weight_zero_is_never_picked() {
        let lc = LeastConn::new();
        let set = [c(0, 0, 0), c(1, 1, 9)];
        assert_eq!(lc.pick(&set, None), Some(1));
        assert_eq!(lc.pick(&[c(0, 0, 0)], None), None);
    }
}
