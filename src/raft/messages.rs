//! What Raft nodes exchange and what they write to disk.

use super::{Command, CommandOutput};
use crate::ids::{LogIndex, NodeId, Term};
use crate::process::{Digest, Message};
use std::rc::Rc;

/// What a log entry carries.
#[derive(Clone, Debug, PartialEq)]
pub enum Payload<C> {
    /// The entry a new leader appends at the start of its term, so that it
    /// can commit (and learn the commit point) without waiting for a client
    /// (§6.4, needed because of the Figure 8 rule).
    Noop,
    /// A client command with its session identity (§6.3).
    Command {
        /// The client's session id (its address; one outstanding request).
        client: NodeId,
        /// The client's request sequence number within its session.
        seq: u64,
        /// The command itself.
        cmd: C,
    },
}

/// One log entry. The digest of (term, payload) is computed once when the
/// entry is created and travels with it, so checkers can compare logs in
/// O(1) per entry.
#[derive(Clone, Debug)]
pub struct Entry<C> {
    term: Term,
    payload: Payload<C>,
    digest: u64,
}

impl<C: Command> Entry<C> {
    /// A leader's start-of-term no-op.
    pub fn noop(term: Term) -> Self {
        Self::new(term, Payload::Noop)
    }

    /// A client command.
    pub fn command(term: Term, client: NodeId, seq: u64, cmd: C) -> Self {
        Self::new(term, Payload::Command { client, seq, cmd })
    }

    /// An entry with any payload.
    pub fn new(term: Term, payload: Payload<C>) -> Self {
        let mut d = Digest::new();
        d.write_u64(term.0);
        match &payload {
            Payload::Noop => d.write(&[0]),
            Payload::Command { client, seq, cmd } => {
                d.write(&[1]);
                d.write_u64(u64::from(client.0));
                d.write_u64(*seq);
                cmd.digest(&mut d);
            }
        }
        Entry {
            term,
            payload,
            digest: d.finish(),
        }
    }
}

impl<C> Entry<C> {
    /// The term in which a leader created the entry.
    #[inline]
    pub fn term(&self) -> Term {
        self.term
    }

    /// What the entry carries.
    #[inline]
    pub fn payload(&self) -> &Payload<C> {
        &self.payload
    }

    /// Stable digest of (term, payload including client id and seq).
    #[inline]
    pub fn digest(&self) -> u64 {
        self.digest
    }
}

impl<C: Command> Entry<C> {
    /// Approximate encoded size.
    pub fn size_bytes(&self) -> usize {
        match &self.payload {
            Payload::Noop => 16,
            Payload::Command { cmd, .. } => 32 + cmd.size_bytes(),
        }
    }
}

/// Identifies the log prefix a snapshot replaces.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct SnapshotMeta {
    /// The last log index the snapshot includes.
    pub last_index: LogIndex,
    /// The term of that entry.
    pub last_term: Term,
}

/// What a client is told.
#[derive(Clone, Debug, PartialEq)]
pub enum ClientResult<O> {
    /// The command was applied (exactly once) and produced this output.
    Ok(O),
    /// This server is not the leader; try `leader_hint` if known.
    NotLeader {
        /// The leader this server last heard from in its current term.
        leader_hint: Option<NodeId>,
    },
}

/// Pre-vote request (§9.6): "would you vote for me in `term`?" where
/// `term` is the sender's term + 1; nobody changes state because of it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PreVote {
    /// The term the pre-candidate would campaign in.
    pub term: Term,
    /// Index of the pre-candidate's last log entry.
    pub last_log_index: LogIndex,
    /// Term of the pre-candidate's last log entry.
    pub last_log_term: Term,
}

/// Pre-vote answer: `term` is the proposed term if granted, else the
/// receiver's current term (so a stale pre-candidate catches up).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PreVoteResp {
    /// The proposed term if granted, else the receiver's current term.
    pub term: Term,
    /// Whether the receiver would vote.
    pub granted: bool,
}

/// RequestVote RPC (§3.4).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RequestVote {
    /// The candidate's term.
    pub term: Term,
    /// Index of the candidate's last log entry.
    pub last_log_index: LogIndex,
    /// Term of the candidate's last log entry.
    pub last_log_term: Term,
}

