//! The cluster's process settings and the clock model.

use super::Problems;
use crate::scenario::types::*;

pub(super) fn cluster(p: &mut Problems, c: &ClusterSpec) {
    p.non_neg("cluster.start_jitter_ms", c.start_jitter_ms);
    if let Some(h) = &c.heartbeat {
        p.positive("cluster.heartbeat.interval_ms", h.interval_ms);
        if c.process != ProcessKind::Heartbeat {
            p.add(
                "cluster.heartbeat",
                "heartbeat settings need \"process\": \"heartbeat\"",
            );
        }
    }
    if let Some(r) = &c.raft {
        if c.process != ProcessKind::Raft {
            p.add("cluster.raft", "raft settings need \"process\": \"raft\"");
        }
        p.positive_range("cluster.raft.election_timeout_ms", r.election_timeout_ms);
        p.positive("cluster.raft.heartbeat_ms", r.heartbeat_ms);
        if r.max_entries_per_append == 0 {
            p.add("cluster.raft.max_entries_per_append", "must be at least 1");
        }
        if r.max_inflight_appends == 0 {
            p.add("cluster.raft.max_inflight_appends", "must be at least 1");
        }
    }
}

/// Drift within ±1000 ppm (a clock off by more is broken, not drifting);
/// timer jitter non-negative and at most the minimum election timeout
/// (more would make every timeout a different experiment).
pub(super) fn clocks(p: &mut Problems, c: &ClocksSpec, cluster: &ClusterSpec) {
    let [lo, hi] = c.drift_ppm;
    for (i, v) in [lo, hi].into_iter().enumerate() {
        if !v.is_finite() || !(-1000.0..=1000.0).contains(&v) {
            p.add(
                format!("clocks.drift_ppm[{i}]"),
                format!("drift must be within [-1000, 1000] ppm, got {v}"),
            );
        }
    }
    if lo > hi {
        p.add(
            "clocks.drift_ppm",
            format!("min {lo} is greater than max {hi}"),
        );
    }
    let [jlo, jhi] = c.timer_jitter_us;
    p.non_neg("clocks.timer_jitter_us[0]", jlo);
    p.non_neg("clocks.timer_jitter_us[1]", jhi);
    if jlo > jhi {
        p.add(
            "clocks.timer_jitter_us",
            format!("min {jlo} is greater than max {jhi}"),
        );
    }
    if cluster.process == ProcessKind::Raft {
        let min_timeout_us = cluster
            .raft
            .as_ref()
            .map_or(RaftSpec::default(), |r| r.clone())
            .election_timeout_ms[0]
            * 1000.0;
        if jhi > min_timeout_us {
            p.add(
                "clocks.timer_jitter_us[1]",
                format!(
                    "timer jitter {jhi} µs exceeds the minimum election timeout ({min_timeout_us} µs)"
                ),
            );
        }
    }
}
