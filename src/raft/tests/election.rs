//! Elections: votes, pre-votes, leader stickiness, check-quorum, stepping
//! down, majorities of even clusters and the election restriction (§3.4,
//! §3.6.1, §4.2.3, §6.2, §9.6).

use super::*;

/// Basic election: one timeout, a majority of votes, a no-op committed
/// everywhere (§3.4, §6.4).
#[test]
fn three_node_cluster_elects_and_commits_noop() {
    let mut c = Cluster::new(3);
    c.elect(0);
    assert_eq!(c.node(0).current_term(), Term(1));
    c.heartbeat(0);
    for i in 0..3 {
        assert_eq!(c.node(i).commit_index(), LogIndex(1), "n{i}");
        assert_eq!(c.node(i).leader_hint(), Some(N0));
        assert_eq!(c.node(i).term(), 1);
    }
    assert_eq!(c.node(0).role(), Role::Leader);
    assert_eq!(c.node(1).role(), Role::Follower);
}

/// A candidate that hears of a higher term becomes a follower of it (§3.3).
#[test]
fn candidate_steps_down_on_higher_term() {
    let mut c = Cluster::with(no_pre_vote(3));
    c.timeout(0);
    c.queue.clear();
    assert_eq!(c.node(0).raft_role(), RaftRole::Candidate);
    assert_eq!(c.node(0).current_term(), Term(1));
    // n1 campaigns twice (its first round is lost): term 2.
    c.timeout(1);
    c.queue.clear();
    c.timeout(1);
    assert_eq!(c.node(1).current_term(), Term(2));
    // n1's RequestVote(term 2) reaches n0 first.
    assert!(c.deliver_until(|c| c.node(0).current_term() == Term(2)));
    assert_eq!(c.node(0).raft_role(), RaftRole::Follower);
    assert_eq!(
        c.node(0).voted_for(),
        Some(N1),
        "logs are equal, so n0 votes for n1"
    );
    c.deliver_all();
    assert_eq!(c.node(1).raft_role(), RaftRole::Leader);
}

/// Pre-vote (§9.6): a pre-candidate asks for term + 1 without bumping its
/// own term, and receivers change nothing; a partitioned node that keeps
/// timing out therefore cannot disrupt the cluster when it returns.
#[test]
fn pre_vote_does_not_bump_term() {
    let mut c = Cluster::new(3);
    c.timeout(0);
    assert_eq!(c.node(0).raft_role(), RaftRole::PreCandidate);
    assert_eq!(c.node(0).current_term(), Term(0));
    assert!(c.deliver_until(|c| c
        .queue
        .iter()
        .any(|(_, _, m)| matches!(m, Msg::PreVoteResp(_)))));
    assert_eq!(
        c.node(1).current_term(),
        Term(0),
        "a pre-vote changes no state"
    );
    assert_eq!(c.node(1).voted_for(), None);

    let mut c = Cluster::new(3);
    c.elect(0);
    c.heartbeat(0);
    c.isolate(2);
    for _ in 0..5 {
        c.advance_ms(1_000);
        c.timeout(2);
    }
    assert_eq!(
        c.node(2).current_term(),
        Term(1),
        "isolated pre-candidate keeps its term"
    );
    c.heal();
    c.heartbeat(0);
    assert_eq!(c.node(0).raft_role(), RaftRole::Leader);
    assert_eq!(c.node(0).current_term(), Term(1));
    assert_eq!(c.node(2).raft_role(), RaftRole::Follower);

    // Without pre-vote the isolated node inflates its term.
    let mut c = Cluster::with(no_pre_vote(3));
    c.elect(0);
    c.isolate(2);
    for _ in 0..5 {
        c.timeout(2);
    }
    assert_eq!(c.node(2).current_term(), Term(6));
}

/// Check-quorum (§6.2): a leader that hears from no majority for an
/// election timeout steps down; without check-quorum it would not.
#[test]
fn check_quorum_leader_steps_down_when_isolated() {
    let mut c = Cluster::new(3);
    c.elect(0);
    c.heartbeat(0);
    c.fire(0, TIMER_CHECK_QUORUM);
    assert_eq!(
        c.node(0).raft_role(),
        RaftRole::Leader,
        "it heard from both followers"
    );
    c.isolate(0);
    c.heartbeat(0);
    c.fire(0, TIMER_CHECK_QUORUM);
    assert_eq!(c.node(0).raft_role(), RaftRole::Follower);
    assert_eq!(
        c.node(0).current_term(),
        Term(1),
        "stepping down keeps the term"
    );

    let mut c = Cluster::with(RaftConfig {
        nodes: 3,
        check_quorum: false,
        ..RaftConfig::default()
    });
    c.elect(0);
    c.isolate(0);
    c.heartbeat(0);
    assert!(!c.timers[0].contains_key(&TIMER_CHECK_QUORUM));
    assert_eq!(c.node(0).raft_role(), RaftRole::Leader);
}

