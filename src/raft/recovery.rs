//! Crash recovery: rebuilding a node from exactly the records it had synced
//! (§3.8). The initial boot is a recovery from no records.

use super::compaction::SnapshotData;
use super::config::RaftConfig;
use super::log::RaftLog;
use super::messages::Record;
use super::node::{RaftNode, RaftRole};
use super::progress::Progress;
use super::snapshot;
use super::StateMachine;
use crate::ids::{LogIndex, NodeId, Term};
use std::collections::BTreeMap;
use std::rc::Rc;

/// Why a node could not be rebuilt from its disk.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RecoverError {
    /// The configuration is unusable.
    #[error("invalid raft config: {0}")]
    InvalidConfig(String),
    /// A snapshot record's bytes do not match its checksum.
    #[error(
        "corrupt snapshot at index {index}: checksum {actual:#018x}, expected {expected:#018x}"
    )]
    CorruptSnapshot {
        /// The snapshot's last index, as the record claims.
        index: u64,
        /// Checksum stored in the record.
        expected: u64,
        /// Checksum of the bytes found.
        actual: u64,
    },
    /// A snapshot record passed its checksum but could not be decoded.
    #[error("undecodable snapshot: {0}")]
    BadSnapshot(String),
    /// The records do not describe a contiguous log or monotone terms.
    #[error("inconsistent raft disk: {0}")]
    Inconsistent(String),
}

impl<S: StateMachine + Default> RaftNode<S> {
    /// A fresh node with an empty disk (the initial boot).
    ///
    /// Panics if `config` is invalid or `id` is not a server; scenario
    /// validation rejects both before a world is built.
    pub fn new(id: NodeId, config: RaftConfig) -> Self {
        match Self::recover(id, config, &[]) {
            Ok(n) => n,
            Err(e) => panic!("RaftNode::new: {e}"),
        }
    }

    /// Rebuild a node from exactly the records it had synced (the initial
    /// boot is a recovery from no records). A snapshot whose checksum does
    /// not match is reported, never applied.
    pub fn recover(
        id: NodeId,
        config: RaftConfig,
        records: &[Record<S::Command>],
    ) -> Result<Self, RecoverError> {
        Self::recover_with(id, config, S::default(), records)
    }
}

impl<S: StateMachine> RaftNode<S> {
    /// Like [`RaftNode::recover`], with an explicit initial state machine
    /// for state machines without a meaningful `Default`.
    pub fn recover_with(
        id: NodeId,
        config: RaftConfig,
        initial: S,
        records: &[Record<S::Command>],
    ) -> Result<Self, RecoverError> {
        config.validate().map_err(RecoverError::InvalidConfig)?;
        if id.0 >= config.nodes {
            return Err(RecoverError::InvalidConfig(format!(
                "node {id} is not a server of a {}-node cluster",
                config.nodes
            )));
        }
        let n = config.nodes as usize;
        let cap = config.max_inflight_appends;
        let mut node = RaftNode {
            id,
            current_term: Term(0),
            voted_for: None,
            log: RaftLog::default(),
            role: RaftRole::Follower,
            leader: None,
            commit_index: LogIndex(0),
            last_applied: LogIndex(0),
            sm: initial,
            sessions: BTreeMap::new(),
            snapshot: None,
            last_leader_contact: None,
            votes: vec![false; n],
            vote_grants: 0,
            rejections: vec![false; n],
            progress: (0..n).map(|_| Progress::new(LogIndex(1), cap)).collect(),
            unsynced: false,
            applied_this_step: Vec::new(),
            match_scratch: Vec::with_capacity(n),
            step_floor: (LogIndex(0), Term(0)),
            config,
        };
        for rec in records {
            node.replay(rec)?;
        }
        Ok(node)
    }

    fn replay(&mut self, rec: &Record<S::Command>) -> Result<(), RecoverError> {
        match rec {
            Record::HardState { term, voted_for } => {
                if *term < self.current_term {
                    return Err(RecoverError::Inconsistent(format!(
                        "term went back from {} to {term}",
                        self.current_term
                    )));
                }
                self.current_term = *term;
                self.voted_for = *voted_for;
            }
            Record::Entries { first, entries } => {
                let mut first = *first;
                let mut skip = 0usize;
                if first <= self.log.snapshot_index() {
                    // Already covered by a snapshot (committed): skip.
                    skip = (self.log.snapshot_index().0 + 1 - first.0) as usize;
                    first = LogIndex(self.log.snapshot_index().0 + 1);
                }
                if first.0 > self.log.last_index().0 + 1 {
                    return Err(RecoverError::Inconsistent(format!(
                        "entries from {first} leave a gap after {}",
                        self.log.last_index()
                    )));
                }
                if skip < entries.len() {
                    self.log.truncate_from(first);
                    for e in &entries[skip..] {
                        self.log.push(e.clone());
                    }
                }
            }
            Record::TruncateFrom(index) => {
                if *index <= self.log.snapshot_index() {
                    return Err(RecoverError::Inconsistent(format!(
                        "truncation at {index} inside snapshot {}",
                        self.log.snapshot_index()
                    )));
                }
                self.log.truncate_from(*index);
            }
            Record::Snapshot {
                meta,
                data,
                checksum,
            } => {
                let actual = snapshot::checksum(data);
                if actual != *checksum {
                    return Err(RecoverError::CorruptSnapshot {
                        index: meta.last_index.0,
                        expected: *checksum,
                        actual,
                    });
                }
                let (inner, sm, sessions) =
                    snapshot::decode::<S>(data).map_err(RecoverError::BadSnapshot)?;
                if inner != *meta {
                    return Err(RecoverError::BadSnapshot(format!(
                        "record says {meta:?}, bytes say {inner:?}"
                    )));
                }
                self.install(
                    SnapshotData {
                        meta: *meta,
                        data: Rc::clone(data),
                        checksum: *checksum,
                    },
                    sm,
                    sessions,
                );
            }
        }
        Ok(())
    }
}
