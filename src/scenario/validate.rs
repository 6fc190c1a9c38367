//! Semantic checks the types cannot express: ranges, cross references,
//! per-kind fault fields. Each problem is reported with its field path.

use super::types::*;

/// Names accepted by `bug` / `--bug`.
pub const BUG_NAMES: [&str; 5] = [
    "commit-previous-term",
    "forget-vote",
    "skip-log-check",
    "stale-read",
    "double-vote",
];

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
    for (i, f) in s.faults.iter().enumerate() {
        fault(&mut p, &format!("faults[{i}]"), f, nodes, s.duration_ms);
    }
    if let Some(n) = &s.nemesis {
        nemesis(&mut p, n, nodes);
    }
    if let Some(w) = &s.workload {
        if s.cluster.process != ProcessKind::Raft {
            p.add("workload", "a client workload needs \"process\": \"raft\"");
        }
        workload(&mut p, w);
    }
    if let Some(e) = &s.expect {
        if let Some(v) = e.min_delivery_ratio {
            p.prob("expect.min_delivery_ratio", v);
        }
        if let Some(v) = e.min_availability {
            p.prob("expect.min_availability", v);
        }
        if let Some(v) = e.leader_within_ms_after_heal {
            p.positive("expect.leader_within_ms_after_heal", v);
        }
        let raft_only = e.leader_within_ms_after_heal.is_some()
            || e.max_elections_after_heal.is_some()
            || e.min_availability.is_some();
        if raft_only && s.cluster.process != ProcessKind::Raft {
            p.add(
                "expect",
                "leader, election and availability expectations need \"process\": \"raft\"",
            );
        }
    }
    if let Some(b) = &s.bug {
        if !BUG_NAMES.contains(&b.as_str()) {
            p.add(
                "bug",
                format!("unknown bug {b:?}; known: {}", BUG_NAMES.join(", ")),
            );
        } else if s.cluster.process != ProcessKind::Raft {
            p.add("bug", "bug variants exist only for \"process\": \"raft\"");
        }
    }
    p
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

fn nemesis(p: &mut Problems, n: &NemesisSpec, nodes: u32) {
    p.positive("nemesis.mean_interval_ms", n.mean_interval_ms);
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
