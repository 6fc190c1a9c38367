//! Raft clusters under a replicated key-value store with clients: the
//! world's processes, the observers (safety checker, metrics), the
//! end-of-run checks (linearizability, expectations) and the report.

use super::{
    base_report, delivery_expectation, end_state, event_storm_check, install_event_cap,
    install_tracer, HistoryOutput, RunOptions, RunOutput,
};
use crate::check::linearizability;
use crate::check::liveness::{self, LivenessTracker, Windows};
use crate::check::raft_safety::RaftSafety;
use crate::ids::NodeId;
use crate::kv::history;
use crate::metrics::hist::LatencyHist;
use crate::metrics::raft::RaftMetrics;
use crate::metrics::Checks;
use crate::raft::RaftNode;
use crate::scenario::Scenario;
use crate::sim::{DispatchKind, Dispatched, Observer, World};
use crate::time::{SimDuration, SimTime};
use serde_json::{json, Value};

use crate::kv::client::KvClient;
pub use crate::kv::node::KvNode;
use crate::kv::node::KvRecord;
pub use crate::scenario::convert::{client_config, raft_config};

/// Watches every event: safety after each server step, metrics always.
struct RaftObserver {
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
}

/// Collects the clients' history events as they happen, in the kernel's
/// dispatch order, numbers them (`HistoryEvent::seq`), and hands each on:
/// to the streaming linearizability checker, the client latency histogram
/// and the history output. Nothing here grows with the run except a kept
/// history (`HistoryOutput::Keep`).
struct HistoryTap {
    /// Address of client 0.
    first_client: u32,
    /// Per client: events collected so far in its current life.
    taken: Vec<u64>,
    next_seq: u64,
    pairing: history::OpPairing,
    checker: Option<linearizability::StreamChecker>,
    /// Per client: invocation time of its open operation.
    invoked_at: Vec<Option<SimTime>>,
    latency: LatencyHist,
    output: HistoryOutput,
    kept: Vec<history::HistoryEvent>,
    /// Lines of the history file (process retirement, nemesis entries).
    encoder: history::HistoryEncoder,
    /// Fault log records already written as nemesis entries.
    faults_seen: usize,
}

impl HistoryTap {
    /// Collect what client `id` recorded in the handler that just ran.
    fn collect(&mut self, world: &World<KvNode>, id: NodeId) {
        let Some(KvNode::Client(c)) = world.node(id) else {
            return;
        };
        let i = (id.0 - self.first_client) as usize;
        let recorded = c.recorded();
        if recorded < self.taken[i] {
            // A new life of the client (clients are not faulted today):
            // its history starts over.
            self.taken[i] = 0;
        }
        let fresh = (recorded - self.taken[i]) as usize;
        if fresh == 0 {
            return;
        }
        let step = c.step_events();
        // Events are kept by the client for one handler call only; every
        // call that records one is seen here before the next call.
        assert!(
            fresh <= step.len(),
            "client {i} recorded {fresh} history events the observer did not see"
        );
        for e in &step[step.len() - fresh..] {
            let mut e = *e;
            e.seq = self.next_seq;
            self.next_seq += 1;
            self.event(&e);
        }
        self.taken[i] = recorded;
    }

    /// Write the faults applied since the last call as nemesis entries.
    fn faults(&mut self, world: &World<KvNode>) {
        let log = world.applied_faults();
        if let HistoryOutput::Stream(sink) = &self.output {
            for f in log[self.faults_seen..]
                .iter()
                .filter(|f| f.skipped.is_none())
            {
                let op = history::NemesisOp {
                    time: f.at,
                    f: f.kind.to_string(),
                    nodes: f.nodes.iter().map(|n| n.0).collect(),
                    groups: f
                        .groups
                        .iter()
                        .map(|g| g.iter().map(|n| n.0).collect())
                        .collect(),
                };
                let _ = writeln!(sink.borrow_mut(), "{}", self.encoder.nemesis_line(&op));
            }
        }
        self.faults_seen = log.len();
    }

