//! The change journal: applying a command appends [`Change`]s to a
//! bounded, volatile log (not part of the snapshot) that the leader's
//! dispatcher and the checkers follow by sequence number instead of
//! rescanning tasks.

use super::task::{FailReason, Outcome, RejectReason, TaskId, TaskStatus, WorkflowId};
use crate::ids::NodeId;
use crate::time::SimTime;
use std::collections::VecDeque;

/// Journal capacity: more changes than this in one handler and a reader
/// notices the gap (and rebuilds from the state).
const JOURNAL_CAP: usize = 1 << 15;

/// One state change, as journalled for readers (dispatcher, checkers).
/// Versioned changes carry `(from, to)`: the task's version before and
/// after.
#[derive(Clone, Debug, PartialEq)]
pub enum Change {
    /// A workflow's tasks were created.
    Submitted {
        /// Workflow.
        workflow: WorkflowId,
        /// First task id.
        first: TaskId,
        /// Task count.
        count: u32,
    },
    /// A task became ready for an agent.
    Ready {
        /// Task.
        task: TaskId,
    },
    /// A task reached its approval gate.
    Gated {
        /// Task.
        task: TaskId,
    },
    /// An approval was scheduled or given.
    Approval {
        /// Task.
        task: TaskId,
        /// Given (true) or scheduled (false).
        given: bool,
    },
    /// An attempt was assigned.
    Assigned {
        /// Task.
        task: TaskId,
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
        task: TaskId,
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
        task: TaskId,
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
        task: TaskId,
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
        task: TaskId,
        /// Versions.
        from: u64,
        /// See `from`.
        to: u64,
    },
    /// Skipped (branch not taken) or cancelled (race decided).
    Closed {
        /// Task.
        task: TaskId,
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
        judge: TaskId,
        /// Versions.
        from: u64,
        /// See `from`.
        to: u64,
        /// The winning entry.
        winner: TaskId,
        /// The entries compared.
        considered: Vec<TaskId>,
        /// When.
        at: SimTime,
    },
    /// Every task of the workflow is final.
    WorkflowDone {
        /// Workflow.
        workflow: WorkflowId,
        /// When.
        at: SimTime,
    },
    /// A command was rejected.
    Rejected {
        /// Task (or workflow, for a submit).
        task: TaskId,
        /// Which command.
        command: &'static str,
        /// Why.
        reason: RejectReason,
    },
}

/// The bounded journal of one state: changes numbered from 1 in the
/// order applied; the oldest are evicted past [`JOURNAL_CAP`].
#[derive(Clone, Debug, Default)]
pub(super) struct Journal {
    changes: VecDeque<(u64, Change)>,
    /// Sequence number of the last change appended (or of a gap).
    seq: u64,
}

impl Journal {
    /// Sequence number of the last change (or gap).
    pub(super) fn seq(&self) -> u64 {
        self.seq
    }

    /// Append `c` with the next sequence number, evicting the oldest
    /// change when full.
    pub(super) fn push(&mut self, c: Change) {
        self.seq += 1;
        if self.changes.len() == JOURNAL_CAP {
            self.changes.pop_front();
        }
        self.changes.push_back((self.seq, c));
    }

    /// Changes after `seq`, oldest first; `None` if the reader cannot
    /// follow on (see `WorkflowState::changes_since`).
    pub(super) fn since(&self, seq: u64) -> Option<impl Iterator<Item = &(u64, Change)> + '_> {
        if seq > self.seq {
            // The sequence went back: the state was replaced by one that
            // does not continue this sequence.
            return None;
        }
        let oldest = self.changes.front().map_or(self.seq + 1, |c| c.0);
        if seq + 1 < oldest && seq < self.seq {
            return None;
        }
        let skip = (seq + 1).saturating_sub(oldest) as usize;
        Some(self.changes.iter().skip(skip))
    }

    /// Continue another journal's sequence `seq` past one missing change,
    /// empty: every reader of that journal sees a gap (a snapshot replaced
    /// the state).
    pub(super) fn continue_past_gap(&mut self, seq: u64) {
        self.changes.clear();
        self.seq = seq + 1;
    }

    /// Drop every change and skip one number: every reader's cursor is
    /// now behind a gap (an AP merge installed a workflow).
    pub(super) fn break_sequence(&mut self) {
        self.changes.clear();
        self.seq += 1;
    }
}
