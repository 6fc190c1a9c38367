//! `agentsim sweep`: run a scenario over a range of seeds in parallel.
//!
//! Output folder:
//! - `results.jsonl`: a header line ([`SweepHeader`]) then one
//!   [`SeedResult`] per finished seed, in finishing order. Each line is
//!   written with one `write` as soon as its seed finishes (so a killed
//!   process loses nothing it reported) and fsynced in small batches (so a
//!   power loss costs at most a batch). `--resume` reads it back, drops a
//!   torn last line, and runs only the seeds it lacks.
//! - `failures/seed-N.json`: the report of each failing seed, written
//!   before its result line; `agentsim replay` reproduces it.
//! - `sweep.json`: the summary, written last (atomically), computed from
//!   the result lines alone, so an interrupted-and-resumed sweep, a sweep
//!   with any `--jobs`, and merged shards all give the same file (its
//!   `timing` section apart).

use super::output::write_atomic;
use super::run::check_overrides;
use super::sweep_files::open_results;
pub(super) use super::sweep_files::shell_quote;
pub use super::sweep_files::{
    clear_outputs, create_results, header_difference, read_results, replay_command, summary,
    write_summary, SeedSet,
};
use super::UsageError;
use crate::metrics::report::CheckFailure;
use crate::metrics::{Checks, Report};
use crate::runner::{self, RunOptions};
use crate::scenario::Scenario;
use crate::sweep::stats::CollabStats;
use crate::sweep::{
    self, SeedBudget, SeedRange, SeedResult, SeedRun, SeedStats, Shard, SweepHeader, SweepStats,
    SweepSummary, SweepTiming, FORMAT,
};
use clap::Args;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use rayon::prelude::*;
use serde_json::{json, Map};
use std::fs::File;
use std::io::{IsTerminal, Write};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// Arguments of `agentsim sweep`.
#[derive(Args, Debug)]
pub struct SweepArgs {
    /// Scenario file.
    pub scenario: PathBuf,
    /// Seeds to run: a half-open range A..B (runs A, A+1, ..., B-1).
    #[arg(long, value_name = "A..B")]
    pub seeds: String,
    /// Worker threads (default: the number of CPUs).
    #[arg(long, value_name = "N")]
    pub jobs: Option<usize>,
    /// Run only part I of N of the seeds (0-based, contiguous blocks), or
    /// `env` to read I from JOB_COMPLETION_INDEX (Kubernetes Indexed Job)
    /// or SLURM_ARRAY_TASK_ID (Slurm job array).
    #[arg(long, value_name = "I/N|env")]
    pub shard: Option<String>,
    /// With `--shard env`: the number of shards N (else AGENTSIM_SHARDS
    /// or SLURM_ARRAY_TASK_COUNT).
    #[arg(long, value_name = "N")]
    pub shards: Option<u64>,
    /// Output folder (default: out/<scenario name>/sweep/).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Continue an interrupted sweep in --out: skip the seeds it finished.
    #[arg(long)]
    pub resume: bool,
    /// Swarm testing: each seed draws its own nemesis (kinds, interval,
    /// durations, max_down) and network drop/duplicate rates.
    #[arg(long)]
    pub nemesis: bool,
    /// Targeted mode (implies --nemesis): the swarm's protocol-shaped
    /// features forced on instead of each drawn in half the seeds: one
    /// entry per append, crash points at higher probability, leader
    /// crashes, message rules and patterns, in one of five targets per
    /// seed (docs/bugs.md). Raft key-value scenarios only.
    #[arg(long)]
    pub targeted: bool,
    /// Switch on a deliberately wrong protocol variant in every seed.
    #[arg(long, value_name = "NAME")]
    pub bug: Option<String>,
    /// Override the scenario's duration (virtual ms).
    #[arg(long)]
    pub duration_ms: Option<f64>,
    /// Also write the sweep's counters and merged histograms in the
    /// OpenMetrics text format to FILE.
    #[arg(long, value_name = "FILE")]
    pub metrics: Option<PathBuf>,
    /// Per-seed budget: most events one seed may dispatch; a seed that
    /// needs more is stopped and recorded as a `budget` failure (which
    /// `--resume` skips).
    #[arg(long, value_name = "N", default_value_t = sweep::DEFAULT_SEED_BUDGET_EVENTS)]
    pub seed_budget_events: u64,
    /// Per-seed budget: memory estimate in MiB (events queued at once, at
    /// 256 B each); a seed that exceeds it is a `budget` failure.
    #[arg(long, value_name = "MIB", default_value_t = sweep::DEFAULT_SEED_BUDGET_MIB)]
    pub seed_budget_mib: u64,
    /// Coverage-guided: keep runs that reach new abstract Raft states and
    /// mutate their fault schedules (docs/guided.md). `--seeds A..B` gives
    /// the number of runs and the fresh seeds.
    #[arg(long)]
    pub guided: bool,
    /// With --guided: also run a default sweep of as many seeds and
    /// compare the states both reached.
    #[arg(long)]
    pub baseline: bool,
}

