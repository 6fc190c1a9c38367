//! The coordinator's replicated state machine.
//!
//! Every change to workflows and tasks is a committed Raft log entry
//! ([`CollabCommand`]), applied identically on every server. Each task
//! carries a version that every accepted change bumps; a command naming an
//! older version (an old leader's proposal, a late agent's result) is
//! rejected and counted, never applied. A task's result is committed at
//! most once (`Done` is final). Snapshots use our own little-endian
//! encoding (Raft checksums the bytes).
//!
//! Applying also appends [`Change`]s to a bounded, volatile journal (not
//! part of the snapshot): the leader's dispatcher and the checkers read it
//! through [`WorkflowState::changes_since`] instead of rescanning tasks.

use super::bug::CoordBug;
use super::config::Priority;
use crate::ids::NodeId;
use crate::process::Digest;
use crate::raft::{ByteReader, ByteWriter, Command, CommandOutput, StateMachine};
use crate::time::SimTime;
use std::collections::VecDeque;

/// Global task index (tasks are numbered in submission order).
pub type TaskId = u32;

/// Journal capacity: more changes than this in one handler and a reader
/// notices the gap (and rebuilds from the state).
const JOURNAL_CAP: usize = 1 << 15;

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
    fn from_u8(v: u8) -> Result<Self, String> {
        Ok(match v {
            0 => TaskStatus::Pending,
            1 => TaskStatus::Assigned,
            2 => TaskStatus::Done,
            3 => TaskStatus::DeadLetter,
            4 => TaskStatus::Skipped,
            5 => TaskStatus::Cancelled,
            t => return Err(format!("bad task status {t}")),
        })
    }
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
    fn from_u8(v: u8) -> Result<Self, String> {
        Ok(match v {
            0 => TaskKind::Single,
            1 => TaskKind::Batch,
            2 => TaskKind::Entry,
            3 => TaskKind::Judge,
            t => return Err(format!("bad task kind {t}")),
        })
    }
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
}

impl FailReason {
    fn from_u8(v: u8) -> Result<Self, String> {
        Ok(match v {
            0 => FailReason::Timeout,
            1 => FailReason::AgentLost,
            2 => FailReason::Transient,
            3 => FailReason::Unacked,
            4 => FailReason::NoEntries,
            5 => FailReason::Refused,
            t => return Err(format!("bad fail reason {t}")),
        })
    }
    /// Name used in reports.
    pub fn name(self) -> &'static str {
        match self {
            FailReason::Timeout => "timeout",
            FailReason::AgentLost => "agent_lost",
            FailReason::Transient => "transient_failure",
            FailReason::Unacked => "assignment_unacknowledged",
            FailReason::NoEntries => "every_competitor_failed",
            FailReason::Refused => "inbox_full",
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
    fn from_u8(v: u8) -> Result<Self, String> {
        Ok(match v {
            0 => RejectReason::Stale,
            1 => RejectReason::Duplicate,
            2 => RejectReason::Late,
            3 => RejectReason::Invalid,
            t => return Err(format!("bad reject reason {t}")),
        })
    }
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
    fn encode(&self, w: &mut ByteWriter) {
        w.u32(self.agent.0);
        w.u64(self.started_at.0);
        w.u64(self.duration_us);
        w.u64(self.tokens);
        w.u8(u8::from(self.correct));
        w.u64(self.relevance.to_bits());
        w.u64(self.innovation.to_bits());
        w.u64(self.feasibility.to_bits());
    }
    fn decode(r: &mut ByteReader<'_>) -> Result<Self, String> {
        Ok(Outcome {
            agent: NodeId(r.u32()?),
            started_at: SimTime(r.u64()?),
            duration_us: r.u64()?,
            tokens: r.u64()?,
            correct: r.u8()? != 0,
            relevance: f64::from_bits(r.u64()?),
            innovation: f64::from_bits(r.u64()?),
            feasibility: f64::from_bits(r.u64()?),
        })
    }
}

/// A task as submitted. Indices (`deps`, `judge`, branch targets) are
/// local to the workflow in a [`CollabCommand::Submit`], global once
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
    pub deps: Vec<u32>,
    /// For an entry: its race.
    pub judge: Option<u32>,
    /// Conditional edge: (threshold in thousandths, above, below).
    pub branch: Option<(u16, u32, u32)>,
}

