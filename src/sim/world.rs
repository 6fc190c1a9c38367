//! The world loop: pop the earliest event, hand it to the node's process,
//! apply the effects it wrote, fold the event into the trace hash and let
//! the observers (checkers, metrics) look.

use super::disk::{Disk, DiskOp};
use super::queue::EventQueue;
use super::trace::TraceHasher;
use crate::dist::Dist;
use crate::fault::{AppliedFault, FaultAction, NemesisConfig, NemesisKind, ScheduledFault, Target};
use crate::ids::{NodeId, TimerId};
use crate::net::{DropCause, LinkFault, NetConfig, Network, Route};
use crate::process::{Context, Digest, Effect, Message, Process, Role};
use crate::rng::SimRng;
use crate::time::{SimDuration, SimTime};

/// Everything the kernel needs besides the processes.
#[derive(Clone, Debug)]
pub struct WorldConfig {
    /// The scenario seed; every random stream derives from it.
    pub seed: u64,
    /// Events after this much virtual time are not run.
    pub duration: SimDuration,
    /// Addresses `0..cluster` are cluster nodes (fault targets); the rest
    /// are clients or agents.
    pub cluster: u32,
    /// Network model.
    pub net: NetConfig,
    /// Latency of one disk sync, in milliseconds.
    pub disk_sync: Dist,
    /// Scripted faults.
    pub faults: Vec<ScheduledFault>,
    /// Random faults, if any.
    pub nemesis: Option<NemesisConfig>,
    /// Cluster nodes boot at a uniform random time in `[0, start_jitter]`
    /// (real machines never boot in the same microsecond); zero boots all
    /// at time 0 and draws nothing.
    pub start_jitter: SimDuration,
    /// Per-node clock drift and timer jitter (default: perfect clocks).
    pub clocks: ClockModel,
}

/// Imperfect clocks, as real machines have them. Each node draws a drift
/// once per life (uniform in `drift_ppm`, from its own `clock/<i>` stream)
/// that scales its local clock and its timers; every timer fires late by
/// a uniform draw in `timer_jitter` (true time). The default is perfect:
/// no draws, so traces of scenarios without a `clocks` block are the same
/// as before the model existed. Without jitter, simulated timers fire at
/// the exact microsecond, so nodes whose timers were armed together stay
/// in lockstep, which real clocks never do.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ClockModel {
    /// Drift range in parts per million, inclusive (`[-100, 100]` is a
    /// typical quartz oscillator); `[0, 0]` draws nothing.
    pub drift_ppm: [i64; 2],
    /// Extra timer delay range, inclusive; `[0, 0]` draws nothing.
    pub timer_jitter: [SimDuration; 2],
}

impl ClockModel {
    fn drifts(&self) -> bool {
        self.drift_ppm != [0, 0]
    }
    fn jitters(&self) -> bool {
        self.timer_jitter[1] > SimDuration::ZERO
    }
}

/// Whether a node is running.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NodeStatus {
    /// Running.
    Up,
    /// Crashed: volatile state gone, waiting for a restart.
    Crashed,
    /// Frozen: its messages and timers wait until it resumes.
    Paused,
}

/// Builds a node's process at boot (no records) and at every restart (the
/// records that were synced before the crash). An error keeps the node down
/// (e.g. a corrupt snapshot detected during recovery).
pub type Factory<P> = Box<dyn FnMut(NodeId, &[<P as Process>::Record]) -> Result<P, String>>;

/// Kind of a dispatched event, for observers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DispatchKind {
    /// A node booted or restarted.
    Start,
    /// A message was delivered.
    Deliver,
    /// A timer fired.
    Timer,
    /// A disk sync completed and the effects after it ran.
    SyncDone,
    /// A fault was applied (or skipped).
    Fault,
}

impl DispatchKind {
    fn code(self) -> u8 {
        match self {
            DispatchKind::Start => 1,
            DispatchKind::Deliver => 2,
            DispatchKind::Timer => 3,
            DispatchKind::SyncDone => 4,
            DispatchKind::Fault => 5,
        }
    }

    /// Name used in traces.
    pub fn name(self) -> &'static str {
        match self {
            DispatchKind::Start => "start",
            DispatchKind::Deliver => "deliver",
            DispatchKind::Timer => "timer",
            DispatchKind::SyncDone => "sync_done",
            DispatchKind::Fault => "fault",
        }
    }
}

/// What just happened, handed to observers after each event.
#[derive(Clone, Copy, Debug)]
pub struct Dispatched {
    /// Virtual time of the event.
    pub time: SimTime,
    /// What kind of event.
    pub kind: DispatchKind,
    /// The node whose handler ran (none for network-wide faults).
    pub node: Option<NodeId>,
    /// The sender, for deliveries.
    pub from: Option<NodeId>,
}

/// A line of the optional event trace, handed to the tracer before the
/// handler runs (so the message is still there to print).
#[derive(Debug)]
pub struct TraceEvent<'a, M> {
    /// Virtual time.
    pub time: SimTime,
    /// Event kind.
    pub kind: DispatchKind,
    /// Node concerned.
    pub node: Option<NodeId>,
    /// Sender, for deliveries.
    pub from: Option<NodeId>,
    /// When a delivered message was sent.
    pub sent: Option<SimTime>,
    /// The message, for deliveries.
    pub msg: Option<&'a M>,
    /// The timer, for timer events.
    pub timer: Option<TimerId>,
    /// The fault, for fault events.
    pub fault: Option<&'a AppliedFault>,
}

/// Something that watches a run: checkers and metrics. Observers only read
/// the world; they can ask the run to stop (a safety violation) but never
/// change what happens.
pub trait Observer<P: Process> {
    /// Called after every dispatched event.
    fn after_event(&mut self, world: &World<P>, ev: &Dispatched);
    /// True to stop the run after the current event.
    fn stop_requested(&self) -> bool {
        false
    }
}

/// An observer that watches nothing.
impl<P: Process> Observer<P> for () {
    fn after_event(&mut self, _: &World<P>, _: &Dispatched) {}
}

