//! Raft metrics gathered by observing a run: elections, leader-loss
//! downtime, commit latency, availability, time per role.
//!
//! Definitions (also in the README):
//! - A leader is **known to a majority** when it is up, leads term `t`, and
//!   a majority of the cluster (itself included) is up, in term `t`, names it
//!   as leader, and can exchange messages with it both ways.
//! - **Leader-loss downtime** is each interval from the moment no leader is
//!   known to a majority (after one was) until one is again: a crash, pause
//!   or isolation of the leader starts it at once.
//! - **Election after leader loss** (the §9.3 / Figure 16 measure) is one
//!   sample per loss: from the moment the leader of the highest term seen
//!   so far crashes, pauses or is isolated (cannot exchange messages both
//!   ways with a majority) to the moment some node (the restarted one
//!   included) becomes leader in a higher term. A loss that ends with the
//!   same leader resuming its term (a pause or isolation shorter than the
//!   election) is counted as `recovered`, one still open at the end as
//!   `unfinished`; neither is a sample. Unlike leader-loss downtime it
//!   counts no intervals that no fault started (a new leader deposed
//!   before a majority knew it adds nothing).
//! - **Commit latency** is from the leader appending an entry to the leader
//!   advancing its commit index over it.
//! - **Availability** is the fraction of 10 ms slots `t` (up to
//!   `end - timeout`) for which some entry appended at or after `t` commits
//!   by `t + timeout`: a write submitted at `t` would have committed in time.

use super::hist::LatencyHist;
use super::sections::{ElectionAfterLoss, RoleTime, SampleSummary};
use crate::ids::{LogIndex, NodeId};
use crate::process::Process;
use crate::raft::{RaftNode, RaftRole, StateMachine};
use crate::sim::{NodeStatus, World};
use crate::time::{SimDuration, SimTime};
use std::collections::{BTreeMap, VecDeque};

const SLOT_US: u64 = 10_000;
/// Most role changes kept for the timeline.
pub const TIMELINE_MAX: usize = 50_000;

/// One election won.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Election {
    /// The term.
    pub term: u64,
    /// Who won it.
    pub winner: NodeId,
    /// When it was first seen leading.
    pub time: SimTime,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    Follower,
    Candidate,
    Leader,
    Down,
    Paused,
}

impl Phase {
    fn name(self) -> &'static str {
        match self {
            Phase::Follower => "follower",
            Phase::Candidate => "candidate",
            Phase::Leader => "leader",
            Phase::Down => "crashed",
            Phase::Paused => "paused",
        }
    }
}

/// Accumulates Raft metrics over a run.
#[derive(Debug)]
pub struct RaftMetrics {
    n: u32,
    /// Elections in the order they were seen.
    pub elections: Vec<Election>,
    last_elected_term: Vec<u64>,
    phase: Vec<(Phase, SimTime)>,
    last_term: Vec<u64>,
    hint: Vec<Option<NodeId>>,
    /// Role changes `(time, node, role, term)` in order, for timelines
    /// (at most `TIMELINE_MAX`; later changes are counted, not kept).
    pub timeline: Vec<(SimTime, NodeId, &'static str, u64)>,
    /// Role changes not kept because the timeline was full.
    pub timeline_dropped: u64,
    role_us: Vec<[u64; 5]>,
    /// Highest term seen.
    pub max_term: u64,
    known: Option<(NodeId, u64)>,
    /// Start of the current leader loss, if in one.
    loss_since: Option<SimTime>,
    ever_known: bool,
    /// Completed leader-loss durations, µs.
    pub downtime_us: Vec<u64>,
    /// The leader of the highest term seen, and that term.
    last_leader: Option<(NodeId, u64)>,
    /// An open leader loss: when, whose, which term.
    loss: Option<(SimTime, NodeId, u64)>,
    /// Election-after-leader-loss samples, µs (one per loss).
    pub election_after_loss_us: Vec<u64>,
    /// Leader losses that ended with the same leader back in its term.
    pub losses_recovered: u64,
    /// Times at which a leader became known to a majority (true) or
    /// stopped being known (false), in order.
    pub known_changes: Vec<(SimTime, bool)>,
    // Commit latency at the leader.
    leader: Option<(NodeId, u64)>,
    pending: VecDeque<(LogIndex, SimTime)>,
    leader_last: LogIndex,
    leader_commit: LogIndex,
    /// Leader append → commit latency.
    pub commit_latency: LatencyHist,
    /// Per 10 ms slot: earliest commit time of an entry appended in it.
    slot_min_commit: Vec<u64>,
}

impl RaftMetrics {
    /// Metrics for a cluster of `n` servers.
    pub fn new(n: u32) -> Self {
        RaftMetrics {
            n,
            elections: Vec::new(),
            last_elected_term: vec![0; n as usize],
            phase: vec![(Phase::Down, SimTime::ZERO); n as usize],
            last_term: vec![0; n as usize],
            hint: vec![None; n as usize],
            timeline: Vec::new(),
            timeline_dropped: 0,
            role_us: vec![[0; 5]; n as usize],
            max_term: 0,
            known: None,
            loss_since: None,
            ever_known: false,
            downtime_us: Vec::new(),
            last_leader: None,
            loss: None,
            election_after_loss_us: Vec::new(),
            losses_recovered: 0,
            known_changes: Vec::new(),
            leader: None,
            pending: VecDeque::new(),
            leader_last: LogIndex(0),
            leader_commit: LogIndex(0),
            commit_latency: LatencyHist::new(),
            slot_min_commit: Vec::new(),
        }
    }

