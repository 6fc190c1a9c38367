//! The default swarm finds each planted bug within about twice its n99
//! (the seeds that give 99 % confidence at the share of failing seeds
//! measured in docs/bugs.md: n99 = ln 0.01 / ln(1 - p)). Each bug's sweep
//! stops at its first failing seed, so the cost is the first failing
//! seed, not the budget. The correct build passes 100 seeds here and
//! 2,000 in the ignored test (`cargo test --release --test findability
//! -- --ignored`, about a minute on one core).
//!
//! Bugs found in under 1 % of seeds (budget over 900 seeds) are behind
//! `#[ignore]` too; `commit-previous-term` is not found by the default
//! swarm at all (0 of 300) and is covered by `tests/crash_points.rs`
//! with crash points aimed at Figure 8.

use agentsim::scenario::Scenario;
use agentsim::sweep::run_seed;
use std::path::Path;

/// The self-test scenario with `bug` planted (or none).
fn base(bug: Option<&str>) -> Scenario {
    let mut s = Scenario::load(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/sweep/selftest.json"),
    )
    .expect("selftest scenario");
    s.spec.bug = bug.map(str::to_string);
    Scenario::from_spec(s.spec).expect("known bug")
}

/// The first seed in `0..budget` whose swarm run fails.
fn first_failing(bug: &str, budget: u64) -> Option<u64> {
    let b = base(Some(bug));
    (0..budget).find(|&seed| !run_seed(&b, seed, true).result.ok())
}

/// Seeds for 99 % confidence at `k` failing seeds of `n`, twice over.
fn budget(k: u64, n: u64) -> u64 {
    let p = k as f64 / n as f64;
    // p = 1 gives n99 = 0 (ln 0 = -inf): one seed is still needed.
    ((2.0 * (0.01f64.ln() / (1.0 - p).ln())).ceil() as u64).max(1)
}

/// Failing seeds of 300 per bug, default swarm, from docs/bugs.md
/// (`stale-append-truncate`: the count before crash points; its storm
/// seeds make a full re-measure take minutes).
const MEASURED: [(&str, u64); 16] = [
    ("forget-vote", 15),
    ("skip-log-check", 106),
    ("stale-read", 185),
    ("double-vote", 55),
    ("leader-truncates-tail", 300),
    ("commit-past-match", 112),
    ("forget-term", 76),
    ("vote-cleared-on-step-down", 8),
    ("torn-vote-write", 5),
    ("self-vote-not-persisted", 7),
    ("dup-vote-count", 21),
    ("stale-term-vote", 3),
    ("up-to-date-and", 191),
    ("quorum-mode", 182),
    ("stale-append-truncate", 133),
    ("ack-before-fsync", 30),
];

fn check(cheap: bool) {
    for (bug, k) in MEASURED {
        let n = budget(k, 300);
        if (n <= 900) != cheap {
            continue;
        }
        assert!(
            first_failing(bug, n).is_some(),
            "{bug}: no failing seed in 0..{n} (2 x n99 at {k}/300)"
        );
    }
}

/// Every bug with p ≥ 1 % is found within twice its n99.
#[test]
fn default_swarm_finds_each_common_bug_within_twice_n99() {
    check(true);
}

/// The rarer ones (p < 1 %: up to a few thousand seeds).
#[test]
#[ignore = "minutes: bugs found in under 1 % of seeds"]
fn default_swarm_finds_each_rare_bug_within_twice_n99() {
    check(false);
}

/// The correct build fails no seed of the default swarm (100 here).
#[test]
fn correct_build_passes_the_default_swarm() {
    let b = base(None);
    for seed in 0..100 {
        let r = run_seed(&b, seed, true).result;
        assert!(r.ok(), "seed {seed}: {:?}", r.failures);
    }
}

/// The same for 2,000 seeds.
#[test]
#[ignore = "about a minute on one core"]
fn correct_build_passes_2000_seeds_of_the_default_swarm() {
    let b = base(None);
    for seed in 0..2000 {
        let r = run_seed(&b, seed, true).result;
        assert!(r.ok(), "seed {seed}: {:?}", r.failures);
    }
}
