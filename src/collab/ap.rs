//! The AP coordinator (`"consistency": "ap"`): every server keeps its own
//! copy of the workflow state, changes it without asking anyone, and
//! gossips whole workflows to its peers, which merge them by
//! last-writer-wins. The point is the trade-off against the Raft (CP)
//! coordinator, measured under the same faults: an AP side of a partition
//! keeps completing tasks, at the price of duplicate executions,
//! conflicting results and a convergence period after the heal.
//!
//! - **Who coordinates.** A server runs the dispatcher while it is the
//!   lowest-id server it has heard from within `suspect` (itself always
//!   counts), after a start-up grace of `suspect` so a restarted server
//!   hears its peers before acting. Each side of a partition therefore
//!   gets its own coordinator; after the heal the higher id steps down.
//! - **Writes.** The dispatcher's commands are applied at once to the
//!   local [`WorkflowState`] (the same state machine Raft replicates in CP
//!   mode). Each workflow carries a version vector (one counter per
//!   server, bumped by that server's writes) and a stamp: the local clock
//!   and id of its last writer. Clock skew therefore shifts who "wrote
//!   last", as it does in real LWW stores.
//! - **Gossip.** Every `gossip` period a server sends each live peer the
//!   workflows changed since the peer's last acknowledgement (a peer not
//!   heard from within `suspect` gets an empty sync, a heartbeat). Syncs
//!   and acks name both sides' incarnations: a delta computed for an
//!   earlier life of the receiver makes it ask for everything, and an ack
//!   meant for an earlier life of the sender is ignored. A sync doubles as
//!   the failure detector's heartbeat.
//! - **Merge.** A received workflow whose vector is dominated by ours is
//!   ignored; one that dominates ours replaces ours; concurrent ones (both
//!   sides wrote since they last agreed) keep the content with the later
//!   stamp, and the vectors are joined. Merging is per workflow so each
//!   workflow stays internally consistent (a DAG never mixes two sides'
//!   progress), while different workflows may come from different sides.
//!
//! The state is volatile: a crashed AP server restarts empty and catches
//! up from its peers; writes it had not gossiped yet are lost (async
//! replication). Counters here are per server; the runner measures
//! duplicates, conflicts and convergence across servers.

use super::agent::CollabRecord;
use super::bug::CoordBug;
use super::config::{CollabConfig, Priority};
use super::coordinator::{CollabCommand, CollabOutput, WorkflowId, WorkflowState};
use super::dispatcher::{DispatchStats, Dispatcher, StageApprovals};
use super::messages::{message_id, CollabMsg, Envelope, Payload};
use crate::ids::{NodeId, TimerId};
use crate::process::Context;
use crate::raft::StateMachine;
use crate::time::{SimDuration, SimTime};
use std::rc::Rc;

pub use super::config::ApConfig;
pub use super::messages::{ApMsg, Stamp, SyncRecord};

type Ctx<'a> = Context<'a, CollabMsg, CollabRecord>;

/// The dispatcher's tick (same id as the CP coordinator's).
pub const TIMER_TICK: TimerId = TimerId(10);
/// The gossip round.
pub const TIMER_GOSSIP: TimerId = TimerId(11);
/// A server's own version-vector entry is at least its local clock (µs)
/// shifted by this much, so it grows across restarts; 2^10 writes may
/// share a microsecond before the entry runs ahead of the clock.
const VV_CLOCK_SHIFT: u32 = 10;
/// Rounds of apply → dispatch in one step (the rest waits for the tick).
const MAX_ROUNDS: usize = 8;

/// Replication metadata of one workflow.
#[derive(Clone, Debug, PartialEq)]
pub struct WfMeta {
    /// Writes per server.
    pub vv: Vec<u64>,
    /// The last write.
    pub stamp: Stamp,
    /// Local change number of the last change (write or merge).
    pub seq: u64,
}

/// How two version vectors relate.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Order {
    /// Same vector.
    Equal,
    /// Ours saw everything theirs did, and more.
    Dominates,
    /// Theirs saw everything ours did, and more.
    Dominated,
    /// Each saw writes the other did not.
    Concurrent,
}

/// Compare version vectors `a` (ours) and `b` (theirs).
pub fn compare(a: &[u64], b: &[u64]) -> Order {
    assert_eq!(a.len(), b.len(), "version vectors of one cluster");
    let (mut more, mut less) = (false, false);
    for (x, y) in a.iter().zip(b) {
        more |= x > y;
        less |= x < y;
    }
    match (more, less) {
        (false, false) => Order::Equal,
        (true, false) => Order::Dominates,
        (false, true) => Order::Dominated,
        (true, true) => Order::Concurrent,
    }
}

