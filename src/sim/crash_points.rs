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
//! probability (the `messages` stream) and duplicated or held. Two rules
//! have a protocol shape: `bare_majority` picks a whole round (a node's
//! sends of the kind at one instant) and lets only a bare majority of
//! the cluster, the sender counted, have it in time; `align_timers` runs
//! after a node handles a picked message and moves its election timer to
//! fire just after another node's, so both stand in one election. Each
//! firing of a pattern is logged (`bare_majority`: one record per held
//! message; `align_timers`: one per move), so a test can see it fire.
//!
//! Nothing here draws unless a rule is armed and matches, and a process
//! sees crash points enabled only while a `crash_at` rule is armed, so
//! runs without these faults are unchanged, trace hash included.

use super::faults::Undo;
use super::world::{Event, NodeStatus, World};
use crate::fault::{AppliedFault, CrashAtRule, MessageFault, MessageRule};
use crate::ids::{NodeId, TimerId};
use crate::process::{CrashPoint, Process};
use crate::time::{SimDuration, SimTime};

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

/// The replication round a `bare_majority` rule is in: one sender's
/// sends at one instant.
#[derive(Clone, Debug)]
struct Round {
    rule: u64,
    from: NodeId,
    at: SimTime,
    picked: bool,
    /// The receivers this round reaches (at most quorum − 1).
    reached: Vec<NodeId>,
}

/// The kernel's state for protocol-event faults.
#[derive(Debug, Default)]
pub(super) struct ProtocolFaults {
    pub(super) crash_rules: Vec<Armed<CrashAtRule>>,
    pub(super) message_rules: Vec<Armed<MessageRule>>,
    pub(super) pending: Vec<PendingCrash>,
    round: Option<Round>,
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

    /// `node` reached `point` for the `nth` time for one thing (0: the
    /// process does not number this point): true if it crashes here (the
    /// caller drops every later effect of the node). A rule with `k`
    /// matches only the k-th report. A node is never crashed by a point
    /// while that would leave a majority of the cluster down, so the
    /// cluster can always recover.
    pub(super) fn crash_point_reached(
        &mut self,
        node: NodeId,
        point: CrashPoint,
        nth: u32,
    ) -> bool {
        if node.0 >= self.cfg.cluster || self.slots[node.index()].crashing {
            return false;
        }
        let limit = self.cfg.cluster.saturating_sub(1) / 2;
        for k in 0..self.protocol.crash_rules.len() {
            let rule = &self.protocol.crash_rules[k].rule;
            if rule.point != point
                || rule.node.is_some_and(|n| n != node)
                || rule.k.is_some_and(|k| k != nth)
            {
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

    /// The message rule decision for a message of `kind` that `from`
    /// sends now: a duplicate's gap or a hold, if an armed rule picks it
    /// (a `bare_majority` hold comes back as a `Delay`).
    pub(super) fn message_fault(
        &mut self,
        kind: &str,
        from: NodeId,
        to: NodeId,
    ) -> Option<(MessageFault, SimDuration)> {
        for k in 0..self.protocol.message_rules.len() {
            let Armed { id, rule } = &self.protocol.message_rules[k];
            if rule.message != kind {
                continue;
            }
            let (id, p, fault) = (*id, rule.probability, rule.fault);
            match fault {
                MessageFault::AlignTimers { .. } => continue,
                MessageFault::BareMajority { min, max } => {
                    if let Some(hold) = self.bare_majority(id, p, from, to, min, max) {
                        return Some((MessageFault::Delay { min, max }, hold));
                    }
                    continue;
                }
                MessageFault::Duplicate { min, max } | MessageFault::Delay { min, max } => {
                    if !self.message_rng.chance(p) {
                        continue;
                    }
                    return Some((fault, uniform(&mut self.message_rng, min, max)));
                }
            }
        }
        None
    }

    /// A send of a `bare_majority` rule's kind: the first send of a
    /// round decides whether the round is picked; in a picked round the
    /// sends to the first quorum − 1 receivers pass (a second send to one
    /// of them too) and the rest are held (logged).
    fn bare_majority(
        &mut self,
        rule: u64,
        p: f64,
        from: NodeId,
        to: NodeId,
        min: SimDuration,
        max: SimDuration,
    ) -> Option<SimDuration> {
        let now = self.now;
        let same = self
            .protocol
            .round
            .as_ref()
            .is_some_and(|r| r.rule == rule && r.from == from && r.at == now);
        if !same {
            let picked = self.message_rng.chance(p);
            self.protocol.round = Some(Round {
                rule,
                from,
                at: now,
                picked,
                reached: Vec::new(),
            });
        }
        let quorum = (self.cfg.cluster / 2 + 1) as usize;
        let r = self.protocol.round.as_mut().expect("set above");
        if !r.picked || r.reached.contains(&to) {
            return None;
        }
        if r.reached.len() + 1 < quorum {
            r.reached.push(to);
            return None;
        }
        let hold = uniform(&mut self.message_rng, min, max);
        let mut rec = AppliedFault::new(now, "bare_majority", "scripted");
        rec.nodes = vec![from, to];
        rec.extra_latency = Some(hold);
        self.log(rec);
        Some(hold)
    }

    /// `node` handled a message of `kind`: an armed `align_timers` rule
    /// for that kind may move its timer to fire just after another live
    /// server's (logged with both nodes).
    pub(super) fn after_delivery(&mut self, node: NodeId, kind: &str) {
        for k in 0..self.protocol.message_rules.len() {
            let rule = &self.protocol.message_rules[k].rule;
            let MessageFault::AlignTimers { timer, within } = rule.fault else {
                continue;
            };
            if rule.message != kind || node.0 >= self.cfg.cluster {
                continue;
            }
            if !self.message_rng.chance(rule.probability) {
                continue;
            }
            if self.align_timer(node, timer, within) {
                return;
            }
        }
    }

    /// Move `node`'s armed `timer` to a uniform draw from `[0, within]`
    /// after another live server's armed `timer` (picked uniformly).
    /// False when either side has none armed.
    fn align_timer(&mut self, node: NodeId, timer: TimerId, within: SimDuration) -> bool {
        let Some(pos) = self.slots[node.index()]
            .timers
            .iter()
            .position(|t| t.id == timer)
        else {
            return false;
        };
        let others: Vec<(NodeId, SimTime)> = (0..self.cfg.cluster)
            .map(NodeId)
            .filter(|&n| n != node && self.slots[n.index()].status == NodeStatus::Up)
            .filter_map(|n| {
                let t = self.slots[n.index()]
                    .timers
                    .iter()
                    .find(|t| t.id == timer)?;
                Some((n, t.deadline))
            })
            .collect();
        if others.is_empty() {
            return false;
        }
        let (other, at) = others[self.message_rng.index(others.len())];
        let deadline = at.max(self.now) + uniform(&mut self.message_rng, SimDuration::ZERO, within);
        let slot = &mut self.slots[node.index()];
        let t = &mut slot.timers[pos];
        if t.queued_at <= deadline {
            // The queued firing comes first and re-queues itself at the
            // deadline (as `set_timer` does).
            t.deadline = deadline;
        } else {
            let gen = slot.next_gen;
            slot.next_gen += 1;
            *t = super::world::ArmedTimer {
                id: timer,
                gen,
                deadline,
                queued_at: deadline,
            };
            self.queue.push(deadline, Event::timer(node, timer, gen));
        }
        let mut rec = AppliedFault::new(self.now, "align_timers", "scripted");
        rec.nodes = vec![node, other];
        self.log(rec);
        true
    }
}
