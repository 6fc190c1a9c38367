//! The linearizability checker on whole runs: real-time order inside one
//! microsecond, and the streaming check (what `agentsim run` uses) against
//! the batch check of the same history.

use agentsim::check::linearizability::{check_with, CheckConfig, Op, Verdict};
use agentsim::kv::history::{to_lin_ops, EventType, HistoryEvent};
use agentsim::runner::{self, RunOptions, RunOutput};
use agentsim::scenario::Scenario;
use std::path::Path;

fn run(file: &str, seed: Option<u64>, bug: Option<&str>) -> RunOutput {
    let base = Scenario::load(Path::new(file)).expect("shipped scenario loads");
    let opts = RunOptions {
        seed,
        bug: bug.map(str::to_string),
        ..Default::default()
    };
    let s = runner::effective(&base, &opts);
    runner::run(&s, &opts)
}

/// The streaming verdict the run reported: `Some(true)` linearizable.
fn reported(out: &RunOutput) -> Option<bool> {
    out.report.section("linearizability")["ok"].as_bool()
}

/// The batch check of the run's history, with the run's search bound.
fn batch(ops: &[Op]) -> Verdict {
    check_with(
        ops,
        &CheckConfig {
            max_states: 1_000_000,
        },
    )
    .expect("a run's history is well formed")
    .verdict
}

/// A client's completion and its next invocation in one microsecond.
fn same_microsecond_touches(h: &[HistoryEvent]) -> usize {
    let mut last_done = std::collections::BTreeMap::new();
    let mut n = 0;
    for e in h {
        match e.kind {
            EventType::Invoke => {
                if last_done.get(&e.process) == Some(&e.time) {
                    n += 1;
                }
            }
            _ => {
                last_done.insert(e.process, e.time);
            }
        }
    }
    n
}

/// `scenarios/bugs/chaos/stale-read-same-us.json` (a chaos run with the
/// stale-read bug, found by sweeping `scenarios/sweep/selftest.json
/// --nemesis --bug stale-read` over seeds 0..1000: the old checker passed
/// seeds 109, 196, 294, 470 and 872, the current one fails them; the file
/// keeps seed 109's swarm draw and runs seed 19, which shows the same after
/// candidates began stepping down on lost elections) is caught,
/// and only because a client's operations touch at one microsecond: the
/// same operations with the event order dropped (every seq 0: equal times
/// concurrent, the old rule) are linearizable.
#[test]
fn stale_read_seen_only_through_same_microsecond_order_is_caught() {
    let out = run("scenarios/bugs/chaos/stale-read-same-us.json", None, None);
    assert_eq!(reported(&out), Some(false), "{:?}", out.report.checks);
    let failed: Vec<&str> = out
        .report
        .checks
        .failures
        .iter()
        .map(|f| f.check.as_str())
        .collect();
    assert_eq!(failed, ["linearizability"]);
    let history = out.history.expect("kept");
    assert!(
        history.windows(2).all(|w| w[0].seq + 1 == w[1].seq),
        "events are numbered in order"
    );
    let touches = same_microsecond_touches(&history);
    assert!(touches > 100, "{touches} same-microsecond touches");
    let ops = to_lin_ops(&history);
    assert_eq!(batch(&ops), Verdict::NotLinearizable);
    let old_rule: Vec<Op> = ops.iter().map(|o| o.clone().seqs(0, 0)).collect();
    assert_eq!(batch(&old_rule), Verdict::Linearizable);
    // Without the bug the same chaos passes.
    let fixed = {
        let base =
            Scenario::load(Path::new("scenarios/bugs/chaos/stale-read-same-us.json")).unwrap();
        let mut spec = base.spec.clone();
        spec.bug = None;
        let s = Scenario::from_spec_in("stale-read-same-us (no bug)", spec).unwrap();
        runner::run(&s, &RunOptions::default())
    };
    assert!(fixed.report.checks.ok, "{:?}", fixed.report.checks);
}

/// The streaming check gives the batch check's verdict on 295 short runs:
/// chaos (crashes, pauses, partitions, link cuts, clock skew) with and
/// without the stale-read bug, and the scripted stale-read scenario over
/// several seeds. Many of them fail, so both verdicts are exercised.
#[test]
fn streaming_and_batch_checks_agree_on_many_runs() {
    let mut cases: Vec<(&str, u64, Option<&str>)> = Vec::new();
    for seed in 0..200 {
        cases.push(("scenarios/sweep/selftest.json", seed, Some("stale-read")));
    }
    for seed in 0..40 {
        cases.push(("scenarios/sweep/selftest.json", seed, None));
    }
    for seed in 0..25 {
        cases.push(("scenarios/sweep/nemesis-10s.json", seed, Some("stale-read")));
    }
    for seed in 0..30 {
        cases.push(("scenarios/bugs/stale-read.json", seed, None));
    }
    let (mut failing, mut passing) = (0, 0);
    for (file, seed, bug) in &cases {
        let out = run(file, Some(*seed), *bug);
        let history = out.history.as_ref().expect("kept");
        let want = batch(&to_lin_ops(history));
        let got = reported(&out);
        let want_ok = match want {
            Verdict::Linearizable => Some(true),
            Verdict::NotLinearizable => Some(false),
            Verdict::Unknown => None,
        };
        assert_eq!(got, want_ok, "{file} seed {seed} bug {bug:?}");
        match got {
            Some(false) => failing += 1,
            Some(true) => passing += 1,
            None => {}
        }
    }
    assert_eq!(cases.len(), 295);
    assert!(
        failing >= 25 && passing >= 150,
        "{failing} failing, {passing} passing"
    );
}
