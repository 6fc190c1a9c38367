//! The collaboration workload: agents, stages (a DAG), arrivals, retry,
//! breaker, arbiter and the coordinator's timers.

use super::network::dist;
use super::Problems;
use crate::scenario::types::*;

/// Most agents and tasks a workflow scenario may ask for.
const MAX_AGENTS: u64 = 100_000;
const MAX_TASKS: u64 = 2_000_000;

pub(super) fn workflow(p: &mut Problems, w: &WorkflowSpec, duration_ms: f64) {
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
    if let Some(n) = w.agent_inbox {
        if !(1..=4096).contains(&n) {
            p.add("workflow.agent_inbox", "must be in 1..=4096");
        }
    }
    if w.tick_ms.is_nan() || w.tick_ms < 1.0 {
        p.add("workflow.tick_ms", "must be at least 1 ms");
    }
}
