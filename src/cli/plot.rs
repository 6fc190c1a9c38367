//! `agentsim plot`: charts from reports. A report embeds its scenario and
//! seed, so the run is repeated (with a typed trace collector and the
//! client history) to get per-operation and per-message detail without storing it
//! in report.json; the repeat's trace hash must equal the report's.

use super::output::write_atomic;
use super::UsageError;
use crate::metrics::Report;
use crate::plot::data::{TraceCollector, TraceDetail};
use crate::plot::figures::{overlay_figures, run_figures, Panels, RunView, MAX_MESSAGES};
use crate::plot::Format;
use crate::runner::{self, RunOptions, RunOutput};
use crate::scenario::Scenario;
use clap::Args;
use serde_json::Value;
use std::path::{Path, PathBuf};

/// Arguments of `agentsim plot`.
#[derive(Args, Debug)]
pub struct PlotArgs {
    /// report.json files, or folders searched (recursively) for report.json.
    #[arg(required = true)]
    pub inputs: Vec<PathBuf>,
    /// Output folder.
    #[arg(long)]
    pub out: PathBuf,
    /// svg (default; needs no fonts) or png (bundled font).
    #[arg(long, default_value = "svg", value_parser = parse_format)]
    pub format: Format,
    /// Message-diagram window START_MS..END_MS (default: 100 ms before the
    /// first fault to 400 ms after it).
    #[arg(long, value_name = "START_MS..END_MS", value_parser = parse_window)]
    pub window: Option<(f64, f64)>,
    /// Agent Gantt chart window FROM_MS..TO_MS: draw the task executions
    /// overlapping it (up to 500) instead of the run's first 500.
    #[arg(long, value_name = "FROM_MS..TO_MS", value_parser = parse_window)]
    pub gantt_window: Option<(f64, f64)>,
    /// Logarithmic x axis on CDFs.
    #[arg(long)]
    pub log_x: bool,
    /// Downtime CDF panel "TITLE=LABEL,LABEL,..." (repeatable; labels are
    /// scenario names). Default: one panel with every run.
    #[arg(long, value_name = "TITLE=LABELS", value_parser = parse_panel)]
    pub cdf_panel: Vec<(String, Vec<String>)>,
}

/// Parse `svg` / `png`.
pub fn parse_format(s: &str) -> Result<Format, String> {
    match s {
        "svg" => Ok(Format::Svg),
        "png" => Ok(Format::Png),
        _ => Err(format!("unknown format {s:?}: use svg or png")),
    }
}

/// Parse `START_MS..END_MS`.
pub fn parse_window(s: &str) -> Result<(f64, f64), String> {
    let (a, b) = s
        .split_once("..")
        .ok_or_else(|| format!("window {s:?} must look like 4900..5400 (ms)"))?;
    let a: f64 = a.trim().parse().map_err(|e| format!("window start: {e}"))?;
    let b: f64 = b.trim().parse().map_err(|e| format!("window end: {e}"))?;
    if !(a.is_finite() && b.is_finite() && a >= 0.0 && b > a) {
        return Err(format!("window {s:?}: need 0 <= START < END"));
    }
    Ok((a, b))
}

/// Parse `TITLE=LABEL,LABEL`.
pub fn parse_panel(s: &str) -> Result<(String, Vec<String>), String> {
    let (t, l) = s
        .split_once('=')
        .ok_or_else(|| format!("panel {s:?} must look like \"TITLE=name1,name2\""))?;
    Ok((
        t.to_string(),
        l.split(',').map(|x| x.trim().to_string()).collect(),
    ))
}

/// Refuse a `--cdf-panel` that names a run no input has (it would draw an
/// empty or partial panel without a word). Checked before anything is
/// written.
pub fn check_panels(panels: &[(String, Vec<String>)], labels: &[String]) -> Result<(), UsageError> {
    for (title, names) in panels {
        for n in names {
            if !labels.contains(n) {
                return Err(UsageError(format!(
                    "error: --cdf-panel {title:?}: no run is labelled {n:?}; the runs are: {}",
                    labels.join(", ")
                )));
            }
        }
    }
    Ok(())
}

/// Every report.json under `dir`, sorted.
fn find_reports(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)?
        .map(|e| e.map(|e| e.path()))
        .collect::<Result<_, _>>()?;
    entries.sort();
    for p in entries {
        if p.is_dir() {
            find_reports(&p, out)?;
        } else if p.file_name().is_some_and(|n| n == "report.json") {
            out.push(p);
        }
    }
    Ok(())
}

/// Expand folders into the report.json files they hold.
pub fn expand_inputs(inputs: &[PathBuf]) -> Result<Vec<PathBuf>, UsageError> {
    let mut files = Vec::new();
    for p in inputs {
        if p.is_dir() {
            find_reports(p, &mut files)
                .map_err(|e| UsageError(format!("error: {}: {e}", p.display())))?;
        } else {
            files.push(p.clone());
        }
    }
    if files.is_empty() {
        return Err(UsageError(
            "error: no report.json found in the inputs".into(),
        ));
    }
    Ok(files)
}

/// Read a report file.
pub fn read_report(path: &Path) -> Result<Report, UsageError> {
    let file = crate::escape::path(path);
    let text = crate::scenario::read_input(path, crate::scenario::MAX_REPORT_BYTES)
        .map_err(|e| UsageError(e.to_string()))?;
    let v: Value = serde_json::from_str(&text)
        .map_err(|e| UsageError(format!("error: {file}: not JSON: {e}")))?;
    serde_json::from_value(v).map_err(|e| {
        UsageError(format!(
            "error: {file}: not an agentsim report (need seed, scenario, trace_hash, ...): {e}"
        ))
    })
}

