//! The world's process for collaboration runs: a coordinator server (Raft
//! + dispatcher) or an agent.
//!
//! A [`Coordinator`] runs its `RaftNode<WorkflowState>` with an inner
//! context of Raft's message type and re-wraps the effects in
//! [`CollabMsg::Raft`], in order (a `Sync` still holds back everything
//! after it). After each step it checks whether it is the *active*
//! coordinator: leader with an entry of its own term committed (so its
//! state is up to date, §6.4). Becoming active builds a [`Dispatcher`] from
//! committed state; losing leadership drops it. The dispatcher's proposals
//! go through [`RaftNode::propose`] with this server's id as the client
//! and `seq = term << 32 | counter`, so sequence numbers grow across its
//! terms and the session table never mistakes a proposal for a retry.

use super::agent::{Agent, CollabRecord};
use super::ap::ApServer;
use super::config::{CollabConfig, Priority};
use super::coordinator::WorkflowState;
use super::dispatcher::{DispatchStats, Dispatcher, StageApprovals};
use super::messages::{CollabMsg, Envelope, Payload, RaftMsg};
use crate::ids::{NodeId, TimerId};
use crate::process::{Context, Effect, Process, Role};
use crate::raft::{RaftNode, RaftRole};
use crate::time::{SimDuration, SimTime};
use std::rc::Rc;

type Ctx<'a> = Context<'a, CollabMsg, CollabRecord>;
type RaftCtx<'a> = Context<'a, RaftMsg, CollabRecord>;

/// The dispatcher's tick (Raft uses timer ids 0..=2, agents 1..=3 on
/// their own nodes).
pub const TIMER_TICK: TimerId = TimerId(10);

/// How often the active coordinator asks its peers for the world events
/// they know (`CollabMsg::Known`), on its own clock.
const ASK_EVERY: SimDuration = SimDuration::from_millis(1000);

/// A coordinator server.
#[derive(Debug)]
pub struct Coordinator {
    raft: RaftNode<WorkflowState>,
    cfg: Rc<CollabConfig>,
    dispatcher: Option<Dispatcher>,
    retired: DispatchStats,
    counter: u64,
    fx: Vec<Effect<RaftMsg, CollabRecord>>,
    not_leader_replies: u64,
    approvals: StageApprovals,
    /// Workflows `0..arrived` have arrived (world events; volatile: a
    /// restarted server learns them at the next arrival, from its peers,
    /// and what was submitted from its committed state).
    arrived: u32,
    /// When the active coordinator last asked its peers what they know.
    last_ask: Option<SimTime>,
}

impl Coordinator {
    /// Wrap a recovered Raft node.
    pub fn new(raft: RaftNode<WorkflowState>, cfg: Rc<CollabConfig>) -> Self {
        Coordinator {
            raft,
            cfg,
            dispatcher: None,
            retired: DispatchStats::default(),
            counter: 0,
            fx: Vec::new(),
            not_leader_replies: 0,
            approvals: StageApprovals::default(),
            arrived: 0,
            last_ask: None,
        }
    }
    /// The Raft node (read-only).
    pub fn raft(&self) -> &RaftNode<WorkflowState> {
        &self.raft
    }
    /// True while this server runs the dispatcher.
    pub fn is_active(&self) -> bool {
        self.dispatcher.is_some()
    }
    /// Dispatcher counters over this process's life (all its leaderships).
    pub fn stats(&self) -> DispatchStats {
        super::dispatcher::life_stats(&self.retired, self.dispatcher.as_ref())
    }
    /// `not_leader` answers sent to agents.
    pub fn not_leader_replies(&self) -> u64 {
        self.not_leader_replies
    }

    fn should_be_active(&self) -> bool {
        let r = &self.raft;
        r.raft_role() == RaftRole::Leader && r.term_at(r.commit_index()) == Some(r.current_term())
    }

