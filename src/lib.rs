//! agentsim: a deterministic discrete-event simulator for distributed systems.
pub mod check;
pub mod ids;
pub mod process;
pub mod rng;
pub mod time;
