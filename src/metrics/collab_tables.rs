//! The `collab` tables of a workflow run's report, typed: what the run
//! did (workflows, tasks, tokens, quality, retries, dead letters, the
//! coordinator), the lists plots draw (the agent Gantt rows, the race
//! entries), the numbers that tell CP and AP apart
//! (`consistency_metrics`) and the one-line summary. Built by
//! `metrics::collab`, read by plots, the HTML page, OpenMetrics, sweeps
//! and the workflow expectations through fields, never string keys.
//!
//! The file format is older than the types: a report writes each table
//! through `serde_json::Value` (keys sorted), so field order here is free,
//! but each field keeps the JSON type it always had (an integer count is
//! `u64`, a duration `f64`; `Option` without `skip_serializing_if` writes
//! `null`). Every struct is `#[serde(default)]` so an older report that
//! lacks a key still loads.

use crate::metrics::hist::LatencySummary;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;

/// The report's `collab` key.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct CollabTables {
    /// Collaboration mode (`pipeline`, `competitive`, `division`, `hybrid`).
    pub mode: String,
    /// `cp` (Raft coordinator) or `ap` (gossiping copies).
    pub consistency: String,
    /// What the agents did.
    pub agents: AgentsTable,
    /// Workflows scheduled, submitted, completed, and their latency.
    pub workflows: WorkflowsTable,
    /// Tasks by status.
    pub tasks: TasksTable,
    /// First workflow's start to the last one's completion, true time, ms.
    pub makespan_ms: f64,
    /// Workflow start to task completion, of every delivered unit of work
    /// (latency summary, ms).
    pub task_latency_ms: LatencySummary,
    /// Tokens committed and spent.
    pub tokens: TokensTable,
    /// Quality of the committed results.
    pub quality: QualityTable,
    /// Resends and requeues.
    pub retries: RetriesTable,
    /// Duplicate messages discarded.
    pub duplicates_discarded: DuplicatesTable,
    /// Commands the coordinator rejected, by why.
    pub rejected: RejectedTable,
    /// Dead letters: counts and the first of them.
    pub dead_letters: DeadLettersTable,
    /// Circuit-breaker trips.
    pub breaker_trips: u64,
    /// Tasks taken from one agent and given to another.
    pub reassignments: u64,
    /// Coordinator activations and failovers.
    pub coordinator: CoordinatorTable,
    /// Time workflows were open with no active coordinator.
    pub stall_ms: StallTable,
    /// Numbers per mode of the tasks (`pipeline`, `race`, ...).
    pub per_mode: BTreeMap<String, ModeTable>,
    /// Division batches and their assignment cost.
    pub division: DivisionTable,
    /// Races decided and why (the first of them).
    pub arbiter: ArbiterTable,
    /// Race entries with a committed result (the first
    /// [`CollabTables::competitors`] of `competitors_total`).
    pub competitors: Vec<Competitor>,
    /// Race entries with a committed result, listed or not.
    pub competitors_total: u64,
    /// Tasks not final at the end (the first of them) and why.
    pub pending_at_end: Vec<PendingTask>,
    /// Tasks not final at the end.
    pub pending_at_end_total: u64,
    /// Whether `pending_at_end` was cut at `list_cap`.
    pub pending_at_end_capped: bool,
    /// Rows of the per-item lists (dead letters, pending, races, stalls).
    pub list_cap: u64,
    /// Committed task executions, the agent Gantt chart's rows (the first
    /// 500, or with `plot --gantt-window` the first 500 in the window).
    pub gantt: Vec<GanttRow>,
    /// Committed task executions, listed or not.
    pub gantt_total: u64,
    /// The window `gantt` was selected from, `[from, to]` ms (only with
    /// `plot --gantt-window`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gantt_window_ms: Option<[f64; 2]>,
    /// Executions overlapping that window (only with a window).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gantt_in_window: Option<u64>,
    /// CP vs AP: duplicates, conflicts, losses, partitions.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub consistency_metrics: Option<ConsistencyMetrics>,
    /// The line `agentsim run` prints.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub summary: Option<String>,
    /// Keys another version wrote, kept so a report writes back whole.
    #[serde(flatten)]
    pub other: BTreeMap<String, Value>,
}

