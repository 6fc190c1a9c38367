//! Elections: pre-vote (§9.6), votes (§3.4), leader stickiness (§4.2.3),
//! losing an election, becoming leader, and the leader's check-quorum
//! step-down (§6.2).

use super::config::Bug;
use super::messages::{Entry, Msg, PreVote, PreVoteResp, Record, RequestVote, RequestVoteResp};
use super::node::{Ctx, RaftNode, RaftRole, TIMER_CHECK_QUORUM, TIMER_ELECTION, TIMER_HEARTBEAT};
use super::StateMachine;
use crate::ids::{LogIndex, NodeId, Term};
use crate::process::CrashPoint;
use crate::time::SimTime;

impl<S: StateMachine> RaftNode<S> {
    fn start_campaign(&mut self, ctx: &mut Ctx<'_, '_, S>) {
        self.votes.iter_mut().for_each(|v| *v = false);
        self.rejections.iter_mut().for_each(|v| *v = false);
        self.votes[self.id.index()] = true;
        self.vote_grants = 1;
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

    pub(super) fn become_pre_candidate(&mut self, ctx: &mut Ctx<'_, '_, S>) {
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
                Msg::PreVote(PreVote {
                    term,
                    last_log_index,
                    last_log_term,
                }),
            );
        }
    }

    pub(super) fn become_candidate(&mut self, ctx: &mut Ctx<'_, '_, S>) {
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
                Msg::RequestVote(RequestVote {
                    term,
                    last_log_index,
                    last_log_term,
                }),
            );
        }
        ctx.crash_point(CrashPoint::VoteRequested);
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
        // Nothing of the new term's leadership written or sent yet: a crash
        // here brings the node back with the log it campaigned with.
        ctx.crash_point(CrashPoint::BecameLeader);
        self.append_local(ctx, Entry::noop(self.current_term));
        self.crash_point_synced(ctx, CrashPoint::EntryAppended);
        self.broadcast_append(ctx);
    }

    pub(super) fn on_check_quorum_tick(&mut self, ctx: &mut Ctx<'_, '_, S>) {
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
        let (my_term, my_index) = (self.log.last_term(), self.log.last_index());
        if self.config.bugs.contains(Bug::UpToDateAnd) {
            // Bug: refuse only a log behind in both term and index.
            return !(my_term > last_term && my_index > last_index);
        }
        (last_term, last_index) >= (my_term, my_index)
    }

    pub(super) fn handle_pre_vote(&mut self, ctx: &mut Ctx<'_, '_, S>, from: NodeId, m: PreVote) {
        let PreVote {
            term,
            last_log_index: lli,
            last_log_term: llt,
        } = m;
        // §9.6: answer as if for a real election, but change nothing.
        let granted =
            term > self.current_term && !self.in_lease(ctx.now()) && self.log_up_to_date(lli, llt);
        let term = if granted { term } else { self.current_term };
        self.send(ctx, from, Msg::PreVoteResp(PreVoteResp { term, granted }));
    }

    pub(super) fn handle_pre_vote_resp(
        &mut self,
        ctx: &mut Ctx<'_, '_, S>,
        from: NodeId,
        m: PreVoteResp,
    ) {
        let PreVoteResp { term, granted } = m;
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

    pub(super) fn handle_request_vote(
        &mut self,
        ctx: &mut Ctx<'_, '_, S>,
        from: NodeId,
        m: RequestVote,
    ) {
        let RequestVote {
            term,
            last_log_index: lli,
            last_log_term: llt,
        } = m;
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
            if self.config.bugs.contains(Bug::TornVoteWrite) {
                self.torn_vote_grant(ctx, from);
                return;
            }
            self.persist_hard_state(ctx);
            ctx.crash_point(CrashPoint::VoteGrantedUnsynced);
            if self.role != RaftRole::Follower {
                self.role = RaftRole::Follower;
            }
            self.reset_election_timer(ctx);
            self.crash_point_synced(ctx, CrashPoint::VoteGranted);
        }
        let term = self.current_term;
        self.send(
            ctx,
            from,
            Msg::RequestVoteResp(RequestVoteResp { term, granted }),
        );
    }

    /// [`Bug::TornVoteWrite`]: the term is written (and synced) as a record
    /// of its own, the grant leaves, and only then is the vote written; a
    /// crash between the two durable writes forgets the vote.
    fn torn_vote_grant(&mut self, ctx: &mut Ctx<'_, '_, S>, from: NodeId) {
        let term = self.current_term;
        ctx.persist(Record::HardState {
            term,
            voted_for: None,
        });
        self.unsynced = true;
        self.role = RaftRole::Follower;
        self.reset_election_timer(ctx);
        let granted = true;
        self.send(
            ctx,
            from,
            Msg::RequestVoteResp(RequestVoteResp { term, granted }),
        );
        ctx.crash_point(CrashPoint::BetweenWrites);
        self.persist_hard_state(ctx);
    }

    pub(super) fn handle_request_vote_resp(
        &mut self,
        ctx: &mut Ctx<'_, '_, S>,
        from: NodeId,
        m: RequestVoteResp,
    ) {
        let RequestVoteResp { term, granted } = m;
        // Bug: a grant from an earlier campaign counts toward this one.
        let stale_grant =
            self.config.bugs.contains(Bug::StaleTermVote) && granted && term < self.current_term;
        if self.role != RaftRole::Candidate || (term != self.current_term && !stale_grant) {
            return;
        }
        if !granted {
            self.count_rejection(ctx, from);
            return;
        }
        self.votes[from.index()] = true;
        if self.config.bugs.contains(Bug::DupVoteCount) {
            // Bug: count responses, not voters; a resent grant counts twice.
            self.vote_grants += 1;
            if self.vote_grants >= self.config.quorum() {
                self.become_leader(ctx);
            }
            return;
        }
        if self.has_vote_quorum() {
            self.become_leader(ctx);
        }
    }
}
