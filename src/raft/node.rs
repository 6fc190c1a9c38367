//! The Raft node: elections (with pre-vote and check-quorum), replication
//! (pipelined, with fast backtracking), commitment, application with
//! exactly-once client sessions, snapshots, and crash recovery.
//!
//! Durability discipline: every change to the term, the vote or the log is
//! written as a [`Record`] and marked unsynced; `RaftNode::send` emits a
//! `Sync` before the first message that follows an unsynced write, and every
//! handler ends with a `Sync` if anything is still unsynced. Because the
//! kernel holds back every effect after a `Sync` until the (simulated) fsync
//! completes, no vote grant, append ack or candidate vote request ever leaves
//! a node before the state it depends on is on disk (§3.8).

use super::config::{Bug, RaftConfig};
use super::log::RaftLog;
use super::messages::{ClientResult, Entry, Msg, Payload, Record, SnapshotMeta};
use super::snapshot::{self, Session, Sessions};
use super::{Command, StateMachine};
use crate::ids::{LogIndex, NodeId, Term, TimerId};
use crate::process::{Context, Process, Role};
use crate::time::{SimDuration, SimTime};
use std::collections::{BTreeMap, VecDeque};
use std::rc::Rc;

/// Election timer (followers, pre-candidates, candidates).
pub const TIMER_ELECTION: TimerId = TimerId(0);
/// Leader heartbeat / replication pacing timer.
pub const TIMER_HEARTBEAT: TimerId = TimerId(1);
/// Leader check-quorum timer (period: the minimum election timeout).
pub const TIMER_CHECK_QUORUM: TimerId = TimerId(2);

/// Heartbeat ticks without any ack before a pipelined follower falls back to
/// probing (our retransmission timeout).
const STALL_TICKS: u32 = 3;
/// Heartbeat ticks before an unanswered InstallSnapshot is sent again.
const SNAPSHOT_RETRY_TICKS: u32 = 4;

/// A Raft server's role, with the pre-vote phase made visible.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum RaftRole {
    /// Follows a leader (or waits for one).
    Follower,
    /// Asking for pre-votes without having bumped its term (§9.6).
    PreCandidate,
    /// Campaigning in its current term.
    Candidate,
    /// Leads its current term.
    Leader,
}

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

/// What the leader knows about one follower's log (§3.5, §10.2).
#[derive(Clone, Debug)]
struct Progress {
    /// Highest index known to match the leader's log.
    match_index: LogIndex,
    /// Next index to send.
    next_index: LogIndex,
    state: ProgressState,
    /// Last index carried by each outstanding pipelined append, oldest
    /// first; at most `max_inflight_appends` long.
    inflight: VecDeque<u64>,
    /// In `Probe`: a probe is outstanding (wait for its answer or a tick).
    probe_sent: bool,
    /// Heard from this follower since the last check-quorum tick.
    recent_active: bool,
    /// Heartbeat ticks without an ack while appends are outstanding (or
    /// since a snapshot was sent).
    stalled_ticks: u32,
    /// An ack moved `match_index` since the last heartbeat tick.
    acked_since_tick: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ProgressState {
    /// Finding the match point: one append at a time.
    Probe,
    /// Match point known: optimistic pipelining.
    Replicate,
    /// An InstallSnapshot is outstanding.
    Snapshot,
}

impl Progress {
    fn new(next: LogIndex, cap: usize) -> Self {
        Progress {
            match_index: LogIndex(0),
            next_index: next,
            state: ProgressState::Probe,
            inflight: VecDeque::with_capacity(cap),
            probe_sent: false,
            recent_active: false,
            stalled_ticks: 0,
            acked_since_tick: false,
        }
    }

    fn become_probe(&mut self) {
        self.state = ProgressState::Probe;
        self.next_index = LogIndex(self.match_index.0 + 1);
        self.inflight.clear();
        self.probe_sent = false;
        self.stalled_ticks = 0;
    }

    fn become_replicate(&mut self) {
        self.state = ProgressState::Replicate;
        self.next_index = LogIndex(self.match_index.0 + 1);
        self.inflight.clear();
        self.probe_sent = false;
        self.stalled_ticks = 0;
    }
}

/// The latest snapshot held in memory (to send to lagging followers).
#[derive(Clone, Debug)]
struct SnapshotData {
    meta: SnapshotMeta,
    data: Rc<[u8]>,
    checksum: u64,
}

type Ctx<'a, 'b, S> = Context<
    'a,
    Msg<<S as StateMachine>::Command, <S as StateMachine>::Output>,
    Record<<S as StateMachine>::Command>,
>;

/// One Raft server running replicated state machine `S`.
#[derive(Debug)]
pub struct RaftNode<S: StateMachine> {
    id: NodeId,
    config: RaftConfig,

    // Durable (§3.8): rebuilt from records on restart.
    current_term: Term,
    voted_for: Option<NodeId>,
    log: RaftLog<S::Command>,

    // Volatile.
    role: RaftRole,
    leader: Option<NodeId>,
    commit_index: LogIndex,
    last_applied: LogIndex,
    sm: S,
    sessions: Sessions<S::Output>,
    snapshot: Option<SnapshotData>,
    /// When this node last heard from the leader of its current term
    /// (leader stickiness, §4.2.3).
    last_leader_contact: Option<SimTime>,
    /// Votes (or pre-votes) received in the current campaign, by node.
    votes: Vec<bool>,
    /// Rejections received in the current campaign, by node (for
    /// `step_down_on_lost_election`).
    rejections: Vec<bool>,
    /// Per-follower replication state (meaningful while leader).
    progress: Vec<Progress>,
    /// A record was written and not yet followed by a `Sync`.
    unsynced: bool,
    /// (index, term, digest) of entries applied during the current handler.
    applied_this_step: Vec<(LogIndex, Term, u64)>,
    /// Scratch for the commit computation (no allocation per ack).
    match_scratch: Vec<u64>,
    /// Commit index and term at the start of the current handler (both
    /// must never go back within a node's life).
    step_floor: (LogIndex, Term),
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