/// Leader stickiness (§4.2.3): a follower that heard from its leader within
/// the minimum election timeout neither adopts the term of a RequestVote
/// nor answers it; once the leader has been silent long enough, it votes.
#[test]
fn sticky_follower_ignores_vote_request() {
    let mut c = Cluster::new(3);
    c.elect(0);
    c.heartbeat(0);
    c.queue.clear();
    let rv = Msg::RequestVote(RequestVote {
        term: Term(5),
        last_log_index: LogIndex(9),
        last_log_term: Term(4),
    });
    c.advance_ms(100);
    c.step(1, |n, ctx| n.on_message(ctx, N2, rv.clone()));
    assert_eq!(c.node(1).current_term(), Term(1));
    assert!(c.queue.is_empty(), "no answer at all");
    c.advance_ms(60);
    c.step(1, |n, ctx| n.on_message(ctx, N2, rv));
    assert_eq!(c.node(1).current_term(), Term(5));
    assert_eq!(c.node(1).voted_for(), Some(N2));
}

/// The vote is durable (§3.8): a voter that restarts still refuses a second
/// candidate in the same term.
#[test]
fn vote_survives_restart() {
    let (voted_again, term) = vote_after_restart(BugSet::NONE);
    assert!(!voted_again);
    assert_eq!(term, Term(1));
}

/// With `Bug::ForgetVote` the restarted voter grants a second vote in the
/// same term, so two leaders can be elected in term 1.
#[test]
fn forget_vote_bug_votes_twice_after_restart() {
    let (voted_again, _) = vote_after_restart(BugSet::only(Bug::ForgetVote));
    assert!(voted_again);
}

/// Transcript: n0 asks n1 for its vote in term 1 and gets it; n1 restarts;
/// n2 asks n1 for a vote in term 1. Returns whether n1 granted it.
fn vote_after_restart(bugs: BugSet) -> (bool, Term) {
    let mut c = Cluster::with(RaftConfig {
        bugs,
        ..no_pre_vote(3)
    });
    c.timeout(0);
    assert!(c.deliver_until(|c| c.node(1).voted_for() == Some(N0)));
    c.queue.clear();
    c.crash(1);
    c.restart(1).unwrap();
    assert_eq!(c.node(1).current_term(), Term(1));
    c.timeout(2);
    c.queue.retain(|(_, to, _)| *to == N1);
    c.deliver_one();
    let granted = c.queue.iter().any(|(from, to, m)| {
        *from == N1
            && *to == N2
            && matches!(
                m,
                Msg::RequestVoteResp(RequestVoteResp { granted: true, .. })
            )
    });
    (granted, c.node(1).current_term())
}

/// With `Bug::DoubleVote` a node that voted in a term votes again for
/// another candidate of the same term; without it, it refuses (§3.4).
#[test]
fn double_vote_bug_grants_second_vote() {
    for (bugs, expect) in [(BugSet::NONE, false), (BugSet::only(Bug::DoubleVote), true)] {
        let mut c = Cluster::with(RaftConfig {
            bugs,
            ..no_pre_vote(3)
        });
        c.timeout(0);
        c.timeout(2);
        c.queue
            .retain(|(from, to, _)| *to == N1 && (*from == N0 || *from == N2));
        c.deliver_one();
        c.deliver_one();
        let grants = c
            .queue
            .iter()
            .filter(|(_, _, m)| {
                matches!(
                    m,
                    Msg::RequestVoteResp(RequestVoteResp { granted: true, .. })
                )
            })
            .count();
        assert_eq!(grants == 2, expect, "bugs {bugs:?}: {grants} grants");
    }
}

/// Two candidates tie in term 1 (both time out at once, §3.4). The loser
/// hears refusals from a majority (the winner voted for itself, the third
/// node for the winner). With `step_down_on_lost_election` (etcd/raft,
/// raft-rs) it becomes a follower at once and draws a fresh timeout; with
/// the Figure 2-literal rule it stays a candidate on the timer it armed
/// when its campaign began, which is how tied candidates stay tied when
/// timers fire at exact times.
#[test]
fn candidate_steps_down_when_a_majority_rejects() {
    for step_down in [true, false] {
        let mut c = Cluster::with(RaftConfig {
            step_down_on_lost_election: step_down,
            ..no_pre_vote(3)
        });
        c.advance_ms(1_000);
        c.timeout(0);
        c.timeout(1);
        assert_eq!(c.node(1).raft_role(), RaftRole::Candidate);
        c.timers[1].clear();
        // Four vote responses: n1's two refusals arrive last.
        assert!(c.deliver_until(|c| c.delivered.get("request_vote_resp") == Some(&4)));
        assert_eq!(
            c.node(0).raft_role(),
            RaftRole::Leader,
            "n0 won with n2's vote"
        );
        let role = c.node(1).raft_role();
        let rearmed = c.timers[1].contains_key(&TIMER_ELECTION);
        if step_down {
            assert_eq!(role, RaftRole::Follower, "lost election: step down");
            assert!(rearmed, "a fresh election timeout is drawn");
            assert_eq!(c.node(1).current_term(), Term(1), "the term stays");
        } else {
            assert_eq!(role, RaftRole::Candidate, "Figure 2-literal: waits");
            assert!(!rearmed, "no fresh timeout: the campaign's timer runs on");
        }
        c.deliver_all();
        assert_eq!(c.node(1).raft_role(), RaftRole::Follower);
        assert_eq!(c.node(1).leader_hint(), Some(N0));
    }
}

