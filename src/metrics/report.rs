//! The run report (`report.json`). Top-level keys are a contract scripts
//! rely on: `seed`, `scenario`, `trace_hash`, `events`, `sim_time_ms`,
//! `wall_ms`, `network`, `faults`, `checks`; protocol sections are added
//! beside them (`heartbeat`, and for Raft `elections`, `safety`, ...).

use crate::fault::AppliedFault;
use crate::kv::history::{HistValue, HistoryEvent};
use crate::net::{DropCause, NetCounters};
use crate::scenario::{FaultKind, FaultSpec, ScenarioSpec, TargetSpec};
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

/// One failed check.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CheckFailure {
    /// Which check (`safety`, `linearizability`, `expect.min_availability`, ...).
    pub check: String,
    /// What was seen, precisely enough to debug from.
    pub message: String,
}

/// Outcome of every checker that ran.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Checks {
    /// True when no check failed.
    pub ok: bool,
    /// Names of the checks that ran.
    pub ran: Vec<String>,
    /// The failures, if any.
    pub failures: Vec<CheckFailure>,
    /// Checks that could not be judged in this run, with the reason (a
    /// liveness window the run ended inside, faults still active at the
    /// end): never silently passed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub not_judged: Vec<NotJudged>,
}

/// A check that did not judge this run, and why.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct NotJudged {
    /// Which check (`liveness.leader`, ...).
    pub check: String,
    /// Why it could not judge.
    pub reason: String,
}

impl Checks {
    /// Record that `check` ran, failing with `failure` if given.
    pub fn record(&mut self, check: &str, failure: Option<String>) {
        self.ran.push(check.to_string());
        if let Some(message) = failure {
            self.failures.push(CheckFailure {
                check: check.to_string(),
                message,
            });
        }
        self.ok = self.failures.is_empty();
    }

    /// Record that `check` could not judge this run, and why.
    pub fn not_judged(&mut self, check: &str, reason: String) {
        self.not_judged.push(NotJudged {
            check: check.to_string(),
            reason,
        });
    }
}

/// A finished run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Report {
    /// The seed the run used.
    pub seed: u64,
    /// The full scenario as run (seed and overrides applied).
    pub scenario: ScenarioSpec,
    /// BLAKE3 over every dispatched event, hex.
    pub trace_hash: String,
    /// Events dispatched.
    pub events: u64,
    /// Virtual time reached, ms.
    pub sim_time_ms: f64,
    /// Wall-clock time of the run, ms (filled in by the CLI; 0 otherwise).
    pub wall_ms: f64,
    /// Events per wall-clock second (0 when wall time is unknown).
    pub events_per_s: f64,
    /// Network counters.
    pub network: Value,
    /// Faults applied, in order, with targets resolved.
    pub faults: Vec<Value>,
    /// Checker verdicts.
    pub checks: Checks,
    /// Protocol-specific sections.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl Report {
    /// Exit code for this report: 0 if every check held, 1 otherwise.
    pub fn exit_code(&self) -> u8 {
        if self.checks.ok {
            0
        } else {
            1
        }
    }
}

/// Network counters as report JSON.
pub fn network_json(c: &NetCounters) -> Value {
    let mut dropped = Map::new();
    for cause in DropCause::ALL {
        dropped.insert(cause.name().to_string(), json!(c.dropped[cause as usize]));
    }
    let by_type: Map<String, Value> = c
        .by_type()
        .into_iter()
        .map(|(k, v)| (k.to_string(), json!(v)))
        .collect();
    json!({
        "sent": c.sent,
        "delivered": c.delivered,
        "dropped": c.dropped_total(),
        "dropped_by_cause": dropped,
        "duplicated": c.duplicated,
        "bytes_sent": c.bytes_sent,
        "bytes_delivered": c.bytes_delivered,
        "messages_by_type": by_type,
    })
}

