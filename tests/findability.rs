//! The default swarm and targeted mode find each planted bug within
//! about twice its n99 (the seeds that give 99 % confidence at the share
//! of failing seeds measured in docs/bugs.md: n99 = ln 0.01 / ln(1 - p)).
//! Each bug's sweep stops at its first failing seed, so the cost is the
//! first failing seed, not the budget. The correct build passes 100
//! seeds of each mode here and 2,000 in the ignored tests (`cargo test
//! --release --test findability -- --ignored`, about a minute each on
//! one core).
//!
//! Every bug is now found in at least 1 % of default-swarm seeds (the
//! `replication_crash` and `election_churn` bundles brought
//! `commit-previous-term` from 0 to 16 of 300 and `stale-term-vote` from
//! 3 to 16), so no bug's budget is over 900 seeds; the `#[ignore]`d rare
//! test stays for bugs whose measured share would fall under 1 %.

use agentsim::scenario::Scenario;
use agentsim::sweep::run_seed;
use agentsim::sweep::swarm::Mode;
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

/// The first seed in `0..budget` whose run in `mode` fails.
fn first_failing(bug: &str, budget: u64, mode: Mode) -> Option<u64> {
    let b = base(Some(bug));
    (0..budget).find(|&seed| !run_seed(&b, seed, mode).result.ok())
}

/// Seeds for 99 % confidence at `k` failing seeds of `n`, twice over.
fn budget(k: u64, n: u64) -> u64 {
    let p = k as f64 / n as f64;
    // p = 1 gives n99 = 0 (ln 0 = -inf): one seed is still needed.
    ((2.0 * (0.01f64.ln() / (1.0 - p).ln())).ceil() as u64).max(1)
}

/// Failing seeds of 300 per bug, default swarm, from docs/bugs.md
/// (`agentsim sweep scenarios/sweep/selftest.json --nemesis --seeds 0..300
/// --bug NAME --jobs 1`; `stale-append-truncate` with
/// `--seed-budget-events 2000000`, its 5 storm seeds counted).
const MEASURED: [(&str, u64); 17] = [
    ("commit-previous-term", 16),
    ("forget-vote", 22),
    ("skip-log-check", 121),
    ("stale-read", 197),
    ("double-vote", 85),
    ("leader-truncates-tail", 300),
    ("commit-past-match", 112),
    ("forget-term", 54),
    ("vote-cleared-on-step-down", 11),
    ("torn-vote-write", 19),
    ("self-vote-not-persisted", 17),
    ("dup-vote-count", 21),
    ("stale-term-vote", 16),
    ("up-to-date-and", 190),
    ("quorum-mode", 205),
    ("stale-append-truncate", 114),
    ("ack-before-fsync", 29),
];

/// The same in targeted mode (`--targeted` instead of `--nemesis`; no
/// storm seeds there), five targets (every bug at least 8 %).
const MEASURED_TARGETED: [(&str, u64); 17] = [
    ("commit-previous-term", 29),
    ("forget-vote", 57),
    ("skip-log-check", 185),
    ("stale-read", 261),
    ("double-vote", 168),
    ("leader-truncates-tail", 300),
    ("commit-past-match", 116),
    ("forget-term", 55),
    ("vote-cleared-on-step-down", 31),
    ("torn-vote-write", 71),
    ("self-vote-not-persisted", 57),
    ("dup-vote-count", 32),
    ("stale-term-vote", 29),
    ("up-to-date-and", 207),
    ("quorum-mode", 278),
    ("stale-append-truncate", 204),
    ("ack-before-fsync", 26),
];

fn check(measured: &[(&str, u64)], mode: Mode, cheap: bool) {
    for &(bug, k) in measured {
        let n = budget(k, 300);
        if (n <= 900) != cheap {
            continue;
        }
        assert!(
            first_failing(bug, n, mode).is_some(),
            "{bug} ({mode:?}): no failing seed in 0..{n} (2 x n99 at {k}/300)"
        );
    }
}

/// Every bug with p ≥ 1 % is found within twice its n99.
#[test]
fn default_swarm_finds_each_common_bug_within_twice_n99() {
    check(&MEASURED, Mode::Swarm, true);
}

/// Targeted mode finds every bug (p ≥ 8 % each) within twice its n99.
#[test]
fn targeted_mode_finds_each_bug_within_twice_n99() {
    check(&MEASURED_TARGETED, Mode::Targeted, true);
}

/// The rarer ones (p < 1 %: up to a few thousand seeds).
#[test]
#[ignore = "minutes: bugs found in under 1 % of seeds"]
fn default_swarm_finds_each_rare_bug_within_twice_n99() {
    check(&MEASURED, Mode::Swarm, false);
    check(&MEASURED_TARGETED, Mode::Targeted, false);
}

/// The correct build fails no seed of the default swarm or of targeted
/// mode (100 each here).
#[test]
fn correct_build_passes_the_default_swarm() {
    let b = base(None);
    for mode in [Mode::Swarm, Mode::Targeted] {
        for seed in 0..100 {
            let r = run_seed(&b, seed, mode).result;
            assert!(r.ok(), "{mode:?} seed {seed}: {:?}", r.failures);
        }
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

/// The same for targeted mode: no failure at all, liveness included (seed
/// 1511 used to end in `liveness.leader` with only a bare majority up on a
/// lossy network; the default leader window now widens for that end
/// state, see `check::liveness::adapt_leader_window`).
#[test]
#[ignore = "about a minute on one core"]
fn correct_build_passes_2000_seeds_of_targeted_mode() {
    let b = base(None);
    for seed in 0..2000 {
        let r = run_seed(&b, seed, Mode::Targeted).result;
        assert!(r.ok(), "seed {seed}: {:?}", r.failures);
    }
}
