//! Liveness on every run, the event cap, and `expect` in every run kind.
//!
//! Each new check is shown failing on a run that deserves it, with its own
//! name asserted, and holding on a correct one. The `expect` matrix is
//! data-driven: for every field and run kind, either the run checks it (a
//! passing and a failing value) or validation refuses it (exit 2 naming
//! the field).

use agentsim::metrics::Report;
use agentsim::runner::{self, RunOptions};
use agentsim::scenario::Scenario;
use serde_json::{json, Value};
use std::path::Path;
use std::process::Command;

fn run_spec(spec: &Value) -> Report {
    let s = Scenario::from_str("test.json", &spec.to_string()).unwrap_or_else(|e| panic!("{e}"));
    runner::run(&s, &RunOptions::default()).report
}

fn load(path: &str) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn failed(r: &Report) -> Vec<&str> {
    r.checks.failures.iter().map(|f| f.check.as_str()).collect()
}

fn failure<'a>(r: &'a Report, check: &str) -> &'a str {
    r.checks
        .failures
        .iter()
        .find(|f| f.check == check)
        .map(|f| f.message.as_str())
        .unwrap_or_else(|| panic!("{check} did not fail: {:?}", r.checks))
}

fn not_judged<'a>(r: &'a Report, check: &str) -> Option<&'a str> {
    r.checks
        .not_judged
        .iter()
        .find(|n| n.check == check)
        .map(|n| n.reason.as_str())
}

/// `agentsim ARGS` in `dir`: (exit code, stdout, stderr).
fn cli(args: &[&str], dir: &Path) -> (i32, String, String) {
    let o = Command::new(env!("CARGO_BIN_EXE_agentsim"))
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap();
    (
        o.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

/// Write `spec` to a file in `dir` and `agentsim run` it.
fn cli_run(spec: &Value, dir: &Path) -> (i32, String, String) {
    let f = dir.join("s.json");
    std::fs::write(&f, spec.to_string()).unwrap();
    let out = dir.join("out");
    cli(
        &["run", f.to_str().unwrap(), "--out", out.to_str().unwrap()],
        dir,
    )
}

/// Figure 16's 150–150 ms range with the Figure 2-literal election rule
/// (`step_down_on_lost_election: false`) and perfect clocks (no `clocks`
/// block): after the first leader crash the candidates stay tied (a
/// rejected candidate waits out its campaign's timer, and exact timers
/// keep them in lockstep), no leader is ever elected, and no cluster
/// settles for the next crash. That used to read "checks ok";
/// `liveness.leader` now fails it, exit 1, saying when the faults ended,
/// the window and what was seen. The shipped scenario (candidates step
/// down, clocks drift) elects after every crash and passes.
#[test]
fn livelocked_election_fails_liveness_leader() {
    let mut spec = load("scenarios/fig16/150-150.json");
    spec["cluster"]["raft"]["step_down_on_lost_election"] = Value::Bool(false);
    spec.as_object_mut().unwrap().remove("clocks");
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("s.json");
    std::fs::write(&f, spec.to_string()).unwrap();
    let (code, out, _) = cli(
        &[
            "run",
            f.to_str().unwrap(),
            "--duration-ms",
            "20000",
            "--out",
            "o",
        ],
        dir.path(),
    );
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("liveness.leader: faults ended at"), "{out}");
    assert!(
        out.contains("window 1500 ms")
            && out.contains("no leader known to a majority by the end of the run at 20000 ms"),
        "{out}"
    );
    let r: Report =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("o/report.json")).unwrap())
            .unwrap();
    assert_eq!(failed(&r), ["liveness.leader"]);
    assert_eq!(r.section("liveness")["leader"]["verdict"], "failed");
    let shipped = dir.path().join("shipped.json");
    std::fs::write(&shipped, load("scenarios/fig16/150-150.json").to_string()).unwrap();
    let (code, out, _) = cli(
        &[
            "run",
            shipped.to_str().unwrap(),
            "--duration-ms",
            "20000",
            "--out",
            "p",
        ],
        dir.path(),
    );
    assert_eq!(
        code, 0,
        "the shipped 150-150 (step-down, drifting clocks) passes: {out}"
    );
}

