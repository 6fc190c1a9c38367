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
//!
//! Files: this one holds the scheduler's state and its periodic work
//! (arrivals, liveness, timeouts, approvals, races, re-drives, handing
//! ready tasks to agents); the per-mode rules it applies come from
//! [`modes`]. `views` follows the committed state (rebuild
//! on activation, then the change journal); `delivery` talks to agents
//! (at-least-once assignment sends with backoff, acks, results in);
//! `stats` counts.

mod delivery;
mod stats;
mod views;

pub use stats::{life_stats, DispatchStats};

use super::breaker::Breaker;
use super::bug::CoordBug;
use super::config::{CollabConfig, Priority};
use super::coordinator::{
    CollabCommand, FailReason, TaskId, TaskKind, TaskSpec, TaskStatus, WorkflowId, WorkflowState,
};
use super::messages::{Envelope, Payload};
use super::modes::competitive::{self, RaceStep};
use super::modes::{self, division, pipeline};
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

/// The scripted approvals a coordinator server has received from the
/// world (`CollabMsg::Approval`, delivered at their true time), kept by
/// the server across its leaderships. Volatile, so they are also made to
/// survive a restart: a Raft coordinator's dispatcher commits each one
/// (`CollabCommand::ApproveStage`, read back with
/// [`WorkflowState::stage_approved`]); AP servers gossip them.
#[derive(Clone, Debug, Default)]
pub struct StageApprovals {
    stages: Vec<bool>,
}

impl StageApprovals {
    /// Stage `stage` is approved from now on; tell the running
    /// dispatcher, if any.
    pub fn give(&mut self, stage: u16, d: Option<&mut Dispatcher>) {
        let i = usize::from(stage);
        if self.stages.len() <= i {
            self.stages.resize(i + 1, false);
        }
        self.stages[i] = true;
        if let Some(d) = d {
            d.approve_stage(stage);
        }
    }
    /// Every stage approved so far, ascending (for gossip).
    pub fn stages(&self) -> Vec<u16> {
        (0..self.stages.len())
            .filter(|&i| self.stages[i])
            .map(|i| i as u16)
            .collect()
    }
    /// Tell a new dispatcher every stage approved so far.
    pub fn hand_to(&self, d: &mut Dispatcher) {
        for (i, &a) in self.stages.iter().enumerate() {
            if a {
                d.approve_stage(i as u16);
            }
        }
    }
}

/// The leader's scheduler.
#[derive(Debug)]
pub struct Dispatcher {
    cfg: Rc<CollabConfig>,
    id: NodeId,
    epoch: u64,
    cursor: u64,
    ready: BTreeSet<(Reverse<Priority>, TaskId)>,
    proposed: BTreeMap<TaskId, (SimTime, Option<NodeId>)>,
    inflight: BTreeMap<TaskId, InFlight>,
    gated: BTreeMap<TaskId, SimTime>,
    judges: BTreeSet<TaskId>,
    dead: BTreeSet<TaskId>,
    agents: Vec<AgentView>,
    by_skill: Vec<Vec<u32>>,
    result_acks: BTreeMap<TaskId, Vec<(NodeId, u64)>>,
    dedupe: super::messages::DedupeWindow,
    next_workflow: usize,
    counter: u64,
    dirty: bool,
    proposals: Vec<CollabCommand>,
    outbox: Vec<(NodeId, Envelope)>,
    stats: DispatchStats,
    /// Stages approved by a scripted approval this server received.
    approved_stages: Vec<bool>,
    /// Raft only: when an `ApproveStage` was last proposed, per stage.
    stage_proposed: BTreeMap<u16, SimTime>,
    /// Workflows `0..arrived` have arrived (world events the server
    /// passes on; see [`Dispatcher::arrived`]).
    arrived: usize,
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
            approved_stages: Vec::new(),
            stage_proposed: BTreeMap::new(),
            arrived: 0,
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

    /// Stage `stage` was approved (a scripted approval reached this
    /// server): its gated tasks get an `Approve` proposal.
    pub fn approve_stage(&mut self, stage: u16) {
        let i = usize::from(stage);
        if self.approved_stages.len() <= i {
            self.approved_stages.resize(i + 1, false);
        }
        self.approved_stages[i] = true;
        self.dirty = true;
    }

