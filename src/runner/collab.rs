//! Collaboration worlds: Raft coordinator servers plus agents. Builds the
//! [`CollabConfig`] from the scenario (arrivals drawn from the seed's
//! `workflow` stream), runs with the Raft safety checker, the workflow
//! checker and the coordinator-activity metrics, and writes the `collab`
//! report section.

use super::raft::raft_config;
use super::{base_report, install_tracer, RunOptions, RunOutput};
use crate::check::raft_safety::RaftSafety;
use crate::check::workflow::WorkflowChecker;
use crate::collab::agent::{Agent, AgentStats, CollabRecord};
use crate::collab::coordinator::{TaskKind, TaskStatus, WorkflowState};
use crate::collab::dispatcher::DispatchStats;
use crate::collab::modes::competitive;
use crate::collab::node::Coordinator;
use crate::collab::{
    AgentProfile, ArbiterConfig, Arrival, AssignAlgo, BranchDef, CollabConfig, CollabNode, Mode,
    Priority, StageDef,
};
use crate::ids::NodeId;
use crate::metrics::hist::LatencyHist;
use crate::metrics::raft::RaftMetrics;
use crate::metrics::Checks;
use crate::raft::RaftNode;
use crate::rng::SimRng;
use crate::scenario::{self, AssignAlgoSpec, ModeSpec, PrioritySpec, Scenario, WorkflowSpec};
use crate::sim::{DispatchKind, Dispatched, NodeStatus, Observer, World};
use crate::time::{SimDuration, SimTime};
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;
use std::rc::Rc;

/// Rows of the agent Gantt list in the report.
const GANTT_CAP: usize = 500;
/// Rows of other per-item lists in the report.
const LIST_CAP: usize = 50;

