//! The collaboration configuration: everything the coordinator and agents
//! need, built from the scenario by the runner. A leaf module: it imports
//! nothing else from `collab`, so every child can depend on it.

use super::bug::CoordBug;
use crate::dist::Dist;
use crate::ids::NodeId;
use crate::time::{SimDuration, SimTime};

/// Task priority: higher values overtake lower ones in agent inboxes and
/// the dispatcher's ready queue, raise the accuracy floor of the agent
/// chosen, and (competitive) add competitors.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Default)]
pub enum Priority {
    /// Background work.
    Low = 0,
    /// The default.
    #[default]
    Normal = 1,
    /// Prefer accurate agents (accuracy ≥ 0.8 when any is free).
    High = 2,
    /// Overtakes everything queued; accuracy ≥ 0.9 when any is free.
    Critical = 3,
}

impl Priority {
    /// From the encoded byte (unknown values are `Normal`).
    pub fn from_u8(v: u8) -> Priority {
        match v {
            0 => Priority::Low,
            2 => Priority::High,
            3 => Priority::Critical,
            _ => Priority::Normal,
        }
    }
    /// The accuracy an agent must have to be preferred for this priority.
    pub fn accuracy_floor(self) -> f64 {
        match self {
            Priority::Low | Priority::Normal => 0.0,
            Priority::High => 0.8,
            Priority::Critical => 0.9,
        }
    }
    /// How many agents compete on a task of this priority, given the
    /// arbiter's base `k`.
    pub fn competitors(self, k: u32) -> u32 {
        match self {
            Priority::Low => k.saturating_sub(1).max(1),
            Priority::Normal => k,
            Priority::High => k + 1,
            Priority::Critical => k + 2,
        }
    }
    /// Name used in reports.
    pub fn name(self) -> &'static str {
        match self {
            Priority::Low => "low",
            Priority::Normal => "normal",
            Priority::High => "high",
            Priority::Critical => "critical",
        }
    }
}

/// How a workflow's stages are turned into tasks and dispatched.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Mode {
    /// One agent per stage, stages in DAG order.
    Pipeline,
    /// k agents per stage, an arbiter picks the winner.
    Competitive,
    /// Ready tasks assigned in batches by capability (Hungarian).
    Division,
    /// A task analyzer routes each task to one of the other three.
    Hybrid,
}

impl Mode {
    /// Name used in scenarios and reports.
    pub fn name(self) -> &'static str {
        match self {
            Mode::Pipeline => "pipeline",
            Mode::Competitive => "competitive",
            Mode::Division => "division",
            Mode::Hybrid => "hybrid",
        }
    }
}

/// Batch assignment algorithm for division mode.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AssignAlgo {
    /// Optimal (minimum total cost) assignment.
    Hungarian,
    /// Cheapest cell first: the baseline.
    Greedy,
}

/// One agent's capability profile.
#[derive(Clone, Debug, PartialEq)]
pub struct AgentProfile {
    /// Group name from the scenario (`researcher`).
    pub group: String,
    /// Skill indices (into [`CollabConfig::skills`]).
    pub skills: Vec<u16>,
    /// Probability a completed task is correct.
    pub accuracy: f64,
    /// Latency of a size-1 task, ms.
    pub latency: Dist,
    /// Tokens of a size-1 task.
    pub tokens: Dist,
    /// Probability a task runs without a transient failure.
    pub availability: f64,
    /// The agent dies (stops answering for good) at this time.
    pub fail_at: Option<SimTime>,
}

impl AgentProfile {
    /// True if the agent offers `skill`.
    pub fn has_skill(&self, skill: u16) -> bool {
        self.skills.contains(&skill)
    }
}

/// A conditional edge: the stage's outcome routes to one of two stages.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct BranchDef {
    /// Quality (mean of the three scores) at or above which, for a correct
    /// result, the `above` stage runs; otherwise `below` runs.
    pub threshold: f64,
    /// Stage index taken on a good outcome.
    pub above: usize,
    /// Stage index taken otherwise.
    pub below: usize,
}

