//! `agentsim sweep --guided`: the files and threads around the guided
//! loop of `sweep::guided` (docs/guided.md).
//!
//! Output folder (no `results.jsonl`: a guided sweep is one unit, neither
//! sharded nor resumed):
//! - `failures/run-N.json`: the report of failing run N (`agentsim replay`
//!   and `agentsim shrink` take it), and `failures/run-N.scenario.json`,
//!   the scenario exactly as it ran (`agentsim run F --seed S`);
//! - `corpus/run-N.json`: every kept run as a concrete scenario;
//! - `sweep.json`: the summary with the `guided` section (coverage per
//!   generation, and the baseline's with `--baseline`).

use super::output::write_atomic;
use super::sweep::{clear_outputs, js, shell_quote, write_summary, Plan, SweepArgs, FAILURES};
use super::UsageError;
use crate::metrics::report::CheckFailure;
use crate::scenario::{ProcessKind, ScenarioSpec};
use crate::sweep::coverage::Coverage;
use crate::sweep::guided::{self, Candidate, Growth, Guided, GuidedRun, Origin, GENERATION};
use crate::sweep::{seed_scenario, Aggregate, SeedBudget, SeedResult, SeedStats, SweepStats};
use rayon::prelude::*;
use serde::Serialize;
use std::fs;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::Path;
use std::time::Instant;

/// Folder of the kept runs.
pub const CORPUS: &str = "corpus";

/// Failing runs printed (all are in sweep.json).
const PRINT_FAILURES: usize = 10;

/// Flags a guided sweep does not take: exit 2 naming the flag.
pub fn check_flags(a: &SweepArgs) -> Result<(), UsageError> {
    if !a.guided {
        if a.baseline {
            return Err(UsageError(
                "error: --baseline goes with --guided (it runs a default sweep beside the guided one to compare coverage)".into(),
            ));
        }
        return Ok(());
    }
    let why_not = [
        (a.shard.is_some(), "--shard", "each guided run depends on the coverage of every earlier one, so the runs cannot be split into shards; run the sweep whole (it is deterministic given --seeds)"),
        (a.shards.is_some(), "--shards", "a guided sweep is not sharded"),
        (a.resume, "--resume", "a guided sweep keeps its corpus in memory and cannot continue an interrupted run; start it again (it is deterministic given --seeds)"),
        (a.metrics.is_some(), "--metrics", "a guided sweep writes no OpenMetrics file; its coverage is in sweep.json"),
    ];
    for (set, flag, why) in why_not {
        if set {
            return Err(UsageError(format!(
                "error: --guided cannot be combined with {flag}: {why}"
            )));
        }
    }
    Ok(())
}

/// Run a guided sweep (flags checked, plan made).
// Wall time is measured at this CLI edge, and only reported (`timing`).
#[allow(clippy::disallowed_methods)]
pub fn sweep(a: &SweepArgs, p: &Plan) -> Result<u8, UsageError> {
    let spec = &p.base.spec;
    if spec.cluster.process != ProcessKind::Raft || spec.workflow.is_some() {
        return Err(UsageError(format!(
            "error: --guided: {}: coverage reads Raft servers, so a guided sweep needs a Raft key-value scenario (cluster.process \"raft\", no workflow)",
            a.scenario.display()
        )));
    }
    clear_outputs(&p.dir)?;
    clear_guided_outputs(&p.dir)?;
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(p.jobs)
        .thread_name(|i| format!("guided-{i}"))
        .build()
        .map_err(|e| {
            UsageError(format!(
                "error: cannot start {} worker threads: {e}",
                p.jobs
            ))
        })?;
    let started = Instant::now();
    let seeds = p.header.seeds;
    let swarm = p.header.nemesis;
    // The same per-seed budget as a default sweep's seeds.
    let budget = Some(p.header.budget.unwrap_or_default());
    let mut g = Guided::new(p.base.clone(), seeds.start, seeds.len(), swarm);
    let mut agg = Aggregate::new();
    let mut failures: Vec<GuidedFailure> = Vec::new();
    loop {
        let cands = g.next_generation();
        if cands.is_empty() {
            break;
        }
        let runs: Vec<GuidedRun> =
            pool.install(|| cands.par_iter().map(|c| run_guarded(c, budget)).collect());
        for r in &runs {
            agg.add(&r.result);
            if !r.result.ok() {
                failures.push(write_failure(&p.dir, r)?);
                let f = &r.result.failures[0];
                eprintln!(
                    "run {} (seed {}) failed: {}: {}\n  agentsim replay {}",
                    r.index,
                    r.result.seed,
                    f.check,
                    f.message,
                    shell_quote(&p.dir.join(failure_file(r.index)).display().to_string())
                );
            }
        }
        g.absorb(&runs);
    }
    let guided_wall = started.elapsed().as_secs_f64();
    write_corpus(&p.dir, &g)?;
    let baseline = if a.baseline {
        let t0 = Instant::now();
        let b = baseline(p, &pool);
        Some((b, t0.elapsed().as_secs_f64()))
    } else {
        None
    };

    let summary = GuidedSummary {
        agentsim_sweep: p.header.agentsim_sweep,
        mode: "guided",
        scenario: p.header.scenario.clone(),
        seeds: seeds.to_string(),
        nemesis: swarm,
        bug: p.header.scenario.bug.clone(),
        seeds_run: agg.seeds(),
        seeds_failed: failures.len() as u64,
        failures,
        guided: guided_section(&g, baseline.as_ref().map(|b| &b.0)),
        stats: agg.stats(),
        timing: GuidedTiming {
            note: crate::sweep::summary::TIMING_NOTE,
            jobs: p.jobs as u64,
            guided_wall_ms: guided_wall * 1000.0,
            baseline_wall_ms: baseline.as_ref().map(|b| b.1 * 1000.0),
        },
    };
    write_summary(&p.dir, &summary)?;
    print_summary(p, &summary, guided_wall);
    Ok(u8::from(g.failed > 0))
}