impl TaskSpec {
    fn digest(&self, d: &mut Digest) {
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
    fn encode(&self, w: &mut ByteWriter) {
        w.u32(u32::from(self.stage) | u32::from(self.skill) << 16);
        w.u8(self.priority as u8);
        w.u8(self.kind as u8);
        w.u32(self.size_milli);
        w.u8(self.max_attempts);
        w.u8(u8::from(self.gated));
        w.u32(self.deps.len() as u32);
        for &x in &self.deps {
            w.u32(x);
        }
        w.u32(self.judge.map_or(u32::MAX, |j| j));
        match self.branch {
            None => w.u8(0),
            Some((t, a, b)) => {
                w.u8(1);
                w.u32(u32::from(t));
                w.u32(a);
                w.u32(b);
            }
        }
    }
    fn decode(r: &mut ByteReader<'_>) -> Result<Self, String> {
        let ss = r.u32()?;
        let priority = Priority::from_u8(r.u8()?);
        let kind = TaskKind::from_u8(r.u8()?)?;
        let size_milli = r.u32()?;
        let max_attempts = r.u8()?;
        let gated = r.u8()? != 0;
        let n = r.u32()? as usize;
        let mut deps = Vec::with_capacity(n.min(1024));
        for _ in 0..n {
            deps.push(r.u32()?);
        }
        let judge = match r.u32()? {
            u32::MAX => None,
            j => Some(j),
        };
        let branch = match r.u8()? {
            0 => None,
            _ => Some((r.u32()? as u16, r.u32()?, r.u32()?)),
        };
        Ok(TaskSpec {
            stage: (ss & 0xffff) as u16,
            skill: (ss >> 16) as u16,
            priority,
            kind,
            size_milli,
            max_attempts,
            gated,
            deps,
            judge,
            branch,
        })
    }
}

/// A task in the replicated state.
#[derive(Clone, Debug, PartialEq)]
pub struct Task {
    /// The workflow it belongs to.
    pub workflow: u32,
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
    pub winner: Option<u32>,
    /// When it reached a final state (or was dead-lettered).
    pub finished_at: SimTime,
    /// Derived (not encoded): tasks that depend on this one.
    pub dependents: Vec<u32>,
    /// Derived (not encoded): a judge's competitors.
    pub entries: Vec<u32>,
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
    pub first_task: u32,
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
    pub task: u32,
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

/// A command of the coordinator's log. `at` is the proposing leader's
/// clock; versions are the task version the proposer saw.
#[derive(Clone, Debug, PartialEq)]
pub enum CollabCommand {
    /// A workflow arrives with its tasks (local indices).
    Submit {
        /// Must equal the number of workflows submitted so far.
        workflow: u32,
        /// When it was due.
        arrived_at: SimTime,
        /// When it was proposed.
        at: SimTime,
        /// Its tasks.
        tasks: Vec<TaskSpec>,
    },
    /// Give the task's next attempt to `agent`.
    Assign {
        /// Task.
        task: u32,
        /// Version seen.
        version: u64,
        /// Agent.
        agent: NodeId,
        /// When.
        at: SimTime,
    },
    /// An agent's result for an attempt.
    Result {
        /// Task.
        task: u32,
        /// The version the attempt was assigned at.
        version: u64,
        /// Attempt number.
        attempt: u32,
        /// What it produced.
        outcome: Outcome,
        /// When.
        at: SimTime,
    },
    /// The current attempt failed: retry or dead-letter.
    Fail {
        /// Task.
        task: u32,
        /// Version seen.
        version: u64,
        /// Why.
        reason: FailReason,
        /// When.
        at: SimTime,
    },
    /// Dead-letter the task now.
    DeadLetter {
        /// Task.
        task: u32,
        /// Version seen.
        version: u64,
        /// Why.
        reason: FailReason,
        /// When.
        at: SimTime,
    },
    /// Take a dead-lettered task back to pending.
    Redrive {
        /// Task.
        task: u32,
        /// Version seen.
        version: u64,
        /// When.
        at: SimTime,
    },
    /// A modelled human will approve at `due` (idempotent).
    ScheduleApproval {
        /// Task (an entry: all its race's entries).
        task: u32,
        /// When.
        due: SimTime,
    },
    /// Approve a gated task (idempotent).
    Approve {
        /// Task (an entry: all its race's entries).
        task: u32,
        /// When.
        at: SimTime,
    },
    /// Decide a race.
    Arbitrate {
        /// The judge.
        judge: u32,
        /// Version seen.
        version: u64,
        /// The winning entry.
        winner: u32,
        /// Every done entry the arbiter compared, ascending.
        considered: Vec<u32>,
        /// When.
        at: SimTime,
    },
}

impl CollabCommand {
    /// Short name (reports, rejection changes).
    pub fn name(&self) -> &'static str {
        match self {
            CollabCommand::Submit { .. } => "submit",
            CollabCommand::Assign { .. } => "assign",
            CollabCommand::Result { .. } => "result",
            CollabCommand::Fail { .. } => "fail",
            CollabCommand::DeadLetter { .. } => "dead_letter",
            CollabCommand::Redrive { .. } => "redrive",
            CollabCommand::ScheduleApproval { .. } => "schedule_approval",
            CollabCommand::Approve { .. } => "approve",
            CollabCommand::Arbitrate { .. } => "arbitrate",
        }
    }
}

impl Command for CollabCommand {
    fn digest(&self, d: &mut Digest) {
        match self {
            CollabCommand::Submit {
                workflow,
                arrived_at,
                at,
                tasks,
            } => {
                d.write(&[0]);
                d.write_u64(u64::from(*workflow));
                d.write_u64(arrived_at.0);
                d.write_u64(at.0);
                d.write_u64(tasks.len() as u64);
                for t in tasks {
                    t.digest(d);
                }
            }
            CollabCommand::Assign {
                task,
                version,
                agent,
                at,
            } => {
                d.write(&[1]);
                d.write_u64(u64::from(*task));
                d.write_u64(*version);
                d.write_u64(u64::from(agent.0));
                d.write_u64(at.0);
            }
            CollabCommand::Result {
                task,
                version,
                attempt,
                outcome,
                at,
            } => {
                d.write(&[2]);
                d.write_u64(u64::from(*task));
                d.write_u64(*version);
                d.write_u64(u64::from(*attempt));
                outcome.digest(d);
                d.write_u64(at.0);
            }
            CollabCommand::Fail {
                task,
                version,
                reason,
                at,
            }
            | CollabCommand::DeadLetter {
                task,
                version,
                reason,
                at,
            } => {
                d.write(&[if matches!(self, CollabCommand::Fail { .. }) {
                    3
                } else {
                    4
                }]);
                d.write_u64(u64::from(*task));
                d.write_u64(*version);
                d.write_u64(*reason as u64);
                d.write_u64(at.0);
            }
            CollabCommand::Redrive { task, version, at } => {
                d.write(&[5]);
                d.write_u64(u64::from(*task));
                d.write_u64(*version);
                d.write_u64(at.0);
            }
            CollabCommand::ScheduleApproval { task, due } => {
                d.write(&[6]);
                d.write_u64(u64::from(*task));
                d.write_u64(due.0);
            }
            CollabCommand::Approve { task, at } => {
                d.write(&[7]);
                d.write_u64(u64::from(*task));
                d.write_u64(at.0);
            }
            CollabCommand::Arbitrate {
                judge,
                version,
                winner,
                considered,
                at,
            } => {
                d.write(&[8]);
                d.write_u64(u64::from(*judge));
                d.write_u64(*version);
                d.write_u64(u64::from(*winner));
                d.write_u64(considered.len() as u64);
                for &c in considered {
                    d.write_u64(u64::from(c));
                }
                d.write_u64(at.0);
            }
        }
    }

    fn is_read_only(&self) -> bool {
        false
    }

    fn size_bytes(&self) -> usize {
        match self {
            CollabCommand::Submit { tasks, .. } => 24 + tasks.len() * 32,
            CollabCommand::Result { .. } => 80,
            CollabCommand::Arbitrate { considered, .. } => 32 + 4 * considered.len(),
            _ => 32,
        }
    }
}

/// What applying a command returns (kept in the Raft session table).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CollabOutput {
    /// Applied.
    Applied,
    /// Rejected, and why.
    Rejected(RejectReason),
}

impl CommandOutput for CollabOutput {
    fn digest(&self, d: &mut Digest) {
        match self {
            CollabOutput::Applied => d.write(&[0]),
            CollabOutput::Rejected(r) => d.write(&[1, *r as u8]),
        }
    }
    fn encode(&self, w: &mut ByteWriter) {
        match self {
            CollabOutput::Applied => w.u8(0),
            CollabOutput::Rejected(r) => {
                w.u8(1);
                w.u8(*r as u8);
            }
        }
    }
    fn decode(r: &mut ByteReader<'_>) -> Result<Self, String> {
        Ok(match r.u8()? {
            0 => CollabOutput::Applied,
            _ => CollabOutput::Rejected(RejectReason::from_u8(r.u8()?)?),
        })
    }
}

/// One state change, as journalled for readers (dispatcher, checkers).
/// Versioned changes carry `(from, to)`: the task's version before and
/// after.
#[derive(Clone, Debug, PartialEq)]
pub enum Change {
    /// A workflow's tasks were created.
    Submitted {
        /// Workflow.
        workflow: u32,
        /// First task id.
        first: u32,
        /// Task count.
        count: u32,
    },
    /// A task became ready for an agent.
    Ready {
        /// Task.
        task: u32,
    },
    /// A task reached its approval gate.
    Gated {
        /// Task.
        task: u32,
    },
    /// An approval was scheduled or given.
    Approval {
        /// Task.
        task: u32,
        /// Given (true) or scheduled (false).
        given: bool,
    },
    /// An attempt was assigned.
    Assigned {
        /// Task.
        task: u32,
        /// Versions.
        from: u64,
        /// See `from`.
        to: u64,
        /// Agent.
        agent: NodeId,
        /// Attempt number.
        attempt: u32,
    },
    /// A result was committed.
    Completed {
        /// Task.
        task: u32,
        /// Versions.
        from: u64,
        /// See `from`.
        to: u64,
        /// The result.
        outcome: Outcome,
        /// When.
        at: SimTime,
    },
    /// An attempt failed; the task is pending again.
    Requeued {
        /// Task.
        task: u32,
        /// Versions.
        from: u64,
        /// See `from`.
        to: u64,
        /// The agent that had it.
        agent: Option<NodeId>,
        /// Why.
        reason: FailReason,
    },
    /// The task was dead-lettered.
    DeadLettered {
        /// Task.
        task: u32,
        /// Versions.
        from: u64,
        /// See `from`.
        to: u64,
        /// The agent that had it.
        agent: Option<NodeId>,
        /// Why.
        reason: FailReason,
    },
    /// A dead letter went back to pending.
    Redriven {
        /// Task.
        task: u32,
        /// Versions.
        from: u64,
        /// See `from`.
        to: u64,
    },
    /// Skipped (branch not taken) or cancelled (race decided).
    Closed {
        /// Task.
        task: u32,
        /// Versions.
        from: u64,
        /// See `from`.
        to: u64,
        /// The final status.
        status: TaskStatus,
        /// The agent that had it (a cancelled running competitor).
        agent: Option<NodeId>,
    },
    /// A race was decided; the judge's result is the winner's.
    Arbitrated {
        /// The judge.
        judge: u32,
        /// Versions.
        from: u64,
        /// See `from`.
        to: u64,
        /// The winning entry.
        winner: u32,
        /// The entries compared.
        considered: Vec<u32>,
        /// When.
        at: SimTime,
    },
    /// Every task of the workflow is final.
    WorkflowDone {
        /// Workflow.
        workflow: u32,
        /// When.
        at: SimTime,
    },
    /// A command was rejected.
    Rejected {
        /// Task (or workflow, for a submit).
        task: u32,
        /// Which command.
        command: &'static str,
        /// Why.
        reason: RejectReason,
    },
}

