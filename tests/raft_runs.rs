//! Raft runs end to end, read like transcripts: a scripted scenario, then
//! assertions on the report. Every shipped scenario (except the
//! deliberately buggy ones, see bugs_caught.rs) must pass its checks.

use agentsim::metrics::Report;
use agentsim::runner::{self, RunOptions};
use agentsim::scenario::Scenario;
use serde_json::Value;
use std::path::{Path, PathBuf};

fn run_file(path: &Path, opts: RunOptions) -> Report {
    let base = Scenario::load(path).unwrap_or_else(|e| panic!("{e}"));
    let s = runner::effective(&base, &opts);
    runner::run(&s, &opts).report
}

fn run(path: &str) -> Report {
    run_file(Path::new(path), RunOptions::default())
}

fn shipped(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            if p.file_name().is_some_and(|n| n != "bugs") {
                shipped(&p, out);
            }
        } else if p.extension().is_some_and(|x| x == "json") {
            out.push(p);
        }
    }
}

/// Every shipped scenario runs and all its checks hold (long performance
/// scenarios are cut to 20 simulated seconds).
#[test]
fn every_shipped_scenario_passes_its_checks() {
    let mut files = Vec::new();
    shipped(Path::new("scenarios"), &mut files);
    assert!(files.len() >= 15, "found only {files:?}");
    let mut failed = Vec::new();
    for f in &files {
        let long = f.to_string_lossy().contains("perf/") || f.to_string_lossy().contains("-1h");
        let opts = RunOptions {
            duration_ms: long.then_some(20_000.0),
            ..Default::default()
        };
        let r = run_file(f, opts);
        if !r.checks.ok {
            failed.push(format!("{}: {:?}", f.display(), r.checks.failures));
        }
        assert!(r.events > 0, "{} ran no event", f.display());
    }
    assert!(failed.is_empty(), "{}", failed.join("\n"));
}

/// The quickstart report carries every key scripts rely on, with sane
/// values: a leader was elected, the leader crash caused a measured
/// downtime, clients completed operations, safety was observed.
#[test]
fn quickstart_report_has_raft_sections() {
    let r = run("scenarios/quickstart.json");
    let v = serde_json::to_value(&r).unwrap();
    for key in [
        "elections",
        "leader_loss_downtime_ms",
        "commit_latency_ms",
        "client_ops",
        "throughput_ops_per_s",
        "availability",
        "max_term",
        "messages_by_type",
        "bytes",
        "role_time_ms",
        "safety",
        "linearizability",
    ] {
        assert!(v.get(key).is_some(), "report lacks {key}");
    }
    assert!(!v["elections"].as_array().unwrap().is_empty());
    assert!(
        v["leader_loss_downtime_ms"]["count"].as_u64().unwrap() >= 1,
        "the leader crash is a leader loss"
    );
    for q in ["p50", "p90", "p99", "max"] {
        assert!(v["leader_loss_downtime_ms"][q].as_f64().unwrap() > 0.0);
    }
    assert!(v["commit_latency_ms"]["p50"].as_f64().unwrap() > 0.0);
    assert!(v["client_ops"]["ok"].as_u64().unwrap() > 100);
    assert!(v["safety"]["observations"].as_u64().unwrap() > 1000);
    assert_eq!(v["linearizability"]["ok"], Value::Bool(true));
    assert_eq!(v["role_time_ms"].as_array().unwrap().len(), 5);
}

/// A liveness expectation that the run does not meet fails the run with
/// what was seen: with check-quorum alone, node 4's inflated term deposes
/// the leader when the partial partition heals, so "no election after
/// heal" must fail.
#[test]
fn unmet_liveness_expectation_fails_with_what_was_seen() {
    let base = Scenario::load(Path::new("scenarios/partial/checkquorum.json")).unwrap();
    let mut spec = base.spec.clone();
    spec.expect.as_mut().unwrap().max_elections_after_heal = Some(0);
    let s = Scenario::from_spec(spec).unwrap();
    let r = runner::run(&s, &RunOptions::default()).report;
    assert!(!r.checks.ok);
    let f = r
        .checks
        .failures
        .iter()
        .find(|f| f.check == "expect.max_elections_after_heal")
        .expect("the expectation failed");
    assert!(
        f.message.contains("elections after the last fault ended"),
        "{}",
        f.message
    );
}