/// Per-server AP counters.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ApStats {
    /// Syncs sent.
    pub syncs_sent: u64,
    /// Workflow records sent.
    pub records_sent: u64,
    /// Received workflows that replaced ours (theirs was newer).
    pub adopted: u64,
    /// Concurrent versions met (both sides wrote).
    pub concurrent: u64,
    /// Concurrent versions where the other side's content won.
    pub overwritten: u64,
    /// Local writes (commands applied).
    pub writes: u64,
    /// Commands the local state rejected.
    pub rejected: u64,
    /// Times this server started coordinating.
    pub activations: u64,
}

impl ApStats {
    /// Field-wise sum.
    pub fn add(&mut self, o: &ApStats) {
        self.syncs_sent += o.syncs_sent;
        self.records_sent += o.records_sent;
        self.adopted += o.adopted;
        self.concurrent += o.concurrent;
        self.overwritten += o.overwritten;
        self.writes += o.writes;
        self.rejected += o.rejected;
        self.activations += o.activations;
    }
}

#[derive(Clone, Debug, Default)]
struct Peer {
    /// Our changes up to this number are merged at the peer.
    acked: u64,
    /// The peer's incarnation the ack belongs to.
    incarnation: Option<u64>,
    last_heard: Option<SimTime>,
}

/// An AP coordinator server.
#[derive(Debug)]
pub struct ApServer {
    id: NodeId,
    cfg: Rc<CollabConfig>,
    ap: ApConfig,
    state: WorkflowState,
    meta: Vec<WfMeta>,
    seq: u64,
    incarnation: u64,
    started_at: SimTime,
    peers: Vec<Peer>,
    dispatcher: Option<Dispatcher>,
    retired: DispatchStats,
    stats: ApStats,
    counter: u64,
    not_leader_replies: u64,
    approvals: StageApprovals,
    /// Workflows `0..arrived` have arrived (world events, also gossiped).
    arrived: u32,
}

impl ApServer {
    /// A server with an empty state (AP state is not durable).
    pub fn new(id: NodeId, cfg: Rc<CollabConfig>, ap: ApConfig) -> Self {
        let servers = cfg.servers as usize;
        ApServer {
            id,
            ap,
            state: WorkflowState::with_bug(cfg.bug),
            meta: Vec::new(),
            seq: 0,
            incarnation: 0,
            started_at: SimTime::ZERO,
            peers: vec![Peer::default(); servers],
            dispatcher: None,
            retired: DispatchStats::default(),
            stats: ApStats::default(),
            counter: 0,
            not_leader_replies: 0,
            approvals: StageApprovals::default(),
            arrived: 0,
            cfg,
        }
    }
    /// The local workflow state.
    pub fn state(&self) -> &WorkflowState {
        &self.state
    }
    /// Replication metadata, by workflow index.
    pub fn meta(&self) -> &[WfMeta] {
        &self.meta
    }
    /// True while this server runs a dispatcher.
    pub fn is_active(&self) -> bool {
        self.dispatcher.is_some()
    }
    /// Dispatcher counters over this process's life.
    pub fn stats(&self) -> DispatchStats {
        super::dispatcher::life_stats(&self.retired, self.dispatcher.as_ref())
    }
    /// AP counters over this process's life.
    pub fn ap_stats(&self) -> ApStats {
        self.stats
    }
    /// `not_leader` answers sent to agents.
    pub fn not_leader_replies(&self) -> u64 {
        self.not_leader_replies
    }

    /// The server this one believes coordinates: the lowest id heard from
    /// within `suspect`, itself included.
    pub fn believed_coordinator(&self, now: SimTime) -> NodeId {
        let alive = |p: &Peer| {
            p.last_heard
                .is_some_and(|t| now.saturating_since(t) <= self.ap.suspect)
        };
        (0..self.cfg.servers)
            .find(|&i| i == self.id.0 || alive(&self.peers[i as usize]))
            .map_or(self.id, NodeId)
    }

    fn should_coordinate(&self, now: SimTime) -> bool {
        now >= self.started_at + self.ap.suspect && self.believed_coordinator(now) == self.id
    }

