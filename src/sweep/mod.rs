//! Seed sweeps: run one scenario over a range of seeds and fold the
//! results into one summary.
//!
//! This module is the pure part: which seeds a shard owns, what one seed's
//! run yields ([`SeedResult`], one line of `results.jsonl`), and how results
//! aggregate ([`Aggregate`]). Files, threads and the progress bar live in
//! `cli/sweep.rs`.
//!
//! Determinism across `--jobs` and shards comes from the aggregation: every
//! statistic is either an integer sum, a max or a histogram (all
//! commutative), or is computed at the end from per-seed values sorted by
//! seed. So the order in which seeds finish never shows in `sweep.json`.

mod collab;
pub mod coverage;
pub mod guided;
pub mod stats;
pub mod summary;
pub mod swarm;

use crate::metrics::collab::CollabRunData;
use crate::metrics::hist::LatencyHist;
use crate::metrics::report::CheckFailure;
use crate::metrics::Report;
use crate::runner::{self, RunOptions};
use crate::scenario::{Scenario, ScenarioSpec};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::fmt;
use swarm::SwarmDraw;

use collab::CollabAggregate;
pub use collab::CollabSeedStats;
pub use stats::SweepStats;
use stats::{
    AtSeed, AvailabilityStats, ClientOpsStats, DowntimeStats, ElectionStats, MaxTermStats,
    MessageStats,
};
pub use summary::{FailureEntry, ShardInfo, SweepSummary, SweepTiming};

/// Version of the `results.jsonl` / `sweep.json` format.
pub const FORMAT: u32 = 1;

/// Most seeds in one sweep (keeps the per-seed bookkeeping bounded).
pub const MAX_SEEDS: u64 = 1 << 32;

/// The failure kind (`check` of the first failure in `results.jsonl`) of
/// a seed that exceeded its [`SeedBudget`].
pub const BUDGET_FAILURE: &str = "budget";

/// The failure kind (and the only check `ran`) of a seed whose run
/// panicked: the sweep records it and goes on.
pub const PANIC_FAILURE: &str = "panic";

/// Default [`SeedBudget::events`]: 200 M events, minutes of CPU, far above
/// any shipped sweep scenario (their seeds dispatch well under 10 M).
pub const DEFAULT_SEED_BUDGET_EVENTS: u64 = 200_000_000;

/// Bytes per queued event in the memory estimate of [`SeedBudget`]: a
/// fixed figure (not `size_of`, which varies by build), so the verdict is
/// the same on every machine.
pub const PENDING_EVENT_BYTES: u64 = 256;

/// Default memory estimate of one seed, MiB (see [`SeedBudget`]).
pub const DEFAULT_SEED_BUDGET_MIB: u64 = 1024;

/// What one seed of a sweep may spend, in deterministic units (never wall
/// time, so a verdict does not depend on the machine or its load). A seed
/// that exceeds it stops there and is recorded as a [`BUDGET_FAILURE`],
/// so `--resume` skips it instead of running into the same out-of-memory
/// abort again.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeedBudget {
    /// Most events the seed may dispatch (the scenario's own event cap
    /// still applies when it is lower; hitting that is
    /// `liveness.event_storm`, not a budget failure).
    pub events: u64,
    /// Most events queued at once: the memory estimate. A storm grows the
    /// event queue (messages in flight, timers); everything else a run
    /// keeps is bounded (the fault log, the streaming checkers) or not kept
    /// in a sweep (the client history, the trace). Set from MiB at
    /// [`PENDING_EVENT_BYTES`] per event.
    pub pending_events: u64,
}

impl Default for SeedBudget {
    fn default() -> Self {
        SeedBudget::new(DEFAULT_SEED_BUDGET_EVENTS, DEFAULT_SEED_BUDGET_MIB)
    }
}

