//! Raft consensus, after Ongaro's dissertation ("Consensus: Bridging Theory
//! and Practice", 2014), as a sans-IO [`Process`](crate::process::Process).
//!
//! The node is generic over a replicated [`StateMachine`]; the KV store in
//! [`crate::kv`] is the first implementation. Everything the node does is a
//! reaction to a start, a message or a timer, written as effects into a
//! [`Context`](crate::process::Context): the kernel owns time, the network and
//! the disk.
//!
//! Codemap:
//! - [`config`]: [`RaftConfig`] and the deliberate [`Bug`]s used to prove that
//!   checkers catch violations.
//! - [`messages`]: log [`Entry`], the one wire type [`Msg`] (peer and client
//!   messages) and the durable [`Record`].
//! - [`log`]: the in-memory log with a compacted prefix.
//! - [`snapshot`]: the snapshot encoding (state machine + client sessions),
//!   its checksum, and the little-endian codec helpers state machines use.
//! - [`state_machine`]: the [`StateMachine`], [`Command`] and
//!   [`CommandOutput`] traits, the whole contract with the application.
//! - [`node`]: [`RaftNode`] (state, roles, effect helpers, message and timer
//!   dispatch). Its protocol is split by concept into private modules, each
//!   an `impl` block of `RaftNode`: `election` (pre-vote, votes, leader
//!   stickiness, check-quorum), `replication` (appends, backtracking,
//!   commit), `progress` (the leader's per-follower state), `compaction`
//!   (taking, sending and installing snapshots), `apply` (applying committed
//!   entries, client requests, `propose`) and `recovery` (rebuilding a node
//!   from its synced records, [`RecoverError`]). `RaftNode`'s fields are
//!   `pub(super)`: visible inside `raft/` only.
//!
//! Client semantics (§6.3, §6.4): only the leader accepts commands; others
//! answer [`ClientResult::NotLeader`] with a hint. Every command, reads
//! included, goes through the log, so reads are linearizable without clock
//! assumptions (leases) or a ReadIndex round, at the cost of one log entry per
//! read. Each client has one session (its `NodeId`) with one outstanding
//! request; the session table (client → last seq, last output) is updated at
//! apply time, identically on every node, and travels in snapshots, so a
//! retried `(client, seq)` is applied once and answered from the table. The
//! leader that applies an entry answers it.
//!
//! Dependencies point inward: this module uses only `ids`, `time`, `process`
//! and `rng`, never the kernel.

mod apply;
mod compaction;
pub mod config;
mod election;
pub mod log;
pub mod messages;
pub mod node;
mod progress;
mod recovery;
mod replication;
pub mod snapshot;
pub mod state_machine;

#[cfg(test)]
mod tests;

pub use config::{Bug, BugSet, RaftConfig};
pub use messages::{
    AppendEntries, AppendEntriesResp, ClientRequest, ClientResponse, ClientResult, Entry,
    InstallSnapshot, InstallSnapshotResp, Msg, Payload, PreVote, PreVoteResp, Record, RequestVote,
    RequestVoteResp, SnapshotMeta,
};
pub use node::{RaftNode, RaftRole, TIMER_CHECK_QUORUM, TIMER_ELECTION, TIMER_HEARTBEAT};
pub use recovery::RecoverError;
pub use snapshot::{ByteReader, ByteWriter};
pub use state_machine::{Command, CommandOutput, StateMachine};
