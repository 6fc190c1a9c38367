//! The KV client workload of a Raft cluster.

use super::yes;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Client workload (Raft clusters).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WorkloadSpec {
    /// Number of clients (each a closed loop: one outstanding operation).
    #[schemars(range(min = 1, max = 10000))]
    pub clients: u32,
    /// Target total operation rate across clients, per second.
    #[schemars(extend("exclusiveMinimum" = 0))]
    pub rate_per_s: f64,
    /// Operation mix (weights, normalised).
    #[serde(default)]
    pub mix: MixSpec,
    /// Number of distinct keys (keys are 0..keys).
    #[serde(default = "default_keys")]
    #[schemars(range(min = 1))]
    pub keys: u32,
    /// Client gives up on an operation after this long (outcome unknown).
    #[serde(default = "default_timeout")]
    #[schemars(extend("exclusiveMinimum" = 0))]
    pub timeout_ms: f64,
    /// Record the history and check linearizability (true). Switch off for
    /// very long runs to keep memory flat.
    #[serde(default = "yes")]
    pub check_linearizability: bool,
}

fn default_keys() -> u32 {
    8
}
fn default_timeout() -> f64 {
    1000.0
}

/// Operation mix weights.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MixSpec {
    /// Weight of reads (0.5).
    #[serde(default)]
    #[schemars(range(min = 0, max = 1))]
    pub read: f64,
    /// Weight of writes (0.4).
    #[serde(default)]
    #[schemars(range(min = 0, max = 1))]
    pub write: f64,
    /// Weight of compare-and-sets (0.1).
    #[serde(default)]
    #[schemars(range(min = 0, max = 1))]
    pub cas: f64,
}

impl Default for MixSpec {
    fn default() -> Self {
        MixSpec {
            read: 0.5,
            write: 0.4,
            cas: 0.1,
        }
    }
}
