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
//! command must keep, asserted after each).

pub mod command;
pub mod export;
pub mod invariants;
pub mod journal;
pub mod task;

mod codec;
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
use crate::ids::NodeId;
use crate::raft::StateMachine;
use crate::time::SimTime;
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

    /// Why a task is not final, in words (for the end-of-run report). A
    /// task behind a dead letter names it, however far upstream; a race
    /// says what its competitors are doing.
    pub fn pending_reason(&self, id: TaskId) -> String {
        let Some(t) = self.task(id) else {
            return "unknown task".into();
        };
        match t.status {
            TaskStatus::Assigned => format!(
                "in flight: attempt {} on agent {}",
                t.attempts,
                t.agent.map_or(-1, |a| i64::from(a.0))
            ),
            TaskStatus::DeadLetter => "dead-lettered".into(),
            TaskStatus::Pending if t.unmet > 0 => match self.dead_upstream(id) {
                Some(d) => format!("blocked by dead-lettered task {d}"),
                None => {
                    let open: Vec<String> = t
                        .spec
                        .deps
                        .iter()
                        .filter(|&&d| !self.tasks[d.index()].status.is_final())
                        .map(|d| d.to_string())
                        .collect();
                    format!(
                        "waiting for {} dependenc{} (task(s) {})",
                        t.unmet,
                        if t.unmet == 1 { "y" } else { "ies" },
                        open.join(", ")
                    )
                }
            },
            TaskStatus::Pending if t.spec.kind == TaskKind::Judge => {
                let count = |s: TaskStatus| {
                    t.entries
                        .iter()
                        .filter(|&&e| self.tasks[e.index()].status == s)
                        .count()
                };
                let (run, wait, dead, done) = (
                    count(TaskStatus::Assigned),
                    count(TaskStatus::Pending),
                    count(TaskStatus::DeadLetter),
                    count(TaskStatus::Done),
                );
                format!(
                    "race undecided: {run} competitor(s) running, {wait} waiting, {dead} dead-lettered, {done} done"
                )
            }
            TaskStatus::Pending if t.awaits_approval() => "awaiting approval".into(),
            TaskStatus::Pending => "ready, waiting for a free agent".into(),
            s => s.name().into(),
        }
    }

    /// A dead-lettered task `id` waits for, directly or through pending
    /// dependencies (the lowest id found first; dependencies have lower
    /// ids, so the walk ends).
    fn dead_upstream(&self, id: TaskId) -> Option<TaskId> {
        let mut stack = vec![id];
        let mut seen = std::collections::BTreeSet::new();
        while let Some(x) = stack.pop() {
            for &d in &self.tasks[x.index()].spec.deps {
                let dt = &self.tasks[d.index()];
                if dt.status == TaskStatus::DeadLetter {
                    return Some(d);
                }
                if !dt.status.is_final() && seen.insert(d) {
                    stack.push(d);
                }
            }
        }
        None
    }

    /// Tasks that could still make progress: pending or assigned and not
    /// blocked behind a dead letter, plus dead letters that may be
    /// re-driven (`redrives` allowed). A task dead-lettered because no
    /// live agent has its skill waits for an agent to come back, not for
    /// the coordinator: it counts as stuck, like one out of re-drives.
    pub fn live_tasks(&self, redrives: u32) -> usize {
        let stuck = self.stuck_dead_letters(redrives);
        let mut blocked = vec![false; self.tasks.len()];
        let mut live = 0;
        for (i, t) in self.tasks.iter().enumerate() {
            // Dependencies have lower ids, so one pass in id order works.
            let dep_blocked = t
                .spec
                .deps
                .iter()
                .any(|&d| blocked[d.index()] || stuck[d.index()]);
            match t.status {
                TaskStatus::DeadLetter if !stuck[i] => live += 1,
                TaskStatus::Pending | TaskStatus::Assigned if !dep_blocked => live += 1,
                TaskStatus::Pending if dep_blocked => blocked[i] = true,
                _ => {}
            }
        }
        live
    }

    /// Skills of the tasks dead-lettered because no live agent had their
    /// skill that a re-drive could still bring back (budget left): they
    /// wait for an agent with the skill to be heard from again. Sorted,
    /// without repeats.
    pub fn skills_awaiting_agents(&self, redrives: u32) -> Vec<u16> {
        let mut last: Vec<Option<FailReason>> = vec![None; self.tasks.len()];
        for d in &self.dead_letters {
            if let Some(x) = last.get_mut(d.task.index()) {
                *x = Some(d.reason);
            }
        }
        let mut skills: Vec<u16> = self
            .tasks
            .iter()
            .zip(last)
            .filter(|(t, r)| {
                t.status == TaskStatus::DeadLetter
                    && t.redrives < redrives
                    && *r == Some(FailReason::NoAgent)
            })
            .map(|(t, _)| t.spec.skill)
            .collect();
        skills.sort_unstable();
        skills.dedup();
        skills
    }

    /// Per task: dead-lettered for good (no re-drive left, or its last
    /// dead letter says no live agent has its skill).
    pub fn stuck_dead_letters(&self, redrives: u32) -> Vec<bool> {
        let mut last: Vec<Option<FailReason>> = vec![None; self.tasks.len()];
        for d in &self.dead_letters {
            if let Some(x) = last.get_mut(d.task.index()) {
                *x = Some(d.reason);
            }
        }
        self.tasks
            .iter()
            .zip(last)
            .map(|(t, r)| {
                t.status == TaskStatus::DeadLetter
                    && (t.redrives >= redrives || r == Some(FailReason::NoAgent))
            })
            .collect()
    }

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

    /// A pending task whose dependencies are all final: skip it if none
    /// was done (every route into it was not taken), else announce it.
    fn deps_met(&mut self, t: TaskId, at: SimTime) {
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
    fn close(&mut self, t: TaskId, status: TaskStatus, at: SimTime) {
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
    fn finish(&mut self, t: TaskId, done: bool, at: SimTime) {
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

    fn apply_submit(
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

    fn push_task(&mut self, workflow: WorkflowId, spec: TaskSpec) {
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

    fn apply_assign(
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

    fn apply_result(
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

    /// A conditional edge: skip the route not taken (before dependents are
    /// released, so a join below the branch sees it final).
    fn route(&mut self, branch: Option<(u16, TaskId, TaskId)>, outcome: &Outcome, at: SimTime) {
        if let Some((threshold, above, below)) = branch {
            let good = outcome.correct && outcome.quality() * 1000.0 >= f64::from(threshold);
            let not_taken = if good { below } else { above };
            if self.tasks[not_taken.index()].status == TaskStatus::Pending {
                self.close(not_taken, TaskStatus::Skipped, at);
            }
        }
    }

    fn apply_fail(
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

    fn apply_redrive(&mut self, task: TaskId, version: u64) -> CollabOutput {
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

    /// The task and, for a competitor, its siblings (approval is per stage).
    fn gate_group(&self, task: TaskId) -> Vec<TaskId> {
        match self.tasks[task.index()].spec.judge {
            Some(j) => self.tasks[j.index()].entries.clone(),
            None => vec![task],
        }
    }

    fn apply_approval(&mut self, task: TaskId, due: Option<SimTime>) -> CollabOutput {
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

    fn apply_arbitrate(
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
            CollabCommand::ApproveStage { stage } => {
                if let Err(i) = self.approved_stages.binary_search(stage) {
                    self.approved_stages.insert(i, *stage);
                }
                CollabOutput::Applied
            }
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
