//! Client requests: redirects, exactly-once sessions, the stale-read bug
//! and proposals from an embedding process (§6.3, §6.4).

use super::*;

/// Only the leader accepts commands; others redirect with a hint (§6.2).
#[test]
fn follower_redirects_client_to_leader() {
    let mut c = Cluster::new(3);
    c.elect(0);
    c.heartbeat(0);
    c.request(1, 1, write(1, 1));
    c.deliver_all();
    assert_eq!(
        c.responses(),
        vec![(
            1,
            ClientResult::NotLeader {
                leader_hint: Some(N0)
            }
        )]
    );
}

/// Exactly-once semantics (§6.3): a retried request, whether it arrives
/// after it was applied or while the first copy is still in the log, is
/// applied once and answered with the original output.
#[test]
fn retried_request_is_applied_once() {
    let mut c = Cluster::new(3);
    c.elect(0);
    c.request(0, 1, write(1, 0));
    c.deliver_all();
    // A CAS from 0 to 1 only succeeds once: a second application would
    // answer CasFail(Some(1)).
    let cas = Cmd::Cas {
        key: 1,
        expected: 0,
        new: 1,
    };
    c.request(0, 2, cas);
    c.request(0, 2, cas); // duplicate while the first is uncommitted
    c.deliver_all();
    c.request(0, 2, cas); // retry after it was applied
    c.deliver_all();
    c.heartbeat(0);
    let r = c.responses();
    assert_eq!(r[0], (1, ClientResult::Ok(Out::WriteOk)));
    assert!(
        r[1..]
            .iter()
            .all(|x| *x == (2, ClientResult::Ok(Out::CasOk))),
        "{r:?}"
    );
    assert_eq!(r.len(), 4);
    for i in 0..3 {
        assert_eq!(c.node(i).state_machine().get(1), Some(1));
        assert_eq!(c.node(i).sessions()[&CLIENT].seq, 2);
    }
    // The duplicate is in the log (index 4) but was not applied twice.
    assert_eq!(c.node(0).last_log_index(), LogIndex(4));
}

/// Reads go through the log, so a deposed leader that has not yet noticed
/// cannot answer them; with `Bug::StaleRead` it answers from stale state.
#[test]
fn stale_read_bug_answers_from_deposed_leader() {
    for (bugs, expect_stale) in [(BugSet::NONE, false), (BugSet::only(Bug::StaleRead), true)] {
        let mut c = Cluster::with(RaftConfig {
            nodes: 3,
            bugs,
            ..RaftConfig::default()
        });
        c.elect(0);
        c.request(0, 1, write(1, 1));
        c.deliver_all();
        c.heartbeat(0);
        c.isolate(0);
        c.elect(1);
        c.queue.clear();
        c.client_inbox.clear();
        c.request(1, 2, write(1, 2));
        c.deliver_all();
        c.heartbeat(1);
        assert_eq!(c.responses(), vec![(2, ClientResult::Ok(Out::WriteOk))]);
        // n0 still believes it leads term 1.
        assert_eq!(c.node(0).raft_role(), RaftRole::Leader);
        c.client_inbox.clear();
        c.queue.push_back((
            CLIENT,
            N0,
            Msg::ClientRequest(ClientRequest {
                client: CLIENT,
                seq: 3,
                cmd: Cmd::Read { key: 1 },
            }),
        ));
        c.deliver_all();
        let stale = c
            .responses()
            .contains(&(3, ClientResult::Ok(Out::ReadOk(Some(1)))));
        assert_eq!(stale, expect_stale, "bugs {bugs:?}: {:?}", c.responses());
    }
}

/// `propose` is the leader's own client path (used by an embedding process
/// such as the collaboration coordinator): a follower refuses with the
/// leader hint; on the leader the command is replicated, applied once on
/// every node, and no `ClientResponse` is sent (the proposer has no inbox
/// for it); a repeated `seq` is ignored like a client retry.
#[test]
fn propose_replicates_without_reply_and_refuses_on_follower() {
    let mut c = Cluster::new(3);
    c.elect(0);
    let mut refused = None;
    c.step(1, |n, ctx| {
        refused = Some(n.propose(ctx, N1, 1, write(7, 70)))
    });
    assert_eq!(refused, Some(Err(Some(N0))));
    let mut ok = None;
    c.step(0, |n, ctx| ok = Some(n.propose(ctx, N0, 1, write(7, 70))));
    assert_eq!(ok, Some(Ok(())));
    c.deliver_all();
    c.step(0, |n, ctx| ok = Some(n.propose(ctx, N0, 1, write(7, 71))));
    assert_eq!(ok, Some(Ok(())), "a repeated seq is accepted and ignored");
    c.deliver_all();
    c.heartbeat(0);
    for i in 0..3 {
        assert_eq!(c.node(i).state_machine().get(7), Some(70), "n{i}");
    }
    assert!(c.responses().is_empty(), "no reply for a proposal");
    assert!(c.client_inbox.is_empty());
}
