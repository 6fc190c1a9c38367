//! Seeded random streams.
//!
//! One scenario seed is expanded into independent ChaCha8 streams, one per
//! concern ("network", "faults", "workload", "node/3", ...). A stream's key is
//! `blake3(seed as little-endian u64 || label)`, so adding a draw to one
//! concern never shifts another, and the derivation is the same on every
//! machine and release. Sampling helpers below are written here (not taken
//! from `rand`'s distributions) so that the mapping from stream bits to
//! values is fixed by this crate, not by a dependency's version.

use rand_chacha::rand_core::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// A deterministic random stream for one concern.
#[derive(Clone, Debug)]
pub struct SimRng {
    inner: ChaCha8Rng,
}

impl SimRng {
    /// The stream for `label` under `seed`.
    pub fn derive(seed: u64, label: &str) -> SimRng {
        let mut h = blake3::Hasher::new();
        h.update(&seed.to_le_bytes());
        h.update(label.as_bytes());
        let key: [u8; 32] = *h.finalize().as_bytes();
        SimRng {
            inner: ChaCha8Rng::from_seed(key),
        }
    }

    /// The stream for node `index` under `seed`.
    pub fn for_node(seed: u64, index: u32) -> SimRng {
        SimRng::derive(seed, &format!("node/{index}"))
    }

    /// 64 uniformly random bits.
    #[inline]
    pub fn next_u64(&mut self) -> u64 {
        self.inner.next_u64()
    }

    /// Uniform in `[0, 1)` with 53 bits of precision.
    #[inline]
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// Uniform in `(0, 1]`: safe to take the logarithm of.
    #[inline]
    pub fn unit_open0(&mut self) -> f64 {
        1.0 - self.unit()
    }

    /// True with probability `p` (p ≤ 0 never draws and is always false, so
    /// a lossless link consumes no randomness).
    #[inline]
    pub fn chance(&mut self, p: f64) -> bool {
        if p <= 0.0 {
            false
        } else if p >= 1.0 {
            true
        } else {
            self.unit() < p
        }
    }

    /// Uniform integer in `[lo, hi]` (inclusive), unbiased (Lemire's
    /// multiply-and-reject method).
    pub fn range_inclusive(&mut self, lo: u64, hi: u64) -> u64 {
        assert!(lo <= hi, "empty range {lo}..={hi}");
        let span = hi - lo;
        if span == u64::MAX {
            return self.next_u64();
        }
        let n = span + 1;
        let threshold = n.wrapping_neg() % n;
        loop {
            let x = self.next_u64();
            let m = (x as u128) * (n as u128);
            if (m as u64) >= threshold {
                return lo + (m >> 64) as u64;
            }
        }
    }

    /// Uniform index in `[0, n)`; `n` must be positive.
    pub fn index(&mut self, n: usize) -> usize {
        assert!(n > 0, "index into an empty set");
        self.range_inclusive(0, n as u64 - 1) as usize
    }

    /// A standard normal variate (Box–Muller, using `libm` so the result is
    /// bit-identical on every platform).
    pub fn standard_normal(&mut self) -> f64 {
        let u1 = self.unit_open0();
        let u2 = self.unit();
        libm::sqrt(-2.0 * libm::log(u1)) * libm::cos(2.0 * std::f64::consts::PI * u2)
    }

    /// Exponential with the given mean.
    pub fn exponential(&mut self, mean: f64) -> f64 {
        -mean * libm::log(self.unit_open0())
    }

    /// Shuffle a slice in place (Fisher–Yates).
    pub fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            let j = self.index(i + 1);
            items.swap(i, j);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Streams with different labels are independent; the same label repeats.
    #[test]
    fn streams_are_keyed_by_seed_and_label() {
        let a1: Vec<u64> = (0..4)
            .map(|_| 0)
            .scan(SimRng::derive(7, "a"), |r, _| Some(r.next_u64()))
            .collect();
        let a2: Vec<u64> = (0..4)
            .map(|_| 0)
            .scan(SimRng::derive(7, "a"), |r, _| Some(r.next_u64()))
            .collect();
        let b: Vec<u64> = (0..4)
            .map(|_| 0)
            .scan(SimRng::derive(7, "b"), |r, _| Some(r.next_u64()))
            .collect();
        let c: Vec<u64> = (0..4)
            .map(|_| 0)
            .scan(SimRng::derive(8, "a"), |r, _| Some(r.next_u64()))
            .collect();
        assert_eq!(a1, a2);
        assert_ne!(a1, b);
        assert_ne!(a1, c);
    }

    /// The derivation is pinned: this value must never change across
    /// releases (it is the first draw of seed 1's network stream, so a
    /// change here changes every recorded trace hash).
    #[test]
    fn derivation_is_stable() {
        let mut r = SimRng::derive(1, "network");
        let first = r.next_u64();
        let mut again = SimRng::derive(1, "network");
        assert_eq!(first, again.next_u64());
        assert_eq!(format!("{first:016x}"), "3356ced389f3d713");
    }

    #[test]
    fn range_inclusive_stays_in_bounds_and_covers() {
        let mut r = SimRng::derive(3, "t");
        let mut seen = [false; 5];
        for _ in 0..1000 {
            let v = r.range_inclusive(10, 14);
            assert!((10..=14).contains(&v));
            seen[(v - 10) as usize] = true;
        }
        assert!(seen.iter().all(|s| *s));
    }

    #[test]
    fn normal_has_expected_moments() {
        let mut r = SimRng::derive(4, "t");
        let n = 20_000;
        let xs: Vec<f64> = (0..n).map(|_| r.standard_normal()).collect();
        let mean = xs.iter().sum::<f64>() / n as f64;
        let var = xs.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / n as f64;
        assert!(mean.abs() < 0.05, "mean {mean}");
        assert!((var - 1.0).abs() < 0.05, "var {var}");
    }
}
