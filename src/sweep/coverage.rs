//! Coverage for guided sweeps (`agentsim sweep --guided`): which coarse
//! abstract Raft states a run reached, and which kinds of event it saw in
//! each. Never raw trace hashes: ModelFuzz (OOPSLA 2025) found that
//! guiding on them does worse than random testing, since almost every run
//! has a new one; an abstract state says something about the protocol.
//!
//! A server's abstract state is four small numbers, relative to the rest
//! of the cluster so that absolute terms and indexes do not make every
//! state new:
//! - role: down, paused, follower, pre-candidate, candidate, leader;
//! - term: the cluster's highest term minus the server's (0, 1, 2, 3+);
//! - log relation to the current leader (the up leader of the highest
//!   term): equal, behind (a prefix of the leader's log), divergent
//!   (holds an entry the leader's log does not have), or no leader;
//! - commit relation to the leader (or, without one, to the highest commit
//!   index of the up servers): equal, behind, ahead.
//!
//! The cluster's abstract state is the sorted multiset of its servers'
//! states (servers are symmetric, so renaming them gives the same state).
//! A pair is (cluster state before an event, the event's kind: a delivered
//! message type, a timer, a start, a sync, or an applied fault kind), the
//! transitions tried out of each state.
//!
//! Collection is an observer: [`Coverage::observe`] reads servers through
//! their public accessors after each event, and the tap that names each
//! delivered message type is a tracer, which only reads. A run with
//! coverage has the same trace hash as one without (tests/guided.rs).

use crate::ids::NodeId;
use crate::raft::RaftRole;
use crate::runner::raft::KvNode;
use crate::sim::{DispatchKind, Dispatched, NodeStatus, World};
use std::cell::RefCell;
use std::collections::BTreeSet;
use std::rc::Rc;

/// Where a run's coverage is collected (shared by the observer and the
/// tracer tap of one run; a run is single-threaded).
pub type CoverageSink = Rc<RefCell<Coverage>>;

