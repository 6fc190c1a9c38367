//! agentsim: a deterministic discrete-event simulator for distributed systems.
pub mod dist;
pub mod fault;
pub mod ids;
pub mod net;
pub mod process;
pub mod rng;
pub mod sim;
pub mod time;
