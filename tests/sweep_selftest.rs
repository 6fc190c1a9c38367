// Wall time here only reports how long the self-test took.
#![allow(clippy::disallowed_methods)]
//! Self-test of the whole pipeline: a swarm sweep of a fixed seed range
//! finds each injected bug that random faults can reach, and the correct
//! build survives a larger sweep. Slow (tens of seconds), so ignored by
//! default:
//!
//! ```sh
//! cargo test --release --test sweep_selftest -- --ignored --nocapture
//! ```
//!
//! Figures from a run are in the README ("Pipeline self-test").

use serde_json::Value;
use std::path::Path;
use std::process::Command;
use std::time::Instant;

const SCENARIO: &str = "scenarios/sweep/selftest.json";

fn sweep(seeds: &str, bug: Option<&str>, out: &Path) -> Value {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_agentsim"));
    cmd.args([
        "sweep",
        SCENARIO,
        "--seeds",
        seeds,
        "--jobs",
        "2",
        "--nemesis",
        "--out",
    ])
    .arg(out);
    if let Some(b) = bug {
        cmd.args(["--bug", b]);
    }
    let o = cmd.output().expect("agentsim runs");
    assert!(
        matches!(o.status.code(), Some(0 | 1)),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    serde_json::from_str(&std::fs::read_to_string(out.join("sweep.json")).unwrap()).unwrap()
}

/// Each bug that random faults reach is found within 300 seeds, with the
/// checker that should catch it.
#[test]
#[ignore]
fn swarm_sweep_finds_each_reachable_bug() {
    let dir = tempfile::tempdir().unwrap();
    for (bug, check) in [
        ("double-vote", "safety"),
        ("skip-log-check", "safety"),
        ("stale-read", "linearizability"),
    ] {
        let t = Instant::now();
        let s = sweep("0..300", Some(bug), &dir.path().join(bug));
        let failures = s["failures"].as_array().unwrap();
        assert!(!failures.is_empty(), "{bug}: not found in 300 seeds");
        let first = &failures[0];
        assert_eq!(first["kind"], check, "{bug}");
        eprintln!(
            "{bug}: first failing seed {}, {} of 300 seeds fail, {:.1} s",
            first["seed"],
            failures.len(),
            t.elapsed().as_secs_f64()
        );
    }
}

/// The correct build runs 2000 swarm seeds of the same scenario clean.
#[test]
#[ignore]
fn correct_build_survives_a_larger_sweep() {
    let dir = tempfile::tempdir().unwrap();
    let t = Instant::now();
    let s = sweep("0..2000", None, dir.path());
    assert_eq!(s["seeds_run"], 2000);
    assert_eq!(
        s["failures"].as_array().unwrap().len(),
        0,
        "{}",
        s["failures"]
    );
    eprintln!(
        "correct build: 2000 seeds clean in {:.1} s",
        t.elapsed().as_secs_f64()
    );
}
