//! The workflow graph: submitting a workflow's tasks, releasing a task
//! when its dependencies are final, closing a task (and a skipped judge's
//! competitors), and the not-taken route of a conditional edge.

use super::{
    Change, CollabOutput, CoordBug, Outcome, RejectReason, Task, TaskId, TaskKind, TaskSpec,
    TaskStatus, Workflow, WorkflowId, WorkflowState,
};
use crate::time::SimTime;

impl WorkflowState {
    /// A pending task whose dependencies are all final: skip it if none
    /// was done (every route into it was not taken), else announce it.
    pub(super) fn deps_met(&mut self, t: TaskId, at: SimTime) {
        let task = &self.tasks[t.index()];
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
    pub(super) fn close(&mut self, t: TaskId, status: TaskStatus, at: SimTime) {
        assert!(status.is_final());
        let task = &self.tasks[t.index()];
        assert!(!task.status.is_final(), "task {t} closed twice");
        let agent = (task.status == TaskStatus::Assigned)
            .then_some(task.agent)
            .flatten();
        let (from, to) = self.bump(t);
        let task = &mut self.tasks[t.index()];
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
        let entries = self.tasks[t.index()].entries.clone();
        if status == TaskStatus::Skipped {
            for e in entries {
                if !self.tasks[e.index()].status.is_final() {
                    self.close(e, TaskStatus::Skipped, at);
                }
            }
        }
    }

    /// Bookkeeping once `t` is final: workflow count, dependents.
    pub(super) fn finish(&mut self, t: TaskId, done: bool, at: SimTime) {
        self.open_tasks -= 1;
        let wf = self.tasks[t.index()].workflow;
        let w = &mut self.workflows[wf.index()];
        w.open -= 1;
        if w.open == 0 {
            w.done_at = Some(at);
            self.emit(Change::WorkflowDone { workflow: wf, at });
        }
        let dependents = std::mem::take(&mut self.tasks[t.index()].dependents);
        let bug = self.bug;
        for &d in &dependents {
            let dt = &mut self.tasks[d.index()];
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
        self.tasks[t.index()].dependents = dependents;
    }

    /// `Submit`: add a workflow's tasks (local references made global)
    /// and announce the ones with no dependencies.
    pub(super) fn apply_submit(
        &mut self,
        workflow: WorkflowId,
        arrived_at: SimTime,
        at: SimTime,
        specs: &[TaskSpec],
    ) -> CollabOutput {
        if workflow.index() != self.workflows.len() {
            return self.reject(TaskId(workflow.0), "submit", RejectReason::Duplicate);
        }
        let base = TaskId(self.tasks.len() as u32);
        let n = specs.len() as u32;
        // Validate local references before changing anything.
        let bad = specs.iter().enumerate().any(|(i, s)| {
            s.deps.iter().any(|&d| d.index() >= i)
                || s.judge.is_some_and(|j| j.0 >= n)
                || s.branch.is_some_and(|(_, a, b)| a.0 >= n || b.0 >= n)
        });
        if bad {
            return self.reject(TaskId(workflow.0), "submit", RejectReason::Invalid);
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
                *d = d.after(base);
            }
            spec.judge = spec.judge.map(|j| j.after(base));
            spec.branch = spec
                .branch
                .map(|(t, a, b)| (t, a.after(base), b.after(base)));
            self.push_task(workflow, spec);
        }
        self.open_tasks += u64::from(n);
        self.emit(Change::Submitted {
            workflow,
            first: base,
            count: n,
        });
        for t in (base.0..base.0 + n).map(TaskId) {
            if self.tasks[t.index()].unmet == 0 {
                self.deps_met(t, at);
            }
        }
        if n == 0 {
            self.workflows[workflow.index()].done_at = Some(at);
            self.emit(Change::WorkflowDone { workflow, at });
        }
        CollabOutput::Applied
    }

    pub(super) fn push_task(&mut self, workflow: WorkflowId, spec: TaskSpec) {
        let id = TaskId(self.tasks.len() as u32);
        for &d in &spec.deps {
            self.tasks[d.index()].dependents.push(id);
        }
        if let Some(j) = spec.judge {
            if (j.index()) < self.tasks.len() {
                self.tasks[j.index()].entries.push(id);
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

    /// A conditional edge: skip the route not taken (before dependents are
    /// released, so a join below the branch sees it final).
    pub(super) fn route(
        &mut self,
        branch: Option<(u16, TaskId, TaskId)>,
        outcome: &Outcome,
        at: SimTime,
    ) {
        if let Some((threshold, above, below)) = branch {
            let good = outcome.correct && outcome.quality() * 1000.0 >= f64::from(threshold);
            let not_taken = if good { below } else { above };
            if self.tasks[not_taken.index()].status == TaskStatus::Pending {
                self.close(not_taken, TaskStatus::Skipped, at);
            }
        }
    }
}