/// One stage of the workflow template.
#[derive(Clone, Debug, PartialEq)]
pub struct StageDef {
    /// Name from the scenario.
    pub id: String,
    /// Skill index.
    pub skill: u16,
    /// Stage indices this one depends on (branch edges included).
    pub after: Vec<usize>,
    /// Priority of the stage's tasks.
    pub priority: Priority,
    /// Relative task size (scales latency and tokens).
    pub size: f64,
    /// Wait for an approval before the stage may start.
    pub interrupt_before: bool,
    /// Conditional routing after this stage.
    pub branch: Option<BranchDef>,
}

/// One workflow arrival, drawn by the runner from the seed.
#[derive(Clone, Debug, PartialEq)]
pub struct Arrival {
    /// When the workflow is due.
    pub at: SimTime,
    /// Per-stage size multiplier.
    pub sizes: Vec<f64>,
    /// Raise every task of this workflow to critical.
    pub critical: bool,
}

/// Arbiter settings (competitive mode).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ArbiterConfig {
    /// Weights of relevance, innovation, feasibility.
    pub weights: [f64; 3],
    /// Competitors at normal priority.
    pub k: u32,
    /// Decide this long after the first competitor started.
    pub deadline: SimDuration,
    /// Utility lost per 1000 tokens (cost efficiency).
    pub cost_per_1k_tokens: f64,
}

/// Everything the coordinator and agents need, built from the scenario.
#[derive(Clone, Debug)]
pub struct CollabConfig {
    /// Number of Raft servers (agents have ids `servers..`).
    pub servers: u32,
    /// Workflow mode.
    pub mode: Mode,
    /// Skill names; indices are the skill ids.
    pub skills: Vec<String>,
    /// One profile per agent, in id order.
    pub agents: Vec<AgentProfile>,
    /// The workflow template.
    pub stages: Vec<StageDef>,
    /// Arrivals in time order.
    pub arrivals: Vec<Arrival>,
    /// Message send attempts before giving up (assignments, results).
    pub send_attempts: u32,
    /// Backoff range for resends.
    pub backoff_min: SimDuration,
    /// Backoff cap.
    pub backoff_max: SimDuration,
    /// Task attempts before a task is dead-lettered.
    pub task_attempts: u32,
    /// Times a dead-lettered task is re-driven.
    pub redrives: u32,
    /// Breaker opens after this many consecutive failures.
    pub breaker_failures: u32,
    /// Breaker stays open this long before a half-open probe.
    pub breaker_open: SimDuration,
    /// Arbiter.
    pub arbiter: ArbiterConfig,
    /// Division mode algorithm.
    pub assign: AssignAlgo,
    /// Division mode: most tasks in one batch.
    pub batch: usize,
    /// Hybrid: complexity at or above which a task competes.
    pub competitive_above: f64,
    /// Hybrid: independent tasks at or below this complexity go to division.
    pub division_below: f64,
    /// Scripted approvals: (from, stage index).
    pub approvals: Vec<(SimTime, usize)>,
    /// Modelled human approval delay.
    pub human_delay: Option<Dist>,
    /// Agent heartbeat period.
    pub heartbeat: SimDuration,
    /// An agent silent this long is considered lost.
    pub agent_timeout: SimDuration,
    /// Dispatcher tick.
    pub tick: SimDuration,
    /// Tasks an agent may hold (running + queued).
    pub agent_slots: u32,
    /// Agent inbox bound; beyond it an assignment is refused.
    pub inbox_cap: usize,
    /// `Some` for an AP coordinator (local views merged by
    /// last-writer-wins), `None` for the Raft (CP) one.
    pub ap: Option<ApConfig>,
    /// A deliberately wrong coordinator variant (`None`: the correct one).
    /// The dispatcher reads it here; the state machine gets it through
    /// [`super::WorkflowState::with_bug`].
    pub bug: Option<CoordBug>,
}

/// AP settings (`"consistency": "ap"`, see [`super::ap`]).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ApConfig {
    /// Gossip period.
    pub gossip: SimDuration,
    /// A peer silent this long is considered down.
    pub suspect: SimDuration,
}

impl CollabConfig {
    /// The profile of agent `id` (ids start at `servers`).
    pub fn agent(&self, id: NodeId) -> Option<&AgentProfile> {
        id.0.checked_sub(self.servers)
            .and_then(|i| self.agents.get(i as usize))
    }
}
