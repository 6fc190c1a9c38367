//! What agents and coordinators exchange: one [`Envelope`] type, carried
//! beside Raft's own messages in the world's [`CollabMsg`]; the receiver's
//! [`DedupeWindow`]; the resend [`backoff`]; and the AP coordinators'
//! gossip ([`ApMsg`]).
//!
//! Delivery is at-least-once: a sender resends (same `message_id`) with
//! exponential backoff and jitter until it is acknowledged or its attempts
//! run out; receivers drop duplicates by `message_id` within a bounded
//! window (and re-acknowledge them, since the first ack may be what was
//! lost).

use super::config::Priority;
use super::coordinator::{CollabCommand, CollabOutput, Outcome, TaskId, WorkflowRecord};
use crate::ids::NodeId;
use crate::process::{Digest, Message};
use crate::raft::Msg;
use crate::rng::SimRng;
use crate::time::{SimDuration, SimTime};
use std::collections::{BTreeSet, VecDeque};

/// Raft messages of the coordinator cluster.
pub type RaftMsg = Msg<CollabCommand, CollabOutput>;

/// The world's message type.
#[derive(Clone, Debug)]
pub enum CollabMsg {
    /// Between coordinator servers.
    Raft(RaftMsg),
    /// Between coordinators and agents.
    Env(Envelope),
    /// Between AP coordinator servers (gossip).
    Ap(ApMsg),
    /// From the world to every coordinator server at a scripted
    /// approval's true time (`workflow.approvals`): stage `stage` is
    /// approved. Not sent by any process; the runner queues it
    /// (`World::input`), so an approval happens in true simulated time
    /// whatever a server's clock says.
    Approval {
        /// Stage index.
        stage: u16,
    },
    /// From the world to every coordinator server at a workflow
    /// arrival's true time (`workflow.arrivals`): workflows `0..upto`
    /// have arrived. Queued by the runner like [`CollabMsg::Approval`],
    /// so a fast or slow server clock never moves an arrival. Cumulative,
    /// so a server that was down at an earlier arrival learns it at the
    /// next one.
    Arrival {
        /// Workflows with an index below this have arrived.
        upto: u32,
    },
    /// Between Raft coordinator servers: the world events (arrivals,
    /// approvals) the sender has heard of. A server keeps them in memory
    /// only, and one that was down or restarted since does not know them,
    /// so the active coordinator asks its peers on activation and every
    /// second (`ask`), and a peer answers with what it knows.
    Known {
        /// Workflows `0..arrived` have arrived.
        arrived: u32,
        /// Stages approved, ascending.
        approved: Vec<u16>,
        /// Answer with yours.
        ask: bool,
    },
}

/// An assignment's content.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Assignment {
    /// Task id.
    pub task: TaskId,
    /// Attempt number.
    pub attempt: u32,
    /// The task version the attempt was committed at.
    pub version: u64,
    /// Skill index.
    pub skill: u16,
    /// Size (1.0 = nominal).
    pub size: f64,
    /// Mean quality of the inputs (dependencies' results), 1.0 if none.
    pub input_quality: f64,
}

/// What an envelope carries.
#[derive(Clone, Debug, PartialEq)]
pub enum Payload {
    /// Coordinator → agent: work on this.
    TaskAssignment(Assignment),
    /// Agent → coordinator: the attempt's result (`failed`: a transient
    /// failure, no usable output).
    TaskResult {
        /// Task id.
        task: TaskId,
        /// Attempt number.
        attempt: u32,
        /// Version of the attempt.
        version: u64,
        /// Transient failure.
        failed: bool,
        /// What was produced.
        outcome: Outcome,
    },
    /// Agent → coordinator: alive, with this much work held.
    Heartbeat {
        /// Tasks running or queued.
        load: u32,
    },
    /// Coordinator → agent: I am the coordinator now.
    StateSync {
        /// The coordinator.
        leader: NodeId,
    },
    /// Either way: `of` arrived.
    Ack {
        /// The acknowledged message id.
        of: u64,
    },
    /// Agent → coordinator: inbox full, assignment `of` refused.
    Refused {
        /// The refused message id.
        of: u64,
        /// The task.
        task: TaskId,
    },
    /// Follower → agent: not the coordinator; try `hint`.
    NotLeader {
        /// The leader this server knows of.
        hint: Option<NodeId>,
    },
}

