//! A sweep's summary (`sweep.json` of `agentsim sweep` and `agentsim
//! merge`), typed: the command line builds it from the sweep header and
//! the folded seed results, prints it, exports it (`--metrics`) and writes
//! it, all by field. The file is written through a `serde_json::Value`
//! (keys sorted at every level, the scenario included), as it was before
//! the types, so field order here does not decide the bytes. A guided
//! sweep's `sweep.json` has another shape (`cli/guided.rs`).

use super::stats::SweepStats;
use crate::scenario::ScenarioSpec;
use serde::{Deserialize, Serialize};

/// `sweep.json`: everything but `timing` is a function of the seed
/// results alone (so resumed, re-jobbed and merged sweeps agree).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SweepSummary {
    /// File format version (`sweep::FORMAT`).
    pub agentsim_sweep: u32,
    /// The deliberately wrong protocol variant every seed ran with
    /// (written as `null` when none).
    pub bug: Option<String>,
    /// Failing seeds, by seed.
    pub failures: Vec<FailureEntry>,
    /// Whether each seed drew its own swarm nemesis.
    pub nemesis: bool,
    /// The scenario with command-line overrides applied.
    pub scenario: ScenarioSpec,
    /// The sweep's seeds, `A..B`.
    pub seeds: String,
    /// Seeds with a failed check.
    pub seeds_failed: u64,
    /// Seeds run.
    pub seeds_run: u64,
    /// This shard of a sharded sweep (absent for a whole one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shard: Option<ShardInfo>,
    /// The deterministic statistics.
    pub stats: SweepStats,
    /// `--targeted` (the key is written only when true).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub targeted: bool,
    /// Wall-clock figures: they vary between runs and machines.
    pub timing: SweepTiming,
}

/// One failing seed of `sweep.json` → `failures`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FailureEntry {
    /// Every check that failed, in report order.
    pub checks: Vec<String>,
    /// Its report, relative to the output folder.
    pub file: String,
    /// The first failed check.
    pub kind: String,
    /// The first failure's message.
    pub message: String,
    /// The command that reproduces it.
    pub replay: String,
    /// The seed.
    pub seed: u64,
}

/// `sweep.json` → `shard`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShardInfo {
    /// Number of shards.
    pub count: u32,
    /// 0-based shard index.
    pub index: u32,
    /// The shard's own seeds, `A..B`.
    pub seeds: String,
}

/// `sweep.json` → `timing`: measured at the command-line edge, never part
/// of a comparison. A sweep writes the run figures, a merge `merged_from`;
/// a key a command does not measure is absent.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct SweepTiming {
    /// Events per second of one seed's run, over all seeds.
    pub events_per_core_s: f64,
    /// Worker threads.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub jobs: Option<u64>,
    /// Shard folders merged.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub merged_from: Option<u64>,
    /// That these figures are wall-clock.
    pub note: String,
    /// Summed wall time of the seeds' runs, ms.
    pub seed_wall_ms_total: f64,
    /// Seeds per wall second in this invocation.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub seeds_per_s: Option<f64>,
    /// Seeds read back from an earlier, interrupted invocation.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub seeds_resumed: Option<u64>,
    /// Seeds run by this invocation.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub seeds_this_invocation: Option<u64>,
    /// This invocation's wall time, ms.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub wall_ms: Option<f64>,
}

/// What `timing.note` says.
pub const TIMING_NOTE: &str = "wall-clock figures: they vary between runs and machines; everything outside `timing` is deterministic";

impl SweepSummary {
    /// The summary as the JSON `sweep.json` holds: through a `Value`, so
    /// keys are sorted at every level as they always were.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::to_value(self).expect("summary serializes")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::Scenario;
    use serde_json::json;
    use std::path::Path;

    fn quickstart() -> ScenarioSpec {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/quickstart.json");
        Scenario::load(&path).expect("shipped scenario loads").spec
    }

