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
use criterion::{criterion_group, BatchSize, Criterion, Throughput};
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

/// The mesh workload of `scenarios/heartbeat-1h.json`: 5 nodes, each
/// pings the other 4 every 50 ms, every ping is acked, latency uniform
/// 5-10 ms; 60 simulated seconds (about 54,000 events).
const MESH_NODES: u32 = 5;
const MESH_MS: u64 = 60_000;
/// The mesh run's trace hash, pinned before the kernel speed work
/// (issue 11): optimisations must leave it bit-identical.
const MESH_TRACE_HASH: &str = "95f9faf935e5f06a55c57bcdbbc595dea9f598fdab5425111736fe364de8e1ae";

fn mesh_world() -> World<agentsim::heartbeat::HeartbeatNode> {
    use agentsim::heartbeat::HeartbeatNode;
    use agentsim::net::LinkParams;
    let cfg = WorldConfig {
        seed: 1,
        duration: SimDuration::from_millis(MESH_MS),
        cluster: MESH_NODES,
        net: NetConfig {
            default: LinkParams {
                latency: Dist::Uniform {
                    min: 5.0,
                    max: 10.0,
                },
                drop: 0.0,
                duplicate: 0.0,
            },
            reorder: false,
            links: Default::default(),
        },
        disk_sync: Dist::ZERO,
        faults: Vec::new(),
        nemesis: None,
        start_jitter: SimDuration::ZERO,
        clocks: Default::default(),
    };
    World::new(
        cfg,
        MESH_NODES,
        Box::new(|_, recs| {
            Ok(HeartbeatNode::recover(
                MESH_NODES,
                SimDuration::from_millis(50),
                recs,
            ))
        }),
    )
    .expect("builds")
}

/// The reference: the same mesh on a bare event loop, with nothing a
/// simulator adds (no trace hash, no effects buffer, no network model,
/// no observers, no per-node streams): one slab-backed key heap, one
/// ChaCha stream, events as a small enum. It counts events and acks so
/// the work cannot be optimised away. The kernel's cost is its time
/// over this one's, measured side by side (README: the ratio).
fn minimal_mesh() -> (u64, u64) {
    #[derive(Clone, Copy)]
    enum Ev {
        Tick(u32),
        Ping { from: u32, to: u32, sent: u64 },
        Ack { to: u32, sent: u64 },
    }
    let mut q = EventQueue::new();
    let mut rng = SimRng::derive(1, "minimal");
    let end = MESH_MS * 1000;
    for n in 0..MESH_NODES {
        q.push(SimTime(50_000), Ev::Tick(n));
    }
    let (mut events, mut acks, mut rtt_sum) = (0u64, 0u64, 0u64);
    let latency = |rng: &mut SimRng| 5_000 + rng.range_inclusive(0, 5_000);
    while let Some((t, ev)) = q.pop() {
        if t.0 > end {
            break;
        }
        events += 1;
        match ev {
            Ev::Tick(n) => {
                for p in (0..MESH_NODES).filter(|&p| p != n) {
                    let at = t.0 + latency(&mut rng);
                    q.push(
                        SimTime(at),
                        Ev::Ping {
                            from: n,
                            to: p,
                            sent: t.0,
                        },
                    );
                }
                q.push(SimTime(t.0 + 50_000), Ev::Tick(n));
            }
            Ev::Ping { from, to, sent } => {
                let _ = to;
                let at = t.0 + latency(&mut rng);
                q.push(SimTime(at), Ev::Ack { to: from, sent });
            }
            Ev::Ack { to, sent } => {
                let _ = to;
                acks += 1;
                rtt_sum += t.0 - sent;
            }
        }
    }
    (events, black_box(acks + rtt_sum % 2))
}

fn mesh(c: &mut Criterion) {
    let mut w = mesh_world();
    w.run(&mut ());
    let events = w.events();
    // The kernel must do exactly the work it did before any speed-up:
    // the mesh's trace hash is pinned (the bytes fed to BLAKE3 and the
    // order of every random draw are part of it).
    assert_eq!(w.trace_hash(), MESH_TRACE_HASH, "the mesh's trace changed");
    let (min_events, _) = minimal_mesh();
    // The same workload: event counts agree within start-up (boot
    // events and the timers' first arming).
    assert!(
        events.abs_diff(min_events) * 100 < events,
        "kernel {events} vs minimal {min_events} events"
    );
    let mut g = c.benchmark_group("mesh");
    g.throughput(Throughput::Elements(events));
    g.bench_function("agentsim_kernel", |b| {
        b.iter_batched(
            mesh_world,
            |mut w| {
                w.run(&mut ());
                w
            },
            BatchSize::LargeInput,
        )
    });
    g.bench_function("minimal_loop", |b| b.iter(minimal_mesh));
    g.finish();
}

criterion_group!(benches, queues, world, mesh);

/// `MESH_ONLY=kernel|minimal MESH_REPS=N cargo bench --bench kernel` runs
/// just that side of the mesh N times and exits, for `perf stat -e
/// cycles:u,instructions:u`: user-mode cycles and instructions per run do
/// not count the time a loaded machine keeps the process waiting, which
/// inflates criterion's wall-clock figures (README, Performance).
fn main() {
    if let Ok(which) = std::env::var("MESH_ONLY") {
        let reps: u64 = std::env::var("MESH_REPS")
            .ok()
            .and_then(|r| r.parse().ok())
            .unwrap_or(100);
        let mut events = 0;
        let mut last = None;
        for _ in 0..reps {
            events += match which.as_str() {
                "kernel" => {
                    let mut w = mesh_world();
                    w.run(&mut ());
                    let n = w.events();
                    last = Some(w);
                    n
                }
                "minimal" => minimal_mesh().0,
                other => panic!("MESH_ONLY={other:?}: kernel or minimal"),
            };
        }
        // The timed runs must be the pinned work (checked once, after
        // them, so the check costs the measurement nothing per run).
        if let Some(w) = last {
            assert_eq!(w.trace_hash(), MESH_TRACE_HASH, "the mesh's trace changed");
        }
        println!("{which}: {reps} runs, {events} events");
        return;
    }
    benches();
    Criterion::default().configure_from_args().final_summary();
}