/// The quickstart cluster with no faults and a client timeout (8 ms)
/// shorter than a round trip through the leader (one-way delay 5–10 ms):
/// a leader is elected, yet no client operation ever completes.
/// `liveness.progress` fails; with the shipped 1 s timeout it holds.
#[test]
fn clients_that_never_complete_fail_liveness_progress() {
    let mut spec = load("scenarios/quickstart.json");
    spec["faults"] = json!([]);
    spec.as_object_mut().unwrap().remove("expect");
    spec["duration_ms"] = json!(10000);
    let ok = run_spec(&spec);
    assert!(ok.checks.ok, "{:?}", ok.checks);
    assert!(ok.checks.ran.iter().any(|c| c == "liveness.progress"));
    assert_eq!(ok.section("liveness")["progress"]["verdict"], "held");
    spec["workload"]["timeout_ms"] = json!(8);
    let r = run_spec(&spec);
    assert_eq!(failed(&r), ["liveness.progress"]);
    let m = failure(&r, "liveness.progress");
    assert!(
        m.contains("faults ended at 0 ms; window 5080 ms")
            && m.contains("no client operation completed"),
        "{m}"
    );
    assert_eq!(r.section("client_ops")["ok"], 0);
    assert!(r.section("elections").as_array().unwrap().len() == 1);
}

/// `limits.max_events` stops a run as `liveness.event_storm` (exit 1), the
/// first failure (a sweep files the seed under it), in every run kind; the
/// other liveness checks are then not judged.
#[test]
fn event_cap_ends_a_run_as_event_storm_in_every_run_kind() {
    for path in [
        "scenarios/quickstart.json",
        "scenarios/heartbeat-1h.json",
        "scenarios/collab/pipeline.json",
        "scenarios/collab/partition-ap.json",
    ] {
        let mut spec = load(path);
        spec["limits"] = json!({"max_events": 3000});
        let r = run_spec(&spec);
        assert_eq!(r.events, 3000, "{path}");
        assert_eq!(failed(&r)[0], "liveness.event_storm", "{path}");
        let m = failure(&r, "liveness.event_storm");
        assert!(m.contains("event cap 3000"), "{path}: {m}");
        assert!(r.sim_time_ms < spec["duration_ms"].as_f64().unwrap());
        if path.contains("quickstart") {
            let why = not_judged(&r, "liveness.leader").unwrap();
            assert!(why.contains("event cap"), "{why}");
        }
    }
    let mut spec = load("scenarios/quickstart.json");
    spec["limits"] = json!({"max_events": 3000});
    let dir = tempfile::tempdir().unwrap();
    let (code, out, _) = cli_run(&spec, dir.path());
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("liveness.event_storm"), "{out}");
    // Without a limit the default cap (2,000 events per simulated ms) is
    // far above what a correct run needs.
    let r = run_spec(&load("scenarios/quickstart.json"));
    assert!(r.checks.ran.iter().any(|c| c == "liveness.event_storm"));
    assert!(r.checks.ok);
}

/// A run that ends before the window closes, or with a fault still
/// active, is not judged (said in `checks.not_judged`), never passed or
/// failed on a guess.
#[test]
fn unfinished_windows_and_active_faults_are_not_judged() {
    let mut spec = load("scenarios/quickstart.json");
    spec.as_object_mut().unwrap().remove("expect");
    // The leader crashes 50 ms before the end: no election can finish.
    spec["faults"] = json!([{"at_ms": 19950, "kind": "crash", "node": "leader"}]);
    let r = run_spec(&spec);
    assert!(r.checks.ok, "{:?}", r.checks);
    let why = not_judged(&r, "liveness.leader").expect("leader not judged");
    assert!(
        why.contains("before the window closed") && why.contains("faults ended at 19950 ms"),
        "{why}"
    );
    // A partition that never heals: faults still active.
    spec["faults"] = json!([{"at_ms": 5000, "kind": "partition", "groups": [[0, 1], [2, 3, 4]]}]);
    let r = run_spec(&spec);
    let why = not_judged(&r, "liveness.progress").expect("progress not judged");
    assert!(
        why.contains("faults still active") && why.contains("partition"),
        "{why}"
    );
    let dir = tempfile::tempdir().unwrap();
    let (code, out, _) = cli_run(&spec, dir.path());
    assert_eq!(code, 0);
    assert!(
        out.contains("not judged  liveness.leader: faults still active"),
        "{out}"
    );
}