/// Build the core configuration from a validated scenario.
pub fn collab_config(spec: &WorkflowSpec, servers: u32, seed: u64) -> CollabConfig {
    let ms = SimDuration::from_millis_f64;
    let mut skills: Vec<String> = Vec::new();
    for g in &spec.agents {
        for s in &g.skills {
            if !skills.contains(s) {
                skills.push(s.clone());
            }
        }
    }
    let skill = |s: &str| skills.iter().position(|x| x == s).expect("validated skill") as u16;
    let mut agents = Vec::new();
    for g in &spec.agents {
        let fail_count = g.fail_count.unwrap_or(g.count);
        for i in 0..g.count {
            agents.push(AgentProfile {
                group: g.name.clone(),
                skills: g.skills.iter().map(|s| skill(s)).collect(),
                accuracy: g.accuracy,
                latency: scenario::dist(&g.latency_ms),
                tokens: scenario::dist(&g.tokens),
                availability: g.availability,
                fail_at: g
                    .fail_at_ms
                    .filter(|_| i < fail_count)
                    .map(|t| SimTime::ZERO + ms(t)),
            });
        }
    }
    let stage = |id: &str| {
        spec.stages
            .iter()
            .position(|s| s.id == id)
            .expect("validated stage")
    };
    let mut stages: Vec<StageDef> = spec
        .stages
        .iter()
        .map(|s| StageDef {
            id: s.id.clone(),
            skill: skill(&s.skill),
            after: s.after.iter().map(|a| stage(a)).collect(),
            priority: match s.priority {
                PrioritySpec::Low => Priority::Low,
                PrioritySpec::Normal => Priority::Normal,
                PrioritySpec::High => Priority::High,
                PrioritySpec::Critical => Priority::Critical,
            },
            size: s.size,
            interrupt_before: s.interrupt_before,
            branch: s.branch.as_ref().map(|b| BranchDef {
                threshold: b.threshold,
                above: stage(&b.above),
                below: stage(&b.below),
            }),
        })
        .collect();
    // A branch target runs after the branching stage.
    for i in 0..stages.len() {
        if let Some(b) = stages[i].branch {
            for t in [b.above, b.below] {
                if !stages[t].after.contains(&i) {
                    stages[t].after.push(i);
                }
            }
        }
    }
    let mut rng = SimRng::derive(seed, "workflow");
    let size = spec.arrivals.size.as_ref().map(scenario::dist);
    let mut at = 0.0f64;
    let mut arrivals = Vec::with_capacity(spec.arrivals.workflows as usize);
    for i in 0..spec.arrivals.workflows {
        if i > 0 {
            at += rng.exponential(1000.0 / spec.arrivals.rate_per_s);
        }
        let sizes = stages
            .iter()
            .map(|_| size.as_ref().map_or(1.0, |d| d.sample(&mut rng).max(0.01)))
            .collect();
        let critical = rng.chance(spec.arrivals.critical_fraction);
        arrivals.push(Arrival {
            at: SimTime::ZERO + ms(at),
            sizes,
            critical,
        });
    }
    let w = &spec.arbiter.weights;
    CollabConfig {
        servers,
        mode: match spec.mode {
            ModeSpec::Pipeline => Mode::Pipeline,
            ModeSpec::Competitive => Mode::Competitive,
            ModeSpec::Division => Mode::Division,
            ModeSpec::Hybrid => Mode::Hybrid,
        },
        agents,
        stages,
        arrivals,
        send_attempts: spec.retry.max_attempts,
        backoff_min: ms(spec.retry.backoff_ms[0]),
        backoff_max: ms(spec.retry.backoff_ms[1]),
        task_attempts: spec.retry.task_attempts,
        redrives: spec.retry.redrives,
        breaker_failures: spec.breaker.failures,
        breaker_open: ms(spec.breaker.open_ms),
        arbiter: ArbiterConfig {
            weights: [w.relevance, w.innovation, w.feasibility],
            k: spec.arbiter.k,
            deadline: ms(spec.arbiter.deadline_ms),
            cost_per_1k_tokens: spec.arbiter.cost_per_1k_tokens,
        },
        assign: match spec.division.algorithm {
            AssignAlgoSpec::Hungarian => AssignAlgo::Hungarian,
            AssignAlgoSpec::Greedy => AssignAlgo::Greedy,
        },
        batch: spec.division.batch as usize,
        competitive_above: spec.hybrid.competitive_above,
        division_below: spec.hybrid.division_below,
        approvals: spec
            .approvals
            .iter()
            .map(|a| (SimTime::ZERO + ms(a.at_ms), stage(&a.stage)))
            .collect(),
        human_delay: spec.human_delay_ms.as_ref().map(scenario::dist),
        heartbeat: ms(spec.agent_heartbeat_ms),
        agent_timeout: ms(spec.agent_timeout_ms),
        tick: ms(spec.tick_ms),
        agent_slots: spec.agent_slots,
        inbox_cap: 16,
        skills,
        bug: None,
    }
}

/// Watches every event: Raft safety and the workflow checker after each
/// server step, coordinator activity (failovers, stalls), counters.
struct CollabObserver {
    safety: RaftSafety,
    metrics: RaftMetrics,
    checker: WorkflowChecker,
    servers: u32,
    check: bool,
    active: Vec<bool>,
    /// (node, term, time) each time a dispatcher was built.
    activations: Vec<(u32, u64, SimTime)>,
    /// Intervals with no active coordinator.
    gaps: Vec<(SimTime, SimTime)>,
    gap_since: Option<SimTime>,
    last_stats: Vec<DispatchStats>,
    /// Restarts seen per server (a restart comes as a fault event).
    restarts: Vec<u32>,
    retired: DispatchStats,
    stop_when_done: bool,
    arrivals: usize,
    redrives: u32,
    next_done_check: SimTime,
    done: bool,
}

impl CollabObserver {
    fn refresh_activity(&mut self, world: &World<CollabNode>) {
        let now = world.now();
        for i in 0..self.servers {
            let id = NodeId(i);
            let c = world.node(id).and_then(CollabNode::coordinator);
            let a = world.status(id) == NodeStatus::Up && c.is_some_and(Coordinator::is_active);
            if a && !self.active[i as usize] {
                let term = c.map_or(0, |c| c.raft().current_term().0);
                self.activations.push((i, term, now));
            }
            self.active[i as usize] = a;
        }
        let any = self.active.iter().any(|&a| a);
        match (any, self.gap_since) {
            (true, Some(since)) => {
                self.gaps.push((since, now));
                self.gap_since = None;
            }
            (false, None) => self.gap_since = Some(now),
            _ => {}
        }
    }
}

