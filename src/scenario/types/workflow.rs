//! The multi-agent collaboration workload (`workflow`): agents, stages,
//! arrivals, and the coordinator's settings.

use super::{yes, DistSpec};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Collaboration mode.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ModeSpec {
    /// Stages in DAG order, one agent each.
    Pipeline,
    /// k agents per stage; an arbiter picks the winner.
    Competitive,
    /// Ready tasks assigned in batches by capability.
    Division,
    /// A task analyzer routes each task to one of the other modes.
    Hybrid,
}

/// Coordinator consistency.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema, Default)]
#[serde(rename_all = "snake_case")]
pub enum ConsistencySpec {
    /// One Raft-replicated coordinator (the leader).
    #[default]
    Cp,
    /// Every server coordinates from its local copy; copies are gossiped
    /// and merged by last-writer-wins (see `ap`).
    Ap,
}

/// Settings of the AP coordinator.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ApSpec {
    /// Gossip period between servers, ms (100).
    #[serde(default = "default_gossip")]
    #[schemars(range(min = 1))]
    pub gossip_ms: f64,
    /// A server silent this long is considered down, ms (500). The
    /// lowest-id server a server considers up coordinates.
    #[serde(default = "default_suspect")]
    #[schemars(range(min = 2))]
    pub suspect_ms: f64,
}

impl Default for ApSpec {
    fn default() -> Self {
        ApSpec {
            gossip_ms: default_gossip(),
            suspect_ms: default_suspect(),
        }
    }
}

fn default_gossip() -> f64 {
    100.0
}
fn default_suspect() -> f64 {
    500.0
}

/// Task priority.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema, Default)]
#[serde(rename_all = "snake_case")]
pub enum PrioritySpec {
    /// Background.
    Low,
    /// Default.
    #[default]
    Normal,
    /// Prefers accurate agents.
    High,
    /// Overtakes queued work; most accurate agents; more competitors.
    Critical,
}

/// A group of identical agents.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AgentGroupSpec {
    /// Group name.
    pub name: String,
    /// Number of agents (1).
    #[serde(default = "one")]
    #[schemars(range(min = 1))]
    pub count: u32,
    /// Skills offered.
    #[schemars(length(min = 1))]
    pub skills: Vec<String>,
    /// Probability a result is correct (0.9).
    #[serde(default = "default_accuracy")]
    #[schemars(range(min = 0, max = 1))]
    pub accuracy: f64,
    /// Time for a size-1 task, ms.
    pub latency_ms: DistSpec,
    /// Tokens for a size-1 task (fixed 1000).
    #[serde(default = "default_tokens")]
    pub tokens: DistSpec,
    /// Probability a task runs without a transient failure (1).
    #[serde(default = "one_f")]
    #[schemars(range(min = 0, max = 1))]
    pub availability: f64,
    /// Hard failure: agents of this group die at this time, ms.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0))]
    pub fail_at_ms: Option<f64>,
    /// How many of the group die at `fail_at_ms` (all).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fail_count: Option<u32>,
}

fn one() -> u32 {
    1
}
fn one_f() -> f64 {
    1.0
}
fn default_accuracy() -> f64 {
    0.9
}
fn default_tokens() -> DistSpec {
    DistSpec::Fixed { value: 1000.0 }
}

/// A conditional edge.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BranchSpec {
    /// Quality (mean score, correct results only) at or above which `above` runs.
    #[schemars(range(min = 0, max = 1))]
    pub threshold: f64,
    /// Stage taken on a good outcome.
    pub above: String,
    /// Stage taken otherwise.
    pub below: String,
}

/// One stage of the workflow.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct StageSpec {
    /// Unique stage name.
    pub id: String,
    /// Skill needed.
    pub skill: String,
    /// Stages that must finish first.
    #[serde(default)]
    pub after: Vec<String>,
    /// Priority (normal).
    #[serde(default)]
    pub priority: PrioritySpec,
    /// Relative size (1).
    #[serde(default = "one_f")]
    #[schemars(extend("exclusiveMinimum" = 0))]
    pub size: f64,
    /// Wait for an approval before starting (false).
    #[serde(default)]
    pub interrupt_before: bool,
    /// Route the outcome to one of two stages.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub branch: Option<BranchSpec>,
}

