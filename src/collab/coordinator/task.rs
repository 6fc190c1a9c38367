//! The task model: tasks, workflows, dead letters and outcomes as the
//! replicated state holds them, and the small enums that describe them.

use crate::collab::config::Priority;
use crate::ids::NodeId;
use crate::process::Digest;
use crate::time::SimTime;
use std::fmt;

/// A task's global index: tasks are numbered in submission order, so a
/// task id is its position in [`WorkflowState::tasks`](super::WorkflowState::tasks).
/// A newtype so a task cannot be confused with a workflow, an attempt or
/// an agent; it encodes, digests, prints and debug-prints as its `u32`, so
/// snapshots, trace hashes and reports (it serializes as the bare number)
/// are the same bytes as before it.
#[derive(Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(transparent)]
pub struct TaskId(pub u32);

impl TaskId {
    /// Its position in the task table.
    pub const fn index(self) -> usize {
        self.0 as usize
    }
    /// A workflow-local index (as in a submitted [`TaskSpec`]) made global
    /// by the id of the workflow's first task.
    pub const fn after(self, first: TaskId) -> TaskId {
        TaskId(self.0 + first.0)
    }
}

impl fmt::Display for TaskId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

impl fmt::Debug for TaskId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}

impl From<TaskId> for u64 {
    fn from(t: TaskId) -> u64 {
        u64::from(t.0)
    }
}

/// A workflow's index: workflows are numbered in submission order (the
/// order of their arrivals), so it is also its arrival's index. Encodes,
/// digests and prints as its `u32`, like [`TaskId`].
#[derive(Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(transparent)]
pub struct WorkflowId(pub u32);

impl WorkflowId {
    /// Its position in the workflow table (and in the arrivals).
    pub const fn index(self) -> usize {
        self.0 as usize
    }
}

impl fmt::Display for WorkflowId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

impl fmt::Debug for WorkflowId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}

impl From<WorkflowId> for u64 {
    fn from(w: WorkflowId) -> u64 {
        u64::from(w.0)
    }
}

/// Where a task is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum TaskStatus {
    /// Not running: waiting for dependencies, an approval, or an agent.
    Pending = 0,
    /// An agent holds the current attempt.
    Assigned = 1,
    /// Result committed (final).
    Done = 2,
    /// Given up on; listed in the dead-letter queue (re-drivable).
    DeadLetter = 3,
    /// Not on the route a conditional edge took (final).
    Skipped = 4,
    /// A competitor whose race was decided without it (final).
    Cancelled = 5,
}

impl TaskStatus {
    /// Final states (dead letters are not: they can be re-driven).
    pub fn is_final(self) -> bool {
        matches!(
            self,
            TaskStatus::Done | TaskStatus::Skipped | TaskStatus::Cancelled
        )
    }
    /// Name used in reports.
    pub fn name(self) -> &'static str {
        match self {
            TaskStatus::Pending => "pending",
            TaskStatus::Assigned => "assigned",
            TaskStatus::Done => "done",
            TaskStatus::DeadLetter => "dead_letter",
            TaskStatus::Skipped => "skipped",
            TaskStatus::Cancelled => "cancelled",
        }
    }
}

/// How a task is dispatched.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum TaskKind {
    /// One agent, chosen when the task is ready (pipeline).
    Single = 0,
    /// One agent, chosen in a batch assignment (division).
    Batch = 1,
    /// One competitor of a race (competitive).
    Entry = 2,
    /// The race itself: never assigned; the arbiter's decision commits
    /// the winner's result as its own.
    Judge = 3,
}

impl TaskKind {
    /// The mode this kind of task reports under.
    pub fn mode_name(self) -> &'static str {
        match self {
            TaskKind::Single => "pipeline",
            TaskKind::Batch => "division",
            TaskKind::Entry | TaskKind::Judge => "competitive",
        }
    }
}

/// Why an attempt failed or a task was dead-lettered.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FailReason {
    /// No result within the attempt's deadline.
    Timeout = 0,
    /// The agent stopped sending heartbeats (or its breaker opened).
    AgentLost = 1,
    /// The agent reported a transient failure.
    Transient = 2,
    /// The assignment was never acknowledged after every retry.
    Unacked = 3,
    /// Every competitor of a race failed.
    NoEntries = 4,
    /// The agent's inbox was full.
    Refused = 5,
    /// No live agent has the task's skill (every holder was declared
    /// lost); re-driven once one is heard from again.
    NoAgent = 6,
}

