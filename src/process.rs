//! The contract between the kernel and every simulated node.
//!
//! A node is a sans-IO state machine: the kernel hands it an input (start, a
//! message, a timer) together with a [`Context`], and the node answers by
//! writing [`Effect`]s into the context. It never reads a clock, touches a
//! file or a socket, or spawns anything. Whatever must survive a crash is
//! written as durable records (`persist` + `sync`); on restart the kernel
//! rebuilds the node from exactly the records that were synced.

use crate::ids::{NodeId, TimerId};
use crate::rng::SimRng;
use crate::time::{SimDuration, SimTime};
use std::fmt::Debug;

/// Stable content digest of a message, folded into the trace hash.
///
/// Implementations write the fields that identify the message (type tag,
/// term, indices, payload sizes) with the `write_*` methods. The function is
/// fixed here (64-bit words, multiply-rotate mixing, little-endian byte
/// packing), so digests agree across machines and releases.
#[derive(Clone, Copy, Debug, Default)]
pub struct Digest {
    state: u64,
}

impl Digest {
    const MUL: u64 = 0x9e37_79b9_7f4a_7c15;
    const OFFSET: u64 = 0xcbf2_9ce4_8422_2325;

    /// A fresh digest.
    pub fn new() -> Self {
        Digest {
            state: Self::OFFSET,
        }
    }

    /// Fold in a u64.
    #[inline]
    pub fn write_u64(&mut self, v: u64) {
        self.state = (self.state ^ v).wrapping_mul(Self::MUL).rotate_left(29);
    }

    /// Fold in a byte string (length-prefixed, packed 8 bytes a word).
    #[inline]
    pub fn write(&mut self, bytes: &[u8]) {
        self.write_u64(bytes.len() as u64);
        if bytes.len() <= 8 {
            // Message kinds are short: one word, no loop (same words as
            // the general path below).
            // Packed with shifts, not through a stack buffer: a memcpy
            // into `[u8; 8]` read back as a u64 stalls store forwarding
            // (measured: a fifth of the delivery path).
            if !bytes.is_empty() {
                let mut w = 0u64;
                for (i, b) in bytes.iter().enumerate() {
                    w |= (*b as u64) << (8 * i);
                }
                self.write_u64(w);
            }
            return;
        }
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            self.write_u64(u64::from_le_bytes(c.try_into().expect("8 bytes")));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut w = [0u8; 8];
            w[..rest.len()].copy_from_slice(rest);
            self.write_u64(u64::from_le_bytes(w));
        }
    }

    /// Fold in an i64.
    #[inline]
    pub fn write_i64(&mut self, v: i64) {
        self.write_u64(v as u64);
    }

    /// The digest so far.
    #[inline]
    pub fn finish(&self) -> u64 {
        self.state
    }
}

/// What the kernel needs to know about a message type.
pub trait Message: Clone + Debug {
    /// A short type name (`"append_entries"`), used for per-type counters
    /// and traces.
    fn kind(&self) -> &'static str;
    /// Fold the identifying content into `d` (see [`Digest`]).
    fn digest(&self, d: &mut Digest);
    /// Approximate encoded size in bytes, for the network byte counters.
    fn size_bytes(&self) -> usize {
        64
    }
}

/// An output of a node's handler. The kernel applies effects in order;
/// everything after a [`Effect::Sync`] (in this handler and in later ones)
/// waits until the sync completes.
#[derive(Debug, Clone)]
pub enum Effect<M, R> {
    /// Put `msg` on the simulated network towards `to`.
    Send { to: NodeId, msg: M },
    /// Arm (or re-arm) timer `id` to fire `after` from now, on the node's
    /// local clock (clock skew scales it).
    SetTimer { id: TimerId, after: SimDuration },
    /// Disarm timer `id`; a no-op if it is not armed.
    CancelTimer { id: TimerId },
    /// Append a record to the node's disk. Not durable until synced.
    Persist(R),
    /// Replace the node's whole disk content (a compaction: write a new
    /// file and rename it over the old one). Not durable until synced.
    Rewrite(Vec<R>),
    /// Make every earlier write durable. Takes the scenario's disk sync
    /// latency; effects after it in the same step happen when it completes.
    Sync,
    /// The node reached a protocol event where a crash is interesting
    /// ([`Context::crash_point`]). The kernel may crash the node right
    /// here: every later effect is then lost, as in a real crash. The
    /// number is the report's ordinal for points the process numbers
    /// ([`Context::crash_point_nth`]; 0 for the others).
    CrashPoint(CrashPoint, u32),
}