/// The coordinator's replicated state.
#[derive(Clone, Debug, Default)]
pub struct WorkflowState {
    workflows: Vec<Workflow>,
    tasks: Vec<Task>,
    dead_letters: Vec<DeadLetter>,
    counters: Counters,
    /// Tasks not final (pending, assigned or dead-lettered).
    open_tasks: u64,
    // Volatile journal (not in snapshots).
    journal: VecDeque<(u64, Change)>,
    journal_seq: u64,
    /// A deliberately wrong variant: this process's setting, neither
    /// replicated nor in snapshots (handed over when a snapshot replaces
    /// the state), and not part of equality.
    bug: Option<CoordBug>,
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

impl PartialEq for WorkflowState {
    fn eq(&self, o: &Self) -> bool {
        self.workflows == o.workflows
            && self.tasks == o.tasks
            && self.dead_letters == o.dead_letters
            && self.counters == o.counters
            && self.open_tasks == o.open_tasks
    }
}

impl WorkflowState {
    /// An empty state that applies commands with `bug` (`None`: the
    /// correct state machine, the same as `default()`).
    pub fn with_bug(bug: Option<CoordBug>) -> Self {
        WorkflowState {
            bug,
            ..WorkflowState::default()
        }
    }
    /// The deliberately wrong variant this state applies with, if any.
    pub fn bug(&self) -> Option<CoordBug> {
        self.bug
    }
    /// All workflows, in submission order.
    pub fn workflows(&self) -> &[Workflow] {
        &self.workflows
    }
    /// All tasks, by id.
    pub fn tasks(&self) -> &[Task] {
        &self.tasks
    }
    /// One task.
    pub fn task(&self, id: u32) -> Option<&Task> {
        self.tasks.get(id as usize)
    }
    /// The dead-letter history, oldest first.
    pub fn dead_letters(&self) -> &[DeadLetter] {
        &self.dead_letters
    }
    /// Replicated counters.
    pub fn counters(&self) -> Counters {
        self.counters
    }
    /// Tasks not final.
    pub fn open_tasks(&self) -> u64 {
        self.open_tasks
    }
    /// Sequence number of the last journalled change (0: none since this
    /// state was built; a state that replaced another through a snapshot
    /// continues its sequence past a gap, see `hand_over`).
    pub fn journal_seq(&self) -> u64 {
        self.journal_seq
    }
    /// Changes after `seq`, oldest first. `None` if the reader's view is
    /// not of this state's history: changes after `seq` were evicted, or
    /// the state was replaced (a snapshot installed, see `hand_over`, or a
    /// workflow installed by an AP merge). The reader must rebuild from
    /// the state.
    pub fn changes_since(&self, seq: u64) -> Option<impl Iterator<Item = &(u64, Change)> + '_> {
        if seq > self.journal_seq {
            // The sequence went back: the state was replaced by one that
            // does not continue this sequence.
            return None;
        }
        let oldest = self.journal.front().map_or(self.journal_seq + 1, |c| c.0);
        if seq + 1 < oldest && seq < self.journal_seq {
            return None;
        }
        let skip = (seq + 1).saturating_sub(oldest) as usize;
        Some(self.journal.iter().skip(skip))
    }

    /// Why a task is not final, in words (for the end-of-run report).
    pub fn pending_reason(&self, id: u32) -> String {
        let Some(t) = self.task(id) else {
            return "unknown task".into();
        };
        match t.status {
            TaskStatus::Assigned => format!(
                "in flight: attempt {} on agent {}",
                t.attempts,
                t.agent.map_or(-1, |a| i64::from(a.0))
            ),
            TaskStatus::DeadLetter => "dead-lettered".into(),
            TaskStatus::Pending if t.spec.kind == TaskKind::Judge => {
                "race undecided (competitors still running)".into()
            }
            TaskStatus::Pending if t.unmet > 0 => {
                let blocked: Vec<String> = t
                    .spec
                    .deps
                    .iter()
                    .filter(|&&d| self.tasks[d as usize].status == TaskStatus::DeadLetter)
                    .map(|d| d.to_string())
                    .collect();
                if blocked.is_empty() {
                    format!("waiting for {} dependencies", t.unmet)
                } else {
                    format!("blocked by dead-lettered task(s) {}", blocked.join(", "))
                }
            }
            TaskStatus::Pending if t.awaits_approval() => "awaiting approval".into(),
            TaskStatus::Pending => "ready, waiting for a free agent".into(),
            s => s.name().into(),
        }
    }

    /// Tasks that could still make progress: pending or assigned and not
    /// blocked behind a dead letter, plus dead letters that may be
    /// re-driven (`redrives` allowed).
    pub fn live_tasks(&self, redrives: u32) -> usize {
        let mut blocked = vec![false; self.tasks.len()];
        let mut live = 0;
        for (i, t) in self.tasks.iter().enumerate() {
            // Dependencies have lower ids, so one pass in id order works.
            let dep_blocked = t.spec.deps.iter().any(|&d| {
                blocked[d as usize]
                    || (self.tasks[d as usize].status == TaskStatus::DeadLetter
                        && self.tasks[d as usize].redrives >= redrives)
            });
            match t.status {
                TaskStatus::DeadLetter if t.redrives < redrives => live += 1,
                TaskStatus::Pending | TaskStatus::Assigned if !dep_blocked => live += 1,
                TaskStatus::Pending if dep_blocked => blocked[i] = true,
                _ => {}
            }
        }
        live
    }

    fn emit(&mut self, c: Change) {
        self.journal_seq += 1;
        if self.journal.len() == JOURNAL_CAP {
            self.journal.pop_front();
        }
        self.journal.push_back((self.journal_seq, c));
    }

    fn reject(&mut self, task: u32, command: &'static str, reason: RejectReason) -> CollabOutput {
        match reason {
            RejectReason::Stale => self.counters.stale_rejected += 1,
            RejectReason::Duplicate => self.counters.duplicate_rejected += 1,
            RejectReason::Late => self.counters.late_rejected += 1,
            RejectReason::Invalid => self.counters.invalid_rejected += 1,
        }
        self.emit(Change::Rejected {
            task,
            command,
            reason,
        });
        CollabOutput::Rejected(reason)
    }

