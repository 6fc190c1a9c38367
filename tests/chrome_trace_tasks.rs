//! `run --chrome-trace` on a workflow run draws every committed task
//! execution as a span on its agent's track, named with its workflow and
//! task, uncapped (the report's Gantt list stops at 500 rows), inside the
//! run's time. Driven through the binary; the report's `gantt` rows (built
//! from the final state, independently of the export) are the reference.

use serde_json::Value;
use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

fn read_json(p: &Path) -> Value {
    let s = std::fs::read_to_string(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    serde_json::from_str(&s).expect("JSON")
}

/// Run `scenarios/collab/<name>.json` with a Chrome trace; (report, trace).
fn run_traced(dir: &Path, name: &str) -> (Value, Value) {
    run_traced_with(dir, name, &[])
}

/// [`run_traced`] with extra arguments.
fn run_traced_with(dir: &Path, name: &str, extra: &[&str]) -> (Value, Value) {
    let scen = format!("{ROOT}/scenarios/collab/{name}.json");
    let o = Command::new(env!("CARGO_BIN_EXE_agentsim"))
        .args(["run", &scen, "--out", name, "--chrome-trace"])
        .arg(format!("{name}.trace.json"))
        .args(extra)
        .current_dir(dir)
        .output()
        .expect("run agentsim");
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    (
        read_json(&dir.join(name).join("report.json")),
        read_json(&dir.join(format!("{name}.trace.json"))),
    )
}

/// A task span as the test reads it.
#[derive(Debug)]
struct Span {
    tid: u64,
    ts: u64,
    dur: u64,
    workflow: u64,
    attempt: u64,
}

/// The trace's task spans by task id; panics on a task drawn twice or a
/// span whose name does not match its args.
fn task_spans(trace: &Value) -> BTreeMap<u64, Span> {
    let mut spans = BTreeMap::new();
    for e in trace["traceEvents"].as_array().unwrap() {
        if e["cat"] != "task" {
            continue;
        }
        assert_eq!(e["ph"], "X", "{e}");
        let a = &e["args"];
        let (workflow, task) = (a["workflow"].as_u64().unwrap(), a["task"].as_u64().unwrap());
        assert_eq!(e["name"], format!("w{workflow} t{task}"), "{e}");
        assert!(a["tokens"].as_u64().is_some(), "{e}");
        assert!(
            matches!(a["outcome"].as_str(), Some("correct" | "wrong")),
            "{e}"
        );
        let span = Span {
            tid: e["tid"].as_u64().unwrap(),
            ts: e["ts"].as_u64().unwrap(),
            dur: e["dur"].as_u64().unwrap(),
            workflow,
            attempt: a["attempt"].as_u64().unwrap(),
        };
        assert!(
            spans.insert(task, span).is_none(),
            "task {task} drawn twice"
        );
    }
    spans
}

/// Check every Gantt row of the report against the trace: one span per
/// committed execution (`gantt_total`), each on its agent's track (tid =
/// address + 1, a track named `a<address> ...`) at the row's time, inside
/// the run. Returns the spans.
fn check_against_report(report: &Value, trace: &Value) -> BTreeMap<u64, Span> {
    let spans = task_spans(trace);
    let c = &report["collab"];
    let total = c["gantt_total"].as_u64().unwrap();
    assert_eq!(
        spans.len() as u64,
        total,
        "one span per committed execution"
    );
    let end_us = (report["sim_time_ms"].as_f64().unwrap() * 1000.0).round() as u64;
    let tracks: BTreeMap<u64, String> = trace["traceEvents"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["name"] == "thread_name")
        .map(|e| {
            let name = e["args"]["name"].as_str().unwrap().to_string();
            (e["tid"].as_u64().unwrap(), name)
        })
        .collect();
    for s in spans.values() {
        assert!(
            s.ts + s.dur <= end_us,
            "{s:?} ends after the run ({end_us} µs)"
        );
        assert!(s.attempt >= 1, "{s:?}");
    }
    let rows = c["gantt"].as_array().unwrap();
    assert!(!rows.is_empty());
    for r in rows {
        let task = r["task"].as_u64().unwrap();
        let s = spans
            .get(&task)
            .unwrap_or_else(|| panic!("task {task} of the Gantt list has no span"));
        let agent = r["agent"].as_u64().unwrap();
        assert_eq!(s.tid, agent + 1, "task {task}: on agent {agent}'s track");
        assert!(
            tracks[&s.tid].starts_with(&format!("a{agent} ")),
            "track {} is {:?}",
            s.tid,
            tracks[&s.tid]
        );
        let start = (r["start_ms"].as_f64().unwrap() * 1000.0).round() as u64;
        let end = (r["end_ms"].as_f64().unwrap() * 1000.0).round() as u64;
        let ts = start.min(end_us);
        assert_eq!((s.ts, s.dur), (ts, end.min(end_us) - ts), "task {task}");
    }
    spans
}

/// Agents crash, pause and restart in this scenario; all 238 committed
/// executions are in the report's list, so every one is checked.
#[test]
fn every_execution_is_a_span_on_its_agents_track() {
    let tmp = tempfile::tempdir().unwrap();
    let (report, trace) = run_traced(tmp.path(), "agent-faults");
    assert_eq!(
        report["collab"]["gantt"].as_array().unwrap().len() as u64,
        report["collab"]["gantt_total"].as_u64().unwrap(),
        "the list is complete here"
    );
    let spans = check_against_report(&report, &trace);
    assert!(spans.len() > 100, "{}", spans.len());
    // Workflow ids: tasks are numbered in submission order, workflow by
    // workflow, so the ids never go down and stay below the submitted.
    let submitted = report["collab"]["workflows"]["submitted"].as_u64().unwrap();
    let mut last = 0;
    for s in spans.values() {
        assert!(s.workflow >= last && s.workflow < submitted, "{s:?}");
        last = s.workflow;
    }
}

/// 800 committed executions: the report lists 500, the trace draws all
/// 800; every pipeline workflow has the same four stages, so task `t`
/// belongs to workflow `t / 4`.
#[test]
fn the_trace_is_not_capped_at_the_reports_500_rows() {
    let tmp = tempfile::tempdir().unwrap();
    let (report, trace) = run_traced(tmp.path(), "pipeline");
    let c = &report["collab"];
    assert_eq!(c["gantt"].as_array().unwrap().len(), 500);
    let spans = check_against_report(&report, &trace);
    assert_eq!(spans.len(), 800);
    let per = c["tasks"]["total"].as_u64().unwrap() / c["workflows"]["submitted"].as_u64().unwrap();
    assert_eq!(per, 4);
    for (task, s) in &spans {
        assert_eq!(s.workflow, task / per, "task {task}");
    }
}

/// With `--window`, the trace keeps the executions overlapping the window,
/// all of them and no others (the report's list, complete in this
/// scenario, is the reference).
#[test]
fn a_windowed_trace_keeps_the_executions_overlapping_the_window() {
    let tmp = tempfile::tempdir().unwrap();
    let (report, trace) =
        run_traced_with(tmp.path(), "agent-faults", &["--window", "20000..40000"]);
    let spans = task_spans(&trace);
    let (lo, hi) = (20_000_000u64, 40_000_000u64);
    let want: Vec<u64> = report["collab"]["gantt"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| {
            let start = (r["start_ms"].as_f64().unwrap() * 1000.0).round() as u64;
            let end = (r["end_ms"].as_f64().unwrap() * 1000.0).round() as u64;
            start <= hi && end >= lo
        })
        .map(|r| r["task"].as_u64().unwrap())
        .collect();
    assert!(want.len() > 10 && want.len() < 200, "{}", want.len());
    assert_eq!(spans.keys().copied().collect::<Vec<_>>(), want);
}
