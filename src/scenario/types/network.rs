//! Distributions, the network model and the disk model.

use super::yes;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// A latency (or other non-negative quantity) distribution, in milliseconds.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "dist", rename_all = "snake_case", deny_unknown_fields)]
pub enum DistSpec {
    /// Always `value`.
    Fixed {
        /// The value.
        #[schemars(range(min = 0))]
        value: f64,
    },
    /// Uniform in `[min, max]`.
    Uniform {
        /// Lower bound.
        #[schemars(range(min = 0))]
        min: f64,
        /// Upper bound.
        #[schemars(range(min = 0))]
        max: f64,
    },
    /// Normal, truncated at 0.
    Normal {
        /// Mean.
        #[schemars(range(min = 0))]
        mean: f64,
        /// Standard deviation.
        #[schemars(range(min = 0))]
        stddev: f64,
    },
    /// Exponential.
    Exponential {
        /// Mean.
        #[schemars(extend("exclusiveMinimum" = 0))]
        mean: f64,
    },
    /// Log-normal: `median * exp(sigma * z)`.
    Lognormal {
        /// Median.
        #[schemars(extend("exclusiveMinimum" = 0))]
        median: f64,
        /// Shape (standard deviation of the log).
        #[schemars(range(min = 0))]
        sigma: f64,
    },
    /// Pareto: heavy tailed, never below `scale`.
    Pareto {
        /// Minimum value.
        #[schemars(extend("exclusiveMinimum" = 0))]
        scale: f64,
        /// Tail index (larger is lighter).
        #[schemars(extend("exclusiveMinimum" = 0))]
        shape: f64,
    },
}

/// Network defaults.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NetworkSpec {
    /// One-way latency (default fixed 1 ms).
    #[serde(default = "default_latency")]
    pub latency_ms: DistSpec,
    /// Loss probability per message (0).
    #[serde(default)]
    #[schemars(range(min = 0, max = 1))]
    pub drop: f64,
    /// Duplication probability per delivered message (0).
    #[serde(default)]
    #[schemars(range(min = 0, max = 1))]
    pub duplicate: f64,
    /// Allow messages on one link to overtake each other (true). `false`
    /// makes every directed link FIFO.
    #[serde(default = "yes")]
    pub reorder: bool,
    /// Per directed link overrides.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub links: Vec<LinkSpec>,
}

impl Default for NetworkSpec {
    fn default() -> Self {
        NetworkSpec {
            latency_ms: default_latency(),
            drop: 0.0,
            duplicate: 0.0,
            reorder: true,
            links: Vec::new(),
        }
    }
}

fn default_latency() -> DistSpec {
    DistSpec::Fixed { value: 1.0 }
}

/// Override for one directed link (fields left out keep the defaults).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LinkSpec {
    /// Sender node index.
    pub from: u32,
    /// Receiver node index.
    pub to: u32,
    /// Also override the reverse direction.
    #[serde(default)]
    pub both_ways: bool,
    /// Latency on this link.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latency_ms: Option<DistSpec>,
    /// Loss probability on this link.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0, max = 1))]
    pub drop: Option<f64>,
    /// Duplication probability on this link.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0, max = 1))]
    pub duplicate: Option<f64>,
}

/// Disk model.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DiskSpec {
    /// Latency of one fsync (default fixed 0).
    #[serde(default = "default_sync")]
    pub sync_ms: DistSpec,
}

impl Default for DiskSpec {
    fn default() -> Self {
        DiskSpec {
            sync_ms: default_sync(),
        }
    }
}

fn default_sync() -> DistSpec {
    DistSpec::Fixed { value: 0.0 }
}