/// A protocol event at which the kernel may crash the node (a scenario's
/// `crash_at` fault), in the spirit of FoundationDB's BUGGIFY and
/// CrashTuner: faults placed where the protocol is fragile, not at random
/// times. A process reports a point through [`Context::crash_point`]; the
/// names are part of the scenario format ([`CrashPoint::name`]) and never
/// change. Where a point sits relative to durable writes is part of its
/// meaning: the effects before it happened (writes synced before it are
/// durable, sends are on the wire), the ones after it did not.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum CrashPoint {
    /// A vote was granted and written, but not yet synced, and the grant
    /// not sent: a crash forgets the vote and nobody learns of it.
    VoteGrantedUnsynced,
    /// A vote grant is durable and about to be sent.
    VoteGranted,
    /// A candidate has sent its vote requests (its term and self-vote
    /// written and synced before them).
    VoteRequested,
    /// A node has just become leader: nothing of its leadership written
    /// or sent yet (its first entry, the no-op, follows).
    BecameLeader,
    /// A leader appended an entry (its no-op or a client's), durable, not
    /// yet replicated.
    EntryAppended,
    /// A leader counted an acknowledgement that advanced a follower's
    /// match index, before deciding what commits. Numbered: the nth
    /// follower to hold the acknowledged index (a rule's `k`).
    AckReceived,
    /// A leader advanced its commit index and applied; the replies to
    /// clients and the appends that carry the new commit index are not sent.
    CommitAdvanced,
    /// A follower sent its acknowledgement of an append.
    AppendAcked,
    /// A follower installed a snapshot (durable), before answering.
    SnapshotInstalled,
    /// Between two durable writes of one decision (a protocol that writes
    /// one logical change as two records).
    BetweenWrites,
}

impl CrashPoint {
    /// Every point, in a stable order.
    pub const ALL: [CrashPoint; 10] = [
        CrashPoint::VoteGrantedUnsynced,
        CrashPoint::VoteGranted,
        CrashPoint::VoteRequested,
        CrashPoint::BecameLeader,
        CrashPoint::EntryAppended,
        CrashPoint::AckReceived,
        CrashPoint::CommitAdvanced,
        CrashPoint::AppendAcked,
        CrashPoint::SnapshotInstalled,
        CrashPoint::BetweenWrites,
    ];

    /// The name in scenario files and fault logs (`"vote_granted"`).
    pub fn name(self) -> &'static str {
        match self {
            CrashPoint::VoteGrantedUnsynced => "vote_granted_unsynced",
            CrashPoint::VoteGranted => "vote_granted",
            CrashPoint::VoteRequested => "vote_requested",
            CrashPoint::BecameLeader => "became_leader",
            CrashPoint::EntryAppended => "entry_appended",
            CrashPoint::AckReceived => "ack_received",
            CrashPoint::CommitAdvanced => "commit_advanced",
            CrashPoint::AppendAcked => "append_acked",
            CrashPoint::SnapshotInstalled => "snapshot_installed",
            CrashPoint::BetweenWrites => "between_writes",
        }
    }

    /// The point called `name`, if any.
    pub fn from_name(name: &str) -> Option<CrashPoint> {
        CrashPoint::ALL.into_iter().find(|p| p.name() == name)
    }
}

/// What a handler gets besides its input: the node's id, its local clock,
/// its own random stream, and the buffer to write effects into.
pub struct Context<'a, M, R> {
    id: NodeId,
    now: SimTime,
    rng: &'a mut SimRng,
    effects: &'a mut Vec<Effect<M, R>>,
    crash_points: bool,
}

impl<'a, M, R> Context<'a, M, R> {
    /// Build a context. The kernel does this; tests driving a node by hand
    /// do it too.
    pub fn new(
        id: NodeId,
        now: SimTime,
        rng: &'a mut SimRng,
        effects: &'a mut Vec<Effect<M, R>>,
    ) -> Self {
        Context {
            id,
            now,
            rng,
            effects,
            crash_points: false,
        }
    }

    /// Whether [`Context::crash_point`] reports reach the kernel (set by
    /// the kernel when a `crash_at` fault is armed). Off, a crash point
    /// writes no effect, so runs without `crash_at` are unchanged.
    pub fn with_crash_points(mut self, on: bool) -> Self {
        self.crash_points = on;
        self
    }

    /// True when crash points are listened to. A process may do extra
    /// work only then (e.g. sync early so a point sits after a write),
    /// which keeps its effects unchanged when nobody listens.
    #[inline]
    pub fn crash_points_enabled(&self) -> bool {
        self.crash_points
    }

    /// Report a protocol event where the kernel may crash this node. If
    /// it does, the effects written after this call are lost; the handler
    /// still returns normally (the process never learns of its crash).
    #[inline]
    pub fn crash_point(&mut self, point: CrashPoint) {
        self.crash_point_nth(point, 0);
    }

