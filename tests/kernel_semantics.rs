//! Network and fault semantics, shown end to end through the kernel with a
//! scripted probe process: partitions block exactly the cut links, one-way
//! cuts are one-way, a pause delays but loses nothing, a crash loses
//! volatile and unsynced state but keeps what was synced, a sync delays what
//! comes after it, clock skew scales timers.

use agentsim::dist::Dist;
use agentsim::fault::{FaultAction, ScheduledFault, Target};
use agentsim::ids::{NodeId, TimerId};
use agentsim::net::{DropCause, LinkParams, NetConfig};
use agentsim::process::{Context, Digest, Message, Process};
use agentsim::sim::{NodeStatus, World, WorldConfig};
use agentsim::time::{SimDuration, SimTime};
use std::collections::BTreeMap;

/// A numbered message.
#[derive(Clone, Debug, PartialEq)]
struct Note(u64);

impl Message for Note {
    fn kind(&self) -> &'static str {
        "note"
    }
    fn digest(&self, d: &mut Digest) {
        d.write_u64(self.0);
    }
}

/// Every `period`, sends `Note(k)` to each other node; records what it
/// receives with the arrival time; on each tick persists its tick count,
/// syncing only every other tick.
#[derive(Debug)]
struct Probe {
    n: u32,
    period: SimDuration,
    ticks: u64,
    recovered_ticks: u64,
    received: Vec<(NodeId, u64, SimTime)>,
    tick_times: Vec<SimTime>,
}

impl Process for Probe {
    type Msg = Note;
    type Record = u64;
    fn on_start(&mut self, ctx: &mut Context<'_, Note, u64>) {
        ctx.set_timer(TimerId(0), self.period);
    }
    fn on_message(&mut self, ctx: &mut Context<'_, Note, u64>, from: NodeId, msg: Note) {
        self.received.push((from, msg.0, ctx.now()));
    }
    fn on_timer(&mut self, ctx: &mut Context<'_, Note, u64>, _: TimerId) {
        self.ticks += 1;
        self.tick_times.push(ctx.now());
        ctx.persist(self.ticks);
        if self.ticks % 2 == 0 {
            ctx.sync();
        }
        for p in 0..self.n {
            if p != ctx.id().0 {
                ctx.send(NodeId(p), Note(self.ticks));
            }
        }
        ctx.set_timer(TimerId(0), self.period);
    }
}

fn world(n: u32, ms: u64, faults: Vec<ScheduledFault>, sync: Dist) -> World<Probe> {
    world_on(n, ms, faults, sync, fixed_latency(1.0))
}

/// Every link: `latency_ms`, no loss, FIFO.
fn fixed_latency(latency_ms: f64) -> NetConfig {
    NetConfig {
        default: LinkParams {
            latency: Dist::Fixed(latency_ms),
            drop: 0.0,
            duplicate: 0.0,
        },
        reorder: false,
        links: BTreeMap::new(),
    }
}

fn world_on(
    n: u32,
    ms: u64,
    faults: Vec<ScheduledFault>,
    sync: Dist,
    net: NetConfig,
) -> World<Probe> {
    let cfg = WorldConfig {
        seed: 9,
        duration: SimDuration::from_millis(ms),
        cluster: n,
        net,
        disk_sync: sync,
        faults,
        nemesis: None,
        start_jitter: SimDuration::ZERO,
        clocks: Default::default(),
    };
    World::new(
        cfg,
        n,
        Box::new(move |_, recs: &[u64]| {
            Ok(Probe {
                n,
                period: SimDuration::from_millis(10),
                ticks: recs.last().copied().unwrap_or(0),
                recovered_ticks: recs.last().copied().unwrap_or(0),
                received: Vec::new(),
                tick_times: Vec::new(),
            })
        }),
    )
    .expect("world builds")
}

fn at(ms: u64, action: FaultAction) -> ScheduledFault {
    ScheduledFault {
        at: SimTime(ms * 1000),
        action,
        every: None,
        stable: None,
        jitter: SimDuration::ZERO,
    }
}

/// Notes node `to` received from `from`, as (note number, arrival ms).
fn notes_from(w: &World<Probe>, to: u32, from: u32) -> Vec<(u64, u64)> {
    w.node(NodeId(to))
        .expect("up")
        .received
        .iter()
        .filter(|r| r.0 == NodeId(from))
        .map(|r| (r.1, r.2 .0 / 1000))
        .collect()
}

