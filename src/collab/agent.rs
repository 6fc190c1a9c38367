//! An agent: a process with a capability profile that executes assigned
//! tasks one at a time from a priority inbox, draws each outcome from its
//! own random stream, sends results at-least-once to the coordinator, and
//! heartbeats.
//!
//! The agent learns the coordinator from assignments and `state_sync`
//! messages; when the coordinator stays silent for three heartbeat periods
//! (or a server answers `not_leader`), it tries the next server.

use super::config::{AgentProfile, CollabConfig, Priority};
use super::coordinator::{Outcome, TaskId};
use super::messages::{
    backoff, message_id, Assignment, CollabMsg, DedupeWindow, Envelope, Payload,
};
use crate::ids::{NodeId, TimerId};
use crate::process::Context;
use crate::time::{SimDuration, SimTime};
use std::collections::{BTreeMap, BinaryHeap, VecDeque};
use std::rc::Rc;

/// The world's durable record type (only servers write records).
pub type CollabRecord = crate::raft::Record<super::coordinator::CollabCommand>;
type Ctx<'a> = Context<'a, CollabMsg, CollabRecord>;

const TIMER_HEARTBEAT: TimerId = TimerId(1);
const TIMER_WORK: TimerId = TimerId(2);
const TIMER_RETRY: TimerId = TimerId(3);
/// Results kept to answer a re-sent assignment after a failover.
const RESULT_CACHE: usize = 64;

/// What an agent counts.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct AgentStats {
    /// Attempts executed (including failed ones).
    pub executed: u64,
    /// Transient failures.
    pub transient_failures: u64,
    /// Tokens spent (all attempts).
    pub tokens: u64,
    /// Time spent working, µs.
    pub busy_us: u64,
    /// Result resends.
    pub result_resends: u64,
    /// Results given up on (never acknowledged).
    pub results_abandoned: u64,
    /// Duplicate messages discarded.
    pub duplicates_discarded: u64,
    /// Assignments refused (inbox full).
    pub refused: u64,
    /// Critical or high tasks started ahead of older queued ones.
    pub overtakes: u64,
}

impl AgentStats {
    /// Add `o` (another agent, or an earlier life of this one).
    pub fn add(&mut self, o: &AgentStats) {
        self.executed += o.executed;
        self.transient_failures += o.transient_failures;
        self.tokens = self.tokens.saturating_add(o.tokens);
        self.busy_us += o.busy_us;
        self.result_resends += o.result_resends;
        self.results_abandoned += o.results_abandoned;
        self.duplicates_discarded += o.duplicates_discarded;
        self.refused += o.refused;
        self.overtakes += o.overtakes;
    }
}

#[derive(Clone, Debug, PartialEq)]
struct Job {
    a: Assignment,
    priority: Priority,
    from: NodeId,
    seq: u64,
}

impl Eq for Job {}
impl PartialOrd for Job {
    fn partial_cmp(&self, o: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(o))
    }
}
impl Ord for Job {
    /// Highest priority first, then oldest first (a max-heap).
    fn cmp(&self, o: &Self) -> std::cmp::Ordering {
        self.priority
            .cmp(&o.priority)
            .then_with(|| o.seq.cmp(&self.seq))
    }
}

#[derive(Clone, Debug)]
struct PendingResult {
    env: Envelope,
    to: NodeId,
    tries: u32,
    next_at: SimTime,
}

/// An agent process.
#[derive(Debug)]
pub struct Agent {
    id: NodeId,
    cfg: Rc<CollabConfig>,
    profile: AgentProfile,
    coordinator: NodeId,
    last_contact: SimTime,
    inbox: BinaryHeap<Job>,
    running: Option<(Job, SimTime, bool, Outcome)>,
    /// (task, attempt) of jobs taken, oldest first (bounded).
    taken: VecDeque<(TaskId, u32)>,
    /// Results of finished jobs, for re-sent assignments.
    results: VecDeque<((TaskId, u32), Payload)>,
    pending: BTreeMap<u64, PendingResult>,
    dedupe: DedupeWindow,
    counter: u64,
    seq: u64,
    dead: bool,
    stats: AgentStats,
    /// Tasks this agent produced a usable result for, in order (a task
    /// listed twice, or by two agents, was executed more than once).
    completed: Vec<TaskId>,
}

