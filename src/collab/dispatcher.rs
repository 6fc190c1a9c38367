//! The dispatcher: the volatile half of the coordinator, alive only while
//! its server leads (and has committed an entry of its term). It reads the
//! committed [`WorkflowState`] (through its change journal), decides, and
//! proposes [`CollabCommand`]s; it never changes the state itself. It is
//! rebuilt from committed state on every activation (checkpoint recovery):
//! in-flight attempts are re-sent to their agents (who answer from their
//! result cache if they already finished), ready tasks are queued again,
//! approvals and races are re-evaluated from committed timestamps.
//!
//! Everything here is bounded: the ready scan stops after a fixed number
//! of misses, a batch has at most `batch` rows, each tick submits at most
//! `MAX_SUBMITS_PER_TICK` arrivals.

use super::breaker::Breaker;
use super::bug::CoordBug;
use super::config::{CollabConfig, Priority};
use super::coordinator::{
    Change, CollabCommand, FailReason, RejectReason, TaskKind, TaskStatus, WorkflowState,
};
use super::messages::{backoff, message_id, Assignment, Envelope, Payload};
use super::modes::{self, competitive, division};
use crate::ids::NodeId;
use crate::rng::SimRng;
use crate::time::{SimDuration, SimTime};
use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet};
use std::rc::Rc;

const MAX_SUBMITS_PER_TICK: usize = 64;
const MAX_MISSES_PER_PASS: usize = 64;
/// A proposal with no visible effect after this long is forgotten (its
/// task is re-evaluated).
const PROPOSAL_EXPIRY: SimDuration = SimDuration::from_millis(2000);

/// Dispatcher counters (summed over a server's leaderships).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DispatchStats {
    /// Times a dispatcher was built from committed state.
    pub activations: u64,
    /// Commands proposed.
    pub proposals: u64,
    /// Assignment messages sent (first sends).
    pub assignments_sent: u64,
    /// Assignment resends (no ack yet).
    pub assignment_resends: u64,
    /// In-flight attempts re-sent after a failover.
    pub resent_after_failover: u64,
    /// Assignments never acknowledged (dead-lettered).
    pub unacked: u64,
    /// Duplicate messages discarded.
    pub duplicates_discarded: u64,
    /// Results received (first copies).
    pub results_received: u64,
    /// Breaker trips.
    pub breaker_trips: u64,
    /// Agents declared lost (no heartbeat).
    pub agents_lost: u64,
    /// In-flight attempts taken from a lost or tripped agent.
    pub reassignments: u64,
    /// Batches assigned (division).
    pub batches: u64,
    /// Total cost of batch assignments (division), milli-units.
    pub batch_cost_milli: u64,
    /// Tasks placed by batches.
    pub batch_tasks: u64,
}

impl DispatchStats {
    /// Field-wise sum.
    pub fn add(&mut self, o: &DispatchStats) {
        self.activations += o.activations;
        self.proposals += o.proposals;
        self.assignments_sent += o.assignments_sent;
        self.assignment_resends += o.assignment_resends;
        self.resent_after_failover += o.resent_after_failover;
        self.unacked += o.unacked;
        self.duplicates_discarded += o.duplicates_discarded;
        self.results_received += o.results_received;
        self.breaker_trips += o.breaker_trips;
        self.agents_lost += o.agents_lost;
        self.reassignments += o.reassignments;
        self.batches += o.batches;
        self.batch_cost_milli += o.batch_cost_milli;
        self.batch_tasks += o.batch_tasks;
    }
}

/// Counters over a server process's life: those of its retired
/// dispatchers plus the running one's.
pub fn life_stats(retired: &DispatchStats, running: Option<&Dispatcher>) -> DispatchStats {
    let mut s = *retired;
    if let Some(d) = running {
        s.add(&d.stats());
    }
    s
}

#[derive(Clone, Debug)]
struct InFlight {
    agent: NodeId,
    attempt: u32,
    version: u64,
    deadline: SimTime,
    msg_id: u64,
    acked: bool,
    tries: u32,
    next_send: SimTime,
    /// A failure was proposed; wait for it to commit.
    given_up: bool,
}

#[derive(Clone, Debug)]
struct AgentView {
    load: u32,
    last_heard: SimTime,
    lost: bool,
    breaker: Breaker,
}