fn received_from(w: &World<Probe>, to: u32, from: u32) -> usize {
    w.node(NodeId(to))
        .expect("up")
        .received
        .iter()
        .filter(|r| r.0 == NodeId(from))
        .count()
}

/// While partitioned {0,1} | {2}, nothing crosses between groups and
/// everything inside a group still flows.
#[test]
fn partition_blocks_exactly_the_cut_links() {
    let groups = vec![vec![NodeId(0), NodeId(1)], vec![NodeId(2)]];
    let mut w = world(
        3,
        100,
        vec![at(
            0,
            FaultAction::Partition {
                agents: None,
                groups,
                duration: None,
            },
        )],
        Dist::ZERO,
    );
    w.run(&mut ());
    assert_eq!(received_from(&w, 0, 2), 0);
    assert_eq!(received_from(&w, 2, 0), 0);
    assert_eq!(received_from(&w, 1, 2), 0);
    assert_eq!(received_from(&w, 2, 1), 0);
    assert!(received_from(&w, 0, 1) >= 9);
    assert!(received_from(&w, 1, 0) >= 9);
}

/// A one-way cut 0 → 1 stops 0's messages to 1 but not 1's to 0.
#[test]
fn one_way_cut_is_one_way() {
    let cut = FaultAction::Link {
        from: Target::Node(NodeId(0)),
        to: Target::Node(NodeId(1)),
        both_ways: false,
        drop: 1.0,
        extra_latency: SimDuration::ZERO,
        duration: None,
    };
    let mut w = world(2, 100, vec![at(0, cut)], Dist::ZERO);
    w.run(&mut ());
    assert_eq!(received_from(&w, 1, 0), 0);
    assert!(received_from(&w, 0, 1) >= 9);
}

/// A paused node receives nothing during the pause, then everything that
/// was sent to it, in order; its timers wait too.
#[test]
fn pause_delays_but_does_not_lose_messages() {
    let pause = FaultAction::Pause {
        node: Target::Node(NodeId(1)),
        duration: SimDuration::from_millis(50),
    };
    let mut w = world(2, 200, vec![at(30, pause)], Dist::ZERO);
    w.run_until(SimTime::ZERO + SimDuration::from_millis(79), &mut ());
    assert_eq!(w.status(NodeId(1)), NodeStatus::Paused);
    let before = received_from(&w, 1, 0);
    w.run(&mut ());
    let p = w.node(NodeId(1)).expect("up");
    // Node 0 sent a note every 10 ms for 200 ms; node 1 got all of them but
    // the last, which is still in flight (1 ms) when the run ends.
    let sent_by_0 = w.node(NodeId(0)).expect("up").ticks;
    assert_eq!(
        received_from(&w, 1, 0) as u64,
        sent_by_0 - 1,
        "no message lost across the pause"
    );
    assert!(
        before <= 3,
        "nothing delivered during the pause (got {before})"
    );
    let seqs: Vec<u64> = p.received.iter().map(|r| r.1).collect();
    assert!(
        seqs.windows(2).all(|x| x[0] < x[1]),
        "delivered in order: {seqs:?}"
    );
    // No tick fired during the pause window (30, 80).
    assert!(p.tick_times.iter().all(|t| t.0 <= 30_000 || t.0 >= 80_000));
}

/// A crash loses volatile state and unsynced writes; the restarted node
/// recovers exactly the last synced record.
#[test]
fn crash_keeps_synced_durable_state_only() {
    // Ticks at 10, 20, 30, 40, 50 ms; syncs on even ticks. Crash at 55 ms:
    // tick 5 was written but not synced, so recovery sees 4.
    let crash = FaultAction::Crash {
        node: Target::Node(NodeId(0)),
        restart_after: Some(SimDuration::from_millis(20)),
    };
    let mut w = world(2, 100, vec![at(55, crash)], Dist::ZERO);
    w.run_until(SimTime(60_000), &mut ());
    assert_eq!(w.status(NodeId(0)), NodeStatus::Crashed);
    assert!(w.node(NodeId(0)).is_none());
    assert_eq!(w.durable(NodeId(0)).last(), Some(&4));
    w.run(&mut ());
    let n0 = w.node(NodeId(0)).expect("restarted");
    assert_eq!(n0.recovered_ticks, 4);
    assert!(
        n0.received.iter().all(|r| r.2 .0 >= 75_000),
        "volatile receive log was reset"
    );
    assert_eq!(w.node_counters(NodeId(0)).crashes, 1);
    assert_eq!(w.node_counters(NodeId(0)).restarts, 1);
}

