//! agentsim: a deterministic discrete-event simulator for distributed systems.
pub mod ids;
pub mod kv;
pub mod process;
pub mod raft;
pub mod rng;
pub mod time;
