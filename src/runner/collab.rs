//! Collaboration worlds: coordinator servers (Raft, or AP copies that
//! gossip) plus agents. Builds the [`CollabConfig`] from the scenario
//! (arrivals drawn from the seed's `workflow` stream), runs with the
//! observer of `collab_observer.rs`, and at the end records the workflow,
//! safety, convergence and liveness checks and writes the `collab` report
//! section.
//!
//! [`CollabConfig`]: crate::collab::CollabConfig

use super::collab_observer::{ap_copies, AgentLives, CollabObserver};
use super::raft::raft_config;
use super::{end_state, Byproducts, Finished, RunKind, RunOptions};
use crate::check::convergence::{self, copies_differ};
use crate::check::liveness::{self, LivenessTracker, Windows};
use crate::check::names::{CheckName, Expectation, LivenessCheck, WorkflowProperty};
use crate::check::raft_safety::RaftSafety;
use crate::check::workflow::WorkflowChecker;
use crate::check::workflow_liveness;
use crate::collab::agent::{Agent, CollabRecord};
use crate::collab::ap::{ApServer, ApStats};
use crate::collab::coordinator::{Counters, WorkflowState};
use crate::collab::dispatcher::DispatchStats;
use crate::collab::messages::CollabMsg;
use crate::collab::node::Coordinator;
use crate::collab::{CollabConfig, CollabNode};
use crate::ids::NodeId;
use crate::metrics::collab::{
    collab_tables, consistency_metrics, gantt_window, run_data, server_ref, summary_line, Activity,
    PartitionWindows, TrueTimes, AP_WAIVED,
};
use crate::metrics::collab_tables::CollabTables;
use crate::metrics::raft::RaftMetrics;
use crate::metrics::sections::{
    CollabSafetySection, CollabSection, LivenessSection, LivenessWindow,
};
use crate::metrics::{Checks, Report};
use crate::raft::{RaftConfig, RaftNode};
use crate::scenario::{self, Scenario};
use crate::sim::{NodeStatus, World};
use crate::time::{SimDuration, SimTime};
use std::rc::Rc;

pub use crate::scenario::convert::collab_config;

/// A collaboration run: `servers` coordinator servers, then the agents.
pub(super) struct CollabKind {
    servers: u32,
    raft_spec: scenario::RaftSpec,
    raft: RaftConfig,
    /// Shared by every process of the world (and read by the observer).
    cfg: Rc<CollabConfig>,
}

impl RunKind for CollabKind {
    type Process = CollabNode;
    type Observer = CollabObserver;

    fn new(scenario: &Scenario) -> Self {
        let spec = &scenario.spec;
        let wspec = spec.workflow.as_ref().expect("collab run needs a workflow");
        let servers = spec.cluster.nodes;
        let raft_spec = spec.cluster.raft.clone().unwrap_or_default();
        let raft = raft_config(servers, &raft_spec, spec.bug.as_deref());
        let mut cfg = collab_config(wspec, servers, spec.seed);
        cfg.bug = spec
            .bug
            .as_deref()
            .and_then(crate::collab::CoordBug::from_name);
        CollabKind {
            servers,
            raft_spec,
            raft,
            cfg: Rc::new(cfg),
        }
    }

