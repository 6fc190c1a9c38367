//! Swarm testing (`agentsim sweep --nemesis`): every seed draws its own
//! nemesis and network fault rates, so a sweep explores many fault mixes
//! instead of one (Groce et al., "Swarm Testing", ISSTA 2012: leaving
//! some fault kinds out of a run often finds bugs that the full mix hides).
//!
//! The draw comes from its own stream (`sweep/swarm` under the seed), so it
//! shifts no other stream of the run; it is recorded in the seed's result
//! and baked into the failure file's scenario, so `agentsim replay` needs
//! nothing else.

use crate::rng::SimRng;
use crate::scenario::{NemesisKindSpec, NemesisSpec, ScenarioSpec};
use serde::{Deserialize, Serialize};

/// The kinds a draw picks from, in the order of the subset bit mask.
const KINDS: [NemesisKindSpec; 5] = [
    NemesisKindSpec::Crash,
    NemesisKindSpec::Pause,
    NemesisKindSpec::Partition,
    NemesisKindSpec::Link,
    NemesisKindSpec::Clock,
];

/// Bounds of the draw (ms, probabilities).
const MEAN_INTERVAL_MS: [f64; 2] = [200.0, 5000.0];
const MIN_DURATION_MS: [f64; 2] = [50.0, 1000.0];
const EXTRA_DURATION_MS: f64 = 3000.0;
const DROP_MAX: f64 = 0.1;
const DUPLICATE_MAX: f64 = 0.05;

/// The fault parameters one seed drew.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SwarmDraw {
    /// A non-empty subset of the nemesis kinds (uniform over the 31).
    pub kinds: Vec<NemesisKindSpec>,
    /// Mean time between nemesis faults, ms (log-uniform in 200..5000).
    pub mean_interval_ms: f64,
    /// Fault duration range, ms: min uniform in 50..1000, max = min + uniform 0..3000.
    pub duration_ms: [f64; 2],
    /// Most nodes crashed or paused at once: uniform in 0..=(nodes-1)/2.
    pub max_down: u32,
    /// Network-wide loss probability: 0 half the time, else uniform in 0..0.1.
    pub drop: f64,
    /// Network-wide duplication probability: 0 half the time, else uniform in 0..0.05.
    pub duplicate: f64,
}

/// Round to `digits` decimals, so recorded values read well and survive a
/// JSON round trip unchanged.
fn round(v: f64, digits: i32) -> f64 {
    let f = libm::pow(10.0, digits as f64);
    libm::round(v * f) / f
}

/// The draw of `seed` for a cluster of `nodes` servers.
pub fn draw(seed: u64, nodes: u32, template: Option<&NemesisSpec>) -> SwarmDraw {
    // The scenario's own nemesis, if any, sets the time scale: intervals
    // from a quarter to four times its mean, durations from half its
    // shortest up to twice its range. A cluster with 20 ms election
    // timeouts needs faults of a few ms to show some bugs; one with 300 ms
    // timeouts needs seconds.
    let (interval, min_duration, extra) = match template {
        Some(t) => (
            [t.mean_interval_ms / 4.0, t.mean_interval_ms * 4.0],
            [t.duration_ms[0] / 2.0, t.duration_ms[1]],
            2.0 * (t.duration_ms[1] - t.duration_ms[0]).max(t.duration_ms[0]),
        ),
        None => (MEAN_INTERVAL_MS, MIN_DURATION_MS, EXTRA_DURATION_MS),
    };
    let mut rng = SimRng::derive(seed, "sweep/swarm");
    let mask = rng.range_inclusive(1, (1 << KINDS.len()) - 1);
    let kinds = KINDS
        .iter()
        .enumerate()
        .filter(|(i, _)| mask & (1 << i) != 0)
        .map(|(_, k)| *k)
        .collect();
    let [lo, hi] = interval;
    let mean_interval_ms = round(
        libm::exp(libm::log(lo) + rng.unit() * (libm::log(hi) - libm::log(lo))),
        1,
    );
    let min = round(
        min_duration[0] + rng.unit() * (min_duration[1] - min_duration[0]),
        1,
    )
    .max(0.1);
    let max = round(min + rng.unit() * extra, 1);
    let max_down = rng.range_inclusive(0, u64::from(nodes.saturating_sub(1) / 2)) as u32;
    let drop = if rng.chance(0.5) {
        0.0
    } else {
        round(rng.unit() * DROP_MAX, 4)
    };
    let duplicate = if rng.chance(0.5) {
        0.0
    } else {
        round(rng.unit() * DUPLICATE_MAX, 4)
    };
    SwarmDraw {
        kinds,
        mean_interval_ms: mean_interval_ms.max(interval[0]).max(0.1),
        duration_ms: [min, max.max(min)],
        max_down,
        drop,
        duplicate,
    }
}

/// Put a draw into a scenario: it replaces the scenario's nemesis and its
/// network-wide drop and duplicate rates (per-link overrides keep theirs).
pub fn apply(spec: &mut ScenarioSpec, d: &SwarmDraw) {
    spec.nemesis = Some(NemesisSpec {
        mean_interval_ms: d.mean_interval_ms,
        kinds: d.kinds.clone(),
        duration_ms: d.duration_ms,
        max_down: Some(d.max_down),
        // The base scenario's fault-free tail, if it has one, is kept.
        until_ms: spec.nemesis.as_ref().and_then(|n| n.until_ms),
    });
    spec.network.drop = d.drop;
    spec.network.duplicate = d.duplicate;
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Draws are fixed by the seed, differ between seeds, stay inside the
    /// documented bounds, and round-trip through JSON unchanged.
    #[test]
    fn draws_are_seeded_bounded_and_round_trip() {
        assert_eq!(draw(3, 5, None), draw(3, 5, None));
        assert_ne!(draw(3, 5, None), draw(4, 5, None));
        let tight = NemesisSpec {
            mean_interval_ms: 300.0,
            kinds: KINDS.to_vec(),
            duration_ms: [20.0, 600.0],
            max_down: None,
            until_ms: None,
        };
        for seed in 0..500 {
            let t = draw(seed, 5, Some(&tight));
            assert!((75.0..=1200.0).contains(&t.mean_interval_ms), "{t:?}");
            assert!(
                t.duration_ms[0] >= 10.0 && t.duration_ms[0] <= 600.0,
                "{t:?}"
            );
            let d = draw(seed, 5, None);
            assert!(!d.kinds.is_empty());
            assert!((200.0..=5000.0).contains(&d.mean_interval_ms));
            assert!(d.duration_ms[0] >= 50.0 && d.duration_ms[0] <= d.duration_ms[1]);
            assert!(d.max_down <= 2);
            assert!((0.0..=DROP_MAX).contains(&d.drop));
            assert!((0.0..=DUPLICATE_MAX).contains(&d.duplicate));
            let json = serde_json::to_string(&d).unwrap();
            assert_eq!(serde_json::from_str::<SwarmDraw>(&json).unwrap(), d);
        }
    }
}
