//! Raft clusters under a replicated key-value store with clients: the
//! world's processes, the observers (safety checker, metrics), the
//! end-of-run checks (linearizability, expectations) and the report.

use super::history_tap::HistoryTap;
use super::{end_state, Byproducts, Finished, HistoryOutput, RunKind, RunOptions};
use crate::check::linearizability;
use crate::check::liveness::{self, LivenessTracker, Windows};
use crate::check::names::{CheckName, Expectation};
use crate::check::raft_safety::RaftSafety;
use crate::ids::NodeId;
use crate::kv::history;
use crate::metrics::raft::RaftMetrics;
use crate::metrics::sections::{
    BlamedOp, ClientOps, LinearizabilitySection, LivenessSection, RaftSafetySection, RaftSection,
    RaftSummary, Violation,
};
use crate::metrics::{Checks, Report};
use crate::raft::{RaftConfig, RaftNode};
use crate::scenario::{RaftSpec, Scenario, WorkloadSpec};
use crate::sim::{DispatchKind, Dispatched, Observer, World};
use crate::time::{SimDuration, SimTime};

use crate::kv::client::{ClientConfig, KvClient};
pub use crate::kv::node::KvNode;
use crate::kv::node::KvRecord;
pub use crate::scenario::convert::{client_config, raft_config};

/// A Raft cluster of `nodes` servers and, with a workload, its clients.
pub(super) struct RaftKind {
    nodes: u32,
    clients: u32,
    raft_spec: RaftSpec,
    config: RaftConfig,
    workload: Option<WorkloadSpec>,
    client_cfg: Option<ClientConfig>,
    /// When the run ends.
    end: SimTime,
}

/// Watches every event: safety after each server step, metrics always.
pub(super) struct RaftObserver {
    safety: RaftSafety,
    metrics: RaftMetrics,
    nodes: u32,
    check_safety: bool,
    /// Restarts seen per server.
    restarts: Vec<u32>,
    history: HistoryTap,
    liveness: LivenessTracker,
    /// Operations each client has completed (ok or fail), to spot the
    /// event in which one completes.
    completed: Vec<u64>,
    /// Abstract-state coverage (guided sweeps), read-only.
    coverage: Option<crate::sweep::coverage::CoverageSink>,
}

impl Observer<KvNode> for RaftObserver {
    fn after_event(&mut self, world: &World<KvNode>, ev: &Dispatched) {
        if let Some(c) = &self.coverage {
            c.borrow_mut().observe(world, ev, self.nodes);
        }
        if self.check_safety && ev.kind == DispatchKind::Fault {
            // A restart runs inside the fault event that restarts the
            // node (one fault may restart several): a new process whose
            // volatile view starts over.
            for i in 0..self.nodes {
                let r = world.node_counters(NodeId(i)).restarts;
                if r != self.restarts[i as usize] {
                    self.restarts[i as usize] = r;
                    self.safety.node_restarted(NodeId(i));
                }
            }
        }
        if let Some(id) = ev.node.filter(|n| self.check_safety && n.0 < self.nodes) {
            if ev.kind == DispatchKind::Start {
                self.safety.node_restarted(id);
            }
            if let Some(r) = world.node(id).and_then(KvNode::raft) {
                self.safety.observe(world.now(), r);
            }
        }
        self.history.faults(world);
        match ev.node {
            Some(id) if id.0 >= self.nodes && ev.kind != DispatchKind::Fault => {
                self.history.collect(world, id);
            }
            _ if ev.kind == DispatchKind::Fault => {
                // A fault event may run handlers of several nodes.
                for i in self.nodes..world.addresses() {
                    self.history.collect(world, NodeId(i));
                }
            }
            _ => {}
        }
        self.metrics
            .observe(world, ev.node, ev.kind == DispatchKind::Fault, KvNode::raft);
        // Every event (a no-op unless the fault log grew), so no applied
        // fault is ever folded in late.
        self.liveness.faults(world.fault_log());
        self.liveness
            .leader(world.now(), self.metrics.leader_known());
        if let Some(c) = ev.node.filter(|n| n.0 >= self.nodes) {
            if let Some(KvNode::Client(client)) = world.node(c) {
                let s = client.stats();
                let done = s.ok + s.fail;
                let seen = &mut self.completed[(c.0 - self.nodes) as usize];
                if done > *seen {
                    *seen = done;
                    self.liveness.progress(world.now());
                }
            }
        }
    }
    fn stop_requested(&self) -> bool {
        self.safety.failed()
    }
}

impl RunKind for RaftKind {
    type Process = KvNode;
    type Observer = RaftObserver;