    fn set_phase(&mut self, i: usize, p: Phase, term: u64, now: SimTime) {
        let (old, since) = self.phase[i];
        if old != p || self.last_term[i] != term {
            self.last_term[i] = term;
            if self.timeline.len() < TIMELINE_MAX {
                self.timeline.push((now, NodeId(i as u32), p.name(), term));
            } else {
                self.timeline_dropped += 1;
            }
        }
        if old != p {
            self.role_us[i][old as usize] += now.saturating_since(since).0;
            self.phase[i] = (p, now);
        }
    }

    /// For servers without Raft (the AP coordinator): server `i` is
    /// coordinating (shown as `leader`), up but not coordinating
    /// (`follower`), paused or down. Role time and the timeline then read
    /// the same as for Raft runs; several "leaders" at once is split brain.
    pub fn observe_coordinator(
        &mut self,
        i: usize,
        status: NodeStatus,
        coordinating: bool,
        now: SimTime,
    ) {
        let phase = match status {
            NodeStatus::Up if coordinating => Phase::Leader,
            NodeStatus::Up => Phase::Follower,
            NodeStatus::Paused => Phase::Paused,
            _ => Phase::Down,
        };
        self.set_phase(i, phase, 0, now);
    }

    /// Look at the world after an event. `raft` extracts the Raft node
    /// from a process (None for clients).
    pub fn observe<P: Process, S: StateMachine>(
        &mut self,
        world: &World<P>,
        touched: Option<NodeId>,
        fault: bool,
        raft: impl Fn(&P) -> Option<&RaftNode<S>>,
    ) {
        // Events at clients change no server state: nothing to look at.
        if touched.is_some_and(|t| t.0 >= self.n) {
            return;
        }
        let now = world.now();
        // A node's handler changes only that node; a fault can change any
        // node's status and the network, so it looks at everything.
        let range = match touched {
            Some(t) if !fault => t.0..t.0 + 1,
            _ => 0..self.n,
        };
        let mut changed = fault || touched.is_none();
        // Whether the leader was leading before this fault (phases are
        // still the pre-fault ones here).
        let was_leading = self.last_leader.filter(|&(l, t)| {
            fault && self.phase[l.index()].0 == Phase::Leader && self.last_term[l.index()] == t
        });
        for i in range {
            let id = NodeId(i);
            let r = world.node(id).and_then(&raft);
            let hint = r.and_then(|r| r.leader_hint());
            if self.hint[i as usize] != hint {
                self.hint[i as usize] = hint;
                changed = true;
            }
            let phase = match (world.status(id), r) {
                (NodeStatus::Up, Some(r)) => match r.raft_role() {
                    RaftRole::Leader => Phase::Leader,
                    RaftRole::Candidate | RaftRole::PreCandidate => Phase::Candidate,
                    RaftRole::Follower => Phase::Follower,
                },
                (NodeStatus::Paused, Some(_)) => Phase::Paused,
                _ => Phase::Down,
            };
            let term = r.map_or(self.last_term[i as usize], |r| r.current_term().0);
            changed |= self.phase[i as usize].0 != phase || self.last_term[i as usize] != term;
            self.set_phase(i as usize, phase, term, now);
        }
        if let Some(id) = touched.filter(|t| t.0 < self.n) {
            if let Some(r) = world.node(id).and_then(&raft) {
                self.observe_node(now, r);
            }
        }
        if fault {
            self.track_leader_loss(world, was_leading, &raft);
        }
        // Who is known as leader depends only on statuses, roles, terms,
        // leader hints and connectivity: recompute only when one changed.
        if changed {
            self.track_known_leader(world, &raft);
        }
    }

