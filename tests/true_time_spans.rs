//! Task spans are in true simulated time, also for an agent whose clock
//! runs fast or slow (DESIGN.md §6: "Time in reports is true simulated
//! time"). An agent stamps its work with its own clock; the Gantt rows of
//! the report and the executions the Chrome trace draws must not: a span
//! starts at the true time the agent started the work (the event that
//! handed it the job) and ends at the true time its work timer fired and
//! it produced the result. The reference here is independent of the
//! observer: every event the kernel dispatches at an agent, with its true
//! time, read through a tap.

use agentsim::runner::{self, EventTap, RunOptions};
use agentsim::scenario::{Scenario, ScenarioSpec};
use agentsim::sim::{DispatchKind, TraceEvent};
use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};
use std::rc::Rc;

/// True times (µs) of the events dispatched at each agent address, and of
/// the timers among them.
#[derive(Default)]
struct AgentEvents {
    first_agent: u32,
    events: BTreeMap<u32, BTreeSet<u64>>,
    timers: BTreeMap<u32, BTreeSet<u64>>,
}

impl EventTap for AgentEvents {
    fn event(&mut self, ev: &TraceEvent<'_, &'static str>) {
        let Some(n) = ev.node.filter(|n| n.0 >= self.first_agent) else {
            return;
        };
        self.events.entry(n.0).or_default().insert(ev.time.0);
        if ev.kind == DispatchKind::Timer {
            self.timers.entry(n.0).or_default().insert(ev.time.0);
        }
    }
}

/// The pipeline comparison scenario (3 servers, agents from address 3)
/// with agent 0's clock at 2x and agent 8's at 0.5x from the start.
fn skewed() -> Scenario {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/scenarios/collab/pipeline.json"
    );
    let mut v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    v["duration_ms"] = serde_json::json!(120_000);
    v["faults"] = serde_json::json!([
        { "at_ms": 0, "kind": "clock", "node": "agent:0", "rate": 2.0 },
        { "at_ms": 0, "kind": "clock", "node": "agent:8", "rate": 0.5 }
    ]);
    let spec: ScenarioSpec = serde_json::from_value(v).unwrap();
    Scenario::from_spec(spec).unwrap()
}

/// Every committed execution of the two skewed agents (addresses 3 and
/// 11) starts at the true time of an event at that agent and ends at the
/// true time of one of its timers; the report's Gantt rows say the same.
/// On the agent's own clock the 2x agent's spans would start at twice the
/// true time and the 0.5x agent's at half, and end a whole local duration
/// later (twice or half the true one).
#[test]
fn task_spans_of_skewed_agents_are_in_true_time() {
    let s = skewed();
    let tap = Rc::new(RefCell::new(AgentEvents {
        first_agent: 3,
        ..AgentEvents::default()
    }));
    let out = runner::run(
        &s,
        &RunOptions {
            tap: Some(tap.clone()),
            ..RunOptions::default()
        },
    );
    assert!(out.report.checks.ok, "{:?}", out.report.checks.failures);
    let execs = out.collab.expect("a workflow run").executions;
    let tap = tap.borrow();
    let end_us = (out.report.sim_time_ms * 1000.0).round() as u64;
    for agent in [3u32, 11] {
        let mine: Vec<_> = execs.iter().filter(|x| x.agent == agent).collect();
        assert!(mine.len() >= 3, "agent {agent}: {} executions", mine.len());
        for x in &mine {
            let end = x.start_us + x.duration_us;
            assert!(
                tap.events[&agent].contains(&x.start_us),
                "agent {agent} task {}: no event at the agent at start {} µs",
                x.task,
                x.start_us
            );
            assert!(
                tap.timers[&agent].contains(&end),
                "agent {agent} task {}: no timer at the agent at end {end} µs",
                x.task
            );
            assert!(end <= end_us, "{x:?} ends after the run");
        }
        // One job at a time: an agent's spans never overlap.
        let mut spans: Vec<(u64, u64)> = mine
            .iter()
            .map(|x| (x.start_us, x.start_us + x.duration_us))
            .collect();
        spans.sort_unstable();
        assert!(spans.windows(2).all(|w| w[0].1 <= w[1].0), "{spans:?}");
    }
    // The report's Gantt rows are the same spans, in ms.
    let rows = &out.report.collab.as_ref().unwrap().collab.gantt;
    let by_task: BTreeMap<u64, _> = execs.iter().map(|x| (u64::from(x.task), x)).collect();
    let mut checked = 0;
    for r in rows.iter().filter(|r| r.agent == 3 || r.agent == 11) {
        let x = by_task[&r.task];
        assert_eq!(
            (
                (r.start_ms * 1000.0).round() as u64,
                (r.end_ms * 1000.0).round() as u64
            ),
            (x.start_us, x.start_us + x.duration_us),
            "{r:?}"
        );
        checked += 1;
    }
    assert!(checked > 0);
}
