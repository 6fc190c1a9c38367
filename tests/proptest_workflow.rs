//! Property-based testing of the workflow layer. A strategy generates
//! whole workflow scenarios: mode (pipeline, competitive, division,
//! hybrid), CP or AP coordinator, DAG shape (chains, fans, joins), skills
//! and agents per skill, failure rates and attempt budgets, number of
//! workflows, and faults: crash/restart, pause, clock skew and a
//! partition on coordinator servers; crash/restart, pause, clock skew,
//! isolation, a cut link to a server and a partition that names the agent
//! on agents. Every fault ends (a `restart_after_ms` or `for_ms`), so
//! liveness is judged. The property: every check holds (workflow safety
//! properties, Raft safety or convergence, `workflow.approval_gates`,
//! `liveness.workflows`). For the correct build it holds; for coordinator
//! bugs proptest finds a failing scenario on its own and shrinks it on the
//! parameters (fewer workflows, agents, stages and faults, simpler DAG).
//!
//! The search is seeded (`PROPTEST_RNG_SEED=<u64>`, default 1, explores
//! others), so CI runs the same cases every time.
//!
//! `liveness.workflows` uses its default window (derived from the
//! scenario); runs last up to 300 s, so a stalled workflow's window
//! closes before the end (a correct run stops early, once done).
//!
//! `PROPTEST_CASES=N` runs more or fewer cases for the correct build
//! (default 300).

use agentsim::metrics::Report;
use agentsim::runner::{self, RunOptions};
use agentsim::scenario::{Scenario, ScenarioSpec};
use proptest::prelude::*;
use proptest::test_runner::{Config, RngSeed, TestCaseError, TestError, TestRunner};
use serde_json::{json, Value};

/// One generated workflow scenario, as parameters (what proptest shrinks).
#[derive(Clone, Debug)]
struct Params {
    seed: u64,
    mode: u8,
    ap: bool,
    /// Per stage after the first: which earlier stages it depends on
    /// (bit set over the earlier stages; empty = an independent root).
    deps: Vec<u8>,
    skills: u8,
    agents_per_skill: u8,
    availability: f64,
    attempts: u8,
    workflows: u8,
    /// (at ms, server, restart after ms)
    crashes: Vec<(u32, u8, u32)>,
    /// Other server faults: (at ms, kind, server, lasting ms); kinds in
    /// [`server_fault`].
    server_faults: Vec<(u32, u8, u8, u32)>,
    /// Agent faults: (at ms, kind, agent pick, lasting ms); kinds in
    /// [`agent_fault`]. The pick is taken modulo the number of agents.
    agent_faults: Vec<(u32, u8, u8, u32)>,
}

fn params() -> impl Strategy<Value = Params> {
    (
        any::<u64>(),
        0u8..4,
        prop::bool::weighted(0.25),
        prop::collection::vec(any::<u8>(), 0..4),
        1u8..3,
        1u8..4,
        0.6f64..1.0,
        1u8..4,
        1u8..16,
        prop::collection::vec((0u32..8000, 0u8..3, 200u32..3000), 0..3),
        prop::collection::vec((0u32..8000, 0u8..3, 0u8..3, 200u32..3000), 0..3),
        prop::collection::vec((0u32..8000, 0u8..6, any::<u8>(), 200u32..6000), 0..4),
    )
        .prop_map(
            |(
                seed,
                mode,
                ap,
                deps,
                skills,
                agents_per_skill,
                availability,
                attempts,
                workflows,
                crashes,
                server_faults,
                agent_faults,
            )| {
                Params {
                    seed,
                    mode,
                    ap,
                    deps,
                    skills,
                    agents_per_skill,
                    availability,
                    attempts,
                    workflows,
                    crashes,
                    server_faults,
                    agent_faults,
                }
            },
        )
}

/// A server fault of kind `kind % 3` on `server` for `ms`: a pause, a
/// clock running 2x fast or at half speed, or a partition of the server
/// from the other two with the agents placed in proportion.
fn server_fault(at: u32, kind: u8, server: u8, ms: u32) -> Value {
    match kind % 3 {
        0 => json!({"at_ms": at, "kind": "pause", "node": server, "for_ms": ms}),
        1 => json!({"at_ms": at, "kind": "clock", "node": server,
                    "rate": if ms % 2 == 0 { 2.0 } else { 0.5 }, "for_ms": ms}),
        _ => {
            let rest: Vec<u8> = (0..3).filter(|&i| i != server).collect();
            json!({"at_ms": at, "kind": "partition", "groups": [[server], rest],
                   "agents": "proportional", "for_ms": ms})
        }
    }
}

