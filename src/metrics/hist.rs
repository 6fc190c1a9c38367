//! Latency histograms (HdrHistogram: bounded memory, 3 significant digits,
//! mergeable across runs for sweeps).

use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

/// A latency histogram's summary in milliseconds: the report's
/// `client_latency_ms`, `commit_latency_ms`, `collab.task_latency_ms`,
/// the workflow latencies, and the sweep statistics' merged latencies.
///
/// Fields are declared in key order, so the struct writes the same bytes
/// whether it is serialized directly or through a `serde_json::Value`
/// (as report sections are, keys sorted). `count` is an integer, the rest
/// are floats (`0.0`, never `0`, when empty).
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct LatencySummary {
    /// Samples recorded.
    pub count: u64,
    /// Largest sample (0 when empty).
    pub max: f64,
    /// Mean (0 when empty).
    pub mean: f64,
    /// Median.
    pub p50: f64,
    /// 90th percentile.
    pub p90: f64,
    /// 99th percentile.
    pub p99: f64,
    /// 99.9th percentile.
    pub p999: f64,
}

/// A latency histogram in microseconds, reported in milliseconds.
#[derive(Clone, Debug)]
pub struct LatencyHist {
    h: Histogram<u64>,
}

impl Default for LatencyHist {
    fn default() -> Self {
        Self::new()
    }
}

impl LatencyHist {
    /// Empty; records 1 µs .. 1 hour with 3 significant digits.
    pub fn new() -> Self {
        LatencyHist {
            h: Histogram::new_with_bounds(1, 3_600_000_000, 3).expect("valid bounds"),
        }
    }

    /// Record one latency in microseconds (clamped into range).
    pub fn record_us(&mut self, us: u64) {
        self.h.saturating_record(us.max(1));
    }

    /// Number of samples.
    pub fn count(&self) -> u64 {
        self.h.len()
    }

    /// Add another histogram's samples.
    pub fn merge(&mut self, other: &LatencyHist) {
        self.h.add(&other.h).expect("same bounds");
    }

    /// Record `count` latencies of `us` microseconds (clamped into range).
    pub fn record_n_us(&mut self, us: u64, count: u64) {
        self.h.saturating_record_n(us.max(1), count);
    }

    /// The recorded buckets as sparse `(value_us, count)` pairs in
    /// ascending value order, each value the highest equivalent value of
    /// its bucket. Recording the pairs into an empty histogram with
    /// [`LatencyHist::record_n_us`] gives back the same histogram, so this
    /// is a compact, mergeable encoding (sweeps store one per seed).
    pub fn to_sparse(&self) -> Vec<(u64, u64)> {
        self.h
            .iter_recorded()
            .map(|v| (v.value_iterated_to(), v.count_at_value()))
            .collect()
    }

    /// Inverse of [`LatencyHist::to_sparse`].
    pub fn from_sparse(pairs: &[(u64, u64)]) -> Self {
        let mut h = LatencyHist::new();
        for &(v, c) in pairs {
            h.record_n_us(v, c);
        }
        h
    }

    /// Quantile `q` in milliseconds (0 when empty).
    pub fn quantile_ms(&self, q: f64) -> f64 {
        if self.h.is_empty() {
            0.0
        } else {
            self.h.value_at_quantile(q) as f64 / 1000.0
        }
    }

    /// Count, mean, quantiles and max, in ms (the report's latency
    /// summaries).
    pub fn summary(&self) -> LatencySummary {
        LatencySummary {
            count: self.count(),
            mean: if self.h.is_empty() {
                0.0
            } else {
                self.h.mean() / 1000.0
            },
            p50: self.quantile_ms(0.5),
            p90: self.quantile_ms(0.9),
            p99: self.quantile_ms(0.99),
            p999: self.quantile_ms(0.999),
            max: if self.h.is_empty() {
                0.0
            } else {
                self.h.max() as f64 / 1000.0
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::LatencyHist;

    /// The sparse encoding round-trips: same buckets, count, quantiles.
    #[test]
    fn sparse_pairs_round_trip() {
        let mut h = LatencyHist::new();
        for us in [1, 7, 7, 999, 1_000, 1_001, 52_345, 600_000, 4_000_000_000] {
            h.record_us(us);
        }
        let pairs = h.to_sparse();
        let back = LatencyHist::from_sparse(&pairs);
        assert_eq!(back.to_sparse(), pairs);
        assert_eq!(back.count(), h.count());
        assert_eq!(back.summary(), h.summary());
    }
}