    /// Start (or restart, empty).
    pub fn on_start(&mut self, ctx: &mut Ctx<'_>) {
        self.started_at = ctx.now();
        self.incarnation = ctx.now().0 + 1;
        ctx.set_timer(TIMER_GOSSIP, self.ap.gossip);
        self.step(ctx, None, false);
    }

    /// A message.
    pub fn on_message(&mut self, ctx: &mut Ctx<'_>, from: NodeId, msg: CollabMsg) {
        match msg {
            CollabMsg::Ap(m) => {
                self.on_ap(ctx, from, m);
                self.step(ctx, None, false);
            }
            CollabMsg::Env(e) => self.step(ctx, Some((from, e)), false),
            CollabMsg::Approval { stage } => {
                self.approvals.give(stage, self.dispatcher.as_mut());
                self.step(ctx, None, false);
            }
            CollabMsg::Arrival { upto } => {
                self.arrive(upto);
                self.step(ctx, None, false);
            }
            CollabMsg::Raft(_) | CollabMsg::Known { .. } => {}
        }
    }

    /// A timer.
    pub fn on_timer(&mut self, ctx: &mut Ctx<'_>, id: TimerId) {
        match id {
            TIMER_GOSSIP => {
                self.gossip(ctx);
                ctx.set_timer(TIMER_GOSSIP, self.ap.gossip);
                self.step(ctx, None, false);
            }
            TIMER_TICK => self.step(ctx, None, true),
            _ => {}
        }
    }

    /// Workflows `0..upto` have arrived (a world event or a peer's
    /// gossip).
    fn arrive(&mut self, upto: u32) {
        self.arrived = self.arrived.max(upto);
        if let Some(d) = self.dispatcher.as_mut() {
            d.arrived(self.arrived);
        }
    }

    fn gossip(&mut self, ctx: &mut Ctx<'_>) {
        for p in 0..self.cfg.servers {
            if p == self.id.0 {
                continue;
            }
            let peer = &self.peers[p as usize];
            let (acked, to_incarnation) = (peer.acked, peer.incarnation.unwrap_or(0));
            // A peer not heard from lately gets a heartbeat-only sync: no
            // point copying state every round to a server that is down or
            // cut off. Once it answers, it gets everything since its ack.
            let alive = peer
                .last_heard
                .is_some_and(|t| ctx.now().saturating_since(t) <= self.ap.suspect);
            let records: Vec<SyncRecord> = self
                .meta
                .iter()
                .enumerate()
                .filter(|(_, m)| alive && m.seq > acked)
                .map(|(i, m)| SyncRecord {
                    record: self.state.export_workflow(WorkflowId(i as u32)),
                    vv: m.vv.clone(),
                    stamp: m.stamp,
                })
                .collect();
            self.stats.syncs_sent += 1;
            self.stats.records_sent += records.len() as u64;
            let msg = ApMsg::Sync {
                incarnation: self.incarnation,
                to_incarnation,
                base: acked,
                // A heartbeat-only sync carries nothing new: its ack must
                // not claim otherwise.
                upto: if alive { self.seq } else { acked },
                records,
                arrived: self.arrived,
                approved: self.approvals.stages(),
            };
            ctx.send(NodeId(p), CollabMsg::Ap(msg));
        }
    }

    fn heard(&mut self, from: NodeId, incarnation: u64, now: SimTime) -> Option<&mut Peer> {
        let p = self.peers.get_mut(from.0 as usize)?;
        if p.incarnation.is_some_and(|i| incarnation < i) {
            // A message from an earlier life of the peer, still in flight.
            return None;
        }
        p.last_heard = Some(now);
        if p.incarnation != Some(incarnation) {
            // A new life of the peer: it may have lost everything.
            p.incarnation = Some(incarnation);
            p.acked = 0;
        }
        Some(p)
    }