/// RequestVote result.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RequestVoteResp {
    /// The receiver's current term.
    pub term: Term,
    /// Whether the vote was granted.
    pub granted: bool,
}

/// AppendEntries RPC (§3.5); empty `entries` is a heartbeat.
#[derive(Clone, Debug)]
pub struct AppendEntries<C> {
    /// The leader's term.
    pub term: Term,
    /// Index of the entry just before `entries`.
    pub prev_log_index: LogIndex,
    /// Term of that entry.
    pub prev_log_term: Term,
    /// Entries to store (cloned from the leader's log: they cross the
    /// network).
    pub entries: Vec<Entry<C>>,
    /// The leader's commit index.
    pub leader_commit: LogIndex,
}

/// AppendEntries result, with the fast-backtracking hints of §5.3.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AppendEntriesResp {
    /// The receiver's current term.
    pub term: Term,
    /// Whether the consistency check passed and entries were stored.
    pub success: bool,
    /// On success: the last index known to match the leader's log
    /// (prev_log_index + entries, not the follower's last index).
    pub match_index: LogIndex,
    /// On failure: the prev_log_index that was rejected (to detect
    /// stale rejections under pipelining).
    pub reject_index: LogIndex,
    /// On failure: the first index of `conflict_term` in the follower's
    /// log, or its last index + 1 if its log is too short.
    pub conflict_index: LogIndex,
    /// On failure: the follower's term at `reject_index`, if it has an
    /// entry there.
    pub conflict_term: Option<Term>,
}

/// InstallSnapshot RPC (§5.3), sent whole (no chunking: snapshots of the
/// simulated state machines are small). `data` is shared, not copied.
#[derive(Clone, Debug)]
pub struct InstallSnapshot {
    /// The leader's term.
    pub term: Term,
    /// The prefix the snapshot replaces.
    pub meta: SnapshotMeta,
    /// Encoded snapshot (see [`crate::raft::snapshot`]).
    pub data: Rc<[u8]>,
    /// Checksum of `data`; a mismatch is rejected, never applied.
    pub checksum: u64,
}

/// InstallSnapshot result.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct InstallSnapshotResp {
    /// The receiver's current term.
    pub term: Term,
    /// False if the snapshot was rejected (bad checksum or encoding).
    pub success: bool,
    /// On success: the index the follower's log now matches up to.
    pub last_index: LogIndex,
}

/// A client submits a command (reads included) to what it thinks is the
/// leader.
#[derive(Clone, Debug)]
pub struct ClientRequest<C> {
    /// The client's session id (normally its own address).
    pub client: NodeId,
    /// Sequence number; a retry reuses it and is applied at most once.
    pub seq: u64,
    /// The command.
    pub cmd: C,
}

/// The answer to a [`Msg::ClientRequest`].
#[derive(Clone, Debug)]
pub struct ClientResponse<O> {
    /// The request's sequence number.
    pub seq: u64,
    /// Output, or a redirect.
    pub result: ClientResult<O>,
}

/// The single message type of a Raft world: peer RPCs and client traffic.
/// Senders are identified by the network (`from`), so candidate and leader
/// ids are not repeated inside the messages.
///
/// One struct per variant, so handlers take one value with named fields.
#[derive(Clone, Debug)]
pub enum Msg<C, O> {
    /// See [`PreVote`].
    PreVote(PreVote),
    /// See [`PreVoteResp`].
    PreVoteResp(PreVoteResp),
    /// See [`RequestVote`].
    RequestVote(RequestVote),
    /// See [`RequestVoteResp`].
    RequestVoteResp(RequestVoteResp),
    /// See [`AppendEntries`].
    AppendEntries(AppendEntries<C>),
    /// See [`AppendEntriesResp`].
    AppendEntriesResp(AppendEntriesResp),
    /// See [`InstallSnapshot`].
    InstallSnapshot(InstallSnapshot),
    /// See [`InstallSnapshotResp`].
    InstallSnapshotResp(InstallSnapshotResp),
    /// See [`ClientRequest`].
    ClientRequest(ClientRequest<C>),
    /// See [`ClientResponse`].
    ClientResponse(ClientResponse<O>),
}

