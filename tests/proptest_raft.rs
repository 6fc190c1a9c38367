//! Property-based testing of consensus. Strategies generate whole
//! scenarios (cluster size, Raft timings, network, fault schedule,
//! workload); the property is that the safety checker and the
//! linearizability checker find nothing. For the correct build the
//! property holds; for each `--bug` variant proptest finds a failing
//! scenario and shrinks it on the scenario itself (fewer faults, fewer
//! nodes, shorter run, simpler network), then the minimal case is written
//! as a scenario file that `agentsim run` reproduces.
//!
//! `PROPTEST_CASES=N` runs more cases for the correct build (default 64
//! gentle, 300 aggressive). An ignored long run rotates the seed:
//! `cargo test --release --test proptest_raft -- --ignored rotating`.

use agentsim::runner::{self, RunOptions};
use agentsim::scenario::*;
use proptest::prelude::*;
use proptest::test_runner::{Config, RngSeed, TestCaseError, TestError, TestRunner};
use std::path::PathBuf;

/// How hard the generated scenarios push: `aggressive` means tight
/// timeouts, no pre-vote, frequent faults (for finding injected bugs).
#[derive(Clone, Copy)]
struct Mode {
    aggressive: bool,
}

fn target(nodes: u32) -> impl Strategy<Value = TargetSpec> {
    prop_oneof![
        4 => (0..nodes).prop_map(TargetSpec::Index),
        2 => Just(TargetSpec::Leader),
        1 => Just(TargetSpec::Follower),
    ]
}

fn fault(nodes: u32, duration: u32, mode: Mode) -> impl Strategy<Value = FaultSpec> {
    let at = 0..duration;
    let repeat = if mode.aggressive { 3 } else { 0 };
    prop_oneof![
        // a node crashed again and again, back after a short while
        repeat => (at.clone(), target(nodes), 1u32..20, 3u32..100).prop_map(|(at, node, back, every)| {
            let mut f = FaultSpec::new(at as f64, FaultKind::Crash);
            f.node = Some(node);
            f.restart_after_ms = Some(back as f64);
            f.every_ms = Some((every.max(back + 1)) as f64);
            f
        }),
        // crash, restarted later
        1 => (at.clone(), target(nodes), 1u32..1500).prop_map(|(at, node, back)| {
            let mut f = FaultSpec::new(at as f64, FaultKind::Crash);
            f.node = Some(node);
            f.restart_after_ms = Some(back as f64);
            f
        }),
        // pause
        1 => (at.clone(), target(nodes), 10u32..1500).prop_map(|(at, node, d)| {
            let mut f = FaultSpec::new(at as f64, FaultKind::Pause);
            f.node = Some(node);
            f.for_ms = Some(d as f64);
            f
        }),
        // symmetric partition: a random subset against the rest
        1 => (
            at.clone(),
            proptest::collection::vec(any::<bool>(), nodes as usize),
            50u32..3000
        )
            .prop_filter_map("two non-empty sides", |(at, side, d)| {
                let a: Vec<u32> = (0..side.len() as u32)
                    .filter(|&i| side[i as usize])
                    .collect();
                let b: Vec<u32> = (0..side.len() as u32)
                    .filter(|&i| !side[i as usize])
                    .collect();
                (!a.is_empty() && !b.is_empty()).then(|| {
                    let mut f = FaultSpec::new(at as f64, FaultKind::Partition);
                    f.groups = Some(
                        [a, b]
                            .map(|g| g.into_iter().map(NodeRef::Server).collect())
                            .to_vec(),
                    );
                    f.for_ms = Some(d as f64);
                    f
                })
            }),
        // one-way or two-way link cut (partial partition)
        1 => (at.clone(), 0..nodes, 1..nodes, any::<bool>(), 50u32..3000).prop_map(
            move |(at, from, off, both, d)| {
                let mut f = FaultSpec::new(at as f64, FaultKind::Link);
                f.from = Some(TargetSpec::Index(from));
                f.to = Some(TargetSpec::Index((from + off) % nodes));
                f.both_ways = Some(both);
                f.for_ms = Some(d as f64);
                f
            }
        ),
        // clock skew
        1 => (at, target(nodes), 50u32..200, 100u32..3000).prop_map(|(at, node, rate, d)| {
            let mut f = FaultSpec::new(at as f64, FaultKind::Clock);
            f.node = Some(node);
            f.rate = Some(rate as f64 / 100.0);
            f.for_ms = Some(d as f64);
            f
        }),
    ]
}

