//! The contract between Raft and what it replicates: [`Command`],
//! [`CommandOutput`] and [`StateMachine`]. Raft knows nothing else about
//! the application.

use super::snapshot::{ByteReader, ByteWriter};
use crate::process::Digest;
use std::fmt::Debug;

/// A command of a replicated state machine: what clients submit and what
/// the log carries.
pub trait Command: Clone + Debug {
    /// Fold the command's identifying content into `d` (stable across
    /// machines: it feeds the trace hash and the entry digests checkers
    /// compare).
    fn digest(&self, d: &mut Digest);
    /// True if applying the command never changes the state. Reads still go
    /// through the log (linearizable); the `StaleRead` bug uses this to
    /// answer them from the leader's local state instead.
    fn is_read_only(&self) -> bool;
    /// Approximate encoded size, for network byte counters.
    fn size_bytes(&self) -> usize {
        16
    }
}

/// The result of applying a command. It is remembered in the client session
/// table (to answer retries exactly once), and that table is part of every
/// snapshot, so outputs need a compact binary encoding too.
pub trait CommandOutput: Clone + Debug + PartialEq {
    /// Fold the output into `d` (for the digest of client responses).
    fn digest(&self, d: &mut Digest);
    /// Append the little-endian encoding of `self` to `w`.
    fn encode(&self, w: &mut ByteWriter);
    /// Decode one output written by [`CommandOutput::encode`].
    fn decode(r: &mut ByteReader<'_>) -> Result<Self, String>;
    /// Approximate encoded size, for network byte counters.
    fn size_bytes(&self) -> usize {
        16
    }
}

/// A deterministic replicated state machine. Applying the same commands in
/// the same order from the same state must give the same state and outputs on
/// every node; that is the whole contract Raft relies on.
pub trait StateMachine: Debug {
    /// What the log carries.
    type Command: Command;
    /// What applying a command returns to the client.
    type Output: CommandOutput;

    /// Apply one committed command. Read-only commands must not change the
    /// state.
    fn apply(&mut self, cmd: &Self::Command) -> Self::Output;
    /// The whole state in a compact little-endian binary encoding.
    fn snapshot(&self) -> Vec<u8>;
    /// Rebuild the state from [`StateMachine::snapshot`] bytes.
    fn restore(bytes: &[u8]) -> Result<Self, String>
    where
        Self: Sized;
    /// `restored` (built by [`StateMachine::restore`]) is about to replace
    /// `self` (a snapshot is installed, or replayed at recovery): hand it
    /// what belongs to this process rather than to the replicated state
    /// and so is not in the snapshot: settings (a deliberately injected
    /// bug, say), so installing a snapshot never changes how a node
    /// applies commands, and positions its readers rely on. The default
    /// has nothing to hand over.
    fn hand_over(&self, restored: &mut Self)
    where
        Self: Sized,
    {
        let _ = restored;
    }
}