impl<C, O> Msg<C, O> {
    /// The term a peer message carries; `None` for client messages.
    pub fn term(&self) -> Option<Term> {
        match self {
            Msg::PreVote(PreVote { term, .. })
            | Msg::PreVoteResp(PreVoteResp { term, .. })
            | Msg::RequestVote(RequestVote { term, .. })
            | Msg::RequestVoteResp(RequestVoteResp { term, .. })
            | Msg::AppendEntries(AppendEntries { term, .. })
            | Msg::AppendEntriesResp(AppendEntriesResp { term, .. })
            | Msg::InstallSnapshot(InstallSnapshot { term, .. })
            | Msg::InstallSnapshotResp(InstallSnapshotResp { term, .. }) => Some(*term),
            Msg::ClientRequest(_) | Msg::ClientResponse(_) => None,
        }
    }
}

/// Every [`Message::kind`] name of [`Msg`] (what a scenario's `message`
/// fault may name), in declaration order.
pub const KINDS: [&str; 10] = [
    "pre_vote",
    "pre_vote_resp",
    "request_vote",
    "request_vote_resp",
    "append_entries",
    "append_entries_resp",
    "install_snapshot",
    "install_snapshot_resp",
    "client_request",
    "client_response",
];

impl<C: Command, O: CommandOutput> Message for Msg<C, O> {
    fn kind(&self) -> &'static str {
        match self {
            Msg::PreVote(_) => "pre_vote",
            Msg::PreVoteResp(_) => "pre_vote_resp",
            Msg::RequestVote(_) => "request_vote",
            Msg::RequestVoteResp(_) => "request_vote_resp",
            Msg::AppendEntries(_) => "append_entries",
            Msg::AppendEntriesResp(_) => "append_entries_resp",
            Msg::InstallSnapshot(_) => "install_snapshot",
            Msg::InstallSnapshotResp(_) => "install_snapshot_resp",
            Msg::ClientRequest(_) => "client_request",
            Msg::ClientResponse(_) => "client_response",
        }
    }

    fn digest(&self, d: &mut Digest) {
        // A fixed one-byte tag per variant, then the fields in order.
        match self {
            Msg::PreVote(PreVote {
                term,
                last_log_index,
                last_log_term,
            }) => {
                d.write(&[1]);
                d.write_u64(term.0);
                d.write_u64(last_log_index.0);
                d.write_u64(last_log_term.0);
            }
            Msg::PreVoteResp(PreVoteResp { term, granted }) => {
                d.write(&[2, u8::from(*granted)]);
                d.write_u64(term.0);
            }
            Msg::RequestVote(RequestVote {
                term,
                last_log_index,
                last_log_term,
            }) => {
                d.write(&[3]);
                d.write_u64(term.0);
                d.write_u64(last_log_index.0);
                d.write_u64(last_log_term.0);
            }
            Msg::RequestVoteResp(RequestVoteResp { term, granted }) => {
                d.write(&[4, u8::from(*granted)]);
                d.write_u64(term.0);
            }
            Msg::AppendEntries(AppendEntries {
                term,
                prev_log_index,
                prev_log_term,
                entries,
                leader_commit,
            }) => {
                d.write(&[5]);
                d.write_u64(term.0);
                d.write_u64(prev_log_index.0);
                d.write_u64(prev_log_term.0);
                d.write_u64(leader_commit.0);
                d.write_u64(entries.len() as u64);
                for e in entries {
                    d.write_u64(e.digest());
                }
            }
            Msg::AppendEntriesResp(AppendEntriesResp {
                term,
                success,
                match_index,
                reject_index,
                conflict_index,
                conflict_term,
            }) => {
                d.write(&[6, u8::from(*success)]);
                d.write_u64(term.0);
                d.write_u64(match_index.0);
                d.write_u64(reject_index.0);
                d.write_u64(conflict_index.0);
                d.write_u64(conflict_term.map_or(u64::MAX, |t| t.0));
            }
            Msg::InstallSnapshot(InstallSnapshot {
                term,
                meta,
                data,
                checksum,
            }) => {
                d.write(&[7]);
                d.write_u64(term.0);
                d.write_u64(meta.last_index.0);
                d.write_u64(meta.last_term.0);
                d.write_u64(data.len() as u64);
                d.write_u64(*checksum);
            }
            Msg::InstallSnapshotResp(InstallSnapshotResp {
                term,
                success,
                last_index,
            }) => {
                d.write(&[8, u8::from(*success)]);
                d.write_u64(term.0);
                d.write_u64(last_index.0);
            }
            Msg::ClientRequest(ClientRequest { client, seq, cmd }) => {
                d.write(&[9]);
                d.write_u64(u64::from(client.0));
                d.write_u64(*seq);
                cmd.digest(d);
            }
            Msg::ClientResponse(ClientResponse { seq, result }) => {
                d.write(&[10]);
                d.write_u64(*seq);
                match result {
                    ClientResult::Ok(o) => {
                        d.write(&[0]);
                        o.digest(d);
                    }
                    ClientResult::NotLeader { leader_hint } => {
                        d.write(&[1]);
                        d.write_u64(leader_hint.map_or(u64::MAX, |n| u64::from(n.0)));
                    }
                }
            }
        }
    }

    fn size_bytes(&self) -> usize {
        match self {
            Msg::AppendEntries(AppendEntries { entries, .. }) => {
                48 + entries.iter().map(Entry::size_bytes).sum::<usize>()
            }
            Msg::InstallSnapshot(InstallSnapshot { data, .. }) => 48 + data.len(),
            Msg::ClientRequest(ClientRequest { cmd, .. }) => 24 + cmd.size_bytes(),
            Msg::ClientResponse(ClientResponse {
                result: ClientResult::Ok(o),
                ..
            }) => 16 + o.size_bytes(),
            _ => 40,
        }
    }
}