/// An agent fault of kind `kind % 6` on agent `agent` for `ms`:
/// crash/restart, pause, clock skew (2x or 0.5x), isolation, a cut link
/// (both ways) to one server, or a partition that puts the agent with one
/// server and the other servers apart.
fn agent_fault(at: u32, kind: u8, agent: u32, ms: u32) -> Value {
    let a = format!("agent:{agent}");
    let server = agent % 3;
    match kind % 6 {
        0 => json!({"at_ms": at, "kind": "crash", "node": a, "restart_after_ms": ms}),
        1 => json!({"at_ms": at, "kind": "pause", "node": a, "for_ms": ms}),
        2 => json!({"at_ms": at, "kind": "clock", "node": a,
                    "rate": if ms % 2 == 0 { 2.0 } else { 0.5 }, "for_ms": ms}),
        3 => json!({"at_ms": at, "kind": "isolate", "node": a, "for_ms": ms}),
        4 => json!({"at_ms": at, "kind": "link", "from": a, "to": server,
                    "both_ways": true, "for_ms": ms}),
        _ => {
            let rest: Vec<u32> = (0..3).filter(|&i| i != server).collect();
            json!({"at_ms": at, "kind": "partition", "groups": [[json!(server), json!(a)], rest],
                   "for_ms": ms})
        }
    }
}

fn scenario(p: &Params, bug: Option<&str>) -> Value {
    let mode = ["pipeline", "competitive", "division", "hybrid"][p.mode as usize];
    let skill = |i: usize| format!("s{}", i % p.skills as usize);
    let mut stages = vec![json!({"id": "st0", "skill": skill(0)})];
    for (k, &bits) in p.deps.iter().enumerate() {
        let i = k + 1;
        let after: Vec<String> = (0..i)
            .filter(|&j| bits & (1 << (j % 8)) != 0)
            .map(|j| format!("st{j}"))
            .collect();
        stages.push(json!({"id": format!("st{i}"), "skill": skill(i), "after": after}));
    }
    let agents: Vec<Value> = (0..p.skills)
        .map(|k| {
            json!({"name": format!("a{k}"), "count": p.agents_per_skill, "skills": [format!("s{k}")],
                   "availability": p.availability,
                   "latency_ms": {"dist": "lognormal", "median": 200, "sigma": 0.4}})
        })
        .collect();
    let agents_total = u32::from(p.skills) * u32::from(p.agents_per_skill);
    let faults: Vec<Value> = p
        .crashes
        .iter()
        .map(|&(at, node, back)| {
            json!({"at_ms": at, "kind": "crash", "node": node, "restart_after_ms": back})
        })
        .chain(
            p.server_faults
                .iter()
                .map(|&(at, kind, server, ms)| server_fault(at, kind, server, ms)),
        )
        .chain(p.agent_faults.iter().map(|&(at, kind, pick, ms)| {
            agent_fault(at, kind, u32::from(pick) % agents_total, ms)
        }))
        .collect();
    let mut v = json!({
        "name": "proptest-workflow", "seed": p.seed, "duration_ms": 300000,
        "cluster": {"nodes": 3, "process": "raft", "start_jitter_ms": 20},
        "network": {"latency_ms": {"dist": "lognormal", "median": 2, "sigma": 0.4}},
        "disk": {"sync_ms": {"dist": "fixed", "value": 1}},
        "workflow": {
            "mode": mode,
            "consistency": if p.ap { "ap" } else { "cp" },
            "agents": agents,
            "stages": stages,
            "arrivals": {"workflows": p.workflows, "rate_per_s": 5},
            "retry": {"max_attempts": p.attempts},
            "arbiter": {"k": 2, "deadline_ms": 3000}
        },
        "faults": faults
    });
    if let Some(b) = bug {
        v["bug"] = json!(b);
    }
    v
}

