//! The process type of a KV world: a Raft server running the KV store or
//! a closed-loop client, in one enum so both live in one kernel world.

use crate::ids::{NodeId, TimerId};
use crate::kv::client::KvClient;
use crate::kv::{KvCommand, KvOutput, KvStore};
use crate::process::{Context, Process, Role};
use crate::raft::{Msg, RaftNode, Record};

/// The message type of a KV world.
pub type KvMsg = Msg<KvCommand, KvOutput>;
/// The durable record type of a KV world.
pub type KvRecord = Record<KvCommand>;

/// A process of a KV world: a Raft server or a client.
#[derive(Debug)]
pub enum KvNode {
    /// A Raft server running the KV store.
    Server(Box<RaftNode<KvStore>>),
    /// A closed-loop client.
    Client(Box<KvClient>),
}

impl KvNode {
    /// The Raft server, if this is one.
    pub fn raft(&self) -> Option<&RaftNode<KvStore>> {
        match self {
            KvNode::Server(r) => Some(r),
            KvNode::Client(_) => None,
        }
    }
}

impl Process for KvNode {
    type Msg = KvMsg;
    type Record = KvRecord;

    fn on_start(&mut self, ctx: &mut Context<'_, KvMsg, KvRecord>) {
        match self {
            KvNode::Server(r) => r.on_start(ctx),
            KvNode::Client(c) => c.on_start(ctx),
        }
    }
    fn on_message(&mut self, ctx: &mut Context<'_, KvMsg, KvRecord>, from: NodeId, msg: KvMsg) {
        match self {
            KvNode::Server(r) => r.on_message(ctx, from, msg),
            KvNode::Client(c) => c.on_message(ctx, from, msg),
        }
    }
    fn on_timer(&mut self, ctx: &mut Context<'_, KvMsg, KvRecord>, id: TimerId) {
        match self {
            KvNode::Server(r) => r.on_timer(ctx, id),
            KvNode::Client(c) => c.on_timer(ctx, id),
        }
    }
    fn role(&self) -> Role {
        match self {
            KvNode::Server(r) => r.role(),
            KvNode::Client(_) => Role::Other,
        }
    }
    fn stability(&self) -> Option<(NodeId, u64)> {
        match self {
            KvNode::Server(r) => r.stability(),
            KvNode::Client(_) => None,
        }
    }
    fn term(&self) -> u64 {
        match self {
            KvNode::Server(r) => r.term(),
            KvNode::Client(_) => 0,
        }
    }
}
