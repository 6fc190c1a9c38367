//! Shrinking failing scenarios: the result still fails the same way, is
//! no larger than the input, replays with `agentsim run`, and a nemesis
//! failure becomes a short scripted scenario comparable to a hand-written
//! one.

use agentsim::runner::{self, RunOptions};
use agentsim::scenario::Scenario;
use agentsim::shrink::{self, failure_kind, ShrinkOptions};
use std::path::Path;

fn load(path: &str) -> Scenario {
    Scenario::load(Path::new(path)).unwrap_or_else(|e| panic!("{e}"))
}

fn opts() -> ShrinkOptions {
    ShrinkOptions {
        max_runs: 80,
        fallback_seeds: 4,
        ..Default::default()
    }
}

/// Each shipped bug scenario shrinks to a scenario no larger than itself
/// that still fails with the same kind of violation, deterministically.
#[test]
fn shrunk_bug_scenarios_still_fail_the_same_way_and_are_no_larger() {
    for bug in [
        "double-vote",
        "forget-vote",
        "skip-log-check",
        "commit-previous-term",
    ] {
        let s = load(&format!("scenarios/bugs/{bug}.json"));
        let kind = failure_kind(&runner::run(&s, &RunOptions::default()).report)
            .expect("bug scenario fails");
        let out = shrink::shrink(&s, &opts()).unwrap();
        assert_eq!(out.kind, kind, "{bug}");
        let (f0, n0, d0) = shrink::size(&s.spec);
        let (f1, n1, d1) = shrink::size(&out.scenario.spec);
        assert!(
            f1 <= f0 && n1 <= n0 && d1 <= d0,
            "{bug}: ({f0},{n0},{d0}) -> ({f1},{n1},{d1})"
        );
        assert!((f1, n1) < (f0, n0) || d1 < d0, "{bug}: nothing was removed");
        // The minimal scenario fails the same way when run afresh.
        let again = runner::run(&out.scenario, &RunOptions::default()).report;
        assert_eq!(
            failure_kind(&again),
            Some(kind),
            "{bug}: the minimal scenario does not replay"
        );
        assert_eq!(again.trace_hash, out.report.trace_hash);
    }
}

/// A failure found by a random nemesis shrinks to a scripted scenario (no
/// nemesis) with no more faults than the hand-written skip-log-check
/// scenario.
#[test]
fn nemesis_failure_shrinks_to_a_short_scripted_scenario() {
    let mut spec = load("scenarios/raft/nemesis.json").spec;
    spec.bug = Some("skip-log-check".into());
    spec.seed = 18;
    let s = Scenario::from_spec(spec).unwrap();
    let out = shrink::shrink(&s, &opts()).unwrap();
    assert_eq!(out.kind.check, "safety");
    assert!(
        out.scenario.spec.nemesis.is_none(),
        "nemesis draws were scripted"
    );
    let hand = load("scenarios/bugs/skip-log-check.json");
    assert!(
        out.scenario.spec.faults.len() <= hand.spec.faults.len(),
        "{} faults vs {} hand-written",
        out.scenario.spec.faults.len(),
        hand.spec.faults.len()
    );
    assert!(out.steps.iter().any(|s| s.contains("replaced the nemesis")));
}

/// A scenario that passes has nothing to shrink: a clear error.
#[test]
fn passing_scenario_is_refused() {
    let s = load("scenarios/partial/both.json");
    let e = shrink::shrink(&s, &opts()).unwrap_err();
    assert!(e.to_string().contains("nothing to shrink"));
}

/// The CLI writes the minimal scenario, and `agentsim run` on it fails
/// (exit 1) with the same check.
#[test]
fn cli_writes_a_scenario_that_reproduces_the_failure() {
    let dir = tempfile::tempdir().unwrap();
    let min = dir.path().join("min.json");
    let bin = env!("CARGO_BIN_EXE_agentsim");
    let out = std::process::Command::new(bin)
        .args([
            "shrink",
            "scenarios/bugs/double-vote.json",
            "--max-runs",
            "40",
            "--out",
        ])
        .arg(&min)
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("fails with safety (election_safety)"),
        "{stdout}"
    );
    let run = std::process::Command::new(bin)
        .args(["run"])
        .arg(&min)
        .arg("--out")
        .arg(dir.path().join("o"))
        .output()
        .unwrap();
    assert_eq!(run.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&run.stdout).contains("election_safety"));
    // A passing input exits 2 with a clear message.
    let pass = std::process::Command::new(bin)
        .args(["shrink", "scenarios/partial/both.json", "--out"])
        .arg(dir.path().join("p.json"))
        .output()
        .unwrap();
    assert_eq!(pass.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&pass.stderr).contains("nothing to shrink"));
    assert!(!dir.path().join("p.json").exists());
}