/// An applied fault as report JSON: the scenario fault it amounts to (so a
/// nemesis run can be rewritten as a scripted one), plus where it came
/// from and whether it was skipped.
pub fn fault_json(f: &AppliedFault) -> Value {
    let mut v = json!({
        "at_ms": f.at.as_millis_f64(),
        "kind": f.kind,
        "source": f.source,
    });
    let m = v.as_object_mut().expect("object");
    if !f.nodes.is_empty() {
        m.insert(
            "nodes".into(),
            json!(f.nodes.iter().map(|n| n.0).collect::<Vec<_>>()),
        );
    }
    if !f.groups.is_empty() {
        let g: Vec<Vec<u32>> = f
            .groups
            .iter()
            .map(|g| g.iter().map(|n| n.0).collect())
            .collect();
        m.insert("groups".into(), json!(g));
    }
    if let Some(d) = f.drop {
        m.insert("drop".into(), json!(d));
    }
    if let Some(d) = f.extra_latency {
        m.insert("extra_latency_ms".into(), json!(d.as_millis_f64()));
    }
    if let Some(r) = f.rate_ppm {
        m.insert("rate".into(), json!(r as f64 / 1e6));
    }
    if f.both_ways {
        m.insert("both_ways".into(), json!(true));
    }
    if let Some(s) = &f.skipped {
        m.insert("skipped".into(), json!(s));
    }
    v
}

/// Rewrite applied faults as scripted scenario faults: restarts, resumes,
/// heals and restores become explicit entries. Skipped faults are left out.
pub fn scripted_faults(applied: &[AppliedFault]) -> Vec<FaultSpec> {
    let mut out: Vec<FaultSpec> = Vec::new();
    for f in applied.iter().filter(|f| f.skipped.is_none()) {
        let at = f.at.as_millis_f64();
        let node = |i: usize| f.nodes.get(i).map(|n| TargetSpec::Index(n.0));
        match f.kind {
            "crash" | "restart" => {
                let kind = if f.kind == "crash" {
                    FaultKind::Crash
                } else {
                    FaultKind::Restart
                };
                for n in &f.nodes {
                    let mut s = FaultSpec::new(at, kind);
                    s.node = Some(TargetSpec::Index(n.0));
                    out.push(s);
                }
            }
            "pause" => {
                // The matching resume tells how long the pause lasted.
                let end = applied
                    .iter()
                    .find(|r| r.kind == "resume" && r.at >= f.at && r.nodes == f.nodes[..1])
                    .map_or(0.0, |r| r.at.as_millis_f64());
                let mut s = FaultSpec::new(at, FaultKind::Pause);
                s.node = node(0);
                s.for_ms = Some((end - at).max(0.001));
                out.push(s);
            }
            "clock" => {
                let mut s = FaultSpec::new(at, FaultKind::Clock);
                s.node = node(0);
                s.rate = f.rate_ppm.map(|r| r as f64 / 1e6);
                out.push(s);
            }
            "partition" => {
                let mut s = FaultSpec::new(at, FaultKind::Partition);
                s.groups = Some(
                    f.groups
                        .iter()
                        .map(|g| g.iter().map(|n| n.0).collect())
                        .collect(),
                );
                out.push(s);
            }
            "isolate" => {
                let mut s = FaultSpec::new(at, FaultKind::Isolate);
                s.node = node(0);
                out.push(s);
            }
            "link" => {
                let mut s = FaultSpec::new(at, FaultKind::Link);
                s.from = node(0);
                s.to = node(1);
                s.both_ways = Some(f.both_ways);
                s.drop = f.drop;
                s.extra_latency_ms = f
                    .extra_latency
                    .map(|d| d.as_millis_f64())
                    .filter(|d| *d > 0.0);
                out.push(s);
            }
            "link_restore" => {
                let mut s = FaultSpec::new(at, FaultKind::Link);
                s.from = node(0);
                s.to = node(1);
                s.both_ways = Some(f.both_ways);
                s.drop = Some(0.0);
                out.push(s);
            }
            "heal" => out.push(FaultSpec::new(at, FaultKind::Heal)),
            _ => {}
        }
    }
    out
}

/// One client history event as a JSON line (docs/history-format.md): time
/// in virtual nanoseconds.
pub fn history_line(e: &HistoryEvent) -> Value {
    let value = match e.value {
        HistValue::None => Value::Null,
        HistValue::Int(v) => json!(v),
        HistValue::Pair(a, b) => json!([a, b]),
    };
    json!({
        "process": e.process,
        "type": e.kind.as_str(),
        "f": e.f.as_str(),
        "key": e.key,
        "value": value,
        "time": e.time.0 * 1000,
        "index": e.seq,
    })
}
