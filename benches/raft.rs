//! Raft cluster throughput (issue #3 targets, measured here, not in tests):
//!
//! - `raft/idle_60s`: an idle 5-node cluster for 60 simulated seconds
//!   (heartbeats only). Target: 1 simulated hour < 1 s wall, i.e. this
//!   bench < 16.7 ms.
//! - `raft/1000ops_10s/{checked,unchecked}`: 5 nodes, 40 clients at ~1000
//!   ops/s for 10 simulated seconds, with the safety and linearizability
//!   checkers and without: the ratio is what the checkers cost. Target:
//!   ≥ 100× faster than real time, i.e. checked < 100 ms.

use agentsim::runner::{self, RunOptions};
use agentsim::scenario::Scenario;
use criterion::{criterion_group, criterion_main, Criterion};
use std::path::Path;

fn load(path: &str, duration_ms: f64) -> Scenario {
    let base = Scenario::load(Path::new(path)).expect("shipped scenario");
    runner::effective(
        &base,
        &RunOptions {
            duration_ms: Some(duration_ms),
            ..Default::default()
        },
    )
}

fn raft(c: &mut Criterion) {
    let mut g = c.benchmark_group("raft");
    g.sample_size(10);
    let idle = load("scenarios/perf/raft-idle-1h.json", 60_000.0);
    g.bench_function("idle_60s", |b| {
        b.iter(|| runner::run(&idle, &RunOptions::default()).report.events)
    });
    let busy = load("scenarios/perf/raft-1000ops-60s.json", 10_000.0);
    g.bench_function("1000ops_10s/checked", |b| {
        b.iter(|| {
            let r = runner::run(&busy, &RunOptions::default()).report;
            assert!(r.checks.ok);
            r.events
        })
    });
    let unchecked = RunOptions {
        skip_checkers: true,
        ..Default::default()
    };
    g.bench_function("1000ops_10s/unchecked", |b| {
        b.iter(|| runner::run(&busy, &unchecked).report.events)
    });
    g.finish();
}

criterion_group!(benches, raft);
criterion_main!(benches);
