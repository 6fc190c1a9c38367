//! A workflow sweep's collaboration numbers: what one seed's run yields
//! ([`CollabSeedStats`], the `stats.collab` of its result line) and how
//! seeds fold into `sweep.json`'s `stats.collab` (`CollabAggregate`: sums,
//! maxima with their seed, merged histograms, per-seed distributions
//! sorted at the end, so neither `--jobs` nor shards change it).

use super::stats::{AtSeed, CollabStats, CounterStats, Distribution, TokenStats, WorkflowStats};
use super::{keep_max, sparse};
use crate::metrics::collab_tables::CollabTables;
use crate::metrics::hist::LatencyHist;
use serde::{Deserialize, Serialize};

/// One workflow run's collaboration numbers, read from its report's
/// `collab` section and its full workflow latency histogram.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CollabSeedStats {
    /// Workflow latency (start to first seen done, true time), µs, as
    /// sparse histogram buckets: one sample per completed workflow.
    #[serde(with = "sparse")]
    pub workflow_latency_us: Vec<(u64, u64)>,
    /// Workflows the scenario schedules.
    pub workflows_scheduled: u64,
    /// Workflows submitted to the coordinator.
    pub workflows_submitted: u64,
    /// Workflows completed.
    pub workflows_completed: u64,
    /// Tokens agents spent (every execution, duplicates and failures too).
    pub tokens_spent: u64,
    /// Tokens of the committed results.
    pub tokens_committed: u64,
    /// Tasks dead-lettered (each time).
    pub dead_letters: u64,
    /// Circuit-breaker trips.
    pub breaker_trips: u64,
    /// Executions beyond the first of a task.
    pub duplicates: u64,
    /// Tasks with conflicting committed results (AP).
    pub conflicts: u64,
    /// Coordinator activations after the first.
    pub failovers: u64,
}

impl CollabSeedStats {
    /// Completed over scheduled workflows (1 when none is scheduled).
    pub fn completed_fraction(&self) -> f64 {
        if self.workflows_scheduled == 0 {
            1.0
        } else {
            self.workflows_completed as f64 / self.workflows_scheduled as f64
        }
    }

    /// The numbers of a workflow run: `c` is the report's `collab` table,
    /// `latency` the run's workflow latency histogram.
    pub fn of_report(c: &CollabTables, latency: &LatencyHist) -> CollabSeedStats {
        let cm = c.consistency_metrics.as_ref();
        CollabSeedStats {
            workflow_latency_us: latency.to_sparse(),
            workflows_scheduled: c.workflows.scheduled,
            workflows_submitted: c.workflows.submitted,
            workflows_completed: c.workflows.completed,
            tokens_spent: c.tokens.spent,
            tokens_committed: c.tokens.committed,
            dead_letters: c.dead_letters.count,
            breaker_trips: c.breaker_trips,
            duplicates: cm.map_or(0, |m| m.duplicate_executions),
            // None only when the checkers were skipped (never in a sweep).
            conflicts: cm.and_then(|m| m.conflicting_results).unwrap_or(0),
            failovers: c.coordinator.failovers,
        }
    }
}

/// The collaboration numbers folded over the seeds that have them.
#[derive(Clone, Debug, Default)]
pub(super) struct CollabAggregate {
    seeds: u64,
    pub(super) latency: LatencyHist,
    /// `(seed, p99 µs)` of each seed with a completed workflow.
    p99_us: Vec<(u64, u64)>,
    /// `(seed, completed fraction)` of each seed.
    completed_fraction: Vec<(u64, f64)>,
    scheduled: u64,
    submitted: u64,
    completed: u64,
    tokens_spent: Counter,
    tokens_committed: Counter,
    dead_letters: Counter,
    breaker_trips: Counter,
    duplicates: Counter,
    conflicts: Counter,
    failovers: Counter,
}

/// A per-seed count summed over seeds: total (saturating), its largest
/// value with the seed (ties to the smaller seed), seeds where it is > 0.
#[derive(Clone, Copy, Debug)]
struct Counter {
    total: u64,
    max: (u64, u64),
    seeds_with: u64,
}

impl Default for Counter {
    fn default() -> Self {
        Counter {
            total: 0,
            max: (0, u64::MAX),
            seeds_with: 0,
        }
    }
}

impl Counter {
    fn add(&mut self, v: u64, seed: u64) {
        self.total = self.total.saturating_add(v);
        keep_max(&mut self.max, v, seed);
        self.seeds_with += u64::from(v > 0);
    }

    fn stats(&self, seeds: u64) -> CounterStats {
        CounterStats {
            total: self.total,
            mean_per_seed: self.total as f64 / seeds.max(1) as f64,
            max: AtSeed::of_max(self.max),
            seeds_with: self.seeds_with,
        }
    }
}

impl CollabAggregate {
    pub(super) fn add(&mut self, seed: u64, c: &CollabSeedStats) {
        self.seeds += 1;
        let h = LatencyHist::from_sparse(&c.workflow_latency_us);
        if h.count() > 0 {
            self.p99_us
                .push((seed, libm::round(h.quantile_ms(0.99) * 1000.0) as u64));
        }
        self.latency.merge(&h);
        self.completed_fraction.push((seed, c.completed_fraction()));
        self.scheduled += c.workflows_scheduled;
        self.submitted += c.workflows_submitted;
        self.completed += c.workflows_completed;
        self.tokens_spent.add(c.tokens_spent, seed);
        self.tokens_committed.add(c.tokens_committed, seed);
        self.dead_letters.add(c.dead_letters, seed);
        self.breaker_trips.add(c.breaker_trips, seed);
        self.duplicates.add(c.duplicates, seed);
        self.conflicts.add(c.conflicts, seed);
        self.failovers.add(c.failovers, seed);
    }

    /// `sweep.json` → `stats.collab`.
    pub(super) fn stats(&self) -> CollabStats {
        let p99_ms: Vec<(u64, f64)> = self
            .p99_us
            .iter()
            .map(|&(s, us)| (s, us as f64 / 1000.0))
            .collect();
        CollabStats {
            seeds: self.seeds,
            workflows: WorkflowStats {
                scheduled: self.scheduled,
                submitted: self.submitted,
                completed: self.completed,
                completed_fraction: if self.scheduled > 0 {
                    self.completed as f64 / self.scheduled as f64
                } else {
                    1.0
                },
                completed_fraction_per_seed: Distribution::of(&self.completed_fraction),
            },
            workflow_latency_ms: self.latency.summary(),
            workflow_p99_ms_per_seed: Distribution::of(&p99_ms),
            tokens: TokenStats {
                spent: self.tokens_spent.stats(self.seeds),
                committed: self.tokens_committed.stats(self.seeds),
            },
            dead_letters: self.dead_letters.stats(self.seeds),
            breaker_trips: self.breaker_trips.stats(self.seeds),
            duplicate_executions: self.duplicates.stats(self.seeds),
            conflicting_results: self.conflicts.stats(self.seeds),
            failovers: self.failovers.stats(self.seeds),
        }
    }
}
