//! The deterministic statistics of a sweep (`sweep.json` → `stats`),
//! typed: built by `Aggregate::stats` from the folded seed results, read
//! by field. The file format predates the types: it was written through
//! `serde_json::Value` (keys sorted), so every struct here declares its
//! fields in key order and writes the same bytes directly or through a
//! `Value`; counts are integers, means and times floats, and a key some
//! files lack is an `Option` skipped when `None` (a distribution over no
//! seeds is `{"seeds": 0}`), while a seed that may be unknown is an
//! `Option` written as `null`.

use crate::metrics::hist::LatencySummary;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// `sweep.json` → `stats`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct SweepStats {
    /// Per-seed availability (KV seeds with a workload).
    pub availability: AvailabilityStats,
    /// Client operation latency, all seeds' histograms merged, ms.
    pub client_latency_ms: LatencySummary,
    /// Client operations by outcome, summed.
    pub client_ops: ClientOpsStats,
    /// Workflow numbers (only workflow sweeps have the key).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub collab: Option<CollabStats>,
    /// Leader append → commit latency, merged, ms.
    pub commit_latency_ms: LatencySummary,
    /// Elections won, over the seeds.
    pub elections: ElectionStats,
    /// Events dispatched, summed.
    pub events: u64,
    /// Failing seeds by the kind of their first failure.
    pub failures_by_kind: BTreeMap<String, u64>,
    /// Leader-loss downtime over the seeds.
    pub leader_loss_downtime_ms: DowntimeStats,
    /// Highest term over the seeds.
    pub max_term: MaxTermStats,
    /// Network counters, summed.
    pub messages: MessageStats,
    /// Seeds where each check could not judge.
    pub not_judged_by_check: BTreeMap<String, u64>,
    /// Seeds run.
    pub seeds: u64,
    /// Seeds with a failed check.
    pub seeds_failed: u64,
    /// Seeds where every check held.
    pub seeds_ok: u64,
    /// Virtual time reached, summed over the seeds, ms.
    pub sim_time_ms: f64,
}

/// A value and the seed it came from (`null` when no seed had one).
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct AtSeed<T> {
    /// The seed (`None`: no seed contributed).
    pub seed: Option<u64>,
    /// The value.
    pub value: T,
}

/// Per-seed availability: its distribution (only `seeds` when no seed had
/// a workload).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct AvailabilityStats {
    /// Highest.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max: Option<f64>,
    /// Mean over the seeds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mean: Option<f64>,
    /// Lowest, and its seed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min: Option<AtSeed<f64>>,
    /// 1st percentile (nearest rank).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub p1: Option<f64>,
    /// 10th percentile.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub p10: Option<f64>,
    /// Median.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub p50: Option<f64>,
    /// Seeds with an availability.
    pub seeds: u64,
}

/// A per-seed value's distribution (only `seeds` when no seed had one).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Distribution {
    /// Largest, and its seed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max: Option<AtSeed<f64>>,
    /// Mean over the seeds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mean: Option<f64>,
    /// Smallest, and its seed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min: Option<AtSeed<f64>>,
    /// 10th percentile (nearest rank).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub p10: Option<f64>,
    /// Median.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub p50: Option<f64>,
    /// 90th percentile.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub p90: Option<f64>,
    /// Seeds with a value.
    pub seeds: u64,
}

/// Client operations by outcome.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ClientOpsStats {
    /// Definite failures.
    pub fail: u64,
    /// Outcome unknown.
    pub info: u64,
    /// Invoked.
    pub invoked: u64,
    /// Definite successes.
    pub ok: u64,
}

/// Network counters.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct MessageStats {
    /// Delivered.
    pub delivered: u64,
    /// Dropped.
    pub dropped: u64,
    /// Extra copies.
    pub duplicated: u64,
    /// Sent.
    pub sent: u64,
}

/// Elections won.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ElectionStats {
    /// Most in one seed, and the seed.
    pub max: AtSeed<u64>,
    /// Mean per seed.
    pub mean_per_seed: f64,
    /// Summed.
    pub total: u64,
}

/// Highest term.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct MaxTermStats {
    /// Highest over the seeds, and the seed.
    pub max: AtSeed<u64>,
    /// Mean of the seeds' highest terms.
    pub mean: f64,
}