    // ------------------------------------------------------------------
    // Read-only observation (for checkers and tests; never steers).
    // ------------------------------------------------------------------

    /// This node's address.
    pub fn id(&self) -> NodeId {
        self.id
    }
    /// The configuration it runs with.
    pub fn config(&self) -> &RaftConfig {
        &self.config
    }
    /// Latest term this node has seen.
    pub fn current_term(&self) -> Term {
        self.current_term
    }
    /// Candidate voted for in the current term.
    pub fn voted_for(&self) -> Option<NodeId> {
        self.voted_for
    }
    /// Role, distinguishing pre-candidates.
    pub fn raft_role(&self) -> RaftRole {
        self.role
    }
    /// The leader of the current term, if known.
    pub fn leader_hint(&self) -> Option<NodeId> {
        self.leader
    }
    /// Highest index known to be committed.
    pub fn commit_index(&self) -> LogIndex {
        self.commit_index
    }
    /// Highest index applied to the state machine.
    pub fn last_applied(&self) -> LogIndex {
        self.last_applied
    }
    /// Index of the last log entry.
    pub fn last_log_index(&self) -> LogIndex {
        self.log.last_index()
    }
    /// Term of the last log entry.
    pub fn last_log_term(&self) -> Term {
        self.log.last_term()
    }
    /// The live (uncompacted) log as (index, term, entry digest).
    pub fn log_entries(&self) -> impl Iterator<Item = (LogIndex, Term, u64)> + '_ {
        self.log.iter().map(|(i, e)| (i, e.term(), e.digest()))
    }
    /// The live entry at `index`, if any.
    pub fn entry(&self, index: LogIndex) -> Option<&Entry<S::Command>> {
        self.log.entry(index)
    }
    /// The term at `index` if known (live entries and the snapshot point).
    pub fn term_at(&self, index: LogIndex) -> Option<Term> {
        self.log.term_at(index)
    }
    /// Last index covered by the snapshot (0 if none).
    pub fn snapshot_last_index(&self) -> LogIndex {
        self.log.snapshot_index()
    }
    /// Term of that index.
    pub fn snapshot_last_term(&self) -> Term {
        self.log.snapshot_term()
    }
    /// Entries applied during the most recent handler call, in order, as
    /// (index, term, digest). A snapshot install applies a prefix at once
    /// and is visible through [`RaftNode::snapshot_last_index`] instead.
    pub fn applied_this_step(&self) -> &[(LogIndex, Term, u64)] {
        &self.applied_this_step
    }
    /// The replicated state machine.
    pub fn state_machine(&self) -> &S {
        &self.sm
    }
    /// The exactly-once session table.
    pub fn sessions(&self) -> &Sessions<S::Output> {
        &self.sessions
    }
    /// Leader only: the match index of `peer` (for tests and metrics).
    pub fn match_index(&self, peer: NodeId) -> Option<LogIndex> {
        (self.role == RaftRole::Leader).then(|| self.progress[peer.index()].match_index)
    }

    // ------------------------------------------------------------------
    // Effects helpers.
    // ------------------------------------------------------------------

    fn send(&mut self, ctx: &mut Ctx<'_, '_, S>, to: NodeId, msg: Msg<S::Command, S::Output>) {
        if self.unsynced {
            ctx.sync();
            self.unsynced = false;
        }
        ctx.send(to, msg);
    }

    fn flush(&mut self, ctx: &mut Ctx<'_, '_, S>) {
        if self.unsynced {
            ctx.sync();
            self.unsynced = false;
        }
    }

    fn persist_hard_state(&mut self, ctx: &mut Ctx<'_, '_, S>) {
        ctx.persist(self.hard_state_record());
        self.unsynced = true;
    }

    fn hard_state_record(&self) -> Record<S::Command> {
        let voted_for = if self.config.bugs.contains(Bug::ForgetVote) {
            None
        } else {
            self.voted_for
        };
        Record::HardState {
            term: self.current_term,
            voted_for,
        }
    }

    fn reset_election_timer(&mut self, ctx: &mut Ctx<'_, '_, S>) {
        let lo = self.config.election_timeout_min.as_micros();
        let hi = self.config.election_timeout_max.as_micros();
        let after = SimDuration::from_micros(ctx.rng().range_inclusive(lo, hi));
        ctx.set_timer(TIMER_ELECTION, after);
    }

    fn peers(&self) -> impl Iterator<Item = NodeId> {
        let me = self.id;
        (0..self.config.nodes).map(NodeId).filter(move |p| *p != me)
    }

    fn begin_step(&mut self) {
        self.applied_this_step.clear();
        self.step_floor = (self.commit_index, self.current_term);
    }

    fn end_step(&mut self, ctx: &mut Ctx<'_, '_, S>) {
        self.flush(ctx);
        assert!(self.commit_index <= self.log.last_index() || !self.config.bugs.is_empty());
        assert!(self.last_applied <= self.commit_index);
        assert!(self.log.snapshot_index() <= self.last_applied);
        assert!(
            self.commit_index >= self.step_floor.0,
            "commit index went back"
        );
        assert!(self.current_term >= self.step_floor.1, "term went back");
    }

    // ------------------------------------------------------------------
    // Role changes.
    // ------------------------------------------------------------------

    fn set_term(&mut self, term: Term) {
        assert!(
            term > self.current_term,
            "term must grow: {} -> {term}",
            self.current_term
        );
        self.current_term = term;
        self.voted_for = None;
        self.leader = None;
        self.last_leader_contact = None;
    }