impl SeedBudget {
    /// A budget of `events` events and a memory estimate of `mib` MiB.
    pub fn new(events: u64, mib: u64) -> Self {
        SeedBudget {
            events,
            pending_events: mib.saturating_mul(1 << 20) / PENDING_EVENT_BYTES,
        }
    }

    /// Why a finished run exceeded this budget, if it did (`cap`: the
    /// scenario's own event cap).
    pub fn exceeded<P: crate::process::Process>(
        &self,
        world: &crate::sim::World<P>,
        cap: u64,
    ) -> Option<String> {
        if world.pending_cap_hit() {
            return Some(format!(
                "the seed exceeded its memory budget: {} events queued at once at {} (budget {} events, {} MiB at {PENDING_EVENT_BYTES} B each; --seed-budget-mib); stopped",
                world.pending_events(),
                world.now(),
                self.pending_events,
                (self.pending_events * PENDING_EVENT_BYTES) >> 20
            ));
        }
        (world.event_cap_hit() && self.events < cap).then(|| {
            format!(
                "the seed exceeded its budget of {} events at {} (of {} simulated; --seed-budget-events); stopped",
                self.events,
                world.now(),
                world.config().duration
            )
        })
    }
}

/// A half-open seed range `start..end`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeedRange {
    /// First seed.
    pub start: u64,
    /// One past the last seed.
    pub end: u64,
}

impl SeedRange {
    /// Parse `A..B` (half-open, `A < B`).
    pub fn parse(s: &str) -> Result<SeedRange, String> {
        let (a, b) = s.split_once("..").ok_or_else(|| {
            format!("--seeds {s:?}: expected a half-open range A..B, like 0..1000")
        })?;
        let num = |x: &str| {
            x.trim().parse::<u64>().map_err(|_| {
                format!("--seeds {s:?}: {x:?} is not a seed (an integer ≥ 0); expected A..B")
            })
        };
        let (start, end) = (num(a)?, num(b)?);
        if start >= end {
            return Err(format!(
                "--seeds {s:?}: the range is empty (A..B runs A up to B-1, so B must be greater than A)"
            ));
        }
        if end - start > MAX_SEEDS {
            return Err(format!(
                "--seeds {s:?}: more than {MAX_SEEDS} seeds; split it into several sweeps"
            ));
        }
        Ok(SeedRange { start, end })
    }

    /// Number of seeds.
    pub fn len(&self) -> u64 {
        self.end - self.start
    }

    /// True if the range holds no seed.
    pub fn is_empty(&self) -> bool {
        self.end <= self.start
    }

    /// True if `seed` is in the range.
    pub fn contains(&self, seed: u64) -> bool {
        (self.start..self.end).contains(&seed)
    }

    /// The contiguous part of the range that `shard` owns: shard `i` of `n`
    /// gets `start + len*i/n .. start + len*(i+1)/n`, so shards differ in
    /// size by at most one seed and together cover the range exactly once.
    pub fn shard(&self, shard: Shard) -> SeedRange {
        let len = u128::from(self.len());
        let at = |i: u32| self.start + (len * u128::from(i) / u128::from(shard.count)) as u64;
        SeedRange {
            start: at(shard.index),
            end: at(shard.index + 1),
        }
    }
}

impl fmt::Display for SeedRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}..{}", self.start, self.end)
    }
}

/// Shard `index` of `count` (0-based).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Shard {
    /// 0-based shard index, `< count`.
    pub index: u32,
    /// Number of shards, ≥ 1.
    pub count: u32,
}

impl Shard {
    /// A shard, checked: `count ≥ 1` and `index < count`.
    pub fn new(index: u64, count: u64) -> Result<Shard, String> {
        if count == 0 {
            return Err("the number of shards must be at least 1".into());
        }
        if index >= count {
            return Err(format!(
                "shard index {index} is out of range: shards are numbered 0..{count} (0-based), so the index must be below {count}"
            ));
        }
        let count = u32::try_from(count).map_err(|_| format!("{count} shards is too many"))?;
        Ok(Shard {
            index: index as u32,
            count,
        })
    }

