//! Semantic checks the types cannot express: ranges, cross references,
//! per-kind fault fields. Each problem is reported with its field path.

use super::types::*;
use crate::collab::CoordBug;

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
    for (i, f) in s.faults.iter().enumerate().take(MAX_SCRIPTED_FAULTS) {
        fault(&mut p, &format!("faults[{i}]"), f, nodes, s.duration_ms);
    }
    if let Some(n) = &s.nemesis {
        nemesis(&mut p, n, nodes, s.duration_ms);
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

/// Every `expect` field is either checked by the run kind it appears in or
/// refused here, naming the field: a silently ignored expectation would
/// read as a passed one.
fn expect(p: &mut Problems, e: &ExpectSpec, s: &ScenarioSpec) {
    if let Some(v) = e.min_delivery_ratio {
        p.prob("expect.min_delivery_ratio", v);
    }
    if let Some(v) = e.min_availability {
        p.prob("expect.min_availability", v);
    }
    if let Some(v) = e.leader_within_ms_after_heal {
        p.positive("expect.leader_within_ms_after_heal", v);
    }
    if let Some(v) = e.progress_within_ms_after_heal {
        p.positive("expect.progress_within_ms_after_heal", v);
    }
    let raft = s.cluster.process == ProcessKind::Raft;
    let ap = s
        .workflow
        .as_ref()
        .is_some_and(|w| w.consistency == ConsistencySpec::Ap);
    // (field, set, needs: a Raft leader / a KV client workload)
    let leader_fields = [
        (
            "leader_within_ms_after_heal",
            e.leader_within_ms_after_heal.is_some(),
        ),
        (
            "max_elections_after_heal",
            e.max_elections_after_heal.is_some(),
        ),
    ];
    for (name, set) in leader_fields {
        if !set {
            continue;
        }
        if !raft {
            p.add(
                format!("expect.{name}"),
                "needs \"process\": \"raft\" (a heartbeat mesh has no leader)",
            );
        } else if ap {
            p.add(
                format!("expect.{name}"),
                "has no meaning under \"consistency\": \"ap\" (no Raft leader, no elections)",
            );
        }
    }
    let workload_fields = [
        (
            "progress_within_ms_after_heal",
            e.progress_within_ms_after_heal.is_some(),
        ),
        ("min_availability", e.min_availability.is_some()),
    ];
    for (name, set) in workload_fields {
        if set && s.workload.is_none() {
            p.add(
                format!("expect.{name}"),
                "needs a client `workload` (it measures client operations)",
            );
        }
    }
}

fn cluster(p: &mut Problems, c: &ClusterSpec) {
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
fn clocks(p: &mut Problems, c: &ClocksSpec, cluster: &ClusterSpec) {
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

fn dist(p: &mut Problems, path: &str, d: &DistSpec) {
    match *d {
        DistSpec::Fixed { value } => p.non_neg(&format!("{path}.value"), value),
        DistSpec::Uniform { min, max } => {
            p.non_neg(&format!("{path}.min"), min);
            p.non_neg(&format!("{path}.max"), max);
            if min > max {
                p.add(path, format!("min {min} is greater than max {max}"));
            }
        }
        DistSpec::Normal { mean, stddev } => {
            p.non_neg(&format!("{path}.mean"), mean);
            p.non_neg(&format!("{path}.stddev"), stddev);
        }
        DistSpec::Exponential { mean } => p.positive(&format!("{path}.mean"), mean),
        DistSpec::Lognormal { median, sigma } => {
            p.positive(&format!("{path}.median"), median);
            p.non_neg(&format!("{path}.sigma"), sigma);
        }
        DistSpec::Pareto { scale, shape } => {
            p.positive(&format!("{path}.scale"), scale);
            p.positive(&format!("{path}.shape"), shape);
        }
    }
}

fn network(p: &mut Problems, n: &NetworkSpec, nodes: u32) {
    dist(p, "network.latency_ms", &n.latency_ms);
    p.prob("network.drop", n.drop);
    p.prob("network.duplicate", n.duplicate);
    for (i, l) in n.links.iter().enumerate() {
        let base = format!("network.links[{i}]");
        p.node(&format!("{base}.from"), l.from, nodes);
        p.node(&format!("{base}.to"), l.to, nodes);
        if l.from == l.to {
            p.add(format!("{base}.to"), "a link joins two different nodes");
        }
        if let Some(d) = &l.latency_ms {
            dist(p, &format!("{base}.latency_ms"), d);
        }
        if let Some(v) = l.drop {
            p.prob(&format!("{base}.drop"), v);
        }
        if let Some(v) = l.duplicate {
            p.prob(&format!("{base}.duplicate"), v);
        }
    }
}

fn target(p: &mut Problems, path: &str, t: TargetSpec, nodes: u32, minority_ok: bool) {
    match t {
        TargetSpec::Index(i) => p.node(path, i, nodes),
        TargetSpec::Minority if !minority_ok => {
            p.add(path, "\"minority\" is only valid for crash and pause")
        }
        _ => {}
    }
}

fn fault(p: &mut Problems, base: &str, f: &FaultSpec, nodes: u32, duration: f64) {
    let at = format!("{base}.at_ms");
    p.non_neg(&at, f.at_ms);
    if f.at_ms > duration {
        p.add(
            at,
            format!(
                "fault at {} ms is after the end of the run (duration_ms {duration})",
                f.at_ms
            ),
        );
    }
    // Which optional fields each kind accepts.
    use FaultKind::*;
    let allowed: &[&str] = match f.kind {
        Crash => &["node", "restart_after_ms"],
        Restart => &["node"],
        Pause => &["node", "for_ms"],
        Clock => &["node", "rate", "for_ms"],
        Partition => &["groups", "for_ms"],
        Isolate => &["node", "for_ms"],
        Link => &[
            "from",
            "to",
            "both_ways",
            "drop",
            "extra_latency_ms",
            "for_ms",
        ],
        Heal => &[],
    };
    let present = [
        ("node", f.node.is_some()),
        ("groups", f.groups.is_some()),
        ("from", f.from.is_some()),
        ("to", f.to.is_some()),
        ("both_ways", f.both_ways.is_some()),
        ("drop", f.drop.is_some()),
        ("extra_latency_ms", f.extra_latency_ms.is_some()),
        ("for_ms", f.for_ms.is_some()),
        ("restart_after_ms", f.restart_after_ms.is_some()),
        ("rate", f.rate.is_some()),
    ];
    let kind = serde_json::to_value(f.kind)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default();
    for (name, is) in present {
        if is && !allowed.contains(&name) {
            p.add(
                format!("{base}.{name}"),
                format!(
                    "field `{name}` does not apply to a `{kind}` fault (it takes: {})",
                    if allowed.is_empty() {
                        "no extra fields".to_string()
                    } else {
                        allowed.join(", ")
                    }
                ),
            );
        }
    }
    let need = |p: &mut Problems, name: &str, is: bool| {
        if !is {
            p.add(
                format!("{base}.{name}"),
                format!("a `{kind}` fault needs `{name}`"),
            );
        }
    };
    if allowed.contains(&"node") {
        need(p, "node", f.node.is_some());
    }
    if let Some(t) = f.node {
        target(
            p,
            &format!("{base}.node"),
            t,
            nodes,
            matches!(f.kind, Crash | Pause),
        );
    }
    if f.kind == Link {
        need(p, "from", f.from.is_some());
        need(p, "to", f.to.is_some());
        if let Some(t) = f.from {
            target(p, &format!("{base}.from"), t, nodes, false);
        }
        if let Some(t) = f.to {
            target(p, &format!("{base}.to"), t, nodes, false);
        }
        if let (Some(TargetSpec::Index(a)), Some(TargetSpec::Index(b))) = (f.from, f.to) {
            if a == b {
                p.add(format!("{base}.to"), "a link joins two different nodes");
            }
        }
    }
    if f.kind == Pause {
        need(p, "for_ms", f.for_ms.is_some());
    }
    if f.kind == Clock {
        need(p, "rate", f.rate.is_some());
    }
    if f.kind == Partition {
        need(p, "groups", f.groups.is_some());
    }
    if let Some(g) = &f.groups {
        groups(p, &format!("{base}.groups"), g, nodes);
    }
    if let Some(v) = f.drop {
        p.prob(&format!("{base}.drop"), v);
    }
    for (name, v) in [
        ("extra_latency_ms", f.extra_latency_ms),
        ("restart_after_ms", f.restart_after_ms),
        ("jitter_ms", f.jitter_ms),
    ] {
        if let Some(v) = v {
            p.non_neg(&format!("{base}.{name}"), v);
        }
    }
    for (name, v) in [("for_ms", f.for_ms), ("every_ms", f.every_ms)] {
        if let Some(v) = v {
            p.positive(&format!("{base}.{name}"), v);
        }
    }
    if let Some(v) = f
        .every_ms
        .filter(|v| *v > 0.0 && *v < MIN_FAULT_INTERVAL_MS)
    {
        p.add(
            format!("{base}.every_ms"),
            format!(
                "a fault repeats at most once per {MIN_FAULT_INTERVAL_MS} ms, got {v} ms (every firing is a record in the report's fault log)"
            ),
        );
    }
    if let Some(v) = f.stable_ms {
        p.positive(&format!("{base}.stable_ms"), v);
        if f.every_ms.is_none() {
            p.add(
                format!("{base}.stable_ms"),
                "`stable_ms` only applies to repeating faults (`every_ms`)",
            );
        }
    }
    if f.jitter_ms.is_some() && f.every_ms.is_none() {
        p.add(
            format!("{base}.jitter_ms"),
            "`jitter_ms` only applies to repeating faults (`every_ms`)",
        );
    }
    if let Some(r) = f.rate {
        if !(0.1..=10.0).contains(&r) {
            p.add(
                format!("{base}.rate"),
                format!("clock rate must be in [0.1, 10], got {r}"),
            );
        }
    }
}

fn groups(p: &mut Problems, path: &str, groups: &[Vec<u32>], nodes: u32) {
    // Over the limit `cluster.nodes` is already reported; sizing `seen` by it could abort.
    let nodes = nodes.min(1000);
    if groups.len() < 2 {
        p.add(path, "a partition needs at least two groups");
    }
    let mut seen = vec![None; nodes as usize];
    for (gi, g) in groups.iter().enumerate() {
        if g.is_empty() {
            p.add(
                format!("{path}[{gi}]"),
                "a partition group must not be empty",
            );
        }
        for (ni, &n) in g.iter().enumerate() {
            let here = format!("{path}[{gi}][{ni}]");
            if n >= nodes {
                p.node(&here, n, nodes);
                continue;
            }
            if let Some(prev) = seen[n as usize] {
                p.add(
                    here,
                    format!("node {n} is in more than one group (also group {prev})"),
                );
            } else {
                seen[n as usize] = Some(gi);
            }
        }
    }
    let missing: Vec<String> = (0..nodes)
        .filter(|&n| seen[n as usize].is_none())
        .map(|n| n.to_string())
        .collect();
    if !missing.is_empty() && groups.len() >= 2 {
        p.add(
            path,
            format!(
                "groups must cover every node; missing: {}",
                missing.join(", ")
            ),
        );
    }
}

fn nemesis(p: &mut Problems, n: &NemesisSpec, nodes: u32, duration: f64) {
    p.positive("nemesis.mean_interval_ms", n.mean_interval_ms);
    if n.mean_interval_ms > 0.0 && n.mean_interval_ms < MIN_FAULT_INTERVAL_MS {
        p.add(
            "nemesis.mean_interval_ms",
            format!(
                "the nemesis draws at most one fault per {MIN_FAULT_INTERVAL_MS} ms on average, got {} ms (every draw is a record in the report's fault log)",
                n.mean_interval_ms
            ),
        );
    }
    if let Some(u) = n.until_ms {
        p.positive("nemesis.until_ms", u);
        if u > duration {
            p.add(
                "nemesis.until_ms",
                format!("{u} is after the end of the run (duration_ms {duration})"),
            );
        }
    }
    if n.kinds.is_empty() {
        p.add("nemesis.kinds", "must list at least one kind");
    }
    p.positive_range("nemesis.duration_ms", n.duration_ms);
    if let Some(m) = n.max_down {
        if m > nodes {
            p.add(
                "nemesis.max_down",
                format!("{m} is more than the {nodes} nodes"),
            );
        }
    }
}

fn workload(p: &mut Problems, w: &WorkloadSpec) {
    if w.clients == 0 {
        p.add("workload.clients", "must be at least 1");
    } else if w.clients > 10_000 {
        p.add("workload.clients", "at most 10000 clients are supported");
    }
    p.positive("workload.rate_per_s", w.rate_per_s);
    p.prob("workload.mix.read", w.mix.read);
    p.prob("workload.mix.write", w.mix.write);
    p.prob("workload.mix.cas", w.mix.cas);
    if w.mix.read + w.mix.write + w.mix.cas <= 0.0 {
        p.add("workload.mix", "at least one weight must be positive");
    }
    if w.keys == 0 {
        p.add("workload.keys", "must be at least 1");
    }
    p.positive("workload.timeout_ms", w.timeout_ms);
}

/// Most agents and tasks a workflow scenario may ask for.
const MAX_AGENTS: u64 = 100_000;
const MAX_TASKS: u64 = 2_000_000;

fn workflow(p: &mut Problems, w: &WorkflowSpec, duration_ms: f64) {
    if let Some(ap) = &w.ap {
        if w.consistency != ConsistencySpec::Ap {
            p.add("workflow.ap", "only used with \"consistency\": \"ap\"");
        }
        if ap.gossip_ms.is_nan() || ap.gossip_ms < 1.0 {
            p.add("workflow.ap.gossip_ms", "must be at least 1 ms");
        }
        if ap.suspect_ms.is_nan() || ap.suspect_ms < 2.0 * ap.gossip_ms {
            p.add(
                "workflow.ap.suspect_ms",
                "must be at least twice gossip_ms (a live peer would look down between two rounds)",
            );
        }
    }
    if w.agents.is_empty() {
        p.add("workflow.agents", "must list at least one agent group");
    }
    let mut total_agents = 0u64;
    let mut skills: Vec<&str> = Vec::new();
    for (i, a) in w.agents.iter().enumerate() {
        let base = format!("workflow.agents[{i}]");
        if a.name.trim().is_empty() {
            p.add(format!("{base}.name"), "must not be empty");
        }
        if a.count == 0 {
            p.add(format!("{base}.count"), "must be at least 1");
        }
        total_agents += u64::from(a.count);
        if a.skills.is_empty() {
            p.add(
                format!("{base}.skills"),
                "an agent needs at least one skill",
            );
        }
        for sk in &a.skills {
            if !skills.contains(&sk.as_str()) {
                skills.push(sk);
            }
        }
        p.prob(&format!("{base}.accuracy"), a.accuracy);
        p.prob(&format!("{base}.availability"), a.availability);
        dist(p, &format!("{base}.latency_ms"), &a.latency_ms);
        dist(p, &format!("{base}.tokens"), &a.tokens);
        if let Some(t) = a.fail_at_ms {
            p.non_neg(&format!("{base}.fail_at_ms"), t);
        }
        if let Some(c) = a.fail_count {
            if a.fail_at_ms.is_none() {
                p.add(format!("{base}.fail_count"), "needs `fail_at_ms`");
            }
            if c > a.count {
                p.add(
                    format!("{base}.fail_count"),
                    format!("{c} is more than the group's {} agents", a.count),
                );
            }
        }
    }
    if total_agents > MAX_AGENTS {
        p.add(
            "workflow.agents",
            format!("at most {MAX_AGENTS} agents are supported, got {total_agents}"),
        );
    }
    if w.stages.is_empty() {
        p.add("workflow.stages", "must list at least one stage");
    }
    if w.stages.len() > 1000 {
        p.add("workflow.stages", "at most 1000 stages are supported");
    }
    let index = |id: &str| w.stages.iter().position(|s| s.id == id);
    let mut deps: Vec<Vec<usize>> = vec![Vec::new(); w.stages.len()];
    for (i, st) in w.stages.iter().enumerate() {
        let base = format!("workflow.stages[{i}]");
        if st.id.trim().is_empty() {
            p.add(format!("{base}.id"), "must not be empty");
        } else if index(&st.id) != Some(i) {
            p.add(
                format!("{base}.id"),
                format!("duplicate stage id {:?}", st.id),
            );
        }
        if !skills.contains(&st.skill.as_str()) {
            p.add(
                format!("{base}.skill"),
                format!(
                    "no agent has skill {:?} (offered: {})",
                    st.skill,
                    skills.join(", ")
                ),
            );
        }
        p.positive(&format!("{base}.size"), st.size);
        for (j, a) in st.after.iter().enumerate() {
            match index(a) {
                Some(d) if d == i => p.add(
                    format!("{base}.after[{j}]"),
                    "a stage cannot depend on itself",
                ),
                Some(d) => deps[i].push(d),
                None => p.add(format!("{base}.after[{j}]"), format!("unknown stage {a:?}")),
            }
        }
        if let Some(b) = &st.branch {
            p.prob(&format!("{base}.branch.threshold"), b.threshold);
            for (field, target) in [("above", &b.above), ("below", &b.below)] {
                match index(target) {
                    Some(t) if t == i => p.add(
                        format!("{base}.branch.{field}"),
                        "a stage cannot route to itself",
                    ),
                    // A branch target runs after the branching stage.
                    Some(t) => deps[t].push(i),
                    None => p.add(
                        format!("{base}.branch.{field}"),
                        format!("unknown stage {target:?}"),
                    ),
                }
            }
            if b.above == b.below {
                p.add(
                    format!("{base}.branch"),
                    "`above` and `below` must be different stages",
                );
            }
        }
        if st.interrupt_before
            && w.approvals.iter().all(|a| a.stage != st.id)
            && w.human_delay_ms.is_none()
        {
            p.add(
                format!("{base}.interrupt_before"),
                "nothing would ever approve this stage: add an `approvals` entry for it or `human_delay_ms`",
            );
        }
    }
    if let Err(cycle) = crate::collab::modes::pipeline::order_of(&deps) {
        let names: Vec<&str> = cycle.iter().map(|&i| w.stages[i].id.as_str()).collect();
        p.add(
            "workflow.stages",
            format!("the stages form a cycle: {}", names.join(" → ")),
        );
    }
    let a = &w.arrivals;
    if a.workflows == 0 {
        p.add("workflow.arrivals.workflows", "must be at least 1");
    }
    p.positive("workflow.arrivals.rate_per_s", a.rate_per_s);
    p.prob("workflow.arrivals.critical_fraction", a.critical_fraction);
    if let Some(d) = &a.size {
        dist(p, "workflow.arrivals.size", d);
    }
    let per_wf = w.stages.len() as u64 * (u64::from(w.arbiter.k) + 3);
    if u64::from(a.workflows) * per_wf > MAX_TASKS {
        p.add(
            "workflow.arrivals.workflows",
            format!(
                "{} workflows of {} stages is more than {MAX_TASKS} tasks",
                a.workflows,
                w.stages.len()
            ),
        );
    }
    let r = &w.retry;
    if !(1..=10).contains(&r.max_attempts) {
        p.add("workflow.retry.max_attempts", "must be in 1..=10");
    }
    if !(1..=100).contains(&r.task_attempts) {
        p.add("workflow.retry.task_attempts", "must be in 1..=100");
    }
    if r.redrives > 10 {
        p.add("workflow.retry.redrives", "must be at most 10");
    }
    let [lo, hi] = r.backoff_ms;
    p.positive("workflow.retry.backoff_ms[0]", lo);
    p.positive("workflow.retry.backoff_ms[1]", hi);
    if lo > hi {
        p.add(
            "workflow.retry.backoff_ms",
            format!("min {lo} is greater than max {hi}"),
        );
    }
    if w.breaker.failures == 0 {
        p.add("workflow.breaker.failures", "must be at least 1");
    }
    p.positive("workflow.breaker.open_ms", w.breaker.open_ms);
    let ar = &w.arbiter;
    for (name, v) in [
        ("relevance", ar.weights.relevance),
        ("innovation", ar.weights.innovation),
        ("feasibility", ar.weights.feasibility),
    ] {
        p.non_neg(&format!("workflow.arbiter.weights.{name}"), v);
    }
    if ar.weights.relevance + ar.weights.innovation + ar.weights.feasibility <= 0.0 {
        p.add(
            "workflow.arbiter.weights",
            "at least one weight must be positive",
        );
    }
    if !(1..=16).contains(&ar.k) {
        p.add("workflow.arbiter.k", "must be in 1..=16");
    }
    p.positive("workflow.arbiter.deadline_ms", ar.deadline_ms);
    p.non_neg("workflow.arbiter.cost_per_1k_tokens", ar.cost_per_1k_tokens);
    if !(1..=1024).contains(&w.division.batch) {
        p.add("workflow.division.batch", "must be in 1..=1024");
    }
    p.non_neg(
        "workflow.hybrid.competitive_above",
        w.hybrid.competitive_above,
    );
    p.non_neg("workflow.hybrid.division_below", w.hybrid.division_below);
    for (i, ap) in w.approvals.iter().enumerate() {
        p.non_neg(&format!("workflow.approvals[{i}].at_ms"), ap.at_ms);
        if ap.at_ms > duration_ms {
            p.add(
                format!("workflow.approvals[{i}].at_ms"),
                format!(
                    "{} is after the end of the run ({duration_ms} ms)",
                    ap.at_ms
                ),
            );
        }
        match index(&ap.stage) {
            Some(s) if !w.stages[s].interrupt_before => p.add(
                format!("workflow.approvals[{i}].stage"),
                format!("stage {:?} has no `interrupt_before`", ap.stage),
            ),
            Some(_) => {}
            None => p.add(
                format!("workflow.approvals[{i}].stage"),
                format!("unknown stage {:?}", ap.stage),
            ),
        }
    }
    if let Some(d) = &w.human_delay_ms {
        dist(p, "workflow.human_delay_ms", d);
    }
    p.positive("workflow.agent_heartbeat_ms", w.agent_heartbeat_ms);
    p.positive("workflow.agent_timeout_ms", w.agent_timeout_ms);
    if w.agent_timeout_ms <= w.agent_heartbeat_ms {
        p.add(
            "workflow.agent_timeout_ms",
            "must be longer than `agent_heartbeat_ms` (or every agent looks lost)",
        );
    }
    if !(1..=64).contains(&w.agent_slots) {
        p.add("workflow.agent_slots", "must be in 1..=64");
    }
    if w.tick_ms.is_nan() || w.tick_ms < 1.0 {
        p.add("workflow.tick_ms", "must be at least 1 ms");
    }
}

// ---------------------------------------------------------------------
// Hardening: resolution and bounds of every time field, safe names, and
// the preconditions the protocol configs assert when a run builds them.

/// Virtual time resolution: 1 µs. A positive time below it would round to
/// 0 µs (a zero-time loop), so it is refused.
pub const TIME_RESOLUTION_MS: f64 = 0.001;

/// Upper bound of every time field (`*_ms`), in ms: 7 simulated days. Far
/// above any useful run, far below where µs arithmetic could overflow.
pub const MAX_TIME_MS: f64 = 7.0 * 24.0 * 3600.0 * 1000.0;

/// Upper bound of every rate (`*_per_s`): one million per second.
pub const MAX_RATE_PER_S: f64 = 1e6;

/// Longest scenario name, in bytes.
pub const MAX_NAME_BYTES: usize = 128;

/// True for a character allowed in a scenario name: ASCII letters, digits,
/// `_`, `-`, `.`, `+`. The name becomes a folder name and is printed on
/// terminals, so nothing that a shell, a file system or a terminal treats
/// specially (no space, NUL, newline, escape, slash).
pub fn is_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | '+')
}

fn hardening(p: &mut Problems, s: &ScenarioSpec) {
    name(p, &s.name);
    for text in s.workflow.iter().flat_map(|w| {
        w.agents
            .iter()
            .enumerate()
            .map(|(i, a)| (format!("workflow.agents[{i}].name"), &a.name))
            .chain(
                w.stages
                    .iter()
                    .enumerate()
                    .map(|(i, st)| (format!("workflow.stages[{i}].id"), &st.id)),
            )
    }) {
        printable(p, &text.0, text.1);
    }
    if let Ok(v) = serde_json::to_value(s) {
        times(p, &v, "", false);
    }
    // Only a scenario that passed every other check is built: the messages
    // above are more precise, and building assumes them.
    if p.0.is_empty() {
        build_preconditions(p, s);
    }
}

fn name(p: &mut Problems, name: &str) {
    if name.len() > MAX_NAME_BYTES {
        p.add(
            "name",
            format!(
                "is {} bytes long; at most {MAX_NAME_BYTES} are allowed",
                name.len()
            ),
        );
    }
    if let Some(c) = name.chars().find(|&c| !is_name_char(c)) {
        p.add(
            "name",
            format!(
                "contains {:?}; a name may use only ASCII letters, digits and `_` `-` `.` `+` (it becomes a folder name)",
                c
            ),
        );
    }
}

/// Names printed in reports and on terminals: no control characters.
fn printable(p: &mut Problems, path: &str, text: &str) {
    if text.len() > 256 {
        p.add(path, "is longer than 256 bytes");
    }
    if let Some(c) = text.chars().find(|c| c.is_control()) {
        p.add(
            path,
            format!("contains the control character {c:?}; use printable text"),
        );
    }
}

/// Check every number under a key that names milliseconds (`*_ms`,
/// `*_ms_*`, and the numbers of a distribution or pair given in ms) for
/// the 1 µs resolution and the [`MAX_TIME_MS`] bound, and every `*_per_s`
/// rate for [`MAX_RATE_PER_S`]. Walking the serialized spec covers every
/// time field, including ones added later, by the naming rule (units last).
fn times(p: &mut Problems, v: &serde_json::Value, path: &str, in_ms: bool) {
    use serde_json::Value;
    match v {
        Value::Object(m) => {
            for (k, child) in m {
                let here = if path.is_empty() {
                    k.clone()
                } else {
                    format!("{path}.{k}")
                };
                // A distribution's shape parameters have no unit.
                let ms = k.ends_with("_ms")
                    || k.contains("_ms_")
                    || (in_ms && !matches!(k.as_str(), "sigma" | "shape"));
                if k.ends_with("_per_s") {
                    if let Some(r) = child.as_f64() {
                        if r > MAX_RATE_PER_S {
                            p.add(
                                here.clone(),
                                format!("{r} per second is above the limit of {MAX_RATE_PER_S}"),
                            );
                        }
                    }
                }
                times(p, child, &here, ms);
            }
        }
        Value::Array(a) => {
            for (i, child) in a.iter().enumerate() {
                times(p, child, &format!("{path}[{i}]"), in_ms);
            }
        }
        Value::Number(n) if in_ms => {
            let t = n.as_f64().unwrap_or(f64::NAN);
            if t > 0.0 && t < TIME_RESOLUTION_MS {
                p.add(
                    path,
                    format!(
                        "{t} ms is below the 1 µs time resolution (it would round to 0 µs); use 0 or at least {TIME_RESOLUTION_MS}"
                    ),
                );
            } else if t > MAX_TIME_MS {
                p.add(
                    path,
                    format!("{t} ms is above the limit of {MAX_TIME_MS} ms (7 days)"),
                );
            }
        }
        _ => {}
    }
}

/// Build the Raft and client configurations the run will build and check
/// them with the very functions whose preconditions their constructors
/// assert ([`crate::raft::RaftConfig::validate`],
/// [`crate::kv::client::ClientConfig::check`]): validation and build time
/// cannot disagree.
fn build_preconditions(p: &mut Problems, s: &ScenarioSpec) {
    if s.cluster.process != ProcessKind::Raft {
        return;
    }
    let raft = s.cluster.raft.clone().unwrap_or_default();
    let cfg = crate::runner::raft::raft_config(s.cluster.nodes, &raft, s.bug.as_deref());
    if let Err(e) = cfg.validate() {
        let path = if e.contains("heartbeat") {
            "cluster.raft.heartbeat_ms"
        } else {
            "cluster.raft"
        };
        p.add(path, format!("{e} (after rounding to whole µs)"));
    }
    if let Some(w) = &s.workload {
        let end =
            crate::time::SimTime::ZERO + crate::time::SimDuration::from_millis_f64(s.duration_ms);
        let c = crate::runner::raft::client_config(s.cluster.nodes, w, end);
        if let Err(e) = c.check() {
            p.add("workload", e);
        }
    }
}
