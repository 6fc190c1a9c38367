//! Collaboration worlds: Raft coordinator servers plus agents. Builds the
//! [`CollabConfig`] from the scenario (arrivals drawn from the seed's
//! `workflow` stream), runs with the Raft safety checker, the workflow
//! checker and the coordinator-activity metrics, and writes the `collab`
//! report section.

use super::raft::raft_config;
use super::{
    base_report, delivery_expectation, end_state, event_storm_check, install_event_cap,
    install_tracer, RunOptions, RunOutput,
};
use crate::check::liveness::{self, LivenessTracker, Windows};
use crate::check::raft_safety::RaftSafety;
use crate::check::workflow::WorkflowChecker;
use crate::collab::agent::{Agent, AgentStats, CollabRecord};
use crate::collab::ap::{self as apmod, ApConfig, ApServer, ApStats};
use crate::collab::coordinator::{Counters, TaskKind, TaskStatus, WorkflowState};
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
use crate::scenario::{
    self, AssignAlgoSpec, ConsistencySpec, ModeSpec, PrioritySpec, Scenario, WorkflowSpec,
};
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
        ap: (spec.consistency == ConsistencySpec::Ap).then(|| {
            let a = spec.ap.clone().unwrap_or_default();
            ApConfig {
                gossip: ms(a.gossip_ms),
                suspect: ms(a.suspect_ms),
            }
        }),
        bug: None,
    }
}

/// What the observer reads from a coordinator server, CP or AP.
struct ServerRef<'a> {
    sm: &'a WorkflowState,
    active: bool,
    stats: DispatchStats,
    raft: Option<&'a RaftNode<WorkflowState>>,
}

fn server_ref(n: &CollabNode) -> Option<ServerRef<'_>> {
    match n {
        CollabNode::Server(c) => Some(ServerRef {
            sm: c.raft().state_machine(),
            active: c.is_active(),
            stats: c.stats(),
            raft: Some(c.raft()),
        }),
        CollabNode::ApServer(a) => Some(ServerRef {
            sm: a.state(),
            active: a.is_active(),
            stats: a.stats(),
            raft: None,
        }),
        CollabNode::Agent(_) => None,
    }
}

/// A scripted partition (or isolation, or link cut) and how long after
/// its heal every server reflected every write made before the heal.
#[derive(Clone, Debug)]
struct Window {
    start: SimTime,
    heal: SimTime,
    /// CP: the highest commit index at the heal. AP: per workflow, the
    /// join of every server's version vector at the heal.
    frontier: Option<Frontier>,
    /// Which servers were up when the frontier was taken.
    up: Vec<bool>,
    converged: Option<SimTime>,
}

#[derive(Clone, Debug)]
enum Frontier {
    Cp(u64),
    Ap(Vec<Vec<u64>>),
}

/// Scripted faults that cut links, as `[start, heal)` windows. A cut
/// without `for_ms` lasts until the next `heal` fault or the end of the
/// run; repeating (`every_ms`) faults are left out (their times are
/// jittered).
fn partition_windows(spec: &scenario::ScenarioSpec) -> Vec<Window> {
    use scenario::FaultKind;
    let at = |x: f64| SimTime::ZERO + SimDuration::from_millis_f64(x);
    let end = at(spec.duration_ms);
    let heals: Vec<f64> = spec
        .faults
        .iter()
        .filter(|f| f.kind == FaultKind::Heal)
        .map(|f| f.at_ms)
        .collect();
    let mut w: Vec<Window> = spec
        .faults
        .iter()
        .filter(|f| {
            f.every_ms.is_none()
                && match f.kind {
                    FaultKind::Partition | FaultKind::Isolate => true,
                    // Only a cut link (not a lossy or slow one).
                    FaultKind::Link => f.drop.unwrap_or(1.0) >= 1.0 && f.extra_latency_ms.is_none(),
                    _ => false,
                }
        })
        .map(|f| {
            let heal = match f.for_ms {
                Some(d) => at(f.at_ms + d),
                None => heals
                    .iter()
                    .filter(|&&h| h >= f.at_ms)
                    .map(|&h| at(h))
                    .fold(end, SimTime::min),
            };
            Window {
                start: at(f.at_ms),
                heal: heal.min(end),
                frontier: None,
                up: Vec::new(),
                converged: None,
            }
        })
        .collect();
    w.sort_by_key(|w| (w.start, w.heal));
    w
}

