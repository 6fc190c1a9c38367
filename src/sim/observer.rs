//! What the world shows the outside while it runs: dispatched events for
//! observers (checkers, metrics), trace lines for the tracer, and the
//! progress callback. Nothing here can change what happens next.

use super::world::World;
use crate::fault::AppliedFault;
use crate::ids::{NodeId, TimerId};
use crate::process::Process;
use crate::time::SimTime;

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
    pub(super) fn code(self) -> u8 {
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

/// A progress callback: (virtual now, virtual end, events so far).
pub type Progress = Box<dyn FnMut(SimTime, SimTime, u64)>;

/// Events between two progress callbacks (a power of two: the check is a
/// mask on the event counter).
pub const PROGRESS_EVERY: u64 = 1 << 16;
