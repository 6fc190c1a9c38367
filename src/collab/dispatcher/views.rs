//! The dispatcher's volatile views of the committed state: rebuilt from
//! scratch on activation (checkpoint recovery), then kept current by
//! following the state's change journal.

use super::Dispatcher;
use crate::collab::bug::CoordBug;
use crate::collab::coordinator::{
    Change, FailReason, RejectReason, TaskId, TaskKind, TaskStatus, WorkflowState,
};
use crate::time::SimTime;
use std::cmp::Reverse;

impl Dispatcher {
    /// Forget all volatile views and rebuild them from the state.
    pub(super) fn rebuild(&mut self, sm: &WorkflowState, now: SimTime) {
        self.stats.activations += 1;
        self.cursor = sm.journal_seq();
        self.ready.clear();
        self.proposed.clear();
        self.inflight.clear();
        self.gated.clear();
        self.judges.clear();
        self.dead.clear();
        for a in &mut self.agents {
            a.load = 0;
        }
        for (i, t) in sm.tasks().iter().enumerate() {
            let id = TaskId(i as u32);
            match t.status {
                TaskStatus::Pending if t.spec.kind == TaskKind::Judge => {
                    self.judges.insert(id);
                }
                TaskStatus::Pending if t.is_ready() => {
                    self.ready.insert((Reverse(t.spec.priority), id));
                }
                TaskStatus::Pending if t.awaits_approval() => {
                    self.gated.insert(id, SimTime::ZERO);
                }
                TaskStatus::Assigned => {
                    let agent = t.agent.expect("assigned task has an agent");
                    self.track(sm, id, agent, t.attempts, t.version, now);
                    self.stats.resent_after_failover += 1;
                }
                TaskStatus::DeadLetter if t.redrives < self.cfg.redrives => {
                    self.dead.insert(id);
                }
                _ => {}
            }
        }
        self.next_workflow = sm.workflows().len();
        self.dirty = true;
    }
    pub(super) fn release_proposal(&mut self, task: TaskId) {
        if let Some((_, Some(agent))) = self.proposed.remove(&task) {
            if let Some(i) = self.agent_index(agent) {
                self.agents[i].load = self.agents[i].load.saturating_sub(1);
            }
            self.dirty = true;
        }
    }

    /// Catch up with committed changes.
    pub fn sync(&mut self, sm: &WorkflowState, now: SimTime) {
        let Some(changes) = sm.changes_since(self.cursor) else {
            self.rebuild(sm, now);
            return;
        };
        let changes: Vec<Change> = changes.map(|(_, c)| c.clone()).collect();
        self.cursor = sm.journal_seq();
        for c in changes {
            self.on_change(sm, c, now);
        }
    }

    pub(super) fn on_change(&mut self, sm: &WorkflowState, c: Change, now: SimTime) {
        match c {
            Change::Ready { task } => {
                let t = sm.task(task).expect("task");
                // The bug: a retry (a task that already had an attempt)
                // is not queued again.
                let forgotten = self.cfg.bug == Some(CoordBug::ForgetRetry) && t.attempts > 0;
                if t.spec.kind != TaskKind::Judge && !forgotten {
                    self.ready.insert((Reverse(t.spec.priority), task));
                    self.dirty = true;
                }
            }
            Change::Gated { task } => {
                self.gated.insert(task, SimTime::ZERO);
            }
            Change::Approval { task, given: true } => {
                self.gated.remove(&task);
            }
            Change::Submitted { first, count, .. } => {
                // Races are judged from the start (as a rebuild does): a
                // race whose competitors are all dead-lettered before any
                // is assigned is decided (dead-lettered) too, instead of
                // waiting for ever (found by tests/proptest_workflow.rs).
                for i in first.0..first.0 + count {
                    let t = TaskId(i);
                    if sm.task(t).is_some_and(|x| x.spec.kind == TaskKind::Judge) {
                        self.judges.insert(t);
                    }
                }
            }
            Change::Approval { .. } | Change::WorkflowDone { .. } => {}
            Change::Assigned {
                task,
                to,
                agent,
                attempt,
                ..
            } => {
                // The proposal's load share moves to the tracked attempt.
                self.release_proposal(task);
                self.track(sm, task, agent, attempt, to, now);
                if let Some(j) = sm.task(task).and_then(|t| t.spec.judge) {
                    self.judges.insert(j);
                }
            }
            Change::Completed { task, .. } => {
                self.untrack(task, Some(true), now);
                self.release_proposal(task);
                self.ack_results(task, now);
            }
            Change::Requeued { task, reason, .. } | Change::DeadLettered { task, reason, .. } => {
                let blame = !matches!(reason, FailReason::AgentLost | FailReason::NoEntries);
                self.untrack(task, blame.then_some(false), now);
                self.release_proposal(task);
                self.ack_results(task, now);
                let t = sm.task(task).expect("task");
                if t.status == TaskStatus::DeadLetter && t.redrives < self.cfg.redrives {
                    self.dead.insert(task);
                }
                if reason == FailReason::Unacked {
                    self.stats.unacked += 1;
                }
            }
            Change::Redriven { task, .. } => {
                self.dead.remove(&task);
                // A re-driven race is judged again: it left the judges
                // when it was dead-lettered, and without this it waited
                // for ever (found by tests/proptest_workflow.rs with an
                // agent crashing twice in competitive mode).
                if sm
                    .task(task)
                    .is_some_and(|t| t.spec.kind == TaskKind::Judge)
                {
                    self.judges.insert(task);
                }
            }
            Change::Closed { task, .. } => {
                self.untrack(task, None, now);
                self.release_proposal(task);
                self.ack_results(task, now);
                let p = sm.task(task).expect("task").spec.priority;
                self.ready.remove(&(Reverse(p), task));
                self.gated.remove(&task);
                self.judges.remove(&task);
            }
            Change::Arbitrated { judge, .. } => {
                self.judges.remove(&judge);
                self.proposed.remove(&judge);
            }
            Change::Rejected {
                task,
                command,
                reason,
            } => {
                if command == "submit" {
                    return;
                }
                self.release_proposal(task);
                self.proposed.remove(&task);
                if command == "result" {
                    self.ack_results(task, now);
                }
                if let Some(f) = self.inflight.get_mut(&task) {
                    // A failure proposal that lost a race: look again.
                    if reason == RejectReason::Stale || reason == RejectReason::Invalid {
                        f.given_up = false;
                    }
                }
                if let Some(t) = sm.task(task) {
                    if t.is_ready() {
                        self.ready.insert((Reverse(t.spec.priority), task));
                        self.dirty = true;
                    }
                }
            }
        }
    }
}