/// Pre-vote stops the partitioned node from inflating its term; without
/// it (check-quorum alone) the term climbs by dozens.
#[test]
fn pre_vote_prevents_term_inflation_under_partial_partition() {
    let with = run("scenarios/partial/both.json");
    let without = run("scenarios/partial/checkquorum.json");
    let term = |r: &Report| r.section("max_term").as_u64().unwrap();
    assert!(term(&with) <= 2, "with pre-vote: max term {}", term(&with));
    assert!(
        term(&without) > 10,
        "without pre-vote: max term {}",
        term(&without)
    );
}

/// After the whole cluster crashes and restarts, committed writes are still
/// there: the history stays linearizable and a leader comes back.
#[test]
fn committed_writes_survive_a_full_cluster_restart() {
    let r = run("scenarios/raft/total-restart.json");
    assert!(r.checks.ok, "{:?}", r.checks.failures);
    let crashes = r.faults.iter().filter(|f| f.kind == "crash").count();
    assert_eq!(crashes, 5);
    assert!(r.section("client_ops")["ok"].as_u64().unwrap() > 100);
}

/// Figure 16 set-up: every leader crash is followed by a measured downtime,
/// and with 150-300 ms timeouts every crash finds a leader to crash.
#[test]
fn fig16_measures_downtime_per_leader_crash() {
    let r = run_file(
        Path::new("scenarios/fig16/150-300.json"),
        RunOptions {
            duration_ms: Some(200_000.0),
            ..Default::default()
        },
    );
    let crashes = r
        .faults
        .iter()
        .filter(|f| f.kind == "crash" && !f.is_skipped())
        .count();
    let d = &r.section("leader_loss_downtime_ms");
    assert!(crashes >= 70, "{crashes} crashes");
    assert_eq!(d["count"].as_u64().unwrap() as usize, crashes);
    let p50 = d["p50"].as_f64().unwrap();
    assert!((150.0..400.0).contains(&p50), "median downtime {p50} ms");
}

/// `--history` writes one Jepsen-style JSON object per line (streamed
/// during the run): every completion follows an invoke of the same
/// process, times never go backwards, `index` counts the lines, and values
/// follow the documented shapes.
#[test]
fn history_file_follows_the_documented_format() {
    let dir = tempfile::tempdir().unwrap();
    let hist = dir.path().join("h.jsonl");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_agentsim"))
        .args(["run", "scenarios/quickstart.json", "--out"])
        .arg(dir.path())
        .arg("--history")
        .arg(&hist)
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = std::fs::read_to_string(&hist).unwrap();
    let mut last_time = 0;
    let mut open = std::collections::BTreeMap::new();
    let mut lines = 0;
    let mut nemesis = 0;
    for line in text.lines() {
        let v: Value = serde_json::from_str(line).unwrap();
        assert_eq!(
            v["index"].as_u64(),
            Some(lines),
            "index counts lines: {line}"
        );
        lines += 1;
        let t = v["time"].as_u64().unwrap();
        assert!(t >= last_time, "time went backwards at {line}");
        last_time = t;
        if v["process"] == "nemesis" {
            // Applied faults (docs/history-format.md), not client events.
            assert_eq!(v["type"], "info", "{line}");
            nemesis += 1;
            continue;
        }
        let p = v["process"].as_u64().unwrap();
        let f = v["f"].as_str().unwrap().to_string();
        match v["type"].as_str().unwrap() {
            "invoke" => {
                assert!(open.insert(p, f.clone()).is_none(), "two open ops for {p}");
                match f.as_str() {
                    "read" => assert!(v["value"].is_null()),
                    "write" => assert!(v["value"].is_i64()),
                    "cas" => assert_eq!(v["value"].as_array().unwrap().len(), 2),
                    other => panic!("unknown f {other}"),
                }
            }
            "ok" | "fail" | "info" => {
                assert_eq!(
                    open.remove(&p),
                    Some(f.clone()),
                    "completion without invoke: {line}"
                );
                if v["type"] == "fail" {
                    assert_eq!(f, "cas", "only a cas can fail definitely");
                }
            }
            other => panic!("unknown type {other}"),
        }
    }
    assert!(lines > 1000);
    // Complete: one line per invocation and per completion the report counts.
    let report: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("report.json")).unwrap())
            .unwrap();
    let ops = &report["client_ops"];
    let events: u64 = ["invoked", "ok", "fail", "info"]
        .iter()
        .map(|k| ops[*k].as_u64().unwrap())
        .sum();
    assert_eq!(lines - nemesis, events);
    assert!(nemesis >= 5, "quickstart's faults are in the history");
}
