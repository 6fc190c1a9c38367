//! A replicated key-value store: the first [`StateMachine`](crate::raft::StateMachine)
//! Raft runs. The client process and history recording live beside it
//! (written with the kernel).

pub mod store;

pub use store::{KvCommand, KvOutput, KvStore};
