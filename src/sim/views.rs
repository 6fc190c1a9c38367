//! What the world shows while and after it runs (read-only views for
//! observers and reports: time, nodes, network, faults, counters, the
//! trace hash) and the run's settings (event and pending caps, the fault
//! log's size, the progress callback). Split from `world.rs`, which keeps
//! the loop and effect application.

use super::observer::Progress;
use super::world::{NodeCounters, NodeStatus, World, WorldConfig};
use crate::fault::{AppliedFault, FaultLog};
use crate::ids::NodeId;
use crate::net::Network;
use crate::process::Process;
use crate::time::SimTime;

impl<P: Process> World<P> {
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
    /// Faults applied so far, in order: the records the fault log kept
    /// (the first [`crate::fault::DEFAULT_FAULT_LOG_CAP`] unless
    /// [`World::set_fault_log_cap`] changed it). [`World::fault_log`] has
    /// the counts and the newest records.
    pub fn applied_faults(&self) -> &[AppliedFault] {
        self.applied.kept()
    }
    /// The bounded applied-fault log.
    pub fn fault_log(&self) -> &FaultLog {
        &self.applied
    }
    /// Keep the first `n` fault records instead of the default (tests use
    /// a small cap to truncate a short run's log). Only before the run.
    pub fn set_fault_log_cap(&mut self, n: usize) {
        assert_eq!(self.applied.total(), 0, "fault log cap set mid-run");
        self.applied = FaultLog::new(n);
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
    /// Call `f` every [`PROGRESS_EVERY`](super::PROGRESS_EVERY) events
    /// (the CLI's progress line on long runs). It sees only times and a
    /// count, never the world, so it cannot change what happens: traces
    /// are the same with or without it.
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
    /// Stop the run once more than `n` events are queued at once (a
    /// sweep's per-seed memory budget: the queue is what a storm grows).
    pub fn set_max_pending(&mut self, n: u64) {
        self.max_pending = n;
    }
    /// True if the run was stopped by [`World::set_max_pending`].
    pub fn pending_cap_hit(&self) -> bool {
        self.pending_cap_hit
    }
    /// Events queued now.
    pub fn pending_events(&self) -> u64 {
        self.queue.len() as u64
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
}