/// A run that panicked is a failure with check `panic`; its scenario file
/// is still written.
fn run_guarded(c: &Candidate, budget: Option<SeedBudget>) -> GuidedRun {
    catch_unwind(AssertUnwindSafe(|| guided::run_candidate(c, budget))).unwrap_or_else(|p| {
        let message = p
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| p.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "panic with a non-text payload".into());
        GuidedRun {
            index: c.index,
            origin: c.origin.clone(),
            result: SeedResult {
                seed: c.scenario.spec.seed,
                trace_hash: "unknown: the run panicked".into(),
                events: 0,
                sim_time_ms: 0.0,
                failures: vec![CheckFailure {
                    check: crate::sweep::PANIC_FAILURE.into(),
                    message,
                }],
                not_judged: Vec::new(),
                swarm: c.swarm.clone(),
                stats: SeedStats::default(),
                wall_us: 0,
            },
            coverage: Coverage::default(),
            concrete: c.scenario.spec.clone(),
            ran: c.scenario.spec.clone(),
            failure_report: None,
        }
    })
}

/// A failing run's report file, relative to the output folder.
pub fn failure_file(index: u64) -> String {
    format!("{FAILURES}/run-{index}.json")
}

/// A failing run's scenario file, relative to the output folder.
pub fn scenario_file(index: u64) -> String {
    format!("{FAILURES}/run-{index}.scenario.json")
}

fn pretty(v: &impl serde::Serialize) -> String {
    let mut text = serde_json::to_string_pretty(v).expect("serializes");
    text.push('\n');
    text
}

/// Write a failing run's report and scenario; its entry in sweep.json.
fn write_failure(dir: &Path, r: &GuidedRun) -> Result<GuidedFailure, UsageError> {
    let io = |path: &Path, e: std::io::Error| {
        UsageError(format!("error: {}: cannot write: {e}", path.display()))
    };
    let scen = dir.join(scenario_file(r.index));
    write_atomic(&scen, pretty(&r.ran).as_bytes()).map_err(|e| io(&scen, e))?;
    let report = r
        .failure_report
        .as_ref()
        .map(|_| dir.join(failure_file(r.index)));
    if let (Some(path), Some(rep)) = (&report, &r.failure_report) {
        write_atomic(path, pretty(rep).as_bytes()).map_err(|e| io(path, e))?;
    }
    let q = |p: &Path| shell_quote(&p.display().to_string());
    let f = &r.result.failures[0];
    Ok(GuidedFailure {
        run: r.index,
        seed: r.result.seed,
        origin: r.origin.clone(),
        kind: f.check.clone(),
        message: f.message.clone(),
        checks: r.result.failures.iter().map(|c| c.check.clone()).collect(),
        file: report.as_ref().map(|_| failure_file(r.index)),
        scenario_file: scenario_file(r.index),
        replay: report.as_ref().map(|p| format!("agentsim replay {}", q(p))),
        run_command: format!("agentsim run {} --seed {}", q(&scen), r.result.seed),
    })
}