/// With a 5 ms sync, everything that follows a sync (sends and the re-armed
/// timer) happens 5 ms later; ticks without a sync send at once.
#[test]
fn sync_latency_delays_effects_after_the_sync() {
    let mut w = world(2, 45, vec![], Dist::Fixed(5.0));
    w.run(&mut ());
    let got: Vec<(u64, u64)> = w
        .node(NodeId(1))
        .expect("up")
        .received
        .iter()
        .map(|r| (r.1, r.2 .0))
        .collect();
    // Ticks at 10, 20 (sync: sends and next timer at 25), 35, 45 (sync:
    // sends at 50, after the end). Latency is 1 ms.
    assert_eq!(got, vec![(1, 11_000), (2, 26_000), (3, 36_000)]);
}

/// A node whose clock runs at 2x fires its timers twice as often.
#[test]
fn clock_skew_scales_timers() {
    let fast = FaultAction::Clock {
        node: Target::Node(NodeId(0)),
        rate_ppm: 2_000_000,
        duration: None,
    };
    let mut w = world(2, 100, vec![at(0, fast)], Dist::ZERO);
    w.run(&mut ());
    let fast_ticks = w.node(NodeId(0)).expect("up").ticks;
    let slow_ticks = w.node(NodeId(1)).expect("up").ticks;
    assert_eq!(slow_ticks, 10);
    assert!(
        (18..=20).contains(&fast_ticks),
        "fast node ticked {fast_ticks} times"
    );
}

/// Dynamic targets resolve when the fault fires, and a target that cannot
/// be resolved is logged as skipped, not silently dropped.
#[test]
fn unresolvable_dynamic_target_is_skipped_and_logged() {
    let crash_leader = FaultAction::Crash {
        node: Target::Leader,
        restart_after: None,
    };
    let mut w = world(3, 50, vec![at(10, crash_leader)], Dist::ZERO);
    w.run(&mut ());
    let f = &w.applied_faults()[0];
    assert_eq!(f.kind, "crash");
    assert_eq!(f.skipped.as_deref(), Some("no leader"));
    assert!((0..3).all(|i| w.status(NodeId(i)) == NodeStatus::Up));
}

/// A timed fault's undo removes only its own fault: a partition that ends
/// does not lift a newer partition, and a link cut that ends does not
/// restore a link re-cut since.
#[test]
fn undo_removes_only_its_own_fault() {
    let p1 = FaultAction::Partition {
        agents: None,
        groups: vec![vec![NodeId(0)], vec![NodeId(1), NodeId(2)]],
        duration: Some(SimDuration::from_millis(50)),
    };
    let p2 = FaultAction::Partition {
        agents: None,
        groups: vec![vec![NodeId(0), NodeId(1)], vec![NodeId(2)]],
        duration: None,
    };
    let mut w = world(3, 100, vec![at(10, p1), at(20, p2)], Dist::ZERO);
    w.run(&mut ());
    // p1's undo at 60 ms must not heal p2: 2 stays cut off from 0 and 1.
    assert!(!w.network().connected(NodeId(0), NodeId(2)));
    assert!(w.network().connected(NodeId(0), NodeId(1)));

    let cut = |dur: Option<u64>| FaultAction::Link {
        from: Target::Node(NodeId(0)),
        to: Target::Node(NodeId(1)),
        both_ways: true,
        drop: 1.0,
        extra_latency: SimDuration::ZERO,
        duration: dur.map(SimDuration::from_millis),
    };
    let mut w = world(
        2,
        100,
        vec![at(10, cut(Some(50))), at(20, cut(None))],
        Dist::ZERO,
    );
    w.run(&mut ());
    assert!(!w.network().connected(NodeId(0), NodeId(1)));
    assert!(!w.network().connected(NodeId(1), NodeId(0)));
}