    /// Run `f` on the Raft node, then the dispatcher, then emit effects.
    fn step(
        &mut self,
        ctx: &mut Ctx<'_>,
        f: impl FnOnce(&mut RaftNode<WorkflowState>, &mut RaftCtx<'_>),
        env: Option<(NodeId, Envelope)>,
        tick: bool,
    ) {
        let mut fx = std::mem::take(&mut self.fx);
        let (id, now) = (ctx.id(), ctx.now());
        let crash_points = ctx.crash_points_enabled();
        {
            let mut rctx =
                Context::new(id, now, ctx.rng(), &mut fx).with_crash_points(crash_points);
            f(&mut self.raft, &mut rctx);
        }
        let active = self.should_be_active();
        if !active {
            if let Some(d) = self.dispatcher.take() {
                self.retired.add(&d.stats());
            }
        } else if self.dispatcher.is_none() {
            let term = self.raft.current_term().0;
            let mut d = Dispatcher::new(
                Rc::clone(&self.cfg),
                id,
                term,
                self.raft.state_machine(),
                now,
            );
            self.approvals.hand_to(&mut d);
            d.arrived(self.arrived);
            self.dispatcher = Some(d);
            self.last_ask = None;
            ctx.set_timer(TIMER_TICK, self.cfg.tick);
        }
        let mut outbox = Vec::new();
        if let Some(d) = &mut self.dispatcher {
            let sm = self.raft.state_machine();
            d.sync(sm, now);
            if let Some((from, e)) = env {
                d.on_envelope(sm, now, from, e);
            }
            if tick {
                d.on_tick(sm, now, ctx.rng());
                ctx.set_timer(TIMER_TICK, self.cfg.tick);
            }
            d.dispatch(sm, now);
            let cmds = d.take_proposals();
            outbox = d.take_outbox();
            if !cmds.is_empty() {
                let term = self.raft.current_term().0;
                let mut rctx =
                    Context::new(id, now, ctx.rng(), &mut fx).with_crash_points(crash_points);
                for c in cmds {
                    self.counter += 1;
                    let seq = term << 32 | (self.counter & 0xffff_ffff);
                    let proposed = self.raft.propose(&mut rctx, id, seq, c);
                    debug_assert!(proposed.is_ok(), "an active coordinator leads");
                }
            }
        } else if let Some((from, e)) = env {
            // Not the coordinator: point agents at the leader we know.
            if matches!(
                e.payload,
                Payload::TaskResult { .. } | Payload::Heartbeat { .. }
            ) {
                self.counter += 1;
                let hint = self.raft.leader_hint();
                outbox.push((
                    from,
                    Envelope {
                        message_id: super::messages::message_id(
                            id,
                            self.raft.current_term().0,
                            self.counter,
                        ),
                        sender: id,
                        receivers: vec![from],
                        payload: Payload::NotLeader { hint },
                        timestamp: now,
                        correlation_id: e.message_id,
                        priority: Priority::Normal,
                    },
                ));
                self.not_leader_replies += 1;
            }
        }
        for e in fx.drain(..) {
            match e {
                Effect::Send { to, msg } => ctx.send(to, CollabMsg::Raft(msg)),
                Effect::SetTimer { id, after } => ctx.set_timer(id, after),
                Effect::CancelTimer { id } => ctx.cancel_timer(id),
                Effect::Persist(r) => ctx.persist(r),
                Effect::Rewrite(rs) => ctx.rewrite(rs),
                Effect::Sync => ctx.sync(),
                Effect::CrashPoint(p, nth) => ctx.crash_point_nth(p, nth),
            }
        }
        self.fx = fx;
        for (to, env) in outbox {
            ctx.send(to, CollabMsg::Env(env));
        }
        if self.dispatcher.is_some()
            && self
                .last_ask
                .is_none_or(|t| now.saturating_since(t) >= ASK_EVERY)
        {
            self.last_ask = Some(now);
            for p in (0..self.cfg.servers).filter(|&p| p != id.0) {
                ctx.send(NodeId(p), self.known(true));
            }
        }
    }

    /// What this server knows of the world's events, as a message.
    fn known(&self, ask: bool) -> CollabMsg {
        CollabMsg::Known {
            arrived: self.arrived,
            approved: self.approvals.stages(),
            ask,
        }
    }

    /// Workflows `0..upto` have arrived (a world event or a peer's word).
    fn arrive(&mut self, upto: u32) {
        self.arrived = self.arrived.max(upto);
        if let Some(d) = self.dispatcher.as_mut() {
            d.arrived(self.arrived);
        }
    }
}

/// A process of a collaboration world.
#[derive(Debug)]
pub enum CollabNode {
    /// A coordinator server.
    Server(Box<Coordinator>),
    /// An AP coordinator server (no Raft).
    ApServer(Box<ApServer>),
    /// An agent.
    Agent(Box<Agent>),
}

impl CollabNode {
    /// The coordinator, if this is a server.
    pub fn coordinator(&self) -> Option<&Coordinator> {
        match self {
            CollabNode::Server(c) => Some(c),
            _ => None,
        }
    }
    /// The AP server, if this is one.
    pub fn ap_server(&self) -> Option<&ApServer> {
        match self {
            CollabNode::ApServer(s) => Some(s),
            _ => None,
        }
    }
    /// The Raft node, if this is a server.
    pub fn raft(&self) -> Option<&RaftNode<WorkflowState>> {
        self.coordinator().map(Coordinator::raft)
    }
    /// The agent, if this is one.
    pub fn agent(&self) -> Option<&Agent> {
        match self {
            CollabNode::Agent(a) => Some(a),
            _ => None,
        }
    }
}

impl Process for CollabNode {
    type Msg = CollabMsg;
    type Record = CollabRecord;