impl FailReason {
    /// Name used in reports.
    pub fn name(self) -> &'static str {
        match self {
            FailReason::Timeout => "timeout",
            FailReason::AgentLost => "agent_lost",
            FailReason::Transient => "transient_failure",
            FailReason::Unacked => "assignment_unacknowledged",
            FailReason::NoEntries => "every_competitor_failed",
            FailReason::Refused => "inbox_full",
            FailReason::NoAgent => "no_live_agent_with_skill",
        }
    }
}

/// Why a command was rejected.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RejectReason {
    /// Version mismatch: the proposer's view is older than the state.
    Stale = 0,
    /// A second result for a task already done, or a workflow resubmitted.
    Duplicate = 1,
    /// A result for a competitor whose race was already decided.
    Late = 2,
    /// Not applicable in the task's state (or unknown task).
    Invalid = 3,
}

impl RejectReason {
    /// Name used in reports.
    pub fn name(self) -> &'static str {
        match self {
            RejectReason::Stale => "stale",
            RejectReason::Duplicate => "duplicate",
            RejectReason::Late => "late",
            RejectReason::Invalid => "invalid",
        }
    }
}

/// What an agent produced for one attempt.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Outcome {
    /// The agent that did the work.
    pub agent: NodeId,
    /// When it started (agent's clock).
    pub started_at: SimTime,
    /// How long it took, µs.
    pub duration_us: u64,
    /// Tokens used.
    pub tokens: u64,
    /// Whether the answer was right.
    pub correct: bool,
    /// Quality scores in [0, 1].
    pub relevance: f64,
    /// See `relevance`.
    pub innovation: f64,
    /// See `relevance`.
    pub feasibility: f64,
}

impl Outcome {
    /// Mean of the three scores (used by conditional edges).
    pub fn quality(&self) -> f64 {
        (self.relevance + self.innovation + self.feasibility) / 3.0
    }
    /// Weighted score under arbiter weights.
    pub fn score(&self, w: &[f64; 3]) -> f64 {
        let sum = w[0] + w[1] + w[2];
        if sum <= 0.0 {
            return self.quality();
        }
        (w[0] * self.relevance + w[1] * self.innovation + w[2] * self.feasibility) / sum
    }
    /// Stable digest (agreement checks compare digests).
    pub fn digest(&self, d: &mut Digest) {
        d.write_u64(u64::from(self.agent.0));
        d.write_u64(self.started_at.0);
        d.write_u64(self.duration_us);
        d.write_u64(self.tokens);
        d.write_u64(u64::from(self.correct));
        d.write_u64(self.relevance.to_bits());
        d.write_u64(self.innovation.to_bits());
        d.write_u64(self.feasibility.to_bits());
    }
    /// Digest as one number.
    pub fn digest_u64(&self) -> u64 {
        let mut d = Digest::new();
        self.digest(&mut d);
        d.finish()
    }
}

/// A task as submitted. Indices (`deps`, `judge`, branch targets) are
/// local to the workflow in a [`CollabCommand::Submit`](super::CollabCommand::Submit), global once
/// applied.
#[derive(Clone, Debug, PartialEq)]
pub struct TaskSpec {
    /// Stage index in the template.
    pub stage: u16,
    /// Skill index.
    pub skill: u16,
    /// Priority.
    pub priority: Priority,
    /// How it is dispatched.
    pub kind: TaskKind,
    /// Size in thousandths (1000 = a size-1 task).
    pub size_milli: u32,
    /// Attempts before the task is dead-lettered.
    pub max_attempts: u8,
    /// Waits for an approval once its dependencies are done.
    pub gated: bool,
    /// Tasks whose results it needs.
    pub deps: Vec<TaskId>,
    /// For an entry: its race.
    pub judge: Option<TaskId>,
    /// Conditional edge: (threshold in thousandths, above, below).
    pub branch: Option<(u16, TaskId, TaskId)>,
}

impl TaskSpec {
    /// Fold into a digest (a submit command's digest covers its tasks).
    pub(super) fn digest(&self, d: &mut Digest) {
        d.write_u64(u64::from(self.stage) | u64::from(self.skill) << 16);
        d.write_u64(self.priority as u64 | (self.kind as u64) << 8 | u64::from(self.gated) << 16);
        d.write_u64(u64::from(self.size_milli) | u64::from(self.max_attempts) << 32);
        d.write_u64(self.deps.len() as u64);
        for &x in &self.deps {
            d.write_u64(u64::from(x));
        }
        d.write_u64(self.judge.map_or(u64::MAX, u64::from));
        if let Some((t, a, b)) = self.branch {
            d.write_u64(u64::from(t) | u64::from(a) << 16 | u64::from(b) << 40);
        }
    }
}

