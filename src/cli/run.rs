//! `agentsim run`.

use super::output::{check_output, write_atomic, Staged};
use super::UsageError;
use crate::metrics::Report;
use crate::runner::{self, RunOptions, RunOutput};
use crate::scenario::{validate, Scenario};
use clap::Args;
use std::cell::RefCell;
use std::io::{BufWriter, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::time::Instant;

/// Arguments of `agentsim run`.
#[derive(Args, Debug)]
pub struct RunArgs {
    /// Scenario file.
    pub scenario: PathBuf,
    /// Override the scenario's seed.
    #[arg(long)]
    pub seed: Option<u64>,
    /// Override the scenario's duration (virtual ms).
    #[arg(long)]
    pub duration_ms: Option<f64>,
    /// Output folder for report.json (default: out/<scenario name>/).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Write one JSON line per event to FILE.
    #[arg(long, value_name = "FILE")]
    pub trace: Option<PathBuf>,
    /// Write the client history (JSON lines) to FILE, streamed while the
    /// run goes.
    #[arg(long, value_name = "FILE")]
    pub history: Option<PathBuf>,
    /// Switch on a deliberately wrong protocol variant: a Raft bug
    /// (`double-vote`, ...) or, for a workflow scenario, a coordinator bug
    /// (`coord-...`); `agentsim scenarios` lists one scenario per bug
    /// under scenarios/bugs/.
    #[arg(long, value_name = "NAME")]
    pub bug: Option<String>,
    /// Print the report JSON on stdout instead of the summary.
    #[arg(long)]
    pub json: bool,
    /// Write counters and histograms in the OpenMetrics text format to FILE.
    #[arg(long, value_name = "FILE")]
    pub metrics: Option<PathBuf>,
    /// Write the event timeline as Chrome trace-event JSON to FILE (opens
    /// in Perfetto or chrome://tracing).
    #[arg(long, value_name = "FILE")]
    pub chrome_trace: Option<PathBuf>,
    /// Keep only this window of the run in the Chrome trace (messages
    /// sent and events within START_MS..END_MS): a long run's full trace
    /// may not fit in memory. Messages beyond MAX_CHROME_MESSAGES are left
    /// out either way (with a warning).
    #[arg(long, value_name = "START_MS..END_MS", value_parser = super::plot::parse_window)]
    pub window: Option<(f64, f64)>,
}

/// Most messages kept for `--chrome-trace` (about 100 bytes each in
/// memory); the rest are counted and reported as left out.
pub const MAX_CHROME_MESSAGES: usize = 2_000_000;

/// Check command-line overrides before running anything.
pub fn check_overrides(seed_dur: Option<f64>, bug: Option<&str>) -> Result<(), UsageError> {
    if let Some(d) = seed_dur {
        if !d.is_finite() || d <= 0.0 {
            return Err(UsageError(format!(
                "error: --duration-ms must be a number > 0, got {d}"
            )));
        }
    }
    if let Some(b) = bug {
        if !validate::is_known_bug(b) {
            return Err(UsageError(format!(
                "error: --bug {b:?} is not a known bug; known: {}",
                validate::known_bugs()
            )));
        }
    }
    Ok(())
}

/// Run a scenario, timing it; the trace goes to `trace` if given.
pub fn timed_run(scenario: &Scenario, opts: &RunOptions) -> RunOutput {
    // Wall time is measured here, at the CLI edge, and only reported.
    #[allow(clippy::disallowed_methods)]
    let start = Instant::now();
    let mut out = runner::run(scenario, opts);
    let wall = start.elapsed().as_secs_f64();
    out.report.wall_ms = wall * 1000.0;
    out.report.events_per_s = if wall > 0.0 {
        out.report.events as f64 / wall
    } else {
        0.0
    };
    out
}

/// A progress line on stderr for long runs, so a run that takes minutes is
/// not silent: on a terminal one line rewritten in place every second once
/// the run has taken 2 s; in a log (not a terminal) a line every
/// `AGENTSIM_LOG_EVERY_S` seconds (default 10; 0 prints at every callback,
/// for tests). Wall time is read here, at the CLI edge, and only printed.
/// The returned flag says whether anything was printed.
#[allow(clippy::disallowed_methods)]
fn progress_line() -> (runner::ProgressSink, Rc<std::cell::Cell<bool>>) {
    let tty = std::io::stderr().is_terminal();
    let every = std::env::var("AGENTSIM_LOG_EVERY_S")
        .ok()
        .and_then(|v| v.parse::<f64>().ok())
        .filter(|v| v.is_finite() && *v >= 0.0)
        .unwrap_or(if tty { 1.0 } else { 10.0 });
    let quiet_for = every.min(2.0);
    let start = Instant::now();
    let mut last = 0.0f64;
    let shown = Rc::new(std::cell::Cell::new(false));
    let flag = shown.clone();
    let sink: runner::ProgressSink = Rc::new(RefCell::new(
        move |now: crate::time::SimTime, end: crate::time::SimTime, events: u64| {
            let t = start.elapsed().as_secs_f64();
            if t < quiet_for || (flag.get() && t - last < every) {
                return;
            }
            last = t;
            flag.set(true);
            let (now_s, end_s) = (now.0 as f64 / 1e6, end.0 as f64 / 1e6);
            let pct = if end_s > 0.0 {
                100.0 * now_s / end_s
            } else {
                100.0
            };
            let line = format!(
                "run: {now_s:.1} of {end_s:.1} simulated s ({pct:.0} %), {:.1} M events, {:.2} M events/s",
                events as f64 / 1e6,
                events as f64 / 1e6 / t.max(1e-9)
            );
            if tty {
                super::print_err(format_args!("\r{line}\x1b[K"), false);
            } else {
                errln!("{line}");
            }
        },
    ));
    (sink, shown)
}

pub fn run(a: RunArgs) -> Result<u8, UsageError> {
    check_overrides(a.duration_ms, a.bug.as_deref())?;
    let base = Scenario::load(&a.scenario).map_err(|e| UsageError(e.to_string()))?;
    let mut opts = RunOptions {
        seed: a.seed,
        duration_ms: a.duration_ms,
        bug: a.bug.clone(),
        trace: None,
        skip_checkers: false,
        // The history is written while the run goes (below) unless
        // `--metrics` needs it in memory afterwards.
        history: if a.metrics.is_some() {
            runner::HistoryOutput::Keep
        } else {
            runner::HistoryOutput::Discard
        },
        progress: None,
        ..RunOptions::default()
    };
    let scenario = runner::effective(&base, &opts);
    let file = crate::escape::path(&a.scenario);
    let scenario = Scenario::from_spec_in(&file, scenario.spec).map_err(|e| {
        UsageError(format!(
            "{file}: invalid after applying command-line overrides:\n{e}"
        ))
    })?;

    // A history records KV client operations (docs/history-format.md); a
    // workflow run or a run without a workload has none, and an empty file
    // would read as "nothing happened".
    if a.history.is_some() && scenario.spec.workload.is_none() {
        let what = if scenario.spec.workflow.is_some() {
            "is a workflow run"
        } else {
            "has no `workload`"
        };
        return Err(UsageError(format!(
            "error: --history: {file} {what}: the history records KV client operations \
             (docs/history-format.md) and this run has none; a workflow's tasks, results \
             and executions are in report.json (`collab`), its messages in --trace or --chrome-trace"
        )));
    }

    // Every output is checked before the run: an exit 2 writes nothing.
    let dir = a
        .out
        .clone()
        .unwrap_or_else(|| Path::new("out").join(&scenario.spec.name));
    let report_path = dir.join("report.json");
    check_output(&report_path, "the report")?;
    for (p, what) in [
        (&a.trace, "the trace"),
        (&a.history, "the history"),
        (&a.metrics, "the metrics"),
        (&a.chrome_trace, "the Chrome trace"),
    ] {
        if let Some(p) = p {
            check_output(p, what)?;
        }
    }
    let trace = match &a.trace {
        Some(p) => {
            let (staged, f) = Staged::create(p).map_err(|e| {
                UsageError(format!(
                    "error: {}: cannot create trace file: {e}",
                    crate::escape::path(p)
                ))
            })?;
            let w: Rc<RefCell<BufWriter<std::fs::File>>> = Rc::new(RefCell::new(BufWriter::new(f)));
            opts.trace = Some(w.clone());
            Some((staged, w, p))
        }
        None => None,
    };
    // The history file is streamed: written as events happen, so a long
    // run does not hold its history in memory.
    // With --metrics the events are also kept, for its latency histogram.
    let history_file = match &a.history {
        Some(p) => {
            let (staged, f) = Staged::create(p).map_err(|e| {
                UsageError(format!(
                    "error: {}: cannot create history file: {e}",
                    crate::escape::path(p)
                ))
            })?;
            let w = Rc::new(RefCell::new(Latch::new(BufWriter::new(f))));
            opts.history = if a.metrics.is_some() {
                runner::HistoryOutput::KeepAndStream(w.clone())
            } else {
                runner::HistoryOutput::Stream(w.clone())
            };
            Some((staged, w, p))
        }
        None => None,
    };
    // The Chrome trace is built from the run's typed events (the tap runs
    // beside the --trace file's tracer, if any): nothing is formatted.
    let chrome = a.chrome_trace.as_ref().map(|_| {
        let window = a.window.map_or((0, u64::MAX), |(lo, hi)| {
            ((lo * 1000.0).round() as u64, (hi * 1000.0).round() as u64)
        });
        let c = crate::plot::data::TraceCollector::new(window, MAX_CHROME_MESSAGES);
        opts.tap = Some(c.clone());
        c
    });
    let (progress, shown) = progress_line();
    opts.progress = Some(progress);
    let out = timed_run(&scenario, &opts);
    if shown.get() && std::io::stderr().is_terminal() {
        // End the line the progress display kept rewriting.
        errln!("");
    }
    drop(opts);
    if let Some((staged, w, p)) = trace {
        let mut w = Rc::try_unwrap(w)
            .map_err(|_| UsageError("internal: trace writer still shared".into()))?
            .into_inner();
        match w.flush() {
            // A FIFO whose reader left: quiet, as for stdout.
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {}
            r => r.map_err(|e| {
                UsageError(format!(
                    "error: {}: writing trace failed: {e}",
                    crate::escape::path(p)
                ))
            })?,
        }
        staged
            .commit()
            .map_err(|e| UsageError(format!("error: {}: {e}", crate::escape::path(p))))?;
    }
    if let Some((staged, w, p)) = history_file {
        let mut w = Rc::try_unwrap(w)
            .map_err(|_| UsageError("internal: history writer still shared".into()))?
            .into_inner();
        w.flush().map_err(|e| {
            UsageError(format!(
                "error: {}: writing history failed: {e}",
                crate::escape::path(p)
            ))
        })?;
        staged
            .commit()
            .map_err(|e| UsageError(format!("error: {}: {e}", crate::escape::path(p))))?;
    }
    write_report(&report_path, &out.report)?;
    if let (Some(p), Some(c)) = (&a.chrome_trace, chrome) {
        let detail = c.borrow_mut().take();
        if detail.deliveries_dropped > 0 {
            errln!(
                "warning: {}: {} messages beyond the first {MAX_CHROME_MESSAGES} are not in the Chrome trace; narrow it with --window START_MS..END_MS",
                crate::escape::path(p),
                detail.deliveries_dropped
            );
        }
        // With --window, the task executions overlapping it.
        let (lo, hi) = a.window.map_or((0, u64::MAX), |(lo, hi)| {
            ((lo * 1000.0).round() as u64, (hi * 1000.0).round() as u64)
        });
        let executions: Vec<_> = out
            .collab
            .iter()
            .flat_map(|c| &c.executions)
            .filter(|x| x.start_us <= hi && x.start_us + x.duration_us >= lo)
            .copied()
            .collect();
        let doc = crate::plot::chrome_trace::chrome_trace(&out.report, &detail, &executions);
        let text = serde_json::to_string(&doc).expect("trace serializes");
        write_atomic(p, text.as_bytes())
            .map_err(|e| UsageError(format!("error: {}: {e}", crate::escape::path(p))))?;
    }
    if let Some(p) = &a.metrics {
        let text =
            crate::metrics::openmetrics::encode(&[crate::metrics::openmetrics::MetricsInput {
                report: &out.report,
                history: out.history.as_deref(),
                client_latency: out.latency.as_ref().map(|l| &l.client),
                commit_latency: out.latency.as_ref().map(|l| &l.commit),
            }]);
        write_atomic(p, text.as_bytes())
            .map_err(|e| UsageError(format!("error: {}: {e}", crate::escape::path(p))))?;
    }
    if a.json {
        outln!(
            "{}",
            serde_json::to_string_pretty(&out.report).expect("report serializes")
        );
    } else {
        print_summary(&out.report, &report_path);
    }
    Ok(out.report.exit_code())
}

/// A writer that remembers its first error and reports it at `flush`, so
/// a failure in the middle of a streamed file is not lost behind a later
/// successful flush.
struct Latch<W: Write> {
    inner: W,
    failed: Option<std::io::Error>,
}

impl<W: Write> Latch<W> {
    fn new(inner: W) -> Self {
        Latch {
            inner,
            failed: None,
        }
    }
}

impl<W: Write> Write for Latch<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if self.failed.is_some() {
            return Ok(buf.len());
        }
        match self.inner.write_all(buf) {
            Ok(()) => Ok(buf.len()),
            Err(e) => {
                self.failed = Some(e);
                Ok(buf.len())
            }
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        if let Some(e) = self.failed.take() {
            return Err(e);
        }
        self.inner.flush()
    }
}

