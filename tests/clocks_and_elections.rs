//! Real clocks and the Figure 16 measure: per-node drift and timer jitter
//! are deterministic and do what they say; faults with `stable_ms` wait
//! for a settled cluster; `election_after_leader_loss_ms` takes one sample
//! per leader loss; the fig16 setup elects with tied timeouts (150-150)
//! once candidates step down on a lost election, and livelocks without.

use agentsim::dist::Dist;
use agentsim::fault::{FaultAction, ScheduledFault, Target};
use agentsim::ids::{NodeId, TimerId};
use agentsim::metrics::Report;
use agentsim::net::{LinkParams, NetConfig};
use agentsim::process::{Context, Digest, Message, Process};
use agentsim::runner::{self, RunOptions};
use agentsim::scenario::Scenario;
use agentsim::sim::{ClockModel, World, WorldConfig};
use agentsim::time::{SimDuration, SimTime};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::path::Path;

#[derive(Clone, Debug)]
struct Tick;

impl Message for Tick {
    fn kind(&self) -> &'static str {
        "tick"
    }
    fn digest(&self, _: &mut Digest) {}
}

/// Arms a 100 ms timer at start and again at every firing; records the
/// true time (from the test's view: the world's clock) and the local time
/// of each firing.
#[derive(Debug, Default)]
struct Ticker {
    local: Vec<SimTime>,
}

