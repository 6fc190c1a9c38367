//! Workflow runs under faults, read like transcripts: each test builds a
//! scenario (a shipped one, changed in code, or one written here), runs
//! it and asserts on the report. Each pins a defect of issue #15 that the
//! run got wrong before (the numbers it used to give are in the doc
//! lines, measured with the build before the fix), or a workflow
//! liveness / SLO check failing on an input built to break it.

use agentsim::metrics::Report;
use agentsim::runner::{self, RunOptions};
use agentsim::scenario::{Scenario, ScenarioSpec};
use serde_json::{json, Value};
use std::path::Path;

fn load_json(path: &str) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn run_json(v: Value) -> Report {
    let spec: ScenarioSpec = serde_json::from_value(v).unwrap_or_else(|e| panic!("{e}"));
    let s = Scenario::from_spec(spec).unwrap_or_else(|e| panic!("{e}"));
    runner::run(&s, &RunOptions::default()).report
}

fn f(v: &Value) -> f64 {
    v.as_f64().unwrap_or_else(|| panic!("not a number: {v}"))
}

fn failed(r: &Report) -> Vec<&str> {
    r.checks.failures.iter().map(|x| x.check.as_str()).collect()
}

fn failure<'a>(r: &'a Report, check: &str) -> &'a str {
    &r.checks
        .failures
        .iter()
        .find(|x| x.check == check)
        .unwrap_or_else(|| panic!("{check} did not fail: {:?}", r.checks.failures))
        .message
}

/// The approval scenario of `coord-approval-local-clock` with the bug off:
/// `publish` is approved by script at 4 s and every server's clock runs
/// 2x fast for the first 60 s.
fn approval_under_fast_clocks() -> Value {
    let mut v = load_json("scenarios/bugs/coord-approval-local-clock.json");
    v.as_object_mut().unwrap().remove("bug");
    v
}

/// An approval is an event of the world at its true time: with the
/// servers' clocks 2x fast, no `publish` task (task 4 of each workflow)
/// starts before 4 s of true time (agents' clocks are true here). Before
/// the fix the first one started at 2.70 s. `workflow.approval_gates`
/// ran and held.
#[test]
fn approvals_take_effect_at_their_true_time_under_fast_server_clocks() {
    let r = run_json(approval_under_fast_clocks());
    assert!(r.checks.ok, "{:?}", r.checks.failures);
    assert!(r.checks.ran.iter().any(|c| c == "workflow.approval_gates"));
    let c = r.section("collab");
    let publish: Vec<f64> = c["gantt"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|g| g["task"].as_u64().unwrap() % 5 == 4)
        .map(|g| f(&g["start_ms"]))
        .collect();
    assert_eq!(publish.len(), 20, "every workflow published");
    let first = publish.iter().copied().fold(f64::INFINITY, f64::min);
    assert!(first >= 4_000.0, "publish started at {first} ms");
}

/// Every reported duration is true simulated time: with fast server
/// clocks the makespan and the slowest workflow fit inside the run.
/// Before the fix this run reported a 16.6 s makespan (and an 8.1 s
/// workflow latency) for an 8.4 s run.
#[test]
fn durations_are_measured_in_true_time() {
    let r = run_json(approval_under_fast_clocks());
    let c = r.section("collab");
    let run_ms = r.sim_time_ms;
    assert!(
        f(&c["makespan_ms"]) <= run_ms,
        "{} > {run_ms}",
        c["makespan_ms"]
    );
    assert!(f(&c["workflows"]["latency_ms"]["max"]) <= run_ms);
    assert!(f(&c["task_latency_ms"]["max"]) <= run_ms);
    // The last workflow arrives at about 9.5 s and has three stages.
    assert!(f(&c["makespan_ms"]) >= 9_000.0);
}