impl Observer<CollabNode> for CollabObserver {
    fn after_event(&mut self, world: &World<CollabNode>, ev: &Dispatched) {
        self.metrics.observe(
            world,
            ev.node,
            ev.kind == DispatchKind::Fault,
            CollabNode::raft,
        );
        if ev.kind == DispatchKind::Fault {
            self.refresh_activity(world);
        }
        let Some(id) = ev.node.filter(|n| n.0 < self.servers) else {
            return;
        };
        let n = id.index();
        let Some(c) = world.node(id).and_then(CollabNode::coordinator) else {
            return;
        };
        let sm = c.raft().state_machine();
        // A new process: its boot, or a restart (which the world runs
        // inside the fault event that restarts it, so it is not a `Start`).
        let restarts = world.node_counters(id).restarts;
        if ev.kind == DispatchKind::Start || restarts != self.restarts[n] {
            self.restarts[n] = restarts;
            let last = std::mem::take(&mut self.last_stats[n]);
            self.retired.add(&last);
            if self.check {
                self.safety.node_restarted(id);
            }
            self.checker.server_started(n, sm);
        }
        self.last_stats[n] = c.stats();
        if self.check {
            self.safety.observe(world.now(), c.raft());
            self.checker.observe(n, sm);
        }
        if c.is_active() != self.active[n] {
            self.refresh_activity(world);
        }
        if self.stop_when_done && c.is_active() && world.now() >= self.next_done_check {
            self.next_done_check = world.now() + SimDuration::from_millis(250);
            self.done = sm.workflows().len() == self.arrivals && sm.live_tasks(self.redrives) == 0;
        }
    }
    fn stop_requested(&self) -> bool {
        self.done || self.safety.failed()
    }
}