impl Agent {
    /// Agent `id` with its profile from `cfg`.
    pub fn new(id: NodeId, cfg: Rc<CollabConfig>) -> Self {
        let profile = cfg.agent(id).expect("agent id in range").clone();
        let coordinator = NodeId(id.0 % cfg.servers);
        Agent {
            id,
            profile,
            coordinator,
            last_contact: SimTime::ZERO,
            inbox: BinaryHeap::new(),
            running: None,
            taken: VecDeque::new(),
            results: VecDeque::new(),
            pending: BTreeMap::new(),
            dedupe: DedupeWindow::new(256),
            counter: 0,
            seq: 0,
            dead: false,
            stats: AgentStats::default(),
            completed: Vec::new(),
            cfg,
        }
    }

    /// Counters.
    pub fn stats(&self) -> AgentStats {
        self.stats
    }
    /// Tasks executed with a usable result, in order.
    pub fn completed_tasks(&self) -> &[TaskId] {
        &self.completed
    }
    /// Its profile.
    pub fn profile(&self) -> &AgentProfile {
        &self.profile
    }
    /// True once its hard failure happened.
    pub fn is_dead(&self) -> bool {
        self.dead
    }
    /// The job running now: its task and when it started on this agent's
    /// clock (the observer turns it into true time for the report).
    pub fn running_job(&self) -> Option<(TaskId, SimTime)> {
        self.running
            .as_ref()
            .map(|(job, _, _, o)| (job.a.task, o.started_at))
    }

    /// Jobs held (running + queued).
    pub fn load(&self) -> u32 {
        self.inbox.len() as u32 + u32::from(self.running.is_some())
    }

    fn check_death(&mut self, now: SimTime) -> bool {
        if !self.dead && self.profile.fail_at.is_some_and(|t| now >= t) {
            self.dead = true;
            self.inbox.clear();
            self.running = None;
            self.pending.clear();
        }
        self.dead
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
        let id = message_id(self.id, 0, self.counter);
        Envelope::to_one(id, self.id, to, payload, now, corr, prio)
    }

    /// Boot: stagger the first heartbeat over one period.
    pub fn on_start(&mut self, ctx: &mut Ctx<'_>) {
        let hb = self.cfg.heartbeat.as_micros().max(1);
        let first = SimDuration::from_micros(ctx.rng().range_inclusive(1, hb));
        ctx.set_timer(TIMER_HEARTBEAT, first);
        self.last_contact = ctx.now();
    }

    /// A message arrived.
    pub fn on_message(&mut self, ctx: &mut Ctx<'_>, from: NodeId, msg: CollabMsg) {
        if self.check_death(ctx.now()) {
            return;
        }
        let CollabMsg::Env(env) = msg else {
            return;
        };
        let now = ctx.now();
        if from.0 < self.cfg.servers {
            self.last_contact = now;
        }
        match env.payload {
            Payload::TaskAssignment(a) => {
                self.coordinator = from;
                // Acknowledge every copy: the first ack may have been lost.
                let ack = self.envelope(
                    now,
                    from,
                    Payload::Ack { of: env.message_id },
                    env.correlation_id,
                    env.priority,
                );
                ctx.send(from, CollabMsg::Env(ack));
                if !self.dedupe.first_time(env.message_id) {
                    self.stats.duplicates_discarded += 1;
                    return;
                }
                self.on_assignment(ctx, from, a, env.priority, env.message_id);
            }
            Payload::Ack { of } => {
                self.pending.remove(&of);
            }
            Payload::StateSync { leader } => {
                self.redirect(ctx, leader);
            }
            Payload::NotLeader { hint } => {
                // Point future sends at the hint, but resend nothing now:
                // two servers with stale hints naming each other would
                // otherwise bounce a result between them at network speed
                // (a sweep found a 47 M-message storm). The retry timer
                // resends with backoff; a real new coordinator announces
                // itself with `state_sync`, which does resend at once.
                let next = hint.unwrap_or(NodeId((from.0 + 1) % self.cfg.servers));
                if next != self.coordinator || hint.is_none() {
                    self.coordinator = next;
                    self.last_contact = now;
                }
            }
            _ => {}
        }
    }