    /// Parse `I/N`.
    pub fn parse(s: &str) -> Result<Shard, String> {
        let (i, n) = s.split_once('/').ok_or_else(|| {
            format!("--shard {s:?}: expected I/N (0-based index I of N shards, like 0/4) or `env`")
        })?;
        let num = |x: &str| {
            x.trim()
                .parse::<u64>()
                .map_err(|_| format!("--shard {s:?}: {x:?} is not a non-negative integer"))
        };
        Shard::new(num(i)?, num(n)?).map_err(|e| format!("--shard {s:?}: {e}"))
    }
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

/// What identifies a sweep: two result files can be combined (resumed,
/// merged) only if their headers agree (the shard apart, for merging).
/// The first line of `results.jsonl`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SweepHeader {
    /// Format version ([`FORMAT`]).
    pub agentsim_sweep: u32,
    /// The scenario with command-line overrides applied (its `seed` is
    /// replaced per run).
    pub scenario: ScenarioSpec,
    /// The whole sweep's seeds (all shards together).
    pub seeds: SeedRange,
    /// Which part this is, if sharded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shard: Option<Shard>,
    /// Swarm testing: each seed draws its own nemesis and fault rates.
    pub nemesis: bool,
    /// Targeted mode (`--targeted`): the swarm with its protocol-shaped
    /// features forced on ([`swarm::Mode::Targeted`]). Absent: false, so
    /// result files written before it existed still resume.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub targeted: bool,
    /// The per-seed budget, when not the default (absent: the default,
    /// so result files written before budgets existed still resume).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub budget: Option<SeedBudget>,
}

impl SweepHeader {
    /// How each seed's faults are drawn.
    pub fn mode(&self) -> swarm::Mode {
        if self.targeted {
            swarm::Mode::Targeted
        } else {
            self.nemesis.into()
        }
    }

    /// The seeds this header's results cover.
    pub fn own_seeds(&self) -> SeedRange {
        self.shard.map_or(self.seeds, |s| self.seeds.shard(s))
    }
}

/// Per-seed statistics: what the aggregate needs, and no more.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeedStats {
    /// Client operation latency, µs, as sparse histogram buckets.
    #[serde(with = "sparse")]
    pub client_latency_us: Vec<(u64, u64)>,
    /// Leader append → commit latency, µs, as sparse histogram buckets.
    #[serde(with = "sparse")]
    pub commit_latency_us: Vec<(u64, u64)>,
    /// Completed leader-loss intervals, µs.
    pub downtime_us: Vec<u64>,
    /// Availability (Raft workloads; see `metrics::raft`).
    pub availability: Option<f64>,
    /// Highest Raft term reached.
    pub max_term: u64,
    /// Elections won.
    pub elections: u64,
    /// Client operations `[invoked, ok, fail, info]`.
    pub client_ops: [u64; 4],
    /// Messages `[sent, delivered, dropped, duplicated]`.
    pub messages: [u64; 4],
    /// Collaboration numbers (workflow runs only; absent, not null, in
    /// Raft and KV runs, whose lines are as before the field existed, and
    /// in lines written before it existed, which still resume).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub collab: Option<CollabSeedStats>,
}

/// One seed's outcome: a line of `results.jsonl`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeedResult {
    /// The seed.
    pub seed: u64,
    /// The run's trace hash.
    pub trace_hash: String,
    /// Events dispatched.
    pub events: u64,
    /// Virtual time reached, ms.
    pub sim_time_ms: f64,
    /// Failed checks (empty: every check held).
    pub failures: Vec<CheckFailure>,
    /// Checks that could not judge this seed (a liveness window the run
    /// ended inside, faults still active at the end).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub not_judged: Vec<String>,
    /// The swarm draw (with `--nemesis`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub swarm: Option<SwarmDraw>,
    /// Statistics for the aggregate.
    pub stats: SeedStats,
    /// Wall-clock time of the run, µs: timing only, never compared.
    #[serde(default)]
    pub wall_us: u64,
}

