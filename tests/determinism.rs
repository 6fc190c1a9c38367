//! Determinism is a feature: same scenario + same seed ⇒ the same run, bit
//! for bit, on any thread; a golden hash catches accidental behaviour
//! changes. Re-bless goldens after an intentional change with
//! `UPDATE_GOLDEN=1 cargo test --release --test determinism`.

use agentsim::runner::{self, RunOptions};
use agentsim::scenario::Scenario;
use std::path::Path;

fn hash(path: &str, seed: Option<u64>) -> String {
    let base = Scenario::load(Path::new(path)).expect("shipped scenario is valid");
    let opts = RunOptions {
        seed,
        ..Default::default()
    };
    let s = runner::effective(&base, &opts);
    runner::run(&s, &opts).report.trace_hash
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

/// Every shipped scenario's hash is pinned in `tests/golden/`.
#[test]
fn golden_trace_hashes() {
    let golden_dir = Path::new("tests/golden");
    let update = std::env::var_os("UPDATE_GOLDEN").is_some();
    let mut mismatches = Vec::new();
    for name in ["quickstart"] {
        let got = hash(&format!("scenarios/{name}.json"), None);
        let file = golden_dir.join(format!("{name}.hash"));
        if update {
            std::fs::write(&file, format!("{got}\n")).expect("write golden");
            continue;
        }
        let want = std::fs::read_to_string(&file)
            .unwrap_or_else(|_| panic!("missing {}; run with UPDATE_GOLDEN=1", file.display()));
        if want.trim() != got {
            mismatches.push(format!("{name}: golden {} but got {got}", want.trim()));
        }
    }
    assert!(
        mismatches.is_empty(),
        "behaviour changed (if intended, re-bless with UPDATE_GOLDEN=1):\n{}",
        mismatches.join("\n")
    );
}
