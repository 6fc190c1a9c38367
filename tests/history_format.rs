//! The `--history` file (docs/history-format.md) as Jepsen tools read it:
//! it parses back into the history the checker judged (same verdict), a
//! process that got `info` is retired (its number never comes back), and
//! the faults are there as `"nemesis"` entries.

use agentsim::check::linearizability::{check, Verdict};
use agentsim::kv::history::{
    to_lin_ops, EventType, HistValue, HistoryEncoder, HistoryEvent, NemesisOp, OpFn,
};
use agentsim::time::SimTime;
use serde_json::Value;
use std::collections::BTreeSet;

/// Run `scenario` with `--history`; the parsed lines and the report.
fn run(scenario: &str, extra: &[&str]) -> (Vec<Value>, Value) {
    let dir = tempfile::tempdir().unwrap();
    let hist = dir.path().join("h.jsonl");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_agentsim"))
        .args(["run", scenario, "--out"])
        .arg(dir.path())
        .arg("--history")
        .arg(&hist)
        .args(extra)
        .output()
        .unwrap();
    assert!(
        matches!(out.status.code(), Some(0 | 1)),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines = std::fs::read_to_string(&hist)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    let report =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("report.json")).unwrap())
            .unwrap();
    (lines, report)
}

/// Back from a line to the event the checker saw: client = process mod
/// clients, time in µs, `index` as the sequence number. Nemesis lines give
/// `None`.
fn parse(v: &Value, clients: u64) -> Option<HistoryEvent> {
    let process = v["process"].as_u64()?;
    let kind = match v["type"].as_str().unwrap() {
        "invoke" => EventType::Invoke,
        "ok" => EventType::Ok,
        "fail" => EventType::Fail,
        "info" => EventType::Info,
        other => panic!("type {other}"),
    };
    let f = match v["f"].as_str().unwrap() {
        "read" => OpFn::Read,
        "write" => OpFn::Write,
        "cas" => OpFn::Cas,
        other => panic!("f {other}"),
    };
    let value = match &v["value"] {
        Value::Null => HistValue::None,
        Value::Array(a) => HistValue::Pair(a[0].as_i64().unwrap(), a[1].as_i64().unwrap()),
        n => HistValue::Int(n.as_i64().unwrap()),
    };
    Some(HistoryEvent {
        process: (process % clients) as u32,
        kind,
        f,
        key: v["key"].as_i64().unwrap(),
        value,
        time: SimTime(v["time"].as_u64().unwrap() / 1000),
        seq: v["index"].as_u64().unwrap(),
    })
}

/// Problems with Jepsen's process rules in a parsed history: a process
/// with two open operations, a completion without an invoke, or a process
/// number used again after it got `info`.
fn process_rule_violations(lines: &[Value]) -> Vec<String> {
    let mut open = BTreeSet::new();
    let mut retired = BTreeSet::new();
    let mut bad = Vec::new();
    for v in lines {
        let Some(p) = v["process"].as_u64() else {
            continue;
        };
        if retired.contains(&p) {
            bad.push(format!("process {p} used after info: {v}"));
        }
        match v["type"].as_str().unwrap() {
            "invoke" => {
                if !open.insert(p) {
                    bad.push(format!("two open operations for {p}: {v}"));
                }
            }
            t => {
                if !open.remove(&p) {
                    bad.push(format!("completion without invoke: {v}"));
                }
                if t == "info" {
                    retired.insert(p);
                }
            }
        }
    }
    bad
}

/// Quickstart (a leader crash, a partition, link cut, pause; 5 clients):
/// the file parses back into the history the checker judged, with the
/// report's verdict; retired processes never come back; `index` counts
/// every line; each applied fault is a nemesis entry.
#[test]
fn quickstart_history_round_trips_with_retired_processes_and_nemesis() {
    let (lines, report) = run("scenarios/quickstart.json", &[]);
    let clients = 5;
    for (i, v) in lines.iter().enumerate() {
        assert_eq!(v["index"].as_u64(), Some(i as u64), "{v}");
    }
    assert_eq!(process_rule_violations(&lines), Vec::<String>::new());
    let events: Vec<HistoryEvent> = lines.iter().filter_map(|v| parse(v, clients)).collect();
    let ops = to_lin_ops(&events);
    assert!(ops.len() > 1000);
    let verdict = check(&ops).expect("well-formed").verdict;
    assert_eq!(verdict, Verdict::Linearizable);
    let text = report.to_string();
    assert!(text.contains("linearizab"), "the report names the check");
    // Nemesis entries: one per applied (not skipped) fault of the log.
    let nemesis: Vec<&Value> = lines.iter().filter(|v| v["process"] == "nemesis").collect();
    let fs: Vec<&str> = nemesis.iter().map(|v| v["f"].as_str().unwrap()).collect();
    for kind in ["crash", "restart", "partition", "heal", "link", "pause"] {
        assert!(fs.contains(&kind), "no {kind} nemesis entry in {fs:?}");
    }
    assert!(nemesis.iter().all(|v| v["type"] == "info"));
    let partition = nemesis.iter().find(|v| v["f"] == "partition").unwrap();
    assert_eq!(partition["value"], serde_json::json!([[0, 1], [2, 3, 4]]));
}

