//! Interaction tests: scripted transcripts against a tiny deterministic
//! harness. Messages wait in one FIFO queue until a test delivers them;
//! timers fire only when a test fires them; disks keep exactly what was
//! synced, so a crash loses what was not.

use super::*;
use crate::ids::{LogIndex, NodeId, Term, TimerId};
use crate::kv::{KvCommand, KvOutput, KvStore};
use crate::process::{Context, Effect, Message, Process, Role};
use crate::rng::SimRng;
use crate::time::{SimDuration, SimTime};
use std::collections::{BTreeMap, VecDeque};
use std::rc::Rc;

type Node = RaftNode<KvStore>;
type M = Msg<KvCommand, KvOutput>;
type R = Record<KvCommand>;

/// A write not yet made durable.
enum Write {
    Append(R),
    Rewrite(Vec<R>),
}

#[derive(Default)]
struct Disk {
    durable: Vec<R>,
    pending: Vec<Write>,
}

impl Disk {
    fn sync(&mut self) {
        for w in self.pending.drain(..) {
            match w {
                Write::Append(r) => self.durable.push(r),
                Write::Rewrite(rs) => self.durable = rs,
            }
        }
    }
}

struct Cluster {
    cfg: RaftConfig,
    nodes: Vec<Option<Node>>,
    disks: Vec<Disk>,
    rngs: Vec<SimRng>,
    timers: Vec<BTreeMap<TimerId, SimDuration>>,
    queue: VecDeque<(NodeId, NodeId, M)>,
    isolated: Vec<bool>,
    now: SimTime,
    /// Responses sent to clients (ids >= nodes), in order.
    client_inbox: Vec<(NodeId, M)>,
    /// How many messages of each kind were delivered.
    delivered: BTreeMap<&'static str, u64>,
    effects: Vec<Effect<M, R>>,
}

const N0: NodeId = NodeId(0);
const N1: NodeId = NodeId(1);
const N2: NodeId = NodeId(2);
const CLIENT: NodeId = NodeId(100);

impl Cluster {
    fn new(nodes: u32) -> Self {
        Self::with(RaftConfig {
            nodes,
            ..RaftConfig::default()
        })
    }

    fn with(cfg: RaftConfig) -> Self {
        let n = cfg.nodes as usize;
        let mut c = Cluster {
            nodes: (0..n).map(|_| None).collect(),
            disks: (0..n).map(|_| Disk::default()).collect(),
            rngs: (0..n).map(|i| SimRng::for_node(7, i as u32)).collect(),
            timers: vec![BTreeMap::new(); n],
            queue: VecDeque::new(),
            isolated: vec![false; n],
            now: SimTime::ZERO,
            client_inbox: Vec::new(),
            delivered: BTreeMap::new(),
            effects: Vec::new(),
            cfg,
        };
        for i in 0..n {
            c.restart(i).expect("empty disk recovers");
        }
        c
    }

    fn node(&self, i: usize) -> &Node {
        self.nodes[i].as_ref().expect("node is up")
    }

