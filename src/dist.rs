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

#[cfg(test)]
mod tests {
    use super::*;

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