/// The collaboration message envelope.
#[derive(Clone, Debug, PartialEq)]
pub struct Envelope {
    /// Unique per sender (resends keep it; receivers dedupe on it).
    pub message_id: u64,
    /// Sender.
    pub sender: NodeId,
    /// Intended receivers (one per send in this simulator).
    pub receivers: Vec<NodeId>,
    /// Content.
    pub payload: Payload,
    /// Sender's clock at the first send.
    pub timestamp: SimTime,
    /// The message this one answers or belongs to (task id for task
    /// traffic, the acknowledged id for acks).
    pub correlation_id: u64,
    /// Delivery priority.
    pub priority: Priority,
}

impl Envelope {
    /// An envelope for one receiver, stamped at `now`.
    pub fn to_one(
        message_id: u64,
        sender: NodeId,
        to: NodeId,
        payload: Payload,
        now: SimTime,
        correlation_id: u64,
        priority: Priority,
    ) -> Envelope {
        Envelope {
            message_id,
            sender,
            receivers: vec![to],
            payload,
            timestamp: now,
            correlation_id,
            priority,
        }
    }

    /// The message type name (`task_assignment`, `ack`, ...).
    pub fn kind(&self) -> &'static str {
        match self.payload {
            Payload::TaskAssignment(_) => "task_assignment",
            Payload::TaskResult { .. } => "task_result",
            Payload::Heartbeat { .. } => "heartbeat",
            Payload::StateSync { .. } => "state_sync",
            Payload::Ack { .. } => "ack",
            Payload::Refused { .. } => "refused",
            Payload::NotLeader { .. } => "not_leader",
        }
    }
}

impl Message for CollabMsg {
    fn kind(&self) -> &'static str {
        match self {
            CollabMsg::Raft(m) => m.kind(),
            CollabMsg::Env(e) => e.kind(),
            CollabMsg::Ap(m) => m.kind(),
            CollabMsg::Approval { .. } => "approval",
            CollabMsg::Arrival { .. } => "arrival",
            CollabMsg::Known { .. } => "known_events",
        }
    }
    fn digest(&self, d: &mut Digest) {
        match self {
            CollabMsg::Ap(m) => {
                d.write(&[2]);
                m.digest(d);
            }
            CollabMsg::Approval { stage } => {
                d.write(&[3]);
                d.write_u64(u64::from(*stage));
            }
            CollabMsg::Arrival { upto } => {
                d.write(&[4]);
                d.write_u64(u64::from(*upto));
            }
            CollabMsg::Known {
                arrived,
                approved,
                ask,
            } => {
                d.write(&[5, u8::from(*ask)]);
                d.write_u64(u64::from(*arrived));
                d.write_u64(approved.len() as u64);
                for &s in approved {
                    d.write_u64(u64::from(s));
                }
            }
            CollabMsg::Raft(m) => {
                d.write(&[0]);
                m.digest(d);
            }
            CollabMsg::Env(e) => {
                d.write(&[1]);
                d.write_u64(e.message_id);
                d.write_u64(u64::from(e.sender.0));
                d.write_u64(e.correlation_id);
                d.write_u64(e.timestamp.0);
                d.write_u64(e.priority as u64);
                d.write(e.kind().as_bytes());
                match &e.payload {
                    Payload::TaskAssignment(a) => {
                        d.write_u64(u64::from(a.task));
                        d.write_u64(u64::from(a.attempt));
                        d.write_u64(a.version);
                    }
                    Payload::TaskResult {
                        task,
                        attempt,
                        version,
                        failed,
                        outcome,
                    } => {
                        d.write_u64(u64::from(*task));
                        d.write_u64(u64::from(*attempt));
                        d.write_u64(*version);
                        d.write_u64(u64::from(*failed));
                        outcome.digest(d);
                    }
                    Payload::Heartbeat { load } => d.write_u64(u64::from(*load)),
                    Payload::StateSync { leader } => d.write_u64(u64::from(leader.0)),
                    Payload::Ack { of } => d.write_u64(*of),
                    Payload::Refused { of, task } => {
                        d.write_u64(*of);
                        d.write_u64(u64::from(*task));
                    }
                    Payload::NotLeader { hint } => {
                        d.write_u64(hint.map_or(u64::MAX, |h| u64::from(h.0)))
                    }
                }
            }
        }
    }
    fn size_bytes(&self) -> usize {
        match self {
            CollabMsg::Raft(m) => m.size_bytes(),
            CollabMsg::Ap(m) => m.size_bytes(),
            CollabMsg::Approval { .. } | CollabMsg::Arrival { .. } => 16,
            CollabMsg::Known { approved, .. } => 16 + 2 * approved.len(),
            CollabMsg::Env(e) => match e.payload {
                Payload::TaskResult { .. } => 120,
                Payload::TaskAssignment(_) => 80,
                _ => 48,
            },
        }
    }
}