    fn observe_node<S: StateMachine>(&mut self, now: SimTime, r: &RaftNode<S>) {
        let id = r.id();
        let term = r.current_term().0;
        self.max_term = self.max_term.max(term);
        if r.raft_role() != RaftRole::Leader {
            return;
        }
        if self.last_leader.is_none_or(|(_, t)| term > t) {
            self.last_leader = Some((id, term));
            if let Some((at, _, lost_term)) = self.loss {
                if term > lost_term {
                    self.election_after_loss_us.push(now.saturating_since(at).0);
                    self.loss = None;
                }
            }
        }
        if self.last_elected_term[id.index()] < term
            && !self.elections.iter().any(|e| e.term == term)
        {
            self.elections.push(Election {
                term,
                winner: id,
                time: now,
            });
        }
        self.last_elected_term[id.index()] = term;
        if self.leader != Some((id, term)) {
            // A new leadership: latency tracking starts from its log end.
            self.leader = Some((id, term));
            self.pending.clear();
            self.leader_last = r.commit_index().max(r.last_log_index());
            self.leader_commit = r.commit_index();
            let mut i = r.commit_index().0 + 1;
            while i <= r.last_log_index().0 {
                self.pending.push_back((LogIndex(i), now));
                i += 1;
            }
            self.leader_last = r.last_log_index();
        }
        let mut i = self.leader_last.0 + 1;
        while i <= r.last_log_index().0 {
            self.pending.push_back((LogIndex(i), now));
            i += 1;
        }
        self.leader_last = self.leader_last.max(r.last_log_index());
        if r.commit_index() > self.leader_commit {
            self.leader_commit = r.commit_index();
            while let Some(&(idx, appended)) = self.pending.front() {
                if idx > r.commit_index() {
                    break;
                }
                self.pending.pop_front();
                self.commit_latency
                    .record_us(now.saturating_since(appended).0);
                let slot = (appended.0 / SLOT_US) as usize;
                if self.slot_min_commit.len() <= slot {
                    self.slot_min_commit.resize(slot + 1, u64::MAX);
                }
                self.slot_min_commit[slot] = self.slot_min_commit[slot].min(now.0);
            }
        }
    }

    /// After a fault: open a loss if the leader that was leading crashed,
    /// paused or got cut off from a majority; close an open one as
    /// recovered if its leader is back, leading its term with a majority.
    fn track_leader_loss<P: Process, S: StateMachine>(
        &mut self,
        world: &World<P>,
        was_leading: Option<(NodeId, u64)>,
        raft: &impl Fn(&P) -> Option<&RaftNode<S>>,
    ) {
        let reaches_majority = |l: NodeId| {
            let net = world.network();
            let peers = (0..self.n)
                .map(NodeId)
                .filter(|&f| f == l || (net.connected(l, f) && net.connected(f, l)))
                .count();
            peers * 2 > self.n as usize
        };
        match (self.loss, was_leading) {
            (None, Some((l, term))) => {
                let lost = world.status(l) != NodeStatus::Up || !reaches_majority(l);
                if lost {
                    self.loss = Some((world.now(), l, term));
                }
            }
            (Some((_, l, term)), _) => {
                let back = world.status(l) == NodeStatus::Up
                    && world.node(l).and_then(raft).is_some_and(|r| {
                        r.raft_role() == RaftRole::Leader && r.current_term().0 == term
                    })
                    && self.last_leader == Some((l, term))
                    && reaches_majority(l);
                if back {
                    self.loss = None;
                    self.losses_recovered += 1;
                }
            }
            (None, None) => {}
        }
    }

    /// Election after leader loss for the report: the samples and their
    /// summary, plus `losses`, `recovered` and `unfinished` (losses still
    /// open at the end).
    pub fn election_after_loss(&self) -> ElectionAfterLoss {
        ElectionAfterLoss::new(
            &self.election_after_loss_us,
            self.losses_recovered,
            u64::from(self.loss.is_some()),
        )
    }

    fn track_known_leader<P: Process, S: StateMachine>(
        &mut self,
        world: &World<P>,
        raft: &impl Fn(&P) -> Option<&RaftNode<S>>,
    ) {
        let now = world.now();
        let known = known_leader(world, self.n, raft);
        match (self.known, known) {
            (Some(_), None) => {
                self.known_changes.push((now, false));
                if self.loss_since.is_none() {
                    self.loss_since = Some(now);
                }
            }
            (None, Some(_)) => {
                self.known_changes.push((now, true));
                if let Some(since) = self.loss_since.take() {
                    self.downtime_us.push(now.saturating_since(since).0);
                }
                self.ever_known = true;
            }
            _ => {}
        }
        self.known = known;
    }

    /// True if a leader is known to a majority right now.
    pub fn leader_known(&self) -> bool {
        self.known.is_some()
    }

