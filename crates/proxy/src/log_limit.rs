//! Rate limits for the warnings a single request can cause (502, 503, 504, a body cut
//! short). Under a flood of bad requests, or with every server down, each request would log
//! a line: enough to fill a disk, and to bury what matters on an HA pair (the VRRP
//! transitions in the same journal). Each kind of line gets a token bucket: a burst of
//! [`BURST`] lines, then one per [`REFILL`]; the next line that gets through says how many
//! were left out (`suppressed = N`).

use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

/// Lines of one kind logged back to back before the limit starts.
const BURST: u32 = 10;
/// One more line of a kind may be logged per this much time.
const REFILL: Duration = Duration::from_secs(1);

/// One kind of per-request warning and its bucket.
#[derive(Debug)]
pub(crate) struct LogLimit(Mutex<Bucket>);

#[derive(Debug)]
struct Bucket {
    tokens: u32,
    /// When the last token was added (or the first line came).
    refilled: Option<Instant>,
    /// Lines left out since the last one logged.
    suppressed: u64,
}

/// No server could be picked: all down, or none left to retry on (502, 503).
pub(crate) static NO_SERVER: LogLimit = LogLimit::new();
/// A server did not answer, or broke its answer (502).
pub(crate) static BAD_GATEWAY: LogLimit = LogLimit::new();
/// A server answered too late (504).
pub(crate) static GATEWAY_TIMEOUT: LogLimit = LogLimit::new();
/// This host ran out of sockets or memory (502).
pub(crate) static LOCAL_RESOURCES: LogLimit = LogLimit::new();
/// A server's response body stopped in the middle.
pub(crate) static BODY_CUT: LogLimit = LogLimit::new();
/// A listener's `accept()` failed (out of file descriptors, mostly).
pub(crate) static ACCEPT_FAILED: LogLimit = LogLimit::new();

impl LogLimit {
    pub(crate) const fn new() -> Self {
        LogLimit(Mutex::new(Bucket {
            tokens: BURST,
            refilled: None,
            suppressed: 0,
        }))
    }

    /// Whether a line may be logged now: `Some(n)` with the number of lines left out
    /// before it, or `None` to leave this one out.
    pub(crate) fn admit(&self) -> Option<u64> {
        self.admit_at(Instant::now())
    }

    fn admit_at(&self, now: Instant) -> Option<u64> {
        let mut bucket = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        let refilled = *bucket.refilled.get_or_insert(now);
        let earned = now.saturating_duration_since(refilled).as_nanos() / REFILL.as_nanos();
        if earned > 0 {
            let earned = u32::try_from(earned).unwrap_or(u32::MAX);
            bucket.tokens = bucket.tokens.saturating_add(earned).min(BURST);
            // Whole intervals only, so that the part of one already passed still counts;
            // after a quiet time longer than a full burst, from now.
            bucket.refilled = Some(if earned >= BURST {
                now
            } else {
                refilled + REFILL * earned
            });
        }
        if bucket.tokens == 0 {
            bucket.suppressed += 1;
            return None;
        }
        bucket.tokens -= 1;
        Some(std::mem::take(&mut bucket.suppressed))
    }
}

/// `tracing::warn!` through a [`LogLimit`]: the line is logged when the limit admits it,
/// with a `suppressed` field when lines of its kind were left out before it.
macro_rules! warn_limited {
    ($limit:expr, $($arg:tt)+) => {
        match $crate::log_limit::LogLimit::admit(&$limit) {
            None => {}
            Some(0) => tracing::warn!($($arg)+),
            Some(suppressed) => tracing::warn!(suppressed, $($arg)+),
        }
    };
}
pub(crate) use warn_limited;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_then_one_a_second_with_the_rest_counted() {
        let limit = LogLimit::new();
        let start = Instant::now();
        for _ in 0..BURST {
            assert_eq!(limit.admit_at(start), Some(0));
        }
        for _ in 0..500 {
            assert_eq!(limit.admit_at(start), None, "over the burst");
        }
        let later = start + REFILL;
        assert_eq!(
            limit.admit_at(later),
            Some(500),
            "the count of those left out"
        );
        assert_eq!(limit.admit_at(later), None);
        assert_eq!(
            limit.admit_at(later + REFILL / 2),
            None,
            "half a token is none"
        );
        assert_eq!(limit.admit_at(later + REFILL), Some(2));
        // A long quiet time refills the burst, and no more.
        let quiet = later + REFILL * 3600;
        for _ in 0..BURST {
            assert_eq!(limit.admit_at(quiet), Some(0));
        }
        assert_eq!(limit.admit_at(quiet), None);
    }

    #[test]
    fn a_steady_trickle_at_the_rate_is_never_cut() {
        let limit = LogLimit::new();
        let start = Instant::now();
        for i in 0..100 {
            // Off the interval's edges, as real lines come.
            let now = start + REFILL * i + REFILL / 3;
            assert_eq!(limit.admit_at(now), Some(0), "line {i}");
        }
    }
}