/// Run `scenario` collecting the trace of `window_ms` (deliveries by send
/// time, at most `max_messages`). Wall time is not measured, so the
/// report is a deterministic function of scenario and seed.
pub fn run_collecting(
    scenario: &Scenario,
    window_ms: (f64, f64),
    max_messages: usize,
    gantt_window_ms: Option<(f64, f64)>,
) -> (RunOutput, TraceDetail) {
    let to_us = |ms: f64| (ms * 1000.0).round().max(0.0) as u64;
    let collector = TraceCollector::new((to_us(window_ms.0), to_us(window_ms.1)), max_messages);
    let opts = RunOptions {
        tap: Some(collector.clone()),
        gantt_window_ms,
        ..RunOptions::default()
    };
    let out = runner::run(scenario, &opts);
    drop(opts);
    let detail = collector.borrow_mut().take();
    (out, detail)
}

/// Repeat the run a report records; `Err` if its scenario no longer
/// validates. Returns the new output, the detail and whether the trace
/// hash matched.
pub fn rerun(
    report: &Report,
    file: &str,
    window_ms: (f64, f64),
    gantt_window_ms: Option<(f64, f64)>,
) -> Result<(RunOutput, TraceDetail, bool), UsageError> {
    let mut spec = report.scenario.clone();
    spec.seed = report.seed;
    let scenario = Scenario::from_spec(spec)
        .map_err(|e| UsageError(format!("{file}: the embedded scenario is invalid:\n{e}")))?;
    let (out, detail) = run_collecting(&scenario, window_ms, MAX_MESSAGES, gantt_window_ms);
    let ok = out.report.trace_hash == report.trace_hash;
    Ok((out, detail, ok))
}

/// Unique labels: scenario names, with `#seed` added where names repeat,
/// and `~N` where that still repeats (same name and seed, another
/// setting). Their [`file_stem`]s are unique too (`a b` and `a_b` would
/// share the folder `a_b`), so no run's files overwrite another's.
pub fn labels(reports: &[Report]) -> Vec<String> {
    let mut labels: Vec<String> = Vec::with_capacity(reports.len());
    let mut stems: Vec<String> = Vec::with_capacity(reports.len());
    for r in reports {
        let dup = reports
            .iter()
            .filter(|o| o.scenario.name == r.scenario.name)
            .count()
            > 1;
        let base = if dup {
            format!("{}#{}", r.scenario.name, r.seed)
        } else {
            r.scenario.name.clone()
        };
        let mut label = base.clone();
        let mut k = 2;
        while labels.contains(&label) || stems.contains(&file_stem(&label)) {
            label = format!("{base}~{k}");
            k += 1;
        }
        stems.push(file_stem(&label));
        labels.push(label);
    }
    labels
}

/// A label made safe as a folder name.
pub fn file_stem(label: &str) -> String {
    label
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "._-".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// Print what a repeat showed; true when the hash matched.
pub fn say_rerun(label: &str, report: &Report, ok: bool, new_hash: &str) -> bool {
    if ok {
        outln!(
            "  {label}: re-ran seed {}, trace hash matches {}",
            report.seed,
            report.trace_hash
        );
    } else {
        errln!(
            "  {label}: re-run DIVERGED: report has trace hash {}, this run produced {new_hash}; per-op and per-message plots show the new run",
            report.trace_hash
        );
    }
    ok
}

pub fn plot(a: PlotArgs) -> Result<u8, UsageError> {
    super::output::check_output(&a.out.join("plot"), "the plots")?;
    let files = expand_inputs(&a.inputs)?;
    let reports: Vec<Report> = files
        .iter()
        .map(|f| read_report(f))
        .collect::<Result<_, _>>()?;
    let labels = labels(&reports);
    check_panels(&a.cdf_panel, &labels)?;
    let mut views = Vec::new();
    let mut all_ok = true;
    outln!("agentsim plot: {} report(s)", reports.len());
    for ((report, file), label) in reports.into_iter().zip(&files).zip(&labels) {
        let window = RunView::window_for(&report, a.window);
        let (out, detail, ok) =
            rerun(&report, &file.display().to_string(), window, a.gantt_window)?;
        all_ok &= say_rerun(label, &report, ok, &out.report.trace_hash);
        // The re-run's report is the same run in full (a checked-in report
        // may leave the role timeline out); keep the file's if it diverged.
        let shown = if ok { out.report.clone() } else { report };
        views.push(RunView::new(
            label.clone(),
            shown,
            out.history.as_deref(),
            detail,
            window,
        ));
    }
    let ext = a.format.ext();
    let write = |path: PathBuf, bytes: &[u8]| -> Result<(), UsageError> {
        write_atomic(&path, bytes)
            .map_err(|e| UsageError(format!("error: {}: {e}", path.display())))?;
        outln!("  wrote {}", path.display());
        Ok(())
    };
    for v in &views {
        for f in run_figures(v, a.format).map_err(|e| UsageError(format!("error: {e}")))? {
            write(
                a.out
                    .join(file_stem(&v.label))
                    .join(format!("{}.{ext}", f.name)),
                &f.bytes,
            )?;
        }
    }
    let panels: Panels = a.cdf_panel.clone();
    for f in overlay_figures(&views, &panels, a.log_x, a.format)
        .map_err(|e| UsageError(format!("error: {e}")))?
    {
        write(a.out.join(format!("{}.{ext}", f.name)), &f.bytes)?;
    }
    Ok(if all_ok { 0 } else { 1 })
}