/// Watches every event: Raft safety and the workflow checker after each
/// server step, coordinator activity (failovers, stalls), convergence after
/// scripted partitions, counters.
struct CollabObserver {
    safety: RaftSafety,
    metrics: RaftMetrics,
    checker: WorkflowChecker,
    servers: u32,
    check: bool,
    ap: bool,
    active: Vec<bool>,
    /// Most servers coordinating at once.
    max_active: usize,
    /// (node, term, time) each time a dispatcher was built.
    activations: Vec<(u32, u64, SimTime)>,
    /// Intervals with no active coordinator.
    gaps: Vec<(SimTime, SimTime)>,
    gap_since: Option<SimTime>,
    last_stats: Vec<DispatchStats>,
    /// Restarts seen per server (a restart comes as a fault event).
    restarts: Vec<u32>,
    retired: DispatchStats,
    last_ap: Vec<ApStats>,
    /// AP: each copy's own counters (commands it applied), per life.
    last_counters: Vec<Counters>,
    retired_counters: Counters,
    /// AP: when a server last applied a command of its own.
    last_write_at: SimTime,
    /// When the last fault (or fault undo) happened.
    last_fault_at: SimTime,
    next_window_check: SimTime,
    retired_ap: ApStats,
    windows: Vec<Window>,
    stop_when_done: bool,
    arrivals: usize,
    redrives: u32,
    next_done_check: SimTime,
    done: bool,
    liveness: LivenessTracker,
}

impl CollabObserver {
    fn refresh_activity(&mut self, world: &World<CollabNode>) {
        let now = world.now();
        for i in 0..self.servers {
            let id = NodeId(i);
            let node = world.node(id);
            let a = world.status(id) == NodeStatus::Up
                && node.and_then(server_ref).is_some_and(|s| s.active);
            if a && !self.active[i as usize] {
                let term = node
                    .and_then(CollabNode::raft)
                    .map_or(0, |r| r.current_term().0);
                self.activations.push((i, term, now));
            }
            self.active[i as usize] = a;
        }
        let count = self.active.iter().filter(|&&a| a).count();
        self.max_active = self.max_active.max(count);
        match (count > 0, self.gap_since) {
            (true, Some(since)) => {
                self.gaps.push((since, now));
                self.gap_since = None;
            }
            (false, None) => self.gap_since = Some(now),
            _ => {}
        }
    }