pub fn write_report(path: &Path, report: &Report) -> Result<(), UsageError> {
    let mut text = serde_json::to_string_pretty(report).expect("report serializes");
    text.push('\n');
    write_atomic(path, text.as_bytes()).map_err(|e| {
        UsageError(format!(
            "error: {}: cannot write report: {e}",
            crate::escape::path(path)
        ))
    })
}

/// The short human summary printed after a run.
pub fn print_summary(r: &Report, report_path: &Path) {
    let s = &r.scenario;
    outln!("agentsim run: {} (seed {})", s.name, r.seed);
    outln!("  simulated   {:.3} ms", r.sim_time_ms);
    outln!(
        "  events      {} in {:.1} ms wall ({:.2} M events/s)",
        r.events,
        r.wall_ms,
        r.events_per_s / 1e6
    );
    outln!("  trace hash  {}", r.trace_hash);
    let n = r.network.clone().unwrap_or_default();
    outln!(
        "  network     sent {}, delivered {}, dropped {}, duplicated {}",
        n.sent,
        n.delivered,
        n.dropped,
        n.duplicated
    );
    let skipped = r.faults.iter().filter(|f| f.is_skipped()).count();
    outln!(
        "  faults      {} applied, {} skipped",
        r.faults.len() - skipped,
        skipped
    );
    if let Some((k, line)) = r.summary() {
        outln!("  {k:<11} {line}");
    }
    // The event cap guards every run; it judges nothing about behaviour.
    let judged = r.checks.ran.iter().any(|c| c != "liveness.event_storm");
    if !judged && r.checks.ok {
        outln!("  checks      NONE RAN: nothing in this run was judged (no checker applies; add `expect` or a workload); the event cap held");
        errln!("warning: no check ran: exit 0 here means only that the run finished");
    } else if r.checks.ok {
        outln!(
            "  checks      ok ({} ran: {})",
            r.checks.ran.len(),
            r.checks.ran.join(", ")
        );
    } else {
        outln!("  checks      FAILED");
        for f in &r.checks.failures {
            outln!("    {}: {}", f.check, f.message);
        }
    }
    for n in &r.checks.not_judged {
        outln!("  not judged  {}: {}", n.check, n.reason);
    }
    outln!("  report      {}", crate::escape::path(report_path));
    outln!(
        "  replay      agentsim replay {}",
        crate::escape::path(report_path)
    );
}
