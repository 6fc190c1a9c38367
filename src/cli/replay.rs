//! `agentsim replay`: re-run what a report or failure file recorded and
//! confirm its trace hash and its verdict.
//!
//! The verdict is bound twice: the recorded trace hash covers the checker
//! settings and expectations (see [`crate::scenario::bind_verdict_settings`]),
//! and the recorded `checks` must equal the re-run's. A report whose checks
//! were rewritten, or whose checker was switched off after the fact, is a
//! divergence (exit 1), never "replay ok".

use super::run::{print_summary, timed_run};
use super::UsageError;
use crate::metrics::Checks;
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
    checks: Checks,
}

pub fn replay(a: ReplayArgs) -> Result<u8, UsageError> {
    let file = crate::escape::path(&a.file);
    let text = crate::scenario::read_input(&a.file, crate::scenario::MAX_REPORT_BYTES)
        .map_err(|e| UsageError(e.to_string()))?;
    let rec: Recorded = parse_json(&file, &text).map_err(|e| UsageError(e.to_string()))?;
    if let Some(raw) = serde_json::from_str::<serde_json::Value>(&text)
        .ok()
        .and_then(|v| v.get("scenario").cloned())
    {
        crate::scenario::reject_positional(&file, &raw, &rec.scenario, &text, "scenario")
            .map_err(|e| UsageError(e.to_string()))?;
    }
    let mut spec = rec.scenario;
    spec.seed = rec.seed;
    let scenario = Scenario::from_spec(spec)
        .map_err(|e| UsageError(format!("{file}: the embedded scenario is invalid:\n{e}")))?;
    let out = timed_run(&scenario, &RunOptions::default());
    if a.json {
        outln!(
            "{}",
            serde_json::to_string_pretty(&out.report).expect("report serializes")
        );
    } else {
        print_summary(&out.report, &a.file);
    }
    if out.report.trace_hash != rec.trace_hash {
        errln!(
            "replay DIVERGED: {file} recorded trace hash {}\n                 this run produced  {}\nThe scenario, seed or agentsim version differs from the recorded run.",
            rec.trace_hash, out.report.trace_hash
        );
        return Ok(1);
    }
    if out.report.checks != rec.checks {
        errln!(
            "replay DIVERGED: {file} recorded checks {}\n                 this run produced {}\nThe recorded verdict was not produced by this scenario and seed (edited report?).",
            serde_json::to_string(&rec.checks).expect("checks serialize"),
            serde_json::to_string(&out.report.checks).expect("checks serialize")
        );
        return Ok(1);
    }
    errln!(
        "replay ok: trace hash matches {} and checks match ({})",
        rec.trace_hash,
        if rec.checks.ok { "ok" } else { "FAILED" }
    );
    Ok(out.report.exit_code())
}