/// Message ids: sender in the top 20 bits, the sender's term (0 for
/// agents) in the next 20, a counter in the low 24, so ids stay unique
/// across a coordinator's restarts and terms.
pub fn message_id(sender: NodeId, epoch: u64, counter: u64) -> u64 {
    (u64::from(sender.0) & 0xf_ffff) << 44 | (epoch & 0xf_ffff) << 24 | (counter & 0xff_ffff)
}

/// Remembers the last `cap` message ids seen.
#[derive(Clone, Debug)]
pub struct DedupeWindow {
    order: VecDeque<u64>,
    seen: BTreeSet<u64>,
    cap: usize,
}

impl DedupeWindow {
    /// A window of `cap` ids.
    pub fn new(cap: usize) -> Self {
        assert!(cap > 0);
        DedupeWindow {
            order: VecDeque::with_capacity(cap),
            seen: BTreeSet::new(),
            cap,
        }
    }
    /// Record `id`; false if it was already in the window (a duplicate).
    pub fn first_time(&mut self, id: u64) -> bool {
        if self.seen.contains(&id) {
            return false;
        }
        if self.order.len() == self.cap {
            let old = self.order.pop_front().expect("full window");
            self.seen.remove(&old);
        }
        self.order.push_back(id);
        self.seen.insert(id);
        true
    }
}

/// The wait before resend number `attempt` (1-based: the wait after the
/// first send): `min · 2^(attempt-1)`, capped at `max`, then scaled by a
/// jitter factor uniform in [0.5, 1.0] so senders that failed together do
/// not resend together.
pub fn backoff(attempt: u32, min: SimDuration, max: SimDuration, rng: &mut SimRng) -> SimDuration {
    let exp = attempt.saturating_sub(1).min(30);
    let base = min
        .as_micros()
        .saturating_mul(1u64 << exp)
        .min(max.as_micros());
    let jitter = 0.5 + 0.5 * rng.unit();
    SimDuration::from_micros((base as f64 * jitter) as u64)
}

// The AP coordinator's messages live here, with the rest of the wire, so
// that `ap` depends on `messages` and not the other way round.

/// Who wrote a workflow last: the writer's local clock, then its id.
pub type Stamp = (SimTime, u32);

/// One workflow on the wire, with its metadata.
#[derive(Clone, Debug, PartialEq)]
pub struct SyncRecord {
    /// The content.
    pub record: WorkflowRecord,
    /// Its version vector.
    pub vv: Vec<u64>,
    /// Its stamp.
    pub stamp: Stamp,
}

