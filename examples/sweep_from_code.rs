//! Driving a seed sweep from code: the same thing `agentsim sweep --nemesis`
//! does, as a loop you can put inside your own test harness.
//!
//! The scenario (inline below, so this file works when copied into another
//! crate) is a 5-node Raft cluster with tight timeouts under a KV workload.
//! Each seed draws its own fault mix (swarm testing: crashes, pauses,
//! partitions and link cuts, each switched on in some seeds only). The loop
//! runs the correct build and then a planted bug, `skip-log-check` (a
//! follower accepts entries without checking that its log matches the
//! leader's), and prints which seeds fail, which check caught them, and the
//! command that replays a failing seed.
//!
//! Run: `cargo run --release --example sweep_from_code`.

use agentsim::sweep::run_seed;
use agentsim::Scenario;
use std::collections::BTreeMap;

const SCENARIO: &str = r#"{
  "name": "sweep-from-code",
  "description": "5 Raft nodes, 20-40 ms election timeouts, a KV workload, swarm faults",
  "seed": 0,
  "duration_ms": 5000,
  "cluster": { "nodes": 5, "process": "raft", "start_jitter_ms": 5,
               "raft": { "election_timeout_ms": [20, 40], "heartbeat_ms": 7,
                         "pre_vote": false, "check_quorum": false, "snapshot_every": 100 } },
  "network": { "latency_ms": { "dist": "uniform", "min": 1, "max": 6 }, "reorder": true },
  "disk": { "sync_ms": { "dist": "uniform", "min": 0.2, "max": 1 } },
  "workload": { "clients": 4, "rate_per_s": 400, "keys": 3, "timeout_ms": 300 },
  "nemesis": { "mean_interval_ms": 300, "kinds": ["crash", "pause", "partition", "link"],
               "duration_ms": [20, 600] }
}"#;

/// What a sweep found: failing seeds, and how often each check failed.
struct Findings {
    failing_seeds: Vec<u64>,
    by_check: BTreeMap<String, u64>,
}

/// Sweep `seeds` of the scenario with `bug` planted (or none), one swarm
/// draw per seed.
fn sweep(seeds: std::ops::Range<u64>, bug: Option<&str>) -> Findings {
    let mut spec = Scenario::from_str("<inline>", SCENARIO)
        .expect("the inline scenario is valid")
        .spec;
    spec.bug = bug.map(str::to_string);
    let base = Scenario::from_spec(spec).expect("a known bug name");
    let mut found = Findings {
        failing_seeds: Vec::new(),
        by_check: BTreeMap::new(),
    };
    for seed in seeds {
        let run = run_seed(&base, seed, true);
        if run.result.ok() {
            continue;
        }
        found.failing_seeds.push(seed);
        for failure in &run.result.failures {
            *found.by_check.entry(failure.check.clone()).or_default() += 1;
        }
    }
    found
}

fn main() {
    let seeds = 0..40;
    for bug in [None, Some("skip-log-check")] {
        let found = sweep(seeds.clone(), bug);
        let name = bug.unwrap_or("correct build");
        println!(
            "{name}: {} of {} seeds fail {:?}",
            found.failing_seeds.len(),
            seeds.end - seeds.start,
            found.by_check
        );
        if let (Some(seed), Some(bug)) = (found.failing_seeds.first(), bug) {
            println!(
                "  reproduce: agentsim sweep <this scenario as a file> --nemesis --bug {bug} --seeds {seed}..{}",
                seed + 1
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The correct build passes every seed; the planted bug is found by the
    /// swarm (about one seed in five) and only by the Raft safety checker.
    #[test]
    fn swarm_finds_the_planted_bug_and_passes_the_correct_build() {
        assert_eq!(sweep(0..20, None).failing_seeds, Vec::<u64>::new());
        let found = sweep(0..30, Some("skip-log-check"));
        assert!(!found.failing_seeds.is_empty());
        assert!(
            found.by_check.keys().all(|c| c == "safety"),
            "{:?}",
            found.by_check
        );
    }

    #[test]
    fn main_runs() {
        main();
    }
}