pub(super) fn run(scenario: &Scenario, opts: &RunOptions) -> RunOutput {
    let spec = &scenario.spec;
    let wspec = spec.workflow.as_ref().expect("collab run needs a workflow");
    let servers = spec.cluster.nodes;
    let raft_spec = spec.cluster.raft.clone().unwrap_or_default();
    let rcfg = raft_config(servers, &raft_spec, spec.bug.as_deref());
    let mut cfg = collab_config(wspec, servers, spec.seed);
    cfg.bug = spec
        .bug
        .as_deref()
        .and_then(crate::collab::CoordBug::from_name);
    let bug = cfg.bug;
    let cfg = Rc::new(cfg);
    let wcfg = scenario.world_config(spec.seed);
    let agents = cfg.agents.len() as u32;
    let factory_cfg = Rc::clone(&cfg);
    let mut world = match World::new(
        wcfg,
        servers + agents,
        Box::new(move |id: NodeId, records: &[CollabRecord]| {
            if id.0 < servers {
                RaftNode::recover_with(id, rcfg.clone(), WorkflowState::with_bug(bug), records)
                    .map(|r| {
                        CollabNode::Server(Box::new(Coordinator::new(r, Rc::clone(&factory_cfg))))
                    })
                    .map_err(|e| e.to_string())
            } else {
                Ok(CollabNode::Agent(Box::new(Agent::new(
                    id,
                    Rc::clone(&factory_cfg),
                ))))
            }
        }),
    ) {
        Ok(w) => w,
        Err(e) => unreachable!("a validated scenario builds its world: {e}"),
    };
    if let Some(sink) = &opts.trace {
        install_tracer(&mut world, sink.clone());
    }
    let mut obs = CollabObserver {
        safety: RaftSafety::new(servers),
        metrics: RaftMetrics::new(servers),
        checker: WorkflowChecker::new(servers, cfg.arbiter),
        servers,
        check: !opts.skip_checkers,
        active: vec![false; servers as usize],
        activations: Vec::new(),
        gaps: Vec::new(),
        gap_since: Some(SimTime::ZERO),
        last_stats: vec![DispatchStats::default(); servers as usize],
        restarts: vec![0; servers as usize],
        retired: DispatchStats::default(),
        stop_when_done: wspec.stop_when_done,
        arrivals: cfg.arrivals.len(),
        redrives: cfg.redrives,
        next_done_check: SimTime::ZERO,
        done: false,
    };
    world.run(&mut obs);
    let stop = world.now();
    obs.metrics.finish(stop);
    if let Some(since) = obs.gap_since.take() {
        obs.gaps.push((since, stop));
    }

    // The most up-to-date server's state is the final word.
    let final_server = (0..servers)
        .filter_map(|i| {
            world
                .node(NodeId(i))
                .and_then(CollabNode::raft)
                .map(|r| (r.last_applied(), i))
        })
        .max()
        .map(|(_, i)| i);
    let empty = WorkflowState::default();
    let sm = final_server
        .and_then(|i| world.node(NodeId(i)).and_then(CollabNode::raft))
        .map_or(&empty, |r| r.state_machine());
    let mut checks = Checks {
        ok: true,
        ..Default::default()
    };
    if !opts.skip_checkers {
        obs.checker.finish(sm);
        checks.record(
            "safety",
            obs.safety
                .violations()
                .first()
                .map(|v| format!("{} violated at {}: {}", v.property, v.time, v.message)),
        );
        for p in [
            "exactly_once",
            "dag_order",
            "versions",
            "arbiter",
            "no_lost_results",
            "dead_letters_reported",
        ] {
            checks.record(&format!("workflow.{p}"), obs.checker.failure(p));
        }
    }
    let mut dispatch = obs.retired;
    for s in &obs.last_stats {
        dispatch.add(s);
    }
    let mut agent_stats = AgentStats::default();
    let mut dead_agents = 0;
    for i in servers..servers + agents {
        if let Some(a) = world.node(NodeId(i)).and_then(CollabNode::agent) {
            let s = a.stats();
            agent_stats.executed += s.executed;
            agent_stats.transient_failures += s.transient_failures;
            agent_stats.tokens += s.tokens;
            agent_stats.busy_us += s.busy_us;
            agent_stats.result_resends += s.result_resends;
            agent_stats.results_abandoned += s.results_abandoned;
            agent_stats.duplicates_discarded += s.duplicates_discarded;
            agent_stats.refused += s.refused;
            agent_stats.overtakes += s.overtakes;
            dead_agents += u64::from(a.is_dead());
        }
    }
    let collab = collab_json(&cfg, sm, &obs, &dispatch, &agent_stats, dead_agents, stop);
    let mut report = base_report(scenario, &world, checks);
    let extra = &mut report.extra;
    extra.insert("collab".into(), collab);
    extra.insert("elections".into(), obs.metrics.elections_json());
    extra.insert("max_term".into(), json!(obs.metrics.max_term));
    extra.insert(
        "leader_loss_downtime_ms".into(),
        obs.metrics.downtime_json(),
    );
    extra.insert("role_time_ms".into(), obs.metrics.role_time_json());
    extra.insert("role_timeline".into(), obs.metrics.timeline_json());
    extra.insert(
        "messages_by_type".into(),
        report.network["messages_by_type"].clone(),
    );
    extra.insert(
        "safety".into(),
        json!({"ok": !obs.safety.failed(), "observations": obs.safety.observations(), "workflow_changes_observed": obs.checker.observed, "journal_gaps": obs.checker.gaps}),
    );
    RunOutput {
        report,
        history: None,
        latency: None,
    }
}

fn ms(t: SimTime) -> f64 {
    t.as_millis_f64()
}

#[derive(Default)]
struct ModeNumbers {
    tasks: u64,
    done: u64,
    tokens: u64,
    latency: LatencyHist,
    score_sum: f64,
    correct: u64,
}