/// Research agents, of which `dead` die at 5 s, and writers; 60
/// three-stage workflows at 4/s.
fn team_with_deaths(dead: u32) -> Value {
    json!({
        "name": "dead-agents", "seed": 3, "duration_ms": 120000,
        "cluster": {"nodes": 3, "process": "raft", "start_jitter_ms": 20},
        "network": {"latency_ms": {"dist": "lognormal", "median": 2, "sigma": 0.4}},
        "disk": {"sync_ms": {"dist": "fixed", "value": 1}},
        "workflow": {
            "mode": "pipeline",
            "agents": [
                {"name": "researcher", "count": 8, "skills": ["research"], "fail_at_ms": 5000, "fail_count": dead,
                 "latency_ms": {"dist": "lognormal", "median": 400, "sigma": 0.3}},
                {"name": "writer", "count": 4, "skills": ["writing"],
                 "latency_ms": {"dist": "lognormal", "median": 300, "sigma": 0.3}}
            ],
            "stages": [
                {"id": "research", "skill": "research"},
                {"id": "draft", "skill": "writing", "after": ["research"]},
                {"id": "edit", "skill": "writing", "after": ["draft"]}
            ],
            "arrivals": {"workflows": 60, "rate_per_s": 4},
            "retry": {"max_attempts": 3}
        }
    })
}

/// Six of eight researchers die at 5 s. The dispatcher prefers agents
/// heard from lately and retries an unacknowledged assignment on another
/// agent, so no workflow is lost while two researchers idle. Before the
/// fix: 16 dead letters (`assignment_unacknowledged`) and p50 3.55 s;
/// now none, p50 under 2 s.
#[test]
fn work_is_not_lost_to_dead_agents() {
    let r = run_json(team_with_deaths(6));
    assert!(r.checks.ok, "{:?}", r.checks.failures);
    let c = r.section("collab");
    assert_eq!(c["workflows"]["completed"], 60);
    assert_eq!(c["dead_letters"]["count"], 0, "{}", c["dead_letters"]);
    assert!(f(&c["workflows"]["latency_ms"]["p50"]) < 2000.0);
}

/// Every researcher dies at 5 s: the research tasks left are
/// dead-lettered with the reason (no live agent has the skill), the
/// tasks behind them say which dead letter blocks them, and the run stops
/// once nothing can progress instead of running to its end. Before the
/// fix: dead letters said `assignment_unacknowledged`, the tasks behind
/// them "waiting for 1 dependencies", and the run went to 120 s.
#[test]
fn a_skill_with_no_live_agent_is_dead_lettered_with_its_reason() {
    let r = run_json(team_with_deaths(8));
    let c = r.section("collab");
    assert!(r.sim_time_ms < 60_000.0, "stopped at {}", r.sim_time_ms);
    let dead = c["dead_letters"]["list"].as_array().unwrap();
    assert!(!dead.is_empty());
    assert!(
        dead.iter()
            .any(|d| d["reason"] == "no_live_agent_with_skill"),
        "{dead:?}"
    );
    let pending = c["pending_at_end"].as_array().unwrap();
    for p in pending.iter().filter(|p| p["status"] == "pending") {
        let why = p["reason"].as_str().unwrap();
        assert!(why.starts_with("blocked by dead-lettered task"), "{p}");
    }
    assert_eq!(
        c["pending_at_end_total"].as_u64().unwrap() > 50,
        c["pending_at_end_capped"].as_bool().unwrap()
    );
    assert_eq!(c["list_cap"], 50);
    // No live researcher at the end: liveness.workflows cannot be judged,
    // and says why.
    let nj = r
        .checks
        .not_judged
        .iter()
        .find(|n| n.check == "liveness.workflows")
        .expect("not judged");
    assert!(nj.reason.contains("skill(s) research"), "{}", nj.reason);
}

/// The SLO expectations fail on the run above (13 of 60 workflows
/// complete, 47 dead letters) when set tight, and hold when set loose.
#[test]
fn slo_expectations_fail_when_missed_and_hold_when_met() {
    let mut v = team_with_deaths(8);
    v["expect"] = json!({"min_completed_fraction": 0.5, "workflow_p99_ms": 10,
                         "max_tokens_spent": 1000, "max_dead_letters": 0});
    let r = run_json(v.clone());
    let mut got = failed(&r);
    got.sort();
    assert_eq!(
        got,
        [
            "expect.max_dead_letters",
            "expect.max_tokens_spent",
            "expect.min_completed_fraction",
            "expect.workflow_p99_ms"
        ]
    );
    assert!(failure(&r, "expect.min_completed_fraction").contains("13 of 60"));
    v["expect"] = json!({"min_completed_fraction": 0.2, "workflow_p99_ms": 60000,
                         "max_tokens_spent": 10000000, "max_dead_letters": 100});
    let r = run_json(v);
    assert!(r.checks.ok, "{:?}", r.checks.failures);
    for c in [
        "expect.min_completed_fraction",
        "expect.workflow_p99_ms",
        "expect.max_tokens_spent",
        "expect.max_dead_letters",
    ] {
        assert!(r.checks.ran.iter().any(|x| x == c), "{c} did not run");
    }
}