impl Process for Ticker {
    type Msg = Tick;
    type Record = ();
    fn on_start(&mut self, ctx: &mut Context<'_, Tick, ()>) {
        ctx.set_timer(TimerId(0), SimDuration::from_millis(100));
    }
    fn on_message(&mut self, _: &mut Context<'_, Tick, ()>, _: NodeId, _: Tick) {}
    fn on_timer(&mut self, ctx: &mut Context<'_, Tick, ()>, _: TimerId) {
        self.local.push(ctx.now());
        ctx.set_timer(TimerId(0), SimDuration::from_millis(100));
    }
}

fn ticker_world(seed: u64, clocks: ClockModel, faults: Vec<ScheduledFault>) -> World<Ticker> {
    let cfg = WorldConfig {
        seed,
        duration: SimDuration::from_millis(1_050),
        cluster: 3,
        net: NetConfig {
            default: LinkParams {
                latency: Dist::Fixed(1.0),
                drop: 0.0,
                duplicate: 0.0,
            },
            reorder: false,
            links: BTreeMap::new(),
        },
        disk_sync: Dist::Fixed(0.0),
        faults,
        nemesis: None,
        start_jitter: SimDuration::ZERO,
        clocks,
    };
    World::new(cfg, 3, Box::new(|_, _: &[()]| Ok(Ticker::default()))).expect("world builds")
}

/// True firing times of each node's timer, from the world's trace.
fn firings(w: &mut World<Ticker>) -> Vec<Vec<SimTime>> {
    struct Times(Vec<Vec<SimTime>>);
    impl agentsim::sim::Observer<Ticker> for Times {
        fn after_event(&mut self, _: &World<Ticker>, ev: &agentsim::sim::Dispatched) {
            if ev.kind == agentsim::sim::DispatchKind::Timer {
                self.0[ev.node.expect("timer has a node").index()].push(ev.time);
            }
        }
    }
    let mut t = Times(vec![Vec::new(); 3]);
    w.run(&mut t);
    t.0
}

/// A drift of +1000 ppm runs the local clock 0.1 % fast: a 100 ms timer
/// fires after 99.9001 ms of true time, and the local clock reads 100 ms
/// more at each firing. Perfect clocks fire at exact multiples.
#[test]
fn drift_scales_local_clock_and_timers() {
    let perfect = firings(&mut ticker_world(1, ClockModel::default(), Vec::new()));
    assert_eq!(perfect[0][0], SimTime(100_000));
    assert_eq!(perfect[0][9], SimTime(1_000_000));
    let fast = ClockModel {
        drift_ppm: [1000, 1000],
        timer_jitter: [SimDuration::ZERO; 2],
    };
    let mut w = ticker_world(1, fast, Vec::new());
    let times = firings(&mut w);
    // 100_000 µs local = 100_000 * 1e6 / 1_001_000 = 99_900 µs true.
    assert_eq!(times[0][0], SimTime(99_900));
    assert!(times[0].len() == 10 && times[0][9] < SimTime(1_000_000));
    let local = &w.node(NodeId(0)).expect("up").local;
    assert!(
        local[0] >= SimTime(99_999) && local[0] <= SimTime(100_000),
        "local clock reads the timer's span: {:?}",
        local[0]
    );
}

/// Timer jitter delays every firing by a draw in the configured range,
/// from each node's own stream: the same seed gives the same delays, a
/// different seed different ones, and nodes differ from each other.
#[test]
fn timer_jitter_is_bounded_and_deterministic() {
    let model = ClockModel {
        drift_ppm: [0, 0],
        timer_jitter: [SimDuration::from_micros(10), SimDuration::from_micros(500)],
    };
    let a = firings(&mut ticker_world(5, model, Vec::new()));
    let b = firings(&mut ticker_world(5, model, Vec::new()));
    let c = firings(&mut ticker_world(6, model, Vec::new()));
    assert_eq!(a, b, "same seed, same firings");
    assert_ne!(a, c, "another seed draws other jitter");
    assert_ne!(a[0], a[1], "each node draws from its own stream");
    for node in &a {
        let mut prev = SimTime::ZERO;
        for &t in node {
            let gap = t.0 - prev.0;
            assert!(
                (100_010..=100_500).contains(&gap),
                "gap {gap} µs outside 100 ms + [10, 500] µs"
            );
            prev = t;
        }
    }
}

/// Each life draws its own drift: a node restarted mid-run keeps ticking
/// at a rate drawn for the new life; the whole run stays reproducible.
#[test]
fn drift_is_redrawn_per_life_and_reproducible() {
    let model = ClockModel {
        drift_ppm: [-1000, 1000],
        timer_jitter: [SimDuration::ZERO; 2],
    };
    let crash = ScheduledFault {
        at: SimTime(450_000),
        action: FaultAction::Crash {
            node: Target::Node(NodeId(0)),
            restart_after: Some(SimDuration::ZERO),
        },
        every: None,
        jitter: SimDuration::ZERO,
        stable: None,
    };
    let mut w1 = ticker_world(3, model, vec![crash.clone()]);
    let mut w2 = ticker_world(3, model, vec![crash]);
    let t1 = firings(&mut w1);
    assert_eq!(t1, firings(&mut w2));
    assert_eq!(w1.trace_hash(), w2.trace_hash());
    let gap = |v: &[SimTime], i: usize| v[i + 1].0 - v[i].0;
    // Before the crash (firings 0..3) and after the restart (from the
    // restart at 450 ms) the period differs: a new drift was drawn.
    let before = gap(&t1[0], 1);
    let after = gap(&t1[0], t1[0].len() - 2);
    assert_ne!(before, after, "a restarted node draws a new drift");
    for g in [before, after] {
        assert!(
            (99_900..=100_101).contains(&g),
            "period {g} µs outside ±1000 ppm"
        );
    }
}

fn load(path: &str) -> Scenario {
    Scenario::load(Path::new(path)).unwrap_or_else(|e| panic!("{path}: {e:?}"))
}

fn run_spec(spec: Value) -> Report {
    let text = serde_json::to_string(&spec).expect("json");
    let s = Scenario::from_str("test.json", &text).unwrap_or_else(|e| panic!("{e:?}"));
    let opts = RunOptions::default();
    runner::run(&runner::effective(&s, &opts), &opts).report
}

fn fig16(range: &str, duration_ms: u64, patch: impl FnOnce(&mut Value)) -> Report {
    let s = load(&format!("scenarios/fig16/{range}.json"));
    let mut v = serde_json::to_value(&s.spec).expect("spec serializes");
    v["duration_ms"] = json!(duration_ms);
    patch(&mut v);
    run_spec(v)
}

fn crashes(r: &Report) -> Vec<f64> {
    r.faults
        .iter()
        .filter(|f| f.kind == "crash" && !f.is_skipped())
        .map(|f| f.at_ms)
        .collect()
}

/// The Figure 16 setup: every crash waits for a settled cluster (so it
/// always finds a leader to crash), crashes are at least `every_ms +
/// stable_ms` apart, and each one is a leader loss with exactly one
/// election sample.
#[test]
fn stable_crashes_give_one_sample_per_leader_loss() {
    let r = fig16("150-155", 120_000, |_| {});
    assert!(r.checks.ok, "{:?}", r.checks.failures);
    let at = crashes(&r);
    assert!(at.len() >= 40, "only {} crashes in 120 s", at.len());
    for w in at.windows(2) {
        assert!(
            w[1] - w[0] >= 2_500.0,
            "crashes {w:?} closer than every + stable"
        );
    }
    let e = &r.section("election_after_leader_loss_ms");
    let samples = e["samples"].as_array().expect("samples").len();
    assert_eq!(e["losses"].as_u64(), Some(at.len() as u64), "{e}");
    assert_eq!(
        samples as u64 + e["recovered"].as_u64().unwrap() + e["unfinished"].as_u64().unwrap(),
        at.len() as u64
    );
    assert!(
        samples + 1 >= at.len(),
        "every loss but the last is sampled"
    );
    // The old measure counts several intervals per crash when a new leader
    // is deposed before a majority knows it; the new one never does.
    let d = &r.section("leader_loss_downtime_ms");
    assert!(d["count"].as_u64().unwrap() >= samples as u64);
}

/// A leader paused for less than an election timeout comes back leading
/// its term: the loss is `recovered`, not a sample. A leader cut off from
/// the majority is one sample, ended by the majority's new leader.
#[test]
fn pause_shorter_than_election_recovers_isolation_is_one_sample() {
    let base = |faults: Value| {
        json!({
            "name": "loss", "seed": 3, "duration_ms": 6000,
            "cluster": {"nodes": 5, "process": "raft",
                "raft": {"election_timeout_ms": [150, 300], "heartbeat_ms": 50}},
            "network": {"latency_ms": {"dist": "uniform", "min": 1, "max": 2}},
            "faults": faults
        })
    };
    let paused = run_spec(base(json!([
        {"at_ms": 2000, "kind": "pause", "node": "leader", "for_ms": 60}
    ])));
    let e = &paused.section("election_after_leader_loss_ms");
    assert_eq!(
        (
            e["losses"].as_u64(),
            e["recovered"].as_u64(),
            e["count"].as_u64()
        ),
        (Some(1), Some(1), Some(0)),
        "{e}"
    );
    let isolated = run_spec(base(json!([
        {"at_ms": 2000, "kind": "isolate", "node": "leader", "for_ms": 1500}
    ])));
    let e = &isolated.section("election_after_leader_loss_ms");
    assert_eq!(
        (e["losses"].as_u64(), e["count"].as_u64()),
        (Some(1), Some(1)),
        "{e}"
    );
    let ms = e["p50"].as_f64().unwrap();
    assert!((150.0..=1000.0).contains(&ms), "election took {ms} ms");
}

/// 150-150 ms (no randomness at all): with candidates stepping down on a
/// lost election, network jitter separates them and every crash is
/// followed by an election; with the Figure 2-literal rule and perfect
/// clocks, tied candidates stay tied and no leader is elected after the
/// first crash.
#[test]
fn tied_timeouts_elect_only_with_step_down() {
    let ok = fig16("150-150", 60_000, |_| {});
    let e = &ok.section("election_after_leader_loss_ms");
    assert!(e["count"].as_u64().unwrap() >= 15, "{e}");
    assert!(e["max"].as_f64().unwrap() < 5_000.0, "{e}");
    let stuck = fig16("150-150", 60_000, |v| {
        v["cluster"]["raft"]["step_down_on_lost_election"] = json!(false);
        v.as_object_mut().expect("object").remove("clocks");
    });
    let e = &stuck.section("election_after_leader_loss_ms");
    assert_eq!(e["count"].as_u64(), Some(0), "{e}");
    assert_eq!(e["unfinished"].as_u64(), Some(1), "{e}");
    assert_eq!(
        crashes(&stuck).len(),
        1,
        "no leader, no settled cluster, no second crash"
    );
}

/// Same scenario with clocks, same seed: the same trace hash; the clock
/// model changes the run (drift and jitter are real inputs).
#[test]
fn clocks_are_deterministic_and_change_the_run() {
    let a = fig16("150-200", 20_000, |_| {});
    let b = fig16("150-200", 20_000, |_| {});
    let c = fig16("150-200", 20_000, |v| {
        v.as_object_mut().expect("object").remove("clocks");
    });
    assert_eq!(a.trace_hash, b.trace_hash);
    assert_ne!(a.trace_hash, c.trace_hash);
}

/// Bad `clocks` and `stable_ms` values are refused by validation, each
/// error naming its field (the CLI turns these into exit 2 with
/// file:line:col, as for every scenario error).
#[test]
fn bad_clocks_and_stable_ms_are_refused_naming_the_field() {
    let base = || {
        json!({
            "name": "bad", "duration_ms": 5000,
            "cluster": {"nodes": 3, "process": "raft",
                "raft": {"election_timeout_ms": [150, 300], "heartbeat_ms": 50}}
        })
    };
    type Patch = Box<dyn Fn(&mut Value)>;
    let cases: Vec<(Patch, &str)> = vec![
        (
            Box::new(|v| v["clocks"] = json!({"drift_ppm": [-2000, 100]})),
            "clocks.drift_ppm[0]",
        ),
        (
            Box::new(|v| v["clocks"] = json!({"drift_ppm": [0, 1001]})),
            "clocks.drift_ppm[1]",
        ),
        (
            Box::new(|v| v["clocks"] = json!({"drift_ppm": [50, -50]})),
            "clocks.drift_ppm",
        ),
        (
            Box::new(|v| v["clocks"] = json!({"timer_jitter_us": [0, 150001]})),
            "clocks.timer_jitter_us[1]",
        ),
        (
            Box::new(|v| v["clocks"] = json!({"timer_jitter_us": [-1, 10]})),
            "clocks.timer_jitter_us[0]",
        ),
        (
            Box::new(|v| {
                v["faults"] =
                    json!([{"at_ms": 10, "kind": "crash", "node": "leader", "stable_ms": 500}])
            }),
            "faults[0].stable_ms",
        ),
        (
            Box::new(
                |v| v["faults"] = json!([{"at_ms": 10, "kind": "crash", "node": "leader", "every_ms": 1000, "stable_ms": -5}]),
            ),
            "faults[0].stable_ms",
        ),
        (
            Box::new(|v| {
                v["cluster"] = json!({"nodes": 3, "process": "heartbeat"});
                v["faults"] = json!([{"at_ms": 10, "kind": "crash", "node": 0, "every_ms": 1000, "stable_ms": 5}]);
            }),
            "faults[0].stable_ms",
        ),
        (
            Box::new(|v| {
                v["faults"] =
                    json!([{"at_ms": 10, "kind": "crash", "node": 1, "restart_after_ms": -1}])
            }),
            "faults[0].restart_after_ms",
        ),
    ];
    for (patch, field) in cases {
        let mut v = base();
        patch(&mut v);
        let text = serde_json::to_string_pretty(&v).expect("json");
        let err = match Scenario::from_str("bad.json", &text) {
            Ok(_) => panic!("accepted: {text}"),
            Err(e) => e,
        };
        assert!(
            err.0.iter().any(|e| e.path == field),
            "{field}: expected an error naming it, got {err}"
        );
    }
    // The edges are fine: ±1000 ppm, jitter up to the minimum timeout,
    // an immediate restart.
    let mut v = base();
    v["clocks"] = json!({"drift_ppm": [-1000, 1000], "timer_jitter_us": [0, 150000]});
    v["faults"] = json!([{"at_ms": 10, "kind": "crash", "node": "leader",
        "restart_after_ms": 0, "every_ms": 1000, "stable_ms": 100, "jitter_ms": 25}]);
    let text = serde_json::to_string(&v).expect("json");
    assert!(Scenario::from_str("ok.json", &text).is_ok());
}

/// A clock fault that ends restores the node's drifted rate; liveness
/// counts that as a drifting clock, not a skew still in force, so the
/// run is judged (and holds).
#[test]
fn ended_clock_fault_on_a_drifting_clock_leaves_liveness_judged() {
    let r = run_spec(json!({
        "name": "drift-skew", "seed": 4, "duration_ms": 8000,
        "cluster": {"nodes": 3, "process": "raft",
            "raft": {"election_timeout_ms": [150, 300], "heartbeat_ms": 50}},
        "clocks": {"drift_ppm": [-500, 500]},
        "faults": [{"at_ms": 1000, "kind": "clock", "node": "leader", "rate": 2.0, "for_ms": 1000}]
    }));
    assert!(r.checks.ok, "{:?}", r.checks.failures);
    let judged_leader = r.checks.ran.iter().any(|c| c == "liveness.leader");
    assert!(
        judged_leader,
        "liveness.leader judged: ran {:?}",
        r.checks.ran
    );
    let rate = r
        .faults
        .iter()
        .rev()
        .find(|f| f.kind == "clock")
        .expect("reset")
        .rate
        .expect("rate");
    assert!(
        rate != 1.0 && (rate - 1.0).abs() <= 0.0005,
        "reset to the drifted rate {rate}"
    );
}
