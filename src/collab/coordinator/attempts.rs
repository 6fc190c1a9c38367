//! A task's attempts: assigning it to an agent, taking the attempt's
//! result (only the current attempt's, at most once), failing it into a
//! requeue or a dead letter, and re-driving a dead letter.

use super::{
    Change, CollabOutput, CoordBug, DeadLetter, FailReason, Outcome, RejectReason, TaskId,
    TaskKind, TaskStatus, WorkflowState,
};
use crate::ids::NodeId;
use crate::time::SimTime;

impl WorkflowState {
    /// `Assign`: a ready task goes to `agent` as a new attempt.
    pub(super) fn apply_assign(
        &mut self,
        task: TaskId,
        version: u64,
        agent: NodeId,
        at: SimTime,
    ) -> CollabOutput {
        if let Some(r) = self.check_version(task, version, "assign") {
            return r;
        }
        if !self.tasks[task.index()].is_ready() {
            return self.reject(task, "assign", RejectReason::Invalid);
        }
        let (from, to) = self.bump(task);
        let t = &mut self.tasks[task.index()];
        t.status = TaskStatus::Assigned;
        t.agent = Some(agent);
        t.attempts += 1;
        t.assigned_at = at;
        let attempt = t.attempts;
        if let Some(j) = t.spec.judge {
            self.tasks[j.index()].started_at.get_or_insert(at);
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

    /// `Result`: the current attempt's outcome; the task is done and its
    /// dependents are released (a branch first skips the route not taken).
    pub(super) fn apply_result(
        &mut self,
        task: TaskId,
        version: u64,
        attempt: u32,
        outcome: &Outcome,
        at: SimTime,
    ) -> CollabOutput {
        let Some(t) = self.tasks.get(task.index()) else {
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
            let t = &mut self.tasks[task.index()];
            let from = t.version;
            t.version = version + 1;
            (from, t.version)
        } else {
            self.bump(task)
        };
        let t = &mut self.tasks[task.index()];
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

    /// `Fail` and `DeadLetter` (`dead_now`): the attempt failed; requeue
    /// the task, or dead-letter it once its attempt budget is used up.
    pub(super) fn apply_fail(
        &mut self,
        task: TaskId,
        version: u64,
        reason: FailReason,
        at: SimTime,
        dead_now: bool,
    ) -> CollabOutput {
        let what = if dead_now { "dead_letter" } else { "fail" };
        if let Some(r) = self.check_version(task, version, what) {
            return r;
        }
        let t = &self.tasks[task.index()];
        let ok = match t.status {
            TaskStatus::Assigned => true,
            // A race that failed, or a task no live agent can take.
            TaskStatus::Pending => {
                dead_now && (t.spec.kind == TaskKind::Judge || reason == FailReason::NoAgent)
            }
            _ => false,
        };
        if !ok {
            return self.reject(task, what, RejectReason::Invalid);
        }
        // Each re-drive grants another `max_attempts`; attempt numbers
        // keep counting across re-drives (agents key their work and
        // result cache by task and attempt: a re-driven task that started
        // again at attempt 1 was taken for work already done, acked and
        // never run, and its workflow stalled; found by liveness.workflows).
        let budget = u32::from(t.spec.max_attempts) * (t.redrives + 1);
        let dead = dead_now || t.attempts >= budget;
        let agent = t.agent;
        let (from, to) = self.bump(task);
        let t = &mut self.tasks[task.index()];
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

    /// `Redrive`: a dead-lettered task gets another attempt budget.
    pub(super) fn apply_redrive(&mut self, task: TaskId, version: u64) -> CollabOutput {
        if let Some(r) = self.check_version(task, version, "redrive") {
            return r;
        }
        if self.tasks[task.index()].status != TaskStatus::DeadLetter {
            return self.reject(task, "redrive", RejectReason::Invalid);
        }
        let (from, to) = self.bump(task);
        let t = &mut self.tasks[task.index()];
        t.status = TaskStatus::Pending;
        t.redrives += 1;
        self.counters.redriven += 1;
        self.emit(Change::Redriven { task, from, to });
        let t = &self.tasks[task.index()];
        if t.spec.kind == TaskKind::Judge {
            // A race re-driven: its competitors get another chance too.
            return CollabOutput::Applied;
        }
        if t.is_ready() {
            self.emit(Change::Ready { task });
        }
        CollabOutput::Applied
    }
}