    fn up_servers<'w>(
        &self,
        world: &'w World<CollabNode>,
    ) -> impl Iterator<Item = &'w CollabNode> + 'w {
        (0..self.servers).filter_map(move |i| {
            let id = NodeId(i);
            (world.status(id) == NodeStatus::Up)
                .then(|| world.node(id))
                .flatten()
        })
    }

    /// At a heal: what every server must reach to count as converged.
    fn frontier(&self, world: &World<CollabNode>) -> Frontier {
        if self.ap {
            let mut f: Vec<Vec<u64>> = Vec::new();
            for s in self.up_servers(world).filter_map(CollabNode::ap_server) {
                for (i, m) in s.meta().iter().enumerate() {
                    if f.len() <= i {
                        f.push(vec![0; m.vv.len()]);
                    }
                    for (a, b) in f[i].iter_mut().zip(&m.vv) {
                        *a = (*a).max(*b);
                    }
                }
            }
            Frontier::Ap(f)
        } else {
            Frontier::Cp(
                self.up_servers(world)
                    .filter_map(CollabNode::raft)
                    .map(|r| r.commit_index().0)
                    .max()
                    .unwrap_or(0),
            )
        }
    }

    fn converged(&self, world: &World<CollabNode>, f: &Frontier) -> bool {
        match f {
            Frontier::Cp(c) => self
                .up_servers(world)
                .filter_map(CollabNode::raft)
                .all(|r| r.last_applied().0 >= *c),
            Frontier::Ap(f) => self
                .up_servers(world)
                .filter_map(CollabNode::ap_server)
                .all(|s| {
                    f.iter().enumerate().all(|(i, v)| {
                        s.meta().get(i).is_some_and(|m| {
                            matches!(
                                apmod::compare(&m.vv, v),
                                apmod::Order::Equal | apmod::Order::Dominates
                            )
                        })
                    })
                }),
        }
    }

    fn track_windows(&mut self, world: &World<CollabNode>) {
        let now = world.now();
        if self
            .windows
            .iter()
            .all(|w| w.converged.is_some() || now < w.heal)
        {
            return;
        }
        let up: Vec<bool> = (0..self.servers)
            .map(|i| world.status(NodeId(i)) == NodeStatus::Up)
            .collect();
        for k in 0..self.windows.len() {
            let w = &self.windows[k];
            if w.converged.is_some() || now < w.heal {
                continue;
            }
            // A server that went down since the frontier was taken may
            // have taken writes nobody else saw with it (AP state is
            // volatile): measure against what the live servers hold.
            let lost = w.up.iter().zip(&up).any(|(&was, &is)| was && !is);
            if w.frontier.is_none() || lost {
                self.windows[k].frontier = Some(self.frontier(world));
                self.windows[k].up.clone_from(&up);
            }
            let f = self.windows[k].frontier.take().expect("frontier taken");
            if self.converged(world, &f) {
                self.windows[k].converged = Some(now);
            }
            self.windows[k].frontier = Some(f);
        }
    }

    /// Server `n` is a new process (boot or restart): retire the old
    /// life's counters and reseed the checkers' view of it.
    fn new_life(&mut self, world: &World<CollabNode>, n: usize) {
        let id = NodeId(n as u32);
        self.restarts[n] = world.node_counters(id).restarts;
        let last = std::mem::take(&mut self.last_stats[n]);
        self.retired.add(&last);
        let last = std::mem::take(&mut self.last_ap[n]);
        self.retired_ap.add(&last);
        let last = std::mem::take(&mut self.last_counters[n]);
        self.retired_counters.add(&last);
        let Some(s) = world.node(id).and_then(server_ref) else {
            return;
        };
        if self.check && s.raft.is_some() {
            self.safety.node_restarted(id);
        }
        self.checker.server_started(n, s.sm);
        self.last_stats[n] = s.stats;
    }

    /// AP: every copy must be done (another side may still hold work),
    /// every partition healed and converged, and every copy the same.
    fn all_done(&self, world: &World<CollabNode>) -> bool {
        let mut up = self.up_servers(world).filter_map(CollabNode::ap_server);
        up.all(|s| done(s.state(), self.arrivals, self.redrives))
            && self.windows.iter().all(|w| w.converged.is_some())
            && copies_differ(world, self.servers).is_none()
    }
}

/// AP: the first difference between two up servers' copies, in words.
fn copies_differ(world: &World<CollabNode>, servers: u32) -> Option<String> {
    let copies: Vec<(u32, &ApServer)> = (0..servers)
        .filter(|&i| world.status(NodeId(i)) == NodeStatus::Up)
        .filter_map(|i| {
            world
                .node(NodeId(i))
                .and_then(CollabNode::ap_server)
                .map(|s| (i, s))
        })
        .collect();
    let (a, pa) = *copies.first()?;
    let sa = pa.state();
    for &(b, pb) in &copies[1..] {
        let sb = pb.state();
        if sa.workflows().len() != sb.workflows().len() {
            return Some(format!(
                "server {a} holds {} workflows, server {b} holds {}",
                sa.workflows().len(),
                sb.workflows().len()
            ));
        }
        let task = sa.tasks().iter().zip(sb.tasks()).position(|(x, y)| x != y);
        let wf = match task {
            Some(i) => sa.tasks()[i].workflow as usize,
            None => match sa
                .workflows()
                .iter()
                .zip(sb.workflows())
                .position(|(x, y)| x != y)
            {
                Some(w) => w,
                None => {
                    // Dead letters are kept in merge order: compare sets.
                    let key = |s: &WorkflowState| {
                        let mut v: Vec<(u32, u64, u32)> = s
                            .dead_letters()
                            .iter()
                            .map(|d| (d.task, d.at.0, d.attempts))
                            .collect();
                        v.sort_unstable();
                        v
                    };
                    if key(sa) != key(sb) {
                        return Some(format!(
                            "servers {a} and {b} hold different dead-letter queues ({} vs {} entries)",
                            sa.dead_letters().len(),
                            sb.dead_letters().len()
                        ));
                    }
                    continue;
                }
            },
        };
        let meta = |p: &ApServer| {
            p.meta().get(wf).map_or("no metadata".into(), |m| {
                format!("vector {:?}, last write {:?}", m.vv, m.stamp)
            })
        };
        let what = match task {
            Some(i) => {
                let (x, y) = (&sa.tasks()[i], &sb.tasks()[i]);
                format!(
                    "task {i}: {} v{} by {:?} at {} vs {} v{} by {:?} at {}",
                    x.status.name(),
                    x.version,
                    x.result.map(|o| o.agent.0),
                    x.finished_at,
                    y.status.name(),
                    y.version,
                    y.result.map(|o| o.agent.0),
                    y.finished_at
                )
            }
            None => "the workflow record".into(),
        };
        return Some(format!(
            "servers {a} and {b} hold different copies of workflow {wf} ({what}; server {a}: {}; server {b}: {})",
            meta(pa),
            meta(pb)
        ));
    }
    None
}

