//! RFC 5880 6.8.7's jitter, from a seed so the engine stays deterministic.

use std::time::Duration;

/// xorshift64*: plenty for spreading transmissions, and no dependency.
#[derive(Debug, Clone)]
pub(crate) struct Jitter(u64);

impl Jitter {
    pub(crate) fn new(seed: u64) -> Jitter {
        // xorshift's state must not be zero.
        Jitter(seed | 1)
    }

    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// RFC 5880 6.8.7: "reduced by a random value of 0 to 25%", and with a detect
    /// multiplier of 1 "no more than 90% ... and no less than 75%".
    pub(crate) fn apply(&mut self, interval: Duration, detect_mult: u8) -> Duration {
        let most = if detect_mult == 1 { 900 } else { 1000 };
        // Per mille, uniform in [750, most].
        let span = most - 750 + 1;
        let per_mille = 750 + (self.next() % span) as u32;
        interval * per_mille / 1000
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stays_within_the_rfc_bounds() {
        let mut jitter = Jitter::new(42);
        let interval = Duration::from_millis(1000);
        let (mut low, mut high) = (interval, Duration::ZERO);
        for _ in 0..10_000 {
            let value = jitter.apply(interval, 3);
            low = low.min(value);
            high = high.max(value);
            let single = jitter.apply(interval, 1);
            assert!(
                single >= interval * 3 / 4 && single <= interval * 9 / 10,
                "{single:?}"
            );
        }
        assert!(
            low >= interval * 3 / 4 && low < interval * 76 / 100,
            "{low:?}"
        );
        assert!(high <= interval && high > interval * 99 / 100, "{high:?}");
    }
}