    fn become_follower(&mut self, ctx: &mut Ctx<'_, '_, S>, term: Term, leader: Option<NodeId>) {
        if term > self.current_term {
            self.set_term(term);
            self.persist_hard_state(ctx);
        }
        if self.role == RaftRole::Leader {
            ctx.cancel_timer(TIMER_HEARTBEAT);
            ctx.cancel_timer(TIMER_CHECK_QUORUM);
        }
        self.role = RaftRole::Follower;
        self.leader = leader;
        self.reset_election_timer(ctx);
    }

    fn start_campaign(&mut self, ctx: &mut Ctx<'_, '_, S>) {
        self.votes.iter_mut().for_each(|v| *v = false);
        self.rejections.iter_mut().for_each(|v| *v = false);
        self.votes[self.id.index()] = true;
        self.leader = None;
        self.reset_election_timer(ctx);
    }

    fn has_vote_quorum(&self) -> bool {
        self.votes.iter().filter(|v| **v).count() >= self.config.quorum()
    }

    /// Count a rejection of the current campaign; once a majority has
    /// rejected it the election is lost, and (unless the Figure 2-literal
    /// rule is configured) the node steps down to follower with a fresh
    /// randomized timeout, as etcd/raft and raft-rs do. Waiting out the
    /// timeout armed at the campaign's start instead keeps candidates that
    /// tied in lockstep, since their timers were armed at the same time.
    fn count_rejection(&mut self, ctx: &mut Ctx<'_, '_, S>, from: NodeId) {
        self.rejections[from.index()] = true;
        let rejected = self.rejections.iter().filter(|r| **r).count();
        if self.config.step_down_on_lost_election && rejected >= self.config.quorum() {
            let term = self.current_term;
            self.become_follower(ctx, term, None);
        }
    }

    fn become_pre_candidate(&mut self, ctx: &mut Ctx<'_, '_, S>) {
        self.role = RaftRole::PreCandidate;
        self.start_campaign(ctx);
        if self.has_vote_quorum() {
            self.become_candidate(ctx);
            return;
        }
        let term = Term(self.current_term.0 + 1);
        let (last_log_index, last_log_term) = (self.log.last_index(), self.log.last_term());
        for p in self.peers() {
            self.send(
                ctx,
                p,
                Msg::PreVote {
                    term,
                    last_log_index,
                    last_log_term,
                },
            );
        }
    }

    fn become_candidate(&mut self, ctx: &mut Ctx<'_, '_, S>) {
        self.set_term(Term(self.current_term.0 + 1));
        self.voted_for = Some(self.id);
        self.persist_hard_state(ctx);
        self.role = RaftRole::Candidate;
        self.start_campaign(ctx);
        if self.has_vote_quorum() {
            self.become_leader(ctx);
            return;
        }
        let term = self.current_term;
        let (last_log_index, last_log_term) = (self.log.last_index(), self.log.last_term());
        for p in self.peers() {
            self.send(
                ctx,
                p,
                Msg::RequestVote {
                    term,
                    last_log_index,
                    last_log_term,
                },
            );
        }
    }

    fn become_leader(&mut self, ctx: &mut Ctx<'_, '_, S>) {
        assert_eq!(self.role, RaftRole::Candidate);
        self.role = RaftRole::Leader;
        self.leader = Some(self.id);
        let next = LogIndex(self.log.last_index().0 + 1);
        for pr in &mut self.progress {
            pr.match_index = LogIndex(0);
            pr.next_index = next;
            pr.become_probe();
            pr.next_index = next;
            pr.recent_active = false;
            pr.acked_since_tick = false;
        }
        ctx.cancel_timer(TIMER_ELECTION);
        ctx.set_timer(TIMER_HEARTBEAT, self.config.heartbeat);
        if self.config.check_quorum {
            ctx.set_timer(TIMER_CHECK_QUORUM, self.config.election_timeout_min);
        }
        // §6.4: a no-op lets the leader commit an entry of its own term.
        self.append_local(ctx, Entry::noop(self.current_term));
        self.broadcast_append(ctx);
    }

    // ------------------------------------------------------------------
    // Leader: appending and replication.
    // ------------------------------------------------------------------

    fn append_local(&mut self, ctx: &mut Ctx<'_, '_, S>, entry: Entry<S::Command>) {
        assert_eq!(self.role, RaftRole::Leader);
        assert!(entry.term() >= self.log.last_term());
        let first = LogIndex(self.log.last_index().0 + 1);
        ctx.persist(Record::Entries {
            first,
            entries: vec![entry.clone()],
        });
        self.unsynced = true;
        self.log.push(entry);
    }

    fn broadcast_append(&mut self, ctx: &mut Ctx<'_, '_, S>) {
        for p in 0..self.config.nodes {
            if p != self.id.0 {
                self.send_append(ctx, NodeId(p), false);
            }
        }
    }

    /// Send what `peer` needs next: entries (pipelined or a probe), a
    /// snapshot, or, when `heartbeat` and nothing else is due, an empty
    /// append that asserts leadership.
    fn send_append(&mut self, ctx: &mut Ctx<'_, '_, S>, peer: NodeId, heartbeat: bool) {
        let p = peer.index();
        // Bounded: at most max_inflight_appends batches per call.
        for _ in 0..self.config.max_inflight_appends {
            let pr = &self.progress[p];
            match pr.state {
                ProgressState::Snapshot => {
                    if heartbeat {
                        self.send_heartbeat(ctx, peer);
                    }
                    return;
                }
                ProgressState::Probe => {
                    if pr.probe_sent && !heartbeat {
                        return;
                    }
                }
                ProgressState::Replicate => {
                    let full = pr.inflight.len() >= self.config.max_inflight_appends;
                    if full || pr.next_index > self.log.last_index() {
                        if heartbeat {
                            self.send_heartbeat(ctx, peer);
                        }
                        return;
                    }
                }
            }
            let next = self.progress[p].next_index;
            if next <= self.log.snapshot_index() {
                self.send_snapshot(ctx, peer);
                return;
            }
            let prev = LogIndex(next.0 - 1);
            let prev_term = self
                .log
                .term_at(prev)
                .expect("prev is live or the snapshot point");
            let entries = self
                .log
                .entries_from(next, self.config.max_entries_per_append)
                .to_vec();
            let n = entries.len() as u64;
            let pr = &mut self.progress[p];
            match pr.state {
                ProgressState::Replicate => {
                    pr.inflight.push_back(prev.0 + n);
                    pr.next_index = LogIndex(prev.0 + n + 1);
                }
                _ => pr.probe_sent = true,
            }
            let msg = Msg::AppendEntries {
                term: self.current_term,
                prev_log_index: prev,
                prev_log_term: prev_term,
                entries,
                leader_commit: self.commit_index,
            };
            self.send(ctx, peer, msg);
            if self.progress[p].state != ProgressState::Replicate {
                return;
            }
        }
    }