    fn world(&self, scenario: &Scenario) -> World<CollabNode> {
        let servers = self.servers;
        let bug = self.cfg.bug;
        let rcfg = self.raft.clone();
        let cfg = Rc::clone(&self.cfg);
        let agents = self.cfg.agents.len() as u32;
        let world = World::new(
            scenario.world_config(scenario.spec.seed),
            servers + agents,
            Box::new(move |id: NodeId, records: &[CollabRecord]| {
                if id.0 < servers {
                    if let Some(ap) = cfg.ap {
                        let cfg = Rc::clone(&cfg);
                        return Ok(CollabNode::ApServer(Box::new(ApServer::new(id, cfg, ap))));
                    }
                    RaftNode::recover_with(id, rcfg.clone(), WorkflowState::with_bug(bug), records)
                        .map(|r| CollabNode::Server(Box::new(Coordinator::new(r, Rc::clone(&cfg)))))
                        .map_err(|e| e.to_string())
                } else {
                    // Boot and every restart: identity and profile come
                    // from the config; inbox, in-flight work, pending
                    // results and dedupe window start empty (an agent
                    // keeps nothing durable).
                    Ok(CollabNode::Agent(Box::new(Agent::new(id, Rc::clone(&cfg)))))
                }
            }),
        );
        match world {
            Ok(mut w) => {
                // Agents are fault targets like servers: crash, pause, clock, isolate.
                w.set_agents(agents);
                // Scripted approvals are events of the world, at their
                // true time, delivered to every coordinator server.
                for &(at, stage) in &self.cfg.approvals {
                    for i in 0..servers {
                        w.input(
                            at,
                            NodeId(i),
                            CollabMsg::Approval {
                                stage: stage as u16,
                            },
                        );
                    }
                }
                // Workflow arrivals too: each is an event at its true
                // time (the servers' clocks may run fast or slow), naming
                // every workflow arrived so far.
                for (i, a) in self.cfg.arrivals.iter().enumerate() {
                    for s in 0..servers {
                        w.input(a.at, NodeId(s), CollabMsg::Arrival { upto: i as u32 + 1 });
                    }
                }
                w
            }
            Err(e) => unreachable!("a validated scenario builds its world: {e}"),
        }
    }

    fn observer(&self, scenario: &Scenario, opts: &RunOptions) -> CollabObserver {
        let spec = &scenario.spec;
        let (servers, cfg) = (self.servers, &self.cfg);
        let n = servers as usize;
        CollabObserver {
            safety: RaftSafety::new(servers),
            metrics: RaftMetrics::new(servers),
            checker: WorkflowChecker::new(servers, cfg.arbiter).with_approvals(
                cfg.approvals
                    .iter()
                    .map(|&(at, s)| (at, s as u16))
                    .collect(),
                cfg.human_delay.is_some(),
            ),
            servers,
            check: !opts.skip_checkers,
            ap: cfg.ap.is_some(),
            activity: Activity::new(servers),
            last_stats: vec![DispatchStats::default(); n],
            restarts: vec![0; n],
            retired: DispatchStats::default(),
            last_ap: vec![ApStats::default(); n],
            retired_ap: ApStats::default(),
            last_counters: vec![Counters::default(); n],
            retired_counters: Counters::default(),
            last_write_at: SimTime::ZERO,
            last_fault_at: SimTime::ZERO,
            next_window_check: SimTime::ZERO,
            windows: PartitionWindows::new(spec, servers, cfg.ap.is_some()),
            stop_when_done: spec.workflow.as_ref().is_some_and(|w| w.stop_when_done),
            arrivals: cfg.arrivals.len(),
            redrives: cfg.redrives,
            next_done_check: SimTime::ZERO,
            // A run is not "done" while a scripted fault is still to come
            // or still in force (a crashed agent that restarts later can
            // take a dead-lettered task back).
            quiet_from: scripted_faults_end(spec, cfg.heartbeat + cfg.heartbeat),
            done: false,
            liveness: LivenessTracker::new(),
            times: TrueTimes::new(servers),
            agents: AgentLives::new(cfg.agents.len()),
        }
    }

