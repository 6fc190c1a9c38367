//! The coordinator's replicated state machine ([`WorkflowState`]).
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
//!
//! Submodules, one concept each: [`task`] (the task model), [`command`]
//! (log commands and outputs), [`journal`] (the change journal),
//! `codec` (the snapshot format), [`export`] (per-workflow export and
//! install for the AP coordinator), [`invariants`] (what every applied
//! command must keep, asserted after each). Applying a command is split
//! the same way: `graph` (submitting, releasing dependents, closing),
//! `attempts` (assign, result, fail, dead letter, re-drive), `approval`
//! (gates), `race` (arbitration); `queries` answers the cross-task
//! questions (pending reasons, live tasks, stuck dead letters). This file
//! keeps the state, its accessors, the shared helpers, the command switch
//! and the [`StateMachine`] impl.

pub mod command;
pub mod export;
pub mod invariants;
pub mod journal;
pub mod task;

mod approval;
mod attempts;
mod codec;
mod graph;
mod queries;
mod race;
#[cfg(test)]
mod tests;

pub use command::{CollabCommand, CollabOutput};
pub use export::WorkflowRecord;
pub use journal::Change;
pub use task::{
    Counters, DeadLetter, FailReason, Outcome, RejectReason, Task, TaskId, TaskKind, TaskSpec,
    TaskStatus, Workflow, WorkflowId,
};

use crate::collab::bug::CoordBug;
use crate::raft::StateMachine;
use journal::Journal;

/// The coordinator's replicated state.
#[derive(Clone, Debug, Default)]
pub struct WorkflowState {
    workflows: Vec<Workflow>,
    tasks: Vec<Task>,
    dead_letters: Vec<DeadLetter>,
    counters: Counters,
    /// Tasks not final (pending, assigned or dead-lettered).
    open_tasks: u64,
    /// Stages a scripted approval was committed for (ascending).
    approved_stages: Vec<u16>,
    /// Volatile change journal (not in snapshots).
    journal: Journal,
    /// A deliberately wrong variant: this process's setting, neither
    /// replicated nor in snapshots (handed over when a snapshot replaces
    /// the state), and not part of equality.
    bug: Option<CoordBug>,
}

impl PartialEq for WorkflowState {
    fn eq(&self, o: &Self) -> bool {
        self.workflows == o.workflows
            && self.tasks == o.tasks
            && self.dead_letters == o.dead_letters
            && self.counters == o.counters
            && self.open_tasks == o.open_tasks
            && self.approved_stages == o.approved_stages
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
    pub fn task(&self, id: TaskId) -> Option<&Task> {
        self.tasks.get(id.index())
    }
    /// The dead-letter history, oldest first.
    pub fn dead_letters(&self) -> &[DeadLetter] {
        &self.dead_letters
    }
    /// Replicated counters.
    pub fn counters(&self) -> Counters {
        self.counters
    }
    /// Whether a scripted approval of `stage` was committed
    /// ([`CollabCommand::ApproveStage`]).
    pub fn stage_approved(&self, stage: u16) -> bool {
        self.approved_stages.binary_search(&stage).is_ok()
    }
    /// Tasks not final.
    pub fn open_tasks(&self) -> u64 {
        self.open_tasks
    }
    /// Sequence number of the last journalled change (0: none since this
    /// state was built; a state that replaced another through a snapshot
    /// continues its sequence past a gap, see `hand_over`).
    pub fn journal_seq(&self) -> u64 {
        self.journal.seq()
    }
    /// Changes after `seq`, oldest first. `None` if the reader's view is
    /// not of this state's history: changes after `seq` were evicted, or
    /// the state was replaced (a snapshot installed, see `hand_over`, or a
    /// workflow installed by an AP merge). The reader must rebuild from
    /// the state.
    pub fn changes_since(&self, seq: u64) -> Option<impl Iterator<Item = &(u64, Change)> + '_> {
        self.journal.since(seq)
    }
}

/// The helpers every command's handler shares: journal a change, count a
/// rejection, bump a task's version, refuse a stale version.
impl WorkflowState {
    fn emit(&mut self, c: Change) {
        self.journal.push(c);
    }

    fn reject(
        &mut self,
        task: TaskId,
        command: &'static str,
        reason: RejectReason,
    ) -> CollabOutput {
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

    fn bump(&mut self, t: TaskId) -> (u64, u64) {
        let task = &mut self.tasks[t.index()];
        let from = task.version;
        task.version += 1;
        (from, task.version)
    }

    /// `None` if `task` exists at `version`, else the rejection (invalid
    /// or stale) already counted and journalled.
    fn check_version(
        &mut self,
        task: TaskId,
        version: u64,
        what: &'static str,
    ) -> Option<CollabOutput> {
        match self.tasks.get(task.index()) {
            None => Some(self.reject(task, what, RejectReason::Invalid)),
            Some(t) if t.version != version => Some(self.reject(task, what, RejectReason::Stale)),
            Some(_) => None,
        }
    }
}

impl WorkflowState {
    /// Apply `cmd` (no invariant checks: see `StateMachine::apply`).
    fn apply_command(&mut self, cmd: &CollabCommand) -> CollabOutput {
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
            CollabCommand::ApproveStage { stage } => self.apply_approve_stage(*stage),
        }
    }
}

impl StateMachine for WorkflowState {
    type Command = CollabCommand;
    type Output = CollabOutput;

    /// Apply `cmd`, then assert the [`invariants`] on the task it was
    /// about (on every server, in release builds too): a broken one means
    /// this state machine is wrong, and the run stops at the command that
    /// broke it.
    fn apply(&mut self, cmd: &CollabCommand) -> CollabOutput {
        let subject = invariants::subject(cmd);
        let before = subject
            .and_then(|t| self.task(t))
            .map(invariants::Before::of);
        let out = self.apply_command(cmd);
        if let (Some(t), Some(before)) = (subject, before) {
            let rejected = matches!(out, CollabOutput::Rejected(_));
            if let Err(broken) =
                invariants::check(before, &self.tasks[t.index()], rejected, self.bug)
            {
                panic!(
                    "coordinator invariant {broken:?} broken by `{}` on task {t}: {before:?} -> {:?}",
                    cmd.name(),
                    self.tasks[t.index()]
                );
            }
        }
        out
    }

    fn snapshot(&self) -> Vec<u8> {
        codec::encode(self)
    }

    fn restore(bytes: &[u8]) -> Result<Self, String> {
        codec::decode(bytes)
    }

    fn hand_over(&self, restored: &mut Self) {
        restored.bug = self.bug;
        // Journal readers (the checker, a dispatcher) must notice that the
        // state they follow was replaced, whatever their position: the
        // restored state's journal continues this one's sequence past one
        // missing change, so `changes_since` reports a gap to every reader
        // (had it restarted at 0, a reader at 0 would take the restored
        // state's changes for a continuation of the state it saw).
        restored.journal.continue_past_gap(self.journal.seq());
    }
}