    /// The first time at or after `t` when a leader was known to a
    /// majority (`t` itself if one was known then).
    pub fn leader_known_from(&self, t: SimTime) -> Option<SimTime> {
        let known_at_t = self
            .known_changes
            .iter()
            .take_while(|(at, _)| *at <= t)
            .last()
            .is_some_and(|(_, k)| *k);
        if known_at_t {
            return Some(t);
        }
        self.known_changes
            .iter()
            .find(|(at, k)| *at > t && *k)
            .map(|(at, _)| *at)
    }

    /// Close open intervals at the end of the run.
    pub fn finish(&mut self, end: SimTime) {
        for i in 0..self.n as usize {
            let (p, since) = self.phase[i];
            self.role_us[i][p as usize] += end.saturating_since(since).0;
            self.phase[i] = (p, end);
        }
    }

    /// Fraction of slots in which a write would have committed within
    /// `timeout`; `None` when the run is shorter than the timeout.
    pub fn availability(&self, end: SimTime, timeout: SimDuration) -> Option<f64> {
        let last_slot = end.0.checked_sub(timeout.0)? / SLOT_US;
        if last_slot == 0 {
            return None;
        }
        let mut best = u64::MAX;
        let mut suffix = vec![u64::MAX; last_slot as usize + 1];
        let upto = self.slot_min_commit.len().max(last_slot as usize + 1);
        for s in (0..upto).rev() {
            best = best.min(self.slot_min_commit.get(s).copied().unwrap_or(u64::MAX));
            if s <= last_slot as usize {
                suffix[s] = best;
            }
        }
        let ok = (0..last_slot as usize)
            .filter(|&s| suffix[s] <= s as u64 * SLOT_US + timeout.0)
            .count();
        Some(ok as f64 / last_slot as f64)
    }

    /// Leader-loss downtime samples and their summary, ms.
    pub fn downtime(&self) -> SampleSummary {
        SampleSummary::of_us(&self.downtime_us)
    }

    /// Time per role per node, ms.
    pub fn role_time(&self) -> Vec<RoleTime> {
        let ms = |us: u64| us as f64 / 1000.0;
        self.role_us
            .iter()
            .map(|r| RoleTime {
                follower: ms(r[Phase::Follower as usize]),
                candidate: ms(r[Phase::Candidate as usize]),
                leader: ms(r[Phase::Leader as usize]),
                down: ms(r[Phase::Down as usize]),
                paused: ms(r[Phase::Paused as usize]),
            })
            .collect()
    }

    /// Role changes as report JSON: `{"changes": [[t_ms, node, role,
    /// term], ...], "dropped": n}`.
    pub fn timeline(&self) -> crate::metrics::sections::RoleTimeline {
        use crate::metrics::sections::{RoleChange, RoleTimeline};
        RoleTimeline::Changes {
            changes: self
                .timeline
                .iter()
                .map(|(t, n, r, term)| RoleChange(t.as_millis_f64(), n.0, r.to_string(), *term))
                .collect(),
            dropped: self.timeline_dropped,
        }
    }

    /// The report's leadership numbers; `messages_by_type` is the network
    /// counters' (the report repeats it beside the elections).
    pub fn leadership(
        &self,
        messages_by_type: Option<BTreeMap<String, u64>>,
    ) -> crate::metrics::sections::Leadership {
        crate::metrics::sections::Leadership {
            elections: self
                .elections
                .iter()
                .map(|e| crate::metrics::sections::Election {
                    term: e.term,
                    winner: e.winner.0,
                    time_ms: e.time.as_millis_f64(),
                })
                .collect(),
            max_term: self.max_term,
            leader_loss_downtime_ms: self.downtime(),
            election_after_leader_loss_ms: self.election_after_loss(),
            role_time_ms: self.role_time(),
            role_timeline: Some(self.timeline()),
            messages_by_type,
        }
    }
}

/// The leader known to a majority right now, if any (see module docs).
pub fn known_leader<P: Process, S: StateMachine>(
    world: &World<P>,
    n: u32,
    raft: &impl Fn(&P) -> Option<&RaftNode<S>>,
) -> Option<(NodeId, u64)> {
    let up = |id: NodeId| -> Option<&RaftNode<S>> {
        (world.status(id) == NodeStatus::Up)
            .then(|| world.node(id).and_then(raft))
            .flatten()
    };
    for l in (0..n).map(NodeId) {
        let Some(lr) = up(l) else { continue };
        if lr.raft_role() != RaftRole::Leader {
            continue;
        }
        let term = lr.current_term();
        let net = world.network();
        let mut count = 1;
        for f in (0..n).map(NodeId).filter(|&f| f != l) {
            if let Some(fr) = up(f) {
                if fr.current_term() == term
                    && fr.leader_hint() == Some(l)
                    && net.connected(l, f)
                    && net.connected(f, l)
                {
                    count += 1;
                }
            }
        }
        if count * 2 > n as usize {
            return Some((l, term.0));
        }
    }
    None
}
