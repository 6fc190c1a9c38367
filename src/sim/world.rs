//! The world loop: pop the earliest event, hand it to the node's process,
//! apply the effects it wrote, fold the event into the trace hash and let
//! the observers (checkers, metrics) look.

use super::clock::{Clock, ClockModel};
use super::crash_points::ProtocolFaults;
use super::disk::{Disk, DiskOp};
use super::faults::{Settling, Undo};
use super::observer::{DispatchKind, Dispatched, Observer, Progress, TraceEvent, PROGRESS_EVERY};
use super::queue::EventQueue;
use super::trace::{KindDigests, TraceHasher};
use crate::dist::Dist;
use crate::fault::{FaultLog, MessageFault, NemesisConfig, ScheduledFault};
use crate::ids::{NodeId, TimerId};
use crate::net::{DropCause, NetConfig, Network, Route};
use crate::process::{Context, Digest, Effect, Message, Process};
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

/// Why [`World::new`] could not build a world.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum BuildError {
    /// The factory refused to build a node's first process; the text is
    /// the factory's own reason, unchanged.
    #[error("{reason}")]
    Process {
        /// The node whose process did not build.
        node: NodeId,
        /// The factory's reason.
        reason: String,
    },
}

pub(super) type Tracer<M> = Box<dyn FnMut(&TraceEvent<'_, M>)>;

#[derive(Debug)]
pub(super) enum Event<M> {
    Start(NodeId),
    Deliver {
        from: NodeId,
        to: NodeId,
        sent: SimTime,
        /// The message's digest (kind prefix + content), taken when it
        /// was sent: the message is fresh in the sender's hands then,
        /// while reading it right after the pop stalls on the copy.
        digest: u64,
        msg: M,
    },
    /// Built by [`Event::timer`].
    Timer {
        /// The node's index widened to a full word: a 4-byte field here
        /// shares its offset with the last word of a delivery's message
        /// (the variants overlap), and the compiler then copied that word
        /// of every popped event as two halves, which stalled the first
        /// full-width read of the message (measured: 5 % of the mesh).
        node: u64,
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

impl<M> Event<M> {
    /// The firing of `node`'s timer `id`, armed as generation `gen`.
    #[inline]
    pub(super) fn timer(node: NodeId, id: TimerId, gen: u64) -> Self {
        Event::Timer {
            node: node.0 as u64,
            id,
            gen,
        }
    }
}

/// An armed timer. Re-arming to a later deadline while an event for it is
/// already queued only moves `deadline`: the queued event, when it pops,
/// re-queues itself at the deadline. Election timers are re-armed on every
/// heartbeat, so this keeps one queue entry per timer instead of one per
/// re-arm.
#[derive(Clone, Copy, Debug)]
pub(super) struct ArmedTimer {
    pub(super) id: TimerId,
    pub(super) gen: u64,
    pub(super) deadline: SimTime,
    pub(super) queued_at: SimTime,
}

pub(super) struct Slot<P: Process> {
    pub(super) process: Option<P>,
    pub(super) status: NodeStatus,
    pub(super) incarnation: u32,
    pub(super) rng: SimRng,
    pub(super) disk: Disk<P::Record>,
    pub(super) timers: Vec<ArmedTimer>,
    pub(super) next_gen: u64,
    pub(super) clock: Clock,
    /// The node's own clock stream (drift and timer jitter draws).
    pub(super) clock_rng: SimRng,
    /// The rate this life's drift gives the clock; a clock fault overrides
    /// it while active and its undo restores it.
    pub(super) base_rate_ppm: u64,
    pub(super) backlog: Vec<Event<P::Msg>>,
    /// True while a disk sync is in flight.
    pub(super) syncing: bool,
    /// Effects waiting for the in-flight sync, in order: everything the
    /// node does after asking for a sync, in this handler or later ones,
    /// happens after the sync completes (its output queue sits behind its
    /// disk, so it can never acknowledge what is not yet durable).
    pub(super) waiting: Vec<Effect<P::Msg, P::Record>>,
    pub(super) crashes: u32,
    pub(super) restarts: u32,
    /// A crash point decided to crash this node: its effects are dropped
    /// until the crash is applied (right after the event's observers).
    pub(super) crashing: bool,
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
    pub(super) cfg: WorldConfig,
    pub(super) now: SimTime,
    pub(super) end: SimTime,
    pub(super) queue: EventQueue<Event<P::Msg>>,
    pub(super) slots: Vec<Slot<P>>,
    pub(super) factory: Factory<P>,
    pub(super) net: Network,
    pub(super) net_rng: SimRng,
    pub(super) fault_rng: SimRng,
    pub(super) disk_rng: SimRng,
    pub(super) trace: TraceHasher,
    /// Each message kind's digest prefix, folded once.
    pub(super) kind_digests: KindDigests,
    pub(super) tracer: Option<Tracer<P::Msg>>,
    pub(super) effects: Vec<Effect<P::Msg, P::Record>>,
    /// The applied-fault log: bounded (first records + counts).
    pub(super) applied: FaultLog,
    pub(super) events: u64,
    pub(super) stopped_early: bool,
    /// Faults with `stable` waiting for the cluster to settle.
    pub(super) settling: Vec<Settling>,
    /// The event cap (`u64::MAX`: none) and whether the run hit it.
    pub(super) max_events: u64,
    pub(super) event_cap_hit: bool,
    /// Most events queued at once (`u64::MAX`: none; a sweep's per-seed
    /// memory budget) and whether the run hit it.
    pub(super) max_pending: u64,
    pub(super) pending_cap_hit: bool,
    /// Called every [`PROGRESS_EVERY`] events with (now, end, events).
    pub(super) progress: Option<Progress>,
    /// Addresses `cluster..cluster + agents` are agents: fault targets
    /// for agent targets and the nemesis's agent kinds (0: none).
    pub(super) agents: u32,
    /// Armed `crash_at` and message rules, and crashes points decided.
    pub(super) protocol: ProtocolFaults,
    /// Crash point decisions (`crash_points` stream).
    pub(super) crash_rng: SimRng,
    /// Message rule decisions (`messages` stream).
    pub(super) message_rng: SimRng,
}

impl<P: Process> World<P> {
    /// Declare addresses `cluster..cluster + agents` agents, so agent
    /// targets (`Target::AnyAgent`, `Target::Agents`), partition agent
    /// placement and the nemesis's agent kinds can reach them. Without
    /// it a world has no agents and those faults are skipped.
    pub fn set_agents(&mut self, agents: u32) {
        assert!(
            self.cfg.cluster + agents <= self.slots.len() as u32,
            "{agents} agents after {} servers exceed the world's {} addresses",
            self.cfg.cluster,
            self.slots.len()
        );
        self.agents = agents;
    }

    /// Queue `msg` for `to` at true time `at` from outside the network (an
    /// operator at the node's console, e.g. a scripted workflow approval):
    /// delivered as a message from `to` itself, dropped if `to` is down
    /// then, held while it is paused. Call before the run.
    pub fn input(&mut self, at: SimTime, to: NodeId, msg: P::Msg) {
        let digest = self.message_digest(&msg);
        self.queue.push(
            at,
            Event::Deliver {
                from: to,
                to,
                sent: at,
                digest,
                msg,
            },
        );
    }

    /// A message's digest for the trace: its kind's cached prefix, then
    /// its content.
    #[inline]
    fn message_digest(&mut self, msg: &P::Msg) -> u64 {
        let mut d = self.kind_digests.start(msg.kind());
        msg.digest(&mut d);
        d.finish()
    }

    /// Print every event through `tracer` (for `--trace FILE`).
    pub fn set_tracer(&mut self, tracer: Tracer<P::Msg>) {
        self.tracer = Some(tracer);
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
        while let Some((time, ev)) = self.queue.pop_until(until) {
            debug_assert!(time >= self.now, "time ran backwards");
            self.now = time;
            if let Some(d) = self.dispatch(ev) {
                if self.observe(d, obs) {
                    return;
                }
            }
            // Crashes decided at crash points happen now, each as its own
            // fault event, after the observers saw the handler's event.
            while self.apply_pending_crash() {
                let d = self.fault_dispatched();
                if self.observe(d, obs) {
                    return;
                }
            }
        }
        if self.now < until {
            self.now = until;
        }
    }

    /// Count a dispatched event and show it to the observers; true when
    /// the run must stop (an observer asked, or the event cap).
    fn observe<O: Observer<P>>(&mut self, d: Dispatched, obs: &mut O) -> bool {
        self.events += 1;
        if !self.settling.is_empty() {
            self.check_settled();
        }
        obs.after_event(self, &d);
        if obs.stop_requested() {
            self.stopped_early = true;
            return true;
        }
        if self.events >= self.max_events {
            self.stopped_early = true;
            self.event_cap_hit = true;
            return true;
        }
        if self.queue.len() as u64 > self.max_pending {
            self.stopped_early = true;
            self.pending_cap_hit = true;
            return true;
        }
        if self.events & (PROGRESS_EVERY - 1) == 0 {
            if let Some(f) = self.progress.as_mut() {
                f(self.now, self.end, self.events);
            }
        }
        false
    }

    // Inlined into the loop, its one caller (measured: the popped event
    // is then read with fewer intermediate copies).
    #[inline(always)]
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
                digest,
                msg,
            } => self.deliver(from, to, sent, digest, msg),
            // `node` was a `NodeId` (`Event::timer`): it fits in a u32.
            Event::Timer { node, id, gen } => self.fire_timer(NodeId(node as u32), id, gen),
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

    /// Fold a node event into the hash.
    #[inline]
    fn trace_node(&mut self, kind: DispatchKind, node: NodeId, a: u64, b: u64) {
        self.trace.record(self.now.0, kind.code(), node.0, a, b, 0);
    }

    /// Show an event to the tracer, if there is one (callers build the
    /// line only when there is: the common run has no tracer).
    fn show(&mut self, ev: TraceEvent<'_, P::Msg>) {
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

    pub(super) fn start_node(&mut self, node: NodeId) {
        let inc = self.slots[node.index()].incarnation as u64;
        self.trace_node(DispatchKind::Start, node, inc, 0);
        self.show(self.node_event(DispatchKind::Start, node));
        self.call(node, |p, ctx| p.on_start(ctx));
    }

    fn deliver(
        &mut self,
        from: NodeId,
        to: NodeId,
        sent: SimTime,
        digest: u64,
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
                    digest,
                    msg,
                });
                return None;
            }
            NodeStatus::Up => {}
        }
        self.net.delivered(msg.size_bytes());
        self.trace_node(DispatchKind::Deliver, to, from.0 as u64, digest);
        if self.tracer.is_some() {
            let ev = TraceEvent {
                from: Some(from),
                sent: Some(sent),
                msg: Some(&msg),
                ..self.node_event(DispatchKind::Deliver, to)
            };
            self.show(ev);
        }
        let kind = msg.kind();
        self.call_message(to, from, msg);
        if !self.protocol.message_rules.is_empty() {
            self.after_delivery(to, kind);
        }
        Some(self.dispatched(DispatchKind::Deliver, Some(to), Some(from)))
    }

    fn fire_timer(&mut self, node: NodeId, id: TimerId, gen: u64) -> Option<Dispatched> {
        let slot = &mut self.slots[node.index()];
        let pos = slot
            .timers
            .iter()
            .position(|t| t.id == id && t.gen == gen)?;
        if slot.status == NodeStatus::Paused {
            slot.backlog.push(Event::timer(node, id, gen));
            return None;
        }
        let deadline = slot.timers[pos].deadline;
        if deadline > self.now {
            // Re-armed later since this event was queued: follow it.
            slot.timers[pos].queued_at = deadline;
            self.queue.push(deadline, Event::timer(node, id, gen));
            return None;
        }
        slot.timers.swap_remove(pos);
        self.trace_node(DispatchKind::Timer, node, id.0, 0);
        if self.tracer.is_some() {
            let ev = TraceEvent {
                timer: Some(id),
                ..self.node_event(DispatchKind::Timer, node)
            };
            self.show(ev);
        }
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
        self.trace_node(
            DispatchKind::SyncDone,
            node,
            flush as u64,
            waiting.len() as u64,
        );
        self.show(self.node_event(DispatchKind::SyncDone, node));
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
        let crash_points = self.crash_points_armed();
        let mut buf = std::mem::take(&mut self.effects);
        buf.clear();
        let slot = &mut self.slots[node.index()];
        let local_now = slot.clock.local(self.now);
        let process = slot
            .process
            .as_mut()
            .expect("handler called on a crashed node");
        let mut ctx =
            Context::new(node, local_now, &mut slot.rng, &mut buf).with_crash_points(crash_points);
        f(process, &mut ctx);
        self.apply_effects(node, &mut buf);
        self.effects = buf;
    }

    /// [`World::call`] for a message, without the closure: moving the
    /// message into one copied it with 16-byte loads right after the pop
    /// had stored it in 8-byte pieces, a store-forwarding stall on every
    /// delivery (perf: a fifth of the loop's own time).
    fn call_message(&mut self, node: NodeId, from: NodeId, msg: P::Msg) {
        let crash_points = self.crash_points_armed();
        let mut buf = std::mem::take(&mut self.effects);
        buf.clear();
        let slot = &mut self.slots[node.index()];
        let local_now = slot.clock.local(self.now);
        let process = slot
            .process
            .as_mut()
            .expect("handler called on a crashed node");
        let mut ctx =
            Context::new(node, local_now, &mut slot.rng, &mut buf).with_crash_points(crash_points);
        process.on_message(&mut ctx, from, msg);
        self.apply_effects(node, &mut buf);
        self.effects = buf;
    }

    fn apply_effects(&mut self, node: NodeId, buf: &mut Vec<Effect<P::Msg, P::Record>>) {
        let slot = &mut self.slots[node.index()];
        if slot.crashing {
            // A crash point decided this node crashes: nothing after it
            // happens.
            buf.clear();
            return;
        }
        if slot.syncing {
            slot.waiting.append(buf);
            return;
        }
        let mut it = buf.drain(..);
        while let Some(e) = it.next() {
            match e {
                Effect::CrashPoint(point, nth) => {
                    if self.crash_point_reached(node, point, nth) {
                        return;
                    }
                }
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
            Route::Deliver { mut at, mut dup } => {
                if !self.protocol.message_rules.is_empty() {
                    match self.message_fault(kind, from, to) {
                        Some((MessageFault::Delay { .. }, by)) => at += by,
                        Some((MessageFault::Duplicate { .. }, gap)) if dup.is_none() => {
                            dup = Some(at + gap)
                        }
                        _ => {}
                    }
                }
                let digest = self.message_digest(&msg);
                let sent = self.now;
                if let Some(d) = dup {
                    self.queue.push(
                        at.min(d),
                        Event::Deliver {
                            from,
                            to,
                            sent,
                            digest,
                            msg: msg.clone(),
                        },
                    );
                    self.queue.push(
                        at.max(d),
                        Event::Deliver {
                            from,
                            to,
                            sent,
                            digest,
                            msg,
                        },
                    );
                } else {
                    self.queue.push(
                        at,
                        Event::Deliver {
                            from,
                            to,
                            sent,
                            digest,
                            msg,
                        },
                    );
                }
            }
        }
    }
    pub(super) fn set_timer(&mut self, node: NodeId, id: TimerId, after: SimDuration) {
        let jitter = if self.cfg.clocks.jitters() {
            let [lo, hi] = self.cfg.clocks.timer_jitter;
            let rng = &mut self.slots[node.index()].clock_rng;
            SimDuration(lo.0 + rng.range_inclusive(0, hi.0 - lo.0))
        } else {
            SimDuration::ZERO
        };
        let slot = &mut self.slots[node.index()];
        let deadline = self.now + slot.clock.real(after) + jitter;
        let pos = slot.timers.iter().position(|t| t.id == id);
        if let Some(p) = pos {
            let t = &mut slot.timers[p];
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
        match pos {
            Some(p) => slot.timers[p] = armed,
            None => slot.timers.push(armed),
        }
        self.queue.push(deadline, Event::timer(node, id, gen));
    }
}
