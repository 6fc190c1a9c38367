//! The coordinator's log commands ([`CollabCommand`]) and what applying
//! one returns ([`CollabOutput`]), with their digests and sizes.

use super::task::{FailReason, Outcome, RejectReason, TaskId, TaskSpec, WorkflowId};
use crate::ids::NodeId;
use crate::process::Digest;
use crate::raft::{ByteReader, ByteWriter, Command, CommandOutput};
use crate::time::SimTime;

/// A command of the coordinator's log. `at` is the proposing leader's
/// clock; versions are the task version the proposer saw.
#[derive(Clone, Debug, PartialEq)]
pub enum CollabCommand {
    /// A workflow arrives with its tasks (local indices).
    Submit {
        /// Must equal the number of workflows submitted so far.
        workflow: WorkflowId,
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
        task: TaskId,
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
        task: TaskId,
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
        task: TaskId,
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
        task: TaskId,
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
        task: TaskId,
        /// Version seen.
        version: u64,
        /// When.
        at: SimTime,
    },
    /// A modelled human will approve at `due` (idempotent).
    ScheduleApproval {
        /// Task (an entry: all its race's entries).
        task: TaskId,
        /// When.
        due: SimTime,
    },
    /// Approve a gated task (idempotent).
    Approve {
        /// Task (an entry: all its race's entries).
        task: TaskId,
        /// When.
        at: SimTime,
    },
    /// A scripted approval of stage `stage` reached the leader (a world
    /// event at its true time): committed so that it outlives every
    /// server that received it (idempotent).
    ApproveStage {
        /// Stage index.
        stage: u16,
    },
    /// Decide a race.
    Arbitrate {
        /// The judge.
        judge: TaskId,
        /// Version seen.
        version: u64,
        /// The winning entry.
        winner: TaskId,
        /// Every done entry the arbiter compared, ascending.
        considered: Vec<TaskId>,
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
            CollabCommand::ApproveStage { .. } => "approve_stage",
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
            CollabCommand::ApproveStage { stage } => {
                d.write(&[9]);
                d.write_u64(u64::from(*stage));
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
