//! A run's faults rewritten as scripted faults replay the same run
//! (`shrink::scripted_from_log`, the first step of every shrink): over
//! swarm seeds of the self-test scenario, failing (planted bugs) and
//! passing (the correct build), the scripted scenario without the nemesis
//! has the same verdict and the same events in the same order (every
//! message, timer and fault, compared line by line in the JSON trace),
//! and the same trace hash whenever the run skipped no fault. A skipped
//! fault is one fault event the scripted run does not have (it changed
//! nothing), so there the event counts differ by exactly the skipped
//! faults. A log with durations one microsecond off is caught, so the
//! check can fail.

use agentsim::fault::AppliedFault;
use agentsim::runner::{self, RunOptions, TraceSink};
use agentsim::scenario::Scenario;
use agentsim::shrink::{failure_kind, scripted_from_log};
use agentsim::sweep::seed_scenario;
use agentsim::SimDuration;
use std::cell::RefCell;
use std::path::Path;
use std::rc::Rc;

fn keep_faults() -> RunOptions {
    RunOptions {
        keep_faults: true,
        ..RunOptions::default()
    }
}

/// Fault events the scripted form leaves out: skipped faults (besides
/// undos and crash-point crashes, which happen again) and, for a record
/// on several nodes, the extra per-node faults it becomes (negative).
fn left_out(log: &[AppliedFault]) -> i64 {
    log.iter()
        .filter(|f| !f.undoes && f.point.is_none() && !matches!(f.kind, "crash_at" | "message"))
        .map(|f| {
            if f.skipped.is_some() {
                1
            } else if matches!(f.kind, "crash" | "restart" | "pause" | "clock" | "isolate") {
                1 - f.nodes.len() as i64
            } else {
                0
            }
        })
        .sum()
}

/// Run `scenario` with a JSON-lines trace: its report and its events,
/// each fault event without its `source` (a scripted fault's record says
/// `scripted` where the nemesis's said `nemesis`) and skipped faults left
/// out (they change nothing; the scripted form does not have them).
fn traced(scenario: &Scenario) -> (agentsim::Report, Vec<serde_json::Value>) {
    let buf = Rc::new(RefCell::new(Vec::<u8>::new()));
    let sink: TraceSink = buf.clone();
    let opts = RunOptions {
        trace: Some(sink),
        ..RunOptions::default()
    };
    let report = runner::run(scenario, &opts).report;
    let text = String::from_utf8(buf.borrow().clone()).unwrap();
    let events = text
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|e| e.get("fault").is_none_or(|f| f.get("skipped").is_none()))
        .map(|mut e| {
            if let Some(f) = e.get_mut("fault").and_then(|f| f.as_object_mut()) {
                f.remove("source");
                // A scripted link names its extra latency, 0 for a cut.
                if f.get("extra_latency_ms").and_then(|v| v.as_f64()) == Some(0.0) {
                    f.remove("extra_latency_ms");
                }
            }
            e
        })
        .collect();
    (report, events)
}

/// Script `scenario`'s faults from `log` (its own log, or a tampered
/// one), run both with a trace, and say how the scripted run differs,
/// if it does.
fn replay_differs(scenario: &Scenario, log: &[AppliedFault]) -> Option<String> {
    let (first, trace) = traced(scenario);
    let mut spec = scenario.spec.clone();
    spec.faults = scripted_from_log(&scenario.spec, log);
    spec.nemesis = None;
    let scripted = Scenario::from_spec(spec).expect("scripted faults are a valid scenario");
    let (again, trace_again) = traced(&scripted);
    let (k0, k1) = (failure_kind(&first), failure_kind(&again));
    if k0 != k1 {
        return Some(format!("verdict {k0:?} became {k1:?}"));
    }
    let gap = left_out(log);
    if first.events as i64 - again.events as i64 != gap {
        return Some(format!(
            "{} events, scripted {} ({gap} fault events left out)",
            first.events, again.events
        ));
    }
    let split = log.iter().any(|f| {
        !f.undoes
            && f.skipped.is_none()
            && f.nodes.len() > 1
            && matches!(f.kind, "crash" | "restart" | "pause" | "clock" | "isolate")
    });
    if !split {
        if let Some(i) =
            (0..trace.len().max(trace_again.len())).find(|&i| trace.get(i) != trace_again.get(i))
        {
            let (a, b) = (&trace.get(i), &trace_again.get(i));
            let at = |e: &Option<&serde_json::Value>| e.map(|e| e["time_us"].clone());
            let is_fault =
                |e: &Option<&serde_json::Value>| e.is_some_and(|e| e.get("fault").is_some());
            let tie = at(a) == at(b) && is_fault(a) != is_fault(b);
            return Some(format!(
                "{}first different event (#{i}): {a:?} vs scripted {b:?}",
                if tie { TIE } else { "" }
            ));
        }
    }
    if gap == 0 && first.trace_hash != again.trace_hash {
        return Some("trace hash differs".into());
    }
    None
}

