//! Long runs are not silent: the kernel calls a progress callback every
//! `PROGRESS_EVERY` events without changing the run, and `agentsim run`
//! turns it into a progress line on stderr (a line per period in a log).

use agentsim::runner::{self, RunOptions};
use agentsim::scenario::Scenario;
use agentsim::sim::PROGRESS_EVERY;
use agentsim::time::SimTime;
use std::cell::RefCell;
use std::path::Path;
use std::process::Command;
use std::rc::Rc;

fn ten_minute_mesh() -> Scenario {
    let base = Scenario::load(Path::new("scenarios/heartbeat-1h.json")).expect("loads");
    let opts = RunOptions {
        duration_ms: Some(600_000.0),
        ..Default::default()
    };
    runner::effective(&base, &opts)
}

/// The callback comes every `PROGRESS_EVERY` events with times that only
/// grow, and the run's trace hash and event count are those of a run
/// without it.
#[test]
fn progress_callback_sees_the_run_without_changing_it() {
    let s = ten_minute_mesh();
    let plain = runner::run(&s, &RunOptions::default()).report;
    let calls: Rc<RefCell<Vec<(SimTime, SimTime, u64)>>> = Rc::default();
    let seen = calls.clone();
    let opts = RunOptions {
        progress: Some(Rc::new(RefCell::new(move |now, end, events| {
            seen.borrow_mut().push((now, end, events))
        }))),
        ..Default::default()
    };
    let watched = runner::run(&s, &opts).report;
    assert_eq!(watched.trace_hash, plain.trace_hash);
    assert_eq!(watched.events, plain.events);
    let calls = calls.borrow();
    assert_eq!(
        calls.len() as u64,
        plain.events / PROGRESS_EVERY,
        "{calls:?}"
    );
    for (i, w) in calls.windows(2).enumerate() {
        assert!(w[0].0 <= w[1].0, "time went back at call {i}");
        assert_eq!(w[1].2 - w[0].2, PROGRESS_EVERY);
    }
    assert!(calls.iter().all(|c| c.1 == SimTime(600_000_000)));
}

/// `agentsim run` in a log (stderr not a terminal) prints progress lines
/// with the simulated time, the share done and the event rate.
#[test]
fn run_prints_progress_lines_in_a_log() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = Command::new(env!("CARGO_BIN_EXE_agentsim"))
        .args([
            "run",
            &format!("{}/scenarios/heartbeat-1h.json", env!("CARGO_MANIFEST_DIR")),
            "--duration-ms",
            "600000",
            "--out",
            "o",
        ])
        .env("AGENTSIM_LOG_EVERY_S", "0")
        .current_dir(dir.path())
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(0));
    let err = String::from_utf8_lossy(&out.stderr);
    let lines: Vec<&str> = err.lines().filter(|l| l.starts_with("run: ")).collect();
    assert!(lines.len() >= 5, "{err}");
    assert!(
        lines[0].contains("of 600.0 simulated s (") && lines[0].contains("M events/s"),
        "{}",
        lines[0]
    );
}