    fn finish(
        self,
        run: Finished<'_, CollabNode>,
        mut obs: CollabObserver,
        report: &mut Report,
    ) -> Byproducts {
        let Finished {
            scenario,
            opts,
            world,
        } = run;
        let (servers, cfg) = (self.servers, &*self.cfg);
        let stop = world.now();
        obs.metrics.finish(stop);
        obs.activity.finish(stop);

        let empty = WorkflowState::default();
        let sm = final_server(world, servers, cfg.ap.is_some())
            .and_then(|i| world.node(NodeId(i)).and_then(server_ref))
            .map_or(&empty, |s| s.sm);
        let checks = &mut report.checks;
        let mut liveness = if opts.skip_checkers {
            LivenessSection::not_judged("checkers skipped")
        } else {
            collab_liveness(scenario, world, &obs, &self.raft_spec, checks)
        };
        if !opts.skip_checkers {
            obs.checker.finish(sm);
            workflow_checks(world, &obs, cfg, stop, checks);
        }
        let mut dispatch = obs.retired;
        for s in &obs.last_stats {
            dispatch.add(s);
        }
        let agents_end = servers + cfg.agents.len() as u32;
        let dead_agents = dead_agents(world, servers..agents_end);
        // Every life of every agent (a crash loses the process's own).
        let agent_stats = obs.agents.total();
        let executions = obs.agents.executions(sm.tasks().len());
        let mut ap_counters = obs.retired_counters;
        for x in &obs.last_counters {
            ap_counters.add(x);
        }
        let mut ap_stats = obs.retired_ap;
        for s in &obs.last_ap {
            ap_stats.add(s);
        }
        let mut collab = collab_tables(
            cfg,
            sm,
            &obs.activity,
            ap_counters,
            &dispatch,
            &agent_stats,
            dead_agents,
            stop,
            &obs.times,
        );
        let consistency = consistency_metrics(
            cfg,
            &obs.activity,
            &obs.windows,
            &obs.checker,
            ap_stats,
            &executions,
            !opts.skip_checkers,
        );
        collab.consistency_metrics = Some(consistency);
        if let Some(w) = opts.gantt_window_ms {
            let (rows, in_window) = gantt_window(sm, &obs.times, w);
            collab.gantt = rows;
            collab.gantt_window_ms = Some([w.0, w.1]);
            collab.gantt_in_window = Some(in_window);
        }
        if let Some(max) = scenario
            .spec
            .expect
            .as_ref()
            .and_then(|e| e.max_elections_after_heal)
        {
            // Validation admits it for Raft coordinators only.
            super::raft::elections_expectation(obs.liveness.settled(), &obs.metrics, max, checks);
        }
        if !opts.skip_checkers {
            liveness.workflows = Some(workflow_liveness(scenario, world, &obs, cfg, sm, checks));
            slo_expectations(scenario, &collab, checks);
        }
        collab.summary = Some(summary_line(&collab));
        report.collab = Some(CollabSection {
            leadership: obs
                .metrics
                .leadership(report.network.as_ref().map(|n| n.messages_by_type.clone())),
            collab,
            liveness,
            safety: CollabSafetySection {
                ok: !obs.safety.failed(),
                observations: obs.safety.observations(),
                workflow_changes_observed: obs.checker.observed,
                journal_gaps: obs.checker.gaps,
            },
        });
        Byproducts {
            collab: Some(run_data(sm, &obs.times, stop)),
            ..Byproducts::default()
        }
    }
}

/// The server whose state is the final word: CP, the one that applied the
/// most; AP, an up server coordinating at the end (the lowest id), else
/// the up copy holding the most workflows.
fn final_server(world: &World<CollabNode>, servers: u32, ap: bool) -> Option<u32> {
    if ap {
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
    }
}