    fn on_assignment(
        &mut self,
        ctx: &mut Ctx<'_>,
        from: NodeId,
        a: Assignment,
        priority: Priority,
        msg_id: u64,
    ) {
        let key = (a.task, a.attempt);
        if let Some((_, p)) = self.results.iter().find(|(k, _)| *k == key) {
            // Re-sent after a failover: the work is done, send the result
            // to whoever asks now.
            let p = p.clone();
            self.send_result(ctx, from, p, a.task, priority);
            return;
        }
        if self.taken.contains(&key) {
            return; // queued or running already
        }
        if self.inbox.len() >= self.cfg.inbox_cap {
            self.stats.refused += 1;
            let now = ctx.now();
            let env = self.envelope(
                now,
                from,
                Payload::Refused {
                    of: msg_id,
                    task: a.task,
                },
                u64::from(a.task),
                priority,
            );
            ctx.send(from, CollabMsg::Env(env));
            return;
        }
        if self.taken.len() == 4 * RESULT_CACHE {
            self.taken.pop_front();
        }
        self.taken.push_back(key);
        self.seq += 1;
        self.inbox.push(Job {
            a,
            priority,
            from,
            seq: self.seq,
        });
        if self.running.is_none() {
            self.start_next(ctx);
        }
    }

    fn start_next(&mut self, ctx: &mut Ctx<'_>) {
        let Some(job) = self.inbox.pop() else {
            return;
        };
        if self.inbox.iter().any(|j| j.seq < job.seq) {
            self.stats.overtakes += 1;
        }
        let now = ctx.now();
        let p = &self.profile;
        let size = job.a.size.max(0.01);
        let rng = ctx.rng();
        let failed = !rng.chance(p.availability);
        let mut ms = p.latency.sample(rng) * size;
        if failed {
            // A transient failure surfaces part-way through.
            ms *= 0.1 + 0.9 * rng.unit();
        }
        let tokens = (p.tokens.sample(rng) * size).round() as u64;
        // Poor inputs make good work harder: accuracy scales with them.
        let acc = p.accuracy * (0.7 + 0.3 * job.a.input_quality.clamp(0.0, 1.0));
        let correct = !failed && rng.chance(acc);
        let base = if correct {
            p.accuracy
        } else {
            0.4 * p.accuracy
        };
        let mut score = |spread: f64| (base + spread * rng.standard_normal()).clamp(0.0, 1.0);
        let (relevance, innovation, feasibility) = (score(0.08), score(0.15), score(0.08));
        let duration = SimDuration::from_millis_f64(ms);
        let outcome = Outcome {
            agent: self.id,
            started_at: now,
            duration_us: duration.as_micros(),
            tokens: if failed { tokens / 2 } else { tokens },
            correct,
            relevance,
            innovation,
            feasibility,
        };
        self.running = Some((job, now + duration, failed, outcome));
        ctx.set_timer(TIMER_WORK, duration);
    }

    fn finish_job(&mut self, ctx: &mut Ctx<'_>) {
        let Some((job, _, failed, outcome)) = self.running.take() else {
            return;
        };
        self.stats.executed += 1;
        self.stats.tokens = self.stats.tokens.saturating_add(outcome.tokens);
        self.stats.busy_us += outcome.duration_us;
        if failed {
            self.stats.transient_failures += 1;
        } else {
            self.completed.push(job.a.task);
        }
        let payload = Payload::TaskResult {
            task: job.a.task,
            attempt: job.a.attempt,
            version: job.a.version,
            failed,
            outcome,
        };
        if self.results.len() == RESULT_CACHE {
            self.results.pop_front();
        }
        self.results
            .push_back(((job.a.task, job.a.attempt), payload.clone()));
        let to = if job.from == self.coordinator {
            job.from
        } else {
            self.coordinator
        };
        self.send_result(ctx, to, payload, job.a.task, job.priority);
        self.start_next(ctx);
    }

