//! The checkers earn their keep: each deliberately wrong Raft variant
//! (`--bug NAME`, a scenario's `"bug"` field) has a shipped scenario in
//! `scenarios/bugs/` whose run the named checker fails, while the same run
//! with the bug switched off passes. `scenarios/figure8.json` scripts
//! Figure 8 of the Raft paper (§5.4.2; thesis §3.6.2) the same way.

use agentsim::runner::{self, RunOptions};
use agentsim::scenario::Scenario;
use std::path::Path;

/// Run `file` as shipped (bug on) and expect `checker` (`safety` or
/// `linearizability`) to fail with a message; then run it again with the
/// bug stripped and expect every check to hold.
fn check(file: &str, checker: &str) {
    let shipped = Scenario::load(Path::new(file))
        .unwrap_or_else(|e| panic!("{file} is a valid scenario: {e:?}"));
    let bug = shipped.spec.bug.clone();
    assert!(bug.is_some(), "{file} must switch a bug on");
    let opts = RunOptions::default();

    let buggy = runner::run(&runner::effective(&shipped, &opts), &opts).report;
    assert!(
        !buggy.checks.ok,
        "{file}: with bug {bug:?} every check held (seed {}); the scenario no longer exposes it",
        buggy.seed
    );
    let failure = buggy
        .checks
        .failures
        .iter()
        .find(|f| f.check == checker)
        .unwrap_or_else(|| {
            panic!(
                "{file}: expected the {checker} check to fail, got {:?}",
                buggy.checks.failures
            )
        });
    assert!(
        !failure.message.trim().is_empty(),
        "{file}: the {checker} failure has no message"
    );

    let mut correct = shipped.clone();
    correct.spec.bug = None;
    let fixed = runner::run(&runner::effective(&correct, &opts), &opts).report;
    assert!(
        fixed.checks.ok,
        "{file}: without the bug the run must pass (seed {}), got {:?}",
        fixed.seed, fixed.checks.failures
    );
    assert_eq!(buggy.seed, fixed.seed, "both runs use the shipped seed");
}

/// A leader cut off from the other servers (check-quorum off) keeps
/// answering reads from local state while the majority moves on: a stale
/// read the linearizability checker rejects (§6.4).
#[test]
fn stale_read_is_caught_by_linearizability() {
    check("scenarios/bugs/stale-read.json", "linearizability");
}

/// Two candidates that cannot hear each other campaign in one term; voters
/// that grant a second vote in that term elect both, and the safety checker
/// reports two leaders in one term (Election Safety, §3.4 / Figure 3).
#[test]
fn double_vote_is_caught_by_safety() {
    check("scenarios/bugs/double-vote.json", "safety");
}

/// A voter that crashes and restarts within a term forgets whom it voted
/// for and votes again, electing two leaders in that term; the safety
/// checker reports it (persistent state before responding, §3.8).
#[test]
fn forget_vote_is_caught_by_safety() {
    check("scenarios/bugs/forget-vote.json", "safety");
}

/// A follower with a divergent uncommitted tail accepts an append whose
/// prevLog entry it does not match, and the safety checker reports the
/// broken Log Matching property (AppendEntries consistency check, §3.5).
#[test]
fn skip_log_check_is_caught_by_safety() {
    check("scenarios/bugs/skip-log-check.json", "safety");
}

/// Every shipped bug scenario switches a known bug on and says what
/// exposes it.
#[test]
fn every_bug_scenario_names_its_bug_and_describes_it() {
    let mut files: Vec<_> = std::fs::read_dir("scenarios/bugs")
        .expect("scenarios/bugs exists")
        .map(|e| e.expect("readable entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "scenarios/bugs holds no scenario");
    for path in files {
        let s = Scenario::load(&path).unwrap_or_else(|e| panic!("{path:?}: {e:?}"));
        let bug = s
            .spec
            .bug
            .as_deref()
            .unwrap_or_else(|| panic!("{path:?} has no \"bug\" field"));
        let stem = path.file_stem().and_then(|s| s.to_str()).unwrap_or("");
        assert_eq!(bug, stem, "{path:?}: the file is named for its bug");
        assert!(
            !s.spec.description.trim().is_empty(),
            "{path:?} has no description"
        );
    }
}