impl<P: Process, A: Observer<P>, B: Observer<P>> Observer<P> for (A, B) {
    fn after_event(&mut self, world: &World<P>, ev: &Dispatched) {
        self.0.after_event(world, ev);
        self.1.after_event(world, ev);
    }
    fn stop_requested(&self) -> bool {
        self.0.stop_requested() || self.1.stop_requested()
    }
}

type Tracer<M> = Box<dyn FnMut(&TraceEvent<'_, M>)>;

#[derive(Debug)]
enum Undo {
    Restart(NodeId),
    Resume(NodeId),
    ClockReset(NodeId),
    EndPartition(u64),
    Unisolate(NodeId, u64),
    Unlink {
        from: NodeId,
        to: NodeId,
        both_ways: bool,
        gen: u64,
    },
}

#[derive(Debug)]
enum Event<M> {
    Start(NodeId),
    Deliver {
        from: NodeId,
        to: NodeId,
        sent: SimTime,
        msg: M,
    },
    Timer {
        node: NodeId,
        id: TimerId,
        gen: u64,
    },
    SyncDone {
        node: NodeId,
        inc: u32,
        flush: usize,
    },
    Scripted(usize),
    /// A `stable` fault's cluster has been settled long enough (if the
    /// generation still matches): draw the jitter and queue the firing.
    Settled(usize, u64),
    /// A `stable` fault fires now.
    Fire(usize),
    Undo(Undo, &'static str),
    Nemesis,
}

/// Per-node clock: local = base_local + (true - base_true) * rate.
#[derive(Clone, Copy, Debug)]
struct Clock {
    rate_ppm: u64,
    base_true: SimTime,
    base_local: SimTime,
}

impl Clock {
    const TRUE_RATE: u64 = 1_000_000;

    fn local(&self, now: SimTime) -> SimTime {
        if self.rate_ppm == Self::TRUE_RATE {
            return SimTime(self.base_local.0 + (now.0 - self.base_true.0));
        }
        let elapsed = (now.0 - self.base_true.0) as u128 * self.rate_ppm as u128 / 1_000_000;
        SimTime(self.base_local.0 + elapsed as u64)
    }

    /// Real time for a local-clock span: a fast clock fires timers early.
    fn real(&self, local: SimDuration) -> SimDuration {
        if self.rate_ppm == Self::TRUE_RATE {
            return local;
        }
        SimDuration((local.0 as u128 * 1_000_000 / self.rate_ppm as u128) as u64)
    }

    fn set_rate(&mut self, now: SimTime, rate_ppm: u64) {
        self.base_local = self.local(now);
        self.base_true = now;
        self.rate_ppm = rate_ppm.max(1);
    }
}

/// An armed timer. Re-arming to a later deadline while an event for it is
/// already queued only moves `deadline`: the queued event, when it pops,
/// re-queues itself at the deadline. Election timers are re-armed on every
/// heartbeat, so this keeps one queue entry per timer instead of one per
/// re-arm.
#[derive(Clone, Copy, Debug)]
struct ArmedTimer {
    id: TimerId,
    gen: u64,
    deadline: SimTime,
    queued_at: SimTime,
}

struct Slot<P: Process> {
    process: Option<P>,
    status: NodeStatus,
    incarnation: u32,
    rng: SimRng,
    disk: Disk<P::Record>,
    timers: Vec<ArmedTimer>,
    next_gen: u64,
    clock: Clock,
    /// The node's own clock stream (drift and timer jitter draws).
    clock_rng: SimRng,
    /// The rate this life's drift gives the clock; a clock fault overrides
    /// it while active and its undo restores it.
    base_rate_ppm: u64,
    backlog: Vec<Event<P::Msg>>,
    /// True while a disk sync is in flight.
    syncing: bool,
    /// Effects waiting for the in-flight sync, in order: everything the
    /// node does after asking for a sync, in this handler or later ones,
    /// happens after the sync completes (its output queue sits behind its
    /// disk, so it can never acknowledge what is not yet durable).
    waiting: Vec<Effect<P::Msg, P::Record>>,
    crashes: u32,
    restarts: u32,
}

/// Per-node counters for the report.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct NodeCounters {
    /// Times crashed.
    pub crashes: u32,
    /// Times restarted successfully.
    pub restarts: u32,
    /// Disk syncs completed.
    pub syncs: u64,
    /// Records made durable.
    pub synced_writes: u64,
}

/// A simulated world of processes of type `P`.
pub struct World<P: Process> {
    cfg: WorldConfig,
    now: SimTime,
    end: SimTime,
    queue: EventQueue<Event<P::Msg>>,
    slots: Vec<Slot<P>>,
    factory: Factory<P>,
    net: Network,
    net_rng: SimRng,
    fault_rng: SimRng,
    disk_rng: SimRng,
    trace: TraceHasher,
    tracer: Option<Tracer<P::Msg>>,
    effects: Vec<Effect<P::Msg, P::Record>>,
    applied: Vec<AppliedFault>,
    events: u64,
    stopped_early: bool,
    /// Faults with `stable` waiting for the cluster to settle.
    settling: Vec<Settling>,
    /// The event cap (`u64::MAX`: none) and whether the run hit it.
    max_events: u64,
    event_cap_hit: bool,
    /// Called every [`PROGRESS_EVERY`] events with (now, end, events).
    progress: Option<Progress>,
}

/// A progress callback: (virtual now, virtual end, events so far).
pub type Progress = Box<dyn FnMut(SimTime, SimTime, u64)>;

/// Events between two progress callbacks (a power of two: the check is a
/// mask on the event counter).
pub const PROGRESS_EVERY: u64 = 1 << 16;

/// A `stable` fault waiting to fire: since when the cluster has been
/// settled (None: not settled now), and a generation that invalidates the
/// `Settled` event queued for an earlier settled stretch.
#[derive(Clone, Copy, Debug)]
struct Settling {
    fault: usize,
    since: Option<SimTime>,
    gen: u64,
}

/// A drift draw: the clock rate in ppm of true time.
fn draw_rate(model: &ClockModel, rng: &mut SimRng) -> u64 {
    let [lo, hi] = model.drift_ppm;
    let span = (hi - lo) as u64;
    let drift = lo + rng.range_inclusive(0, span) as i64;
    (Clock::TRUE_RATE as i64 + drift) as u64
}

impl<P: Process> World<P> {
    /// A world with `addresses` processes built by `factory` (addresses
    /// `0..cfg.cluster` are the cluster). Nothing runs until [`World::run`].
    pub fn new(cfg: WorldConfig, addresses: u32, mut factory: Factory<P>) -> Result<Self, String> {
        assert!(cfg.cluster <= addresses, "cluster larger than the world");
        let [lo, hi] = cfg.clocks.drift_ppm;
        assert!(
            lo <= hi && lo > -1_000_000,
            "clock drift range [{lo}, {hi}] ppm is empty or stops the clock"
        );
        let [jlo, jhi] = cfg.clocks.timer_jitter;
        assert!(jlo <= jhi, "timer jitter range [{jlo}, {jhi}] is empty");
        let mut slots = Vec::with_capacity(addresses as usize);
        for i in 0..addresses {
            let id = NodeId(i);
            let process = factory(id, &[])?;
            slots.push(Slot {
                process: Some(process),
                status: NodeStatus::Up,
                incarnation: 0,
                rng: SimRng::for_node(cfg.seed, i),
                disk: Disk::default(),
                timers: Vec::new(),
                next_gen: 0,
                clock: Clock {
                    rate_ppm: Clock::TRUE_RATE,
                    base_true: SimTime::ZERO,
                    base_local: SimTime::ZERO,
                },
                clock_rng: SimRng::derive(cfg.seed, &format!("clock/{i}")),
                base_rate_ppm: Clock::TRUE_RATE,
                backlog: Vec::new(),
                syncing: false,
                waiting: Vec::new(),
                crashes: 0,
                restarts: 0,
            });
        }
        if cfg.clocks.drifts() {
            for slot in &mut slots {
                let rate = draw_rate(&cfg.clocks, &mut slot.clock_rng);
                slot.base_rate_ppm = rate;
                slot.clock.set_rate(SimTime::ZERO, rate);
            }
        }
        let mut queue = EventQueue::new();
        let mut boot_rng = SimRng::derive(cfg.seed, "boot");
        for i in 0..addresses {
            let at = if cfg.start_jitter.0 > 0 && i < cfg.cluster {
                SimTime(boot_rng.range_inclusive(0, cfg.start_jitter.0))
            } else {
                SimTime::ZERO
            };
            queue.push(at, Event::Start(NodeId(i)));
        }
        for (i, f) in cfg.faults.iter().enumerate() {
            queue.push(f.at, Event::Scripted(i));
        }
        let mut fault_rng = SimRng::derive(cfg.seed, "faults");
        if let Some(n) = &cfg.nemesis {
            let first =
                SimDuration::from_micros(fault_rng.exponential(n.mean_interval.0 as f64) as u64);
            if n.until.is_none_or(|u| SimTime::ZERO + first <= u) {
                queue.push(SimTime::ZERO + first, Event::Nemesis);
            }
        }
        Ok(World {
            end: SimTime::ZERO + cfg.duration,
            net: Network::new(cfg.net.clone(), addresses as usize),
            net_rng: SimRng::derive(cfg.seed, "network"),
            fault_rng,
            disk_rng: SimRng::derive(cfg.seed, "disk"),
            cfg,
            now: SimTime::ZERO,
            queue,
            slots,
            factory,
            trace: TraceHasher::new(),
            tracer: None,
            effects: Vec::with_capacity(64),
            applied: Vec::new(),
            events: 0,
            stopped_early: false,
            settling: Vec::new(),
            max_events: u64::MAX,
            event_cap_hit: false,
            progress: None,
        })
    }

    /// Print every event through `tracer` (for `--trace FILE`).
    pub fn set_tracer(&mut self, tracer: Tracer<P::Msg>) {
        self.tracer = Some(tracer);
    }

    // ----- read-only views for observers and reports -----

    /// Current virtual time.
    pub fn now(&self) -> SimTime {
        self.now
    }
    /// The configuration.
    pub fn config(&self) -> &WorldConfig {
        &self.cfg
    }
    /// Number of cluster nodes.
    pub fn cluster_size(&self) -> u32 {
        self.cfg.cluster
    }
    /// Number of addresses (cluster + clients + agents).
    pub fn addresses(&self) -> u32 {
        self.slots.len() as u32
    }
    /// The process at `id`, unless it is crashed.
    pub fn node(&self, id: NodeId) -> Option<&P> {
        self.slots[id.index()].process.as_ref()
    }
    /// Whether `id` is up, crashed or paused.
    pub fn status(&self, id: NodeId) -> NodeStatus {
        self.slots[id.index()].status
    }
    /// The network (counters, connectivity).
    pub fn network(&self) -> &Network {
        &self.net
    }
    /// Faults applied so far, in order.
    pub fn applied_faults(&self) -> &[AppliedFault] {
        &self.applied
    }
    /// Events dispatched so far.
    pub fn events(&self) -> u64 {
        self.events
    }
    /// The trace hash so far, hex.
    pub fn trace_hash(&self) -> String {
        self.trace.hex()
    }
    /// Stop the run once it has dispatched `n` events (the
    /// `liveness.event_storm` check), so a runaway run ends instead of
    /// hanging.
    pub fn set_max_events(&mut self, n: u64) {
        self.max_events = n;
    }
    /// Call `f` every [`PROGRESS_EVERY`] events (the CLI's progress line on
    /// long runs). It sees only times and a count, never the world, so it
    /// cannot change what happens: traces are the same with or without it.
    pub fn set_progress(&mut self, f: Progress) {
        self.progress = Some(f);
    }
    /// True while a clock fault sets `id`'s clock rate (its drift alone,
    /// `clocks.drift_ppm`, is not a fault).
    pub fn clock_faulted(&self, id: NodeId) -> bool {
        let slot = &self.slots[id.index()];
        slot.clock.rate_ppm != slot.base_rate_ppm
    }
    /// True if the run stopped at the event cap.
    pub fn event_cap_hit(&self) -> bool {
        self.event_cap_hit
    }
    /// True if an observer (or the event cap) stopped the run before its end.
    pub fn stopped_early(&self) -> bool {
        self.stopped_early
    }
    /// The synced records of `id` (what a restart would recover from).
    pub fn durable(&self, id: NodeId) -> &[P::Record] {
        self.slots[id.index()].disk.durable()
    }
    /// Per-node counters.
    pub fn node_counters(&self, id: NodeId) -> NodeCounters {
        let s = &self.slots[id.index()];
        NodeCounters {
            crashes: s.crashes,
            restarts: s.restarts,
            syncs: s.disk.syncs,
            synced_writes: s.disk.synced_writes,
        }
    }

    // ----- running -----

    /// Run to the end of the scenario (or until an observer stops it).
    pub fn run<O: Observer<P>>(&mut self, obs: &mut O) {
        let end = self.end;
        self.run_until(end, obs);
    }

    /// Run every event up to and including virtual time `until`.
    pub fn run_until<O: Observer<P>>(&mut self, until: SimTime, obs: &mut O) {
        let until = until.min(self.end);
        while let Some(t) = self.queue.peek_time() {
            if t > until {
                break;
            }
            let (time, ev) = self.queue.pop().expect("peeked");
            debug_assert!(time >= self.now, "time ran backwards");
            self.now = time;
            if let Some(d) = self.dispatch(ev) {
                self.events += 1;
                if !self.settling.is_empty() {
                    self.check_settled();
                }
                obs.after_event(self, &d);
                if obs.stop_requested() {
                    self.stopped_early = true;
                    return;
                }
                if self.events >= self.max_events {
                    self.stopped_early = true;
                    self.event_cap_hit = true;
                    return;
                }
                if self.events & (PROGRESS_EVERY - 1) == 0 {
                    if let Some(f) = self.progress.as_mut() {
                        f(self.now, self.end, self.events);
                    }
                }
            }
        }
        if self.now < until {
            self.now = until;
        }
    }

    fn dispatch(&mut self, ev: Event<P::Msg>) -> Option<Dispatched> {
        match ev {
            Event::Start(node) => {
                // A node crashed before its (jittered) boot boots when it
                // is restarted instead; a paused one boots at resume.
                match self.slots[node.index()].status {
                    NodeStatus::Crashed => return None,
                    NodeStatus::Paused => {
                        self.slots[node.index()].backlog.push(Event::Start(node));
                        return None;
                    }
                    NodeStatus::Up => {}
                }
                self.start_node(node);
                Some(self.dispatched(DispatchKind::Start, Some(node), None))
            }
            Event::Deliver {
                from,
                to,
                sent,
                msg,
            } => self.deliver(from, to, sent, msg),
            Event::Timer { node, id, gen } => self.fire_timer(node, id, gen),
            Event::SyncDone { node, inc, flush } => self.sync_done(node, inc, flush),
            Event::Scripted(i) if self.cfg.faults[i].stable.is_some() => {
                self.settling.push(Settling {
                    fault: i,
                    since: None,
                    gen: 0,
                });
                self.check_settled();
                None
            }
            Event::Settled(i, gen) => {
                let pos = self
                    .settling
                    .iter()
                    .position(|w| w.fault == i && w.gen == gen && w.since.is_some())?;
                self.settling.swap_remove(pos);
                let f = &self.cfg.faults[i];
                let delay = SimDuration(self.fault_rng.range_inclusive(0, f.jitter.0));
                self.queue.push(self.now + delay, Event::Fire(i));
                None
            }
            Event::Fire(i) => {
                let f = self.cfg.faults[i].clone();
                self.apply_action(&f.action, "scripted");
                if let Some(every) = f.every {
                    let next = self.now + every;
                    if next <= self.end {
                        self.queue.push(next, Event::Scripted(i));
                    }
                }
                Some(self.fault_dispatched())
            }
            Event::Scripted(i) => {
                let f = self.cfg.faults[i].clone();
                self.apply_action(&f.action, "scripted");
                if let Some(every) = f.every {
                    let jitter = if f.jitter.0 > 0 {
                        SimDuration(self.fault_rng.range_inclusive(0, f.jitter.0))
                    } else {
                        SimDuration::ZERO
                    };
                    let next = self.now + every + jitter;
                    if next <= self.end {
                        self.queue.push(next, Event::Scripted(i));
                    }
                }
                Some(self.fault_dispatched())
            }
            Event::Undo(u, source) => {
                self.undo(u, source);
                Some(self.fault_dispatched())
            }
            Event::Nemesis => {
                self.nemesis();
                Some(self.fault_dispatched())
            }
        }
    }

    fn dispatched(
        &mut self,
        kind: DispatchKind,
        node: Option<NodeId>,
        from: Option<NodeId>,
    ) -> Dispatched {
        Dispatched {
            time: self.now,
            kind,
            node,
            from,
        }
    }

    fn fault_dispatched(&mut self) -> Dispatched {
        let last = self.applied.last().expect("a fault event logs a fault");
        let mut d = Digest::new();
        d.write(last.kind.as_bytes());
        for n in &last.nodes {
            d.write_u64(n.0 as u64);
        }
        for g in &last.groups {
            d.write_u64(u64::MAX);
            for n in g {
                d.write_u64(n.0 as u64);
            }
        }
        d.write_u64(last.skipped.is_some() as u64);
        self.trace.record(
            self.now.0,
            DispatchKind::Fault.code(),
            u32::MAX,
            d.finish(),
            0,
            0,
        );
        if let Some(t) = self.tracer.as_mut() {
            t(&TraceEvent {
                time: self.now,
                kind: DispatchKind::Fault,
                node: last.nodes.first().copied(),
                from: None,
                sent: None,
                msg: None,
                timer: None,
                fault: Some(last),
            });
        }
        Dispatched {
            time: self.now,
            kind: DispatchKind::Fault,
            node: last.nodes.first().copied(),
            from: None,
        }
    }

    /// Fold a node event into the hash and show it to the tracer.
    fn trace_event(&mut self, a: u64, b: u64, ev: TraceEvent<'_, P::Msg>) {
        let node = ev.node.map_or(u32::MAX, |n| n.0);
        self.trace.record(self.now.0, ev.kind.code(), node, a, b, 0);
        if let Some(t) = self.tracer.as_mut() {
            t(&ev);
        }
    }

    fn node_event<'a>(&self, kind: DispatchKind, node: NodeId) -> TraceEvent<'a, P::Msg> {
        TraceEvent {
            time: self.now,
            kind,
            node: Some(node),
            from: None,
            sent: None,
            msg: None,
            timer: None,
            fault: None,
        }
    }

    fn start_node(&mut self, node: NodeId) {
        let inc = self.slots[node.index()].incarnation as u64;
        self.trace_event(inc, 0, self.node_event(DispatchKind::Start, node));
        self.call(node, |p, ctx| p.on_start(ctx));
    }

    fn deliver(
        &mut self,
        from: NodeId,
        to: NodeId,
        sent: SimTime,
        msg: P::Msg,
    ) -> Option<Dispatched> {
        let slot = &mut self.slots[to.index()];
        match slot.status {
            NodeStatus::Crashed => {
                self.net.counters.record_drop(DropCause::NodeDown);
                return None;
            }
            NodeStatus::Paused => {
                slot.backlog.push(Event::Deliver {
                    from,
                    to,
                    sent,
                    msg,
                });
                return None;
            }
            NodeStatus::Up => {}
        }
        self.net.delivered(msg.size_bytes());
        let mut d = Digest::new();
        d.write(msg.kind().as_bytes());
        msg.digest(&mut d);
        let digest = d.finish();
        let ev = TraceEvent {
            from: Some(from),
            sent: Some(sent),
            msg: Some(&msg),
            ..self.node_event(DispatchKind::Deliver, to)
        };
        self.trace_event(from.0 as u64, digest, ev);
        self.call(to, move |p, ctx| p.on_message(ctx, from, msg));
        Some(self.dispatched(DispatchKind::Deliver, Some(to), Some(from)))
    }

    fn fire_timer(&mut self, node: NodeId, id: TimerId, gen: u64) -> Option<Dispatched> {
        let slot = &mut self.slots[node.index()];
        let pos = slot
            .timers
            .iter()
            .position(|t| t.id == id && t.gen == gen)?;
        if slot.status == NodeStatus::Paused {
            slot.backlog.push(Event::Timer { node, id, gen });
            return None;
        }
        let deadline = slot.timers[pos].deadline;
        if deadline > self.now {
            // Re-armed later since this event was queued: follow it.
            slot.timers[pos].queued_at = deadline;
            self.queue.push(deadline, Event::Timer { node, id, gen });
            return None;
        }
        slot.timers.swap_remove(pos);
        let ev = TraceEvent {
            timer: Some(id),
            ..self.node_event(DispatchKind::Timer, node)
        };
        self.trace_event(id.0, 0, ev);
        self.call(node, |p, ctx| p.on_timer(ctx, id));
        Some(self.dispatched(DispatchKind::Timer, Some(node), None))
    }

    fn sync_done(&mut self, node: NodeId, inc: u32, flush: usize) -> Option<Dispatched> {
        let slot = &mut self.slots[node.index()];
        if slot.incarnation != inc || slot.status == NodeStatus::Crashed {
            // The node crashed while the sync was in flight: the writes and
            // everything that waited for them are lost.
            return None;
        }
        if slot.status == NodeStatus::Paused {
            slot.backlog.push(Event::SyncDone { node, inc, flush });
            return None;
        }
        slot.disk.flush(flush);
        slot.syncing = false;
        let mut waiting = std::mem::take(&mut slot.waiting);
        self.trace_event(
            flush as u64,
            waiting.len() as u64,
            self.node_event(DispatchKind::SyncDone, node),
        );
        self.apply_effects(node, &mut waiting);
        let slot = &mut self.slots[node.index()];
        if slot.waiting.is_empty() {
            // Keep the buffer's capacity for the next sync.
            slot.waiting = waiting;
        }
        Some(self.dispatched(DispatchKind::SyncDone, Some(node), None))
    }

    /// Run one handler of `node` and apply its effects.
    fn call(&mut self, node: NodeId, f: impl FnOnce(&mut P, &mut Context<'_, P::Msg, P::Record>)) {
        let mut buf = std::mem::take(&mut self.effects);
        buf.clear();
        let slot = &mut self.slots[node.index()];
        let local_now = slot.clock.local(self.now);
        let process = slot
            .process
            .as_mut()
            .expect("handler called on a crashed node");
        let mut ctx = Context::new(node, local_now, &mut slot.rng, &mut buf);
        f(process, &mut ctx);
        self.apply_effects(node, &mut buf);
        self.effects = buf;
    }

    fn apply_effects(&mut self, node: NodeId, buf: &mut Vec<Effect<P::Msg, P::Record>>) {
        let slot = &mut self.slots[node.index()];
        if slot.syncing {
            slot.waiting.append(buf);
            return;
        }
        let mut it = buf.drain(..);
        while let Some(e) = it.next() {
            match e {
                Effect::Send { to, msg } => self.send(node, to, msg),
                Effect::SetTimer { id, after } => self.set_timer(node, id, after),
                Effect::CancelTimer { id } => {
                    let timers = &mut self.slots[node.index()].timers;
                    if let Some(p) = timers.iter().position(|t| t.id == id) {
                        timers.swap_remove(p);
                    }
                }
                Effect::Persist(r) => self.slots[node.index()].disk.write(DiskOp::Append(r)),
                Effect::Rewrite(rs) => self.slots[node.index()].disk.write(DiskOp::Rewrite(rs)),
                Effect::Sync => {
                    let delay = self.cfg.disk_sync.sample_duration(&mut self.disk_rng);
                    let slot = &mut self.slots[node.index()];
                    let upto = slot.disk.pending_len();
                    if delay == SimDuration::ZERO {
                        slot.disk.flush(upto);
                    } else {
                        slot.syncing = true;
                        debug_assert!(slot.waiting.is_empty());
                        slot.waiting.extend(it.by_ref());
                        let inc = slot.incarnation;
                        self.queue.push(
                            self.now + delay,
                            Event::SyncDone {
                                node,
                                inc,
                                flush: upto,
                            },
                        );
                        return;
                    }
                }
            }
        }
    }

    fn send(&mut self, from: NodeId, to: NodeId, msg: P::Msg) {
        assert!(
            to.index() < self.slots.len(),
            "{from} sent to unknown address {to}"
        );
        let kind = msg.kind();
        let bytes = msg.size_bytes();
        match self
            .net
            .route(self.now, from, to, kind, bytes, &mut self.net_rng)
        {
            Route::Dropped(_) => {}
            Route::Deliver { at, dup } => {
                if let Some(d) = dup {
                    self.queue.push(
                        at.min(d),
                        Event::Deliver {
                            from,
                            to,
                            sent: self.now,
                            msg: msg.clone(),
                        },
                    );
                    let sent = self.now;
                    self.queue.push(
                        at.max(d),
                        Event::Deliver {
                            from,
                            to,
                            sent,
                            msg,
                        },
                    );
                } else {
                    let sent = self.now;
                    self.queue.push(
                        at,
                        Event::Deliver {
                            from,
                            to,
                            sent,
                            msg,
                        },
                    );
                }
            }
        }
    }

    /// Is the cluster settled: every up server follows one up leader (the
    /// leader itself included) with equal commit indexes, and no server is
    /// paused? Crashed servers are left out.
    fn settled(&self) -> bool {
        let mut common: Option<(NodeId, u64)> = None;
        for slot in &self.slots[..self.cfg.cluster as usize] {
            match slot.status {
                NodeStatus::Crashed => continue,
                NodeStatus::Paused => return false,
                NodeStatus::Up => {}
            }
            let Some(s) = slot.process.as_ref().and_then(|p| p.stability()) else {
                return false;
            };
            match common {
                None => common = Some(s),
                Some(c) if c != s => return false,
                Some(_) => {}
            }
        }
        common.is_some_and(|(leader, _)| {
            let slot = &self.slots[leader.index()];
            slot.status == NodeStatus::Up
                && slot
                    .process
                    .as_ref()
                    .is_some_and(|p| p.role() == Role::Leader)
        })
    }

    /// Track settled stretches for waiting `stable` faults: a stretch
    /// that begins queues a `Settled` check at its would-be end; one that
    /// breaks bumps the generation so that check is void.
    fn check_settled(&mut self) {
        let settled = self.settled();
        for k in 0..self.settling.len() {
            let w = self.settling[k];
            match (settled, w.since) {
                (true, None) => {
                    let stable = self.cfg.faults[w.fault].stable.expect("stable fault");
                    self.settling[k].since = Some(self.now);
                    self.queue
                        .push(self.now + stable, Event::Settled(w.fault, w.gen));
                }
                (false, Some(_)) => {
                    self.settling[k].since = None;
                    self.settling[k].gen += 1;
                }
                _ => {}
            }
        }
    }

    fn set_timer(&mut self, node: NodeId, id: TimerId, after: SimDuration) {
        let jitter = if self.cfg.clocks.jitters() {
            let [lo, hi] = self.cfg.clocks.timer_jitter;
            let rng = &mut self.slots[node.index()].clock_rng;
            SimDuration(lo.0 + rng.range_inclusive(0, hi.0 - lo.0))
        } else {
            SimDuration::ZERO
        };
        let slot = &mut self.slots[node.index()];
        let deadline = self.now + slot.clock.real(after) + jitter;
        if let Some(t) = slot.timers.iter_mut().find(|t| t.id == id) {
            if t.queued_at <= deadline {
                t.deadline = deadline;
                return;
            }
        }
        let gen = slot.next_gen;
        slot.next_gen += 1;
        let armed = ArmedTimer {
            id,
            gen,
            deadline,
            queued_at: deadline,
        };
        match slot.timers.iter_mut().find(|t| t.id == id) {
            Some(entry) => *entry = armed,
            None => slot.timers.push(armed),
        }
        self.queue.push(deadline, Event::Timer { node, id, gen });
    }

    // ----- faults -----

    fn log(&mut self, f: AppliedFault) {
        self.applied.push(f);
    }

    fn live(&self, id: NodeId) -> bool {
        self.slots[id.index()].status != NodeStatus::Crashed
    }

    fn leader(&self) -> Option<NodeId> {
        (0..self.cfg.cluster)
            .map(NodeId)
            .filter(|&n| self.slots[n.index()].status == NodeStatus::Up)
            .filter_map(|n| self.node(n).map(|p| (n, p)))
            .filter(|(_, p)| p.role() == Role::Leader)
            .max_by_key(|(n, p)| (p.term(), std::cmp::Reverse(*n)))
            .map(|(n, _)| n)
    }

    fn pick(&mut self, candidates: Vec<NodeId>) -> Option<NodeId> {
        if candidates.is_empty() {
            None
        } else {
            let i = self.fault_rng.index(candidates.len());
            Some(candidates[i])
        }
    }

    fn nodes_with(&self, status: NodeStatus) -> Vec<NodeId> {
        (0..self.cfg.cluster)
            .map(NodeId)
            .filter(|n| self.slots[n.index()].status == status)
            .collect()
    }

    /// Resolve a target to concrete nodes. `pool` is the status a random
    /// pick is drawn from (Up for crash/pause, Crashed for restart).
    fn resolve(&mut self, t: Target, pool: Option<NodeStatus>) -> Result<Vec<NodeId>, String> {
        let candidates = |w: &Self| match pool {
            Some(s) => w.nodes_with(s),
            None => (0..w.cfg.cluster).map(NodeId).collect(),
        };
        match t {
            Target::Node(n) => Ok(vec![n]),
            Target::Leader => self
                .leader()
                .map(|n| vec![n])
                .ok_or_else(|| "no leader".to_string()),
            Target::Follower => {
                let leader = self.leader();
                let c: Vec<NodeId> = self
                    .nodes_with(NodeStatus::Up)
                    .into_iter()
                    .filter(|n| Some(*n) != leader)
                    .collect();
                self.pick(c)
                    .map(|n| vec![n])
                    .ok_or_else(|| "no live follower".to_string())
            }
            Target::Random => {
                let c = candidates(self);
                self.pick(c)
                    .map(|n| vec![n])
                    .ok_or_else(|| "no eligible node".to_string())
            }
            Target::Minority => {
                let mut c = candidates(self);
                let max = ((self.cfg.cluster as usize).saturating_sub(1) / 2).min(c.len());
                if max == 0 {
                    return Err("no minority to pick".to_string());
                }
                let k = 1 + self.fault_rng.index(max);
                self.fault_rng.shuffle(&mut c);
                c.truncate(k);
                c.sort();
                Ok(c)
            }
        }
    }

    fn apply_action(&mut self, action: &FaultAction, source: &'static str) {
        let mut rec = AppliedFault::new(self.now, action.kind(), source);
        let res: Result<(), String> = (|| {
            match action {
                FaultAction::Crash {
                    node,
                    restart_after,
                } => {
                    let nodes = self.resolve(*node, Some(NodeStatus::Up))?;
                    rec.nodes = nodes.clone();
                    for n in nodes {
                        self.crash(n);
                        if let Some(d) = restart_after {
                            self.queue
                                .push(self.now + *d, Event::Undo(Undo::Restart(n), "undo"));
                        }
                    }
                }
                FaultAction::Restart { node } => {
                    let nodes = self.resolve(*node, Some(NodeStatus::Crashed))?;
                    rec.nodes = nodes.clone();
                    for n in nodes {
                        self.restart(n)?;
                    }
                }
                FaultAction::Pause { node, duration } => {
                    let nodes = self.resolve(*node, Some(NodeStatus::Up))?;
                    rec.nodes = nodes.clone();
                    for n in nodes {
                        self.pause(n, *duration, "undo");
                    }
                }
                FaultAction::Clock {
                    node,
                    rate_ppm,
                    duration,
                } => {
                    let nodes = self.resolve(*node, None)?;
                    rec.nodes = nodes.clone();
                    rec.rate_ppm = Some(*rate_ppm);
                    for n in nodes {
                        self.slots[n.index()].clock.set_rate(self.now, *rate_ppm);
                        if let Some(d) = duration {
                            self.queue
                                .push(self.now + *d, Event::Undo(Undo::ClockReset(n), "undo"));
                        }
                    }
                }
                FaultAction::Partition { groups, duration } => {
                    let gen = self.net.partition(groups);
                    rec.groups = groups.clone();
                    if let Some(d) = duration {
                        self.queue
                            .push(self.now + *d, Event::Undo(Undo::EndPartition(gen), "undo"));
                    }
                }
                FaultAction::Isolate { node, duration } => {
                    let nodes = self.resolve(*node, None)?;
                    rec.nodes = nodes.clone();
                    for n in nodes {
                        let gen = self.net.isolate(n, self.cfg.cluster);
                        if let Some(d) = duration {
                            self.queue
                                .push(self.now + *d, Event::Undo(Undo::Unisolate(n, gen), "undo"));
                        }
                    }
                }
                FaultAction::Link {
                    from,
                    to,
                    both_ways,
                    drop,
                    extra_latency,
                    duration,
                } => {
                    let from = self.resolve(*from, None)?[0];
                    let to = self.resolve(*to, None)?[0];
                    if from == to {
                        return Err(format!("link {from} -> {to} is a self-link"));
                    }
                    rec.nodes = vec![from, to];
                    rec.drop = Some(*drop);
                    rec.extra_latency = Some(*extra_latency);
                    rec.both_ways = *both_ways;
                    let gen = self.cut(from, to, *both_ways, *drop, *extra_latency);
                    if let Some(d) = duration {
                        self.queue.push(
                            self.now + *d,
                            Event::Undo(
                                Undo::Unlink {
                                    from,
                                    to,
                                    both_ways: *both_ways,
                                    gen,
                                },
                                "undo",
                            ),
                        );
                    }
                }
                FaultAction::Heal => self.net.heal(),
            }
            Ok(())
        })();
        if let Err(why) = res {
            rec.skipped = Some(why);
        }
        self.log(rec);
    }

    fn cut(
        &mut self,
        from: NodeId,
        to: NodeId,
        both_ways: bool,
        drop: f64,
        extra_latency: SimDuration,
    ) -> u64 {
        let f = LinkFault {
            drop,
            extra_latency,
        };
        let gen = self.net.set_link_fault(from, to, f);
        if both_ways {
            self.net.set_link_fault_in(to, from, f, gen);
        }
        gen
    }

    fn crash(&mut self, n: NodeId) {
        let slot = &mut self.slots[n.index()];
        if slot.status == NodeStatus::Crashed {
            return;
        }
        slot.status = NodeStatus::Crashed;
        slot.process = None;
        slot.incarnation += 1;
        slot.timers.clear();
        slot.backlog.clear();
        slot.syncing = false;
        slot.waiting.clear();
        slot.disk.lose_pending();
        slot.crashes += 1;
    }

    fn restart(&mut self, n: NodeId) -> Result<(), String> {
        if self.live(n) {
            return Err(format!("{n} is not crashed"));
        }
        let records = self.slots[n.index()].disk.durable();
        let p = (self.factory)(n, records).map_err(|e| format!("{n} recovery failed: {e}"))?;
        let clocks = self.cfg.clocks;
        let now = self.now;
        let slot = &mut self.slots[n.index()];
        if clocks.drifts() {
            // A new life, a new drift (a restart may land on other hardware
            // or a re-disciplined clock); an active clock fault keeps its
            // rate until its undo restores the new base.
            let faulted = slot.clock.rate_ppm != slot.base_rate_ppm;
            slot.base_rate_ppm = draw_rate(&clocks, &mut slot.clock_rng);
            if !faulted {
                slot.clock.set_rate(now, slot.base_rate_ppm);
            }
        }
        slot.process = Some(p);
        slot.status = NodeStatus::Up;
        slot.restarts += 1;
        self.start_node(n);
        Ok(())
    }

    fn pause(&mut self, n: NodeId, d: SimDuration, source: &'static str) {
        let slot = &mut self.slots[n.index()];
        if slot.status == NodeStatus::Up {
            slot.status = NodeStatus::Paused;
            self.queue
                .push(self.now + d, Event::Undo(Undo::Resume(n), source));
        }
    }

    fn undo(&mut self, u: Undo, source: &'static str) {
        let mut rec;
        match u {
            Undo::Restart(n) => {
                rec = AppliedFault::new(self.now, "restart", source);
                rec.nodes = vec![n];
                if let Err(e) = self.restart(n) {
                    rec.skipped = Some(e);
                }
            }
            Undo::Resume(n) => {
                rec = AppliedFault::new(self.now, "resume", source);
                rec.nodes = vec![n];
                let slot = &mut self.slots[n.index()];
                if slot.status == NodeStatus::Paused {
                    slot.status = NodeStatus::Up;
                    // Everything that waited runs now, in the order it arrived.
                    for ev in std::mem::take(&mut slot.backlog) {
                        self.queue.push(self.now, ev);
                    }
                } else {
                    rec.skipped = Some(format!("{n} is not paused"));
                }
            }
            Undo::ClockReset(n) => {
                rec = AppliedFault::new(self.now, "clock", source);
                rec.nodes = vec![n];
                let base = self.slots[n.index()].base_rate_ppm;
                rec.rate_ppm = Some(base);
                self.slots[n.index()].clock.set_rate(self.now, base);
            }
            Undo::EndPartition(gen) => {
                rec = AppliedFault::new(self.now, "heal", source);
                self.net.end_partition(gen);
            }
            Undo::Unisolate(n, gen) => {
                rec = AppliedFault::new(self.now, "heal", source);
                rec.nodes = vec![n];
                self.net.end_isolation(n, self.cfg.cluster, gen);
            }
            Undo::Unlink {
                from,
                to,
                both_ways,
                gen,
            } => {
                rec = AppliedFault::new(self.now, "link_restore", source);
                rec.nodes = vec![from, to];
                rec.both_ways = both_ways;
                self.net.end_link_fault(from, to, gen);
                if both_ways {
                    self.net.end_link_fault(to, from, gen);
                }
            }
        }
        self.log(rec);
    }

    fn down_count(&self) -> u32 {
        (0..self.cfg.cluster)
            .filter(|&i| self.slots[i as usize].status != NodeStatus::Up)
            .count() as u32
    }

    fn nemesis(&mut self) {
        let n = self
            .cfg
            .nemesis
            .clone()
            .expect("nemesis event without config");
        let kind = n.kinds[self.fault_rng.index(n.kinds.len())];
        let span = n.duration_max.0.saturating_sub(n.duration_min.0);
        let dur = SimDuration(n.duration_min.0 + self.fault_rng.range_inclusive(0, span));
        let mut rec = AppliedFault::new(self.now, kind.name(), "nemesis");
        let cluster = self.cfg.cluster;
        match kind {
            NemesisKind::Crash | NemesisKind::Pause => {
                if self.down_count() >= n.max_down {
                    rec.skipped = Some(format!("max_down {} reached", n.max_down));
                } else if let Some(v) = self.pick(self.nodes_with(NodeStatus::Up)) {
                    rec.nodes = vec![v];
                    if kind == NemesisKind::Crash {
                        self.crash(v);
                        self.queue
                            .push(self.now + dur, Event::Undo(Undo::Restart(v), "nemesis"));
                    } else {
                        self.pause(v, dur, "nemesis");
                    }
                } else {
                    rec.skipped = Some("no live node".to_string());
                }
            }
            NemesisKind::Partition => {
                let mut all: Vec<NodeId> = (0..cluster).map(NodeId).collect();
                self.fault_rng.shuffle(&mut all);
                let k = 1 + self.fault_rng.index((cluster as usize / 2).max(1));
                let mut a = all[..k].to_vec();
                let mut b = all[k..].to_vec();
                a.sort();
                b.sort();
                let groups = vec![a, b];
                let gen = self.net.partition(&groups);
                rec.groups = groups;
                self.queue.push(
                    self.now + dur,
                    Event::Undo(Undo::EndPartition(gen), "nemesis"),
                );
            }
            NemesisKind::Link => {
                if cluster < 2 {
                    rec.skipped = Some("fewer than two nodes".to_string());
                } else {
                    let from = NodeId(self.fault_rng.index(cluster as usize) as u32);
                    let mut to = NodeId(self.fault_rng.index(cluster as usize - 1) as u32);
                    if to >= from {
                        to = NodeId(to.0 + 1);
                    }
                    let both_ways = self.fault_rng.chance(0.5);
                    rec.nodes = vec![from, to];
                    rec.drop = Some(1.0);
                    rec.both_ways = both_ways;
                    let gen = self.cut(from, to, both_ways, 1.0, SimDuration::ZERO);
                    self.queue.push(
                        self.now + dur,
                        Event::Undo(
                            Undo::Unlink {
                                from,
                                to,
                                both_ways,
                                gen,
                            },
                            "nemesis",
                        ),
                    );
                }
            }
            NemesisKind::Clock => {
                let v = NodeId(self.fault_rng.index(cluster as usize) as u32);
                // Rates between 0.5x and 2x true time.
                let rate = 500_000 + self.fault_rng.range_inclusive(0, 1_500_000);
                rec.nodes = vec![v];
                rec.rate_ppm = Some(rate);
                self.slots[v.index()].clock.set_rate(self.now, rate);
                self.queue
                    .push(self.now + dur, Event::Undo(Undo::ClockReset(v), "nemesis"));
            }
        }
        self.log(rec);
        let gap =
            SimDuration::from_micros(self.fault_rng.exponential(n.mean_interval.0 as f64) as u64);
        let next = self.now + gap;
        if next <= self.end && n.until.is_none_or(|u| next <= u) {
            self.queue.push(next, Event::Nemesis);
        }
    }
}