/// Slow agents (3 s per task, three stages) and a window of 3.5 s (the
/// shortest validation allows: the agent timeout): correct workflows
/// take about 9 s, so `liveness.workflows` fails and says when each
/// completed; with the default window the same run holds.
#[test]
fn workflow_liveness_fails_when_workflows_outlast_the_window() {
    let mut v = team_with_deaths(0);
    for a in v["workflow"]["agents"].as_array_mut().unwrap() {
        a["latency_ms"] = json!({"dist": "fixed", "value": 3000});
        a.as_object_mut().unwrap().remove("fail_at_ms");
        a.as_object_mut().unwrap().remove("fail_count");
    }
    v["workflow"]["arrivals"] = json!({"workflows": 4, "rate_per_s": 1});
    let r = run_json(v.clone());
    assert!(r.checks.ok, "{:?}", r.checks.failures);
    v["expect"] = json!({"workflow_progress_within_ms": 3500});
    let r = run_json(v);
    assert_eq!(failed(&r), ["liveness.workflows"]);
    assert!(failure(&r, "liveness.workflows").contains("completed only at"));
}

/// The inbox follows `agent_slots`: two agents per skill, 100
/// workflows arriving at 20/s, so each agent holds as many tasks as it
/// may. Completion stays at 100 % from 1 to 64 slots. Before the fix
/// (inbox fixed at 16) 40 slots completed 53 and 64 slots 35 workflows,
/// with 180 and 244 refusals, and "checks ok".
#[test]
fn completion_stays_high_whatever_the_agent_slots() {
    for slots in [1, 16, 17, 40, 64] {
        let mut v = team_with_deaths(0);
        v["workflow"]["agents"] = json!([
            {"name": "researcher", "count": 2, "skills": ["research"],
             "latency_ms": {"dist": "lognormal", "median": 200, "sigma": 0.3}},
            {"name": "writer", "count": 2, "skills": ["writing"],
             "latency_ms": {"dist": "lognormal", "median": 150, "sigma": 0.3}}
        ]);
        v["workflow"]["arrivals"] = json!({"workflows": 100, "rate_per_s": 20});
        v["workflow"]["agent_slots"] = json!(slots);
        v["expect"] = json!({"min_completed_fraction": 0.99});
        let r = run_json(v);
        assert!(r.checks.ok, "slots {slots}: {:?}", r.checks.failures);
        let c = r.section("collab");
        assert_eq!(c["workflows"]["completed"], 100, "slots {slots}");
        assert_eq!(c["agents"]["refused"], 0, "slots {slots}");
    }
}

/// `agents.refused` is reachable: an inbox smaller than the slots
/// (`agent_inbox: 1`, 4 slots, a burst of 60 workflows at 20/s) refuses
/// assignments; each refusal fails the attempt (`inbox_full`), a task
/// refused on every attempt is dead-lettered with that reason, and the
/// run passes every check (shedding load is the model, not a bug).
#[test]
fn a_small_inbox_refuses_and_the_work_moves_on() {
    let mut v = team_with_deaths(0);
    for a in v["workflow"]["agents"].as_array_mut().unwrap() {
        a.as_object_mut().unwrap().remove("fail_at_ms");
        a.as_object_mut().unwrap().remove("fail_count");
    }
    v["workflow"]["arrivals"] = json!({"workflows": 60, "rate_per_s": 20});
    v["workflow"]["agent_slots"] = json!(4);
    v["workflow"]["agent_inbox"] = json!(1);
    let r = run_json(v);
    assert!(r.checks.ok, "{:?}", r.checks.failures);
    let c = r.section("collab");
    assert!(
        c["agents"]["refused"].as_u64().unwrap() > 0,
        "{}",
        c["agents"]
    );
    assert!(c["retries"]["requeued_attempts"].as_u64().unwrap() > 0);
    assert!(c["dead_letters"]["list"]
        .as_array()
        .unwrap()
        .iter()
        .any(|d| d["reason"] == "inbox_full"));
    assert!(c["workflows"]["completed"].as_u64().unwrap() > 0);
}