/// Clients that time out (quickstart with a 25 ms client timeout, so
/// operations around the faults end `info`) continue under new process
/// numbers: `p + clients`, so `p mod clients` is still the client.
#[test]
fn timed_out_clients_continue_under_new_process_numbers() {
    let dir = tempfile::tempdir().unwrap();
    let mut s: Value =
        serde_json::from_str(&std::fs::read_to_string("scenarios/quickstart.json").unwrap())
            .unwrap();
    s["workload"]["timeout_ms"] = 25.into();
    s["expect"] = serde_json::json!({});
    let path = dir.path().join("impatient.json");
    std::fs::write(&path, s.to_string()).unwrap();
    let (lines, _) = run(path.to_str().unwrap(), &[]);
    assert_eq!(process_rule_violations(&lines), Vec::<String>::new());
    let infos: Vec<u64> = lines
        .iter()
        .filter(|v| v["type"] == "info" && v["process"].is_u64())
        .map(|v| v["process"].as_u64().unwrap())
        .collect();
    assert!(infos.len() > 10, "{} timed-out operations", infos.len());
    // Every number above the first five continues a retired one of the
    // same client (`p - 5` got info), and no retired number comes back
    // (checked above).
    let retired: BTreeSet<u64> = infos.iter().copied().collect();
    assert_eq!(retired.len(), infos.len(), "a process got info twice");
    let used: BTreeSet<u64> = lines.iter().filter_map(|v| v["process"].as_u64()).collect();
    assert!(used.iter().any(|&p| p >= 5), "no new numbers after info");
    for &p in used.iter().filter(|&&p| p >= 5) {
        assert!(
            retired.contains(&(p - 5)),
            "process {p} does not continue {}",
            p - 5
        );
    }
    // The checker, fed the parsed file, still judges it (timeouts are
    // indeterminate, not violations).
    let events: Vec<HistoryEvent> = lines.iter().filter_map(|v| parse(v, 5)).collect();
    assert_eq!(
        check(&to_lin_ops(&events)).expect("well-formed").verdict,
        Verdict::Linearizable
    );
}

/// The process-rule check fails on a history that reuses a process after
/// `info` (so the test above can fail), and the encoder never produces one.
#[test]
fn reused_process_after_info_is_caught_and_encoder_retires() {
    let ev = |kind, t| HistoryEvent {
        process: 1,
        kind,
        f: OpFn::Write,
        key: 0,
        value: HistValue::Int(7),
        time: SimTime(t),
        seq: 0,
    };
    let events = [
        ev(EventType::Invoke, 1),
        ev(EventType::Info, 2),
        ev(EventType::Invoke, 3),
        ev(EventType::Ok, 4),
    ];
    // Written naively (process = client), the rule is broken.
    let naive: Vec<Value> = events
        .iter()
        .map(|e| serde_json::json!({"process": e.process, "type": e.kind.as_str()}))
        .collect();
    assert_eq!(process_rule_violations(&naive).len(), 2);
    // Through the encoder, the second operation is process 1 + 3 clients.
    let mut enc = HistoryEncoder::new(3);
    let mut lines: Vec<Value> = events
        .iter()
        .map(|e| serde_json::from_str(&enc.client_line(e)).unwrap())
        .collect();
    assert_eq!(process_rule_violations(&lines), Vec::<String>::new());
    let procs: Vec<u64> = lines
        .iter()
        .map(|v| v["process"].as_u64().unwrap())
        .collect();
    assert_eq!(procs, [1, 1, 4, 4]);
    let nem = enc.nemesis_line(&NemesisOp {
        time: SimTime(5),
        f: "crash".into(),
        nodes: vec![2],
        groups: vec![],
    });
    lines.push(serde_json::from_str(&nem).unwrap());
    assert_eq!(
        lines[4],
        serde_json::json!({"index": 4, "time": 5000, "process": "nemesis",
            "type": "info", "f": "crash", "value": [2]})
    );
    assert_eq!(
        lines[2],
        serde_json::json!({"index": 2, "time": 3000, "process": 4, "type": "invoke",
            "f": "write", "key": 0, "value": 7})
    );
}

/// `--metrics` keeps the history in memory for its latency histogram; the
/// `--history` file written beside it is the same file, byte for byte
/// (retired processes and nemesis entries included), not an older format.
#[test]
fn history_file_is_the_same_with_metrics() {
    let q = concat!(env!("CARGO_MANIFEST_DIR"), "/scenarios/quickstart.json");
    let dir = tempfile::tempdir().unwrap();
    let metrics = dir.path().join("m.txt");
    let (plain, _) = run(q, &[]);
    let (with_metrics, _) = run(q, &["--metrics", metrics.to_str().unwrap()]);
    assert!(plain.iter().any(|l| l["process"] == "nemesis"));
    assert_eq!(plain, with_metrics);
}