fn scenario(mode: Mode) -> impl Strategy<Value = ScenarioSpec> {
    let timing = if mode.aggressive {
        (8u32..30, 0u32..20)
    } else {
        (40u32..200, 0u32..200)
    };
    (3u32..=7, 1500u32..5000, timing.0, timing.1, any::<u64>())
        .prop_flat_map(move |(nodes, duration, emin, spread, seed)| {
            let faults = proptest::collection::vec(
                fault(nodes, duration, mode),
                0..if mode.aggressive { 10 } else { 6 },
            );
            let latency = prop_oneof![
                (1u32..8).prop_map(|v| DistSpec::Fixed { value: v as f64 }),
                (1u32..5, 0u32..10).prop_map(|(a, b)| DistSpec::Uniform {
                    min: a as f64,
                    max: (a + b) as f64
                }),
            ];
            let flags = if mode.aggressive {
                (Just(false).boxed(), Just(false).boxed())
            } else {
                (any::<bool>().boxed(), any::<bool>().boxed())
            };
            (
                Just((nodes, duration, emin, spread, seed)),
                faults,
                latency,
                0u32..5,
                0u32..3,
                any::<bool>(),
                flags.0,
                flags.1,
                1u32..4,
                1u32..4,
            )
        })
        .prop_map(
            |(
                (nodes, duration, emin, spread, seed),
                faults,
                latency,
                drop,
                dup,
                reorder,
                pre_vote,
                check_quorum,
                clients,
                keys,
            )| {
                ScenarioSpec {
                    schema: None,
                    name: "proptest".into(),
                    description: "generated by tests/proptest_raft.rs".into(),
                    seed,
                    duration_ms: duration as f64,
                    cluster: ClusterSpec {
                        nodes,
                        process: ProcessKind::Raft,
                        start_jitter_ms: 5.0,
                        heartbeat: None,
                        raft: Some(RaftSpec {
                            election_timeout_ms: [emin as f64, (emin + spread) as f64],
                            heartbeat_ms: (emin as f64 / 3.0).max(1.0),
                            pre_vote,
                            check_quorum,
                            snapshot_every: 50,
                            ..RaftSpec::default()
                        }),
                    },
                    network: NetworkSpec {
                        latency_ms: latency,
                        drop: drop as f64 / 100.0,
                        duplicate: dup as f64 / 100.0,
                        reorder,
                        links: Vec::new(),
                    },
                    disk: DiskSpec {
                        sync_ms: DistSpec::Fixed { value: 0.5 },
                    },
                    faults,
                    nemesis: None,
                    clocks: None,
                    workload: Some(WorkloadSpec {
                        clients,
                        rate_per_s: 100.0 * clients as f64,
                        mix: MixSpec::default(),
                        keys,
                        timeout_ms: 500.0,
                        check_linearizability: true,
                    }),
                    expect: None,
                    bug: None,
                    workflow: None,
                    limits: None,
                }
            },
        )
}

/// The property: no safety violation, no linearizability violation. An
/// undecided linearizability search is not a violation.
/// Which liveness verdicts a property holds a run to.
#[derive(Clone, Copy, PartialEq)]
enum Liveness {
    /// None: a bug hunt looks for safety and linearizability findings,
    /// and a run that only fails `liveness.*` is not one.
    Ignore,
    /// Liveness too, where the scenario meets Raft's timing requirement
    /// (randomized timeouts, broadcast time well below the minimum
    /// timeout). The aggressive generator draws tight timeouts on purpose
    /// (down to 8-8 ms against 3 ms links), where even a correct Raft may
    /// never elect: that is the configuration's liveness, not a bug.
    WhereTimingHolds,
}

/// Raft's timing requirement (§3.4, §9.3): timeouts randomized, and the
/// minimum at least three broadcast times (a round trip plus a disk sync).
fn timing_holds(spec: &ScenarioSpec) -> bool {
    let raft = spec.cluster.raft.clone().unwrap_or_default();
    let [lo, hi] = raft.election_timeout_ms;
    let max = |d: &DistSpec| match *d {
        DistSpec::Fixed { value } => value,
        DistSpec::Uniform { max, .. } => max,
        _ => f64::INFINITY,
    };
    let broadcast = 2.0 * max(&spec.network.latency_ms) + max(&spec.disk.sync_ms);
    hi > lo && lo >= 3.0 * broadcast
}