/// Every shipped collaboration scenario judges `liveness.workflows` and
/// `workflow.approval_gates`, and passes them.
#[test]
fn shipped_scenarios_pass_workflow_liveness() {
    for entry in std::fs::read_dir(Path::new("scenarios/collab")).unwrap() {
        let path = entry.unwrap().path();
        if path.file_name().unwrap() == "scale.json" {
            continue; // its own test runs it
        }
        let r = run_json(load_json(path.to_str().unwrap()));
        assert!(r.checks.ok, "{path:?}: {:?}", r.checks.failures);
        for c in ["liveness.workflows", "workflow.approval_gates"] {
            assert!(
                r.checks.ran.iter().any(|x| x == c),
                "{path:?}: {c} not judged: {:?}",
                r.checks.not_judged
            );
        }
    }
}

/// Found by tests/proptest_workflow.rs: one agent that fails 40 % of its
/// attempts, ten two-task workflows, a server crash. A task dead-lettered
/// and re-driven started again at attempt 1, which the agent had already
/// taken ((task, attempt) keys its work): it acked and never ran it, the
/// attempts timed out and the workflows stalled with the agent idle
/// (5 of 10 completed, and "checks ok" before `liveness.workflows`). Now
/// attempt numbers keep counting across re-drives, and every workflow
/// completes within the default window (the lone agent's breaker benches
/// it for 5 s at each trip, so some take about 27 s).
#[test]
fn a_redriven_task_runs_again_on_the_agent_that_saw_it() {
    let v = json!({
        "name": "redrive-same-agent", "seed": 45176197556431132u64, "duration_ms": 150000,
        "cluster": {"nodes": 3, "process": "raft", "start_jitter_ms": 20},
        "network": {"latency_ms": {"dist": "lognormal", "median": 2, "sigma": 0.4}},
        "disk": {"sync_ms": {"dist": "fixed", "value": 1}},
        "workflow": {"mode": "pipeline", "consistency": "cp",
            "agents": [{"name": "a0", "count": 1, "skills": ["s0"], "availability": 0.6,
                        "latency_ms": {"dist": "lognormal", "median": 200, "sigma": 0.4}}],
            "stages": [{"id": "st0", "skill": "s0"}, {"id": "st1", "skill": "s0", "after": []}],
            "arrivals": {"workflows": 10, "rate_per_s": 5}, "retry": {"max_attempts": 3}},
        "faults": [{"at_ms": 753, "kind": "crash", "node": 1, "restart_after_ms": 200}]
    });
    let r = run_json(v);
    assert!(r.checks.ok, "{:?}", r.checks.failures);
    assert!(r.checks.ran.iter().any(|c| c == "liveness.workflows"));
    let c = r.section("collab");
    assert!(
        c["dead_letters"]["redriven"].as_u64().unwrap() > 0,
        "{}",
        c["dead_letters"]
    );
    assert_eq!(c["workflows"]["completed"], 10);
}

/// Workflow arrivals are events of the world at their scripted true
/// times, like approvals: with every server's clock 2x fast, no task of
/// workflow `w` starts before `w`'s arrival (the agents' clocks are true,
/// so `start_ms` is true time). Before the fix the dispatcher compared
/// the arrival times with its own clock and submitted each workflow at
/// about half its arrival time.
#[test]
fn arrivals_happen_at_their_true_time_under_fast_server_clocks() {
    let v = approval_under_fast_clocks();
    let spec: ScenarioSpec = serde_json::from_value(v.clone()).unwrap();
    let cfg = runner::collab::collab_config(spec.workflow.as_ref().unwrap(), 3, spec.seed);
    let arrived: Vec<f64> = cfg.arrivals.iter().map(|a| a.at.as_millis_f64()).collect();
    assert_eq!(arrived.len(), 20);
    assert!(arrived[19] > 5_000.0, "arrivals spread over seconds");
    let r = run_json(v);
    assert!(r.checks.ok, "{:?}", r.checks.failures);
    let c = r.section("collab");
    let rows = c["gantt"].as_array().unwrap();
    // 5 tasks per workflow; a branch not taken leaves no bar.
    assert!(rows.len() >= 80, "{} bars", rows.len());
    for g in rows {
        let w = (g["task"].as_u64().unwrap() / 5) as usize;
        let start = f(&g["start_ms"]);
        assert!(
            start >= arrived[w],
            "task {} of workflow {w} started at {start} ms, before the workflow arrived at {} ms",
            g["task"],
            arrived[w]
        );
    }
    // And not long after: submitted at once (a tick), assigned, run.
    let first_of = |w: usize| {
        rows.iter()
            .filter(|g| g["task"].as_u64().unwrap() == 5 * w as u64)
            .map(|g| f(&g["start_ms"]))
            .fold(f64::INFINITY, f64::min)
    };
    assert!(first_of(19) - arrived[19] < 1_000.0);
}

