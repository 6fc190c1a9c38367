//! Every liveness expectation of a scenario's `expect` block is shown
//! failing with its own check name: a shipped scenario whose run meets its
//! expectation, then the same run with the threshold tightened past what
//! the run achieved. (`expect.max_elections_after_heal` is shown failing in
//! `tests/raft_runs.rs`.)

use agentsim::metrics::Report;
use agentsim::runner::{self, RunOptions};
use agentsim::scenario::{ExpectSpec, Scenario, ScenarioSpec};
use std::path::Path;

fn spec(file: &str) -> ScenarioSpec {
    Scenario::load(Path::new(file))
        .unwrap_or_else(|e| panic!("{file}: {e}"))
        .spec
}

fn run(spec: ScenarioSpec) -> Report {
    let s = Scenario::from_spec(spec).expect("still a valid scenario");
    let opts = RunOptions::default();
    runner::run(&runner::effective(&s, &opts), &opts).report
}

/// Run `spec` with `loose` and then `tight` applied to its `expect` block:
/// the loose run must pass every check, the tight one must fail exactly
/// `check` (the failure's message is returned).
fn loose_passes_tight_fails(
    mut spec: ScenarioSpec,
    check: &str,
    loose: impl Fn(&mut ExpectSpec),
    tight: impl Fn(&mut ExpectSpec),
) -> String {
    loose(spec.expect.get_or_insert_with(Default::default));
    let ok = run(spec.clone());
    assert!(ok.checks.ok, "loose {check}: {:?}", ok.checks.failures);
    assert!(
        ok.checks.ran.iter().any(|c| c == check),
        "{check} did not run: {:?}",
        ok.checks.ran
    );
    tight(spec.expect.get_or_insert_with(Default::default));
    let bad = run(spec);
    let names: Vec<&str> = bad
        .checks
        .failures
        .iter()
        .map(|f| f.check.as_str())
        .collect();
    assert_eq!(names, [check], "{:?}", bad.checks.failures);
    bad.checks.failures[0].message.clone()
}

/// `scenarios/raft/total-restart.json` with every node restarting at the
/// same moment (the shipped file staggers them, and a leader is elected
/// before the last one is back): after that restart, the last heal, a
/// leader is known to a majority only once an election is won, over
/// 150 ms later. A 1000 ms bound holds; 1 ms does not.
#[test]
fn leader_within_ms_after_heal_fails_when_the_new_leader_is_late() {
    let mut v = serde_json::to_value(spec("scenarios/raft/total-restart.json")).unwrap();
    for f in v["faults"].as_array_mut().expect("faults") {
        f["restart_after_ms"] = serde_json::json!(1000);
    }
    let together: ScenarioSpec = serde_json::from_value(v).expect("a valid spec");
    let msg = loose_passes_tight_fails(
        together,
        // The window is judged by the liveness checker (it replaced the
        // old expect check and keeps the field).
        "liveness.leader",
        |e| e.leader_within_ms_after_heal = Some(1000.0),
        |e| e.leader_within_ms_after_heal = Some(1.0),
    );
    assert!(msg.contains("faults ended at 5000"), "{msg}");
    assert!(msg.contains("window 1 ms"), "{msg}");
}

/// `scenarios/raft/total-restart.json`: while the whole cluster is down
/// client operations time out, so availability (about 0.92) meets 0.8 and
/// fails 0.99.
#[test]
fn min_availability_fails_below_the_threshold() {
    let msg = loose_passes_tight_fails(
        spec("scenarios/raft/total-restart.json"),
        "expect.min_availability",
        |e| e.min_availability = Some(0.8),
        |e| e.min_availability = Some(0.99),
    );
    assert!(
        msg.starts_with("availability 0.") && msg.ends_with("below 0.99"),
        "{msg}"
    );
}

/// The heartbeat mesh over a link that loses 10 % of messages (10 s
/// instead of an hour): about 90 % are delivered, which meets 0.8 and
/// fails 0.95.
#[test]
fn min_delivery_ratio_fails_on_a_lossy_network() {
    let mut s = spec("scenarios/heartbeat-1h.json");
    s.duration_ms = 10_000.0;
    s.network.drop = 0.1;
    let msg = loose_passes_tight_fails(
        s,
        "expect.min_delivery_ratio",
        |e| e.min_delivery_ratio = Some(0.8),
        |e| e.min_delivery_ratio = Some(0.95),
    );
    assert!(
        msg.starts_with("delivered ") && msg.contains("expected at least 0.95"),
        "{msg}"
    );
}