/// Run `p` (with `bug`); `None` if the combination is not a valid
/// scenario (e.g. an AP-only bug on a CP coordinator).
fn run(p: &Params, bug: Option<&str>) -> Option<Report> {
    let spec: ScenarioSpec = serde_json::from_value(scenario(p, bug))
        .unwrap_or_else(|e| panic!("the strategy builds scenarios that parse: {e}"));
    // A bug that has nothing to break under AP is refused by validation.
    let s = Scenario::from_spec(spec).ok()?;
    Some(runner::run(&s, &RunOptions::default()).report)
}

fn holds(p: &Params, bug: Option<&str>) -> Result<(), TestCaseError> {
    match run(p, bug) {
        None => Ok(()),
        Some(r) if r.checks.ok => Ok(()),
        Some(r) => Err(TestCaseError::fail(format!(
            "{:?}",
            r.checks
                .failures
                .iter()
                .map(|f| f.check.clone())
                .collect::<Vec<_>>()
        ))),
    }
}

/// The search is seeded, so a run (and CI) is reproducible: the same
/// cases every time. `PROPTEST_RNG_SEED=<u64>` explores other cases.
fn rng_seed() -> u64 {
    std::env::var("PROPTEST_RNG_SEED")
        .ok()
        .map(|v| {
            v.parse()
                .unwrap_or_else(|_| panic!("PROPTEST_RNG_SEED={v:?} is not a u64"))
        })
        .unwrap_or(DEFAULT_RNG_SEED)
}

/// The seed of the default search.
const DEFAULT_RNG_SEED: u64 = 1;

fn runner(cases: u32) -> TestRunner {
    TestRunner::new(Config {
        cases,
        failure_persistence: None,
        max_shrink_iters: 200,
        rng_seed: RngSeed::Fixed(rng_seed()),
        ..Config::default()
    })
}

/// The correct build passes every workflow check and liveness on every
/// generated scenario (300 by default), faults on servers and agents
/// included.
#[test]
fn correct_coordinator_passes_every_generated_workflow_scenario() {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(300);
    let mut r = runner(cases);
    let agent_faulted = std::cell::Cell::new(0usize);
    let result = r.run(&params(), |p| {
        agent_faulted.set(agent_faulted.get() + usize::from(!p.agent_faults.is_empty()));
        holds(&p, None)
    });
    let agent_faulted = agent_faulted.get();
    if let Err(e) = result {
        panic!(
            "the correct coordinator failed (PROPTEST_RNG_SEED={}): {e}",
            rng_seed()
        );
    }
    // The strategy reaches agents: most cases fault at least one.
    assert!(
        agent_faulted * 2 > cases as usize,
        "only {agent_faulted} of {cases} cases had an agent fault"
    );
}

/// Each coordinator bug the strategy can reach: proptest finds a failing
/// scenario on its own and shrinks it; the shrunk case still fails, and
/// the same parameters pass without the bug (so the bug, not the
/// scenario, is what fails). At least three bugs must be found.
#[test]
fn generated_scenarios_find_and_shrink_coordinator_bugs() {
    let bugs = [
        "coord-accept-stale",
        "coord-double-result",
        "coord-arbiter-first",
        "coord-ignore-deps",
        "coord-drop-dead-letter",
        "coord-forget-retry",
    ];
    let mut found = Vec::new();
    for bug in bugs {
        let mut r = runner(120);
        match r.run(&params(), |p| holds(&p, Some(bug))) {
            Err(TestError::Fail(why, minimal)) => {
                assert!(holds(&minimal, Some(bug)).is_err());
                assert!(
                    holds(&minimal, None).is_ok(),
                    "{bug}: the shrunk case fails without the bug too: {minimal:?}"
                );
                eprintln!(
                    "{bug}: found, shrunk to {} workflow(s), {} stage(s), {} agent(s) per skill, {} crash(es), {} other server fault(s), {} agent fault(s): {why}",
                    minimal.workflows,
                    minimal.deps.len() + 1,
                    minimal.agents_per_skill,
                    minimal.crashes.len(),
                    minimal.server_faults.len(),
                    minimal.agent_faults.len()
                );
                found.push(bug);
            }
            Err(e) => panic!("{bug}: {e}"),
            Ok(()) => eprintln!("{bug}: not found in 120 cases"),
        }
    }
    assert!(found.len() >= 3, "found only {found:?}");
}