    fn on_start(&mut self, ctx: &mut Ctx<'_>) {
        match self {
            CollabNode::Server(c) => c.step(ctx, |r, x| r.on_start(x), None, false),
            CollabNode::ApServer(s) => s.on_start(ctx),
            CollabNode::Agent(a) => a.on_start(ctx),
        }
    }
    fn on_message(&mut self, ctx: &mut Ctx<'_>, from: NodeId, msg: CollabMsg) {
        match self {
            CollabNode::Server(c) => match msg {
                CollabMsg::Raft(m) => c.step(ctx, |r, x| r.on_message(x, from, m), None, false),
                CollabMsg::Env(e) => c.step(ctx, |_, _| {}, Some((from, e)), false),
                CollabMsg::Approval { stage } => {
                    c.approvals.give(stage, c.dispatcher.as_mut());
                    c.step(ctx, |_, _| {}, None, false);
                }
                CollabMsg::Arrival { upto } => {
                    c.arrive(upto);
                    c.step(ctx, |_, _| {}, None, false);
                }
                CollabMsg::Known {
                    arrived,
                    approved,
                    ask,
                } => {
                    c.arrive(arrived);
                    for stage in approved {
                        c.approvals.give(stage, c.dispatcher.as_mut());
                    }
                    if ask {
                        ctx.send(from, c.known(false));
                    }
                    c.step(ctx, |_, _| {}, None, false);
                }
                CollabMsg::Ap(_) => {}
            },
            CollabNode::ApServer(s) => s.on_message(ctx, from, msg),
            CollabNode::Agent(a) => a.on_message(ctx, from, msg),
        }
    }
    fn on_timer(&mut self, ctx: &mut Ctx<'_>, id: TimerId) {
        match self {
            CollabNode::Server(c) if id == TIMER_TICK => c.step(ctx, |_, _| {}, None, true),
            CollabNode::Server(c) => c.step(ctx, |r, x| r.on_timer(x, id), None, false),
            CollabNode::ApServer(s) => s.on_timer(ctx, id),
            CollabNode::Agent(a) => a.on_timer(ctx, id),
        }
    }
    fn role(&self) -> Role {
        match self {
            CollabNode::Server(c) => c.raft.role(),
            CollabNode::ApServer(s) if s.is_active() => Role::Leader,
            CollabNode::ApServer(_) => Role::Follower,
            CollabNode::Agent(_) => Role::Other,
        }
    }
    fn stability(&self) -> Option<(NodeId, u64)> {
        match self {
            CollabNode::Server(c) => c.raft.stability(),
            CollabNode::ApServer(_) | CollabNode::Agent(_) => None,
        }
    }
    fn term(&self) -> u64 {
        match self {
            CollabNode::Server(c) => c.raft.term(),
            CollabNode::ApServer(_) | CollabNode::Agent(_) => 0,
        }
    }
}
