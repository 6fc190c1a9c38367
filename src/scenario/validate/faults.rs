//! Scripted faults (per-kind fields, targets, partition groups) and the
//! nemesis.

use super::{Problems, MIN_FAULT_INTERVAL_MS};
use crate::scenario::types::*;

/// The servers and agents a fault can name: `cluster.nodes` servers and
/// the workflow's agents (0 without a workflow).
#[derive(Clone, Copy)]
pub(super) struct Addresses {
    pub(super) nodes: u32,
    pub(super) agents: u32,
}

fn agent(p: &mut Problems, path: &str, i: u32, agents: u32) {
    if agents == 0 {
        p.add(
            path,
            format!("agent {i} named, but this scenario has no agents (agent targets need a `workflow`)"),
        );
    } else if i >= agents {
        p.add(
            path,
            format!(
                "agent index {i} is out of range: the workflow has {agents} agents (agent:0..=agent:{})",
                agents - 1
            ),
        );
    }
}

fn target(p: &mut Problems, path: &str, t: TargetSpec, at: Addresses, minority_ok: bool) {
    match t {
        TargetSpec::Index(i) => p.node(path, i, at.nodes),
        TargetSpec::Minority if !minority_ok => {
            p.add(path, "\"minority\" is only valid for crash and pause")
        }
        TargetSpec::Agent(i) => agent(p, path, i, at.agents),
        TargetSpec::AnyAgent if at.agents == 0 => p.add(
            path,
            "\"agent:random\" needs agents, but this scenario has no `workflow`",
        ),
        TargetSpec::Agents(k) => {
            if at.agents == 0 {
                p.add(
                    path,
                    format!("\"agents:{k}\" needs agents, but this scenario has no `workflow`"),
                );
            } else if k == 0 || k > at.agents {
                p.add(
                    path,
                    format!(
                        "\"agents:{k}\" must name 1 to {} agents (the workflow has {})",
                        at.agents, at.agents
                    ),
                );
            }
        }
        _ => {}
    }
}

