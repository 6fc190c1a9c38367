//! Raft clusters under a replicated key-value store with clients: the
//! world's processes, the observers (safety checker, metrics), the
//! end-of-run checks (linearizability, expectations) and the report.

use super::{base_report, install_tracer, RunOptions, RunOutput};
use crate::check::linearizability;
use crate::check::raft_safety::RaftSafety;
use crate::ids::{NodeId, TimerId};
use crate::kv::client::{ClientConfig, KvClient};
use crate::kv::history;
use crate::kv::{KvCommand, KvStore};
use crate::metrics::hist::LatencyHist;
use crate::metrics::raft::RaftMetrics;
use crate::metrics::Checks;
use crate::process::{Context, Process, Role};
use crate::raft::{Bug, BugSet, Msg, RaftConfig, RaftNode, Record};
use crate::scenario::{RaftSpec, Scenario, WorkloadSpec};
use crate::sim::{DispatchKind, Dispatched, Observer, World};
use crate::time::{SimDuration, SimTime};
use serde_json::{json, Value};

type KvMsg = Msg<KvCommand, crate::kv::KvOutput>;
type KvRecord = Record<KvCommand>;

/// A process of a KV world: a Raft server or a client.
#[derive(Debug)]
pub enum KvNode {
    /// A Raft server running the KV store.
    Server(Box<RaftNode<KvStore>>),
    /// A closed-loop client.
    Client(Box<KvClient>),
}

impl KvNode {
    /// The Raft server, if this is one.
    pub fn raft(&self) -> Option<&RaftNode<KvStore>> {
        match self {
            KvNode::Server(r) => Some(r),
            KvNode::Client(_) => None,
        }
    }
}

impl Process for KvNode {
    type Msg = KvMsg;
    type Record = KvRecord;

    fn on_start(&mut self, ctx: &mut Context<'_, KvMsg, KvRecord>) {
        match self {
            KvNode::Server(r) => r.on_start(ctx),
            KvNode::Client(c) => c.on_start(ctx),
        }
    }
    fn on_message(&mut self, ctx: &mut Context<'_, KvMsg, KvRecord>, from: NodeId, msg: KvMsg) {
        match self {
            KvNode::Server(r) => r.on_message(ctx, from, msg),
            KvNode::Client(c) => c.on_message(ctx, from, msg),
        }
    }
    fn on_timer(&mut self, ctx: &mut Context<'_, KvMsg, KvRecord>, id: TimerId) {
        match self {
            KvNode::Server(r) => r.on_timer(ctx, id),
            KvNode::Client(c) => c.on_timer(ctx, id),
        }
    }
    fn role(&self) -> Role {
        match self {
            KvNode::Server(r) => r.role(),
            KvNode::Client(_) => Role::Other,
        }
    }
    fn term(&self) -> u64 {
        match self {
            KvNode::Server(r) => r.term(),
            KvNode::Client(_) => 0,
        }
    }
}

/// Raft configuration from the scenario.
pub fn raft_config(nodes: u32, spec: &RaftSpec, bug: Option<&str>) -> RaftConfig {
    let ms = SimDuration::from_millis_f64;
    RaftConfig {
        nodes,
        election_timeout_min: ms(spec.election_timeout_ms[0]),
        election_timeout_max: ms(spec.election_timeout_ms[1]),
        heartbeat: ms(spec.heartbeat_ms),
        pre_vote: spec.pre_vote,
        check_quorum: spec.check_quorum,
        snapshot_every: spec.snapshot_every,
        max_entries_per_append: spec.max_entries_per_append as usize,
        max_inflight_appends: spec.max_inflight_appends as usize,
        bugs: bug
            .and_then(Bug::from_name)
            .map_or(BugSet::NONE, BugSet::only),
    }
}

/// Client configuration from the scenario's workload (`end`: the run's
/// end). Validation checks the result with [`ClientConfig::check`].
pub fn client_config(nodes: u32, w: &WorkloadSpec, end: SimTime) -> ClientConfig {
    let timeout = SimDuration::from_millis_f64(w.timeout_ms);
    ClientConfig {
        index: 0,
        servers: nodes,
        think: SimDuration::from_millis_f64(w.clients as f64 * 1000.0 / w.rate_per_s),
        mix: [w.mix.read, w.mix.write, w.mix.cas],
        keys: w.keys,
        timeout,
        retry_after: SimDuration::from_millis(100).min(timeout),
        backoff_min: SimDuration::from_millis(5),
        backoff_max: SimDuration::from_millis(200),
        stop_at: SimTime(end.0.saturating_sub(timeout.0)),
        record_history: w.check_linearizability,
    }
}

