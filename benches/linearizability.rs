//! Linearizability checker throughput on the reference workload: 60 s of
//! virtual time, 5 closed-loop clients, 8 keys, a few info ops (~50k ops).
//!
//! Run: `cargo bench --bench linearizability`

use agentsim::check::linearizability::generate::{generate, GenParams};
use agentsim::check::linearizability::{
    check, check_streaming, CheckConfig, OpKind, Outcome, Verdict,
};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use std::hint::black_box;

fn bench_check(c: &mut Criterion) {
    let params = GenParams::default();
    let history = generate(&params, 1);
    let first = check(&history).expect("generated histories are well formed");
    assert_eq!(first.verdict, Verdict::Linearizable, "{first}");
    eprintln!("history: {first}");

    let mut group = c.benchmark_group("linearizability");
    group.sample_size(20);
    group.throughput(Throughput::Elements(history.len() as u64));
    group.bench_function("valid_60s_5clients_8keys", |b| {
        b.iter(|| black_box(check(black_box(&history)).unwrap()))
    });

    // The streaming check (what runs use) on the same history: collapses
    // each key's window at every quiescent point.
    let cfg = CheckConfig::default();
    assert_eq!(
        check_streaming(&history, &cfg).unwrap().verdict,
        Verdict::Linearizable
    );
    group.bench_function("streaming_valid_60s_5clients_8keys", |b| {
        b.iter(|| black_box(check_streaming(black_box(&history), &cfg).unwrap()))
    });

    // The same history with one late read corrupted: the search must
    // exhaust the key's states and then replay it to explain.
    let mut corrupted = history.clone();
    let late = (0..corrupted.len())
        .rev()
        .find(|&i| corrupted[i].kind == OpKind::Read && corrupted[i].outcome == Outcome::Ok)
        .expect("the workload has reads");
    corrupted[late].read = Some(-1);
    group.bench_function("violation_late_read_60s_5clients_8keys", |b| {
        b.iter(|| black_box(check(black_box(&corrupted)).unwrap()))
    });
    group.finish();

    c.bench_function("generate_60s_5clients_8keys", |b| {
        b.iter(|| black_box(generate(black_box(&params), 1)))
    });
}

criterion_group!(benches, bench_check);
criterion_main!(benches);
