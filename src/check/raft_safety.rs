//! Raft safety, checked from the global view after every event (Raft paper
//! Figure 3; thesis §3.6.3):
//!
//! - **Election Safety**: at most one leader per term.
//! - **Leader Append-Only**: a leader never overwrites or deletes entries
//!   in its log during its term.
//! - **Log Matching**: if two logs hold an entry with the same index and
//!   term, the logs are identical up to it. Checked incrementally: entries
//!   with equal (index, term) must have equal digests and equal previous
//!   terms, which by induction makes the prefixes identical.
//! - **Leader Completeness**: a leader's log holds every entry committed in
//!   earlier terms (checked when a node is first seen leading a term).
//! - **State Machine Safety**: no two nodes apply different entries at one
//!   index.
//!
//! The checker only reads nodes through their public accessors and is fed
//! one node at a time (the one whose handler just ran). Memory stays
//! bounded: facts below every node's snapshot point are pruned.

use crate::check::names::RaftProperty;
use crate::ids::{LogIndex, NodeId, Term};
use crate::raft::{RaftNode, RaftRole, StateMachine};
use crate::time::SimTime;
use std::collections::{BTreeMap, VecDeque};

/// Values keyed by log index over a sliding window: O(1) lookups (the
/// checker does several per committed entry per node), and pruning below
/// the cluster's snapshot floor just moves the window's base.
#[derive(Debug)]
struct IndexWindow<T> {
    base: u64,
    items: VecDeque<Option<T>>,
}

impl<T> Default for IndexWindow<T> {
    fn default() -> Self {
        IndexWindow {
            base: 1,
            items: VecDeque::new(),
        }
    }
}

impl<T> IndexWindow<T> {
    fn get(&self, i: LogIndex) -> Option<&T> {
        let off = i.0.checked_sub(self.base)?;
        self.items.get(off as usize)?.as_ref()
    }

    fn get_mut(&mut self, i: LogIndex) -> Option<&mut T> {
        let off = i.0.checked_sub(self.base)?;
        self.items.get_mut(off as usize)?.as_mut()
    }

    /// Store `v` at `i`; indices below the window (pruned) are ignored.
    fn insert(&mut self, i: LogIndex, v: T) {
        let Some(off) = i.0.checked_sub(self.base) else {
            return;
        };
        let off = off as usize;
        while self.items.len() <= off {
            self.items.push_back(None);
        }
        self.items[off] = Some(v);
    }

    fn iter_from(&self, i: LogIndex) -> impl Iterator<Item = (LogIndex, &T)> + '_ {
        let skip = i.0.saturating_sub(self.base) as usize;
        let base = self.base;
        self.items
            .iter()
            .enumerate()
            .skip(skip)
            .filter_map(move |(k, v)| v.as_ref().map(|v| (LogIndex(base + k as u64), v)))
    }

    fn prune_below(&mut self, floor: LogIndex) {
        while self.base < floor.0 && !self.items.is_empty() {
            self.items.pop_front();
            self.base += 1;
        }
        if self.items.is_empty() && self.base < floor.0 {
            self.base = floor.0;
        }
    }
}

/// One safety violation, precise enough to debug from.
#[derive(Clone, Debug, PartialEq)]
pub struct Violation {
    /// Which property (`election_safety`, `leader_append_only`,
    /// `log_matching`, `leader_completeness`, `state_machine_safety`).
    pub property: &'static str,
    /// Virtual time it was detected.
    pub time: SimTime,
    /// What was seen: nodes, term, index, the conflicting entries.
    pub message: String,
}

#[derive(Clone, Copy, Debug)]
struct Seen {
    digest: u64,
    prev_term: Term,
    node: NodeId,
}

#[derive(Clone, Copy, Debug)]
struct Decided {
    term: Term,
    digest: u64,
    node: NodeId,
    time: SimTime,
    /// Term of the first node that knew it committed (the committing
    /// leader's term): Leader Completeness binds leaders of later terms.
    commit_term: Term,
}

#[derive(Clone, Copy, Debug, Default)]
struct NodeView {
    /// Term in which this node was last seen leading, and its last log
    /// index and that entry's digest then.
    leading: Option<(Term, LogIndex, Option<u64>)>,
    /// Entries up to here were folded into `seen`.
    checked_to: LogIndex,
    /// Term of the entry at `checked_to` when it was checked (detects
    /// truncation + rewrite).
    checked_term: Term,
    commit: LogIndex,
    snapshot: LogIndex,
}