    fn on_ap(&mut self, ctx: &mut Ctx<'_>, from: NodeId, m: ApMsg) {
        let now = ctx.now();
        match m {
            ApMsg::Sync {
                incarnation,
                to_incarnation,
                base,
                upto,
                records,
                arrived,
                approved,
            } => {
                if self.heard(from, incarnation, now).is_none() {
                    return;
                }
                // World events the peer heard of (we may have been down,
                // or restarted since, and forgotten them).
                self.arrive(arrived);
                for stage in approved {
                    self.approvals.give(stage, self.dispatcher.as_mut());
                }
                // A delta computed against what an earlier life of ours
                // had merged may leave out what we lost: ask for all.
                let mut resync = base > 0 && to_incarnation != self.incarnation;
                if !resync {
                    resync = !records.iter().all(|r| self.merge(r));
                }
                assert_eq!(
                    self.meta.len(),
                    self.state.workflows().len(),
                    "every workflow held has replication metadata"
                );
                let ack = ApMsg::Ack {
                    incarnation: self.incarnation,
                    to_incarnation: incarnation,
                    upto: if resync { 0 } else { upto },
                    resync,
                };
                ctx.send(from, CollabMsg::Ap(ack));
            }
            ApMsg::Ack {
                incarnation,
                to_incarnation,
                upto,
                resync,
            } => {
                let mine = to_incarnation == self.incarnation;
                let Some(p) = self.heard(from, incarnation, now) else {
                    return;
                };
                if !mine {
                    return;
                }
                if resync {
                    p.acked = 0;
                } else {
                    p.acked = p.acked.max(upto);
                }
            }
        }
    }

    /// Merge one received workflow. False if it cannot be placed (a gap).
    fn merge(&mut self, r: &SyncRecord) -> bool {
        let i = r.record.index.index();
        if i > self.meta.len() {
            return false;
        }
        if i == self.meta.len() {
            if !self.state.install_workflow(&r.record) {
                return false;
            }
            self.seq += 1;
            self.meta.push(WfMeta {
                vv: r.vv.clone(),
                stamp: r.stamp,
                seq: self.seq,
            });
            self.stats.adopted += 1;
            return true;
        }
        let ours = &self.meta[i];
        let (take, vv, stamp) = match compare(&ours.vv, &r.vv) {
            Order::Equal | Order::Dominates => return true,
            Order::Dominated => {
                self.stats.adopted += 1;
                (true, r.vv.clone(), r.stamp)
            }
            Order::Concurrent if self.cfg.bug == Some(CoordBug::ApKeepLocal) => {
                // The bug: "ours wins", and the vectors stay apart.
                self.stats.concurrent += 1;
                return true;
            }
            Order::Concurrent => {
                self.stats.concurrent += 1;
                let theirs_later = r.stamp > ours.stamp;
                let vv = ours.vv.iter().zip(&r.vv).map(|(a, b)| *a.max(b)).collect();
                if theirs_later {
                    self.stats.overwritten += 1;
                }
                (theirs_later, vv, ours.stamp.max(r.stamp))
            }
        };
        if take && !self.state.install_workflow(&r.record) {
            return false;
        }
        self.seq += 1;
        self.meta[i] = WfMeta {
            vv,
            stamp,
            seq: self.seq,
        };
        true
    }

    /// Apply a local command and record the write.
    fn write(&mut self, cmd: &CollabCommand, now: SimTime) {
        let wf = self.state.workflow_of(cmd);
        if self.state.apply(cmd) != CollabOutput::Applied {
            self.stats.rejected += 1;
            return;
        }
        self.stats.writes += 1;
        let Some(wf) = wf else { return };
        let wf = wf.index();
        if wf == self.meta.len() {
            self.meta.push(WfMeta {
                vv: vec![0; self.cfg.servers as usize],
                stamp: (now, self.id.0),
                seq: 0,
            });
        }
        assert_eq!(self.meta.len(), self.state.workflows().len());
        self.seq += 1;
        let m = &mut self.meta[wf];
        // Our entry must never repeat a value of an earlier life (the
        // state is volatile, so a restarted server cannot count on): a
        // reused value would make two different copies look equal. Tie it
        // to the local clock, which only moves forward.
        let slot = &mut m.vv[self.id.index()];
        *slot = (*slot + 1).max(now.0 << VV_CLOCK_SHIFT);
        // Every write gets a stamp of its own, later than the one it
        // overwrites even when our clock is behind the last writer's
        // (clock skew): keeping the old stamp would give two different
        // copies the same stamp, and each side would keep its own.
        let at = now.max(m.stamp.0 + SimDuration::from_micros(1));
        m.stamp = (at, self.id.0);
        m.seq = self.seq;
    }

