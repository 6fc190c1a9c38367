//! The coordinator's own invariants, asserted after every applied command
//! (TigerBeetle style: the state machine checks itself on every server,
//! in release builds too; the workflow checker judges the run again from
//! outside, from the journal, independently of this code).
//!
//! Each command is about one task (the judge, for an arbitration; none for
//! a submit). Comparing that task before and after the command:
//! - its version never goes back;
//! - a final task (done, skipped, cancelled) never changes: it is never
//!   re-assigned, re-opened or given another result;
//! - an assigned task has an agent and at least one attempt;
//! - a done task has its result;
//! - a rejected command changes nothing.
//!
//! A planted [`CoordBug`] is meant to break one of these so that the
//! workflow checker can catch it from outside; that one invariant is not
//! asserted while the bug is on (see [`check`]).

use super::command::CollabCommand;
use super::task::{Outcome, Task, TaskId, TaskStatus};
use crate::collab::bug::CoordBug;

/// Which invariant a command broke.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Broken {
    /// The task's version is lower than before the command.
    VersionWentBack,
    /// A final task changed status or result.
    FinalChanged,
    /// An assigned task has no agent or no attempt.
    AssignedWithoutAgent,
    /// A done task has no result.
    DoneWithoutResult,
    /// A rejected command changed the task.
    RejectedButChanged,
}

/// What the command's task looked like before the command.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Before {
    /// Its status.
    pub status: TaskStatus,
    /// Its version.
    pub version: u64,
    /// Its result.
    pub result: Option<Outcome>,
}

impl Before {
    /// The parts of `t` the invariants compare.
    pub fn of(t: &Task) -> Self {
        Before {
            status: t.status,
            version: t.version,
            result: t.result,
        }
    }
}

/// The task `cmd` is about: its `task`, an arbitration's judge, none for a
/// submit.
pub fn subject(cmd: &CollabCommand) -> Option<TaskId> {
    match cmd {
        CollabCommand::Submit { .. } | CollabCommand::ApproveStage { .. } => None,
        CollabCommand::Assign { task, .. }
        | CollabCommand::Result { task, .. }
        | CollabCommand::Fail { task, .. }
        | CollabCommand::DeadLetter { task, .. }
        | CollabCommand::Redrive { task, .. }
        | CollabCommand::ScheduleApproval { task, .. }
        | CollabCommand::Approve { task, .. } => Some(*task),
        CollabCommand::Arbitrate { judge, .. } => Some(*judge),
    }
}

/// Check one command's task, `before` → `after`. `rejected`: the command
/// was rejected. With `bug` on, the invariant that bug exists to break is
/// not checked: `AcceptStale` lets versions go back, `DoubleResult`
/// re-completes a done task, `SnapshotDropsResults` leaves done tasks
/// without their result after a restore.
pub fn check(
    before: Before,
    after: &Task,
    rejected: bool,
    bug: Option<CoordBug>,
) -> Result<(), Broken> {
    if after.version < before.version && bug != Some(CoordBug::AcceptStale) {
        return Err(Broken::VersionWentBack);
    }
    if rejected && (after.version != before.version || after.status != before.status) {
        return Err(Broken::RejectedButChanged);
    }
    // Results compare by digest (bit-exact, and a NaN score equals itself).
    let digest = |r: Option<Outcome>| r.map(|o| o.digest_u64());
    if before.status.is_final()
        && (after.status != before.status || digest(after.result) != digest(before.result))
        && bug != Some(CoordBug::DoubleResult)
    {
        return Err(Broken::FinalChanged);
    }
    if after.status == TaskStatus::Assigned && (after.agent.is_none() || after.attempts == 0) {
        return Err(Broken::AssignedWithoutAgent);
    }
    if after.status == TaskStatus::Done
        && after.result.is_none()
        && bug != Some(CoordBug::SnapshotDropsResults)
    {
        return Err(Broken::DoneWithoutResult);
    }
    Ok(())
}
