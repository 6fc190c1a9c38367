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

/// The concerns a run draws randomness for, one stream each. The label
/// of each is part of every recorded trace hash (it keys the stream), so
/// the strings below must never change; naming streams by this enum keeps
/// them in one place instead of as literals at each call site.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stream {
    /// A node's own stream (its `Context::rng`): `node/<i>`.
    Node(u32),
    /// A node's clock: drift per life and timer jitter: `clock/<i>`.
    Clock(u32),
    /// Jittered boot times of the cluster: `boot`.
    Boot,
    /// Scripted fault jitter and the nemesis: `faults`.
    Faults,
    /// Message latency, loss and duplication: `network`.
    Network,
    /// Disk sync latency: `disk`.
    Disk,
    /// Workflow arrivals drawn when a scenario is converted: `workflow`.
    Workflow,
    /// A sweep's swarm draws (`--nemesis`): `sweep/swarm`.
    Swarm,
    /// A swarm's agent-fault draws (which agent kinds, how often):
    /// `sweep/swarm/agents`.
    SwarmAgents,
    /// A swarm's feature draws (which protocol and fault features a seed
    /// switches on): `sweep/swarm/features`.
    SwarmFeatures,
    /// A guided sweep's candidate draws (keyed by its first seed):
    /// `sweep/guided`.
    Guided,
    /// Whether an armed `crash_at` fault crashes a node at a crash point,
    /// and its restart delay: `crash_points`. Drawn only when a crash
    /// point matches an armed rule.
    CrashPoints,
    /// Message faults (duplicate or hold a message of one kind):
    /// `messages`. Drawn only for messages an armed rule names.
    Messages,
}

impl Stream {
    /// The label the stream's key is derived from.
    pub fn label(self) -> std::borrow::Cow<'static, str> {
        use std::borrow::Cow::{Borrowed, Owned};
        match self {
            Stream::Node(i) => Owned(format!("node/{i}")),
            Stream::Clock(i) => Owned(format!("clock/{i}")),
            Stream::Boot => Borrowed("boot"),
            Stream::Faults => Borrowed("faults"),
            Stream::Network => Borrowed("network"),
            Stream::Disk => Borrowed("disk"),
            Stream::Workflow => Borrowed("workflow"),
            Stream::Swarm => Borrowed("sweep/swarm"),
            Stream::SwarmAgents => Borrowed("sweep/swarm/agents"),
            Stream::SwarmFeatures => Borrowed("sweep/swarm/features"),
            Stream::Guided => Borrowed("sweep/guided"),
            Stream::CrashPoints => Borrowed("crash_points"),
            Stream::Messages => Borrowed("messages"),
        }
    }
}

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

    /// The stream for `stream` under `seed`: what the kernel and the
    /// scenario conversion use (ad-hoc labels, [`SimRng::derive`], are for
    /// tests and tools outside a run).
    pub fn stream(seed: u64, stream: Stream) -> SimRng {
        SimRng::derive(seed, &stream.label())
    }

    /// The stream for node `index` under `seed` ([`Stream::Node`]).
    pub fn for_node(seed: u64, index: u32) -> SimRng {
        SimRng::stream(seed, Stream::Node(index))
    }

    /// 64 uniformly random bits.
    #[inline]
    pub fn next_u64(&mut self) -> u64 {
        self.inner.next_u64()
    }

    /// Uniform in `[0, 1)` with 53 bits of precision.
    #[inline]
    pub fn unit(&mut self) -> f64 {
        // Through i64: the value is below 2^53, so the signed conversion
        // (one instruction) gives the same f64 as the unsigned one (a
        // branchy sequence on x86-64).
        ((self.next_u64() >> 11) as i64) as f64 * (1.0 / (1u64 << 53) as f64)
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

    /// The labels are pinned: each stream keys off the exact string the
    /// call sites used before the enum existed, so no trace hash moved.
    #[test]
    fn stream_labels_are_pinned() {
        let pinned = [
            (Stream::Node(0), "node/0"),
            (Stream::Node(17), "node/17"),
            (Stream::Clock(3), "clock/3"),
            (Stream::Boot, "boot"),
            (Stream::Faults, "faults"),
            (Stream::Network, "network"),
            (Stream::Disk, "disk"),
            (Stream::Workflow, "workflow"),
            (Stream::Swarm, "sweep/swarm"),
            (Stream::SwarmAgents, "sweep/swarm/agents"),
            (Stream::SwarmFeatures, "sweep/swarm/features"),
            (Stream::Guided, "sweep/guided"),
            (Stream::CrashPoints, "crash_points"),
            (Stream::Messages, "messages"),
        ];
        for (stream, label) in pinned {
            assert_eq!(stream.label(), label);
            let mut a = SimRng::stream(9, stream);
            let mut b = SimRng::derive(9, label);
            assert_eq!(a.next_u64(), b.next_u64(), "{stream:?}");
        }
        assert_eq!(
            SimRng::for_node(9, 4).next_u64(),
            SimRng::derive(9, "node/4").next_u64()
        );
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