    fn bump(&mut self, t: u32) -> (u64, u64) {
        let task = &mut self.tasks[t as usize];
        let from = task.version;
        task.version += 1;
        (from, task.version)
    }

    /// A pending task whose dependencies are all final: skip it if none
    /// was done (every route into it was not taken), else announce it.
    fn deps_met(&mut self, t: u32, at: SimTime) {
        let task = &self.tasks[t as usize];
        if task.status != TaskStatus::Pending {
            return;
        }
        if !task.spec.deps.is_empty() && task.done_deps == 0 {
            self.close(t, TaskStatus::Skipped, at);
            return;
        }
        if task.spec.kind == TaskKind::Judge {
            return;
        }
        if task.is_ready() {
            self.emit(Change::Ready { task: t });
        } else if task.awaits_approval() {
            self.emit(Change::Gated { task: t });
        }
    }

    /// Move `t` to a final status and propagate to dependents.
    fn close(&mut self, t: u32, status: TaskStatus, at: SimTime) {
        assert!(status.is_final());
        let task = &self.tasks[t as usize];
        assert!(!task.status.is_final(), "task {t} closed twice");
        let agent = (task.status == TaskStatus::Assigned)
            .then_some(task.agent)
            .flatten();
        let (from, to) = self.bump(t);
        let task = &mut self.tasks[t as usize];
        task.status = status;
        task.finished_at = at;
        if status != TaskStatus::Done {
            self.emit(Change::Closed {
                task: t,
                from,
                to,
                status,
                agent,
            });
        }
        self.finish(t, status == TaskStatus::Done, at);
        // A skipped judge takes its competitors with it.
        let entries = self.tasks[t as usize].entries.clone();
        if status == TaskStatus::Skipped {
            for e in entries {
                if !self.tasks[e as usize].status.is_final() {
                    self.close(e, TaskStatus::Skipped, at);
                }
            }
        }
    }

    /// Bookkeeping once `t` is final: workflow count, dependents.
    fn finish(&mut self, t: u32, done: bool, at: SimTime) {
        self.open_tasks -= 1;
        let wf = self.tasks[t as usize].workflow as usize;
        let w = &mut self.workflows[wf];
        w.open -= 1;
        if w.open == 0 {
            w.done_at = Some(at);
            self.emit(Change::WorkflowDone {
                workflow: wf as u32,
                at,
            });
        }
        let dependents = std::mem::take(&mut self.tasks[t as usize].dependents);
        let bug = self.bug;
        for &d in &dependents {
            let dt = &mut self.tasks[d as usize];
            dt.unmet = match bug {
                // The bug: the first completed input releases a join.
                Some(CoordBug::IgnoreDeps) if done => 0,
                Some(CoordBug::IgnoreDeps) => dt.unmet.saturating_sub(1),
                _ => dt.unmet - 1,
            };
            if done {
                dt.done_deps += 1;
            }
            if dt.unmet == 0 {
                self.deps_met(d, at);
            }
        }
        self.tasks[t as usize].dependents = dependents;
    }

    fn apply_submit(
        &mut self,
        workflow: u32,
        arrived_at: SimTime,
        at: SimTime,
        specs: &[TaskSpec],
    ) -> CollabOutput {
        if workflow as usize != self.workflows.len() {
            return self.reject(workflow, "submit", RejectReason::Duplicate);
        }
        let base = self.tasks.len() as u32;
        let n = specs.len() as u32;
        // Validate local references before changing anything.
        let bad = specs.iter().enumerate().any(|(i, s)| {
            s.deps.iter().any(|&d| d >= i as u32)
                || s.judge.is_some_and(|j| j >= n)
                || s.branch.is_some_and(|(_, a, b)| a >= n || b >= n)
        });
        if bad {
            return self.reject(workflow, "submit", RejectReason::Invalid);
        }
        self.workflows.push(Workflow {
            arrived_at,
            submitted_at: at,
            first_task: base,
            tasks: n,
            open: n,
            done_at: None,
        });
        for s in specs {
            let mut spec = s.clone();
            for d in &mut spec.deps {
                *d += base;
            }
            spec.judge = spec.judge.map(|j| j + base);
            spec.branch = spec.branch.map(|(t, a, b)| (t, a + base, b + base));
            self.push_task(workflow, spec);
        }
        self.open_tasks += u64::from(n);
        self.emit(Change::Submitted {
            workflow,
            first: base,
            count: n,
        });
        for t in base..base + n {
            if self.tasks[t as usize].unmet == 0 {
                self.deps_met(t, at);
            }
        }
        if n == 0 {
            self.workflows[workflow as usize].done_at = Some(at);
            self.emit(Change::WorkflowDone { workflow, at });
        }
        CollabOutput::Applied
    }

    fn push_task(&mut self, workflow: u32, spec: TaskSpec) {
        let id = self.tasks.len() as u32;
        for &d in &spec.deps {
            self.tasks[d as usize].dependents.push(id);
        }
        if let Some(j) = spec.judge {
            if (j as usize) < self.tasks.len() {
                self.tasks[j as usize].entries.push(id);
            }
        }
        let unmet = spec.deps.len() as u32;
        self.tasks.push(Task {
            workflow,
            spec,
            status: TaskStatus::Pending,
            version: 0,
            attempts: 0,
            agent: None,
            assigned_at: SimTime::ZERO,
            result: None,
            approved: false,
            approval_due: None,
            unmet,
            done_deps: 0,
            redrives: 0,
            started_at: None,
            winner: None,
            finished_at: SimTime::ZERO,
            dependents: Vec::new(),
            entries: Vec::new(),
        });
    }

    fn check_version(
        &mut self,
        task: u32,
        version: u64,
        what: &'static str,
    ) -> Option<CollabOutput> {
        match self.tasks.get(task as usize) {
            None => Some(self.reject(task, what, RejectReason::Invalid)),
            Some(t) if t.version != version => Some(self.reject(task, what, RejectReason::Stale)),
            Some(_) => None,
        }
    }

    fn apply_assign(
        &mut self,
        task: u32,
        version: u64,
        agent: NodeId,
        at: SimTime,
    ) -> CollabOutput {
        if let Some(r) = self.check_version(task, version, "assign") {
            return r;
        }
        if !self.tasks[task as usize].is_ready() {
            return self.reject(task, "assign", RejectReason::Invalid);
        }
        let (from, to) = self.bump(task);
        let t = &mut self.tasks[task as usize];
        t.status = TaskStatus::Assigned;
        t.agent = Some(agent);
        t.attempts += 1;
        t.assigned_at = at;
        let attempt = t.attempts;
        if let Some(j) = t.spec.judge {
            self.tasks[j as usize].started_at.get_or_insert(at);
        }
        self.emit(Change::Assigned {
            task,
            from,
            to,
            agent,
            attempt,
        });
        CollabOutput::Applied
    }

