//! Read-only questions about the workflow state that span tasks: why a
//! task is not final (for the report), which tasks can still progress and
//! which dead letters wait for an agent (for liveness and the dispatcher).

use super::{FailReason, TaskId, TaskKind, TaskStatus, WorkflowState};

impl WorkflowState {
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
}
