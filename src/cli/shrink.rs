//! `agentsim shrink`: the smallest scenario that still fails the same way.

use super::output::write_atomic;
use super::UsageError;
use crate::scenario::{parse_json, Scenario, ScenarioSpec};
use crate::shrink::{self, ShrinkOptions};
use clap::Args;
use serde::Deserialize;
use std::path::PathBuf;

/// Arguments of `agentsim shrink`.
#[derive(Args, Debug)]
pub struct ShrinkArgs {
    /// A failing scenario file, a report.json, or a sweep failure file.
    pub failure: PathBuf,
    /// Where to write the minimal scenario (default: <name>-min.json in
    /// the current folder).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Most scenario runs to spend.
    #[arg(long, default_value_t = 400)]
    pub max_runs: usize,
    /// Use this seed instead of the recorded one.
    #[arg(long)]
    pub seed: Option<u64>,
    /// Switch on a bug variant first (as `run --bug`).
    #[arg(long, value_name = "NAME")]
    pub bug: Option<String>,
}

#[derive(Deserialize)]
struct Recorded {
    seed: u64,
    scenario: ScenarioSpec,
}

pub fn shrink(a: ShrinkArgs) -> Result<u8, UsageError> {
    super::run::check_overrides(None, a.bug.as_deref())?;
    if let Some(p) = &a.out {
        super::output::check_output(p, "the shrunk scenario")?;
    }
    let file = crate::escape::path(&a.failure);
    let text = crate::scenario::read_input(&a.failure, crate::scenario::MAX_REPORT_BYTES)
        .map_err(|e| UsageError(e.to_string()))?;
    let is_recorded = serde_json::from_str::<serde_json::Value>(&text)
        .ok()
        .is_some_and(|v| {
            v.get("scenario").is_some_and(|s| s.is_object()) && v.get("seed").is_some()
        });
    let mut spec = if is_recorded {
        let r: Recorded = parse_json(&file, &text).map_err(|e| UsageError(e.to_string()))?;
        let mut spec = r.scenario;
        spec.seed = r.seed;
        spec
    } else {
        Scenario::from_str(&file, &text)
            .map_err(|e| UsageError(e.to_string()))?
            .spec
    };
    if a.bug.is_some() {
        spec.bug = a.bug.clone();
    }
    if let Some(seed) = a.seed {
        spec.seed = seed;
    }
    let scenario = Scenario::from_spec_in(&file, spec)
        .map_err(|e| UsageError(format!("{file}: invalid scenario:\n{e}")))?;
    let before = shrink::size(&scenario.spec);
    let had_nemesis = if scenario.spec.nemesis.is_some() {
        " + a nemesis"
    } else {
        ""
    };
    let opts = ShrinkOptions {
        max_runs: a.max_runs,
        ..Default::default()
    };
    let out =
        shrink::shrink(&scenario, &opts).map_err(|e| UsageError(format!("error: {file}: {e}")))?;
    let after = shrink::size(&out.scenario.spec);
    let mut min = out.scenario.spec.clone();
    min.name = format!("{}-min", scenario.spec.name.trim_end_matches("-min"));
    min.description = format!(
        "Shrunk from {file} ({}{had_nemesis}, {} nodes, {} ms → {}, {} nodes, {} ms); fails with {}. {}",
        shrink::fault_count(before.0),
        before.1,
        before.2,
        shrink::fault_count(after.0),
        after.1,
        after.2,
        out.kind,
        scenario.spec.description
    );
    let path = a
        .out
        .clone()
        .unwrap_or_else(|| PathBuf::from(format!("{}.json", min.name)));
    let mut json = serde_json::to_string_pretty(&min).expect("scenario serializes");
    json.push('\n');
    write_atomic(&path, json.as_bytes())
        .map_err(|e| UsageError(format!("error: {}: {e}", crate::escape::path(&path))))?;
    outln!("agentsim shrink: {file} fails with {}", out.kind);
    for s in &out.steps {
        outln!("  - {s}");
    }
    outln!(
        "  {} runs; {}{had_nemesis}, {} nodes, {} ms  →  {}, {} nodes, {} ms",
        out.runs,
        shrink::fault_count(before.0),
        before.1,
        before.2,
        shrink::fault_count(after.0),
        after.1,
        after.2
    );
    if let Some(f) = out.report.checks.failures.first() {
        outln!("  still fails: {}: {}", f.check, f.message);
    }
    outln!("  minimal scenario  {}", crate::escape::path(&path));
    outln!(
        "  reproduce         agentsim run {}",
        crate::escape::path(&path)
    );
    Ok(0)
}