    fn apply_result(
        &mut self,
        task: u32,
        version: u64,
        attempt: u32,
        outcome: &Outcome,
        at: SimTime,
    ) -> CollabOutput {
        let Some(t) = self.tasks.get(task as usize) else {
            return self.reject(task, "result", RejectReason::Invalid);
        };
        let bug = self.bug;
        match t.status {
            TaskStatus::Done if bug != Some(CoordBug::DoubleResult) => {
                return self.reject(task, "result", RejectReason::Duplicate)
            }
            TaskStatus::Cancelled | TaskStatus::Skipped => {
                return self.reject(task, "result", RejectReason::Late)
            }
            _ => {}
        }
        let current = match bug {
            // The bug: any result for an attempt in flight is taken, whose
            // attempt it was is not checked.
            Some(CoordBug::AcceptStale) => t.status == TaskStatus::Assigned,
            // The bug: attempt number and agent identify the attempt; the
            // status and version are not looked at.
            Some(CoordBug::DoubleResult) => t.attempts == attempt && t.agent == Some(outcome.agent),
            _ => {
                t.status == TaskStatus::Assigned
                    && t.version == version
                    && t.attempts == attempt
                    && t.agent == Some(outcome.agent)
            }
        };
        if !current {
            return self.reject(task, "result", RejectReason::Stale);
        }
        let again = t.status == TaskStatus::Done;
        let (from, to) = if bug == Some(CoordBug::AcceptStale) {
            // The bug: the new version is derived from the result's view,
            // which may be older than the task's.
            let t = &mut self.tasks[task as usize];
            let from = t.version;
            t.version = version + 1;
            (from, t.version)
        } else {
            self.bump(task)
        };
        let t = &mut self.tasks[task as usize];
        assert!(t.result.is_none() || again, "task {task}: a second result");
        t.status = TaskStatus::Done;
        t.result = Some(*outcome);
        t.finished_at = at;
        let branch = t.spec.branch;
        self.emit(Change::Completed {
            task,
            from,
            to,
            outcome: *outcome,
            at,
        });
        if again {
            // coord-double-result: the completion bookkeeping (counts,
            // dependents) is idempotent, the result and its announcement
            // are not.
            return CollabOutput::Applied;
        }
        self.route(branch, outcome, at);
        self.finish(task, true, at);
        CollabOutput::Applied
    }

    /// A conditional edge: skip the route not taken (before dependents are
    /// released, so a join below the branch sees it final).
    fn route(&mut self, branch: Option<(u16, u32, u32)>, outcome: &Outcome, at: SimTime) {
        if let Some((threshold, above, below)) = branch {
            let good = outcome.correct && outcome.quality() * 1000.0 >= f64::from(threshold);
            let not_taken = if good { below } else { above };
            if self.tasks[not_taken as usize].status == TaskStatus::Pending {
                self.close(not_taken, TaskStatus::Skipped, at);
            }
        }
    }

    fn apply_fail(
        &mut self,
        task: u32,
        version: u64,
        reason: FailReason,
        at: SimTime,
        dead_now: bool,
    ) -> CollabOutput {
        let what = if dead_now { "dead_letter" } else { "fail" };
        if let Some(r) = self.check_version(task, version, what) {
            return r;
        }
        let t = &self.tasks[task as usize];
        let ok = match t.status {
            TaskStatus::Assigned => true,
            TaskStatus::Pending => dead_now && t.spec.kind == TaskKind::Judge,
            _ => false,
        };
        if !ok {
            return self.reject(task, what, RejectReason::Invalid);
        }
        let dead = dead_now || t.attempts >= u32::from(t.spec.max_attempts);
        let agent = t.agent;
        let (from, to) = self.bump(task);
        let t = &mut self.tasks[task as usize];
        t.agent = None;
        if dead {
            t.status = TaskStatus::DeadLetter;
            t.finished_at = at;
            let attempts = t.attempts;
            self.counters.dead_lettered += 1;
            if self.bug != Some(CoordBug::DropDeadLetter) {
                self.dead_letters.push(DeadLetter {
                    task,
                    reason,
                    at,
                    attempts,
                });
            }
            self.emit(Change::DeadLettered {
                task,
                from,
                to,
                agent,
                reason,
            });
        } else {
            t.status = TaskStatus::Pending;
            self.counters.requeued += 1;
            self.emit(Change::Requeued {
                task,
                from,
                to,
                agent,
                reason,
            });
            self.emit(Change::Ready { task });
        }
        CollabOutput::Applied
    }

    fn apply_redrive(&mut self, task: u32, version: u64) -> CollabOutput {
        if let Some(r) = self.check_version(task, version, "redrive") {
            return r;
        }
        if self.tasks[task as usize].status != TaskStatus::DeadLetter {
            return self.reject(task, "redrive", RejectReason::Invalid);
        }
        let (from, to) = self.bump(task);
        let t = &mut self.tasks[task as usize];
        t.status = TaskStatus::Pending;
        t.attempts = 0;
        t.redrives += 1;
        self.counters.redriven += 1;
        self.emit(Change::Redriven { task, from, to });
        let t = &self.tasks[task as usize];
        if t.spec.kind == TaskKind::Judge {
            // A race re-driven: its competitors get another chance too.
            return CollabOutput::Applied;
        }
        if t.is_ready() {
            self.emit(Change::Ready { task });
        }
        CollabOutput::Applied
    }

    /// The task and, for a competitor, its siblings (approval is per stage).
    fn gate_group(&self, task: u32) -> Vec<u32> {
        match self.tasks[task as usize].spec.judge {
            Some(j) => self.tasks[j as usize].entries.clone(),
            None => vec![task],
        }
    }

    fn apply_approval(&mut self, task: u32, due: Option<SimTime>) -> CollabOutput {
        let Some(t) = self.tasks.get(task as usize) else {
            return self.reject(task, "approve", RejectReason::Invalid);
        };
        if !t.spec.gated {
            return self.reject(task, "approve", RejectReason::Invalid);
        }
        for g in self.gate_group(task) {
            let t = &mut self.tasks[g as usize];
            match due {
                Some(d) => {
                    if t.approval_due.is_none() && !t.approved {
                        t.approval_due = Some(d);
                        self.emit(Change::Approval {
                            task: g,
                            given: false,
                        });
                    }
                }
                None => {
                    if !t.approved {
                        t.approved = true;
                        self.emit(Change::Approval {
                            task: g,
                            given: true,
                        });
                        if self.tasks[g as usize].is_ready() {
                            self.emit(Change::Ready { task: g });
                        }
                    }
                }
            }
        }
        CollabOutput::Applied
    }

    fn apply_arbitrate(
        &mut self,
        judge: u32,
        version: u64,
        winner: u32,
        considered: &[u32],
        at: SimTime,
    ) -> CollabOutput {
        if let Some(r) = self.check_version(judge, version, "arbitrate") {
            return r;
        }
        let j = &self.tasks[judge as usize];
        if j.spec.kind != TaskKind::Judge || j.status != TaskStatus::Pending {
            return self.reject(judge, "arbitrate", RejectReason::Invalid);
        }
        // The decision must have seen exactly the entries done now: a
        // result committed after the arbiter looked makes it stale.
        let done: Vec<u32> = j
            .entries
            .iter()
            .copied()
            .filter(|&e| self.tasks[e as usize].status == TaskStatus::Done)
            .collect();
        if done != considered {
            return self.reject(judge, "arbitrate", RejectReason::Stale);
        }
        if !done.contains(&winner) {
            return self.reject(judge, "arbitrate", RejectReason::Invalid);
        }
        let outcome = self.tasks[winner as usize].result;
        let (from, to) = self.bump(judge);
        let j = &mut self.tasks[judge as usize];
        j.status = TaskStatus::Done;
        j.result = outcome;
        j.winner = Some(winner);
        j.finished_at = at;
        self.counters.arbitrations += 1;
        self.emit(Change::Arbitrated {
            judge,
            from,
            to,
            winner,
            considered: considered.to_vec(),
            at,
        });
        for e in self.tasks[judge as usize].entries.clone() {
            let s = self.tasks[e as usize].status;
            if !s.is_final() {
                if s == TaskStatus::DeadLetter {
                    // A failed competitor no longer matters: close it.
                    self.tasks[e as usize].status = TaskStatus::Pending;
                }
                self.close(e, TaskStatus::Cancelled, at);
            }
        }
        if let (Some(o), Some(b)) = (outcome, self.tasks[judge as usize].spec.branch) {
            self.route(Some(b), &o, at);
        }
        self.finish(judge, true, at);
        CollabOutput::Applied
    }
}

