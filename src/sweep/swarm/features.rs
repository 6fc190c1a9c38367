//! Protocol-shaped features of the default swarm: what a seed may draw
//! (cluster size, entries per append, timeout ratio, disk latency,
//! bounces, leader crashes and cuts, crash points, message rules,
//! patterns), the draw itself, and the timing helpers the bundles and
//! targeted mode share.

use super::bundles::{election_churn, replication_crash, BUNDLE_SHARES};
use super::round;
use crate::process::CrashPoint;
use crate::rng::{SimRng, Stream};
use crate::scenario::{dist, ProcessKind, ScenarioSpec};
use serde::{Deserialize, Serialize};

/// Crash points by protocol phase (a seed's `crash_at` feature draws
/// from one phase): elections, replication and commitment, durability.
const PHASES: [&[CrashPoint]; 3] = [
    &[
        CrashPoint::VoteGrantedUnsynced,
        CrashPoint::VoteGranted,
        CrashPoint::VoteRequested,
        CrashPoint::BecameLeader,
    ],
    &[
        CrashPoint::BecameLeader,
        CrashPoint::EntryAppended,
        CrashPoint::AckReceived,
        CrashPoint::CommitAdvanced,
    ],
    &[
        CrashPoint::AppendAcked,
        CrashPoint::BetweenWrites,
        CrashPoint::SnapshotInstalled,
        CrashPoint::VoteGranted,
    ],
];

/// The protocol-shaped features one seed drew. Each field is `None` when
/// the feature is off; each is on in about half the seeds (cluster size:
/// only when the scenario can be resized).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Features {
    /// The cluster shrunk to this many servers (3), so a quorum is two
    /// nodes and one lagging follower decides what commits.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nodes: Option<u32>,
    /// Most entries per AppendEntries: 1, 2 or 64. One entry per append
    /// keeps followers' logs at many different lengths (Figure 8).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_entries_per_append: Option<u32>,
    /// Minimum election timeout over the mean one-way latency (3 to 30,
    /// log-uniform): near 3, elections overlap and split; near 30, they
    /// are rare and clean.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_ratio: Option<f64>,
    /// Disk sync latency, ms (uniform over this range): a slow fsync
    /// widens the window between deciding and being durable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disk_sync_ms: Option<[f64; 2]>,
    /// Bounce: crash a random node and restart it almost at once, again
    /// and again, so a node loses its volatile state inside an election
    /// and answers the same candidate twice.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bounce: Option<Repeat>,
    /// Short leader crashes: the leader restarts within one election
    /// timeout, often before its followers give up on it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub leader_crash: Option<Repeat>,
    /// Short one-way cuts from the leader to one follower, so a round
    /// reaches only part of the cluster.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub leader_link_cut: Option<Repeat>,
    /// Crash points (`crash_at` faults): crash a node at one to three
    /// protocol events, so crashes land inside elections and between a
    /// commit and its announcement instead of at random times.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub crash_at: Option<CrashAtFeature>,
    /// A message rule (`message` fault): duplicate or hold back one kind
    /// of message (a vote response held past a term change, two appends
    /// swapped, a vote grant delivered twice).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<MessageFeature>,
    /// A feature bundle: features that expose a bug only together, drawn
    /// as one (so their joint chance is the bundle's, not the product of
    /// theirs). `"replication_crash"`: 3 nodes, one entry per append, no
    /// bounces, leaders crashed at `entry_appended` and `commit_advanced`
    /// (the Figure 8 schedule). `"election_churn"`: short leader crashes,
    /// vote responses held into the next term, election timers lined up
    /// (a candidate that counts a stale grant). Targeted mode names its
    /// targets `targeted/...`. The fields a bundle sets are recorded as
    /// usual.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bundle: Option<String>,
    /// A protocol-shaped message pattern or numbered crash point: one
    /// replication round reaching only a bare majority, two election
    /// timers lined up, or the leader crashed at the k-th acknowledgement
    /// of an index.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pattern: Option<PatternFeature>,
}