/// Write every kept run's concrete scenario into `corpus/`.
fn write_corpus(dir: &Path, g: &Guided) -> Result<(), UsageError> {
    for e in &g.corpus {
        let path = dir.join(CORPUS).join(format!("run-{}.json", e.run));
        write_atomic(&path, pretty(&e.spec).as_bytes())
            .map_err(|err| UsageError(format!("error: {}: cannot write: {err}", path.display())))?;
    }
    Ok(())
}

/// Remove what an earlier guided sweep left (only files it writes).
fn clear_guided_outputs(dir: &Path) -> Result<(), UsageError> {
    for (sub, prefix) in [(FAILURES, "run-"), (CORPUS, "run-")] {
        let Ok(entries) = fs::read_dir(dir.join(sub)) else {
            continue;
        };
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if name.starts_with(prefix) && name.ends_with(".json") {
                fs::remove_file(e.path()).map_err(|err| {
                    UsageError(format!(
                        "error: {}: cannot remove: {err}",
                        e.path().display()
                    ))
                })?;
            }
        }
    }
    Ok(())
}

/// What the default sweep of the same seeds covered, by generation.
pub struct Baseline {
    total: Coverage,
    growth: Vec<Growth>,
}

/// Run the default sweep of `--seeds` (swarm as the guided fresh runs)
/// with coverage, in generations of the same size, folded in seed order.
fn baseline(p: &Plan, pool: &rayon::ThreadPool) -> Baseline {
    let seeds = p.header.seeds;
    let budget = Some(p.header.budget.unwrap_or_default());
    let swarm = p.header.nemesis;
    let mut b = Baseline {
        total: Coverage::default(),
        growth: Vec::new(),
    };
    let (mut runs, mut failed) = (0u64, 0u64);
    let mut next = seeds.start;
    while next < seeds.end {
        let end = (next + GENERATION as u64).min(seeds.end);
        let batch: Vec<(SeedResult, Coverage)> = pool.install(|| {
            (next..end)
                .into_par_iter()
                .map(|seed| {
                    let (s, draw) = seed_scenario(&p.base, seed, swarm);
                    catch_unwind(AssertUnwindSafe(|| {
                        let (r, c, _) = guided::run_with_coverage(&s, draw, budget);
                        (r, c)
                    }))
                    .unwrap_or_else(|_| {
                        let mut r = SeedResult {
                            seed,
                            trace_hash: String::new(),
                            events: 0,
                            sim_time_ms: 0.0,
                            failures: Vec::new(),
                            not_judged: Vec::new(),
                            swarm: None,
                            stats: SeedStats::default(),
                            wall_us: 0,
                        };
                        r.failures.push(CheckFailure {
                            check: crate::sweep::PANIC_FAILURE.into(),
                            message: "the run panicked".into(),
                        });
                        (r, Coverage::default())
                    })
                })
                .collect()
        });
        for (r, c) in &batch {
            runs += 1;
            failed += u64::from(!r.ok());
            b.total.merge(c);
        }
        b.growth.push(Growth {
            runs,
            states: b.total.states.len() as u64,
            pairs: b.total.pairs.len() as u64,
            failed,
        });
        next = end;
    }
    b
}

/// A guided sweep's `sweep.json`, typed: written through a `Value` (keys
/// sorted at every level, as before the types) and printed by field.
#[derive(Serialize)]
struct GuidedSummary {
    agentsim_sweep: u32,
    /// Written as `null` when no bug is switched on.
    bug: Option<String>,
    failures: Vec<GuidedFailure>,
    guided: GuidedSection,
    mode: &'static str,
    nemesis: bool,
    scenario: ScenarioSpec,
    seeds: String,
    seeds_failed: u64,
    seeds_run: u64,
    stats: SweepStats,
    timing: GuidedTiming,
}

/// One failing run of `failures`.
#[derive(Serialize)]
struct GuidedFailure {
    checks: Vec<String>,
    /// Its report (`null` when it has none).
    file: Option<String>,
    kind: String,
    message: String,
    origin: Origin,
    replay: Option<String>,
    run: u64,
    run_command: String,
    scenario_file: String,
    seed: u64,
}

/// The `guided` section: coverage per generation, and the baseline's.
#[derive(Serialize)]
struct GuidedSection {
    #[serde(skip_serializing_if = "Option::is_none")]
    baseline: Option<BaselineSection>,
    by_generation: Vec<Growth>,
    corpus: u64,
    fresh_failed: u64,
    fresh_new_states: u64,
    fresh_runs: u64,
    generation_runs: u64,
    mutant_failed: u64,
    mutant_new_states: u64,
    mutant_runs: u64,
    pairs: u64,
    states: u64,
}