/// The kind of one dispatched event, as coverage pairs name it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum EventKey {
    /// A node booted or restarted.
    Start,
    /// A message of this type was delivered.
    Deliver(&'static str),
    /// A timer fired (the process's timer id).
    Timer(u64),
    /// A disk sync completed.
    SyncDone,
    /// A fault of this kind was applied.
    Fault(&'static str),
}

impl EventKey {
    /// A readable name (`deliver:request_vote`, `fault:crash`).
    pub fn name(self) -> String {
        match self {
            EventKey::Start => "start".into(),
            EventKey::Deliver(m) => format!("deliver:{m}"),
            EventKey::Timer(t) => format!("timer:{t}"),
            EventKey::SyncDone => "sync_done".into(),
            EventKey::Fault(k) => format!("fault:{k}"),
        }
    }
}

/// A cluster's abstract state, packed (see `Coverage::cluster_state`).
pub type StateKey = u128;

/// What one run (or many, merged) covered.
#[derive(Clone, Debug, Default)]
pub struct Coverage {
    /// Distinct cluster abstract states reached.
    pub states: BTreeSet<StateKey>,
    /// Distinct (state before, event kind) pairs.
    pub pairs: BTreeSet<(StateKey, EventKey)>,
    /// The cluster state after the previous event.
    last: StateKey,
    /// The kind of the event being dispatched, from the tracer tap.
    pending: Option<EventKey>,
    /// Scratch for the per-server states (no allocation per event).
    scratch: Vec<u16>,
}

/// Role codes (3 bits).
const DOWN: u16 = 0;
const PAUSED: u16 = 1;
/// Log relation codes (2 bits).
const LOG_EQUAL: u16 = 0;
const LOG_BEHIND: u16 = 1;
const LOG_DIVERGENT: u16 = 2;
const LOG_NO_LEADER: u16 = 3;
/// Commit relation codes (2 bits).
const COMMIT_EQUAL: u16 = 0;
const COMMIT_BEHIND: u16 = 1;
const COMMIT_AHEAD: u16 = 2;
/// Bits of one server's state.
const NODE_BITS: u32 = 9;

impl Coverage {
    /// A new, empty sink.
    pub fn sink() -> CoverageSink {
        Rc::new(RefCell::new(Coverage::default()))
    }

    /// The tracer tap: remember the kind of the event about to be handled
    /// (called before the handler runs).
    pub fn note(&mut self, kind: DispatchKind, msg: Option<&'static str>, timer: Option<u64>) {
        self.pending = match kind {
            DispatchKind::Start => Some(EventKey::Start),
            DispatchKind::Deliver => msg.map(EventKey::Deliver),
            DispatchKind::Timer => timer.map(EventKey::Timer),
            DispatchKind::SyncDone => Some(EventKey::SyncDone),
            // The applied fault's kind is read from the fault log.
            DispatchKind::Fault => None,
        };
    }

    /// After each event: the cluster's abstract state and the pair of the
    /// state before with this event's kind. Events of clients are skipped:
    /// they change no server's state.
    pub fn observe(&mut self, world: &World<KvNode>, ev: &Dispatched, servers: u32) {
        let pending = self.pending.take();
        let key = match ev.kind {
            DispatchKind::Fault => match world.applied_faults().last() {
                Some(f) => EventKey::Fault(f.kind),
                None => return,
            },
            _ if ev.node.is_some_and(|n| n.0 >= servers) => return,
            DispatchKind::Start => EventKey::Start,
            DispatchKind::SyncDone => EventKey::SyncDone,
            _ => match pending {
                Some(k) => k,
                None => return,
            },
        };
        let state = self.cluster_state(world, servers);
        self.states.insert(state);
        self.pairs.insert((self.last, key));
        self.last = state;
    }

    /// Add everything `other` covered; returns how many states and pairs
    /// were new.
    pub fn merge(&mut self, other: &Coverage) -> (u64, u64) {
        let mut new = (0, 0);
        for s in &other.states {
            new.0 += u64::from(self.states.insert(*s));
        }
        for p in &other.pairs {
            new.1 += u64::from(self.pairs.insert(*p));
        }
        new
    }

    /// How many of `other`'s states and pairs are not in `self`.
    pub fn new_in(&self, other: &Coverage) -> (u64, u64) {
        (
            other.states.difference(&self.states).count() as u64,
            other.pairs.difference(&self.pairs).count() as u64,
        )
    }

    fn cluster_state(&mut self, world: &World<KvNode>, servers: u32) -> StateKey {
        let mut codes = std::mem::take(&mut self.scratch);
        node_states(world, servers, &mut codes);
        codes.sort_unstable();
        let key = pack(&codes);
        self.scratch = codes;
        key
    }
}

/// Every server's abstract state code into `out` (by node id).
fn node_states(world: &World<KvNode>, servers: u32, out: &mut Vec<u16>) {
    out.clear();
    let raft = |i: u32| {
        (world.status(NodeId(i)) != NodeStatus::Crashed)
            .then(|| world.node(NodeId(i)).and_then(KvNode::raft))
            .flatten()
    };
    let up = |i: u32| world.status(NodeId(i)) == NodeStatus::Up;
    let max_term = (0..servers)
        .filter_map(raft)
        .map(|r| r.current_term().0)
        .max()
        .unwrap_or(0);
    // The reference: the up leader of the highest term (the lowest id on
    // a tie, which only a safety violation produces).
    let leader = (0..servers)
        .filter(|&i| up(i))
        .filter_map(raft)
        .filter(|r| r.raft_role() == RaftRole::Leader)
        .max_by_key(|r| (r.current_term(), std::cmp::Reverse(r.id())));
    let max_commit = (0..servers)
        .filter(|&i| up(i))
        .filter_map(raft)
        .map(|r| r.commit_index())
        .max()
        .unwrap_or_default();
    for i in 0..servers {
        let Some(r) = raft(i) else {
            out.push(DOWN);
            continue;
        };
        if !up(i) {
            out.push(PAUSED);
            continue;
        }
        let role = match r.raft_role() {
            RaftRole::Follower => 2,
            RaftRole::PreCandidate => 3,
            RaftRole::Candidate => 4,
            RaftRole::Leader => 5,
        };
        let term = (max_term - r.current_term().0).min(3) as u16;
        let (log, commit) = match leader {
            None => (
                LOG_NO_LEADER,
                if r.commit_index() < max_commit {
                    COMMIT_BEHIND
                } else {
                    COMMIT_EQUAL
                },
            ),
            Some(l) => {
                let last = r.last_log_index();
                let log = if last > l.last_log_index() {
                    LOG_DIVERGENT
                } else {
                    // Log Matching: the same term at our last index means
                    // our whole log is a prefix of the leader's. An index
                    // the leader compacted is committed, so it matches.
                    match l.term_at(last) {
                        Some(t) if t != r.last_log_term() => LOG_DIVERGENT,
                        _ if last == l.last_log_index() => LOG_EQUAL,
                        _ => LOG_BEHIND,
                    }
                };
                let commit = match r.commit_index().cmp(&l.commit_index()) {
                    std::cmp::Ordering::Equal => COMMIT_EQUAL,
                    std::cmp::Ordering::Less => COMMIT_BEHIND,
                    std::cmp::Ordering::Greater => COMMIT_AHEAD,
                };
                (log, commit)
            }
        };
        out.push(role | term << 3 | log << 5 | commit << 7);
    }
}

/// Pack sorted server codes with their count; clusters of more than 13
/// servers are folded through BLAKE3 of the codes (still an abstract
/// state, only not readable back).
fn pack(codes: &[u16]) -> StateKey {
    let n = codes.len() as u128;
    if codes.len() * NODE_BITS as usize <= 120 {
        let mut k: u128 = 0;
        for &c in codes {
            k = k << NODE_BITS | u128::from(c);
        }
        return n << 120 | k;
    }
    let mut h = blake3::Hasher::new();
    for c in codes {
        h.update(&c.to_le_bytes());
    }
    let b = h.finalize();
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&b.as_bytes()[..16]);
    u128::from_le_bytes(bytes) | 1 << 127
}