/// A node crashed before its jittered boot does not boot (found by
/// proptest: the kernel used to call its handler while it was down); it
/// boots when restarted.
#[test]
fn node_crashed_before_its_boot_boots_at_restart() {
    let crash = FaultAction::Crash {
        node: Target::Node(NodeId(0)),
        restart_after: Some(SimDuration::from_millis(30)),
    };
    let mut w = world(2, 100, vec![at(0, crash)], Dist::ZERO);
    // Boot node 0 late: rebuild the world with a start jitter.
    let mut cfg = w.config().clone();
    cfg.start_jitter = SimDuration::from_millis(20);
    cfg.seed = 1;
    w = World::new(
        cfg,
        2,
        Box::new(|_, recs: &[u64]| {
            Ok(Probe {
                n: 2,
                period: SimDuration::from_millis(10),
                ticks: recs.last().copied().unwrap_or(0),
                recovered_ticks: 0,
                received: Vec::new(),
                tick_times: Vec::new(),
            })
        }),
    )
    .unwrap();
    w.run_until(SimTime(25_000), &mut ());
    assert_eq!(w.status(NodeId(0)), NodeStatus::Crashed);
    w.run(&mut ());
    let n0 = w.node(NodeId(0)).expect("restarted");
    assert!(
        n0.tick_times.iter().all(|t| t.0 >= 30_000),
        "ticked only after the restart"
    );
    assert!(n0.ticks >= 6);
}

/// Answers every note; persists and syncs only on note 1.
#[derive(Debug, Default)]
struct Echo {
    got: Vec<(u64, SimTime)>,
}

impl Process for Echo {
    type Msg = Note;
    type Record = u64;
    fn on_start(&mut self, ctx: &mut Context<'_, Note, u64>) {
        if ctx.id() == NodeId(0) {
            // Two notes back to back to node 1.
            ctx.send(NodeId(1), Note(1));
            ctx.send(NodeId(1), Note(2));
        }
    }
    fn on_message(&mut self, ctx: &mut Context<'_, Note, u64>, from: NodeId, msg: Note) {
        self.got.push((msg.0, ctx.now()));
        if ctx.id() == NodeId(1) {
            if msg.0 == 1 {
                ctx.persist(1);
                ctx.sync();
            }
            ctx.send(from, Note(100 + msg.0));
        }
    }
    fn on_timer(&mut self, _: &mut Context<'_, Note, u64>, _: TimerId) {}
}

/// A node's output waits behind its in-flight sync across handlers: note 2
/// arrives while the sync for note 1 runs, and its answer cannot overtake
/// that sync (otherwise a node could acknowledge data it has not made
/// durable; a seed sweep found Raft followers doing exactly that when a
/// duplicated AppendEntries arrived mid-fsync).
#[test]
fn output_waits_behind_an_in_flight_sync_across_handlers() {
    let cfg = WorldConfig {
        seed: 1,
        duration: SimDuration::from_millis(100),
        cluster: 2,
        net: NetConfig {
            default: LinkParams {
                latency: Dist::Fixed(1.0),
                drop: 0.0,
                duplicate: 0.0,
            },
            reorder: false,
            links: BTreeMap::new(),
        },
        disk_sync: Dist::Fixed(25.0),
        faults: Vec::new(),
        nemesis: None,
        start_jitter: SimDuration::ZERO,
        clocks: Default::default(),
    };
    let mut w: World<Echo> = World::new(cfg, 2, Box::new(|_, _| Ok(Echo::default()))).unwrap();
    w.run(&mut ());
    let n1 = w.node(NodeId(1)).unwrap();
    assert_eq!(n1.got, vec![(1, SimTime(1_000)), (2, SimTime(1_000))]);
    // Both answers leave when the sync completes (1 + 25 ms) and arrive
    // 1 ms later, in order.
    let n0 = w.node(NodeId(0)).unwrap();
    assert_eq!(n0.got, vec![(101, SimTime(27_000)), (102, SimTime(27_000))]);
    assert_eq!(w.durable(NodeId(1)), &[1]);
}

/// A one-way `network.links` override, from a scenario file to the kernel:
/// `{"from": 0, "to": 1, "drop": 1}` loses every message 0 → 1 and none
/// 1 → 0 (the override is looked up in the message's direction).
#[test]
fn one_way_link_override_applies_to_its_direction_only() {
    let text = r#"{
      "name": "one-way-override",
      "seed": 1,
      "duration_ms": 100,
      "cluster": {"nodes": 3, "process": "heartbeat"},
      "network": {
        "latency_ms": {"dist": "fixed", "value": 1},
        "links": [{"from": 0, "to": 1, "drop": 1}]
      }
    }"#;
    let scenario = agentsim::scenario::Scenario::from_str("one-way.json", text).expect("valid");
    let mut net = scenario.world_config(1).net;
    assert_eq!(net.links.keys().copied().collect::<Vec<_>>(), [(0, 1)]);
    net.reorder = false;
    let mut w = world_on(3, 100, Vec::new(), Dist::ZERO, net);
    w.run(&mut ());
    assert_eq!(received_from(&w, 1, 0), 0, "0 -> 1 is overridden to drop");
    assert!(received_from(&w, 0, 1) >= 9, "1 -> 0 keeps the default");
    assert!(received_from(&w, 2, 0) >= 9, "0 -> 2 keeps the default");
    assert!(received_from(&w, 1, 2) >= 9, "2 -> 1 keeps the default");
    let c = &w.network().counters;
    assert_eq!(c.dropped[DropCause::Random as usize], c.dropped_total());
    assert!(c.dropped_total() >= 9);
}