    fn event(&mut self, e: &history::HistoryEvent) {
        if let Some(checker) = self.checker.as_mut() {
            self.pairing.push(e, checker);
        }
        let open = &mut self.invoked_at[e.process as usize];
        match e.kind {
            history::EventType::Invoke => *open = Some(e.time),
            history::EventType::Ok | history::EventType::Fail => {
                if let Some(t) = open.take() {
                    self.latency.record_us(e.time.saturating_since(t).0);
                }
            }
            history::EventType::Info => *open = None,
        }
        match &self.output {
            HistoryOutput::Keep => self.kept.push(*e),
            HistoryOutput::Stream(sink) => {
                // A failed write is reported by the writer's owner (the CLI
                // latches the first error and fails the flush).
                let line = self.encoder.client_line(e);
                let _ = writeln!(sink.borrow_mut(), "{line}");
            }
            HistoryOutput::Discard => {}
        }
    }
}

impl Observer<KvNode> for RaftObserver {
    fn after_event(&mut self, world: &World<KvNode>, ev: &Dispatched) {
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
        self.liveness.faults(world.applied_faults());
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

pub(super) fn run(scenario: &Scenario, opts: &RunOptions) -> RunOutput {
    let spec = &scenario.spec;
    let nodes = spec.cluster.nodes;
    let raft_spec = spec.cluster.raft.clone().unwrap_or_default();
    let config = raft_config(nodes, &raft_spec, spec.bug.as_deref());
    let cfg = scenario.world_config(spec.seed);
    let end = SimTime::ZERO + cfg.duration;
    let workload = spec.workload.clone();
    let clients = workload.as_ref().map_or(0, |w| w.clients);
    let client_cfg = workload.as_ref().map(|w| client_config(nodes, w, end));
    let factory_config = config.clone();
    let mut world = match World::new(
        cfg,
        nodes + clients,
        Box::new(move |id: NodeId, records: &[KvRecord]| {
            if id.0 < nodes {
                RaftNode::recover(id, factory_config.clone(), records)
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
    };
    if let Some(sink) = &opts.trace {
        install_tracer(&mut world, sink.clone());
    }
    let check_lin =
        !opts.skip_checkers && workload.as_ref().is_some_and(|w| w.check_linearizability);
    // A bound that keeps a pathological history to about a second per
    // key (window); past it the verdict is "undecided", never a violation.
    let lin_cfg = linearizability::CheckConfig {
        max_states: 1_000_000,
    };
    let mut obs = RaftObserver {
        safety: RaftSafety::new(nodes),
        metrics: RaftMetrics::new(nodes),
        nodes,
        check_safety: !opts.skip_checkers,
        restarts: vec![0; nodes as usize],
        history: HistoryTap {
            first_client: nodes,
            taken: vec![0; clients as usize],
            next_seq: 0,
            pairing: history::OpPairing::default(),
            checker: check_lin.then(|| linearizability::StreamChecker::new(lin_cfg)),
            invoked_at: vec![None; clients as usize],
            latency: LatencyHist::new(),
            output: opts.history.clone(),
            kept: Vec::new(),
            encoder: history::HistoryEncoder::new(clients),
            faults_seen: 0,
        },
        liveness: LivenessTracker::new(),
        completed: vec![0; clients as usize],
    };
    let cap = install_event_cap(&mut world, scenario);
    super::install_progress(&mut world, opts);
    world.run(&mut obs);
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

    let mut checks = Checks {
        ok: true,
        ..Default::default()
    };
    event_storm_check(&world, cap, &mut checks);
    let safety_failure = obs
        .safety
        .violations()
        .first()
        .map(|v| format!("{} violated at {}: {}", v.property, v.time, v.message));
    if !opts.skip_checkers {
        checks.record("safety", safety_failure);
    }
    let lin_json = if let Some(mut checker) = checker {
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
        checks.record("linearizability", failure);
        json!({"ok": r.ok(), "ops": r.ops, "keys": r.keys_checked, "states": r.states_explored, "explanation": r.explanation})
    } else {
        json!({"ok": null, "ops": 0, "explanation": "not checked (no workload, or check_linearizability is false)"})
    };

    let timeout = SimDuration::from_millis_f64(workload.as_ref().map_or(1000.0, |w| w.timeout_ms));
    let availability = workload
        .as_ref()
        .and_then(|_| obs.metrics.availability(stop, timeout));
    let liveness_json = if opts.skip_checkers {
        json!({"not_judged": "checkers skipped"})
    } else {
        let e = spec.expect.as_ref();
        let leader = e
            .and_then(|e| e.leader_within_ms_after_heal)
            .map(SimDuration::from_millis_f64)
            .unwrap_or_else(|| liveness::default_leader_window(raft_spec.election_timeout_ms[1]));
        let progress = workload.as_ref().map(|w| {
            let window = e
                .and_then(|e| e.progress_within_ms_after_heal)
                .map(SimDuration::from_millis_f64)
                .unwrap_or_else(|| liveness::default_progress_window(w.timeout_ms));
            // Clients stop issuing operations one timeout before the end.
            (window, SimTime(end.0.saturating_sub(timeout.0)))
        });
        let windows = Windows {
            leader: Some(leader),
            progress,
        };
        obs.liveness
            .judge(&end_state(&world, nodes), &windows, &mut checks)
    };
    expectations(
        scenario,
        &obs.liveness,
        &obs.metrics,
        availability,
        &mut checks,
    );
    delivery_expectation(scenario, &world, &mut checks);

    let mut report = base_report(scenario, &world, checks);
    let m = &obs.metrics;
    let secs = stop.as_millis_f64() / 1000.0;
    let extra = &mut report.extra;
    extra.insert("elections".into(), m.elections_json());
    extra.insert("leader_loss_downtime_ms".into(), m.downtime_json());
    extra.insert(
        "election_after_leader_loss_ms".into(),
        m.election_after_loss_json(),
    );
    extra.insert("commit_latency_ms".into(), m.commit_latency.summary_json());
    extra.insert("client_latency_ms".into(), client_latency.summary_json());
    extra.insert("client_ops".into(), json!({"invoked": sum.invoked, "ok": sum.ok, "fail": sum.fail, "info": sum.info, "open": sum.open}));
    extra.insert(
        "throughput_ops_per_s".into(),
        json!(if secs > 0.0 {
            sum.ok as f64 / secs
        } else {
            0.0
        }),
    );
    extra.insert("availability".into(), json!(availability));
    extra.insert("max_term".into(), json!(m.max_term));
    extra.insert(
        "messages_by_type".into(),
        report.network["messages_by_type"].clone(),
    );
    extra.insert("bytes".into(), report.network["bytes_sent"].clone());
    extra.insert("role_time_ms".into(), m.role_time_json());
    extra.insert("role_timeline".into(), m.timeline_json());
    let violations: Vec<Value> = obs
        .safety
        .violations()
        .iter()
        .map(|v| json!({"property": v.property, "time_ms": v.time.as_millis_f64(), "message": v.message}))
        .collect();
    extra.insert("safety".into(), json!({"ok": violations.is_empty(), "observations": obs.safety.observations(), "violations": violations}));
    extra.insert("linearizability".into(), lin_json);
    extra.insert("liveness".into(), liveness_json);
    extra.insert(
        "raft".into(),
        json!({
            "summary": format!(
                "{} elections, max term {}, {} ok / {} fail / {} info ops, availability {}",
                m.elections.len(), m.max_term, sum.ok, sum.fail, sum.info,
                availability.map_or("n/a".to_string(), |a| format!("{:.4}", a))
            ),
            "bug": spec.bug,
        }),
    );
    let history = match opts.history {
        HistoryOutput::Keep => workload.as_ref().map(|_| events),
        HistoryOutput::Stream(_) | HistoryOutput::Discard => None,
    };
    let latency = Some(super::LatencyHists {
        client: client_latency,
        commit: obs.metrics.commit_latency,
    });
    RunOutput {
        report,
        history,
        latency,
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
        checks.record("expect.min_availability", failure);
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
    checks.record("expect.max_elections_after_heal", failure);
}