/// How often a sweep not on a terminal logs a progress line.
const LOG_EVERY: Duration = Duration::from_secs(10);

/// Most worker threads `--jobs` may ask for.
const MAX_JOBS: usize = 1024;

/// How many result lines may wait for an fsync, and for how long.
const SYNC_EVERY_LINES: usize = 64;
const SYNC_EVERY: Duration = Duration::from_secs(1);
/// Failing seeds printed in the summary (all are in sweep.json).
const PRINT_FAILURES: usize = 10;

pub const RESULTS: &str = "results.jsonl";
pub const SUMMARY: &str = "sweep.json";
pub const FAILURES: &str = "failures";

/// A failure file's path relative to the output folder.
pub fn failure_file(seed: u64) -> String {
    format!("{FAILURES}/seed-{seed}.json")
}

/// Everything a sweep needs, checked before anything is written.
pub(super) struct Plan {
    pub(super) base: Scenario,
    pub(super) header: SweepHeader,
    pub(super) dir: PathBuf,
    pub(super) jobs: usize,
}

fn plan(a: &SweepArgs) -> Result<Plan, UsageError> {
    super::guided::check_flags(a)?;
    if a.targeted && a.guided {
        return Err(UsageError(
            "error: --targeted cannot be combined with --guided: a guided sweep draws the default swarm's features and mutates them; run them as two sweeps".into(),
        ));
    }
    let seeds = SeedRange::parse(&a.seeds).map_err(|e| UsageError(format!("error: {e}")))?;
    let shard = match (a.shard.as_deref(), a.shards) {
        (Some("env"), n) => Some(shard_from_env(n)?),
        (Some(s), None) => Some(Shard::parse(s).map_err(|e| UsageError(format!("error: {e}")))?),
        (Some(_), Some(_)) => {
            return Err(UsageError(
                "error: --shards N goes with --shard env; with --shard I/N the count is already given"
                    .into(),
            ))
        }
        (None, Some(_)) => {
            return Err(UsageError(
                "error: --shards N needs --shard env (it gives the shard count when the index comes from the environment)".into(),
            ))
        }
        (None, None) => None,
    };
    let jobs = match a.jobs {
        Some(0) => return Err(UsageError("error: --jobs must be at least 1".into())),
        Some(n) if n > MAX_JOBS => {
            return Err(UsageError(format!(
                "error: --jobs {n} is more than the limit of {MAX_JOBS} worker threads"
            )))
        }
        Some(n) => n,
        None => std::thread::available_parallelism().map_or(1, |n| n.get()),
    };
    check_overrides(a.duration_ms, a.bug.as_deref())?;
    let loaded = Scenario::load(&a.scenario).map_err(|e| UsageError(e.to_string()))?;
    let opts = RunOptions {
        duration_ms: a.duration_ms,
        bug: a.bug.clone(),
        ..Default::default()
    };
    let file = crate::escape::path(&a.scenario);
    let base =
        Scenario::from_spec_in(&file, runner::effective(&loaded, &opts).spec).map_err(|e| {
            UsageError(format!(
                "{file}: invalid after applying command-line overrides:\n{e}"
            ))
        })?;
    if a.targeted
        && (base.spec.cluster.process != crate::scenario::ProcessKind::Raft
            || base.spec.workflow.is_some())
    {
        return Err(UsageError(format!(
            "error: --targeted: {file} is not a Raft key-value scenario (its protocol-shaped features are Raft's); use --nemesis"
        )));
    }
    let dir = a
        .out
        .clone()
        .unwrap_or_else(|| Path::new("out").join(&base.spec.name).join("sweep"));
    // Every output is checked before the sweep starts: exit 2 writes nothing.
    super::output::check_output(&dir.join(RESULTS), "the sweep results")?;
    super::output::check_output(&dir.join(SUMMARY), "the sweep summary")?;
    if let Some(m) = &a.metrics {
        super::output::check_output(m, "the metrics")?;
    }
    let header = SweepHeader {
        agentsim_sweep: FORMAT,
        scenario: base.spec.clone(),
        seeds,
        shard,
        nemesis: a.nemesis || a.targeted,
        targeted: a.targeted,
        budget: seed_budget(a)?,
    };
    Ok(Plan {
        base,
        header,
        dir,
        jobs,
    })
}