fn holds(spec: &ScenarioSpec, liveness: Liveness) -> Result<(), TestCaseError> {
    let s = Scenario::from_spec(spec.clone()).map_err(|e| TestCaseError::reject(e.to_string()))?;
    let r = runner::run(&s, &RunOptions::default()).report;
    let judge_liveness = liveness == Liveness::WhereTimingHolds && timing_holds(spec);
    for f in &r.checks.failures {
        let undecided =
            f.check == "linearizability" && r.section("linearizability")["ok"].is_null();
        let skipped = f.check.starts_with("liveness.") && !judge_liveness;
        if !undecided && !skipped {
            return Err(TestCaseError::fail(format!("{}: {}", f.check, f.message)));
        }
    }
    Ok(())
}

/// The kind of a failure message from [`holds`] (`"safety: <property>
/// violated at ..."` or `"<check>: ..."`): the safety property, or the
/// check's name.
fn failure_kind(message: &str) -> &str {
    match message.strip_prefix("safety: ") {
        Some(rest) => rest.split(' ').next().unwrap_or(rest),
        None => message.split(':').next().unwrap_or(message),
    }
}

/// The kind a finished run failed with, read the same way from its report.
fn report_kind(r: &agentsim::metrics::Report) -> Option<String> {
    let f = r
        .checks
        .failures
        .iter()
        .find(|f| !f.check.starts_with("liveness."))?;
    Some(failure_kind(&format!("{}: {}", f.check, f.message)).to_string())
}

/// The search is seeded, so a run (and CI) is reproducible: the same
/// cases every time. `PROPTEST_RNG_SEED=<u64>` explores other cases.
fn rng_seed() -> RngSeed {
    RngSeed::Fixed(
        std::env::var("PROPTEST_RNG_SEED")
            .ok()
            .map(|v| {
                v.parse()
                    .unwrap_or_else(|_| panic!("PROPTEST_RNG_SEED={v:?} is not a u64"))
            })
            .unwrap_or(DEFAULT_RNG_SEED),
    )
}

/// The seed of the default search.
const DEFAULT_RNG_SEED: u64 = 1;

fn cases(default: u32) -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// The correct Raft keeps every safety property and a linearizable history
/// under generated fault schedules.
#[test]
fn correct_raft_is_safe_and_linearizable_under_generated_faults() {
    let mut runner = TestRunner::new(Config {
        cases: cases(64),
        failure_persistence: None,
        rng_seed: rng_seed(),
        ..Config::default()
    });
    let result = runner.run(&scenario(Mode { aggressive: false }), |spec| {
        holds(&spec, Liveness::WhereTimingHolds)
    });
    if let Err(TestError::Fail(why, spec)) = &result {
        let file = write_case("correct-build-failure", spec);
        panic!(
            "correct build failed: {why}\nminimal scenario: {}",
            file.display()
        );
    }
    result.unwrap();
}

/// The aggressive generator (tight timeouts, no pre-vote or check-quorum,
/// repeating crashes, up to 9 faults: the one the bug properties use)
/// against the correct build. Gentler cases above miss mutations such as
/// a vote granted on the last index alone, which this one catches.
#[test]
fn correct_raft_is_safe_under_the_aggressive_generator() {
    let mut runner = TestRunner::new(Config {
        cases: cases(300),
        failure_persistence: None,
        rng_seed: rng_seed(),
        ..Config::default()
    });
    let result = runner.run(&scenario(Mode { aggressive: true }), |spec| {
        holds(&spec, Liveness::WhereTimingHolds)
    });
    if let Err(TestError::Fail(why, spec)) = &result {
        let file = write_case("correct-build-aggressive-failure", spec);
        panic!(
            "correct build failed: {why}\nminimal scenario: {}",
            file.display()
        );
    }
    result.unwrap();
}

