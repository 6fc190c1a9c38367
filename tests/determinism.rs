//! Determinism is a feature: same scenario + same seed ⇒ the same run, bit
//! for bit, on any thread; a golden hash catches accidental behaviour
//! changes. Re-bless goldens after an intentional change with
//! `UPDATE_GOLDEN=1 cargo test --release --test determinism`.

use agentsim::metrics::Report;
use agentsim::runner::{self, RunOptions};
use agentsim::scenario::Scenario;
use std::path::Path;

fn hash(path: &str, seed: Option<u64>) -> String {
    run(path, seed).trace_hash
}

fn run(path: &str, seed: Option<u64>) -> Report {
    let base = Scenario::load(Path::new(path)).expect("shipped scenario is valid");
    let opts = RunOptions {
        seed,
        ..Default::default()
    };
    let s = runner::effective(&base, &opts);
    runner::run(&s, &opts).report
}

fn report(path: &str) -> Report {
    run(path, None)
}

/// Two runs of the same scenario and seed produce the same trace hash.
#[test]
fn same_seed_same_trace_hash() {
    assert_eq!(
        hash("scenarios/quickstart.json", None),
        hash("scenarios/quickstart.json", None)
    );
}

/// Different seeds explore different runs.
#[test]
fn different_seeds_different_trace_hashes() {
    let hashes: std::collections::BTreeSet<String> = (0..8)
        .map(|s| hash("scenarios/quickstart.json", Some(s)))
        .collect();
    assert_eq!(hashes.len(), 8);
}

/// Runs on two threads at once agree with each other and with a run on
/// this thread: nothing in a run depends on the thread or process.
#[test]
fn concurrent_runs_agree() {
    let here = hash("scenarios/quickstart.json", Some(3));
    let handles: Vec<_> = (0..2)
        .map(|_| std::thread::spawn(|| hash("scenarios/quickstart.json", Some(3))))
        .collect();
    for h in handles {
        assert_eq!(h.join().expect("thread finished"), here);
    }
}

/// One pinned run: a shipped scenario at its own seed, the summary that is
/// pinned with its hash, and the facts that must hold whatever the hash.
struct Golden {
    name: &'static str,
    scenario: &'static str,
    /// A short semantic summary (verdict and a count), pinned next to the
    /// hash: when the hash moves, it says whether the outcome moved too.
    summary: fn(&Report) -> String,
    /// Facts that hold by design, asserted on every run, blessed or not,
    /// so a re-bless can never pin a wrong run.
    facts: fn(&Report),
}

fn elections(r: &Report) -> usize {
    r.section("elections").as_array().map_or(0, Vec::len)
}

fn consistency(r: &Report) -> serde_json::Value {
    r.section("collab")["consistency_metrics"].clone()
}

/// The semantic line beside a collaboration golden: verdict, tasks done,
/// coordinators at once, conflicting results.
fn collab_summary(r: &Report) -> String {
    format!(
        "ok={} tasks_done={} max_coordinators={} conflicting={}",
        r.checks.ok,
        r.section("collab")["tasks"]["by_status"]["done"],
        consistency(r)["max_coordinators_at_once"],
        consistency(r)["conflicting_results"]
    )
}

const GOLDENS: [Golden; 5] = [
    Golden {
        name: "quickstart",
        scenario: "scenarios/quickstart.json",
        summary: |r| format!("ok={} elections={}", r.checks.ok, elections(r)),
        facts: |r| assert!(elections(r) >= 2, "the leader crash forces an election"),
    },
    Golden {
        name: "figure8",
        scenario: "scenarios/figure8.json",
        summary: |r| format!("ok={} elections={}", r.checks.ok, elections(r)),
        facts: |r| assert_eq!(elections(r), 5, "Figure 8 has five leaders"),
    },
    Golden {
        name: "nemesis",
        scenario: "scenarios/raft/nemesis.json",
        summary: |r| {
            format!(
                "ok={} elections={} faults={} client_ok={}",
                r.checks.ok,
                elections(r),
                r.faults.len(),
                r.section("client_ops")["ok"]
            )
        },
        facts: |r| {
            assert!(!r.faults.is_empty(), "the nemesis drew faults");
            assert!(r.section("client_ops")["ok"].as_u64().unwrap_or(0) > 0);
        },
    },
    Golden {
        name: "partition-cp",
        scenario: "scenarios/collab/partition-cp.json",
        summary: collab_summary,
        facts: |r| {
            assert_eq!(
                consistency(r)["max_coordinators_at_once"],
                1,
                "CP: one coordinator"
            );
            assert_eq!(consistency(r)["conflicting_results"], 0, "CP: no conflicts");
        },
    },
    Golden {
        name: "partition-ap",
        scenario: "scenarios/collab/partition-ap.json",
        summary: collab_summary,
        facts: |r| {
            let most = consistency(r)["max_coordinators_at_once"]
                .as_u64()
                .unwrap_or(0);
            assert!(most > 1, "AP: each side coordinates during a split");
        },
    },
];

/// The trace hashes of a quickstart run, the scripted Figure 8, a random
/// nemesis KV run, and the CP and AP collaboration runs are pinned in
/// `tests/golden/<name>.hash` (hash, then a semantic summary). Every run
/// must pass its checks and its facts whatever the goldens say. After an
/// intentional behaviour change re-bless with `UPDATE_GOLDEN=1 cargo test
/// --release --test determinism`: that run writes the files and then
/// fails on purpose (so a stray `UPDATE_GOLDEN` never passes silently);
/// the next run without it passes. Only the value `1` updates.
#[test]
fn golden_trace_hashes() {
    let golden_dir = Path::new("tests/golden");
    let update = match std::env::var("UPDATE_GOLDEN") {
        Ok(v) if v == "1" => true,
        Ok(v) => panic!("UPDATE_GOLDEN={v:?}: only UPDATE_GOLDEN=1 re-blesses the goldens"),
        Err(_) => false,
    };
    let mut mismatches = Vec::new();
    let mut written = Vec::new();
    for g in &GOLDENS {
        let r = report(g.scenario);
        assert!(r.checks.ok, "{}: {:?}", g.name, r.checks.failures);
        (g.facts)(&r);
        let got = format!("{}\n{}\n", r.trace_hash, (g.summary)(&r));
        let file = golden_dir.join(format!("{}.hash", g.name));
        if update {
            std::fs::write(&file, &got).expect("write golden");
            written.push(format!("{}: {}", file.display(), got.replace('\n', " ")));
            continue;
        }
        let want = std::fs::read_to_string(&file)
            .unwrap_or_else(|_| panic!("missing {}; run with UPDATE_GOLDEN=1", file.display()));
        let (want_hash, want_summary) = want.split_once('\n').unwrap_or((want.as_str(), ""));
        let (got_hash, got_summary) = got.split_once('\n').unwrap_or((got.as_str(), ""));
        if want_hash.trim() != got_hash || want_summary.trim() != got_summary.trim() {
            mismatches.push(format!(
                "{}: golden {} [{}] but got {} [{}]",
                g.name,
                want_hash.trim(),
                want_summary.trim(),
                got_hash,
                got_summary.trim()
            ));
        }
    }
    assert!(
        !update,
        "UPDATE_GOLDEN=1 re-blessed (this run fails on purpose; run again without it):\n{}",
        written.join("\n")
    );
    assert!(
        mismatches.is_empty(),
        "behaviour changed (if intended, re-bless with UPDATE_GOLDEN=1):\n{}",
        mismatches.join("\n")
    );
}