/// The per-seed budget flags: None when both are the defaults (the header
/// then has no `budget` key, as before budgets existed).
fn seed_budget(a: &SweepArgs) -> Result<Option<SeedBudget>, UsageError> {
    if a.seed_budget_events == 0 || a.seed_budget_mib == 0 {
        return Err(UsageError(
            "error: --seed-budget-events and --seed-budget-mib must be at least 1".into(),
        ));
    }
    let b = SeedBudget::new(a.seed_budget_events, a.seed_budget_mib);
    Ok((b != SeedBudget::default()).then_some(b))
}

/// `--shard env`: the index from the batch system, the count from
/// `--shards`, AGENTSIM_SHARDS or SLURM_ARRAY_TASK_COUNT.
fn shard_from_env(shards: Option<u64>) -> Result<Shard, UsageError> {
    let var = |name: &str| -> Result<Option<u64>, UsageError> {
        match std::env::var(name) {
            Ok(v) => v.trim().parse::<u64>().map(Some).map_err(|_| {
                UsageError(format!(
                    "error: --shard env: {name}={v:?} is not a non-negative integer"
                ))
            }),
            Err(_) => Ok(None),
        }
    };
    let index = if let Some(i) = var("AGENTSIM_SHARD_INDEX")? {
        i
    } else if let Some(i) = var("JOB_COMPLETION_INDEX")? {
        i
    } else if let Some(i) = var("SLURM_ARRAY_TASK_ID")? {
        // Arrays may start anywhere (--array=1-8): count from the first task.
        let min = var("SLURM_ARRAY_TASK_MIN")?.unwrap_or(0);
        i.checked_sub(min).ok_or_else(|| {
            UsageError(format!(
                "error: --shard env: SLURM_ARRAY_TASK_ID={i} is below SLURM_ARRAY_TASK_MIN={min}"
            ))
        })?
    } else {
        return Err(UsageError(
            "error: --shard env: no shard index in the environment: set AGENTSIM_SHARD_INDEX, or run as a Kubernetes Indexed Job (JOB_COMPLETION_INDEX) or a Slurm job array (SLURM_ARRAY_TASK_ID); see docs/sweeps-at-scale.md".into(),
        ));
    };
    let count = match shards {
        Some(n) => n,
        None => var("AGENTSIM_SHARDS")?
            .or(var("SLURM_ARRAY_TASK_COUNT")?)
            .ok_or_else(|| {
                UsageError(
                    "error: --shard env: the number of shards is unknown: pass --shards N (or set AGENTSIM_SHARDS; Slurm sets SLURM_ARRAY_TASK_COUNT)".into(),
                )
            })?,
    };
    Shard::new(index, count).map_err(|e| UsageError(format!("error: --shard env: {e}")))
}

