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
use crate::check::convergence::{self, copies_differ};
use crate::check::liveness::{self, LivenessTracker, Windows};
use crate::check::raft_safety::RaftSafety;
use crate::check::workflow::WorkflowChecker;
use crate::collab::agent::{Agent, AgentStats, CollabRecord};
use crate::collab::ap::{ApServer, ApStats};
use crate::collab::coordinator::{Counters, WorkflowState};
use crate::collab::dispatcher::DispatchStats;
use crate::collab::node::Coordinator;
use crate::collab::CollabNode;
use crate::ids::NodeId;
use crate::metrics::collab::{
    collab_json, consistency_json, server_ref, summary_line, up_servers, Activity,
    PartitionWindows, AP_WAIVED,
};
use crate::metrics::raft::RaftMetrics;
use crate::metrics::Checks;
use crate::raft::RaftNode;
use crate::scenario::{self, Scenario};
use crate::sim::{DispatchKind, Dispatched, NodeStatus, Observer, World};
use crate::time::{SimDuration, SimTime};
use serde_json::{json, Value};
use std::rc::Rc;

pub use crate::scenario::convert::collab_config;

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
    activity: Activity,
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
    windows: PartitionWindows,
    stop_when_done: bool,
    arrivals: usize,
    redrives: u32,
    next_done_check: SimTime,
    done: bool,
    liveness: LivenessTracker,
}

impl CollabObserver {
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
        let mut up = up_servers(world, self.servers).filter_map(CollabNode::ap_server);
        up.all(|s| done(s.state(), self.arrivals, self.redrives))
            && self.windows.all_converged()
            && copies_differ(&ap_copies(world, self.servers)).is_none()
    }
}

/// AP: (id, server) of every up server.
fn ap_copies(world: &World<CollabNode>, servers: u32) -> Vec<(u32, &ApServer)> {
    (0..servers)
        .filter(|&i| world.status(NodeId(i)) == NodeStatus::Up)
        .filter_map(|i| {
            world
                .node(NodeId(i))
                .and_then(CollabNode::ap_server)
                .map(|s| (i, s))
        })
        .collect()
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
            self.activity.refresh(world);
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
            self.windows.track(world);
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
        if s.active != self.activity.is_active(n) {
            self.activity.refresh(world);
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
        activity: Activity::new(servers),
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
        windows: PartitionWindows::new(spec, servers, cfg.ap.is_some()),
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
    obs.activity.finish(stop);

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
        if let Some(ap) = cfg.ap {
            // Quiescent: no command applied and no fault for the margin,
            // and every pair of up servers connected: then gossip has had
            // time to bring every copy to the same state.
            let up: Vec<NodeId> = (0..servers)
                .map(NodeId)
                .filter(|&i| world.status(i) == NodeStatus::Up)
                .collect();
            let net = world.network();
            let end = convergence::EndOfRun {
                stop,
                margin: convergence::margin(ap.gossip),
                windows: obs
                    .windows
                    .windows
                    .iter()
                    .map(|w| (w.heal, w.converged.is_some()))
                    .collect(),
                quiet_since: obs.last_write_at.max(obs.last_fault_at),
                connected: up
                    .iter()
                    .all(|&a| up.iter().all(|&b| a == b || net.connected(a, b))),
            };
            let failure = convergence::verdict(&end, || copies_differ(&ap_copies(&world, servers)));
            checks.record("workflow.converged", failure);
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
                if let Some(c) = executions.get_mut(t.index()) {
                    *c += 1;
                }
            }
        }
    }
    let mut ap_counters = obs.retired_counters;
    for x in &obs.last_counters {
        ap_counters.add(x);
    }
    let mut ap_stats = obs.retired_ap;
    for s in &obs.last_ap {
        ap_stats.add(s);
    }
    let mut collab = collab_json(
        &cfg,
        sm,
        &obs.activity,
        ap_counters,
        &dispatch,
        &agent_stats,
        dead_agents,
        stop,
    );
    let consistency = consistency_json(
        &cfg,
        &obs.activity,
        &obs.windows,
        &obs.checker,
        ap_stats,
        &executions,
        !opts.skip_checkers,
    );
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