/// Long run, off by default: the aggressive generator against the correct
/// build with a seed that changes every run (the wall clock, or
/// `PROPTEST_RNG_SEED`), `PROPTEST_CASES` cases (default 20,000, about two
/// minutes). The seed is printed first, so a failure reproduces with
/// `PROPTEST_RNG_SEED=<seed> PROPTEST_CASES=<n> cargo test --release
/// --test proptest_raft -- --ignored rotating`; the shrunk counterexample
/// is written to `target/tmp/proptest-failures/rotating-<seed>.json`,
/// which `agentsim run` replays. A counterexample is a bug report: fix it
/// and check the file in under `scenarios/` with a test that runs it.
#[test]
#[ignore = "long: run with --ignored (see the doc comment)"]
fn correct_raft_is_safe_under_the_aggressive_generator_rotating_seed() {
    let seed = match std::env::var("PROPTEST_RNG_SEED") {
        Ok(v) => v
            .parse()
            .unwrap_or_else(|_| panic!("PROPTEST_RNG_SEED={v:?} is not a u64")),
        // The test edge, not a simulation: the clock only picks which
        // cases to try, and the seed is printed to reproduce them.
        #[allow(clippy::disallowed_methods)]
        Err(_) => std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs()),
    };
    let n = cases(20_000);
    eprintln!("rotating proptest: PROPTEST_RNG_SEED={seed} PROPTEST_CASES={n}");
    let mut runner = TestRunner::new(Config {
        cases: n,
        failure_persistence: None,
        rng_seed: RngSeed::Fixed(seed),
        max_shrink_iters: SHRINK_ITERS,
        ..Config::default()
    });
    let result = runner.run(&scenario(Mode { aggressive: true }), |spec| {
        holds(&spec, Liveness::WhereTimingHolds)
    });
    if let Err(TestError::Fail(why, spec)) = &result {
        let file = write_case(&format!("rotating-{seed}"), spec);
        panic!(
            "correct build failed with PROPTEST_RNG_SEED={seed}: {why}\nminimal scenario: {}",
            file.display()
        );
    }
    result.unwrap();
}

fn write_case(name: &str, spec: &ScenarioSpec) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("proptest-failures");
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join(format!("{name}.json"));
    std::fs::write(&file, serde_json::to_string_pretty(spec).unwrap()).unwrap();
    file
}

/// Largest shrunk case a bug property accepts, well under what the
/// aggressive generator draws (up to 9 faults, 7 nodes, 5 s). Measured
/// with the default seed: 1–3 faults, 3 nodes, 1.5–1.7 s for every bug
/// below (150 steps left double-vote at 6 faults and 7 nodes; since
/// candidates step down on lost elections, forget-vote needs 4000 steps,
/// 1000 leave it at 7 faults and 4 s; proptest's shrinking is not
/// monotone in its budget, so each bug keeps the budget measured for it).
/// Other `PROPTEST_RNG_SEED`s may shrink less far; the bound is for the
/// default search.
const MAX_SHRUNK_FAULTS: usize = 4;
const MAX_SHRUNK_NODES: u32 = 5;
const MAX_SHRUNK_MS: f64 = 2500.0;
/// Shrink steps per bug property.
const SHRINK_ITERS: u32 = 1000;