    fn step(&mut self, ctx: &mut Ctx<'_>, env: Option<(NodeId, Envelope)>, tick: bool) {
        let now = ctx.now();
        if !self.should_coordinate(now) {
            if let Some(d) = self.dispatcher.take() {
                self.retired.add(&d.stats());
            }
        } else if self.dispatcher.is_none() {
            self.stats.activations += 1;
            // Unique across this server's lives and activations, so agents
            // never mistake a new message for a duplicate.
            let epoch = (now.0 / 1000).wrapping_mul(16) + self.stats.activations;
            let mut d = Dispatcher::new(Rc::clone(&self.cfg), self.id, epoch, &self.state, now);
            self.approvals.hand_to(&mut d);
            d.arrived(self.arrived);
            self.dispatcher = Some(d);
            ctx.set_timer(TIMER_TICK, self.cfg.tick);
        }
        let Some(mut d) = self.dispatcher.take() else {
            if let Some((from, e)) = env {
                self.redirect(ctx, from, &e);
            }
            return;
        };
        d.sync(&self.state, now);
        if let Some((from, e)) = env {
            d.on_envelope(&self.state, now, from, e);
        }
        if tick {
            d.on_tick(&self.state, now, ctx.rng());
            ctx.set_timer(TIMER_TICK, self.cfg.tick);
        }
        for _ in 0..MAX_ROUNDS {
            d.dispatch(&self.state, now);
            let cmds = d.take_proposals();
            for (to, e) in d.take_outbox() {
                ctx.send(to, CollabMsg::Env(e));
            }
            if cmds.is_empty() {
                break;
            }
            for c in &cmds {
                self.write(c, now);
            }
            d.sync(&self.state, now);
        }
        for (to, e) in d.take_outbox() {
            ctx.send(to, CollabMsg::Env(e));
        }
        self.dispatcher = Some(d);
    }

