//! Validated probability distributions over non-negative values (latencies
//! in milliseconds, token counts). Sampling uses [`SimRng`] and `libm`, so a
//! draw is the same on every machine.

use crate::rng::SimRng;
use crate::time::SimDuration;

/// A distribution of non-negative values. Parameters are validated at the
/// scenario edge (`scenario::validate`); the constructors here trust them.
#[derive(Clone, Debug, PartialEq)]
pub enum Dist {
    /// Always `value`. Draws no randomness.
    Fixed(f64),
    /// Uniform in `[min, max]`.
    Uniform { min: f64, max: f64 },
    /// Normal, clamped at 0 (a negative draw becomes 0).
    Normal { mean: f64, stddev: f64 },
    /// Exponential with the given mean.
    Exponential { mean: f64 },
    /// Log-normal: `median * exp(sigma * z)`.
    LogNormal { median: f64, sigma: f64 },
    /// Pareto (type I): `scale / u^(1/shape)`; heavy tailed.
    Pareto { scale: f64, shape: f64 },
}

impl Dist {
    /// A value that never varies.
    pub const ZERO: Dist = Dist::Fixed(0.0);

    /// One draw, in the distribution's unit (milliseconds for latencies).
    pub fn sample(&self, rng: &mut SimRng) -> f64 {
        let v = match *self {
            Dist::Fixed(v) => v,
            Dist::Uniform { min, max } => {
                if max > min {
                    min + (max - min) * rng.unit()
                } else {
                    min
                }
            }
            Dist::Normal { mean, stddev } => mean + stddev * rng.standard_normal(),
            Dist::Exponential { mean } => rng.exponential(mean),
            Dist::LogNormal { median, sigma } => median * libm::exp(sigma * rng.standard_normal()),
            Dist::Pareto { scale, shape } => scale / libm::pow(rng.unit_open0(), 1.0 / shape),
        };
        Self::clamp(v)
    }

    /// Draws are finite and non-negative.
    #[inline]
    fn clamp(v: f64) -> f64 {
        if v.is_finite() && v > 0.0 {
            v
        } else if v.is_infinite() && v > 0.0 {
            // A Pareto draw can overflow for tiny shapes: cap at ten minutes.
            600_000.0
        } else {
            0.0
        }
    }

    /// One draw interpreted as milliseconds, as a duration. The uniform
    /// case (a latency draw per message in most scenarios) is spelled out
    /// here so it inlines into the network's hot path; it is the same
    /// arithmetic as [`Dist::sample`].
    #[inline(always)]
    pub fn sample_duration(&self, rng: &mut SimRng) -> SimDuration {
        match *self {
            Dist::Fixed(v) => SimDuration::from_millis_f64(v),
            Dist::Uniform { min, max } => {
                let v = if max > min {
                    min + (max - min) * rng.unit()
                } else {
                    min
                };
                SimDuration::from_millis_f64(Self::clamp(v))
            }
            _ => self.sample_duration_other(rng),
        }
    }

    /// [`Dist::sample_duration`] for the families not spelled out there,
    /// kept out of line so the inlined fast path stays small.
    #[inline(never)]
    fn sample_duration_other(&self, rng: &mut SimRng) -> SimDuration {
        SimDuration::from_millis_f64(self.sample(rng))
    }

    /// The distribution's mean, where finite (for reports and estimates).
    pub fn mean(&self) -> f64 {
        match *self {
            Dist::Fixed(v) => v,
            Dist::Uniform { min, max } => (min + max) / 2.0,
            Dist::Normal { mean, .. } | Dist::Exponential { mean } => mean,
            Dist::LogNormal { median, sigma } => median * libm::exp(sigma * sigma / 2.0),
            Dist::Pareto { scale, shape } => {
                if shape > 1.0 {
                    shape * scale / (shape - 1.0)
                } else {
                    f64::INFINITY
                }
            }
        }
    }

    /// True if every draw is zero (lets hot paths skip work).
    pub fn is_zero(&self) -> bool {
        matches!(*self, Dist::Fixed(v) if v == 0.0)
    }
}

