//! `agentsim sweep --guided` (docs/guided.md): coverage collection does not
//! change a run; the guided loop is deterministic given `--seeds` whatever
//! `--jobs`; it finds a planted bug on a small budget and passes the correct
//! build; a failing guided run replays from its files.

use agentsim::runner::{self, RunOptions};
use agentsim::scenario::Scenario;
use agentsim::sweep::coverage::{unpack, Coverage};
use agentsim::sweep::{guided, seed_scenario};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

fn selftest() -> String {
    format!("{ROOT}/scenarios/sweep/selftest.json")
}

fn agentsim(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_agentsim"))
        .args(args)
        .output()
        .expect("agentsim runs")
}

fn tmp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("agentsim-guided-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

fn read_json(p: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(p).expect("readable")).expect("json")
}

/// A guided sweep of the selftest cut to 2 s; returns (exit code, summary).
fn guided_sweep(out: &Path, seeds: &str, jobs: &str, bug: Option<&str>) -> (i32, Value) {
    let out_s = out.display().to_string();
    let sc = selftest();
    let mut args = vec![
        "sweep",
        &sc,
        "--guided",
        "--nemesis",
        "--seeds",
        seeds,
        "--duration-ms",
        "2000",
        "--jobs",
        jobs,
        "--out",
        &out_s,
    ];
    if let Some(b) = bug {
        args.extend(["--bug", b]);
    }
    let o = agentsim(&args);
    let code = o.status.code().expect("exit code");
    assert!(
        code == 0 || code == 1,
        "guided sweep exited {code}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    (code, read_json(&out.join("sweep.json")))
}

/// Collecting coverage reads the world and never steers it: the run with
/// coverage has the trace hash of the run without, and the coverage it
/// collected is not empty (so the observer did run).
#[test]
fn coverage_collection_does_not_change_trace_hashes() {
    let base = Scenario::load(Path::new(&selftest())).expect("loads");
    for seed in [1, 2, 3] {
        let (s, draw) = seed_scenario(&base, seed, true);
        let plain = runner::run(&s, &RunOptions::default()).report;
        let (result, cov, report) = guided::run_with_coverage(&s, draw, None);
        assert_eq!(plain.trace_hash, report.trace_hash, "seed {seed}");
        assert_eq!(plain.trace_hash, result.trace_hash);
        assert_eq!(plain.events, report.events);
        assert!(
            cov.states.len() > 10,
            "seed {seed}: {} states",
            cov.states.len()
        );
        assert!(cov.pairs.len() > cov.states.len());
        // Every state is a 5-node (or, with the swarm's resize, 3-node)
        // multiset of server states.
        for st in &cov.states {
            let n = unpack(*st).expect("small cluster").len();
            assert!(n == 5 || n == 3, "{n} servers");
        }
    }
    // The check can fail: a different run (another seed) covers
    // different states, so equal hashes are not trivially equal coverage.
    let run = |seed| {
        let (s, d) = seed_scenario(&base, seed, true);
        guided::run_with_coverage(&s, d, None).1
    };
    let (a, b): (Coverage, Coverage) = (run(1), run(2));
    assert_ne!(a.states, b.states);
}

/// Same `--seeds`, same summary (outside `timing`) and the same corpus,
/// with one worker thread or two: generations are folded in candidate
/// order.
#[test]
fn guided_sweep_is_deterministic_across_jobs() {
    let (d1, d2) = (tmp("jobs1"), tmp("jobs2"));
    let (_, mut s1) = guided_sweep(&d1, "0..48", "1", None);
    let (_, mut s2) = guided_sweep(&d2, "0..48", "2", None);
    s1.as_object_mut().unwrap().remove("timing");
    s2.as_object_mut().unwrap().remove("timing");
    assert_eq!(s1, s2);
    let g = &s1["guided"];
    assert_eq!(
        g["fresh_runs"].as_u64().unwrap() + g["mutant_runs"].as_u64().unwrap(),
        48
    );
    // 32 fresh in the first generation, then at least 30 % of 16.
    assert!(g["fresh_runs"].as_u64().unwrap() >= 32 + 5, "{g}");
    assert!(g["mutant_runs"].as_u64().unwrap() > 0, "{g}");
    let list = |d: &Path| {
        let mut v: Vec<(String, String)> = std::fs::read_dir(d.join("corpus"))
            .expect("corpus written")
            .map(|e| {
                let p = e.unwrap().path();
                (
                    p.file_name().unwrap().to_string_lossy().into_owned(),
                    std::fs::read_to_string(&p).unwrap(),
                )
            })
            .collect();
        v.sort();
        v
    };
    let c1 = list(&d1);
    assert_eq!(c1.len() as u64, g["corpus"].as_u64().unwrap());
    assert_eq!(c1, list(&d2));
    // A different --seeds gives a different sweep (the check can fail).
    let d3 = tmp("other");
    let (_, mut s3) = guided_sweep(&d3, "1..49", "2", None);
    s3.as_object_mut().unwrap().remove("timing");
    assert_ne!(s1["guided"], s3["guided"]);
    for d in [d1, d2, d3] {
        let _ = std::fs::remove_dir_all(d);
    }
}

/// On a small budget the guided sweep finds a planted bug (forget-term:
/// currentTerm not durable), the correct build passes the same sweep, and
/// a failing run reproduces from its files: `agentsim run` of its scenario
/// file with its seed gives the failure report's trace hash and fails the
/// same check, and `agentsim replay` of the report matches the hash.
#[test]
fn guided_finds_a_planted_bug_and_its_failures_replay() {
    let d = tmp("bug");
    let (code, s) = guided_sweep(&d, "0..64", "2", Some("forget-term"));
    assert_eq!(code, 1, "{s}");
    let failures = s["failures"].as_array().expect("failures");
    assert!(!failures.is_empty());
    assert!(
        failures.iter().all(|f| f["kind"] == "safety"),
        "{failures:?}"
    );
    // Replay a mutant's failure if there is one (its scenario is a
    // concrete schedule the loop made), else the first.
    let f = failures
        .iter()
        .find(|f| f["origin"]["from"] == "mutant")
        .unwrap_or(&failures[0]);
    let report = read_json(&d.join(f["file"].as_str().unwrap()));
    let scen = d.join(f["scenario_file"].as_str().unwrap());
    let seed = f["seed"].as_u64().unwrap().to_string();
    let rdir = d.join("rerun");
    let o = agentsim(&[
        "run",
        scen.to_str().unwrap(),
        "--seed",
        &seed,
        "--out",
        rdir.to_str().unwrap(),
    ]);
    assert_eq!(
        o.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let rerun = read_json(&rdir.join("report.json"));
    assert_eq!(rerun["trace_hash"], report["trace_hash"]);
    assert_eq!(
        rerun["checks"]["failures"][0]["check"],
        report["checks"]["failures"][0]["check"]
    );
    let o = agentsim(&[
        "replay",
        d.join(f["file"].as_str().unwrap()).to_str().unwrap(),
    ]);
    let text = String::from_utf8_lossy(&o.stdout).to_string() + &String::from_utf8_lossy(&o.stderr);
    assert!(text.contains("trace hash matches"), "{text}");

    let ok = tmp("correct");
    let (code, s) = guided_sweep(&ok, "0..64", "2", None);
    assert_eq!(code, 0, "correct build failed: {}", s["failures"]);
    assert_eq!(s["seeds_failed"], 0);
    let _ = std::fs::remove_dir_all(d);
    let _ = std::fs::remove_dir_all(ok);
}

/// `--seed-budget-events` reaches guided runs as it reaches a default
/// sweep's seeds: a budget too small for any run makes every run a
/// `budget` failure (before, guided runs ignored it and ran to the event
/// cap).
#[test]
fn guided_runs_obey_the_seed_budget() {
    let out = tmp("budget");
    let out_s = out.display().to_string();
    let sc = selftest();
    let o = agentsim(&[
        "sweep",
        &sc,
        "--guided",
        "--nemesis",
        "--seeds",
        "0..8",
        "--duration-ms",
        "2000",
        "--seed-budget-events",
        "1000",
        "--out",
        &out_s,
    ]);
    assert_eq!(
        o.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let s = read_json(&out.join("sweep.json"));
    assert_eq!(s["seeds_failed"], s["seeds_run"], "{s}");
    let failures = s["failures"].as_array().expect("failures");
    assert!(!failures.is_empty());
    for f in failures {
        assert_eq!(f["kind"], "budget", "{f}");
    }
    let _ = std::fs::remove_dir_all(&out);
}
