//! Chrome trace-event JSON (`run --chrome-trace FILE`), for Perfetto and
//! `chrome://tracing`.
//!
//! One process (the run), one track per address (`n0`.. servers, `c0`..
//! clients) plus a `faults` track (tid 0):
//! - role spans as complete events (`ph: "X"`, name = role, `args.term`);
//!   clients get one `client` span over the whole run, so every message
//!   endpoint has an enclosing slice for flow arrows to bind to;
//! - timers, node starts and disk syncs as thread-scoped instants (`ph: "i"`);
//! - faults as global instants on the faults track;
//! - every delivered message as a flow: `ph: "s"` on the sender's track at
//!   send time, `ph: "f"` (`bp: "e"`) on the receiver's at delivery, with a
//!   shared `id`.
//!
//! Timestamps are virtual microseconds, exactly as in the trace.

use super::data::{role_spans, TraceDetail};
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

/// The trace-event document of a run.
pub fn chrome_trace(report: &Report, detail: &TraceDetail) -> Value {
    let servers = report.scenario.cluster.nodes;
    let clients = report.scenario.workload.as_ref().map_or(0, |w| w.clients);
    let end_us = (report.sim_time_ms * 1000.0).round() as u64;
    let mut ev: Vec<Value> = Vec::new();
    ev.push(
        json!({"ph": "M", "name": "process_name", "pid": 1, "tid": 0,
        "args": {"name": format!("{} (seed {})", report.scenario.name, report.seed)}}),
    );
    ev.push(
        json!({"ph": "M", "name": "thread_name", "pid": 1, "tid": 0, "args": {"name": "faults"}}),
    );
    for i in 0..servers + clients {
        ev.push(
            json!({"ph": "M", "name": "thread_name", "pid": 1, "tid": i + 1,
            "args": {"name": address_name(i, servers)}}),
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
    for e in &detail.events {
        match (e.kind.as_str(), e.node) {
            ("fault", _) => ev.push(
                json!({"ph": "i", "s": "g", "name": e.detail, "cat": "fault",
                "pid": 1, "tid": 0, "ts": e.time_us}),
            ),
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