pub(super) fn fault(p: &mut Problems, base: &str, f: &FaultSpec, addr: Addresses, duration: f64) {
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
    let allowed = f.kind.fields();
    let present = [
        ("node", f.node.is_some()),
        ("groups", f.groups.is_some()),
        ("agents", f.agents.is_some()),
        ("from", f.from.is_some()),
        ("to", f.to.is_some()),
        ("both_ways", f.both_ways.is_some()),
        ("drop", f.drop.is_some()),
        ("extra_latency_ms", f.extra_latency_ms.is_some()),
        ("for_ms", f.for_ms.is_some()),
        ("restart_after_ms", f.restart_after_ms.is_some()),
        ("rate", f.rate.is_some()),
        ("crash_at", f.crash_at.is_some()),
        ("message", f.message.is_some()),
    ];
    let kind = f.kind.name();
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
            addr,
            matches!(f.kind, Crash | Pause),
        );
    }
    if f.kind == Link {
        need(p, "from", f.from.is_some());
        need(p, "to", f.to.is_some());
        for (name, t) in [("from", f.from), ("to", f.to)] {
            let Some(t) = t else { continue };
            let path = format!("{base}.{name}");
            if let TargetSpec::Agents(_) = t {
                p.add(&path, "a link has one node at each end: use \"agent:N\" or \"agent:random\", not \"agents:K\"");
            } else {
                target(p, &path, t, addr, false);
            }
        }
        match (f.from, f.to) {
            (Some(TargetSpec::Index(a)), Some(TargetSpec::Index(b)))
            | (Some(TargetSpec::Agent(a)), Some(TargetSpec::Agent(b)))
                if a == b =>
            {
                p.add(format!("{base}.to"), "a link joins two different nodes");
            }
            _ => {}
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
    if f.kind == CrashAt {
        need(p, "crash_at", f.crash_at.is_some());
    }
    if f.kind == Message {
        need(p, "message", f.message.is_some());
    }
    if matches!(f.kind, CrashAt | Message) && f.every_ms.is_some() {
        p.add(
            format!("{base}.every_ms"),
            format!(
                "a `{kind}` fault is armed once (use `for_ms` for a window), it does not repeat"
            ),
        );
    }
    if let Some(c) = &f.crash_at {
        crash_at(p, &format!("{base}.crash_at"), c, addr.nodes);
    }
    if let Some(m) = &f.message {
        message(p, &format!("{base}.message"), m);
    }
    if let Some(g) = &f.groups {
        groups(p, &format!("{base}.groups"), g, addr);
    }
    if f.agents.is_some() && addr.agents == 0 {
        p.add(
            format!("{base}.agents"),
            "agent placement needs agents, but this scenario has no `workflow`",
        );
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

/// A `[min, max]` pair of numbers ≥ 0 with min ≤ max.
fn range(p: &mut Problems, path: &str, [lo, hi]: [f64; 2]) {
    p.non_neg(&format!("{path}[0]"), lo);
    p.non_neg(&format!("{path}[1]"), hi);
    if lo > hi {
        p.add(path, format!("min {lo} is greater than max {hi}"));
    }
}

fn crash_at(p: &mut Problems, path: &str, c: &CrashAtSpec, nodes: u32) {
    if crate::process::CrashPoint::from_name(&c.point).is_none() {
        let names: Vec<&str> = crate::process::CrashPoint::ALL
            .iter()
            .map(|p| p.name())
            .collect();
        p.add(
            format!("{path}.point"),
            format!(
                "unknown crash point {:?} (known: {})",
                c.point,
                names.join(", ")
            ),
        );
    }
    p.prob(&format!("{path}.probability"), c.probability);
    if let Some(r) = c.restart_after_ms {
        range(p, &format!("{path}.restart_after_ms"), r);
    }
    if let Some(n) = c.node {
        p.node(&format!("{path}.node"), n, nodes);
    }
    if let Some(k) = c.k {
        if c.point != crate::process::CrashPoint::AckReceived.name() {
            p.add(
                format!("{path}.k"),
                format!(
                    "`k` (the k-th acknowledgement) only applies to the point \"ack_received\", not {:?}",
                    c.point
                ),
            );
        } else if k == 0 || k >= nodes.max(2) {
            p.add(
                format!("{path}.k"),
                format!(
                    "k must be in 1..={} (a follower count: the cluster has {nodes} nodes), got {k}",
                    nodes.max(2) - 1
                ),
            );
        }
    }
}

fn message(p: &mut Problems, path: &str, m: &MessageSpec) {
    let known = crate::raft::messages::KINDS;
    if !known.contains(&m.message_kind.as_str()) {
        p.add(
            format!("{path}.message_kind"),
            format!(
                "unknown message kind {:?} (known: {})",
                m.message_kind,
                known.join(", ")
            ),
        );
    }
    p.prob(&format!("{path}.probability"), m.probability);
    if m.within_ms.is_some() && m.pattern != Some(MessagePatternSpec::AlignTimers) {
        p.add(
            format!("{path}.within_ms"),
            "`within_ms` only applies to the pattern \"align_timers\"",
        );
    }
    match m.pattern {
        None => {}
        Some(MessagePatternSpec::BareMajority) => {
            if m.message_kind != "append_entries" {
                p.add(
                    format!("{path}.message_kind"),
                    format!(
                        "the pattern \"bare_majority\" applies to \"append_entries\" rounds, not {:?}",
                        m.message_kind
                    ),
                );
            }
            if m.delay_ms.is_none() {
                p.add(
                    format!("{path}.delay_ms"),
                    "the pattern \"bare_majority\" needs `delay_ms` (how long the round's other appends are held), and no `duplicate_ms`",
                );
            }
        }
        Some(MessagePatternSpec::AlignTimers) => {
            if !["append_entries", "request_vote"].contains(&m.message_kind.as_str()) {
                p.add(
                    format!("{path}.message_kind"),
                    format!(
                        "the pattern \"align_timers\" applies after \"append_entries\" or \"request_vote\" (messages that re-arm an election timer), not {:?}",
                        m.message_kind
                    ),
                );
            }
            if m.duplicate_ms.is_some() || m.delay_ms.is_some() {
                p.add(
                    path,
                    "the pattern \"align_timers\" moves a timer and takes neither `duplicate_ms` nor `delay_ms`",
                );
            }
            if let Some(w) = m.within_ms {
                if !(0.0..=1.0).contains(&w) || w.is_nan() {
                    p.add(
                        format!("{path}.within_ms"),
                        format!("must be in [0, 1] ms, got {w}"),
                    );
                }
            }
            return;
        }
    }
    match (m.duplicate_ms, m.delay_ms) {
        (Some(r), None) => range(p, &format!("{path}.duplicate_ms"), r),
        (None, Some(r)) => range(p, &format!("{path}.delay_ms"), r),
        _ => p.add(
            path,
            "a message fault needs exactly one of `duplicate_ms` and `delay_ms`",
        ),
    }
}

fn groups(p: &mut Problems, path: &str, groups: &[Vec<NodeRef>], at: Addresses) {
    // Over the limit `cluster.nodes` is already reported; sizing `seen` by it could abort.
    let nodes = at.nodes.min(1000);
    let mut agent_seen: std::collections::BTreeMap<u32, usize> = Default::default();
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
        for (ni, &r) in g.iter().enumerate() {
            let here = format!("{path}[{gi}][{ni}]");
            let n = match r {
                NodeRef::Server(n) => n,
                NodeRef::Agent(i) => {
                    if i >= at.agents {
                        agent(p, &here, i, at.agents);
                    } else if let Some(prev) = agent_seen.insert(i, gi) {
                        p.add(
                            here,
                            format!("agent:{i} is in more than one group (also group {prev})"),
                        );
                    }
                    continue;
                }
            };
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

pub(super) fn nemesis(p: &mut Problems, n: &NemesisSpec, at: Addresses, duration: f64) {
    let nodes = at.nodes;
    if at.agents == 0 {
        if let Some(i) = n.kinds.iter().position(|k| k.targets_agents()) {
            p.add(
                format!("nemesis.kinds[{i}]"),
                "agent fault kinds need agents, but this scenario has no `workflow`",
            );
        }
    }
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