/// `collab.agents`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct AgentsTable {
    /// Agents in the scenario.
    pub count: u64,
    /// Agents failed for good at the end.
    pub dead: u64,
    /// Agents the dispatcher declared lost.
    pub lost_detected: u64,
    /// Executions (every attempt).
    pub executed: u64,
    /// Executions that failed transiently.
    pub transient_failures: u64,
    /// Time agents spent executing, ms.
    pub busy_ms: f64,
    /// Urgent tasks that overtook queued work.
    pub overtakes: u64,
    /// Assignments refused (agent busy or unfit).
    pub refused: u64,
}

/// `collab.workflows`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct WorkflowsTable {
    /// Workflows the scenario schedules.
    pub scheduled: u64,
    /// Workflows submitted to the coordinator.
    pub submitted: u64,
    /// Workflows completed.
    pub completed: u64,
    /// Start to first seen done, true time (latency summary, ms).
    pub latency_ms: LatencySummary,
}

/// `collab.tasks`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct TasksTable {
    /// Tasks created.
    pub total: u64,
    /// Tasks by final (or current) status.
    pub by_status: BTreeMap<String, u64>,
    /// Tasks not final at the end.
    pub open_at_end: u64,
}

/// `collab.tokens`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct TokensTable {
    /// Tokens of the committed results.
    pub committed: u64,
    /// Tokens agents spent (every execution).
    pub spent: u64,
    /// Committed tokens per delivered result.
    pub per_completed_task: f64,
    /// Present (true) when a total saturated at 2^64-1.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub saturated: Option<bool>,
    /// What saturation means (with `saturated`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// `collab.quality`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct QualityTable {
    /// Mean weighted score of the delivered results.
    pub mean_score: f64,
    /// Share of delivered results that were right.
    pub correct_fraction: f64,
    /// Delivered results.
    pub results: u64,
}

/// `collab.retries`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct RetriesTable {
    /// Assignments the dispatcher sent again.
    pub assignment_resends: u64,
    /// Results agents sent again.
    pub result_resends: u64,
    /// Results agents gave up sending.
    pub results_abandoned: u64,
    /// Attempts put back in the queue.
    pub requeued_attempts: u64,
}

/// `collab.duplicates_discarded`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct DuplicatesTable {
    /// By agents.
    pub agents: u64,
    /// By the coordinator.
    pub coordinator: u64,
}

/// `collab.rejected`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct RejectedTable {
    /// Naming an older task version.
    pub stale: u64,
    /// A result already recorded.
    pub duplicate: u64,
    /// For a task already final.
    pub late: u64,
}

/// `collab.dead_letters`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct DeadLettersTable {
    /// Dead letters (each time a task was dead-lettered).
    pub count: u64,
    /// Dead letters re-driven.
    pub redriven: u64,
    /// Tasks dead-lettered at the end.
    pub still_dead: u64,
    /// Assignments never acknowledged.
    pub unacked_assignments: u64,
    /// The first dead letters.
    pub list: Vec<DeadLetterRow>,
    /// Dead letters, listed or not.
    pub list_total: u64,
    /// Whether `list` was cut.
    pub list_capped: bool,
}

/// One dead letter.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct DeadLetterRow {
    /// The task.
    pub task: u32,
    /// Its workflow.
    pub workflow: u32,
    /// Its stage id.
    pub stage: String,
    /// Why (`attempts`, `no_agent`, ...).
    pub reason: String,
    /// Attempts made.
    pub attempts: u32,
    /// When it was first seen, true time, ms.
    pub at_ms: Option<f64>,
    /// The task's status at the end.
    pub status_now: String,
}

/// `collab.coordinator`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct CoordinatorTable {
    /// Activations after the first.
    pub failovers: u64,
    /// Each time a dispatcher was built.
    pub activations: Vec<Activation>,
    /// Assignments resent by a new coordinator.
    pub resent_after_failover: u64,
    /// Commands proposed.
    pub proposals: u64,
}

/// One coordinator activation.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Activation {
    /// The server.
    pub node: u32,
    /// Its Raft term (0 under AP).
    pub term: u64,
    /// When, true time, ms.
    pub at_ms: f64,
}

/// `collab.stall_ms`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct StallTable {
    /// Summed over workflows, ms.
    pub total: f64,
    /// Longest of one workflow, ms.
    pub max: f64,
    /// Workflows that stalled at all.
    pub workflows_stalled: u64,
    /// The first stalled workflows.
    pub per_workflow: Vec<WorkflowStall>,
}

/// One stalled workflow.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct WorkflowStall {
    /// The workflow.
    pub workflow: u64,
    /// Its stall, ms.
    pub stall_ms: f64,
}

