//! Approval gates: a stage marked `interrupt_before` waits for an
//! approval (scripted, or a modelled human's committed due time); a
//! competitor's gate is its whole race's.

use super::{Change, CollabOutput, RejectReason, TaskId, WorkflowState};
use crate::time::SimTime;

impl WorkflowState {
    /// The task and, for a competitor, its siblings (approval is per stage).
    pub(super) fn gate_group(&self, task: TaskId) -> Vec<TaskId> {
        match self.tasks[task.index()].spec.judge {
            Some(j) => self.tasks[j.index()].entries.clone(),
            None => vec![task],
        }
    }

    /// `ScheduleApproval` (`due`: a modelled human decides then) and
    /// `Approve` (`None`): the gate of `task`'s stage.
    pub(super) fn apply_approval(&mut self, task: TaskId, due: Option<SimTime>) -> CollabOutput {
        let Some(t) = self.tasks.get(task.index()) else {
            return self.reject(task, "approve", RejectReason::Invalid);
        };
        if !t.spec.gated {
            return self.reject(task, "approve", RejectReason::Invalid);
        }
        for g in self.gate_group(task) {
            let t = &mut self.tasks[g.index()];
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
                        if self.tasks[g.index()].is_ready() {
                            self.emit(Change::Ready { task: g });
                        }
                    }
                }
            }
        }
        CollabOutput::Applied
    }

    /// `ApproveStage`: a scripted approval of `stage` is now replicated
    /// state (kept sorted, once), so it outlives every server that heard it.
    pub(super) fn apply_approve_stage(&mut self, stage: u16) -> CollabOutput {
        if let Err(i) = self.approved_stages.binary_search(&stage) {
            self.approved_stages.insert(i, stage);
        }
        CollabOutput::Applied
    }
}
