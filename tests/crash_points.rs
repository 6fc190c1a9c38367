//! Faults tied to protocol events: `crash_at` crash points and `message`
//! rules. A crash point fires as a logged scripted crash naming the point
//! (so the fault log, replay and shrink see it like any crash); a run with
//! them is deterministic; and they reach schedules random faults do not:
//! the Figure 8 bug (`commit-previous-term`) and a counted duplicate vote
//! (`dup-vote-count`) fail under them while the correct build passes.

use agentsim::metrics::Report;
use agentsim::runner::{self, RunOptions};
use agentsim::scenario::Scenario;

/// A 3-node KV cluster with tight timeouts (the sweep self-test's
/// settings and random nemesis), `faults` as given, an optional planted
/// bug.
fn scenario(seed: u64, faults: &str, bug: Option<&str>, max_entries: u32) -> Scenario {
    scenario_n(3, seed, faults, bug, max_entries)
}

/// [`scenario`] with `nodes` servers.
fn scenario_n(
    nodes: u32,
    seed: u64,
    faults: &str,
    bug: Option<&str>,
    max_entries: u32,
) -> Scenario {
    let bug = bug.map_or(String::new(), |b| format!(r#""bug": "{b}","#));
    let text = format!(
        r#"{{
  "name": "crash-points", "seed": {seed}, "duration_ms": 5000, {bug}
  "cluster": {{ "nodes": {nodes}, "process": "raft", "start_jitter_ms": 5,
               "raft": {{ "election_timeout_ms": [20, 40], "heartbeat_ms": 7, "pre_vote": false,
                         "check_quorum": false, "max_entries_per_append": {max_entries} }} }},
  "network": {{ "latency_ms": {{ "dist": "uniform", "min": 1, "max": 6 }}, "reorder": true }},
  "disk": {{ "sync_ms": {{ "dist": "uniform", "min": 0.2, "max": 1 }} }},
  "workload": {{ "clients": 4, "rate_per_s": 400, "keys": 3, "timeout_ms": 300 }},
  "nemesis": {{ "mean_interval_ms": 300, "kinds": ["crash", "pause", "partition", "link"],
               "duration_ms": [20, 600] }},
  "faults": [{faults}]
}}"#
    );
    Scenario::from_str("<inline>", &text).expect("valid scenario")
}

fn run(s: &Scenario) -> Report {
    runner::run(s, &RunOptions::default()).report
}

/// Leaders lost right after they append (before replicating) and right
/// after they commit (the Figure 8 schedule: two leaders keep an
/// unreplicated entry each, the third commits an old one and is lost
/// before replicating its own).
const FIGURE8_POINTS: &str = r#"
  { "at_ms": 0, "kind": "crash_at",
    "crash_at": { "point": "entry_appended", "probability": 0.5, "restart_after_ms": [0, 2] } },
  { "at_ms": 0, "kind": "crash_at",
    "crash_at": { "point": "commit_advanced", "probability": 0.5, "restart_after_ms": [0, 2] } }"#;

/// Each firing is a scripted `crash` in the fault log with the point's
/// name, followed by the restart its range drew; the rule's arming is
/// logged too; the same seed gives the same trace (replay works).
#[test]
fn crash_point_firings_are_logged_as_scripted_crashes_and_replay() {
    let s = scenario(1, FIGURE8_POINTS, None, 1);
    let r = run(&s);
    let fired: Vec<&serde_json::Value> = r
        .faults
        .iter()
        .filter(|f| f["kind"] == "crash" && f.get("point").is_some())
        .collect();
    assert!(!fired.is_empty(), "no crash point fired: {:?}", r.faults);
    for f in &fired {
        assert_eq!(f["source"], "scripted");
        let point = f["point"].as_str().unwrap();
        assert!(point == "entry_appended" || point == "commit_advanced");
    }
    let armed = r.faults.iter().filter(|f| f["kind"] == "crash_at").count();
    assert_eq!(armed, 2, "both rules are logged when armed");
    let restarts = r
        .faults
        .iter()
        .filter(|f| f["kind"] == "restart" && f["source"] == "undo")
        .count();
    assert!(
        restarts >= fired.len() - 1,
        "every crash restarts within 2 ms"
    );
    assert!(r.checks.failures.is_empty(), "{:?}", r.checks.failures);
    assert_eq!(run(&s).trace_hash, r.trace_hash, "deterministic");
}

/// A rule at probability 0 draws and changes nothing but its own log
/// entry: the run is the same as without it apart from that fault event.
#[test]
fn a_rule_that_never_fires_crashes_nothing() {
    let never = r#"{ "at_ms": 0, "kind": "crash_at",
        "crash_at": { "point": "vote_granted", "probability": 0.0 } }"#;
    let r = run(&scenario(2, never, None, 64));
    let by_point = r
        .faults
        .iter()
        .filter(|f| f.get("point").is_some() && f["kind"] != "crash_at")
        .count();
    assert_eq!(by_point, 0, "{:?}", r.faults);
    assert!(r.checks.failures.is_empty(), "{:?}", r.checks.failures);
}

/// Figure 8 (§5.4.2, thesis §3.6.2) under crash points: with one entry
/// per append, `commit-previous-term` fails a safety check in some of 40
/// seeds, and the correct build passes every one of them.
#[test]
fn crash_points_find_commit_previous_term() {
    let mut found = 0;
    for seed in 0..40 {
        let bad = run(&scenario(
            seed,
            FIGURE8_POINTS,
            Some("commit-previous-term"),
            1,
        ));
        if bad.checks.failures.iter().any(|f| f.check == "safety") {
            found += 1;
        }
        let good = run(&scenario(seed, FIGURE8_POINTS, None, 1));
        assert!(
            good.checks.failures.is_empty(),
            "seed {seed}: {:?}",
            good.checks.failures
        );
    }
    assert!(found > 0, "commit-previous-term not found in 40 seeds");
}

/// A duplicated vote grant (§3.4): on five servers `dup-vote-count`
/// counts one grant twice and elects a leader without a majority in some
/// seed; the correct build, which counts
/// voters, passes the same seeds.
#[test]
fn duplicated_vote_responses_find_dup_vote_count() {
    let dup = r#"
      { "at_ms": 0, "kind": "message",
        "message": { "message_kind": "request_vote_resp", "probability": 0.5, "duplicate_ms": [0, 3] } },
      { "at_ms": 0, "kind": "crash_at",
        "crash_at": { "point": "became_leader", "probability": 0.5, "restart_after_ms": [0, 2] } }"#;
    let mut found = 0;
    for seed in 0..30 {
        let bad = run(&scenario_n(5, seed, dup, Some("dup-vote-count"), 64));
        if !bad.checks.failures.is_empty() {
            found += 1;
        }
        let good = run(&scenario_n(5, seed, dup, None, 64));
        assert!(
            good.checks.failures.is_empty(),
            "seed {seed}: {:?}",
            good.checks.failures
        );
    }
    assert!(found > 0, "dup-vote-count not found in 30 seeds");
}
