//! From keepalived's schedulers to slot weights: the kernel path only knows "pick slot i of
//! N" (numgen or jhash over a map), so every scheduler becomes a weight per backend, and a
//! weight becomes a number of slots.

use crate::model::{Backend, Scheduler};

/// The most slots a numgen map gets. Weights are relative; 1024 slots keep any backend's
/// share within 0.1% of its weight share while the map stays small.
pub(crate) const MAX_SLOTS: u32 = 1024;

/// Scale of the connection-based approximations: `weight * SCALE / (active + 1)`.
const SCALE: u64 = 10_000;

/// The weight each backend gets for new flows under `scheduler`, in the order of
/// `backends` (0 = no new flows). Pure: the daemon calls it (through
/// [`DataPlane::apply`](crate::DataPlane::apply)) again whenever it has fresh
/// `active_connections`.
///
/// - `rr`: 1 for every backend with weight > 0; `wrr`, `sh`, `dh`, `mh`: the weight.
/// - `lc`: `SCALE / (active + 1)`; `wlc`, `sed`, `lblc`, `lblcr`, `twos`:
///   `weight * SCALE / (active + 1)`. IPVS picks the minimum of `active / weight` (wlc) or
///   `(active + 1) / weight` (sed) for each new connection; a table of slots cannot
///   change per connection, so new flows are instead spread in inverse proportion to that
///   load, and the table is refreshed as the counts change. The two coincide here.
/// - `nq`: the idle backends (no active connection) take every new flow, by weight;
///   without idle ones it is `sed`.
/// - `fo`: everything to the backend of highest weight (ties: lowest address).
/// - `ovf`: everything to the backend of highest weight whose active connections are
///   below its `uthreshold` (0 = no limit); when all are full, the highest.
///
/// Backends with weight 0 always get 0, under every scheduler.
pub fn effective_weights(scheduler: Scheduler, backends: &[Backend]) -> Vec<u32> {
    let by_load = |b: &Backend, weight: u64| -> u32 {
        let value = (weight * SCALE / (b.active_connections.saturating_add(1))).max(1);
        u32::try_from(value).unwrap_or(u32::MAX)
    };
    let weights: Vec<u32> = match scheduler {
        Scheduler::Rr => backends.iter().map(|_| 1).collect(),
        Scheduler::Wrr | Scheduler::Sh | Scheduler::Dh | Scheduler::Mh => {
            backends.iter().map(|b| b.weight).collect()
        }
        Scheduler::Lc => backends.iter().map(|b| by_load(b, 1)).collect(),
        Scheduler::Wlc | Scheduler::Sed | Scheduler::Lblc | Scheduler::Lblcr | Scheduler::Twos => {
            backends
                .iter()
                .map(|b| by_load(b, u64::from(b.weight)))
                .collect()
        }
        Scheduler::Nq => {
            let idle = |b: &Backend| b.weight > 0 && b.active_connections == 0;
            if backends.iter().any(idle) {
                backends
                    .iter()
                    .map(|b| if idle(b) { b.weight } else { 0 })
                    .collect()
            } else {
                backends
                    .iter()
                    .map(|b| by_load(b, u64::from(b.weight)))
                    .collect()
            }
        }
        Scheduler::Fo => only(backends, highest(backends, |_| true)),
        Scheduler::Ovf => {
            let below =
                |b: &Backend| b.uthreshold == 0 || b.active_connections < u64::from(b.uthreshold);
            only(
                backends,
                highest(backends, below).or_else(|| highest(backends, |_| true)),
            )
        }
    };
    weights
        .into_iter()
        .zip(backends)
        .map(|(w, b)| if b.weight == 0 { 0 } else { w })
        .collect()
}

/// The index of the backend with weight > 0 and the highest weight among those passing
/// `filter`; ties go to the lowest address, so every LB picks the same one.
fn highest(backends: &[Backend], filter: impl Fn(&Backend) -> bool) -> Option<usize> {
    backends
        .iter()
        .enumerate()
        .filter(|(_, b)| b.weight > 0 && filter(b))
        .min_by(|(_, a), (_, b)| b.weight.cmp(&a.weight).then(a.address.cmp(&b.address)))
        .map(|(i, _)| i)
}

fn only(backends: &[Backend], chosen: Option<usize>) -> Vec<u32> {
    (0..backends.len())
        .map(|i| u32::from(Some(i) == chosen))
        .collect()
}

/// Smallest integers in the same proportion as `weights`, summing to at most `cap`
/// (divided by their gcd; scaled down when still larger, every positive weight keeping
/// at least 1).
pub(crate) fn reduce(weights: &[u32], cap: u32) -> Vec<u32> {
    let divisor = weights.iter().copied().filter(|&w| w > 0).fold(0, gcd);
    if divisor == 0 {
        return vec![0; weights.len()];
    }
    let reduced: Vec<u64> = weights.iter().map(|&w| u64::from(w / divisor)).collect();
    let total: u64 = reduced.iter().sum();
    let cap = u64::from(cap.max(u32::try_from(weights.len()).unwrap_or(u32::MAX)));
    if total <= cap {
        return reduced.iter().map(|&w| w as u32).collect();
    }
    // Every positive weight keeps one slot; the rest is shared by largest remainder.
    let positive = reduced.iter().filter(|&&w| w > 0).count() as u64;
    let spare = cap - positive;
    let mut shares: Vec<(u64, u64, usize)> = reduced
        .iter()
        .enumerate()
        .map(|(i, &w)| {
            let exact = w * spare;
            (exact / total, exact % total, i)
        })
        .collect();
    let mut left = spare - shares.iter().map(|s| s.0).sum::<u64>();
    let mut order: Vec<usize> = (0..shares.len()).filter(|&i| reduced[i] > 0).collect();
    order.sort_by(|&a, &b| shares[b].1.cmp(&shares[a].1).then(a.cmp(&b)));
    for i in order {
        if left == 0 {
            break;
        }
        shares[i].0 += 1;
        left -= 1;
    }
    shares
        .iter()
        .zip(&reduced)
        .map(|(s, &w)| if w > 0 { (s.0 + 1) as u32 } else { 0 })
        .collect()
}

