//! Semantic checks the types cannot express: ranges, cross references,
//! per-kind fault fields. Each problem is reported with its field path.
//! One file per concept; this one holds the entry point, the bug names and
//! the shared checks ([`Problems`]).

mod cluster;
mod faults;
mod hardening;
mod network;
mod workflow;
mod workload;

pub use hardening::{
    is_name_char, MAX_NAME_BYTES, MAX_RATE_PER_S, MAX_TIME_MS, TIME_RESOLUTION_MS,
};

use super::types::*;
use crate::collab::CoordBug;
use cluster::{clocks, cluster};
use faults::{fault, nemesis, Addresses};
use hardening::hardening;
use network::{dist, network};
use workflow::workflow;
use workload::{expect, workload};

/// Raft bug names accepted by `bug` / `--bug` (any `"process": "raft"`
/// scenario).
pub const BUG_NAMES: [&str; 17] = [
    "commit-previous-term",
    "forget-vote",
    "skip-log-check",
    "stale-read",
    "leader-truncates-tail",
    "commit-past-match",
    "forget-term",
    "vote-cleared-on-step-down",
    "torn-vote-write",
    "self-vote-not-persisted",
    "dup-vote-count",
    "stale-term-vote",
    "up-to-date-and",
    "quorum-mode",
    "stale-append-truncate",
    "ack-before-fsync",
    // Last: error messages list the coordinator bugs right after it.
    "double-vote",
];

/// Coordinator bug names accepted by `bug` / `--bug` (scenarios with a
/// `workflow`), in [`CoordBug::ALL`] order.
pub const COORD_BUG_NAMES: [&str; CoordBug::ALL.len()] = {
    let mut names = [""; CoordBug::ALL.len()];
    let mut i = 0;
    while i < names.len() {
        names[i] = CoordBug::ALL[i].name();
        i += 1;
    }
    names
};

/// Bugs that an AP (`"consistency": "ap"`) run still exercises and one of
/// its checks catches.
const AP_BUGS: [&str; 4] = [
    "coord-arbiter-first",
    "coord-ignore-deps",
    "coord-drop-dead-letter",
    "coord-ap-keep-local",
];

/// True if `name` is a Raft or a coordinator bug.
pub fn is_known_bug(name: &str) -> bool {
    BUG_NAMES.contains(&name) || COORD_BUG_NAMES.contains(&name)
}

/// Every bug name, Raft ones first, comma-separated (for error messages).
pub fn known_bugs() -> String {
    let all: Vec<&str> = BUG_NAMES.iter().chain(&COORD_BUG_NAMES).copied().collect();
    all.join(", ")
}

/// Shortest repetition of a scripted fault and shortest mean nemesis
/// interval, ms. Each firing is a record in the report's fault log, so
/// sub-millisecond repetition would grow it (and memory) faster than
/// anything it could show; a "bounce" every few ms is still allowed.
pub const MIN_FAULT_INTERVAL_MS: f64 = 1.0;

/// Most scripted faults in one scenario file.
pub const MAX_SCRIPTED_FAULTS: usize = 100_000;

/// Collects problems as (field path, message).
#[derive(Default)]
pub struct Problems(pub Vec<(String, String)>);

impl Problems {
    fn add(&mut self, path: impl Into<String>, msg: impl Into<String>) {
        self.0.push((path.into(), msg.into()));
    }

    fn prob(&mut self, path: &str, v: f64) {
        if !(0.0..=1.0).contains(&v) || v.is_nan() {
            self.add(path, format!("must be a probability in [0, 1], got {v}"));
        }
    }

    fn non_neg(&mut self, path: &str, v: f64) {
        if !v.is_finite() || v < 0.0 {
            self.add(path, format!("must be a finite number ≥ 0, got {v}"));
        }
    }

    fn positive(&mut self, path: &str, v: f64) {
        if !v.is_finite() || v <= 0.0 {
            self.add(path, format!("must be a finite number > 0, got {v}"));
        }
    }

    /// A `[min, max]` pair of positive numbers with min ≤ max.
    fn positive_range(&mut self, path: &str, [lo, hi]: [f64; 2]) {
        self.positive(&format!("{path}[0]"), lo);
        self.positive(&format!("{path}[1]"), hi);
        if lo > hi {
            self.add(path, format!("min {lo} is greater than max {hi}"));
        }
    }

    fn node(&mut self, path: &str, n: u32, nodes: u32) {
        if n >= nodes {
            self.add(
                path,
                format!(
                    "node index {n} is out of range: the cluster has {nodes} nodes (0..={})",
                    nodes.saturating_sub(1)
                ),
            );
        }
    }
}

