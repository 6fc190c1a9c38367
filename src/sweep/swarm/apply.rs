//! Putting a draw into a scenario: the nemesis and rates replaced, the
//! features turned into scenario settings and scripted faults (so the
//! failure file's scenario replays with nothing else).

use super::features::{timeouts, Features, PatternFeature, Repeat};
use super::SwarmDraw;
use crate::process::CrashPoint;
use crate::scenario::{
    CrashAtSpec, DiskSpec, DistSpec, FaultKind, FaultSpec, MessagePatternSpec, MessageSpec,
    NemesisSpec, ScenarioSpec, TargetSpec,
};

/// A repeating fault of `kind` on `node` with `r`'s timing.
fn repeating(kind: FaultKind, r: &Repeat) -> FaultSpec {
    let mut f = FaultSpec::new(r.at_ms, kind);
    f.every_ms = Some(r.every_ms);
    f.jitter_ms = Some(r.jitter_ms);
    f.restart_after_ms = r.restart_after_ms;
    f.for_ms = r.for_ms;
    f
}

/// Put the features into a scenario (after [`apply`]).
fn apply_features(spec: &mut ScenarioSpec, f: &Features) {
    if f.is_empty() {
        return;
    }
    let (emin, emax, hb) = timeouts(spec, f);
    if let Some(n) = f.nodes {
        spec.cluster.nodes = n;
    }
    let raft = spec.cluster.raft.get_or_insert_with(Default::default);
    if let Some(m) = f.max_entries_per_append {
        raft.max_entries_per_append = m;
    }
    if f.timeout_ratio.is_some() {
        raft.election_timeout_ms = [emin, emax];
        raft.heartbeat_ms = hb;
    }
    if let Some([lo, hi]) = f.disk_sync_ms {
        spec.disk = DiskSpec {
            sync_ms: DistSpec::Uniform { min: lo, max: hi },
        };
    }
    if let Some(r) = &f.bounce {
        let mut c = repeating(FaultKind::Crash, r);
        c.node = Some(TargetSpec::Random);
        spec.faults.push(c);
    }
    if let Some(r) = &f.leader_crash {
        let mut c = repeating(FaultKind::Crash, r);
        c.node = Some(TargetSpec::Leader);
        spec.faults.push(c);
    }
    if let Some(r) = &f.leader_link_cut {
        let mut c = repeating(FaultKind::Link, r);
        c.from = Some(TargetSpec::Leader);
        c.to = Some(TargetSpec::Follower);
        spec.faults.push(c);
    }
    // Protocol-event faults are armed from the start; on a scenario with
    // a fault-free tail they end where the nemesis stops.
    let until = spec.nemesis.as_ref().and_then(|n| n.until_ms);
    if let Some(c) = &f.crash_at {
        for point in &c.points {
            let mut x = FaultSpec::new(0.0, FaultKind::CrashAt);
            x.for_ms = until;
            x.crash_at = Some(CrashAtSpec {
                point: point.clone(),
                probability: c.probability,
                restart_after_ms: Some(c.restart_after_ms),
                node: None,
                k: None,
            });
            spec.faults.push(x);
        }
    }
    if let Some(m) = &f.message {
        let mut x = FaultSpec::new(0.0, FaultKind::Message);
        x.for_ms = until;
        x.message = Some(MessageSpec {
            message_kind: m.message_kind.clone(),
            probability: m.probability,
            duplicate_ms: m.duplicate.then_some(m.delay_ms),
            delay_ms: (!m.duplicate).then_some(m.delay_ms),
            pattern: None,
            within_ms: None,
        });
        spec.faults.push(x);
    }
    if let Some(p) = &f.pattern {
        spec.faults.push(pattern_fault(p, until));
    }
    // Repeating faults run to the end, so nothing of them is later than
    // the run; a first firing past the end would be refused.
    let end = spec.duration_ms;
    spec.faults.retain(|f| f.at_ms <= end);
}

/// The fault a pattern feature adds, armed from the start (until
/// `until`, the scenario's fault-free tail, if any).
fn pattern_fault(p: &PatternFeature, until: Option<f64>) -> FaultSpec {
    let message = |pattern, probability, delay_ms, within_ms| MessageSpec {
        message_kind: "append_entries".into(),
        probability,
        duplicate_ms: None,
        delay_ms,
        pattern: Some(pattern),
        within_ms,
    };
    let mut x = match *p {
        PatternFeature::BareMajority {
            probability,
            delay_ms,
        } => {
            let mut x = FaultSpec::new(0.0, FaultKind::Message);
            x.message = Some(message(
                MessagePatternSpec::BareMajority,
                probability,
                Some(delay_ms),
                None,
            ));
            x
        }
        PatternFeature::AlignTimers {
            probability,
            within_ms,
        } => {
            let mut x = FaultSpec::new(0.0, FaultKind::Message);
            x.message = Some(message(
                MessagePatternSpec::AlignTimers,
                probability,
                None,
                Some(within_ms),
            ));
            x
        }
        PatternFeature::KthAck {
            k,
            probability,
            restart_after_ms,
        } => {
            let mut x = FaultSpec::new(0.0, FaultKind::CrashAt);
            x.crash_at = Some(CrashAtSpec {
                point: CrashPoint::AckReceived.name().to_string(),
                probability,
                restart_after_ms: Some(restart_after_ms),
                node: None,
                k: Some(k),
            });
            x
        }
    };
    x.for_ms = until;
    x
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
    apply_features(spec, &d.features);
}