/// `guided.baseline`: the default sweep of the same seeds, compared.
#[derive(Serialize)]
struct BaselineSection {
    by_generation: Vec<Growth>,
    failed: u64,
    pairs: u64,
    pairs_ratio: f64,
    runs: u64,
    states: u64,
    states_only_baseline: u64,
    states_only_guided: u64,
    states_ratio: f64,
    what: &'static str,
}

/// `timing` of a guided sweep (wall-clock).
#[derive(Serialize)]
struct GuidedTiming {
    /// `null` without `--baseline`.
    baseline_wall_ms: Option<f64>,
    guided_wall_ms: f64,
    jobs: u64,
    note: &'static str,
}

/// The `guided` section of sweep.json.
fn guided_section(g: &Guided, baseline: Option<&Baseline>) -> GuidedSection {
    let states = g.total.states.len() as u64;
    let pairs = g.total.pairs.len() as u64;
    let baseline = baseline.map(|b| {
        let (bs, bp) = (b.total.states.len() as u64, b.total.pairs.len() as u64);
        let ratio = |a: u64, b: u64| {
            if b == 0 {
                0.0
            } else {
                (a as f64 / b as f64 * 1000.0).round() / 1000.0
            }
        };
        BaselineSection {
            what: "a default sweep of the same seeds (swarm draws with --nemesis), coverage collected the same way",
            runs: b.growth.last().map_or(0, |x| x.runs),
            failed: b.growth.last().map_or(0, |x| x.failed),
            states: bs,
            pairs: bp,
            by_generation: b.growth.clone(),
            states_ratio: ratio(states, bs),
            pairs_ratio: ratio(pairs, bp),
            states_only_guided: g.total.states.difference(&b.total.states).count() as u64,
            states_only_baseline: b.total.states.difference(&g.total.states).count() as u64,
        }
    });
    GuidedSection {
        generation_runs: GENERATION as u64,
        fresh_runs: g.fresh_runs,
        mutant_runs: g.mutant_runs,
        fresh_failed: g.fresh_failed,
        mutant_failed: g.mutant_failed,
        corpus: g.corpus.len() as u64,
        fresh_new_states: g.fresh_new_states,
        mutant_new_states: g.mutant_new_states,
        states,
        pairs,
        by_generation: g.growth.clone(),
        baseline,
    }
}

fn print_summary(p: &Plan, s: &GuidedSummary, wall: f64) {
    let h = &p.header;
    let mut what = format!("seeds {}", h.seeds);
    if h.nemesis {
        what.push_str(", swarm nemesis");
    }
    if let Some(b) = &h.scenario.bug {
        what.push_str(&format!(", bug {b}"));
    }
    let g = &s.guided;
    outln!("agentsim sweep --guided: {} ({what})", h.scenario.name);
    outln!(
        "  runs        {} ({} fresh, {} mutants), {} failed ({} fresh, {} mutants)",
        s.seeds_run,
        g.fresh_runs,
        g.mutant_runs,
        s.seeds_failed,
        g.fresh_failed,
        g.mutant_failed
    );
    outln!(
        "  coverage    {} abstract states, {} (state, event) pairs; {} runs kept in {}/",
        g.states,
        g.pairs,
        g.corpus,
        CORPUS
    );
    if let Some(b) = &g.baseline {
        outln!(
            "  baseline    default sweep of the same {} seeds: {} states, {} pairs, {} failed; guided/baseline {}x states, {}x pairs",
            b.runs,
            b.states,
            b.pairs,
            b.failed,
            js(&b.states_ratio),
            js(&b.pairs_ratio)
        );
    }
    let growth = &g.by_generation;
    let step = (growth.len() / 6).max(1);
    let line: Vec<String> = growth
        .iter()
        .enumerate()
        .filter(|(i, _)| i % step == step - 1 || *i + 1 == growth.len())
        .map(|(_, x)| format!("{}: {}", x.runs, x.states))
        .collect();
    outln!("  growth      states after runs {}", line.join(", "));
    outln!(
        "  wall        {:.1} s with {} jobs (guided part)",
        wall,
        p.jobs
    );
    for f in s.failures.iter().take(PRINT_FAILURES) {
        outln!(
            "  FAILED      run {} (seed {}, {}): {}: {}",
            f.run,
            f.seed,
            f.origin.tag(),
            f.kind,
            f.message
        );
        outln!("              {}", f.run_command);
    }
    if s.failures.len() > PRINT_FAILURES {
        outln!(
            "  ...         {} more failing runs in sweep.json",
            s.failures.len() - PRINT_FAILURES
        );
    }
    outln!(
        "  summary     {}",
        p.dir.join(super::sweep::SUMMARY).display()
    );
}
