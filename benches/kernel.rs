//! Kernel hot paths. Target (issue #2): ≥ 10 million no-op events per
//! second on one core, schedule + dispatch.
//!
//! - `queue/*`: the hold model (steady pending set, pop one, push one) for
//!   the slab-backed key heap we use and the payload-moving heap we
//!   measured it against.
//! - `world/noop_timers`: whole kernel: 100 nodes whose only work is
//!   re-arming a timer, so each event is pop + dispatch + trace hash +
//!   effect + push.

use agentsim::dist::Dist;
use agentsim::ids::{NodeId, TimerId};
use agentsim::net::NetConfig;
use agentsim::process::{Context, Digest, Message, Process};
use agentsim::rng::SimRng;
use agentsim::sim::queue::{EventQueue, InlineHeapQueue};
use agentsim::sim::{World, WorldConfig};
use agentsim::time::{SimDuration, SimTime};
use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use std::hint::black_box;

/// A payload the size of a typical kernel event (a delivery with a small
/// message), 64 bytes.
#[derive(Clone, Copy)]
struct Payload(#[allow(dead_code)] [u64; 8]);

const PENDING: usize = 1024;
const OPS: u64 = 100_000;

fn delays() -> Vec<u64> {
    let mut r = SimRng::derive(1, "bench");
    (0..OPS).map(|_| r.range_inclusive(1, 10_000)).collect()
}

fn queues(c: &mut Criterion) {
    let d = delays();
    let mut g = c.benchmark_group("queue");
    g.throughput(Throughput::Elements(OPS));
    g.bench_function("slab_key_heap", |b| {
        b.iter_batched(
            || {
                let mut q = EventQueue::new();
                for i in 0..PENDING as u64 {
                    q.push(SimTime(i), Payload([i; 8]));
                }
                q
            },
            |mut q| {
                for &dt in &d {
                    let (t, p) = q.pop().expect("non-empty");
                    q.push(SimTime(t.0 + dt), black_box(p));
                }
                q
            },
            BatchSize::LargeInput,
        )
    });
    g.bench_function("inline_payload_heap", |b| {
        b.iter_batched(
            || {
                let mut q = InlineHeapQueue::default();
                for i in 0..PENDING as u64 {
                    q.push(SimTime(i), Payload([i; 8]));
                }
                q
            },
            |mut q| {
                for &dt in &d {
                    let (t, p) = q.pop().expect("non-empty");
                    q.push(SimTime(t.0 + dt), black_box(p));
                }
                q
            },
            BatchSize::LargeInput,
        )
    });
    g.finish();
}

#[derive(Clone, Debug)]
struct Never;
impl Message for Never {
    fn kind(&self) -> &'static str {
        "never"
    }
    fn digest(&self, _: &mut Digest) {}
}

struct Ticker;
impl Process for Ticker {
    type Msg = Never;
    type Record = ();
    fn on_start(&mut self, ctx: &mut Context<'_, Never, ()>) {
        let first = SimDuration(1 + ctx.rng().range_inclusive(0, 999));
        ctx.set_timer(TimerId(0), first);
    }
    fn on_message(&mut self, _: &mut Context<'_, Never, ()>, _: NodeId, _: Never) {}
    fn on_timer(&mut self, ctx: &mut Context<'_, Never, ()>, id: TimerId) {
        ctx.set_timer(id, SimDuration(1000));
    }
}

fn world(c: &mut Criterion) {
    let nodes = 100u32;
    // 100 nodes × 1 event per simulated ms × 1000 ms = 100k events.
    let events = 100_000u64;
    let mut g = c.benchmark_group("world");
    g.throughput(Throughput::Elements(events));
    g.bench_function("noop_timers", |b| {
        b.iter_batched(
            || {
                let cfg = WorldConfig {
                    seed: 1,
                    duration: SimDuration::from_millis(1000),
                    cluster: nodes,
                    net: NetConfig::default(),
                    disk_sync: Dist::ZERO,
                    faults: Vec::new(),
                    nemesis: None,
                    start_jitter: SimDuration::ZERO,
                    clocks: Default::default(),
                };
                World::new(cfg, nodes, Box::new(|_, _| Ok(Ticker))).expect("builds")
            },
            |mut w| {
                w.run(&mut ());
                assert!(w.events() >= events);
                w
            },
            BatchSize::LargeInput,
        )
    });
    g.finish();
}

criterion_group!(benches, queues, world);
criterion_main!(benches);