/// Workflow arrivals.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ArrivalsSpec {
    /// Number of workflows.
    #[schemars(range(min = 1))]
    pub workflows: u32,
    /// Arrival rate (Poisson), per second.
    #[schemars(extend("exclusiveMinimum" = 0))]
    pub rate_per_s: f64,
    /// Per-task size multiplier (fixed 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<DistSpec>,
    /// Fraction of workflows whose tasks are all critical (0).
    #[serde(default)]
    #[schemars(range(min = 0, max = 1))]
    pub critical_fraction: f64,
}

/// Resend policy.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RetrySpec {
    /// Sends of one message before giving up (3).
    #[serde(default = "three")]
    #[schemars(range(min = 1, max = 10))]
    pub max_attempts: u32,
    /// Backoff `[min, max]`, ms ([100, 2000]).
    #[serde(default = "default_backoff")]
    #[schemars(extend("items" = {"type": "number", "exclusiveMinimum": 0}))]
    pub backoff_ms: [f64; 2],
    /// Attempts of one task before it is dead-lettered (3).
    #[serde(default = "three")]
    #[schemars(range(min = 1, max = 100))]
    pub task_attempts: u32,
    /// Times a dead-lettered task is re-driven (1).
    #[serde(default = "one")]
    #[schemars(range(max = 10))]
    pub redrives: u32,
}

impl Default for RetrySpec {
    fn default() -> Self {
        RetrySpec {
            max_attempts: 3,
            backoff_ms: default_backoff(),
            task_attempts: 3,
            redrives: 1,
        }
    }
}

fn three() -> u32 {
    3
}
fn default_backoff() -> [f64; 2] {
    [100.0, 2000.0]
}

/// Circuit breaker per agent.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BreakerSpec {
    /// Consecutive failures that open it (5).
    #[serde(default = "five")]
    #[schemars(range(min = 1))]
    pub failures: u32,
    /// Time open before a half-open probe, ms (5000).
    #[serde(default = "default_open")]
    #[schemars(extend("exclusiveMinimum" = 0))]
    pub open_ms: f64,
}

impl Default for BreakerSpec {
    fn default() -> Self {
        BreakerSpec {
            failures: 5,
            open_ms: 5000.0,
        }
    }
}

fn five() -> u32 {
    5
}
fn default_open() -> f64 {
    5000.0
}

/// Arbiter weights.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WeightsSpec {
    /// (0.4)
    #[serde(default = "w_rel")]
    #[schemars(range(min = 0))]
    pub relevance: f64,
    /// (0.3)
    #[serde(default = "w_other")]
    #[schemars(range(min = 0))]
    pub innovation: f64,
    /// (0.3)
    #[serde(default = "w_other")]
    #[schemars(range(min = 0))]
    pub feasibility: f64,
}

impl Default for WeightsSpec {
    fn default() -> Self {
        WeightsSpec {
            relevance: 0.4,
            innovation: 0.3,
            feasibility: 0.3,
        }
    }
}

fn w_rel() -> f64 {
    0.4
}
fn w_other() -> f64 {
    0.3
}

/// Competitive-mode arbiter.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ArbiterSpec {
    /// Score weights.
    #[serde(default)]
    pub weights: WeightsSpec,
    /// Competitors at normal priority (3).
    #[serde(default = "three")]
    #[schemars(range(min = 1, max = 16))]
    pub k: u32,
    /// Decide this long after the first competitor started, ms (3000).
    #[serde(default = "default_deadline")]
    #[schemars(extend("exclusiveMinimum" = 0))]
    pub deadline_ms: f64,
    /// Utility lost per 1000 tokens (0.02).
    #[serde(default = "default_cost")]
    #[schemars(range(min = 0))]
    pub cost_per_1k_tokens: f64,
}

impl Default for ArbiterSpec {
    fn default() -> Self {
        ArbiterSpec {
            weights: WeightsSpec::default(),
            k: 3,
            deadline_ms: default_deadline(),
            cost_per_1k_tokens: default_cost(),
        }
    }
}

fn default_deadline() -> f64 {
    3000.0
}
fn default_cost() -> f64 {
    0.02
}

/// Division-mode assignment.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema, Default)]
#[serde(rename_all = "snake_case")]
pub enum AssignAlgoSpec {
    /// Optimal assignment.
    #[default]
    Hungarian,
    /// Cheapest pair first (baseline).
    Greedy,
}

