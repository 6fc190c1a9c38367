//! Workflow export and install for the AP coordinator: one workflow with
//! its tasks and dead letters is the unit AP servers gossip and merge.

use super::command::CollabCommand;
use super::task::{DeadLetter, Task, TaskId, Workflow, WorkflowId};
use super::WorkflowState;
use crate::process::Digest;

/// One workflow with its tasks and dead letters: the unit an AP
/// coordinator replicates and merges (see [`crate::collab::ap`]). Task
/// ids are global; every replica derives the same ids for a workflow
/// because a workflow's task layout depends only on the configuration.
#[derive(Clone, Debug, PartialEq)]
pub struct WorkflowRecord {
    /// The workflow's index.
    pub index: WorkflowId,
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
/// copy through [`StateMachine::apply`](crate::raft::StateMachine::apply) and exchange whole workflows.
impl WorkflowState {
    /// The workflow a command changes (`None` for an unknown task).
    pub fn workflow_of(&self, cmd: &CollabCommand) -> Option<WorkflowId> {
        let task = match cmd {
            CollabCommand::Submit { workflow, .. } => return Some(*workflow),
            CollabCommand::ApproveStage { .. } => return None,
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
    pub fn export_workflow(&self, index: WorkflowId) -> WorkflowRecord {
        let wf = self.workflows[index.index()].clone();
        let range = wf.first_task..TaskId(wf.first_task.0 + wf.tasks);
        WorkflowRecord {
            index,
            tasks: self.tasks[range.start.index()..range.end.index()].to_vec(),
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
        let i = rec.index.index();
        let first = rec.workflow.first_task.index();
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
            if have.first_task.index() != first || have.tasks as usize != n {
                return false;
            }
            let open_before = self.tasks[first..first + n]
                .iter()
                .filter(|t| !t.status.is_final())
                .count() as u64;
            self.open_tasks -= open_before;
            self.workflows[i] = rec.workflow.clone();
            self.tasks[first..first + n].clone_from_slice(&rec.tasks);
            let range = TaskId(first as u32)..TaskId((first + n) as u32);
            self.dead_letters.retain(|d| !range.contains(&d.task));
        } else {
            return false;
        }
        self.open_tasks += rec.tasks.iter().filter(|t| !t.status.is_final()).count() as u64;
        self.dead_letters.extend(rec.dead_letters.iter().copied());
        // The journal does not describe an install: readers rebuild.
        // An empty journal one past the old sequence: every reader's
        // cursor is now behind a gap.
        self.journal.break_sequence();
        true
    }
}