/// The leader's scheduler.
#[derive(Debug)]
pub struct Dispatcher {
    cfg: Rc<CollabConfig>,
    id: NodeId,
    epoch: u64,
    cursor: u64,
    ready: BTreeSet<(Reverse<Priority>, u32)>,
    proposed: BTreeMap<u32, (SimTime, Option<NodeId>)>,
    inflight: BTreeMap<u32, InFlight>,
    gated: BTreeMap<u32, SimTime>,
    judges: BTreeSet<u32>,
    dead: BTreeSet<u32>,
    agents: Vec<AgentView>,
    by_skill: Vec<Vec<u32>>,
    result_acks: BTreeMap<u32, Vec<(NodeId, u64)>>,
    dedupe: super::messages::DedupeWindow,
    next_workflow: usize,
    counter: u64,
    dirty: bool,
    proposals: Vec<CollabCommand>,
    outbox: Vec<(NodeId, Envelope)>,
    stats: DispatchStats,
}

impl Dispatcher {
    /// Build from committed state (activation after winning an election).
    pub fn new(
        cfg: Rc<CollabConfig>,
        id: NodeId,
        epoch: u64,
        sm: &WorkflowState,
        now: SimTime,
    ) -> Self {
        let mut by_skill = vec![Vec::new(); cfg.skills.len()];
        for (i, p) in cfg.agents.iter().enumerate() {
            for &s in &p.skills {
                by_skill[s as usize].push(i as u32);
            }
        }
        let agents = cfg
            .agents
            .iter()
            .map(|_| AgentView {
                load: 0,
                last_heard: now,
                lost: false,
                breaker: Breaker::new(cfg.breaker_failures, cfg.breaker_open),
            })
            .collect();
        let mut d = Dispatcher {
            id,
            epoch,
            cursor: 0,
            ready: BTreeSet::new(),
            proposed: BTreeMap::new(),
            inflight: BTreeMap::new(),
            gated: BTreeMap::new(),
            judges: BTreeSet::new(),
            dead: BTreeSet::new(),
            agents,
            by_skill,
            result_acks: BTreeMap::new(),
            dedupe: super::messages::DedupeWindow::new(4096),
            next_workflow: 0,
            counter: 0,
            dirty: true,
            proposals: Vec::new(),
            outbox: Vec::new(),
            stats: DispatchStats::default(),
            cfg,
        };
        d.rebuild(sm, now);
        // Tell every agent who coordinates now.
        for i in 0..d.cfg.agents.len() as u32 {
            let to = NodeId(d.cfg.servers + i);
            let env = d.envelope(
                now,
                to,
                Payload::StateSync { leader: id },
                0,
                Priority::Normal,
            );
            d.outbox.push((to, env));
        }
        d
    }

    /// Counters.
    pub fn stats(&self) -> DispatchStats {
        self.stats
    }
    /// Commands to propose (drained).
    pub fn take_proposals(&mut self) -> Vec<CollabCommand> {
        self.stats.proposals += self.proposals.len() as u64;
        std::mem::take(&mut self.proposals)
    }
    /// Messages to send (drained).
    pub fn take_outbox(&mut self) -> Vec<(NodeId, Envelope)> {
        std::mem::take(&mut self.outbox)
    }

    fn envelope(
        &mut self,
        now: SimTime,
        to: NodeId,
        payload: Payload,
        corr: u64,
        prio: Priority,
    ) -> Envelope {
        self.counter += 1;
        let id = message_id(self.id, self.epoch, self.counter);
        Envelope::to_one(id, self.id, to, payload, now, corr, prio)
    }

    fn agent_index(&self, a: NodeId) -> Option<usize> {
        a.0.checked_sub(self.cfg.servers)
            .map(|i| i as usize)
            .filter(|&i| i < self.agents.len())
    }