/// A pre-candidate with a stale log (§9.6) is refused by both up-to-date
/// nodes; with `step_down_on_lost_election` it returns to follower with a
/// fresh timeout and its term unchanged.
#[test]
fn pre_candidate_steps_down_when_a_majority_refuses() {
    for step_down in [true, false] {
        let mut c = Cluster::with(RaftConfig {
            nodes: 3,
            step_down_on_lost_election: step_down,
            ..RaftConfig::default()
        });
        c.elect(0);
        c.isolate(2);
        c.request(0, 1, write(1, 1));
        c.deliver_all();
        c.heartbeat(0);
        c.heal();
        c.advance_ms(1_000);
        let term = c.node(2).current_term();
        c.timeout(2);
        assert_eq!(c.node(2).raft_role(), RaftRole::PreCandidate);
        c.timers[2].clear();
        let before = c.delivered.get("pre_vote_resp").copied().unwrap_or(0);
        assert!(c.deliver_until(|c| c.delivered.get("pre_vote_resp") == Some(&(before + 2))));
        let role = c.node(2).raft_role();
        if step_down {
            assert_eq!(role, RaftRole::Follower);
            assert!(c.timers[2].contains_key(&TIMER_ELECTION));
        } else {
            assert_eq!(role, RaftRole::PreCandidate);
            assert!(!c.timers[2].contains_key(&TIMER_ELECTION));
        }
        assert_eq!(c.node(2).current_term(), term, "pre-vote changes no term");
    }
}

// ----------------------------------------------------------------------
// Even cluster sizes: a majority of n is n / 2 + 1, not (n + 1) / 2.
// ----------------------------------------------------------------------

/// In a 4-node cluster a leader with only one follower reachable (2 of 4)
/// neither commits nor, after stepping down, gets elected again; with a
/// third node back it commits (§3.4, §3.6: a majority of 4 is 3).
#[test]
fn four_node_cluster_needs_three_for_a_majority() {
    even_cluster_needs_half_plus_one(4);
}

/// The same for 6 nodes: 3 of 6 is no majority, 4 is.
#[test]
fn six_node_cluster_needs_four_for_a_majority() {
    even_cluster_needs_half_plus_one(6);
}

fn even_cluster_needs_half_plus_one(n: u32) {
    let half = n as usize / 2;
    // No leases, so the deposed leader's vote counts like any other.
    let mut c = Cluster::with(RaftConfig {
        check_quorum: false,
        ..no_pre_vote(n)
    });
    c.elect(0);
    c.heartbeat(0);
    let base = c.node(0).commit_index();
    assert_eq!(base, LogIndex(1), "the no-op commits with everyone up");
    // Exactly half the cluster (n0 and half - 1 followers) stays connected.
    for i in half..n as usize {
        c.isolate(i);
    }
    c.request(0, 1, write(1, 1));
    c.deliver_all();
    c.heartbeat(0);
    assert_eq!(
        c.node(0).last_log_index(),
        LogIndex(2),
        "n{n}: the write is in the leader's log"
    );
    assert_eq!(
        c.node(0).commit_index(),
        base,
        "{n} nodes: {half} acks are not a majority"
    );
    // A candidate among the same half cannot win either.
    c.advance_ms(1_000);
    c.timeout(1);
    c.deliver_all();
    assert_ne!(
        c.node(1).raft_role(),
        RaftRole::Leader,
        "{n} nodes: {half} votes are not a majority"
    );
    // One more node back: half + 1 of n is a majority. n1 (term 2) wins
    // with it and commits its no-op, which also commits the write.
    c.heal();
    for i in half + 1..n as usize {
        c.isolate(i);
    }
    c.advance_ms(1_000);
    c.timeout(1);
    c.deliver_all();
    assert_eq!(c.node(1).raft_role(), RaftRole::Leader, "{n} nodes");
    c.heartbeat(1);
    assert_eq!(c.node(1).commit_index(), c.node(1).last_log_index());
    assert_eq!(c.node(1).state_machine().get(1), Some(1));
}

