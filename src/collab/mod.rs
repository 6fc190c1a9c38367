//! Multi-agent collaboration: a Raft-replicated coordinator hands tasks of
//! workflows to simulated LLM-style agents, in four modes.
//!
//! Codemap:
//! - [`coordinator`]: [`WorkflowState`], the replicated state machine
//!   (workflows, tasks with versions, results, dead letters, approvals) and
//!   its [`CollabCommand`]s. Every change is a committed log entry; a stale
//!   update is rejected and counted; a result is committed at most once.
//! - [`node`]: [`CollabNode`], the world's process: a Raft server wrapping
//!   `RaftNode<WorkflowState>` plus the volatile [`dispatcher`] that runs
//!   only while the server leads, or an [`agent`].
//! - [`dispatcher`]: the leader's scheduler: arrivals, ready queue,
//!   assignment delivery with retries, timeouts, circuit breakers,
//!   approvals, races, re-drives; the per-mode rules it applies live in
//!   [`modes`]. Rebuilt from committed state after every failover.
//! - [`agent`]: an agent process: capability profile, priority inbox,
//!   outcomes drawn from its own random stream, heartbeats.
//! - [`messages`]: the envelope, the world's message type, the dedupe
//!   window and the retry backoff.
//! - [`breaker`]: the per-agent circuit breaker.
//! - [`bug`]: deliberately wrong coordinator variants ([`CoordBug`]), each
//!   caught by one workflow check.
//! - [`modes`]: how a workflow's stages become tasks in each mode, and
//!   each mode's rules: agent rank (pipeline), rivals and the arbiter's
//!   race rule (competitive), batch columns and costs (division), the
//!   hybrid analyzer.
//! - [`ap`]: the AP alternative to the Raft coordinator: every server
//!   coordinates from its own copy, gossips workflows, merges them by
//!   last-writer-wins (`"consistency": "ap"`).
//! - [`hungarian`]: optimal assignment over a rectangular cost matrix with
//!   infeasible cells (most pairs first, then least cost); [`assign`]:
//!   capability scores and the greedy baseline.
//!
//! Dependencies point inward: this module uses `ids`, `time`, `process`,
//! `rng`, `dist` and `raft`, never the kernel (`sim`, `net`, `fault`).

pub mod agent;
pub mod ap;
pub mod assign;
pub mod breaker;
pub mod bug;
pub mod config;
pub mod coordinator;
pub mod dispatcher;
pub mod hungarian;
pub mod messages;
pub mod modes;
pub mod node;

pub use bug::CoordBug;
pub use config::{
    AgentProfile, ApConfig, ArbiterConfig, Arrival, AssignAlgo, BranchDef, CollabConfig, Mode,
    Priority, StageDef,
};
pub use coordinator::{
    Change, CollabCommand, CollabOutput, FailReason, Outcome, RejectReason, TaskId, TaskKind,
    TaskSpec, TaskStatus, WorkflowId, WorkflowState,
};
pub use messages::{CollabMsg, Envelope, Payload};
pub use node::CollabNode;