    /// An empty append at the follower's known match point (or the snapshot
    /// point if that is compacted): it never fails on a healthy follower
    /// even when pipelined appends are reordered.
    fn send_heartbeat(&mut self, ctx: &mut Ctx<'_, '_, S>, peer: NodeId) {
        let prev = self.progress[peer.index()]
            .match_index
            .max(self.log.snapshot_index())
            .min(self.log.last_index());
        let prev_term = self
            .log
            .term_at(prev)
            .expect("prev is live or the snapshot point");
        let msg = Msg::AppendEntries {
            term: self.current_term,
            prev_log_index: prev,
            prev_log_term: prev_term,
            entries: Vec::new(),
            leader_commit: self.commit_index,
        };
        self.send(ctx, peer, msg);
    }

    fn send_snapshot(&mut self, ctx: &mut Ctx<'_, '_, S>, peer: NodeId) {
        let snap = self
            .snapshot
            .clone()
            .expect("a compacted log always has a snapshot");
        let pr = &mut self.progress[peer.index()];
        pr.state = ProgressState::Snapshot;
        pr.inflight.clear();
        pr.stalled_ticks = 0;
        let msg = Msg::InstallSnapshot {
            term: self.current_term,
            meta: snap.meta,
            data: snap.data,
            checksum: snap.checksum,
        };
        self.send(ctx, peer, msg);
    }

    fn on_heartbeat_tick(&mut self, ctx: &mut Ctx<'_, '_, S>) {
        if self.role != RaftRole::Leader {
            return;
        }
        ctx.set_timer(TIMER_HEARTBEAT, self.config.heartbeat);
        // A one-node cluster commits here, after its appends were synced by
        // the previous step (see `maybe_commit`).
        self.maybe_commit(ctx);
        for p in 0..self.config.nodes {
            if p == self.id.0 {
                continue;
            }
            let pr = &mut self.progress[p as usize];
            let acked = std::mem::take(&mut pr.acked_since_tick);
            match pr.state {
                ProgressState::Replicate if !pr.inflight.is_empty() && !acked => {
                    pr.stalled_ticks += 1;
                    if pr.stalled_ticks >= STALL_TICKS {
                        // Appends were lost: resend from the match point.
                        pr.become_probe();
                    }
                }
                ProgressState::Snapshot => {
                    pr.stalled_ticks += 1;
                    if pr.stalled_ticks >= SNAPSHOT_RETRY_TICKS {
                        pr.become_probe();
                    }
                }
                _ => pr.stalled_ticks = 0,
            }
            self.send_append(ctx, NodeId(p), true);
        }
    }

    fn on_check_quorum_tick(&mut self, ctx: &mut Ctx<'_, '_, S>) {
        if self.role != RaftRole::Leader || !self.config.check_quorum {
            return;
        }
        let mut active = 1;
        for (p, pr) in self.progress.iter_mut().enumerate() {
            if p != self.id.index() && std::mem::take(&mut pr.recent_active) {
                active += 1;
            }
        }
        if active < self.config.quorum() {
            // §6.2: a leader cut off from a majority stops serving.
            let term = self.current_term;
            self.become_follower(ctx, term, None);
        } else {
            ctx.set_timer(TIMER_CHECK_QUORUM, self.config.election_timeout_min);
        }
    }

    /// Advance the commit index to the highest index stored on a majority,
    /// if that entry is from the current term (§3.6.2, Figure 8).
    fn maybe_commit(&mut self, ctx: &mut Ctx<'_, '_, S>) {
        if self.role != RaftRole::Leader {
            return;
        }
        self.match_scratch.clear();
        for (p, pr) in self.progress.iter().enumerate() {
            // The leader's own entries: every message it sent was preceded by
            // a sync, and any majority of two or more includes a follower
            // whose ack proves the leader synced that far. A one-node cluster
            // only commits from the heartbeat tick, after its sync.
            let m = if p == self.id.index() {
                self.log.last_index()
            } else {
                pr.match_index
            };
            self.match_scratch.push(m.0);
        }
        self.match_scratch.sort_unstable_by(|a, b| b.cmp(a));
        let candidate = LogIndex(self.match_scratch[self.config.quorum() - 1]);
        if candidate <= self.commit_index {
            return;
        }
        let current = self.log.term_at(candidate) == Some(self.current_term);
        if current || self.config.bugs.contains(Bug::CommitPreviousTerm) {
            self.commit_index = candidate;
            self.apply_committed(ctx);
        }
    }

    // ------------------------------------------------------------------
    // Applying committed entries.
    // ------------------------------------------------------------------

