//! Chrome trace-event JSON (`run --chrome-trace FILE`), for Perfetto and
//! `chrome://tracing`.
//!
//! One process (the run, named by `process_name`), one named track
//! (`thread_name`) per address, from [`address_names`]: `n0`.. servers,
//! `c0`.. clients, `a<id> <group>` agents of a workflow run; plus a
//! `faults` track (tid 0):
//! - role spans as complete events (`ph: "X"`, name = role, `args.term`);
//!   clients get one `client` span and agents one `agent` span over the
//!   whole run, so every message endpoint has an enclosing slice for flow
//!   arrows to bind to (a server's role spans, `crashed` included, cover
//!   the run);
//! - every task execution a workflow run committed (all of them, not the
//!   report's first 500 Gantt rows: [`CollabRunData::executions`](crate::metrics::collab::CollabRunData::executions)) as a
//!   complete event on its agent's track, inside the agent span, named
//!   `w<workflow> t<task>` (`cat: "task"`, `args`: workflow, task,
//!   attempt, outcome, tokens); times are true simulated time (when the
//!   agent started the work and produced the result, not its own clock's
//!   stamps), as in the Gantt chart, clipped to the run;
//! - timers, node starts and disk syncs as thread-scoped instants (`ph: "i"`);
//! - faults as spans on the faults track (`ph: "X"`, `cat: "fault"`) from
//!   when they were applied to when they were undone (crash to restart,
//!   partition to heal, ...; the end of the run if never), the undo itself
//!   not repeated; a fault with no duration (a clock change, an agent
//!   fault) is a zero-length span;
//! - every delivered message as a flow: `ph: "s"` on the sender's track at
//!   send time, `ph: "f"` (`bp: "e"`) on the receiver's at delivery, with a
//!   shared `id`; both ends fall inside a slice of their track, so the
//!   viewer binds them (no dangling arrow; tests/plots.rs measures it).
//!
//! Timestamps are virtual microseconds, exactly as in the trace.

use super::data::{fault_windows, role_spans, TraceDetail};
use crate::metrics::collab::Execution;
use crate::metrics::Report;
use serde_json::{json, Value};

/// Name of address `i` in a cluster of `servers` servers.
pub fn address_name(i: u32, servers: u32) -> String {
    if i < servers {
        format!("n{i}")
    } else {
        format!("c{}", i - servers)
    }
}

/// The name of every address of a run, in address order: servers `n<i>`,
/// KV clients `c<j>`, then a workflow run's agents `a<id> <group>` (`id`
/// is the address, as in the Gantt chart's rows).
pub fn address_names(report: &Report) -> Vec<String> {
    let servers = report.scenario.cluster.nodes;
    let clients = report.scenario.workload.as_ref().map_or(0, |w| w.clients);
    let mut names: Vec<String> = (0..servers + clients)
        .map(|i| address_name(i, servers))
        .collect();
    if let Some(w) = &report.scenario.workflow {
        for g in &w.agents {
            for _ in 0..g.count {
                names.push(format!("a{} {}", names.len(), g.name));
            }
        }
    }
    names
}

/// Fault kinds that only undo an earlier fault (their window ends there).
const UNDO_KINDS: [&str; 4] = ["restart", "resume", "heal", "link_restore"];
/// Fault kinds [`fault_windows`] turns into windows.
const WINDOW_KINDS: [&str; 6] = ["crash", "pause", "partition", "isolate", "link", "clock"];