/// Leader-loss downtime.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct DowntimeStats {
    /// Every interval of every seed, as one histogram, ms.
    pub intervals: LatencySummary,
    /// Total per seed, mean, ms.
    pub mean_per_seed: f64,
    /// Seeds with any downtime.
    pub seeds_with_downtime: u64,
    /// Summed, ms.
    pub total: f64,
}

/// `stats.collab`: a workflow sweep's numbers.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct CollabStats {
    /// Circuit-breaker trips.
    pub breaker_trips: CounterStats,
    /// Tasks with conflicting committed results (AP).
    pub conflicting_results: CounterStats,
    /// Dead letters.
    pub dead_letters: CounterStats,
    /// Executions beyond the first of a task.
    pub duplicate_executions: CounterStats,
    /// Coordinator failovers.
    pub failovers: CounterStats,
    /// Seeds with workflow numbers.
    pub seeds: u64,
    /// Tokens spent and committed.
    pub tokens: TokenStats,
    /// Workflow latency, all seeds' histograms merged, ms.
    pub workflow_latency_ms: LatencySummary,
    /// Each seed's workflow p99, ms.
    pub workflow_p99_ms_per_seed: Distribution,
    /// Workflows scheduled, submitted, completed.
    pub workflows: WorkflowStats,
}

/// A per-seed count over the seeds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct CounterStats {
    /// Largest in one seed, and the seed (`null` when no seed ran).
    pub max: AtSeed<u64>,
    /// Mean per seed.
    pub mean_per_seed: f64,
    /// Seeds where it is above 0.
    pub seeds_with: u64,
    /// Summed (saturating).
    pub total: u64,
}

/// Tokens.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct TokenStats {
    /// Of committed results.
    pub committed: CounterStats,
    /// Spent by agents.
    pub spent: CounterStats,
}

/// Workflows over the seeds.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct WorkflowStats {
    /// Completed, summed.
    pub completed: u64,
    /// Completed over scheduled (1 when none is scheduled).
    pub completed_fraction: f64,
    /// Each seed's completed fraction.
    pub completed_fraction_per_seed: Distribution,
    /// Scheduled, summed.
    pub scheduled: u64,
    /// Submitted, summed.
    pub submitted: u64,
}

/// `(value, seed)` pairs sorted by value then seed, so arrival order never
/// shows; `q` is the nearest-rank quantile of the sorted values.
fn sorted(per_seed: &[(u64, f64)]) -> Vec<(u64, f64)> {
    let mut v = per_seed.to_vec();
    v.sort_by(|a, b| a.1.total_cmp(&b.1).then(a.0.cmp(&b.0)));
    v
}

fn q(v: &[(u64, f64)], p: f64) -> f64 {
    v[((p * v.len() as f64).ceil() as usize).clamp(1, v.len()) - 1].1
}

fn mean(v: &[(u64, f64)]) -> f64 {
    v.iter().map(|x| x.1).sum::<f64>() / v.len() as f64
}

impl Distribution {
    /// The distribution of one per-seed value: mean, the smallest and
    /// largest with their seeds, nearest-rank p10/p50/p90.
    pub fn of(per_seed: &[(u64, f64)]) -> Distribution {
        if per_seed.is_empty() {
            return Distribution::default();
        }
        let v = sorted(per_seed);
        let at = |(seed, value): (u64, f64)| AtSeed {
            seed: Some(seed),
            value,
        };
        Distribution {
            seeds: v.len() as u64,
            mean: Some(mean(&v)),
            min: Some(at(v[0])),
            p10: Some(q(&v, 0.1)),
            p50: Some(q(&v, 0.5)),
            p90: Some(q(&v, 0.9)),
            max: Some(at(v[v.len() - 1])),
        }
    }
}

impl AvailabilityStats {
    /// The distribution of per-seed availability: mean, the lowest with
    /// its seed, nearest-rank p1/p10/p50, the highest.
    pub fn of(per_seed: &[(u64, f64)]) -> AvailabilityStats {
        if per_seed.is_empty() {
            return AvailabilityStats::default();
        }
        let v = sorted(per_seed);
        AvailabilityStats {
            seeds: v.len() as u64,
            mean: Some(mean(&v)),
            min: Some(AtSeed {
                seed: Some(v[0].0),
                value: v[0].1,
            }),
            p1: Some(q(&v, 0.01)),
            p10: Some(q(&v, 0.1)),
            p50: Some(q(&v, 0.5)),
            max: Some(v[v.len() - 1].1),
        }
    }
}