/// The incremental safety checker.
#[derive(Debug, Default)]
pub struct RaftSafety {
    leaders: BTreeMap<Term, NodeId>,
    /// index → (term → what the first log holding (index, term) had there).
    seen: IndexWindow<Vec<(Term, Seen)>>,
    /// Committed or applied entries by index.
    decided: IndexWindow<Decided>,
    nodes: Vec<NodeView>,
    violations: Vec<Violation>,
    observations: u64,
}

/// Most violations kept (the first ones are the interesting ones).
const MAX_VIOLATIONS: usize = 16;

impl RaftSafety {
    /// A checker for a cluster of `nodes` servers.
    pub fn new(nodes: u32) -> Self {
        RaftSafety {
            nodes: vec![NodeView::default(); nodes as usize],
            ..Default::default()
        }
    }

    /// Violations found so far.
    pub fn violations(&self) -> &[Violation] {
        &self.violations
    }

    /// True once any property was violated.
    pub fn failed(&self) -> bool {
        !self.violations.is_empty()
    }

    /// Number of node observations made (shows the checker ran).
    pub fn observations(&self) -> u64 {
        self.observations
    }

    fn violate(&mut self, property: &'static str, time: SimTime, message: String) {
        if self.violations.len() < MAX_VIOLATIONS {
            self.violations.push(Violation {
                property,
                time,
                message,
            });
        }
    }

    /// The node restarted: its volatile view starts over.
    pub fn node_restarted(&mut self, id: NodeId) {
        let v = &mut self.nodes[id.index()];
        v.leading = None;
        v.checked_to = LogIndex(0);
        v.checked_term = Term(0);
        v.commit = LogIndex(0);
    }

    /// Look at `node` after its handler ran at `now`.
    pub fn observe<S: StateMachine>(&mut self, now: SimTime, node: &RaftNode<S>) {
        self.observations += 1;
        self.check_leader(now, node);
        self.check_log(now, node);
        self.check_commit(now, node);
        self.check_applied(now, node);
        self.prune();
    }

    fn check_leader<S: StateMachine>(&mut self, now: SimTime, n: &RaftNode<S>) {
        let id = n.id();
        let term = n.current_term();
        let view = self.nodes[id.index()];
        if n.raft_role() != RaftRole::Leader {
            self.nodes[id.index()].leading = None;
            return;
        }
        // Election Safety.
        match self.leaders.get(&term) {
            Some(&other) if other != id => self.violate(
                RaftProperty::ElectionSafety.name(),
                now,
                format!("two leaders in term {}: {other} and {id}", term.0),
            ),
            Some(_) => {}
            None => {
                self.leaders.insert(term, id);
            }
        }
        let last = n.last_log_index();
        match view.leading {
            Some((t, prev_last, prev_digest)) if t == term => {
                // Leader Append-Only: the log only grows during the term and
                // the entry that was last stays put.
                if last < prev_last {
                    self.violate(
                        RaftProperty::LeaderAppendOnly.name(),
                        now,
                        format!(
                            "leader {id} of term {} shrank its log from index {} to {}",
                            term.0, prev_last.0, last.0
                        ),
                    );
                } else if let (Some(before), Some(e)) = (prev_digest, n.entry(prev_last)) {
                    if e.digest() != before {
                        self.violate(
                            RaftProperty::LeaderAppendOnly.name(),
                            now,
                            format!(
                                "leader {id} of term {} overwrote its entry at index {}",
                                term.0, prev_last.0
                            ),
                        );
                    }
                }
            }
            _ => self.check_completeness(now, n),
        }
        let digest = n.entry(last).map(|e| e.digest());
        self.nodes[id.index()].leading = Some((term, last, digest));
    }

    /// Leader Completeness: every entry decided so far is in the new
    /// leader's log (or under its snapshot).
    fn check_completeness<S: StateMachine>(&mut self, now: SimTime, n: &RaftNode<S>) {
        let id = n.id();
        let snap = n.snapshot_last_index();
        let mut problem = None;
        let term = n.current_term();
        for (idx, d) in self.decided.iter_from(LogIndex(snap.0 + 1)) {
            if d.commit_term >= term {
                // Committed in this term or later (this leader is stale):
                // not this leader's obligation.
                continue;
            }
            match n.entry(idx) {
                Some(e) if e.digest() == d.digest && e.term() == d.term => {}
                Some(e) => {
                    problem = Some(format!(
                        "new leader {id} (term {}) has term {} digest {:016x} at index {}, but term {} digest {:016x} was committed there (first seen on {} at {})",
                        n.current_term().0, e.term().0, e.digest(), idx.0, d.term.0, d.digest, d.node, d.time
                    ));
                    break;
                }
                None => {
                    problem = Some(format!(
                        "new leader {id} (term {}) lacks committed index {} (term {}, first committed on {} at {}); its log ends at {}",
                        n.current_term().0, idx.0, d.term.0, d.node, d.time, n.last_log_index().0
                    ));
                    break;
                }
            }
        }
        if let Some(p) = problem {
            self.violate(RaftProperty::LeaderCompleteness.name(), now, p);
        }
    }