    /// Not coordinating: point the agent at the server we believe does.
    fn redirect(&mut self, ctx: &mut Ctx<'_>, from: NodeId, e: &Envelope) {
        if !matches!(
            e.payload,
            Payload::TaskResult { .. } | Payload::Heartbeat { .. }
        ) {
            return;
        }
        let now = ctx.now();
        let hint = self.believed_coordinator(now);
        self.counter += 1;
        let env = Envelope::to_one(
            message_id(self.id, self.incarnation / 1000, self.counter),
            self.id,
            from,
            Payload::NotLeader {
                hint: (hint != self.id).then_some(hint),
            },
            now,
            e.message_id,
            Priority::Normal,
        );
        ctx.send(from, CollabMsg::Env(env));
        self.not_leader_replies += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collab::coordinator::TaskId;
    use crate::collab::modes;
    use crate::scenario::Scenario;

    fn cfg() -> Rc<CollabConfig> {
        let s = Scenario::load(std::path::Path::new("scenarios/collab/partition-ap.json"))
            .expect("shipped scenario");
        let w = s.spec.workflow.as_ref().expect("workflow");
        Rc::new(crate::runner::collab::collab_config(
            w,
            s.spec.cluster.nodes,
            1,
        ))
    }

    fn server(id: u32, cfg: &Rc<CollabConfig>) -> ApServer {
        ApServer::new(NodeId(id), Rc::clone(cfg), cfg.ap.expect("ap scenario"))
    }

    fn submit(s: &mut ApServer, at_ms: u64) {
        let cmd = CollabCommand::Submit {
            workflow: WorkflowId(0),
            arrived_at: SimTime::ZERO,
            at: SimTime::ZERO + SimDuration::from_millis(at_ms),
            tasks: modes::expand(&s.cfg, 0),
        };
        s.write(&cmd, SimTime::ZERO + SimDuration::from_millis(at_ms));
    }

    fn assign(s: &mut ApServer, agent: u32, at_ms: u64) {
        let at = SimTime::ZERO + SimDuration::from_millis(at_ms);
        let version = s.state.task(TaskId(0)).expect("task 0").version;
        let cmd = CollabCommand::Assign {
            task: TaskId(0),
            version,
            agent: NodeId(agent),
            at,
        };
        s.write(&cmd, at);
    }

    fn record(s: &ApServer, i: usize) -> SyncRecord {
        SyncRecord {
            record: s.state.export_workflow(WorkflowId(i as u32)),
            vv: s.meta[i].vv.clone(),
            stamp: s.meta[i].stamp,
        }
    }

    /// A copy that saw everything ours did and more replaces ours; ours
    /// is kept against an older copy.
    #[test]
    fn newer_copy_replaces_older_and_not_the_other_way() {
        let cfg = cfg();
        let (mut a, mut b) = (server(0, &cfg), server(1, &cfg));
        submit(&mut a, 10);
        assert!(b.merge(&record(&a, 0)));
        assert_eq!(
            b.state.export_workflow(WorkflowId(0)),
            a.state.export_workflow(WorkflowId(0))
        );
        assign(&mut a, 7, 20);
        let old = record(&b, 0);
        assert!(a.merge(&old), "an older copy is not an error");
        assert_eq!(a.state.task(TaskId(0)).unwrap().agent, Some(NodeId(7)));
        assert!(b.merge(&record(&a, 0)));
        assert_eq!(b.state.task(TaskId(0)).unwrap().agent, Some(NodeId(7)));
        assert_eq!(b.ap_stats().concurrent, 0);
    }

    /// Two sides that both wrote keep the content of the later writer on
    /// both sides, and their vectors join, so they agree afterwards.
    #[test]
    fn concurrent_copies_resolve_to_the_last_writer_on_both_sides() {
        let cfg = cfg();
        let (mut a, mut b) = (server(0, &cfg), server(2, &cfg));
        submit(&mut a, 10);
        assert!(b.merge(&record(&a, 0)));
        assign(&mut a, 7, 20);
        assign(&mut b, 8, 30);
        let (ra, rb) = (record(&a, 0), record(&b, 0));
        assert!(a.merge(&rb) && b.merge(&ra));
        for s in [&a, &b] {
            assert_eq!(
                s.state.task(TaskId(0)).unwrap().agent,
                Some(NodeId(8)),
                "b wrote last"
            );
            assert_eq!(s.meta[0].vv, vec![20_000 << 10, 0, 30_000 << 10, 0, 0]);
            assert_eq!(s.ap_stats().concurrent, 1);
        }
        assert_eq!(a.ap_stats().overwritten, 1);
        assert_eq!(b.ap_stats().overwritten, 0);
        assert_eq!(
            a.state.export_workflow(WorkflowId(0)),
            b.state.export_workflow(WorkflowId(0))
        );
    }

    /// A delta computed for an earlier life of the receiver (it restarted
    /// empty) is not acknowledged as merged: the receiver asks for a full
    /// sync instead, so nothing it lost is skipped.
    #[test]
    fn delta_for_an_earlier_life_asks_for_a_full_sync() {
        use crate::process::Effect;
        use crate::rng::SimRng;
        let cfg = cfg();
        let mut b = server(1, &cfg);
        let mut rng = SimRng::derive(1, "test");
        let mut fx = Vec::new();
        let t = SimTime::ZERO + SimDuration::from_millis(5);
        let mut ctx = Context::new(NodeId(1), t, &mut rng, &mut fx);
        b.on_start(&mut ctx);
        let sync = |to_incarnation| ApMsg::Sync {
            incarnation: 77,
            to_incarnation,
            base: 3,
            upto: 9,
            records: Vec::new(),
            arrived: 0,
            approved: Vec::new(),
        };
        let mut acks = Vec::new();
        for to_inc in [1234, b.incarnation] {
            let mut fx = Vec::new();
            let mut ctx = Context::new(NodeId(1), t, &mut rng, &mut fx);
            b.on_message(&mut ctx, NodeId(0), CollabMsg::Ap(sync(to_inc)));
            for e in fx {
                if let Effect::Send {
                    msg: CollabMsg::Ap(ApMsg::Ack { upto, resync, .. }),
                    ..
                } = e
                {
                    acks.push((upto, resync));
                }
            }
        }
        assert_eq!(acks, vec![(0, true), (9, false)]);
    }

    /// A workflow that does not follow on from what we hold (a gap) is
    /// refused, so the sender is asked to resend everything.
    #[test]
    fn gap_is_refused() {
        let cfg = cfg();
        let (mut a, mut b) = (server(0, &cfg), server(1, &cfg));
        submit(&mut a, 10);
        let mut r = record(&a, 0);
        r.record.index = WorkflowId(1);
        assert!(!b.merge(&r));
        assert!(b.state.workflows().is_empty());
    }

    /// Version vectors order writes: equal, dominated either way, or
    /// concurrent when each side has a write the other lacks.
    #[test]
    fn version_vectors_compare_by_elementwise_order() {
        assert_eq!(compare(&[1, 2, 0], &[1, 2, 0]), Order::Equal);
        assert_eq!(compare(&[2, 2, 0], &[1, 2, 0]), Order::Dominates);
        assert_eq!(compare(&[1, 2, 0], &[1, 3, 0]), Order::Dominated);
        assert_eq!(compare(&[2, 0, 0], &[1, 1, 0]), Order::Concurrent);
    }
}