/// A permanent crash of a minority is an end state, judged: the leader is
/// crashed for good at 10 s and the rest must elect a new one within the
/// window. A 1 ms window cannot be met (an election takes at least one
/// election timeout) and fails with when the leader came.
#[test]
fn leader_window_after_a_permanent_leader_crash() {
    let mut spec = load("scenarios/quickstart.json");
    spec.as_object_mut().unwrap().remove("expect");
    spec["faults"] = json!([{"at_ms": 10000, "kind": "crash", "node": "leader"}]);
    let r = run_spec(&spec);
    assert!(r.checks.ok, "{:?}", r.checks);
    assert_eq!(r.section("liveness")["leader"]["verdict"], "held");
    spec["expect"] = json!({"leader_within_ms_after_heal": 1});
    let r = run_spec(&spec);
    let m = failure(&r, "liveness.leader");
    assert!(
        m.contains("faults ended at 10000 ms; window 1 ms") && m.contains("only at"),
        "{m}"
    );
}

// ---------------------------------------------------------------------------
// `expect` in every run kind
// ---------------------------------------------------------------------------

/// Run kinds, each a small scenario with 5% message loss whose one fault
/// is a crash at 1.5 s: of the Raft leader for good, or (no Raft leader)
/// of server 0, restarted at 2 s.
fn kind(name: &str) -> Value {
    let crash = json!([{"at_ms": 1500, "kind": "crash", "node": 0, "restart_after_ms": 500}]);
    let mut s = match name {
        "heartbeat" => json!({
            "name": "hb", "duration_ms": 6000,
            "cluster": {"nodes": 3, "process": "heartbeat"},
        }),
        "raft" => json!({
            "name": "kv", "duration_ms": 6000,
            "cluster": {"nodes": 3, "process": "raft"},
            "workload": {"clients": 2, "rate_per_s": 40, "timeout_ms": 300},
        }),
        "collab-cp" | "collab-ap" => {
            let mut s = load("scenarios/collab/pipeline.json");
            s["duration_ms"] = json!(60000);
            s["workflow"]["arrivals"]["workflows"] = json!(3);
            if name == "collab-ap" {
                s["workflow"]["consistency"] = json!("ap");
            }
            s
        }
        _ => unreachable!(),
    };
    s["network"] = json!({"latency_ms": {"dist": "fixed", "value": 2}, "drop": 0.05});
    s["faults"] = crash;
    if name != "heartbeat" && name != "collab-ap" {
        // The leader stays down: the last fault is its crash, after which
        // the others must elect a new one.
        s["faults"] = json!([{"at_ms": 1500, "kind": "crash", "node": "leader"}]);
    }
    s
}

/// What a field does in a run kind: checked (a passing and a failing
/// value) or refused by validation.
enum Rule {
    Checked { pass: Value, fail: Value },
    Rejected,
}

/// Every `expect` field × every run kind: checked there (passing and
/// failing runs, failure named) or refused by validation (exit 2 naming
/// the field path).
#[test]
fn every_expect_field_is_checked_or_rejected_in_every_run_kind() {
    use Rule::*;
    let checked = |pass: Value, fail: Value| Checked { pass, fail };
    let kinds = ["heartbeat", "raft", "collab-cp", "collab-ap"];
    // field, check name, rule per kind (in `kinds` order)
    let table: Vec<(&str, &str, [Rule; 4])> = vec![
        (
            "min_delivery_ratio",
            "expect.min_delivery_ratio",
            [
                checked(json!(0.5), json!(1.0)),
                checked(json!(0.5), json!(1.0)),
                checked(json!(0.5), json!(1.0)),
                checked(json!(0.5), json!(1.0)),
            ],
        ),
        (
            "leader_within_ms_after_heal",
            "liveness.leader",
            [
                Rejected,
                checked(json!(3000), json!(1)),
                checked(json!(3000), json!(1)),
                Rejected,
            ],
        ),
        (
            "max_elections_after_heal",
            "expect.max_elections_after_heal",
            [
                Rejected,
                checked(json!(5), json!(0)),
                checked(json!(5), json!(0)),
                Rejected,
            ],
        ),
        (
            "min_availability",
            "expect.min_availability",
            [
                Rejected,
                checked(json!(0.5), json!(1.0)),
                Rejected,
                Rejected,
            ],
        ),
        (
            "progress_within_ms_after_heal",
            "liveness.progress",
            [
                Rejected,
                checked(json!(3000), json!(0.001)),
                Rejected,
                Rejected,
            ],
        ),
    ];
    let dir = tempfile::tempdir().unwrap();
    let mut rejected = 0;
    for (field, check, rules) in &table {
        for (k, rule) in kinds.iter().zip(rules) {
            let mut spec = kind(k);
            match rule {
                Checked { pass, fail } => {
                    spec["expect"] = json!({ *field: pass });
                    let r = run_spec(&spec);
                    assert!(
                        r.checks.ok && r.checks.ran.iter().any(|c| c == check),
                        "{k}: expect.{field} = {pass} should be checked and hold: {:?}",
                        r.checks
                    );
                    spec["expect"] = json!({ *field: fail });
                    let r = run_spec(&spec);
                    failure(&r, check);
                }
                Rejected => {
                    spec["expect"] = json!({ *field: 1 });
                    let (code, out, err) = cli_run(&spec, dir.path());
                    assert_eq!(code, 2, "{k}: expect.{field} accepted: {out}{err}");
                    assert!(
                        err.contains(&format!("field `expect.{field}`")),
                        "{k}: {err}"
                    );
                    rejected += 1;
                }
            }
        }
    }
    assert_eq!(rejected, 10);
}