impl AtSeed<u64> {
    /// From a `(value, seed)` running maximum whose seed is `u64::MAX`
    /// until some seed contributes.
    pub fn of_max((value, seed): (u64, u64)) -> AtSeed<u64> {
        AtSeed {
            seed: (seed != u64::MAX).then_some(seed),
            value,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::report::CheckFailure;
    use crate::sweep::{Aggregate, CollabSeedStats, SeedResult, SeedStats};
    use serde_json::{json, Value};

    fn seed(seed: u64, stats: SeedStats, failed: bool) -> SeedResult {
        SeedResult {
            seed,
            trace_hash: String::new(),
            events: 100 + seed,
            sim_time_ms: 1000.5,
            failures: if failed {
                vec![CheckFailure {
                    check: "safety".into(),
                    message: "x".into(),
                }]
            } else {
                Vec::new()
            },
            not_judged: vec!["liveness.leader".into()],
            swarm: None,
            stats,
            wall_us: 0,
        }
    }

    /// A KV sweep (availability, downtime, a failure) and a workflow sweep
    /// (`collab`, an empty per-seed p99 distribution, no availability):
    /// the typed stats write the same bytes directly as through a `Value`
    /// (fields in key order), read back equal, and keep the file's JSON
    /// types: `{"seeds": 0}` for an empty distribution, `null` for an
    /// unknown seed, integer counts, float means.
    #[test]
    fn sweep_stats_write_sorted_keys_and_read_back() {
        let mut kv = Aggregate::new();
        for s in 0..4 {
            let stats = SeedStats {
                client_latency_us: vec![(500 + s, 2), (9000, 1)],
                commit_latency_us: vec![(300, 3)],
                downtime_us: if s % 2 == 0 { vec![1500, 250] } else { vec![] },
                availability: Some(0.9 + s as f64 / 100.0),
                max_term: 2 + s,
                elections: 1 + s % 2,
                client_ops: [10, 8, 1, 1],
                messages: [50, 48, 2, 0],
                collab: None,
            };
            kv.add(&seed(s, stats, s == 3));
        }
        let mut wf = Aggregate::new();
        for s in 0..2 {
            let collab = CollabSeedStats {
                workflows_scheduled: 4,
                workflows_completed: 0,
                tokens_spent: 7 * s,
                ..CollabSeedStats::default()
            };
            let stats = SeedStats {
                collab: Some(collab),
                ..SeedStats::default()
            };
            wf.add(&seed(10 + s, stats, false));
        }
        for agg in [&kv, &wf] {
            let stats = agg.stats();
            let v = agg.stats_json();
            let direct = serde_json::to_string(&stats).expect("serializes");
            assert_eq!(direct, serde_json::to_string(&v).expect("serializes"));
            assert_eq!(serde_json::from_value::<SweepStats>(v).unwrap(), stats);
        }
        let k = kv.stats();
        assert_eq!((k.seeds, k.seeds_failed, k.seeds_ok), (4, 1, 3));
        assert_eq!(k.availability.min.map(|m| m.seed), Some(Some(0)));
        assert_eq!(k.leader_loss_downtime_ms.intervals.count, 4);
        assert_eq!(k.not_judged_by_check["liveness.leader"], 4);
        assert!(k.collab.is_none());
        let v = kv.stats_json();
        assert!(v["client_latency_ms"]["count"].is_u64() && v["sim_time_ms"].is_f64());
        assert!(v.get("collab").is_none());

        let w = wf.stats_json();
        assert_eq!(w["availability"], json!({"seeds": 0}));
        assert_eq!(w["collab"]["workflow_p99_ms_per_seed"], json!({"seeds": 0}));
        assert_eq!(
            w["collab"]["tokens"]["spent"]["max"],
            json!({"seed": 11, "value": 7})
        );
        assert_eq!(
            Aggregate::new().stats_json()["max_term"]["max"]["seed"],
            Value::Null
        );
    }
}