// ----------------------------------------------------------------------
// The election restriction (§3.6.1): last term first, then length.
// ----------------------------------------------------------------------

/// Three nodes where n0 holds a longer log whose last entry is from term 1
/// and n2 a shorter one ending in term 2. Returns the cluster with n1
/// isolated, n0 and n2 connected, and every lease expired.
fn longer_log_with_lower_last_term(cfg: RaftConfig) -> Cluster {
    let mut c = Cluster::with(cfg);
    c.elect(0);
    c.heartbeat(0);
    // n0 alone appends three writes (term 1): its log is 1..=4.
    c.isolate(1);
    c.isolate(2);
    for seq in 1..=3 {
        c.request(0, seq, write(1, seq as i64));
    }
    c.deliver_all();
    assert_eq!(c.node(0).last_log_index(), LogIndex(4));
    // n1 wins term 2 with n2; both hold [1: t1, 2: no-op t2].
    c.heal();
    c.isolate(0);
    c.elect(1);
    c.heartbeat(1);
    assert_eq!(c.log_of(2).len(), 2);
    assert_eq!(c.node(2).last_log_term(), Term(2));
    // n0, still leading term 1 behind its partition, restarts as a
    // follower with its log; n1 stays away so only n2 can answer n0.
    c.crash(0);
    c.restart(0).expect("n0 recovers");
    c.heal();
    c.isolate(1);
    c.advance_ms(1_000);
    c
}

/// A vote is refused to a candidate whose log is longer but whose last
/// entry has a lower term (§3.6.1: compare last terms first; only equal
/// last terms compare lengths).
#[test]
fn vote_refused_to_longer_log_with_lower_last_term() {
    let mut c = longer_log_with_lower_last_term(no_pre_vote(3));
    // n0's first campaign (term 2) is lost; its second asks for term 3,
    // in which n2 has not voted, so only the log can make n2 refuse.
    c.timeout(0);
    c.queue.clear();
    c.timeout(0);
    assert_eq!(c.node(0).current_term(), Term(3));
    assert_eq!(c.node(0).raft_role(), RaftRole::Candidate);
    assert!(c.deliver_until(|c| c
        .queue
        .iter()
        .any(|(_, to, m)| *to == N0 && matches!(m, Msg::RequestVoteResp(_)))));
    let granted = c.queue.iter().find_map(|(_, to, m)| match m {
        Msg::RequestVoteResp(RequestVoteResp { granted, .. }) if *to == N0 => Some(*granted),
        _ => None,
    });
    assert_eq!(granted, Some(false), "n2 must refuse the vote");
    assert_eq!(c.node(2).current_term(), Term(3), "n2 adopted the term");
    assert_eq!(c.node(2).voted_for(), None);
    c.deliver_all();
    assert_ne!(c.node(0).raft_role(), RaftRole::Leader);
}

/// A pre-vote is refused to a node whose log is not up to date, so it
/// never becomes a candidate (§9.6: pre-vote asks "would you vote for
/// me", log check included). n0 sits at term 2 (a lost campaign), so its
/// pre-vote for term 3 is above n2's term and outside any lease: only the
/// log check can refuse it.
#[test]
fn pre_vote_refused_to_stale_log() {
    let mut c = longer_log_with_lower_last_term(no_pre_vote(3));
    c.timeout(0);
    c.queue.clear();
    assert_eq!(c.node(0).current_term(), Term(2));
    c.cfg.pre_vote = true;
    c.crash(0);
    c.restart(0).expect("n0 recovers");
    c.advance_ms(1_000);
    c.timeout(0);
    assert_eq!(c.node(0).raft_role(), RaftRole::PreCandidate);
    assert!(c.deliver_until(|c| c
        .queue
        .iter()
        .any(|(_, to, m)| *to == N0 && matches!(m, Msg::PreVoteResp(_)))));
    let granted = c.queue.iter().find_map(|(_, to, m)| match m {
        Msg::PreVoteResp(PreVoteResp { granted, .. }) if *to == N0 => Some(*granted),
        _ => None,
    });
    assert_eq!(granted, Some(false), "n2 must refuse the pre-vote");
    c.deliver_all();
    assert_eq!(
        c.node(0).current_term(),
        Term(2),
        "no real campaign started"
    );
    assert_eq!(c.node(2).current_term(), Term(2));
    assert_eq!(c.node(2).voted_for(), Some(N1));
    assert_ne!(c.node(0).raft_role(), RaftRole::Candidate);
    assert_ne!(c.node(0).raft_role(), RaftRole::Leader);
}