/// A readable form of one server's state code (for docs and tests).
pub fn describe_node(code: u16) -> String {
    let role = match code & 7 {
        DOWN => return "down".into(),
        PAUSED => return "paused".into(),
        2 => "follower",
        3 => "pre-candidate",
        4 => "candidate",
        _ => "leader",
    };
    let term = (code >> 3) & 3;
    let log = match (code >> 5) & 3 {
        LOG_EQUAL => "log equal",
        LOG_BEHIND => "log behind",
        LOG_DIVERGENT => "log divergent",
        _ => "no leader",
    };
    let commit = match (code >> 7) & 3 {
        COMMIT_EQUAL => "commit equal",
        COMMIT_BEHIND => "commit behind",
        _ => "commit ahead",
    };
    format!("{role} term-{term} {log} {commit}")
}

/// The server codes of a packed state (clusters up to 13 servers).
pub fn unpack(key: StateKey) -> Option<Vec<u16>> {
    if key >> 127 == 1 {
        return None;
    }
    let n = (key >> 120) as u32;
    let mask = (1u128 << NODE_BITS) - 1;
    Some(
        (0..n)
            .rev()
            .map(|i| ((key >> (i * NODE_BITS)) & mask) as u16)
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Packing keeps the server count and the sorted codes, so clusters of
    /// different sizes never share a state, and unpacks back.
    #[test]
    fn states_pack_and_unpack() {
        let a = pack(&[2, 5, 0x22]);
        assert_eq!(unpack(a), Some(vec![2, 5, 0x22]));
        assert_ne!(pack(&[2, 2, 5]), pack(&[2, 2, 5, 0]));
        assert_eq!(describe_node(5), "leader term-0 log equal commit equal");
        assert_eq!(
            describe_node(2 | 1 << 3 | LOG_DIVERGENT << 5 | COMMIT_AHEAD << 7),
            "follower term-1 log divergent commit ahead"
        );
        let big = vec![2u16; 20];
        assert!(unpack(pack(&big)).is_none());
    }
}