/// A duration draw from a [`Dist`] with its arithmetic decided once, for
/// the network's per-message latency.
///
/// The draw is bit-for-bit [`Dist::sample_duration`]: the same random
/// word, the same microseconds. A uniform latency between two whole
/// microsecond values (every scenario's `uniform` latency in whole or
/// tenths of milliseconds) is computed in integers: `min + span * m /
/// 2^53` for the 53 random bits `m`, rounded half up. The float path's
/// result differs from that exact value by a few units in the last place
/// (under 1e-5 µs for latencies below 2^32 µs, counting the bounds' own
/// binary rounding and the 1e-6 µs by which a bound may miss a whole
/// microsecond and still take this path), so both round to the
/// same microsecond unless the exact value is within 2^-11 µs of a half,
/// where the draw falls back to the float path (about one draw in a
/// thousand). Measured: the float draw and its conversion were a tenth
/// of the heartbeat mesh's kernel time (README, Performance).
#[derive(Clone, Debug)]
pub struct DurationSampler {
    whole_us: Option<WholeUs>,
    dist: Dist,
}

/// A uniform latency in `[min_us, min_us + span_us]` whole microseconds,
/// with the float bounds kept for the fallback.
#[derive(Clone, Copy, Debug)]
struct WholeUs {
    min: f64,
    max: f64,
    min_us: u64,
    span_us: u64,
}

/// Half of the 53-bit fraction.
const HALF: u64 = 1 << 52;
/// Distance from a half (in 2^-53 µs) inside which the exact value might
/// round differently from the float path: 2^-11 µs, fifty times the
/// float path's error bound.
const NEAR_HALF: u64 = 1 << 42;

impl DurationSampler {
    /// The sampler of `dist`.
    pub fn new(dist: &Dist) -> Self {
        DurationSampler {
            whole_us: WholeUs::of(dist),
            dist: dist.clone(),
        }
    }

    /// One draw, as [`Dist::sample_duration`] would give it.
    #[inline(always)]
    pub fn sample(&self, rng: &mut SimRng) -> SimDuration {
        match self.whole_us {
            Some(w) => w.sample(rng),
            None => self.dist.sample_duration(rng),
        }
    }
}

impl WholeUs {
    fn of(dist: &Dist) -> Option<WholeUs> {
        let Dist::Uniform { min, max } = *dist else {
            return None;
        };
        // Below 2^32 µs (about 71 minutes) the float path's error bound
        // holds; bounds must be whole microseconds to within 1e-6 µs.
        let whole = |ms: f64| {
            let us = ms * 1000.0;
            let r = us.round();
            (us.is_finite() && (0.0..4_294_967_296.0).contains(&us) && (us - r).abs() <= 1e-6)
                .then_some(r as u64)
        };
        let (min_us, max_us) = (whole(min)?, whole(max)?);
        // `then`, not `then_some`: the span is computed only when it is
        // positive (eagerly, a reversed pair overflowed in debug builds).
        (max > min && max_us > min_us).then(|| WholeUs {
            min,
            max,
            min_us,
            span_us: max_us - min_us,
        })
    }

    #[inline(always)]
    fn sample(self, rng: &mut SimRng) -> SimDuration {
        let m = rng.next_u64() >> 11;
        match self.exact(m) {
            Some(d) => d,
            None => self.float_path(m),
        }
    }

    /// The draw for the 53 random bits `m` in integers, or `None` when
    /// the exact value is too near a half to be sure the float path
    /// rounds the same way.
    #[inline(always)]
    fn exact(self, m: u64) -> Option<SimDuration> {
        let p = self.span_us as u128 * m as u128;
        let rem = p as u64 & ((1 << 53) - 1);
        if rem.abs_diff(HALF) <= NEAR_HALF {
            return None;
        }
        Some(SimDuration(
            self.min_us + (p >> 53) as u64 + (rem >= HALF) as u64,
        ))
    }