    fn apply_committed(&mut self, ctx: &mut Ctx<'_, '_, S>) {
        assert!(self.commit_index <= self.log.last_index() || !self.config.bugs.is_empty());
        while self.last_applied < self.commit_index {
            let index = LogIndex(self.last_applied.0 + 1);
            let Some(entry) = self.log.entry(index) else {
                // Only reachable with an injected bug that truncated a
                // committed entry; stop rather than apply a hole.
                break;
            };
            self.last_applied = index;
            self.applied_this_step
                .push((index, entry.term(), entry.digest()));
            let Payload::Command { client, seq, cmd } = entry.payload() else {
                continue;
            };
            let (client, seq) = (*client, *seq);
            // Exactly-once (§6.3): a request at or below the session's last
            // seq was applied before; answer the last one from the table.
            let output = match self.sessions.get(&client) {
                Some(s) if seq < s.seq => None,
                Some(s) if seq == s.seq => Some(s.output.clone()),
                _ => {
                    let out = self.sm.apply(cmd);
                    self.sessions.insert(
                        client,
                        Session {
                            seq,
                            output: out.clone(),
                        },
                    );
                    Some(out)
                }
            };
            // A command this node proposed itself (`propose`) has no one
            // to answer: the proposer reads the state machine instead.
            if let (RaftRole::Leader, Some(out), false) = (self.role, output, client == self.id) {
                let msg = Msg::ClientResponse {
                    seq,
                    result: ClientResult::Ok(out),
                };
                self.send(ctx, client, msg);
            }
        }
        self.maybe_snapshot(ctx);
    }

    fn maybe_snapshot(&mut self, ctx: &mut Ctx<'_, '_, S>) {
        let every = self.config.snapshot_every;
        if every == 0 || self.last_applied.0 - self.log.snapshot_index().0 < every {
            return;
        }
        let meta = SnapshotMeta {
            last_index: self.last_applied,
            last_term: self
                .log
                .term_at(self.last_applied)
                .expect("applied entry is live"),
        };
        let data = snapshot::encode(meta, &self.sm, &self.sessions);
        let checksum = snapshot::checksum(&data);
        self.log.compact_to(meta.last_index);
        self.snapshot = Some(SnapshotData {
            meta,
            data,
            checksum,
        });
        self.rewrite_disk(ctx);
    }

    /// Compact the disk to (hard state, snapshot, live entries), so disk use
    /// stays bounded by the snapshot interval.
    fn rewrite_disk(&mut self, ctx: &mut Ctx<'_, '_, S>) {
        let snap = self.snapshot.as_ref().expect("rewrite after a snapshot");
        let mut records = Vec::with_capacity(3);
        records.push(self.hard_state_record());
        records.push(Record::Snapshot {
            meta: snap.meta,
            data: Rc::clone(&snap.data),
            checksum: snap.checksum,
        });
        if !self.log.entries().is_empty() {
            records.push(Record::Entries {
                first: LogIndex(self.log.snapshot_index().0 + 1),
                entries: self.log.entries().to_vec(),
            });
        }
        ctx.rewrite(records);
        self.unsynced = true;
    }

    /// Replace state machine, sessions and log prefix with a snapshot.
    fn install(&mut self, snap: SnapshotData, mut sm: S, sessions: Sessions<S::Output>) {
        self.log
            .install_snapshot(snap.meta.last_index, snap.meta.last_term);
        self.sm.hand_over(&mut sm);
        self.sm = sm;
        self.sessions = sessions;
        self.commit_index = self.commit_index.max(snap.meta.last_index);
        self.last_applied = snap.meta.last_index;
        self.snapshot = Some(snap);
    }

    // ------------------------------------------------------------------
    // Message handlers.
    // ------------------------------------------------------------------

    /// Leader stickiness (§4.2.3): while this node believes a live leader
    /// exists, it disregards (pre-)vote requests. Tied to check-quorum, as
    /// in etcd: the leader side of the lease is the check-quorum step-down.
    fn in_lease(&self, now: SimTime) -> bool {
        if !self.config.check_quorum {
            return false;
        }
        match self.role {
            RaftRole::Leader => true,
            _ => {
                self.leader.is_some()
                    && self
                        .last_leader_contact
                        .is_some_and(|t| now.saturating_since(t) < self.config.election_timeout_min)
            }
        }
    }

    fn log_up_to_date(&self, last_index: LogIndex, last_term: Term) -> bool {
        (last_term, last_index) >= (self.log.last_term(), self.log.last_index())
    }

    fn handle_pre_vote(
        &mut self,
        ctx: &mut Ctx<'_, '_, S>,
        from: NodeId,
        term: Term,
        lli: LogIndex,
        llt: Term,
    ) {
        // §9.6: answer as if for a real election, but change nothing.
        let granted =
            term > self.current_term && !self.in_lease(ctx.now()) && self.log_up_to_date(lli, llt);
        let term = if granted { term } else { self.current_term };
        self.send(ctx, from, Msg::PreVoteResp { term, granted });
    }

    fn handle_pre_vote_resp(
        &mut self,
        ctx: &mut Ctx<'_, '_, S>,
        from: NodeId,
        term: Term,
        granted: bool,
    ) {
        if !granted {
            if term > self.current_term {
                self.become_follower(ctx, term, None);
            } else if self.role == RaftRole::PreCandidate && term == self.current_term {
                // A refusal carries the refuser's own term (ours, or it
                // would have turned us into its follower above).
                self.count_rejection(ctx, from);
            }
            return;
        }
        if self.role != RaftRole::PreCandidate || term.0 != self.current_term.0 + 1 {
            return;
        }
        self.votes[from.index()] = true;
        if self.has_vote_quorum() {
            self.become_candidate(ctx);
        }
    }

    fn handle_request_vote(
        &mut self,
        ctx: &mut Ctx<'_, '_, S>,
        from: NodeId,
        term: Term,
        lli: LogIndex,
        llt: Term,
    ) {
        if term > self.current_term {
            if self.in_lease(ctx.now()) {
                // Neither adopt the term nor answer: a live leader exists.
                return;
            }
            self.become_follower(ctx, term, None);
        }
        let free = match self.voted_for {
            None => true,
            Some(v) => v == from || self.config.bugs.contains(Bug::DoubleVote),
        };
        let granted = term == self.current_term
            && self.role != RaftRole::Leader
            && free
            && self.log_up_to_date(lli, llt);
        if granted {
            self.voted_for = Some(from);
            self.persist_hard_state(ctx);
            if self.role != RaftRole::Follower {
                self.role = RaftRole::Follower;
            }
            self.reset_election_timer(ctx);
        }
        let term = self.current_term;
        self.send(ctx, from, Msg::RequestVoteResp { term, granted });
    }