impl StateMachine for WorkflowState {
    type Command = CollabCommand;
    type Output = CollabOutput;

    fn apply(&mut self, cmd: &CollabCommand) -> CollabOutput {
        match cmd {
            CollabCommand::Submit {
                workflow,
                arrived_at,
                at,
                tasks,
            } => self.apply_submit(*workflow, *arrived_at, *at, tasks),
            CollabCommand::Assign {
                task,
                version,
                agent,
                at,
            } => self.apply_assign(*task, *version, *agent, *at),
            CollabCommand::Result {
                task,
                version,
                attempt,
                outcome,
                at,
            } => self.apply_result(*task, *version, *attempt, outcome, *at),
            CollabCommand::Fail {
                task,
                version,
                reason,
                at,
            } => self.apply_fail(*task, *version, *reason, *at, false),
            CollabCommand::DeadLetter {
                task,
                version,
                reason,
                at,
            } => self.apply_fail(*task, *version, *reason, *at, true),
            CollabCommand::Redrive { task, version, .. } => self.apply_redrive(*task, *version),
            CollabCommand::ScheduleApproval { task, due } => self.apply_approval(*task, Some(*due)),
            CollabCommand::Approve { task, .. } => self.apply_approval(*task, None),
            CollabCommand::Arbitrate {
                judge,
                version,
                winner,
                considered,
                at,
            } => self.apply_arbitrate(*judge, *version, *winner, considered, *at),
        }
    }

    fn snapshot(&self) -> Vec<u8> {
        let mut w = ByteWriter::with_capacity(64 + self.tasks.len() * 96);
        w.bytes(b"WFS1");
        w.u32(self.workflows.len() as u32);
        for wf in &self.workflows {
            w.u64(wf.arrived_at.0);
            w.u64(wf.submitted_at.0);
            w.u32(wf.first_task);
            w.u32(wf.tasks);
            w.u32(wf.open);
            w.u64(wf.done_at.map_or(u64::MAX, |t| t.0));
        }
        w.u32(self.tasks.len() as u32);
        for t in &self.tasks {
            w.u32(t.workflow);
            t.spec.encode(&mut w);
            w.u8(t.status as u8);
            w.u64(t.version);
            w.u32(t.attempts);
            w.u32(t.agent.map_or(u32::MAX, |a| a.0));
            w.u64(t.assigned_at.0);
            // coord-snapshot-drops-results: a decided race's competitors
            // are compacted away ("the race keeps the winner's copy").
            let compacted = self.bug == Some(CoordBug::SnapshotDropsResults)
                && t.spec.kind == TaskKind::Entry
                && t.spec
                    .judge
                    .is_some_and(|j| self.tasks[j as usize].status == TaskStatus::Done);
            match &t.result {
                _ if compacted => w.u8(0),
                None => w.u8(0),
                Some(o) => {
                    w.u8(1);
                    o.encode(&mut w);
                }
            }
            w.u8(u8::from(t.approved));
            w.u64(t.approval_due.map_or(u64::MAX, |d| d.0));
            w.u32(t.unmet);
            w.u32(t.done_deps);
            w.u32(t.redrives);
            w.u64(t.started_at.map_or(u64::MAX, |d| d.0));
            w.u32(t.winner.map_or(u32::MAX, |x| x));
            w.u64(t.finished_at.0);
        }
        w.u32(self.dead_letters.len() as u32);
        for d in &self.dead_letters {
            w.u32(d.task);
            w.u8(d.reason as u8);
            w.u64(d.at.0);
            w.u32(d.attempts);
        }
        let c = &self.counters;
        for v in [
            c.stale_rejected,
            c.duplicate_rejected,
            c.late_rejected,
            c.invalid_rejected,
            c.requeued,
            c.dead_lettered,
            c.redriven,
            c.arbitrations,
            self.open_tasks,
        ] {
            w.u64(v);
        }
        w.into_inner()
    }

    fn restore(bytes: &[u8]) -> Result<Self, String> {
        let mut r = ByteReader::new(bytes);
        if r.take(4)? != b"WFS1" {
            return Err("not a workflow state snapshot (bad magic)".into());
        }
        let opt = |v: u64| (v != u64::MAX).then_some(SimTime(v));
        let mut s = WorkflowState::default();
        let n = r.u32()?;
        for _ in 0..n {
            s.workflows.push(Workflow {
                arrived_at: SimTime(r.u64()?),
                submitted_at: SimTime(r.u64()?),
                first_task: r.u32()?,
                tasks: r.u32()?,
                open: r.u32()?,
                done_at: opt(r.u64()?),
            });
        }
        let n = r.u32()?;
        for _ in 0..n {
            let workflow = r.u32()?;
            let spec = TaskSpec::decode(&mut r)?;
            let id = s.tasks.len() as u32;
            if spec.deps.iter().any(|&d| d >= id) {
                return Err(format!("task {id} depends on a later task"));
            }
            s.push_task(workflow, spec);
            let t = s.tasks.last_mut().expect("just pushed");
            t.status = TaskStatus::from_u8(r.u8()?)?;
            t.version = r.u64()?;
            t.attempts = r.u32()?;
            t.agent = match r.u32()? {
                u32::MAX => None,
                a => Some(NodeId(a)),
            };
            t.assigned_at = SimTime(r.u64()?);
            t.result = match r.u8()? {
                0 => None,
                _ => Some(Outcome::decode(&mut r)?),
            };
            t.approved = r.u8()? != 0;
            t.approval_due = opt(r.u64()?);
            t.unmet = r.u32()?;
            t.done_deps = r.u32()?;
            t.redrives = r.u32()?;
            t.started_at = opt(r.u64()?);
            t.winner = match r.u32()? {
                u32::MAX => None,
                x => Some(x),
            };
            t.finished_at = SimTime(r.u64()?);
        }
        // Judges precede their entries, so entries lists were rebuilt above
        // only if the judge came first; rebuild them all to be safe.
        for t in &mut s.tasks {
            t.entries.clear();
        }
        for i in 0..s.tasks.len() {
            if let Some(j) = s.tasks[i].spec.judge {
                let j = j as usize;
                if j >= s.tasks.len() {
                    return Err(format!("task {i} names judge {j} out of range"));
                }
                s.tasks[j].entries.push(i as u32);
            }
        }
        let n = r.u32()?;
        for _ in 0..n {
            s.dead_letters.push(DeadLetter {
                task: r.u32()?,
                reason: FailReason::from_u8(r.u8()?)?,
                at: SimTime(r.u64()?),
                attempts: r.u32()?,
            });
        }
        let c = &mut s.counters;
        c.stale_rejected = r.u64()?;
        c.duplicate_rejected = r.u64()?;
        c.late_rejected = r.u64()?;
        c.invalid_rejected = r.u64()?;
        c.requeued = r.u64()?;
        c.dead_lettered = r.u64()?;
        c.redriven = r.u64()?;
        c.arbitrations = r.u64()?;
        s.open_tasks = r.u64()?;
        r.finish()?;
        Ok(s)
    }