    /// Forget all volatile views and rebuild them from the state.
    fn rebuild(&mut self, sm: &WorkflowState, now: SimTime) {
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
            let id = i as u32;
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

    /// Start tracking a committed attempt and send its assignment.
    fn track(
        &mut self,
        sm: &WorkflowState,
        task: u32,
        agent: NodeId,
        attempt: u32,
        version: u64,
        now: SimTime,
    ) {
        let t = sm.task(task).expect("task");
        let size = f64::from(t.spec.size_milli) / 1000.0;
        let mean = self
            .cfg
            .agent(agent)
            .map_or(1000.0, |p| p.latency.mean().min(600_000.0));
        let slots = f64::from(self.cfg.agent_slots.max(1));
        let timeout = SimDuration::from_millis_f64(mean * size * 3.0 * slots + 2000.0);
        if let Some(i) = self.agent_index(agent) {
            self.agents[i].load += 1;
        }
        self.inflight.insert(
            task,
            InFlight {
                agent,
                attempt,
                version,
                deadline: now + timeout,
                msg_id: 0,
                acked: false,
                tries: 0,
                next_send: now,
                given_up: false,
            },
        );
        self.send_assignment(sm, task, now, None);
    }

    fn send_assignment(
        &mut self,
        sm: &WorkflowState,
        task: u32,
        now: SimTime,
        rng: Option<&mut SimRng>,
    ) {
        let Some(f) = self.inflight.get(&task).cloned() else {
            return;
        };
        let t = sm.task(task).expect("task");
        let inputs: Vec<f64> = t
            .spec
            .deps
            .iter()
            .filter_map(|&d| sm.task(d).and_then(|x| x.result))
            .map(|o| {
                if o.correct {
                    o.quality()
                } else {
                    0.5 * o.quality()
                }
            })
            .collect();
        let input_quality = if inputs.is_empty() {
            1.0
        } else {
            inputs.iter().sum::<f64>() / inputs.len() as f64
        };
        let a = Assignment {
            task,
            attempt: f.attempt,
            version: f.version,
            skill: t.spec.skill,
            size: f64::from(t.spec.size_milli) / 1000.0,
            input_quality,
        };
        let msg_id = if f.tries == 0 {
            let env = self.envelope(
                now,
                f.agent,
                Payload::TaskAssignment(a),
                u64::from(task),
                t.spec.priority,
            );
            let id = env.message_id;
            self.outbox.push((f.agent, env));
            self.stats.assignments_sent += 1;
            id
        } else {
            // A resend keeps the message id so the agent can drop it.
            let env = Envelope {
                message_id: f.msg_id,
                sender: self.id,
                receivers: vec![f.agent],
                payload: Payload::TaskAssignment(a),
                timestamp: now,
                correlation_id: u64::from(task),
                priority: t.spec.priority,
            };
            self.outbox.push((f.agent, env));
            self.stats.assignment_resends += 1;
            f.msg_id
        };
        let tries = f.tries + 1;
        let wait = match rng {
            Some(r) => backoff(tries, self.cfg.backoff_min, self.cfg.backoff_max, r),
            None => {
                let exp = (tries - 1).min(20);
                SimDuration::from_micros(
                    (self.cfg.backoff_min.as_micros() << exp).min(self.cfg.backoff_max.as_micros()),
                )
            }
        };
        let f = self.inflight.get_mut(&task).expect("tracked");
        f.msg_id = msg_id;
        f.tries = tries;
        f.next_send = now + wait;
    }

    /// Stop tracking `task`'s attempt; `ok`: Some(success) feeds the
    /// agent's breaker.
    fn untrack(&mut self, task: u32, ok: Option<bool>, now: SimTime) {
        let Some(f) = self.inflight.remove(&task) else {
            return;
        };
        let Some(i) = self.agent_index(f.agent) else {
            return;
        };
        let a = &mut self.agents[i];
        a.load = a.load.saturating_sub(1);
        self.dirty = true;
        match ok {
            Some(true) => a.breaker.on_success(),
            Some(false) if a.breaker.on_failure(now) => {
                self.stats.breaker_trips += 1;
                self.take_work_from(f.agent, now);
            }
            _ => {}
        }
    }

    /// The team is re-formed without `agent`: its in-flight attempts go
    /// back to pending (and to other agents).
    fn take_work_from(&mut self, agent: NodeId, now: SimTime) {
        let tasks: Vec<(u32, u64)> = self
            .inflight
            .iter()
            .filter(|(_, f)| f.agent == agent && !f.given_up)
            .map(|(t, f)| (*t, f.version))
            .collect();
        for (task, version) in tasks {
            self.inflight.get_mut(&task).expect("task").given_up = true;
            self.stats.reassignments += 1;
            self.proposals.push(CollabCommand::Fail {
                task,
                version,
                reason: FailReason::AgentLost,
                at: now,
            });
        }
    }

    fn ack_results(&mut self, task: u32, now: SimTime) {
        if let Some(list) = self.result_acks.remove(&task) {
            for (agent, of) in list {
                let env = self.envelope(
                    now,
                    agent,
                    Payload::Ack { of },
                    u64::from(task),
                    Priority::Normal,
                );
                self.outbox.push((agent, env));
            }
        }
    }

    fn release_proposal(&mut self, task: u32) {
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

    fn on_change(&mut self, sm: &WorkflowState, c: Change, now: SimTime) {
        match c {
            Change::Ready { task } => {
                let t = sm.task(task).expect("task");
                if t.spec.kind != TaskKind::Judge {
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
            Change::Approval { .. } | Change::Submitted { .. } | Change::WorkflowDone { .. } => {}
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

    /// An envelope from an agent.
    pub fn on_envelope(&mut self, sm: &WorkflowState, now: SimTime, from: NodeId, env: Envelope) {
        let Some(i) = self.agent_index(from) else {
            return;
        };
        let a = &mut self.agents[i];
        a.last_heard = now;
        if a.lost {
            a.lost = false;
            self.dirty = true;
        }
        match env.payload {
            Payload::Ack { of } => {
                if let Some(f) = self.inflight.get_mut(&(env.correlation_id as u32)) {
                    if f.msg_id == of {
                        f.acked = true;
                    }
                }
            }
            Payload::Refused { of, task } => {
                let Some(f) = self.inflight.get_mut(&task) else {
                    return;
                };
                if f.msg_id == of && !f.given_up {
                    f.given_up = true;
                    let version = f.version;
                    self.proposals.push(CollabCommand::Fail {
                        task,
                        version,
                        reason: FailReason::Refused,
                        at: now,
                    });
                }
            }
            Payload::TaskResult {
                task,
                attempt,
                version,
                failed,
                outcome,
            } => {
                if !self.dedupe.first_time(env.message_id) {
                    self.stats.duplicates_discarded += 1;
                    // Re-ack once committed; the result is already proposed.
                    if sm.task(task).is_some_and(|t| t.status.is_final()) {
                        self.result_acks
                            .entry(task)
                            .or_default()
                            .push((from, env.message_id));
                        self.ack_results(task, now);
                    }
                    return;
                }
                self.stats.results_received += 1;
                self.result_acks
                    .entry(task)
                    .or_default()
                    .push((from, env.message_id));
                let Some(t) = sm.task(task) else {
                    self.ack_results(task, now);
                    return;
                };
                if t.status == TaskStatus::Done && t.result.is_some_and(|r| r.agent == from) {
                    // Already committed (a re-send after failover): ack.
                    self.ack_results(task, now);
                    return;
                }
                // Everything else goes through the log, where a stale or
                // late result is rejected and counted.
                if failed {
                    if let Some(f) = self.inflight.get_mut(&task) {
                        f.given_up = true;
                    }
                    self.proposals.push(CollabCommand::Fail {
                        task,
                        version,
                        reason: FailReason::Transient,
                        at: now,
                    });
                } else {
                    self.proposals.push(CollabCommand::Result {
                        task,
                        version,
                        attempt,
                        outcome,
                        at: now,
                    });
                }
            }
            _ => {}
        }
    }

    /// Periodic work: arrivals, liveness, resends, timeouts, approvals,
    /// races, re-drives, batches.
    pub fn on_tick(&mut self, sm: &WorkflowState, now: SimTime, rng: &mut SimRng) {
        self.submit_arrivals(now);
        self.check_agents(now);
        self.check_inflight(sm, now, rng);
        self.check_approvals(sm, now, rng);
        let judges: Vec<u32> = self.judges.iter().copied().collect();
        for j in judges {
            self.evaluate_judge(sm, j, now);
        }
        self.redrive(sm, now);
        self.expire_proposals(sm, now);
        self.dispatch_batch(sm, now);
        self.dirty = true;
    }

    fn submit_arrivals(&mut self, now: SimTime) {
        let mut n = 0;
        while self.next_workflow < self.cfg.arrivals.len()
            && self.cfg.arrivals[self.next_workflow].at <= now
            && n < MAX_SUBMITS_PER_TICK
        {
            let wf = self.next_workflow;
            self.proposals.push(CollabCommand::Submit {
                workflow: wf as u32,
                arrived_at: self.cfg.arrivals[wf].at,
                at: now,
                tasks: modes::expand(&self.cfg, wf),
            });
            self.next_workflow += 1;
            n += 1;
        }
    }

    fn check_agents(&mut self, now: SimTime) {
        for i in 0..self.agents.len() {
            let a = &mut self.agents[i];
            if !a.lost && now.saturating_since(a.last_heard) > self.cfg.agent_timeout {
                a.lost = true;
                self.stats.agents_lost += 1;
                let id = NodeId(self.cfg.servers + i as u32);
                self.take_work_from(id, now);
            }
        }
    }

    fn check_inflight(&mut self, sm: &WorkflowState, now: SimTime, rng: &mut SimRng) {
        let tasks: Vec<u32> = self.inflight.keys().copied().collect();
        for task in tasks {
            let f = self.inflight[&task].clone();
            if f.given_up {
                continue;
            }
            if !f.acked && now >= f.next_send {
                if f.tries < self.cfg.send_attempts {
                    self.send_assignment(sm, task, now, Some(rng));
                } else {
                    // At-least-once gave up: the task goes to the
                    // dead-letter queue (committed, reported, re-drivable).
                    self.inflight.get_mut(&task).expect("task").given_up = true;
                    self.proposals.push(CollabCommand::DeadLetter {
                        task,
                        version: f.version,
                        reason: FailReason::Unacked,
                        at: now,
                    });
                }
                continue;
            }
            if now >= f.deadline {
                self.inflight.get_mut(&task).expect("task").given_up = true;
                self.proposals.push(CollabCommand::Fail {
                    task,
                    version: f.version,
                    reason: FailReason::Timeout,
                    at: now,
                });
            }
        }
    }

    fn check_approvals(&mut self, sm: &WorkflowState, now: SimTime, rng: &mut SimRng) {
        let gated: Vec<(u32, SimTime)> = self.gated.iter().map(|(t, s)| (*t, *s)).collect();
        for (task, last) in gated {
            let Some(t) = sm.task(task) else { continue };
            if !t.awaits_approval() {
                self.gated.remove(&task);
                continue;
            }
            if last != SimTime::ZERO && now.saturating_since(last) < PROPOSAL_EXPIRY {
                continue; // a proposal is on its way
            }
            let stage = t.spec.stage as usize;
            let scripted = self
                .cfg
                .approvals
                .iter()
                .any(|&(at, s)| s == stage && at <= now);
            let cmd = if scripted || t.approval_due.is_some_and(|d| d <= now) {
                Some(CollabCommand::Approve { task, at: now })
            } else if t.approval_due.is_none() {
                self.cfg
                    .human_delay
                    .as_ref()
                    .map(|d| CollabCommand::ScheduleApproval {
                        task,
                        due: now + d.sample_duration(rng),
                    })
            } else {
                None
            };
            if let Some(c) = cmd {
                self.proposals.push(c);
                self.gated.insert(task, now);
            }
        }
    }

    fn evaluate_judge(&mut self, sm: &WorkflowState, judge: u32, now: SimTime) {
        let Some(j) = sm.task(judge) else { return };
        if j.status != TaskStatus::Pending || j.unmet > 0 {
            if j.status != TaskStatus::Pending {
                self.judges.remove(&judge);
            }
            return;
        }
        if self.proposed.contains_key(&judge) {
            return;
        }
        let mut done = Vec::new();
        let mut open = 0;
        for &e in &j.entries {
            let t = &sm.tasks()[e as usize];
            match t.status {
                TaskStatus::Done => done.push((e, t.result.expect("done has a result"))),
                TaskStatus::Pending | TaskStatus::Assigned => open += 1,
                TaskStatus::DeadLetter if t.redrives < self.cfg.redrives => open += 1,
                _ => {}
            }
        }
        let deadline = j
            .started_at
            .is_some_and(|s| now >= s + self.cfg.arbiter.deadline);
        if !done.is_empty() && (open == 0 || deadline) {
            let winner = match self.cfg.bug {
                // The bug: the first answer in wins, whatever its utility.
                Some(CoordBug::ArbiterFirst) => done
                    .iter()
                    .min_by_key(|(e, o)| (o.started_at.0 + o.duration_us, *e))
                    .map(|c| c.0),
                _ => competitive::pick(&self.cfg.arbiter, &done),
            }
            .expect("a candidate");
            self.proposals.push(CollabCommand::Arbitrate {
                judge,
                version: j.version,
                winner,
                considered: done.iter().map(|c| c.0).collect(),
                at: now,
            });
            self.proposed.insert(judge, (now, None));
        } else if done.is_empty() && open == 0 {
            self.proposals.push(CollabCommand::DeadLetter {
                task: judge,
                version: j.version,
                reason: FailReason::NoEntries,
                at: now,
            });
            self.proposed.insert(judge, (now, None));
        }
    }

    fn redrive(&mut self, sm: &WorkflowState, now: SimTime) {
        let dead: Vec<u32> = self.dead.iter().copied().collect();
        for task in dead {
            let Some(t) = sm.task(task) else { continue };
            if t.status != TaskStatus::DeadLetter || t.redrives >= self.cfg.redrives {
                self.dead.remove(&task);
                continue;
            }
            // Only once the team has someone able to take it.
            let able = self.by_skill[t.spec.skill as usize]
                .iter()
                .any(|&i| self.eligible(i as usize, now));
            if able && !self.proposed.contains_key(&task) {
                self.proposals.push(CollabCommand::Redrive {
                    task,
                    version: t.version,
                    at: now,
                });
                self.proposed.insert(task, (now, None));
                self.dead.remove(&task);
            }
        }
    }

    fn expire_proposals(&mut self, sm: &WorkflowState, now: SimTime) {
        let old: Vec<u32> = self
            .proposed
            .iter()
            .filter(|(_, (at, _))| now.saturating_since(*at) > PROPOSAL_EXPIRY)
            .map(|(t, _)| *t)
            .collect();
        for task in old {
            self.release_proposal(task);
            self.proposed.remove(&task);
            if let Some(t) = sm.task(task) {
                if t.is_ready() {
                    self.ready.insert((Reverse(t.spec.priority), task));
                }
            }
        }
    }

    fn eligible(&self, i: usize, now: SimTime) -> bool {
        let a = &self.agents[i];
        !a.lost && a.breaker.allows(now) && a.load < self.cfg.agent_slots
    }

    /// Best agent for a task: accurate enough for its priority if possible,
    /// then least loaded, most accurate, fastest, lowest id.
    fn pick_agent(&self, sm: &WorkflowState, task: u32, now: SimTime) -> Option<usize> {
        let t = sm.task(task)?;
        let floor = t.spec.priority.accuracy_floor();
        let exclude: Vec<NodeId> = match t.spec.judge {
            Some(j) => sm.tasks()[j as usize]
                .entries
                .iter()
                .filter(|&&e| e != task)
                .filter_map(|&e| {
                    let s = &sm.tasks()[e as usize];
                    s.agent
                        .or(s.result.map(|r| r.agent))
                        .or(self.proposed.get(&e).and_then(|p| p.1))
                })
                .collect(),
            None => Vec::new(),
        };
        let mut best: Option<(bool, u32, Reverse<u64>, u64, usize)> = None;
        for &i in &self.by_skill[t.spec.skill as usize] {
            let i = i as usize;
            if !self.eligible(i, now) {
                continue;
            }
            let id = NodeId(self.cfg.servers + i as u32);
            if exclude.contains(&id) {
                continue;
            }
            let p = &self.cfg.agents[i];
            let key = (
                p.accuracy < floor,
                self.agents[i].load,
                Reverse((p.accuracy * 1e6) as u64),
                (p.latency.mean().min(600_000.0) * 1000.0) as u64,
                i,
            );
            if best.as_ref().is_none_or(|b| key < *b) {
                best = Some(key);
            }
        }
        best.map(|b| b.4)
    }

    fn propose_assign(&mut self, sm: &WorkflowState, task: u32, i: usize, now: SimTime) {
        let t = sm.task(task).expect("task");
        let agent = NodeId(self.cfg.servers + i as u32);
        self.proposals.push(CollabCommand::Assign {
            task,
            version: t.version,
            agent,
            at: now,
        });
        self.proposed.insert(task, (now, Some(agent)));
        self.agents[i].load += 1;
        self.agents[i].breaker.on_assign(now);
        self.ready.remove(&(Reverse(t.spec.priority), task));
    }

    /// Hand ready tasks (not batch ones) to agents.
    pub fn dispatch(&mut self, sm: &WorkflowState, now: SimTime) {
        if !self.dirty {
            return;
        }
        self.dirty = false;
        let mut misses = 0;
        let mut exhausted = vec![false; self.by_skill.len()];
        let candidates: Vec<(Reverse<Priority>, u32)> = self.ready.iter().copied().collect();
        for (p, task) in candidates {
            let Some(t) = sm.task(task) else { continue };
            if !t.is_ready() {
                self.ready.remove(&(p, task));
                continue;
            }
            if self.proposed.contains_key(&task) || t.spec.kind == TaskKind::Batch {
                continue;
            }
            let skill = t.spec.skill as usize;
            if exhausted[skill] {
                continue;
            }
            match self.pick_agent(sm, task, now) {
                Some(i) => self.propose_assign(sm, task, i, now),
                None => {
                    // Competitors exclude each other, so a miss for an
                    // entry says nothing about the next task of the skill.
                    if t.spec.kind != TaskKind::Entry {
                        exhausted[skill] = true;
                    }
                    misses += 1;
                    if misses >= MAX_MISSES_PER_PASS {
                        break;
                    }
                }
            }
        }
    }

    /// Division mode: assign up to `batch` ready batch tasks at once, by
    /// capability, with the configured algorithm.
    fn dispatch_batch(&mut self, sm: &WorkflowState, now: SimTime) {
        let rows: Vec<u32> = self
            .ready
            .iter()
            .map(|&(_, t)| t)
            .filter(|&t| {
                sm.task(t)
                    .is_some_and(|x| x.spec.kind == TaskKind::Batch && x.is_ready())
                    && !self.proposed.contains_key(&t)
            })
            .take(self.cfg.batch)
            .collect();
        if rows.is_empty() {
            return;
        }
        // Columns: eligible agents with a skill some row needs, at most a
        // few per row so the matrix stays small.
        let mut cols: Vec<usize> = Vec::new();
        let mut seen = BTreeSet::new();
        let per_skill_cap = 3 * rows.len();
        let mut skills: Vec<u16> = rows
            .iter()
            .map(|&t| sm.tasks()[t as usize].spec.skill)
            .collect();
        skills.sort_unstable();
        skills.dedup();
        for s in skills {
            let mut cand: Vec<usize> = self.by_skill[s as usize]
                .iter()
                .map(|&i| i as usize)
                .filter(|&i| self.eligible(i, now))
                .collect();
            cand.sort_by_key(|&i| {
                (
                    self.agents[i].load,
                    Reverse((self.cfg.agents[i].accuracy * 1e6) as u64),
                    i,
                )
            });
            for i in cand.into_iter().take(per_skill_cap) {
                if seen.insert(i) {
                    cols.push(i);
                }
            }
        }
        if cols.is_empty() {
            return;
        }
        let mut costs = Vec::with_capacity(rows.len() * cols.len());
        for &t in &rows {
            let spec = &sm.tasks()[t as usize].spec;
            let size = f64::from(spec.size_milli) / 1000.0;
            for &i in &cols {
                costs.push(division::cost(
                    &self.cfg.agents[i],
                    spec.skill,
                    size,
                    spec.priority,
                    self.agents[i].load,
                ));
            }
        }
        let result = division::assign(rows.len(), cols.len(), costs.clone(), self.cfg.assign);
        self.stats.batches += 1;
        for (r, c) in result.into_iter().enumerate() {
            if let Some(c) = c {
                let cost = costs[r * cols.len() + c];
                self.stats.batch_cost_milli += (cost * 1000.0).round() as u64;
                self.stats.batch_tasks += 1;
                self.propose_assign(sm, rows[r], cols[c], now);
            }
        }
    }
}