/// A task in the replicated state.
#[derive(Clone, Debug, PartialEq)]
pub struct Task {
    /// The workflow it belongs to.
    pub workflow: WorkflowId,
    /// Its definition (global indices).
    pub spec: TaskSpec,
    /// Where it is.
    pub status: TaskStatus,
    /// Bumped by every accepted change.
    pub version: u64,
    /// Attempts started (since the last re-drive).
    pub attempts: u32,
    /// The agent of the current attempt.
    pub agent: Option<NodeId>,
    /// When the current attempt was assigned (leader's clock).
    pub assigned_at: SimTime,
    /// The committed result.
    pub result: Option<Outcome>,
    /// Approval given (gated tasks).
    pub approved: bool,
    /// When a modelled human will approve.
    pub approval_due: Option<SimTime>,
    /// Dependencies not yet final.
    pub unmet: u32,
    /// Dependencies done (not skipped).
    pub done_deps: u32,
    /// Times re-driven out of the dead-letter queue.
    pub redrives: u32,
    /// Judge: when its first competitor was assigned.
    pub started_at: Option<SimTime>,
    /// Judge: the winning entry.
    pub winner: Option<TaskId>,
    /// When it reached a final state (or was dead-lettered).
    pub finished_at: SimTime,
    /// Derived (not encoded): tasks that depend on this one.
    pub dependents: Vec<TaskId>,
    /// Derived (not encoded): a judge's competitors.
    pub entries: Vec<TaskId>,
}

impl Task {
    /// Ready to hand to an agent: pending, dependencies final, approved if
    /// gated, and not a judge.
    pub fn is_ready(&self) -> bool {
        self.status == TaskStatus::Pending
            && self.unmet == 0
            && self.spec.kind != TaskKind::Judge
            && (!self.spec.gated || self.approved)
    }
    /// Waiting at an approval gate with its dependencies done.
    pub fn awaits_approval(&self) -> bool {
        self.status == TaskStatus::Pending && self.unmet == 0 && self.spec.gated && !self.approved
    }
}

/// A workflow in the replicated state.
#[derive(Clone, Debug, PartialEq)]
pub struct Workflow {
    /// When it was due (arrival).
    pub arrived_at: SimTime,
    /// When its submission was proposed.
    pub submitted_at: SimTime,
    /// Its first task.
    pub first_task: TaskId,
    /// Number of tasks.
    pub tasks: u32,
    /// Tasks not final yet.
    pub open: u32,
    /// When its last task became final.
    pub done_at: Option<SimTime>,
}

/// One entry of the dead-letter queue (append-only history).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct DeadLetter {
    /// The task.
    pub task: TaskId,
    /// Why.
    pub reason: FailReason,
    /// When (leader's clock).
    pub at: SimTime,
    /// Attempts it had.
    pub attempts: u32,
}

/// Counters kept in the replicated state (they travel in snapshots).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counters {
    /// Commands rejected for a version mismatch.
    pub stale_rejected: u64,
    /// Second results (or resubmissions) rejected.
    pub duplicate_rejected: u64,
    /// Results for decided races rejected.
    pub late_rejected: u64,
    /// Commands that did not apply to the task's state.
    pub invalid_rejected: u64,
    /// Attempts that failed and went back to pending.
    pub requeued: u64,
    /// Dead-letter events.
    pub dead_lettered: u64,
    /// Re-drives out of the dead-letter queue.
    pub redriven: u64,
    /// Races decided.
    pub arbitrations: u64,
}

impl Counters {
    /// Field-wise sum (AP runs add up every copy's counters).
    pub fn add(&mut self, o: &Counters) {
        self.stale_rejected += o.stale_rejected;
        self.duplicate_rejected += o.duplicate_rejected;
        self.late_rejected += o.late_rejected;
        self.invalid_rejected += o.invalid_rejected;
        self.requeued += o.requeued;
        self.dead_lettered += o.dead_lettered;
        self.redriven += o.redriven;
        self.arbitrations += o.arbitrations;
    }
}
