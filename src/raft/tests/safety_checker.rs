//! The Raft safety checker fed broken views: each property reported as its
//! own kind.

use super::*;

/// A 3-node cluster where n0 leads term 1 and has `writes` committed.
fn leader_with_writes(writes: &[(i64, i64)]) -> Cluster {
    let mut c = Cluster::new(3);
    c.elect(0);
    for (k, &(key, value)) in writes.iter().enumerate() {
        c.request(0, k as u64 + 1, write(key, value));
    }
    c.deliver_all();
    c.heartbeat(0);
    c
}

fn properties(checker: &crate::check::raft_safety::RaftSafety) -> Vec<&'static str> {
    checker.violations().iter().map(|v| v.property).collect()
}

/// Leader Append-Only (Figure 3): the checker saw n0 lead term 1 with a
/// log ending at index 3; the same leader in the same term then shows a
/// log ending at index 2. Checker kind: `leader_append_only`.
#[test]
fn safety_checker_reports_a_leader_whose_log_shrinks_in_its_term() {
    use crate::check::raft_safety::RaftSafety;
    let long = leader_with_writes(&[(1, 1), (2, 2)]);
    let short = leader_with_writes(&[(1, 1)]);
    let mut checker = RaftSafety::new(3);
    checker.observe(long.now, long.node(0));
    checker.observe(long.now, long.node(0));
    assert!(!checker.failed(), "{:?}", checker.violations());
    checker.observe(short.now, short.node(0));
    assert_eq!(properties(&checker), ["leader_append_only"]);
    assert!(
        checker.violations()[0]
            .message
            .contains("shrank its log from index 3 to 2"),
        "{}",
        checker.violations()[0].message
    );
}

/// Leader Append-Only: the same leader, same term, same length, but the
/// last entry it held was replaced by another one. Checker kind:
/// `leader_append_only` (reported before Log Matching, which the same
/// rewrite also breaks: two entries with index 2 and term 1).
#[test]
fn safety_checker_reports_a_leader_whose_entry_is_overwritten_in_its_term() {
    use crate::check::raft_safety::RaftSafety;
    let before = leader_with_writes(&[(1, 1)]);
    let after = leader_with_writes(&[(1, 2)]);
    assert_eq!(
        before.node(0).last_log_index(),
        after.node(0).last_log_index()
    );
    let mut checker = RaftSafety::new(3);
    checker.observe(before.now, before.node(0));
    checker.observe(after.now, after.node(0));
    let props = properties(&checker);
    assert_eq!(props.first(), Some(&"leader_append_only"), "{props:?}");
    assert!(
        checker.violations()[0]
            .message
            .contains("overwrote its entry at index 2"),
        "{}",
        checker.violations()[0].message
    );
    // Control: the same leader seen twice with the same log is fine.
    let mut checker = RaftSafety::new(3);
    checker.observe(before.now, before.node(0));
    checker.observe(before.now, before.node(0));
    assert!(!checker.failed());
}

/// Two clusters that committed different entries at index 2 (a term-1
/// write vs a term-2 no-op); the checker sees n1 of the first and n2 of
/// the second, as if they were one cluster: two nodes applied different
/// entries at one index. Log Matching holds (the terms differ), so the
/// one kind reported is `state_machine_safety`.
#[test]
fn safety_checker_reports_two_nodes_applying_different_entries_at_one_index() {
    use crate::check::raft_safety::RaftSafety;
    let a = leader_with_writes(&[(1, 1)]);
    let mut b = Cluster::new(3);
    b.elect(0);
    b.heartbeat(0);
    b.elect(1);
    b.heartbeat(1);
    assert_eq!(a.node(1).commit_index(), LogIndex(2));
    assert_eq!(b.node(2).commit_index(), LogIndex(2));
    assert_ne!(
        a.node(1).entry(LogIndex(2)).map(|e| e.term()),
        b.node(2).entry(LogIndex(2)).map(|e| e.term())
    );
    let mut checker = RaftSafety::new(3);
    checker.observe(a.now, a.node(1));
    assert!(!checker.failed());
    checker.observe(b.now, b.node(2));
    let props = properties(&checker);
    assert!(
        !props.is_empty() && props.iter().all(|p| *p == "state_machine_safety"),
        "{props:?}"
    );
    assert!(checker.violations()[0]
        .message
        .starts_with("index 2: n2 has term 2"));
}

