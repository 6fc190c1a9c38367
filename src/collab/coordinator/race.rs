//! Races (competitive stages): the judge's arbitration commits a winner
//! among the competitors done when the arbiter looked, cancels the rest
//! and routes on the winner's outcome.

use super::{Change, CollabOutput, RejectReason, TaskId, TaskKind, TaskStatus, WorkflowState};
use crate::time::SimTime;

impl WorkflowState {
    /// `Arbitrate`: a race's judge picks `winner` among the entries done
    /// now; the rest are cancelled.
    pub(super) fn apply_arbitrate(
        &mut self,
        judge: TaskId,
        version: u64,
        winner: TaskId,
        considered: &[TaskId],
        at: SimTime,
    ) -> CollabOutput {
        if let Some(r) = self.check_version(judge, version, "arbitrate") {
            return r;
        }
        let j = &self.tasks[judge.index()];
        if j.spec.kind != TaskKind::Judge || j.status != TaskStatus::Pending {
            return self.reject(judge, "arbitrate", RejectReason::Invalid);
        }
        // The decision must have seen exactly the entries done now: a
        // result committed after the arbiter looked makes it stale.
        let done: Vec<TaskId> = j
            .entries
            .iter()
            .copied()
            .filter(|&e| self.tasks[e.index()].status == TaskStatus::Done)
            .collect();
        if done != considered {
            return self.reject(judge, "arbitrate", RejectReason::Stale);
        }
        if !done.contains(&winner) {
            return self.reject(judge, "arbitrate", RejectReason::Invalid);
        }
        let outcome = self.tasks[winner.index()].result;
        let (from, to) = self.bump(judge);
        let j = &mut self.tasks[judge.index()];
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
        for e in self.tasks[judge.index()].entries.clone() {
            let s = self.tasks[e.index()].status;
            if !s.is_final() {
                if s == TaskStatus::DeadLetter {
                    // A failed competitor no longer matters: close it.
                    self.tasks[e.index()].status = TaskStatus::Pending;
                }
                self.close(e, TaskStatus::Cancelled, at);
            }
        }
        if let (Some(o), Some(b)) = (outcome, self.tasks[judge.index()].spec.branch) {
            self.route(Some(b), &o, at);
        }
        self.finish(judge, true, at);
        CollabOutput::Applied
    }
}