/// New fields are validated: a zero event cap and non-positive windows
/// are refused with the field named.
#[test]
fn new_limits_and_windows_are_validated() {
    let dir = tempfile::tempdir().unwrap();
    for (patch, path) in [
        (json!({"limits": {"max_events": 0}}), "limits.max_events"),
        (
            json!({"expect": {"progress_within_ms_after_heal": 0}}),
            "expect.progress_within_ms_after_heal",
        ),
        (
            json!({"expect": {"leader_within_ms_after_heal": -5}}),
            "expect.leader_within_ms_after_heal",
        ),
    ] {
        let mut spec = kind("raft");
        for (k, v) in patch.as_object().unwrap() {
            spec[k] = v.clone();
        }
        let (code, _, err) = cli_run(&spec, dir.path());
        assert_eq!(code, 2, "{patch}");
        assert!(err.contains(&format!("field `{path}`")), "{err}");
        assert!(!dir.path().join("out/report.json").exists());
    }
}

/// `nemesis.until_ms` gives a nemesis run a fault-free tail: no fault is
/// drawn after it (undos of earlier draws still run), so liveness is
/// judged on every seed instead of being cut off by the end of the run.
#[test]
fn nemesis_until_leaves_a_judged_fault_free_tail() {
    let spec = load("scenarios/sweep/nemesis-heal.json");
    for seed in 0..5 {
        let mut s = spec.clone();
        s["seed"] = json!(seed);
        let r = run_spec(&s);
        assert!(r.checks.ok, "seed {seed}: {:?}", r.checks);
        let drawn: Vec<f64> = r
            .faults
            .iter()
            // Draws (a clock draw and its reset share a kind: left out).
            .filter(|f| {
                f.source == "nemesis"
                    && ["crash", "pause", "partition", "link"].contains(&f.kind.as_str())
            })
            .map(|f| f.at_ms)
            .collect();
        assert!(
            !drawn.is_empty() && drawn.iter().all(|&t| t <= 8000.0),
            "{drawn:?}"
        );
        assert!(
            r.checks.not_judged.is_empty(),
            "seed {seed}: {:?}",
            r.checks
        );
        assert_eq!(r.section("liveness")["leader"]["verdict"], "held");
        assert_eq!(r.section("liveness")["progress"]["verdict"], "held");
    }
    let mut bad = spec.clone();
    bad["nemesis"]["until_ms"] = json!(20000);
    let dir = tempfile::tempdir().unwrap();
    let (code, _, err) = cli_run(&bad, dir.path());
    assert_eq!(code, 2);
    assert!(err.contains("field `nemesis.until_ms`"), "{err}");
}

/// A sweep files a seed stopped by the event cap under the kind
/// `liveness.event_storm`, and counts seeds whose liveness was not judged.
#[test]
fn sweep_files_event_storm_seeds_and_counts_not_judged() {
    let dir = tempfile::tempdir().unwrap();
    let mut spec = load("scenarios/quickstart.json");
    spec["limits"] = json!({"max_events": 3000});
    std::fs::write(dir.path().join("storm.json"), spec.to_string()).unwrap();
    let (code, out, err) = cli(
        &["sweep", "storm.json", "--seeds", "0..3", "--out", "sw"],
        dir.path(),
    );
    assert_eq!(code, 1, "{out}{err}");
    let sweep: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("sw/sweep.json")).unwrap())
            .unwrap();
    assert_eq!(
        sweep["stats"]["failures_by_kind"]["liveness.event_storm"],
        3
    );
    assert_eq!(sweep["failures"][0]["kind"], "liveness.event_storm");
    assert_eq!(sweep["stats"]["not_judged_by_check"]["liveness.leader"], 3);
}