/// A seed whose run panicked: recorded as a failure with check `panic`.
fn panicked(base: &Scenario, seed: u64, swarm: sweep::swarm::Mode, message: String) -> SeedRun {
    let (scenario, draw) = sweep::seed_scenario(base, seed, swarm);
    let failure = CheckFailure {
        check: sweep::PANIC_FAILURE.into(),
        message,
    };
    let mut other = Map::new();
    if let Some(d) = &draw {
        other.insert("swarm".into(), json!(d));
    }
    let report = Report {
        seed,
        scenario: scenario.spec,
        trace_hash: "unknown: the run panicked".into(),
        events: 0,
        sim_time_ms: 0.0,
        wall_ms: 0.0,
        events_per_s: 0.0,
        network: None,
        faults: Vec::new(),
        fault_log: None,
        checks: Checks {
            ok: false,
            ran: vec![sweep::PANIC_FAILURE.into()],
            failures: vec![failure.clone()],
            not_judged: Vec::new(),
        },
        raft: None,
        collab: None,
        heartbeat: None,
        other,
    };
    SeedRun {
        result: SeedResult {
            seed,
            trace_hash: report.trace_hash.clone(),
            events: 0,
            sim_time_ms: 0.0,
            failures: vec![failure],
            not_judged: Vec::new(),
            swarm: draw,
            stats: SeedStats::default(),
            wall_us: 0,
        },
        failure_report: Some(report),
    }
}

fn panic_message(p: Box<dyn std::any::Any + Send>) -> String {
    p.downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| p.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "panic with a non-text payload".into())
}

/// Appends result lines and failure files, fsyncing in small batches.
struct Sink<'a> {
    dir: &'a Path,
    file: File,
    unsynced: usize,
    last_sync: Instant,
}

impl Sink<'_> {
    fn record(&mut self, run: &SeedRun) -> std::io::Result<()> {
        if let Some(report) = &run.failure_report {
            // The failure file first: a result line always has its file.
            let mut text = serde_json::to_string_pretty(report).expect("report serializes");
            text.push('\n');
            write_atomic(
                &self.dir.join(failure_file(run.result.seed)),
                text.as_bytes(),
            )?;
        }
        let mut line = serde_json::to_string(&run.result).expect("result serializes");
        line.push('\n');
        // One write per line: once it returns, a killed process keeps it.
        self.file.write_all(line.as_bytes())?;
        self.unsynced += 1;
        if self.unsynced >= SYNC_EVERY_LINES || self.last_sync.elapsed() >= SYNC_EVERY {
            self.sync()?;
        }
        Ok(())
    }

    // Wall time only paces fsyncs; it never reaches a result.
    #[allow(clippy::disallowed_methods)]
    fn sync(&mut self) -> std::io::Result<()> {
        if self.unsynced > 0 {
            self.file.sync_data()?;
            self.unsynced = 0;
        }
        self.last_sync = Instant::now();
        Ok(())
    }
}

fn progress(total: u64, done: u64) -> ProgressBar {
    if !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let pb = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
    pb.set_style(
        ProgressStyle::with_template(
            "{elapsed_precise} [{bar:40}] {pos}/{len} seeds, {per_sec}, eta {eta} {msg}",
        )
        .expect("valid template")
        .progress_chars("=> "),
    );
    pb.set_position(done);
    pb
}

