//! A replicated key-value store: the first [`StateMachine`](crate::raft::StateMachine)
//! Raft runs, the closed-loop client process that drives it, and the
//! history that client records for the linearizability checker.

pub mod client;
pub mod history;
pub mod node;
pub mod store;

pub use store::{KvCommand, KvOutput, KvStore};
