//! agentsim: a deterministic discrete-event simulator for distributed systems.
pub mod check;
pub mod cli;
pub mod dist;
pub mod fault;
pub mod heartbeat;
pub mod ids;
pub mod kv;
pub mod metrics;
pub mod net;
pub mod plot;
pub mod process;
pub mod raft;
pub mod rng;
pub mod runner;
pub mod scenario;
pub mod sim;
pub mod time;