impl SeedResult {
    /// True if every check held.
    pub fn ok(&self) -> bool {
        self.failures.is_empty()
    }
}

/// A seed's result plus, if it failed, the report to write as its failure
/// file (history and the rest of the run are dropped here).
pub struct SeedRun {
    /// The result line.
    pub result: SeedResult,
    /// The full report of a failed seed (its scenario has the seed, bug and
    /// swarm draw baked in, so `agentsim replay` reproduces it).
    pub failure_report: Option<Report>,
}

impl SeedResult {
    /// The result line of a finished run of `seed` (wall time left 0: the
    /// caller measures it), shared by the default and the guided sweep.
    pub fn of_run(
        seed: u64,
        report: &Report,
        latency: Option<&runner::LatencyHists>,
        collab: Option<&CollabRunData>,
        swarm: Option<SwarmDraw>,
    ) -> SeedResult {
        SeedResult {
            seed,
            trace_hash: report.trace_hash.clone(),
            events: report.events,
            sim_time_ms: report.sim_time_ms,
            failures: report.checks.failures.clone(),
            not_judged: report
                .checks
                .not_judged
                .iter()
                .map(|n| n.check.clone())
                .collect(),
            swarm,
            stats: seed_stats(report, latency, collab),
            wall_us: 0,
        }
    }
}

/// The scenario one seed runs: `base` with the seed and, in swarm or
/// targeted mode (`true` is the swarm, `false` none), the seed's draw
/// applied.
pub fn seed_scenario(
    base: &Scenario,
    seed: u64,
    mode: impl Into<swarm::Mode>,
) -> (Scenario, Option<SwarmDraw>) {
    let mut spec = base.spec.clone();
    spec.seed = seed;
    let draw = swarm::draw_mode(seed, &spec, mode.into());
    if let Some(d) = &draw {
        swarm::apply(&mut spec, d);
        // A draw inside the documented bounds is always valid; anything
        // else is a bug in `swarm::draw`, not in the user's input.
        let s = Scenario::from_spec(spec).unwrap_or_else(|e| {
            panic!("swarm draw {d:?} of seed {seed} gives an invalid scenario: {e}")
        });
        return (s, draw);
    }
    (Scenario { spec }, draw)
}

/// Run one seed of `base` (already validated, overrides applied) within
/// the default [`SeedBudget`].
pub fn run_seed(base: &Scenario, seed: u64, mode: impl Into<swarm::Mode>) -> SeedRun {
    run_seed_within(base, seed, mode, SeedBudget::default())
}

/// Run one seed of `base` within `budget`: a seed that exceeds it stops
/// there, and its first failure is [`BUDGET_FAILURE`].
pub fn run_seed_within(
    base: &Scenario,
    seed: u64,
    mode: impl Into<swarm::Mode>,
    budget: SeedBudget,
) -> SeedRun {
    let (scenario, draw) = seed_scenario(base, seed, mode);
    let opts = RunOptions {
        budget: Some(budget),
        // Nothing in a seed's result reads the history; keeping it would
        // grow with the run.
        history: runner::HistoryOutput::Discard,
        ..RunOptions::default()
    };
    let out = runner::run(&scenario, &opts);
    let mut report = out.report;
    let result = SeedResult::of_run(
        seed,
        &report,
        out.latency.as_ref(),
        out.collab.as_ref(),
        draw.clone(),
    );
    let failure_report = (!result.ok()).then(|| {
        if let Some(d) = &draw {
            report.other.insert("swarm".into(), json!(d));
        }
        report
    });
    SeedRun {
        result,
        failure_report,
    }
}

