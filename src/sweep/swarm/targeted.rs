//! Targeted mode (`sweep --targeted`): the protocol-shaped features
//! forced on, in one of a few targets per seed.

use super::bundles::{election_churn, replication_crash};
use super::features::{
    log_uniform, mean_latency_ms, pattern_of, resizable, timeouts, uniform, CrashAtFeature,
    Features, MessageFeature, PatternFeature, Repeat,
};
use super::round;
use crate::process::CrashPoint;
use crate::rng::SimRng;
use crate::scenario::{ProcessKind, ScenarioSpec};

/// Targeted mode's shares of seeds per target: `figure8`,
/// `ack_durability`, `election_churn` (votes held), `election_dup` (votes
/// duplicated, 5 nodes), `vote_durability` (new leaders crashed at once).
/// Set so that every planted bug fails in at least 8 % of the self-test's
/// targeted seeds (docs/bugs.md): `commit-previous-term` is found only
/// by `figure8` (about a third of its seeds), `forget-vote` and
/// `self-vote-not-persisted` mostly by `vote_durability`,
/// `ack-before-fsync` only by `ack_durability` (about 70 %),
/// `dup-vote-count` only by `election_dup` (almost all).
const TARGET_SHARES: [f64; 5] = [0.27, 0.14, 0.3, 0.1, 0.19];

/// Target names, in [`TARGET_SHARES`] order (recorded as the bundle).
const TARGET_NAMES: [&str; 5] = [
    "targeted/figure8",
    "targeted/ack_durability",
    "targeted/election_churn",
    "targeted/election_dup",
    "targeted/vote_durability",
];

/// Targeted mode's features (`sweep --targeted`, stream `sweep/targeted`):
/// protocol-shaped features forced on, in one of five targets drawn per
/// seed (`TARGET_SHARES`), because features aimed at different phases
/// mask each other (bounces end the elections Figure 8 needs). Every
/// target has one entry per append.
///
/// - `targeted/figure8`: the `replication_crash` bundle, its crash
///   probability raised to 0.55-0.8, plus a bare-majority round.
/// - `targeted/ack_durability`: crashes at `append_acked` and
///   `entry_appended` (probability 0.1-0.5, restart within 0-2 ms), a
///   slow disk, appends held (two swap on a link), a bare-majority round;
///   3 nodes in half the seeds.
/// - `targeted/election_churn`: the `election_churn` bundle, vote
///   responses held, 3 nodes.
/// - `targeted/election_dup`: the same with vote responses duplicated,
///   on the scenario's cluster.
/// - `targeted/vote_durability`: `vote_durability`.
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
            // The bundle's 0.4-0.7 is shared with the default swarm; a
            // scripted 3-node self-test fails 92 of 200 seeds at 0.55,
            // 114 at 0.75 (docs/bugs.md), so targeted seeds crash more.
            if let Some(c) = f.crash_at.as_mut() {
                c.probability = round(uniform(&mut rng, 0.55, 0.8), 3);
            }
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
        2 | 3 => election_churn(&mut f, &mut rng, spec, target == 3),
        _ => vote_durability(&mut f, &mut rng, spec),
    }
    f.bundle = Some(TARGET_NAMES[target].to_string());
    f.max_entries_per_append = Some(1);
    if spec.nemesis.as_ref().is_some_and(|n| n.until_ms.is_some()) {
        f.bounce = None;
        f.leader_crash = None;
        f.leader_link_cut = None;
    }
    f
}

/// The `vote_durability` target: a node that has just won an election
/// crashes at once (`became_leader`, probability 0.4-0.6, back within
/// 0-2 ms) and the leader is also crashed every 2-3.5 election timeouts
/// (back within a quarter to half of the shortest), on 3 nodes with
/// election timers lined up, vote requests held up to one election
/// timeout and the leader's link to a follower cut again and again (so
/// followers lag). The restarted node comes back inside the term it
/// won, so a vote it or its voters did not make durable is given again
/// and the term gets a second leader (`forget-vote`,
/// `self-vote-not-persisted`); a late request of a rival candidate
/// reaches a lagging voter after it has stepped down in the same term
/// (`vote-cleared-on-step-down`). Bounces and crashes at the vote points
/// themselves are left out: in scripted runs of a 3-node self-test (200
/// seeds, docs/bugs.md) `became_leader` crashes with leader crashes and
/// lined-up timers failed 90 seeds of `forget-vote`, adding crashes at
/// the four vote points 30, bounces every 20 ms instead 8.
fn vote_durability(f: &mut Features, rng: &mut SimRng, spec: &ScenarioSpec) {
    if resizable(spec) {
        f.nodes = Some(3);
    }
    let (emin, emax, _) = timeouts(spec, f);
    let every = round(uniform(rng, 2.0, 3.5) * emax, 1);
    f.leader_crash = Some(Repeat::crash(
        round(2.0 * emax, 1),
        every,
        round(uniform(rng, 0.25, 0.5) * emin, 2),
    ));
    f.crash_at = Some(CrashAtFeature {
        points: vec![CrashPoint::BecameLeader.name().to_string()],
        probability: round(uniform(rng, 0.4, 0.6), 3),
        restart_after_ms: [0.0, round(2.0 * (emin / 20.0).max(1.0), 2)],
    });
    f.pattern = Some(PatternFeature::AlignTimers {
        probability: round(uniform(rng, 0.1, 0.3), 3),
        within_ms: round(rng.unit(), 3),
    });
    f.message = Some(MessageFeature {
        message_kind: "request_vote".into(),
        probability: round(uniform(rng, 0.2, 0.4), 3),
        duplicate: false,
        delay_ms: [0.0, round(uniform(rng, 0.75, 1.0) * emin, 2)],
    });
    let every = round(uniform(rng, 1.0, 1.5) * emin, 1);
    f.leader_link_cut = Some(Repeat::cut(
        round(2.0 * emax, 1),
        every,
        round(uniform(rng, 1.5, 2.0) * emin, 2),
    ));
}
