//! Replication and commitment: the consistency check, fast backtracking,
//! the Figure 8 rule, and what each handler applies (§3.5, §3.6.2).

use super::*;

/// The consistency check (§3.5): an append whose prev entry the follower
/// lacks or holds with another term is rejected, with hints (§5.3).
#[test]
fn follower_rejects_append_with_mismatched_prev_log() {
    let mut c = Cluster::new(3);
    c.elect(0);
    c.heartbeat(0);
    let append = |prev: u64, prev_term: u64| {
        Msg::AppendEntries(AppendEntries {
            term: Term(1),
            prev_log_index: LogIndex(prev),
            prev_log_term: Term(prev_term),
            entries: vec![Entry::noop(Term(1))],
            leader_commit: LogIndex(0),
        })
    };
    // prev beyond n1's log (it has only index 1).
    c.step(1, |n, ctx| n.on_message(ctx, N0, append(5, 1)));
    // prev present but with another term.
    c.step(1, |n, ctx| n.on_message(ctx, N0, append(1, 7)));
    let resps: Vec<_> = c
        .queue
        .iter()
        .rev()
        .take(2)
        .map(|(_, _, m)| m.clone())
        .collect();
    match &resps[1] {
        Msg::AppendEntriesResp(AppendEntriesResp {
            success,
            reject_index,
            conflict_index,
            conflict_term,
            ..
        }) => {
            assert!(!success);
            assert_eq!(*reject_index, LogIndex(5));
            assert_eq!(*conflict_index, LogIndex(2), "log too short: last + 1");
            assert_eq!(*conflict_term, None);
        }
        m => panic!("expected a rejection, got {m:?}"),
    }
    match &resps[0] {
        Msg::AppendEntriesResp(AppendEntriesResp {
            success,
            conflict_index,
            conflict_term,
            ..
        }) => {
            assert!(!success);
            assert_eq!(*conflict_term, Some(Term(1)));
            assert_eq!(
                *conflict_index,
                LogIndex(1),
                "first index of the conflicting term"
            );
        }
        m => panic!("expected a rejection, got {m:?}"),
    }
    assert_eq!(
        c.node(1).last_log_index(),
        LogIndex(1),
        "nothing was appended"
    );
}

/// With `Bug::SkipLogCheck` the same mismatched append is accepted.
#[test]
fn skip_log_check_bug_accepts_mismatched_append() {
    let mut c = Cluster::with(RaftConfig {
        nodes: 3,
        bugs: BugSet::only(Bug::SkipLogCheck),
        ..RaftConfig::default()
    });
    c.elect(0);
    c.heartbeat(0);
    let msg = Msg::AppendEntries(AppendEntries {
        term: Term(1),
        prev_log_index: LogIndex(1),
        prev_log_term: Term(7),
        entries: vec![Entry::command(Term(1), CLIENT, 1, write(1, 1))],
        leader_commit: LogIndex(0),
    });
    c.step(1, |n, ctx| n.on_message(ctx, N0, msg));
    assert_eq!(c.node(1).last_log_index(), LogIndex(2));
}

/// The Figure 8 rule (§3.6.2): a leader never commits an entry of an
/// earlier term by counting replicas, only by committing one of its own
/// term after it. `Bug::CommitPreviousTerm` breaks exactly this.
#[test]
fn leader_does_not_commit_previous_term_entry_by_counting() {
    // Commit indices are volatile: the restarted leader starts from 0 and
    // may not advance it until its term-2 no-op is on a majority.
    assert_eq!(figure_8_commit_index(BugSet::NONE), LogIndex(0));
}

/// With `Bug::CommitPreviousTerm` the old-term entry is committed as soon
/// as a majority holds it (the unsafe shortcut of Figure 8).
#[test]
fn commit_previous_term_bug_commits_by_counting() {
    assert_eq!(
        figure_8_commit_index(BugSet::only(Bug::CommitPreviousTerm)),
        LogIndex(2)
    );
}

