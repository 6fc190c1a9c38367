//! The scenario file format: serde types with `deny_unknown_fields`, and
//! the JSON Schema derived from them (`agentsim schema`), so the two cannot
//! drift. Values here are unvalidated; see `validate/`. One file per
//! concept; every type is re-exported here, at its old path.

mod cluster;
mod expect;
mod faults;
mod network;
mod workflow;
mod workload;

pub use cluster::*;
pub use expect::*;
pub use faults::*;
pub use network::*;
pub use workflow::*;
pub use workload::*;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// A whole scenario file.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ScenarioSpec {
    /// The JSON Schema the file follows (e.g. `"scenario.schema.json"`,
    /// written by `agentsim schema`), so editors can check and complete
    /// it. The simulator ignores it: it is not validated, not part of a
    /// run and not written back into reports.
    #[serde(rename = "$schema", default, skip_serializing)]
    pub schema: Option<String>,
    /// Short name; the default output folder is `out/<name>/`.
    pub name: String,
    /// One or two sentences on what the scenario shows.
    #[serde(default)]
    pub description: String,
    /// The seed every random stream is derived from (`--seed` overrides it).
    #[serde(default)]
    pub seed: u64,
    /// Virtual run time in milliseconds (> 0).
    #[schemars(extend("exclusiveMinimum" = 0))]
    pub duration_ms: f64,
    /// The cluster of server nodes.
    pub cluster: ClusterSpec,
    /// Network defaults and per-link overrides.
    #[serde(default)]
    pub network: NetworkSpec,
    /// Disk model.
    #[serde(default)]
    pub disk: DiskSpec,
    /// Scripted faults, in any order.
    #[serde(default)]
    pub faults: Vec<FaultSpec>,
    /// Random faults drawn from the seed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nemesis: Option<NemesisSpec>,
    /// Imperfect clocks: per-node drift and timer jitter (default: none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clocks: Option<ClocksSpec>,
    /// Client workload against a Raft cluster.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workload: Option<WorkloadSpec>,
    /// Assertions checked at the end of the run (exit 1 when one fails).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expect: Option<ExpectSpec>,
    /// Switch on one deliberately wrong protocol variant (see `--bug`): a
    /// Raft bug (one of the 17 in docs/bugs.md, e.g. `forget-vote`,
    /// `stale-read`, `double-vote`; needs `"process": "raft"`) or a
    /// coordinator bug (`coord-accept-stale`, `coord-double-result`,
    /// `coord-arbiter-first`, `coord-ignore-deps`, `coord-drop-dead-letter`,
    /// `coord-snapshot-drops-results`, `coord-ap-keep-local` (AP only),
    /// `coord-approval-local-clock`, `coord-forget-retry`; needs a
    /// `workflow`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bug: Option<String>,
    /// Multi-agent collaboration on a Raft-replicated coordinator (needs
    /// `"process": "raft"`; replaces the KV workload).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workflow: Option<WorkflowSpec>,
    /// Bounds on the run itself (the event cap).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limits: Option<LimitsSpec>,
}

/// Bounds that end a runaway run as a failure instead of a hang.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LimitsSpec {
    /// Most events one run may dispatch (> 0). Reaching it stops the run
    /// and fails it as `liveness.event_storm`. Default: 2,000 events per
    /// simulated ms of `duration_ms`, at least 1,000,000 and at most
    /// 1,000,000,000.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1))]
    pub max_events: Option<u64>,
}

/// Per-node clock drift and timer jitter. Each node draws its drift once
/// per life from its own stream; every timer fires late by a jitter draw.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ClocksSpec {
    /// Drift range `[min, max]` in parts per million, each within
    /// [-1000, 1000] (e.g. `[-100, 100]`; default `[0, 0]`).
    #[serde(default)]
    #[schemars(inner(range(min = -1000, max = 1000)))]
    pub drift_ppm: [f64; 2],
    /// Extra delay of every timer, `[min, max]` in microseconds of true
    /// time, at most the minimum election timeout (default `[0, 0]`).
    #[serde(default)]
    #[schemars(inner(range(min = 0)))]
    pub timer_jitter_us: [f64; 2],
}

fn yes() -> bool {
    true
}