    /// Log Matching, incrementally over entries not yet checked.
    fn check_log<S: StateMachine>(&mut self, now: SimTime, n: &RaftNode<S>) {
        let id = n.id();
        let mut view = self.nodes[id.index()];
        let snap = n.snapshot_last_index();
        view.snapshot = snap;
        // If the log was cut or rewritten at the checked point (a follower
        // truncating a conflicting suffix), check it again from its
        // snapshot: rare, and simpler to trust than a partial re-walk.
        let still = n.term_at(view.checked_to);
        if view.checked_to > n.last_log_index() || still != Some(view.checked_term) {
            view.checked_to = snap;
        }
        let start = LogIndex(view.checked_to.0.max(snap.0) + 1);
        let mut i = start;
        while i <= n.last_log_index() {
            let Some(e) = n.entry(i) else { break };
            let prev_term = n.term_at(LogIndex(i.0 - 1)).unwrap_or_default();
            let here = Seen {
                digest: e.digest(),
                prev_term,
                node: id,
            };
            let known = self
                .seen
                .get(i)
                .and_then(|v| v.iter().find(|(t, _)| *t == e.term()).map(|(_, s)| *s));
            match known {
                None => match self.seen.get_mut(i) {
                    Some(v) => v.push((e.term(), here)),
                    None => self.seen.insert(i, vec![(e.term(), here)]),
                },
                Some(s) if s.digest != e.digest() || s.prev_term != prev_term => {
                    let msg = format!(
                        "index {} term {}: {} holds digest {:016x} after term {}, but {} held digest {:016x} after term {}",
                        i.0, e.term().0, id, e.digest(), prev_term.0, s.node, s.digest, s.prev_term.0
                    );
                    self.violate(RaftProperty::LogMatching.name(), now, msg);
                }
                Some(_) => {}
            }
            i = LogIndex(i.0 + 1);
        }
        view.checked_to = n.last_log_index();
        view.checked_term = n.last_log_term();
        self.nodes[id.index()] = view;
    }

    #[allow(clippy::too_many_arguments)]
    fn decide(
        &mut self,
        now: SimTime,
        property: &'static str,
        node: NodeId,
        commit_term: Term,
        idx: LogIndex,
        term: Term,
        digest: u64,
    ) {
        match self.decided.get(idx) {
            None => {
                self.decided.insert(
                    idx,
                    Decided {
                        term,
                        digest,
                        node,
                        time: now,
                        commit_term,
                    },
                );
            }
            Some(d) if d.digest != digest || d.term != term => {
                let msg = format!(
                    "index {}: {node} has term {} digest {digest:016x}, but {} had term {} digest {:016x} there (at {})",
                    idx.0, term.0, d.node, d.term.0, d.digest, d.time
                );
                self.violate(property, now, msg);
            }
            Some(_) => {}
        }
    }

    /// Entries newly covered by the node's commit index are decided.
    fn check_commit<S: StateMachine>(&mut self, now: SimTime, n: &RaftNode<S>) {
        let id = n.id();
        let commit = n.commit_index();
        let from = self.nodes[id.index()].commit.max(n.snapshot_last_index());
        let mut i = LogIndex(from.0 + 1);
        while i <= commit {
            if let Some(e) = n.entry(i) {
                self.decide(
                    now,
                    RaftProperty::StateMachineSafety.name(),
                    id,
                    n.current_term(),
                    i,
                    e.term(),
                    e.digest(),
                );
            }
            i = LogIndex(i.0 + 1);
        }
        self.nodes[id.index()].commit = commit;
    }

    fn check_applied<S: StateMachine>(&mut self, now: SimTime, n: &RaftNode<S>) {
        let id = n.id();
        for &(idx, term, digest) in n.applied_this_step() {
            self.decide(
                now,
                RaftProperty::StateMachineSafety.name(),
                id,
                n.current_term(),
                idx,
                term,
                digest,
            );
        }
    }

    /// Forget facts below every node's snapshot: nothing can contradict
    /// them any more without first contradicting a snapshot-covered entry.
    fn prune(&mut self) {
        let floor = self
            .nodes
            .iter()
            .map(|v| v.snapshot)
            .min()
            .unwrap_or_default();
        if floor.0 == 0 {
            return;
        }
        self.decided.prune_below(floor);
        self.seen.prune_below(floor);
    }
}