/// Raft safety (CP), convergence (AP) and the workflow checker's
/// properties (AP skips the ones it gives up by design).
fn workflow_checks(
    world: &World<CollabNode>,
    obs: &CollabObserver,
    cfg: &CollabConfig,
    stop: SimTime,
    checks: &mut Checks,
) {
    let servers = obs.servers;
    if cfg.ap.is_none() {
        checks.record(
            CheckName::Safety,
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
        let failure = convergence::verdict(&end, || copies_differ(&ap_copies(world, servers)));
        checks.record(CheckName::Workflow(WorkflowProperty::Converged), failure);
    }
    let behind = cfg.ap.is_none() && final_state_behind(world, servers);
    for p in WorkflowProperty::CHECKED {
        // AP gives these up by design; their violations are the
        // trade-off numbers of the report, not failures.
        if cfg.ap.is_some() && AP_WAIVED.iter().any(|(w, _)| *w == p) {
            continue;
        }
        let failure = obs.checker.failure(p.name());
        if p == WorkflowProperty::NoLostResults && failure.is_some() && behind {
            checks.not_judged(
                CheckName::Workflow(p),
                "no server leads at the end and the state judged has not applied its whole log \
                 (a restarted server learns what is committed only from a leader), so it cannot \
                 say what was lost"
                    .into(),
            );
            continue;
        }
        checks.record(CheckName::Workflow(p), failure);
    }
}

/// CP: the final state cannot speak for what was committed. With no up
/// leader at the end, a server that restarted recently holds committed
/// entries in its durable log that it has not applied yet (the commit
/// index is volatile and comes from a leader), so its state lacks results
/// that are not lost. Found by a `--nemesis` sweep with agent faults
/// (agent-faults.json seed 465: the last crash of server 0 at 117.4 s left
/// two freshly restarted servers and no leader; "committed, then missing"
/// for 32 tasks).
fn final_state_behind(world: &World<CollabNode>, servers: u32) -> bool {
    let rafts = || {
        (0..servers)
            .filter(|&i| world.status(NodeId(i)) == NodeStatus::Up)
            .filter_map(|i| world.node(NodeId(i)).and_then(CollabNode::raft))
    };
    let leader = rafts().any(|r| r.raft_role() == crate::raft::RaftRole::Leader);
    let judged = final_server(world, servers, false)
        .and_then(|i| world.node(NodeId(i)).and_then(CollabNode::raft));
    !leader && judged.is_some_and(|r| r.last_applied() < r.last_log_index())
}

/// How many of the agents at `addresses` failed for good (`fail_at_ms`).
fn dead_agents(world: &World<CollabNode>, addresses: std::ops::Range<u32>) -> u64 {
    addresses
        .filter_map(|i| world.node(NodeId(i)).and_then(CollabNode::agent))
        .map(|a| u64::from(a.is_dead()))
        .sum()
}

/// Liveness of the coordinator in a collaboration run. CP: the
/// coordinator is the Raft leader, so `liveness.leader` is judged as for
/// a KV cluster. AP: the coordinator is whichever up server thinks it is;
/// `liveness.leader` is recorded as not judged, never passed (the
/// workflows' own liveness, `liveness.workflows`, is judged for both, in
/// [`workflow_liveness`]).
fn collab_liveness(
    scenario: &Scenario,
    world: &World<CollabNode>,
    obs: &CollabObserver,
    raft_spec: &scenario::RaftSpec,
    checks: &mut Checks,
) -> LivenessSection {
    let spec = &scenario.spec;
    if obs.ap {
        checks.not_judged(
            CheckName::Liveness(LivenessCheck::Leader),
            "an AP coordinator has no Raft leader to wait for (every up server may coordinate \
             from its own copy); the workflows' progress is judged by liveness.workflows"
                .into(),
        );
        return LivenessSection::not_judged(
            "AP coordinator: no Raft leader; see liveness.workflows",
        );
    }
    let stated = spec
        .expect
        .as_ref()
        .and_then(|e| e.leader_within_ms_after_heal);
    let leader = stated
        .map(SimDuration::from_millis_f64)
        .unwrap_or_else(|| liveness::default_leader_window(raft_spec.election_timeout_ms[1]));
    let windows = Windows {
        leader: Some(leader),
        leader_adapts: stated.is_none(),
        progress: None,
    };
    // A run that stopped early because no task can progress ends there.
    obs.liveness
        .judge(&end_state(world, obs.servers), &windows, checks)
}

/// `liveness.workflows` (see [`crate::check::workflow_liveness`]): the
/// window from `expect.workflow_progress_within_ms` or the scenario's
/// default; agents count as live when up, not failed for good, and
/// connected to some up server.
fn workflow_liveness(
    scenario: &Scenario,
    world: &World<CollabNode>,
    obs: &CollabObserver,
    cfg: &CollabConfig,
    sm: &WorkflowState,
    checks: &mut Checks,
) -> LivenessWindow {
    let window = scenario
        .spec
        .expect
        .as_ref()
        .and_then(|e| e.workflow_progress_within_ms)
        .map(SimDuration::from_millis_f64)
        .unwrap_or_else(|| workflow_liveness::default_window(cfg));
    let servers = obs.servers;
    let up_servers: Vec<NodeId> = (0..servers)
        .map(NodeId)
        .filter(|&i| world.status(i) == NodeStatus::Up)
        .collect();
    let net = world.network();
    let live = |i: usize| {
        let id = NodeId(servers + i as u32);
        world.status(id) == NodeStatus::Up
            && world
                .node(id)
                .and_then(CollabNode::agent)
                .is_some_and(|a| !a.is_dead())
            && up_servers.iter().any(|&s| net.connected(id, s))
    };
    let live: Vec<bool> = (0..cfg.agents.len()).map(live).collect();
    let mut needed: Vec<u16> = cfg.stages.iter().map(|s| s.skill).collect();
    needed.sort_unstable();
    needed.dedup();
    let missing_skills = needed
        .into_iter()
        .filter(|&k| {
            !cfg.agents
                .iter()
                .enumerate()
                .any(|(i, a)| live[i] && a.skills.contains(&k))
        })
        .map(|k| cfg.skills[k as usize].clone())
        .collect();
    let arrivals: Vec<SimTime> = cfg.arrivals.iter().map(|a| a.at).collect();
    let run = workflow_liveness::WorkflowRun {
        end: end_state(world, servers),
        settled: obs.liveness.settled(),
        window,
        arrivals: &arrivals,
        gates: cfg
            .approvals
            .iter()
            .map(|a| a.0)
            .max()
            .unwrap_or(SimTime::ZERO),
        missing_skills,
        redrives: cfg.redrives,
    };
    workflow_liveness::judge(&run, sm, &obs.times, checks)
}

/// The workflow SLO expectations (`expect.min_completed_fraction`,
/// `workflow_p99_ms`, `max_tokens_spent`, `max_dead_letters`), read from
/// the `collab` section (true-time latencies, tokens spent by agents).
fn slo_expectations(scenario: &Scenario, collab: &CollabTables, checks: &mut Checks) {
    let Some(e) = scenario.spec.expect.as_ref() else {
        return;
    };
    if let Some(min) = e.min_completed_fraction {
        let scheduled = collab.workflows.scheduled as f64;
        let completed = collab.workflows.completed as f64;
        let frac = if scheduled > 0.0 {
            completed / scheduled
        } else {
            1.0
        };
        checks.record(
            CheckName::Expect(Expectation::MinCompletedFraction),
            (frac < min).then(|| {
                format!("{completed} of {scheduled} workflows completed ({frac:.4}), below the expected {min}")
            }),
        );
    }
    if let Some(max) = e.workflow_p99_ms {
        let p99 = collab.workflows.latency_ms.p99;
        let completed = collab.workflows.completed as f64;
        checks.record(
            CheckName::Expect(Expectation::WorkflowP99),
            if completed == 0.0 {
                Some(format!(
                    "no workflow completed, so the p99 latency cannot be at most {max} ms"
                ))
            } else {
                (p99 > max).then(|| {
                    format!("workflow latency p99 {p99} ms is above the expected {max} ms")
                })
            },
        );
    }
    if let Some(max) = e.max_tokens_spent {
        let spent = collab.tokens.spent;
        checks.record(
            CheckName::Expect(Expectation::MaxTokensSpent),
            (spent > max).then(|| format!("agents spent {spent} tokens, above the expected {max}")),
        );
    }
    if let Some(max) = e.max_dead_letters {
        let n = collab.dead_letters.count;
        checks.record(
            CheckName::Expect(Expectation::MaxDeadLetters),
            (n > max).then(|| format!("{n} tasks were dead-lettered, above the expected {max}")),
        );
    }
}

/// When the last scripted fault of `spec` has fired and ended (its
/// `for_ms` window or `restart_after_ms` over), in true time, plus `grace`
/// (long enough for the coordinator to hear from an agent that came back)
/// when some fault ends at all; the end of the run when one repeats
/// (`every_ms`). Zero without scripted faults. Random (nemesis) faults are
/// not counted: they have no end to wait for.
fn scripted_faults_end(spec: &crate::scenario::ScenarioSpec, grace: SimDuration) -> SimTime {
    if spec.faults.is_empty() {
        return SimTime::ZERO;
    }
    let end_ms = spec
        .faults
        .iter()
        .map(|f| {
            if f.every_ms.is_some() {
                spec.duration_ms
            } else {
                f.at_ms
                    + f.for_ms.unwrap_or(0.0)
                    + f.restart_after_ms.unwrap_or(0.0)
                    + f.jitter_ms.unwrap_or(0.0)
            }
        })
        .fold(0.0, f64::max)
        .min(spec.duration_ms);
    let ends = spec
        .faults
        .iter()
        .any(|f| f.for_ms.is_some() || f.restart_after_ms.is_some());
    let end = SimTime::ZERO + SimDuration::from_millis_f64(end_ms);
    if ends {
        end + grace
    } else {
        end
    }
}