#[allow(clippy::too_many_arguments)]
fn collab_json(
    cfg: &CollabConfig,
    sm: &WorkflowState,
    obs: &CollabObserver,
    d: &DispatchStats,
    a: &AgentStats,
    dead_agents: u64,
    stop: SimTime,
) -> Value {
    let tasks = sm.tasks();
    let mut by_status: BTreeMap<&str, u64> = BTreeMap::new();
    let mut latency = LatencyHist::new();
    let mut per_mode: BTreeMap<&str, ModeNumbers> = BTreeMap::new();
    let mut tokens_committed = 0u64;
    let (mut score_sum, mut correct, mut results) = (0.0, 0u64, 0u64);
    let mut gantt = Vec::new();
    let mut gantt_total = 0u64;
    let weights = cfg.arbiter.weights;
    for (i, t) in tasks.iter().enumerate() {
        *by_status.entry(t.status.name()).or_default() += 1;
        let m = per_mode.entry(t.spec.kind.mode_name()).or_default();
        if t.spec.kind != TaskKind::Entry {
            m.tasks += 1;
        }
        // The unit of work delivered: a pipeline/division task or a race.
        if t.status == TaskStatus::Done && t.spec.kind != TaskKind::Entry {
            let o = t.result.expect("done has a result");
            let wf = &sm.workflows()[t.workflow as usize];
            let us = t.finished_at.saturating_since(wf.arrived_at).as_micros();
            latency.record_us(us);
            m.latency.record_us(us);
            m.done += 1;
            let s = o.score(&weights);
            m.score_sum += s;
            score_sum += s;
            results += 1;
            if o.correct {
                correct += 1;
                m.correct += 1;
            }
        }
        // Tokens of committed attempts (a race's own result is a copy).
        if let (Some(o), false) = (t.result, t.spec.kind == TaskKind::Judge) {
            tokens_committed += o.tokens;
            m.tokens += o.tokens;
            gantt_total += 1;
            if gantt.len() < GANTT_CAP {
                gantt.push(json!({"agent": o.agent.0, "task": i, "start_ms": ms(o.started_at), "end_ms": ms(o.started_at) + o.duration_us as f64 / 1000.0}));
            }
        }
    }
    let wfs = sm.workflows();
    let first = wfs.first().map(|w| w.arrived_at);
    let last_done = wfs.iter().filter_map(|w| w.done_at).max();
    let makespan = match (first, last_done) {
        (Some(f), Some(l)) => ms(l) - ms(f),
        _ => 0.0,
    };
    let mut wf_latency = LatencyHist::new();
    let completed_wfs = wfs.iter().filter(|w| w.done_at.is_some()).count();
    for w in wfs {
        if let Some(dn) = w.done_at {
            wf_latency.record_us(dn.saturating_since(w.arrived_at).as_micros());
        }
    }
    // Stall: time a workflow was open with no active coordinator.
    let mut stalls: Vec<(usize, f64)> = Vec::new();
    for (i, w) in wfs.iter().enumerate() {
        let end = w.done_at.unwrap_or(stop);
        let s: u64 = obs
            .gaps
            .iter()
            .map(|&(g0, g1)| {
                let lo = g0.max(w.arrived_at);
                let hi = g1.min(end);
                hi.saturating_since(lo).as_micros()
            })
            .sum();
        if s > 0 {
            stalls.push((i, s as f64 / 1000.0));
        }
    }
    let stall_total: f64 = stalls.iter().map(|s| s.1).sum();
    let stall_max = stalls.iter().map(|s| s.1).fold(0.0, f64::max);
    let dead: Vec<Value> = sm
        .dead_letters()
        .iter()
        .take(LIST_CAP)
        .map(|dl| {
            let t = &tasks[dl.task as usize];
            json!({"task": dl.task, "workflow": t.workflow, "stage": cfg.stages[t.spec.stage as usize].id, "reason": dl.reason.name(), "attempts": dl.attempts, "at_ms": ms(dl.at), "status_now": t.status.name()})
        })
        .collect();
    let pending: Vec<Value> = tasks
        .iter()
        .enumerate()
        .filter(|(_, t)| !t.status.is_final())
        .take(LIST_CAP)
        .map(|(i, t)| json!({"task": i, "workflow": t.workflow, "status": t.status.name(), "reason": sm.pending_reason(i as u32)}))
        .collect();
    let open = tasks.iter().filter(|t| !t.status.is_final()).count();
    let races: Vec<Value> = tasks
        .iter()
        .enumerate()
        .filter(|(_, t)| t.winner.is_some())
        .take(LIST_CAP)
        .map(|(i, t)| {
            let cands: Vec<(u32, crate::collab::Outcome)> = t
                .entries
                .iter()
                .filter_map(|&e| tasks[e as usize].result.map(|o| (e, o)))
                .collect();
            let w = t.winner.expect("winner");
            json!({"race": i, "winner": w, "why": competitive::explain(&cfg.arbiter, w, &cands)})
        })
        .collect();
    let modes: Map<String, Value> = per_mode
        .iter()
        .filter(|(_, m)| m.tasks > 0)
        .map(|(name, m)| {
            (
                name.to_string(),
                json!({
                    "tasks": m.tasks, "completed": m.done, "tokens": m.tokens,
                    "tokens_per_completed": if m.done > 0 { m.tokens as f64 / m.done as f64 } else { 0.0 },
                    "latency_ms": m.latency.summary_json(),
                    "mean_score": if m.done > 0 { m.score_sum / m.done as f64 } else { 0.0 },
                    "correct_fraction": if m.done > 0 { m.correct as f64 / m.done as f64 } else { 0.0 },
                }),
            )
        })
        .collect();
    let c = sm.counters();
    let failovers = obs.activations.len().saturating_sub(1);
    json!({
        "mode": cfg.mode.name(),
        "consistency": "cp",
        "agents": {"count": cfg.agents.len(), "dead": dead_agents, "lost_detected": d.agents_lost, "executed": a.executed, "transient_failures": a.transient_failures, "busy_ms": a.busy_us as f64 / 1000.0, "overtakes": a.overtakes, "refused": a.refused},
        "workflows": {"scheduled": cfg.arrivals.len(), "submitted": wfs.len(), "completed": completed_wfs, "latency_ms": wf_latency.summary_json()},
        "tasks": {"total": tasks.len(), "by_status": by_status, "open_at_end": open},
        "makespan_ms": makespan,
        "task_latency_ms": latency.summary_json(),
        "tokens": {"committed": tokens_committed, "spent": a.tokens, "per_completed_task": if results > 0 { tokens_committed as f64 / results as f64 } else { 0.0 }},
        "quality": {"mean_score": if results > 0 { score_sum / results as f64 } else { 0.0 }, "correct_fraction": if results > 0 { correct as f64 / results as f64 } else { 0.0 }, "results": results},
        "retries": {"assignment_resends": d.assignment_resends, "result_resends": a.result_resends, "results_abandoned": a.results_abandoned, "requeued_attempts": c.requeued},
        "duplicates_discarded": {"agents": a.duplicates_discarded, "coordinator": d.duplicates_discarded},
        "rejected": {"stale": c.stale_rejected, "duplicate": c.duplicate_rejected, "late": c.late_rejected, "invalid": c.invalid_rejected},
        "dead_letters": {"count": c.dead_lettered, "redriven": c.redriven, "still_dead": by_status.get("dead_letter").copied().unwrap_or(0), "unacked_assignments": d.unacked, "list": dead},
        "breaker_trips": d.breaker_trips,
        "reassignments": d.reassignments,
        "coordinator": {"failovers": failovers, "activations": obs.activations.iter().map(|(n, t, at)| json!({"node": n, "term": t, "at_ms": ms(*at)})).collect::<Vec<_>>(), "resent_after_failover": d.resent_after_failover, "proposals": d.proposals},
        "stall_ms": {"total": stall_total, "max": stall_max, "workflows_stalled": stalls.len(), "per_workflow": stalls.iter().take(LIST_CAP).map(|(w, s)| json!({"workflow": w, "stall_ms": s})).collect::<Vec<_>>()},
        "per_mode": modes,
        "division": {"algorithm": match cfg.assign { AssignAlgo::Hungarian => "hungarian", AssignAlgo::Greedy => "greedy" }, "batches": d.batches, "tasks": d.batch_tasks, "total_cost": d.batch_cost_milli as f64 / 1000.0, "mean_cost": if d.batch_tasks > 0 { d.batch_cost_milli as f64 / 1000.0 / d.batch_tasks as f64 } else { 0.0 }},
        "arbiter": {"decisions": c.arbitrations, "examples": races},
        "pending_at_end": pending,
        "gantt": gantt,
        "gantt_total": gantt_total,
    })
}
