//! The per-seed budget of a sweep: a seed that needs more events, or
//! queues more events at once (the memory estimate), than its budget is
//! stopped and recorded as a `budget` failure, which `--resume` skips;
//! the default budget changes nothing for the shipped sweeps.

use agentsim::scenario::Scenario;
use agentsim::sweep::{self, SeedBudget, BUDGET_FAILURE};
use serde_json::{json, Value};
use std::path::Path;
use std::process::{Command, Output};

const QUICKSTART: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/scenarios/quickstart.json");

fn agentsim(args: &[&str], cwd: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_agentsim"))
        .args(args)
        .current_dir(cwd)
        .output()
        .expect("run agentsim")
}

fn said(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stderr),
        String::from_utf8_lossy(&o.stdout)
    )
}

fn result_lines(dir: &Path) -> Vec<Value> {
    std::fs::read_to_string(dir.join("results.jsonl"))
        .unwrap()
        .lines()
        .skip(1)
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// A 100-node heartbeat mesh: every ping round puts ~10,000 messages in
/// flight at once.
fn mesh() -> Scenario {
    Scenario::from_spec(
        serde_json::from_value(json!({
            "name": "mesh",
            "duration_ms": 300,
            "cluster": { "nodes": 100, "process": "heartbeat" }
        }))
        .unwrap(),
    )
    .unwrap()
}

/// An events budget below what a seed needs: every seed is a `budget`
/// failure naming the budget and the flag, with a failure file; `--resume`
/// runs none of them again; resuming with another budget is refused.
#[test]
fn seeds_over_the_events_budget_are_budget_failures_that_resume_skips() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("s");
    let out_s = out.to_str().unwrap();
    let args = [
        "sweep",
        QUICKSTART,
        "--seeds",
        "0..3",
        "--jobs",
        "1",
        "--seed-budget-events",
        "2000",
        "--out",
        out_s,
    ];
    let o = agentsim(&args, dir.path());
    assert_eq!(o.status.code(), Some(1), "{}", said(&o));
    let lines = result_lines(&out);
    assert_eq!(lines.len(), 3);
    for l in &lines {
        assert_eq!(l["failures"][0]["check"], BUDGET_FAILURE, "{l}");
        assert!(l["events"].as_u64().unwrap() <= 2000, "{l}");
        let msg = l["failures"][0]["message"].as_str().unwrap();
        assert!(
            msg.contains("budget of 2000 events") && msg.contains("--seed-budget-events"),
            "{msg}"
        );
        // The scenario's own event cap did not fire: no event_storm failure.
        assert!(!l["failures"].to_string().contains("event_storm"), "{l}");
        let seed = l["seed"].as_u64().unwrap();
        assert!(out.join(format!("failures/seed-{seed}.json")).exists());
    }
    let header: Value = serde_json::from_str(
        std::fs::read_to_string(out.join("results.jsonl"))
            .unwrap()
            .lines()
            .next()
            .unwrap(),
    )
    .unwrap();
    assert_eq!(header["budget"]["events"], 2000);

    let before = std::fs::read(out.join("results.jsonl")).unwrap();
    let mut resume = args.to_vec();
    resume.push("--resume");
    let o = agentsim(&resume, dir.path());
    assert_eq!(o.status.code(), Some(1), "{}", said(&o));
    assert_eq!(
        std::fs::read(out.join("results.jsonl")).unwrap(),
        before,
        "resume ran a budget seed again"
    );

    let o = agentsim(
        &[
            "sweep", QUICKSTART, "--seeds", "0..3", "--out", out_s, "--resume",
        ],
        dir.path(),
    );
    assert_eq!(o.status.code(), Some(2), "{}", said(&o));
    assert!(said(&o).contains("seed budget"), "{}", said(&o));
}

/// The memory estimate: a mesh whose rounds queue ~10,000 events exceeds
/// a 1 MiB budget (4,096 queued events at 256 B) and is a `budget`
/// failure; under the default budget the same seed passes.
#[test]
fn a_seed_over_the_memory_estimate_is_a_budget_failure() {
    let s = mesh();
    let tight = sweep::run_seed_within(&s, 1, false, SeedBudget::new(u64::MAX, 1));
    let f = &tight.result.failures;
    assert_eq!(f[0].check, BUDGET_FAILURE, "{f:?}");
    assert!(f[0].message.contains("memory budget"), "{}", f[0].message);
    assert!(tight.failure_report.is_some());

    let roomy = sweep::run_seed(&s, 1, false);
    assert!(roomy.result.ok(), "{:?}", roomy.result.failures);
    assert!(roomy.result.events > tight.result.events);
}

/// The default budget leaves a sweep's results as they were: the same
/// result as a run with no budget at all, and no `budget` key in the
/// header.
#[test]
fn default_budget_changes_nothing() {
    let s = Scenario::load(Path::new(QUICKSTART)).unwrap();
    let budgeted = sweep::run_seed(&s, 5, false);
    let free = agentsim::runner::run(
        &sweep::seed_scenario(&s, 5, false).0,
        &agentsim::runner::RunOptions::default(),
    );
    assert_eq!(budgeted.result.trace_hash, free.report.trace_hash);
    assert_eq!(budgeted.result.failures, free.report.checks.failures);

    let dir = tempfile::tempdir().unwrap();
    let o = agentsim(
        &["sweep", QUICKSTART, "--seeds", "0..2", "--out", "d"],
        dir.path(),
    );
    assert_eq!(o.status.code(), Some(0), "{}", said(&o));
    let header = std::fs::read_to_string(dir.path().join("d/results.jsonl")).unwrap();
    assert!(!header.lines().next().unwrap().contains("budget"));
}
