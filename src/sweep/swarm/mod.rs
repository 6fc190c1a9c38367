//! Swarm testing (`agentsim sweep --nemesis`): every seed draws its own
//! nemesis and network fault rates, so a sweep explores many fault mixes
//! instead of one (Groce et al., "Swarm Testing", ISSTA 2012: leaving
//! some fault kinds out of a run often finds bugs that the full mix hides).
//!
//! The draw comes from its own stream (`sweep/swarm` under the seed), so it
//! shifts no other stream of the run; it is recorded in the seed's result
//! and baked into the failure file's scenario, so `agentsim replay` needs
//! nothing else.
//!
//! On Raft key-value scenarios a seed also draws protocol-shaped
//! [`Features`], each on in about half the seeds: random times rarely line
//! up with a protocol's critical moments (a node that restarts inside an
//! election and votes again; Figure 8's leader changes with one entry per
//! append), so the swarm makes those moments frequent in some seeds and
//! absent in others. Drawing them per seed rather than always on follows
//! the swarm-testing result: one feature can mask the bug another exposes
//! (bounces, for example, halve the Figure 8 rate).

mod apply;
mod bundles;
mod features;
mod targeted;

pub use apply::apply;
pub use features::{features, CrashAtFeature, Features, MessageFeature, PatternFeature, Repeat};
pub use targeted::targeted_features;

use crate::rng::{SimRng, Stream};
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

/// The agent kinds a workflow scenario's draw adds (in mask order).
const AGENT_KINDS: [NemesisKindSpec; 5] = [
    NemesisKindSpec::AgentCrash,
    NemesisKindSpec::AgentPause,
    NemesisKindSpec::AgentClock,
    NemesisKindSpec::AgentLink,
    NemesisKindSpec::AgentPartition,
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
    /// A non-empty subset of the server nemesis kinds (uniform over the
    /// 31), then, on workflow scenarios, a subset of the agent kinds.
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
    /// Protocol-shaped features (Raft key-value scenarios only; none
    /// elsewhere). Absent in result lines written before features existed.
    #[serde(default, skip_serializing_if = "Features::is_empty")]
    pub features: Features,
}

/// Round to `digits` decimals, so recorded values read well and survive a
/// JSON round trip unchanged.
pub(super) fn round(v: f64, digits: i32) -> f64 {
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
    let mut rng = SimRng::stream(seed, Stream::Swarm);
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
        features: Features::default(),
    }
}

/// The full draw of `seed` for the scenario `spec`: the nemesis and rates
/// of [`draw`], plus [`Features`] on Raft key-value scenarios.
pub fn draw_for(seed: u64, spec: &ScenarioSpec) -> SwarmDraw {
    let mut d = draw(seed, spec.cluster.nodes, spec.nemesis.as_ref());
    if spec.workflow.is_some() {
        d.kinds.extend(agent_kinds(seed));
    }
    d.features = features(seed, spec);
    if let Some(n) = d.features.nodes {
        d.max_down = d.max_down.min(n.saturating_sub(1) / 2);
    }
    d
}

/// How a sweep draws each seed's faults.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// No draw: every seed runs the scenario as written.
    Off,
    /// Swarm testing (`--nemesis`): nemesis and rates per seed, and each
    /// protocol-shaped feature on in about half the seeds ([`draw_for`]).
    Swarm,
    /// Targeted (`--targeted`): the swarm's nemesis and rates, with the
    /// protocol-shaped features forced on in one of five targets
    /// ([`targeted_features`]).
    Targeted,
}

impl From<bool> for Mode {
    /// `true` is the default swarm, `false` no draw (the `--nemesis` flag).
    fn from(swarm: bool) -> Mode {
        if swarm {
            Mode::Swarm
        } else {
            Mode::Off
        }
    }
}

/// The draw of `seed` for `spec` in `mode` (none when off).
pub fn draw_mode(seed: u64, spec: &ScenarioSpec, mode: Mode) -> Option<SwarmDraw> {
    match mode {
        Mode::Off => None,
        Mode::Swarm => Some(draw_for(seed, spec)),
        Mode::Targeted => {
            let mut d = draw_for(seed, spec);
            d.features = targeted_features(seed, spec);
            let n = d.features.nodes.unwrap_or(spec.cluster.nodes);
            d.max_down = d.max_down.min(n.saturating_sub(1) / 2);
            Some(d)
        }
    }
}

/// Workflow scenarios: a subset of the agent kinds (uniform over all 32,
/// so about one seed in 32 draws none and tests the servers alone), from
/// its own stream (`sweep/swarm/agents`) so the server kinds, rates and
/// durations of a seed are the same as before agent kinds existed.
fn agent_kinds(seed: u64) -> Vec<NemesisKindSpec> {
    let mut rng = SimRng::stream(seed, Stream::SwarmAgents);
    let mask = rng.range_inclusive(0, (1 << AGENT_KINDS.len()) - 1);
    AGENT_KINDS
        .iter()
        .enumerate()
        .filter(|(i, _)| mask & (1 << i) != 0)
        .map(|(_, k)| *k)
        .collect()
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