/// The pattern a seed drew (see [`Features::pattern`]).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "snake_case", tag = "name")]
pub enum PatternFeature {
    /// A `bare_majority` message rule on `append_entries`.
    BareMajority {
        /// Chance per round.
        probability: f64,
        /// How long the round's other appends are held, ms.
        delay_ms: [f64; 2],
    },
    /// An `align_timers` message rule after `append_entries`.
    AlignTimers {
        /// Chance per delivered append.
        probability: f64,
        /// Most time between the two timers, ms.
        within_ms: f64,
    },
    /// A `crash_at` rule on `ack_received` with `k`.
    KthAck {
        /// Which acknowledgement (1 = the first follower to hold an index).
        k: u32,
        /// Chance per k-th acknowledgement.
        probability: f64,
        /// Restart delay range, ms.
        restart_after_ms: [f64; 2],
    },
}

/// The crash points a seed drew, all with one probability and restart
/// range.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CrashAtFeature {
    /// Crash point names (`CrashPoint::name`).
    pub points: Vec<String>,
    /// Chance per report of a point (log-uniform in 0.05..0.5).
    pub probability: f64,
    /// Restart delay range, ms.
    pub restart_after_ms: [f64; 2],
}

/// The message rule a seed drew.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MessageFeature {
    /// The message kind.
    pub message_kind: String,
    /// Chance per message (log-uniform in 0.02..0.3).
    pub probability: f64,
    /// Duplicate (a second copy this much later) rather than hold.
    pub duplicate: bool,
    /// The gap or hold range, ms.
    pub delay_ms: [f64; 2],
}

impl Features {
    /// True when every feature is off.
    pub fn is_empty(&self) -> bool {
        *self == Features::default()
    }
}

/// A repeating scripted fault's timing, ms.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Repeat {
    /// First firing.
    pub at_ms: f64,
    /// Period.
    pub every_ms: f64,
    /// Random extra delay per firing, uniform in `[0, jitter_ms]`.
    pub jitter_ms: f64,
    /// For crashes: restart this long after.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restart_after_ms: Option<f64>,
    /// For link cuts: how long the cut lasts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub for_ms: Option<f64>,
}

impl Repeat {
    /// A repeating crash every `every_ms` from `at_ms`, each firing late
    /// by up to half a period, restarted `restart_after_ms` later.
    pub(super) fn crash(at_ms: f64, every_ms: f64, restart_after_ms: f64) -> Repeat {
        Repeat {
            at_ms,
            every_ms,
            jitter_ms: round(every_ms / 2.0, 1),
            restart_after_ms: Some(restart_after_ms),
            for_ms: None,
        }
    }

    /// A repeating link cut lasting `for_ms`, timed like [`Repeat::crash`].
    pub(super) fn cut(at_ms: f64, every_ms: f64, for_ms: f64) -> Repeat {
        Repeat {
            at_ms,
            every_ms,
            jitter_ms: round(every_ms / 2.0, 1),
            restart_after_ms: None,
            for_ms: Some(for_ms),
        }
    }
}

/// Log-uniform in `[lo, hi]`.
pub(super) fn log_uniform(rng: &mut SimRng, lo: f64, hi: f64) -> f64 {
    libm::exp(libm::log(lo) + rng.unit() * (libm::log(hi) - libm::log(lo)))
}

/// Uniform in `[lo, hi]`.
pub(super) fn uniform(rng: &mut SimRng, lo: f64, hi: f64) -> f64 {
    lo + rng.unit() * (hi - lo)
}

/// Whether the swarm may shrink this scenario's cluster to 3: nothing in
/// it names a node index that would disappear.
pub(super) fn resizable(spec: &ScenarioSpec) -> bool {
    spec.cluster.nodes > 3 && spec.faults.is_empty() && spec.network.links.is_empty()
}