pub(crate) fn seed_stats(
    r: &Report,
    latency: Option<&runner::LatencyHists>,
    collab: Option<&CollabRunData>,
) -> SeedStats {
    let lead = r.leadership();
    let ops = r.raft.as_ref().map(|r| r.client_ops).unwrap_or_default();
    SeedStats {
        client_latency_us: latency.map(|l| l.client.to_sparse()).unwrap_or_default(),
        commit_latency_us: latency.map(|l| l.commit.to_sparse()).unwrap_or_default(),
        downtime_us: lead
            .map_or(&[][..], |l| &l.leader_loss_downtime_ms.samples)
            .iter()
            .map(|&ms| libm::round(ms * 1000.0) as u64)
            .collect(),
        availability: r.raft.as_ref().and_then(|r| r.availability),
        max_term: lead.map_or(0, |l| l.max_term),
        elections: lead.map_or(0, |l| l.elections.len() as u64),
        client_ops: [ops.invoked, ops.ok, ops.fail, ops.info],
        messages: r
            .network
            .as_ref()
            .map_or([0; 4], |n| [n.sent, n.delivered, n.dropped, n.duplicated]),
        collab: r
            .collab
            .as_ref()
            .zip(collab)
            .map(|(c, d)| CollabSeedStats::of_report(&c.collab, &d.workflow_latency)),
    }
}

/// A failing seed as listed in `sweep.json`.
#[derive(Clone, Debug, PartialEq)]
pub struct FailedSeed {
    /// The seed.
    pub seed: u64,
    /// Every failed check, first one first.
    pub failures: Vec<CheckFailure>,
}

/// Statistics folded over seeds. Folding is order-independent (see the
/// module docs), so any interleaving of seeds gives the same summary.
#[derive(Clone, Debug, Default)]
pub struct Aggregate {
    seeds: u64,
    failed: Vec<FailedSeed>,
    client: LatencyHist,
    commit: LatencyHist,
    downtime: LatencyHist,
    downtime_total_us: u64,
    seeds_with_downtime: u64,
    availability: Vec<(u64, f64)>,
    max_term: (u64, u64),
    terms_total: u64,
    elections_total: u64,
    elections_max: (u64, u64),
    events: u64,
    sim_time_ms: Vec<(u64, f64)>,
    client_ops: [u64; 4],
    messages: [u64; 4],
    by_kind: BTreeMap<String, u64>,
    not_judged: BTreeMap<String, u64>,
    wall_us: u64,
    collab: Option<CollabAggregate>,
}

/// `(value, seed)` keeps the larger value; on a tie the smaller seed.
fn keep_max(cur: &mut (u64, u64), value: u64, seed: u64) {
    if value > cur.0 || (value == cur.0 && seed < cur.1) {
        *cur = (value, seed);
    }
}

impl Aggregate {
    /// Merged client latency histogram (all seeds).
    pub fn client_latency(&self) -> &LatencyHist {
        &self.client
    }

    /// Merged leader-append-to-commit latency histogram (all seeds).
    pub fn commit_latency(&self) -> &LatencyHist {
        &self.commit
    }

    /// Merged workflow latency histogram (the seeds of a workflow
    /// scenario; `None` when no seed had collaboration numbers).
    pub fn workflow_latency(&self) -> Option<&LatencyHist> {
        self.collab.as_ref().map(|c| &c.latency)
    }

    /// Merged leader-loss downtime histogram (all seeds).
    pub fn downtime(&self) -> &LatencyHist {
        &self.downtime
    }

    /// Empty.
    pub fn new() -> Self {
        Aggregate {
            max_term: (0, u64::MAX),
            elections_max: (0, u64::MAX),
            ..Default::default()
        }
    }

    /// Seeds folded in.
    pub fn seeds(&self) -> u64 {
        self.seeds
    }

    /// Failed seeds so far (unordered).
    pub fn failed(&self) -> &[FailedSeed] {
        &self.failed
    }

