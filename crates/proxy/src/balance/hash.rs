//! Stable hashing for Maglev and a small shared PRNG for the random algorithms.

use std::sync::atomic::{AtomicU64, Ordering};

const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
const FNV_PRIME: u64 = 0x0000_0100_0000_01b3;

/// Seed of the key hash.
pub(super) const KEY_SEED: u64 = 0;

/// "baton hash v1": FNV-1a 64 over the seed's 8 little-endian bytes and then `bytes`,
/// finished with MurmurHash3's fmix64.
///
/// It must never change: it decides which server a Maglev key maps to, and every baton host
/// (and every version of baton) has to agree. FNV-1a alone is stable but mixes its high bits
/// poorly into the low ones that `% 65537` reads; fmix64 spreads every input bit over the
/// output. Not keyed, so not flood resistant: a client can choose its server either way.
pub(super) fn stable_hash(seed: u64, bytes: &[u8]) -> u64 {
    fmix64(fnv1a(fnv1a(FNV_OFFSET, &seed.to_le_bytes()), bytes))
}

fn fnv1a(mut state: u64, bytes: &[u8]) -> u64 {
    for &byte in bytes {
        state ^= u64::from(byte);
        state = state.wrapping_mul(FNV_PRIME);
    }
    state
}

fn fmix64(mut k: u64) -> u64 {
    k ^= k >> 33;
    k = k.wrapping_mul(0xff51_afd7_ed55_8ccd);
    k ^= k >> 33;
    k = k.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    k ^= k >> 33;
    k
}

/// Maps a uniform `x` onto `0..n` by multiply-shift (bias at most `n / 2^64`).
pub(super) fn below(x: u64, n: u64) -> u64 {
    ((u128::from(x) * u128::from(n)) >> 64) as u64
}

const GOLDEN_GAMMA: u64 = 0x9e37_79b9_7f4a_7c15;

/// SplitMix64 whose state is one atomic counter: lock-free, shareable between workers,
/// and reproducible from a seed in tests. Its quality is ample for choosing servers.
#[derive(Debug)]
pub(super) struct SplitMix64 {
    state: AtomicU64,
}

impl SplitMix64 {
    pub(super) fn new(seed: u64) -> Self {
        Self {
            state: AtomicU64::new(seed),
        }
    }

    pub(super) fn from_entropy() -> Self {
        Self::new(rand::random())
    }

    pub(super) fn next_u64(&self) -> u64 {
        let mut z = self
            .state
            .fetch_add(GOLDEN_GAMMA, Ordering::Relaxed)
            .wrapping_add(GOLDEN_GAMMA);
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
}

/// The `n`th point of the golden-ratio Weyl sequence, scaled onto `0..len`: consecutive `n`
/// land far apart and every stretch of the sequence covers `0..len` evenly, whatever `len`.
pub(super) fn weyl(n: u64, len: u64) -> u64 {
    below(n.wrapping_mul(GOLDEN_GAMMA), len)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fnv1a_matches_the_reference_vectors() {
        // From the FNV reference test suite (draft-eastlake-fnv).
        assert_eq!(fnv1a(FNV_OFFSET, b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a(FNV_OFFSET, b"a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(fnv1a(FNV_OFFSET, b"foobar"), 0x8594_4171_f739_67e8);
    }

    #[test]
    fn fmix64_matches_murmur3() {
        assert_eq!(fmix64(0), 0);
        assert_eq!(fmix64(1), 0xb456_bcfc_34c2_cb2c);
    }

    /// Changing any of these values remaps every Maglev key on every host: don't.
    /// (Cross-checked against an independent Python implementation.)
    #[test]
    fn stable_hash_is_pinned() {
        assert_eq!(stable_hash(KEY_SEED, b""), 0x7bd3_144f_29c0_cc9e);
        assert_eq!(stable_hash(KEY_SEED, b"/index.html"), 0x60bd_28ef_6aa0_1bb8);
        assert_eq!(
            stable_hash(KEY_SEED, &[192, 0, 2, 1]),
            0x35e6_3b11_fb28_2105
        );
        assert_eq!(stable_hash(1, &7u64.to_le_bytes()), 0xdf93_cfca_56b1_b959);
    }

    #[test]
    fn splitmix_is_reproducible_from_its_seed() {
        let a = SplitMix64::new(42);
        let b = SplitMix64::new(42);
        for _ in 0..100 {
            assert_eq!(a.next_u64(), b.next_u64());
        }
        // The first output of SplitMix64 seeded with 0 (Vigna's reference implementation).
        assert_eq!(SplitMix64::new(0).next_u64(), 0xe220_a839_7b1d_cdaf);
    }

    #[test]
    fn below_and_weyl_stay_in_range() {
        for n in [1, 2, 3, 7, 1000, u64::MAX] {
            assert!(below(u64::MAX, n) < n);
            assert_eq!(below(0, n), 0);
            for i in 0..1000 {
                assert!(weyl(i, n) < n);
            }
        }
    }
}