/// One durable record on a Raft node's disk. Recovery replays the synced
/// records in order (see [`crate::raft::RaftNode::recover`]).
#[derive(Clone, Debug)]
pub enum Record<C> {
    /// The latest term and vote (§3.8: both must survive a crash).
    HardState {
        /// Current term.
        term: Term,
        /// Vote cast in that term.
        voted_for: Option<NodeId>,
    },
    /// Entries starting at `first`; anything at `first` or after on disk is
    /// replaced (an append that follows a conflict).
    Entries {
        /// Index of `entries[0]`.
        first: LogIndex,
        /// The entries.
        entries: Vec<Entry<C>>,
    },
    /// Drop every entry at `index` or after (a conflicting suffix).
    TruncateFrom(LogIndex),
    /// A snapshot replacing the log prefix up to `meta.last_index`.
    Snapshot {
        /// Which prefix.
        meta: SnapshotMeta,
        /// Encoded snapshot, shared with messages and memory.
        data: Rc<[u8]>,
        /// Checksum of `data`, verified on recovery.
        checksum: u64,
    },
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kv::{KvCommand, KvOutput};

    fn digest_of(m: &Msg<KvCommand, KvOutput>) -> u64 {
        let mut d = Digest::new();
        m.digest(&mut d);
        d.finish()
    }

    /// Entry and message digests are pinned: they feed trace hashes, so a
    /// change here changes every recorded golden hash.
    #[test]
    fn digests_are_stable() {
        let e = Entry::command(Term(3), NodeId(9), 4, KvCommand::Write { key: 1, value: 2 });
        assert_eq!(
            e.digest(),
            Entry::command(Term(3), NodeId(9), 4, KvCommand::Write { key: 1, value: 2 }).digest()
        );
        assert_ne!(
            e.digest(),
            Entry::command(Term(3), NodeId(9), 5, KvCommand::Write { key: 1, value: 2 }).digest()
        );
        assert_ne!(e.digest(), Entry::<KvCommand>::noop(Term(3)).digest());
        let m = Msg::<KvCommand, KvOutput>::AppendEntries(AppendEntries {
            term: Term(3),
            prev_log_index: LogIndex(7),
            prev_log_term: Term(2),
            entries: vec![e],
            leader_commit: LogIndex(6),
        });
        assert_eq!(m.kind(), "append_entries");
        assert_eq!(m.size_bytes(), 48 + 32 + 17);
        assert_eq!(format!("{:016x}", digest_of(&m)), "aea45626dbf5808e");
    }
}