/// Transcript: n0 leads term 1 and appends index 2 alone; it restarts, wins
/// term 2 with n1's vote, and replicates index 2 (term 1) to n1 one entry
/// at a time. Returns n0's commit index at the moment n1 holds index 2 but
/// not the term-2 no-op at index 3.
fn figure_8_commit_index(bugs: BugSet) -> LogIndex {
    let mut c = Cluster::with(RaftConfig {
        nodes: 3,
        max_entries_per_append: 1,
        bugs,
        ..RaftConfig::default()
    });
    c.elect(0);
    c.heartbeat(0);
    c.isolate(0);
    c.request(0, 1, write(1, 1));
    c.heal();
    c.deliver_one();
    assert_eq!(c.node(0).last_log_index(), LogIndex(2));
    c.queue.clear();
    c.crash(0);
    c.restart(0).unwrap();
    assert_eq!(
        c.node(0).last_log_index(),
        LogIndex(2),
        "index 2 was synced"
    );
    c.isolate(2);
    c.advance_ms(1_000);
    c.timeout(0);
    assert!(c.deliver_until(|c| c.node(0).raft_role() == RaftRole::Leader));
    assert_eq!(c.node(0).current_term(), Term(2));
    assert_eq!(
        c.node(0).term_at(LogIndex(3)),
        Some(Term(2)),
        "the term-2 no-op"
    );
    assert!(c.deliver_until(|c| c.node(0).match_index(N1) == Some(LogIndex(2))));
    assert_eq!(c.node(1).last_log_index(), LogIndex(2));
    c.node(0).commit_index()
}

/// Five nodes: election, pipelined replication of many commands from a
/// client, identical logs and state everywhere (§3.5, §3.6).
#[test]
fn five_node_election_and_replication_end_to_end() {
    let mut c = Cluster::new(5);
    c.elect(3);
    for seq in 1..=200 {
        c.request(3, seq, write(seq as i64 % 17, seq as i64));
        if seq % 10 == 0 {
            c.deliver_all();
        }
    }
    c.deliver_all();
    c.heartbeat(3);
    let last = c.node(3).last_log_index();
    assert_eq!(last, LogIndex(201));
    for i in 0..5 {
        assert_eq!(c.node(i).commit_index(), last, "n{i}");
        assert_eq!(c.node(i).last_applied(), last, "n{i}");
        assert_eq!(c.log_of(i), c.log_of(3), "n{i}");
        assert_eq!(c.node(i).state_machine(), c.node(3).state_machine());
    }
    let r = c.responses();
    assert_eq!(r.len(), 200);
    assert!(r
        .iter()
        .enumerate()
        .all(|(k, (seq, res))| *seq == k as u64 + 1 && *res == ClientResult::Ok(Out::WriteOk)));
    assert_eq!(c.node(0).state_machine().get(200 % 17), Some(200));
}

/// Log conflict resolution with fast backtracking (§3.5, §5.3): a deposed
/// leader's 20 uncommitted entries are overwritten after two rejections,
/// not twenty.
#[test]
fn conflicting_suffix_is_replaced_with_fast_backtracking() {
    let mut c = Cluster::new(5);
    c.elect(0);
    for seq in 1..=5 {
        c.request(0, seq, write(1, seq as i64));
    }
    c.deliver_all();
    c.heartbeat(0);
    c.isolate(0);
    for seq in 6..=25 {
        c.request(0, seq, write(2, seq as i64));
    }
    c.deliver_all();
    assert_eq!(c.node(0).last_log_index(), LogIndex(26));
    c.elect(1);
    for seq in 26..=30 {
        c.request(1, seq, write(3, seq as i64));
    }
    c.deliver_all();
    c.heal();
    let before = c.delivered.clone();
    c.heartbeat(1);
    c.heartbeat(1);
    let rejections_to_n1 = c.delivered["append_entries_resp"] - before["append_entries_resp"];
    assert!(rejections_to_n1 < 12, "few round trips: {rejections_to_n1}");
    assert_eq!(c.node(0).raft_role(), RaftRole::Follower);
    assert_eq!(c.log_of(0), c.log_of(1));
    assert_eq!(c.node(0).commit_index(), c.node(1).commit_index());
    assert_eq!(
        c.node(0).state_machine().get(2),
        None,
        "the deposed entries never applied"
    );
}