/// Dead letters are reported in true simulated time: with every
/// server's clock 2x fast, every researcher dies at 5 s and the research
/// tasks left are dead-lettered; each entry's `at_ms` lies between the
/// deaths and the end of the run. Before the fix `at_ms` was the
/// proposing server's clock, about twice the true time, past the run's
/// end for the last ones.
#[test]
fn dead_letter_times_are_true_time_under_fast_server_clocks() {
    let mut v = team_with_deaths(8);
    v["faults"] = json!((0..3)
        .map(|n| json!({"at_ms": 0, "kind": "clock", "node": n, "rate": 2.0, "for_ms": 120000}))
        .collect::<Vec<_>>());
    let r = run_json(v);
    let c = r.section("collab");
    let dead = c["dead_letters"]["list"].as_array().unwrap();
    assert!(dead.len() >= 10, "{}", c["dead_letters"]);
    for d in dead {
        let at = f(&d["at_ms"]);
        assert!(
            (5_000.0..=r.sim_time_ms).contains(&at),
            "dead letter at {at} ms, outside [5000, {}]: {d}",
            r.sim_time_ms
        );
    }
}

/// A scripted approval outlives every server that received it: the
/// `publish`-like stage `st1` is approved at 1 s, long before any task
/// reaches its gate (`st0` takes 8 s); then every server crashes and
/// restarts in turn (2-6.5 s), so no server still holds the approval in
/// memory. The leader committed it (`approve_stage`), so the new leaders
/// honour it: every gated task is assigned, none before 1 s, and every
/// workflow completes. Before, an approval lived only in the memory of
/// the servers that received it: after the rolling restart no leader knew
/// it and every workflow waited at the gate until the end.
#[test]
fn an_approval_survives_every_server_restarting() {
    let v = json!({
        "name": "approval-restart", "seed": 11, "duration_ms": 60000,
        "cluster": {"nodes": 3, "process": "raft", "start_jitter_ms": 20},
        "network": {"latency_ms": {"dist": "fixed", "value": 2}},
        "disk": {"sync_ms": {"dist": "fixed", "value": 1}},
        "workflow": {
            "mode": "pipeline",
            "agents": [
                {"name": "slow", "count": 4, "skills": ["s0"], "accuracy": 1.0, "availability": 1.0,
                 "latency_ms": {"dist": "fixed", "value": 8000}},
                {"name": "fast", "count": 2, "skills": ["s1"], "accuracy": 1.0, "availability": 1.0,
                 "latency_ms": {"dist": "fixed", "value": 300}}
            ],
            "stages": [
                {"id": "st0", "skill": "s0"},
                {"id": "st1", "skill": "s1", "after": ["st0"], "interrupt_before": true}
            ],
            "arrivals": {"workflows": 4, "rate_per_s": 20},
            "approvals": [{"stage": "st1", "at_ms": 1000}]
        },
        "faults": [
            {"at_ms": 2000, "kind": "crash", "node": 0, "restart_after_ms": 1000},
            {"at_ms": 3500, "kind": "crash", "node": 1, "restart_after_ms": 1000},
            {"at_ms": 5000, "kind": "crash", "node": 2, "restart_after_ms": 1000}
        ]
    });
    let r = run_json(v);
    assert!(r.checks.ok, "{:?}", r.checks.failures);
    for c in ["workflow.approval_gates", "liveness.workflows"] {
        assert!(r.checks.ran.iter().any(|x| x == c), "{c} not judged");
    }
    let c = r.section("collab");
    assert_eq!(c["workflows"]["completed"], 4, "{}", c["workflows"]);
    let gated: Vec<f64> = c["gantt"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|g| g["task"].as_u64().unwrap() % 2 == 1)
        .map(|g| f(&g["start_ms"]))
        .collect();
    assert_eq!(gated.len(), 4);
    assert!(gated.iter().all(|&s| s >= 8_000.0), "{gated:?}");
}