    fn merged(shard: Option<ShardInfo>, targeted: bool) -> SweepSummary {
        SweepSummary {
            agentsim_sweep: 1,
            bug: None,
            failures: vec![FailureEntry {
                checks: vec!["safety".into(), "linearizability".into()],
                file: "failures/seed-3.json".into(),
                kind: "safety".into(),
                message: "two leaders".into(),
                replay: "agentsim replay out/failures/seed-3.json".into(),
                seed: 3,
            }],
            nemesis: false,
            scenario: quickstart(),
            seeds: "0..8".into(),
            seeds_failed: 1,
            seeds_run: 8,
            shard,
            stats: SweepStats::default(),
            targeted,
            timing: SweepTiming {
                note: TIMING_NOTE.into(),
                merged_from: Some(2),
                seed_wall_ms_total: 12.5,
                events_per_core_s: 1e6,
                ..SweepTiming::default()
            },
        }
    }

    /// `sweep.json`'s shape, key by key: `bug` is written as `null`,
    /// `shard` and `targeted` only when set, `timing` only with what the
    /// command measured (a merge: no `jobs`, `wall_ms`, ...); every level
    /// (the scenario's too) has its keys sorted, as the file always had;
    /// the typed summary reads its own file back equal.
    #[test]
    fn summary_json_keeps_the_file_shape_and_reads_back() {
        let s = merged(None, false);
        let v = s.to_json();
        let top: Vec<&str> = v.as_object().unwrap().keys().map(|k| k.as_str()).collect();
        assert_eq!(
            top,
            [
                "agentsim_sweep",
                "bug",
                "failures",
                "nemesis",
                "scenario",
                "seeds",
                "seeds_failed",
                "seeds_run",
                "stats",
                "timing"
            ]
        );
        assert_eq!(v["bug"], json!(null));
        assert_eq!(
            v["timing"],
            json!({"events_per_core_s": 1e6, "merged_from": 2, "note": TIMING_NOTE, "seed_wall_ms_total": 12.5})
        );
        assert_eq!(
            v["failures"][0]["checks"],
            json!(["safety", "linearizability"])
        );
        let text = serde_json::to_string_pretty(&v).unwrap();
        let scenario_keys: Vec<&str> = v["scenario"]
            .as_object()
            .unwrap()
            .keys()
            .map(|k| k.as_str())
            .collect();
        let mut sorted = scenario_keys.clone();
        sorted.sort_unstable();
        assert_eq!(scenario_keys, sorted);
        // Written directly, the scenario would keep its declaration order:
        // the file goes through a `Value` for that reason.
        assert_ne!(serde_json::to_string_pretty(&s).unwrap(), text);
        assert_eq!(serde_json::from_str::<SweepSummary>(&text).unwrap(), s);

        let sharded = merged(
            Some(ShardInfo {
                count: 2,
                index: 1,
                seeds: "4..8".into(),
            }),
            true,
        );
        let v = sharded.to_json();
        assert_eq!(v["shard"], json!({"count": 2, "index": 1, "seeds": "4..8"}));
        assert_eq!(v["targeted"], json!(true));
        assert_eq!(serde_json::from_value::<SweepSummary>(v).unwrap(), sharded);
    }

    /// A damaged summary does not read, and the error names the field.
    #[test]
    fn damaged_summary_names_the_field() {
        let mut v = merged(None, false).to_json();
        v["failures"][0]["seed"] = json!("three");
        let e = serde_path_to_error::deserialize::<_, SweepSummary>(v).unwrap_err();
        assert_eq!(e.path().to_string(), "failures[0].seed");
        let mut v = merged(None, false).to_json();
        v["stats"]["collab"] = json!({"tokens": {"spent": {"total": -1}}});
        let e = serde_path_to_error::deserialize::<_, SweepSummary>(v).unwrap_err();
        assert_eq!(e.path().to_string(), "stats.collab.tokens.spent.total");
    }
}
