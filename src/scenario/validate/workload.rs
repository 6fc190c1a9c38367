//! The KV client workload and the end-of-run expectations.

use super::Problems;
use crate::scenario::types::*;

pub(super) fn workload(p: &mut Problems, w: &WorkloadSpec) {
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

/// The workflow expectations: only with a `workflow`, in range, and a
/// liveness window no shorter than the scenario's own timeouts (a window
/// that closes before an agent can even be declared lost would fail
/// correct runs).
fn workflow_expect(p: &mut Problems, e: &ExpectSpec, s: &ScenarioSpec) {
    let fields = [
        (
            "workflow_progress_within_ms",
            e.workflow_progress_within_ms.is_some(),
        ),
        ("min_completed_fraction", e.min_completed_fraction.is_some()),
        ("workflow_p99_ms", e.workflow_p99_ms.is_some()),
        ("max_tokens_spent", e.max_tokens_spent.is_some()),
        ("max_dead_letters", e.max_dead_letters.is_some()),
    ];
    let Some(w) = &s.workflow else {
        for (name, set) in fields {
            if set {
                p.add(
                    format!("expect.{name}"),
                    "needs a `workflow` (it measures workflows)",
                );
            }
        }
        return;
    };
    if let Some(v) = e.min_completed_fraction {
        p.prob("expect.min_completed_fraction", v);
    }
    if let Some(v) = e.workflow_p99_ms {
        p.positive("expect.workflow_p99_ms", v);
    }
    if let Some(v) = e.workflow_progress_within_ms {
        p.positive("expect.workflow_progress_within_ms", v);
        let mut timeouts = vec![("workflow.agent_timeout_ms", w.agent_timeout_ms)];
        if matches!(w.mode, ModeSpec::Competitive | ModeSpec::Hybrid) {
            timeouts.push(("workflow.arbiter.deadline_ms", w.arbiter.deadline_ms));
        }
        for (name, t) in timeouts {
            if v.is_finite() && v < t {
                p.add(
                    "expect.workflow_progress_within_ms",
                    format!("{v} ms is shorter than the scenario's own `{name}` ({t} ms): no workflow could be judged fairly"),
                );
            }
        }
    }
}

/// Every `expect` field is either checked by the run kind it appears in or
/// refused here, naming the field: a silently ignored expectation would
/// read as a passed one.
pub(super) fn expect(p: &mut Problems, e: &ExpectSpec, s: &ScenarioSpec) {
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
    workflow_expect(p, e, s);
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
