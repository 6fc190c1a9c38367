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
//!
//! The protocol is spread over sibling modules, each an `impl` block of
//! [`RaftNode`]: `election`, `replication`, `compaction`, `apply`,
//! `recovery`; per-follower state is in `progress`.

use super::compaction::SnapshotData;
use super::config::{Bug, RaftConfig};
use super::log::RaftLog;
use super::messages::{Entry, Msg, Record};
use super::progress::Progress;
use super::snapshot::Sessions;
use super::StateMachine;
use crate::ids::{LogIndex, NodeId, Term, TimerId};
use crate::process::{Context, CrashPoint, Process, Role};
use crate::time::{SimDuration, SimTime};

/// Election timer (followers, pre-candidates, candidates).
pub const TIMER_ELECTION: TimerId = TimerId(0);
/// Leader heartbeat / replication pacing timer.
pub const TIMER_HEARTBEAT: TimerId = TimerId(1);
/// Leader check-quorum timer (period: the minimum election timeout).
pub const TIMER_CHECK_QUORUM: TimerId = TimerId(2);

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

pub(super) type Ctx<'a, 'b, S> = Context<
    'a,
    Msg<<S as StateMachine>::Command, <S as StateMachine>::Output>,
    Record<<S as StateMachine>::Command>,
>;

/// One Raft server running replicated state machine `S`.
#[derive(Debug)]
pub struct RaftNode<S: StateMachine> {
    pub(super) id: NodeId,
    pub(super) config: RaftConfig,

    // Durable (§3.8): rebuilt from records on restart.
    pub(super) current_term: Term,
    pub(super) voted_for: Option<NodeId>,
    pub(super) log: RaftLog<S::Command>,

    // Volatile.
    pub(super) role: RaftRole,
    pub(super) leader: Option<NodeId>,
    pub(super) commit_index: LogIndex,
    pub(super) last_applied: LogIndex,
    pub(super) sm: S,
    pub(super) sessions: Sessions<S::Output>,
    pub(super) snapshot: Option<SnapshotData>,
    /// When this node last heard from the leader of its current term
    /// (leader stickiness, §4.2.3).
    pub(super) last_leader_contact: Option<SimTime>,
    /// Votes (or pre-votes) received in the current campaign, by node.
    pub(super) votes: Vec<bool>,
    /// Granted vote responses counted in the current campaign, one per
    /// response (only [`Bug::DupVoteCount`] decides by it).
    pub(super) vote_grants: usize,
    /// Rejections received in the current campaign, by node (for
    /// `step_down_on_lost_election`).
    pub(super) rejections: Vec<bool>,
    /// Per-follower replication state (meaningful while leader).
    pub(super) progress: Vec<Progress>,
    /// A record was written and not yet followed by a `Sync`.
    pub(super) unsynced: bool,
    /// (index, term, digest) of entries applied during the current handler.
    pub(super) applied_this_step: Vec<(LogIndex, Term, u64)>,
    /// Scratch for the commit computation (no allocation per ack).
    pub(super) match_scratch: Vec<u64>,
    /// Commit index and term at the start of the current handler (both
    /// must never go back within a node's life).
    pub(super) step_floor: (LogIndex, Term),
}

impl<S: StateMachine> RaftNode<S> {
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

    pub(super) fn send(
        &mut self,
        ctx: &mut Ctx<'_, '_, S>,
        to: NodeId,
        msg: Msg<S::Command, S::Output>,
    ) {
        if self.unsynced {
            ctx.sync();
            self.unsynced = false;
        }
        ctx.send(to, msg);
    }

    pub(super) fn flush(&mut self, ctx: &mut Ctx<'_, '_, S>) {
        if self.unsynced {
            ctx.sync();
            self.unsynced = false;
        }
    }

    /// Report a crash point that sits after the writes so far are
    /// durable: when crash points are listened to, sync first (only then,
    /// so effects are unchanged otherwise).
    pub(super) fn crash_point_synced(&mut self, ctx: &mut Ctx<'_, '_, S>, point: CrashPoint) {
        if ctx.crash_points_enabled() {
            self.flush(ctx);
            ctx.crash_point(point);
        }
    }

    pub(super) fn persist_hard_state(&mut self, ctx: &mut Ctx<'_, '_, S>) {
        ctx.persist(self.hard_state_record());
        self.unsynced = true;
    }

    pub(super) fn hard_state_record(&self) -> Record<S::Command> {
        let bugs = self.config.bugs;
        let voted_for = if bugs.contains(Bug::ForgetVote)
            || (bugs.contains(Bug::SelfVoteNotPersisted) && self.voted_for == Some(self.id))
        {
            None
        } else {
            self.voted_for
        };
        let term = if bugs.contains(Bug::ForgetTerm) {
            Term(0)
        } else {
            self.current_term
        };
        Record::HardState { term, voted_for }
    }

    pub(super) fn reset_election_timer(&mut self, ctx: &mut Ctx<'_, '_, S>) {
        let lo = self.config.election_timeout_min.as_micros();
        let hi = self.config.election_timeout_max.as_micros();
        let after = SimDuration::from_micros(ctx.rng().range_inclusive(lo, hi));
        ctx.set_timer(TIMER_ELECTION, after);
    }

    pub(super) fn peers(&self) -> impl Iterator<Item = NodeId> {
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

    pub(super) fn set_term(&mut self, term: Term) {
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

    pub(super) fn become_follower(
        &mut self,
        ctx: &mut Ctx<'_, '_, S>,
        term: Term,
        leader: Option<NodeId>,
    ) {
        if term > self.current_term {
            self.set_term(term);
            self.persist_hard_state(ctx);
        } else if self.config.bugs.contains(Bug::VoteClearedOnStepDown) && self.voted_for.is_some()
        {
            // Bug: a same-term step-down forgets whom this node voted for.
            self.voted_for = None;
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

    /// Accept `from` as the leader of the current term.
    pub(super) fn follow(&mut self, ctx: &mut Ctx<'_, '_, S>, from: NodeId) {
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
            Msg::PreVote(_) | Msg::PreVoteResp(_) | Msg::RequestVote(_)
        );
        if let Some(t) = msg.term() {
            if adopts && t > self.current_term && from.0 < self.config.nodes {
                let leader =
                    matches!(msg, Msg::AppendEntries(_) | Msg::InstallSnapshot(_)).then_some(from);
                self.become_follower(ctx, t, leader);
            }
        }
        match msg {
            Msg::PreVote(m) => self.handle_pre_vote(ctx, from, m),
            Msg::PreVoteResp(m) => self.handle_pre_vote_resp(ctx, from, m),
            Msg::RequestVote(m) => self.handle_request_vote(ctx, from, m),
            Msg::RequestVoteResp(m) => self.handle_request_vote_resp(ctx, from, m),
            Msg::AppendEntries(m) => self.handle_append_entries(ctx, from, m),
            Msg::AppendEntriesResp(m) => self.handle_append_resp(ctx, from, m),
            Msg::InstallSnapshot(m) => self.handle_install_snapshot(ctx, from, m),
            Msg::InstallSnapshotResp(m) => self.handle_install_snapshot_resp(ctx, from, m),
            Msg::ClientRequest(m) => self.handle_client_request(ctx, from, m),
            Msg::ClientResponse(_) => {}
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
