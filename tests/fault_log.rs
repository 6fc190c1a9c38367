//! The bounded fault log: a run that logs more fault records than the cap
//! lists the first ones, counts all of them, and says so; the verdicts
//! that read the log (liveness, the history's nemesis entries) and
//! `shrink`, which scripts a nemesis from it, are the same as with the
//! whole log.

use agentsim::fault::DEFAULT_FAULT_LOG_CAP;
use agentsim::metrics::Report;
use agentsim::runner::{self, HistoryOutput, RunOptions};
use agentsim::scenario::Scenario;
use agentsim::shrink::{self, ShrinkOptions};
use serde_json::{json, Value};
use std::cell::RefCell;
use std::collections::BTreeMap;
use std::path::Path;
use std::rc::Rc;

fn scenario(v: Value) -> Scenario {
    Scenario::from_spec(serde_json::from_value(v).unwrap()).unwrap()
}

fn load(path: &str) -> Scenario {
    Scenario::load(Path::new(path)).unwrap_or_else(|e| panic!("{e}"))
}

fn run(s: &Scenario, cap: Option<usize>) -> Report {
    let opts = RunOptions {
        fault_log_cap: cap,
        ..RunOptions::default()
    };
    runner::run(s, &opts).report
}

/// A fault storm on a heartbeat mesh: a nemesis draw every 1 ms (the
/// fastest validation allows) for 20 s, each undone 1-2 ms later.
fn storm() -> Scenario {
    scenario(json!({
        "name": "storm",
        "duration_ms": 20000,
        "cluster": { "nodes": 3, "process": "heartbeat" },
        "nemesis": { "mean_interval_ms": 1, "kinds": ["crash", "pause", "partition"],
                     "duration_ms": [1, 2] }
    }))
}

/// The storm logs several times the cap: the report lists exactly the
/// first `DEFAULT_FAULT_LOG_CAP` records (the same as an uncapped run's
/// first ones), `fault_log` counts every record per kind (equal to a tally
/// of the uncapped run's whole list), carries the note, and the run itself
/// is unchanged (same trace hash, same checks).
#[test]
fn storm_run_lists_the_first_records_and_counts_all() {
    let s = storm();
    let capped = run(&s, None);
    let whole = run(&s, Some(usize::MAX));
    let total = whole.faults.len();
    assert!(
        total > 3 * DEFAULT_FAULT_LOG_CAP,
        "the storm logged only {total} records"
    );
    assert_eq!(capped.faults.len(), DEFAULT_FAULT_LOG_CAP);
    assert_eq!(capped.faults[..], whole.faults[..DEFAULT_FAULT_LOG_CAP]);
    assert_eq!(capped.trace_hash, whole.trace_hash);
    assert_eq!(capped.checks, whole.checks);

    let log = &capped.section("fault_log");
    assert_eq!(
        capped.fault_log.as_ref().map(|l| l.listed),
        Some(DEFAULT_FAULT_LOG_CAP as u64)
    );
    assert_eq!(log["truncated"], true);
    assert_eq!(log["total"], total as u64);
    assert_eq!(log["listed"], DEFAULT_FAULT_LOG_CAP as u64);
    assert_eq!(log["cap"], DEFAULT_FAULT_LOG_CAP as u64);
    assert_eq!(
        log["first_unlisted_ms"].as_f64(),
        Some(whole.faults[DEFAULT_FAULT_LOG_CAP].at_ms)
    );
    let note = log["note"].as_str().unwrap();
    assert!(
        note.contains("truncated") && note.contains(&total.to_string()),
        "{note}"
    );
    let mut tally: BTreeMap<String, (u64, u64)> = BTreeMap::new();
    for f in &whole.faults {
        let e = tally.entry(f.kind.clone()).or_default();
        if f.is_skipped() {
            e.1 += 1;
        } else {
            e.0 += 1;
        }
    }
    let counts: BTreeMap<String, (u64, u64)> = log["counts"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, c)| {
            let n = |f: &str| c[f].as_u64().unwrap();
            (k.clone(), (n("applied"), n("skipped")))
        })
        .collect();
    assert_eq!(counts, tally);
    // The uncapped run lists everything and has no note.
    assert!(whole.fault_log.is_none() && whole.section("fault_log").is_null());
    // The report's JSON carries the key.
    let text = serde_json::to_string(&capped).unwrap();
    assert!(text.contains("\"fault_log\""));
}