/// A one-node cluster elects itself and commits on its heartbeat tick,
/// after its own sync.
#[test]
fn single_node_cluster_commits() {
    let mut c = Cluster::new(1);
    c.timeout(0);
    assert_eq!(c.node(0).raft_role(), RaftRole::Leader);
    c.request(0, 1, write(1, 1));
    c.deliver_all();
    assert_eq!(c.node(0).commit_index(), LogIndex(0));
    c.fire(0, TIMER_HEARTBEAT);
    assert_eq!(c.node(0).commit_index(), LogIndex(2));
    assert_eq!(c.responses(), vec![(1, ClientResult::Ok(Out::WriteOk))]);
    assert_eq!(c.node(0).applied_this_step().len(), 2);
}

/// `applied_this_step` reports exactly what one handler applied.
#[test]
fn applied_this_step_is_per_handler() {
    let mut c = Cluster::new(3);
    c.elect(0);
    c.request(0, 1, write(1, 1));
    assert!(c.deliver_until(|c| c.node(0).commit_index() == LogIndex(2)));
    let applied = c.node(0).applied_this_step().to_vec();
    assert_eq!(
        applied.len(),
        1,
        "the no-op was applied during the election"
    );
    assert_eq!(applied[0].0, LogIndex(2));
    assert_eq!(applied[0].1, Term(1));
    assert_eq!(applied[0].2, c.node(0).entry(LogIndex(2)).unwrap().digest());
    c.deliver_one();
    assert!(c.node(0).applied_this_step().is_empty());
}

/// The follower's conflict hint (fast backtracking, §5.3) never points
/// into the snapshot: a run of term 2 that began under the snapshot is
/// reported from the first live index.
#[test]
fn term_run_hint_stops_at_the_first_live_index() {
    let mut log = crate::raft::log::RaftLog::<Cmd>::default();
    for t in [1, 2, 2, 2, 2] {
        log.push(Entry::noop(Term(t)));
    }
    log.compact_to(LogIndex(3));
    assert_eq!(log.first_index_of_term_run(LogIndex(5)), LogIndex(4));
}

/// The leader numbers the acknowledgements it counts (the `ack_received`
/// crash point's ordinal, which a `crash_at` rule's `k` matches): on five
/// servers one entry's four acks are the 1st to the 4th follower to hold
/// it, so `k = 2` crashes the leader with the entry on a bare majority
/// (itself and two followers) and uncommitted news unsent (§3.6).
#[test]
fn leader_numbers_the_acks_of_an_index() {
    let mut c = Cluster::new(5);
    c.elect(0);
    c.crash_points = true;
    c.request(0, 1, write(1, 1));
    c.deliver_all();
    let acks: Vec<u32> = c
        .points
        .iter()
        .filter(|(i, p, _)| *i == 0 && *p == crate::process::CrashPoint::AckReceived)
        .map(|&(_, _, nth)| nth)
        .collect();
    assert_eq!(acks, vec![1, 2, 3, 4], "{:?}", c.points);
}

/// An ack beyond the leader's log (only a second leader of the same term,
/// a planted bug, can send one) is ignored: the leader neither panics nor
/// trusts it, and later true acks still count.
#[test]
fn ack_beyond_the_leaders_log_is_ignored() {
    let mut c = Cluster::new(3);
    c.elect(0);
    let term = c.node(0).current_term();
    let last = c.node(0).last_log_index();
    let before = c.node(0).match_index(N1);
    let ack = |match_index: u64| {
        Msg::AppendEntriesResp(AppendEntriesResp {
            term,
            success: true,
            match_index: LogIndex(match_index),
            reject_index: LogIndex(0),
            conflict_index: LogIndex(0),
            conflict_term: None,
        })
    };
    c.step(0, |n, ctx| n.on_message(ctx, N1, ack(last.0 + 50)));
    assert_eq!(
        c.node(0).match_index(N1),
        before,
        "the bogus ack was trusted"
    );
    assert!(c.node(0).commit_index() <= last);
    c.step(0, |n, ctx| n.on_message(ctx, N1, ack(last.0)));
    assert_eq!(c.node(0).match_index(N1), Some(last));
}