    fn send_result(
        &mut self,
        ctx: &mut Ctx<'_>,
        to: NodeId,
        payload: Payload,
        task: TaskId,
        prio: Priority,
    ) {
        let now = ctx.now();
        let env = self.envelope(now, to, payload, u64::from(task), prio);
        let wait = backoff(1, self.cfg.backoff_min, self.cfg.backoff_max, ctx.rng());
        ctx.send(to, CollabMsg::Env(env.clone()));
        self.pending.insert(
            env.message_id,
            PendingResult {
                env,
                to,
                tries: 1,
                next_at: now + wait,
            },
        );
        self.arm_retry(ctx);
    }

    fn arm_retry(&mut self, ctx: &mut Ctx<'_>) {
        if let Some(next) = self.pending.values().map(|p| p.next_at).min() {
            ctx.set_timer(TIMER_RETRY, next.saturating_since(ctx.now()));
        }
    }

    /// Resend unacknowledged results. Results matter more than
    /// assignments (the work is done), so an agent tries every server
    /// `send_attempts` times before giving up; the coordinator's attempt
    /// timeout covers a result given up on.
    fn retry(&mut self, ctx: &mut Ctx<'_>) {
        let now = ctx.now();
        let limit = self.cfg.send_attempts * self.cfg.servers;
        let due: Vec<u64> = self
            .pending
            .iter()
            .filter(|(_, p)| p.next_at <= now)
            .map(|(id, _)| *id)
            .collect();
        for id in due {
            let mut p = self.pending.remove(&id).expect("due id");
            if p.tries >= limit {
                self.stats.results_abandoned += 1;
                continue;
            }
            if p.tries % self.cfg.send_attempts == 0 {
                // This server never answered: try the next one.
                self.coordinator = NodeId((p.to.0 + 1) % self.cfg.servers);
            }
            p.to = self.coordinator;
            p.tries += 1;
            p.next_at = now
                + backoff(
                    p.tries,
                    self.cfg.backoff_min,
                    self.cfg.backoff_max,
                    ctx.rng(),
                );
            self.stats.result_resends += 1;
            ctx.send(p.to, CollabMsg::Env(p.env.clone()));
            self.pending.insert(id, p);
        }
        self.arm_retry(ctx);
    }

    fn redirect(&mut self, ctx: &mut Ctx<'_>, to: NodeId) {
        self.coordinator = to;
        self.last_contact = ctx.now();
        // Results waiting for an ack go to the new coordinator now.
        let ids: Vec<u64> = self.pending.keys().copied().collect();
        for id in ids {
            let p = self.pending.get_mut(&id).expect("id");
            if p.to != to {
                p.to = to;
                self.stats.result_resends += 1;
                ctx.send(to, CollabMsg::Env(p.env.clone()));
            }
        }
    }

    /// A timer fired.
    pub fn on_timer(&mut self, ctx: &mut Ctx<'_>, id: TimerId) {
        if self.check_death(ctx.now()) {
            return;
        }
        match id {
            TIMER_HEARTBEAT => {
                let now = ctx.now();
                let silent = now.saturating_since(self.last_contact);
                if silent.as_micros() > 3 * self.cfg.heartbeat.as_micros() {
                    self.coordinator = NodeId((self.coordinator.0 + 1) % self.cfg.servers);
                    self.last_contact = now;
                }
                let to = self.coordinator;
                let load = self.load();
                let env = self.envelope(now, to, Payload::Heartbeat { load }, 0, Priority::Low);
                ctx.send(to, CollabMsg::Env(env));
                ctx.set_timer(TIMER_HEARTBEAT, self.cfg.heartbeat);
            }
            TIMER_WORK => match self.running.as_ref().map(|r| r.1) {
                Some(end) if end <= ctx.now() => self.finish_job(ctx),
                // The timer is armed in true time from the clock rate at
                // the time; a clock slowed since then (a `clock` fault)
                // fires it before the work is done on the agent's clock.
                // Wait for the rest: dropping it left the agent busy for
                // ever (found by tests/proptest_workflow.rs).
                Some(end) => {
                    let rest = end.saturating_since(ctx.now());
                    ctx.set_timer(TIMER_WORK, rest);
                }
                None => {}
            },
            TIMER_RETRY => self.retry(ctx),
            _ => {}
        }
    }
}
