//! `agentsim replay`: re-run what a report or failure file recorded and
//! confirm the trace hash.

use super::run::{print_summary, timed_run};
use super::UsageError;
use crate::runner::RunOptions;
use crate::scenario::{parse_json, Scenario, ScenarioSpec};
use clap::Args;
use serde::Deserialize;
use std::path::PathBuf;

/// Arguments of `agentsim replay`.
#[derive(Args, Debug)]
pub struct ReplayArgs {
    /// A report.json (or a sweep failure file) with `seed`, `scenario` and
    /// `trace_hash`.
    pub file: PathBuf,
    /// Print the new report JSON instead of the summary.
    #[arg(long)]
    pub json: bool,
}

/// The fields replay needs; everything else in the file is ignored.
#[derive(Deserialize)]
struct Recorded {
    seed: u64,
    scenario: ScenarioSpec,
    trace_hash: String,
}

pub fn replay(a: ReplayArgs) -> Result<u8, UsageError> {
    let file = a.file.display().to_string();
    let text = std::fs::read_to_string(&a.file)
        .map_err(|e| UsageError(format!("error: {file}: cannot read: {e}")))?;
    let rec: Recorded = parse_json(&file, &text).map_err(|e| UsageError(e.to_string()))?;
    let mut spec = rec.scenario;
    spec.seed = rec.seed;
    let scenario = Scenario::from_spec(spec)
        .map_err(|e| UsageError(format!("{file}: the embedded scenario is invalid:\n{e}")))?;
    let out = timed_run(&scenario, &RunOptions::default());
    if a.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&out.report).expect("report serializes")
        );
    } else {
        print_summary(&out.report, &a.file);
    }
    if out.report.trace_hash != rec.trace_hash {
        eprintln!(
            "replay DIVERGED: {file} recorded trace hash {}\n                 this run produced  {}\nThe scenario, seed or agentsim version differs from the recorded run.",
            rec.trace_hash, out.report.trace_hash
        );
        return Ok(1);
    }
    eprintln!("replay ok: trace hash matches {}", rec.trace_hash);
    Ok(out.report.exit_code())
}