    /// [`Context::crash_point`] for the `nth` report of `point` about one
    /// thing (for `AckReceived`: the nth follower to hold an index), so a
    /// `crash_at` rule with `k` can crash at exactly the k-th.
    #[inline]
    pub fn crash_point_nth(&mut self, point: CrashPoint, nth: u32) {
        if self.crash_points {
            self.effects.push(Effect::CrashPoint(point, nth));
        }
    }

    /// This node's address.
    #[inline]
    pub fn id(&self) -> NodeId {
        self.id
    }

    /// The node's local clock (virtual time as skewed for this node).
    #[inline]
    pub fn now(&self) -> SimTime {
        self.now
    }

    /// The node's own random stream.
    #[inline]
    pub fn rng(&mut self) -> &mut SimRng {
        self.rng
    }

    /// Send `msg` to `to`.
    #[inline]
    pub fn send(&mut self, to: NodeId, msg: M) {
        self.effects.push(Effect::Send { to, msg });
    }

    /// Arm timer `id` to fire after `after`.
    #[inline]
    pub fn set_timer(&mut self, id: TimerId, after: SimDuration) {
        self.effects.push(Effect::SetTimer { id, after });
    }

    /// Disarm timer `id`.
    #[inline]
    pub fn cancel_timer(&mut self, id: TimerId) {
        self.effects.push(Effect::CancelTimer { id });
    }

    /// Append a durable record (needs a [`Context::sync`] to survive a crash).
    #[inline]
    pub fn persist(&mut self, record: R) {
        self.effects.push(Effect::Persist(record));
    }

    /// Replace the disk content with `records` (needs a sync).
    #[inline]
    pub fn rewrite(&mut self, records: Vec<R>) {
        self.effects.push(Effect::Rewrite(records));
    }

    /// Make all earlier writes durable before any later effect happens.
    #[inline]
    pub fn sync(&mut self) {
        self.effects.push(Effect::Sync);
    }
}

/// The role a node reports, for leadership timelines and dynamic fault
/// targets. Processes without roles report `Other`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Role {
    /// Not a cluster member with a role (clients, heartbeat nodes, agents).
    Other,
    /// A Raft follower.
    Follower,
    /// A Raft pre-candidate (pre-vote phase) or candidate.
    Candidate,
    /// A Raft leader.
    Leader,
}

/// A simulated node: a deterministic state machine driven by the kernel.
pub trait Process {
    /// The messages this node exchanges (one type per world).
    type Msg: Message;
    /// One durable record on this node's disk.
    type Record: Clone + Debug;

    /// Called once when the node boots, and again after every restart (on a
    /// fresh value built from the synced records).
    fn on_start(&mut self, ctx: &mut Context<'_, Self::Msg, Self::Record>);
    /// A message from `from` arrived.
    fn on_message(
        &mut self,
        ctx: &mut Context<'_, Self::Msg, Self::Record>,
        from: NodeId,
        msg: Self::Msg,
    );
    /// Timer `id` fired.
    fn on_timer(&mut self, ctx: &mut Context<'_, Self::Msg, Self::Record>, id: TimerId);

    /// The node's current role (for dynamic fault targets like `"leader"`).
    fn role(&self) -> Role {
        Role::Other
    }
    /// The node's current term, if it has one (for timelines and reports).
    fn term(&self) -> u64 {
        0
    }
    /// The leader this node currently follows (itself when it leads) and
    /// how far it has committed, if the process has such a notion. The
    /// kernel compares these across nodes for faults with `stable` (the
    /// Figure 16 setup waits for a settled cluster before each crash); a
    /// process that returns `None` is never considered settled.
    fn stability(&self) -> Option<(NodeId, u64)> {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `Digest::write` folds the same words as the plain definition
    /// (length, then 8-byte little-endian words, the last zero-padded) for
    /// every length around the short-string fast path: trace hashes
    /// depend on it.
    #[test]
    fn digest_write_matches_the_plain_definition() {
        let bytes: Vec<u8> = (1..=20u8).map(|b| b.wrapping_mul(37)).collect();
        for n in 0..=bytes.len() {
            let s = &bytes[..n];
            let mut reference = Digest::new();
            reference.write_u64(n as u64);
            for c in s.chunks(8) {
                let mut w = [0u8; 8];
                w[..c.len()].copy_from_slice(c);
                reference.write_u64(u64::from_le_bytes(w));
            }
            let mut d = Digest::new();
            d.write(s);
            assert_eq!(d.finish(), reference.finish(), "length {n}");
        }
    }
}