// Wall time is measured at this CLI edge, and only reported (`timing`).
#[allow(clippy::disallowed_methods)]
pub fn sweep(a: SweepArgs) -> Result<u8, UsageError> {
    let p = plan(&a)?;
    if a.guided {
        return super::guided::sweep(&a, &p);
    }
    let own = p.header.own_seeds();
    let (file, mut agg, done) = open_results(&p, a.resume, own)?;
    let resumed = agg.seeds();
    // Pending seeds stay a lazy range filtered by the done set: a huge
    // range costs nothing until its seeds run.
    let done = &done;

    let started = Instant::now();
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(p.jobs)
        .thread_name(|i| format!("sweep-{i}"))
        .build()
        .map_err(|e| {
            UsageError(format!(
                "error: cannot start {} worker threads: {e}",
                p.jobs
            ))
        })?;
    let pb = progress(own.len(), resumed);
    let mut sink = Sink {
        dir: &p.dir,
        file,
        unsynced: 0,
        last_sync: Instant::now(),
    };
    let stop = AtomicBool::new(false);
    let mut io_error: Option<String> = None;
    // Not on a terminal (a batch job's log): a plain line every
    // LOG_EVERY instead of the progress bar.
    let log_lines = !std::io::stderr().is_terminal();
    // AGENTSIM_LOG_EVERY_S overrides the period (tests use 0).
    let log_every = std::env::var("AGENTSIM_LOG_EVERY_S")
        .ok()
        .and_then(|v| v.parse::<u64>().ok())
        .map_or(LOG_EVERY, Duration::from_secs);
    let mut last_log = Instant::now();
    let (tx, rx) = std::sync::mpsc::sync_channel::<SeedRun>(p.jobs * 4);
    let (base, swarm) = (&p.base, p.header.mode());
    let budget = p.header.budget.unwrap_or_default();
    std::thread::scope(|scope| {
        let stop = &stop;
        scope.spawn(move || {
            pool.install(|| {
                (own.start..own.end)
                    .into_par_iter()
                    .filter(|&s| !done.contains(s))
                    .for_each_with(tx, |tx, seed| {
                        if stop.load(Ordering::Relaxed) {
                            return;
                        }
                        let t0 = Instant::now();
                        let run = catch_unwind(AssertUnwindSafe(|| {
                            sweep::run_seed_within(base, seed, swarm, budget)
                        }));
                        let wall_us = t0.elapsed().as_micros() as u64;
                        let mut run =
                            run.unwrap_or_else(|p| panicked(base, seed, swarm, panic_message(p)));
                        run.result.wall_us = wall_us;
                        let _ = tx.send(run);
                    })
            })
        });
        for run in rx {
            if io_error.is_some() {
                continue;
            }
            if let Err(e) = sink.record(&run) {
                io_error = Some(format!(
                    "error: {}: writing results failed: {e}",
                    crate::escape::path(&p.dir)
                ));
                stop.store(true, Ordering::Relaxed);
                continue;
            }
            agg.add(&run.result);
            if let Some(f) = run.result.failures.first() {
                pb.println(crate::escape::printable_text(&format!(
                    "seed {} failed: {}: {}\n  {}",
                    run.result.seed,
                    f.check,
                    f.message,
                    crate::escape::printable(&replay_command(&p.dir, run.result.seed))
                )));
                pb.set_message(format!("{} failed", agg.failed().len()));
            }
            pb.inc(1);
            if log_lines && last_log.elapsed() >= log_every {
                last_log = Instant::now();
                errln!(
                    "sweep: {}/{} seeds done, {} failed, {:.0} s",
                    agg.seeds(),
                    own.len(),
                    agg.failed().len(),
                    started.elapsed().as_secs_f64()
                );
            }
        }
    });
    pb.finish_and_clear();
    if let Some(e) = io_error {
        return Err(UsageError(e));
    }
    sink.sync().map_err(|e| {
        UsageError(format!(
            "error: {}: sync failed: {e}",
            crate::escape::path(&p.dir)
        ))
    })?;
    assert_eq!(agg.seeds(), own.len(), "every seed of the shard ran");

    let wall = started.elapsed().as_secs_f64();
    let ran_now = agg.seeds() - resumed;
    let timing = SweepTiming {
        note: sweep::summary::TIMING_NOTE.into(),
        jobs: Some(p.jobs as u64),
        wall_ms: Some(wall * 1000.0),
        seeds_this_invocation: Some(ran_now),
        seeds_resumed: Some(resumed),
        seeds_per_s: Some(if wall > 0.0 {
            ran_now as f64 / wall
        } else {
            0.0
        }),
        merged_from: None,
        seed_wall_ms_total: agg.wall_us() as f64 / 1000.0,
        events_per_core_s: if agg.wall_us() > 0 {
            agg.events() as f64 * 1e6 / agg.wall_us() as f64
        } else {
            0.0
        },
    };
    let summary = summary(&p.header, &agg, &p.dir, timing);
    write_summary(&p.dir, &summary)?;
    if let Some(path) = &a.metrics {
        let (client, commit, downtime) = (
            agg.client_latency().to_sparse(),
            agg.commit_latency().to_sparse(),
            agg.downtime().to_sparse(),
        );
        let text = crate::metrics::openmetrics::encode_sweep(
            &summary.scenario.name,
            summary.seeds_run,
            &summary.stats,
            &[
                (
                    "agentsim_client_latency_seconds",
                    crate::metrics::openmetrics::CLIENT_LATENCY_HELP,
                    &client,
                ),
                (
                    "agentsim_commit_latency_seconds",
                    crate::metrics::openmetrics::COMMIT_LATENCY_HELP,
                    &commit,
                ),
                (
                    "agentsim_leader_loss_downtime_seconds",
                    crate::metrics::openmetrics::DOWNTIME_HELP,
                    &downtime,
                ),
            ],
        );
        write_atomic(path, text.as_bytes())
            .map_err(|e| UsageError(format!("error: {}: {e}", crate::escape::path(path))))?;
    }
    print_summary(&p, &summary, resumed, wall);
    Ok(u8::from(!agg.failed().is_empty()))
}