    /// Sum of the per-seed wall times, µs (timing only).
    pub fn wall_us(&self) -> u64 {
        self.wall_us
    }

    /// Events dispatched over all seeds.
    pub fn events(&self) -> u64 {
        self.events
    }

    /// Fold in one seed.
    pub fn add(&mut self, r: &SeedResult) {
        let s = &r.stats;
        self.seeds += 1;
        if !r.ok() {
            self.failed.push(FailedSeed {
                seed: r.seed,
                failures: r.failures.clone(),
            });
            *self.by_kind.entry(r.failures[0].check.clone()).or_default() += 1;
        }
        for c in &r.not_judged {
            *self.not_judged.entry(c.clone()).or_default() += 1;
        }
        for &(v, c) in &s.client_latency_us {
            self.client.record_n_us(v, c);
        }
        for &(v, c) in &s.commit_latency_us {
            self.commit.record_n_us(v, c);
        }
        for &d in &s.downtime_us {
            self.downtime.record_us(d);
            self.downtime_total_us += d;
        }
        self.seeds_with_downtime += u64::from(!s.downtime_us.is_empty());
        if let Some(a) = s.availability {
            self.availability.push((r.seed, a));
        }
        keep_max(&mut self.max_term, s.max_term, r.seed);
        self.terms_total += s.max_term;
        self.elections_total += s.elections;
        keep_max(&mut self.elections_max, s.elections, r.seed);
        self.events += r.events;
        self.sim_time_ms.push((r.seed, r.sim_time_ms));
        for i in 0..4 {
            self.client_ops[i] += s.client_ops[i];
            self.messages[i] += s.messages[i];
        }
        self.wall_us += r.wall_us;
        if let Some(c) = &s.collab {
            self.collab
                .get_or_insert_with(Default::default)
                .add(r.seed, c);
        }
    }

    /// The failing seeds in seed order.
    pub fn failed_sorted(&self) -> Vec<FailedSeed> {
        let mut f = self.failed.clone();
        f.sort_by_key(|x| x.seed);
        f
    }

    /// The deterministic statistics (`sweep.json` → `stats`).
    pub fn stats(&self) -> SweepStats {
        let n = self.seeds.max(1) as f64;
        let mut sim = self.sim_time_ms.clone();
        sim.sort_by_key(|x| x.0);
        let [invoked, ok, fail, info] = self.client_ops;
        let [sent, delivered, dropped, duplicated] = self.messages;
        SweepStats {
            seeds: self.seeds,
            seeds_ok: self.seeds - self.failed.len() as u64,
            seeds_failed: self.failed.len() as u64,
            failures_by_kind: self.by_kind.clone(),
            not_judged_by_check: self.not_judged.clone(),
            events: self.events,
            sim_time_ms: sim.iter().map(|x| x.1).sum::<f64>(),
            client_latency_ms: self.client.summary(),
            commit_latency_ms: self.commit.summary(),
            leader_loss_downtime_ms: DowntimeStats {
                intervals: self.downtime.summary(),
                total: self.downtime_total_us as f64 / 1000.0,
                mean_per_seed: self.downtime_total_us as f64 / 1000.0 / n,
                seeds_with_downtime: self.seeds_with_downtime,
            },
            availability: AvailabilityStats::of(&self.availability),
            max_term: MaxTermStats {
                max: AtSeed::of_max(self.max_term),
                mean: self.terms_total as f64 / n,
            },
            elections: ElectionStats {
                total: self.elections_total,
                mean_per_seed: self.elections_total as f64 / n,
                max: AtSeed::of_max(self.elections_max),
            },
            client_ops: ClientOpsStats {
                invoked,
                ok,
                fail,
                info,
            },
            messages: MessageStats {
                sent,
                delivered,
                dropped,
                duplicated,
            },
            // Only workflow sweeps have the key: other sweeps' files are
            // as before it existed.
            collab: self.collab.as_ref().map(CollabAggregate::stats),
        }
    }