/// `scenarios/collab/competitive-ap-rolling.json`: competitive mode on
/// an AP coordinator while every server crashes and restarts in turn, so
/// two copies can commit different results for one competitor. Each
/// copy's race decisions are judged against that copy's own results, and
/// hold on 40 seeds. Measured before this test existed, on the build of
/// the time (`agentsim sweep scenarios/collab/competitive-ap-rolling.json
/// --seeds 0..200 --jobs 1`): 0 of 200 seeds failed; with the checker
/// switched back to scoring every copy with the first result committed
/// anywhere (the rule before commit 67911a4), 5 of 200 failed
/// `workflow.arbiter` (seeds 9, 29, 121, 182, 183: "winner .. is not the
/// argmax").
#[test]
fn ap_rolling_restarts_keep_the_arbiter_judged_per_copy() {
    let base = load_json("scenarios/collab/competitive-ap-rolling.json");
    let mut conflicts = 0;
    for seed in 0..40u64 {
        let mut v = base.clone();
        v["seed"] = json!(seed);
        let r = run_json(v);
        assert!(r.checks.ok, "seed {seed}: {:?}", r.checks.failures);
        assert!(r.checks.ran.iter().any(|x| x == "workflow.arbiter"));
        let m = &r.section("collab")["consistency_metrics"];
        conflicts += m["conflicting_results"].as_u64().unwrap_or(0);
    }
    // The restarts do make copies disagree: the arbiter is judged on
    // copies that hold different results.
    assert!(conflicts > 0, "no conflicting results in 40 seeds");
}

/// Found by tests/proptest_workflow.rs once it faulted agents: a race
/// (competitive, k = 2) with one agent that crashes twice (0.5-2.4 s and
/// 4.2-5.6 s). Both competitors are dead-lettered (no live agent), the
/// race with them (`every_competitor_failed`), and the race is re-driven
/// when the agent returns; but a race left the dispatcher's judges when
/// it was dead-lettered and was never judged again, so both workflows
/// stayed open to the end ("race undecided", `liveness.workflows`
/// failed). Now a re-driven race is judged again, and each workflow ends
/// done or dead-lettered with a reason.
#[test]
fn a_redriven_race_is_judged_again() {
    let v = json!({
        "name": "redriven-race", "seed": 14404864012291324817u64, "duration_ms": 300000,
        "cluster": {"nodes": 3, "process": "raft", "start_jitter_ms": 20},
        "network": {"latency_ms": {"dist": "lognormal", "median": 2, "sigma": 0.4}},
        "disk": {"sync_ms": {"dist": "fixed", "value": 1}},
        "workflow": {"mode": "competitive", "consistency": "cp",
            "agents": [{"name": "a0", "count": 1, "skills": ["s0"], "availability": 0.6,
                        "latency_ms": {"dist": "lognormal", "median": 200, "sigma": 0.4}}],
            "stages": [{"id": "st0", "skill": "s0"}],
            "arrivals": {"workflows": 2, "rate_per_s": 5}, "retry": {"max_attempts": 1},
            "arbiter": {"k": 2, "deadline_ms": 3000}},
        "faults": [
            {"at_ms": 0, "kind": "crash", "node": 0, "restart_after_ms": 614},
            {"at_ms": 0, "kind": "pause", "node": 2, "for_ms": 713},
            {"at_ms": 544, "kind": "crash", "node": "agent:0", "restart_after_ms": 1863},
            {"at_ms": 4230, "kind": "crash", "node": "agent:0", "restart_after_ms": 1408}
        ]
    });
    let r = run_json(v);
    assert!(r.checks.ok, "{:?}", r.checks.failures);
    assert!(r.checks.ran.iter().any(|c| c == "liveness.workflows"));
    let c = r.section("collab");
    let open = c["pending_at_end"].as_array().unwrap();
    assert!(
        open.iter().all(|p| p["status"] != "pending"),
        "a race still waits: {open:?}"
    );
}