/// How a difference starts when the scripted run put a fault first among
/// the events of one microsecond (see [`check_seeds`]).
const TIE: &str = "tie: ";

/// Seeds `seeds` of the self-test swarm with `bug`: (seeds failing,
/// seeds with the same hash, seeds that differ by a tie), panicking on the
/// first that does not replay for another reason.
///
/// A tie: scripted faults are queued when the run starts, so one that
/// falls in the same microsecond as another event (a delivery, a timer)
/// goes first, where the nemesis's event, queued when the previous draw
/// fired, may have gone after it. The scenario format cannot say which of
/// two events at one microsecond comes first, so such a run is not
/// replayed exactly; it happens in about 1 seed in 150 of this scenario.
fn check_seeds(bug: Option<&str>, seeds: std::ops::Range<u64>) -> (u64, u64, u64) {
    let mut spec = Scenario::load(Path::new("scenarios/sweep/selftest.json"))
        .unwrap()
        .spec;
    spec.bug = bug.map(str::to_string);
    let base = Scenario::from_spec(spec).unwrap();
    let (mut failing, mut same_hash, mut ties) = (0, 0, 0);
    for seed in seeds {
        let (scenario, _) = seed_scenario(&base, seed, true);
        let out = runner::run(&scenario, &keep_faults());
        let log = out.faults.expect("asked for the fault log");
        assert!(
            out.report.other.get("fault_log").is_none(),
            "seed {seed}: the log was truncated"
        );
        match replay_differs(&scenario, &log) {
            Some(why) if why.starts_with(TIE) => {
                eprintln!("{bug:?} seed {seed}: {why}");
                ties += 1;
            }
            Some(why) => {
                panic!("{bug:?} seed {seed}: the scripted faults do not replay the run: {why}")
            }
            None => {}
        }
        failing += u64::from(!out.report.checks.ok);
        same_hash += u64::from(left_out(&log) == 0);
    }
    (failing, same_hash, ties)
}

/// The correct build: 150 passing swarm seeds replay as scripted faults.
#[test]
fn scripted_faults_replay_passing_swarm_runs() {
    let (failing, same_hash, ties) = check_seeds(None, 0..150);
    assert_eq!(failing, 0);
    assert!(ties <= 3, "{ties} of 150 seeds differ by a tie");
    // Most seeds skip a fault (a leader-targeted crash with no leader),
    // so only some compare by hash; every seed compares event by event.
    assert!(same_hash >= 10, "only {same_hash} of 150 compared by hash");
}

/// Planted bugs whose nemesis the shrinker used to keep (its draws,
/// scripted, shifted the drawn targets of the other faults): their swarm
/// seeds, failing ones included, replay as scripted faults.
#[test]
fn scripted_faults_replay_failing_swarm_runs() {
    let (mut failing, mut ties) = (0, 0);
    for bug in [
        "forget-vote",
        "skip-log-check",
        "vote-cleared-on-step-down",
        "torn-vote-write",
        "self-vote-not-persisted",
        "stale-term-vote",
        "up-to-date-and",
        "ack-before-fsync",
    ] {
        let (f, _, t) = check_seeds(Some(bug), 0..40);
        failing += f;
        ties += t;
    }
    assert!(failing >= 20, "only {failing} failing seeds were compared");
    assert!(ties <= 6, "{ties} of 320 seeds differ by a tie");
}

/// The check catches a conversion that is a little off: with every fault
/// lasting one microsecond longer than it did, some seed no longer
/// replays.
#[test]
fn a_log_one_microsecond_off_does_not_replay() {
    let base = Scenario::load(Path::new("scenarios/sweep/selftest.json")).unwrap();
    let mut caught = 0;
    for seed in 0..20 {
        let (scenario, _) = seed_scenario(&base, seed, true);
        let out = runner::run(&scenario, &keep_faults());
        let mut log = out.faults.unwrap();
        for f in &mut log {
            f.lasts = f.lasts.map(|d| SimDuration(d.0 + 1));
        }
        caught += u64::from(replay_differs(&scenario, &log).is_some());
    }
    assert!(
        caught >= 10,
        "only {caught} of 20 tampered logs were caught"
    );
}
