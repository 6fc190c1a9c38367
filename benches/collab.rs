//! Assignment solvers. Target: Hungarian on a dense 500x500 matrix in
//! under one second.
//!
//! - `hungarian/dense_500x500`: uniform costs in `[0, 1)`, all feasible.
//! - `hungarian/dense_200x500`: rectangular, 200 tasks over 500 agents.
//! - `hungarian/masked_500x500`: 30% of cells infeasible.
//! - `greedy/dense_500x500`: the baseline, for comparison (and its cost gap
//!   to the optimum is printed once).
//!
//! Matrices come from `SimRng::derive(seed, "bench")`, so every run measures
//! the same instances.

use agentsim::collab::assign::greedy;
use agentsim::collab::hungarian::{solve, CostMatrix};
use agentsim::rng::SimRng;
use criterion::{criterion_group, criterion_main, Criterion};
use std::hint::black_box;

fn random_matrix(seed: u64, rows: usize, cols: usize, infeasible: f64) -> CostMatrix {
    let mut rng = SimRng::derive(seed, "bench");
    CostMatrix::from_fn(rows, cols, |_, _| {
        let cost = rng.unit();
        (!rng.chance(infeasible)).then_some(cost)
    })
    .expect("unit costs are valid")
}

fn assignment(c: &mut Criterion) {
    let dense = random_matrix(1, 500, 500, 0.0);
    let wide = random_matrix(2, 200, 500, 0.0);
    let masked = random_matrix(3, 500, 500, 0.3);

    let h = solve(&dense);
    let g = greedy(&dense);
    println!(
        "dense 500x500: hungarian total {:.4} ({} pairs), greedy total {:.4} ({} pairs)",
        h.total,
        h.len(),
        g.total,
        g.len()
    );

    let mut group = c.benchmark_group("hungarian");
    group.sample_size(10);
    group.bench_function("dense_500x500", |b| b.iter(|| solve(black_box(&dense))));
    group.bench_function("dense_200x500", |b| b.iter(|| solve(black_box(&wide))));
    group.bench_function("masked_500x500", |b| b.iter(|| solve(black_box(&masked))));
    group.finish();

    let mut group = c.benchmark_group("greedy");
    group.sample_size(10);
    group.bench_function("dense_500x500", |b| b.iter(|| greedy(black_box(&dense))));
    group.finish();
}

criterion_group!(benches, assignment);
criterion_main!(benches);