    fn new(scenario: &Scenario) -> Self {
        let spec = &scenario.spec;
        let nodes = spec.cluster.nodes;
        let raft_spec = spec.cluster.raft.clone().unwrap_or_default();
        let config = raft_config(nodes, &raft_spec, spec.bug.as_deref());
        let end = SimTime::ZERO + scenario.duration();
        let workload = spec.workload.clone();
        RaftKind {
            nodes,
            clients: workload.as_ref().map_or(0, |w| w.clients),
            client_cfg: workload.as_ref().map(|w| client_config(nodes, w, end)),
            raft_spec,
            config,
            workload,
            end,
        }
    }

    fn world(&self, scenario: &Scenario) -> World<KvNode> {
        let nodes = self.nodes;
        let config = self.config.clone();
        let client_cfg = self.client_cfg.clone();
        match World::new(
            scenario.world_config(scenario.spec.seed),
            nodes + self.clients,
            Box::new(move |id: NodeId, records: &[KvRecord]| {
                if id.0 < nodes {
                    RaftNode::recover(id, config.clone(), records)
                        .map(|r| KvNode::Server(Box::new(r)))
                        .map_err(|e| e.to_string())
                } else {
                    let mut c = client_cfg.clone().expect("clients only with a workload");
                    c.index = id.0 - nodes;
                    Ok(KvNode::Client(Box::new(KvClient::new(id, c))))
                }
            }),
        ) {
            Ok(w) => w,
            Err(e) => unreachable!("a validated scenario builds its world: {e}"),
        }
    }

    fn observer(&self, _: &Scenario, opts: &RunOptions) -> RaftObserver {
        let (nodes, clients) = (self.nodes, self.clients);
        let check_lin = !opts.skip_checkers
            && self
                .workload
                .as_ref()
                .is_some_and(|w| w.check_linearizability);
        // A bound that keeps a pathological history to about a second per
        // key (window); past it the verdict is "undecided", never a violation.
        let lin_cfg = linearizability::CheckConfig {
            max_states: 1_000_000,
        };
        RaftObserver {
            safety: RaftSafety::new(nodes),
            metrics: RaftMetrics::new(nodes),
            nodes,
            check_safety: !opts.skip_checkers,
            restarts: vec![0; nodes as usize],
            history: HistoryTap::new(
                nodes,
                clients,
                check_lin.then(|| linearizability::StreamChecker::new(lin_cfg)),
                opts.history.clone(),
            ),
            liveness: LivenessTracker::new(),
            completed: vec![0; clients as usize],
            coverage: opts
                .coverage
                .clone()
                .filter(|_| opts.trace.is_none() && opts.tap.is_none()),
        }
    }

    fn finish(
        self,
        run: Finished<'_, KvNode>,
        mut obs: RaftObserver,
        report: &mut Report,
    ) -> Byproducts {
        let Finished {
            scenario,
            opts,
            world,
        } = run;
        let (nodes, clients) = (self.nodes, self.clients);
        let workload = &self.workload;
        let stop = world.now();
        obs.metrics.finish(stop);

        // Client history and its verdict.
        let mut sum = history::HistorySummary::default();
        for i in nodes..nodes + clients {
            if let Some(KvNode::Client(c)) = world.node(NodeId(i)) {
                let s = c.stats();
                sum.invoked += s.invoked;
                sum.ok += s.ok;
                sum.fail += s.fail;
                sum.info += s.info;
            }
        }
        sum.open = sum.invoked - sum.ok - sum.fail - sum.info;
        let HistoryTap {
            pairing,
            checker,
            latency: client_latency,
            kept: events,
            ..
        } = obs.history;

        let checks = &mut report.checks;
        let safety_failure = obs
            .safety
            .violations()
            .first()
            .map(|v| format!("{} violated at {}: {}", v.property, v.time, v.message));
        if !opts.skip_checkers {
            checks.record(CheckName::Safety, safety_failure);
        }
        let linearizability = if let Some(mut checker) = checker {
            pairing.finish(&mut checker);
            let r = checker.finish();
            let failure = match r.ok() {
                Some(true) => None,
                Some(false) => Some(
                    r.explanation
                        .clone()
                        .unwrap_or_else(|| "not linearizable".into()),
                ),
                None => Some(format!(
                    "undecided: {}",
                    r.explanation.clone().unwrap_or_default()
                )),
            };
            checks.record(CheckName::Linearizability, failure);
            LinearizabilitySection {
                ok: r.ok(),
                ops: r.ops as u64,
                keys: Some(r.keys_checked as u64),
                states: Some(r.states_explored),
                violation: r.violations.first().map(BlamedOp::from_violation),
                explanation: r.explanation,
            }
        } else {
            LinearizabilitySection {
                explanation: Some(
                    "not checked (no workload, or check_linearizability is false)".into(),
                ),
                ..Default::default()
            }
        };

        let timeout =
            SimDuration::from_millis_f64(workload.as_ref().map_or(1000.0, |w| w.timeout_ms));
        let availability = workload
            .as_ref()
            .and_then(|_| obs.metrics.availability(stop, timeout));
        let liveness = if opts.skip_checkers {
            LivenessSection::not_judged("checkers skipped")
        } else {
            let windows = self.liveness_windows(scenario, timeout);
            obs.liveness
                .judge(&end_state(world, nodes), &windows, checks)
        };
        expectations(scenario, &obs.liveness, &obs.metrics, availability, checks);

        let m = &obs.metrics;
        let secs = stop.as_millis_f64() / 1000.0;
        let violations: Vec<Violation> = obs
            .safety
            .violations()
            .iter()
            .map(|v| Violation {
                property: v.property.to_string(),
                time_ms: v.time.as_millis_f64(),
                message: v.message.clone(),
            })
            .collect();
        report.raft = Some(RaftSection {
            leadership: m.leadership(report.network.as_ref().map(|n| n.messages_by_type.clone())),
            availability,
            bytes: report.network.as_ref().map_or(0, |n| n.bytes_sent),
            client_latency_ms: client_latency.summary(),
            client_ops: ClientOps {
                invoked: sum.invoked,
                ok: sum.ok,
                fail: sum.fail,
                info: sum.info,
                open: sum.open,
            },
            commit_latency_ms: m.commit_latency.summary(),
            linearizability,
            liveness,
            summary: RaftSummary {
                summary: format!(
                    "{} elections, max term {}, {} ok / {} fail / {} info ops, availability {}",
                    m.elections.len(),
                    m.max_term,
                    sum.ok,
                    sum.fail,
                    sum.info,
                    availability.map_or("n/a".to_string(), |a| format!("{:.4}", a))
                ),
                bug: scenario.spec.bug.clone(),
            },
            safety: RaftSafetySection {
                ok: violations.is_empty(),
                observations: obs.safety.observations(),
                violations,
            },
            throughput_ops_per_s: if secs > 0.0 {
                sum.ok as f64 / secs
            } else {
                0.0
            },
        });
        let history = match opts.history {
            HistoryOutput::Keep | HistoryOutput::KeepAndStream(_) => {
                workload.as_ref().map(|_| events)
            }
            HistoryOutput::Stream(_) | HistoryOutput::Discard => None,
        };
        Byproducts {
            history,
            latency: Some(super::LatencyHists {
                client: client_latency,
                commit: obs.metrics.commit_latency,
            }),
            collab: None,
        }
    }
}

