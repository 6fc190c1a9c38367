//! Targeted mode (`sweep --targeted`): the protocol-shaped features
//! forced on, in one of a few targets per seed.

use super::bundles::{election_churn, replication_crash};
use super::features::{
    log_uniform, mean_latency_ms, pattern_of, resizable, timeouts, uniform, CrashAtFeature,
    Features, MessageFeature,
};
use super::round;
use crate::process::CrashPoint;
use crate::rng::SimRng;
use crate::scenario::{ProcessKind, ScenarioSpec};

/// Targeted mode's shares of seeds per target: `figure8`,
/// `ack_durability`, `election_churn` (votes held), `election_dup` (votes
/// duplicated, 5 nodes).
const TARGET_SHARES: [f64; 4] = [0.25, 0.2, 0.3, 0.25];

/// Targeted mode's features (`sweep --targeted`, stream `sweep/targeted`):
/// protocol-shaped features forced on, in one of four targets drawn per
/// seed ([`TARGET_SHARES`]), because features aimed at different phases
/// mask each other (bounces end the elections Figure 8 needs). Every
/// target has one entry per append.
///
/// - `targeted/figure8`: the `replication_crash` bundle plus a
///   bare-majority round.
/// - `targeted/ack_durability`: crashes at `append_acked` and
///   `entry_appended` (probability 0.1-0.5, restart within 0-2 ms), a
///   slow disk, appends held (two swap on a link), a bare-majority round;
///   3 nodes in half the seeds.
/// - `targeted/election_churn`: the `election_churn` bundle, vote
///   responses held, 3 nodes.
/// - `targeted/election_dup`: the same with vote responses duplicated,
///   on the scenario's cluster.
pub fn targeted_features(seed: u64, spec: &ScenarioSpec) -> Features {
    let mut f = Features::default();
    if spec.cluster.process != ProcessKind::Raft || spec.workflow.is_some() {
        return f;
    }
    let mut rng = SimRng::derive(seed, "sweep/targeted");
    let u = rng.unit();
    let mut target = 0;
    let mut acc = 0.0;
    for (i, share) in TARGET_SHARES.iter().enumerate() {
        acc += share;
        target = i;
        if u < acc {
            break;
        }
    }
    match target {
        0 => {
            replication_crash(&mut f, &mut rng, spec);
            f.pattern = Some(pattern_of(&mut rng, 0, spec, &f));
        }
        1 => {
            if resizable(spec) && rng.chance(0.5) {
                f.nodes = Some(3);
            }
            let latency = mean_latency_ms(spec);
            let (emin, _, _) = timeouts(spec, &f);
            f.disk_sync_ms = Some([0.0, round(log_uniform(&mut rng, 0.5, 5.0), 2)]);
            f.message = Some(MessageFeature {
                message_kind: "append_entries".into(),
                probability: round(log_uniform(&mut rng, 0.05, 0.3), 3),
                duplicate: false,
                delay_ms: [0.0, round(uniform(&mut rng, latency, 4.0 * latency), 2)],
            });
            f.pattern = Some(pattern_of(&mut rng, 0, spec, &f));
            f.crash_at = Some(CrashAtFeature {
                points: vec![
                    CrashPoint::AppendAcked.name().to_string(),
                    CrashPoint::EntryAppended.name().to_string(),
                ],
                probability: round(log_uniform(&mut rng, 0.1, 0.5), 3),
                restart_after_ms: [0.0, round(2.0 * (emin / 20.0).max(1.0), 2)],
            });
        }
        _ => election_churn(&mut f, &mut rng, spec, target == 3),
    }
    f.bundle = Some(
        [
            "targeted/figure8",
            "targeted/ack_durability",
            "targeted/election_churn",
            "targeted/election_dup",
        ][target]
            .to_string(),
    );
    f.max_entries_per_append = Some(1);
    if spec.nemesis.as_ref().is_some_and(|n| n.until_ms.is_some()) {
        f.bounce = None;
        f.leader_crash = None;
        f.leader_link_cut = None;
    }
    f
}