/// One entry of `collab.per_mode`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ModeTable {
    /// Tasks of this mode.
    pub tasks: u64,
    /// Completed.
    pub completed: u64,
    /// Committed tokens.
    pub tokens: u64,
    /// Committed tokens per completed task.
    pub tokens_per_completed: f64,
    /// Latency summary, ms.
    pub latency_ms: LatencySummary,
    /// Mean weighted score.
    pub mean_score: f64,
    /// Share right.
    pub correct_fraction: f64,
}

/// `collab.division`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct DivisionTable {
    /// `hungarian` or `greedy`.
    pub algorithm: String,
    /// Batches assigned.
    pub batches: u64,
    /// Tasks in them.
    pub tasks: u64,
    /// Summed assignment cost.
    pub total_cost: f64,
    /// Cost per task.
    pub mean_cost: f64,
}

/// `collab.arbiter`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ArbiterTable {
    /// Races decided.
    pub decisions: u64,
    /// The first decided races.
    pub examples: Vec<RaceDecision>,
}

/// One decided race.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct RaceDecision {
    /// The race (its judge task).
    pub race: u64,
    /// The winning entry.
    pub winner: u32,
    /// The arbiter's reasoning.
    pub why: String,
}

/// One race entry (a point of the quality-vs-tokens chart).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Competitor {
    /// The race (its judge task).
    pub race: u32,
    /// The entry's task.
    pub task: u64,
    /// The agent that produced it.
    pub agent: u32,
    /// Tokens it spent.
    pub tokens: u64,
    /// Weighted score.
    pub score: f64,
    /// The race rule's value (score minus token cost).
    pub utility: f64,
    /// Whether its answer was right.
    pub correct: bool,
    /// Whether it won its race.
    pub winner: bool,
}

/// One task not final at the end.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct PendingTask {
    /// The task.
    pub task: u64,
    /// Its workflow.
    pub workflow: u32,
    /// Its status.
    pub status: String,
    /// Why it did not progress.
    pub reason: String,
}

/// One committed task execution, a row of the agent Gantt chart.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct GanttRow {
    /// The agent's address.
    pub agent: u32,
    /// The task.
    pub task: u64,
    /// Start, ms.
    pub start_ms: f64,
    /// End, ms.
    pub end_ms: f64,
}

/// `collab.consistency_metrics`: what tells CP and AP apart.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ConsistencyMetrics {
    /// `cp` or `ap`.
    pub model: String,
    /// Most servers coordinating at once.
    pub max_coordinators_at_once: u64,
    /// Executions beyond the first of a task.
    pub duplicate_executions: u64,
    /// Tasks executed more than once.
    pub tasks_executed_more_than_once: u64,
    /// Tasks with conflicting committed results (`None`: checkers off).
    pub conflicting_results: Option<u64>,
    /// Committed results lost (`None`: checkers off).
    pub results_lost: Option<u64>,
    /// Each scripted partition.
    pub partitions: Vec<PartitionWindow>,
    /// AP gossip numbers (`None` under CP).
    pub ap: Option<ApMetrics>,
}

/// One scripted partition's window.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct PartitionWindow {
    /// When it began, ms.
    pub start_ms: f64,
    /// When it healed, ms.
    pub heal_ms: f64,
    /// Tasks first done during it (`None`: checkers off).
    pub tasks_completed_during: Option<u64>,
    /// Heal to every server reflecting every earlier write, ms (`None`:
    /// never).
    pub converged_ms_after_heal: Option<f64>,
}

/// AP gossip numbers, summed over every server life.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ApMetrics {
    /// Gossip period, ms.
    pub gossip_ms: f64,
    /// Suspicion timeout, ms.
    pub suspect_ms: f64,
    /// Syncs sent.
    pub syncs_sent: u64,
    /// Workflow records sent.
    pub records_sent: u64,
    /// Received workflows adopted.
    pub adopted: u64,
    /// Concurrent versions met.
    pub concurrent_versions: u64,
    /// Local workflows a merge overwrote.
    pub overwritten_by_merge: u64,
    /// Commands applied locally.
    pub local_writes: u64,
    /// Commands rejected locally.
    pub rejected_writes: u64,
    /// Dispatcher activations.
    pub activations: u64,
    /// Workflow checks AP waives, and why.
    pub waived_checks: BTreeMap<String, String>,
}