/// The trace-event document of a run; `executions` are a workflow run's
/// committed task executions (`RunOutput::collab`; empty for other runs).
pub fn chrome_trace(report: &Report, detail: &TraceDetail, executions: &[Execution]) -> Value {
    let servers = report.scenario.cluster.nodes;
    let clients = report.scenario.workload.as_ref().map_or(0, |w| w.clients);
    let names = address_names(report);
    let us = |ms: f64| (ms * 1000.0).round() as u64;
    let end_us = us(report.sim_time_ms);
    let mut ev: Vec<Value> = Vec::new();
    ev.push(
        json!({"ph": "M", "name": "process_name", "pid": 1, "tid": 0,
        "args": {"name": format!("{} (seed {})", report.scenario.name, report.seed)}}),
    );
    ev.push(
        json!({"ph": "M", "name": "thread_name", "pid": 1, "tid": 0, "args": {"name": "faults"}}),
    );
    for (i, name) in (0u32..).zip(&names) {
        ev.push(
            json!({"ph": "M", "name": "thread_name", "pid": 1, "tid": i + 1,
            "args": {"name": name}}),
        );
        ev.push(
            json!({"ph": "M", "name": "thread_sort_index", "pid": 1, "tid": i + 1,
            "args": {"sort_index": i + 1}}),
        );
    }
    for s in role_spans(report) {
        let ts = (s.start_ms * 1000.0).round() as u64;
        let end = (s.end_ms * 1000.0).round() as u64;
        ev.push(
            json!({"ph": "X", "name": s.role, "cat": "role", "pid": 1, "tid": s.node + 1,
            "ts": ts, "dur": end.saturating_sub(ts), "args": {"term": s.term}}),
        );
    }
    for c in 0..clients {
        ev.push(json!({"ph": "X", "name": "client", "cat": "role", "pid": 1,
            "tid": servers + c + 1, "ts": 0, "dur": end_us}));
    }
    for a in servers + clients..names.len() as u32 {
        ev.push(json!({"ph": "X", "name": "agent", "cat": "role", "pid": 1,
            "tid": a + 1, "ts": 0, "dur": end_us}));
    }
    for x in executions {
        // Clipped to the run, so the span nests in the agent span (an
        // agent whose clock runs fast can date its work past the end).
        let ts = x.start_us.min(end_us);
        let dur = x.duration_us.min(end_us - ts);
        ev.push(
            json!({"ph": "X", "name": format!("w{} t{}", x.workflow, x.task),
            "cat": "task", "pid": 1, "tid": x.agent + 1, "ts": ts, "dur": dur,
            "args": {"workflow": x.workflow, "task": x.task, "attempt": x.attempt,
                "outcome": if x.correct { "correct" } else { "wrong" }, "tokens": x.tokens}}),
        );
    }
    for f in fault_windows(report) {
        let (ts, end) = (us(f.start_ms), us(f.end_ms));
        ev.push(
            json!({"ph": "X", "name": f.label, "cat": "fault", "pid": 1, "tid": 0,
            "ts": ts, "dur": end.saturating_sub(ts)}),
        );
    }
    // Faults that are neither a window nor an undo (agent faults, ...):
    // zero-length spans, so nothing applied is missing.
    for f in report.faults.iter().filter(|f| !f.is_skipped()) {
        let kind = f.kind.as_str();
        if WINDOW_KINDS.contains(&kind) || UNDO_KINDS.contains(&kind) {
            continue;
        }
        let ts = us(f.at_ms);
        ev.push(
            json!({"ph": "X", "name": kind, "cat": "fault", "pid": 1, "tid": 0,
            "ts": ts, "dur": 0}),
        );
    }
    for e in &detail.events {
        match (e.kind.as_str(), e.node) {
            ("fault", _) => {}
            (kind, Some(n)) => {
                let name = if kind == "timer" {
                    format!("timer {}", e.detail)
                } else {
                    kind.to_string()
                };
                ev.push(json!({"ph": "i", "s": "t", "name": name, "cat": kind,
                    "pid": 1, "tid": n + 1, "ts": e.time_us}));
            }
            _ => {}
        }
    }
    for (id, d) in detail.deliveries.iter().enumerate() {
        ev.push(
            json!({"ph": "s", "id": id, "name": d.kind, "cat": "msg", "pid": 1,
            "tid": d.from + 1, "ts": d.sent_us}),
        );
        ev.push(
            json!({"ph": "f", "bp": "e", "id": id, "name": d.kind, "cat": "msg", "pid": 1,
            "tid": d.to + 1, "ts": d.recv_us}),
        );
    }
    json!({
        "traceEvents": ev,
        "displayTimeUnit": "ms",
        "otherData": {
            "scenario": report.scenario.name,
            "seed": report.seed,
            "trace_hash": report.trace_hash,
            "messages_dropped_from_export": detail.deliveries_dropped,
        },
    })
}