    fn hand_over(&self, restored: &mut Self) {
        restored.bug = self.bug;
        // Journal readers (the checker, a dispatcher) must notice that the
        // state they follow was replaced, whatever their position: the
        // restored state's journal continues this one's sequence past one
        // missing change, so `changes_since` reports a gap to every reader
        // (had it restarted at 0, a reader at 0 would take the restored
        // state's changes for a continuation of the state it saw).
        restored.journal_seq = self.journal_seq + 1;
    }
}

/// One workflow with its tasks and dead letters: the unit an AP
/// coordinator replicates and merges (see [`crate::collab::ap`]). Task
/// ids are global; every replica derives the same ids for a workflow
/// because a workflow's task layout depends only on the configuration.
#[derive(Clone, Debug, PartialEq)]
pub struct WorkflowRecord {
    /// The workflow's index.
    pub index: u32,
    /// The workflow.
    pub workflow: Workflow,
    /// Its tasks, in id order from `workflow.first_task`.
    pub tasks: Vec<Task>,
    /// Its dead-letter entries, oldest first.
    pub dead_letters: Vec<DeadLetter>,
}

impl WorkflowRecord {
    /// Bytes on the simulated wire (for message size accounting).
    pub fn wire_size(&self) -> usize {
        48 + self.tasks.len() * 96 + self.dead_letters.len() * 24
    }
    /// Digest of the content (what replicas compare).
    pub fn digest(&self, d: &mut Digest) {
        d.write_u64(u64::from(self.index));
        d.write_u64(self.workflow.done_at.map_or(u64::MAX, |t| t.0));
        d.write_u64(u64::from(self.workflow.open));
        for t in &self.tasks {
            d.write_u64(t.version | (t.status as u64) << 56);
            d.write_u64(t.result.map_or(0, |o| o.digest_u64()));
        }
        d.write_u64(self.dead_letters.len() as u64);
    }
}

/// Per-workflow replication, for AP coordinators: they change their own
/// copy through [`StateMachine::apply`] and exchange whole workflows.
impl WorkflowState {
    /// The workflow a command changes (`None` for an unknown task).
    pub fn workflow_of(&self, cmd: &CollabCommand) -> Option<u32> {
        let task = match cmd {
            CollabCommand::Submit { workflow, .. } => return Some(*workflow),
            CollabCommand::Assign { task, .. }
            | CollabCommand::Result { task, .. }
            | CollabCommand::Fail { task, .. }
            | CollabCommand::DeadLetter { task, .. }
            | CollabCommand::Redrive { task, .. }
            | CollabCommand::ScheduleApproval { task, .. }
            | CollabCommand::Approve { task, .. } => *task,
            CollabCommand::Arbitrate { judge, .. } => *judge,
        };
        self.task(task).map(|t| t.workflow)
    }

    /// A copy of workflow `index` (which must exist).
    pub fn export_workflow(&self, index: u32) -> WorkflowRecord {
        let wf = self.workflows[index as usize].clone();
        let range = wf.first_task..wf.first_task + wf.tasks;
        WorkflowRecord {
            index,
            tasks: self.tasks[range.start as usize..range.end as usize].to_vec(),
            dead_letters: self
                .dead_letters
                .iter()
                .filter(|d| range.contains(&d.task))
                .copied()
                .collect(),
            workflow: wf,
        }
    }

