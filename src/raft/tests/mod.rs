//! Interaction tests: scripted transcripts against a tiny deterministic
//! harness. Messages wait in one FIFO queue until a test delivers them;
//! timers fire only when a test fires them; disks keep exactly what was
//! synced, so a crash loses what was not. The replicated state machine is
//! the register bank of `register.rs`, not `kv/`. The tests are grouped by
//! concept in the child modules.

mod clients;
mod config;
mod election;
mod random;
mod register;
mod replication;
mod safety_checker;
mod snapshots;

use super::*;
use crate::ids::{LogIndex, NodeId, Term, TimerId};
use crate::process::{Context, Effect, Message, Process, Role};
use crate::rng::SimRng;
use crate::time::{SimDuration, SimTime};
use std::collections::{BTreeMap, VecDeque};
use std::rc::Rc;

use register::{Cmd, Out, Registers};

type Node = RaftNode<Registers>;
type M = Msg<Cmd, Out>;
type R = Record<Cmd>;

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
    /// Whether handlers report crash points (off unless a test sets it).
    crash_points: bool,
    /// Crash points reported while on: (node, point, ordinal).
    points: Vec<(usize, crate::process::CrashPoint, u32)>,
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
            crash_points: false,
            points: Vec::new(),
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
            let mut ctx = Context::new(NodeId(i as u32), self.now, &mut self.rngs[i], &mut effects)
                .with_crash_points(self.crash_points);
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
                Effect::CrashPoint(p, nth) => self.points.push((i, p, nth)),
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

    fn request(&mut self, to: usize, seq: u64, cmd: Cmd) {
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
    fn responses(&self) -> Vec<(u64, ClientResult<Out>)> {
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

fn write(key: i64, value: i64) -> Cmd {
    Cmd::Write { key, value }
}
