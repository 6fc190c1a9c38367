//! True simulated times of task and workflow events, as observers see
//! them (the state machine's own stamps are a server's local clock).

use super::*;

/// When things happened in true simulated time, as observers see it: each
/// task's first final state and each workflow's submission and completion,
/// the first time any server applied it. The state machine's own
/// timestamps (`finished_at`, `done_at`) are the proposing server's local
/// clock, a protocol input that a fast or slow clock bends; every duration
/// in the report is measured from these instead.
#[derive(Clone, Debug, Default)]
pub struct TrueTimes {
    cursors: Vec<u64>,
    task_done: Vec<Option<SimTime>>,
    wf_submitted: Vec<Option<SimTime>>,
    wf_done: Vec<Option<SimTime>>,
    /// When each dead letter (task, its n-th dead letter) was first seen.
    dead: BTreeMap<(u32, u32), SimTime>,
    /// Per agent (by index): the job it was running when last looked at,
    /// as (task, start on the agent's clock, true start).
    running: Vec<Option<(u32, SimTime, SimTime)>>,
    /// Every execution that ended, by (agent address, task, start on the
    /// agent's clock): its true start and end.
    executions: BTreeMap<(u32, u32, SimTime), (SimTime, SimTime)>,
}

/// The dead-letter keys of `sm`'s list, in its order: (task, how many
/// dead letters of the task precede this one).
fn dead_keys(sm: &WorkflowState) -> impl Iterator<Item = (u32, u32)> + '_ {
    let mut seen: BTreeMap<u32, u32> = BTreeMap::new();
    sm.dead_letters().iter().map(move |d| {
        let n = seen.entry(d.task.0).or_default();
        *n += 1;
        (d.task.0, *n - 1)
    })
}

impl TrueTimes {
    /// Nothing seen yet, for `servers` coordinator servers.
    pub fn new(servers: u32) -> Self {
        TrueTimes {
            cursors: vec![0; servers as usize],
            ..TrueTimes::default()
        }
    }

    fn set(v: &mut Vec<Option<SimTime>>, i: usize, now: SimTime) {
        if v.len() <= i {
            v.resize(i + 1, None);
        }
        v[i].get_or_insert(now);
    }

    /// Server `n` (re)started or its state was replaced: take what its
    /// state says is done as done now (if not seen before).
    pub fn reseed(&mut self, n: usize, sm: &WorkflowState, now: SimTime) {
        self.cursors[n] = sm.journal_seq();
        for (i, t) in sm.tasks().iter().enumerate() {
            if t.status == TaskStatus::Done {
                Self::set(&mut self.task_done, i, now);
            }
        }
        for (i, w) in sm.workflows().iter().enumerate() {
            Self::set(&mut self.wf_submitted, i, now);
            if w.done_at.is_some() {
                Self::set(&mut self.wf_done, i, now);
            }
        }
        for k in dead_keys(sm) {
            self.dead.entry(k).or_insert(now);
        }
    }

    /// Read server `n`'s new changes at true time `now`.
    pub fn observe(&mut self, n: usize, sm: &WorkflowState, now: SimTime) {
        use crate::collab::coordinator::Change;
        if sm.journal_seq() == self.cursors[n] {
            return;
        }
        let Some(changes) = sm.changes_since(self.cursors[n]) else {
            self.reseed(n, sm, now);
            return;
        };
        for (_, c) in changes {
            match c {
                Change::Completed { task, .. } => Self::set(&mut self.task_done, task.index(), now),
                Change::Arbitrated { judge, .. } => {
                    Self::set(&mut self.task_done, judge.index(), now)
                }
                Change::Submitted { workflow, .. } => {
                    Self::set(&mut self.wf_submitted, workflow.index(), now)
                }
                Change::WorkflowDone { workflow, .. } => {
                    Self::set(&mut self.wf_done, workflow.index(), now)
                }
                Change::DeadLettered { task, .. } => {
                    // The task's entries not timed yet (the new one).
                    let n = sm.dead_letters().iter().filter(|d| d.task == *task).count();
                    for k in 0..n as u32 {
                        self.dead.entry((task.0, k)).or_insert(now);
                    }
                }
                _ => {}
            }
        }
        self.cursors[n] = sm.journal_seq();
    }

    /// Agent `index` (address `address`) after an event at it or a fault:
    /// `running` is the job it runs now, (task, start on its own clock).
    /// A job no longer running ended now (its result was produced, or a
    /// crash lost it); a job not seen before started now. An agent starts
    /// and finishes work only in its own handlers, so looking after each
    /// of its events sees every change at its true time.
    pub fn observe_agent(
        &mut self,
        index: usize,
        address: u32,
        running: Option<(TaskId, SimTime)>,
        now: SimTime,
    ) {
        if self.running.len() <= index {
            self.running.resize(index + 1, None);
        }
        let was = self.running[index];
        let is = running.map(|(t, local)| (t.0, local));
        if was.map(|(t, local, _)| (t, local)) == is {
            return;
        }
        if let Some((task, local, from)) = was {
            self.executions.insert((address, task, local), (from, now));
        }
        self.running[index] = is.map(|(t, local)| (t, local, now));
    }

    /// The true (start, end) of the execution of `task` that `agent`
    /// (address) started at `local` on its own clock, if it ended.
    pub fn execution(&self, agent: u32, task: u32, local: SimTime) -> Option<(SimTime, SimTime)> {
        self.executions.get(&(agent, task, local)).copied()
    }

    /// When each of `sm`'s dead letters, in list order, was first seen on
    /// any server (true time; an entry's own `at` is the proposer's
    /// clock).
    pub fn dead_letter_times(&self, sm: &WorkflowState) -> Vec<Option<SimTime>> {
        dead_keys(sm).map(|k| self.dead.get(&k).copied()).collect()
    }
    /// When task `i` was first done (true time).
    pub fn task_done(&self, i: usize) -> Option<SimTime> {
        self.task_done.get(i).copied().flatten()
    }
    /// When workflow `i` was first complete (true time).
    pub fn workflow_done(&self, i: usize) -> Option<SimTime> {
        self.wf_done.get(i).copied().flatten()
    }
    /// When workflow `i` was first submitted (true time).
    pub fn workflow_submitted(&self, i: usize) -> Option<SimTime> {
        self.wf_submitted.get(i).copied().flatten()
    }
    /// When workflow `i` started counting: its scheduled arrival (true
    /// time). The dispatcher submits it when its own clock reaches that
    /// time, a protocol decision: a slow clock's late submission counts
    /// as waiting; a fast clock may submit before the arrival, and work
    /// done before it is not counted (durations never go below zero).
    pub fn workflow_start(&self, _i: usize, arrived_at: SimTime) -> SimTime {
        arrived_at
    }
}