    fn handle_request_vote_resp(
        &mut self,
        ctx: &mut Ctx<'_, '_, S>,
        from: NodeId,
        term: Term,
        granted: bool,
    ) {
        if self.role != RaftRole::Candidate || term != self.current_term {
            return;
        }
        if !granted {
            self.count_rejection(ctx, from);
            return;
        }
        self.votes[from.index()] = true;
        if self.has_vote_quorum() {
            self.become_leader(ctx);
        }
    }

    /// Accept `from` as the leader of the current term.
    fn follow(&mut self, ctx: &mut Ctx<'_, '_, S>, from: NodeId) {
        if self.role == RaftRole::Leader {
            // Two leaders in one term: impossible unless a bug is injected,
            // in which case the checkers must see it, so keep running.
            assert!(
                !self.config.bugs.is_empty(),
                "two leaders in {}",
                self.current_term
            );
        }
        if self.role != RaftRole::Follower || self.leader != Some(from) {
            let term = self.current_term;
            self.become_follower(ctx, term, Some(from));
        } else {
            self.reset_election_timer(ctx);
        }
        self.last_leader_contact = Some(ctx.now());
    }

    #[allow(clippy::too_many_arguments)]
    fn handle_append_entries(
        &mut self,
        ctx: &mut Ctx<'_, '_, S>,
        from: NodeId,
        term: Term,
        prev_log_index: LogIndex,
        prev_log_term: Term,
        mut entries: Vec<Entry<S::Command>>,
        leader_commit: LogIndex,
    ) {
        let reject = |node: &Self, conflict_index: LogIndex, conflict_term: Option<Term>| {
            Msg::AppendEntriesResp {
                term: node.current_term,
                success: false,
                match_index: LogIndex(0),
                reject_index: prev_log_index,
                conflict_index,
                conflict_term,
            }
        };
        if term < self.current_term {
            let msg = reject(self, LogIndex(0), None);
            self.send(ctx, from, msg);
            return;
        }
        if self.role == RaftRole::Leader && !self.config.bugs.is_empty() {
            return;
        }
        self.follow(ctx, from);
        if self.config.bugs.contains(Bug::CommitPastMatch) {
            let unverified = leader_commit.min(self.log.last_index());
            if unverified > self.commit_index {
                self.commit_index = unverified;
                self.apply_committed(ctx);
            }
        }

        let mut prev = prev_log_index;
        let mut prev_term = prev_log_term;
        let snap = self.log.snapshot_index();
        if prev < snap {
            // Our prefix up to `snap` is committed, hence equal to the
            // leader's: drop what it covers.
            let covered = (snap.0 - prev.0) as usize;
            if covered >= entries.len() {
                let msg = self.append_ok(snap);
                self.send(ctx, from, msg);
                return;
            }
            entries.drain(..covered);
            prev = snap;
            prev_term = self.log.snapshot_term();
        }
        let last = self.log.last_index();
        if prev > last {
            let msg = reject(self, LogIndex(last.0 + 1), None);
            self.send(ctx, from, msg);
            return;
        }
        let ours = self
            .log
            .term_at(prev)
            .expect("prev is live or the snapshot point");
        if ours != prev_term && !self.config.bugs.contains(Bug::SkipLogCheck) {
            let first = self.log.first_index_of_term_run(prev);
            let msg = reject(self, first, Some(ours));
            self.send(ctx, from, msg);
            return;
        }

        let n = entries.len() as u64;
        // Skip the entries we already hold; the first conflicting or new one
        // starts what we store (§3.5: never truncate a matching suffix, a
        // delayed append must not undo a later one).
        let mut skip = 0usize;
        while skip < entries.len() {
            let index = LogIndex(prev.0 + 1 + skip as u64);
            match self.log.term_at(index) {
                Some(t) if t == entries[skip].term() => skip += 1,
                Some(_) if index <= self.commit_index => {
                    // A committed entry conflicts: impossible unless a bug
                    // is injected; keep ours so checkers can see the split.
                    assert!(
                        !self.config.bugs.is_empty(),
                        "conflict at committed {index}"
                    );
                    skip += 1;
                }
                _ => break,
            }
        }
        if skip < entries.len() {
            let first = LogIndex(prev.0 + 1 + skip as u64);
            if first <= self.log.last_index() {
                ctx.persist(Record::TruncateFrom(first));
                self.log.truncate_from(first);
            }
            let new: Vec<_> = entries.drain(skip..).collect();
            if self.config.bugs.is_empty() {
                assert!(
                    new[0].term() >= self.log.last_term(),
                    "log terms must not decrease"
                );
            }
            ctx.persist(Record::Entries {
                first,
                entries: new.clone(),
            });
            self.unsynced = true;
            for e in new {
                self.log.push(e);
            }
        }
        let matched = LogIndex(prev.0 + n);
        let new_commit = leader_commit.min(matched);
        if new_commit > self.commit_index {
            self.commit_index = new_commit;
            self.apply_committed(ctx);
        }
        let msg = self.append_ok(matched);
        self.send(ctx, from, msg);
    }