    /// [`Aggregate::stats`] as the JSON `sweep.json` holds.
    pub fn stats_json(&self) -> Value {
        serde_json::to_value(self.stats()).expect("stats serialize")
    }
}

/// Sparse histogram buckets as one flat JSON array of integers: each
/// bucket's value is written as the delta from the previous bucket's value
/// (always ≥ 1, values ascend); a bucket holding one sample is just `delta`,
/// one holding `c > 1` samples is `-delta, c`. Most buckets of one run hold
/// a single sample, so this is about a quarter of the size of `[[v, c], ...]`.
mod sparse {
    use serde::{de::Error, Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(pairs: &[(u64, u64)], s: S) -> Result<S::Ok, S::Error> {
        let mut flat: Vec<i64> = Vec::with_capacity(pairs.len() + pairs.len() / 4);
        let mut prev = 0;
        for &(v, c) in pairs {
            assert!(v > prev, "histogram buckets ascend from 1");
            let delta = i64::try_from(v - prev).expect("latencies fit in i64");
            if c == 1 {
                flat.push(delta);
            } else {
                flat.push(-delta);
                flat.push(i64::try_from(c).expect("counts fit in i64"));
            }
            prev = v;
        }
        s.collect_seq(flat)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<(u64, u64)>, D::Error> {
        let flat = Vec::<i64>::deserialize(d)?;
        let mut out = Vec::with_capacity(flat.len());
        let mut prev = 0u64;
        let mut it = flat.into_iter();
        while let Some(x) = it.next() {
            let (delta, count) = match x {
                0 => return Err(D::Error::custom("histogram: zero delta")),
                x if x > 0 => (x.unsigned_abs(), 1),
                x => {
                    let c = it.next().filter(|c| *c > 1).ok_or_else(|| {
                        D::Error::custom("histogram: count > 1 missing after a negative delta")
                    })?;
                    (x.unsigned_abs(), c as u64)
                }
            };
            prev = prev
                .checked_add(delta)
                .ok_or_else(|| D::Error::custom("histogram value overflows"))?;
            out.push((prev, count));
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `A..B` is half-open and must be non-empty.
    #[test]
    fn seed_ranges_parse_half_open() {
        assert_eq!(
            SeedRange::parse("0..10"),
            Ok(SeedRange { start: 0, end: 10 })
        );
        assert!(SeedRange::parse("5..2").is_err());
        assert!(SeedRange::parse("5..5").is_err());
        assert!(SeedRange::parse("5").is_err());
        assert!(SeedRange::parse("a..3").is_err());
    }

    /// Shards cover the range exactly once, in order, sizes within one.
    #[test]
    fn shards_partition_the_range() {
        let r = SeedRange { start: 3, end: 103 };
        for n in 1..=7u32 {
            let mut next = r.start;
            for i in 0..n {
                let s = r.shard(Shard { index: i, count: n });
                assert_eq!(s.start, next);
                assert!(s.len() == 100 / u64::from(n) || s.len() == 100 / u64::from(n) + 1);
                next = s.end;
            }
            assert_eq!(next, r.end);
        }
        assert!(Shard::parse("3/2").is_err());
        assert!(Shard::parse("0/0").is_err());
        assert_eq!(Shard::parse("1/2"), Ok(Shard { index: 1, count: 2 }));
    }

    /// The delta-encoded sparse histogram round-trips through JSON.
    #[test]
    fn sparse_histogram_json_round_trips() {
        let stats = SeedStats {
            client_latency_us: vec![(5, 1), (1000, 3), (600_000, 2)],
            ..Default::default()
        };
        let text = serde_json::to_string(&stats).unwrap();
        assert!(
            text.contains("\"client_latency_us\":[5,-995,3,-599000,2]"),
            "{text}"
        );
        assert_eq!(serde_json::from_str::<SeedStats>(&text).unwrap(), stats);
    }
}