/// Division-mode settings.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DivisionSpec {
    /// Algorithm (hungarian).
    #[serde(default)]
    pub algorithm: AssignAlgoSpec,
    /// Most tasks per batch (32).
    #[serde(default = "default_batch")]
    #[schemars(range(min = 1, max = 1024))]
    pub batch: u32,
}

impl Default for DivisionSpec {
    fn default() -> Self {
        DivisionSpec {
            algorithm: AssignAlgoSpec::Hungarian,
            batch: 32,
        }
    }
}

fn default_batch() -> u32 {
    32
}

/// Hybrid-mode analyzer thresholds.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct HybridSpec {
    /// Complexity at or above which a task competes (1.5).
    #[serde(default = "default_comp")]
    #[schemars(range(min = 0))]
    pub competitive_above: f64,
    /// Independent tasks at or below this complexity are batched (0.8).
    #[serde(default = "default_div")]
    #[schemars(range(min = 0))]
    pub division_below: f64,
}

impl Default for HybridSpec {
    fn default() -> Self {
        HybridSpec {
            competitive_above: default_comp(),
            division_below: default_div(),
        }
    }
}

fn default_comp() -> f64 {
    1.5
}
fn default_div() -> f64 {
    0.8
}

/// A scripted approval: from `at_ms` on, stage `stage` is approved.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ApprovalSpec {
    /// When, ms.
    #[schemars(range(min = 0))]
    pub at_ms: f64,
    /// Stage id.
    pub stage: String,
}

/// The collaboration workload.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WorkflowSpec {
    /// Mode.
    pub mode: ModeSpec,
    /// Coordinator consistency (cp).
    #[serde(default)]
    pub consistency: ConsistencySpec,
    /// AP coordinator settings (used with `"consistency": "ap"`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ap: Option<ApSpec>,
    /// Agent groups.
    #[schemars(length(min = 1))]
    pub agents: Vec<AgentGroupSpec>,
    /// The workflow's stages (a DAG).
    #[schemars(length(min = 1, max = 1000))]
    pub stages: Vec<StageSpec>,
    /// How many workflows arrive, how fast.
    pub arrivals: ArrivalsSpec,
    /// Resends and dead letters.
    #[serde(default)]
    pub retry: RetrySpec,
    /// Per-agent circuit breaker.
    #[serde(default)]
    pub breaker: BreakerSpec,
    /// Competitive arbiter.
    #[serde(default)]
    pub arbiter: ArbiterSpec,
    /// Division settings.
    #[serde(default)]
    pub division: DivisionSpec,
    /// Hybrid analyzer.
    #[serde(default)]
    pub hybrid: HybridSpec,
    /// Scripted approvals.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub approvals: Vec<ApprovalSpec>,
    /// Modelled human approval delay, ms.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub human_delay_ms: Option<DistSpec>,
    /// Agent heartbeat period, ms (1000).
    #[serde(default = "default_agent_hb")]
    #[schemars(extend("exclusiveMinimum" = 0))]
    pub agent_heartbeat_ms: f64,
    /// Agent declared lost after this silence, ms (3500).
    #[serde(default = "default_agent_timeout")]
    #[schemars(extend("exclusiveMinimum" = 0))]
    pub agent_timeout_ms: f64,
    /// Tasks an agent holds at once, running + queued (2).
    #[serde(default = "two")]
    #[schemars(range(min = 1, max = 64))]
    pub agent_slots: u32,
    /// Assignments an agent can queue behind the one it runs; beyond it an
    /// assignment is refused (default: 2 x `agent_slots`, at least 16, so
    /// the inbox never refuses what the dispatcher may send).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 4096))]
    pub agent_inbox: Option<u32>,
    /// Dispatcher tick, ms (50).
    #[serde(default = "default_tick")]
    #[schemars(range(min = 1))]
    pub tick_ms: f64,
    /// End the run once no task can make progress (true).
    #[serde(default = "yes")]
    pub stop_when_done: bool,
}

fn default_agent_hb() -> f64 {
    1000.0
}
fn default_agent_timeout() -> f64 {
    3500.0
}
fn two() -> u32 {
    2
}
fn default_tick() -> f64 {
    50.0
}
