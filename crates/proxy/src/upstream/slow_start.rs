//! Slow start: the weight a server that just came back is balanced with (HAProxy's
//! `slowstart`), so that a cold cache or JIT is not hit with its full share at once.

use std::time::Duration;

/// With slow start on, every weight is multiplied by this before the balancer sees it, so
/// that a tenth of even weight 1 is a whole number. Balancers only compare weights with
/// each other, so a common factor changes nothing else.
const SCALE: u32 = 10;

/// The weight the balancer sees for a server of configured `weight` that came back
/// `back_for` ago (`None`: it never went away).
///
/// With `slow_start` zero this is `weight`. Otherwise it is `weight * SCALE` once the ramp is
/// over, and during it grows linearly from a tenth of that (at least 1) to all of it.
pub(crate) fn effective_weight(
    weight: u32,
    slow_start: Duration,
    back_for: Option<Duration>,
) -> u32 {
    if slow_start.is_zero() {
        return weight;
    }
    let full = weight.saturating_mul(SCALE);
    match back_for {
        Some(elapsed) if elapsed < slow_start && weight > 0 => {
            let span = slow_start.as_nanos();
            let ramp = u128::from(full) * (span + 9 * elapsed.as_nanos()) / (10 * span);
            u32::try_from(ramp).unwrap_or(full).clamp(1, full)
        }
        _ => full,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINUTE: Duration = Duration::from_secs(60);

    #[test]
    fn off_is_the_configured_weight() {
        assert_eq!(effective_weight(7, Duration::ZERO, Some(Duration::ZERO)), 7);
        assert_eq!(effective_weight(0, Duration::ZERO, None), 0);
    }

    #[test]
    fn ramps_from_a_tenth_to_the_whole() {
        let at = |secs| effective_weight(5, MINUTE, Some(Duration::from_secs(secs)));
        assert_eq!(at(0), 5, "a tenth of 50");
        assert_eq!(at(30), 27, "halfway: 5 + 45 / 2");
        assert_eq!(at(59), 49);
        assert_eq!(at(60), 50);
        assert_eq!(at(3600), 50);
        assert_eq!(effective_weight(5, MINUTE, None), 50, "never went away");
        let weights: Vec<u32> = (0..=60).map(at).collect();
        assert!(weights.windows(2).all(|w| w[0] <= w[1]), "{weights:?}");
    }

    #[test]
    fn weight_one_still_ramps_and_zero_stays_zero() {
        assert_eq!(effective_weight(1, MINUTE, Some(Duration::ZERO)), 1);
        assert_eq!(
            effective_weight(1, MINUTE, Some(Duration::from_secs(30))),
            5
        );
        assert_eq!(effective_weight(0, MINUTE, Some(Duration::ZERO)), 0);
        assert_eq!(effective_weight(u32::MAX, MINUTE, None), u32::MAX);
    }
}