/// A Raft run whose liveness is judged after the nemesis stops: with a
/// cap of 3 records the verdict (which checks ran, failed, were not
/// judged, and the "faults ended at" time in their messages), the trace
/// hash and the history's nemesis entries are those of the uncapped run,
/// although the listed records end long before the last fault.
#[test]
fn liveness_and_history_do_not_depend_on_the_cap() {
    let s = load("scenarios/sweep/nemesis-heal.json");
    let with = |cap: Option<usize>| {
        let sink = Rc::new(RefCell::new(Vec::<u8>::new()));
        let opts = RunOptions {
            fault_log_cap: cap,
            history: HistoryOutput::Stream(sink.clone()),
            ..RunOptions::default()
        };
        let r = runner::run(&s, &opts).report;
        let nemesis: Vec<String> = String::from_utf8(sink.borrow().clone())
            .unwrap()
            .lines()
            .filter(|l| l.contains("nemesis"))
            .map(String::from)
            .collect();
        (r, nemesis)
    };
    let (capped, capped_nemesis) = with(Some(3));
    let (whole, whole_nemesis) = with(None);
    assert!(whole.fault_log.is_none());
    assert_eq!(capped.fault_log.as_ref().map(|l| l.listed), Some(3));
    let last = |r: &Report| r.faults.last().unwrap().at_ms;
    assert!(
        last(&capped) < last(&whole) - 1000.0,
        "the cap cut nothing late"
    );
    assert!(
        whole.checks.ran.iter().any(|c| c == "liveness.leader"),
        "liveness was judged: {:?}",
        whole.checks
    );
    assert_eq!(capped.checks, whole.checks);
    assert_eq!(capped.trace_hash, whole.trace_hash);
    assert!(whole_nemesis.len() > 3, "{whole_nemesis:?}");
    assert_eq!(capped_nemesis, whole_nemesis);
}

fn nemesis_failure() -> Scenario {
    let mut spec = load("scenarios/raft/nemesis.json").spec;
    spec.bug = Some("skip-log-check".into());
    spec.seed = 18;
    Scenario::from_spec(spec).unwrap()
}

fn shrink_opts(cap: Option<usize>, max_records: Option<usize>) -> ShrinkOptions {
    let d = ShrinkOptions::default();
    ShrinkOptions {
        max_runs: 40,
        fallback_seeds: 2,
        compact_seeds: d.compact_seeds,
        fault_log_cap: cap,
        max_fault_records: max_records.unwrap_or(d.max_fault_records),
        ..d
    }
}

/// `shrink` from a truncated log re-runs the failure with a cap that holds
/// every record and scripts all the draws: the minimal scenario is the
/// one an uncapped shrink finds.
#[test]
fn shrink_scripts_a_truncated_nemesis_from_a_whole_rerun() {
    let s = nemesis_failure();
    let whole = shrink::shrink(&s, &shrink_opts(None, None)).unwrap();
    let capped = shrink::shrink(&s, &shrink_opts(Some(2), None)).unwrap();
    assert!(
        capped
            .steps
            .iter()
            .any(|st| st.contains("replaced the nemesis") && st.contains("re-run listing all")),
        "{:?}",
        capped.steps
    );
    assert_eq!(capped.kind, whole.kind);
    assert_eq!(capped.scenario.spec, whole.scenario.spec);
}

/// When the truncated log holds more records than a scenario may script,
/// `shrink` keeps the nemesis, says why, and still returns a scenario that
/// fails the same way.
#[test]
fn shrink_keeps_a_nemesis_too_large_to_script() {
    let s = nemesis_failure();
    let out = shrink::shrink(&s, &shrink_opts(Some(2), Some(3))).unwrap();
    assert!(
        out.steps
            .iter()
            .any(|st| st.contains("kept the nemesis: it logged")),
        "{:?}",
        out.steps
    );
    assert!(out.scenario.spec.nemesis.is_some());
    assert_eq!(out.kind.check, "safety");
    let again = run(&out.scenario, None);
    assert_eq!(
        shrink::failure_kind(&again).as_ref(),
        Some(&out.kind),
        "the result fails the same way"
    );
}