/// The protocol-shaped features of `seed` (their own stream,
/// `sweep/swarm/features`, so the nemesis draw of a seed is the same with
/// or without them). Only Raft key-value scenarios get features: the
/// workflow layer and the heartbeat mesh have their own failure modes.
pub fn features(seed: u64, spec: &ScenarioSpec) -> Features {
    let mut f = Features::default();
    if spec.cluster.process != ProcessKind::Raft || spec.workflow.is_some() {
        return f;
    }
    let mut rng = SimRng::stream(seed, Stream::SwarmFeatures);
    if rng.chance(0.5) && resizable(spec) {
        f.nodes = Some(3);
    }
    if rng.chance(0.5) {
        f.max_entries_per_append = Some([1, 2, 64][rng.index(3)]);
    }
    let latency = mean_latency_ms(spec);
    if rng.chance(0.5) {
        f.timeout_ratio = Some(round(log_uniform(&mut rng, 3.0, 30.0), 2));
    }
    if rng.chance(0.5) {
        let hi = round(log_uniform(&mut rng, 0.05, 5.0), 2);
        f.disk_sync_ms = Some([0.0, hi]);
    }
    // Fault timings follow the election timeouts the run will have.
    let (emin, emax, _) = timeouts(spec, &f);
    let start = round(2.0 * emax, 1);
    if rng.chance(0.5) {
        let every = round(uniform(&mut rng, 5.0, 50.0) * (emin / 20.0).max(1.0), 1);
        f.bounce = Some(Repeat::crash(
            start,
            every,
            round(uniform(&mut rng, 0.0, 2.0), 2),
        ));
    }
    if rng.chance(0.5) {
        let every = round(uniform(&mut rng, 3.0, 15.0) * emax, 1);
        f.leader_crash = Some(Repeat::crash(
            start,
            every,
            round(uniform(&mut rng, 0.0, emin), 2),
        ));
    }
    if rng.chance(0.5) {
        let every = round(uniform(&mut rng, 2.0, 10.0) * emin, 1);
        f.leader_link_cut = Some(Repeat::cut(
            start,
            every,
            round(uniform(&mut rng, latency.min(emin), emin), 2).max(0.01),
        ));
    }
    if rng.chance(0.5) {
        // Points come by protocol phase, each of the phase's points in
        // about half the draws: crashes that must line up (a leader lost
        // between appending and replicating, twice, then between counting
        // an old entry and announcing it: Figure 8) belong to one phase.
        let phase = PHASES[rng.index(PHASES.len())];
        let mut points: Vec<String> = phase
            .iter()
            .filter(|_| rng.chance(0.5))
            .map(|p| p.name().to_string())
            .collect();
        if points.is_empty() {
            points.push(phase[rng.index(phase.len())].name().to_string());
        }
        f.crash_at = Some(CrashAtFeature {
            points,
            probability: round(log_uniform(&mut rng, 0.05, 0.5), 3),
            restart_after_ms: [
                0.0,
                round(uniform(&mut rng, 0.0, 2.0) * (emin / 20.0).max(1.0), 2),
            ],
        });
    }
    if rng.chance(0.5) {
        const KINDS: [&str; 4] = [
            "request_vote",
            "request_vote_resp",
            "append_entries",
            "append_entries_resp",
        ];
        let kind = KINDS[rng.index(KINDS.len())];
        let duplicate = rng.chance(0.5);
        // Votes are held up to past the next election (a term change);
        // appends a few latencies (enough to swap two on a link).
        let hi = if kind.starts_with("request_vote") {
            uniform(&mut rng, latency, 1.5 * emax)
        } else {
            uniform(&mut rng, latency, 4.0 * latency)
        };
        f.message = Some(MessageFeature {
            message_kind: kind.to_string(),
            probability: round(log_uniform(&mut rng, 0.02, 0.3), 3),
            duplicate,
            delay_ms: [0.0, round(hi, 2)],
        });
    }
    // The bundle has its own stream (`sweep/swarm/bundle`), so a seed
    // without it draws every feature as before bundles existed.
    let mut b = SimRng::derive(seed, "sweep/swarm/bundle");
    let u = b.unit();
    if u < BUNDLE_SHARES[0] {
        replication_crash(&mut f, &mut b, spec);
    } else if u < BUNDLE_SHARES[0] + BUNDLE_SHARES[1] {
        election_churn(&mut f, &mut b, spec, false);
    }
    if f.pattern.is_none() {
        f.pattern = draw_pattern(seed, spec, &f);
    }
    // A scenario whose nemesis stops before the end asks for a fault-free
    // tail, so that liveness is judged; repeating scripted faults run to
    // the end, so they are left out there.
    if spec.nemesis.as_ref().is_some_and(|n| n.until_ms.is_some()) {
        f.bounce = None;
        f.leader_crash = None;
        f.leader_link_cut = None;
    }
    f
}