fn gcd(a: u32, b: u32) -> u32 {
    if b == 0 { a } else { gcd(b, a % b) }
}

/// The smooth weighted round-robin sequence (nginx's): one entry per unit of weight,
/// each backend's turns spread evenly, so consecutive slots go to different backends.
pub(crate) fn interleave(weights: &[u32]) -> Vec<usize> {
    let total: i64 = weights.iter().map(|&w| i64::from(w)).sum();
    let mut current = vec![0i64; weights.len()];
    let mut sequence = Vec::with_capacity(total as usize);
    for _ in 0..total {
        for (c, &w) in current.iter_mut().zip(weights) {
            *c += i64::from(w);
        }
        let Some((pick, _)) = current
            .iter()
            .enumerate()
            .max_by(|(i, a), (j, b)| a.cmp(b).then(j.cmp(i)))
        else {
            break;
        };
        current[pick] -= total;
        sequence.push(pick);
    }
    sequence
}

#[cfg(test)]
mod tests {
    use super::*;

    fn backend(last: u8, weight: u32, active: u64) -> Backend {
        Backend {
            address: format!("10.0.3.{last}:80").parse().expect("address"),
            weight,
            active_connections: active,
            uthreshold: 0,
        }
    }

    #[test]
    fn zero_weight_never_gets_flows() {
        let backends = [backend(11, 0, 0), backend(12, 3, 5)];
        for scheduler in Scheduler::ALL {
            let weights = effective_weights(scheduler, &backends);
            assert_eq!(weights[0], 0, "{scheduler:?}");
            assert!(weights[1] > 0, "{scheduler:?}");
        }
    }

    #[test]
    fn only_connection_counting_schedulers_see_active_connections() {
        let idle = [backend(11, 1, 0), backend(12, 2, 0), backend(13, 3, 0)];
        let mut busy = idle;
        busy[0].active_connections = 7;
        busy[2].uthreshold = 2;
        busy[2].active_connections = 3;
        for scheduler in Scheduler::ALL {
            let changed =
                effective_weights(scheduler, &idle) != effective_weights(scheduler, &busy);
            assert_eq!(changed, scheduler.counts_connections(), "{scheduler:?}");
        }
    }

    #[test]
    fn least_connection_family_favours_the_less_loaded() {
        let backends = [backend(11, 1, 9), backend(12, 1, 0), backend(13, 2, 9)];
        let lc = effective_weights(Scheduler::Lc, &backends);
        assert_eq!(lc, vec![1000, 10_000, 1000]);
        let wlc = effective_weights(Scheduler::Wlc, &backends);
        assert_eq!(wlc, vec![1000, 10_000, 2000]);
        // nq: the idle backend takes everything while it is idle.
        assert_eq!(effective_weights(Scheduler::Nq, &backends), vec![0, 1, 0]);
        let busy = [backend(11, 1, 9), backend(12, 1, 1)];
        assert_eq!(effective_weights(Scheduler::Nq, &busy), vec![1000, 5000]);
    }

    #[test]
    fn failover_and_overflow_pick_one() {
        let mut backends = [backend(12, 5, 0), backend(11, 5, 0), backend(13, 1, 0)];
        // A tie goes to the lowest address, whatever the order.
        assert_eq!(effective_weights(Scheduler::Fo, &backends), vec![0, 1, 0]);
        backends[1].uthreshold = 10;
        backends[1].active_connections = 10;
        assert_eq!(effective_weights(Scheduler::Ovf, &backends), vec![1, 0, 0]);
        backends[0].uthreshold = 3;
        backends[0].active_connections = 4;
        assert_eq!(effective_weights(Scheduler::Ovf, &backends), vec![0, 0, 1]);
        backends[2].uthreshold = 1;
        backends[2].active_connections = 1;
        // All full: the highest weight, as if there were no threshold.
        assert_eq!(effective_weights(Scheduler::Ovf, &backends), vec![0, 1, 0]);
    }

    #[test]
    fn reduce_divides_by_gcd_and_caps() {
        assert_eq!(reduce(&[100, 200, 0, 300], 1024), vec![1, 2, 0, 3]);
        let capped = reduce(&[1, 100_000, 50_000], 64);
        assert_eq!(capped.iter().sum::<u32>(), 64);
        assert_eq!(capped[0], 1);
        assert!(
            (capped[1] as i64 - 2 * capped[2] as i64).abs() <= 1,
            "{capped:?}"
        );
        assert_eq!(reduce(&[0, 0], 8), vec![0, 0]);
    }

    #[test]
    fn interleave_spreads_turns() {
        assert_eq!(interleave(&[1, 1, 1]), vec![0, 1, 2]);
        let sequence = interleave(&[5, 1, 1]);
        assert_eq!(sequence, vec![0, 0, 1, 0, 2, 0, 0]);
        assert_eq!(
            interleave(&[2, 0, 1]).iter().filter(|&&i| i == 1).count(),
            0
        );
    }
}