/// State Machine Safety through the apply path: the second node is seen
/// right after the handler that applied index 2, with the entry at index 2
/// different from what the first node applied there.
#[test]
fn safety_checker_reports_a_different_entry_applied_in_one_step() {
    use crate::check::raft_safety::RaftSafety;
    let a = leader_with_writes(&[(1, 1)]);
    let mut checker = RaftSafety::new(3);
    checker.observe(a.now, a.node(0));
    assert!(!checker.failed());
    let mut b = Cluster::new(3);
    b.elect(0);
    b.request(0, 1, write(1, 2));
    // Deliver until n0 applies index 2 in one handler; observe it then.
    assert!(b.deliver_until(|c| c
        .node(0)
        .applied_this_step()
        .iter()
        .any(|(i, ..)| *i == LogIndex(2))));
    // The checker already saw n0 commit up to 2 (first cluster), so its
    // commit path finds nothing new: only the apply path can report this
    // (it also reports the rewrite as Leader Append-Only / Log Matching).
    let mut fresh = RaftSafety::new(3);
    fresh.observe(b.now, b.node(0));
    assert!(!fresh.failed(), "alone, the run is fine");
    checker.observe(b.now, b.node(0));
    let props = properties(&checker);
    assert!(props.contains(&"state_machine_safety"), "{props:?}");
}

/// Election Safety (Figure 3): two clusters each elect a leader in term 1,
/// n0 in one and n1 in the other; seen as one cluster, term 1 has two
/// leaders. Checker kind: `election_safety`.
#[test]
fn safety_checker_reports_two_leaders_in_one_term() {
    use crate::check::raft_safety::RaftSafety;
    let mut a = Cluster::new(3);
    a.elect(0);
    let mut b = Cluster::new(3);
    b.elect(1);
    assert_eq!(a.node(0).current_term(), b.node(1).current_term());
    let mut checker = RaftSafety::new(3);
    checker.observe(a.now, a.node(0));
    checker.observe(b.now, b.node(1));
    assert_eq!(properties(&checker), ["election_safety"]);
    assert!(checker.violations()[0]
        .message
        .contains("two leaders in term 1: n0 and n1"));
}

/// Log Matching (Figure 3): n1 of one cluster and n2 of another hold
/// index 2 with term 1 but different commands. Checker kind:
/// `log_matching`, reported first (the same entries were also committed,
/// so State Machine Safety follows).
#[test]
fn safety_checker_reports_equal_index_and_term_with_different_entries() {
    use crate::check::raft_safety::RaftSafety;
    let a = leader_with_writes(&[(1, 1)]);
    let b = leader_with_writes(&[(1, 2)]);
    let mut checker = RaftSafety::new(3);
    checker.observe(a.now, a.node(1));
    checker.observe(b.now, b.node(2));
    let props = properties(&checker);
    assert_eq!(props.first(), Some(&"log_matching"), "{props:?}");
    assert!(checker.violations()[0]
        .message
        .starts_with("index 2 term 1: n2 holds"));
}

/// Leader Completeness (Figure 3): index 2 was committed in term 1 (a
/// write), then a leader of term 2 is seen whose log holds its own no-op
/// there instead. Checker kind: `leader_completeness`, reported first.
#[test]
fn safety_checker_reports_a_new_leader_missing_a_committed_entry() {
    use crate::check::raft_safety::RaftSafety;
    let a = leader_with_writes(&[(1, 1)]);
    let mut b = Cluster::new(3);
    b.elect(0);
    b.heartbeat(0);
    b.elect(1);
    assert_eq!(b.node(1).current_term(), Term(2));
    let mut checker = RaftSafety::new(3);
    checker.observe(a.now, a.node(0));
    assert!(!checker.failed());
    checker.observe(b.now, b.node(1));
    let props = properties(&checker);
    assert_eq!(props.first(), Some(&"leader_completeness"), "{props:?}");
    assert!(checker.violations()[0]
        .message
        .starts_with("new leader n1 (term 2)"));
}

/// The checker keeps at most 16 violations (the first ones matter; a
/// broken run must not grow memory without bound): the same two-leader
/// view seen 20 times yields exactly 16.
#[test]
fn safety_checker_keeps_the_first_sixteen_violations() {
    use crate::check::raft_safety::RaftSafety;
    let mut a = Cluster::new(3);
    a.elect(0);
    let mut b = Cluster::new(3);
    b.elect(1);
    let mut checker = RaftSafety::new(3);
    checker.observe(a.now, a.node(0));
    for _ in 0..20 {
        checker.observe(b.now, b.node(1));
    }
    assert_eq!(checker.violations().len(), 16);
    assert!(properties(&checker).iter().all(|p| *p == "election_safety"));
}