/// Watches every event: safety after each server step, metrics always.
struct RaftObserver {
    safety: RaftSafety,
    metrics: RaftMetrics,
    nodes: u32,
    check_safety: bool,
    /// Restarts seen per server.
    restarts: Vec<u32>,
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
        self.metrics
            .observe(world, ev.node, ev.kind == DispatchKind::Fault, KvNode::raft);
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
    let mut obs = RaftObserver {
        safety: RaftSafety::new(nodes),
        metrics: RaftMetrics::new(nodes),
        nodes,
        check_safety: !opts.skip_checkers,
        restarts: vec![0; nodes as usize],
    };
    world.run(&mut obs);
    let stop = world.now();
    obs.metrics.finish(stop);

    // Client history and its verdict.
    let mut histories = Vec::new();
    let mut sum = history::HistorySummary::default();
    for i in nodes..nodes + clients {
        if let Some(KvNode::Client(c)) = world.node(NodeId(i)) {
            histories.push(c.history().to_vec());
            let s = c.stats();
            sum.invoked += s.invoked;
            sum.ok += s.ok;
            sum.fail += s.fail;
            sum.info += s.info;
        }
    }
    sum.open = sum.invoked - sum.ok - sum.fail - sum.info;
    let events = history::merge(histories);
    let mut client_latency = LatencyHist::new();
    for d in history::latencies(&events) {
        client_latency.record_us(d.0);
    }

    let mut checks = Checks {
        ok: true,
        ..Default::default()
    };
    let safety_failure = obs
        .safety
        .violations()
        .first()
        .map(|v| format!("{} violated at {}: {}", v.property, v.time, v.message));
    if !opts.skip_checkers {
        checks.record("safety", safety_failure);
    }
    let lin_json = if !opts.skip_checkers
        && workload.as_ref().is_some_and(|w| w.check_linearizability)
    {
        let ops = history::to_lin_ops(&events);
        // A bound that keeps a pathological history to about a second per
        // key; past it the verdict is "undecided", never a violation.
        let cfg = linearizability::CheckConfig {
            max_states: 1_000_000,
        };
        match linearizability::check_with(&ops, &cfg) {
            Ok(r) => {
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
            }
            Err(e) => {
                checks.record("linearizability", Some(format!("malformed history: {e}")));
                json!({"ok": false, "ops": ops.len(), "explanation": e.to_string()})
            }
        }
    } else {
        json!({"ok": null, "ops": 0, "explanation": "not checked (no workload, or check_linearizability is false)"})
    };

    let timeout = SimDuration::from_millis_f64(workload.as_ref().map_or(1000.0, |w| w.timeout_ms));
    let availability = workload
        .as_ref()
        .and_then(|_| obs.metrics.availability(stop, timeout));
    expectations(scenario, &world, &obs.metrics, availability, &mut checks);

    let mut report = base_report(scenario, &world, checks);
    let m = &obs.metrics;
    let secs = stop.as_millis_f64() / 1000.0;
    let extra = &mut report.extra;
    extra.insert("elections".into(), m.elections_json());
    extra.insert("leader_loss_downtime_ms".into(), m.downtime_json());
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
    let history = workload.as_ref().map(|_| events);
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

/// End-of-run liveness and availability expectations.
fn expectations(
    scenario: &Scenario,
    world: &World<KvNode>,
    m: &RaftMetrics,
    availability: Option<f64>,
    checks: &mut Checks,
) {
    let Some(e) = &scenario.spec.expect else {
        return;
    };
    // The last moment the cluster was made whole again.
    let healed = world
        .applied_faults()
        .iter()
        .filter(|f| {
            f.skipped.is_none() && matches!(f.kind, "heal" | "restart" | "resume" | "link_restore")
        })
        .map(|f| f.at)
        .max()
        .unwrap_or(SimTime::ZERO);
    if let Some(limit) = e.leader_within_ms_after_heal {
        let failure = match m.leader_known_from(healed) {
            Some(t) if t.saturating_since(healed).as_millis_f64() <= limit => None,
            Some(t) => Some(format!(
                "after the last heal at {healed} a leader was known to a majority only at {t} ({:.1} ms > {limit} ms)",
                t.saturating_since(healed).as_millis_f64()
            )),
            None => Some(format!("after the last heal at {healed} no leader was ever known to a majority (run ended at {})", world.now())),
        };
        checks.record("expect.leader_within_ms_after_heal", failure);
    }
    if let Some(max) = e.max_elections_after_heal {
        let n = m.elections.iter().filter(|x| x.time > healed).count() as u64;
        let failure = (n > max).then(|| {
            let terms: Vec<String> = m
                .elections
                .iter()
                .filter(|x| x.time > healed)
                .map(|x| format!("t{}@{}", x.term, x.time))
                .collect();
            format!(
                "{n} elections after the last heal at {healed} (max {max}): {}",
                terms.join(", ")
            )
        });
        checks.record("expect.max_elections_after_heal", failure);
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
