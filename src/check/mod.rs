//! Checkers: they observe a run (node state, recorded histories) and never
//! steer it.

pub mod convergence;
pub mod linearizability;
pub mod liveness;
pub mod names;
pub mod raft_safety;
pub mod workflow;
pub mod workflow_liveness;