/// Messages to a crashed node are dropped when they arrive (ARCHITECTURE.md,
/// "Network decisions are made at send time"): with 10 ms latency, node
/// 0's notes 2-4 (sent at 20-40 ms, arriving at 30-50 ms) reach node 1
/// while it is down (25-55 ms) and are lost, counted as `node_down`; note
/// 5, sent at 50 ms while node 1 is still down, arrives at 60 ms and is
/// delivered to its new life.
#[test]
fn messages_arriving_at_a_crashed_node_are_dropped_on_arrival() {
    let crash = FaultAction::Crash {
        node: Target::Node(NodeId(1)),
        restart_after: Some(SimDuration::from_millis(30)),
    };
    let mut w = world_on(2, 100, vec![at(25, crash)], Dist::ZERO, fixed_latency(10.0));
    w.run_until(SimTime(54_000), &mut ());
    assert_eq!(w.status(NodeId(1)), NodeStatus::Crashed);
    let lost = w.network().counters.dropped[DropCause::NodeDown as usize];
    assert_eq!(lost, 3, "notes 2, 3 and 4 arrived while node 1 was down");
    w.run(&mut ());
    let from0 = notes_from(&w, 1, 0);
    assert_eq!(
        from0.first(),
        Some(&(5, 60)),
        "the first note of the new life was sent while it was down: {from0:?}"
    );
    assert_eq!(
        w.network().counters.dropped[DropCause::NodeDown as usize],
        3
    );
}

/// A partition decides at send time: a message already in flight when the
/// partition starts still arrives; later ones are dropped (ARCHITECTURE.md).
/// With 10 ms latency and {0} | {1} from 25 ms, node 0's note 2 (sent at
/// 20 ms, arriving at 30 ms) gets through and notes 3+ do not.
#[test]
fn messages_in_flight_across_a_new_partition_still_arrive() {
    let partition = FaultAction::Partition {
        agents: None,
        groups: vec![vec![NodeId(0)], vec![NodeId(1)]],
        duration: None,
    };
    let mut w = world_on(
        2,
        100,
        vec![at(25, partition)],
        Dist::ZERO,
        fixed_latency(10.0),
    );
    w.run(&mut ());
    let from0 = notes_from(&w, 1, 0);
    assert_eq!(from0, [(1, 20), (2, 30)]);
    let c = &w.network().counters;
    assert!(c.dropped[DropCause::Partition as usize] >= 2 * 7);
    // The report's per-type count: every message here is a note.
    assert_eq!(c.by_type(), [("note", c.sent)]);
    // After 25 ms everything is dropped at send time: nothing is left in
    // flight, so every message was either delivered or dropped.
    assert_eq!(c.delivered + c.dropped_total(), c.sent);
}

/// The drop causes carry the names the report (`network.dropped`) uses.
#[test]
fn drop_causes_have_their_report_names() {
    let names: Vec<&str> = DropCause::ALL.iter().map(|c| c.name()).collect();
    assert_eq!(names, ["partition", "link_fault", "random", "node_down"]);
}