/// A number as `sweep.json` spells it (`1.0`, not `1`; `null` for a
/// non-finite float): the printed summary quotes the file's figures.
pub(super) fn js<T: serde::Serialize>(x: &T) -> String {
    serde_json::to_string(x).expect("numbers serialize")
}

/// The summary's collaboration line, from `sweep.json`'s `stats` (None
/// when the sweep has no workflow numbers).
pub fn collab_line(st: &SweepStats) -> Option<String> {
    st.collab.as_ref().map(collab_stats_line)
}

fn collab_stats_line(c: &CollabStats) -> String {
    let w = &c.workflows;
    let l = &c.workflow_latency_ms;
    let p99 = &c.workflow_p99_ms_per_seed;
    let worst = w.completed_fraction_per_seed.min;
    let mut line = format!(
        "{}/{} workflows completed ({:.1}%, worst seed {} at {:.1}%); workflow p50 {} ms, p99 {} ms, max {} ms",
        w.completed,
        w.scheduled,
        w.completed_fraction * 100.0,
        js(&worst.and_then(|m| m.seed)),
        worst.map_or(0.0, |m| m.value) * 100.0,
        js(&l.p50),
        js(&l.p99),
        js(&l.max),
    );
    if let Some(max) = p99.max {
        line.push_str(&format!(
            " (per-seed p99: p50 {} ms, max {} ms in seed {})",
            js(&p99.p50),
            max.value,
            js(&max.seed)
        ));
    }
    line.push_str(&format!(
        "\n              tokens spent {} (committed {}); {} dead letters, {} breaker trips, {} duplicate executions, {} conflicts, {} failovers",
        c.tokens.spent.total,
        c.tokens.committed.total,
        c.dead_letters.total,
        c.breaker_trips.total,
        c.duplicate_executions.total,
        c.conflicting_results.total,
        c.failovers.total,
    ));
    line
}

