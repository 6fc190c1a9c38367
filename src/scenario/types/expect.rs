//! End-of-run assertions (`expect`).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// End-of-run assertions. Each is checked in every run kind that accepts
/// it; validation rejects a field where it has no meaning.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ExpectSpec {
    /// Fraction of sent messages that must be delivered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0, max = 1))]
    pub min_delivery_ratio: Option<f64>,
    /// Window of the `liveness.leader` check: once the last fault has
    /// ended (and a majority is up and connected), a leader must be known
    /// to a majority within this many ms (default: 10 x the maximum
    /// election timeout). Raft clusters only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("exclusiveMinimum" = 0))]
    pub leader_within_ms_after_heal: Option<f64>,
    /// Window of the `liveness.progress` check: once the last fault has
    /// ended, some client operation must complete within this many ms
    /// (default: 5000 + 10 x `workload.timeout_ms`). Needs a `workload`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("exclusiveMinimum" = 0))]
    pub progress_within_ms_after_heal: Option<f64>,
    /// At most this many elections after the last fault ended (Raft
    /// clusters, Raft coordinators).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_elections_after_heal: Option<u64>,
    /// Minimum availability (0..=1). Needs a `workload`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0, max = 1))]
    pub min_availability: Option<f64>,
    /// Window of the `liveness.workflows` check: once the faults have
    /// ended (a majority of servers and an agent per needed skill up and
    /// connected), every workflow must complete or be dead-lettered within
    /// this many ms of the later of that time and its arrival (default:
    /// derived from the scenario's own timeouts, generously). Workflow
    /// runs only; must not be shorter than `workflow.agent_timeout_ms`
    /// or the arbiter's deadline.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("exclusiveMinimum" = 0))]
    pub workflow_progress_within_ms: Option<f64>,
    /// At least this fraction (0..=1) of the scheduled workflows completes.
    /// Workflow runs only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0, max = 1))]
    pub min_completed_fraction: Option<f64>,
    /// The 99th percentile of completed workflows' latency (arrival to
    /// done, true simulated time) is at most this many ms. Workflow runs
    /// only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("exclusiveMinimum" = 0))]
    pub workflow_p99_ms: Option<f64>,
    /// Agents spend at most this many tokens in all (every attempt,
    /// committed or not). Workflow runs only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_tokens_spent: Option<u64>,
    /// At most this many tasks are dead-lettered over the run (re-driven
    /// ones count). Workflow runs only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_dead_letters: Option<u64>,
}
