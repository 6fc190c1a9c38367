//! Virtual time. Integer microseconds so that arithmetic is exact and the
//! same on every machine; floating point only appears at the scenario edge.

use std::fmt;
use std::ops::{Add, AddAssign, Sub};

/// An instant of virtual time, in microseconds since the start of the run.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug, Default)]
pub struct SimTime(pub u64);

/// A span of virtual time, in microseconds.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug, Default)]
pub struct SimDuration(pub u64);

impl SimTime {
    /// The start of every run.
    pub const ZERO: SimTime = SimTime(0);

    /// Microseconds since the start.
    #[inline]
    pub fn as_micros(self) -> u64 {
        self.0
    }

    /// Milliseconds since the start, for reports.
    pub fn as_millis_f64(self) -> f64 {
        self.0 as f64 / 1000.0
    }

    /// Time elapsed since `earlier`, zero if `earlier` is later.
    #[inline]
    pub fn saturating_since(self, earlier: SimTime) -> SimDuration {
        SimDuration(self.0.saturating_sub(earlier.0))
    }
}

impl SimDuration {
    /// No time at all.
    pub const ZERO: SimDuration = SimDuration(0);

    /// From whole milliseconds.
    pub const fn from_millis(ms: u64) -> Self {
        SimDuration(ms * 1000)
    }

    /// From microseconds.
    pub const fn from_micros(us: u64) -> Self {
        SimDuration(us)
    }

    /// From (possibly fractional) milliseconds, rounded to the nearest
    /// microsecond. Negative or non-finite input becomes zero; callers at the
    /// scenario edge validate before converting.
    #[inline]
    pub fn from_millis_f64(ms: f64) -> Self {
        if ms.is_finite() && ms > 0.0 {
            let us = ms * 1000.0;
            if us < (1u64 << 52) as f64 {
                // Round half away from zero without the `round` libcall
                // (a latency draw per message): below 2^52 the truncation
                // is exact and so is the fraction `us - t`, so this is
                // bit-for-bit `us.round()`.
                // (Signed conversions: one instruction each way.)
                let t = us as i64;
                let frac = us - t as f64;
                SimDuration(t as u64 + (frac >= 0.5) as u64)
            } else {
                SimDuration(us.round() as u64)
            }
        } else {
            SimDuration(0)
        }
    }

    /// Microseconds.
    #[inline]
    pub fn as_micros(self) -> u64 {
        self.0
    }

    /// Milliseconds, for reports.
    pub fn as_millis_f64(self) -> f64 {
        self.0 as f64 / 1000.0
    }
}

impl Add<SimDuration> for SimTime {
    type Output = SimTime;
    #[inline]
    fn add(self, d: SimDuration) -> SimTime {
        SimTime(self.0.saturating_add(d.0))
    }
}

impl AddAssign<SimDuration> for SimTime {
    #[inline]
    fn add_assign(&mut self, d: SimDuration) {
        self.0 = self.0.saturating_add(d.0);
    }
}

impl Add for SimDuration {
    type Output = SimDuration;
    #[inline]
    fn add(self, d: SimDuration) -> SimDuration {
        SimDuration(self.0.saturating_add(d.0))
    }
}

impl Sub for SimTime {
    type Output = SimDuration;
    /// Panics in debug if `rhs` is later: virtual time never runs backwards.
    #[inline]
    fn sub(self, rhs: SimTime) -> SimDuration {
        debug_assert!(
            self.0 >= rhs.0,
            "time ran backwards: {} < {}",
            self.0,
            rhs.0
        );
        SimDuration(self.0.saturating_sub(rhs.0))
    }
}

impl fmt::Display for SimTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{:03}ms", self.0 / 1000, self.0 % 1000)
    }
}

impl fmt::Display for SimDuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{:03}ms", self.0 / 1000, self.0 % 1000)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The libcall-free rounding in `from_millis_f64` agrees bit for bit
    /// with `f64::round` (trace hashes depend on it): halves, values just
    /// below a half, the 2^52 boundary and a sweep of random draws.
    #[test]
    fn from_millis_f64_rounds_like_f64_round() {
        let reference = |ms: f64| SimDuration((ms * 1000.0).round() as u64);
        let mut cases = vec![
            0.0005,
            0.0004999999999999999,
            0.0015,
            0.0025,
            1.0,
            7.3455,
            0.49999999999999994 / 1000.0,
            4503599627370.495,
            4503599627370.496,
            4503599627370.497,
            1e15,
        ];
        let mut r = crate::rng::SimRng::derive(5, "round");
        cases.extend((0..100_000).map(|_| 5.0 + 5.0 * r.unit()));
        cases.extend((0..100_000).map(|_| r.exponential(50.0)));
        for ms in cases {
            assert_eq!(SimDuration::from_millis_f64(ms), reference(ms), "{ms}");
        }
    }
}