/// A seed's pattern (its own stream, `sweep/swarm/patterns`, so the
/// other features of a seed are as before patterns existed): on in about
/// half the seeds, one of the three.
pub(super) fn draw_pattern(seed: u64, spec: &ScenarioSpec, f: &Features) -> Option<PatternFeature> {
    let mut rng = SimRng::derive(seed, "sweep/swarm/patterns");
    if !rng.chance(0.5) {
        return None;
    }
    let which = rng.index(3);
    Some(pattern_of(&mut rng, which, spec, f))
}

/// Pattern `which` (0 bare majority, 1 aligned timers, 2 k-th ack) with
/// its parameters drawn from `rng`, timed for the features' timeouts.
pub(super) fn pattern_of(
    rng: &mut SimRng,
    which: usize,
    spec: &ScenarioSpec,
    f: &Features,
) -> PatternFeature {
    let latency = mean_latency_ms(spec);
    let (emin, _, _) = timeouts(spec, f);
    match which {
        0 => PatternFeature::BareMajority {
            probability: round(log_uniform(rng, 0.05, 0.5), 3),
            delay_ms: [0.0, round(uniform(rng, latency, 4.0 * latency), 2)],
        },
        1 => PatternFeature::AlignTimers {
            probability: round(log_uniform(rng, 0.02, 0.3), 3),
            within_ms: round(rng.unit(), 3),
        },
        _ => {
            let nodes = f.nodes.unwrap_or(spec.cluster.nodes).max(2);
            PatternFeature::KthAck {
                k: 1 + rng.index(nodes as usize - 1) as u32,
                probability: round(log_uniform(rng, 0.1, 0.5), 3),
                restart_after_ms: [0.0, round(2.0 * (emin / 20.0).max(1.0), 2)],
            }
        }
    }
}

/// Mean one-way latency of the scenario's network, ms (1 ms when the
/// distribution has no finite mean; at least 0.01 ms).
pub(super) fn mean_latency_ms(spec: &ScenarioSpec) -> f64 {
    let m = dist(&spec.network.latency_ms).mean();
    if m.is_finite() {
        m.max(0.01)
    } else {
        1.0
    }
}

/// Election timeout range and heartbeat (ms) under the features: the
/// scenario's own, or `timeout_ratio` × mean latency (heartbeat a third
/// of the minimum). The minimum stays above twice the largest timer
/// jitter, which validation requires to be below it.
pub(super) fn timeouts(spec: &ScenarioSpec, f: &Features) -> (f64, f64, f64) {
    let Some(r) = f.timeout_ratio else {
        let raft = spec.cluster.raft.clone().unwrap_or_default();
        let [emin, emax] = raft.election_timeout_ms;
        return (emin, emax, raft.heartbeat_ms);
    };
    let latency = mean_latency_ms(spec);
    let jitter_ms = spec
        .clocks
        .as_ref()
        .map_or(0.0, |c| c.timer_jitter_us[1] / 1000.0);
    let emin = round((r * latency).max(2.0 * jitter_ms + 0.1).max(1.0), 1);
    (emin, 2.0 * emin, round(emin / 3.0, 2).max(0.01))
}