    /// [`Dist::sample_duration`]'s arithmetic on the same random bits.
    #[cold]
    #[inline(never)]
    fn float_path(self, m: u64) -> SimDuration {
        let u = (m as i64) as f64 * (1.0 / (1u64 << 53) as f64);
        SimDuration::from_millis_f64(Dist::clamp(self.min + (self.max - self.min) * u))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The sampler gives exactly what `Dist::sample_duration` gives, from
    /// the same random words: on random words for many bounds (whole and
    /// fractional milliseconds, tiny and huge spans, bounds that are not
    /// whole microseconds and take the float path), and on words built to
    /// land just outside the near-half band, where a wrong bound would
    /// show first.
    #[test]
    fn duration_sampler_matches_the_float_draw() {
        let bounds = [
            (5.0, 10.0),
            (0.0, 1.0),
            (1.0, 5.0),
            (0.1, 0.35),
            (0.5, 2.5),
            (0.001, 0.002),
            (2.0, 2000.0),
            (0.0, 4_294_967.0),
            (123.456, 789.012),
            (0.0004, 3.0),
            (1.0, 1.0),
            (7.0, 3.0),
        ];
        let mut words = SimRng::derive(17, "sampler-words");
        let mut fast = 0;
        for &(min, max) in &bounds {
            let d = Dist::Uniform { min, max };
            let s = DurationSampler::new(&d);
            if s.whole_us.is_some() {
                fast += 1;
            }
            for _ in 0..200_000 {
                let (mut a, mut b) = (words.clone(), words.clone());
                let want = d.sample_duration(&mut b);
                assert_eq!(s.sample(&mut a), want, "uniform {min}..{max}");
                if let Some(wu) = s.whole_us {
                    // The fallback is the float draw on the same bits.
                    let m = words.clone().next_u64() >> 11;
                    assert_eq!(wu.float_path(m), want, "uniform {min}..{max}");
                }
                words.next_u64();
            }
            if let Some(wu) = s.whole_us {
                // Bits whose exact value sits just outside the band on
                // either side of a half, for many multiples: where the
                // integer path would first disagree with the float one.
                for _ in 0..20_000 {
                    let k = words.range_inclusive(0, wu.span_us - 1);
                    for off in [NEAR_HALF + 1, NEAR_HALF + 7, NEAR_HALF * 2] {
                        for (target, up) in [(HALF - off, false), (HALF + off, true)] {
                            // The m with span * m nearest k * 2^53 + target
                            // on the side away from the half.
                            let num = ((k as u128) << 53) + target as u128;
                            let span = wu.span_us as u128;
                            let m = if up { num.div_ceil(span) } else { num / span };
                            if m < (1u128 << 53) {
                                let m = m as u64;
                                let exact = wu.exact(m).expect("outside the band");
                                assert_eq!(exact, wu.float_path(m), "uniform {min}..{max}, m {m}");
                            }
                        }
                    }
                }
            }
        }
        assert!(
            fast >= 9,
            "the whole-µs path must be exercised ({fast} bounds)"
        );
    }

    fn mean_of(d: &Dist, n: usize) -> f64 {
        let mut r = SimRng::derive(11, "dist");
        (0..n).map(|_| d.sample(&mut r)).sum::<f64>() / n as f64
    }

    /// Sample means land near the analytic means for every family.
    #[test]
    fn sample_means_match_analytic_means() {
        let cases = [
            Dist::Fixed(5.0),
            Dist::Uniform {
                min: 5.0,
                max: 10.0,
            },
            Dist::Normal {
                mean: 8.0,
                stddev: 2.0,
            },
            Dist::Exponential { mean: 8.0 },
            Dist::LogNormal {
                median: 8.0,
                sigma: 0.5,
            },
            Dist::Pareto {
                scale: 5.0,
                shape: 2.5,
            },
        ];
        for d in &cases {
            let m = mean_of(d, 50_000);
            let want = d.mean();
            assert!(
                (m - want).abs() / want < 0.05,
                "{d:?}: sample mean {m}, analytic {want}"
            );
        }
    }

    /// Uniform draws stay in range; normal draws are never negative.
    #[test]
    fn draws_respect_support() {
        let mut r = SimRng::derive(1, "dist");
        for _ in 0..10_000 {
            let u = Dist::Uniform {
                min: 5.0,
                max: 10.0,
            }
            .sample(&mut r);
            assert!((5.0..=10.0).contains(&u));
            assert!(
                Dist::Normal {
                    mean: 1.0,
                    stddev: 5.0
                }
                .sample(&mut r)
                    >= 0.0
            );
            assert!(
                Dist::Pareto {
                    scale: 5.0,
                    shape: 2.5
                }
                .sample(&mut r)
                    >= 5.0
            );
        }
    }
}