    /// Run one handler on node `i` and carry out its effects.
    fn step(&mut self, i: usize, f: impl FnOnce(&mut Node, &mut Context<'_, M, R>)) {
        let mut effects = std::mem::take(&mut self.effects);
        {
            let node = self.nodes[i].as_mut().expect("node is up");
            let mut ctx = Context::new(NodeId(i as u32), self.now, &mut self.rngs[i], &mut effects);
            f(node, &mut ctx);
        }
        for e in effects.drain(..) {
            match e {
                Effect::Send { to, msg } => self.enqueue(NodeId(i as u32), to, msg),
                Effect::SetTimer { id, after } => {
                    self.timers[i].insert(id, after);
                }
                Effect::CancelTimer { id } => {
                    self.timers[i].remove(&id);
                }
                Effect::Persist(r) => self.disks[i].pending.push(Write::Append(r)),
                Effect::Rewrite(rs) => self.disks[i].pending.push(Write::Rewrite(rs)),
                Effect::Sync => self.disks[i].sync(),
            }
        }
        self.effects = effects;
    }

    fn enqueue(&mut self, from: NodeId, to: NodeId, msg: M) {
        if to.0 >= self.cfg.nodes {
            self.client_inbox.push((to, msg));
            return;
        }
        let cut = |n: NodeId| n.0 < self.cfg.nodes && self.isolated[n.index()];
        if !cut(from) && !cut(to) {
            self.queue.push_back((from, to, msg));
        }
    }

    /// Deliver the oldest queued message; false if none.
    fn deliver_one(&mut self) -> bool {
        let Some((from, to, msg)) = self.queue.pop_front() else {
            return false;
        };
        if self.nodes[to.index()].is_some() {
            *self.delivered.entry(msg.kind()).or_default() += 1;
            self.step(to.index(), |n, ctx| n.on_message(ctx, from, msg));
        }
        true
    }

    /// Deliver until the network is quiet.
    fn deliver_all(&mut self) {
        for _ in 0..100_000 {
            if !self.deliver_one() {
                return;
            }
        }
        panic!("network never went quiet");
    }

    /// Deliver one message at a time until `pred` holds; false if the queue
    /// ran dry first.
    fn deliver_until(&mut self, pred: impl Fn(&Cluster) -> bool) -> bool {
        while !pred(self) {
            if !self.deliver_one() {
                return false;
            }
        }
        true
    }

    /// Fire timer `id` on node `i` (as if it had expired).
    fn fire(&mut self, i: usize, id: TimerId) {
        assert!(
            self.timers[i].contains_key(&id),
            "n{i}: timer {id:?} is not armed"
        );
        self.timers[i].remove(&id);
        self.step(i, |n, ctx| n.on_timer(ctx, id));
    }

    fn timeout(&mut self, i: usize) {
        self.fire(i, TIMER_ELECTION);
    }

    /// One heartbeat round from leader `i`, delivered until quiet.
    fn heartbeat(&mut self, i: usize) {
        self.fire(i, TIMER_HEARTBEAT);
        self.deliver_all();
    }

    fn advance_ms(&mut self, ms: u64) {
        self.now += SimDuration::from_millis(ms);
    }

    /// Let `i` time out and win; the time jump ends every leader lease.
    fn elect(&mut self, i: usize) {
        self.advance_ms(1_000);
        self.timeout(i);
        self.deliver_all();
        assert_eq!(
            self.node(i).raft_role(),
            RaftRole::Leader,
            "n{i} should have won"
        );
    }

    fn isolate(&mut self, i: usize) {
        self.isolated[i] = true;
        self.queue
            .retain(|(f, t, _)| f.index() != i && t.index() != i);
    }

    fn heal(&mut self) {
        self.isolated.iter_mut().for_each(|x| *x = false);
    }

    /// Crash `i`: memory, timers, unsynced writes and its inbound messages
    /// are gone.
    fn crash(&mut self, i: usize) {
        self.nodes[i] = None;
        self.timers[i].clear();
        self.disks[i].pending.clear();
        self.queue.retain(|(_, t, _)| t.index() != i);
    }

    fn restart(&mut self, i: usize) -> Result<(), RecoverError> {
        let node = Node::recover(NodeId(i as u32), self.cfg.clone(), &self.disks[i].durable)?;
        self.nodes[i] = Some(node);
        self.step(i, |n, ctx| n.on_start(ctx));
        Ok(())
    }

    fn request(&mut self, to: usize, seq: u64, cmd: KvCommand) {
        self.queue.push_back((
            CLIENT,
            NodeId(to as u32),
            Msg::ClientRequest(ClientRequest {
                client: CLIENT,
                seq,
                cmd,
            }),
        ));
    }

    /// Client responses received so far, as (seq, result).
    fn responses(&self) -> Vec<(u64, ClientResult<KvOutput>)> {
        self.client_inbox
            .iter()
            .filter_map(|(_, m)| match m {
                Msg::ClientResponse(ClientResponse { seq, result }) => Some((*seq, result.clone())),
                _ => None,
            })
            .collect()
    }

    fn log_of(&self, i: usize) -> Vec<(LogIndex, Term, u64)> {
        self.node(i).log_entries().collect()
    }
}

fn no_pre_vote(nodes: u32) -> RaftConfig {
    RaftConfig {
        nodes,
        pre_vote: false,
        ..RaftConfig::default()
    }
}

fn write(key: i64, value: i64) -> KvCommand {
    KvCommand::Write { key, value }
}

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
    let cas = KvCommand::Cas {
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
    assert_eq!(r[0], (1, ClientResult::Ok(KvOutput::WriteOk)));
    assert!(
        r[1..]
            .iter()
            .all(|x| *x == (2, ClientResult::Ok(KvOutput::CasOk))),
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
        assert_eq!(
            c.responses(),
            vec![(2, ClientResult::Ok(KvOutput::WriteOk))]
        );
        // n0 still believes it leads term 1.
        assert_eq!(c.node(0).raft_role(), RaftRole::Leader);
        c.client_inbox.clear();
        c.queue.push_back((
            CLIENT,
            N0,
            Msg::ClientRequest(ClientRequest {
                client: CLIENT,
                seq: 3,
                cmd: KvCommand::Read { key: 1 },
            }),
        ));
        c.deliver_all();
        let stale = c
            .responses()
            .contains(&(3, ClientResult::Ok(KvOutput::ReadOk(Some(1)))));
        assert_eq!(stale, expect_stale, "bugs {bugs:?}: {:?}", c.responses());
    }
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
    assert!(
        r.iter()
            .enumerate()
            .all(|(k, (seq, res))| *seq == k as u64 + 1
                && *res == ClientResult::Ok(KvOutput::WriteOk))
    );
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

fn snapshot_config(nodes: u32) -> RaftConfig {
    RaftConfig {
        nodes,
        snapshot_every: 5,
        ..RaftConfig::default()
    }
}

/// Build a 3-node cluster where n2 was isolated while the others applied
/// and compacted 20 writes (§5.1).
fn cluster_with_lagging_follower() -> Cluster {
    let mut c = Cluster::with(snapshot_config(3));
    c.elect(0);
    c.heartbeat(0);
    c.isolate(2);
    for seq in 1..=20 {
        c.request(0, seq, write(seq as i64, seq as i64 * 10));
        c.deliver_all();
    }
    c.heartbeat(0);
    assert!(c.node(0).snapshot_last_index() >= LogIndex(15));
    assert!(c.node(1).snapshot_last_index() >= LogIndex(15));
    assert_eq!(c.node(2).last_log_index(), LogIndex(1));
    c
}

/// A follower behind the compacted prefix catches up by InstallSnapshot
/// and then by appends (§5.3); it can restart from its compacted disk.
#[test]
fn lagging_follower_catches_up_by_install_snapshot() {
    let mut c = cluster_with_lagging_follower();
    c.heal();
    c.heartbeat(0);
    c.heartbeat(0);
    assert_eq!(c.delivered.get("install_snapshot"), Some(&1));
    assert!(c.node(2).snapshot_last_index() >= LogIndex(15));
    assert_eq!(c.node(2).commit_index(), c.node(0).commit_index());
    assert_eq!(c.node(2).state_machine(), c.node(0).state_machine());
    assert_eq!(
        c.node(2).sessions(),
        c.node(0).sessions(),
        "sessions travel in snapshots"
    );
    assert_eq!(c.log_of(2), c.log_of(0));
    // Disks stay compact: one rewrite holds hard state, snapshot, entries.
    assert!(
        c.disks[0].durable.len() <= 3 + 5,
        "{}",
        c.disks[0].durable.len()
    );
    let state = c.node(2).state_machine().clone();
    c.crash(2);
    c.restart(2).unwrap();
    assert_eq!(c.node(2).last_log_index(), c.node(0).last_log_index());
    assert_eq!(c.node(2).last_applied(), c.node(2).snapshot_last_index());
    c.heartbeat(0);
    assert_eq!(c.node(2).state_machine(), &state);
}

/// A snapshot whose bytes do not match its checksum is never applied: on
/// recovery it is an error, and over the network it is rejected.
#[test]
fn corrupt_snapshot_is_rejected_on_recover_and_install() {
    let mut c = cluster_with_lagging_follower();
    // On recovery.
    let mut records = c.disks[1].durable.clone();
    let mut corrupted = false;
    for r in &mut records {
        if let Record::Snapshot { data, .. } = r {
            let mut bytes = data.to_vec();
            let last = bytes.len() - 1;
            bytes[last] ^= 0x40;
            *data = Rc::from(bytes);
            corrupted = true;
        }
    }
    assert!(corrupted);
    let err = Node::recover(N1, c.cfg.clone(), &records).unwrap_err();
    assert!(matches!(err, RecoverError::CorruptSnapshot { .. }), "{err}");

    // In flight.
    c.heal();
    c.fire(0, TIMER_HEARTBEAT);
    assert!(c.deliver_until(|c| c
        .queue
        .iter()
        .any(|(_, _, m)| matches!(m, Msg::InstallSnapshot(_)))));
    for (_, _, m) in c.queue.iter_mut() {
        if let Msg::InstallSnapshot(InstallSnapshot { data, .. }) = m {
            let mut bytes = data.to_vec();
            bytes[10] ^= 1;
            *data = Rc::from(bytes);
        }
    }
    assert!(c.deliver_until(|c| c
        .queue
        .iter()
        .any(|(_, _, m)| matches!(m, Msg::InstallSnapshotResp(_)))));
    assert!(c.queue.iter().any(|(_, _, m)| matches!(
        m,
        Msg::InstallSnapshotResp(InstallSnapshotResp { success: false, .. })
    )));
    assert_eq!(c.node(2).snapshot_last_index(), LogIndex(0));
    assert!(c.node(2).state_machine().is_empty());
    // The leader retries later with good bytes.
    for _ in 0..6 {
        c.heartbeat(0);
    }
    assert_eq!(c.node(2).state_machine(), c.node(0).state_machine());
}

/// Crash and recovery: a restarted follower rebuilds its log from synced
/// records, re-applies after learning the commit index, and the cluster
/// keeps going (§3.8).
#[test]
fn restarted_follower_recovers_log_and_state() {
    let mut c = Cluster::new(3);
    c.elect(0);
    for seq in 1..=10 {
        c.request(0, seq, write(seq as i64, 1));
    }
    c.deliver_all();
    c.heartbeat(0);
    let log = c.log_of(1);
    c.crash(1);
    c.restart(1).unwrap();
    assert_eq!(c.log_of(1), log);
    assert_eq!(c.node(1).current_term(), Term(1));
    assert_eq!(
        c.node(1).last_applied(),
        LogIndex(0),
        "applied state is volatile"
    );
    c.heartbeat(0);
    assert_eq!(c.node(1).last_applied(), LogIndex(11));
    assert_eq!(c.node(1).state_machine(), c.node(0).state_machine());
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
    assert_eq!(
        c.responses(),
        vec![(1, ClientResult::Ok(KvOutput::WriteOk))]
    );
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

/// Safety under random reordering, loss, duplication, timer firings and
/// crashes (§3.6.3): at most one leader per term, and every index is
/// applied with the same entry on every node. Then, healed, the cluster
/// elects a leader and converges. A miniature of what the kernel's checkers
/// do, so protocol bugs show up here first.
#[test]
fn random_faults_preserve_safety() {
    for seed in 0..30 {
        random_run(seed, BugSet::NONE).unwrap_or_else(|e| panic!("seed {seed}: {e}"));
    }
}

/// The same runs with an injected bug (other than `StaleRead`, which only a
/// linearizability checker sees) break safety on some seed: the checks
/// above have teeth.
#[test]
fn random_faults_catch_injected_bugs() {
    for bug in [
        Bug::SkipLogCheck,
        Bug::CommitPreviousTerm,
        Bug::DoubleVote,
        Bug::ForgetVote,
    ] {
        let caught = (0..200).any(|seed| random_run(seed, BugSet::only(bug)).is_err());
        assert!(caught, "{bug} was never caught");
    }
}

fn random_run(seed: u64, bugs: BugSet) -> Result<(), String> {
    let mut cfg = RaftConfig {
        // Even sizes too: a majority of 4 or 6 is not (n + 1) / 2.
        nodes: [3, 4, 5, 6][seed as usize % 4],
        snapshot_every: 7,
        max_entries_per_append: 3,
        max_inflight_appends: 2,
        bugs,
        ..RaftConfig::default()
    };
    cfg.pre_vote = seed % 3 != 0;
    let n = cfg.nodes as usize;
    let mut c = Cluster::with(cfg);
    let mut rng = SimRng::derive(seed, "raft-random-test");
    let mut leaders: BTreeMap<Term, NodeId> = BTreeMap::new();
    let mut applied: BTreeMap<LogIndex, (Term, u64)> = BTreeMap::new();
    let mut seq = 0u64;
    let check = |c: &Cluster,
                 leaders: &mut BTreeMap<Term, NodeId>,
                 applied: &mut BTreeMap<LogIndex, (Term, u64)>,
                 i: usize|
     -> Result<(), String> {
        let Some(node) = c.nodes[i].as_ref() else {
            return Ok(());
        };
        if node.raft_role() == RaftRole::Leader {
            let l = *leaders.entry(node.current_term()).or_insert(node.id());
            if l != node.id() {
                return Err(format!(
                    "two leaders in {}: {l} and {}",
                    node.current_term(),
                    node.id()
                ));
            }
        }
        for &(index, term, digest) in node.applied_this_step() {
            let first = *applied.entry(index).or_insert((term, digest));
            if first != (term, digest) {
                return Err(format!(
                    "n{i} applied {index} as {term}/{digest:x}, others as {first:?}"
                ));
            }
        }
        Ok(())
    };
    for _ in 0..3_000 {
        let roll = rng.range_inclusive(0, 99);
        let i = rng.index(n);
        match roll {
            0..=59 if !c.queue.is_empty() => {
                let k = rng.index(c.queue.len());
                let (from, to, msg) = c.queue.remove(k).expect("in range");
                match rng.range_inclusive(0, 19) {
                    0 => continue,                                   // lost
                    1 => c.queue.push_back((from, to, msg.clone())), // duplicated
                    _ => {}
                }
                if c.nodes[to.index()].is_some() {
                    c.step(to.index(), |nd, ctx| nd.on_message(ctx, from, msg));
                    check(&c, &mut leaders, &mut applied, to.index())?;
                }
            }
            60..=79 => {
                if let Some(node) = c.nodes[i].as_ref() {
                    if node.raft_role() == RaftRole::Leader {
                        seq += 1;
                        c.request(i, seq, write(rng.range_inclusive(0, 4) as i64, seq as i64));
                    }
                }
            }
            80..=95 => {
                c.advance_ms(rng.range_inclusive(1, 60));
                let armed: Vec<TimerId> = c.timers[i].keys().copied().collect();
                if !armed.is_empty() && c.nodes[i].is_some() {
                    let id = armed[rng.index(armed.len())];
                    c.fire(i, id);
                    check(&c, &mut leaders, &mut applied, i)?;
                }
            }
            _ => {
                if c.nodes[i].is_some() {
                    c.crash(i);
                } else {
                    c.restart(i).map_err(|e| e.to_string())?;
                }
            }
        }
    }
    // Heal: everyone up, network reliable, time-ordered timers.
    for i in 0..n {
        if c.nodes[i].is_none() {
            c.restart(i).map_err(|e| e.to_string())?;
        }
    }
    c.deliver_all();
    for _ in 0..50 {
        if let Some(l) = (0..n).find(|&i| c.node(i).raft_role() == RaftRole::Leader) {
            for _ in 0..10 {
                if c.node(l).raft_role() != RaftRole::Leader {
                    break;
                }
                c.advance_ms(50);
                c.heartbeat(l);
                for j in 0..n {
                    check(&c, &mut leaders, &mut applied, j)?;
                }
            }
            if c.node(l).raft_role() == RaftRole::Leader {
                let commit = c.node(l).commit_index();
                for j in 0..n {
                    if c.node(j).commit_index() != commit {
                        return Err(format!("n{j} did not converge to {commit}"));
                    }
                }
                return Ok(());
            }
        }
        let i = rng.index(n);
        c.advance_ms(300);
        if c.timers[i].contains_key(&TIMER_ELECTION) {
            c.timeout(i);
        }
        c.deliver_all();
    }
    Err("no stable leader after healing".into())
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

// ----------------------------------------------------------------------
// The safety checker fed broken views (each property's own kind).
// ----------------------------------------------------------------------

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

/// The follower's conflict hint (fast backtracking, §5.3) never points
/// into the snapshot: a run of term 2 that began under the snapshot is
/// reported from the first live index.
#[test]
fn term_run_hint_stops_at_the_first_live_index() {
    let mut log = crate::raft::log::RaftLog::<KvCommand>::default();
    for t in [1, 2, 2, 2, 2] {
        log.push(Entry::noop(Term(t)));
    }
    log.compact_to(LogIndex(3));
    assert_eq!(log.first_index_of_term_run(LogIndex(5)), LogIndex(4));
}

/// A heartbeat must be positive and shorter than the election timeout
/// (else followers time out between heartbeats); each half of the rule
/// rejects on its own.
#[test]
fn config_rejects_a_zero_or_too_slow_heartbeat() {
    let with = |ms: u64| RaftConfig {
        heartbeat: SimDuration::from_millis(ms),
        ..RaftConfig::default()
    };
    for ms in [0, 150, 200] {
        assert!(with(ms).validate().is_err(), "heartbeat {ms} ms");
    }
    assert!(with(149).validate().is_ok());
}

/// A node reports the configuration it was built with (embedders read it).
#[test]
fn node_reports_its_configuration() {
    let cfg = RaftConfig {
        nodes: 5,
        snapshot_every: 7,
        ..RaftConfig::default()
    };
    let c = Cluster::with(cfg.clone());
    assert_eq!(c.node(4).config(), &cfg);
}

/// An InstallSnapshot from an older term (a deposed leader's, §3.3) is
/// refused with the receiver's term and changes nothing; only a current
/// leader may replace a follower's state.
#[test]
fn install_snapshot_from_an_older_term_is_refused() {
    let mut c = cluster_with_lagging_follower();
    c.heal();
    c.fire(0, TIMER_HEARTBEAT);
    let to_n2 = |(_, t, m): &(NodeId, NodeId, M)| *t == N2 && matches!(m, Msg::InstallSnapshot(_));
    assert!(c.deliver_until(|c| c.queue.iter().any(to_n2)));
    let pos = c.queue.iter().position(to_n2).expect("queued");
    let snapshot = c.queue.remove(pos).expect("queued");
    c.queue.clear();
    // n2 moves on to term 9 (a vote request of a later election).
    c.advance_ms(1_000);
    let (last_log_index, last_log_term) = (c.node(2).last_log_index(), c.node(2).last_log_term());
    c.queue.push_back((
        N1,
        N2,
        Msg::RequestVote(RequestVote {
            term: Term(9),
            last_log_index,
            last_log_term,
        }),
    ));
    assert!(c.deliver_one());
    assert_eq!(c.node(2).current_term(), Term(9));
    c.queue.clear();
    // The term-1 leader's snapshot arrives late.
    c.queue.push_back(snapshot);
    assert!(c.deliver_one());
    assert_eq!(c.node(2).snapshot_last_index(), LogIndex(0));
    assert!(c.node(2).state_machine().is_empty());
    assert_eq!(c.node(2).current_term(), Term(9));
    assert!(
        c.queue.iter().any(|(f, t, m)| *f == N2
            && *t == N0
            && matches!(
                m,
                Msg::InstallSnapshotResp(InstallSnapshotResp {
                    success: false,
                    term: Term(9),
                    ..
                })
            )),
        "{:?}",
        c.queue
    );
}

/// Recovery reads an Entries record that starts inside the snapshot (a
/// write made before the snapshot that compacted it, §5.1) by skipping the
/// covered entries and keeping the rest at their own indexes: the log
/// rebuilt equals the one the node had.
#[test]
fn recovery_skips_entries_a_snapshot_already_covers() {
    let mut c = cluster_with_lagging_follower();
    c.request(0, 21, write(21, 210));
    c.deliver_all();
    c.heartbeat(0);
    let records = c.disks[0].durable.clone();
    let snap = c.node(0).snapshot_last_index();
    let pos = records
        .iter()
        .position(|r| matches!(r, Record::Entries { first, .. } if *first == LogIndex(snap.0 + 1)))
        .expect("an Entries record right after the snapshot");
    // The same record, as if written before the snapshot: two covered
    // entries (content unlike any live entry: they must be skipped) ahead
    // of the live ones.
    let mut moved = records.clone();
    if let Record::Entries { first, entries } = &mut moved[pos] {
        let filler = Entry::noop(Term(0));
        entries.insert(0, filler.clone());
        entries.insert(0, filler);
        *first = LogIndex(first.0 - 2);
    }
    let original = Node::recover(N0, c.cfg.clone(), &records).expect("recovers");
    let rebuilt = Node::recover(N0, c.cfg.clone(), &moved).expect("recovers");
    assert!(
        original.last_log_index() > snap,
        "live entries after the snapshot"
    );
    assert_eq!(
        rebuilt.log_entries().collect::<Vec<_>>(),
        original.log_entries().collect::<Vec<_>>()
    );
    assert_eq!(rebuilt.snapshot_last_index(), snap);
}