/// Check a parsed scenario; returns every problem found.
pub fn validate(s: &ScenarioSpec) -> Problems {
    let mut p = Problems::default();
    if s.name.trim().is_empty() {
        p.add("name", "must not be empty");
    } else if s.name.contains(['/', '\\']) || s.name.starts_with('.') {
        p.add(
            "name",
            "must be usable as a folder name (no '/', '\\', leading '.')",
        );
    }
    p.positive("duration_ms", s.duration_ms);
    let nodes = s.cluster.nodes;
    if nodes == 0 {
        p.add("cluster.nodes", "must be at least 1");
    } else if nodes > 1000 {
        p.add(
            "cluster.nodes",
            format!("at most 1000 nodes are supported, got {nodes}"),
        );
    }
    cluster(&mut p, &s.cluster);
    network(&mut p, &s.network, nodes);
    dist(&mut p, "disk.sync_ms", &s.disk.sync_ms);
    if s.faults.len() > MAX_SCRIPTED_FAULTS {
        p.add(
            "faults",
            format!(
                "at most {MAX_SCRIPTED_FAULTS} scripted faults, got {} (use `every_ms` to repeat one, or a `nemesis`)",
                s.faults.len()
            ),
        );
    }
    let at = Addresses {
        nodes,
        agents: s.workflow.as_ref().map_or(0, |w| {
            w.agents
                .iter()
                .fold(0u32, |sum, g| sum.saturating_add(g.count))
        }),
    };
    for (i, f) in s.faults.iter().enumerate().take(MAX_SCRIPTED_FAULTS) {
        fault(&mut p, &format!("faults[{i}]"), f, at, s.duration_ms);
    }
    if let Some(n) = &s.nemesis {
        nemesis(&mut p, n, at, s.duration_ms);
    }
    if let Some(c) = &s.clocks {
        clocks(&mut p, c, &s.cluster);
    }
    for (i, f) in s.faults.iter().enumerate() {
        if f.stable_ms.is_some() && s.cluster.process != ProcessKind::Raft {
            p.add(
                format!("faults[{i}].stable_ms"),
                "`stable_ms` waits for a settled Raft leader: it needs \"process\": \"raft\"",
            );
        }
    }
    if let Some(w) = &s.workload {
        if s.cluster.process != ProcessKind::Raft {
            p.add("workload", "a client workload needs \"process\": \"raft\"");
        }
        workload(&mut p, w);
    }
    if let Some(e) = &s.expect {
        expect(&mut p, e, s);
    }
    if let Some(l) = &s.limits {
        if l.max_events == Some(0) {
            p.add("limits.max_events", "must be at least 1");
        }
    }
    if let Some(w) = &s.workflow {
        if s.cluster.process != ProcessKind::Raft {
            p.add(
                "workflow",
                "a workflow needs \"process\": \"raft\" (the coordinator is a Raft cluster)",
            );
        }
        if s.workload.is_some() {
            p.add(
                "workload",
                "a scenario has either a KV `workload` or a `workflow`, not both",
            );
        }
        workflow(&mut p, w, s.duration_ms);
    }
    if let Some(b) = &s.bug {
        if !is_known_bug(b) {
            p.add("bug", format!("unknown bug {b:?}; known: {}", known_bugs()));
        } else if BUG_NAMES.contains(&b.as_str()) && s.cluster.process != ProcessKind::Raft {
            p.add(
                "bug",
                "Raft bug variants exist only for \"process\": \"raft\"",
            );
        } else if s
            .workflow
            .as_ref()
            .is_some_and(|w| w.consistency == ConsistencySpec::Ap)
            && !AP_BUGS.contains(&b.as_str())
        {
            p.add(
                "bug",
                format!(
                    "{b:?} has nothing to break under \"consistency\": \"ap\" (no Raft, no snapshots, exactly-once waived); AP takes: {}",
                    AP_BUGS.join(", ")
                ),
            );
        } else if b == CoordBug::ApKeepLocal.name()
            && s.workflow
                .as_ref()
                .is_some_and(|w| w.consistency != ConsistencySpec::Ap)
        {
            p.add(
                "bug",
                format!("{b:?} breaks the AP merge: it needs \"consistency\": \"ap\""),
            );
        } else if COORD_BUG_NAMES.contains(&b.as_str()) && s.workflow.is_none() {
            p.add(
                "bug",
                format!(
                    "{b:?} is a coordinator bug: it needs a `workflow` block (the Raft bugs {} work without one)",
                    BUG_NAMES.join(", ")
                ),
            );
        }
    }
    hardening(&mut p, s);
    p
}