    fn append_ok(&self, matched: LogIndex) -> Msg<S::Command, S::Output> {
        Msg::AppendEntriesResp {
            term: self.current_term,
            success: true,
            match_index: matched,
            reject_index: LogIndex(0),
            conflict_index: LogIndex(0),
            conflict_term: None,
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn handle_append_resp(
        &mut self,
        ctx: &mut Ctx<'_, '_, S>,
        from: NodeId,
        term: Term,
        success: bool,
        match_index: LogIndex,
        reject_index: LogIndex,
        conflict_index: LogIndex,
        conflict_term: Option<Term>,
    ) {
        if self.role != RaftRole::Leader || term != self.current_term {
            return;
        }
        let last = self.log.last_index();
        let pr = &mut self.progress[from.index()];
        pr.recent_active = true;
        if success {
            if match_index > pr.match_index {
                pr.match_index = match_index;
                pr.acked_since_tick = true;
                pr.stalled_ticks = 0;
            }
            while pr.inflight.front().is_some_and(|&i| i <= match_index.0) {
                pr.inflight.pop_front();
            }
            match pr.state {
                ProgressState::Probe => pr.become_replicate(),
                ProgressState::Snapshot => pr.become_replicate(),
                ProgressState::Replicate => {
                    if pr.next_index <= pr.match_index {
                        pr.next_index = LogIndex(pr.match_index.0 + 1);
                    }
                }
            }
            assert!(
                pr.match_index <= last,
                "follower acked beyond the leader's log"
            );
            self.maybe_commit(ctx);
            if self.role == RaftRole::Leader {
                self.send_append(ctx, from, false);
            }
            return;
        }
        // A rejection. Stale ones (for an older point than we now know
        // matches, or not our current probe) are ignored.
        let stale = match pr.state {
            ProgressState::Replicate => reject_index <= pr.match_index,
            ProgressState::Probe => reject_index.0 + 1 != pr.next_index.0,
            ProgressState::Snapshot => true,
        };
        if stale {
            return;
        }
        // Fast backtracking (§5.3): jump over the whole conflicting term.
        let hinted = match conflict_term.and_then(|t| self.log.last_index_of_term(t)) {
            Some(i) => LogIndex(i.0 + 1),
            None => conflict_index,
        };
        if self.config.bugs.contains(Bug::LeaderTruncatesTail)
            && hinted > self.commit_index
            && hinted <= last
        {
            ctx.persist(Record::TruncateFrom(hinted));
            self.log.truncate_from(hinted);
        }
        let pr = &mut self.progress[from.index()];
        let next = hinted.min(reject_index).max(LogIndex(pr.match_index.0 + 1));
        pr.become_probe();
        pr.next_index = next;
        self.send_append(ctx, from, false);
    }

    fn handle_install_snapshot(
        &mut self,
        ctx: &mut Ctx<'_, '_, S>,
        from: NodeId,
        term: Term,
        meta: SnapshotMeta,
        data: Rc<[u8]>,
        checksum: u64,
    ) {
        let resp = |node: &Self, success: bool, last_index: LogIndex| Msg::InstallSnapshotResp {
            term: node.current_term,
            success,
            last_index,
        };
        if term < self.current_term {
            let msg = resp(self, false, LogIndex(0));
            self.send(ctx, from, msg);
            return;
        }
        if self.role == RaftRole::Leader && !self.config.bugs.is_empty() {
            return;
        }
        self.follow(ctx, from);
        if snapshot::checksum(&data) != checksum {
            // Corrupted in flight: never applied.
            let msg = resp(self, false, LogIndex(0));
            self.send(ctx, from, msg);
            return;
        }
        if meta.last_index <= self.commit_index {
            // We already have (and committed) all of it.
            let msg = resp(self, true, self.commit_index);
            self.send(ctx, from, msg);
            return;
        }
        let (inner, sm, sessions) = match snapshot::decode::<S>(&data) {
            Ok(x) if x.0 == meta => x,
            _ => {
                let msg = resp(self, false, LogIndex(0));
                self.send(ctx, from, msg);
                return;
            }
        };
        debug_assert_eq!(inner, meta);
        self.install(
            SnapshotData {
                meta,
                data,
                checksum,
            },
            sm,
            sessions,
        );
        self.rewrite_disk(ctx);
        let msg = resp(self, true, meta.last_index);
        self.send(ctx, from, msg);
    }

    fn handle_install_snapshot_resp(
        &mut self,
        ctx: &mut Ctx<'_, '_, S>,
        from: NodeId,
        term: Term,
        success: bool,
        last_index: LogIndex,
    ) {
        if self.role != RaftRole::Leader || term != self.current_term {
            return;
        }
        let pr = &mut self.progress[from.index()];
        pr.recent_active = true;
        if pr.state != ProgressState::Snapshot {
            return;
        }
        if success {
            if last_index > pr.match_index {
                pr.match_index = last_index;
                pr.acked_since_tick = true;
            }
            pr.become_replicate();
            self.maybe_commit(ctx);
            if self.role == RaftRole::Leader {
                self.send_append(ctx, from, false);
            }
        } else {
            // Rejected: wait for the next heartbeat tick to try again rather
            // than loop on a snapshot that keeps failing.
            pr.become_probe();
            pr.probe_sent = true;
        }
    }

    /// Leader only: append `cmd` to the log as if client `client` had sent
    /// request `seq`, without any reply message. For a process that embeds
    /// the node and proposes commands of its own (the collaboration
    /// coordinator proposes with `client` = its own id and a `seq` that
    /// grows across its terms, so the session table never mistakes a new
    /// proposal for a retry). Call it from inside one of the embedding
    /// process's handlers, with the context the node's handlers use; the
    /// appended entry is synced before any message that depends on it.
    ///
    /// Returns `Err(leader_hint)` if this node is not the leader. A `seq` at
    /// or below the session's last applied one is ignored (`Ok`), as for a
    /// client retry.
    pub fn propose(
        &mut self,
        ctx: &mut Ctx<'_, '_, S>,
        client: NodeId,
        seq: u64,
        cmd: S::Command,
    ) -> Result<(), Option<NodeId>> {
        if self.role != RaftRole::Leader {
            return Err(self.leader);
        }
        if self.sessions.get(&client).is_some_and(|s| seq <= s.seq) {
            return Ok(());
        }
        let term = self.current_term;
        self.append_local(ctx, Entry::command(term, client, seq, cmd));
        self.broadcast_append(ctx);
        self.flush(ctx);
        Ok(())
    }

    fn handle_client_request(
        &mut self,
        ctx: &mut Ctx<'_, '_, S>,
        from: NodeId,
        client: NodeId,
        seq: u64,
        cmd: S::Command,
    ) {
        if self.role != RaftRole::Leader {
            let leader_hint = self.leader;
            self.send(
                ctx,
                from,
                Msg::ClientResponse {
                    seq,
                    result: ClientResult::NotLeader { leader_hint },
                },
            );
            return;
        }
        if self.config.bugs.contains(Bug::StaleRead) && cmd.is_read_only() {
            // Bug: answer from local state, which a deposed leader may not
            // know is stale.
            let out = self.sm.apply(&cmd);
            self.send(
                ctx,
                from,
                Msg::ClientResponse {
                    seq,
                    result: ClientResult::Ok(out),
                },
            );
            return;
        }
        match self.sessions.get(&client) {
            Some(s) if seq == s.seq => {
                let out = s.output.clone();
                self.send(
                    ctx,
                    from,
                    Msg::ClientResponse {
                        seq,
                        result: ClientResult::Ok(out),
                    },
                );
                return;
            }
            // Older than the session's last request: the client has moved on.
            Some(s) if seq < s.seq => return,
            _ => {}
        }
        // Reads go through the log too: linearizable without leases or
        // ReadIndex, at the cost of a log entry per read (§6.4's simplest
        // correct option). Duplicates of an in-flight request may be
        // appended twice; the session table applies them once.
        let term = self.current_term;
        self.append_local(ctx, Entry::command(term, client, seq, cmd));
        self.broadcast_append(ctx);
    }
}

impl<S: StateMachine> Process for RaftNode<S> {
    type Msg = Msg<S::Command, S::Output>;
    type Record = Record<S::Command>;

    fn on_start(&mut self, ctx: &mut Ctx<'_, '_, S>) {
        self.begin_step();
        self.reset_election_timer(ctx);
        self.end_step(ctx);
    }

    fn on_message(&mut self, ctx: &mut Ctx<'_, '_, S>, from: NodeId, msg: Self::Msg) {
        self.begin_step();
        if msg.term().is_some() && from.0 >= self.config.nodes {
            // Peer traffic from a non-server (a confused client): ignore.
            self.end_step(ctx);
            return;
        }
        // Any RPC with a newer term turns us into a follower of it (§3.3),
        // except vote requests (leader stickiness decides) and pre-vote
        // traffic (§9.6: nobody changes term for a pre-vote).
        let adopts = !matches!(
            msg,
            Msg::PreVote { .. } | Msg::PreVoteResp { .. } | Msg::RequestVote { .. }
        );
        if let Some(t) = msg.term() {
            if adopts && t > self.current_term && from.0 < self.config.nodes {
                let leader = matches!(msg, Msg::AppendEntries { .. } | Msg::InstallSnapshot { .. })
                    .then_some(from);
                self.become_follower(ctx, t, leader);
            }
        }
        match msg {
            Msg::PreVote {
                term,
                last_log_index,
                last_log_term,
            } => self.handle_pre_vote(ctx, from, term, last_log_index, last_log_term),
            Msg::PreVoteResp { term, granted } => {
                self.handle_pre_vote_resp(ctx, from, term, granted)
            }
            Msg::RequestVote {
                term,
                last_log_index,
                last_log_term,
            } => self.handle_request_vote(ctx, from, term, last_log_index, last_log_term),
            Msg::RequestVoteResp { term, granted } => {
                self.handle_request_vote_resp(ctx, from, term, granted)
            }
            Msg::AppendEntries {
                term,
                prev_log_index,
                prev_log_term,
                entries,
                leader_commit,
            } => self.handle_append_entries(
                ctx,
                from,
                term,
                prev_log_index,
                prev_log_term,
                entries,
                leader_commit,
            ),
            Msg::AppendEntriesResp {
                term,
                success,
                match_index,
                reject_index,
                conflict_index,
                conflict_term,
            } => self.handle_append_resp(
                ctx,
                from,
                term,
                success,
                match_index,
                reject_index,
                conflict_index,
                conflict_term,
            ),
            Msg::InstallSnapshot {
                term,
                meta,
                data,
                checksum,
            } => self.handle_install_snapshot(ctx, from, term, meta, data, checksum),
            Msg::InstallSnapshotResp {
                term,
                success,
                last_index,
            } => self.handle_install_snapshot_resp(ctx, from, term, success, last_index),
            Msg::ClientRequest { client, seq, cmd } => {
                self.handle_client_request(ctx, from, client, seq, cmd)
            }
            Msg::ClientResponse { .. } => {}
        }
        self.end_step(ctx);
    }

    fn on_timer(&mut self, ctx: &mut Ctx<'_, '_, S>, id: TimerId) {
        self.begin_step();
        match id {
            TIMER_ELECTION if self.role != RaftRole::Leader => {
                if self.config.pre_vote {
                    self.become_pre_candidate(ctx);
                } else {
                    self.become_candidate(ctx);
                }
            }
            TIMER_HEARTBEAT => self.on_heartbeat_tick(ctx),
            TIMER_CHECK_QUORUM => self.on_check_quorum_tick(ctx),
            _ => {}
        }
        self.end_step(ctx);
    }

    fn role(&self) -> Role {
        match self.role {
            RaftRole::Follower => Role::Follower,
            RaftRole::PreCandidate | RaftRole::Candidate => Role::Candidate,
            RaftRole::Leader => Role::Leader,
        }
    }

    fn term(&self) -> u64 {
        self.current_term.0
    }

    fn stability(&self) -> Option<(NodeId, u64)> {
        self.leader.map(|l| (l, self.commit_index.0))
    }
}