/// Found by tests/proptest_workflow.rs: eight workflows arrive in the
/// first second while server 1 is down (0-0.66 s), server 2 is cut off
/// (0.2-0.75 s) and server 0 crashes at 0.66 s and restarts at 0.86 s,
/// after the last arrival. Arrivals are world events a server keeps in
/// memory, so the restarted server 0 knew of none; it became leader and
/// submitted nothing (every workflow "never submitted"). Now the active
/// coordinator asks its peers what they know (`known_events`) on
/// activation and every second, and server 2's answer brings the
/// arrivals back: every workflow is submitted and ends.
#[test]
fn arrivals_are_not_forgotten_when_the_server_that_leads_missed_them() {
    let v: Value = serde_json::from_str(r#"{"name": "proptest-workflow", "seed": 418113193417131002, "duration_ms": 300000, "cluster": {"nodes": 3, "process": "raft", "start_jitter_ms": 20}, "network": {"latency_ms": {"dist": "lognormal", "median": 2, "sigma": 0.4}}, "disk": {"sync_ms": {"dist": "fixed", "value": 1}}, "workflow": {"mode": "pipeline", "consistency": "cp", "agents": [{"name": "a0", "count": 1, "skills": ["s0"], "availability": 0.6, "latency_ms": {"dist": "lognormal", "median": 200, "sigma": 0.4}}], "stages": [{"id": "st0", "skill": "s0"}], "arrivals": {"workflows": 8, "rate_per_s": 5}, "retry": {"max_attempts": 1}, "arbiter": {"k": 2, "deadline_ms": 3000}}, "faults": [{"at_ms": 664, "kind": "crash", "node": 0, "restart_after_ms": 200}, {"at_ms": 0, "kind": "crash", "node": 1, "restart_after_ms": 661}, {"at_ms": 199, "kind": "partition", "groups": [[2], [0, 1]], "agents": "proportional", "for_ms": 555}]}"#).unwrap();
    let r = run_json(v);
    assert!(r.checks.ok, "{:?}", r.checks.failures);
    assert!(r.checks.ran.iter().any(|c| c == "liveness.workflows"));
    assert_eq!(r.section("collab")["workflows"]["submitted"], 8);
}

/// Found by tests/proptest_workflow.rs: a race whose two competitors are
/// dead-lettered (no live agent with the skill, then again after their
/// re-drive) before either was ever assigned. The dispatcher started
/// judging a race only when a competitor was assigned (or on a rebuild),
/// so this race waited for ever ("race undecided: 2 dead-lettered").
/// Now a race is judged from its submission and is dead-lettered with
/// its reason (`every_competitor_failed`).
#[test]
fn a_race_whose_competitors_never_ran_is_decided() {
    let v: Value = serde_json::from_str(r#"{"name": "proptest-workflow", "seed": 5126353957308450482, "duration_ms": 300000, "cluster": {"nodes": 3, "process": "raft", "start_jitter_ms": 20}, "network": {"latency_ms": {"dist": "lognormal", "median": 2, "sigma": 0.4}}, "disk": {"sync_ms": {"dist": "fixed", "value": 1}}, "workflow": {"mode": "competitive", "consistency": "cp", "agents": [{"name": "a0", "count": 1, "skills": ["s0"], "availability": 0.6, "latency_ms": {"dist": "lognormal", "median": 200, "sigma": 0.4}}, {"name": "a1", "count": 1, "skills": ["s1"], "availability": 0.6, "latency_ms": {"dist": "lognormal", "median": 200, "sigma": 0.4}}], "stages": [{"id": "st0", "skill": "s0"}, {"id": "st1", "skill": "s1", "after": ["st0"]}], "arrivals": {"workflows": 3, "rate_per_s": 5}, "retry": {"max_attempts": 1}, "arbiter": {"k": 2, "deadline_ms": 3000}}, "faults": [{"at_ms": 4974, "kind": "isolate", "node": "agent:1", "for_ms": 2088}, {"at_ms": 1651, "kind": "isolate", "node": "agent:1", "for_ms": 1667}]}"#).unwrap();
    let r = run_json(v);
    assert!(r.checks.ok, "{:?}", r.checks.failures);
    let c = r.section("collab");
    let open = c["pending_at_end"].as_array().unwrap();
    assert!(
        open.iter().all(|p| p["status"] != "pending"),
        "a race still waits: {open:?}"
    );
}
