//! Faults tied to protocol events: crash points (`crash_at`) and message
//! rules (`message`).
//!
//! A process reports a protocol event with `Context::crash_point`, which
//! writes an `Effect::CrashPoint` in order with its other effects. When
//! the kernel reaches that effect (at once, or after the syncs before it
//! complete) and an armed `crash_at` rule names the point, it draws from
//! the `crash_points` stream; on a hit it drops every later effect of the
//! node and crashes it right after the observers have seen the handler's
//! event, as its own fault event (logged as a scripted `crash` with the
//! point's name, and a restart after a drawn delay). What was durable
//! before the point stays durable; everything else is lost, as in a real
//! crash. Observers see the node as the handler left it, so a leader that
//! crashes at `became_leader` was a leader.
//!
//! Message rules are applied at send time, like every network decision:
//! a message whose kind an armed rule names is picked with the rule's
//! probability (the `messages` stream) and duplicated or held.
//!
//! Nothing here draws unless a rule is armed and matches, and a process
//! sees crash points enabled only while a `crash_at` rule is armed, so
//! runs without these faults are unchanged, trace hash included.

use super::faults::Undo;
use super::world::{Event, NodeStatus, World};
use crate::fault::{AppliedFault, CrashAtRule, MessageFault, MessageRule};
use crate::ids::NodeId;
use crate::process::{CrashPoint, Process};
use crate::time::SimDuration;

/// An armed rule and the id its disarm names.
#[derive(Clone, Debug)]
pub(super) struct Armed<R> {
    pub(super) id: u64,
    pub(super) rule: R,
}

/// A crash a crash point decided, applied after the event's observers.
#[derive(Clone, Copy, Debug)]
pub(super) struct PendingCrash {
    pub(super) node: NodeId,
    pub(super) point: CrashPoint,
    pub(super) restart_after: Option<SimDuration>,
}

/// The kernel's state for protocol-event faults.
#[derive(Debug, Default)]
pub(super) struct ProtocolFaults {
    pub(super) crash_rules: Vec<Armed<CrashAtRule>>,
    pub(super) message_rules: Vec<Armed<MessageRule>>,
    pub(super) pending: Vec<PendingCrash>,
    next_id: u64,
}

impl ProtocolFaults {
    fn next_id(&mut self) -> u64 {
        self.next_id += 1;
        self.next_id
    }
}

/// Uniform in `[min, max]` from `rng`.
fn uniform(rng: &mut crate::rng::SimRng, min: SimDuration, max: SimDuration) -> SimDuration {
    SimDuration(min.0 + rng.range_inclusive(0, max.0 - min.0))
}

impl<P: Process> World<P> {
    /// Arm a `crash_at` rule; returns the id its disarm names.
    pub(super) fn arm_crash_rule(&mut self, rule: CrashAtRule) -> u64 {
        let id = self.protocol.next_id();
        self.protocol.crash_rules.push(Armed { id, rule });
        id
    }

    /// Arm a message rule; returns the id its disarm names.
    pub(super) fn arm_message_rule(&mut self, rule: MessageRule) -> u64 {
        let id = self.protocol.next_id();
        self.protocol.message_rules.push(Armed { id, rule });
        id
    }

    /// Disarm the rule `id` (either kind).
    pub(super) fn disarm(&mut self, id: u64) {
        self.protocol.crash_rules.retain(|a| a.id != id);
        self.protocol.message_rules.retain(|a| a.id != id);
    }

    /// True while a `crash_at` rule is armed (processes report points).
    #[inline]
    pub(super) fn crash_points_armed(&self) -> bool {
        !self.protocol.crash_rules.is_empty()
    }

    /// `node` reached `point`: true if it crashes here (the caller drops
    /// every later effect of the node). A node is never crashed by a
    /// point while that would leave a majority of the cluster down, so
    /// the cluster can always recover.
    pub(super) fn crash_point_reached(&mut self, node: NodeId, point: CrashPoint) -> bool {
        if node.0 >= self.cfg.cluster || self.slots[node.index()].crashing {
            return false;
        }
        let limit = self.cfg.cluster.saturating_sub(1) / 2;
        for k in 0..self.protocol.crash_rules.len() {
            let rule = &self.protocol.crash_rules[k].rule;
            if rule.point != point || rule.node.is_some_and(|n| n != node) {
                continue;
            }
            if self.down_count() + self.protocol.pending.len() as u32 >= limit {
                return false;
            }
            let (p, restart) = (rule.probability, rule.restart_after);
            if !self.crash_rng.chance(p) {
                continue;
            }
            let restart_after = restart.map(|[lo, hi]| uniform(&mut self.crash_rng, lo, hi));
            self.slots[node.index()].crashing = true;
            self.protocol.pending.push(PendingCrash {
                node,
                point,
                restart_after,
            });
            return true;
        }
        false
    }

    /// Apply the first crash a point decided: crash the node, log it as a
    /// scripted crash naming the point, queue its restart. Returns false
    /// when none is pending.
    pub(super) fn apply_pending_crash(&mut self) -> bool {
        if self.protocol.pending.is_empty() {
            return false;
        }
        let c = self.protocol.pending.remove(0);
        self.slots[c.node.index()].crashing = false;
        let mut rec = AppliedFault::new(self.now, "crash", "scripted");
        rec.nodes = vec![c.node];
        rec.point = Some(c.point.name());
        if self.slots[c.node.index()].status == NodeStatus::Crashed {
            rec.skipped = Some(format!("{} is already crashed", c.node));
        } else {
            self.crash(c.node);
            if let Some(d) = c.restart_after {
                self.queue
                    .push(self.now + d, Event::Undo(Undo::Restart(c.node), "undo"));
            }
        }
        self.log(rec);
        true
    }

    /// The message rule decision for a message of `kind` sent now: a
    /// duplicate's gap or a hold, if an armed rule picks it.
    pub(super) fn message_fault(&mut self, kind: &str) -> Option<(MessageFault, SimDuration)> {
        for k in 0..self.protocol.message_rules.len() {
            let rule = &self.protocol.message_rules[k].rule;
            if rule.message != kind {
                continue;
            }
            let (p, fault) = (rule.probability, rule.fault);
            if !self.message_rng.chance(p) {
                continue;
            }
            let (MessageFault::Duplicate { min, max } | MessageFault::Delay { min, max }) = fault;
            return Some((fault, uniform(&mut self.message_rng, min, max)));
        }
        None
    }
}