/// Every workflow submitted and no task can make progress.
fn done(sm: &WorkflowState, arrivals: usize, redrives: u32) -> bool {
    sm.workflows().len() == arrivals && sm.live_tasks(redrives) == 0
}

impl Observer<CollabNode> for CollabObserver {
    fn after_event(&mut self, world: &World<CollabNode>, ev: &Dispatched) {
        if self.ap {
            let range = match ev.node {
                Some(n) if ev.kind != DispatchKind::Fault => n.0..(n.0 + 1).min(self.servers),
                _ => 0..self.servers,
            };
            for i in range {
                let id = NodeId(i);
                let active = world
                    .node(id)
                    .and_then(CollabNode::ap_server)
                    .is_some_and(ApServer::is_active);
                let status = world.status(id);
                self.metrics
                    .observe_coordinator(i as usize, status, active, world.now());
            }
        } else {
            self.metrics.observe(
                world,
                ev.node,
                ev.kind == DispatchKind::Fault,
                CollabNode::raft,
            );
        }
        if ev.kind == DispatchKind::Fault {
            self.refresh_activity(world);
        }
        if ev.kind == DispatchKind::Fault {
            self.last_fault_at = world.now();
        }
        // Every event (a no-op unless the fault log grew).
        self.liveness.faults(world.applied_faults());
        if !self.ap {
            self.liveness
                .leader(world.now(), self.metrics.leader_known());
        }
        // Convergence is looked at on faults and at most every 5 ms
        // otherwise: a scan reads every copy's vectors.
        if !self.windows.is_empty()
            && (ev.kind == DispatchKind::Fault
                || (ev.node.is_some_and(|n| n.0 < self.servers)
                    && world.now() >= self.next_window_check))
        {
            self.next_window_check = world.now() + SimDuration::from_millis(5);
            self.track_windows(world);
        }
        if ev.kind == DispatchKind::Fault {
            // A restart runs inside the fault event that restarts the node
            // (one fault may restart several), not as a `Start`.
            for i in 0..self.servers as usize {
                if world.node_counters(NodeId(i as u32)).restarts != self.restarts[i] {
                    self.new_life(world, i);
                }
            }
        }
        let Some(id) = ev.node.filter(|n| n.0 < self.servers) else {
            return;
        };
        let n = id.index();
        let Some(node) = world.node(id) else {
            return;
        };
        let Some(s) = server_ref(node) else {
            return;
        };
        if ev.kind == DispatchKind::Start {
            self.new_life(world, n);
        }
        self.last_stats[n] = s.stats;
        if let Some(a) = node.ap_server() {
            if a.ap_stats().writes != self.last_ap[n].writes {
                self.last_write_at = world.now();
            }
            self.last_ap[n] = a.ap_stats();
            self.last_counters[n] = a.state().counters();
        }
        if self.check {
            if let Some(r) = s.raft {
                self.safety.observe(world.now(), r);
            }
            self.checker.now = world.now();
            self.checker.observe(n, s.sm);
        }
        if s.active != self.active[n] {
            self.refresh_activity(world);
        }
        if self.stop_when_done && (self.ap || s.active) && world.now() >= self.next_done_check {
            self.next_done_check = world.now() + SimDuration::from_millis(250);
            self.done = if self.ap {
                self.all_done(world)
            } else {
                done(s.sm, self.arrivals, self.redrives)
            };
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
                if let Some(ap) = factory_cfg.ap {
                    let cfg = Rc::clone(&factory_cfg);
                    return Ok(CollabNode::ApServer(Box::new(ApServer::new(id, cfg, ap))));
                }
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
        ap: cfg.ap.is_some(),
        active: vec![false; servers as usize],
        max_active: 0,
        activations: Vec::new(),
        gaps: Vec::new(),
        gap_since: Some(SimTime::ZERO),
        last_stats: vec![DispatchStats::default(); servers as usize],
        restarts: vec![0; servers as usize],
        retired: DispatchStats::default(),
        last_ap: vec![ApStats::default(); servers as usize],
        retired_ap: ApStats::default(),
        last_counters: vec![Counters::default(); servers as usize],
        retired_counters: Counters::default(),
        last_write_at: SimTime::ZERO,
        last_fault_at: SimTime::ZERO,
        next_window_check: SimTime::ZERO,
        windows: partition_windows(spec),
        stop_when_done: wspec.stop_when_done,
        arrivals: cfg.arrivals.len(),
        redrives: cfg.redrives,
        next_done_check: SimTime::ZERO,
        done: false,
        liveness: LivenessTracker::new(),
    };
    let cap = install_event_cap(&mut world, scenario);
    super::install_progress(&mut world, opts);
    world.run(&mut obs);
    let stop = world.now();
    obs.metrics.finish(stop);
    if let Some(since) = obs.gap_since.take() {
        obs.gaps.push((since, stop));
    }

    // The most up-to-date server's state is the final word: CP, the one
    // that applied the most; AP, an up server coordinating at the end (the
    // lowest id), else the up copy holding the most workflows.
    let final_server = if cfg.ap.is_some() {
        (0..servers)
            .filter_map(|i| {
                let a = world.node(NodeId(i)).and_then(CollabNode::ap_server)?;
                let up = world.status(NodeId(i)) == NodeStatus::Up;
                let key = (up, up && a.is_active(), a.state().workflows().len());
                Some((key, std::cmp::Reverse(i)))
            })
            .max()
            .map(|(_, i)| i.0)
    } else {
        (0..servers)
            .filter_map(|i| {
                let r = world.node(NodeId(i)).and_then(CollabNode::raft)?;
                Some((r.last_applied().0, i))
            })
            .max()
            .map(|(_, i)| i)
    };
    let empty = WorkflowState::default();
    let sm = final_server
        .and_then(|i| world.node(NodeId(i)).and_then(server_ref))
        .map_or(&empty, |s| s.sm);
    let mut checks = Checks {
        ok: true,
        ..Default::default()
    };
    event_storm_check(&world, cap, &mut checks);
    let liveness_json = if opts.skip_checkers {
        json!({"not_judged": "checkers skipped"})
    } else {
        collab_liveness(scenario, &world, &obs, &raft_spec, &mut checks)
    };
    if !opts.skip_checkers {
        obs.checker.finish(sm);
        if cfg.ap.is_none() {
            checks.record(
                "safety",
                obs.safety
                    .violations()
                    .first()
                    .map(|v| format!("{} violated at {}: {}", v.property, v.time, v.message)),
            );
        }
        if cfg.ap.is_some() {
            // Eventual consistency, two ways: every partition that healed
            // long enough before the end converged (each copy caught up
            // with every write made before the heal), and once no work is
            // left anywhere, every up copy holds the same workflows. A run
            // cut off mid-work or right after a heal is not judged.
            let margin = cfg
                .ap
                .map_or(SimDuration::ZERO, |a| {
                    SimDuration::from_micros(20 * a.gossip.as_micros())
                })
                .max(SimDuration::from_millis(2000));
            let stuck = obs
                .windows
                .iter()
                .find(|w| w.converged.is_none() && w.heal + margin <= stop)
                .map(|w| {
                    format!(
                        "the partition healed at {} ms, and {} ms later the copies still had not caught up with each other",
                        ms(w.heal),
                        ms(stop) - ms(w.heal)
                    )
                });
            // Quiescent: no command applied and no fault for the margin,
            // and every pair of up servers connected: then gossip has had
            // time to bring every copy to the same state.
            let up: Vec<NodeId> = (0..servers)
                .map(NodeId)
                .filter(|&i| world.status(i) == NodeStatus::Up)
                .collect();
            let net = world.network();
            let connected = up
                .iter()
                .all(|&a| up.iter().all(|&b| a == b || net.connected(a, b)));
            let quiet_since = obs.last_write_at.max(obs.last_fault_at);
            let quiescent = connected && quiet_since + margin <= stop;
            let differ = quiescent
                .then(|| copies_differ(&world, servers))
                .flatten()
                .map(|d| {
                    format!(
                        "{} ms without writes or faults, all servers connected, yet the copies differ: {d}",
                        ms(stop) - ms(quiet_since)
                    )
                });
            checks.record("workflow.converged", stuck.or(differ));
        }
        for p in [
            "exactly_once",
            "dag_order",
            "versions",
            "arbiter",
            "no_lost_results",
            "dead_letters_reported",
        ] {
            // AP gives these up by design; their violations are the
            // trade-off numbers of the report, not failures.
            if cfg.ap.is_some() && AP_WAIVED.iter().any(|(w, _)| *w == p) {
                continue;
            }
            checks.record(&format!("workflow.{p}"), obs.checker.failure(p));
        }
    }
    let mut dispatch = obs.retired;
    for s in &obs.last_stats {
        dispatch.add(s);
    }
    let mut agent_stats = AgentStats::default();
    let mut dead_agents = 0;
    let mut executions: Vec<u32> = vec![0; sm.tasks().len()];
    for i in servers..servers + agents {
        if let Some(a) = world.node(NodeId(i)).and_then(CollabNode::agent) {
            let s = a.stats();
            agent_stats.executed += s.executed;
            agent_stats.transient_failures += s.transient_failures;
            agent_stats.tokens = agent_stats.tokens.saturating_add(s.tokens);
            agent_stats.busy_us += s.busy_us;
            agent_stats.result_resends += s.result_resends;
            agent_stats.results_abandoned += s.results_abandoned;
            agent_stats.duplicates_discarded += s.duplicates_discarded;
            agent_stats.refused += s.refused;
            agent_stats.overtakes += s.overtakes;
            dead_agents += u64::from(a.is_dead());
            for &t in a.completed_tasks() {
                if let Some(c) = executions.get_mut(t as usize) {
                    *c += 1;
                }
            }
        }
    }
    let mut collab = collab_json(&cfg, sm, &obs, &dispatch, &agent_stats, dead_agents, stop);
    let consistency = consistency_json(&cfg, &obs, &executions, !opts.skip_checkers);
    if let Some(m) = collab.as_object_mut() {
        m.insert("consistency_metrics".into(), consistency);
    }
    if let Some(max) = spec
        .expect
        .as_ref()
        .and_then(|e| e.max_elections_after_heal)
    {
        // Validation admits it for Raft coordinators only.
        super::raft::elections_expectation(obs.liveness.settled(), &obs.metrics, max, &mut checks);
    }
    delivery_expectation(scenario, &world, &mut checks);
    let line = summary_line(&collab);
    if let Some(m) = collab.as_object_mut() {
        m.insert("summary".into(), json!(line));
    }
    let mut report = base_report(scenario, &world, checks);
    let extra = &mut report.extra;
    extra.insert("collab".into(), collab);
    extra.insert("liveness".into(), liveness_json);
    extra.insert("elections".into(), obs.metrics.elections_json());
    extra.insert("max_term".into(), json!(obs.metrics.max_term));
    extra.insert(
        "leader_loss_downtime_ms".into(),
        obs.metrics.downtime_json(),
    );
    extra.insert(
        "election_after_leader_loss_ms".into(),
        obs.metrics.election_after_loss_json(),
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

/// Liveness of a collaboration run. CP: the coordinator is the Raft
/// leader, so `liveness.leader` is judged as for a KV cluster. AP: the
/// coordinator is whichever up server thinks it is; its liveness, and the
/// workflow's own (tasks keep completing after the faults end), are issue
/// #15's and are recorded as not judged here, never passed.
fn collab_liveness(
    scenario: &Scenario,
    world: &World<CollabNode>,
    obs: &CollabObserver,
    raft_spec: &scenario::RaftSpec,
    checks: &mut Checks,
) -> Value {
    let spec = &scenario.spec;
    // The hook for workflow liveness (issue #15): tasks complete again
    // within a window after the faults end.
    checks.not_judged(
        "liveness.workflow",
        "workflow progress after the faults end is not checked yet (issue #15)".into(),
    );
    if obs.ap {
        checks.not_judged(
            "liveness.leader",
            "an AP coordinator has no Raft leader; coordinator liveness under AP is issue #15"
                .into(),
        );
        return json!({"not_judged": "AP coordinator (issue #15)"});
    }
    let leader = spec
        .expect
        .as_ref()
        .and_then(|e| e.leader_within_ms_after_heal)
        .map(SimDuration::from_millis_f64)
        .unwrap_or_else(|| liveness::default_leader_window(raft_spec.election_timeout_ms[1]));
    let windows = Windows {
        leader: Some(leader),
        progress: None,
    };
    // A run that stopped early because no task can progress ends there.
    obs.liveness
        .judge(&end_state(world, obs.servers), &windows, checks)
}

/// The one line `agentsim run` prints for the `collab` section.
fn summary_line(c: &Value) -> String {
    let f = |v: &Value| v.as_f64().unwrap_or(0.0);
    let m = &c["consistency_metrics"];
    let mut line = format!(
        "{}/{}: {}/{} workflows, makespan {:.1} s, workflow p50 {:.2} s, {:.0} k tokens, {:.1}% correct",
        c["mode"].as_str().unwrap_or("?"),
        c["consistency"].as_str().unwrap_or("?"),
        c["workflows"]["completed"],
        c["workflows"]["scheduled"],
        f(&c["makespan_ms"]) / 1000.0,
        f(&c["workflows"]["latency_ms"]["p50"]) / 1000.0,
        f(&c["tokens"]["spent"]) / 1000.0,
        f(&c["quality"]["correct_fraction"]) * 100.0,
    );
    line.push_str(&format!(
        ", {} failover(s), {} dead letter(s), {} duplicate execution(s)",
        c["coordinator"]["failovers"], c["dead_letters"]["count"], m["duplicate_executions"]
    ));
    if let Some(n) = m["conflicting_results"].as_u64().filter(|&n| n > 0) {
        line.push_str(&format!(", {n} conflicting result(s)"));
    }
    line
}

/// Workflow checks an AP coordinator does not promise, and why.
const AP_WAIVED: [(&str, &str); 2] = [
    (
        "exactly_once",
        "two sides of a partition each commit a result for the same task; counted in conflicting_results",
    ),
    (
        "no_lost_results",
        "last-writer-wins drops the losing side's results at the merge; counted in results_lost",
    ),
];

/// The numbers that tell CP and AP apart: how many coordinators ran at
/// once, work done twice, results that conflicted or were lost, and per
/// scripted partition the tasks completed during it and the time from its
/// heal until every server reflected every write made before the heal.
fn consistency_json(
    cfg: &CollabConfig,
    obs: &CollabObserver,
    executions: &[u32],
    checked: bool,
) -> Value {
    let duplicates: u64 = executions
        .iter()
        .map(|&c| u64::from(c.saturating_sub(1)))
        .sum();
    let repeated = executions.iter().filter(|&&c| c > 1).count();
    let c = &obs.checker;
    let windows: Vec<Value> = obs
        .windows
        .iter()
        .map(|w| {
            json!({
                "start_ms": ms(w.start),
                "heal_ms": ms(w.heal),
                "tasks_completed_during": checked.then(|| c.first_done_between(w.start, w.heal)),
                "converged_ms_after_heal": w.converged.map(|t| ms(t) - ms(w.heal)),
            })
        })
        .collect();
    let mut ap = obs.retired_ap;
    for s in &obs.last_ap {
        ap.add(s);
    }
    json!({
        "model": if cfg.ap.is_some() { "ap" } else { "cp" },
        "max_coordinators_at_once": obs.max_active,
        "duplicate_executions": duplicates,
        "tasks_executed_more_than_once": repeated,
        "conflicting_results": checked.then_some(c.conflicts),
        "results_lost": checked.then_some(c.lost_results),
        "partitions": windows,
        "ap": cfg.ap.map(|a| json!({
            "gossip_ms": a.gossip.as_millis_f64(),
            "suspect_ms": a.suspect.as_millis_f64(),
            "syncs_sent": ap.syncs_sent,
            "records_sent": ap.records_sent,
            "adopted": ap.adopted,
            "concurrent_versions": ap.concurrent,
            "overwritten_by_merge": ap.overwritten,
            "local_writes": ap.writes,
            "rejected_writes": ap.rejected,
            "activations": ap.activations,
            "waived_checks": AP_WAIVED.iter().map(|(k, why)| (format!("workflow.{k}"), json!(why))).collect::<Map<String, Value>>(),
        })),
    })
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
            tokens_committed = tokens_committed.saturating_add(o.tokens);
            m.tokens = m.tokens.saturating_add(o.tokens);
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
    let c = if cfg.ap.is_some() {
        // Each AP copy counts only the commands it applied itself.
        let mut c = obs.retired_counters;
        for x in &obs.last_counters {
            c.add(x);
        }
        c
    } else {
        sm.counters()
    };
    let (competitors, competitors_total) = competitors_json(&cfg.arbiter, tasks);
    let failovers = obs.activations.len().saturating_sub(1);
    json!({
        "mode": cfg.mode.name(),
        "consistency": if cfg.ap.is_some() { "ap" } else { "cp" },
        "agents": {"count": cfg.agents.len(), "dead": dead_agents, "lost_detected": d.agents_lost, "executed": a.executed, "transient_failures": a.transient_failures, "busy_ms": a.busy_us as f64 / 1000.0, "overtakes": a.overtakes, "refused": a.refused},
        "workflows": {"scheduled": cfg.arrivals.len(), "submitted": wfs.len(), "completed": completed_wfs, "latency_ms": wf_latency.summary_json()},
        "tasks": {"total": tasks.len(), "by_status": by_status, "open_at_end": open},
        "makespan_ms": makespan,
        "task_latency_ms": latency.summary_json(),
        "tokens": tokens_json(tokens_committed, a.tokens, results),
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
        "competitors": competitors, "competitors_total": competitors_total,
        "pending_at_end": pending,
        "gantt": gantt,
        "gantt_total": gantt_total,
    })
}

/// The `tokens` section. Totals add with saturation; a total that reached
/// `u64::MAX` is marked `"saturated": true` (the key is absent otherwise).
fn tokens_json(committed: u64, spent: u64, results: u64) -> Value {
    let mut v = json!({"committed": committed, "spent": spent, "per_completed_task": if results > 0 { committed as f64 / results as f64 } else { 0.0 }});
    if committed == u64::MAX || spent == u64::MAX {
        v["saturated"] = json!(true);
        v["note"] = json!("a token total reached 2^64-1 and stopped there (saturating addition): the true total is larger");
    }
    v
}

/// Points of the competitor list (the quality-vs-tokens plot).
const COMPETITOR_CAP: usize = 2000;

/// Every race entry with a committed result, in task id order, as the
/// arbiter saw it: tokens, weighted score, utility (its rule's value) and
/// whether it won its race. Returns the first [`COMPETITOR_CAP`] points and
/// the total, so a truncated list is visible. Reads the final state only.
fn competitors_json(
    a: &ArbiterConfig,
    tasks: &[crate::collab::coordinator::Task],
) -> (Vec<Value>, u64) {
    let mut points = Vec::new();
    let mut total = 0u64;
    for (i, t) in tasks.iter().enumerate() {
        let (TaskKind::Entry, Some(o), Some(race)) = (t.spec.kind, t.result, t.spec.judge) else {
            continue;
        };
        total += 1;
        if points.len() < COMPETITOR_CAP {
            let winner = tasks[race as usize].winner == Some(i as u32);
            points.push(json!({"race": race, "task": i, "agent": o.agent.0, "tokens": o.tokens, "score": o.score(&a.weights), "utility": competitive::utility(a, &o), "correct": o.correct, "winner": winner}));
        }
    }
    (points, total)
}