/// With `bug` switched on, proptest finds a failing scenario within
/// `budget` cases whose failure is one of `kinds` (a safety property or
/// `linearizability`), shrinks it to a small case, and the minimal case
/// written to a file fails again, with the same kind, when run from that
/// file.
fn bug_is_found_and_shrunk(bug: &str, budget: u32, shrink_iters: u32, kinds: &[&str]) {
    let mut runner = TestRunner::new(Config {
        cases: budget,
        failure_persistence: None,
        rng_seed: rng_seed(),
        max_shrink_iters: shrink_iters,
        ..Config::default()
    });
    let strategy = scenario(Mode { aggressive: true }).prop_map({
        let bug = bug.to_string();
        move |mut s| {
            s.bug = Some(bug.clone());
            s
        }
    });
    match runner.run(&strategy, |spec| holds(&spec, Liveness::Ignore)) {
        Err(TestError::Fail(why, minimal)) => {
            let kind = failure_kind(why.message());
            assert!(
                kinds.contains(&kind),
                "{bug}: failed with {kind}, expected one of {kinds:?}: {why}"
            );
            let file = write_case(bug, &minimal);
            let again = Scenario::load(&file).unwrap();
            let r = runner::run(&again, &RunOptions::default()).report;
            assert_eq!(
                report_kind(&r).as_deref(),
                Some(kind),
                "{bug}: the minimal case written to {} must fail the same way: {:?}",
                file.display(),
                r.checks.failures
            );
            assert!(
                minimal.faults.len() <= MAX_SHRUNK_FAULTS
                    && minimal.cluster.nodes <= MAX_SHRUNK_NODES
                    && minimal.duration_ms <= MAX_SHRUNK_MS,
                "{bug}: shrunk case is not small: {} faults, {} nodes, {} ms ({})",
                minimal.faults.len(),
                minimal.cluster.nodes,
                minimal.duration_ms,
                file.display()
            );
            eprintln!(
                "{bug}: {why}; minimal case {} ({} faults, {} nodes, {} ms)",
                file.display(),
                minimal.faults.len(),
                minimal.cluster.nodes,
                minimal.duration_ms
            );
        }
        Err(e) => panic!("{bug}: unexpected proptest error {e}"),
        Ok(()) => panic!("{bug}: not found in {budget} generated scenarios"),
    }
}

/// Figure 8 bug: committing an old-term entry by counting replicas. Purely
/// random schedules did not hit the Figure 8 interleaving in 3000 cases,
/// so this property varies the Figure 8 skeleton instead: every scripted
/// fault moves by up to ±3 ms, latencies and the seed vary, and random
/// extra faults are added. Proptest then shrinks the jitter and the extras
/// away.
#[test]
fn proptest_finds_commit_previous_term_around_figure8() {
    let base = Scenario::load(std::path::Path::new("scenarios/figure8.json"))
        .unwrap()
        .spec;
    let n = base.faults.len();
    let strategy = (
        proptest::collection::vec(-3i32..=3, n),
        proptest::collection::vec(
            fault(
                base.cluster.nodes,
                base.duration_ms as u32,
                Mode { aggressive: false },
            ),
            0..3,
        ),
        any::<u64>(),
    )
        .prop_map(move |(jitter, extra, seed)| {
            let mut s = base.clone();
            for (f, j) in s.faults.iter_mut().zip(jitter) {
                f.at_ms = (f.at_ms + j as f64).max(0.0);
            }
            s.faults.extend(extra);
            s.seed = seed;
            s.bug = Some("commit-previous-term".into());
            s
        });
    let mut runner = TestRunner::new(Config {
        cases: 200,
        failure_persistence: None,
        rng_seed: rng_seed(),
        ..Config::default()
    });
    match runner.run(&strategy, |spec| holds(&spec, Liveness::Ignore)) {
        Err(TestError::Fail(why, minimal)) => {
            let file = write_case("commit-previous-term", &minimal);
            let r = runner::run(&Scenario::load(&file).unwrap(), &RunOptions::default()).report;
            assert_eq!(failure_kind(why.message()), "leader_completeness", "{why}");
            assert_eq!(
                report_kind(&r).as_deref(),
                Some("leader_completeness"),
                "the minimal case written to {} must fail the same way: {:?}",
                file.display(),
                r.checks.failures
            );
        }
        other => panic!("commit-previous-term not found around Figure 8: {other:?}"),
    }
}

/// A vote that is not persisted is forgotten across a restart.
#[test]
fn proptest_finds_forget_vote() {
    // Since candidates step down on a lost election, forget-vote's first
    // counterexample needs more steps to shrink (1000 left 7 faults).
    bug_is_found_and_shrunk("forget-vote", 3000, 4 * SHRINK_ITERS, &["election_safety"]);
}

/// AppendEntries accepted without the prevLog check.
#[test]
fn proptest_finds_skip_log_check() {
    bug_is_found_and_shrunk("skip-log-check", 300, SHRINK_ITERS, &["log_matching"]);
}

/// Reads answered locally by a leader that may be deposed.
#[test]
fn proptest_finds_stale_read() {
    bug_is_found_and_shrunk("stale-read", 300, SHRINK_ITERS, &["linearizability"]);
}

/// Two votes in one term.
#[test]
fn proptest_finds_double_vote() {
    bug_is_found_and_shrunk("double-vote", 300, SHRINK_ITERS, &["election_safety"]);
}
