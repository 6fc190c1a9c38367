//! Latency histograms (HdrHistogram: bounded memory, 3 significant digits,
//! mergeable across runs for sweeps).

use hdrhistogram::Histogram;
use serde_json::{json, Value};

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

    /// Quantile `q` in milliseconds (0 when empty).
    pub fn quantile_ms(&self, q: f64) -> f64 {
        if self.h.is_empty() {
            0.0
        } else {
            self.h.value_at_quantile(q) as f64 / 1000.0
        }
    }

    /// `{"count", "mean", "p50", "p90", "p99", "p999", "max"}` in ms.
    pub fn summary_json(&self) -> Value {
        json!({
            "count": self.count(),
            "mean": if self.h.is_empty() { 0.0 } else { self.h.mean() / 1000.0 },
            "p50": self.quantile_ms(0.5),
            "p90": self.quantile_ms(0.9),
            "p99": self.quantile_ms(0.99),
            "p999": self.quantile_ms(0.999),
            "max": if self.h.is_empty() { 0.0 } else { self.h.max() as f64 / 1000.0 },
        })
    }
}