impl RaftKind {
    /// The liveness windows: a leader after the last heal and, with a
    /// workload, client progress (until clients stop issuing operations,
    /// one timeout before the end).
    fn liveness_windows(&self, scenario: &Scenario, timeout: SimDuration) -> Windows {
        let e = scenario.spec.expect.as_ref();
        let stated = e.and_then(|e| e.leader_within_ms_after_heal);
        let leader = stated.map(SimDuration::from_millis_f64).unwrap_or_else(|| {
            liveness::default_leader_window(self.raft_spec.election_timeout_ms[1])
        });
        let progress = self.workload.as_ref().map(|w| {
            let window = e
                .and_then(|e| e.progress_within_ms_after_heal)
                .map(SimDuration::from_millis_f64)
                .unwrap_or_else(|| liveness::default_progress_window(w.timeout_ms));
            (window, SimTime(self.end.0.saturating_sub(timeout.0)))
        });
        Windows {
            leader: Some(leader),
            leader_adapts: stated.is_none(),
            progress,
        }
    }
}

/// End-of-run expectations besides the liveness windows (which
/// `LivenessTracker::judge` checks, `expect.leader_within_ms_after_heal`
/// setting the leader window).
fn expectations(
    scenario: &Scenario,
    live: &LivenessTracker,
    m: &RaftMetrics,
    availability: Option<f64>,
    checks: &mut Checks,
) {
    let Some(e) = &scenario.spec.expect else {
        return;
    };
    if let Some(max) = e.max_elections_after_heal {
        elections_expectation(live.settled(), m, max, checks);
    }
    if let Some(min) = e.min_availability {
        let failure = match availability {
            Some(a) if a >= min => None,
            Some(a) => Some(format!("availability {a:.4} below {min}")),
            None => Some(
                "availability unknown: needs a workload and a run longer than the client timeout"
                    .into(),
            ),
        };
        checks.record(CheckName::Expect(Expectation::MinAvailability), failure);
    }
}

/// `expect.max_elections_after_heal`: elections won after the last fault
/// ended (`settled`, as the liveness checks define it).
pub(crate) fn elections_expectation(
    settled: SimTime,
    m: &RaftMetrics,
    max: u64,
    checks: &mut Checks,
) {
    let after: Vec<String> = m
        .elections
        .iter()
        .filter(|x| x.time > settled)
        .map(|x| format!("t{}@{}", x.term, x.time))
        .collect();
    let n = after.len() as u64;
    let failure = (n > max).then(|| {
        format!(
            "{n} elections after the last fault ended at {settled} (max {max}): {}",
            after.join(", ")
        )
    });
    checks.record(
        CheckName::Expect(Expectation::MaxElectionsAfterHeal),
        failure,
    );
}