    /// Workflows `0..upto` have arrived: a world event at the arrival's
    /// true time (`CollabMsg::Arrival`), never this server's clock read
    /// against the scripted time. Submitted on the next tick.
    pub fn arrived(&mut self, upto: u32) {
        self.arrived = self.arrived.max(upto as usize);
        self.dirty = true;
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

    /// Periodic work: arrivals, liveness, resends, timeouts, approvals,
    /// races, re-drives, batches.
    pub fn on_tick(&mut self, sm: &WorkflowState, now: SimTime, rng: &mut SimRng) {
        self.submit_arrivals(now);
        self.commit_stage_approvals(sm, now);
        self.check_agents(now);
        self.check_orphans(sm, now);
        self.check_inflight(sm, now, rng);
        self.check_approvals(sm, now, rng);
        let judges: Vec<TaskId> = self.judges.iter().copied().collect();
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
        while self.next_workflow < self.arrived.min(self.cfg.arrivals.len())
            && n < MAX_SUBMITS_PER_TICK
        {
            let wf = self.next_workflow;
            self.proposals.push(CollabCommand::Submit {
                workflow: WorkflowId(wf as u32),
                arrived_at: self.cfg.arrivals[wf].at,
                at: now,
                tasks: modes::expand(&self.cfg, wf),
            });
            self.next_workflow += 1;
            n += 1;
        }
    }

    /// Raft: make every approval this server received durable, one
    /// `ApproveStage` per stage not yet committed as approved (again after
    /// `PROPOSAL_EXPIRY` if it did not commit), so a new leader honours it
    /// after every server that received it restarted. AP copies gossip
    /// approvals instead (`ApMsg::Sync`).
    fn commit_stage_approvals(&mut self, sm: &WorkflowState, now: SimTime) {
        if self.cfg.ap.is_some() {
            return;
        }
        for i in 0..self.approved_stages.len() {
            let stage = i as u16;
            if !self.approved_stages[i] || sm.stage_approved(stage) {
                continue;
            }
            if self
                .stage_proposed
                .get(&stage)
                .is_some_and(|&at| now.saturating_since(at) < PROPOSAL_EXPIRY)
            {
                continue;
            }
            self.proposals.push(CollabCommand::ApproveStage { stage });
            self.stage_proposed.insert(stage, now);
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

    /// Ready tasks whose skill no live agent has (every holder declared
    /// lost) would wait forever: dead-letter them with that reason.
    /// [`Self::redrive`] brings them back once an agent with the skill is
    /// heard from again (within the re-drive budget).
    fn check_orphans(&mut self, sm: &WorkflowState, now: SimTime) {
        let live: Vec<bool> = self
            .by_skill
            .iter()
            .map(|holders| holders.iter().any(|&i| !self.agents[i as usize].lost))
            .collect();
        if live.iter().all(|&l| l) {
            return;
        }
        let orphans: Vec<TaskId> = self
            .ready
            .iter()
            .map(|&(_, t)| t)
            .filter(|t| !self.proposed.contains_key(t))
            .filter(|&t| {
                sm.task(t)
                    .is_some_and(|x| x.is_ready() && !live[x.spec.skill as usize])
            })
            .take(MAX_SUBMITS_PER_TICK)
            .collect();
        for task in orphans {
            let version = sm.task(task).expect("task").version;
            self.proposals.push(CollabCommand::DeadLetter {
                task,
                version,
                reason: FailReason::NoAgent,
                at: now,
            });
            self.proposed.insert(task, (now, None));
        }
    }

    fn check_inflight(&mut self, sm: &WorkflowState, now: SimTime, rng: &mut SimRng) {
        let tasks: Vec<TaskId> = self.inflight.keys().copied().collect();
        for task in tasks {
            let f = self.inflight[&task].clone();
            if f.given_up {
                continue;
            }
            if !f.acked && now >= f.next_send {
                if f.tries < self.cfg.send_attempts {
                    self.send_assignment(sm, task, now, Some(rng));
                } else {
                    // At-least-once gave up on this agent: the attempt
                    // fails (the task goes back to pending and to another
                    // agent; dead-lettered only once its attempts are
                    // spent), and the agent counts as lost until it is
                    // heard from again, so its other work moves too and
                    // nothing new is sent to it.
                    self.inflight.get_mut(&task).expect("task").given_up = true;
                    self.proposals.push(CollabCommand::Fail {
                        task,
                        version: f.version,
                        reason: FailReason::Unacked,
                        at: now,
                    });
                    if let Some(i) = self.agent_index(f.agent) {
                        if !self.agents[i].lost {
                            self.agents[i].lost = true;
                            self.stats.agents_lost += 1;
                            self.take_work_from(f.agent, now);
                        }
                    }
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
        let gated: Vec<(TaskId, SimTime)> = self.gated.iter().map(|(t, s)| (*t, *s)).collect();
        for (task, last) in gated {
            let Some(t) = sm.task(task) else { continue };
            if !t.awaits_approval() {
                self.gated.remove(&task);
                continue;
            }
            if last != SimTime::ZERO && now.saturating_since(last) < PROPOSAL_EXPIRY {
                continue; // a proposal is on its way
            }
            // A scripted approval is an event in the world, delivered to
            // this server at its true time; never compared with this
            // server's (possibly skewed) clock.
            let stage = t.spec.stage as usize;
            let scripted = match self.cfg.bug {
                // The bug: the scripted time read on this server's clock.
                Some(CoordBug::ApprovalLocalClock) => self
                    .cfg
                    .approvals
                    .iter()
                    .any(|&(at, s)| s == stage && at <= now),
                _ => {
                    self.approved_stages.get(stage).copied().unwrap_or(false)
                        || sm.stage_approved(stage as u16)
                }
            };
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

    /// Apply the race rule ([`competitive::race_step`]) to an undecided
    /// race, at most one proposal at a time.
    fn evaluate_judge(&mut self, sm: &WorkflowState, judge: TaskId, now: SimTime) {
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
        let cmd = match competitive::race_step(&self.cfg, sm, j, now) {
            RaceStep::Wait => return,
            RaceStep::Decide { winner, considered } => CollabCommand::Arbitrate {
                judge,
                version: j.version,
                winner,
                considered,
                at: now,
            },
            RaceStep::NoEntries => CollabCommand::DeadLetter {
                task: judge,
                version: j.version,
                reason: FailReason::NoEntries,
                at: now,
            },
        };
        self.proposals.push(cmd);
        self.proposed.insert(judge, (now, None));
    }

    fn redrive(&mut self, sm: &WorkflowState, now: SimTime) {
        let dead: Vec<TaskId> = self.dead.iter().copied().collect();
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
        let old: Vec<TaskId> = self
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

    /// Agent `i` has not been heard from for two heartbeat periods (it
    /// may have died; it is declared lost only after `agent_timeout`).
    fn quiet(&self, i: usize, now: SimTime) -> bool {
        let hb = self.cfg.heartbeat.as_micros().max(1);
        now.saturating_since(self.agents[i].last_heard).as_micros() > 2 * hb
    }

    fn eligible(&self, i: usize, now: SimTime) -> bool {
        let a = &self.agents[i];
        !a.lost && a.breaker.allows(now) && a.load < self.cfg.agent_slots
    }

    /// Best eligible agent with the task's skill by [`pipeline::rank`],
    /// never one already racing in the same competition.
    fn pick_agent(&self, sm: &WorkflowState, task: TaskId, now: SimTime) -> Option<usize> {
        let t = sm.task(task)?;
        let floor = t.spec.priority.accuracy_floor();
        let exclude = competitive::rivals(sm, task, t, |e| self.proposed.get(&e).and_then(|p| p.1));
        let mut best: Option<pipeline::Rank> = None;
        for &i in &self.by_skill[t.spec.skill as usize] {
            let i = i as usize;
            if !self.eligible(i, now) {
                continue;
            }
            if exclude.contains(&NodeId(self.cfg.servers + i as u32)) {
                continue;
            }
            let key = pipeline::rank(
                &self.cfg.agents[i],
                i,
                self.agents[i].load,
                floor,
                self.quiet(i, now),
            );
            if best.as_ref().is_none_or(|b| key < *b) {
                best = Some(key);
            }
        }
        best.map(|b| b.5)
    }

    fn propose_assign(&mut self, sm: &WorkflowState, task: TaskId, i: usize, now: SimTime) {
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
        let candidates: Vec<(Reverse<Priority>, TaskId)> = self.ready.iter().copied().collect();
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
        let rows: Vec<TaskId> = self
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
        let skills: Vec<u16> = rows
            .iter()
            .map(|&t| sm.tasks()[t.index()].spec.skill)
            .collect();
        let load = |i: usize| self.agents[i].load;
        let cols = division::columns(
            &self.cfg.agents,
            &self.by_skill,
            skills,
            rows.len(),
            |i| self.eligible(i, now),
            load,
        );
        if cols.is_empty() {
            return;
        }
        let specs: Vec<&TaskSpec> = rows.iter().map(|&t| &sm.tasks()[t.index()].spec).collect();
        let costs = division::cost_matrix(&self.cfg.agents, &specs, &cols, load);
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