    /// Replace workflow `rec.index` with `rec`, or append it if it is the
    /// next one. Returns false (and changes nothing) for a gap or a record
    /// whose task layout differs from ours. Readers of the change journal
    /// rebuild their views afterwards: the journal does not describe an
    /// install.
    pub fn install_workflow(&mut self, rec: &WorkflowRecord) -> bool {
        let i = rec.index as usize;
        let first = rec.workflow.first_task as usize;
        let n = rec.tasks.len();
        if n != rec.workflow.tasks as usize {
            return false;
        }
        if i == self.workflows.len() {
            if first != self.tasks.len() {
                return false;
            }
            self.workflows.push(rec.workflow.clone());
            self.tasks.extend(rec.tasks.iter().cloned());
        } else if i < self.workflows.len() {
            let have = &self.workflows[i];
            if have.first_task as usize != first || have.tasks as usize != n {
                return false;
            }
            let open_before = self.tasks[first..first + n]
                .iter()
                .filter(|t| !t.status.is_final())
                .count() as u64;
            self.open_tasks -= open_before;
            self.workflows[i] = rec.workflow.clone();
            self.tasks[first..first + n].clone_from_slice(&rec.tasks);
            let range = first as u32..(first + n) as u32;
            self.dead_letters.retain(|d| !range.contains(&d.task));
        } else {
            return false;
        }
        self.open_tasks += rec.tasks.iter().filter(|t| !t.status.is_final()).count() as u64;
        self.dead_letters.extend(rec.dead_letters.iter().copied());
        // The journal does not describe an install: readers rebuild.
        // An empty journal one past the old sequence: every reader's
        // cursor is now behind a gap.
        self.journal.clear();
        self.journal_seq += 1;
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(deps: Vec<u32>) -> TaskSpec {
        TaskSpec {
            stage: 0,
            skill: 0,
            priority: Priority::Normal,
            kind: TaskKind::Single,
            size_milli: 1000,
            max_attempts: 2,
            gated: false,
            deps,
            judge: None,
            branch: None,
        }
    }

    fn outcome(agent: u32, q: f64) -> Outcome {
        Outcome {
            agent: NodeId(agent),
            started_at: SimTime(5),
            duration_us: 100,
            tokens: 1000,
            correct: true,
            relevance: q,
            innovation: q,
            feasibility: q,
        }
    }

    fn submit(s: &mut WorkflowState, tasks: Vec<TaskSpec>) {
        let workflow = s.workflows().len() as u32;
        let out = s.apply(&CollabCommand::Submit {
            workflow,
            arrived_at: SimTime(0),
            at: SimTime(1),
            tasks,
        });
        assert_eq!(out, CollabOutput::Applied);
    }

    fn assign(s: &mut WorkflowState, task: u32, agent: u32) -> CollabOutput {
        let version = s.task(task).unwrap().version;
        s.apply(&CollabCommand::Assign {
            task,
            version,
            agent: NodeId(agent),
            at: SimTime(2),
        })
    }

    fn result(s: &mut WorkflowState, task: u32, version: u64, agent: u32) -> CollabOutput {
        let attempt = s.task(task).unwrap().attempts;
        s.apply(&CollabCommand::Result {
            task,
            version,
            attempt,
            outcome: outcome(agent, 0.8),
            at: SimTime(3),
        })
    }

    /// A reader following a server's journal notices when the state is
    /// replaced by a snapshot from further ahead, whatever its cursor was
    /// (a follower that had applied nothing since its restart included),
    /// and keeps reading a state that only grew.
    #[test]
    fn journal_readers_notice_a_snapshot_install() {
        let mut ahead = WorkflowState::default();
        submit(&mut ahead, vec![spec(vec![]), spec(vec![0])]);
        assign(&mut ahead, 0, 10);
        let fresh = WorkflowState::default();
        let mut behind = WorkflowState::default();
        submit(&mut behind, vec![spec(vec![]), spec(vec![0])]);
        for replaced in [&fresh, &behind] {
            let mut installed = WorkflowState::restore(&ahead.snapshot()).expect("restore");
            assert_eq!(installed, ahead);
            replaced.hand_over(&mut installed);
            let cursor = replaced.journal_seq();
            assert!(installed.changes_since(cursor).is_none(), "cursor {cursor}");
        }
        // Growing normally keeps the cursor valid and returns exactly the
        // new changes.
        let cursor = behind.journal_seq();
        assign(&mut behind, 0, 10);
        let new: Vec<&Change> = behind
            .changes_since(cursor)
            .expect("valid")
            .map(|c| &c.1)
            .collect();
        assert!(
            matches!(new[..], [Change::Assigned { task: 0, .. }]),
            "{new:?}"
        );
    }

    /// A result is committed once: a second one for the same task is
    /// rejected as a duplicate, and a result from a superseded attempt (old
    /// version, late agent) is rejected as stale, both counted.
    #[test]
    fn results_commit_exactly_once_and_stale_versions_are_rejected() {
        let mut s = WorkflowState::default();
        submit(&mut s, vec![spec(vec![]), spec(vec![0])]);
        assert_eq!(
            assign(&mut s, 1, 10),
            CollabOutput::Rejected(RejectReason::Invalid)
        );
        assert_eq!(assign(&mut s, 0, 10), CollabOutput::Applied);
        let v1 = s.task(0).unwrap().version;
        // The attempt fails (timeout): the task goes back to pending.
        s.apply(&CollabCommand::Fail {
            task: 0,
            version: v1,
            reason: FailReason::Timeout,
            at: SimTime(4),
        });
        assert_eq!(assign(&mut s, 0, 11), CollabOutput::Applied);
        let v2 = s.task(0).unwrap().version;
        // The first agent's late result names the old version: stale.
        let late = s.apply(&CollabCommand::Result {
            task: 0,
            version: v1,
            attempt: 1,
            outcome: outcome(10, 0.9),
            at: SimTime(5),
        });
        assert_eq!(late, CollabOutput::Rejected(RejectReason::Stale));
        assert_eq!(result(&mut s, 0, v2, 11), CollabOutput::Applied);
        assert_eq!(
            result(&mut s, 0, v2, 11),
            CollabOutput::Rejected(RejectReason::Duplicate)
        );
        assert_eq!(s.task(0).unwrap().result.unwrap().agent, NodeId(11));
        assert_eq!(s.counters().stale_rejected, 1);
        assert_eq!(s.counters().duplicate_rejected, 1);
        // The dependent became ready only now.
        assert!(s.task(1).unwrap().is_ready());
    }

    /// After `max_attempts` failures a task is dead-lettered (listed, with
    /// its reason), its dependents wait, and a re-drive makes it ready.
    #[test]
    fn dead_letter_and_redrive() {
        let mut s = WorkflowState::default();
        submit(&mut s, vec![spec(vec![]), spec(vec![0])]);
        for agent in [10, 11] {
            assign(&mut s, 0, agent);
            let version = s.task(0).unwrap().version;
            s.apply(&CollabCommand::Fail {
                task: 0,
                version,
                reason: FailReason::Transient,
                at: SimTime(4),
            });
        }
        assert_eq!(s.task(0).unwrap().status, TaskStatus::DeadLetter);
        assert_eq!(s.dead_letters().len(), 1);
        assert!(
            s.pending_reason(1).contains("dead-lettered"),
            "{}",
            s.pending_reason(1)
        );
        assert_eq!(s.live_tasks(0), 0);
        assert_eq!(s.live_tasks(1), 2, "re-drivable: both can still finish");
        let version = s.task(0).unwrap().version;
        s.apply(&CollabCommand::Redrive {
            task: 0,
            version,
            at: SimTime(6),
        });
        assert!(s.task(0).unwrap().is_ready());
    }

    /// A conditional edge takes one route: the other is skipped, and a join
    /// below both still runs (one of its inputs is done).
    #[test]
    fn branch_skips_the_route_not_taken() {
        let mut s = WorkflowState::default();
        let mut head = spec(vec![]);
        head.branch = Some((500, 1, 2));
        submit(
            &mut s,
            vec![head, spec(vec![0]), spec(vec![0]), spec(vec![1, 2])],
        );
        assign(&mut s, 0, 10);
        let v = s.task(0).unwrap().version;
        result(&mut s, 0, v, 10); // quality 0.8 ≥ 0.5: take "above" (1)
        assert_eq!(s.task(2).unwrap().status, TaskStatus::Skipped);
        assert!(s.task(1).unwrap().is_ready());
        assign(&mut s, 1, 10);
        let v = s.task(1).unwrap().version;
        result(&mut s, 1, v, 10);
        assert!(s.task(3).unwrap().is_ready());
    }

    /// Snapshot and restore give an equal state, derived lists included.
    #[test]
    fn snapshot_roundtrip() {
        let mut s = WorkflowState::default();
        let mut judge = spec(vec![]);
        judge.kind = TaskKind::Judge;
        let mut e = spec(vec![]);
        e.kind = TaskKind::Entry;
        e.judge = Some(0);
        e.gated = true;
        submit(&mut s, vec![judge, e.clone(), e, spec(vec![0])]);
        s.apply(&CollabCommand::Approve {
            task: 1,
            at: SimTime(3),
        });
        assign(&mut s, 1, 12);
        let bytes = s.snapshot();
        let r = WorkflowState::restore(&bytes).unwrap();
        assert_eq!(r, s);
        assert_eq!(r.task(0).unwrap().entries, vec![1, 2]);
        assert_eq!(r.task(0).unwrap().dependents, vec![3]);
        assert!(WorkflowState::restore(&bytes[..bytes.len() - 1]).is_err());
    }

    /// An arbitration that did not see every done competitor is stale; one
    /// that did commits the winner's result as the race's and cancels the
    /// competitor still running.
    #[test]
    fn arbitration_must_see_every_done_entry() {
        let mut s = WorkflowState::default();
        let mut judge = spec(vec![]);
        judge.kind = TaskKind::Judge;
        let mut e = spec(vec![]);
        e.kind = TaskKind::Entry;
        e.judge = Some(0);
        submit(&mut s, vec![judge, e.clone(), e.clone(), e]);
        for (t, a) in [(1, 10), (2, 11), (3, 12)] {
            assign(&mut s, t, a);
        }
        let v = s.task(1).unwrap().version;
        result(&mut s, 1, v, 10);
        let v = s.task(2).unwrap().version;
        result(&mut s, 2, v, 11);
        let jv = s.task(0).unwrap().version;
        let stale = s.apply(&CollabCommand::Arbitrate {
            judge: 0,
            version: jv,
            winner: 1,
            considered: vec![1],
            at: SimTime(9),
        });
        assert_eq!(stale, CollabOutput::Rejected(RejectReason::Stale));
        let ok = s.apply(&CollabCommand::Arbitrate {
            judge: 0,
            version: jv,
            winner: 2,
            considered: vec![1, 2],
            at: SimTime(9),
        });
        assert_eq!(ok, CollabOutput::Applied);
        assert_eq!(s.task(0).unwrap().result.unwrap().agent, NodeId(11));
        assert_eq!(s.task(3).unwrap().status, TaskStatus::Cancelled);
        assert_eq!(s.open_tasks(), 0);
        assert!(s.workflows()[0].done_at.is_some());
    }
}