/// Messages between AP servers.
#[derive(Clone, Debug, PartialEq)]
pub enum ApMsg {
    /// Workflows changed since the receiver's last ack.
    Sync {
        /// The sender's incarnation (its start time, µs, plus one).
        incarnation: u64,
        /// The receiver's incarnation the sender's ack counter belongs to
        /// (0: none known).
        to_incarnation: u64,
        /// Changes up to this number were already acknowledged and are
        /// left out (0: a full sync).
        base: u64,
        /// Every change of the sender up to this number is included.
        upto: u64,
        /// Workflows, in index order.
        records: Vec<SyncRecord>,
        /// World events the sender has heard of, gossiped so that a
        /// restarted server (AP state is volatile) learns them again:
        /// workflows `0..arrived` have arrived ...
        arrived: u32,
        /// ... and these stages were approved (ascending).
        approved: Vec<u16>,
    },
    /// The receiver of a sync has merged it.
    Ack {
        /// The acknowledging server's incarnation.
        incarnation: u64,
        /// The incarnation of the sync's sender this answers: an ack for
        /// an earlier life of ours is ignored (its `upto` counts changes
        /// that life made).
        to_incarnation: u64,
        /// Changes of the sync's sender merged, up to this number.
        upto: u64,
        /// A record did not fit (a gap): send everything again.
        resync: bool,
    },
}

impl ApMsg {
    /// Type name for counters.
    pub fn kind(&self) -> &'static str {
        match self {
            ApMsg::Sync { .. } => "ap_sync",
            ApMsg::Ack { .. } => "ap_ack",
        }
    }
    /// Fold into a trace digest.
    pub fn digest(&self, d: &mut Digest) {
        match self {
            ApMsg::Sync {
                incarnation,
                to_incarnation,
                base,
                upto,
                records,
                arrived,
                approved,
            } => {
                d.write(&[0]);
                d.write_u64(*incarnation);
                d.write_u64(*to_incarnation);
                d.write_u64(*base);
                d.write_u64(*upto);
                d.write_u64(u64::from(*arrived));
                d.write_u64(approved.len() as u64);
                for &s in approved {
                    d.write_u64(u64::from(s));
                }
                d.write_u64(records.len() as u64);
                for r in records {
                    r.record.digest(d);
                    for &v in &r.vv {
                        d.write_u64(v);
                    }
                    d.write_u64(r.stamp.0 .0);
                    d.write_u64(u64::from(r.stamp.1));
                }
            }
            ApMsg::Ack {
                incarnation,
                to_incarnation,
                upto,
                resync,
            } => {
                d.write(&[1, u8::from(*resync)]);
                d.write_u64(*incarnation);
                d.write_u64(*to_incarnation);
                d.write_u64(*upto);
            }
        }
    }
    /// Approximate bytes on the wire.
    pub fn size_bytes(&self) -> usize {
        match self {
            ApMsg::Sync {
                records, approved, ..
            } => {
                36 + 2 * approved.len()
                    + records
                        .iter()
                        .map(|r| r.record.wire_size() + 8 * r.vv.len() + 12)
                        .sum::<usize>()
            }
            ApMsg::Ack { .. } => 32,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The window drops repeats and forgets the oldest id when full.
    #[test]
    fn dedupe_window_is_bounded() {
        let mut w = DedupeWindow::new(2);
        assert!(w.first_time(1));
        assert!(!w.first_time(1));
        assert!(w.first_time(2));
        assert!(w.first_time(3)); // evicts 1
        assert!(w.first_time(1));
        assert!(!w.first_time(3));
    }

    /// Backoff doubles up to the cap, with jitter in [0.5, 1] of the base.
    #[test]
    fn backoff_doubles_with_jitter_and_cap() {
        let mut r = SimRng::derive(1, "t");
        let (min, max) = (
            SimDuration::from_millis(100),
            SimDuration::from_millis(2000),
        );
        for (attempt, base) in [(1u32, 100u64), (2, 200), (3, 400), (6, 2000), (40, 2000)] {
            for _ in 0..50 {
                let b = backoff(attempt, min, max, &mut r).as_micros();
                assert!(b >= base * 500 && b <= base * 1000, "{attempt}: {b}");
            }
        }
    }

    /// Ids of different senders, epochs and counters differ.
    #[test]
    fn message_ids_are_unique_per_sender_and_epoch() {
        let a = message_id(NodeId(1), 2, 3);
        assert_ne!(a, message_id(NodeId(2), 2, 3));
        assert_ne!(a, message_id(NodeId(1), 3, 3));
        assert_ne!(a, message_id(NodeId(1), 2, 4));
    }
}