fn print_summary(p: &Plan, s: &SweepSummary, resumed: u64, wall: f64) {
    let h = &p.header;
    let mut what = format!("seeds {}", h.seeds);
    if let Some(sh) = h.shard {
        what.push_str(&format!(", shard {sh} (seeds {})", h.own_seeds()));
    }
    if h.targeted {
        what.push_str(", targeted");
    } else if h.nemesis {
        what.push_str(", swarm nemesis");
    }
    if let Some(b) = &h.scenario.bug {
        what.push_str(&format!(", bug {b}"));
    }
    outln!("agentsim sweep: {} ({what})", h.scenario.name);
    let st = &s.stats;
    outln!(
        "  seeds       {} run ({resumed} from an earlier run), {} failed",
        s.seeds_run,
        s.seeds_failed
    );
    outln!(
        "  wall        {:.1} s with {} jobs ({:.1} seeds/s, {:.2} M events/s per core)",
        wall,
        p.jobs,
        s.timing.seeds_per_s.unwrap_or(0.0),
        s.timing.events_per_core_s / 1e6
    );
    if st.client_latency_ms.count > 0 {
        outln!(
            "  latency     client p50 {} ms, p99 {} ms; commit p50 {} ms, p99 {} ms",
            js(&st.client_latency_ms.p50),
            js(&st.client_latency_ms.p99),
            js(&st.commit_latency_ms.p50),
            js(&st.commit_latency_ms.p99)
        );
    }
    if let Some(line) = collab_line(st) {
        outln!("  collab      {line}");
    }
    if let Some(mean) = st.availability.mean {
        let min = st.availability.min;
        outln!(
            "  availability mean {:.4}, min {} (seed {})",
            mean,
            js(&min.map(|m| m.value)),
            js(&min.and_then(|m| m.seed))
        );
    }
    if !st.not_judged_by_check.is_empty() {
        let parts: Vec<String> = st
            .not_judged_by_check
            .iter()
            .map(|(k, v)| format!("{k} in {v} seeds"))
            .collect();
        outln!("  not judged  {}", parts.join(", "));
    }
    for f in s.failures.iter().take(PRINT_FAILURES) {
        outln!("  FAILED      seed {}: {}: {}", f.seed, f.kind, f.message);
        outln!("              {}", f.replay);
    }
    if s.failures.len() > PRINT_FAILURES {
        outln!(
            "  ...         {} more failing seeds in sweep.json",
            s.failures.len() - PRINT_FAILURES
        );
    }
    outln!("  summary     {}", crate::escape::path(p.dir.join(SUMMARY)));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sweep::stats::{AtSeed, CounterStats, Distribution};

    /// The printed summary quotes `sweep.json`'s numbers as the file
    /// spells them: an integral float keeps its `.0` (Rust's `{}` would
    /// drop it) and an unknown seed is `null`.
    #[test]
    fn numbers_print_as_the_file_spells_them() {
        assert_eq!(js(&3.0f64), "3.0");
        assert_ne!(js(&3.0f64), format!("{}", 3.0f64));
        assert_eq!(js(&f64::NAN), "null");
        assert_eq!(js(&None::<u64>), "null");
        assert_eq!(js(&Some(7u64)), "7");
    }

    /// The collaboration line reads `stats.collab` by field: none for a
    /// sweep without workflows; with no per-seed p99 the clause is left
    /// out and the worst seed is `null`; with one, its largest value and
    /// seed are quoted.
    #[test]
    fn collab_line_reads_the_typed_stats() {
        let mut st = SweepStats::default();
        assert_eq!(collab_line(&st), None);
        let mut c = CollabStats::default();
        c.workflows.completed = 3;
        c.workflows.scheduled = 4;
        c.workflows.completed_fraction = 0.75;
        c.workflow_latency_ms.p50 = 2.0;
        c.tokens.spent = CounterStats {
            total: 90,
            ..CounterStats::default()
        };
        c.dead_letters.total = 5;
        st.collab = Some(c.clone());
        let line = collab_line(&st).expect("a workflow sweep has a line");
        assert!(
            line.starts_with("3/4 workflows completed (75.0%, worst seed null at 0.0%); workflow p50 2.0 ms, p99 0.0 ms, max 0.0 ms\n"),
            "{line}"
        );
        assert!(line.contains("tokens spent 90 (committed 0); 5 dead letters"));
        assert!(!line.contains("per-seed p99"));

        c.workflow_p99_ms_per_seed = Distribution::of(&[(4, 12.5), (9, 30.0)]);
        c.workflows.completed_fraction_per_seed = Distribution::of(&[(4, 0.5), (9, 1.0)]);
        st.collab = Some(c);
        let line = collab_line(&st).unwrap();
        assert!(line.contains("worst seed 4 at 50.0%"), "{line}");
        assert!(
            line.contains("(per-seed p99: p50 12.5 ms, max 30 ms in seed 9)"),
            "{line}"
        );
        assert_eq!(
            st.collab.unwrap().workflow_p99_ms_per_seed.max,
            Some(AtSeed {
                seed: Some(9),
                value: 30.0
            })
        );
    }
}
